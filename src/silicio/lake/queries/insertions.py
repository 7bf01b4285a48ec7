"""Which insertion of a die is final across the files of a lot: the retest rule of the lake, in SQL.

Within one file the ``parts`` and ``tidy`` views already mark a die's last insertion
(``is_last_test``, :mod:`silicio.stdf.parts`). A retest in a *later file* of the lot supersedes
the earlier file's insertion too, also for the tests the retest did not run. This module writes
that rule once for every query of the layer that reads "final" results:

* the die is ``die_key`` (a part without one is a die of its own), within one stage;
* its insertions are read in test order (:func:`silicio.lake.queries.test_order`: files by
  start time, then the records in the order the tester wrote them);
* the last one is final, the first one first-pass.

It is the rule :func:`silicio.yields.consolidate_retests_tidy` applies to tables in memory; here
it runs inside DuckDB. Only dies tested in more than one file can change: within a file the views'
own flags are already right. So one window runs over the parts of those dies alone (a hash count
finds them) and is joined to the rows on ``(file_sha256, part_index)``; the other rows keep their
file's flag. Pages and the screening read final results without loading a lot's parts into
Python first, and the join's build side stays as small as the retests.
"""

from __future__ import annotations

from . import test_order

__all__ = ["first_insertion", "join_insertions", "last_insertion", "retested_insertions"]


def retested_insertions(where: str) -> str:
    """A subquery (no parentheses) of the parts ``p`` (joined to ``files f``) matching ``where``
    whose die was tested in more than one file: ``file_sha256, part_index, is_first_insertion,
    is_last_insertion`` across those files.

    ``where`` must hold every insertion of the dies it selects (a lot at a stage, a product at a
    stage, or the whole lake): a retest it leaves out cannot supersede anything. It appears twice
    in the subquery, so its parameters are named (``$lot``), not positional."""
    parts = "parts p JOIN files f ON f.sha256 = p.file_sha256"
    die = f"PARTITION BY p.stage, p.die_key ORDER BY {test_order('p')}"
    return (
        f"WITH retested AS (SELECT p.stage, p.die_key FROM {parts} WHERE ({where}) AND p.die_key IS NOT NULL "
        "GROUP BY ALL HAVING count(DISTINCT p.file_sha256) > 1) "
        "SELECT p.file_sha256, p.part_index, "
        f"lag(p.seq) OVER ({die}) IS NULL AS is_first_insertion, "
        f"lead(p.seq) OVER ({die}) IS NULL AS is_last_insertion "
        f"FROM {parts} SEMI JOIN retested r ON r.stage = p.stage AND r.die_key = p.die_key WHERE {where}"
    )


def join_insertions(alias: str, where: str) -> str:
    """``LEFT JOIN`` of :func:`retested_insertions` (``where``, named parameters) as ``i`` to the
    rows ``alias`` of the tidy or parts view."""
    return (
        f"LEFT JOIN ({retested_insertions(where)}) i "
        f"ON i.file_sha256 = {alias}.file_sha256 AND i.part_index = {alias}.part_index"
    )


def last_insertion(alias: str) -> str:
    """SQL: row ``alias`` (tidy or parts) is of its die's last insertion across the files read,
    after :func:`join_insertions`; a die tested in one file only keeps its file's flag (a part
    without a die identity is a die of its own, a tidy row outside any part stays null)."""
    return f"coalesce(i.is_last_insertion, {alias}.is_last_test)"


def first_insertion(alias: str) -> str:
    """SQL: parts row ``alias`` is its die's first insertion across the files read, after
    :func:`join_insertions` (the tidy view has no per-file first flag to fall back on)."""
    return f"coalesce(i.is_first_insertion, {alias}.is_first_test)"
