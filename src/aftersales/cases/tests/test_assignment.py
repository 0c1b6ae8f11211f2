"""Routing: round-robin among agents on shift under their caps, escalation up the ladder,
the queue drained as people come free, and a departed agent's cases returned to the queue.

Every test passes the moment explicitly (or files and moves cases inside the sweeper's
clock), far from the wall clock, so a case filed outside `clock_at` is never routed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from aftersales.accounts.models import Membership, Shift, Team
from aftersales.accounts.services import user_ensure
from aftersales.cases import services as s
from aftersales.cases.assignment import agent_deactivate, case_route, queue_drain
from aftersales.cases.models import Case, CaseEvent, Priority
from aftersales.sla.hooks import clock_at
from aftersales.tests import factories as f

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=f.NOW.tzinfo)
HOUR = timedelta(hours=1)


@pytest.fixture
def team(shop):
    return Team.objects.create(shop=shop, name="一组", is_default=True)


@pytest.fixture
def agents(shop, team):
    """Three agents of the team, on shift 09:00–17:00 on T0's day."""
    people = [
        user_ensure(username=f"a{i}", role="agent", shops=[shop], team=team) for i in (1, 2, 3)
    ]
    for person in people:
        Shift.objects.create(shop=shop, user=person, starts_at=T0, ends_at=T0 + 8 * HOUR)
    return people


def _queued(order, n: int, **kw) -> list[Case]:
    """Cases filed at the wall clock, when nobody is on shift: they wait in the queue."""
    return [f.case(order, "exchange", "quality_defect", **kw) for _ in range(n)]


def _cap(user, cap: int) -> None:
    Membership.objects.filter(user=user).update(max_open_cases=cap)


def _names(cases) -> list[str | None]:
    return [
        c.assignee.username if c.assignee_id else None
        for c in Case.objects.filter(pk__in=[c.pk for c in cases]).order_by("pk")
    ]


def _kinds(case) -> list[str]:
    return list(CaseEvent.objects.filter(case=case).order_by("pk").values_list("kind", flat=True))


# ----------------------------------------------------------------------------- round-robin


def test_round_robin_gives_each_agent_a_turn_in_order(order, agents, team):
    cases = _queued(order, 7)
    picked = [case_route(case=c, now=T0) for c in cases]

    assert [u.username for u in picked] == ["a1", "a2", "a3", "a1", "a2", "a3", "a1"]
    assert _names(cases) == ["a1", "a2", "a3", "a1", "a2", "a3", "a1"]
    first = Case.objects.get(pk=cases[0].pk)
    assert (first.team_id, first.status) == (team.pk, "awaiting_merchant")
    event = CaseEvent.objects.filter(case=first).latest("pk")
    assert (event.kind, event.actor_id, event.actor_label) == ("assign", None, "system")
    assert event.data == {"from_assignee": None, "assignee": agents[0].pk, "team": team.pk}
    assert _kinds(first) == ["created", "assign"]
    assert cases[0].assignee == agents[0]  # the caller's object is kept in step
    turns = Membership.objects.filter(user__in=agents).order_by("user__username")
    assert [(m.assignment_turn, m.last_assigned_at) for m in turns] == [
        (7, T0),
        (5, T0),
        (6, T0),
    ]


def test_an_assigned_or_ended_case_is_not_routed(order, agents):
    taken, ended = _queued(order, 2)
    s.case_assign(case=taken, actor=None, assignee=agents[2])
    s.case_close(case=ended, actor=None)

    assert case_route(case=taken, now=T0) is None
    assert case_route(case=ended, now=T0) is None
    assert _names([taken, ended]) == ["a3", None]
    assert _kinds(taken) == ["created", "assign"]
    assert _kinds(ended) == ["created", "close"]


def test_a_capped_agent_is_skipped_and_all_capped_leaves_the_case_queued(order, agents):
    _cap(agents[0], 1)
    _cap(agents[1], 2)
    _cap(agents[2], 1)
    cases = _queued(order, 5)

    picked = [case_route(case=c, now=T0) for c in cases]

    assert [u and u.username for u in picked] == ["a1", "a2", "a3", "a2", None]
    last = Case.objects.get(pk=cases[-1].pk)
    assert (last.assignee_id, last.team_id) == (None, None)
    assert _kinds(last) == ["created"]  # nothing written for a case nobody can take


def test_ended_cases_do_not_count_against_the_cap(order, agents):
    _cap(agents[0], 1)
    for person in agents[1:]:
        _cap(person, 0)
    first, second = _queued(order, 2)
    assert case_route(case=first, now=T0) == agents[0]
    assert case_route(case=second, now=T0) is None

    s.case_close(case=first, actor=None)

    assert case_route(case=second, now=T0) == agents[0]


def test_agents_off_shift_are_skipped(order, agents):
    Shift.objects.filter(user=agents[1]).update(ends_at=T0 + HOUR)
    cases = _queued(order, 4)

    picked = [case_route(case=c, now=T0 + 2 * HOUR) for c in cases]

    assert [u.username for u in picked] == ["a1", "a3", "a1", "a3"]


def test_shift_boundaries_are_exact(order, agents, shop, team):
    Shift.objects.filter(user__in=agents[1:]).delete()
    tick = timedelta(microseconds=1)
    cases = _queued(order, 4)

    assert case_route(case=cases[0], now=T0 - tick) is None
    assert case_route(case=cases[0], now=T0) == agents[0]  # a shift starts on its first instant
    assert case_route(case=cases[1], now=T0 + 8 * HOUR - tick) == agents[0]
    assert case_route(case=cases[2], now=T0 + 8 * HOUR) is None  # and has ended at its end
    assert _names(cases) == ["a1", "a1", None, None]


def test_only_agents_of_the_team_or_on_a_shift_for_it_are_routed_its_cases(order, shop, team):
    other = Team.objects.create(shop=shop, name="二组")
    mine = user_ensure(username="mine", role="agent", shops=[shop], team=team)
    theirs = user_ensure(username="theirs", role="agent", shops=[shop], team=other)
    lent = user_ensure(username="lent", role="agent", shops=[shop], team=other)
    lead = user_ensure(username="lead", role="team_lead", shops=[shop], team=team)
    for person in (mine, theirs, lead):
        Shift.objects.create(shop=shop, user=person, starts_at=T0, ends_at=T0 + HOUR)
    # Lent to the first team for this shift.
    Shift.objects.create(shop=shop, user=lent, team=team, starts_at=T0, ends_at=T0 + HOUR)
    cases = _queued(order, 4)

    picked = [case_route(case=c, now=T0) for c in cases]

    assert [u.username for u in picked] == ["mine", "lent", "mine", "lent"]
    assert case_route(case=_queued(order, 1)[0], now=T0, team=other).username == "theirs"


def test_inactive_agents_are_not_routed_cases(order, agents):
    agents[0].is_active = False
    agents[0].save()
    cases = _queued(order, 2)
    assert [case_route(case=c, now=T0).username for c in cases] == ["a2", "a3"]


def test_without_a_default_team_a_case_naming_no_team_stays_unrouted(order, agents, team):
    Team.objects.filter(pk=team.pk).update(is_default=False)
    case = _queued(order, 1)[0]
    assert case_route(case=case, now=T0) is None
    assert case_route(case=case, now=T0, team=team) == agents[0]


# ----------------------------------------------------------------------------- hook


def test_a_new_case_is_routed_when_filed_and_not_when_nobody_is_on_shift(order, agents):
    with clock_at(T0 + HOUR):
        routed = f.case(order, "exchange", "quality_defect")
    with clock_at(T0 + 9 * HOUR):
        waiting = f.case(order, "exchange", "quality_defect")

    assert routed.assignee == agents[0]
    assert _kinds(routed) == ["created", "assign"]
    assert Case.objects.get(pk=routed.pk).assignee_id == agents[0].pk
    assert (waiting.assignee_id, _kinds(waiting)) == (None, ["created"])


def test_escalation_moves_the_case_to_a_team_lead_then_a_manager(order, shop, agents):
    leads = [user_ensure(username=f"lead{i}", role="team_lead", shops=[shop]) for i in (1, 2)]
    boss = user_ensure(username="boss", role="manager", shops=[shop])
    Shift.objects.create(shop=shop, user=leads[1], starts_at=T0, ends_at=T0 + 8 * HOUR)
    with clock_at(T0):
        case = f.case(order, "exchange", "quality_defect")
        assert case.assignee_id == agents[0].pk
        s.case_escalate(case=case, actor=agents[0], note="客户要求主管处理")
        assert case.assignee_id == leads[1].pk  # the lead on shift, though lead1 is next
        s.case_escalate(case=case, actor=leads[1])
        assert case.assignee_id == boss.pk  # no manager on shift: any active one

    stored = Case.objects.get(pk=case.pk)
    assert (stored.assignee_id, stored.escalation_level) == (boss.pk, 2)
    assert _kinds(case) == ["created", "assign", "escalate", "assign", "escalate", "assign"]
    moves = CaseEvent.objects.filter(case=case, kind="assign").order_by("pk")
    assert [(e.data["from_assignee"], e.data["assignee"]) for e in moves] == [
        (None, agents[0].pk),
        (agents[0].pk, leads[1].pk),
        (leads[1].pk, boss.pk),
    ]


def test_an_outside_escalation_or_nobody_of_the_role_keeps_the_assignee(order, agents):
    with clock_at(T0):
        case = f.case(order, "exchange", "quality_defect")
        s.case_escalate(case=case, actor=agents[0], escalated_to="platform_arbitration")
        assert (case.assignee_id, case.priority) == (agents[0].pk, Priority.URGENT)
        s.case_escalate(case=case, actor=agents[0])  # no team lead in the shop

    assert Case.objects.get(pk=case.pk).assignee_id == agents[0].pk
    assert _kinds(case) == ["created", "assign", "escalate", "escalate"]


def test_an_appeal_reopens_with_someone_of_the_higher_role(order, shop, agents):
    lead = user_ensure(username="lead", role="team_lead", shops=[shop])
    with clock_at(T0):
        case = f.case(order, "exchange", "quality_defect")
        s.case_reject(case=case, actor=agents[0], note="超过七天")
    with clock_at(T0 + HOUR):
        s.case_appeal(case=case, actor=None, note="签收才5天")

    assert (case.status, case.escalation_level, case.assignee_id) == (
        "awaiting_merchant",
        1,
        lead.pk,
    )


# ----------------------------------------------------------------------------- queue


def test_the_queue_drains_most_urgent_then_oldest_as_capacity_allows(order, shop, agents):
    for person in agents:
        _cap(person, 1)
    Shift.objects.filter(user=agents[2]).delete()
    normal_old, normal_new = _queued(order, 2)
    urgent = f.case(order, "exchange", "quality_defect", safety_issue=True)
    assert urgent.priority < normal_old.priority

    assert queue_drain(shop=shop, now=T0) == 2
    assert _names([normal_old, normal_new, urgent]) == ["a2", None, "a1"]
    assert _kinds(normal_new) == ["created"]

    Shift.objects.create(shop=shop, user=agents[2], starts_at=T0, ends_at=T0 + HOUR)
    assert queue_drain(shop=shop, now=T0) == 1
    assert _names([normal_new]) == ["a3"]
    assert queue_drain(shop=shop, now=T0) == 0


def test_the_queue_gives_escalated_cases_to_their_role(order, shop, agents):
    case = _queued(order, 1)[0]
    s.case_escalate(case=case, actor=None)  # escalated before the shop had a team lead
    assert case.assignee_id is None
    user_ensure(username="lead", role="team_lead", shops=[shop])

    assert queue_drain(shop=shop, now=T0) == 1
    assert _names([case]) == ["lead"]


# ----------------------------------------------------------------------------- departures


def test_deactivation_returns_exactly_the_open_cases_and_routes_them_on(
    order, shop, agents, manager, team
):
    leaving = agents[0]
    held = _queued(order, 3)
    for case in held:
        s.case_assign(case=case, actor=None, assignee=leaving)
    s.case_close(case=held[2], actor=None)
    someone_elses = _queued(order, 1)[0]
    s.case_assign(case=someone_elses, actor=None, assignee=agents[1])

    result = agent_deactivate(user=leaving, actor=manager, now=T0)

    leaving.refresh_from_db()
    assert leaving.is_active is False
    assert (result.returned, result.rerouted) == ([held[0].pk, held[1].pk], 2)
    # Nobody has had a turn yet (the cases were assigned by hand): a2, then a3.
    assert _names(held + [someone_elses]) == ["a2", "a3", "a1", "a2"]
    for case in held[:2]:
        assert _kinds(case) == ["created", "assign", "assign", "assign"]
        back = CaseEvent.objects.filter(case=case, kind="assign").order_by("pk")[1]
        assert back.data == {"from_assignee": leaving.pk, "assignee": None, "team": team.pk}
        assert back.note == "Returned to the queue: a1 was deactivated by manager1."
    assert _kinds(held[2]) == ["created", "assign", "close"]  # ended cases stay as they were
    assert Case.objects.get(pk=held[2].pk).team_id is None


def test_deactivation_with_nobody_on_shift_leaves_the_cases_in_the_team_queue(
    order, shop, agents, team
):
    case = _queued(order, 1)[0]
    s.case_assign(case=case, actor=None, assignee=agents[0])

    result = agent_deactivate(user=agents[0], actor=None, now=T0 + 12 * HOUR)

    assert (result.returned, result.rerouted) == ([case.pk], 0)
    stored = Case.objects.get(pk=case.pk)
    assert (stored.assignee_id, stored.team_id) == (None, team.pk)
    assert queue_drain(shop=shop, now=T0) == 1
    assert _names([case]) == ["a2"]


def test_deactivating_again_sweeps_cases_left_with_an_inactive_user(order, agents):
    case = _queued(order, 1)[0]
    s.case_assign(case=case, actor=None, assignee=agents[0])
    agents[0].is_active = False
    agents[0].save()  # deactivated behind the service's back

    result = agent_deactivate(user=agents[0], actor=None, now=T0)

    assert result.returned == [case.pk]
    assert _names([case]) == ["a2"]
