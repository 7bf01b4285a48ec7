"""Descriptive statistics computed accurately: mean, standard deviation, lag-1 autocorrelation,
one-way analysis of variance.

Accuracy is checked against the NIST Statistical Reference Datasets (StRD), whose certified values
were computed with 500-digit arithmetic. In double precision the limit is the input itself: a
value such as 10000000.2 has no exact binary form, and its rounding error (about 1e-9) is large
beside a spread of 0.1 (StRD NumAcc4). So there are two paths:

- floats: two-pass algorithms with a correction pass (Chan, Golub and LeVeque 1983), as accurate
  as the binary input allows;
- decimals (``decimal.Decimal``, decimal strings, or a pyarrow decimal array): exact rational
  arithmetic on the recorded digits, rounded once at the end; the certified values to all digits.

References
----------
.. [1] NIST Statistical Reference Datasets, univariate summary statistics and ANOVA,
   https://www.itl.nist.gov/div898/strd/
.. [2] T. F. Chan, G. H. Golub, R. J. LeVeque, "Algorithms for computing the sample variance:
   analysis and recommendations", The American Statistician 37(3) (1983) 242-247.
.. [3] D. C. Montgomery, Design and Analysis of Experiments, 9th ed., section 3.3 (one-way ANOVA).
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pyarrow as pa
from scipy import stats


@dataclass(frozen=True)
class Description:
    n: int
    mean: float
    sd: float
    #: r1 = sum (x_i - mean)(x_(i+1) - mean) / sum (x_i - mean)^2, as defined by StRD.
    lag1_autocorrelation: float


def _is_decimal(values) -> bool:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        return pa.types.is_decimal(values.type)
    if isinstance(values, np.ndarray):
        return (
            values.dtype == object and values.size > 0 and isinstance(values.flat[0], decimal.Decimal | str)
        )
    return (
        isinstance(values, list | tuple) and len(values) > 0 and isinstance(values[0], decimal.Decimal | str)
    )


def _scaled_integers(values) -> tuple[list[int], int]:
    """Decimal values as integers a_i and a scale s with value_i = a_i / 10^s, exactly."""
    if isinstance(values, pa.ChunkedArray | pa.Array):
        values = values.to_pylist()
    decs = []
    for i, v in enumerate(values):
        try:
            d = v if isinstance(v, decimal.Decimal) else decimal.Decimal(str(v).strip())
        except decimal.InvalidOperation:
            raise ValueError(f"value at index {i} is {v!r}, expected a decimal number") from None
        if not d.is_finite():
            raise ValueError(f"value at index {i} is {v!r}, expected a finite number")
        decs.append(d)
    scale = max(0, max(-d.as_tuple().exponent for d in decs))
    return [int(d.scaleb(scale)) for d in decs], scale


def _float_of_sqrt(q: Fraction) -> float:
    with decimal.localcontext() as ctx:
        ctx.prec = 50
        return float((decimal.Decimal(q.numerator) / decimal.Decimal(q.denominator)).sqrt())


def _describe_exact(values) -> Description:
    a, scale = _scaled_integers(values)
    n = len(a)
    total = sum(a)
    # n * (x_i - mean) * 10^scale, all integers: no rounding until the end.
    dev = [n * v - total for v in a]
    ss = sum(d * d for d in dev)
    mean = Fraction(total, n * 10**scale)
    sd = _float_of_sqrt(Fraction(ss, n * n * (n - 1) * 10 ** (2 * scale))) if n > 1 else float("nan")
    r1 = float(Fraction(sum(dev[i] * dev[i + 1] for i in range(n - 1)), ss)) if ss else float("nan")
    return Description(n, float(mean), sd, r1)


def accurate_mean(x: np.ndarray) -> float:
    """Mean with one correction pass: m + sum(x - m)/n (Chan, Golub, LeVeque 1983)."""
    m = np.mean(x)
    return float(m + np.mean(x - m))


def describe(values) -> Description:
    """Count, mean, standard deviation (n - 1) and lag-1 autocorrelation of a series.

    Floats take the corrected two-pass path; decimals (Decimal, decimal strings, pyarrow decimal
    arrays) are summed exactly. See the module docstring.

    References
    ----------
    .. [1] NIST StRD univariate summary statistics, https://www.itl.nist.gov/div898/strd/univ/
    .. [2] Chan, Golub, LeVeque (1983), The American Statistician 37(3) 242-247.
    """
    if _is_decimal(values):
        return _describe_exact(values)
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError("describe needs a non-empty 1-D series")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"value at index {int(np.argmax(~np.isfinite(x)))} is not a finite number")
    n = x.size
    m = accurate_mean(x)
    d = x - m
    # Corrected two-pass sum of squares: the second term removes the error left in m.
    ss = float(np.dot(d, d) - np.sum(d) ** 2 / n)
    sd = float(np.sqrt(ss / (n - 1))) if n > 1 else float("nan")
    r1 = float(np.dot(d[:-1], d[1:]) / np.dot(d, d)) if ss > 0 else float("nan")
    return Description(n, m, sd, r1)


@dataclass(frozen=True)
class Anova:
    """One-way analysis of variance table (between groups, within groups)."""

    df_between: int
    df_within: int
    ss_between: float
    ss_within: float
    ms_between: float
    ms_within: float
    f: float
    p_value: float
    r_squared: float
    residual_sd: float


def one_way_anova(values, groups) -> Anova:
    """One-way ANOVA of ``values`` by ``groups`` (labels): sums of squares, mean squares, F, p,
    R^2 = SS_between / SS_total and residual sd = sqrt(MS_within).

    Group and grand means are computed with a correction pass, and every sum of squares from
    deviations, so that data with a large offset (StRD SiRstv, about 196 +- 0.1) lose no digits.

    References
    ----------
    .. [1] NIST StRD ANOVA datasets (SiRstv), https://www.itl.nist.gov/div898/strd/anova/anova.html
    .. [2] Montgomery, Design and Analysis of Experiments, 9th ed., section 3.3.
    """
    x = np.asarray(values, dtype=np.float64)
    labels = np.asarray(groups)
    if x.shape != labels.shape or x.ndim != 1:
        raise ValueError(f"{x.size} values and {labels.size} group labels: expected one label per value")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"value at index {int(np.argmax(~np.isfinite(x)))} is not a finite number")
    _, codes = np.unique(labels, return_inverse=True)
    codes = codes.ravel()
    k = int(codes.max()) + 1
    n = np.bincount(codes, minlength=k)
    if k < 2 or x.size <= k:
        raise ValueError(f"ANOVA needs at least 2 groups and more values than groups, got {k} and {x.size}")
    grand = accurate_mean(x)
    d = x - grand
    group_dev = np.bincount(codes, weights=d, minlength=k) / n  # group mean - grand mean
    resid = d - group_dev[codes]
    group_dev = group_dev + np.bincount(codes, weights=resid, minlength=k) / n  # correction pass
    resid = d - group_dev[codes]
    ss_within = float(np.dot(resid, resid))
    ss_between = float(np.dot(n, group_dev * group_dev))
    df_b, df_w = k - 1, x.size - k
    ms_b, ms_w = ss_between / df_b, ss_within / df_w
    f = ms_b / ms_w if ms_w > 0 else float("inf")
    return Anova(
        df_b,
        df_w,
        ss_between,
        ss_within,
        ms_b,
        ms_w,
        f,
        float(stats.f.sf(f, df_b, df_w)),
        ss_between / (ss_between + ss_within),
        float(np.sqrt(ms_w)),
    )
