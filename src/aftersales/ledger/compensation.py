"""Goodwill compensation inside an agent's monthly budget, approval above it, and the coupons
and store credit the shop owes customers (late shipments, goodwill)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.cases.models import Case
from aftersales.cases.transitions import _require, case_step
from aftersales.channels.models import Order
from aftersales.core.errors import Conflict, Forbidden, Invalid, NotFound
from aftersales.core.money import MONEY_MAX, ZERO, money
from aftersales.ledger.models import (
    BudgetMonth,
    Compensation,
    CompensationBudget,
    CompensationStatus,
    CreditKind,
    CustomerCredit,
)
from aftersales.ledger.services import Posting, journal_post

DEFAULT_MONTHLY_BUDGET = Decimal("500.00")  # DESIGN §5: per agent per month, no approval
_LIABILITY = {CreditKind.STORE_CREDIT: "store_credit", CreditKind.COUPON: "coupon_liability"}


def credit_issue(
    *,
    shop_id: int,
    kind: str,
    amount: Decimal,
    reason: str,
    key: str,
    customer_id: int | None = None,
    case: Case | None = None,
    order: Order | None = None,
    actor: AbstractBaseUser | None = None,
    at: datetime | None = None,
) -> CustomerCredit:
    """Give a customer store credit or a coupon: compensation expense against the liability.
    The key makes a repeat (a timer fired again, a retried request) issue nothing new."""
    at = at or timezone.now()
    entry = journal_post(
        shop=case.shop if case else order.shop,
        postings=[
            Posting("compensation", debit=amount),
            Posting(_LIABILITY[kind], credit=amount),
        ],
        memo=reason,
        actor=actor,
        case=case,
        order=order,
        key=key,
        at=at,
    )
    credit = CustomerCredit.objects.filter(entry=entry).first()
    if credit is None:
        credit = CustomerCredit.objects.create(
            shop_id=shop_id,
            customer_id=customer_id,
            kind=kind,
            amount=amount,
            case=case,
            order=order,
            reason=reason[:200],
            entry=entry,
            created_at=at,
        )
    return credit


def budget_monthly(shop_id: int, agent: AbstractBaseUser) -> Decimal:
    # The agent's own row, else the shop's (agent IS NULL: SQL's IN never matches a NULL).
    rows = {
        b.agent_id: b.monthly
        for b in CompensationBudget.objects.filter(
            Q(agent_id=agent.pk) | Q(agent__isnull=True), shop_id=shop_id
        )
    }
    if agent.pk in rows:
        return rows[agent.pk]
    return rows.get(None, DEFAULT_MONTHLY_BUDGET)


def _month(at: datetime) -> date:
    return timezone.localdate(at).replace(day=1)


def _locked_month(shop_id: int, agent: AbstractBaseUser, month: date) -> BudgetMonth:
    BudgetMonth.objects.get_or_create(shop_id=shop_id, agent=agent, month=month)
    return BudgetMonth.objects.select_for_update().get(shop_id=shop_id, agent=agent, month=month)


def _grant(comp: Compensation, case: Case, actor: AbstractBaseUser | None, at: datetime) -> None:
    credit = credit_issue(
        shop_id=case.shop_id,
        kind=comp.kind,
        amount=comp.amount,
        reason=_("Goodwill for %(case)s") % {"case": case.reference},
        key=f"compensation:{comp.pk}",
        customer_id=case.customer_id,
        case=case,
        order=case.order,
        actor=actor,
        at=at,
    )
    comp.status = CompensationStatus.GRANTED
    comp.credit = credit


def compensation_give(
    *,
    case: Case,
    actor: AbstractBaseUser,
    amount: Decimal,
    kind: str = CreditKind.COUPON,
    note: str,
) -> Compensation:
    """An agent's goodwill to the customer. Inside what is left of the agent's budget this
    month it is granted at once; above it, it waits for a team lead or manager."""
    errors: dict[str, str] = {}
    amount = money(amount)
    note = (note or "").strip()
    if amount <= ZERO or amount > MONEY_MAX:
        errors["amount"] = _("Above zero.")
    if kind not in CreditKind.values:
        errors["kind"] = _("store_credit or coupon")
    if not note:
        errors["note"] = _("Required.")
    if errors:
        raise Invalid("compensation.invalid", _("The compensation is not valid."), errors)
    now = timezone.now()
    with case_step(case, actor, "compensate", note=note) as step:
        month = _locked_month(case.shop_id, actor, _month(now))
        budget = budget_monthly(case.shop_id, actor)
        comp = Compensation.objects.create(
            shop_id=case.shop_id,
            case=step.case,
            agent=actor,
            amount=amount,
            kind=kind,
            note=note[:500],
            month=month.month,
            status=CompensationStatus.AWAITING_APPROVAL,
            created_at=now,
        )
        if month.spent + amount <= budget:
            _grant(comp, step.case, actor, now)
            comp.decided_at = now
            month.spent += amount
            month.save(update_fields=["spent"])
            comp.save()
        step.data.update(
            {
                "compensation": comp.pk,
                "amount": str(amount),
                "kind": kind,
                "status": comp.status,
                "budget_left": str(max(budget - month.spent, ZERO)),
            }
        )
    return comp


@transaction.atomic
def compensation_decide(
    *, compensation: Compensation, actor: AbstractBaseUser, approve: bool, note: str = ""
) -> Compensation:
    """A team lead or manager approves (or refuses) goodwill above an agent's budget; nobody
    decides their own."""
    _require(actor, "ledger.approve_compensation", compensation.shop_id)
    comp = Compensation.objects.select_for_update().get(pk=compensation.pk)
    if comp.status != CompensationStatus.AWAITING_APPROVAL:
        raise Conflict(
            "compensation.decided",
            _("This compensation was decided already."),
            {"status": comp.status},
        )
    if comp.agent_id == actor.pk:
        raise Forbidden("approval.own_request", _("Nobody approves their own request."))
    now = timezone.now()
    with case_step(comp.case, actor, "compensate", note=note) as step:
        if approve:
            _grant(comp, step.case, actor, now)
            month = _locked_month(comp.shop_id, comp.agent, comp.month)
            month.spent += comp.amount
            month.save(update_fields=["spent"])
        else:
            comp.status = CompensationStatus.REFUSED
        comp.decided_by, comp.decided_at = actor, now
        comp.save()
        step.data.update(
            {"compensation": comp.pk, "status": comp.status, "amount": str(comp.amount)}
        )
    return comp


def compensation_get(*, shop_ids: list[int], compensation_id: int) -> Compensation:
    comp = Compensation.objects.filter(pk=compensation_id, shop_id__in=shop_ids).first()
    if comp is None:
        raise NotFound("compensation.not_found", _("No such compensation."))
    return comp
