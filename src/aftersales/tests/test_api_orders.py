"""Orders through the API: upsert by (channel, external_id), money to the cent, lines that a
case refers to, shop scoping and keyset pages."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aftersales.accounts.services import user_ensure
from aftersales.channels.models import Customer, Order, OrderLine, Shipment
from aftersales.tests import factories as f
from aftersales.tests.contract import assert_error, db_state


@pytest.fixture
def products(shop):
    return {
        sku: f.product(shop, sku=sku, price=price)
        for sku, price in [("CUP", "33.33"), ("LID", "50.00"), ("BAG", "19.90"), ("PEN", "7.05")]
    }


def _order_body(channel, **overrides) -> dict:
    body = {
        "channel_id": channel.pk,
        "external_id": "TB-1001",
        "customer": {"name": "李四", "phone": "13900000001"},
        "lines": [
            {"sku": "CUP", "quantity": 3, "unit_price": "33.33", "discount": "0.01"},
            {"sku": "LID", "quantity": 1, "unit_price": "50.00", "paid_amount": "45.67"},
            {"sku": "BAG", "quantity": 2, "unit_price": "19.90", "title": "环保袋"},
        ],
        "shipping_fee": "12.50",
        "paid_at": "2026-11-01T10:00:00+08:00",
    }
    body.update(overrides)
    return body


def _counts() -> tuple[int, int, int, int]:
    return (
        Order.objects.count(),
        OrderLine.objects.count(),
        Customer.objects.count(),
        Shipment.objects.count(),
    )


def test_create_then_same_payload_again_is_idempotent(api_for, agent, channel, products):
    api = api_for(agent)
    resp = api.post("/orders", _order_body(channel))
    assert resp.status_code == 201, resp.content
    created = resp.json()
    order = Order.objects.get(channel=channel, external_id="TB-1001")
    lines = {line.sku: line for line in order.lines.all()}
    assert created == {
        "id": order.pk,
        "shop_id": channel.shop_id,
        "channel_id": channel.pk,
        "external_id": "TB-1001",
        "status": "paid",
        "currency": "CNY",
        "customer": {
            "id": order.customer_id,
            "name": "李四",
            "phone": "13900000001",
            "email": "",
            "language": "zh-hans",
        },
        "shipping_fee": "12.50",
        # 3 × 33.33 − 0.01 = 99.98; 45.67 as given; 2 × 19.90 = 39.80; + 12.50 shipping
        "total_paid": "197.95",
        "shipping_insurance": False,
        "payment_provider": "",
        "payment_reference": "",
        "placed_at": None,
        "paid_at": "2026-11-01T02:00:00Z",
        "shipped_at": None,
        "signed_at": None,
        "lines": [
            {
                "id": lines["CUP"].pk,
                "sku": "CUP",
                "title": "商品",
                "quantity": 3,
                "unit_price": "33.33",
                "discount": "0.01",
                "paid_amount": "99.98",
            },
            {
                "id": lines["LID"].pk,
                "sku": "LID",
                "title": "商品",
                "quantity": 1,
                "unit_price": "50.00",
                "discount": "0.00",
                "paid_amount": "45.67",
            },
            {
                "id": lines["BAG"].pk,
                "sku": "BAG",
                "title": "环保袋",
                "quantity": 2,
                "unit_price": "19.90",
                "discount": "0.00",
                "paid_amount": "39.80",
            },
        ],
        "shipments": [],
    }
    assert order.total_paid == Decimal("197.95")
    assert _counts() == (1, 3, 1, 0)

    resp = api.post("/orders", _order_body(channel))
    assert resp.status_code == 200, resp.content
    assert resp.json() == created
    assert _counts() == (1, 3, 1, 0)
    assert sorted(OrderLine.objects.values_list("pk", flat=True)) == sorted(
        line.pk for line in lines.values()
    )


def test_changed_lines_are_updated_added_and_removed(api_for, agent, channel, products):
    api = api_for(agent)
    first = api.post("/orders", _order_body(channel)).json()
    ids = {line["sku"]: line["id"] for line in first["lines"]}
    body = _order_body(
        channel,
        lines=[
            {"sku": "CUP", "quantity": 2, "unit_price": "33.33", "discount": "0.01"},
            {"sku": "LID", "quantity": 1, "unit_price": "50.00", "paid_amount": "45.67"},
            {"sku": "PEN", "quantity": 3, "unit_price": "7.05", "discount": "1.15"},
        ],
        shipping_fee="0.00",
        shipped_at="2026-11-02T09:00:00+08:00",
        shipments=[{"courier": "SF", "tracking_number": "SF0001"}],
    )
    resp = api.post("/orders", body)
    assert resp.status_code == 200, resp.content
    updated = resp.json()
    assert updated["id"] == first["id"]
    assert updated["status"] == "shipped"
    assert [(line["sku"], line["quantity"], line["paid_amount"]) for line in updated["lines"]] == [
        ("CUP", 2, "66.65"),  # 2 × 33.33 − 0.01
        ("LID", 1, "45.67"),
        ("PEN", 3, "20.00"),  # 3 × 7.05 − 1.15
    ]
    assert updated["lines"][0]["id"] == ids["CUP"]
    assert updated["lines"][1]["id"] == ids["LID"]
    assert updated["lines"][2]["id"] not in ids.values()
    assert updated["total_paid"] == "132.32"
    assert updated["shipping_fee"] == "0.00"
    assert updated["shipments"] == [
        {
            "courier": "SF",
            "tracking_number": "SF0001",
            "shipped_at": None,
            "last_movement_at": None,
        }
    ]
    assert not OrderLine.objects.filter(pk=ids["BAG"]).exists()
    assert Order.objects.get(pk=first["id"]).total_paid == Decimal("132.32")
    assert _counts() == (1, 3, 1, 1)

    # the same shipment again is not a second parcel; a new tracking number is
    body["shipments"].append({"courier": "YTO", "tracking_number": "YT0002"})
    resp = api.post("/orders", body)
    assert resp.status_code == 200, resp.content
    assert [s["tracking_number"] for s in resp.json()["shipments"]] == ["SF0001", "YT0002"]
    assert _counts() == (1, 3, 1, 2)


@pytest.mark.parametrize(
    "line,paid",
    [
        ({"quantity": 1, "unit_price": "0.01"}, "0.01"),
        ({"quantity": 3, "unit_price": "33.33"}, "99.99"),
        ({"quantity": 3, "unit_price": "33.33", "discount": "99.99"}, "0.00"),
        ({"quantity": 7, "unit_price": "19.99", "discount": "0.93"}, "139.00"),
        ({"quantity": 2, "unit_price": "10.00", "paid_amount": "0.00"}, "0.00"),
        ({"quantity": 2, "unit_price": "10.00", "discount": "5", "paid_amount": "20"}, "20.00"),
    ],
)
def test_paid_amount_defaults_to_quantity_times_price_minus_discount(
    api_for, agent, channel, products, line, paid
):
    body = _order_body(channel, lines=[{"sku": "CUP", **line}], shipping_fee="6.00")
    resp = api_for(agent).post("/orders", body)
    assert resp.status_code == 201, resp.content
    assert resp.json()["lines"][0]["paid_amount"] == paid
    expected_total = Decimal(paid) + Decimal("6.00")
    assert resp.json()["total_paid"] == f"{expected_total:.2f}"
    assert OrderLine.objects.get().paid_amount == Decimal(paid)


@pytest.mark.parametrize(
    "times,status",
    [
        ({}, "pending_payment"),
        ({"paid_at": "2026-11-01T10:00:00+08:00"}, "paid"),
        (
            {"paid_at": "2026-11-01T10:00:00+08:00", "shipped_at": "2026-11-02T10:00:00+08:00"},
            "shipped",
        ),
        (
            {
                "paid_at": "2026-11-01T10:00:00+08:00",
                "shipped_at": "2026-11-02T10:00:00+08:00",
                "signed_at": "2026-11-03T10:00:00+08:00",
            },
            "signed",
        ),
        ({"paid_at": "2026-11-01T10:00:00+08:00", "cancelled": True}, "cancelled"),
    ],
)
def test_order_status_follows_the_times(api_for, agent, channel, products, times, status):
    body = {k: v for k, v in _order_body(channel).items() if k != "paid_at"}
    resp = api_for(agent).post("/orders", {**body, **times})
    assert resp.status_code == 201, resp.content
    assert resp.json()["status"] == status


def test_unknown_sku_is_422_and_the_order_is_untouched(api_for, agent, channel, products):
    api = api_for(agent)
    api.post("/orders", _order_body(channel))
    before = db_state()
    body = _order_body(channel)
    body["lines"][2]["sku"] = "NO-SUCH"
    body["shipping_fee"] = "0.00"
    resp = api.post("/orders", body)
    assert_error(resp, 422, "order.invalid", {"lines.2.sku"})
    assert db_state() == before

    resp = api.post("/orders", _order_body(channel, external_id="TB-2", lines=[{"sku": "X"}]))
    assert_error(resp, 422, "request.invalid", {"lines.0.quantity", "lines.0.unit_price"})
    resp = api.post(
        "/orders",
        _order_body(
            channel, external_id="TB-2", lines=[{"sku": "X", "quantity": 1, "unit_price": "1"}]
        ),
    )
    assert_error(resp, 422, "order.invalid", {"lines.0.sku"})
    assert db_state() == before


def test_a_product_of_another_shop_is_an_unknown_sku(api_for, agent, channel, other_shop):
    f.product(other_shop, sku="FOREIGN")
    before = db_state()
    body = _order_body(channel, lines=[{"sku": "FOREIGN", "quantity": 1, "unit_price": "1.00"}])
    assert_error(api_for(agent).post("/orders", body), 422, "order.invalid", {"lines.0.sku"})
    assert db_state() == before


def test_a_line_with_a_case_cannot_be_removed(api_for, agent, channel, products):
    api = api_for(agent)
    first = api.post("/orders", _order_body(channel)).json()
    order = Order.objects.get(pk=first["id"])
    lid = order.lines.get(sku="LID")
    f.case(order, lines=[(lid, 1)])
    before = db_state()
    body = _order_body(
        channel,
        lines=[{"sku": "CUP", "quantity": 1, "unit_price": "33.33"}],
        shipping_fee="0.00",
        customer={"name": "王五", "phone": "13900000001"},
    )
    resp = api.post("/orders", body)
    assert_error(resp, 409, "order.line_in_use", {"lines": "LID"})
    assert db_state() == before
    order.refresh_from_db()
    assert order.total_paid == Decimal("197.95")
    assert order.customer.name == "李四"
    assert sorted(order.lines.values_list("sku", "quantity")) == [
        ("BAG", 2),
        ("CUP", 3),
        ("LID", 1),
    ]

    # Removing a line no case refers to is still fine.
    body["lines"] = [
        {"sku": "CUP", "quantity": 3, "unit_price": "33.33", "discount": "0.01"},
        {"sku": "LID", "quantity": 1, "unit_price": "50.00", "paid_amount": "45.67"},
    ]
    resp = api.post("/orders", body)
    assert resp.status_code == 200, resp.content
    assert [line["sku"] for line in resp.json()["lines"]] == ["CUP", "LID"]
    assert resp.json()["total_paid"] == "145.65"


def test_same_external_id_on_another_channel_is_another_order(api_for, agent, shop, products):
    first_channel = f.channel(shop, code="tmall")
    second_channel = f.channel(shop, kind="jd", code="jd")
    api = api_for(agent)
    a = api.post("/orders", _order_body(first_channel))
    b = api.post("/orders", _order_body(second_channel))
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]
    assert a.json()["external_id"] == b.json()["external_id"] == "TB-1001"
    assert Order.objects.count() == 2
    # the same phone in the same shop is the same customer
    assert a.json()["customer"]["id"] == b.json()["customer"]["id"]
    assert Customer.objects.count() == 1
    resp = api.get("/orders/lookup", {"channel_id": second_channel.pk, "external_id": "TB-1001"})
    assert resp.status_code == 200
    assert resp.json()["id"] == b.json()["id"]


# --------------------------------------------------------------------------- shop scoping


@pytest.fixture
def foreign(other_shop):
    channel = f.channel(other_shop, kind="jd", code="jd-other")
    return channel, f.order(channel, external_id="JD-9")


def test_another_shops_channels_and_orders_are_404_and_never_listed(
    api_for, agent, channel, order, foreign, other_shop
):
    foreign_channel, foreign_order = foreign
    api = api_for(agent)
    assert [c["id"] for c in api.get("/channels").json()] == [channel.pk]
    assert [o["id"] for o in api.get("/orders").json()["items"]] == [order.pk]
    assert api.get("/orders", {"channel_id": foreign_channel.pk}).json() == {
        "items": [],
        "next_cursor": None,
    }
    assert_error(api.get(f"/orders/{foreign_order.pk}"), 404, "order.not_found", {})
    assert_error(
        api.get("/orders/lookup", {"channel_id": foreign_channel.pk, "external_id": "JD-9"}),
        404,
        "channel.not_found",
        {"channel_id": str(foreign_channel.pk)},
    )
    assert_error(
        api.get("/products", {"shop_id": other_shop.pk}),
        404,
        "shop.not_found",
        {"shop_id": str(other_shop.pk)},
    )
    before = db_state()
    body = {
        "channel_id": foreign_channel.pk,
        "external_id": "JD-9",
        "lines": [{"sku": foreign_order.lines.get().sku, "quantity": 1, "unit_price": "1.00"}],
    }
    assert_error(
        api.post("/orders", body),
        404,
        "channel.not_found",
        {"channel_id": str(foreign_channel.pk)},
    )
    assert db_state() == before

    # and the other way round
    outsider = api_for(f.user("agent", [other_shop]))
    assert [c["id"] for c in outsider.get("/channels").json()] == [foreign_channel.pk]
    assert [o["id"] for o in outsider.get("/orders").json()["items"]] == [foreign_order.pk]
    assert_error(outsider.get(f"/orders/{order.pk}"), 404, "order.not_found", {})

    # a member of both shops sees both
    both = api_for(f.user("agent", [channel.shop, other_shop]))
    assert [o["id"] for o in both.get("/orders").json()["items"]] == sorted(
        [order.pk, foreign_order.pk], reverse=True
    )


def test_a_user_without_shops_sees_nothing(api_for, order):
    lonely = user_ensure(username="lonely", role="agent", shops=[])
    api = api_for(lonely)
    assert api.get("/channels").json() == []
    assert api.get("/orders").json() == {"items": [], "next_cursor": None}
    assert_error(api.get(f"/orders/{order.pk}"), 404, "order.not_found", {})


# --------------------------------------------------------------------------- keyset pages


def _walk(api, params: dict) -> list[list[int]]:
    pages, cursor = [], None
    for _ in range(50):
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        resp = api.get("/orders", query)
        assert resp.status_code == 200, resp.content
        body = resp.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert cursor == str(pages[-1][-1])
    raise AssertionError("next_cursor never ended")


def test_orders_keyset_pages_walk_every_order_once(api_for, agent, shop, other_shop):
    main = f.channel(shop, code="main")
    side = f.channel(shop, kind="jd", code="side")
    main_ids = [f.order(main).pk for _ in range(7)]
    side_ids = [f.order(side).pk for _ in range(2)]
    f.order(f.channel(other_shop))  # never listed
    api = api_for(agent)
    everything = sorted(main_ids + side_ids, reverse=True)

    pages = _walk(api, {"limit": 3})
    assert pages == [everything[0:3], everything[3:6], everything[6:9]]
    assert _walk(api, {"limit": 4}) == [everything[0:4], everything[4:8], everything[8:9]]
    assert _walk(api, {"limit": 9}) == [everything]
    assert _walk(api, {"limit": 200}) == [everything]

    main_desc = sorted(main_ids, reverse=True)
    assert _walk(api, {"limit": 3, "channel_id": main.pk}) == [
        main_desc[0:3],
        main_desc[3:6],
        main_desc[6:7],
    ]
    assert _walk(api, {"channel_id": side.pk}) == [sorted(side_ids, reverse=True)]

    # a cursor is an id: pages before it, newest first
    resp = api.get("/orders", {"cursor": everything[4], "limit": 2})
    assert [o["id"] for o in resp.json()["items"]] == everything[5:7]
    assert resp.json()["next_cursor"] == str(everything[6])


def test_orders_default_page_is_fifty(api_for, agent, channel):
    product = f.product(channel.shop)
    ids = [f.order(channel, [(product, 1, "1.00", "0.00")]).pk for _ in range(51)]
    resp = api_for(agent).get("/orders")
    body = resp.json()
    assert [o["id"] for o in body["items"]] == sorted(ids, reverse=True)[:50]
    assert body["next_cursor"] == str(sorted(ids, reverse=True)[49])
