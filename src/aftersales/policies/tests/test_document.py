"""Policy documents: validated against the registries with field paths; the legal floor."""

from __future__ import annotations

import copy

import pytest

from aftersales.core.errors import Invalid
from aftersales.policies.defaults import DEFAULT_POLICY
from aftersales.policies.document import PolicyInvalid, policy_parse
from aftersales.policies.engine import policy_decide
from aftersales.policies.models import PolicyVersion
from aftersales.policies.services import document_validate, policy_publish, policy_save
from aftersales.tests import factories as f


def test_the_default_policy_is_valid_and_passes_the_floor():
    assert [r.key for r in document_validate(DEFAULT_POLICY).rules][-1] == "everything_else"


def test_errors_name_the_exact_place_in_the_document():
    doc = {
        "name": "x",
        "rules": [
            {
                "key": "a",
                "when": {"all": [{"fact": "reason", "op": "gt", "value": 3}]},
                "then": [{"action": "auto_approve"}],
            },
            {
                "key": "a",
                "when": {"any": [{"fact": "colour", "op": "eq", "value": "red"}]},
                "then": [{"action": "require_evidence", "kinds": ["selfie"]}],
            },
            {"key": "Bad Key", "then": [{"action": "launch"}]},
            {
                "key": "c",
                "when": {"not": {"fact": "reason", "op": "in", "value": ["broken"]}},
                "then": [{"action": "route_to_person"}],
            },
        ],
    }
    with pytest.raises(PolicyInvalid) as exc:
        policy_parse(doc)
    assert exc.value.errors == {
        "rules.0.when.all.0.op": "gt does not apply to reason (text)",
        "rules.1.key": "duplicate key a",
        "rules.1.when.any.0.fact": "unknown fact 'colour'",
        "rules.1.then.0.kinds": (
            "must be a list of photo, outer_package, damaged_part, video, document"
        ),
        "rules.2.key": "lower-case letters, digits and _ (start with a letter)",
        "rules.2.then.0.action": "unknown action 'launch'",
        "rules.3.when.not.value": (
            "'broken' is not one of no_reason, quality_defect, damaged_in_transit, wrong_item, "
            "missing_item, not_as_described, lost_in_transit, not_delivered, late_shipment, "
            "funds_not_received, unexpected_charge, usage_question, policy_question, "
            "service_attitude, other"
        ),
        "rules.3.then.0.recommend": "required",
    }


def test_modifiers_accumulate_and_the_first_deciding_rule_wins():
    policy = policy_parse(
        {
            "name": "t",
            "rules": [
                {
                    "key": "urgent_money",
                    "when": {"fact": "reason", "op": "eq", "value": "funds_not_received"},
                    "then": [{"action": "set_priority", "priority": "urgent"}],
                },
                {
                    "key": "big",
                    "when": {"fact": "refund_amount", "op": "gt", "value": "500"},
                    "then": [{"action": "route_to_person", "recommend": "approve"}],
                },
                {"key": "rest", "then": [{"action": "auto_approve"}]},
            ],
        }
    )
    d = policy_decide(policy, {"reason": "funds_not_received", "refund_amount": "800.00"})
    assert (d.rule, d.action, d.params) == ("big", "route_to_person", {"recommend": "approve"})
    assert d.modifier("set_priority") == {"priority": "urgent"}
    assert d.facts == {"reason": "funds_not_received", "refund_amount": "800.00"}
    assert policy_decide(policy, {"reason": "other", "refund_amount": "10"}).rule == "rest"


def test_a_policy_refusing_an_eligible_no_reason_return_is_rejected_naming_the_rule(db):
    shop = f.shop("floor")
    doc = copy.deepcopy(DEFAULT_POLICY)
    doc["rules"].insert(
        3,
        {
            "key": "no_big_returns",
            "title": "No no-reason returns above 1,000",
            "when": {
                "all": [
                    {"fact": "reason", "op": "eq", "value": "no_reason"},
                    {"fact": "refund_amount", "op": "gt", "value": "1000"},
                ]
            },
            "then": [{"action": "auto_reject"}],
        },
    )
    with pytest.raises(Invalid) as exc:
        policy_save(actor=None, shop=shop, document=doc)
    assert exc.value.code == "policy.legal_floor"
    assert "no_big_returns" in exc.value.message
    assert exc.value.fields == {"rules.3": "Refuses a legal return."}
    assert PolicyVersion.objects.count() == 0


def test_refusing_outside_the_window_or_excluded_goods_is_allowed(db):
    # The default policy itself refuses late and excluded returns: that is not the floor.
    shop = f.shop("ok")
    version = policy_save(actor=None, shop=shop, document=DEFAULT_POLICY)
    assert (version.number, version.status) == (1, "draft")
    assert policy_publish(actor=None, version=version).status == "live"
    second = policy_save(actor=None, shop=shop, document=DEFAULT_POLICY)
    policy_publish(actor=None, version=second)
    assert list(PolicyVersion.objects.order_by("number").values_list("number", "status")) == [
        (1, "retired"),
        (2, "live"),
    ]


def test_every_way_in_refuses_a_document_nested_too_deeply():
    # The admin form, the API and import all validate through document_validate.
    when: dict = {"fact": "reason", "op": "eq", "value": "other"}
    for _ in range(40):
        when = {"not": when}
    doc = {
        "name": "deep",
        "rules": [{"key": "a", "when": when, "then": [{"action": "auto_reject"}]}],
    }
    with pytest.raises(Invalid) as exc:
        document_validate(doc)
    assert exc.value.code == "policy.too_large"
