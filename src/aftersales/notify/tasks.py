"""Background entry points (django-tasks): thin wrappers that read the clock and call the
services. The worker's sweeps call the same services for anything these miss."""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task

from aftersales.notify import broadcasts, delivery


@task()
def deliver_outbox(outbox_id: int) -> str | None:
    """One attempt at one outbox message, right after the change that wrote it commits."""
    return delivery.outbox_deliver(outbox_id=outbox_id, now=timezone.now())


@task()
def broadcast_run(broadcast_id: int) -> int | None:
    """Write a broadcast's messages into the outbox; returns how many are queued."""
    result = broadcasts.broadcast_run(broadcast_id=broadcast_id)
    return result.queued if result is not None else None
