"""Every (type, status, action) triple: allowed moves land where the table says and write one
event; every other move is refused with case.invalid_transition and changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from aftersales.cases import services
from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.states import (
    ACTIONS,
    PENDING,
    RESUME,
    SAME,
    CaseStatus,
    CaseType,
    target_status,
)
from aftersales.channels.models import ChannelKind, Shipment
from aftersales.core.errors import Conflict
from aftersales.logistics.models import Parcel
from aftersales.tests import factories as f

# What awaiting_approval is waiting for, per type (refund decisions where a type has one).
PENDING_BY_TYPE = {
    CaseType.REFUND_ONLY: ("approve", CaseStatus.AWAITING_MERCHANT),
    CaseType.RETURN_REFUND: ("refund", CaseStatus.INSPECTING),
    CaseType.EXCHANGE: ("refund", CaseStatus.INSPECTING),
    CaseType.REPAIR: ("approve", CaseStatus.AWAITING_MERCHANT),
    CaseType.REISSUE: ("approve", CaseStatus.AWAITING_MERCHANT),
    CaseType.COMPLAINT: ("approve", CaseStatus.AWAITING_MERCHANT),
    CaseType.PARTNER_DISPUTE: ("approve", CaseStatus.AWAITING_MERCHANT),
}


@pytest.fixture
def world(db):
    shop = f.shop("t")
    sales = f.channel(shop)
    partner = f.channel(shop, kind=ChannelKind.PARTNER, code="agents")
    boss = User.objects.create_superuser("boss", password="x")
    requester = f.user("agent", [shop], "requester")
    return {"shop": shop, "sales": sales, "partner": partner, "boss": boss, "req": requester}


def _make_case(world, case_type: str, status: str) -> Case:
    if case_type == CaseType.COMPLAINT:
        case = f.case(None, case_type, "service_attitude", shop=world["shop"])
    elif case_type == CaseType.PARTNER_DISPUTE:
        case = f.case(
            None,
            case_type,
            "other",
            partner=world["partner"],
            dispute_class="profit_share",
            dispute_nature="benign",
        )
    else:
        case = f.case(f.order(world["sales"]), case_type, "quality_defect")
    setup: dict = {"status": status}
    if status == CaseStatus.AWAITING_CUSTOMER:
        setup["resume_status"] = CaseStatus.AWAITING_MERCHANT
    if status == CaseStatus.AWAITING_APPROVAL:
        action, from_status = PENDING_BY_TYPE[case_type]
        pending = {"action": action, "from": from_status}
        if action == "refund" or case_type == CaseType.REFUND_ONLY:
            pending.update({"amount": "10.00", "refund_method": "original"})
        setup.update(pending_action=pending, approval_role="team_lead", requested_by=world["req"])
    if status == CaseStatus.REJECTED:
        setup["rejected_at"] = timezone.now()
    if status == CaseStatus.REFUNDING:
        setup.update(refund_amount=Decimal("10.00"), refund_method="original")
    Case.objects.filter(pk=case.pk).update(**setup)
    return Case.objects.get(pk=case.pk)


def _call(action: str, case: Case, actor) -> Case:
    kw = {"case": case, "actor": actor}
    if action in ("reject", "appeal"):
        kw["note"] = "原因说明"
    elif action == "request_info":
        kw["question"] = "请补充外包装照片"
    elif action == "provide_info":
        kw["answer"] = "已上传"
    elif action in ("record_return", "ship"):
        kw.update(courier="顺丰", tracking_number="SF1000000001")
    elif action == "receive":
        kw["inspections"] = [
            services.LineInspection(cl.pk, "resellable", "restock") for cl in case.lines.all()
        ]
    elif action == "complete" and case.type in (CaseType.COMPLAINT, CaseType.PARTNER_DISPUTE):
        kw["outcome"] = "explained"
    elif action == "comment":
        kw["text"] = "内部备注"
    elif action == "assign":
        kw["assignee"] = actor
    elif action == "inspect":
        kw["inspections"] = [
            services.LineInspection(cl.pk, "refurbish", "refurbish") for cl in case.lines.all()
        ]
    elif action == "refund_settled":
        kw["refund_key"] = "RF-T"
    elif action == "refund_failed":
        kw.update(
            refund_key="RF-T",
            back_to=REFUND_FAILED_TO.get(case.type, "awaiting_merchant"),
            reason="余额不足",
        )
    elif action == "compensate":
        kw.update(amount=Decimal("5.00"), note="致歉")
    elif action == "intercept" and case.order_id:
        Shipment.objects.get_or_create(
            shop_id=case.shop_id, order_id=case.order_id, courier="顺丰", tracking_number="SF9"
        )
    elif action == "factory_send":
        kw.update(factory="深圳工厂", courier="顺丰", tracking_number="SF7")
    elif action == "factory_receive":
        kw.update(courier="顺丰", tracking_number="SF8")
        Parcel.objects.create(
            shop_id=case.shop_id,
            case=case,
            kind="to_factory",
            status="in_transit",
            factory="深圳工厂",
            created_at=timezone.now(),
        )
    return services.ACTION_SERVICES[action](**kw)


# Where a refused refund sends the case back: where its refund was decided.
REFUND_FAILED_TO = {
    CaseType.REFUND_ONLY: CaseStatus.AWAITING_MERCHANT,
    CaseType.RETURN_REFUND: CaseStatus.INSPECTING,
    CaseType.EXCHANGE: CaseStatus.INSPECTING,
}


def _expected(case: Case, action: str, status: str) -> str | None:
    target = target_status(case.type, action, status)
    if target == SAME:
        return status
    if target == RESUME:
        return REFUND_FAILED_TO[case.type] if action == "refund_failed" else case.resume_status
    if target == PENDING:
        pending = case.pending_action
        return target_status(case.type, pending["action"], pending["from"])
    return target


def test_every_action_has_a_service():
    assert sorted(services.ACTION_SERVICES) == ACTIONS


@pytest.mark.parametrize("case_type", CaseType.values)
@pytest.mark.parametrize("action", ACTIONS)
def test_transition_table_is_enforced(world, case_type, action):
    allowed = refused = 0
    for status in CaseStatus.values:
        case = _make_case(world, case_type, status)
        expected = _expected(case, action, status)
        events_before = CaseEvent.objects.filter(case=case).count()
        if expected is None:
            with pytest.raises(Conflict) as exc:
                _call(action, case, world["boss"])
            assert exc.value.code == "case.invalid_transition"
            assert Case.objects.get(pk=case.pk).status == status
            assert CaseEvent.objects.filter(case=case).count() == events_before
            refused += 1
            continue
        _call(action, case, world["boss"])  # updates the caller's case in place
        stored = Case.objects.get(pk=case.pk)
        assert (case.status, stored.status) == (expected, expected), (status, action)
        event = CaseEvent.objects.filter(case=case).latest("id")
        assert CaseEvent.objects.filter(case=case).count() == events_before + 1
        assert (event.kind, event.from_status, event.to_status) == (action, status, expected)
        assert event.actor == world["boss"]
        allowed += 1
    assert allowed + refused == len(CaseStatus.values)
    # Every action is possible from somewhere for the types that use it.
    if action in ("comment", "close", "escalate", "assign", "reject", "approve"):
        assert allowed >= 1
