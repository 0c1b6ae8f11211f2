"""Helpers for the logistics tests: orders with a shipment, signed courier posts, case walks,
and a snapshot of every row a refused request could have touched."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from datetime import datetime, timedelta
from decimal import Decimal

from django.test import Client
from django.utils import timezone

from aftersales.cases import services as cs
from aftersales.cases.models import Case, CaseEvent
from aftersales.catalog.models import Product
from aftersales.channels.models import Channel, Order, Shipment
from aftersales.channels.services import (
    CustomerData,
    OrderData,
    OrderLineData,
    ShipmentData,
    order_upsert,
)
from aftersales.ledger.models import JournalLine, Refund
from aftersales.logistics.models import (
    CourierEvent,
    Intercept,
    Parcel,
    StockLevel,
    StockMovement,
    SupplierClaim,
)
from aftersales.policies.models import PolicyDecision

_numbers = itertools.count(1)


def order_of(
    channel: Channel,
    product: Product,
    *,
    qty: int = 2,
    stage: str = "signed",
    days: int = 3,
    insured: bool = False,
    moved: datetime | None = None,
    tracking: str = "SF1",
) -> Order:
    """`qty` × product with 8.00 shipping; `stage` paid, shipped or signed `days` ago. A shipped
    order has one shipment (顺丰 `tracking`) whose courier last moved at `moved`."""
    now = timezone.now()
    shipped = now - timedelta(days=days + 2) if stage in ("shipped", "signed") else None
    order, _ = order_upsert(
        actor=None,
        channel=channel,
        data=OrderData(
            external_id=f"LG{next(_numbers):08d}",
            customer=CustomerData(name="李雷", phone=f"139{next(_numbers):08d}"),
            lines=[OrderLineData(sku=product.sku, quantity=qty, unit_price=product.price)],
            shipping_fee=Decimal("8.00"),
            paid_at=now - timedelta(days=days + 3),
            shipped_at=shipped,
            signed_at=now - timedelta(days=days) if stage == "signed" else None,
            shipping_insurance=insured,
            shipments=[ShipmentData("顺丰", tracking, shipped, moved or shipped)]
            if shipped
            else [],
        ),
    )
    return order


# ----------------------------------------------------------------------------- courier feed


def scan(
    event_id: str,
    tracking: str,
    status: str,
    at: datetime,
    *,
    location: str = "杭州转运中心",
    description: str = "",
) -> dict:
    return {
        "event_id": event_id,
        "courier": "中通",
        "tracking_number": tracking,
        "status": status,
        "occurred_at": at.isoformat(),
        "location": location,
        "description": description,
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    # Written out here rather than borrowed from the code under test.
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def courier_post(
    feed,
    events: list[dict] | None = None,
    *,
    body: bytes | None = None,
    timestamp: int | None = None,
    signature: str | None = None,
    code: str | None = None,
):
    """POST /courier-events as the feed would: the exact body, signed with its secret."""
    if body is None:
        body = json.dumps({"events": events or []}, ensure_ascii=False).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "HTTP_X_AFTERSALES_FEED": feed.code if code is None else code,
        "HTTP_X_AFTERSALES_TIMESTAMP": ts,
        "HTTP_X_AFTERSALES_SIGNATURE": sign(feed.secret, ts, body)
        if signature is None
        else signature,
    }
    return Client().post(
        "/api/v1/courier-events", data=body, content_type="application/json", **headers
    )


# ----------------------------------------------------------------------------- case walks


def sent_back(case: Case, tracking: str = "ZT1", postage: str | None = None) -> Case:
    cs.case_record_return(
        case=case,
        actor=None,
        courier="中通",
        tracking_number=tracking,
        postage=Decimal(postage) if postage is not None else None,
    )
    return case


def inspections(case: Case, disposition: str, grade: str = "resellable"):
    return [cs.LineInspection(line.pk, grade, disposition) for line in case.lines.order_by("pk")]


def repair_in_processing(order: Order) -> Case:
    """A repair case walked by hand to processing: approved, sent back, received and
    inspected (refurbish), work started."""
    from aftersales.tests import factories as f

    case = f.case(order, case_type="repair", reason="quality_defect")
    cs.case_approve(case=case, actor=None)
    sent_back(case)
    cs.case_receive(case=case, actor=None, inspections=inspections(case, "refurbish", "refurbish"))
    cs.case_process(case=case, actor=None)
    return case


# ----------------------------------------------------------------------------- snapshots


def world_state() -> dict[str, list]:
    """Every row a refused logistics request could touch, with the columns it would change."""

    def rows(qs, *fields):
        return list(qs.order_by("pk").values_list("pk", *fields))

    return {
        "cases": rows(Case.objects, "status", "refund_amount", "updated_at"),
        "case_events": rows(CaseEvent.objects, "kind"),
        "decisions": rows(PolicyDecision.objects, "rule"),
        "courier_events": rows(CourierEvent.objects, "event_id", "applied"),
        "parcels": rows(
            Parcel.objects,
            "status",
            "first_scan_at",
            "delivered_at",
            "last_event",
            "last_event_at",
        ),
        "shipments": rows(Shipment.objects, "last_movement_at"),
        "intercepts": rows(Intercept.objects, "status", "fee", "resolved_at", "entry_id"),
        "refunds": rows(Refund.objects, "status", "amount"),
        "journal": rows(JournalLine.objects, "account__code", "debit", "credit"),
        "stock": rows(StockLevel.objects, "sku", "sellable", "refurbish", "scrap", "supplier"),
        "movements": rows(StockMovement.objects, "sku", "bucket", "quantity"),
        "claims": rows(SupplierClaim.objects, "status", "settle_entry_id"),
    }
