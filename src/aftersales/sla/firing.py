"""Fire due timers: claim a batch, act on each through the same services people use, and
record why in the case's timeline.

A batch is one transaction: on PostgreSQL its rows are claimed with `FOR UPDATE SKIP LOCKED`
(so sweepers on many machines share the work); on SQLite the IMMEDIATE transaction holds the
write lock. Each timer acts inside a savepoint, so one refusal does not undo the others, and a
worker killed mid-batch leaves every timer of the batch pending: it fires on the next sweep,
exactly once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from aftersales.accounts.roles import ESCALATION_LADDER, ROLE_LABELS
from aftersales.cases.events import event_record
from aftersales.cases.models import Case, Outcome
from aftersales.cases.services import (
    LineInspection,
    case_approve,
    case_close,
    case_escalate,
    case_receive,
    case_refund,
)
from aftersales.cases.states import TERMINAL, CaseStatus, CaseType
from aftersales.cases.transitions import event_announce
from aftersales.core.errors import DomainError
from aftersales.ledger.compensation import credit_issue
from aftersales.ledger.models import CreditKind
from aftersales.policies.money import late_shipment_compensation
from aftersales.sla.clocks import CLOCK_BY_KIND, length_text
from aftersales.sla.hooks import clock_at
from aftersales.sla.models import LateShipment, Timer, TimerKind, TimerState
from aftersales.sla.targets import breach_note, warning_note

log = logging.getLogger(__name__)


class Skip(Exception):
    """The timer no longer applies (the case moved on): cancel it with this reason."""


def _record(case: Case, kind: str, note: str, data: dict) -> None:
    """A clock's own timeline entry (no status change), announced like any other event so
    the merchant's webhooks hear of warnings and breaches."""
    event = event_record(
        case=case,
        kind=kind,
        actor=None,
        from_status=case.status,
        to_status=case.status,
        note=note,
        data=data,
    )
    event_announce(case, event)


def _hours(timer: Timer) -> str:
    return length_text(dt.timedelta(seconds=timer.budget_seconds or 0))


def _merchant_answer(timer: Timer, case: Case, now: dt.datetime) -> str:
    """The platform agrees by itself at the deadline: decide first, by the shop's policy; if
    the policy leaves it to a person nobody answered, so approve as the platform would."""
    from aftersales.policies.services import case_decide

    if case.status != CaseStatus.AWAITING_MERCHANT:
        raise Skip(_("The case is %(status)s: nothing to do.") % {"status": case.status})
    reason = _(
        "The merchant did not answer; the platform agrees by itself at %(length)s: "
        "decided first by the shop's policy."
    ) % {"length": _hours(timer)}
    _record(case, "deadline", reason, {"timer": timer.kind})
    case_decide(case=case, trigger="deadline", now=now)
    case.refresh_from_db()
    if case.status == CaseStatus.AWAITING_MERCHANT:
        reason = _(
            "The merchant did not answer; the platform agrees by itself at %(length)s: "
            "approved first."
        ) % {"length": _hours(timer)}
        case_approve(case=case, actor=None, note=reason)
    return reason


def _ship_return(timer: Timer, case: Case, now: dt.datetime) -> str:
    reason = _("The customer did not ship the return within %(length)s: closed as expired.") % {
        "length": _hours(timer)
    }
    case_close(case=case, actor=None, outcome=Outcome.EXPIRED, note=reason)
    return reason


def _confirm_receipt(timer: Timer, case: Case, now: dt.datetime) -> str:
    # Received as the platform would; nobody has looked at the goods, so no grade and no stock
    # is guessed: the warehouse inspects them when they turn up.
    inspections: list[LineInspection] = []
    if case.type == CaseType.RETURN_REFUND:
        reason = _(
            "Receipt of the return was not confirmed within %(length)s: received automatically "
            "and refunded."
        ) % {"length": _hours(timer)}
        case_receive(case=case, actor=None, inspections=inspections, note=reason)
        case_refund(case=case, actor=None, note=reason)
    else:
        reason = _(
            "Receipt of the return was not confirmed within %(length)s: received automatically."
        ) % {"length": _hours(timer)}
        case_receive(case=case, actor=None, inspections=inspections, note=reason)
    return reason


def _merchant_refund(timer: Timer, case: Case, now: dt.datetime) -> str:
    reason = _("The return was received %(length)s ago without a refund: refunded.") % {
        "length": _hours(timer)
    }
    case_refund(case=case, actor=None, note=reason)
    return reason


def _dispute_window(timer: Timer, case: Case, now: dt.datetime) -> str:
    reason = _("The customer did not dispute the rejection within %(length)s: it is final.") % {
        "length": _hours(timer)
    }
    _record(case, "appeal_window_closed", reason, {"timer": timer.kind})
    return reason


def _escalation(timer: Timer, case: Case, now: dt.datetime) -> str:
    rung = int(timer.subject)
    if case.status != CaseStatus.AWAITING_MERCHANT or case.escalation_level >= rung:
        raise Skip(_("Answered or escalated meanwhile."))
    waited = length_text(now - timer.created_at)
    role = str(ROLE_LABELS[ESCALATION_LADDER[rung]]).lower()
    reason = _("No answer after %(waited)s: escalated to the %(role)s.") % {
        "waited": waited,
        "role": role,
    }
    case_escalate(case=case, actor=None, note=reason)
    return reason


def _breach(timer: Timer, case: Case, now: dt.datetime) -> str:
    """A target was missed: say so; a missed answer goes one rung up so a lead looks at it."""
    reason = breach_note(timer.kind, timer.due_at)
    _record(
        case, "sla_breached", reason, {"target": timer.kind, "due_at": timer.due_at.isoformat()}
    )
    if timer.kind != TimerKind.RESOLUTION and case.escalation_level == 0:
        case_escalate(case=case, actor=None, note=reason)
    return reason


def _warning(timer: Timer, case: Case, now: dt.datetime) -> str:
    target = Timer.objects.filter(
        shop_id=case.shop_id, case=case, kind=timer.subject, state=TimerState.PENDING
    ).first()
    if target is None:
        raise Skip(_("The target was met meanwhile."))
    reason = warning_note(timer.subject, target.due_at)
    _record(
        case, "sla_warning", reason, {"target": timer.subject, "due_at": target.due_at.isoformat()}
    )
    return reason


ACTIONS: dict[str, Callable[[Timer, Case, dt.datetime], str]] = {
    TimerKind.MERCHANT_ANSWER: _merchant_answer,
    TimerKind.CUSTOMER_SHIP_RETURN: _ship_return,
    TimerKind.MERCHANT_CONFIRM_RECEIPT: _confirm_receipt,
    TimerKind.MERCHANT_REFUND: _merchant_refund,
    TimerKind.CUSTOMER_DISPUTE: _dispute_window,
    TimerKind.ESCALATION: _escalation,
    TimerKind.FIRST_RESPONSE: _breach,
    TimerKind.NEXT_RESPONSE: _breach,
    TimerKind.RESOLUTION: _breach,
    TimerKind.WARNING: _warning,
}


def late_shipment_record(timer: Timer, now: dt.datetime) -> str:
    """The order left (or will leave) after its shipping deadline: record what it owes."""
    order = timer.order
    # Past the deadline the parcel leaves late whenever it leaves; the money helper counts
    # "later than", and the sweeper fires at the deadline itself.
    amount = late_shipment_compensation(
        paid_at=order.paid_at,
        shipped_at=order.shipped_at,
        now=max(now, timer.due_at + dt.timedelta(seconds=1)),
        hours=(timer.budget_seconds or 0) // 3600,
    )
    late, created = LateShipment.objects.get_or_create(
        shop_id=order.shop_id,
        order=order,
        defaults={"due_at": timer.due_at, "detected_at": now, "compensation": amount},
    )
    if created and late.compensation > 0:
        # The coupon goes to the customer and into the books with the record.
        credit_issue(
            shop_id=order.shop_id,
            kind=CreditKind.COUPON,
            amount=late.compensation,
            reason=_("Late shipment of order %(order)s") % {"order": order.external_id},
            key=f"late_shipment:{order.pk}",
            customer_id=order.customer_id,
            order=order,
            at=now,
        )
    return _("Not shipped within %(length)s of payment: ¥%(amount)s compensation owed.") % {
        "length": _hours(timer),
        "amount": amount,
    }


def _late_shipment(timer: Timer, now: dt.datetime) -> str:
    order = timer.order
    if order.shipped_at is not None or order.paid_at is None:
        raise Skip(_("The order shipped meanwhile."))
    return late_shipment_record(timer, now)


def _applies(timer: Timer, case: Case) -> None:
    clock = CLOCK_BY_KIND.get(timer.kind)
    if clock is not None and case.status != clock.status:
        raise Skip(
            _("The case is %(status)s, not %(expected)s: nothing to do.")
            % {"status": case.status, "expected": clock.status}
        )
    if timer.kind not in (TimerKind.CUSTOMER_DISPUTE,) and case.status in TERMINAL:
        raise Skip(_("The case is %(status)s: nothing to do.") % {"status": case.status})


Result = str  # "fired" | "cancelled"


def _fire(timer: Timer, now: dt.datetime) -> Result:
    """Act on one claimed timer inside a savepoint; record the outcome on the row."""
    if not Timer.objects.filter(pk=timer.pk, state=TimerState.PENDING).exists():
        # An earlier timer of this batch moved the case, and its sync stopped this one.
        return "cancelled"
    try:
        with transaction.atomic(), clock_at(now):
            if timer.order_id is not None:
                reason = _late_shipment(timer, now)
            else:
                case = Case.objects.select_for_update().get(pk=timer.case_id)
                _applies(timer, case)
                reason = ACTIONS[timer.kind](timer, case, now)
    except Skip as skip:
        state, reason, fired_at = TimerState.CANCELLED, str(skip), None
    except DomainError as exc:  # the case refused the action: a person must look
        state, reason, fired_at = (
            TimerState.CANCELLED,
            _("Could not act (%(code)s): %(message)s") % {"code": exc.code, "message": exc.message},
            None,
        )
    except Exception:  # a bug must not stop the other timers; the log has the trace
        log.exception("timer %s (%s) failed", timer.pk, timer.kind)
        state, reason, fired_at = TimerState.CANCELLED, _("Could not act: internal error."), None
    else:
        state, fired_at = TimerState.FIRED, now
    Timer.objects.filter(pk=timer.pk).update(state=state, reason=reason, fired_at=fired_at)
    return "fired" if state == TimerState.FIRED else "cancelled"


Key = tuple[dt.datetime, int]


def _claim(now: dt.datetime, batch: int, after: Key | None) -> tuple[Key | None, list[Timer]]:
    """The next window of due timers after `after` in (due_at, id) order, and those of them
    this sweeper could claim; the window's last key, or None when nothing is left."""
    due = Timer.objects.filter(state=TimerState.PENDING, due_at__lte=now)
    if after is not None:  # keyset: each sweeper walks the due timers once
        due = due.filter(Q(due_at__gt=after[0]) | Q(due_at=after[0], pk__gt=after[1]))
    due = due.order_by("due_at", "pk")
    window = list(due.values_list("due_at", "pk", "case_id")[:batch])
    if not window:
        return None, []
    last = window[-1][:2]
    ids = [pk for _due, pk, _case in window]
    if not connection.features.has_select_for_update_skip_locked:
        # SQLite: the IMMEDIATE transaction holds the write lock; nobody else is sweeping.
        timers = Timer.objects.filter(pk__in=ids).order_by("due_at", "pk")
        return last, list(timers.select_related("order"))
    # A case has several timers. Lock the window's cases first, then their timers in the
    # window, skipping cases another sweeper or a request holds (the case services also lock
    # a case before its timers, so no sweeper waits on another): those timers are theirs.
    case_ids = sorted({case_id for _due, _pk, case_id in window if case_id is not None})
    held = set(
        Case.objects.filter(pk__in=case_ids)
        .order_by("pk")
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)
    )
    mine = [pk for _due, pk, case_id in window if case_id is None or case_id in held]
    timers = list(
        Timer.objects.filter(pk__in=mine, state=TimerState.PENDING)
        .order_by("due_at", "pk")
        .select_for_update(skip_locked=True, of=("self",))
        .select_related("order")
    )
    return last, timers


@dataclass
class SweepReport:
    fired: int = 0
    cancelled: int = 0


def timers_sweep_report(*, now: dt.datetime, batch: int = 200) -> SweepReport:
    """Fire every pending timer due by `now`, a batch per transaction."""
    report = SweepReport()
    after: Key | None = None
    while True:
        with transaction.atomic():
            after, timers = _claim(now, batch, after)
            for timer in timers:
                if _fire(timer, now) == "fired":
                    report.fired += 1
                else:
                    report.cancelled += 1
        if after is None:
            return report


def timers_sweep(*, now: dt.datetime, batch: int = 200) -> int:
    """Fire every timer due by `now`; returns how many fired (cancelled ones not counted)."""
    return timers_sweep_report(now=now, batch=batch).fired


def timer_fire(*, timer_id: int, now: dt.datetime) -> Result | None:
    """Fire one due timer by id (for operators and tests). None: not pending and due.
    Locks its case before the timer, in the order the sweeper and the case services use."""
    with transaction.atomic():
        case_id = Timer.objects.filter(pk=timer_id).values_list("case_id", flat=True).first()
        if case_id is not None:
            Case.objects.select_for_update().filter(pk=case_id).first()
        timer = (
            Timer.objects.filter(pk=timer_id, state=TimerState.PENDING, due_at__lte=now)
            .select_for_update(of=("self",))
            .select_related("order")
            .first()
        )
        return None if timer is None else _fire(timer, now)
