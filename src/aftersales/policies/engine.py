"""Evaluate a policy against a case's facts: which rule fires, what it decides, and why.

Rules are read in order. Modifying actions (require_approval, set_priority) of every
matching rule accumulate; the first matching rule with a deciding action ends the reading.
No deciding rule means a person decides, with no recommendation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aftersales.policies.document import Action, Condition, Policy, Rule
from aftersales.policies.registry import ACTIONS, DECIDES, OPERATORS

NO_RULE = "no_rule"


@dataclass(frozen=True)
class Decision:
    rule: str  # key of the deciding rule, or NO_RULE
    action: str  # auto_approve, auto_reject, route_to_person, require_evidence, …
    params: dict[str, Any]
    modifiers: tuple[tuple[str, Action], ...]  # (rule key, action) that adjust the decision
    facts: dict[str, Any]  # the facts the firing rules read, with their values
    explanation: dict[str, str] = field(default_factory=dict)

    def modifier(self, name: str) -> dict[str, Any] | None:
        for _rule, action in self.modifiers:
            if action.name == name:
                return action.params
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "action": self.action,
            "params": self.params,
            "modifiers": [
                {"rule": rule, "action": action.name, **action.params}
                for rule, action in self.modifiers
            ],
            "facts": self.facts,
            "explanation": self.explanation,
        }


def condition_matches(condition: Condition, facts: dict[str, Any], read: dict[str, Any]) -> bool:
    """Evaluate a condition, noting every fact it reads into `read`."""
    if condition.group == "all":
        return all(condition_matches(c, facts, read) for c in condition.children)
    if condition.group == "any":
        return any(condition_matches(c, facts, read) for c in condition.children)
    if condition.group == "not":
        return not condition_matches(condition.children[0], facts, read)
    value = facts.get(condition.fact)
    read[condition.fact] = value
    return OPERATORS[condition.op].test(value, condition.value)


def _deciding_action(rule: Rule) -> Action | None:
    return next((a for a in rule.then if ACTIONS[a.name].role == DECIDES), None)


def policy_decide(policy: Policy, facts: dict[str, Any]) -> Decision:
    modifiers: list[tuple[str, Action]] = []
    read_by_firing: dict[str, Any] = {}
    for rule in policy.rules:
        read: dict[str, Any] = {}
        if not condition_matches(rule.when, facts, read):
            continue
        read_by_firing.update(read)
        modifiers.extend((rule.key, a) for a in rule.then if ACTIONS[a.name].role != DECIDES)
        deciding = _deciding_action(rule)
        if deciding is not None:
            return Decision(
                rule=rule.key,
                action=deciding.name,
                params=dict(deciding.params),
                modifiers=tuple(modifiers),
                facts=read_by_firing,
                explanation=dict(rule.explain),
            )
    return Decision(
        rule=NO_RULE,
        action="route_to_person",
        params={"recommend": "none"},
        modifiers=tuple(modifiers),
        facts=read_by_firing,
        explanation={
            "zh-hans": "没有匹配的自动规则，由客服人工处理。",
            "en": "No automatic rule applies; an agent will decide.",
            "vi": "Không có quy tắc tự động phù hợp; nhân viên sẽ xử lý.",
        },
    )
