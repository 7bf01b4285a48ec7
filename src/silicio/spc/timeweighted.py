"""Time-weighted control charts: EWMA and tabular CUSUM, for small sustained shifts.

References
----------
.. [1] S. W. Roberts, "Control chart tests based on geometric moving averages", Technometrics 1(3)
   (1959) 239-250.
.. [2] NIST/SEMATECH e-Handbook of Statistical Methods, section 6.3.2.4 (EWMA control charts),
   https://www.itl.nist.gov/div898/handbook/pmc/section3/pmc324.htm
.. [3] D. C. Montgomery, Introduction to Statistical Quality Control, 8th ed., Wiley, 2019,
   section 9.1 (tabular CUSUM) and 9.2 (EWMA).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np
from scipy.signal import lfilter

from .charts import Chart, _chart, _finite, _positive, imr_limits


def ewma(x, lam: float, start: float) -> np.ndarray:
    """z_t = lam x_t + (1 - lam) z_(t-1), z_0 = ``start`` (NIST 6.3.2.4; Roberts 1959)."""
    x = _finite(x)
    # The recursion is a first-order linear filter; lfilter runs it in C.
    z, _ = lfilter([lam], [1.0, -(1.0 - lam)], x, zi=[(1.0 - lam) * start])
    return z


@dataclass(frozen=True)
class EwmaLimits:
    """Limits of an EWMA chart: target (the starting value z_0), process sigma, lambda and k.

    ``exact=True`` gives the time-varying limits that start narrow and widen towards the
    asymptotic ones; ``exact=False`` the asymptotic limits target +- k sigma sqrt(lam / (2 - lam))
    that NIST's example uses.
    """

    target: float
    sigma: float
    lam: float = 0.2
    k: float = 3.0
    exact: bool = True

    def __post_init__(self):
        if not 0 < self.lam <= 1:
            raise ValueError(f"EWMA lambda must be in (0, 1], got {self.lam!r}")
        _positive(self.sigma, "sigma")

    def apply(self, x) -> Chart:
        """EWMA statistic against target +- k sigma sqrt(lam/(2-lam) [1 - (1-lam)^(2t)])
        (Montgomery eqs. 9.24-9.25; NIST 6.3.2.4 for the asymptotic form)."""
        z = ewma(x, self.lam, self.target)
        t = np.arange(1, z.size + 1)
        factor = self.lam / (2.0 - self.lam)
        if self.exact:
            factor = factor * -np.expm1(2.0 * t * np.log1p(-self.lam)) if self.lam < 1 else factor
        return _chart("ewma", z, self.target, self.sigma * np.sqrt(factor), self.k)


def ewma_limits(
    x=None,
    *,
    lam: float = 0.2,
    k: float = 3.0,
    target: float | None = None,
    sigma: float | None = None,
    exact: bool = True,
) -> EwmaLimits:
    """Phase I EWMA limits: target and sigma as given, else from the baseline ``x``
    (its mean, and MR-bar/d2 as for individuals, Montgomery section 9.2.1).

    References
    ----------
    .. [1] NIST e-Handbook section 6.3.2.4.
    .. [2] Montgomery, 8th ed., section 9.2.
    """
    if target is None or sigma is None:
        if x is None:
            raise ValueError("EWMA limits need a baseline, or both target and sigma")
        estimated = imr_limits(x)
        target = estimated.mean if target is None else target
        sigma = estimated.sigma if sigma is None else sigma
    return EwmaLimits(float(target), float(sigma), lam, k, exact)


@nb.njit(cache=True, nogil=True)
def _cusum(x, upper_ref, lower_ref):  # pragma: no cover - compiled
    hi = np.empty_like(x)
    lo = np.empty_like(x)
    c_hi = c_lo = 0.0
    for i in range(x.size):
        c_hi = max(0.0, x[i] - upper_ref + c_hi)
        c_lo = max(0.0, lower_ref - x[i] + c_lo)
        hi[i] = c_hi
        lo[i] = c_lo
    return hi, lo


@dataclass(frozen=True)
class CusumLimits:
    """Tabular CUSUM: target mu0, process sigma, reference value k and decision interval h,
    both in units of sigma (K = k sigma, H = h sigma)."""

    target: float
    sigma: float
    k: float = 0.5
    h: float = 5.0

    def __post_init__(self):
        _positive(self.sigma, "sigma")
        _positive(self.h, "decision interval h")

    def apply(self, x) -> tuple[Chart, Chart]:
        """C+_i = max(0, x_i - (mu0 + K) + C+_(i-1)), C-_i = max(0, (mu0 - K) - x_i + C-_(i-1)),
        C+_0 = C-_0 = 0; out of control when either exceeds H (Montgomery eqs. 9.2-9.3)."""
        x = _finite(x)
        big_k = self.k * self.sigma
        hi, lo = _cusum(np.ascontiguousarray(x), self.target + big_k, self.target - big_k)
        h = self.h * self.sigma
        # Each sum is one-sided, plotted against H alone; it has no zones for run rules.
        return tuple(
            Chart(
                name,
                stat,
                np.zeros_like(stat),
                np.full_like(stat, np.nan),
                np.full_like(stat, h),
                np.full_like(stat, np.nan),
            )
            for name, stat in (("cusum upper", hi), ("cusum lower", lo))
        )


def cusum_limits(
    x=None, *, k: float = 0.5, h: float = 5.0, target: float | None = None, sigma: float | None = None
) -> CusumLimits:
    """Phase I tabular CUSUM: target and sigma as given, else from the baseline ``x`` (its mean and
    MR-bar/d2). Montgomery recommends k = 0.5 with h = 4 or 5 (section 9.1.3).

    References
    ----------
    .. [1] Montgomery, 8th ed., section 9.1.2 (the tabular or algorithmic CUSUM).
    .. [2] NIST e-Handbook section 6.3.2.3 (CUSUM control charts).
    """
    if target is None or sigma is None:
        if x is None:
            raise ValueError("CUSUM limits need a baseline, or both target and sigma")
        estimated = imr_limits(x)
        target = estimated.mean if target is None else target
        sigma = estimated.sigma if sigma is None else sigma
    return CusumLimits(float(target), float(sigma), k, h)
