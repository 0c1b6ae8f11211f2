"""Case types, statuses and the explicit table of allowed transitions per type (DESIGN §4)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CaseType(models.TextChoices):
    REFUND_ONLY = "refund_only", _("Refund only (仅退款)")
    RETURN_REFUND = "return_refund", _("Return and refund (退货退款)")
    EXCHANGE = "exchange", _("Exchange (换货)")
    REPAIR = "repair", _("Repair (维修)")
    REISSUE = "reissue", _("Reissue (补寄)")
    COMPLAINT = "complaint", _("Complaint (投诉)")
    PARTNER_DISPUTE = "partner_dispute", _("Partner dispute")


class CaseStatus(models.TextChoices):
    AWAITING_MERCHANT = "awaiting_merchant", _("Awaiting merchant")
    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
    AWAITING_CUSTOMER = "awaiting_customer", _("Awaiting customer")
    AWAITING_RETURN = "awaiting_return", _("Awaiting return")
    RETURN_IN_TRANSIT = "return_in_transit", _("Return in transit")
    INSPECTING = "inspecting", _("Inspecting")
    PROCESSING = "processing", _("Processing")
    SHIPPING_TO_CUSTOMER = "shipping_to_customer", _("Shipping to customer")
    REFUNDING = "refunding", _("Refunding")
    SUCCEEDED = "succeeded", _("Succeeded")
    REJECTED = "rejected", _("Rejected")
    CLOSED = "closed", _("Closed")


S = CaseStatus
T = CaseType

TERMINAL = frozenset({S.SUCCEEDED, S.REJECTED, S.CLOSED})
OPEN = frozenset(set(S) - TERMINAL)

# Targets that are not a fixed status: where the case waited from, or what the approver approves.
RESUME = "<resume>"
PENDING = "<pending>"
SAME = "<same>"
# The channel's own status, mapped onto ours: the marketplace runs the case and we mirror it.
CHANNEL = "<channel>"

ORDER_TYPES = frozenset({T.REFUND_ONLY, T.RETURN_REFUND, T.EXCHANGE, T.REPAIR, T.REISSUE})
RETURN_TYPES = frozenset({T.RETURN_REFUND, T.EXCHANGE, T.REPAIR})
# Types that pay money back for goods: they may not claim more than was bought.
REFUND_TYPES = frozenset({T.REFUND_ONLY, T.RETURN_REFUND})

Table = dict[str, dict[str, str]]


def _common(case_type: str) -> Table:
    """Actions every type shares: ask, answer, escalate, appeal, cancel, close, comment, assign."""
    table: Table = {
        "reject": {S.AWAITING_MERCHANT: S.REJECTED, S.AWAITING_APPROVAL: S.REJECTED},
        "request_info": {S.AWAITING_MERCHANT: S.AWAITING_CUSTOMER},
        "provide_info": {S.AWAITING_CUSTOMER: RESUME},
        "escalate": {s: SAME for s in OPEN},
        "assign": {s: SAME for s in OPEN},
        "comment": {s: SAME for s in S},
        "appeal": {S.REJECTED: S.AWAITING_MERCHANT},
        "cancel": {
            S.AWAITING_MERCHANT: S.CLOSED,
            S.AWAITING_APPROVAL: S.CLOSED,
            S.AWAITING_CUSTOMER: S.CLOSED,
        },
        # Not while refunding: the money is on its way, and only its answer moves the case.
        "close": {s: S.CLOSED for s in OPEN - {S.REFUNDING}},
        # Goodwill to the customer, at any point (the ledger books it).
        "compensate": {s: SAME for s in S},
        # A marketplace moved its own case (import, webhook or pull): ours follows it.
        "channel_sync": {s: CHANNEL for s in S},
    }
    if case_type in RETURN_TYPES:
        table["cancel"][S.AWAITING_RETURN] = S.CLOSED
        table["request_info"][S.INSPECTING] = S.AWAITING_CUSTOMER
        table["reject"][S.INSPECTING] = S.REJECTED
        table["record_return"] = {S.AWAITING_RETURN: S.RETURN_IN_TRANSIT}
        table["receive"] = {S.AWAITING_RETURN: S.INSPECTING, S.RETURN_IN_TRANSIT: S.INSPECTING}
        # Grade and dispose of the returned lines once they are in (stock follows).
        table["inspect"] = {S.INSPECTING: SAME}
    if case_type in REFUND_TYPES or case_type == T.EXCHANGE:
        # The payment adapter's answer: paid, or refused for good (back where it was).
        table["refund_settled"] = {S.REFUNDING: S.SUCCEEDED}
        table["refund_failed"] = {S.REFUNDING: RESUME}
    return table


def _build() -> dict[str, Table]:
    tables: dict[str, Table] = {}

    t = _common(T.REFUND_ONLY)
    t["approve"] = {S.AWAITING_MERCHANT: S.REFUNDING, S.AWAITING_APPROVAL: PENDING}
    t["refund"] = {S.AWAITING_MERCHANT: S.REFUNDING}
    # A parcel still on its way is stopped (拦截) before the refund.
    t["intercept"] = {S.AWAITING_MERCHANT: SAME}
    tables[T.REFUND_ONLY] = t

    t = _common(T.RETURN_REFUND)
    t["approve"] = {S.AWAITING_MERCHANT: S.AWAITING_RETURN, S.AWAITING_APPROVAL: PENDING}
    # Refund after inspection, at the first courier scan (lightning refund), or at once when
    # the item is worth less than sending it back (the customer keeps it).
    t["refund"] = {
        S.AWAITING_MERCHANT: S.REFUNDING,
        S.INSPECTING: S.REFUNDING,
        S.RETURN_IN_TRANSIT: S.REFUNDING,
    }
    tables[T.RETURN_REFUND] = t

    t = _common(T.EXCHANGE)
    t["approve"] = {S.AWAITING_MERCHANT: S.AWAITING_RETURN, S.AWAITING_APPROVAL: PENDING}
    t["process"] = {S.INSPECTING: S.PROCESSING}
    # Out of stock for the replacement: refund instead.
    t["refund"] = {S.INSPECTING: S.REFUNDING}
    t["ship"] = {S.PROCESSING: S.SHIPPING_TO_CUSTOMER}
    t["complete"] = {S.SHIPPING_TO_CUSTOMER: S.SUCCEEDED}
    tables[T.EXCHANGE] = t

    t = _common(T.REPAIR)
    t["approve"] = {S.AWAITING_MERCHANT: S.AWAITING_RETURN, S.AWAITING_APPROVAL: PENDING}
    t["process"] = {S.INSPECTING: S.PROCESSING}
    t["request_info"][S.PROCESSING] = S.AWAITING_CUSTOMER
    t["ship"] = {S.PROCESSING: S.SHIPPING_TO_CUSTOMER}
    t["complete"] = {S.SHIPPING_TO_CUSTOMER: S.SUCCEEDED}
    # Return to factory (返厂): the item leaves for the factory and comes back, still processing.
    t["factory_send"] = {S.PROCESSING: SAME}
    t["factory_receive"] = {S.PROCESSING: SAME}
    tables[T.REPAIR] = t

    t = _common(T.REISSUE)
    t["approve"] = {S.AWAITING_MERCHANT: S.PROCESSING, S.AWAITING_APPROVAL: PENDING}
    t["ship"] = {S.PROCESSING: S.SHIPPING_TO_CUSTOMER}
    t["complete"] = {S.SHIPPING_TO_CUSTOMER: S.SUCCEEDED}
    tables[T.REISSUE] = t

    for case_type in (T.COMPLAINT, T.PARTNER_DISPUTE):
        t = _common(case_type)
        t["approve"] = {S.AWAITING_MERCHANT: S.PROCESSING, S.AWAITING_APPROVAL: PENDING}
        t["request_info"][S.PROCESSING] = S.AWAITING_CUSTOMER
        t["reject"][S.PROCESSING] = S.REJECTED
        t["complete"] = {S.AWAITING_MERCHANT: S.SUCCEEDED, S.PROCESSING: S.SUCCEEDED}
        tables[case_type] = t
    return tables


TRANSITIONS: dict[str, Table] = _build()

# Moves only the system makes (a channel reported them); never offered to a person.
SYSTEM_ACTIONS = frozenset({"channel_sync"})
ACTIONS = sorted({action for table in TRANSITIONS.values() for action in table} - SYSTEM_ACTIONS)


def allowed_actions(case_type: str, status: str) -> list[str]:
    """The actions a case of this type may take from this status (for UIs and the API)."""
    return [
        action
        for action, moves in TRANSITIONS[case_type].items()
        if status in moves and action not in SYSTEM_ACTIONS
    ]


def target_status(case_type: str, action: str, status: str) -> str | None:
    """Where `action` takes a case of `case_type` in `status`, or None if it is not allowed."""
    return TRANSITIONS.get(case_type, {}).get(action, {}).get(status)
