"""What a reconciliation connector is: something that lists every change a channel made in a
time window, in the same shape its webhooks carry, so a pulled change and a delivered one are
the same event (same id) and are applied once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Change:
    """One change at the channel: the event a webhook would have carried."""

    event_id: str
    kind: str  # case.updated | order.updated
    occurred_at: datetime
    payload: dict[str, Any]


class ConnectorError(Exception):
    """The channel could not be asked, or answered nonsense: nothing after the last good page
    is known, so the pull keeps its cursor and tries again at its next turn."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Connector(Protocol):
    def changes(self, since: datetime, until: datetime) -> Iterator[Change]:
        """Every change with since <= occurred_at < until, page by page (lazily: a failing
        page raises ConnectorError after the earlier pages were yielded)."""
        ...
