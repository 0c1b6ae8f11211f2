"""The facts a policy reads about a case, gathered in one place (and stored for what-if)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from aftersales.cases.models import Case, CaseLine
from aftersales.cases.states import REFUND_TYPES, CaseStatus
from aftersales.logistics.models import Parcel, ParcelKind
from aftersales.policies import money as m

QUALITY_REASONS = frozenset(
    {"quality_defect", "damaged_in_transit", "wrong_item", "not_as_described", "missing_item"}
)
# What sending a parcel back costs us or the customer (a merchant can narrow this per rule).
RETURN_SHIPPING_COST = Decimal("12.00")


def _hours(later: datetime, earlier: datetime | None) -> float | None:
    if earlier is None:
        return None
    return round((later - earlier).total_seconds() / 3600, 2)


def units_refunded_before(case: Case, lines: list[CaseLine]) -> dict[int, int]:
    """Units of each claimed order line taken by earlier live refund cases."""
    rows = (
        CaseLine.objects.filter(
            shop_id=case.shop_id,
            order_line_id__in=[cl.order_line_id for cl in lines],
            case__type__in=REFUND_TYPES,
            case_id__lt=case.pk,
        )
        .exclude(case__status__in=[CaseStatus.REJECTED, CaseStatus.CLOSED])
        .values("order_line_id")
        .annotate(units=Sum("quantity"))
    )
    return {row["order_line_id"]: row["units"] for row in rows}


def case_refund_amount(case: Case, lines: list[CaseLine] | None = None) -> Decimal:
    """The prorated refund for the case's lines (largest remainder within each line)."""
    if lines is None:
        lines = list(case.lines.select_related("order_line"))
    before = units_refunded_before(case, lines) if case.type in REFUND_TYPES else {}
    return m.refund_for_lines(
        [
            m.LineClaim(
                paid_amount=cl.order_line.paid_amount,
                quantity=cl.order_line.quantity,
                claimed=cl.quantity,
                already_refunded_units=before.get(cl.order_line_id, 0),
            )
            for cl in lines
        ]
    )


def case_facts(case: Case, *, now: datetime, lines: list[CaseLine] | None = None) -> dict[str, Any]:
    """Every fact the registry knows, as JSON-friendly values (None when unknown)."""
    order = case.order
    if lines is None:
        lines = list(case.lines.select_related("order_line__product__category"))
    products = [cl.order_line.product for cl in lines if cl.order_line.product_id]
    categories = [p.category for p in products if p.category_id]
    shipments = list(order.shipments.all()) if order else []
    last_move = max(
        (
            s.last_movement_at or s.shipped_at
            for s in shipments
            if s.last_movement_at or s.shipped_at
        ),
        default=order.shipped_at if order else None,
    )
    quiet_hours = _hours(now, last_move) if order and order.status == "shipped" else None
    signed_at = order.signed_at if order else None
    facts: dict[str, Any] = {
        "type": case.type,
        "reason": case.reason,
        "quality_reason": case.reason in QUALITY_REASONS,
        "order_status": order.status if order else None,
        "hours_since_payment": _hours(now, order.paid_at) if order else None,
        "hours_since_shipment": _hours(now, order.shipped_at) if order else None,
        "days_since_signature": (
            round((now - signed_at).total_seconds() / 86400, 3) if signed_at else None
        ),
        "courier_moving": None if quiet_hours is None else quiet_hours < 72,
        "hours_without_courier_movement": quiet_hours,
        "no_reason_eligible": bool(categories)
        and all(c.no_reason_return and not (c.perishable or c.custom_made) for c in categories),
        "perishable": any(c.perishable for c in categories),
        "custom_made": any(c.custom_made for c in categories),
        "digital": any(c.digital for c in categories),
        "in_warranty": all(
            m.in_warranty(signed_at=signed_at, at=now, warranty_months=p.warranty_months)
            for p in products
        ),
        "refund_amount": str(case_refund_amount(case, lines)) if lines else "0.00",
        "return_shipping_cost": str(RETURN_SHIPPING_COST),
        "customer_risk_level": case.customer.risk_level if case.customer_id else None,
        "channel_kind": case.channel.kind if case.channel_id else None,
        "evidence_kinds": sorted(set(case.evidence.values_list("kind", flat=True))),
        "shipping_insurance": order.shipping_insurance if order else False,
        "warehouse_disproves": None,
        "return_scanned": case.status == CaseStatus.RETURN_IN_TRANSIT
        and Parcel.objects.filter(
            shop_id=case.shop_id, case=case, kind=ParcelKind.RETURN, first_scan_at__isnull=False
        ).exists(),
    }
    return facts
