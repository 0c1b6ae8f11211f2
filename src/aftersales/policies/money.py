"""Every after-sales amount in one place: Decimal, two places, half-up, parts that sum exactly.

A partial refund is prorated over what the order's lines actually paid (their share of
discounts already taken off) by the largest-remainder rule, so that refunding every unit of
an order in any number of cases gives back exactly what was paid — never a cent more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from aftersales.core.money import ZERO, allocate, money

INTEREST_PER_DAY = Decimal("0.0003")  # 0.03% a day on funds we delayed (DESIGN §5)
LATE_SHIPMENT_COMPENSATION = Decimal("3.00")  # a ¥3 coupon when we ship later than 48 h
DEFAULT_LABOUR = Decimal("30.00")


@dataclass(frozen=True)
class LineClaim:
    """What one order line paid in all, how many units it had, how many are claimed now and
    how many were already refunded by earlier cases."""

    paid_amount: Decimal
    quantity: int
    claimed: int
    already_refunded_units: int = 0


def line_refund(claim: LineClaim) -> Decimal:
    """The refund for the claimed units of one line.

    The line's paid amount is split over its units by largest remainder; earlier cases took
    the first units, this one takes the next, so all cases together sum to the paid amount.
    """
    if claim.claimed <= 0 or claim.quantity <= 0:
        return ZERO
    units = allocate(money(claim.paid_amount), [Decimal(1)] * claim.quantity)
    start = claim.already_refunded_units
    return money(sum(units[start : start + claim.claimed], ZERO))


def refund_for_lines(claims: list[LineClaim]) -> Decimal:
    return money(sum((line_refund(c) for c in claims), ZERO))


def shipping_refund(*, shipping_fee: Decimal, order_fully_refunded: bool, shipped: bool) -> Decimal:
    """Shipping comes back only when nothing was shipped and the whole order is refunded."""
    if shipped or not order_fully_refunded:
        return ZERO
    return money(shipping_fee)


def return_shipping_payer(*, quality_reason: bool, shipping_insurance: bool) -> str:
    """Who bears the return postage: us for our faults, insurance if bought, else the buyer."""
    if quality_reason:
        return "merchant"
    return "insurance" if shipping_insurance else "customer"


def restocking_fee(
    *, refund: Decimal, percent: Decimal | None = None, fixed: Decimal | None = None
) -> Decimal:
    """Off by default. Never more than the refund itself."""
    fee = ZERO
    if percent is not None:
        fee = money(refund * percent / Decimal(100))
    elif fixed is not None:
        fee = money(fixed)
    return min(fee, money(refund))


def repair_quote(
    *, in_warranty: bool, part_prices: list[Decimal], labour: Decimal = DEFAULT_LABOUR
) -> Decimal:
    """Free within warranty; otherwise the parts price list plus labour."""
    if in_warranty:
        return ZERO
    return money(sum(part_prices, ZERO) + labour)


def months_between(start: datetime, end: datetime) -> int:
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - 1 if end.day < start.day else months


def in_warranty(*, signed_at: datetime | None, at: datetime, warranty_months: int) -> bool:
    if signed_at is None:  # never delivered: the warranty has not even started
        return True
    return months_between(signed_at, at) < warranty_months


def delayed_funds_interest(*, amount: Decimal, due: datetime, paid: datetime) -> Decimal:
    """0.03% a day, whole days late, from the due date to payment."""
    days = (paid - due).days
    if days <= 0:
        return ZERO
    return money(money(amount) * INTEREST_PER_DAY * days)


def late_shipment_compensation(
    *, paid_at: datetime, shipped_at: datetime | None, now: datetime, hours: int = 48
) -> Decimal:
    """A fixed coupon when the parcel left (or still has not left) later than `hours` after
    payment."""
    shipped = shipped_at or now
    late = (shipped - paid_at).total_seconds() > hours * 3600
    return LATE_SHIPMENT_COMPENSATION if late else ZERO


def keep_item(*, refund: Decimal, return_cost: Decimal) -> bool:
    """Refund without a return when sending the item back would cost more than it is worth."""
    return money(refund) < money(return_cost)
