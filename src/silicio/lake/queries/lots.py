"""A lake's lots: the lot index, the parts and test results of a lot at a stage, its tester bin
summaries, and the inputs of the lake-wide screening and lot statistics.

Every "in test order" here is :func:`silicio.lake.queries.test_order`; every query of one lot
also filters the partition column (``lot = partition_value(lot_id)``) so DuckDB reads only that
lot's folders. Every "final" / "last" result is of its die's last insertion across the lot's files
(:mod:`silicio.lake.queries.insertions`): a retest in a later file supersedes the whole earlier
insertion, also the tests it did not run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from ..layout import WAFER_SORT, partition_value
from ..query import Lake
from . import _BY_START, lots_in_start_order, test_order
from .insertions import first_insertion, join_insertions, last_insertion

__all__ = [
    "LOT_INDEX_SCHEMA",
    "all_parts",
    "bin_records",
    "lot_index",
    "lot_parts",
    "lot_statistics",
    "lot_tidy",
    "screening_inputs",
]

#: Columns of :func:`lot_index` (also its shape when the lake holds nothing).
LOT_INDEX_SCHEMA = {"product": pl.String, "lot": pl.String, "stage": pl.String,
                    "started": pl.Datetime("us", "UTC"), "files": pl.Int64}  # fmt: skip
# Parts columns the screening needs.
_SCREEN_PART_COLUMNS = ("lot_id", "wafer_id", "part_index", "part_id", "x", "y", "hard_bin", "soft_bin", "passed",
                        "die_key")  # fmt: skip


def lot_index(lake: Lake) -> pl.DataFrame:
    """product, lot, stage, started (its first file's start), files: one row per lot and stage,
    in the order their testing began (lots without a start time last)."""
    return lake.polars(
        "SELECT product, lot, stage, min(started) AS started, count(*) AS files FROM files "
        f"WHERE lot IS NOT NULL GROUP BY ALL ORDER BY {lots_in_start_order()}"
    )


def all_parts(lake: Lake) -> pl.DataFrame:
    """Every part of the lake with a lot (product, lot_id, stage and the columns yields need),
    files in test order."""
    return lake.polars(
        "SELECT f.product, p.lot_id, f.stage, p.wafer_id, p.die_key, p.passed, p.soft_bin, p.hard_bin "
        "FROM parts p JOIN files f ON f.sha256 = p.file_sha256 WHERE p.lot_id IS NOT NULL "
        f"ORDER BY {test_order('p')}"
    )


def lot_parts(lake: Lake, lot_id: str, stage: str) -> pa.Table:
    """The parts of lot ``lot_id`` at ``stage`` (the parts view's own columns), files in test
    order: a die's retest comes after its first insertion. ``is_first_test`` / ``is_last_test``
    are of each die across the lot's files."""
    return lake.arrow(
        "SELECT x.* EXCLUDE (file_sha256, product, lot, stage) "
        f"REPLACE ({first_insertion('x')} AS is_first_test, {last_insertion('x')} AS is_last_test) "
        "FROM parts x JOIN files f ON f.sha256 = x.file_sha256 "
        f"{join_insertions('x', _ONE_LOT.format(x='p'))} "
        f"WHERE {_ONE_LOT.format(x='x')} ORDER BY {test_order('x')}",
        _lot_params(lot_id, stage),
    )


def lot_tidy(lake: Lake, lot_id: str, stage: str) -> pa.Table:
    """The test results (tidy view) of lot ``lot_id`` at ``stage``, files in test order, with
    ``is_last_test`` (final) of each row's die across the lot's files: the results of a die's
    superseded insertion are not final, also of tests its retest did not run."""
    return lake.arrow(
        "SELECT x.* EXCLUDE (file_sha256, product, lot, stage) "
        f"REPLACE ({last_insertion('x')} AS is_last_test) "
        "FROM tidy x JOIN files f ON f.sha256 = x.file_sha256 "
        f"{join_insertions('x', _ONE_LOT.format(x='p'))} "
        f"WHERE {_ONE_LOT.format(x='x')} ORDER BY {test_order('x')}",
        _lot_params(lot_id, stage),
    )


# One lot at one stage, for rows of view {x} joined to ``files f``: the partition first.
_ONE_LOT = "{x}.lot = $partition AND {x}.lot_id = $lot AND f.stage = $stage"


def _lot_params(lot_id: str, stage: str) -> dict:
    return {"partition": partition_value(lot_id), "lot": lot_id, "stage": stage}


def bin_records(lake: Lake, lot_id: str, stage: str, kind: str) -> pa.Table | None:
    """The HBR (``kind="hard"``) or SBR (``"soft"``) records of a lot's files at ``stage``;
    None when the lake holds no such record at all."""
    if kind not in ("hard", "soft"):
        raise ValueError(f"bin kind must be 'hard' or 'soft', got {kind!r}")
    return _lot_records(lake, "HBR" if kind == "hard" else "SBR", lot_id, stage)


def wafer_configurations(lake: Lake, lot_id: str, stage: str) -> pa.Table | None:
    """The WCR records (wafer size, die size, flat, which way X and Y grow) of a lot's files at
    ``stage``; None when the lake holds no WCR at all."""
    return _lot_records(lake, "WCR", lot_id, stage)


def _lot_records(lake: Lake, view: str, lot_id: str, stage: str) -> pa.Table | None:
    if view not in lake.tables:
        return None
    return lake.arrow(
        f'SELECT r.* FROM "{view}" r JOIN files f ON f.sha256 = r.file_sha256 '
        "WHERE r.lot = ? AND f.lot = ? AND f.stage = ?",
        [partition_value(lot_id), lot_id, stage],
    )


def lot_statistics(
    lake: Lake,
    product_stage: tuple[str | None, str] | None = None,
    *,
    leaving_out: Sequence[tuple[str | None, str]] = (),
) -> pl.DataFrame:
    """Quartiles of each lot's final results (its dies' last insertions across the lot's files),
    per parametric test: product, stage, lot_id, test_num, test_name, q1, median, q3 (linear
    interpolation between order statistics), in that key order (no product last). The robust sigma is the caller's
    (:mod:`silicio.yields.excursion`), so its constant lives once. ``product_stage``: only that
    product's lots at that stage, read from its partitions alone. ``leaving_out``: (product,
    stage) pairs not read (a caller that holds their rows already), their folders skipped."""
    where, params = "{x}.lot_id IS NOT NULL", {}
    if product_stage is not None:
        product, stage = product_stage
        where += (
            " AND {x}.product = $partition AND f.product IS NOT DISTINCT FROM $product AND f.stage = $stage"
        )
        params = {"product": product, "stage": stage, "partition": partition_value(product)}
    for i, (product, stage) in enumerate(leaving_out):
        where += (
            f" AND NOT ({{x}}.product = $out_folder_{i} AND {{x}}.stage = $out_stage_folder_{i}"
            f" AND f.product IS NOT DISTINCT FROM $out_product_{i} AND f.stage = $out_stage_{i})"
        )
        params |= {f"out_folder_{i}": partition_value(product), f"out_stage_folder_{i}": partition_value(stage),
                   f"out_product_{i}": product, f"out_stage_{i}": stage}  # fmt: skip
    return lake.polars(
        # The three quartiles as one aggregate: each group's results are gathered and sorted once
        # (three holistic aggregates did it three times), the same interpolated values.
        "SELECT product, stage, lot_id, test_num, test_name, quartiles[1] AS q1, quartiles[2] AS median, "
        "quartiles[3] AS q3 FROM ("
        "SELECT f.product, f.stage, t.lot_id, t.test_num, any_value(t.test_name) AS test_name, "
        "quantile_cont(t.result, [0.25, 0.5, 0.75]) AS quartiles "
        "FROM tidy t JOIN files f ON f.sha256 = t.file_sha256 "
        f"{join_insertions('t', where.format(x='p'))} "
        f"WHERE {where.format(x='t')} AND {last_insertion('t')} AND t.result IS NOT NULL AND t.test_type = 'P' "
        "GROUP BY f.product, f.stage, t.lot_id, t.test_num) "
        # A GROUP BY alone gives its rows in any order: this one is the same from run to run.
        "ORDER BY product NULLS LAST, stage, lot_id, test_num",
        params or None,
    )


def screening_inputs(
    lake: Lake, product: str | None, tidy_columns: Sequence[str], stage: str = WAFER_SORT
) -> tuple[pa.Table, pa.Table]:
    """(tidy rows with ``tidy_columns``, parts) of a product's lots at ``stage``, files in test
    order: what a screening of the product reads. ``product=None``: the files without one.

    ``is_last_test`` (of the tidy rows, when asked for) and the parts' ``is_first_test`` /
    ``is_last_test`` are of each die across the lot's files: a retest in a later file
    supersedes the whole earlier insertion.

    Millions of tidy rows, thousands of parts: the tidy view is read for its per-result columns
    alone, unsorted and not joined to the retests; a row's part columns (lot, wafer, place, bins,
    verdict, last insertion) are taken from the parts read here, by (file, part_index), and the
    rows put in test order by their (file, seq), in numpy."""
    where = "f.stage = $stage AND " + ("f.product = $product" if product is not None else "f.product IS NULL")
    params = {"stage": stage} | ({"product": product} if product is not None else {})
    # The partition columns too, so DuckDB reads only the product's folders at that stage.
    folders = "{alias}.product = $product_folder AND {alias}.stage = $stage_folder"
    folder_params = params | {
        "product_folder": partition_value(product),
        "stage_folder": partition_value(stage),
    }
    part_columns = ", ".join(f"p.{c}" for c in _SCREEN_PART_COLUMNS)
    # The retests too are looked for in the product's folders alone, not in every parts file.
    retests = f"{where} AND {folders.format(alias='p')}"
    ranked_parts = lake.arrow(
        f"SELECT f.file_rank, {part_columns}, {first_insertion('p')} AS is_first_test, "
        f"{last_insertion('p')} AS is_last_test "
        f"FROM parts p JOIN {_FILES_RANKED} f ON f.sha256 = p.file_sha256 {join_insertions('p', retests)} "
        f"WHERE {where} AND {folders.format(alias='p')} ORDER BY {_ranked_order('p')}",
        folder_params,
    )
    parts = ranked_parts.drop_columns(["file_rank"])
    of_part = [c for c in tidy_columns if c in _TIDY_PART_COLUMNS]
    of_row = [c for c in tidy_columns if c not in _TIDY_PART_COLUMNS]
    read = ", ".join(f"t.{c}" for c in dict.fromkeys(["part_index", "seq", *of_row]))
    rows = lake.arrow(
        f"SELECT f.file_rank AS _file_rank, {read} FROM tidy t JOIN {_FILES_RANKED} f ON f.sha256 = t.file_sha256 "
        f"WHERE {where} AND {folders.format(alias='t')}",
        folder_params,
    )
    rows, rank = _in_test_order(rows)
    found = _part_of_row(ranked_parts, rank, rows["part_index"])
    if found is None:  # a part in the tidy view that the parts view lacks: the rows' own columns
        return _screening_inputs_joined(lake, tidy_columns, where, folders, folder_params), parts
    part_of_row, outside = found
    frame = pl.from_arrow(rows)
    per_part = pl.from_arrow(ranked_parts).rename({"passed": "part_passed"}).select(of_part)
    assert isinstance(frame, pl.DataFrame) and isinstance(per_part, pl.DataFrame)
    at = pl.Series(part_of_row)
    if outside.any():
        at = at.scatter(np.flatnonzero(outside), None)  # null: a row outside any part
    gathered = per_part.select(pl.all().gather(at))
    own = [c for c in ("lot_id", "wafer_id") if c in of_part]
    if outside.any() and own:
        # Results outside any part carry their file's lot and wafer (and nothing of a part): in
        # test order, as the rows; results of one record share them, so ties need no order.
        orphans = lake.arrow(
            f"SELECT {', '.join(f't.{c}' for c in own)} FROM tidy t JOIN {_FILES_RANKED} f "
            f"ON f.sha256 = t.file_sha256 WHERE {where} AND {folders.format(alias='t')} AND t.part_index IS NULL "
            f"ORDER BY {_ranked_order('t')}",
            folder_params,
        )
        where_outside = np.flatnonzero(outside)
        if orphans.num_rows != where_outside.size:
            return _screening_inputs_joined(lake, tidy_columns, where, folders, folder_params), parts
        gathered = gathered.with_columns(
            gathered[c].scatter(where_outside, pl.Series(orphans[c].combine_chunks())) for c in own
        )
    table = pl.concat([frame, gathered], how="horizontal").select(tidy_columns)
    # Strings as views, as polars holds them: no copy out, none back in for a polars reader.
    return table.to_arrow(compat_level=pl.CompatLevel.newest()), parts


# The tidy columns that are the part's (equal on every row of it, null on rows outside any
# part but for the lot and wafer): read from the parts view once per part.
_TIDY_PART_COLUMNS = frozenset(
    {"lot_id", "wafer_id", "part_id", "x", "y", "hard_bin", "soft_bin", "part_passed", "is_last_test"}
)


def _in_test_order(rows: pa.Table) -> tuple[pa.Table, np.ndarray]:
    """``rows`` (with ``_file_rank`` and ``seq``) sorted by (file rank, seq), ties (the results of
    one record) in the order read, and their file ranks. A parallel scan comes as runs of rows in
    seq order, each of one file: then the runs are put in order (slices, no row copied)."""
    rank = rows["_file_rank"].to_numpy().astype(np.int64)
    seq = rows["seq"].to_numpy().astype(np.int64)
    if rank.size < 2:
        return rows, rank
    # A run ends where the file changes or seq steps back.
    same = rank[1:] == rank[:-1]
    ends_run = ~same | (seq[1:] < seq[:-1])
    if not ends_run.any() or (np.all(rank[1:][ends_run] > rank[:-1][ends_run])):
        return rows, rank
    starts = np.flatnonzero(np.concatenate(([True], ends_run)))
    lengths = np.diff(np.append(starts, rank.size))
    runs = np.lexsort((seq[starts], rank[starts]))
    first, last = starts[runs], (starts + lengths - 1)[runs]
    # In that order, a run of the same file as the one before starts after it ended.
    if np.all((rank[first[1:]] > rank[last[:-1]]) | (seq[first[1:]] > seq[last[:-1]])):
        ordered = pa.concat_tables([rows.slice(int(starts[r]), int(lengths[r])) for r in runs])
        return ordered, np.repeat(rank[first], lengths[runs])
    order = np.lexsort((seq, rank))  # stable
    return rows.take(order), rank[order]


def _part_of_row(
    parts: pa.Table, rank: np.ndarray, part_index: pa.ChunkedArray
) -> tuple[np.ndarray, np.ndarray] | None:
    """For each tidy row its row in ``parts`` (by file rank and part_index; 0 for a row outside
    any part) and whether it is outside any part; None when a row names a part ``parts`` lacks."""
    outside = part_index.is_null().to_numpy(zero_copy_only=False)
    index = pc.fill_null(part_index, 0).to_numpy().astype(np.int64)
    part_rank = parts["file_rank"].to_numpy().astype(np.int64)
    index_of_part = parts["part_index"].to_numpy(zero_copy_only=False).astype(np.int64)
    if not part_rank.size:
        return (np.zeros(rank.size, np.int64), outside) if outside.all() else None
    if index_of_part.min() < 0 or index.min(initial=0) < 0:
        return None
    width = int(max(index_of_part.max(), index.max(initial=0))) + 1
    n_ranks = int(max(part_rank.max(), rank.max(initial=0))) + 1
    # (file rank, part_index) -> row of parts: a table as large as the ranks x the widest file.
    row_of_key = np.full(n_ranks * width, -1, np.int64)
    row_of_key[part_rank * width + index_of_part] = np.arange(part_rank.size)
    at = row_of_key[rank * width + index]
    if np.any((at < 0) & ~outside):
        return None
    return np.where(outside, 0, at), outside


def _screening_inputs_joined(lake: Lake, tidy_columns: Sequence[str], where: str, folders: str,
                             folder_params: dict) -> pa.Table:  # fmt: skip
    """The tidy rows of :func:`screening_inputs` read with every column from the tidy view,
    joined to the retests and sorted in DuckDB: for a lake whose tidy and parts views disagree."""
    columns = ", ".join(
        f"{last_insertion('t')} AS is_last_test" if c == "is_last_test" else f"t.{c}" for c in tidy_columns
    )
    return lake.arrow(
        f"SELECT {columns} FROM tidy t JOIN {_FILES_RANKED} f ON f.sha256 = t.file_sha256 "
        f"{join_insertions('t', where)} WHERE {where} AND {folders.format(alias='t')} ORDER BY {_ranked_order('t')}",
        folder_params,
    )


# The files with their place in test order (the file terms of :func:`test_order`), so that millions
# of rows are sorted by two integers (file_rank, seq), the same order as test_order's, not by the
# files' 64-character content hash.
_FILES_RANKED = f"(SELECT *, row_number() OVER (ORDER BY {_BY_START}, sha256) AS file_rank FROM files)"


def _ranked_order(alias: str) -> str:
    """ORDER BY terms, rows of view ``alias`` joined to :data:`_FILES_RANKED` as ``f``: test order."""
    return f"f.file_rank, {alias}.seq"
