"""What a channel's events carry, whichever way they come (a signed webhook or a reconciliation
pull): the kinds we know, each kind's data checked field by field, and its conversion into the
input of the write that applies it.

    case.updated   {"external_id", "order_number", "type", "status", "reason", "refund_amount",
                    "customer_words", "lines": [{"sku", "quantity"}]}
                   `type` is our case type (refund_only …); `status` is the channel's own code
                   (Taobao WAIT_SELLER_AGREE, Pinduoduo "10" …), mapped by sync/statuses.py.
    order.updated  the body of the API's order upsert (`POST /orders`); `channel_id` may be left
                   out — the channel is the one the event came from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.utils.translation import gettext as _
from ninja import Field
from pydantic import AfterValidator
from pydantic import AwareDatetime as ZonedDatetime
from pydantic import ValidationError as PayloadInvalid

from aftersales.cases.models import Reason
from aftersales.cases.states import CaseType
from aftersales.channels.payloads import OrderIn
from aftersales.core.schemas import In, Money
from aftersales.sync.cases import ChannelCase

CASE_UPDATED = "case.updated"
ORDER_UPDATED = "order.updated"
KINDS = (CASE_UPDATED, ORDER_UPDATED)

# An event id is the channel's own: printable, no spaces, at most what the log keeps.
EVENT_ID_PATTERN = r"^[!-~]{1,100}$"


def _plausible(value: datetime) -> datetime:
    if not 2000 <= value.year <= 2999:
        raise ValueError(_("must be between the years 2000 and 2999"))
    return value


# A channel's time without a zone is ambiguous: refused rather than guessed.
EventTime = Annotated[ZonedDatetime, AfterValidator(_plausible)]


class CaseLineIn(In):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=100000)


class CaseChangeIn(In):
    external_id: str = Field(min_length=1, max_length=64, description="the channel's case number")
    order_number: str = Field(min_length=1, max_length=64, description="the channel's order")
    type: CaseType
    status: str = Field(min_length=1, max_length=40, description="the channel's own status code")
    reason: Reason = Reason.OTHER
    refund_amount: Money | None = None
    customer_words: str = Field(default="", max_length=5000)
    lines: list[CaseLineIn] = Field(
        default_factory=list, max_length=500, description="none: every line of the order"
    )


class OrderChangeIn(OrderIn):
    channel_id: int | None = Field(default=None, description="left out: the event's channel")


SCHEMAS: dict[str, type[In]] = {CASE_UPDATED: CaseChangeIn, ORDER_UPDATED: OrderChangeIn}


def payload_check(kind: str, data: Any) -> CaseChangeIn | OrderChangeIn:
    """The event's data, checked against its kind's schema (raises PayloadInvalid)."""
    return SCHEMAS[kind].model_validate(data)


def payload_errors(exc: PayloadInvalid, prefix: str = "data") -> dict[str, str]:
    """Field errors keyed by their path in the event ("data.lines.0.quantity")."""
    fields: dict[str, str] = {}
    for err in exc.errors():
        path = ".".join(str(part) for part in (prefix, *err["loc"]) if part != "")
        fields.setdefault(path or "body", str(err.get("msg", "")))
    return fields


def nul_path(value: Any, path: str = "data") -> str | None:
    """Where a NUL character hides in decoded JSON, if anywhere: PostgreSQL stores no NUL in
    text or jsonb, so such a value can only be refused."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = (f"{path}.{key}" if "\x00" in key else None) or nul_path(item, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = nul_path(item, f"{path}.{i}")
            if found:
                return found
    return None


def channel_case(body: CaseChangeIn, occurred_at: datetime) -> ChannelCase:
    return ChannelCase(
        external_id=body.external_id,
        order_number=body.order_number,
        case_type=body.type,
        channel_status=body.status,
        reason=body.reason,
        refund_amount=body.refund_amount,
        customer_words=body.customer_words,
        lines=[(line.sku, line.quantity) for line in body.lines],
        occurred_at=occurred_at,
    )
