"""The case import: each after-sales request in the file (its rows together, one per line) is
put through `channel_case_put`, the same write webhooks and pulls use. A request the channel
still waits on is filed and decided by the policy; one it has moved on is mirrored. A request
already imported with the same channel status changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from aftersales.cases.models import Reason
from aftersales.core.errors import DomainError
from aftersales.sync.cases import CREATED, UPDATED, ChannelCase, channel_case_put
from aftersales.sync.importing.base import MAX_KEY, RowImporter, too_long
from aftersales.sync.importing.presets import CASE_FIELDS, CASE_TYPE_WORDS, REASON_WORDS
from aftersales.sync.importing.reader import Table
from aftersales.sync.importing.values import CellError, count_of, money_of, time_of

# Where the write's field errors point in the file.
_FIELD_COLUMNS = {
    "type": "case_type",
    "lines": "sku",
    "order_id": "order_number",
    "external_id": "external_id",
    "order_number": "order_number",
    "channel_status": "channel_status",
    "reason": "reason",
    "refund_amount": "refund_amount",
    "sku": "sku",
}


@dataclass
class Request:
    external_id: str
    first_row: int
    values: list[str]
    rows: list[int] = field(default_factory=list)
    lines: dict[str, tuple[int, int]] = field(default_factory=dict)  # sku → (quantity, row)
    refused: bool = False


class CaseImporter(RowImporter):
    fields = CASE_FIELDS

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seen: dict[str, int] = {}

    def run(self, table: Table, tick: Callable[[], None]) -> None:
        rows = table.rows
        current: Request | None = None
        done = 0
        for number, values in rows:
            self.counts.rows += 1
            external_id = self._cell(values, "external_id")
            if not external_id or len(external_id) > MAX_KEY:
                problem = _("Required.") if not external_id else too_long()
                self._refuse_row(number, "external_id", external_id[:200], problem)
                continue
            if current is None or current.external_id != external_id:
                if current is not None:
                    self._put(current)
                    done += 1
                    if done % 200 == 0:
                        tick()
                if external_id in self.seen:
                    message = _("Duplicate row: request %(number)s was read on row %(row)s.") % {
                        "number": external_id,
                        "row": self.seen[external_id],
                    }
                    self._refuse_row(number, "external_id", external_id, message)
                    current = None
                    continue
                self.seen[external_id] = number
                current = Request(external_id, number, values)
            self._add_line(current, number, values)
        if current is not None:
            self._put(current)
        self.problems.flush()
        tick()

    def _refuse_row(self, row: int, name: str, value: str, message: str) -> None:
        self.counts.failed += 1
        self.problems.add(row, self._header(name), value, message)

    def _add_line(self, request: Request, row: int, values: list[str]) -> None:
        sku = self._cell(values, "sku")
        if sku and sku in request.lines:
            message = _("Duplicate row: request %(number)s already has SKU %(sku)s on row %(row)s.")
            self._refuse_row(
                row,
                "sku",
                sku,
                message % {"number": request.external_id, "sku": sku, "row": request.lines[sku][1]},
            )
            return
        request.rows.append(row)
        if not sku:
            return
        text = self._cell(values, "quantity")
        try:
            quantity = count_of(text) if text else 1
        except CellError as exc:
            self.problems.add(row, self._header("quantity"), text, exc.message)
            request.refused = True
            return
        request.lines[sku] = (quantity, row)

    def _put(self, request: Request) -> None:
        values, row = request.values, request.first_row
        data = None if request.refused else self._data(request, values, row)
        if data is None:
            self._refuse_rest(request)
            return
        try:
            _case, what = channel_case_put(channel=self.channel, data=data)
        except DomainError as exc:
            for key, detail in (exc.fields or {"": ""}).items():
                name = _FIELD_COLUMNS.get(key.split(".")[0], "")
                value = self._cell(values, name) if name else ""
                message = exc.message
                if detail and detail not in (value, exc.message):
                    message = f"{message} ({detail})"
                self.problems.add(row, self._header(name) if name else "", value, message)
            self._refuse_rest(request)
            return
        if what == CREATED:
            self.counts.created += 1
        elif what == UPDATED:
            self.counts.updated += 1
        else:
            self.counts.unchanged += 1

    def _refuse_rest(self, request: Request) -> None:
        reported = self.problems.rows_seen
        for row in request.rows:
            self.counts.failed += 1
            if row not in reported:
                self.problems.add(
                    row,
                    self._header("external_id"),
                    request.external_id,
                    _("Not imported: row %(row)s of request %(number)s has a problem.")
                    % {"row": request.first_row, "number": request.external_id},
                )

    def _data(self, request: Request, values: list[str], row: int) -> ChannelCase | None:
        type_text = self._cell(values, "case_type")
        case_type = CASE_TYPE_WORDS.get(type_text)
        if case_type is None:
            message = _("Unknown after-sales type %(value)s.") % {"value": type_text or "—"}
            self.problems.add(row, self._header("case_type"), type_text, message)
            return None
        reason_text = self._cell(values, "reason")
        reason = REASON_WORDS.get(reason_text, Reason.OTHER)
        words = self._cell(values, "customer_words")
        if reason_text and reason_text not in REASON_WORDS:
            words = f"{reason_text}\n{words}".strip()
        try:
            name = "refund_amount"
            refund = money_of(self._cell(values, name))
            name = "updated_at"
            occurred = time_of(self._cell(values, name), self.tz)
        except CellError as exc:
            self.problems.add(row, self._header(name), self._cell(values, name), exc.message)
            return None
        return ChannelCase(
            external_id=request.external_id,
            order_number=self._cell(values, "order_number"),
            case_type=case_type,
            channel_status=self._cell(values, "channel_status"),
            reason=reason,
            refund_amount=refund,
            customer_words=words,
            lines=[(sku, quantity) for sku, (quantity, _row) in request.lines.items()],
            occurred_at=occurred,
        )
