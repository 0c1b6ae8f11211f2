"""The error report of an import: row, column, value, message, as CSV (UTF-8 with the BOM
Excel needs to read Chinese)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import BinaryIO

from django.utils.translation import gettext as _

from aftersales.sync.models import ImportRun

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: str) -> str:
    """Text a spreadsheet would run as a formula is quoted (CSV injection)."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def report_lines(run: ImportRun) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_("row"), _("column"), _("value"), _("message")])
    yield "\ufeff" + buffer.getvalue()
    for problem in run.problems.order_by("row", "id").iterator(chunk_size=2000):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(
            [problem.row, _safe(problem.column), _safe(problem.value), _safe(problem.message)]
        )
        yield buffer.getvalue()


def report_write(run: ImportRun, out: BinaryIO) -> None:
    for line in report_lines(run):
        out.write(line.encode("utf-8"))
