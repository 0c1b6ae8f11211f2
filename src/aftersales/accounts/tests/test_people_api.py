"""The people API: a shop's shifts and the deactivation of a member who left."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from aftersales.accounts.models import Shift, Team
from aftersales.accounts.services import user_ensure
from aftersales.cases import services as s
from aftersales.cases.models import Case, CaseEvent
from aftersales.tests import factories as f
from aftersales.tests.contract import assert_error

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=f.NOW.tzinfo)
HOUR = timedelta(hours=1)


@pytest.fixture
def team(shop):
    return Team.objects.create(shop=shop, name="一组", is_default=True)


@pytest.fixture
def shift(shop, agent):
    return Shift.objects.create(shop=shop, user=agent, starts_at=T0, ends_at=T0 + 8 * HOUR)


def _shifts() -> list[tuple]:
    return list(Shift.objects.order_by("pk").values_list("pk", "user_id", "starts_at", "ends_at"))


def _body(user, **kw) -> dict:
    body = {"user_id": user.pk, "starts_at": "2026-03-03T09:00:00+08:00"}
    body["ends_at"] = "2026-03-03T17:00:00+08:00"
    body.update(kw)
    return body


# ----------------------------------------------------------------------------- shifts


def test_a_manager_adds_lists_and_removes_shifts(api_for, manager, agent, shop, team):
    api = api_for(manager)

    resp = api.post(f"/shops/{shop.pk}/shifts", _body(agent, team_id=team.pk))

    assert resp.status_code == 201, resp.content
    created = resp.json()
    shift = Shift.objects.get()
    assert created == {
        "id": shift.pk,
        "shop_id": shop.pk,
        "user_id": agent.pk,
        "username": "agent1",
        "team_id": team.pk,
        "starts_at": "2026-03-03T09:00:00+08:00",
        "ends_at": "2026-03-03T17:00:00+08:00",
    }
    listed = api.get(f"/shops/{shop.pk}/shifts", {"ends_after": "2026-03-03T16:59:00+08:00"})
    assert [row["id"] for row in listed.json()] == [shift.pk]
    later = api.get(f"/shops/{shop.pk}/shifts", {"ends_after": "2026-03-03T17:00:00+08:00"})
    assert later.json() == []

    gone = api.client.delete(f"/api/v1/shops/{shop.pk}/shifts/{shift.pk}", **api.headers)

    assert gone.status_code == 204
    assert _shifts() == []


def test_agents_see_the_rota_but_may_not_change_it(api_for, agent, shop, shift):
    api = api_for(agent)
    assert [row["id"] for row in api.get(f"/shops/{shop.pk}/shifts").json()] == [shift.pk]

    resp = api.post(f"/shops/{shop.pk}/shifts", _body(agent))
    assert_error(resp, 403, "permission.denied", {"permission": "accounts.add_shift"})
    removed = api.client.delete(f"/api/v1/shops/{shop.pk}/shifts/{shift.pk}", **api.headers)
    assert_error(removed, 403, "permission.denied", {"permission": "accounts.delete_shift"})
    assert len(_shifts()) == 1


@pytest.mark.parametrize(
    "changes, fields",
    [
        ({"ends_at": "2026-03-03T09:00:00+08:00"}, {"ends_at"}),
        ({"ends_at": "2026-03-05T09:00:00+08:00"}, {"ends_at"}),
        ({"starts_at": "tomorrow"}, {"starts_at"}),
        ({"starts_at": None}, {"starts_at"}),
        ({"user_id": 0}, {"user_id"}),
        ({"team_id": "x"}, {"team_id"}),
        ({"shift_team": 1}, {"shift_team"}),
    ],
)
def test_bad_shifts_are_refused_with_the_field_and_nothing_written(
    api_for, manager, agent, shop, changes, fields
):
    body = _body(agent, **changes)
    resp = api_for(manager).post(f"/shops/{shop.pk}/shifts", body)

    code = "shift.invalid" if fields == {"ends_at"} else "request.invalid"
    assert_error(resp, 422, code, fields)
    assert _shifts() == []


def test_a_shift_for_a_non_member_or_another_shops_team_is_refused(
    api_for, manager, shop, other_shop
):
    outsider = user_ensure(username="outsider", role="agent", shops=[other_shop])
    their_team = Team.objects.create(shop=other_shop, name="他们")
    api = api_for(manager)

    resp = api.post(f"/shops/{shop.pk}/shifts", _body(outsider))
    assert_error(resp, 422, "shift.invalid", {"user_id": "Not a member of this shop."})
    resp = api.post(f"/shops/{shop.pk}/shifts", _body(manager, team_id=their_team.pk))
    assert_error(resp, 422, "shift.invalid", {"team_id": "Not a team of this shop."})
    assert _shifts() == []


def test_another_shops_shifts_are_not_found(api_for, manager, shop, other_shop):
    theirs = user_ensure(username="theirs", role="agent", shops=[other_shop])
    shift = Shift.objects.create(shop=other_shop, user=theirs, starts_at=T0, ends_at=T0 + HOUR)
    api = api_for(manager)

    assert_error(api.get(f"/shops/{other_shop.pk}/shifts"), 404, "shop.not_found", set())
    resp = api.post(f"/shops/{other_shop.pk}/shifts", _body(theirs))
    assert_error(resp, 404, "shop.not_found", {"shop_id"})
    for path in (
        f"/shops/{other_shop.pk}/shifts/{shift.pk}",
        f"/shops/{shop.pk}/shifts/{shift.pk}",
    ):
        resp = api.client.delete(f"/api/v1{path}", **api.headers)
        assert resp.status_code == 404
    assert len(_shifts()) == 1


# ----------------------------------------------------------------------------- deactivation


def test_a_manager_deactivates_an_agent_and_their_open_cases_return_to_the_queue(
    api_for, manager, agent, shop, order, team
):
    held, ended = (f.case(order, "exchange", "quality_defect") for _ in range(2))
    for case in (held, ended):
        s.case_assign(case=case, actor=None, assignee=agent)
    s.case_close(case=ended, actor=None)
    token_api = api_for(agent)

    resp = api_for(manager).post(f"/shops/{shop.pk}/members/{agent.pk}/actions/deactivate")

    assert resp.status_code == 200, resp.content
    assert resp.json() == {
        "user_id": agent.pk,
        "is_active": False,
        "returned_case_ids": [held.pk],
        "rerouted": 0,
    }
    assert Case.objects.get(pk=held.pk).assignee_id is None
    assert Case.objects.get(pk=ended.pk).assignee_id == agent.pk
    assert CaseEvent.objects.filter(case=held, kind="assign").count() == 2
    assert token_api.get("/cases").status_code == 401  # their token stops working


def test_deactivation_is_refused_for_other_shops_agents_and_without_permission(
    api_for, manager, agent, lead, shop, other_shop
):
    theirs = user_ensure(username="theirs", role="agent", shops=[other_shop])
    both = user_ensure(username="both", role="agent", shops=[shop, other_shop])
    api = api_for(manager)

    resp = api.post(f"/shops/{other_shop.pk}/members/{theirs.pk}/actions/deactivate")
    assert_error(resp, 404, "shop.not_found", set())
    resp = api.post(f"/shops/{shop.pk}/members/{theirs.pk}/actions/deactivate")
    assert_error(resp, 404, "member.not_found", {"user_id"})
    resp = api.post(f"/shops/{shop.pk}/members/{both.pk}/actions/deactivate")
    assert_error(resp, 403, "permission.denied", set())
    resp = api.post(f"/shops/{shop.pk}/members/{manager.pk}/actions/deactivate")
    assert_error(resp, 409, "member.self", set())
    resp = api_for(lead).post(f"/shops/{shop.pk}/members/{agent.pk}/actions/deactivate")
    assert_error(resp, 403, "permission.denied", {"permission": "accounts.deactivate_member"})
    for person in (theirs, both, manager, agent):
        person.refresh_from_db()
        assert person.is_active is True
