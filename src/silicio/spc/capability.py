"""Process capability: Cp, Cpk from the within-subgroup sigma, Pp, Ppk from the overall sigma,
with confidence intervals and a check of the normality the indices assume.

- within sigma (short term): MR-bar/d2(2) for individual values; R-bar/d2(n) for subgroups of up
  to 9; s-bar/c4(n) for subgroups of 10 or more (Montgomery sections 6.2-6.4, 8.3; ASTM E2281);
- overall sigma (long term): the sample standard deviation of all values (ASTM E2281 "process
  performance").

The descriptive statistics and the one-way ANOVA verified on NIST StRD live in
:mod:`silicio.spc.descriptive` and are re-exported here.

References
----------
.. [1] D. C. Montgomery, Introduction to Statistical Quality Control, 8th ed., Wiley, 2019,
   section 8.3 (process capability ratios) and eqs. 8.19 and 8.21 (confidence intervals).
.. [2] ASTM E2281-15, Standard Practice for Process Capability and Performance Measurement.
.. [3] A. F. Bissell, "How reliable is your capability index?", Applied Statistics 39(3) (1990)
   331-340.
.. [4] R. B. D'Agostino, M. A. Stephens, Goodness-of-Fit Techniques, Marcel Dekker, 1986,
   section 4.8 and Table 4.9 (Anderson-Darling test for normality, parameters estimated).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats
from scipy.special import log_ndtr

from .charts import _finite, imr_limits, subgroups, xbar_r_limits, xbar_s_limits
from .descriptive import Anova, Description, describe, one_way_anova  # noqa: F401  (re-exported)
from .nonnormal import ad_statistic, normal_ad_p_value

#: Largest subgroup size for which R-bar/d2 estimates the within sigma; s-bar/c4 above it
#: (the range loses efficiency as n grows, Montgomery section 6.3).
MAX_SUBGROUP_FOR_RANGE = 9


def within_sigma(
    values, subgroup=None, size: int | None = None, method: str | None = None
) -> tuple[float, str]:
    """Short-term sigma and how it was estimated: ``"moving-range"``, ``"range"`` or ``"sd"``.

    Without subgroups (or ``size=1``): MR-bar/d2(2). With subgroups: R-bar/d2(n) up to
    n = 9, s-bar/c4(n) above, unless ``method`` says which (Montgomery section 8.3.1).
    """
    if np.ndim(values) < 2 and subgroup is None and (size is None or size == 1):
        if method not in (None, "moving-range"):
            raise ValueError(f"within sigma of individual values is by moving range, not {method!r}")
        return imr_limits(values).sigma, "moving-range"
    if method is None:
        g = subgroups(values, subgroup, size)
        method = "range" if np.mean(g.size) <= MAX_SUBGROUP_FOR_RANGE else "sd"
    if method == "range":
        return xbar_r_limits(values, subgroup, size).sigma, method
    if method == "sd":
        return xbar_s_limits(values, subgroup, size).sigma, method
    raise ValueError(f"within sigma method must be moving-range, range or sd, got {method!r}")


def cp(lsl: float, usl: float, sigma: float) -> float:
    """Cp = (USL - LSL) / (6 sigma) (Montgomery eq. 8.9); Pp with the overall sigma."""
    return (usl - lsl) / (6.0 * sigma)


def cpk(mean: float, sigma: float, lsl: float | None = None, usl: float | None = None) -> float:
    """Cpk = min((USL - mean), (mean - LSL)) / (3 sigma) (Montgomery eq. 8.15); one side if only
    one limit is given; Ppk with the overall sigma."""
    sides = []
    if usl is not None:
        sides.append((usl - mean) / (3.0 * sigma))
    if lsl is not None:
        sides.append((mean - lsl) / (3.0 * sigma))
    if not sides:
        raise ValueError("give at least one specification limit (lsl or usl)")
    return min(sides)


def cp_interval(cp_hat: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided interval for Cp from the chi-square distribution of s^2 with n - 1 degrees of
    freedom: Cp_hat sqrt(chi2_(alpha/2) / (n-1)) .. Cp_hat sqrt(chi2_(1-alpha/2) / (n-1))
    (Montgomery eq. 8.19). Exact for Pp of normal data; an approximation for Cp from R-bar or MR-bar."""
    alpha = 1.0 - confidence
    df = n - 1
    lo, hi = stats.chi2.ppf([alpha / 2, 1 - alpha / 2], df)
    return float(cp_hat * math.sqrt(lo / df)), float(cp_hat * math.sqrt(hi / df))


def cpk_interval(cpk_hat: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Bissell's (1990) normal approximation: Cpk_hat [1 -+ z sqrt(1/(9 n Cpk_hat^2) + 1/(2(n-1)))]
    (Montgomery eq. 8.21)."""
    z = stats.norm.ppf(1 - (1.0 - confidence) / 2)
    half = z * math.sqrt(1.0 / (9.0 * n) + cpk_hat * cpk_hat / (2.0 * (n - 1)))
    return float(cpk_hat - half), float(cpk_hat + half)


@dataclass(frozen=True)
class NormalityTest:
    method: str
    statistic: float
    p_value: float
    alpha: float

    @property
    def normal(self) -> bool:
        """False when normality is rejected at ``alpha``: the indices then misstate the fraction out of spec."""
        return not self.p_value < self.alpha


def anderson_darling(x) -> tuple[float, float]:
    """Anderson-Darling statistic A^2 for normality (mean and sd estimated) and its p-value from
    A*^2 = A^2 (1 + 0.75/n + 2.25/n^2) (D'Agostino and Stephens 1986, Table 4.9;
    :func:`silicio.spc.nonnormal.normal_ad_p_value`)."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    n = x.size
    z = (x - x.mean()) / x.std(ddof=1)
    a2 = ad_statistic(log_ndtr(z), log_ndtr(-z))
    return float(a2), normal_ad_p_value(a2, n)


def normality(x, alpha: float = 0.05) -> NormalityTest | None:
    """Anderson-Darling for 8 values or more, Shapiro-Wilk (scipy) for 3 to 7; None below 3."""
    x = np.asarray(x, dtype=np.float64)
    if x.size >= 8:
        a2, p = anderson_darling(x)
        return NormalityTest("anderson-darling", a2, p, alpha)
    if x.size >= 3:
        w, p = stats.shapiro(x)
        return NormalityTest("shapiro-wilk", float(w), float(p), alpha)
    return None


@dataclass(frozen=True)
class Capability:
    """Capability (within sigma) and performance (overall sigma) indices with their intervals."""

    n: int
    mean: float
    sigma_within: float
    sigma_within_method: str
    sigma_overall: float
    lsl: float | None
    usl: float | None
    cp: float
    cpk: float
    pp: float
    ppk: float
    cp_interval: tuple[float, float]
    cpk_interval: tuple[float, float]
    pp_interval: tuple[float, float]
    ppk_interval: tuple[float, float]
    confidence: float
    normality: NormalityTest | None

    @property
    def non_normal(self) -> bool:
        """True when the normality test rejects: read Cp/Cpk/Pp/Ppk with care."""
        return self.normality is not None and not self.normality.normal

    def to_dict(self) -> dict:
        out = asdict(self)
        out["non_normal"] = self.non_normal
        if self.normality is not None:
            out["normality"]["normal"] = self.normality.normal
        return out


def capability(
    values,
    lsl: float | None = None,
    usl: float | None = None,
    *,
    subgroup=None,
    size: int | None = None,
    within_method: str | None = None,
    confidence: float = 0.95,
    alpha: float = 0.05,
) -> Capability:
    """Cp, Cpk, Pp, Ppk of measurements against specification limits.

    Parameters
    ----------
    values : array_like
        Measurements in time order (1-D), or subgroups as rows of a 2-D array.
    lsl, usl : float, optional
        Specification limits; with one only, Cp and Pp are NaN and Cpk, Ppk are one-sided.
    subgroup, size : optional
        Subgroup labels, or a constant subgroup size, for the within sigma (see :func:`within_sigma`).
    within_method : str, optional
        Force ``"range"`` or ``"sd"`` for subgrouped data.
    confidence : float
        Level of the two-sided intervals (chi-square for Cp/Pp, Bissell for Cpk/Ppk), with n - 1
        degrees of freedom, n the number of values.
    alpha : float
        Level of the normality test that sets :attr:`Capability.non_normal`.

    References
    ----------
    .. [1] Montgomery, 8th ed., section 8.3, eqs. 8.9, 8.15, 8.19, 8.21.
    .. [2] ASTM E2281-15.
    .. [3] Bissell (1990), Applied Statistics 39(3) 331-340.
    """
    x = _finite(values)
    if lsl is None and usl is None:
        raise ValueError("give at least one specification limit (lsl or usl)")
    if lsl is not None and usl is not None and not lsl < usl:
        raise ValueError(f"lsl ({lsl}) must be below usl ({usl})")
    flat = x.ravel()
    if flat.size < 2:
        raise ValueError(f"capability needs at least 2 values, got {flat.size}")
    sw, method = within_sigma(x, subgroup, size, within_method)
    overall = describe(flat)
    n, mean, so = flat.size, overall.mean, overall.sd
    two_sided = lsl is not None and usl is not None
    nan2 = (math.nan, math.nan)
    c_p = cp(lsl, usl, sw) if two_sided else math.nan
    p_p = cp(lsl, usl, so) if two_sided else math.nan
    c_pk, p_pk = cpk(mean, sw, lsl, usl), cpk(mean, so, lsl, usl)
    return Capability(
        n,
        mean,
        sw,
        method,
        so,
        lsl,
        usl,
        c_p,
        c_pk,
        p_p,
        p_pk,
        cp_interval(c_p, n, confidence) if two_sided else nan2,
        cpk_interval(c_pk, n, confidence),
        cp_interval(p_p, n, confidence) if two_sided else nan2,
        cpk_interval(p_pk, n, confidence),
        confidence,
        normality(flat, alpha),
    )


@dataclass(frozen=True)
class BetweenWithin:
    """Between/within capability: sigma_B/W = sqrt(sigma_between^2 + sigma_within^2) for processes
    whose subgroups (wafers, lots) differ by more than their within spread explains."""

    n: int
    subgroups: int
    mean: float
    sigma_within: float
    sigma_between: float
    sigma_bw: float
    sigma_overall: float
    lsl: float | None
    usl: float | None
    cp: float
    cpk: float
    pp: float
    ppk: float

    def to_dict(self) -> dict:
        return asdict(self)


def between_within(values, lsl: float | None = None, usl: float | None = None, *, subgroup=None,
                   size: int | None = None) -> BetweenWithin:  # fmt: skip
    """Minitab's Between/Within Capability: sigma_within the pooled sd / c4(d + 1), d = sum(n_i - 1);
    sigma_between^2 = max(0, (MR-bar of the subgroup means / d2(2))^2 - sigma_within^2 / n-bar), n-bar
    the harmonic mean of the sizes (the mean of sigma_w^2/n_i); Cp, Cpk with sigma_B/W, Pp, Ppk with
    the overall sd (Minitab, Methods and formulas for Between/Within Capability Analysis;
    Montgomery section 8.3 for the indices)."""
    from .constants import c4, d2

    if lsl is None and usl is None:
        raise ValueError("give at least one specification limit (lsl or usl)")
    if lsl is not None and usl is not None and not lsl < usl:
        raise ValueError(f"lsl ({lsl}) must be below usl ({usl})")
    g = subgroups(values, subgroup, size)
    if g.size.size < 2:
        raise ValueError(f"between/within capability needs at least 2 subgroups, got {g.size.size}")
    if np.any(g.size < 2):
        raise ValueError("every subgroup needs at least 2 values for the within sigma")
    dof = int(np.sum(g.size - 1))
    pooled = math.sqrt(float(np.sum((g.size - 1) * g.sd**2)) / dof)
    sigma_w = pooled / float(c4(dof + 1))
    sigma_means = float(np.mean(np.abs(np.diff(g.mean)))) / float(d2(2))
    n_bar = g.size.size / float(np.sum(1.0 / g.size))
    sigma_b = math.sqrt(max(0.0, sigma_means**2 - sigma_w**2 / n_bar))
    sigma_bw = math.hypot(sigma_b, sigma_w)
    flat = _finite(values).ravel()
    mean = float(np.sum(g.size * g.mean) / np.sum(g.size))
    so = describe(flat).sd
    two_sided = lsl is not None and usl is not None
    return BetweenWithin(
        int(flat.size), int(g.size.size), mean, sigma_w, sigma_b, sigma_bw, so, lsl, usl,
        cp(lsl, usl, sigma_bw) if two_sided else math.nan, cpk(mean, sigma_bw, lsl, usl),
        cp(lsl, usl, so) if two_sided else math.nan, cpk(mean, so, lsl, usl),
    )  # fmt: skip
