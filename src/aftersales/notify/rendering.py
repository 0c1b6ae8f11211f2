"""What a customer reads: picking the template for their language and rendering it with the
facts of the case, and the JSON a webhook receives for a case event."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import translation

from aftersales.cases.models import Case, CaseEvent, Outcome, Reason
from aftersales.cases.states import CaseStatus, CaseType
from aftersales.channels.models import Language

log = logging.getLogger(__name__)

# Plain text (email, SMS, WeChat): no HTML escaping of names and notes. The default builtins
# only (no custom tags), so a template edited in the admin can read the context and no more.
ENGINE = Engine(autoescape=False)

# The events whose note the customer may read (the rest carry staff's own notes).
_PUBLIC_NOTES = {"reject", "request_info", "comment"}


def default_language() -> str:
    code = (settings.LANGUAGE_CODE or "").lower()
    return code if code in Language.values else Language.ZH_HANS


def template_pick(*, shop_id: int, event: str, channel: str, language: str):
    """The shop's own template, else the default, in the customer's language; failing that,
    the same in the default language. None when there is neither."""
    from aftersales.notify.models import MessageTemplate

    languages = [language] if language == default_language() else [language, default_language()]
    candidates = MessageTemplate.objects.filter(
        Q(shop_id=shop_id) | Q(shop__isnull=True),
        event=event,
        channel=channel,
        language__in=languages,
    )
    return min(
        candidates,
        key=lambda t: (languages.index(t.language), t.shop_id is None),
        default=None,
    )


def render(text: str, context: dict[str, Any]) -> str:
    return ENGINE.from_string(text).render(Context(context, autoescape=False)).strip()


def render_message(template, context: dict[str, Any]) -> tuple[str, str] | None:
    """(subject, body), or None when a stored template does not compile (logged)."""
    try:
        return render(template.subject, context), render(template.body, context)
    except TemplateSyntaxError:
        log.exception("message template %s does not compile", template.pk)
        return None


def _amount(value: Decimal | None) -> str:
    return f"{value:.2f}" if value is not None else ""


def _label(choices: type, value: str) -> str:
    return str(choices(value).label) if value in choices.values else value


def case_context(case: Case, event: CaseEvent, language: str) -> dict[str, Any]:
    """The variables every template may use, labels in the customer's language."""
    customer = case.customer
    with translation.override(language):
        return {
            "event": event.kind,
            "case_number": case.reference,
            "case_type": _label(CaseType, case.type),
            "status": _label(CaseStatus, case.status),
            "status_code": case.status,
            "reason": _label(Reason, case.reason),
            "outcome": _label(Outcome, case.outcome) if case.outcome else "",
            "refund_amount": _amount(case.refund_amount),
            "quote_amount": _amount(case.quote_amount),
            "currency": case.order.currency if case.order_id else case.shop.currency,
            "customer_name": customer.name if customer else "",
            "shop_name": case.shop.name,
            "order_number": case.order.external_id if case.order_id else "",
            "courier": case.outbound_courier,
            "tracking_number": case.outbound_tracking_number,
            "note": event.note if event.kind in _PUBLIC_NOTES else "",
            "return_address": _return_address(case),
        }


def _return_address(case: Case) -> str:
    """Where the customer sends the goods, while the case waits for them."""
    if case.status != CaseStatus.AWAITING_RETURN:
        return ""
    from aftersales.logistics.selectors import warehouse_for_returns  # builds on notify's peers

    warehouse = warehouse_for_returns(case.shop_id)
    return warehouse.return_address if warehouse else ""


def case_event_payload(case: Case, event: CaseEvent) -> dict[str, Any]:
    """The JSON body of a webhook for one case event."""
    return {
        "event": event.kind,
        "event_id": event.pk,
        "occurred_at": event.created_at.isoformat(),
        "shop_id": case.shop_id,
        "actor": event.actor_label,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "note": event.note,
        "data": event.data,
        "case": {
            "id": case.pk,
            "reference": case.reference,
            "type": case.type,
            "status": case.status,
            "reason": case.reason,
            "priority": case.priority,
            "order_id": case.order_id,
            "order_number": case.order.external_id if case.order_id else None,
            "channel_id": case.channel_id,
            "customer_id": case.customer_id,
            "outcome": case.outcome,
            "refund_amount": _amount(case.refund_amount) or None,
        },
    }
