"""Agreement of paired measurements: the same units measured twice (two testers, two sites, two files).

For each pair of readings ``a`` (reference) and ``b`` (the other), with ``d = b - a``:

* ``bias``: mean of ``d``; ``sd_diff``: its sample standard deviation (n - 1);
* Bland-Altman limits of agreement ``bias -/+ 1.96 sd_diff``: where 95 % of the differences
  between the two measurements of one unit are expected to fall;
* the least-squares line ``b = intercept + slope a``, Pearson's ``r`` and ``r_squared``;
* the paired t-test of "no bias": ``t = bias / (sd_diff / sqrt(n))`` with ``n - 1`` degrees of
  freedom, two-sided ``p_value``;
* ``flips``: units whose pass / fail verdict differs between the two readings.

References
----------
Bland, J. M. & Altman, D. G. "Statistical methods for assessing agreement between two methods of
clinical measurement", *The Lancet* 327 (8476) (1986) 307-310: limits of agreement, mean
difference -/+ 2 SD (1.96 for 95 %), and the peak expiratory flow rate data of its Table 1 that
the tests reproduce.
Montgomery, D. C. *Design and Analysis of Experiments*, 8th ed., Wiley (2013), sec. 2.5.1 (the
paired comparison problem: t0 = d-bar / (S_d / sqrt(n)), n - 1 degrees of freedom) and
sec. 10.2 (least squares fit of a straight line, R^2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
from scipy import stats

__all__ = ["AGREEMENT_COLUMNS", "LOA_Z", "Agreement", "agreement", "agreement_by"]

#: The standard normal quantile of the 95 % limits of agreement (Bland & Altman 1986 round it to 2).
LOA_Z = 1.959963984540054

#: Columns :func:`agreement_by` adds after the group keys, in order.
AGREEMENT_COLUMNS = ("n", "mean_a", "mean_b", "bias", "sd_diff", "loa_lower", "loa_upper", "slope", "intercept",
                     "r", "r_squared", "t_statistic", "p_value", "verdicts", "flips", "flip_share")  # fmt: skip


@dataclass(frozen=True)
class Agreement:
    """Agreement of one pair of series (see the module notes). None where it is undefined: fewer
    than 2 pairs, no spread in ``a`` (no slope) or in ``a`` or ``b`` (no r), no spread in the
    differences (no t-test unless the bias is 0 too, then t is 0 and p is 1)."""

    n: int
    mean_a: float | None
    mean_b: float | None
    bias: float | None
    sd_diff: float | None
    loa_lower: float | None
    loa_upper: float | None
    slope: float | None
    intercept: float | None
    r: float | None
    r_squared: float | None
    t_statistic: float | None
    p_value: float | None
    verdicts: int
    flips: int
    flip_share: float | None


def agreement(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    passed_a: Sequence[bool | None] | None = None,
    passed_b: Sequence[bool | None] | None = None,
) -> Agreement:
    """Agreement of paired readings ``a`` and ``b`` (same length, pair i is one unit measured
    twice); a pair with a NaN or None on either side is left out. ``passed_a`` / ``passed_b``:
    the verdicts of the pairs, to count ``flips``."""
    a_values = np.asarray(a, dtype=float)
    b_values = np.asarray(b, dtype=float)
    if a_values.shape != b_values.shape or a_values.ndim != 1:
        raise ValueError(
            f"agreement needs two series of the same length; got {a_values.shape} and {b_values.shape}"
        )
    columns = {"a": a_values, "b": b_values}
    if (passed_a is None) != (passed_b is None):
        raise ValueError("agreement needs the verdicts of both sides (passed_a and passed_b), or neither")
    if passed_a is not None:
        if not (len(passed_a) == len(passed_b) == a_values.size):
            raise ValueError(
                "agreement: passed_a and passed_b must pair up with a and b, one verdict per reading"
            )
        columns["passed_a"] = pl.Series(list(passed_a), dtype=pl.Boolean)
        columns["passed_b"] = pl.Series(list(passed_b), dtype=pl.Boolean)
    frame = pl.DataFrame(columns).with_columns(pl.lit(0).alias("_all"))
    row = agreement_by(frame, ["_all"]).to_pylist()
    if not row:
        return Agreement(0, *[None] * 12, 0, 0, None)
    values = {k: row[0][k] for k in AGREEMENT_COLUMNS}
    return Agreement(**values)


def agreement_by(frame: pl.DataFrame, keys: Sequence[str], a: str = "a", b: str = "b") -> pa.Table:
    """:class:`Agreement` of columns ``a`` and ``b`` per group of ``keys``, one row per group:
    the keys then :data:`AGREEMENT_COLUMNS`. Columns ``passed_a`` / ``passed_b``, when there,
    give the flips. Groups in the order of their keys.

    One pass of polars aggregates over all groups, then closed-form arithmetic per group:
    correlating 100k units x 50 tests takes a fraction of a second."""
    keys = list(keys)
    x, y = pl.col(a).cast(pl.Float64), pl.col(b).cast(pl.Float64)
    usable = x.is_not_null() & y.is_not_null() & x.is_not_nan() & y.is_not_nan()
    frame = frame.with_columns(pl.when(usable).then(x).alias("_a"), pl.when(usable).then(y).alias("_b"))
    x, y = pl.col("_a"), pl.col("_b")
    aggs = [
        x.count().cast(pl.Int64).alias("n"),
        x.mean().alias("mean_a"),
        y.mean().alias("mean_b"),
        (y - x).mean().alias("bias"),
        (y - x).std(ddof=1).alias("sd_diff"),
        x.var(ddof=1).alias("_var_a"),
        y.var(ddof=1).alias("_var_b"),
        pl.cov(x, y, ddof=1).alias("_cov"),
    ]
    has_verdicts = "passed_a" in frame.columns and "passed_b" in frame.columns
    if has_verdicts:
        both = pl.col("passed_a").is_not_null() & pl.col("passed_b").is_not_null()
        aggs += [
            both.sum().cast(pl.Int64).alias("verdicts"),
            (both & (pl.col("passed_a") != pl.col("passed_b"))).sum().cast(pl.Int64).alias("flips"),
        ]
    grouped = frame.group_by(keys).agg(aggs).sort(keys, nulls_last=True)
    if not has_verdicts:
        grouped = grouped.with_columns(
            pl.lit(0, pl.Int64).alias("verdicts"), pl.lit(0, pl.Int64).alias("flips")
        )
    n = grouped.get_column("n").to_numpy().astype(float)
    bias = _floats(grouped, "bias")
    sd = _floats(grouped, "sd_diff")
    var_a, var_b, cov = _floats(grouped, "_var_a"), _floats(grouped, "_var_b"), _floats(grouped, "_cov")
    mean_a, mean_b = _floats(grouped, "mean_a"), _floats(grouped, "mean_b")
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(var_a > 0, cov / var_a, np.nan)
        intercept = mean_b - slope * mean_a
        r = np.where((var_a > 0) & (var_b > 0), cov / np.sqrt(var_a * var_b), np.nan)
        r = np.clip(r, -1.0, 1.0)  # rounding can put a perfect line a hair past 1
        se = sd / np.sqrt(n)
        t = np.where(se > 0, bias / se, np.where((se == 0) & (bias == 0), 0.0, np.nan))
        p = np.where(np.isfinite(t), 2.0 * stats.t.sf(np.abs(t), np.maximum(n - 1, 1)), np.nan)
    verdicts = grouped.get_column("verdicts").to_numpy()
    flips = grouped.get_column("flips").to_numpy()
    out = grouped.select(keys).with_columns(
        pl.Series("n", n.astype(np.int64)),
        _series("mean_a", mean_a),
        _series("mean_b", mean_b),
        _series("bias", bias),
        _series("sd_diff", sd),
        _series("loa_lower", bias - LOA_Z * sd),
        _series("loa_upper", bias + LOA_Z * sd),
        _series("slope", slope),
        _series("intercept", intercept),
        _series("r", r),
        _series("r_squared", r * r),
        _series("t_statistic", t),
        _series("p_value", p),
        pl.Series("verdicts", verdicts.astype(np.int64)),
        pl.Series("flips", flips.astype(np.int64)),
        _series("flip_share", np.where(verdicts > 0, flips / np.maximum(verdicts, 1), np.nan)),
    )
    return out.to_arrow()


def _floats(frame: pl.DataFrame, name: str) -> np.ndarray:
    return frame.get_column(name).cast(pl.Float64).fill_null(math.nan).to_numpy()


def _series(name: str, values: np.ndarray) -> pl.Series:
    """Undefined (NaN) as null: a missing statistic, not a number."""
    return pl.Series(name, values, dtype=pl.Float64).fill_nan(None)
