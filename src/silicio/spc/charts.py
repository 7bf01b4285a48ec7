"""Shewhart control charts: individuals and moving range, X-bar with R or s, p, np, c and u.

Two phases, as in Montgomery section 5.3.2 and ASTM E2587: limits are estimated from a baseline
(phase I) by the ``*_limits`` functions, then applied to new data (phase II)::

    limits = imr_limits(baseline)
    individuals, moving_range = apply(limits, new_data)

The limits objects can also be built from known standards (``IndividualsLimits(mean=10, sigma=1)``).
Estimating limits does not drop out-of-control baseline points and re-estimate: that is a decision
for the engineer who investigates them.

References
----------
.. [1] D. C. Montgomery, Introduction to Statistical Quality Control, 8th ed., Wiley, 2019,
   chapters 6 (variables) and 7 (attributes).
.. [2] ASTM E2587-16, Standard Practice for Use of Control Charts in Statistical Process Control.
.. [3] NIST/SEMATECH e-Handbook of Statistical Methods, sections 6.3.2 and 6.3.3,
   https://www.itl.nist.gov/div898/handbook/pmc/section3/pmc3.htm
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .constants import c4, d2, d3
from .rules import Violations, run_rules


@dataclass(frozen=True)
class Chart:
    """One control chart: the plotted statistic per point against its center line and limits.

    ``sigma`` is the standard deviation of the plotted statistic at each point, the unit of the
    zones of the run rules; NaN where the chart has no zones (CUSUM). ``lcl`` is NaN where the
    chart has no lower limit. Values that are the same at every point are read-only broadcast
    views of one number, so a chart of 10 million points holds one array, not five.
    """

    name: str
    statistic: np.ndarray
    center: np.ndarray
    lcl: np.ndarray
    ucl: np.ndarray
    sigma: np.ndarray

    @property
    def above(self) -> np.ndarray:
        """Indices of the points above the upper control limit."""
        return np.flatnonzero(self.statistic > self.ucl)

    @property
    def below(self) -> np.ndarray:
        """Indices of the points below the lower control limit."""
        return np.flatnonzero(self.statistic < self.lcl)

    @property
    def out_of_control(self) -> np.ndarray:
        """Indices of the points beyond either control limit, in order."""
        return np.flatnonzero((self.statistic > self.ucl) | (self.statistic < self.lcl))

    def rules(self, rules="we") -> Violations:
        """Run rules on this chart (see :func:`silicio.spc.rules.run_rules`)."""
        return run_rules(self.statistic, self.center, self.sigma, rules)

    def to_arrow(self) -> pa.Table:
        """One row per point: point index, statistic, center, LCL, UCL and whether it is beyond."""
        beyond = np.zeros(self.statistic.size, dtype=bool)
        beyond[self.out_of_control] = True
        return pa.table(
            {
                "point": np.arange(self.statistic.size),
                "statistic": self.statistic,
                "center": self.center,
                "lcl": self.lcl,
                "ucl": self.ucl,
                "beyond_limits": beyond,
            }
        )


def _chart(name, statistic, center, spread, k, lower=True, floor=None) -> Chart:
    """A chart; center and spread may be scalars, kept as read-only broadcast views (no copies)."""
    statistic = np.asarray(statistic, dtype=np.float64)
    shape = statistic.shape
    center = np.asarray(center, dtype=np.float64)
    spread = np.asarray(spread, dtype=np.float64)
    lcl = center - k * spread if lower else np.float64(np.nan)
    if floor is not None:
        lcl = np.maximum(lcl, floor)
    ucl = center + k * spread
    return Chart(name, statistic, *(np.broadcast_to(a, shape) for a in (center, lcl, ucl, spread)))


def apply(limits, *data, **options):
    """Phase II: the chart(s) of ``data`` against limits estimated before (or known standards)."""
    return limits.apply(*data, **options)


class PointError(ValueError):
    """Bad input at one point: ``index`` (from 0, the library's count) and ``reason``, so that a
    caller can name the row as its user counts it."""

    def __init__(self, what: str, index, reason: str):
        self.what, self.index, self.reason = what, index, reason
        super().__init__(f"{what} at index {index} {reason}")


def _finite(x, what: str = "value") -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.argwhere(bad)[0]
        where = int(idx[0]) if idx.size == 1 else tuple(int(i) for i in idx)
        raise PointError(what, where, f"is {arr[tuple(idx)]}, expected a finite number")
    return arr


def _positive(value: float, name: str) -> float:
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


# -- individuals and moving range --------------------------------------------------------------


def moving_range(x) -> np.ndarray:
    """|x_i - x_(i-1)|, NaN at the first point (Montgomery section 6.4)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    out[:1] = np.nan
    np.abs(np.diff(x), out=out[1:])
    return out


@dataclass(frozen=True)
class IndividualsLimits:
    """Limits of an individuals and moving range (I-MR) chart: process mean and sigma."""

    mean: float
    sigma: float
    k: float = 3.0

    @property
    def mr_bar(self) -> float:
        """Center line of the moving range chart, d2(2) sigma."""
        return float(d2(2)) * self.sigma

    def apply(self, x) -> tuple[Chart, Chart]:
        """Individuals chart: mean +- k sigma; moving range chart: (d2 +- k d3) sigma, span 2
        (Montgomery eq. 6.33; UCL = D4 MR-bar = 3.267 MR-bar for k = 3)."""
        x = _finite(x)
        individuals = _chart("individuals", x, self.mean, self.sigma, self.k)
        mr = _chart(
            "moving range",
            moving_range(x),
            float(d2(2)) * self.sigma,
            float(d3(2)) * self.sigma,
            self.k,
            floor=0.0,
        )
        return individuals, mr


def imr_limits(x, k: float = 3.0) -> IndividualsLimits:
    """Phase I limits of an I-MR chart: mean of x and sigma = MR-bar / d2(2).

    References
    ----------
    .. [1] Montgomery, 8th ed., section 6.4, eq. 6.33.
    .. [2] ASTM E2587-16, section 9 (charts for individuals).
    """
    x = _finite(x)
    if x.size < 2:
        raise ValueError(f"an I-MR chart needs at least 2 points, got {x.size}")
    return IndividualsLimits(float(np.mean(x)), float(np.mean(np.abs(np.diff(x)))) / float(d2(2)), k)


# -- subgroups: X-bar with R or s ---------------------------------------------------------------


@dataclass(frozen=True)
class Subgroups:
    """Per-subgroup size, mean, range and standard deviation, in time order."""

    size: np.ndarray
    mean: np.ndarray
    range: np.ndarray
    sd: np.ndarray
    label: np.ndarray


def subgroups(values, subgroup=None, size: int | None = None) -> Subgroups:
    """Split measurements into rational subgroups: a 2-D array (one row each), consecutive runs of
    ``size`` values, or ``subgroup`` labels (subgroups in order of first appearance)."""
    values = _finite(values)
    if values.ndim == 2:
        if subgroup is not None or size is not None:
            raise ValueError("give subgroups as a 2-D array, or 1-D values with subgroup labels or a size")
        labels = np.arange(values.shape[0])
        codes = np.repeat(labels, values.shape[1])
        values = values.ravel()
    elif subgroup is not None:
        labels_in = np.asarray(subgroup)
        if labels_in.shape != values.shape:
            raise ValueError(f"{labels_in.size} subgroup labels for {values.size} values")
        uniq, first, inverse = np.unique(labels_in, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        codes, labels = rank[inverse.ravel()], uniq[order]
    elif size is not None:
        if int(size) != size or size < 1 or values.size % size:
            raise ValueError(f"{values.size} values do not split into subgroups of size {size}")
        codes = np.repeat(np.arange(values.size // size), size)
        labels = np.arange(values.size // size)
    else:
        raise ValueError("subgroups need a 2-D array, subgroup labels or a subgroup size")
    m = labels.size
    n = np.bincount(codes, minlength=m)
    mean = np.bincount(codes, weights=values, minlength=m) / n
    dev = values - mean[codes]
    mean = mean + np.bincount(codes, weights=dev, minlength=m) / n  # second pass: exact to rounding
    dev = values - mean[codes]
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(np.bincount(codes, weights=dev * dev, minlength=m) / (n - 1))
    hi = np.full(m, -np.inf)
    lo = np.full(m, np.inf)
    np.maximum.at(hi, codes, values)
    np.minimum.at(lo, codes, values)
    return Subgroups(n, mean, hi - lo, sd, labels)


def _pooled_sigma(estimates: np.ndarray, rel_var: np.ndarray) -> float:
    """Inverse-variance weighted mean of unbiased sigma estimates (R/d2 or s/c4) of subgroups;
    with equal sizes it is R-bar/d2 or s-bar/c4 (Burr 1969, charts with varying sample sizes)."""
    w = 1.0 / rel_var
    return float(np.sum(w * estimates) / np.sum(w))


@dataclass(frozen=True)
class SubgroupLimits:
    """Limits of an X-bar chart with its R chart (``dispersion="range"``) or s chart (``"sd"``)."""

    mean: float
    sigma: float
    dispersion: str = "range"
    k: float = 3.0

    def apply(self, values, subgroup=None, size: int | None = None) -> tuple[Chart, Chart]:
        """X-bar: mean +- k sigma/sqrt(n); R: (d2 +- k d3) sigma; s: (c4 +- k sqrt(1 - c4^2)) sigma,
        per subgroup size n (Montgomery eqs. 6.4-6.5 and 6.25-6.28: A2 R-bar, D3/D4 R-bar, A3, B3/B4 s-bar)."""
        g = subgroups(values, subgroup, size)
        if np.any(g.size < 2):
            raise ValueError("every subgroup needs at least 2 values (use an I-MR chart for single values)")
        xbar = _chart("xbar", g.mean, self.mean, self.sigma / np.sqrt(g.size), self.k)
        if self.dispersion == "range":
            disp = _chart(
                "range", g.range, d2(g.size) * self.sigma, d3(g.size) * self.sigma, self.k, floor=0.0
            )
        elif self.dispersion == "sd":
            c = c4(g.size)
            disp = _chart("s", g.sd, c * self.sigma, np.sqrt(1 - c * c) * self.sigma, self.k, floor=0.0)
        else:
            raise ValueError(f"dispersion must be 'range' or 'sd', got {self.dispersion!r}")
        return xbar, disp


def _subgroup_limits(values, subgroup, size, k, dispersion) -> SubgroupLimits:
    g = subgroups(values, subgroup, size)
    if np.any(g.size < 2):
        raise ValueError("every subgroup needs at least 2 values (use an I-MR chart for single values)")
    grand_mean = float(np.sum(g.size * g.mean) / np.sum(g.size))
    if dispersion == "range":
        sigma = _pooled_sigma(g.range / d2(g.size), (d3(g.size) / d2(g.size)) ** 2)
    else:
        c = c4(g.size)
        sigma = _pooled_sigma(g.sd / c, (1 - c * c) / (c * c))
    return SubgroupLimits(grand_mean, sigma, dispersion, k)


def xbar_r_limits(values, subgroup=None, size: int | None = None, k: float = 3.0) -> SubgroupLimits:
    """Phase I limits of X-bar and R charts: grand mean and sigma = R-bar / d2(n).

    References
    ----------
    .. [1] Montgomery, 8th ed., section 6.2.1, eqs. 6.4-6.6.
    .. [2] NIST e-Handbook section 6.3.2.1 (Shewhart X-bar and R charts).
    """
    return _subgroup_limits(values, subgroup, size, k, "range")


def xbar_s_limits(values, subgroup=None, size: int | None = None, k: float = 3.0) -> SubgroupLimits:
    """Phase I limits of X-bar and s charts: grand mean and sigma = s-bar / c4(n).

    References
    ----------
    .. [1] Montgomery, 8th ed., section 6.3.1, eqs. 6.27-6.28.
    .. [2] NIST e-Handbook section 6.3.2.1.
    """
    return _subgroup_limits(values, subgroup, size, k, "sd")


# -- attributes: p, np, c, u --------------------------------------------------------------------


def _counts(counts, what: str) -> np.ndarray:
    arr = _finite(counts, what)
    if np.any(arr < 0):
        raise PointError(what, int(np.argmax(arr < 0)), "is negative")
    return arr


def _sizes(sizes, shape, what: str = "sample size") -> np.ndarray:
    arr = np.broadcast_to(_finite(sizes, what), shape)
    if np.any(arr <= 0):
        raise PointError(what, int(np.argmax(arr <= 0)), "is not positive")
    return arr


def _defectives(defectives, sizes) -> tuple[np.ndarray, np.ndarray]:
    d = _counts(defectives, "defectives")
    n = _sizes(sizes, d.shape)
    if np.any(d > n):
        i = int(np.argmax(d > n))
        raise PointError("defectives", i, f"are {d[i]:g}, more than the sample size {n[i]:g}")
    return d, n


@dataclass(frozen=True)
class ProportionLimits:
    """Limits of a p chart (fraction nonconforming): p-bar."""

    p_bar: float
    k: float = 3.0

    def apply(self, defectives, sizes) -> Chart:
        """p_i = d_i / n_i against p-bar +- k sqrt(p-bar (1 - p-bar) / n_i), LCL floored at 0
        (Montgomery eq. 7.8; limits per point when n varies, section 7.2.2)."""
        d, n = _defectives(defectives, sizes)
        spread = np.sqrt(self.p_bar * (1 - self.p_bar) / n)
        return _chart("p", d / n, self.p_bar, spread, self.k, floor=0.0)


def p_limits(defectives, sizes, k: float = 3.0) -> ProportionLimits:
    """Phase I p chart: p-bar = total defectives / total inspected.

    References
    ----------
    .. [1] Montgomery, 8th ed., section 7.2.1, eq. 7.8.
    .. [2] NIST e-Handbook section 6.3.3.2 (p control charts).
    """
    d, n = _defectives(defectives, sizes)
    return ProportionLimits(float(d.sum() / n.sum()), k)


@dataclass(frozen=True)
class NumberDefectiveLimits:
    """Limits of an np chart: p-bar and the (constant) sample size n."""

    p_bar: float
    n: int
    k: float = 3.0

    def apply(self, defectives) -> Chart:
        """np-bar +- k sqrt(n p-bar (1 - p-bar)), LCL floored at 0 (Montgomery section 7.2.1)."""
        d = _counts(defectives, "defectives")
        return _chart(
            "np", d, self.n * self.p_bar, np.sqrt(self.n * self.p_bar * (1 - self.p_bar)), self.k, floor=0.0
        )


def np_limits(defectives, size: int, k: float = 3.0) -> NumberDefectiveLimits:
    """Phase I np chart for samples of one size n: p-bar = mean(d) / n (Montgomery section 7.2.1)."""
    d = _counts(defectives, "defectives")
    n = _positive(size, "sample size")
    return NumberDefectiveLimits(float(d.mean() / n), int(n), k)


@dataclass(frozen=True)
class CountLimits:
    """Limits of a c chart (nonconformities per inspection unit): c-bar."""

    c_bar: float
    k: float = 3.0

    def apply(self, counts) -> Chart:
        """c-bar +- k sqrt(c-bar), LCL floored at 0 (Montgomery eq. 7.17; NIST 6.3.3.1)."""
        return _chart("c", _counts(counts, "count"), self.c_bar, np.sqrt(self.c_bar), self.k, floor=0.0)


def c_limits(counts, k: float = 3.0) -> CountLimits:
    """Phase I c chart: c-bar = mean count.

    References
    ----------
    .. [1] Montgomery, 8th ed., section 7.3.1, eq. 7.17.
    .. [2] NIST e-Handbook section 6.3.3.1 (counts control charts).
    """
    return CountLimits(float(_counts(counts, "count").mean()), k)


@dataclass(frozen=True)
class RateLimits:
    """Limits of a u chart (nonconformities per unit): u-bar."""

    u_bar: float
    k: float = 3.0

    def apply(self, counts, units) -> Chart:
        """u_i = c_i / n_i against u-bar +- k sqrt(u-bar / n_i), LCL floored at 0 (Montgomery eq. 7.19)."""
        c = _counts(counts, "count")
        n = _sizes(units, c.shape, "inspection units")
        return _chart("u", c / n, self.u_bar, np.sqrt(self.u_bar / n), self.k, floor=0.0)


def u_limits(counts, units, k: float = 3.0) -> RateLimits:
    """Phase I u chart: u-bar = total nonconformities / total units (Montgomery section 7.3.1, eq. 7.19)."""
    c = _counts(counts, "count")
    n = _sizes(units, c.shape, "inspection units")
    return RateLimits(float(c.sum() / n.sum()), k)


# -- between/within: I-MR-R/S -------------------------------------------------------------------


@dataclass(frozen=True)
class BetweenWithinLimits:
    """Limits of an I-MR-R/S chart: an I-MR chart of the subgroup means (between) and an R or s
    chart of the values within each subgroup (within)."""

    between: IndividualsLimits
    within: SubgroupLimits

    @property
    def mean(self) -> float:
        return self.between.mean

    @property
    def sigma(self) -> float:
        """Sigma of a subgroup mean (between and within together), MR-bar/d2(2) of the means."""
        return self.between.sigma

    def apply(self, values, subgroup=None, size: int | None = None) -> tuple[Chart, Chart, Chart]:
        """Individuals chart of the subgroup means (mean +- k MR-bar/d2), their moving range chart,
        and the R or s chart of each subgroup (Minitab, I-MR-R/S chart methods and formulas;
        Montgomery section 6.4 for I-MR, 6.2-6.3 for R and s)."""
        g = subgroups(values, subgroup, size)
        individuals, mr = self.between.apply(g.mean)
        _, dispersion = self.within.apply(values, subgroup, size)
        return (Chart("subgroup mean", *(getattr(individuals, f) for f in ("statistic", "center", "lcl", "ucl", "sigma"))),
                mr, dispersion)  # fmt: skip


def imr_rs_limits(values, subgroup=None, size: int | None = None, dispersion: str = "sd",
                  k: float = 3.0) -> BetweenWithinLimits:  # fmt: skip
    """Phase I limits of an I-MR-R (``dispersion="range"``) or I-MR-S (``"sd"``) chart: the I-MR
    limits of the subgroup means and the R-bar/d2 or s-bar/c4 limits within subgroups. For wafers
    whose means differ by more than their dies' spread explains, where X-bar limits (sigma_w/sqrt(n))
    would flag nearly every wafer (Minitab, I-MR-R/S (Between/Within) chart)."""
    g = subgroups(values, subgroup, size)
    if g.size.size < 2:
        raise ValueError(f"an I-MR-R/S chart needs at least 2 subgroups, got {g.size.size}")
    return BetweenWithinLimits(imr_limits(g.mean, k), _subgroup_limits(values, subgroup, size, k, dispersion))


# -- short runs: Z-MR ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ShortRunLimits:
    """Limits of a Z-MR chart: per part (product, recipe) its mean and sigma."""

    parts: np.ndarray
    means: np.ndarray
    sigmas: np.ndarray
    k: float = 3.0

    def apply(self, x, part) -> tuple[Chart, Chart]:
        """z_i = (x_i - mean_part) / sigma_part against 0 +- k; moving range of z against
        (d2 +- k d3)(2) (Minitab, Z-MR chart methods and formulas; Montgomery section 10.1.1)."""
        x = _finite(x)
        part = np.asarray(part)
        if part.shape != x.shape:
            raise ValueError(f"{part.size} part labels for {x.size} values")
        lookup = {p: i for i, p in enumerate(self.parts.tolist())}
        try:
            idx = np.array([lookup[p] for p in part.tolist()], dtype=np.int64)
        except KeyError as exc:
            raise ValueError(f"part {exc.args[0]!r} has no mean and sigma in the limits") from None
        z = (x - self.means[idx]) / self.sigmas[idx]
        return IndividualsLimits(0.0, 1.0, self.k).apply(z)


def zmr_limits(x, part, sigma: str = "constant", k: float = 3.0) -> ShortRunLimits:
    """Phase I limits of a Z-MR chart: each part's mean; sigma ``"constant"`` (one for all parts:
    MR-bar/d2(2) of the deviations from the part means, consecutive points) or ``"by-part"``
    (MR-bar/d2(2) of each part's own consecutive values) (Minitab, Z-MR chart; Montgomery 10.1.1)."""
    x = _finite(x)
    part = np.asarray(part)
    if part.shape != x.shape:
        raise ValueError(f"{part.size} part labels for {x.size} values")
    g = subgroups(x, part)
    lookup = {p: i for i, p in enumerate(g.label.tolist())}
    codes = np.array([lookup[p] for p in part.tolist()], dtype=np.int64)
    d2_2 = float(d2(2))
    if sigma == "constant":
        dev = x - g.mean[codes]
        if dev.size < 2:
            raise ValueError("a Z-MR chart needs at least 2 points")
        sigmas = np.full(g.label.size, float(np.mean(np.abs(np.diff(dev)))) / d2_2)
    elif sigma == "by-part":
        sigmas = np.empty(g.label.size)
        for i in range(g.label.size):
            own = x[codes == i]
            if own.size < 2:
                raise ValueError(f"part {g.label[i]!r} has {own.size} value: sigma by part needs 2 or more")
            sigmas[i] = float(np.mean(np.abs(np.diff(own)))) / d2_2
    else:
        raise ValueError(f"sigma must be 'constant' or 'by-part', got {sigma!r}")
    if np.any(~(sigmas > 0)):
        raise ValueError("a part's sigma is 0: its values do not vary")
    return ShortRunLimits(g.label, g.mean, sigmas, k)
