"""The lake's query layer: the only place in silicio that writes SQL.

Pages, reports, the CLI, metrology and trace ask these functions for tables (Arrow or polars);
they know the catalog's joins, the stages, and the order in which a lot's files were tested.

The retest rule, written once: a lot's files are read in the order they were tested (start time,
files without one last), so a part's later insertions come after its earlier ones and "last"
means the retest. :func:`test_order` is that order for rows of any lake view joined to ``files f``.
"""

from __future__ import annotations

# Earliest start first, rows without a start time last: the one place this order is written.
_BY_START = "started NULLS LAST"


def test_order(alias: str) -> str:
    """ORDER BY terms for rows of view ``alias`` joined to ``files f``: files in test order
    (retests after first insertions; files without a start time last, by content hash), then
    each file's records in the order the tester wrote them."""
    return f"f.{_BY_START}, {alias}.file_sha256, {alias}.seq"


def lots_in_start_order() -> str:
    """ORDER BY terms for one row per lot and stage (columns ``started``: its first file's start,
    ``lot``, ``stage``): lots in the order their testing began, those without a start time last."""
    return f"{_BY_START}, lot, stage"


# The query modules use the order rules above, so they are imported after them.
from .demo import wafer_sort_lots  # noqa: E402
from .dies import die_insertions, die_results, unit_insertions, unit_results  # noqa: E402
from .history import final_bin_counts, history_lots, pat_history  # noqa: E402
from .lots import (  # noqa: E402
    LOT_INDEX_SCHEMA,
    all_parts,
    bin_records,
    lot_index,
    lot_parts,
    lot_statistics,
    lot_tidy,
    screening_inputs,
    wafer_configurations,
)
from .reports import (  # noqa: E402
    lot_bin_summaries,
    lot_file_times,
    lot_files,
    lot_ids,
    lot_rows,
    lot_stages,
)
from .search import parts_with_id, wafers_matching  # noqa: E402
from .spatial import klarf_lots, klarf_tables, wafer_equipment  # noqa: E402
from .spc import last_results  # noqa: E402
from .tests import test_results  # noqa: E402
from .trace import last_test_results  # noqa: E402

__all__ = [
    "LOT_INDEX_SCHEMA",
    "all_parts",
    "bin_records",
    "die_insertions",
    "unit_insertions",
    "unit_results",
    "die_results",
    "final_bin_counts",
    "history_lots",
    "klarf_lots",
    "klarf_tables",
    "last_results",
    "last_test_results",
    "lot_file_times",
    "pat_history",
    "wafer_configurations",
    "wafer_equipment",
    "lot_bin_summaries",
    "lot_files",
    "lot_ids",
    "lot_index",
    "lot_parts",
    "lot_rows",
    "lot_stages",
    "lot_statistics",
    "lot_tidy",
    "lots_in_start_order",
    "parts_with_id",
    "screening_inputs",
    "test_order",
    "test_results",
    "wafer_sort_lots",
    "wafers_matching",
]
