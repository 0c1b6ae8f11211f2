"""The demo shop while it is being built: its random source, replay clock and records."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.utils import timezone

from aftersales.accounts.models import Team
from aftersales.catalog.models import Product
from aftersales.channels.models import Channel, Order, OrderLine, Shop
from aftersales.demo import texts as T
from aftersales.sla.calendar import DEFAULT_CALENDAR, Calendar


class Clock:
    """Stands in for timezone.now while the loader replays history.

    The services stamp created_at/updated_at/closed_at with timezone.now() and take no
    time argument, so this is the one way to give a demo case a believable timeline.
    """

    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    @contextmanager
    def running(self) -> Iterator[None]:
        real = timezone.now
        timezone.now = self
        try:
            yield
        finally:
            timezone.now = real


@dataclass
class OrderRecord:
    """An order as the case planner sees it: lines with their categories, and its clock."""

    order: Order
    lines: list[OrderLine]
    courier: str
    # When something can first go wrong with it: signed, shipped, paid or placed.
    anchor: datetime


@dataclass
class Demo:
    """What the loader knows while it builds: the random source, the clock, and the rows
    the later stages draw on (people, orders by status, units already claimed)."""

    rng: random.Random
    now: datetime
    shop: Shop | None = None
    channels: dict[str, Channel] = field(default_factory=dict)
    products: list[Product] = field(default_factory=list)
    parts: dict[str, list[tuple[str, Decimal]]] = field(default_factory=dict)
    teams: list[Team] = field(default_factory=list)
    users: dict[str, User] = field(default_factory=dict)
    orders: dict[str, list[OrderRecord]] = field(default_factory=dict)
    used_orders: set[int] = field(default_factory=set)
    claimed: Counter[int] = field(default_factory=Counter)
    tracking_numbers: set[str] = field(default_factory=set)
    # The shop's business calendar: staff act only while the desk is open.
    calendar: Calendar = DEFAULT_CALENDAR

    def __post_init__(self) -> None:
        self.clock = Clock(self.now)

    @property
    def user_by_pk(self) -> dict[int, User]:
        return {user.pk: user for user in self.users.values()}

    def hours(self, low: float, high: float) -> timedelta:
        return timedelta(hours=self.rng.uniform(low, high))

    def lead_of(self, team: int) -> User:
        return next(self.users[p.username] for p in T.PEOPLE if p.lead_of == team)

    def agents_of(self, team: int) -> list[User]:
        return [self.users[p.username] for p in T.PEOPLE if p.role == "agent" and p.team == team]
