"""Control charts against the NIST e-Handbook worked examples and the textbook formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from silicio import spc


def test_nist_c_chart_wafer_defects(quality):
    # NIST e-Handbook 6.3.3.1: 25 wafers, cbar = 16, UCL = 28, LCL = 4, wafer 24 (31 defects) above UCL.
    defects = quality("nist_pmc331_wafer_defects_cchart.csv").column("defects").to_numpy()
    limits = spc.c_limits(defects)
    chart = spc.apply(limits, defects)
    assert limits.c_bar == 16
    assert chart.ucl[0] == 28 and chart.lcl[0] == 4
    assert list(chart.out_of_control + 1) == [24]
    assert defects[23] == 31


def test_nist_p_chart_wafer_fraction_defective(quality):
    # NIST 6.3.3.2: 30 wafers x 50 chips: pbar = 0.2313, UCL = 0.4102, LCL = 0.0524; wafers 15 and 23 above UCL.
    fraction = (
        quality("nist_pmc332_wafer_fraction_defective_pchart.csv").column("fraction_defective").to_numpy()
    )
    defectives = np.round(fraction * 50)
    limits = spc.p_limits(defectives, 50)
    chart = spc.apply(limits, defectives, 50)
    assert round(limits.p_bar, 4) == 0.2313
    assert round(chart.ucl[0], 4) == 0.4102
    assert round(chart.lcl[0], 4) == 0.0524
    assert list(chart.out_of_control + 1) == [15, 23]
    assert list(chart.statistic[[14, 22]]) == [0.44, 0.48]


def test_nist_ewma_example(quality):
    # NIST 6.3.2.4: lambda = 0.3, target 50, s = 2.0539, k = 3: UCL 52.5884, LCL 47.4115 (47.41157), in control.
    data = quality("nist_pmc324_ewma_example.csv").to_pydict()
    limits = spc.ewma_limits(lam=0.3, target=50, sigma=2.0539, exact=False)
    chart = spc.apply(limits, data["x"])
    assert round(chart.ucl[0], 4) == 52.5884
    assert round(chart.lcl[0], 5) == 47.41157
    assert math.floor(chart.lcl[0] * 1e4) / 1e4 == 47.4115  # as printed (truncated) by the handbook
    np.testing.assert_array_equal(np.round(chart.statistic, 2), data["ewma_published_2dp"])
    assert chart.out_of_control.size == 0


def test_ewma_exact_limits_widen_to_the_asymptotic_ones():
    # Montgomery eq. 9.25: at t = 1 the half-width is k sigma lambda.
    exact = spc.apply(spc.EwmaLimits(target=0, sigma=1, lam=0.3), np.zeros(200))
    assert exact.ucl[0] == pytest.approx(3 * 0.3)
    assert exact.ucl[-1] == pytest.approx(3 * math.sqrt(0.3 / 1.7))
    assert np.all(np.diff(exact.ucl) >= 0)


def test_imr_limits_from_moving_range():
    x = np.array([10.0, 12.0, 11.0, 14.0, 13.0])
    limits = spc.imr_limits(x)
    mr_bar = (2 + 1 + 3 + 1) / 4
    individuals, mr = spc.apply(limits, x)
    # ASTM E2587: mean +- E2 MR-bar with E2 = 3/d2(2) = 3 sqrt(pi)/2; MR chart UCL = 3.267 MR-bar (table precision).
    assert individuals.ucl[0] == pytest.approx(12 + 1.5 * math.sqrt(math.pi) * mr_bar, rel=1e-13)
    assert mr.ucl[0] == pytest.approx(3.267 * mr_bar, abs=1e-3 * mr_bar)
    assert mr.lcl[0] == 0 and np.isnan(mr.statistic[0])


def test_phase_two_uses_phase_one_limits():
    rng = np.random.default_rng(3)
    baseline = rng.normal(5, 1, 100)
    limits = spc.imr_limits(baseline)
    new = np.r_[rng.normal(5, 1, 20), 5 + 10 * limits.sigma]
    individuals, _ = spc.apply(limits, new)
    assert individuals.center[0] == pytest.approx(baseline.mean())
    assert individuals.out_of_control[-1] == 20


def test_xbar_r_and_xbar_s_match_table_factors(quality):
    table = quality("spc_control_chart_constants_n2_25.csv").to_pydict()
    row = table["n"].index(5)
    rng = np.random.default_rng(0)
    x = rng.normal(10, 2, (30, 5))
    grand, r_bar, s_bar = x.mean(), np.ptp(x, axis=1).mean(), x.std(axis=1, ddof=1).mean()
    xbar, r = spc.apply(spc.xbar_r_limits(x), x)
    tol = 1e-6 * r_bar
    assert xbar.ucl[0] == pytest.approx(grand + table["A2"][row] * r_bar, abs=tol)
    assert xbar.lcl[0] == pytest.approx(grand - table["A2"][row] * r_bar, abs=tol)
    assert r.ucl[0] == pytest.approx(table["D4"][row] * r_bar, abs=tol) and r.lcl[0] == 0
    xbar, s = spc.apply(spc.xbar_s_limits(x), x)
    assert xbar.ucl[0] == pytest.approx(grand + table["A3"][row] * s_bar, abs=1e-6 * s_bar)
    assert s.ucl[0] == pytest.approx(table["B4"][row] * s_bar, abs=1e-6 * s_bar)
    np.testing.assert_allclose(s.statistic, x.std(axis=1, ddof=1), rtol=1e-14)


def test_subgroups_by_label_and_size_agree():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10, 4))
    labels = np.repeat([f"lot{i:02d}" for i in range(10)], 4)
    by_label = spc.xbar_s_limits(x.ravel(), subgroup=labels)
    by_size = spc.xbar_s_limits(x.ravel(), size=4)
    assert by_label.sigma == pytest.approx(by_size.sigma, rel=1e-14)
    with pytest.raises(ValueError, match="subgroups of size 3"):
        spc.xbar_r_limits(x.ravel(), size=3)


def test_np_and_u_charts():
    d = np.array([3, 5, 2, 4, 6])
    chart = spc.apply(spc.np_limits(d, 50), d)
    p = d.sum() / 250
    assert chart.center[0] == pytest.approx(50 * p)
    assert chart.ucl[0] == pytest.approx(50 * p + 3 * math.sqrt(50 * p * (1 - p)))
    c, units = np.array([4, 8, 3, 6]), np.array([1.0, 2.0, 1.0, 1.5])
    chart = spc.apply(spc.u_limits(c, units), c, units)
    u = 21 / 5.5
    np.testing.assert_allclose(chart.ucl, u + 3 * np.sqrt(u / units))
    np.testing.assert_allclose(chart.lcl, np.maximum(u - 3 * np.sqrt(u / units), 0))


def test_tabular_cusum_signals_after_h():
    # Montgomery 9.1.2 with mu0 = 10, sigma = 1, k = 0.5, h = 5: a constant 1.5-sigma shift adds 1 per point,
    # so C+ = 1, 2, ...; it first exceeds H = 5 at the 6th point.
    upper, lower = spc.apply(spc.cusum_limits(target=10, sigma=1), np.full(8, 11.5))
    np.testing.assert_array_equal(upper.statistic, np.arange(1, 9))
    assert upper.out_of_control[0] == 5
    assert np.all(lower.statistic == 0)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="index 2 is nan"):
        spc.imr_limits([1.0, 2.0, float("nan")])
    with pytest.raises(ValueError, match="defectives at index 1 are 60, more than the sample size 50"):
        spc.p_limits([1, 60], 50)
