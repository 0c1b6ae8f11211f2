"""Writes for shops, channels, customers and orders. Orders are upserted by (channel, number)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from aftersales.accounts.selectors import shop_ids_for
from aftersales.catalog.models import Product
from aftersales.channels.models import (
    Channel,
    ChannelKind,
    Customer,
    Language,
    Order,
    OrderLine,
    OrderStatus,
    PaymentProvider,
    Shipment,
    Shop,
)
from aftersales.core.errors import Conflict, Forbidden, Invalid, NotFound
from aftersales.core.money import MONEY_MAX, ZERO, money


def require_shop_perm(actor: AbstractBaseUser | None, perm: str, shop_id: int, code: str) -> None:
    if actor is None:
        return
    if shop_id not in shop_ids_for(actor):
        raise NotFound(code, _("Not found."))
    if not actor.has_perm(perm):
        raise Forbidden("permission.denied", _("You may not do this."), {"permission": perm})


@transaction.atomic
def shop_create(*, code: str, name: str, currency: str = "CNY") -> Shop:
    """A new shop starts with the default after-sales policy (DESIGN §5) live and the standard
    chart of ledger accounts."""
    from aftersales.ledger.services import chart_install  # both build on shops
    from aftersales.policies.services import policy_install_default

    shop = Shop.objects.create(code=code, name=name, currency=currency)
    policy_install_default(shop=shop)
    chart_install(shop=shop)
    return shop


@transaction.atomic
def channel_create(
    *, actor: AbstractBaseUser | None, shop: Shop, kind: str, code: str, name: str
) -> Channel:
    require_shop_perm(actor, "channels.add_channel", shop.pk, "shop.not_found")
    if kind not in ChannelKind.values:
        raise Invalid("channel.invalid", _("Unknown channel kind."), {"kind": kind})
    if Channel.objects.filter(shop=shop, code=code).exists():
        raise Conflict("channel.exists", _("A channel with this code exists."), {"code": code})
    return Channel.objects.create(shop=shop, kind=kind, code=code, name=name)


@dataclass(frozen=True)
class CustomerData:
    name: str = ""
    phone: str = ""
    email: str = ""
    wechat_openid: str = ""
    language: str = Language.ZH_HANS


@dataclass(frozen=True)
class OrderLineData:
    sku: str
    quantity: int
    unit_price: Decimal
    discount: Decimal = ZERO
    paid_amount: Decimal | None = None
    title: str = ""


@dataclass(frozen=True)
class ShipmentData:
    courier: str
    tracking_number: str
    shipped_at: datetime | None = None
    last_movement_at: datetime | None = None


@dataclass(frozen=True)
class OrderData:
    external_id: str
    lines: list[OrderLineData]
    customer: CustomerData | None = None
    shipping_fee: Decimal = ZERO
    placed_at: datetime | None = None
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    signed_at: datetime | None = None
    cancelled: bool = False
    shipping_insurance: bool = False
    payment_provider: str = ""
    payment_reference: str = ""
    shipments: list[ShipmentData] = field(default_factory=list)


def order_status_for(
    *,
    cancelled: bool,
    paid_at: datetime | None,
    shipped_at: datetime | None,
    signed_at: datetime | None,
) -> str:
    """An order's status follows from its times (and whether the channel cancelled it)."""
    if cancelled:
        return OrderStatus.CANCELLED
    if signed_at:
        return OrderStatus.SIGNED
    if shipped_at:
        return OrderStatus.SHIPPED
    if paid_at:
        return OrderStatus.PAID
    return OrderStatus.PENDING_PAYMENT


def _order_status(data: OrderData) -> str:
    return order_status_for(
        cancelled=data.cancelled,
        paid_at=data.paid_at,
        shipped_at=data.shipped_at,
        signed_at=data.signed_at,
    )


def _validate_order(data: OrderData, products: dict[str, Product]) -> dict[str, Decimal]:
    """Field errors for the whole order at once; returns each line's paid amount."""
    errors: dict[str, str] = {}
    paid: dict[str, Decimal] = {}
    if not data.external_id.strip():
        errors["external_id"] = _("Required.")
    if not data.lines:
        errors["lines"] = _("An order needs at least one line.")
    if money(data.shipping_fee) < ZERO:
        errors["shipping_fee"] = _("Cannot be negative.")
    if data.payment_provider and data.payment_provider not in PaymentProvider.values:
        errors["payment_provider"] = _("Unknown payment provider.")
    for i, line in enumerate(data.lines):
        key = f"lines.{i}"
        if line.sku in paid:
            errors[f"{key}.sku"] = _("This SKU is listed twice.")
            continue
        if line.sku not in products:
            errors[f"{key}.sku"] = _("Unknown SKU %(sku)s.") % {"sku": line.sku}
        if line.quantity < 1:
            errors[f"{key}.quantity"] = _("Quantity must be at least 1.")
        if money(line.unit_price) < ZERO:
            errors[f"{key}.unit_price"] = _("Cannot be negative.")
        if money(line.discount) < ZERO:
            errors[f"{key}.discount"] = _("Cannot be negative.")
        gross = money(line.unit_price * max(line.quantity, 0))
        amount = (
            money(line.paid_amount)
            if line.paid_amount is not None
            else gross - money(line.discount)
        )
        if gross > MONEY_MAX:
            errors[f"{key}.quantity"] = _("Quantity × unit price is too large.")
        elif amount < ZERO:
            errors[f"{key}.paid_amount"] = _("The discount is larger than the line.")
        elif amount > gross:
            errors[f"{key}.paid_amount"] = _("Cannot exceed quantity × unit price.")
        paid[line.sku] = amount
    if not errors and sum(paid.values(), ZERO) + money(data.shipping_fee) > MONEY_MAX:
        errors["lines"] = _("The order total is too large.")
    times = [
        ("paid_at", data.paid_at),
        ("shipped_at", data.shipped_at),
        ("signed_at", data.signed_at),
    ]
    for (earlier_name, earlier), (later_name, later) in zip(times, times[1:], strict=False):
        if earlier and later and later < earlier:
            errors[later_name] = _("Cannot be before %(name)s.") % {"name": earlier_name}
    if (data.shipped_at or data.signed_at) and not data.paid_at:
        errors["paid_at"] = _("A shipped order must have been paid.")
    if errors:
        raise Invalid("order.invalid", _("The order is not valid."), errors)
    return paid


def _customer_upsert(shop: Shop, order: Order | None, data: CustomerData | None) -> Customer | None:
    if data is None:
        return order.customer if order else None
    values = {
        "name": data.name,
        "phone": data.phone,
        "email": data.email,
        "wechat_openid": data.wechat_openid,
        "language": data.language,
    }
    customer = order.customer if order and order.customer_id else None
    if customer is None and data.phone:
        customer = Customer.objects.filter(shop=shop, phone=data.phone).order_by("id").first()
    if customer is None:
        return Customer.objects.create(shop=shop, **values)
    changed = [k for k, v in values.items() if getattr(customer, k) != v]
    for k in changed:
        setattr(customer, k, values[k])
    if changed:
        customer.save(update_fields=changed)
    return customer


def order_upsert(
    *, actor: AbstractBaseUser | None, channel: Channel, data: OrderData
) -> tuple[Order, bool]:
    """Create or update the order (channel, external_id). Returns (order, created)."""
    require_shop_perm(actor, "channels.add_order", channel.shop_id, "channel.not_found")
    require_shop_perm(actor, "channels.change_order", channel.shop_id, "channel.not_found")
    skus = {line.sku for line in data.lines}
    products = {p.sku: p for p in Product.objects.filter(shop_id=channel.shop_id, sku__in=skus)}
    paid = _validate_order(data, products)
    try:
        with transaction.atomic():
            return _order_write(channel, data, products, paid)
    except IntegrityError:
        # Two writers created the same order at once: the loser retries as an update.
        with transaction.atomic():
            return _order_write(channel, data, products, paid)


# Called with the order inside its transaction after every upsert (the sla app keeps the
# shipping clock in step). Empty unless an app registers one in its ready().
ORDER_HOOKS: list[Callable[[Order], None]] = []


def _order_write(
    channel: Channel, data: OrderData, products: dict[str, Product], paid: dict[str, Decimal]
) -> tuple[Order, bool]:
    shop = channel.shop
    order = (
        Order.objects.select_for_update()
        .filter(shop_id=channel.shop_id, channel=channel, external_id=data.external_id)
        .first()
    )
    created = order is None
    customer = _customer_upsert(shop, order, data.customer)
    values = {
        "customer": customer,
        "status": _order_status(data),
        "currency": shop.currency,
        "shipping_fee": money(data.shipping_fee),
        "total_paid": money(sum(paid.values(), ZERO) + money(data.shipping_fee)),
        "placed_at": data.placed_at,
        "paid_at": data.paid_at,
        "shipped_at": data.shipped_at,
        "signed_at": data.signed_at,
        "shipping_insurance": data.shipping_insurance,
        "payment_provider": data.payment_provider,
        "payment_reference": data.payment_reference,
    }
    if order is None:
        order = Order.objects.create(
            shop=shop, channel=channel, external_id=data.external_id, **values
        )
    else:
        for k, v in values.items():
            setattr(order, k, v)
        order.save()

    existing = {line.sku: line for line in order.lines.all()} if not created else {}
    for line in data.lines:
        fields = {
            "product": products[line.sku],
            "title": line.title or products[line.sku].name,
            "quantity": line.quantity,
            "unit_price": money(line.unit_price),
            "discount": money(line.discount),
            "paid_amount": paid[line.sku],
        }
        current = existing.pop(line.sku, None)
        if current is None:
            OrderLine.objects.create(shop=shop, order=order, sku=line.sku, **fields)
        elif any(getattr(current, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(current, k, v)
            current.save()
    for gone in existing.values():
        if gone.case_lines.exists():
            raise Conflict(
                "order.line_in_use",
                _("Line %(sku)s has an after-sales case and cannot be removed.")
                % {"sku": gone.sku},
                {"lines": gone.sku},
            )
        gone.delete()

    known = {s.tracking_number: s for s in order.shipments.all()} if not created else {}
    for shipment in data.shipments:
        current = known.get(shipment.tracking_number)
        if current is None:
            known[shipment.tracking_number] = Shipment.objects.create(
                shop=shop,
                order=order,
                courier=shipment.courier,
                tracking_number=shipment.tracking_number,
                shipped_at=shipment.shipped_at,
                last_movement_at=shipment.last_movement_at,
            )
        elif (current.shipped_at, current.last_movement_at) != (
            shipment.shipped_at,
            shipment.last_movement_at,
        ):
            current.shipped_at = shipment.shipped_at
            current.last_movement_at = shipment.last_movement_at
            current.save(update_fields=["shipped_at", "last_movement_at"])
    for hook in ORDER_HOOKS:
        hook(order)
    return order, created
