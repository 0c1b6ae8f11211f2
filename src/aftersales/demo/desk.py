"""The demo desk's working time: its business calendar with China's public holidays, its own
SLA target and marketplace clock, and the staff rota that routing reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from aftersales.accounts.services import shift_create
from aftersales.cases.models import Priority
from aftersales.cases.states import CaseType
from aftersales.demo.shop import Demo
from aftersales.logistics.models import Warehouse
from aftersales.sla.calendar import Calendar
from aftersales.sla.models import ClockSetting, HolidayKind, SlaTarget, TimerKind
from aftersales.sla.services import calendar_for_shop, calendar_save, holiday_add

CALENDAR_NAME = "客服工作时间"
# DESIGN §5: the desk answers 09:00–24:00 every day of the week.
WEEKLY_HOURS = [[["09:00", "24:00"]] for _weekday in range(7)]
# On public holidays one agent and one lead per team are on duty, for shorter hours.
HOLIDAY_HOURS = [["10:00", "18:00"]]

# The State Council's notices (国务院办公厅关于部分节假日安排的通知): days off, and the weekend
# days worked instead (调休上班). 2027's arrangement was not known when this was written, so
# only New Year's Day itself, which the law fixes, is listed for 2027; add the rest as
# published.
HOLIDAYS: list[tuple[str, date, date, tuple[date, ...]]] = [
    (
        "国庆节、中秋节",
        date(2025, 10, 1),
        date(2025, 10, 8),
        (date(2025, 9, 28), date(2025, 10, 11)),
    ),
    ("元旦", date(2026, 1, 1), date(2026, 1, 3), (date(2026, 1, 4),)),
    ("春节", date(2026, 2, 15), date(2026, 2, 23), (date(2026, 2, 14), date(2026, 2, 28))),
    ("清明节", date(2026, 4, 4), date(2026, 4, 6), ()),
    ("劳动节", date(2026, 5, 1), date(2026, 5, 5), (date(2026, 5, 9),)),
    ("端午节", date(2026, 6, 19), date(2026, 6, 21), ()),
    ("中秋节", date(2026, 9, 25), date(2026, 9, 27), ()),
    ("国庆节", date(2026, 10, 1), date(2026, 10, 7), (date(2026, 9, 20), date(2026, 10, 10))),
    ("元旦", date(2027, 1, 1), date(2027, 1, 1), ()),
]

# Shifts are entered from the first case's day to a few days past now, so cases filed right
# after loading are routed too.
ROTA_AHEAD = timedelta(days=3)
# A service day longer than this is split into an early and a late shift that overlap.
SPLIT_ABOVE = timedelta(hours=12)
SHIFT_LENGTH = timedelta(hours=9)


def desk_build(demo: Demo) -> None:
    """Calendar, holidays, the shop's own SLA target and clock: before any case is filed, so
    every replayed case runs on them."""
    shop = demo.shop
    calendar = calendar_save(
        shop=shop, name=CALENDAR_NAME, weekly_hours=WEEKLY_HOURS, is_default=True
    )
    opened = timezone.localtime(demo.clock.at).date()
    for name, first, last, makeup_days in HOLIDAYS:
        if last < opened:
            continue
        day = first
        while day <= last:
            holiday_add(
                calendar=calendar,
                date=day,
                name=name,
                kind=HolidayKind.SPECIAL_HOURS,
                spans=HOLIDAY_HOURS,
            )
            day += timedelta(days=1)
        for day in makeup_days:
            if day >= opened:
                # The desk opens every day anyway: the day keeps its usual hours, and is
                # marked so the calendar reads like the notice.
                holiday_add(
                    calendar=calendar,
                    date=day,
                    name=f"{name}调休上班",
                    kind=HolidayKind.MAKEUP_WORKDAY,
                    spans=WEEKLY_HOURS[day.weekday()],
                )
    # There is no service for targets or clock lengths yet: both are configuration rows,
    # checked as the admin checks them.
    target = SlaTarget(
        shop=shop,
        case_type=CaseType.COMPLAINT,
        priority=Priority.URGENT,
        # Money gone missing and regulator threats: a person answers within half an hour.
        first_response_minutes=30,
        next_response_minutes=2 * 60,
        resolution_minutes=8 * 60,
        warn_percent=80,
    )
    target.full_clean()
    target.save()
    # 微信小店 is the shop's own channel: it promises an answer within a day there, and agrees
    # by itself when nobody answered.
    setting = ClockSetting(
        shop=shop, channel=demo.channels["wechat"], kind=TimerKind.MERCHANT_ANSWER, hours=24
    )
    setting.full_clean()
    setting.save()
    # Returns go to the Hangzhou warehouse: its address is shown on every approved return.
    warehouse = Warehouse(
        shop=shop,
        code="hz-main",
        name="杭州余杭仓",
        contact_name="售后仓 王师傅",
        phone="0571-88000000",
        address="浙江省杭州市余杭区仓前街道文一西路 1288 号 3 号库 售后组",
        is_default=True,
    )
    warehouse.full_clean()
    warehouse.save()
    demo.calendar = calendar_for_shop(shop)


# --------------------------------------------------------------------------- the rota


def shifts_build(demo: Demo, first_day: date) -> int:
    """Every service day from `first_day` to a few days past now: on a full day each team has
    an early and a late agent (swapping weekly) and the two leads split the day the same way;
    on a holiday one agent per team and one lead cover its shorter hours. Returns the shifts
    entered."""
    calendar = demo.calendar
    last_day = timezone.localtime(demo.now + ROTA_AHEAD).date()
    leads = [demo.lead_of(team) for team in range(len(demo.teams))]
    count = 0
    day = first_day
    while day <= last_day:
        spans = calendar.spans_on(day)
        if spans:
            opens = _at(calendar, day, spans[0].start)
            closes = _at(calendar, day, spans[-1].end)
            for user, starts, ends in _day_rota(demo, day, opens, closes, leads):
                shift_create(shop=demo.shop, user=user, starts_at=starts, ends_at=ends)
                count += 1
        day += timedelta(days=1)
    return count


def _day_rota(
    demo: Demo, day: date, opens: datetime, closes: datetime, leads: list[User]
) -> Iterator[tuple[User, datetime, datetime]]:
    week = day.isocalendar().week % 2
    if closes - opens > SPLIT_ABOVE:
        early = (opens, opens + SHIFT_LENGTH)
        late = (closes - SHIFT_LENGTH, closes)
        for team in range(len(demo.teams)):
            agents = demo.agents_of(team)
            yield agents[week], *early
            yield agents[1 - week], *late
        yield leads[week], *early
        yield leads[1 - week], *late
    else:  # a holiday: one on duty per team, taking turns day by day
        turn = day.toordinal() % 2
        for team in range(len(demo.teams)):
            yield demo.agents_of(team)[turn], opens, closes
        yield leads[turn], opens, closes


def _at(calendar: Calendar, day: date, minute: int) -> datetime:
    return datetime.combine(day, time(), tzinfo=calendar.zone) + timedelta(minutes=minute)


def last_closing(calendar: Calendar, at: datetime) -> datetime:
    """The latest moment at or before `at` when the desk closed."""
    day = at.astimezone(calendar.zone).date()
    for back in range(8):
        on = day - timedelta(days=back)
        for span in reversed(calendar.spans_on(on)):
            closing = _at(calendar, on, span.end)
            if closing <= at:
                return closing
    return at
