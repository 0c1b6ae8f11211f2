"""What-if benchmark: replay 100,000 recorded cases against a draft and the live policy.

Seeds one shop (default policy live) with N cases filed over the last 90 days, each with
its filing PolicyDecision carrying realistic `all_facts` (bench.decide.facts_sample,
decided by the default policy as case_decide would record it), plus later decisions on
10 % of them (evidence added, which the replay must skip) and older cases outside the
window. Everything is bulk-inserted. Then times `whatif_run` over 90 days with a draft a
merchant might try, and, to split the cost, the row stream alone and the draft's validation.

    .venv/bin/python -m bench.whatif                       # SQLite, 100,000 cases
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/aftersales_bench_policy \\
        .venv/bin/python -m bench.whatif --profile
"""

from __future__ import annotations

import argparse
import copy
import random
import resource
import time
from datetime import timedelta

from bench.common import database_prepare, database_vendor, quiet_wait
from bench.decide import facts_sample

BATCH = 5000
WINDOW_DAYS = 90


def draft_document() -> dict:
    """The default policy with three changes a merchant might weigh before a sale."""
    from aftersales.policies.defaults import DEFAULT_POLICY

    draft = copy.deepcopy(DEFAULT_POLICY)
    draft["name"] = "大促政策草稿"
    rules = {rule["key"]: rule for rule in draft["rules"]}
    # Team lead approval from 500 instead of 200.
    rules["approval_lead_above_200"]["when"]["all"][0]["value"] = "500"
    # Keep the item when it is worth up to 30.00 (was 10.00).
    rules["keep_item_cheaper_than_return"]["when"]["all"][2]["value"] = "30.00"
    # Small refund-only claims after signature: approve instead of sending them to a person.
    at = [rule["key"] for rule in draft["rules"]].index("refund_only_signed_no_quality_reason")
    draft["rules"].insert(
        at,
        {
            "key": "refund_only_signed_small",
            "title": "Refund only after signature, up to 30.00: approve",
            "when": {
                "all": [
                    {"fact": "type", "op": "eq", "value": "refund_only"},
                    {"fact": "order_status", "op": "eq", "value": "signed"},
                    {"fact": "refund_amount", "op": "lte", "value": "30.00"},
                    {"fact": "customer_risk_level", "op": "eq", "value": "low"},
                ]
            },
            "then": [{"action": "auto_approve"}],
            "explain": {"en": "A small claim from a trusted customer: refunded."},
        },
    )
    return draft


def seed(cases: int, old: int, seed_value: int):
    """The shop, `cases` cases in the window and `old` before it, with their decisions."""
    from django.db import connection
    from django.utils import timezone

    from aftersales.cases.models import Case
    from aftersales.channels.services import shop_create
    from aftersales.policies.engine import policy_decide
    from aftersales.policies.models import PolicyDecision, PolicyVersion
    from aftersales.policies.services import default_policy

    rng = random.Random(seed_value)
    shop = shop_create(code="bench-whatif", name="基准旗舰店")
    version = PolicyVersion.objects.get(shop=shop, status="live")
    policy = default_policy()
    now = timezone.now()
    total = cases + old
    ids: list[int] = []
    for start in range(0, total, BATCH):
        size = min(BATCH, total - start)
        samples = [facts_sample(rng) for _ in range(size)]
        created = Case.objects.bulk_create(
            Case(
                shop=shop,
                type=facts["type"],
                status="awaiting_merchant",
                reason=facts["reason"],
                priority=3,
            )
            for facts in samples
        )
        decisions = []
        for case, facts in zip(created, samples, strict=True):
            decision = policy_decide(policy, facts)
            as_dict = decision.as_dict()
            row = PolicyDecision(
                shop=shop,
                case=case,
                version=version,
                trigger="created",
                rule=decision.rule,
                action=decision.action,
                params=decision.params,
                modifiers=as_dict["modifiers"],
                facts=decision.facts,
                all_facts=facts,
                explanation=decision.explanation,
                applied="",
            )
            decisions.append(row)
            if rng.random() < 0.10:  # evidence arrived later: a second decision to skip
                later = dict(facts, evidence_kinds=["damaged_part", "outer_package", "photo"])
                again = policy_decide(policy, later)
                decisions.append(
                    PolicyDecision(
                        shop=shop,
                        case=case,
                        version=version,
                        trigger="evidence_added",
                        rule=again.rule,
                        action=again.action,
                        params=again.params,
                        facts=again.facts,
                        all_facts=later,
                        explanation=again.explanation,
                    )
                )
        PolicyDecision.objects.bulk_create(decisions)
        ids.extend(case.pk for case in created)
    # Spread the filing times: `cases` over the last 90 days, `old` over the 275 before.
    ids.sort()
    spans = [(ids[:cases], 0, WINDOW_DAYS), (ids[cases:], WINDOW_DAYS + 1, 365)]
    for chunk, first_day, last_day in spans:
        days = last_day - first_day
        for day in range(days):
            part = chunk[len(chunk) * day // days : len(chunk) * (day + 1) // days]
            if not part:
                continue
            at = now - timedelta(days=first_day + day, hours=rng.uniform(0, 20))
            Case.objects.filter(pk__gte=part[0], pk__lte=part[-1]).update(created_at=at)
            PolicyDecision.objects.filter(
                shop=shop, case_id__gte=part[0], case_id__lte=part[-1]
            ).update(created_at=at)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return shop


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-n", "--cases", type=int, default=100_000, help="cases in the window")
    parser.add_argument("--old", type=int, default=20_000, help="cases before the window")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=2, help="timed what-if runs")
    parser.add_argument("--profile", action="store_true", help="then one run under cProfile")
    parser.add_argument("--quiet-wait", type=float, default=0, help="seconds to wait for idle")
    args = parser.parse_args()

    where = database_prepare("whatif")
    started = time.perf_counter()
    shop = seed(args.cases, args.old, args.seed)

    from django.utils import timezone

    from aftersales.policies.models import PolicyDecision
    from aftersales.policies.services import document_validate
    from aftersales.policies.whatif import report_table, whatif_run

    rows = PolicyDecision.objects.filter(shop=shop).count()
    print(
        f"{where}: seeded {args.cases + args.old:,} cases and {rows:,} decisions "
        f"in {time.perf_counter() - started:.1f} s ({database_vendor()})"
    )
    draft = draft_document()
    quiet_wait(args.quiet_wait)

    start = time.perf_counter()
    document_validate(draft)
    print(f"validating the draft (legal floor included): {time.perf_counter() - start:.2f} s")

    start = time.perf_counter()
    since = timezone.now() - timedelta(days=WINDOW_DAYS)  # the rows whatif_run reads
    streamed = 0
    for _row in (
        PolicyDecision.objects.filter(shop=shop, trigger="created", created_at__gte=since)
        .order_by("case_id", "id")
        .values_list("case_id", "all_facts")
        .iterator(chunk_size=2000)
    ):
        streamed += 1
    stream_s = time.perf_counter() - start
    print(f"streaming the {streamed:,} filing decisions alone (no deciding): {stream_s:.2f} s")

    report = None
    for run in range(1, args.runs + 1):
        seen = [-1]

        def progress(done: int, expected: int, seen=seen) -> None:
            tenth = done * 10 // max(expected, 1)
            if tenth > seen[0]:
                seen[0] = tenth
                print(f"  replayed {done:,} of {expected:,} ({tenth * 10} %)", flush=True)

        start = time.perf_counter()
        report = whatif_run(shop=shop, document=draft, days=WINDOW_DAYS, progress=progress)
        elapsed = time.perf_counter() - start
        print(
            f"run {run}: whatif_run over {report.cases:,} cases in {elapsed:.2f} s "
            f"({report.cases / elapsed:,.0f} cases/s); peak RSS {rss_mb():.0f} MB"
        )
    print()
    print("\n".join(report_table(report)))

    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        whatif_run(shop=shop, document=draft, days=WINDOW_DAYS)
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
