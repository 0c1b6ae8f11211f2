"""A channel's after-sales request, put into ours: the one write behind case imports, inbound
webhooks and reconciliation pulls.

A request the channel still waits on the merchant for is filed like any case, and the policy
decides it. A request the channel has already moved on (approved, refunded, closed) is
mirrored: our case follows the channel's status, through the `channel_sync` action, so the
timeline shows every move and the clocks follow. When the channel says it refunded the
customer, the case's refund waiting to be paid by hand is settled with the channel's number and
the books record it; a refund the channel closed instead is failed first, so no refund stays
open for money that will never move.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.cases.models import Case, Outcome, Reason
from aftersales.cases.services import LineRequest
from aftersales.cases.states import REFUND_TYPES, TERMINAL, CaseStatus, CaseType
from aftersales.cases.transitions import case_step
from aftersales.channels.models import Channel, ChannelKind, Order
from aftersales.core.errors import Invalid
from aftersales.core.money import ZERO, money
from aftersales.sync.statuses import Mapped, canonical, to_ours

CREATED, UPDATED, UNCHANGED, STALE = "created", "updated", "unchanged", "stale"
# Channels that pay their buyers' refunds themselves, from the platform's escrow.
MARKETPLACES = frozenset(
    {
        ChannelKind.TAOBAO,
        ChannelKind.TMALL,
        ChannelKind.JD,
        ChannelKind.PDD,
        ChannelKind.WECHAT,
        ChannelKind.DOUYIN,
        ChannelKind.WEIDIAN,
    }
)


@dataclass(frozen=True)
class ChannelCase:
    """One after-sales request as a channel reports it, already in our field names."""

    external_id: str
    order_number: str
    case_type: str
    channel_status: str
    reason: str = Reason.OTHER
    refund_amount: Decimal | None = None
    customer_words: str = ""
    # (SKU, quantity); none means every line of the order.
    lines: list[tuple[str, int]] = field(default_factory=list)
    # When the channel's status was true there; None means "now".
    occurred_at: datetime | None = None


def _check(channel: Channel, data: ChannelCase) -> tuple[str, Mapped]:
    errors: dict[str, str] = {}
    if not data.external_id.strip():
        errors["external_id"] = _("Required.")
    if data.case_type not in CaseType.values:
        errors["type"] = _("Unknown case type.")
    if data.reason not in Reason.values:
        errors["reason"] = _("Unknown reason.")
    if data.refund_amount is not None and money(data.refund_amount) < ZERO:
        errors["refund_amount"] = _("Cannot be negative.")
    if errors:
        raise Invalid("case.invalid", _("The case is not valid."), errors)
    code = canonical(channel.kind, data.channel_status)
    return code, to_ours(channel.kind, code, data.case_type)


def channel_case_put(
    *, channel: Channel, data: ChannelCase, now: datetime | None = None
) -> tuple[Case, str]:
    """File or move the channel's request; returns the case and what happened to it (created,
    updated, unchanged, or stale: an update older than the status we hold)."""
    code, mapped = _check(channel, data)
    now = now or timezone.now()
    try:
        with transaction.atomic():
            return _put(channel, data, code, mapped, now)
    except IntegrityError:
        # Two deliveries of the same new request raced; the loser finds the winner's case.
        with transaction.atomic():
            return _put(channel, data, code, mapped, now)


def _put(
    channel: Channel, data: ChannelCase, code: str, mapped: Mapped, now: datetime
) -> tuple[Case, str]:
    # When the channel's status was true. A file without times says nothing about that, and
    # stamps nothing: a later webhook with a real time is never taken for stale because of it.
    as_of = data.occurred_at
    case = (
        Case.objects.select_for_update()
        .filter(shop_id=channel.shop_id, channel=channel, external_id=data.external_id)
        .first()
    )
    if case is None:
        return _file(channel, data, code, mapped, as_of), CREATED
    if case.channel_synced_at is not None and as_of is not None and as_of < case.channel_synced_at:
        return case, STALE
    if case.channel_status == code:
        if as_of is not None and (case.channel_synced_at is None or as_of > case.channel_synced_at):
            # The channel confirmed its status at a later moment: an update older than this
            # one (arriving late) is stale, not a move.
            Case.objects.filter(pk=case.pk).update(channel_synced_at=as_of)
            case.channel_synced_at = as_of
        return case, UNCHANGED
    _mirror(case, code, mapped, as_of or now, data.refund_amount, stamp=as_of)
    return case, UPDATED


def _file(
    channel: Channel, data: ChannelCase, code: str, mapped: Mapped, as_of: datetime | None
) -> Case:
    from aftersales.policies.triggers import case_file  # the policy builds on cases and us

    order = (
        Order.objects.filter(
            shop_id=channel.shop_id, channel=channel, external_id=data.order_number
        )
        .prefetch_related("lines")
        .first()
    )
    if order is None:
        raise Invalid(
            "order.not_found",
            _("No order %(number)s on this channel.") % {"number": data.order_number or "—"},
            {"order_number": data.order_number},
        )
    by_sku = {line.sku: line for line in order.lines.all()}
    unknown = [sku for sku, _qty in data.lines if sku not in by_sku]
    if unknown:
        raise Invalid(
            "case.invalid_lines",
            _("The order has no line with SKU %(sku)s.") % {"sku": unknown[0]},
            {"sku": unknown[0]},
        )
    requests = [LineRequest(by_sku[sku], qty) for sku, qty in data.lines]
    fields = {
        "case_type": data.case_type,
        "reason": data.reason,
        "order": order,
        "lines": requests,
        "customer_words": data.customer_words,
        "channel_status": code,
        "external_id": data.external_id,
    }
    if mapped.status == CaseStatus.AWAITING_MERCHANT:
        # Still the merchant's to decide: the policy does, as for any new case.
        case = case_file(actor=None, **fields)
        if as_of is not None:
            Case.objects.filter(pk=case.pk).update(channel_synced_at=as_of)
            case.channel_synced_at = as_of
        return case
    from aftersales.cases.services import case_create

    case = case_create(actor=None, **fields)
    if data.refund_amount is not None:
        case.refund_amount = _capped(case, data.refund_amount)
        Case.objects.filter(pk=case.pk).update(refund_amount=case.refund_amount)
    _mirror(case, code, mapped, as_of or timezone.now(), data.refund_amount, stamp=as_of)
    return case


def _capped(case: Case, amount: Decimal) -> Decimal:
    """A channel's refund is never more than the order still has to give back."""
    from aftersales.cases.approvals import _refund_cap

    amount = money(amount)
    cap = _refund_cap(case)
    if amount > cap:
        raise Invalid(
            "refund.amount_exceeds_paid",
            _("The refund %(amount)s is more than the %(cap)s the order has left to refund.")
            % {"amount": amount, "cap": cap},
            {"refund_amount": str(amount)},
        )
    return amount


def _refund_amount(case: Case, given: Decimal | None) -> Decimal:
    if given is not None:
        return _capped(case, given)
    if case.refund_amount is not None:
        return case.refund_amount
    total = ZERO
    for line in case.lines.select_related("order_line"):
        bought = line.order_line
        total += money(bought.paid_amount * line.quantity / bought.quantity)
    return total


# A refund waiting at our side fails when the channel says the request went nowhere: back to
# the merchant, refused, or closed. Any other move (the buyer ships the goods back) leaves it.
_REFUND_ENDS = frozenset({CaseStatus.AWAITING_MERCHANT, CaseStatus.REJECTED, CaseStatus.CLOSED})


def _mirror(
    case: Case,
    code: str,
    mapped: Mapped,
    as_of: datetime,
    refund_amount: Decimal | None,
    *,
    stamp: datetime | None,
) -> None:
    from aftersales.ledger.models import Refund, RefundStatus
    from aftersales.ledger.refunds import refund_failed_by_channel, refund_settled_by_channel

    reference = f"{case.channel_id}:{case.external_id}"
    refunded = mapped.status == CaseStatus.SUCCEEDED and mapped.outcome == Outcome.REFUNDED
    if case.status in TERMINAL:
        # An ended case is not reopened, and never refunded twice, by a channel's later word:
        # the status is recorded for people to see.
        _step_to(case, code, case.status, "", as_of, None, stamp=stamp)
        return
    if case.status == CaseStatus.REFUNDING and mapped.status != CaseStatus.REFUNDING:
        in_flight = (
            Refund.objects.filter(shop_id=case.shop_id, case=case)
            .exclude(status__in=[RefundStatus.SUCCEEDED, RefundStatus.FAILED])
            .exclude(provider="manual")
            .exists()
        )
        if in_flight or not (refunded or mapped.status in _REFUND_ENDS):
            # Our own payment provider has the money on its way (its answer moves the case),
            # or the channel's move says nothing about the refund: only the status is noted.
            _step_to(case, code, case.status, "", as_of, None, stamp=stamp)
            return
        if refunded:
            refund_settled_by_channel(case=case, reference=reference, at=as_of)
        else:
            reason = _("The channel moved the request to %(code)s.") % {"code": code}
            refund_failed_by_channel(case=case, reason=reason, at=as_of)
        case.refresh_from_db()
    elif refunded and case.type in REFUND_TYPES:
        # The channel paid the customer: the refund goes through our books on its way.
        _step_to(case, code, CaseStatus.REFUNDING, "", as_of, refund_amount, stamp=stamp)
        refund_settled_by_channel(case=case, reference=reference, at=as_of)
        case.refresh_from_db()
    if case.status == mapped.status and case.channel_status == code:
        return
    _step_to(case, code, mapped.status, mapped.outcome, as_of, refund_amount, stamp=stamp)


def _step_to(
    case: Case,
    code: str,
    status: str,
    outcome: str,
    as_of: datetime,
    refund_amount: Decimal | None,
    *,
    stamp: datetime | None,
) -> None:
    note = _("The channel's status is now %(code)s.") % {"code": code}
    with case_step(case, None, "channel_sync", note=note) as step:
        step.to = status
        values: dict = {"channel_status": code}
        if stamp is not None:
            values["channel_synced_at"] = stamp
        if outcome and status in TERMINAL:
            values["outcome"] = outcome
        if status == CaseStatus.REFUNDING and step.before != CaseStatus.REFUNDING:
            values["refund_amount"] = _refund_amount(step.case, refund_amount)
            if case.channel.kind in MARKETPLACES:
                step.data["paid_by_channel"] = True  # the ledger opens it to be settled so
        step.set(**values)
        step.data.update({"channel_status": code, "as_of": as_of.isoformat()})
