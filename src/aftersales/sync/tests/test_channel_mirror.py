"""A channel's later word never refunds twice, never beyond the order, and never closes a
case whose money our own payment provider has on its way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from aftersales.cases.models import Case
from aftersales.core.errors import Invalid
from aftersales.ledger.models import JournalEntry, PaymentAccount, Refund
from aftersales.sync.cases import ChannelCase, channel_case_put
from aftersales.tests import factories as f

T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)


def _put(channel, order, status, at, *, amount=None, case_type="refund_only"):
    return channel_case_put(
        channel=channel,
        data=ChannelCase(
            external_id="R1",
            order_number=order.external_id,
            case_type=case_type,
            channel_status=status,
            refund_amount=amount,
            occurred_at=at,
        ),
    )


def _refunds(case):
    return [(r.status, r.amount) for r in Refund.objects.filter(case=case).order_by("id")]


def test_a_case_that_ended_is_not_refunded_again_by_a_later_channel_status(shop):
    pdd = f.channel(shop, kind="pdd", code="pdd")
    order = f.order(pdd)  # 2 × 50.00
    case, _ = _put(pdd, order, "4", T0)  # 商家同意退款，退款中
    f.refund_settle(case)  # finance paid it by hand
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("succeeded", "refunded")

    _put(pdd, order, "5", T0 + timedelta(hours=1))  # 平台同意退款，退款中
    _put(pdd, order, "10", T0 + timedelta(hours=2))  # 退款成功

    case.refresh_from_db()
    assert (case.status, case.outcome, case.channel_status) == ("succeeded", "refunded", "10")
    assert _refunds(case) == [("succeeded", Decimal("100.00"))]
    assert JournalEntry.objects.filter(case=case, key__startswith="refund:").count() == 1


def test_a_channel_refund_beyond_what_the_order_paid_is_refused_and_nothing_lands(shop):
    taobao = f.channel(shop, kind="taobao", code="tb")
    order = f.order(taobao)  # 100.00 paid
    with pytest.raises(Invalid) as refused:
        _put(taobao, order, "SUCCESS", T0, amount=Decimal("10000.00"))
    assert refused.value.code == "refund.amount_exceeds_paid"
    assert not Case.objects.exists()
    assert not Refund.objects.exists()


def test_our_own_provider_refund_on_its_way_keeps_the_case_refunding(shop):
    PaymentAccount.objects.create(shop=shop, provider="alipay", name="支付宝", active=True)
    web = f.channel(shop, kind="web", code="web")
    order = f.order(web, payment_provider="alipay")
    case, _ = _put(web, order, "refunding", T0)
    assert _refunds(case) == [("pending", Decimal("100.00"))]

    _put(web, order, "closed", T0 + timedelta(hours=1))

    case.refresh_from_db()
    assert (case.status, case.channel_status) == ("refunding", "closed")
    assert _refunds(case) == [("pending", Decimal("100.00"))]


def test_our_own_vocabulary_succeeded_settles_the_refund_as_refunded(shop):
    web = f.channel(shop, kind="web", code="web")
    order = f.order(web)
    case, _ = _put(web, order, "refunding", T0)

    _put(web, order, "succeeded", T0 + timedelta(hours=1))

    case.refresh_from_db()
    assert (case.status, case.outcome) == ("succeeded", "refunded")
    assert _refunds(case) == [("succeeded", Decimal("100.00"))]


def test_a_forward_move_at_the_channel_leaves_our_refund_alone(shop):
    taobao = f.channel(shop, kind="taobao", code="tb")
    order = f.order(taobao)
    case, _ = _put(taobao, order, "WAIT_BUYER_RETURN_GOODS", T0, case_type="return_refund")
    Case.objects.filter(pk=case.pk).update(status="refunding")  # a lightning refund of ours
    Refund.objects.create(
        shop=shop,
        case=case,
        order=order,
        key="RF-L",
        provider="manual",
        goods_amount=Decimal("100.00"),
        amount=Decimal("100.00"),
        from_status="return_in_transit",
        due_at=T0,
        created_at=T0,
    )

    _put(taobao, order, "WAIT_SELLER_CONFIRM_GOODS", T0 + timedelta(hours=1))

    case.refresh_from_db()
    assert (case.status, case.channel_status) == ("refunding", "WAIT_SELLER_CONFIRM_GOODS")
    assert _refunds(case) == [("pending", Decimal("100.00"))]


def test_a_marketplace_refund_is_never_sent_through_our_own_payment_account(shop):
    PaymentAccount.objects.create(shop=shop, provider="alipay", name="支付宝", active=True)
    taobao = f.channel(shop, kind="taobao", code="tb")
    # Recorded (wrongly) as paid through our own Alipay account.
    order = f.order(taobao, payment_provider="alipay")

    case, _ = _put(taobao, order, "SUCCESS", T0)

    case.refresh_from_db()
    assert (case.status, case.outcome) == ("succeeded", "refunded")
    refund = Refund.objects.get(case=case)
    assert (refund.provider, refund.status, refund.amount) == (
        "manual",
        "succeeded",
        Decimal("100.00"),
    )
    assert refund.provider_reference == f"{taobao.pk}:R1"


def test_pinduoduo_refunding_waits_for_the_channel_not_our_account(shop):
    PaymentAccount.objects.create(shop=shop, provider="alipay", name="支付宝", active=True)
    pdd = f.channel(shop, kind="pdd", code="pdd")
    order = f.order(pdd, payment_provider="alipay")

    case, _ = _put(pdd, order, "4", T0)  # 商家同意退款，退款中

    assert _refunds(case) == [("pending", Decimal("100.00"))]
    assert Refund.objects.get(case=case).provider == "manual"
