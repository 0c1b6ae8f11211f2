"""Intercepts (拦截) asked for by the policy and answered by a person or the courier feed, and
the factory round trip (返厂) that ends in a supplier claim: the money to the cent in the
ledger, and refusals that change nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from aftersales.cases import services as cs
from aftersales.cases.models import Case, CaseEvent
from aftersales.channels.models import Shipment
from aftersales.channels.services import OrderData, OrderLineData, ShipmentData, order_upsert
from aftersales.core.errors import Conflict, Invalid
from aftersales.ledger.models import JournalLine, Refund
from aftersales.ledger.selectors import account_balances, trial_balance
from aftersales.logistics import services as ls
from aftersales.logistics.models import (
    CourierEvent,
    Intercept,
    Parcel,
    StockLevel,
    SupplierClaim,
)
from aftersales.logistics.tests.helpers import (
    courier_post,
    order_of,
    repair_in_processing,
    scan,
    sent_back,
    world_state,
)
from aftersales.policies.triggers import case_file
from aftersales.tests import factories as f
from aftersales.tests.contract import assert_error

D = Decimal


def _balanced(shop) -> None:
    debits, credits = trial_balance(shop)
    assert debits == credits


def _moving_refund_only(channel, product, *, qty=2, tracking="SF1") -> Case:
    """A refund-only case on an order whose parcel moved five hours ago."""
    order = order_of(
        channel,
        product,
        qty=qty,
        stage="shipped",
        moved=timezone.now() - timedelta(hours=5),
        tracking=tracking,
    )
    return case_file(actor=None, case_type="refund_only", reason="other", order=order)


@pytest.fixture
def intercepted(channel, products):
    return _moving_refund_only(channel, products["cup"])


# ----------------------------------------------------------------------------- intercepts


def test_the_policy_asks_for_an_intercept_of_a_moving_parcel(intercepted):
    case = Case.objects.get(pk=intercepted.pk)
    intercept = Intercept.objects.get(case=case)
    shipment = Shipment.objects.get(order=case.order)
    assert (case.status, case.decision["rule"], case.decision["applied"]) == (
        "awaiting_merchant",
        "refund_only_in_transit_intercept",
        "intercept",
    )
    assert (intercept.status, intercept.shipment_id, intercept.fee, intercept.entry_id) == (
        "requested",
        shipment.pk,
        D("0.00"),
        None,
    )
    event = CaseEvent.objects.get(case=case, kind="intercept")
    assert event.data == {"intercept": intercept.pk, "courier": "顺丰", "tracking_number": "SF1"}
    assert case.refund_amount is None


def test_stopped_with_a_fee_books_it_and_refunds(intercepted, api_for, agent, shop):
    intercept = Intercept.objects.get(case=intercepted)
    resp = api_for(agent).post(
        f"/intercepts/{intercept.pk}/actions/resolve",
        {"succeeded": True, "fee": "12.00", "note": "顺丰已拦截"},
    )
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert {k: body[k] for k in ("status", "fee", "case_status", "courier", "tracking_number")} == {
        "status": "succeeded",
        "fee": "12.00",
        "case_status": "refunding",
        "courier": "顺丰",
        "tracking_number": "SF1",
    }
    case = Case.objects.get(pk=intercepted.pk)
    assert (case.status, case.refund_amount) == ("refunding", D("100.00"))
    refund = Refund.objects.get(case=case)
    assert (refund.status, refund.amount) == ("pending", D("100.00"))
    balances = account_balances(shop)
    # Asset payment_clearing is debit-normal: the fee paid out of it shows as −12.00.
    assert (balances["intercept_fees"], balances["payment_clearing"]) == (D("12.00"), D("-12.00"))
    result = CaseEvent.objects.get(case=case, kind="intercept_result")
    assert (result.actor_label, result.data) == (
        agent.username,
        {"intercept": intercept.pk, "succeeded": True, "fee": "12.00"},
    )
    _balanced(shop)


def test_resolving_twice_is_409_and_changes_nothing(intercepted, api_for, agent, shop):
    intercept = Intercept.objects.get(case=intercepted)
    api = api_for(agent)
    api.post(f"/intercepts/{intercept.pk}/actions/resolve", {"succeeded": True, "fee": "12.00"})
    before = world_state()
    resp = api.post(
        f"/intercepts/{intercept.pk}/actions/resolve", {"succeeded": False, "fee": "5.00"}
    )
    assert_error(resp, 409, "intercept.resolved", {})
    assert world_state() == before
    _balanced(shop)


def test_not_stopped_leaves_the_case_with_a_person(intercepted, api_for, agent, shop):
    intercept = Intercept.objects.get(case=intercepted)
    resp = api_for(agent).post(f"/intercepts/{intercept.pk}/actions/resolve", {"succeeded": False})
    assert resp.status_code == 200, resp.content
    assert (resp.json()["status"], resp.json()["fee"], resp.json()["case_status"]) == (
        "failed",
        "0.00",
        "awaiting_merchant",
    )
    case = Case.objects.get(pk=intercepted.pk)
    assert (case.status, case.refund_amount) == ("awaiting_merchant", None)
    assert not Refund.objects.filter(case=case).exists()
    assert not JournalLine.objects.filter(shop=shop).exists()


def test_the_courier_feed_answers_an_intercept(intercepted, feed, shop):
    t0 = timezone.now() - timedelta(hours=1)
    resp = courier_post(feed, [scan("s-1", "SF1", "intercepted", t0, description="拦截成功")])
    assert resp.json() == {"stored": 1, "duplicates": 0, "unmatched": 0}
    intercept = Intercept.objects.get(case=intercepted)
    case = Case.objects.get(pk=intercepted.pk)
    shipment = Shipment.objects.get(order=case.order)
    assert (intercept.status, intercept.fee, intercept.entry_id) == ("succeeded", D("0.00"), None)
    assert (case.status, case.refund_amount) == ("refunding", D("100.00"))
    assert shipment.last_movement_at == t0
    assert CourierEvent.objects.get().applied == (
        f"shipment:{shipment.pk} intercepted; intercept:{intercept.pk} succeeded"
    )
    _balanced(shop)


def test_a_delivery_fails_an_open_intercept(intercepted, feed):
    courier_post(feed, [scan("s-1", "SF1", "delivered", timezone.now())])
    intercept = Intercept.objects.get(case=intercepted)
    assert intercept.status == "failed"
    assert Case.objects.get(pk=intercepted.pk).status == "awaiting_merchant"


def test_an_intercept_that_cannot_refund_keeps_the_scan_and_the_rest_of_the_batch(
    channel, products, feed, warehouse
):
    # The order's money already went back through an exchange refunded instead: the refund
    # after the intercept is refused; the scan is kept with why, the next one still applies.
    order = order_of(channel, products["cup"], stage="shipped", moved=timezone.now())
    exchange = f.case(order, case_type="exchange", reason="quality_defect")
    cs.case_approve(case=exchange, actor=None)
    sent_back(exchange, tracking="ZT3")
    cs.case_receive(case=exchange, actor=None)
    cs.case_refund(case=exchange, actor=None, amount=D("108.00"))
    case = case_file(actor=None, case_type="refund_only", reason="other", order=order)
    intercept = Intercept.objects.get(case=case)
    t0 = timezone.now() - timedelta(hours=1)
    resp = courier_post(
        feed,
        [scan("s-1", "SF1", "intercepted", t0), scan("s-2", "ZT3", "delivered", t0)],
    )
    assert resp.status_code == 200, resp.content
    assert resp.json() == {"stored": 2, "duplicates": 0, "unmatched": 0}
    assert Intercept.objects.get(pk=intercept.pk).status == "requested"
    assert Case.objects.get(pk=case.pk).status == "awaiting_merchant"
    applied = dict(CourierEvent.objects.values_list("event_id", "applied"))
    assert applied["s-1"].endswith("; refund.amount_exceeds_paid")
    assert Parcel.objects.get(case=exchange, kind="return").status == "delivered"


def test_a_refund_above_200_after_an_intercept_waits_for_a_team_lead(channel, products, shop):
    case = _moving_refund_only(channel, products["phone"], qty=1)
    intercept = Intercept.objects.get(case=case)
    ls.intercept_resolve(intercept=intercept, actor=None, succeeded=True, fee=D("8.00"))
    case.refresh_from_db()
    assert (case.status, case.approval_role, case.refund_amount) == (
        "awaiting_approval",
        "team_lead",
        None,
    )
    assert case.pending_action == {
        "action": "refund",
        "from": "awaiting_merchant",
        "amount": "1500.00",
        "refund_method": "original",
    }
    assert not Refund.objects.filter(case=case).exists()
    assert account_balances(shop)["intercept_fees"] == D("8.00")


def test_the_intercept_stops_the_shipped_parcel_not_one_never_sent(channel, products):
    # PostgreSQL sorts a missing shipped_at first when descending; the parcel to stop is the
    # one that left.
    now = timezone.now()
    order, _ = order_upsert(
        actor=None,
        channel=channel,
        data=OrderData(
            external_id="TWO-PARCELS",
            lines=[OrderLineData(sku="CUP", quantity=2, unit_price=D("50.00"))],
            paid_at=now - timedelta(days=3),
            shipped_at=now - timedelta(days=2),
            shipments=[
                ShipmentData("顺丰", "SF-LEFT", now - timedelta(days=2), now - timedelta(hours=3)),
                ShipmentData("顺丰", "SF-LABEL-ONLY", None, None),
            ],
        ),
    )
    case = case_file(actor=None, case_type="refund_only", reason="other", order=order)
    assert Intercept.objects.get(case=case).shipment.tracking_number == "SF-LEFT"


def test_another_shops_intercept_is_404_and_a_qa_reviewer_403(
    intercepted, api_for, other_shop, shop
):
    intercept = Intercept.objects.get(case=intercepted)
    before = world_state()
    stranger = api_for(f.user("agent", [other_shop]))
    resp = stranger.post(f"/intercepts/{intercept.pk}/actions/resolve", {"succeeded": True})
    assert_error(resp, 404, "intercept.not_found", {})
    qa = api_for(f.user("qa", [shop]))
    resp = qa.post(f"/intercepts/{intercept.pk}/actions/resolve", {"succeeded": True})
    assert_error(resp, 403, "permission.denied", {"permission": "cases.act_intercept"})
    assert world_state() == before


def test_a_negative_fee_is_422_and_changes_nothing(intercepted, api_for, agent):
    intercept = Intercept.objects.get(case=intercepted)
    before = world_state()
    resp = api_for(agent).post(
        f"/intercepts/{intercept.pk}/actions/resolve", {"succeeded": True, "fee": "-1.00"}
    )
    assert_error(resp, 422, "request.invalid", {"fee"})
    assert world_state() == before


# ----------------------------------------------------------------------------- factory


@pytest.fixture
def repairing(channel, products):
    return repair_in_processing(order_of(channel, products["phone"], qty=1, days=100))


def test_factory_round_trip_books_a_supplier_claim_and_settles_it(
    repairing, api_for, warehouse, shop, finance
):
    wh = api_for(f.user("warehouse", [shop]))
    resp = wh.post(
        f"/cases/{repairing.pk}/actions/factory_send",
        {"factory": "富士康售后中心", "courier": "顺丰", "tracking_number": "SF-F1"},
    )
    assert resp.status_code == 200, resp.content
    assert resp.json()["status"] == "processing"
    sent = Parcel.objects.get(case=repairing, kind="to_factory")
    assert (sent.status, sent.factory, sent.tracking_number) == (
        "in_transit",
        "富士康售后中心",
        "SF-F1",
    )
    before = world_state()
    resp = wh.post(
        f"/cases/{repairing.pk}/actions/factory_send",
        {"factory": "富士康售后中心", "courier": "顺丰", "tracking_number": "SF-F2"},
    )
    assert_error(resp, 409, "factory.already_there", {})
    assert world_state() == before

    resp = wh.post(
        f"/cases/{repairing.pk}/actions/factory_receive",
        {"courier": "顺丰", "tracking_number": "SF-F9", "claim_amount": "150.00"},
    )
    assert resp.status_code == 200, resp.content
    claim = SupplierClaim.objects.get(case=repairing)
    assert (claim.supplier, claim.amount, claim.status) == ("富士康售后中心", D("150.00"), "open")
    parcels = list(
        Parcel.objects.filter(case=repairing)
        .exclude(kind="return")
        .order_by("pk")
        .values_list("kind", "status", "factory", "tracking_number")
    )
    assert parcels == [
        ("to_factory", "delivered", "富士康售后中心", "SF-F1"),
        ("from_factory", "delivered", "富士康售后中心", "SF-F9"),
    ]
    balances = account_balances(shop)
    assert (balances["supplier_recoverable"], balances["supplier_recoveries"]) == (
        D("150.00"),
        D("150.00"),
    )
    _balanced(shop)

    before = world_state()
    resp = wh.post(
        f"/cases/{repairing.pk}/actions/factory_receive",
        {"courier": "顺丰", "tracking_number": "SF-F9", "claim_amount": "150.00"},
    )
    assert_error(resp, 409, "factory.not_there", {})
    assert world_state() == before

    resp = api_for(finance).post(f"/supplier-claims/{claim.pk}/actions/settle", {"paid": True})
    assert resp.status_code == 200, resp.content
    assert (resp.json()["status"], resp.json()["amount"]) == ("settled", "150.00")
    balances = account_balances(shop)
    assert (
        balances["payment_clearing"],
        balances["supplier_recoverable"],
        balances["supplier_recoveries"],
    ) == (D("150.00"), D("0.00"), D("150.00"))
    _balanced(shop)

    before = world_state()
    resp = api_for(finance).post(f"/supplier-claims/{claim.pk}/actions/settle", {"paid": False})
    assert_error(resp, 409, "claim.settled", {})
    assert world_state() == before


def test_a_claim_the_supplier_refuses_reverses_the_recovery(repairing, shop, finance, api_for):
    ls.case_factory_send(
        case=repairing, actor=None, factory="厂", courier="顺丰", tracking_number="SF-F1"
    )
    ls.case_factory_receive(
        case=repairing,
        actor=None,
        courier="顺丰",
        tracking_number="SF-F2",
        claim_amount=D("80.50"),
    )
    claim = SupplierClaim.objects.get(case=repairing)
    resp = api_for(finance).post(f"/supplier-claims/{claim.pk}/actions/settle", {"paid": False})
    assert resp.json()["status"] == "rejected"
    balances = account_balances(shop)
    assert (
        balances["payment_clearing"],
        balances["supplier_recoverable"],
        balances["supplier_recoveries"],
    ) == (D("0.00"), D("0.00"), D("0.00"))
    _balanced(shop)


def test_a_factory_return_without_a_claim_books_nothing(repairing, shop):
    ls.case_factory_send(
        case=repairing, actor=None, factory="厂", courier="顺丰", tracking_number="SF-F1"
    )
    ls.case_factory_receive(case=repairing, actor=None, courier="顺丰", tracking_number="SF-F2")
    assert not SupplierClaim.objects.exists()
    assert not JournalLine.objects.filter(shop=shop).exists()


def test_a_zero_claim_is_refused_and_the_item_stays_at_the_factory(repairing):
    ls.case_factory_send(
        case=repairing, actor=None, factory="厂", courier="顺丰", tracking_number="SF-F1"
    )
    before = world_state()
    with pytest.raises(Invalid) as refused:
        ls.case_factory_receive(
            case=repairing,
            actor=None,
            courier="顺丰",
            tracking_number="SF-F2",
            claim_amount=D("0.00"),
        )
    assert (refused.value.status, refused.value.code) == (422, "factory.invalid")
    assert world_state() == before
    assert Parcel.objects.get(case=repairing, kind="to_factory").status == "in_transit"


def test_nothing_comes_back_from_a_factory_it_never_went_to(repairing):
    before = world_state()
    with pytest.raises(Conflict) as refused:
        ls.case_factory_receive(case=repairing, actor=None, courier="顺丰", tracking_number="X")
    assert (refused.value.status, refused.value.code) == (409, "factory.not_there")
    assert world_state() == before


def test_only_a_repair_in_processing_goes_to_the_factory(channel, products):
    case = f.case(order_of(channel, products["cup"]), reason="quality_defect")
    before = world_state()
    with pytest.raises(Conflict) as refused:
        ls.case_factory_send(
            case=case, actor=None, factory="厂", courier="顺丰", tracking_number="SF-F1"
        )
    assert (refused.value.status, refused.value.code) == (409, "case.invalid_transition")
    assert world_state() == before


def test_an_agent_may_not_settle_a_claim_nor_another_shop_see_it(
    repairing, api_for, agent, other_shop
):
    ls.case_factory_send(
        case=repairing, actor=None, factory="厂", courier="顺丰", tracking_number="SF-F1"
    )
    ls.case_factory_receive(
        case=repairing,
        actor=None,
        courier="顺丰",
        tracking_number="SF-F2",
        claim_amount=D("150.00"),
    )
    claim = SupplierClaim.objects.get()
    before = world_state()
    resp = api_for(agent).post(f"/supplier-claims/{claim.pk}/actions/settle", {"paid": True})
    assert_error(resp, 403, "permission.denied", {"permission": "logistics.change_supplierclaim"})
    outsider = api_for(f.user("finance", [other_shop]))
    resp = outsider.post(f"/supplier-claims/{claim.pk}/actions/settle", {"paid": True})
    assert_error(resp, 404, "claim.not_found", {})
    assert world_state() == before


def test_the_repair_stock_came_from_receiving_with_the_inspection(repairing):
    level = StockLevel.objects.get(sku="PHONE")
    assert (level.sellable, level.refurbish, level.scrap, level.supplier) == (0, 1, 0, 0)
