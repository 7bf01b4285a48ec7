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

Quantiles are numpy's ``method`` (default ``"linear"``, Hyndman-Fan type 7).

**Which tests.** Common practice runs NNR on a short list of continuous, spatially smooth
parametric tests (IDDQ, leakage, thresholds, ring oscillators) chosen per product, never on
every test: on a test without a spatial signature the neighbours predict nothing, and on a
coarsely quantized test the residuals are steps. The recipe may list its tests (default: all);
among them, the data make the same choice per wafer and test: at least ``min_distinct`` (20,
which leaves room for results beyond floor-limited limits of ± 6 steps) distinct results,
and a residual spread below the result's (:func:`spread_ratio` <= ``max_spread_ratio``, 1:
Daasch et al. select neighbours for the variance they remove; with no spatial correlation the
residual of a die to the median of 24 neighbours spreads ~3 % *more* than the result itself),
and residuals that form one population with outliers: the standard deviation of their central
98 % at most ``max_tail_ratio`` (3) robust sigmas. A normal distribution gives 0.94 and
heavy-tailed ones 1-2; residuals falling into several modes (a trimmed or binned parameter)
give more, and their IQR measures one mode, so ± 6 of it would reject the other modes whole.
PAT tools likewise classify a distribution's shape before setting outlier limits on it.

**Floors of sigma.** Results measured in steps give residuals in steps, whose IQR can be below
one step or zero, so that every die one step off its neighbours would be rejected. The residual
sigma is floored at ``resolution_floor`` (default 1) x the measurement resolution, the
smallest non-zero step between the wafer's results (a residual within k steps is not judged),
and at a per-test ``min_sigma`` where the recipe gives one. Both are reported.

References
----------
W. R. Daasch, K. Cota, J. McNames, R. Madge, "Neighbor selection for variance reduction in
IDDQ and other parametric data", *Proc. International Test Conference* (2001), 92-100.

W. R. Daasch, J. McNames, R. Madge, K. Cota, "Neighborhood selection for IDDQ outlier
screening at wafer sort", *IEEE Design & Test of Computers* 19(5), 74-81 (2002).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numba as nb
import numpy as np
import polars as pl
import pyarrow as pa

from .pat import (
    IQR_PER_SIGMA,
    PART_KEY,
    TEST_KEY,
    Measurements,
    _check_method,
    _frame,
    _groups_by_first_row,
    _measurements,
    measurement_resolution,
    passing_measurements,
)

__all__ = ["neighbour_median", "nnr", "nnr_limits", "nnr_residuals", "spread_ratio", "trimmed_std"]


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
            out[i, j] = _window_median(values, i, j, radius, min_neighbours, window)
    return out


@nb.njit(cache=True, nogil=True, inline="always")
def _window_median(grid, i, j, radius, min_neighbours, window):
    """Median of the non-NaN neighbours of cell (i, j) within ``radius`` (itself left out); NaN
    with fewer than ``min_neighbours``. ``window`` is scratch space of (2 radius + 1)^2 values."""
    rows, cols = grid.shape
    n = 0
    for a in range(max(i - radius, 0), min(i + radius + 1, rows)):
        for b in range(max(j - radius, 0), min(j + radius + 1, cols)):
            v = grid[a, b]
            if (a == i and b == j) or np.isnan(v):
                continue
            k = n
            while k > 0 and window[k - 1] > v:
                window[k] = window[k - 1]
                k -= 1
            window[k] = v
            n += 1
    if n < min_neighbours:
        return np.nan
    half = n // 2
    return window[half] if n % 2 else 0.5 * (window[half - 1] + window[half])


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


def trimmed_std(values: np.ndarray, trim: float = 0.01) -> float:
    """Standard deviation (ddof 0) of the values between their ``trim`` and ``1 - trim``
    quantiles, NaN ignored: the spread of the bulk, which a few outliers do not move."""
    a = np.asarray(values, dtype=float)
    a = a[~np.isnan(a)]
    if a.size < 2:
        return float("nan")
    lo, hi = np.quantile(a, [trim, 1 - trim])
    return float(np.std(a[(a >= lo) & (a <= hi)]))


def spread_ratio(residuals: np.ndarray, results: np.ndarray, trim: float = 0.01) -> float:
    """:func:`trimmed_std` of the residuals over that of the results (same dies), so the
    outliers NNR looks for do not decide whether it runs. Below 1 the neighbourhood explains
    part of the spread (Daasch et al. 2001: neighbour selection for variance reduction); NaN
    when the results do not vary."""
    r = np.asarray(residuals, dtype=float)
    v = np.asarray(results, dtype=float)
    keep = ~(np.isnan(r) | np.isnan(v))
    spread = trimmed_std(v[keep], trim)
    return trimmed_std(r[keep], trim) / spread if spread > 0 else float("nan")


def _check_min_sigma(min_sigma: Mapping[int, float] | None) -> dict[int, float]:
    if min_sigma is None:
        return {}
    if not isinstance(min_sigma, Mapping):
        raise ValueError(f"min_sigma must map test numbers to a sigma, got {type(min_sigma).__name__}")
    out = {}
    for test, sigma in min_sigma.items():
        if isinstance(test, bool) or not isinstance(test, int | np.integer):
            raise ValueError(f"min_sigma keys must be test numbers, got {test!r}")
        if (
            isinstance(sigma, bool)
            or not isinstance(sigma, int | float)
            or not np.isfinite(sigma)
            or sigma <= 0
        ):
            raise ValueError(f"min_sigma of test {test} must be a number > 0, got {sigma!r}")
        out[int(test)] = float(sigma)
    return out


def _check_selection(
    k: float,
    resolution_floor: float,
    min_distinct: int,
    max_spread_ratio: float | None,
    max_tail_ratio: float | None,
) -> None:
    if not isinstance(k, int | float) or not np.isfinite(k) or k <= 0:
        raise ValueError(f"k must be a positive number, got {k!r}")
    if (
        not isinstance(resolution_floor, int | float)
        or not np.isfinite(resolution_floor)
        or resolution_floor < 0
    ):
        raise ValueError(f"resolution_floor must be a number >= 0, got {resolution_floor!r}")
    if isinstance(min_distinct, bool) or not isinstance(min_distinct, int) or min_distinct < 1:
        raise ValueError(f"min_distinct must be an integer >= 1, got {min_distinct!r}")
    if max_spread_ratio is not None and (
        not isinstance(max_spread_ratio, int | float)
        or not np.isfinite(max_spread_ratio)
        or max_spread_ratio <= 0
    ):
        raise ValueError(f"max_spread_ratio must be a number > 0 or None, got {max_spread_ratio!r}")
    if max_tail_ratio is not None and (
        not isinstance(max_tail_ratio, int | float) or not np.isfinite(max_tail_ratio) or max_tail_ratio <= 0
    ):
        raise ValueError(f"max_tail_ratio must be a number > 0 or None, got {max_tail_ratio!r}")


def nnr(
    tidy: pa.Table | pl.DataFrame,
    tests: str | Sequence[int] = "all",
    *,
    radius: int = 2,
    k: float = 6.0,
    min_neighbours: int = 3,
    resolution_floor: float = 1.0,
    min_sigma: Mapping[int, float] | None = None,
    min_distinct: int = 20,
    max_spread_ratio: float | None = 1.0,
    max_tail_ratio: float | None = 3.0,
    quantile_method: str = "linear",
    alarmed: str = "exclude",
) -> tuple[pa.Table, pa.Table]:
    """NNR of each test on each wafer, over the good dies (``part_passed``) with a result.

    Which (wafer, test) groups are screened: those of ``tests`` whose good dies give at least
    ``min_distinct`` distinct results (fewer are categories or coarse steps, not a continuous
    parameter), whose :func:`spread_ratio` is at most ``max_spread_ratio`` (the neighbourhood
    must explain part of the spread) and whose residuals' ``tail_ratio`` (their
    :func:`trimmed_std` over the sigma the limits use) is at most ``max_tail_ratio`` (one
    population with outliers, not several modes whose IQR is one mode's width); None turns a
    condition off. The others are listed as skipped, with the reason.

    The residual sigma (median ± k x IQR / 1.35 of the residuals) is floored at
    ``resolution_floor`` x the measurement resolution (:func:`~silicio.yields.pat.measurement_resolution`
    of the wafer's results; 0: no floor) and at ``min_sigma[test_num]`` (units of the result)
    where given: a residual of a step or two is quantization, not an outlier. Alarm-flagged
    results (TEST_FLG bit 0) are neither neighbours nor judged unless ``alarmed="include"``.

    Returns (``outliers``: one row per flagged die and test with ``lot_id, wafer_id,
    part_index, rule`` ("NNR"), ``test_num, test_name, pin, value`` (the residual),
    ``limit_lo, limit_hi, result, estimate``; ``limits``: one row per wafer and test with
    ``n_dies, n_distinct, spread_ratio, tail_ratio, sigma_iqr, resolution, sigma, sigma_source`` ("iqr",
    "resolution" or "min_sigma"), ``center, limit_lo, limit_hi, skipped, reason``).
    """
    passing = passing_measurements(_frame(tidy, "the tidy table", ("x", "y")), alarmed)
    return _nnr(
        passing, tests, radius=radius, k=k, min_neighbours=min_neighbours, resolution_floor=resolution_floor,
        min_sigma=min_sigma, min_distinct=min_distinct, max_spread_ratio=max_spread_ratio,
        max_tail_ratio=max_tail_ratio, quantile_method=quantile_method,
    )  # fmt: skip


def _nnr(
    passing: pl.DataFrame | Measurements,
    tests: str | Sequence[int],
    *,
    radius: int,
    k: float,
    min_neighbours: int,
    resolution_floor: float,
    min_sigma: Mapping[int, float] | None,
    min_distinct: int,
    max_spread_ratio: float | None,
    max_tail_ratio: float | None,
    quantile_method: str,
) -> tuple[pa.Table, pa.Table]:
    """:func:`nnr` of :func:`~silicio.yields.pat.passing_measurements` already taken."""
    if isinstance(tests, str) and tests != "all":
        raise ValueError(f'tests must be "all" or a list of test numbers, got {tests!r}')
    measured = _measurements(passing)
    data = measured.frame
    on_map = data.select(
        (pl.col("wafer_id").is_not_null() & pl.col("x").is_not_null() & pl.col("y").is_not_null()).alias(
            "_on"
        )
    )["_on"].to_numpy()
    chosen = measured.tests_mask(tests)
    if chosen is not None:
        on_map &= chosen
    _check_method(quantile_method)
    _check_selection(k, resolution_floor, min_distinct, max_spread_ratio, max_tail_ratio)
    floors = _check_min_sigma(min_sigma)
    # One pass over all (wafer, test) groups: rows in group order (groups in order of first
    # appearance, rows in table order within each), neighbour medians and statistics compiled.
    judged = np.flatnonzero(on_map)
    n_tests = measured.tests.height
    offsets, in_group, group_code = _groups_by_first_row(
        (measured.wafer * n_tests + measured.test)[judged], measured.wafers.height * n_tests
    )
    rows = judged[in_group]
    sizes = np.diff(offsets)
    group_keys = measured.key_columns(["lot_id", "wafer_id"], group_code)
    if int(radius) != radius or radius < 1:
        raise ValueError(f"radius must be an integer >= 1, got {radius!r}")
    if int(min_neighbours) < 1:
        raise ValueError(f"min_neighbours must be >= 1, got {min_neighbours!r}")
    result = data["result"].to_numpy()[rows].astype(float)
    estimate, duplicate = _neighbour_estimates(
        data["x"].to_numpy()[rows].astype(np.int64), data["y"].to_numpy()[rows].astype(np.int64), result, offsets,
        int(radius), int(min_neighbours), *_median_network(int(radius)),
    )  # fmt: skip
    if duplicate.any():
        raise ValueError("two dies at the same (x, y): give one (final) part per die")
    residual = result - estimate
    stats = _group_statistics(residual, result, offsets, k, quantile_method)
    limits, row_lo, row_hi = [], np.full(offsets.size - 1, np.nan), np.full(offsets.size - 1, np.nan)
    for g, key in enumerate(group_keys.iter_rows()):
        center, sigma_iqr, n, n_distinct, bulk_result, bulk_residual, step = (s[g] for s in stats)
        n, n_distinct = int(n), int(n_distinct)
        ratio = bulk_residual / bulk_result if bulk_result > 0 else float("nan")
        sigma, source = sigma_iqr, "iqr"
        for floor, name in (
            (resolution_floor * step, "resolution"),
            (floors.get(int(key[2]), np.nan), "min_sigma"),
        ):
            if np.isfinite(floor) and floor > sigma:
                sigma, source = floor, name
        tail = bulk_residual / sigma if sigma > 0 else np.nan
        skipped, reason = True, None
        if n_distinct < min_distinct:
            reason = f"{n_distinct} distinct results, fewer than the {min_distinct} NNR needs (categories or coarse steps)"
        elif n == 0:
            reason = f"no die with {min_neighbours} good neighbours"
        elif max_spread_ratio is not None and not ratio <= max_spread_ratio:
            reason = (
                f"no spatial signature: residual / result spread {ratio:.3g} above {max_spread_ratio:g}"
                if np.isfinite(ratio)
                else "results do not vary: no spatial signature"
            )
        elif not sigma > 0:
            reason = "IQR of the residuals = 0 and no floor (resolution, min_sigma): not screened"
        elif max_tail_ratio is not None and not tail <= max_tail_ratio:
            reason = (
                f"residuals are not one population with outliers: their bulk spreads {tail:.3g} x the "
                f"robust sigma (above {max_tail_ratio:g}; several modes), not screened"
            )
        else:
            skipped = False
            if source != "iqr":
                reason = f"residual sigma {sigma_iqr:g} below the {source} floor: set to {sigma:g}"
        lo, hi = (np.nan, np.nan) if skipped else (center - k * sigma, center + k * sigma)
        row_lo[g], row_hi[g] = lo, hi
        limits.append(
            (*key, n, n_distinct, ratio, tail, sigma_iqr, step, None if skipped else sigma,
             None if skipped else source, center, lo, hi, skipped, reason)
        )  # fmt: skip
    row_lo, row_hi = np.repeat(row_lo, sizes), np.repeat(row_hi, sizes)
    # NaN limits (skipped groups) compare False: nothing flagged there.
    out = (residual < row_lo) | (residual > row_hi)
    flagged = data[rows[out]].select(
        *PART_KEY,
        pl.lit("NNR").alias("rule"),
        *TEST_KEY,
        pl.Series("value", residual[out]),
        pl.Series("limit_lo", row_lo[out]),
        pl.Series("limit_hi", row_hi[out]),
        "result",
        pl.Series("estimate", estimate[out]),
    )
    outliers_schema = {
        "lot_id": pl.String, "wafer_id": pl.String, "part_index": pl.Int64, "rule": pl.String,
        "test_num": pl.UInt32, "test_name": pl.String, "pin": pl.UInt16, "value": pl.Float64,
        "limit_lo": pl.Float64, "limit_hi": pl.Float64, "result": pl.Float64, "estimate": pl.Float64,
    }  # fmt: skip
    limits_schema = {
        "lot_id": pl.String, "wafer_id": pl.String, "test_num": pl.UInt32, "test_name": pl.String,
        "pin": pl.UInt16, "n_dies": pl.Int64, "n_distinct": pl.Int64, "spread_ratio": pl.Float64, "tail_ratio": pl.Float64,
        "sigma_iqr": pl.Float64, "resolution": pl.Float64, "sigma": pl.Float64, "sigma_source": pl.String,
        "center": pl.Float64, "limit_lo": pl.Float64, "limit_hi": pl.Float64, "skipped": pl.Boolean,
        "reason": pl.String,
    }  # fmt: skip
    outliers = flagged.cast(outliers_schema)
    limit_table = pl.DataFrame(limits, schema=limits_schema, orient="row").with_columns(
        pl.col(c).fill_nan(None)
        for c in ("spread_ratio", "tail_ratio", "sigma_iqr", "resolution", "center", "limit_lo", "limit_hi")
    )
    return outliers.to_arrow(), limit_table.to_arrow()


def _group_statistics(
    residual: np.ndarray, result: np.ndarray, offsets: np.ndarray, k: float, method: str
) -> tuple[np.ndarray, ...]:
    """Per group ``[offsets[g]:offsets[g + 1]]``: (centre and robust sigma of :func:`nnr_limits`,
    dies with a residual, distinct results, :func:`trimmed_std` of the results of those dies and
    of their residuals, :func:`~silicio.yields.pat.measurement_resolution`), equal bit for bit
    to the numpy functions, which other quantile methods than "linear" use per group."""
    if method == "linear":
        return _linear_statistics(residual, result, offsets)
    n_groups = offsets.size - 1
    stats = tuple(np.full(n_groups, np.nan) for _ in range(7))
    for g in range(n_groups):
        r, v = residual[offsets[g] : offsets[g + 1]], result[offsets[g] : offsets[g + 1]]
        keep = ~np.isnan(r)
        center, sigma_iqr, _, _ = nnr_limits(r, k, method)
        found = (center, sigma_iqr, keep.sum(), np.unique(v).size, trimmed_std(v[keep]), trimmed_std(r[keep]),
                 measurement_resolution(v))  # fmt: skip
        for column, value in zip(stats, found, strict=True):
            column[g] = value
    return stats


def _merge_exchange(n: int) -> list[tuple[int, int]]:
    """Batcher's merge exchange sorting network of ``n`` inputs (Knuth, TAOCP vol. 3, 5.2.2,
    Algorithm M): the compare-exchanges (i, j), i < j, that sort any ``n`` values in turn."""
    comparators = []
    t = (n - 1).bit_length()
    p = 1 << (t - 1)
    while p > 0:
        q, r, d = 1 << (t - 1), 0, p
        while True:
            comparators += [(i, i + d) for i in range(n - d) if i & p == r]
            if q == p:
                break
            d, q, r = q - p, q >> 1, p
        p >>= 1
    return comparators


@functools.lru_cache(maxsize=8)
def _median_network(radius: int) -> tuple[np.ndarray, np.ndarray]:
    """The merge exchange network of a window's (2 r + 1)^2 - 1 neighbours, cut to the
    compare-exchanges its two middle outputs depend on: (lower wires, upper wires)."""
    n = (2 * radius + 1) ** 2 - 1
    needed, kept = {n // 2 - 1, n // 2}, []
    for i, j in reversed(_merge_exchange(n)):
        if i in needed or j in needed:
            kept.append((i, j))
            needed |= {i, j}
    pairs = np.array(kept[::-1], dtype=np.int64).reshape(-1, 2)
    return np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])


#: Dies whose windows go through the median network together (their neighbours, wire-major,
#: stay in the first-level cache).
_NETWORK_DIES = 128


@nb.njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _neighbour_estimates(x, y, result, offsets, radius, min_neighbours, lower_wires, upper_wires):
    """:func:`neighbour_median` of each die of each group, computed at the dies only; and per
    group whether two of its dies share a position.

    The windows of a few dozen dies go through a sorting network cut to the median
    (``lower_wires`` / ``upper_wires``, :func:`_median_network`) side by side, without a branch
    on the data: an insertion sort per die mispredicts a branch at every value. A missing
    neighbour enters as +inf and -inf in turn, which leaves the median of the values present
    where the network reads it: with m missing (m + 1) // 2 lie above them all and m // 2 below,
    so the middle pair of the window (m even) or its lower one (m odd) is their median. Equal
    values have equal bits, so which one comes out does not matter, but for 0.0 and -0.0: a
    group holding both takes the insertion sort of :func:`_window_median`."""
    estimate = np.full(result.size, np.nan)
    duplicate = np.zeros(offsets.size - 1, np.bool_)
    side = 2 * radius + 1
    width = side * side - 1
    low = width // 2 - 1
    for g in nb.prange(offsets.size - 1):
        lo, hi = offsets[g], offsets[g + 1]
        x0, y0, x1, y1 = x[lo:hi].min(), y[lo:hi].min(), x[lo:hi].max(), y[lo:hi].max()
        # A margin of ``radius`` empty cells: every window lies inside the grid.
        rows, cols = y1 - y0 + 1 + 2 * radius, x1 - x0 + 1 + 2 * radius
        grid = np.full((rows, cols), np.nan)
        taken = np.zeros((rows, cols), np.bool_)
        positive_zero, negative_zero = False, False
        for d in range(lo, hi):
            i, j = y[d] - y0 + radius, x[d] - x0 + radius
            if taken[i, j]:
                duplicate[g] = True
            taken[i, j] = True
            grid[i, j] = result[d]
            if result[d] == 0.0:
                if np.signbit(result[d]):
                    negative_zero = True
                else:
                    positive_zero = True
        if positive_zero and negative_zero:
            scratch = np.empty(side * side, np.float64)
            for d in range(lo, hi):
                estimate[d] = _window_median(
                    grid, y[d] - y0 + radius, x[d] - x0 + radius, radius, min_neighbours, scratch
                )
            continue
        window = np.empty((width, _NETWORK_DIES))
        missing = np.empty(_NETWORK_DIES, np.int64)
        die = np.empty(_NETWORK_DIES, np.int64)
        for first in range(lo, hi, _NETWORK_DIES):
            count = 0
            for d in range(first, min(first + _NETWORK_DIES, hi)):
                i, j = y[d] - y0 + radius, x[d] - x0 + radius
                wire, m = 0, 0
                for a in range(i - radius, i + radius + 1):
                    for b in range(j - radius, j + radius + 1):
                        if a == i and b == j:
                            continue
                        v = grid[a, b]
                        if np.isnan(v):
                            v = np.inf if m % 2 == 0 else -np.inf
                            m += 1
                        window[wire, count] = v
                        wire += 1
                if width - m >= min_neighbours:
                    missing[count], die[count] = m, d
                    count += 1
            for c in range(lower_wires.size):
                p, q = lower_wires[c], upper_wires[c]
                for t in range(count):
                    u, v = window[p, t], window[q, t]
                    window[p, t] = v if v < u else u
                    window[q, t] = u if v < u else v
            for t in range(count):
                if missing[t] % 2:
                    estimate[die[t]] = window[low, t]
                else:
                    estimate[die[t]] = 0.5 * (window[low, t] + window[low + 1, t])
    return estimate, duplicate


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _block_sum(a, start, n):
    # numpy's pairwise_sum of at most 128 values: 8 accumulators, then the remainder.
    if n < 8:
        total = 0.0
        for i in range(start, start + n):
            total += a[i]
        return total
    r = a[start : start + 8].copy()
    i = 8
    while i < n - (n % 8):
        for j in range(8):
            r[j] += a[start + i + j]
        i += 8
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < n:
        total += a[start + i]
        i += 1
    return total


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _pairwise_sum(a, start, n):
    # numpy's pairwise summation (blocks of 128, halves split at multiples of 8), so that a mean
    # or a standard deviation equals numpy's bit for bit; its recursion kept on an explicit
    # stack (numba's cache does not keep recursive functions reliably).
    first, size = np.empty(64, np.int64), np.empty(64, np.int64)
    stage, left = np.zeros(64, np.int64), np.empty(64)
    top = 0
    first[0], size[0], stage[0] = start, n, 0
    while True:
        if size[top] > 128:
            half = size[top] // 2
            half -= half % 8
            stage[top] = 1
            top += 1
            first[top], size[top], stage[top] = first[top - 1], half, 0
            continue
        value = _block_sum(a, first[top], size[top])
        while True:  # hand the finished sum up to the halves waiting for it
            if top == 0:
                return value
            top -= 1
            if stage[top] == 1:
                left[top], stage[top] = value, 2
                half = size[top] // 2
                half -= half % 8
                top += 1
                first[top], size[top], stage[top] = first[top - 1] + half, size[top - 1] - half, 0
                break
            value = left[top] + value


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _linear_quantile(ordered, q):
    # numpy.quantile, method "linear" (Hyndman-Fan type 7), on sorted values, its interpolation
    # operation for operation.
    n = ordered.size
    virtual = (n - 1) * q
    if virtual >= n - 1:
        return ordered[n - 1]
    below = int(np.floor(virtual))
    t = virtual - below
    a, b = ordered[below], ordered[below + 1]
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _trimmed_std(values, ordered):
    # trimmed_std, NaN-free input (``ordered``: the same values sorted), as numpy computes it:
    # quantiles, then np.std of the values kept in their order (mean and squares summed pairwise).
    if values.size < 2:
        return np.nan
    lo, hi = _linear_quantile(ordered, 0.01), _linear_quantile(ordered, 0.99)
    kept = values[(values >= lo) & (values <= hi)]
    mean = _pairwise_sum(kept, 0, kept.size) / kept.size
    deviations = kept - mean
    squares = deviations * deviations
    return np.sqrt(_pairwise_sum(squares, 0, squares.size) / squares.size)


@nb.njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _linear_statistics(residual, result, offsets):
    n_groups = offsets.size - 1
    center, sigma_iqr = np.full(n_groups, np.nan), np.full(n_groups, np.nan)
    n_dies, n_distinct = np.zeros(n_groups), np.zeros(n_groups)
    bulk_result, bulk_residual, step = (
        np.full(n_groups, np.nan),
        np.full(n_groups, np.nan),
        np.full(n_groups, np.nan),
    )
    for g in nb.prange(n_groups):
        r, v = residual[offsets[g] : offsets[g + 1]], result[offsets[g] : offsets[g + 1]]
        keep = ~np.isnan(r)
        r, v_kept = r[keep], v[keep]
        n_dies[g] = r.size
        ordered = np.sort(r)
        if r.size:
            q1, q3 = _linear_quantile(ordered, 0.25), _linear_quantile(ordered, 0.75)
            half = r.size // 2
            center[g] = ordered[half] if r.size % 2 else (ordered[half - 1] + ordered[half]) / 2
            sigma_iqr[g] = (q3 - q1) / IQR_PER_SIGMA
        distinct = np.sort(v)
        count, smallest = 1, np.inf
        for i in range(1, distinct.size):
            if distinct[i] != distinct[i - 1]:
                count += 1
                smallest = min(smallest, distinct[i] - distinct[i - 1])
        n_distinct[g] = count
        if count > 1:
            step[g] = smallest
        # Each population sorted once, for its quantiles and its trimmed spread.
        kept_sorted = distinct if v_kept.size == v.size else np.sort(v_kept)
        bulk_result[g], bulk_residual[g] = _trimmed_std(v_kept, kept_sorted), _trimmed_std(r, ordered)
    return center, sigma_iqr, n_dies, n_distinct, bulk_result, bulk_residual, step
