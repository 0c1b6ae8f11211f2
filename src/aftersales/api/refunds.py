"""Refunds and goodwill: a case's refunds, finance's confirmation of by-hand refunds, the payment
providers' callbacks, and approvals of compensation above an agent's budget."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Router, Schema, UploadedFile

from aftersales.accounts.selectors import shop_ids_for
from aftersales.api.schemas import ERRORS, In
from aftersales.cases.selectors import case_get_for_actor
from aftersales.core.errors import DomainError, NotFound
from aftersales.ledger import compensation as comp
from aftersales.ledger import refunds
from aftersales.ledger.models import (
    Compensation,
    CompensationStatus,
    PaymentAccount,
    Provider,
    Refund,
)

router = Router(tags=["refunds"])
_OPTIONAL_FILE = File(None)  # ninja reads an optional upload from this marker


class RefundOut(Schema):
    id: int
    key: str
    case_id: int
    provider: str
    status: str
    goods_amount: Decimal
    shipping_amount: Decimal
    interest: Decimal
    restocking_fee: Decimal
    amount: Decimal
    attempts: int
    provider_reference: str
    failure_reason: str
    has_proof: bool
    due_at: datetime
    created_at: datetime
    confirmed_at: datetime | None

    @staticmethod
    def resolve_has_proof(refund: Refund) -> bool:
        return bool(refund.proof)


class CompensationOut(Schema):
    id: int
    case_id: int
    agent_id: int
    amount: Decimal
    kind: str
    note: str
    status: str
    decided_by_id: int | None
    created_at: datetime
    decided_at: datetime | None


@router.get("/cases/{case_id}/refunds", response={200: list[RefundOut], **ERRORS})
def case_refunds(request: HttpRequest, case_id: int):
    """Every refund attempt of the case, newest first."""
    case = case_get_for_actor(request.auth, case_id)
    return list(Refund.objects.filter(shop_id=case.shop_id, case=case).order_by("-id"))


def _refund(request: HttpRequest, refund_id: int) -> Refund:
    return refunds.refund_get(shop_ids=list(shop_ids_for(request.auth)), refund_id=refund_id)


@router.post("/refunds/{refund_id}/actions/confirm", response={200: RefundOut, **ERRORS})
def refund_confirm(
    request: HttpRequest,
    refund_id: int,
    reference: Form[str],
    proof: UploadedFile = _OPTIONAL_FILE,
):
    """Finance paid a by-hand refund: the payment's reference and, optionally, proof (a
    screenshot or PDF of the transfer). The ledger and the case follow."""
    return refunds.refund_confirm(
        refund=_refund(request, refund_id), actor=request.auth, reference=reference, proof=proof
    )


class RefundFailIn(In):
    reason: str = Field(min_length=1, max_length=300)


@router.post("/refunds/{refund_id}/actions/fail", response={200: RefundOut, **ERRORS})
def refund_fail(request: HttpRequest, refund_id: int, payload: RefundFailIn):
    """A by-hand refund could not be paid: the case goes back with the reason."""
    return refunds.refund_fail(
        refund=_refund(request, refund_id), actor=request.auth, reason=payload.reason
    )


@router.post("/payments/{account_id}/notify", auth=None, response={200: None, **ERRORS})
def payment_notify(request: HttpRequest, account_id: int):
    """The payment provider's refund notification (Alipay form post, WeChat Pay v3 JSON);
    verified with the account's keys, applied once. Answers in the provider's own terms."""
    account = PaymentAccount.objects.filter(pk=account_id, active=True).first()
    if account is None:
        raise NotFound("payment_account.not_found", _("No such payment account."))
    headers = {k: v for k, v in request.headers.items()}
    try:
        refunds.refund_notified(account=account, headers=headers, body=request.body)
    except DomainError as exc:
        if account.provider == Provider.ALIPAY:
            return HttpResponse("fail", status=400, content_type="text/plain")
        return JsonResponse({"code": "FAIL", "message": exc.message}, status=400)
    if account.provider == Provider.ALIPAY:
        return HttpResponse("success", content_type="text/plain")
    return HttpResponse(status=204)


@router.get("/compensations", response={200: list[CompensationOut], **ERRORS})
def compensations_waiting(
    request: HttpRequest, status: CompensationStatus = CompensationStatus.AWAITING_APPROVAL
):
    """Goodwill of the user's shops, by status (default: waiting for approval), newest first."""
    shop_ids = list(shop_ids_for(request.auth))
    rows = Compensation.objects.filter(shop_id__in=shop_ids, status=status).order_by("-id")
    return list(rows[:200])


class DecideIn(In):
    note: str = Field(default="", max_length=500)


def _decide(request: HttpRequest, compensation_id: int, approve: bool, note: str):
    found = comp.compensation_get(
        shop_ids=list(shop_ids_for(request.auth)), compensation_id=compensation_id
    )
    return comp.compensation_decide(
        compensation=found, actor=request.auth, approve=approve, note=note
    )


@router.post(
    "/compensations/{compensation_id}/actions/approve", response={200: CompensationOut, **ERRORS}
)
def compensation_approve(request: HttpRequest, compensation_id: int, payload: DecideIn):
    """A team lead or manager grants goodwill above the agent's monthly budget."""
    return _decide(request, compensation_id, True, payload.note)


@router.post(
    "/compensations/{compensation_id}/actions/refuse", response={200: CompensationOut, **ERRORS}
)
def compensation_refuse(request: HttpRequest, compensation_id: int, payload: DecideIn):
    return _decide(request, compensation_id, False, payload.note)
