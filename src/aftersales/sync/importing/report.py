"""The error report of an import: row, column, value, message, streamed as CSV (UTF-8 with the
BOM Excel needs for Chinese, and text a spreadsheet would run as a formula quoted) by the same
table writer as every other export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from django.utils.translation import gettext as _

from aftersales.core.tabular import Table, csv_chunks
from aftersales.sync.models import ImportRun


def report_table(run: ImportRun) -> Table:
    rows = (
        [problem.row, problem.column, problem.value, problem.message]
        for problem in run.problems.order_by("row", "id").iterator(chunk_size=2000)
    )
    return Table(_("Problems"), [_("row"), _("column"), _("value"), _("message")], rows)


def report_lines(run: ImportRun) -> Iterator[str]:
    return csv_chunks(report_table(run))


def report_write(run: ImportRun, out: BinaryIO) -> None:
    for chunk in report_lines(run):
        out.write(chunk.encode("utf-8"))
