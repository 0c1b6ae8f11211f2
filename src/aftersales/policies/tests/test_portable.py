"""Policy documents as JSON and YAML files, and the `aftersales policy` export/import commands."""

from __future__ import annotations

import copy
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from aftersales.core.errors import Invalid
from aftersales.policies.defaults import DEFAULT_POLICY
from aftersales.policies.models import PolicyVersion
from aftersales.policies.portable import (
    document_check,
    document_dump,
    document_import,
    document_load,
    format_for,
)
from aftersales.policies.services import policy_install_default
from aftersales.policies.tests.test_whatif import index, rule


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_the_default_policy_survives_a_round_trip(fmt):
    text = document_dump(DEFAULT_POLICY, format=fmt)
    assert document_load(text, format=fmt) == DEFAULT_POLICY
    document, parsed = document_import(text, format=fmt)
    assert document == DEFAULT_POLICY
    assert [r.key for r in parsed.rules] == [r["key"] for r in DEFAULT_POLICY["rules"]]


def test_yaml_reads_in_order_with_readable_text():
    text = document_dump(DEFAULT_POLICY, format="yaml")
    assert text.startswith(
        "name: 默认售后政策 (DESIGN §5)\nrules:\n- key: approval_manager_above_2000\n"
    )
    assert "\\u" not in text
    # Numbers written as text stay text ("2000" is compared as a Decimal by the engine).
    assert "value: '2000'" in text
    first = text.index("- key: refund_only_unshipped")
    block = text[first : text.index("- key:", first + 1)].splitlines()
    keys = [block[0].split(":")[0]] + [
        line.split(":")[0].strip() for line in block[1:] if line[2:3] not in (" ", "-")
    ]
    assert keys == ["- key", "title", "when", "then", "explain"]
    assert "    - fact: type\n      op: eq\n      value: refund_only\n" in block_text(text, first)


def block_text(text: str, first: int) -> str:
    return text[first : text.index("- key:", first + 1)]


def test_export_puts_keys_in_reading_order_whatever_order_they_are_stored_in():
    scrambled = {
        "rules": [
            {
                "then": [{"recommend": "none", "action": "route_to_person"}],
                "explain": {"vi": "c", "en": "b", "zh-hans": "a"},
                "when": {"all": [{"value": "repair", "op": "eq", "fact": "type"}]},
                "key": "a",
            }
        ],
        "name": "x",
    }
    assert document_dump(scrambled, format="json") == (
        '{\n  "name": "x",\n  "rules": [\n    {\n      "key": "a",\n      "when": {\n'
        '        "all": [\n          {\n            "fact": "type",\n            "op": "eq",\n'
        '            "value": "repair"\n          }\n        ]\n      },\n      "then": [\n'
        '        {\n          "action": "route_to_person",\n          "recommend": "none"\n'
        '        }\n      ],\n      "explain": {\n        "zh-hans": "a",\n        "en": "b",\n'
        '        "vi": "c"\n      }\n    }\n  ]\n}\n'
    )


def test_json_is_indented_and_readable():
    text = document_dump({"name": "退款", "rules": []}, format="json")
    assert text == '{\n  "name": "退款",\n  "rules": []\n}\n'


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("p.json", "json"), ("p.JSON", "json"), ("p.yaml", "yaml"), ("p.yml", "yaml"), ("p", "yaml")],
)
def test_the_format_follows_the_file_name(name, fmt):
    assert format_for(name) == fmt


def test_yaml_reads_json_too():
    assert document_load('{"name": "x", "rules": [1]}', format="yaml") == {
        "name": "x",
        "rules": [1],
    }


@pytest.mark.parametrize(
    ("text", "fmt", "fields"),
    [
        ("name: [unclosed\n", "yaml", {"line": "2: expected ',' or ']', but got '<stream end>'"}),
        ('{"name": }', "json", {"line": "1: Expecting value"}),
        (
            "name: x\nrules:\n- title: 2026-11-20\n",
            "yaml",
            {"rules.0.title": "Not text, a number, true/false or null."},
        ),
        ("name: x\nrules:\n- 1: one\n", "yaml", {"rules.0.1": "Keys must be text."}),
        ("name: x\nrules:\n- value: .nan\n", "yaml", {"rules.0.value": "Not a finite number."}),
        ('{"name": NaN}', "json", {"name": "Not a finite number."}),
        ("!!python/object:os.system {}\n", "yaml", None),
    ],
)
def test_unreadable_files_are_refused_saying_where(text, fmt, fields):
    with pytest.raises(Invalid) as exc:
        document_load(text, format=fmt)
    assert exc.value.code == "policy.unreadable"
    if fields is not None:
        assert exc.value.fields == fields


def test_an_aliased_yaml_bomb_is_refused():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefg", "bcdefgh", strict=True)
    )
    with pytest.raises(Invalid) as exc:
        document_load(bomb, format="yaml")
    assert exc.value.code == "policy.too_large"
    assert exc.value.fields == {"(document)": "More than 5,000 values."}


def test_too_deep_a_document_is_refused_at_its_path():
    document = {"name": "x", "rules": [{"key": "a", "when": {"not": {}}}]}
    leaf = document["rules"][0]["when"]
    for _ in range(40):
        leaf["not"] = {"not": {}}
        leaf = leaf["not"]
    with pytest.raises(Invalid) as exc:
        document_check(document)
    assert exc.value.code == "policy.too_large"
    assert exc.value.fields == {"rules.0.when" + ".not" * 29: "Deeper than 32 levels."}


def test_yaml_nested_past_the_parsers_stack_is_refused():
    with pytest.raises(Invalid) as exc:
        document_load("[" * 5000 + "]" * 5000, format="yaml")
    assert exc.value.code == "policy.too_large"


def test_import_validates_the_document_with_paths():
    document = copy.deepcopy(DEFAULT_POLICY)
    rule(document, "repair_in_warranty")["then"][0]["outcome"] = "fixed"
    at = index(document, "repair_in_warranty")
    with pytest.raises(Invalid) as exc:
        document_import(json.dumps(document), format="json")
    assert exc.value.code == "policy.invalid"
    assert exc.value.fields == {
        f"rules.{at}.then.0.outcome": "must be one of refunded, exchanged, repaired, reissued"
    }


def test_an_unknown_format_is_refused():
    with pytest.raises(Invalid) as exc:
        document_dump(DEFAULT_POLICY, format="xml")
    assert exc.value.code == "policy.format"


# ----------------------------------------------------------------------------- the commands


def run(*args: str) -> str:
    out = StringIO()
    call_command("policy", *args, stdout=out)
    return out.getvalue()


def test_install_default_then_export(shop):
    assert (
        run("install-default", "--shop", "acme") == "Installed the default policy as version 1.\n"
    )
    assert run("export", "--shop", "acme") == document_dump(DEFAULT_POLICY, format="yaml")
    assert json.loads(run("export", "--shop", "acme", "--format", "json")) == DEFAULT_POLICY


def test_import_saves_a_draft_or_publishes_it(shop, tmp_path):
    live = policy_install_default(shop=shop)
    document = copy.deepcopy(DEFAULT_POLICY)
    document["name"] = "春节政策"
    path = tmp_path / "spring.yaml"
    path.write_text(document_dump(document, format="yaml"), encoding="utf-8")

    assert run("import", str(path), "--shop", "acme") == "Saved “春节政策” as version 2 (draft).\n"
    assert run("import", str(path), "--shop", "acme", "--publish") == (
        "Saved “春节政策” as version 3 (live).\n"
    )
    versions = PolicyVersion.objects.filter(policy=live.policy).order_by("number")
    assert [(v.number, v.status) for v in versions] == [(1, "retired"), (2, "draft"), (3, "live")]
    assert versions.get(number=3).document == document
    # Export by number gives back what was imported.
    assert run("export", "--shop", "acme", "--version", "2") == path.read_text(encoding="utf-8")


def test_import_refuses_an_invalid_file_listing_the_paths(shop, tmp_path):
    policy_install_default(shop=shop)
    document = copy.deepcopy(DEFAULT_POLICY)
    rule(document, "no_reason_within_7_days")["then"] = [{"action": "auto_reject"}]
    at = index(document, "no_reason_within_7_days")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    with pytest.raises(CommandError) as exc:
        run("import", str(path), "--shop", "acme", "--publish")

    assert str(exc.value) == (
        "Rule no_reason_within_7_days would refuse an eligible 7-day no-reason return, which "
        f"the law does not allow.\n  rules.{at}: Refuses a legal return."
    )
    assert PolicyVersion.objects.filter(shop=shop).count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "--shop", "nope"], "unknown shop code 'nope'"),
        (["export", "--shop", "acme", "--channel", "jd"], "shop acme has no channel 'jd'"),
        (["export", "--shop", "acme", "--version", "9"], "no such policy version"),
        (["import", "/nonexistent.yaml", "--shop", "acme"], "cannot read /nonexistent.yaml"),
    ],
)
def test_command_refusals(shop, args, message):
    policy_install_default(shop=shop)
    with pytest.raises(CommandError) as exc:
        run(*args)
    assert str(exc.value).startswith(message)
