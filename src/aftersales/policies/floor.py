"""The legal floor: no policy may refuse an eligible 7-day no-reason return (消费者权益保护法
第二十五条). Checked by deciding a grid of eligible returns; the first refusal names its rule."""

from __future__ import annotations

from itertools import product

from aftersales.policies.document import Policy
from aftersales.policies.engine import policy_decide
from aftersales.policies.registry import FACTS


def _eligible_cases():
    for case_type, days, amount, risk, channel, insured, evidence in product(
        ("return_refund", "exchange"),
        (None, 0, 1, 3, 6.5, 7),
        ("0.01", "9.99", "150.00", "1999.00", "25000.00"),
        ("low", "medium", "high"),
        FACTS["channel_kind"].choices,
        (False, True),
        ([], ["photo"]),
    ):
        yield {
            "type": case_type,
            "reason": "no_reason",
            "quality_reason": False,
            "order_status": "signed" if days is not None else "shipped",
            "hours_since_payment": (days or 0) * 24 + 48,
            "hours_since_shipment": (days or 0) * 24 + 24,
            "days_since_signature": days,
            "courier_moving": None if days is not None else True,
            "hours_without_courier_movement": None,
            "no_reason_eligible": True,
            "perishable": False,
            "custom_made": False,
            "digital": False,
            "in_warranty": True,
            "refund_amount": amount,
            "return_shipping_cost": "12.00",
            "customer_risk_level": risk,
            "channel_kind": channel,
            "evidence_kinds": evidence,
            "shipping_insurance": insured,
            "warehouse_disproves": None,
            "return_scanned": False,
        }


def legal_floor_violation(policy: Policy) -> str | None:
    """The key of the first rule that would refuse an eligible no-reason return, if any."""
    for facts in _eligible_cases():
        decision = policy_decide(policy, facts)
        if decision.action == "auto_reject":
            return decision.rule
    return None
