"""The cases export: every case the list would show under the same filters, one row each, as
CSV or XLSX. Statuses, types and outcomes go out as their stable codes, not their labels."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from aftersales.cases.models import Case
from aftersales.cases.selectors import CaseFilters, cases_matching
from aftersales.channels.models import Channel, Order
from aftersales.core.tabular import (
    Table,
    column_title,
    export_filename,
    keyset_pages,
    local_time,
)


def cases_table(actor: AbstractBaseUser, filters: CaseFilters) -> Table:
    """The actor's cases under the list's filters, newest first."""
    header = [
        column_title(Case),
        column_title(Case, "type"),
        column_title(Case, "status"),
        column_title(Channel),
        column_title(Case, "channel_status"),
        column_title(Order, "external_id"),
        column_title(Case, "reason"),
        column_title(Case, "priority"),
        column_title(Case, "refund_amount"),
        column_title(Case, "outcome"),
        _("Assignee"),
        column_title(Case, "created_at"),
        column_title(Case, "closed_at"),
    ]
    cases = _cases(cases_matching(actor, filters))
    return Table(
        capfirst(str(Case._meta.verbose_name_plural)),
        header,
        (_case_row(case) for case in cases),
    )


def _cases(matching: QuerySet[Case]) -> Iterator[Case]:
    for ids in keyset_pages(matching):
        yield from (
            Case.objects.filter(pk__in=ids)
            .select_related("channel", "order", "assignee")
            .order_by("-pk")
        )


def _case_row(case: Case) -> list[Any]:
    return [
        case.reference,
        case.type,
        case.status,
        case.channel.code if case.channel_id else "",
        case.channel_status,
        case.order.external_id if case.order_id else "",
        case.reason,
        case.priority,
        case.refund_amount,
        case.outcome,
        case.assignee.get_username() if case.assignee_id else "",
        local_time(case.created_at),
        local_time(case.closed_at),
    ]


def cases_filename(format: str) -> str:
    return export_filename("cases", f"{timezone.localtime():%Y%m%d-%H%M%S}", format=format)
