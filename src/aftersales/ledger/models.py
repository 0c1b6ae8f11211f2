"""The double-entry ledger: a chart of accounts per shop, and journal entries whose lines
always balance. Entries are never edited nor deleted; a mistake is reversed by another."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AccountKind(models.TextChoices):
    ASSET = "asset", _("Asset")
    LIABILITY = "liability", _("Liability")
    REVENUE = "revenue", _("Revenue")
    EXPENSE = "expense", _("Expense")
    CONTRA_REVENUE = "contra_revenue", _("Contra revenue")


class Account(models.Model):
    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=16, choices=AccountKind.choices)

    class Meta:
        verbose_name = _("ledger account")
        verbose_name_plural = _("ledger accounts")
        ordering = ["shop_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "code"], name="account_shop_code_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Immutable(models.Model):
    """Rows written once: saving an existing row or deleting one is refused."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise RuntimeError(f"{type(self).__name__} rows are never edited; reverse instead")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__} rows are never deleted; reverse instead")


class JournalEntry(Immutable):
    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    posted_at = models.DateTimeField(_("posted at"))
    memo = models.CharField(_("memo"), max_length=200)
    case = models.ForeignKey(
        "cases.Case", on_delete=models.PROTECT, null=True, blank=True, related_name="journal"
    )
    order = models.ForeignKey(
        "channels.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # A caller's key for the business event behind the entry: posting it twice posts once.
    key = models.CharField(_("idempotency key"), max_length=120, blank=True)
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    actor_label = models.CharField(_("by"), max_length=150)

    class Meta:
        verbose_name = _("journal entry")
        verbose_name_plural = _("journal entries")
        ordering = ["shop_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "key"], condition=~Q(key=""), name="journal_shop_key_uniq"
            )
        ]
        indexes = [
            models.Index(fields=["shop", "posted_at"], name="journal_shop_posted_idx"),
            models.Index(fields=["shop", "case"], name="journal_shop_case_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.memo}"


class JournalLine(Immutable):
    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lines")
    debit = models.DecimalField(_("debit"), max_digits=14, decimal_places=2, default=0)
    credit = models.DecimalField(_("credit"), max_digits=14, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("journal line")
        verbose_name_plural = _("journal lines")
        ordering = ["entry_id", "id"]
        indexes = [models.Index(fields=["shop", "account"], name="journalline_shop_acct_idx")]
        constraints = [
            # One side only, never negative.
            models.CheckConstraint(
                condition=Q(debit__gt=0, credit=0) | Q(debit=0, credit__gt=0),
                name="journalline_one_side_positive",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} Dr {self.debit} Cr {self.credit}"
