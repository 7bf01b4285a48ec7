"""Hotelling T^2 (Tracy, Young and Mason 1992) and MEWMA (Lowry et al. 1992; h from Rigdon 1995)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from silicio import spc

COV = np.array([[1.0, 0.8, 0.3], [0.8, 1.0, 0.4], [0.3, 0.4, 1.0]])


def correlated(m: int, seed: int, shift=None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.multivariate_normal([10.0, 5.0, 1.0], COV, m)
    if shift is not None:
        x += shift
    return x


def test_t2_statistic_and_limits_written_out():
    x = correlated(60, 1)
    limits, (chart,) = spc.chart("t2", x, baseline=40)
    base = x[:40]
    mean, inv = base.mean(axis=0), np.linalg.inv(np.cov(base, rowvar=False))
    t2 = np.einsum("ij,jk,ik->i", x - mean, inv, x - mean)
    np.testing.assert_allclose(chart.statistic, t2, rtol=1e-10)
    m, p, alpha = 40, 3, 0.0027
    phase1 = (m - 1) ** 2 / m * stats.beta.ppf(1 - alpha, p / 2, (m - p - 1) / 2)  # Montgomery eq. 11.19
    phase2 = p * (m + 1) * (m - 1) / (m * m - m * p) * stats.f.ppf(1 - alpha, p, m - p)  # eq. 11.18
    assert chart.ucl[:40] == pytest.approx(np.full(40, phase1)) and chart.ucl[40:] == pytest.approx(
        np.full(20, phase2)
    )
    # Phase I identity: the T^2 of the m baseline rows sum to (m - 1) p exactly.
    assert chart.statistic[:40].sum() == pytest.approx((m - 1) * p, rel=1e-10)


def test_t2_catches_a_shift_against_the_correlation_the_univariate_charts_miss():
    # +1 in x1 and -1 in x2 (correlation 0.8): each within its own 3 sigma, jointly far out.
    x = correlated(50, 2)
    x[45] = [11.6, 3.6, 1.0]
    _, (chart,) = spc.chart("t2", x, baseline=40)
    assert 45 in chart.out_of_control.tolist()
    for column in range(3):
        _, (individuals, _) = spc.chart("imr", x[:, column], baseline=40)
        assert 45 not in individuals.out_of_control.tolist()


def test_mewma_h_reproduces_published_values():
    # Rigdon (1995), Table 1 (as quoted by the R package spc, mewma.crit): p = 4, lambda = 0.25,
    # ARL0 = 500 -> h = 16.38. Prabhu and Runger (1997) / Montgomery Table 11.3: p = 2, lambda = 0.1,
    # ARL0 = 200 -> 8.64.
    assert spc.mewma_h(4, 0.25, 500) == pytest.approx(16.38, abs=0.01)
    assert spc.mewma_h(2, 0.1, 200) == pytest.approx(8.64, abs=0.01)
    # lambda = 1 is Hotelling's chi-square chart: h is the chi-square quantile with tail 1/ARL0.
    assert spc.mewma_h(3, 1.0, 200) == pytest.approx(stats.chi2.ppf(1 - 1 / 200, 3), rel=1e-6)


def test_mewma_in_control_run_length_by_simulation():
    # Independent of the integral equation: simulate 3000 in-control runs (asymptotic covariance,
    # as the ARL tables) with h for ARL0 = 200, p = 2, lambda = 0.1; the mean run length is ~200.
    p, lam = 2, 0.1
    h = spc.mewma_h(p, lam, 200)
    rng = np.random.default_rng(5)
    runs = 3000
    z = np.zeros((runs, p))
    length = np.zeros(runs, dtype=int)
    alive = np.ones(runs, dtype=bool)
    step = 0
    while alive.any() and step < 5000:
        step += 1
        z[alive] = lam * rng.normal(size=(alive.sum(), p)) + (1 - lam) * z[alive]
        t2 = (2 - lam) / lam * np.sum(z * z, axis=1)
        signal = alive & (t2 > h)
        length[signal] = step
        alive &= ~signal
    assert length[~alive].mean() == pytest.approx(200, rel=0.08)


def test_mewma_statistic_written_out():
    x = correlated(80, 3)
    lam = 0.2
    limits, (chart,) = spc.chart("mewma", x, baseline=50, lam=lam)
    base = x[:50]
    mean, cov = base.mean(axis=0), np.cov(base, rowvar=False)
    z = np.zeros(3)
    expected = []
    for i, row in enumerate(x, start=1):
        z = lam * (row - mean) + (1 - lam) * z
        cov_z = lam / (2 - lam) * (1 - (1 - lam) ** (2 * i)) * cov  # Lowry et al. (1992)
        expected.append(z @ np.linalg.solve(cov_z, z))
    np.testing.assert_allclose(chart.statistic, expected, rtol=1e-9)
    assert chart.ucl[0] == pytest.approx(spc.mewma_h(3, lam, 200))
    shifted = correlated(80, 3, shift=np.array([0.0, 0.0, 0.0]))
    shifted[50:] += [0.7, 0.7, 0.0]
    _, (moved,) = spc.chart("mewma", shifted, baseline=50, lam=lam)
    assert moved.out_of_control.size > 0 and moved.out_of_control.min() >= 50


def test_multivariate_input_errors():
    with pytest.raises(ValueError, match="one column per characteristic"):
        spc.chart("t2", np.arange(10.0))
    with pytest.raises(ValueError, match="covariance needs more than 4"):
        spc.chart("t2", correlated(4, 1))
