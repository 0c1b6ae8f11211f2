"""The machinery every case action shares: access checks, and a transition step that locks
the case, re-checks the move against the table, saves it conditionally and logs it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.accounts.selectors import shop_ids_for
from aftersales.cases.events import event_record
from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.states import (
    CHANNEL,
    PENDING,
    RESUME,
    SAME,
    TERMINAL,
    CaseStatus,
    CaseType,
    allowed_actions,
    target_status,
)
from aftersales.core.errors import Conflict, Forbidden, Invalid, NotFound

# The caller's key for the request in progress (the API's Idempotency-Key header). Every
# event the request writes carries it, so a retry can tell that it already acted.
REQUEST_KEY: ContextVar[str] = ContextVar("aftersales_request_key", default="")

# Called with the case and its new timeline event inside the transaction, after it is filed
# and after every transition (the sla app keeps its timers in step, assignment routes it,
# notify writes the outbox). Empty unless an app registers one in its ready().
TRANSITION_HOOKS: list[Callable[[Case, CaseEvent], None]] = []


# --------------------------------------------------------------------------- access


def _require(actor: AbstractBaseUser | None, perm: str, shop_id: int) -> None:
    """Refuse an actor who may not see the shop (404) or may not take the action (403)."""
    if actor is None:  # the system itself: timers, policy
        return
    if shop_id not in shop_ids_for(actor):
        raise NotFound("case.not_found", _("No such case."))
    if not actor.has_perm(perm):
        raise Forbidden("permission.denied", _("You may not do this."), {"permission": perm})


# --------------------------------------------------------------------------- transitions


@dataclass
class Step:
    """One transition in progress: the locked case, where it goes, what changed."""

    case: Case
    before: str
    to: str
    changed: set[str] = field(default_factory=set)
    data: dict[str, Any] = field(default_factory=dict)

    def set(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self.case, name, value)
            self.changed.add(name)


def _invalid_transition(case: Case, action: str) -> Conflict:
    return Conflict(
        "case.invalid_transition",
        _("A %(type)s case in status %(status)s cannot take the action %(action)s.")
        % {
            "type": CaseType(case.type).label,
            "status": CaseStatus(case.status).label,
            "action": action,
        },
        {
            "action": action,
            "status": case.status,
            "allowed": ",".join(allowed_actions(case.type, case.status)),
        },
    )


@contextmanager
def _step(
    case: Case, actor: AbstractBaseUser | None, action: str, *, note: str = ""
) -> Iterator[Step]:
    """Lock the case, re-check the move, let the caller change it, then save and log it."""
    _require(actor, f"cases.act_{action}", case.shop_id)
    with transaction.atomic():
        # select_for_update serialises writers on PostgreSQL; on SQLite the IMMEDIATE
        # transaction holds the write lock, and the conditional update below re-checks.
        locked = Case.objects.select_for_update().get(pk=case.pk)
        target = target_status(locked.type, action, locked.status)
        if target is None:
            raise _invalid_transition(locked, action)
        step = Step(case=locked, before=locked.status, to=target)
        yield step
        if REQUEST_KEY.get():
            step.data.setdefault("idempotency_key", REQUEST_KEY.get())
        if step.to == SAME:
            step.to = step.before
        if step.to in (RESUME, PENDING, CHANNEL):  # a body that forgot to resolve it is a bug
            raise RuntimeError(f"{action} left its target unresolved")
        step.set(status=step.to, updated_at=timezone.now())
        if step.to in TERMINAL and step.before not in TERMINAL:
            step.set(closed_at=timezone.now())
        values = {name: getattr(locked, name) for name in step.changed}
        updated = Case.objects.filter(pk=locked.pk, status=step.before).update(**values)
        if updated != 1:
            raise Conflict("case.concurrent_update", _("The case changed meanwhile; reload it."))
        event = event_record(
            case=locked,
            kind=action,
            actor=actor,
            from_status=step.before,
            to_status=step.to,
            note=note,
            data=step.data,
        )
        event_announce(locked, event)
    case.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    # Related objects cached on the caller's instance (an old assignee, say) are stale now.
    case._state.fields_cache.clear()


# The one transition step every app's case actions go through (ledger, logistics).
case_step = _step


def action_once(*, case: Case, action: str, key: str, run: Callable[[], object]) -> bool:
    """Run a case action once per caller key. A retry of a request that already acted (or
    that loses the race to its own twin) runs nothing and returns False; True when it ran.
    Without a key every call runs."""
    if not key:
        run()
        return True

    def acted() -> bool:
        return CaseEvent.objects.filter(
            shop_id=case.shop_id, case_id=case.pk, kind=action, data__idempotency_key=key
        ).exists()

    if acted():
        return False
    token = REQUEST_KEY.set(key)
    try:
        run()
    except Conflict:
        # The twin that held the lock first moved the case on; if it was us, that is a replay.
        if acted():
            return False
        raise
    finally:
        REQUEST_KEY.reset(token)
    return True


def event_announce(case: Case, event: CaseEvent) -> None:
    """Tell the apps that hook into cases about a new timeline event: after filing, after
    every action, and for the events the clocks record (warnings, breaches, deadlines)."""
    for hook in TRANSITION_HOOKS:
        hook(case, event)


def _required_text(value: str, name: str) -> str:
    value = (value or "").strip()
    if not value:
        raise Invalid(
            "case.field_required",
            _("%(name)s is required.") % {"name": name},
            {name: _("Required.")},
        )
    return value
