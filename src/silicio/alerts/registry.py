"""Which alert rules exist: those registered under the entry-point group ``silicio.alert_rules``,
silicio's own included (the same registry as the screening rules' and the data sources').

An outside package adds a rule by declaring, in its ``pyproject.toml``::

    [project.entry-points."silicio.alert_rules"]
    my_rule = "my_package.alerts:MyRule"      # an AlertRule subclass whose name is "my_rule"

:data:`BUILTIN_RULES` lists silicio's own again, so they are found when the installed metadata is
older than the code (an editable install not reinstalled); another package registering a
built-in name is an error, not an override.
"""

from __future__ import annotations

import functools
import sys
from importlib.metadata import EntryPoint, entry_points

from .base import AlertRule

__all__ = ["BUILTIN_RULES", "ENTRY_POINT_GROUP", "registered_rules"]

ENTRY_POINT_GROUP = "silicio.alert_rules"
#: silicio's rules, as its pyproject.toml declares them in :data:`ENTRY_POINT_GROUP`.
BUILTIN_RULES = {
    "yield_below_syl": "silicio.alerts.rules:YieldBelowSyl",
    "bin_above_sbl": "silicio.alerts.rules:BinAboveSbl",
    "pat_outlier_rate": "silicio.alerts.rules:PatOutlierRate",
    "spc_violation": "silicio.alerts.rules:SpcViolation",
    "spatial_signature": "silicio.alerts.rules:NewSpatialSignature",
    "quarantined_file": "silicio.alerts.rules:QuarantinedFileRule",
    "site_drift": "silicio.alerts.rules:SiteDrift",
}
_OWN_DISTRIBUTION = "silicio"


def registered_rules() -> dict[str, AlertRule]:
    """Every alert rule, name -> rule, by name."""
    return dict(_rules_on(tuple(sys.path)))


@functools.lru_cache(maxsize=8)
def _rules_on(path: tuple[str, ...]) -> tuple[tuple[str, AlertRule], ...]:
    chosen: dict[str, EntryPoint] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        builtin = BUILTIN_RULES.get(point.name)
        if builtin is not None and point.value != builtin:
            if _distribution(point) == _OWN_DISTRIBUTION:
                continue  # silicio's own metadata, older than its code
            raise ValueError(
                f"package {_distribution(point)} registers an alert rule {point.name!r} ({point.value}), "
                f"the name of silicio's built-in rule ({builtin}); choose another name"
            )
        known = chosen.get(point.name)
        if known is not None and known.value != point.value:
            raise ValueError(
                f"two alert rules are registered as {point.name!r}: {known.value} and {point.value}"
            )
        chosen[point.name] = point
    for name, value in BUILTIN_RULES.items():
        chosen.setdefault(name, EntryPoint(name, value, ENTRY_POINT_GROUP))
    return tuple(sorted(((name, _load(point)) for name, point in chosen.items()), key=lambda item: item[0]))


def _distribution(point: EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    return dist.name if dist is not None else _OWN_DISTRIBUTION


def _load(point: EntryPoint) -> AlertRule:
    where = f"alert rule {point.name!r} ({point.value}, group {ENTRY_POINT_GROUP})"
    try:
        found = point.load()
    except Exception as exc:  # any import failure of a plugin: name it, do not hide it
        raise ValueError(f"{where} cannot be loaded: {type(exc).__name__}: {exc}") from exc
    if not (isinstance(found, type) and issubclass(found, AlertRule)):
        raise ValueError(f"{where} is not a silicio.alerts.AlertRule subclass")
    rule = found()
    if rule.name != point.name:
        raise ValueError(f"{where} names itself {rule.name!r}; the entry point and the rule must agree")
    return rule
