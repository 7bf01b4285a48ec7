"""Which screening rules exist: those registered under the entry-point group
``silicio.screening_rules``, silicio's own included.

An outside package adds a rule by declaring, in its ``pyproject.toml``::

    [project.entry-points."silicio.screening_rules"]
    my_rule = "my_package.rules:MyRule"      # a ScreeningRule subclass whose name is "my_rule"

silicio declares its built-in rules the same way; :data:`BUILTIN_RULES` lists them again so they
are found when the installed metadata is older than the code (an editable install that was not
reinstalled), and for silicio's own names the code's list wins over stale metadata. Another
package registering a built-in name is an error, not an override.

The registry is read once per ``sys.path`` (reading the installed metadata takes ~10 ms):
a package put on the path later is seen at the next call.
"""

from __future__ import annotations

import functools
import sys
from importlib.metadata import EntryPoint

from silicio.plugins import chosen_entry_points, load_plugin

from .base import LOTS, PARTS, ScreeningRule

__all__ = ["BUILTIN_RULES", "ENTRY_POINT_GROUP", "reason_codes", "registered_rules", "rule_named"]

ENTRY_POINT_GROUP = "silicio.screening_rules"
#: silicio's rules, as its pyproject.toml declares them in :data:`ENTRY_POINT_GROUP`.
BUILTIN_RULES = {
    "pat": "silicio.yields.rules.pat:PatRule",
    "nnr": "silicio.yields.rules.nnr:NnrRule",
    "gdbn": "silicio.yields.rules.gdbn:GdbnRule",
    "yield_limits": "silicio.yields.rules.yield_limits:YieldLimitsRule",
}


def registered_rules() -> dict[str, ScreeningRule]:
    """Every screening rule, name -> rule, in soft-bin precedence (then name) order."""
    return dict(_rules_on(tuple(sys.path)))


def rule_named(name: str) -> ScreeningRule:
    """The rule registered as ``name``; an unknown name raises ValueError listing the known ones."""
    rules = registered_rules()
    if name not in rules:
        raise ValueError(f"no screening rule named {name!r}; known rules: {', '.join(sorted(rules))}")
    return rules[name]


def reason_codes(kind: str | None = None) -> tuple[str, ...]:
    """The reason codes of the registered rules of ``kind`` (all rules when None), e.g.
    ``reason_codes("pat")`` for the codes a dashboard counts in a lot's PAT share."""
    return tuple(
        code
        for rule in registered_rules().values()
        if kind is None or rule.kind == kind
        for code in rule.reason_codes
    )


@functools.lru_cache(maxsize=8)
def _rules_on(path: tuple[str, ...]) -> tuple[tuple[str, ScreeningRule], ...]:
    chosen = chosen_entry_points(ENTRY_POINT_GROUP, BUILTIN_RULES, "a screening rule")
    rules = [_load(point) for point in chosen.values()]
    codes: dict[str, str] = {}
    for rule in rules:
        for code in rule.reason_codes:
            if code in codes:
                raise ValueError(
                    f"screening rules {codes[code]!r} and {rule.name!r} both emit reason code {code!r}"
                )
            codes[code] = rule.name
    rules.sort(key=lambda rule: (rule.precedence, rule.name))
    return tuple((rule.name, rule) for rule in rules)


def _load(point: EntryPoint) -> ScreeningRule:
    rule = load_plugin(point, ScreeningRule, "screening rule")
    where = f"screening rule {point.name!r} ({point.value}, group {ENTRY_POINT_GROUP})"
    if rule.judges not in (PARTS, LOTS):
        raise ValueError(f"{where}: judges must be {PARTS!r} or {LOTS!r}, got {rule.judges!r}")
    if not rule.reason_codes:
        raise ValueError(f"{where} declares no reason code")
    return rule
