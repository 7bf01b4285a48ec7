"""``silicio.spc.chart``: every chart kind through one entry point, limits from the baseline
(checked against the textbook formulas), and clear errors for unknown kinds and parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from silicio import spc

D2_2, D2_4 = 1.128, 2.059  # Montgomery appendix table VI
C4_4 = 0.9213


def test_kinds_are_the_sixteen_charts():
    assert spc.CHART_KINDS == ("imr", "xbar_r", "xbar_s", "p", "np", "c", "u", "ewma", "cusum", "laney_p",
                               "laney_u", "imr_r", "imr_s", "zmr", "t2", "mewma")  # fmt: skip


def test_imr_limits_come_from_the_baseline_only():
    x = np.array([10.0, 12.0, 11.0, 13.0, 12.0, 30.0])
    limits, (individuals, moving_range) = spc.chart("imr", x, baseline=5)
    mean, sigma = 58 / 5, (2 + 1 + 2 + 1) / 4 / D2_2
    assert individuals.center[0] == pytest.approx(mean)
    assert individuals.ucl[0] == pytest.approx(mean + 3 * sigma, rel=1e-3)
    assert individuals.out_of_control.tolist() == [5]  # the sixth point, outside the baseline
    assert moving_range.statistic.size == 6 and limits.sigma == pytest.approx(sigma, rel=1e-3)
    _, (known, _) = spc.chart("imr", x, target=11.0, sigma=1.0, k=2.0)
    assert (known.center[0], known.lcl[0], known.ucl[0]) == (11.0, 9.0, 13.0)


def test_xbar_baseline_counts_subgroups_in_order_of_appearance():
    rng = np.random.default_rng(3)
    values = rng.normal(5, 1, 24)
    labels = np.repeat(["w3", "w1", "w2", "w9", "w4", "w5"], 4)  # not in sorted order
    _, (xbar, ranges) = spc.chart("xbar_r", values, subgroup=labels, baseline=3)
    first = values[:12].reshape(3, 4)
    r_bar = float(np.mean(first.max(axis=1) - first.min(axis=1)))
    assert xbar.center[0] == pytest.approx(first.mean())
    assert xbar.ucl[0] == pytest.approx(first.mean() + 3 * r_bar / D2_4 / 2, rel=1e-3)
    assert ranges.center[0] == pytest.approx(r_bar, rel=1e-3)
    assert xbar.statistic.size == 6
    # The same subgroups given by size, and by the CLI's spelling of the kind.
    _, (by_size, _) = spc.chart("xbar-r", values, size=4, baseline=3)
    np.testing.assert_allclose(by_size.ucl, xbar.ucl)
    _, (_, s_chart) = spc.chart("xbar_s", values.reshape(6, 4), baseline=3)
    s_bar = float(np.mean(first.std(axis=1, ddof=1)))
    assert s_chart.center[0] == pytest.approx(s_bar, rel=1e-3)
    assert s_chart.ucl[0] == pytest.approx(s_bar + 3 * s_bar / C4_4 * math.sqrt(1 - C4_4**2), rel=1e-3)


def test_attribute_charts():
    d = np.array([3, 5, 2, 4, 6, 20])
    (p_chart,) = spc.chart("p", d, sizes=50, baseline=5).charts
    p_bar = 20 / 250
    assert p_chart.ucl[0] == pytest.approx(p_bar + 3 * math.sqrt(p_bar * (1 - p_bar) / 50))
    assert p_chart.out_of_control.tolist() == [5]
    (np_chart,) = spc.chart("np", d, size=50, baseline=5).charts
    assert np_chart.center[0] == pytest.approx(50 * p_bar)
    (c_chart,) = spc.chart("c", d, baseline=5).charts
    assert (c_chart.center[0], c_chart.ucl[0]) == pytest.approx((4.0, 4.0 + 3 * 2.0))
    units = np.array([1.0, 2.0, 1.0, 1.0, 2.0, 1.0])
    (u_chart,) = spc.chart("u", d, units=units, baseline=5).charts
    u_bar = 20 / 7
    np.testing.assert_allclose(u_chart.ucl, u_bar + 3 * np.sqrt(u_bar / units))


def test_time_weighted_charts():
    (ewma,) = spc.chart("ewma", np.full(5, 11.0), target=10.0, sigma=1.0, lam=0.5, exact=False).charts
    # z_t = 0.5 x_t + 0.5 z_(t-1) from z_0 = 10: 10.5, 10.75, ...; limits 10 +- 3 sqrt(0.5 / 1.5)
    np.testing.assert_allclose(ewma.statistic, 11 - 0.5 ** np.arange(1, 6))
    assert ewma.ucl[0] == pytest.approx(10 + 3 * math.sqrt(1 / 3))
    upper, lower = spc.chart("cusum", np.full(8, 11.5), target=10.0, sigma=1.0, k=0.5, h=5.0).charts
    np.testing.assert_array_equal(upper.statistic, np.arange(1, 9))
    assert upper.out_of_control[0] == 5 and not lower.statistic.any()


def test_unknown_kind_lists_the_kinds():
    with pytest.raises(
        ValueError, match=r"unknown chart kind 'xbar'; the kinds are imr, xbar_r, .*, cusum, .*, mewma$"
    ):
        spc.chart("xbar", [1.0, 2.0])


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("imr", {"lam": 0.2}, "the imr chart takes baseline, k, target, sigma; not lam"),
        ("p", {}, "needs the sample sizes"),
        ("np", {"sizes": 5}, "takes baseline, size, k; not sizes"),
        ("u", {}, "needs the inspection units"),
        ("xbar_r", {}, "needs subgroup labels"),
        ("imr", {"baseline": 1}, "at least 2 points, got 1"),
        ("imr", {"baseline": 9}, "baseline 9 is more than the 4 points"),
        ("xbar_s", {"size": 2, "baseline": 3}, "baseline 3 is more than the 2 subgroups"),
    ],
)
def test_parameters_are_checked(kind, params, message):
    with pytest.raises(ValueError, match=message):
        spc.chart(kind, [1.0, 2.0, 4.0, 3.0], **params)
