"""Order imports: one sample export per channel preset, bad rows and all."""

from __future__ import annotations

import pytest

from aftersales.channels.models import ChannelKind, Order, OrderLine, OrderStatus
from aftersales.sync.tests.helpers import (
    SAMPLES,
    D,
    catalogue,
    channel_of,
    counts,
    problems,
    run_import,
)


@pytest.fixture
def taobao(shop):
    catalogue(shop)
    return channel_of(shop, ChannelKind.TAOBAO)


def _lines(order: Order) -> list[tuple]:
    return [
        (line.sku, line.quantity, line.unit_price, line.discount, line.paid_amount)
        for line in order.lines.order_by("sku")
    ]


def test_taobao_gbk_export_lands_good_orders_and_reports_every_bad_row(taobao):
    run = run_import(taobao, "orders", "taobao-orders.csv")

    assert counts(run) == {
        "status": "done",
        "rows": 9,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "failed": 5,
    }
    assert problems(run) == [
        (5, "商家编码", "QM-XX99", "Unknown SKU QM-XX99."),
        (6, "订单编号", "TB1003", "Not imported: row 5 of order TB1003 has a problem."),
        (7, "购买数量", "一个", "Not a whole number."),
        (
            8,
            "商家编码",
            "QM-PA03",
            "Duplicate row: order TB1001 already has SKU QM-PA03 on row 3.",
        ),
        (
            9,
            "订单付款时间",
            "2026-13-45 10:00:00",
            "Not a date and time (write 2026-11-01 10:00:00).",
        ),
    ]
    orders = {o.external_id: o for o in Order.objects.filter(channel=taobao)}
    assert sorted(orders) == ["TB1001", "TB1002", "TB1006"]
    first = orders["TB1001"]
    assert first.status == OrderStatus.SIGNED
    assert first.total_paid == D("178.80")
    assert first.payment_provider == "platform"
    assert first.payment_reference == "2026110122001"
    assert first.customer.name == "张三" and first.customer.phone == "13800000001"
    assert _lines(first) == [
        ("QM-PA01", 1, D("129.00"), D("10.00"), D("119.00")),
        ("QM-PA03", 2, D("29.90"), D("0.00"), D("59.80")),
    ]
    assert [(s.courier, s.tracking_number) for s in first.shipments.all()] == [
        ("中通快递", "ZT9001")
    ]
    second = orders["TB1002"]
    assert (second.status, second.total_paid, second.shipping_fee) == (
        OrderStatus.PAID,
        D("107.00"),
        D("8.00"),
    )
    assert second.customer is None  # a masked phone names nobody
    assert orders["TB1006"].status == OrderStatus.CANCELLED


def test_importing_the_same_file_twice_changes_nothing(taobao):
    run_import(taobao, "orders", "taobao-orders.csv")
    before = list(Order.objects.filter(channel=taobao).order_by("id").values())
    lines_before = list(OrderLine.objects.filter(shop=taobao.shop).order_by("id").values())

    again = run_import(taobao, "orders", "taobao-orders.csv")

    assert counts(again) == {
        "status": "done",
        "rows": 9,
        "created": 0,
        "updated": 0,
        "unchanged": 3,
        "failed": 5,
    }
    assert list(Order.objects.filter(channel=taobao).order_by("id").values()) == before
    assert list(OrderLine.objects.filter(shop=taobao.shop).order_by("id").values()) == lines_before


def test_an_updated_export_updates_only_what_changed(taobao, tmp_path):
    run_import(taobao, "orders", "taobao-orders.csv")
    untouched = Order.objects.get(channel=taobao, external_id="TB1001")
    # The paid order ships; the file gains a new order.
    text = (SAMPLES / "taobao-orders.csv").read_bytes().decode("gbk")
    text = text.replace(
        "TB1002,QM-DG05,无线静音鼠标,1,99.00,,,8.00,2026-11-03 20:00:00,2026-11-03 20:05:00,,",
        "TB1002,QM-DG05,无线静音鼠标,1,99.00,,,8.00,2026-11-03 20:00:00,2026-11-03 20:05:00,"
        "2026-11-04 09:00:00,",
    )
    text += (
        "TB1007,QM-DG05,无线静音鼠标,3,99.00,,,0.00,2026-11-08 10:00:00,,,,等待买家付款,,,,,\r\n"
    )
    updated = tmp_path / "taobao-orders-2.csv"
    updated.write_bytes(text.encode("gbk"))

    run = run_import(taobao, "orders", str(updated))

    assert counts(run) == {
        "status": "done",
        "rows": 10,
        "created": 1,
        "updated": 1,
        "unchanged": 2,
        "failed": 5,
    }
    shipped = Order.objects.get(channel=taobao, external_id="TB1002")
    assert shipped.status == OrderStatus.SHIPPED
    assert shipped.shipped_at.isoformat() == "2026-11-04T01:00:00+00:00"
    new = Order.objects.get(channel=taobao, external_id="TB1007")
    assert (new.status, new.total_paid) == (OrderStatus.PENDING_PAYMENT, D("297.00"))
    same = Order.objects.get(pk=untouched.pk)
    assert same.updated_at == untouched.updated_at


def test_paid_order_starts_its_shipping_clock_and_shipping_stops_it(taobao, tmp_path):
    from aftersales.sla.models import Timer, TimerKind

    run_import(taobao, "orders", "taobao-orders.csv")
    paid = Order.objects.get(channel=taobao, external_id="TB1002")
    clock = Timer.objects.get(order=paid, kind=TimerKind.MERCHANT_SHIP)
    assert clock.state == "pending"
    assert clock.due_at.isoformat() == "2026-11-05T12:05:00+00:00"  # paid + 48 h

    text = (
        (SAMPLES / "taobao-orders.csv")
        .read_bytes()
        .decode("gbk")
        .replace("2026-11-03 20:05:00,,", "2026-11-03 20:05:00,2026-11-04 09:00:00,")
    )
    updated = tmp_path / "shipped.csv"
    updated.write_bytes(text.encode("gbk"))
    run_import(taobao, "orders", str(updated))

    clock.refresh_from_db()
    assert clock.state == "met"


@pytest.mark.parametrize(
    ("kind", "name", "expected_counts", "expected_problems", "expected_orders"),
    [
        (
            ChannelKind.PDD,
            "pdd-orders.csv",
            {"rows": 3, "created": 2, "failed": 1},
            [(4, "商品总价(元)", "-99.00", "Cannot be negative.")],
            {
                "261101-000000001": (
                    "shipped",
                    "84.70",
                    [("QM-PA03", 3, "29.90", "5.00", "84.70")],
                ),
                "261101-000000002": ("paid", "99.00", [("QM-DG05", 1, "99.00", "0.00", "99.00")]),
            },
        ),
        (
            ChannelKind.WECHAT,
            "wechat-orders.csv",
            {"rows": 2, "created": 1, "failed": 1},
            [(3, "发货时间", "2026-11-01 16:00:00", "Cannot be before 支付时间.")],
            {"3700000001": ("signed", "129.00", [("QM-PA01", 1, "129.00", "0.00", "129.00")])},
        ),
        (
            ChannelKind.DOUYIN,
            "douyin-orders.csv",
            {"rows": 2, "created": 1, "failed": 1},
            [(3, "订单应付金额", "", "The discount is larger than the line.")],
            {
                "6920000000000000001": (
                    "paid",
                    "109.00",
                    [("QM-HA03", 1, "129.00", "20.00", "109.00")],
                )
            },
        ),
        (
            ChannelKind.WEIDIAN,
            "weidian-orders.csv",
            {"rows": 1, "created": 1, "failed": 0},
            [],
            {"WD20261106001": ("paid", "35.90", [("QM-PA03", 1, "29.90", "0.00", "29.90")])},
        ),
        (
            ChannelKind.JD,
            "jd-orders.xlsx",
            {"rows": 3, "created": 1, "failed": 1},
            [(4, "订购数量", "两个", "Not a whole number.")],
            {
                "300000000001": (
                    "shipped",
                    "149.80",
                    [
                        ("QM-DG05", 1, "99.00", "9.00", "90.00"),
                        ("QM-PA03", 2, "29.90", "0.00", "59.80"),
                    ],
                )
            },
        ),
        (
            ChannelKind.WEB,
            "generic-orders.csv",
            {"rows": 2, "created": 1, "failed": 1},
            [(3, "paid_at", "", "A shipped order must have been paid.")],
            {"WEB-1": ("paid", "268.00", [("QM-PA01", 2, "129.00", "0.00", "258.00")])},
        ),
    ],
)
def test_each_channel_preset_reads_its_own_export(
    shop, kind, name, expected_counts, expected_problems, expected_orders
):
    catalogue(shop)
    channel = channel_of(shop, kind)

    run = run_import(channel, "orders", name)

    got = counts(run)
    assert got == {"status": "done", "updated": 0, "unchanged": 0, **expected_counts}
    assert problems(run) == expected_problems
    orders = {
        o.external_id: (
            o.status,
            str(o.total_paid),
            [(s, q, str(u), str(d), str(p)) for s, q, u, d, p in _lines(o)],
        )
        for o in Order.objects.filter(channel=channel)
    }
    assert orders == expected_orders


def test_weidian_gb18030_name_outside_gbk_survives(shop):
    catalogue(shop)
    channel = channel_of(shop, ChannelKind.WEIDIAN)
    run_import(channel, "orders", "weidian-orders.csv")
    assert Order.objects.get(channel=channel).customer.name == "𠮷野十六"


def test_an_empty_file_fails_with_one_problem_and_nothing_written(taobao, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    run = run_import(taobao, "orders", str(empty))
    assert counts(run) == {
        "status": "failed",
        "rows": 0,
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
    }
    assert problems(run) == [(0, "", "", "The file is empty.")]
    assert run.message == "The file is empty."
    assert not Order.objects.exists()


def test_a_header_only_file_imports_nothing(taobao, tmp_path):
    header = (SAMPLES / "taobao-orders.csv").read_bytes().split(b"\r\n")[0] + b"\r\n"
    path = tmp_path / "header.csv"
    path.write_bytes(header)
    run = run_import(taobao, "orders", str(path))
    assert counts(run)["status"] == "done" and run.rows == 0
    assert problems(run) == []


def test_a_file_missing_a_required_column_lands_nothing(taobao, tmp_path):
    text = (SAMPLES / "taobao-orders.csv").read_bytes().decode("gbk")
    text = text.replace("商家编码", "编码")
    path = tmp_path / "missing.csv"
    path.write_bytes(text.encode("gbk"))

    run = run_import(taobao, "orders", str(path))

    assert counts(run) == {
        "status": "failed",
        "rows": 0,
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
    }
    assert problems(run) == [(1, "商家编码", "", "Required column missing.")]
    assert not Order.objects.exists()


def test_an_unknown_preset_is_refused_before_anything_starts(taobao):
    from aftersales.core.errors import Invalid
    from aftersales.sync.models import ImportRun

    with pytest.raises(Invalid) as refused:
        run_import(taobao, "orders", "taobao-orders.csv", preset="amazon")
    assert refused.value.code == "import.unknown_preset"
    assert not ImportRun.objects.exists()
