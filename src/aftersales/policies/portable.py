"""Policy documents as files: export to JSON or YAML, import (read and validate) from either.

A document is stored as JSON, so what a file may hold is what JSON holds: objects with text
keys, lists, text, numbers, true/false and null. YAML can say more (dates, sets, non-text
keys, .nan); such values are refused with their path rather than stored half-understood.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from django.utils.translation import gettext as _

from aftersales.core.errors import Invalid
from aftersales.policies.document import LANGUAGES
from aftersales.policies.document import Policy as PolicyDoc
from aftersales.policies.limits import MAX_DEPTH, document_check
from aftersales.policies.services import document_validate

JSON, YAML = "json", "yaml"
FORMATS = (JSON, YAML)
CONTENT_TYPES = {JSON: "application/json", YAML: "application/yaml"}
_SUFFIXES = {".json": JSON, ".yaml": YAML, ".yml": YAML}


def format_for(path: str | Path) -> str:
    """The format a file name implies (.json, .yaml, .yml); YAML otherwise (it reads JSON too)."""
    return _SUFFIXES.get(Path(path).suffix.lower(), YAML)


def _ordered(value: dict, first: tuple[str, ...]) -> dict:
    return {key: value[key] for key in [*(k for k in first if k in value), *value] if key in value}


def _condition(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    ordered = _ordered(value, ("all", "any", "not", "fact", "op", "value"))
    for group in ("all", "any"):
        if isinstance(ordered.get(group), list):
            ordered[group] = [_condition(child) for child in ordered[group]]
    if "not" in ordered:
        ordered["not"] = _condition(ordered["not"])
    return ordered


def _rule(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    ordered = _ordered(value, ("key", "title", "when", "then", "explain"))
    if "when" in ordered:
        ordered["when"] = _condition(ordered["when"])
    if isinstance(ordered.get("then"), list):
        ordered["then"] = [
            _ordered(a, ("action",)) if isinstance(a, dict) else a for a in ordered["then"]
        ]
    if isinstance(ordered.get("explain"), dict):
        ordered["explain"] = _ordered(ordered["explain"], LANGUAGES)
    return ordered


def document_ordered(document: Any) -> Any:
    """The keys in reading order: name, rules; key, title, when, then, explain; fact, op, value.

    PostgreSQL stores JSON as jsonb, which keeps no key order, so an export puts them back
    in one fixed order and reads the same from either database.
    """
    if not isinstance(document, dict):
        return document
    ordered = _ordered(document, ("name", "rules"))
    if isinstance(ordered.get("rules"), list):
        ordered["rules"] = [_rule(rule) for rule in ordered["rules"]]
    return ordered


def document_dump(document: Any, *, format: str = YAML) -> str:
    """The document as text in reading order (document_ordered), Chinese and Vietnamese
    left readable."""
    document = document_ordered(document)
    if format == JSON:
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if format == YAML:
        return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)
    raise Invalid("policy.format", _("Export as json or yaml."), {"format": _("Unknown format.")})


def document_load(text: str, *, format: str = YAML) -> Any:
    """Read the text as JSON or YAML into plain data; unreadable text is a 422 with a line."""
    if format not in FORMATS:
        raise Invalid("policy.format", _("Read json or yaml."), {"format": _("Unknown format.")})
    try:
        document = json.loads(text) if format == JSON else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise Invalid(
            "policy.unreadable",
            _("The file is not valid JSON."),
            {"line": f"{exc.lineno}: {exc.msg}"},
        ) from exc
    except RecursionError as exc:
        raise Invalid(
            "policy.too_large",
            _("The policy is nested too deeply."),
            {"(document)": _("Deeper than %(max)s levels.") % {"max": MAX_DEPTH}},
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise Invalid(
            "policy.unreadable",
            _("The file is not valid YAML."),
            {"line": f"{mark.line + 1}: {problem}" if mark else problem},
        ) from exc
    document_check(document)
    return document


def document_import(text: str, *, format: str = YAML) -> tuple[Any, PolicyDoc]:
    """Read and validate (legal floor included): the plain document and its parse."""
    document = document_load(text, format=format)
    return document, document_validate(document)
