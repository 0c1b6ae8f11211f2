"""Reads of logistics: a shop's return address, a case's parcels, stock, and what the
shop owes for return postage."""

from __future__ import annotations

from decimal import Decimal

from aftersales.cases.models import Case
from aftersales.core.money import ZERO, money
from aftersales.logistics.models import Parcel, ParcelKind, StockLevel, Warehouse


def warehouse_for_returns(shop_id: int) -> Warehouse | None:
    """The shop's default return warehouse, else its first active one."""
    return (
        Warehouse.objects.filter(shop_id=shop_id, active=True)
        .order_by("-is_default", "code")
        .first()
    )


def return_parcel(case: Case) -> Parcel | None:
    return (
        Parcel.objects.filter(shop_id=case.shop_id, case=case, kind=ParcelKind.RETURN)
        .order_by("-id")
        .first()
    )


def return_postage_borne(case: Case) -> Decimal:
    """The return postage the shop pays back with the refund: what the customer paid, when
    the shop bears it (its own fault, or its policy says so)."""
    parcel = return_parcel(case)
    if parcel is None or parcel.postage is None or parcel.postage_paid_by != "merchant":
        return ZERO
    return money(parcel.postage)


def case_parcels(case: Case) -> list[Parcel]:
    return list(Parcel.objects.filter(shop_id=case.shop_id, case=case).order_by("id"))


def stock_levels(shop_id: int, skus: list[str] | None = None) -> dict[str, StockLevel]:
    rows = StockLevel.objects.filter(shop_id=shop_id)
    if skus is not None:
        rows = rows.filter(sku__in=skus)
    return {row.sku: row for row in rows}
