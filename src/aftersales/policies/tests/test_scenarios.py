"""One scenario per row of DESIGN §5 under the shipped default policy: the exact status,
the rule that fired, the facts it read, and the money to the cent."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from aftersales.cases import services as cs
from aftersales.cases.models import Case, CaseEvent
from aftersales.catalog.models import Category, Part, Product
from aftersales.channels.models import Language
from aftersales.channels.services import (
    CustomerData,
    OrderData,
    OrderLineData,
    ShipmentData,
    order_upsert,
)
from aftersales.logistics.courier import ScanIn, courier_events_ingest
from aftersales.logistics.models import CourierFeed
from aftersales.policies.models import PolicyDecision
from aftersales.policies.services import case_decide, policy_install_default
from aftersales.policies.triggers import case_evidence_received, case_file, order_put
from aftersales.tests import factories as f

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def shop(db):
    shop = f.shop("policy")
    policy_install_default(shop=shop)
    return shop


@pytest.fixture
def channel(shop):
    return f.channel(shop, code="tb")


@pytest.fixture
def products(shop):
    general = Category.objects.create(shop=shop, code="general", name="日用")
    fresh = Category.objects.create(
        shop=shop, code="fresh", name="生鲜", perishable=True, no_reason_return=False
    )
    phone = Product.objects.create(
        shop=shop, sku="PHONE", name="手机", price=Decimal("1500.00"), category=general
    )
    Part.objects.create(shop=shop, product=phone, code="SCREEN", name="屏幕", price=Decimal("120"))
    return {
        "cup": Product.objects.create(
            shop=shop, sku="CUP", name="杯子", price=Decimal("50.00"), category=general
        ),
        "cheap": Product.objects.create(
            shop=shop, sku="CLIP", name="夹子", price=Decimal("4.50"), category=general
        ),
        "phone": phone,
        "tv": Product.objects.create(
            shop=shop, sku="TV", name="电视", price=Decimal("2600.00"), category=general
        ),
        "mango": Product.objects.create(
            shop=shop, sku="MANGO", name="芒果", price=Decimal("60.00"), category=fresh
        ),
    }


def _order(channel, product, *, qty=2, stage="signed", days=3, fee="8.00", **kw):
    """An order of `qty` × product; `stage` is paid, shipped or signed, `days` ago."""
    now = timezone.now()
    paid = now - timedelta(days=days + 3)
    shipped = now - timedelta(days=days + 2) if stage in ("shipped", "signed") else None
    signed = now - timedelta(days=days) if stage == "signed" else None
    moved = kw.pop("last_movement_at", shipped)
    order, _ = order_upsert(
        actor=None,
        channel=channel,
        data=OrderData(
            external_id=f"T{Case.objects.count()}{PolicyDecision.objects.count()}{qty}{days}"
            f"{product.sku}{stage}",
            customer=CustomerData(
                name="李雷", phone="13800000000", language=kw.pop("language", Language.ZH_HANS)
            ),
            lines=[OrderLineData(sku=product.sku, quantity=qty, unit_price=product.price)],
            shipping_fee=Decimal(fee),
            paid_at=paid,
            shipped_at=shipped,
            signed_at=signed,
            shipping_insurance=kw.pop("insured", False),
            shipments=[ShipmentData("顺丰", "SF1", shipped, moved)] if shipped else [],
        ),
    )
    return order


def _file(order, case_type, reason, **kw):
    return case_file(actor=None, case_type=case_type, reason=reason, order=order, **kw)


def _decision(case) -> dict:
    case.refresh_from_db()
    return case.decision


# ----------------------------------------------------------------------------- refund only


def test_refund_only_unshipped_is_refunded_at_once_with_shipping(channel, products):
    case = _file(_order(channel, products["cup"], stage="paid"), "refund_only", "other")
    d = _decision(case)
    assert (case.status, d["rule"], d["applied"]) == (
        "refunding",
        "refund_only_unshipped",
        "approve",
    )
    assert case.refund_amount == Decimal("108.00")  # 2 × 50.00 + 8.00 shipping
    assert d["facts"] == {"type": "refund_only", "order_status": "paid", "custom_made": False}


def test_refund_only_without_courier_movement_for_72h_is_refunded(channel, products):
    now = timezone.now()
    order = _order(
        channel, products["cup"], stage="shipped", last_movement_at=now - timedelta(hours=80)
    )
    case = _file(order, "refund_only", "not_delivered")
    d = _decision(case)
    assert (case.status, d["rule"]) == ("refunding", "refund_only_no_courier_movement")
    assert case.refund_amount == Decimal("100.00")  # shipped: postage is not refunded
    assert 80 <= d["facts"]["hours_without_courier_movement"] < 80.1


def test_refund_only_in_transit_asks_for_an_intercept(channel, products):
    order = _order(
        channel,
        products["cup"],
        stage="shipped",
        last_movement_at=timezone.now() - timedelta(hours=5),
    )
    case = _file(order, "refund_only", "other")
    d = _decision(case)
    assert (case.status, d["rule"], d["action"]) == (
        "awaiting_merchant",
        "refund_only_in_transit_intercept",
        "intercept",
    )
    assert case.refund_amount is None


def test_refund_only_after_signature_without_quality_reason_recommends_reject(channel, products):
    case = _file(_order(channel, products["cup"]), "refund_only", "other")
    d = _decision(case)
    assert (case.status, d["rule"], d["action"], d["params"]) == (
        "awaiting_merchant",
        "refund_only_signed_no_quality_reason",
        "route_to_person",
        {"recommend": "reject"},
    )
    assert d["explanation_text"] == "已签收且非质量问题申请仅退款，建议拒绝，由人工确认。"


# ----------------------------------------------------------------------------- no-reason returns


def test_no_reason_return_3_days_after_signature_is_approved_customer_pays(channel, products):
    case = _file(_order(channel, products["cup"], days=3), "return_refund", "no_reason")
    d = _decision(case)
    assert (case.status, d["rule"], d["params"]) == (
        "awaiting_return",
        "no_reason_within_7_days",
        {"return_shipping_paid_by": "customer"},
    )
    assert d["facts"] == {"reason": "no_reason", "type": "return_refund"}
    assert PolicyDecision.objects.get(case=case).all_facts["no_reason_eligible"] is True


def test_no_reason_return_with_shipping_insurance_is_paid_by_insurance(channel, products):
    order = _order(channel, products["cup"], days=2, insured=True)
    case = _file(order, "return_refund", "no_reason")
    d = _decision(case)
    assert (case.status, d["rule"], d["params"]) == (
        "awaiting_return",
        "no_reason_insured",
        {"return_shipping_paid_by": "insurance"},
    )


def test_no_reason_return_10_days_after_signature_is_refused_window_passed(channel, products):
    order = _order(channel, products["cup"], days=10, language=Language.EN)
    case = _file(order, "return_refund", "no_reason")
    d = _decision(case)
    assert (case.status, d["rule"]) == ("rejected", "no_reason_window_passed")
    assert d["explanation_text"] == "The 7-day no-reason return window after signature has passed."
    reject = CaseEvent.objects.get(case=case, kind="reject")
    assert (reject.actor_label, reject.note) == ("system", d["explanation_text"])


def test_perishable_goods_are_not_eligible_for_no_reason_return(channel, products):
    case = _file(_order(channel, products["mango"], days=1), "return_refund", "no_reason")
    d = _decision(case)
    assert (case.status, d["rule"]) == ("rejected", "no_reason_excluded_category")
    assert (
        d["facts"]["no_reason_eligible"],
        PolicyDecision.objects.get(case=case).all_facts["perishable"],
    ) == (False, True)


# ----------------------------------------------------------------------------- our faults


def test_quality_defect_is_approved_and_we_pay_return_shipping(channel, products):
    case = _file(_order(channel, products["cup"], days=20), "exchange", "quality_defect")
    d = _decision(case)
    assert (case.status, d["rule"], d["params"]) == (
        "awaiting_return",
        "quality_fault_merchant_pays",
        {"return_shipping_paid_by": "merchant"},
    )


def test_damaged_long_after_signature_asks_for_photos_then_reissues_the_part(
    channel, products, agent
):
    order = _order(channel, products["cup"], days=35)
    case = _file(order, "reissue", "damaged_in_transit")
    d = _decision(case)
    assert (case.status, d["rule"], d["action"]) == (
        "awaiting_customer",
        "damaged_late_needs_photos",
        "require_evidence",
    )
    assert CaseEvent.objects.get(case=case, kind="request_info").note == (
        "签收已超过 30 天，请上传外包装和损坏部位的照片。"
    )
    case_evidence_received(
        case=case, actor=None, upload=SimpleUploadedFile("box.png", PNG), kind="outer_package"
    )
    case.refresh_from_db()
    assert (case.status, case.decision["rule"]) == (
        "awaiting_customer",
        "damaged_late_needs_photos",
    )
    case_evidence_received(
        case=case, actor=None, upload=SimpleUploadedFile("part.png", PNG), kind="damaged_part"
    )
    case.refresh_from_db()
    assert (case.status, case.decision["rule"]) == ("processing", "damaged_late_reissue_part")
    assert list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))[-4:] == [
        "evidence_added",
        "decision",
        "provide_info",
        "approve",
    ]


def test_lost_parcel_is_reissued_free(channel, products):
    case = _file(_order(channel, products["cup"], days=1), "reissue", "lost_in_transit")
    d = _decision(case)
    assert (case.status, d["rule"], d["params"]) == (
        "processing",
        "lost_or_missing_reissue",
        {"outcome": "reissued"},
    )


def test_item_worth_less_than_the_return_is_refunded_and_kept(channel, products):
    order = _order(channel, products["cheap"], qty=2, days=2)  # 2 × 4.50
    case = _file(order, "return_refund", "quality_defect")
    d = _decision(case)
    assert (case.status, d["rule"], d["applied"]) == (
        "refunding",
        "keep_item_cheaper_than_return",
        "refund_keep_item",
    )
    assert case.refund_amount == Decimal("9.00")


def test_lightning_refund_at_the_first_courier_scan(channel, products):
    case = _file(_order(channel, products["cup"], days=2), "return_refund", "no_reason")
    cs.case_record_return(case=case, actor=None, courier="中通", tracking_number="ZT1")
    case_decide(case=case, trigger="tracking_entered")  # a number alone is not a scan
    case.refresh_from_db()
    assert (case.status, case.refund_amount) == ("return_in_transit", None)

    feed = CourierFeed.objects.create(shop=case.shop, code="kd", name="快递", secret="s")
    scan = ScanIn("E1", "中通", "ZT1", "picked_up", timezone.now(), location="杭州")
    courier_events_ingest(feed=feed, scans=[scan])
    case.refresh_from_db()
    assert (case.status, case.decision["rule"], case.decision["trigger"], case.refund_amount) == (
        "refunding",
        "lightning_refund",
        "return_scanned",
        Decimal("100.00"),
    )


def test_refund_method_is_store_credit_when_the_customer_chooses_it(channel, products):
    order = _order(channel, products["cup"], stage="paid")
    case = _file(order, "refund_only", "other", refund_method="store_credit")
    assert (case.status, case.refund_method, case.refund_amount) == (
        "refunding",
        "store_credit",
        Decimal("108.00"),
    )


# ----------------------------------------------------------------------------- repairs


def test_repair_within_warranty_is_free(channel, products):
    case = _file(_order(channel, products["phone"], qty=1, days=100), "repair", "quality_defect")
    d = _decision(case)
    assert (case.status, d["rule"], case.quote_amount) == (
        "awaiting_return",
        "repair_in_warranty",
        None,
    )


def test_repair_out_of_warranty_is_quoted_parts_plus_labour(channel, products):
    order = _order(channel, products["phone"], qty=1, days=400)
    case = _file(order, "repair", "quality_defect", repair_parts=["SCREEN"])
    d = _decision(case)
    assert (case.status, d["rule"], case.quote_amount) == (
        "awaiting_customer",
        "repair_out_of_warranty_quote",
        Decimal("150.00"),  # screen 120.00 + labour 30.00
    )
    cs.case_provide_info(case=case, actor=None, answer="接受报价", accept_quote=True)
    assert case.status == "awaiting_return"


# ----------------------------------------------------------------------------- approvals


@pytest.mark.parametrize(
    ("sku", "qty", "role", "amount"),
    [("PHONE", 1, "team_lead", "1508.00"), ("TV", 1, "manager", "2608.00")],
)
def test_refunds_above_200_wait_for_the_right_role(channel, products, sku, qty, role, amount):
    product = {"PHONE": products["phone"], "TV": products["tv"]}[sku]
    case = _file(_order(channel, product, qty=qty, stage="paid"), "refund_only", "other")
    d = _decision(case)
    assert (case.status, case.approval_role, d["rule"]) == (
        "awaiting_approval",
        role,
        "refund_only_unshipped",
    )
    assert case.pending_action["amount"] == amount
    assert [m["role"] for m in d["modifiers"]] == [role]


def test_a_refund_under_200_needs_no_approval(channel, products):
    case = _file(_order(channel, products["cup"], qty=1, stage="paid"), "refund_only", "other")
    assert (case.status, case.refund_amount, case.approval_role) == (
        "refunding",
        Decimal("58.00"),
        "",
    )


def test_a_shop_without_a_policy_decides_nothing(db):
    shop = f.shop("bare")
    order = f.order(f.channel(shop))
    case = case_file(actor=None, case_type="refund_only", reason="other", order=order)
    assert (case.status, case.decision["rule"], case.decision["action"]) == (
        "awaiting_merchant",
        "no_policy",
        "route_to_person",
    )


def test_an_order_signed_later_is_decided_again(channel, products):
    now = timezone.now()
    order = _order(channel, products["cup"], stage="shipped", last_movement_at=now)
    case = _file(order, "refund_only", "other")
    assert _decision(case)["rule"] == "refund_only_in_transit_intercept"
    data = OrderData(
        external_id=order.external_id,
        lines=[OrderLineData(sku="CUP", quantity=2, unit_price=Decimal("50.00"))],
        shipping_fee=Decimal("8.00"),
        paid_at=order.paid_at,
        shipped_at=order.shipped_at,
        signed_at=now,
    )
    order_put(actor=None, channel=channel, data=data)
    d = _decision(case)
    assert (case.status, d["rule"], d["trigger"]) == (
        "awaiting_merchant",
        "refund_only_signed_no_quality_reason",
        "order_signed",
    )
    # The same data again changes nothing and decides nothing.
    order_put(actor=None, channel=channel, data=data)
    assert PolicyDecision.objects.filter(case=case).count() == 2
