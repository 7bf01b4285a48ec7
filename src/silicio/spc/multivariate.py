"""Charts for several correlated characteristics at once (tests of one die that move together):
Hotelling's T^2 for individual observations and the multivariate EWMA (MEWMA).

Data are one row per observation, one column per characteristic. Phase I estimates the mean
vector and covariance matrix from a baseline; phase II applies them to new rows.

References
----------
.. [1] N. D. Tracy, J. C. Young, R. L. Mason, "Multivariate control charts for individual
   observations", Journal of Quality Technology 24(2) (1992) 88-95.
.. [2] D. C. Montgomery, Introduction to Statistical Quality Control, 8th ed., section 11.3
   (eqs. 11.18 and 11.19, individual observations) and 11.4 (MEWMA).
.. [3] C. A. Lowry, W. H. Woodall, C. W. Champ, S. E. Rigdon, "A multivariate exponentially
   weighted moving average control chart", Technometrics 34(1) (1992) 46-53.
.. [4] S. E. Rigdon, "An integral equation for the in-control average run length of a
   multivariate exponentially weighted moving average control chart", J. Statist. Comput.
   Simul. 52 (1995) 351-365.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

from .charts import Chart, _finite

#: False-alarm probability of the T^2 limit per point: that of a 3-sigma Shewhart limit.
DEFAULT_ALPHA = 0.0027


def _matrix(data, what: str = "data") -> np.ndarray:
    x = _finite(data, what)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"a multivariate chart needs a 2-D array, one column per characteristic (2 or more); "
                         f"got shape {x.shape}")  # fmt: skip
    return x


def _estimate(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m, p = x.shape
    if m <= p + 1:
        raise ValueError(f"{m} observations of {p} characteristics: the covariance needs more than {p + 1}")
    mean = x.mean(axis=0)
    cov = np.cov(x, rowvar=False, ddof=1)
    if np.linalg.matrix_rank(cov) < p:
        raise ValueError(
            "the characteristics' covariance matrix is singular: one column is a combination of others"
        )
    return mean, cov


def _quadratic(dev: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """dev_i' cov^-1 dev_i per row, by a Cholesky solve."""
    chol = np.linalg.cholesky(cov)
    w = np.linalg.solve(chol, dev.T)
    return np.sum(w * w, axis=0)


@dataclass(frozen=True)
class HotellingLimits:
    """T^2 limits: mean vector and covariance from ``m`` baseline observations; ``phase`` "I" (the
    baseline judged against itself: beta limit) or "II" (new observations: F limit)."""

    mean: np.ndarray
    cov: np.ndarray
    m: int
    alpha: float = DEFAULT_ALPHA

    @property
    def p(self) -> int:
        return int(self.mean.size)

    @property
    def ucl_phase1(self) -> float:
        """((m - 1)^2 / m) B(1 - alpha; p/2, (m - p - 1)/2) (Tracy, Young and Mason 1992;
        Montgomery eq. 11.19)."""
        m, p = self.m, self.p
        return float((m - 1) ** 2 / m * stats.beta.ppf(1 - self.alpha, p / 2, (m - p - 1) / 2))

    @property
    def ucl_phase2(self) -> float:
        """p (m + 1)(m - 1) / (m^2 - m p) F(1 - alpha; p, m - p) (Tracy, Young and Mason 1992;
        Montgomery eq. 11.18)."""
        m, p = self.m, self.p
        return float(p * (m + 1) * (m - 1) / (m * m - m * p) * stats.f.ppf(1 - self.alpha, p, m - p))

    def apply(self, data, baseline_rows: int = 0) -> Chart:
        """T^2_i = (x_i - mean)' S^-1 (x_i - mean); the first ``baseline_rows`` rows (those the
        limits were estimated from) against the phase I limit, the rest against phase II."""
        x = _matrix(data)
        if x.shape[1] != self.p:
            raise ValueError(f"{x.shape[1]} columns, the limits have {self.p} characteristics")
        t2 = _quadratic(x - self.mean, self.cov)
        ucl = np.full(t2.size, self.ucl_phase2)
        ucl[:baseline_rows] = self.ucl_phase1
        nan = np.broadcast_to(np.float64(np.nan), t2.shape)
        median = stats.beta.median(self.p / 2, (self.m - self.p - 1) / 2) * (self.m - 1) ** 2 / self.m
        return Chart("T^2", t2, np.broadcast_to(np.float64(median), t2.shape), nan, ucl, nan)


def hotelling_limits(data, alpha: float = DEFAULT_ALPHA) -> HotellingLimits:
    """Phase I T^2 for individual observations: sample mean vector and covariance (divisor m - 1) of
    the rows (Tracy, Young and Mason 1992)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    x = _matrix(data)
    mean, cov = _estimate(x)
    return HotellingLimits(mean, cov, x.shape[0], alpha)


# -- MEWMA -----------------------------------------------------------------------------------------


def mewma_arl(h: float, p: int, lam: float, nodes: int = 48) -> float:
    """In-control zero-state ARL of a MEWMA chart with limit ``h`` (asymptotic covariance), from
    Rigdon's (1995) integral equation: L(u) = 1 + int_0^h L(v) f(v | u) dv, where given T^2 = u the
    next T^2 is lambda (2 - lambda) times a noncentral chi-square with p degrees of freedom and
    noncentrality (1 - lambda)^2 u / (lambda (2 - lambda)); Gauss-Legendre on v = w^2."""
    c = lam * (2 - lam)
    g, wg = np.polynomial.legendre.leggauss(nodes)
    root = math.sqrt(h)
    w = (g + 1) * root / 2
    weights = wg * root / 2
    v = w * w

    def kernel(u: np.ndarray) -> np.ndarray:
        nc = (1 - lam) ** 2 * u / c
        dens = np.where(
            nc[:, None] > 0,
            stats.ncx2.pdf(v[None, :] / c, p, np.maximum(nc[:, None], 1e-300)),
            stats.chi2.pdf(v[None, :] / c, p),
        )
        return dens / c * (2 * w * weights)[None, :]

    k = kernel(v)
    run = np.linalg.solve(np.eye(nodes) - k, np.ones(nodes))
    return float(1 + (kernel(np.zeros(1)) @ run)[0])


@lru_cache(maxsize=64)
def mewma_h(p: int, lam: float, arl0: float = 200.0) -> float:
    """The limit h giving an in-control ARL of ``arl0`` (:func:`mewma_arl`, secant on ln ARL)."""
    if not 0 < lam <= 1:
        raise ValueError(f"lambda must be in (0, 1], got {lam!r}")
    if not arl0 > 1:
        raise ValueError(f"the in-control ARL must exceed 1, got {arl0!r}")
    target = math.log(arl0)
    # Start from the chi-square quantile of a Shewhart T^2 with the same ARL.
    h0 = float(stats.chi2.ppf(1 - 1 / arl0, p))
    h1 = h0 * 0.8
    f0, f1 = math.log(mewma_arl(h0, p, lam)) - target, math.log(mewma_arl(h1, p, lam)) - target
    for _ in range(50):
        if abs(f1) < 1e-10 or f1 == f0:
            break
        h0, h1, f0 = h1, max(h1 - f1 * (h1 - h0) / (f1 - f0), 1e-6), f1
        f1 = math.log(mewma_arl(h1, p, lam)) - target
    return h1


@dataclass(frozen=True)
class MewmaLimits:
    """MEWMA limits: mean vector, covariance, lambda and the limit h."""

    mean: np.ndarray
    cov: np.ndarray
    lam: float
    h: float

    def apply(self, data) -> Chart:
        """Z_i = lambda (x_i - mean) + (1 - lambda) Z_(i-1), Z_0 = 0; T^2_i = Z_i' Sigma_Zi^-1 Z_i with
        Sigma_Zi = lambda/(2 - lambda) [1 - (1 - lambda)^(2i)] Sigma (Lowry et al. 1992; Montgomery
        eq. 11.31), against h."""
        x = _matrix(data)
        if x.shape[1] != self.mean.size:
            raise ValueError(f"{x.shape[1]} columns, the limits have {self.mean.size} characteristics")
        dev = x - self.mean
        z = np.empty_like(dev)
        acc = np.zeros(dev.shape[1])
        for i, row in enumerate(dev):
            acc = self.lam * row + (1 - self.lam) * acc
            z[i] = acc
        i = np.arange(1, x.shape[0] + 1)
        scale = self.lam / (2 - self.lam) * (1 - (1 - self.lam) ** (2 * i))
        t2 = _quadratic(z, self.cov) / scale
        nan = np.broadcast_to(np.float64(np.nan), t2.shape)
        return Chart("MEWMA", t2, nan, nan, np.broadcast_to(np.float64(self.h), t2.shape), nan)


def mewma_limits(data, lam: float = 0.1, arl0: float = 200.0, h: float | None = None) -> MewmaLimits:
    """Phase I MEWMA: mean vector and covariance of the rows; h for the in-control ARL ``arl0``
    (:func:`mewma_h`) unless given (Lowry et al. 1992; Rigdon 1995)."""
    x = _matrix(data)
    mean, cov = _estimate(x)
    limit = mewma_h(x.shape[1], float(lam), float(arl0)) if h is None else float(h)
    return MewmaLimits(mean, cov, float(lam), limit)
