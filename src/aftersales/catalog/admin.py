from django.contrib import admin

from aftersales.catalog.models import Category, Part, Product


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "no_reason_return",
        "perishable",
        "custom_made",
        "digital",
        "shop",
    ]
    list_filter = ["shop", "no_reason_return", "perishable", "custom_made", "digital"]
    search_fields = ["code", "name"]


class PartInline(admin.TabularInline):
    model = Part
    extra = 0
    fields = ["code", "name", "price"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "category", "price", "warranty_months", "active", "shop"]
    list_filter = ["shop", "category", "active"]
    search_fields = ["sku", "name"]
    inlines = [PartInline]

    def save_formset(self, request, form, formset, change):
        # Parts belong to the product's shop; the inline form does not ask for it.
        for part in formset.save(commit=False):
            part.shop_id = form.instance.shop_id
            part.save()
        for obj in formset.deleted_objects:
            obj.delete()
        formset.save_m2m()
