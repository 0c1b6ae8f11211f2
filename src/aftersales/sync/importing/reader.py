"""Rows out of a CSV or XLSX export, one at a time, whatever the file's size.

CSV from Chinese Excel is GBK (read as GB18030, its superset); UTF-8, with or without the BOM
Excel writes, is read as UTF-8. The whole file is checked for its encoding before a row is
read. XLSX is read with openpyxl in read-only mode (streamed, not loaded). Cell text is cleaned
the way the marketplaces' exports need: surrounding spaces, Excel's `="…"`, a leading `'` or
tab (written to stop Excel turning an order number into 1.2E+18) and NUL bytes are dropped.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from django.utils.translation import gettext as _

SAMPLE_BYTES = 64 * 1024
CHECK_BYTES = 1024 * 1024
_ZIP_MAGIC = b"PK\x03\x04"


class FileProblem(Exception):
    """The file as a whole cannot be read (empty, not CSV/XLSX, undecodable)."""

    def __init__(self, message: str, column: str = "", row: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.row = row


@dataclass
class Table:
    headers: list[str]
    # (row number as a spreadsheet shows it: the header is row 1, values). Every row has at
    # least one cell more than the header, always blank: a column the file lacks reads it.
    rows: Iterator[tuple[int, list[str]]]
    # For progress: how far through the file we are, out of `size` (bytes or rows).
    size: int
    position: Callable[[], int]


def clean(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    # A NUL byte is no text any database keeps.
    text = str(value).replace("\x00", "").strip()
    if text.startswith('="') and text.endswith('"'):
        text = text[2:-1]
    return text.lstrip("'\t").strip()


def open_table(stream: BinaryIO) -> Table:
    head = stream.read(SAMPLE_BYTES)
    stream.seek(0)
    if not head:
        raise FileProblem(_("The file is empty."))
    if head.startswith(_ZIP_MAGIC):
        return _xlsx(stream)
    return _csv(stream)


def _encoding(stream: BinaryIO) -> str:
    """UTF-8 if the whole file is UTF-8, else GB18030 if it all decodes as that (GBK is part
    of it). Checked to the end before anything lands, in C, a megabyte at a time: a file that
    turns out undecodable halfway must not leave half of it imported."""
    problem = None
    for encoding in ("utf-8", "gb18030"):
        stream.seek(0)
        decoder = codecs.getincrementaldecoder(encoding)()
        lines = 0
        try:
            while chunk := stream.read(CHECK_BYTES):
                decoder.decode(chunk)
                lines += chunk.count(b"\n")
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            problem = lines + exc.object[: exc.start].count(b"\n") + 1
            continue
        finally:
            stream.seek(0)
        return "utf-8-sig" if encoding == "utf-8" else encoding
    raise FileProblem(
        _("Line %(row)s is neither UTF-8 nor GBK text.") % {"row": problem}, row=problem or 0
    )


def _csv(stream: BinaryIO) -> Table:
    encoding = _encoding(stream)
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    reader = csv.reader(text)
    size = _size(stream)
    try:
        headers = next(reader, None)
    except csv.Error as exc:
        raise FileProblem(_("The file is not a readable CSV: %(error)s") % {"error": exc}) from exc
    if headers is None or not any(h.strip() for h in headers):
        raise FileProblem(_("The file is empty."))

    width = len(headers) + 1  # one blank cell past the last column: see Table

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for number, values in enumerate(reader, start=2):
                if any(values):
                    cells = [v.strip() for v in values]
                    joined = "\x1f".join(cells)
                    if '="' in joined or "'" in joined or "\x00" in joined:  # rare
                        cells = [clean(c) for c in cells]
                    if len(cells) < width:
                        cells.extend([""] * (width - len(cells)))
                    yield number, cells
        except csv.Error as exc:
            raise FileProblem(str(exc), row=reader.line_num) from exc
        finally:
            # The caller owns the file: collecting the wrapper must not close it.
            text.detach()

    return Table([clean(h) for h in headers], rows(), size, stream.tell)


def _size(stream: BinaryIO) -> int:
    here = stream.tell()
    size = stream.seek(0, io.SEEK_END)
    stream.seek(here)
    return size


def _xlsx(stream: BinaryIO) -> Table:
    from openpyxl import load_workbook  # only when an XLSX arrives

    try:
        book = load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise FileProblem(_("The file is not a readable XLSX workbook.")) from exc
    sheet = book.worksheets[0]
    it = sheet.iter_rows(values_only=True)
    first = next(it, None)
    if first is None or not any(clean(v) for v in first):
        book.close()
        raise FileProblem(_("The file is empty."))
    done = [1]
    width = len(first) + 1

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for number, values in enumerate(it, start=2):
                done[0] = number
                cells = [clean(v) for v in values]
                if any(cells):
                    if len(cells) < width:
                        cells.extend([""] * (width - len(cells)))
                    yield number, cells
        except Exception as exc:  # a damaged workbook fails in many ways, row by row
            raise FileProblem(
                _("The workbook cannot be read past row %(row)s.") % {"row": done[0]},
                row=done[0],
            ) from exc
        finally:
            book.close()

    return Table([clean(h) for h in first], rows(), sheet.max_row or 0, lambda: done[0])
