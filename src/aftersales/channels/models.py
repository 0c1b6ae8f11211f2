"""Shops, the channels they sell on, customers, and the orders every case refers to."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _


class Shop(models.Model):
    """A merchant's business unit. Every shop-owned table leads with shop_id (sharding key)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("shop")
        verbose_name_plural = _("shops")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class ChannelKind(models.TextChoices):
    TAOBAO = "taobao", _("Taobao")
    TMALL = "tmall", _("Tmall")
    JD = "jd", _("JD")
    PDD = "pdd", _("Pinduoduo")
    WECHAT = "wechat", _("WeChat shop")
    DOUYIN = "douyin", _("Douyin")
    WEIDIAN = "weidian", _("Weidian")
    WEB = "web", _("Own web shop")
    STORE = "store", _("Physical store")
    PARTNER = "partner", _("Reseller / agent")
    OTHER = "other", _("Other")


class Channel(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="channels")
    kind = models.CharField(_("kind"), max_length=16, choices=ChannelKind.choices)
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=120)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["shop_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "code"], name="channel_shop_code_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class Language(models.TextChoices):
    ZH_HANS = "zh-hans", _("Simplified Chinese")
    EN = "en", _("English")
    VI = "vi", _("Vietnamese")


class RiskLevel(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    BLOCKED = "blocked", _("Blocked")


class Customer(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="customers")
    name = models.CharField(_("name"), max_length=120, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("email"), blank=True)
    wechat_openid = models.CharField(_("WeChat openid"), max_length=64, blank=True)
    language = models.CharField(
        _("language"), max_length=8, choices=Language.choices, default=Language.ZH_HANS
    )
    risk_level = models.CharField(
        _("risk level"), max_length=8, choices=RiskLevel.choices, default=RiskLevel.LOW
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [models.Index(fields=["shop", "phone"], name="customer_shop_phone_idx")]

    def __str__(self) -> str:
        return self.name or self.phone or f"#{self.pk}"


class PaymentProvider(models.TextChoices):
    ALIPAY = "alipay", _("Alipay")
    WECHATPAY = "wechatpay", _("WeChat Pay")
    PLATFORM = "platform", _("The marketplace's own checkout")
    OTHER = "other", _("Other (cash, bank transfer)")


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Awaiting payment")
    PAID = "paid", _("Paid, not shipped")
    SHIPPED = "shipped", _("Shipped")
    SIGNED = "signed", _("Signed for")
    CANCELLED = "cancelled", _("Cancelled")


class Order(models.Model):
    # Every index of the table leads with shop_id already: no index of its own.
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="orders", db_index=False)
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="orders")
    external_id = models.CharField(_("order number"), max_length=64)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    status = models.CharField(_("status"), max_length=16, choices=OrderStatus.choices)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    shipping_fee = models.DecimalField(
        _("shipping fee"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    total_paid = models.DecimalField(
        _("total paid"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    shipping_insurance = models.BooleanField(_("return-shipping insurance"), default=False)
    # How the customer paid: refunds go back the same way (DESIGN §5: original payment).
    payment_provider = models.CharField(
        _("paid through"), max_length=16, choices=PaymentProvider.choices, blank=True
    )
    # The provider's number for the payment (Alipay trade_no, WeChat Pay transaction_id).
    payment_reference = models.CharField(_("payment number"), max_length=64, blank=True)
    placed_at = models.DateTimeField(_("placed at"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "channel", "external_id"], name="order_shop_channel_ext_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "-id"], name="order_shop_id_idx"),
            models.Index(fields=["shop", "external_id"], name="order_shop_ext_idx"),
        ]

    def __str__(self) -> str:
        return self.external_id


class OrderLine(models.Model):
    # The sharding key, copied from the order (which has the constraint): checking it again
    # for every line would double what a bulk import costs the database, and an index of its
    # own would repeat the unique one that leads with it.
    shop = models.ForeignKey(
        Shop, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sku = models.CharField(_("SKU"), max_length=64)
    title = models.CharField(_("title"), max_length=200, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    discount = models.DecimalField(
        _("discount share"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    paid_amount = models.DecimalField(_("paid amount"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "order", "sku"], name="orderline_sku_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} × {self.quantity}"


class Shipment(models.Model):
    """An outbound parcel of an order (the original delivery)."""

    # Copied from the order, like an order line's.
    shop = models.ForeignKey(
        Shop, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    courier = models.CharField(_("courier"), max_length=40)
    tracking_number = models.CharField(_("tracking number"), max_length=64)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    # The courier's latest scan; the policy reads how long a parcel has not moved.
    last_movement_at = models.DateTimeField(_("last courier movement"), null=True, blank=True)

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "order", "tracking_number"], name="shipment_tracking_uniq"
            ),
        ]
        indexes = [models.Index(fields=["shop", "tracking_number"], name="shipment_tracking_idx")]

    def __str__(self) -> str:
        return f"{self.courier} {self.tracking_number}"
