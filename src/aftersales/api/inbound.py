"""Channels calling in: the signed webhook a marketplace (or a merchant's own middleware) posts
each change of an after-sales request or an order to.

`POST /channels/{shop_code}/{channel_code}/events` takes no API token: the body is signed with
the channel link's webhook secret (X-Aftersales-Timestamp in Unix seconds,
X-Aftersales-Signature = hex HMAC-SHA256 over "{timestamp}.{body}"). Answers:

- 200 {"status": "applied" | "duplicate" | "stale", "case_id", "order_id"};
- 400 request.malformed (not JSON) or event.invalid with each field's path ("data.lines.0.sku"):
  the body is not an event, and nothing is stored;
- 401 channel.bad_signature (unknown channel, no secret, bad signature) or channel.stale
  (timestamp more than five minutes off): nothing is stored;
- 422 (409 for a conflict) with the rule's error: the event is stored as failed, and sending
  the same event id again applies it again.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from aftersales.api.schemas import ERRORS, In
from aftersales.core.errors import DomainError
from aftersales.sync.models import EventSource
from aftersales.sync.payloads import (
    EVENT_ID_PATTERN,
    EventTime,
    PayloadInvalid,
    nul_path,
    payload_check,
    payload_errors,
)
from aftersales.sync.webhooks import event_apply, webhook_verify

router = Router(tags=["channels"])

HEADERS = ("X-Aftersales-Timestamp", "X-Aftersales-Signature")


class ChannelEventIn(In):
    event_id: str = Field(
        pattern=EVENT_ID_PATTERN, description="the channel's id of this change; sent once"
    )
    type: Literal["case.updated", "order.updated"]
    occurred_at: EventTime = Field(description="when it changed at the channel, with its zone")
    data: dict[str, Any] = Field(
        description="case.updated: external_id, order_number, type, status (the channel's "
        "code), reason, refund_amount, customer_words, lines [{sku, quantity}]; "
        "order.updated: the body of POST /orders (channel_id may be left out)"
    )


class ChannelEventOut(Schema):
    status: Literal["applied", "duplicate", "stale"] = Field(
        description="duplicate: this event id was applied before, nothing changed; stale: "
        "older than what we hold, stored but not applied"
    )
    case_id: int | None
    order_id: int | None


def _invalid(fields: dict[str, str]) -> DomainError:
    return DomainError("event.invalid", _("The event is not valid."), fields)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _event_parse(body: bytes) -> ChannelEventIn:
    """The body as an event, or a 400 naming what is wrong: a sender's mistake, never stored."""
    try:
        # NaN and Infinity are not JSON, and no database stores them as JSON.
        raw = json.loads(body, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DomainError(
            "request.malformed", _("The body is not valid JSON."), {"body": _("Not valid JSON.")}
        ) from exc
    try:
        event = ChannelEventIn.model_validate(raw)
    except PayloadInvalid as exc:
        raise _invalid(payload_errors(exc, prefix="")) from exc
    hidden = nul_path(event.data)
    if hidden is not None:
        raise _invalid({hidden: _("Contains a NUL character.")})
    try:
        payload_check(event.type, event.data)
    except PayloadInvalid as exc:
        raise _invalid(payload_errors(exc)) from exc
    return event


def _raw_body(request: HttpRequest) -> bytes:
    try:
        return request.body
    except RequestDataTooBig as exc:
        raise DomainError(
            "request.too_large", _("The body is too large."), {"body": _("Too large.")}
        ) from exc


@router.post(
    "/channels/{shop_code}/{channel_code}/events",
    auth=None,
    response={200: ChannelEventOut, **ERRORS},
    openapi_extra={
        "security": [],  # signed with the channel's webhook secret, not a bearer token
        "parameters": [
            {"in": "header", "name": name, "required": True, "schema": {"type": "string"}}
            for name in HEADERS
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ChannelEventIn.model_json_schema()}},
        },
    },
)
def channel_event(request: HttpRequest, shop_code: str, channel_code: str):
    """One change at a channel (an after-sales request or an order), signed by the channel.
    Stored once per event id and applied in the same transaction: a request the channel still
    waits on is filed and decided by the policy, one it moved on is mirrored (a refund the
    channel paid settles ours), an order is upserted."""
    body = _raw_body(request)
    # The signature comes first: nothing about the body is said to an unknown sender.
    channel = webhook_verify(
        shop_code=shop_code,
        channel_code=channel_code,
        timestamp=request.headers.get(HEADERS[0], ""),
        sig=request.headers.get(HEADERS[1], ""),
        body=body,
    )
    event = _event_parse(body)
    result = event_apply(
        channel=channel,
        event_id=event.event_id,
        kind=event.type,
        occurred_at=event.occurred_at,
        payload=event.data,
        source=EventSource.WEBHOOK,
    )
    if result.error is not None:
        raise result.error  # stored as failed; the sender hears why
    return {"status": result.status, "case_id": result.case_id, "order_id": result.order_id}
