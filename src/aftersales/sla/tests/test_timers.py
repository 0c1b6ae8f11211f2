"""Marketplace clocks as timer rows: the clock moves by `now`, never by sleeping."""

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
from aftersales.cases.services import (
    case_approve,
    case_cancel,
    case_record_return,
)
from aftersales.sla.models import Timer, TimerKind, TimerState
from aftersales.sla.firing import timers_sweep, timers_sweep_report
from aftersales.sla.timer_services import timers_sync
from aftersales.tests import factories as f

MERCHANT_ANSWER_NOTE = (
    "The merchant did not answer within 48 h: approved before the platform agrees automatically."
)
SHIP_RETURN_NOTE = "The customer did not ship the return within 7 days: closed as expired."
RECEIPT_NOTE = "Receipt of the return was not confirmed within 10 days: received automatically."
RECEIPT_REFUND_NOTE = (
    "Receipt of the return was not confirmed within 10 days: received automatically and refunded."
)


def _timer(case: Case, kind: str) -> Timer:
    return Timer.objects.get(case=case, kind=kind)


def _events(case: Case) -> list[tuple[str, str, str, str, str]]:
    return list(
        CaseEvent.objects.filter(case=case).values_list(
            "kind", "actor_label", "from_status", "to_status", "note"
        )
    )


def _fire_exactly_once(timer: Timer, now: dt.datetime) -> None:
    """The timer fired at `now`, and a second sweep finds nothing to do."""
    timer.refresh_from_db()
    assert (timer.state, timer.fired_at) == (TimerState.FIRED, now)
    events = _events(timer.case)
    assert timers_sweep(now=now) == 0
    timer.refresh_from_db()
    assert (timer.state, timer.fired_at) == (TimerState.FIRED, now)
    assert _events(timer.case) == events


# --------------------------------------------------------------------------- starting clocks


@pytest.mark.django_db
def test_filing_a_case_starts_the_merchant_answer_clock(order):
    before = timezone.now()
    case = f.case(order, case_type="refund_only")
    timer = Timer.objects.get(case=case)
    assert (timer.kind, timer.state, timer.shop_id) == (
        TimerKind.MERCHANT_ANSWER,
        TimerState.PENDING,
        case.shop_id,
    )
    assert before + dt.timedelta(hours=48) <= timer.due_at
    assert timer.due_at == timer.created_at + dt.timedelta(hours=48)
    assert timer.created_at <= timezone.now()


@pytest.mark.django_db
def test_a_case_without_an_order_has_no_marketplace_clock(shop):
    case = f.case(None, case_type="complaint", reason="service_attitude", shop=shop)
    assert not Timer.objects.filter(case=case).exists()


@pytest.mark.django_db
def test_sync_is_idempotent_and_keeps_the_running_due_time(order):
    case = f.case(order)
    timer = _timer(case, TimerKind.MERCHANT_ANSWER)
    later = timer.due_at + dt.timedelta(days=1)
    assert timers_sync(case=case, now=later) == timer
    assert Timer.objects.filter(case=case).count() == 1
    assert Timer.objects.get().due_at == timer.due_at


@pytest.mark.django_db
def test_one_pending_timer_per_case_and_kind(order):
    case = f.case(order)
    timer = _timer(case, TimerKind.MERCHANT_ANSWER)
    with pytest.raises(IntegrityError), transaction.atomic():
        Timer.objects.create(
            shop_id=case.shop_id,
            case=case,
            kind=TimerKind.MERCHANT_ANSWER,
            due_at=timer.due_at,
            created_at=timer.created_at,
        )


# --------------------------------------------------------------------------- merchant answer


@pytest.mark.django_db
def test_one_minute_before_48_hours_nothing_happens(order):
    case = f.case(order, case_type="refund_only")
    timer = _timer(case, TimerKind.MERCHANT_ANSWER)
    events = _events(case)
    assert timers_sweep(now=timer.due_at - dt.timedelta(minutes=1)) == 0
    case.refresh_from_db()
    timer.refresh_from_db()
    assert case.status == "awaiting_merchant"
    assert (timer.state, timer.fired_at, timer.reason) == (TimerState.PENDING, None, "")
    assert _events(case) == events


@pytest.mark.django_db
def test_merchant_answer_clock_approves_a_refund_only_case(order):
    case = f.case(order, case_type="refund_only")
    timer = _timer(case, TimerKind.MERCHANT_ANSWER)
    now = timer.due_at
    assert timers_sweep(now=now) == 1

    case.refresh_from_db()
    assert case.status == "refunding"
    assert case.refund_amount == Decimal("100.00")
    assert case.refund_method == "original"
    assert _events(case)[-1] == (
        "approve",
        "system",
        "awaiting_merchant",
        "refunding",
        MERCHANT_ANSWER_NOTE,
    )
    timer.refresh_from_db()
    assert timer.reason == MERCHANT_ANSWER_NOTE
    assert not Timer.objects.filter(case=case, state=TimerState.PENDING).exists()
    _fire_exactly_once(timer, now)


@pytest.mark.django_db
def test_merchant_answer_clock_approves_a_return_and_starts_the_shipping_clock(order):
    case = f.case(order, case_type="return_refund")
    timer = _timer(case, TimerKind.MERCHANT_ANSWER)
    now = timer.due_at + dt.timedelta(hours=3)  # the sweeper ran late: it still counts from now
    assert timers_sweep(now=now) == 1

    case.refresh_from_db()
    assert case.status == "awaiting_return"
    assert _events(case)[-1] == (
        "approve",
        "system",
        "awaiting_merchant",
        "awaiting_return",
        MERCHANT_ANSWER_NOTE,
    )
    ship = _timer(case, TimerKind.CUSTOMER_SHIP_RETURN)
    assert (ship.state, ship.created_at, ship.due_at) == (
        TimerState.PENDING,
        now,
        now + dt.timedelta(days=7),
    )
    _fire_exactly_once(timer, now)


# --------------------------------------------------------------------------- customer ships


@pytest.mark.django_db
def test_customer_ship_return_clock_closes_the_case_as_expired(order):
    case = f.case(order, case_type="return_refund")
    case_approve(case=case, actor=None)
    merchant = _timer(case, TimerKind.MERCHANT_ANSWER)
    assert (merchant.state, merchant.reason) == (
        TimerState.CANCELLED,
        "The case moved to awaiting_return before the deadline.",
    )
    timer = _timer(case, TimerKind.CUSTOMER_SHIP_RETURN)
    assert timers_sweep(now=timer.due_at - dt.timedelta(seconds=1)) == 0

    report = timers_sweep_report(now=timer.due_at)
    assert (report.fired, report.cancelled) == (1, 0)
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("closed", "expired")
    assert case.closed_at is not None
    assert _events(case)[-1] == ("close", "system", "awaiting_return", "closed", SHIP_RETURN_NOTE)
    assert CaseEvent.objects.filter(case=case).last().data == {"outcome": "expired"}
    _fire_exactly_once(timer, timer.due_at)


# --------------------------------------------------------------------------- merchant receipt


def _in_transit(order, case_type: str) -> Case:
    case = f.case(order, case_type=case_type)
    case_approve(case=case, actor=None)
    case_record_return(case=case, actor=None, courier="SF", tracking_number="SF100")
    return case


@pytest.mark.django_db
def test_receipt_clock_receives_and_refunds_a_return(order):
    case = _in_transit(order, "return_refund")
    assert _timer(case, TimerKind.CUSTOMER_SHIP_RETURN).state == TimerState.CANCELLED
    timer = _timer(case, TimerKind.MERCHANT_CONFIRM_RECEIPT)
    assert timer.due_at == timer.created_at + dt.timedelta(days=10)
    assert timers_sweep(now=timer.due_at - dt.timedelta(minutes=1)) == 0

    now = timer.due_at
    assert timers_sweep(now=now) == 1
    case.refresh_from_db()
    assert case.status == "refunding"
    assert (case.refund_amount, case.refund_method) == (Decimal("100.00"), "original")
    assert list(case.lines.values_list("grade", "disposition")) == [("resellable", "restock")]
    assert _events(case)[-2:] == [
        ("receive", "system", "return_in_transit", "inspecting", RECEIPT_REFUND_NOTE),
        ("refund", "system", "inspecting", "refunding", RECEIPT_REFUND_NOTE),
    ]
    timer.refresh_from_db()
    assert timer.reason == RECEIPT_REFUND_NOTE
    _fire_exactly_once(timer, now)


@pytest.mark.django_db
def test_receipt_clock_only_receives_an_exchange(order):
    case = _in_transit(order, "exchange")
    timer = _timer(case, TimerKind.MERCHANT_CONFIRM_RECEIPT)
    assert timers_sweep(now=timer.due_at) == 1
    case.refresh_from_db()
    assert case.status == "inspecting"
    assert case.refund_amount is None
    assert list(case.lines.values_list("grade", "disposition")) == [("resellable", "restock")]
    assert _events(case)[-1] == (
        "receive",
        "system",
        "return_in_transit",
        "inspecting",
        RECEIPT_NOTE,
    )
    _fire_exactly_once(timer, timer.due_at)


# --------------------------------------------------------------------------- moved on


@pytest.mark.django_db
def test_a_case_that_moved_on_cancels_its_clock_and_nothing_fires(order, agent):
    case = f.case(order, case_type="refund_only")
    timer = _timer(case, TimerKind.MERCHANT_ANSWER)
    case_cancel(case=case, actor=agent, note="买错了")
    timer.refresh_from_db()
    assert (timer.state, timer.reason) == (
        TimerState.CANCELLED,
        "The case moved to closed before the deadline.",
    )
    events = _events(case)
    report = timers_sweep_report(now=timer.due_at + dt.timedelta(days=1))
    assert (report.fired, report.cancelled) == (0, 0)
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("closed", "withdrawn")
    assert _events(case) == events
    assert Timer.objects.filter(case=case).count() == 1


@pytest.mark.django_db
def test_the_sweeper_rechecks_the_status_and_cancels_a_stale_timer(order):
    case = f.case(order, case_type="refund_only")
    timer = _timer(case, TimerKind.MERCHANT_ANSWER)
    # A status written behind the services' back: the sweeper must not act on a stale clock.
    Case.objects.filter(pk=case.pk).update(status="refunding")
    events = _events(case)
    report = timers_sweep_report(now=timer.due_at)
    assert (report.fired, report.cancelled) == (0, 1)
    timer.refresh_from_db()
    assert (timer.state, timer.fired_at, timer.reason) == (
        TimerState.CANCELLED,
        None,
        "The case is refunding, not awaiting_merchant: nothing to do.",
    )
    assert _events(case) == events


@pytest.mark.django_db
def test_a_refused_action_cancels_the_timer_with_the_reason_and_changes_nothing(order):
    first = f.case(order, case_type="refund_only")
    case_approve(case=first, actor=None)  # the whole order is refunded already
    second = _in_transit(f.order(order.channel), "return_refund")
    Case.objects.filter(pk=second.pk).update(order=first.order)
    timer = _timer(second, TimerKind.MERCHANT_CONFIRM_RECEIPT)
    events = _events(second)
    report = timers_sweep_report(now=timer.due_at)
    assert (report.fired, report.cancelled) == (0, 1)
    timer.refresh_from_db()
    assert timer.state == TimerState.CANCELLED
    assert timer.reason.startswith("Could not act (refund.amount_exceeds_paid): ")
    second.refresh_from_db()
    assert second.status == "return_in_transit"
    assert _events(second) == events


# --------------------------------------------------------------------------- the command


@pytest.mark.django_db
def test_tick_runs_every_timer_due_by_now(order):
    case = f.case(order, case_type="refund_only")
    timer = _timer(case, TimerKind.MERCHANT_ANSWER)
    due = timezone.localtime(timer.due_at)
    out = StringIO()
    call_command("tick", now=(due - dt.timedelta(minutes=1)).isoformat(), stdout=out)
    assert out.getvalue().startswith("0 timer(s) fired, 0 cancelled")
    out = StringIO()
    call_command("tick", now=due.isoformat(), stdout=out)
    assert out.getvalue() == f"1 timer(s) fired, 0 cancelled, due by {due.isoformat()}.\n"
    case.refresh_from_db()
    assert case.status == "refunding"


@pytest.mark.django_db
def test_tick_reads_a_naive_time_in_the_project_time_zone(order):
    case = f.case(order, case_type="refund_only")
    timer = _timer(case, TimerKind.MERCHANT_ANSWER)
    local = timezone.localtime(timer.due_at, timezone.get_default_timezone())
    naive = local.replace(tzinfo=None) + dt.timedelta(seconds=1)
    call_command("tick", now=naive.isoformat(), stdout=StringIO())
    timer.refresh_from_db()
    assert timer.state == TimerState.FIRED
    assert timer.fired_at == local + dt.timedelta(seconds=1)


@pytest.mark.django_db
def test_tick_refuses_a_bad_time():
    with pytest.raises(CommandError, match="is not an ISO date-time"):
        call_command("tick", now="next tuesday", stdout=StringIO())


# --------------------------------------------------------------------------- concurrency


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_fire_each_timer_once(channel):
    cases = [f.case(f.order(channel), case_type="refund_only") for _ in range(12)]
    now = max(_timer(c, TimerKind.MERCHANT_ANSWER).due_at for c in cases)
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
    assert sum(fired) == 12
    assert Timer.objects.filter(state=TimerState.FIRED).count() == 12
    for c in cases:
        assert CaseEvent.objects.filter(case=c, kind="approve").count() == 1
        c.refresh_from_db()
        assert c.status == "refunding"
