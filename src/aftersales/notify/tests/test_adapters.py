"""Each channel against a local server speaking its protocol: SMTP (aiosmtpd), Aliyun's
SendSms RPC (signature checked by the fake), WeChat's token and template-send APIs."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json

import pytest

from aftersales.channels.models import Customer
from aftersales.notify.adapters.sms_aliyun import rpc_signature
from aftersales.notify.delivery import outbox_deliver
from aftersales.notify.models import Outbox, SmsAccount, WeChatAccount
from aftersales.tests import factories as f

T0 = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)


def _complaint(order):
    """Another case of the same customer (the order's items are claimed by the first)."""
    return f.case(order, case_type="complaint", reason="other")


def _row(case, channel: str) -> Outbox:
    row = Outbox.objects.get(case=case, channel=channel)
    Outbox.objects.filter(pk=row.pk).update(next_attempt_at=T0)
    return row


# --------------------------------------------------------------------------- email


def test_email_goes_over_smtp_with_the_delivery_id_as_message_id(smtp_server, customer_order):
    Customer.objects.filter(pk=customer_order.customer_id).update(language="zh-hans")
    case = f.case(customer_order)
    row = _row(case, "email")
    assert outbox_deliver(outbox_id=row.pk, now=T0) == "sent"
    [envelope] = smtp_server.envelopes
    assert (envelope.mail_from, envelope.rcpt_tos) == ("service@shop.example", ["lan@example.com"])
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert message["Message-ID"] == f"<{row.delivery_id}@shop.example>"
    assert message["X-Aftersales-Delivery"] == str(row.delivery_id)
    assert message["Subject"] == f"您的售后申请 {case.reference} 已提交"
    assert message.get_content().replace("\r\n", "\n").strip() == (
        "Lan，您好：\n\n我们已收到您的售后申请（质量问题），会尽快处理。\n\n"
        f"售后单号：{case.reference}\n当前状态：待商家处理\n\n{case.shop.name}"
    )


def test_a_refused_mailbox_is_dead_and_a_down_server_is_retried(smtp_server, customer_order):
    smtp_server.refuse.add("lan@example.com")
    case = f.case(customer_order)
    row = _row(case, "email")
    assert outbox_deliver(outbox_id=row.pk, now=T0) == "dead"
    row.refresh_from_db()
    assert row.last_error.startswith(
        "attempt 1: SMTP refused the recipient: {'lan@example.com': (550"
    )
    assert smtp_server.envelopes == []


def test_a_down_smtp_server_is_retried(settings, customer_order):
    from aftersales.notify.tests.conftest import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    case = f.case(customer_order)
    row = _row(case, "email")
    assert outbox_deliver(outbox_id=row.pk, now=T0) == "retry"
    row.refresh_from_db()
    assert row.next_attempt_at == T0 + dt.timedelta(minutes=1)
    assert row.last_error.startswith("attempt 1: SMTP: ")


# --------------------------------------------------------------------------- SMS (Aliyun)


def test_aliyun_signature_matches_the_documented_example():
    # The worked example of Aliyun's "RPC signature" documentation (GET form of SendSms).
    params = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert rpc_signature(params, "testSecret", "GET") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_sms_is_a_signed_sendsms_call_with_the_delivery_id_as_outid(aliyun, customer_order):
    case = f.case(customer_order)
    from aftersales.cases.services import case_approve

    case_approve(case=case, actor=None)
    row = _row(case, "sms")
    assert outbox_deliver(outbox_id=row.pk, now=T0) == "sent"
    [params] = aliyun.calls
    nonce, signature = params.pop("SignatureNonce"), params.pop("Signature")
    assert len(nonce) == 32 and signature
    assert params == {
        "AccessKeyId": "LTAI5t-test",
        "Action": "SendSms",
        "Format": "JSON",
        "OutId": str(row.delivery_id),
        "PhoneNumbers": "13800138000",
        "RegionId": "cn-hangzhou",
        "SignName": "阿克米售后",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_300",  # English customer: the event's default code
        "TemplateParam": json.dumps(
            {"case": case.reference, "status": "Awaiting return", "amount": ""},
            separators=(",", ":"),
            sort_keys=True,
        ),
        "Timestamp": "2026-11-20T02:00:00Z",
        "Version": "2017-05-25",
    }


@pytest.mark.parametrize(
    ("code", "result", "state"),
    [
        ("isv.MOBILE_NUMBER_ILLEGAL", "dead", "dead"),
        ("isv.BUSINESS_LIMIT_CONTROL", "retry", "pending"),
    ],
)
def test_sms_error_codes(aliyun, customer_order, code, result, state):
    aliyun.codes["13800138000"] = code
    case = f.case(customer_order)
    from aftersales.cases.services import case_approve

    case_approve(case=case, actor=None)
    row = _row(case, "sms")
    assert outbox_deliver(outbox_id=row.pk, now=T0) == result
    row.refresh_from_db()
    assert (row.state, row.last_error) == (state, f"attempt 1: Aliyun SMS {code}: {code}")


def test_a_wrong_secret_is_refused_by_the_signature_check(aliyun, customer_order):
    SmsAccount.objects.update(access_key_secret="not-the-secret")
    case = f.case(customer_order)
    from aftersales.cases.services import case_approve

    case_approve(case=case, actor=None)
    row = _row(case, "sms")
    assert outbox_deliver(outbox_id=row.pk, now=T0) == "dead"
    row.refresh_from_db()
    assert row.last_error == (
        "attempt 1: Aliyun SMS SignatureDoesNotMatch: Specified signature is not matched"
    )


# --------------------------------------------------------------------------- WeChat


@pytest.fixture
def wechat(fake_server, shop):
    state = {"tokens": 0, "valid": set(), "sent": [], "answer": 0}

    def answer(request):
        if request.path == "/cgi-bin/token":
            if request.query != {
                "grant_type": "client_credential",
                "appid": "wx-app",
                "secret": "wx-secret",
            }:
                return 200, {"errcode": 40013, "errmsg": "invalid appid"}
            state["tokens"] += 1
            token = f"TOKEN{state['tokens']}"
            state["valid"].add(token)
            return 200, {"access_token": token, "expires_in": 7200}
        if request.path == "/cgi-bin/message/template/send" and request.method == "POST":
            if request.query.get("access_token") not in state["valid"]:
                return 200, {"errcode": 40001, "errmsg": "invalid credential"}
            state["sent"].append((request.query["access_token"], json.loads(request.body)))
            if state["answer"]:
                return 200, {"errcode": state["answer"], "errmsg": "refused"}
            return 200, {"errcode": 0, "errmsg": "ok", "msgid": 200228332}
        return 404, {"errcode": 404}

    server = fake_server(answer)
    WeChatAccount.objects.create(
        shop=shop,
        base_url=server.url,
        app_id="wx-app",
        app_secret="wx-secret",
        template_ids={"created": "TPL-created"},
        link_url="https://shop.example/c/{case}",
    )
    server.state = state
    return server


def test_wechat_fetches_caches_and_refreshes_the_token(wechat, customer_order):
    first = f.case(customer_order)
    row = _row(first, "wechat")
    assert outbox_deliver(outbox_id=row.pk, now=T0) == "sent"
    [(token, body)] = wechat.state["sent"]
    assert token == "TOKEN1"
    assert body == {
        "touser": "oOPENID-lan",
        "template_id": "TPL-created",
        "url": f"https://shop.example/c/{first.reference}",
        "data": row.payload["data"],
        "client_msg_id": str(row.delivery_id),
    }
    account = WeChatAccount.objects.get()
    assert (account.access_token, account.token_expires_at) == (
        "TOKEN1",
        T0 + dt.timedelta(seconds=7200 - 300),
    )

    second = _row(_complaint(customer_order), "wechat")
    assert outbox_deliver(outbox_id=second.pk, now=T0) == "sent"
    assert wechat.state["tokens"] == 1  # cached

    wechat.state["valid"].clear()  # WeChat revoked it early (another client fetched one)
    third = _row(_complaint(customer_order), "wechat")
    assert outbox_deliver(outbox_id=third.pk, now=T0) == "sent"
    assert wechat.state["tokens"] == 2
    assert [t for t, _body in wechat.state["sent"]] == ["TOKEN1", "TOKEN1", "TOKEN2"]

    fourth = _row(_complaint(customer_order), "wechat")
    later = T0 + dt.timedelta(seconds=7200 - 300)  # our copy has run out
    Outbox.objects.filter(pk=fourth.pk).update(next_attempt_at=later)
    assert outbox_deliver(outbox_id=fourth.pk, now=later) == "sent"
    assert wechat.state["tokens"] == 3


def test_wechat_unsubscribed_follower_is_dead_and_bad_credentials_too(wechat, customer_order):
    wechat.state["answer"] = 43004
    row = _row(_complaint(customer_order), "wechat")
    assert outbox_deliver(outbox_id=row.pk, now=T0) == "dead"
    row.refresh_from_db()
    assert row.last_error == "attempt 1: WeChat template send errcode 43004: refused"

    WeChatAccount.objects.update(app_secret="wrong", access_token="")
    row = _row(_complaint(customer_order), "wechat")
    assert outbox_deliver(outbox_id=row.pk, now=T0) == "dead"
    row.refresh_from_db()
    assert row.last_error == "attempt 1: WeChat token errcode 40013: invalid appid"
