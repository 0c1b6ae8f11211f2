"""Timer sweep benchmark: 100,000 due timers fired by one sweeper, then by N sweepers at once.

Seeds (untimed, with INSERT … SELECT like bench.list) one shop with a jd channel, 9 staff
(6 agents, 2 team leads, a manager), and `--cases` open cases (default: as many as
`--timers`), each with a customer, a signed order with one line, one case line, its
`created` event and the six timers a case awaiting the merchant has: first_response and
resolution with their warnings, merchant_answer and escalation rung 1. Every case is at
one point of its life, so exactly one of its timers is due at the sweep moment (the rest
already fired, were met, or are due later):

    warn_fr     first-response warning due             -> sla_warning event
    breach_fr   first response missed                  -> sla_breached + escalate (routing)
    warn_res    resolution warning due (urgent case)   -> sla_warning event
    breach_res  resolution missed (urgent case)        -> sla_breached event
    escalation  rung 1 due (answered, not decided)     -> escalate (routing)
    heavy       merchant_answer due (47 h, level 1)    -> deadline + policy decision + act

`--heavy` (1,000) cases are heavy; the other due timers follow MIX. Due times spread over
the 10 minutes before the sweep moment, so the kinds interleave in the sweep order.

Each run sweeps a fresh copy of the seeded database (PostgreSQL: CREATE DATABASE …
TEMPLATE; SQLite: a file copy): first one sweeper, then `--processes` sweepers started
together (forked processes, each with its own connection); each calls
`timers_sweep_report(now=…, batch=…)`. `--first K` stops a sweep after K timers; `--profile
K` then runs K timers in-process under cProfile, with SQL statements counted per kind.
Time per timer kind is taken around `firing._fire`. Afterwards SQL checks that every due
timer fired or was cancelled once, that nothing due is left pending, and that the timeline
holds exactly the events the fired timers write, none twice.

    .venv/bin/python -m bench.timers --timers 10000              # SQLite
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/aftersales_bench_timers \\
        .venv/bin/python -m bench.timers --profile 2000
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import shutil
import time
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from bench.common import database_prepare, quiet_wait
from bench.intake import cpu_seconds
from bench.list import Dialect, by_key, insert_select, literal, pick

M, H, D = 60, 3600, 86400
JITTER = 600  # due times spread over the 10 minutes before the sweep moment
HEAVY = "heavy"
# Share of the non-heavy due timers.
MIX = [("warn_fr", 30), ("breach_fr", 15), ("warn_res", 20), ("breach_res", 15), ("escalation", 20)]
IDLE = "idle"  # extra cases (--cases > --timers): nothing due yet
SCENARIOS = [HEAVY, *(name for name, _ in MIX), IDLE]

# The timers of a case, as (kind, subject, business, budget seconds).
TIMERS = [
    ("warning", "first_response", True, 48 * M),
    ("first_response", "", True, 60 * M),
    ("warning", "resolution", True, 32 * H),
    ("resolution", "", True, 40 * H),
    ("merchant_answer", "", False, 48 * H),
    ("escalation", "1", False, None),
]
# Per scenario: priority, escalation level, the due timer's offset from filing (seconds),
# and each timer's (state, seconds after filing it is or was due).
NORMAL = {
    ("warning", "first_response"): ("pending", 48 * M),
    ("first_response", ""): ("pending", 60 * M),
    ("warning", "resolution"): ("pending", 2 * D),
    ("resolution", ""): ("pending", 5 * D),
    ("merchant_answer", ""): ("pending", 47 * H),
    ("escalation", "1"): ("pending", 24 * H),
}
ANSWERED = {
    **NORMAL,
    ("warning", "first_response"): ("cancelled", 48 * M),
    ("first_response", ""): ("met", 60 * M),
}
URGENT = {
    **ANSWERED,
    ("warning", "resolution"): ("pending", 23040),
    ("resolution", ""): ("pending", 8 * H),
}
STORIES = {
    "warn_fr": (3, 0, 48 * M, NORMAL),
    "breach_fr": (3, 0, 60 * M, {**NORMAL, ("warning", "first_response"): ("fired", 48 * M)}),
    "warn_res": (1, 0, 23040, URGENT),
    "breach_res": (1, 0, 8 * H, {**URGENT, ("warning", "resolution"): ("fired", 23040)}),
    "escalation": (3, 0, 24 * H, ANSWERED),
    HEAVY: (3, 1, 47 * H, {**ANSWERED, ("escalation", "1"): ("fired", 24 * H)}),
    IDLE: (3, 0, 20 * M, NORMAL),  # filed 20 minutes ago: its first timer is 28 min away
}
# Timeline events a fired timer of each kind writes itself (the heavy one also writes the
# action its decision takes, and routing may add an `assign`: counted, not predicted).
OWN_EVENTS = {
    "warning": {"sla_warning": 1},
    "first_response": {"sla_breached": 1, "escalate": 1},  # level 0 -> team lead
    "resolution": {"sla_breached": 1},
    "escalation": {"escalate": 1},
    "merchant_answer": {"deadline": 1, "decision": 1},
}
KIND_OF_EVENT = {
    "warning": "sla_warning",
    "first_response": "sla_breached",
    "resolution": "sla_breached",
    "escalation": "escalate",
    "merchant_answer": "deadline",
}
PRODUCTS = [("9.90", 2), ("39.00", 3), ("89.00", 3), ("199.00", 2), ("599.00", 1)]
TYPES = [("return_refund", 45), ("refund_only", 35), ("exchange", 10), ("reissue", 10)]
REASONS = [("quality_defect", 40), ("no_reason", 30), ("not_as_described", 15), ("wrong_item", 15)]


# ----------------------------------------------------------------------------- machine


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
    mem = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            db = f"PostgreSQL {cursor.fetchone()[0]}"
    else:
        import sqlite3

        db = f"SQLite {sqlite3.sqlite_version}"
    import django
    import psycopg

    return (
        f"nproc {os.cpu_count()}, CPU {model}, RAM {int(mem) / 2**20:.1f} GiB; "
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"psycopg {psycopg.__version__}, {db}"
    )


# ----------------------------------------------------------------------------- seed


def counts(timers: int, heavy: int) -> dict[str, int]:
    """Cases per scenario: `heavy`, then MIX over the rest (the remainder to the first)."""
    light = timers - heavy
    total = sum(w for _, w in MIX)
    out = {HEAVY: heavy} | {name: light * w // total for name, w in MIX}
    out[MIX[0][0]] += light - sum(out[name] for name, _ in MIX)
    return out


def _per_scenario(value) -> str:
    """CASE over the scenario index `scen`: value(story) for each scenario."""
    return by_key("scen", {i: value(STORIES[n]) for i, n in enumerate(SCENARIOS)}) + " END"


def seed(timers: int, heavy: int, cases: int, now: datetime) -> dict[str, int]:
    from django.db import connection, transaction
    from django.db.models import Max, Min

    from aftersales.accounts.services import user_ensure
    from aftersales.cases.models import Case, CaseEvent, CaseLine
    from aftersales.catalog.services import ProductData, product_upsert
    from aftersales.channels.models import Channel, Customer, Order, OrderLine
    from aftersales.channels.services import shop_create
    from aftersales.sla.models import Timer

    shop = shop_create(code="bench-timers", name="计时旗舰店")
    channel = Channel.objects.create(shop=shop, kind="jd", code="jd", name="京东")  # 48 h clock
    agents = [user_ensure(username=f"agent{i}", role="agent", shops=[shop]).pk for i in range(6)]
    for i in range(2):
        user_ensure(username=f"lead{i}", role="team_lead", shops=[shop])
    user_ensure(username="manager0", role="manager", shops=[shop])
    products = []
    for i, (price, weight) in enumerate(PRODUCTS):
        product, _ = product_upsert(
            actor=None,
            shop=shop,
            data=ProductData(sku=f"SKU{i:03d}", name=f"蓝牙耳机 {i}", price=Decimal(price)),
        )
        products.append((product.pk, product.sku, Decimal(price), weight))

    per = counts(timers, heavy) | {IDLE: cases - timers}
    whens, upto = [], 0
    for i, name in enumerate(SCENARIOS[:-1]):
        upto += per[name]
        whens.append(f"WHEN x <= {upto} THEN {i}")
    scen = f"CASE {' '.join(whens)} ELSE {len(SCENARIOS) - 1} END"

    sql = Dialect(connection.vendor, cases)
    at = sql.timestamp(now)
    jitter = f"(1 + x * 7919 % 1000003 % {JITTER})"
    # Filed so that the scenario's due timer came due `jitter` seconds before the sweep.
    created = sql.plus_seconds(at, f"-({_per_scenario(lambda v: str(v[2]))}) - {jitter}")
    placed = sql.plus_seconds(at, str(-10 * D))
    rows = f"FROM (SELECT x, {scen} AS scen FROM {sql.series}) s ORDER BY s.x"
    plain = f"FROM {sql.series} ORDER BY x"
    by_product = "(x % 11 * 91)"  # 0..910: a weighted product per row

    def product(column: int) -> str:
        return pick(by_product, [(p[column], p[3]) for p in products])

    bases = {
        model: model.objects.aggregate(m=Max("pk"))["m"] or 0
        for model in (Customer, Order, OrderLine, Case)
    }
    statements = [
        insert_select(
            Customer,
            {
                "shop_id": str(shop.pk),
                "name": "'顾客' || x",
                "phone": "'139' || x",
                "created_at": placed,
            },
            plain,
            sql.prefix,
        ),
        insert_select(
            Order,
            {
                "shop_id": str(shop.pk),
                "channel_id": str(channel.pk),
                "external_id": "'JD' || x",
                "customer_id": f"{bases[Customer]} + x",
                "status": "'signed'",
                "total_paid": product(2),
                "placed_at": placed,
                "paid_at": placed,
                "shipped_at": sql.plus_seconds(at, str(-9 * D)),
                "signed_at": sql.plus_seconds(at, str(-7 * D)),
                "created_at": placed,
                "updated_at": placed,
            },
            plain,
            sql.prefix,
        ),
        insert_select(
            OrderLine,
            {
                "shop_id": str(shop.pk),
                "order_id": f"{bases[Order]} + x",
                "product_id": product(0),
                "sku": product(1),
                "title": "'蓝牙耳机'",
                "quantity": "1",
                "unit_price": product(2),
                "paid_amount": product(2),
            },
            plain,
            sql.prefix,
        ),
        insert_select(
            Case,
            {
                "shop_id": str(shop.pk),
                "type": pick("(x * 104729 % 1000003 % 1000)", TYPES),
                "status": "'awaiting_merchant'",
                "reason": pick("(x * 1299709 % 1000003 % 1000)", REASONS),
                "priority": _per_scenario(lambda v: str(v[0])),
                "order_id": f"{bases[Order]} + x",
                "channel_id": str(channel.pk),
                "customer_id": f"{bases[Customer]} + x",
                "customer_words": "'收到的商品有问题，请尽快处理'",
                "emotion": "'calm'",
                "assignee_id": "CASE x % 6 "
                + " ".join(f"WHEN {i} THEN {pk}" for i, pk in enumerate(agents))
                + " END",
                "escalation_level": _per_scenario(lambda v: str(v[1])),
                "created_at": created,
                "updated_at": created,
            },
            rows,
            sql.prefix,
        ),
        insert_select(
            CaseLine,
            {
                "shop_id": str(shop.pk),
                "case_id": f"{bases[Case]} + x",
                "order_line_id": f"{bases[OrderLine]} + x",
                "quantity": "1",
            },
            plain,
            sql.prefix,
        ),
        insert_select(
            CaseEvent,
            {
                "shop_id": str(shop.pk),
                "case_id": f"{bases[Case]} + x",
                "kind": "'created'",
                "actor_label": "'system'",
                "to_status": "'awaiting_merchant'",
                "data": literal({"lines": []}),
                "created_at": created,
            },
            rows,
            sql.prefix,
        ),
    ]
    for kind, subject, business, budget in TIMERS:
        state = _per_scenario(lambda v, k=(kind, subject): literal(v[3][k][0]))
        due = sql.plus_seconds(created, _per_scenario(lambda v, k=(kind, subject): str(v[3][k][1])))
        statements.append(
            insert_select(
                Timer,
                {
                    "shop_id": str(shop.pk),
                    "case_id": f"{bases[Case]} + x",
                    "kind": literal(kind),
                    "subject": literal(subject),
                    "due_at": due,
                    "state": state,
                    "business": literal(business),
                    "budget_seconds": literal(budget),
                    "fired_at": f"CASE WHEN {state} IN ('fired', 'met') THEN {due} END",
                    "reason": f"CASE {state} WHEN 'fired' THEN 'Fired on an earlier sweep.' "
                    "WHEN 'pending' THEN '' ELSE 'Answered by agent0.' END",
                    "created_at": created,
                },
                rows,
                sql.prefix,
            )
        )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    for model, first in bases.items():  # x -> first + x must hold for every table
        span = model.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
        assert (span["lo"], span["hi"]) == (first + 1, first + cases), (model, span, first)
    print(
        f"  {cases:,} cases, orders, lines, events and 6 timers each: "
        f"{time.perf_counter() - started:.1f} s"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_meta (now_iso VARCHAR(40), timers INTEGER, heavy INTEGER, "
            "cases INTEGER, last_event INTEGER, last_timer INTEGER)"
        )
        cursor.execute(
            "INSERT INTO bench_meta SELECT %s, %s, %s, %s, "
            f"(SELECT MAX(id) FROM {CaseEvent._meta.db_table}), "
            f"(SELECT MAX(id) FROM {Timer._meta.db_table})",
            [now.isoformat(), timers, heavy, cases],
        )
        # The due set, to check every one of them afterwards.
        cursor.execute(
            f"CREATE TABLE bench_due AS SELECT id, case_id, kind FROM {Timer._meta.db_table} "
            "WHERE state = 'pending' AND due_at <= %s",
            [connection.ops.adapt_datetimefield_value(now)],
        )
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return per


def meta() -> dict | None:
    from django.db import connection

    if "bench_meta" not in connection.introspection.table_names():
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT now_iso, timers, heavy, cases, last_event, last_timer FROM bench_meta"
        )
        row = cursor.fetchone()
    keys = ("now", "timers", "heavy", "cases", "last_event", "last_timer")
    out = dict(zip(keys, row, strict=True))
    out["now"] = datetime.fromisoformat(out["now"])
    return out


# ----------------------------------------------------------------------------- copies


def copy_fresh(template: dict, suffix: str = "_run") -> None:
    """Point the default connection at a fresh copy of the seeded database."""
    from django.db import connection, connections

    connections.close_all()
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        import psycopg
        from psycopg import sql

        target = template["NAME"] + suffix
        dsn = (
            f"host={settings['HOST'] or '127.0.0.1'} port={settings['PORT'] or 5432} "
            f"user={settings['USER']} dbname=postgres"
        )
        with psycopg.connect(dsn, password=settings.get("PASSWORD") or None, autocommit=True) as c:
            c.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target))
            )
            c.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(target), sql.Identifier(template["NAME"])
                )
            )
        settings["NAME"] = target
    else:
        import sqlite3

        source = Path(template["NAME"])
        with sqlite3.connect(source) as c:
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        target = source.with_name(source.stem + suffix + source.suffix)
        for extra in ("-wal", "-shm"):
            Path(str(target) + extra).unlink(missing_ok=True)
        shutil.copyfile(source, target)
        settings["NAME"] = target


# ----------------------------------------------------------------------------- sweep


def instrument() -> dict:
    """Time `firing._fire` per (timer kind, result) and `firing._claim`, in this process."""
    from aftersales.sla import firing

    stats: dict = defaultdict(lambda: [0, 0.0])
    fire, claim = firing._fire, firing._claim

    def timed_fire(timer, now):
        started = time.perf_counter()
        result = fire(timer, now)
        entry = stats[(timer.kind, result)]
        entry[0] += 1
        entry[1] += time.perf_counter() - started
        return result

    def timed_claim(now, batch, after):
        started = time.perf_counter()
        rows = claim(now, batch, after)
        entry = stats[("(claim a batch)", "")]
        entry[0] += 1
        entry[1] += time.perf_counter() - started
        return rows

    firing._fire, firing._claim = timed_fire, timed_claim
    return stats


def claim_limited(claim, limit: int):
    """Wrap `firing._claim(now, batch, after)` so that claims stop after `limit` timers."""
    claimed = [0]

    def limited(now, size, after):
        size = min(size, limit - claimed[0])
        if size <= 0:
            return None, []  # nothing more: the sweep ends
        last, timers = claim(now, size, after)
        claimed[0] += len(timers)
        return last, timers

    return limited


def backend_pid() -> int | None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def sweeper(number: int, now: datetime, batch: int, limit: int, barrier, results) -> None:
    """One sweeper process: its own connection, then timers_sweep_report until nothing is due
    (or, with `limit`, until this process has claimed that many)."""
    from aftersales.sla import firing
    from aftersales.sla.firing import timers_sweep_report

    stats = instrument()
    if limit:
        firing._claim = claim_limited(firing._claim, limit)
    pid = backend_pid()
    if pid is None:
        from django.db import connection

        connection.ensure_connection()
    barrier.wait()
    cpu0, db0, started = time.process_time(), cpu_seconds(pid) if pid else 0.0, time.perf_counter()
    error = ""
    try:
        report = timers_sweep_report(now=now, batch=batch)
    except Exception as exc:  # e.g. SQLite "database is locked": report it, don't hang
        report, error = firing.SweepReport(), f"{type(exc).__name__}: {exc}"
    ended = time.perf_counter()
    results.put(
        {
            "number": number,
            "fired": report.fired,
            "cancelled": report.cancelled,
            "started": started,
            "ended": ended,
            "cpu": time.process_time() - cpu0,
            "db_cpu": (cpu_seconds(pid) - db0) if pid else 0.0,
            "stats": dict(stats),
            "error": error,
        }
    )


def sweep(processes: int, now: datetime, batch: int, limit: int = 0) -> dict:
    """Fork `processes` sweepers (fresh connections), start them together, gather results."""
    from django.db import connections

    connections.close_all()  # a forked child must not share the parent's socket
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(processes + 1)
    results = context.Queue()
    children = [
        context.Process(
            target=sweeper, args=(i, now, batch, -(-limit // processes), barrier, results)
        )
        for i in range(processes)
    ]
    for child in children:
        child.start()
    barrier.wait()
    started = time.perf_counter()
    outs = [results.get() for _ in children]
    for child in children:
        child.join()
        if child.exitcode:
            raise SystemExit(f"sweeper exited with {child.exitcode}")
    wall = max(o["ended"] for o in outs) - started
    stats: dict = defaultdict(lambda: [0, 0.0])
    for out in outs:
        for key, (n, seconds) in out["stats"].items():
            stats[key][0] += n
            stats[key][1] += seconds
    return {"wall": wall, "outs": outs, "stats": stats}


# ----------------------------------------------------------------------------- verify


def verify(info: dict, partial: bool = False) -> list[str]:
    """SQL checks on the swept copy; returns the problems (empty: all good). `partial`: the
    sweep stopped early, so only the due timers it handled are checked."""
    from django.db import connection

    from aftersales.cases.models import Case, CaseEvent
    from aftersales.sla.models import Timer

    timer, event, case = Timer._meta.db_table, CaseEvent._meta.db_table, Case._meta.db_table
    now = connection.ops.adapt_datetimefield_value(info["now"])  # as the ORM stores it
    last_event, last_timer = info["last_event"], info["last_timer"]
    problems = []
    with connection.cursor() as cursor:

        def one(query: str, params=()) -> int:
            cursor.execute(query, params)
            return cursor.fetchone()[0]

        left = one(f"SELECT COUNT(*) FROM {timer} WHERE state = 'pending' AND due_at <= %s", [now])
        if left and not partial:
            problems.append(f"{left} due timers still pending")
        cursor.execute(
            f"SELECT t.kind, t.state, COUNT(*), SUM(CASE WHEN t.fired_at = %s THEN 1 ELSE 0 END) "
            f"FROM bench_due d JOIN {timer} t ON t.id = d.id GROUP BY t.kind, t.state "
            "ORDER BY t.kind, t.state",
            [now],
        )
        outcome = cursor.fetchall()
        fired = defaultdict(int)
        for kind, state, n, at_now in outcome:
            if state not in ("fired", "cancelled") and not (partial and state == "pending"):
                problems.append(f"{n} due {kind} timers ended {state}")
            if state == "fired":
                fired[kind] += n
                if at_now != n:
                    problems.append(f"{n - at_now} fired {kind} timers have another fired_at")
        due = one("SELECT COUNT(*) FROM bench_due")
        cursor.execute(
            f"SELECT kind, COUNT(*) FROM {event} WHERE id > %s GROUP BY kind ORDER BY kind",
            [last_event],
        )
        written = dict(cursor.fetchall())
        expected: dict[str, int] = defaultdict(int)
        for kind, n in fired.items():
            for event_kind, each in OWN_EVENTS[kind].items():
                expected[event_kind] += n * each
        for event_kind, n in expected.items():
            if written.get(event_kind, 0) != n:
                problems.append(f"{written.get(event_kind, 0)} {event_kind} events, expected {n}")
        # Each due timer: exactly one event of its own kind on its case if fired, none if not.
        mapping = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in KIND_OF_EVENT.items())
        wrong = one(
            f"SELECT COUNT(*) FROM bench_due d JOIN {timer} t ON t.id = d.id "
            f"LEFT JOIN (SELECT case_id, kind, COUNT(*) AS n FROM {event} WHERE id > %s "
            "GROUP BY case_id, kind) e "
            f"ON e.case_id = d.case_id AND e.kind = CASE d.kind {mapping} END "
            "WHERE t.state <> 'pending' "
            "AND COALESCE(e.n, 0) <> CASE t.state WHEN 'fired' THEN 1 ELSE 0 END",
            [last_event],
        )
        if wrong:
            problems.append(f"{wrong} due timers without exactly one event of their own")
        twice = one(
            f"SELECT COUNT(*) FROM (SELECT case_id, kind FROM {event} WHERE id > %s "
            "AND kind IN ('sla_warning', 'sla_breached', 'escalate', 'deadline', 'decision') "
            "GROUP BY case_id, kind HAVING COUNT(*) > 1) x",
            [last_event],
        )
        if twice:
            problems.append(f"{twice} cases with the same timer event twice")
        stuck = one(
            f"SELECT COUNT(*) FROM bench_due d JOIN {timer} t ON t.id = d.id "
            f"JOIN {case} c ON c.id = d.case_id WHERE d.kind = 'merchant_answer' "
            "AND t.state = 'fired' AND c.status = 'awaiting_merchant'"
        )
        if stuck:
            problems.append(f"{stuck} answered-by-deadline cases still await the merchant")
        new_timers = one(f"SELECT COUNT(*) FROM {timer} WHERE id > %s", [last_timer])
        cursor.execute(
            f"SELECT status, COUNT(*) FROM {case} c JOIN bench_due d ON d.case_id = c.id "
            "WHERE d.kind = 'merchant_answer' GROUP BY status ORDER BY 2 DESC"
        )
        heavy_status = cursor.fetchall()
    total_fired = sum(fired.values())
    cancelled = sum(n for _k, state, n, _a in outcome if state == "cancelled")
    print(
        f"  check: {due:,} due timers -> {total_fired:,} fired, {cancelled:,} cancelled, "
        f"{due - total_fired - cancelled:,} left pending; "
        f"{sum(written.values()):,} timeline events written, {new_timers:,} timers started"
    )
    print("  check: outcome by kind: " + ", ".join(f"{k} {s} {n:,}" for k, s, n, _ in outcome))
    print("  check: events by kind: " + ", ".join(f"{k} {n:,}" for k, n in written.items()))
    if heavy_status:
        print(
            "  check: merchant_answer cases now: " + ", ".join(f"{s} {n}" for s, n in heavy_status)
        )
    print(
        "  check: "
        + (
            "OK, every due timer fired or was cancelled exactly once"
            if not problems
            else "PROBLEMS: " + "; ".join(problems)
        )
    )
    return problems


# ----------------------------------------------------------------------------- report


def report(label: str, processes: int, result: dict) -> None:
    wall, stats, outs = result["wall"], result["stats"], result["outs"]
    done = sum(o["fired"] + o["cancelled"] for o in outs)
    cpu = sum(o["cpu"] for o in outs)
    db_cpu = sum(o["db_cpu"] for o in outs)
    print(
        f"{label}: {processes} sweeper process(es): {done:,} timers in {wall:.1f} s "
        f"= {done / wall:,.0f} timers/s "
        f"({sum(o['fired'] for o in outs):,} fired, {sum(o['cancelled'] for o in outs):,} "
        "cancelled)"
    )
    share = ", ".join(
        f"#{o['number']} {o['fired'] + o['cancelled']:,} in {o['ended'] - o['started']:.1f} s"
        for o in sorted(outs, key=lambda o: o["number"])
    )
    print(f"  per process: {share}")
    for out in outs:
        if out["error"]:
            print(
                f"  sweeper #{out['number']} FAILED after {out['ended'] - out['started']:.1f} s: "
                f"{out['error']} (its uncommitted batch rolled back)"
            )
    print(
        f"  CPU: sweepers {cpu:.1f} s ({1000 * cpu / max(done, 1):.2f} ms/timer)"
        + (
            f", PostgreSQL backends {db_cpu:.1f} s ({1000 * db_cpu / max(done, 1):.2f} ms/timer)"
            if db_cpu
            else ""
        )
    )
    print(f"  {'kind':<18}{'result':<11}{'timers':>9}{'seconds':>10}{'ms/timer':>10}")
    heavy_s = 0.0
    for (kind, res), (n, seconds) in sorted(stats.items()):
        print(f"  {kind:<18}{res:<11}{n:>9,}{seconds:>10.1f}{1000 * seconds / n:>10.2f}")
        if kind == "merchant_answer":
            heavy_s += seconds
    light = done - sum(n for (k, _r), (n, _s) in stats.items() if k == "merchant_answer")
    if heavy_s:
        rest = wall - heavy_s / processes
        print(
            f"  without the merchant_answer timers (their {heavy_s:.1f} s spread over "
            f"{processes} process(es)): {light:,} timers in ≈{rest:.1f} s = "
            f"{light / rest:,.0f} timers/s"
        )


def profile(info: dict, batch: int, limit: int) -> None:
    """The first `limit` due timers in this process under cProfile, with statements per kind."""
    import cProfile
    import pstats

    from django.db import connection

    from aftersales.sla import firing

    fire, claim = firing._fire, firing._claim
    limited = claim_limited(claim, limit)
    queries: dict = defaultdict(lambda: [0, 0])
    current = ["claim"]

    def counted(timer, now):
        current[0] = timer.kind
        queries[timer.kind][1] += 1
        try:
            return fire(timer, now)
        finally:
            current[0] = "claim / commit"

    def wrapper(execute, sql, params, many, context):
        queries[current[0]][0] += 1
        return execute(sql, params, many, context)

    firing._claim, firing._fire = limited, counted
    profiler = cProfile.Profile()
    with connection.execute_wrapper(wrapper):
        profiler.enable()
        started = time.perf_counter()
        out = firing.timers_sweep_report(now=info["now"], batch=batch)
        elapsed = time.perf_counter() - started
        profiler.disable()
    firing._claim, firing._fire = claim, fire
    n = out.fired + out.cancelled
    print(f"cProfile: {n:,} timers in {elapsed:.1f} s under the profiler")
    print(
        "  SQL statements per timer, by kind: "
        + ", ".join(f"{k} {q / max(t, 1):.1f}" for k, (q, t) in sorted(queries.items()) if t)
        + f"; claim and commit {queries['claim / commit'][0] + queries['claim'][0]} in all"
    )
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(25)


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--timers", type=int, default=100_000, help="due timers (one per case)")
    parser.add_argument("--heavy", type=int, default=1_000, help="of them merchant_answer")
    parser.add_argument("--cases", type=int, default=0, help="open cases (default: --timers)")
    parser.add_argument("--batch", type=int, default=200, help="timers per transaction")
    parser.add_argument("--processes", type=int, default=2, help="concurrent sweepers")
    parser.add_argument(
        "--single",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time one sweeper alone (default: yes)",
    )
    parser.add_argument(
        "--first", type=int, default=0, metavar="K", help="stop each sweep after K timers"
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="K",
        help="then K timers under cProfile in-process",
    )
    parser.add_argument("--data-dir", help="SQLite: directory for the database (default: temp)")
    parser.add_argument("--quiet-wait", type=float, default=0, help="seconds to wait for idle")
    parser.add_argument("--reuse", action="store_true", help="keep and reuse a seeded database")
    args = parser.parse_args()
    cases = max(args.cases, args.timers)
    if not 0 <= args.heavy <= args.timers:
        raise SystemExit("--heavy must be between 0 and --timers")

    where = database_prepare("timers", reuse=args.reuse, data_dir=args.data_dir)
    from django.db import connection
    from django.utils import timezone

    print(f"machine: {machine()}")
    info = meta()
    if info is None:
        now = timezone.now().replace(microsecond=0)
        print(
            f"{where}: seeding {cases:,} open cases, {args.timers:,} timers due at {now:%H:%M:%S}"
        )
        started = time.perf_counter()
        per = seed(args.timers, args.heavy, cases, now)
        print(
            f"  seeded in {time.perf_counter() - started:.1f} s: "
            + ", ".join(f"{k} {v:,}" for k, v in per.items())
        )
        info = meta()
    else:
        print(
            f"{where}: reusing {info['cases']:,} cases, {info['timers']:,} due timers "
            f"({info['heavy']:,} merchant_answer), sweep moment {info['now']:%Y-%m-%d %H:%M:%S}"
        )
    template = dict(connection.settings_dict)

    runs = ([1] if args.single else []) + ([args.processes] if args.processes > 1 else [])
    failed = False
    for processes in runs:
        copy_fresh(template)
        quiet_wait(args.quiet_wait)
        result = sweep(processes, info["now"], args.batch, args.first)
        label = f"sweep, batch {args.batch}" + (f", first {args.first:,}" if args.first else "")
        report(label, processes, result)
        failed |= bool(verify(info, partial=bool(args.first)))
    if args.profile:
        copy_fresh(template)
        profile(info, args.batch, args.profile)
    connection.close()
    connection.settings_dict["NAME"] = template["NAME"]
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
