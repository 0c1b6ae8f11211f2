"""Broadcasts: the exact customers each filter reaches, fan-out into the outbox with counts,
re-runs that never double-send, the customer's language, and refusals that write nothing."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.core import mail

from aftersales.cases.services import case_cancel
from aftersales.channels.models import Customer
from aftersales.core.errors import Invalid
from aftersales.notify.broadcasts import broadcast_create, broadcast_run, broadcasts_sweep
from aftersales.notify.delivery import outbox_sweep
from aftersales.notify.models import Broadcast, Outbox
from aftersales.notify.selectors import broadcast_audience
from aftersales.notify.services import outbox_retry
from aftersales.tests import factories as f

T0 = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
MESSAGES = {
    "en": {"subject": "Battery notice", "body": "Dear {{ customer_name }}, please charge."},
    "vi": {"subject": "Thông báo pin", "body": "Chào {{ customer_name }}, vui lòng sạc pin."},
    "zh-hans": {"subject": "电池提醒", "body": "{{ customer_name }}，请先充电。"},
}


@pytest.fixture
def town(shop, other_shop):
    """Buyers of two SKUs on two channels, with and without open cases, plus a stranger."""
    tmall, jd = f.channel(shop, code="tmall"), f.channel(shop, code="jd")
    sku_x, sku_y = f.product(shop, sku="SKU-X"), f.product(shop, sku="SKU-Y")

    def buyer(channel, product, name, email, language, phone):
        order = f.order(channel, lines=[(product, 1, "50.00", "0.00")])
        Customer.objects.filter(pk=order.customer_id).update(
            name=name, email=email, language=language, phone=phone
        )
        return order

    buyer(tmall, sku_x, "An", "an@example.com", "vi", "13900000001")
    binh = buyer(jd, sku_y, "Binh", "binh@example.com", "zh-hans", "13900000002")
    f.case(binh, reason="quality_defect")  # open
    chi = buyer(jd, sku_x, "Chi", "chi@example.com", "en", "13900000003")
    case_cancel(case=f.case(chi, reason="quality_defect"), actor=None)  # closed
    buyer(tmall, sku_x, "Dung", "", "vi", "")  # bought X, reachable on no channel
    stranger = f.channel(other_shop, code="tmall")
    buyer(stranger, f.product(other_shop, sku="SKU-X"), "Eve", "eve@example.com", "en", "1")
    return SimpleNamespace(shop=shop, tmall=tmall, jd=jd)


def _names(customers) -> set[str]:
    return {c.name for c in customers}


def _create(town, audience, channel="email", messages=None, **kw):
    return broadcast_create(
        actor=kw.pop("actor", None),
        shop=town.shop,
        name="Battery recall",
        channel=channel,
        audience=audience,
        messages=messages or MESSAGES,
    )


AUDIENCES = [
    ({"sku": "SKU-X"}, {"An", "Chi"}),
    ({"channel_id": "jd"}, {"Binh", "Chi"}),
    ({"channel_id": "tmall"}, {"An"}),
    ({"open_case_reason": "quality_defect"}, {"Binh"}),
    ({"sku": "SKU-X", "channel_id": "jd"}, {"Chi"}),
    ({"sku": "SKU-Y", "open_case_reason": "quality_defect"}, {"Binh"}),
    ({"sku": "SKU-Z"}, set()),
]


@pytest.mark.parametrize(("audience", "names"), AUDIENCES)
def test_each_filter_reaches_exactly_its_customers(town, audience, names):
    if "channel_id" in audience:
        audience = {**audience, "channel_id": getattr(town, audience["channel_id"]).pk}
    reached = broadcast_audience(shop_id=town.shop.pk, audience=audience, channel="email")
    assert _names(reached) == names

    broadcast = _create(town, audience)
    assert (broadcast.state, broadcast.total, broadcast.queued) == ("pending", len(names), 0)
    broadcast = broadcast_run(broadcast_id=broadcast.pk, batch=1, now=T0)
    assert (broadcast.state, broadcast.total, broadcast.queued) == (
        "queued" if names else "done",
        len(names),
        len(names),
    )
    rows = Outbox.objects.filter(broadcast=broadcast)
    emails = {f"{n.lower()}@example.com" for n in names}
    assert set(rows.values_list("recipient", flat=True)) == emails

    assert outbox_sweep(now=T0) == len(names)
    broadcast.refresh_from_db()
    assert (broadcast.state, broadcast.sent, broadcast.failed) == ("done", len(names), 0)
    assert {m.to[0] for m in mail.outbox} == emails


def test_each_customer_reads_their_language_and_falls_back_to_the_default(town):
    broadcast = _create(town, {"sku": "SKU-X"})
    broadcast_run(broadcast_id=broadcast.pk, now=T0)
    rows = Outbox.objects.filter(broadcast=broadcast).order_by("recipient")
    assert [(r.recipient, r.language, r.subject, r.body) for r in rows] == [
        ("an@example.com", "vi", "Thông báo pin", "Chào An, vui lòng sạc pin."),
        ("chi@example.com", "en", "Battery notice", "Dear Chi, please charge."),
    ]
    assert {r.event_key for r in rows} == {f"broadcast:{broadcast.pk}"}

    english_only = _create(town, {"sku": "SKU-X"}, messages={"en": MESSAGES["en"]})
    broadcast_run(broadcast_id=english_only.pk, now=T0)
    row = Outbox.objects.get(broadcast=english_only, recipient="an@example.com")
    assert (row.language, row.body) == ("en", "Dear An, please charge.")


def test_running_again_after_a_crash_never_writes_a_second_message(town):
    broadcast = _create(town, {"sku": "SKU-X"})
    broadcast_run(broadcast_id=broadcast.pk, batch=1, now=T0)
    first = list(Outbox.objects.filter(broadcast=broadcast).values_list("pk", "delivery_id"))
    # The run died before it recorded its progress: back to the start, lease run out.
    Broadcast.objects.filter(pk=broadcast.pk).update(
        state="running", cursor=0, queued=0, lease_until=T0
    )
    assert broadcasts_sweep(now=T0) == 1
    broadcast.refresh_from_db()
    assert (broadcast.state, broadcast.total, broadcast.queued) == ("queued", 2, 2)
    assert list(Outbox.objects.filter(broadcast=broadcast).values_list("pk", "delivery_id")) == (
        first
    )
    assert broadcasts_sweep(now=T0) == 0  # nothing left to run


def test_a_held_broadcast_is_not_run_twice(town):
    broadcast = _create(town, {"sku": "SKU-X"})
    Broadcast.objects.filter(pk=broadcast.pk).update(
        state="running", lease_until=T0 + dt.timedelta(minutes=1)
    )
    assert broadcast_run(broadcast_id=broadcast.pk, now=T0) is None
    assert broadcasts_sweep(now=T0) == 0
    assert Outbox.objects.filter(broadcast=broadcast).count() == 0


def test_sms_broadcast_counts_sent_and_failed_and_a_retry_reopens_it(town, aliyun):
    aliyun.codes["13900000003"] = "isv.MOBILE_NUMBER_ILLEGAL"
    broadcast = _create(town, {"sku": "SKU-X"}, channel="sms")
    broadcast_run(broadcast_id=broadcast.pk, now=T0)
    assert outbox_sweep(now=T0) == 1
    broadcast.refresh_from_db()
    assert (broadcast.state, broadcast.total, broadcast.sent, broadcast.failed) == (
        "done",
        2,
        1,
        1,
    )
    assert broadcast.finished_at == T0
    params = {c["PhoneNumbers"]: c for c in aliyun.calls}
    assert params["13900000001"]["TemplateCode"] == "SMS_9"
    assert params["13900000001"]["TemplateParam"] == (
        '{"content":"Chào An, vui lòng sạc pin.","name":"An"}'
    )

    dead = Outbox.objects.get(broadcast=broadcast, state="dead")
    aliyun.codes.clear()
    assert outbox_retry(outbox_ids=[dead.pk], now=T0) == 1
    broadcast.refresh_from_db()
    assert (broadcast.state, broadcast.failed, broadcast.finished_at) == ("queued", 0, None)
    assert outbox_sweep(now=T0) == 1
    broadcast.refresh_from_db()
    assert (broadcast.state, broadcast.sent, broadcast.failed) == ("done", 2, 0)


def test_bad_input_names_every_field_and_writes_nothing(town, other_shop):
    foreign = f.channel(other_shop, code="jd")
    with pytest.raises(Invalid) as refused:
        broadcast_create(
            actor=None,
            shop=town.shop,
            name=" ",
            channel="sms",
            audience={"channel_id": foreign.pk, "open_case_reason": "bored", "color": "red"},
            messages={
                "fr": {"body": "Bonjour"},
                "en": {"subject": "x" * 201, "body": ""},
                "vi": {"subject": "ok", "body": "{% if %}"},
            },
        )
    assert refused.value.code == "broadcast.invalid"
    assert refused.value.fields == {
        "name": "A name of 1 to 200 characters.",
        "channel": "The shop has no SMS account with a broadcast template code.",
        "audience.color": "Unknown filter.",
        "audience.channel_id": "Not a channel of this shop.",
        "audience.open_case_reason": "Unknown reason.",
        "messages.fr": "Unknown language: use zh-hans, en or vi.",
        "messages.en.subject": "At most 200 characters.",
        "messages.en.body": "Required.",
        "messages.vi.body": "Unexpected end of expression in if tag.",
    }
    with pytest.raises(Invalid) as refused:
        broadcast_create(
            actor=None, shop=town.shop, name="n", channel="fax", audience={}, messages={}
        )
    assert refused.value.fields == {
        "channel": "Choose email, sms or wechat.",
        "audience": "Give at least one filter: sku, channel_id or open_case_reason.",
        "messages": "Give the message in at least one language.",
    }
    assert Broadcast.objects.count() == 0
    assert Outbox.objects.filter(broadcast__isnull=False).count() == 0
