"""Cases are read-only in the admin: every change goes through the case services."""

from django.contrib import admin

from aftersales.cases.models import Case, CaseEvent, CaseLine, Evidence


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return self.fields


class CaseLineInline(ReadOnlyInline):
    model = CaseLine
    fields = ["order_line", "quantity", "grade", "disposition"]


class EvidenceInline(ReadOnlyInline):
    model = Evidence
    fields = ["kind", "content_type", "size", "original_name", "created_at"]


class CaseEventInline(ReadOnlyInline):
    model = CaseEvent
    fields = ["created_at", "actor_label", "kind", "from_status", "to_status", "note", "data"]


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = [
        "reference",
        "type",
        "status",
        "priority",
        "reason",
        "channel",
        "assignee",
        "created_at",
    ]
    list_filter = ["status", "type", "priority", "reason", "shop"]
    search_fields = ["=id", "order__external_id", "return_tracking_number"]
    list_select_related = ["channel", "assignee"]
    inlines = [CaseLineInline, EvidenceInline, CaseEventInline]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CaseEvent)
class CaseEventAdmin(admin.ModelAdmin):
    """The audit log."""

    list_display = ["created_at", "case", "kind", "actor_label", "from_status", "to_status"]
    list_filter = ["kind"]
    search_fields = ["=case__id", "actor_label"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
