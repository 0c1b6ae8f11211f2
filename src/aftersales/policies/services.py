"""Writes for policies (save, publish, install the default) and the decision on a case.

A decision is recorded (PolicyDecision, the case's timeline and `Case.decision`) and then
applied through the same case services a person would use, acting as the system.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from aftersales.cases import services as case_services
from aftersales.cases.events import event_record
from aftersales.cases.models import Case, Priority
from aftersales.cases.states import CaseStatus, CaseType
from aftersales.catalog.models import Category, Part
from aftersales.channels.models import Channel, Shop
from aftersales.channels.services import require_shop_perm
from aftersales.core.errors import Invalid, NotFound
from aftersales.core.money import money
from aftersales.policies import money as m
from aftersales.policies.defaults import DEFAULT_POLICY
from aftersales.policies.document import Policy as PolicyDoc
from aftersales.policies.document import PolicyInvalid, policy_parse
from aftersales.policies.engine import Decision, policy_decide
from aftersales.policies.facts import case_facts
from aftersales.policies.floor import legal_floor_violation
from aftersales.policies.limits import document_check
from aftersales.policies.models import Policy, PolicyDecision, PolicyVersion, VersionStatus


def _parsed_version(version: PolicyVersion) -> PolicyDoc:
    # Versions never change once written, so their parse can be kept per process. The key
    # carries the creation time too: SQLite hands an id out again after a rollback.
    return _parsed(version.pk, version.created_at)


@lru_cache(maxsize=256)
def _parsed(version_id: int, created_at: object) -> PolicyDoc:
    return policy_parse(PolicyVersion.objects.get(pk=version_id, created_at=created_at).document)


@lru_cache(maxsize=1)
def default_policy() -> PolicyDoc:
    return policy_parse(DEFAULT_POLICY)


NO_POLICY = policy_parse(
    {
        "name": "no policy",
        "rules": [
            {
                "key": "no_policy",
                "then": [{"action": "route_to_person", "recommend": "none"}],
                "explain": {
                    "zh-hans": "店铺尚未设置售后政策，由客服人工处理。",
                    "en": "The shop has no after-sales policy yet; an agent will decide.",
                    "vi": "Cửa hàng chưa có chính sách hậu mãi; nhân viên sẽ xử lý.",
                },
            }
        ],
    }
)


def document_validate(document: Any) -> PolicyDoc:
    """Check the size, parse, and check the legal floor; field errors are keyed by their path
    in the document. Every way in (API, admin, import) comes through here."""
    document_check(document)
    try:
        parsed = policy_parse(document)
    except PolicyInvalid as exc:
        raise Invalid("policy.invalid", _("The policy has errors."), exc.errors) from exc
    rule = legal_floor_violation(parsed)
    if rule is not None:
        raise Invalid(
            "policy.legal_floor",
            _(
                "Rule %(rule)s would refuse an eligible 7-day no-reason return, which the law "
                "does not allow."
            )
            % {"rule": rule},
            {f"rules.{[r.key for r in parsed.rules].index(rule)}": _("Refuses a legal return.")},
        )
    return parsed


@transaction.atomic
def policy_save(
    *,
    actor: AbstractBaseUser | None,
    shop: Shop,
    document: Any,
    channel: Channel | None = None,
    category: Category | None = None,
) -> PolicyVersion:
    """Store a new draft version of the shop's policy for this scope."""
    require_shop_perm(actor, "policies.add_policyversion", shop.pk, "shop.not_found")
    parsed = document_validate(document)
    if (channel and channel.shop_id != shop.pk) or (category and category.shop_id != shop.pk):
        raise Invalid("policy.invalid", _("The scope belongs to another shop."), {"scope": "shop"})
    policy, _created = Policy.objects.get_or_create(
        shop=shop, channel=channel, category=category, defaults={"name": parsed.name}
    )
    if policy.name != parsed.name:
        policy.name = parsed.name
        policy.save(update_fields=["name"])
    last = policy.versions.select_for_update().order_by("-number").first()
    return PolicyVersion.objects.create(
        shop=shop,
        policy=policy,
        number=(last.number + 1) if last else 1,
        document=document,
        created_by=actor,
    )


@transaction.atomic
def policy_publish(*, actor: AbstractBaseUser | None, version: PolicyVersion) -> PolicyVersion:
    """Make this version the live one of its policy; the previous live version retires."""
    require_shop_perm(actor, "policies.change_policyversion", version.shop_id, "policy.not_found")
    version = PolicyVersion.objects.select_for_update().get(pk=version.pk)
    if version.status == VersionStatus.LIVE:
        return version
    PolicyVersion.objects.filter(
        shop_id=version.shop_id, policy_id=version.policy_id, status=VersionStatus.LIVE
    ).update(status=VersionStatus.RETIRED)
    version.status = VersionStatus.LIVE
    version.published_at = timezone.now()
    version.save(update_fields=["status", "published_at"])
    return version


def policy_install_default(*, shop: Shop) -> PolicyVersion:
    version = policy_save(actor=None, shop=shop, document=DEFAULT_POLICY)
    return policy_publish(actor=None, version=version)


def live_version_for(case: Case, lines: list | None = None) -> PolicyVersion | None:
    """The most specific live policy: channel+category, channel, category, then the shop's.

    The category is the first claimed line's (its product's)."""
    if lines is None:
        lines = list(case.lines.select_related("order_line__product")[:1])
    first_line = lines[0] if lines else None
    category_id = (
        first_line.order_line.product.category_id
        if first_line and first_line.order_line.product_id
        else None
    )
    candidates = PolicyVersion.objects.filter(
        shop_id=case.shop_id, status=VersionStatus.LIVE
    ).select_related("policy")
    best, best_rank = None, -1
    for version in candidates:
        p = version.policy
        if p.channel_id not in (None, case.channel_id) or p.category_id not in (None, category_id):
            continue
        rank = (2 if p.channel_id else 0) + (1 if p.category_id else 0)
        if rank > best_rank:
            best, best_rank = version, rank
    return best


# ----------------------------------------------------------------------------- deciding


def _explanation(decision: Decision, language: str | None) -> str:
    lang = (language or get_language() or "zh-hans").lower()
    return (
        decision.explanation.get(lang)
        or decision.explanation.get("zh-hans")
        or decision.explanation.get("en")
        or decision.rule
    )


def _approval_role(decision: Decision) -> str:
    params = decision.modifier("require_approval")
    return params["role"] if params else ""


def _refund_for(case: Case, decision: Decision, facts: dict[str, Any]) -> Decimal:
    # Every fact was gathered for the decision; the deciding rule may not have read this one.
    amount = Decimal(facts["refund_amount"])
    if decision.params.get("refund_shipping") and case.order_id:
        order = case.order
        claimed_all = sum(cl.quantity for cl in case.lines.all()) == sum(
            ol.quantity for ol in order.lines.all()
        )
        amount += m.shipping_refund(
            shipping_fee=order.shipping_fee,
            order_fully_refunded=claimed_all,
            shipped=order.shipped_at is not None,
        )
    return money(amount)


def _repair_quote(case: Case, in_warranty: bool) -> Decimal:
    product_ids = [cl.order_line.product_id for cl in case.lines.select_related("order_line")]
    prices = list(
        Part.objects.filter(
            shop_id=case.shop_id, product_id__in=product_ids, code__in=case.repair_parts or []
        ).values_list("price", flat=True)
    )
    return m.repair_quote(in_warranty=in_warranty, part_prices=prices)


def _apply(case: Case, decision: Decision, facts: dict[str, Any], text: str) -> str:
    """Carry out the decision where the case stands; return what was done."""
    params = decision.modifier("set_priority")
    priority = Priority[params["priority"].upper()] if params else None
    if priority is not None and priority != case.priority:
        Case.objects.filter(pk=case.pk).update(priority=priority, priority_reason="policy")
        case.priority, case.priority_reason = priority, "policy"
    action, status = decision.action, case.status
    if status == CaseStatus.AWAITING_MERCHANT:
        if action == "auto_approve":
            role = _approval_role(decision)
            method = decision.params.get("refund_method") or case.refund_method or "original"
            if decision.params.get("keep_item") and case.type == CaseType.RETURN_REFUND:
                case_services.case_refund(
                    case=case,
                    actor=None,
                    amount=_refund_for(case, decision, facts),
                    refund_method=method,
                    note=text,
                    approval_role=role,
                )
                return "refund_keep_item"
            refund = case.type == CaseType.REFUND_ONLY
            case_services.case_approve(
                case=case,
                actor=None,
                note=text,
                amount=_refund_for(case, decision, facts) if refund else None,
                refund_method=method,
                approval_role=role if refund else "",
            )
            return "approve"
        if action == "auto_reject":
            case_services.case_reject(case=case, actor=None, note=text)
            return "reject"
        if action == "require_evidence":
            case_services.case_request_info(case=case, actor=None, question=text)
            return "request_info"
        if action == "intercept" and case.type == CaseType.REFUND_ONLY:
            from aftersales.logistics.models import Intercept, InterceptStatus
            from aftersales.logistics.services import intercept_request  # builds on policies

            asked = Intercept.objects.filter(
                shop_id=case.shop_id, case=case, status=InterceptStatus.REQUESTED
            ).exists()
            if not asked and case.order_id and case.order.shipments.exists():
                intercept_request(case=case, actor=None, note=text)
                return "intercept"
            return ""
        if action == "quote_repair":
            quote = _repair_quote(case, bool(facts.get("in_warranty")))
            case_services.case_request_info(
                case=case, actor=None, question=text, quote_amount=quote
            )
            return "quote"
    if (
        status == CaseStatus.AWAITING_CUSTOMER
        and case.resume_status
        and action != ("require_evidence")
    ):
        # What we waited for has arrived: resume, then decide where the case now stands.
        case_services.case_provide_info(case=case, actor=None, answer=text)
        return (
            _apply(case, decision, facts, text)
            if case.status == CaseStatus.AWAITING_MERCHANT
            else ("resume")
        )
    if (
        status == CaseStatus.RETURN_IN_TRANSIT
        and action == "auto_approve"
        and facts.get("return_scanned")
        # Only a rule that looked at the scan refunds at the scan (the lightning refund's
        # own conditions, such as the customer's risk, are then part of the decision).
        and "return_scanned" in decision.facts
        and case.type == CaseType.RETURN_REFUND
    ):
        case_services.case_refund(
            case=case,
            actor=None,
            amount=_refund_for(case, decision, facts),
            note=text,
            approval_role=_approval_role(decision),
        )
        return "lightning_refund"
    return ""


@transaction.atomic
def case_decide(
    *,
    case: Case,
    trigger: str,
    now: datetime | None = None,
    policy: PolicyDoc | None = None,
    apply: bool = True,
) -> PolicyDecision:
    """Decide the case under its live policy, record why, and act on it.

    The timeline shows the decision before the action it causes; the record and the case's
    `decision` are written once, after the action, with what was applied.
    """
    now = now or timezone.now()
    lines = list(case.lines.select_related("order_line__product__category"))
    version = None
    if policy is None:
        version = live_version_for(case, lines)
        # A shop without a live policy decides nothing by itself: every case goes to a person.
        policy = _parsed_version(version) if version else NO_POLICY
    facts = case_facts(case, now=now, lines=lines)
    decision = policy_decide(policy, facts)
    language = case.customer.language if case.customer_id else None
    text = _explanation(decision, language)
    event_record(
        case=case,
        kind="decision",
        actor=None,
        from_status=case.status,
        to_status=case.status,
        note=text,
        data={"rule": decision.rule, "action": decision.action, "facts": decision.facts},
    )
    summary = {
        **decision.as_dict(),
        "trigger": trigger,
        "explanation_text": text,
        "policy_version": version.pk if version else None,
        "applied": "",
    }
    if apply:
        # The action's hooks read the decision (who bears the return postage): store it first.
        Case.objects.filter(pk=case.pk).update(decision=summary)
        summary["applied"] = _apply(case, decision, facts, text)
    applied = summary["applied"]
    Case.objects.filter(pk=case.pk).update(decision=summary)
    case.decision = summary
    return PolicyDecision.objects.create(
        shop_id=case.shop_id,
        case=case,
        version=version,
        trigger=trigger,
        rule=decision.rule,
        action=decision.action,
        params=decision.params,
        modifiers=summary["modifiers"],
        facts=decision.facts,
        all_facts=facts,
        explanation=decision.explanation,
        applied=applied,
    )


def policy_version_get(*, shop_ids: list[int], version_id: int) -> PolicyVersion:
    version = PolicyVersion.objects.filter(pk=version_id, shop_id__in=shop_ids).first()
    if version is None:
        raise NotFound("policy.not_found", _("No such policy version."))
    return version
