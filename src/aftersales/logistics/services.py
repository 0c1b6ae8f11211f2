"""Writes for goods on the move: return parcels and addresses, outbound and factory parcels,
stock movements from inspection, intercepts, and supplier claims booked to the ledger."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.accounts.roles import ESCALATION_LADDER
from aftersales.cases.approvals import _role_for_amount
from aftersales.cases.events import event_record
from aftersales.cases.models import Case, Disposition
from aftersales.cases.services import case_refund
from aftersales.cases.states import CaseStatus, CaseType
from aftersales.cases.transitions import _require, _required_text, case_step, event_announce
from aftersales.channels.models import Shipment
from aftersales.core.errors import Conflict, Invalid, NotFound
from aftersales.core.money import MONEY_MAX, ZERO, money
from aftersales.ledger.services import Posting, journal_post
from aftersales.logistics.models import (
    ClaimStatus,
    Intercept,
    InterceptStatus,
    Parcel,
    ParcelKind,
    ParcelStatus,
    StockBucket,
    StockLevel,
    StockMovement,
    SupplierClaim,
)
from aftersales.logistics.selectors import return_parcel, warehouse_for_returns
from aftersales.policies.facts import QUALITY_REASONS, case_refund_amount
from aftersales.policies.money import return_shipping_payer

# --------------------------------------------------------------------------- returns


def postage_payer(case: Case) -> str:
    """Who bears the return postage: the policy's word when it gave one, else our fault or
    the shipping insurance decides (DESIGN §5)."""
    params = (case.decision or {}).get("params") or {}
    if params.get("return_shipping_paid_by"):
        return params["return_shipping_paid_by"]
    return return_shipping_payer(
        quality_reason=case.reason in QUALITY_REASONS,
        shipping_insurance=bool(case.order_id and case.order.shipping_insurance),
    )


def return_expect(case: Case, at: datetime) -> Parcel:
    """The return was approved: the parcel we wait for, with the address the customer sends
    it to (shown on the case and in the approval message)."""
    warehouse = warehouse_for_returns(case.shop_id)
    return Parcel.objects.create(
        shop_id=case.shop_id,
        case=case,
        kind=ParcelKind.RETURN,
        status=ParcelStatus.EXPECTED,
        warehouse=warehouse,
        address=warehouse.return_address if warehouse else "",
        postage_paid_by=postage_payer(case),
        created_at=at,
    )


def return_sent(case: Case, data: dict, at: datetime) -> Parcel:
    parcel = return_parcel(case) or return_expect(case, at)
    parcel.courier = data["courier"]
    parcel.tracking_number = data["tracking_number"]
    parcel.status = ParcelStatus.IN_TRANSIT
    if "postage" in data:
        parcel.postage = Decimal(data["postage"])
    parcel.save()
    return parcel


def return_arrived(case: Case, at: datetime) -> None:
    Parcel.objects.filter(
        shop_id=case.shop_id, case=case, kind=ParcelKind.RETURN, delivered_at__isnull=True
    ).update(status=ParcelStatus.DELIVERED, delivered_at=at)


# --------------------------------------------------------------------------- stock

_BUCKET = {
    Disposition.RESTOCK: StockBucket.SELLABLE,
    Disposition.REFURBISH: StockBucket.REFURBISH,
    Disposition.SCRAP: StockBucket.SCRAP,
    Disposition.RETURN_TO_SUPPLIER: StockBucket.SUPPLIER,
    # MISSING: nothing arrived, nothing to count.
}


def stock_move(
    *, case: Case, sku: str, bucket: str, quantity: int, reason: str, at: datetime
) -> None:
    """Change one bucket of one SKU and keep the movement (the stock's audit trail)."""
    StockLevel.objects.get_or_create(shop_id=case.shop_id, sku=sku)
    StockLevel.objects.filter(shop_id=case.shop_id, sku=sku).update(
        **{bucket: F(bucket) + quantity}
    )
    StockMovement.objects.create(
        shop_id=case.shop_id,
        sku=sku,
        bucket=bucket,
        quantity=quantity,
        case=case,
        reason=reason,
        created_at=at,
    )


def stock_from_inspection(case: Case, lines: list[dict], at: datetime) -> None:
    for line in lines:
        bucket = _BUCKET.get(line["disposition"])
        if bucket is not None:
            stock_move(
                case=case,
                sku=line["sku"],
                bucket=bucket,
                quantity=line["quantity"],
                reason=line["disposition"],
                at=at,
            )


# --------------------------------------------------------------------------- outbound

_OUTBOUND_KIND = {
    CaseType.EXCHANGE: ParcelKind.REPLACEMENT,
    CaseType.REISSUE: ParcelKind.REISSUE,
    CaseType.REPAIR: ParcelKind.REPAIRED,
}


def outbound_sent(case: Case, data: dict, at: datetime) -> Parcel:
    """The replacement, reissue, single part or repaired item left: its parcel, and for a new
    item the unit out of sellable stock."""
    parts = data.get("parts") or []
    kind = ParcelKind.PART_REISSUE if parts else _OUTBOUND_KIND[case.type]
    parcel = Parcel.objects.create(
        shop_id=case.shop_id,
        case=case,
        kind=kind,
        status=ParcelStatus.IN_TRANSIT,
        courier=data["courier"],
        tracking_number=data["tracking_number"],
        parts=parts,
        created_at=at,
    )
    if kind in (ParcelKind.REPLACEMENT, ParcelKind.REISSUE):
        for line in case.lines.select_related("order_line"):
            stock_move(
                case=case,
                sku=line.order_line.sku,
                bucket=StockBucket.SELLABLE,
                quantity=-line.quantity,
                reason=kind,
                at=at,
            )
    return parcel


# --------------------------------------------------------------------------- factory


def _at_factory(case: Case) -> Parcel | None:
    """The parcel that took the item to the factory, while it has not come back."""
    legs = list(
        Parcel.objects.filter(
            shop_id=case.shop_id,
            case=case,
            kind__in=[ParcelKind.TO_FACTORY, ParcelKind.FROM_FACTORY],
        ).order_by("-id")[:1]
    )
    return legs[0] if legs and legs[0].kind == ParcelKind.TO_FACTORY else None


def case_factory_send(
    *,
    case: Case,
    actor: AbstractBaseUser | None,
    factory: str,
    courier: str,
    tracking_number: str,
    note: str = "",
) -> Case:
    """Send the item under repair to the factory (返厂); the case stays in processing."""
    factory = _required_text(factory, "factory")
    courier = _required_text(courier, "courier")
    tracking_number = _required_text(tracking_number, "tracking_number")
    with case_step(case, actor, "factory_send", note=note) as step:
        if _at_factory(case) is not None:
            raise Conflict("factory.already_there", _("The item is at the factory already."))
        parcel = Parcel.objects.create(
            shop_id=case.shop_id,
            case=step.case,
            kind=ParcelKind.TO_FACTORY,
            status=ParcelStatus.IN_TRANSIT,
            courier=courier,
            tracking_number=tracking_number,
            factory=factory,
            created_at=timezone.now(),
        )
        step.data.update(
            {
                "parcel": parcel.pk,
                "factory": factory,
                "courier": courier,
                "tracking_number": tracking_number,
            }
        )
    return case


def case_factory_receive(
    *,
    case: Case,
    actor: AbstractBaseUser | None,
    courier: str,
    tracking_number: str,
    claim_amount: Decimal | None = None,
    note: str = "",
) -> Case:
    """The item is back from the factory. What the factory owes us for the defect (a warranty
    claim) is booked now: supplier recoverable against supplier recoveries."""
    courier = _required_text(courier, "courier")
    tracking_number = _required_text(tracking_number, "tracking_number")
    if claim_amount is not None and not ZERO < money(claim_amount) <= MONEY_MAX:
        raise Invalid(
            "factory.invalid", _("A claim is above zero."), {"claim_amount": str(claim_amount)}
        )
    now = timezone.now()
    with case_step(case, actor, "factory_receive", note=note) as step:
        sent = _at_factory(case)
        if sent is None:
            raise Conflict("factory.not_there", _("Nothing of this case is at the factory."))
        Parcel.objects.filter(pk=sent.pk).update(status=ParcelStatus.DELIVERED, delivered_at=now)
        Parcel.objects.create(
            shop_id=case.shop_id,
            case=step.case,
            kind=ParcelKind.FROM_FACTORY,
            status=ParcelStatus.DELIVERED,
            courier=courier,
            tracking_number=tracking_number,
            factory=sent.factory,
            delivered_at=now,
            created_at=now,
        )
        step.data.update(
            {"factory": sent.factory, "courier": courier, "tracking_number": tracking_number}
        )
        if claim_amount is not None:
            claim = supplier_claim_open(
                case=step.case,
                actor=actor,
                supplier=sent.factory,
                amount=money(claim_amount),
                reason=_("Warranty repair of %(case)s") % {"case": case.reference},
                at=now,
            )
            step.data.update({"claim": claim.pk, "claim_amount": str(claim.amount)})
    return case


# --------------------------------------------------------------------------- supplier claims


def supplier_claim_open(
    *,
    case: Case,
    actor: AbstractBaseUser | None,
    supplier: str,
    amount: Decimal,
    reason: str,
    at: datetime,
) -> SupplierClaim:
    entry = journal_post(
        shop=case.shop,
        postings=[
            Posting("supplier_recoverable", debit=amount),
            Posting("supplier_recoveries", credit=amount),
        ],
        memo=_("Supplier claim on %(supplier)s for %(case)s")
        % {"supplier": supplier, "case": case.reference},
        actor=actor,
        case=case,
        order=case.order,
        at=at,
    )
    return SupplierClaim.objects.create(
        shop_id=case.shop_id,
        case=case,
        supplier=supplier[:120],
        amount=amount,
        reason=reason[:300],
        status=ClaimStatus.OPEN,
        opened_at=at,
        entry=entry,
    )


@transaction.atomic
def supplier_claim_settle(
    *, claim: SupplierClaim, actor: AbstractBaseUser | None, paid: bool
) -> SupplierClaim:
    """The supplier paid (cash in against the receivable) or refused (the recovery reversed)."""
    _require(actor, "logistics.change_supplierclaim", claim.shop_id)
    locked = SupplierClaim.objects.select_for_update().select_related("case").get(pk=claim.pk)
    if locked.status != ClaimStatus.OPEN:
        raise Conflict("claim.settled", _("This claim is settled already."))
    credit = "supplier_recoverable"
    debit = "payment_clearing" if paid else "supplier_recoveries"
    now = timezone.now()
    locked.settle_entry = journal_post(
        shop=locked.case.shop,
        postings=[Posting(debit, debit=locked.amount), Posting(credit, credit=locked.amount)],
        memo=_("Supplier claim %(id)s settled") % {"id": locked.pk},
        actor=actor,
        case=locked.case,
        key=f"claim_settle:{locked.pk}",
        at=now,
    )
    locked.status = ClaimStatus.SETTLED if paid else ClaimStatus.REJECTED
    locked.settled_at = now
    locked.save()
    return locked


# --------------------------------------------------------------------------- intercepts


def _parcel_to_stop(case: Case) -> Shipment | None:
    if case.order_id is None:
        return None
    # PostgreSQL sorts NULL first in descending order, SQLite last: say it for both.
    latest = F("shipped_at").desc(nulls_last=True)
    return case.order.shipments.order_by(latest, "-id").first()


def intercept_request(*, case: Case, actor: AbstractBaseUser | None, note: str = "") -> Intercept:
    """Ask the courier to stop the order's parcel (拦截); the refund waits for the answer."""
    with case_step(case, actor, "intercept", note=note) as step:
        shipment = _parcel_to_stop(step.case)
        if shipment is None:
            raise Invalid(
                "intercept.no_parcel",
                _("The order has no parcel on its way."),
                {"shipment": _("None known.")},
            )
        open_one = Intercept.objects.filter(
            shop_id=case.shop_id, shipment=shipment, status=InterceptStatus.REQUESTED
        ).first()
        if open_one is not None:
            raise Conflict("intercept.open", _("An intercept of this parcel is under way."))
        intercept = Intercept.objects.create(
            shop_id=case.shop_id,
            case=step.case,
            shipment=shipment,
            status=InterceptStatus.REQUESTED,
            requested_at=timezone.now(),
            note=note[:300],
        )
        step.data.update(
            {
                "intercept": intercept.pk,
                "courier": shipment.courier,
                "tracking_number": shipment.tracking_number,
            }
        )
    return intercept


@transaction.atomic
def intercept_resolve(
    *,
    intercept: Intercept,
    actor: AbstractBaseUser | None,
    succeeded: bool,
    fee: Decimal = ZERO,
    note: str = "",
) -> Intercept:
    """The courier's answer. Stopped: the fee is booked and the refund goes out at once (the
    goods are coming back). Not stopped: a person decides; the customer may return it."""
    _require(actor, "cases.act_intercept", intercept.shop_id)
    fee = money(fee)
    if not ZERO <= fee <= MONEY_MAX:
        raise Invalid("intercept.invalid", _("The fee cannot be negative."), {"fee": str(fee)})
    locked = Intercept.objects.select_for_update().select_related("case").get(pk=intercept.pk)
    if locked.status != InterceptStatus.REQUESTED:
        raise Conflict("intercept.resolved", _("This intercept was resolved already."))
    case = locked.case
    now = timezone.now()
    locked.status = InterceptStatus.SUCCEEDED if succeeded else InterceptStatus.FAILED
    locked.fee, locked.resolved_at = fee, now
    if fee > ZERO:
        locked.entry = journal_post(
            shop=case.shop,
            postings=[
                Posting("intercept_fees", debit=fee),
                Posting("payment_clearing", credit=fee),
            ],
            memo=_("Intercept fee for %(case)s") % {"case": case.reference},
            actor=actor,
            case=case,
            order=case.order,
            key=f"intercept:{locked.pk}",
            at=now,
        )
    locked.save()
    text = (
        _("The parcel was stopped and is coming back.")
        if succeeded
        else _("The parcel could not be stopped.")
    )
    event = event_record(
        case=case,
        kind="intercept_result",
        actor=actor,
        from_status=case.status,
        to_status=case.status,
        note=" ".join(filter(None, [text, note])),
        data={"intercept": locked.pk, "succeeded": succeeded, "fee": str(fee)},
    )
    event_announce(case, event)
    if succeeded and case.status == CaseStatus.AWAITING_MERCHANT:
        _refund_after_intercept(case, text)
    return locked


def _refund_after_intercept(case: Case, note: str) -> None:
    """The goods are coming back: refund what the customer paid for them. The system decides
    it, so the approval ladder still applies (DESIGN §5): above what anyone may refund alone
    it waits for the role the amount needs."""
    role = _role_for_amount(case_refund_amount(case))
    approval_role = "" if role == ESCALATION_LADDER[0] else role
    case_refund(case=case, actor=None, note=note, approval_role=approval_role)


def intercept_get(*, shop_ids: list[int], intercept_id: int) -> Intercept:
    intercept = Intercept.objects.filter(pk=intercept_id, shop_id__in=shop_ids).first()
    if intercept is None:
        raise NotFound("intercept.not_found", _("No such intercept."))
    return intercept
