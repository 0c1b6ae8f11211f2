"""The ledger follows the case: called in the transaction of every case event (see
cases.transitions.TRANSITION_HOOKS)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.states import CaseType
from aftersales.core.money import ZERO
from aftersales.ledger.refunds import refund_open
from aftersales.ledger.services import Posting, journal_post


def repair_fee_book(case: Case, event: CaseEvent) -> None:
    """An out-of-warranty repair done: the quote the customer accepted is repair revenue."""
    if event.kind != "complete" or case.type != CaseType.REPAIR:
        return
    if case.quote_amount is None or case.quote_amount <= ZERO:
        return
    journal_post(
        shop=case.shop,
        postings=[
            Posting("payment_clearing", debit=case.quote_amount),
            Posting("repair_revenue", credit=case.quote_amount),
        ],
        memo=_("Repair fee for %(case)s") % {"case": case.reference},
        case=case,
        order=case.order,
        key=f"repair_fee:{case.pk}",
    )


def case_transitioned(case: Case, event: CaseEvent) -> None:
    refund_open(case, event)
    repair_fee_book(case, event)
