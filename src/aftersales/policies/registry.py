"""The vocabulary of policies: facts a condition may read, operators, and actions.

Each entry validates its own configuration, so a policy document is checked against these
registries when it is saved and every error names the exact place in the document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

# The vocabularies are the models' own enums, so a new reason or channel kind is usable in
# policies at once.
from aftersales.cases.models import EvidenceKind, Priority, Reason, RefundMethod
from aftersales.cases.states import CaseType
from aftersales.channels.models import ChannelKind, OrderStatus, RiskLevel

# ----------------------------------------------------------------------------- facts

BOOL, NUMBER, TEXT, TEXT_LIST = "bool", "number", "text", "text_list"


@dataclass(frozen=True)
class FactSpec:
    kind: str
    help: str
    choices: tuple[str, ...] = ()


FACTS: dict[str, FactSpec] = {
    "type": FactSpec(TEXT, "case type", tuple(CaseType.values)),
    "reason": FactSpec(TEXT, "reason the customer gave", tuple(Reason.values)),
    "quality_reason": FactSpec(
        BOOL, "the reason is the merchant's fault (defect, wrong, damaged…)"
    ),
    "order_status": FactSpec(TEXT, "order state", tuple(OrderStatus.values)),
    "hours_since_payment": FactSpec(NUMBER, "hours from payment to the case"),
    "hours_since_shipment": FactSpec(NUMBER, "hours from shipment to the case"),
    "days_since_signature": FactSpec(NUMBER, "days from signature to the case"),
    "courier_moving": FactSpec(BOOL, "the courier shows movement within the last 72 h"),
    "hours_without_courier_movement": FactSpec(NUMBER, "hours since the last courier event"),
    "no_reason_eligible": FactSpec(BOOL, "every claimed product's category allows 7-day returns"),
    "perishable": FactSpec(BOOL, "a claimed product is perishable"),
    "custom_made": FactSpec(BOOL, "a claimed product is custom-made"),
    "digital": FactSpec(BOOL, "a claimed product is digital goods"),
    "in_warranty": FactSpec(BOOL, "every claimed product is within its warranty"),
    "refund_amount": FactSpec(NUMBER, "what the claimed lines paid (prorated)"),
    "return_shipping_cost": FactSpec(NUMBER, "estimated cost of shipping the goods back"),
    "customer_risk_level": FactSpec(TEXT, "customer risk", tuple(RiskLevel.values)),
    "channel_kind": FactSpec(TEXT, "channel kind", tuple(ChannelKind.values)),
    "evidence_kinds": FactSpec(TEXT_LIST, "kinds of evidence attached", tuple(EvidenceKind.values)),
    "shipping_insurance": FactSpec(BOOL, "the order carries return-shipping insurance"),
    "warehouse_disproves": FactSpec(BOOL, "warehouse or courier weight records disprove the claim"),
    "return_scanned": FactSpec(BOOL, "the return parcel has its first courier scan"),
}

# ----------------------------------------------------------------------------- operators


def _num(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise InvalidOperation
    return Decimal(str(value))


def _check_number(value: Any) -> str | None:
    try:
        _num(value)
    except (InvalidOperation, ValueError):
        return _("must be a number")
    return None


def _check_pair(value: Any) -> str | None:
    if not isinstance(value, list) or len(value) != 2 or any(_check_number(v) for v in value):
        return _("must be [low, high] numbers")
    return None


def _check_list(value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return _("must be a non-empty list")
    return None


def _none(value: Any) -> str | None:
    return None if value is None else _("takes no value")


@dataclass(frozen=True)
class Operator:
    kinds: frozenset[str]
    check: Callable[[Any], str | None]
    test: Callable[[Any, Any], bool]


def _cmp(fn: Callable[[Decimal, Decimal], bool]) -> Callable[[Any, Any], bool]:
    return lambda fact, value: fact is not None and fn(_num(fact), _num(value))


_ANY_KIND = frozenset({BOOL, NUMBER, TEXT, TEXT_LIST})

OPERATORS: dict[str, Operator] = {
    "eq": Operator(frozenset({NUMBER, TEXT}), lambda v: None, lambda f, v: f == v),
    "ne": Operator(frozenset({NUMBER, TEXT}), lambda v: None, lambda f, v: f != v),
    "in": Operator(frozenset({TEXT}), _check_list, lambda f, v: f in v),
    "not_in": Operator(frozenset({TEXT}), _check_list, lambda f, v: f not in v),
    "lt": Operator(frozenset({NUMBER}), _check_number, _cmp(lambda a, b: a < b)),
    "lte": Operator(frozenset({NUMBER}), _check_number, _cmp(lambda a, b: a <= b)),
    "gt": Operator(frozenset({NUMBER}), _check_number, _cmp(lambda a, b: a > b)),
    "gte": Operator(frozenset({NUMBER}), _check_number, _cmp(lambda a, b: a >= b)),
    "between": Operator(
        frozenset({NUMBER}),
        _check_pair,
        lambda f, v: f is not None and _num(v[0]) <= _num(f) <= _num(v[1]),
    ),
    "is_true": Operator(frozenset({BOOL}), _none, lambda f, v: f is True),
    "is_false": Operator(frozenset({BOOL}), _none, lambda f, v: f is False),
    "is_unknown": Operator(_ANY_KIND, _none, lambda f, v: f is None),
    "contains_all": Operator(
        frozenset({TEXT_LIST}), _check_list, lambda f, v: f is not None and set(v) <= set(f)
    ),
    "lacks_any": Operator(
        frozenset({TEXT_LIST}), _check_list, lambda f, v: f is None or not set(v) <= set(f)
    ),
}

# ----------------------------------------------------------------------------- actions

DECIDES, MODIFIES = "decides", "modifies"


@dataclass(frozen=True)
class ActionSpec:
    role: str  # DECIDES ends evaluation; MODIFIES accumulates and evaluation goes on
    params: dict[str, tuple[str, tuple[str, ...]]]  # name → (kind, choices)
    required: tuple[str, ...] = ()


ACTIONS: dict[str, ActionSpec] = {
    "auto_approve": ActionSpec(
        DECIDES,
        {
            "refund_shipping": (BOOL, ()),
            "refund_method": (TEXT, tuple(RefundMethod.values)),
            "return_shipping_paid_by": (TEXT, ("customer", "merchant", "insurance")),
            "keep_item": (BOOL, ()),
            "outcome": (TEXT, ("refunded", "exchanged", "repaired", "reissued")),
        },
    ),
    "auto_reject": ActionSpec(DECIDES, {}),
    "route_to_person": ActionSpec(
        DECIDES, {"recommend": (TEXT, ("approve", "reject", "none"))}, ("recommend",)
    ),
    "require_evidence": ActionSpec(
        DECIDES,
        {"kinds": (TEXT_LIST, tuple(EvidenceKind.values))},
        ("kinds",),
    ),
    "quote_repair": ActionSpec(DECIDES, {}),
    "intercept": ActionSpec(DECIDES, {}),
    "require_approval": ActionSpec(MODIFIES, {"role": (TEXT, ("team_lead", "manager"))}, ("role",)),
    "set_priority": ActionSpec(
        MODIFIES, {"priority": (TEXT, tuple(p.name.lower() for p in Priority))}, ("priority",)
    ),
}
