"""Demo customers and orders: every order status, written through order_upsert."""

from __future__ import annotations

import string
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from aftersales.channels.models import Channel, Language, Order, OrderLine, OrderStatus
from aftersales.channels.services import (
    CustomerData,
    OrderData,
    OrderLineData,
    ShipmentData,
    order_upsert,
)
from aftersales.core.money import ZERO, allocate, money
from aftersales.demo import texts as T
from aftersales.demo.shop import Demo, OrderRecord

OS = OrderStatus


# --------------------------------------------------------------------------- customers


def _customers_plan(demo: Demo, count: int) -> list[CustomerData]:
    rng = demo.rng
    phones: set[str] = set()
    customers = []
    for _ in range(count):
        phone = ""
        while not phone or phone in phones:
            phone = rng.choice(T.PHONE_PREFIXES) + "".join(rng.choices(string.digits, k=8))
        phones.add(phone)
        language = Language.ZH_HANS
        if rng.random() < 0.03:
            name, language = rng.choice(T.FOREIGN_CUSTOMERS)
        else:
            given = "".join(rng.choices(T.GIVEN_NAME_CHARS, k=rng.choice((1, 2, 2))))
            name = rng.choice(T.SURNAMES) + given
        email = ""
        if rng.random() < 0.2:
            number = rng.randint(10_000_000, 3_999_999_999)
            # Reserved domains (RFC 2606): a configured mail server never reaches a stranger.
            email = f"{number}@{T.EMAIL_DOMAINS[number % len(T.EMAIL_DOMAINS)]}"
        openid = ""
        if rng.random() < 0.35:
            openid = "o" + "".join(rng.choices(string.ascii_letters + string.digits + "_-", k=27))
        customers.append(
            CustomerData(
                name=name, phone=phone, email=email, wechat_openid=openid, language=language
            )
        )
    return customers


# --------------------------------------------------------------------------- orders

ORDER_STATUS_WEIGHTS = {
    OS.SIGNED: 66,
    OS.SHIPPED: 12,
    OS.PAID: 8,
    OS.PENDING_PAYMENT: 4,
    OS.CANCELLED: 10,
}
COUPONS = [(Decimal(600), Decimal(60)), (Decimal(300), Decimal(30)), (Decimal(200), Decimal(20))]
COUPONS += [(Decimal(100), Decimal(10))]
FREE_SHIPPING_FROM = Decimal("49.00")


def orders_build(demo: Demo, count: int) -> None:
    customers = _customers_plan(demo, max(1, count * 3 // 5))
    plans = [_order_plan(demo, i, customers) for i in range(count)]
    # Write them in the order they were placed so ids grow with time, as in a real shop.
    plans.sort(key=lambda p: (p[1].placed_at, p[1].external_id))
    couriers = {}
    for channel, data in plans:
        demo.clock.at = data.placed_at
        order, _created = order_upsert(actor=None, channel=channel, data=data)
        couriers[order.pk] = data.shipments[0].courier if data.shipments else ""
    _orders_index(demo, couriers)


def _order_plan(demo: Demo, i: int, customers: list[CustomerData]) -> tuple[Channel, OrderData]:
    rng = demo.rng
    statuses = list(ORDER_STATUS_WEIGHTS)
    # The first few cover every status, so even a tiny demo shows them all.
    if i < len(statuses):
        status = statuses[i]
    else:
        status = rng.choices(statuses, weights=list(ORDER_STATUS_WEIGHTS.values()))[0]
    channel_code = rng.choices(["taobao", "pdd", "wechat"], weights=[50, 30, 20])[0]
    times = _order_times(demo, status)
    lines = _order_lines(demo, channel_code)
    gross = sum((line.unit_price * line.quantity for line in lines), ZERO)
    shipping_fee = ZERO
    if channel_code != "pdd" and gross < FREE_SHIPPING_FROM:
        shipping_fee = Decimal("6.00")
    elif rng.random() < 0.04:
        shipping_fee = Decimal("10.00")  # remote regions (新疆、西藏) pay extra
    shipments = []
    if times["shipped_at"]:
        shipments = _shipments_plan(demo, lines, times["shipped_at"])
    data = OrderData(
        external_id=_order_number(demo, channel_code, times["placed_at"]),
        lines=_discounts_apply(demo, lines, gross),
        customer=rng.choice(customers),
        shipping_fee=shipping_fee,
        cancelled=status == OS.CANCELLED,
        shipments=shipments,
        **times,
    )
    return demo.channels[channel_code], data


def _order_times(demo: Demo, status: str) -> dict[str, datetime | None]:
    """Believable times for an order in `status`, worked backwards from now."""
    rng, now, h = demo.rng, demo.now, demo.hours
    paid = shipped = signed = None
    if status == OS.SIGNED:
        # Skewed towards recent weeks: most after-sales work is about recent orders.
        signed = now - timedelta(hours=2) - timedelta(days=118 * rng.random() ** 1.6)
        shipped = signed - h(18, 96)
        late = rng.random() < 0.07
        paid = shipped - (h(49, 90) if late else h(2, 40))
    elif status == OS.SHIPPED:
        stalled = rng.random() < 0.2  # parcels with no courier movement for days
        shipped = now - (h(96, 288) if stalled else h(2, 90))
        paid = shipped - h(2, 40)
    elif status == OS.PAID:
        paid = now - (h(50, 90) if rng.random() < 0.15 else h(1, 46))
    elif status == OS.CANCELLED:
        placed = now - h(24, 24 * 90)
        if rng.random() < 0.45:  # paid, then cancelled before shipping
            paid = placed + timedelta(minutes=rng.uniform(1, 20))
        return _times(placed, paid, None, None)
    else:
        return _times(now - timedelta(minutes=rng.uniform(5, 23 * 60)), None, None, None)
    placed = paid - timedelta(minutes=rng.uniform(1, 20))
    return _times(placed, paid, shipped, signed)


def _times(placed, paid, shipped, signed) -> dict[str, datetime | None]:
    return {"placed_at": placed, "paid_at": paid, "shipped_at": shipped, "signed_at": signed}


def _order_lines(demo: Demo, channel_code: str) -> list[OrderLineData]:
    rng = demo.rng
    count = rng.choices([1, 2, 3], weights=[70, 22, 8])[0]
    lines = []
    for product in rng.sample(demo.products, count):
        unit_price = product.price
        if channel_code == "pdd":  # group-buy price: about 12% off, ending in .90
            unit_price = max(money(int(product.price * Decimal("0.88"))) - Decimal("0.10"), ZERO)
        quantity = 1
        if product.price < 200:
            quantity = rng.choices([1, 2, 3], weights=[80, 15, 5])[0]
        lines.append(
            OrderLineData(
                sku=product.sku, quantity=quantity, unit_price=unit_price, title=product.name
            )
        )
    return lines


def _discounts_apply(demo: Demo, lines: list[OrderLineData], gross: Decimal) -> list[OrderLineData]:
    """A shop coupon (满减) on about a third of orders, shared over the lines by value."""
    coupon = next((off for threshold, off in COUPONS if gross >= threshold), None)
    if coupon is None or demo.rng.random() > 0.35:
        return lines
    shares = allocate(coupon, [line.unit_price * line.quantity for line in lines])
    return [
        OrderLineData(
            sku=line.sku,
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount=share,
            title=line.title,
        )
        for line, share in zip(lines, shares, strict=True)
    ]


def _order_number(demo: Demo, channel_code: str, placed_at: datetime) -> str:
    """Numbers shaped like each platform's own."""
    digits = demo.rng.choices(string.digits, k=17)
    if channel_code == "pdd":
        return timezone.localtime(placed_at).strftime("%y%m%d-") + "".join(digits[:15])
    if channel_code == "wechat":
        return "37" + "".join(digits)
    return "2" + demo.rng.choice("456789") + "".join(digits)


def tracking_number(demo: Demo, courier: str) -> str:
    prefix, length = T.TRACKING_FORMATS[courier]
    number = ""
    while not number or number in demo.tracking_numbers:
        number = prefix + "".join(demo.rng.choices(string.digits, k=length))
    demo.tracking_numbers.add(number)
    return number


def _shipments_plan(
    demo: Demo, lines: list[OrderLineData], shipped_at: datetime
) -> list[ShipmentData]:
    skus = {line.sku for line in lines}
    # Fresh food only travels cold-chain with SF.
    if any(sku.startswith(T.FRESH_SKU_PREFIX) for sku in skus):
        courier = "顺丰"
    else:
        courier = demo.rng.choices(list(T.COURIERS), weights=list(T.COURIERS.values()))[0]
    parcels = 2 if len(lines) > 1 and demo.rng.random() < 0.08 else 1  # split shipments
    return [
        ShipmentData(
            courier=courier,
            tracking_number=tracking_number(demo, courier),
            shipped_at=shipped_at + timedelta(minutes=7 * n),
        )
        for n in range(parcels)
    ]


def _orders_index(demo: Demo, couriers: dict[int, str]) -> None:
    """Group the written orders by status, shuffled once, for the case planner to draw from."""
    lines: dict[int, list[OrderLine]] = {}
    for line in (
        OrderLine.objects.filter(shop=demo.shop).select_related("product__category").order_by("id")
    ):
        lines.setdefault(line.order_id, []).append(line)
    for order in Order.objects.filter(shop=demo.shop).order_by("id"):
        anchor = order.signed_at or order.shipped_at or order.paid_at or order.placed_at
        record = OrderRecord(order, lines.get(order.pk, []), couriers[order.pk], anchor)
        demo.orders.setdefault(order.status, []).append(record)
    for records in demo.orders.values():
        demo.rng.shuffle(records)
