"""Reads of cases, always scoped to the shops the actor may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext as _

from aftersales.accounts.selectors import shop_ids_for
from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.states import TERMINAL
from aftersales.core.errors import NotFound


def cases_visible(actor: AbstractBaseUser) -> QuerySet[Case]:
    return Case.objects.filter(shop_id__in=shop_ids_for(actor))


def case_get_for_actor(actor: AbstractBaseUser, case_id: int) -> Case:
    """The one way to load a case by id: 404 unless the actor's shops include it."""
    case = (
        cases_visible(actor)
        # The detail shows the order and the assignee; the other relations only as ids.
        .select_related("order", "assignee")
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        raise NotFound("case.not_found", _("No such case."))
    return case


@dataclass(frozen=True)
class CaseFilters:
    status: list[str] | None = None
    type: list[str] | None = None
    channel_id: int | None = None
    priority: int | None = None
    reason: str | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    shop_id: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    # Breaching soon: an SLA target (first/next response, resolution) runs out by this time,
    # or already has, and the case is still open (DESIGN §3 item 9's queue).
    sla_due_by: datetime | None = None


def _sla_due_by(qs: QuerySet[Case], moment: datetime) -> QuerySet[Case]:
    timer = apps.get_model("sla", "Timer")  # sla builds on cases: no import at load time
    targets = timer.objects.filter(
        shop_id=OuterRef("shop_id"),
        case_id=OuterRef("pk"),
        state="pending",
        kind__in=["first_response", "next_response", "resolution"],
        due_at__lte=moment,
    )
    return qs.exclude(status__in=TERMINAL).filter(Exists(targets))


def cases_matching(actor: AbstractBaseUser, filters: CaseFilters) -> QuerySet[Case]:
    """The actor's cases under the filters (the list pages them, the export streams them)."""
    qs = cases_visible(actor)
    if filters.shop_id is not None:
        qs = qs.filter(shop_id=filters.shop_id)
    if filters.status:
        qs = qs.filter(status__in=filters.status)
    if filters.type:
        qs = qs.filter(type__in=filters.type)
    if filters.channel_id is not None:
        qs = qs.filter(channel_id=filters.channel_id)
    if filters.priority is not None:
        qs = qs.filter(priority=filters.priority)
    if filters.reason:
        qs = qs.filter(reason=filters.reason)
    if filters.assignee_id is not None:
        qs = qs.filter(assignee_id=filters.assignee_id)
    if filters.unassigned:
        qs = qs.filter(assignee__isnull=True)
    if filters.created_from is not None:
        qs = qs.filter(created_at__gte=filters.created_from)
    if filters.created_to is not None:
        qs = qs.filter(created_at__lt=filters.created_to)
    if filters.sla_due_by is not None:
        qs = _sla_due_by(qs, filters.sla_due_by)
    return qs


def cases_list(
    actor: AbstractBaseUser, filters: CaseFilters, *, before_id: int | None, limit: int
) -> tuple[list[Case], int | None]:
    """One keyset page, newest first. Returns (cases, cursor for the next page or None)."""
    qs = cases_matching(actor, filters)
    if before_id is not None:
        qs = qs.filter(pk__lt=before_id)
    # Pick the page's ids on the narrow index first, then load those rows with their joins:
    # SQLite would otherwise sort whole joined rows when several shops are visible.
    page_ids = list(qs.order_by("-pk").values_list("pk", flat=True)[: limit + 1])
    rows = list(
        Case.objects.filter(pk__in=page_ids).select_related("order", "assignee").order_by("-pk")
    )
    next_cursor = rows[limit - 1].pk if len(rows) > limit else None
    return rows[:limit], next_cursor


def case_timeline(case: Case) -> QuerySet[CaseEvent]:
    return CaseEvent.objects.filter(shop_id=case.shop_id, case=case).order_by("id")
