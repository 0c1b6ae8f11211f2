"""What both benchmarks share: a fresh database, Django set-up, percentiles, machine facts."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse


def database_prepare(label: str, *, reuse: bool = False, data_dir: str | None = None) -> str:
    """Point the settings at a database for this run, migrate it, and describe it.

    PostgreSQL when DATABASE_URL is set: the database it names is dropped and created
    again (its name must contain "bench", so a real database is never touched). Otherwise
    SQLite in `data_dir`, by default a new temporary directory. `reuse` keeps what is there.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftersales.settings")  # or a variant
    os.environ["AFTERSALES_DEBUG"] = "0"  # DEBUG keeps every query in memory
    os.environ.pop("AFTERSALES_SQLITE_PATH", None)
    url = os.environ.get("DATABASE_URL", "")
    if url:
        name = urlparse(url).path.lstrip("/")
        if "bench" not in name:
            raise SystemExit(f"refusing to use database {name!r}: its name must contain 'bench'")
        if not reuse:
            _postgres_recreate(url, name)
        where = f"PostgreSQL database {name}"
    else:
        directory = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix=f"as-{label}-"))
        directory.mkdir(parents=True, exist_ok=True)
        if (directory / "aftersales.sqlite3").exists() and not reuse:
            raise SystemExit(f"{directory} already holds a database; pass --reuse or another dir")
        os.environ["AFTERSALES_DATA_DIR"] = str(directory.resolve())
        where = f"SQLite in {directory}"

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    return where


def _postgres_recreate(url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    maintenance = urlunparse(urlparse(url)._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def cpu_ticks() -> tuple[int, int]:
    """(all, busy) clock ticks of every CPU since boot (Linux /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(values), sum(values) - values[3] - values[4]  # minus idle and iowait


def cpu_busy_share(seconds: float = 2.0) -> float:
    """Share of all CPUs busy over the next `seconds`."""
    total0, busy0 = cpu_ticks()
    time.sleep(seconds)
    total1, busy1 = cpu_ticks()
    return (busy1 - busy0) / max(total1 - total0, 1)


def quiet_wait(limit: float, threshold: float = 0.15) -> None:
    """Wait (at most `limit` seconds) until other processes leave the CPUs nearly idle."""
    deadline = time.monotonic() + limit
    while limit > 0:
        busy = cpu_busy_share()
        if busy < threshold:
            print(f"CPUs {100 * busy:.0f}% busy before the run")
            return
        if time.monotonic() > deadline:
            print(f"warning: CPUs still {100 * busy:.0f}% busy with other work; timing anyway")
            return
        time.sleep(3)


def _spin(seconds: float) -> int:
    end, count = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        count += 1
    return count


def cpu_capacity(seconds: float = 2.0) -> float:
    """How many single-CPU equivalents all CPUs give when busy at once (spin loops).

    A VM's vCPUs may share cores: this says what "2 cores" is really worth.
    """
    import multiprocessing

    one = _spin(seconds)
    cpus = os.cpu_count() or 1
    with multiprocessing.get_context("fork").Pool(cpus) as pool:
        return sum(pool.map(_spin, [seconds] * cpus)) / one


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds (inclusive method: exact on small samples)."""
    if len(seconds) < 2:
        value = seconds[0] * 1000 if seconds else float("nan")
        return {"p50": value, "p95": value, "p99": value, "max": value}
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {
        "p50": cuts[49] * 1000,
        "p95": cuts[94] * 1000,
        "p99": cuts[98] * 1000,
        "max": max(seconds) * 1000,
    }


def format_ms(figures: dict[str, float]) -> str:
    return "  ".join(f"{key} {value:7.1f} ms" for key, value in figures.items())


def database_vendor() -> str:
    from django.db import connection

    return connection.vendor


def shop_seed(*, products: int):
    """The benchmarks' shop through the services: a Taobao channel and `products` products at
    199.00 (SKU000 …). Returns (shop, channel, products)."""
    from decimal import Decimal

    from aftersales.catalog.services import ProductData, product_upsert
    from aftersales.channels.services import channel_create, shop_create

    shop = shop_create(code="bench", name="基准旗舰店")
    channel = channel_create(actor=None, shop=shop, kind="taobao", code="taobao", name="淘宝")
    made = [
        product_upsert(
            actor=None,
            shop=shop,
            data=ProductData(sku=f"SKU{i:03d}", name=f"蓝牙耳机 {i}", price=Decimal("199.00")),
        )[0]
        for i in range(products)
    ]
    return shop, channel, made
