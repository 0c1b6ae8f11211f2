"""Cell text to typed values, with the message a merchant reads when a cell is wrong."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from django.utils.translation import gettext as _

from aftersales.core.money import MONEY_MAX


class CellError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_CURRENCY_MARKS = str.maketrans("", "", "¥￥,， ")
_CENT = Decimal("0.01")
_AMOUNT = re.compile(r"\d+(\.\d+)?|\.\d+")


@lru_cache(maxsize=8192)  # an export repeats its prices and quantities line after line
def money_of(text: str) -> Decimal | None:
    """ "¥1,299.00" → Decimal("1299.00"); empty → None."""
    if not text:
        return None
    plain = text.translate(_CURRENCY_MARKS)
    if plain.startswith("-") and _AMOUNT.fullmatch(plain[1:]):
        raise CellError(_("Cannot be negative."))
    if not _AMOUNT.fullmatch(plain):  # no exponents, underscores or signs
        raise CellError(_("Not an amount of money."))
    value = Decimal(plain)
    if value > MONEY_MAX:
        raise CellError(_("Too large."))
    if value.as_tuple().exponent < -2 and value != value.quantize(_CENT):
        raise CellError(_("More than two decimal places."))
    return value.quantize(_CENT)


@lru_cache(maxsize=1024)
def count_of(text: str) -> int:
    """A quantity: a whole number of at least 1 ("3" or Excel's "3.0")."""
    if text.isascii() and text.isdigit() and len(text) < 7:
        value = int(text)
        if value < 1:
            raise CellError(_("Quantity must be at least 1."))
        return value
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CellError(_("Not a whole number.")) from None
    if not value.is_finite() or value != value.to_integral_value():
        raise CellError(_("Not a whole number."))
    if value < 1:
        raise CellError(_("Quantity must be at least 1."))
    if value > 1_000_000:
        raise CellError(_("Too large."))
    return int(value)


def time_of(text: str, tz: dt.tzinfo) -> dt.datetime | None:
    """A time as the exports print it: "2026-11-01 10:00:00", "2026/11/01 10:00", ISO 8601
    with or without its zone; without one it is the shop's local time."""
    if not text:
        return None
    text = text.replace("/", "-")
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        value = _unpadded(text)
    if not 1970 <= value.year <= 2999:
        raise CellError(_("Out of range: between 1970 and 2999."))
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value


def _unpadded(text: str) -> dt.datetime:
    """Excel's "2026-1-5 9:05" (no leading zeros)."""
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise CellError(_("Not a date and time (write 2026-11-01 10:00:00)."))
