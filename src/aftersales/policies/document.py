"""A policy document — the data a merchant writes — parsed and validated against the registries.

    {"name": "...", "rules": [
        {"key": "refund_only_unshipped", "title": "...",
         "when": {"all": [{"fact": "type", "op": "eq", "value": "refund_only"}, ...]},
         "then": [{"action": "auto_approve", "refund_shipping": true}],
         "explain": {"zh-hans": "...", "en": "...", "vi": "..."}}]}

Conditions nest with "all", "any" and "not". Every error carries the path of the offending
place, e.g. "rules.3.when.all.0.op", so an editor can point at it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from aftersales.policies.registry import ACTIONS, FACTS, OPERATORS, TEXT_LIST

LANGUAGES = ("zh-hans", "en", "vi")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class PolicyInvalid(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Condition:
    """A leaf (fact op value) or a group (all / any / not)."""

    group: str = ""  # "", "all", "any", "not"
    children: tuple[Condition, ...] = ()
    fact: str = ""
    op: str = ""
    value: Any = None


@dataclass(frozen=True)
class Action:
    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    key: str
    title: str
    when: Condition
    then: tuple[Action, ...]
    explain: dict[str, str]


@dataclass(frozen=True)
class Policy:
    name: str
    rules: tuple[Rule, ...]


def _condition(raw: Any, path: str, errors: dict[str, str]) -> Condition:
    if not isinstance(raw, dict):
        errors[path] = _("must be an object")
        return Condition()
    groups = [g for g in ("all", "any", "not") if g in raw]
    if groups:
        if len(groups) > 1 or len(raw) != 1:
            errors[path] = _("a group has exactly one of all / any / not")
            return Condition()
        group = groups[0]
        inner = raw[group]
        if group == "not":
            return Condition(group="not", children=(_condition(inner, f"{path}.not", errors),))
        if not isinstance(inner, list) or not inner:
            errors[f"{path}.{group}"] = _("must be a non-empty list")
            return Condition()
        children = tuple(_condition(c, f"{path}.{group}.{i}", errors) for i, c in enumerate(inner))
        return Condition(group=group, children=children)

    unknown = set(raw) - {"fact", "op", "value"}
    if unknown:
        errors[path] = _("unknown keys: %(keys)s") % {"keys": ", ".join(sorted(unknown))}
    fact, op, value = raw.get("fact"), raw.get("op"), raw.get("value")
    spec = FACTS.get(fact) if isinstance(fact, str) else None
    if spec is None:
        errors[f"{path}.fact"] = _("unknown fact %(fact)r") % {"fact": fact}
        return Condition()
    operator = OPERATORS.get(op) if isinstance(op, str) else None
    if operator is None:
        errors[f"{path}.op"] = _("unknown operator %(op)r") % {"op": op}
        return Condition()
    if spec.kind not in operator.kinds:
        errors[f"{path}.op"] = _("%(op)s does not apply to %(fact)s (%(kind)s)") % {
            "op": op,
            "fact": fact,
            "kind": spec.kind,
        }
        return Condition()
    problem = operator.check(value)
    if problem:
        errors[f"{path}.value"] = problem
        return Condition()
    if spec.choices and value is not None:
        values = value if isinstance(value, list) else [value]
        bad = [v for v in values if v not in spec.choices]
        if bad and spec.kind != TEXT_LIST or bad and op in ("contains_all", "lacks_any"):
            errors[f"{path}.value"] = _("%(bad)r is not one of %(choices)s") % {
                "bad": bad[0],
                "choices": ", ".join(spec.choices),
            }
            return Condition()
    return Condition(fact=fact, op=op, value=value)


def _action(raw: Any, path: str, errors: dict[str, str]) -> Action:
    if not isinstance(raw, dict) or not isinstance(raw.get("action"), str):
        errors[path] = _("must be an object with an action")
        return Action(name="")
    name = raw["action"]
    spec = ACTIONS.get(name)
    if spec is None:
        errors[f"{path}.action"] = _("unknown action %(name)r") % {"name": name}
        return Action(name="")
    params = {k: v for k, v in raw.items() if k != "action"}
    for key in set(params) - set(spec.params):
        errors[f"{path}.{key}"] = _("%(action)s takes no %(key)s") % {"action": name, "key": key}
    for key in spec.required:
        if key not in params:
            errors[f"{path}.{key}"] = _("required")
    for key, value in params.items():
        if key not in spec.params:
            continue
        kind, choices = spec.params[key]
        if kind == "bool" and not isinstance(value, bool):
            errors[f"{path}.{key}"] = _("must be true or false")
        elif kind == "text" and choices and value not in choices:
            errors[f"{path}.{key}"] = _("must be one of %(choices)s") % {
                "choices": ", ".join(choices)
            }
        elif kind == TEXT_LIST and (
            not isinstance(value, list) or not value or any(v not in choices for v in value)
        ):
            errors[f"{path}.{key}"] = _("must be a list of %(choices)s") % {
                "choices": ", ".join(choices)
            }
    return Action(name=name, params=params)


def policy_parse(raw: Any) -> Policy:
    """Validate a policy document; raise PolicyInvalid with every error found, by path."""
    errors: dict[str, str] = {}
    if not isinstance(raw, dict):
        raise PolicyInvalid({"": _("a policy is an object with name and rules")})
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = _("required")
    rules_raw = raw.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        errors["rules"] = _("must be a non-empty list")
        raise PolicyInvalid(errors)
    rules: list[Rule] = []
    keys: set[str] = set()
    for i, rule_raw in enumerate(rules_raw):
        path = f"rules.{i}"
        if not isinstance(rule_raw, dict):
            errors[path] = _("must be an object")
            continue
        key = rule_raw.get("key")
        if not isinstance(key, str) or not _KEY.match(key):
            errors[f"{path}.key"] = _("lower-case letters, digits and _ (start with a letter)")
        elif key in keys:
            errors[f"{path}.key"] = _("duplicate key %(key)s") % {"key": key}
        keys.add(key if isinstance(key, str) else "")
        # A rule without "when" always matches: the policy's catch-all at the end.
        when = (
            _condition(rule_raw["when"], f"{path}.when", errors)
            if "when" in rule_raw
            else Condition(group="all")
        )
        then_raw = rule_raw.get("then")
        if not isinstance(then_raw, list) or not then_raw:
            errors[f"{path}.then"] = _("must be a non-empty list of actions")
            then_raw = []
        then = tuple(_action(a, f"{path}.then.{j}", errors) for j, a in enumerate(then_raw))
        decisive = [a for a in then if a.name and ACTIONS[a.name].role == "decides"]
        if len(decisive) > 1:
            errors[f"{path}.then"] = _("at most one deciding action per rule")
        explain = rule_raw.get("explain", {})
        if not isinstance(explain, dict) or any(
            lang not in LANGUAGES or not isinstance(text, str) for lang, text in explain.items()
        ):
            errors[f"{path}.explain"] = _("an object of %(languages)s → text") % {
                "languages": ", ".join(LANGUAGES)
            }
            explain = {}
        rules.append(
            Rule(
                key=key if isinstance(key, str) else "",
                title=str(rule_raw.get("title", "")),
                when=when,
                then=then,
                explain=dict(explain),
            )
        )
    if errors:
        raise PolicyInvalid(errors)
    return Policy(name=name, rules=tuple(rules))
