"""Courier events in: verify the feed's signature, store each scan once, and move what it
concerns — a return's first scan lets the policy refund at once (lightning refund), a return
delivered to us is received, a replacement delivered completes its case, a stopped parcel
settles its intercept.

The signature is hex(HMAC-SHA256(secret, f"{timestamp}.{body}")) over the exact body, the
same scheme as our outgoing webhooks; timestamps older than five minutes are refused, and
event ids already stored are skipped, so a replay changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.cases.models import Case
from aftersales.cases.services import case_complete, case_receive
from aftersales.cases.states import CaseStatus
from aftersales.channels.models import Shipment
from aftersales.core.errors import DomainError, Invalid, NotAuthenticated
from aftersales.logistics.models import (
    OUTBOUND_KINDS,
    CourierEvent,
    CourierFeed,
    CourierStatus,
    Intercept,
    InterceptStatus,
    Parcel,
    ParcelKind,
    ParcelStatus,
)
from aftersales.logistics.services import intercept_resolve
from aftersales.notify.adapters.webhook import signed_by

MAX_SKEW_SECONDS = 300
MOVING = frozenset(
    {CourierStatus.PICKED_UP, CourierStatus.IN_TRANSIT, CourierStatus.OUT_FOR_DELIVERY}
)
STOPPED = frozenset({CourierStatus.INTERCEPTED, CourierStatus.RETURNED_TO_SENDER})


@dataclass(frozen=True)
class ScanIn:
    event_id: str
    courier: str
    tracking_number: str
    status: str
    occurred_at: datetime
    location: str = ""
    description: str = ""


def feed_verify(*, code: str, timestamp: str, sig: str, body: bytes) -> CourierFeed:
    """The feed that signed this body, or a 401-style refusal that says nothing more."""
    feed = CourierFeed.objects.filter(code=code, active=True).first()
    refused = NotAuthenticated("courier.bad_signature", _("The signature does not verify."))
    # Header values arrive as latin-1 text: only plain ASCII digits are a Unix time.
    if feed is None or not (timestamp.isascii() and timestamp.isdigit()):
        raise refused
    if abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
        raise NotAuthenticated("courier.stale", _("The timestamp is too old or in the future."))
    if not signed_by(feed.secret, timestamp, sig, body):
        raise refused
    return feed


@dataclass
class IngestResult:
    stored: int = 0
    duplicates: int = 0
    unmatched: int = 0


def courier_events_ingest(*, feed: CourierFeed, scans: list[ScanIn]) -> IngestResult:
    """Store and apply each scan in its own transaction, oldest first: one that cannot be
    applied (its case moved on) is kept with the reason and does not stop the rest."""
    errors = {
        f"events.{i}.status": _("Unknown courier status.")
        for i, scan in enumerate(scans)
        if scan.status not in CourierStatus.values
    }
    if errors:
        raise Invalid("courier.invalid", _("Some events are not valid."), errors)
    result = IngestResult()
    for scan in sorted(scans, key=lambda s: s.occurred_at):
        with transaction.atomic():
            try:
                # Only the event's own row tells a resend: an integrity error while applying
                # it is a bug to surface, not a duplicate to count.
                with transaction.atomic():
                    event = _event_store(feed, scan)
            except IntegrityError:
                result.duplicates += 1
                continue
            applied = _apply(feed.shop_id, scan)
            CourierEvent.objects.filter(pk=event.pk).update(applied="; ".join(applied)[:300])
        result.stored += 1
        result.unmatched += 0 if applied else 1
    return result


def _event_store(feed: CourierFeed, scan: ScanIn) -> CourierEvent:
    return CourierEvent.objects.create(
        shop_id=feed.shop_id,
        feed=feed,
        event_id=scan.event_id,
        courier=scan.courier,
        tracking_number=scan.tracking_number,
        status=scan.status,
        occurred_at=scan.occurred_at,
        location=scan.location[:200],
        description=scan.description[:300],
        received_at=timezone.now(),
    )


def _guarded(move: Callable[[], str]) -> str:
    """Run one case move in a savepoint. When the case moved on meanwhile, the scan is kept
    with the reason and the rest of the batch goes on."""
    try:
        with transaction.atomic():
            return move()
    except DomainError as exc:
        return exc.code


def _apply(shop_id: int, scan: ScanIn) -> list[str]:
    done = []
    parcels = Parcel.objects.select_for_update().filter(
        shop_id=shop_id, tracking_number=scan.tracking_number
    )
    for parcel in parcels:
        done.append(f"parcel:{parcel.pk} {scan.status}")
        # The parcel's progress is kept even when its case cannot follow.
        first_scan, delivered = _parcel_track(parcel, scan)
        note = _guarded(lambda p=parcel, f=first_scan, d=delivered: _case_follow(p, scan, f, d))
        if note:
            done.append(note)
    for shipment in Shipment.objects.filter(shop_id=shop_id, tracking_number=scan.tracking_number):
        done.append(f"shipment:{shipment.pk} {scan.status}")
        if shipment.last_movement_at is None or shipment.last_movement_at < scan.occurred_at:
            Shipment.objects.filter(pk=shipment.pk).update(last_movement_at=scan.occurred_at)
        note = _guarded(lambda s=shipment: _intercept_answer(s, scan))
        if note:
            done.append(note)
    return done


def _parcel_track(parcel: Parcel, scan: ScanIn) -> tuple[bool, bool]:
    """Record the scan on the parcel; (its first scan?, delivered to the addressee?).

    Feeds resend and reorder: a scan older than the last one seen does not overwrite it, and a
    parcel delivered or sent back keeps that status. "Delivered" after "returned to sender"
    is the parcel back with its sender, not with the addressee."""
    first_scan = scan.status in MOVING and parcel.first_scan_at is None
    newer = parcel.last_event_at is None or scan.occurred_at >= parcel.last_event_at
    settled = parcel.status in (ParcelStatus.DELIVERED, ParcelStatus.RETURNED)
    delivered = scan.status == CourierStatus.DELIVERED and parcel.status != ParcelStatus.RETURNED
    fields: dict = {}
    if newer:
        fields.update(last_event_at=scan.occurred_at, last_event=scan.description or scan.status)
    if scan.status in MOVING and (
        parcel.first_scan_at is None or scan.occurred_at < parcel.first_scan_at
    ):
        fields["first_scan_at"] = scan.occurred_at
    if delivered and parcel.status != ParcelStatus.DELIVERED:
        fields.update(status=ParcelStatus.DELIVERED, delivered_at=scan.occurred_at)
    elif newer and not settled:
        if scan.status == CourierStatus.EXCEPTION:
            fields["status"] = ParcelStatus.EXCEPTION
        elif scan.status in STOPPED:
            fields["status"] = ParcelStatus.RETURNED
        elif scan.status in MOVING:
            fields["status"] = ParcelStatus.IN_TRANSIT
    if fields:
        Parcel.objects.filter(pk=parcel.pk).update(**fields)
    return first_scan, delivered


def _case_follow(parcel: Parcel, scan: ScanIn, first_scan: bool, delivered: bool) -> str:
    case = Case.objects.get(pk=parcel.case_id)
    if parcel.kind == ParcelKind.RETURN:
        return _return_scanned(case, scan, first_scan, delivered)
    arrived = parcel.kind in OUTBOUND_KINDS and delivered
    if arrived and case.status == CaseStatus.SHIPPING_TO_CUSTOMER:
        case_complete(case=case, actor=None, note=_("Delivered to the customer."))
        return f"case:{case.pk} completed"
    return ""


def _return_scanned(case: Case, scan: ScanIn, first_scan: bool, delivered: bool) -> str:
    if delivered and case.status in (
        CaseStatus.AWAITING_RETURN,
        CaseStatus.RETURN_IN_TRANSIT,
    ):
        case_receive(
            case=case,
            actor=None,
            note=_("Delivered to our warehouse (%(where)s).") % {"where": scan.location or "-"},
        )
        return f"case:{case.pk} received"
    if first_scan and case.status == CaseStatus.RETURN_IN_TRANSIT:
        from aftersales.policies.services import case_decide  # the policy builds on us

        decision = case_decide(case=case, trigger="return_scanned")
        return f"case:{case.pk} decided {decision.applied or decision.action}"
    return ""


def _intercept_answer(shipment: Shipment, scan: ScanIn) -> str:
    intercept = Intercept.objects.filter(
        shop_id=shipment.shop_id, shipment=shipment, status=InterceptStatus.REQUESTED
    ).first()
    if intercept is None or scan.status not in STOPPED | {CourierStatus.DELIVERED}:
        return ""
    succeeded = scan.status in STOPPED
    intercept_resolve(intercept=intercept, actor=None, succeeded=succeeded)
    return f"intercept:{intercept.pk} {'succeeded' if succeeded else 'failed'}"
