"""Reads of the clocks: what runs on a case, when it is due, how much business time is left."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from aftersales.cases.models import Case
from aftersales.sla.calendar import business_elapsed
from aftersales.sla.models import RUNNING_STATES, Timer, TimerKind, TimerState
from aftersales.sla.services import calendar_for_shop_id


@dataclass(frozen=True)
class ClockView:
    kind: str
    label: str
    subject: str
    state: str  # pending (running) or paused
    due_at: dt.datetime | None  # None while paused: it depends on when the wait ends
    business: bool
    seconds_left: int  # business seconds for business clocks; negative once overdue
    overdue: bool


def case_clocks(case: Case, now: dt.datetime | None = None) -> list[ClockView]:
    """Every running or paused clock of the case, soonest first."""
    now = now or timezone.now()
    timers = list(
        Timer.objects.filter(shop_id=case.shop_id, case=case, state__in=RUNNING_STATES).order_by(
            "due_at", "id"
        )
    )
    calendar = calendar_for_shop_id(case.shop_id) if any(t.business for t in timers) else None
    views = []
    for timer in timers:
        paused = timer.state == TimerState.PAUSED
        if paused:
            left = timer.remaining_seconds or 0
        elif timer.due_at <= now:
            left = -int((now - timer.due_at).total_seconds())
        elif timer.business and calendar is not None:
            left = int(business_elapsed(calendar, now, timer.due_at).total_seconds())
        else:
            left = int((timer.due_at - now).total_seconds())
        views.append(
            ClockView(
                kind=timer.kind,
                label=str(TimerKind(timer.kind).label),
                subject=timer.subject,
                state=timer.state,
                due_at=None if paused else timer.due_at,
                business=timer.business,
                seconds_left=left,
                overdue=not paused and timer.due_at <= now,
            )
        )
    return views
