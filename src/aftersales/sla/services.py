"""Writes for business calendars and holidays, and the calendar the clocks of a shop use."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from aftersales.channels.models import Shop
from aftersales.core.errors import Invalid
from aftersales.sla.calendar import (
    DEFAULT_CALENDAR,
    Calendar,
    default_weekly_hours,
    spans_parse,
    weekly_parse,
)
from aftersales.sla.models import BusinessCalendar, Holiday, HolidayKind, time_zone_valid


def _refuse(code: str, errors: dict[str, str]) -> None:
    if errors:
        raise Invalid(code, _("The calendar is not valid."), errors)


@transaction.atomic
def calendar_save(
    *,
    shop: Shop,
    name: str,
    time_zone: str = "Asia/Shanghai",
    weekly_hours: list[Any] | None = None,
    is_default: bool = False,
    calendar: BusinessCalendar | None = None,
) -> BusinessCalendar:
    """Create a calendar, or rewrite every field of `calendar`. The shop's first calendar
    becomes its default; marking another one default takes the mark from the old one."""
    weekly_hours = default_weekly_hours() if weekly_hours is None else weekly_hours
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = _("A name is required.")
    elif (
        BusinessCalendar.objects.filter(shop=shop, name=name)
        .exclude(pk=calendar.pk if calendar else None)
        .exists()
    ):
        errors["name"] = _("Another calendar of this shop has this name.")
    if not time_zone_valid(time_zone):
        errors["time_zone"] = _("Unknown time zone: use an IANA name such as Asia/Shanghai.")
    errors.update(weekly_parse(weekly_hours)[1])
    if calendar is not None and calendar.shop_id != shop.pk:
        errors["calendar"] = _("The calendar belongs to another shop.")
    _refuse("calendar.invalid", errors)

    has_default = BusinessCalendar.objects.filter(shop=shop, is_default=True)
    if calendar is not None:
        has_default = has_default.exclude(pk=calendar.pk)
    if is_default:
        has_default.update(is_default=False)
    elif not has_default.exists():
        is_default = True
    if calendar is None:
        calendar = BusinessCalendar(shop=shop)
    calendar.name = name
    calendar.time_zone = time_zone
    calendar.weekly_hours = weekly_hours
    calendar.is_default = is_default
    calendar.save()
    return calendar


@transaction.atomic
def holiday_add(
    *,
    calendar: BusinessCalendar,
    date: dt.date,
    name: str,
    kind: str = HolidayKind.CLOSED,
    spans: list[Any] | None = None,
) -> Holiday:
    """Mark one date: closed all day, open with special hours, or a 调休 makeup working day
    (a normally closed day that opens with `spans`)."""
    spans = [] if spans is None else spans
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = _("A name is required.")
    if kind not in HolidayKind.values:
        errors["kind"] = _("Unknown kind of day.")
    parsed, span_errors = spans_parse(spans, "spans")
    errors.update(span_errors)
    if not span_errors and kind in HolidayKind.values:
        if kind == HolidayKind.CLOSED and parsed:
            errors["spans"] = _("A day closed all day has no open hours.")
        elif kind != HolidayKind.CLOSED and not parsed:
            errors["spans"] = _("Give the hours open that day.")
    if Holiday.objects.filter(shop_id=calendar.shop_id, calendar=calendar, date=date).exists():
        errors["date"] = _("This date is already marked in the calendar.")
    _refuse("holiday.invalid", errors)
    try:
        with transaction.atomic():
            return Holiday.objects.create(
                shop_id=calendar.shop_id,
                calendar=calendar,
                date=date,
                name=name,
                kind=kind,
                spans=spans,
            )
    except IntegrityError as exc:  # a concurrent add of the same date
        raise Invalid(
            "holiday.invalid",
            _("The calendar is not valid."),
            {"date": _("This date is already marked in the calendar.")},
        ) from exc


def calendar_load(record: BusinessCalendar) -> Calendar:
    """The one loader from rows to the pure Calendar the arithmetic works on."""
    weekly, errors = weekly_parse(record.weekly_hours)
    if errors:  # written around the services (raw SQL, a bad migration): refuse loudly
        raise Invalid("calendar.invalid", _("The calendar is not valid."), errors)
    holidays = {}
    for holiday in Holiday.objects.filter(shop_id=record.shop_id, calendar=record):
        holidays[holiday.date] = spans_parse(holiday.spans, "spans")[0]
    return Calendar(zone=ZoneInfo(record.time_zone), weekly=weekly, holidays=holidays)  # type: ignore[arg-type]


def calendar_for_shop(shop: Shop) -> Calendar:
    """The shop's default calendar, or DESIGN's 09:00–24:00 Asia/Shanghai when it has none."""
    return calendar_for_shop_id(shop.pk)


def calendar_for_shop_id(shop_id: int) -> Calendar:
    record = BusinessCalendar.objects.filter(shop_id=shop_id, is_default=True).first()
    return DEFAULT_CALENDAR if record is None else calendar_load(record)
