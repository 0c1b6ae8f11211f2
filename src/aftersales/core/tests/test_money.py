"""Money rounding and largest-remainder allocation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aftersales.core.money import allocate, money


def test_money_rounds_half_up_and_refuses_floats():
    assert money("2.345") == Decimal("2.35")
    assert money("2.344") == Decimal("2.34")
    assert money(3) == Decimal("3.00")
    with pytest.raises(TypeError):
        money(0.1)


def test_allocate_gives_the_odd_cent_to_the_largest_remainder():
    assert allocate(Decimal("10.00"), [Decimal(1)] * 3) == [
        Decimal("3.34"),
        Decimal("3.33"),
        Decimal("3.33"),
    ]
    assert allocate(Decimal("100.00"), [Decimal("33.33"), Decimal("66.67")]) == [
        Decimal("33.33"),
        Decimal("66.67"),
    ]
    assert allocate(Decimal("5.00"), [Decimal(0), Decimal(0)]) == [Decimal("0.00")] * 2


cents = st.integers(min_value=0, max_value=10**9).map(lambda c: Decimal(c) / 100)
weights = st.lists(cents, min_size=1, max_size=30)


@given(total=cents, parts=weights)
def test_allocation_sums_exactly_and_is_never_negative(total, parts):
    shares = allocate(total, parts)
    assert len(shares) == len(parts)
    if sum(parts) == 0:
        assert all(s == 0 for s in shares)
        return
    assert sum(shares) == money(total)
    assert all(s >= 0 for s in shares)
    assert all(s == s.quantize(Decimal("0.01")) for s in shares)


@given(parts=weights)
def test_allocating_the_weights_total_gives_each_its_own_weight(parts):
    # Splitting what was paid in proportion to what was paid returns each line's payment.
    total = sum(parts, Decimal(0))
    assert allocate(total, parts) == [money(p) for p in parts]
