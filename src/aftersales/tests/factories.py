"""Plain factory functions for tests: each makes one valid object with sensible defaults."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.utils import timezone

from aftersales.accounts.services import token_create, user_ensure
from aftersales.cases.models import Case
from aftersales.cases.services import LineRequest, case_create
from aftersales.catalog.models import Category, Product
from aftersales.channels.models import Channel, ChannelKind, Order, Shop
from aftersales.channels.services import (
    CustomerData,
    OrderData,
    OrderLineData,
    order_upsert,
)

_seq = itertools.count(1)

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.get_fixed_timezone(8 * 60))


def shop(code: str | None = None) -> Shop:
    n = next(_seq)
    return Shop.objects.create(code=code or f"shop{n}", name=f"店铺{n}")


def channel(shop_: Shop, kind: str = ChannelKind.TAOBAO, code: str | None = None) -> Channel:
    n = next(_seq)
    return Channel.objects.create(shop=shop_, kind=kind, code=code or f"ch{n}", name=f"渠道{n}")


def product(shop_: Shop, sku: str | None = None, price: str = "100.00", **kw) -> Product:
    category = kw.pop("category", None)
    if category is None:
        category, _ = Category.objects.get_or_create(
            shop=shop_, code="general", defaults={"name": "日用"}
        )
    return Product.objects.create(
        shop=shop_,
        sku=sku or f"SKU{next(_seq)}",
        name="商品",
        price=Decimal(price),
        category=category,
        **kw,
    )


def order(
    channel_: Channel,
    lines: list[tuple[Product, int, str, str]] | None = None,
    *,
    external_id: str | None = None,
    shipping_fee: str = "0.00",
    shipped: bool = True,
    signed: bool = True,
    payment_provider: str = "",
    payment_reference: str = "",
) -> Order:
    """lines: (product, quantity, unit_price, discount). Default: one product, 2 × 50.00."""
    if lines is None:
        lines = [(product(channel_.shop, price="50.00"), 2, "50.00", "0.00")]
    data = OrderData(
        external_id=external_id or f"T{next(_seq):010d}",
        customer=CustomerData(name="张三", phone=f"138{next(_seq):08d}"),
        lines=[
            OrderLineData(sku=p.sku, quantity=q, unit_price=Decimal(u), discount=Decimal(d))
            for p, q, u, d in lines
        ],
        shipping_fee=Decimal(shipping_fee),
        paid_at=NOW - timedelta(days=5),
        shipped_at=NOW - timedelta(days=4) if shipped else None,
        signed_at=NOW - timedelta(days=2) if signed and shipped else None,
        payment_provider=payment_provider,
        payment_reference=payment_reference,
    )
    created, _ = order_upsert(actor=None, channel=channel_, data=data)
    return created


def user(role: str, shops: list[Shop], username: str | None = None) -> User:
    return user_ensure(username=username or f"{role}{next(_seq)}", role=role, shops=shops)


def token(user_: User) -> str:
    return token_create(user=user_, name="test")


def case(
    order_: Order | None = None,
    case_type: str = "return_refund",
    reason: str = "quality_defect",
    **kw,
) -> Case:
    lines = kw.pop("lines", None)
    if lines is not None:
        lines = [LineRequest(ol, q) for ol, q in lines]
    return case_create(
        actor=None, case_type=case_type, reason=reason, order=order_, lines=lines, **kw
    )


def refund_settle(case_: Case, actor: User | None = None, reference: str = "BANK-1"):
    """Pay the case's live refund the way the worker and finance do: send it, then confirm a
    by-hand one with a reference. Returns the refund."""
    from aftersales.ledger.models import Refund
    from aftersales.ledger.refunds import LIVE, refund_confirm, refund_send

    refund = Refund.objects.get(case=case_, status__in=LIVE)
    refund_send(refund_id=refund.pk)
    refund.refresh_from_db()
    if refund.status == "awaiting_proof":
        refund = refund_confirm(refund=refund, actor=actor, reference=reference)
    case_.refresh_from_db()
    return refund
