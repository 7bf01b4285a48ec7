"""What the retest and test-time analysis (:mod:`silicio.correlate.retest`) reads of one lot at one
stage: every insertion of its parts, files in test order, with the tester and handler of its file.

The columns are named here (never ``*``), so a view that keeps them keeps this query working
whatever its physical layout. First / last insertion follow the lake's retest rule
(:mod:`silicio.lake.queries.insertions`).
"""

from __future__ import annotations

import polars as pl

from ..layout import partition_value
from ..query import Lake
from . import test_order
from .insertions import first_insertion, join_insertions, last_insertion

__all__ = ["RESULT_COLUMNS", "RETEST_PART_COLUMNS", "lot_final_results", "lot_insertions", "lot_test_times"]

#: The parts columns :func:`lot_insertions` reads, as the ``parts`` view names them.
RETEST_PART_COLUMNS = ("lot_id", "wafer_id", "head", "site", "part_index", "part_id", "x", "y", "hard_bin",
                       "soft_bin", "passed", "test_t", "die_key", "seq", "file_sha256")  # fmt: skip

# One lot at one stage, for rows of view {x} joined to ``files f``: the partition first.
_ONE_LOT = "{x}.lot = $partition AND {x}.lot_id = $lot AND f.stage = $stage"


def lot_insertions(lake: Lake, lot_id: str, stage: str) -> pl.DataFrame:
    """Every part row (insertion) of lot ``lot_id`` at ``stage``, files in test order
    (:func:`silicio.lake.queries.test_order`), a file's parts in the order the tester wrote them.

    Columns: :data:`RETEST_PART_COLUMNS`, ``is_first_test`` / ``is_last_test`` (of each die across
    the lot's files), ``file`` (the file's path as ingested), ``tester`` (MIR.NODE_NAM),
    ``tester_type`` (MIR.TSTR_TYP), ``handler`` (SDR.HAND_ID of the file's first SDR; null without
    one), ``start_t`` / ``finish_t`` (MIR.START_T / MRR.FINISH_T, seconds; null when absent)."""
    if "parts" not in lake.layout.tables():
        raise ValueError(f"{lake.layout.root}: the lake holds no parts yet (run `silicio ingest` first)")
    tables = set(lake.layout.tables())
    chosen = ", ".join(f"x.{c}" for c in RETEST_PART_COLUMNS)
    joins, extra = [], []
    for view, column, alias, name in (("SDR", "HAND_ID", "h", "handler"), ("MIR", "START_T", "m", "start_t"),
                                      ("MRR", "FINISH_T", "r", "finish_t")):  # fmt: skip
        if view in tables:
            joins.append(
                f'LEFT JOIN (SELECT file_sha256, first("{column}" ORDER BY seq) AS {name} FROM "{view}" '
                f"WHERE lot = $partition GROUP BY file_sha256) {alias} ON {alias}.file_sha256 = x.file_sha256"
            )
            extra.append(
                f"{alias}.{name}" if name == "handler" else f"CAST({alias}.{name} AS BIGINT) AS {name}"
            )
        else:
            extra.append(f"CAST(NULL AS {'VARCHAR' if name == 'handler' else 'BIGINT'}) AS {name}")
    return lake.polars(
        f"SELECT {chosen}, {first_insertion('x')} AS is_first_test, {last_insertion('x')} AS is_last_test, "
        f"f.path AS file, f.node AS tester, f.tester_type, {', '.join(extra)} "
        "FROM parts x JOIN files f ON f.sha256 = x.file_sha256 "
        f"{join_insertions('x', _ONE_LOT.format(x='p'))} {' '.join(joins)} "
        f"WHERE {_ONE_LOT.format(x='x')} ORDER BY {test_order('x')}",
        {"partition": partition_value(lot_id), "lot": lot_id, "stage": stage},
    )


#: The tidy columns :func:`lot_final_results` reads.
RESULT_COLUMNS = ("part_index", "test_num", "test_name", "test_type", "pin", "result", "units", "lo_limit",
                  "hi_limit", "passed", "file_sha256")  # fmt: skip


def lot_final_results(lake: Lake, lot_id: str, stage: str) -> pl.DataFrame:
    """The final test results of lot ``lot_id`` at ``stage``: the tidy rows of each die's last
    insertion across the lot's files (:mod:`silicio.lake.queries.insertions`), columns
    :data:`RESULT_COLUMNS`, in no particular order. ``part_index`` is the part's row in its file:
    with ``file_sha256`` it names the part :func:`lot_insertions` lists."""
    if "tidy" not in lake.layout.tables():
        raise ValueError(f"{lake.layout.root}: the lake holds no test results (tidy) yet")
    chosen = ", ".join(f"x.{c}" for c in RESULT_COLUMNS)
    return lake.polars(
        f"SELECT {chosen} FROM tidy x JOIN files f ON f.sha256 = x.file_sha256 "
        f"{join_insertions('x', _ONE_LOT.format(x='p'))} "
        f"WHERE {_ONE_LOT.format(x='x')} AND {last_insertion('x')}",
        {"partition": partition_value(lot_id), "lot": lot_id, "stage": stage},
    )


def lot_test_times(lake: Lake, lot_id: str, stage: str):
    """The TSR rows (TEST_NUM, EXEC_CNT, OPT_FLAG, TEST_TIM) of the files of lot ``lot_id`` at
    ``stage``, as an Arrow table (empty when the lake holds no TSR with test times)."""
    import pyarrow as pa

    empty = pa.table({"TEST_NUM": pa.array([], pa.uint32()), "EXEC_CNT": pa.array([], pa.uint32()),
                      "OPT_FLAG": pa.array([], pa.uint8()), "TEST_TIM": pa.array([], pa.float32())})  # fmt: skip
    if "TSR" not in lake.layout.tables() or "parts" not in lake.layout.tables():
        return empty
    columns = {c.upper() for c in lake.arrow('SELECT * FROM "TSR" LIMIT 0').column_names}
    if not {"TEST_NUM", "EXEC_CNT", "OPT_FLAG", "TEST_TIM"} <= columns:
        return empty
    return lake.arrow(
        'SELECT t."TEST_NUM", t."EXEC_CNT", t."OPT_FLAG", t."TEST_TIM" FROM "TSR" t '
        "JOIN files f ON f.sha256 = t.file_sha256 "
        "WHERE t.lot = $partition AND f.stage = $stage AND t.file_sha256 IN "
        "(SELECT DISTINCT file_sha256 FROM parts WHERE lot = $partition AND lot_id = $lot)",
        {"partition": partition_value(lot_id), "lot": lot_id, "stage": stage},
    )
