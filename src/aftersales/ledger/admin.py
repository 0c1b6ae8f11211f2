"""The ledger in the admin: read-only; entries are posted and reversed by the services."""

from django.contrib import admin

from aftersales.ledger.models import (
    Account,
    Compensation,
    CompensationBudget,
    CustomerCredit,
    JournalEntry,
    JournalLine,
    PaymentAccount,
    Refund,
)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnly):
    list_display = ["code", "name", "kind", "shop"]
    list_filter = ["shop", "kind"]


class JournalLineInline(admin.TabularInline):
    model = JournalLine
    fields = ["account", "debit", "credit"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnly):
    list_display = ["id", "posted_at", "memo", "case", "order", "reverses", "actor_label", "shop"]
    list_filter = ["shop"]
    list_select_related = ["case", "order", "reverses"]
    raw_id_fields = ["case", "order", "reverses"]
    inlines = [JournalLineInline]


@admin.register(PaymentAccount)
class PaymentAccountAdmin(admin.ModelAdmin):
    list_display = ["name", "provider", "merchant_id", "active", "shop"]
    list_filter = ["shop", "provider", "active"]


@admin.register(Refund)
class RefundAdmin(ReadOnly):
    list_display = ["key", "case", "provider", "status", "amount", "attempts", "confirmed_at"]
    list_filter = ["shop", "provider", "status"]
    search_fields = ["key", "provider_reference"]
    raw_id_fields = ["case", "order", "entry", "account"]


@admin.register(CustomerCredit)
class CustomerCreditAdmin(ReadOnly):
    list_display = ["id", "kind", "amount", "customer", "case", "reason", "created_at"]
    list_filter = ["shop", "kind"]
    raw_id_fields = ["customer", "case", "order", "entry"]


@admin.register(Compensation)
class CompensationAdmin(ReadOnly):
    list_display = ["id", "case", "agent", "amount", "kind", "status", "month", "decided_by"]
    list_filter = ["shop", "status", "kind"]
    raw_id_fields = ["case", "credit"]


@admin.register(CompensationBudget)
class CompensationBudgetAdmin(admin.ModelAdmin):
    list_display = ["shop", "agent", "monthly"]
    list_filter = ["shop"]
