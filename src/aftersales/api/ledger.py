"""The ledger for finance: account balances, journal entries, exports and the reconciliation.

Every endpoint takes a `shop_id` of one of your shops (else 404 shop.not_found) and needs
ledger.view_journalentry (finance, managers, admins; else 403 permission.denied). Periods are
`from` (first day) to `to` (the day after the last), at most 366 days.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Prefetch
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from aftersales.api.schemas import ERRORS, Id, In, Money
from aftersales.cases.models import Case
from aftersales.channels.models import Order, Shop
from aftersales.channels.selectors import shop_get_for_actor
from aftersales.core.errors import Forbidden, Invalid
from aftersales.core.tabular import table_response
from aftersales.ledger.exports import TABLES, Period, export_filename
from aftersales.ledger.models import Account, JournalEntry, JournalLine
from aftersales.ledger.reconcile import Reconciliation, reconciliation_run
from aftersales.ledger.selectors import account_balances
from aftersales.ledger.services import penalty_record

router = Router(tags=["ledger"])

VIEW = "ledger.view_journalentry"


def _shop_for(actor: AbstractBaseUser, shop_id: int) -> Shop:
    shop = shop_get_for_actor(actor, shop_id)
    if not actor.has_perm(VIEW):
        raise Forbidden("permission.denied", _("You may not do this."), {"permission": VIEW})
    return shop


class PeriodQuery(Schema):
    shop_id: Id
    start: date = Field(alias="from", description="first day, YYYY-MM-DD")
    end: date = Field(alias="to", description="the day after the last, YYYY-MM-DD")


class ExportQuery(PeriodQuery):
    format: Literal["csv", "xlsx"] = "csv"


def _period_for(request: HttpRequest, query: PeriodQuery) -> tuple[Shop, Period]:
    shop = _shop_for(request.auth, query.shop_id)
    return shop, Period.of(query.start, query.end)


# ----------------------------------------------------------------------------- accounts


class AccountOut(Schema):
    code: str
    name: str
    kind: str
    balance: Decimal = Field(description="on the account's normal side")


@router.get("/ledger/accounts", response={200: list[AccountOut], **ERRORS})
def ledger_accounts(request: HttpRequest, shop_id: Id):
    """The shop's chart of accounts with each balance."""
    shop = _shop_for(request.auth, shop_id)
    balances = account_balances(shop)
    return [
        {"code": a.code, "name": a.name, "kind": a.kind, "balance": balances[a.code]}
        for a in Account.objects.filter(shop=shop).order_by("code")
    ]


# ----------------------------------------------------------------------------- entries


class LineOut(Schema):
    account_code: str
    account_name: str
    debit: Decimal
    credit: Decimal

    @staticmethod
    def resolve_account_code(line: JournalLine) -> str:
        return line.account.code

    @staticmethod
    def resolve_account_name(line: JournalLine) -> str:
        return line.account.name


class EntryOut(Schema):
    id: int
    posted_at: datetime
    memo: str
    case_id: int | None
    case_reference: str | None
    order_id: int | None
    key: str
    reverses_id: int | None
    actor_label: str
    lines: list[LineOut]

    @staticmethod
    def resolve_case_reference(entry: JournalEntry) -> str | None:
        # The reference is made of the case's id alone: no need to load the case.
        return Case(pk=entry.case_id).reference if entry.case_id else None

    @staticmethod
    def resolve_lines(entry: JournalEntry) -> list[JournalLine]:
        return list(entry.lines.all())


class EntryPage(Schema):
    items: list[EntryOut]
    next_cursor: str | None


class EntryQuery(Schema):
    shop_id: Id
    case_id: Id | None = None
    cursor: Id | None = None
    limit: int = Field(default=50, ge=1, le=200)


@router.get("/ledger/entries", response={200: EntryPage, **ERRORS})
def ledger_entries(request: HttpRequest, query: Query[EntryQuery]):
    """Journal entries with their lines, newest first, one keyset page at a time: pass
    next_cursor back as cursor."""
    shop = _shop_for(request.auth, query.shop_id)
    entries = JournalEntry.objects.filter(shop=shop)
    if query.case_id is not None:
        entries = entries.filter(case_id=query.case_id)
    if query.cursor is not None:
        entries = entries.filter(pk__lt=query.cursor)
    lines = JournalLine.objects.select_related("account").order_by("id")
    rows = list(
        entries.prefetch_related(Prefetch("lines", queryset=lines)).order_by("-pk")[
            : query.limit + 1
        ]
    )
    more = len(rows) > query.limit
    return {
        "items": rows[: query.limit],
        "next_cursor": str(rows[query.limit - 1].pk) if more else None,
    }


# ----------------------------------------------------------------------------- exports


def _export(request: HttpRequest, query: ExportQuery, kind: str):
    shop, period = _period_for(request, query)
    table = TABLES[kind](shop, period)
    filename = export_filename(kind, shop, period, query.format)
    return table_response(table, format=query.format, filename=filename)


@router.get("/ledger/exports/journal", response={200: None, **ERRORS})
def ledger_export_journal(request: HttpRequest, query: Query[ExportQuery]):
    """Every journal line posted in the period, as CSV (UTF-8 with BOM) or XLSX, with a TOTAL
    row of the debits and credits."""
    return _export(request, query, "journal")


@router.get("/ledger/exports/refunds", response={200: None, **ERRORS})
def ledger_export_refunds(request: HttpRequest, query: Query[ExportQuery]):
    """Every refund opened or paid in the period, as CSV or XLSX; the TOTAL row adds up the
    paid ones."""
    return _export(request, query, "refunds")


# ----------------------------------------------------------------------------- reconciliation


class ReconRowOut(Schema):
    status: str = Field(
        description="matched, missing_in_ledger, amount_mismatch, not_confirmed_by_provider, "
        "provider_says_paid, ledger_without_refund or provider_unreachable"
    )
    refund_key: str
    case_reference: str
    order_number: str
    provider: str
    refund_status: str
    amount: Decimal | None
    ledger_amount: Decimal | None
    provider_amount: Decimal | None
    provider_state: str
    entry_id: int | None
    message: str


class ReconciliationOut(Schema):
    shop_id: int
    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to")
    matched: bool
    confirmed_by_provider: Decimal
    booked_in_ledger: Decimal
    difference: Decimal = Field(description="booked_in_ledger − confirmed_by_provider")
    counts: dict[str, int]
    rows: list[ReconRowOut]


@router.get("/ledger/reconciliation", response={200: ReconciliationOut, **ERRORS}, by_alias=True)
def ledger_reconciliation(request: HttpRequest, query: Query[PeriodQuery]):
    """Refunds paid in the period and still open at its end, against the ledger and what
    Alipay / WeChat Pay answer. Asks the providers; writes nothing."""
    shop, period = _period_for(request, query)
    report: Reconciliation = reconciliation_run(shop=shop, period=period)
    return {
        "shop_id": shop.pk,
        "start": period.start,
        "end": period.end,
        "matched": report.matched,
        "confirmed_by_provider": report.confirmed_by_provider,
        "booked_in_ledger": report.booked_in_ledger,
        "difference": report.difference,
        "counts": report.counts(),
        "rows": report.rows,
    }


# ----------------------------------------------------------------------------- penalties


class PenaltyIn(In):
    shop_id: Id
    amount: Money
    note: str = Field(min_length=1, max_length=200)
    case_id: Id | None = None
    order_id: Id | None = None
    key: str = Field(default="", max_length=120, description="the platform's deduction number")


@router.post("/ledger/penalties", response={201: EntryOut, **ERRORS})
def ledger_penalty(request: HttpRequest, payload: PenaltyIn):
    """Record a penalty a marketplace deducted (finance): platform penalties against what the
    platform holds for us, linked to its case or order."""
    shop = shop_get_for_actor(request.auth, payload.shop_id)
    case = order = None
    if payload.case_id is not None:
        case = Case.objects.filter(pk=payload.case_id, shop=shop).first()
        if case is None:
            raise Invalid("ledger.invalid", _("No such case."), {"case_id": _("Unknown.")})
    if payload.order_id is not None:
        order = Order.objects.filter(pk=payload.order_id, shop=shop).first()
        if order is None:
            raise Invalid("ledger.invalid", _("No such order."), {"order_id": _("Unknown.")})
    entry = penalty_record(
        shop=shop,
        actor=request.auth,
        amount=payload.amount,
        note=payload.note,
        case=case,
        order=order,
        key=f"penalty:{payload.key}" if payload.key else "",
    )
    return Status(201, JournalEntry.objects.prefetch_related("lines__account").get(pk=entry.pk))
