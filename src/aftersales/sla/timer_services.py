"""Keep a case's (or an order's) timers in step with it: start the clocks its status and its
latest event call for, stop the ones that no longer apply, pause business clocks while the
case waits on the customer and resume them after.

Runs inside the transition's transaction (a TRANSITION_HOOK), with `now` from the caller's
clock, so a timer never outlives the change that started it.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.cases.events import event_record
from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.states import TERMINAL, CaseStatus
from aftersales.channels.models import Order, OrderStatus
from aftersales.sla.calendar import Calendar, CalendarClosed, business_add, business_elapsed
from aftersales.sla.clocks import (
    ACT_AHEAD,
    CASE_CLOCKS,
    CLOCK_BY_KIND,
    clock_for,
    clock_length,
)
from aftersales.sla.models import RUNNING_STATES, Timer, TimerKind, TimerState
from aftersales.sla.services import calendar_for_shop_id
from aftersales.sla.targets import (
    CUSTOMER_MESSAGES,
    CUSTOMER_WAIT,
    breach_note,
    is_response,
    targets_for,
)

MARKET_KINDS = frozenset(clock.kind for clock in CASE_CLOCKS)
TARGET_KINDS = (TimerKind.FIRST_RESPONSE, TimerKind.NEXT_RESPONSE, TimerKind.RESOLUTION)
RUNGS = 2  # escalation rungs above the agent: team lead, manager
MERCHANT_ANSWER_DEFAULT = CLOCK_BY_KIND[TimerKind.MERCHANT_ANSWER].default

Key = tuple[str, str]  # (kind, subject)


class _Sync:
    """One pass over a case's running timers; the calendar is loaded only if needed."""

    def __init__(self, case: Case, now: dt.datetime) -> None:
        self.case = case
        self.now = now
        self.running: dict[Key, Timer] = {
            (t.kind, t.subject): t
            for t in Timer.objects.filter(shop_id=case.shop_id, case=case, state__in=RUNNING_STATES)
        }
        self._calendar: Calendar | None = None

    @property
    def calendar(self) -> Calendar:
        if self._calendar is None:
            self._calendar = calendar_for_shop_id(self.case.shop_id)
        return self._calendar

    def business_due(self, length: dt.timedelta) -> dt.datetime:
        try:
            return business_add(self.calendar, self.now, length)
        except CalendarClosed:  # a calendar with no open hours: count calendar time
            return self.now + length

    def start(
        self,
        kind: str,
        due_at: dt.datetime,
        *,
        subject: str = "",
        business: bool = False,
        budget: dt.timedelta | None = None,
        created_at: dt.datetime | None = None,
    ) -> Timer:
        timer = Timer.objects.create(
            shop_id=self.case.shop_id,
            case=self.case,
            kind=kind,
            subject=subject,
            due_at=due_at,
            business=business,
            budget_seconds=int(budget.total_seconds()) if budget is not None else None,
            created_at=created_at or self.now,
        )
        self.running[(kind, subject)] = timer
        return timer

    def _late(self, timer: Timer) -> None:
        event_record(
            case=self.case,
            kind="sla_breached",
            actor=None,
            from_status=self.case.status,
            to_status=self.case.status,
            note=breach_note(timer.kind, timer.due_at),
            data={"target": timer.kind, "due_at": timer.due_at.isoformat(), "late": True},
        )

    def stop(self, key: Key, state: str, reason: str) -> None:
        timer = self.running.pop(key, None)
        if timer is None:
            return
        if (
            state == TimerState.MET
            and timer.state == TimerState.PENDING
            and timer.due_at < self.now
        ):
            # Met after the deadline, before any sweep saw it (the worker was down, say): a
            # breach all the same, and the timeline says so.
            state, reason = TimerState.FIRED, _("Late: %(reason)s") % {"reason": reason}
            self._late(timer)
        Timer.objects.filter(pk=timer.pk, state__in=RUNNING_STATES).update(
            state=state,
            reason=reason,
            fired_at=self.now if state in (TimerState.MET, TimerState.FIRED) else None,
        )
        if timer.kind in TARGET_KINDS:  # its warning goes with it
            self.stop((TimerKind.WARNING, timer.kind), TimerState.CANCELLED, reason)


# --------------------------------------------------------------------------- marketplace


def _market(sync: _Sync) -> Timer | None:
    case = sync.case
    clock = clock_for(case)
    wanted = clock.kind if clock else None
    for key in [k for k in sync.running if k[0] in MARKET_KINDS and k[0] != wanted]:
        sync.stop(
            key,
            TimerState.CANCELLED,
            _("The case moved to %(status)s first.") % {"status": case.status},
        )
    if clock is None:
        return None
    running = sync.running.get((clock.kind, ""))
    if running is not None:
        return running
    length = clock_length(
        shop_id=case.shop_id, channel=case.channel, kind=clock.kind, order=case.order
    )
    act_in = length - ACT_AHEAD if clock.platform_acts and length > ACT_AHEAD else length
    return sync.start(clock.kind, sync.now + act_in, budget=length)


def _escalation(sync: _Sync, market: Timer | None) -> None:
    """While the merchant has not answered: team lead at 24 h, manager half-way from there to
    the moment we must act."""
    case = sync.case
    rung = case.escalation_level + 1
    wanted = str(rung) if case.status == CaseStatus.AWAITING_MERCHANT and rung <= RUNGS else None
    for key in [k for k in sync.running if k[0] == TimerKind.ESCALATION and k[1] != wanted]:
        sync.stop(key, TimerState.CANCELLED, _("Answered or escalated meanwhile."))
    if wanted is None or (TimerKind.ESCALATION, wanted) in sync.running:
        return
    first = clock_length(shop_id=case.shop_id, channel=case.channel, kind=TimerKind.ESCALATION)
    if market is not None and market.kind == TimerKind.MERCHANT_ANSWER:
        since, act_at = market.created_at, market.due_at
    else:  # no marketplace clock (a complaint): the first rung's start, 48 h to act
        earlier = (
            Timer.objects.filter(shop_id=case.shop_id, case=case, kind=TimerKind.ESCALATION)
            .order_by("-id")
            .values_list("created_at", flat=True)
            .first()
        )
        since = earlier if rung > 1 and earlier is not None else sync.now
        act_at = since + MERCHANT_ANSWER_DEFAULT - ACT_AHEAD
    due = since + first
    if rung > 1:
        due += max(act_at - due, dt.timedelta(0)) / 2
    sync.start(TimerKind.ESCALATION, max(due, sync.now), subject=wanted, created_at=since)


# --------------------------------------------------------------------------- SLA targets


def _start_target(sync: _Sync, kind: str) -> None:
    if (kind, "") in sync.running:
        return
    targets = targets_for(sync.case)
    budget = targets.budget(kind)
    sync.start(kind, sync.business_due(budget), business=True, budget=budget)
    warn = budget * targets.warn_percent / 100
    sync.start(TimerKind.WARNING, sync.business_due(warn), subject=kind, business=True, budget=warn)


def _targets(sync: _Sync, event: CaseEvent | None) -> None:
    case = sync.case
    if case.status in TERMINAL:
        who = event.actor_label if event is not None else "system"
        sync.stop(
            (TimerKind.RESOLUTION, ""),
            TimerState.MET,
            _("Resolved (%(status)s).") % {"status": case.status},
        )
        for kind in (TimerKind.FIRST_RESPONSE, TimerKind.NEXT_RESPONSE):
            sync.stop((kind, ""), TimerState.MET, _("Answered by %(who)s.") % {"who": who})
        return
    if event is None:
        return
    if event.kind == "created":
        _start_target(sync, TimerKind.FIRST_RESPONSE)
        _start_target(sync, TimerKind.RESOLUTION)
    elif is_response(event):
        for kind in (TimerKind.FIRST_RESPONSE, TimerKind.NEXT_RESPONSE):
            sync.stop(
                (kind, ""), TimerState.MET, _("Answered by %(who)s.") % {"who": event.actor_label}
            )
    elif event.kind in CUSTOMER_MESSAGES:
        _start_target(sync, TimerKind.NEXT_RESPONSE)
        _start_target(sync, TimerKind.RESOLUTION)  # an appeal reopens the case


def _pause_or_resume(sync: _Sync) -> None:
    """Business clocks stop while the case waits on the customer and resume with what they had
    left when it comes back."""
    waiting = sync.case.status in CUSTOMER_WAIT
    for timer in list(sync.running.values()):
        if not timer.business:
            continue
        if waiting and timer.state == TimerState.PENDING and timer.due_at > sync.now:
            left = business_elapsed(sync.calendar, sync.now, timer.due_at)
            timer.state, timer.remaining_seconds = TimerState.PAUSED, int(left.total_seconds())
            Timer.objects.filter(pk=timer.pk).update(
                state=timer.state, remaining_seconds=timer.remaining_seconds
            )
        elif not waiting and timer.state == TimerState.PAUSED:
            left = dt.timedelta(seconds=timer.remaining_seconds or 0)
            timer.state, timer.due_at = TimerState.PENDING, sync.business_due(left)
            timer.remaining_seconds = None
            Timer.objects.filter(pk=timer.pk).update(
                state=timer.state, due_at=timer.due_at, remaining_seconds=None
            )


def timers_sync(
    *, case: Case, event: CaseEvent | None = None, now: dt.datetime | None = None
) -> Timer | None:
    """After a case is filed or takes an action: bring its timers in step. Idempotent: a
    clock already running keeps its due time. Returns the running marketplace clock."""
    sync = _Sync(case, now or timezone.now())
    market = _market(sync)
    _escalation(sync, market)
    _targets(sync, event)
    _pause_or_resume(sync)
    return market


# --------------------------------------------------------------------------- orders


def order_timers_sync(*, order: Order, now: dt.datetime | None = None) -> Timer | None:
    """A paid order must ship within the channel's deadline (48 h by default). Start that
    clock when it is paid, stop it when it ships or is cancelled."""
    now = now or timezone.now()
    timers = list(
        Timer.objects.filter(shop_id=order.shop_id, order=order, kind=TimerKind.MERCHANT_SHIP)
    )
    running = next((t for t in timers if t.state in RUNNING_STATES), None)
    waiting = order.status == OrderStatus.PAID and order.paid_at is not None
    if not waiting:
        if running is not None:
            _shipping_clock_stop(order, running, now)
        return None
    if running is not None or timers:  # one shipping clock per order, even after it fired
        return running
    length = clock_length(
        shop_id=order.shop_id, channel=order.channel, kind=TimerKind.MERCHANT_SHIP
    )
    return Timer.objects.create(
        shop_id=order.shop_id,
        order=order,
        kind=TimerKind.MERCHANT_SHIP,
        due_at=order.paid_at + length,
        budget_seconds=int(length.total_seconds()),
        created_at=now,
    )


def _shipping_clock_stop(order: Order, running: Timer, now: dt.datetime) -> None:
    """The order shipped or was cancelled: met in time, late (it still owes compensation,
    even when it shipped before the sweeper came by), or moot."""
    from aftersales.sla.firing import late_shipment_record

    if order.shipped_at is not None and order.shipped_at > running.due_at:
        running.order = order
        state, reason, fired_at = TimerState.FIRED, late_shipment_record(running, now), now
    elif order.shipped_at is not None:
        state, reason, fired_at = TimerState.MET, _("Shipped in time."), now
    else:
        state, reason, fired_at = (
            TimerState.CANCELLED,
            _("The order is %(status)s.") % {"status": order.status},
            None,
        )
    Timer.objects.filter(pk=running.pk, state__in=RUNNING_STATES).update(
        state=state, reason=reason, fired_at=fired_at
    )
