"""The reconciliation pull against a fake marketplace: a lost webhook is repaired, a change both
delivered and pulled is applied once, a failing marketplace keeps the cursor until it
recovers, and the pages, the claim and the signature hold."""

from __future__ import annotations

import io
import re
import threading
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from aftersales.cases.models import Case, CaseEvent
from aftersales.channels.models import ChannelKind, Order
from aftersales.channels.services import shop_create
from aftersales.core.beat import BEAT_JOBS
from aftersales.ledger.models import JournalLine, Refund
from aftersales.policies.models import PolicyDecision
from aftersales.sync.connectors import ConnectorError, connector_for
from aftersales.sync.connectors.rest import RestConnector
from aftersales.sync.models import ChannelEvent, ChannelLink
from aftersales.sync.reconcile import pull_now, pulls_sweep
from aftersales.sync.tests import fakemarket as fm
from aftersales.sync.tests.fakemarket import SHANGHAI, FakeMarket, order_body
from aftersales.tests import factories as f

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
TURN = timedelta(seconds=300)


@pytest.fixture
def shop(db):
    return shop_create(code="acme", name="Acme 旗舰店")  # the default policy decides


@pytest.fixture
def channel(shop):
    f.product(shop, sku="CUP", price="50.00")
    return f.channel(shop, kind=ChannelKind.TAOBAO, code="taobao")


@pytest.fixture
def market():
    with FakeMarket() as market:
        yield market


@pytest.fixture
def link(channel, market):
    return ChannelLink.objects.create(
        shop=channel.shop,
        channel=channel,
        webhook_secret=market.webhook_secret,
        connector="rest",
        base_url=market.url,
        app_key=market.app_key,
        app_secret=market.app_secret,
        pull_every_seconds=300,
        pulled_until=NOW - timedelta(hours=1),
    )


def deliver(market: FakeMarket, event_id: str):
    headers, body = market.webhook(event_id)
    resp = Client().post(
        "/api/v1/channels/acme/taobao/events", body, content_type="application/json", **headers
    )
    assert resp.status_code == 200, resp.content
    return resp.json()


def put_order(market: FakeMarket, number: str = "T100", *, at: datetime) -> str:
    """An order of 2 cups at 50.00 with 8.00 shipping, paid at `at`, not shipped."""
    body = order_body(number, [("CUP", 2, "50.00")], paid_at=at, shipping_fee="8.00")
    return market.order_put(body, at=at)


def snapshot() -> dict:
    return {
        "events": list(ChannelEvent.objects.order_by("pk").values_list("event_id", "status")),
        "cases": list(Case.objects.values_list("pk", "status", "channel_status", "outcome")),
        "case_events": CaseEvent.objects.count(),
        "decisions": PolicyDecision.objects.count(),
        "refunds": list(Refund.objects.values_list("pk", "status", "amount")),
        "orders": list(Order.objects.values_list("pk", "status", "total_paid")),
        "journal": JournalLine.objects.count(),
    }


def pages_asked(market: FakeMarket) -> list[str]:
    return [r.params["page"] for r in market.received]


def test_the_pull_repairs_lost_webhooks_and_a_second_sweep_changes_nothing(link, market):
    deliver(market, put_order(market, at=NOW - timedelta(days=1)))  # the order's came
    # The refund's two webhooks never arrived.
    market.refund_put(
        "R100", order_number="T100", status="WAIT_SELLER_AGREE", at=NOW - timedelta(minutes=30)
    )
    market.refund_put("R100", status="SUCCESS", at=NOW - timedelta(minutes=5))
    assert Case.objects.count() == 0

    assert pulls_sweep(NOW) == 1

    case = Case.objects.get()
    assert (case.external_id, case.type, case.status, case.outcome, case.channel_status) == (
        "R100",
        "refund_only",
        "succeeded",
        "refunded",
        "SUCCESS",
    )
    # Filed as waiting on the seller, the policy refunded; the channel's SUCCESS settled it.
    assert list(PolicyDecision.objects.values_list("rule", "action")) == [
        ("refund_only_unshipped", "auto_approve")
    ]
    refund = Refund.objects.get()
    assert (refund.status, refund.amount, refund.provider_reference) == (
        "succeeded",
        Decimal("108.00"),
        f"{link.channel_id}:R100",
    )
    assert list(
        ChannelEvent.objects.order_by("pk").values_list("event_id", "source", "status")
    ) == [
        ("ord-T100-1", "webhook", "applied"),
        ("rf-R100-1", "pull", "applied"),
        ("rf-R100-2", "pull", "applied"),
    ]
    link.refresh_from_db()
    assert (link.pulled_until, link.next_pull_at, link.last_error) == (NOW, NOW + TURN, "")
    asked = market.received[0].params
    assert (asked["since"], asked["until"]) == ("2026-11-20T00:50:00Z", "2026-11-20T02:00:00Z")
    before = snapshot()

    assert pulls_sweep(NOW + TURN) == 1  # reads [NOW − 10 min, …): SUCCESS again

    assert snapshot() == before
    assert market.received[-1].params["since"] == "2026-11-20T01:50:00Z"
    link.refresh_from_db()
    assert link.pulled_until == NOW + TURN


def test_a_change_delivered_by_webhook_and_pulled_is_applied_once(link, market):
    deliver(market, put_order(market, at=NOW - timedelta(days=1)))
    opened = market.refund_put(
        "R100", order_number="T100", status="WAIT_SELLER_AGREE", at=NOW - timedelta(minutes=20)
    )
    deliver(market, opened)
    before = snapshot()

    report = pull_now(link, NOW)

    assert (report.changes, report.applied, report.duplicates, report.failed) == (1, 0, 1, 0)
    assert report.error == ""
    assert snapshot() == before
    event = ChannelEvent.objects.get(event_id=opened)
    assert (event.source, event.status) == ("webhook", "applied")
    assert report.describe().startswith("acme/taobao: 2026-11-20T08:50:00+08:00 → ")


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (fm.HTTP_500, "page 1: HTTP 500: <html><body>502 Bad Gateway</body></html>"),
        (fm.BAD_JSON, "page 1: the answer is not JSON"),
        (
            fm.BAD_SHAPE,
            "page 1: unexpected answer at changes: Input should be a valid list",
        ),
    ],
)
def test_a_failing_marketplace_keeps_the_cursor_and_the_next_turn_repairs(
    link, market, failure, error
):
    deliver(market, put_order(market, at=NOW - timedelta(days=1)))
    market.refund_put(
        "R100", order_number="T100", status="WAIT_SELLER_AGREE", at=NOW - timedelta(minutes=30)
    )
    market.fail_next(failure)

    assert pulls_sweep(NOW) == 1

    link.refresh_from_db()
    assert (link.pulled_until, link.next_pull_at, link.last_error) == (
        NOW - timedelta(hours=1),
        NOW + TURN,
        error,
    )
    assert Case.objects.count() == 0
    assert pulls_sweep(NOW + TURN - timedelta(seconds=1)) == 0  # not its turn yet

    assert pulls_sweep(NOW + TURN) == 1

    case = Case.objects.get()
    assert (case.external_id, case.status, case.channel_status) == (
        "R100",
        "refunding",
        "WAIT_SELLER_AGREE",
    )
    link.refresh_from_db()
    assert (link.pulled_until, link.next_pull_at, link.last_error) == (
        NOW + TURN,
        NOW + 2 * TURN,
        "",
    )
    # The retry read the same window again, from the cursor that had not moved.
    assert [r.params["since"] for r in market.received] == ["2026-11-20T00:50:00Z"] * 2


def _three_orders_with_refunds(market: FakeMarket) -> None:
    for i in range(3):
        put_order(market, f"T{i}", at=NOW - timedelta(minutes=50 - i))
    for i in range(3):
        market.refund_put(
            f"R{i}",
            order_number=f"T{i}",
            status="WAIT_SELLER_AGREE",
            at=NOW - timedelta(minutes=40 - i),
        )


def test_several_pages_are_read_in_order(link, market):
    market.max_page_size = 2
    _three_orders_with_refunds(market)

    report = pull_now(link, NOW)

    assert pages_asked(market) == ["1", "2", "3"]
    assert (report.changes, report.applied, report.failed) == (6, 6, 0)
    assert list(Case.objects.order_by("external_id").values_list("external_id", "status")) == [
        ("R0", "refunding"),
        ("R1", "refunding"),
        ("R2", "refunding"),
    ]
    assert Order.objects.count() == 3
    link.refresh_from_db()
    assert (link.pulled_until, link.last_error) == (NOW, "")


def test_a_failure_on_a_later_page_keeps_the_cursor_and_what_came_before(link, market):
    market.max_page_size = 2
    _three_orders_with_refunds(market)
    market.fail_next(fm.HTTP_500, skip=1)

    report = pull_now(link, NOW)

    assert pages_asked(market) == ["1", "2"]
    assert (report.changes, report.applied) == (2, 2)
    assert report.error.startswith("page 2: HTTP 500")
    assert "not pulled (2 changes: 2 applied" in report.describe()
    link.refresh_from_db()
    assert link.pulled_until == NOW - timedelta(hours=1)
    assert Order.objects.count() == 2 and Case.objects.count() == 0

    report = pull_now(link, NOW + TURN)

    assert (report.changes, report.applied, report.duplicates) == (6, 4, 2)
    assert Case.objects.count() == 3
    link.refresh_from_db()
    assert (link.pulled_until, link.last_error) == (NOW + TURN, "")


def test_a_refused_change_is_kept_failed_and_does_not_hold_the_cursor(link, market):
    put_order(market, "T9", at=NOW - timedelta(days=3))  # before our window: never seen here
    deliver(market, put_order(market, "T100", at=NOW - timedelta(days=1)))
    lost = market.refund_put(
        "R9", order_number="T9", status="WAIT_SELLER_AGREE", at=NOW - timedelta(minutes=30)
    )
    good = market.refund_put(
        "R100", order_number="T100", status="WAIT_SELLER_AGREE", at=NOW - timedelta(minutes=20)
    )

    report = pull_now(link, NOW)

    assert (report.changes, report.applied, report.failed) == (2, 1, 1)
    refused = ChannelEvent.objects.get(event_id=lost)
    assert (refused.source, refused.status, refused.error) == (
        "pull",
        "failed",
        "order.not_found: No order T9 on this channel. (order_number: T9)",
    )
    assert ChannelEvent.objects.get(event_id=good).status == "applied"
    assert list(Case.objects.values_list("external_id", flat=True)) == ["R100"]
    link.refresh_from_db()
    assert (link.pulled_until, link.last_error) == (NOW, "")


def test_the_marketplace_refuses_a_wrong_signature(link, market):
    ChannelLink.objects.filter(pk=link.pk).update(app_secret="not-the-app-secret")

    assert pulls_sweep(NOW) == 1

    link.refresh_from_db()
    assert link.last_error == "page 1: the marketplace refused: 25 Invalid signature"
    assert link.pulled_until == NOW - timedelta(hours=1)
    sent = market.received[0].params
    assert sorted(sent) == [
        "app_key",
        "page",
        "page_size",
        "sign",
        "sign_method",
        "since",
        "timestamp",
        "until",
    ]
    assert (sent["app_key"], sent["sign_method"], sent["page_size"]) == (
        "12345678",
        "hmac-sha256",
        "100",
    )
    assert re.fullmatch(r"[0-9A-F]{64}", sent["sign"])


def test_a_hanging_marketplace_is_a_connector_error(market):
    market.hang_seconds = 1.0
    market.fail_next(fm.HANG)
    connector = RestConnector(
        base_url=market.url, app_key=market.app_key, app_secret=market.app_secret, timeout=0.2
    )

    with pytest.raises(ConnectorError) as refused:
        list(connector.changes(NOW - timedelta(hours=1), NOW))

    assert refused.value.message.startswith("page 1: GET 127.0.0.1:")
    assert "timed out" in refused.value.message


def test_a_link_without_settings_is_a_connector_error(link):
    link.app_secret = ""
    with pytest.raises(ConnectorError) as refused:
        connector_for(link)
    assert refused.value.message == "the channel link has no app_secret"
    link.connector = ""
    with pytest.raises(ConnectorError) as refused:
        connector_for(link)
    assert refused.value.message == "the channel link has no connector (none)"


def test_the_first_pull_reads_the_last_day(link, market):
    ChannelLink.objects.filter(pk=link.pk).update(pulled_until=None, next_pull_at=None)

    assert pulls_sweep(NOW) == 1

    asked = market.received[0].params
    assert (asked["since"], asked["until"]) == ("2026-11-19T02:00:00Z", "2026-11-20T02:00:00Z")


def test_only_due_active_links_with_a_connector_are_claimed_and_once(link, market, shop):
    other = f.channel(shop, kind=ChannelKind.PDD, code="pdd")
    webhooks_only = ChannelLink.objects.create(shop=shop, channel=other, webhook_secret="s")
    later = f.channel(shop, kind=ChannelKind.JD, code="jd")
    not_yet = ChannelLink.objects.create(
        shop=shop,
        channel=later,
        connector="rest",
        base_url=market.url,
        app_key=market.app_key,
        app_secret=market.app_secret,
        next_pull_at=NOW + timedelta(seconds=1),
    )
    off = f.channel(shop, kind=ChannelKind.DOUYIN, code="douyin")
    ChannelLink.objects.create(
        shop=shop, channel=off, connector="rest", base_url=market.url, active=False
    )

    assert pulls_sweep(NOW) == 1  # taobao only
    assert pulls_sweep(NOW) == 0  # claimed: its turn moved on

    assert len(market.received) == 1
    webhooks_only.refresh_from_db()
    not_yet.refresh_from_db()
    assert (webhooks_only.next_pull_at, not_yet.next_pull_at) == (None, NOW + timedelta(seconds=1))


def test_the_claim_is_taken_once_when_two_workers_read_the_same_due_link(link):
    from aftersales.sync.reconcile import _claim

    due_at = ChannelLink.objects.values_list("next_pull_at", flat=True).get(pk=link.pk)

    first = _claim(link.pk, due_at, NOW)
    second = _claim(link.pk, due_at, NOW)  # read the same row before the first claimed it

    assert first is not None and first.next_pull_at == NOW + TURN
    assert second is None


def test_the_pull_is_a_beat_job():
    assert [job.run for job in BEAT_JOBS if job.name == "channel_pulls"] == [pulls_sweep]


def test_the_command_pulls_and_prints_what_it_did(link, market):
    now = timezone.now()  # the command pulls up to the real now
    ChannelLink.objects.filter(pk=link.pk).update(pulled_until=now - timedelta(hours=1))
    deliver(market, put_order(market, at=now - timedelta(days=1)))
    market.refund_put(
        "R100", order_number="T100", status="WAIT_SELLER_AGREE", at=now - timedelta(minutes=30)
    )
    out = io.StringIO()

    call_command("sync", "pull", "--channel", "taobao", stdout=out)

    assert re.fullmatch(
        r"acme/taobao: \S+ → \S+: 1 changes: 1 applied, 0 duplicates, 0 stale, 0 failed\n",
        out.getvalue(),
    )
    assert Case.objects.get().external_id == "R100"


def test_the_command_exits_1_when_a_channel_cannot_be_pulled(link, market):
    market.fail_next(fm.HTTP_500)
    out = io.StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("sync", "pull", stdout=out)

    assert failed.value.returncode == 1
    assert str(failed.value) == "1 of 1 channels could not be pulled."
    assert "not pulled (0 changes: 0 applied" in out.getvalue()
    assert "page 1: HTTP 500" in out.getvalue()
    with pytest.raises(CommandError, match="No active channel link with a connector matches."):
        call_command("sync", "pull", "--channel", "nope", stdout=out)


@pytest.fixture
def admin_client_(db):
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="x"))
    return client


def test_the_admin_masks_secrets_and_pulls_now(admin_client_, link, market):
    now = timezone.now()  # the action pulls up to the real now
    ChannelLink.objects.filter(pk=link.pk).update(pulled_until=now - timedelta(hours=1))
    deliver(market, put_order(market, at=now - timedelta(days=1)))
    market.refund_put(
        "R100", order_number="T100", status="WAIT_SELLER_AGREE", at=now - timedelta(minutes=5)
    )

    page = admin_client_.get("/admin/sync/channellink/").content.decode()

    assert market.app_secret not in page and market.webhook_secret not in page
    assert "••••" + market.app_secret[-4:] in page
    resp = admin_client_.post(
        "/admin/sync/channellink/",
        {"action": "pull_now_action", "_selected_action": [link.pk]},
        follow=True,
    )
    assert resp.status_code == 200
    assert "1 changes: 1 applied" in resp.content.decode()
    assert Case.objects.get().external_id == "R100"
    for url in ("/admin/sync/channelevent/", "/admin/sync/channellink/add/"):
        assert admin_client_.get(url).status_code == 200, url
    assert admin_client_.get("/admin/sync/channelevent/?q=rf-R100").status_code == 200
    assert admin_client_.get("/admin/sync/channelevent/add/").status_code == 403


def test_the_admin_applies_a_failed_event_again(admin_client_, link, market):
    market.order_put(order_body("T7", [("CUP", 1, "50.00")], paid_at=NOW), at=NOW)
    opened = market.refund_put("R7", order_number="T7", status="WAIT_SELLER_AGREE", at=NOW)
    headers, body = market.webhook(opened)
    url = "/api/v1/channels/acme/taobao/events"
    assert Client().post(url, body, content_type="application/json", **headers).status_code == 422
    deliver(market, "ord-T7-1")
    event = ChannelEvent.objects.get(event_id=opened)

    resp = admin_client_.post(
        "/admin/sync/channelevent/",
        {"action": "apply_again", "_selected_action": [event.pk]},
        follow=True,
    )

    assert "1 event applied, 0 still failing." in resp.content.decode()
    event.refresh_from_db()
    assert (event.status, event.error) == ("applied", "")
    assert Case.objects.get().external_id == "R7"
    assert event.received_at.tzinfo is not None and event.occurred_at == NOW


def test_a_pulled_change_with_a_nul_is_kept_failed_and_readable(link, market):
    deliver(market, put_order(market, at=NOW - timedelta(days=1)))
    broken = market.refund_put(
        "R100",
        order_number="T100",
        status="WAIT_SELLER_AGREE",
        customer_words="坏了\x00",
        at=NOW - timedelta(minutes=30),
    )

    report = pull_now(link, NOW)

    assert (report.changes, report.failed) == (1, 1)
    event = ChannelEvent.objects.get(event_id=broken)
    assert (event.status, event.error) == (
        "failed",
        "event.invalid: The event's data is not valid. "
        "(data.customer_words: Contains a NUL character.)",
    )
    assert event.payload["customer_words"] == "坏了\ufffd"
    assert Case.objects.count() == 0
    link.refresh_from_db()
    assert link.pulled_until == NOW


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent workers need PostgreSQL (DATABASE_URL)"
)
def test_workers_sweeping_at_once_pull_each_link_once(link, market):
    deliver(market, put_order(market, at=NOW - timedelta(days=1)))
    market.refund_put(
        "R100", order_number="T100", status="WAIT_SELLER_AGREE", at=NOW - timedelta(minutes=30)
    )
    barrier = threading.Barrier(4)
    pulled: list[int] = []

    def sweep():
        try:
            barrier.wait()
            pulled.append(pulls_sweep(NOW))
        finally:
            connections.close_all()

    workers = [threading.Thread(target=sweep) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    assert sorted(pulled) == [0, 0, 0, 1]
    assert len(market.received) == 1
    assert Case.objects.get().external_id == "R100"


def test_a_refund_first_seen_already_paid_by_the_channel_goes_through_the_books(link, market):
    deliver(market, put_order(market, at=NOW - timedelta(days=1)))
    # Opened before the window (and its webhook lost); the pull finds it already refunded.
    market.refund_put(
        "R100", order_number="T100", status="WAIT_SELLER_AGREE", at=NOW - timedelta(hours=3)
    )
    market.refund_put("R100", status="SUCCESS", at=NOW - timedelta(minutes=5))

    report = pull_now(link, NOW)

    assert (report.changes, report.applied) == (1, 1)
    case = Case.objects.get()
    assert (case.status, case.outcome, case.channel_status, case.refund_amount) == (
        "succeeded",
        "refunded",
        "SUCCESS",
        Decimal("100.00"),
    )
    assert list(case.events.order_by("pk").values_list("kind", "to_status")) == [
        ("created", "awaiting_merchant"),
        ("channel_sync", "refunding"),
        ("refund_settled", "succeeded"),
    ]
    assert PolicyDecision.objects.count() == 0  # the channel decided it, not our policy
    refund = Refund.objects.get()
    assert (refund.status, refund.amount, refund.provider, refund.provider_reference) == (
        "succeeded",
        Decimal("100.00"),
        "manual",
        f"{link.channel_id}:R100",
    )
    assert refund.entry_id is not None


def test_a_link_added_in_the_admin_belongs_to_its_channels_shop(admin_client_, shop):
    pdd = f.channel(shop, kind=ChannelKind.PDD, code="pdd")

    resp = admin_client_.post(
        "/admin/sync/channellink/add/",
        {
            "channel": pdd.pk,
            "webhook_secret": "s" * 32,
            "connector": "rest",
            "base_url": "https://gw-api.pinduoduo.com/api/router",
            "app_key": "pdd-app",
            "app_secret": "pdd-secret-123456",
            "pull_every_seconds": 600,
            "active": "on",
        },
    )

    assert resp.status_code == 302, resp.content.decode()[-2000:]
    created = ChannelLink.objects.get(channel=pdd)
    assert (created.shop_id, created.connector, created.pull_every_seconds) == (
        shop.pk,
        "rest",
        600,
    )
    assert (created.pulled_until, created.next_pull_at) == (None, None)
