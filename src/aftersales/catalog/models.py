"""Products, their categories (with the flags the policy reads) and parts price lists."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Category(models.Model):
    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="categories")
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=120)
    no_reason_return = models.BooleanField(_("7-day no-reason return"), default=True)
    perishable = models.BooleanField(_("perishable"), default=False)
    custom_made = models.BooleanField(_("custom-made"), default=False)
    digital = models.BooleanField(_("digital goods"), default=False)

    class Meta:
        verbose_name = _("product category")
        verbose_name_plural = _("product categories")
        ordering = ["shop_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "code"], name="category_shop_code_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="products")
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, null=True, blank=True, related_name="products"
    )
    sku = models.CharField(_("SKU"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2)
    warranty_months = models.PositiveSmallIntegerField(_("warranty (months)"), default=12)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["shop_id", "sku"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "sku"], name="product_shop_sku_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class Part(models.Model):
    """One entry of a product's parts price list (used for reissued parts and repair quotes)."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="parts")
    code = models.CharField(_("part code"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("part")
        verbose_name_plural = _("parts")
        ordering = ["product_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "product", "code"], name="part_code_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
