"""The ledger in the admin: read-only; entries are posted and reversed by the services."""

from django.contrib import admin

from aftersales.ledger.models import Account, JournalEntry, JournalLine


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
