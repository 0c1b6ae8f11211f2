"""The logistics reads over HTTP — a case's parcels, return addresses, stock, supplier claims —
scoped to the user's shops, with pinned query counts; and the admin pages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client

from aftersales.cases import services as cs
from aftersales.logistics import services as ls
from aftersales.logistics.models import Parcel, SupplierClaim, Warehouse
from aftersales.logistics.tests.conftest import RETURN_ADDRESS
from aftersales.logistics.tests.helpers import (
    inspections,
    order_of,
    repair_in_processing,
    sent_back,
    world_state,
)
from aftersales.tests import factories as f
from aftersales.tests.contract import assert_error


def _claim(order, amount: str) -> SupplierClaim:
    case = repair_in_processing(order)
    ls.case_factory_send(case=case, actor=None, factory="厂A", courier="顺丰", tracking_number="F1")
    ls.case_factory_receive(
        case=case, actor=None, courier="顺丰", tracking_number="F2", claim_amount=Decimal(amount)
    )
    return SupplierClaim.objects.get(case=case)


# ----------------------------------------------------------------------------- parcels


def _iso(moment) -> str:
    # The API writes times to the millisecond, in UTC.
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_a_cases_parcels_in_both_directions(api_for, agent, channel, products, warehouse):
    case = f.case(order_of(channel, products["cup"], qty=1), case_type="exchange")
    cs.case_approve(case=case, actor=None)
    sent_back(case, tracking="ZT1", postage="10.00")
    cs.case_receive(case=case, actor=None, inspections=inspections(case, "restock"))
    cs.case_process(case=case, actor=None)
    cs.case_ship(case=case, actor=None, courier="顺丰", tracking_number="SF900")
    back, out = Parcel.objects.filter(case=case).order_by("pk")

    resp = api_for(agent).get(f"/cases/{case.pk}/parcels")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert [(p["kind"], p["status"], p["courier"], p["tracking_number"]) for p in body] == [
        ("return", "delivered", "中通", "ZT1"),
        ("replacement", "in_transit", "顺丰", "SF900"),
    ]
    assert body[0] == {
        "id": back.pk,
        "kind": "return",
        "status": "delivered",
        "courier": "中通",
        "tracking_number": "ZT1",
        "warehouse_id": warehouse.pk,
        "address": RETURN_ADDRESS,
        "postage": "10.00",
        "postage_paid_by": "merchant",
        "factory": "",
        "parts": [],
        "first_scan_at": None,
        "delivered_at": _iso(back.delivered_at),
        "last_event": "",
        "last_event_at": None,
        "created_at": _iso(back.created_at),
    }
    assert (body[1]["id"], body[1]["address"], body[1]["postage"]) == (out.pk, "", None)


def test_another_shops_parcels_are_404(api_for, other_shop, channel, products):
    case = f.case(order_of(channel, products["cup"]))
    resp = api_for(f.user("agent", [other_shop])).get(f"/cases/{case.pk}/parcels")
    assert_error(resp, 404, "case.not_found", {})


def test_parcels_query_count_does_not_grow(
    api_for, agent, channel, products, django_assert_num_queries
):
    case = f.case(order_of(channel, products["phone"], qty=1), "reissue", "damaged_in_transit")
    cs.case_approve(case=case, actor=None)
    api = api_for(agent)
    api.get("/cases")  # the token's first use records last_used_at
    # token, the user's shops, the case, its parcels
    with django_assert_num_queries(4):
        assert api.get(f"/cases/{case.pk}/parcels").json() == []
    cs.case_ship(case=case, actor=None, courier="顺丰", tracking_number="A", parts=["SCREEN"])
    for n in range(5):
        Parcel.objects.create(
            shop_id=case.shop_id, case=case, kind="part_reissue", status="in_transit",
            tracking_number=f"B{n}", created_at=case.created_at,
        )  # fmt: skip
    with django_assert_num_queries(4):
        assert len(api.get(f"/cases/{case.pk}/parcels").json()) == 6


# ----------------------------------------------------------------------------- warehouses


def test_warehouses_list_the_default_first(api_for, agent, shop, warehouse):
    resp = api_for(agent).get("/warehouses", {"shop_id": shop.pk})
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert [w["code"] for w in body] == ["main", "a-overflow"]
    assert body[0] == {
        "id": warehouse.pk,
        "shop_id": shop.pk,
        "code": "main",
        "name": "杭州售后仓",
        "contact_name": "王仓管",
        "phone": "0571-88880000",
        "address": "浙江省杭州市余杭区文一西路 998 号 售后仓",
        "return_address": RETURN_ADDRESS,
        "is_default": True,
    }


def test_warehouses_of_another_shop_are_404_and_shop_id_is_required(
    api_for, other_shop, shop, warehouse
):
    api = api_for(f.user("agent", [other_shop]))
    assert_error(api.get("/warehouses", {"shop_id": shop.pk}), 404, "shop.not_found", {"shop_id"})
    assert_error(api.get("/warehouses"), 422, "request.invalid", {"shop_id"})


# ----------------------------------------------------------------------------- stock


def test_stock_per_sku_and_for_one_sku(api_for, warehouse, shop, channel, products):
    user = f.user("warehouse", [shop])
    _claim(order_of(channel, products["phone"], qty=1, days=100), "10.00")  # PHONE → refurbish
    case = f.case(order_of(channel, products["cup"], qty=2), reason="quality_defect")
    cs.case_approve(case=case, actor=None)
    sent_back(case)
    cs.case_receive(case=case, actor=None, inspections=inspections(case, "restock"))
    api = api_for(user)
    resp = api.get("/stock", {"shop_id": shop.pk})
    assert resp.status_code == 200, resp.content
    assert resp.json() == [
        {"sku": "CUP", "sellable": 2, "refurbish": 0, "scrap": 0, "supplier": 0},
        {"sku": "PHONE", "sellable": 0, "refurbish": 1, "scrap": 0, "supplier": 0},
    ]
    assert api.get("/stock", {"shop_id": shop.pk, "sku": "PHONE"}).json() == [
        {"sku": "PHONE", "sellable": 0, "refurbish": 1, "scrap": 0, "supplier": 0}
    ]
    assert api.get("/stock", {"shop_id": shop.pk, "sku": "NONE"}).json() == []


def test_stock_of_another_shop_is_404(api_for, other_shop, shop):
    resp = api_for(f.user("warehouse", [other_shop])).get("/stock", {"shop_id": shop.pk})
    assert_error(resp, 404, "shop.not_found", {"shop_id"})


# ----------------------------------------------------------------------------- supplier claims


def test_supplier_claims_newest_first_in_keyset_pages(
    api_for, finance, shop, channel, products, django_assert_num_queries
):
    claims = [
        _claim(order_of(channel, products["phone"], qty=1, days=100), amount)
        for amount in ("150.00", "80.00", "12.50")
    ]
    ls.supplier_claim_settle(claim=claims[0], actor=None, paid=True)
    api = api_for(finance)
    api.get("/cases")
    # token, the user's shops, the shop, the permission (user, groups), the claims with cases
    with django_assert_num_queries(6):
        resp = api.get("/supplier-claims", {"shop_id": shop.pk, "limit": 2})
    assert resp.status_code == 200, resp.content
    page = resp.json()
    assert [(c["id"], c["amount"], c["status"]) for c in page["items"]] == [
        (claims[2].pk, "12.50", "open"),
        (claims[1].pk, "80.00", "open"),
    ]
    assert page["items"][0]["case_reference"] == claims[2].case.reference
    assert page["items"][0]["supplier"] == "厂A"
    assert page["next_cursor"] == claims[1].pk
    rest = api.get(
        "/supplier-claims", {"shop_id": shop.pk, "limit": 2, "before_id": page["next_cursor"]}
    ).json()
    assert [(c["id"], c["status"]) for c in rest["items"]] == [(claims[0].pk, "settled")]
    assert rest["next_cursor"] is None
    open_only = api.get("/supplier-claims", {"shop_id": shop.pk, "status": "open"}).json()
    assert [c["id"] for c in open_only["items"]] == [claims[2].pk, claims[1].pk]


@pytest.mark.parametrize("role", ["agent", "warehouse", "qa"])
def test_supplier_claims_are_for_finance(api_for, shop, role):
    resp = api_for(f.user(role, [shop])).get("/supplier-claims", {"shop_id": shop.pk})
    assert_error(resp, 403, "permission.denied", {"permission": "logistics.view_supplierclaim"})


@pytest.mark.parametrize("role", ["finance", "manager", "admin"])
def test_finance_managers_and_admins_read_and_settle_claims(api_for, shop, channel, products, role):
    claim = _claim(order_of(channel, products["phone"], qty=1, days=100), "20.00")
    api = api_for(f.user(role, [shop]))
    assert [c["id"] for c in api.get("/supplier-claims", {"shop_id": shop.pk}).json()["items"]] == [
        claim.pk
    ]
    resp = api.post(f"/supplier-claims/{claim.pk}/actions/settle", {"paid": True})
    assert resp.json()["status"] == "settled"


def test_unknown_fields_in_a_settle_body_are_refused(api_for, finance, shop, channel, products):
    claim = _claim(order_of(channel, products["phone"], qty=1, days=100), "20.00")
    before = world_state()
    resp = api_for(finance).post(
        f"/supplier-claims/{claim.pk}/actions/settle", {"paid": True, "amount": "1.00"}
    )
    assert_error(resp, 422, "request.invalid", {"amount"})
    assert world_state() == before


# ----------------------------------------------------------------------------- reissue over HTTP


def test_an_unknown_part_over_http_is_422_and_nothing_changes(api_for, shop, channel, products):
    case = f.case(order_of(channel, products["phone"], qty=1), "reissue", "damaged_in_transit")
    cs.case_approve(case=case, actor=None)
    before = world_state()
    resp = api_for(f.user("warehouse", [shop])).post(
        f"/cases/{case.pk}/actions/ship",
        {"courier": "顺丰", "tracking_number": "SF1", "parts": ["BATTERY"]},
    )
    assert_error(resp, 422, "case.invalid_parts", {"parts.0": "Not a part of these products."})
    assert world_state() == before


# ----------------------------------------------------------------------------- admin


@pytest.fixture
def admin_client(db):
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="x"))
    return client


def test_logistics_admin_pages_render_and_only_configuration_is_editable(
    admin_client, channel, products, warehouse, feed
):
    case = f.case(order_of(channel, products["cup"]), reason="quality_defect")
    cs.case_approve(case=case, actor=None)
    parcel = Parcel.objects.get(case=case)
    for model in (
        "warehouse",
        "courierfeed",
        "parcel",
        "courierevent",
        "intercept",
        "stocklevel",
        "stockmovement",
        "supplierclaim",
    ):
        url = f"/admin/logistics/{model}/"
        assert admin_client.get(url).status_code == 200, url
    assert admin_client.get("/admin/logistics/warehouse/add/").status_code == 200
    assert admin_client.get("/admin/logistics/courierfeed/add/").status_code == 200
    assert admin_client.get(f"/admin/logistics/courierfeed/{feed.pk}/change/").status_code == 200
    assert admin_client.get("/admin/logistics/parcel/add/").status_code == 403
    resp = admin_client.post(
        f"/admin/logistics/parcel/{parcel.pk}/change/", {"status": "delivered"}
    )
    assert resp.status_code == 403
    assert Parcel.objects.get(pk=parcel.pk).status == "expected"


def test_a_second_default_warehouse_is_refused_in_the_admin(admin_client, shop, warehouse):
    resp = admin_client.post(
        "/admin/logistics/warehouse/add/",
        {
            "shop": shop.pk,
            "code": "bj",
            "name": "北京仓",
            "contact_name": "赵",
            "phone": "010-1",
            "address": "北京市朝阳区 1 号",
            "is_default": "on",
            "active": "on",
        },
    )
    assert resp.status_code == 200  # the form again, with the error
    assert not Warehouse.objects.filter(code="bj").exists()
