"""Every endpoint refuses bad input with the one error shape, the exact code and field keys,
never a 500, and writes nothing when it refuses (DESIGN §7)."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import hypothesis
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from hypothesis import strategies as st

from aftersales.accounts.models import ApiToken, Team
from aftersales.accounts.services import token_revoke
from aftersales.cases.evidence import evidence_add
from aftersales.cases.models import Case, CaseEvent, Evidence
from aftersales.cases.services import case_approve, case_close, case_reject
from aftersales.tests import factories as f
from aftersales.tests.contract import (
    ACTIONS,
    TINY_JPEG,
    assert_error,
    db_state,
    tiny_png,
    upload,
)

# A return case may also be refunded at once (keep the item) from awaiting_merchant.
FRESH_ALLOWED = "reject,request_info,escalate,assign,comment,cancel,close,compensate,approve,refund"
HUGE = 10**23  # beyond any 64-bit id


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def _files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def qa(shop):
    return f.user("qa", [shop], "qa1")


@pytest.fixture
def admin(shop):
    return f.user("admin", [shop], "admin1")


@pytest.fixture
def outsider(other_shop):
    return f.user("agent", [other_shop], "outsider1")


@pytest.fixture
def world(shop, channel, order, agent, manager):
    """A return_refund case on the default order (2 × 50.00) with one photo attached."""
    case = f.case(order)
    evidence = evidence_add(
        case=case,
        actor=None,
        upload=SimpleUploadedFile("scratch.png", tiny_png()),
        kind="photo",
    )
    return SimpleNamespace(
        shop=shop,
        channel=channel,
        order=order,
        sku=order.lines.get().sku,
        case=case,
        case_line=case.lines.get(),
        evidence=evidence,
        agent=agent,
        manager=manager,
    )


def valid_action_body(action: str, w) -> dict:
    return {
        "approve": {},
        "reject": {"note": "超过七天"},
        "request_info": {"question": "请补充照片"},
        "provide_info": {"answer": "已补充"},
        "record_return": {"courier": "SF", "tracking_number": "SF100"},
        "receive": {
            "lines": [
                {"case_line_id": w.case_line.pk, "grade": "resellable", "disposition": "restock"}
            ]
        },
        "refund": {},
        "process": {},
        "ship": {"courier": "SF", "tracking_number": "SF200"},
        "complete": {},
        "escalate": {},
        "appeal": {"note": "不服"},
        "cancel": {},
        "close": {"outcome": "expired"},
        "comment": {"text": "已联系客户"},
        "assign": {"assignee_id": w.agent.pk},
        "inspect": {
            "lines": [
                {"case_line_id": w.case_line.pk, "grade": "refurbish", "disposition": "refurbish"}
            ]
        },
        "intercept": {},
        "factory_send": {"factory": "深圳工厂", "courier": "SF", "tracking_number": "SF300"},
        "factory_receive": {"courier": "SF", "tracking_number": "SF301"},
        "compensate": {"amount": "5.00", "note": "致歉"},
    }[action]


def valid_order_body(w, external_id="NEW-1") -> dict:
    return {
        "channel_id": w.channel.pk,
        "external_id": external_id,
        "lines": [{"sku": w.sku, "quantity": 1, "unit_price": "50.00"}],
    }


def valid_case_body(w) -> dict:
    return {"type": "complaint", "reason": "service_attitude", "shop_id": w.shop.pk}


# --------------------------------------------------------------------------- 401


def _endpoints():
    yield "GET /channels", "get", "/channels", None
    yield "POST /channels", "post", "/channels", "channel"
    yield "GET /products", "get", "/products?shop_id={shop}", None
    yield "POST /products", "post", "/products", "product"
    yield "GET /orders", "get", "/orders", None
    yield "POST /orders", "post", "/orders", "order"
    yield "GET /orders/lookup", "get", "/orders/lookup?channel_id={channel}&external_id={ext}", None
    yield "GET /orders/{id}", "get", "/orders/{order}", None
    yield "GET /cases", "get", "/cases", None
    yield "POST /cases", "post", "/cases", "case"
    yield "GET /cases/{id}", "get", "/cases/{case}", None
    yield "POST /cases/{id}/evidence", "multipart", "/cases/{case}/evidence", None
    yield "GET /cases/{id}/evidence/{eid}", "get", "/cases/{case}/evidence/{evidence}", None
    for action in ACTIONS:
        yield f"POST actions/{action}", "post", f"/cases/{{case}}/actions/{action}", action


ENDPOINTS = list(_endpoints())


def _call(client: Client, w, method: str, template: str, body_kind, headers: dict):
    path = "/api/v1" + template.format(
        shop=w.shop.pk,
        channel=w.channel.pk,
        ext=w.order.external_id,
        order=w.order.pk,
        case=w.case.pk,
        evidence=w.evidence.pk,
    )
    if method == "get":
        return client.get(path, **headers)
    if method == "multipart":
        data = {"kind": "photo", "file": SimpleUploadedFile("a.png", tiny_png())}
        return client.post(path, data, **headers)
    body = {
        "channel": {"shop_id": w.shop.pk, "kind": "jd", "code": "jd-main", "name": "京东"},
        "product": {"shop_id": w.shop.pk, "sku": "NEW-SKU", "name": "新品", "price": "9.90"},
        "order": valid_order_body(w),
        "case": valid_case_body(w),
    }.get(body_kind) or valid_action_body(body_kind, w)
    return client.post(path, json.dumps(body), content_type="application/json", **headers)


BAD_AUTH = {
    "missing": {},
    "unknown token": {"HTTP_AUTHORIZATION": "Bearer as_not-a-real-token"},
    "not our prefix": {"HTTP_AUTHORIZATION": "Bearer abc"},
    "empty bearer": {"HTTP_AUTHORIZATION": "Bearer "},
    "other scheme": {"HTTP_AUTHORIZATION": "Basic YWdlbnQxOnB3"},
}


@pytest.mark.parametrize("auth", list(BAD_AUTH), ids=list(BAD_AUTH))
@pytest.mark.parametrize(
    "method,template,body_kind", [e[1:] for e in ENDPOINTS], ids=[e[0] for e in ENDPOINTS]
)
def test_every_endpoint_without_a_valid_token_is_401(
    world, media, auth, method, template, body_kind
):
    before, files = db_state(), _files(media)
    resp = _call(Client(), world, method, template, body_kind, BAD_AUTH[auth])
    assert_error(resp, 401, "auth.required", {})
    assert db_state() == before
    assert _files(media) == files


@pytest.mark.parametrize("case", ["revoked", "inactive user"])
def test_revoked_token_or_inactive_user_is_401(world, case):
    key = f.token(world.manager)
    if case == "revoked":
        token_revoke(token=ApiToken.objects.get(user=world.manager))
    else:
        world.manager.is_active = False
        world.manager.save(update_fields=["is_active"])
    before = db_state()
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    assert_error(client.get("/api/v1/cases", **headers), 401, "auth.required", {})
    resp = client.post(
        f"/api/v1/cases/{world.case.pk}/actions/approve",
        "{}",
        content_type="application/json",
        **headers,
    )
    assert_error(resp, 401, "auth.required", {})
    assert db_state() == before
    assert Case.objects.get(pk=world.case.pk).status == "awaiting_merchant"


# --------------------------------------------------------------------------- unknown paths


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nope",
        "/api/v1/cases/1/actions/explode",
        "/api/v1/cases/1/timeline",
        "/api/v2/cases",
        "/api/",
        "/api/v1/cases/1/evidence/1/download",
    ],
)
@pytest.mark.parametrize("authenticated", [True, False])
def test_unknown_api_path_is_a_json_404(api_for, agent, path, authenticated):
    client = api_for(agent if authenticated else None)
    resp = client.client.get(path, **client.headers)
    assert_error(resp, 404, "not_found", {})
    resp = client.client.post(path, "{}", content_type="application/json", **client.headers)
    assert_error(resp, 404, "not_found", {})


@pytest.mark.parametrize("method", ["get", "post"])
def test_api_root_is_a_json_404(api_for, agent, method):
    api = api_for(agent)
    resp = getattr(api.client, method)("/api/v1/", **api.headers)
    assert_error(resp, 404, "not_found", {})


@pytest.mark.parametrize(
    "method,path",
    [("get", "/api/v1/cases/1/actions/approve"), ("put", "/api/v1/cases"), ("delete", "/orders")],
)
def test_wrong_method_answers_json(api_for, agent, method, path):
    api = api_for(agent)
    path = path if path.startswith("/api") else "/api/v1" + path
    resp = getattr(api.client, method)(path, **api.headers)
    assert resp.status_code == 405
    assert resp["Content-Type"] == "application/json"
    assert set(resp.json()["error"]) == {"code", "message", "fields"}


# --------------------------------------------------------------------------- malformed JSON

JSON_ENDPOINTS = [
    "/channels",
    "/products",
    "/orders",
    "/cases",
    *[f"/cases/{{case}}/actions/{a}" for a in ACTIONS],
]


@pytest.mark.parametrize("template", JSON_ENDPOINTS)
@pytest.mark.parametrize("raw", ['{"type": "complaint",', "{'a': 1}", "\xff\xfe"])
def test_malformed_json_is_400_and_writes_nothing(api_for, world, admin, template, raw):
    api = api_for(admin)
    before = db_state()
    resp = api.post(template.format(case=world.case.pk), raw)
    assert_error(resp, 400, "request.malformed", {"body"})
    assert db_state() == before


@pytest.mark.parametrize("template", ["/orders", "/cases", "/cases/{case}/actions/approve"])
def test_malformed_json_names_the_body(api_for, world, template):
    resp = api_for(world.manager).post(template.format(case=world.case.pk), '{"a": ')
    assert_error(resp, 400, "request.malformed", {"body"})


@pytest.mark.parametrize("template", JSON_ENDPOINTS)
@pytest.mark.parametrize("raw", ["[1, 2]", "null", '"text"', "42"])
def test_json_that_is_not_an_object_is_422_body(api_for, world, admin, template, raw):
    api = api_for(admin)
    before = db_state()
    resp = api.post(template.format(case=world.case.pk), raw)
    assert_error(resp, 422, "request.invalid", {"body"})
    assert db_state() == before


# --------------------------------------------------------------------------- channels


@pytest.mark.parametrize(
    "body,fields",
    [
        ({}, {"shop_id", "kind", "code", "name"}),
        ({"kind": "jd", "code": "jd", "name": "京东"}, {"shop_id"}),
        ({"shop_id": "one", "kind": "jd", "code": "jd", "name": "京东"}, {"shop_id"}),
        ({"shop_id": "{shop}", "kind": "amazon", "code": "jd", "name": "京东"}, {"kind"}),
        ({"shop_id": "{shop}", "kind": "jd", "code": "jd main", "name": "京东"}, {"code"}),
        ({"shop_id": "{shop}", "kind": "jd", "code": "", "name": "京东"}, {"code"}),
        ({"shop_id": "{shop}", "kind": "jd", "code": "x" * 41, "name": "京东"}, {"code"}),
        ({"shop_id": "{shop}", "kind": "jd", "code": "jd", "name": ""}, {"name"}),
        ({"shop_id": "{shop}", "kind": "jd", "code": "jd", "name": "n", "x": 1}, {"x"}),
        ({"shop_id": "{shop}", "kind": 7, "code": ["jd"], "name": None}, {"kind", "code", "name"}),
    ],
)
def test_channel_create_bad_input(api_for, admin, shop, body, fields):
    body = {k: shop.pk if v == "{shop}" else v for k, v in body.items()}
    before = db_state()
    assert_error(api_for(admin).post("/channels", body), 422, "request.invalid", fields)
    assert db_state() == before


def test_channel_create_refusals(api_for, admin, agent, shop, other_shop, channel):
    before = db_state()
    body = {"shop_id": shop.pk, "kind": "jd", "code": channel.code, "name": "重复"}
    assert_error(api_for(admin).post("/channels", body), 409, "channel.exists", {"code"})
    body = {"shop_id": other_shop.pk, "kind": "jd", "code": "jd", "name": "别家"}
    assert_error(
        api_for(admin).post("/channels", body),
        404,
        "shop.not_found",
        {"shop_id": str(other_shop.pk)},
    )
    body = {"shop_id": shop.pk, "kind": "jd", "code": "jd", "name": "京东"}
    assert_error(
        api_for(agent).post("/channels", body),
        403,
        "permission.denied",
        {"permission": "channels.add_channel"},
    )
    assert db_state() == before


# --------------------------------------------------------------------------- products


@pytest.fixture
def integration(shop):
    return f.user("integration", [shop], "erp1")


PRODUCT = {"sku": "P-1", "name": "保温杯", "price": "89.00"}


@pytest.mark.parametrize(
    "change,fields",
    [
        ({"sku": None, "name": None, "price": None}, {"sku", "name", "price"}),
        ({"price": "-0.01"}, {"price"}),
        ({"price": "1.005"}, {"price"}),
        ({"price": "12345678901.00"}, {"price"}),
        ({"price": "abc"}, {"price"}),
        ({"price": "NaN"}, {"price"}),
        ({"warranty_months": -1}, {"warranty_months"}),
        ({"warranty_months": 241}, {"warranty_months"}),
        ({"active": "sometimes"}, {"active"}),
        ({"sku": ""}, {"sku"}),
        ({"colour": "red"}, {"colour"}),
    ],
)
def test_product_upsert_bad_input(api_for, integration, shop, change, fields):
    body = {"shop_id": shop.pk, **PRODUCT, **change}
    body = {k: v for k, v in body.items() if v is not None}
    before = db_state()
    assert_error(api_for(integration).post("/products", body), 422, "request.invalid", fields)
    assert db_state() == before


def test_product_upsert_refusals(api_for, integration, agent, shop, other_shop):
    before = db_state()
    body = {"shop_id": shop.pk, **PRODUCT, "category": "nope"}
    assert_error(api_for(integration).post("/products", body), 422, "product.invalid", {"category"})
    body = {"shop_id": other_shop.pk, **PRODUCT}
    assert_error(
        api_for(integration).post("/products", body),
        404,
        "shop.not_found",
        {"shop_id": str(other_shop.pk)},
    )
    body = {"shop_id": shop.pk, **PRODUCT}
    assert_error(
        api_for(agent).post("/products", body),
        403,
        "permission.denied",
        {"permission": "catalog.add_product"},
    )
    assert db_state() == before


def test_product_list_bad_input(api_for, agent, shop, other_shop):
    api = api_for(agent)
    assert_error(api.get("/products"), 422, "request.invalid", {"shop_id"})
    assert_error(api.get("/products", {"shop_id": "x"}), 422, "request.invalid", {"shop_id"})
    assert_error(
        api.get("/products", {"shop_id": other_shop.pk}),
        404,
        "shop.not_found",
        {"shop_id": str(other_shop.pk)},
    )
    assert_error(
        api.get("/products", {"shop_id": HUGE}), 404, "shop.not_found", {"shop_id": str(HUGE)}
    )


# --------------------------------------------------------------------------- orders


def _line(**kw):
    return {"sku": "{sku}", "quantity": 1, "unit_price": "50.00", **kw}


@pytest.mark.parametrize(
    "change,fields",
    [
        (
            {"channel_id": None, "external_id": None, "lines": None},
            {"channel_id", "external_id", "lines"},
        ),
        ({"channel_id": "taobao"}, {"channel_id"}),
        ({"external_id": ""}, {"external_id"}),
        ({"external_id": "x" * 65}, {"external_id"}),
        ({"lines": []}, {"lines"}),
        ({"lines": "SKU1"}, {"lines"}),
        ({"lines": [{}]}, {"lines.0.sku", "lines.0.quantity", "lines.0.unit_price"}),
        ({"lines": [_line(quantity=0)]}, {"lines.0.quantity"}),
        ({"lines": [_line(quantity=-1)]}, {"lines.0.quantity"}),
        ({"lines": [_line(quantity=1.5)]}, {"lines.0.quantity"}),
        ({"lines": [_line(quantity="two")]}, {"lines.0.quantity"}),
        ({"lines": [_line(unit_price="-0.01")]}, {"lines.0.unit_price"}),
        ({"lines": [_line(unit_price="50.001")]}, {"lines.0.unit_price"}),
        ({"lines": [_line(unit_price="Infinity")]}, {"lines.0.unit_price"}),
        ({"lines": [_line(discount="-1.00")]}, {"lines.0.discount"}),
        ({"lines": [_line(discount="0.005")]}, {"lines.0.discount"}),
        ({"lines": [_line(paid_amount="-5")]}, {"lines.0.paid_amount"}),
        ({"lines": [_line(paid_amount="49.999")]}, {"lines.0.paid_amount"}),
        ({"lines": [_line(), _line(colour="red")]}, {"lines.1.colour"}),
        ({"shipping_fee": "-10.00"}, {"shipping_fee"}),
        ({"shipping_fee": "10.001"}, {"shipping_fee"}),
        ({"customer": {"language": "fr"}}, {"customer.language"}),
        ({"customer": {"name": "张三", "vip": True}}, {"customer.vip"}),
        ({"customer": "张三"}, {"customer"}),
        ({"shipments": [{"courier": "SF"}]}, {"shipments.0.tracking_number"}),
        ({"placed_at": "last tuesday"}, {"placed_at"}),
        ({"cancelled": "perhaps"}, {"cancelled"}),
        ({"note": "hello"}, {"note"}),
    ],
)
def test_order_upsert_bad_input(api_for, agent, world, change, fields):
    body = {**valid_order_body(world), **change}
    body = {k: v for k, v in body.items() if v is not None}
    raw = json.dumps(body).replace("{sku}", world.sku)
    before = db_state()
    assert_error(api_for(agent).post("/orders", raw), 422, "request.invalid", fields)
    assert db_state() == before


D1, D2, D3 = "2026-11-01T10:00:00+08:00", "2026-11-02T10:00:00+08:00", "2026-11-03T10:00:00+08:00"
OVER_DISCOUNT = _line(quantity=1, unit_price="10.00", discount="10.01")
OVER_PAID = _line(quantity=2, unit_price="10.00", paid_amount="20.01")


@pytest.mark.parametrize(
    "change,fields",
    [
        ({"lines": [_line(sku="NO-SUCH-SKU")]}, {"lines.0.sku"}),
        ({"lines": [_line(), _line(sku="NO-SUCH-SKU")]}, {"lines.1.sku"}),
        ({"lines": [_line(), _line()]}, {"lines.1.sku"}),
        ({"lines": [OVER_DISCOUNT]}, {"lines.0.paid_amount"}),
        ({"lines": [OVER_PAID]}, {"lines.0.paid_amount"}),
        ({"paid_at": D2, "shipped_at": D1}, {"shipped_at"}),
        ({"paid_at": D1, "shipped_at": D3, "signed_at": D2}, {"signed_at"}),
        ({"shipped_at": D3}, {"paid_at"}),
        ({"signed_at": D3}, {"paid_at"}),
    ],
)
def test_order_upsert_business_refusals(api_for, agent, world, change, fields):
    body = {**valid_order_body(world), **change}
    raw = json.dumps(body).replace("{sku}", world.sku)
    before = db_state()
    assert_error(api_for(agent).post("/orders", raw), 422, "order.invalid", fields)
    assert db_state() == before


def test_order_upsert_refusals_by_scope_and_role(api_for, world, qa, outsider, other_shop):
    before = db_state()
    assert_error(
        api_for(qa).post("/orders", valid_order_body(world)),
        403,
        "permission.denied",
        {"permission": "channels.add_order"},
    )
    assert_error(
        api_for(outsider).post("/orders", valid_order_body(world)),
        404,
        "channel.not_found",
        {"channel_id": str(world.channel.pk)},
    )
    body = {**valid_order_body(world), "channel_id": 999999}
    assert_error(
        api_for(world.agent).post("/orders", body),
        404,
        "channel.not_found",
        {"channel_id": "999999"},
    )
    body = {**valid_order_body(world), "channel_id": HUGE}
    assert_error(
        api_for(world.agent).post("/orders", body),
        404,
        "channel.not_found",
        {"channel_id": str(HUGE)},
    )
    assert db_state() == before


def test_order_line_total_beyond_the_money_columns_is_422(api_for, agent, world):
    body = {
        **valid_order_body(world, "HUGE-1"),
        "lines": [{"sku": world.sku, "quantity": 100000, "unit_price": "9999999999.99"}],
    }
    before = db_state()
    resp = api_for(agent).post("/orders", body)
    error = assert_error(resp, 422, "order.invalid", set(resp.json()["error"]["fields"]))
    assert error["fields"]
    assert set(error["fields"]) <= {"lines.0.quantity", "lines.0.unit_price", "lines.0.paid_amount"}
    assert db_state() == before
    assert api_for(agent).get("/orders").status_code == 200


def test_order_total_beyond_the_money_columns_is_422(api_for, agent, world):
    body = {
        **valid_order_body(world, "HUGE-2"),
        "shipping_fee": "9999999999.99",
        "lines": [{"sku": world.sku, "quantity": 1, "unit_price": "9999999999.99"}],
    }
    before = db_state()
    resp = api_for(agent).post("/orders", body)
    error = assert_error(resp, 422, "order.invalid", set(resp.json()["error"]["fields"]))
    assert error["fields"]
    assert set(error["fields"]) <= {"shipping_fee", "lines", "lines.0.paid_amount"}
    assert db_state() == before


@pytest.mark.parametrize(
    "value",
    ["0001-01-01T00:00:00", "0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00"],
)
def test_order_time_outside_the_calendar_is_422(api_for, agent, world, value):
    before = db_state()
    api = api_for(agent)
    resp = api.post("/orders", {**valid_order_body(world, "OLD-1"), "placed_at": value})
    assert_error(resp, 422, "request.invalid", {"placed_at"})
    assert db_state() == before
    assert api.get("/orders").status_code == 200
    assert_error(
        api.get("/cases", {"created_from": value}), 422, "request.invalid", {"created_from"}
    )


@pytest.mark.parametrize(
    "params,fields",
    [
        ({"cursor": 0}, {"cursor"}),
        ({"cursor": "abc"}, {"cursor"}),
        ({"limit": 0}, {"limit"}),
        ({"limit": 201}, {"limit"}),
        ({"channel_id": "taobao"}, {"channel_id"}),
    ],
)
def test_order_list_bad_query(api_for, agent, params, fields):
    assert_error(api_for(agent).get("/orders", params), 422, "request.invalid", fields)


def test_order_lookup_and_detail_refusals(api_for, world, outsider):
    api = api_for(world.agent)
    assert_error(api.get("/orders/lookup"), 422, "request.invalid", {"channel_id", "external_id"})
    assert_error(
        api.get("/orders/lookup", {"channel_id": "x", "external_id": "1"}),
        422,
        "request.invalid",
        {"channel_id"},
    )
    assert_error(
        api.get("/orders/lookup", {"channel_id": world.channel.pk, "external_id": "NOPE"}),
        404,
        "order.not_found",
        {"external_id": "NOPE"},
    )
    assert_error(
        api.get("/orders/lookup", {"channel_id": 999999, "external_id": "NOPE"}),
        404,
        "channel.not_found",
        {"channel_id": "999999"},
    )
    assert_error(api.get("/orders/abc"), 422, "request.invalid", {"order_id"})
    assert_error(api.get("/orders/999999"), 404, "order.not_found", {})
    assert_error(api.get(f"/orders/{HUGE}"), 404, "order.not_found", {})
    out = api_for(outsider)
    assert_error(out.get(f"/orders/{world.order.pk}"), 404, "order.not_found", {})
    assert_error(
        out.get(
            "/orders/lookup",
            {"channel_id": world.channel.pk, "external_id": world.order.external_id},
        ),
        404,
        "channel.not_found",
        {"channel_id": str(world.channel.pk)},
    )


# --------------------------------------------------------------------------- list filters


@pytest.mark.parametrize(
    "params,fields",
    [
        ({"priority": 9}, {"priority"}),
        ({"priority": "urgent"}, {"priority"}),
        ({"reason": "bored"}, {"reason"}),
        ({"unassigned": "maybe"}, {"unassigned"}),
        ({"created_from": "yesterday"}, {"created_from"}),
        ({"created_to": "2026-13-01"}, {"created_to"}),
        ({"cursor": 0}, {"cursor"}),
        ({"cursor": -5}, {"cursor"}),
        ({"limit": 0}, {"limit"}),
        ({"limit": 201}, {"limit"}),
        ({"assignee_id": "me"}, {"assignee_id"}),
        ({"channel_id": "taobao"}, {"channel_id"}),
    ],
)
def test_case_list_bad_query(api_for, agent, params, fields):
    assert_error(api_for(agent).get("/cases", params), 422, "request.invalid", fields)


@pytest.mark.parametrize(
    "params,fields",
    [
        ({"status": "lost"}, {"status.0"}),
        ({"type": ["complaint", "gift"]}, {"type.1"}),
    ],
)
def test_case_list_bad_enum_list_names_the_field(api_for, agent, params, fields):
    assert_error(api_for(agent).get("/cases", params), 422, "request.invalid", fields)


@pytest.mark.parametrize(
    "path,param",
    [
        ("/cases", "channel_id"),
        ("/cases", "shop_id"),
        ("/cases", "assignee_id"),
        ("/cases", "cursor"),
        ("/orders", "channel_id"),
        ("/orders", "cursor"),
    ],
)
def test_out_of_range_id_filters_are_422(api_for, world, path, param):
    resp = api_for(world.agent).get(path, {param: HUGE})
    assert_error(resp, 422, "request.invalid", {param})


# --------------------------------------------------------------------------- create case


def _complaint(**kw):
    return {"type": "complaint", "reason": "other", **kw}


def _return(**kw):
    return {"type": "return_refund", "reason": "other", **kw}


@pytest.mark.parametrize(
    "body,fields",
    [
        ({}, {"type", "reason"}),
        ({"type": "refund", "reason": "other"}, {"type"}),
        ({"type": "complaint", "reason": "bored"}, {"reason"}),
        ({"type": 3, "reason": None}, {"type", "reason"}),
        (_complaint(emotion="sad"), {"emotion"}),
        (_complaint(escalated_to="ceo"), {"escalated_to"}),
        (_complaint(dispute_class="x"), {"dispute_class"}),
        (_complaint(dispute_nature="x"), {"dispute_nature"}),
        (_complaint(order_id="T123"), {"order_id"}),
        (_complaint(shop_id=[1]), {"shop_id"}),
        (_complaint(safety_issue="yes!"), {"safety_issue"}),
        (_complaint(priority=1), {"priority"}),
        (_complaint(status="succeeded"), {"status"}),
        (_complaint(facts="x" * 5001), {"facts"}),
        (_return(lines=[{}]), {"lines.0.quantity"}),
        (_return(lines=[{"quantity": 0}]), {"lines.0.quantity"}),
        (_return(lines=[{"quantity": 1, "x": 1}]), {"lines.0.x"}),
        (_return(lines={"sku": "A"}), {"lines"}),
    ],
)
def test_case_create_bad_input(api_for, agent, world, body, fields):
    before = db_state()
    assert_error(api_for(agent).post("/cases", body), 422, "request.invalid", fields)
    assert db_state() == before


@pytest.mark.parametrize(
    "body,code,fields",
    [
        (_return(channel_id="{channel}"), "case.invalid", {"external_id"}),
        (_return(external_id="{ext}"), "case.invalid", {"channel_id"}),
        (_return(channel_id="{channel}", external_id=""), "case.invalid", {"external_id"}),
        (
            _return(order_id="{order}", lines=[{"sku": "NOPE", "quantity": 1}]),
            "case.invalid_lines",
            {"lines.0.sku"},
        ),
        (
            _return(order_id="{order}", lines=[{"order_line_id": 999999, "quantity": 1}]),
            "case.invalid_lines",
            {"lines.0.order_line_id"},
        ),
        (_return(order_id="{order}", lines=[{"quantity": 1}]), "case.invalid_lines", {"lines.0"}),
        (
            _return(type="exchange", order_id="{order}", lines=[{"sku": "{sku}", "quantity": 3}]),
            "case.invalid_lines",
            {"lines.0.quantity"},
        ),
        (
            _complaint(type="partner_dispute", shop_id="{shop}", partner_id=999999),
            "case.invalid",
            {"partner_id"},
        ),
    ],
)
def test_case_create_business_refusals(api_for, agent, world, body, code, fields):
    raw = (
        json.dumps(body)
        .replace('"{channel}"', str(world.channel.pk))
        .replace('"{order}"', str(world.order.pk))
        .replace('"{shop}"', str(world.shop.pk))
        .replace("{ext}", world.order.external_id)
        .replace("{sku}", world.sku)
    )
    before = db_state()
    assert_error(api_for(agent).post("/cases", raw), 422, code, fields)
    assert db_state() == before


def test_case_create_nothing_left_to_claim(api_for, agent, world):
    # world.case already claims both units of the only line.
    before = db_state()
    resp = api_for(agent).post(
        "/cases", {"type": "refund_only", "reason": "other", "order_id": world.order.pk}
    )
    assert_error(resp, 422, "case.nothing_left", {"lines"})
    assert db_state() == before


def test_case_create_unknown_references_are_404(api_for, agent, world, outsider):
    api = api_for(agent)
    before = db_state()
    base = {"type": "return_refund", "reason": "other"}
    assert_error(api.post("/cases", {**base, "order_id": 999999}), 404, "order.not_found", {})
    assert_error(api.post("/cases", {**base, "order_id": HUGE}), 404, "order.not_found", {})
    assert_error(
        api.post("/cases", {**base, "channel_id": world.channel.pk, "external_id": "NOPE"}),
        404,
        "order.not_found",
        {"external_id": "NOPE"},
    )
    assert_error(
        api.post("/cases", {**base, "channel_id": 999999, "external_id": "NOPE"}),
        404,
        "channel.not_found",
        {"channel_id": "999999"},
    )
    assert_error(
        api.post("/cases", {"type": "complaint", "reason": "other", "shop_id": 999999}),
        404,
        "shop.not_found",
        {"shop_id": "999999"},
    )
    assert_error(
        api_for(outsider).post("/cases", {**base, "order_id": world.order.pk}),
        404,
        "order.not_found",
        {},
    )
    assert db_state() == before


def test_case_create_by_a_role_without_permission_is_403(api_for, qa, world):
    before = db_state()
    assert_error(
        api_for(qa).post("/cases", {**valid_case_body(world)}),
        403,
        "permission.denied",
        {"permission": "cases.add_case"},
    )
    assert db_state() == before


def test_case_create_lines_without_an_order_is_422(api_for, agent, world):
    before = db_state()
    resp = api_for(agent).post(
        "/cases", {**valid_case_body(world), "lines": [{"sku": world.sku, "quantity": 1}]}
    )
    assert_error(resp, 422, "case.invalid", {"lines"})
    assert db_state() == before


# Field keys must be paths of the request, so a client can put the message next to its input.
CASE_IN_PATH = re.compile(
    r"^(type|reason|order_id|channel_id|external_id|shop_id|partner_id|customer_words|emotion"
    r"|facts|expectation|safety_issue|escalated_to|payment_reference|dispute_class"
    r"|dispute_nature|channel_status|lines(\.\d+(\.(order_line_id|sku|quantity))?)?)$"
)


@pytest.mark.parametrize(
    "scenario", ["no order or shop", "order required", "shop mismatch", "partner", "dup line"]
)
def test_case_create_error_fields_are_request_paths(api_for, world, other_shop, scenario):
    both = f.user("manager", [world.shop, other_shop], "both1")
    partner_channel = world.channel  # a taobao channel, not a partner
    body, code, expected = {
        "no order or shop": ({"type": "complaint", "reason": "other"}, "case.invalid", None),
        "order required": (
            {"type": "repair", "reason": "other", "shop_id": world.shop.pk},
            "case.order_required",
            None,
        ),
        "shop mismatch": (
            {
                "type": "complaint",
                "reason": "other",
                "order_id": world.order.pk,
                "shop_id": other_shop.pk,
            },
            "case.invalid",
            {"shop_id"},
        ),
        "partner": (
            {
                "type": "partner_dispute",
                "reason": "other",
                "shop_id": world.shop.pk,
                "partner_id": partner_channel.pk,
                "dispute_class": "after_sales",
                "dispute_nature": "benign",
            },
            "case.invalid",
            {"partner_id"},
        ),
        "dup line": (
            {
                "type": "exchange",
                "reason": "other",
                "order_id": world.order.pk,
                "lines": [{"sku": world.sku, "quantity": 1}, {"sku": world.sku, "quantity": 1}],
            },
            "case.invalid_lines",
            None,
        ),
    }[scenario]
    before = db_state()
    resp = api_for(both).post("/cases", body)
    error = assert_error(resp, 422, code, set(resp.json()["error"]["fields"]))
    assert error["fields"]
    assert all(CASE_IN_PATH.match(key) for key in error["fields"]), error["fields"]
    if expected is not None:
        assert set(error["fields"]) == expected
    assert db_state() == before


# --------------------------------------------------------------------------- case detail


def test_case_detail_refusals(api_for, world, outsider):
    api = api_for(world.agent)
    assert_error(api.get("/cases/abc"), 422, "request.invalid", {"case_id"})
    assert_error(api.get("/cases/999999"), 404, "case.not_found", {})
    assert_error(api.get(f"/cases/{HUGE}"), 404, "case.not_found", {})
    assert_error(api_for(outsider).get(f"/cases/{world.case.pk}"), 404, "case.not_found", {})


# --------------------------------------------------------------------------- actions: input


def _bad_action_bodies():
    for action in ACTIONS:
        yield action, {"__valid__": True, "bogus": 1}, {"bogus"}
    required = {
        "reject": {"note"},
        "request_info": {"question"},
        "provide_info": {"answer"},
        "record_return": {"courier", "tracking_number"},
        "inspect": {"lines"},
        "ship": {"courier", "tracking_number"},
        "factory_send": {"factory", "courier", "tracking_number"},
        "compensate": {"amount", "note"},
        "appeal": {"note"},
        "comment": {"text"},
    }
    for action, fields in required.items():
        yield action, {}, fields
    yield "reject", {"note": ""}, {"note"}
    yield "appeal", {"note": 5}, {"note"}
    yield "comment", {"text": ""}, {"text"}
    yield "comment", {"text": "x" * 5001}, {"text"}
    yield "comment", {"text": "hi", "internal": "perhaps"}, {"internal"}
    yield "cancel", {"note": "x" * 5001}, {"note"}
    yield "record_return", {"courier": "", "tracking_number": "1"}, {"courier"}
    yield "ship", {"courier": "SF", "tracking_number": "9" * 65}, {"tracking_number"}
    yield "inspect", {"lines": []}, {"lines"}
    yield "compensate", {"amount": "0.001", "note": "x"}, {"amount"}
    yield (
        "receive",
        {"lines": [{}]},
        {
            "lines.0.case_line_id",
            "lines.0.grade",
            "lines.0.disposition",
        },
    )
    yield (
        "receive",
        {"lines": [{"case_line_id": 1, "grade": "mint", "disposition": "burn"}]},
        {"lines.0.grade", "lines.0.disposition"},
    )
    yield (
        "receive",
        {"lines": [{"case_line_id": "one", "grade": "scrap", "disposition": "scrap"}]},
        {"lines.0.case_line_id"},
    )
    for action in ("approve", "refund"):
        yield action, {"amount": "-0.01"}, {"amount"}
        yield action, {"amount": "10.001"}, {"amount"}
        yield action, {"amount": "ten"}, {"amount"}
        yield action, {"amount": "12345678901.00"}, {"amount"}
        yield action, {"refund_method": "cash"}, {"refund_method"}
    yield "request_info", {"question": "?", "quote_amount": "-1"}, {"quote_amount"}
    yield "request_info", {"question": "?", "quote_amount": "1.001"}, {"quote_amount"}
    yield "provide_info", {"answer": "ok", "accept_quote": "maybe"}, {"accept_quote"}
    yield "complete", {"outcome": "happy"}, {"outcome"}
    yield "escalate", {"escalated_to": "ceo"}, {"escalated_to"}
    yield "close", {"outcome": "happy"}, {"outcome"}
    yield "assign", {"assignee_id": "agent1"}, {"assignee_id"}
    yield "assign", {"team_id": 1.5}, {"team_id"}


BAD_ACTION_BODIES = list(_bad_action_bodies())


@pytest.mark.parametrize(
    "action,body,fields",
    BAD_ACTION_BODIES,
    ids=[f"{a}-{i}" for i, (a, _, _) in enumerate(BAD_ACTION_BODIES)],
)
def test_action_bad_input_is_422_and_changes_nothing(api_for, world, action, body, fields):
    if body.pop("__valid__", False):
        body = {**valid_action_body(action, world), **body}
    before = db_state()
    resp = api_for(world.manager).post(f"/cases/{world.case.pk}/actions/{action}", body)
    assert_error(resp, 422, "request.invalid", fields)
    assert db_state() == before


@pytest.mark.parametrize("action", ACTIONS)
def test_action_on_unknown_or_foreign_case_is_404(api_for, world, outsider, action):
    before = db_state()
    body = valid_action_body(action, world)
    api = api_for(world.manager)
    assert_error(api.post(f"/cases/999999/actions/{action}", body), 404, "case.not_found", {})
    assert_error(api.post(f"/cases/{HUGE}/actions/{action}", body), 404, "case.not_found", {})
    assert_error(
        api.post(f"/cases/abc/actions/{action}", body), 422, "request.invalid", {"case_id"}
    )
    resp = api_for(outsider).post(f"/cases/{world.case.pk}/actions/{action}", body)
    assert_error(resp, 404, "case.not_found", {})
    assert db_state() == before


# --------------------------------------------------------------------------- actions: 403


@pytest.mark.parametrize("action", [a for a in ACTIONS if a != "comment"])
def test_qa_may_not_act(api_for, qa, world, action):
    before = db_state()
    resp = api_for(qa).post(
        f"/cases/{world.case.pk}/actions/{action}", valid_action_body(action, world)
    )
    assert_error(resp, 403, "permission.denied", {"permission": f"cases.act_{action}"})
    assert db_state() == before


def test_qa_may_comment(api_for, qa, world):
    resp = api_for(qa).post(f"/cases/{world.case.pk}/actions/comment", {"text": "质检备注"})
    assert resp.status_code == 200, resp.content
    assert resp.json()["status"] == "awaiting_merchant"
    assert CaseEvent.objects.filter(case=world.case, kind="comment").count() == 1


@pytest.mark.parametrize(
    "role,action",
    [
        ("warehouse", "approve"),
        ("warehouse", "reject"),
        ("warehouse", "refund"),
        ("finance", "approve"),
        ("finance", "assign"),
        ("agent", "receive"),
        ("agent", "assign"),
        ("agent", "close"),
        ("integration", "approve"),
        ("integration", "refund"),
    ],
)
def test_roles_without_the_action_are_403(api_for, world, role, action):
    user = f.user(role, [world.shop])
    before = db_state()
    resp = api_for(user).post(
        f"/cases/{world.case.pk}/actions/{action}", valid_action_body(action, world)
    )
    assert_error(resp, 403, "permission.denied", {"permission": f"cases.act_{action}"})
    assert db_state() == before


# --------------------------------------------------------------------------- actions: 409


@pytest.mark.parametrize(
    "action",
    ["provide_info", "record_return", "receive", "process", "ship", "complete", "appeal"],
)
def test_illegal_transition_from_awaiting_merchant_is_409(api_for, world, action):
    before = db_state()
    resp = api_for(world.manager).post(
        f"/cases/{world.case.pk}/actions/{action}", valid_action_body(action, world)
    )
    assert_error(
        resp,
        409,
        "case.invalid_transition",
        {"action": action, "status": "awaiting_merchant", "allowed": FRESH_ALLOWED},
    )
    assert db_state() == before


@pytest.mark.parametrize("action", [a for a in ACTIONS if a not in ("comment", "compensate")])
def test_a_closed_case_takes_only_comments_and_goodwill(api_for, world, action):
    case_close(case=world.case, actor=None, outcome="withdrawn")
    before = db_state()
    resp = api_for(world.manager).post(
        f"/cases/{world.case.pk}/actions/{action}", valid_action_body(action, world)
    )
    assert_error(
        resp,
        409,
        "case.invalid_transition",
        {"action": action, "status": "closed", "allowed": "comment,compensate"},
    )
    assert db_state() == before
    assert Case.objects.get(pk=world.case.pk).status == "closed"


def test_the_same_action_twice_is_409_the_second_time(api_for, world):
    api = api_for(world.manager)
    assert api.post(f"/cases/{world.case.pk}/actions/approve", {}).status_code == 200
    before = db_state()
    resp = api.post(f"/cases/{world.case.pk}/actions/approve", {})
    assert_error(
        resp,
        409,
        "case.invalid_transition",
        {
            "action": "approve",
            "status": "awaiting_return",
            "allowed": "escalate,assign,comment,cancel,close,compensate,record_return,receive",
        },
    )
    assert db_state() == before


def test_rejected_case_takes_appeal_but_not_approve(api_for, world):
    case_reject(case=world.case, actor=None, note="超时")
    api = api_for(world.manager)
    before = db_state()
    resp = api.post(f"/cases/{world.case.pk}/actions/approve", {})
    assert_error(
        resp,
        409,
        "case.invalid_transition",
        {"action": "approve", "status": "rejected", "allowed": "comment,appeal,compensate"},
    )
    assert db_state() == before


# --------------------------------------------------------------------------- actions: rules


def test_action_business_refusals_change_nothing(api_for, world):
    api = api_for(world.manager)
    url = f"/cases/{world.case.pk}/actions"
    before = db_state()
    assert_error(api.post(f"{url}/reject", {"note": "   "}), 422, "case.field_required", {"note"})
    assert_error(api.post(f"{url}/comment", {"text": " \n "}), 422, "case.field_required", {"text"})
    assert_error(
        api.post(f"{url}/close", {"outcome": "refunded"}), 422, "case.invalid", {"outcome"}
    )
    assert_error(
        api.post(f"{url}/request_info", {"question": "?", "quote_amount": "100.00"}),
        422,
        "case.invalid",
        {"quote_amount"},
    )
    assert_error(
        api.post(f"{url}/assign", {"assignee_id": 999999}),
        422,
        "case.invalid_assignee",
        {"assignee_id"},
    )
    assert_error(
        api.post(f"{url}/assign", {"team_id": 999999}), 422, "case.invalid_assignee", {"team_id"}
    )
    assert_error(
        api.post(f"{url}/complete", {"outcome": "compensated"}),
        409,
        "case.invalid_transition",
        {"action": "complete", "status": "awaiting_merchant", "allowed": FRESH_ALLOWED},
    )
    assert db_state() == before


@pytest.mark.parametrize("target", ["assignee_id", "team_id"])
def test_assign_outside_the_shop_names_the_request_field(api_for, world, other_shop, target):
    value = (
        f.user("agent", [other_shop]).pk
        if target == "assignee_id"
        else Team.objects.create(shop=other_shop, name="别的组").pk
    )
    before = db_state()
    resp = api_for(world.manager).post(f"/cases/{world.case.pk}/actions/assign", {target: value})
    assert_error(resp, 422, "case.invalid_assignee", {target})
    assert db_state() == before


def test_receive_errors_name_request_paths(api_for, world):
    case_approve(case=world.case, actor=None)
    before = db_state()
    resp = api_for(world.manager).post(
        f"/cases/{world.case.pk}/actions/receive",
        {"lines": [{"case_line_id": 999999, "grade": "scrap", "disposition": "scrap"}]},
    )
    error = assert_error(resp, 422, "case.invalid_inspection", set(resp.json()["error"]["fields"]))
    path = re.compile(r"^(note|lines(\.\d+(\.(case_line_id|grade|disposition))?)?)$")
    assert "lines.0.case_line_id" in error["fields"]
    assert all(path.match(key) for key in error["fields"]), error["fields"]
    assert db_state() == before


def test_receive_with_a_line_of_another_case_is_422(api_for, world, channel):
    case_approve(case=world.case, actor=None)
    other = f.case(f.order(channel))
    before = db_state()
    resp = api_for(world.manager).post(
        f"/cases/{world.case.pk}/actions/receive",
        {
            "lines": [
                {
                    "case_line_id": other.lines.get().pk,
                    "grade": "scrap",
                    "disposition": "scrap",
                }
            ]
        },
    )
    assert resp.status_code == 422, resp.content
    assert resp.json()["error"]["code"] == "case.invalid_inspection"
    assert db_state() == before
    assert Case.objects.get(pk=world.case.pk).status == "awaiting_return"


@pytest.fixture
def dear_case(channel):
    """A refund_only case for one 500.00 item: above an agent's 200.00 limit."""
    product = f.product(channel.shop, price="500.00")
    order = f.order(channel, [(product, 1, "500.00", "0.00")], shipping_fee="10.00")
    return f.case(order, case_type="refund_only")


def test_refund_amount_refusals(api_for, dear_case, manager):
    api = api_for(manager)
    url = f"/cases/{dear_case.pk}/actions/approve"
    before = db_state()
    assert_error(api.post(url, {"amount": "510.01"}), 422, "refund.amount_exceeds_paid", {"amount"})
    assert_error(api.post(url, {"amount": "0.00"}), 422, "refund.amount_invalid", {"amount"})
    assert db_state() == before
    assert Case.objects.get(pk=dear_case.pk).refund_amount is None


def test_approval_above_the_limit_refusals(api_for, dear_case, agent, shop, lead):
    api = api_for(agent)
    url = f"/cases/{dear_case.pk}/actions/approve"
    resp = api.post(url, {"amount": "500.00"})
    assert resp.status_code == 200, resp.content
    assert resp.json()["status"] == "awaiting_approval"
    assert resp.json()["approval"] == {
        "action": "approve",
        "amount": "500.00",
        "refund_method": "original",
        "approval_role": "team_lead",
        "requested_by_id": agent.pk,
    }
    before = db_state()
    assert_error(api.post(url, {}), 403, "approval.own_request", {})
    other_agent = f.user("agent", [shop], "agent2")
    assert_error(
        api_for(other_agent).post(url, {}),
        403,
        "approval.limit_exceeded",
        {"approval_role": "team_lead"},
    )
    assert db_state() == before
    resp = api_for(lead).post(url, {})
    assert resp.status_code == 200, resp.content
    assert resp.json()["status"] == "refunding"
    assert resp.json()["refund_amount"] == "500.00"
    assert resp.json()["approval"] is None


# --------------------------------------------------------------------------- evidence


def test_evidence_png_and_jpeg_are_accepted_and_served_to_shop_members_only(
    api_for, world, qa, outsider, media
):
    api = api_for(world.agent)
    events = CaseEvent.objects.filter(case=world.case).count()
    resp = upload(api, world.case.pk, "划痕.png", tiny_png(), kind="damaged_part")
    assert resp.status_code == 201, resp.content
    png = resp.json()
    assert png == {
        "id": png["id"],
        "kind": "damaged_part",
        "content_type": "image/png",
        "size": len(tiny_png()),
        "original_name": "划痕.png",
        "url": f"/api/v1/cases/{world.case.pk}/evidence/{png['id']}",
        "created_at": png["created_at"],
    }
    resp = upload(api, world.case.pk, "box.JPG", TINY_JPEG, kind="outer_package")
    assert resp.status_code == 201, resp.content
    jpeg = resp.json()
    assert (jpeg["content_type"], jpeg["size"]) == ("image/jpeg", len(TINY_JPEG))
    # Each upload is logged, and the policy decides the open case again on the new facts.
    assert list(
        CaseEvent.objects.filter(case=world.case).order_by("id").values_list("kind", flat=True)
    )[events:] == ["evidence_added", "decision", "evidence_added", "decision"]

    for body, meta, user in [(tiny_png(), png, world.agent), (TINY_JPEG, jpeg, qa)]:
        resp = api_for(user).client.get(meta["url"], **api_for(user).headers)
        assert resp.status_code == 200
        assert resp["Content-Type"] == meta["content_type"]
        assert b"".join(resp.streaming_content) == body

    assert_error(Client().get(png["url"]), 401, "auth.required", {})
    outsider_api = api_for(outsider)
    assert_error(
        outsider_api.client.get(png["url"], **outsider_api.headers), 404, "case.not_found", {}
    )
    # the id of the evidence does not open it through another case of the same shop
    other_case = f.case(f.order(world.channel))
    resp = api.client.get(f"/api/v1/cases/{other_case.pk}/evidence/{png['id']}", **api.headers)
    assert_error(resp, 404, "evidence.not_found", {})
    resp = api.client.get(f"/api/v1/cases/{world.case.pk}/evidence/999999", **api.headers)
    assert_error(resp, 404, "evidence.not_found", {})
    resp = api.client.get(f"/api/v1/cases/{world.case.pk}/evidence/abc", **api.headers)
    assert_error(resp, 422, "request.invalid", {"evidence_id"})


UNSUPPORTED = "evidence.unsupported_type"


@pytest.mark.parametrize(
    "name,content,kind,code,fields",
    [
        ("notes.jpg", b"this is plain text, not a photo", "photo", UNSUPPORTED, {"file"}),
        ("fake.png", b"<html><body>hi</body></html>", "photo", UNSUPPORTED, {"file"}),
        ("run.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "document", UNSUPPORTED, {"file"}),
        ("empty.jpg", b"", "photo", "evidence.invalid", {"file"}),
        ("a.png", tiny_png(), "selfie", "request.invalid", {"kind"}),
        ("a.png", tiny_png(), None, "request.invalid", {"kind"}),
    ],
)
def test_evidence_refusals_write_nothing(api_for, world, media, name, content, kind, code, fields):
    before, files = db_state(), _files(media)
    resp = upload(api_for(world.agent), world.case.pk, name, content, kind=kind)
    assert_error(resp, 422, code, fields)
    assert db_state() == before
    assert _files(media) == files


def test_evidence_without_a_file_is_422(api_for, world, media):
    api = api_for(world.agent)
    before, files = db_state(), _files(media)
    resp = api.client.post(
        f"/api/v1/cases/{world.case.pk}/evidence", {"kind": "photo"}, **api.headers
    )
    assert_error(resp, 422, "request.invalid", {"file"})
    # a JSON body is not a form: both form fields are missing
    resp = api.post(f"/cases/{world.case.pk}/evidence", {"kind": "photo"})
    assert_error(resp, 422, "request.invalid", {"kind", "file"})
    assert db_state() == before
    assert _files(media) == files


def test_evidence_over_the_size_limit_is_refused(api_for, world, media):
    png = tiny_png()
    api = api_for(world.agent)
    before, files = db_state(), _files(media)
    with override_settings(EVIDENCE_MAX_BYTES=len(png) - 1):
        resp = upload(api, world.case.pk, "big.png", png)
        assert_error(resp, 422, "evidence.invalid", {"file"})
    assert db_state() == before
    assert _files(media) == files
    with override_settings(EVIDENCE_MAX_BYTES=len(png)):
        resp = upload(api, world.case.pk, "exact.png", png)
    assert resp.status_code == 201, resp.content
    assert Evidence.objects.filter(case=world.case).count() == 2


def test_evidence_by_role_or_shop_without_access(api_for, world, qa, outsider, media):
    before, files = db_state(), _files(media)
    resp = upload(api_for(qa), world.case.pk, "a.png", tiny_png())
    assert_error(resp, 403, "permission.denied", {"permission": "cases.act_add_evidence"})
    resp = upload(api_for(outsider), world.case.pk, "a.png", tiny_png())
    assert_error(resp, 404, "case.not_found", {})
    resp = upload(api_for(world.agent), 999999, "a.png", tiny_png())
    assert_error(resp, 404, "case.not_found", {})
    assert db_state() == before
    assert _files(media) == files


# --------------------------------------------------------------------------- fuzzed input

# Ordinary-sized values: money beyond the columns and times outside the calendar have their
# own exact tests above; the fuzzing looks for anything else that could answer 500.
FUZZ_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    # small enough that 100000 × price + shipping stays inside the money columns
    st.integers(min_value=-(10**4), max_value=10**4),
    st.sampled_from([0, 1, 2, 2**40, -(2**40), HUGE]),
    st.text(max_size=8),
    st.decimals(min_value=-(10**4), max_value=10**4, places=2, allow_nan=False).map(str),
    st.decimals(min_value=0, max_value=10, places=3, allow_nan=False).map(str),
    st.sampled_from(
        [
            "50.00",
            "-1",
            "1e400",
            "NaN",
            "Infinity",
            "2026-11-01T10:00:00+08:00",
            "2026-11-01",
            "original",
            "store_credit",
            "complaint",
            "return_refund",
            "refund_only",
            "quality_defect",
            "scrap",
            "restock",
            "expired",
            "withdrawn",
            "compensated",
            "regulator_12315",
            "partner",
            "x" * 70,
            "\x00",
        ]
    ),
)
FUZZ_VALUES = st.one_of(FUZZ_SCALARS, st.lists(FUZZ_SCALARS, max_size=2))


def _mutated(valid: dict, paths: list[str]):
    def apply(mutations):
        body = json.loads(json.dumps(valid))
        for path, value in mutations:
            *parents, leaf = path.split(".")
            target = body
            try:
                for part in parents:
                    target = target[int(part)] if isinstance(target, list) else target[part]
                if isinstance(target, list):
                    target[int(leaf)] = value
                else:
                    target[leaf] = value
            except (TypeError, IndexError, KeyError, ValueError):
                pass  # an earlier mutation replaced the parent: nothing to reach
        return body

    mutation = st.tuples(st.sampled_from(paths), FUZZ_VALUES)
    return st.lists(mutation, min_size=1, max_size=3).map(apply)


FUZZ = hypothesis.settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)


def _never_500(api, path: str, body) -> None:
    before = db_state()
    resp = api.post(path, body)
    assert resp.status_code != 500, (body, resp.content)
    if resp.status_code >= 400:
        assert set(resp.json()["error"]) == {"code", "message", "fields"}, resp.content
        assert db_state() == before, (body, resp.content)


def test_fuzzed_orders_never_500_and_refusals_write_nothing(api_for, world, products_two):
    api = api_for(world.manager)
    valid = {
        "channel_id": world.channel.pk,
        "external_id": world.order.external_id,
        "customer": {"name": "张三", "phone": "13800000000"},
        "lines": [
            {"sku": world.sku, "quantity": 2, "unit_price": "50.00"},
            {"sku": products_two, "quantity": 1, "unit_price": "5.00"},
        ],
        "shipping_fee": "1.00",
        "paid_at": "2026-11-01T10:00:00+08:00",
        "shipments": [{"courier": "SF", "tracking_number": "SF1"}],
    }
    paths = [
        "external_id",
        "shipping_fee",
        "paid_at",
        "shipped_at",
        "signed_at",
        "cancelled",
        "customer.phone",
        "customer.language",
        "lines",
        "lines.0.quantity",
        "lines.0.unit_price",
        "lines.0.discount",
        "lines.0.paid_amount",
        "lines.1.sku",
        "lines.1.discount",
        "shipments.0.tracking_number",
        "shipments.0.shipped_at",
    ]

    @FUZZ
    @hypothesis.given(_mutated(valid, paths))
    def check(body):
        _never_500(api, "/orders", body)

    check()


@pytest.fixture
def products_two(shop):
    return f.product(shop, sku="SPARE").sku


def test_fuzzed_cases_never_500_and_refusals_write_nothing(api_for, world):
    api = api_for(world.manager)
    valid = {
        "type": "exchange",
        "reason": "quality_defect",
        "order_id": world.order.pk,
        "lines": [{"sku": world.sku, "quantity": 1}],
        "emotion": "angry",
    }
    paths = [
        "type",
        "reason",
        "order_id",
        "shop_id",
        "channel_id",
        "external_id",
        "partner_id",
        "lines",
        "lines.0.sku",
        "lines.0.order_line_id",
        "lines.0.quantity",
        "emotion",
        "escalated_to",
        "dispute_class",
        "dispute_nature",
        "safety_issue",
    ]

    @FUZZ
    @hypothesis.given(_mutated(valid, paths))
    def check(body):
        _never_500(api, "/cases", body)

    check()


@pytest.mark.parametrize("action", ACTIONS)
def test_fuzzed_actions_never_500_and_refusals_write_nothing(api_for, world, action):
    api = api_for(world.manager)
    valid = valid_action_body(action, world)
    paths = sorted(
        {*valid, "note", "amount", "refund_method", "outcome", "quote_amount", "escalated_to"}
    )
    if action == "receive":
        paths += ["lines.0.case_line_id", "lines.0.grade", "lines.0.disposition"]

    @FUZZ
    @hypothesis.given(_mutated(valid, paths))
    def check(body):
        _never_500(api, f"/cases/{world.case.pk}/actions/{action}", body)

    check()
