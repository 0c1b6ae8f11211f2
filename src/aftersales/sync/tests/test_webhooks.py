"""The signed channel webhook: a change at the marketplace files or moves our case (the policy
deciding what the channel still waits on), each event id is applied once, and a refused or
malformed delivery writes nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client

from aftersales.cases.models import Case, CaseEvent
from aftersales.channels.models import ChannelKind, Order
from aftersales.channels.services import shop_create
from aftersales.ledger.models import JournalLine, Refund
from aftersales.policies.models import PolicyDecision
from aftersales.sync.models import ChannelEvent, ChannelLink
from aftersales.sync.tests.fakemarket import SHANGHAI, FakeMarket, order_body
from aftersales.tests import factories as f
from aftersales.tests.threads import race

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
URL = "/api/v1/channels/acme/taobao/events"


@pytest.fixture
def shop(db):
    return shop_create(code="acme", name="Acme 旗舰店")  # the default policy decides


@pytest.fixture
def channel(shop):
    f.product(shop, sku="CUP", price="50.00")
    return f.channel(shop, kind=ChannelKind.TAOBAO, code="taobao")


@pytest.fixture
def market():
    return FakeMarket()  # only its data and its signing: the webhooks need no server


@pytest.fixture
def link(channel, market):
    return ChannelLink.objects.create(
        shop=channel.shop, channel=channel, webhook_secret=market.webhook_secret
    )


def deliver(market: FakeMarket, event_id: str, url: str = URL, **headers):
    signed, body = market.webhook(event_id)
    return Client().post(url, body, content_type="application/json", **{**signed, **headers})


def signed(body: bytes, secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    sig = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"HTTP_X_AFTERSALES_TIMESTAMP": ts, "HTTP_X_AFTERSALES_SIGNATURE": sig}


def post_signed(body: bytes, secret: str):
    return Client().post(URL, body, content_type="application/json", **signed(body, secret))


def paid_order(market: FakeMarket, number: str = "T100") -> str:
    """An order paid a day ago, not shipped, put at the market; returns the change's id."""
    body = order_body(number, [("CUP", 2, "50.00")], paid_at=NOW - timedelta(days=1))
    body["shipping_fee"] = "8.00"
    return market.order_put(body, at=NOW - timedelta(days=1))


def snapshot() -> dict:
    return {
        "events": ChannelEvent.objects.count(),
        "cases": list(Case.objects.values_list("pk", "status", "channel_status", "outcome")),
        "case_events": CaseEvent.objects.count(),
        "decisions": PolicyDecision.objects.count(),
        "refunds": list(Refund.objects.values_list("pk", "status", "amount")),
        "orders": list(Order.objects.values_list("pk", "status", "total_paid")),
        "journal": JournalLine.objects.count(),
    }


def test_an_order_webhook_upserts_the_order(link, market):
    event_id = paid_order(market)

    resp = deliver(market, event_id)

    assert resp.status_code == 200, resp.content
    order = Order.objects.get(channel=link.channel, external_id="T100")
    assert resp.json() == {"status": "applied", "case_id": None, "order_id": order.pk}
    assert (order.status, order.total_paid, order.shipping_fee) == (
        "paid",
        Decimal("108.00"),
        Decimal("8.00"),
    )
    assert list(order.lines.values_list("sku", "quantity", "paid_amount")) == [
        ("CUP", 2, Decimal("100.00"))
    ]
    event = ChannelEvent.objects.get()
    assert (event.event_id, event.source, event.kind, event.status, event.order_id) == (
        "ord-T100-1",
        "webhook",
        "order.updated",
        "applied",
        order.pk,
    )


def test_a_signed_webhook_files_a_case_and_the_policy_decides_it(link, market):
    assert deliver(market, paid_order(market)).status_code == 200
    event_id = market.refund_put("R100", order_number="T100", status="WAIT_SELLER_AGREE", at=NOW)

    resp = deliver(market, event_id)

    assert resp.status_code == 200, resp.content
    case = Case.objects.get()
    order = Order.objects.get()
    assert resp.json() == {"status": "applied", "case_id": case.pk, "order_id": order.pk}
    # Not shipped: the default policy refunds at once, shipping included; the channel still
    # shows the request as waiting on the seller.
    assert (case.type, case.status, case.channel_status, case.external_id) == (
        "refund_only",
        "refunding",
        "WAIT_SELLER_AGREE",
        "R100",
    )
    assert case.channel_synced_at == NOW
    assert case.refund_amount == Decimal("108.00")
    decision = PolicyDecision.objects.get(case=case)
    assert (decision.trigger, decision.rule, decision.action) == (
        "created",
        "refund_only_unshipped",
        "auto_approve",
    )
    refund = Refund.objects.get(case=case)
    assert (refund.provider, refund.status, refund.amount) == (
        "manual",
        "pending",
        Decimal("108.00"),
    )
    event = ChannelEvent.objects.get(event_id=event_id)
    assert (event.source, event.kind, event.status, event.case_id, event.order_id) == (
        "webhook",
        "case.updated",
        "applied",
        case.pk,
        order.pk,
    )
    assert event.occurred_at == NOW
    assert event.payload == market.change(event_id).data


def test_a_replayed_event_is_a_duplicate_and_changes_nothing(link, market):
    deliver(market, paid_order(market))
    event_id = market.refund_put("R100", order_number="T100", status="WAIT_SELLER_AGREE", at=NOW)
    first = deliver(market, event_id).json()
    before = snapshot()

    again = deliver(market, event_id)  # the channel retried: new timestamp, same event

    assert again.status_code == 200
    assert again.json() == {**first, "status": "duplicate"}
    assert snapshot() == before
    assert before["events"] == 2
    assert ChannelEvent.objects.get(event_id=event_id).source == "webhook"


def test_a_replay_with_other_data_under_the_same_event_id_changes_nothing(link, market):
    deliver(market, paid_order(market))
    event_id = market.refund_put("R100", order_number="T100", status="WAIT_SELLER_AGREE", at=NOW)
    deliver(market, event_id)
    before = snapshot()
    body = json.loads(market.webhook(event_id)[1])
    body["data"]["status"] = "SUCCESS"

    resp = post_signed(json.dumps(body).encode(), market.webhook_secret)

    assert resp.json()["status"] == "duplicate"
    assert snapshot() == before
    assert ChannelEvent.objects.get(event_id=event_id).payload["status"] == "WAIT_SELLER_AGREE"


def _tampered(market, event_id):
    headers, body = market.webhook(event_id)
    return headers, body.replace(b"WAIT_SELLER_AGREE", b"SUCCESS")


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("wrong_secret", "channel.bad_signature"),
        ("tampered_body", "channel.bad_signature"),
        ("stale_timestamp", "channel.stale"),
        ("future_timestamp", "channel.stale"),
        ("no_headers", "channel.bad_signature"),
        ("unknown_channel", "channel.bad_signature"),
        ("unknown_shop", "channel.bad_signature"),
        ("link_without_secret", "channel.bad_signature"),
        ("inactive_link", "channel.bad_signature"),
    ],
)
def test_a_refused_delivery_is_401_and_writes_nothing(link, market, case, code):
    market.order_put(order_body("T100", [("CUP", 1, "50.00")], paid_at=NOW), at=NOW)
    event_id = market.refund_put("R100", order_number="T100", status="WAIT_SELLER_AGREE", at=NOW)
    headers, body = market.webhook(event_id)
    url = URL
    if case == "wrong_secret":
        headers = signed(body, "not-the-secret")
    elif case == "tampered_body":
        headers, body = _tampered(market, event_id)
    elif case == "stale_timestamp":
        headers, body = market.webhook(event_id, timestamp=int(time.time()) - 301)
    elif case == "future_timestamp":
        headers, body = market.webhook(event_id, timestamp=int(time.time()) + 301)
    elif case == "no_headers":
        headers = {}
    elif case == "unknown_channel":
        url = "/api/v1/channels/acme/jd/events"
    elif case == "unknown_shop":
        url = "/api/v1/channels/other/taobao/events"
    elif case == "link_without_secret":
        ChannelLink.objects.filter(pk=link.pk).update(webhook_secret="")
    elif case == "inactive_link":
        ChannelLink.objects.filter(pk=link.pk).update(active=False)
    before = snapshot()

    resp = Client().post(url, body, content_type="application/json", **headers)

    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == code
    assert resp.json()["error"]["fields"] == {}
    assert snapshot() == before
    assert before["events"] == 0 and before["cases"] == []


def test_a_body_that_is_not_json_is_400(link, market):
    resp = post_signed(b'{"event_id": "e1", ', market.webhook_secret)

    assert resp.status_code == 400
    assert resp.json()["error"] == {
        "code": "request.malformed",
        "message": "The body is not valid JSON.",
        "fields": {"body": "Not valid JSON."},
    }
    assert ChannelEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (
            {"event_id": "has space", "type": "case.closed", "occurred_at": "2026-11-20T10:00:00"},
            {
                "event_id": "String should match pattern '^[!-~]{1,100}$'",
                "type": "Input should be 'case.updated' or 'order.updated'",
                "occurred_at": "Input should have timezone info",
                "data": "Field required",
            },
        ),
        (
            {
                "event_id": "rf-R1-1",
                "type": "case.updated",
                "occurred_at": "2026-11-20T10:00:00+08:00",
                "data": {
                    "order_number": "T100",
                    "type": "refund_only",
                    "status": "WAIT_SELLER_AGREE",
                    "refund_amount": "-1.00",
                    "lines": [{"sku": "CUP", "quantity": 0}],
                    "colour": "red",
                },
            },
            {
                "data.external_id": "Field required",
                "data.refund_amount": "Input should be greater than or equal to 0",
                "data.lines.0.quantity": "Input should be greater than or equal to 1",
                "data.colour": "Extra inputs are not permitted",
            },
        ),
        (
            {
                "event_id": "ord-T1-1",
                "type": "order.updated",
                "occurred_at": "2026-11-20T10:00:00+08:00",
                "data": {"external_id": "T1", "lines": []},
            },
            {"data.lines": "List should have at least 1 item after validation, not 0"},
        ),
        (
            {
                "event_id": "rf-R1-1",
                "type": "case.updated",
                "occurred_at": "2026-11-20T10:00:00+08:00",
                "data": {
                    "external_id": "R1",
                    "order_number": "T100",
                    "type": "refund_only",
                    "status": "WAIT_SELLER_AGREE",
                    "customer_words": "坏了\u0000",
                },
            },
            {"data.customer_words": "Contains a NUL character."},
        ),
        ([1, 2], {"body": "Input should be a valid dictionary or object to extract fields from"}),
    ],
)
def test_a_body_of_the_wrong_shape_is_400_with_its_fields(link, market, body, fields):
    resp = post_signed(json.dumps(body).encode(), market.webhook_secret)

    assert resp.status_code == 400, resp.content
    error = resp.json()["error"]
    assert (error["code"], error["message"]) == ("event.invalid", "The event is not valid.")
    assert error["fields"] == fields
    assert ChannelEvent.objects.count() == 0


def test_an_unknown_order_is_422_kept_as_failed_and_applied_when_delivered_again(link, market):
    market.order_put(
        order_body("T200", [("CUP", 2, "50.00")], paid_at=NOW - timedelta(days=1)), at=NOW
    )
    event_id = market.refund_put("R200", order_number="T200", status="WAIT_SELLER_AGREE", at=NOW)

    resp = deliver(market, event_id)  # the order's own webhook has not come yet

    assert resp.status_code == 422
    assert resp.json()["error"] == {
        "code": "order.not_found",
        "message": "No order T200 on this channel.",
        "fields": {"order_number": "T200"},
    }
    failed = ChannelEvent.objects.get()
    assert (failed.event_id, failed.status, failed.case_id, failed.order_id) == (
        event_id,
        "failed",
        None,
        None,
    )
    assert failed.error == "order.not_found: No order T200 on this channel. (order_number: T200)"
    assert Case.objects.count() == 0

    assert deliver(market, "ord-T200-1").json()["status"] == "applied"
    resp = deliver(market, event_id)  # the channel retries its webhook

    assert resp.status_code == 200, resp.content
    case = Case.objects.get()
    assert resp.json() == {"status": "applied", "case_id": case.pk, "order_id": case.order_id}
    assert (case.external_id, case.status, case.channel_status) == (
        "R200",
        "refunding",
        "WAIT_SELLER_AGREE",
    )
    again = ChannelEvent.objects.get(event_id=event_id)
    assert (again.pk, again.status, again.error, again.case_id) == (
        failed.pk,
        "applied",
        "",
        case.pk,
    )
    assert ChannelEvent.objects.count() == 2


def test_a_failed_event_delivered_again_and_still_refused_stays_failed(link, market):
    market.order_put(order_body("T200", [("CUP", 1, "50.00")], paid_at=NOW), at=NOW)
    event_id = market.refund_put("R200", order_number="T200", status="WAIT_SELLER_AGREE", at=NOW)
    deliver(market, event_id)

    resp = deliver(market, event_id)

    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "order.not_found"
    assert list(ChannelEvent.objects.values_list("status", flat=True)) == ["failed"]


def test_an_unknown_channel_status_is_422_and_kept_as_failed(link, market):
    deliver(market, paid_order(market))
    event_id = market.refund_put("R100", order_number="T100", status="WAIT_GOD", at=NOW)

    resp = deliver(market, event_id)

    assert resp.status_code == 422
    assert resp.json()["error"] == {
        "code": "channel.unknown_status",
        "message": "Taobao has no after-sales status WAIT_GOD.",
        "fields": {"channel_status": "WAIT_GOD"},
    }
    assert ChannelEvent.objects.get(event_id=event_id).status == "failed"
    assert Case.objects.count() == 0


def test_an_update_older_than_what_we_hold_is_stale(link, market):
    deliver(market, paid_order(market))
    older = market.refund_put(
        "R300",
        order_number="T100",
        case_type="return_refund",
        status="WAIT_SELLER_AGREE",
        at=NOW - timedelta(hours=2),
    )
    newer = market.refund_put("R300", status="WAIT_BUYER_RETURN_GOODS", at=NOW - timedelta(hours=1))
    assert deliver(market, newer).json()["status"] == "applied"  # overtook the older one
    case = Case.objects.get()
    assert (case.status, case.channel_status) == ("awaiting_return", "WAIT_BUYER_RETURN_GOODS")
    before = snapshot()

    resp = deliver(market, older)

    assert resp.status_code == 200
    assert resp.json() == {"status": "stale", "case_id": case.pk, "order_id": case.order_id}
    case.refresh_from_db()
    assert (case.status, case.channel_status) == ("awaiting_return", "WAIT_BUYER_RETURN_GOODS")
    assert case.channel_synced_at == NOW - timedelta(hours=1)
    assert ChannelEvent.objects.get(event_id=older).status == "stale"
    assert snapshot() == {**before, "events": before["events"] + 1}


def test_an_older_order_update_is_stale(link, market):
    body = order_body("T100", [("CUP", 2, "50.00")], paid_at=NOW - timedelta(days=2))
    paid = market.order_put(body, at=NOW - timedelta(days=2))
    body["shipped_at"] = (NOW - timedelta(days=1)).isoformat()
    shipped = market.order_put(body, at=NOW - timedelta(days=1))
    assert deliver(market, shipped).json()["status"] == "applied"

    resp = deliver(market, paid)

    assert resp.json()["status"] == "stale"
    assert Order.objects.get().status == "shipped"


def test_taobao_success_settles_the_cases_manual_refund(link, market, channel):
    deliver(market, paid_order(market))
    deliver(
        market, market.refund_put("R100", order_number="T100", status="WAIT_SELLER_AGREE", at=NOW)
    )
    case = Case.objects.get()
    assert case.status == "refunding"

    resp = deliver(market, market.refund_put("R100", status="SUCCESS", at=NOW + timedelta(hours=3)))

    assert resp.status_code == 200, resp.content
    assert resp.json()["status"] == "applied"
    case.refresh_from_db()
    assert (case.status, case.outcome, case.channel_status) == ("succeeded", "refunded", "SUCCESS")
    assert case.channel_synced_at == NOW + timedelta(hours=3)
    refund = Refund.objects.get(case=case)
    assert (refund.status, refund.amount, refund.provider_reference) == (
        "succeeded",
        Decimal("108.00"),
        f"{channel.pk}:R100",
    )
    assert refund.confirmed_at == NOW + timedelta(hours=3)
    assert refund.entry_id is not None


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL (DATABASE_URL)"
)
def test_the_same_new_event_delivered_at_once_is_applied_once(link, market):
    deliver(market, paid_order(market))
    event_id = market.refund_put("R100", order_number="T100", status="WAIT_SELLER_AGREE", at=NOW)
    headers, body = market.webhook(event_id)

    def post():
        return Client().post(URL, body, content_type="application/json", **headers)

    responses = race([post, post, post], timeout=30)

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert sorted(r.json()["status"] for r in responses) == ["applied", "duplicate", "duplicate"]
    case = Case.objects.get()
    assert {r.json()["case_id"] for r in responses} == {case.pk}
    assert ChannelEvent.objects.filter(event_id=event_id).count() == 1
    assert PolicyDecision.objects.filter(case=case).count() == 1
    assert Refund.objects.filter(case=case).count() == 1


def test_an_update_older_than_an_unchanged_one_is_stale(link, market):
    deliver(market, paid_order(market))
    first = market.refund_put(
        "R400",
        order_number="T100",
        case_type="return_refund",
        status="WAIT_BUYER_RETURN_GOODS",
        at=NOW - timedelta(hours=3),
    )
    moved = market.refund_put(
        "R400", status="WAIT_SELLER_CONFIRM_GOODS", at=NOW - timedelta(hours=2)
    )
    # The channel's newest word: still waiting for the buyer (the parcel never left).
    newest = market.refund_put(
        "R400", status="WAIT_BUYER_RETURN_GOODS", at=NOW - timedelta(hours=1)
    )
    assert deliver(market, first).json()["status"] == "applied"
    assert deliver(market, newest).json()["status"] == "applied"  # same status: unchanged

    resp = deliver(market, moved)  # arrives last, but is older than what we hold

    assert resp.json()["status"] == "stale"
    case = Case.objects.get()
    assert (case.status, case.channel_status) == ("awaiting_return", "WAIT_BUYER_RETURN_GOODS")
    assert case.channel_synced_at == NOW - timedelta(hours=1)


def test_an_order_with_another_channels_id_is_refused(link, market):
    body = order_body("T100", [("CUP", 1, "50.00")], paid_at=NOW)
    body["channel_id"] = link.channel_id + 1000
    event_id = market.order_put(body, at=NOW)

    resp = deliver(market, event_id)

    assert resp.status_code == 422
    assert resp.json()["error"] == {
        "code": "event.invalid",
        "message": "The event's data is not valid.",
        "fields": {"data.channel_id": "Leave it out, or give this channel's id."},
    }
    assert Order.objects.count() == 0
    assert ChannelEvent.objects.get().status == "failed"


def test_an_event_of_a_kind_we_do_not_know_is_kept_as_failed(link):
    from aftersales.sync.webhooks import event_apply

    result = event_apply(
        channel=link.channel,
        event_id="x-1",
        kind="refund.deleted",
        occurred_at=NOW,
        payload={"external_id": "R1"},
        source="pull",
    )

    assert (result.status, result.error.code) == ("failed", "event.unknown_type")
    event = ChannelEvent.objects.get()
    assert (event.kind, event.status, event.error) == (
        "refund.deleted",
        "failed",
        "event.unknown_type: Unknown event type refund.deleted. (type: refund.deleted)",
    )
