"""The marketplace clocks of a case as timer rows: start and stop them, and fire the due ones.

A case has at most one running clock, the one its status calls for (DESIGN §5, plain
calendar time). When it runs out the sweeper acts first, through the same case services
people use, with actor=None (the system) and the reason as the timeline note.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from django.db import connection, transaction
from django.utils import timezone

from aftersales.cases.models import Case, Disposition, Grade, Outcome
from aftersales.cases.services import (
    LineInspection,
    case_approve,
    case_close,
    case_receive,
    case_refund,
)
from aftersales.cases.states import ORDER_TYPES, RETURN_TYPES, CaseStatus, CaseType
from aftersales.core.errors import DomainError
from aftersales.sla.hooks import clock_at
from aftersales.sla.models import Timer, TimerKind, TimerState


@dataclass(frozen=True)
class Clock:
    status: str
    types: frozenset[str]
    delay: dt.timedelta
    missed: str  # what did not happen in time, for the reason text


CLOCKS: dict[str, Clock] = {
    # The platform auto-agrees after 48 h; we approve first so our policy's terms apply.
    TimerKind.MERCHANT_ANSWER: Clock(
        CaseStatus.AWAITING_MERCHANT,
        ORDER_TYPES,
        dt.timedelta(hours=48),
        "The merchant did not answer",
    ),
    TimerKind.CUSTOMER_SHIP_RETURN: Clock(
        CaseStatus.AWAITING_RETURN,
        RETURN_TYPES,
        dt.timedelta(days=7),
        "The customer did not ship the return",
    ),
    TimerKind.MERCHANT_CONFIRM_RECEIPT: Clock(
        CaseStatus.RETURN_IN_TRANSIT,
        RETURN_TYPES,
        dt.timedelta(days=10),
        "Receipt of the return was not confirmed",
    ),
}


def _delay_text(delay: dt.timedelta) -> str:
    hours = int(delay.total_seconds() // 3600)
    return f"{hours} h" if hours < 72 else f"{delay.days} days"


def clock_for(case: Case) -> str | None:
    """The kind of clock the case's status starts, or None."""
    for kind, clock in CLOCKS.items():
        if case.status == clock.status and case.type in clock.types:
            return kind
    return None


def timers_sync(*, case: Case, now: dt.datetime | None = None) -> Timer | None:
    """After a case is filed or changes status: stop the clocks that no longer apply and start
    the one that does, due from `now`. Idempotent: a clock already running keeps its due time."""
    now = now or timezone.now()
    wanted = clock_for(case)
    pending = list(Timer.objects.filter(shop_id=case.shop_id, case=case, state=TimerState.PENDING))
    stale = [t.pk for t in pending if t.kind != wanted]
    if stale:
        Timer.objects.filter(pk__in=stale, state=TimerState.PENDING).update(
            state=TimerState.CANCELLED,
            reason=f"The case moved to {case.status} before the deadline.",
        )
    if wanted is None:
        return None
    running = next((t for t in pending if t.kind == wanted), None)
    if running is not None:
        return running
    return Timer.objects.create(
        shop_id=case.shop_id,
        case=case,
        kind=wanted,
        due_at=now + CLOCKS[wanted].delay,
        created_at=now,
    )


# --------------------------------------------------------------------------- firing


def _reason(kind: str) -> str:
    clock = CLOCKS[kind]
    waited = f"{clock.missed} within {_delay_text(clock.delay)}"
    if kind == TimerKind.MERCHANT_ANSWER:
        return f"{waited}: approved before the platform agrees automatically."
    if kind == TimerKind.CUSTOMER_SHIP_RETURN:
        return f"{waited}: closed as expired."
    return f"{waited}: received automatically."


def _act(timer: Timer, case: Case, reason: str) -> str:
    """Run the clock's action on the locked-in case; returns the reason as recorded."""
    if timer.kind == TimerKind.MERCHANT_ANSWER:
        case_approve(case=case, actor=None, note=reason)
    elif timer.kind == TimerKind.CUSTOMER_SHIP_RETURN:
        case_close(case=case, actor=None, outcome=Outcome.EXPIRED, note=reason)
    else:
        inspections = [
            LineInspection(pk, Grade.RESELLABLE, Disposition.RESTOCK)
            for pk in case.lines.values_list("pk", flat=True)
        ]
        if case.type == CaseType.RETURN_REFUND:
            reason = reason.removesuffix(".") + " and refunded."
            case_receive(case=case, actor=None, inspections=inspections, note=reason)
            case_refund(case=case, actor=None, note=reason)
        else:
            case_receive(case=case, actor=None, inspections=inspections, note=reason)
    return reason


Result = Literal["fired", "cancelled"]


def timer_fire(*, timer_id: int, now: dt.datetime) -> Result | None:
    """Fire one due timer in its own transaction. None: another sweeper has it (or had it)."""
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            claimed = (
                Timer.objects.select_for_update(skip_locked=True)
                .filter(pk=timer_id, state=TimerState.PENDING, due_at__lte=now)
                .first()
            )
            if claimed is None:
                return None
        # The claim itself (and on SQLite the only guard): 0 rows means someone else took it.
        taken = Timer.objects.filter(pk=timer_id, state=TimerState.PENDING, due_at__lte=now).update(
            state=TimerState.FIRED, fired_at=now
        )
        if taken != 1:
            return None
        timer = Timer.objects.select_related("case").get(pk=timer_id)
        case = timer.case
        clock = CLOCKS[timer.kind]
        if case.status != clock.status:
            Timer.objects.filter(pk=timer_id).update(
                state=TimerState.CANCELLED,
                fired_at=None,
                reason=f"The case is {case.status}, not {clock.status}: nothing to do.",
            )
            return "cancelled"
        try:
            with transaction.atomic(), clock_at(now):
                reason = _act(timer, case, _reason(timer.kind))
        except DomainError as exc:
            # The case refused the action (e.g. nothing left to refund): a person must look.
            Timer.objects.filter(pk=timer_id).update(
                state=TimerState.CANCELLED,
                fired_at=None,
                reason=f"Could not act ({exc.code}): {exc.message}",
            )
            return "cancelled"
        Timer.objects.filter(pk=timer_id).update(reason=reason)
        return "fired"


@dataclass
class SweepReport:
    fired: int = 0
    cancelled: int = 0


def timers_sweep_report(*, now: dt.datetime, batch: int = 200) -> SweepReport:
    """Fire every pending timer due by `now`, `batch` at a time, each in its own transaction."""
    report = SweepReport()
    after: tuple[dt.datetime, int] | None = None
    while True:
        due = Timer.objects.filter(state=TimerState.PENDING, due_at__lte=now)
        if after is not None:  # keyset: a timer another sweeper holds is not read again
            due = due.filter(due_at__gte=after[0]).exclude(due_at=after[0], pk__lte=after[1])
        page = list(due.order_by("due_at", "pk").values_list("due_at", "pk")[:batch])
        if not page:
            return report
        for _due_at, timer_id in page:
            result = timer_fire(timer_id=timer_id, now=now)
            if result == "fired":
                report.fired += 1
            elif result == "cancelled":
                report.cancelled += 1
        after = page[-1]


def timers_sweep(*, now: dt.datetime, batch: int = 200) -> int:
    """Fire every timer due by `now`; returns how many fired (cancelled ones not counted)."""
    return timers_sweep_report(now=now, batch=batch).fired
