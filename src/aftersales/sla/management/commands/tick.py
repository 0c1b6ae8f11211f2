"""`aftersales tick [--now ISO-TIME]`: fire every timer due by that time (default: now).

How operators and tests drive the clock. A time without an offset is read in TIME_ZONE.
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from aftersales.sla.firing import timers_sweep_report


def moment_parse(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(
            f"--now {text!r} is not an ISO date-time; write e.g. 2026-11-25T10:00:00+08:00."
        ) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


class Command(BaseCommand):
    help = "Fire every timer due by --now (default: the current time)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--now", help="ISO date-time, e.g. 2026-11-25T10:00:00+08:00")
        parser.add_argument("--batch", type=int, default=200, help="timers per batch")

    def handle(self, *args, **options) -> None:
        now = moment_parse(options["now"]) if options["now"] else timezone.now()
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1.")
        report = timers_sweep_report(now=now, batch=options["batch"])
        self.stdout.write(
            f"{report.fired} timer(s) fired, {report.cancelled} cancelled, due by "
            f"{timezone.localtime(now).isoformat()}."
        )
