"""The orders export through the API: one row per order line of every order the list shows,
money to the cent, times in the shop's zone, headers in the user's language, other shops'
orders never, text that looks like a formula kept as text, XLSX with the same values."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.utils import timezone

from aftersales.channels.models import Order
from aftersales.channels.services import CustomerData, OrderData, OrderLineData, order_upsert
from aftersales.core import tabular
from aftersales.core.tabular import keyset_pages
from aftersales.tests import factories as f
from aftersales.tests.contract import assert_error

D = Decimal
T0 = datetime(2026, 11, 1, 10, 0, tzinfo=timezone.get_fixed_timezone(8 * 60))
HEADER = [
    "Order number", "Channel", "Status", "Customer", "Phone", "Placed at", "Paid at",
    "Shipped at", "Signed at", "SKU", "Title", "Quantity", "Unit price", "Discount share",
    "Paid amount", "Shipping fee", "Total paid",
]  # fmt: skip
FORMULA = '=HYPERLINK("http://evil.example","点我")'
# The rows newest order first, its lines in order, as the CSV writes them. A line without a
# title of its own takes the product's name (商品).
JD_ROWS = [
    ["JD-2002", "jd", "signed", "", "", "", "2026-11-02T09:00:00+08:00"]
    + ["2026-11-02T15:30:00+08:00", "2026-11-04T11:00:00+08:00"]
    + ["PEN", "商品", "1", "7.05", "0.00", "7.05", "0.00", "7.05"],
]
TB_ROWS = [
    ["TB-1001", "taobao", "paid", "李四", "13900000001", "2026-11-01T10:00:00+08:00"]
    + ["2026-11-01T10:05:00+08:00", "", ""]
    + ["CUP", "商品", "3", "33.33", "0.01", "99.98", "12.50", "197.95"],
    ["TB-1001", "taobao", "paid", "李四", "13900000001", "2026-11-01T10:00:00+08:00"]
    + ["2026-11-01T10:05:00+08:00", "", ""]
    + ["LID", "商品", "1", "50.00", "0.00", "45.67", "12.50", "197.95"],
    ["TB-1001", "taobao", "paid", "李四", "13900000001", "2026-11-01T10:00:00+08:00"]
    + ["2026-11-01T10:05:00+08:00", "", ""]
    + ["BAG", "'" + FORMULA, "2", "19.90", "0.00", "39.80", "12.50", "197.95"],
]


@pytest.fixture(autouse=True)
def _shanghai(settings):
    settings.TIME_ZONE = "Asia/Shanghai"


@pytest.fixture
def orders(shop, channel, other_shop):
    """Two orders of the shop on two channels (three lines and one), one of another shop."""
    for sku in ("CUP", "LID", "BAG", "PEN"):
        f.product(shop, sku=sku)
    jd = f.channel(shop, kind="jd", code="jd")
    taobao, _ = order_upsert(
        actor=None,
        channel=channel,
        data=OrderData(
            external_id="TB-1001",
            customer=CustomerData(name="李四", phone="13900000001"),
            lines=[
                OrderLineData("CUP", 3, D("33.33"), discount=D("0.01")),
                OrderLineData("LID", 1, D("50.00"), paid_amount=D("45.67")),
                OrderLineData("BAG", 2, D("19.90"), title=FORMULA),
            ],
            shipping_fee=D("12.50"),
            placed_at=T0,
            paid_at=T0 + timedelta(minutes=5),
        ),
    )
    jingdong, _ = order_upsert(
        actor=None,
        channel=jd,
        data=OrderData(
            external_id="JD-2002",
            lines=[OrderLineData("PEN", 1, D("7.05"))],
            paid_at=T0 + timedelta(hours=23),
            shipped_at=T0 + timedelta(hours=29, minutes=30),
            signed_at=T0 + timedelta(days=3, hours=1),
        ),
    )
    foreign = f.order(f.channel(other_shop, code="taobao"), external_id="OTHER-1")
    return taobao, jingdong, foreign


def _csv_rows(resp) -> list[list[str]]:
    assert resp.status_code == 200, resp.content
    assert resp.streaming
    text = b"".join(resp.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def _as_csv_text(cell) -> str:
    """An XLSX cell read back, written the way the CSV writes it: money (a number shown with
    two places) to the cent, the rest as it is."""
    if cell.value is None:
        return ""
    if cell.number_format == "0.00":
        return f"{D(str(cell.value)):.2f}"
    return str(cell.value)


def test_every_line_of_every_visible_order_to_the_cent(api_for, agent, orders):
    resp = api_for(agent).get("/orders/export")
    assert resp["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="orders-\d{8}-\d{6}\.csv"', resp["Content-Disposition"]
    )
    rows = _csv_rows(resp)
    assert rows == [HEADER, *JD_ROWS, *TB_ROWS]
    assert not any("OTHER-1" in row for row in rows)


def test_the_list_filters_narrow_the_export(api_for, agent, orders, channel, other_shop):
    api = api_for(agent)
    taobao, jingdong, foreign = orders
    assert _csv_rows(api.get("/orders/export", {"channel_id": jingdong.channel_id})) == [
        HEADER,
        *JD_ROWS,
    ]
    assert _csv_rows(api.get("/orders/export", {"channel_id": channel.pk})) == [HEADER, *TB_ROWS]
    # Another shop's channel is as good as unknown: nothing, exactly as the list shows.
    assert _csv_rows(api.get("/orders/export", {"channel_id": foreign.channel_id})) == [HEADER]
    listed = api.get("/orders", {"channel_id": foreign.channel_id}).json()
    assert listed["items"] == []


def test_another_shops_user_sees_only_their_orders(api_for, orders, other_shop):
    stranger = f.user("agent", [other_shop], "stranger")
    rows = _csv_rows(api_for(stranger).get("/orders/export"))
    assert [row[0] for row in rows[1:]] == ["OTHER-1"]


def test_xlsx_holds_the_same_values_with_money_as_numbers(api_for, agent, orders):
    resp = api_for(agent).get("/orders/export", {"format": "xlsx"})
    assert resp.status_code == 200, resp.content
    assert resp["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert re.fullmatch(
        r'attachment; filename="orders-\d{8}-\d{6}\.xlsx"', resp["Content-Disposition"]
    )
    book = openpyxl.load_workbook(io.BytesIO(b"".join(resp.streaming_content)))
    sheet = book.active
    assert sheet.title == "Orders"
    cells = [[_as_csv_text(cell) for cell in row] for row in sheet.iter_rows()]
    unescaped = [row[:10] + [FORMULA] + row[11:] for row in TB_ROWS[2:]]
    assert cells == [HEADER, *JD_ROWS, *TB_ROWS[:2], *unescaped]
    # Money is a number shown with two places; the title that looks like a formula is text.
    paid = sheet["O3"]
    assert (paid.value, paid.number_format, paid.data_type) == (99.98, "0.00", "n")
    assert (sheet["K5"].value, sheet["K5"].data_type) == (FORMULA, "s")
    assert sheet["L5"].value == 2


def test_headers_follow_the_users_language(api_for, agent, orders):
    api = api_for(agent)
    resp = api.client.get("/api/v1/orders/export", HTTP_ACCEPT_LANGUAGE="zh-hans", **api.headers)
    rows = _csv_rows(resp)
    assert rows[0][:4] == ["订单号", "渠道", "状态", "客户"]
    assert rows[0][-2:] == ["运费", "实付总额"]
    assert rows[1][2] == "signed"  # the status's code, not its label


def test_every_row_comes_out_across_many_pages(api_for, agent, orders, monkeypatch):
    monkeypatch.setattr(tabular, "KEYSET_PAGE", 1)
    rows = _csv_rows(api_for(agent).get("/orders/export"))
    assert rows == [HEADER, *JD_ROWS, *TB_ROWS]
    taobao, jingdong, _ = orders
    pages = list(keyset_pages(Order.objects.filter(shop=taobao.shop), size=1))
    assert pages == [[jingdong.pk], [taobao.pk]]


def test_a_bad_format_or_filter_is_the_standard_error(api_for, agent, orders):
    api = api_for(agent)
    assert_error(api.get("/orders/export", {"format": "pdf"}), 422, "request.invalid", ["format"])
    bad_channel = api.get("/orders/export", {"channel_id": "taobao"})
    assert_error(bad_channel, 422, "request.invalid", ["channel_id"])
    assert_error(
        api.get("/orders/export", {"channel_id": 0}), 422, "request.invalid", ["channel_id"]
    )
    assert_error(api_for(None).get("/orders/export"), 401, "auth.required", [])
