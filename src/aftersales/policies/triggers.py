"""When the policy decides: a case is filed, evidence arrives, or its facts change.

These wrap the case services so that the API (and later the courier and channel intake)
get a decision in the same transaction as the change that prompted it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from aftersales.cases.evidence import evidence_add
from aftersales.cases.models import Case, Evidence
from aftersales.cases.services import case_create
from aftersales.cases.states import TERMINAL
from aftersales.channels.models import Channel, Order
from aftersales.channels.services import OrderData, order_upsert
from aftersales.policies.services import case_decide


@transaction.atomic
def case_file(*, actor: AbstractBaseUser | None, **fields: Any) -> Case:
    """Create the case and let the policy decide it at once."""
    case = case_create(actor=actor, **fields)
    case_decide(case=case, trigger="created")
    return case


@transaction.atomic
def case_evidence_received(
    *, case: Case, actor: AbstractBaseUser | None, upload: UploadedFile, kind: str
) -> Evidence:
    """Attach evidence; an open case is decided again on the new facts."""
    evidence = evidence_add(case=case, actor=actor, upload=upload, kind=kind)
    if case.status not in TERMINAL:
        case_decide(case=case, trigger="evidence_added")
    return evidence


@transaction.atomic
def order_put(
    *, actor: AbstractBaseUser | None, channel: Channel, data: OrderData
) -> tuple[Order, bool]:
    """Upsert the order; when its state moved (shipped, signed …) its open cases are decided
    again, since the facts the policy read have changed."""
    before = (
        Order.objects.filter(shop_id=channel.shop_id, channel=channel, external_id=data.external_id)
        .values_list("status", flat=True)
        .first()
    )
    order, created = order_upsert(actor=actor, channel=channel, data=data)
    if not created and before != order.status:
        order_moved(order)
    return order, created


def order_moved(order: Order) -> None:
    """An existing order changed state: its open cases are decided again on the new facts.
    (The bulk import calls this for the orders it moved.)"""
    open_cases = Case.objects.filter(shop_id=order.shop_id, order=order).exclude(
        status__in=TERMINAL
    )
    for case in open_cases.order_by("id"):
        case_decide(case=case, trigger=f"order_{order.status}")
