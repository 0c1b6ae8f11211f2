"""Finance exports of one shop over a period: the journal line by line and the refunds, as CSV
or XLSX, each ending in a TOTAL row summed in Decimal while the rows stream out.

The refunds' TOTAL adds up the refunds that were paid (status succeeded) only: a failed refund
is usually tried again under a new number, and adding both would count the money twice.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import IO, Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from aftersales.channels.models import Shop
from aftersales.core.errors import Invalid
from aftersales.core.money import ZERO
from aftersales.ledger.models import JournalLine, Refund, RefundStatus

MAX_PERIOD_DAYS = 366  # a leap year: one report never spans more
CHUNK = 2000  # rows fetched per round trip while streaming
CSV_FLUSH = 500  # rows per chunk handed to the response
FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MONEY_FORMAT = "0.00"
# Text a spreadsheet would run as a formula when it opens a CSV (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_BOM = "\ufeff"  # without it Excel reads UTF-8 as the local code page and garbles Chinese


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


def _when(value: datetime | None) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else ""


# --------------------------------------------------------------------------- tables


class Table:
    """A header, rows streamed from the database, and the TOTAL row of the money columns,
    summed on the way through. Iterate it once; `total()` is complete after that."""

    def __init__(
        self,
        name: str,
        header: list[str],
        rows: Iterable[list[Any]],
        money_at: frozenset[int],
        counted: Callable[[list[Any]], bool] = lambda row: True,
        total_notes: dict[int, str] | None = None,
    ):
        self.name = name
        self.header = header
        self.money_at = money_at
        self.count = 0
        self._rows = rows
        self._counted = counted
        self._notes = total_notes or {}
        self._sums = dict.fromkeys(money_at, ZERO)

    def __iter__(self) -> Iterator[list[Any]]:
        for row in self._rows:
            self.count += 1
            if self._counted(row):
                for i in self.money_at:
                    self._sums[i] += row[i]
            yield row

    def total(self) -> list[Any]:
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
        _when(entry.posted_at),
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
        _when(refund.created_at),
        _when(refund.confirmed_at),
        refund.failure_reason,
    ]


TABLES: dict[str, Callable[[Shop, Period], Table]] = {
    "journal": journal_table,
    "refunds": refunds_table,
}


# --------------------------------------------------------------------------- writers


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    return str(value)


def csv_chunks(table: Table, *, bom: bool = True) -> Iterator[str]:
    """The table as CSV text in chunks of a few hundred rows, for a streaming response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.header)
    if bom:
        yield _BOM
    for n, row in enumerate(table, 1):
        writer.writerow([_csv_value(v) for v in row])
        if n % CSV_FLUSH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    writer.writerow([_csv_value(v) for v in table.total()])
    yield buffer.getvalue()


def _cell(sheet: WriteOnlyWorksheet, value: Any, bold: bool = False) -> Any:
    if isinstance(value, Decimal):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = MONEY_FORMAT
    elif isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"  # text is text, even when it starts with "=": never a formula
    elif not bold:
        return value
    else:
        cell = WriteOnlyCell(sheet, value=value)
    if bold:
        cell.font = Font(bold=True)
    return cell


def xlsx_write(table: Table, out: IO[bytes]) -> None:
    """The table as one worksheet, written row by row (openpyxl's write-only mode)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=table.name[:31])
    sheet.append([_cell(sheet, title, bold=True) for title in table.header])
    for row in table:
        sheet.append([_cell(sheet, value) for value in row])
    sheet.append([_cell(sheet, value, bold=True) for value in table.total()])
    book.save(out)


def export_filename(kind: str, shop: Shop, period: Period, format: str) -> str:
    return f"{kind}-{shop.code}-{period.slug}.{format}"
