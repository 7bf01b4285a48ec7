"""Lot-level parametric excursions: a lot whose results moved as a whole, though its parts pass.

Per-part screens (PAT, NNR) judge a part against its own lot or wafer, so a lot shifted as a
whole passes them; SPC on lot medians flags every real lot-to-lot difference, because a median
of thousands of parts has almost no sampling noise. This rule sits between: a lot is an
excursion on a test when its median is more than ``k`` robust sigmas *of the parts* away from
the median of all lots' medians — a shift that matters at the scale of the part distribution.

Robust statistics as in AEC-Q001 Rev-D (median for the centre, IQR / 1.35 for sigma,
:data:`silicio.yields.pat.IQR_PER_SIGMA`), taken over lots rather than parts; the threshold and the minimum number of lots are ours (defaults
2 sigma and 6 lots, AEC-Q001's minimum for static limits), so both are parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import pyarrow as pa

from .pat import IQR_PER_SIGMA

__all__ = ["LOT_STATISTICS_COLUMNS", "lot_parametric_shifts"]

#: What :func:`lot_parametric_shifts` needs per lot and test, beside the grouping columns.
LOT_STATISTICS_COLUMNS = ("lot_id", "test_num", "test_name", "q1", "median", "q3")


def lot_parametric_shifts(
    lot_statistics: pa.Table | pl.DataFrame,
    by: Sequence[str] = ("product", "stage"),
    *,
    k: float = 2.0,
    min_lots: int = 6,
    min_tests: int = 2,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Lots whose median moved by more than ``k`` part-level robust sigmas on ``min_tests`` or
    more tests, among the lots of the same ``by`` group (product and stage).

    ``lot_statistics`` has one row per lot and test: the ``by`` columns, ``lot_id``, ``test_num``,
    ``test_name`` and the quartiles of the lot's results ``q1``, ``median``, ``q3``; the lot's
    robust sigma is (q3 - q1) / 1.35 (AEC-Q001 Rev-D, :data:`~silicio.yields.pat.IQR_PER_SIGMA`).
    A test is judged in a group of at least ``min_lots`` lots, against centre = median of the lot
    medians and sigma = median of the lots' robust sigmas (a test whose sigma is 0 is skipped).

    Returns (``shifts``: one row per lot and test beyond the limit, with ``shift`` in sigmas;
    ``lots``: one row per lot with at least ``min_tests`` such tests: the ``by`` columns,
    ``lot_id``, ``tests``, ``worst_test``, ``worst_shift``).
    """
    frame = lot_statistics if isinstance(lot_statistics, pl.DataFrame) else pl.from_arrow(lot_statistics)
    keys = list(by)
    missing = [c for c in (*keys, *LOT_STATISTICS_COLUMNS) if c not in frame.columns]
    if missing:
        raise ValueError(f"lot statistics lack column(s) {', '.join(missing)}")
    if not k > 0 or min_lots < 2 or min_tests < 1:
        raise ValueError(f"need k > 0, min_lots >= 2 and min_tests >= 1; got {k}, {min_lots}, {min_tests}")
    group = [*keys, "test_num"]
    robust_sigma = (pl.col("q3") - pl.col("q1")) / IQR_PER_SIGMA
    judged = (
        frame.with_columns(robust_sigma.alias("robust_sigma"))
        .filter(pl.col("median").is_not_null() & pl.col("robust_sigma").is_not_null())
        .with_columns(
            pl.col("median").median().over(group).alias("center"),
            pl.col("robust_sigma").median().over(group).alias("sigma"),
            pl.col("lot_id").n_unique().over(group).alias("lots"),
        )
        .filter((pl.col("lots") >= min_lots) & (pl.col("sigma") > 0))
        .with_columns(((pl.col("median") - pl.col("center")) / pl.col("sigma")).alias("shift"))
    )
    shifts = judged.filter(pl.col("shift").abs() > k).select(
        *keys, "lot_id", "test_num", "test_name", "median", "center", "sigma", "shift"
    )
    lots = (
        shifts.sort(pl.col("shift").abs(), descending=True)
        .group_by([*keys, "lot_id"], maintain_order=True)
        .agg(
            pl.len().alias("tests"),
            pl.col("test_name").first().alias("worst_test"),
            pl.col("shift").first().alias("worst_shift"),
        )
        .filter(pl.col("tests") >= min_tests)
        .sort([*keys, "lot_id"], nulls_last=True)
    )
    return shifts.sort([*keys, "lot_id", "test_num"], nulls_last=True), lots
