"""Outbox benchmark: latency from a case change's commit to its webhook's arrival, with real
`aftersales worker` processes delivering.

Prepares a fresh database (see bench.common), seeds one shop with a channel, products and
one signed order per filed case, and `--endpoints` webhook endpoints (every event) pointing
at an HTTP receiver this process runs (ThreadingHTTPServer in a thread: it notes the
arrival time of every delivery id and checks the HMAC signature). Starts `--workers`
`aftersales worker` processes against the same database, waits until a few warm-up
changes have been delivered, then makes `-n` changes at a steady `--rate` through the real
services — every other one files a case (`case_create`), the rest post a customer-visible
comment on an earlier case (`case_comment`) — each in its own transaction, whose outbox
rows the transition hook writes and enqueues on commit. The commit time is taken by an
on_commit callback registered first, so it runs before the enqueue callbacks.

Then it waits until every row is `sent` and prints the latency (receiver arrival − commit)
p50/p95/p99/max, the throughput, which path delivered each row (the task enqueued on
commit or the beat's sweep), how long a task waited before a worker started it, and checks
that every row reached the receiver exactly once with a valid signature.

`--no-enqueue` turns the fast path off in this process (the rows are written, nothing is
enqueued), so only the workers' sweep every `--sweep-seconds` delivers.

    .venv/bin/python -m bench.outbox                               # SQLite
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/aftersales_bench_outbox \\
        .venv/bin/python -m bench.outbox --workers 2 --no-enqueue
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.common import cpu_ticks, database_prepare, format_ms, percentiles, quiet_wait, shop_seed
from bench.intake import cpu_seconds, database_backend_pids, server_stop

WORDS = "收到的耳机左边没有声音，充电盒也有划痕，希望尽快处理。"
COMMENT = "您好，我们已收到您的申请，仓库会在今天内核实并回复您。"


# ----------------------------------------------------------------------------- receiver


@dataclass
class Received:
    """What the receiver saw: arrival times per delivery id, and any bad request."""

    secrets: dict[str, str]  # path -> signing secret
    arrivals: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    bad: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)


def receiver_start(received: Received) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            arrived = time.time()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            delivery = self.headers.get("X-Aftersales-Delivery", "")
            timestamp = self.headers.get("X-Aftersales-Timestamp", "")
            secret = received.secrets.get(self.path)
            problem = ""
            if secret is None:
                problem = f"unknown path {self.path}"
            else:
                signed = timestamp.encode() + b"." + body
                expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
                given = self.headers.get("X-Aftersales-Signature", "")
                if not hmac.compare_digest(expected, given):
                    problem = f"bad signature for {delivery}"
            with received.lock:
                if problem:
                    received.bad.append(problem)
                else:
                    received.arrivals[delivery].append(arrived)
            self.send_response(400 if problem else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="receiver", daemon=True).start()
    return server


# ----------------------------------------------------------------------------- seed


def seed(files: int, endpoints: int, port: int) -> tuple[list, dict[str, str]]:
    """Shop, channel, products, `files` signed orders (customers without any address, so
    every outbox row is a webhook) and the endpoints; returns (orders, path -> secret)."""
    from django.utils import timezone

    from aftersales.channels.models import Customer, Order, OrderLine
    from aftersales.notify.models import WebhookEndpoint

    shop, channel, products = shop_seed(products=10)
    now = timezone.now()
    orders = []
    for start in range(0, files, 1000):
        batch = range(start, min(start + 1000, files))
        customers = Customer.objects.bulk_create(
            Customer(shop=shop, name=f"顾客{i}") for i in batch
        )
        created = Order.objects.bulk_create(
            Order(
                shop=shop,
                channel=channel,
                external_id=f"TB{i:012d}",
                customer=customer,
                status="signed",
                total_paid=Decimal("199.00"),
                paid_at=now - timedelta(days=6),
                shipped_at=now - timedelta(days=5),
                signed_at=now - timedelta(days=3),
            )
            for i, customer in zip(batch, customers, strict=True)
        )
        OrderLine.objects.bulk_create(
            OrderLine(
                shop=shop,
                order=order,
                product=products[i % 10],
                sku=products[i % 10].sku,
                title=products[i % 10].name,
                quantity=1,
                unit_price=products[i % 10].price,
                paid_amount=products[i % 10].price,
            )
            for i, order in zip(batch, created, strict=True)
        )
        orders += created
    secrets = {}
    for k in range(endpoints):
        path = f"/hook/{k}"
        endpoint = WebhookEndpoint.objects.create(
            shop=shop, url=f"http://127.0.0.1:{port}{path}", events=["*"]
        )
        secrets[path] = endpoint.secret
    return orders, secrets


# ----------------------------------------------------------------------------- changes


@dataclass
class Changes:
    """Commit time and outbox row per delivery id, for the changes this process made."""

    commits: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # delivery id -> outbox pk
    enqueue: list[float] = field(default_factory=list)  # commit -> end of on_commit work
    lag: list[float] = field(default_factory=list)  # scheduled start -> actual start
    took: list[float] = field(default_factory=list)  # start -> commit
    errors: list[str] = field(default_factory=list)


class Driver:
    """Makes the changes: files a case on the next order, or comments on an earlier case."""

    def __init__(self, orders: list, *, enqueue: bool, seed: int = 4) -> None:
        from aftersales.notify import services as notify_services

        self.orders = iter(orders)
        self.cases: list = []
        self.rng = random.Random(seed)
        self.captured: list = []
        original = notify_services.outbox_add

        def capture(**kwargs):
            row = original(**kwargs)
            if row is not None:
                self.captured.append(row)
            return row

        # Only in this process: the rows each change writes (no extra query), and, with
        # --no-enqueue, the fast path off so only the workers' sweeps deliver.
        notify_services.outbox_add = capture
        if not enqueue:
            notify_services.outbox_enqueue_on_commit = lambda outbox_ids: None

    def change(self, i: int, into: Changes) -> None:
        from django.db import transaction

        from aftersales.cases.services import case_comment, case_create

        self.captured.clear()
        stamp: list[float] = []
        began = time.time()
        try:
            with transaction.atomic():
                transaction.on_commit(lambda: stamp.append(time.time()))  # runs first
                if i % 2 == 0 or not self.cases:
                    order = next(self.orders)
                    case = case_create(
                        actor=None,
                        case_type="return_refund",
                        reason="quality_defect",
                        order=order,
                        customer_words=WORDS,
                        emotion="calm",
                    )
                    self.cases.append(case)
                else:
                    case = self.rng.choice(self.cases)
                    case_comment(case=case, actor=None, text=f"{COMMENT} #{i}")
        except Exception as exc:  # counted; its rows were rolled back
            into.errors.append(f"{type(exc).__name__}: {exc}")
            return
        done = time.time()
        committed = stamp[0]
        into.enqueue.append(done - committed)
        into.took.append(committed - began)
        for row in self.captured:
            into.commits[str(row.delivery_id)] = committed
            into.rows[str(row.delivery_id)] = row.pk


def drive(driver: Driver, count: int, rate: float, into: Changes, start: int = 0) -> float:
    """`count` changes, one every 1/rate s (never two at once); returns the elapsed time."""
    began = time.time()
    for k in range(count):
        due = began + k / rate
        wait = due - time.time()
        if wait > 0:
            time.sleep(wait)
        into.lag.append(time.time() - due)
        driver.change(start + k, into)
    return time.time() - began


def drain(received: Received, expected: set[str], limit: float) -> bool:
    """Wait until every expected delivery arrived and no outbox row is left unsent."""
    from aftersales.notify.models import Outbox, OutboxState

    deadline = time.time() + limit
    while time.time() < deadline:
        with received.lock:
            arrived = expected.issubset(received.arrivals.keys())
        if arrived and not Outbox.objects.exclude(state=OutboxState.SENT).exists():
            return True
        time.sleep(0.1)
    return False


# ----------------------------------------------------------------------------- workers


def workers_start(count: int, sweep: float, log_dir: Path) -> list[subprocess.Popen]:
    command = [str(Path(sys.executable).with_name("aftersales")), "worker"]
    env = {**os.environ, "AFTERSALES_WORKER_SWEEP_SECONDS": str(sweep)}
    procs = []
    for k in range(count):
        log = log_dir / f"worker-{k}.log"
        with log.open("wb") as out:
            procs.append(subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env))
    deadline = time.time() + 60
    for k, proc in enumerate(procs):
        log = log_dir / f"worker-{k}.log"
        while b"Worker " not in log.read_bytes():
            if proc.poll() is not None or time.time() > deadline:
                workers_stop(procs)
                raise SystemExit(f"worker {k} did not start; see {log}")
            time.sleep(0.1)
    return procs


def workers_stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            server_stop(proc)


# ----------------------------------------------------------------------------- report


def machine() -> str:
    from django.db import connection

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            db = f"PostgreSQL {cursor.fetchone()[0]}"
    else:
        import sqlite3

        db = f"SQLite {sqlite3.sqlite_version}"
    import django
    import django_tasks_db

    tasks_db = getattr(django_tasks_db, "__version__", "")
    return (
        f"nproc {os.cpu_count()}, CPU {model}; Python {platform.python_version()}, "
        f"Django {django.get_version()}, {db}, django-tasks-db {tasks_db}".rstrip(" ,")
    )


def task_paths(rows: dict[str, int]) -> tuple[set[int], dict[int, float]]:
    """Outbox pks that a deliver_outbox task sent, and when a worker started each row's
    first task (epoch seconds)."""
    from django_tasks_db.models import DBTaskResult

    wanted = set(rows.values())
    by_task: set[int] = set()
    started: dict[int, float] = {}
    for args_kwargs, value, at in DBTaskResult.objects.filter(
        task_path__endswith="deliver_outbox"
    ).values_list("args_kwargs", "return_value", "started_at"):
        pk = (args_kwargs.get("args") or [None])[0]
        if pk not in wanted:
            continue
        if value == "sent":
            by_task.add(pk)
        if at is not None:
            started[pk] = min(started.get(pk, at.timestamp()), at.timestamp())
    return by_task, started


def report(args, changes: Changes, received: Received, elapsed: float, cpu: dict) -> bool:
    from aftersales.notify.models import Outbox

    ids = set(changes.commits)
    with received.lock:
        arrivals = {k: list(v) for k, v in received.arrivals.items()}
        bad = list(received.bad)
    delivered = [d for d in ids if d in arrivals]
    latency = [arrivals[d][0] - changes.commits[d] for d in delivered]
    duplicates = {d: len(arrivals[d]) for d in delivered if len(arrivals[d]) > 1}
    missing = ids - arrivals.keys()
    states = Counter(
        Outbox.objects.filter(pk__in=list(changes.rows.values())).values_list("state", flat=True)
    )
    attempts = Counter(
        Outbox.objects.filter(pk__in=list(changes.rows.values())).values_list("attempts", flat=True)
    )
    first = min(changes.commits.values(), default=0.0)
    last = max((arrivals[d][0] for d in delivered), default=first)
    mode = "sweep only (--no-enqueue)" if args.no_enqueue else "task on commit + sweep"
    print(
        f"\n{len(changes.commits)} outbox rows from {args.changes} changes at "
        f"{args.changes / elapsed:.1f}/s (asked {args.rate}/s), {args.workers} worker(s), "
        f"{mode}, sweep every {args.sweep_seconds} s, {args.endpoints} endpoint(s)"
    )
    print(f"  commit -> arrival  {format_ms(percentiles(latency))}")
    # p95 of each fifth of the run: a growing figure means a backlog.
    order = sorted(delivered, key=lambda d: changes.commits[d])
    fifths = [order[k * len(order) // 5 : (k + 1) * len(order) // 5] for k in range(5)]
    p95s = [
        percentiles([arrivals[d][0] - changes.commits[d] for d in part])["p95"]
        for part in fifths
        if part
    ]
    print("  p95 per fifth of the run: " + ", ".join(f"{v:.0f}" for v in p95s) + " ms")
    print(
        f"  throughput  {len(delivered) / max(last - first, 1e-9):.1f} deliveries/s "
        f"(first commit to last arrival {last - first:.1f} s)"
    )
    if not args.no_enqueue:
        by_task, started = task_paths(changes.rows)
        pickup = [
            started[changes.rows[d]] - changes.commits[d]
            for d in delivered
            if changes.rows[d] in started and changes.rows[d] in by_task
        ]
        print(
            f"  delivered by their task {len(by_task)}, by a sweep "
            f"{len(delivered) - len(by_task)}; their commit -> task started "
            f"{format_ms(percentiles(pickup))}"
        )
    print(f"  on_commit work (enqueue) {format_ms(percentiles(changes.enqueue))}")
    print(f"  change: start -> commit {format_ms(percentiles(changes.took))}")
    print(f"  change: start behind schedule {format_ms(percentiles(changes.lag))}")
    per_row = 1000 / max(len(delivered), 1)
    print(
        f"  CPU per row: workers {cpu['workers'] * per_row:.2f} ms, "
        f"PostgreSQL backends {cpu['db'] * per_row:.2f} ms, "
        f"this process (changes + receiver) {cpu['self'] * per_row:.2f} ms"
    )
    ours = (cpu["workers"] + cpu["db"] + cpu["self"]) / max(cpu["seconds"], 1e-9)
    print(
        f"  CPUs busy during the run {cpu['machine']:.2f} of {os.cpu_count()}, "
        f"{ours:.2f} of them this benchmark's processes (the rest: other work)"
    )
    print(f"  outbox states {dict(states)}, attempts {dict(sorted(attempts.items()))}")
    ok = (
        not missing
        and not duplicates
        and not bad
        and not changes.errors
        and states == Counter({"sent": len(ids)})
    )
    print(
        f"  exactly once: {len(delivered)} arrived, {len(missing)} missing, "
        f"{len(duplicates)} duplicated, {len(bad)} bad requests, "
        f"{len(changes.errors)} failed changes -> {'OK' if ok else 'FAILED'}"
    )
    for d, n in list(duplicates.items())[:10]:
        print(f"  duplicate: {d} arrived {n} times")
    for problem in (bad + changes.errors)[:10]:
        print(f"  error: {problem}")
    return ok


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-n", "--changes", type=int, default=2000, help="changes to make")
    parser.add_argument("--rate", type=float, default=20, help="changes per second")
    parser.add_argument("--workers", type=int, default=1, help="aftersales worker processes")
    parser.add_argument("--endpoints", type=int, default=1, help="webhook endpoints (rows/change)")
    parser.add_argument(
        "--sweep-seconds",
        type=float,
        default=float(os.environ.get("AFTERSALES_WORKER_SWEEP_SECONDS", "1")),
        help="the workers' AFTERSALES_WORKER_SWEEP_SECONDS (default: that, or 1)",
    )
    parser.add_argument(
        "--no-enqueue", action="store_true", help="no task on commit: only the sweep delivers"
    )
    parser.add_argument("--warmup", type=int, default=20, help="changes before timing")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait to drain")
    parser.add_argument("--quiet-wait", type=float, default=0, help="seconds to wait for idle")
    args = parser.parse_args()

    # Keep each worker's PostgreSQL connections for the whole run (the default 60 s would
    # replace them mid-run and hide the old backends' CPU from the accounting).
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "600")
    where = database_prepare("outbox")
    received = Received(secrets={})
    server = receiver_start(received)
    port = server.server_address[1]
    started = time.perf_counter()
    files = (args.warmup + args.changes + 1) // 2 + 1
    orders, secrets = seed(files, args.endpoints, port)
    received.secrets.update(secrets)
    print(f"{where}: seeded {len(orders)} orders in {time.perf_counter() - started:.1f} s")
    print(machine())

    log_dir = Path(os.environ.get("AFTERSALES_DATA_DIR") or tempfile.mkdtemp(prefix="as-outbox-"))
    procs = workers_start(args.workers, args.sweep_seconds, log_dir)
    try:
        driver = Driver(orders, enqueue=not args.no_enqueue)
        warm = Changes()
        drive(driver, args.warmup, args.rate, warm)
        if not drain(received, set(warm.commits), 60):
            raise SystemExit(f"warm-up not delivered within 60 s; see {log_dir}/worker-*.log")
        quiet_wait(args.quiet_wait)
        backends = database_backend_pids()
        pids = [proc.pid for proc in procs]
        before = (
            sum(map(cpu_seconds, pids)),
            sum(map(cpu_seconds, backends)),
            time.process_time(),
        )
        ticks = cpu_ticks()
        changes = Changes()
        elapsed = drive(driver, args.changes, args.rate, changes, start=args.warmup)
        drained = drain(received, set(changes.commits), args.timeout)
        cpu = {
            "workers": sum(map(cpu_seconds, pids)) - before[0],
            "db": sum(map(cpu_seconds, backends)) - before[1],
            "self": time.process_time() - before[2],
        }
        total, busy = (after - then for after, then in zip(cpu_ticks(), ticks, strict=True))
        cpu["machine"] = busy / max(total, 1) * (os.cpu_count() or 1)  # CPUs busy, all work
        cpu["seconds"] = total / (os.cpu_count() or 1) / os.sysconf("SC_CLK_TCK")
    finally:
        workers_stop(procs)
        server.shutdown()
    if not drained:
        print(f"warning: not everything was delivered within {args.timeout} s")
    ok = report(args, changes, received, elapsed, cpu)
    print(f"  worker logs: {log_dir}/worker-*.log")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
