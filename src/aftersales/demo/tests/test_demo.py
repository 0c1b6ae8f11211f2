"""The demo loader: a whole believable shop, every type/status/reason, consistent timelines,
reached only through the services, and the same shop for the same seed."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Sum
from django.db.models.fields.json import KT
from django.test import override_settings
from django.utils import timezone

from aftersales.accounts.models import ApiToken, Membership, Shift, Team
from aftersales.accounts.services import token_authenticate
from aftersales.cases.models import Case, CaseEvent, CaseLine, Escalation, Priority, Reason
from aftersales.cases.services import case_create
from aftersales.cases.states import REFUND_TYPES, TERMINAL, CaseStatus, CaseType
from aftersales.catalog.models import Category, Part, Product
from aftersales.channels.models import Channel, Customer, Order, OrderStatus, Shop
from aftersales.core.errors import Conflict
from aftersales.demo import texts as T
from aftersales.demo.builder import demo_load
from aftersales.notify.models import Outbox
from aftersales.sla.calendar import Span, business_add, is_open
from aftersales.sla.hooks import clock_at
from aftersales.sla.models import (
    BusinessCalendar,
    ClockSetting,
    Holiday,
    SlaTarget,
    Timer,
    TimerKind,
    TimerState,
)
from aftersales.sla.services import calendar_for_shop

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.get_fixed_timezone(8 * 60))
SMALL = {"orders": 60, "cases": 40, "seed": 7}


# The admin password is hashed on every load; the real hasher costs half a second.
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture(scope="class")
def summary(django_db_setup, django_db_blocker):
    """One small demo shared by a class of read-only tests, rolled back after the class."""
    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=FAST_HASHERS),
        transaction.atomic(),
    ):
        yield demo_load(now=NOW, **SMALL)
        transaction.set_rollback(True)


@pytest.fixture
def shop(summary):
    return Shop.objects.get(code="demo")


def _anchor(order: Order) -> datetime:
    return order.signed_at or order.shipped_at or order.paid_at or order.placed_at


# --------------------------------------------------------------------------- one loaded shop


class TestTheLoadedDemo:
    """Facts about one small demo shop (60 orders, 40 cases), loaded once for the class."""

    def test_shop_channels_and_catalog(self, summary, shop):
        assert shop.name == "栖木生活旗舰店"
        assert set(Channel.objects.filter(shop=shop).values_list("code", "kind")) == {
            ("taobao", "taobao"),
            ("pdd", "pdd"),
            ("wechat", "wechat"),
            ("partners", "partner"),
        }
        flags = {
            c.code: (c.no_reason_return, c.perishable, c.custom_made, c.digital)
            for c in Category.objects.filter(shop=shop)
        }
        assert flags == {
            "phone-accessories": (True, False, False, False),
            "digital": (True, False, False, True),
            "small-appliances": (True, False, False, False),
            "home": (True, False, False, False),
            "personal-care": (True, False, False, False),
            "fresh-food": (False, True, False, False),
            "custom-gifts": (False, False, True, False),
        }
        assert Product.objects.filter(shop=shop).count() == 50
        assert Product.objects.filter(shop=shop, category__isnull=True).count() == 0
        assert Part.objects.filter(shop=shop).count() == 106
        assert not Product.objects.filter(shop=shop, parts__isnull=True).exists()
        sweeper = Product.objects.get(shop=shop, sku="QM-HA02")
        assert (sweeper.name, sweeper.price, sweeper.warranty_months) == (
            "扫地机器人 T10",
            Decimal("2499.00"),
            24,
        )
        assert list(sweeper.parts.values_list("code", "name", "price")) == [
            ("QM-HA02-P1", "边刷(2个)", Decimal("29.00")),
            ("QM-HA02-P2", "HEPA滤网", Decimal("39.00")),
            ("QM-HA02-P3", "锂电池", Decimal("299.00")),
        ]
        counts = summary["counts"]
        fixed = ("channels", "categories", "products", "parts", "orders", "cases", "users")
        assert {name: counts[name] for name in fixed} == {
            "channels": 4,
            "categories": 7,
            "products": 50,
            "parts": 106,
            "orders": 60,
            "cases": 40,
            "users": 12,
        }
        assert counts["case_events"] == CaseEvent.objects.filter(shop=shop).count()

    def test_people_roles_teams_and_tokens(self, summary, shop):
        for person in T.PEOPLE:
            user = User.objects.get(username=person.username)
            assert list(user.groups.values_list("name", flat=True)) == [person.role]
            membership = Membership.objects.get(shop=shop, user=user)
            team = membership.team.name if membership.team else None
            assert team == (T.TEAMS[person.team] if person.team is not None else None)
            assert (user.last_name, user.first_name) == (person.surname, person.given_name)
        admin = User.objects.get(username="admin")
        assert admin.is_superuser and admin.is_staff and admin.check_password("admin")
        assert summary["admin_password"] == "admin"
        roles = ["admin", "agent", "team_lead", "manager", "warehouse", "finance", "qa"]
        assert list(summary["tokens"]) == [*roles, "integration"]
        for role, (username, key) in summary["tokens"].items():
            user = token_authenticate(key)
            assert (user.username, role in user.groups.values_list("name", flat=True)) == (
                username,
                True,
            )
        assert ApiToken.objects.count() == 8

    def test_orders_in_every_status_with_consistent_money_and_times(self, shop):
        orders = list(Order.objects.filter(shop=shop).prefetch_related("lines", "shipments"))
        assert {o.status for o in orders} == set(OrderStatus.values)
        assert {o.channel.code for o in orders} <= {"taobao", "pdd", "wechat"}
        for order in orders:
            paid = sum((line.paid_amount for line in order.lines.all()), Decimal("0.00"))
            assert order.total_paid == paid + order.shipping_fee
            for line in order.lines.all():
                assert line.paid_amount == line.unit_price * line.quantity - line.discount
            times = [order.placed_at, order.paid_at, order.shipped_at, order.signed_at]
            known = [t for t in times if t is not None]
            assert known == sorted(known) and known[-1] <= NOW
            shipped = order.status in (OrderStatus.SHIPPED, OrderStatus.SIGNED)
            assert bool(order.shipments.all()) == shipped
            for shipment in order.shipments.all():
                assert shipment.courier in {"顺丰", "中通", "圆通", "韵达"}
            assert re.fullmatch(r"1[3-9]\d{9}", order.customer.phone)

    def test_cases_cover_every_type_status_and_reason(self, shop):
        cases = Case.objects.filter(shop=shop)
        assert set(cases.values_list("type", flat=True)) == set(CaseType.values)
        assert set(cases.values_list("status", flat=True)) == set(CaseStatus.values)
        assert set(cases.values_list("reason", flat=True)) == set(Reason.values)
        assert cases.filter(safety_issue=True, priority_reason="safety").exists()
        assert set(cases.exclude(escalated_to="").values_list("escalated_to", flat=True)) == {
            Escalation.PLATFORM,
            Escalation.REGULATOR,
        }
        no_order = cases.filter(type=CaseType.COMPLAINT, order__isnull=True).exclude(
            payment_reference=""
        )
        assert no_order.exists()
        assert all(re.fullmatch(r"\d{28}", c.payment_reference) for c in no_order)
        for dispute in cases.filter(type=CaseType.PARTNER_DISPUTE):
            assert (dispute.partner.kind, dispute.order_id) == ("partner", None)
            assert dispute.dispute_class and dispute.dispute_nature
        for case in cases.exclude(type=CaseType.PARTNER_DISPUTE):
            assert case.customer_words and case.facts and case.emotion
            assert re.search(r"[\u4e00-\u9fff]", case.customer_words)

    def test_every_timeline_starts_with_created_and_chains(self, shop):
        events = defaultdict(list)
        for event in CaseEvent.objects.filter(shop=shop).order_by("id"):
            events[event.case_id].append(event)
        for case in Case.objects.filter(shop=shop).select_related("order"):
            timeline = events[case.pk]
            first = timeline[0]
            assert (first.kind, first.from_status, first.to_status) == (
                "created",
                "",
                CaseStatus.AWAITING_MERCHANT,
            )
            for before, after in zip(timeline, timeline[1:], strict=False):
                assert before.created_at <= after.created_at, case.reference
            # An entry that names no status (should a clock's warning or breach ever be
            # recorded without one) takes no part in the chain.
            chain = [e for e in timeline if e.from_status or e.to_status]
            for before, after in zip(chain, chain[1:], strict=False):
                assert after.from_status == before.to_status, case.reference
            assert chain[-1].to_status == case.status
            assert case.created_at == first.created_at
            assert timeline[-1].created_at <= NOW
            if case.order:
                assert case.created_at >= _anchor(case.order)
            assert (case.closed_at is not None) == (case.status in TERMINAL)

    def test_no_order_line_is_over_claimed(self, shop):
        live_refunds = (
            CaseLine.objects.filter(shop=shop, case__type__in=REFUND_TYPES)
            .exclude(case__status__in=[CaseStatus.REJECTED, CaseStatus.CLOSED])
            .values("order_line_id", "order_line__quantity")
            .annotate(claimed=Sum("quantity"))
        )
        assert live_refunds
        for row in live_refunds:
            assert row["claimed"] <= row["order_line__quantity"]
        # The loader is stricter still: no unit is claimed twice by any kind of case.
        for row in (
            CaseLine.objects.filter(shop=shop)
            .values("order_line_id", "order_line__quantity")
            .annotate(claimed=Sum("quantity"))
        ):
            assert row["claimed"] <= row["order_line__quantity"]
        for order in Order.objects.filter(shop=shop, cases__refund_amount__isnull=False).distinct():
            refunded = order.cases.exclude(status__in=[CaseStatus.REJECTED, CaseStatus.CLOSED])
            total = refunded.aggregate(total=Sum("refund_amount"))["total"] or Decimal("0.00")
            assert total <= order.total_paid

    def test_the_right_people_act(self, shop):
        labels = defaultdict(set)
        for kind, label in CaseEvent.objects.filter(shop=shop).values_list("kind", "actor_label"):
            labels[kind].add(label)
        assert labels["receive"] == {"liujianguo"}
        assert labels["process"] <= {"liujianguo"}
        assert labels["ship"] <= {"liujianguo"}
        assert labels["record_return"] == {"channel-sync"}
        assert labels["close"] <= {"liqiang", "zhaomin"}
        agents = {p.username for p in T.PEOPLE if p.role == "agent"}
        assert labels["request_info"] <= agents | {"liqiang", "zhaomin", "sunli"}
        # An agent may move at most 200 on their own; above that a lead or manager signs off.
        for case in Case.objects.filter(shop=shop, status=CaseStatus.AWAITING_APPROVAL):
            assert Decimal(case.pending_action["amount"]) > Decimal("200.00")
            assert case.requested_by.username in agents
            assert case.approval_role in ("team_lead", "manager")
        for event in CaseEvent.objects.filter(shop=shop, kind="approve", data__has_key="approved"):
            assert event.actor_label in {"liqiang", "zhaomin", "sunli"}

    def test_staff_work_in_service_hours(self, shop):
        """Staff act while the desk is open: 09:00–24:00, 10:00–18:00 on public holidays."""
        calendar = calendar_for_shop(shop)
        staff = CaseEvent.objects.filter(shop=shop).exclude(
            actor_label__in=["channel-sync", "system"]
        )
        assert staff.exists()
        for event in staff:
            assert is_open(calendar, event.created_at), (event.kind, event.created_at)

    def test_open_cases_are_recent(self, shop):
        """A desk does not leave cases open for months: open ones were touched lately."""
        for case in Case.objects.filter(shop=shop).exclude(status__in=TERMINAL):
            assert NOW - case.updated_at < timedelta(days=8), case.reference

    def test_business_calendar_holidays_and_the_shops_own_targets(self, shop):
        calendar = BusinessCalendar.objects.get(shop=shop)
        assert (calendar.name, calendar.time_zone, calendar.is_default) == (
            "客服工作时间",
            "Asia/Shanghai",
            True,
        )
        assert calendar.weekly_hours == [[["09:00", "24:00"]]] * 7
        # The shop opened on 2026-05-24: the official 2026 days off from then on (端午, 中秋,
        # 国庆 with its two 调休 Saturdays/Sundays), and 2027's New Year's Day.
        duty, workday = [["10:00", "18:00"]], [["09:00", "24:00"]]
        days_off = [
            (date(2026, 6, 19), "端午节"),
            (date(2026, 6, 20), "端午节"),
            (date(2026, 6, 21), "端午节"),
            (date(2026, 9, 25), "中秋节"),
            (date(2026, 9, 26), "中秋节"),
            (date(2026, 9, 27), "中秋节"),
            *[(date(2026, 10, d), "国庆节") for d in range(1, 8)],
            (date(2027, 1, 1), "元旦"),
        ]
        expected = [(day, name, "special_hours", duty) for day, name in days_off]
        expected += [
            (date(2026, 9, 20), "国庆节调休上班", "makeup_workday", workday),
            (date(2026, 10, 10), "国庆节调休上班", "makeup_workday", workday),
        ]
        holidays = Holiday.objects.filter(shop=shop, calendar=calendar)
        assert sorted(holidays.values_list("date", "name", "kind", "spans")) == sorted(expected)
        assert [d.weekday() for d in (date(2026, 9, 20), date(2026, 10, 10))] == [6, 5]
        # The clocks count on it: an hour's answer asked on National Day at 09:00 is due at
        # 11:00, the duty desk opening at 10:00.
        rules = calendar_for_shop(shop)
        national_day = datetime(2026, 10, 1, 9, 0, tzinfo=rules.zone)
        assert business_add(rules, national_day, timedelta(hours=1)) == national_day.replace(
            hour=11
        )
        target = SlaTarget.objects.get(shop=shop)
        assert (
            target.case_type,
            target.priority,
            target.first_response_minutes,
            target.next_response_minutes,
            target.resolution_minutes,
            target.warn_percent,
        ) == (CaseType.COMPLAINT, Priority.URGENT, 30, 120, 480, 80)
        setting = ClockSetting.objects.get(shop=shop)
        assert (setting.channel.code, setting.kind, setting.hours) == (
            "wechat",
            TimerKind.MERCHANT_ANSWER,
            24,
        )

    def test_urgent_complaints_run_on_the_shops_target(self, shop):
        # Money complaints are urgent from the start (others may become so later on).
        urgent = Case.objects.filter(
            shop=shop, type=CaseType.COMPLAINT, priority=Priority.URGENT, priority_reason="money"
        )
        assert urgent.exists()
        first = Timer.objects.filter(case__in=urgent, kind=TimerKind.FIRST_RESPONSE)
        assert first.exists()
        assert set(first.values_list("budget_seconds", flat=True)) == {30 * 60}
        others = Timer.objects.filter(shop=shop, kind=TimerKind.FIRST_RESPONSE).exclude(
            case__type=CaseType.COMPLAINT
        )
        assert set(others.values_list("budget_seconds", flat=True)) == {60 * 60}

    def test_shifts_cover_the_desk_from_the_first_case_to_after_now(self, shop):
        teams = {team.name: team.is_default for team in Team.objects.filter(shop=shop)}
        assert teams == {"售后一组": True, "售后二组": False}
        calendar = calendar_for_shop(shop)
        main_agents = {p.username for p in T.PEOPLE if p.role == "agent" and p.team == 0}
        leads = {"liqiang", "zhaomin"}
        shifts = list(Shift.objects.filter(shop=shop).select_related("user"))
        first = timezone.localtime(Case.objects.filter(shop=shop).earliest("created_at").created_at)
        assert first.date() == date(2026, 8, 4)
        last = (NOW + timedelta(days=3)).date()
        days = [first.date() + timedelta(days=n) for n in range((last - first.date()).days + 1)]
        holidays = [d for d in days if calendar.spans_on(d) != (Span(9 * 60, 24 * 60),)]
        assert len(holidays) == 10  # 中秋 3, 国庆 7 (their 调休 days are full days)
        # A full day: two agents per team and both leads; a holiday: one of each per team.
        assert len(shifts) == 6 * (len(days) - len(holidays)) + 3 * len(holidays) == 642
        for shift in shifts:
            assert shift.team_id is None
            assert is_open(calendar, shift.starts_at)
            assert is_open(calendar, shift.ends_at - timedelta(minutes=1))

        def on_shift(at: datetime) -> set[str]:
            return {s.user.username for s in shifts if s.starts_at <= at < s.ends_at}

        for day in days:
            for span in calendar.spans_on(day):
                opens = datetime.combine(day, time(), tzinfo=calendar.zone) + timedelta(
                    minutes=span.start
                )
                closes = opens + timedelta(minutes=span.end - span.start)
                for at in (opens, opens + (closes - opens) / 2, closes - timedelta(minutes=1)):
                    assert on_shift(at) & main_agents, at
                    assert on_shift(at) & leads, at
        # Nobody is on shift while the desk is closed.
        assert on_shift(NOW.replace(hour=8, minute=59)) == set()
        # In the afternoon overlap both main-team agents are in.
        assert on_shift(NOW.replace(hour=16)) >= main_agents

    def test_a_case_filed_after_loading_is_routed_round_robin(self, shop):
        sync = User.objects.get(username="channel-sync")
        with transaction.atomic(), clock_at(NOW.replace(hour=16)):
            filed = [
                case_create(
                    actor=sync,
                    case_type=CaseType.COMPLAINT,
                    reason=Reason.SERVICE_ATTITUDE,
                    shop=shop,
                    customer_words="客服一直不回消息，到底有没有人管？",
                )
                for _ in range(2)
            ]
            holders = [Case.objects.get(pk=case.pk) for case in filed]
            assert {(c.assignee.username, c.team.name) for c in holders} == {
                ("xiaomei", "售后一组"),
                ("chenyu", "售后一组"),
            }
            transaction.set_rollback(True)

    def test_every_clock_that_ran_out_has_acted(self, summary, shop):
        fired_rows = Timer.objects.filter(shop=shop, state=TimerState.FIRED)
        # Answers given after their target during the replay (no sweep ran meanwhile) were
        # recorded as breaches when they came; the rest fired when the load caught up.
        late_events = CaseEvent.objects.filter(shop=shop, kind="sla_breached", data__late=True)
        late = fired_rows.filter(
            Exists(
                late_events.annotate(target=KT("data__target")).filter(
                    case_id=OuterRef("case_id"),
                    target=OuterRef("kind"),
                    created_at=OuterRef("fired_at"),
                )
            )
        )
        assert late.count() == late_events.count() > 0
        assert set(late.values_list("kind", flat=True)) <= {
            TimerKind.FIRST_RESPONSE,
            TimerKind.NEXT_RESPONSE,
            TimerKind.RESOLUTION,
        }
        assert all(timer.fired_at > timer.due_at for timer in late)
        fired = fired_rows.exclude(pk__in=late)
        assert summary["timers_fired"] == fired.count() == 19
        assert dict(fired.values_list("kind").annotate(n=Count("id"))) == {
            TimerKind.CUSTOMER_DISPUTE: 2,
            TimerKind.FIRST_RESPONSE: 1,
            TimerKind.RESOLUTION: 7,
            TimerKind.WARNING: 9,
        }
        assert not Timer.objects.filter(
            shop=shop, state=TimerState.PENDING, due_at__lte=NOW
        ).exists()
        running = [TimerState.PENDING, TimerState.PAUSED]
        assert (
            summary["timers_running"] == Timer.objects.filter(shop=shop, state__in=running).count()
        )
        for timer in fired:
            assert timer.due_at <= timer.fired_at <= NOW
            assert timer.reason
        # Each left its mark on its case's timeline, at the moment it fired.
        kinds = {
            TimerKind.CUSTOMER_DISPUTE: "appeal_window_closed",
            TimerKind.FIRST_RESPONSE: "sla_breached",
            TimerKind.RESOLUTION: "sla_breached",
            TimerKind.WARNING: "sla_warning",
        }
        for timer in fired:
            assert CaseEvent.objects.filter(
                case_id=timer.case_id, kind=kinds[timer.kind], created_at=timer.fired_at
            ).exists()
        # A rejection nobody disputed became final seven days after it, not at the load.
        for timer in fired.filter(kind=TimerKind.CUSTOMER_DISPUTE):
            assert timer.fired_at < NOW - timedelta(days=1)

    def test_customers_mail_only_reserved_example_domains(self, shop):
        customers = Customer.objects.filter(shop=shop)
        emails = list(customers.exclude(email="").values_list("email", flat=True))
        assert (customers.count(), len(emails)) == (31, 10)
        example = re.compile(r"\d+@example\.(com|net|org)")
        assert all(example.fullmatch(email) for email in emails)
        outbox = Outbox.objects.filter(shop=shop)
        assert dict(outbox.values_list("channel").annotate(n=Count("id"))) == {"email": 42}
        assert all(example.fullmatch(r) for r in outbox.values_list("recipient", flat=True))

    def test_a_second_load_is_refused(self, summary):
        with pytest.raises(Conflict):
            demo_load(now=NOW, **SMALL)

    def test_command_without_if_empty_refuses_an_existing_demo(self, summary):
        before = (Order.objects.count(), Case.objects.count(), ApiToken.objects.count())
        with pytest.raises(CommandError, match="already exists"):
            call_command("demo", orders=5, cases=5, stdout=StringIO())
        assert (Order.objects.count(), Case.objects.count(), ApiToken.objects.count()) == before


# --------------------------------------------------------------------------- determinism


def _snapshot() -> dict:
    orders = [
        (
            o.channel.code,
            o.external_id,
            o.status,
            o.total_paid,
            o.shipping_fee,
            o.placed_at,
            o.paid_at,
            o.shipped_at,
            o.signed_at,
            o.customer.name,
            o.customer.phone,
            [(ln.sku, ln.quantity, ln.unit_price, ln.discount) for ln in o.lines.all()],
            [(s.courier, s.tracking_number) for s in o.shipments.all()],
        )
        for o in Order.objects.filter(shop__code="demo")
        .select_related("channel", "customer")
        .prefetch_related("lines", "shipments")
        .order_by("id")
    ]
    cases = [
        (
            c.type,
            c.status,
            c.reason,
            c.priority,
            c.order.external_id if c.order else None,
            c.customer_words,
            c.facts,
            c.refund_amount,
            c.created_at,
            [(ln.order_line.sku, ln.quantity, ln.grade) for ln in c.lines.all()],
            [
                (e.kind, e.actor_label, e.from_status, e.to_status, e.note, e.created_at)
                for e in c.events.all()
            ],
        )
        for c in Case.objects.filter(shop__code="demo")
        .select_related("order")
        .prefetch_related("lines__order_line", "events")
        .order_by("id")
    ]
    return {"orders": orders, "cases": cases}


def test_same_seed_same_shop_other_seed_other_shop():
    with transaction.atomic():
        demo_load(now=NOW, **SMALL)
        first = _snapshot()
        transaction.set_rollback(True)
    with transaction.atomic():
        demo_load(now=NOW, **(SMALL | {"seed": 8}))
        other = _snapshot()
        transaction.set_rollback(True)
    demo_load(now=NOW, **SMALL)
    again = _snapshot()
    assert len(first["orders"]) == 60 and len(first["cases"]) == 40
    assert again == first
    assert other["cases"] != first["cases"]


def test_a_tiny_demo_still_holds_together():
    summary = demo_load(now=NOW, orders=3, cases=30, seed=1)
    assert summary["counts"]["orders"] == 3
    assert summary["counts"]["cases"] == 30
    assert sum(summary["cases_by_status"].values()) == 30


# --------------------------------------------------------------------------- the command


def test_command_if_empty_loads_once_then_does_nothing():
    out = StringIO()
    call_command("demo", if_empty=True, orders=12, cases=8, seed=3, stdout=out)
    text = out.getvalue()
    assert "Demo shop 栖木生活旗舰店 (demo) loaded" in text
    assert "user admin, password admin" in text
    assert re.search(
        r"^  \d+ holidays and 调休 days, \d+ shifts, \d+ clocks fired by now, \d+ running, "
        r"\d+ messages in the outbox$",
        text,
        re.M,
    )
    for role in ("agent", "team_lead", "manager", "warehouse", "finance", "qa", "admin"):
        assert re.search(rf"^  {role} +\S+ +as_\S+$", text, re.M), role
    counts = (Order.objects.count(), Case.objects.count(), CaseEvent.objects.count())
    assert counts[:2] == (12, 8)

    out = StringIO()
    call_command("demo", if_empty=True, stdout=out)
    assert out.getvalue() == "The demo shop (demo) already exists; nothing loaded.\n"
    assert (Order.objects.count(), Case.objects.count(), CaseEvent.objects.count()) == counts
    assert ApiToken.objects.count() == 8


def test_command_refuses_negative_sizes():
    with pytest.raises(CommandError, match="negative"):
        call_command("demo", orders=-1, stdout=StringIO())
    assert not Shop.objects.filter(code="demo").exists()
