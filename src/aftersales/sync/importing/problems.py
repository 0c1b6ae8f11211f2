"""What an import counts, and the rows it refused, written to the run as they come."""

from __future__ import annotations

from dataclasses import dataclass

from aftersales.sync.models import ImportProblem, ImportRun

FLUSH_EVERY = 1000


@dataclass
class Counts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0


class Problems:
    def __init__(self, run: ImportRun) -> None:
        self.run = run
        self.pending: list[ImportProblem] = []
        # Rows reported since the last flush (a refused order's rows are reported once).
        self.rows_seen: set[int] = set()
        self.total = 0

    def add(self, row: int, column: str, value: str, message: str) -> None:
        self.total += 1
        self.rows_seen.add(row)
        self.pending.append(
            ImportProblem(
                shop_id=self.run.shop_id,
                run=self.run,
                row=row,
                column=column[:80],
                value=value[:200],
                message=message[:300],
            )
        )
        if len(self.pending) >= FLUSH_EVERY:
            self._write()

    def flush(self) -> None:
        self._write()
        self.rows_seen.clear()

    def _write(self) -> None:
        if self.pending:
            ImportProblem.objects.bulk_create(self.pending)
            self.pending = []
