"""What the sla app hangs on the case services: keep a case's timers in step with its status.

The sweeper runs transitions at a clock of its choosing (`aftersales tick --now …`); the
timers those transitions start must count from that clock, not the wall clock, so the
sweeper sets it here for the duration of a firing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.utils import timezone

from aftersales.cases.models import Case, CaseEvent
from aftersales.channels.models import Order

# Timeline events the clocks write themselves (firing.py): no status change, no answer.
CLOCK_EVENTS = frozenset({"sla_warning", "sla_breached", "deadline", "appeal_window_closed"})

_clock: ContextVar[dt.datetime | None] = ContextVar("sla_clock", default=None)


def clock_now() -> dt.datetime:
    """The moment a transition happens: the sweeper's clock while it fires, else now."""
    return _clock.get() or timezone.now()


@contextmanager
def clock_at(now: dt.datetime) -> Iterator[None]:
    token = _clock.set(now)
    try:
        yield
    finally:
        _clock.reset(token)


def case_transitioned(case: Case, event: CaseEvent) -> None:
    """Registered in cases.services.TRANSITION_HOOKS: runs inside the transition's transaction."""
    from aftersales.sla.timer_services import timers_sync

    if event.kind in CLOCK_EVENTS:  # the clocks' own notes change nothing they count
        return
    timers_sync(case=case, event=event, now=clock_now())


def order_changed(order: Order) -> None:
    """Registered in channels.services.ORDER_HOOKS: runs inside the order's transaction."""
    from aftersales.sla.timer_services import order_timers_sync

    order_timers_sync(order=order, now=clock_now())
