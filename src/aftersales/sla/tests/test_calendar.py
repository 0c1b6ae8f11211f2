"""Business-time arithmetic: exact instants across midnight, weekends, 调休 and DST."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aftersales.sla.calendar import (
    DEFAULT_CALENDAR,
    Calendar,
    CalendarClosed,
    business_add,
    business_elapsed,
    is_open,
    next_open,
    weekly_parse,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
H = timedelta(hours=1)
M = timedelta(minutes=1)


def cal(zone, weekly, holidays=None) -> Calendar:
    days, errors = weekly_parse(weekly)
    assert not errors
    parsed = {day: weekly_parse([spans] * 7)[0][0] for day, spans in (holidays or {}).items()}
    return Calendar(zone=zone, weekly=days, holidays=parsed)


EVERY_DAY = cal(SHANGHAI, [[["09:00", "24:00"]]] * 7)
OFFICE = [[["09:00", "18:00"]]] * 5 + [[], []]
WEEKDAYS = cal(SHANGHAI, OFFICE)
SPLIT = cal(SHANGHAI, [[["09:00", "12:00"], ["13:30", "24:00"]]] * 7)
NIGHT_SHIFT = cal(SHANGHAI, [[["00:00", "02:00"], ["09:00", "24:00"]]] * 7)
# 2024 National Day: 1–7 October off, Sunday 29 September and Saturday 12 October worked
# (调休); New Year's Eve shortened to the morning, New Year's Day closed.
NATIONAL_DAY = cal(
    SHANGHAI,
    OFFICE,
    {
        date(2024, 9, 29): [["09:00", "18:00"]],
        **{date(2024, 10, d): [] for d in range(1, 8)},
        date(2024, 10, 12): [["09:00", "18:00"]],
        date(2024, 12, 31): [["09:00", "12:00"]],
        date(2025, 1, 1): [],
    },
)
BERLIN_DAY = cal(BERLIN, [[["09:00", "24:00"]]] * 7)
BERLIN_ALWAYS = cal(BERLIN, [[["00:00", "24:00"]]] * 7)
BERLIN_NIGHT = cal(BERLIN, [[["01:00", "04:00"]]] * 7)
BERLIN_EARLY = cal(BERLIN, [[["02:30", "10:00"]]] * 7)
NEW_YORK_OFFICE = cal(NEW_YORK, OFFICE)
NEW_YORK_ALWAYS = cal(NEW_YORK, [[["00:00", "24:00"]]] * 7)


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def same_instant(result: datetime, expected: datetime, zone: ZoneInfo) -> None:
    # Same-tzinfo comparison in Python ignores fold, so compare in UTC and check the zone.
    assert result.tzinfo is zone
    assert result.astimezone(UTC) == expected.astimezone(UTC)


# --- Asia/Shanghai, no DST --------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar", "start", "duration", "expected"),
    [
        # across midnight: 23:30 + 1 h on 09:00–24:00 runs into the next morning
        (EVERY_DAY, sh(2024, 3, 4, 23, 30), H, sh(2024, 3, 5, 9, 30)),
        (EVERY_DAY, sh(2024, 3, 4, 23, 0), H, sh(2024, 3, 5, 0, 0)),  # ends at the closing
        (NIGHT_SHIFT, sh(2024, 3, 4, 23, 30), H, sh(2024, 3, 5, 0, 30)),  # 24:00 meets 00:00
        (EVERY_DAY, sh(2024, 3, 4, 3, 0), H, sh(2024, 3, 4, 10, 0)),  # start before opening
        # Friday evening to Monday
        (WEEKDAYS, sh(2024, 3, 8, 17, 0), 2 * H, sh(2024, 3, 11, 10, 0)),
        (WEEKDAYS, sh(2024, 3, 9, 12, 0), 30 * M, sh(2024, 3, 11, 9, 30)),  # Saturday start
        (WEEKDAYS, sh(2024, 3, 8, 17, 0), 10 * H, sh(2024, 3, 11, 18, 0)),  # the closing
        # several spans a day: 09:00–12:00 + 13:30–24:00
        (SPLIT, sh(2024, 3, 4, 11, 0), 2 * H, sh(2024, 3, 4, 14, 30)),
        (SPLIT, sh(2024, 3, 4, 12, 15), H, sh(2024, 3, 4, 14, 30)),  # start in the lunch gap
        (SPLIT, sh(2024, 3, 4, 8, 0), 3 * H, sh(2024, 3, 4, 12, 0)),
        (SPLIT, sh(2024, 3, 4, 8, 0), 3 * H + M, sh(2024, 3, 4, 13, 31)),
        (SPLIT, sh(2024, 3, 4, 23, 0), 2 * H, sh(2024, 3, 5, 10, 0)),
        # a Chinese holiday week with 调休 days
        (NATIONAL_DAY, sh(2024, 9, 27, 17, 0), 2 * H, sh(2024, 9, 29, 10, 0)),  # Sunday worked
        (NATIONAL_DAY, sh(2024, 9, 30, 17, 0), 2 * H, sh(2024, 10, 8, 10, 0)),  # over the week
        (NATIONAL_DAY, sh(2024, 10, 11, 17, 0), 2 * H, sh(2024, 10, 12, 10, 0)),  # Saturday
        (NATIONAL_DAY, sh(2024, 10, 12, 17, 0), 2 * H, sh(2024, 10, 14, 10, 0)),
        (NATIONAL_DAY, sh(2024, 12, 31, 11, 0), 2 * H, sh(2025, 1, 2, 10, 0)),  # shortened day
        # zero duration returns the start, even in closed time
        (WEEKDAYS, sh(2024, 3, 9, 3, 0), timedelta(0), sh(2024, 3, 9, 3, 0)),
        # seconds are kept
        (EVERY_DAY, sh(2024, 3, 4, 9, 0, 0, 5), timedelta(seconds=61), sh(2024, 3, 4, 9, 1, 1, 5)),
    ],
)
def test_business_add(calendar, start, duration, expected):
    same_instant(business_add(calendar, start, duration), expected, SHANGHAI)
    assert business_elapsed(calendar, start, expected) == duration


@pytest.mark.parametrize(
    ("calendar", "start", "end", "expected"),
    [
        (WEEKDAYS, sh(2024, 3, 8, 18, 0), sh(2024, 3, 11, 9, 0), timedelta(0)),  # weekend
        (WEEKDAYS, sh(2024, 3, 8, 12, 0), sh(2024, 3, 11, 12, 0), 9 * H),
        (WEEKDAYS, sh(2024, 3, 4, 0, 0), sh(2024, 3, 11, 0, 0), 45 * H),
        (EVERY_DAY, sh(2024, 3, 4, 23, 0), sh(2024, 3, 5, 9, 30), 90 * M),
        (SPLIT, sh(2024, 3, 4, 0, 0), sh(2024, 3, 5, 0, 0), 13 * H + 30 * M),
        (SPLIT, sh(2024, 3, 4, 11, 59), sh(2024, 3, 4, 13, 31), 2 * M),
        # 27 Sep – 14 Oct 2024: Fri 27, Sun 29 (调休), Mon 30, Tue 8 – Fri 11, Sat 12 (调休)
        (NATIONAL_DAY, sh(2024, 9, 27, 9, 0), sh(2024, 10, 14, 9, 0), 8 * 9 * H),
        (NATIONAL_DAY, sh(2024, 12, 31, 0, 0), sh(2025, 1, 2, 0, 0), 3 * H),
        (EVERY_DAY, sh(2024, 3, 4, 10, 0), sh(2024, 3, 4, 10, 0), timedelta(0)),
        (EVERY_DAY, sh(2024, 3, 4, 10, 0), sh(2024, 3, 4, 9, 30), -30 * M),  # antisymmetric
        (EVERY_DAY, utc(2024, 3, 4, 1, 0), utc(2024, 3, 4, 2, 0), H),  # any input zone
    ],
)
def test_business_elapsed(calendar, start, end, expected):
    assert business_elapsed(calendar, start, end) == expected


def test_is_open_and_next_open():
    assert is_open(SPLIT, sh(2024, 3, 4, 9, 0))
    assert not is_open(SPLIT, sh(2024, 3, 4, 8, 59, 59))
    assert is_open(SPLIT, sh(2024, 3, 4, 11, 59, 59))
    assert not is_open(SPLIT, sh(2024, 3, 4, 12, 0))  # spans exclude their end
    assert is_open(SPLIT, sh(2024, 3, 4, 13, 30))
    assert not is_open(SPLIT, sh(2024, 3, 5, 0, 0))
    assert is_open(NIGHT_SHIFT, sh(2024, 3, 5, 0, 0))
    assert not is_open(NATIONAL_DAY, sh(2024, 10, 1, 10, 0))
    assert is_open(NATIONAL_DAY, sh(2024, 10, 12, 10, 0))
    assert next_open(SPLIT, sh(2024, 3, 4, 10, 0)) == sh(2024, 3, 4, 10, 0)
    assert next_open(SPLIT, sh(2024, 3, 4, 12, 15)) == sh(2024, 3, 4, 13, 30)
    assert next_open(SPLIT, sh(2024, 3, 5, 0, 0)) == sh(2024, 3, 5, 9, 0)
    assert next_open(NATIONAL_DAY, sh(2024, 9, 30, 18, 0)) == sh(2024, 10, 8, 9, 0)
    assert next_open(WEEKDAYS, utc(2024, 3, 8, 10, 0)) == sh(2024, 3, 11, 9, 0)


def test_default_calendar_is_design_service_hours():
    assert DEFAULT_CALENDAR.zone.key == "Asia/Shanghai"
    assert business_elapsed(DEFAULT_CALENDAR, sh(2024, 3, 4), sh(2024, 3, 11)) == 7 * 15 * H


def test_five_hundred_business_hours_walk_span_by_span():
    began = clock.perf_counter()
    result = business_add(EVERY_DAY, sh(2024, 3, 4, 9, 0), 500 * H)
    assert clock.perf_counter() - began < 0.5
    # 33 days of 15 h = 495 h, ending at midnight of 5 April; 5 h more on 6 April
    assert result == sh(2024, 4, 6, 14, 0)
    # 2000 h of 9 h weekdays: 222 days (44 weeks to Fri 1 Nov, then Mon 4 and Tue 5) + 2 h
    assert business_add(WEEKDAYS, sh(2024, 1, 1, 9, 0), 2000 * H) == sh(2024, 11, 6, 11, 0)


def test_refusals():
    with pytest.raises(ValueError, match="aware"):
        business_add(EVERY_DAY, datetime(2024, 3, 4, 9), H)
    with pytest.raises(ValueError, match="aware"):
        business_elapsed(EVERY_DAY, sh(2024, 3, 4), datetime(2024, 3, 5))
    with pytest.raises(ValueError, match="negative"):
        business_add(EVERY_DAY, sh(2024, 3, 4), -H)
    never = Calendar(zone=SHANGHAI, weekly=((),) * 7)
    with pytest.raises(CalendarClosed, match="no open time within 1098 days"):
        business_add(never, sh(2024, 3, 4), H)
    with pytest.raises(CalendarClosed):
        next_open(never, sh(2024, 3, 4))
    assert business_elapsed(never, sh(2024, 3, 4), sh(2025, 3, 4)) == timedelta(0)
    with pytest.raises(ValueError, match="seven"):
        Calendar(zone=SHANGHAI, weekly=((),) * 6)


# --- daylight saving: Europe/Berlin 2024-03-31 02:00→03:00, 2024-10-27 03:00→02:00 -------


def berlin(*args, fold=0) -> datetime:
    return datetime(*args, tzinfo=BERLIN, fold=fold)


def test_berlin_service_day_is_fifteen_hours_on_both_changeover_days():
    assert business_elapsed(BERLIN_DAY, berlin(2024, 3, 31), berlin(2024, 4, 1)) == 15 * H
    assert business_elapsed(BERLIN_DAY, berlin(2024, 10, 27), berlin(2024, 10, 28)) == 15 * H
    same_instant(
        business_add(BERLIN_DAY, berlin(2024, 3, 30, 23, 0), 2 * H), utc(2024, 3, 31, 8), BERLIN
    )  # 10:00 summer time
    same_instant(
        business_add(BERLIN_DAY, berlin(2024, 10, 26, 23, 0), 2 * H), utc(2024, 10, 27, 9), BERLIN
    )  # 10:00 winter time


def test_berlin_round_the_clock_counts_real_hours():
    assert business_elapsed(BERLIN_ALWAYS, berlin(2024, 3, 31), berlin(2024, 4, 1)) == 23 * H
    assert business_elapsed(BERLIN_ALWAYS, berlin(2024, 10, 27), berlin(2024, 10, 28)) == 25 * H
    # 01:30 winter time + 1 real hour = 03:30 summer time
    result = business_add(BERLIN_ALWAYS, berlin(2024, 3, 31, 1, 30), H)
    same_instant(result, utc(2024, 3, 31, 1, 30), BERLIN)
    assert (result.hour, result.minute, result.utcoffset()) == (3, 30, 2 * H)
    # 01:30 summer time + 2 real hours = the second 02:30, in winter time
    result = business_add(BERLIN_ALWAYS, berlin(2024, 10, 27, 1, 30), 2 * H)
    same_instant(result, utc(2024, 10, 27, 1, 30), BERLIN)
    assert (result.hour, result.minute, result.fold, result.utcoffset()) == (2, 30, 1, H)


def test_berlin_span_across_the_gap_and_the_overlap():
    # 01:00–04:00 wall clock: 2 real hours in spring, 4 in autumn
    assert business_elapsed(BERLIN_NIGHT, berlin(2024, 3, 31), berlin(2024, 4, 1)) == 2 * H
    assert business_elapsed(BERLIN_NIGHT, berlin(2024, 10, 27), berlin(2024, 10, 28)) == 4 * H
    same_instant(
        business_add(BERLIN_NIGHT, berlin(2024, 3, 31, 1, 0), 2 * H), utc(2024, 3, 31, 2), BERLIN
    )  # 04:00 summer time, the closing
    same_instant(
        business_add(BERLIN_NIGHT, berlin(2024, 3, 31, 1, 0), 2 * H + M),
        utc(2024, 3, 31, 23, 1),  # 01:01 summer time the next night
        BERLIN,
    )
    same_instant(
        business_add(BERLIN_NIGHT, berlin(2024, 10, 27, 1, 0), 3 * H), utc(2024, 10, 27, 2), BERLIN
    )  # 03:00 winter time; closing is 04:00 winter time


def test_berlin_opening_inside_the_gap_opens_at_the_jump():
    # 02:30 does not exist on 31 March: the shop opens when the clocks jump, at 03:00 CEST
    opened = next_open(BERLIN_EARLY, berlin(2024, 3, 31, 0, 0))
    same_instant(opened, utc(2024, 3, 31, 1, 0), BERLIN)
    assert (opened.hour, opened.minute) == (3, 0)
    assert business_elapsed(BERLIN_EARLY, berlin(2024, 3, 31), berlin(2024, 4, 1)) == 7 * H
    # 02:30 occurs twice on 27 October: the first one opens, 10:00 winter time closes
    opened = next_open(BERLIN_EARLY, berlin(2024, 10, 27, 0, 0))
    same_instant(opened, utc(2024, 10, 27, 0, 30), BERLIN)
    assert business_elapsed(BERLIN_EARLY, berlin(2024, 10, 27), berlin(2024, 10, 28)) == 8.5 * H
    assert is_open(BERLIN_EARLY, utc(2024, 10, 27, 1, 15))  # the second 02:15, still open


# --- America/New_York 2024-03-10 02:00→03:00, 2024-11-03 02:00→01:00 ---------------------


def ny(*args, fold=0) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK, fold=fold)


def test_new_york_friday_to_monday_over_both_changeovers():
    same_instant(
        business_add(NEW_YORK_OFFICE, ny(2024, 3, 8, 17, 0), 2 * H), utc(2024, 3, 11, 14), NEW_YORK
    )  # Monday 10:00 EDT
    same_instant(
        business_add(NEW_YORK_OFFICE, ny(2024, 11, 1, 17, 0), 2 * H), utc(2024, 11, 4, 15), NEW_YORK
    )  # Monday 10:00 EST
    assert business_elapsed(NEW_YORK_OFFICE, ny(2024, 11, 1, 17), ny(2024, 11, 4, 10)) == 2 * H
    assert business_elapsed(NEW_YORK_ALWAYS, ny(2024, 3, 10), ny(2024, 3, 11)) == 23 * H
    assert business_elapsed(NEW_YORK_ALWAYS, ny(2024, 11, 3), ny(2024, 11, 4)) == 25 * H


# --- properties -------------------------------------------------------------------------

CALENDARS = [
    EVERY_DAY,
    WEEKDAYS,
    SPLIT,
    NIGHT_SHIFT,
    NATIONAL_DAY,
    BERLIN_DAY,
    BERLIN_ALWAYS,
    BERLIN_NIGHT,
    BERLIN_EARLY,
    NEW_YORK_OFFICE,
]
instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2025, 12, 31), timezones=st.just(UTC)
)
durations = st.integers(min_value=0, max_value=600 * 3600).map(lambda s: timedelta(seconds=s))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(CALENDARS), instants, durations)
def test_elapsed_undoes_add_from_an_open_start(calendar, moment, duration):
    start = next_open(calendar, moment)
    assert is_open(calendar, start)
    end = business_add(calendar, start, duration)
    assert business_elapsed(calendar, start, end) == duration


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CALENDARS), instants, durations)
def test_elapsed_undoes_add_from_any_start(calendar, start, duration):
    end = business_add(calendar, start, duration)
    assert end >= start
    assert business_elapsed(calendar, start, end) == duration


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CALENDARS), instants, instants, instants)
def test_elapsed_adds_up(calendar, first, second, third):
    total = business_elapsed(calendar, first, second) + business_elapsed(calendar, second, third)
    assert total == business_elapsed(calendar, first, third)
