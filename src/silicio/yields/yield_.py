"""Yield per lot, wafer, head / site, tester or program, first pass and final, retests consolidated.

The input is a parts table (:func:`silicio.stdf.parts.parts`), one file or many concatenated.
Each die is tested one or more times; its *first* test decides first-pass yield and its *last*
test final yield (the die identity is ``die_key``, see :mod:`silicio.stdf.parts`; a null key is
a die of its own). "First" and "last" follow row order, or ``order_by`` columns: concatenate
files in the order they were tested, or give a column such as the file's start time.

A retest supersedes the die's whole earlier insertion (:mod:`silicio.stdf.parts`): the tidy
rows of a lot follow their part with :func:`consolidate_retests_tidy`, so "final" per-test
results are those of each die's last insertion.

Grouping keys are any columns of the table. Tester and program are not part columns: the
caller adds them per file before concatenating (e.g. ``MIR.NODE_NAM`` as ``tester`` and
``MIR.JOB_NAM`` as ``program``, with ``table.append_column``). A die whose tests fall into
several groups (first tested on site 1, retested on site 2) counts for first-pass yield in the
group of its first test and for final yield in the group of its last.

References
----------
Teradyne, *STDF Specification V4* (1997), PRR PART_FLG bits 3 and 4 (pass / fail / no verdict).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import pyarrow as pa

__all__ = ["consolidate_retests", "consolidate_retests_tidy", "yield_by"]

_ROW = "__row"
_ANON = "__anon"
_FIRST, _LAST = "__first_insertion", "__last_insertion"


def as_frame(table: pa.Table | pl.DataFrame, needs: Sequence[str], what: str) -> pl.DataFrame:
    """``table`` as a polars frame, checking it has the columns ``needs`` (ValueError otherwise)."""
    if isinstance(table, pa.Table):
        frame = pl.from_arrow(table)
    elif isinstance(table, pl.DataFrame):
        frame = table
    else:
        raise ValueError(f"{what} needs a pyarrow Table or polars DataFrame, got {type(table).__name__}")
    missing = [c for c in needs if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} needs columns {list(needs)}; missing {missing}")
    return frame


def check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")


def with_test_order(frame: pl.DataFrame, order_by: Sequence[str] | str | None) -> pl.DataFrame:
    """Adds ``is_first_test`` / ``is_last_test`` of each row's die across the whole frame.

    Rows keep their order in the output; first and last follow ``order_by`` then row order.
    """
    frame = frame.with_row_index(_ROW)
    keys = [order_by] if isinstance(order_by, str) else list(order_by or ())
    missing = [c for c in keys if c not in frame.columns]
    if missing:
        raise ValueError(f"order_by names columns the table lacks: {missing}")
    ordered = frame.sort([*keys, _ROW], maintain_order=True) if keys else frame
    die = [
        pl.col("die_key"),
        pl.when(pl.col("die_key").is_null()).then(pl.col(_ROW)).otherwise(-1).alias(_ANON),
    ]
    # First / last occurrence of each die: a hash pass, much faster than a window over every die.
    die_struct = pl.struct(die)
    ordered = ordered.with_columns(
        die_struct.is_first_distinct().alias("is_first_test"),
        die_struct.is_last_distinct().alias("is_last_test"),
    )
    return ordered.sort(_ROW).drop(_ROW) if keys else ordered.drop(_ROW)


def consolidate_retests(
    parts: pa.Table | pl.DataFrame, order_by: Sequence[str] | str | None = None
) -> pa.Table:
    """The parts table with ``is_first_test`` / ``is_last_test`` recomputed across all its rows.

    :func:`silicio.stdf.parts.parts` marks retests within one file; after concatenating files
    (a lot's first pass and its retest files) this marks them across files, matching dies on
    ``die_key``. Order: ``order_by`` columns, then row order.
    """
    frame = as_frame(parts, ["die_key"], "consolidate_retests")
    return with_test_order(frame, order_by).to_arrow()


def consolidate_retests_tidy(
    tidy: pa.Table | pl.DataFrame,
    parts: pa.Table | pl.DataFrame,
    order_by: Sequence[str] | str | None = None,
    on: Sequence[str] | str = "part_index",
) -> pa.Table:
    """The tidy table with ``is_last_test`` recomputed and ``is_first_test`` added across files.

    A row is final when its part is its die's last insertion over the whole ``parts`` table,
    first-pass when it is the die's first (:func:`consolidate_retests` on ``parts``, with
    ``order_by``): a retest in a later file supersedes every result of the earlier insertion,
    also of tests it did not run. ``parts`` holds the parts of the same files, and ``on`` names
    the columns that match a tidy row to its part in both tables: ``part_index`` alone when the
    caller numbered the parts of a lot uniquely, ``("file_sha256", "part_index")`` for lake
    tables. Rows outside any part stay null; rows of a part the parts table lacks (left open, no
    PRR: a die of its own) keep their file's flag, and are their die's first insertion too.
    """
    keys = [on] if isinstance(on, str) else list(on)
    rows = as_frame(tidy, [*keys, "is_last_test"], "consolidate_retests_tidy")
    ordered = with_test_order(
        as_frame(parts, ["die_key", *keys], "consolidate_retests_tidy (parts)"), order_by
    )
    flags = ordered.select(*keys, pl.col("is_first_test").alias(_FIRST), pl.col("is_last_test").alias(_LAST))
    if flags.select(keys).is_duplicated().any():
        raise ValueError(f"consolidate_retests_tidy: parts repeat a part identity {keys}; give `on` columns "
                         "that tell the files' parts apart (e.g. file_sha256 and part_index)")  # fmt: skip
    without_part = pl.any_horizontal(pl.col(k).is_null() for k in keys)
    joined = rows.drop("is_first_test", strict=False).join(flags, on=keys, how="left", maintain_order="left")
    return (
        joined.with_columns(
            pl.when(without_part)
            .then(None)
            .otherwise(pl.coalesce(_LAST, "is_last_test"))
            .alias("is_last_test"),
            pl.when(without_part).then(None).otherwise(pl.col(_FIRST).fill_null(True)).alias("is_first_test"),
        )
        .drop(_FIRST, _LAST)
        .to_arrow()
    )


def yield_by(
    parts: pa.Table | pl.DataFrame,
    by: Sequence[str] | str = ("lot_id", "wafer_id"),
    order_by: Sequence[str] | str | None = None,
) -> pa.Table:
    """First-pass and final yield per group of ``by`` columns (``()`` for one overall row).

    Parts with no pass/fail indication (``passed`` null) are counted in ``no_verdict`` and
    otherwise left out. Columns: the ``by`` keys, ``tested`` (tests with a verdict, retests
    included), ``retests``, ``first_pass_dies``, ``first_pass_good``, ``first_pass_yield``,
    ``final_dies``, ``final_good``, ``final_yield``, ``no_verdict``; yields are good / dies
    and null for a group without dies.
    """
    keys = [by] if isinstance(by, str) else list(by)
    frame = as_frame(parts, ["die_key", "passed", *keys], "yield_by")
    judged = with_test_order(frame.filter(pl.col("passed").is_not_null()), order_by)
    first, last, good = pl.col("is_first_test"), pl.col("is_last_test"), pl.col("passed")
    tallies = (
        pl.len().alias("tested"),
        (~first).sum().alias("retests"),
        first.sum().alias("first_pass_dies"),
        (first & good).sum().alias("first_pass_good"),
        last.sum().alias("final_dies"),
        (last & good).sum().alias("final_good"),
    )
    no_verdict = pl.col("passed").is_null().sum().alias("no_verdict")
    if keys:
        counts = judged.group_by(keys).agg(*tallies)
        out = frame.group_by(keys).agg(no_verdict).join(counts, on=keys, how="left", nulls_equal=True)
    else:  # one overall row, also when there are no parts at all
        out = pl.concat([frame.select(no_verdict), judged.select(*tallies)], how="horizontal")
    out = out.with_columns(
        pl.col(c).fill_null(0).cast(pl.Int64)
        for c in ("tested", "retests", "first_pass_dies", "first_pass_good", "final_dies", "final_good")
    )
    out = out.with_columns(
        pl.when(pl.col("first_pass_dies") > 0)
        .then(pl.col("first_pass_good") / pl.col("first_pass_dies"))
        .alias("first_pass_yield"),
        pl.when(pl.col("final_dies") > 0)
        .then(pl.col("final_good") / pl.col("final_dies"))
        .alias("final_yield"),
    )
    order = [*keys, "tested", "retests", "first_pass_dies", "first_pass_good", "first_pass_yield", "final_dies",
             "final_good", "final_yield", "no_verdict"]  # fmt: skip
    out = out.select(order)
    return (out.sort(keys, nulls_last=True) if keys else out).to_arrow()
