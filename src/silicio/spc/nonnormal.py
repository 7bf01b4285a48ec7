"""Capability of data that are not normal: distributions fitted by maximum likelihood or normalising
transformations, chosen by the Anderson-Darling goodness of fit or by the user, with expected and
observed parts per million out of specification.

Methods (``method=``):

- ``normal``: mean and sample sd;
- ``lognormal`` (2 parameters) and ``lognormal3`` (with a threshold), maximum likelihood;
- ``weibull`` (shape, scale) and ``weibull3`` (with a threshold), maximum likelihood;
- ``boxcox``: y = (x^lambda - 1)/lambda (ln x at 0), lambda by maximum likelihood in [-5, 5];
- ``johnson``: the Johnson SB/SL/SU family chosen and fitted from four percentiles (Slifker and
  Shapiro 1980) over a grid of z as in Chou, Polansky and Mason (1998), keeping the fit whose
  transformed data are the most normal (Minitab's Johnson transformation);
- ``percentile``: no model, the empirical 0.135, 50 and 99.865 percentiles (needs 741 values or
  more, the fewest for which the 0.135 % point is not the sample minimum);
- ``auto``: the first of normal, lognormal, weibull, boxcox, johnson (fewest parameters first)
  whose Anderson-Darling p-value is 0.25 or more, else the one with the largest p-value.

Indices of the chosen model, both reported:

- percentile (ISO 22514-2 / Clements 1989): Pp = (USL - LSL) / (X99.865 - X0.135),
  Ppk = min((USL - X50) / (X99.865 - X50), (X50 - LSL) / (X50 - X0.135));
- Z-score (Bothe 1997; JMP "Z-score method"): Ppk = min(Z_USL, Z_LSL) / 3 with
  Z_USL = Phi^-1(1 - P(X > USL)): the normal Ppk that gives the same expected fraction out.

References
----------
.. [1] ISO 22514-2:2017, Statistical methods in process management - Capability and performance -
   Part 2, quantile (percentile) method; J. A. Clements, "Process capability calculations for
   non-normal distributions", Quality Progress 22(9) (1989) 95-100.
.. [2] R. B. D'Agostino, M. A. Stephens, Goodness-of-Fit Techniques, Dekker, 1986, Table 4.9
   (normal, parameters estimated) and Table 4.17 (extreme value / Weibull, parameters estimated).
.. [3] G. E. P. Box, D. R. Cox, "An analysis of transformations", JRSS B 26 (1964) 211-252.
.. [4] J. F. Slifker, S. S. Shapiro, "The Johnson system: selection and parameter estimation",
   Technometrics 22(2) (1980) 239-246; Y.-M. Chou, A. M. Polansky, R. L. Mason, "Transforming
   non-normal data to normality in statistical process control", JQT 30(2) (1998) 133-141.
.. [5] Minitab, Methods and formulas for Nonnormal Capability Analysis and for Johnson
   Transformation, https://support.minitab.com/en-us/minitab/
.. [6] NIST/SEMATECH e-Handbook of Statistical Methods, 1.3.5.14 (Anderson-Darling test),
   1.3.6.6.8 (Weibull), 1.3.6.6.9 (lognormal).
.. [7] D. R. Bothe, Measuring Process Capability, McGraw-Hill, 1997 (Z-score equivalents).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize
from scipy.special import log_ndtr, ndtr, ndtri

#: The quantiles that stand for mean - 3 sigma, median and mean + 3 sigma (ISO 22514-2).
P_LOW, P_HIGH = float(ndtr(-3.0)), float(ndtr(3.0))
METHODS = (
    "auto",
    "normal",
    "lognormal",
    "lognormal3",
    "weibull",
    "weibull3",
    "boxcox",
    "johnson",
    "percentile",
)
AUTO_CANDIDATES = ("normal", "lognormal", "weibull", "boxcox", "johnson")
#: Fewest values for the percentile method: below 1/0.00135 the 0.135 % point is the minimum.
MIN_PERCENTILE_VALUES = math.ceil(1.0 / P_LOW)
#: D'Agostino and Stephens (1986) Table 4.17, upper tail of A*^2 = A^2 (1 + 0.2/sqrt(n)) for the
#: extreme-value (log-Weibull) distribution with both parameters estimated.
_WEIBULL_AD_TABLE = ((0.474, 0.25), (0.637, 0.10), (0.757, 0.05), (0.877, 0.025), (1.038, 0.01))
#: Vertex of D'Agostino and Stephens' upper-tail parabola, exp(1.2937 - 5.709 A + 0.0186 A^2).
_AD_VERTEX = 5.709 / (2 * 0.0186)


# -- Anderson-Darling ---------------------------------------------------------------------------------


def ad_statistic(log_cdf: np.ndarray, log_sf: np.ndarray) -> float:
    """A^2 = -n - (1/n) sum (2i - 1) [ln F(x_(i)) + ln(1 - F(x_(n+1-i)))] of sorted data, from the
    fitted model's log CDF and log survival function (NIST e-Handbook 1.3.5.14)."""
    n = log_cdf.size
    i = np.arange(1, n + 1)
    return float(-n - np.sum((2 * i - 1) * (log_cdf + log_sf[::-1])) / n)


def normal_ad_p_value(a2: float, n: int) -> float:
    """p-value of A^2 for normality with mean and sd estimated: A* = A^2 (1 + 0.75/n + 2.25/n^2)
    and D'Agostino and Stephens' (1986, Table 4.9) four exponential pieces."""
    a = a2 * (1 + 0.75 / n + 2.25 / n**2)
    if a >= 0.6:
        # The fitted parabola turns upward past its vertex (A* = 153.5): p stays at the vertex's there.
        a = min(a, _AD_VERTEX)
        p = math.exp(1.2937 - 5.709 * a + 0.0186 * a * a)
    elif a >= 0.34:
        p = math.exp(0.9177 - 4.279 * a - 1.38 * a * a)
    elif a >= 0.2:
        p = 1 - math.exp(-8.318 + 42.796 * a - 59.938 * a * a)
    else:
        p = 1 - math.exp(-13.436 + 101.14 * a - 223.73 * a * a)
    return float(min(max(p, 0.0), 1.0))


def weibull_ad_p_value(a2: float, n: int) -> tuple[float, str]:
    """p-value of A^2 for a Weibull fit (shape and scale estimated) and whether it is a bound:
    A* = A^2 (1 + 0.2/sqrt(n)), log p interpolated in D'Agostino and Stephens (1986) Table 4.17;
    beyond the table ``(0.25, ">")`` or ``(0.01, "<")``."""
    a = a2 * (1 + 0.2 / math.sqrt(n))
    points, probs = zip(*_WEIBULL_AD_TABLE, strict=True)
    if a <= points[0]:
        return 0.25, ">"
    if a >= points[-1]:
        return 0.01, "<"
    return float(np.exp(np.interp(a, points, np.log(probs)))), ""


# -- models ---------------------------------------------------------------------------------------------


class _Normal:
    def __init__(self, mean: float, sd: float):
        self.mean, self.sd = mean, sd

    def log_cdf(self, x):
        return log_ndtr((np.asarray(x) - self.mean) / self.sd)

    def log_sf(self, x):
        return log_ndtr((self.mean - np.asarray(x)) / self.sd)

    def ppf(self, q):
        return self.mean + self.sd * ndtri(q)


class _Lognormal:
    """ln(x - threshold) ~ N(mu, sigma) (NIST e-Handbook 1.3.6.6.9)."""

    def __init__(self, mu: float, sigma: float, threshold: float = 0.0):
        self.mu, self.sigma, self.threshold = mu, sigma, threshold

    def _z(self, x):
        x = np.asarray(x, dtype=np.float64) - self.threshold
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x > 0, (np.log(np.where(x > 0, x, 1.0)) - self.mu) / self.sigma, -np.inf)

    def log_cdf(self, x):
        return log_ndtr(self._z(x))

    def log_sf(self, x):
        return log_ndtr(-self._z(x))

    def ppf(self, q):
        return self.threshold + np.exp(self.mu + self.sigma * ndtri(q))


class _Weibull:
    """F(x) = 1 - exp(-((x - threshold)/scale)^shape) (NIST e-Handbook 1.3.6.6.8)."""

    def __init__(self, shape: float, scale: float, threshold: float = 0.0):
        self.shape, self.scale, self.threshold = shape, scale, threshold

    def _h(self, x):  # cumulative hazard
        x = np.maximum(np.asarray(x, dtype=np.float64) - self.threshold, 0.0)
        return (x / self.scale) ** self.shape

    def log_cdf(self, x):
        with np.errstate(divide="ignore"):
            return np.log(-np.expm1(-self._h(x)))

    def log_sf(self, x):
        return -self._h(x)

    def ppf(self, q):
        return self.threshold + self.scale * (-np.log1p(-np.asarray(q))) ** (1.0 / self.shape)


class _Transformed:
    """T(x) ~ N(mean, sd) for an increasing transformation T with inverse (Box-Cox, Johnson)."""

    def __init__(self, transform, inverse, lower: float, upper: float, mean: float, sd: float):
        self.transform, self.inverse, self.lower, self.upper = transform, inverse, lower, upper
        self.normal = _Normal(mean, sd)

    def _t(self, x):
        x = np.asarray(x, dtype=np.float64)
        inside = (x > self.lower) & (x < self.upper)
        with np.errstate(all="ignore"):
            t = self.transform(np.where(inside, x, np.nan))
        return np.where(inside, t, np.where(x <= self.lower, -np.inf, np.inf))

    def log_cdf(self, x):
        return self.normal.log_cdf(self._t(x))

    def log_sf(self, x):
        return self.normal.log_sf(self._t(x))

    def ppf(self, q):
        return self.inverse(self.normal.ppf(q))


class _Empirical:
    def __init__(self, x: np.ndarray):
        self.x = x

    def ppf(self, q):
        return np.quantile(self.x, q, method="hazen")


# -- fits -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """A fitted model with its Anderson-Darling statistic and p-value (NaN where no table gives
    one: 3-parameter fits, percentile); ``p_bound`` is ``">"`` or ``"<"`` when the p-value is the
    end of a table."""

    distribution: str
    parameters: dict[str, float]
    ad_statistic: float
    p_value: float
    p_bound: str = ""
    model: object = field(default=None, repr=False, compare=False)

    @property
    def p_text(self) -> str:
        if math.isnan(self.p_value):
            return "-"
        return (
            f"{self.p_bound}{self.p_value:.3f}"
            if self.p_value >= 0.001
            else f"{self.p_bound}{self.p_value:.1e}"
        )


def _ad(model, xs: np.ndarray) -> float:
    return ad_statistic(np.asarray(model.log_cdf(xs)), np.asarray(model.log_sf(xs)))


def _need_positive(xs: np.ndarray, what: str) -> None:
    if xs[0] <= 0:
        raise ValueError(
            f"the {what} fit needs values above 0; the smallest is {xs[0]:g} (try a 3-parameter fit)"
        )


def fit_normal(xs: np.ndarray) -> Fit:
    mean, sd = float(xs.mean()), float(xs.std(ddof=1))
    model = _Normal(mean, sd)
    a2 = _ad(model, xs)
    return Fit("normal", {"mean": mean, "sd": sd}, a2, normal_ad_p_value(a2, xs.size), model=model)


def _lognormal_mle(y: np.ndarray) -> tuple[float, float]:
    """MLE of ln x ~ N(mu, sigma): mean and sd with divisor n (NIST 1.3.6.6.9)."""
    mu = float(y.mean())
    return mu, float(math.sqrt(np.mean((y - mu) ** 2)))


def fit_lognormal(xs: np.ndarray) -> Fit:
    _need_positive(xs, "lognormal")
    mu, sigma = _lognormal_mle(np.log(xs))
    model = _Lognormal(mu, sigma)
    a2 = _ad(model, xs)
    # ln x normal: the normal case's table (D'Agostino and Stephens Table 4.9).
    return Fit("lognormal", {"location": mu, "scale": sigma}, a2, normal_ad_p_value(a2, xs.size), model=model)


def _weibull_mle(x: np.ndarray) -> tuple[float, float]:
    """Shape k solving sum x^k ln x / sum x^k - 1/k - mean(ln x) = 0 (increasing in k), scale
    (mean x^k)^(1/k) (NIST e-Handbook 1.3.6.6.8 / 8.4.1.2)."""
    y = np.log(x)
    y = y - y.max()  # scale-free: x^k overflows for large k otherwise; the shape does not change

    def score(k):
        w = np.exp(k * y)
        return float(np.sum(w * y) / np.sum(w) - 1.0 / k - y.mean())

    lo, hi = 1e-3, 1.0
    while score(hi) < 0:
        hi *= 2.0
        if hi > 1e6:
            raise ValueError("the Weibull fit does not converge: the values are nearly all equal")
    k = optimize.brentq(score, lo, hi, xtol=1e-13, rtol=1e-13)
    scale = float(np.exp(np.log(np.mean(x**k)) / k)) if np.isfinite(np.mean(x**k)) else math.nan
    if not np.isfinite(scale):
        ly = np.log(x)
        m = ly.max()
        scale = float(np.exp(m + np.log(np.mean(np.exp(k * (ly - m)))) / k))
    return float(k), scale


def fit_weibull(xs: np.ndarray) -> Fit:
    _need_positive(xs, "Weibull")
    k, scale = _weibull_mle(xs)
    model = _Weibull(k, scale)
    a2 = _ad(model, xs)
    p, bound = weibull_ad_p_value(a2, xs.size)
    return Fit("weibull", {"shape": k, "scale": scale}, a2, p, bound, model=model)


def _threshold_search(xs: np.ndarray, profile) -> float:
    """The threshold below the minimum maximising a profile log-likelihood, searched over
    x_(1) - range * 10^t, t in [-8, 3] (a local maximum; the 3-parameter likelihoods are unbounded at
    the minimum for some shapes)."""
    span = float(xs[-1] - xs[0])
    if span <= 0:
        raise ValueError("a 3-parameter fit needs values that are not all equal")
    res = optimize.minimize_scalar(lambda t: -profile(xs[0] - span * 10.0**t), bounds=(-8.0, 3.0), method="bounded",
                                   options={"xatol": 1e-9})  # fmt: skip
    return float(xs[0] - span * 10.0**res.x)


def fit_lognormal3(xs: np.ndarray) -> Fit:
    n = xs.size

    def profile(theta):
        y = np.log(xs - theta)
        _, s = _lognormal_mle(y)
        return -float(y.sum()) - n * math.log(s)

    theta = _threshold_search(xs, profile)
    mu, sigma = _lognormal_mle(np.log(xs - theta))
    model = _Lognormal(mu, sigma, theta)
    return Fit("lognormal3", {"location": mu, "scale": sigma, "threshold": theta}, _ad(model, xs), math.nan,
               model=model)  # fmt: skip


def fit_weibull3(xs: np.ndarray) -> Fit:
    n = xs.size

    def profile(theta):
        z = xs - theta
        k, scale = _weibull_mle(z)
        return n * math.log(k) - n * k * math.log(scale) + (k - 1) * float(np.log(z).sum()) - n

    theta = _threshold_search(xs, profile)
    k, scale = _weibull_mle(xs - theta)
    model = _Weibull(k, scale, theta)
    return Fit("weibull3", {"shape": k, "scale": scale, "threshold": theta}, _ad(model, xs), math.nan,
               model=model)  # fmt: skip


def boxcox_transform(x, lam: float):
    """y = (x^lambda - 1)/lambda, ln x at lambda = 0 (Box and Cox 1964); increasing for every lambda."""
    lx = np.log(x)
    return lx if abs(lam) < 1e-12 else np.expm1(lam * lx) / lam


def boxcox_lambda(xs: np.ndarray, bounds: tuple[float, float] = (-5.0, 5.0)) -> float:
    """lambda maximising the profile log-likelihood -(n/2) ln s^2(y) + (lambda - 1) sum ln x (Box
    and Cox 1964, section 3; Minitab's choice of lambda minimising the sd of the standardised
    transform is the same maximum), in [-5, 5] as Minitab searches."""
    _need_positive(xs, "Box-Cox")
    lx = np.log(xs)
    total = float(lx.sum())
    n = xs.size

    def neg_llf(lam):
        y = boxcox_transform(xs, lam)
        return 0.5 * n * math.log(np.var(y)) - (lam - 1.0) * total

    res = optimize.minimize_scalar(neg_llf, bounds=bounds, method="bounded", options={"xatol": 1e-10})
    return float(res.x)


def fit_boxcox(xs: np.ndarray) -> Fit:
    lam = boxcox_lambda(xs)
    y = boxcox_transform(xs, lam)
    mean, sd = float(y.mean()), float(y.std(ddof=1))

    def inverse(t, lam=lam):
        t = np.asarray(t, dtype=np.float64)
        if abs(lam) < 1e-12:
            return np.exp(t)
        base = 1.0 + lam * t
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(base > 0, np.abs(base) ** (1.0 / lam), 0.0 if lam > 0 else np.inf)

    model = _Transformed(lambda v: boxcox_transform(v, lam), inverse, 0.0, math.inf, mean, sd)
    a2 = ad_statistic(log_ndtr((np.sort(y) - mean) / sd), log_ndtr((mean - np.sort(y)) / sd))
    return Fit(
        "boxcox", {"lambda": lam, "mean": mean, "sd": sd}, a2, normal_ad_p_value(a2, xs.size), model=model
    )


# Johnson system ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Johnson:
    """z = gamma + eta f((x - epsilon)/lam): SB f(u) = ln(u/(1-u)), SL f(u) = ln u (lam = 1),
    SU f(u) = asinh u (Johnson 1949; Slifker and Shapiro 1980)."""

    family: str
    gamma: float
    eta: float
    epsilon: float
    lam: float

    @property
    def support(self) -> tuple[float, float]:
        if self.family == "SB":
            return self.epsilon, self.epsilon + self.lam
        if self.family == "SL":
            return self.epsilon, math.inf
        return -math.inf, math.inf

    def transform(self, x):
        u = (np.asarray(x, dtype=np.float64) - self.epsilon) / self.lam
        if self.family == "SB":
            return self.gamma + self.eta * np.log(u / (1.0 - u))
        if self.family == "SL":
            return self.gamma + self.eta * np.log(u)
        return self.gamma + self.eta * np.arcsinh(u)

    def inverse(self, z):
        w = (np.asarray(z, dtype=np.float64) - self.gamma) / self.eta
        if self.family == "SB":
            return self.epsilon + self.lam / (1.0 + np.exp(-w))
        if self.family == "SL":
            return self.epsilon + self.lam * np.exp(w)
        return self.epsilon + self.lam * np.sinh(w)


def johnson_from_percentiles(z: float, x_m3: float, x_m1: float, x_p1: float, x_p3: float,
                             sl_tolerance: float = 1e-9) -> Johnson | None:  # fmt: skip
    """The Johnson curve through the percentiles at -3z, -z, z, 3z (Slifker and Shapiro 1980):
    with m = x_3z - x_z, n = x_-z - x_-3z, p = x_z - x_-z, m n / p^2 > 1 is SU, < 1 SB, = 1 SL.
    None when the percentiles give no curve (ties)."""
    m, n, p = x_p3 - x_p1, x_m1 - x_m3, x_p1 - x_m1
    if not (m > 0 and n > 0 and p > 0):
        return None
    qr = m * n / (p * p)
    mid = (x_p1 + x_m1) / 2.0
    mp, np_ = m / p, n / p
    if abs(qr - 1.0) <= sl_tolerance:
        if mp <= 1:
            return None
        eta = 2.0 * z / math.log(mp)
        gamma = eta * math.log((mp - 1.0) / (p * math.sqrt(mp)))
        epsilon = mid - (p / 2.0) * (mp + 1.0) / (mp - 1.0)
        return Johnson("SL", gamma, eta, epsilon, 1.0)
    if qr > 1.0:
        s = mp + np_
        eta = 2.0 * z / math.acosh(s / 2.0)
        gamma = eta * math.asinh((np_ - mp) / (2.0 * math.sqrt(qr - 1.0)))
        lam = 2.0 * p * math.sqrt(qr - 1.0) / ((s - 2.0) * math.sqrt(s + 2.0))
        epsilon = mid + p * (np_ - mp) / (2.0 * (s - 2.0))
        return Johnson("SU", gamma, eta, epsilon, lam)
    pm, pn = p / m, p / n
    prod = (1.0 + pm) * (1.0 + pn)
    inv = 1.0 / qr - 1.0  # p^2/(m n) - 1 > 0
    root = (prod - 2.0) ** 2 - 4.0
    if prod < 4.0 or root < 0:
        return None
    eta = z / math.acosh(0.5 * math.sqrt(prod))
    gamma = eta * math.asinh((pn - pm) * math.sqrt(prod - 4.0) / (2.0 * inv))
    lam = p * math.sqrt(root) / inv
    epsilon = mid - lam / 2.0 + p * (pn - pm) / (2.0 * inv)
    return Johnson("SB", gamma, eta, epsilon, lam)


#: Chou et al. (1998) / Minitab: z from 0.25 to 1.25 in steps of 0.01.
JOHNSON_Z_GRID = np.round(np.arange(0.25, 1.2501, 0.01), 2)


def fit_johnson(xs: np.ndarray) -> Fit:
    """For each z of :data:`JOHNSON_Z_GRID`: the curve through the sample's percentiles at
    Phi(-3z), Phi(-z), Phi(z), Phi(3z), kept when every value lies in its support; the one whose
    transformed data have the largest Anderson-Darling normality p-value wins (Chou et al. 1998;
    Minitab's Johnson transformation)."""
    n = xs.size
    best = None
    multiples = np.array([-3.0, -1.0, 1.0, 3.0])
    # Every z's four percentiles in one pass over the data.
    percentiles = np.quantile(xs, ndtr(np.outer(JOHNSON_Z_GRID, multiples)).ravel(), method="hazen").reshape(
        -1, 4
    )
    for z, q in zip(JOHNSON_Z_GRID, percentiles, strict=True):
        curve = johnson_from_percentiles(float(z), *map(float, q))
        if curve is None:
            continue
        lo, hi = curve.support
        if not (xs[0] > lo and xs[-1] < hi and curve.eta > 0 and curve.lam > 0):
            continue
        t = curve.transform(xs)
        if not np.all(np.isfinite(t)):
            continue
        mean, sd = float(t.mean()), float(t.std(ddof=1))
        if not sd > 0:
            continue
        a2 = ad_statistic(log_ndtr((t - mean) / sd), log_ndtr((mean - t) / sd))
        p = normal_ad_p_value(a2, n)
        if best is None or (p, -a2) > (best[0], -best[1]):
            best = (p, a2, float(z), curve, mean, sd)
    if best is None:
        raise ValueError(
            "no Johnson curve fits these values (SB, SL and SU all fail on the z grid 0.25..1.25)"
        )
    p, a2, z, curve, mean, sd = best
    model = _Transformed(curve.transform, curve.inverse, *curve.support, mean, sd)
    params = {"z": z, "gamma": curve.gamma, "eta": curve.eta, "epsilon": curve.epsilon, "lambda": curve.lam,
              "mean": mean, "sd": sd}  # fmt: skip
    return Fit(f"johnson {curve.family}", params, a2, p, model=model)


def fit_percentile(xs: np.ndarray) -> Fit:
    if xs.size < MIN_PERCENTILE_VALUES:
        raise ValueError(f"the percentile method needs at least {MIN_PERCENTILE_VALUES} values (below that the "
                         f"0.135 % point is the sample minimum), got {xs.size}: fit a distribution instead")  # fmt: skip
    return Fit("percentile", {}, math.nan, math.nan, model=_Empirical(xs))


_FITTERS = {
    "normal": fit_normal,
    "lognormal": fit_lognormal,
    "lognormal3": fit_lognormal3,
    "weibull": fit_weibull,
    "weibull3": fit_weibull3,
    "boxcox": fit_boxcox,
    "johnson": fit_johnson,
    "percentile": fit_percentile,
}


def fit(values, distribution: str) -> Fit:
    """One model fitted to ``values`` (any order): one of :data:`METHODS` but ``auto``."""
    if distribution not in _FITTERS:
        raise ValueError(f"unknown distribution {distribution!r}; the methods are {', '.join(METHODS)}")
    return _FITTERS[distribution](_sorted_finite(values))


def _sorted_finite(values) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).ravel()
    bad = ~np.isfinite(x)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"value at index {i} is {x[i]}, expected a finite number")
    if x.size < 8:
        raise ValueError(f"a distribution fit needs at least 8 values, got {x.size}")
    xs = np.sort(x)
    if xs[0] == xs[-1]:
        raise ValueError(
            f"all {x.size} values are {xs[0]:g}: no distribution can be fitted to values that do not vary"
        )
    return xs


#: p-value above which a candidate is taken as fitting (the Weibull table ends there).
GOOD_FIT_P = 0.25


def identify(values, candidates=AUTO_CANDIDATES) -> tuple[Fit, tuple[Fit, ...], dict[str, str]]:
    """Every candidate fitted; the first in ``candidates`` order (normal, lognormal, Weibull,
    Box-Cox, Johnson: fewest parameters first) with an Anderson-Darling p-value of at least
    :data:`GOOD_FIT_P`, else the one with the largest p-value (ties: smallest A^2); and why each
    candidate that could not be fitted was left out (Minitab, Individual Distribution
    Identification: the largest p-value, the simpler model among good fits)."""
    xs = _sorted_finite(values)
    fits, skipped = [], {}
    for name in candidates:
        try:
            fits.append(_FITTERS[name](xs))
        except ValueError as exc:
            skipped[name] = str(exc)
    usable = [f for f in fits if not math.isnan(f.p_value)]
    if not usable:
        raise ValueError("no candidate distribution could be fitted: " + "; ".join(skipped.values()))
    good = [f for f in usable if f.p_value >= GOOD_FIT_P]
    if good:
        return good[0], tuple(fits), skipped
    return max(usable, key=lambda f: (f.p_value, -f.ad_statistic)), tuple(fits), skipped


# -- capability ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DistributionCapability:
    """Performance indices of a fitted model against the specification, and PPM out of spec.

    ``pp``/``ppk`` are the percentile (ISO 22514-2) indices; ``pp_z``/``ppk_z`` the Z-score ones
    (normal-equivalent of the expected fraction out). Expected PPM come from the model (NaN for the
    percentile method, which has none); observed PPM count the data."""

    method: str
    selected_by: str
    fit: Fit
    candidates: tuple[Fit, ...]
    skipped: dict[str, str]
    n: int
    lsl: float | None
    usl: float | None
    median: float
    p_low: float
    p_high: float
    pp: float
    ppl: float
    ppu: float
    ppk: float
    pp_z: float
    ppk_z: float
    expected_ppm_below: float
    expected_ppm_above: float
    expected_ppm_total: float
    observed_ppm_below: float
    observed_ppm_above: float
    observed_ppm_total: float

    def to_dict(self) -> dict:
        def fit_dict(f: Fit) -> dict:
            return {"distribution": f.distribution, "parameters": f.parameters, "ad_statistic": f.ad_statistic,
                    "p_value": f.p_value, "p_bound": f.p_bound}  # fmt: skip

        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("fit", "candidates")}
        out["fit"] = fit_dict(self.fit)
        out["candidates"] = [fit_dict(f) for f in self.candidates]
        return out


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.inf


def distribution_capability(values, lsl: float | None = None, usl: float | None = None, *,
                            method: str = "auto") -> DistributionCapability:  # fmt: skip
    """Pp, Ppk (percentile and Z-score), expected and observed PPM of ``values`` against the spec,
    with the model of ``method`` (see the module; ``auto``: best Anderson-Darling fit).

    Percentile indices: ISO 22514-2 / Clements (1989); Z-score: Bothe (1997); expected PPM: the
    model's P(X < LSL) and P(X > USL) times 10^6 (Minitab, Nonnormal Capability Analysis)."""
    if lsl is None and usl is None:
        raise ValueError("give at least one specification limit (lsl or usl)")
    if lsl is not None and usl is not None and not lsl < usl:
        raise ValueError(f"lsl ({lsl}) must be below usl ({usl})")
    if method not in METHODS:
        raise ValueError(f"unknown capability method {method!r}; the methods are {', '.join(METHODS)}")
    xs = _sorted_finite(values)
    if method == "auto":
        chosen, candidates, skipped = identify(xs)
        selected_by = "anderson-darling"
    else:
        chosen, candidates, skipped = _FITTERS[method](xs), (), {}
        candidates = (chosen,)
        selected_by = "user"
    model = chosen.model
    p_low, median, p_high = (float(v) for v in model.ppf(np.array([P_LOW, 0.5, P_HIGH])))
    ppu = _ratio(usl - median, p_high - median) if usl is not None else math.nan
    ppl = _ratio(median - lsl, median - p_low) if lsl is not None else math.nan
    pp = _ratio(usl - lsl, p_high - p_low) if lsl is not None and usl is not None else math.nan
    ppk = float(np.nanmin([ppu, ppl]))
    n = xs.size
    below_obs = float(np.searchsorted(xs, lsl, side="left")) / n * 1e6 if lsl is not None else 0.0
    above_obs = float(n - np.searchsorted(xs, usl, side="right")) / n * 1e6 if usl is not None else 0.0
    if isinstance(model, _Empirical):
        below, above, pp_z, ppk_z = math.nan, math.nan, math.nan, math.nan
    else:
        below = float(np.exp(model.log_cdf(lsl))) if lsl is not None else 0.0
        above = float(np.exp(model.log_sf(usl))) if usl is not None else 0.0
        # Z from the log tail: -Phi^-1(p) for tiny p without 1 - p losing digits.
        z_u = -float(ndtri(above)) if usl is not None else math.nan
        z_l = -float(ndtri(below)) if lsl is not None else math.nan
        ppk_z = float(np.nanmin([z_u, z_l])) / 3.0
        pp_z = (z_u + z_l) / 6.0 if lsl is not None and usl is not None else math.nan
        below, above = below * 1e6, above * 1e6
    return DistributionCapability(
        method=chosen.distribution, selected_by=selected_by, fit=chosen, candidates=candidates, skipped=skipped,
        n=n, lsl=lsl, usl=usl, median=median, p_low=p_low, p_high=p_high, pp=pp, ppl=ppl, ppu=ppu, ppk=ppk,
        pp_z=pp_z, ppk_z=ppk_z, expected_ppm_below=below, expected_ppm_above=above,
        expected_ppm_total=below + above if not math.isnan(below) else math.nan,
        observed_ppm_below=below_obs, observed_ppm_above=above_obs, observed_ppm_total=below_obs + above_obs,
    )  # fmt: skip
