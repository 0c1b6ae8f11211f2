"""Each channel's after-sales statuses onto ours, and ours back onto theirs."""

from __future__ import annotations

import pytest

from aftersales.cases.states import CaseStatus
from aftersales.channels.models import ChannelKind
from aftersales.core.errors import Invalid
from aftersales.sync.statuses import OUTBOUND, Mapped, to_ours, to_theirs

K = ChannelKind


@pytest.mark.parametrize(
    ("kind", "code", "case_type", "expected"),
    [
        (K.TAOBAO, "WAIT_SELLER_AGREE", "refund_only", Mapped("awaiting_merchant")),
        (K.TAOBAO, "WAIT_BUYER_RETURN_GOODS", "return_refund", Mapped("awaiting_return")),
        (K.TAOBAO, "WAIT_SELLER_CONFIRM_GOODS", "return_refund", Mapped("return_in_transit")),
        (K.TAOBAO, "SUCCESS", "return_refund", Mapped("succeeded", "refunded")),
        (K.TAOBAO, "SELLER_REFUSE_BUYER", "refund_only", Mapped("rejected")),
        (K.TAOBAO, "CLOSED", "refund_only", Mapped("closed", "withdrawn")),
        (K.TMALL, "退款成功", "refund_only", Mapped("succeeded", "refunded")),
        (K.WECHAT, "MERCHANT_PROCESSING", "refund_only", Mapped("awaiting_merchant")),
        (K.WECHAT, "USER_WAIT_RETURN", "return_refund", Mapped("awaiting_return")),
        (K.WECHAT, "MERCHANT_WAIT_RECEIPT", "return_refund", Mapped("return_in_transit")),
        (K.WECHAT, "MERCHANT_REFUND_SUCCESS", "refund_only", Mapped("succeeded", "refunded")),
        (K.PDD, "2", "refund_only", Mapped("awaiting_merchant")),
        (K.PDD, "4", "refund_only", Mapped("refunding")),
        (K.PDD, "10", "refund_only", Mapped("succeeded", "refunded")),
        (K.PDD, "13", "refund_only", Mapped("closed", "expired")),
        (K.PDD, "16", "exchange", Mapped("succeeded", "exchanged")),
        (K.PDD, "25", "repair", Mapped("succeeded", "repaired")),
        (K.JD, "31", "return_refund", Mapped("inspecting")),
        (K.JD, "50", "reissue", Mapped("succeeded", "reissued")),
        (K.DOUYIN, "11", "return_refund", Mapped("return_in_transit")),
        (K.DOUYIN, "27", "refund_only", Mapped("rejected")),
        (K.WEIDIAN, "待卖家收货", "return_refund", Mapped("return_in_transit")),
        (K.WEB, "succeeded", "refund_only", Mapped("succeeded", "refunded")),
        (K.WEB, "closed", "refund_only", Mapped("closed", "withdrawn")),
        (K.PARTNER, "processing", "partner_dispute", Mapped("processing")),
    ],
)
def test_theirs_onto_ours(kind, code, case_type, expected):
    assert to_ours(kind, code, case_type) == expected


def test_an_unknown_status_is_refused_with_the_channel_named():
    with pytest.raises(Invalid) as refused:
        to_ours(K.PDD, "99", "refund_only")
    assert refused.value.code == "channel.unknown_status"
    assert refused.value.message == "Pinduoduo has no after-sales status 99."
    assert refused.value.fields == {"channel_status": "99"}


@pytest.mark.parametrize("kind", list(OUTBOUND))
def test_every_status_of_ours_has_a_status_at_each_channel(kind):
    assert set(OUTBOUND[kind]) == set(CaseStatus.values)


@pytest.mark.parametrize(
    ("kind", "status", "theirs"),
    [
        (K.TAOBAO, "awaiting_merchant", "WAIT_SELLER_AGREE"),
        (K.TMALL, "awaiting_return", "WAIT_BUYER_RETURN_GOODS"),
        (K.TAOBAO, "rejected", "SELLER_REFUSE_BUYER"),
        (K.WECHAT, "return_in_transit", "MERCHANT_WAIT_RECEIPT"),
        (K.PDD, "succeeded", "10"),
        (K.JD, "inspecting", "32"),
        (K.DOUYIN, "shipping_to_customer", "13"),
        (K.WEIDIAN, "refunding", "退款中"),
        (K.WEB, "inspecting", "inspecting"),
    ],
)
def test_ours_onto_theirs(kind, status, theirs):
    assert to_theirs(kind, status) == theirs


@pytest.mark.parametrize("kind", list(OUTBOUND))
def test_ours_there_and_back_keeps_the_step_where_the_channel_has_it(kind):
    """Where a channel's status maps back to one status of ours, that is where it came from."""
    for status in ("awaiting_merchant", "awaiting_return", "rejected"):
        if (kind, status) == (K.JD, "awaiting_return"):
            # JD's service order has no step for the goods on their way: it stays 22 (商家审核).
            assert to_ours(kind, to_theirs(kind, status), "return_refund").status == (
                "awaiting_merchant"
            )
            continue
        theirs = to_theirs(kind, status)
        assert to_ours(kind, theirs, "return_refund").status == status
