"""The Alipay and WeChat Pay refund adapters against local fakes of both providers: exact
amounts, signatures both ways, retries that pay once, refusals, queries and notifications."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode

import pytest

from aftersales.ledger.payments.alipay import AlipayAdapter
from aftersales.ledger.payments.base import FAILED, PROCESSING, SUCCEEDED, PaymentError
from aftersales.ledger.payments.wechatpay import WeChatPayAdapter, fen_to_yuan, yuan_to_fen
from aftersales.ledger.tests import fakepay
from aftersales.ledger.tests.fakepay import callback_inbox, fake_alipay, fake_wechatpay, key_pair

D = Decimal
REFUSED_FOR_BALANCE = {
    "alipay": "40004 ACQ.SELLER_BALANCE_NOT_ENOUGH: 卖家余额不足",
    "wechatpay": "NOT_ENOUGH: 基本账户余额不足，请充值后重新发起",
}
REFUSED_FOR_EXCESS = {
    "alipay": "40004 ACQ.REFUND_AMT_NOT_EQUAL_TOTAL: 退款金额超限",
    "wechatpay": "INVALID_REQUEST: 申请退款金额超过订单可退金额",
}
BAD_REQUEST_SIGNATURE = {"alipay": "isv.invalid-signature", "wechatpay": "SIGN_ERROR"}


@pytest.fixture
def alipay():
    with fake_alipay() as fake:
        yield fake


@pytest.fixture
def wechat():
    with fake_wechatpay() as fake:
        yield fake


@pytest.fixture(params=["alipay", "wechatpay"])
def provider(request):
    """(name, fake, adapter) for each provider, for what both must do alike."""
    fake = fake_alipay() if request.param == "alipay" else fake_wechatpay()
    adapter_class = AlipayAdapter if request.param == "alipay" else WeChatPayAdapter
    with fake:
        yield request.param, fake, adapter_class(fake.config)


# ---------------------------------------------------------------- both providers


def test_refund_pays_the_exact_amount_once(provider):
    _, fake, adapter = provider
    request = fake.new_request("R1", D("19.99"))

    result = adapter.refund(request)

    assert (result.key, result.state, result.amount) == ("R1", SUCCEEDED, D("19.99"))
    assert result.provider_reference
    assert result.succeeded_at is not None
    assert result.succeeded_at.utcoffset() == timedelta(hours=8)
    assert fake.payouts == [("R1", D("19.99"))]


@pytest.mark.parametrize("failure", [fakepay.PAY_THEN_500, fakepay.PAY_THEN_DROP])
def test_retry_after_a_lost_answer_finds_it_paid(provider, failure):
    _, fake, adapter = provider
    request = fake.new_request("R1", D("88.80"))
    fake.fail_next(failure)

    with pytest.raises(PaymentError) as lost:
        adapter.refund(request)
    assert lost.value.retryable
    assert fake.payouts == [("R1", D("88.80"))]  # the money left although we heard nothing

    result = adapter.refund(request)

    assert (result.state, result.amount) == (SUCCEEDED, D("88.80"))
    assert fake.payouts == [("R1", D("88.80"))]


def test_balance_refusal_is_failed_with_the_providers_code(provider):
    name, fake, adapter = provider
    fake.fail_next(fakepay.REFUSE)

    result = adapter.refund(fake.new_request("R1", D("5.00")))

    assert (result.state, result.message) == (FAILED, REFUSED_FOR_BALANCE[name])
    assert fake.payouts == []


def test_refund_beyond_the_payment_is_failed(provider):
    name, fake, adapter = provider
    adapter.refund(fake.new_request("R1", D("60.00"), order_number="O1"))

    result = adapter.refund(fake.new_request("R2", D("40.01"), order_number="O1"))

    assert (result.state, result.message) == (FAILED, REFUSED_FOR_EXCESS[name])
    assert fake.payouts == [("R1", D("60.00"))]


@pytest.mark.parametrize("failure", [fakepay.HTTP_500, fakepay.SYSTEM_ERROR])
def test_outage_is_retryable_and_pays_nothing(provider, failure):
    _, fake, adapter = provider
    fake.fail_next(failure)

    with pytest.raises(PaymentError) as error:
        adapter.refund(fake.new_request("R1", D("5.00")))

    assert error.value.retryable
    assert fake.payouts == []


def test_forged_answer_is_refused_and_the_retry_finds_it_paid(provider):
    _, fake, adapter = provider
    request = fake.new_request("R1", D("5.00"))
    fake.fail_next(fakepay.FORGED)

    with pytest.raises(PaymentError, match="signature does not hold") as error:
        adapter.refund(request)
    # Retryable: whatever the answer said, the money may have left under this key.
    assert error.value.retryable

    assert (adapter.refund(request).state, fake.payouts) == (SUCCEEDED, [("R1", D("5.00"))])


def test_request_signed_with_another_key_is_refused(provider):
    name, fake, adapter = provider
    config = dataclasses.replace(fake.config, private_key_pem=key_pair("forger")[0])

    with pytest.raises(PaymentError, match=BAD_REQUEST_SIGNATURE[name]) as error:
        type(adapter)(config).refund(fake.new_request("R1", D("5.00")))

    assert not error.value.retryable
    assert fake.payouts == []


def test_query_unknown_then_paid(provider):
    _, fake, adapter = provider
    request = fake.new_request("R1", D("12.34"))

    unknown = adapter.query("R1", request)
    assert (unknown.state, unknown.message) == (FAILED, "not found")

    paid = adapter.refund(request)
    found = adapter.query("R1", request)

    assert (found.state, found.amount) == (SUCCEEDED, D("12.34"))
    assert found.provider_reference == paid.provider_reference


def test_hundred_concurrent_retries_pay_once(provider):
    _, fake, adapter = provider
    request = fake.new_request("R1", D("50.00"))
    fake.fail_next(fakepay.PAY_THEN_DROP)  # whichever arrives first pays and hears nothing

    def attempt(_):
        try:
            result = adapter.refund(request)
        except PaymentError:
            return "lost"
        return (result.state, result.amount)

    with ThreadPoolExecutor(max_workers=100) as pool:
        outcomes = list(pool.map(attempt, range(100)))

    assert outcomes.count("lost") == 1
    assert outcomes.count((SUCCEEDED, D("50.00"))) == 99
    assert fake.payouts == [("R1", D("50.00"))]
    assert fake.calls >= 100


# ---------------------------------------------------------------- Alipay


def test_alipay_request_is_what_the_gateway_expects(alipay):
    request = alipay.new_request("R1", D("1234.56"), total=D("2000.00"), reason="破损")

    AlipayAdapter(alipay.config).refund(request)

    # The fake also refused a timestamp off Beijing time by 10 minutes or more.
    params = dict(parse_qsl(alipay.received[0].body.decode()))
    common = {name: params[name] for name in ("app_id", "method", "format", "charset")}
    assert common == {
        "app_id": "2021000000000001",
        "method": "alipay.trade.refund",
        "format": "JSON",
        "charset": "utf-8",
    }
    assert (params["sign_type"], params["version"]) == ("RSA2", "1.0")
    assert json.loads(params["biz_content"]) == {
        "out_trade_no": "O-R1",
        "trade_no": request.payment_reference,
        "refund_amount": "1234.56",
        "out_request_no": "R1",
        "refund_reason": "破损",
    }


def test_alipay_partial_refund_reports_its_own_amount(alipay):
    adapter = AlipayAdapter(alipay.config)
    adapter.refund(alipay.new_request("R1", D("10.00"), order_number="O1"))

    second = adapter.refund(alipay.new_request("R2", D("20.00"), order_number="O1"))

    assert second.amount == D("20.00")
    assert second.raw["refund_fee"] == "30.00"  # Alipay's running total for the trade
    assert alipay.payouts == [("R1", D("10.00")), ("R2", D("20.00"))]


def test_alipay_query_needs_the_payment_and_knows_a_missing_trade(alipay):
    adapter = AlipayAdapter(alipay.config)
    request = alipay.new_request("R1", D("1.00"))

    with pytest.raises(PaymentError) as error:
        adapter.query("R1")
    assert not error.value.retryable

    elsewhere = dataclasses.replace(request, order_number="O-none", payment_reference="")
    missing = adapter.query("R1", elsewhere)
    assert (missing.state, missing.message, missing.raw["sub_code"]) == (
        FAILED,
        "not found",
        "ACQ.TRADE_NOT_EXIST",
    )


def test_alipay_notification_is_verified(alipay):
    adapter = AlipayAdapter(alipay.config)
    request = alipay.new_request("R1", D("100.00"))
    paid = adapter.refund(request)
    with callback_inbox() as inbox:
        assert alipay.send_callback("R1", inbox.url + "/alipay/notify") == 200
        [notification] = inbox.received

    result = adapter.parse_callback(notification.headers, notification.body)

    assert (result.key, result.state) == ("R1", SUCCEEDED)
    assert result.provider_reference == request.payment_reference
    assert result.succeeded_at == paid.succeeded_at
    assert result.amount is None  # its refund_fee is the trade's running total
    assert result.raw["refund_fee"] == "100.00"

    params = dict(parse_qsl(notification.body.decode()))
    tampered = urlencode(params | {"out_biz_no": "R2"}).encode()
    with pytest.raises(PaymentError, match="signature") as error:
        adapter.parse_callback(notification.headers, tampered)
    assert not error.value.retryable

    forged = alipay.signed_form({k: v for k, v in params.items() if k != "sign"}, forged=True)
    with pytest.raises(PaymentError, match="signature"):
        adapter.parse_callback(notification.headers, forged)


# ---------------------------------------------------------------- WeChat Pay


@pytest.mark.parametrize(
    ("yuan", "fen"), [("0.01", 1), ("19.99", 1999), ("1234.56", 123456), ("100.00", 10000)]
)
def test_wechat_amounts_travel_exactly_in_fen(wechat, yuan, fen):
    assert yuan_to_fen(D(yuan)) == fen
    assert str(fen_to_yuan(fen)) == yuan
    request = wechat.new_request("R1", D(yuan), total=D("2000.00"))

    result = WeChatPayAdapter(wechat.config).refund(request)

    assert json.loads(wechat.received[0].body)["amount"] == {
        "refund": fen,
        "total": 200000,
        "currency": "CNY",
    }
    assert str(result.amount) == yuan
    assert wechat.payouts == [("R1", D(yuan))]


@pytest.mark.parametrize("amount", [D("0.001"), 19.99, D("NaN"), D("Infinity")])
def test_fen_refuses_what_is_not_exact(amount):
    with pytest.raises(ValueError):
        yuan_to_fen(amount)


def test_fen_to_yuan_refuses_non_integers():
    for fen in (True, 19.99, "1999"):
        with pytest.raises(ValueError):
            fen_to_yuan(fen)


def test_wechat_request_is_what_the_api_expects(wechat):
    request = wechat.new_request("R1", D("19.99"), reason="破损", notify_url="https://x.test/wx")

    result = WeChatPayAdapter(wechat.config).refund(request)

    sent = wechat.received[0]
    assert (sent.method, sent.path) == ("POST", "/v3/refund/domestic/refunds")
    assert json.loads(sent.body) == {
        "transaction_id": request.payment_reference,
        "out_refund_no": "R1",
        "reason": "破损",
        "notify_url": "https://x.test/wx",
        "amount": {"refund": 1999, "total": 10000, "currency": "CNY"},
    }
    assert sent.headers["authorization"].startswith(
        'WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="'
    )
    assert result.provider_reference == "5030" + "1".zfill(25)


def test_wechat_processing_then_notification(wechat):
    adapter = WeChatPayAdapter(wechat.config)
    with callback_inbox() as inbox:
        request = wechat.new_request("R1", D("66.60"), notify_url=inbox.url + "/wx/refunds")
        wechat.fail_next(fakepay.PROCESSING)
        first = adapter.refund(request)
        assert (first.state, first.amount, first.succeeded_at) == (PROCESSING, D("66.60"), None)
        assert wechat.payouts == []

        assert wechat.complete("R1") == 200
        [notification] = inbox.received

    result = adapter.parse_callback(notification.headers, notification.body)

    assert (result.key, result.state, result.amount) == ("R1", SUCCEEDED, D("66.60"))
    assert result.provider_reference == first.provider_reference
    assert wechat.payouts == [("R1", D("66.60"))]
    assert adapter.query("R1").state == SUCCEEDED


def test_wechat_abnormal_notification_stays_processing_with_the_reason(wechat):
    adapter = WeChatPayAdapter(wechat.config)
    wechat.fail_next(fakepay.PROCESSING)
    adapter.refund(wechat.new_request("R1", D("3.00")))
    assert wechat.complete("R1", "ABNORMAL") is None  # no notify_url: nowhere to post

    result = adapter.parse_callback(*wechat.refund_callback("R1"))

    assert (result.state, result.message) == (
        PROCESSING,
        "ABNORMAL: the refund could not reach the customer's account",
    )
    assert wechat.payouts == []


def test_wechat_notification_must_be_signed_and_intact(wechat):
    adapter = WeChatPayAdapter(wechat.config)
    adapter.refund(wechat.new_request("R1", D("5.00")))
    headers, body = wechat.refund_callback("R1")
    assert adapter.parse_callback(headers, body).state == SUCCEEDED

    with pytest.raises(PaymentError, match="signature") as forged:
        adapter.parse_callback(wechat.signed_headers(body, forged=True), body)
    assert not forged.value.retryable

    notification = json.loads(body)
    ciphertext = bytearray(base64.b64decode(notification["resource"]["ciphertext"]))
    ciphertext[0] ^= 1
    notification["resource"]["ciphertext"] = base64.b64encode(ciphertext).decode()
    tampered = json.dumps(notification).encode()
    # Signed by the platform key, so only the AEAD tag can catch it.
    with pytest.raises(PaymentError, match="does not decrypt") as error:
        adapter.parse_callback(wechat.signed_headers(tampered), tampered)
    assert not error.value.retryable


def test_wechat_replayed_old_notification_is_refused(wechat):
    adapter = WeChatPayAdapter(wechat.config)
    adapter.refund(wechat.new_request("R1", D("5.00")))
    _, body = wechat.refund_callback("R1")
    headers = wechat.signed_headers(body, timestamp=int(time.time()) - 301)

    with pytest.raises(PaymentError, match="too old"):
        adapter.parse_callback(headers, body)
