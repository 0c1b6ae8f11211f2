"""What-if: replay the recorded facts of a shop's recent cases against a draft and the live policy.

Which facts. Every case is decided once when it is filed (trigger "created"), on every fact
known at that moment, stored in `PolicyDecision.all_facts`. The replay reads that first
decision of each case filed in the last N days. Later decisions (evidence added, …) are not
replayed: they exist only because the policy live at the time asked for something (photos,
a quote), so replaying them would mix the old policy's choices into the draft's figures.
The filing decision is the one both policies would have met with the same facts.

Against what. The "live" side is the policy live *now* for each case's scope (the most
specific of channel + category, channel, category, shop — as `live_version_for` picks it),
or NO_POLICY when the shop has none: publishing the draft replaces that, not whatever was
live when the case was filed. The draft takes the place of the live policy of its own scope
(the shop's by default); cases a more specific live policy governs keep that policy on both
sides and so never change.

The figures, per side:
- automated: decisions the policy settles by itself, `auto_approve` or `auto_reject`.
  `require_evidence`, `quote_repair` and `intercept` are automatic steps but settle nothing
  (the case is decided again when the customer or courier answers): counted under actions.
- workload: `route_to_person` decisions, the cases an agent must decide.
- approvals: `auto_approve` decisions that still carry `require_approval` (a lead or
  manager signs off on the money).
- refund total: the `refund_amount` fact (the claimed lines' prorated paid amount) of every
  `auto_approve` of a refund type (refund_only, return_refund). Shipping refunded with an
  unshipped order is not among the recorded facts and is left out.
- changed: cases the draft decides differently — another action, other parameters (who pays
  the return postage, keep the item …) or, for an approval, another approving role. A renamed
  rule that decides the same way is not a change.
- examples: up to 20 changed cases, as many kinds of change (rule and action before and
  after) as there are, the first cases of each kind, in case order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import F, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.cases.models import CaseLine
from aftersales.cases.states import REFUND_TYPES
from aftersales.catalog.models import Category
from aftersales.channels.models import Channel, Shop
from aftersales.core.errors import Invalid
from aftersales.core.money import ZERO, money
from aftersales.policies.document import Policy as PolicyDoc
from aftersales.policies.engine import Decision, policy_decide
from aftersales.policies.models import PolicyDecision, PolicyVersion, VersionStatus
from aftersales.policies.services import NO_POLICY, _parsed_version, document_validate

AUTOMATED = frozenset({"auto_approve", "auto_reject"})
TO_A_PERSON = "route_to_person"
REPLAYED_TRIGGER = "created"
MAX_DAYS = 3660
MAX_EXAMPLES = 20
CHUNK = 2000

Progress = Callable[[int, int], None]  # (cases replayed so far, cases expected)
Scope = tuple[int | None, int | None]  # (channel id, category id); None is "any"


@dataclass
class PolicyFigures:
    """What one policy did with the replayed cases."""

    cases: int = 0
    automated: int = 0
    workload: int = 0
    approvals: int = 0
    refund_total: Decimal = ZERO
    actions: dict[str, int] = field(default_factory=dict)

    @property
    def automation_rate(self) -> Decimal:
        """Share of cases settled without a person, 0–1 to four places."""
        if not self.cases:
            return Decimal("0.0000")
        return (Decimal(self.automated) / Decimal(self.cases)).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP
        )


@dataclass(frozen=True)
class WhatIfChange:
    case_id: int
    reference: str
    live_rule: str
    live_action: str
    draft_rule: str
    draft_action: str
    refund_amount: Decimal
    # What else differs when the action does not: its parameters and the approving role.
    live_params: dict[str, Any] = field(default_factory=dict)
    draft_params: dict[str, Any] = field(default_factory=dict)
    live_approval: str = ""
    draft_approval: str = ""


@dataclass
class WhatIfReport:
    shop_id: int
    shop_code: str
    days: int
    since: datetime
    until: datetime
    draft_name: str
    cases: int = 0
    live: PolicyFigures = field(default_factory=PolicyFigures)
    draft: PolicyFigures = field(default_factory=PolicyFigures)
    changed: int = 0
    # "live action → draft action": how many cases moved that way.
    transitions: dict[str, int] = field(default_factory=dict)
    examples: list[WhatIfChange] = field(default_factory=list)


def _reference(case_id: int) -> str:
    return f"AS{case_id:08d}"  # as Case.reference, without loading the case


def _pick(scopes: dict[Scope, PolicyDoc]) -> Callable[[int | None, int | None], PolicyDoc]:
    """The most specific policy for a case's channel and category, as live_version_for ranks."""
    cache: dict[Scope, PolicyDoc] = {}

    def pick(channel_id: int | None, category_id: int | None) -> PolicyDoc:
        key = (channel_id, category_id)
        if key not in cache:
            best, best_rank = NO_POLICY, -1
            for (scope_channel, scope_category), policy in scopes.items():
                if scope_channel not in (None, channel_id):
                    continue
                if scope_category not in (None, category_id):
                    continue
                rank = (2 if scope_channel else 0) + (1 if scope_category else 0)
                if rank > best_rank:
                    best, best_rank = policy, rank
            cache[key] = best
        return cache[key]

    return pick


def _approval_role(decision: Decision) -> str:
    params = decision.modifier("require_approval")
    return params["role"] if params else ""


def _count(figures: PolicyFigures, decision: Decision, facts: dict[str, Any]) -> None:
    figures.cases += 1
    figures.actions[decision.action] = figures.actions.get(decision.action, 0) + 1
    if decision.action in AUTOMATED:
        figures.automated += 1
        if decision.action == "auto_approve" and _approval_role(decision):
            figures.approvals += 1
    elif decision.action == TO_A_PERSON:
        figures.workload += 1
    if decision.action == "auto_approve" and facts.get("type") in REFUND_TYPES:
        figures.refund_total += Decimal(str(facts.get("refund_amount") or "0"))


def _approval(decision: Decision) -> str:
    """The role that must sign off, where it matters: on an automatic approval."""
    return _approval_role(decision) if decision.action == "auto_approve" else ""


def _same(a: Decision, b: Decision) -> bool:
    return a.action == b.action and a.params == b.params and _approval(a) == _approval(b)


def _change(case_id: int, live: Decision, draft: Decision, facts: dict[str, Any]) -> WhatIfChange:
    return WhatIfChange(
        case_id=case_id,
        reference=_reference(case_id),
        live_rule=live.rule,
        live_action=live.action,
        draft_rule=draft.rule,
        draft_action=draft.action,
        refund_amount=money(str(facts.get("refund_amount") or "0")),
        live_params=dict(live.params),
        draft_params=dict(draft.params),
        live_approval=_approval(live),
        draft_approval=_approval(draft),
    )


def _examples(by_kind: dict[tuple[str, ...], list[WhatIfChange]]) -> list[WhatIfChange]:
    """Round robin over the kinds of change (in order of first appearance), then case order."""
    picked: list[WhatIfChange] = []
    queues = [list(examples) for examples in by_kind.values()]
    while len(picked) < MAX_EXAMPLES and any(queues):
        for queue in queues:
            if queue and len(picked) < MAX_EXAMPLES:
                picked.append(queue.pop(0))
    return sorted(picked, key=lambda change: change.case_id)


def whatif_run(
    *,
    shop: Shop,
    document: Any,
    days: int,
    now: datetime | None = None,
    progress: Progress | None = None,
    channel: Channel | None = None,
    category: Category | None = None,
) -> WhatIfReport:
    """Replay the filing decisions of the last `days` days under the draft and the live policy.

    `document` is the raw draft (validated here, legal floor included); `channel` and
    `category` narrow the draft's scope as they would when it is saved. Rows are streamed,
    never all held at once; `progress(done, expected)` is called about every 1 %.
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise Invalid(
            "whatif.invalid",
            _("Replay between 1 and %(max)s days.") % {"max": MAX_DAYS},
            {"days": _("Out of range.")},
        )
    if (channel and channel.shop_id != shop.pk) or (category and category.shop_id != shop.pk):
        raise Invalid("whatif.invalid", _("The scope belongs to another shop."), {"scope": "shop"})
    draft = document_validate(document)
    until = now or timezone.now()
    since = until - timedelta(days=days)

    live_scopes: dict[Scope, PolicyDoc] = {
        (v.policy.channel_id, v.policy.category_id): _parsed_version(v)
        for v in PolicyVersion.objects.filter(
            shop_id=shop.pk, status=VersionStatus.LIVE
        ).select_related("policy")
    }
    draft_scope: Scope = (
        channel.pk if channel else None,
        category.pk if category else None,
    )
    draft_scopes = {**live_scopes, draft_scope: draft}
    live_for, draft_for = _pick(live_scopes), _pick(draft_scopes)
    narrowed = any(scope != (None, None) for scope in draft_scopes)

    rows = PolicyDecision.objects.filter(
        shop_id=shop.pk,
        trigger=REPLAYED_TRIGGER,
        created_at__gte=since,
        created_at__lte=until,
    )
    expected = rows.count()
    columns = ["case_id", "all_facts"]
    if narrowed:  # only then does a case's channel and category choose its policy
        first_line = CaseLine.objects.filter(case_id=OuterRef("case_id")).order_by("id")
        rows = rows.annotate(
            case_channel_id=F("case__channel_id"),
            case_category_id=Subquery(first_line.values("order_line__product__category_id")[:1]),
        )
        columns += ["case_channel_id", "case_category_id"]
    stream = rows.order_by("case_id", "id").values_list(*columns).iterator(chunk_size=CHUNK)

    report = WhatIfReport(
        shop_id=shop.pk,
        shop_code=shop.code,
        days=days,
        since=since,
        until=until,
        draft_name=draft.name,
    )
    transitions: Counter[str] = Counter()
    by_kind: dict[tuple[str, ...], list[WhatIfChange]] = {}
    step = max(1, expected // 100)
    last_case = None
    for row in stream:
        case_id, facts = row[0], row[1]
        if case_id == last_case:  # a case filed twice over is replayed once
            continue
        last_case = case_id
        scope = (row[2], row[3]) if narrowed else (None, None)
        live_policy, draft_policy = live_for(*scope), draft_for(*scope)
        live = policy_decide(live_policy, facts)
        proposed = live if draft_policy is live_policy else policy_decide(draft_policy, facts)
        _count(report.live, live, facts)
        _count(report.draft, proposed, facts)
        report.cases += 1
        if not _same(live, proposed):
            report.changed += 1
            transitions[f"{live.action} → {proposed.action}"] += 1
            kind = by_kind.setdefault((live.rule, live.action, proposed.rule, proposed.action), [])
            if len(kind) < MAX_EXAMPLES:
                kind.append(_change(case_id, live, proposed, facts))
        if progress is not None and report.cases % step == 0:
            progress(report.cases, max(expected, report.cases))
    report.live.refund_total = money(report.live.refund_total)
    report.draft.refund_total = money(report.draft.refund_total)
    report.transitions = dict(transitions.most_common())
    report.examples = _examples(by_kind)
    if progress is not None:
        progress(report.cases, report.cases)
    return report


def _detail(change: WhatIfChange) -> str:
    """What else changed, when the action did not (or not only)."""
    parts = []
    if change.live_approval != change.draft_approval:
        parts.append(
            f"approval {change.live_approval or 'none'} → {change.draft_approval or 'none'}"
        )
    if change.live_action == change.draft_action:
        for key in sorted(set(change.live_params) | set(change.draft_params)):
            before, after = change.live_params.get(key), change.draft_params.get(key)
            if before != after:
                parts.append(f"{key} {before} → {after}")
    return f"; {', '.join(parts)}" if parts else ""


def report_table(report: WhatIfReport) -> list[str]:
    """The report side by side, as lines of text (the CLI prints them)."""

    def rate(figures: PolicyFigures) -> str:
        return f"{figures.automated:,} ({figures.automation_rate * 100:.1f} %)"

    def delta(a: int | Decimal, b: int | Decimal, cents: bool = False) -> str:
        diff = b - a
        return f"{diff:+,.2f}" if cents else f"{diff:+,}"

    live, draft = report.live, report.draft
    since, until = timezone.localtime(report.since), timezone.localtime(report.until)
    points = (draft.automation_rate - live.automation_rate) * 100
    rows = [
        ("", "live", "draft", "change"),
        ("cases replayed", f"{live.cases:,}", f"{draft.cases:,}", ""),
        (
            "automated",
            rate(live),
            rate(draft),
            f"{delta(live.automated, draft.automated)} ({points:+.1f} pts)",
        ),
        (
            "  needing approval",
            f"{live.approvals:,}",
            f"{draft.approvals:,}",
            delta(live.approvals, draft.approvals),
        ),
        (
            "to a person",
            f"{live.workload:,}",
            f"{draft.workload:,}",
            delta(live.workload, draft.workload),
        ),
        (
            "refund total",
            f"{live.refund_total:,.2f}",
            f"{draft.refund_total:,.2f}",
            delta(live.refund_total, draft.refund_total, cents=True),
        ),
    ]
    for action in sorted(set(live.actions) | set(draft.actions)):
        a, b = live.actions.get(action, 0), draft.actions.get(action, 0)
        rows.append((f"  {action}", f"{a:,}", f"{b:,}", delta(a, b)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        f"What-if for shop {report.shop_code}: cases filed {since:%Y-%m-%d %H:%M} to "
        f"{until:%Y-%m-%d %H:%M} ({report.days} days); draft “{report.draft_name}”",
        "",
    ]
    for row in rows:
        lines.append(
            f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  "
            f"{row[3]:>{widths[3]}}".rstrip()
        )
    share = f" ({report.changed / report.cases * 100:.1f} %)" if report.cases else ""
    lines += ["", f"Decisions that change: {report.changed:,}{share}"]
    for transition, count in report.transitions.items():
        lines.append(f"  {transition}: {count:,}")
    if report.examples:
        lines += ["", "Examples:"]
        for ex in report.examples:
            lines.append(
                f"  {ex.reference}  {ex.live_action} ({ex.live_rule}) → "
                f"{ex.draft_action} ({ex.draft_rule})  refund {ex.refund_amount}{_detail(ex)}"
            )
    return lines
