from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftersales.accounts.models import ApiToken, Membership, Shift, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["shop", "team", "max_open_cases", "last_assigned_at"]
    readonly_fields = ["last_assigned_at"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "shop", "is_default"]
    list_filter = ["shop", "is_default"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "shop", "team", "max_open_cases", "last_assigned_at"]
    list_filter = ["shop", "team"]
    search_fields = ["user__username"]
    readonly_fields = ["assignment_turn", "last_assigned_at"]


@admin.register(Shift)
class ShiftAdmin(admin.ModelAdmin):
    list_display = ["user", "shop", "team", "starts_at", "ends_at"]
    list_filter = ["shop", "team"]
    search_fields = ["user__username"]
    date_hierarchy = "starts_at"


admin.site.unregister(User)


@admin.register(User)
class AftersalesUserAdmin(UserAdmin):
    """Unticking "active" deactivates the person through the service, which returns their
    open cases to the queue; saving the form alone would leave those cases with nobody."""

    inlines = [MembershipInline]

    def save_model(self, request, obj, form, change):
        deactivating = change and "is_active" in form.changed_data and not obj.is_active
        if deactivating:
            obj.is_active = True  # the service flips it, under its lock, with the sweep
        super().save_model(request, obj, form, change)
        if deactivating:
            from aftersales.cases.assignment import agent_deactivate

            result = agent_deactivate(user=obj, actor=request.user, now=timezone.now())
            self.message_user(
                request,
                _("%(user)s is deactivated; %(count)s open cases went back to the queue.")
                % {"user": obj.get_username(), "count": len(result.returned)},
            )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created with `aftersales token`; here they can be seen and revoked."""

    list_display = ["key_prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["key_prefix", "user", "name", "created_at", "last_used_at"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        from aftersales.accounts.services import token_revoke

        for token in queryset:
            token_revoke(token=token)
