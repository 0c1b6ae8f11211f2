"""Constructors for timeline entries; each writes one append-only CaseEvent row."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from aftersales.cases.models import Case, CaseEvent

SYSTEM = "system"


def _actor_label(actor: AbstractBaseUser | None) -> str:
    return actor.get_username() if actor is not None else SYSTEM


def event_record(
    *,
    case: Case,
    kind: str,
    actor: AbstractBaseUser | None,
    from_status: str = "",
    to_status: str = "",
    note: str = "",
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    return CaseEvent.objects.create(
        shop_id=case.shop_id,
        case=case,
        kind=kind,
        actor=actor,
        actor_label=_actor_label(actor),
        from_status=from_status,
        to_status=to_status,
        note=note,
        data=data or {},
    )


def event_case_created(
    *, case: Case, actor: AbstractBaseUser | None, lines: list | None = None
) -> CaseEvent:
    return event_record(
        case=case,
        kind="created",
        actor=actor,
        to_status=case.status,
        data={
            "type": case.type,
            "reason": case.reason,
            "priority": case.priority,
            "lines": [
                {"order_line": cl.order_line_id, "quantity": cl.quantity}
                for cl in (lines if lines is not None else case.lines.all())
            ],
        },
    )


def event_evidence_added(
    *, case: Case, actor: AbstractBaseUser | None, evidence_id: int, kind: str, name: str
) -> CaseEvent:
    return event_record(
        case=case,
        kind="evidence_added",
        actor=actor,
        from_status=case.status,
        to_status=case.status,
        data={"evidence": evidence_id, "kind": kind, "name": name},
    )
