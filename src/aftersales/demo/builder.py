"""The demo merchant 栖木生活: its shop, channels, catalog, people, orders and cases.

Everything goes through the services the API uses (order_upsert, product_upsert, the case
actions), so the demo obeys the rules real data obeys; no status is ever set by hand. The
history is replayed on a simulated clock so that timelines read like weeks of work by the
people who would do it, not like one instant. The desk's calendar, targets and rota come
first, so the replayed cases are routed and timed by them; at the end every clock that ran
out has acted, as the worker would have.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from aftersales.accounts.models import Shift, Team
from aftersales.accounts.services import token_create, user_ensure
from aftersales.cases.assignment import queue_drain
from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.states import TERMINAL, CaseStatus
from aftersales.catalog.models import Category, Part, Product
from aftersales.catalog.services import ProductData, product_upsert
from aftersales.channels.models import (
    Channel,
    Customer,
    Order,
    OrderLine,
    Shipment,
    Shop,
)
from aftersales.channels.services import channel_create, shop_create
from aftersales.core.errors import Conflict
from aftersales.core.money import money
from aftersales.demo import texts as T
from aftersales.demo.cases import cases_plan
from aftersales.demo.desk import desk_build, shifts_build
from aftersales.demo.orders import orders_build
from aftersales.demo.replay import case_run
from aftersales.demo.shop import Demo
from aftersales.notify.models import Outbox
from aftersales.policies.services import case_decide
from aftersales.sla.firing import timer_fire, timers_sweep
from aftersales.sla.models import Holiday, Timer, TimerState

DEMO_SHOP_CODE = "demo"
DEMO_SHOP_NAME = "栖木生活旗舰店"
ADMIN_PASSWORD = "admin"
# The shop opened before its oldest order (orders go back about four months).
SHOP_AGE = timedelta(days=180)


# --------------------------------------------------------------------------- entry points


def demo_exists() -> bool:
    return Shop.objects.filter(code=DEMO_SHOP_CODE).exists()


def demo_load(*, orders: int, cases: int, seed: int, now: datetime | None = None) -> dict:
    """Build the demo shop in one transaction and return what was made (with API tokens).

    The same seed and `now` give the same data; `now` defaults to the real time.
    """
    if demo_exists():
        raise Conflict("demo.exists", "The demo shop already exists.")
    demo = Demo(rng=random.Random(seed), now=now or timezone.now())
    with transaction.atomic(), demo.clock.running():
        demo.clock.at = demo.now - SHOP_AGE
        demo.shop = shop_create(code=DEMO_SHOP_CODE, name=DEMO_SHOP_NAME)
        _channels_build(demo)
        _catalog_build(demo)
        admin_password = _people_build(demo)
        desk_build(demo)
        orders_build(demo, orders)
        plans = cases_plan(demo, cases)
        first_day = plans[0].times[0] if plans else demo.now
        shifts_build(demo, timezone.localtime(first_day).date())
        for plan in plans:
            case_run(demo, plan)
        # What the worker would have done by now: every clock that ran out has acted, and
        # the queue is routed to whoever is on shift.
        timers_fired = _clocks_catch_up(demo)
        demo.clock.at = demo.now
        timers_fired += timers_sweep(now=demo.now)
        queue_drain(shop=demo.shop, now=demo.now)
        _recommendations_record(demo)
        tokens = _tokens_create(demo)
        return _summary(demo, admin_password, tokens, timers_fired)


def _clocks_catch_up(demo: Demo) -> int:
    """Fire, at its own due time, each clock that ran out after the last thing that happened
    to its case (a rejection nobody disputed, an answer still owed), as the worker would
    have; returns how many fired. A clock that ran out in the middle of a scripted story is
    left to the sweep at now, which cannot rewrite what happened after it."""
    fired = 0
    passed: list[int] = []
    due = Timer.objects.filter(shop=demo.shop, state=TimerState.PENDING, due_at__lte=demo.now)
    while True:
        timer = due.exclude(pk__in=passed).order_by("due_at", "pk").first()
        if timer is None:
            return fired
        if timer.case_id is not None:
            last = CaseEvent.objects.filter(case_id=timer.case_id).aggregate(at=Max("created_at"))
            if last["at"] > timer.due_at:
                passed.append(timer.pk)
                continue
        demo.clock.at = timer.due_at
        if timer_fire(timer_id=timer.pk, now=timer.due_at) == "fired":
            fired += 1


def _recommendations_record(demo: Demo) -> None:
    """The policy reads every case still waiting for the merchant and records what it would
    do, so the demo shows explanations; the scripted states are left as they are."""
    waiting = Case.objects.filter(shop=demo.shop, status=CaseStatus.AWAITING_MERCHANT)
    for case in waiting.order_by("id"):
        case_decide(case=case, trigger="demo", now=demo.now, apply=False)


# --------------------------------------------------------------------------- shop set-up


def _channels_build(demo: Demo) -> None:
    for kind, code, name in T.CHANNELS:
        demo.channels[code] = channel_create(
            actor=None, shop=demo.shop, kind=kind, code=code, name=name
        )


def _catalog_build(demo: Demo) -> None:
    # There is no category or part service yet; both are plain configuration rows.
    Category.objects.bulk_create(
        [
            Category(
                shop=demo.shop,
                code=c.code,
                name=c.name,
                no_reason_return=c.no_reason_return,
                perishable=c.perishable,
                custom_made=c.custom_made,
                digital=c.digital,
            )
            for c in T.CATEGORIES
        ]
    )
    parts = []
    for category_code, rows in T.PRODUCTS.items():
        for sku, name, price, warranty, price_list in rows:
            data = ProductData(
                sku=sku,
                name=name,
                price=Decimal(price),
                category_code=category_code,
                warranty_months=warranty,
            )
            product, _created = product_upsert(actor=None, shop=demo.shop, data=data)
            demo.products.append(product)
            parts += _parts(demo, product, price_list)
    Part.objects.bulk_create(parts)


def _parts(demo: Demo, product: Product, price_list: str) -> list[Part]:
    """The product's parts price list ("name:price|…"), also kept for repair quotes."""
    parts = []
    for i, entry in enumerate(price_list.split("|"), start=1):
        name, price = entry.rsplit(":", 1)
        parts.append(
            Part(
                shop=demo.shop,
                product=product,
                code=f"{product.sku}-P{i}",
                name=name,
                price=money(price),
            )
        )
    demo.parts[product.sku] = [(part.name, part.price) for part in parts]
    return parts


def _people_build(demo: Demo) -> str | None:
    """Teams and the staff; returns the admin password if this load set it."""
    # There is no team service yet. The first team takes the cases that name no team.
    demo.teams = [
        Team.objects.create(shop=demo.shop, name=name, is_default=i == T.MAIN_TEAM)
        for i, name in enumerate(T.TEAMS)
    ]
    admin_is_new = not User.objects.filter(username="admin").exists()
    for person in T.PEOPLE:
        team = demo.teams[person.team] if person.team is not None else None
        user = user_ensure(username=person.username, role=person.role, shops=[demo.shop], team=team)
        if not user.last_name and not user.first_name:
            user.last_name, user.first_name = person.surname, person.given_name
            user.save(update_fields=["last_name", "first_name"])
        demo.users[person.username] = user
    if not admin_is_new:  # never reset the password of an admin someone already had
        return None
    admin = demo.users["admin"]
    admin.is_superuser = True  # so the Django admin shows every model
    admin.password = make_password(ADMIN_PASSWORD)
    admin.save(update_fields=["is_superuser", "password"])
    return ADMIN_PASSWORD


def _tokens_create(demo: Demo) -> dict[str, tuple[str, str]]:
    """One API token per role, for the first person holding it."""
    tokens: dict[str, tuple[str, str]] = {}
    for person in T.PEOPLE:
        if person.role not in tokens:
            user = demo.users[person.username]
            tokens[person.role] = (user.username, token_create(user=user, name="demo"))
    return tokens


# --------------------------------------------------------------------------- summary


def _summary(
    demo: Demo,
    admin_password: str | None,
    tokens: dict[str, tuple[str, str]],
    timers_fired: int,
) -> dict:
    shop = demo.shop
    cases = Case.objects.filter(shop=shop)
    orders = Order.objects.filter(shop=shop)
    return {
        "shop": {"code": shop.code, "name": shop.name},
        "counts": {
            "channels": Channel.objects.filter(shop=shop).count(),
            "categories": Category.objects.filter(shop=shop).count(),
            "products": Product.objects.filter(shop=shop).count(),
            "parts": Part.objects.filter(shop=shop).count(),
            "customers": Customer.objects.filter(shop=shop).count(),
            "orders": orders.count(),
            "order_lines": OrderLine.objects.filter(shop=shop).count(),
            "shipments": Shipment.objects.filter(shop=shop).count(),
            "cases": cases.count(),
            "case_events": CaseEvent.objects.filter(shop=shop).count(),
            "users": len(T.PEOPLE),
            "holidays": Holiday.objects.filter(shop=shop).count(),
            "shifts": Shift.objects.filter(shop=shop).count(),
            "timers": Timer.objects.filter(shop=shop).count(),
            "outbox": Outbox.objects.filter(shop=shop).count(),
        },
        # Clocks that ran out during the history and acted when the load ended.
        "timers_fired": timers_fired,
        "timers_running": Timer.objects.filter(
            shop=shop, state__in=[TimerState.PENDING, TimerState.PAUSED]
        ).count(),
        "orders_by_status": _count_by(orders, "status"),
        "cases_by_type": _count_by(cases, "type"),
        "cases_by_status": _count_by(cases, "status"),
        "open_cases": cases.exclude(status__in=TERMINAL).count(),
        "users": [
            {
                "username": p.username,
                "role": p.role,
                "name": p.surname + p.given_name,
                "team": T.TEAMS[p.team] if p.team is not None else "",
            }
            for p in T.PEOPLE
        ],
        "admin_password": admin_password,
        "tokens": tokens,
    }


def _count_by(queryset, name: str) -> dict[str, int]:
    rows = queryset.values(name).annotate(n=Count("id")).order_by(name)
    return {row[name]: row["n"] for row in rows}
