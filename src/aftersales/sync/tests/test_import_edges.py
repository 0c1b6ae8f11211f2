"""The import's edges: input a database would choke on is refused row by row, a file that
cannot be read lands nothing, and a column the file lacks never wipes what we hold."""

from __future__ import annotations

import io
from decimal import Decimal

from openpyxl import Workbook

from aftersales.channels.models import ChannelKind, Order, OrderLine
from aftersales.sync.importing.runs import import_file
from aftersales.sync.tests.helpers import counts, problems
from aftersales.tests import factories as f


def _run(channel, data: bytes, kind: str = "orders"):
    return import_file(
        actor=None,
        channel=channel,
        kind=kind,
        stream=io.BytesIO(data),
        filename="x.csv",
    )


def _web(shop):
    f.product(shop, sku="A", price="3.34")
    f.product(shop, sku="B", price="1.00")
    return f.channel(shop, kind=ChannelKind.WEB, code="web")


def test_cells_no_table_can_keep_are_refused_row_by_row(shop):
    web = _web(shop)
    long_number = "X" * 65
    data = (
        "order_number,sku,quantity,unit_price,paid_at\n"
        f"{long_number},A,1,1.00,\n"
        "O2,A,1,9999999999.00,\n"
        "O2,B,1,9999999999.00,\n"
        "O3,A,1,1.00,0001-01-01 00:00:00\n"
        "O4,A,1,1e3,\n"
        "O5,A,1,-0.00,\n"
        "O6,A,1,1.00,\n"
    ).encode()

    run = _run(web, data)

    assert counts(run) == {
        "status": "done",
        "rows": 7,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "failed": 6,
    }
    assert problems(run) == [
        (2, "order_number", long_number, "Too long: at most 64 characters."),
        (3, "order_number", "O2", "The order total is too large."),
        (4, "order_number", "O2", "Not imported: row 3 of order O2 has a problem."),
        (5, "paid_at", "0001-01-01 00:00:00", "Out of range: between 1970 and 2999."),
        (6, "unit_price", "1e3", "Not an amount of money."),
        (7, "unit_price", "-0.00", "Cannot be negative."),
    ]
    assert list(Order.objects.values_list("external_id", flat=True)) == ["O6"]


def test_a_nul_byte_is_dropped_from_the_cell(shop):
    web = _web(shop)
    data = (
        b"order_number,sku,quantity,unit_price,buyer_name,phone\n"
        b"O1,A,1,1.00,Li\x00Lei,13800000000\n"
    )
    run = _run(web, data)
    assert run.created == 1
    assert Order.objects.get().customer.name == "LiLei"


def test_a_line_total_is_kept_to_the_cent(shop):
    f.product(shop, sku="A", price="3.34")
    pdd = f.channel(shop, kind=ChannelKind.PDD, code="pdd")
    data = (
        "订单号,商家编码-SKU维度,商品数量(件),商品总价(元),用户实付金额(元)\nP1,A,3,10.00,10.00\n"
    )

    run = _run(pdd, data.encode())

    assert (run.created, run.failed) == (1, 0)
    line = OrderLine.objects.get()
    assert (line.unit_price, line.paid_amount) == (Decimal("3.33"), Decimal("10.00"))
    assert Order.objects.get().total_paid == Decimal("10.00")


def test_a_file_with_fewer_columns_keeps_what_we_hold(shop):
    web = f.channel(shop, kind=ChannelKind.WEB, code="web")
    order = f.order(web, external_id="O1", shipping_fee="8.00")  # paid, shipped, signed
    sku = order.lines.get().sku
    before = (order.status, order.paid_at, order.shipping_fee, order.total_paid)

    run = _run(web, f"order_number,sku,quantity,unit_price\nO1,{sku},2,50.00\n".encode())

    order.refresh_from_db()
    assert (run.updated, run.unchanged) == (0, 1)
    assert (order.status, order.paid_at, order.shipping_fee, order.total_paid) == before


def test_the_report_names_the_column_as_the_file_does(shop):
    f.product(shop, sku="A")
    taobao = f.channel(shop, kind=ChannelKind.TAOBAO, code="tb")
    data = "订单编号,商家编码,宝贝数量,单价,付款时间\nT1,A,1,1.00,昨天\n"
    run = _run(taobao, data.encode("gbk"))
    assert problems(run) == [
        (2, "付款时间", "昨天", "Not a date and time (write 2026-11-01 10:00:00).")
    ]


def test_a_gbk_file_whose_first_chinese_is_far_down_lands_whole(shop):
    web = _web(shop)
    rows = [f"O{i},A,1,1.00,buyer{i}" for i in range(5000)] + ["O5000,A,1,1.00,张三"]
    data = ("order_number,sku,quantity,unit_price,buyer_name\n" + "\n".join(rows)).encode("gbk")
    assert len(data) > 64 * 1024

    run = _run(web, data)

    assert (run.status, run.created, run.failed) == ("done", 5001, 0)


def test_bytes_neither_utf8_nor_gbk_fail_the_file_before_anything_lands(shop):
    web = _web(shop)
    data = b"order_number,sku,quantity,unit_price\nO1,A,1,1.00\nO2,A,1,\x81\x20\n"
    run = _run(web, data)
    assert counts(run)["status"] == "failed"
    assert problems(run) == [(3, "", "", "Line 3 is neither UTF-8 nor GBK text.")]
    assert not Order.objects.exists()


def test_a_truncated_workbook_fails_the_import_with_a_message(shop):
    web = _web(shop)
    book = Workbook()
    sheet = book.active
    sheet.append(["order_number", "sku", "quantity", "unit_price"])
    for i in range(200):
        sheet.append([f"O{i}", "A", 1, 1.0])
    buffer = io.BytesIO()
    book.save(buffer)
    data = buffer.getvalue()

    run = _run(web, data[: len(data) - 200])

    assert counts(run)["status"] == "failed"
    assert problems(run) == [(0, "", "", "The file is not a readable XLSX workbook.")]
    assert not Order.objects.exists()


def test_text_with_tabs_newlines_and_backslashes_lands_exactly(shop):
    web = _web(shop)
    title = 'Cable\t"1.5 m"\nC:\\box \\N'
    data = (
        "order_number,sku,title,quantity,unit_price,buyer_name,phone\n"
        f'O1,A,"{title.replace(chr(34), chr(34) * 2)}",1,1.00,\\N,13800000000\n'
    ).encode()

    run = _run(web, data)

    assert run.created == 1
    line = OrderLine.objects.get()
    assert line.title == title
    assert Order.objects.get().customer.name == "\\N"
