"""/api/v1/policies: list, read, save, publish, export and what-if, with their refusals."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
import yaml

from aftersales.catalog.models import Category
from aftersales.policies.defaults import DEFAULT_POLICY
from aftersales.policies.models import Policy, PolicyVersion
from aftersales.policies.services import policy_install_default, policy_save
from aftersales.policies.tests.test_whatif import draft_document, file, index, recent_order, rule
from aftersales.tests import factories as f


@pytest.fixture
def live(shop):
    return policy_install_default(shop=shop)


@pytest.fixture
def elsewhere(other_shop):
    return policy_install_default(shop=other_shop)


def error(resp, status: int) -> dict:
    assert resp.status_code == status, resp.content
    return resp.json()["error"]


def versions_unchanged(before: list) -> bool:
    return list(PolicyVersion.objects.order_by("id").values_list("id", "status")) == before


def snapshot() -> list:
    return list(PolicyVersion.objects.order_by("id").values_list("id", "status"))


# ----------------------------------------------------------------------------- read


def test_list_shows_the_policies_of_the_users_shops_with_their_versions(
    api_for, agent, manager, shop, channel, live, elsewhere, django_assert_num_queries
):
    draft = policy_save(actor=manager, shop=shop, document=draft_document())
    narrow = policy_save(actor=None, shop=shop, document=DEFAULT_POLICY, channel=channel)
    api = api_for(agent)
    api.get("/policies")  # first use of the token records last_used_at
    # token + user, user and group permissions, memberships, policies, versions with their
    # authors: the same however many policies and versions there are
    with django_assert_num_queries(6):
        resp = api.get("/policies")
    assert resp.status_code == 200
    policy, narrowed = resp.json()
    assert policy["id"] == live.policy_id
    assert policy["shop_id"] == live.shop_id
    assert (policy["channel_id"], policy["category_id"]) == (None, None)
    assert policy["name"] == "generous draft"  # a policy is named by its newest version
    assert [(v["id"], v["number"], v["status"], v["created_by"]) for v in policy["versions"]] == [
        (draft.pk, 2, "draft", "manager1"),
        (live.pk, 1, "live", None),
    ]
    assert (narrowed["id"], narrowed["channel_id"]) == (narrow.policy_id, channel.pk)
    assert [v["id"] for v in narrowed["versions"]] == [narrow.pk]
    assert api.get("/policies", {"shop_id": elsewhere.shop_id}).json() == []


def test_reading_a_version_gives_its_document(api_for, agent, live):
    resp = api_for(agent).get(f"/policies/versions/{live.pk}")
    assert resp.status_code == 200
    body = resp.json()
    assert body["document"] == DEFAULT_POLICY
    assert (body["number"], body["status"], body["policy_id"]) == (1, "live", live.policy_id)


def test_another_shops_version_is_not_found(api_for, manager, elsewhere):
    api = api_for(manager)
    for path in (
        f"/policies/versions/{elsewhere.pk}",
        f"/policies/versions/{elsewhere.pk}/export",
    ):
        assert error(api.get(path), 404)["code"] == "policy.not_found"
    before = snapshot()
    resp = api.post(f"/policies/versions/{elsewhere.pk}/publish")
    assert error(resp, 404)["code"] == "policy.not_found"
    assert versions_unchanged(before)


def test_a_role_without_the_view_permission_may_not_read(api_for, warehouse, live):
    api = api_for(warehouse)
    err = error(api.get("/policies"), 403)
    assert err == {
        "code": "permission.denied",
        "message": "You may not do this.",
        "fields": {"permission": "policies.view_policyversion"},
    }
    assert error(api.get(f"/policies/versions/{live.pk}"), 403)["code"] == "permission.denied"


def test_export_as_json_and_yaml(api_for, agent, live):
    api = api_for(agent)
    resp = api.get(f"/policies/versions/{live.pk}/export")
    assert resp.status_code == 200
    assert resp["Content-Type"] == "application/json; charset=utf-8"
    assert resp["Content-Disposition"] == f'attachment; filename="policy-{live.policy_id}-v1.json"'
    assert json.loads(resp.content) == DEFAULT_POLICY

    resp = api.get(f"/policies/versions/{live.pk}/export", {"format": "yaml"})
    assert resp.status_code == 200
    assert resp["Content-Type"] == "application/yaml; charset=utf-8"
    text = resp.content.decode()
    assert "默认售后政策" in text  # readable, not \u escapes
    assert yaml.safe_load(text) == DEFAULT_POLICY

    err = error(api.get(f"/policies/versions/{live.pk}/export", {"format": "xml"}), 422)
    assert err["code"] == "request.invalid" and list(err["fields"]) == ["format"]


# ----------------------------------------------------------------------------- write


def test_a_manager_saves_a_draft_and_publishes_it(api_for, manager, shop, live):
    api = api_for(manager)
    resp = api.post("/policies", {"shop_id": shop.pk, "document": draft_document()})
    assert resp.status_code == 201, resp.content
    draft = resp.json()
    assert (draft["number"], draft["status"], draft["created_by"]) == (2, "draft", "manager1")
    assert draft["policy_id"] == live.policy_id
    assert draft["name"] == "generous draft"
    assert draft["document"] == draft_document()
    assert PolicyVersion.objects.get(pk=live.pk).status == "live"

    resp = api.post(f"/policies/versions/{draft['id']}/publish")
    assert resp.status_code == 200, resp.content
    assert resp.json()["status"] == "live"
    assert resp.json()["published_at"] is not None
    assert PolicyVersion.objects.get(pk=live.pk).status == "retired"


def test_a_policy_narrowed_to_a_channel_and_category(api_for, manager, shop, channel, live):
    general = Category.objects.create(shop=shop, code="general", name="日用")
    resp = api_for(manager).post(
        "/policies",
        {
            "shop_id": shop.pk,
            "channel_id": channel.pk,
            "category_id": general.pk,
            "document": DEFAULT_POLICY,
        },
    )
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert (body["channel_id"], body["category_id"], body["number"]) == (
        channel.pk,
        general.pk,
        1,
    )
    assert body["policy_id"] != live.policy_id
    assert Policy.objects.filter(shop=shop).count() == 2


def test_document_errors_are_422_with_their_paths_and_nothing_is_saved(
    api_for, manager, shop, live
):
    document = copy.deepcopy(DEFAULT_POLICY)
    at = index(document, "refund_only_signed_no_quality_reason")
    rule(document, "refund_only_signed_no_quality_reason")["when"]["all"][0]["op"] = "resembles"
    rule(document, "everything_else")["then"] = [{"action": "route_to_person"}]
    last = len(document["rules"]) - 1
    before = snapshot()

    resp = api_for(manager).post("/policies", {"shop_id": shop.pk, "document": document})

    assert error(resp, 422) == {
        "code": "policy.invalid",
        "message": "The policy has errors.",
        "fields": {
            f"rules.{at}.when.all.0.op": "unknown operator 'resembles'",
            f"rules.{last}.then.0.recommend": "required",
        },
    }
    assert versions_unchanged(before)


def test_a_policy_below_the_legal_floor_is_refused_naming_the_rule(api_for, manager, shop, live):
    document = copy.deepcopy(DEFAULT_POLICY)
    rule(document, "no_reason_within_7_days")["then"] = [{"action": "auto_reject"}]
    at = index(document, "no_reason_within_7_days")
    before = snapshot()

    resp = api_for(manager).post("/policies", {"shop_id": shop.pk, "document": document})

    assert error(resp, 422) == {
        "code": "policy.legal_floor",
        "message": "Rule no_reason_within_7_days would refuse an eligible 7-day no-reason "
        "return, which the law does not allow.",
        "fields": {f"rules.{at}": "Refuses a legal return."},
    }
    assert versions_unchanged(before)


def test_an_agent_may_read_but_not_write(api_for, agent, shop, live):
    api = api_for(agent)
    before = snapshot()
    err = error(api.post("/policies", {"shop_id": shop.pk, "document": DEFAULT_POLICY}), 403)
    assert err["code"] == "permission.denied"
    assert err["fields"] == {"permission": "policies.add_policyversion"}
    err = error(api.post(f"/policies/versions/{live.pk}/publish"), 403)
    assert err["fields"] == {"permission": "policies.change_policyversion"}
    body = {"shop_id": shop.pk, "document": DEFAULT_POLICY, "days": 30}
    assert error(api.post("/policies/whatif", body), 403)["code"] == "permission.denied"
    assert versions_unchanged(before)


def test_saving_for_another_shop_or_scope_is_refused(
    api_for, manager, shop, other_shop, live, elsewhere
):
    api = api_for(manager)
    before = snapshot()
    err = error(api.post("/policies", {"shop_id": other_shop.pk, "document": DEFAULT_POLICY}), 404)
    assert err["code"] == "shop.not_found"
    theirs = f.channel(other_shop, code="theirs")
    body = {"shop_id": shop.pk, "channel_id": theirs.pk, "document": DEFAULT_POLICY}
    err = error(api.post("/policies", body), 422)
    assert err["fields"] == {"channel_id": "Not a channel of this shop."}
    assert versions_unchanged(before)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"document": []}, "document"),
        ({"document": "rules"}, "document"),
        ({}, "document"),
        ({"document": {}, "status": "live"}, "status"),
    ],
)
def test_malformed_requests_are_422_naming_the_field(api_for, manager, shop, body, field):
    err = error(api_for(manager).post("/policies", {"shop_id": shop.pk, **body}), 422)
    assert err["code"] == "request.invalid"
    assert field in err["fields"]


@pytest.mark.parametrize("path", ["/policies", "/policies/whatif"])
def test_a_document_too_deep_to_be_a_policy_is_422_not_a_crash(api_for, manager, shop, path):
    depth = 900  # below the JSON parser's limit, above what the validator could recurse
    when = '{"not": ' * depth + '{"fact": "type", "op": "eq", "value": "repair"}' + "}" * depth
    body = (
        f'{{"shop_id": {shop.pk}, "document": {{"name": "deep", "rules": [{{"key": "a", '
        f'"when": {when}, "then": [{{"action": "route_to_person", "recommend": "none"}}]}}]}}}}'
    )
    before = snapshot()
    err = error(api_for(manager).post(path, body), 422)
    assert err["code"] == "policy.too_large"
    assert err["fields"] == {"rules.0.when" + ".not" * 29: "Deeper than 32 levels."}
    assert versions_unchanged(before)


def test_an_empty_document_names_what_is_missing(api_for, manager, shop):
    resp = api_for(manager).post("/policies", {"shop_id": shop.pk, "document": {}})
    assert error(resp, 422)["fields"] == {
        "name": "required",
        "rules": "must be a non-empty list",
    }


# ----------------------------------------------------------------------------- what-if


def test_whatif_reports_both_sides(api_for, manager, shop, channel, live):
    file(recent_order(channel, shipped=False), "refund_only", "other")
    signed = file(recent_order(channel), "refund_only", "other")

    resp = api_for(manager).post(
        "/policies/whatif", {"shop_id": shop.pk, "document": draft_document(), "days": 30}
    )

    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["cases"] == 2 and body["days"] == 30
    assert body["live"] == {
        "cases": 2,
        "automated": 1,
        "automation_rate": "0.5000",
        "workload": 1,
        "approvals": 0,
        "refund_total": "100.00",
        "actions": {"auto_approve": 1, "route_to_person": 1},
    }
    assert body["draft"]["automation_rate"] == "1.0000"
    assert body["draft"]["refund_total"] == "200.00"
    assert body["changed"] == 1
    assert body["transitions"] == {"route_to_person → auto_approve": 1}
    assert body["examples"] == [
        {
            "case_id": signed.pk,
            "reference": signed.reference,
            "live_rule": "refund_only_signed_no_quality_reason",
            "live_action": "route_to_person",
            "draft_rule": "refund_only_signed_no_quality_reason",
            "draft_action": "auto_approve",
            "refund_amount": "100.00",
            "live_params": {"recommend": "reject"},
            "draft_params": {},
            "live_approval": "",
            "draft_approval": "",
        }
    ]
    assert Decimal(body["draft"]["refund_total"]) - Decimal(body["live"]["refund_total"]) == 100


def test_whatif_refusals(api_for, manager, shop, other_shop):
    api = api_for(manager)
    body = {"shop_id": other_shop.pk, "document": DEFAULT_POLICY, "days": 30}
    assert error(api.post("/policies/whatif", body), 404)["code"] == "shop.not_found"

    body = {"shop_id": shop.pk, "document": {"name": "x", "rules": [{"key": "a"}]}}
    assert error(api.post("/policies/whatif", body), 422)["fields"] == {
        "rules.0.then": "must be a non-empty list of actions"
    }
    body = {"shop_id": shop.pk, "document": DEFAULT_POLICY, "days": 0}
    err = error(api.post("/policies/whatif", body), 422)
    assert err["code"] == "request.invalid" and list(err["fields"]) == ["days"]
