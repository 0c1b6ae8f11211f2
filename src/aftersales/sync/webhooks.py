"""Channel events in: a webhook's signature checked, and every event — webhook or pulled —
stored once and applied.

The signature is hex(HMAC-SHA256(webhook_secret, f"{timestamp}.{body}")) over the exact body
bytes, with the timestamp in Unix seconds: the scheme of our own outgoing webhooks and of the
courier feed. An unknown channel, a link without a secret and a signature that does not verify
are refused alike (channel.bad_signature); a signed timestamp more than five minutes off is
channel.stale. Replay protection is the pair: an old body is refused by its timestamp, a
recent one by its event id.

Each event is stored once per (shop, channel, event id), and stored and applied in one
transaction, so nothing is half-written:

- a new event is applied: `applied`, or `stale` when it is older than what we hold;
- the same event id again, after it applied or was stale, is a `duplicate`: nothing changes,
  whatever the new delivery carries;
- the same event id again after it *failed* is applied again with the new delivery's data
  (the sender may have fixed it, or the order may have arrived since); the same row records
  the new outcome. An event a rule refuses is kept as `failed` with the error, which goes
  back to the caller (the webhook answers with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.channels.models import Channel, Order
from aftersales.channels.payloads import order_data
from aftersales.core.errors import DomainError, Invalid, NotAuthenticated
from aftersales.notify.adapters.webhook import signed_by
from aftersales.policies.triggers import order_put
from aftersales.sync import cases
from aftersales.sync.models import ChannelEvent, ChannelLink, EventStatus
from aftersales.sync.payloads import (
    CASE_UPDATED,
    KINDS,
    ORDER_UPDATED,
    CaseChangeIn,
    OrderChangeIn,
    PayloadInvalid,
    channel_case,
    nul_path,
    payload_check,
    payload_errors,
)

MAX_SKEW_SECONDS = 300
APPLIED = EventStatus.APPLIED.value
STALE = EventStatus.STALE.value
FAILED = EventStatus.FAILED.value
DUPLICATE = "duplicate"
_KIND_MAX = ChannelEvent._meta.get_field("kind").max_length


def webhook_verify(
    *,
    shop_code: str,
    channel_code: str,
    timestamp: str,
    sig: str,
    body: bytes,
    now: datetime | None = None,
) -> Channel:
    """The channel that signed this body, or a 401-style refusal that says nothing more."""
    link = (
        ChannelLink.objects.select_related("channel")
        .filter(
            channel__shop__code=shop_code,
            channel__code=channel_code,
            active=True,
            channel__active=True,
        )
        .first()
    )
    refused = NotAuthenticated("channel.bad_signature", _("The signature does not verify."))
    # Header values arrive as latin-1 text: only a few plain ASCII digits are a Unix time.
    unix_time = timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12
    if link is None or not link.webhook_secret or not unix_time:
        raise refused
    if not signed_by(link.webhook_secret, timestamp, sig, body):
        raise refused
    # Checked once the sender proved it holds the secret: "stale" is said to no one else.
    now = now or timezone.now()
    if abs(now.timestamp() - int(timestamp)) > MAX_SKEW_SECONDS:
        raise NotAuthenticated("channel.stale", _("The timestamp is too old or in the future."))
    return link.channel


@dataclass(frozen=True)
class EventResult:
    """What became of one delivery: applied, stale, duplicate or failed (with the error)."""

    status: str
    event_pk: int
    case_id: int | None = None
    order_id: int | None = None
    error: DomainError | None = None


def event_apply(
    *,
    channel: Channel,
    event_id: str,
    kind: str,
    occurred_at: datetime,
    payload: Any,
    source: str,
    now: datetime | None = None,
) -> EventResult:
    """Store the channel's event once and apply it, in one transaction (see the module's
    docstring for duplicates and redeliveries). Domain refusals come back as a failed result;
    anything else raises and leaves nothing written."""
    now = now or timezone.now()
    delivery = {
        "source": source,
        "kind": kind[:_KIND_MAX],
        "occurred_at": occurred_at,
        "received_at": now,
        "payload": payload,
    }
    refusal: DomainError | None = None
    hidden = nul_path(payload)
    if hidden is not None:
        # Not storable as sent: kept readable, and refused.
        delivery["payload"] = _without_nul(payload)
        refusal = Invalid(
            "event.invalid",
            _("The event's data is not valid."),
            {hidden: _("Contains a NUL character.")},
        )
    with transaction.atomic():
        event, fresh = _event_claim(channel, event_id, delivery)
        if not fresh and event.status != FAILED:
            return EventResult(DUPLICATE, event.pk, event.case_id, event.order_id)
        try:
            if refusal is not None:
                raise refusal
            with transaction.atomic():
                status, case_id, order_id = _apply(channel, kind, occurred_at, payload, now)
        except DomainError as exc:
            result = EventResult(FAILED, event.pk, error=exc)
        else:
            result = EventResult(status, event.pk, case_id, order_id)
        ChannelEvent.objects.filter(pk=event.pk).update(
            **delivery,
            status=result.status,
            error=_error_text(result.error) if result.error else "",
            case_id=result.case_id,
            order_id=result.order_id,
        )
    return result


def _event_claim(channel: Channel, event_id: str, delivery: dict) -> tuple[ChannelEvent, bool]:
    """The event's row, new (True) or as stored before (False, locked). The unique key is the
    claim: a concurrent delivery of the same id waits here for the first one to commit."""
    try:
        with transaction.atomic():
            event = ChannelEvent.objects.create(
                shop_id=channel.shop_id,
                channel=channel,
                event_id=event_id,
                status=FAILED,  # until applied, a few lines on, in this same transaction
                **delivery,
            )
            return event, True
    except IntegrityError:
        held = (
            ChannelEvent.objects.select_for_update()
            .filter(shop_id=channel.shop_id, channel=channel, event_id=event_id)
            .first()
        )
        if held is None:  # not a duplicate after all: a bug to surface
            raise
        return held, False


def _apply(
    channel: Channel, kind: str, occurred_at: datetime, payload: Any, now: datetime
) -> tuple[str, int | None, int | None]:
    """(status, case id, order id) of applying the event's data."""
    if kind not in KINDS:
        raise Invalid(
            "event.unknown_type",
            _("Unknown event type %(type)s.") % {"type": kind[:_KIND_MAX] or "—"},
            {"type": kind[:_KIND_MAX]},
        )
    try:
        body = payload_check(kind, payload)
    except PayloadInvalid as exc:
        raise Invalid(
            "event.invalid", _("The event's data is not valid."), payload_errors(exc)
        ) from exc
    if kind == CASE_UPDATED:
        assert isinstance(body, CaseChangeIn)
        case, what = cases.channel_case_put(
            channel=channel, data=channel_case(body, occurred_at), now=now
        )
        return (STALE if what == cases.STALE else APPLIED), case.pk, case.order_id
    assert kind == ORDER_UPDATED and isinstance(body, OrderChangeIn)
    return _order_apply(channel, body, occurred_at)


def _order_apply(
    channel: Channel, body: OrderChangeIn, occurred_at: datetime
) -> tuple[str, None, int]:
    if body.channel_id not in (None, channel.pk):
        raise Invalid(
            "event.invalid",
            _("The event's data is not valid."),
            {"data.channel_id": _("Leave it out, or give this channel's id.")},
        )
    held = (
        Order.objects.select_for_update()
        .filter(shop_id=channel.shop_id, channel=channel, external_id=body.external_id)
        .first()
    )
    # Orders carry no version of their own: the events we applied to it are the clock.
    if (
        held is not None
        and ChannelEvent.objects.filter(
            shop_id=channel.shop_id,
            channel=channel,
            order=held,
            kind=ORDER_UPDATED,
            status=APPLIED,
            occurred_at__gt=occurred_at,
        ).exists()
    ):
        return STALE, None, held.pk
    order, _created = order_put(actor=None, channel=channel, data=order_data(body))
    return APPLIED, None, order.pk


def _error_text(exc: DomainError) -> str:
    fields = "; ".join(f"{key}: {value}" for key, value in exc.fields.items())
    return f"{exc.code}: {exc.message}" + (f" ({fields})" if fields else "")


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value
