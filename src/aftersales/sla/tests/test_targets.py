"""SLA targets in business time: first response, next response and resolution, their 80 %
warnings and breaches, the shop's own targets, service hours and holidays, and the pause while
the case waits on the customer. Every due time is an exact instant in Asia/Shanghai."""

from __future__ import annotations

import datetime as dt

import pytest

from aftersales.cases.models import Case, Disposition, Grade
from aftersales.cases.services import (
    LineInspection,
    case_appeal,
    case_approve,
    case_close,
    case_comment,
    case_escalate,
    case_provide_info,
    case_receive,
    case_record_return,
    case_reject,
    case_request_info,
)
from aftersales.sla.firing import timer_fire, timers_sweep, timers_sweep_report
from aftersales.sla.models import SlaTarget, Timer, TimerKind, TimerState
from aftersales.sla.services import calendar_save, holiday_add
from aftersales.sla.tests.clock import HOUR, MINUTE, SHANGHAI, T0, at, events, running, timer
from aftersales.tests import factories as f

K = TimerKind
BUSINESS_CLOCKS = {
    (K.FIRST_RESPONSE, ""),
    (K.WARNING, K.FIRST_RESPONSE),
    (K.RESOLUTION, ""),
    (K.WARNING, K.RESOLUTION),
}


def sh(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def _file(order, moment: dt.datetime = T0, case_type: str = "refund_only", **kw) -> Case:
    with at(moment):
        return f.case(order, case_type=case_type, **kw)


def _due(case: Case, kind: str, subject: str = "") -> dt.datetime:
    return timer(case, kind, subject).due_at


# --------------------------------------------------------------------------- first response


@pytest.mark.django_db
def test_first_response_is_met_by_an_agents_reply_not_by_an_internal_note(order, agent):
    case = _file(order)
    assert (_due(case, K.FIRST_RESPONSE), _due(case, K.WARNING, K.FIRST_RESPONSE)) == (
        T0 + HOUR,
        T0 + 48 * MINUTE,
    )
    with at(T0 + 10 * MINUTE):
        case_comment(case=case, actor=agent, text="先看看订单", internal=True)
    assert timer(case, K.FIRST_RESPONSE).state == TimerState.PENDING

    with at(T0 + 20 * MINUTE):
        case_comment(case=case, actor=agent, text="您好，我们正在核实。")
    first = timer(case, K.FIRST_RESPONSE)
    assert (first.state, first.fired_at, first.reason) == (
        TimerState.MET,
        T0 + 20 * MINUTE,
        "Answered by agent1.",
    )
    warning = timer(case, K.WARNING, K.FIRST_RESPONSE)
    assert (warning.state, warning.reason) == (TimerState.CANCELLED, "Answered by agent1.")
    assert timer(case, K.RESOLUTION).state == TimerState.PENDING  # still open
    assert not Timer.objects.filter(case=case, kind=K.NEXT_RESPONSE).exists()


@pytest.mark.django_db
def test_the_warning_fires_at_80_percent_and_the_breach_at_the_target(order):
    case = _file(order)
    timers_sweep(now=T0 + 48 * MINUTE - dt.timedelta(seconds=1))
    assert events(case)[1:] == []

    assert timers_sweep(now=T0 + 48 * MINUTE) == 1
    warning = "First response is due 2026-11-25 11:00."
    assert events(case)[1:] == [
        ("sla_warning", "system", "awaiting_merchant", "awaiting_merchant", warning)
    ]
    assert timer(case, K.WARNING, K.FIRST_RESPONSE).state == TimerState.FIRED

    assert timers_sweep(now=T0 + HOUR - dt.timedelta(seconds=1)) == 0
    report = timers_sweep_report(now=T0 + HOUR)
    assert (report.fired, report.cancelled) == (1, 0)
    breach = "SLA breached: First response was due 2026-11-25 11:00."
    assert events(case)[1:] == [
        ("sla_warning", "system", "awaiting_merchant", "awaiting_merchant", warning),
        ("sla_breached", "system", "awaiting_merchant", "awaiting_merchant", breach),
        ("escalate", "system", "awaiting_merchant", "awaiting_merchant", breach),
    ]
    case.refresh_from_db()
    assert (case.status, case.escalation_level) == ("awaiting_merchant", 1)
    first = timer(case, K.FIRST_RESPONSE)
    assert (first.state, first.fired_at, first.reason) == (TimerState.FIRED, T0 + HOUR, breach)
    # The team lead has it now: the 24 h rung is done, the manager's is next.
    assert timer(case, K.ESCALATION, "1").state == TimerState.CANCELLED
    assert timer(case, K.ESCALATION, "2").state == TimerState.PENDING


@pytest.mark.django_db
def test_a_breach_of_a_case_already_escalated_does_not_escalate_again(order, agent):
    case = _file(order)
    with at(T0 + MINUTE):
        case_escalate(case=case, actor=agent, note="VIP")
    timers_sweep(now=T0 + HOUR)
    case.refresh_from_db()
    assert case.escalation_level == 1
    assert [e[0] for e in events(case)][-2:] == ["sla_warning", "sla_breached"]


# --------------------------------------------------------------------------- next response


@pytest.mark.django_db
def test_the_customers_answer_starts_the_next_response_clock(order, agent):
    case = _file(order)
    with at(T0 + 10 * MINUTE):
        case_request_info(case=case, actor=agent, question="请补充照片。")
    assert timer(case, K.FIRST_RESPONSE).state == TimerState.MET
    with at(T0 + HOUR):
        case_provide_info(case=case, actor=None, answer="照片已上传")
    following = timer(case, K.NEXT_RESPONSE)
    assert (following.state, following.created_at, following.due_at, following.budget_seconds) == (
        TimerState.PENDING,
        T0 + HOUR,
        T0 + 5 * HOUR,
        4 * 3600,
    )
    assert _due(case, K.WARNING, K.NEXT_RESPONSE) == T0 + HOUR + 192 * MINUTE

    with at(T0 + 2 * HOUR):
        case_comment(case=case, actor=agent, text="收到，正在处理。")
    following.refresh_from_db()
    assert (following.state, following.fired_at, following.reason) == (
        TimerState.MET,
        T0 + 2 * HOUR,
        "Answered by agent1.",
    )
    assert timer(case, K.WARNING, K.NEXT_RESPONSE).state == TimerState.CANCELLED


@pytest.mark.django_db
def test_an_unanswered_next_response_breaches_and_escalates(order, agent):
    case = _file(order)
    with at(T0 + 10 * MINUTE):
        case_request_info(case=case, actor=agent, question="请补充照片。")
    with at(T0 + HOUR):
        case_provide_info(case=case, actor=None, answer="照片已上传")
    timers_sweep(now=T0 + 5 * HOUR)
    breach = "SLA breached: Next response was due 2026-11-25 15:00."
    assert [e for e in events(case) if e[0] in ("sla_breached", "escalate")] == [
        ("sla_breached", "system", "awaiting_merchant", "awaiting_merchant", breach),
        ("escalate", "system", "awaiting_merchant", "awaiting_merchant", breach),
    ]
    case.refresh_from_db()
    assert case.escalation_level == 1


@pytest.mark.django_db
def test_an_appeal_starts_the_next_response_and_a_new_resolution(order, agent):
    case = _file(order)
    with at(T0 + HOUR / 2):
        case_reject(case=case, actor=agent, note="照片不清楚")
    resolved = timer(case, K.RESOLUTION)
    assert (resolved.state, resolved.reason) == (TimerState.MET, "Resolved (rejected).")
    with at(T0 + 2 * HOUR):
        case_appeal(case=case, actor=None, note="我有新的照片")
    assert running(case) >= {
        (K.NEXT_RESPONSE, ""),
        (K.WARNING, K.NEXT_RESPONSE),
        (K.RESOLUTION, ""),
        (K.WARNING, K.RESOLUTION),
    }
    assert _due(case, K.NEXT_RESPONSE) == T0 + 6 * HOUR
    again = timer(case, K.RESOLUTION, state=TimerState.PENDING)
    # A normal-priority case has 40 business hours: 12:00–24:00 today, 15 h tomorrow, 13 h
    # on Friday.
    assert (again.created_at, again.due_at) == (T0 + 2 * HOUR, sh(11, 27, 22))


# --------------------------------------------------------------------------- resolution


@pytest.mark.django_db
@pytest.mark.parametrize("ending", ["reject", "close"])
def test_resolution_is_met_when_the_case_ends(order, lead, ending):
    case = _file(order)
    with at(T0 + 3 * HOUR):
        if ending == "reject":
            case_reject(case=case, actor=lead, note="不符合条件")
        else:
            case_close(case=case, actor=lead, outcome="explained", note="已解释")
    resolved = timer(case, K.RESOLUTION)
    status = "rejected" if ending == "reject" else "closed"
    assert (resolved.state, resolved.fired_at, resolved.reason) == (
        TimerState.MET,
        T0 + 3 * HOUR,
        f"Resolved ({status}).",
    )
    assert timer(case, K.WARNING, K.RESOLUTION).state == TimerState.CANCELLED
    # The answer came two hours after the first-response deadline and no sweep ran between:
    # a breach all the same, in the timer and in the timeline.
    first = timer(case, K.FIRST_RESPONSE)
    assert (first.state, first.fired_at, first.reason) == (
        TimerState.FIRED,
        T0 + 3 * HOUR,
        "Late: Answered by lead1.",
    )
    assert events(case)[2] == (
        "sla_breached",
        "system",
        status,
        status,
        "SLA breached: First response was due 2026-11-25 11:00.",
    )
    assert not running(case) & BUSINESS_CLOCKS


@pytest.mark.django_db
def test_an_unresolved_case_warns_then_breaches_without_escalating(order, agent):
    case = _file(order)
    with at(T0 + 5 * MINUTE):
        case_comment(case=case, actor=agent, text="您好")
    # 40 business hours from Wednesday 10:00: Wednesday 14 h, Thursday 15 h, Friday 09–20.
    assert (_due(case, K.WARNING, K.RESOLUTION), _due(case, K.RESOLUTION)) == (
        sh(11, 27, 12),
        sh(11, 27, 20),
    )
    timers_sweep(now=T0 + 24 * HOUR)
    timers_sweep(now=sh(11, 27, 20))
    assert [e for e in events(case) if e[0].startswith("sla_")] == [
        (
            "sla_warning",
            "system",
            "awaiting_merchant",
            "awaiting_merchant",
            "Resolution is due 2026-11-27 20:00.",
        ),
        (
            "sla_breached",
            "system",
            "awaiting_merchant",
            "awaiting_merchant",
            "SLA breached: Resolution was due 2026-11-27 20:00.",
        ),
    ]
    case.refresh_from_db()
    # The 24 h rung escalated it once; the resolution breach itself does not.
    assert case.escalation_level == 1
    assert [e[4] for e in events(case) if e[0] == "escalate"] == [
        "No answer after 24 h: escalated to the team lead."
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reason", "case_type", "minutes"),
    [
        ("funds_not_received", "refund_only", 8 * 60),  # urgent
        ("quality_defect", "refund_only", 40 * 60),  # normal
        ("usage_question", "refund_only", 80 * 60),  # low
    ],
)
def test_default_resolution_targets_by_priority(order, reason, case_type, minutes):
    case = _file(order, reason=reason, case_type=case_type)
    assert timer(case, K.RESOLUTION).budget_seconds == minutes * 60


@pytest.mark.django_db
def test_a_complaint_is_high_priority_with_16_business_hours(shop):
    with at(T0):
        case = f.case(None, case_type="complaint", reason="service_attitude", shop=shop)
    resolution = timer(case, K.RESOLUTION)
    # Wednesday 10:00–24:00 is 14 h; the last two on Thursday from 09:00.
    assert (resolution.budget_seconds, resolution.due_at) == (16 * 3600, sh(11, 26, 11))


# --------------------------------------------------------------------------- shop targets


@pytest.mark.django_db
def test_the_most_specific_target_wins(shop, channel):
    def target(case_type: str, priority: int, minutes: int, warn: int = 80) -> None:
        SlaTarget.objects.create(
            shop=shop,
            case_type=case_type,
            priority=priority,
            first_response_minutes=minutes,
            next_response_minutes=minutes * 2,
            resolution_minutes=minutes * 10,
            warn_percent=warn,
        )

    target("", 0, 10)
    target("", 3, 20)
    target("refund_only", 0, 30, warn=50)
    target("refund_only", 3, 40)

    def first(case_type: str, reason: str) -> Timer:
        return timer(_file(f.order(channel), case_type=case_type, reason=reason), K.FIRST_RESPONSE)

    assert first("refund_only", "quality_defect").due_at == T0 + 40 * MINUTE  # type × priority
    by_type = _file(f.order(channel), case_type="refund_only", reason="usage_question")
    assert (_due(by_type, K.FIRST_RESPONSE), _due(by_type, K.WARNING, K.FIRST_RESPONSE)) == (
        T0 + 30 * MINUTE,
        T0 + 15 * MINUTE,  # that row warns at 50 %
    )
    assert first("exchange", "quality_defect").due_at == T0 + 20 * MINUTE  # priority
    assert first("exchange", "usage_question").due_at == T0 + 10 * MINUTE  # the shop's
    assert timer(by_type, K.RESOLUTION).budget_seconds == 300 * 60


@pytest.mark.django_db
def test_another_shops_targets_do_not_apply(order, other_shop):
    SlaTarget.objects.create(
        shop=other_shop,
        first_response_minutes=5,
        next_response_minutes=5,
        resolution_minutes=5,
    )
    assert _due(_file(order), K.FIRST_RESPONSE) == T0 + HOUR


# --------------------------------------------------------------------------- calendars


@pytest.mark.django_db
def test_a_case_filed_at_23_30_is_due_at_09_30_next_morning(order):
    case = _file(order, sh(11, 25, 23, 30))
    assert _due(case, K.FIRST_RESPONSE) == sh(11, 26, 9, 30)
    # 80 % of an hour: 30 minutes before midnight, 18 after opening.
    assert _due(case, K.WARNING, K.FIRST_RESPONSE) == sh(11, 26, 9, 18)
    timers_sweep(now=sh(11, 26, 9, 29))
    assert timer(case, K.FIRST_RESPONSE).state == TimerState.PENDING
    timers_sweep(now=sh(11, 26, 9, 30))
    assert timer(case, K.FIRST_RESPONSE).state == TimerState.FIRED


@pytest.mark.django_db
def test_a_case_filed_before_opening_counts_from_09_00(order):
    case = _file(order, sh(11, 26, 3, 0))
    assert _due(case, K.FIRST_RESPONSE) == sh(11, 26, 10)


@pytest.mark.django_db
def test_a_closed_holiday_is_skipped(shop, order):
    calendar = calendar_save(shop=shop, name="客服")
    holiday_add(calendar=calendar, date=dt.date(2026, 11, 26), name="店休")
    case = _file(order, sh(11, 25, 23, 30))
    assert _due(case, K.FIRST_RESPONSE) == sh(11, 27, 9, 30)


@pytest.mark.django_db
def test_special_hours_and_office_hours_from_the_shops_calendar(shop, order):
    office = [[["09:00", "12:00"], ["13:30", "18:00"]]] * 5 + [[], []]
    calendar = calendar_save(shop=shop, name="客服", weekly_hours=office)
    holiday_add(
        calendar=calendar,
        date=dt.date(2026, 11, 30),
        name="盘点",
        kind="special_hours",
        spans=[["14:00", "16:00"]],
    )
    # Friday 17:30: half an hour on Friday, Monday opens at 14:00 that day.
    case = _file(order, sh(11, 27, 17, 30))
    assert _due(case, K.FIRST_RESPONSE) == sh(11, 30, 14, 30)
    # A 调休 working Saturday counts.
    holiday_add(
        calendar=calendar,
        date=dt.date(2026, 11, 28),
        name="调休",
        kind="makeup_workday",
        spans=[["09:00", "18:00"]],
    )
    later = _file(f.order(order.channel), sh(11, 27, 17, 30))
    assert _due(later, K.FIRST_RESPONSE) == sh(11, 28, 9, 30)


@pytest.mark.django_db
def test_a_calendar_in_another_time_zone(shop, order):
    calendar_save(shop=shop, name="Berlin", time_zone="Europe/Berlin")
    # 10:00 in Shanghai is 03:00 in Berlin: closed until 09:00 there (16:00 in Shanghai).
    case = _file(order)
    assert _due(case, K.FIRST_RESPONSE) == sh(11, 25, 17)


# --------------------------------------------------------------------------- pause, resume


@pytest.mark.django_db
def test_waiting_on_the_customer_pauses_with_the_business_time_left_and_resumes(order, agent):
    case = _file(order)  # Wednesday 10:00
    resolution = timer(case, K.RESOLUTION)
    assert resolution.due_at == sh(11, 27, 20)
    with at(T0 + 2 * HOUR):
        case_request_info(case=case, actor=agent, question="请补充照片。")
    resolution.refresh_from_db()
    warning = timer(case, K.WARNING, K.RESOLUTION)
    # Two business hours of forty were used; the warning (at 32 h) had 30 left.
    assert (resolution.state, resolution.remaining_seconds, resolution.due_at) == (
        TimerState.PAUSED,
        38 * 3600,
        sh(11, 27, 20),
    )
    assert (warning.state, warning.remaining_seconds) == (TimerState.PAUSED, 30 * 3600)

    # Paused clocks do not fire however long the customer takes.
    report = timers_sweep_report(now=sh(11, 28, 23))
    assert (report.fired, report.cancelled) == (0, 0)
    # Asking two hours in answered the first response an hour late.
    assert [e[0] for e in events(case)[-2:]] == ["request_info", "sla_breached"]

    # Saturday 23:00: one hour on Saturday, 15 on Sunday, 15 on Monday, 7 on Tuesday.
    with at(sh(11, 28, 23)):
        case_provide_info(case=case, actor=None, answer="照片已上传")
    resolution.refresh_from_db()
    warning.refresh_from_db()
    assert (resolution.state, resolution.remaining_seconds, resolution.due_at) == (
        TimerState.PENDING,
        None,
        sh(12, 1, 16),
    )
    assert (warning.state, warning.due_at) == (TimerState.PENDING, sh(11, 30, 23))
    assert timer_fire(timer_id=resolution.pk, now=sh(12, 1, 16) - MINUTE) is None
    assert timer_fire(timer_id=resolution.pk, now=sh(12, 1, 16)) == "fired"


@pytest.mark.django_db
def test_waiting_for_the_customers_return_parcel_pauses_too(order, agent):
    case = _file(order, case_type="return_refund")
    with at(T0 + HOUR):
        case_approve(case=case, actor=agent)  # awaiting the customer's parcel
    resolution = timer(case, K.RESOLUTION)
    assert (resolution.state, resolution.remaining_seconds) == (TimerState.PAUSED, 39 * 3600)
    assert timer(case, K.FIRST_RESPONSE).state == TimerState.MET


@pytest.mark.django_db
def test_the_resolution_clock_pauses_while_the_return_travels(order, agent, warehouse):
    case = _file(order, case_type="return_refund")
    with at(T0 + HOUR):
        case_approve(case=case, actor=agent)
    resolution = timer(case, K.RESOLUTION)
    # 40 business hours less the hour before the approval.
    assert (resolution.state, resolution.remaining_seconds) == (TimerState.PAUSED, 39 * 3600)
    with at(T0 + 24 * HOUR):
        case_record_return(case=case, actor=None, courier="SF", tracking_number="SF1")
    resolution.refresh_from_db()
    assert (resolution.state, resolution.remaining_seconds) == (TimerState.PAUSED, 39 * 3600)
    arrived = sh(11, 30, 10)  # Monday 10:00
    with at(arrived):
        case_receive(
            case=case,
            actor=warehouse,
            inspections=[
                LineInspection(line.pk, Grade.RESELLABLE, Disposition.RESTOCK)
                for line in case.lines.all()
            ],
        )
    resolution.refresh_from_db()
    # The merchant's turn again: 39 business hours from Monday 10:00 (14 h Monday, 15 h
    # Tuesday, 10 h Wednesday) end Wednesday 19:00.
    assert (resolution.state, resolution.due_at) == (TimerState.PENDING, sh(12, 2, 19))
