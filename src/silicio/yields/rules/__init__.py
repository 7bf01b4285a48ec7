"""Screening rules as plugins: one interface (:class:`ScreeningRule`) that recipes,
:func:`silicio.yields.screen`, the lot report and the dashboard loop over, and the registry of
the rules installed (entry-point group ``silicio.screening_rules``).

Adding a rule is one module: a parameters dataclass and a :class:`ScreeningRule` subclass
(``name``, ``title``, ``reason_codes``, ``kind``, ``params_type``, :meth:`~ScreeningRule.parse`,
:meth:`~ScreeningRule.apply`), declared as an entry point. silicio's own rules are in
:mod:`.pat` (AEC-Q001), :mod:`.nnr`, :mod:`.gdbn` and :mod:`.yield_limits` (AEC-Q002).
"""

from .base import (
    LOTS,
    PARTS,
    REASON_COLUMNS,
    REASON_SCHEMA,
    SHORT_HISTORY,
    RecipeTable,
    ScreeningContext,
    ScreeningRule,
    empty_reasons,
)
from .registry import BUILTIN_RULES, ENTRY_POINT_GROUP, reason_codes, registered_rules, rule_named

__all__ = [
    "BUILTIN_RULES",
    "ENTRY_POINT_GROUP",
    "LOTS",
    "PARTS",
    "REASON_COLUMNS",
    "REASON_SCHEMA",
    "RecipeTable",
    "SHORT_HISTORY",
    "ScreeningContext",
    "ScreeningRule",
    "empty_reasons",
    "reason_codes",
    "registered_rules",
    "rule_named",
]
