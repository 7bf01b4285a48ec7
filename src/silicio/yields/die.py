"""Dies per wafer and defect-limited yield models, with D0 fitted to observed wafer yields.

Lengths are in mm (die size, scribe, wafer diameter, edge exclusion); die areas for the yield
models in cm^2 and defect densities D0 in defects / cm^2, as the yield literature writes them.

References
----------
de Vries, D. K. "Investigation of gross die per wafer formulas", IEEE Trans. Semicond. Manuf.
18(1), 136-139 (2005).

Murphy, B. T. "Cost-size optima of monolithic integrated circuits", Proc. IEEE 52(12),
1537-1545 (1964).

Seeds, R. B. "Yield, economic, and logistic models for complex digital arrays", IEEE Int.
Convention Record, part 6, 60-61 (1967).

Stapper, C. H. "Modeling of integrated circuit defect sensitivities", IBM J. Res. Dev. 27(6),
549-557 (1983).

Cunningham, J. A. "The use and evaluation of yield models in integrated circuit
manufacturing", IEEE Trans. Semicond. Manuf. 3(2), 60-71 (1990).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

__all__ = [
    "DefectDensityFit",
    "GridDieCount",
    "YIELD_MODELS",
    "fit_defect_density",
    "grid_die_per_wafer",
    "gross_die_per_wafer",
    "murphy_yield",
    "negative_binomial_yield",
    "poisson_yield",
    "seeds_yield",
]


def _positive(name: str, value, allow_zero: bool = False) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    bad = (arr < 0) if allow_zero else (arr <= 0)
    if np.any(bad) or np.any(~np.isfinite(arr)):
        raise ValueError(
            f"{name} must be {'non-negative' if allow_zero else 'positive'} and finite; got {value!r}"
        )
    return arr


def _usable_diameter(wafer_diameter, edge_exclusion) -> np.ndarray:
    d = _positive("wafer_diameter", wafer_diameter) - 2 * _positive("edge_exclusion", edge_exclusion, True)
    if np.any(d <= 0):
        raise ValueError(f"edge_exclusion {edge_exclusion!r} leaves nothing of a {wafer_diameter!r} mm wafer")
    return d


def gross_die_per_wafer(die_width, die_height, wafer_diameter, scribe=0.0, edge_exclusion=0.0):
    """Gross dies per wafer by the standard approximation, rounded down.

    DPW = pi d^2 / (4 S) - pi d / sqrt(2 S), with d the usable diameter (wafer diameter minus
    twice the edge exclusion) and S the die area including the scribe lane, (w + s)(h + s)
    (de Vries 2005, eq. 2). The second term removes the partial dies along the edge.
    300 mm wafer, 10 x 10 mm die: 706.9 - 66.6 = 640.
    Vectorised over numpy arrays; a scalar in gives an int out.
    """
    s = _positive("scribe", scribe, True)
    area = (_positive("die_width", die_width) + s) * (_positive("die_height", die_height) + s)
    d = _usable_diameter(wafer_diameter, edge_exclusion)
    dpw = np.maximum(np.floor(np.pi * d**2 / (4 * area) - np.pi * d / np.sqrt(2 * area)), 0)
    return int(dpw) if dpw.ndim == 0 else dpw.astype(np.int64)


@dataclass(frozen=True)
class GridDieCount:
    """Whole dies on the best grid placement: ``count``, and the grid's offset (mm): the lower
    left corner of one die's cell (die plus scribe) sits at (``x_offset``, ``y_offset``) from
    the wafer centre, modulo the pitch."""

    count: int
    x_offset: float
    y_offset: float


def _dies_per_row(row_fits, half_chord, offset, pitch, size, margin):
    """Dies of a row whose [left, right] span fits inside [-half_chord, half_chord]."""
    first = np.ceil((-half_chord - offset - margin) / pitch - 1e-9)
    last = np.floor((half_chord - size - offset - margin) / pitch + 1e-9)
    return np.where(row_fits, np.maximum(last - first + 1, 0), 0)


def grid_die_per_wafer(
    die_width: float,
    die_height: float,
    wafer_diameter: float,
    scribe: float = 0.0,
    edge_exclusion: float = 0.0,
    steps: int = 40,
) -> GridDieCount:
    """Exact count of whole dies inside the usable circle, for the best grid offset.

    Dies sit on a grid of pitch (w + s, h + s), each die centred in its cell (half a scribe on
    every side); a die counts when all of it lies within the usable radius d / 2 - edge
    exclusion. The grid offset is searched on ``steps`` x ``steps`` positions over one pitch
    (including the die-centred and street-centred placements); the count is exact for each.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    w, h = float(_positive("die_width", die_width)), float(_positive("die_height", die_height))
    s = float(_positive("scribe", scribe, True))
    radius = float(_usable_diameter(wafer_diameter, edge_exclusion)) / 2
    px, py = w + s, h + s
    fractions = np.arange(steps) / steps
    ox = fractions * px  # (n,)
    oy = fractions * py
    rows = np.arange(-math.ceil(radius / py) - 1, math.ceil(radius / py) + 2)
    # Die bottom / top of each row for each y offset: (n_oy, n_rows).
    bottom = oy[:, None] + rows[None, :] * py + s / 2
    top = bottom + h
    worst = np.maximum(np.abs(bottom), np.abs(top))
    worst = np.where((bottom < 0) & (top > 0), np.maximum(-bottom, top), worst)
    inside = worst <= radius
    half_chord = np.sqrt(np.clip(radius**2 - worst**2, 0, None))
    # Count per (x offset, y offset, row), summed over rows.
    per_row = _dies_per_row(inside[None], half_chord[None], ox[:, None, None], px, w, s / 2)
    counts = per_row.sum(axis=2)
    i, j = np.unravel_index(np.argmax(counts), counts.shape)
    return GridDieCount(int(counts[i, j]), float(ox[i]), float(oy[j]))


# --------------------------------------------------------------------------------------------
# Yield models: fraction of dies free of killer defects, for die area A (cm^2) and D0 (/cm^2)


def _ad(area, d0) -> np.ndarray:
    return _positive("area", area, True) * _positive("d0", d0, True)


def poisson_yield(area, d0):
    """Y = exp(-A D0): defects scattered at random, uniform density (Cunningham 1990, eq. 1)."""
    return np.exp(-_ad(area, d0))


def murphy_yield(area, d0):
    """Y = ((1 - exp(-A D0)) / (A D0))^2: D0 varies across dies with a triangular distribution
    (Murphy 1964). Y = 1 at A D0 = 0."""
    ad = _ad(area, d0)
    safe = np.where(ad > 0, ad, 1.0)
    return np.where(ad > 0, (-np.expm1(-safe) / safe) ** 2, 1.0)


def seeds_yield(area, d0):
    """Y = 1 / (1 + A D0): D0 exponentially distributed across dies (Seeds 1967)."""
    return 1.0 / (1.0 + _ad(area, d0))


def negative_binomial_yield(area, d0, alpha):
    """Y = (1 + A D0 / alpha)^-alpha: gamma-distributed D0 with cluster parameter alpha
    (Stapper 1983). alpha -> infinity gives Poisson, alpha = 1 Seeds; small alpha, strong
    clustering."""
    a = _positive("alpha", alpha)
    return (1.0 + _ad(area, d0) / a) ** -a


YIELD_MODELS = {
    "poisson": poisson_yield,
    "murphy": murphy_yield,
    "seeds": seeds_yield,
    "negative_binomial": negative_binomial_yield,
}


@dataclass(frozen=True)
class DefectDensityFit:
    """D0 (and alpha, for the negative binomial) fitted by least squares to observed yields."""

    model: str
    d0: float
    alpha: float | None
    rms_residual: float
    n: int

    def predict(self, area):
        """Yield of the fitted model at die area ``area`` (cm^2)."""
        fn = YIELD_MODELS[self.model]
        return fn(area, self.d0, self.alpha) if self.model == "negative_binomial" else fn(area, self.d0)


def fit_defect_density(yields, area, model: str = "poisson", alpha: float | None = None) -> DefectDensityFit:
    """Fits D0 of a yield model to observed yields (fractions 0..1) of dies of ``area`` cm^2.

    ``area`` is one area or one per yield (products or windows of several sizes). For
    ``model="negative_binomial"``, ``alpha`` is fixed when given, else fitted together with D0,
    which needs yields at two or more different areas (at one area any alpha fits). Least
    squares on the yields (scipy.optimize.least_squares), D0 >= 0, alpha > 0.
    """
    if model not in YIELD_MODELS:
        raise ValueError(f"model must be one of {', '.join(YIELD_MODELS)}; got {model!r}")
    y = np.atleast_1d(np.asarray(yields, dtype=float))
    if y.size == 0 or np.any(~np.isfinite(y)) or np.any((y < 0) | (y > 1)):
        raise ValueError("yields must be a non-empty array of fractions between 0 and 1")
    a = np.broadcast_to(_positive("area", area), y.shape).astype(float)
    if alpha is not None and model != "negative_binomial":
        raise ValueError(f"alpha applies to the negative_binomial model only, not {model!r}")
    fit_alpha = model == "negative_binomial" and alpha is None
    if fit_alpha and np.unique(a).size < 2:
        raise ValueError("fitting alpha needs yields at two or more die areas; give alpha to fit D0 alone")
    # Start from the Poisson D0 of the mean yield.
    mean_y = float(np.clip(y.mean(), 1e-6, 1 - 1e-9))
    d0_start = max(-math.log(mean_y) / float(a.mean()), 1e-6)
    fn = YIELD_MODELS[model]

    def residual(p):
        if model == "negative_binomial":
            return fn(a, p[0], p[1] if fit_alpha else alpha) - y
        return fn(a, p[0]) - y

    start = [d0_start, 2.0] if fit_alpha else [d0_start]
    lower = [0.0, 1e-3] if fit_alpha else [0.0]
    upper = [np.inf, 1e4] if fit_alpha else [np.inf]
    result = optimize.least_squares(residual, start, bounds=(lower, upper), x_scale="jac")
    fitted_alpha = float(result.x[1]) if fit_alpha else (float(alpha) if alpha is not None else None)
    rms = float(np.sqrt(np.mean(result.fun**2)))
    return DefectDensityFit(model, float(result.x[0]), fitted_alpha, rms, int(y.size))
