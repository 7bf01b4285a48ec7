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

__all__ = [
    "AGREEMENT_COLUMNS",
    "LOA_Z",
    "Agreement",
    "agreement",
    "agreement_by",
    "agreement_of_columns",
    "agreement_of_groups",
]

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
    give the flips. Groups in the order of their keys."""
    keys = list(keys)
    groups = frame.select(keys).unique().sort(keys, nulls_last=True).with_row_index("_group")
    numbered = frame.join(groups, on=keys, how="left", nulls_equal=True)
    has_verdicts = "passed_a" in frame.columns and "passed_b" in frame.columns
    stats = agreement_of_groups(
        numbered.get_column("_group").to_numpy().astype(np.int64),
        _floats(numbered, a),
        _floats(numbered, b),
        groups.height,
        _verdicts(numbered, "passed_a") if has_verdicts else None,
        _verdicts(numbered, "passed_b") if has_verdicts else None,
    )
    return _with_keys(groups.drop("_group"), stats)


def _with_keys(keys: pl.DataFrame, stats: pa.Table) -> pa.Table:
    out = keys.to_arrow()
    for name in stats.column_names:
        out = out.append_column(name, stats.column(name))
    return out


def _verdicts(frame: pl.DataFrame, name: str) -> np.ndarray:
    """A verdict column as int8: 1 passed, 0 failed, -1 none."""
    return frame.get_column(name).cast(pl.Int8).fill_null(-1).to_numpy()


def agreement_of_groups(
    group: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    groups: int,
    passed_a: np.ndarray | None = None,
    passed_b: np.ndarray | None = None,
) -> pa.Table:
    """:data:`AGREEMENT_COLUMNS` of the pairs ``(a[i], b[i])`` of each group ``0 .. groups - 1``
    (``group[i]`` the group of pair i), one row per group in group order; ``passed_a`` /
    ``passed_b`` as int8 (1 passed, 0 failed, -1 no verdict) give the flips.

    Two passes of ``numpy.bincount`` over the pairs: the means, then the sums of squares and
    products about them (centred, so readings like 1e6 + 1e-3 keep their digits). A pair with a
    NaN on either side is left out of the statistics; its verdicts still count."""
    group = np.asarray(group, dtype=np.int64)
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    usable = np.isfinite(a) & np.isfinite(b)
    g, x, y = group[usable], a[usable], b[usable]
    n = np.bincount(g, minlength=groups).astype(float)[:groups]

    def total(weights: np.ndarray) -> np.ndarray:
        return np.bincount(g, weights=weights, minlength=groups)[:groups]

    with np.errstate(divide="ignore", invalid="ignore"):
        mean_a, mean_b = total(x) / n, total(y) / n
        d = y - x
        bias = total(d) / n
        xc, yc, dc = x - mean_a[g], y - mean_b[g], d - bias[g]
        dof = np.where(n > 1, n - 1, np.nan)
        var_a, var_b = total(xc * xc) / dof, total(yc * yc) / dof
        cov = total(xc * yc) / dof
        sd = np.sqrt(total(dc * dc) / dof)
    if passed_a is not None and passed_b is not None:
        judged = (passed_a >= 0) & (passed_b >= 0)
        verdicts = np.bincount(group[judged], minlength=groups)[:groups]
        flips = np.bincount(group[judged & (passed_a != passed_b)], minlength=groups)[:groups]
    else:
        verdicts = flips = np.zeros(groups, dtype=np.int64)
    return _finish(n, mean_a, mean_b, bias, sd, var_a, var_b, cov, verdicts, flips)


def agreement_of_columns(
    a: np.ndarray, b: np.ndarray, passed_a: np.ndarray | None = None, passed_b: np.ndarray | None = None
) -> pa.Table:
    """:data:`AGREEMENT_COLUMNS` of each column of two ``(units, groups)`` arrays: pair i of group j
    is ``(a[i, j], b[i, j])``, NaN where a side has no reading; ``passed_a`` / ``passed_b`` int8
    arrays of the same shape (1 passed, 0 failed, -1 no verdict). The same statistics as
    :func:`agreement_of_groups`, for pairs laid out densely: column sums instead of bincounts."""
    usable = np.isfinite(a) & np.isfinite(b)
    n = usable.sum(axis=0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = np.where(usable, a, 0.0), np.where(usable, b, 0.0)
        mean_a, mean_b = x.sum(axis=0) / n, y.sum(axis=0) / n
        bias = mean_b - mean_a
        xc = np.where(usable, x - mean_a, 0.0)
        yc = np.where(usable, y - mean_b, 0.0)
        dof = np.where(n > 1, n - 1, np.nan)
        var_a, var_b = (xc * xc).sum(axis=0) / dof, (yc * yc).sum(axis=0) / dof
        cov = (xc * yc).sum(axis=0) / dof
        dc = yc - xc  # d - mean d, as (y - mean_b) - (x - mean_a)
        sd = np.sqrt((dc * dc).sum(axis=0) / dof)
    if passed_a is not None and passed_b is not None:
        judged = (passed_a >= 0) & (passed_b >= 0)
        verdicts = judged.sum(axis=0)
        flips = (judged & (passed_a != passed_b)).sum(axis=0)
    else:
        verdicts = flips = np.zeros(a.shape[1], dtype=np.int64)
    return _finish(n, mean_a, mean_b, bias, sd, var_a, var_b, cov, verdicts, flips)


def _finish(n, mean_a, mean_b, bias, sd, var_a, var_b, cov, verdicts, flips) -> pa.Table:
    """The statistics that follow from the moments, per group, as an Arrow table (NaN as null)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(var_a > 0, cov / var_a, np.nan)
        intercept = mean_b - slope * mean_a
        r = np.where((var_a > 0) & (var_b > 0), cov / np.sqrt(var_a * var_b), np.nan)
        r = np.clip(r, -1.0, 1.0)  # rounding can put a perfect line a hair past 1
        se = sd / np.sqrt(n)
        t = np.where(se > 0, bias / se, np.where((se == 0) & (bias == 0), 0.0, np.nan))
        p = np.where(np.isfinite(t), 2.0 * stats.t.sf(np.abs(t), np.maximum(n - 1, 1)), np.nan)
        share = np.where(verdicts > 0, flips / np.maximum(verdicts, 1), np.nan)
    columns = {
        "n": pa.array(n.astype(np.int64)),
        "mean_a": mean_a,
        "mean_b": mean_b,
        "bias": bias,
        "sd_diff": sd,
        "loa_lower": bias - LOA_Z * sd,
        "loa_upper": bias + LOA_Z * sd,
        "slope": slope,
        "intercept": intercept,
        "r": r,
        "r_squared": r * r,
        "t_statistic": t,
        "p_value": p,
        "verdicts": pa.array(np.asarray(verdicts, dtype=np.int64)),
        "flips": pa.array(np.asarray(flips, dtype=np.int64)),
        "flip_share": share,
    }
    return pa.table({k: v if isinstance(v, pa.Array) else _nullable(v) for k, v in columns.items()})


def _floats(frame: pl.DataFrame, name: str) -> np.ndarray:
    return frame.get_column(name).cast(pl.Float64).fill_null(math.nan).to_numpy()


def _nullable(values: np.ndarray) -> pa.Array:
    """Undefined (NaN) as null: a missing statistic, not a number."""
    values = np.asarray(values, dtype=float)
    return pa.array(values, mask=~np.isfinite(values))
