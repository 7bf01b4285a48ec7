"""Wafer sort against final test, die by die through the genealogy (die -> unit).

The trace store (:mod:`silicio.trace`) knows which unit each die became (a ``die -> unit`` edge)
and the tester key of each: (lot, wafer, X, Y) at wafer sort, (lot, PART_ID) at final test. With
them a die's final sort result meets its unit's final test result, and:

* per test pair (a sort test and the final test that measures the same thing; by default the
  tests of the same number and name) the agreement of :mod:`silicio.correlate.agreement`;
* the matrix of sort hard bins (rows) against final test hard bins;
* the escapes: dies that passed sort and whose unit failed final test, listed and counted by
  wafer position (X, Y over the wafers), where a map shows whether they cluster (edge, a probe
  card site) or not.

"Final" on each side is the last insertion of the die or unit (a retest supersedes the first).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from silicio.yields.yield_ import as_frame

from .paired import Tolerance, per_test_agreement

__all__ = ["StageCorrelation", "die_unit_pairs", "lot_stage_correlation", "stage_correlation"]

#: Columns of :func:`die_unit_pairs`.
PAIR_COLUMNS = ("die", "unit", "lot_id", "wafer_id", "x", "y", "final_lot_id", "part_id")


def die_unit_pairs(genealogy, tester_keys: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """One row per ``die -> unit`` edge of ``genealogy`` (a :class:`silicio.trace.genealogy.Genealogy`)
    whose die has a wafer-sort tester key and whose unit a final-test one (``tester_keys`` as
    :meth:`silicio.trace.store.TraceStore.tester_keys` gives them): :data:`PAIR_COLUMNS`."""
    kinds = list(genealogy.kind_names)
    if "die" not in kinds or "unit" not in kinds:
        return pl.DataFrame(schema=dict.fromkeys(PAIR_COLUMNS, pl.String))
    die_code, unit_code = kinds.index("die"), kinds.index("unit")
    parent, child = np.asarray(genealogy.parent), np.asarray(genealogy.child)
    node_kinds = np.asarray(genealogy.kinds)
    edges = (node_kinds[parent] == die_code) & (node_kinds[child] == unit_code)
    names = np.asarray(genealogy.names, dtype=object)
    links = pl.DataFrame({"die": names[parent[edges]].tolist(), "unit": names[child[edges]].tolist()},
                         schema={"die": pl.String, "unit": pl.String})  # fmt: skip
    sort_keys = [
        {"die": k["name"], "lot_id": k["lot_id"], "wafer_id": k["wafer_id"], "x": k["x"], "y": k["y"]}
        for k in tester_keys
        if k.get("kind") == "die" and k.get("stage") == "wafer_sort"
    ]
    final_keys = [
        {"unit": k["name"], "final_lot_id": k["lot_id"], "part_id": k["part_id"]}
        for k in tester_keys
        if k.get("kind") == "unit" and k.get("stage") == "final_test"
    ]
    sort_frame = pl.DataFrame(sort_keys, schema={"die": pl.String, "lot_id": pl.String, "wafer_id": pl.String,
                                                 "x": pl.Int64, "y": pl.Int64})  # fmt: skip
    final_frame = pl.DataFrame(final_keys, schema={"unit": pl.String, "final_lot_id": pl.String,
                                                   "part_id": pl.String})  # fmt: skip
    return links.join(sort_frame, on="die").join(final_frame, on="unit").select(PAIR_COLUMNS).sort("die")


@dataclass(frozen=True)
class StageCorrelation:
    """Wafer sort (side a) against final test (side b); see the module notes.

    ``pairs``: die -> unit links with tester data on both sides; ``tests`` / ``disagreeing``: as
    :class:`silicio.correlate.CorrelationReport`'s, per test pair; ``bins``: dies per (sort hard bin,
    final hard bin), long form; ``escapes``: each die that passed sort and whose unit failed final
    test (lot, wafer, X, Y, part id, both bins); ``escapes_by_position``: per (X, Y) the units
    that passed sort and reached final test, the escapes among them and their rate.
    """

    pairs: int
    tested_both: int
    tests: pa.Table
    disagreeing: pa.Table
    bins: pa.Table
    escapes: pa.Table
    escapes_by_position: pa.Table
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        import math

        def rows(table: pa.Table) -> list[dict[str, Any]]:
            return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
                    for r in table.to_pylist()]  # fmt: skip

        return {"pairs": self.pairs, "tested_both": self.tested_both, "tests": rows(self.tests),
                "disagreeing": rows(self.disagreeing), "bins": rows(self.bins), "escapes": rows(self.escapes),
                "escapes_by_position": rows(self.escapes_by_position), "notes": list(self.notes)}  # fmt: skip


def _final(parts: pl.DataFrame, key: list[str], stage: str) -> pl.DataFrame:
    final = parts.filter(pl.col("is_last_test").fill_null(True)) if "is_last_test" in parts.columns else parts
    repeated = final.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in key)).group_by(key).len()
    repeated = repeated.filter(pl.col("len") > 1)
    if repeated.height:
        example = repeated.row(0, named=True)
        raise ValueError(f"{stage}: {repeated.height} tester keys {key} have several final parts "
                         f"(e.g. {({k: example[k] for k in key})}); the parts of one lot at one stage, "
                         "retests consolidated, have one each")  # fmt: skip
    return final


def stage_correlation(
    sort_parts: pa.Table | pl.DataFrame,
    sort_tidy: pa.Table | pl.DataFrame,
    final_parts: pa.Table | pl.DataFrame,
    final_tidy: pa.Table | pl.DataFrame,
    pairs: pl.DataFrame,
    test_pairs: Mapping[int, int] | Sequence[tuple[int, int]] | None = None,
    tolerance: Tolerance | None = None,
) -> StageCorrelation:
    """Correlate wafer sort with final test through ``pairs`` (:func:`die_unit_pairs`).

    ``sort_*`` / ``final_*``: the parts and tidy tables of the lots at each stage (retests
    consolidated: ``is_last_test`` of each die across its files). ``test_pairs``: sort test
    number -> final test number; None pairs the tests of the same number and name."""
    notes: list[str] = []
    pairs = as_frame(pairs, list(PAIR_COLUMNS), "stage_correlation (pairs)")
    needs = ["lot_id", "wafer_id", "x", "y", "part_id", "part_index", "hard_bin", "passed"]
    sort = _final(as_frame(sort_parts, needs, "stage_correlation (sort parts)"),
                  ["lot_id", "wafer_id", "x", "y"], "wafer sort")  # fmt: skip
    final = _final(as_frame(final_parts, needs, "stage_correlation (final parts)"), ["lot_id", "part_id"],
                   "final test")  # fmt: skip
    sort = sort.select("lot_id", "wafer_id", pl.col("x").cast(pl.Int64), pl.col("y").cast(pl.Int64),
                       pl.col("part_index").alias("_sort_index"), pl.col("hard_bin").alias("sort_bin"),
                       pl.col("passed").alias("sort_passed"))  # fmt: skip
    final = final.select(pl.col("lot_id").alias("final_lot_id"), "part_id",
                         pl.col("part_index").alias("_final_index"), pl.col("hard_bin").alias("final_bin"),
                         pl.col("passed").alias("final_passed"))  # fmt: skip
    joined = pairs.join(sort, on=["lot_id", "wafer_id", "x", "y"], how="inner").join(
        final, on=["final_lot_id", "part_id"], how="inner"
    )
    if joined.height < pairs.height:
        notes.append(f"{pairs.height - joined.height} of {pairs.height} die -> unit links have no tester data "
                     "at one of the stages (not tested there, or not in the tables given)")  # fmt: skip
    match = "number_and_name"
    final_tidy_frame = as_frame(final_tidy, ["test_num"], "stage_correlation (final tidy)")
    if test_pairs is not None:
        mapping = dict(test_pairs.items() if isinstance(test_pairs, Mapping) else test_pairs)
        to_sort = {final_num: sort_num for sort_num, final_num in mapping.items()}
        final_tidy_frame = final_tidy_frame.filter(pl.col("test_num").is_in(list(to_sort))).with_columns(
            pl.col("test_num").replace_strict(to_sort, return_dtype=pl.Int64)
        )
        match = "number"  # the sort test's name is shown
    tests, disagreeing = per_test_agreement(
        sort_tidy, final_tidy_frame, joined.get_column("_sort_index").to_numpy(),
        joined.get_column("_final_index").to_numpy(), match, tolerance, notes, "stage_correlation",
    )  # fmt: skip
    bins = (
        joined.group_by(["sort_bin", "final_bin"])
        .agg(pl.len().cast(pl.Int64).alias("units"))
        .sort(["sort_bin", "final_bin"], nulls_last=True)
    )
    passed_sort = joined.filter(pl.col("sort_passed") & pl.col("final_passed").is_not_null())
    escape = ~pl.col("final_passed")
    escapes = (
        passed_sort.filter(escape)
        .select(
            "die", "unit", "lot_id", "wafer_id", "x", "y", "final_lot_id", "part_id", "sort_bin", "final_bin"
        )
        .sort(["lot_id", "wafer_id", "x", "y"], nulls_last=True)
    )
    by_position = (
        passed_sort.group_by(["x", "y"])
        .agg(pl.len().cast(pl.Int64).alias("units"), escape.sum().cast(pl.Int64).alias("escapes"))
        .with_columns((pl.col("escapes") / pl.col("units")).alias("escape_rate"))
        .sort(["x", "y"])
    )
    return StageCorrelation(
        pairs=pairs.height,
        tested_both=joined.height,
        tests=tests,
        disagreeing=disagreeing,
        bins=bins.to_arrow(),
        escapes=escapes.to_arrow(),
        escapes_by_position=by_position.to_arrow(),
        notes=tuple(notes),
    )


def lot_stage_correlation(
    lake, store, sort_lot: str, final_lot: str, test_pairs=None, tolerance: Tolerance | None = None
) -> StageCorrelation:
    """:func:`stage_correlation` of sort lot ``sort_lot`` (stage wafer_sort) and final test lot
    ``final_lot`` (stage final_test) from the lake, through the genealogy of the trace ``store``
    (a :class:`silicio.trace.store.TraceStore`)."""
    from silicio.lake import queries

    for lot, stage in ((sort_lot, "wafer_sort"), (final_lot, "final_test")):
        if stage not in queries.lot_stages(lake, lot):
            raise ValueError(f"no lot {lot!r} at stage {stage} in the lake at {lake.layout.root}")
    pairs = die_unit_pairs(store.genealogy(), store.tester_keys())
    if pairs.height == 0:
        raise ValueError("the genealogy links no die with a wafer-sort key to a unit with a final-test key "
                         "(`silicio trace` loads die -> unit links with their tester keys)")  # fmt: skip
    sides = [
        _lake_side(lake, lot, stage) for lot, stage in ((sort_lot, "wafer_sort"), (final_lot, "final_test"))
    ]
    return stage_correlation(*sides[0], *sides[1], pairs, test_pairs, tolerance)


def _lake_side(lake, lot: str, stage: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A lot's parts (every insertion, is_last_test across its files) and final results, with
    ``part_index`` made unique across the lot's files (file number x 2^32 + row in the file)."""
    from silicio.lake.queries.correlate import lot_final_results, lot_insertions

    parts, results = lot_insertions(lake, lot, stage), lot_final_results(lake, lot, stage)
    files = {sha: n for n, sha in enumerate(dict.fromkeys(parts.get_column("file_sha256").to_list()))}
    unique = (pl.col("file_sha256").replace_strict(files, return_dtype=pl.Int64) * (1 << 32)
              + pl.col("part_index")).alias("part_index")  # fmt: skip
    return parts.with_columns(unique), results.filter(pl.col("file_sha256").is_in(list(files))).with_columns(
        unique
    )
