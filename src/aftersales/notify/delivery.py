"""Delivering the outbox: claim a row under a lease, send it outside any transaction, then
mark it sent — or schedule the next attempt with exponential backoff, or give up (dead).

A worker that dies between sending and marking leaves the row `sending`; once the lease
runs out another worker sends it again with the same delivery id, which every channel
carries (webhook header, Message-ID, OutId, client_msg_id) so the receiver can drop it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Literal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from aftersales.notify.adapters import DeliveryError, adapter_for
from aftersales.notify.models import Broadcast, BroadcastState, Outbox, OutboxState

log = logging.getLogger(__name__)

# Longer than any adapter can take (HTTP timeouts are 10 s; WeChat may make three calls).
LEASE = timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
_ERROR_MAX = 2000

Result = Literal["sent", "retry", "dead"]


def backoff(attempts: int) -> timedelta:
    """Wait after the n-th failed attempt: 1, 2, 4, 8, 16, 32 minutes, then an hour."""
    return min(BACKOFF_BASE * 2 ** (attempts - 1), BACKOFF_CAP)


def _due(now: datetime) -> Q:
    return Q(state=OutboxState.PENDING, next_attempt_at__lte=now) | Q(
        state=OutboxState.SENDING, lease_until__lte=now
    )


def _claim(outbox_id: int, now: datetime) -> Outbox | None:
    """Take the row for one attempt in a short transaction of its own."""
    with transaction.atomic():
        due = Outbox.objects.filter(_due(now), pk=outbox_id)
        skip_locked = connection.features.has_select_for_update_skip_locked
        if skip_locked and due.select_for_update(skip_locked=True).first() is None:
            return None
        # The claim itself (and on SQLite the only guard): 0 rows means someone else has it.
        lease = now + LEASE
        taken = due.update(
            state=OutboxState.SENDING,
            attempts=F("attempts") + 1,
            lease_until=lease,
            next_attempt_at=lease,
        )
        if taken != 1:
            return None
        return Outbox.objects.get(pk=outbox_id)


def _ours(row: Outbox):
    """The row while this attempt still holds it (a later claim bumped `attempts`)."""
    return Outbox.objects.filter(pk=row.pk, state=OutboxState.SENDING, attempts=row.attempts)


def _broadcast_count(row: Outbox, field: str, now: datetime) -> None:
    if row.broadcast_id is None:
        return
    Broadcast.objects.filter(pk=row.broadcast_id).update(**{field: F(field) + 1})
    Broadcast.objects.filter(
        pk=row.broadcast_id, state=BroadcastState.QUEUED, total__lte=F("sent") + F("failed")
    ).update(state=BroadcastState.DONE, finished_at=now)


def _mark_sent(row: Outbox, now: datetime) -> Result | None:
    with transaction.atomic():
        if not _ours(row).update(
            state=OutboxState.SENT, sent_at=now, lease_until=None, last_error=""
        ):
            return None
        _broadcast_count(row, "sent", now)
    return "sent"


def _mark_failed(row: Outbox, now: datetime, error: DeliveryError) -> Result | None:
    message = f"attempt {row.attempts}: {error.message}"[:_ERROR_MAX]
    dead = not error.retryable or row.attempts >= MAX_ATTEMPTS
    with transaction.atomic():
        if dead:
            changed = _ours(row).update(
                state=OutboxState.DEAD, lease_until=None, last_error=message
            )
            if changed:
                _broadcast_count(row, "failed", now)
        else:
            changed = _ours(row).update(
                state=OutboxState.PENDING,
                lease_until=None,
                next_attempt_at=now + backoff(row.attempts),
                last_error=message,
            )
    if not changed:
        return None
    return "dead" if dead else "retry"


def outbox_deliver(*, outbox_id: int, now: datetime) -> Result | None:
    """One attempt at one message. "sent", "retry" (scheduled again), "dead" (gave up), or
    None: not due, another worker holds it, or this attempt's lease ran out meanwhile.
    Call it outside any transaction: the claim must commit before the message leaves."""
    row = _claim(outbox_id, now)
    if row is None:
        return None
    try:
        adapter_for(row.channel)(row, now=now)
    except DeliveryError as exc:
        return _mark_failed(row, now, exc)
    except Exception as exc:  # a bug in an adapter must not lose the message
        log.exception("outbox %s: unexpected error while sending", row.pk)
        return _mark_failed(row, now, DeliveryError(f"{type(exc).__name__}: {exc}"))
    return _mark_sent(row, now)


def outbox_sweep(*, now: datetime, batch: int = 200, live: bool = False) -> int:
    """Attempt every message due by `now` (and every one a dead worker left), `batch` rows
    per read. Returns how many were sent.

    `live` (the worker): each attempt is made at the real time it starts, not at `now` —
    a sweep can run for a while, and a lease counted from a stale `now` could already be
    over when the message leaves, letting another worker send it too."""
    sent = 0
    after: tuple[datetime, int] | None = None
    while True:
        due = Outbox.objects.filter(
            state__in=[OutboxState.PENDING, OutboxState.SENDING], next_attempt_at__lte=now
        )
        if after is not None:  # keyset: a row another worker holds is not read again
            due = due.filter(next_attempt_at__gte=after[0]).exclude(
                next_attempt_at=after[0], pk__lte=after[1]
            )
        page = list(
            due.order_by("next_attempt_at", "pk").values_list("next_attempt_at", "pk")[:batch]
        )
        if not page:
            return sent
        for _at, outbox_id in page:
            at = timezone.now() if live else now
            if outbox_deliver(outbox_id=outbox_id, now=at) == "sent":
                sent += 1
        after = page[-1]
