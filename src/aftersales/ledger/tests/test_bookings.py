"""What else the ledger books: goodwill inside an agent's monthly budget (approval above it),
the late-shipment coupon, repair fees, and penalties a marketplace deducts."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from aftersales.cases import services as s
from aftersales.core.errors import Forbidden, Invalid
from aftersales.ledger.compensation import compensation_decide, compensation_give
from aftersales.ledger.models import (
    BudgetMonth,
    Compensation,
    CompensationBudget,
    CustomerCredit,
    JournalEntry,
)
from aftersales.ledger.selectors import account_balances, trial_balance
from aftersales.sla.firing import timers_sweep
from aftersales.sla.models import Timer
from aftersales.sla.tests.clock import at
from aftersales.tests import factories as f

D = Decimal


def _state(shop) -> tuple:
    return (
        Compensation.objects.count(),
        CustomerCredit.objects.count(),
        JournalEntry.objects.filter(shop=shop).count(),
    )


# --------------------------------------------------------------------------- goodwill


def test_goodwill_inside_the_budget_is_granted_above_it_waits(shop, order, agent, lead, api_for):
    case = f.case(order, "complaint", "service_attitude")
    first = compensation_give(case=case, actor=agent, amount=D("300"), note="物流慢，致歉")
    assert (first.status, first.kind, first.credit.amount) == ("granted", "coupon", D("300.00"))
    second = compensation_give(case=case, actor=agent, amount=D("250.00"), note="再次致歉")
    assert (second.status, second.credit_id) == ("awaiting_approval", None)
    assert BudgetMonth.objects.get(agent=agent).spent == D("300.00")
    event = case.events.filter(kind="compensate").latest("id")
    assert (event.data["status"], event.data["budget_left"]) == ("awaiting_approval", "200.00")
    assert account_balances(shop)["coupon_liability"] == D("300.00")

    refused = api_for(agent).post(f"/compensations/{second.pk}/actions/approve", {})
    assert refused.status_code == 403
    assert Compensation.objects.get(pk=second.pk).status == "awaiting_approval"

    approved = api_for(lead).post(f"/compensations/{second.pk}/actions/approve", {"note": "同意"})
    assert approved.status_code == 200, approved.content
    assert (approved.json()["status"], approved.json()["decided_by_id"]) == ("granted", lead.pk)
    balances = account_balances(shop)
    assert (balances["compensation"], balances["coupon_liability"]) == (D("550.00"), D("550.00"))
    again = api_for(lead).post(f"/compensations/{second.pk}/actions/approve", {})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "compensation.decided")
    assert trial_balance(shop)[0] == trial_balance(shop)[1] == D("550.00")


def test_nobody_approves_their_own_goodwill_and_refusals_book_nothing(shop, order, lead):
    case = f.case(order, "complaint", "service_attitude")
    CompensationBudget.objects.create(shop=shop, agent=lead, monthly=D("100.00"))
    comp = compensation_give(case=case, actor=lead, amount=D("150.00"), note="赔偿")
    before = _state(shop)
    with pytest.raises(Forbidden) as exc:
        compensation_decide(compensation=comp, actor=lead, approve=True)
    assert exc.value.code == "approval.own_request"
    with pytest.raises(Invalid) as bad:
        compensation_give(case=case, actor=lead, amount=D("0.00"), note="")
    assert set(bad.value.fields) == {"amount", "note"}
    assert _state(shop) == before
    manager = f.user("manager", [shop])
    refused = compensation_decide(compensation=comp, actor=manager, approve=False)
    assert (refused.status, refused.credit_id) == ("refused", None)
    assert _state(shop) == before


def test_an_agents_own_budget_overrides_the_shops(shop, order, agent):
    CompensationBudget.objects.create(shop=shop, agent=None, monthly=D("50.00"))
    case = f.case(order, "complaint", "service_attitude")
    assert compensation_give(case=case, actor=agent, amount=D("60"), note="x").status == (
        "awaiting_approval"
    )
    CompensationBudget.objects.create(shop=shop, agent=agent, monthly=D("1000.00"))
    comp = compensation_give(case=case, actor=agent, amount=D("60"), note="x", kind="store_credit")
    assert (comp.status, comp.credit.kind) == ("granted", "store_credit")
    assert account_balances(shop)["store_credit"] == D("60.00")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_two_grants_at_once_cannot_both_fit_in_what_is_left():
    shop = f.shop("budget-race")
    order = f.order(f.channel(shop))
    agent = f.user("agent", [shop], "budget-racer")
    cases = [f.case(order, "complaint", "service_attitude") for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[str] = []

    def give(case) -> None:
        try:
            barrier.wait()
            comp = compensation_give(case=case, actor=agent, amount=D("300.00"), note="并发")
            results.append(comp.status)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=give, args=(c,)) for c in cases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == ["awaiting_approval", "granted"]
    assert BudgetMonth.objects.get(agent=agent).spent == D("300.00")
    assert account_balances(shop)["compensation"] == D("300.00")


# --------------------------------------------------------------------------- clocks, repairs


@pytest.mark.django_db
def test_a_late_shipment_books_its_coupon_once(channel):
    with at(f.NOW):
        order = f.order(channel, shipped=False)
    ship = Timer.objects.get(order=order)
    timers_sweep(now=ship.due_at)
    credit = CustomerCredit.objects.get(order=order)
    assert (credit.kind, credit.amount, credit.customer_id) == (
        "coupon",
        D("3.00"),
        order.customer_id,
    )
    assert sorted(
        (line.account.code, line.debit, line.credit)
        for line in credit.entry.lines.select_related("account")
    ) == [("compensation", D("3.00"), D("0.00")), ("coupon_liability", D("0.00"), D("3.00"))]
    timers_sweep(now=ship.due_at + (ship.due_at - order.paid_at))
    assert CustomerCredit.objects.filter(order=order).count() == 1


def test_an_out_of_warranty_repair_books_its_fee_when_done(shop, order, agent, warehouse):
    case = f.case(order, "repair", "quality_defect")
    s.case_request_info(case=case, actor=agent, question="报价 80 元", quote_amount=D("80"))
    s.case_provide_info(case=case, actor=agent, answer="接受")
    s.case_record_return(case=case, actor=agent, courier="韵达", tracking_number="YD1")
    s.case_receive(case=case, actor=warehouse)
    s.case_process(case=case, actor=warehouse)
    s.case_ship(case=case, actor=warehouse, courier="顺丰", tracking_number="SF3")
    assert not JournalEntry.objects.filter(case=case).exists()
    s.case_complete(case=case, actor=warehouse)
    entry = JournalEntry.objects.get(case=case)
    assert (entry.key, account_balances(shop)["repair_revenue"]) == (
        f"repair_fee:{case.pk}",
        D("80.00"),
    )


# --------------------------------------------------------------------------- penalties


def test_finance_records_a_platform_penalty_once(shop, order, agent, api_for, other_shop):
    finance = f.user("finance", [shop])
    body = {"shop_id": shop.pk, "amount": "50.00", "note": "延迟发货扣款", "key": "TB-P-1"}
    first = api_for(finance).post("/ledger/penalties", {**body, "order_id": order.pk})
    assert first.status_code == 201, first.content
    lines = {(x["account_code"], x["debit"], x["credit"]) for x in first.json()["lines"]}
    assert lines == {
        ("platform_penalties", "50.00", "0.00"),
        ("payment_clearing", "0.00", "50.00"),
    }
    again = api_for(finance).post("/ledger/penalties", {**body, "order_id": order.pk})
    assert again.json()["id"] == first.json()["id"]
    before = JournalEntry.objects.count()
    assert api_for(agent).post("/ledger/penalties", body).status_code == 403
    zero = api_for(finance).post("/ledger/penalties", {**body, "amount": "0.00", "key": ""})
    assert (zero.status_code, set(zero.json()["error"]["fields"])) == (422, {"amount"})
    foreign = f.order(f.channel(other_shop))
    wrong = api_for(finance).post("/ledger/penalties", {**body, "order_id": foreign.pk})
    assert (wrong.status_code, set(wrong.json()["error"]["fields"])) == (422, {"order_id"})
    assert JournalEntry.objects.count() == before
    assert account_balances(shop)["platform_penalties"] == D("50.00")
