"""Business-time arithmetic on a shop's calendar: pure functions, no database.

A calendar is a time zone, weekly service hours (several wall-clock spans a day) and
per-date overrides (holidays closed all day, shortened days, 调休 makeup working days).

Daylight saving. Spans are wall-clock times in the calendar's zone; business time is the
*real* time elapsed inside them, because that is what a customer waits. Each wall time
becomes one real instant:

- a wall time that occurs twice (clocks go back) is read as its first occurrence;
- a wall time that never occurs (clocks jump forward) is read as the moment of the jump,
  i.e. a shop "opening at 02:30" on the spring-forward night opens at 03:00 summer time.

So 09:00–24:00 is 15 real hours on both changeover days in Europe or the US (the jump
happens outside the span), while 01:00–04:00 is 2 real hours in spring and 4 in autumn.

Instants are compared and subtracted in UTC: subtracting two datetimes that share a
tzinfo object gives wall-clock, not real, difference in Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

MINUTES_PER_DAY = 24 * 60
# How far business_add / next_open look ahead before deciding the calendar never opens.
MAX_WALK_DAYS = 3 * 366


class Span(NamedTuple):
    """Open from `start` to `end`, in minutes after local midnight (end may be 1440 = 24:00)."""

    start: int
    end: int


Spans = tuple[Span, ...]


class CalendarClosed(ValueError):
    """The calendar has no open time within MAX_WALK_DAYS of the start."""


@dataclass(frozen=True)
class Calendar:
    """A zone, seven weekdays of spans (Monday first) and per-date overrides.

    `holidays` maps a local date to the spans open that day; an empty tuple means closed
    all day. A 调休 makeup working day is simply a weekend date mapped to open spans.
    """

    zone: ZoneInfo
    weekly: tuple[Spans, Spans, Spans, Spans, Spans, Spans, Spans]
    holidays: Mapping[date, Spans] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.weekly) != 7:
            raise ValueError("a calendar needs seven weekdays, Monday first")
        object.__setattr__(self, "holidays", MappingProxyType(dict(self.holidays)))

    def spans_on(self, day: date) -> Spans:
        return self.holidays.get(day, self.weekly[day.weekday()])


# --- parsing "HH:MM" spans (shared by the model, the admin and the services) ---------------

_TIME = re.compile(r"^(\d\d):(\d\d)$")


def minute_parse(text: Any, *, end: bool = False) -> int | None:
    """'09:30' -> 570; '24:00' only as an end; None when not a valid time."""
    if not isinstance(text, str) or not (match := _TIME.match(text)):
        return None
    hours, minutes = int(match[1]), int(match[2])
    if hours == 24 and minutes == 0 and end:
        return MINUTES_PER_DAY
    if hours > 23 or minutes > 59:
        return None
    return hours * 60 + minutes


def minute_format(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def spans_parse(value: Any, path: str) -> tuple[Spans, dict[str, str]]:
    """A JSON list of ["HH:MM", "HH:MM"] pairs, ascending and not overlapping.

    Returns the spans and errors keyed by field path ("<path>.<index>").
    """
    if not isinstance(value, list):
        return (), {path: _("A list of [start, end] spans is expected.")}
    spans: list[Span] = []
    errors: dict[str, str] = {}
    for index, pair in enumerate(value):
        where = f"{path}.{index}"
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            errors[where] = _("A [start, end] pair is expected.")
            continue
        start, end = minute_parse(pair[0]), minute_parse(pair[1], end=True)
        if start is None or end is None:
            errors[where] = _("Times are written HH:MM, from 00:00 to 24:00.")
        elif end <= start:
            errors[where] = _("The span ends before it starts.")
        elif spans and start < spans[-1].end:
            errors[where] = _("The span overlaps the one before it; list spans in order.")
        else:
            spans.append(Span(start, end))
    return tuple(spans), errors


def weekly_parse(value: Any, path: str = "weekly_hours") -> tuple[tuple[Spans, ...], dict]:
    """Seven lists of spans, Monday first; the week must have some open time."""
    if not isinstance(value, list) or len(value) != 7:
        return (), {path: _("Seven weekdays are expected, Monday first.")}
    days: list[Spans] = []
    errors: dict[str, str] = {}
    for weekday, day_value in enumerate(value):
        spans, day_errors = spans_parse(day_value, f"{path}.{weekday}")
        days.append(spans)
        errors.update(day_errors)
    if not errors and not any(days):
        errors[path] = _("The calendar must be open at some time of the week.")
    return tuple(days), errors


def weekly_format(weekly: tuple[Spans, ...]) -> list[list[list[str]]]:
    return [[[minute_format(s.start), minute_format(s.end)] for s in day] for day in weekly]


# --- wall clock to real instants ---------------------------------------------------------


def _local_wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


@lru_cache(maxsize=4096)
def _instant(zone: ZoneInfo, day: date, minute: int) -> datetime:
    """The real instant (UTC) of wall time `minute` on local `day` (see module docstring)."""
    if minute == MINUTES_PER_DAY:
        day, minute = day + timedelta(days=1), 0
    wall = datetime.combine(day, time(minute // 60, minute % 60))
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _local_wall(first, zone) == wall:
        return first  # exists; fold=0 is the first occurrence of a repeated time
    # Skipped by a forward jump: find the jump, the first instant whose wall time is >= wall.
    low = int(wall.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())
    high = int(first.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _local_wall(datetime.fromtimestamp(middle, UTC), zone) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _day_intervals(cal: Calendar, day: date) -> Iterator[tuple[datetime, datetime]]:
    for span in cal.spans_on(day):
        opens, closes = _instant(cal.zone, day, span.start), _instant(cal.zone, day, span.end)
        if closes > opens:
            yield opens, closes


def _intervals_after(
    cal: Calendar, moment: datetime, max_days: int
) -> Iterator[tuple[datetime, datetime]]:
    """Open intervals (UTC) ending after `moment`, clipped to start no earlier than it."""
    # A day's spans lie within that local day, so starting one day early is always enough.
    day = _local_wall(moment, cal.zone).date() - timedelta(days=1)
    for offset in range(max_days + 2):
        for opens, closes in _day_intervals(cal, day + timedelta(days=offset)):
            if closes > moment:
                yield max(opens, moment), closes


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return moment.astimezone(UTC)


def _closed_error(cal: Calendar) -> CalendarClosed:
    return CalendarClosed(
        f"the calendar ({cal.zone.key}) has no open time within {MAX_WALK_DAYS} days"
    )


# --- the arithmetic ------------------------------------------------------------------------


def is_open(cal: Calendar, at: datetime) -> bool:
    """Open at `at`: spans include their start and exclude their end."""
    moment = _utc(at, "at")
    day = _local_wall(moment, cal.zone).date()
    return any(
        opens <= moment < closes
        for offset in (-1, 0)
        for opens, closes in _day_intervals(cal, day + timedelta(days=offset))
    )


def next_open(cal: Calendar, at: datetime) -> datetime:
    """`at` itself when open, else the next moment the calendar opens (in the calendar's zone)."""
    moment = _utc(at, "at")
    for opens, _closes in _intervals_after(cal, moment, MAX_WALK_DAYS):
        return opens.astimezone(cal.zone)
    raise _closed_error(cal)


def business_add(cal: Calendar, start: datetime, duration: timedelta) -> datetime:
    """The earliest instant by which `duration` of business time has passed since `start`.

    Walks span by span. A start in closed time counts from the next opening; a duration that
    runs out exactly at a closing returns that closing, not the next opening. Zero returns
    `start` unchanged. The result is in the calendar's zone.
    """
    moment = _utc(start, "start")
    if duration < timedelta(0):
        raise ValueError("duration must not be negative")
    if not duration:
        return moment.astimezone(cal.zone)
    remaining = duration
    for opens, closes in _intervals_after(cal, moment, MAX_WALK_DAYS):
        if closes - opens >= remaining:
            return (opens + remaining).astimezone(cal.zone)
        remaining -= closes - opens
    raise _closed_error(cal)


def business_elapsed(cal: Calendar, start: datetime, end: datetime) -> timedelta:
    """Business time between two instants; negative when `end` is before `start`."""
    first, last = _utc(start, "start"), _utc(end, "end")
    if last < first:
        return -business_elapsed(cal, end, start)
    total = timedelta(0)
    days = (_local_wall(last, cal.zone).date() - _local_wall(first, cal.zone).date()).days
    for opens, closes in _intervals_after(cal, first, days):
        if opens >= last:
            break
        total += min(closes, last) - opens
    return total


def default_weekly_hours() -> list[list[list[str]]]:
    """DESIGN §5: service hours 09:00–24:00 every day."""
    return [[["09:00", "24:00"]] for _weekday in range(7)]


DEFAULT_ZONE = "Asia/Shanghai"
DEFAULT_CALENDAR = Calendar(
    zone=ZoneInfo(DEFAULT_ZONE),
    weekly=tuple((Span(9 * 60, MINUTES_PER_DAY),) for _weekday in range(7)),  # type: ignore[arg-type]
)
