"""Finance exports of one shop over a period: the journal line by line and the refunds, as CSV
or XLSX, each ending in a TOTAL row summed in Decimal while the rows stream out.

The refunds' TOTAL adds up the refunds that were paid (status succeeded) only: a failed refund
is usually tried again under a new number, and adding both would count the money twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.channels.models import Shop
from aftersales.core import tabular
from aftersales.core.errors import Invalid
from aftersales.core.money import ZERO
from aftersales.core.tabular import CHUNK, FORMATS, csv_chunks, xlsx_write
from aftersales.ledger.models import JournalLine, Refund, RefundStatus

# The writers live in core.tabular; they are named here too for the callers of this module
# (the `finance` command, the tests).
__all__ = [
    "FORMATS",
    "TABLES",
    "Period",
    "Table",
    "csv_chunks",
    "export_filename",
    "journal_table",
    "refunds_table",
    "xlsx_write",
]

MAX_PERIOD_DAYS = 366  # a leap year: one report never spans more

# --------------------------------------------------------------------------- period


@dataclass(frozen=True)
class Period:
    """[start, end) in whole days of the deployment's time zone (Asia/Shanghai)."""

    start: date
    end: date

    @classmethod
    def of(cls, start: date, end: date) -> Period:
        if start >= end:
            problem = _("The period must end after it starts.")
            raise Invalid("ledger.period_invalid", problem, {"from": problem, "to": problem})
        if (end - start).days > MAX_PERIOD_DAYS:
            problem = _("A period is at most %(days)d days.") % {"days": MAX_PERIOD_DAYS}
            raise Invalid("ledger.period_invalid", problem, {"from": problem, "to": problem})
        return cls(start, end)

    @property
    def starts_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def ends_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.end, time.min))

    @property
    def slug(self) -> str:
        return f"{self.start:%Y%m%d}-{self.end:%Y%m%d}"


# --------------------------------------------------------------------------- tables


class Table(tabular.Table):
    """Rows with a TOTAL row of the money columns, summed in Decimal on the way through.
    `counted` picks the rows the total adds up; `total_notes` labels its other columns."""

    def __init__(
        self,
        name: str,
        header: list[str],
        rows: Iterable[list[Any]],
        money_at: frozenset[int],
        counted: Callable[[list[Any]], bool] = lambda row: True,
        total_notes: dict[int, str] | None = None,
    ):
        super().__init__(name, header, rows)
        self.money_at = money_at
        self._counted = counted
        self._notes = total_notes or {}
        self._sums = dict.fromkeys(money_at, ZERO)

    def __iter__(self) -> Iterator[list[Any]]:
        for row in super().__iter__():
            if self._counted(row):
                for i in self.money_at:
                    self._sums[i] += row[i]
            yield row

    def footer(self) -> list[Any]:
        row: list[Any] = [""] * len(self.header)
        row[0] = _("TOTAL")
        for i, note in self._notes.items():
            row[i] = note
        for i, amount in self._sums.items():
            row[i] = amount
        return row


def journal_table(shop: Shop, period: Period) -> Table:
    """One row per journal line posted in the period, oldest first."""
    lines = (
        JournalLine.objects.filter(
            shop=shop,
            entry__posted_at__gte=period.starts_at,
            entry__posted_at__lt=period.ends_at,
        )
        .select_related("entry__case", "entry__order", "account")
        .order_by("entry__posted_at", "entry_id", "id")
        .iterator(chunk_size=CHUNK)
    )
    header = [
        _("Entry"),
        _("Posted at"),
        _("Memo"),
        _("Case"),
        _("Order"),
        _("Account code"),
        _("Account name"),
        _("Debit"),
        _("Credit"),
        _("Key"),
        _("Reverses"),
    ]
    rows = (_journal_row(line) for line in lines)
    return Table(_("Journal"), header, rows, frozenset({7, 8}))


def _journal_row(line: JournalLine) -> list[Any]:
    entry = line.entry
    return [
        entry.pk,
        tabular.local_time(entry.posted_at),
        entry.memo,
        entry.case.reference if entry.case_id else "",
        entry.order.external_id if entry.order_id else "",
        line.account.code,
        line.account.name,
        line.debit,
        line.credit,
        entry.key,
        entry.reverses_id or "",
    ]


_REFUND_STATUS_AT = 4


def refunds_table(shop: Shop, period: Period) -> Table:
    """Every refund opened or paid in the period, oldest first."""
    opened = Q(created_at__gte=period.starts_at, created_at__lt=period.ends_at)
    paid = Q(confirmed_at__gte=period.starts_at, confirmed_at__lt=period.ends_at)
    refunds = (
        Refund.objects.filter(shop=shop)
        .filter(opened | paid)
        .select_related("case", "order")
        .order_by("created_at", "id")
        .iterator(chunk_size=CHUNK)
    )
    header = [
        _("Refund"),
        _("Case"),
        _("Order"),
        _("Provider"),
        _("Status"),
        _("Goods"),
        _("Return postage"),
        _("Interest"),
        _("Restocking fee"),
        _("Amount"),
        _("Provider reference"),
        _("Created at"),
        _("Paid at"),
        _("Failure reason"),
    ]
    return Table(
        _("Refunds"),
        header,
        (_refund_row(refund) for refund in refunds),
        frozenset({5, 6, 7, 8, 9}),
        counted=lambda row: row[_REFUND_STATUS_AT] == RefundStatus.SUCCEEDED,
        total_notes={_REFUND_STATUS_AT: RefundStatus.SUCCEEDED.value},
    )


def _refund_row(refund: Refund) -> list[Any]:
    return [
        refund.key,
        refund.case.reference,
        refund.order.external_id if refund.order_id else "",
        refund.provider,
        refund.status,
        refund.goods_amount,
        refund.shipping_amount,
        refund.interest,
        refund.restocking_fee,
        refund.amount,
        refund.provider_reference,
        tabular.local_time(refund.created_at),
        tabular.local_time(refund.confirmed_at),
        refund.failure_reason,
    ]


TABLES: dict[str, Callable[[Shop, Period], Table]] = {
    "journal": journal_table,
    "refunds": refunds_table,
}


def export_filename(kind: str, shop: Shop, period: Period, format: str) -> str:
    return tabular.export_filename(kind, shop.code, period.slug, format=format)
