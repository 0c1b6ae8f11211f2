"""An order as it comes in from outside — the API's order upsert, a channel's order webhook or
a pulled change all send this same body — checked field by field, and turned into the
OrderData the order services write."""

from __future__ import annotations

from decimal import Decimal

from ninja import Field

from aftersales.channels.models import Language, PaymentProvider
from aftersales.channels.services import CustomerData, OrderData, OrderLineData, ShipmentData
from aftersales.core.schemas import AwareDatetime, In, Money


class CustomerIn(In):
    name: str = Field(default="", max_length=120)
    phone: str = Field(default="", max_length=32)
    email: str = Field(default="", max_length=254)
    wechat_openid: str = Field(default="", max_length=64)
    language: Language = Language.ZH_HANS


class OrderLineIn(In):
    sku: str = Field(min_length=1, max_length=64)
    title: str = Field(default="", max_length=200)
    quantity: int = Field(ge=1, le=100000)
    unit_price: Money
    discount: Money = Decimal("0.00")
    paid_amount: Money | None = None


class ShipmentIn(In):
    courier: str = Field(min_length=1, max_length=40)
    tracking_number: str = Field(min_length=1, max_length=64)
    shipped_at: AwareDatetime | None = None
    last_movement_at: AwareDatetime | None = None


class OrderIn(In):
    channel_id: int
    external_id: str = Field(min_length=1, max_length=64)
    customer: CustomerIn | None = None
    lines: list[OrderLineIn] = Field(min_length=1, max_length=500)
    shipping_fee: Money = Decimal("0.00")
    placed_at: AwareDatetime | None = None
    paid_at: AwareDatetime | None = None
    shipped_at: AwareDatetime | None = None
    signed_at: AwareDatetime | None = None
    cancelled: bool = False
    shipping_insurance: bool = False
    payment_provider: PaymentProvider | None = None
    payment_reference: str = Field(default="", max_length=64)
    shipments: list[ShipmentIn] = Field(default_factory=list, max_length=50)


def order_data(body: OrderIn) -> OrderData:
    """The order services' input for a checked body (its channel is the caller's to find)."""
    customer = body.customer
    return OrderData(
        external_id=body.external_id,
        customer=CustomerData(**customer.model_dump()) if customer else None,
        lines=[OrderLineData(**line.model_dump()) for line in body.lines],
        shipping_fee=body.shipping_fee,
        placed_at=body.placed_at,
        paid_at=body.paid_at,
        shipped_at=body.shipped_at,
        signed_at=body.signed_at,
        cancelled=body.cancelled,
        shipping_insurance=body.shipping_insurance,
        payment_provider=body.payment_provider or "",
        payment_reference=body.payment_reference,
        shipments=[ShipmentData(**s.model_dump()) for s in body.shipments],
    )
