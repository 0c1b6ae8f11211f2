"""Refunds: opened when a case starts refunding, sent through the shop's payment adapter,
settled into the ledger once, or failed back to the case with the provider's reason.

Paying twice is impossible by construction:
- a case enters `refunding` once per attempt (the case lock), and each entry opens one
  Refund row (a partial unique index allows one live refund per case);
- a row is sent only by whoever claims it with a conditional UPDATE (pending → sending, or a
  sending row whose lease ran out), so concurrent workers make one call;
- every resend of a row carries the same key, which the provider treats as the same refund;
- the journal entry is posted with the key `refund:<key>`, so a replayed settlement posts
  nothing new.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.cases.models import Case, CaseEvent, RefundMethod
from aftersales.cases.services import case_refund_failed, case_refund_settled
from aftersales.cases.states import CaseStatus
from aftersales.cases.transitions import _require
from aftersales.channels.models import PaymentProvider
from aftersales.core.errors import Conflict, Invalid, NotFound
from aftersales.core.money import ZERO, money
from aftersales.ledger.models import (
    REFUND_TRANSITIONS,
    CreditKind,
    CustomerCredit,
    PaymentAccount,
    Provider,
    Refund,
    RefundStatus,
)
from aftersales.ledger.payments import base
from aftersales.ledger.payments.accounts import adapter_for
from aftersales.ledger.services import Posting, journal_post
from aftersales.policies.money import delayed_funds_interest

log = logging.getLogger(__name__)

R = RefundStatus
LEASE = timedelta(minutes=5)  # how long a sender holds a refund before another may resend
POLL = timedelta(minutes=2)  # how often a refund the provider is processing is asked after
BACKOFF_MINUTES = [1, 2, 4, 8, 16, 32, 60]  # then every hour, until someone looks
LIVE = (R.PENDING, R.SENDING, R.PROCESSING, R.AWAITING_PROOF)


def _move(refund: Refund, to: str) -> None:
    if to not in REFUND_TRANSITIONS[refund.status]:
        raise Conflict(
            "refund.invalid_transition",
            _("A refund that is %(status)s cannot become %(to)s.")
            % {"status": RefundStatus(refund.status).label, "to": RefundStatus(to).label},
            {"status": refund.status},
        )
    refund.status = to


# --------------------------------------------------------------------------- open


def _provider_for(case: Case) -> tuple[str, PaymentAccount | None]:
    """Store credit stays with us; an order paid through Alipay or WeChat Pay is refunded
    there when the shop has an account; anything else is paid by hand and proven."""
    if case.refund_method == RefundMethod.STORE_CREDIT:
        return Provider.STORE_CREDIT, None
    paid_with = case.order.payment_provider if case.order_id else ""
    if paid_with in (PaymentProvider.ALIPAY, PaymentProvider.WECHATPAY):
        account = PaymentAccount.objects.filter(
            shop_id=case.shop_id, provider=paid_with, active=True
        ).first()
        if account is not None:
            return account.provider, account
    return Provider.MANUAL, None


def _return_postage_borne(case: Case) -> Decimal:
    from aftersales.logistics.selectors import return_postage_borne  # logistics builds on us

    return return_postage_borne(case)


def refund_open(case: Case, event: CaseEvent) -> Refund | None:
    """Transition hook: a case that starts refunding gets its Refund row, in the same
    transaction, and is sent once that commits."""
    if event.to_status != CaseStatus.REFUNDING or event.from_status == CaseStatus.REFUNDING:
        return None
    now = timezone.now()
    earlier = list(Refund.objects.filter(shop_id=case.shop_id, case=case).order_by("id"))
    goods = money(case.refund_amount or ZERO)
    # Kept back from the goods, never beyond them (a person may refund less than the lines).
    fee = min(money(case.restocking_fee or ZERO), goods)
    shipping = _return_postage_borne(case)
    # Money owed since the first attempt: a refund that failed and is paid later owes the
    # customer interest for the days between (DESIGN §5: 0.03% a day).
    due_at = earlier[0].due_at if earlier else now
    interest = delayed_funds_interest(amount=goods, due=due_at, paid=now)
    if event.data.get("paid_by_channel"):
        # A marketplace refunds the buyer from its own escrow: never through our accounts too.
        provider, account = Provider.MANUAL, None
    else:
        provider, account = _provider_for(case)
    back_to = (event.data.get("approved") or {}).get("from") or event.from_status
    refund = Refund.objects.create(
        shop_id=case.shop_id,
        case=case,
        order_id=case.order_id,
        key=f"RF{case.shop_id}-{case.pk}-{len(earlier) + 1}",
        provider=provider,
        account=account,
        goods_amount=goods,
        shipping_amount=shipping,
        interest=interest,
        restocking_fee=fee,
        amount=goods - fee,
        from_status=back_to,
        next_attempt_at=now,
        due_at=due_at,
        created_at=now,
    )
    refund_send_on_commit(refund.pk)
    return refund


def refund_send_on_commit(refund_id: int) -> None:
    def enqueue() -> None:
        from aftersales.ledger.tasks import send_refund

        send_refund.enqueue(refund_id)

    transaction.on_commit(enqueue, robust=True)


# --------------------------------------------------------------------------- send


def _claim(refund_id: int, now: datetime) -> Refund | None:
    """Take the refund for one send; None when it is not due or someone else holds it."""
    claimed = (
        Refund.objects.filter(pk=refund_id)
        .filter(
            Q(status=R.PENDING, next_attempt_at__lte=now) | Q(status=R.SENDING, lease_until__lt=now)
        )
        .update(status=R.SENDING, lease_until=now + LEASE, attempts=F("attempts") + 1)
    )
    if claimed != 1:
        return None
    return Refund.objects.select_related("case", "order", "account").get(pk=refund_id)


def _request(refund: Refund) -> base.RefundRequest:
    order = refund.order
    return base.RefundRequest(
        key=refund.key,
        amount=refund.amount,
        total=order.total_paid if order else refund.amount,
        currency=order.currency if order else "CNY",
        order_number=order.external_id if order else "",
        payment_reference=order.payment_reference if order else "",
        reason=refund.case.reference,
        notify_url=refund.account.notify_url if refund.account else "",
    )


@dataclass(frozen=True)
class Outcome:
    result: base.RefundResult | None = None
    error: base.PaymentError | None = None


def refund_send(*, refund_id: int, now: datetime | None = None) -> str:
    """One attempt to pay one refund. Returns its status afterwards, or "busy" when it was
    not ours to send (not due, or another sender holds it)."""
    now = now or timezone.now()
    refund = _claim(refund_id, now)
    if refund is None:
        return "busy"
    if refund.provider == Provider.STORE_CREDIT or refund.amount == ZERO:
        # Nothing leaves through a provider (or all was kept back as a fee): settled at once.
        outcome = Outcome(base.RefundResult(key=refund.key, state=base.SUCCEEDED))
    elif refund.provider == Provider.MANUAL:
        outcome = Outcome(base.RefundResult(key=refund.key, state=R.AWAITING_PROOF))
    else:
        # The call leaves the transaction: nothing is locked while the provider answers.
        try:
            outcome = Outcome(adapter_for(refund.account).refund(_request(refund)))
        except base.PaymentError as exc:
            outcome = Outcome(error=exc)
    return _record(refund.pk, refund.attempts, outcome, now)


@transaction.atomic
def _record(refund_id: int, attempt: int, outcome: Outcome, now: datetime) -> str:
    refund = Refund.objects.select_for_update().select_related("case").get(pk=refund_id)
    if refund.status != R.SENDING or refund.attempts != attempt:
        # Our lease ran out and another sender took over; with the same key the provider
        # gives it the same answer, and its record wins.
        return refund.status
    if outcome.error is not None:
        _errored(refund, outcome.error, now)
    else:
        _apply(refund, outcome.result, now)
    return refund.status


def _errored(refund: Refund, error: base.PaymentError, now: datetime) -> None:
    if not error.retryable:
        _fail(refund, error.message, now)
        return
    wait = BACKOFF_MINUTES[min(refund.attempts, len(BACKOFF_MINUTES)) - 1]
    _move(refund, R.PENDING)
    refund.next_attempt_at = now + timedelta(minutes=wait)
    refund.failure_reason = error.message[:300]
    refund.lease_until = None
    refund.save(update_fields=["status", "next_attempt_at", "failure_reason", "lease_until"])
    log.warning("refund %s: %s; again in %s min", refund.key, error.message, wait)


def _apply(refund: Refund, result: base.RefundResult, now: datetime) -> None:
    """What the provider said, on a locked refund."""
    if result.state == base.SUCCEEDED:
        _settle(refund, result.provider_reference, result.succeeded_at or now)
    elif result.state == base.FAILED:
        _fail(refund, result.message or _("refused by the provider"), now)
    elif refund.status in (R.SENDING, R.PROCESSING):
        state = R.AWAITING_PROOF if result.state == R.AWAITING_PROOF else R.PROCESSING
        if refund.status != state:
            _move(refund, state)
        refund.provider_reference = result.provider_reference or refund.provider_reference
        refund.next_attempt_at = None if state == R.AWAITING_PROOF else now + POLL
        refund.lease_until = None
        refund.failure_reason = result.message[:300]  # e.g. WeChat Pay's ABNORMAL: look at it
        refund.save(
            update_fields=[
                "status",
                "provider_reference",
                "next_attempt_at",
                "lease_until",
                "failure_reason",
            ]
        )


def _postings(refund: Refund) -> list[Posting]:
    to_credit = refund.provider == Provider.STORE_CREDIT
    lines = [
        Posting("sales_returns", debit=refund.goods_amount),
        Posting("return_shipping", debit=refund.shipping_amount),
        Posting("compensation", debit=refund.interest),
        Posting("restocking_revenue", credit=refund.restocking_fee),
        Posting("payment_clearing", credit=ZERO if to_credit else refund.amount),
        Posting("store_credit", credit=refund.extras + (refund.amount if to_credit else ZERO)),
    ]
    return [p for p in lines if p.debit > ZERO or p.credit > ZERO]


def _settle(refund: Refund, provider_reference: str, at: datetime, actor=None) -> None:
    if refund.status == R.SUCCEEDED:
        return
    _move(refund, R.SUCCEEDED)
    case = refund.case
    entry = journal_post(
        shop=case.shop,
        postings=_postings(refund),
        memo=_("Refund %(key)s for %(case)s") % {"key": refund.key, "case": case.reference},
        actor=actor,
        case=case,
        order=refund.order,
        key=f"refund:{refund.key}",
        at=at,
    )
    credited = refund.extras + (refund.amount if refund.provider == Provider.STORE_CREDIT else ZERO)
    if credited > ZERO:
        CustomerCredit.objects.create(
            shop_id=refund.shop_id,
            customer_id=case.customer_id,
            kind=CreditKind.STORE_CREDIT,
            amount=credited,
            case=case,
            order_id=refund.order_id,
            reason=refund.key,
            entry=entry,
            created_at=at,
        )
    refund.entry = entry
    refund.provider_reference = provider_reference or refund.provider_reference
    refund.confirmed_at = at
    refund.next_attempt_at = refund.lease_until = None
    refund.failure_reason = ""
    refund.save()
    if case.status == CaseStatus.REFUNDING:
        # The refund's number is in the event's data; the note is for people.
        note = _("Refund of %(amount)s paid.") % {"amount": refund.amount}
        case_refund_settled(case=case, actor=actor, refund_key=refund.key, note=note)


def _fail(refund: Refund, reason: str, now: datetime, actor=None) -> None:
    if refund.status == R.FAILED:
        return
    _move(refund, R.FAILED)
    refund.failure_reason = reason[:300]
    refund.next_attempt_at = refund.lease_until = None
    refund.save(update_fields=["status", "failure_reason", "next_attempt_at", "lease_until"])
    case = refund.case
    if case.status == CaseStatus.REFUNDING:
        case_refund_failed(
            case=case,
            actor=actor,
            refund_key=refund.key,
            back_to=refund.from_status,
            reason=_("The refund failed: %(reason)s") % {"reason": reason},
        )


# --------------------------------------------------------------------------- answers


def refund_check(*, refund_id: int, now: datetime | None = None) -> str:
    """Ask the provider about a refund it is processing (the poll behind the callbacks)."""
    now = now or timezone.now()
    refund = Refund.objects.select_related("case", "order", "account").get(pk=refund_id)
    if refund.status != R.PROCESSING:
        return refund.status
    try:
        result = adapter_for(refund.account).query(refund.key, _request(refund))
    except base.PaymentError as exc:
        Refund.objects.filter(pk=refund.pk, status=R.PROCESSING).update(
            next_attempt_at=now + POLL, failure_reason=exc.message[:300]
        )
        return R.PROCESSING
    return _answer(refund.pk, result, now)


@transaction.atomic
def _answer(refund_id: int, result: base.RefundResult, now: datetime) -> str:
    refund = Refund.objects.select_for_update().select_related("case").get(pk=refund_id)
    if refund.status in (R.SUCCEEDED, R.FAILED):
        return refund.status  # a repeated notification changes nothing
    if refund.status == R.PROCESSING or result.state in (base.SUCCEEDED, base.FAILED):
        _apply(refund, result, now)
    return refund.status


def refund_notified(*, account: PaymentAccount, headers: dict[str, str], body: bytes) -> Refund:
    """A provider's callback: verified by the adapter, applied once."""
    try:
        result = adapter_for(account).parse_callback(headers, body)
    except base.PaymentError as exc:
        raise Invalid("refund.bad_notification", exc.message, {"body": exc.message}) from exc
    refund = Refund.objects.filter(shop_id=account.shop_id, key=result.key).first()
    if refund is None:
        raise NotFound("refund.not_found", _("No such refund."))
    _answer(refund.pk, result, timezone.now())
    refund.refresh_from_db()
    return refund


# --------------------------------------------------------------------------- by hand


def _locked_manual(refund: Refund, actor: AbstractBaseUser | None, perm: str) -> Refund:
    _require(actor, perm, refund.shop_id)
    locked = Refund.objects.select_for_update().select_related("case").get(pk=refund.pk)
    if locked.status != R.AWAITING_PROOF:
        raise Conflict(
            "refund.invalid_transition",
            _("Only a refund waiting for proof is confirmed or failed by hand."),
            {"status": locked.status},
        )
    return locked


@transaction.atomic
def refund_confirm(
    *,
    refund: Refund,
    actor: AbstractBaseUser | None,
    reference: str,
    proof: UploadedFile | None = None,
) -> Refund:
    """Finance paid it by hand (bank transfer, the marketplace's own refund button): record the
    reference and, optionally, the proof; the ledger and the case follow."""
    reference = (reference or "").strip()
    if not reference:
        raise Invalid("refund.invalid", _("Give the payment's reference."), {"reference": "?"})
    locked = _locked_manual(refund, actor, "cases.act_refund_settled")
    if proof is not None:
        from aftersales.cases.evidence import upload_check  # the same type and size checks

        upload_check(proof)
        locked.proof.save(f"{locked.key}", proof, save=False)
    _settle(locked, reference[:64], timezone.now(), actor=actor)
    return locked


@transaction.atomic
def refund_fail(*, refund: Refund, actor: AbstractBaseUser | None, reason: str) -> Refund:
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("refund.invalid", _("Say why it failed."), {"reason": _("Required.")})
    locked = _locked_manual(refund, actor, "cases.act_refund_failed")
    _fail(locked, reason, timezone.now(), actor=actor)
    return locked


# --------------------------------------------------------------------------- sweep


def refunds_sweep(*, now: datetime, limit: int = 100) -> int:
    """The worker's safety net: send what is due (a lost task, a retry, a sender that died
    holding a lease) and ask after what the provider is still processing."""
    due = list(
        Refund.objects.filter(
            Q(status=R.PENDING, next_attempt_at__lte=now)
            | Q(status=R.SENDING, lease_until__lt=now)
            | Q(status=R.PROCESSING, next_attempt_at__lte=now)
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", "status")[:limit]
    )
    for refund_id, status in due:
        try:
            if status == R.PROCESSING:
                refund_check(refund_id=refund_id, now=now)
            else:
                refund_send(refund_id=refund_id, now=now)
        except Exception:  # one bad row must not stop the others; logged, tried next beat
            log.exception("refund %s could not be sent", refund_id)
    return len(due)


def refund_get(*, shop_ids: list[int], refund_id: int) -> Refund:
    refund = (
        Refund.objects.filter(pk=refund_id, shop_id__in=shop_ids)
        .select_related("case", "order")
        .first()
    )
    if refund is None:
        raise NotFound("refund.not_found", _("No such refund."))
    return refund


# --------------------------------------------------------------------------- by the channel


def refund_settled_by_channel(*, case: Case, reference: str, at: datetime) -> Refund | None:
    """The marketplace says it refunded the customer itself (a Taobao refund is paid from the
    platform's escrow): the case's live refund that waits to be paid by hand is settled with
    the channel's number, and the books follow. Refunds going through our own payment
    accounts are left to their provider's answer. Call inside the caller's transaction."""
    live = _waiting_by_hand(case)
    if live is None:
        return None
    _settle(live, reference[:64], at)
    return live


def refund_failed_by_channel(*, case: Case, reason: str, at: datetime) -> Refund | None:
    """The marketplace closed or refused the request while our refund still waited to be paid
    by hand: that refund will never be paid, so it fails (the case goes back where it was)."""
    live = _waiting_by_hand(case)
    if live is None:
        return None
    _fail(live, reason, at)
    return live


def _waiting_by_hand(case: Case) -> Refund | None:
    """The case's refund that waits to be paid by hand (not yet sent, or awaiting proof),
    locked."""
    return (
        Refund.objects.select_for_update()
        .select_related("case")
        .filter(
            shop_id=case.shop_id,
            case=case,
            provider=Provider.MANUAL,
            status__in=(R.PENDING, R.AWAITING_PROOF),
        )
        .order_by("-id")
        .first()
    )
