"""The lot report: yield, bins, bin summary reconciliation, wafer maps, worst tests, screening
and disposition (why the lot is held) of one lot, as plain tables (:func:`lot_report`), one self-contained HTML file
(:func:`render_html`) and a PDF (:func:`render_pdf`).

The report composes the analyses of :mod:`silicio.yields`; it computes nothing of its own beyond
choosing rows (the worst tests) and counting the screening's reasons. Its input is a lake
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
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from .bins import bin_counts, bin_definitions, bin_pareto, reconcile_bins
from .disposition import DEFAULT_RECIPE, Disposition, Hold, HoldRules, default_recipe, lake_disposition
from .parametric import per_test_statistics
from .recipe import Recipe, load_recipe
from .rules import LOTS, registered_rules
from .screening import screen
from .wafermap import (
    MapDrawing,
    WaferMap,
    bin_colours,
    bin_map,
    describe_map,
    draw_on_axes,
    legend_handles,
    map_json,
    map_svg,
    stacked_fail_map,
)
from .yield_ import consolidate_retests_tidy, with_test_order, yield_by

__all__ = [
    "DEFAULT_RECIPE",
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

    @property
    def is_wafer_sort(self) -> bool:
        return bool(self.wafer_maps)


# --------------------------------------------------------------------------------------------
# Gathering a lot's tables


@dataclass
class _LotData:
    """Parts and tidy rows of a lot over all its files, part_index renumbered to be unique in
    the lot (file order), and each file's HBR / SBR with the file's own parts."""

    lot_id: str | None
    stage: str | None
    files: list[dict[str, Any]]
    parts: pl.DataFrame
    tidy: pl.DataFrame
    summaries: list[tuple[str, pl.DataFrame, pa.Table | None, pa.Table | None]]


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
            chosen.append(
                (name, None, part_rows.filter(pl.col("lot_id").eq_missing(lot_id)), tidy_rows, summaries)
            )
    if not chosen:
        raise ValueError(
            f"lot {lot_id!r} is not in the data; lots present: {_known_lots_message(list(known))}"
        )
    return _assemble(lot_id, None, chosen)


def _from_lake(lake, lot_id: str | None, stage: str | None) -> _LotData:
    from silicio.lake import queries

    views = set(lake.tables)
    if "parts" not in views:
        raise ValueError("the lake holds no parts (ingest STDF files first)")
    known = queries.lot_ids(lake)
    if lot_id not in known:
        raise ValueError(f"lot {lot_id!r} is not in the lake; lots present: {_known_lots_message(known)}")
    stages = queries.lot_stages(lake, lot_id)
    if stage is None and len(stages) > 1:
        raise ValueError(f"lot {lot_id!r} was tested at several stages, choose one: {', '.join(stages)}")
    if stage is not None and stage not in stages:
        raise ValueError(f"lot {lot_id!r} has no stage {stage!r}; its stages: {', '.join(stages)}")
    stage = stage or stages[0]
    # Files in test order (start time, then content hash); a file's parts in file order.
    file_rows = queries.lot_files(lake, lot_id, stage)
    all_parts = queries.lot_rows(lake, "parts", lot_id, stage)
    all_tidy = queries.lot_rows(lake, "tidy", lot_id, stage) if "tidy" in views else None
    summaries_of = {
        kind: queries.lot_bin_summaries(lake, kind, lot_id, stage) for kind in ("HBR", "SBR") if kind in views
    }
    chosen = []
    for sha, path, started in file_rows:
        part_rows = all_parts.filter(pl.col("file_sha256") == sha).sort("seq")
        tidy_rows = (
            all_tidy.filter(pl.col("file_sha256") == sha).sort("seq", nulls_last=True)
            if all_tidy is not None
            else None
        )
        summaries = {
            kind: frame.filter(pl.col("file_sha256") == sha).sort("HEAD_NUM", "SITE_NUM", maintain_order=True)
            .to_arrow()
            for kind, frame in summaries_of.items()
        }  # fmt: skip
        name = Path(path).name if path else sha[:12]
        chosen.append((name, started, part_rows, tidy_rows, summaries))
    return _assemble(lot_id, stage, chosen)


def _assemble(lot_id, stage, chosen) -> _LotData:
    """One lot from its files (name, start, parts, tidy, {HBR, SBR}) in test order."""
    from silicio.stdf.parts import PARTS_SCHEMA
    from silicio.stdf.tidy import TIDY_SCHEMA

    part_columns, tidy_columns = PARTS_SCHEMA.names, TIDY_SCHEMA.names
    parts_list, tidy_list, files, summaries = [], [], [], []
    offset = 0
    for name, started, part_rows, tidy_rows, kinds in chosen:
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
        parts_list.append(part_rows.with_columns(shift, pl.lit(name).alias(_FILE)))
        tidy_list.append(tidy_rows.with_columns(shift, pl.lit(name).alias(_FILE)))
        files.append({"file": name, "started": started, "parts": part_rows.height,
                      "good": int(part_rows.get_column("passed").fill_null(False).sum())})  # fmt: skip
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


def _screening(data: _LotData, recipe: Recipe, static_limits) -> ScreeningSummary:
    # One lot is no history: a rule that needs more lots uses this one and says so in a note.
    result = screen(
        data.tidy.drop(_FILE), recipe, static_limits, parts=data.parts.drop(_FILE), short_history="note"
    )
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
) -> LotReport:
    """Yield, bins, reconciliation, wafer maps, worst tests and screening of lot ``lot_id``.

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
    * ``worst_cpk`` / ``worst_fails``: the ``top_tests`` rows of
      :func:`~silicio.yields.per_test_statistics` with the lowest Cpk / the most fails;
    * ``screening``: :func:`~silicio.yields.screen` with ``recipe`` (a Recipe or TOML path), or
      for a wafer-sort lot without one the automotive wafer-sort recipe shipped with silicio;
      ``screening.rules`` lists the recipe's rules as each describes itself. Static PAT limits
      come from ``static_limits`` (the lot history) when given, else from the lot itself, with a
      note in ``screening.notes`` (AEC-Q001 asks for six lots).
    * ``holds``: the lot's holds at its stage, every reason with its rule, parameters and evidence:
      from ``disposition`` when given, else, for a lake, :func:`~silicio.yields.disposition.lake_disposition`
      of the lot's product (the hold rules' defaults, ``recipe`` or the automotive wafer-sort recipe),
      as ``silicio holds`` and the dashboard judge it. Not judged for STDF tables.
    """
    from silicio.lake.query import Lake

    holds = None
    if isinstance(lake_or_tables, Lake):
        data = _from_lake(lake_or_tables, lot_id, stage)
        if disposition is None:
            disposition = _lake_disposition(lake_or_tables, data, recipe)
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
    parts = data.parts.drop(_FILE)
    notes: list[str] = []
    overall = yield_by(parts, by=()).to_pylist()[0]
    hbrs = [h for _, _, h, _ in data.summaries]
    sbrs = [s for _, _, _, s in data.summaries]
    hard_names, soft_names = _definitions(hbrs, "hard"), _definitions(sbrs, "soft")
    stacked, maps = _wafer_maps(parts)
    worst_cpk, worst_fails = _worst_tests(data.tidy, top_tests)

    screening = None
    if recipe is None and maps:
        recipe = default_recipe()
    if recipe is not None:
        if not isinstance(recipe, Recipe):
            recipe = load_recipe(recipe)
        if data.tidy.height == 0:
            notes.append("no test results in the lot: screening not run")
        else:
            screening = _screening(data, recipe, static_limits)
    if disposition is not None:
        holds = tuple(disposition.of(data.lot_id, data.stage))
    files = pl.DataFrame(data.files, schema={"file": pl.String, "started": pl.Datetime("us", "UTC"),
                                             "parts": pl.Int64, "good": pl.Int64}, strict=False)  # fmt: skip
    return LotReport(
        lot_id=data.lot_id,
        stage=data.stage,
        files=files.to_arrow(),
        lot_yield=overall,
        wafer_yield=yield_by(parts, by="wafer_id"),
        hard_bins=_with_names(bin_counts(parts, "hard"), hard_names),
        soft_bins=_with_names(bin_counts(parts, "soft"), soft_names),
        hard_pareto=bin_pareto(parts, "hard", names=hard_names.to_arrow()),
        soft_pareto=bin_pareto(parts, "soft", names=soft_names.to_arrow()),
        reconciliation=_reconciliation(data),
        stacked_map=stacked,
        wafer_maps=maps,
        worst_cpk=worst_cpk,
        worst_fails=worst_fails,
        screening=screening,
        notes=tuple(notes),
        holds=holds,
    )


def _lake_disposition(lake, data: _LotData, recipe) -> Disposition:
    """The holds of the lot's product, judged over the lake's lots of that product."""
    from silicio.lake import queries

    index = queries.lot_index(lake)
    products = index.filter((pl.col("lot") == data.lot_id) & (pl.col("stage") == data.stage))["product"]
    if recipe is None:
        recipe = default_recipe()
    elif not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    return lake_disposition(lake, recipe, HoldRules(), products=products.to_list())


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


def _map_data(wafer_map: WaferMap, colours: dict[int, str] | None = None) -> dict[str, Any]:
    """A map's dies, values and drawing (colours, legend, axis directions) as in the dashboard."""
    return {"lot_id": wafer_map.lot_id, "wafer_id": wafer_map.wafer_id} | map_json(wafer_map, colours=colours)


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
        "stacked_map": _map_data(report.stacked_map) if report.stacked_map is not None else None,
        "wafer_maps": [_map_data(m, colours) for m in report.wafer_maps],
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
        },
        "notes": list(report.notes),
        "holds": None if report.holds is None else [_plain(h.as_dict()) for h in report.holds],
    }


# --------------------------------------------------------------------------------------------
# Formatting shared by HTML and PDF

_PERCENT_COLUMNS = {"first_pass_yield", "final_yield", "yield_before", "yield_after"}
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
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}" if column not in ("bin", "test_num", "head", "site", "pin") else str(value)
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
        out.append(("disposition", "Disposition: why the lot is held", _hold_reasons(report),
                    _TABLE_COLUMNS["disposition"]))  # fmt: skip
    out += [
        ("files", "Files", report.files, _TABLE_COLUMNS["files"]),
        ("wafer_yield", "Yield per wafer", report.wafer_yield, _TABLE_COLUMNS["wafer_yield"]),
        ("hard_pareto", "Failing hard bins (Pareto)", report.hard_pareto, _TABLE_COLUMNS["pareto"]),
        ("soft_pareto", "Failing soft bins (Pareto)", report.soft_pareto, _TABLE_COLUMNS["pareto"]),
        ("hard_bins", "Hard bins (final test of each die)", report.hard_bins, _TABLE_COLUMNS["bins"]),
        ("soft_bins", "Soft bins (final test of each die)", report.soft_bins, _TABLE_COLUMNS["bins"]),
        ("reconciliation", "Tester bin summary (HBR / SBR) against the parts", report.reconciliation,
         _TABLE_COLUMNS["reconciliation"]),
        ("worst_cpk", "Worst tests by Cpk", report.worst_cpk, _TABLE_COLUMNS["tests"]),
        ("worst_fails", "Worst tests by fails", report.worst_fails, _TABLE_COLUMNS["tests"]),
    ]  # fmt: skip
    if report.screening is not None:
        out += [
            ("screening_rules", "Screening: the recipe's rules", report.screening.rules, _TABLE_COLUMNS["rules"]),
            ("screening_by_rule", "Screening: parts rejected per rule", report.screening.by_rule,
             _TABLE_COLUMNS["by_rule"]),
            ("screening_by_test", "Screening: parts rejected per test", report.screening.by_test,
             _TABLE_COLUMNS["by_test"]),
        ]  # fmt: skip
    return out


def _headline(report: LotReport) -> list[tuple[str, str]]:
    y = report.lot_yield
    lines = [
        ("lot", str(report.lot_id)),
        ("stage", report.stage or ""),
        ("files", str(report.files.num_rows)),
        ("wafers", str(len(report.wafer_maps)) if report.wafer_maps else "none (no die coordinates)"),
        ("dies", f"{y['first_pass_dies']:,}"),
        ("first-pass yield", _cell_text("first_pass_yield", y["first_pass_yield"])),
        ("final yield", _cell_text("final_yield", y["final_yield"])),
        ("retests", f"{y['retests']:,}"),
        ("parts without verdict", f"{y['no_verdict']:,}"),
    ]
    if report.holds is not None:
        rules = [r.rule for h in report.holds for r in h.reasons]
        lines.append(("disposition", f"held: {', '.join(dict.fromkeys(rules))}" if rules else "not held"))
    s = report.screening
    if s is not None:
        lines += [
            ("screening recipe", f"{s.recipe.get('name')} {s.recipe.get('version')} (sha256 {s.recipe.get('sha256', '')[:12]})"),
            ("screened parts", f"{s.screened_parts:,} of {s.parts:,}"),
            ("yield before / after screening",
             f"{_cell_text('yield_before', s.yield_before)} / {_cell_text('yield_after', s.yield_after)}"),
        ]  # fmt: skip
    return lines


def _bin_colours(report: LotReport) -> dict[int, str]:
    """One colour per hard bin of the lot's maps, the same in every map, HTML, PDF and JSON."""
    return bin_colours(report.wafer_maps)


def _drawings(report: LotReport) -> tuple[MapDrawing | None, list[MapDrawing]]:
    """The stacked map's and each wafer map's drawing, the wafers sharing one bin palette."""
    stacked = None
    if report.stacked_map is not None:
        stacked = describe_map(report.stacked_map, title="fraction of wafers failing at each position")
    colours = _bin_colours(report)
    return stacked, [describe_map(m, colours=colours, title=f"wafer {m.wafer_id}") for m in report.wafer_maps]


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


def _html_table(key: str, table: pa.Table, columns: list[str]) -> str:
    if table.num_rows == 0:
        return f'<p class="empty" data-table="{key}">none</p>'
    columns = [c for c in columns if c in table.column_names]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in table.to_pylist():
        cells = []
        for c in columns:
            value = row[c]
            text = html.escape(_cell_text(c, value))
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


def render_html(report: LotReport) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG, no external asset)."""
    title = f"Lot {report.lot_id}" + (f" - {report.stage}" if report.stage else "")
    facts = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in _headline(report)
    )
    notes = [*report.notes, *(report.screening.notes if report.screening else ())]
    body = [f"<h1>{html.escape(title)}</h1>", f'<table class="facts" data-table="headline">{facts}</table>']
    if notes:
        body.append("<ul>" + "".join(f'<li class="note">{html.escape(n)}</li>' for n in notes) + "</ul>")
    for key, heading, table, columns in _sections(report):
        body.append(f"<h2>{html.escape(heading)}</h2>")
        body.append(_html_table(key, table, columns))
        if key == "wafer_yield":
            body.append("<h2>Wafer maps</h2>" + _html_maps(report))
    # "</" would end the script element early; JSON allows "<\/" for the same text.
    data = json.dumps(report_data(report), allow_nan=False).replace("</", "<\\/")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
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
    a page (wafer sort)."""
    pages = ["summary"]
    for key, _, table, _ in _sections(report):
        pages += [key] * _table_page_count(table)
        if key == "soft_pareto":
            pages.append("pareto_chart")
        if key == "wafer_yield" and report.stacked_map is not None:
            pages.append("stacked_map")
            pages += ["wafer_maps"] * math.ceil(len(report.wafer_maps) / PDF_MAPS_PER_PAGE)
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
