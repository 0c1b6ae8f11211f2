"""A real worker process killed with SIGKILL in the middle of its work, then restarted: every
due timer fires exactly once, and every notification reaches the local receivers (an SMTP
server and a webhook receiver) exactly once by its delivery id.

The worker and the seeding run as separate processes against a database of their own (a
SQLite file, or a PostgreSQL database made for the test when DATABASE_URL is set), as in
production; nothing here shares the test runner's database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest
from aiosmtpd.controller import Controller

CASES = 150
SECRET = "crash-test-secret"


# --------------------------------------------------------------------------- receivers


class Webhooks(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _WebhookHandler)
        self.lock = threading.Lock()
        self.raw: list[str] = []  # every delivery id as it arrived, repeats included
        self.bad_signatures = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks"


class _WebhookHandler(BaseHTTPRequestHandler):
    server: Webhooks

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        stamp = self.headers["X-Aftersales-Timestamp"]
        expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        time.sleep(0.01)  # a receiver that takes a moment, so the kill lands mid-work
        with self.server.lock:
            if not hmac.compare_digest(
                expected.hexdigest(), self.headers["X-Aftersales-Signature"]
            ):
                self.server.bad_signatures += 1
            self.server.raw.append(self.headers["X-Aftersales-Delivery"])
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


class Mailbox:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.raw: list[str] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's
        text = envelope.content.decode("utf-8", errors="replace")
        delivery = next(
            line.split(":", 1)[1].strip()
            for line in text.splitlines()
            if line.lower().startswith("x-aftersales-delivery:")
        )
        with self.lock:
            self.raw.append(delivery)
        return "250 OK"


# --------------------------------------------------------------------------- processes


SEED = """
import datetime as dt
from unittest import mock
from django.utils import timezone
from aftersales.cases.services import case_comment
from aftersales.channels.models import ChannelKind
from aftersales.channels.services import CustomerData, OrderData, OrderLineData, order_upsert
from aftersales.channels.services import shop_create
from aftersales.notify.models import WebhookEndpoint
from aftersales.policies.triggers import case_file
from aftersales.tests import factories as f

real_now = timezone.now()
past = real_now - dt.timedelta(days=3)
with mock.patch("django.utils.timezone.now", return_value=past):
    shop = shop_create(code="crash", name="Crash test shop")
    WebhookEndpoint.objects.create(shop=shop, url=HOOK_URL, secret=SECRET, events=["*"])
    channel = f.channel(shop, kind=ChannelKind.WECHAT)
    product = f.product(shop, price="80.00")
    for n in range(CASES):
        order, _ = order_upsert(actor=None, channel=channel, data=OrderData(
            external_id=f"W{n:06d}",
            customer=CustomerData(name=f"客户{n}", phone=f"1390000{n:04d}",
                                  email=f"c{n}@example.com"),
            lines=[OrderLineData(sku=product.sku, quantity=1, unit_price=product.price)],
            paid_at=past - dt.timedelta(days=2),
            shipped_at=past - dt.timedelta(days=1),
            signed_at=past - dt.timedelta(hours=12),
        ))
        # Refund-only after signature, no quality reason: the policy leaves it to a person.
        case = case_file(actor=None, case_type="refund_only", reason="other",
                         order=order, customer_words="坏了")
        case_comment(case=case, actor=None, text="收到", internal=True)
print("seeded")
"""

REPORT = """
import json
from django.db.models import Count
from aftersales.cases.models import CaseEvent
from aftersales.notify.models import Outbox
from aftersales.sla.models import Timer
from django.utils import timezone
now = timezone.now()
timer_events = ("sla_warning", "sla_breached", "deadline", "escalate")
print(json.dumps({
    "due_pending": Timer.objects.filter(state="pending", due_at__lte=now).count(),
    "timers": list(Timer.objects.exclude(state__in=["pending", "paused"])
                   .values_list("pk", "case_id", "kind", "subject", "state")),
    "events": list(CaseEvent.objects.filter(kind__in=timer_events)
                   .values_list("case_id", "kind", "data", "actor_label")),
    "outbox": list(Outbox.objects.values_list("channel", "delivery_id", "state")),
}, default=str))
"""


class Project:
    """Runs code and the worker against the test's own database."""

    def __init__(self, tmp: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")}
        self.env.update(
            AFTERSALES_DATA_DIR=str(tmp),
            AFTERSALES_WORKER_SWEEP_SECONDS="0.2",
            AFTERSALES_OUTBOX_LEASE_SECONDS="2",
            AFTERSALES_LOG_LEVEL="ERROR",
            DJANGO_SETTINGS_MODULE="aftersales.settings",
        )
        self.env.pop("REDIS_URL", None)
        self.database = None
        url = os.environ.get("DATABASE_URL")
        if url:
            self.database = f"aftersales_crash_{os.getpid()}"
            self.maintenance = urlunparse(urlparse(url)._replace(path="/postgres"))
            self._postgres(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            self._postgres(f'CREATE DATABASE "{self.database}"')
            self.env["DATABASE_URL"] = urlunparse(urlparse(url)._replace(path=f"/{self.database}"))
        self.cli = str(Path(sys.executable).with_name("aftersales"))

    def _postgres(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.maintenance, autocommit=True) as conn:
            conn.execute(statement)

    def drop(self) -> None:
        if self.database:
            self._postgres(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def python(self, code: str, **values) -> str:
        prelude = "import django\ndjango.setup()\n" + "".join(
            f"{name} = {value!r}\n" for name, value in values.items()
        )
        done = subprocess.run(
            [sys.executable, "-c", prelude + textwrap.dedent(code)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def count(self, sql: str) -> int:
        """One number straight from the database, while the worker runs."""
        if self.database:
            import psycopg

            with psycopg.connect(self.env["DATABASE_URL"], autocommit=True) as conn:
                return conn.execute(sql).fetchone()[0]
        import sqlite3

        conn = sqlite3.connect(
            Path(self.env["AFTERSALES_DATA_DIR"]) / "aftersales.sqlite3", timeout=30
        )
        try:
            return conn.execute(sql).fetchone()[0]
        finally:
            conn.close()

    def report(self) -> dict:
        return json.loads(self.python(REPORT))

    def worker(self, log: Path) -> subprocess.Popen:
        return subprocess.Popen(
            [self.cli, "worker"], env=self.env, stdout=log.open("ab"), stderr=subprocess.STDOUT
        )


@pytest.fixture
def receivers():
    hooks = Webhooks()
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    mailbox = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(mailbox, hostname="127.0.0.1", port=port)
    smtp.start()
    yield hooks, mailbox, port
    smtp.stop()
    hooks.shutdown()


def _wait(predicate, limit: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_nothing(tmp_path, receivers):
    hooks, mailbox, smtp_port = receivers
    project = Project(tmp_path)
    project.env.update(AFTERSALES_SMTP_HOST="127.0.0.1", AFTERSALES_SMTP_PORT=str(smtp_port))
    log = tmp_path / "worker.log"
    try:
        subprocess.run(
            [project.cli, "migrate", "--verbosity", "0"], env=project.env, check=True, timeout=300
        )
        assert "seeded" in project.python(SEED, HOOK_URL=hooks.url, SECRET=SECRET, CASES=CASES)
        before = project.report()
        assert before["due_pending"] > CASES  # every case has clocks that ran out meanwhile

        # First run: kill it hard once a batch of timers has committed and others are
        # being fired, while deliveries are flowing.
        worker = project.worker(log)
        fired = "SELECT count(*) FROM sla_timer WHERE state = 'fired'"
        _wait(lambda: project.count(fired) > 0, 120, "the first batch", log)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        at_kill = project.report()
        in_flight = sum(1 for _c, _d, state in at_kill["outbox"] if state == "sending")
        assert at_kill["due_pending"] > 0, "the kill came too late to interrupt anything"

        # Second run: it must finish everything, with nothing twice.
        worker = project.worker(log)
        try:

            def settled() -> bool:
                now = project.report()
                return now["due_pending"] == 0 and all(s == "sent" for *_x, s in now["outbox"])

            _wait(settled, 180, "every timer and every message", log)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        after = project.report()
    finally:
        project.drop()

    # Every timer fired (or was cancelled as moot) once; each fired timer wrote its event once.
    fired = [t for t in after["timers"] if t[4] == "fired"]
    assert len({t[0] for t in after["timers"]}) == len(after["timers"])
    warnings = Counter((t[1], t[3]) for t in fired if t[2] == "warning")
    breaches = Counter((t[1], t[2]) for t in fired if t[2] in ("first_response", "resolution"))
    events = Counter(
        (e[0], e[1], e[2].get("target") if isinstance(e[2], dict) else None)
        for e in after["events"]
    )
    assert warnings and breaches
    for (case_id, target), n in warnings.items():
        assert n == 1 and events[(case_id, "sla_warning", target)] == 1, (case_id, target)
    for (case_id, target), n in breaches.items():
        assert n == 1 and events[(case_id, "sla_breached", target)] == 1, (case_id, target)
    answer_deadlines = sum(1 for t in fired if t[2] == "merchant_answer")
    assert answer_deadlines == sum(1 for e in after["events"] if e[1] == "deadline")
    assert all(
        n <= 2 for n in Counter(e[0] for e in after["events"] if e[1] == "escalate").values()
    )

    # Every message reached its receiver, once by delivery id; a repeat can only be a message
    # that was on the wire when the worker died (and carries the same id, so it is dropped).
    rows = {
        channel: {d for c, d, _s in after["outbox"] if c == channel}
        for channel in ("webhook", "email")
    }
    assert rows["webhook"] and rows["email"]
    assert set(hooks.raw) == rows["webhook"]
    assert set(mailbox.raw) == rows["email"]
    repeats = (len(hooks.raw) - len(set(hooks.raw))) + (len(mailbox.raw) - len(set(mailbox.raw)))
    assert repeats <= in_flight
    assert hooks.bad_signatures == 0
