"""Laney p' and u' charts (Laney 2002; Minitab's methods and formulas), limits recomputed here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from silicio import spc

# Laney's unbiasing constant 1.128 (Montgomery appendix table VI) to all digits: E|X1 - X2| = 2 sigma / sqrt(pi).
D2_2 = 2 / math.sqrt(math.pi)


def fifty_wafers(seed: int = 0):
    """The issue's case: 50 stable wafers of 5,000 dies, fail fraction 5 % with a 1.5 % (absolute)
    wafer-to-wafer spread: binomial counts around a normal wafer fraction."""
    rng = np.random.default_rng(seed)
    fraction = np.clip(rng.normal(0.05, 0.015, 50), 0, 1)
    return rng.binomial(5000, fraction), np.full(50, 5000)


def laney_p_written_out(d, n):
    p = d / n
    p_bar = d.sum() / n.sum()
    sigma_p = np.sqrt(p_bar * (1 - p_bar) / n)
    z = (p - p_bar) / sigma_p
    sigma_z = np.mean(np.abs(np.diff(z))) / D2_2
    return (
        p_bar,
        sigma_z,
        np.maximum(p_bar - 3 * sigma_p * sigma_z, 0),
        np.minimum(p_bar + 3 * sigma_p * sigma_z, 1),
    )


def test_fifty_wafers_p_flags_many_laney_flags_none():
    d, n = fifty_wafers()
    _, (p_chart,) = spc.chart("p", d, sizes=n)
    limits, (laney,) = spc.chart("laney_p", d, sizes=n)
    p_bar, sigma_z, lcl, ucl = laney_p_written_out(d, n)
    # Independent limits: the p chart's p-bar +- 3 sqrt(p-bar (1 - p-bar) / n), and Laney's widened by sigma_z.
    assert p_chart.ucl[0] == pytest.approx(p_bar + 3 * np.sqrt(p_bar * (1 - p_bar) / 5000))
    assert limits.sigma_z == pytest.approx(sigma_z, rel=1e-9)
    np.testing.assert_allclose(laney.ucl, ucl, rtol=1e-9)
    np.testing.assert_allclose(laney.lcl, lcl, rtol=1e-9)
    flagged_p = np.flatnonzero((d / n > p_chart.ucl) | (d / n < p_chart.lcl))
    assert p_chart.out_of_control.tolist() == flagged_p.tolist()
    assert flagged_p.size >= 5  # over-dispersion: the issue saw 17, this seed gives 22
    assert laney.out_of_control.size == 0
    assert sigma_z > 3  # wafer-to-wafer spread about 3.7 times the binomial one


def test_laney_on_binomial_data_is_close_to_the_p_chart():
    # Without over-dispersion sigma_z is about 1 (Laney 2002): NIST e-Handbook 6.3.3.2's wafers
    # (30 wafers x 50 chips, p-bar 0.2313) would give the p chart back; here a binomial sample.
    rng = np.random.default_rng(3)
    d = rng.binomial(200, 0.1, 400)
    limits = spc.laney_p_limits(d, 200)
    assert limits.sigma_z == pytest.approx(1.0, abs=0.08)


def test_nist_wafer_p_chart_widened_by_sigma_z(quality):
    table = quality("nist_pmc332_wafer_fraction_defective_pchart.csv")
    columns = table.column_names
    defectives = np.asarray(table.column(columns[1]).to_numpy(), dtype=float)
    if defectives.max() <= 1:  # the file holds fractions: 50 chips a wafer
        defectives = np.round(defectives * 50)
    _, (p_chart,) = spc.chart("p", defectives, sizes=50)
    assert p_chart.center[0] == pytest.approx(0.2313, abs=5e-4)  # NIST published p-bar
    assert p_chart.ucl[0] == pytest.approx(0.4102, abs=5e-4)
    limits, (laney,) = spc.chart("laney_p", defectives, sizes=50)
    _, sigma_z, lcl, ucl = laney_p_written_out(defectives, np.full(defectives.size, 50.0))
    assert limits.sigma_z == pytest.approx(sigma_z, rel=1e-9)
    assert laney.ucl[0] == pytest.approx(ucl[0], rel=1e-4) and laney.lcl[0] == pytest.approx(lcl[0], rel=1e-4)


def test_laney_u_prime_limits_written_out():
    rng = np.random.default_rng(4)
    units = rng.integers(80, 120, 40).astype(float)
    rate = rng.gamma(20, 2.0 / 20, 40)  # defects per unit around 2, varying from lot to lot
    counts = rng.poisson(rate * units)
    limits, (chart,) = spc.chart("laney_u", counts, units=units)
    u = counts / units
    u_bar = counts.sum() / units.sum()
    sigma_u = np.sqrt(u_bar / units)
    sigma_z = np.mean(np.abs(np.diff((u - u_bar) / sigma_u))) / D2_2
    assert limits.u_bar == pytest.approx(u_bar) and limits.sigma_z == pytest.approx(sigma_z, rel=1e-9)
    np.testing.assert_allclose(chart.ucl, u_bar + 3 * sigma_u * sigma_z, rtol=1e-9)
    np.testing.assert_allclose(chart.lcl, np.maximum(u_bar - 3 * sigma_u * sigma_z, 0), rtol=1e-9, atol=1e-12)


def test_laney_phase_two_uses_baseline_limits():
    d, n = fifty_wafers(1)
    limits, (chart,) = spc.chart("laney_p", d, sizes=n, baseline=30)
    assert limits.p_bar == pytest.approx(d[:30].sum() / n[:30].sum())
    assert limits.sigma_z == pytest.approx(laney_p_written_out(d[:30], n[:30])[1], rel=1e-9)
    assert chart.statistic.size == 50
