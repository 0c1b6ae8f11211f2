"""Stock follows the inspection's dispositions, replacements and reissues leave sellable
stock, a single part reissued leaves stock alone, and outbound parcels complete their case
when the courier delivers them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from aftersales.cases import services as cs
from aftersales.cases.models import Case
from aftersales.core.errors import Conflict, Invalid
from aftersales.logistics.models import Parcel, StockLevel, StockMovement
from aftersales.logistics.tests.helpers import (
    courier_post,
    inspections,
    order_of,
    scan,
    sent_back,
    world_state,
)
from aftersales.tests import factories as f


def _levels() -> list[tuple]:
    return list(
        StockLevel.objects.order_by("sku").values_list(
            "sku", "sellable", "refurbish", "scrap", "supplier"
        )
    )


def _movements() -> list[tuple]:
    return list(
        StockMovement.objects.order_by("pk").values_list(
            "sku", "bucket", "quantity", "reason", "case_id"
        )
    )


def _returned(order, case_type="return_refund") -> Case:
    """Approved, sent back and received: waiting for its inspection."""
    case = f.case(order, case_type=case_type, reason="quality_defect")
    cs.case_approve(case=case, actor=None)
    sent_back(case)
    cs.case_receive(case=case, actor=None)
    return case


# ----------------------------------------------------------------------------- inspection


@pytest.mark.parametrize(
    ("disposition", "grade", "level", "bucket"),
    [
        ("restock", "resellable", ("CUP", 2, 0, 0, 0), "sellable"),
        ("refurbish", "refurbish", ("CUP", 0, 2, 0, 0), "refurbish"),
        ("scrap", "scrap", ("CUP", 0, 0, 2, 0), "scrap"),
        ("return_to_supplier", "scrap", ("CUP", 0, 0, 0, 2), "supplier"),
    ],
)
def test_each_disposition_moves_the_units_into_its_bucket(
    channel, products, disposition, grade, level, bucket
):
    case = _returned(order_of(channel, products["cup"], qty=2))
    cs.case_inspect(case=case, actor=None, inspections=inspections(case, disposition, grade))
    assert _levels() == [level]
    assert _movements() == [("CUP", bucket, 2, disposition, case.pk)]


def test_a_missing_item_moves_no_stock(channel, products):
    case = _returned(order_of(channel, products["cup"], qty=2))
    cs.case_inspect(case=case, actor=None, inspections=inspections(case, "missing", "scrap"))
    assert (_levels(), _movements()) == ([], [])
    assert case.lines.get().disposition == "missing"


def test_each_line_goes_to_its_own_bucket_and_levels_add_up(channel, products, shop):
    mug = f.product(shop, sku="MUG", price="30.00")
    order = f.order(
        channel,
        [(products["cup"], 3, "50.00", "0.00"), (mug, 1, "30.00", "0.00")],
    )
    first = _returned(order, case_type="exchange")
    cup_line, mug_line = first.lines.order_by("order_line__sku").all()
    cs.case_inspect(
        case=first,
        actor=None,
        inspections=[
            cs.LineInspection(cup_line.pk, "resellable", "restock"),
            cs.LineInspection(mug_line.pk, "scrap", "scrap"),
        ],
    )
    second = _returned(f.order(channel, [(products["cup"], 1, "50.00", "0.00")]))
    cs.case_inspect(case=second, actor=None, inspections=inspections(second, "restock"))
    assert _levels() == [("CUP", 4, 0, 0, 0), ("MUG", 0, 0, 1, 0)]
    assert _movements() == [
        ("CUP", "sellable", 3, "restock", first.pk),
        ("MUG", "scrap", 1, "scrap", first.pk),
        ("CUP", "sellable", 1, "restock", second.pk),
    ]


def test_receiving_with_the_inspection_moves_stock_at_once(channel, products):
    case = f.case(order_of(channel, products["cup"], qty=2), reason="quality_defect")
    cs.case_approve(case=case, actor=None)
    sent_back(case)
    cs.case_receive(case=case, actor=None, inspections=inspections(case, "refurbish", "refurbish"))
    assert _levels() == [("CUP", 0, 2, 0, 0)]
    assert Parcel.objects.get(case=case, kind="return").status == "delivered"


def test_inspecting_twice_is_refused_and_stock_stays(channel, products):
    case = _returned(order_of(channel, products["cup"], qty=2))
    cs.case_inspect(case=case, actor=None, inspections=inspections(case, "restock"))
    before = world_state()
    with pytest.raises(Conflict) as refused:
        cs.case_inspect(case=case, actor=None, inspections=inspections(case, "scrap", "scrap"))
    assert (refused.value.status, refused.value.code) == (409, "case.already_inspected")
    assert world_state() == before
    assert _levels() == [("CUP", 2, 0, 0, 0)]


def test_an_incomplete_inspection_moves_nothing(channel, products, shop):
    mug = f.product(shop, sku="MUG", price="30.00")
    order = f.order(channel, [(products["cup"], 1, "50.00", "0.00"), (mug, 1, "30.00", "0.00")])
    case = _returned(order)
    first_line = case.lines.order_by("pk").first()
    before = world_state()
    with pytest.raises(Invalid) as refused:
        cs.case_inspect(
            case=case,
            actor=None,
            inspections=[cs.LineInspection(first_line.pk, "resellable", "restock")],
        )
    assert (refused.value.status, refused.value.code) == (422, "case.invalid_inspection")
    assert set(refused.value.fields) == {"lines"}
    assert world_state() == before


# ----------------------------------------------------------------------------- outbound


def _exchange_ready_to_ship(channel, products) -> Case:
    case = f.case(order_of(channel, products["cup"], qty=1), case_type="exchange")
    cs.case_approve(case=case, actor=None)
    sent_back(case)
    cs.case_receive(case=case, actor=None, inspections=inspections(case, "restock"))
    cs.case_process(case=case, actor=None)
    return case


def test_an_exchange_ships_its_replacement_out_of_sellable_stock(channel, products):
    case = _exchange_ready_to_ship(channel, products)
    assert _levels() == [("CUP", 1, 0, 0, 0)]
    cs.case_ship(case=case, actor=None, courier="顺丰", tracking_number="SF900")
    assert case.status == "shipping_to_customer"
    assert _levels() == [("CUP", 0, 0, 0, 0)]
    assert _movements() == [
        ("CUP", "sellable", 1, "restock", case.pk),
        ("CUP", "sellable", -1, "replacement", case.pk),
    ]
    parcel = Parcel.objects.get(case=case, kind="replacement")
    assert (parcel.status, parcel.courier, parcel.tracking_number, parcel.parts) == (
        "in_transit",
        "顺丰",
        "SF900",
        [],
    )


def test_a_delivered_replacement_completes_the_case(channel, products, feed):
    case = _exchange_ready_to_ship(channel, products)
    cs.case_ship(case=case, actor=None, courier="顺丰", tracking_number="SF900")
    t0 = timezone.now() - timedelta(hours=6)
    resp = courier_post(
        feed,
        [
            scan("o-1", "SF900", "picked_up", t0),
            scan("o-2", "SF900", "delivered", t0 + timedelta(hours=5)),
        ],
    )
    assert resp.json() == {"stored": 2, "duplicates": 0, "unmatched": 0}
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("succeeded", "exchanged")
    parcel = Parcel.objects.get(case=case, kind="replacement")
    assert (parcel.status, parcel.delivered_at) == ("delivered", t0 + timedelta(hours=5))


def test_a_replacement_sent_back_to_us_does_not_complete_the_case(channel, products, feed):
    case = _exchange_ready_to_ship(channel, products)
    cs.case_ship(case=case, actor=None, courier="顺丰", tracking_number="SF900")
    t0 = timezone.now() - timedelta(hours=6)
    courier_post(
        feed,
        [
            scan("o-1", "SF900", "picked_up", t0),
            scan("o-2", "SF900", "returned_to_sender", t0 + timedelta(hours=2)),
            # Delivered back to the sender (us), not to the customer.
            scan("o-3", "SF900", "delivered", t0 + timedelta(hours=5)),
        ],
    )
    case.refresh_from_db()
    assert case.status == "shipping_to_customer"
    parcel = Parcel.objects.get(case=case, kind="replacement")
    assert (parcel.status, parcel.delivered_at) == ("returned", None)


def test_a_reissue_of_the_whole_item_leaves_sellable_stock(channel, products):
    case = f.case(order_of(channel, products["cup"], qty=2), "reissue", "lost_in_transit")
    cs.case_approve(case=case, actor=None)
    cs.case_ship(case=case, actor=None, courier="顺丰", tracking_number="SF901")
    assert _levels() == [("CUP", -2, 0, 0, 0)]
    assert _movements() == [("CUP", "sellable", -2, "reissue", case.pk)]
    assert Parcel.objects.get(case=case).kind == "reissue"


def test_a_single_part_reissued_leaves_stock_alone(channel, products):
    case = f.case(order_of(channel, products["phone"], qty=1), "reissue", "damaged_in_transit")
    cs.case_approve(case=case, actor=None)
    cs.case_ship(case=case, actor=None, courier="顺丰", tracking_number="SF902", parts=["SCREEN"])
    parcel = Parcel.objects.get(case=case)
    assert (parcel.kind, parcel.status, parcel.parts, parcel.tracking_number) == (
        "part_reissue",
        "in_transit",
        ["SCREEN"],
        "SF902",
    )
    assert (_levels(), _movements()) == ([], [])


def test_an_unknown_part_is_refused_and_nothing_changes(channel, products):
    case = f.case(order_of(channel, products["phone"], qty=1), "reissue", "damaged_in_transit")
    cs.case_approve(case=case, actor=None)
    before = world_state()
    with pytest.raises(Invalid) as refused:
        cs.case_ship(
            case=case,
            actor=None,
            courier="顺丰",
            tracking_number="SF903",
            parts=["SCREEN", "BATTERY"],
        )
    assert (refused.value.status, refused.value.code, refused.value.fields) == (
        422,
        "case.invalid_parts",
        {"parts.1": "Not a part of these products."},
    )
    assert world_state() == before
    assert Case.objects.get(pk=case.pk).status == "processing"
    assert not Parcel.objects.filter(case=case).exists()
