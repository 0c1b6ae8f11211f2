"""Business calendars in the admin, with their holidays and 调休 days inline."""

from django.contrib import admin

from aftersales.sla.calendar import default_weekly_hours
from aftersales.sla.models import (
    BusinessCalendar,
    ClockSetting,
    Holiday,
    LateShipment,
    SlaTarget,
    Timer,
)


class HolidayInline(admin.TabularInline):
    model = Holiday
    fields = ["date", "name", "kind", "spans"]
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "shop", "time_zone", "is_default", "updated_at"]
    list_filter = ["shop", "is_default"]
    inlines = [HolidayInline]

    def get_changeform_initial_data(self, request):
        return {
            "weekly_hours": default_weekly_hours(),
            **super().get_changeform_initial_data(request),
        }

    def save_formset(self, request, form, formset, change):
        for holiday in formset.save(commit=False):
            holiday.shop_id = form.instance.shop_id
            holiday.save()
        for holiday in formset.deleted_objects:
            holiday.delete()
        formset.save_m2m()


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ["date", "name", "kind", "calendar", "shop"]
    list_filter = ["shop", "kind"]
    date_hierarchy = "date"


@admin.register(SlaTarget)
class SlaTargetAdmin(admin.ModelAdmin):
    list_display = [
        "shop",
        "case_type",
        "priority",
        "first_response_minutes",
        "next_response_minutes",
        "resolution_minutes",
        "warn_percent",
    ]
    list_filter = ["shop", "case_type"]


@admin.register(ClockSetting)
class ClockSettingAdmin(admin.ModelAdmin):
    list_display = ["shop", "channel", "kind", "hours"]
    list_filter = ["shop", "kind"]


@admin.register(Timer)
class TimerAdmin(admin.ModelAdmin):
    """Read-only: timers are written by the clocks and the sweeper, never by hand."""

    list_display = ["kind", "subject", "case", "order", "due_at", "state", "fired_at", "shop"]
    list_filter = ["shop", "kind", "state"]
    search_fields = ["case__id", "order__external_id"]
    list_select_related = ["case", "order"]
    raw_id_fields = ["case", "order"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LateShipment)
class LateShipmentAdmin(admin.ModelAdmin):
    list_display = ["order", "due_at", "detected_at", "compensation", "shop"]
    list_filter = ["shop"]
    list_select_related = ["order"]
    raw_id_fields = ["order"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
