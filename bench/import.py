"""Import benchmark: N order lines from a CSV export into one channel, then the same file again.

Prepares a fresh database (see bench.common), seeds the bench shop (a Taobao channel and
`--products` products), writes a generic-template CSV of N order lines (orders of 1 to 5
lines, every order paid, shipped and signed, so no clock starts), and imports it through the
same code the CLI runs. Prints rows/s for the first import (every order created) and for the
re-import (every order unchanged), and the process's peak memory during each (VmHWM, reset
before each import), so memory can be compared across sizes.

    .venv/bin/python -m bench.import                      # SQLite, 1,000,000 lines
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/aftersales_bench_import \\
        .venv/bin/python -m bench.import --lines 1000000
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

from bench.common import database_prepare, shop_seed

HEADER = [
    "order_number",
    "sku",
    "quantity",
    "unit_price",
    "discount",
    "shipping_fee",
    "placed_at",
    "paid_at",
    "shipped_at",
    "signed_at",
    "buyer_name",
    "phone",
    "courier",
    "tracking_number",
]


def export_write(path: Path, lines: int, products: int) -> int:
    """The CSV a merchant would export; returns the number of orders in it."""
    orders = 0
    written = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        while written < lines:
            orders += 1
            size = min(1 + orders % 5, lines - written)
            day = 1 + orders % 28
            head = [
                f"B{orders:09d}",
            ]
            tail = [
                "0.00" if orders % 3 else "8.00",
                f"2026-10-{day:02d} 10:00:00",
                f"2026-10-{day:02d} 10:01:00",
                f"2026-10-{day:02d} 18:00:00",
                f"2026-11-{day:02d} 12:00:00",
                f"买家{orders % 9973}",
                f"13{orders % 1000:03d}****{orders % 10000:04d}",
                "中通快递",
                f"ZT{orders:010d}",
            ]
            for i in range(size):
                sku = f"SKU{(orders * 7 + i) % products:03d}"
                writer.writerow([*head, sku, 1 + i % 3, "199.00", "10.00" if i else "0.00", *tail])
            written += size
    return orders


def peak_reset() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed_import(channel, path: Path, label: str, lines: int):
    from aftersales.sync.importing.runs import import_file

    before = rss_mib()
    peak_reset()
    start = time.perf_counter()
    with path.open("rb") as stream:
        run = import_file(
            actor=None,
            channel=channel,
            kind="orders",
            stream=stream,
            filename=path.name,
            preset="generic",
        )
    seconds = time.perf_counter() - start
    print(
        f"{label:10} {seconds:8.1f} s  {lines / seconds:10,.0f} rows/s  "
        f"created {run.created:,}  updated {run.updated:,}  unchanged {run.unchanged:,}  "
        f"refused {run.failed:,}  RSS before {before:,.0f} MiB, peak {peak_mib():,.0f} MiB"
    )
    return run


def settle() -> None:
    """Let PostgreSQL catch up on the new rows (what autovacuum would do a little later), so
    the re-import is not timed against the vacuum of the first import."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--data-dir", default=None, help="SQLite directory (default: new)")
    args = parser.parse_args()

    where = database_prepare("import", data_dir=args.data_dir)
    _shop, channel, _products = shop_seed(products=args.products)
    with tempfile.TemporaryDirectory(prefix="as-import-") as directory:
        path = Path(directory) / "orders.csv"
        start = time.perf_counter()
        orders = export_write(path, args.lines, args.products)
        size = path.stat().st_size / 2**20
        print(
            f"{where}: {args.lines:,} lines in {orders:,} orders, {size:,.0f} MiB of CSV "
            f"(written in {time.perf_counter() - start:.1f} s)"
        )
        first = timed_import(channel, path, "import", args.lines)
        assert first.created == orders and first.failed == 0, first.message
        settle()
        again = timed_import(channel, path, "re-import", args.lines)
        assert again.unchanged == orders and again.created == again.updated == 0


if __name__ == "__main__":
    main()
