"""The flows of DESIGN §4, written out literally so the transition table is checked against
the spec rather than against itself; plus approvals, claims, refunds and appeals."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from aftersales.cases import services as s
from aftersales.cases.models import Case, CaseEvent, CaseLine, Priority
from aftersales.channels.models import ChannelKind
from aftersales.core.errors import Conflict, Forbidden, Invalid
from aftersales.tests import factories as f


def _statuses(case: Case) -> list[str]:
    return list(
        CaseEvent.objects.filter(case=case).order_by("id").values_list("to_status", flat=True)
    )


def _receive(case, actor):
    lines = [s.LineInspection(cl.pk, "resellable", "restock") for cl in case.lines.all()]
    return s.case_receive(case=case, actor=actor, inspections=lines)


def test_refund_only_flow(order, agent):
    case = f.case(order, "refund_only", "not_delivered")
    s.case_approve(case=case, actor=agent)
    assert (case.status, case.refund_amount, case.refund_method) == (
        "refunding",
        Decimal("100.00"),
        "original",
    )
    f.refund_settle(case)
    assert (case.status, case.outcome) == ("succeeded", "refunded")
    assert _statuses(case) == ["awaiting_merchant", "refunding", "succeeded"]
    assert case.closed_at is not None


def test_return_refund_flow_with_store_credit(order, agent, warehouse):
    case = f.case(order, "return_refund", "no_reason")
    s.case_approve(case=case, actor=agent)
    s.case_record_return(case=case, actor=agent, courier="中通", tracking_number="ZT778899")
    _receive(case, warehouse)
    s.case_refund(case=case, actor=agent, refund_method="store_credit")
    f.refund_settle(case)
    assert _statuses(case) == [
        "awaiting_merchant",
        "awaiting_return",
        "return_in_transit",
        "inspecting",
        "refunding",
        "succeeded",
    ]
    assert (case.outcome, case.return_tracking_number) == ("store_credit", "ZT778899")
    assert list(case.lines.values_list("grade", "disposition")) == [("resellable", "restock")]


def test_exchange_flow(order, agent, warehouse):
    case = f.case(order, "exchange", "wrong_item")
    s.case_approve(case=case, actor=agent)
    s.case_record_return(case=case, actor=agent, courier="圆通", tracking_number="YT1")
    _receive(case, warehouse)
    s.case_process(case=case, actor=warehouse)
    s.case_ship(case=case, actor=warehouse, courier="顺丰", tracking_number="SF2")
    s.case_complete(case=case, actor=warehouse)
    assert _statuses(case) == [
        "awaiting_merchant",
        "awaiting_return",
        "return_in_transit",
        "inspecting",
        "processing",
        "shipping_to_customer",
        "succeeded",
    ]
    assert (case.outcome, case.outbound_tracking_number) == ("exchanged", "SF2")


def test_repair_flow_with_quote(order, agent, warehouse):
    case = f.case(order, "repair", "quality_defect")
    s.case_request_info(
        case=case,
        actor=agent,
        question="保修已过，维修报价 80 元，是否接受？",
        quote_amount=Decimal("80"),
    )
    assert (case.status, case.quote_amount) == ("awaiting_customer", Decimal("80.00"))
    s.case_provide_info(case=case, actor=agent, answer="接受", accept_quote=True)
    assert case.status == "awaiting_return"
    s.case_record_return(case=case, actor=agent, courier="韵达", tracking_number="YD1")
    _receive(case, warehouse)
    s.case_process(case=case, actor=warehouse)
    s.case_ship(case=case, actor=warehouse, courier="顺丰", tracking_number="SF3")
    s.case_complete(case=case, actor=warehouse)
    assert _statuses(case) == [
        "awaiting_merchant",
        "awaiting_customer",
        "awaiting_return",
        "return_in_transit",
        "inspecting",
        "processing",
        "shipping_to_customer",
        "succeeded",
    ]
    assert case.outcome == "repaired"


def test_repair_quote_declined_closes_as_withdrawn(order, agent):
    case = f.case(order, "repair", "quality_defect")
    s.case_request_info(case=case, actor=agent, question="报价 80 元", quote_amount=Decimal("80"))
    s.case_provide_info(case=case, actor=agent, answer="太贵了", accept_quote=False)
    assert (case.status, case.outcome) == ("closed", "withdrawn")


def test_reissue_flow(order, agent, warehouse):
    case = f.case(order, "reissue", "missing_item")
    s.case_approve(case=case, actor=agent)
    s.case_ship(case=case, actor=warehouse, courier="顺丰", tracking_number="SF4")
    s.case_complete(case=case, actor=warehouse)
    assert _statuses(case) == [
        "awaiting_merchant",
        "processing",
        "shipping_to_customer",
        "succeeded",
    ]
    assert case.outcome == "reissued"


def test_complaint_without_order_cites_payment_and_is_urgent_when_money(shop, agent):
    case = f.case(
        None, "complaint", "funds_not_received", shop=shop, payment_reference="2026112022001"
    )
    assert (case.order_id, case.payment_reference) == (None, "2026112022001")
    assert (case.priority, case.priority_reason) == (Priority.URGENT, "money")
    s.case_approve(case=case, actor=agent)
    with pytest.raises(Invalid) as exc:
        s.case_complete(case=case, actor=agent)
    assert exc.value.fields == {"outcome": "compensated or explained"}
    assert Case.objects.get(pk=case.pk).status == "processing"
    s.case_complete(case=case, actor=agent, outcome="compensated")
    assert _statuses(case) == ["awaiting_merchant", "processing", "succeeded"]
    assert case.outcome == "compensated"


def test_partner_dispute_names_a_partner_channel(shop, agent):
    partner = f.channel(shop, kind=ChannelKind.PARTNER, code="agents")
    case = f.case(
        None,
        "partner_dispute",
        "other",
        partner=partner,
        dispute_class="payment_terms",
        dispute_nature="malignant",
    )
    assert (case.shop_id, case.channel_id, case.dispute_class) == (
        shop.pk,
        partner.pk,
        "payment_terms",
    )
    s.case_reject(case=case, actor=agent, note="账期按合同执行")
    assert case.status == "rejected"


def test_partner_dispute_refuses_a_sales_channel(shop, channel):
    with pytest.raises(Invalid) as exc:
        f.case(
            None,
            "partner_dispute",
            "other",
            partner=channel,
            dispute_class="profit_share",
            dispute_nature="benign",
        )
    assert set(exc.value.fields) == {"partner_id"}
    assert Case.objects.count() == 0


def test_order_types_need_an_order(shop):
    with pytest.raises(Invalid) as exc:
        f.case(None, "return_refund", "no_reason", shop=shop)
    assert exc.value.code == "case.order_required"
    assert Case.objects.count() == 0


@pytest.mark.parametrize(
    ("kw", "priority", "why"),
    [
        ({"reason": "unexpected_charge"}, Priority.URGENT, "money"),
        ({"safety_issue": True}, Priority.URGENT, "safety"),
        ({"escalated_to": "regulator_12315"}, Priority.URGENT, "escalated_outside"),
        ({"emotion": "furious"}, Priority.HIGH, "complaint_or_upset"),
        ({"reason": "usage_question"}, Priority.LOW, "question"),
        ({}, Priority.NORMAL, "default"),
    ],
)
def test_priority_is_derived(order, kw, priority, why):
    reason = kw.pop("reason", "quality_defect")
    case = f.case(order, "return_refund", reason, **kw)
    assert (case.priority, case.priority_reason) == (priority, why)


def test_platform_escalation_makes_a_case_urgent(order, agent):
    case = f.case(order, "return_refund", "quality_defect")
    s.case_escalate(case=case, actor=agent, escalated_to="platform_arbitration")
    assert (case.priority, case.priority_reason, case.escalated_to) == (
        Priority.URGENT,
        "escalated_outside",
        "platform_arbitration",
    )


def test_internal_escalation_climbs_the_ladder_and_stops_at_manager(order, agent):
    case = f.case(order, "return_refund", "quality_defect")
    s.case_escalate(case=case, actor=agent, note="客户要求主管处理")
    s.case_escalate(case=case, actor=agent)
    assert case.escalation_level == 2
    with pytest.raises(Conflict) as exc:
        s.case_escalate(case=case, actor=agent)
    assert exc.value.code == "case.escalation_at_top"
    assert Case.objects.get(pk=case.pk).escalation_level == 2
    assert [e.data["to_role"] for e in CaseEvent.objects.filter(case=case, kind="escalate")] == [
        "team_lead",
        "manager",
    ]


# ----------------------------------------------------------------------------- claims


def test_refund_claims_cannot_exceed_what_was_bought(order):
    line = order.lines.get()
    f.case(order, "return_refund", "no_reason", lines=[(line, 1)])
    with pytest.raises(Invalid) as exc:
        f.case(order, "refund_only", "quality_defect", lines=[(line, 2)])
    assert exc.value.code == "case.invalid_lines"
    assert exc.value.fields == {"lines.0.quantity": "Only 1 of 2 can still be claimed."}
    assert Case.objects.count() == 1
    # A rejected claim gives its units back.
    second = f.case(order, "refund_only", "quality_defect", lines=[(line, 1)])
    assert CaseLine.objects.get(case=second).quantity == 1


def test_default_lines_are_what_is_left_to_claim(order):
    line = order.lines.get()
    f.case(order, "return_refund", "no_reason", lines=[(line, 1)])
    rest = f.case(order, "refund_only", "quality_defect")
    assert list(rest.lines.values_list("order_line_id", "quantity")) == [(line.pk, 1)]
    with pytest.raises(Invalid) as exc:
        f.case(order, "refund_only", "quality_defect")
    assert exc.value.code == "case.nothing_left"


def test_line_of_another_order_is_refused(channel, order):
    other = f.order(channel)
    with pytest.raises(Invalid) as exc:
        f.case(order, "return_refund", "no_reason", lines=[(other.lines.get(), 1)])
    assert exc.value.fields == {"lines.0.order_line_id": "This line is not part of the order."}


# ----------------------------------------------------------------------------- refunds


def test_refund_is_prorated_per_unit_to_the_cent(channel, shop, agent):
    p = f.product(shop, price="33.33")
    order = f.order(channel, [(p, 3, "33.33", "0.01")], shipping_fee="8.00")
    assert order.total_paid == Decimal("107.98")
    case = f.case(order, "refund_only", "quality_defect", lines=[(order.lines.get(), 1)])
    s.case_approve(case=case, actor=agent)
    # 99.98 paid for 3 units: one unit is 33.33 (half-up of 33.3266…).
    assert case.refund_amount == Decimal("33.33")


def test_refund_above_what_is_left_on_the_order_is_refused(order, manager):
    case = f.case(order, "refund_only", "quality_defect")
    with pytest.raises(Invalid) as exc:
        s.case_approve(case=case, actor=manager, amount=Decimal("100.01"))
    assert exc.value.code == "refund.amount_exceeds_paid"
    stored = Case.objects.get(pk=case.pk)
    assert (stored.status, stored.refund_amount) == ("awaiting_merchant", None)
    assert CaseEvent.objects.filter(case=case).count() == 1


def test_refund_above_agent_limit_waits_for_a_team_lead(channel, shop, agent, lead, manager):
    p = f.product(shop, price="1500.00")
    order = f.order(channel, [(p, 1, "1500.00", "0.00")])
    case = f.case(order, "refund_only", "quality_defect")
    s.case_approve(case=case, actor=agent)
    assert (case.status, case.approval_role, case.refund_amount) == (
        "awaiting_approval",
        "team_lead",
        None,
    )
    assert case.pending_action == {
        "action": "approve",
        "from": "awaiting_merchant",
        "amount": "1500.00",
        "refund_method": "original",
    }
    # Another agent may not approve; the requester may not approve their own request.
    other_agent = f.user("agent", [shop], "agent2")
    with pytest.raises(Forbidden) as exc:
        s.case_approve(case=case, actor=other_agent)
    assert exc.value.code == "approval.limit_exceeded"
    with pytest.raises(Forbidden) as exc:
        s.case_approve(case=case, actor=agent)
    assert exc.value.code == "approval.own_request"
    assert Case.objects.get(pk=case.pk).status == "awaiting_approval"
    s.case_approve(case=case, actor=lead)
    assert (case.status, case.refund_amount, case.pending_action) == (
        "refunding",
        Decimal("1500.00"),
        None,
    )


def test_refund_above_lead_limit_needs_a_manager(channel, shop, lead, manager):
    p = f.product(shop, price="2500.00")
    order = f.order(channel, [(p, 1, "2500.00", "0.00")])
    case = f.case(order, "return_refund", "quality_defect")
    Case.objects.filter(pk=case.pk).update(status="inspecting")
    s.case_refund(case=case, actor=lead)
    assert (case.status, case.approval_role) == ("awaiting_approval", "manager")
    s.case_approve(case=case, actor=manager)
    assert (case.status, case.refund_amount) == ("refunding", Decimal("2500.00"))


def test_refund_within_limit_needs_no_approval(order, agent):
    case = f.case(order, "refund_only", "quality_defect")
    s.case_approve(case=case, actor=agent, amount=Decimal("60.00"))
    assert (case.status, case.refund_amount) == ("refunding", Decimal("60.00"))


def test_roles_without_permission_are_refused(order, warehouse):
    case = f.case(order, "refund_only", "quality_defect")
    with pytest.raises(Forbidden) as exc:
        s.case_approve(case=case, actor=warehouse)
    assert exc.value.fields == {"permission": "cases.act_approve"}
    assert Case.objects.get(pk=case.pk).status == "awaiting_merchant"


# ----------------------------------------------------------------------------- appeals


def test_appeal_reopens_one_rung_higher_within_seven_days(order, agent):
    case = f.case(order, "return_refund", "no_reason")
    s.case_reject(case=case, actor=agent, note="已超过7天")
    assert case.rejected_at is not None
    s.case_appeal(case=case, actor=agent, note="签收才5天")
    assert (case.status, case.escalation_level, case.rejected_at, case.closed_at) == (
        "awaiting_merchant",
        1,
        None,
        None,
    )


def test_appeal_after_seven_days_is_refused(order, agent):
    case = f.case(order, "return_refund", "no_reason")
    s.case_reject(case=case, actor=agent, note="不符合")
    Case.objects.filter(pk=case.pk).update(
        rejected_at=timezone.now() - timedelta(days=7, minutes=1)
    )
    with pytest.raises(Conflict) as exc:
        s.case_appeal(case=case, actor=agent, note="再看看")
    assert exc.value.code == "case.appeal_window_passed"
    assert Case.objects.get(pk=case.pk).status == "rejected"


def test_cancel_records_withdrawn_and_comment_works_on_closed_cases(order, agent):
    case = f.case(order, "return_refund", "no_reason")
    s.case_cancel(case=case, actor=agent, note="不想退了")
    assert (case.status, case.outcome) == ("closed", "withdrawn")
    s.case_comment(case=case, actor=agent, text="客户已确认撤销", internal=True)
    assert CaseEvent.objects.filter(case=case).latest("id").data == {"internal": True}


def test_assign_refuses_a_user_of_another_shop(order, agent, other_shop):
    outsider = f.user("agent", [other_shop], "outsider")
    case = f.case(order, "return_refund", "no_reason")
    with pytest.raises(Invalid) as exc:
        s.case_assign(case=case, actor=agent, assignee=outsider)
    assert exc.value.fields == {"assignee_id": "Not an active member of this shop."}
    assert Case.objects.get(pk=case.pk).assignee_id is None


@pytest.mark.parametrize("action", ["reject", "cancel", "close"])
def test_ending_a_case_awaiting_approval_clears_the_request(channel, shop, agent, lead, action):
    p = f.product(shop, price="900.00")
    case = f.case(f.order(channel, [(p, 1, "900.00", "0.00")]), "refund_only", "quality_defect")
    s.case_approve(case=case, actor=agent)
    assert (case.status, case.requested_by_id) == ("awaiting_approval", agent.pk)
    kw = {"note": "作废"} if action == "reject" else {}
    s.ACTION_SERVICES[action](case=case, actor=lead, **kw)
    stored = Case.objects.get(pk=case.pk)
    assert (stored.pending_action, stored.approval_role, stored.requested_by_id) == (None, "", None)
