from django.contrib import admin

from aftersales.channels.models import Channel, Customer, Order, OrderLine, Shipment, Shop


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "currency", "created_at"]
    search_fields = ["code", "name"]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "code", "shop", "active"]
    list_filter = ["kind", "active", "shop"]
    search_fields = ["code", "name"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "phone", "email", "language", "shop"]
    list_filter = ["language", "shop"]
    search_fields = ["name", "phone", "email"]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    fields = ["sku", "title", "quantity", "unit_price", "discount", "paid_amount"]
    readonly_fields = fields
    can_delete = False


class ShipmentInline(admin.TabularInline):
    model = Shipment
    extra = 0
    fields = ["courier", "tracking_number", "shipped_at"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["external_id", "channel", "status", "total_paid", "paid_at", "shop"]
    list_filter = ["status", "channel__kind", "shop"]
    search_fields = ["=external_id", "customer__phone"]
    list_select_related = ["channel", "shop"]
    raw_id_fields = ["customer"]
    inlines = [OrderLineInline, ShipmentInline]
