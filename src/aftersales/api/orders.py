"""Channels, products and orders: the facts every case refers to."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from aftersales.api.schemas import ERRORS, Id, In, Money
from aftersales.catalog.models import Product
from aftersales.catalog.services import ProductData, product_upsert
from aftersales.channels.exports import orders_filename, orders_table
from aftersales.channels.models import Channel, ChannelKind, Order
from aftersales.channels.payloads import OrderIn, order_data
from aftersales.channels.selectors import (
    channel_get_for_actor,
    channels_visible,
    order_find_for_actor,
    order_get_for_actor,
    orders_list,
    shop_get_for_actor,
)
from aftersales.channels.services import channel_create
from aftersales.core.tabular import table_response
from aftersales.policies import triggers

router = Router()


# ----------------------------------------------------------------------------- channels


class ChannelIn(In):
    shop_id: int
    kind: ChannelKind
    code: str = Field(min_length=1, max_length=40, pattern=r"^[-a-zA-Z0-9_]+$")
    name: str = Field(min_length=1, max_length=120)


class ChannelOut(Schema):
    id: int
    shop_id: int
    kind: str
    code: str
    name: str
    active: bool


@router.get("/channels", response=list[ChannelOut], tags=["channels"])
def channel_list(request: HttpRequest):
    return list(channels_visible(request.auth).order_by("id"))


@router.post("/channels", response={201: ChannelOut, **ERRORS}, tags=["channels"])
def channel_add(request: HttpRequest, payload: ChannelIn):
    shop = shop_get_for_actor(request.auth, payload.shop_id)
    channel = channel_create(
        actor=request.auth, shop=shop, kind=payload.kind, code=payload.code, name=payload.name
    )
    return Status(201, channel)


# ----------------------------------------------------------------------------- products


class ProductIn(In):
    shop_id: int
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    price: Money
    category: str | None = None
    warranty_months: int = Field(default=12, ge=0, le=240)
    active: bool = True


class ProductOut(Schema):
    id: int
    shop_id: int
    sku: str
    name: str
    price: Decimal
    category: str | None
    warranty_months: int
    active: bool

    @staticmethod
    def resolve_category(product: Product) -> str | None:
        return product.category.code if product.category_id else None


@router.get("/products", response={200: list[ProductOut], **ERRORS}, tags=["products"])
def product_list(request: HttpRequest, shop_id: int, sku: str | None = None):
    shop = shop_get_for_actor(request.auth, shop_id)
    qs = Product.objects.filter(shop=shop).select_related("category").order_by("sku")
    if sku:
        qs = qs.filter(sku__startswith=sku)
    return list(qs[:500])


@router.post("/products", response={200: ProductOut, 201: ProductOut, **ERRORS}, tags=["products"])
def product_put(request: HttpRequest, payload: ProductIn):
    shop = shop_get_for_actor(request.auth, payload.shop_id)
    product, created = product_upsert(
        actor=request.auth,
        shop=shop,
        data=ProductData(
            sku=payload.sku,
            name=payload.name,
            price=payload.price,
            category_code=payload.category,
            warranty_months=payload.warranty_months,
            active=payload.active,
        ),
    )
    return Status(201 if created else 200, product)


# ----------------------------------------------------------------------------- orders


class OrderLineOut(Schema):
    id: int
    sku: str
    title: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    paid_amount: Decimal


class ShipmentOut(Schema):
    courier: str
    tracking_number: str
    shipped_at: datetime | None
    last_movement_at: datetime | None


class CustomerOut(Schema):
    id: int
    name: str
    phone: str
    email: str
    language: str


class OrderOut(Schema):
    id: int
    shop_id: int
    channel_id: int
    external_id: str
    status: str
    currency: str
    customer: CustomerOut | None
    shipping_fee: Decimal
    total_paid: Decimal
    shipping_insurance: bool
    payment_provider: str
    payment_reference: str
    placed_at: datetime | None
    paid_at: datetime | None
    shipped_at: datetime | None
    signed_at: datetime | None
    lines: list[OrderLineOut]
    shipments: list[ShipmentOut]

    @staticmethod
    def resolve_lines(order: Order):
        return list(order.lines.all())

    @staticmethod
    def resolve_shipments(order: Order):
        return list(order.shipments.all())


class OrderPage(Schema):
    items: list[OrderOut]
    next_cursor: str | None


@router.post("/orders", response={200: OrderOut, 201: OrderOut, **ERRORS}, tags=["orders"])
def order_put(request: HttpRequest, payload: OrderIn):
    """Create or update an order by (channel, external order number)."""
    channel: Channel = channel_get_for_actor(request.auth, payload.channel_id)
    order, created = triggers.order_put(
        actor=request.auth, channel=channel, data=order_data(payload)
    )
    return Status(201 if created else 200, order_get_for_actor(request.auth, order.pk))


class OrderFilterQuery(Schema):
    """The list's filters; the export takes the same ones."""

    channel_id: Id | None = None


class OrderQuery(OrderFilterQuery):
    cursor: Id | None = None
    limit: int = Field(default=50, ge=1, le=200)


class OrderExportQuery(OrderFilterQuery):
    format: Literal["csv", "xlsx"] = "csv"


@router.get("/orders", response={200: OrderPage, **ERRORS}, tags=["orders"])
def order_list(request: HttpRequest, query: Query[OrderQuery]):
    orders, next_cursor = orders_list(
        request.auth, channel_id=query.channel_id, before_id=query.cursor, limit=query.limit
    )
    return {"items": orders, "next_cursor": str(next_cursor) if next_cursor else None}


@router.get("/orders/export", response={200: None, **ERRORS}, tags=["orders"])
def order_export(request: HttpRequest, query: Query[OrderExportQuery]):
    """Every order the list shows under the same filters, one row per order line, as CSV
    (UTF-8 with BOM) or XLSX. Headers in the user's language; statuses as their codes."""
    table = orders_table(request.auth, channel_id=query.channel_id)
    return table_response(table, format=query.format, filename=orders_filename(query.format))


@router.get("/orders/lookup", response={200: OrderOut, **ERRORS}, tags=["orders"])
def order_lookup(request: HttpRequest, channel_id: int, external_id: str):
    """Find an order by the channel's own order number."""
    return order_find_for_actor(request.auth, channel_id, external_id)


@router.get("/orders/{order_id}", response={200: OrderOut, **ERRORS}, tags=["orders"])
def order_detail(request: HttpRequest, order_id: int):
    return order_get_for_actor(request.auth, order_id)
