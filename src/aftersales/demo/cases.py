"""Demo cases on paper: which cases, on which orders, with what story and timeline.

A script is the list of actions the people involved take; the planner picks a fitting
order and lines, times each step, and chooses the Chinese texts. Nothing is written here.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.utils import timezone

from aftersales.cases.models import Escalation, Reason
from aftersales.cases.services import LineRequest
from aftersales.cases.states import CaseType
from aftersales.channels.models import OrderLine, OrderStatus
from aftersales.core.money import money
from aftersales.demo import texts as T
from aftersales.demo.desk import last_closing
from aftersales.demo.shop import Demo, OrderRecord
from aftersales.sla.calendar import Calendar, is_open, next_open

R = Reason
CT = CaseType
OS = OrderStatus


# --------------------------------------------------------------------------- case scripts

# What happens to a case, as the actions the people involved take, in order. Each script
# ends in one status; together they cover every status of every type. The names are the
# steps of replay.STEPS; "sign_off" is a higher role approving a refund above the agent's
# limit, and does nothing when no approval was needed.
SCRIPTS: dict[str, dict[str, tuple[int, tuple[str, ...]]]] = {
    CT.REFUND_ONLY: {
        "new": (3, ()),
        "taken": (2, ("assign",)),
        "asked": (2, ("assign", "ask")),
        "answered": (1, ("assign", "ask", "answer")),
        "needs_approval": (2, ("assign", "approve")),
        "refunding": (2, ("assign", "approve", "sign_off")),
        "auto": (5, ("auto_approve", "complete")),
        "refunded": (10, ("assign", "approve", "sign_off", "complete")),
        "rejected": (2, ("assign", "reject")),
        "appealed": (1, ("assign", "reject", "appeal")),
        "appeal_won": (1, ("assign", "reject", "appeal", "lead_takes", "approve", "sign_off")),
        "withdrawn": (1, ("cancel",)),
    },
    CT.RETURN_REFUND: {
        "new": (3, ()),
        "taken": (2, ("assign",)),
        "asked": (2, ("assign", "ask")),
        "awaiting_return": (3, ("assign", "approve")),
        "in_transit": (3, ("assign", "approve", "return")),
        "inspecting": (2, ("assign", "approve", "return", "receive")),
        "inspect_ask": (1, ("assign", "approve", "return", "receive", "ask")),
        "needs_approval": (2, ("assign", "approve", "return", "receive", "refund")),
        "refunding": (2, ("assign", "approve", "return", "receive", "refund", "sign_off")),
        "refunded": (
            14,
            ("assign", "approve", "return", "receive", "refund", "sign_off", "complete"),
        ),
        "lightning": (2, ("assign", "approve", "return", "refund", "sign_off", "complete")),
        "partial": (
            1,
            ("assign", "approve", "return", "receive", "refund_partial", "sign_off", "complete"),
        ),
        "store_credit": (
            1,
            ("assign", "approve", "return", "receive", "refund_credit", "sign_off", "complete"),
        ),
        "rejected": (1, ("assign", "reject")),
        "rejected_at_inspection": (1, ("assign", "approve", "return", "receive", "reject")),
        "expired": (1, ("assign", "approve", "expire")),
        "withdrawn": (1, ("assign", "approve", "cancel")),
        "platform": (1, ("assign", "escalate_platform")),
    },
    CT.EXCHANGE: {
        "new": (2, ()),
        "asked": (1, ("assign", "ask")),
        "awaiting_return": (2, ("assign", "approve")),
        "in_transit": (2, ("assign", "approve", "return")),
        "inspecting": (1, ("assign", "approve", "return", "receive")),
        "processing": (2, ("assign", "approve", "return", "receive", "process")),
        "shipping": (2, ("assign", "approve", "return", "receive", "process", "ship")),
        "exchanged": (
            9,
            ("assign", "approve", "return", "receive", "process", "ship", "complete"),
        ),
        "out_of_stock": (
            1,
            ("assign", "approve", "return", "receive", "note", "refund", "sign_off", "complete"),
        ),
        "rejected": (1, ("assign", "reject")),
        "withdrawn": (1, ("assign", "cancel")),
    },
    CT.REPAIR: {
        "new": (2, ()),
        "quoted": (2, ("assign", "quote")),
        "quote_declined": (1, ("assign", "quote", "decline")),
        "quote_accepted": (1, ("assign", "quote", "accept")),
        "paid_repair": (
            1,
            ("assign", "quote", "accept", "return", "receive", "process", "ship", "complete"),
        ),
        "awaiting_return": (1, ("assign", "approve")),
        "in_transit": (1, ("assign", "approve", "return")),
        "inspecting": (1, ("assign", "approve", "return", "receive")),
        "processing": (2, ("assign", "approve", "return", "receive", "process")),
        "factory_question": (1, ("assign", "approve", "return", "receive", "process", "ask")),
        "shipping": (1, ("assign", "approve", "return", "receive", "process", "ship")),
        "repaired": (
            7,
            ("assign", "approve", "return", "receive", "process", "ship", "complete"),
        ),
        "rejected_at_inspection": (1, ("assign", "approve", "return", "receive", "reject")),
        "escalated": (1, ("assign", "approve", "return", "receive", "process", "escalate")),
    },
    CT.REISSUE: {
        "new": (2, ()),
        "asked": (2, ("assign", "ask")),
        "processing": (2, ("assign", "approve")),
        "shipping": (2, ("assign", "approve", "ship")),
        "reissued": (9, ("assign", "approve", "ship", "complete")),
        "rejected": (1, ("assign", "note", "reject")),
        "withdrawn": (1, ("cancel",)),
    },
    CT.COMPLAINT: {
        "new": (3, ()),
        "taken": (1, ("assign",)),
        "asked": (1, ("assign", "ask")),
        "processing": (2, ("assign", "approve")),
        "compensated": (5, ("assign", "approve", "compensate")),
        "explained": (5, ("assign", "explain")),
        "rejected": (1, ("assign", "reject")),
        "to_lead": (1, ("assign", "escalate")),
        "regulator": (1, ("assign", "escalate_12315", "approve")),
        "closed": (1, ("assign", "close_explained")),
        "withdrawn": (1, ("cancel",)),
    },
    CT.PARTNER_DISPUTE: {
        "new": (1, ()),
        "asked": (1, ("assign", "ask")),
        "processing": (2, ("assign", "approve")),
        "settled": (2, ("assign", "approve", "compensate")),
        "explained": (1, ("assign", "explain")),
        "rejected": (1, ("assign", "approve", "reject")),
    },
}

# A desk's history is mostly finished work: about a third of the cases are still open.
FINISHED_BOOST = 2

TYPE_WEIGHTS = {
    CT.REFUND_ONLY: 22,
    CT.RETURN_REFUND: 28,
    CT.EXCHANGE: 11,
    CT.REPAIR: 10,
    CT.REISSUE: 10,
    CT.COMPLAINT: 14,
    CT.PARTNER_DISPUTE: 5,
}
REASON_WEIGHTS: dict[str, dict[str, int]] = {
    CT.REFUND_ONLY: {
        R.NOT_DELIVERED: 2,
        R.LOST_IN_TRANSIT: 2,
        R.NO_REASON: 3,
        R.OTHER: 1,
        R.LATE_SHIPMENT: 1,
        R.QUALITY_DEFECT: 2,
        R.DAMAGED_IN_TRANSIT: 2,
        R.MISSING_ITEM: 1,
    },
    CT.RETURN_REFUND: {
        R.NO_REASON: 5,
        R.QUALITY_DEFECT: 4,
        R.DAMAGED_IN_TRANSIT: 1,
        R.WRONG_ITEM: 1,
        R.NOT_AS_DESCRIBED: 2,
    },
    CT.EXCHANGE: {
        R.QUALITY_DEFECT: 3,
        R.WRONG_ITEM: 2,
        R.DAMAGED_IN_TRANSIT: 1,
        R.NOT_AS_DESCRIBED: 1,
    },
    CT.REPAIR: {R.QUALITY_DEFECT: 1},
    CT.REISSUE: {
        R.MISSING_ITEM: 4,
        R.DAMAGED_IN_TRANSIT: 2,
        R.LOST_IN_TRANSIT: 2,
        R.WRONG_ITEM: 1,
    },
    CT.COMPLAINT: {
        R.LATE_SHIPMENT: 2,
        R.SERVICE_ATTITUDE: 2,
        R.USAGE_QUESTION: 2,
        R.POLICY_QUESTION: 1,
        R.FUNDS_NOT_RECEIVED: 2,
        R.UNEXPECTED_CHARGE: 1,
        R.NOT_AS_DESCRIBED: 1,
        R.OTHER: 1,
    },
    CT.PARTNER_DISPUTE: {R.OTHER: 3, R.FUNDS_NOT_RECEIVED: 1},
}
# Scripts that only fit some reasons.
SCRIPT_REASONS = {
    # Paid but unshipped orders are refunded by the policy at once (DESIGN §5).
    "auto": {R.NO_REASON: 3, R.OTHER: 1, R.LATE_SHIPMENT: 1},
    # A part-refund is agreed for goods that come back used or incomplete.
    "partial": {R.NO_REASON: 2, R.NOT_AS_DESCRIBED: 1, R.QUALITY_DEFECT: 1},
}
# A repair quote is for damage the warranty does not cover (dropped, drowned).
QUOTE_SCRIPTS = {"quoted", "quote_declined", "quote_accepted", "paid_repair"}
SCRIPT_REASONS |= {script: {R.OTHER: 1} for script in QUOTE_SCRIPTS}


@dataclass(frozen=True)
class Spec:
    """What a case will be, before an order is found for it."""

    case_type: str
    script: str
    reason: str
    safety: bool = False
    no_order: bool = False
    escalated_to: str = ""


# Drawn first, so that even a small demo holds every type, status and reason and the
# cases the desk must never miss: money, safety, the regulator and the platform.
MUST: list[Spec] = [
    Spec(CT.REFUND_ONLY, "needs_approval", R.NOT_DELIVERED),
    Spec(CT.RETURN_REFUND, "in_transit", R.NO_REASON),
    Spec(CT.RETURN_REFUND, "inspecting", R.QUALITY_DEFECT, safety=True),
    Spec(CT.EXCHANGE, "shipping", R.WRONG_ITEM),
    Spec(CT.REPAIR, "quoted", R.OTHER),
    Spec(CT.REISSUE, "processing", R.MISSING_ITEM),
    Spec(CT.COMPLAINT, "new", R.FUNDS_NOT_RECEIVED, no_order=True),
    Spec(CT.PARTNER_DISPUTE, "processing", R.OTHER),
    Spec(CT.REFUND_ONLY, "refunding", R.LOST_IN_TRANSIT),
    Spec(CT.RETURN_REFUND, "refunded", R.DAMAGED_IN_TRANSIT),
    Spec(CT.COMPLAINT, "rejected", R.POLICY_QUESTION),
    Spec(CT.COMPLAINT, "closed", R.USAGE_QUESTION),
    Spec(CT.EXCHANGE, "awaiting_return", R.NOT_AS_DESCRIBED),
    Spec(CT.COMPLAINT, "regulator", R.LATE_SHIPMENT),
    Spec(CT.COMPLAINT, "explained", R.UNEXPECTED_CHARGE, no_order=True),
    Spec(CT.COMPLAINT, "to_lead", R.SERVICE_ATTITUDE, escalated_to=Escalation.PLATFORM),
    Spec(CT.REFUND_ONLY, "withdrawn", R.OTHER),
    Spec(CT.RETURN_REFUND, "needs_approval", R.NOT_AS_DESCRIBED),
    Spec(CT.REPAIR, "repaired", R.QUALITY_DEFECT),
    Spec(CT.REISSUE, "reissued", R.LOST_IN_TRANSIT),
    Spec(CT.REFUND_ONLY, "auto", R.NO_REASON),
    Spec(CT.EXCHANGE, "processing", R.QUALITY_DEFECT),
]

# Without an order, the customer's payment app's trade number is all there is to go on.
MONEY_REASONS = {R.FUNDS_NOT_RECEIVED, R.UNEXPECTED_CHARGE}
# Nothing arrived (or nothing was sent yet): the refund covers the whole order.
WHOLE_ORDER_REASONS = {R.NOT_DELIVERED, R.LOST_IN_TRANSIT}
SAFETY_CATEGORIES = {"phone-accessories", "digital", "small-appliances", "personal-care"}
REPAIR_CATEGORIES = SAFETY_CATEGORIES


def _spec_random(demo: Demo) -> Spec:
    rng = demo.rng
    case_type = _weighted(rng, TYPE_WEIGHTS)
    scripts = SCRIPTS[case_type]
    weights = [w * (FINISHED_BOOST if _ends(steps) else 1) for w, steps in scripts.values()]
    script = rng.choices(list(scripts), weights=weights)[0]
    reasons = SCRIPT_REASONS.get(script, REASON_WEIGHTS[case_type])
    reason = _weighted(rng, reasons)
    safety = reason == R.QUALITY_DEFECT and rng.random() < 0.04 and script not in QUOTE_SCRIPTS
    escalated_to = ""
    if rng.random() < (0.1 if case_type == CT.COMPLAINT else 0.01):
        escalated_to = rng.choice([Escalation.REGULATOR, Escalation.PLATFORM])
    no_order = case_type == CT.COMPLAINT and (
        reason in (R.FUNDS_NOT_RECEIVED, R.UNEXPECTED_CHARGE)
        or (reason == R.SERVICE_ATTITUDE and rng.random() < 0.5)
    )
    return Spec(case_type, script, reason, safety, no_order, escalated_to)


def _ends(steps: tuple[str, ...]) -> bool:
    return bool(steps) and steps[-1] in ENDING_STEPS


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


# --------------------------------------------------------------------------- case planning


@dataclass
class CasePlan:
    spec: Spec
    steps: list[str]
    times: list[datetime]  # filing time, then one per step
    team: int
    handler: User
    filer: User
    record: OrderRecord | None = None
    lines: list[LineRequest] = field(default_factory=list)
    words: T.Words | None = None
    partner_text: T.PartnerText | None = None
    payment_reference: str = ""
    inspection: T.Inspection | None = None


def cases_plan(demo: Demo, count: int) -> list[CasePlan]:
    specs = MUST[:count]
    while len(specs) < count:
        specs.append(_spec_random(demo))
    plans = [_case_plan(demo, spec) for spec in specs]
    # File them in time order so case numbers grow with time, as in a real desk.
    return [p for _n, p in sorted(enumerate(plans), key=lambda np: (np[1].times[0], np[0]))]


def _case_plan(demo: Demo, spec: Spec) -> CasePlan:
    rng = demo.rng
    picked = None
    if not spec.no_order and spec.case_type != CT.PARTNER_DISPUTE:
        picked = _order_pick(demo, spec)
        if picked is None:  # a tiny demo ran out of suitable orders: a phone complaint instead
            spec = Spec(CT.COMPLAINT, "explained", R.SERVICE_ATTITUDE, no_order=True)
    team = rng.randrange(len(demo.teams))
    handler = rng.choice(demo.agents_of(team))
    filer = demo.users["channel-sync"]  # channel cases arrive through the integration
    if spec.case_type == CT.PARTNER_DISPUTE:
        team, handler, filer = 1, demo.lead_of(1), demo.users["sunli"]
    elif picked is None:
        filer = handler  # taken on the phone by an agent
    plan = CasePlan(spec=spec, steps=[], times=[], team=team, handler=handler, filer=filer)
    if picked is not None:
        plan.record, plan.lines = picked
    plan.steps = _steps_with_notes(demo, SCRIPTS[spec.case_type][spec.script][1])
    plan.times = _timeline(demo, plan)
    _texts_choose(demo, plan)
    return plan


def _steps_with_notes(demo: Demo, steps: tuple[str, ...]) -> list[str]:
    """The script, with the odd internal note or customer chaser between its actions."""
    result = []
    for step in steps:
        result.append(step)
        if demo.rng.random() < 0.15:
            result.append(demo.rng.choice(["note", "customer_note"]))
    return result


def _order_statuses(spec: Spec) -> list[str]:
    if spec.script == "auto":
        return [OS.PAID]
    if spec.reason in (R.NOT_DELIVERED, R.LOST_IN_TRANSIT):
        return [OS.SHIPPED]
    if spec.reason == R.LATE_SHIPMENT:
        return [OS.PAID] if spec.case_type == CT.REFUND_ONLY else [OS.PAID, OS.SHIPPED, OS.SIGNED]
    if spec.case_type == CT.REFUND_ONLY and spec.reason in (R.NO_REASON, R.OTHER):
        return [OS.PAID]
    if spec.reason == R.SERVICE_ATTITUDE:
        return [OS.SIGNED, OS.SHIPPED, OS.PAID, OS.CANCELLED]
    return [OS.SIGNED]


def _order_fits(demo: Demo, spec: Spec, record: OrderRecord) -> bool:
    """The believable order for this case, when there is a choice."""
    order, now = record.order, demo.now
    soonest = timedelta(hours=FILING_DELAY.get(spec.reason, (2, 400))[0])
    if record.anchor + soonest + _shortest(spec) > now:
        return False  # too recent for this to have gone wrong yet
    if spec.reason == R.LATE_SHIPMENT and order.paid_at:
        shipped = order.shipped_at or now
        return shipped - order.paid_at > timedelta(hours=48)
    if spec.reason == R.LOST_IN_TRANSIT and order.shipped_at:
        return now - order.shipped_at > timedelta(hours=72)
    if spec.reason == R.NO_REASON and order.signed_at:
        unanswered = awaits_answer(SCRIPTS[spec.case_type][spec.script][1])
        return now - order.signed_at < timedelta(days=6 if unanswered else 12)
    return True


def _shortest(spec: Spec) -> timedelta:
    """The least time the case's script can take, plus an hour of slack."""
    steps = SCRIPTS[spec.case_type][spec.script][1]
    return timedelta(hours=1 + sum(STEP_DELAY[step][0] for step in steps))


def _order_pick(demo: Demo, spec: Spec) -> tuple[OrderRecord, list[LineRequest]] | None:
    """An order (and lines) for the case: a fitting unused one if possible, else relax."""
    statuses = _order_statuses(spec)
    fallback = [OS.SIGNED, OS.SHIPPED] + ([OS.PAID] if spec.case_type == CT.REFUND_ONLY else [])
    for tier_statuses, strict in ((statuses, True), (statuses, False), (fallback, False)):
        for fresh_only in (True, False):
            for status in tier_statuses:
                for record in demo.orders.get(status, []):
                    if fresh_only and record.order.pk in demo.used_orders:
                        continue
                    if record.anchor + _shortest(spec) > demo.now:
                        continue  # the story could not have happened since
                    if strict and not _order_fits(demo, spec, record):
                        continue
                    lines = _lines_choose(demo, spec, record, strict)
                    if lines is not None:
                        demo.used_orders.add(record.order.pk)
                        for request in lines:
                            demo.claimed[request.order_line.pk] += request.quantity
                        return record, lines
    return None


def _lines_choose(
    demo: Demo, spec: Spec, record: OrderRecord, strict: bool
) -> list[LineRequest] | None:
    """The order lines the case claims, or None if this order cannot carry the case.

    Every unit is claimed at most once across all demo cases, so no line is over-claimed
    whatever happens to the cases later.
    """
    if spec.case_type == CT.COMPLAINT:
        return []
    rng = demo.rng
    open_lines = [
        (line, line.quantity - demo.claimed[line.pk])
        for line in record.lines
        if line.quantity > demo.claimed[line.pk]
    ]
    category = lambda line: line.product.category  # noqa: E731
    if spec.case_type != CT.REFUND_ONLY:
        # Fresh food is not sent back or repaired; it is refunded, or reissued when it
        # arrived spoiled.
        keep = spec.case_type == CT.REISSUE and spec.reason == R.DAMAGED_IN_TRANSIT
        open_lines = [(ln, q) for ln, q in open_lines if keep or not category(ln).perishable]
    if spec.case_type == CT.REPAIR:
        open_lines = [
            (ln, q)
            for ln, q in open_lines
            if category(ln).code in REPAIR_CATEGORIES and ln.product.warranty_months > 0
        ]
    if spec.safety:
        open_lines = [(ln, q) for ln, q in open_lines if category(ln).code in SAFETY_CATEGORIES]
    if strict and spec.reason == R.NO_REASON and spec.case_type == CT.RETURN_REFUND:
        open_lines = [(ln, q) for ln, q in open_lines if category(ln).no_reason_return]
    if (
        strict
        and spec.case_type == CT.REFUND_ONLY
        and spec.reason in (R.QUALITY_DEFECT, R.DAMAGED_IN_TRANSIT)
    ):
        # Refund without return is what a rotten fruit box gets.
        open_lines = [(ln, q) for ln, q in open_lines if category(ln).perishable]
    if not open_lines:
        return None
    whole_order = spec.reason in WHOLE_ORDER_REASONS or record.order.status == OS.PAID
    if spec.case_type == CT.REFUND_ONLY and whole_order:
        chosen = open_lines
    elif spec.script == "needs_approval":
        chosen = [max(open_lines, key=lambda lq: line_value(*lq))]
    else:
        line, remaining = rng.choice(open_lines)
        quantity = remaining if spec.case_type in (CT.REFUND_ONLY, CT.RETURN_REFUND) else 1
        chosen = [(line, quantity)]
    # Above 200 an agent's refund waits for a team lead: these scripts need such an amount.
    if spec.script == "needs_approval" and sum(line_value(*lq) for lq in chosen) <= 200:
        return None
    return [LineRequest(line, quantity) for line, quantity in chosen]


def line_value(line: OrderLine, quantity: int) -> Decimal:
    return money(line.paid_amount * quantity / line.quantity)


# How long after the order's anchor a customer typically files, by reason (hours).
FILING_DELAY = {
    R.NO_REASON: (6, 140),
    R.DAMAGED_IN_TRANSIT: (0.5, 30),
    R.WRONG_ITEM: (1, 72),
    R.MISSING_ITEM: (1, 72),
    R.LOST_IN_TRANSIT: (72, 160),
    R.NOT_DELIVERED: (60, 120),
    R.LATE_SHIPMENT: (49, 72),
    R.QUALITY_DEFECT: (24, 900),
}
# How long each step takes after the one before it (hours).
STEP_DELAY = {
    "assign": (0.05, 1.5),
    "ask": (0.3, 6),
    "quote": (4, 30),
    "answer": (1, 36),
    "accept": (1, 36),
    "decline": (2, 48),
    "approve": (0.3, 8),
    "auto_approve": (0.005, 0.02),
    "sign_off": (0.5, 20),
    "return": (8, 60),
    "receive": (30, 96),
    "refund": (1, 20),
    "refund_partial": (2, 30),
    "refund_credit": (1, 20),
    "process": (2, 30),
    "ship": (12, 72),
    "complete": (12, 72),
    "compensate": (2, 48),
    "explain": (1, 24),
    "reject": (1, 20),
    "appeal": (3, 100),  # inside the 7-day appeal window
    "lead_takes": (0.3, 6),
    "escalate": (1, 30),
    "escalate_12315": (4, 48),
    "escalate_platform": (4, 48),
    "cancel": (1, 40),
    "expire": (168, 172),  # the customer had 7 days to send the goods back
    "close_explained": (4, 48),
    "note": (0.2, 8),
    "customer_note": (0.5, 12),
}
# Steps the customer (or the system) takes, at any hour; staff only while the desk is open.
CUSTOMER_STEPS = {
    "answer",
    "accept",
    "decline",
    "return",
    "appeal",
    "cancel",
    "customer_note",
    "auto_approve",
}
# Repairs wait on the factory.
REPAIR_DELAY = {"process": (24, 96), "ship": (72, 240)}
ENDING_STEPS = {
    "complete",
    "compensate",
    "explain",
    "reject",
    "cancel",
    "expire",
    "close_explained",
    "decline",
}


# The last actions that leave an open case owing the customer an answer.
ANSWER_OWED = {"assign", "escalate", "escalate_platform", "answer", "accept", "appeal"}
# The share of such cases still inside the first-response target at now.
UNANSWERED_IN_TIME = 0.8


def awaits_answer(steps: list[str] | tuple[str, ...]) -> bool:
    """The case is open and nobody has answered the customer's latest word yet."""
    actions = [s for s in steps if s not in ("note", "customer_note")]
    return not actions or actions[-1] in ANSWER_OWED


def _timeline(demo: Demo, plan: CasePlan) -> list[datetime]:
    """When the case was filed and when each step happened, all before now.

    Open cases end recently (a desk does not leave cases open for months); finished ones
    start when the customer would have written. Staff act in service hours. Too long a
    story for the time since the order is squeezed, never moved before the order or past now.
    """
    rng, spec = demo.rng, plan.spec
    delays = []
    for step in plan.steps:
        low, high = STEP_DELAY[step]
        if spec.case_type == CT.REPAIR:
            low, high = REPAIR_DELAY.get(step, (low, high))
        delays.append(demo.hours(low, high))
    actions = [s for s in plan.steps if s not in ("note", "customer_note")]
    finished = bool(actions) and actions[-1] in ENDING_STEPS
    # A complaint without an order is about something in the last two months.
    anchor = plan.record.anchor if plan.record else demo.now - demo.hours(24, 24 * 60)
    owed = awaits_answer(plan.steps)
    if owed:
        # The desk answers within the hour (the first-response target), so what still waits
        # for an answer is mostly that recent; now and then one waited longer and breached.
        # Never as long as a day: the marketplace would have agreed on the shop's behalf.
        minutes = (5, 45) if rng.random() < UNANSWERED_IN_TIME else (60, 20 * 60)
    else:
        minutes = (10, 120 if finished else 36 * 60)
    latest_end = demo.now - timedelta(minutes=rng.uniform(*minutes))
    latest_end = max(latest_end, anchor + timedelta(minutes=1))
    earliest = anchor + demo.hours(*FILING_DELAY.get(spec.reason, (2, 400)))
    # A no-reason return is filed inside its 7 days whether or not it is finished (one
    # still unanswered was bought in the last days, see _order_fits).
    recent = not finished and (spec.reason != R.NO_REASON or owed)
    staff_files = plan.filer != demo.users["channel-sync"]
    if not recent:
        times = _times_forward(demo.calendar, earliest, delays, plan.steps, staff_files)
        if times[-1] <= latest_end:
            return times
    times = _times_backward(demo.calendar, latest_end, delays, plan.steps, staff_files)
    if times[0] >= anchor:
        return times
    start = anchor + timedelta(minutes=1)
    for end in (latest_end, demo.now - timedelta(minutes=1)):
        times = _times_squeezed(demo.calendar, start, end, delays, plan.steps)
        if times is not None:
            return times
    # Even told at once the night pushes it past now: this time, staff worked late.
    span = sum(delays, timedelta())
    share = (latest_end - start) / span if span else 0.0
    times = [start]
    for delay in delays:
        times.append(times[-1] + delay * share)
    return times


def _times_forward(
    cal: Calendar, start: datetime, delays: list[timedelta], steps: list[str], staff_files: bool
) -> list[datetime]:
    """Step times after `start`; a staff step due while the desk is closed waits for it to
    open."""
    times = [_morning_after(cal, start, timedelta()) if staff_files else start]
    for step, delay in zip(steps, delays, strict=True):
        at = times[-1] + delay
        times.append(at if step in CUSTOMER_STEPS else _morning_after(cal, at, delay))
    return times


def _morning_after(cal: Calendar, at: datetime, jitter: timedelta) -> datetime:
    if is_open(cal, at):
        return at
    return next_open(cal, at) + jitter % timedelta(minutes=90)


def _times_backward(
    cal: Calendar, end: datetime, delays: list[timedelta], steps: list[str], staff_files: bool
) -> list[datetime]:
    """Step times ending by `end`; a staff step that falls while the desk is closed moves back
    to the evening before."""
    times = [end]
    for i in range(len(steps) - 1, -1, -1):
        if steps[i] not in CUSTOMER_STEPS:
            times[-1] = _evening_before(cal, times[-1], delays[i])
        times.append(times[-1] - delays[i])
    if staff_files:
        times[-1] = _evening_before(cal, times[-1], timedelta())
    return times[::-1]


def _evening_before(cal: Calendar, at: datetime, jitter: timedelta) -> datetime:
    if is_open(cal, at):
        return at
    return last_closing(cal, at) - timedelta(minutes=1) - jitter % timedelta(minutes=90)


def _times_squeezed(
    cal: Calendar, start: datetime, end: datetime, delays: list[timedelta], steps: list[str]
) -> list[datetime] | None:
    """The same story told faster: the largest share of each delay that fits before `end`
    with staff in service hours, or None if nothing fits."""
    best = None
    low, high = 0.0, 1.0
    for _attempt in range(12):
        share = (low + high) / 2
        times = _times_forward(cal, start, [d * share for d in delays], steps, staff_files=False)
        if times[-1] <= end:
            best, low = times, share
        else:
            high = share
    return best


def _texts_choose(demo: Demo, plan: CasePlan) -> None:
    rng, spec = demo.rng, plan.spec
    if spec.case_type == CT.PARTNER_DISPUTE:
        money_dispute = spec.reason == R.FUNDS_NOT_RECEIVED
        plan.partner_text = rng.choice(
            [p for p in T.PARTNER_TEXTS if (p.dispute_class == "payment_terms") == money_dispute]
        )
        return
    payer = ""
    if spec.no_order and spec.reason in MONEY_REASONS:
        payer = rng.choice(["支付宝", "微信支付"])
        plan.payment_reference = _payment_reference(demo, payer, plan.times[0])
    record = plan.record
    first_line = plan.lines[0].order_line if plan.lines else None
    if first_line is None and record is not None:  # a complaint names what was bought
        first_line = record.lines[0]
    plan.words = T.words_for(
        rng,
        case_type=spec.case_type,
        reason=spec.reason,
        item=first_line.title if first_line else "",
        courier=record.courier if record else "",
        payer=payer,
        reference=plan.payment_reference,
        perishable=bool(first_line and first_line.product.category.perishable),
        safety=spec.safety,
        paid_repair=spec.script in QUOTE_SCRIPTS,
        unshipped=bool(record and record.order.status == OS.PAID),
    )
    if "receive" in plan.steps:
        plan.inspection = T.inspection_for(
            spec.case_type,
            spec.reason,
            rejected="reject" in plan.steps,
            partial="refund_partial" in plan.steps,
        )


def _payment_reference(demo: Demo, payer: str, at: datetime) -> str:
    """An Alipay or WeChat Pay trade number (28 digits) the customer reads off their app."""
    day = timezone.localtime(at - demo.hours(2, 72)).strftime("%Y%m%d")
    digits = "".join(demo.rng.choices(string.digits, k=20))
    if payer == "支付宝":
        return day + digits
    return "4200" + digits[:4] + day + digits[4:16]
