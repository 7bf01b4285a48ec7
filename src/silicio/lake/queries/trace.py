"""Queries that link traceability to the lake's tester data.

The trace store (:mod:`silicio.trace.store`) knows a die by its tester key, (lot, wafer, X, Y) at
wafer sort or (lot, PART_ID) at final test; the lake's ``parts`` view knows what the tester said
about it. :func:`last_test_results` joins the two.
"""

from __future__ import annotations

import pyarrow as pa

from ..query import Lake
from .insertions import join_insertions, last_insertion

#: The tester's verdict on a die or unit: columns taken from the lake's ``parts`` view, with their types
#: there (:mod:`silicio.stdf.parts`).
RESULT_COLUMNS = pa.schema(
    [
        ("hard_bin", pa.uint16()),
        ("soft_bin", pa.uint16()),
        ("passed", pa.bool_()),
        ("test_t", pa.uint32()),
        ("file_sha256", pa.string()),
    ]
)

#: The tester keys :func:`last_test_results` reads (the store's ``trace_tester_keys`` with the node's
#: kind and name).
TESTER_KEYS = pa.schema(
    [
        ("kind", pa.string()),
        ("name", pa.string()),
        ("stage", pa.string()),
        ("lot_id", pa.string()),
        ("wafer_id", pa.string()),
        ("x", pa.int32()),
        ("y", pa.int32()),
        ("part_id", pa.string()),
    ]
)


def last_test_results(lake: Lake, tester_keys: pa.Table) -> pa.Table:
    """Each tester key (columns of :data:`TESTER_KEYS`) with the verdict of the last insertion of its
    die or unit across its lot's files (columns of :data:`RESULT_COLUMNS`), from the lake's ``parts`` view.

    Dies match at wafer sort on (lot_id, wafer_id, x, y), units at final test on (lot_id, part_id).
    A key with no tester data gets null results. Rows in order of kind, name, stage; when the lake has
    no ``parts`` view yet, the keys come back in their own order, all with null results.
    """
    keys = tester_keys.select(TESTER_KEYS.names)
    if "parts" not in lake.layout.tables():
        no_results = [pa.nulls(keys.num_rows, f.type) for f in RESULT_COLUMNS]
        return pa.Table.from_arrays(
            [*keys.columns, *no_results], names=[*keys.column_names, *RESULT_COLUMNS.names]
        )
    results = ", ".join(f"p.{c}" for c in RESULT_COLUMNS.names)
    con = lake.duckdb.cursor()  # its own cursor: the lake's views, none of its pending results
    try:
        con.register("_tester_keys", keys)
        # The catalog's tables are registered per connection: the test order needs ``files``.
        con.register("files", lake.catalog.arrow("files"))
        # A die's final verdict is its last insertion across its lot's files (a retest in a later
        # file supersedes the earlier one), the rule of silicio.lake.queries.insertions.
        lots = "p.lot_id IN (SELECT DISTINCT lot_id FROM _tester_keys)"
        return con.sql(f"""
            WITH final AS (
                SELECT p.* FROM parts p {join_insertions("p", lots)}
                WHERE {lots} AND {last_insertion("p")}
            )
            SELECT k.*, {results} FROM _tester_keys k
            LEFT JOIN final p ON p.stage = k.stage AND p.lot_id = k.lot_id AND (
                (k.stage = 'wafer_sort' AND p.wafer_id = k.wafer_id AND p.x = k.x AND p.y = k.y)
                OR (k.stage = 'final_test' AND p.part_id = k.part_id))
            ORDER BY k.kind, k.name, k.stage""").to_arrow_table()
    finally:
        con.close()


__all__ = ["RESULT_COLUMNS", "TESTER_KEYS", "last_test_results"]
