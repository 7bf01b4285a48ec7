"""The screening rule interface: what a rule is, what it is given, what it gives back.

A rule is one class: the recipe table it reads (``name``), its parameters (a frozen
dataclass), how it reads and checks them (:meth:`ScreeningRule.parse`), how it judges
(:meth:`ScreeningRule.apply`: a context in, a table of reasons out) and how it describes
itself to a report or a dashboard (``title``, ``reason_codes``, ``kind``,
:meth:`ScreeningRule.describe`). :func:`silicio.yields.screen`, the recipe parser and the lot
report know rules only through this interface.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import polars as pl
import pyarrow as pa

from ..pat import (
    _PARAMETRIC_COLUMNS,
    PART_KEY,
    TEST_KEY,
    Measurements,
    _alarm,
    _check_alarmed,
    _counts,
    _frame,
    _tests_filter,
)

__all__ = [
    "LOTS",
    "PARTS",
    "REASON_COLUMNS",
    "REASON_SCHEMA",
    "RecipeTable",
    "SHORT_HISTORY",
    "ScreeningContext",
    "ScreeningRule",
    "empty_reasons",
]

#: Columns of a reasons table: the part, the reason code, the test, the value judged and its limits.
REASON_COLUMNS = (*PART_KEY, "rule", *TEST_KEY, "value", "limit_lo", "limit_hi")
REASON_SCHEMA = {
    "lot_id": pl.String, "wafer_id": pl.String, "part_index": pl.Int64, "rule": pl.String,
    "test_num": pl.UInt32, "test_name": pl.String, "pin": pl.UInt16, "value": pl.Float64,
    "limit_lo": pl.Float64, "limit_hi": pl.Float64,
}  # fmt: skip

#: ``judges`` of a rule that rejects parts (its reasons re-bin them).
PARTS = "parts"
#: ``judges`` of a rule that judges lots after the part rules re-binned (AEC-Q002 SYL / SBL).
LOTS = "lots"
#: What a rule may do when the lots screened are fewer than the history it needs.
SHORT_HISTORY = ("raise", "note")


def empty_reasons() -> pl.DataFrame:
    """A reasons table with no row."""
    return pl.DataFrame(schema=REASON_SCHEMA)


@dataclass
class ScreeningContext:
    """What a rule is given to judge, and where it leaves what it found besides reasons.

    ``tidy``: the tidy rows screened (:func:`silicio.stdf.tidy` columns). ``parts``: one final
    part per die with ``hard_bin, soft_bin, part_passed`` before screening. ``static_limits``:
    limits from the lot history the caller gave (AEC-Q001 static PAT), or None.
    ``history``: for each lot screened that has one, the lots of its baseline (AEC-Q001 static
    limits from earlier lots, :func:`silicio.yields.history.pat_baseline_lots`), all present in
    ``tidy``; a lot without one gets limits from the lots screened, said in a note.
    ``short_history``: "raise" (ValueError) or "note" (use the lots screened, say so) when a rule
    needs more lots of history than the data holds and no limits were given. ``rebinned``: the
    parts after the part rules re-binned them (``passed_after, new_hard_bin, new_soft_bin``);
    set for the rules that judge lots, None before.
    """

    tidy: pl.DataFrame
    parts: pl.DataFrame
    static_limits: pa.Table | pl.DataFrame | None = None
    short_history: str = "raise"
    history: Mapping[str, Sequence[str]] | None = None
    rebinned: pl.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    tables: dict[str, pa.Table] = field(default_factory=dict)
    _measured: dict[str, Measurements] = field(default_factory=dict, repr=False)
    _passing: dict[str, pl.DataFrame] = field(default_factory=dict, repr=False)

    def _judged(self, alarmed: str) -> pl.Expr:
        """True for the rows of :func:`~silicio.yields.pat.passing_measurements`."""
        _check_alarmed(alarmed)
        _frame(self.tidy, "the tidy table", _PARAMETRIC_COLUMNS)
        keep = _counts() & pl.col("part_passed").fill_null(False)
        return keep & ~_alarm(self.tidy) if alarmed == "exclude" else keep

    def measurements(self, alarmed: str) -> Measurements:
        """:func:`~silicio.yields.pat.passing_measurements` of ``tidy`` with their keys as integer
        codes (:class:`~silicio.yields.pat.Measurements`), the columns PAT and NNR read only,
        taken once per alarm policy: one filter of every row, shared by the rules."""
        if alarmed not in self._measured:
            columns = [c for c in (*PART_KEY, *TEST_KEY, "x", "y", "result", "lo_limit", "hi_limit")
                       if c in self.tidy.columns]  # fmt: skip
            self._measured[alarmed] = Measurements(
                self.tidy.lazy().filter(self._judged(alarmed)).select(columns).collect()
            )
        return self._measured[alarmed]

    def passing_measurements(self, alarmed: str) -> pl.DataFrame:
        """:func:`~silicio.yields.pat.passing_measurements` of ``tidy`` (every column), taken once
        per alarm policy."""
        if alarmed not in self._passing:
            self._passing[alarmed] = self.tidy.filter(self._judged(alarmed))
        return self._passing[alarmed]

    def alarmed_results(self, tests: str | Sequence[int] = "all") -> int:
        """:func:`~silicio.yields.pat.alarmed_results` of ``tidy`` (passing parts), counted in one
        pass without copying a row."""
        if isinstance(tests, str):
            _tests_filter(pl.DataFrame(), tests)  # the one check of ``tests``
        if "test_flg" not in self.tidy.columns:
            return 0
        counted = self._judged("include") & _alarm(self.tidy)
        if not isinstance(tests, str):
            counted &= pl.col("test_num").is_in([int(t) for t in tests])
        return int(self.tidy.select(counted.sum()).item())

    def note(self, text: str) -> None:
        """Adds a line to the screening's notes (what was not screened, and why)."""
        self.notes.append(text)

    def keep(self, name: str, table: pa.Table | pl.DataFrame) -> None:
        """Keeps a table of the screening (limits used, lot flags) under ``name`` in the result."""
        if name in self.tables:
            raise ValueError(f"two screening rules keep a table named {name!r}")
        self.tables[name] = table.to_arrow() if isinstance(table, pl.DataFrame) else table


class ScreeningRule(ABC):
    """A screening rule: parameters read from its recipe table, reasons from the data.

    A subclass sets the class attributes and implements :meth:`parse` and :meth:`apply`;
    registering it under its ``name`` in the entry-point group ``silicio.screening_rules``
    makes recipes, :func:`silicio.yields.screen` and the lot report use it.
    """

    #: The recipe's table for this rule ("pat" reads ``[pat]``); also the rule's registry name.
    name: ClassVar[str]
    #: A short human title for reports ("Static and dynamic PAT (AEC-Q001)").
    title: ClassVar[str]
    #: The reason codes the rule emits (``rule`` column of the reasons, or of its lot flags), each
    #: with what it means.
    reason_codes: ClassVar[Mapping[str, str]]
    #: The family a dashboard counts the rule under, e.g. "pat" for the PAT share of a lot.
    kind: ClassVar[str]
    #: The dataclass of the rule's parameters; its defaults are those of the standard it cites.
    params_type: ClassVar[type]
    #: PARTS: rejects parts (re-binned); LOTS: judges lots after re-binning, keeps its verdicts
    #: as tables (``context.keep``) and returns no reasons.
    judges: ClassVar[str] = PARTS
    #: A part rejected by several rules gets the soft bin of the rule with the lowest precedence.
    precedence: ClassVar[int] = 100

    @abstractmethod
    def parse(self, table: Mapping[str, Any], source: str) -> Any:
        """The parameters of the rule's recipe table ``table`` (read from ``source``, the recipe
        file); a bad value raises ValueError naming ``source``, the table and the key."""

    @abstractmethod
    def apply(self, context: ScreeningContext, params: Any) -> pl.DataFrame | pa.Table:
        """The reasons the rule finds in ``context`` with ``params``: one row per (part, reason
        code, test), the columns of :data:`REASON_COLUMNS`."""

    def to_table(self, params: Any) -> dict[str, Any]:
        """The parameters as the recipe's TOML table holds them (None left out); :meth:`parse`
        reads it back to equal parameters, and the recipe's SHA-256 is taken over it."""
        return _plain(params)

    def describe(self, params: Any) -> str:
        """One line for a report: the parameters the rule runs with."""
        return ", ".join(f"{k} {_flat(v)}" for k, v in self.to_table(params).items())

    def __repr__(self) -> str:
        return f"<screening rule {self.name!r}: {type(self).__module__}.{type(self).__qualname__}>"


def _plain(params: Any) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        if value is None:
            continue
        if dataclasses.is_dataclass(value):
            value = _plain(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, int) and not isinstance(value, bool) and "float" in str(f.type):
            value = float(value)  # 6 and 6.0 are the same parameter: one hash
        out[f.name] = value
    return out


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k} {_flat(v)}" for k, v in value.items()) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


class RecipeTable:
    """One table of a recipe with the checks parameters need; every error names the recipe
    file, the table and the key, and says what was expected."""

    def __init__(self, table: Any, where: str, source: str):
        if not isinstance(table, Mapping):
            raise ValueError(f"{source}: [{where}] must be a table of parameters")
        self.table, self.where, self.source = table, where, source

    def error(self, key: str, expected: str) -> ValueError:
        """A ValueError: ``source: [table] key <expected>, got <value>``."""
        got = f", got {self.table[key]!r}" if key in self.table else ""
        return ValueError(f"{self.source}: [{self.where}] {key} {expected}{got}")

    def only(self, *allowed: str) -> RecipeTable:
        """Itself, after checking it has no key beside ``allowed``."""
        unknown = sorted(set(self.table) - set(allowed))
        if unknown:
            raise ValueError(
                f"{self.source}: [{self.where}] has unknown key(s) {', '.join(unknown)}; "
                f"expected some of {', '.join(allowed)}"
            )
        return self

    def sub(self, key: str) -> RecipeTable | None:
        """The sub-table ``[where.key]``, or None when the recipe leaves it out."""
        if key not in self.table:
            return None
        return RecipeTable(self.table[key], f"{self.where}.{key}", self.source)

    def _get(self, key: str, default: Any) -> Any:
        if key not in self.table and default is None:
            raise ValueError(f"{self.source}: [{self.where}] {key} is required")
        return self.table.get(key, default)

    def number(
        self, key: str, default: float | None, *, positive: bool = True, minimum: float | None = None
    ) -> float:
        """A finite number: > 0 unless ``positive=False``, >= ``minimum`` when given (instead of
        > 0); ``default`` None: the key is required."""
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.error(key, "must be a number")
        if minimum is not None:
            if value < minimum:
                raise self.error(key, f"must be >= {minimum:g}")
        elif positive and value <= 0:
            raise self.error(key, "must be > 0")
        return float(value)

    def per_test_numbers(self, key: str) -> tuple[tuple[int, float], ...]:
        """A sub-table of test number -> number > 0 (``[where.key]`` with ``1080 = 0.5e-3``),
        as (test_num, value) pairs sorted by test; empty when the recipe leaves it out."""
        if key not in self.table:
            return ()
        table = self.table[key]
        if not isinstance(table, Mapping):
            raise self.error(key, "must be a table of test number = value")
        pairs = []
        for test, value in table.items():
            if not (isinstance(test, str) and test.isdigit()):
                raise ValueError(f"{self.source}: [{self.where}.{key}] key {test!r} must be a test number")
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (math.isfinite(value) and value > 0)
            ):
                raise ValueError(
                    f"{self.source}: [{self.where}.{key}] test {test} must have a number > 0, got {value!r}"
                )
            pairs.append((int(test), float(value)))
        return tuple(sorted(pairs))

    def integer(self, key: str, default: int | None, minimum: int) -> int:
        """An integer >= ``minimum``; ``default`` None: the key is required."""
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(key, f"must be an integer >= {minimum}")
        return value

    def choice(self, key: str, default: str | None, choices: tuple[str, ...]) -> str:
        """One of ``choices``; ``default`` None: the key is required."""
        value = self._get(key, default)
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}")
        return value

    def tests(self, key: str = "tests") -> str | tuple[int, ...]:
        """``"all"`` or a non-empty list of test numbers."""
        value = self.table.get(key, "all")
        if value == "all":
            return "all"
        if (
            isinstance(value, list)
            and value
            and all(isinstance(t, int) and not isinstance(t, bool) for t in value)
        ):
            return tuple(value)
        raise self.error(key, 'must be "all" or a non-empty list of test numbers')
