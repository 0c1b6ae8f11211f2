"""Return addresses and the signed courier feed: who bears the return postage, events stored
once over real HTTP with real HMAC headers, refusals that change nothing, the lightning refund
at the first scan, and a return delivered to the warehouse."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from aftersales.cases import services as cs
from aftersales.cases.models import Case, CaseEvent
from aftersales.channels.models import Customer
from aftersales.ledger.models import Refund
from aftersales.logistics.models import CourierEvent, CourierFeed, Parcel, Warehouse
from aftersales.logistics.tests.conftest import RETURN_ADDRESS
from aftersales.logistics.tests.helpers import (
    courier_post,
    order_of,
    scan,
    sent_back,
    sign,
    world_state,
)
from aftersales.policies.triggers import case_file
from aftersales.tests import factories as f
from aftersales.tests.contract import assert_error


def _file(order, case_type="return_refund", reason="no_reason") -> Case:
    return case_file(actor=None, case_type=case_type, reason=reason, order=order)


def _parcel(case: Case, kind: str = "return") -> Parcel:
    return Parcel.objects.get(case=case, kind=kind)


# ----------------------------------------------------------------------------- return address


@pytest.mark.parametrize(
    ("reason", "insured", "payer", "rule"),
    [
        ("quality_defect", False, "merchant", "quality_fault_merchant_pays"),
        ("no_reason", False, "customer", "no_reason_within_7_days"),
        ("no_reason", True, "insurance", "no_reason_insured"),
    ],
)
def test_approved_return_waits_for_a_parcel_to_the_default_warehouse(
    channel, products, warehouse, reason, insured, payer, rule
):
    case = _file(order_of(channel, products["cup"], insured=insured), reason=reason)
    case.refresh_from_db()
    assert (case.status, case.decision["rule"]) == ("awaiting_return", rule)
    parcel = _parcel(case)
    assert (
        parcel.status,
        parcel.warehouse_id,
        parcel.address,
        parcel.postage_paid_by,
        parcel.postage,
        parcel.courier,
        parcel.tracking_number,
    ) == ("expected", warehouse.pk, RETURN_ADDRESS, payer, None, "", "")
    assert Parcel.objects.filter(case=case).count() == 1


def test_a_person_approves_then_the_customer_sends_it_with_postage(bare_shop, api_for, products):
    Warehouse.objects.create(
        shop=bare_shop,
        code="sz",
        name="深圳仓",
        contact_name="陈收货",
        phone="0755-1234",
        address="深圳市南山区科技园 8 号",
        is_default=True,
    )
    agent = f.user("agent", [bare_shop])
    order = f.order(f.channel(bare_shop))
    case = f.case(order, reason="quality_defect")
    api = api_for(agent)
    assert api.post(f"/cases/{case.pk}/actions/approve", {}).status_code == 200
    sent_back(case, tracking="YT77", postage="12.00")
    parcel = _parcel(case)
    assert (
        parcel.status,
        parcel.address,
        parcel.postage_paid_by,
        parcel.postage,
        parcel.courier,
        parcel.tracking_number,
    ) == (
        "in_transit",
        "陈收货 0755-1234 深圳市南山区科技园 8 号",
        "merchant",
        Decimal("12.00"),
        "中通",
        "YT77",
    )


def test_without_a_warehouse_the_return_parcel_has_no_address_yet(channel, products):
    case = _file(order_of(channel, products["cup"]))
    parcel = _parcel(case)
    assert (parcel.status, parcel.warehouse_id, parcel.address) == ("expected", None, "")


# ----------------------------------------------------------------------------- courier feed


@pytest.fixture
def in_transit(channel, products, warehouse):
    """A no-reason return on its way back (ZT1), not scanned yet."""
    case = _file(order_of(channel, products["cup"]))
    return sent_back(case, tracking="ZT1")


def test_a_signed_batch_is_stored_once_and_moves_the_parcel(feed, in_transit):
    t0 = timezone.now() - timedelta(hours=3)
    events = [
        scan("e-2", "ZT1", "in_transit", t0 + timedelta(hours=1), description="到达杭州"),
        scan("e-1", "ZT1", "picked_up", t0, description="已揽收"),
        scan("e-3", "YT404", "in_transit", t0 + timedelta(hours=2)),
    ]
    resp = courier_post(feed, events)
    assert resp.status_code == 200, resp.content
    assert resp.json() == {"stored": 3, "duplicates": 0, "unmatched": 1}

    parcel = _parcel(in_transit)
    assert (parcel.status, parcel.first_scan_at, parcel.last_event_at, parcel.last_event) == (
        "in_transit",
        t0,
        t0 + timedelta(hours=1),
        "到达杭州",
    )
    stored = list(
        CourierEvent.objects.order_by("occurred_at").values_list(
            "event_id", "status", "tracking_number", "applied"
        )
    )
    case_id = in_transit.pk
    assert stored == [
        (
            "e-1",
            "picked_up",
            "ZT1",
            f"parcel:{parcel.pk} picked_up; case:{case_id} decided lightning_refund",
        ),
        ("e-2", "in_transit", "ZT1", f"parcel:{parcel.pk} in_transit"),
        ("e-3", "in_transit", "YT404", ""),
    ]
    assert set(CourierEvent.objects.values_list("shop_id", "feed_id")) == {(feed.shop_id, feed.pk)}


def test_the_same_batch_again_is_all_duplicates_and_changes_nothing(feed, in_transit):
    t0 = timezone.now() - timedelta(hours=2)
    events = [
        scan("e-1", "ZT1", "picked_up", t0),
        scan("e-2", "ZT1", "delivered", t0 + timedelta(hours=1)),
        scan("e-3", "YT404", "in_transit", t0),
    ]
    assert courier_post(feed, events).json() == {"stored": 3, "duplicates": 0, "unmatched": 1}
    before = world_state()
    resp = courier_post(feed, events)
    assert resp.status_code == 200
    assert resp.json() == {"stored": 0, "duplicates": 3, "unmatched": 0}
    assert world_state() == before


def test_an_event_id_repeated_within_one_batch_is_stored_once(feed, in_transit):
    t0 = timezone.now() - timedelta(hours=2)
    events = [scan("e-1", "ZT1", "picked_up", t0), scan("e-1", "ZT1", "picked_up", t0)]
    assert courier_post(feed, events).json() == {"stored": 1, "duplicates": 1, "unmatched": 0}
    assert CourierEvent.objects.count() == 1


def test_another_feed_may_reuse_an_event_id(feed, shop, in_transit):
    other = CourierFeed.objects.create(shop=shop, code="cainiao", name="菜鸟", secret="cn-secret")
    t0 = timezone.now() - timedelta(hours=2)
    assert courier_post(feed, [scan("e-1", "ZT1", "picked_up", t0)]).json()["stored"] == 1
    resp = courier_post(other, [scan("e-1", "ZT1", "in_transit", t0 + timedelta(minutes=5))])
    assert resp.json() == {"stored": 1, "duplicates": 0, "unmatched": 0}
    assert CourierEvent.objects.count() == 2


def _refused_body(feed):
    return [scan("e-1", "ZT1", "picked_up", timezone.now() - timedelta(hours=1))]


BAD_SIGNATURES = {
    "wrong secret": lambda feed, body, ts: {"signature": "0" * 64},
    "missing signature": lambda feed, body, ts: {"signature": ""},
    "signed another body": lambda feed, body, ts: {"body": body.replace(b"ZT1", b"ZT2")},
    "unknown feed": lambda feed, body, ts: {"code": "nobody"},
    "no feed header": lambda feed, body, ts: {"code": ""},
    "timestamp not a number": lambda feed, body, ts: {"timestamp_text": "soon"},
    "non-ascii signature": lambda feed, body, ts: {"signature": "é" * 64},
}


@pytest.mark.parametrize("how", list(BAD_SIGNATURES), ids=list(BAD_SIGNATURES))
def test_a_bad_signature_is_refused_and_nothing_is_stored(feed, in_transit, how):
    body = json.dumps({"events": _refused_body(feed)}).encode()
    ts = str(int(time.time()))
    change = BAD_SIGNATURES[how](feed, body, ts)
    sent_ts = change.get("timestamp_text", ts)
    headers = {
        "HTTP_X_AFTERSALES_FEED": change.get("code", feed.code),
        "HTTP_X_AFTERSALES_TIMESTAMP": sent_ts,
        "HTTP_X_AFTERSALES_SIGNATURE": change.get("signature", sign(feed.secret, sent_ts, body)),
    }
    before = world_state()
    resp = Client().post(
        "/api/v1/courier-events",
        data=change.get("body", body),
        content_type="application/json",
        **headers,
    )
    assert_error(resp, 401, "courier.bad_signature", {})
    assert world_state() == before
    assert CourierEvent.objects.count() == 0


def test_an_inactive_feed_is_refused(feed, in_transit):
    CourierFeed.objects.filter(pk=feed.pk).update(active=False)
    before = world_state()
    assert_error(courier_post(feed, _refused_body(feed)), 401, "courier.bad_signature", {})
    assert world_state() == before


@pytest.mark.parametrize("skew", [-301, 330, -86400])
def test_a_stale_or_future_timestamp_is_refused(feed, in_transit, skew):
    before = world_state()
    resp = courier_post(feed, _refused_body(feed), timestamp=int(time.time()) + skew)
    assert_error(resp, 401, "courier.stale", {})
    assert world_state() == before


def test_a_timestamp_within_five_minutes_is_accepted(feed, in_transit):
    resp = courier_post(feed, _refused_body(feed), timestamp=int(time.time()) - 250)
    assert resp.status_code == 200, resp.content


def test_an_unknown_status_refuses_the_whole_batch_naming_the_field(feed, in_transit):
    t0 = timezone.now() - timedelta(hours=1)
    events = [scan("e-1", "ZT1", "picked_up", t0), scan("e-2", "ZT1", "teleported", t0)]
    before = world_state()
    assert_error(
        courier_post(feed, events),
        422,
        "courier.invalid",
        {"events.1.status": "Unknown courier status."},
    )
    assert world_state() == before


def test_a_body_that_is_not_json_is_400(feed, in_transit):
    before = world_state()
    resp = courier_post(feed, body=b'{"events": [')
    assert_error(resp, 400, "request.malformed", {"body": "Not valid JSON."})
    assert world_state() == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"occurred_at": "2026-11-20T10:00:00"}, "events.0.occurred_at"),  # no zone
        ({"occurred_at": "yesterday"}, "events.0.occurred_at"),
        ({"tracking_number": ""}, "events.0.tracking_number"),
        ({"event_id": "x" * 101}, "events.0.event_id"),
        ({"weight": "2kg"}, "events.0.weight"),
    ],
)
def test_field_errors_are_422_with_their_path(feed, in_transit, change, field):
    event = dict(scan("e-1", "ZT1", "picked_up", timezone.now()), **change)
    before = world_state()
    error = assert_error(courier_post(feed, [event]), 422, "request.invalid", {field})
    assert error["fields"][field]
    assert world_state() == before


def test_more_than_500_events_are_refused(feed, in_transit):
    at = timezone.now() - timedelta(hours=1)
    events = [scan(f"e-{i}", "ZT1", "in_transit", at) for i in range(501)]
    before = world_state()
    assert_error(courier_post(feed, events), 422, "request.invalid", {"events"})
    assert world_state() == before


def test_500_events_are_accepted(feed, in_transit):
    at = timezone.now() - timedelta(hours=1)
    events = [scan(f"e-{i}", "YT404", "in_transit", at) for i in range(500)]
    assert courier_post(feed, events).json() == {"stored": 500, "duplicates": 0, "unmatched": 500}


def test_courier_events_need_no_api_token_but_ignore_one(feed, in_transit, api_for, agent):
    at = timezone.now() - timedelta(hours=1)
    resp = courier_post(feed, [scan("e-1", "YT404", "in_transit", at)])
    assert resp.status_code == 200
    # A bearer token does not replace the signature.
    resp = api_for(agent).post("/courier-events", {"events": []})
    assert_error(resp, 401, "courier.bad_signature", {})


# ----------------------------------------------------------------------------- lightning refund


def test_first_scan_refunds_a_low_risk_customer_at_once(feed, in_transit):
    t0 = timezone.now() - timedelta(minutes=30)
    courier_post(feed, [scan("e-1", "ZT1", "picked_up", t0)])
    case = Case.objects.get(pk=in_transit.pk)
    assert (case.status, case.refund_amount, case.decision["rule"], case.decision["trigger"]) == (
        "refunding",
        Decimal("100.00"),
        "lightning_refund",
        "return_scanned",
    )
    refund = Refund.objects.get(case=case)
    # The customer bore the postage of a no-reason return: nothing added for it.
    assert (refund.status, refund.goods_amount, refund.shipping_amount, refund.amount) == (
        "pending",
        Decimal("100.00"),
        Decimal("0.00"),
        Decimal("100.00"),
    )
    assert _parcel(case).first_scan_at == t0


def test_lightning_refund_records_postage_the_merchant_bears(feed, channel, products, warehouse):
    case = _file(order_of(channel, products["cup"]), reason="quality_defect")
    sent_back(case, tracking="ZT9", postage="12.00")
    courier_post(feed, [scan("e-1", "ZT9", "picked_up", timezone.now())])
    case.refresh_from_db()
    refund = Refund.objects.get(case=case)
    assert (case.status, case.refund_amount) == ("refunding", Decimal("100.00"))
    # The payout is the goods; the postage the shop bears is recorded on the refund (and
    # goes on as store credit, see ledger.refunds).
    assert (refund.goods_amount, refund.shipping_amount, refund.amount) == (
        Decimal("100.00"),
        Decimal("12.00"),
        Decimal("100.00"),
    )


def test_a_second_scan_does_not_decide_again(feed, in_transit):
    t0 = timezone.now() - timedelta(hours=2)
    courier_post(feed, [scan("e-1", "ZT1", "picked_up", t0)])
    before = world_state()
    courier_post(feed, [scan("e-2", "ZT1", "in_transit", t0 + timedelta(hours=1))])
    after = world_state()
    assert after["decisions"] == before["decisions"]
    assert after["case_events"] == before["case_events"]
    assert after["refunds"] == before["refunds"]
    assert len(after["courier_events"]) == 2


def test_first_scan_does_not_refund_a_high_risk_customer(feed, in_transit):
    Customer.objects.filter(pk=in_transit.customer_id).update(risk_level="high")
    courier_post(feed, [scan("e-1", "ZT1", "picked_up", timezone.now())])
    assert Case.objects.get(pk=in_transit.pk).status == "return_in_transit"


# ----------------------------------------------------------------------------- delivered to us


def test_a_return_delivered_to_the_warehouse_is_received_for_inspection(bare_shop, products):
    feed = CourierFeed.objects.create(shop=bare_shop, code="bare-feed", name="feed", secret="k")
    case = f.case(f.order(f.channel(bare_shop)), reason="no_reason")
    cs.case_approve(case=case, actor=None)
    sent_back(case, tracking="ZT5")
    t0 = timezone.now() - timedelta(hours=5)
    resp = courier_post(
        feed,
        [
            scan("e-1", "ZT5", "picked_up", t0),
            scan("e-2", "ZT5", "delivered", t0 + timedelta(hours=4), location="杭州售后仓"),
        ],
    )
    assert resp.json() == {"stored": 2, "duplicates": 0, "unmatched": 0}
    case.refresh_from_db()
    assert (case.status, case.refund_amount) == ("inspecting", None)
    assert not Refund.objects.filter(case=case).exists()
    parcel = _parcel(case)
    assert (parcel.status, parcel.first_scan_at, parcel.delivered_at) == (
        "delivered",
        t0,
        t0 + timedelta(hours=4),
    )
    receive = CaseEvent.objects.get(case=case, kind="receive")
    assert (receive.actor_label, receive.from_status, receive.to_status, receive.note) == (
        "system",
        "return_in_transit",
        "inspecting",
        "Delivered to our warehouse (杭州售后仓).",
    )
    # The first scan asked the policy; with none, nothing was decided for the customer.
    assert case.decision["rule"] == "no_policy"


def test_an_exchange_return_delivered_goes_to_inspection_without_a_refund(
    feed, channel, products, warehouse
):
    case = _file(
        order_of(channel, products["cup"], qty=1), case_type="exchange", reason="wrong_item"
    )
    sent_back(case, tracking="ZT6")
    t0 = timezone.now() - timedelta(hours=5)
    courier_post(
        feed,
        [
            scan("e-1", "ZT6", "picked_up", t0),
            scan("e-2", "ZT6", "delivered", t0 + timedelta(hours=3)),
        ],
    )
    case.refresh_from_db()
    assert case.status == "inspecting"
    assert not Refund.objects.filter(case=case).exists()


def test_a_late_older_scan_does_not_undo_a_delivery(bare_shop):
    feed = CourierFeed.objects.create(shop=bare_shop, code="bare-feed", name="feed", secret="k")
    case = f.case(f.order(f.channel(bare_shop)), reason="no_reason")
    cs.case_approve(case=case, actor=None)
    sent_back(case, tracking="ZT5")
    t0 = timezone.now() - timedelta(hours=5)
    courier_post(
        feed, [scan("e-2", "ZT5", "delivered", t0 + timedelta(hours=4), description="签收")]
    )
    courier_post(feed, [scan("e-1", "ZT5", "exception", t0, description="地址不详")])
    parcel = _parcel(case)
    assert (parcel.status, parcel.last_event, parcel.last_event_at, parcel.delivered_at) == (
        "delivered",
        "签收",
        t0 + timedelta(hours=4),
        t0 + timedelta(hours=4),
    )
    assert Case.objects.get(pk=case.pk).status == "inspecting"
