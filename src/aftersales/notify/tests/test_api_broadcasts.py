"""/api/v1/broadcasts: create, read with counts and progress, list; who may; bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tasks_db.models import DBTaskResult

from aftersales.channels.models import Customer
from aftersales.notify.broadcasts import broadcast_run
from aftersales.notify.delivery import outbox_sweep
from aftersales.notify.models import Broadcast, Outbox
from aftersales.tests import factories as f

T0 = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def buyers(shop, channel):
    product = f.product(shop, sku="PB-10")
    for name, email in [("An", "an@example.com"), ("Binh", "binh@example.com")]:
        order = f.order(channel, lines=[(product, 1, "99.00", "0.00")])
        Customer.objects.filter(pk=order.customer_id).update(name=name, email=email)


def _body(shop, **overrides):
    return {
        "shop_id": shop.pk,
        "name": "Power bank recall",
        "channel": "email",
        "audience": {"sku": "PB-10"},
        "messages": {"en": {"subject": "Recall", "body": "Hi {{ customer_name }}"}},
        **overrides,
    }


def test_a_manager_creates_a_broadcast_and_follows_its_progress(
    api_for, manager, shop, buyers, django_capture_on_commit_callbacks
):
    api = api_for(manager)
    with django_capture_on_commit_callbacks(execute=True):
        resp = api.post("/broadcasts", _body(shop))
    assert resp.status_code == 201, resp.content
    created = resp.json()
    broadcast_id = created["id"]
    assert {k: v for k, v in created.items() if k not in ("id", "created_at")} == {
        "shop_id": shop.pk,
        "name": "Power bank recall",
        "channel": "email",
        "audience": {"sku": "PB-10"},
        "messages": {"en": {"subject": "Recall", "body": "Hi {{ customer_name }}"}},
        "state": "pending",
        "total": 2,
        "queued": 0,
        "sent": 0,
        "failed": 0,
        "progress": "0.0000",
        "created_by": "manager1",
        "finished_at": None,
    }
    task = DBTaskResult.objects.get(task_path="aftersales.notify.tasks.broadcast_run")
    assert task.args_kwargs == {"args": [broadcast_id], "kwargs": {}}

    broadcast_run(broadcast_id=broadcast_id, now=T0)
    body = api.get(f"/broadcasts/{broadcast_id}").json()
    assert (body["state"], body["total"], body["queued"], body["progress"]) == (
        "queued",
        2,
        2,
        "0.0000",
    )
    assert outbox_sweep(now=T0) == 2
    body = api.get(f"/broadcasts/{broadcast_id}").json()
    assert (body["state"], body["sent"], body["failed"], body["progress"]) == (
        "done",
        2,
        0,
        "1.0000",
    )
    assert body["finished_at"] is not None

    second = api.post("/broadcasts", _body(shop, name="Second")).json()
    page = api.get("/broadcasts", {"limit": 1}).json()
    assert ([b["id"] for b in page["items"]], page["next_cursor"]) == ([second["id"]], second["id"])
    page = api.get("/broadcasts", {"limit": 1, "before_id": second["id"]}).json()
    assert ([b["id"] for b in page["items"]], page["next_cursor"]) == ([broadcast_id], None)


def test_only_managers_and_admins_broadcast_and_only_in_their_shops(
    api_for, agent, manager, shop, other_shop, buyers
):
    resp = api_for(agent).post("/broadcasts", _body(shop))
    assert (resp.status_code, resp.json()["error"]["code"]) == (403, "permission.denied")
    assert api_for(agent).get("/broadcasts").status_code == 403

    stranger = f.user("manager", [other_shop], "manager2")
    resp = api_for(stranger).post("/broadcasts", _body(shop))
    assert (resp.status_code, resp.json()["error"]["code"]) == (404, "shop.not_found")
    mine = api_for(manager).post("/broadcasts", _body(shop)).json()
    resp = api_for(stranger).get(f"/broadcasts/{mine['id']}")
    assert (resp.status_code, resp.json()["error"]["code"]) == (404, "broadcast.not_found")
    assert api_for(stranger).get("/broadcasts").json() == {"items": [], "next_cursor": None}
    assert api_for(None).get("/broadcasts").status_code == 401


@pytest.mark.parametrize(
    ("overrides", "code", "fields"),
    [
        (
            {"audience": {"sku": "PB-10", "colour": "red"}},
            "request.invalid",
            {"audience.colour": "Extra inputs are not permitted"},
        ),
        (
            {"messages": {"en": {"subject": "Recall"}}},
            "request.invalid",
            {"messages.en.body": "Field required"},
        ),
        (
            {"channel": "fax", "audience": {"open_case_reason": "bored"}},
            "broadcast.invalid",
            {
                "channel": "Choose email, sms or wechat.",
                "audience.open_case_reason": "Unknown reason.",
            },
        ),
        (
            {"messages": {"vi": {"subject": "", "body": "{{ x|nope }}"}}},
            "broadcast.invalid",
            {
                "messages.vi.subject": "Required.",
                "messages.vi.body": "Invalid filter: 'nope'",
            },
        ),
    ],
)
def test_bad_input_is_422_with_field_paths_and_nothing_written(
    api_for, manager, shop, buyers, overrides, code, fields
):
    resp = api_for(manager).post("/broadcasts", _body(shop, **overrides))
    assert resp.status_code == 422, resp.content
    assert (resp.json()["error"]["code"], resp.json()["error"]["fields"]) == (code, fields)
    assert Broadcast.objects.count() == 0
    assert Outbox.objects.filter(broadcast__isnull=False).count() == 0
    assert DBTaskResult.objects.count() == 0
