"""Concurrent writers against PostgreSQL: the row lock plus the status re-check let exactly
one of two simultaneous approvals through; the other gets 409 and nothing is written twice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from aftersales.cases.models import Case, CaseEvent
from aftersales.conftest import Api
from aftersales.tests import factories as f
from aftersales.tests.threads import race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks need PostgreSQL (DATABASE_URL)"
    ),
]


def test_two_simultaneous_approvals_one_wins_one_gets_409():
    shop = f.shop("race")
    order = f.order(f.channel(shop))
    case = f.case(order, "refund_only", "quality_defect")
    agents = [f.user("agent", [shop], f"racer{i}") for i in range(2)]
    clients = [Api(f.token(a)) for a in agents]

    responses = race(
        [lambda c=c: c.post(f"/cases/{case.pk}/actions/approve", {}) for c in clients], timeout=30
    )

    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409]
    loser = next(r for r in responses if r.status_code == 409)
    assert loser.json()["error"]["code"] == "case.invalid_transition"
    stored = Case.objects.get(pk=case.pk)
    assert (stored.status, stored.refund_amount) == ("refunding", Decimal("100.00"))
    assert list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True)) == [
        "created",
        "approve",
    ]


def test_many_concurrent_refund_decisions_record_one():
    shop = f.shop("race2")
    order = f.order(f.channel(shop))
    case = f.case(order, "return_refund", "quality_defect")
    Case.objects.filter(pk=case.pk).update(status="inspecting")
    lead = f.user("team_lead", [shop], "lead-race")
    client = Api(f.token(lead))

    responses = race(
        [lambda: client.post(f"/cases/{case.pk}/actions/refund", {}) for _ in range(8)],
        timeout=30,
    )

    assert sorted(r.status_code for r in responses) == [200] + [409] * 7
    assert CaseEvent.objects.filter(case=case, kind="refund").count() == 1
    assert Case.objects.get(pk=case.pk).refund_amount == Decimal("100.00")
