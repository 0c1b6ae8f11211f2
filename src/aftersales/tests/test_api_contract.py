"""The API's published shape: the OpenAPI snapshot, the docs page, query counts of the list
endpoints, and keyset pages of /cases under every filter.

Refresh the snapshot after a deliberate API change with
`UPDATE_SNAPSHOTS=1 .venv/bin/pytest src/aftersales/tests/test_api_contract.py` and commit it.
"""

from __future__ import annotations

import difflib
import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from aftersales.cases.models import Case
from aftersales.cases.services import case_approve, case_assign, case_close, case_reject
from aftersales.tests import factories as f
from aftersales.tests.contract import ACTIONS

SNAPSHOT = Path(__file__).parent / "snapshots" / "openapi.json"


def _render(schema: dict) -> str:
    # Sorted keys and a fixed layout: the file changes only when the contract does.
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_openapi_schema_matches_the_snapshot(db):
    resp = Client().get("/api/v1/openapi.json")
    assert resp.status_code == 200
    assert resp["Content-Type"] == "application/json"
    actual = _render(resp.json())
    assert _render(Client().get("/api/v1/openapi.json").json()) == actual  # stable
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(actual, encoding="utf-8")
    assert SNAPSHOT.exists(), "no snapshot yet: run with UPDATE_SNAPSHOTS=1"
    expected = SNAPSHOT.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    expected.splitlines(keepends=True),
                    actual.splitlines(keepends=True),
                    "snapshots/openapi.json",
                    "GET /api/v1/openapi.json",
                )
            )[:200]
        )
        pytest.fail(
            "The OpenAPI schema changed. If that is intended, rerun with UPDATE_SNAPSHOTS=1 "
            "and commit the snapshot.\n" + diff
        )


def test_openapi_lists_every_endpoint_and_the_error_shape(db):
    schema = Client().get("/api/v1/openapi.json").json()
    actions = ACTIONS
    expected = {
        "/api/v1/channels": {"get", "post"},
        "/api/v1/products": {"get", "post"},
        "/api/v1/orders": {"get", "post"},
        "/api/v1/orders/export": {"get"},
        "/api/v1/channels/{shop_code}/{channel_code}/events": {"post"},
        "/api/v1/imports": {"post"},
        "/api/v1/imports/{import_id}": {"get"},
        "/api/v1/imports/{import_id}/errors": {"get"},
        "/api/v1/orders/lookup": {"get"},
        "/api/v1/orders/{order_id}": {"get"},
        "/api/v1/cases": {"get", "post"},
        "/api/v1/cases/export": {"get"},
        "/api/v1/cases/{case_id}": {"get"},
        "/api/v1/cases/{case_id}/evidence": {"post"},
        "/api/v1/cases/{case_id}/evidence/{evidence_id}": {"get"},
        **{f"/api/v1/cases/{{case_id}}/actions/{a}": {"post"} for a in actions},
        "/api/v1/policies": {"get", "post"},
        "/api/v1/broadcasts": {"get", "post"},
        "/api/v1/broadcasts/{broadcast_id}": {"get"},
        "/api/v1/shops/{shop_id}/shifts": {"get", "post"},
        "/api/v1/shops/{shop_id}/shifts/{shift_id}": {"delete"},
        "/api/v1/shops/{shop_id}/members/{user_id}/actions/deactivate": {"post"},
        "/api/v1/policies/versions/{version_id}": {"get"},
        "/api/v1/policies/versions/{version_id}/export": {"get"},
        "/api/v1/policies/versions/{version_id}/publish": {"post"},
        "/api/v1/policies/whatif": {"post"},
        "/api/v1/cases/{case_id}/refunds": {"get"},
        "/api/v1/refunds/{refund_id}/actions/confirm": {"post"},
        "/api/v1/refunds/{refund_id}/actions/fail": {"post"},
        "/api/v1/payments/{account_id}/notify": {"post"},
        "/api/v1/compensations": {"get"},
        "/api/v1/compensations/{compensation_id}/actions/approve": {"post"},
        "/api/v1/compensations/{compensation_id}/actions/refuse": {"post"},
        "/api/v1/ledger/accounts": {"get"},
        "/api/v1/ledger/entries": {"get"},
        "/api/v1/ledger/exports/journal": {"get"},
        "/api/v1/ledger/exports/refunds": {"get"},
        "/api/v1/ledger/reconciliation": {"get"},
        "/api/v1/ledger/penalties": {"post"},
        "/api/v1/courier-events": {"post"},
        "/api/v1/cases/{case_id}/parcels": {"get"},
        "/api/v1/warehouses": {"get"},
        "/api/v1/intercepts/{intercept_id}/actions/resolve": {"post"},
        "/api/v1/supplier-claims": {"get"},
        "/api/v1/supplier-claims/{claim_id}/actions/settle": {"post"},
        "/api/v1/stock": {"get"},
    }
    assert {path: set(ops) for path, ops in schema["paths"].items()} == expected
    assert schema["components"]["schemas"]["ErrorBody"]["required"] == [
        "code",
        "message",
        "fields",
    ]
    create = schema["paths"]["/api/v1/cases"]["post"]["responses"]
    assert sorted(create) == ["201", "400", "401", "403", "404", "409", "422"]
    assert schema["components"]["securitySchemes"] == {
        "BearerToken": {"type": "http", "scheme": "bearer"}
    }


def test_docs_page_answers_without_a_token(db):
    resp = Client().get("/api/v1/docs")
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("text/html")
    assert b"openapi.json" in resp.content


# --------------------------------------------------------------------------- query counts

# token lookup, the user's shops, the page's ids, the page of cases (order, assignee joined)
CASE_LIST_QUERIES = 4
# token lookup, the user's shops, the page of orders, its lines, its shipments
ORDER_LIST_QUERIES = 5


def test_case_list_query_count_does_not_grow_with_cases(
    api_for, agent, lead, channel, shop, django_assert_num_queries
):
    api = api_for(agent)
    api.get("/cases")  # first use of the token records last_used_at
    f.case(f.order(channel))
    with django_assert_num_queries(CASE_LIST_QUERIES):
        resp = api.get("/cases")
    assert len(resp.json()["items"]) == 1

    for i in range(29):
        if i % 3 == 0:
            case = f.case(None, case_type="complaint", reason="service_attitude", shop=shop)
        else:
            case = f.case(f.order(channel), case_type="exchange")
        if i % 2:
            case_assign(case=case, actor=None, assignee=lead if i % 4 == 1 else agent)
    with django_assert_num_queries(CASE_LIST_QUERIES):
        resp = api.get("/cases")
    items = resp.json()["items"]
    assert len(items) == 30
    assert sum(1 for item in items if item["assignee"] is not None) == 14
    assert sum(1 for item in items if item["order"] is not None) == 20


def test_order_list_query_count_does_not_grow_with_orders(
    api_for, agent, channel, django_assert_num_queries
):
    api = api_for(agent)
    api.get("/orders")
    product = f.product(channel.shop)
    f.order(channel, [(product, 1, "10.00", "0.00")])
    with django_assert_num_queries(ORDER_LIST_QUERIES):
        resp = api.get("/orders")
    assert len(resp.json()["items"]) == 1
    for _ in range(29):
        f.order(channel, [(product, 2, "10.00", "0.00"), (f.product(channel.shop), 1, "5", "0")])
    with django_assert_num_queries(ORDER_LIST_QUERIES):
        resp = api.get("/orders")
    assert len(resp.json()["items"]) == 30


# --------------------------------------------------------------------------- /cases filters

TZ = timezone.get_fixed_timezone(8 * 60)


@pytest.fixture
def board(shop, other_shop, agent, lead):
    """Eight cases of one shop on two channels (created on Nov 1 … 8), one of another shop."""
    tb = f.channel(shop, code="tb")
    jd = f.channel(shop, kind="jd", code="jd")
    cases = [
        f.case(f.order(tb), "return_refund", "quality_defect"),  # 1: priority 3
        f.case(None, "complaint", "service_attitude", shop=shop),  # 2: priority 2
        f.case(f.order(jd), "refund_only", "funds_not_received"),  # 3: priority 1
        f.case(f.order(tb), "exchange", "wrong_item"),  # 4: assigned to agent
        f.case(f.order(jd), "return_refund", "usage_question"),  # 5: priority 4
        f.case(f.order(tb), "repair", "quality_defect"),  # 6: approved, assigned to lead
        f.case(f.order(tb), "return_refund", "quality_defect"),  # 7: rejected
        f.case(f.order(jd), "reissue", "missing_item"),  # 8: closed
    ]
    for day, case in enumerate(cases, start=1):
        Case.objects.filter(pk=case.pk).update(created_at=datetime(2026, 11, day, 10, tzinfo=TZ))
    case_assign(case=cases[3], actor=None, assignee=agent)
    case_approve(case=cases[5], actor=None)
    case_assign(case=cases[5], actor=None, assignee=lead)
    case_reject(case=cases[6], actor=None, note="超过保修期")
    case_close(case=cases[7], actor=None, outcome="withdrawn")
    foreign = f.case(f.order(f.channel(other_shop)))
    ids = {n: case.pk for n, case in enumerate(cases, start=1)}
    return ids, tb, jd, foreign


def _walk(api, params: dict) -> list[list[int]]:
    pages, cursor = [], None
    for _ in range(50):
        resp = api.get("/cases", dict(params, **({"cursor": cursor} if cursor else {})))
        assert resp.status_code == 200, resp.content
        body = resp.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert cursor == str(pages[-1][-1])
    raise AssertionError("next_cursor never ended")


def _flat(pages: list[list[int]]) -> list[int]:
    return [i for page in pages for i in page]


def test_cases_keyset_pages_walk_every_case_once(api_for, agent, board):
    ids, *_ = board
    api = api_for(agent)
    newest_first = [ids[n] for n in range(8, 0, -1)]
    assert _walk(api, {"limit": 3}) == [newest_first[0:3], newest_first[3:6], newest_first[6:8]]
    assert _walk(api, {"limit": 8}) == [newest_first]
    assert _walk(api, {}) == [newest_first]
    assert _walk(api, {"limit": 1}) == [[i] for i in newest_first]


def _expect(ids: dict[int, int], *numbers: int) -> list[int]:
    return [ids[n] for n in sorted(numbers, reverse=True)]


@pytest.mark.parametrize(
    "params,numbers",
    [
        ({"status": "awaiting_merchant"}, [1, 2, 3, 4, 5]),
        ({"status": ["awaiting_return", "rejected"]}, [6, 7]),
        ({"status": "closed"}, [8]),
        ({"status": "succeeded"}, []),
        ({"type": "return_refund"}, [1, 5, 7]),
        ({"type": ["complaint", "refund_only"]}, [2, 3]),
        ({"channel_id": "jd"}, [3, 5, 8]),
        ({"channel_id": "tb"}, [1, 4, 6, 7]),
        ({"priority": 1}, [3]),
        ({"priority": 2}, [2]),
        ({"priority": 3}, [1, 4, 6, 7, 8]),
        ({"priority": 4}, [5]),
        ({"reason": "quality_defect"}, [1, 6, 7]),
        ({"reason": "funds_not_received"}, [3]),
        ({"assignee_id": "agent"}, [4]),
        ({"assignee_id": "lead"}, [6]),
        ({"unassigned": "true"}, [1, 2, 3, 5, 7, 8]),
        ({"unassigned": "false"}, [1, 2, 3, 4, 5, 6, 7, 8]),
        ({"created_from": "2026-11-03T00:00:00+08:00"}, [3, 4, 5, 6, 7, 8]),
        ({"created_to": "2026-11-03T00:00:00+08:00"}, [1, 2]),
        (
            {
                "created_from": "2026-11-03T10:00:00+08:00",
                "created_to": "2026-11-06T10:00:00+08:00",
            },
            [3, 4, 5],
        ),
        # a time without a zone is read in the deployment's zone (Asia/Shanghai)
        ({"created_from": "2026-11-07T10:00:00"}, [7, 8]),
        (
            {"channel_id": "tb", "status": "awaiting_merchant", "unassigned": "true"},
            [1],
        ),
        ({"type": "return_refund", "reason": "quality_defect", "priority": 3}, [1, 7]),
    ],
)
def test_case_filters_return_exactly_these_cases(api_for, agent, lead, board, params, numbers):
    ids, tb, jd, _ = board
    lookups = {"tb": tb.pk, "jd": jd.pk, "agent": agent.pk, "lead": lead.pk}
    params = {k: lookups.get(v, v) if isinstance(v, str) else v for k, v in params.items()}
    api = api_for(agent)
    expected = _expect(ids, *numbers)
    assert _walk(api, params) == [expected]
    # the same filter, two at a time, walks the same cases exactly once
    pages = _walk(api, dict(params, limit=2))
    assert _flat(pages) == expected
    assert all(len(page) == 2 for page in pages[:-1])


def test_case_filters_never_reach_another_shop(api_for, agent, board, other_shop, shop):
    ids, _tb, _jd, foreign = board
    api = api_for(agent)
    assert api.get("/cases", {"channel_id": foreign.channel_id}).json() == {
        "items": [],
        "next_cursor": None,
    }
    assert api.get("/cases", {"shop_id": other_shop.pk}).json()["items"] == []
    both = api_for(f.user("manager", [shop, other_shop]))
    assert _walk(both, {"shop_id": other_shop.pk}) == [[foreign.pk]]
    assert _walk(both, {"shop_id": shop.pk, "limit": 5}) == [
        _expect(ids, 8, 7, 6, 5, 4),
        _expect(ids, 3, 2, 1),
    ]
    assert _flat(_walk(both, {"limit": 4})) == sorted([*ids.values(), foreign.pk], reverse=True)


def test_case_list_items_have_the_summary_shape(api_for, agent, board):
    ids, tb, _jd, _ = board
    item = api_for(agent).get("/cases", {"assignee_id": agent.pk}).json()["items"][0]
    case = Case.objects.get(pk=ids[4])
    assert item == {
        "id": ids[4],
        "reference": f"AS{ids[4]:08d}",
        "shop_id": case.shop_id,
        "type": "exchange",
        "status": "awaiting_merchant",
        "reason": "wrong_item",
        "priority": 3,
        "priority_reason": "default",
        "order": {"id": case.order_id, "channel_id": tb.pk, "external_id": case.order.external_id},
        "channel_id": tb.pk,
        "customer_id": case.customer_id,
        "assignee": "agent1",
        "team_id": None,
        "escalation_level": 0,
        "outcome": "",
        "refund_amount": None,
        "created_at": "2026-11-04T02:00:00Z",
        "updated_at": item["updated_at"],
    }
    assert timezone.now() - datetime.fromisoformat(item["updated_at"]) < timedelta(minutes=5)
