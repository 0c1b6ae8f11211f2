"""Every write to a case: creation and one typed function per lifecycle action.

Each action locks the case, re-checks its status against the transition table, changes
it, and writes one timeline event, all in one transaction. The API, admin, CLI and the
worker all call these functions; nothing else sets `Case.status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.accounts.models import Membership, Team
from aftersales.accounts.roles import ESCALATION_LADDER
from aftersales.cases.approvals import (
    _approve_pending,
    _clear_approval,
    _decide_refund,
    _refund_default,
)
from aftersales.cases.events import event_case_created
from aftersales.cases.models import (
    Case,
    CaseLine,
    Disposition,
    DisputeClass,
    DisputeNature,
    Emotion,
    Escalation,
    Grade,
    Outcome,
    Reason,
    RefundMethod,
)
from aftersales.cases.priority import priority_derive
from aftersales.cases.states import (
    ORDER_TYPES,
    PENDING,
    REFUND_TYPES,
    CaseStatus,
    CaseType,
)
from aftersales.cases.transitions import (
    Step,
    _require,
    _required_text,
    _step,
    event_announce,
)
from aftersales.catalog.models import Part
from aftersales.channels.models import Channel, ChannelKind, Order, OrderLine, Shop
from aftersales.core.errors import Conflict, Invalid
from aftersales.core.money import MONEY_MAX, ZERO, money

# A customer may dispute a rejection for this long (DESIGN §5 clocks; issue 4 makes it
# configurable per channel).
APPEAL_WINDOW = timedelta(days=7)


# --------------------------------------------------------------------------- create


@dataclass(frozen=True)
class LineRequest:
    order_line: OrderLine
    quantity: int


def _claimed_quantities(order: Order) -> dict[int, int]:
    """Units of each order line already claimed by live refund/return cases."""
    rows = (
        CaseLine.objects.filter(
            shop_id=order.shop_id,
            case__order=order,
            case__type__in=REFUND_TYPES,
        )
        .exclude(case__status__in=[CaseStatus.REJECTED, CaseStatus.CLOSED])
        .values("order_line_id")
        .annotate(claimed=Sum("quantity"))
    )
    return {row["order_line_id"]: row["claimed"] for row in rows}


def _validate_lines(order: Order, lines: list[LineRequest], claimed: dict[int, int]) -> None:
    errors: dict[str, str] = {}
    seen: set[int] = set()
    for i, line in enumerate(lines):
        key = f"lines.{i}"
        if line.order_line.order_id != order.pk:
            errors[f"{key}.order_line_id"] = _("This line is not part of the order.")
            continue
        if line.order_line.pk in seen:
            errors[f"{key}.order_line_id"] = _("This order line is listed twice.")
            continue
        seen.add(line.order_line.pk)
        if line.quantity < 1:
            errors[f"{key}.quantity"] = _("Quantity must be at least 1.")
            continue
        remaining = line.order_line.quantity - claimed.get(line.order_line.pk, 0)
        if line.quantity > remaining:
            errors[f"{key}.quantity"] = _(
                "Only %(remaining)s of %(bought)s can still be claimed."
            ) % {"remaining": remaining, "bought": line.order_line.quantity}
    if errors:
        raise Invalid("case.invalid_lines", _("Some case lines are not valid."), errors)


@transaction.atomic
def case_create(
    *,
    actor: AbstractBaseUser | None,
    case_type: str,
    reason: str,
    shop: Shop | None = None,
    order: Order | None = None,
    lines: list[LineRequest] | None = None,
    customer_words: str = "",
    emotion: str = "",
    facts: str = "",
    expectation: str = "",
    safety_issue: bool = False,
    escalated_to: str = "",
    payment_reference: str = "",
    partner: Channel | None = None,
    dispute_class: str = "",
    dispute_nature: str = "",
    channel_status: str = "",
    external_id: str = "",
    refund_method: str = "",
    repair_parts: list[str] | None = None,
) -> Case:
    """File a case. Order-based types need an order and lines (default: every line, in full)."""
    errors: dict[str, str] = {}
    if case_type not in CaseType.values:
        errors["type"] = _("Unknown case type.")
    if reason not in Reason.values:
        errors["reason"] = _("Unknown reason.")
    if emotion and emotion not in Emotion.values:
        errors["emotion"] = _("Unknown emotion.")
    if escalated_to and escalated_to not in Escalation.values:
        errors["escalated_to"] = _("Unknown escalation.")
    if refund_method and refund_method not in RefundMethod.values:
        errors["refund_method"] = _("Unknown refund method.")
    if errors:
        raise Invalid("case.invalid", _("The case is not valid."), errors)

    if order is not None:
        if shop is not None and shop.pk != order.shop_id:
            raise Invalid(
                "case.invalid",
                _("The order belongs to another shop."),
                {"shop_id": _("Not the order's shop.")},
            )
        shop_id = order.shop_id
    elif shop is not None:
        shop_id = shop.pk
    elif partner is not None:
        shop_id = partner.shop_id
    else:
        raise Invalid("case.invalid", _("Name an order or a shop."), {"order_id": _("Required.")})
    _require(actor, "cases.add_case", shop_id)

    if case_type in ORDER_TYPES and order is None:
        raise Invalid(
            "case.order_required",
            _("This type of case needs an order."),
            {"order_id": _("Required for this case type.")},
        )
    if case_type == CaseType.PARTNER_DISPUTE:
        if partner is None or partner.kind != ChannelKind.PARTNER or partner.shop_id != shop_id:
            errors["partner_id"] = _("Name a partner channel of this shop.")
        if dispute_class not in DisputeClass.values:
            errors["dispute_class"] = _("Choose after_sales, profit_share or payment_terms.")
        if dispute_nature not in DisputeNature.values:
            errors["dispute_nature"] = _("Choose benign or malignant.")
    elif partner is not None or dispute_class or dispute_nature:
        errors["partner_id"] = _("Only partner disputes name a partner.")
    if errors:
        raise Invalid("case.invalid", _("The case is not valid."), errors)

    line_requests = list(lines or [])
    claimed = _claimed_quantities(order) if order and case_type in REFUND_TYPES else {}
    if order is not None and not line_requests and case_type in ORDER_TYPES:
        line_requests = [LineRequest(ol, ol.quantity) for ol in order.lines.all()]
        if case_type in REFUND_TYPES:
            line_requests = [
                LineRequest(r.order_line, r.quantity - claimed.get(r.order_line.pk, 0))
                for r in line_requests
                if r.quantity - claimed.get(r.order_line.pk, 0) > 0
            ]
            if not line_requests:
                raise Invalid(
                    "case.nothing_left",
                    _("Every item of this order is already claimed."),
                    {"lines": _("Nothing left to claim.")},
                )
    if order is not None and line_requests:
        _validate_lines(order, line_requests, claimed)
    elif line_requests:
        raise Invalid("case.invalid", _("Lines need an order."), {"lines": _("No order given.")})

    priority, priority_reason = priority_derive(
        case_type=case_type,
        reason=reason,
        safety_issue=safety_issue,
        escalated_to=escalated_to,
        emotion=emotion,
    )
    case = Case.objects.create(
        shop_id=shop_id,
        type=case_type,
        status=CaseStatus.AWAITING_MERCHANT,
        reason=reason,
        priority=priority,
        priority_reason=priority_reason,
        order=order,
        channel_id=order.channel_id if order else (partner.pk if partner else None),
        customer_id=order.customer_id if order else None,
        payment_reference=payment_reference,
        partner=partner,
        dispute_class=dispute_class,
        dispute_nature=dispute_nature,
        customer_words=customer_words,
        emotion=emotion,
        facts=facts,
        expectation=expectation,
        safety_issue=safety_issue,
        escalated_to=escalated_to,
        channel_status=channel_status,
        external_id=external_id,
        refund_method=refund_method,
        repair_parts=list(repair_parts or []),
    )
    lines = CaseLine.objects.bulk_create(
        [
            CaseLine(shop_id=shop_id, case=case, order_line=r.order_line, quantity=r.quantity)
            for r in line_requests
        ]
    )
    event_announce(case, event_case_created(case=case, actor=actor, lines=lines))
    return case


# --------------------------------------------------------------------------- actions


def case_approve(
    *,
    case: Case,
    actor: AbstractBaseUser | None,
    note: str = "",
    amount: Decimal | None = None,
    refund_method: str = RefundMethod.ORIGINAL,
    approval_role: str = "",
) -> Case:
    """Agree to the case; on a refund-only case this is also the refund decision."""
    with _step(case, actor, "approve", note=note) as step:
        if step.to == PENDING:
            _approve_pending(step, actor)
        elif step.case.type == CaseType.REFUND_ONLY:
            _decide_refund(step, actor, "approve", amount, refund_method, approval_role)
    return case


def case_reject(*, case: Case, actor: AbstractBaseUser | None, note: str) -> Case:
    note = _required_text(note, "note")
    with _step(case, actor, "reject", note=note) as step:
        step.set(rejected_at=timezone.now())
        _clear_approval(step)
    return case


def case_request_info(
    *,
    case: Case,
    actor: AbstractBaseUser | None,
    question: str,
    quote_amount: Decimal | None = None,
) -> Case:
    """Ask the customer; the case waits (SLA paused). A repair quote resumes to the return."""
    question = _required_text(question, "question")
    with _step(case, actor, "request_info", note=question) as step:
        resume = step.before
        if quote_amount is not None:
            if step.case.type != CaseType.REPAIR or step.before != CaseStatus.AWAITING_MERCHANT:
                raise Invalid(
                    "case.invalid",
                    _("Only a new repair case takes a quote."),
                    {"quote_amount": _("Not allowed here.")},
                )
            quote = money(quote_amount)
            if quote < ZERO:
                raise Invalid(
                    "case.invalid", _("A quote cannot be negative."), {"quote_amount": str(quote)}
                )
            step.set(quote_amount=quote)
            step.data["quote_amount"] = str(quote)
            resume = CaseStatus.AWAITING_RETURN
        step.set(resume_status=resume)
    return case


def case_provide_info(
    *, case: Case, actor: AbstractBaseUser | None, answer: str, accept_quote: bool = True
) -> Case:
    """Record the customer's answer; the case goes back to where it waited from."""
    answer = _required_text(answer, "answer")
    with _step(case, actor, "provide_info", note=answer) as step:
        step.to = step.case.resume_status or CaseStatus.AWAITING_MERCHANT
        if step.case.quote_amount is not None and step.to == CaseStatus.AWAITING_RETURN:
            step.data["quote_accepted"] = accept_quote
            if not accept_quote:
                step.to = CaseStatus.CLOSED
                step.set(outcome=Outcome.WITHDRAWN)
        step.set(resume_status="")
    return case


def case_record_return(
    *,
    case: Case,
    actor: AbstractBaseUser | None,
    courier: str,
    tracking_number: str,
    postage: Decimal | None = None,
) -> Case:
    """The customer sent the return: its tracking, and the postage they paid (which the shop
    pays back when it bears the return shipping)."""
    courier = _required_text(courier, "courier")
    tracking_number = _required_text(tracking_number, "tracking_number")
    if postage is not None and not ZERO <= money(postage) <= MONEY_MAX:
        raise Invalid("case.invalid", _("Postage cannot be negative."), {"postage": str(postage)})
    with _step(case, actor, "record_return") as step:
        step.set(return_courier=courier, return_tracking_number=tracking_number)
        step.data.update({"courier": courier, "tracking_number": tracking_number})
        if postage is not None:
            step.data["postage"] = str(money(postage))
    return case


@dataclass(frozen=True)
class LineInspection:
    case_line_id: int
    grade: str
    disposition: str


def case_receive(
    *,
    case: Case,
    actor: AbstractBaseUser | None,
    inspections: list[LineInspection] | None = None,
    note: str = "",
    restocking_fee: Decimal | None = None,
) -> Case:
    """Goods arrived at the warehouse. With inspections (grade and disposition for every
    returned line) it is received and inspected at once; without, `inspect` follows."""
    with _step(case, actor, "receive", note=note) as step:
        if inspections:
            _inspect_lines(step, inspections, restocking_fee)
        elif restocking_fee is not None:
            raise Invalid(
                "case.invalid_inspection",
                _("A restocking fee is decided at inspection."),
                {"restocking_fee": _("Inspect the lines first.")},
            )
    return case


def case_inspect(
    *,
    case: Case,
    actor: AbstractBaseUser | None,
    inspections: list[LineInspection],
    note: str = "",
    restocking_fee: Decimal | None = None,
) -> Case:
    """Grade and dispose of every returned line (stock follows the dispositions); a restocking
    fee, if the shop charges one, is decided here and kept back from the refund."""
    with _step(case, actor, "inspect", note=note) as step:
        if any(line.disposition for line in step.case.lines.all()):
            raise Conflict("case.already_inspected", _("This return was inspected already."))
        _inspect_lines(step, inspections, restocking_fee)
    return case


def _inspect_lines(
    step: Step, inspections: list[LineInspection], restocking_fee: Decimal | None
) -> None:
    case_lines = {cl.pk: cl for cl in step.case.lines.select_related("order_line")}
    errors: dict[str, str] = {}
    by_line = {}
    if restocking_fee is not None:
        fee = money(restocking_fee)
        # Never more than what the returned lines paid (the refund it is kept back from).
        if not ZERO <= fee <= _refund_default(step.case):
            errors["restocking_fee"] = _("Between 0 and the refund.")
        else:
            step.set(restocking_fee=fee)
            step.data["restocking_fee"] = str(fee)
    for i, inspection in enumerate(inspections):
        if inspection.case_line_id not in case_lines:
            errors[f"lines.{i}.case_line_id"] = _("Not a line of this case.")
        elif inspection.case_line_id in by_line:
            errors[f"lines.{i}.case_line_id"] = _("This line is listed twice.")
        if inspection.grade not in Grade.values:
            errors[f"lines.{i}.grade"] = _("Unknown grade.")
        if inspection.disposition not in Disposition.values:
            errors[f"lines.{i}.disposition"] = _("Unknown disposition.")
        by_line[inspection.case_line_id] = inspection
    missing = case_lines.keys() - by_line.keys()
    if missing:
        errors["lines"] = _("Every returned line needs an inspection (missing: %(ids)s).") % {
            "ids": ", ".join(str(i) for i in sorted(missing))
        }
    if errors:
        raise Invalid("case.invalid_inspection", _("The inspection is incomplete."), errors)
    for line_id, inspection in by_line.items():
        CaseLine.objects.filter(pk=line_id).update(
            grade=inspection.grade, disposition=inspection.disposition
        )
    step.data["lines"] = [
        {
            "case_line": k,
            "sku": case_lines[k].order_line.sku,
            "quantity": case_lines[k].quantity,
            "grade": v.grade,
            "disposition": v.disposition,
        }
        for k, v in sorted(by_line.items())
    ]


def case_refund(
    *,
    case: Case,
    actor: AbstractBaseUser | None,
    amount: Decimal | None = None,
    refund_method: str = RefundMethod.ORIGINAL,
    note: str = "",
    approval_role: str = "",
) -> Case:
    """Decide the refund (amount and method). The ledger issue pays it out."""
    with _step(case, actor, "refund", note=note) as step:
        _decide_refund(step, actor, "refund", amount, refund_method, approval_role)
    return case


def case_process(*, case: Case, actor: AbstractBaseUser | None, note: str = "") -> Case:
    """Start the repair or prepare the replacement."""
    with _step(case, actor, "process", note=note):
        pass
    return case


def case_ship(
    *,
    case: Case,
    actor: AbstractBaseUser | None,
    courier: str,
    tracking_number: str,
    parts: list[str] | None = None,
) -> Case:
    """Send the replacement, reissued or repaired item to the customer. A reissue may send
    only the missing parts (补发配件), named by their codes in the products' parts lists."""
    courier = _required_text(courier, "courier")
    tracking_number = _required_text(tracking_number, "tracking_number")
    parts = list(parts or [])
    with _step(case, actor, "ship") as step:
        if parts:
            _check_parts(step.case, parts)
            step.data["parts"] = parts
        step.set(outbound_courier=courier, outbound_tracking_number=tracking_number)
        step.data.update({"courier": courier, "tracking_number": tracking_number})
    return case


def _check_parts(case: Case, parts: list[str]) -> None:
    if case.type != CaseType.REISSUE:
        raise Invalid(
            "case.invalid", _("Only a reissue sends single parts."), {"parts": _("Not here.")}
        )
    product_ids = case.lines.values_list("order_line__product_id", flat=True)
    known = set(
        Part.objects.filter(shop_id=case.shop_id, product_id__in=product_ids).values_list(
            "code", flat=True
        )
    )
    unknown = {
        f"parts.{i}": _("Not a part of these products.")
        for i, code in enumerate(parts)
        if code not in known
    }
    if unknown:
        raise Invalid("case.invalid_parts", _("Some parts are unknown."), unknown)


_COMPLETE_OUTCOMES = {
    CaseType.EXCHANGE: Outcome.EXCHANGED,
    CaseType.REPAIR: Outcome.REPAIRED,
    CaseType.REISSUE: Outcome.REISSUED,
}
_DISCRETIONARY_OUTCOMES = {Outcome.COMPENSATED, Outcome.EXPLAINED}


def case_complete(
    *, case: Case, actor: AbstractBaseUser | None, outcome: str = "", note: str = ""
) -> Case:
    """Finish in the customer's favour. The outcome follows from the type, except for
    complaints and partner disputes, which say how they were settled."""
    with _step(case, actor, "complete", note=note) as step:
        c = step.case
        if c.type in (CaseType.COMPLAINT, CaseType.PARTNER_DISPUTE):
            if outcome not in _DISCRETIONARY_OUTCOMES:
                raise Invalid(
                    "case.invalid",
                    _("Say how it was settled."),
                    {"outcome": _("compensated or explained")},
                )
            final = outcome
        else:
            final = _COMPLETE_OUTCOMES[c.type]
        if outcome and outcome != final:
            raise Invalid(
                "case.invalid", _("That outcome does not fit this case."), {"outcome": final}
            )
        step.set(outcome=final)
        step.data["outcome"] = final
    return case


def case_escalate(
    *,
    case: Case,
    actor: AbstractBaseUser | None,
    note: str = "",
    escalated_to: str = "",
) -> Case:
    """Move the case one rung up (agent → team lead → manager), or record that the customer
    went to the platform or the regulator (which makes it urgent)."""
    if escalated_to and escalated_to not in Escalation.values:
        raise Invalid("case.invalid", _("Unknown escalation."), {"escalated_to": escalated_to})
    with _step(case, actor, "escalate", note=note) as step:
        c = step.case
        if escalated_to:
            priority, why = priority_derive(
                case_type=c.type,
                reason=c.reason,
                safety_issue=c.safety_issue,
                escalated_to=escalated_to,
                emotion=c.emotion,
            )
            step.set(escalated_to=escalated_to, priority=priority, priority_reason=why)
            step.data["escalated_to"] = escalated_to
        else:
            if c.escalation_level >= len(ESCALATION_LADDER) - 1:
                raise Conflict("case.escalation_at_top", _("The case is already with a manager."))
            step.set(escalation_level=c.escalation_level + 1)
        step.data["escalation_level"] = c.escalation_level
        step.data["to_role"] = ESCALATION_LADDER[c.escalation_level]
    return case


def case_appeal(*, case: Case, actor: AbstractBaseUser | None, note: str) -> Case:
    """The customer disputes a rejection: the case reopens one rung higher."""
    note = _required_text(note, "note")
    with _step(case, actor, "appeal", note=note) as step:
        c = step.case
        if c.rejected_at is not None and timezone.now() > c.rejected_at + APPEAL_WINDOW:
            raise Conflict(
                "case.appeal_window_passed",
                _("A rejection can be disputed for %(days)s days.") % {"days": APPEAL_WINDOW.days},
            )
        level = min(c.escalation_level + 1, len(ESCALATION_LADDER) - 1)
        step.set(escalation_level=level, rejected_at=None, closed_at=None, assignee=None)
        step.data["escalation_level"] = level
    return case


def case_cancel(*, case: Case, actor: AbstractBaseUser | None, note: str = "") -> Case:
    """The customer withdraws the case."""
    with _step(case, actor, "cancel", note=note) as step:
        step.set(outcome=Outcome.WITHDRAWN)
        _clear_approval(step)
    return case


def case_refund_settled(
    *, case: Case, actor: AbstractBaseUser | None, refund_key: str, note: str = ""
) -> Case:
    """The money reached the customer (the payment adapter, or finance with proof, says so):
    the case succeeds, refunded or as store credit."""
    with _step(case, actor, "refund_settled", note=note) as step:
        c = step.case
        outcome = (
            Outcome.STORE_CREDIT
            if c.refund_method == RefundMethod.STORE_CREDIT
            else Outcome.REFUNDED
        )
        step.set(outcome=outcome)
        step.data.update({"outcome": outcome, "refund": refund_key})
    return case


def case_refund_failed(
    *,
    case: Case,
    actor: AbstractBaseUser | None,
    refund_key: str,
    back_to: str,
    reason: str,
) -> Case:
    """The refund was refused for good (no money moved): the case goes back to where it was
    decided from, with the reason, for a person to refund again or otherwise."""
    reason = _required_text(reason, "reason")
    with _step(case, actor, "refund_failed", note=reason) as step:
        step.to = back_to
        step.set(refund_amount=None)
        step.data.update({"refund": refund_key, "back_to": back_to})
    return case


_CLOSE_OUTCOMES = {Outcome.WITHDRAWN, Outcome.EXPIRED, Outcome.EXPLAINED}


def case_close(
    *, case: Case, actor: AbstractBaseUser | None, outcome: str = Outcome.EXPIRED, note: str = ""
) -> Case:
    """Staff (or a timer) ends the case without a result in the customer's favour."""
    if outcome not in _CLOSE_OUTCOMES:
        raise Invalid(
            "case.invalid", _("Close with withdrawn, expired or explained."), {"outcome": outcome}
        )
    with _step(case, actor, "close", note=note) as step:
        step.set(outcome=outcome)
        _clear_approval(step)
        step.data["outcome"] = outcome
    return case


def case_comment(
    *, case: Case, actor: AbstractBaseUser | None, text: str, internal: bool = False
) -> Case:
    text = _required_text(text, "text")
    with _step(case, actor, "comment", note=text) as step:
        step.data["internal"] = internal
    return case


def case_assign(
    *,
    case: Case,
    actor: AbstractBaseUser | None,
    assignee: AbstractBaseUser | None = None,
    team: Team | None = None,
    note: str = "",
) -> Case:
    """Give the case to a person and/or a team of its shop (None for both: the open queue)."""
    errors: dict[str, str] = {}
    if assignee is not None and (
        not assignee.is_active
        or not Membership.objects.filter(shop_id=case.shop_id, user=assignee).exists()
        and not assignee.is_superuser
    ):
        errors["assignee_id"] = _("Not an active member of this shop.")
    if team is not None and team.shop_id != case.shop_id:
        errors["team_id"] = _("Not a team of this shop.")
    if errors:
        raise Invalid("case.invalid_assignee", _("Cannot assign the case there."), errors)
    with _step(case, actor, "assign", note=note) as step:
        step.data.update(
            {
                "from_assignee": step.case.assignee_id,
                "assignee": assignee.pk if assignee else None,
                "team": team.pk if team else None,
            }
        )
        step.set(assignee=assignee, team=team)
    return case


# Public map from action name to service, for the API and other dispatchers. The apps that
# own an action's other half add theirs in ready() (ledger: compensate; logistics: intercept,
# factory legs).
ACTION_SERVICES = {
    "approve": case_approve,
    "reject": case_reject,
    "request_info": case_request_info,
    "provide_info": case_provide_info,
    "record_return": case_record_return,
    "receive": case_receive,
    "refund": case_refund,
    "process": case_process,
    "ship": case_ship,
    "complete": case_complete,
    "inspect": case_inspect,
    "refund_settled": case_refund_settled,
    "refund_failed": case_refund_failed,
    "escalate": case_escalate,
    "appeal": case_appeal,
    "cancel": case_cancel,
    "close": case_close,
    "comment": case_comment,
    "assign": case_assign,
}
