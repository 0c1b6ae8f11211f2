"""Refund reconciliation of one shop over a period: our refund rows, the ledger and the payment
providers compared row by row. It reads and asks the providers; it never writes.

In scope: every refund paid (confirmed) in the period; every refund opened before its end and
not settled yet; every Alipay / WeChat Pay refund opened in the period that failed (a provider
that paid one we think failed is the costliest mistake: the case goes back and may be paid
again); and every `refund:` ledger entry of the period without a paid refund behind it.

A by-hand refund is confirmed by finance's proof and store credit by ourselves, so for those
"the provider" is our own record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from django.db.models import Q

from aftersales.channels.models import Shop
from aftersales.core.money import ZERO, money
from aftersales.ledger.exports import Period
from aftersales.ledger.models import JournalEntry, JournalLine, Provider, Refund, RefundStatus
from aftersales.ledger.payments import base
from aftersales.ledger.payments.accounts import adapter_for
from aftersales.ledger.refunds import LIVE, _request

MATCHED = "matched"
MISSING_IN_LEDGER = "missing_in_ledger"
AMOUNT_MISMATCH = "amount_mismatch"
NOT_CONFIRMED_BY_PROVIDER = "not_confirmed_by_provider"
PROVIDER_SAYS_PAID = "provider_says_paid"
LEDGER_WITHOUT_REFUND = "ledger_without_refund"
PROVIDER_UNREACHABLE = "provider_unreachable"
STATUSES = (
    MATCHED,
    MISSING_IN_LEDGER,
    AMOUNT_MISMATCH,
    NOT_CONFIRMED_BY_PROVIDER,
    PROVIDER_SAYS_PAID,
    LEDGER_WITHOUT_REFUND,
    PROVIDER_UNREACHABLE,
)

UNREACHABLE = "unreachable"  # the provider state when the query got no answer
KEY_PREFIX = "refund:"
# The account a refund's payout is credited to (refunds._postings): store credit stays with
# us, everything else leaves through the payment clearing account.
CLEARING, STORE_CREDIT = "payment_clearing", "store_credit"
PAID_FROM = (CLEARING, STORE_CREDIT)
_ASKED = (Provider.ALIPAY, Provider.WECHATPAY)
_KEYS_PER_QUERY = 500  # keeps IN lists under every database's parameter limit
T = TypeVar("T")


@dataclass(frozen=True)
class ReconRow:
    status: str
    refund_key: str
    case_reference: str
    order_number: str
    provider: str
    refund_status: str  # ours; "" for a ledger entry with no refund row at all
    amount: Decimal | None  # what our refund row says
    ledger_amount: Decimal | None  # what `refund:<key>` credits the payout account, net
    provider_amount: Decimal | None  # what the provider confirms it paid
    provider_state: str  # succeeded / processing / failed / unreachable / our own status
    entry_id: int | None
    message: str = ""


@dataclass(frozen=True)
class Reconciliation:
    shop: Shop
    period: Period
    rows: list[ReconRow]
    confirmed_by_provider: Decimal
    booked_in_ledger: Decimal
    difference: Decimal  # booked − confirmed

    @property
    def matched(self) -> bool:
        return self.difference == ZERO and all(row.status == MATCHED for row in self.rows)

    def counts(self) -> dict[str, int]:
        found = Counter(row.status for row in self.rows)
        return {status: found[status] for status in STATUSES}


@dataclass(frozen=True)
class _Answer:
    state: str
    amount: Decimal | None = None
    message: str = ""


def reconciliation_run(*, shop: Shop, period: Period) -> Reconciliation:
    refunds = _refunds_in_scope(shop, period)
    booked = _booked(shop, [f"{KEY_PREFIX}{r.key}" for r in refunds])
    ask = _Asker()
    rows = [_refund_row(r, booked.get(f"{KEY_PREFIX}{r.key}"), ask(r)) for r in refunds]
    rows += _ledger_without_refund(shop, period, {r.key for r in refunds})
    confirmed = sum(
        (r.provider_amount for r in rows if r.provider_state == RefundStatus.SUCCEEDED),
        ZERO,
    )
    in_ledger = sum((r.ledger_amount for r in rows if r.ledger_amount is not None), ZERO)
    return Reconciliation(
        shop=shop,
        period=period,
        rows=rows,
        confirmed_by_provider=confirmed,
        booked_in_ledger=in_ledger,
        difference=in_ledger - confirmed,
    )


def _refunds_in_scope(shop: Shop, period: Period) -> list[Refund]:
    paid = Q(
        status=RefundStatus.SUCCEEDED,
        confirmed_at__gte=period.starts_at,
        confirmed_at__lt=period.ends_at,
    )
    open_at_end = Q(status__in=LIVE, created_at__lt=period.ends_at)
    failed = Q(
        status=RefundStatus.FAILED,
        provider__in=_ASKED,
        created_at__gte=period.starts_at,
        created_at__lt=period.ends_at,
    )
    return list(
        Refund.objects.filter(shop=shop)
        .filter(paid | open_at_end | failed)
        .select_related("case", "order", "account")
        .order_by("created_at", "id")
    )


def _chunks(items: list[T]) -> Iterator[list[T]]:
    for i in range(0, len(items), _KEYS_PER_QUERY):
        yield items[i : i + _KEYS_PER_QUERY]


@dataclass(frozen=True)
class _Booked:
    entry_id: int
    credits: dict[str, Decimal]  # account code → credit net of debit, reversal included

    def payout(self, refund: Refund | None) -> Decimal:
        if refund is None:  # no refund to say where it went: whatever left either way
            return sum(self.credits.values(), ZERO)
        if refund.provider == Provider.STORE_CREDIT:
            # The same account also takes the postage and interest given beside the payout.
            return self.credits.get(STORE_CREDIT, ZERO) - refund.extras
        return self.credits.get(CLEARING, ZERO)


def _booked(shop: Shop, keys: list[str]) -> dict[str, _Booked]:
    """key → its entry, with what it and its reversal (if any) credit to PAID_FROM."""
    entries: dict[str, int] = {}
    for chunk in _chunks(keys):
        entries.update(
            JournalEntry.objects.filter(shop=shop, key__in=chunk).values_list("key", "pk")
        )
    net: dict[str, dict[str, Decimal]] = {key: {} for key in entries}
    key_of = {pk: key for key, pk in entries.items()}
    for ids in _chunks(list(key_of)):
        lines = JournalLine.objects.filter(
            Q(entry_id__in=ids) | Q(entry__reverses_id__in=ids),
            shop=shop,
            account__code__in=PAID_FROM,
        ).values_list("entry_id", "entry__reverses_id", "account__code", "debit", "credit")
        # Summed here, in Decimal: SQLite would add the amounts as floating point.
        for entry_id, reverses_id, code, debit, credit in lines:
            credits = net[key_of.get(entry_id) or key_of[reverses_id]]
            credits[code] = credits.get(code, ZERO) + money(credit) - money(debit)
    return {key: _Booked(entries[key], net[key]) for key in entries}


class _Asker:
    """Asks each refund's provider about it, with one adapter per payment account."""

    def __init__(self) -> None:
        self._adapters: dict[int, base.PaymentAdapter] = {}

    def __call__(self, refund: Refund) -> _Answer:
        if refund.provider not in _ASKED:
            # Finance's proof (by hand) or our own books (store credit) are the confirmation.
            paid = refund.status == RefundStatus.SUCCEEDED
            return _Answer(refund.status, refund.amount if paid else None)
        try:
            if refund.account is None:
                raise base.PaymentError("the refund has no payment account")
            if refund.account_id not in self._adapters:
                self._adapters[refund.account_id] = adapter_for(refund.account)
            result = self._adapters[refund.account_id].query(refund.key, _request(refund))
        except base.PaymentError as exc:
            return _Answer(UNREACHABLE, message=exc.message)
        if result.state != base.SUCCEEDED:
            return _Answer(result.state, message=result.message)
        amount = result.amount if result.amount is not None else refund.amount
        return _Answer(base.SUCCEEDED, money(amount), result.message)


def _refund_row(refund: Refund, booked: _Booked | None, answer: _Answer) -> ReconRow:
    ledger_amount = booked.payout(refund) if booked is not None else None
    if refund.status == RefundStatus.SUCCEEDED:
        status = _paid_status(refund.amount, ledger_amount, answer)
    else:
        status = _unpaid_status(ledger_amount, answer)
    return ReconRow(
        status=status,
        refund_key=refund.key,
        case_reference=refund.case.reference,
        order_number=refund.order.external_id if refund.order_id else "",
        provider=refund.provider,
        refund_status=refund.status,
        amount=refund.amount,
        ledger_amount=ledger_amount,
        provider_amount=answer.amount,
        provider_state=answer.state,
        entry_id=booked.entry_id if booked is not None else None,
        message=answer.message,
    )


def _paid_status(amount: Decimal, ledger_amount: Decimal | None, answer: _Answer) -> str:
    """We think it is paid: the ledger and the provider must both say so, to the cent."""
    if ledger_amount is None:
        return MISSING_IN_LEDGER
    if answer.state == UNREACHABLE:
        return PROVIDER_UNREACHABLE
    if answer.state != base.SUCCEEDED:
        return NOT_CONFIRMED_BY_PROVIDER
    if ledger_amount != amount or answer.amount != amount:
        return AMOUNT_MISMATCH
    return MATCHED


def _unpaid_status(ledger_amount: Decimal | None, answer: _Answer) -> str:
    """We think it is not paid (yet): nothing may be booked, and the provider must agree."""
    if ledger_amount is not None:
        return LEDGER_WITHOUT_REFUND
    if answer.state == UNREACHABLE:
        return PROVIDER_UNREACHABLE
    if answer.state == base.SUCCEEDED:
        return PROVIDER_SAYS_PAID
    return MATCHED


def _ledger_without_refund(shop: Shop, period: Period, seen: Iterable[str]) -> list[ReconRow]:
    """`refund:` entries of the period whose refund is not among the rows and is not paid."""
    entries = [
        (key.removeprefix(KEY_PREFIX), key, pk)
        for key, pk in JournalEntry.objects.filter(
            shop=shop,
            key__startswith=KEY_PREFIX,
            posted_at__gte=period.starts_at,
            posted_at__lt=period.ends_at,
        )
        .order_by("posted_at", "id")
        .values_list("key", "pk")
        if key.removeprefix(KEY_PREFIX) not in seen
    ]
    if not entries:
        return []
    refund_keys = [refund_key for refund_key, _key, _pk in entries]
    refunds = {
        r.key: r
        for r in Refund.objects.filter(shop=shop, key__in=refund_keys).select_related(
            "case", "order"
        )
    }
    booked = _booked(shop, [key for _refund_key, key, _pk in entries])
    rows = []
    for refund_key, key, _pk in entries:
        refund = refunds.get(refund_key)
        if refund is not None and refund.status == RefundStatus.SUCCEEDED:
            continue  # paid, just outside the period: its own period's report covers it
        found = booked[key]
        rows.append(
            ReconRow(
                status=LEDGER_WITHOUT_REFUND,
                refund_key=refund_key,
                case_reference=refund.case.reference if refund else "",
                order_number=refund.order.external_id if refund and refund.order_id else "",
                provider=refund.provider if refund else "",
                refund_status=refund.status if refund else "",
                amount=refund.amount if refund else None,
                ledger_amount=found.payout(refund),
                provider_amount=None,
                provider_state="",
                entry_id=found.entry_id,
            )
        )
    return rows
