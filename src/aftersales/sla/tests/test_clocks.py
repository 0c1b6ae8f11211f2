"""The marketplace clocks of DESIGN §5, per channel kind and as a shop sets them: each runs
out at its exact time and does exactly what the platform would, first."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from aftersales.cases.models import Case
from aftersales.cases.services import (
    LineInspection,
    case_appeal,
    case_approve,
    case_comment,
    case_receive,
    case_reject,
    case_request_info,
)
from aftersales.channels.models import ChannelKind, Order
from aftersales.channels.services import OrderData, OrderLineData, order_upsert
from aftersales.policies.services import policy_publish, policy_save
from aftersales.sla.firing import timer_fire, timers_sweep, timers_sweep_report
from aftersales.sla.models import ClockSetting, LateShipment, Timer, TimerKind, TimerState
from aftersales.sla.tests.clock import DAY, HOUR, MINUTE, T0, at, events, kinds, running, timer
from aftersales.tests import factories as f

K = TimerKind
DEADLINE_NOTE = (
    "The merchant did not answer; the platform agrees by itself at {length}: "
    "decided first by the shop's policy."
)
APPROVED_NOTE = (
    "The merchant did not answer; the platform agrees by itself at {length}: approved first."
)


def _rule(key: str, action: dict, explain: str) -> dict:
    return {
        "name": key,
        "rules": [
            {
                "key": key,
                "title": key,
                "when": {"all": [{"fact": "type", "op": "eq", "value": "refund_only"}]},
                "then": [action],
                "explain": {"zh-hans": explain, "en": explain, "vi": explain},
            }
        ],
    }


REJECT_POLICY = _rule("no_refund_only", {"action": "auto_reject"}, "不支持仅退款。")
PERSON_POLICY = _rule(
    "refund_only_by_hand", {"action": "route_to_person", "recommend": "approve"}, "人工处理。"
)


def _publish(shop, document: dict) -> None:
    policy_publish(actor=None, version=policy_save(actor=None, shop=shop, document=document))


def _file(order, case_type: str = "refund_only", moment: dt.datetime = T0) -> Case:
    with at(moment):
        return f.case(order, case_type=case_type)


def _inspecting(order, case_type: str) -> Case:
    case = _file(order, case_type)
    with at(T0):
        case_approve(case=case, actor=None)
        inspections = [
            LineInspection(pk, "resellable", "restock")
            for pk in case.lines.values_list("pk", flat=True)
        ]
        case_receive(case=case, actor=None, inspections=inspections)
    return case


def _rejected(order) -> Case:
    case = _file(order)
    with at(T0):
        case_reject(case=case, actor=None, note="照片不清楚")
    return case


# --------------------------------------------------------------------------- lengths


# Filed at T0 (Wednesday 10:00) and first answered at the five-day deadline.
FIRST_RESPONSE_LATE = "SLA breached: First response was due 2026-11-25 11:00."
RESOLUTION_LATE = "SLA breached: Resolution was due 2026-11-27 20:00."


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "shipped", "length", "text"),
    [
        (ChannelKind.WECHAT, True, 48 * HOUR, "48 h"),
        (ChannelKind.WECHAT, False, 48 * HOUR, "48 h"),
        (ChannelKind.TAOBAO, False, 2 * DAY, "48 h"),
        (ChannelKind.TAOBAO, True, 5 * DAY, "5 days"),
        (ChannelKind.TMALL, False, 2 * DAY, "48 h"),
        (ChannelKind.TMALL, True, 5 * DAY, "5 days"),
        (ChannelKind.JD, True, 48 * HOUR, "48 h"),
        (ChannelKind.PDD, True, 48 * HOUR, "48 h"),
        (ChannelKind.DOUYIN, True, 48 * HOUR, "48 h"),
        (ChannelKind.WEB, False, 48 * HOUR, "48 h"),
    ],
)
def test_merchant_answer_deadline_per_channel_kind_acts_an_hour_before_the_platform(
    shop, kind, shipped, length, text
):
    order = f.order(f.channel(shop, kind=kind), shipped=shipped)
    case = _file(order)
    answer = timer(case, K.MERCHANT_ANSWER)
    assert (answer.created_at, answer.due_at, answer.budget_seconds) == (
        T0,
        T0 + length - HOUR,
        int(length.total_seconds()),
    )
    assert timer_fire(timer_id=answer.pk, now=answer.due_at - MINUTE) is None
    assert timer_fire(timer_id=answer.pk, now=answer.due_at) == "fired"
    assert [e[4] for e in events(case) if e[0] in ("deadline", "approve")] == [
        DEADLINE_NOTE.format(length=text),
        APPROVED_NOTE.format(length=text),
    ]


@pytest.mark.django_db
def test_clock_settings_per_shop_and_per_channel(shop, other_shop):
    taobao = f.channel(shop, kind=ChannelKind.TAOBAO)
    wechat = f.channel(shop, kind=ChannelKind.WECHAT)
    elsewhere = f.channel(other_shop, kind=ChannelKind.WECHAT)
    ClockSetting.objects.create(shop=shop, kind=K.MERCHANT_ANSWER, hours=24)
    ClockSetting.objects.create(shop=shop, channel=wechat, kind=K.MERCHANT_ANSWER, hours=72)

    on_taobao = _file(f.order(taobao))  # the shop's setting beats Taobao's 5 days
    on_wechat = _file(f.order(wechat))  # the channel's setting beats the shop's
    other = _file(f.order(elsewhere))  # another shop's cases keep the default
    assert timer(on_taobao, K.MERCHANT_ANSWER).due_at == T0 + 23 * HOUR
    assert timer(on_wechat, K.MERCHANT_ANSWER).due_at == T0 + 71 * HOUR
    assert timer(other, K.MERCHANT_ANSWER).due_at == T0 + 47 * HOUR

    # A setting changes clocks started after it, never a running one.
    ClockSetting.objects.filter(shop=shop, channel=None).update(hours=100)
    assert timer(on_taobao, K.MERCHANT_ANSWER).due_at == T0 + 23 * HOUR


@pytest.mark.django_db
def test_a_clock_setting_lengthens_the_return_shipping_clock(shop, channel, order):
    ClockSetting.objects.create(shop=shop, channel=channel, kind=K.CUSTOMER_SHIP_RETURN, hours=240)
    case = _file(order, "return_refund")
    with at(T0 + HOUR):
        case_approve(case=case, actor=None)
    ship = timer(case, K.CUSTOMER_SHIP_RETURN)
    assert (ship.created_at, ship.due_at) == (T0 + HOUR, T0 + HOUR + 10 * DAY)
    assert timer_fire(timer_id=ship.pk, now=ship.due_at) == "fired"
    assert events(case)[-1][4] == (
        "The customer did not ship the return within 10 days: closed as expired."
    )


# --------------------------------------------------------------------------- merchant answer


@pytest.mark.django_db
def test_at_the_deadline_a_policy_that_rejects_rejects_by_its_rule(shop, order):
    _publish(shop, REJECT_POLICY)
    case = _file(order)
    answer = timer(case, K.MERCHANT_ANSWER)
    now = answer.due_at
    assert timer_fire(timer_id=answer.pk, now=now) == "fired"

    case.refresh_from_db()
    assert case.status == "rejected"
    assert case.decision["rule"] == "no_refund_only"
    assert case.decision["trigger"] == "deadline"
    note = DEADLINE_NOTE.format(length="5 days")
    assert events(case)[1:] == [
        ("deadline", "system", "awaiting_merchant", "awaiting_merchant", note),
        ("decision", "system", "awaiting_merchant", "awaiting_merchant", "不支持仅退款。"),
        ("reject", "system", "awaiting_merchant", "rejected", "不支持仅退款。"),
        # Nobody had answered in five days: the targets the rejection ends were missed.
        ("sla_breached", "system", "rejected", "rejected", RESOLUTION_LATE),
        ("sla_breached", "system", "rejected", "rejected", FIRST_RESPONSE_LATE),
    ]
    answer.refresh_from_db()
    assert (answer.state, answer.fired_at, answer.reason) == (TimerState.FIRED, now, note)
    dispute = timer(case, K.CUSTOMER_DISPUTE)
    assert (dispute.state, dispute.created_at, dispute.due_at) == (
        TimerState.PENDING,
        now,
        now + 7 * DAY,
    )


@pytest.mark.django_db
def test_at_the_deadline_a_policy_that_routes_to_a_person_is_overtaken_by_approval(shop, order):
    _publish(shop, PERSON_POLICY)
    case = _file(order)
    answer = timer(case, K.MERCHANT_ANSWER)
    assert timer_fire(timer_id=answer.pk, now=answer.due_at) == "fired"

    case.refresh_from_db()
    assert (case.status, case.refund_amount) == ("refunding", Decimal("100.00"))
    assert case.decision["rule"] == "refund_only_by_hand"
    approved = APPROVED_NOTE.format(length="5 days")
    assert events(case)[1:] == [
        (
            "deadline",
            "system",
            "awaiting_merchant",
            "awaiting_merchant",
            DEADLINE_NOTE.format(length="5 days"),
        ),
        ("decision", "system", "awaiting_merchant", "awaiting_merchant", "人工处理。"),
        ("approve", "system", "awaiting_merchant", "refunding", approved),
        ("sla_breached", "system", "refunding", "refunding", FIRST_RESPONSE_LATE),
    ]
    answer.refresh_from_db()
    assert answer.reason == approved


# --------------------------------------------------------------------------- escalation


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "manager_at", "waited"),
    [
        # Half-way from the 24 h rung to the moment we act (5 days - 1 h; 48 h - 1 h).
        (ChannelKind.TAOBAO, 24 * HOUR + (119 - 24) * HOUR / 2, "71 h"),
        (ChannelKind.WECHAT, 24 * HOUR + (47 - 24) * HOUR / 2, "35 h"),
    ],
)
def test_escalation_rungs_team_lead_at_24_hours_then_the_manager(
    shop, agent, kind, manager_at, waited
):
    case = _file(f.order(f.channel(shop, kind=kind)))
    with at(T0 + 10 * MINUTE):  # the first response is met; the case still waits on us
        case_comment(case=case, actor=agent, text="我们正在核实。")
    lead = timer(case, K.ESCALATION, "1")
    assert (lead.created_at, lead.due_at) == (T0, T0 + 24 * HOUR)

    timers_sweep(now=T0 + 24 * HOUR - MINUTE)
    case.refresh_from_db()
    assert case.escalation_level == 0
    timers_sweep(now=T0 + 24 * HOUR)
    case.refresh_from_db()
    assert case.escalation_level == 1
    escalations = [e for e in events(case) if e[0] == "escalate"]
    assert escalations == [
        (
            "escalate",
            "system",
            "awaiting_merchant",
            "awaiting_merchant",
            "No answer after 24 h: escalated to the team lead.",
        )
    ]
    lead.refresh_from_db()
    assert (lead.state, lead.fired_at) == (TimerState.FIRED, T0 + 24 * HOUR)

    top = timer(case, K.ESCALATION, "2")
    assert (top.state, top.created_at, top.due_at) == (TimerState.PENDING, T0, T0 + manager_at)
    timers_sweep(now=T0 + manager_at - MINUTE)
    case.refresh_from_db()
    assert case.escalation_level == 1
    timers_sweep(now=T0 + manager_at)
    case.refresh_from_db()
    assert case.escalation_level == 2
    assert [e for e in events(case) if e[0] == "escalate"][1:] == [
        (
            "escalate",
            "system",
            "awaiting_merchant",
            "awaiting_merchant",
            f"No answer after {waited}: escalated to the manager.",
        )
    ]
    assert not Timer.objects.filter(case=case, kind=K.ESCALATION, subject="3").exists()
    assert timer(case, K.MERCHANT_ANSWER).state == TimerState.PENDING


@pytest.mark.django_db
@pytest.mark.parametrize("answer", ["approve", "request_info"])
def test_answering_cancels_the_escalation(order, agent, answer):
    case = _file(order)
    with at(T0 + 2 * HOUR):
        if answer == "approve":
            case_approve(case=case, actor=agent)
        else:
            case_request_info(case=case, actor=agent, question="请补充照片。")
    lead = timer(case, K.ESCALATION, "1")
    assert (lead.state, lead.reason) == (TimerState.CANCELLED, "Answered or escalated meanwhile.")
    assert not {k for k in running(case) if k[0] == K.ESCALATION}
    timers_sweep(now=T0 + 10 * DAY)
    case.refresh_from_db()
    assert case.escalation_level == 0
    assert "escalate" not in kinds(case)


# --------------------------------------------------------------------------- after receipt


@pytest.mark.django_db
def test_merchant_refund_clock_refunds_a_return_left_in_inspection(order):
    case = _inspecting(order, "return_refund")
    refund = timer(case, K.MERCHANT_REFUND)
    assert (refund.created_at, refund.due_at) == (T0, T0 + 7 * DAY - HOUR)
    assert timer_fire(timer_id=refund.pk, now=refund.due_at - MINUTE) is None
    assert timer_fire(timer_id=refund.pk, now=refund.due_at) == "fired"
    case.refresh_from_db()
    assert (case.status, case.refund_amount, case.refund_method) == (
        "refunding",
        Decimal("100.00"),
        "original",
    )
    note = "The return was received 7 days ago without a refund: refunded."
    assert events(case)[-1] == ("refund", "system", "inspecting", "refunding", note)
    refund.refresh_from_db()
    assert (refund.state, refund.reason) == (TimerState.FIRED, note)


@pytest.mark.django_db
def test_an_exchange_in_inspection_has_no_refund_clock(order):
    case = _inspecting(order, "exchange")
    assert case.status == "inspecting"
    assert not Timer.objects.filter(case=case, kind=K.MERCHANT_REFUND).exists()


# --------------------------------------------------------------------------- disputes


@pytest.mark.django_db
def test_the_dispute_window_closes_and_the_rejection_stays(order):
    case = _rejected(order)
    dispute = timer(case, K.CUSTOMER_DISPUTE)
    assert (dispute.created_at, dispute.due_at) == (T0, T0 + 7 * DAY)
    assert timer_fire(timer_id=dispute.pk, now=dispute.due_at - MINUTE) is None
    report = timers_sweep_report(now=dispute.due_at)
    assert (report.fired, report.cancelled) == (1, 0)
    case.refresh_from_db()
    assert case.status == "rejected"
    note = "The customer did not dispute the rejection within 7 days: it is final."
    assert events(case)[-1] == ("appeal_window_closed", "system", "rejected", "rejected", note)
    dispute.refresh_from_db()
    assert (dispute.state, dispute.fired_at, dispute.reason) == (
        TimerState.FIRED,
        dispute.due_at,
        note,
    )
    assert running(case) == set()


@pytest.mark.django_db
def test_an_appeal_within_the_window_cancels_it_and_the_merchant_clock_starts_again(order):
    case = _rejected(order)
    with at(T0 + 3 * DAY):
        case_appeal(case=case, actor=None, note="我有新的照片")
    dispute = timer(case, K.CUSTOMER_DISPUTE)
    assert (dispute.state, dispute.reason) == (
        TimerState.CANCELLED,
        "The case moved to awaiting_merchant first.",
    )
    answer = timer(case, K.MERCHANT_ANSWER, state=TimerState.PENDING)
    assert (answer.created_at, answer.due_at) == (T0 + 3 * DAY, T0 + 8 * DAY - HOUR)
    # An appeal lands one rung up: the next rung is the manager's.
    assert {k for k in running(case) if k[0] == K.ESCALATION} == {(K.ESCALATION, "2")}
    timers_sweep(now=T0 + 7 * DAY)  # the old window's end passes without a word
    dispute.refresh_from_db()
    assert dispute.state == TimerState.CANCELLED
    assert "appeal_window_closed" not in kinds(case)


# --------------------------------------------------------------------------- shipping orders


def _order_put(order: Order, **changes) -> Order:
    data = {
        "external_id": order.external_id,
        "lines": [
            OrderLineData(sku=line.sku, quantity=line.quantity, unit_price=line.unit_price)
            for line in order.lines.all()
        ],
        "paid_at": order.paid_at,
        "shipped_at": order.shipped_at,
        "signed_at": order.signed_at,
        **changes,
    }
    updated, _created = order_upsert(actor=None, channel=order.channel, data=OrderData(**data))
    return updated


def _paid_order(channel) -> Order:
    with at(f.NOW):
        return f.order(channel, shipped=False)


@pytest.mark.django_db
def test_a_paid_order_not_shipped_in_48_hours_owes_compensation(channel):
    order = _paid_order(channel)
    ship = Timer.objects.get(order=order)
    assert (ship.kind, ship.state, ship.case_id) == (K.MERCHANT_SHIP, TimerState.PENDING, None)
    assert (ship.created_at, ship.due_at) == (f.NOW, order.paid_at + 48 * HOUR)
    assert timers_sweep(now=ship.due_at - MINUTE) == 0
    assert not LateShipment.objects.exists()

    report = timers_sweep_report(now=ship.due_at)
    assert (report.fired, report.cancelled) == (1, 0)
    late = LateShipment.objects.get()
    assert (late.order, late.shop_id, late.due_at, late.detected_at, late.compensation) == (
        order,
        order.shop_id,
        ship.due_at,
        ship.due_at,
        Decimal("3.00"),
    )
    ship.refresh_from_db()
    assert (ship.state, ship.fired_at, ship.reason) == (
        TimerState.FIRED,
        ship.due_at,
        "Not shipped within 48 h of payment: ¥3.00 compensation owed.",
    )
    assert timers_sweep(now=ship.due_at + DAY) == 0
    assert LateShipment.objects.count() == 1
    # Shipping later stops nothing more; the clock does not start again.
    _order_put(order, shipped_at=ship.due_at + DAY)
    assert list(Timer.objects.filter(order=order).values_list("state", flat=True)) == [
        TimerState.FIRED
    ]


@pytest.mark.django_db
def test_a_channel_setting_shortens_the_shipping_clock(shop, channel):
    ClockSetting.objects.create(shop=shop, channel=channel, kind=K.MERCHANT_SHIP, hours=24)
    order = _paid_order(channel)
    ship = Timer.objects.get(order=order)
    assert ship.due_at == order.paid_at + 24 * HOUR
    timers_sweep(now=ship.due_at)
    assert LateShipment.objects.get(order=order).compensation == Decimal("3.00")
    ship.refresh_from_db()
    assert ship.reason == "Not shipped within 24 h of payment: ¥3.00 compensation owed."


@pytest.mark.django_db
def test_an_order_shipped_in_time_meets_its_clock(channel):
    order = _paid_order(channel)
    ship = Timer.objects.get(order=order)
    with at(order.paid_at + 48 * HOUR):
        _order_put(order, shipped_at=order.paid_at + 48 * HOUR)  # to the second: in time
    ship.refresh_from_db()
    assert (ship.state, ship.fired_at, ship.reason) == (
        TimerState.MET,
        order.paid_at + 48 * HOUR,
        "Shipped in time.",
    )
    assert timers_sweep(now=ship.due_at + DAY) == 0
    assert not LateShipment.objects.exists()


@pytest.mark.django_db
def test_an_order_shipped_late_before_the_sweep_still_owes_compensation(channel):
    order = _paid_order(channel)
    ship = Timer.objects.get(order=order)
    shipped = order.paid_at + 48 * HOUR + MINUTE
    with at(shipped + HOUR):
        _order_put(order, shipped_at=shipped)
    ship.refresh_from_db()
    assert (ship.state, ship.fired_at, ship.reason) == (
        TimerState.FIRED,
        shipped + HOUR,
        "Not shipped within 48 h of payment: ¥3.00 compensation owed.",
    )
    late = LateShipment.objects.get()
    assert (late.order, late.due_at, late.detected_at, late.compensation) == (
        order,
        ship.due_at,
        shipped + HOUR,
        Decimal("3.00"),
    )
    assert timers_sweep(now=ship.due_at + DAY) == 0
    assert LateShipment.objects.count() == 1


@pytest.mark.django_db
def test_a_cancelled_order_cancels_its_clock(channel):
    order = _paid_order(channel)
    _order_put(order, cancelled=True)
    ship = Timer.objects.get(order=order)
    assert (ship.state, ship.fired_at, ship.reason) == (
        TimerState.CANCELLED,
        None,
        "The order is cancelled.",
    )
    assert timers_sweep(now=ship.due_at + DAY) == 0
    assert not LateShipment.objects.exists()


@pytest.mark.django_db
def test_an_order_imported_already_shipped_has_no_shipping_clock(channel):
    order = f.order(channel)
    assert not Timer.objects.filter(order=order).exists()
