"""The lake's query layer: the only place in silicio that writes SQL.

Pages, reports, the CLI, metrology and trace ask these functions for tables (Arrow or polars);
they know the catalog's joins, the stages, and the order in which a lot's files were tested.

The retest rule, written once: a lot's files are read in the order they were tested (start time,
files without one last), so a part's later insertions come after its earlier ones and "last"
means the retest. :func:`test_order` is that order for rows of any lake view joined to ``files f``.
"""

from __future__ import annotations


def test_order(alias: str) -> str:
    """ORDER BY terms for rows of view ``alias`` joined to ``files f``: files in test order
    (retests after first insertions; files without a start time last, by content hash), then
    each file's records in the order the tester wrote them."""
    return f"f.started NULLS LAST, {alias}.file_sha256, {alias}.seq"
