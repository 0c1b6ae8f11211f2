"""What comes in from the channels: file imports with their per-row problems, each channel's
link (webhook secret, reconciliation connector, pull cursor) and the idempotent log of every
event a channel sent or a pull found."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ImportKind(models.TextChoices):
    ORDERS = "orders", _("Orders")
    CASES = "cases", _("After-sales requests")


class ImportStatus(models.TextChoices):
    QUEUED = "queued", pgettext_lazy("import status", "Queued")
    RUNNING = "running", pgettext_lazy("import status", "Running")
    DONE = "done", pgettext_lazy("import status", "Done")
    FAILED = "failed", pgettext_lazy("import status", "Failed")


class ImportRun(models.Model):
    """One file imported into one channel: its counts, and its problems row by row."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    channel = models.ForeignKey("channels.Channel", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=8, choices=ImportKind.choices)
    preset = models.CharField(_("column preset"), max_length=16)
    filename = models.CharField(_("file name"), max_length=200)
    # An upload waiting for the worker; the command line reads its file in place.
    source = models.FileField(_("file"), upload_to="imports/%Y/%m/", blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=ImportStatus.choices, default=ImportStatus.RUNNING
    )
    rows = models.PositiveIntegerField(_("rows read"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    failed = models.PositiveIntegerField(_("rows refused"), default=0)
    message = models.TextField(_("message"), blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("imported by"),
    )
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-id"]
        indexes = [models.Index(fields=["shop", "-id"], name="importrun_shop_id_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.filename}"


class ImportProblem(models.Model):
    """A row the import refused (or a column it could not read), for the error report."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="problems")
    row = models.PositiveIntegerField(_("row"))
    column = models.CharField(_("column"), max_length=80, blank=True)
    value = models.CharField(_("value"), max_length=200, blank=True)
    message = models.CharField(_("message"), max_length=300)

    class Meta:
        verbose_name = _("import problem")
        verbose_name_plural = _("import problems")
        ordering = ["run_id", "row", "id"]

    def __str__(self) -> str:
        return f"{self.row}: {self.message}"


class Connector(models.TextChoices):
    NONE = "", _("None (webhooks and imports only)")
    REST = "rest", _("Marketplace open API (REST, signed)")


class ChannelLink(models.Model):
    """How a channel talks to us: the secret its webhooks are signed with, and the open-API
    connector a periodic pull reconciles through (a webhook may be lost; the pull repairs it)."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    channel = models.OneToOneField(
        "channels.Channel", on_delete=models.CASCADE, related_name="link"
    )
    webhook_secret = models.CharField(_("webhook secret"), max_length=128, blank=True)
    connector = models.CharField(
        _("connector"), max_length=8, choices=Connector.choices, blank=True, default=""
    )
    base_url = models.URLField(_("open API address"), blank=True)
    app_key = models.CharField(_("app key"), max_length=64, blank=True)
    app_secret = models.CharField(_("app secret"), max_length=128, blank=True)
    pull_every_seconds = models.PositiveIntegerField(_("pull every (seconds)"), default=300)
    # Everything the channel changed before this moment has been pulled.
    pulled_until = models.DateTimeField(_("pulled until"), null=True, blank=True)
    next_pull_at = models.DateTimeField(_("next pull at"), null=True, blank=True)
    last_error = models.TextField(_("last pull error"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("channel link")
        verbose_name_plural = _("channel links")
        indexes = [models.Index(fields=["next_pull_at"], name="channellink_next_pull_idx")]

    def __str__(self) -> str:
        return str(self.channel)


class EventSource(models.TextChoices):
    WEBHOOK = "webhook", _("Webhook")
    PULL = "pull", _("Reconciliation pull")


class EventStatus(models.TextChoices):
    APPLIED = "applied", _("Applied")
    STALE = "stale", _("Older than what we have")
    FAILED = "failed", pgettext_lazy("channel event status", "Failed")


class ChannelEvent(models.Model):
    """Every event a channel sent or a pull found, once: (shop, channel, event id) is unique, so
    a retried or replayed webhook, or a pull that finds what a webhook already brought, is
    stored and applied once."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    channel = models.ForeignKey("channels.Channel", on_delete=models.PROTECT, related_name="+")
    event_id = models.CharField(_("event id"), max_length=100)
    source = models.CharField(_("source"), max_length=8, choices=EventSource.choices)
    kind = models.CharField(_("kind"), max_length=40)
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"))
    payload = models.JSONField(_("payload"))
    status = models.CharField(_("status"), max_length=8, choices=EventStatus.choices)
    error = models.TextField(_("error"), blank=True)
    order = models.ForeignKey(
        "channels.Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    case = models.ForeignKey(
        "cases.Case", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("channel event")
        verbose_name_plural = _("channel events")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "channel", "event_id"], name="channelevent_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.event_id}"
