"""`aftersales worker`: run background tasks and the periodic sweeps.

The task backend's own worker runs in the main thread (django-tasks-db's database worker, or
RQ's worker when REDIS_URL is set); the beat (timers, the outbox, team queues) runs beside it
in a thread. `--once` runs every queued task and then the beat once, and exits.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from aftersales.core.beat import BEAT_JOBS, beat_forever, beat_once

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the background worker: queued tasks plus the sweeps of timers and the outbox."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--interval",
            type=float,
            default=settings.WORKER_SWEEP_SECONDS,
            help="seconds between sweeps (default: AFTERSALES_WORKER_SWEEP_SECONDS or 1)",
        )
        parser.add_argument(
            "--once", action="store_true", help="sweep once, run the queued tasks, and exit"
        )

    def handle(self, *args, interval: float, once: bool, **options) -> None:
        if interval <= 0:
            raise CommandError("--interval must be above 0.")
        rq = "django_rq" in settings.INSTALLED_APPS
        jobs = ", ".join(job.name for job in BEAT_JOBS)
        self.stdout.write(
            f"Worker {os.getpid()} ({'RQ' if rq else 'database'} tasks); sweeps: {jobs}"
        )
        if once:  # the queued tasks first, then one sweep for whatever they left
            self._tasks(rq, batch=True)
            results = beat_once()
            self.stdout.write(", ".join(f"{name}: {value}" for name, value in results.items()))
            return
        stop = threading.Event()
        beat = threading.Thread(
            target=beat_forever, args=(interval, stop), name="beat", daemon=True
        )
        beat.start()
        try:
            self._tasks(rq, batch=False)
        finally:
            stop.set()
            beat.join(timeout=interval + 5)

    def _tasks(self, rq: bool, *, batch: bool) -> None:
        if rq:
            call_command(
                "rqworker",
                "default",
                job_class="django_tasks_rq.Job",
                burst=batch,
                with_scheduler=False,
            )
            return
        from django_tasks_db.management.commands.db_worker import Worker

        worker = Worker(
            queue_names=["default"],
            interval=0.1,
            batch=batch,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=f"{socket.gethostname()}-{os.getpid()}"[:64],
            excluded_queue_names=[],
        )
        if not batch:
            worker.configure_signals()
        try:
            worker.run()
        except SystemExit:  # the worker's own graceful exit on SIGTERM / SIGINT
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
