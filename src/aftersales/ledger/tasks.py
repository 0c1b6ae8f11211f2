"""Background entry points (django-tasks) for the ledger: thin wrappers over the services."""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task

from aftersales.ledger import refunds


@task()
def send_refund(refund_id: int) -> str:
    """One attempt to pay a refund, right after the change that opened it commits."""
    return refunds.refund_send(refund_id=refund_id, now=timezone.now())
