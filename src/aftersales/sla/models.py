"""Business calendars of a shop: time zone, weekly service hours, holidays and 调休 days."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from aftersales.sla.calendar import DEFAULT_ZONE, spans_parse, weekly_parse


def time_zone_valid(name: object) -> bool:
    if not isinstance(name, str) or not name or name != name.strip():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def validate_time_zone(value: str) -> None:
    if not time_zone_valid(value):
        raise ValidationError(
            {"time_zone": _("Unknown time zone: use an IANA name such as Asia/Shanghai.")}
        )


def _errors_raise(errors: dict[str, str], field: str) -> None:
    if errors:
        raise ValidationError({field: [f"{path}: {message}" for path, message in errors.items()]})


class BusinessCalendar(models.Model):
    """When a shop serves customers. One calendar per shop is the default the clocks use."""

    shop = models.ForeignKey(
        "channels.Shop", on_delete=models.PROTECT, related_name="business_calendars"
    )
    name = models.CharField(_("name"), max_length=120)
    time_zone = models.CharField(_("time zone"), max_length=64, default=DEFAULT_ZONE)
    # Seven lists (Monday first) of ["HH:MM", "HH:MM"] spans; "24:00" may end a span.
    # No field default or validator: migrations must not import app code, so the services
    # (and the admin's initial data) supply default_weekly_hours() and clean() validates.
    weekly_hours = models.JSONField(_("weekly service hours"))
    is_default = models.BooleanField(_("default calendar"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        ordering = ["shop_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "name"], name="businesscalendar_name_uniq"),
            models.UniqueConstraint(
                fields=["shop"], condition=Q(is_default=True), name="businesscalendar_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        validate_time_zone(self.time_zone)
        _errors_raise(weekly_parse(self.weekly_hours)[1], "weekly_hours")


class HolidayKind(models.TextChoices):
    CLOSED = "closed", _("Holiday, closed all day")
    SPECIAL_HOURS = "special_hours", _("Holiday with special hours")
    MAKEUP_WORKDAY = "makeup_workday", _("Makeup working day (调休)")


class Holiday(models.Model):
    """One date whose hours differ from the week: closed, shortened, or a 调休 working day."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(
        _("kind"), max_length=16, choices=HolidayKind.choices, default=HolidayKind.CLOSED
    )
    # Open spans that day (["HH:MM", "HH:MM"] pairs); empty when closed all day.
    spans = models.JSONField(_("open hours that day"), default=list, blank=True)

    class Meta:
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        ordering = ["shop_id", "calendar_id", "date"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "calendar", "date"], name="holiday_date_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"

    def clean(self) -> None:
        if self.calendar_id:  # a holiday always belongs to its calendar's shop
            self.shop_id = self.calendar.shop_id
        spans, errors = spans_parse(self.spans, "spans")
        _errors_raise(errors, "spans")
        if self.kind == HolidayKind.CLOSED and spans:
            raise ValidationError({"spans": _("A day closed all day has no open hours.")})
        if self.kind != HolidayKind.CLOSED and not spans:
            raise ValidationError({"spans": _("Give the hours open that day.")})


class TimerKind(models.TextChoices):
    """Every deadline the system keeps: the marketplace clocks of DESIGN §5 (acting before the
    platform does), the SLA targets, warnings before their breach, and internal escalation."""

    MERCHANT_ANSWER = "merchant_answer", _("Merchant answers a new case")
    CUSTOMER_SHIP_RETURN = "customer_ship_return", _("Customer ships the return")
    MERCHANT_CONFIRM_RECEIPT = "merchant_confirm_receipt", _("Merchant confirms receipt")
    MERCHANT_REFUND = "merchant_refund", _("Merchant refunds a received return")
    CUSTOMER_DISPUTE = "customer_dispute", _("Customer may dispute a rejection")
    MERCHANT_SHIP = "merchant_ship", _("Merchant ships a paid order")
    ESCALATION = "escalation", _("Internal escalation")
    FIRST_RESPONSE = "first_response", _("First response")
    NEXT_RESPONSE = "next_response", _("Next response")
    RESOLUTION = "resolution", _("Resolution")
    WARNING = "warning", _("Warning before breach")


class TimerState(models.TextChoices):
    PENDING = "pending", _("Running")
    PAUSED = "paused", _("Paused while waiting on the customer")
    FIRED = "fired", _("Fired")
    MET = "met", _("Met in time")
    CANCELLED = "cancelled", _("Cancelled")


RUNNING_STATES = (TimerState.PENDING, TimerState.PAUSED)


class Timer(models.Model):
    """One deadline of a case (or, for the shipping clock, of an order): a row the sweeper
    fires at most once when `due_at` passes. Business-time timers pause while the case waits
    on the customer, keeping the business time they had left."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(
        "cases.Case", on_delete=models.CASCADE, related_name="timers", null=True, blank=True
    )
    order = models.ForeignKey(
        "channels.Order", on_delete=models.CASCADE, related_name="timers", null=True, blank=True
    )
    kind = models.CharField(_("kind"), max_length=32, choices=TimerKind.choices)
    # What a warning warns of (the target's kind), or the rung an escalation reaches.
    subject = models.CharField(_("subject"), max_length=32, blank=True, default="")
    due_at = models.DateTimeField(_("due at"))
    state = models.CharField(
        _("state"), max_length=12, choices=TimerState.choices, default=TimerState.PENDING
    )
    # Counted in the shop's business hours (SLA targets) rather than calendar time.
    business = models.BooleanField(_("business time"), default=False)
    budget_seconds = models.PositiveIntegerField(_("target (seconds)"), null=True, blank=True)
    # Business seconds left when paused; the due time is recomputed from it on resume.
    remaining_seconds = models.PositiveIntegerField(_("time left"), null=True, blank=True)
    fired_at = models.DateTimeField(_("fired at"), null=True, blank=True)
    # Why it fired, was met or was cancelled; the case's timeline carries the same words.
    reason = models.TextField(_("reason"), blank=True)
    # Set from the clock the caller passes (tests and `aftersales tick --now` move it).
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("timer")
        verbose_name_plural = _("timers")
        ordering = ["due_at", "id"]
        indexes = [
            # The sweeper: pending timers in due order.
            models.Index(fields=["state", "due_at"], name="timer_state_due_idx"),
            models.Index(fields=["shop", "case"], name="timer_shop_case_idx"),
            models.Index(fields=["shop", "order"], name="timer_shop_order_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "case", "kind", "subject"],
                condition=Q(state__in=["pending", "paused"], case__isnull=False),
                name="timer_one_running_per_case",
            ),
            models.UniqueConstraint(
                fields=["shop", "order", "kind", "subject"],
                condition=Q(state__in=["pending", "paused"], order__isnull=False),
                name="timer_one_running_per_order",
            ),
            models.CheckConstraint(
                condition=Q(case__isnull=False, order__isnull=True)
                | Q(case__isnull=True, order__isnull=False),
                name="timer_case_or_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} due {self.due_at:%Y-%m-%d %H:%M} ({self.state})"


class SlaTarget(models.Model):
    """A shop's response and resolution targets in business minutes, for a case type and/or a
    priority (blank: any). The most specific row wins; without one the defaults apply."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.CASCADE, related_name="+")
    case_type = models.CharField(_("case type"), max_length=20, blank=True)
    # 0: any priority.
    priority = models.PositiveSmallIntegerField(_("priority"), default=0, blank=True)
    first_response_minutes = models.PositiveIntegerField(_("first response (business minutes)"))
    next_response_minutes = models.PositiveIntegerField(_("next response (business minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("resolution (business minutes)"))
    warn_percent = models.PositiveSmallIntegerField(
        _("warn at (percent of the target)"), default=80
    )

    class Meta:
        verbose_name = _("SLA target")
        verbose_name_plural = _("SLA targets")
        ordering = ["shop_id", "case_type", "priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "case_type", "priority"], name="slatarget_uniq"
            ),
            models.CheckConstraint(
                condition=Q(warn_percent__gte=1, warn_percent__lte=99), name="slatarget_warn_pct"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_type or '*'} / P{self.priority or '*'}"


class ClockSetting(models.Model):
    """A shop's own length for one marketplace clock, for one channel or (channel blank)
    every channel of the shop. Without one the channel kind's default applies (DESIGN §5)."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(
        "channels.Channel", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(_("clock"), max_length=32, choices=TimerKind.choices)
    hours = models.PositiveIntegerField(_("hours"))

    class Meta:
        verbose_name = _("marketplace clock")
        verbose_name_plural = _("marketplace clocks")
        ordering = ["shop_id", "channel_id", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "channel", "kind"],
                condition=Q(channel__isnull=False),
                name="clocksetting_channel_uniq",
            ),
            models.UniqueConstraint(
                fields=["shop", "kind"],
                condition=Q(channel__isnull=True),
                name="clocksetting_shop_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.hours} h"


class LateShipment(models.Model):
    """A paid order not shipped within the channel's deadline: the compensation it owes the
    customer (DESIGN §5: e.g. a ¥3 coupon), recorded when the clock runs out."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    order = models.OneToOneField(
        "channels.Order", on_delete=models.CASCADE, related_name="late_shipment"
    )
    due_at = models.DateTimeField(_("ship by"))
    detected_at = models.DateTimeField(_("detected at"))
    compensation = models.DecimalField(_("compensation"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("late shipment")
        verbose_name_plural = _("late shipments")
        ordering = ["shop_id", "-detected_at"]
        indexes = [models.Index(fields=["shop", "detected_at"], name="lateship_shop_at_idx")]

    def __str__(self) -> str:
        return f"{self.order_id} late since {self.due_at:%Y-%m-%d %H:%M}"
