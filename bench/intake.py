"""Intake benchmark: N × POST /api/v1/cases over real HTTP against `aftersales serve` (gunicorn).

Prepares a fresh database (see bench.common), seeds one shop with a channel, products and
one signed order per case plus an `integration` API token through the ORM and services,
starts gunicorn with 2 workers, and files one case per order from C client threads, each
with its own http.client connection. Prints cases/s, latency percentiles and the CPU
each case cost in the gunicorn workers, the PostgreSQL backends and this client.

    .venv/bin/python -m bench.intake                      # SQLite, N=3000, C=8
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/aftersales_bench \\
        .venv/bin/python -m bench.intake --profile 200    # PostgreSQL, then a cProfile
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from bench.common import (
    cpu_capacity,
    database_prepare,
    format_ms,
    percentiles,
    quiet_wait,
    shop_seed,
)

TYPES = ["return_refund"] * 4 + ["refund_only"] * 3 + ["exchange", "repair", "reissue"]
REASONS = {
    "return_refund": "quality_defect",
    "refund_only": "damaged_in_transit",
    "exchange": "wrong_item",
    "repair": "quality_defect",
    "reissue": "missing_item",
}
EMOTIONS = ["calm", "anxious", "calm", "angry"]
WORDS = "收到的耳机左边没有声音，充电盒也有划痕，希望尽快处理。"


# ----------------------------------------------------------------------------- seed


def seed(orders: int) -> tuple[str, list[dict]]:
    """Shop, channel, products, `orders` signed orders; returns (token, one payload per order)."""
    from django.utils import timezone

    from aftersales.accounts.services import token_create, user_ensure
    from aftersales.channels.models import Customer, Order, OrderLine

    shop, channel, products = shop_seed(products=20)
    now = timezone.now()
    payloads = []
    for start in range(0, orders, 1000):
        batch = range(start, min(start + 1000, orders))
        customers = Customer.objects.bulk_create(
            Customer(shop=shop, name=f"顾客{i}", phone=f"139{i:08d}") for i in batch
        )
        created = Order.objects.bulk_create(
            Order(
                shop=shop,
                channel=channel,
                external_id=f"TB{i:012d}",
                customer=customer,
                status="signed",
                total_paid=Decimal("398.00"),
                paid_at=now - timedelta(days=6),
                shipped_at=now - timedelta(days=5),
                signed_at=now - timedelta(days=3),
            )
            for i, customer in zip(batch, customers, strict=True)
        )
        lines = []
        for i, order in zip(batch, created, strict=True):
            for product in (products[i % 20], products[(i + 7) % 20]):
                lines.append(
                    OrderLine(
                        shop=shop,
                        order=order,
                        product=product,
                        sku=product.sku,
                        title=product.name,
                        quantity=1,
                        unit_price=product.price,
                        paid_amount=product.price,
                    )
                )
            case_type = TYPES[i % len(TYPES)]
            payloads.append(
                {
                    "type": case_type,
                    "reason": REASONS[case_type],
                    "channel_id": channel.pk,
                    "external_id": order.external_id,
                    "lines": [{"sku": products[i % 20].sku, "quantity": 1}],
                    "customer_words": WORDS,
                    "emotion": EMOTIONS[i % len(EMOTIONS)],
                }
            )
        OrderLine.objects.bulk_create(lines)
    user = user_ensure(username="bench-intake", role="integration", shops=[shop])
    return token_create(user=user, name="bench"), payloads


# ----------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_start(port: int, workers: int, log: Path) -> subprocess.Popen:
    command = [str(Path(sys.executable).with_name("aftersales")), "serve"]
    command += ["--port", str(port), "--workers", str(workers)]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=os.environ)
    for _ in range(300):  # up to 30 s for migrate + gunicorn boot
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}; see {log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server did not listen on {port} within 30 s; see {log}")


def server_stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


# ----------------------------------------------------------------------------- CPU accounting


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (Linux /proc); 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_pids(master: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        return []


def database_backend_pids() -> list[int]:
    """PostgreSQL server processes serving the benchmark's database, except our own."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


# ----------------------------------------------------------------------------- load


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0


def fire(port: int, token: str, payloads: list[dict], concurrency: int) -> Run:
    """POST every payload, `concurrency` requests in flight; each thread reuses its connection."""
    run = Run()
    lock = threading.Lock()
    jobs = iter(payloads)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                payload = next(jobs, None)
            if payload is None:
                break
            body = json.dumps(payload).encode()
            started = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/cases", body=body, headers=headers)
                response = conn.getresponse()
                text = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()  # reconnects on the next request
                status, text = 0, repr(exc).encode()
            elapsed = time.perf_counter() - started
            with lock:
                if status == 201:
                    run.latencies.append(elapsed)
                else:
                    run.errors.append(f"{status} {text[:300]!r}")
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.elapsed = time.perf_counter() - started
    return run


def pyspy_start(master: int, out: str) -> subprocess.Popen:
    """py-spy (pip install py-spy) sampling the workers while they hold the GIL (on CPU)."""
    command = [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(master)]
    command += ["--subprocesses", "--function", "--gil", "--nonblocking", "--rate", "100"]
    command += ["--format", "raw", "--output", out]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)  # let it attach
    return proc


def pyspy_stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)


def pyspy_summary(path: Path, top: int = 45) -> None:
    """Share of samples in which each function appears (inclusive), and at the top (self)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        if not any("handle_request" in f for f in frames):
            continue  # the master's housekeeping
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    print(f"\npy-spy: {total} on-CPU samples of the gunicorn workers; inclusive share:")
    below_wsgi = [(f, c) for f, c in inclusive.most_common() if c < 0.98 * total]
    for frame, count in below_wsgi[:top]:
        print(f"  {100 * count / total:5.1f}%  {frame}")
    print("self share:")
    for frame, count in own.most_common(15):
        print(f"  {100 * count / total:5.1f}%  {frame}")


def profile_in_process(token: str, payloads: list[dict]) -> None:
    """The same POSTs through django.test.Client under cProfile: queries and hot functions."""
    import cProfile
    import pstats

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    post = client.post
    with CaptureQueriesContext(connection) as queries:
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for payload in payloads:
            response = post("/api/v1/cases", payload, content_type="application/json")
            assert response.status_code == 201, response.content
        profiler.disable()
        elapsed = time.perf_counter() - started
    count = len(payloads)
    print(f"\nin-process (django.test.Client, cProfile on): {count / elapsed:.0f} cases/s,")
    print(f"{len(queries.captured_queries) / count:.1f} SQL queries per case; first case:")
    for query in queries.captured_queries[: len(queries.captured_queries) // count]:
        print(f"  {query['time']:>6}s  {query['sql'][:150]}")
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-n", "--cases", type=int, default=3000, help="cases to create")
    parser.add_argument("-c", "--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--warmup", type=int, default=100, help="requests before timing")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--profile", type=int, default=0, help="then cProfile K in-process")
    parser.add_argument("--quiet-wait", type=float, default=0, help="seconds to wait for idle")
    parser.add_argument("--py-spy", metavar="FILE", help="sample the workers into FILE (raw)")
    args = parser.parse_args()

    # Keep each worker's PostgreSQL connection for the whole run (the default 60 s would
    # replace it mid-run and hide the old backend's CPU from the accounting below).
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "600")
    capacity = cpu_capacity()
    where = database_prepare("intake")
    started = time.perf_counter()
    token, payloads = seed(args.warmup + args.cases + args.profile)
    print(f"{where}: seeded {len(payloads)} orders in {time.perf_counter() - started:.1f} s")
    warmup = payloads[: args.warmup]
    timed = payloads[args.warmup : args.warmup + args.cases]
    profiled = payloads[args.warmup + args.cases :]

    port = args.port or free_port()
    log = Path(os.environ.get("AFTERSALES_DATA_DIR") or "/tmp") / f"serve-{port}.log"
    server = server_start(port, args.workers, log)
    try:
        fire(port, token, warmup, args.concurrency)
        quiet_wait(args.quiet_wait)
        workers = worker_pids(server.pid)
        backends = database_backend_pids()
        cpu_before = [cpu_seconds(pid) for pid in workers]
        db_before = [cpu_seconds(pid) for pid in backends]
        client_before = time.process_time()
        sampler = pyspy_start(server.pid, args.py_spy) if args.py_spy else None
        run = fire(port, token, timed, args.concurrency)
        if sampler:
            pyspy_stop(sampler)
        client_cpu = time.process_time() - client_before
        server_cpu = sum(cpu_seconds(pid) for pid in workers) - sum(cpu_before)
        db_cpu = sum(cpu_seconds(pid) for pid in backends) - sum(db_before)
    finally:
        server_stop(server)

    done = len(run.latencies)
    print(
        f"POST /api/v1/cases: {done} created, {len(run.errors)} failed, "
        f"concurrency {args.concurrency}, {args.workers} gunicorn workers, {os.cpu_count()} CPUs"
    )
    print(f"  throughput  {done / run.elapsed:7.1f} cases/s  ({run.elapsed:.2f} s)")
    print(f"  latency     {format_ms(percentiles(run.latencies))}")
    per_case = 1000 / max(done, 1)
    used = server_cpu + db_cpu + client_cpu
    print(
        f"  CPU per case: gunicorn workers {server_cpu * per_case:.2f} ms, "
        f"PostgreSQL backends {db_cpu * per_case:.2f} ms, client {client_cpu * per_case:.2f} ms"
    )
    print(
        f"  these processes used {used / run.elapsed:.2f} CPUs; the {os.cpu_count()} CPUs are "
        f"worth {capacity:.2f} single-CPU equivalents when all busy (spin test)"
    )
    for error in itertools.islice(run.errors, 5):
        print(f"  error: {error}")
    print(f"  server log: {log}")
    if args.py_spy:
        pyspy_summary(Path(args.py_spy))
    if profiled:
        profile_in_process(token, profiled)


if __name__ == "__main__":
    main()
