"""Helpers for the API contract tests: the error shape, a snapshot of the database, uploads."""

from __future__ import annotations

import struct
import zlib
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from aftersales.cases.models import Case, CaseEvent, CaseLine, Evidence
from aftersales.catalog.models import Category, Product
from aftersales.channels.models import Channel, Customer, Order, OrderLine, Shipment

ERROR_KEYS = {"code", "message", "fields"}

# Every case action the API offers, written out (not derived from the code under test).
ACTIONS = [
    "approve",
    "reject",
    "request_info",
    "provide_info",
    "record_return",
    "receive",
    "refund",
    "process",
    "ship",
    "complete",
    "escalate",
    "appeal",
    "cancel",
    "close",
    "comment",
    "assign",
    "inspect",
    "intercept",
    "factory_send",
    "factory_receive",
    "compensate",
]


def assert_error(resp, status: int, code: str, fields) -> dict[str, Any]:
    """The response is the one error shape with this status and code.

    `fields`: a set (or list) of the exact field keys, or a dict for exact keys and values.
    """
    assert resp.status_code == status, resp.content
    assert resp["Content-Type"] == "application/json", resp["Content-Type"]
    body = resp.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == ERROR_KEYS, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"].strip(), error
    assert all(isinstance(v, str) for v in error["fields"].values()), error
    if isinstance(fields, dict):
        assert error["fields"] == fields, error
    else:
        assert set(error["fields"]) == set(fields), error
    return error


def db_state() -> dict[str, list[tuple]]:
    """Every row a refused request could touch, with the columns that would change."""
    return {
        "case": list(
            Case.objects.order_by("pk").values_list(
                "pk",
                "status",
                "updated_at",
                "refund_amount",
                "refund_method",
                "assignee_id",
                "team_id",
                "escalation_level",
                "outcome",
                "pending_action",
                "priority",
            )
        ),
        "case_line": list(
            CaseLine.objects.order_by("pk").values_list("pk", "quantity", "grade", "disposition")
        ),
        "case_event": list(CaseEvent.objects.order_by("pk").values_list("pk", "kind")),
        "evidence": list(Evidence.objects.order_by("pk").values_list("pk", "file")),
        "order": list(
            Order.objects.order_by("pk").values_list(
                "pk", "status", "total_paid", "shipping_fee", "customer_id", "updated_at"
            )
        ),
        "order_line": list(
            OrderLine.objects.order_by("pk").values_list(
                "pk", "sku", "quantity", "unit_price", "discount", "paid_amount"
            )
        ),
        "customer": list(Customer.objects.order_by("pk").values_list("pk", "name", "phone")),
        "shipment": list(Shipment.objects.order_by("pk").values_list("pk", "tracking_number")),
        "channel": list(Channel.objects.order_by("pk").values_list("pk", "code", "name")),
        "product": list(Product.objects.order_by("pk").values_list("pk", "sku", "price", "name")),
        "category": list(Category.objects.order_by("pk").values_list("pk", "code")),
    }


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def tiny_png() -> bytes:
    """A real, decodable 1×1 red PNG."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1×1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte + one RGB pixel
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


# The well-known smallest valid JPEG (1×1 grey, arithmetic coded): SOI DQT SOF9 DAC SOS EOI.
TINY_JPEG = bytes.fromhex(
    "ffd8ffdb004300030202020202030202020303030304060404040404080606050609"
    "080a0a090809090a0c0f0c0a0b0e0b09090d110d0e0f101011100a0c12131210130f"
    "101010ffc9000b080001000101011100ffcc000600101005ffda0008010100003f00"
    "d2cf20ffd9"
)


def upload(api, case_id: int, name: str, content: bytes, kind: str | None = "photo", **extra):
    """POST a multipart evidence upload with the client's token."""
    data: dict[str, Any] = {"file": SimpleUploadedFile(name, content)}
    if kind is not None:
        data["kind"] = kind
    data.update(extra)
    return api.client.post(f"/api/v1/cases/{case_id}/evidence", data, **api.headers)
