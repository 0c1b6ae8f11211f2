"""Deactivating a person in the admin (unticking "active") goes through agent_deactivate:
their open cases return to the team queue with a timeline entry each."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from aftersales.accounts.models import Membership, Team
from aftersales.accounts.services import user_ensure
from aftersales.cases import services as s
from aftersales.cases.models import Case, CaseEvent
from aftersales.tests import factories as f


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root", password="x")


@pytest.fixture
def admin_client_(root):
    client = Client()
    client.force_login(root)
    return client


def _change_form(user: User, **changes) -> dict:
    """The user's change form as the admin page would post it back."""
    memberships = list(Membership.objects.filter(user=user).order_by("pk"))
    data = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "groups": [str(g.pk) for g in user.groups.all()],
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "memberships-TOTAL_FORMS": str(len(memberships)),
        "memberships-INITIAL_FORMS": str(len(memberships)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for i, m in enumerate(memberships):
        data.update(
            {
                f"memberships-{i}-id": str(m.pk),
                f"memberships-{i}-user": str(user.pk),
                f"memberships-{i}-shop": str(m.shop_id),
                f"memberships-{i}-team": str(m.team_id or ""),
                f"memberships-{i}-max_open_cases": str(m.max_open_cases),
            }
        )
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_unticking_active_in_the_admin_returns_the_open_cases(admin_client_, order, shop):
    team = Team.objects.create(shop=shop, name="一组")
    leaving = user_ensure(username="leaving", role="agent", shops=[shop], team=team)
    open_case, ended = (f.case(order, "exchange", "quality_defect") for _ in range(2))
    for case in (open_case, ended):
        s.case_assign(case=case, actor=None, assignee=leaving)
    s.case_close(case=ended, actor=None)

    resp = admin_client_.post(
        f"/admin/auth/user/{leaving.pk}/change/", _change_form(leaving, is_active=None)
    )

    assert resp.status_code == 302, resp.content.decode()[:3000]
    leaving.refresh_from_db()
    assert leaving.is_active is False
    stored = Case.objects.get(pk=open_case.pk)
    assert (stored.assignee_id, stored.team_id) == (None, team.pk)
    back = CaseEvent.objects.filter(case=open_case).latest("pk")
    assert (back.kind, back.data["from_assignee"], back.data["assignee"]) == (
        "assign",
        leaving.pk,
        None,
    )
    assert back.note == "Returned to the queue: leaving was deactivated by root."
    assert Case.objects.get(pk=ended.pk).assignee_id == leaving.pk


def test_saving_an_active_user_in_the_admin_moves_no_case(admin_client_, order, shop):
    staying = user_ensure(username="staying", role="agent", shops=[shop])
    case = f.case(order, "exchange", "quality_defect")
    s.case_assign(case=case, actor=None, assignee=staying)

    resp = admin_client_.post(
        f"/admin/auth/user/{staying.pk}/change/", _change_form(staying, first_name="Li")
    )

    assert resp.status_code == 302
    staying.refresh_from_db()
    assert (staying.is_active, staying.first_name) == (True, "Li")
    assert Case.objects.get(pk=case.pk).assignee_id == staying.pk
    assert CaseEvent.objects.filter(case=case).count() == 2
