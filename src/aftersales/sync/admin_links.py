"""Channel links and the channel event log in the admin: a link is configuration (secrets
editable, masked in the list, a "pull now" action); events are written by the intake and the
pull only, shown with their outcome, and a failed one can be applied again."""

from __future__ import annotations

import secrets

from django.contrib import admin, messages
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from aftersales.accounts.selectors import shop_ids_for
from aftersales.sync.models import ChannelEvent, ChannelLink, EventStatus
from aftersales.sync.reconcile import pull_now
from aftersales.sync.webhooks import FAILED, event_apply


def masked(secret: str) -> str:
    """Enough of a secret to tell two apart, not enough to use: its last four characters."""
    if not secret:
        return "—"
    return "••••" + secret[-4:] if len(secret) > 8 else "••••"


@admin.register(ChannelLink)
class ChannelLinkAdmin(admin.ModelAdmin):
    list_display = [
        "channel",
        "shop",
        "connector",
        "webhook_secret_masked",
        "app_key",
        "app_secret_masked",
        "pulled_until",
        "next_pull_at",
        "last_error",
        "active",
    ]
    list_filter = [("shop", admin.RelatedOnlyFieldListFilter), "connector", "active"]
    list_select_related = ["shop", "channel"]
    search_fields = ["channel__code", "channel__name", "app_key"]
    # The shop is the channel's: set on save, never chosen apart from it.
    fields = [
        "channel",
        "webhook_secret",
        "connector",
        "base_url",
        "app_key",
        "app_secret",
        "pull_every_seconds",
        "active",
        "pulled_until",
        "next_pull_at",
        "last_error",
    ]
    readonly_fields = ["pulled_until", "next_pull_at", "last_error"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ["pull_now_action"]

    @admin.display(description=gettext_lazy("webhook secret"))
    def get_queryset(self, request):
        # An admin of one shop sees that shop's links only.
        return super().get_queryset(request).filter(shop_id__in=shop_ids_for(request.user))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in ("channel", "shop"):
            shops = shop_ids_for(request.user)
            model = db_field.related_model
            field = "shop_id__in" if db_field.name == "channel" else "id__in"
            kwargs["queryset"] = model.objects.filter(**{field: shops})
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def webhook_secret_masked(self, link: ChannelLink) -> str:
        return masked(link.webhook_secret)

    @admin.display(description=gettext_lazy("app secret"))
    def app_secret_masked(self, link: ChannelLink) -> str:
        return masked(link.app_secret)

    def save_model(self, request, obj: ChannelLink, form, change) -> None:
        obj.shop_id = obj.channel.shop_id
        super().save_model(request, obj, form, change)

    def get_changeform_initial_data(self, request):
        return {
            "webhook_secret": secrets.token_hex(32),
            **super().get_changeform_initial_data(request),
        }

    @admin.action(description=gettext_lazy("Pull now"), permissions=["change"])
    def pull_now_action(self, request, queryset):
        now = timezone.now()
        for link in queryset.select_related("channel", "channel__shop").order_by("pk"):
            if not link.connector:
                self.message_user(
                    request,
                    _("%(channel)s has no connector: nothing to pull.") % {"channel": link},
                    messages.WARNING,
                )
                continue
            report = pull_now(link, now)
            self.message_user(
                request,
                report.describe(),
                messages.ERROR if report.error else messages.SUCCESS,
            )


@admin.register(ChannelEvent)
class ChannelEventAdmin(admin.ModelAdmin):
    list_display = [
        "event_id",
        "kind",
        "status",
        "source",
        "channel",
        "occurred_at",
        "received_at",
        "case",
        "order",
        "error",
    ]
    list_filter = [("channel", admin.RelatedOnlyFieldListFilter), "kind", "status", "source"]
    list_select_related = ["channel", "case", "order"]
    search_fields = ["event_id"]
    date_hierarchy = "received_at"
    actions = ["apply_again"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(shop_id__in=shop_ids_for(request.user))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_apply_permission(self, request):
        # The log is read-only; applying a failed event again is the one thing to do with it.
        return request.user.has_perm("sync.change_channelevent")

    @admin.action(description=gettext_lazy("Apply failed events again"), permissions=["apply"])
    def apply_again(self, request, queryset):
        applied = failed = 0
        for event in queryset.filter(status=EventStatus.FAILED).select_related("channel"):
            result = event_apply(
                channel=event.channel,
                event_id=event.event_id,
                kind=event.kind,
                occurred_at=event.occurred_at,
                payload=event.payload,
                source=event.source,
            )
            failed += result.status == FAILED
            applied += result.status != FAILED
        self.message_user(
            request,
            ngettext(
                "%(applied)d event applied, %(failed)d still failing.",
                "%(applied)d events applied, %(failed)d still failing.",
                applied,
            )
            % {"applied": applied, "failed": failed},
            messages.SUCCESS if not failed else messages.WARNING,
        )
