"""Tables streamed out of the database as CSV or XLSX files: one writer for every export.

CSV goes out in chunks of rows (UTF-8 with a BOM, text that would run as a formula escaped);
XLSX is written row by row in openpyxl's write-only mode, money as numbers with two places
and text always as text.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

from django.db.models import Model, QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.text import capfirst
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

CHUNK = 2000  # rows fetched per round trip while streaming
KEYSET_PAGE = 500  # ids per keyset page: one `IN (…)` stays under SQLite's old 999 limit
CSV_FLUSH = 500  # rows per chunk handed to the response
FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MONEY_FORMAT = "0.00"
SPOOL_BYTES = 16 * 1024 * 1024  # an XLSX larger than this is spooled to disk, not memory
# Text a spreadsheet would run as a formula when it opens a CSV (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_BOM = "\ufeff"  # without it Excel reads UTF-8 as the local code page and garbles Chinese
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


class Table:
    """A sheet's name, its header and its rows, streamed from the database: iterate it once.
    A subclass may end it with a footer row (the ledger's TOTAL), complete after the rows."""

    def __init__(self, name: str, header: list[str], rows: Iterable[list[Any]]):
        self.name = name
        self.header = header
        self.count = 0
        self._rows = rows

    def __iter__(self) -> Iterator[list[Any]]:
        for row in self._rows:
            self.count += 1
            yield row

    def footer(self) -> list[Any] | None:
        return None


def keyset_pages(matching: QuerySet, size: int | None = None) -> Iterator[list[int]]:
    """The ids of every matching row, newest first, a page at a time, each page read below the
    last on the narrow (shop, -id) indexes: memory stays flat however many rows match, and no
    cursor stays open while a response streams."""
    size = size or KEYSET_PAGE
    before: int | None = None
    while True:
        page = matching if before is None else matching.filter(pk__lt=before)
        ids = list(page.order_by("-pk").values_list("pk", flat=True)[:size])
        if ids:
            yield ids
        if len(ids) < size:
            return
        before = ids[-1]


def column_title(model: type[Model], field: str | None = None) -> str:
    """A column titled with the model's (or its field's) own label, translated: the header
    reads as the admin and the forms do, in the user's language."""
    meta = model._meta
    label = meta.verbose_name if field is None else meta.get_field(field).verbose_name
    return capfirst(str(label))


def local_time(value: datetime | None) -> str:
    """A moment in the deployment's time zone (the shops' own, Asia/Shanghai by default)."""
    return timezone.localtime(value).isoformat(timespec="seconds") if value else ""


def export_filename(*parts: str, format: str) -> str:
    """`journal-acme-20260101-20260201.xlsx`: the parts joined by hyphens, header-safe."""
    stem = "-".join(_UNSAFE_IN_FILENAME.sub("_", part) for part in parts if part)
    return f"{stem}.{format}"


# --------------------------------------------------------------------------- CSV


def csv_value(value: Any) -> str:
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
        writer.writerow([csv_value(v) for v in row])
        if n % CSV_FLUSH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    footer = table.footer()
    if footer is not None:
        writer.writerow([csv_value(v) for v in footer])
    if buffer.tell():
        yield buffer.getvalue()


# --------------------------------------------------------------------------- XLSX


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
    footer = table.footer()
    if footer is not None:
        sheet.append([_cell(sheet, value, bold=True) for value in footer])
    book.save(out)


# --------------------------------------------------------------------------- download


def table_response(table: Table, *, format: str, filename: str) -> StreamingHttpResponse:
    """The table as a file to download: CSV streamed while the rows are read, XLSX written
    whole first (a zip file) and spooled, to disk when it is large."""
    if format == "csv":
        response = StreamingHttpResponse(
            (chunk.encode("utf-8") for chunk in csv_chunks(table)),
            content_type=CONTENT_TYPES["csv"],
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    # FileResponse closes the spool once sent.
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    xlsx_write(table, spool)
    spool.seek(0)
    return FileResponse(
        spool, as_attachment=True, filename=filename, content_type=CONTENT_TYPES["xlsx"]
    )
