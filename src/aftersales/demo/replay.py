"""Demo cases made real: each planned step is one case service call by the right person,
at its planned moment on the replay clock. No status is ever set by hand."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from aftersales.cases.models import Case, Emotion, Escalation, Outcome, RefundMethod
from aftersales.cases.services import (
    LineInspection,
    case_appeal,
    case_approve,
    case_assign,
    case_cancel,
    case_close,
    case_comment,
    case_complete,
    case_create,
    case_escalate,
    case_process,
    case_provide_info,
    case_receive,
    case_record_return,
    case_refund,
    case_reject,
    case_request_info,
    case_ship,
)
from aftersales.cases.states import CaseStatus, CaseType
from aftersales.core.money import ZERO, money
from aftersales.demo import texts as T
from aftersales.demo.cases import CasePlan, line_value
from aftersales.demo.orders import tracking_number
from aftersales.demo.shop import Demo
from aftersales.ledger.models import Refund, RefundStatus
from aftersales.ledger.refunds import LIVE, refund_confirm, refund_send

S = CaseStatus
CT = CaseType


def case_run(demo: Demo, plan: CasePlan) -> Case:
    demo.clock.at = plan.times[0]
    case = _case_file(demo, plan)
    for step, at in zip(plan.steps, plan.times[1:], strict=True):
        demo.clock.at = at
        STEPS[step](demo, plan, case)
    return case


def _case_file(demo: Demo, plan: CasePlan) -> Case:
    spec = plan.spec
    if spec.case_type == CT.PARTNER_DISPUTE:
        text = plan.partner_text
        return case_create(
            actor=plan.filer,
            case_type=spec.case_type,
            reason=spec.reason,
            partner=demo.channels["partners"],
            dispute_class=text.dispute_class,
            dispute_nature=text.dispute_nature,
            customer_words=f"【{text.partner}】{text.words}",
            emotion=Emotion.ANGRY if text.dispute_nature == "malignant" else Emotion.ANXIOUS,
            facts=text.facts,
            expectation=text.expectation,
        )
    words = plan.words
    return case_create(
        actor=plan.filer,
        case_type=spec.case_type,
        reason=spec.reason,
        shop=demo.shop if plan.record is None else None,
        order=plan.record.order if plan.record else None,
        lines=plan.lines or None,
        customer_words=words.customer_words,
        emotion=words.emotion,
        facts=words.facts,
        expectation=words.expectation,
        safety_issue=spec.safety,
        escalated_to=spec.escalated_to,
        payment_reference=plan.payment_reference,
    )


def _assign(demo: Demo, plan: CasePlan, case: Case) -> None:
    """The lead dispatches the case to the planned agent and team.

    A channel case filed while the main team is on shift was routed to one of its agents
    already: when the plan has it in the main team, that agent keeps it (a lead does not
    overrule the round-robin for nothing) and works it instead of the planned one. The
    second team's lead still takes her share from the main queue, as planned.
    """
    assignee_id, team_id = _holder(case)
    team = demo.teams[plan.team]
    routed = demo.user_by_pk.get(assignee_id) if assignee_id else None
    if (
        plan.filer == demo.users["channel-sync"]
        and routed in demo.agents_of(plan.team)
        and team_id == team.pk
    ):
        plan.handler = routed
        return
    if (assignee_id, team_id) == (plan.handler.pk, team.pk):
        return
    if plan.spec.case_type == CT.PARTNER_DISPUTE:  # the manager hands resellers to a lead
        dispatcher = demo.users["sunli"]
    else:
        dispatcher = demo.lead_of(plan.team)
    case_assign(case=case, actor=dispatcher, assignee=plan.handler, team=team)


def _lead_takes(demo: Demo, plan: CasePlan, case: Case) -> None:
    """After an appeal the case is one rung up: the team lead takes it personally (unless
    routing already handed it to them)."""
    lead = demo.lead_of(plan.team)
    if plan.handler == lead:
        lead = demo.users["sunli"]
    if _holder(case) != (lead.pk, demo.teams[plan.team].pk):
        case_assign(
            case=case, actor=lead, assignee=lead, team=demo.teams[plan.team], note=T.APPEAL_TAKEN
        )
    plan.handler = lead


def _holder(case: Case) -> tuple[int | None, int | None]:
    """Who holds the case now: routing assigns it from the case hooks, not on this object."""
    return Case.objects.filter(pk=case.pk).values_list("assignee_id", "team_id").get()


def _ask(demo: Demo, plan: CasePlan, case: Case) -> None:
    question = T.question_for(demo.rng, case.type, case.status)
    case_request_info(case=case, actor=plan.handler, question=question)


def _quote(demo: Demo, plan: CasePlan, case: Case) -> None:
    """Out-of-warranty damage: quote the part from the price list plus labour."""
    sku = plan.lines[0].order_line.sku
    part, price = max(demo.parts[sku], key=lambda p: p[1])
    labour = Decimal(demo.rng.choice([30, 50, 80]))
    question = T.QUOTE.format(part=part, price=price, labour=labour, total=price + labour)
    case_request_info(case=case, actor=plan.handler, question=question, quote_amount=price + labour)


def _answer(demo: Demo, plan: CasePlan, case: Case) -> None:
    answer = T.answer_for(demo.rng, case.type, case.resume_status)
    case_provide_info(case=case, actor=demo.users["channel-sync"], answer=answer)


def _accept(demo: Demo, plan: CasePlan, case: Case) -> None:
    case_provide_info(case=case, actor=demo.users["channel-sync"], answer=T.QUOTE_ACCEPTED)


def _decline(demo: Demo, plan: CasePlan, case: Case) -> None:
    case_provide_info(
        case=case,
        actor=demo.users["channel-sync"],
        answer=T.QUOTE_DECLINED,
        accept_quote=False,
    )


def _approve(demo: Demo, plan: CasePlan, case: Case) -> None:
    case_approve(case=case, actor=plan.handler, note=demo.rng.choice(T.APPROVE_NOTES))


def _auto_approve(demo: Demo, plan: CasePlan, case: Case) -> None:
    # The system itself: the policy refunds an unshipped order at once (DESIGN §5).
    case_approve(case=case, actor=None, note=T.AUTO_APPROVE)


def _sign_off(demo: Demo, plan: CasePlan, case: Case) -> None:
    """A refund above the agent's limit waits for the lead (≤ 2,000) or the manager."""
    if case.status != S.AWAITING_APPROVAL:
        return
    approver = demo.lead_of(plan.team)
    if case.approval_role != "team_lead" or approver.pk == case.requested_by_id:
        approver = demo.users["sunli"]
    case_approve(case=case, actor=approver, note=T.SIGN_OFF)


def _return(demo: Demo, plan: CasePlan, case: Case) -> None:
    courier = demo.rng.choices(list(T.COURIERS), weights=list(T.COURIERS.values()))[0]
    case_record_return(
        case=case,
        actor=demo.users["channel-sync"],
        courier=courier,
        tracking_number=tracking_number(demo, courier),
    )


def _receive(demo: Demo, plan: CasePlan, case: Case) -> None:
    inspection = plan.inspection
    case_receive(
        case=case,
        actor=demo.users["liujianguo"],
        inspections=[
            LineInspection(line.pk, inspection.grade, inspection.disposition)
            for line in case.lines.order_by("id")
        ],
        note=inspection.note,
    )


def _refund(demo: Demo, plan: CasePlan, case: Case) -> None:
    case_refund(case=case, actor=plan.handler, note=demo.rng.choice(T.REFUND_NOTES))


def _refund_partial(demo: Demo, plan: CasePlan, case: Case) -> None:
    """Agreed with the customer: part of the money back for a used or incomplete return."""
    full = sum((line_value(r.order_line, r.quantity) for r in plan.lines), ZERO)
    amount = max(money(full * Decimal("0.7")), Decimal("0.01"))
    case_refund(case=case, actor=plan.handler, amount=amount, note=T.PARTIAL_REFUND)


def _refund_credit(demo: Demo, plan: CasePlan, case: Case) -> None:
    case_refund(
        case=case,
        actor=plan.handler,
        refund_method=RefundMethod.STORE_CREDIT,
        note=T.STORE_CREDIT,
    )


def _process(demo: Demo, plan: CasePlan, case: Case) -> None:
    case_process(case=case, actor=demo.users["liujianguo"], note=T.PROCESS_NOTES[case.type])


def _ship(demo: Demo, plan: CasePlan, case: Case) -> None:
    courier = "顺丰" if demo.rng.random() < 0.7 else "中通"  # replacements go fast
    case_ship(
        case=case,
        actor=demo.users["liujianguo"],
        courier=courier,
        tracking_number=tracking_number(demo, courier),
    )


def _complete(demo: Demo, plan: CasePlan, case: Case) -> None:
    if case.status == S.REFUNDING:  # the worker sends it; finance confirms one paid by hand
        refund = Refund.objects.get(case=case, status__in=LIVE)
        if refund_send(refund_id=refund.pk) == RefundStatus.AWAITING_PROOF:
            refund_confirm(
                refund=refund,
                actor=demo.users["huangjing"],
                reference=f"BANK-{case.pk:08d}",
            )
        case.refresh_from_db()
    else:
        case_complete(case=case, actor=plan.handler, note=T.DELIVERED)


def _compensate(demo: Demo, plan: CasePlan, case: Case) -> None:
    notes = T.PARTNER_SETTLED if case.type == CT.PARTNER_DISPUTE else T.COMPENSATED
    case_complete(
        case=case,
        actor=plan.handler,
        outcome=Outcome.COMPENSATED,
        note=demo.rng.choice(notes),
    )


def _explain(demo: Demo, plan: CasePlan, case: Case) -> None:
    case_complete(
        case=case,
        actor=plan.handler,
        outcome=Outcome.EXPLAINED,
        note=demo.rng.choice(T.EXPLAINED),
    )


def _reject(demo: Demo, plan: CasePlan, case: Case) -> None:
    if case.status == S.INSPECTING:
        note = plan.inspection.reject_note
    else:
        note = T.reject_note(demo.rng, case.type, case.reason)
    case_reject(case=case, actor=plan.handler, note=note)


def _appeal(demo: Demo, plan: CasePlan, case: Case) -> None:
    case_appeal(case=case, actor=demo.users["channel-sync"], note=demo.rng.choice(T.APPEALS))


def _escalate(demo: Demo, plan: CasePlan, case: Case) -> None:
    case_escalate(case=case, actor=plan.handler, note=demo.rng.choice(T.ESCALATE_NOTES))


def _escalate_12315(demo: Demo, plan: CasePlan, case: Case) -> None:
    case_escalate(
        case=case,
        actor=plan.handler,
        escalated_to=Escalation.REGULATOR,
        note=T.ESCALATED_12315,
    )


def _escalate_platform(demo: Demo, plan: CasePlan, case: Case) -> None:
    case_escalate(
        case=case,
        actor=plan.handler,
        escalated_to=Escalation.PLATFORM,
        note=T.ESCALATED_PLATFORM,
    )


def _cancel(demo: Demo, plan: CasePlan, case: Case) -> None:
    case_cancel(case=case, actor=demo.users["channel-sync"], note=demo.rng.choice(T.CANCELS))


def _expire(demo: Demo, plan: CasePlan, case: Case) -> None:
    # Agents may not close cases; the lead closes what the customer let lapse.
    case_close(
        case=case,
        actor=demo.lead_of(plan.team),
        outcome=Outcome.EXPIRED,
        note=T.EXPIRED,
    )


def _close_explained(demo: Demo, plan: CasePlan, case: Case) -> None:
    case_close(
        case=case,
        actor=demo.lead_of(plan.team),
        outcome=Outcome.EXPLAINED,
        note=demo.rng.choice(T.EXPLAINED),
    )


def _note(demo: Demo, plan: CasePlan, case: Case) -> None:
    case_comment(
        case=case, actor=plan.handler, text=demo.rng.choice(T.INTERNAL_NOTES), internal=True
    )


def _customer_note(demo: Demo, plan: CasePlan, case: Case) -> None:
    case_comment(
        case=case, actor=demo.users["channel-sync"], text=demo.rng.choice(T.CUSTOMER_NOTES)
    )


STEPS: dict[str, Callable[[Demo, CasePlan, Case], None]] = {
    "assign": _assign,
    "lead_takes": _lead_takes,
    "ask": _ask,
    "quote": _quote,
    "answer": _answer,
    "accept": _accept,
    "decline": _decline,
    "approve": _approve,
    "auto_approve": _auto_approve,
    "sign_off": _sign_off,
    "return": _return,
    "receive": _receive,
    "refund": _refund,
    "refund_partial": _refund_partial,
    "refund_credit": _refund_credit,
    "process": _process,
    "ship": _ship,
    "complete": _complete,
    "compensate": _compensate,
    "explain": _explain,
    "reject": _reject,
    "appeal": _appeal,
    "escalate": _escalate,
    "escalate_12315": _escalate_12315,
    "escalate_platform": _escalate_platform,
    "cancel": _cancel,
    "expire": _expire,
    "close_explained": _close_explained,
    "note": _note,
    "customer_note": _customer_note,
}
