"""Cases: create, list (filters, keyset pages), detail with timeline, one endpoint per action."""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from django.contrib.auth import get_user_model
from django.http import FileResponse, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Query, Router, Schema, Status, UploadedFile

from aftersales.accounts.models import Team
from aftersales.api.schemas import ERRORS, AwareDatetime, Id, In, Money
from aftersales.cases import services
from aftersales.cases.exports import cases_filename, cases_table
from aftersales.cases.models import (
    Case,
    Disposition,
    DisputeClass,
    DisputeNature,
    Emotion,
    Escalation,
    EvidenceKind,
    Grade,
    Outcome,
    Priority,
    Reason,
    RefundMethod,
)
from aftersales.cases.selectors import CaseFilters, case_get_for_actor, case_timeline, cases_list
from aftersales.cases.states import CaseStatus, CaseType, allowed_actions
from aftersales.cases.transitions import action_once
from aftersales.channels.models import Channel
from aftersales.channels.selectors import (
    channel_get_for_actor,
    order_find_for_actor,
    order_get_for_actor,
    shop_get_for_actor,
)
from aftersales.core.errors import Invalid, NotFound
from aftersales.core.tabular import table_response
from aftersales.ledger.compensation import compensation_give
from aftersales.ledger.models import CreditKind
from aftersales.logistics import services as logistics
from aftersales.logistics.selectors import return_parcel
from aftersales.policies.triggers import case_evidence_received, case_file
from aftersales.sla.selectors import case_clocks

router = Router(tags=["cases"])


# ----------------------------------------------------------------------------- output


class CaseLineOut(Schema):
    id: int
    order_line_id: int
    sku: str
    quantity: int
    grade: str
    disposition: str

    @staticmethod
    def resolve_sku(line) -> str:
        return line.order_line.sku


class OrderRefOut(Schema):
    id: int
    channel_id: int
    external_id: str


class EventOut(Schema):
    id: int
    kind: str
    actor: str = Field(alias="actor_label")
    from_status: str
    to_status: str
    note: str
    data: dict
    created_at: datetime


class EvidenceOut(Schema):
    id: int
    kind: str
    content_type: str
    size: int
    original_name: str
    url: str
    created_at: datetime

    @staticmethod
    def resolve_url(evidence) -> str:
        return f"/api/v1/cases/{evidence.case_id}/evidence/{evidence.pk}"


class ApprovalOut(Schema):
    action: str
    amount: Decimal
    refund_method: str
    approval_role: str
    requested_by_id: int | None


class CaseSummaryOut(Schema):
    id: int
    reference: str
    shop_id: int
    type: str
    status: str
    reason: str
    priority: int
    priority_reason: str
    order: OrderRefOut | None
    channel_id: int | None
    customer_id: int | None
    assignee: str | None
    team_id: int | None
    escalation_level: int
    outcome: str
    refund_amount: Decimal | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_assignee(case: Case) -> str | None:
        return case.assignee.get_username() if case.assignee_id else None


class ClockOut(Schema):
    kind: str
    label: str
    subject: str
    state: str
    due_at: datetime | None
    business: bool
    seconds_left: int
    overdue: bool


class CaseDetailOut(CaseSummaryOut):
    lines: list[CaseLineOut]
    customer_words: str
    emotion: str
    facts: str
    expectation: str
    safety_issue: bool
    escalated_to: str
    payment_reference: str
    partner_id: int | None
    dispute_class: str
    dispute_nature: str
    channel_status: str
    refund_method: str
    quote_amount: Decimal | None
    approval: ApprovalOut | None
    return_courier: str
    return_tracking_number: str
    outbound_courier: str
    outbound_tracking_number: str
    rejected_at: datetime | None
    closed_at: datetime | None
    allowed_actions: list[str]
    # Where the customer sends the return (shown once the return is approved).
    return_address: str
    # The latest policy decision: rule, action, facts read, explanation.
    decision: dict | None
    # Every running clock: marketplace deadlines, SLA targets, warnings, escalation.
    clocks: list[ClockOut]
    evidence: list[EvidenceOut]
    timeline: list[EventOut]

    @staticmethod
    def resolve_lines(case: Case):
        return list(case.lines.select_related("order_line"))

    @staticmethod
    def resolve_return_address(case: Case) -> str:
        parcel = return_parcel(case)
        return parcel.address if parcel else ""

    @staticmethod
    def resolve_allowed_actions(case: Case) -> list[str]:
        return allowed_actions(case.type, case.status)

    @staticmethod
    def resolve_approval(case: Case):
        if not case.pending_action:
            return None
        return {
            "action": case.pending_action["action"],
            "amount": Decimal(case.pending_action["amount"]),
            "refund_method": case.pending_action["refund_method"],
            "approval_role": case.approval_role,
            "requested_by_id": case.requested_by_id,
        }

    @staticmethod
    def resolve_evidence(case: Case):
        return list(case.evidence.all())

    @staticmethod
    def resolve_timeline(case: Case):
        return list(case_timeline(case))

    @staticmethod
    def resolve_clocks(case: Case):
        return case_clocks(case)


class CasePage(Schema):
    items: list[CaseSummaryOut]
    next_cursor: str | None


def _detail(request: HttpRequest, case_id: int) -> Case:
    return case_get_for_actor(request.auth, case_id)


# ----------------------------------------------------------------------------- create


class CaseLineIn(In):
    order_line_id: int | None = None
    sku: str | None = Field(default=None, max_length=64)
    quantity: int = Field(ge=1, le=100000)


class CaseIn(In):
    type: CaseType
    reason: Reason
    order_id: int | None = None
    channel_id: int | None = Field(default=None, description="with external_id")
    external_id: str | None = Field(default=None, max_length=64)
    shop_id: int | None = Field(default=None, description="for cases without an order")
    lines: list[CaseLineIn] = Field(default_factory=list, max_length=500)
    customer_words: str = Field(default="", max_length=5000)
    emotion: Emotion | None = None
    facts: str = Field(default="", max_length=5000)
    expectation: str = Field(default="", max_length=2000)
    safety_issue: bool = False
    escalated_to: Escalation | None = None
    payment_reference: str = Field(default="", max_length=64)
    partner_id: int | None = None
    dispute_class: DisputeClass | None = None
    dispute_nature: DisputeNature | None = None
    channel_status: str = Field(default="", max_length=40)
    refund_method: RefundMethod | None = Field(default=None, description="the customer's choice")
    repair_parts: list[str] = Field(default_factory=list, max_length=50)


def _resolve_lines(order, lines: list[CaseLineIn]) -> list[services.LineRequest]:
    by_id = {ol.pk: ol for ol in order.lines.all()}
    by_sku = {ol.sku: ol for ol in by_id.values()}
    resolved, errors = [], {}
    for i, line in enumerate(lines):
        if line.order_line_id is not None:
            order_line = by_id.get(line.order_line_id)
        elif line.sku is not None:
            order_line = by_sku.get(line.sku)
        else:
            errors[f"lines.{i}"] = _("Give order_line_id or sku.")
            continue
        if order_line is None:
            key = "order_line_id" if line.order_line_id is not None else "sku"
            errors[f"lines.{i}.{key}"] = _("Not a line of this order.")
            continue
        resolved.append(services.LineRequest(order_line, line.quantity))
    if errors:
        raise Invalid("case.invalid_lines", _("Some case lines are not valid."), errors)
    return resolved


@router.post("/cases", response={201: CaseDetailOut, **ERRORS})
def case_add(request: HttpRequest, payload: CaseIn):
    """File a case from an order reference (order_id, or channel_id + external_id) and lines."""
    actor = request.auth
    order = None
    if payload.order_id is not None:
        order = order_get_for_actor(actor, payload.order_id)
    elif payload.channel_id is not None or payload.external_id is not None:
        if payload.channel_id is None or not payload.external_id:
            raise Invalid(
                "case.invalid",
                _("An order reference needs both channel_id and external_id."),
                {"external_id" if payload.channel_id else "channel_id": _("Required.")},
            )
        order = order_find_for_actor(actor, payload.channel_id, payload.external_id)
    shop = shop_get_for_actor(actor, payload.shop_id) if payload.shop_id is not None else None
    partner: Channel | None = None
    if payload.partner_id is not None:
        try:
            partner = channel_get_for_actor(actor, payload.partner_id)
        except NotFound as exc:
            raise Invalid(
                "case.invalid", _("No such partner."), {"partner_id": _("Unknown.")}
            ) from exc
    if payload.lines and order is None:
        raise Invalid("case.invalid", _("Lines need an order."), {"lines": _("No order given.")})
    lines = _resolve_lines(order, payload.lines) if order is not None else []
    case = case_file(
        actor=actor,
        case_type=payload.type,
        reason=payload.reason,
        shop=shop,
        order=order,
        lines=lines,
        customer_words=payload.customer_words,
        emotion=payload.emotion or "",
        facts=payload.facts,
        expectation=payload.expectation,
        safety_issue=payload.safety_issue,
        escalated_to=payload.escalated_to or "",
        payment_reference=payload.payment_reference,
        partner=partner,
        dispute_class=payload.dispute_class or "",
        dispute_nature=payload.dispute_nature or "",
        channel_status=payload.channel_status,
        refund_method=payload.refund_method or "",
        repair_parts=payload.repair_parts,
    )
    return Status(201, _detail(request, case.pk))


# ----------------------------------------------------------------------------- read


class CaseFilterQuery(Schema):
    """The list's filters; the export takes the same ones."""

    status: list[CaseStatus] | None = None
    type: list[CaseType] | None = None
    channel_id: Id | None = None
    shop_id: Id | None = None
    priority: Priority | None = None
    reason: Reason | None = None
    assignee_id: Id | None = None
    unassigned: bool = False
    created_from: AwareDatetime | None = None
    created_to: AwareDatetime | None = None
    # Breaching soon: open cases whose response or resolution target runs out within this
    # many seconds from now (0: already overdue). Up to 30 days.
    sla_due_within: int | None = Field(default=None, ge=0, le=30 * 24 * 3600)

    def filters(self) -> CaseFilters:
        return CaseFilters(
            status=self.status,
            type=self.type,
            channel_id=self.channel_id,
            shop_id=self.shop_id,
            priority=self.priority,
            reason=self.reason,
            assignee_id=self.assignee_id,
            unassigned=self.unassigned,
            created_from=self.created_from,
            created_to=self.created_to,
            sla_due_by=(
                timezone.now() + timedelta(seconds=self.sla_due_within)
                if self.sla_due_within is not None
                else None
            ),
        )


class CaseQuery(CaseFilterQuery):
    cursor: Id | None = None
    limit: int = Field(default=50, ge=1, le=200)


class CaseExportQuery(CaseFilterQuery):
    format: Literal["csv", "xlsx"] = "csv"


@router.get("/cases", response={200: CasePage, **ERRORS})
def case_list(request: HttpRequest, query: Query[CaseQuery]):
    """Newest first, one keyset page at a time: pass next_cursor back as cursor."""
    cases, next_cursor = cases_list(
        request.auth, query.filters(), before_id=query.cursor, limit=query.limit
    )
    return {"items": cases, "next_cursor": str(next_cursor) if next_cursor else None}


@router.get("/cases/export", response={200: None, **ERRORS})
def case_export(request: HttpRequest, query: Query[CaseExportQuery]):
    """Every case the list shows under the same filters, one row each, as CSV (UTF-8 with
    BOM) or XLSX. Headers in the user's language; statuses, types and outcomes as codes."""
    table = cases_table(request.auth, query.filters())
    return table_response(table, format=query.format, filename=cases_filename(query.format))


@router.get("/cases/{case_id}", response={200: CaseDetailOut, **ERRORS})
def case_detail(request: HttpRequest, case_id: int):
    return _detail(request, case_id)


@router.post("/cases/{case_id}/evidence", response={201: EvidenceOut, **ERRORS})
def case_evidence_add(
    request: HttpRequest,
    case_id: int,
    kind: Form[EvidenceKind],
    file: File[UploadedFile],
):
    """Attach a photo, video or PDF (type read from the bytes; size limited)."""
    case = case_get_for_actor(request.auth, case_id)
    evidence = case_evidence_received(case=case, actor=request.auth, upload=file, kind=kind)
    return Status(201, evidence)


@router.get("/cases/{case_id}/evidence/{evidence_id}", response={200: None, **ERRORS})
def case_evidence_file(request: HttpRequest, case_id: int, evidence_id: int):
    """The file itself, only for those who may see the case."""
    case = case_get_for_actor(request.auth, case_id)
    evidence = case.evidence.filter(pk=evidence_id).first()
    if evidence is None:
        raise NotFound("evidence.not_found", _("No such evidence."))
    response = FileResponse(evidence.file.open("rb"), content_type=evidence.content_type)
    response["Content-Disposition"] = f'inline; filename="evidence-{evidence.pk}"'
    return response


# ----------------------------------------------------------------------------- actions


class NoteIn(In):
    note: str = Field(default="", max_length=5000)


class RequiredNoteIn(In):
    note: str = Field(min_length=1, max_length=5000)


class ApproveIn(NoteIn):
    amount: Money | None = Field(default=None, description="refund_only: the refund amount")
    refund_method: RefundMethod = RefundMethod.ORIGINAL


class RequestInfoIn(In):
    question: str = Field(min_length=1, max_length=5000)
    quote_amount: Money | None = Field(default=None, description="repair: the quote to accept")


class ProvideInfoIn(In):
    answer: str = Field(min_length=1, max_length=5000)
    accept_quote: bool = True


class TrackingIn(In):
    courier: str = Field(min_length=1, max_length=40)
    tracking_number: str = Field(min_length=1, max_length=64)


class ReturnSentIn(TrackingIn):
    postage: Money | None = Field(default=None, description="what the customer paid to send it")


class ShipIn(TrackingIn):
    parts: list[str] = Field(
        default_factory=list, max_length=50, description="reissue: only these part codes"
    )


class FactorySendIn(TrackingIn, NoteIn):
    factory: str = Field(min_length=1, max_length=120)


class FactoryReceiveIn(TrackingIn, NoteIn):
    claim_amount: Money | None = Field(
        default=None, description="what the factory owes us for the defect (supplier claim)"
    )


class CompensateIn(In):
    amount: Money
    kind: CreditKind = CreditKind.COUPON
    note: str = Field(min_length=1, max_length=500)


class InspectionIn(In):
    case_line_id: int
    grade: Grade
    disposition: Disposition


class InspectIn(NoteIn):
    lines: list[InspectionIn] = Field(min_length=1, max_length=500)
    restocking_fee: Money | None = Field(default=None, description="kept back from the refund")


class ReceiveIn(NoteIn):
    lines: list[InspectionIn] = Field(
        default_factory=list, max_length=500, description="inspect at once (else: inspect later)"
    )
    restocking_fee: Money | None = None


def _inspections(p) -> list[services.LineInspection]:
    return [
        services.LineInspection(line.case_line_id, line.grade, line.disposition) for line in p.lines
    ]


class RefundIn(NoteIn):
    amount: Money | None = None
    refund_method: RefundMethod = RefundMethod.ORIGINAL


class CompleteIn(NoteIn):
    outcome: Outcome | None = None


class EscalateIn(NoteIn):
    escalated_to: Escalation | None = None


class CloseIn(NoteIn):
    outcome: Outcome = Outcome.EXPIRED


class CommentIn(In):
    text: str = Field(min_length=1, max_length=5000)
    internal: bool = False


class AssignIn(NoteIn):
    assignee_id: int | None = None
    team_id: int | None = None


def _assign(case, actor, p: AssignIn):
    assignee = team = None
    if p.assignee_id is not None:
        assignee = get_user_model().objects.filter(pk=p.assignee_id).first()
        if assignee is None:
            raise Invalid(
                "case.invalid_assignee", _("No such user."), {"assignee_id": _("Unknown.")}
            )
    if p.team_id is not None:
        team = Team.objects.filter(pk=p.team_id).first()
        if team is None:
            raise Invalid("case.invalid_assignee", _("No such team."), {"team_id": _("Unknown.")})
    return services.case_assign(case=case, actor=actor, assignee=assignee, team=team, note=p.note)


ACTIONS = {
    "approve": (
        ApproveIn,
        lambda c, a, p: services.case_approve(
            case=c, actor=a, note=p.note, amount=p.amount, refund_method=p.refund_method
        ),
    ),
    "reject": (RequiredNoteIn, lambda c, a, p: services.case_reject(case=c, actor=a, note=p.note)),
    "request_info": (
        RequestInfoIn,
        lambda c, a, p: services.case_request_info(
            case=c, actor=a, question=p.question, quote_amount=p.quote_amount
        ),
    ),
    "provide_info": (
        ProvideInfoIn,
        lambda c, a, p: services.case_provide_info(
            case=c, actor=a, answer=p.answer, accept_quote=p.accept_quote
        ),
    ),
    "record_return": (
        ReturnSentIn,
        lambda c, a, p: services.case_record_return(
            case=c, actor=a, courier=p.courier, tracking_number=p.tracking_number, postage=p.postage
        ),
    ),
    "receive": (
        ReceiveIn,
        lambda c, a, p: services.case_receive(
            case=c,
            actor=a,
            note=p.note,
            inspections=_inspections(p),
            restocking_fee=p.restocking_fee,
        ),
    ),
    "inspect": (
        InspectIn,
        lambda c, a, p: services.case_inspect(
            case=c,
            actor=a,
            note=p.note,
            inspections=_inspections(p),
            restocking_fee=p.restocking_fee,
        ),
    ),
    "refund": (
        RefundIn,
        lambda c, a, p: services.case_refund(
            case=c, actor=a, amount=p.amount, refund_method=p.refund_method, note=p.note
        ),
    ),
    "process": (NoteIn, lambda c, a, p: services.case_process(case=c, actor=a, note=p.note)),
    "ship": (
        ShipIn,
        lambda c, a, p: services.case_ship(
            case=c, actor=a, courier=p.courier, tracking_number=p.tracking_number, parts=p.parts
        ),
    ),
    "intercept": (
        NoteIn,
        lambda c, a, p: logistics.intercept_request(case=c, actor=a, note=p.note),
    ),
    "factory_send": (
        FactorySendIn,
        lambda c, a, p: logistics.case_factory_send(
            case=c,
            actor=a,
            factory=p.factory,
            courier=p.courier,
            tracking_number=p.tracking_number,
            note=p.note,
        ),
    ),
    "factory_receive": (
        FactoryReceiveIn,
        lambda c, a, p: logistics.case_factory_receive(
            case=c,
            actor=a,
            courier=p.courier,
            tracking_number=p.tracking_number,
            claim_amount=p.claim_amount,
            note=p.note,
        ),
    ),
    "compensate": (
        CompensateIn,
        lambda c, a, p: compensation_give(
            case=c, actor=a, amount=p.amount, kind=p.kind, note=p.note
        ),
    ),
    "complete": (
        CompleteIn,
        lambda c, a, p: services.case_complete(
            case=c, actor=a, outcome=p.outcome or "", note=p.note
        ),
    ),
    "escalate": (
        EscalateIn,
        lambda c, a, p: services.case_escalate(
            case=c, actor=a, note=p.note, escalated_to=p.escalated_to or ""
        ),
    ),
    "appeal": (RequiredNoteIn, lambda c, a, p: services.case_appeal(case=c, actor=a, note=p.note)),
    "cancel": (NoteIn, lambda c, a, p: services.case_cancel(case=c, actor=a, note=p.note)),
    "close": (
        CloseIn,
        lambda c, a, p: services.case_close(case=c, actor=a, outcome=p.outcome, note=p.note),
    ),
    "comment": (
        CommentIn,
        lambda c, a, p: services.case_comment(case=c, actor=a, text=p.text, internal=p.internal),
    ),
    "assign": (AssignIn, _assign),
}


def _register(action: str, schema: type[Schema], call) -> None:
    def endpoint(request, case_id, payload):
        case = case_get_for_actor(request.auth, case_id)
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 120:
            raise Invalid(
                "request.invalid", _("The key is too long."), {"Idempotency-Key": "≤ 120"}
            )
        action_once(
            case=case, action=action, key=key, run=lambda: call(case, request.auth, payload)
        )
        return _detail(request, case_id)

    endpoint.__annotations__ = {"case_id": int, "payload": schema}
    endpoint.__name__ = f"case_action_{action}"
    endpoint.__doc__ = (services.ACTION_SERVICES[action].__doc__ or "").strip()
    router.post(
        f"/cases/{{case_id}}/actions/{action}",
        response={200: CaseDetailOut, **ERRORS},
        operation_id=f"case_action_{action}",
        summary=f"Case action: {action}",
        tags=["case actions"],
    )(endpoint)


for _action, (_schema, _call) in ACTIONS.items():
    _register(_action, _schema, _call)
