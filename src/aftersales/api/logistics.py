"""Logistics over HTTP: the signed courier-event intake, a case's parcels, return addresses,
intercept answers, supplier claims and after-sales stock.

`POST /courier-events` takes no API token: the feed signs each body with its own secret
(X-Aftersales-Feed, X-Aftersales-Timestamp, X-Aftersales-Signature = hex HMAC-SHA256 over
"{timestamp}.{body}"). A bad signature or an unknown feed is 401 courier.bad_signature, a
timestamp more than five minutes off is 401 courier.stale, a body that is not JSON is 400
request.malformed, field errors are 422 with the path of each ("events.3.status").
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.errors import ValidationError as RequestInvalid
from pydantic import AfterValidator
from pydantic import AwareDatetime as ZonedDatetime
from pydantic import ValidationError as PydanticError

from aftersales.accounts.selectors import shop_ids_for
from aftersales.api.schemas import ERRORS, Id, In, Money
from aftersales.cases.selectors import case_get_for_actor
from aftersales.channels.selectors import shop_get_for_actor
from aftersales.core.errors import DomainError, Forbidden, NotFound
from aftersales.core.money import ZERO
from aftersales.logistics.courier import ScanIn, courier_events_ingest, feed_verify
from aftersales.logistics.models import (
    ClaimStatus,
    Intercept,
    StockLevel,
    SupplierClaim,
    Warehouse,
)
from aftersales.logistics.selectors import case_parcels, stock_levels
from aftersales.logistics.services import intercept_get, intercept_resolve, supplier_claim_settle

router = Router(tags=["logistics"])

MAX_EVENTS = 500
VIEW_CLAIMS = "logistics.view_supplierclaim"


def _require(actor: AbstractBaseUser, perm: str) -> None:
    if not actor.has_perm(perm):
        raise Forbidden("permission.denied", _("You may not do this."), {"permission": perm})


# ----------------------------------------------------------------------------- courier events


def _plausible(value: datetime) -> datetime:
    if not 2000 <= value.year <= 2999:
        raise ValueError(_("must be between the years 2000 and 2999"))
    return value


# A courier's local time without a zone is ambiguous: refused rather than guessed.
ScanTime = Annotated[ZonedDatetime, AfterValidator(_plausible)]


class CourierEventIn(In):
    event_id: str = Field(min_length=1, max_length=100, description="unique within the feed")
    courier: str = Field(min_length=1, max_length=40)
    tracking_number: str = Field(min_length=1, max_length=64)
    status: str = Field(
        min_length=1,
        max_length=40,
        description="picked_up, in_transit, out_for_delivery, delivered, exception, "
        "intercepted or returned_to_sender",
    )
    occurred_at: ScanTime = Field(description="ISO 8601 with its zone")
    # Longer texts are cut to what is kept (200 / 300) rather than refused.
    location: str = Field(default="", max_length=2000)
    description: str = Field(default="", max_length=2000)


class CourierBatchIn(In):
    events: list[CourierEventIn] = Field(max_length=MAX_EVENTS)


class CourierBatchOut(Schema):
    stored: int = Field(description="new events kept")
    duplicates: int = Field(description="event ids this feed sent before: nothing changed")
    unmatched: int = Field(description="stored, but no parcel or shipment has that tracking")


def _raw_body(request: HttpRequest) -> bytes:
    try:
        return request.body
    except RequestDataTooBig as exc:
        raise DomainError(
            "request.too_large",
            _("The body is too large."),
            {"events": _("At most %(n)s events.") % {"n": MAX_EVENTS}},
        ) from exc


def _batch_parse(body: bytes) -> CourierBatchIn:
    """The body as a batch, with the API's usual errors: 400 for what is not JSON, 422 naming
    each field that is wrong."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DomainError(
            "request.malformed", _("The body is not valid JSON."), {"body": _("Not valid JSON.")}
        ) from exc
    try:
        return CourierBatchIn.model_validate(data)
    except PydanticError as exc:
        errors = [{**err, "loc": ("body", "payload", *err["loc"])} for err in exc.errors()]
        raise RequestInvalid(errors) from exc


def _batch_schema() -> dict:
    # Documented by hand: the body is read raw (for the signature), not parsed by ninja.
    return {
        "type": "object",
        "required": ["events"],
        "properties": {
            "events": {
                "type": "array",
                "maxItems": MAX_EVENTS,
                "items": CourierEventIn.model_json_schema(),
            }
        },
    }


@router.post(
    "/courier-events",
    auth=None,
    response={200: CourierBatchOut, **ERRORS},
    openapi_extra={
        "security": [],  # signed by the feed, not a bearer token
        "parameters": [
            {"in": "header", "name": name, "required": True, "schema": {"type": "string"}}
            for name in ("X-Aftersales-Feed", "X-Aftersales-Timestamp", "X-Aftersales-Signature")
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _batch_schema()}},
        },
    },
)
def courier_events(request: HttpRequest):
    """Courier scans from a signed feed. Each event is stored once per feed and event id (a
    resend changes nothing) and moves what it concerns: the return's first scan (lightning
    refund), a return delivered to us (received), a replacement delivered (completed), an
    order's parcel stopped or delivered (its intercept answered)."""
    body = _raw_body(request)
    # The signature comes first: nothing about the body is said to an unknown sender.
    feed = feed_verify(
        code=request.headers.get("X-Aftersales-Feed", ""),
        timestamp=request.headers.get("X-Aftersales-Timestamp", ""),
        sig=request.headers.get("X-Aftersales-Signature", ""),
        body=body,
    )
    batch = _batch_parse(body)
    result = courier_events_ingest(
        feed=feed,
        scans=[
            ScanIn(
                event_id=e.event_id,
                courier=e.courier,
                tracking_number=e.tracking_number,
                status=e.status,
                occurred_at=e.occurred_at,
                location=e.location,
                description=e.description,
            )
            for e in batch.events
        ],
    )
    return {
        "stored": result.stored,
        "duplicates": result.duplicates,
        "unmatched": result.unmatched,
    }


# ----------------------------------------------------------------------------- parcels


class ParcelOut(Schema):
    id: int
    kind: str
    status: str
    courier: str
    tracking_number: str
    warehouse_id: int | None
    address: str = Field(description="where it goes, as shown when it was asked for or sent")
    postage: Decimal | None = Field(description="return postage the customer paid")
    postage_paid_by: str = Field(description="merchant, customer or insurance")
    factory: str
    parts: list[str]
    first_scan_at: datetime | None
    delivered_at: datetime | None
    last_event: str
    last_event_at: datetime | None
    created_at: datetime


@router.get("/cases/{case_id}/parcels", response={200: list[ParcelOut], **ERRORS})
def case_parcel_list(request: HttpRequest, case_id: int):
    """The case's parcels in both directions, oldest first."""
    return case_parcels(case_get_for_actor(request.auth, case_id))


# ----------------------------------------------------------------------------- warehouses


class WarehouseOut(Schema):
    id: int
    shop_id: int
    code: str
    name: str
    contact_name: str
    phone: str
    address: str
    return_address: str = Field(description="recipient, phone and address as customers see it")
    is_default: bool


class ShopQuery(Schema):
    shop_id: Id


@router.get("/warehouses", response={200: list[WarehouseOut], **ERRORS})
def warehouse_list(request: HttpRequest, query: Query[ShopQuery]):
    """The shop's active return addresses, the default first."""
    shop = shop_get_for_actor(request.auth, query.shop_id)
    return list(Warehouse.objects.filter(shop=shop, active=True).order_by("-is_default", "code"))


# ----------------------------------------------------------------------------- intercepts


class InterceptResolveIn(In):
    succeeded: bool = Field(description="the courier stopped the parcel")
    fee: Money = Field(default=ZERO, description="what the courier charged for it")
    note: str = Field(default="", max_length=300)


class InterceptOut(Schema):
    id: int
    shop_id: int
    case_id: int
    shipment_id: int
    courier: str
    tracking_number: str
    status: str
    fee: Decimal
    note: str
    requested_at: datetime
    resolved_at: datetime | None
    case_status: str

    @staticmethod
    def resolve_courier(intercept: Intercept) -> str:
        return intercept.shipment.courier

    @staticmethod
    def resolve_tracking_number(intercept: Intercept) -> str:
        return intercept.shipment.tracking_number

    @staticmethod
    def resolve_case_status(intercept: Intercept) -> str:
        return intercept.case.status


@router.post(
    "/intercepts/{intercept_id}/actions/resolve",
    response={200: InterceptOut, **ERRORS},
)
def intercept_resolve_action(request: HttpRequest, intercept_id: int, payload: InterceptResolveIn):
    """The courier's answer to an intercept: stopped (the fee is booked and the refund is
    decided) or not (the case stays with a person)."""
    intercept = intercept_get(shop_ids=shop_ids_for(request.auth), intercept_id=intercept_id)
    intercept_resolve(
        intercept=intercept,
        actor=request.auth,
        succeeded=payload.succeeded,
        fee=payload.fee,
        note=payload.note,
    )
    return Intercept.objects.select_related("case", "shipment").get(pk=intercept.pk)


# ----------------------------------------------------------------------------- supplier claims


class SupplierClaimOut(Schema):
    id: int
    shop_id: int
    case_id: int
    case_reference: str
    supplier: str
    amount: Decimal
    reason: str
    status: str
    opened_at: datetime
    settled_at: datetime | None

    @staticmethod
    def resolve_case_reference(claim: SupplierClaim) -> str:
        return claim.case.reference


class SupplierClaimPage(Schema):
    items: list[SupplierClaimOut]
    next_cursor: int | None


class SupplierClaimQuery(Schema):
    shop_id: Id
    status: ClaimStatus | None = None
    before_id: Id | None = Field(default=None, description="next_cursor of the previous page")
    limit: int = Field(default=50, ge=1, le=200)


class SupplierClaimSettleIn(In):
    paid: bool = Field(description="true: the supplier paid; false: they refused the claim")


def _claims(actor: AbstractBaseUser):
    return SupplierClaim.objects.filter(shop_id__in=shop_ids_for(actor)).select_related("case")


@router.get("/supplier-claims", response={200: SupplierClaimPage, **ERRORS})
def supplier_claim_list(request: HttpRequest, query: Query[SupplierClaimQuery]):
    """What suppliers and factories owe the shop back, newest first."""
    shop = shop_get_for_actor(request.auth, query.shop_id)
    _require(request.auth, VIEW_CLAIMS)
    claims = _claims(request.auth).filter(shop=shop)
    if query.status is not None:
        claims = claims.filter(status=query.status)
    if query.before_id is not None:
        claims = claims.filter(pk__lt=query.before_id)
    rows = list(claims.order_by("-pk")[: query.limit + 1])
    next_cursor = rows[query.limit - 1].pk if len(rows) > query.limit else None
    return {"items": rows[: query.limit], "next_cursor": next_cursor}


@router.post(
    "/supplier-claims/{claim_id}/actions/settle", response={200: SupplierClaimOut, **ERRORS}
)
def supplier_claim_settle_action(
    request: HttpRequest, claim_id: int, payload: SupplierClaimSettleIn
):
    """The supplier paid (cash in) or refused (the recovery is reversed); once per claim."""
    claim = _claims(request.auth).filter(pk=claim_id).first()
    if claim is None:
        raise NotFound("claim.not_found", _("No such supplier claim."))
    settled = supplier_claim_settle(claim=claim, actor=request.auth, paid=payload.paid)
    return _claims(request.auth).get(pk=settled.pk)


# ----------------------------------------------------------------------------- stock


class StockOut(Schema):
    sku: str
    sellable: int = Field(description="units after-sales put back on sale (minus replacements)")
    refurbish: int
    scrap: int
    supplier: int = Field(description="units waiting to go back to the supplier")


class StockQuery(Schema):
    shop_id: Id
    sku: str | None = Field(default=None, max_length=64)


@router.get("/stock", response={200: list[StockOut], **ERRORS})
def stock_list(request: HttpRequest, query: Query[StockQuery]):
    """What after-sales moved into each stock bucket, per SKU (one SKU with `sku`)."""
    shop = shop_get_for_actor(request.auth, query.shop_id)
    levels: dict[str, StockLevel] = stock_levels(shop.pk, [query.sku] if query.sku else None)
    return [levels[sku] for sku in sorted(levels)]
