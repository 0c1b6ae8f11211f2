"""Periodic work the worker runs between tasks: each app registers its sweeps here in its
AppConfig.ready() (timers, the outbox, team queues), so this module depends on none of them.

Django's Tasks API has no scheduler; the worker's beat calls every job each interval. Every
job claims its rows itself (SKIP LOCKED / conditional updates), so any number of workers on
any number of machines can run the beat at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import close_old_connections
from django.utils import timezone

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BeatJob:
    name: str
    run: Callable[[dt.datetime], object]


BEAT_JOBS: list[BeatJob] = []


def beat_register(name: str, run: Callable[[dt.datetime], object]) -> None:
    if all(job.name != name for job in BEAT_JOBS):
        BEAT_JOBS.append(BeatJob(name, run))


def beat_once(now: dt.datetime | None = None) -> dict[str, object]:
    """Run every job once at `now`; a failing job is logged and does not stop the others."""
    now = now or timezone.now()
    results: dict[str, object] = {}
    for job in BEAT_JOBS:
        close_old_connections()
        try:
            results[job.name] = job.run(now)
        except Exception:  # logged; the next beat tries again
            log.exception("beat job %s failed", job.name)
            results[job.name] = None
    return results


def beat_forever(interval: float, stop: threading.Event) -> None:
    """Run the jobs every `interval` seconds from the start of one round to the next (a long
    round is followed at once by the next one)."""
    while not stop.is_set():
        started = time.monotonic()
        beat_once()
        close_old_connections()
        stop.wait(max(0.0, interval - (time.monotonic() - started)))
