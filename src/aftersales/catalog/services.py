"""Writes for the catalog: products are upserted by (shop, SKU)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from aftersales.catalog.models import Category, Product
from aftersales.channels.models import Shop
from aftersales.channels.services import require_shop_perm
from aftersales.core.errors import Invalid
from aftersales.core.money import ZERO, money


@dataclass(frozen=True)
class ProductData:
    sku: str
    name: str
    price: Decimal
    category_code: str | None = None
    warranty_months: int = 12
    active: bool = True


@transaction.atomic
def product_upsert(
    *, actor: AbstractBaseUser | None, shop: Shop, data: ProductData
) -> tuple[Product, bool]:
    require_shop_perm(actor, "catalog.add_product", shop.pk, "shop.not_found")
    require_shop_perm(actor, "catalog.change_product", shop.pk, "shop.not_found")
    errors: dict[str, str] = {}
    if not data.sku.strip():
        errors["sku"] = _("Required.")
    if not data.name.strip():
        errors["name"] = _("Required.")
    if money(data.price) < ZERO:
        errors["price"] = _("Cannot be negative.")
    if not 0 <= data.warranty_months <= 240:
        errors["warranty_months"] = _("Between 0 and 240.")
    category = None
    if data.category_code:
        category = Category.objects.filter(shop=shop, code=data.category_code).first()
        if category is None:
            errors["category"] = _("Unknown category %(code)s.") % {"code": data.category_code}
    if errors:
        raise Invalid("product.invalid", _("The product is not valid."), errors)
    return Product.objects.update_or_create(
        shop=shop,
        sku=data.sku,
        defaults={
            "name": data.name,
            "price": money(data.price),
            "category": category,
            "warranty_months": data.warranty_months,
            "active": data.active,
        },
    )
