"""What the lot report (:func:`silicio.yields.report.lot_report`) reads of one lot at one stage:
its files in test order, its parts and test results, each file's tester bin summaries and test
session times; and, to judge the lot's holds without screening its whole product, the quartiles
of the product's lots.

A lot here is matched on the parts' ``lot_id`` (None matches parts without one) and the stage on
the partition column; the partition filter on ``lot`` lets DuckDB read only the lot's folders.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from ..layout import partition_value
from ..query import Lake
from . import test_order
from .insertions import join_insertions, last_insertion

__all__ = [
    "lot_bin_summaries",
    "lot_file_times",
    "lot_files",
    "lot_ids",
    "lot_partition_files",
    "lot_rows",
    "lot_stages",
    "product_final_parametric_results",
]

_LOT = "lot = $partition AND lot_id IS NOT DISTINCT FROM $lot"


def _params(lot_id: str | None, **more) -> dict:
    return {"partition": partition_value(lot_id), "lot": lot_id, **more}


def lot_ids(lake: Lake) -> list:
    """The lot ids the parts hold (None for parts without one)."""
    return [row[0] for row in lake.rows("SELECT DISTINCT lot_id FROM parts")]


def lot_stages(lake: Lake, lot_id: str | None) -> list[str]:
    """The stages lot ``lot_id`` was tested at, sorted."""
    return sorted(
        row[0] for row in lake.rows(f"SELECT DISTINCT stage FROM parts WHERE {_LOT}", _params(lot_id))
    )


def lot_files(lake: Lake, lot_id: str | None, stage: str) -> list[tuple[str, str | None, object]]:
    """(sha256, path, started) of the files holding the lot's parts at ``stage``, in test order
    (:func:`silicio.lake.queries.test_order`: start time, files without one last, then content
    hash)."""
    return lake.rows(
        f"SELECT p.file_sha256, f.path, f.started "
        f"FROM (SELECT file_sha256, min(seq) AS seq FROM parts WHERE {_LOT} AND stage = $stage "
        f"GROUP BY file_sha256) p LEFT JOIN files f ON f.sha256 = p.file_sha256 ORDER BY {test_order('p')}",
        _params(lot_id, stage=stage),
    )


def lot_partition_files(
    lake: Lake, product: str | None, stage: str, lot_id: str | None
) -> list[tuple[str, str | None]]:
    """(content hash, lot id) of the parts in the lake's folder of lot ``lot_id`` of ``product``
    at ``stage``, one row per pair: whether that folder holds this lot's files alone, and only
    its parts (:func:`product_final_parametric_results` can then leave it out)."""
    return lake.rows(
        "SELECT DISTINCT p.file_sha256, p.lot_id FROM parts p JOIN files f ON f.sha256 = p.file_sha256 "
        "WHERE p.product = $product_partition AND p.stage = $stage_partition AND p.lot = $partition "
        "AND f.product IS NOT DISTINCT FROM $product AND f.stage = $stage",
        {
            "product": product,
            "stage": stage,
            "partition": partition_value(lot_id),
            "product_partition": partition_value(product),
            "stage_partition": partition_value(stage),
        },
    )


def lot_rows(
    lake: Lake, view: str, lot_id: str | None, stage: str, *, columns: Sequence[str] | None = None
) -> pl.DataFrame:
    """Every row (all columns, ``file_sha256`` and ``seq`` included; ``columns`` only, when
    given) of view ``parts`` or ``tidy`` for the lot at ``stage``, in no particular order."""
    if view not in ("parts", "tidy"):
        raise ValueError(f"lot_rows reads the parts or tidy view, not {view!r}")
    chosen = "*"
    if columns is not None:
        unknown = [c for c in columns if not c.isidentifier()]
        if unknown:
            raise ValueError(f"lot_rows: not column names: {unknown}")
        chosen = ", ".join(columns)
    return lake.polars(
        f"SELECT {chosen} FROM {view} WHERE {_LOT} AND stage = $stage", _params(lot_id, stage=stage)
    )


def lot_bin_summaries(
    lake: Lake, view: str, lot_id: str | None, stage: str, *, files: Sequence[str] | None = None
) -> pl.DataFrame:
    """The ``HBR`` or ``SBR`` records of the files holding the lot's parts at ``stage``
    (``files``: their content hashes, when the caller has them: the parts are not read again)."""
    if view not in ("HBR", "SBR"):
        raise ValueError(f"lot_bin_summaries reads HBR or SBR, not {view!r}")
    chosen, params = _lot_file_set(lot_id, stage, files)
    return lake.polars(f'SELECT * FROM "{view}" WHERE lot = $partition AND file_sha256 IN ({chosen})', params)


def _lot_file_set(lot_id: str | None, stage: str, files: Sequence[str] | None) -> tuple[str, dict]:
    """SQL for the set of the lot's files at ``stage`` (a subquery of its parts, or the hashes
    given), and its parameters."""
    if files is None:
        return f"SELECT DISTINCT file_sha256 FROM parts WHERE {_LOT} AND stage = $stage", _params(
            lot_id, stage=stage
        )
    partition = {"partition": partition_value(lot_id)}
    if not files:
        return "SELECT CAST(NULL AS VARCHAR) WHERE false", partition
    names = ", ".join(f"$file{i}" for i in range(len(files)))
    return f"SELECT unnest([{names}])", partition | {f"file{i}": sha for i, sha in enumerate(files)}


def lot_file_times(
    lake: Lake, lot_id: str | None, stage: str, *, files: Sequence[str] | None = None
) -> pl.DataFrame:
    """file_sha256, start_t (MIR.START_T), finish_t (MRR.FINISH_T) of each file holding the lot's
    parts at ``stage`` (``files``: their content hashes, when the caller has them), seconds since
    1970 as the tester wrote them; null where the file has no MIR / MRR (MRR is optional: a file
    cut short has none)."""
    chosen, params = _lot_file_set(lot_id, stage, files)
    tables = set(lake.tables)
    start = 'mir."START_T"' if "MIR" in tables else "NULL"
    finish = 'mrr."FINISH_T"' if "MRR" in tables else "NULL"
    joins = "".join(
        f' LEFT JOIN (SELECT file_sha256, any_value("{column}") AS "{column}" FROM "{view}" '
        f"WHERE lot = $partition GROUP BY file_sha256) {alias} ON {alias}.file_sha256 = p.file_sha256"
        for view, column, alias in (("MIR", "START_T", "mir"), ("MRR", "FINISH_T", "mrr"))
        if view in tables
    )
    query = (
        f"SELECT p.file_sha256, CAST({start} AS BIGINT) AS start_t, CAST({finish} AS BIGINT) AS finish_t "
        f"FROM ({chosen}) p(file_sha256){joins}"
    )
    # A lake without MIR / MRR (another source's files) joins nothing: the lot's partition is
    # then not a parameter of the query, and DuckDB refuses a value it has no place for.
    used = {name: value for name, value in params.items() if f"${name}" in query}
    return lake.polars(query, used or None)


def product_final_parametric_results(
    lake: Lake,
    product: str | None,
    stage: str,
    columns: Sequence[str],
    *,
    leaving_out: str | None = None,
) -> pl.DataFrame:
    """``columns`` of the tidy rows a product's static PAT limits and its lots' quartiles at
    ``stage`` are computed from: parametric results (PTR / MPR) that are not null, of each die's
    last insertion across its lot's files (so ``is_last_test``, when asked for, is true on every
    row); in no particular order. ``leaving_out``: a lot id whose folder is not read (a caller
    that holds its rows already, and knows the folder holds them alone: :func:`lot_partition_files`)."""
    unknown = [c for c in columns if not c.isidentifier()]
    if unknown:
        raise ValueError(f"product_final_parametric_results: not column names: {unknown}")
    chosen = ", ".join(
        f"{last_insertion('t')} AS is_last_test" if c == "is_last_test" else f"t.{c}" for c in columns
    )
    where = ("{x}.product = $partition AND {x}.stage = $stage_partition "
             "AND f.product IS NOT DISTINCT FROM $product AND f.stage = $stage")  # fmt: skip
    params = {
        "product": product,
        "stage": stage,
        "partition": partition_value(product),
        "stage_partition": partition_value(stage),
    }
    skipped = ""
    if leaving_out is not None:
        # On the partition column: DuckDB does not open the folder's files.
        skipped = " AND t.lot <> $skip_partition"
        params["skip_partition"] = partition_value(leaving_out)
    return lake.polars(
        f"SELECT {chosen} FROM tidy t JOIN files f ON f.sha256 = t.file_sha256 "
        f"{join_insertions('t', where.format(x='p'))} WHERE {where.format(x='t')} AND {last_insertion('t')} "
        f"AND t.test_type IN ('P', 'M') AND t.result IS NOT NULL{skipped}",
        params,
    )
