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
    edge = "scale"             # "none", "scale" or a factor

    [nnr]                      # Daasch et al.
    tests = [1000]
    radius = 2
    k = 6.0
    min_neighbours = 3
    iqr_zero = "skip"          # or "resolution": residual sigma floored at the step

    [yield_limits]             # AEC-Q002 Rev-B SYL / SBL
    bin = "soft"
    min_lots = 6

    [bins]
    soft_bin = 90              # the bin of parts a rule rejects
    hard_bin = 9
    [bins.by_rule]             # optional soft bin per rule family
    gdbn = 91

A section left out turns its rule off.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .gdbn import GDBN_RULES
from .pat import DYNAMIC_CENTERS, DYNAMIC_SCOPES, IQR_ZERO_POLICIES, QUANTILE_METHODS

__all__ = [
    "Bins",
    "DynamicPatRule",
    "GdbnRule",
    "NnrRule",
    "PatRule",
    "Recipe",
    "YieldLimitsRule",
    "dumps_recipe",
    "load_recipe",
    "loads_recipe",
]

RULE_FAMILIES = ("pat", "nnr", "gdbn")


@dataclass(frozen=True)
class DynamicPatRule:
    """Dynamic PAT (AEC-Q001 Rev-D): limits center ± n sigma per wafer or lot."""

    scope: str = "wafer"
    n: float = 6.0
    center: str = "mean"
    min_parts: int = 30


@dataclass(frozen=True)
class PatRule:
    """Static PAT (AEC-Q001 Rev-D): robust mean ± k robust sigma from >= min_lots lots."""

    tests: str | tuple[int, ...] = "all"
    k: float = 6.0
    min_lots: int = 6
    iqr_zero: str = "skip"
    quantile_method: str = "linear"
    dynamic: DynamicPatRule | None = None


@dataclass(frozen=True)
class GdbnRule:
    """Good die in bad neighbourhood: count or weighted rule, edge factor."""

    rule: str = "weighted"
    threshold: float = 6.0
    min_failing: float = 3.0
    radius: int = 1
    adjacent_weight: float = 2.0
    diagonal_weight: float = 1.0
    edge: str | float = "none"


@dataclass(frozen=True)
class NnrRule:
    """Nearest neighbour residual (Daasch et al.)."""

    tests: str | tuple[int, ...] = "all"
    radius: int = 2
    k: float = 6.0
    min_neighbours: int = 3
    iqr_zero: str = "skip"
    quantile_method: str = "linear"


@dataclass(frozen=True)
class YieldLimitsRule:
    """Statistical yield and bin limits (AEC-Q002 Rev-B) over the lots screened."""

    bin: str = "soft"
    min_lots: int = 6


@dataclass(frozen=True)
class Bins:
    """Bins given to the parts a rule rejects: one hard / soft bin, soft bins per rule family."""

    soft_bin: int = 90
    hard_bin: int = 9
    by_rule: tuple[tuple[str, int], ...] = ()

    def soft_bin_of(self, family: str) -> int:
        """Soft bin of a part rejected by a rule of ``family`` ("pat", "nnr" or "gdbn")."""
        return dict(self.by_rule).get(family, self.soft_bin)


@dataclass(frozen=True)
class Recipe:
    """A screening recipe: rules and parameters, a name and a version."""

    name: str
    version: str
    description: str = ""
    pat: PatRule | None = None
    gdbn: GdbnRule | None = None
    nnr: NnrRule | None = None
    yield_limits: YieldLimitsRule | None = None
    bins: Bins = field(default_factory=Bins)

    def to_dict(self) -> dict[str, Any]:
        """The recipe as nested plain values, as a TOML file holds it (rules off left out)."""
        out: dict[str, Any] = {"recipe": {"name": self.name, "version": self.version}}
        if self.description:
            out["recipe"]["description"] = self.description
        if self.pat is not None:
            pat = _plain(self.pat)
            if pat.get("dynamic") is None:
                pat.pop("dynamic", None)
            out["pat"] = pat
        for name in ("gdbn", "nnr", "yield_limits"):
            rule = getattr(self, name)
            if rule is not None:
                out[name] = _plain(rule)
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


def _plain(rule: Any) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(rule):
        value = getattr(rule, f.name)
        if dataclasses.is_dataclass(value):
            value = _plain(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, int) and not isinstance(value, bool) and "float" in str(f.type):
            value = float(value)  # 6 and 6.0 are the same parameter: one hash
        out[f.name] = value
    return out


# --------------------------------------------------------------------------------------------
# Reading


def _section(data: dict[str, Any], name: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    section = data.get(name, {})
    if not isinstance(section, dict):
        raise ValueError(f"[{name}] must be a table of parameters")
    unknown = sorted(set(section) - set(allowed))
    if unknown:
        raise ValueError(
            f"[{name}] has unknown key(s) {', '.join(unknown)}; expected some of {', '.join(allowed)}"
        )
    return section


def _number(section: dict, name: str, key: str, default: float, *, positive=True) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"[{name}] {key} must be a number, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"[{name}] {key} must be > 0, got {value!r}")
    return float(value)


def _integer(section: dict, name: str, key: str, default: int, minimum: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"[{name}] {key} must be an integer >= {minimum}, got {value!r}")
    return value


def _choice(section: dict, name: str, key: str, default: str, choices: tuple[str, ...]) -> str:
    value = section.get(key, default)
    if value not in choices:
        raise ValueError(f"[{name}] {key} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _tests(section: dict, name: str) -> str | tuple[int, ...]:
    value = section.get("tests", "all")
    if value == "all":
        return "all"
    if (
        isinstance(value, list)
        and value
        and all(isinstance(t, int) and not isinstance(t, bool) for t in value)
    ):
        return tuple(value)
    raise ValueError(f'[{name}] tests must be "all" or a non-empty list of test numbers, got {value!r}')


def _bin_number(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65534:
        raise ValueError(f"{what} must be a bin number 0..65534, got {value!r}")
    return value


def _recipe_of(data: dict[str, Any]) -> Recipe:
    sections = ("recipe", "pat", "gdbn", "nnr", "yield_limits", "bins")
    unknown = sorted(set(data) - set(sections))
    if unknown:
        raise ValueError(f"unknown section(s) {', '.join(unknown)}; a recipe has {', '.join(sections)}")
    head = _section(data, "recipe", ("name", "version", "description"))
    for key in ("name", "version"):
        if not isinstance(head.get(key), str) or not head[key].strip():
            raise ValueError(f"[recipe] {key} must be a non-empty string")
    description = head.get("description", "")
    if not isinstance(description, str):
        raise ValueError("[recipe] description must be a string")

    pat = None
    if "pat" in data:
        s = _section(data, "pat", ("tests", "k", "min_lots", "iqr_zero", "quantile_method", "dynamic"))
        dynamic = None
        if "dynamic" in s:
            d = _section(s, "dynamic", ("scope", "n", "center", "min_parts"))
            dynamic = DynamicPatRule(
                scope=_choice(d, "pat.dynamic", "scope", "wafer", DYNAMIC_SCOPES),
                n=_number(d, "pat.dynamic", "n", 6.0),
                center=_choice(d, "pat.dynamic", "center", "mean", DYNAMIC_CENTERS),
                min_parts=_integer(d, "pat.dynamic", "min_parts", 30, 2),
            )
        pat = PatRule(
            tests=_tests(s, "pat"),
            k=_number(s, "pat", "k", 6.0),
            min_lots=_integer(s, "pat", "min_lots", 6, 1),
            iqr_zero=_choice(s, "pat", "iqr_zero", "skip", IQR_ZERO_POLICIES),
            quantile_method=_choice(s, "pat", "quantile_method", "linear", QUANTILE_METHODS),
            dynamic=dynamic,
        )

    gdbn = None
    if "gdbn" in data:
        s = _section(
            data,
            "gdbn",
            ("rule", "threshold", "min_failing", "radius", "adjacent_weight", "diagonal_weight", "edge"),
        )
        edge = s.get("edge", "none")
        if not (
            edge in ("none", "scale")
            or (isinstance(edge, int | float) and not isinstance(edge, bool) and edge > 0)
        ):
            raise ValueError(f'[gdbn] edge must be "none", "scale" or a positive factor, got {edge!r}')
        gdbn = GdbnRule(
            rule=_choice(s, "gdbn", "rule", "weighted", GDBN_RULES),
            threshold=_number(s, "gdbn", "threshold", 6.0),
            min_failing=_number(s, "gdbn", "min_failing", 3.0),
            radius=_integer(s, "gdbn", "radius", 1, 1),
            adjacent_weight=_number(s, "gdbn", "adjacent_weight", 2.0, positive=False),
            diagonal_weight=_number(s, "gdbn", "diagonal_weight", 1.0, positive=False),
            edge=edge if isinstance(edge, str) else float(edge),
        )

    nnr = None
    if "nnr" in data:
        s = _section(data, "nnr", ("tests", "radius", "k", "min_neighbours", "iqr_zero", "quantile_method"))
        nnr = NnrRule(
            tests=_tests(s, "nnr"),
            radius=_integer(s, "nnr", "radius", 2, 1),
            k=_number(s, "nnr", "k", 6.0),
            min_neighbours=_integer(s, "nnr", "min_neighbours", 3, 1),
            iqr_zero=_choice(s, "nnr", "iqr_zero", "skip", IQR_ZERO_POLICIES),
            quantile_method=_choice(s, "nnr", "quantile_method", "linear", QUANTILE_METHODS),
        )

    yield_limits = None
    if "yield_limits" in data:
        s = _section(data, "yield_limits", ("bin", "min_lots"))
        yield_limits = YieldLimitsRule(
            bin=_choice(s, "yield_limits", "bin", "soft", ("soft", "hard")),
            min_lots=_integer(s, "yield_limits", "min_lots", 6, 2),
        )

    s = _section(data, "bins", ("soft_bin", "hard_bin", "by_rule"))
    by_rule = s.get("by_rule", {})
    if not isinstance(by_rule, dict) or not set(by_rule) <= set(RULE_FAMILIES):
        raise ValueError(f"[bins.by_rule] keys must be among {', '.join(RULE_FAMILIES)}; got {by_rule!r}")
    bins = Bins(
        soft_bin=_bin_number(s.get("soft_bin", 90), "[bins] soft_bin"),
        hard_bin=_bin_number(s.get("hard_bin", 9), "[bins] hard_bin"),
        by_rule=tuple(sorted((k, _bin_number(v, f"[bins.by_rule] {k}")) for k, v in by_rule.items())),
    )
    if pat is None and gdbn is None and nnr is None and yield_limits is None:
        raise ValueError(
            "the recipe turns no rule on: give at least one of [pat], [gdbn], [nnr], [yield_limits]"
        )
    return Recipe(head["name"], head["version"], description, pat, gdbn, nnr, yield_limits, bins)


def loads_recipe(text: str) -> Recipe:
    """A recipe from TOML text; a bad recipe raises ValueError saying what was expected."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"recipe is not valid TOML: {exc}") from exc
    return _recipe_of(data)


def load_recipe(path: str | os.PathLike[str]) -> Recipe:
    """A recipe from a TOML file."""
    return loads_recipe(Path(path).read_text(encoding="utf-8"))


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
