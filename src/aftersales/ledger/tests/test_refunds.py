"""Refunds end to end: a case that starts refunding opens one refund, the payment adapter pays
it once (whatever the retries), the ledger books it once, and the case follows the answer."""

from __future__ import annotations

import json
import threading
from dataclasses import fields
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.utils import timezone

from aftersales.cases import services as s
from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.transitions import action_once
from aftersales.conftest import Api
from aftersales.core.errors import Invalid
from aftersales.ledger.models import CustomerCredit, JournalEntry, PaymentAccount, Refund
from aftersales.ledger.payments.alipay import AlipayConfig
from aftersales.ledger.refunds import refund_send, refunds_sweep
from aftersales.ledger.selectors import account_balances, trial_balance
from aftersales.ledger.tests import fakepay
from aftersales.tests import factories as f

D = Decimal
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

_ALIPAY_FIELDS = {
    "app_id": "merchant_id",
    "private_key_pem": "private_key",
    "alipay_public_key_pem": "provider_public_key",
    "gateway_url": "gateway_url",
}
_WECHAT_FIELDS = {
    "mch_id": "merchant_id",
    "serial_no": "key_serial",
    "private_key_pem": "private_key",
    "platform_public_key_pem": "provider_public_key",
    "platform_serial": "provider_key_serial",
    "api_v3_key": "api_key",
    "base_url": "gateway_url",
}


def account_from(shop, fake) -> PaymentAccount:
    """The shop's payment account pointing at a local fake provider."""
    alipay = isinstance(fake.config, AlipayConfig)
    names = _ALIPAY_FIELDS if alipay else _WECHAT_FIELDS
    values = {names[fl.name]: getattr(fake.config, fl.name) for fl in fields(fake.config)}
    return PaymentAccount.objects.create(
        shop=shop, provider="alipay" if alipay else "wechatpay", name="fake", **values
    )


def paid_order(channel, fake, provider: str):
    """An order of 2 × 50.00 paid through the fake provider."""
    order = f.order(channel, payment_provider=provider)
    reference = fake.add_trade(order.external_id, order.total_paid)
    order.payment_reference = reference
    order.save(update_fields=["payment_reference"])
    return order


def journal(case) -> list[tuple[str, D, D]]:
    return sorted(
        (line.account.code, line.debit, line.credit)
        for entry in JournalEntry.objects.filter(case=case)
        for line in entry.lines.select_related("account")
    )


def balanced(shop) -> bool:
    debits, credits = trial_balance(shop)
    return debits == credits


@pytest.fixture
def alipay():
    with fakepay.fake_alipay() as fake:
        yield fake


@pytest.fixture
def wechat():
    with fakepay.fake_wechatpay() as fake:
        yield fake


# --------------------------------------------------------------------------- paid once


def test_an_approved_refund_is_paid_through_alipay_and_booked_once(shop, channel, agent, alipay):
    account_from(shop, alipay)
    case = f.case(paid_order(channel, alipay, "alipay"), "refund_only", "not_delivered")
    s.case_approve(case=case, actor=agent)

    refund = Refund.objects.get(case=case)
    assert (refund.provider, refund.status, refund.amount, refund.key) == (
        "alipay",
        "pending",
        D("100.00"),
        f"RF{shop.pk}-{case.pk}-1",
    )
    assert refund_send(refund_id=refund.pk) == "succeeded"
    assert refund_send(refund_id=refund.pk) == "busy"  # nothing left to send

    assert alipay.payouts == [(refund.key, D("100.00"))]
    refund.refresh_from_db()
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("succeeded", "refunded")
    assert journal(case) == [
        ("payment_clearing", D("0.00"), D("100.00")),
        ("sales_returns", D("100.00"), D("0.00")),
    ]
    assert refund.entry.key == f"refund:{refund.key}"
    assert list(CaseEvent.objects.filter(case=case).values_list("kind", "to_status")) == [
        ("created", "awaiting_merchant"),
        ("approve", "refunding"),
        ("refund_settled", "succeeded"),
    ]
    assert balanced(shop)


def test_paid_but_the_answer_was_lost_is_retried_later_and_pays_once(shop, channel, alipay):
    account_from(shop, alipay)
    case = f.case(paid_order(channel, alipay, "alipay"), "refund_only", "not_delivered")
    s.case_approve(case=case, actor=None)
    refund = Refund.objects.get(case=case)
    alipay.fail_next(fakepay.PAY_THEN_500)
    now = timezone.now()

    assert refund_send(refund_id=refund.pk, now=now) == "pending"
    refund.refresh_from_db()
    assert (refund.attempts, refund.next_attempt_at) == (1, now + timedelta(minutes=1))
    assert alipay.payouts == [(refund.key, D("100.00"))]  # the money did leave
    assert JournalEntry.objects.filter(case=case).count() == 0
    assert Case.objects.get(pk=case.pk).status == "refunding"

    assert refunds_sweep(now=now + timedelta(seconds=30)) == 0  # not due yet
    assert refunds_sweep(now=now + timedelta(minutes=2)) == 1
    refund.refresh_from_db()
    assert (refund.status, refund.attempts) == ("succeeded", 2)
    assert alipay.payouts == [(refund.key, D("100.00"))]
    assert JournalEntry.objects.filter(case=case).count() == 1
    assert Case.objects.get(pk=case.pk).status == "succeeded"
    assert balanced(shop)


def test_a_refused_refund_sends_the_case_back_and_a_later_one_pays_interest(
    shop, channel, agent, alipay
):
    account_from(shop, alipay)
    case = f.case(paid_order(channel, alipay, "alipay"), "refund_only", "not_delivered")
    s.case_approve(case=case, actor=agent)
    first = Refund.objects.get(case=case)
    alipay.fail_next(fakepay.REFUSE)

    assert refund_send(refund_id=first.pk) == "failed"
    first.refresh_from_db()
    case.refresh_from_db()
    assert "ACQ.SELLER_BALANCE_NOT_ENOUGH" in first.failure_reason
    assert (case.status, case.refund_amount) == ("awaiting_merchant", None)
    assert alipay.payouts == []
    assert JournalEntry.objects.filter(case=case).count() == 0
    event = CaseEvent.objects.filter(case=case).latest("id")
    assert (event.kind, event.to_status, event.data["back_to"]) == (
        "refund_failed",
        "awaiting_merchant",
        "awaiting_merchant",
    )

    # Owed since three days ago: 100.00 × 0.03% × 3 days = 0.09 interest on the second try.
    Refund.objects.filter(pk=first.pk).update(due_at=first.due_at - timedelta(days=3))
    s.case_approve(case=case, actor=agent)
    second = Refund.objects.get(case=case, status="pending")
    assert (second.key, second.interest, second.amount) == (
        f"RF{shop.pk}-{case.pk}-2",
        D("0.09"),
        D("100.00"),
    )
    assert refund_send(refund_id=second.pk) == "succeeded"
    # The provider pays back the payment; the interest is the customer's as store credit.
    assert alipay.payouts == [(second.key, D("100.00"))]
    assert journal(case) == [
        ("compensation", D("0.09"), D("0.00")),
        ("payment_clearing", D("0.00"), D("100.00")),
        ("sales_returns", D("100.00"), D("0.00")),
        ("store_credit", D("0.00"), D("0.09")),
    ]
    assert CustomerCredit.objects.get(case=case).amount == D("0.09")
    assert balanced(shop)


# --------------------------------------------------------------------------- WeChat Pay


def test_wechat_pay_processing_then_callback_settles_once(shop, channel, agent, wechat):
    account = account_from(shop, wechat)
    case = f.case(paid_order(channel, wechat, "wechatpay"), "refund_only", "not_delivered")
    s.case_approve(case=case, actor=agent)
    refund = Refund.objects.get(case=case)
    wechat.fail_next(fakepay.PROCESSING)

    assert refund_send(refund_id=refund.pk) == "processing"
    assert Case.objects.get(pk=case.pk).status == "refunding"
    wechat.complete(refund.key)  # pays; the notification is ours to deliver below
    headers, body = wechat.refund_callback(refund.key)
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    client = Api(None)
    url = f"/payments/{account.pk}/notify"

    tampered = json.loads(body)
    tampered["resource"]["ciphertext"] = "AAAA" + tampered["resource"]["ciphertext"]
    bad = client.post(url, json.dumps(tampered), **extra)
    assert bad.status_code == 400
    assert Refund.objects.get(pk=refund.pk).status == "processing"

    assert client.post(url, body.decode(), **extra).status_code == 204
    assert client.post(url, body.decode(), **extra).status_code == 204  # a repeat
    refund.refresh_from_db()
    assert (refund.status, refund.provider_reference != "") == ("succeeded", True)
    assert Case.objects.get(pk=case.pk).status == "succeeded"
    assert JournalEntry.objects.filter(case=case).count() == 1
    assert wechat.payouts == [(refund.key, D("100.00"))]


def test_wechat_pay_processing_is_polled_when_no_callback_comes(shop, channel, wechat):
    account_from(shop, wechat)
    case = f.case(paid_order(channel, wechat, "wechatpay"), "refund_only", "not_delivered")
    s.case_approve(case=case, actor=None)
    refund = Refund.objects.get(case=case)
    wechat.fail_next(fakepay.PROCESSING)
    now = timezone.now()
    refund_send(refund_id=refund.pk, now=now)
    assert refunds_sweep(now=now + timedelta(minutes=3)) == 1  # asked: still processing
    assert Refund.objects.get(pk=refund.pk).status == "processing"
    wechat.complete(refund.key)
    assert refunds_sweep(now=now + timedelta(minutes=6)) == 1
    assert Refund.objects.get(pk=refund.pk).status == "succeeded"
    assert Case.objects.get(pk=case.pk).outcome == "refunded"


# --------------------------------------------------------------------------- by hand, credit


def test_a_refund_without_a_provider_is_paid_by_hand_with_proof(shop, channel, agent, api_for):
    case = f.case(f.order(channel), "refund_only", "not_delivered")
    s.case_approve(case=case, actor=agent)
    refund = Refund.objects.get(case=case)
    assert refund_send(refund_id=refund.pk) == "awaiting_proof"
    finance = f.user("finance", [shop])
    url = f"/refunds/{refund.pk}/actions/confirm"

    refused = api_for(agent).client.post(
        f"/api/v1{url}", {"reference": "X"}, HTTP_AUTHORIZATION=f"Bearer {f.token(agent)}"
    )
    assert refused.status_code == 403
    assert Refund.objects.get(pk=refund.pk).status == "awaiting_proof"

    api = api_for(finance)
    proof = SimpleUploadedFile("transfer.png", PNG, content_type="image/png")
    ok = api.client.post(
        f"/api/v1{url}",
        {"reference": "ICBC-20261202-0007", "proof": proof},
        **api.headers,
    )
    assert ok.status_code == 200, ok.content
    body = ok.json()
    assert (body["status"], body["provider_reference"], body["has_proof"]) == (
        "succeeded",
        "ICBC-20261202-0007",
        True,
    )
    again = api.client.post(f"/api/v1{url}", {"reference": "again"}, **api.headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "refund.invalid_transition"
    assert Case.objects.get(pk=case.pk).status == "succeeded"
    assert JournalEntry.objects.filter(case=case).count() == 1
    assert balanced(shop)


def test_a_by_hand_refund_that_failed_sends_the_case_back(shop, channel, agent, api_for):
    case = f.case(f.order(channel), "refund_only", "not_delivered")
    s.case_approve(case=case, actor=agent)
    refund = Refund.objects.get(case=case)
    refund_send(refund_id=refund.pk)
    finance = f.user("finance", [shop])
    response = api_for(finance).post(
        f"/refunds/{refund.pk}/actions/fail", {"reason": "银行卡已注销"}
    )
    assert response.status_code == 200
    case.refresh_from_db()
    assert (case.status, case.refund_amount) == ("awaiting_merchant", None)
    assert JournalEntry.objects.filter(case=case).count() == 0


def test_store_credit_is_booked_as_a_liability_to_the_customer(shop, channel, agent):
    case = f.case(f.order(channel), "refund_only", "not_delivered")
    s.case_approve(case=case, actor=agent, refund_method="store_credit")
    refund = Refund.objects.get(case=case)
    assert (refund.provider, refund_send(refund_id=refund.pk)) == ("store_credit", "succeeded")
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("succeeded", "store_credit")
    credit = CustomerCredit.objects.get(case=case)
    assert (credit.kind, credit.amount, credit.customer_id) == (
        "store_credit",
        D("100.00"),
        case.customer_id,
    )
    assert account_balances(shop)["store_credit"] == D("100.00")
    assert balanced(shop)


def test_a_return_pays_back_postage_we_bear_less_the_restocking_fee(shop, channel, agent, lead):
    warehouse = f.user("warehouse", [shop])
    case = f.case(f.order(channel), "return_refund", "quality_defect")
    s.case_approve(case=case, actor=agent)
    s.case_record_return(
        case=case, actor=agent, courier="中通", tracking_number="ZT1", postage=D("12.00")
    )
    s.case_receive(case=case, actor=warehouse)
    lines = [s.LineInspection(cl.pk, "refurbish", "refurbish") for cl in case.lines.all()]
    s.case_inspect(case=case, actor=warehouse, inspections=lines, restocking_fee=D("10.00"))
    s.case_refund(case=case, actor=lead)
    refund = Refund.objects.get(case=case)
    assert (refund.goods_amount, refund.shipping_amount, refund.restocking_fee, refund.amount) == (
        D("100.00"),
        D("12.00"),
        D("10.00"),
        D("90.00"),
    )
    f.refund_settle(case)
    assert journal(case) == [
        ("payment_clearing", D("0.00"), D("90.00")),
        ("restocking_revenue", D("0.00"), D("10.00")),
        ("return_shipping", D("12.00"), D("0.00")),
        ("sales_returns", D("100.00"), D("0.00")),
        ("store_credit", D("0.00"), D("12.00")),
    ]
    assert balanced(shop)


# --------------------------------------------------------------------------- idempotent API


def test_a_retried_action_with_the_same_key_acts_once(shop, channel, agent, api_for):
    case = f.case(f.order(channel), "refund_only", "not_delivered")
    api = api_for(agent)
    url = f"/cases/{case.pk}/actions/approve"
    first = api.post(url, {}, HTTP_IDEMPOTENCY_KEY="req-7")
    again = api.post(url, {}, HTTP_IDEMPOTENCY_KEY="req-7")
    other = api.post(url, {}, HTTP_IDEMPOTENCY_KEY="req-8")
    assert (first.status_code, again.status_code, other.status_code) == (200, 200, 409)
    assert again.json()["status"] == "refunding"
    assert Refund.objects.filter(case=case).count() == 1
    assert CaseEvent.objects.filter(case=case, kind="approve").count() == 1


# --------------------------------------------------------------------------- 100 at once


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_a_hundred_concurrent_identical_refund_requests_pay_once(alipay):
    shop = f.shop("hundred")
    channel = f.channel(shop)
    account_from(shop, alipay)
    case = f.case(paid_order(channel, alipay, "alipay"), "refund_only", "not_delivered")
    agent = f.user("agent", [shop], "hundred-agent")
    barrier = threading.Barrier(100)
    # The server takes 100 connections in all (some reserved): at most 80 requests hold one
    # at a time; the other 20 wait for a free connection, as behind a pooler.
    sessions = threading.BoundedSemaphore(80)
    ran: list[bool] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def request() -> None:
        try:
            barrier.wait()
            sessions.acquire()
            mine = Case.objects.get(pk=case.pk)
            acted = action_once(
                case=mine,
                action="approve",
                key="client-retry-1",
                run=lambda: s.case_approve(case=mine, actor=agent),
            )
            # Every request then tries to send, as each web process's after-commit task would.
            for refund_id in Refund.objects.filter(case_id=case.pk).values_list("pk", flat=True):
                refund_send(refund_id=refund_id)
            with lock:
                ran.append(acted)
        except BaseException as exc:  # collected: a thread's failure must fail the test
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()
            sessions.release()

    threads = [threading.Thread(target=request) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert errors == []
    assert sorted(ran) == [False] * 99 + [True]
    refund = Refund.objects.get(case=case)
    assert (refund.status, refund.attempts) == ("succeeded", 1)
    assert alipay.calls == 1
    assert alipay.payouts == [(refund.key, D("100.00"))]
    assert JournalEntry.objects.filter(case=case).count() == 1
    assert Case.objects.get(pk=case.pk).status == "succeeded"
    assert balanced(shop)


def test_a_restocking_fee_is_never_more_than_the_goods(shop, channel, agent, lead):
    warehouse = f.user("warehouse", [shop])
    case = f.case(f.order(channel), "return_refund", "no_reason")
    s.case_approve(case=case, actor=agent)
    s.case_receive(case=case, actor=warehouse)
    lines = [s.LineInspection(cl.pk, "refurbish", "refurbish") for cl in case.lines.all()]
    events = CaseEvent.objects.filter(case=case).count()
    with pytest.raises(Invalid) as exc:  # the lines paid 100.00
        s.case_inspect(case=case, actor=warehouse, inspections=lines, restocking_fee=D("100.01"))
    assert exc.value.fields == {"restocking_fee": "Between 0 and the refund."}
    assert CaseEvent.objects.filter(case=case).count() == events
    assert Case.objects.get(pk=case.pk).restocking_fee is None

    s.case_inspect(case=case, actor=warehouse, inspections=lines, restocking_fee=D("30.00"))
    s.case_refund(case=case, actor=lead, amount=D("20.00"))  # a person refunds less
    refund = Refund.objects.get(case=case)
    assert (refund.goods_amount, refund.restocking_fee, refund.amount) == (
        D("20.00"),
        D("20.00"),
        D("0.00"),
    )
    assert refund_send(refund_id=refund.pk) == "succeeded"  # nothing to pay: no provider call
    assert journal(case) == [
        ("restocking_revenue", D("0.00"), D("20.00")),
        ("sales_returns", D("20.00"), D("0.00")),
    ]
