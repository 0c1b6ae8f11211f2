"""Two staff import the same export at the same moment: every order and line exists once,
and the refund a mirrored request settles is booked once."""

from __future__ import annotations

import pytest
from django.db import connection

from aftersales.cases.models import Case
from aftersales.channels.models import ChannelKind, Order, OrderLine, Shipment
from aftersales.channels.services import shop_create
from aftersales.ledger.models import JournalEntry, Refund
from aftersales.sync.tests.helpers import catalogue, channel_of, run_import
from aftersales.tests.threads import race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


def _at_once(work, n: int = 4) -> list:
    results = race([work] * n, timeout=120)
    assert [r for r in results if isinstance(r, BaseException)] == []
    return results


def test_the_same_orders_imported_four_times_at_once_exist_once():
    shop = shop_create(code="race", name="并发")
    catalogue(shop)
    taobao = channel_of(shop, ChannelKind.TAOBAO)

    runs = _at_once(lambda: run_import(taobao, "orders", "taobao-orders.csv"))

    assert sorted(r.status for r in runs) == ["done"] * 4
    assert sum(r.created for r in runs) == 3
    assert sum(r.created + r.updated + r.unchanged for r in runs) == 12
    assert sorted(Order.objects.filter(channel=taobao).values_list("external_id", flat=True)) == [
        "TB1001",
        "TB1002",
        "TB1006",
    ]
    assert OrderLine.objects.filter(shop=shop).count() == 4
    assert Shipment.objects.filter(shop=shop).count() == 1


def test_the_same_refunded_requests_imported_at_once_are_booked_once():
    shop = shop_create(code="race2", name="并发")
    catalogue(shop)
    taobao = channel_of(shop, ChannelKind.TAOBAO)
    run_import(taobao, "orders", "taobao-orders.csv")

    runs = _at_once(lambda: run_import(taobao, "cases", "taobao-cases.csv"))

    assert sum(r.created for r in runs) == 3
    assert Case.objects.filter(channel=taobao).count() == 3
    mirrored = Case.objects.get(channel=taobao, external_id="RF5003")
    assert (mirrored.status, mirrored.outcome) == ("succeeded", "refunded")
    refund = Refund.objects.get(case=mirrored)
    assert refund.status == "succeeded"
    assert JournalEntry.objects.filter(key=f"refund:{refund.key}").count() == 1
