"""Decision benchmark: time per case with the default policy (DESIGN §5), two ways.

1. `policy_decide` in-process on realistic facts (every fact the registry knows, drawn
   from a fixed mix of case types, reasons, order states, amounts and risk levels).
2. `case_decide` end to end on real cases: gather the facts from the database, decide,
   record the PolicyDecision, the case's decision and its timeline event, and apply it
   through the case services (approve, reject, ask for evidence …) — each in its own
   transaction, as a filed case is decided. `case_facts` alone is timed as well.

    .venv/bin/python -m bench.decide                       # SQLite
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/aftersales_bench_policy \\
        .venv/bin/python -m bench.decide --profile 200     # PostgreSQL, then a cProfile
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bench.common import database_prepare, quiet_wait

# ----------------------------------------------------------------------------- realistic facts

CASE_TYPES = [
    ("return_refund", 34),
    ("refund_only", 30),
    ("exchange", 10),
    ("repair", 6),
    ("reissue", 8),
    ("complaint", 10),
    ("partner_dispute", 2),
]
REASONS = {
    "return_refund": [
        ("no_reason", 40),
        ("quality_defect", 25),
        ("not_as_described", 15),
        ("wrong_item", 10),
        ("damaged_in_transit", 10),
    ],
    "refund_only": [
        ("no_reason", 15),
        ("other", 15),
        ("not_delivered", 20),
        ("quality_defect", 20),
        ("lost_in_transit", 10),
        ("late_shipment", 10),
        ("funds_not_received", 10),
    ],
    "exchange": [("no_reason", 40), ("wrong_item", 30), ("quality_defect", 30)],
    "repair": [("quality_defect", 100)],
    "reissue": [("missing_item", 60), ("lost_in_transit", 20), ("damaged_in_transit", 20)],
    "complaint": [("service_attitude", 40), ("late_shipment", 30), ("policy_question", 30)],
    "partner_dispute": [("other", 100)],
}
QUALITY = {"quality_defect", "damaged_in_transit", "wrong_item", "not_as_described", "missing_item"}
PRICES = ["9.90", "19.90", "39.00", "89.00", "129.00", "199.00", "299.00", "599.00", "1299.00"]
CHANNEL_KINDS = ["taobao", "tmall", "jd", "pdd", "wechat", "douyin", "weidian", "web", "store"]


def _weighted(rng: random.Random, choices: list[tuple[str, int]]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def facts_sample(rng: random.Random) -> dict[str, Any]:
    """One case's facts at filing time, shaped exactly as `case_facts` stores them."""
    case_type = _weighted(rng, CASE_TYPES)
    reason = _weighted(rng, REASONS[case_type])
    has_order = case_type not in ("complaint", "partner_dispute") or rng.random() < 0.5
    if not has_order:
        status = None
    elif case_type == "refund_only":
        status = _weighted(rng, [("paid", 35), ("shipped", 25), ("signed", 40)])
    else:
        status = _weighted(rng, [("shipped", 10), ("signed", 90)])
    days_signed = None
    if status == "signed":
        # No-reason returns come mostly inside their 7 days; repairs over the whole warranty.
        longest = 400 if case_type == "repair" else 9 if reason == "no_reason" else 40
        days_signed = round(rng.uniform(0, longest), 3)
    shipped_hours = None if status in (None, "paid") else round(rng.uniform(6, 900), 2)
    quiet = round(rng.uniform(0, 120), 2) if status == "shipped" else None
    category_ok = rng.random() < 0.92
    amount = Decimal(rng.choice(PRICES)) * rng.choice([1, 1, 1, 2, 3])
    evidence = _weighted(rng, [("", 60), ("photo", 30), ("photo outer_package damaged_part", 10)])
    return {
        "type": case_type,
        "reason": reason,
        "quality_reason": reason in QUALITY,
        "order_status": status,
        "hours_since_payment": None if status is None else round(rng.uniform(2, 1000), 2),
        "hours_since_shipment": shipped_hours,
        "days_since_signature": days_signed,
        "courier_moving": None if quiet is None else quiet < 72,
        "hours_without_courier_movement": quiet,
        "no_reason_eligible": category_ok,
        "perishable": not category_ok and rng.random() < 0.4,
        "custom_made": not category_ok and rng.random() < 0.3,
        "digital": rng.random() < 0.03,
        "in_warranty": days_signed is None or days_signed < 365,
        "refund_amount": str(amount) if has_order else "0.00",
        "return_shipping_cost": "12.00",
        "customer_risk_level": _weighted(
            rng, [("low", 85), ("medium", 10), ("high", 4), ("blocked", 1)]
        ),
        "channel_kind": rng.choice(CHANNEL_KINDS),
        "evidence_kinds": sorted(evidence.split()),
        "shipping_insurance": rng.random() < 0.3,
        "warehouse_disproves": (
            rng.random() < 0.1 if reason in ("lost_in_transit", "missing_item") else None
        ),
        "return_scanned": False,
    }


def micro(values: list[float]) -> str:
    """median / p95 / p99 / max of seconds, in microseconds."""
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return (
        f"median {statistics.median(values) * 1e6:8.1f} µs  p95 {cuts[94] * 1e6:8.1f} µs  "
        f"p99 {cuts[98] * 1e6:8.1f} µs  max {max(values) * 1e6:8.1f} µs"
    )


# ----------------------------------------------------------------------------- in-process


def bench_engine(count: int, seed: int) -> None:
    from aftersales.policies.engine import policy_decide
    from aftersales.policies.registry import FACTS
    from aftersales.policies.services import default_policy

    rng = random.Random(seed)
    samples = [facts_sample(rng) for _ in range(count)]
    assert set(samples[0]) == set(FACTS), "the sample must carry every registered fact"
    policy = default_policy()
    for facts in samples[:1000]:  # warm up
        policy_decide(policy, facts)
    timings, actions, rules = [], Counter(), Counter()
    clock = time.perf_counter
    for facts in samples:
        start = clock()
        decision = policy_decide(policy, facts)
        timings.append(clock() - start)
        actions[decision.action] += 1
        rules[decision.rule] += 1
    print(f"policy_decide, default policy ({len(policy.rules)} rules), {count:,} fact sets:")
    print(f"  {micro(timings)}")
    print(f"  {count / sum(timings):,.0f} decisions/s on one core")
    print("  actions: " + ", ".join(f"{a} {n / count:.1%}" for a, n in actions.most_common()))
    print(f"  rules that decided: {len(rules)}; top: {rules.most_common(4)}")


# ----------------------------------------------------------------------------- end to end


def seed_cases(count: int, seed: int) -> list[int]:
    """Real orders and cases (not yet decided) of one shop with the default policy live."""
    from django.db import transaction
    from django.utils import timezone

    from aftersales.cases.services import LineRequest, case_create
    from aftersales.catalog.services import ProductData, product_upsert
    from aftersales.channels.services import (
        CustomerData,
        OrderData,
        OrderLineData,
        ShipmentData,
        channel_create,
        order_upsert,
        shop_create,
    )

    rng = random.Random(seed)
    shop = shop_create(code="bench-decide", name="基准旗舰店")
    channel = channel_create(actor=None, shop=shop, kind="taobao", code="taobao", name="淘宝")
    products = [
        product_upsert(
            actor=None,
            shop=shop,
            data=ProductData(sku=f"SKU{i:03d}", name=f"蓝牙耳机 {i}", price=Decimal(price)),
        )[0]
        for i, price in enumerate(PRICES * 2)
    ]
    now = timezone.now()
    ids = []
    for i in range(count):
        facts = facts_sample(rng)
        case_type, status = facts["type"], facts["order_status"]
        if case_type == "partner_dispute":  # needs a partner channel; a complaint will do
            case_type = "complaint"
        order = None
        if status is not None:
            product = rng.choice(products)
            # Times in order: paid, shipped a day later, signed two days after that.
            if status == "signed":
                signed = now - timedelta(days=facts["days_since_signature"])
                shipped = signed - timedelta(days=2)
            elif status == "shipped":
                signed, shipped = None, now - timedelta(hours=facts["hours_since_shipment"])
            else:
                signed = shipped = None
            paid = (shipped or now) - timedelta(hours=rng.uniform(2, 48))
            shipments = []
            if shipped is not None:
                quiet = facts["hours_without_courier_movement"]
                moved = now - timedelta(hours=quiet) if quiet is not None else signed
                shipments = [
                    ShipmentData(
                        courier="SF",
                        tracking_number=f"SF{i:010d}",
                        shipped_at=shipped,
                        last_movement_at=max(moved, shipped),
                    )
                ]
            order, _ = order_upsert(
                actor=None,
                channel=channel,
                data=OrderData(
                    external_id=f"TB{i:012d}",
                    customer=CustomerData(name=f"顾客{i}", phone=f"139{i:08d}"),
                    lines=[
                        OrderLineData(
                            sku=product.sku,
                            quantity=rng.choice([1, 1, 2]),
                            unit_price=product.price,
                        )
                    ],
                    paid_at=paid,
                    shipped_at=shipped,
                    signed_at=signed,
                    shipping_insurance=facts["shipping_insurance"],
                    shipments=shipments,
                ),
            )
        with transaction.atomic():
            case = case_create(
                actor=None,
                case_type=case_type,
                reason=facts["reason"],
                shop=shop,
                order=order,
                lines=(
                    [LineRequest(ol, ol.quantity) for ol in order.lines.all()]
                    if order and case_type != "complaint"
                    else None
                ),
            )
        ids.append(case.pk)
    return ids


def bench_end_to_end(ids: list[int], profile: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from aftersales.cases.models import Case
    from aftersales.policies.facts import case_facts
    from aftersales.policies.models import PolicyDecision
    from aftersales.policies.services import case_decide

    clock = time.perf_counter
    cases = list(Case.objects.filter(pk__in=ids).order_by("pk"))
    facts_times = []
    for case in cases:
        start = clock()
        case_facts(case, now=timezone.now())
        facts_times.append(clock() - start)

    timed, profiled = cases[: len(cases) - profile], cases[len(cases) - profile :]
    timed = list(Case.objects.filter(pk__in=[c.pk for c in timed]).order_by("pk"))
    warm, timed = timed[:50], timed[50:]
    for case in warm[:10]:
        case_decide(case=case, trigger="created")
    with CaptureQueriesContext(connection) as queries:  # the warm-up cases, counted
        for case in warm[10:]:
            case_decide(case=case, trigger="created")
    per_case = len(queries.captured_queries) / len(warm[10:])
    decide_times = []
    for case in timed:
        start = clock()
        case_decide(case=case, trigger="created")
        decide_times.append(clock() - start)
    applied = Counter(
        PolicyDecision.objects.filter(case_id__in=[c.pk for c in timed]).values_list(
            "applied", flat=True
        )
    )
    print(f"case_facts (reads only), {len(cases):,} cases:")
    print(f"  {micro(facts_times)}")
    print(
        f"case_decide end to end (facts, decide, record, apply; one transaction each), "
        f"{len(timed):,} cases, {per_case:.1f} statements per case as Django logs them:"
    )
    print(f"  {micro(decide_times)}")
    print("  applied as: " + ", ".join(f"{a or '(nothing)'} {n}" for a, n in applied.most_common()))

    if profiled:
        import cProfile
        import pstats

        profiled = list(Case.objects.filter(pk__in=[c.pk for c in profiled]).order_by("pk"))
        profiler = cProfile.Profile()
        profiler.enable()
        for case in profiled:
            case_decide(case=case, trigger="created")
        profiler.disable()
        print(f"\ncProfile of case_decide over {len(profiled)} cases:")
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--facts", type=int, default=100_000, help="fact sets for policy_decide")
    parser.add_argument("-n", "--cases", type=int, default=2000, help="cases for case_decide")
    parser.add_argument("--profile", type=int, default=0, help="then cProfile K case_decide")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quiet-wait", type=float, default=0, help="seconds to wait for idle")
    args = parser.parse_args()

    where = database_prepare("decide")
    quiet_wait(args.quiet_wait)
    bench_engine(args.facts, args.seed)
    started = time.perf_counter()
    ids = seed_cases(args.cases + args.profile + 50, args.seed)
    print(
        f"\n{where}: seeded {len(ids):,} orders and cases in {time.perf_counter() - started:.1f} s"
    )
    quiet_wait(args.quiet_wait)
    bench_end_to_end(ids, args.profile)


if __name__ == "__main__":
    main()
