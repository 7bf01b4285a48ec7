"""Queries of the lot history: which lots a product's test program has tested, and their final dies.

:mod:`silicio.yields.history` computes AEC-Q002 SYL / SBL and AEC-Q001 static PAT limits from
what these return; the catalog (:class:`silicio.lake.catalog.Catalog`) stores the versions.

A lot belongs to the test program (MIR JOB_NAM) and revision (JOB_REV) of its first file at the
stage, in test order; its test start is the earliest start of its files there. Its final dies are
the last insertion of each die over all its files at the stage (files in :func:`test_order`), so
a retest supersedes what the die did before.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from ..layout import partition_value
from ..query import Lake
from . import _BY_START, test_order
from .insertions import join_insertions, last_insertion

#: One row per lot of a product at a stage: :func:`history_lots`.
LOT_COLUMNS = pa.schema(
    [
        ("product", pa.string()),
        ("stage", pa.string()),
        ("program", pa.string()),
        ("revision", pa.string()),
        ("lot", pa.string()),
        ("started", pa.timestamp("us", tz="UTC")),
        ("files", pa.int64()),
    ]
)

#: Final dies counted per lot, wafer, bins and verdict: :func:`final_bin_counts`.
BIN_COUNT_COLUMNS = pa.schema(
    [
        ("lot", pa.string()),
        ("wafer_id", pa.string()),
        ("hard_bin", pa.uint16()),
        ("soft_bin", pa.uint16()),
        ("passed", pa.bool_()),
        ("dies", pa.int64()),
    ]
)

#: Columns of the tidy rows static PAT limits are computed from (:func:`silicio.yields.pat.measurements`).
PAT_COLUMNS = ("lot_id", "wafer_id", "part_index", "test_num", "test_name", "pin", "test_type", "result",
               "lo_limit", "hi_limit", "part_passed", "is_last_test")  # fmt: skip


def history_lots(lake: Lake, product: str | None = None, stage: str | None = None) -> pa.Table:
    """The lots of the lake (columns :data:`LOT_COLUMNS`), each with the program and revision of its
    first file and its test start, by product, stage, program, revision, then test start (lots
    without one last). ``product`` / ``stage`` narrow them when given."""
    where, params = ["lot IS NOT NULL"], []
    if product is not None:
        where.append("product = ?")
        params.append(product)
    if stage is not None:
        where.append("stage = ?")
        params.append(stage)
    # A lot's files in test order: by start, then content hash (files have no records to order by).
    first = f"ORDER BY {_BY_START}, sha256"
    table = lake.arrow(
        f"""
            SELECT product, stage,
                   first(program {first}) AS program, first(revision {first}) AS revision,
                   lot, min(started) AS started, count(*) AS files
            FROM files WHERE {" AND ".join(where)}
            GROUP BY product, stage, lot""",
        params,
    )
    table = table.cast(LOT_COLUMNS)
    return table.sort_by([("product", "ascending"), ("stage", "ascending"), ("program", "ascending"),
                          ("revision", "ascending"), ("started", "ascending"), ("lot", "ascending")])  # fmt: skip


def _lot_filter(product: str | None, stage: str, lots: Sequence[str]) -> tuple[str, dict]:
    """WHERE terms (on ``{x}``, the view's alias, and ``files f``) for ``lots`` of ``product`` at
    ``stage``, with named parameters: :func:`~silicio.lake.queries.insertions.join_insertions`
    repeats them."""
    if not lots:
        raise ValueError("no lots given")
    parts = ", ".join(f"$part{i}" for i in range(len(lots)))
    names = ", ".join(f"$lot{i}" for i in range(len(lots)))
    # The partition columns first, so DuckDB reads only these lots' folders; a null product
    # matches null.
    where = (f"{{x}}.lot IN ({parts}) AND f.lot IN ({names}) AND f.stage = $stage AND "
             "f.product IS NOT DISTINCT FROM $product")  # fmt: skip
    params = {"stage": stage, "product": product}
    params |= {f"part{i}": partition_value(lot) for i, lot in enumerate(lots)}
    params |= {f"lot{i}": lot for i, lot in enumerate(lots)}
    return where, params


def final_bin_counts(lake: Lake, product: str | None, stage: str, lots: Sequence[str]) -> pa.Table:
    """Final dies of ``lots`` of ``product`` at ``stage``, counted per lot, wafer, hard and soft bin
    and verdict (columns :data:`BIN_COUNT_COLUMNS`): the last insertion of each die over the lot's
    files at the stage (:mod:`silicio.lake.queries.insertions`). A part without a die identity is
    a die of its own. Empty when the lake has no parts yet."""
    if "parts" not in lake.layout.tables():
        return BIN_COUNT_COLUMNS.empty_table()
    where, params = _lot_filter(product, stage, lots)
    table = lake.arrow(
        f"""
            SELECT f.lot, x.wafer_id, x.hard_bin, x.soft_bin, x.passed, count(*) AS dies
            FROM parts x JOIN files f ON f.sha256 = x.file_sha256 {join_insertions("x", where.format(x="p"))}
            WHERE {where.format(x="x")} AND {last_insertion("x")}
            GROUP BY ALL""",
        params,
    )
    table = table.cast(BIN_COUNT_COLUMNS)
    return table.sort_by([(c, "ascending") for c in ("lot", "wafer_id", "hard_bin", "soft_bin", "passed")])


def pat_history(lake: Lake, product: str | None, stage: str, lots: Sequence[str]) -> pa.Table:
    """The parametric results of ``lots`` that static PAT limits are computed from: tidy rows
    (columns :data:`PAT_COLUMNS`) of PTR and MPR results of each die's last insertion over the
    lot's files, files in test order. Empty (no rows, those columns) when the lake has no tidy view."""
    if "tidy" not in lake.layout.tables():
        return pa.table({c: pa.array([], pa.null()) for c in PAT_COLUMNS})
    where, params = _lot_filter(product, stage, lots)
    columns = ", ".join(f"t.{c}" for c in PAT_COLUMNS)
    return lake.arrow(
        f"""
            SELECT {columns} FROM tidy t JOIN files f ON f.sha256 = t.file_sha256
            {join_insertions("t", where.format(x="p"))}
            WHERE {where.format(x="t")} AND {last_insertion("t")} AND t.test_type IN ('P', 'M')
            ORDER BY {test_order("t")}""",
        params,
    )


__all__ = [
    "BIN_COUNT_COLUMNS",
    "LOT_COLUMNS",
    "PAT_COLUMNS",
    "final_bin_counts",
    "history_lots",
    "pat_history",
]
