"""Timers as rows: started on filing, kept in step, fired once by the sweeper and the `tick`
command. The clock moves by `now` (and `clock_at` for the transitions), never by sleeping."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone

from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.services import case_approve, case_cancel, case_record_return
from aftersales.logistics.models import StockMovement
from aftersales.sla.firing import timer_fire, timers_sweep, timers_sweep_report
from aftersales.sla.models import Timer, TimerKind, TimerState
from aftersales.sla.tests.clock import DAY, HOUR, MINUTE, T0, at, events, running, timer
from aftersales.sla.timer_services import timers_sync
from aftersales.tests import factories as f

K = TimerKind
NO_POLICY = "店铺尚未设置售后政策，由客服人工处理。"  # the customer's language: zh-hans
DEADLINE_NOTE = (
    "The merchant did not answer; the platform agrees by itself at 5 days: "
    "decided first by the shop's policy."
)
APPROVED_NOTE = (
    "The merchant did not answer; the platform agrees by itself at 5 days: approved first."
)
SHIP_RETURN_NOTE = "The customer did not ship the return within 7 days: closed as expired."
RECEIPT_NOTE = "Receipt of the return was not confirmed within 10 days: received automatically."
RECEIPT_REFUND_NOTE = (
    "Receipt of the return was not confirmed within 10 days: received automatically and refunded."
)
# The fixture's order is a Taobao order, shipped: the platform agrees after 5 days.
ANSWER_IN = 5 * DAY - HOUR
EVERY_CLOCK_OF_A_NEW_CASE = {
    (K.MERCHANT_ANSWER, ""),
    (K.ESCALATION, "1"),
    (K.FIRST_RESPONSE, ""),
    (K.WARNING, K.FIRST_RESPONSE),
    (K.RESOLUTION, ""),
    (K.WARNING, K.RESOLUTION),
}


def _file(order, case_type: str = "refund_only", moment: dt.datetime = T0) -> Case:
    with at(moment):
        return f.case(order, case_type=case_type)


def _fire_exactly_once(fired: Timer, now: dt.datetime) -> None:
    """The timer fired at `now`, and firing or sweeping again does not repeat its action."""
    fired.refresh_from_db()
    assert (fired.state, fired.fired_at) == (TimerState.FIRED, now)
    before = events(fired.case)
    assert timer_fire(timer_id=fired.pk, now=now) is None
    assert events(fired.case) == before
    timers_sweep(now=now)  # the case's SLA clocks may still be due; this one is not
    fired.refresh_from_db()
    assert (fired.state, fired.fired_at) == (TimerState.FIRED, now)
    assert [e for e in events(fired.case) if e[0] not in ("sla_warning", "sla_breached")] == [
        e for e in before if e[0] not in ("sla_warning", "sla_breached")
    ]


def _awaiting_return(order, case_type: str = "return_refund") -> Case:
    case = _file(order, case_type)
    with at(T0):
        case_approve(case=case, actor=None)
    return case


def _in_transit(order, case_type: str) -> Case:
    case = _awaiting_return(order, case_type)
    with at(T0):
        case_record_return(case=case, actor=None, courier="SF", tracking_number="SF100")
    return case


# --------------------------------------------------------------------------- starting clocks


@pytest.mark.django_db
def test_filing_a_case_starts_its_clocks_with_exact_due_times(order):
    case = _file(order)
    assert running(case) == EVERY_CLOCK_OF_A_NEW_CASE
    answer = timer(case, K.MERCHANT_ANSWER)
    assert (answer.state, answer.shop_id, answer.business) == (
        TimerState.PENDING,
        case.shop_id,
        False,
    )
    assert (answer.created_at, answer.due_at, answer.budget_seconds) == (
        T0,
        T0 + ANSWER_IN,
        5 * 24 * 3600,
    )
    assert timer(case, K.ESCALATION, "1").due_at == T0 + 24 * HOUR
    # 10:00 in Shanghai is inside service hours: one business hour is one hour.
    assert timer(case, K.FIRST_RESPONSE).due_at == T0 + HOUR


@pytest.mark.django_db
def test_a_case_without_an_order_has_no_marketplace_clock(shop):
    with at(T0):
        case = f.case(None, case_type="complaint", reason="service_attitude", shop=shop)
    assert running(case) == EVERY_CLOCK_OF_A_NEW_CASE - {(K.MERCHANT_ANSWER, "")}


@pytest.mark.django_db
def test_sync_is_idempotent_and_keeps_the_running_due_times(order):
    case = _file(order)
    before = list(Timer.objects.filter(case=case).values_list("pk", "state", "due_at"))
    answer = timer(case, K.MERCHANT_ANSWER)
    later = T0 + DAY
    assert timers_sync(case=case, now=later) == answer
    assert timers_sync(case=case, now=later) == answer
    assert list(Timer.objects.filter(case=case).values_list("pk", "state", "due_at")) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "subject"),
    [(K.MERCHANT_ANSWER, ""), (K.WARNING, K.FIRST_RESPONSE), (K.ESCALATION, "1")],
)
def test_one_running_timer_per_case_kind_and_subject(order, kind, subject):
    case = _file(order)
    with pytest.raises(IntegrityError), transaction.atomic():
        Timer.objects.create(
            shop_id=case.shop_id,
            case=case,
            kind=kind,
            subject=subject,
            due_at=T0 + DAY,
            created_at=T0,
        )


@pytest.mark.django_db
def test_other_subjects_and_finished_timers_do_not_collide(order):
    case = _file(order)
    common = {"shop_id": case.shop_id, "case": case, "due_at": T0 + DAY, "created_at": T0}
    Timer.objects.create(kind=K.ESCALATION, subject="2", **common)
    Timer.objects.create(kind=K.MERCHANT_ANSWER, state=TimerState.CANCELLED, **common)
    assert Timer.objects.filter(case=case, kind=K.MERCHANT_ANSWER).count() == 2


# --------------------------------------------------------------------------- never early


@pytest.mark.django_db
def test_no_timer_fires_a_minute_early(order):
    case = _file(order)
    before = events(case)
    for pending in Timer.objects.filter(case=case):
        assert timer_fire(timer_id=pending.pk, now=pending.due_at - MINUTE) is None
    assert set(Timer.objects.filter(case=case).values_list("state", "fired_at", "reason")) == {
        (TimerState.PENDING, None, "")
    }
    assert events(case) == before


@pytest.mark.django_db
def test_one_minute_before_the_deadline_the_merchant_answer_clock_waits(order):
    case = _file(order)
    answer = timer(case, K.MERCHANT_ANSWER)
    timers_sweep(now=answer.due_at - MINUTE)  # the SLA clocks before it do fire
    case.refresh_from_db()
    answer.refresh_from_db()
    assert case.status == "awaiting_merchant"
    assert (answer.state, answer.fired_at, answer.reason) == (TimerState.PENDING, None, "")
    assert "deadline" not in [e[0] for e in events(case)]


# --------------------------------------------------------------------------- merchant answer


@pytest.mark.django_db
def test_merchant_answer_clock_decides_then_approves_a_refund_only_case(order):
    case = _file(order)
    answer = timer(case, K.MERCHANT_ANSWER)
    now = answer.due_at
    report = timers_sweep_report(now=now)
    # Before it: the first-response warning and breach, the resolution warning and breach;
    # the 24 h escalation is cancelled because the breach escalated already.
    assert (report.fired, report.cancelled) == (5, 1)

    case.refresh_from_db()
    assert (case.status, case.refund_amount, case.refund_method) == (
        "refunding",
        Decimal("100.00"),
        "original",
    )
    assert events(case)[-3:] == [
        ("deadline", "system", "awaiting_merchant", "awaiting_merchant", DEADLINE_NOTE),
        ("decision", "system", "awaiting_merchant", "awaiting_merchant", NO_POLICY),
        ("approve", "system", "awaiting_merchant", "refunding", APPROVED_NOTE),
    ]
    answer.refresh_from_db()
    assert answer.reason == APPROVED_NOTE
    assert running(case) == set()
    _fire_exactly_once(answer, now)


@pytest.mark.django_db
def test_merchant_answer_clock_approves_a_return_and_the_shipping_clock_counts_from_then(order):
    case = _file(order, "return_refund")
    answer = timer(case, K.MERCHANT_ANSWER)
    now = answer.due_at + 3 * HOUR  # the sweeper ran late: the next clock counts from its now
    assert timer_fire(timer_id=answer.pk, now=now) == "fired"

    case.refresh_from_db()
    assert case.status == "awaiting_return"
    # (the first response, never given, was breached by this late answer: events[-1])
    assert events(case)[-2] == (
        "approve",
        "system",
        "awaiting_merchant",
        "awaiting_return",
        APPROVED_NOTE,
    )
    ship = timer(case, K.CUSTOMER_SHIP_RETURN)
    assert (ship.state, ship.created_at, ship.due_at) == (TimerState.PENDING, now, now + 7 * DAY)
    _fire_exactly_once(answer, now)


# --------------------------------------------------------------------------- customer ships


@pytest.mark.django_db
def test_customer_ship_return_clock_closes_the_case_as_expired(order):
    case = _awaiting_return(order)
    answer = timer(case, K.MERCHANT_ANSWER)
    assert (answer.state, answer.reason) == (
        TimerState.CANCELLED,
        "The case moved to awaiting_return first.",
    )
    ship = timer(case, K.CUSTOMER_SHIP_RETURN)
    assert ship.due_at == T0 + 7 * DAY  # the customer's own 7 days, not an hour less
    assert timers_sweep(now=ship.due_at - dt.timedelta(seconds=1)) == 0

    report = timers_sweep_report(now=ship.due_at)
    assert (report.fired, report.cancelled) == (1, 0)
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("closed", "expired")
    assert case.closed_at is not None
    assert events(case)[-1] == ("close", "system", "awaiting_return", "closed", SHIP_RETURN_NOTE)
    assert CaseEvent.objects.filter(case=case).last().data == {"outcome": "expired"}
    ship.refresh_from_db()
    assert ship.reason == SHIP_RETURN_NOTE
    _fire_exactly_once(ship, ship.due_at)


# --------------------------------------------------------------------------- merchant receipt


@pytest.mark.django_db
def test_receipt_clock_receives_and_refunds_a_return(order):
    case = _in_transit(order, "return_refund")
    assert timer(case, K.CUSTOMER_SHIP_RETURN).state == TimerState.CANCELLED
    receipt = timer(case, K.MERCHANT_CONFIRM_RECEIPT)
    assert (receipt.created_at, receipt.due_at) == (T0, T0 + 10 * DAY - HOUR)
    assert timer_fire(timer_id=receipt.pk, now=receipt.due_at - MINUTE) is None

    now = receipt.due_at
    assert timer_fire(timer_id=receipt.pk, now=now) == "fired"
    case.refresh_from_db()
    assert case.status == "refunding"
    assert (case.refund_amount, case.refund_method) == (Decimal("100.00"), "original")
    # Nobody inspected it: no grade, no stock guessed.
    assert list(case.lines.values_list("grade", "disposition")) == [("", "")]
    assert not StockMovement.objects.filter(case=case).exists()
    assert events(case)[-2:] == [
        ("receive", "system", "return_in_transit", "inspecting", RECEIPT_REFUND_NOTE),
        ("refund", "system", "inspecting", "refunding", RECEIPT_REFUND_NOTE),
    ]
    receipt.refresh_from_db()
    assert receipt.reason == RECEIPT_REFUND_NOTE
    # The 7-day refund clock that `receive` started is over as soon as the refund is decided.
    assert timer(case, K.MERCHANT_REFUND).state == TimerState.CANCELLED
    _fire_exactly_once(receipt, now)


@pytest.mark.django_db
def test_receipt_clock_only_receives_an_exchange(order):
    case = _in_transit(order, "exchange")
    receipt = timer(case, K.MERCHANT_CONFIRM_RECEIPT)
    assert timer_fire(timer_id=receipt.pk, now=receipt.due_at) == "fired"
    case.refresh_from_db()
    assert case.status == "inspecting"
    assert case.refund_amount is None
    # Nobody inspected it: no grade, no stock guessed.
    assert list(case.lines.values_list("grade", "disposition")) == [("", "")]
    assert not StockMovement.objects.filter(case=case).exists()
    assert events(case)[-1] == (
        "receive",
        "system",
        "return_in_transit",
        "inspecting",
        RECEIPT_NOTE,
    )
    assert not Timer.objects.filter(case=case, kind=K.MERCHANT_REFUND).exists()
    _fire_exactly_once(receipt, receipt.due_at)


# --------------------------------------------------------------------------- moved on


@pytest.mark.django_db
def test_a_case_that_moved_on_cancels_its_clocks_and_nothing_fires(order, agent):
    case = _file(order)
    with at(T0 + HOUR / 2):
        case_cancel(case=case, actor=agent, note="买错了")
    answer = timer(case, K.MERCHANT_ANSWER)
    assert (answer.state, answer.reason) == (
        TimerState.CANCELLED,
        "The case moved to closed first.",
    )
    assert running(case) == set()
    before = events(case)
    report = timers_sweep_report(now=T0 + 30 * DAY)
    assert (report.fired, report.cancelled) == (0, 0)
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("closed", "withdrawn")
    assert events(case) == before


@pytest.mark.django_db
def test_the_sweeper_rechecks_the_status_and_cancels_a_stale_timer(order):
    case = _file(order)
    answer = timer(case, K.MERCHANT_ANSWER)
    # A status written behind the services' back: the sweeper must not act on a stale clock.
    Case.objects.filter(pk=case.pk).update(status="refunding")
    before = events(case)
    assert timer_fire(timer_id=answer.pk, now=answer.due_at) == "cancelled"
    answer.refresh_from_db()
    assert (answer.state, answer.fired_at, answer.reason) == (
        TimerState.CANCELLED,
        None,
        "The case is refunding, not awaiting_merchant: nothing to do.",
    )
    case.refresh_from_db()
    assert case.status == "refunding"
    assert events(case) == before


@pytest.mark.django_db
def test_a_refused_action_cancels_the_timer_with_the_reason_and_changes_nothing(order):
    first = _file(order)
    with at(T0):
        case_approve(case=first, actor=None)  # the whole order is refunded already
    second = _in_transit(f.order(order.channel), "return_refund")
    Case.objects.filter(pk=second.pk).update(order=first.order)
    receipt = timer(second, K.MERCHANT_CONFIRM_RECEIPT)
    before = events(second)
    report = timers_sweep_report(now=receipt.due_at)
    # One refusal does not undo the rest of the batch: the first case's resolution warning
    # and breach fired around it (the second's is paused while its parcel travels).
    assert (report.fired, report.cancelled) == (2, 1)
    receipt.refresh_from_db()
    assert (receipt.state, receipt.fired_at) == (TimerState.CANCELLED, None)
    assert receipt.reason.startswith("Could not act (refund.amount_exceeds_paid): ")
    second.refresh_from_db()
    assert (second.status, second.refund_amount) == ("return_in_transit", None)
    # `receive` ran in the same savepoint as the refused refund: it is undone too.
    assert list(second.lines.values_list("grade", "disposition")) == [("", "")]
    assert [e for e in events(second) if e[0] not in ("sla_warning", "sla_breached")] == before


# --------------------------------------------------------------------------- the command


@pytest.mark.django_db
def test_tick_runs_every_timer_due_by_now(order):
    case = _awaiting_return(order)  # only the return's shipping clock is running
    due = timezone.localtime(timer(case, K.CUSTOMER_SHIP_RETURN).due_at)
    out = StringIO()
    early = due - MINUTE
    call_command("tick", now=early.isoformat(), stdout=out)
    assert out.getvalue() == f"0 timer(s) fired, 0 cancelled, due by {early.isoformat()}.\n"
    out = StringIO()
    call_command("tick", now=due.isoformat(), stdout=out)
    assert out.getvalue() == f"1 timer(s) fired, 0 cancelled, due by {due.isoformat()}.\n"
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("closed", "expired")


@pytest.mark.django_db
def test_tick_reads_a_naive_time_in_the_project_time_zone(order):
    case = _awaiting_return(order)
    ship = timer(case, K.CUSTOMER_SHIP_RETURN)
    local = timezone.localtime(ship.due_at, timezone.get_default_timezone())
    naive = local.replace(tzinfo=None) + dt.timedelta(seconds=1)
    call_command("tick", now=naive.isoformat(), stdout=StringIO())
    ship.refresh_from_db()
    assert (ship.state, ship.fired_at) == (TimerState.FIRED, local + dt.timedelta(seconds=1))


@pytest.mark.django_db
def test_tick_refuses_a_bad_time():
    with pytest.raises(CommandError, match="is not an ISO date-time"):
        call_command("tick", now="next tuesday", stdout=StringIO())


@pytest.mark.django_db
def test_tick_refuses_a_batch_below_one():
    with pytest.raises(CommandError, match="--batch must be at least 1"):
        call_command("tick", now=T0.isoformat(), batch=0, stdout=StringIO())


# --------------------------------------------------------------------------- concurrency


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_fire_each_timer_once(channel):
    cases = [_file(f.order(channel)) for _ in range(12)]
    now = T0 + ANSWER_IN
    fired: list[int] = []
    barrier = threading.Barrier(2)

    def sweep() -> None:
        try:
            barrier.wait()
            fired.append(timers_sweep(now=now, batch=3))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(fired) == Timer.objects.filter(state=TimerState.FIRED).count()
    assert not Timer.objects.filter(reason="Could not act: internal error.").exists()
    for c in cases:
        kinds = list(CaseEvent.objects.filter(case=c).values_list("kind", flat=True))
        assert (kinds.count("deadline"), kinds.count("approve")) == (1, 1)
        assert kinds.count("sla_breached") == 2  # first response and resolution, once each
        assert timer(c, K.MERCHANT_ANSWER).state == TimerState.FIRED
        c.refresh_from_db()
        assert c.status == "refunding"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_sweeper_passes_cases_someone_else_holds_and_fires_the_rest(channel):
    cases = [_file(f.order(channel)) for _ in range(6)]
    answers = [timer(c, K.MERCHANT_ANSWER) for c in cases]
    now = T0 + ANSWER_IN
    holding = threading.Event()
    release = threading.Event()

    def hold_first_two() -> None:  # a request (or another sweeper) busy with two cases
        try:
            with transaction.atomic():
                list(Case.objects.select_for_update().filter(pk__in=[c.pk for c in cases[:2]]))
                holding.set()
                release.wait(30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_first_two)
    holder.start()
    try:
        assert holding.wait(30)
        # The first windows are all held cases' timers: the sweep walks on past them.
        timers_sweep_report(now=now, batch=2)
        states = [Timer.objects.get(pk=t.pk).state for t in answers]
        assert states == ["pending"] * 2 + ["fired"] * 4
    finally:
        release.set()
        holder.join()
    timers_sweep_report(now=now, batch=2)
    assert [Timer.objects.get(pk=t.pk).state for t in answers] == ["fired"] * 6


@pytest.mark.django_db
def test_a_timer_stopped_earlier_in_the_same_batch_keeps_its_own_outcome(order, monkeypatch):
    from aftersales.sla import firing

    case = _file(order)
    warning = timer(case, K.WARNING, K.FIRST_RESPONSE)
    first = timer(case, K.FIRST_RESPONSE)

    def answered_meanwhile(t, c, now):  # as if the warning's action made a sync meet it
        Timer.objects.filter(pk=first.pk).update(state=TimerState.MET, reason="Answered by x.")
        return "warned"

    monkeypatch.setitem(firing.ACTIONS, K.WARNING, answered_meanwhile)
    report = timers_sweep_report(now=first.due_at)  # both due: the warning first
    assert (report.fired, report.cancelled) == (1, 1)
    first.refresh_from_db()
    assert (first.state, first.reason) == (TimerState.MET, "Answered by x.")
    assert "sla_breached" not in [e[0] for e in events(case)]
    warning.refresh_from_db()
    assert (warning.state, warning.reason) == (TimerState.FIRED, "warned")
