"""Tester-to-tester, site-to-site and file-to-file correlation: the same units tested twice.

Side ``a`` is the reference (the golden tester, the first file), side ``b`` the one compared
with it. A *correlation unit* is a part both sides tested, matched on its die coordinates
(``wafer_id, x, y``) or its ``part_id``; each side's final result of a unit counts (its last
insertion: a retest supersedes the first pass). A test is matched on its number, type and pin,
and by default its name too.

Per test: :mod:`silicio.correlate.agreement` (bias, Bland-Altman limits, slope, R^2, paired t)
and the units whose verdict on the test flips; per part: the units whose pass / fail changes.
A :class:`Tolerance` says which biases are too large; those tests make the report's list of
disagreeing tests.

For a study with repeats (parts x testers or sites x trials), the measurement system answer is
gage R&R: :func:`ate_gage_study` hands the results to :func:`silicio.metrology.gage_rr_anova`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from silicio.metrology import gage_rr_anova
from silicio.metrology.msa import GageRR
from silicio.yields.yield_ import as_frame, check_choice, with_test_order

from .agreement import AGREEMENT_COLUMNS, agreement_of_columns, agreement_of_groups

__all__ = [
    "CorrelationReport",
    "Tolerance",
    "correlate",
    "correlate_tables",
    "correlate_within",
    "label_sides",
    "ate_gage_study",
    "per_test_agreement",
    "unit_key",
]

#: How units are matched: die coordinates, part id, or whichever both sides have ("auto").
UNIT_KEYS = {"xy": ("wafer_id", "x", "y"), "part_id": ("part_id",)}
#: How tests are matched between the sides.
TEST_MATCH = {
    "number_and_name": ("test_type", "test_num", "test_name", "pin"),
    "number": ("test_type", "test_num", "pin"),
}


@dataclass(frozen=True)
class Tolerance:
    """The largest |bias| a test may show: ``absolute`` (in the test's units), ``relative`` (% of
    |mean| of side a) or ``limits`` (% of the limit window hi - lo; a test without both limits
    cannot be judged and is said so)."""

    value: float
    kind: str = "absolute"

    def __post_init__(self) -> None:
        check_choice("tolerance kind", self.kind, ("absolute", "relative", "limits"))
        if not (math.isfinite(self.value) and self.value >= 0):
            raise ValueError(f"a tolerance is a number >= 0, got {self.value!r}")

    @classmethod
    def parse(cls, text: str) -> Tolerance:
        """``0.002`` (absolute), ``2%`` (relative to side a's mean), ``5%limits`` (of the limit window)."""
        match = re.fullmatch(r"\s*([0-9.eE+-]+)\s*(%\s*(limits?)?)?\s*", text)
        try:
            value = float(match.group(1)) if match else math.nan
        except ValueError:
            value = math.nan
        if not match or not math.isfinite(value):
            raise ValueError(
                f"tolerance {text!r}: expected a number (absolute, e.g. 0.002), a percentage of the mean "
                "(2%) or of the limit window (5%limits)"
            )
        if match.group(3):
            return cls(value, "limits")
        return cls(value, "relative" if match.group(2) else "absolute")

    def describe(self) -> str:
        return {"absolute": f"|bias| <= {self.value:g}", "relative": f"|bias| <= {self.value:g} % of |mean a|",
                "limits": f"|bias| <= {self.value:g} % of the limit window"}[self.kind]  # fmt: skip

    def allowed(self) -> pl.Expr:
        """The allowed |bias| of each test row (null where it cannot be judged)."""
        if self.kind == "absolute":
            return pl.lit(self.value, pl.Float64)
        if self.kind == "relative":
            return self.value / 100.0 * pl.col("mean_a").abs()
        return self.value / 100.0 * (pl.col("hi_limit") - pl.col("lo_limit"))


@dataclass(frozen=True)
class CorrelationReport:
    """Side a against side b: see the module notes.

    ``tests``: one row per test both sides ran on matched units: the test keys, ``units``,
    ``lo_limit``, ``hi_limit`` (side a's), the :data:`~silicio.correlate.agreement.AGREEMENT_COLUMNS`
    (flips: units whose verdict on the test differs), ``allowed_bias`` and ``disagrees`` (with a
    tolerance). ``disagreeing``: the tests whose |bias| exceeds the tolerance, worst (largest
    |bias| / allowed) first. ``part_flips``: matched units whose part pass / fail differs.
    """

    unit_key: tuple[str, ...]
    units_a: int
    units_b: int
    units_matched: int
    part_verdicts: int
    part_flips: int
    tests: pa.Table
    disagreeing: pa.Table
    tolerance: Tolerance | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def part_flip_share(self) -> float | None:
        return self.part_flips / self.part_verdicts if self.part_verdicts else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit_key": list(self.unit_key),
            "units_a": self.units_a,
            "units_b": self.units_b,
            "units_matched": self.units_matched,
            "part_verdicts": self.part_verdicts,
            "part_flips": self.part_flips,
            "part_flip_share": self.part_flip_share,
            "tolerance": None
            if self.tolerance is None
            else {"value": self.tolerance.value, "kind": self.tolerance.kind},
            "tests": _json_rows(self.tests),
            "disagreeing": _json_rows(self.disagreeing),
            "notes": list(self.notes),
        }


def _json_rows(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
            for row in table.to_pylist()]  # fmt: skip


def _columns(table: pa.Table | pl.DataFrame, needs: Sequence[str], what: str) -> pl.DataFrame:
    """Only the columns ``needs`` of ``table`` as a polars frame: a tidy table's other columns are
    never converted."""
    if isinstance(table, pa.Table):
        missing = [c for c in needs if c not in table.column_names]
        if missing:
            raise ValueError(f"{what} needs columns {list(needs)}; missing {missing}")
        return pl.from_arrow(table.select(list(needs)))
    return as_frame(table, needs, what).select(needs)


def _test_id(test_key: Sequence[str]) -> pl.Expr:
    """One 64-bit number per test: the hash of its keys, cast to one type whatever each side's
    table made of them (numbers as 64-bit integers, text as text)."""
    cast = {"test_num": pl.Int64, "pin": pl.Int64, "test_type": pl.String, "test_name": pl.String}
    return pl.struct([pl.col(c).cast(cast[c]) for c in test_key]).hash(seed=0).alias("_test")


def _cells(tidy: pl.DataFrame, test_ids: np.ndarray, units: np.ndarray) -> tuple[np.ndarray, ...]:
    """(cell, result, verdict) of the tidy rows of matched units and known tests: cell = unit
    number x tests + test number (the test's place in the sorted ``test_ids``), verdict as int8
    (1 passed, 0 failed, -1 none)."""
    tests = test_ids.size
    row_ids = tidy.get_column("_test").to_numpy()
    k = np.minimum(np.searchsorted(test_ids, row_ids), tests - 1)
    part = tidy.get_column("part_index").fill_null(-1).to_numpy().astype(np.int64, copy=False)
    top = max(int(part.max(initial=-1)), int(units.max(initial=-1)))
    if top < 4 * (part.size + units.size):  # part numbers of one file: a lookup array
        lookup = np.full(top + 2, -1, dtype=np.int64)
        lookup[units] = np.arange(units.size)
        unit = lookup[part]  # -1 (the lookup's last slot) for a part outside the matched units
    elif units.size:  # sparse part numbers (files of a lot numbered apart): a sorted search
        order = np.argsort(units, kind="stable")
        ranked = units[order]
        at = np.minimum(np.searchsorted(ranked, part), units.size - 1)
        unit = np.where(ranked[at] == part, order[at], -1)
    else:
        unit = np.full(part.size, -1, dtype=np.int64)
    keep = (unit >= 0) & (test_ids[k] == row_ids)  # a test side a does not have is left out
    cell = unit[keep] * tests + k[keep]
    result = tidy.get_column("result").cast(pl.Float64).to_numpy()[keep]  # null reads as NaN
    verdict = tidy.get_column("passed").cast(pl.Int8).fill_null(-1).to_numpy()[keep]
    return cell, result, verdict


def _paired_statistics(cells_a, cells_b, units: int, tests: int) -> pa.Table:
    """Pair each cell (unit, test) of side a with the same cell of side b, then the agreement of
    each test. A cell read twice on a side (a test looped within one insertion) counts its last
    reading. Dense cells are paired by scattering side b into an array of every cell; sparse ones
    (many tests, few units each) by a sorted search, without that array."""
    cell_a, a, verdict_a = cells_a
    cell_b, b, verdict_b = cells_b
    if units * tests <= 4 * max(cell_a.size, cell_b.size, 1):
        # Every cell in one array per side, units by tests: scattering keeps the last reading.
        columns = []
        for cell, values, verdict in ((cell_a, a, verdict_a), (cell_b, b, verdict_b)):
            readings = np.full(units * tests, np.nan)
            readings[cell] = values
            verdicts = np.full(units * tests, -1, dtype=np.int8)
            verdicts[cell] = verdict
            columns.append((readings.reshape(units, tests), verdicts.reshape(units, tests)))
        (a_cells, a_verdicts), (b_cells, b_verdicts) = columns
        return agreement_of_columns(a_cells, b_cells, a_verdicts, b_verdicts)
    order = np.argsort(cell_b, kind="stable")
    sorted_b = cell_b[order]
    found = np.searchsorted(sorted_b, cell_a, side="right") - 1  # the last of repeated cells
    hit = (found >= 0) & (sorted_b[np.maximum(found, 0)] == cell_a)
    where = np.where(hit, order[np.maximum(found, 0)], -1)
    order_a = np.argsort(cell_a, kind="stable")
    sorted_a = cell_a[order_a]
    last = np.ones(cell_a.size, dtype=bool)
    last[order_a[:-1][sorted_a[:-1] == sorted_a[1:]]] = False
    paired = (where >= 0) & last
    where = where[paired]
    return agreement_of_groups(
        cell_a[paired] % tests, a[paired], b[where], tests, verdict_a[paired], verdict_b[where]
    )


def unit_key(parts_a: pl.DataFrame, parts_b: pl.DataFrame, on: str = "auto") -> tuple[str, ...]:
    """The columns that match units: ``on`` "xy" or "part_id"; "auto" takes die coordinates when
    every part of both sides has them, else the part id when every part has one."""
    check_choice("on", on, ("auto", *UNIT_KEYS))
    if on != "auto":
        return UNIT_KEYS[on]
    for name, columns in (("xy", ("x", "y")), ("part_id", ("part_id",))):
        if all(parts.height and parts.select(pl.col(list(columns)).is_null().any()).row(0) == (False,) * len(columns)
               for parts in (parts_a, parts_b)):  # fmt: skip
            return UNIT_KEYS[name]
    raise ValueError(
        "correlate: the parts cannot be matched: not every part has die coordinates (X_COORD / Y_COORD) "
        "nor a PART_ID on both sides; name the key with on='xy' or on='part_id'"
    )


def _final_units(parts: pl.DataFrame, key: Sequence[str], side: str, notes: list[str]) -> pl.DataFrame:
    """Each unit's last insertion, one row per unit; a key repeated by different dies is refused
    (it would pair the wrong parts). Parts without the key are left out, and said so."""
    final = parts.filter(pl.col("is_last_test")) if "is_last_test" in parts.columns else parts
    keyed = final.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in key if c != "wafer_id"))
    if keyed.height < final.height:
        notes.append(f"side {side}: {final.height - keyed.height} of {final.height} parts have no "
                     f"{'/'.join(c for c in key if c != 'wafer_id')} and are left out")  # fmt: skip
    final = keyed
    repeated = final.group_by(list(key)).agg(pl.len().alias("n")).filter(pl.col("n") > 1)
    if repeated.height:
        example = repeated.row(0, named=True)
        raise ValueError(
            f"correlate: side {side} has {repeated.height} units whose final result is not unique on "
            f"{list(key)} (e.g. { ({k: example[k] for k in key}) }, {example['n']} final parts): these columns "
            "do not identify a unit there; match on the other key (on='xy' / on='part_id')"
        )
    return final


def per_test_agreement(
    tidy_a: pa.Table | pl.DataFrame,
    tidy_b: pa.Table | pl.DataFrame,
    unit_a: np.ndarray,
    unit_b: np.ndarray,
    match: str = "number_and_name",
    tolerance: Tolerance | None = None,
    notes: list[str] | None = None,
    what: str = "correlate",
) -> tuple[pa.Table, pa.Table]:
    """The ``tests`` and ``disagreeing`` tables of :class:`CorrelationReport`: the results of
    ``tidy_a`` rows of parts ``unit_a[i]`` paired with those of ``tidy_b`` rows of parts
    ``unit_b[i]`` (``part_index`` values, one pair of parts per unit), test by test."""
    check_choice("match", match, tuple(TEST_MATCH))
    notes = [] if notes is None else notes
    unit_a = np.asarray(unit_a, dtype=np.int64)
    unit_b = np.asarray(unit_b, dtype=np.int64)
    test_key = list(TEST_MATCH[match])
    shown = list(dict.fromkeys([*test_key, "test_name"]))
    ta = _columns(
        tidy_a,
        [*shown, "part_index", "result", "passed", "lo_limit", "hi_limit", "units"],
        f"{what} (tidy a)",
    )
    tb = _columns(tidy_b, [*test_key, "part_index", "result", "passed"], f"{what} (tidy b)")
    # A test is one 64-bit hash of its keys on both sides: the pairing of millions of results then
    # works on integers, never on the test name's text.
    ta, tb = ta.with_columns(_test_id(test_key)), tb.with_columns(_test_id(test_key))
    labels = (
        ta.group_by("_test")
        .agg(*(pl.col(c).first() for c in shown),
             *(pl.col(c).drop_nulls().first() for c in ("units", "lo_limit", "hi_limit")))
        .sort("_test")
    )  # fmt: skip
    test_ids = labels.get_column("_test").to_numpy()
    if test_ids.size and unit_a.size:
        stats = _paired_statistics(
            _cells(ta, test_ids, unit_a), _cells(tb, test_ids, unit_b), unit_a.size, test_ids.size
        )
    else:
        stats = agreement_of_groups(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), test_ids.size)
    tests = pl.concat([labels.drop("_test"), pl.from_arrow(stats)], how="horizontal")
    only_b = tb.select(pl.col("_test").unique()).filter(~pl.col("_test").is_in(test_ids.tolist())).height
    unpaired = tests.filter(pl.col("n") == 0).height
    if only_b or unpaired:
        notes.append(f"tests left out: {unpaired} of side a without a reading of the same test on side b, "
                     f"{only_b} of side b that side a does not have (matched on {', '.join(test_key)})")  # fmt: skip
    tests = tests.filter(pl.col("n") > 0)
    order = [*shown, "units", "lo_limit", "hi_limit", *AGREEMENT_COLUMNS]
    if tolerance is not None:
        allowed = tolerance.allowed()
        tests = tests.with_columns(allowed.alias("allowed_bias")).with_columns(
            (pl.col("bias").abs() > pl.col("allowed_bias")).alias("disagrees")
        )
        order += ["allowed_bias", "disagrees"]
        unjudged = tests.filter(pl.col("disagrees").is_null()).height
        if unjudged:
            notes.append(f"{unjudged} tests could not be judged against {tolerance.describe()} "
                         "(no limit window, no mean, or fewer than one pair)")  # fmt: skip
        disagreeing = (
            tests.filter(pl.col("disagrees").fill_null(False))
            .with_columns((pl.col("bias").abs() / pl.col("allowed_bias")).alias("_excess"))
            .sort("_excess", descending=True, nulls_last=False)
            .drop("_excess")
        )
    else:
        disagreeing = tests.clear()
    tests = tests.select(order).sort(
        [c for c in ("test_num", "test_type", "pin") if c in order], nulls_last=True
    )
    return tests.to_arrow(), disagreeing.select(order).to_arrow()


def correlate_tables(
    parts_a: pa.Table | pl.DataFrame,
    tidy_a: pa.Table | pl.DataFrame,
    parts_b: pa.Table | pl.DataFrame,
    tidy_b: pa.Table | pl.DataFrame,
    *,
    on: str = "auto",
    match: str = "number_and_name",
    tolerance: Tolerance | None = None,
) -> CorrelationReport:
    """Correlate side b with side a from their :func:`silicio.stdf.parts.parts` and
    :func:`silicio.stdf.tidy` tables (one file each, or each side's files concatenated with
    ``is_last_test`` consolidated). See the module notes and :class:`CorrelationReport`."""
    check_choice("match", match, tuple(TEST_MATCH))
    needs_parts = ["x", "y", "wafer_id", "part_id", "passed", "is_last_test", "part_index"]
    pa_, pb = (
        as_frame(parts_a, needs_parts, "correlate (parts a)"),
        as_frame(parts_b, needs_parts, "correlate (parts b)"),
    )
    key = unit_key(pa_, pb, on)
    notes: list[str] = []
    units_a, units_b = _final_units(pa_, key, "a", notes), _final_units(pb, key, "b", notes)
    matched = units_a.select(*key, pl.col("passed").alias("passed_a"), pl.col("part_index").alias("_index_a")).join(
        units_b.select(*key, pl.col("passed").alias("passed_b"), pl.col("part_index").alias("_index_b")),
        on=list(key), how="inner", nulls_equal=True,
    )  # fmt: skip
    both = matched.filter(pl.col("passed_a").is_not_null() & pl.col("passed_b").is_not_null())
    part_flips = both.filter(pl.col("passed_a") != pl.col("passed_b")).height

    unit_a, unit_b = (matched.get_column(c).to_numpy() for c in ("_index_a", "_index_b"))
    tests, disagreeing = per_test_agreement(tidy_a, tidy_b, unit_a, unit_b, match, tolerance, notes)
    if matched.height == 0:
        notes.append(f"no unit is in both sides (matched on {list(key)})")
    return CorrelationReport(
        unit_key=key,
        units_a=units_a.height,
        units_b=units_b.height,
        units_matched=matched.height,
        part_verdicts=both.height,
        part_flips=part_flips,
        tests=tests,
        disagreeing=disagreeing,
        tolerance=tolerance,
        notes=tuple(notes),
    )


def correlate_within(
    parts: pa.Table | pl.DataFrame,
    tidy: pa.Table | pl.DataFrame,
    by: str,
    a: Any,
    b: Any,
    *,
    on: str = "auto",
    match: str = "number_and_name",
    tolerance: Tolerance | None = None,
) -> CorrelationReport:
    """Site-to-site (``by="site"``) or tester-to-tester (``by="tester"``) correlation inside one
    table: side a is the insertions whose ``by`` column is ``a``, side b those where it is ``b``;
    each unit's last insertion *within its side* counts. ``parts`` / ``tidy``: one file, or the
    files of a lot with ``part_index`` unique across them. This is how a correlation lot that
    went through every site (or two testers) is read."""
    frame = as_frame(parts, [by, "part_index", "die_key"], "correlate_within (parts)")
    results = as_frame(tidy, ["part_index"], "correlate_within (tidy)")
    sides = []
    for value in (a, b):
        side = frame.filter(pl.col(by) == value).drop("is_first_test", "is_last_test", strict=False)
        if side.height == 0:
            present = ", ".join(map(str, frame.get_column(by).unique().sort().to_list()))
            raise ValueError(f"correlate_within: no part has {by} = {value!r}; the {by} values are {present}")
        side = with_test_order(side, None)
        sides += [side, results.filter(pl.col("part_index").is_in(side.get_column("part_index").implode()))]
    return correlate_tables(*sides, on=on, match=match, tolerance=tolerance)


def correlate(
    tables_a: Mapping[str, pa.Table],
    tables_b: Mapping[str, pa.Table],
    *,
    on: str = "auto",
    match: str = "number_and_name",
    tolerance: Tolerance | None = None,
) -> CorrelationReport:
    """Correlate two STDF files as :func:`silicio.stdf.read` returns them (file a the reference)."""
    from silicio.stdf import parts, tidy

    return correlate_tables(parts(tables_a), tidy(tables_a), parts(tables_b), tidy(tables_b),
                            on=on, match=match, tolerance=tolerance)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Gage R&R of the tester: parts x testers (or sites) x repeats


def label_sides(sides: Mapping[str, pa.Table | pl.DataFrame], column: str = "tester") -> pl.DataFrame:
    """The tidy tables of several testers (or files) stacked, each row labelled with its side's
    name in ``column``: the input of :func:`ate_gage_study` across testers."""
    frames = [
        as_frame(t, [], "label_sides").with_columns(pl.lit(name).alias(column)) for name, t in sides.items()
    ]
    if not frames:
        raise ValueError("label_sides needs at least one table")
    return pl.concat(frames, how="vertical_relaxed")


def ate_gage_study(
    tidy: pa.Table | pl.DataFrame,
    test_num: int,
    *,
    appraiser: str = "tester",
    unit: Sequence[str] = ("part_id",),
    tolerance: float | str | None = "limits",
    pin: int | None = None,
) -> GageRR:
    """Gage R&R of one test on ATE data: every part (``unit`` columns) tested the same number of
    times on every tester or site (``appraiser`` column: "tester" from :func:`label_sides`, or
    "site"); each execution is a trial, retests included. The study itself is
    :func:`silicio.metrology.gage_rr_anova` (AIAG MSA 4th ed.); ``tolerance`` "limits" takes the
    test's limit window (hi - lo) when both limits are there, a number is the tolerance itself,
    None gives no %tolerance."""
    frame = as_frame(
        tidy, [*unit, appraiser, "test_num", "pin", "result", "lo_limit", "hi_limit"], "ate_gage_study"
    )
    rows = frame.filter(pl.col("test_num") == test_num)
    if pin is not None:
        rows = rows.filter(pl.col("pin") == pin)
    elif rows.get_column("pin").drop_nulls().n_unique() > 1:
        raise ValueError(f"ate_gage_study: test {test_num} is measured on several pins; choose one with pin=")
    if rows.height == 0:
        raise ValueError(f"ate_gage_study: no result of test {test_num} in the table")
    missing = rows.filter(pl.col("result").is_null() | pl.any_horizontal(pl.col(c).is_null() for c in unit))
    if missing.height:
        raise ValueError(
            f"ate_gage_study: {missing.height} executions of test {test_num} have no result or no "
            f"{'/'.join(unit)}; a gage study needs every trial"
        )
    if tolerance == "limits":
        lo, hi = rows.get_column("lo_limit").drop_nulls(), rows.get_column("hi_limit").drop_nulls()
        tolerance = float(hi[0] - lo[0]) if lo.len() and hi.len() and hi[0] > lo[0] else None
    elif isinstance(tolerance, str):
        raise ValueError(f"tolerance must be 'limits', a number or None; got {tolerance!r}")
    study = rows.select(
        pl.concat_str([pl.col(c).cast(pl.String) for c in unit], separator="/").alias("part"),
        pl.col(appraiser).cast(pl.String).alias("appraiser"),
        pl.col("result").alias("value"),
    )
    return gage_rr_anova(study.to_arrow(), tolerance=tolerance)
