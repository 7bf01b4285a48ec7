"""Control chart constants (d2, d3, c4 and the factors built from them), computed from their definitions.

The tables printed in Montgomery (Appendix VI) and ASTM E2587 are rounded values of these
definitions; nothing here is typed in from a table.

- d2(n) = E[R]/sigma and d3(n) = sd(R)/sigma, R the range of n independent normal observations
  (Tippett 1925; Montgomery section 6.2). Integrals of the range distribution, by composite
  Gauss-Legendre quadrature.
- c4(n) = E[s]/sigma for the sample standard deviation s of n normal observations, in closed form
  with the gamma function (Montgomery section 6.3).

References
----------
.. [1] D. C. Montgomery, Introduction to Statistical Quality Control, 8th ed., Wiley, 2019,
   chapter 6 and Appendix VI.
.. [2] ASTM E2587-16, Standard Practice for Use of Control Charts in Statistical Process Control,
   Table 1 (factors for constructing control charts).
.. [3] L. H. C. Tippett, "On the extreme individuals and the range of samples taken from a normal
   population", Biometrika 17 (1925) 364-387.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.special import ndtr

# Integration range in units of sigma: the normal density below 1e-40 beyond +-13, so what is
# left out is far below double precision.
_HALF_WIDTH = 13.0
_PANELS = 52
_NODES_PER_PANEL = 20


def _gauss_legendre(a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of composite Gauss-Legendre quadrature over [a, b]."""
    t, w = np.polynomial.legendre.leggauss(_NODES_PER_PANEL)
    edges = np.linspace(a, b, _PANELS + 1)
    half = np.diff(edges) / 2
    mid = (edges[:-1] + edges[1:]) / 2
    return (mid[:, None] + half[:, None] * t).ravel(), (half[:, None] * w).ravel()


def _check_n(n: int) -> int:
    if int(n) != n or n < 2:
        raise ValueError(f"subgroup size n must be an integer >= 2, got {n!r}")
    return int(n)


@lru_cache(maxsize=512)
def _range_moments(n: int) -> tuple[float, float]:
    """E[R] and E[R^2] of the range of n standard normal observations.

    For n = 2, R = |X1 - X2| with X1 - X2 ~ N(0, 2), so E[R] = 2/sqrt(pi) and E[R^2] = 2 (the I-MR
    chart's constants, in every process that judges a chart: no quadrature, ~0.07 s CPU); other n
    by :func:`_range_moments_by_quadrature`.
    """
    if n == 2:
        return 2.0 / math.sqrt(math.pi), 2.0
    return _range_moments_by_quadrature(n)


def _range_moments_by_quadrature(n: int) -> tuple[float, float]:
    """E[R] and E[R^2] of the range of n standard normal observations, by quadrature.

    With G(w) = P(R <= w) = n * integral phi(x) [Phi(x + w) - Phi(x)]^(n-1) dx (Montgomery 6.2),
    E[R] = integral_0^inf (1 - G(w)) dw and E[R^2] = integral_0^inf 2 w (1 - G(w)) dw.
    E[R] uses the equivalent one-dimensional form integral (1 - Phi(x)^n - (1 - Phi(x))^n) dx.
    """
    x, wx = _gauss_legendre(-_HALF_WIDTH, _HALF_WIDTH)
    cdf = ndtr(x)
    mean = float(np.sum(wx * (1.0 - cdf**n - ndtr(-x) ** n)))
    w, ww = _gauss_legendre(0.0, 2 * _HALF_WIDTH)
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    # G(w) for every node w at once: rows are w, columns are x.
    inner = np.clip(ndtr(x[None, :] + w[:, None]) - cdf[None, :], 0.0, 1.0) ** (n - 1)
    # summed by einsum, not BLAS: a matrix-vector product this size wakes OpenBLAS's worker
    # threads, which then spin ~0.1 s CPU waiting for more work
    g = n * np.einsum("ij,j->i", inner, wx * pdf)
    second = float(np.sum(ww * 2 * w * (1.0 - g)))
    return mean, second


def _vectorised(scalar):
    """Accept an integer or an array of integers, as pvlib's functions do."""

    def wrapper(n):
        if np.ndim(n) == 0:
            return scalar(_check_n(n))
        arr = np.asarray(n)
        return np.array([scalar(_check_n(v)) for v in arr.ravel()]).reshape(arr.shape)

    wrapper.__name__ = scalar.__name__
    wrapper.__qualname__ = scalar.__qualname__
    wrapper.__doc__ = scalar.__doc__
    return wrapper


@_vectorised
def d2(n: int) -> float:
    """Mean of the relative range, E[R]/sigma, for subgroups of n normal observations (Montgomery 6.2)."""
    return _range_moments(n)[0]


@_vectorised
def d3(n: int) -> float:
    """Standard deviation of the relative range, sd(R)/sigma = sqrt(E[R^2] - d2^2) (Montgomery 6.2)."""
    mean, second = _range_moments(n)
    return math.sqrt(second - mean * mean)


@_vectorised
def c4(n: int) -> float:
    """E[s]/sigma = sqrt(2/(n-1)) Gamma(n/2) / Gamma((n-1)/2) (Montgomery 6.3, ASTM E2587)."""
    return math.sqrt(2.0 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


def _floor0(v):
    return np.maximum(v, 0.0) if np.ndim(v) else max(float(v), 0.0)


def A(n):
    """X-bar chart factor with sigma known: 3/sqrt(n) (Montgomery App. VI)."""
    return 3.0 / np.sqrt(n)


def A2(n):
    """X-bar chart factor from R-bar: 3/(d2 sqrt(n)) (Montgomery eq. 6.4)."""
    return 3.0 / (d2(n) * np.sqrt(n))


def A3(n):
    """X-bar chart factor from s-bar: 3/(c4 sqrt(n)) (Montgomery eq. 6.28)."""
    return 3.0 / (c4(n) * np.sqrt(n))


def D1(n):
    """R chart lower factor with sigma known: max(0, d2 - 3 d3) (Montgomery App. VI)."""
    return _floor0(d2(n) - 3.0 * d3(n))


def D2(n):
    """R chart upper factor with sigma known: d2 + 3 d3 (Montgomery App. VI)."""
    return d2(n) + 3.0 * d3(n)


def D3(n):
    """R chart lower factor from R-bar: max(0, 1 - 3 d3/d2) (Montgomery eq. 6.5)."""
    return _floor0(1.0 - 3.0 * d3(n) / d2(n))


def D4(n):
    """R chart upper factor from R-bar: 1 + 3 d3/d2 (Montgomery eq. 6.5)."""
    return 1.0 + 3.0 * d3(n) / d2(n)


def _s_spread(n):
    c = c4(n)
    return np.sqrt(1.0 - c * c)


def B3(n):
    """s chart lower factor from s-bar: max(0, 1 - 3 sqrt(1 - c4^2)/c4) (Montgomery eq. 6.27)."""
    return _floor0(1.0 - 3.0 * _s_spread(n) / c4(n))


def B4(n):
    """s chart upper factor from s-bar: 1 + 3 sqrt(1 - c4^2)/c4 (Montgomery eq. 6.27)."""
    return 1.0 + 3.0 * _s_spread(n) / c4(n)


def B5(n):
    """s chart lower factor with sigma known: max(0, c4 - 3 sqrt(1 - c4^2)) (Montgomery eq. 6.25)."""
    return _floor0(c4(n) - 3.0 * _s_spread(n))


def B6(n):
    """s chart upper factor with sigma known: c4 + 3 sqrt(1 - c4^2) (Montgomery eq. 6.25)."""
    return c4(n) + 3.0 * _s_spread(n)


def E2(n):
    """Individuals chart factor from the mean moving range of span n: 3/d2 (ASTM E2587 Table 1)."""
    return 3.0 / d2(n)


#: Column order of :func:`chart_constants`, as in Montgomery Appendix VI.
CONSTANTS = {
    "d2": d2,
    "d3": d3,
    "c4": c4,
    "A": A,
    "A2": A2,
    "A3": A3,
    "D1": D1,
    "D2": D2,
    "D3": D3,
    "D4": D4,
    "B3": B3,
    "B4": B4,
    "B5": B5,
    "B6": B6,
    "E2": E2,
}


def chart_constants(sizes=range(2, 26)) -> dict[str, np.ndarray]:
    """The table of factors for control charts, one row per subgroup size (Montgomery App. VI)."""
    n = np.asarray(list(sizes), dtype=np.int64)
    return {"n": n} | {name: np.asarray(f(n), dtype=float) for name, f in CONSTANTS.items()}
