"""Refund decisions and approvals: how much, by which method, and who must approve it."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Sum
from django.utils.translation import gettext as _

from aftersales.accounts.roles import APPROVAL_LIMITS, ESCALATION_LADDER, ROLE_LABELS
from aftersales.accounts.selectors import approval_limit
from aftersales.cases.models import Case, RefundMethod
from aftersales.cases.states import CaseStatus
from aftersales.cases.transitions import Step, _invalid_transition, target_status
from aftersales.core.errors import Forbidden, Invalid
from aftersales.core.money import ZERO, money

# --------------------------------------------------------------------------- refunds


def _refund_default(case: Case) -> Decimal:
    """The claimed units' share of what was paid, prorated by the policy money module."""
    from aftersales.policies.facts import case_refund_amount  # policies builds on cases

    return case_refund_amount(case)


def _refund_cap(case: Case) -> Decimal:
    """What the order still has to give back: paid minus what other cases already took."""
    if case.order_id is None:
        return ZERO
    taken = (
        Case.objects.filter(
            shop_id=case.shop_id, order_id=case.order_id, refund_amount__isnull=False
        )
        .exclude(pk=case.pk)
        .exclude(status__in=[CaseStatus.REJECTED, CaseStatus.CLOSED])
        .aggregate(total=Sum("refund_amount"))["total"]
        or ZERO
    )
    return money(case.order.total_paid - taken)


def _role_for_amount(amount: Decimal) -> str:
    """The lowest role on the ladder that may move this amount on its own."""
    for role in ESCALATION_LADDER:
        limit = APPROVAL_LIMITS.get(role)
        if limit is None or amount <= limit:
            return role
    return ESCALATION_LADDER[-1]


def _decide_refund(
    step: Step,
    actor: AbstractBaseUser | None,
    action: str,
    amount: Decimal | None,
    method: str,
    approval_role: str = "",
) -> None:
    """Record the refund, or — above the actor's limit or when the policy asks for it — hand
    it to a higher role (awaiting_approval)."""
    case = step.case
    if method not in RefundMethod.values:
        raise Invalid("case.invalid", _("Unknown refund method."), {"refund_method": method})
    amount = _refund_default(case) if amount is None else money(amount)
    cap = _refund_cap(case)
    if amount <= ZERO:
        raise Invalid(
            "refund.amount_invalid", _("The refund must be above zero."), {"amount": str(amount)}
        )
    if amount > cap:
        raise Invalid(
            "refund.amount_exceeds_paid",
            _("At most %(cap)s can still be refunded on this order.") % {"cap": cap},
            {"amount": _("At most %(cap)s.") % {"cap": cap}},
        )
    step.data.update({"amount": str(amount), "refund_method": method})
    limit = approval_limit(actor) if actor is not None else None
    if approval_role or (limit is not None and amount > limit):
        role = approval_role or _role_for_amount(amount)
        step.to = CaseStatus.AWAITING_APPROVAL
        step.set(
            pending_action={
                "action": action,
                "from": step.before,
                "amount": str(amount),
                "refund_method": method,
            },
            approval_role=role,
            requested_by=actor,
        )
        step.data["approval_needed_from"] = role
        return
    step.set(refund_amount=amount, refund_method=method)


def _clear_approval(step: Step) -> None:
    step.set(pending_action=None, approval_role="", requested_by=None)


def _approve_pending(step: Step, actor: AbstractBaseUser | None) -> None:
    """A sufficient role approves what a lower one asked for; nobody approves their own."""
    case = step.case
    pending = case.pending_action or {}
    amount = Decimal(pending["amount"]) if "amount" in pending else None
    if actor is not None:
        if case.requested_by_id == actor.pk:
            raise Forbidden("approval.own_request", _("Nobody approves their own request."))
        limit = approval_limit(actor)
        if amount is not None and limit is not None and amount > limit:
            raise Forbidden(
                "approval.limit_exceeded",
                _("This needs approval from a %(role)s.")
                % {"role": ROLE_LABELS.get(case.approval_role, case.approval_role)},
                {"approval_role": case.approval_role},
            )
    target = target_status(case.type, pending.get("action", ""), pending.get("from", ""))
    if target is None:  # the table changed since the request; refuse rather than guess
        raise _invalid_transition(case, pending.get("action", ""))
    step.to = target
    if amount is not None:
        step.set(refund_amount=amount, refund_method=pending["refund_method"])
    _clear_approval(step)
    step.data.update({"approved": pending})
