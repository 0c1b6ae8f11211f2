"""The pieces every input schema shares, whichever way the input comes in (the API, a
channel's webhook, a pulled change): money, aware datetimes, ids, and refusing unknown fields."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from django.utils import timezone
from ninja import Field, Schema
from pydantic import AfterValidator, ConfigDict

# Business times live well inside these years; outside them a zone shift could overflow.
_EARLIEST_YEAR, _LATEST_YEAR = 1970, 2999


def _aware(value: datetime) -> datetime:
    # A time without a zone is read in the deployment's zone (Asia/Shanghai by default).
    if not _EARLIEST_YEAR <= value.year <= _LATEST_YEAR:
        raise ValueError(f"must be between the years {_EARLIEST_YEAR} and {_LATEST_YEAR}")
    return timezone.make_aware(value) if timezone.is_naive(value) else value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
Money = Annotated[Decimal, Field(max_digits=12, decimal_places=2, ge=0)]
# Database ids are signed 64-bit; anything larger can only be a mistake.
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


class In(Schema):
    """Input schemas refuse unknown fields, so a typo is an error rather than ignored."""

    model_config = ConfigDict(extra="forbid")
