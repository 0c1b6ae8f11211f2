"""Notifications in the admin: templates to edit, the outbox to watch (and retry), the shops'
webhook endpoints and SMS / WeChat accounts, and broadcasts with their progress."""

import secrets

from django.contrib import admin, messages
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from aftersales.notify.models import (
    Broadcast,
    MessageTemplate,
    Outbox,
    SmsAccount,
    WebhookEndpoint,
    WeChatAccount,
)
from aftersales.notify.services import outbox_retry


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ["event", "channel", "language", "shop", "subject", "updated_at"]
    list_filter = ["event", "channel", "language", "shop"]
    search_fields = ["subject", "body"]
    fields = ["shop", "event", "channel", "language", "subject", "body"]


class _Account(admin.ModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Outbox)
class OutboxAdmin(_ReadOnly):
    list_display = [
        "id",
        "event",
        "channel",
        "recipient",
        "state",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "shop",
    ]
    list_filter = ["state", "channel", "event", "shop"]
    search_fields = ["recipient", "delivery_id", "event_key"]
    list_select_related = ["shop"]
    actions = ["retry_now"]

    def has_retry_permission(self, request):
        # The outbox is read-only; re-sending is what changing a message means here.
        return request.user.has_perm("notify.change_outbox")

    @admin.action(description=_("Retry now"), permissions=["retry"])
    def retry_now(self, request, queryset):
        count = outbox_retry(
            outbox_ids=list(queryset.values_list("pk", flat=True)), now=timezone.now()
        )
        self.message_user(
            request,
            ngettext(
                "%(count)d message will be sent again.",
                "%(count)d messages will be sent again.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_Account):
    list_display = ["url", "shop", "active", "created_at"]
    list_filter = ["shop", "active"]
    fields = ["shop", "url", "events", "secret", "active"]

    def get_changeform_initial_data(self, request):
        return {
            "events": ["*"],
            "secret": secrets.token_hex(32),
            **super().get_changeform_initial_data(request),
        }


@admin.register(SmsAccount)
class SmsAccountAdmin(_Account):
    list_display = ["shop", "sign_name", "access_key_id", "active"]
    list_filter = ["active"]


@admin.register(WeChatAccount)
class WeChatAccountAdmin(_Account):
    list_display = ["shop", "app_id", "active", "token_expires_at"]
    list_filter = ["active"]
    readonly_fields = ["token_expires_at"]


@admin.register(Broadcast)
class BroadcastAdmin(_ReadOnly):
    """Created through the API (broadcast_create validates and starts them); watched here."""

    list_display = [
        "name",
        "shop",
        "channel",
        "state",
        "total",
        "queued",
        "sent",
        "failed",
        "created_by",
        "created_at",
    ]
    list_filter = ["state", "channel", "shop"]
    list_select_related = ["shop", "created_by"]
