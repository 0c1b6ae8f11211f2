"""Helpers for the clock tests: a fixed start, timers by kind, the timeline as tuples.

Cases are filed and moved inside `clock_at(moment)` (the sweeper's own clock): the timers
they start count from that moment, so every expected due time is exact.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from aftersales.cases.models import Case, CaseEvent
from aftersales.sla.hooks import clock_at
from aftersales.sla.models import Timer, TimerState

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Wednesday, 10:00 in Shanghai: inside the default service hours (09:00–24:00).
T0 = dt.datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
MINUTE = dt.timedelta(minutes=1)

at = clock_at


def timer(case: Case, kind: str, subject: str = "", **filters) -> Timer:
    """The case's one timer of this kind and subject (the latest, when it ran more than once)."""
    return Timer.objects.filter(case=case, kind=kind, subject=subject, **filters).latest("id")


def running(case: Case) -> set[tuple[str, str]]:
    return set(
        Timer.objects.filter(
            case=case, state__in=[TimerState.PENDING, TimerState.PAUSED]
        ).values_list("kind", "subject")
    )


def events(case: Case) -> list[tuple[str, str, str, str, str]]:
    return list(
        CaseEvent.objects.filter(case=case)
        .order_by("id")
        .values_list("kind", "actor_label", "from_status", "to_status", "note")
    )


def kinds(case: Case) -> list[str]:
    return [event[0] for event in events(case)]
