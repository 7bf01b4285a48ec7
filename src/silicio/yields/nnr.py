"""Nearest Neighbour Residual (NNR): parametric outliers against their wafer neighbourhood.

A parameter such as IDDQ or a threshold voltage varies smoothly across a wafer, so a die can be
far from its neighbours while still in the middle of the wafer's (or lot's) distribution, and
PAT does not see it. NNR estimates each die's healthy value from its neighbours and screens the
residual instead of the raw value:

* estimate: the median of the results of the good dies in the (2 r + 1)^2 window around the
  die, the die itself excluded (r = ``radius``; Daasch et al. use the 5 x 5 window, r = 2);
* residual = result - estimate;
* limits from the wafer's residual distribution, robustly: median ± k x IQR / 1.35;
* good dies with a residual outside the limits are flagged.

Quantiles are numpy's ``method`` (default ``"linear"``, Hyndman-Fan type 7). Results measured
in steps (quantized) give residuals in steps, often with an IQR below one step or of zero:
``iqr_zero="skip"`` (the default) leaves a wafer whose residual IQR is 0 unscreened,
``"resolution"`` floors the residual sigma at the wafer's measurement resolution (smallest step
between its results); both are reported.

References
----------
W. R. Daasch, K. Cota, J. McNames, R. Madge, "Neighbor selection for variance reduction in
IDDQ and other parametric data", *Proc. International Test Conference* (2001), 92-100.

W. R. Daasch, J. McNames, R. Madge, K. Cota, "Neighborhood selection for IDDQ outlier
screening at wafer sort", *IEEE Design & Test of Computers* 19(5), 74-81 (2002).
"""

from __future__ import annotations

from collections.abc import Sequence

import numba as nb
import numpy as np
import polars as pl
import pyarrow as pa

from .gdbn import die_grid
from .pat import (
    IQR_PER_SIGMA,
    IQR_ZERO_POLICIES,
    PART_KEY,
    TEST_KEY,
    _check_method,
    _frame,
    measurement_resolution,
    measurements,
)

__all__ = ["neighbour_median", "nnr", "nnr_limits", "nnr_residuals"]


def neighbour_median(values: np.ndarray, radius: int = 2, min_neighbours: int = 1) -> np.ndarray:
    """Median of the non-NaN neighbours of each cell in its (2 r + 1)^2 window, centre excluded.

    ``values`` is a 2-D grid with NaN where there is no (good) die. Cells with fewer than
    ``min_neighbours`` neighbours get NaN.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"values must be a 2-D grid, got {values.ndim} dimension(s)")
    if int(radius) != radius or radius < 1:
        raise ValueError(f"radius must be an integer >= 1, got {radius!r}")
    if int(min_neighbours) < 1:
        raise ValueError(f"min_neighbours must be >= 1, got {min_neighbours!r}")
    return _neighbour_median(values, int(radius), int(min_neighbours))


@nb.njit(cache=True, nogil=True)
def _neighbour_median(values, radius, min_neighbours):
    # Insertion sort of at most (2 r + 1)^2 - 1 neighbours per die: windows are small, and
    # this runs for every die of every test of every wafer.
    rows, cols = values.shape
    out = np.full((rows, cols), np.nan)
    window = np.empty((2 * radius + 1) ** 2, np.float64)
    for i in range(rows):
        for j in range(cols):
            n = 0
            for a in range(max(i - radius, 0), min(i + radius + 1, rows)):
                for b in range(max(j - radius, 0), min(j + radius + 1, cols)):
                    v = values[a, b]
                    if (a == i and b == j) or np.isnan(v):
                        continue
                    k = n
                    while k > 0 and window[k - 1] > v:
                        window[k] = window[k - 1]
                        k -= 1
                    window[k] = v
                    n += 1
            if n >= min_neighbours:
                half = n // 2
                out[i, j] = window[half] if n % 2 else 0.5 * (window[half - 1] + window[half])
    return out


def nnr_residuals(values: np.ndarray, radius: int = 2, min_neighbours: int = 1) -> np.ndarray:
    """Residual of each die to the median of its neighbours (Daasch et al. 2001): NaN where
    there is no die or too few neighbours."""
    values = np.asarray(values, dtype=float)
    return values - neighbour_median(values, radius, min_neighbours)


def nnr_limits(
    residuals: np.ndarray, k: float = 6.0, method: str = "linear"
) -> tuple[float, float, float, float]:
    """Robust limits of a wafer's residuals: median ± k x IQR / 1.35 (NaN ignored).

    Returns (median, robust sigma, low limit, high limit); all NaN when there is no residual.
    """
    _check_method(method)
    if not np.isfinite(k) or k <= 0:
        raise ValueError(f"k must be a positive number, got {k!r}")
    r = np.asarray(residuals, dtype=float).ravel()
    r = r[~np.isnan(r)]
    if not r.size:
        return (float("nan"),) * 4
    q1, q3 = np.quantile(r, [0.25, 0.75], method=method)
    center = float(np.median(r))
    sigma = float((q3 - q1) / IQR_PER_SIGMA)
    return center, sigma, center - k * sigma, center + k * sigma


def nnr(
    tidy: pa.Table | pl.DataFrame,
    tests: str | Sequence[int] = "all",
    *,
    radius: int = 2,
    k: float = 6.0,
    min_neighbours: int = 3,
    iqr_zero: str = "skip",
    quantile_method: str = "linear",
) -> tuple[pa.Table, pa.Table]:
    """NNR of each test on each wafer, over the good dies (``part_passed``) with a result.

    ``iqr_zero="resolution"`` floors the residual sigma at the smallest step between the
    wafer's results; ``"skip"`` leaves a wafer whose residual IQR is 0 unscreened (reported).
    Returns (``outliers``: one row per flagged die and test with ``lot_id, wafer_id,
    part_index, rule`` ("NNR"), ``test_num, test_name, pin, value`` (the residual),
    ``limit_lo, limit_hi, result, estimate``; ``limits``: one row per wafer and test with
    ``n_dies, center, sigma, limit_lo, limit_hi, skipped, reason``).
    """
    data = measurements(_frame(tidy, "the tidy table", ("x", "y"))).filter(
        pl.col("part_passed").fill_null(False)
        & pl.col("wafer_id").is_not_null()
        & pl.col("x").is_not_null()
        & pl.col("y").is_not_null()
    )
    if not isinstance(tests, str):
        data = data.filter(pl.col("test_num").is_in([int(t) for t in tests]))
    elif tests != "all":
        raise ValueError(f'tests must be "all" or a list of test numbers, got {tests!r}')
    _check_method(quantile_method)
    if iqr_zero not in IQR_ZERO_POLICIES:
        raise ValueError(f"iqr_zero must be one of {', '.join(IQR_ZERO_POLICIES)}; got {iqr_zero!r}")
    keys = ["lot_id", "wafer_id", *TEST_KEY]
    flagged, limits = [], []
    for key, group in data.group_by(keys, maintain_order=True):
        x, y = group["x"].to_numpy(), group["y"].to_numpy()
        grid, x0, y0 = die_grid(x, y, group["result"].to_numpy().astype(float), np.nan)
        iy, ix = y.astype(np.int64) - y0, x.astype(np.int64) - x0
        estimate = neighbour_median(grid, radius, min_neighbours)[iy, ix]
        residual = group["result"].to_numpy() - estimate
        center, sigma, lo, hi = nnr_limits(residual, k, quantile_method)
        n = int(np.sum(~np.isnan(residual)))
        skipped, reason = False, None
        step = measurement_resolution(group["result"].to_numpy()) if iqr_zero == "resolution" else np.nan
        if n == 0:
            skipped, reason = True, f"no die with {min_neighbours} good neighbours"
        elif step > sigma:
            reason = f"residual sigma {sigma:g} below the resolution: set to {step:g}"
            sigma, lo, hi = step, center - k * step, center + k * step
        elif sigma == 0:
            skipped, reason = True, "IQR of the residuals = 0, not screened"
        limits.append((*key, n, center, sigma, lo, hi, skipped, reason))
        if skipped:
            continue
        out = (residual < lo) | (residual > hi)
        if np.any(out):
            flagged.append(
                group.filter(pl.Series(out)).select(
                    *PART_KEY,
                    pl.lit("NNR").alias("rule"),
                    *TEST_KEY,
                    pl.Series("value", residual[out]),
                    pl.lit(lo).alias("limit_lo"),
                    pl.lit(hi).alias("limit_hi"),
                    "result",
                    pl.Series("estimate", estimate[out]),
                )
            )
    outliers_schema = {
        "lot_id": pl.String, "wafer_id": pl.String, "part_index": pl.Int64, "rule": pl.String,
        "test_num": pl.UInt32, "test_name": pl.String, "pin": pl.UInt16, "value": pl.Float64,
        "limit_lo": pl.Float64, "limit_hi": pl.Float64, "result": pl.Float64, "estimate": pl.Float64,
    }  # fmt: skip
    limits_schema = {
        "lot_id": pl.String, "wafer_id": pl.String, "test_num": pl.UInt32, "test_name": pl.String,
        "pin": pl.UInt16, "n_dies": pl.Int64, "center": pl.Float64, "sigma": pl.Float64,
        "limit_lo": pl.Float64, "limit_hi": pl.Float64, "skipped": pl.Boolean, "reason": pl.String,
    }  # fmt: skip
    outliers = pl.concat(flagged).cast(outliers_schema) if flagged else pl.DataFrame(schema=outliers_schema)
    limit_table = pl.DataFrame(limits, schema=limits_schema, orient="row")
    return outliers.to_arrow(), limit_table.to_arrow()
