"""Case imports: the channel's after-sales requests, filed (and decided by the policy) or
mirrored, once."""

from __future__ import annotations

import pytest

from aftersales.cases.models import Case, CaseEvent
from aftersales.channels.models import ChannelKind
from aftersales.channels.services import shop_create
from aftersales.ledger.models import JournalEntry, Refund
from aftersales.sync.tests.helpers import (
    SAMPLES,
    catalogue,
    channel_of,
    counts,
    problems,
    run_import,
)


def _channel(kind: str, orders: str):
    shop = shop_create(code="qimu", name="栖木生活")  # with the default policy live
    catalogue(shop)
    channel = channel_of(shop, kind)
    run_import(channel, "orders", orders)
    return channel


@pytest.fixture
def taobao(db):
    return _channel(ChannelKind.TAOBAO, "taobao-orders.csv")


def _cases(channel):
    return {
        c.external_id: (c.type, c.status, c.channel_status, c.outcome, str(c.refund_amount))
        for c in Case.objects.filter(channel=channel)
    }


def _events(case):
    return [(e.kind, e.from_status, e.to_status) for e in CaseEvent.objects.filter(case=case)]


def test_taobao_requests_are_filed_or_mirrored_and_bad_rows_reported(taobao):
    run = run_import(taobao, "cases", "taobao-cases.csv")

    assert counts(run) == {
        "status": "done",
        "rows": 6,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "failed": 3,
    }
    assert problems(run) == [
        (5, "订单编号", "TB9999", "No order TB9999 on this channel."),
        (6, "退款状态", "WAIT_SELLER_PAY", "Taobao has no after-sales status WAIT_SELLER_PAY."),
        (7, "售后类型", "以旧换新", "Unknown after-sales type 以旧换新."),
    ]
    assert _cases(taobao) == {
        # Waiting on the merchant: the policy decides (unshipped → refund at once).
        "RF5001": ("refund_only", "refunding", "WAIT_SELLER_AGREE", "", "107.00"),
        # Already moved on at the channel: mirrored.
        "RF5002": ("return_refund", "awaiting_return", "WAIT_BUYER_RETURN_GOODS", "", "29.90"),
        "RF5003": ("refund_only", "succeeded", "SUCCESS", "refunded", "119.00"),
    }
    filed = Case.objects.get(external_id="RF5001")
    assert filed.decisions.get().rule == "refund_only_unshipped"
    assert filed.customer_words == "拍错了"
    mirrored = Case.objects.get(external_id="RF5003")
    assert _events(mirrored) == [
        ("created", "", "awaiting_merchant"),
        ("channel_sync", "awaiting_merchant", "refunding"),
        ("refund_settled", "refunding", "succeeded"),
    ]
    refund = Refund.objects.get(case=mirrored)
    assert (refund.status, refund.provider, refund.amount, refund.provider_reference) == (
        "succeeded",
        "manual",
        119,
        f"{taobao.pk}:RF5003",
    )
    assert JournalEntry.objects.filter(key=f"refund:{refund.key}").count() == 1


def test_reimporting_the_same_requests_changes_nothing(taobao):
    run_import(taobao, "cases", "taobao-cases.csv")
    before = list(Case.objects.order_by("id").values())
    events = CaseEvent.objects.count()

    again = run_import(taobao, "cases", "taobao-cases.csv")

    assert counts(again) == {
        "status": "done",
        "rows": 6,
        "created": 0,
        "updated": 0,
        "unchanged": 3,
        "failed": 3,
    }
    assert list(Case.objects.order_by("id").values()) == before
    assert CaseEvent.objects.count() == events


def test_a_later_export_moves_the_cases_the_channel_moved(taobao, tmp_path):
    run_import(taobao, "cases", "taobao-cases.csv")
    text = (SAMPLES / "taobao-cases.csv").read_bytes().decode("gbk")
    text = text.replace(
        "买家已经申请退款，等待卖家同意,不想要了,107.00,拍错了,,,2026-11-04 09:00:00",
        "退款成功,不想要了,107.00,拍错了,,,2026-11-05 09:00:00",
    ).replace(
        "RF5002,TB1001,退货退款,WAIT_BUYER_RETURN_GOODS,质量问题,29.90,线材接口松动,QM-PA03,1,"
        "2026-11-06 10:00:00",
        "RF5002,TB1001,退货退款,CLOSED,质量问题,29.90,线材接口松动,QM-PA03,1,2026-11-07 10:00:00",
    )
    later = tmp_path / "later.csv"
    later.write_bytes(text.encode("gbk"))

    run = run_import(taobao, "cases", str(later))

    assert (run.created, run.updated, run.unchanged) == (0, 2, 1)
    cases = _cases(taobao)
    # The policy's refund waiting to be paid by hand is settled with the channel's number.
    assert cases["RF5001"] == ("refund_only", "succeeded", "SUCCESS", "refunded", "107.00")
    refund = Refund.objects.get(case__external_id="RF5001")
    assert (refund.status, refund.provider_reference) == ("succeeded", f"{taobao.pk}:RF5001")
    assert cases["RF5002"] == ("return_refund", "closed", "CLOSED", "withdrawn", "29.90")


def test_an_older_update_than_the_one_we_hold_changes_nothing(taobao, tmp_path):
    run_import(taobao, "cases", "taobao-cases.csv")
    text = (SAMPLES / "taobao-cases.csv").read_bytes().decode("gbk")
    text = text.replace(
        "WAIT_BUYER_RETURN_GOODS,质量问题,29.90,线材接口松动,QM-PA03,1,2026-11-06 10:00:00",
        "WAIT_SELLER_AGREE,质量问题,29.90,线材接口松动,QM-PA03,1,2026-11-05 10:00:00",
    )
    older = tmp_path / "older.csv"
    older.write_bytes(text.encode("gbk"))

    run = run_import(taobao, "cases", str(older))

    assert (run.created, run.updated, run.unchanged) == (0, 0, 3)
    assert _cases(taobao)["RF5002"][1:3] == ("awaiting_return", "WAIT_BUYER_RETURN_GOODS")


def test_pinduoduo_numeric_statuses(db):
    channel = _channel(ChannelKind.PDD, "pdd-orders.csv")
    run = run_import(channel, "cases", "pdd-cases.csv")
    assert counts(run) == {
        "status": "done",
        "rows": 3,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "failed": 1,
    }
    assert problems(run) == [
        (4, "售后状态", "99", "Pinduoduo has no after-sales status 99."),
    ]
    assert _cases(channel) == {
        "PDD-AS-1": ("return_refund", "awaiting_return", "7", "", "28.23"),
        "PDD-AS-2": ("refund_only", "succeeded", "10", "refunded", "99.00"),
    }


def test_wechat_and_generic_requests(db):
    wechat = _channel(ChannelKind.WECHAT, "wechat-orders.csv")
    run = run_import(wechat, "cases", "wechat-cases.csv")
    assert (run.created, run.failed) == (1, 0)
    assert _cases(wechat) == {
        "WX-AS-1": (
            "return_refund",
            "return_in_transit",
            "MERCHANT_WAIT_RECEIPT",
            "",
            "129.00",
        )
    }
    case = Case.objects.get(external_id="WX-AS-1")
    assert case.reason == "no_reason"

    web = channel_of(wechat.shop, ChannelKind.WEB)
    run_import(web, "orders", "generic-orders.csv")
    run = run_import(web, "cases", "generic-cases.csv")
    assert (run.created, run.failed) == (1, 0)
    filed = Case.objects.get(channel=web, external_id="WEB-AS-1")
    assert (filed.status, filed.reason, filed.customer_words) == (
        "refunding",
        "no_reason",
        "Changed my mind",
    )
    assert [(line.order_line.sku, line.quantity) for line in filed.lines.all()] == [("QM-PA01", 1)]
