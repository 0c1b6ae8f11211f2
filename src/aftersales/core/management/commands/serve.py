"""`aftersales serve`: migrate, optionally load the demo once, then run gunicorn."""

from __future__ import annotations

import os
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate the database and serve the app with gunicorn (web)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--demo", action="store_true", help="load demo data first (once)")

    def handle(self, *args, host: str, port: int, workers: int, demo: bool, **options) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        if demo:
            call_command("demo", if_empty=True)
        self.stdout.write(
            f"Serving on http://{host}:{port}/  (API docs: /api/v1/docs, admin: /admin/)"
        )
        sys.stdout.flush()
        argv = [
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
        os.execv(sys.executable, argv)
