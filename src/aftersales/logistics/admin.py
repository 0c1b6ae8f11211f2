"""Logistics in the admin: warehouses and courier feeds are configuration; parcels, courier
events, intercepts, stock and supplier claims are written by the services and only shown."""

from django.contrib import admin

from aftersales.logistics.models import (
    CourierEvent,
    CourierFeed,
    Intercept,
    Parcel,
    StockLevel,
    StockMovement,
    SupplierClaim,
    Warehouse,
)


class ReadOnly(admin.ModelAdmin):
    """Rows that carry money or the audit trail change only through the services."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "contact_name", "phone", "address", "is_default", "active"]
    list_filter = ["shop", "is_default", "active"]
    search_fields = ["code", "name", "address"]


@admin.register(CourierFeed)
class CourierFeedAdmin(admin.ModelAdmin):
    # The secret is editable (rotate it here) but not listed.
    list_display = ["code", "name", "shop", "active"]
    list_filter = ["shop", "active"]
    search_fields = ["code", "name"]
    fields = ["shop", "code", "name", "secret", "active"]


@admin.register(Parcel)
class ParcelAdmin(ReadOnly):
    list_display = [
        "id",
        "case",
        "kind",
        "status",
        "courier",
        "tracking_number",
        "postage_paid_by",
        "first_scan_at",
        "delivered_at",
        "shop",
    ]
    list_filter = ["shop", "kind", "status", "postage_paid_by"]
    search_fields = ["=tracking_number"]
    list_select_related = ["case", "shop"]


@admin.register(CourierEvent)
class CourierEventAdmin(ReadOnly):
    list_display = [
        "occurred_at",
        "feed",
        "courier",
        "tracking_number",
        "status",
        "location",
        "applied",
        "received_at",
    ]
    list_filter = ["shop", "feed", "status"]
    search_fields = ["=tracking_number", "=event_id"]
    list_select_related = ["feed"]


@admin.register(Intercept)
class InterceptAdmin(ReadOnly):
    list_display = ["id", "case", "shipment", "status", "fee", "requested_at", "resolved_at"]
    list_filter = ["shop", "status"]
    list_select_related = ["case", "shipment"]


@admin.register(StockLevel)
class StockLevelAdmin(ReadOnly):
    list_display = ["sku", "sellable", "refurbish", "scrap", "supplier", "shop"]
    list_filter = ["shop"]
    search_fields = ["=sku"]


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnly):
    list_display = ["created_at", "sku", "bucket", "quantity", "reason", "case", "shop"]
    list_filter = ["shop", "bucket", "reason"]
    search_fields = ["=sku"]
    list_select_related = ["case", "shop"]


@admin.register(SupplierClaim)
class SupplierClaimAdmin(ReadOnly):
    list_display = ["id", "supplier", "amount", "status", "case", "opened_at", "settled_at"]
    list_filter = ["shop", "status"]
    search_fields = ["supplier"]
    list_select_related = ["case"]
