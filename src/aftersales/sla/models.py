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
    """The marketplace clocks of DESIGN §5, each acting before the platform does."""

    MERCHANT_ANSWER = "merchant_answer", _("Merchant answers a new case")
    CUSTOMER_SHIP_RETURN = "customer_ship_return", _("Customer ships the return")
    MERCHANT_CONFIRM_RECEIPT = "merchant_confirm_receipt", _("Merchant confirms receipt")


class TimerState(models.TextChoices):
    PENDING = "pending", _("Pending")
    FIRED = "fired", _("Fired")
    CANCELLED = "cancelled", _("Cancelled")


class Timer(models.Model):
    """One deadline of one case: a row the sweeper fires at most once when `due_at` passes."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="timers")
    kind = models.CharField(_("kind"), max_length=32, choices=TimerKind.choices)
    due_at = models.DateTimeField(_("due at"))
    state = models.CharField(
        _("state"), max_length=12, choices=TimerState.choices, default=TimerState.PENDING
    )
    fired_at = models.DateTimeField(_("fired at"), null=True, blank=True)
    # Why it fired or was cancelled; the case's timeline carries the same words.
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
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "case", "kind"],
                condition=Q(state="pending"),
                name="timer_one_pending_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} due {self.due_at:%Y-%m-%d %H:%M} ({self.state})"
