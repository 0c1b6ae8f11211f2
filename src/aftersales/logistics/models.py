"""Goods on the move and in the warehouse: return addresses, the parcels of a case (returns,
replacements, reissues, factory legs), courier events, intercepts, stock movements from
inspection, and what suppliers owe us back."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Warehouse(models.Model):
    """Where returns go: its address is shown to the customer when a return is approved."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=120)
    contact_name = models.CharField(_("recipient"), max_length=80)
    phone = models.CharField(_("phone"), max_length=32)
    address = models.CharField(_("address"), max_length=300)
    is_default = models.BooleanField(_("default return address"), default=False)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("warehouse")
        verbose_name_plural = _("warehouses")
        ordering = ["shop_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "code"], name="warehouse_shop_code_uniq"),
            models.UniqueConstraint(
                fields=["shop"], condition=Q(is_default=True), name="warehouse_one_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.address}"

    @property
    def return_address(self) -> str:
        return f"{self.contact_name} {self.phone} {self.address}"


class ParcelKind(models.TextChoices):
    RETURN = "return", _("Return from the customer")
    REPLACEMENT = "replacement", _("Replacement")
    REISSUE = "reissue", _("Reissue")
    PART_REISSUE = "part_reissue", _("Reissued part")
    REPAIRED = "repaired", _("Repaired item")
    TO_FACTORY = "to_factory", _("To the factory")
    FROM_FACTORY = "from_factory", _("Back from the factory")


OUTBOUND_KINDS = frozenset(
    {ParcelKind.REPLACEMENT, ParcelKind.REISSUE, ParcelKind.PART_REISSUE, ParcelKind.REPAIRED}
)


class ParcelStatus(models.TextChoices):
    EXPECTED = "expected", _("Expected")
    IN_TRANSIT = "in_transit", _("In transit")
    DELIVERED = "delivered", _("Delivered")
    EXCEPTION = "exception", _("Exception")
    RETURNED = "returned", _("Returned to sender")


class Parcel(models.Model):
    """One parcel of a case, in either direction, with its tracking and courier progress."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="parcels")
    kind = models.CharField(_("kind"), max_length=16, choices=ParcelKind.choices)
    status = models.CharField(_("status"), max_length=16, choices=ParcelStatus.choices)
    courier = models.CharField(_("courier"), max_length=40, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True)
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The address as shown when it was sent or asked for (a warehouse may move later).
    address = models.CharField(_("to"), max_length=400, blank=True)
    factory = models.CharField(_("factory"), max_length=120, blank=True)
    parts = models.JSONField(_("parts"), default=list, blank=True)
    # Return postage the customer paid, and who bears it in the end.
    postage = models.DecimalField(
        _("postage"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    postage_paid_by = models.CharField(_("postage borne by"), max_length=16, blank=True)
    first_scan_at = models.DateTimeField(_("first scan"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    last_event_at = models.DateTimeField(_("last courier event"), null=True, blank=True)
    last_event = models.CharField(_("last courier status"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("parcel")
        verbose_name_plural = _("parcels")
        ordering = ["shop_id", "id"]
        indexes = [
            models.Index(fields=["shop", "tracking_number"], name="parcel_shop_tracking_idx"),
            models.Index(fields=["shop", "case"], name="parcel_shop_case_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.courier} {self.tracking_number}"


class CourierFeed(models.Model):
    """A source of courier events (a tracking aggregator, a courier's push) that signs what it
    sends with its own secret."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    secret = models.CharField(_("signing secret"), max_length=128)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("courier feed")
        verbose_name_plural = _("courier feeds")

    def __str__(self) -> str:
        return self.name


class CourierStatus(models.TextChoices):
    PICKED_UP = "picked_up", _("Picked up")
    IN_TRANSIT = "in_transit", _("In transit")
    OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
    DELIVERED = "delivered", _("Delivered")
    EXCEPTION = "exception", _("Exception")
    INTERCEPTED = "intercepted", _("Intercepted")
    RETURNED_TO_SENDER = "returned_to_sender", _("Returned to sender")


class CourierEvent(models.Model):
    """One courier scan as received: stored once per event id (a resend changes nothing)."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    feed = models.ForeignKey(CourierFeed, on_delete=models.PROTECT, related_name="events")
    event_id = models.CharField(_("event id"), max_length=100)
    courier = models.CharField(_("courier"), max_length=40)
    tracking_number = models.CharField(_("tracking number"), max_length=64)
    status = models.CharField(_("status"), max_length=20, choices=CourierStatus.choices)
    occurred_at = models.DateTimeField(_("occurred at"))
    location = models.CharField(_("location"), max_length=200, blank=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    received_at = models.DateTimeField(_("received at"))
    # What it changed: "parcel:12 delivered; case AS…: received", or "" when nothing matched.
    applied = models.CharField(_("applied"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("courier event")
        verbose_name_plural = _("courier events")
        ordering = ["shop_id", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "feed", "event_id"], name="courierevent_uniq")
        ]
        indexes = [
            models.Index(fields=["shop", "tracking_number"], name="courierevent_tracking_idx")
        ]

    def __str__(self) -> str:
        return f"{self.tracking_number} {self.status}"


class InterceptStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    SUCCEEDED = "succeeded", _("Stopped and returning")
    FAILED = "failed", _("Could not be stopped")


class Intercept(models.Model):
    """A request to stop an outbound parcel still in transit (拦截), and how it ended."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="intercepts")
    shipment = models.ForeignKey(
        "channels.Shipment", on_delete=models.PROTECT, related_name="intercepts"
    )
    status = models.CharField(_("status"), max_length=12, choices=InterceptStatus.choices)
    fee = models.DecimalField(_("intercept fee"), max_digits=12, decimal_places=2, default=0)
    requested_at = models.DateTimeField(_("requested at"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("intercept")
        verbose_name_plural = _("intercepts")
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "shipment"],
                condition=Q(status="requested"),
                name="intercept_one_open_per_parcel",
            )
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id} {self.status}"


class StockBucket(models.TextChoices):
    SELLABLE = "sellable", _("Sellable")
    REFURBISH = "refurbish", _("To refurbish")
    SCRAP = "scrap", _("Scrapped")
    SUPPLIER = "supplier", _("To return to the supplier")


class StockLevel(models.Model):
    """Per SKU, what after-sales has put into or taken out of each bucket."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(_("SKU"), max_length=64)
    sellable = models.IntegerField(_("sellable"), default=0)
    refurbish = models.IntegerField(_("to refurbish"), default=0)
    scrap = models.IntegerField(_("scrapped"), default=0)
    supplier = models.IntegerField(_("to the supplier"), default=0)

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        ordering = ["shop_id", "sku"]
        constraints = [models.UniqueConstraint(fields=["shop", "sku"], name="stock_shop_sku_uniq")]

    def __str__(self) -> str:
        return self.sku


class StockMovement(models.Model):
    """One change of a stock bucket, with the case and the reason: the stock's audit trail."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(_("SKU"), max_length=64)
    bucket = models.CharField(_("bucket"), max_length=12, choices=StockBucket.choices)
    quantity = models.IntegerField(_("quantity"))
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=40)
    created_at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        ordering = ["shop_id", "id"]
        indexes = [models.Index(fields=["shop", "sku"], name="stockmove_shop_sku_idx")]

    def __str__(self) -> str:
        return f"{self.sku} {self.bucket} {self.quantity:+d}"


class ClaimStatus(models.TextChoices):
    OPEN = "open", _("Open")
    SETTLED = "settled", _("Settled")
    REJECTED = "rejected", _("Rejected by the supplier")


class SupplierClaim(models.Model):
    """A warranty claim on the supplier or factory for a defect: what they owe us back."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="supplier_claims")
    supplier = models.CharField(_("supplier"), max_length=120)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=300)
    status = models.CharField(_("status"), max_length=12, choices=ClaimStatus.choices)
    opened_at = models.DateTimeField(_("opened at"))
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    entry = models.OneToOneField("ledger.JournalEntry", on_delete=models.PROTECT, related_name="+")
    settle_entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("supplier claim")
        verbose_name_plural = _("supplier claims")
        ordering = ["shop_id", "-id"]

    def __str__(self) -> str:
        return f"{self.supplier} {self.amount} {self.status}"
