"""Derived priority: missing or taken money, safety and outside escalations come first."""

from __future__ import annotations

from aftersales.cases.models import Emotion, Priority, Reason
from aftersales.cases.states import CaseType

MONEY_REASONS = frozenset({Reason.FUNDS_NOT_RECEIVED, Reason.UNEXPECTED_CHARGE})
QUESTION_REASONS = frozenset({Reason.USAGE_QUESTION, Reason.POLICY_QUESTION})


def priority_derive(
    *, case_type: str, reason: str, safety_issue: bool, escalated_to: str, emotion: str
) -> tuple[int, str]:
    """Return (priority, why) so the reason for a priority can be shown on the case."""
    if reason in MONEY_REASONS:
        return Priority.URGENT, "money"
    if safety_issue:
        return Priority.URGENT, "safety"
    if escalated_to:
        return Priority.URGENT, "escalated_outside"
    if emotion in {Emotion.ANGRY, Emotion.FURIOUS} or case_type == CaseType.COMPLAINT:
        return Priority.HIGH, "complaint_or_upset"
    if reason in QUESTION_REASONS:
        return Priority.LOW, "question"
    return Priority.NORMAL, "default"
