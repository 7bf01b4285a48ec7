"""The lab's further studies against published examples and independent computations:
type-1 gage (Cg, Cgk), attribute agreement (Cohen, Fleiss), nested gage R&R (Montgomery 14.1),
linear calibration curve (GUM H.3), Monte Carlo propagation (JCGM 101 9.2), calibration schedule."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from silicio.metrology import MetrologyError
from silicio.metrology.attribute import attribute_agreement, clopper_pearson, cohen_kappa, fleiss_kappa
from silicio.metrology.calibration import calibration_schedule, linear_calibration
from silicio.metrology.montecarlo import Normal, Rectangular, StudentT, Triangular, propagate
from silicio.metrology.nested import gage_rr_nested
from silicio.metrology.type1 import type1_gage

# --- type-1 gage study ---------------------------------------------------------------------


def test_type1_gage_against_the_definitions_computed_by_hand():
    values = [10.01, 9.99, 10.02, 9.98, 10.00, 10.03, 10.01, 9.99, 10.00, 10.02]
    study = type1_gage(values, reference=10.0, lsl=9.75, usl=10.25, resolution=0.01)
    n = len(values)
    mean = sum(values) / n
    s = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    assert study.stdev == pytest.approx(s, rel=1e-12)
    assert study.cg == pytest.approx(0.2 * 0.5 / (6 * s), rel=1e-12)
    assert study.cgk == pytest.approx((0.1 * 0.5 - abs(mean - 10.0)) / (3 * s), rel=1e-12)
    t = abs(mean - 10.0) / (s / math.sqrt(n))
    assert study.p_value == pytest.approx(stats.ttest_1samp(values, 10.0).pvalue, rel=1e-9)
    assert study.t == pytest.approx(t, rel=1e-12)
    assert study.percent_var_repeatability == pytest.approx(20 / study.cg)
    assert study.percent_resolution == pytest.approx(2.0)
    assert study.capable == (study.cg >= 1.33 and study.cgk >= 1.33)


def test_type1_gage_refuses_what_it_cannot_judge():
    with pytest.raises(MetrologyError, match="tolerance"):
        type1_gage([1.0, 1.1], reference=1.0)
    with pytest.raises(MetrologyError, match="do not vary"):
        type1_gage([1.0, 1.0, 1.0], reference=1.0, tolerance=1)


# --- attribute agreement -----------------------------------------------------------------


def test_cohen_kappa_published_example():
    # Two readers, 50 proposals: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no: p_o 0.7, p_e 0.5, kappa 0.4
    # (the worked example of Cohen's kappa in most textbooks and Wikipedia).
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4, abs=1e-12)


def test_fleiss_kappa_published_example():
    # Fleiss (1971)-style worked example, 10 subjects x 14 raters x 5 categories: P = 0.378, Pe = 0.213,
    # kappa = 0.210 (as published, to 3 decimals).
    counts = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
              [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]  # fmt: skip
    result = fleiss_kappa(counts)
    assert round(result.observed_agreement, 3) == 0.378
    assert round(result.chance_agreement, 3) == 0.213
    assert round(result.kappa, 3) == 0.210


def test_clopper_pearson_matches_the_beta_quantiles_and_edges():
    low, high = clopper_pearson(8, 10)
    assert low == pytest.approx(stats.binomtest(8, 10).proportion_ci(method="exact").low, rel=1e-9)
    assert high == pytest.approx(stats.binomtest(8, 10).proportion_ci(method="exact").high, rel=1e-9)
    assert clopper_pearson(10, 10)[1] == 1.0 and clopper_pearson(0, 10)[0] == 0.0


def test_attribute_agreement_counts_by_hand():
    # 4 parts, 2 appraisers x 2 trials, standard known; "bad" is a reject.
    standard = {"p1": "good", "p2": "good", "p3": "bad", "p4": "bad"}
    ratings = {
        ("p1", "A"): ["good", "good"], ("p2", "A"): ["good", "bad"], ("p3", "A"): ["bad", "bad"],
        ("p4", "A"): ["bad", "bad"], ("p1", "B"): ["good", "good"], ("p2", "B"): ["good", "good"],
        ("p3", "B"): ["good", "good"], ("p4", "B"): ["bad", "bad"],
    }  # fmt: skip
    rows = [(p, a, r, standard[p]) for (p, a), rs in ratings.items() for r in rs]
    table = pa.table(
        {k: [row[i] for row in rows] for i, k in enumerate(("part", "appraiser", "rating", "standard"))}
    )
    result = attribute_agreement(table, standard="standard", defective="bad")
    assert (result.within["A"].matched, result.within["A"].inspected) == (3, 4)
    assert (result.within["B"].matched, result.within["B"].inspected) == (4, 4)
    assert result.vs_standard["A"].matched == 3 and result.vs_standard["B"].matched == 3
    # between: parts where all four ratings agree: p1, p4.
    assert result.between.matched == 2
    # all vs standard: p1 and p4.
    assert result.all_vs_standard.matched == 2
    a, b = result.decisions["A"], result.decisions["B"]
    assert (a.decisions, a.correct, a.misses, a.false_alarms) == (8, 7, 0, 1)
    assert a.false_alarm_rate == pytest.approx(1 / 4) and a.miss_rate == 0
    assert (b.correct, b.misses, b.false_alarms) == (6, 2, 0) and b.miss_rate == pytest.approx(0.5)
    assert not a.acceptable and not b.acceptable
    # Kappa vs standard is Cohen's kappa of the appraiser's ratings against the standard, pooled.
    pairs_a = [(r, standard[p]) for (p, ap), rs in ratings.items() if ap == "A" for r in rs]
    assert result.vs_standard["A"].kappa == pytest.approx(cohen_kappa(*zip(*pairs_a, strict=True)))


def test_attribute_agreement_refuses_unbalanced_studies():
    table = pa.table({"part": ["p1", "p1", "p2"], "appraiser": ["A", "A", "A"], "rating": ["g", "g", "b"]})
    with pytest.raises(MetrologyError, match="unbalanced"):
        attribute_agreement(table)


# --- nested gage R&R ---------------------------------------------------------------------

# Montgomery, Design and Analysis of Experiments, Example 14.1 (two-stage nested design: 3 suppliers,
# 4 batches each, 3 purity determinations): SS 15.06 / 69.92 / 63.33, total 148.31; MS(batches) 7.77,
# MS(error) 2.64; variance components sigma^2(batches) = 1.71, sigma^2 = 2.64 (supplier's negative -> 0).
_MONTGOMERY_14_1 = [
    [[1, -1, 0], [-2, -3, -4], [-2, 0, 1], [1, 4, 0]],
    [[1, -2, -3], [0, 4, 2], [-1, 0, -2], [0, 3, 2]],
    [[2, 4, 0], [-2, 0, 2], [1, -1, 2], [3, 2, 1]],
]


def _nested_table(data):
    rows = [(f"S{i}", f"S{i}B{j}", v) for i, s in enumerate(data) for j, b in enumerate(s) for v in b]
    return pa.table(
        {"operator": [r[0] for r in rows], "part": [r[1] for r in rows], "value": [float(r[2]) for r in rows]}
    )


def test_nested_gage_rr_reproduces_montgomery_example_14_1():
    result = gage_rr_nested(_nested_table(_MONTGOMERY_14_1))
    ss = [round(row.ss, 2) for row in result.anova]
    assert ss == [15.06, 69.92, 63.33, 148.31]
    assert round(result.anova[1].ms, 2) == 7.77 and round(result.anova[2].ms, 2) == 2.64
    assert round(result.variances["part"], 2) == 1.71
    assert round(result.variances["repeatability"], 2) == 2.64
    assert result.variances["reproducibility"] == 0.0  # (MS_O - MS_P(O)) < 0
    assert sum(result.percent_contribution[k] for k in ("grr", "part")) == pytest.approx(100)


def test_nested_gage_rr_against_an_independent_variance_component_fit():
    rng = np.random.default_rng(7)
    data = (
        rng.normal(0, 2, (3, 1, 1)) + rng.normal(0, 1, (3, 5, 1)) + rng.normal(0, 0.5, (3, 5, 4))
    ).tolist()
    result = gage_rr_nested(_nested_table(data))
    y = np.asarray(data)
    # Expected mean squares solved directly (method of moments), written out independently.
    ms_e = ((y - y.mean(axis=2, keepdims=True)) ** 2).sum() / (3 * 5 * 3)
    ms_b = 4 * ((y.mean(axis=2) - y.mean(axis=(1, 2))[:, None]) ** 2).sum() / (3 * 4)
    ms_a = 20 * ((y.mean(axis=(1, 2)) - y.mean()) ** 2).sum() / 2
    assert result.variances["repeatability"] == pytest.approx(ms_e)
    assert result.variances["part"] == pytest.approx(max(0, (ms_b - ms_e) / 4))
    assert result.variances["reproducibility"] == pytest.approx(max(0, (ms_a - ms_b) / 20))


def test_nested_gage_rr_refuses_a_crossed_study():
    table = pa.table(
        {"operator": ["A", "A", "B", "B"], "part": ["p1", "p1", "p1", "p1"], "value": [1.0, 2, 3, 4]}
    )
    with pytest.raises(MetrologyError, match="belongs to one operator"):
        gage_rr_nested(table)


# --- calibration curve (GUM H.3) ---------------------------------------------------------

_GUM_H3_T = [21.521, 22.012, 22.512, 23.003, 23.507, 23.999, 24.513, 25.002, 25.503, 26.010, 26.511]
_GUM_H3_B = [-0.171, -0.169, -0.166, -0.159, -0.164, -0.165, -0.156, -0.157, -0.159, -0.161, -0.160]


def test_linear_calibration_reproduces_gum_h3():
    # JCGM 100:2008 H.3.3-H.3.4: y1 = -0.1712 C, y2 = 0.00218, s(y1) = 0.0029 C, s(y2) = 0.00067, r = -0.930,
    # s = 0.0035 C; at t = 30 C: b = -0.1494 C with u = 0.0041 C.
    curve = linear_calibration(_GUM_H3_T, _GUM_H3_B, x0=20.0)
    assert round(curve.intercept, 4) == -0.1712
    assert round(curve.slope, 5) == 0.00218
    assert round(curve.u_intercept, 4) == 0.0029
    assert round(curve.u_slope, 5) == 0.00067
    assert round(curve.correlation, 3) == -0.930
    assert round(curve.residual_sd, 4) == 0.0035
    value, u = curve.predict(30.0)
    assert round(float(value), 4) == -0.1494 and round(float(u), 4) == 0.0041
    # Independent: numpy's polynomial fit with its covariance matrix.
    coefficients, covariance = np.polyfit(np.array(_GUM_H3_T) - 20, _GUM_H3_B, 1, cov="unscaled")
    residual = np.array(_GUM_H3_B) - np.polyval(coefficients, np.array(_GUM_H3_T) - 20)
    covariance = covariance * (residual @ residual) / (len(_GUM_H3_T) - 2)
    assert curve.slope == pytest.approx(coefficients[0], rel=1e-10)
    assert curve.u_slope == pytest.approx(math.sqrt(covariance[0, 0]), rel=1e-10)
    assert curve.u_intercept == pytest.approx(math.sqrt(covariance[1, 1]), rel=1e-10)


def test_calibration_curve_inverse_round_trips_and_propagates():
    # A sensor curve with a well-determined slope (first-order propagation holds there; GUM H.3's own
    # slope is only 3 standard uncertainties from 0, where inverting it is not linear at all).
    rng = np.random.default_rng(3)
    x_points = np.linspace(0, 100, 12)
    curve = linear_calibration(x_points, 2 + 0.5 * x_points + rng.normal(0, 0.05, 12), x0=50.0)
    value, _ = curve.predict(24.0)
    x, u = curve.inverse(float(value), u_y=0.02)
    assert x == pytest.approx(24.0, abs=1e-9)
    # Numerical propagation through x = x0 + (y - y1)/y2 with the parameters' covariance.
    cov = np.array([[curve.u_intercept**2, curve.correlation * curve.u_intercept * curve.u_slope],
                    [curve.correlation * curve.u_intercept * curve.u_slope, curve.u_slope**2]])  # fmt: skip
    draws = rng.multivariate_normal([curve.intercept, curve.slope], cov, 400_000)
    y = float(value) + rng.normal(0, 0.02, 400_000)
    xs = 50 + (y - draws[:, 0]) / draws[:, 1]
    assert u == pytest.approx(np.std(xs), rel=0.05)


# --- Monte Carlo (JCGM 101) ---------------------------------------------------------------


def test_monte_carlo_additive_model_normal_inputs_jcgm101_9_2_2():
    # JCGM 101:2008 9.2.2: Y = X1+X2+X3+X4, Xi ~ N(0, 1): y = 0.00, u(y) = 2.00, 95 % interval [-3.92, 3.92].
    inputs = {f"x{i}": Normal(0, 1) for i in range(4)}
    result = propagate(lambda x0, x1, x2, x3: x0 + x1 + x2 + x3, inputs, seed=11)
    assert round(result.standard_uncertainty, 2) == 2.00
    assert abs(result.estimate) < 0.01
    assert [round(v, 2) for v in result.interval] == pytest.approx([-3.92, 3.92], abs=0.02)


def _irwin_hall_quantile(p: float, n: int) -> float:
    """Quantile of the sum of n U(0, 1) by bisection on its closed-form CDF."""

    def cdf(x: float) -> float:
        return sum(
            (-1) ** k * math.comb(n, k) * (x - k) ** n for k in range(int(math.floor(x)) + 1)
        ) / math.factorial(n)

    low, high = 0.0, float(n)
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (mid, high) if cdf(mid) < p else (low, mid)
    return (low + high) / 2


def test_monte_carlo_additive_model_rectangular_inputs_jcgm101_9_2_3():
    # JCGM 101:2008 9.2.3: four rectangular inputs with u = 1: MCM u(y) = 2.00, interval [-3.88, 3.88]
    # (the GUM framework's [-3.92, 3.92] is too wide). Independent: the Irwin-Hall distribution.
    half = math.sqrt(3)
    inputs = {f"x{i}": Rectangular(-half, half) for i in range(4)}
    result = propagate(lambda x0, x1, x2, x3: x0 + x1 + x2 + x3, inputs, seed=5)
    assert round(result.standard_uncertainty, 2) == 2.00
    assert [round(v, 2) for v in result.interval] == pytest.approx([-3.88, 3.88], abs=0.02)
    exact = 2 * half * (_irwin_hall_quantile(0.975, 4) - 2)
    assert round(exact, 2) == 3.88
    assert result.interval[1] == pytest.approx(exact, abs=0.02)
    assert (
        result.shortest_interval[1] - result.shortest_interval[0] <= result.interval[1] - result.interval[0]
    )


def test_monte_carlo_adaptive_stops_and_agrees():
    inputs = {"a": Triangular(-1, 1), "b": StudentT(0, 0.5, 5)}
    result = propagate(lambda a, b: a + b, inputs, seed=2, adaptive=True, significant_digits=1)
    expected = math.sqrt(1 / 6 + 0.25 * 5 / 3)  # var(triangular on [-1,1]) = 1/6; var(t5) = 5/3
    assert result.trials >= 20_000
    assert result.standard_uncertainty == pytest.approx(expected, rel=0.05)


def test_monte_carlo_reports_a_failing_model():
    with pytest.raises(MetrologyError, match="non-finite"):
        propagate(lambda a: np.log(a - a), {"a": Normal(0, 1)}, trials=1000, seed=1)


# --- calibration schedule ----------------------------------------------------------------


def test_calibration_schedule_statuses():
    calibrations = pa.table({
        "certificate_id": ["C1", "C2", "C3", "C4"],
        "instrument_id": ["DMM-1", "DMM-1", "SCOPE-2", "PROBE-3"],
        "calibrated_on": [dt.date(2025, 1, 10), dt.date(2026, 1, 10), dt.date(2025, 6, 1), dt.date(2026, 11, 20)],
        "due_on": [dt.date(2026, 1, 10), dt.date(2027, 1, 10), dt.date(2026, 6, 1), dt.date(2027, 11, 20)],
    })  # fmt: skip
    instruments = pa.table({"instrument_id": ["DMM-1", "SCOPE-2", "PROBE-3", "CALIPER-4"]})
    schedule = calibration_schedule(instruments, calibrations, on=dt.date(2026, 12, 20), within_days=30)
    rows = {r["instrument_id"]: r for r in schedule.to_pylist()}
    assert rows["CALIPER-4"]["status"] == "never calibrated"
    assert rows["SCOPE-2"]["status"] == "overdue" and rows["SCOPE-2"]["days_left"] == -202
    assert rows["DMM-1"]["status"] == "due soon" and rows["DMM-1"]["certificate_id"] == "C2"
    assert rows["DMM-1"]["days_left"] == 21
    assert rows["PROBE-3"]["status"] == "current"
    assert schedule.column("instrument_id").to_pylist()[:2] == ["CALIPER-4", "SCOPE-2"]
    # On a day before PROBE-3's certificate was issued, it counts as never calibrated.
    earlier = calibration_schedule(instruments, calibrations, on=dt.date(2026, 11, 1))
    assert {r["instrument_id"]: r["status"] for r in earlier.to_pylist()}["PROBE-3"] == "never calibrated"
