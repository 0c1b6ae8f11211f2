"""Business calendars in the admin, with their holidays and 调休 days inline."""

from django.contrib import admin

from aftersales.sla.calendar import default_weekly_hours
from aftersales.sla.models import BusinessCalendar, Holiday


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
