"""Calendar and holiday services: exact refusals, nothing written on refusal, the fallback."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from aftersales.core.errors import Invalid
from aftersales.sla.calendar import DEFAULT_CALENDAR, business_add, business_elapsed
from aftersales.sla.models import BusinessCalendar, Holiday, HolidayKind
from aftersales.sla.services import calendar_for_shop, calendar_save, holiday_add

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = [[["09:00", "12:00"], ["13:30", "18:00"]]] * 5 + [[], []]


def refusal(call, **kwargs) -> Invalid:
    with pytest.raises(Invalid) as caught:
        call(**kwargs)
    return caught.value


def test_calendar_save_defaults_and_first_is_default(shop):
    calendar = calendar_save(shop=shop, name="客服")
    assert calendar.time_zone == "Asia/Shanghai"
    assert calendar.weekly_hours == [[["09:00", "24:00"]]] * 7
    assert calendar.is_default
    second = calendar_save(shop=shop, name="Berlin", time_zone="Europe/Berlin", weekly_hours=OFFICE)
    assert not second.is_default
    calendar_save(
        shop=shop,
        name="Berlin",
        time_zone="Europe/Berlin",
        weekly_hours=OFFICE,
        is_default=True,
        calendar=second,
    )
    rows = BusinessCalendar.objects.filter(shop=shop).order_by("name")
    assert list(rows.values_list("name", "time_zone", "is_default")) == [
        ("Berlin", "Europe/Berlin", True),
        ("客服", "Asia/Shanghai", False),
    ]


@pytest.mark.parametrize(
    ("weekly_hours", "fields"),
    [
        ([[]] * 6, {"weekly_hours": "Seven weekdays are expected, Monday first."}),
        ([[]] * 7, {"weekly_hours": "The calendar must be open at some time of the week."}),
        (
            [[["09:00", "24:00"]], [], [["18:00", "09:00"]], [], [], [], []],
            {"weekly_hours.2.0": "The span ends before it starts."},
        ),
        (
            [[["09:00", "12:00"], ["11:00", "13:00"]]] + [[]] * 6,
            {"weekly_hours.0.1": "The span overlaps the one before it; list spans in order."},
        ),
        (
            [[["24:00", "24:00"], ["9:00", "10:00"], ["09:00", "24:01"]]] + [[]] * 6,
            {
                "weekly_hours.0.0": "Times are written HH:MM, from 00:00 to 24:00.",
                "weekly_hours.0.1": "Times are written HH:MM, from 00:00 to 24:00.",
                "weekly_hours.0.2": "Times are written HH:MM, from 00:00 to 24:00.",
            },
        ),
        (
            [[["09:00"]], "09:00-18:00"] + [[]] * 5,
            {
                "weekly_hours.0.0": "A [start, end] pair is expected.",
                "weekly_hours.1": "A list of [start, end] spans is expected.",
            },
        ),
    ],
)
def test_calendar_save_refuses_bad_hours_with_field_paths(shop, weekly_hours, fields):
    error = refusal(calendar_save, shop=shop, name="x", weekly_hours=weekly_hours)
    assert (error.code, error.fields) == ("calendar.invalid", fields)
    assert not BusinessCalendar.objects.exists()


def test_calendar_save_refuses_name_zone_and_foreign_calendar(shop, other_shop):
    calendar_save(shop=shop, name="客服")
    error = refusal(calendar_save, shop=shop, name=" 客服 ", time_zone="Mars/Olympus")
    assert error.fields == {
        "name": "Another calendar of this shop has this name.",
        "time_zone": "Unknown time zone: use an IANA name such as Asia/Shanghai.",
    }
    assert refusal(calendar_save, shop=shop, name="  ").fields == {"name": "A name is required."}
    foreign = calendar_save(shop=other_shop, name="客服")
    error = refusal(calendar_save, shop=shop, name="new", calendar=foreign)
    assert error.fields == {"calendar": "The calendar belongs to another shop."}
    foreign.refresh_from_db()
    assert (foreign.name, foreign.shop_id) == ("客服", other_shop.pk)
    assert BusinessCalendar.objects.count() == 2


def test_holiday_add_kinds_and_refusals(shop):
    calendar = calendar_save(shop=shop, name="办公", weekly_hours=OFFICE)
    holiday = holiday_add(calendar=calendar, date=date(2024, 10, 1), name="国庆节")
    assert (holiday.shop_id, holiday.kind, holiday.spans) == (shop.pk, HolidayKind.CLOSED, [])
    holiday_add(
        calendar=calendar,
        date=date(2024, 10, 12),
        name="国庆调休",
        kind=HolidayKind.MAKEUP_WORKDAY,
        spans=[["09:00", "18:00"]],
    )
    cases = [
        (
            {"date": date(2024, 10, 1), "name": "again"},
            {"date": "This date is already marked in the calendar."},
        ),
        (
            {"date": date(2024, 10, 2), "name": "x", "spans": [["09:00", "12:00"]]},
            {"spans": "A day closed all day has no open hours."},
        ),
        (
            {"date": date(2024, 10, 2), "name": "x", "kind": HolidayKind.SPECIAL_HOURS},
            {"spans": "Give the hours open that day."},
        ),
        (
            {
                "date": date(2024, 10, 2),
                "name": "",
                "kind": HolidayKind.MAKEUP_WORKDAY,
                "spans": [["09:00", "12:00"], ["12:00", "11:00"]],
            },
            {"name": "A name is required.", "spans.1": "The span ends before it starts."},
        ),
        ({"date": date(2024, 10, 2), "name": "x", "kind": "nap"}, {"kind": "Unknown kind of day."}),
    ]
    for kwargs, fields in cases:
        error = refusal(holiday_add, calendar=calendar, **kwargs)
        assert (error.code, error.fields) == ("holiday.invalid", fields)
    assert Holiday.objects.count() == 2


def test_calendar_for_shop_falls_back_then_loads_holidays(shop):
    assert calendar_for_shop(shop) is DEFAULT_CALENDAR
    calendar = calendar_save(shop=shop, name="办公", weekly_hours=OFFICE)
    holiday_add(calendar=calendar, date=date(2024, 10, 1), name="国庆节")
    holiday_add(
        calendar=calendar,
        date=date(2024, 10, 12),
        name="国庆调休",
        kind=HolidayKind.MAKEUP_WORKDAY,
        spans=[["10:00", "16:00"]],
    )
    loaded = calendar_for_shop(shop)
    assert loaded.zone.key == "Asia/Shanghai"
    assert loaded.holidays[date(2024, 10, 1)] == ()
    monday_evening = datetime(2024, 9, 30, 17, 0, tzinfo=SHANGHAI)
    # Tuesday 1 October is closed, Wednesday 2 is an ordinary working day again
    assert business_add(loaded, monday_evening, timedelta(hours=2)) == datetime(
        2024, 10, 2, 10, 0, tzinfo=SHANGHAI
    )
    saturday = datetime(2024, 10, 12, 0, 0, tzinfo=SHANGHAI)
    assert business_elapsed(loaded, saturday, saturday + timedelta(days=1)) == timedelta(hours=6)
    # another shop's calendar never leaks in
    BusinessCalendar.objects.filter(pk=calendar.pk).update(is_default=False)
    assert calendar_for_shop(shop) is DEFAULT_CALENDAR
