"""List benchmark: seed 1,000,000 cases with bulk SQL, then time GET /api/v1/cases in-process.

Prepares a fresh database (see bench.common), creates 4 shops (55/25/15/5 % of the cases)
with 4 sales channels and a partner each, 3 agents per shop, one order per case and the
cases themselves with INSERT … SELECT (generate_series on PostgreSQL, a recursive CTE on
SQLite), spread over type, status (recent cases open, old ones mostly finished), reason,
priority, channel, assignee and two years of created_at. Then ANALYZE, and each scenario
is requested through django.test.Client with a bearer token, so the figures include URL
routing, middleware, token auth, the query and JSON serialization (not the HTTP server).

    .venv/bin/python -m bench.list                                  # SQLite
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/aftersales_bench_list \\
        .venv/bin/python -m bench.list --explain
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import timedelta
from decimal import Decimal

from bench.common import database_prepare, format_ms, percentiles, quiet_wait

SHOPS = [("flagship", 55), ("outlet", 25), ("global", 15), ("b2b", 5)]
CHANNEL_KINDS = ["taobao", "jd", "pdd", "douyin"]
TYPES = [
    ("return_refund", 34),
    ("refund_only", 30),
    ("exchange", 10),
    ("repair", 6),
    ("reissue", 8),
    ("complaint", 10),
    ("partner_dispute", 2),
]
REASONS = [
    ("quality_defect", 25),
    ("no_reason", 18),
    ("damaged_in_transit", 10),
    ("not_as_described", 10),
    ("wrong_item", 6),
    ("missing_item", 6),
    ("not_delivered", 5),
    ("late_shipment", 4),
    ("lost_in_transit", 3),
    ("funds_not_received", 3),
    ("unexpected_charge", 2),
    ("usage_question", 3),
    ("policy_question", 2),
    ("service_attitude", 1),
    ("other", 2),
]
PRIORITIES = [(1, 3), (2, 12), (3, 75), (4, 10)]
EMOTIONS = [("calm", 60), ("anxious", 25), ("angry", 12), ("furious", 3)]
# The newest 3 % of cases are still being worked on; older ones are mostly finished.
RECENT_SHARE = 0.03
STATUS_RECENT = [
    ("awaiting_merchant", 30),
    ("awaiting_approval", 4),
    ("awaiting_customer", 10),
    ("awaiting_return", 15),
    ("return_in_transit", 10),
    ("inspecting", 8),
    ("processing", 4),
    ("shipping_to_customer", 3),
    ("refunding", 5),
    ("succeeded", 8),
    ("rejected", 2),
    ("closed", 1),
]
STATUS_OLD = [
    ("succeeded", 70),
    ("closed", 16),
    ("rejected", 11),
    ("awaiting_merchant", 1),
    ("awaiting_customer", 1),
    ("processing", 1),
]
OUTCOMES = {
    "refund_only": "refunded",
    "return_refund": "refunded",
    "exchange": "exchanged",
    "repair": "repaired",
    "reissue": "reissued",
    "complaint": "explained",
    "partner_dispute": "compensated",
}
PRIMES = [7919, 104729, 1299709, 15485863, 179424673, 982451653, 2038074743, 17, 31337]


# ----------------------------------------------------------------------------- SQL pieces


def literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dict | list):
        value = json.dumps(value)
    return "'" + str(value).replace("'", "''") + "'"


def bucket(column: str, salt: int) -> str:
    """A deterministic, well-spread 0..999 from an id (same data on both databases)."""
    return f"({column} * {PRIMES[salt]} % 1000003 % 1000)"


def pick(expr: str, choices: list[tuple[object, int]]) -> str:
    """CASE over a 0..999 bucket choosing values by weight."""
    total = sum(weight for _, weight in choices)
    parts, upto = [], 0
    for value, weight in choices[:-1]:
        upto += weight
        parts.append(f"WHEN {expr} < {upto * 1000 // total} THEN {literal(value)}")
    return f"CASE {' '.join(parts)} ELSE {literal(choices[-1][0])} END"


def by_key(expr: str, mapping: dict[object, str]) -> str:
    return f"CASE {expr} " + " ".join(f"WHEN {literal(k)} THEN {v}" for k, v in mapping.items())


def insert_select(model, values: dict[str, str], source: str, prefix: str = "") -> str:
    """INSERT … SELECT filling every column: ours from `values`, the rest NULL or default."""
    columns, exprs = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        if field.column in values:
            expr = values[field.column]
        elif field.null:
            expr = "NULL"
        elif (default := field.get_default()) is not None:
            expr = literal(default)
        else:
            raise SystemExit(f"seed cannot fill {model._meta.db_table}.{field.column}")
        columns.append(field.column)
        exprs.append(expr)
    table = model._meta.db_table
    return f"{prefix} INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(exprs)} {source}"


class Dialect:
    def __init__(self, vendor: str, rows: int) -> None:
        self.vendor = vendor
        if vendor == "postgresql":
            self.prefix, self.series = "", f"generate_series(1::bigint, {rows}) AS g(x)"
        else:
            self.prefix = (
                f"WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < {rows})"
            )
            self.series = "g"

    def plus_seconds(self, timestamp: str, seconds: str) -> str:
        if self.vendor == "postgresql":
            return f"({timestamp} + ({seconds}) * INTERVAL '1 second')"
        return f"datetime({timestamp}, ({seconds}) || ' seconds')"

    def timestamp(self, value) -> str:
        if self.vendor == "postgresql":
            return f"TIMESTAMPTZ '{value.isoformat()}'"
        return f"'{value.strftime('%Y-%m-%d %H:%M:%S')}'"


# ----------------------------------------------------------------------------- seed


def seed(rows: int) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from aftersales.accounts.services import user_ensure
    from aftersales.cases.models import Case
    from aftersales.channels.models import Channel, Order
    from aftersales.channels.services import shop_create

    shops, channels, partners, agents = [], {}, {}, {}
    for code, _ in SHOPS:
        shop = shop_create(code=code, name=f"{code} 店")
        shops.append(shop)
        channels[shop.pk] = [
            Channel.objects.create(shop=shop, kind=kind, code=kind, name=kind).pk
            for kind in CHANNEL_KINDS
        ]
        partners[shop.pk] = Channel.objects.create(
            shop=shop, kind="partner", code="agent", name="代理商"
        ).pk
        agents[shop.pk] = [
            user_ensure(username=f"{code}-agent{i}", role="agent", shops=[shop]).pk
            for i in range(3)
        ]

    sql = Dialect(connection.vendor, rows)
    now = timezone.now().replace(microsecond=0)
    start = sql.timestamp(now - timedelta(days=730))
    step = 730 * 86400 // rows or 1
    shop_pick = pick(bucket("x", 0), [(s.pk, w) for s, (_, w) in zip(shops, SHOPS, strict=True)])
    channel_pick = by_key(
        "shop_id",
        {
            shop: f"CASE {bucket('x', 1)} % 4 "
            + " ".join(f"WHEN {i} THEN {pk}" for i, pk in enumerate(ids))
            + " END"
            for shop, ids in channels.items()
        },
    )
    placed = sql.plus_seconds(start, f"x * {step} - 5 * 86400")
    orders = insert_select(
        Order,
        {
            "shop_id": "shop_id",
            "channel_id": channel_pick + " END",
            "external_id": "'TB' || x",
            "status": "'signed'",
            "total_paid": "199.00",
            "placed_at": placed,
            "paid_at": placed,
            "shipped_at": sql.plus_seconds(start, f"x * {step} - 4 * 86400"),
            "signed_at": sql.plus_seconds(start, f"x * {step} - 2 * 86400"),
            "created_at": placed,
            "updated_at": placed,
        },
        f"FROM (SELECT x, {shop_pick} AS shop_id FROM {sql.series}) s ORDER BY s.x",
        sql.prefix,
    )

    recent_from = int(rows * (1 - RECENT_SHARE))
    created = sql.plus_seconds(start, f"oid * {step}")
    finished = sql.plus_seconds(start, f"oid * {step} + 3 * 86400")
    terminal = "status IN ('succeeded', 'rejected', 'closed')"
    no_order = "type IN ('complaint', 'partner_dispute')"
    assignee = by_key(
        "shop_id",
        {
            shop: f"CASE {bucket('oid', 6)} % 3 "
            + " ".join(f"WHEN {i} THEN {pk}" for i, pk in enumerate(ids))
            + " END"
            for shop, ids in agents.items()
        },
    )
    outcome = by_key("type", {k: literal(v) for k, v in OUTCOMES.items()})
    inner = (
        f"SELECT o.id AS oid, o.shop_id, o.channel_id, "
        f"{pick(bucket('o.id', 2), TYPES)} AS type, "
        f"CASE WHEN o.id > {recent_from} THEN {pick(bucket('o.id', 3), STATUS_RECENT)} "
        f"ELSE {pick(bucket('o.id', 3), STATUS_OLD)} END AS status "
        f"FROM {Order._meta.db_table} o"
    )
    cases = insert_select(
        Case,
        {
            "shop_id": "shop_id",
            "type": "type",
            "status": "status",
            "reason": pick(bucket("oid", 4), REASONS),
            "priority": pick(bucket("oid", 5), PRIORITIES),
            "order_id": f"CASE WHEN {no_order} THEN NULL ELSE oid END",
            "channel_id": f"CASE WHEN type = 'partner_dispute' THEN "
            f"{by_key('shop_id', {s: str(p) for s, p in partners.items()})} END "
            "WHEN type = 'complaint' THEN NULL ELSE channel_id END",
            "partner_id": "CASE WHEN type = 'partner_dispute' THEN "
            f"{by_key('shop_id', {s: str(p) for s, p in partners.items()})} END END",
            "dispute_class": "CASE WHEN type = 'partner_dispute' THEN 'after_sales' ELSE '' END",
            "dispute_nature": "CASE WHEN type = 'partner_dispute' THEN 'benign' ELSE '' END",
            "customer_words": "'收到的商品有问题，请尽快处理'",
            "emotion": pick(bucket("oid", 7), EMOTIONS),
            "assignee_id": f"CASE WHEN {bucket('oid', 8)} < 120 THEN NULL ELSE {assignee} END END",
            "outcome": f"CASE status WHEN 'succeeded' THEN {outcome} END "
            "WHEN 'closed' THEN 'withdrawn' ELSE '' END",
            "refund_amount": "CASE WHEN status = 'succeeded' AND type IN ('refund_only', "
            "'return_refund') THEN 99.50 END",
            "refund_method": "CASE WHEN status = 'succeeded' AND type IN ('refund_only', "
            "'return_refund') THEN 'original' ELSE '' END",
            "created_at": created,
            "updated_at": f"CASE WHEN {terminal} THEN {finished} ELSE {created} END",
            "closed_at": f"CASE WHEN {terminal} THEN {finished} END",
            "rejected_at": f"CASE WHEN status = 'rejected' THEN {finished} END",
        },
        f"FROM ({inner}) t ORDER BY t.oid",
    )
    with transaction.atomic(), connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(orders)
        print(f"  {rows} orders in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        cursor.execute(cases)
        print(f"  {rows} cases in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    print(f"  ANALYZE in {time.perf_counter() - started:.1f} s")


# ----------------------------------------------------------------------------- measure


def scenarios(rng: random.Random) -> tuple[list[tuple[str, object]], list[tuple[str, dict]]]:
    """(name, params or a function giving params) of single pages, and of walks."""
    from django.db.models import Count, Max

    from aftersales.cases.models import Case
    from aftersales.channels.models import Shop

    shop = Shop.objects.get(code=SHOPS[0][0]).pk
    small = Shop.objects.get(code=SHOPS[-1][0]).pk
    agent = (
        Case.objects.filter(shop_id=shop, assignee__isnull=False)
        .values("assignee_id")
        .annotate(n=Count("id"))
        .order_by("assignee_id")
        .first()["assignee_id"]
    )
    top = Case.objects.aggregate(top=Max("id"))["top"]

    def deep(**params):
        return lambda: {**params, "cursor": rng.randint(top // 10, top * 9 // 10)}

    pages = [
        ("first page, all 4 shops", {}),
        ("first page, one shop", {"shop_id": shop}),
        (
            "status+type, one shop",
            {"shop_id": shop, "status": "awaiting_merchant", "type": "exchange"},
        ),
        ("status+type, all shops", {"status": "awaiting_merchant", "type": "return_refund"}),
        (
            "two statuses, one shop",
            {"shop_id": shop, "status": ["awaiting_merchant", "inspecting"]},
        ),
        ("assignee, one shop", {"shop_id": shop, "assignee_id": agent}),
        ("unassigned, small shop", {"shop_id": small, "unassigned": "true"}),
        ("rare: approval+partner", {"status": "awaiting_approval", "type": "partner_dispute"}),
        ("deep cursor, all shops", deep()),
        ("deep cursor, one shop", deep(shop_id=shop)),
        ("deep cursor, status+type", deep(shop_id=shop, status="closed", type="exchange")),
        ("deep cursor, priority", deep(shop_id=shop, priority=1)),
    ]
    walks = [
        ("walk, one shop", {"shop_id": shop}),
        ("walk, status+type", {"status": "succeeded", "type": "refund_only"}),
    ]
    return pages, walks


def measure(client, params, repeat: int) -> tuple[list[float], int, list]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings, items = [], 0
    for i in range(repeat + 3):  # three untimed warm-up requests
        args = params() if callable(params) else params
        started = time.perf_counter()
        response = client.get("/api/v1/cases", args)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.content[:300]
        if i >= 3:
            timings.append(elapsed)
            items = len(response.json()["items"])
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/v1/cases", params() if callable(params) else params)
    return timings, items, queries.captured_queries


def walk(client, params, pages: int) -> list[float]:
    """Follow next_cursor from the first page, timing every page."""
    timings, cursor = [], None
    for _ in range(pages):
        started = time.perf_counter()
        response = client.get("/api/v1/cases", {**params, **({"cursor": cursor} if cursor else {})})
        timings.append(time.perf_counter() - started)
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    return timings


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return "\n".join("      " + " ".join(str(c) for c in row) for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-n", "--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50, help="timed requests per scenario")
    parser.add_argument("--pages", type=int, default=200, help="pages to walk by next_cursor")
    parser.add_argument("--explain", action="store_true", help="print each list query's plan")
    parser.add_argument("--data-dir", help="SQLite: directory for the database (default: temp)")
    parser.add_argument("--quiet-wait", type=float, default=0, help="seconds to wait for idle")
    parser.add_argument("--reuse", action="store_true", help="keep and reuse a seeded database")
    args = parser.parse_args()

    where = database_prepare("list", reuse=args.reuse, data_dir=args.data_dir)
    from django.test import Client

    from aftersales.accounts.services import token_create, user_ensure
    from aftersales.cases.models import Case

    if not Case.objects.exists():
        print(f"{where}: seeding {args.cases} cases")
        started = time.perf_counter()
        seed(args.cases)
        print(f"  seeded in {time.perf_counter() - started:.1f} s")
    print(f"{where}: {Case.objects.count()} cases")
    user = user_ensure(username="bench-list", role="manager")  # member of every shop
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user, name='bench')}")

    print(f"GET /api/v1/cases (limit 50) via django.test.Client, {args.repeat} timed requests each")
    pages, walks = scenarios(random.Random(42))
    quiet_wait(args.quiet_wait)
    worst = 0.0
    for name, params in pages:
        timings, items, queries = measure(client, params, args.repeat)
        figures = percentiles(timings)
        worst = max(worst, figures["p95"])
        print(f"  {name:<26} {format_ms(figures)}  ({items} rows, {len(queries)} queries)")
        if args.explain:
            sql = next(q["sql"] for q in queries if ' FROM "cases_case"' in q["sql"])
            print(f"    SELECT … {sql[sql.index(' FROM ') :]}\n{explain(sql)}")
    for name, params in walks:
        timings = walk(client, params, args.pages)
        figures = percentiles(timings)
        worst = max(worst, figures["p95"])
        print(f"  {name + f' ({len(timings)} pages)':<26} {format_ms(figures)}")
    print(f"worst p95: {worst:.1f} ms (goal: ≤ 50 ms)")


if __name__ == "__main__":
    main()
