"""The lot report: yield, bins, bin summary reconciliation, wafer maps, per-site yield, retest
recovery and bin switching, test time and units per hour, worst tests with their distributions,
screening (and a map of the dies it removed, by rule), disposition (why the lot is held) and,
when given, the lot against its history, as plain tables (:func:`lot_report`), one
self-contained HTML file (:func:`render_html`) and a PDF (:func:`render_pdf`).

The report composes the analyses of :mod:`silicio.yields` (:mod:`silicio.yields.lot_analysis`
for the product engineer's sections); it computes nothing of its own beyond choosing rows (the
worst tests), counting the screening's reasons and pivoting tables for display. Its input is a lake
(:func:`silicio.lake.open`) or the tables of STDF files (:func:`silicio.stdf.read`), one file or
a list of files in the order they were tested (first pass, then retests): dies are matched on
``die_key`` across the files, so first-pass yield is each die's first test and final yield its
last, and each file's tester bin summary (HBR / SBR) is reconciled with that file's parts.

The HTML has no external assets: inline CSS, wafer maps as inline SVG (one rectangle per die),
and every number of the report in a JSON block (``<script type="application/json"
id="silicio-lot-report">``, :func:`report_data`) beside the visible tables, whose numeric
cells carry their exact value in ``data-value``.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from silicio.i18n import C_, DEFAULT_LANGUAGE, LANGUAGES, N_, translation
from silicio.i18n.computed import translate_computed
from silicio.i18n.formats import format_number

from .bins import bin_counts, bin_definitions, bin_pareto, reconcile_bins
from .disposition import (
    DEFAULT_RECIPE,
    SCREENED_STAGE,
    Disposition,
    Hold,
    HoldRules,
    LakeScreening,
    default_recipe,
    history_settings,
    judge,
    lot_quartiles,
    pat_history_of,
    screened_products,
)
from .history import Baseline
from .lot_analysis import (
    ResultDistributions,
    SiteYieldTest,
    Throughput,
    bin_switching,
    result_distributions,
    retest_recovery,
    screened_die_map,
    site_yield_test,
    throughput,
)
from .parametric import per_test_statistics
from .pat import static_pat_limits
from .recipe import Recipe, load_recipe
from .rules import LOTS, registered_rules
from .screening import ScreeningResult, screen
from .wafermap import (
    DEFAULT_ORIENTATION,
    MapDrawing,
    Orientation,
    WaferMap,
    bin_colours,
    bin_map,
    describe_map,
    draw_on_axes,
    legend_handles,
    map_json,
    map_svg,
    orientation_of,
    stacked_fail_map,
)
from .wafermap.drawing import (
    NO_VALUE_COLOUR,
    SCREEN_FAILED_COLOUR,
    SCREEN_KEPT_COLOUR,
    LegendEntry,
    rule_colours,
)
from .yield_ import consolidate_retests_tidy, with_test_order, yield_by

__all__ = [
    "DEFAULT_RECIPE",
    "SpatialSection",
    "HISTORY_COLUMNS",
    "LotReport",
    "ScreeningSummary",
    "lot_report",
    "pdf_layout",
    "render_html",
    "render_pdf",
    "report_data",
]

#: Rows of a table on one PDF page; longer tables continue on the next page.
PDF_TABLE_ROWS = 40
#: Wafer bin maps on one PDF page (2 x 3).
PDF_MAPS_PER_PAGE = 6
#: How many tests the "worst tests" tables keep.
WORST_TESTS = 15

_FILE = "__file"
#: The file's number in test order: what tells the lot's files apart for the test times.
_FILE_NUMBER = "__file_number"
#: Columns a lot history passed to :func:`lot_report` must have: the lot, its final yield and
#: the statistical yield limit (AEC-Q002 SYL1) in force for it (null where none was set).
HISTORY_COLUMNS = ("lot", "yield", "syl")
_JSON_ID = "silicio-lot-report"


@dataclass(frozen=True)
class ScreeningSummary:
    """What :func:`silicio.yields.screen` found in the lot, reduced to counts.

    ``rules``: the recipe's rules in precedence order: rule (its recipe table), title,
    reason_codes, parameters (the rule's own one-line description), parts (distinct parts its
    reason codes rejected; null for a rule that judges lots).
    ``by_rule``: rule (reason code), parts (distinct parts it rejected), reasons (part-test rows).
    ``by_test``: rule, test_num, test_name, pin, parts; the tests that rejected most parts first.
    ``yield_summary``: the screening's per-lot yield before and after.
    ``dies``: one row per final die (:func:`silicio.yields.lot_analysis.screened_die_map`):
    lot_id, wafer_id, part_index, x, y, bins, passed (before screening), ``rule`` (the first
    reason code in the recipe's precedence that removed the die; null when kept) and ``rules``.
    ``precedence``: the recipe's reason codes in precedence order.
    """

    recipe: dict[str, str]
    parts: int
    screened_parts: int
    yield_before: float
    yield_after: float
    rules: pa.Table
    by_rule: pa.Table
    by_test: pa.Table
    yield_summary: pa.Table
    notes: tuple[str, ...]
    dies: pa.Table | None = None
    precedence: tuple[str, ...] = ()


@dataclass(frozen=True)
class SpatialSection:
    """The lot's spatial yield, computed by :mod:`silicio.spatial` (which builds on this module)
    and handed to :func:`lot_report`.

    ``wafers``: per wafer its map signature (WM-811K class), confidence, dies, wafer / centre /
    middle / edge yield, largest fail cluster (dies) and ``stored`` (as stored in the catalog, or
    classified for the report). ``defect_yield``: per inline inspection step and defect class the
    measures of :func:`silicio.spatial.defects.defect_yield` (None: the lot was not inspected).
    ``defects``: the inspections' defects placed on the lot's dies (wafer_id, x, y, step_id,
    classname). ``notes``: what was assumed.
    """

    wafers: pa.Table
    defect_yield: pa.Table | None = None
    defects: pa.Table | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LotReport:
    """The numbers of one lot. Tables are pyarrow; see :func:`lot_report` for each one's source."""

    lot_id: str | None
    stage: str | None
    files: pa.Table
    lot_yield: dict[str, Any]
    wafer_yield: pa.Table
    hard_bins: pa.Table
    soft_bins: pa.Table
    hard_pareto: pa.Table
    soft_pareto: pa.Table
    reconciliation: pa.Table
    stacked_map: WaferMap | None
    wafer_maps: tuple[WaferMap, ...]
    worst_cpk: pa.Table
    worst_fails: pa.Table
    screening: ScreeningSummary | None
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: The lot's holds at its stage (:mod:`silicio.yields.disposition`; empty: not held); None
    #: when not judged (a report of STDF files, without the lake's other lots).
    holds: tuple[Hold, ...] | None = None
    #: First-pass yield per test site and whether the sites differ (None without parts).
    site_yield: SiteYieldTest | None = None
    #: Per first-pass hard bin: dies failing first pass, retested, recovered (empty: no retests).
    retest_recovery: pa.Table | None = None
    #: Dies per (first-pass hard bin, final hard bin), long form; :func:`switching_matrix` pivots it.
    bin_switching: pa.Table | None = None
    #: Test time per site and units per hour, tester-bound and wall-clock.
    throughput: Throughput | None = None
    #: Histogram and box-plot numbers of the final results of the worst tests, with their limits.
    distributions: ResultDistributions | None = None
    #: The lot history given to :func:`lot_report` (lot, yield, syl, this_lot); None when not given.
    history: pa.Table | None = None
    #: How the maps are drawn: the files' STDF WCR (which way X and Y grow, the flat).
    orientation: Orientation = DEFAULT_ORIENTATION
    #: Signatures, zonal yield and inline defects (wafer sort; None when not given).
    spatial: SpatialSection | None = None

    @property
    def is_wafer_sort(self) -> bool:
        return bool(self.wafer_maps)


# --------------------------------------------------------------------------------------------
# Gathering a lot's tables


@dataclass
class _LotData:
    """Parts and tidy rows of a lot over all its files, part_index renumbered to be unique in
    the lot (file order), and each file's HBR / SBR with the file's own parts. ``files``: per
    file its name, start, parts, good and MIR.START_T / MRR.FINISH_T (seconds, None if absent)."""

    lot_id: str | None
    stage: str | None
    files: list[dict[str, Any]]
    parts: pl.DataFrame
    tidy: pl.DataFrame
    summaries: list[tuple[str, pl.DataFrame, pa.Table | None, pa.Table | None]]
    #: The files' WCR records (which way X and Y grow, the flat), as dicts.
    wcr: list[dict[str, Any]] = field(default_factory=list)
    #: The files' content hashes in the lake, in test order (none for STDF tables).
    file_hashes: list[str] = field(default_factory=list)


def _known_lots_message(lots: Sequence[Any]) -> str:
    shown = ", ".join(repr(v) for v in sorted(lots, key=lambda v: (v is None, str(v))))
    return shown or "none"


def _from_tables(files: Sequence[Mapping[str, pa.Table]], lot_id: str | None) -> _LotData:
    from silicio.stdf import tidy as tidy_of
    from silicio.stdf.parts import parts as parts_of

    chosen = []
    known: set[Any] = set()
    for number, tables in enumerate(files):
        if not isinstance(tables, Mapping):
            raise ValueError(
                f"lot_report needs a Lake, the tables of one STDF file (silicio.stdf.read) or a list "
                f"of them; item {number} is a {type(tables).__name__}"
            )
        part_rows = pl.from_arrow(parts_of(tables))
        lots = set(part_rows.get_column("lot_id").unique().to_list())
        known |= lots
        if lot_id in lots:
            name = f"file {number + 1}"
            tidy_rows = pl.from_arrow(tidy_of(tables)).filter(pl.col("lot_id").eq_missing(lot_id))
            summaries = {kind: tables.get(kind) for kind in ("HBR", "SBR")}
            times = (_first_value(tables, "MIR", "START_T"), _first_value(tables, "MRR", "FINISH_T"))
            chosen.append(
                (
                    name,
                    None,
                    part_rows.filter(pl.col("lot_id").eq_missing(lot_id)),
                    tidy_rows,
                    summaries,
                    times,
                )
            )
    if not chosen:
        raise ValueError(
            f"lot {lot_id!r} is not in the data; lots present: {_known_lots_message(list(known))}"
        )
    wcr = [row for tables in files if tables.get("WCR") is not None for row in tables["WCR"].to_pylist()]
    return replace(_assemble(lot_id, None, chosen), wcr=wcr)


def _first_value(tables: Mapping[str, pa.Table], record: str, field_name: str) -> int | None:
    """A field of a file's first ``record`` (MIR.START_T, MRR.FINISH_T); None when absent."""
    table = tables.get(record)
    if table is None or table.num_rows == 0 or field_name not in table.column_names:
        return None
    return table.column(field_name)[0].as_py()


def _from_lake(lake, lot_id: str | None, stage: str | None) -> _LotData:
    from silicio.lake import queries
    from silicio.lake.queries.reports import lot_file_times
    from silicio.stdf.parts import PARTS_SCHEMA
    from silicio.stdf.tidy import TIDY_SCHEMA

    views = set(lake.tables)
    if "parts" not in views:
        raise ValueError("the lake holds no parts (ingest STDF files first)")
    stages = queries.lot_stages(lake, lot_id)
    if not stages:  # no parts of the lot: the lots present, to say so (a scan of every part)
        known = queries.lot_ids(lake)
        raise ValueError(f"lot {lot_id!r} is not in the lake; lots present: {_known_lots_message(known)}")
    if stage is None and len(stages) > 1:
        raise ValueError(f"lot {lot_id!r} was tested at several stages, choose one: {', '.join(stages)}")
    if stage is not None and stage not in stages:
        raise ValueError(f"lot {lot_id!r} has no stage {stage!r}; its stages: {', '.join(stages)}")
    stage = stage or stages[0]
    # Files in test order (start time, then content hash); a file's parts in file order.
    file_rows = queries.lot_files(lake, lot_id, stage)
    hashes = [sha for sha, _, _ in file_rows]
    # The columns the report keeps (not the folder's product, lot and stage, a string a row each).
    all_parts = queries.lot_rows(lake, "parts", lot_id, stage, columns=[*PARTS_SCHEMA.names, "file_sha256"])
    all_tidy = (
        queries.lot_rows(lake, "tidy", lot_id, stage, columns=[*TIDY_SCHEMA.names, "file_sha256"])
        if "tidy" in views
        else None
    )
    summaries_of = {
        kind: queries.lot_bin_summaries(lake, kind, lot_id, stage, files=hashes)
        for kind in ("HBR", "SBR")
        if kind in views
    }
    times_of = {
        row[0]: (row[1], row[2]) for row in lot_file_times(lake, lot_id, stage, files=hashes).iter_rows()
    }
    # Each file's rows, split in one pass over the lot's rows.
    parts_of = all_parts.partition_by("file_sha256", as_dict=True)
    tidy_of = all_tidy.partition_by("file_sha256", as_dict=True) if all_tidy is not None else None
    chosen = []
    for sha, path, started in file_rows:
        part_rows = parts_of.get((sha,), all_parts.clear()).sort("seq")
        tidy_rows = (
            tidy_of.get((sha,), all_tidy.clear()).sort("seq", nulls_last=True)
            if tidy_of is not None
            else None
        )
        summaries = {
            kind: frame.filter(pl.col("file_sha256") == sha).sort("HEAD_NUM", "SITE_NUM", maintain_order=True)
            .to_arrow()
            for kind, frame in summaries_of.items()
        }  # fmt: skip
        name = Path(path).name if path else sha[:12]
        chosen.append((name, started, part_rows, tidy_rows, summaries, times_of.get(sha, (None, None))))
    wcr = queries.wafer_configurations(lake, lot_id, stage)
    return replace(_assemble(lot_id, stage, chosen), wcr=wcr.to_pylist() if wcr is not None else [],
                   file_hashes=hashes)  # fmt: skip


def _assemble(lot_id, stage, chosen) -> _LotData:
    """One lot from its files (name, start, parts, tidy, {HBR, SBR}, (START_T, FINISH_T)) in test order."""
    from silicio.stdf.parts import PARTS_SCHEMA
    from silicio.stdf.tidy import TIDY_SCHEMA

    part_columns, tidy_columns = PARTS_SCHEMA.names, TIDY_SCHEMA.names
    parts_list, tidy_list, files, summaries = [], [], [], []
    offset = 0
    for number, (name, started, part_rows, tidy_rows, kinds, (start_t, finish_t)) in enumerate(chosen):
        part_rows = part_rows.select(part_columns)
        if tidy_rows is None:
            tidy_rows = pl.from_arrow(TIDY_SCHEMA.empty_table())
        tidy_rows = tidy_rows.select(tidy_columns)
        top = max(
            int(part_rows.get_column("part_index").max() or -1),
            int(tidy_rows.get_column("part_index").max() or -1) if tidy_rows.height else -1,
        )
        summaries.append((name, part_rows, kinds.get("HBR"), kinds.get("SBR")))
        shift = pl.col("part_index") + offset
        parts_list.append(part_rows.with_columns(shift, pl.lit(name).alias(_FILE),
                                                 pl.lit(number, pl.Int64).alias(_FILE_NUMBER)))  # fmt: skip
        tidy_list.append(tidy_rows.with_columns(shift, pl.lit(name).alias(_FILE)))
        files.append({"file": name, "started": started, "parts": part_rows.height,
                      "good": int(part_rows.get_column("passed").fill_null(False).sum()),
                      "start_t": start_t, "finish_t": finish_t})  # fmt: skip
        offset += top + 1
    parts = pl.concat(parts_list, how="vertical_relaxed")
    tidy = pl.concat(tidy_list, how="vertical_relaxed")
    if len(chosen) > 1:
        # Retests in later files: first / last test of each die across the whole lot.
        parts = with_test_order(parts, None)
        tidy = _last_insertions_across_files(tidy, parts)
    return _LotData(lot_id, stage, files, parts, tidy, summaries)


def _last_insertions_across_files(tidy: pl.DataFrame, parts: pl.DataFrame) -> pl.DataFrame:
    """``is_first_test`` / ``is_last_test`` of the tidy rows recomputed over the lot: each row
    follows its part, final when the part is its die's last insertion (a retest supersedes the
    whole earlier insertion; ``part_index`` is unique within the lot)."""
    return pl.from_arrow(consolidate_retests_tidy(tidy, parts))


# --------------------------------------------------------------------------------------------
# The report


#: What identifies a part in the screening's reasons.
_PART_ID = ["lot_id", "wafer_id", "part_index"]


def _lot_parts(data: _LotData) -> pl.DataFrame:
    """The lot's parts (every insertion, test order) without the report's own columns."""
    return data.parts.drop(_FILE, _FILE_NUMBER)


def _screen_lot(data: _LotData, recipe: Recipe, static_limits) -> ScreeningResult:
    # One lot is no history: a rule that needs more lots uses this one and says so in a note.
    return screen(data.tidy.drop(_FILE), recipe, static_limits, parts=_lot_parts(data), short_history="note")


def _precedence(recipe: Recipe) -> tuple[str, ...]:
    """The recipe's reason codes, its rules in precedence order and each rule's codes in turn."""
    registered = registered_rules()
    return tuple(code for name, _ in recipe.rules for code in registered[name].reason_codes)


def _screening(data: _LotData, recipe: Recipe, result: ScreeningResult) -> ScreeningSummary:
    reasons = pl.from_arrow(result.reasons)
    by_rule = (
        reasons.group_by("rule")
        .agg(
            pl.struct(_PART_ID).n_unique().cast(pl.Int64).alias("parts"),
            pl.len().cast(pl.Int64).alias("reasons"),
        )
        .sort("rule")
    )
    by_test = (
        reasons.filter(pl.col("test_num").is_not_null())
        .group_by("rule", "test_num", "test_name", "pin")
        .agg(pl.struct(_PART_ID).n_unique().cast(pl.Int64).alias("parts"))
        .sort(
            ["parts", "rule", "test_num", "test_name"],
            descending=[True, False, False, False],
            nulls_last=True,
        )
    )
    screened = pl.from_arrow(result.parts)
    return ScreeningSummary(
        recipe=dict(result.recipe),
        parts=screened.height,
        screened_parts=int(screened.get_column("screened").sum()),
        yield_before=result.yield_before,
        yield_after=result.yield_after,
        rules=_recipe_rules(recipe, reasons),
        by_rule=by_rule.to_arrow(),
        by_test=by_test.to_arrow(),
        yield_summary=result.yield_summary,
        notes=result.notes,
        dies=screened_die_map(result.reasons, _lot_parts(data), _precedence(recipe)),
        precedence=_precedence(recipe),
    )


def _recipe_rules(recipe: Recipe, reasons: pl.DataFrame) -> pa.Table:
    """One row per rule of the recipe, as the rule describes itself, with the parts it rejected."""
    registered = registered_rules()
    rows = []
    for name, params in recipe.rules:
        rule = registered[name]
        mine = reasons.filter(pl.col("rule").is_in(list(rule.reason_codes)))
        rejected = None if rule.judges == LOTS else mine.select(_PART_ID).n_unique() if mine.height else 0
        rows.append({"rule": name, "title": rule.title, "reason_codes": ", ".join(rule.reason_codes),
                     "parameters": rule.describe(params), "parts": rejected})  # fmt: skip
    schema = {"rule": pl.String, "title": pl.String, "reason_codes": pl.String, "parameters": pl.String,
              "parts": pl.Int64}  # fmt: skip
    return pl.DataFrame(rows, schema=schema).to_arrow()


def _with_names(table: pa.Table, names: pl.DataFrame) -> pa.Table:
    frame = pl.from_arrow(table).with_columns(pl.col("bin").cast(pl.Int64))
    out = frame.join(names, on="bin", how="left", maintain_order="left")
    return out.select("bin", "name", "pf", *[c for c in frame.columns if c != "bin"]).to_arrow()


def _definitions(summaries, kind: str) -> pl.DataFrame:
    found = [s for s in summaries if s is not None and s.num_rows]
    if not found:
        return pl.DataFrame(schema={"bin": pl.Int64, "name": pl.String, "pf": pl.String})
    merged = pl.concat([pl.from_arrow(s) for s in found], how="diagonal_relaxed").to_arrow()
    return pl.from_arrow(bin_definitions(merged, kind))


def _reconciliation(data: _LotData) -> pa.Table:
    tables = []
    for name, part_rows, hbr, sbr in data.summaries:
        for kind, summary in (("hard", hbr), ("soft", sbr)):
            if summary is None or summary.num_rows == 0:
                continue
            found = pl.from_arrow(reconcile_bins(part_rows, summary, kind))
            tables.append(found.select(pl.lit(name).alias("file"), pl.lit(kind).alias("kind"), pl.all()))
    if not tables:
        empty = {"file": pl.String, "kind": pl.String, "scope": pl.String, "head": pl.Int64, "site": pl.Int64,
                 "bin": pl.Int64, "name": pl.String, "pf": pl.String, "tester_count": pl.Int64,
                 "part_count": pl.Int64, "final_count": pl.Int64, "difference": pl.Int64, "status": pl.String}  # fmt: skip
        return pl.DataFrame(schema=empty).to_arrow()
    return pl.concat(tables, how="vertical_relaxed").to_arrow()


def _worst_tests(tidy: pl.DataFrame, top: int) -> tuple[pa.Table, pa.Table]:
    if tidy.height == 0:
        empty = pl.from_arrow(per_test_statistics(pl.from_arrow(_empty_tidy())))
        return empty.to_arrow(), empty.to_arrow()
    stats = pl.from_arrow(per_test_statistics(tidy.drop(_FILE)))
    worst_cpk = stats.filter(pl.col("cpk").is_not_null()).sort(["cpk", "test_num"], nulls_last=True).head(top)
    worst_fails = (
        stats.filter(pl.col("fail_count") > 0)
        .sort(["fail_count", "test_num"], descending=[True, False], nulls_last=True)
        .head(top)
    )
    return worst_cpk.to_arrow(), worst_fails.to_arrow()


def _empty_tidy() -> pa.Table:
    from silicio.stdf.tidy import TIDY_SCHEMA

    return TIDY_SCHEMA.empty_table()


def _wafer_maps(parts: pl.DataFrame) -> tuple[WaferMap | None, tuple[WaferMap, ...]]:
    mapped = parts.filter(
        pl.col("wafer_id").is_not_null() & pl.col("x").is_not_null() & pl.col("y").is_not_null()
    )
    if mapped.height == 0:
        return None, ()
    wafers = sorted(mapped.get_column("wafer_id").unique().to_list())
    # The lot's retests are already consolidated in ``is_first_test`` / ``is_last_test``: the
    # maps keep that order (order_by the lot-wide first / last flags is not needed).
    maps = tuple(bin_map(mapped.filter(pl.col("wafer_id") == w), "hard", wafer_id=w) for w in wafers)
    stacked = stacked_fail_map(mapped)
    return stacked, maps


def lot_report(
    lake_or_tables,
    lot_id: str | None,
    *,
    recipe: Recipe | str | os.PathLike[str] | None = None,
    static_limits: pa.Table | pl.DataFrame | None = None,
    stage: str | None = None,
    top_tests: int = WORST_TESTS,
    disposition: Disposition | None = None,
    history: pa.Table | pl.DataFrame | None = None,
    spatial: SpatialSection | None = None,
) -> LotReport:
    """Yield, bins, reconciliation, wafer maps, sites, retests, throughput, worst tests,
    screening and disposition of lot ``lot_id``.

    ``lake_or_tables``: a :class:`silicio.lake.Lake` (the lot's files at ``stage``, which must be
    given when the lot was tested at several), the tables of one STDF file
    (:func:`silicio.stdf.read`) or a list of them in test order. An unknown lot raises
    ValueError naming the lots present.

    The report's tables:

    * ``lot_yield`` / ``wafer_yield``: :func:`~silicio.yields.yield_by` over the lot and per wafer
      (first pass and final, retests across files consolidated);
    * ``hard_bins`` / ``soft_bins``: :func:`~silicio.yields.bin_counts` of each die's final test,
      with the bin names and pass / fail of the HBR / SBR records; ``hard_pareto`` /
      ``soft_pareto``: :func:`~silicio.yields.bin_pareto` (failing bins, most frequent first);
    * ``reconciliation``: :func:`~silicio.yields.reconcile_bins` of each file's HBR and SBR with
      the file's parts (columns ``file``, ``kind``, then reconcile_bins'), every row kept;
    * ``stacked_map`` and ``wafer_maps``: :func:`~silicio.yields.stacked_fail_map` and a hard
      :func:`~silicio.yields.bin_map` per wafer (wafer sort only);
    * ``site_yield``: :func:`~silicio.yields.lot_analysis.site_yield_test` (first-pass yield per
      site, chi-square over the sites, each site against the rest, Holm-adjusted);
    * ``retest_recovery`` / ``bin_switching``: :func:`~silicio.yields.lot_analysis.retest_recovery`
      and :func:`~silicio.yields.lot_analysis.bin_switching` of the hard bins over all files;
    * ``throughput``: :func:`~silicio.yields.lot_analysis.throughput`, the wall clock from each
      file's MIR.START_T to its MRR.FINISH_T;
    * ``worst_cpk`` / ``worst_fails``: the ``top_tests`` rows of
      :func:`~silicio.yields.per_test_statistics` with the lowest Cpk / the most fails;
      ``distributions``: :func:`~silicio.yields.lot_analysis.result_distributions` of those tests;
    * ``screening``: :func:`~silicio.yields.screen` with ``recipe`` (a Recipe or TOML path), or
      for a wafer-sort lot without one the automotive wafer-sort recipe shipped with silicio;
      ``screening.rules`` lists the recipe's rules as each describes itself, ``screening.dies``
      the rule that removed each die. Static PAT limits come from ``static_limits`` (the lot
      history) when given; else, from a lake, from the product's wafer-sort lots when they are
      enough for the recipe (as ``silicio holds`` screens them); else from the lot itself, with a
      note in ``screening.notes`` (AEC-Q001 asks for six lots).
    * ``holds``: the lot's holds at its stage, every reason with its rule, parameters and evidence:
      from ``disposition`` when given (the dashboard's); else, for a lake, the hold rules of
      :func:`~silicio.yields.disposition.judge` over the lot's product, as ``silicio holds`` judges
      them, but with only this lot screened (see :func:`_lot_disposition`). Not judged for STDF tables.
    * ``history``: ``history`` as given (columns :data:`HISTORY_COLUMNS`: lot, yield, syl; one
      row per lot in the order to draw them, e.g. :mod:`silicio.yields.history`'s baseline),
      with ``this_lot`` marking the lot reported (added with its final yield when missing): the
      report draws yield per lot with the SYL line. None: no history section.
    * ``spatial``: as given (:class:`SpatialSection`, from :func:`silicio.spatial.report_section`):
      each wafer's signature and zonal yield, and the inline defects and their kill ratios when
      the lot was inspected; their maps with the defects drawn on the bin maps.
    """
    from silicio.lake.query import Lake

    lake = None
    if isinstance(lake_or_tables, Lake):
        lake = lake_or_tables
        data = _from_lake(lake, lot_id, stage)
    elif isinstance(lake_or_tables, Mapping):
        data = _from_tables([lake_or_tables], lot_id)
    elif isinstance(lake_or_tables, Sequence) and not isinstance(lake_or_tables, str | bytes):
        data = _from_tables(list(lake_or_tables), lot_id)
    else:
        raise ValueError(
            f"lot_report needs a Lake, the tables of one STDF file or a list of them, got "
            f"{type(lake_or_tables).__name__}"
        )
    if top_tests < 1:
        raise ValueError(f"top_tests must be >= 1, got {top_tests!r}")
    if recipe is not None and not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    # The holds are judged with the recipe given, else the automotive one (as silicio holds).
    judging_recipe = recipe if recipe is not None else default_recipe()
    # What the holds need of the lot's product (lake reads, its static PAT limits) is taken in a
    # second thread while this one computes the lot's own tables, and the product's lot
    # quartiles there while this one screens the lot: the lake is used by that thread alone
    # meanwhile, and the polars, numba and DuckDB work of both releases the GIL.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lot-report-product") as pool:
        context = None
        if lake is not None and disposition is None:
            context = pool.submit(_ProductContext.of, lake, data, judging_recipe)
        tables = _lot_tables(data, top_tests)
        product = context.result() if context is not None else None
        quartiles = pool.submit(product.take_statistics) if product is not None else None
        holds, result, notes = _judged(
            data, tables, recipe, judging_recipe, static_limits, disposition, product, quartiles
        )
    overall = tables.overall
    screened_recipe = judging_recipe if recipe is not None or tables.maps else None
    if history is None and lake is not None:
        # The baseline the holds were judged against, when judged here; else found for the chart.
        settings = history_settings(HoldRules(), judging_recipe)
        baseline = product.baseline if product is not None else _lot_baseline(lake, data, settings)
        history = _lake_history(baseline, data, overall["final_yield"], notes)
    orientation = _orientation(data, notes) if tables.maps else DEFAULT_ORIENTATION
    files = pl.DataFrame(
        [{k: f[k] for k in ("file", "started", "parts", "good")} for f in data.files],
        schema={"file": pl.String, "started": pl.Datetime("us", "UTC"), "parts": pl.Int64, "good": pl.Int64},
        strict=False,
    )
    return LotReport(
        lot_id=data.lot_id,
        stage=data.stage,
        files=files.to_arrow(),
        lot_yield=overall,
        wafer_yield=tables.wafer_yield,
        hard_bins=tables.hard_bins,
        soft_bins=tables.soft_bins,
        hard_pareto=tables.hard_pareto,
        soft_pareto=tables.soft_pareto,
        reconciliation=tables.reconciliation,
        stacked_map=tables.stacked_map,
        wafer_maps=tables.maps,
        worst_cpk=tables.worst_cpk,
        worst_fails=tables.worst_fails,
        screening=_screening(data, screened_recipe, result) if result is not None else None,
        notes=tuple(notes),
        holds=holds,
        site_yield=tables.site_yield,
        retest_recovery=tables.retest_recovery,
        bin_switching=tables.bin_switching,
        throughput=tables.throughput,
        distributions=tables.distributions,
        history=_history(history, data.lot_id, overall["final_yield"]),
        orientation=orientation,
        spatial=spatial,
    )


def _judged(data: _LotData, tables: _LotTables, recipe: Recipe | None, judging_recipe: Recipe, static_limits,
            disposition: Disposition | None, product: _ProductContext | None,
            quartiles: Future | None) -> tuple[tuple[Hold, ...] | None, ScreeningResult | None, list[str]]:  # fmt: skip
    """The lot's screening and holds (see :func:`lot_report`), and the notes they leave;
    ``quartiles``: the product's lot quartiles being taken (:meth:`_ProductContext.take_statistics`)."""
    notes: list[str] = []
    # The report screens with the recipe when given, or for a wafer-sort lot (maps).
    screened_recipe = judging_recipe if recipe is not None or tables.maps else None
    result = None
    if screened_recipe is not None:
        if data.tidy.height == 0:
            notes.append(C_("no test results in the lot: screening not run"))
        else:
            limits = static_limits
            if limits is None and product is not None and product.recipe is screened_recipe:
                limits = product.static_limits
            result = _screen_lot(data, screened_recipe, limits)
    if product is not None:
        if quartiles is not None:
            quartiles.result()
        disposition = _lot_disposition(product, data, result if static_limits is None else None)
    holds = tuple(disposition.of(data.lot_id, data.stage)) if disposition is not None else None
    return holds, result, notes


@dataclass(frozen=True)
class _LotTables:
    """The report's tables of the lot alone (no screening, holds or history): see :func:`lot_report`."""

    overall: dict[str, Any]
    wafer_yield: pa.Table
    hard_bins: pa.Table
    soft_bins: pa.Table
    hard_pareto: pa.Table
    soft_pareto: pa.Table
    reconciliation: pa.Table
    stacked_map: WaferMap | None
    maps: tuple[WaferMap, ...]
    worst_cpk: pa.Table
    worst_fails: pa.Table
    site_yield: SiteYieldTest | None
    retest_recovery: pa.Table | None
    bin_switching: pa.Table | None
    throughput: Throughput | None
    distributions: ResultDistributions | None


def _lot_tables(data: _LotData, top_tests: int) -> _LotTables:
    parts = _lot_parts(data)
    hbrs = [h for _, _, h, _ in data.summaries]
    sbrs = [s for _, _, _, s in data.summaries]
    hard_names, soft_names = _definitions(hbrs, "hard"), _definitions(sbrs, "soft")
    stacked, maps = _wafer_maps(parts)
    worst_cpk, worst_fails = _worst_tests(data.tidy, top_tests)
    return _LotTables(
        overall=yield_by(parts, by=()).to_pylist()[0],
        wafer_yield=yield_by(parts, by="wafer_id"),
        hard_bins=_with_names(bin_counts(parts, "hard"), hard_names),
        soft_bins=_with_names(bin_counts(parts, "soft"), soft_names),
        hard_pareto=bin_pareto(parts, "hard", names=hard_names.to_arrow()),
        soft_pareto=bin_pareto(parts, "soft", names=soft_names.to_arrow()),
        reconciliation=_reconciliation(data),
        stacked_map=stacked,
        maps=maps,
        worst_cpk=worst_cpk,
        worst_fails=worst_fails,
        site_yield=site_yield_test(parts),
        retest_recovery=retest_recovery(parts, "hard"),
        bin_switching=bin_switching(parts, "hard"),
        throughput=_throughput(data),
        distributions=_distributions(data.tidy, worst_cpk, worst_fails),
    )


def _orientation(data: _LotData, notes: list[str]) -> Orientation:
    """The maps' orientation from the lot's WCR records (:func:`silicio.yields.wafermap.orientation_of`);
    what it assumed, or records that disagree, said in ``notes``."""
    try:
        orientation = orientation_of({"WCR": data.wcr})
    except ValueError as exc:
        orientation = Orientation(notes=(f"{exc}: maps drawn with X growing right and Y down",))
    notes.extend(orientation.notes)
    return orientation


def _throughput(data: _LotData) -> Throughput:
    """Test times of the lot's files; the wall clock when every file has its MIR and MRR times."""
    starts = [f["start_t"] for f in data.files]
    finishes = [f["finish_t"] for f in data.files]
    parts = data.parts.select("head", "site", "test_t", "seq", _FILE_NUMBER)
    if any(t is None for t in (*starts, *finishes)):
        missing = [f["file"] for f in data.files if f["start_t"] is None or f["finish_t"] is None]
        found = throughput(parts, file_column=_FILE_NUMBER)
        note = C_("no MIR.START_T / MRR.FINISH_T in %(files)s: no wall-clock UPH") % {
            "files": ", ".join(missing)
        }
        notes = tuple(n for n in found.notes if "START_T" not in n)
        return replace(found, notes=(*notes, note))
    bad = [f["file"] for f in data.files if f["finish_t"] < f["start_t"]]
    if bad:
        found = throughput(parts, file_column=_FILE_NUMBER)
        notes = tuple(n for n in found.notes if "START_T" not in n)
        return replace(
            found,
            notes=(
                *notes,
                C_("MRR.FINISH_T before MIR.START_T in %(files)s: no wall-clock UPH")
                % {"files": ", ".join(bad)},
            ),
        )
    return throughput(parts, file_column=_FILE_NUMBER, start_t=starts, finish_t=finishes)


def _distributions(tidy: pl.DataFrame, worst_cpk: pa.Table, worst_fails: pa.Table) -> ResultDistributions:
    """Histograms and boxes of the worst tests' final results (by Cpk, then by fails), once each."""
    keys = ["test_type", "test_num", "test_name", "pin"]
    tests = pl.concat([pl.from_arrow(worst_cpk).select(keys), pl.from_arrow(worst_fails).select(keys)])
    return result_distributions(tidy.drop(_FILE), tests.unique(maintain_order=True))


def _lot_baseline(lake, data: _LotData, settings) -> Baseline | str | None:
    """The baseline the lot is judged against with the hold rules' ``settings`` (the lots of its
    program tested before it, :func:`silicio.yields.history.history_baseline`); why there is
    none when the lot has too few earlier lots; None when the lake's lot index lacks the lot."""
    from silicio.lake import queries

    from .history import NotEnoughHistory, history_baseline

    index = queries.lot_index(lake)
    mine = index.filter((pl.col("lot") == data.lot_id) & (pl.col("stage") == data.stage))
    if mine.is_empty():
        return None
    try:
        return history_baseline(lake, mine["product"][0], data.stage, data.lot_id, settings)
    except NotEnoughHistory as exc:
        return str(exc)


def _lake_history(baseline: Baseline | str | None, data: _LotData, final_yield: float | None,
                  notes: list[str]) -> pl.DataFrame | None:  # fmt: skip
    """The lot against the lots of its program tested before it (``baseline``, :func:`_lot_baseline`):
    each lot's final yield, and the AEC-Q002 SYL1 of that baseline on every row (the line the
    lot is held below). None, with a note, when the lot has too few earlier lots (``baseline``
    says why)."""
    if baseline is None:
        return None
    if isinstance(baseline, str):
        notes.append(C_("no lot history to compare with: %(why)s") % {"why": baseline})
        return None
    limits = pl.from_arrow(baseline.yield_limits).filter(
        (pl.col("scope") == "lot") & (pl.col("kind") == "SYL")
    )
    syl = limits["limit1"][0] if limits.height else None
    rows = [{"lot": lot.lot, "yield": lot.good_parts / lot.parts if lot.parts else None, "syl": syl}
            for lot in baseline.lots]  # fmt: skip
    rows.append({"lot": data.lot_id, "yield": final_yield, "syl": syl})
    return pl.DataFrame(rows, schema={"lot": pl.String, "yield": pl.Float64, "syl": pl.Float64})


def _history(history, lot_id: str | None, final_yield: float | None) -> pa.Table | None:
    """The lot history as given, checked, with ``this_lot``; the lot appended when missing."""
    if history is None:
        return None
    frame = history if isinstance(history, pl.DataFrame) else pl.from_arrow(history)
    missing = [c for c in HISTORY_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"history lacks column(s) {', '.join(missing)}; expected {', '.join(HISTORY_COLUMNS)} (one row per lot)"
        )
    frame = frame.select(pl.col("lot").cast(pl.String), pl.col("yield").cast(pl.Float64),
                         pl.col("syl").cast(pl.Float64))  # fmt: skip
    for column in ("yield", "syl"):
        outside = frame.filter(~pl.col(column).is_between(0, 1) & pl.col(column).is_not_null())
        if outside.height:
            row = outside.row(0, named=True)
            raise ValueError(
                f"history: lot {row['lot']!r} has {column} {row[column]!r}; expected a fraction from 0 to 1"
            )
    if lot_id not in frame.get_column("lot").to_list():
        frame = pl.concat([frame, pl.DataFrame({"lot": [lot_id], "yield": [final_yield], "syl": [None]},
                                               schema=frame.schema)])  # fmt: skip
    return frame.with_columns((pl.col("lot") == lot_id).alias("this_lot")).to_arrow()


#: Columns of the product's final parametric results: what its static PAT limits
#: (:func:`silicio.yields.pat.static_pat_limits`, alarms left out by ``test_flg``) and its lots'
#: quartiles are computed from.
_PRODUCT_COLUMNS = ("lot_id", "wafer_id", "part_index", "test_num", "test_name", "pin", "test_type", "result",
                    "lo_limit", "hi_limit", "part_passed", "is_last_test", "test_flg")  # fmt: skip


@dataclass
class _ProductContext:
    """What judging one lot's holds needs of its product, read once: the lot index of the
    product, the lot's parts, the quartiles of the product's lots at the lot's stage, when the
    product is screened (wafer sort, enough lots for the recipe's static PAT limits) the limits
    the lot is screened with, and the lot against its history."""

    name: str | None
    recipe: Recipe
    index: pl.DataFrame
    parts: pl.DataFrame
    statistics: pl.DataFrame | None
    screened: bool
    static_limits: pa.Table | None
    notes: list[str]
    #: The lot's AEC-Q002 flags against its lot history, and notes (as
    #: :func:`~silicio.yields.disposition.lake_history` gives them).
    history: tuple[pa.Table, tuple[str, ...]] | None = None
    #: The baseline those flags are judged against, or why there is none (:func:`_lot_baseline`).
    baseline: Baseline | str | None = None
    #: The product's final parametric results, until :meth:`take_statistics` takes their quartiles.
    results: pl.DataFrame | None = None

    def take_statistics(self) -> None:
        """The quartiles of the product's lots from :attr:`results`, as screen_lake takes them
        (equal to the lake's lot_statistics, not read a second time)."""
        if self.results is not None:
            self.statistics = lot_quartiles(self.results, self.name, SCREENED_STAGE)
            self.results = None

    @classmethod
    def of(cls, lake, data: _LotData, recipe: Recipe) -> _ProductContext:
        from silicio.lake import queries

        index = queries.lot_index(lake)
        this_lot = index.filter((pl.col("lot") == data.lot_id) & (pl.col("stage") == data.stage))
        name = this_lot["product"][0] if this_lot.height else None
        index = index.filter(pl.col("product").eq_missing(name))
        # The lake's folder of the lot holds its files alone, of this one product: the lot's
        # rows read for the report are the rows the product's judgement reads of it, not read again.
        own_rows = this_lot.height == 1 and _folder_of_lot(lake, data, name)
        parts = _judged_parts(data, name) if own_rows else queries.all_parts(lake).filter(
            pl.col("product").eq_missing(name)
        )  # fmt: skip
        judged = dict(screened_products(index, recipe))
        screened = data.stage == SCREENED_STAGE and name in judged and judged[name] is None
        notes = [why for why in judged.values() if why]
        statistics = static = results = None
        pat = recipe.pat
        if screened and pat is not None and {"tidy", "parts"} <= set(lake.tables):
            tidy = results = _product_results(lake, data, name, own_rows)
            # The PAT rule's own static limits, as screen_lake computes them: from the lot's own
            # baseline (earlier lots); else preliminary limits from the product's lots, as
            # screen_lake's note says.
            baseline = (pat_history_of(lake, name, recipe) or {}).get(data.lot_id)
            if baseline is not None:
                tidy = tidy.filter(pl.col("lot_id").is_in(list(baseline)))
            else:
                notes.append(
                    f"static PAT limits of lot {data.lot_id}: fewer than {pat.min_lots} earlier lots of its test "
                    "program (AEC-Q001 Rev-D), so preliminary limits from the product's wafer-sort lots, it included"
                )
            try:
                static = static_pat_limits(tidy, k=pat.k, min_lots=pat.min_lots, tests=pat.tests,
                                           iqr_zero=pat.iqr_zero, quantile_method=pat.quantile_method)  # fmt: skip
            except ValueError as exc:
                notes.append(f"{name}: not screened: {exc}")
                screened = False
        elif "tidy" in lake.tables:
            statistics = queries.lot_statistics(lake, (name, data.stage))
        history, chart_baseline = _judged_history(lake, this_lot, history_settings(HoldRules(), recipe))
        return cls(name, recipe, index, parts, statistics, screened, static, notes, history, chart_baseline,
                   results)  # fmt: skip


def _folder_of_lot(lake, data: _LotData, product: str | None) -> bool:
    """Whether the lake's folder of the lot (``product`` at its stage) holds the files the report
    read of it, and only its parts."""
    from silicio.lake.queries.reports import lot_partition_files

    found = lot_partition_files(lake, product, data.stage, data.lot_id)
    return (
        bool(data.file_hashes)
        and {sha for sha, _ in found} == set(data.file_hashes)
        and all(lot == data.lot_id for _, lot in found)
    )


def _judged_parts(data: _LotData, product: str | None) -> pl.DataFrame:
    """The lot's parts (every insertion, test order) with the columns of
    :func:`silicio.lake.queries.all_parts`: what the hold rules read of the lot."""
    return _lot_parts(data).select(
        pl.lit(product, pl.String).alias("product"), "lot_id", pl.lit(data.stage, pl.String).alias("stage"),
        "wafer_id", "die_key", "passed", "soft_bin", "hard_bin",
    )  # fmt: skip


def _product_results(lake, data: _LotData, product: str | None, own_rows: bool) -> pl.DataFrame:
    """The product's final parametric results at the screened stage (:data:`_PRODUCT_COLUMNS`),
    the lot's own taken from the report's rows of it when ``own_rows``: its last insertions
    across its files are the same (their ``part_index`` renumbered within the lot, which the
    limits and quartiles do not read beyond its being there)."""
    from silicio.lake.queries.reports import product_final_parametric_results

    if not own_rows:
        return product_final_parametric_results(lake, product, SCREENED_STAGE, _PRODUCT_COLUMNS)
    others = product_final_parametric_results(
        lake, product, SCREENED_STAGE, _PRODUCT_COLUMNS, leaving_out=data.lot_id
    )
    mine = data.tidy.filter(
        pl.col("is_last_test").fill_null(False)
        & pl.col("test_type").is_in(["P", "M"])
        & pl.col("result").is_not_null()
    ).select(pl.col(c).cast(others.schema[c]) for c in _PRODUCT_COLUMNS)
    return pl.concat([others, mine])


def _judged_history(
    lake, this_lot: pl.DataFrame, settings
) -> tuple[tuple[pa.Table, tuple[str, ...]], Baseline | str | None]:
    """The AEC-Q002 flags of the lot (``this_lot``: its rows of the lot index) against its
    history and the notes for what could not be judged, as
    :func:`~silicio.yields.disposition.lake_history` gives them for the lot, and the baseline of
    its first row, or why there is none (the report's chart)."""
    from .history import FLAG_COLUMNS, judge_one_lot

    judgements = [judge_one_lot(lake, row["product"], row["stage"], row["lot"], settings=settings)
                  for row in this_lot.iter_rows(named=True)]  # fmt: skip
    flags = pa.concat_tables([j.flags for j in judgements]) if judgements else FLAG_COLUMNS.empty_table()
    notes = tuple(j.why for j in judgements if j.why is not None)
    first = judgements[0] if judgements else None
    baseline = None if first is None else first.baseline if first.baseline is not None else first.why
    return (flags, notes), baseline


def _lot_disposition(product: _ProductContext, data: _LotData, result: ScreeningResult | None) -> Disposition:
    """The lot's holds by the rules ``silicio holds`` applies (:func:`~silicio.yields.disposition.judge`
    over the product's lots), without screening the whole product: the PAT share of a lot comes
    from its own parts, and PAT, NNR and GDBN judge each wafer or part apart, so the lot
    screened alone with the product's static PAT limits has the reasons the product's screening
    gives it. ``result``: the report's screening of the lot when it ran with those limits and
    the same recipe; else the lot is screened here."""
    product.take_statistics()  # when not taken already, in the report's second thread
    results = {}
    if product.screened:
        if result is None or result.recipe != product.recipe.identity():
            try:
                result = _screen_lot(data, product.recipe, product.static_limits)
            except ValueError as exc:
                product.notes.append(f"{product.name}: not screened: {exc}")
                result = None
        if result is not None:
            results[product.name] = result
    screening = LakeScreening(results=results, notes=product.notes, lot_statistics=product.statistics)
    return judge(
        product.parts, product.index, screening, HoldRules(), product.recipe, history=product.history
    )


# --------------------------------------------------------------------------------------------
# Tables and maps for display


def switching_matrix(switching: pa.Table) -> pa.Table:
    """The long bin switching table (:func:`~silicio.yields.lot_analysis.bin_switching`) as a
    matrix: one row per first-pass bin, one column ``to <bin>`` of dies per final bin (``to
    none``: no final bin), then ``dies``; zeros where no die switched that way."""
    frame = pl.from_arrow(switching)
    if frame.height == 0:
        return pl.DataFrame(schema={"first_bin": pl.Int64, "dies": pl.Int64}).to_arrow()
    finals = sorted({b for b in frame.get_column("final_bin").to_list()}, key=lambda b: (b is None, b))
    columns = [
        pl.col("dies")
        .filter(pl.col("final_bin").eq_missing(b))
        .sum()
        .alias(f"to {'none' if b is None else b}")
        for b in finals
    ]
    out = (
        frame.with_columns(pl.col("first_bin").cast(pl.Int64), pl.col("final_bin").cast(pl.Int64))
        .group_by("first_bin")
        .agg(*columns, pl.col("dies").sum())
        .sort("first_bin", nulls_last=True)
    )
    return out.cast({c: pl.Int64 for c in out.columns}).to_arrow()


#: Categories of the map of the dies screening removed, beside one per reason code.
_KEPT, _FAILED, _NO_VERDICT, _FIRST_RULE = 0, 1, 2, 10


def screened_colours(screening: ScreeningSummary) -> dict[str, str]:
    """One colour per reason code of the recipe (its precedence order; the codes past the palette
    repeat), the same in HTML, PDF and JSON (:func:`silicio.yields.wafermap.drawing.rule_colours`)."""
    return rule_colours(screening.precedence)


def _screened_maps(report: LotReport) -> tuple[list[tuple[str | None, MapDrawing]], list[LegendEntry]]:
    """Per wafer the drawing of its final dies coloured by what screening did to them (kept,
    failed at test, no verdict, or the first rule that removed them), and the lot's legend."""
    screening = report.screening
    if screening is None or screening.dies is None:
        return [], []
    dies = pl.from_arrow(screening.dies).filter(
        pl.col("wafer_id").is_not_null() & pl.col("x").is_not_null() & pl.col("y").is_not_null()
    )
    if dies.height == 0:
        return [], []
    codes = {code: _FIRST_RULE + i for i, code in enumerate(screening.precedence)}
    colours = screened_colours(screening)
    palette = {_KEPT: SCREEN_KEPT_COLOUR, _FAILED: SCREEN_FAILED_COLOUR, _NO_VERDICT: NO_VALUE_COLOUR}
    palette |= {codes[c]: colours[c] for c in codes}
    category = (
        pl.when(pl.col("rule").is_not_null()).then(pl.col("rule").replace_strict(codes, default=None))
        .when(pl.col("passed").is_null()).then(pl.lit(_NO_VERDICT))
        .when(pl.col("passed")).then(pl.lit(_KEPT))
        .otherwise(pl.lit(_FAILED))
    )  # fmt: skip
    dies = dies.with_columns(category.cast(pl.Int64).alias("category"))
    counts = dict(dies.group_by("category").len().iter_rows())
    labels = {_KEPT: "kept", _FAILED: "failed at test", _NO_VERDICT: "no verdict"}
    labels |= {codes[c]: c for c in codes}
    legend = [LegendEntry(f"{labels[k]} ({counts[k]:,} dies)", palette[k], bin=k) for k in sorted(counts)]
    drawings = []
    for (wafer,), rows in dies.group_by("wafer_id", maintain_order=True):
        rows = rows.unique(["x", "y"], keep="last", maintain_order=True)
        wafer_map = WaferMap(
            rows.get_column("x").to_numpy().astype(np.int64), rows.get_column("y").to_numpy().astype(np.int64),
            rows.get_column("category").to_numpy(), "bin", report.lot_id, wafer, "screening",
        )  # fmt: skip
        drawing = describe_map(wafer_map, report.orientation, colours=palette, title=f"wafer {wafer}")
        present = set(rows.get_column("category").to_list())
        drawings.append((wafer, replace(drawing, legend=tuple(e for e in legend if e.bin in present))))
    drawings.sort(key=lambda pair: str(pair[0]))
    return drawings, legend


# --------------------------------------------------------------------------------------------
# Plain data (the HTML's JSON block)


def _plain(value: Any) -> Any:
    """JSON-safe: NaN / infinity as null, times as ISO text, numpy scalars as Python numbers."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return _plain(table.to_pylist())


def _map_data(
    wafer_map: WaferMap, orientation: Orientation, colours: dict[int, str] | None = None
) -> dict[str, Any]:
    """A map's dies, values and drawing (colours, legend, axis directions, flat) as in the dashboard."""
    return {"lot_id": wafer_map.lot_id, "wafer_id": wafer_map.wafer_id} | map_json(
        wafer_map, orientation, colours=colours
    )


def report_data(report: LotReport) -> dict[str, Any]:
    """Every number of the report as JSON-ready values: tables as lists of rows, maps as die lists."""
    screening = report.screening
    colours = _bin_colours(report)
    return {
        "lot_id": report.lot_id,
        "stage": report.stage,
        "files": _rows(report.files),
        "lot_yield": _plain(report.lot_yield),
        "wafer_yield": _rows(report.wafer_yield),
        "hard_bins": _rows(report.hard_bins),
        "soft_bins": _rows(report.soft_bins),
        "hard_pareto": _rows(report.hard_pareto),
        "soft_pareto": _rows(report.soft_pareto),
        "reconciliation": _rows(report.reconciliation),
        "stacked_map": _map_data(report.stacked_map, report.orientation)
        if report.stacked_map is not None
        else None,
        "wafer_maps": [_map_data(m, report.orientation, colours) for m in report.wafer_maps],
        "worst_cpk": _rows(report.worst_cpk),
        "worst_fails": _rows(report.worst_fails),
        "screening": None
        if screening is None
        else {
            "recipe": screening.recipe,
            "parts": screening.parts,
            "screened_parts": screening.screened_parts,
            "yield_before": _plain(screening.yield_before),
            "yield_after": _plain(screening.yield_after),
            "rules": _rows(screening.rules),
            "by_rule": _rows(screening.by_rule),
            "by_test": _rows(screening.by_test),
            "yield_summary": _rows(screening.yield_summary),
            "notes": list(screening.notes),
            "precedence": list(screening.precedence),
            "rule_colours": screened_colours(screening),
            "dies": _rows(screening.dies) if screening.dies is not None else None,
        },
        "notes": list(report.notes),
        "holds": None if report.holds is None else [_plain(h.as_dict()) for h in report.holds],
        "site_yield": _site_yield_data(report.site_yield),
        "retest_recovery": _rows(report.retest_recovery) if report.retest_recovery is not None else None,
        "bin_switching": _rows(report.bin_switching) if report.bin_switching is not None else None,
        "bin_switching_matrix": _rows(switching_matrix(report.bin_switching))
        if report.bin_switching is not None
        else None,
        "throughput": _throughput_data(report.throughput),
        "distributions": None
        if report.distributions is None
        else {
            "histograms": _rows(report.distributions.histograms),
            "boxes": _rows(report.distributions.boxes),
        },
        "history": _rows(report.history) if report.history is not None else None,
        "spatial": None
        if report.spatial is None
        else {
            "wafers": _rows(report.spatial.wafers),
            "defect_yield": _rows(report.spatial.defect_yield)
            if report.spatial.defect_yield is not None
            else None,
            "defects": _rows(report.spatial.defects) if report.spatial.defects is not None else None,
            "notes": list(report.spatial.notes),
        },
    }


def _site_yield_data(test: SiteYieldTest | None) -> dict[str, Any] | None:
    if test is None:
        return None
    scalars = {k: _plain(v) for k, v in vars(test).items() if k != "sites"}
    return scalars | {"sites": _rows(test.sites)}


def _throughput_data(found: Throughput | None) -> dict[str, Any] | None:
    if found is None:
        return None
    scalars = {k: _plain(v) for k, v in vars(found).items() if k != "per_site"}
    return scalars | {"per_site": _rows(found.per_site)}


# --------------------------------------------------------------------------------------------
# Formatting shared by HTML and PDF

_PERCENT_COLUMNS = {"first_pass_yield", "final_yield", "yield_before", "yield_after", "yield", "syl",
                    "recovery_rate", "deviation", "wafer_yield", "centre_yield", "middle_yield", "edge_yield",
                    "capture_rate", "defect_limited_yield"}  # fmt: skip
_PERCENT_POINTS = {"percent", "percent_of_tested", "percent_of_fails", "cumulative_percent"}


def _cell_text(column: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        if column in _PERCENT_COLUMNS:
            return f"{100 * value:.2f}%"
        if column in _PERCENT_POINTS:
            return f"{value:.2f}%"
        return format_number(value)  # 4 significant digits, never 5.519e+04
    if isinstance(value, int):
        return (
            f"{value:,}"
            if column not in ("bin", "test_num", "head", "site", "pin", "first_bin")
            else str(value)
        )
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


_TABLE_COLUMNS = {
    "files": ["file", "started", "parts", "good"],
    "wafer_yield": ["wafer_id", "first_pass_dies", "first_pass_good", "first_pass_yield", "final_dies", "final_good",
                    "final_yield", "retests", "no_verdict"],
    "bins": ["bin", "name", "pf", "count", "good", "percent"],
    "pareto": ["bin", "name", "count", "percent_of_tested", "percent_of_fails", "cumulative_percent"],
    "reconciliation": ["file", "kind", "scope", "head", "site", "bin", "name", "tester_count", "part_count",
                       "final_count", "difference", "status"],
    "tests": ["test_num", "test_name", "pin", "units", "lo_limit", "hi_limit", "count", "mean", "std", "cp", "cpk",
              "fail_count"],
    "rules": ["rule", "title", "reason_codes", "parameters", "parts"],
    "by_rule": ["rule", "parts", "reasons"],
    "by_test": ["rule", "test_num", "test_name", "pin", "parts"],
    "disposition": ["rule", "reason"],
    "site_yield": ["head", "site", "tested", "good", "yield", "deviation", "adjusted_residual", "p_vs_rest",
                   "p_adjusted", "differs"],
    "retest_recovery": ["first_bin", "failing_dies", "retested_dies", "recovered_dies", "recovery_rate"],
    "test_time": ["head", "site", "parts", "mean_ms", "median_ms", "min_ms", "max_ms"],
    "history": ["lot", "yield", "syl", "this_lot"],
    "signatures": ["wafer_id", "signature", "confidence", "dies", "wafer_yield", "centre_yield", "middle_yield",
                   "edge_yield", "largest_cluster_dies", "stored"],
    "inline_defects": ["step_id", "classnumber", "classname", "wafers", "defects", "inspected_dies", "defective_dies",
                       "defective_failed", "failed_dies", "kill_ratio", "capture_rate", "defect_limited_yield",
                       "defect_density"],
}  # fmt: skip


def _hold_reasons(report: LotReport) -> pa.Table:
    """rule, reason: one row per reason the lot is held at its stage."""
    rows = [(r.rule, r.text) for h in report.holds or () for r in h.reasons]
    return pa.table({"rule": [r for r, _ in rows], "reason": [t for _, t in rows]},
                    schema=pa.schema([("rule", pa.string()), ("reason", pa.string())]))  # fmt: skip


def _sections(report: LotReport) -> list[tuple[str, str, pa.Table, list[str]]]:
    """(key, title, table, columns) of the report's tables, in reading order."""
    out = []
    if report.holds is not None:
        out.append(("disposition", N_("Disposition: why the lot is held"), _hold_reasons(report),
                    _TABLE_COLUMNS["disposition"]))  # fmt: skip
    out += [
        ("files", N_("Files"), report.files, _TABLE_COLUMNS["files"]),
        ("wafer_yield", N_("Yield per wafer"), report.wafer_yield, _TABLE_COLUMNS["wafer_yield"]),
    ]  # fmt: skip
    if report.spatial is not None:
        out.append(("signatures", "Wafer-map signature and zonal yield per wafer (rings of equal area)",
                    report.spatial.wafers, _TABLE_COLUMNS["signatures"]))  # fmt: skip
        if report.spatial.defect_yield is not None:
            out.append(("inline_defects", "Inline defects on the wafer-sort dies: kill ratio per step and class",
                        report.spatial.defect_yield, _TABLE_COLUMNS["inline_defects"]))  # fmt: skip
    if report.site_yield is not None:
        out.append(("site_yield", N_("First-pass yield per test site"), report.site_yield.sites,
                    _TABLE_COLUMNS["site_yield"]))  # fmt: skip
    out += [
        ("hard_pareto", N_("Failing hard bins (Pareto)"), report.hard_pareto, _TABLE_COLUMNS["pareto"]),
        ("soft_pareto", N_("Failing soft bins (Pareto)"), report.soft_pareto, _TABLE_COLUMNS["pareto"]),
        ("hard_bins", N_("Hard bins (final test of each die)"), report.hard_bins, _TABLE_COLUMNS["bins"]),
        ("soft_bins", N_("Soft bins (final test of each die)"), report.soft_bins, _TABLE_COLUMNS["bins"]),
        ("reconciliation", N_("Tester bin summary (HBR / SBR) against the parts"), report.reconciliation,
         _TABLE_COLUMNS["reconciliation"]),
    ]  # fmt: skip
    if report.retest_recovery is not None:
        out.append(("retest_recovery", N_("Retest recovery: dies failing first pass, per first-pass hard bin"),
                    report.retest_recovery, _TABLE_COLUMNS["retest_recovery"]))  # fmt: skip
    if report.bin_switching is not None:
        matrix = switching_matrix(report.bin_switching)
        out.append(("bin_switching", N_("Bin switching: dies per first-pass hard bin (rows) and final hard bin"),
                    matrix, matrix.column_names))  # fmt: skip
    if report.throughput is not None:
        out.append(("test_time", N_("Test time per site (PRR TEST_T, ms)"), report.throughput.per_site,
                    _TABLE_COLUMNS["test_time"]))  # fmt: skip
    out += [
        ("worst_cpk", N_("Worst tests by Cpk"), report.worst_cpk, _TABLE_COLUMNS["tests"]),
        ("worst_fails", N_("Worst tests by fails"), report.worst_fails, _TABLE_COLUMNS["tests"]),
    ]  # fmt: skip
    if report.screening is not None:
        out += [
            ("screening_rules", N_("Screening: the recipe's rules"), report.screening.rules, _TABLE_COLUMNS["rules"]),
            ("screening_by_rule", N_("Screening: parts rejected per rule"), report.screening.by_rule,
             _TABLE_COLUMNS["by_rule"]),
            ("screening_by_test", N_("Screening: parts rejected per test"), report.screening.by_test,
             _TABLE_COLUMNS["by_test"]),
        ]  # fmt: skip
    if report.history is not None:
        out.append(("history", N_("The lot against its history (yield per lot, AEC-Q002 SYL)"), report.history,
                    _TABLE_COLUMNS["history"]))  # fmt: skip
    return out


def _headline(report: LotReport) -> list[tuple[str, str]]:
    y = report.lot_yield
    lines = [
        (N_("lot"), str(report.lot_id)),
        (N_("stage"), report.stage or ""),
        (N_("files"), str(report.files.num_rows)),
        (N_("wafers"), str(len(report.wafer_maps)) if report.wafer_maps else "none (no die coordinates)"),
        (N_("dies"), f"{y['first_pass_dies']:,}"),
        (N_("first-pass yield"), _cell_text("first_pass_yield", y["first_pass_yield"])),
        (N_("final yield"), _cell_text("final_yield", y["final_yield"])),
        (N_("retests"), f"{y['retests']:,}"),
        (N_("parts without verdict"), f"{y['no_verdict']:,}"),
    ]
    lines += _site_facts(report) + _throughput_facts(report)
    if report.holds is not None:
        rules = [r.rule for h in report.holds for r in h.reasons]
        lines.append((N_("disposition"), f"held: {', '.join(dict.fromkeys(rules))}" if rules else "not held"))
    s = report.screening
    if s is not None:
        lines += [
            (N_("screening recipe"), f"{s.recipe.get('name')} {s.recipe.get('version')} (sha256 {s.recipe.get('sha256', '')[:12]})"),
            (N_("screened parts"), f"{s.screened_parts:,} of {s.parts:,}"),
            (N_("yield before / after screening"),
             f"{_cell_text('yield_before', s.yield_before)} / {_cell_text('yield_after', s.yield_after)}"),
        ]  # fmt: skip
    return lines


def _site_facts(report: LotReport) -> list[tuple[str, str]]:
    test = report.site_yield
    if test is None:
        return []
    if test.p_value is None:
        return [(N_("test sites"), test.note or "")]
    worst = f"worst site {test.worst_head}/{test.worst_site} at {_cell_text('yield', test.worst_yield)}"
    differ = [f"{r['head']}/{r['site']}" for r in test.sites.to_pylist() if r["differs"]]
    verdict = f"sites differing ({test.correction}, alpha {format_number(test.alpha)}): {', '.join(differ) or 'none'}"
    return [
        (
            N_("test sites"),
            f"chi2 {format_number(test.chi2)}, dof {test.dof}, p {format_number(test.p_value, 3)}; {worst}; {verdict}",
        )
    ]


def _throughput_facts(report: LotReport) -> list[tuple[str, str]]:
    found = report.throughput
    if found is None:
        return []

    def number(value, unit=""):
        return "n/a" if value is None else f"{value:,.0f}{unit}"

    return [
        (N_("test time"), f"mean {number(found.mean_ms, ' ms')}, median {number(found.median_ms, ' ms')} "
                      f"over {found.timed_parts:,} of {found.parts:,} parts"),
        (N_("units per hour"), f"tester {number(found.tester_uph)} ({found.touchdowns:,} touchdowns, "
                           f"{'n/a' if found.parts_per_touchdown is None else f'{found.parts_per_touchdown:.2f}'} "
                           f"parts each); wall clock {number(found.wall_clock_uph)}"),
    ]  # fmt: skip


def _bin_colours(report: LotReport) -> dict[int, str]:
    """One colour per hard bin of the lot's maps, the same in every map, HTML, PDF and JSON."""
    return bin_colours(report.wafer_maps)


def _drawings(report: LotReport) -> tuple[MapDrawing | None, list[MapDrawing]]:
    """The stacked map's and each wafer map's drawing, the wafers sharing one bin palette."""
    stacked = None
    if report.stacked_map is not None:
        stacked = describe_map(report.stacked_map, report.orientation,
                               title="fraction of wafers failing at each position")  # fmt: skip
    colours = _bin_colours(report)
    return stacked, [describe_map(m, report.orientation, colours=colours, title=f"wafer {m.wafer_id}")
                     for m in report.wafer_maps]  # fmt: skip


def _lot_legend(drawings: Sequence[MapDrawing]):
    """The legend entries of all wafer maps, one per bin, in bin order."""
    entries = {e.bin: e for d in drawings for e in d.legend}
    return [entries[b] for b in sorted(entries)]


# --------------------------------------------------------------------------------------------
# HTML

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.25em .6em}th{background:#f3f3f3;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
table.facts th{width:16em}
.maps{display:flex;flex-wrap:wrap;gap:1.5em}.map{text-align:center;font-size:.85em}
.legend span{display:inline-block;margin:0 .6em .2em 0}.swatch{display:inline-block;width:.9em;height:.9em;
vertical-align:middle;margin-right:.25em;border:1px solid #999}
.note{color:#7a4b00}.empty{color:#777;font-style:italic}
tr.mismatch td{background:#fde2e2}
"""


def _html_table(key: str, table: pa.Table, columns: list[str], language: str = DEFAULT_LANGUAGE) -> str:
    if table.num_rows == 0:
        return f'<p class="empty" data-table="{key}">none</p>'
    columns = [c for c in columns if c in table.column_names]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in table.to_pylist():
        cells = []
        for c in columns:
            value = row[c]
            shown = _cell_text(c, value)
            # A hold reason or a note in the reader's language (the JSON below keeps the English).
            text = html.escape(translate_computed(shown, language) if isinstance(value, str) else shown)
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if numeric:
                exact = _plain(value)
                cells.append(f'<td class="num" data-column="{c}" data-value="{exact if exact is not None else ""}">'
                             f"{text}</td>")  # fmt: skip
            else:
                cells.append(f'<td data-column="{c}">{text}</td>')
        flagged = key == "reconciliation" and row.get("status") in (
            "mismatch",
            "not in parts",
            "not in summary",
        )
        row_class = ' class="mismatch"' if flagged else ""
        body.append(f"<tr{row_class}>{''.join(cells)}</tr>")
    return f'<table data-table="{key}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _svg_map(drawing: MapDrawing, wafer_id: str | None, caption: str) -> str:
    svg = map_svg(drawing)
    return f'<div class="map" data-wafer="{html.escape(str(wafer_id))}">{svg}<div>{html.escape(caption)}</div></div>'


def _html_legend(entries) -> str:
    return '<p class="legend">' + "".join(
        f'<span><i class="swatch" style="background:{e.colour}"></i>{html.escape(e.label)}</span>' for e in entries
    ) + "</p>"  # fmt: skip


def _html_maps(report: LotReport) -> str:
    if not report.wafer_maps:
        return '<p class="empty">no wafer maps: the parts have no die coordinates</p>'
    stacked, drawings = _drawings(report)
    parts = []
    if stacked is not None:
        parts.append("<h3>Stacked fail map (fraction of wafers failing at each die position)</h3>")
        parts.append(f'<div class="maps">{_svg_map(stacked, None, "fail fraction")}</div>')
        parts.append(_html_legend(stacked.legend))
    parts.append("<h3>Hard bin map per wafer (final test of each die)</h3>")
    maps = "".join(_svg_map(d, m.wafer_id, d.title) for d, m in zip(drawings, report.wafer_maps, strict=True))
    parts.append(f'<div class="maps">{maps}</div>')
    parts.append(_html_legend(_lot_legend(drawings)))
    return "".join(parts)


def _svg_number(value: float) -> str:
    return f"{value:.2f}"


def _test_label(box: Mapping[str, Any]) -> str:
    name = box.get("test_name") or ""
    pin = f" pin {box['pin']}" if box.get("pin") is not None else ""
    units = f" [{box['units']}]" if box.get("units") else ""
    return f"{box['test_num']} {name}{pin}{units}".strip()


def _distribution_svg(box: Mapping[str, Any], bins: Sequence[Mapping[str, Any]], width: int = 300) -> str:
    """A test's histogram of final results, its box plot (Tukey) under it and its limits as red
    dashed lines, on one value axis that spans data and limits."""
    height, left, right, top, hist_bottom, box_top, box_bottom = 150, 8, width - 8, 14, 100, 108, 128
    limits = [v for v in (box.get("lo_limit"), box.get("hi_limit")) if v is not None and math.isfinite(v)]
    values = [b["lower"] for b in bins] + [b["upper"] for b in bins] + limits
    values += [v for v in (box.get("min"), box.get("max")) if v is not None]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    span = (high - low) or (abs(high) or 1.0)
    low, high = low - 0.04 * span, high + 0.04 * span

    def x_of(v: float) -> float:
        return left + (v - low) / (high - low) * (right - left)

    parts = []
    tallest = max((b["count"] for b in bins), default=0) or 1
    for b in bins:
        h = (hist_bottom - top) * b["count"] / tallest
        x0, x1 = x_of(b["lower"]), x_of(b["upper"])
        parts.append(f'<rect x="{_svg_number(x0)}" y="{_svg_number(hist_bottom - h)}" width="{_svg_number(max(x1 - x0, 0.5))}" '
                     f'height="{_svg_number(h)}" fill="#4c72b0" data-count="{b["count"]}"/>')  # fmt: skip
    if box.get("q1") is not None:
        mid = (box_top + box_bottom) / 2
        q1, q3, med = x_of(box["q1"]), x_of(box["q3"]), x_of(box["median"])
        wl, wh = x_of(box["whisker_low"]), x_of(box["whisker_high"])
        parts.append(f'<line x1="{_svg_number(wl)}" y1="{mid}" x2="{_svg_number(q1)}" y2="{mid}" stroke="#333"/>'
                     f'<line x1="{_svg_number(q3)}" y1="{mid}" x2="{_svg_number(wh)}" y2="{mid}" stroke="#333"/>'
                     f'<rect x="{_svg_number(q1)}" y="{box_top}" width="{_svg_number(max(q3 - q1, 0.5))}" '
                     f'height="{box_bottom - box_top}" fill="#dde6f3" stroke="#333" data-box="q1-q3"/>'
                     f'<line x1="{_svg_number(med)}" y1="{box_top}" x2="{_svg_number(med)}" y2="{box_bottom}" '
                     f'stroke="#333" stroke-width="2"/>')  # fmt: skip
        parts += [f'<circle cx="{_svg_number(x_of(v))}" cy="{mid}" r="1.5" fill="#c44e52"/>'
                  for v in (box.get("outliers") or [])[:200]]  # fmt: skip
    for name, v in (("LSL", box.get("lo_limit")), ("USL", box.get("hi_limit"))):
        if v is None or not math.isfinite(v):
            continue
        x = _svg_number(x_of(v))
        parts.append(f'<line x1="{x}" y1="{top - 4}" x2="{x}" y2="{box_bottom}" stroke="#d62728" '
                     f'stroke-dasharray="4 2" data-limit="{name}" data-value="{_plain(v)}"/>'
                     f'<text x="{x}" y="{top - 5}" font-size="9" text-anchor="middle" fill="#d62728">{name}</text>')  # fmt: skip
    parts.append(f'<text x="{left}" y="{height - 6}" font-size="9">{html.escape(format_number(low))}</text>'
                 f'<text x="{right}" y="{height - 6}" font-size="9" text-anchor="end">{html.escape(format_number(high))}</text>')  # fmt: skip
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" data-test-num="{box["test_num"]}" data-n="{box["n"]}"><title>{html.escape(_test_label(box))}'
        f"</title>{''.join(parts)}</svg>"
    )


def _grouped_bins(report: LotReport) -> dict[tuple, list[dict[str, Any]]]:
    keys = ("test_type", "test_num", "test_name", "pin")
    grouped: dict[tuple, list[dict[str, Any]]] = {}
    for row in report.distributions.histograms.to_pylist():
        grouped.setdefault(tuple(row[k] for k in keys), []).append(row)
    return grouped


def _html_distributions(report: LotReport) -> str:
    if report.distributions is None or report.distributions.boxes.num_rows == 0:
        return '<p class="empty">no final results of the worst tests to draw</p>'
    keys = ("test_type", "test_num", "test_name", "pin")
    grouped = _grouped_bins(report)
    charts = []
    for box in report.distributions.boxes.to_pylist():
        caption = f"{_test_label(box)}: n {box['n']:,}" + (
            f", {box['alarmed']:,} alarmed left out" if box["alarmed"] else ""
        )
        svg = _distribution_svg(box, grouped.get(tuple(box[k] for k in keys), []))
        charts.append(f'<div class="map">{svg}<div>{html.escape(caption)}</div></div>')
    return ('<h2>Distributions of the worst tests (final results; limits dashed)</h2>'
            f'<div class="maps" data-chart="distributions">{"".join(charts)}</div>')  # fmt: skip


def _html_screened_maps(report: LotReport) -> str:
    drawings, legend = _screened_maps(report)
    if not drawings:
        return ""
    maps = "".join(_svg_map(d, wafer, d.title) for wafer, d in drawings)
    return ("<h2>Dies screening removed, coloured by the first rule that removed each (recipe precedence)</h2>"
            f'<div class="maps" data-chart="screened-maps">{maps}</div>{_html_legend(legend)}')  # fmt: skip


def _history_svg(history: pa.Table, width: int = 560, height: int = 220) -> str:
    """Final yield per lot (points, the lot reported in red) and the SYL in force for each lot
    (dashed line), lots in the history's order."""
    rows = history.to_pylist()
    left, right, top, bottom = 44, width - 10, 10, height - 40
    values = [v for r in rows for v in (r["yield"], r["syl"]) if v is not None]
    low = max(0.0, min(values, default=0.0) - 0.02)
    high = min(1.0, max(values, default=1.0) + 0.02)
    if high <= low:
        low, high = max(0.0, high - 0.1), min(1.0, low + 0.1)
    step = (right - left) / max(len(rows) - 1, 1)

    def y_of(v: float) -> float:
        return bottom - (v - low) / (high - low) * (bottom - top)

    parts = [f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#999"/>',
             f'<text x="{left - 4}" y="{_svg_number(y_of(high))}" font-size="9" text-anchor="end">{100 * high:.0f}%</text>',
             f'<text x="{left - 4}" y="{_svg_number(y_of(low))}" font-size="9" text-anchor="end">{100 * low:.0f}%</text>']  # fmt: skip
    segment: list[str] = []
    segments = []
    for i, r in enumerate(rows):
        if r["syl"] is None:
            segments.append(segment)
            segment = []
            continue
        segment.append(f"{_svg_number(left + i * step)},{_svg_number(y_of(r['syl']))}")
    segments.append(segment)
    parts += [f'<polyline points="{" ".join(seg)}" fill="none" stroke="#d62728" stroke-dasharray="5 3" data-line="syl"/>'
              for seg in segments if seg]  # fmt: skip
    for i, r in enumerate(rows):
        x = _svg_number(left + i * step)
        if r["yield"] is not None:
            colour, radius = ("#d62728", 5) if r["this_lot"] else ("#4c72b0", 3.5)
            parts.append(f'<circle cx="{x}" cy="{_svg_number(y_of(r["yield"]))}" r="{radius}" fill="{colour}" '
                         f'data-lot="{html.escape(str(r["lot"]))}" data-yield="{_plain(r["yield"])}"/>')  # fmt: skip
        if len(rows) <= 30 or r["this_lot"]:
            parts.append(f'<text x="{x}" y="{bottom + 12}" font-size="8" text-anchor="end" '
                         f'transform="rotate(-40 {x} {bottom + 12})">{html.escape(str(r["lot"]))}</text>')  # fmt: skip
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" data-chart="history"><title>final yield per lot and SYL</title>{"".join(parts)}</svg>'
    )


def _html_after(key: str, report: LotReport) -> str:
    """What the HTML shows after the table ``key``: maps, charts and the sections' notes."""
    if key == "wafer_yield":
        return "<h2>Wafer maps</h2>" + _html_maps(report)
    if key == "site_yield" and report.site_yield is not None:
        facts = " ".join(v for _, v in _site_facts(report))
        note = report.site_yield.note
        return f"<p>{html.escape(facts)}</p>" + (
            f'<p class="note">{html.escape(note)}</p>' if note and note != facts else ""
        )
    if key == "test_time" and report.throughput is not None:
        facts = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in _throughput_facts(report)
        )
        notes = "".join(f'<li class="note">{html.escape(n)}</li>' for n in report.throughput.notes)
        return f'<table class="facts" data-table="throughput">{facts}</table>' + (
            f"<ul>{notes}</ul>" if notes else ""
        )
    if key == "worst_fails":
        return _html_distributions(report)
    if key == "screening_by_test":
        return _html_screened_maps(report)
    if key == "history" and report.history is not None:
        return f'<div class="map">{_history_svg(report.history)}</div>'
    if key == "signatures" and report.spatial is not None and report.spatial.notes:
        return (
            "<ul>"
            + "".join(f'<li class="note">{html.escape(n)}</li>' for n in report.spatial.notes)
            + "</ul>"
        )
    if key == "inline_defects":
        return _html_defect_maps(report)
    return ""


def defect_colours(defects: pa.Table) -> dict[str, str]:
    """One colour per defect class (step and name) of the placed defects, in order of first sight."""
    keys = dict.fromkeys(_defect_key(r) for r in defects.to_pylist())
    return dict(zip(keys, rule_colours([str(i) for i in range(len(keys))]).values(), strict=True))


def _defect_key(row: Mapping[str, Any]) -> str:
    return f"{row.get('step_id') or ''} {row.get('classname') or row.get('classnumber')}".strip()


def _html_defect_maps(report: LotReport) -> str:
    """The hard bin map of each inspected wafer with its inline defects drawn on it (crosses,
    coloured by step and class)."""
    spatial = report.spatial
    if spatial is None or spatial.defects is None or spatial.defects.num_rows == 0:
        return ""
    rows = [r for r in spatial.defects.to_pylist() if r["x"] is not None]
    colours = defect_colours(spatial.defects)
    by_wafer: dict[str, list[dict]] = {}
    for r in rows:
        by_wafer.setdefault(r["wafer_id"], []).append(r)
    _, drawings = _drawings(report)
    maps = []
    for drawing, wafer_map in zip(drawings, report.wafer_maps, strict=True):
        defects = by_wafer.get(wafer_map.wafer_id)
        if not defects:
            continue
        markers = [(r["x"], r["y"], colours[_defect_key(r)], _defect_key(r)) for r in defects]
        svg = map_svg(drawing, markers=markers)
        caption = f"{wafer_map.wafer_id}: {len(defects)} defects"
        maps.append(f'<div class="map" data-wafer="{html.escape(str(wafer_map.wafer_id))}" data-defects="{len(defects)}">'
                    f"{svg}<div>{html.escape(caption)}</div></div>")  # fmt: skip
    legend = _html_legend([LegendEntry(label, colour) for label, colour in colours.items()])
    return ("<h3>Inline defects on the hard bin maps (crosses, by step and class)</h3>"
            f'<div class="maps" data-chart="defect-maps">{"".join(maps)}</div>{legend}')  # fmt: skip


def render_html(report: LotReport, language: str = DEFAULT_LANGUAGE) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG, no external asset); its
    title, headings and headline labels in ``language`` (:mod:`silicio.i18n`)."""
    _ = translation(language).gettext
    title = _("Lot %(lot)s") % {"lot": report.lot_id} + (f" - {report.stage}" if report.stage else "")
    facts = "".join(
        f"<tr><th>{html.escape(_(k))}</th><td>{html.escape(v)}</td></tr>" for k, v in _headline(report)
    )
    notes = [*report.notes, *(report.screening.notes if report.screening else ())]
    body = [f"<h1>{html.escape(title)}</h1>", f'<table class="facts" data-table="headline">{facts}</table>']
    if notes:
        shown = (translate_computed(n, language) for n in notes)
        body.append("<ul>" + "".join(f'<li class="note">{html.escape(n)}</li>' for n in shown) + "</ul>")
    for key, heading, table, columns in _sections(report):
        body.append(f"<h2>{html.escape(_(heading))}</h2>")
        body.append(_html_table(key, table, columns, language))
        body.append(_html_after(key, report))
    # "</" would end the script element early; JSON allows "<\/" for the same text.
    data = json.dumps(report_data(report), allow_nan=False).replace("</", "<\\/")
    return (
        f'<!DOCTYPE html>\n<html lang="{LANGUAGES[language]}"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        + "".join(body)
        + f'<script type="application/json" id="{_JSON_ID}">{data}</script></body></html>\n'
    )


# --------------------------------------------------------------------------------------------
# PDF


def _table_page_count(table: pa.Table) -> int:
    return max(1, math.ceil(table.num_rows / PDF_TABLE_ROWS))


def pdf_layout(report: LotReport) -> list[str]:
    """What each page of :func:`render_pdf` shows, in order: a summary page; per table of the
    report one page per :data:`PDF_TABLE_ROWS` rows (one page when empty); the Pareto charts
    after the Pareto tables; the stacked fail map and then :data:`PDF_MAPS_PER_PAGE` wafer maps
    a page (wafer sort); after the worst tests their distributions, :data:`PDF_MAPS_PER_PAGE` a
    page; after the screening its map of removed dies per wafer, as many a page; after the lot
    history its chart."""
    pages = ["summary"]
    for key, _, table, _ in _sections(report):
        pages += [key] * _table_page_count(table)
        if key == "soft_pareto":
            pages.append("pareto_chart")
        if key == "wafer_yield" and report.stacked_map is not None:
            pages.append("stacked_map")
            pages += ["wafer_maps"] * math.ceil(len(report.wafer_maps) / PDF_MAPS_PER_PAGE)
        if key == "worst_fails" and report.distributions is not None:
            pages += ["distributions"] * math.ceil(report.distributions.boxes.num_rows / PDF_MAPS_PER_PAGE)
        if key == "screening_by_test":
            pages += ["screened_maps"] * math.ceil(len(_screened_maps(report)[0]) / PDF_MAPS_PER_PAGE)
        if key == "history":
            pages.append("history_chart")
    return pages


def render_pdf(report: LotReport, path: str | os.PathLike[str]) -> int:
    """Writes the report as a PDF (matplotlib, A4 landscape pages); returns its page count.

    The pages are those :func:`pdf_layout` lists.
    """
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    def page(title: str) -> Figure:
        fig = Figure(figsize=(11.69, 8.27))
        fig.suptitle(title, x=0.04, ha="left", fontsize=13, fontweight="bold")
        return fig

    pages = 0
    title_prefix = f"Lot {report.lot_id}"
    with PdfPages(path) as pdf:

        def save(fig: Figure) -> None:
            nonlocal pages
            pdf.savefig(fig)
            pages += 1

        fig = page(f"{title_prefix}" + (f" - {report.stage}" if report.stage else ""))
        ax = fig.add_axes((0.05, 0.05, 0.9, 0.85))
        ax.axis("off")
        notes = [*report.notes, *(report.screening.notes if report.screening else ())]
        lines = [f"{k}: {v}" for k, v in _headline(report)] + [""] + [f"note: {n}" for n in notes[:12]]
        ax.text(0, 1, "\n".join(lines), va="top", family="monospace", fontsize=9, wrap=True)
        save(fig)
        for key, heading, table, columns in _sections(report):
            for index in range(_table_page_count(table)):
                chunk = table.slice(index * PDF_TABLE_ROWS, PDF_TABLE_ROWS)
                fig = page(f"{title_prefix}: {heading}" + (f" ({index + 1})" if index else ""))
                _pdf_table(fig, chunk, [c for c in columns if c in table.column_names])
                save(fig)
            if key == "soft_pareto":
                save(_pareto_page(page(f"{title_prefix}: failing bins (Pareto)"), report))
            if key == "wafer_yield" and report.stacked_map is not None:
                for fig in _map_pages(page, title_prefix, report):
                    save(fig)
            if key == "worst_fails":
                for fig in _distribution_pages(page, title_prefix, report):
                    save(fig)
            if key == "screening_by_test":
                for fig in _screened_map_pages(page, title_prefix, report):
                    save(fig)
            if key == "history":
                save(_history_page(page(f"{title_prefix}: the lot against its history"), report))
    return pages


def _pdf_table(fig, table: pa.Table, columns: list[str]) -> None:
    ax = fig.add_axes((0.03, 0.03, 0.94, 0.88))
    ax.axis("off")
    if table.num_rows == 0:
        ax.text(0, 1, "none", va="top", style="italic")
        return
    cells = [[_cell_text(c, row[c])[:40] for c in columns] for row in table.to_pylist()]
    shown = ax.table(cellText=cells, colLabels=columns, loc="upper center", cellLoc="right")
    shown.auto_set_font_size(False)
    shown.set_fontsize(7)
    shown.scale(1, 1.15)


def _pareto_page(fig, report: LotReport):
    for i, (kind, table) in enumerate((("hard", report.hard_pareto), ("soft", report.soft_pareto))):
        ax = fig.add_subplot(1, 2, i + 1)
        rows = table.slice(0, 15).to_pylist()
        if not rows:
            ax.axis("off")
            ax.set_title(f"{kind} bins: no failing parts")
            continue
        labels = [str(r["bin"]) for r in rows]
        ax.bar(labels, [r["count"] for r in rows], color="#c44e52")
        twin = ax.twinx()
        twin.plot(labels, [r["cumulative_percent"] for r in rows], color="#333", marker="o")
        twin.set_ylim(0, 105)
        twin.set_ylabel("cumulative % of fails")
        ax.set_xlabel(f"{kind} bin")
        ax.set_ylabel("failing dies")
        ax.set_title(f"{kind} bins")
    return fig


def _map_pages(page, title_prefix: str, report: LotReport):
    from matplotlib.patches import Patch

    stacked, drawings = _drawings(report)
    fig = page(f"{title_prefix}: stacked fail map")
    ax = fig.add_subplot(1, 1, 1)
    draw_on_axes(ax, stacked)
    ax.legend(handles=legend_handles(stacked), loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    yield fig
    handles = [Patch(color=e.colour, label=e.label) for e in _lot_legend(drawings)][:20]
    for start in range(0, len(drawings), PDF_MAPS_PER_PAGE):
        fig = page(f"{title_prefix}: hard bin maps")
        for i, drawing in enumerate(drawings[start : start + PDF_MAPS_PER_PAGE]):
            ax = fig.add_subplot(2, 3, i + 1)
            draw_on_axes(ax, drawing)
            ax.tick_params(labelsize=6)
        fig.legend(handles=handles, loc="lower center", ncol=10, fontsize=7)
        yield fig


def _distribution_pages(page, title_prefix: str, report: LotReport):
    """Histogram of each worst test's final results, its box plot above the bars, limits dashed."""
    if report.distributions is None:
        return
    keys = ("test_type", "test_num", "test_name", "pin")
    grouped = _grouped_bins(report)
    boxes = report.distributions.boxes.to_pylist()
    for start in range(0, len(boxes), PDF_MAPS_PER_PAGE):
        fig = page(f"{title_prefix}: distributions of the worst tests")
        for i, box in enumerate(boxes[start : start + PDF_MAPS_PER_PAGE]):
            ax = fig.add_subplot(2, 3, i + 1)
            bins = grouped.get(tuple(box[k] for k in keys), [])
            tallest = max((b["count"] for b in bins), default=1) or 1
            ax.bar([b["lower"] for b in bins], [b["count"] for b in bins], align="edge",
                   width=[b["upper"] - b["lower"] for b in bins], color="#4c72b0")  # fmt: skip
            if box["q1"] is not None:
                ax.bxp([{"med": box["median"], "q1": box["q1"], "q3": box["q3"], "whislo": box["whisker_low"],
                         "whishi": box["whisker_high"], "fliers": box["outliers"]}],
                       positions=[tallest * 1.15], widths=tallest * 0.1, orientation="horizontal", manage_ticks=False)  # fmt: skip
            for name, value in (("LSL", box["lo_limit"]), ("USL", box["hi_limit"])):
                if value is not None and math.isfinite(value):
                    ax.axvline(value, color="#d62728", linestyle="--", linewidth=1)
                    ax.text(value, tallest * 1.3, name, color="#d62728", fontsize=7, ha="center")
            ax.set_ylim(0, tallest * 1.4)
            ax.set_title(f"{_test_label(box)} (n {box['n']:,})"[:60], fontsize=8)
            ax.tick_params(labelsize=6)
        yield fig


def _screened_map_pages(page, title_prefix: str, report: LotReport):
    from matplotlib.patches import Patch

    drawings, legend = _screened_maps(report)
    handles = [Patch(color=e.colour, label=e.label) for e in legend]
    for start in range(0, len(drawings), PDF_MAPS_PER_PAGE):
        fig = page(f"{title_prefix}: dies screening removed, by rule")
        for i, (_, drawing) in enumerate(drawings[start : start + PDF_MAPS_PER_PAGE]):
            ax = fig.add_subplot(2, 3, i + 1)
            draw_on_axes(ax, drawing)
            ax.tick_params(labelsize=6)
        fig.legend(handles=handles, loc="lower center", ncol=6, fontsize=7)
        yield fig


def _history_page(fig, report: LotReport):
    rows = report.history.to_pylist()
    ax = fig.add_subplot(1, 1, 1)
    positions = list(range(len(rows)))
    ax.plot(positions, [r["yield"] for r in rows], "o", color="#4c72b0", label="final yield")
    ax.plot(positions, [r["syl"] if r["syl"] is not None else float("nan") for r in rows], "--", color="#d62728",
            label="SYL (AEC-Q002)")  # fmt: skip
    mine = [i for i, r in enumerate(rows) if r["this_lot"]]
    ax.plot(mine, [rows[i]["yield"] for i in mine], "o", color="#d62728", markersize=9, label="this lot")
    ax.set_xticks(positions, [str(r["lot"]) for r in rows], rotation=60, fontsize=6)
    ax.set_ylabel("yield")
    ax.legend(fontsize=8)
    return fig
