"""How big a policy may be: checked before a document is parsed, walked without recursion,
so no nesting can overflow the stack and no huge document holds a request for minutes."""

from __future__ import annotations

import math
from typing import Any

from django.utils.translation import gettext as _

from aftersales.core.errors import Invalid

# Far above any real policy (the DESIGN §5 default has 474 values, 8 levels deep);
# also stops an aliased YAML bomb from being walked for ever.
MAX_NODES = 5_000
MAX_DEPTH = 32


def _unreadable(path: str, problem: str) -> Invalid:
    return Invalid(
        "policy.unreadable", _("The file holds something a policy cannot."), {path: problem}
    )


def document_check(document: Any) -> None:
    """Refuse what JSON cannot hold, and documents too big or too deep to be a policy.

    Walked without recursion, so no nesting can overflow the stack; every refusal names its
    path. The API runs this before validating, since the legal-floor check decides thousands
    of cases against the document and a huge one would hold a request for minutes.
    """
    nodes = 0
    pending: list[tuple[Any, str, int]] = [(document, "", 1)]
    while pending:
        value, path, depth = pending.pop()
        where = path or "(document)"
        nodes += 1
        if nodes > MAX_NODES:
            raise Invalid(
                "policy.too_large",
                _("The policy is too large."),
                {"(document)": _("More than %(max)s values.") % {"max": f"{MAX_NODES:,}"}},
            )
        if depth > MAX_DEPTH:
            raise Invalid(
                "policy.too_large",
                _("The policy is nested too deeply."),
                {where: _("Deeper than %(max)s levels.") % {"max": MAX_DEPTH}},
            )
        if isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if not isinstance(key, str):
                    raise _unreadable(child, _("Keys must be text."))
                pending.append((item, child, depth + 1))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                pending.append((item, f"{path}.{i}" if path else str(i), depth + 1))
        elif isinstance(value, float) and not math.isfinite(value):
            raise _unreadable(where, _("Not a finite number."))
        elif value is not None and not isinstance(value, (str, int, float, bool)):
            raise _unreadable(where, _("Not text, a number, true/false or null."))
