"""The reconciliation pull: a webhook can be lost, so every linked channel with a connector is
asked now and then for everything it changed since the last pull, and each change goes
through the same `event_apply` as a webhook — a change a webhook already brought is a
duplicate and changes nothing; one it never brought is applied now.

The window is [pulled_until − 10 minutes, now) (the last 24 hours on a link's first pull): the
overlap catches a change the channel recorded late. The cursor moves to the window's end only
when the whole window was read; a change a rule refused is kept as a failed event and does not
hold the cursor back, but a connector failure (timeout, HTTP 5xx, nonsense) does — the error
is kept on the link and the next turn reads the window again.

A link is claimed by moving its `next_pull_at` forward with a conditional update, so any
number of workers can sweep at once and each due link is pulled by one of them; the HTTP calls
happen outside any transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.sync.connectors import ConnectorError, connector_for
from aftersales.sync.models import ChannelLink, EventSource
from aftersales.sync.webhooks import APPLIED, DUPLICATE, FAILED, STALE, event_apply

log = logging.getLogger(__name__)

OVERLAP = dt.timedelta(minutes=10)
FIRST_WINDOW = dt.timedelta(hours=24)
BATCH = 50
_ERROR_MAX = 2000


@dataclass
class PullReport:
    """What one pull of one link read and did."""

    link_id: int
    channel: str  # shop code/channel code
    since: dt.datetime
    until: dt.datetime
    changes: int = 0
    applied: int = 0
    duplicates: int = 0
    stale: int = 0
    failed: int = 0
    error: str = ""

    def count(self, status: str) -> None:
        self.changes += 1
        if status == APPLIED:
            self.applied += 1
        elif status == DUPLICATE:
            self.duplicates += 1
        elif status == STALE:
            self.stale += 1
        elif status == FAILED:
            self.failed += 1

    def describe(self) -> str:
        """One line for a person: the channel, the window, what became of its changes."""
        since, until = (
            timezone.localtime(moment).isoformat(timespec="seconds")
            for moment in (self.since, self.until)
        )
        window = f"{since} → {until}"
        counts = _(
            "%(changes)d changes: %(applied)d applied, %(duplicates)d duplicates, "
            "%(stale)d stale, %(failed)d failed"
        ) % {
            "changes": self.changes,
            "applied": self.applied,
            "duplicates": self.duplicates,
            "stale": self.stale,
            "failed": self.failed,
        }
        if self.error:
            return _("%(channel)s: %(window)s: not pulled (%(counts)s before): %(error)s") % {
                "channel": self.channel,
                "window": window,
                "counts": counts,
                "error": self.error,
            }
        return f"{self.channel}: {window}: {counts}"


def _next_turn(link: ChannelLink, now: dt.datetime) -> dt.datetime:
    # At least a second on: a link due again at `now` would be swept again and again.
    return now + dt.timedelta(seconds=max(link.pull_every_seconds, 1))


def _due(now: dt.datetime):
    return ChannelLink.objects.filter(
        Q(next_pull_at__isnull=True) | Q(next_pull_at__lte=now), active=True
    ).exclude(connector="")


def _claim(link_id: int, due_at: dt.datetime | None, now: dt.datetime) -> ChannelLink | None:
    """Take the link for this turn: its next turn moves on only if nobody moved it since it was
    read (0 rows: another worker has it). A worker that dies mid-pull leaves the link to its
    next turn."""
    held = _due(now).filter(pk=link_id)
    held = (
        held.filter(next_pull_at__isnull=True)
        if due_at is None
        else held.filter(next_pull_at=due_at)
    )
    link = held.select_related("channel", "channel__shop").first()
    if link is None:
        return None
    next_at = _next_turn(link, now)
    if held.update(next_pull_at=next_at) != 1:
        return None
    link.next_pull_at = next_at
    return link


def pulls_sweep(now: dt.datetime) -> int:
    """Pull every active link with a connector whose turn has come; returns how many links
    were pulled (with or without an error)."""
    pulled = 0
    while True:
        due = list(
            _due(now)
            .order_by(F("next_pull_at").asc(nulls_first=True), "pk")
            .values_list("pk", "next_pull_at")[:BATCH]
        )
        claimed = 0
        for link_id, due_at in due:
            # One at a time: a slow channel leaves the rest of the batch to other workers.
            link = _claim(link_id, due_at, now)
            if link is not None:
                _pull_guarded(link, now)
                claimed += 1
        pulled += claimed
        # Claimed links are no longer due; a batch all taken by others ends the sweep.
        if len(due) < BATCH or not claimed:
            return pulled


def pull_now(link: ChannelLink, now: dt.datetime | None = None) -> PullReport:
    """Pull one link at once, whatever its turn (an operator's "pull now"); its next turn
    counts from now."""
    now = now or timezone.now()
    next_at = _next_turn(link, now)
    ChannelLink.objects.filter(pk=link.pk).update(next_pull_at=next_at)
    link.next_pull_at = next_at
    return _pull_guarded(link, now)


def _pull_guarded(link: ChannelLink, now: dt.datetime) -> PullReport:
    try:
        return _pull(link, now)
    except Exception as exc:  # a bug must not stop the other links; the cursor stays
        log.exception("pull of channel link %s failed", link.pk)
        message = f"{type(exc).__name__}: {exc}"
        ChannelLink.objects.filter(pk=link.pk).update(last_error=message[:_ERROR_MAX])
        since, until = _window(link, now)
        return PullReport(link.pk, _where(link), since, until, error=message)


def _where(link: ChannelLink) -> str:
    return f"{link.channel.shop.code}/{link.channel.code}"


def _window(link: ChannelLink, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    since = link.pulled_until - OVERLAP if link.pulled_until else now - FIRST_WINDOW
    return min(since, now), now


def _pull(link: ChannelLink, now: dt.datetime) -> PullReport:
    since, until = _window(link, now)
    report = PullReport(link.pk, _where(link), since, until)
    try:
        for change in connector_for(link).changes(since, until):
            result = event_apply(
                channel=link.channel,
                event_id=change.event_id,
                kind=change.kind,
                occurred_at=change.occurred_at,
                payload=change.payload,
                source=EventSource.PULL,
                now=now,
            )
            report.count(result.status)
    except ConnectorError as exc:
        report.error = exc.message
        ChannelLink.objects.filter(pk=link.pk).update(last_error=exc.message[:_ERROR_MAX])
        return report
    # Forward only: a slower pull of an older window must not move the cursor back.
    ChannelLink.objects.filter(pk=link.pk).filter(
        Q(pulled_until__isnull=True) | Q(pulled_until__lt=until)
    ).update(pulled_until=until)
    ChannelLink.objects.filter(pk=link.pk).update(last_error="")
    return report
