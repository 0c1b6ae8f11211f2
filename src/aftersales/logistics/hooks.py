"""Keeps parcels and stock in step with the case: called in the transaction of every case
event (see cases.transitions.TRANSITION_HOOKS)."""

from __future__ import annotations

from django.utils import timezone

from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.states import CaseStatus
from aftersales.logistics import services


def case_transitioned(case: Case, event: CaseEvent) -> None:
    kind, data = event.kind, event.data
    now = timezone.now()
    if event.to_status == CaseStatus.AWAITING_RETURN and event.from_status != event.to_status:
        services.return_expect(case, now)
    elif kind == "record_return":
        services.return_sent(case, data, now)
    elif kind == "ship":
        services.outbound_sent(case, data, now)
    if kind == "receive":
        services.return_arrived(case, now)
    if kind in ("receive", "inspect") and data.get("lines"):
        services.stock_from_inspection(case, data["lines"], now)
