"""Routing under concurrency on PostgreSQL: many cases routed at the same instant never
push an agent past their cap and never hand one turn to two cases."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from django.db import connection

from aftersales.accounts.models import Membership, Shift, Team
from aftersales.accounts.services import user_ensure
from aftersales.cases.assignment import agent_deactivate, case_route
from aftersales.cases.models import Case, CaseEvent
from aftersales.tests import factories as f
from aftersales.tests.threads import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks need PostgreSQL (DATABASE_URL)"
    ),
]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=f.NOW.tzinfo)


def _staffed(code: str, caps: list[int]):
    shop = f.shop(code)
    order = f.order(f.channel(shop))
    team = Team.objects.create(shop=shop, name="一组", is_default=True)
    people = []
    for i, cap in enumerate(caps):
        person = user_ensure(username=f"{code}{i}", role="agent", shops=[shop], team=team)
        Membership.objects.filter(user=person).update(max_open_cases=cap)
        people.append(person)
    return shop, order, people


def _on_shift(shop, people):
    for person in people:
        Shift.objects.create(shop=shop, user=person, starts_at=T0, ends_at=T0 + timedelta(hours=8))


def test_simultaneous_routing_never_exceeds_a_cap_or_reuses_a_turn():
    shop, order, people = _staffed("rr", [2, 3, 1])
    cases = [f.case(order, "exchange", "quality_defect") for _ in range(10)]
    _on_shift(shop, people)  # after filing, so the cases wait in the queue

    results = race([lambda c=c: case_route(case=c, now=T0) for c in cases])

    assert not [r for r in results if isinstance(r, Exception)], results
    held = Counter(
        Case.objects.filter(pk__in=[c.pk for c in cases], assignee__isnull=False).values_list(
            "assignee__username", flat=True
        )
    )
    assert held == {"rr0": 2, "rr1": 3, "rr2": 1}
    assert sum(r is not None for r in results) == 6
    assert CaseEvent.objects.filter(case__in=cases, kind="assign").count() == 6
    turns = sorted(Membership.objects.filter(shop=shop).values_list("assignment_turn", flat=True))
    assert len(set(turns)) == 3 and turns[-1] == 6  # six picks, each its own turn


def test_routing_racing_a_deactivation_leaves_no_case_with_the_departed():
    shop, order, people = _staffed("dd", [50, 50])
    cases = [f.case(order, "exchange", "quality_defect") for _ in range(8)]
    _on_shift(shop, people)
    leaving = people[0]

    calls = [lambda c=c: case_route(case=c, now=T0) for c in cases]
    calls.append(lambda: agent_deactivate(user=leaving, actor=None, now=T0))
    results = race(calls)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert not Case.objects.filter(assignee=leaving).exists()
    assert Case.objects.filter(pk__in=[c.pk for c in cases], assignee=people[1]).count() == 8
