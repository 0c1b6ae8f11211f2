"""The cases API end to end: create from an order reference, act, read the timeline."""

from __future__ import annotations

from decimal import Decimal

from aftersales.cases.models import Case, CaseEvent
from aftersales.ledger.refunds import refund_send
from aftersales.tests import factories as f


def test_create_case_from_order_reference_then_walk_return_refund(api_for, agent, warehouse, order):
    api = api_for(agent)
    line = order.lines.get()
    resp = api.post(
        "/cases",
        {
            "type": "return_refund",
            "reason": "quality_defect",
            "channel_id": order.channel_id,
            "external_id": order.external_id,
            "lines": [{"sku": line.sku, "quantity": 1}],
            "customer_words": "屏幕有划痕",
            "emotion": "anxious",
        },
    )
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["status"] == "awaiting_merchant"
    assert body["priority"] == 3
    assert body["lines"] == [
        {
            "id": body["lines"][0]["id"],
            "order_line_id": line.pk,
            "sku": line.sku,
            "quantity": 1,
            "grade": "",
            "disposition": "",
        }
    ]
    assert body["allowed_actions"] == [
        "reject",
        "request_info",
        "escalate",
        "assign",
        "comment",
        "cancel",
        "close",
        "compensate",
        "approve",
        "refund",
    ]
    case_id = body["id"]

    resp = api.post(f"/cases/{case_id}/actions/approve", {})
    assert resp.status_code == 200, resp.content
    assert resp.json()["status"] == "awaiting_return"

    resp = api.post(
        f"/cases/{case_id}/actions/record_return",
        {"courier": "SF", "tracking_number": "SF1234567890"},
    )
    assert resp.json()["status"] == "return_in_transit"

    wh = api_for(warehouse)
    case_line_id = body["lines"][0]["id"]
    resp = wh.post(
        f"/cases/{case_id}/actions/receive",
        {
            "lines": [
                {"case_line_id": case_line_id, "grade": "resellable", "disposition": "restock"}
            ]
        },
    )
    assert resp.status_code == 200, resp.content
    assert resp.json()["status"] == "inspecting"
    assert resp.json()["lines"][0]["disposition"] == "restock"

    resp = api.post(f"/cases/{case_id}/actions/refund", {})
    assert resp.status_code == 200, resp.content
    assert resp.json()["status"] == "refunding"
    assert resp.json()["refund_amount"] == "50.00"

    # No payment account: finance pays it by hand and confirms with the bank's reference.
    refunds = api.get(f"/cases/{case_id}/refunds").json()
    assert [(r["provider"], r["status"], r["amount"]) for r in refunds] == [
        ("manual", "pending", "50.00")
    ]
    refund_send(refund_id=refunds[0]["id"])
    finance = api_for(f.user("finance", [order.shop]))
    resp = finance.client.post(
        f"/api/v1/refunds/{refunds[0]['id']}/actions/confirm",
        {"reference": "CMB-0001"},
        **finance.headers,
    )
    assert resp.status_code == 200, resp.content
    detail = api.get(f"/cases/{case_id}").json()
    assert detail["status"] == "succeeded"
    assert detail["outcome"] == "refunded"
    assert [e["kind"] for e in detail["timeline"]] == [
        "created",
        "decision",
        "approve",
        "record_return",
        "receive",
        "refund",
        "refund_settled",
    ]
    assert detail["timeline"][-1]["from_status"] == "refunding"
    assert detail["timeline"][-1]["to_status"] == "succeeded"
    assert detail["timeline"][1]["data"]["rule"] == "no_policy"  # this shop has no policy
    assert detail["timeline"][2]["actor"] == "agent1"
    assert Case.objects.get(pk=case_id).refund_amount == Decimal("50.00")
    assert CaseEvent.objects.filter(case_id=case_id).count() == 7


def test_case_of_another_shop_is_404_and_never_listed(api_for, agent, other_shop):
    foreign = f.case(f.order(f.channel(other_shop)))
    api = api_for(agent)
    resp = api.get(f"/cases/{foreign.pk}")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "case.not_found"
    resp = api.post(f"/cases/{foreign.pk}/actions/approve", {})
    assert resp.status_code == 404
    assert Case.objects.get(pk=foreign.pk).status == "awaiting_merchant"
    assert api.get("/cases").json()["items"] == []
