"""What-if: the filing decisions of recent cases replayed under a draft and the live policy."""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from aftersales.cases.models import Case
from aftersales.cases.services import LineRequest
from aftersales.catalog.models import Category
from aftersales.channels.models import Order
from aftersales.core.errors import Invalid
from aftersales.policies.defaults import DEFAULT_POLICY
from aftersales.policies.models import PolicyDecision
from aftersales.policies.services import (
    case_decide,
    policy_install_default,
    policy_publish,
    policy_save,
)
from aftersales.policies.triggers import case_file
from aftersales.policies.whatif import WhatIfChange, report_table, whatif_run
from aftersales.tests import factories as f

APPROVE_ALL = {
    "name": "approve everything",
    "rules": [{"key": "approve_all", "then": [{"action": "auto_approve"}]}],
}


def recent_order(channel, lines=None, *, shipped=True, signed=True) -> Order:
    """An order paid 5 days, shipped 4 days and signed 2 days before the real clock."""
    order = f.order(channel, lines, shipped=shipped, signed=signed)
    now = timezone.now()
    Order.objects.filter(pk=order.pk).update(
        paid_at=now - timedelta(days=5),
        shipped_at=now - timedelta(days=4) if shipped else None,
        signed_at=now - timedelta(days=2) if shipped and signed else None,
    )
    order.refresh_from_db()
    return order


def file(order=None, case_type="return_refund", reason="quality_defect", **kw) -> Case:
    lines = kw.pop("lines", None)
    if lines is not None:
        lines = [LineRequest(ol, q) for ol, q in lines]
    return case_file(actor=None, case_type=case_type, reason=reason, order=order, lines=lines, **kw)


def rule(document: dict, key: str) -> dict:
    return next(r for r in document["rules"] if r["key"] == key)


def index(document: dict, key: str) -> int:
    return [r["key"] for r in document["rules"]].index(key)


@pytest.fixture
def six_cases(shop, channel):
    """Six cases under the default policy: four automated (one needing a lead), two for a person.

    1 refund_only, unshipped, 2 × 50.00       → refund_only_unshipped, auto_approve 100.00
    2 refund_only, signed, no quality reason  → route_to_person (recommend reject)
    3 return_refund, no_reason, 1 × 39.90     → no_reason_within_7_days, auto_approve 39.90
    4 return_refund, defect, 3 × 99.99        → quality_fault_merchant_pays, 299.97, team lead
    5 repair within warranty                  → repair_in_warranty, auto_approve (no refund)
    6 complaint without an order              → everything_else, route_to_person
    """
    policy_install_default(shop=shop)
    cheap = f.product(shop, price="39.90")
    dear = f.product(shop, price="99.99")
    cases = [
        file(recent_order(channel, shipped=False), "refund_only", "other"),
        file(recent_order(channel), "refund_only", "other"),
        file(recent_order(channel, [(cheap, 1, "39.90", "0.00")]), "return_refund", "no_reason"),
        file(recent_order(channel, [(dear, 3, "99.99", "0.00")]), "return_refund"),
        file(recent_order(channel), "repair", "quality_defect"),
        file(None, "complaint", "service_attitude", shop=shop),
    ]
    recorded = {
        d.case_id: (d.rule, d.action) for d in PolicyDecision.objects.filter(trigger="created")
    }
    assert [recorded[c.pk] for c in cases] == [
        ("refund_only_unshipped", "auto_approve"),
        ("refund_only_signed_no_quality_reason", "route_to_person"),
        ("no_reason_within_7_days", "auto_approve"),
        ("quality_fault_merchant_pays", "auto_approve"),
        ("repair_in_warranty", "auto_approve"),
        ("everything_else", "route_to_person"),
    ]
    return cases


def draft_document() -> dict:
    """Approve signed refund-only claims, pay no-reason postage ourselves, rename the catch-all."""
    document = copy.deepcopy(DEFAULT_POLICY)
    document["name"] = "generous draft"
    rule(document, "refund_only_signed_no_quality_reason")["then"] = [{"action": "auto_approve"}]
    rule(document, "no_reason_within_7_days")["then"][0]["return_shipping_paid_by"] = "merchant"
    rule(document, "everything_else")["key"] = "anything_else"
    return document


def test_whatif_compares_the_draft_with_the_live_policy(shop, six_cases):
    calls = []
    report = whatif_run(
        shop=shop, document=draft_document(), days=90, progress=lambda *a: calls.append(a)
    )

    assert report.cases == 6
    assert report.draft_name == "generous draft"
    live, draft = report.live, report.draft
    assert (live.cases, live.automated, live.workload, live.approvals) == (6, 4, 2, 1)
    assert live.automation_rate == Decimal("0.6667")
    assert live.refund_total == Decimal("439.87")  # 100.00 + 39.90 + 299.97; repairs move none
    assert live.actions == {"auto_approve": 4, "route_to_person": 2}
    assert (draft.cases, draft.automated, draft.workload, draft.approvals) == (6, 5, 1, 1)
    assert draft.automation_rate == Decimal("0.8333")
    assert draft.refund_total == Decimal("539.87")
    assert draft.actions == {"auto_approve": 5, "route_to_person": 1}

    # Case 3 changes who pays the postage only; case 6's renamed rule decides the same.
    assert report.changed == 2
    assert report.transitions == {
        "route_to_person → auto_approve": 1,
        "auto_approve → auto_approve": 1,
    }
    c2, c3 = six_cases[1], six_cases[2]
    assert report.examples == [
        WhatIfChange(
            case_id=c2.pk,
            reference=c2.reference,
            live_rule="refund_only_signed_no_quality_reason",
            live_action="route_to_person",
            draft_rule="refund_only_signed_no_quality_reason",
            draft_action="auto_approve",
            refund_amount=Decimal("100.00"),
            live_params={"recommend": "reject"},
            draft_params={},
        ),
        WhatIfChange(
            case_id=c3.pk,
            reference=c3.reference,
            live_rule="no_reason_within_7_days",
            live_action="auto_approve",
            draft_rule="no_reason_within_7_days",
            draft_action="auto_approve",
            refund_amount=Decimal("39.90"),
            live_params={"return_shipping_paid_by": "customer"},
            draft_params={"return_shipping_paid_by": "merchant"},
        ),
    ]
    assert calls[-1] == (6, 6)
    assert all(done <= expected for done, expected in calls)


def test_another_approving_role_is_a_change_only_where_money_moves(shop, channel, six_cases):
    dear = f.product(shop, price="99.99")
    # To a person, with a team lead's approval modifier: approval does not apply here.
    file(recent_order(channel, [(dear, 3, "99.99", "0.00")]), "refund_only", "other")
    document = copy.deepcopy(DEFAULT_POLICY)
    rule(document, "approval_lead_above_200")["when"]["all"][0]["value"] = "500"

    report = whatif_run(shop=shop, document=document, days=90)

    assert (report.live.approvals, report.draft.approvals) == (1, 0)
    assert report.changed == 1
    [change] = report.examples
    assert change.case_id == six_cases[3].pk
    assert (change.live_approval, change.draft_approval) == ("team_lead", "")
    assert report.transitions == {"auto_approve → auto_approve": 1}
    assert report.live.refund_total == report.draft.refund_total == Decimal("439.87")


def test_examples_cover_every_kind_of_change_first(shop, channel):
    policy_install_default(shop=shop)
    unshipped = [
        file(recent_order(channel, shipped=False), "refund_only", "other") for _ in range(25)
    ]
    signed = file(recent_order(channel), "refund_only", "other")
    document = copy.deepcopy(DEFAULT_POLICY)
    rule(document, "refund_only_unshipped")["then"] = [{"action": "auto_approve"}]  # no shipping
    rule(document, "refund_only_signed_no_quality_reason")["then"] = [{"action": "auto_approve"}]

    report = whatif_run(shop=shop, document=document, days=90)

    assert report.changed == 26
    assert [e.case_id for e in report.examples] == [c.pk for c in unshipped[:19]] + [signed.pk]


def test_the_live_policy_replayed_against_itself_changes_nothing(shop, six_cases):
    report = whatif_run(shop=shop, document=DEFAULT_POLICY, days=90)
    assert report.changed == 0 and report.examples == [] and report.transitions == {}
    assert report.live.refund_total == report.draft.refund_total == Decimal("439.87")


def test_only_the_filing_decision_of_cases_inside_the_window_is_replayed(shop, six_cases):
    first, second = six_cases[0], six_cases[1]
    # A later decision of the same case (evidence arrived) is not replayed a second time.
    case_decide(case=second, trigger="evidence_added", apply=False)
    # A case filed 100 days ago is outside a 90-day window.
    PolicyDecision.objects.filter(case=first).update(
        created_at=timezone.now() - timedelta(days=100)
    )

    report = whatif_run(shop=shop, document=draft_document(), days=90)

    assert report.cases == 5
    assert report.live.refund_total == Decimal("339.87")
    assert report.changed == 2
    assert whatif_run(shop=shop, document=draft_document(), days=101).cases == 6


def test_a_shop_without_a_live_policy_is_compared_with_no_policy(shop, channel, other_shop):
    file(recent_order(channel), "refund_only", "other")  # no policy: a person decides
    file(recent_order(channel, shipped=False), "refund_only", "other")

    report = whatif_run(shop=shop, document=DEFAULT_POLICY, days=30)

    assert report.live.actions == {"route_to_person": 2}
    assert report.live.automation_rate == Decimal("0.0000")
    assert report.draft.actions == {"route_to_person": 1, "auto_approve": 1}
    assert report.draft.refund_total == Decimal("100.00")
    assert report.changed == 2
    # Another shop's cases are never read.
    assert whatif_run(shop=other_shop, document=DEFAULT_POLICY, days=30).cases == 0


def test_a_draft_narrowed_to_a_channel_changes_only_that_channels_cases(shop, channel):
    policy_install_default(shop=shop)
    web = f.channel(shop, kind="web", code="web")
    file(recent_order(channel), "refund_only", "other")
    on_web = file(recent_order(web), "refund_only", "other")

    report = whatif_run(shop=shop, document=APPROVE_ALL, days=30, channel=web)

    assert report.cases == 2
    assert report.changed == 1
    assert [e.case_id for e in report.examples] == [on_web.pk]
    assert report.examples[0].draft_rule == "approve_all"
    assert report.draft.refund_total == Decimal("100.00")


def test_cases_governed_by_a_more_specific_live_policy_keep_it(shop, channel):
    """A live category policy decides its cases; a shop-wide draft does not reach them."""
    policy_install_default(shop=shop)
    general = Category.objects.create(shop=shop, code="general", name="日用")
    policy_publish(
        actor=None,
        version=policy_save(actor=None, shop=shop, document=APPROVE_ALL, category=general),
    )
    file(recent_order(channel), "refund_only", "other")  # product in "general"
    other = Category.objects.create(shop=shop, code="food", name="食品")
    snack = f.product(shop, price="20.00", category=other)
    outside = file(recent_order(channel, [(snack, 1, "20.00", "0.00")]), "refund_only", "other")

    report = whatif_run(shop=shop, document=APPROVE_ALL, days=30)

    assert report.live.actions == {"auto_approve": 1, "route_to_person": 1}
    assert report.draft.actions == {"auto_approve": 2}
    assert [e.case_id for e in report.examples] == [outside.pk]
    assert report.live.refund_total == Decimal("100.00")
    assert report.draft.refund_total == Decimal("120.00")


def test_an_invalid_draft_is_refused_with_the_path_of_each_error(shop):
    document = copy.deepcopy(DEFAULT_POLICY)
    rule(document, "refund_only_unshipped")["when"]["all"][1]["op"] = "resembles"
    at = index(document, "refund_only_unshipped")
    with pytest.raises(Invalid) as exc:
        whatif_run(shop=shop, document=document, days=90)
    assert exc.value.code == "policy.invalid"
    assert exc.value.fields == {f"rules.{at}.when.all.1.op": "unknown operator 'resembles'"}


def test_a_draft_below_the_legal_floor_is_refused_naming_the_rule(shop):
    document = copy.deepcopy(DEFAULT_POLICY)
    rule(document, "no_reason_within_7_days")["then"] = [{"action": "auto_reject"}]
    with pytest.raises(Invalid) as exc:
        whatif_run(shop=shop, document=document, days=90)
    assert exc.value.code == "policy.legal_floor"
    assert "no_reason_within_7_days" in exc.value.message
    at = index(document, "no_reason_within_7_days")
    assert exc.value.fields == {f"rules.{at}": "Refuses a legal return."}


@pytest.mark.parametrize("days", [0, -1, 3661])
def test_days_out_of_range_are_refused(shop, days):
    with pytest.raises(Invalid) as exc:
        whatif_run(shop=shop, document=DEFAULT_POLICY, days=days)
    assert exc.value.fields == {"days": "Out of range."}


def test_the_report_table_shows_both_sides_and_the_examples(shop, six_cases):
    lines = report_table(whatif_run(shop=shop, document=draft_document(), days=90))
    text = "\n".join(lines)
    assert "automated" in text and "4 (66.7 %)" in text and "5 (83.3 %)" in text
    assert "+1 (+16.7 pts)" in text
    assert "439.87" in text and "539.87" in text and "+100.00" in text
    assert "Decisions that change: 2 (33.3 %)" in text
    assert (
        f"{six_cases[1].reference}  route_to_person (refund_only_signed_no_quality_reason) → "
        "auto_approve (refund_only_signed_no_quality_reason)  refund 100.00\n"
    ) in text
    assert (
        f"{six_cases[2].reference}  auto_approve (no_reason_within_7_days) → auto_approve "
        "(no_reason_within_7_days)  refund 39.90; return_shipping_paid_by customer → merchant"
    ) in text


def test_the_whatif_command_prints_the_table(shop, six_cases, tmp_path):
    draft = tmp_path / "draft.json"
    import json

    draft.write_text(json.dumps(draft_document(), ensure_ascii=False), encoding="utf-8")
    out = StringIO()
    call_command("policy", "whatif", str(draft), "--shop", "acme", "--days", "90", stdout=out)
    text = out.getvalue()
    assert "What-if for shop acme" in text
    assert "Decisions that change: 2 (33.3 %)" in text
    assert "refund total" in text and "539.87" in text


def test_the_whatif_command_prints_progress_on_long_replays(shop, channel, tmp_path):
    """Progress lines appear from 1,000 cases on: seed the filing decisions directly."""
    policy_install_default(shop=shop)
    case = file(recent_order(channel), "refund_only", "other")
    template = PolicyDecision.objects.get(case=case)
    cases = Case.objects.bulk_create(
        Case(shop=shop, type="complaint", status="awaiting_merchant", reason="other", priority=3)
        for _ in range(1200)
    )
    PolicyDecision.objects.bulk_create(
        PolicyDecision(
            shop=shop,
            case=c,
            trigger="created",
            rule=template.rule,
            action=template.action,
            all_facts=template.all_facts,
        )
        for c in cases
    )
    draft = tmp_path / "draft.yaml"
    draft.write_text(
        "name: approve everything\nrules:\n- key: approve_all\n  then:\n  - action: auto_approve\n",
        encoding="utf-8",
    )
    out, err = StringIO(), StringIO()
    call_command("policy", "whatif", str(draft), "--shop", "acme", stdout=out, stderr=err)
    progress = err.getvalue().splitlines()
    assert progress[0] == "replayed 12 of 1,201 cases (0 %)"
    assert progress[-1] == "replayed 1,201 of 1,201 cases (100 %)"
    assert len(progress) == 11
    assert "Decisions that change: 1,201 (100.0 %)" in out.getvalue()
