"""Notifications: message templates, the transactional outbox, the shops' sending accounts
(webhook endpoints, SMS and WeChat) and broadcasts to many customers at once."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.template import TemplateSyntaxError
from django.utils.translation import gettext_lazy as _

from aftersales.channels.models import Language


class NotifyChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat template message")
    WEBHOOK = "webhook", _("Webhook")


# The channels that reach a customer (webhooks reach the merchant's own systems).
CUSTOMER_CHANNELS = (NotifyChannel.EMAIL, NotifyChannel.SMS, NotifyChannel.WECHAT)


class NotifyEvent(models.TextChoices):
    """Case events a customer hears about; each has templates per channel and language."""

    CREATED = "created", _("Case filed")
    APPROVE = "approve", _("Case approved")
    REJECT = "reject", _("Case rejected")
    REQUEST_INFO = "request_info", _("Information requested")
    RECEIVE = "receive", _("Return received")
    REFUND = "refund", _("Refund decided")
    SHIP = "ship", _("Item shipped to the customer")
    COMPLETE = "complete", _("Case completed")
    CANCEL = "cancel", _("Case cancelled")
    CLOSE = "close", _("Case closed")
    COMMENT = "comment", _("Reply to the customer")


BROADCAST_EVENT = "broadcast"


def template_syntax_errors(text: str) -> str | None:
    """The Django template syntax error in `text`, or None when it compiles."""
    from aftersales.notify.rendering import ENGINE  # the one engine every template runs on

    try:
        ENGINE.from_string(text)
    except TemplateSyntaxError as exc:
        return str(exc)
    return None


class MessageTemplate(models.Model):
    """What a customer reads for one event on one channel in one language. Rows without a
    shop are the shipped defaults; a shop's own row overrides the default."""

    shop = models.ForeignKey(
        "channels.Shop", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    event = models.CharField(_("event"), max_length=24, choices=NotifyEvent.choices)
    channel = models.CharField(
        _("channel"),
        max_length=8,
        choices=[(c.value, c.label) for c in CUSTOMER_CHANNELS],
    )
    language = models.CharField(_("language"), max_length=8, choices=Language.choices)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("body"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["event", "channel", "language", "shop_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "event", "channel", "language"], name="msgtemplate_shop_uniq"
            ),
            models.UniqueConstraint(
                fields=["event", "channel", "language"],
                condition=Q(shop__isnull=True),
                name="msgtemplate_default_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} / {self.channel} / {self.language}"

    def clean(self) -> None:
        errors = {}
        for name in ("subject", "body"):
            problem = template_syntax_errors(getattr(self, name))
            if problem:
                errors[name] = problem
        if self.channel in (NotifyChannel.EMAIL, NotifyChannel.WECHAT) and not self.subject:
            errors["subject"] = _("Email and WeChat messages need a subject.")
        if errors:
            raise ValidationError(errors)


class OutboxState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DEAD = "dead", _("Dead (gave up)")


class Outbox(models.Model):
    """One message to one recipient, written in the transaction that caused it and delivered
    by the worker. `delivery_id` never changes, so a receiver can drop a repeat."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    # What caused it ("case_event:42", "broadcast:7"); with channel and recipient it is the
    # de-duplication key: one message per (cause, channel, recipient), ever.
    event_key = models.CharField(_("cause"), max_length=64)
    dedupe_key = models.CharField(_("de-duplication key"), max_length=64)
    event = models.CharField(_("event"), max_length=32)
    channel = models.CharField(_("channel"), max_length=8, choices=NotifyChannel.choices)
    recipient = models.CharField(_("recipient"), max_length=500)
    language = models.CharField(_("language"), max_length=8, blank=True)
    case = models.ForeignKey(
        "cases.Case", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    broadcast = models.ForeignKey(
        "notify.Broadcast",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="outbox_rows",
    )
    webhook_endpoint = models.ForeignKey(
        "notify.WebhookEndpoint",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("body"), blank=True)
    # Channel-specific: the webhook's JSON, the SMS template code and parameters, the WeChat
    # template id and data.
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    state = models.CharField(
        _("state"), max_length=8, choices=OutboxState.choices, default=OutboxState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # When to try next. While a worker holds the row (sending) it equals lease_until, so one
    # index finds both the due rows and the rows of a worker that died.
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    lease_until = models.DateTimeField(_("leased until"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    delivery_id = models.UUIDField(_("delivery id"), default=uuid.uuid4, unique=True)
    created_at = models.DateTimeField(_("created at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "dedupe_key"], name="outbox_dedupe_uniq"),
        ]
        indexes = [
            # The sweeper, across shops: due rows in time order.
            models.Index(fields=["state", "next_attempt_at"], name="outbox_due_idx"),
            models.Index(fields=["shop", "-id"], name="outbox_shop_id_idx"),
            models.Index(fields=["shop", "case"], name="outbox_shop_case_idx"),
            models.Index(fields=["shop", "broadcast", "state"], name="outbox_shop_broadcast_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.channel}:{self.recipient} ({self.state})"


class WebhookEndpoint(models.Model):
    """A URL of the merchant's systems that receives signed case events."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    url = models.URLField(_("URL"), max_length=500)
    # Blank: a random one is made on save (no callable default: migrations import no app code).
    secret = models.CharField(_("signing secret"), max_length=128, blank=True)
    # Event kinds to send ("approve", "comment", …); ["*"] sends every event.
    events = models.JSONField(_("events"), default=list)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["shop_id", "id"]
        indexes = [models.Index(fields=["shop", "active"], name="webhook_shop_active_idx")]

    def __str__(self) -> str:
        return self.url

    def save(self, *args, **kwargs):
        if not self.secret:
            self.secret = secrets.token_hex(32)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if not isinstance(self.events, list) or not all(
            isinstance(e, str) and e for e in self.events
        ):
            raise ValidationError({"events": _('A list of event names, or ["*"] for all.')})

    def wants(self, event: str) -> bool:
        return "*" in self.events or event in self.events


class SmsAccount(models.Model):
    """A shop's Alibaba Cloud SMS (Dysmsapi) account. Texts are registered there as templates;
    we send the template code of the event and its parameters."""

    shop = models.OneToOneField("channels.Shop", on_delete=models.PROTECT, related_name="+")
    base_url = models.URLField(_("API base URL"), default="https://dysmsapi.aliyuncs.com/")
    access_key_id = models.CharField(_("AccessKey ID"), max_length=64)
    access_key_secret = models.CharField(_("AccessKey secret"), max_length=128)
    sign_name = models.CharField(_("sign name"), max_length=64)
    # {"approve": "SMS_1234"}; "approve:en" overrides it for one language.
    template_codes = models.JSONField(_("template codes per event"), default=dict, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("SMS account")
        verbose_name_plural = _("SMS accounts")

    def __str__(self) -> str:
        return f"{self.sign_name} ({self.access_key_id})"

    def template_code(self, event: str, language: str) -> str:
        codes = self.template_codes if isinstance(self.template_codes, dict) else {}
        return str(codes.get(f"{event}:{language}") or codes.get(event) or "")


class WeChatAccount(models.Model):
    """A shop's WeChat Official Account, which sends template messages to followers."""

    shop = models.OneToOneField("channels.Shop", on_delete=models.PROTECT, related_name="+")
    base_url = models.URLField(_("API base URL"), default="https://api.weixin.qq.com")
    app_id = models.CharField(_("AppID"), max_length=64)
    app_secret = models.CharField(_("AppSecret"), max_length=128)
    # {"approve": "<template id>"}; "approve:en" overrides it for one language.
    template_ids = models.JSONField(_("template ids per event"), default=dict, blank=True)
    # The page the message opens; "{case}" is replaced by the case number.
    link_url = models.CharField(_("link"), max_length=500, blank=True)
    active = models.BooleanField(_("active"), default=True)
    # The cached access token (valid two hours), shared by every worker.
    access_token = models.CharField(max_length=512, blank=True, editable=False)
    token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("WeChat account")
        verbose_name_plural = _("WeChat accounts")

    def __str__(self) -> str:
        return self.app_id

    def template_id(self, event: str, language: str) -> str:
        ids = self.template_ids if isinstance(self.template_ids, dict) else {}
        return str(ids.get(f"{event}:{language}") or ids.get(event) or "")


class BroadcastState(models.TextChoices):
    PENDING = "pending", _("Waiting to start")
    RUNNING = "running", _("Writing messages")
    QUEUED = "queued", _("All messages queued")
    DONE = "done", _("Done")


class Broadcast(models.Model):
    """One message to every customer of a shop who matches the audience filter."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=200)
    # {"sku": "X", "channel_id": 3, "open_case_reason": "quality_defect"}, AND-ed.
    audience = models.JSONField(_("audience"))
    channel = models.CharField(
        _("channel"),
        max_length=8,
        choices=[(c.value, c.label) for c in CUSTOMER_CHANNELS],
    )
    # {"zh-hans": {"subject": …, "body": …}, "en": {…}}: the customer's language picks one.
    messages = models.JSONField(_("message per language"))
    state = models.CharField(
        _("state"), max_length=8, choices=BroadcastState.choices, default=BroadcastState.PENDING
    )
    total = models.PositiveIntegerField(_("recipients"), default=0)
    queued = models.PositiveIntegerField(_("queued"), default=0)
    sent = models.PositiveIntegerField(_("sent"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    # Fan-out progress: customers up to this id have their message in the outbox.
    cursor = models.BigIntegerField(default=0, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("broadcast")
        verbose_name_plural = _("broadcasts")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["shop", "-id"], name="broadcast_shop_id_idx"),
            models.Index(fields=["state"], name="broadcast_state_idx"),
        ]

    def __str__(self) -> str:
        return self.name
