"""Screening recipes: which rules a screening runs, with which parameters, in a TOML file.

A recipe is data, versioned with the product: the results of :func:`silicio.yields.screening.screen`
record its name, version and SHA-256, so a shipped lot can be traced to the exact screening it
went through. The hash is taken over the recipe's canonical content (every parameter, defaults
filled in, keys sorted), so comments and layout of the file do not change it but any parameter
does. TOML is read with the standard library's ``tomllib`` (no YAML dependency)::

    [recipe]
    name = "automotive-wafer-sort"
    version = "1.0"

    [pat]                      # AEC-Q001 Rev-D static PAT
    tests = "all"              # or [1000, 1001]
    k = 6.0
    min_lots = 6
    iqr_zero = "skip"          # or "resolution"
    quantile_method = "linear"
    alarmed = "exclude"        # or "include": results with TEST_FLG bit 0 (alarm), also in [nnr], [gdbn]

    [pat.dynamic]              # AEC-Q001 Rev-D dynamic PAT
    scope = "wafer"            # or "lot"
    n = 6.0
    center = "mean"            # or "median" (robust)
    min_parts = 30

    [gdbn]
    rule = "weighted"          # or "count"
    threshold = 6.0            # weighted rule
    min_failing = 3            # count rule
    radius = 1                 # count rule window
    adjacent_weight = 2.0
    diagonal_weight = 1.0
    edge = "none"              # "none", "scale" or a factor

    [nnr]                      # Daasch et al.
    tests = [1000]
    radius = 2
    k = 6.0
    min_neighbours = 3
    resolution_floor = 1.0     # residual sigma >= 1 x the measurement step (0: no floor)
    min_distinct = 20          # a wafer's test with fewer distinct results is not screened
    max_spread_ratio = 1.0     # nor one whose residuals spread as much as its results ("none": no check)
    max_tail_ratio = 3.0       # nor one whose residuals fall into several modes ("none": no check)
    [nnr.min_sigma]            # optional floor of the residual sigma per test, in its units
    1000 = 2.0e-9

    [yield_limits]             # AEC-Q002 Rev-B SYL / SBL
    bin = "soft"
    min_lots = 6

    [bins]
    soft_bin = 90              # the bin of parts a rule rejects
    hard_bin = 9
    [bins.by_rule]             # optional soft bin per rule family
    gdbn = 91

A table left out turns its rule off. Each table other than ``[recipe]`` and ``[bins]`` names a
screening rule registered in :mod:`silicio.yields.rules` (silicio's own or an installed
package's), which reads and checks its parameters; an unknown table is an error listing the
rules known.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .rules import PARTS, RecipeTable, registered_rules

__all__ = ["Bins", "Recipe", "dumps_recipe", "load_recipe", "loads_recipe"]

#: Where the recipe text came from, in error messages, when no file is named.
TEXT_SOURCE = "<recipe text>"


@dataclass(frozen=True)
class Bins:
    """Bins given to the parts a rule rejects: one hard / soft bin, soft bins per rule."""

    soft_bin: int = 90
    hard_bin: int = 9
    by_rule: tuple[tuple[str, int], ...] = ()

    def soft_bin_of(self, rule: str) -> int:
        """Soft bin of a part rejected by the rule named ``rule`` ("pat", "nnr", "gdbn", ...)."""
        return dict(self.by_rule).get(rule, self.soft_bin)


@dataclass(frozen=True)
class Recipe:
    """A screening recipe: the rules it turns on with their parameters, a name and a version.

    ``rules``: (rule name, parameters) pairs, or a mapping of them; each name must be a
    registered rule and its parameters that rule's ``params_type``. They are kept in the
    rules' precedence order. ``recipe.pat``, ``recipe.nnr``, ``recipe.gdbn`` and
    ``recipe.yield_limits`` are the built-in rules' parameters (None when off).
    """

    name: str
    version: str
    description: str = ""
    rules: tuple[tuple[str, Any], ...] = ()
    bins: Bins = field(default_factory=Bins)

    def __post_init__(self):
        registered = registered_rules()
        pairs = list(self.rules.items() if isinstance(self.rules, Mapping) else self.rules)
        names = [name for name, _ in pairs]
        for name, params in pairs:
            if name not in registered:
                raise ValueError(
                    f"recipe {self.name!r}: no screening rule named {name!r}; known rules: "
                    f"{', '.join(sorted(registered))}"
                )
            expected = registered[name].params_type
            if not isinstance(params, expected):
                raise ValueError(
                    f"recipe {self.name!r}: rule {name!r} takes {expected.__name__} parameters, "
                    f"got {type(params).__name__}"
                )
            if names.count(name) > 1:
                raise ValueError(f"recipe {self.name!r}: rule {name!r} is given twice")
        order = list(registered)
        object.__setattr__(self, "rules", tuple(sorted(pairs, key=lambda pair: order.index(pair[0]))))

    def params(self, rule: str) -> Any | None:
        """The parameters of the rule named ``rule``, None when the recipe leaves it off."""
        return dict(self.rules).get(rule)

    @property
    def pat(self):
        """Static / dynamic PAT parameters (:class:`silicio.yields.rules.pat.PatParams`) or None."""
        return self.params("pat")

    @property
    def nnr(self):
        """NNR parameters (:class:`silicio.yields.rules.nnr.NnrParams`) or None."""
        return self.params("nnr")

    @property
    def gdbn(self):
        """GDBN parameters (:class:`silicio.yields.rules.gdbn.GdbnParams`) or None."""
        return self.params("gdbn")

    @property
    def yield_limits(self):
        """AEC-Q002 parameters (:class:`silicio.yields.rules.yield_limits.YieldLimitsParams`) or None."""
        return self.params("yield_limits")

    def to_dict(self) -> dict[str, Any]:
        """The recipe as nested plain values, as a TOML file holds it (rules off left out)."""
        out: dict[str, Any] = {"recipe": {"name": self.name, "version": self.version}}
        if self.description:
            out["recipe"]["description"] = self.description
        registered = registered_rules()
        for name, params in self.rules:
            out[name] = registered[name].to_table(params)
        bins = {"soft_bin": self.bins.soft_bin, "hard_bin": self.bins.hard_bin}
        if self.bins.by_rule:
            bins["by_rule"] = dict(self.bins.by_rule)
        out["bins"] = bins
        return out

    @property
    def sha256(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`to_dict` (keys sorted, no whitespace)."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def identity(self) -> dict[str, str]:
        """What a result records of the recipe: name, version, sha256."""
        return {"name": self.name, "version": self.version, "sha256": self.sha256}


# --------------------------------------------------------------------------------------------
# Reading


def _bin_number(value: Any, what: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65534:
        raise ValueError(f"{source}: {what} must be a bin number 0..65534, got {value!r}")
    return value


def _bins(data: dict[str, Any], rules: Mapping[str, Any], source: str) -> Bins:
    s = RecipeTable(data.get("bins", {}), "bins", source).only("soft_bin", "hard_bin", "by_rule")
    by_rule = s.table.get("by_rule", {})
    rebinning = [name for name, rule in rules.items() if rule.judges == PARTS]
    if not isinstance(by_rule, dict) or not set(by_rule) <= set(rebinning):
        raise ValueError(
            f"{source}: [bins.by_rule] keys must be among {', '.join(rebinning)} (the rules that reject "
            f"parts); got {by_rule!r}"
        )
    return Bins(
        soft_bin=_bin_number(s.table.get("soft_bin", 90), "[bins] soft_bin", source),
        hard_bin=_bin_number(s.table.get("hard_bin", 9), "[bins] hard_bin", source),
        by_rule=tuple(sorted((k, _bin_number(v, f"[bins.by_rule] {k}", source)) for k, v in by_rule.items())),
    )


def _recipe_of(data: dict[str, Any], source: str) -> Recipe:
    rules = registered_rules()
    unknown = sorted(set(data) - {"recipe", "bins"} - set(rules))
    if unknown:
        raise ValueError(
            f"{source}: unknown section(s) {', '.join(f'[{u}]' for u in unknown)}: a recipe has [recipe], "
            f"[bins] and screening rules; known rules: {', '.join(sorted(rules))} (a rule of another "
            f"package is known once that package is installed)"
        )
    head = RecipeTable(data.get("recipe", {}), "recipe", source).only("name", "version", "description")
    for key in ("name", "version"):
        if not isinstance(head.table.get(key), str) or not head.table[key].strip():
            raise head.error(key, "must be a non-empty string")
    description = head.table.get("description", "")
    if not isinstance(description, str):
        raise head.error("description", "must be a string")
    chosen = {name: rule.parse(data[name], source) for name, rule in rules.items() if name in data}
    if not chosen:
        raise ValueError(
            f"{source}: the recipe turns no rule on: give at least one of "
            f"{', '.join(f'[{name}]' for name in rules)}"
        )
    return Recipe(head.table["name"], head.table["version"], description, tuple(chosen.items()),
                  _bins(data, rules, source))  # fmt: skip


def loads_recipe(text: str, source: str = TEXT_SOURCE) -> Recipe:
    """A recipe from TOML text; a bad recipe raises ValueError naming ``source`` (the file the
    text came from), the table and the key, and saying what was expected."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source} is not valid TOML: {exc}") from exc
    return _recipe_of(data, source)


def load_recipe(path: str | os.PathLike[str]) -> Recipe:
    """A recipe from a TOML file; errors name the file."""
    return loads_recipe(Path(path).read_text(encoding="utf-8"), source=str(path))


# --------------------------------------------------------------------------------------------
# Writing


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ValueError(f"cannot write {value!r} in a recipe")


def _toml_table(lines: list[str], name: str, table: dict[str, Any]) -> None:
    lines.append(f"[{name}]")
    subtables = []
    for key, value in table.items():
        if isinstance(value, dict):
            subtables.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    lines.append("")
    for key, value in subtables:
        _toml_table(lines, f"{name}.{key}", value)


def dumps_recipe(recipe: Recipe) -> str:
    """The recipe as TOML text that :func:`loads_recipe` reads back to an equal recipe."""
    lines: list[str] = []
    for name, table in recipe.to_dict().items():
        _toml_table(lines, name, table)
    return "\n".join(lines)
