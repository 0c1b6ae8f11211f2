"""The admin: templates are edited (and checked) there; the outbox is read-only with a
"retry now" action; the default templates ship with the migrations."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from aftersales.notify.models import MessageTemplate, NotifyEvent, Outbox, WebhookEndpoint
from aftersales.tests import factories as f


@pytest.fixture
def admin_client_(db):
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="x"))
    return client


def test_defaults_ship_for_every_customer_event_channel_and_language(db):
    defaults = MessageTemplate.objects.filter(shop=None)
    assert defaults.count() == len(NotifyEvent.values) * 3 * 3
    assert set(defaults.values_list("language", flat=True)) == {"zh-hans", "en", "vi"}
    assert set(defaults.values_list("channel", flat=True)) == {"email", "sms", "wechat"}
    for template in defaults:
        template.full_clean()  # every default compiles


def test_a_shop_override_is_checked_before_it_is_saved(admin_client_, shop):
    form = {
        "shop": shop.pk,
        "event": "approve",
        "channel": "email",
        "language": "en",
        "subject": "Approved {% if %}",
        "body": "ok",
    }
    resp = admin_client_.post("/admin/notify/messagetemplate/add/", form)
    assert resp.status_code == 200
    assert "Unexpected end of expression in if tag." in resp.content.decode()
    assert not MessageTemplate.objects.filter(shop=shop).exists()

    form["subject"] = "Approved {{ case_number }}"
    resp = admin_client_.post("/admin/notify/messagetemplate/add/", form)
    assert resp.status_code == 302
    assert MessageTemplate.objects.get(shop=shop).subject == "Approved {{ case_number }}"


def test_a_new_webhook_endpoint_gets_a_random_secret(shop):
    endpoint = WebhookEndpoint.objects.create(shop=shop, url="https://x.example/", events=["*"])
    assert len(endpoint.secret) == 64


def test_retry_now_makes_a_dead_message_due_again(admin_client_, shop):
    WebhookEndpoint.objects.create(shop=shop, url="https://x.example/", events=["*"])
    case = f.case(f.order(f.channel(shop)))
    row = Outbox.objects.get(case=case)
    Outbox.objects.filter(pk=row.pk).update(state="dead", attempts=8, last_error="gone")
    resp = admin_client_.post(
        "/admin/notify/outbox/",
        {"action": "retry_now", "_selected_action": [row.pk]},
    )
    assert resp.status_code == 302
    row.refresh_from_db()
    assert (row.state, row.attempts, row.last_error) == ("pending", 0, "gone")
    assert row.next_attempt_at <= timezone.now()
    assert admin_client_.get(f"/admin/notify/outbox/{row.pk}/change/").status_code == 200
