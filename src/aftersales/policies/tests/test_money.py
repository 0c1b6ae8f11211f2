"""The money rows of DESIGN §5, to the cent, and proration properties (hypothesis)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from aftersales.policies import money as m

T0 = datetime(2026, 11, 1, 10, 0)


def test_partial_refunds_of_one_line_sum_to_what_it_paid():
    claims = [m.LineClaim(Decimal("100.00"), 3, 1, already) for already in (0, 1, 2)]
    assert [m.line_refund(c) for c in claims] == [
        Decimal("33.34"),
        Decimal("33.33"),
        Decimal("33.33"),
    ]
    assert m.line_refund(m.LineClaim(Decimal("100.00"), 3, 3)) == Decimal("100.00")


def test_shipping_comes_back_only_for_a_whole_unshipped_order():
    assert m.shipping_refund(
        shipping_fee=Decimal("8"), order_fully_refunded=True, shipped=False
    ) == Decimal("8.00")
    assert m.shipping_refund(
        shipping_fee=Decimal("8"), order_fully_refunded=False, shipped=False
    ) == Decimal("0.00")
    assert m.shipping_refund(
        shipping_fee=Decimal("8"), order_fully_refunded=True, shipped=True
    ) == Decimal("0.00")


def test_who_pays_the_return_postage():
    assert m.return_shipping_payer(quality_reason=True, shipping_insurance=True) == "merchant"
    assert m.return_shipping_payer(quality_reason=False, shipping_insurance=True) == "insurance"
    assert m.return_shipping_payer(quality_reason=False, shipping_insurance=False) == "customer"


def test_restocking_fee_is_off_by_default_and_capped_at_the_refund():
    assert m.restocking_fee(refund=Decimal("99.99")) == Decimal("0.00")
    assert m.restocking_fee(refund=Decimal("99.99"), percent=Decimal("15")) == Decimal("15.00")
    assert m.restocking_fee(refund=Decimal("5.00"), fixed=Decimal("8")) == Decimal("5.00")


def test_repair_quote_is_free_in_warranty_else_parts_plus_labour():
    parts = [Decimal("120.00"), Decimal("15.50")]
    assert m.repair_quote(in_warranty=True, part_prices=parts) == Decimal("0.00")
    assert m.repair_quote(in_warranty=False, part_prices=parts) == Decimal("165.50")
    assert m.in_warranty(signed_at=T0, at=T0 + timedelta(days=364), warranty_months=12)
    assert not m.in_warranty(signed_at=T0, at=datetime(2027, 11, 1, 10), warranty_months=12)


def test_delayed_funds_interest_is_003_percent_a_day():
    interest = m.delayed_funds_interest(
        amount=Decimal("1000.00"), due=T0, paid=T0 + timedelta(days=10, hours=5)
    )
    assert interest == Decimal("3.00")
    assert m.delayed_funds_interest(amount=Decimal("1000"), due=T0, paid=T0) == Decimal("0.00")


def test_late_shipment_compensation_after_48_hours():
    assert m.late_shipment_compensation(
        paid_at=T0, shipped_at=T0 + timedelta(hours=49), now=T0
    ) == Decimal("3.00")
    assert m.late_shipment_compensation(
        paid_at=T0, shipped_at=T0 + timedelta(hours=47), now=T0
    ) == Decimal("0")
    # Not shipped yet but already late.
    assert m.late_shipment_compensation(
        paid_at=T0, shipped_at=None, now=T0 + timedelta(hours=60)
    ) == Decimal("3.00")


def test_keep_the_item_when_returning_it_costs_more():
    assert m.keep_item(refund=Decimal("9.00"), return_cost=Decimal("12.00"))
    assert not m.keep_item(refund=Decimal("12.00"), return_cost=Decimal("12.00"))


paid = st.integers(min_value=0, max_value=10**8).map(lambda c: Decimal(c) / 100)


@given(
    paid=paid,
    quantity=st.integers(min_value=1, max_value=50),
    data=st.data(),
)
def test_claims_in_any_split_sum_to_the_paid_amount_never_negative_never_above(
    paid, quantity, data
):
    splits = []
    left = quantity
    while left:
        take = data.draw(st.integers(min_value=1, max_value=left))
        splits.append(take)
        left -= take
    refunds, done = [], 0
    for take in splits:
        refunds.append(m.line_refund(m.LineClaim(paid, quantity, take, done)))
        done += take
    assert sum(refunds) == paid
    assert all(Decimal(0) <= r <= paid for r in refunds)
