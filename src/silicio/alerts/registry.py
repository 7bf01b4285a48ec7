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
from importlib.metadata import EntryPoint

from silicio.plugins import chosen_entry_points, load_plugin

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


def registered_rules() -> dict[str, AlertRule]:
    """Every alert rule, name -> rule, by name."""
    return dict(_rules_on(tuple(sys.path)))


@functools.lru_cache(maxsize=8)
def _rules_on(path: tuple[str, ...]) -> tuple[tuple[str, AlertRule], ...]:
    chosen = chosen_entry_points(ENTRY_POINT_GROUP, BUILTIN_RULES, "an alert rule")
    return tuple(sorted(((name, _load(point)) for name, point in chosen.items()), key=lambda item: item[0]))


def _load(point: EntryPoint) -> AlertRule:
    return load_plugin(point, AlertRule, "alert rule")
