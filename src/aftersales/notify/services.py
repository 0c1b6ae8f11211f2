"""Writes to the outbox: the messages a case event causes, in the caller's transaction, and
the enqueue of their delivery once that transaction commits."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.states import CaseStatus
from aftersales.notify.models import (
    CUSTOMER_CHANNELS,
    Broadcast,
    BroadcastState,
    NotifyChannel,
    NotifyEvent,
    Outbox,
    OutboxState,
    SmsAccount,
    WebhookEndpoint,
    WeChatAccount,
)
from aftersales.notify.rendering import (
    case_context,
    case_event_payload,
    render_message,
    template_pick,
)

log = logging.getLogger(__name__)


def dedupe_key_for(event_key: str, channel: str, recipient: str) -> str:
    return hashlib.sha256(f"{event_key}\n{channel}\n{recipient}".encode()).hexdigest()


def outbox_add(
    *,
    shop_id: int,
    event_key: str,
    event: str,
    channel: str,
    recipient: str,
    now: datetime,
    **fields: Any,
) -> Outbox | None:
    """Write one message, due now, unless (event_key, channel, recipient) already has one;
    None then. Must run inside the transaction of the change that causes it."""
    row, created = Outbox.objects.get_or_create(
        shop_id=shop_id,
        dedupe_key=dedupe_key_for(event_key, channel, recipient),
        defaults={
            "event_key": event_key,
            "event": event,
            "channel": channel,
            "recipient": recipient,
            "next_attempt_at": now,
            "created_at": now,
            **fields,
        },
    )
    return row if created else None


def outbox_enqueue_on_commit(outbox_ids: list[int]) -> None:
    """The fast path: a delivery task per row once the rows are committed. Should the queue
    be down, nothing is lost: the worker's sweep finds every due row."""
    if not outbox_ids:
        return

    def enqueue() -> None:
        from aftersales.notify.tasks import deliver_outbox

        for outbox_id in outbox_ids:
            deliver_outbox.enqueue(outbox_id)

    transaction.on_commit(enqueue, robust=True)


# --------------------------------------------------------------------------- channel payloads


def sms_payload(
    account: SmsAccount | None, event: str, language: str, params: dict[str, str]
) -> dict | None:
    code = account.template_code(event, language) if account else ""
    return {"template_code": code, "template_param": params} if code else None


def wechat_payload(
    account: WeChatAccount | None,
    event: str,
    language: str,
    *,
    subject: str,
    body: str,
    keywords: list[str],
    case_number: str = "",
) -> dict | None:
    """Data in the classic first / keyword1… / remark layout of industry templates."""
    template_id = account.template_id(event, language) if account else ""
    if not template_id:
        return None
    data = {"first": {"value": subject}}
    for i, value in enumerate(keywords, start=1):
        data[f"keyword{i}"] = {"value": value}
    data["remark"] = {"value": body}
    url = account.link_url.replace("{case}", case_number) if account.link_url else ""
    return {"template_id": template_id, "url": url, "data": data}


def customer_addresses(customer) -> dict[str, str]:
    return {
        NotifyChannel.EMAIL: customer.email.strip(),
        NotifyChannel.SMS: customer.phone.strip(),
        NotifyChannel.WECHAT: customer.wechat_openid.strip(),
    }


# --------------------------------------------------------------------------- case events


def customer_event(event: CaseEvent) -> str | None:
    """The template event the customer hears for this case event, or None when it is
    internal: an internal comment, an assignment, an escalation, a request for approval."""
    if event.to_status == CaseStatus.AWAITING_APPROVAL:
        return None  # nothing is decided yet; the customer hears when it is
    kind = event.kind
    if kind == "approve" and event.to_status == CaseStatus.REFUNDING:
        kind = "refund"  # approving a refund-only case (or a pending refund) is the refund
    if kind == "refund_settled":
        kind = "complete"  # the money arrived: the case is done in the customer's favour
    if kind == "comment" and event.data.get("internal", False):
        return None
    return kind if kind in NotifyEvent.values else None


def _customer_rows(case: Case, event: CaseEvent, kind: str, now: datetime) -> list[Outbox]:
    customer = case.customer
    addresses = customer_addresses(customer)
    sms = wechat = None
    if addresses[NotifyChannel.SMS]:
        sms = SmsAccount.objects.filter(shop_id=case.shop_id, active=True).first()
    if addresses[NotifyChannel.WECHAT]:
        wechat = WeChatAccount.objects.filter(shop_id=case.shop_id, active=True).first()
    rows = []
    for channel in CUSTOMER_CHANNELS:
        recipient = addresses[channel]
        if not recipient:
            continue
        template = template_pick(
            shop_id=case.shop_id, event=kind, channel=channel, language=customer.language
        )
        if template is None:
            continue
        context = case_context(case, event, template.language)
        rendered = render_message(template, context)
        if rendered is None:
            continue
        subject, body = " ".join(rendered[0].split()), rendered[1]
        payload: dict | None = {}
        if channel == NotifyChannel.SMS:
            params = {
                "case": context["case_number"],
                "status": context["status"],
                "amount": context["refund_amount"] or context["quote_amount"],
            }
            payload = sms_payload(sms, kind, template.language, params)
        elif channel == NotifyChannel.WECHAT:
            payload = wechat_payload(
                wechat,
                kind,
                template.language,
                subject=subject,
                body=body,
                keywords=[context["case_number"], context["status"]],
                case_number=context["case_number"],
            )
        if payload is None:
            continue  # no account, or no template registered there for this event
        row = outbox_add(
            shop_id=case.shop_id,
            event_key=f"case_event:{event.pk}",
            event=kind,
            channel=channel,
            recipient=recipient,
            now=now,
            language=template.language,
            case=case,
            subject=subject,
            body=body,
            payload=payload,
        )
        if row is not None:
            rows.append(row)
    return rows


def _webhook_rows(case: Case, event: CaseEvent, now: datetime) -> list[Outbox]:
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(shop_id=case.shop_id, active=True)
        if endpoint.wants(event.kind)
    ]
    if not endpoints:
        return []
    payload = case_event_payload(case, event)
    rows = []
    for endpoint in endpoints:
        row = outbox_add(
            shop_id=case.shop_id,
            event_key=f"case_event:{event.pk}",
            event=event.kind,
            channel=NotifyChannel.WEBHOOK,
            recipient=endpoint.url,
            now=now,
            case=case,
            webhook_endpoint=endpoint,
            payload=payload,
        )
        if row is not None:
            rows.append(row)
    return rows


def case_event_notify(*, case: Case, event: CaseEvent, now: datetime | None = None) -> list[Outbox]:
    """Write the outbox rows of one case event: a message per reachable channel of the
    customer that has a template (customer-facing events only), and the event's JSON to every
    active webhook endpoint that subscribed to it. Runs inside the transition's transaction;
    the same event twice writes nothing new."""
    now = now or timezone.now()
    rows: list[Outbox] = []
    kind = customer_event(event)
    if kind is not None and case.customer_id is not None:
        rows += _customer_rows(case, event, kind, now)
    rows += _webhook_rows(case, event, now)
    outbox_enqueue_on_commit([row.pk for row in rows])
    return rows


# --------------------------------------------------------------------------- operators


@transaction.atomic
def outbox_retry(*, outbox_ids: list[int], now: datetime) -> int:
    """Make dead or waiting messages due now with a fresh set of attempts (the admin's "retry
    now"). Sent messages and those a worker holds are left alone. Returns how many."""
    rows = list(
        Outbox.objects.select_for_update()
        .filter(pk__in=outbox_ids, state__in=[OutboxState.PENDING, OutboxState.DEAD])
        .values_list("pk", "state", "broadcast_id")
    )
    for pk, state, broadcast_id in rows:
        updated = Outbox.objects.filter(pk=pk, state=state).update(
            state=OutboxState.PENDING, attempts=0, next_attempt_at=now, lease_until=None
        )
        if updated and state == OutboxState.DEAD and broadcast_id is not None:
            Broadcast.objects.filter(pk=broadcast_id).update(failed=F("failed") - 1)
            Broadcast.objects.filter(pk=broadcast_id, state=BroadcastState.DONE).update(
                state=BroadcastState.QUEUED, finished_at=None
            )
    outbox_enqueue_on_commit([pk for pk, _state, _b in rows])
    return len(rows)
