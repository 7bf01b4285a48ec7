"""Capability indices, their confidence intervals and the normality flag."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from silicio import spc
from silicio.spc.capability import anderson_darling


def test_montgomery_cp_interval_example():
    # Montgomery, Introduction to SQC, Example 8.5: USL 62, LSL 38, n = 20, s = 1.75: Cp = 2.29, 95%: 1.57 .. 3.01.
    cp = spc.cp(38, 62, 1.75)
    assert round(cp, 2) == 2.29
    lo, hi = spc.cp_interval(2.29, 20, 0.95)  # the book carries on from the rounded Cp
    assert (round(lo, 2), round(hi, 2)) == (1.57, 3.01)


def test_montgomery_cpk_interval_example():
    # Montgomery Example 8.6 (Bissell's approximation): n = 20, Cpk = 1.33, 95%: 0.88 .. 1.78.
    lo, hi = spc.cpk_interval(1.33, 20, 0.95)
    assert (round(lo, 2), round(hi, 2)) == (0.88, 1.78)


def test_indices_from_their_definitions():
    rng = np.random.default_rng(5)
    x = rng.normal(10.2, 0.5, (40, 5))
    cap = spc.capability(x, 8, 12)
    # Within sigma = R-bar/d2(5) with d2(5) = 2.326 (table, 3 decimals); overall = sample sd.
    sigma_w = np.ptp(x, axis=1).mean() / 2.326
    assert cap.sigma_within_method == "range"
    assert cap.sigma_within == pytest.approx(sigma_w, rel=5e-4)
    assert cap.sigma_overall == pytest.approx(x.std(ddof=1), rel=1e-13)
    assert cap.cp == pytest.approx(4 / (6 * cap.sigma_within))
    assert cap.cpk == pytest.approx((12 - x.mean()) / (3 * cap.sigma_within))
    assert cap.ppk == pytest.approx((12 - x.mean()) / (3 * x.std(ddof=1)))
    assert cap.cp_interval[0] < cap.cp < cap.cp_interval[1]
    assert not cap.non_normal


def test_within_sigma_by_subgroup_size():
    rng = np.random.default_rng(2)
    assert spc.within_sigma(rng.normal(size=50))[1] == "moving-range"
    assert spc.within_sigma(rng.normal(size=(10, 12)))[1] == "sd"
    values = rng.normal(size=60)
    assert spc.within_sigma(values, size=4)[1] == "range"


def test_one_sided_specification():
    x = np.random.default_rng(4).normal(5, 1, 100)
    cap = spc.capability(x, usl=9)
    assert math.isnan(cap.cp) and math.isnan(cap.pp)
    assert cap.ppk == pytest.approx((9 - x.mean()) / (3 * x.std(ddof=1)))


def scipy_anderson(x):
    try:
        return stats.anderson(x, method="interpolate")  # scipy >= 1.17 gives a p-value
    except TypeError:
        return stats.anderson(x)


def test_anderson_darling_statistic_matches_scipy_and_flags_skewed_data():
    rng = np.random.default_rng(7)
    skewed = rng.lognormal(0, 0.8, 200)
    a2, p = anderson_darling(skewed)
    assert a2 == pytest.approx(scipy_anderson(skewed).statistic, rel=1e-10)
    assert p < 1e-3
    assert spc.capability(skewed, 0, 20).non_normal
    normal = rng.normal(size=200)
    a2, p = anderson_darling(normal)
    ref = scipy_anderson(normal)
    assert a2 == pytest.approx(ref.statistic, rel=1e-10)
    if 0.01 < getattr(ref, "pvalue", 0) < 0.15:  # scipy interpolates its table only in this range
        assert p == pytest.approx(ref.pvalue, abs=0.01)


def test_shapiro_wilk_for_small_samples():
    test = spc.normality([1.0, 2.1, 2.9, 4.2, 5.0])
    assert test.method == "shapiro-wilk"
    assert test.p_value == pytest.approx(stats.shapiro([1.0, 2.1, 2.9, 4.2, 5.0]).pvalue)


def test_bad_specification():
    with pytest.raises(ValueError, match="at least one specification limit"):
        spc.capability([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="must be below usl"):
        spc.capability([1.0, 2.0, 3.0], 5, 4)


def test_anderson_darling_far_from_normal_is_rejected_not_an_overflow():
    """Quantized results (three values) over 20,000 parts give A*^2 in the hundreds, past the
    vertex of D'Agostino and Stephens' parabola: p stays near 0 instead of climbing back to 1 or
    overflowing (a dashboard control-chart page once answered 500 on such a test)."""
    values = np.repeat([1.0, 1.5, 9.0], [9_000, 9_000, 2_000])
    a2, p = anderson_darling(values)
    assert a2 == pytest.approx(scipy_anderson(values).statistic, rel=1e-10)
    assert a2 * (1 + 0.75 / values.size + 2.25 / values.size**2) > 5.709 / (2 * 0.0186)
    assert 0 <= p < 1e-100
    assert spc.capability(values, 0, 10).non_normal
