"""The outbox rows a case event writes: in the transition's transaction, per reachable channel
with a template, in the customer's language, webhooks for everything, never twice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from aftersales.cases.models import CaseEvent
from aftersales.cases.services import (
    case_approve,
    case_assign,
    case_comment,
    case_complete,
    case_escalate,
    case_reject,
)
from aftersales.cases.transitions import TRANSITION_HOOKS
from aftersales.channels.models import Customer
from aftersales.core.errors import Conflict
from aftersales.notify.models import (
    MessageTemplate,
    Outbox,
    SmsAccount,
    WebhookEndpoint,
    WeChatAccount,
)
from aftersales.notify.services import case_event_notify
from aftersales.tests import factories as f


def _rows(case) -> list[tuple[str, str, str]]:
    return list(
        Outbox.objects.filter(case=case).order_by("id").values_list("event", "channel", "recipient")
    )


@pytest.fixture
def accounts(shop):
    SmsAccount.objects.create(
        shop=shop,
        access_key_id="LTAI-test",
        access_key_secret="secret",
        sign_name="阿克米",
        template_codes={"created": "SMS_100", "approve": "SMS_101", "reject": "SMS_102"},
    )
    WeChatAccount.objects.create(
        shop=shop,
        app_id="wx-app",
        app_secret="wx-secret",
        template_ids={"created": "TPL-created", "approve": "TPL-approve"},
        link_url="https://shop.example/cases/{case}",
    )


@pytest.fixture
def endpoint(shop):
    return WebhookEndpoint.objects.create(shop=shop, url="https://erp.example/hook", events=["*"])


def test_a_filed_case_writes_one_row_per_channel_with_a_template(
    customer_order, accounts, endpoint
):
    case = f.case(customer_order)
    ref = case.reference
    assert _rows(case) == [
        ("created", "email", "lan@example.com"),
        ("created", "sms", "13800138000"),
        ("created", "wechat", "oOPENID-lan"),
        ("created", "webhook", "https://erp.example/hook"),
    ]
    email, sms, wechat, hook = Outbox.objects.filter(case=case).order_by("id")
    assert email.subject == f"We received your request {ref}"
    assert email.body == (
        "Hello Lan,\n\nWe received your after-sales request (Quality defect) and will answer "
        f"soon.\n\nCase: {ref}\nStatus: Awaiting merchant\n\n{case.shop.name}"
    )
    assert (email.language, email.state, email.attempts, email.payload) == ("en", "pending", 0, {})
    assert email.next_attempt_at == email.created_at
    assert (sms.subject, sms.body) == ("", f"We received your request {ref}")
    assert sms.payload == {
        "template_code": "SMS_100",
        "template_param": {"case": ref, "status": "Awaiting merchant", "amount": ""},
    }
    assert wechat.payload == {
        "template_id": "TPL-created",
        "url": f"https://shop.example/cases/{ref}",
        "data": {
            "first": {"value": f"We received your request {ref}"},
            "keyword1": {"value": ref},
            "keyword2": {"value": "Awaiting merchant"},
            "remark": {
                "value": "We received your after-sales request (Quality defect) and will "
                "answer soon."
            },
        },
    }
    event = CaseEvent.objects.get(case=case, kind="created")
    assert hook.event_key == f"case_event:{event.pk}"
    assert hook.webhook_endpoint == endpoint
    assert hook.payload["event"] == "created"
    assert hook.payload["case"] == {
        "id": case.pk,
        "reference": ref,
        "type": "return_refund",
        "status": "awaiting_merchant",
        "reason": "quality_defect",
        "priority": case.priority,
        "order_id": customer_order.pk,
        "order_number": customer_order.external_id,
        "channel_id": customer_order.channel_id,
        "customer_id": customer_order.customer_id,
        "outcome": "",
        "refund_amount": None,
    }
    assert len({email.delivery_id, sms.delivery_id, wechat.delivery_id, hook.delivery_id}) == 4


APPROVED = {
    "zh-hans": (
        "您的售后申请 {ref} 已通过",
        "Lan，您好：\n\n您的售后申请已审核通过。下一步：待买家退货。\n\n"
        "售后单号：{ref}\n当前状态：待买家退货\n\n{shop}",
    ),
    "en": (
        "Your request {ref} is approved",
        "Hello Lan,\n\nYour request has been approved. Next step: Awaiting return.\n\n"
        "Case: {ref}\nStatus: Awaiting return\n\n{shop}",
    ),
    "vi": (
        "Yêu cầu {ref} đã được chấp nhận",
        "Xin chào Lan,\n\nYêu cầu của bạn đã được chấp nhận. Bước tiếp theo: Chờ khách gửi "
        "trả hàng.\n\nMã yêu cầu: {ref}\nTrạng thái: Chờ khách gửi trả hàng\n\n{shop}",
    ),
}


@pytest.mark.parametrize("language", ["zh-hans", "en", "vi"])
def test_the_customers_language_picks_the_template(customer_order, language):
    Customer.objects.filter(pk=customer_order.customer_id).update(language=language)
    case = f.case(customer_order)
    case_approve(case=case, actor=None)
    row = Outbox.objects.get(case=case, event="approve", channel="email")
    subject, body = APPROVED[language]
    values = {"ref": case.reference, "shop": case.shop.name}
    assert (row.language, row.subject, row.body) == (
        language,
        subject.format(**values),
        body.format(**values),
    )


def test_a_shop_template_overrides_the_default_and_the_default_language_is_the_fallback(
    customer_order, shop
):
    Customer.objects.filter(pk=customer_order.customer_id).update(language="vi")
    MessageTemplate.objects.filter(shop=None, language="vi", event="approve").delete()
    case = f.case(customer_order)
    case_approve(case=case, actor=None)
    row = Outbox.objects.get(case=case, event="approve", channel="email")
    # No Vietnamese template: the default language (English under test settings).
    assert (row.language, row.subject) == ("en", f"Your request {case.reference} is approved")

    MessageTemplate.objects.create(
        shop=shop,
        event="reject",
        channel="email",
        language="vi",
        subject="{{ shop_name }}: {{ case_number }}",
        body="Lý do: {{ note }} & <b>",
    )
    other = f.case(f.order(customer_order.channel))
    Customer.objects.filter(pk=other.customer_id).update(email="b@example.com", language="vi")
    other.refresh_from_db()
    case_reject(case=other, actor=None, note="Quá 7 ngày")
    row = Outbox.objects.get(case=other, event="reject", channel="email")
    assert (row.language, row.subject, row.body) == (
        "vi",
        f"{shop.name}: {other.reference}",
        "Lý do: Quá 7 ngày & <b>",  # plain text: nothing escaped
    )


def test_a_refused_transition_writes_nothing(customer_order, endpoint):
    case = f.case(customer_order)
    before = Outbox.objects.count()
    with pytest.raises(Conflict):
        case_complete(case=case, actor=None)
    assert Outbox.objects.count() == before


def test_the_rows_roll_back_with_the_transition(customer_order, endpoint):
    case = f.case(customer_order)
    before = Outbox.objects.count()

    def failing_hook(case, event):
        raise RuntimeError("a later hook fails")

    TRANSITION_HOOKS.append(failing_hook)
    try:
        with pytest.raises(RuntimeError):
            case_approve(case=case, actor=None)
    finally:
        TRANSITION_HOOKS.remove(failing_hook)
    assert Outbox.objects.count() == before
    assert CaseEvent.objects.filter(case=case, kind="approve").count() == 0


def test_internal_events_go_only_to_webhooks(customer_order, endpoint, lead):
    case = f.case(customer_order)
    Outbox.objects.all().delete()
    case_comment(case=case, actor=None, text="call the courier", internal=True)
    case_assign(case=case, actor=None, assignee=lead)
    case_escalate(case=case, actor=None, note="angry customer")
    assert _rows(case) == [
        ("comment", "webhook", "https://erp.example/hook"),
        ("assign", "webhook", "https://erp.example/hook"),
        ("escalate", "webhook", "https://erp.example/hook"),
    ]
    comment_hook = Outbox.objects.get(case=case, event="comment")
    assert (comment_hook.payload["note"], comment_hook.payload["data"]) == (
        "call the courier",
        {"internal": True},
    )

    case_comment(case=case, actor=None, text="Your parcel left today.")
    assert _rows(case)[3:] == [
        ("comment", "email", "lan@example.com"),
        ("comment", "webhook", "https://erp.example/hook"),
    ]
    email = Outbox.objects.get(case=case, event="comment", channel="email")
    assert email.subject == f"New message about {case.reference}"
    assert "Your parcel left today." in email.body


def test_webhooks_get_only_the_events_they_subscribe_to(customer_order, shop):
    WebhookEndpoint.objects.create(shop=shop, url="https://a.example/", events=["reject"])
    WebhookEndpoint.objects.create(shop=shop, url="https://b.example/", events=["*"], active=False)
    case = f.case(customer_order)
    case_reject(case=case, actor=None, note="outside the return window")
    assert [r for r in _rows(case) if r[1] == "webhook"] == [
        ("reject", "webhook", "https://a.example/")
    ]


def test_the_same_event_twice_writes_one_row(customer_order, endpoint):
    case = f.case(customer_order)
    event = CaseEvent.objects.get(case=case, kind="created")
    count = Outbox.objects.count()
    assert case_event_notify(case=case, event=event) == []
    assert Outbox.objects.count() == count == 2  # email (no SMS/WeChat accounts) + webhook


def test_a_customer_without_addresses_or_a_case_without_customer_gets_nothing(
    customer_order, endpoint
):
    Customer.objects.filter(pk=customer_order.customer_id).update(
        email="", phone="", wechat_openid=""
    )
    case = f.case(customer_order)
    assert _rows(case) == [("created", "webhook", "https://erp.example/hook")]
    complaint = f.case(None, case_type="complaint", reason="service_attitude", shop=case.shop)
    assert _rows(complaint) == [("created", "webhook", "https://erp.example/hook")]


def test_an_approved_refund_reads_as_the_refund(customer_order):
    case = f.case(customer_order, case_type="refund_only", reason="not_delivered")
    case_approve(case=case, actor=None, approval_role="manager")  # waits for a manager
    assert Outbox.objects.filter(case=case, event__in=["approve", "refund"]).count() == 0
    case_approve(case=case, actor=None)
    row = Outbox.objects.get(case=case, channel="email", event="refund")
    assert row.subject == f"Refund of 100.00 CNY for {case.reference}"
    assert case.refund_amount == Decimal("100.00")


def test_delivery_is_enqueued_after_commit(customer_order, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        case = f.case(customer_order)
    assert len(callbacks) == 1
    row = Outbox.objects.get(case=case)
    task = DBTaskResult.objects.get()
    assert task.task_path == "aftersales.notify.tasks.deliver_outbox"
    assert task.args_kwargs == {"args": [row.pk], "kwargs": {}}
