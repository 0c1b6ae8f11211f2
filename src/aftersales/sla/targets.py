"""SLA targets in business time: first response, next response and resolution, by case type
and priority (DESIGN §3 item 5, §5 "Clocks"), and which timeline events answer them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.cases.models import Case, CaseEvent, Priority
from aftersales.cases.states import CaseStatus
from aftersales.sla.hooks import CLOCK_EVENTS
from aftersales.sla.models import SlaTarget, TimerKind

MINUTE = dt.timedelta(minutes=1)

# DESIGN §5: first response 1 business hour, next response 4 business hours. Resolution is
# ours to choose: one business day for urgent cases, stretching with lower priority.
DEFAULT_FIRST_RESPONSE = 60
DEFAULT_NEXT_RESPONSE = 4 * 60
DEFAULT_RESOLUTION = {
    Priority.URGENT: 8 * 60,
    Priority.HIGH: 16 * 60,
    Priority.NORMAL: 40 * 60,
    Priority.LOW: 80 * 60,
}
DEFAULT_WARN_PERCENT = 80

# The case waits on the customer — for an answer, for the return to be sent, or for the
# customer's parcel to arrive: business clocks stop until it moves again.
CUSTOMER_WAIT = frozenset(
    {CaseStatus.AWAITING_CUSTOMER, CaseStatus.AWAITING_RETURN, CaseStatus.RETURN_IN_TRANSIT}
)

# The customer wrote to us: the next response is owed.
CUSTOMER_MESSAGES = frozenset({"provide_info", "appeal"})
# Events that are not an answer to the customer.
NOT_RESPONSES = CLOCK_EVENTS | {
    "created",
    "assign",
    "escalate",
    "provide_info",
    "appeal",
    "record_return",
    "add_evidence",
    "decision",
}


@dataclass(frozen=True)
class Targets:
    first_response: dt.timedelta
    next_response: dt.timedelta
    resolution: dt.timedelta
    warn_percent: int

    def budget(self, kind: str) -> dt.timedelta:
        return {
            TimerKind.FIRST_RESPONSE: self.first_response,
            TimerKind.NEXT_RESPONSE: self.next_response,
            TimerKind.RESOLUTION: self.resolution,
        }[kind]


def targets_for(case: Case) -> Targets:
    """The most specific of the shop's targets (type and priority, type, priority, neither);
    the defaults when the shop set none."""
    rows = {
        (t.case_type, t.priority): t
        for t in SlaTarget.objects.filter(
            shop_id=case.shop_id, case_type__in=["", case.type], priority__in=[0, case.priority]
        )
    }
    for key in ((case.type, case.priority), (case.type, 0), ("", case.priority), ("", 0)):
        row = rows.get(key)
        if row is not None:
            return Targets(
                row.first_response_minutes * MINUTE,
                row.next_response_minutes * MINUTE,
                row.resolution_minutes * MINUTE,
                row.warn_percent,
            )
    return Targets(
        DEFAULT_FIRST_RESPONSE * MINUTE,
        DEFAULT_NEXT_RESPONSE * MINUTE,
        DEFAULT_RESOLUTION[Priority(case.priority)] * MINUTE,
        DEFAULT_WARN_PERCENT,
    )


def is_response(event: CaseEvent) -> bool:
    """An answer the customer sees: any action by the merchant's side (a person, the policy or
    a clock) except internal notes and housekeeping."""
    if event.kind in NOT_RESPONSES:
        return False
    return not (event.kind == "comment" and event.data.get("internal"))


def _local(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def breach_note(kind: str, due_at: dt.datetime) -> str:
    """The timeline's words for a missed target, whenever it is noticed."""
    return _("SLA breached: %(target)s was due %(due)s.") % {
        "target": TimerKind(kind).label,
        "due": _local(due_at),
    }


def warning_note(kind: str, due_at: dt.datetime) -> str:
    return _("%(target)s is due %(due)s.") % {
        "target": TimerKind(kind).label,
        "due": _local(due_at),
    }
