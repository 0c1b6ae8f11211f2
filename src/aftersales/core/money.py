"""Money: Decimal with two places, rounded half-up. Never a float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# The largest amount a money column (12 digits, 2 places) holds.
MONEY_MAX = Decimal("9999999999.99")


def money(value: Decimal | int | str) -> Decimal:
    """Quantize to cents, half-up. Rejects floats so binary fractions never leak in."""
    if isinstance(value, float):
        raise TypeError("money() refuses float; pass Decimal, int or str")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def allocate(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split `total` over `weights` by the largest-remainder rule so the parts sum to it exactly."""
    total = money(total)
    weight_sum = sum(weights, Decimal(0))
    if not weights:
        return []
    if weight_sum == 0:
        return [ZERO for _ in weights]
    cents = int(total / CENT)
    raw = [Decimal(cents) * w / weight_sum for w in weights]
    floors = [int(r) for r in raw]
    remainder = cents - sum(floors)
    order = sorted(range(len(raw)), key=lambda i: (raw[i] - floors[i], -i), reverse=True)
    for i in order[:remainder]:
        floors[i] += 1
    return [Decimal(c) * CENT for c in floors]
