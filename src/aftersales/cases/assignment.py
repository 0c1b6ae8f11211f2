"""Who works a case: round-robin routing within a team among agents on shift, under each
agent's cap of open cases; reassignment up the escalation ladder; and the return of a
departed agent's cases to the queue, so that no case is left with nobody.

Locks are always taken in the same order — the case, then the shop (which serialises every
pick in the shop, so a cap and a round-robin turn are never handed out twice), then the
picked user — and every assignment goes through `case_assign`, so the timeline records it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, User
from django.db import transaction
from django.db.models import Count, Exists, F, IntegerField, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from aftersales.accounts.models import Membership, Shift, Team
from aftersales.accounts.roles import AGENT, ESCALATION_LADDER
from aftersales.accounts.selectors import escalation_rank, team_default
from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.services import case_assign
from aftersales.cases.states import TERMINAL
from aftersales.channels.models import Shop

# Cases one queue_drain call looks at; the worker calls it again on its next sweep.
DRAIN_BATCH = 200


# --------------------------------------------------------------------------- who may take it


def _on_shift(shop_id: int, now: datetime) -> QuerySet[Shift]:
    return Shift.objects.filter(
        shop_id=shop_id, user_id=OuterRef("user_id"), starts_at__lte=now, ends_at__gt=now
    )


def _candidates(
    shop_id: int,
    role: str,
    now: datetime,
    *,
    team_id: int | None = None,
    on_shift: bool = True,
    exclude_user_id: int | None = None,
) -> QuerySet[Membership]:
    """Active members of the role below their cap, next in turn first. With a team: only
    those working for it now (their shift names it, or names no team and they belong to it)."""
    open_cases = (
        Case.objects.filter(shop_id=shop_id, assignee_id=OuterRef("user_id"))
        .exclude(status__in=TERMINAL)
        .order_by()
        .values("assignee_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    members = Membership.objects.filter(
        shop_id=shop_id,
        user__is_active=True,
        user_id__in=User.objects.filter(groups__name=role).values("pk"),
    )
    if exclude_user_id is not None:
        members = members.exclude(user_id=exclude_user_id)
    shifts = _on_shift(shop_id, now)
    if team_id is not None:
        members = members.filter(
            Exists(shifts.filter(team_id=team_id))
            | Q(team_id=team_id) & Exists(shifts.filter(team__isnull=True))
        )
    elif on_shift:
        members = members.filter(Exists(shifts))
    order = ["assignment_turn", "pk"]
    if team_id is None and not on_shift:  # anyone active, those on shift first
        members = members.annotate(on_shift=Exists(shifts))
        order.insert(0, "-on_shift")
    return (
        members.annotate(open_cases=Coalesce(Subquery(open_cases, output_field=IntegerField()), 0))
        .filter(open_cases__lt=F("max_open_cases"))
        .select_related("user")
        .order_by(*order)
    )


def _lock_shop(shop_id: int) -> None:
    # NO KEY: rows that merely reference the shop (new cases, events) must not wait on it.
    list(Shop.objects.select_for_update(no_key=True).filter(pk=shop_id).values_list("pk"))


def _take(members: QuerySet[Membership]) -> Membership | None:
    """The first candidate whose user is still active once their row is locked (a concurrent
    deactivation holds that lock until its sweep of their cases has committed)."""
    passed: list[int] = []
    for _attempt in range(5):
        member = members.exclude(pk__in=passed).first()
        if member is None:
            return None
        locked = User.objects.select_for_update(no_key=True).filter(
            pk=member.user_id, is_active=True
        )
        if list(locked.values_list("pk")):
            return member
        passed.append(member.pk)
    return None


def _give(case: Case, member: Membership, now: datetime, team: Team | None) -> User:
    turn = Membership.objects.filter(shop_id=member.shop_id).aggregate(t=Max("assignment_turn"))
    Membership.objects.filter(pk=member.pk).update(
        assignment_turn=(turn["t"] or 0) + 1, last_assigned_at=now
    )
    case_assign(case=case, actor=None, assignee=member.user, team=team)
    return member.user


def _lock_case(case: Case) -> Case | None:
    """The case, locked, if it is still open; None if it ended meanwhile."""
    locked = Case.objects.select_for_update().get(pk=case.pk)
    return None if locked.status in TERMINAL else locked


# --------------------------------------------------------------------------- routing


def case_route(*, case: Case, now: datetime, team: Team | None = None) -> User | None:
    """Give an unassigned open case to the next agent of its team (the given team, else the
    case's, else the shop's default) who is on shift at `now` and below their cap.

    Returns the assignee, or None when the case was not routed: it is assigned already,
    has ended, has no team to go to, or nobody is free — then it waits in the team queue
    and nothing is written."""
    if team is None and case.team_id is None:
        team = team_default(case.shop_id)
        if team is None:
            return None
    with transaction.atomic():
        locked = _lock_case(case)
        if locked is None or locked.assignee_id is not None:
            return None
        team = team or locked.team
        if team is None or team.shop_id != locked.shop_id:
            return None
        _lock_shop(locked.shop_id)
        member = _take(_candidates(locked.shop_id, AGENT, now, team_id=team.pk))
        if member is None:
            return None
        return _give(case, member, now, team)


def case_route_up(*, case: Case, now: datetime) -> User | None:
    """Give an escalated case to a member of the role its level names (team lead, manager):
    one on shift if any is free, else any active one, in turn and below their cap.

    Returns the new assignee, or None when it stays where it is: it is at level 0, has
    ended, already sits with someone of that rank, or nobody of the role is free."""
    with transaction.atomic():
        locked = _lock_case(case)
        if locked is None or locked.escalation_level == 0:
            return None
        level = min(locked.escalation_level, len(ESCALATION_LADDER) - 1)
        if locked.assignee_id is not None and escalation_rank(locked.assignee) >= level:
            return None
        _lock_shop(locked.shop_id)
        role = ESCALATION_LADDER[level]
        # One query: those on shift first, then any other active member of the role.
        candidates = _candidates(
            locked.shop_id, role, now, on_shift=False, exclude_user_id=locked.assignee_id
        )
        member = _take(candidates)
        if member is None:
            return None
        return _give(case, member, now, locked.team)


def queue_drain(*, shop: Shop, now: datetime, limit: int = DRAIN_BATCH) -> int:
    """Route the shop's waiting cases (open, nobody assigned) as shifts and caps allow,
    most urgent and oldest first; returns how many were assigned. Each case is routed in
    its own transaction, so one refusal does not undo the others."""
    default = team_default(shop.pk)
    waiting = Case.objects.filter(shop=shop, assignee__isnull=True).exclude(status__in=TERMINAL)
    if default is None:
        waiting = waiting.filter(Q(team__isnull=False) | Q(escalation_level__gt=0))
    rows = waiting.order_by("priority", "created_at", "pk").values_list(
        "pk", "team_id", "escalation_level"
    )[:limit]
    full: set[tuple[str, int]] = set()  # queues found with nobody free: skip the rest
    assigned = 0
    for pk, team_id, level in rows:
        queue = ("level", level) if level else ("team", team_id or default.pk)
        if queue in full:
            continue
        case = Case.objects.get(pk=pk)
        user = case_route_up(case=case, now=now) if level else case_route(case=case, now=now)
        if user is not None:
            assigned += 1
        elif case.assignee_id is None:
            full.add(queue)
    return assigned


# --------------------------------------------------------------------------- departures


@dataclass(frozen=True)
class Deactivation:
    user_id: int
    returned: list[int] = field(default_factory=list)  # the cases sent back to a queue
    rerouted: int = 0  # queued cases of the user's shops assigned right after


def agent_deactivate(*, user: User, actor: AbstractBaseUser | None, now: datetime) -> Deactivation:
    """Deactivate the user and return every open case they hold to their team's queue, one
    timeline entry per case; then route the queues of their shops. Running it again for an
    inactive user sweeps any case still left with them."""
    who = actor.get_username() if actor is not None else _("the system")
    note = _("Returned to the queue: %(user)s was deactivated by %(actor)s.") % {
        "user": user.get_username(),
        "actor": who,
    }
    returned: list[int] = []
    with transaction.atomic():
        # Holding the user's row makes routing that picked them wait, then skip them.
        User.objects.filter(pk=user.pk).update(is_active=False)
        user.is_active = False
        member_teams = dict(Membership.objects.filter(user=user).values_list("shop_id", "team_id"))
        held = Case.objects.filter(assignee=user).exclude(status__in=TERMINAL).order_by("pk")
        for pk in held.values_list("pk", flat=True):
            case = _lock_case(Case(pk=pk))
            if case is None or case.assignee_id != user.pk:
                continue
            team_id = case.team_id or member_teams.get(case.shop_id)
            team = Team.objects.get(pk=team_id) if team_id else team_default(case.shop_id)
            case_assign(case=case, actor=None, assignee=None, team=team, note=note)
            returned.append(pk)
    shops = Shop.objects.filter(pk__in=member_teams).order_by("pk")
    rerouted = sum(queue_drain(shop=shop, now=now) for shop in shops)
    return Deactivation(user_id=user.pk, returned=returned, rerouted=rerouted)


# --------------------------------------------------------------------------- hook


def _clock() -> datetime:
    # The sla sweeper runs transitions at a clock of its choosing; route at the same one.
    from aftersales.sla.hooks import clock_now

    return clock_now()


def case_transitioned(case: Case, event: CaseEvent) -> None:
    """Registered in TRANSITION_HOOKS: route a new case; move an escalated or appealed case
    up to the role its level names. Assignments (our own included) are ignored."""
    if event.kind == "created":
        case_route(case=case, now=_clock())
    elif event.kind == "appeal" or (event.kind == "escalate" and "escalated_to" not in event.data):
        case_route_up(case=case, now=_clock())


def queues_drain(*, now: datetime) -> int:
    """The worker's beat: drain the queues of every shop with somebody on shift now."""
    shop_ids = (
        Shift.objects.filter(starts_at__lte=now, ends_at__gt=now)
        .values_list("shop_id", flat=True)
        .distinct()
    )
    return sum(queue_drain(shop=shop, now=now) for shop in Shop.objects.filter(pk__in=shop_ids))
