"""`aftersales serve`: migrate, optionally load the demo once, then run the web server
(gunicorn) and the background worker together until either stops or a signal arrives."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand


def _aftersales() -> list[str]:
    script = Path(sys.executable).with_name("aftersales")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aftersales.cli"]


class Command(BaseCommand):
    help = "Migrate the database and serve the app: gunicorn (web) and the worker."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2, help="web processes")
        parser.add_argument("--demo", action="store_true", help="load demo data first (once)")
        parser.add_argument(
            "--no-worker", action="store_true", help="web only (run `aftersales worker` apart)"
        )

    def handle(
        self, *args, host: str, port: int, workers: int, demo: bool, no_worker: bool, **options
    ) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        if demo:
            call_command("demo", if_empty=True)
        self.stdout.write(
            f"Serving on http://{host}:{port}/  (API docs: /api/v1/docs, admin: /admin/)"
            + ("" if no_worker else "; worker running")
        )
        sys.stdout.flush()
        web = [
            sys.executable,
            "-m",
            "gunicorn",
            "aftersales.wsgi:application",
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(workers),
            "--access-logfile",
            "-",
        ]
        procs = [subprocess.Popen(web)]
        if not no_worker:
            procs.append(subprocess.Popen([*_aftersales(), "worker"]))
        self._supervise(procs)

    def _supervise(self, procs: list[subprocess.Popen]) -> None:
        """Forward SIGINT/SIGTERM to the children; when one exits, stop the others."""
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.2)
        stop(signal.SIGTERM, None)
        deadline = time.monotonic() + 20
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        codes = [proc.returncode for proc in procs]
        if not stopping and any(codes):
            sys.exit(next(code for code in codes if code))
