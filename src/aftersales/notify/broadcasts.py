"""Broadcasts: one message to every customer matching a filter, fanned out in batches into
the same outbox as case notifications. One row per (broadcast, recipient), so running a
broadcast again after a crash never sends anyone a second copy."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q
from django.template import Context
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.cases.models import Reason
from aftersales.channels.models import Channel, Language, Shop
from aftersales.channels.services import require_shop_perm
from aftersales.core.errors import Invalid
from aftersales.notify.models import (
    BROADCAST_EVENT,
    CUSTOMER_CHANNELS,
    Broadcast,
    BroadcastState,
    NotifyChannel,
    Outbox,
    SmsAccount,
    WeChatAccount,
    template_syntax_errors,
)
from aftersales.notify.rendering import ENGINE, default_language
from aftersales.notify.selectors import (
    ADDRESS_FIELDS,
    broadcast_audience,
    broadcast_recipients_count,
)
from aftersales.notify.services import dedupe_key_for, sms_payload, wechat_payload

ADD_BROADCAST = "notify.add_broadcast"
AUDIENCE_KEYS = ("sku", "channel_id", "open_case_reason")
LEASE = timedelta(minutes=5)
SUBJECT_MAX, BODY_MAX, SMS_BODY_MAX = 200, 4000, 500


# --------------------------------------------------------------------------- create


def _audience_errors(shop: Shop, audience: Any) -> dict[str, str]:
    if not isinstance(audience, dict):
        return {"audience": _("An object of filters.")}
    errors = {
        f"audience.{key}": _("Unknown filter.") for key in audience if key not in AUDIENCE_KEYS
    }
    if not any(audience.get(key) not in (None, "") for key in AUDIENCE_KEYS):
        errors["audience"] = _("Give at least one filter: sku, channel_id or open_case_reason.")
    sku = audience.get("sku")
    if sku is not None and (not isinstance(sku, str) or not sku.strip() or len(sku) > 64):
        errors["audience.sku"] = _("A SKU of at most 64 characters.")
    channel_id = audience.get("channel_id")
    if channel_id is not None and (
        not isinstance(channel_id, int)
        or isinstance(channel_id, bool)
        or not Channel.objects.filter(pk=channel_id, shop=shop).exists()
    ):
        errors["audience.channel_id"] = _("Not a channel of this shop.")
    reason = audience.get("open_case_reason")
    if reason is not None and reason not in Reason.values:
        errors["audience.open_case_reason"] = _("Unknown reason.")
    return errors


def _message_errors(channel: str, messages: Any) -> dict[str, str]:
    if not isinstance(messages, dict) or not messages:
        return {"messages": _("Give the message in at least one language.")}
    errors: dict[str, str] = {}
    for language, message in messages.items():
        path = f"messages.{language}"
        if language not in Language.values:
            errors[path] = _("Unknown language: use zh-hans, en or vi.")
            continue
        if not isinstance(message, dict):
            errors[path] = _("An object with subject and body.")
            continue
        subject, body = message.get("subject", ""), message.get("body", "")
        if not isinstance(subject, str) or len(subject) > SUBJECT_MAX:
            errors[f"{path}.subject"] = _("At most %(n)s characters.") % {"n": SUBJECT_MAX}
        elif not subject.strip() and channel != NotifyChannel.SMS:
            errors[f"{path}.subject"] = _("Required.")
        body_max = SMS_BODY_MAX if channel == NotifyChannel.SMS else BODY_MAX
        if not isinstance(body, str) or not body.strip():
            errors[f"{path}.body"] = _("Required.")
        elif len(body) > body_max:
            errors[f"{path}.body"] = _("At most %(n)s characters.") % {"n": body_max}
        for name, text in (("subject", subject), ("body", body)):
            if isinstance(text, str) and f"{path}.{name}" not in errors:
                problem = template_syntax_errors(text)
                if problem:
                    errors[f"{path}.{name}"] = problem
        unknown = set(message) - {"subject", "body"}
        if unknown:
            errors[f"{path}.{sorted(unknown)[0]}"] = _("Unknown field.")
    return errors


def _channel_errors(shop: Shop, channel: str, messages: dict) -> dict[str, str]:
    if channel not in CUSTOMER_CHANNELS:
        return {"channel": _("Choose email, sms or wechat.")}
    languages = list(messages) if isinstance(messages, dict) else []
    if channel == NotifyChannel.SMS:
        sms = SmsAccount.objects.filter(shop=shop, active=True).first()
        if sms is None or not all(sms.template_code(BROADCAST_EVENT, lang) for lang in languages):
            return {"channel": _("The shop has no SMS account with a broadcast template code.")}
    if channel == NotifyChannel.WECHAT:
        wechat = WeChatAccount.objects.filter(shop=shop, active=True).first()
        if wechat is None or not all(
            wechat.template_id(BROADCAST_EVENT, lang) for lang in languages
        ):
            return {"channel": _("The shop has no WeChat account with a broadcast template.")}
    return {}


@transaction.atomic
def broadcast_create(
    *,
    actor: AbstractBaseUser | None,
    shop: Shop,
    name: str,
    channel: str,
    audience: dict[str, Any],
    messages: dict[str, dict[str, str]],
) -> Broadcast:
    """Check and save a broadcast; it starts once this transaction commits."""
    require_shop_perm(actor, ADD_BROADCAST, shop.pk, "shop.not_found")
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name or len(name) > 200:
        errors["name"] = _("A name of 1 to 200 characters.")
    errors |= _channel_errors(shop, channel, messages)
    errors |= _audience_errors(shop, audience)
    errors |= _message_errors(channel, messages)
    if errors:
        raise Invalid("broadcast.invalid", _("The broadcast is not valid."), errors)
    broadcast = Broadcast.objects.create(
        shop=shop,
        name=name,
        channel=channel,
        audience={k: v for k, v in audience.items() if v not in (None, "")},
        messages=messages,
        created_by=actor,
        total=broadcast_recipients_count(shop_id=shop.pk, audience=audience, channel=channel),
    )

    def start() -> None:
        from aftersales.notify.tasks import broadcast_run as broadcast_run_task

        broadcast_run_task.enqueue(broadcast.pk)

    transaction.on_commit(start, robust=True)
    return broadcast


# --------------------------------------------------------------------------- run


def _message_for(broadcast: Broadcast, language: str) -> tuple[str, dict[str, str]]:
    """The customer's language, else the default language, else the first one given."""
    for candidate in (language, default_language(), *Language.values):
        if candidate in broadcast.messages:
            return candidate, broadcast.messages[candidate]
    raise ValueError("a broadcast without messages")  # broadcast_create refuses those


def _rows(broadcast: Broadcast, customers: list, now: datetime, accounts: dict) -> list[Outbox]:
    field = ADDRESS_FIELDS[broadcast.channel]
    compiled: dict[str, tuple] = {}
    rows = []
    for customer in customers:
        language, message = _message_for(broadcast, customer.language)
        if language not in compiled:
            compiled[language] = (
                ENGINE.from_string(message.get("subject", "")),
                ENGINE.from_string(message["body"]),
            )
        context = {"customer_name": customer.name, "shop_name": broadcast.shop.name}
        subject, body = (
            t.render(Context(context, autoescape=False)).strip() for t in compiled[language]
        )
        subject = " ".join(subject.split())
        payload: dict | None = {}
        if broadcast.channel == NotifyChannel.SMS:
            params = {"name": customer.name, "content": body}
            payload = sms_payload(accounts.get("sms"), BROADCAST_EVENT, language, params)
        elif broadcast.channel == NotifyChannel.WECHAT:
            payload = wechat_payload(
                accounts.get("wechat"),
                BROADCAST_EVENT,
                language,
                subject=subject,
                body=body,
                keywords=[broadcast.shop.name],
            )
        recipient = getattr(customer, field).strip()
        event_key = f"broadcast:{broadcast.pk}"
        rows.append(
            Outbox(
                shop_id=broadcast.shop_id,
                event_key=event_key,
                dedupe_key=dedupe_key_for(event_key, broadcast.channel, recipient),
                event=BROADCAST_EVENT,
                channel=broadcast.channel,
                recipient=recipient,
                language=language,
                broadcast=broadcast,
                subject=subject,
                body=body,
                # Without an account the adapter fails it for good: counted, not hidden.
                payload=payload or {},
                next_attempt_at=now,
                created_at=now,
            )
        )
    return rows


def _claim(broadcast_id: int, now: datetime) -> bool:
    free = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    return (
        Broadcast.objects.filter(
            free, pk=broadcast_id, state__in=[BroadcastState.PENDING, BroadcastState.RUNNING]
        ).update(state=BroadcastState.RUNNING, lease_until=now + LEASE)
        == 1
    )


def broadcast_run(
    *, broadcast_id: int, batch: int = 500, now: datetime | None = None
) -> Broadcast | None:
    """Write the broadcast's messages into the outbox, `batch` customers per transaction,
    keeping `queued` current. Resumes where a crashed run stopped. None when another run
    holds it or it has finished."""
    clock = (lambda: now) if now is not None else timezone.now
    if not _claim(broadcast_id, clock()):
        return None
    accounts: dict[str, Any] = {}
    while True:
        with transaction.atomic():
            broadcast = (
                Broadcast.objects.select_for_update().select_related("shop").get(pk=broadcast_id)
            )
            if not accounts:
                accounts = {
                    "sms": SmsAccount.objects.filter(
                        shop_id=broadcast.shop_id, active=True
                    ).first(),
                    "wechat": WeChatAccount.objects.filter(
                        shop_id=broadcast.shop_id, active=True
                    ).first(),
                }
            customers = list(
                broadcast_audience(
                    shop_id=broadcast.shop_id,
                    audience=broadcast.audience,
                    channel=broadcast.channel,
                )
                .filter(pk__gt=broadcast.cursor)
                .order_by("pk")[:batch]
            )
            if customers:
                Outbox.objects.bulk_create(
                    _rows(broadcast, customers, clock(), accounts), ignore_conflicts=True
                )
            queued = Outbox.objects.filter(shop_id=broadcast.shop_id, broadcast=broadcast).count()
            if customers:
                Broadcast.objects.filter(pk=broadcast_id).update(
                    cursor=customers[-1].pk, queued=queued, lease_until=clock() + LEASE
                )
                continue
            # Every message is in the outbox: the exact count replaces the first estimate.
            Broadcast.objects.filter(pk=broadcast_id).update(
                state=BroadcastState.QUEUED, queued=queued, total=queued, lease_until=None
            )
            Broadcast.objects.filter(pk=broadcast_id, total__lte=F("sent") + F("failed")).update(
                state=BroadcastState.DONE, finished_at=clock()
            )
        break
    # No task per row: the worker's outbox sweep delivers them (one task per message would
    # swamp the queue for a large audience).
    return Broadcast.objects.get(pk=broadcast_id)


def broadcasts_sweep(*, now: datetime, batch: int = 500) -> int:
    """Run every broadcast that has not finished writing and that no live run holds (it was
    just created while the queue was down, or its worker died). Returns how many ran."""
    free = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    ids = list(
        Broadcast.objects.filter(
            free, state__in=[BroadcastState.PENDING, BroadcastState.RUNNING]
        ).values_list("pk", flat=True)
    )
    return sum(1 for pk in ids if broadcast_run(broadcast_id=pk, batch=batch, now=now) is not None)
