"""What the notify app hangs on the case services: the outbox rows of every case event."""

from __future__ import annotations

from aftersales.cases.models import Case, CaseEvent


def case_transitioned(case: Case, event: CaseEvent) -> None:
    """Registered in cases.transitions.TRANSITION_HOOKS: runs inside the transition's
    transaction, so the messages exist exactly when the change does."""
    from aftersales.notify.services import case_event_notify

    case_event_notify(case=case, event=event)
