"""Good Die in Bad Neighbourhood (GDBN): passing dies surrounded by failing ones.

Defects cluster on a wafer, so a die that passes every test while its neighbours fail is more
likely to carry a latent defect than a die in a clean area. Two rules flag it:

* **count rule**: a good die with at least ``min_failing`` failing dies in the
  (2 r + 1) x (2 r + 1) window around it (r = ``radius``; r = 1 is the 3 x 3 window of 8
  neighbours);
* **weighted rule**: each failing neighbour of the 3 x 3 window adds its weight, adjacent
  (sharing an edge) ``adjacent_weight`` (2), diagonal (sharing a corner) ``diagonal_weight``
  (1); a good die is flagged when the sum reaches ``threshold``.

**Edge factor.** A die at the wafer edge (or beside a position not on the map) has fewer
neighbours, so it cannot reach the same sum. ``edge`` says how its sum is scaled:

* ``None`` / ``"none"``: not scaled;
* ``"scale"``: ``score = sum x W_full / W_present``, where W_full is the weight of the whole
  window and W_present that of the neighbours on the map (count rule: ``x 8 / n_present``);
  the score then reads as "as if the missing neighbours failed in the same proportion";
* a number ``f``: ``score = sum x f`` for every die missing at least one neighbour.

Functions work on 2-D grids (rows = y, columns = x) of booleans, vectorised with numpy;
:func:`gdbn` applies a rule to every wafer of a per-part table.

References
----------
M. J. Moreno-Lizaranzu and F. Cuesta, "Improving Electronic Sensor Reliability by Robust
Outlier Screening", *Sensors* 13(10), 13521-13542 (2013): good die in a bad neighbourhood and
cluster rules at wafer probe, beside dynamic PAT. The rules have no single standard form: the
window, weights, thresholds and edge treatment are parameters, stated in the recipe.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from .pat import _frame

__all__ = [
    "GDBN_RULES",
    "bad_neighbourhood_score",
    "count_kernel",
    "die_grid",
    "gdbn",
    "gdbn_count",
    "gdbn_weighted",
    "weighted_kernel",
    "window_sum",
]

GDBN_RULES = ("count", "weighted")


def die_grid(x: np.ndarray, y: np.ndarray, values: np.ndarray, fill) -> tuple[np.ndarray, int, int]:
    """A 2-D grid of ``values`` placed at die coordinates: ``grid[y - y0, x - x0]``.

    Positions with no die hold ``fill``. Returns (grid, x0, y0). Two values at the same (x, y)
    raise ValueError: a wafer map holds one final result per die.
    """
    x = np.asarray(x, dtype=np.int64)
    y = np.asarray(y, dtype=np.int64)
    values = np.asarray(values)
    if not (x.shape == y.shape == values.shape) or x.ndim != 1:
        raise ValueError("x, y and values must be 1-D arrays of the same length")
    if x.size == 0:
        return np.full((0, 0), fill, dtype=np.result_type(values, np.asarray(fill))), 0, 0
    x0, y0 = int(x.min()), int(y.min())
    grid = np.full(
        (int(y.max()) - y0 + 1, int(x.max()) - x0 + 1), fill, dtype=np.result_type(values, np.asarray(fill))
    )
    flat = (y - y0) * grid.shape[1] + (x - x0)
    if np.unique(flat).size != flat.size:
        raise ValueError("two dies at the same (x, y): give one (final) part per die")
    grid[y - y0, x - x0] = values
    return grid, x0, y0


def count_kernel(radius: int = 1) -> np.ndarray:
    """Weights of the count rule: 1 for each die of the (2 r + 1)^2 window, 0 for the centre."""
    if int(radius) != radius or radius < 1:
        raise ValueError(f"radius must be an integer >= 1, got {radius!r}")
    kernel = np.ones((2 * radius + 1, 2 * radius + 1))
    kernel[radius, radius] = 0.0
    return kernel


def weighted_kernel(adjacent_weight: float = 2.0, diagonal_weight: float = 1.0) -> np.ndarray:
    """Weights of the weighted rule on the 3 x 3 window: edge-sharing neighbours
    ``adjacent_weight``, corner-sharing ``diagonal_weight``, centre 0."""
    for name, w in (("adjacent_weight", adjacent_weight), ("diagonal_weight", diagonal_weight)):
        if not np.isfinite(w) or w < 0:
            raise ValueError(f"{name} must be a number >= 0, got {w!r}")
    a, d = float(adjacent_weight), float(diagonal_weight)
    return np.array([[d, a, d], [a, 0.0, a], [d, a, d]])


def window_sum(grid: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Sum of ``kernel``-weighted values around each cell (cells off the grid count 0)."""
    grid = np.asarray(grid, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if grid.ndim != 2 or kernel.ndim != 2 or kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        raise ValueError("grid must be 2-D and kernel 2-D with odd sides")
    ry, rx = kernel.shape[0] // 2, kernel.shape[1] // 2
    padded = np.pad(grid, ((ry, ry), (rx, rx)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape)
    return np.einsum("ijkl,kl->ij", windows, kernel)


def bad_neighbourhood_score(
    failing: np.ndarray, present: np.ndarray, kernel: np.ndarray, edge: str | float | None = None
) -> np.ndarray:
    """Weighted count of failing neighbours of each cell, scaled at the edge as ``edge`` says.

    ``failing`` and ``present`` are boolean grids (a failing die is present). See the module
    docstring for the edge factor: ``None``, ``"scale"`` (x W_full / W_present) or a number.
    """
    failing = np.asarray(failing, dtype=bool)
    present = np.asarray(present, dtype=bool)
    if failing.shape != present.shape:
        raise ValueError(f"failing {failing.shape} and present {present.shape} grids differ in shape")
    raw = window_sum(failing & present, kernel)
    if edge is None or edge == "none":
        return raw
    full = float(np.sum(kernel))
    have = window_sum(present, kernel)
    if edge == "scale":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(have > 0, raw * full / have, 0.0)
    if isinstance(edge, str) or not np.isfinite(edge) or edge <= 0:
        raise ValueError(f'edge must be None, "none", "scale" or a positive number; got {edge!r}')
    # Float sums of present weights: compare with a tolerance, not exactly.
    at_edge = have < full - 1e-9 * max(full, 1.0)
    return np.where(at_edge, raw * float(edge), raw)


def gdbn_count(
    failing: np.ndarray,
    present: np.ndarray,
    min_failing: float = 3,
    radius: int = 1,
    edge: str | float | None = None,
) -> np.ndarray:
    """Count rule: good dies with >= ``min_failing`` failing dies in their (2 r + 1)^2 window.

    Returns a boolean grid, True at the flagged good dies.
    """
    score = bad_neighbourhood_score(failing, present, count_kernel(radius), edge)
    return _flags(failing, present, score, min_failing)


def gdbn_weighted(
    failing: np.ndarray,
    present: np.ndarray,
    threshold: float = 6,
    adjacent_weight: float = 2.0,
    diagonal_weight: float = 1.0,
    edge: str | float | None = None,
) -> np.ndarray:
    """Weighted rule: good dies whose weighted failing-neighbour sum (adjacent 2, diagonal 1 by
    default) reaches ``threshold``. Returns a boolean grid, True at the flagged good dies."""
    score = bad_neighbourhood_score(failing, present, weighted_kernel(adjacent_weight, diagonal_weight), edge)
    return _flags(failing, present, score, threshold)


def _flags(failing, present, score, threshold) -> np.ndarray:
    if not np.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"threshold must be a positive number, got {threshold!r}")
    good = np.asarray(present, dtype=bool) & ~np.asarray(failing, dtype=bool)
    # A tolerance so a scaled score of exactly the threshold is not lost to rounding.
    return good & (score >= threshold - 1e-9 * threshold)


def gdbn(
    parts: pa.Table | pl.DataFrame,
    *,
    rule: str = "weighted",
    threshold: float | None = None,
    min_failing: float | None = None,
    radius: int = 1,
    adjacent_weight: float = 2.0,
    diagonal_weight: float = 1.0,
    edge: str | float | None = None,
) -> pa.Table:
    """GDBN on every wafer of a per-part table (one final part per die).

    ``parts`` has ``lot_id, wafer_id, part_index, x, y, part_passed``; parts without a wafer or
    coordinates are not on a map and are left out. A part whose ``part_passed`` is null is on
    the map but neither failing nor flagged. The count rule uses ``min_failing`` (default 3)
    and ``radius``; the weighted rule ``threshold`` (default 6) and the weights.

    Returns one row per good die on a map: ``lot_id, wafer_id, part_index, x, y, score,
    threshold, flagged`` (score: the edge-scaled sum the rule compared with its threshold).
    """
    if rule not in GDBN_RULES:
        raise ValueError(f"rule must be one of {', '.join(GDBN_RULES)}; got {rule!r}")
    if rule == "count":
        limit = 3.0 if min_failing is None else float(min_failing)
        kernel = count_kernel(radius)
    else:
        limit = 6.0 if threshold is None else float(threshold)
        kernel = weighted_kernel(adjacent_weight, diagonal_weight)
    frame = _frame(parts, "parts", ("lot_id", "wafer_id", "part_index", "x", "y", "part_passed"))
    frame = frame.filter(
        pl.col("wafer_id").is_not_null() & pl.col("x").is_not_null() & pl.col("y").is_not_null()
    )
    out = []
    for _, wafer_parts in frame.group_by(["lot_id", "wafer_id"], maintain_order=True):
        x, y = wafer_parts["x"].to_numpy(), wafer_parts["y"].to_numpy()
        passed = wafer_parts["part_passed"]
        failing_grid, x0, y0 = die_grid(x, y, (passed == False).fill_null(False).to_numpy(), False)  # noqa: E712
        present_grid, _, _ = die_grid(x, y, np.ones(x.size, dtype=bool), False)
        score = bad_neighbourhood_score(failing_grid, present_grid, kernel, edge)
        flagged = _flags(failing_grid, present_grid, score, limit)
        iy, ix = y.astype(np.int64) - y0, x.astype(np.int64) - x0
        good = passed.fill_null(False).to_numpy()
        out.append(
            wafer_parts.select("lot_id", "wafer_id", "part_index", "x", "y")
            .with_columns(
                pl.Series("score", score[iy, ix]),
                pl.lit(limit).alias("threshold"),
                pl.Series("flagged", flagged[iy, ix]),
            )
            .filter(pl.Series(good))
        )
    schema = {
        "lot_id": pl.String, "wafer_id": pl.String, "part_index": pl.Int64, "x": pl.Int16, "y": pl.Int16,
        "score": pl.Float64, "threshold": pl.Float64, "flagged": pl.Boolean,
    }  # fmt: skip
    if not out:
        return pl.DataFrame(schema=schema).to_arrow()
    return pl.concat(out).cast(schema).to_arrow()
