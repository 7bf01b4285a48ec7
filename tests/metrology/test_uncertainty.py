"""Uncertainty budgets against the GUM's worked example H.1 (end-gauge calibration).

JCGM 100:2008 Annex H.1: l = l_s + d - l_s (delta_alpha theta + alpha_s delta_theta), with
theta = theta_bar + Delta and d the sum of the mean comparator reading and two comparator
corrections. Inputs as given in shared/data/quality/gum_h1_end_gauge_inputs.csv.
"""

from __future__ import annotations

import csv
import math
import statistics

import numpy as np
import pytest
from scipy import stats

from silicio.metrology import MetrologyError
from silicio.metrology.io import read_budget
from silicio.metrology.uncertainty import (
    Input,
    coverage_factor,
    round_uncertainty,
    type_a,
    type_b,
    uncertainty_budget,
    welch_satterthwaite,
)

NAMES = ["l_s", "d1", "d2", "d3", "alpha_s", "delta_alpha", "theta_bar", "Delta", "delta_theta"]


def end_gauge_length(l_s, d1, d2, d3, alpha_s, delta_alpha, theta_bar, Delta, delta_theta):
    """GUM H.1, eq. (H.3) with theta = theta_bar + Delta and d = d1 + d2 + d3."""
    theta = theta_bar + Delta
    return l_s + (d1 + d2 + d3) - l_s * (delta_alpha * theta + alpha_s * delta_theta)


@pytest.fixture(scope="module")
def h1_inputs(quality_file) -> list[Input]:
    with quality_file("gum_h1_end_gauge_inputs.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(NAMES)
    return [
        Input(
            name,
            float(r["estimate"]),
            float(r["std_uncertainty"]),
            dof=float(r["dof"]),
            kind="A" if r["type"] == "A" else "B",
        )
        for name, r in zip(NAMES, rows, strict=True)
    ]


def test_h1_end_gauge(h1_inputs):
    b = uncertainty_budget(h1_inputs, end_gauge_length, coverage=0.99)
    assert b.estimate == 50_000_838  # nm (GUM H.1.6)
    # u_c = 32 nm as the GUM quotes it (7.2.6: two significant digits); 31.66 unrounded (GTC 1.5.1).
    assert round_uncertainty(b.combined_standard_uncertainty) == 32
    assert round(b.combined_standard_uncertainty, 2) == 31.66
    # nu_eff = 16.7 (GUM H.1.6), 16.75 unrounded (GTC), truncated to 16 for t (GUM G.4.1).
    assert round(b.dof_effective, 2) == 16.75
    assert b.dof_effective_truncated == 16 and b.dof_for_k == 16
    assert round(b.coverage_factor, 2) == 2.92  # t_99(16), GUM Table G.2
    # U99 = t99(16) u_c = 2.92 x 32 nm = 93 nm: the GUM multiplies the *quoted* u_c. From the
    # unrounded u_c the product is 92.5 nm; the difference is the GUM's rounding, not the method.
    assert round(b.coverage_factor * round_uncertainty(b.combined_standard_uncertainty)) == 93
    assert round(b.expanded_uncertainty, 1) == 92.5
    # The contributions u_i(l) of GUM Table H.1: 25, (5.8, 3.9, 6.7), 0, 2.9, 0, 0, 16.6 nm.
    u = dict(zip(NAMES, b.contributions, strict=True))
    assert round(u["l_s"]) == 25
    assert [round(u[n], 1) for n in ("d1", "d2", "d3")] == [5.8, 3.9, 6.7]
    assert round(u["delta_alpha"], 1) == 2.9
    assert round(u["delta_theta"], 1) == 16.6
    assert u["alpha_s"] == 0 and u["theta_bar"] == 0 and u["Delta"] == 0  # c = 0 at the estimates
    # Sensitivities from the model: c(delta_alpha) = -l_s theta, c(delta_theta) = -l_s alpha_s.
    c = dict(zip(NAMES, b.sensitivities, strict=True))
    assert c["delta_alpha"] == pytest.approx(50_000_623 * 0.1, rel=1e-6)
    assert c["delta_theta"] == pytest.approx(-50_000_623 * 1.15e-5, rel=1e-6)


def test_h1_sub_result_d(h1_inputs):
    d = uncertainty_budget(h1_inputs[1:4], lambda d1, d2, d3: d1 + d2 + d3)
    assert round_uncertainty(d.combined_standard_uncertainty) == 9.7  # u(d), GUM H.1.3.2
    # GUM: nu_eff(d) = 9.7^4 / (5.8^4/24 + 3.9^4/5 + 6.7^4/8) = 25.6, from the quoted u(d).
    # From the unrounded u(d) = 9.68 nm the same formula gives 25.4.
    assert round(welch_satterthwaite(9.7, d.contributions, [24, 5, 8]), 1) == 25.6
    assert round(d.dof_effective, 1) == 25.4


def test_h1_type_b_inputs_from_their_distributions(h1_inputs):
    # GUM H.1.3: how each type B standard uncertainty of the CSV follows from its information.
    u = {x.name: x.standard_uncertainty for x in h1_inputs}
    assert (
        type_b(
            "l_s", 50_000_623, distribution="normal", expanded_uncertainty=75, coverage_factor=3
        ).standard_uncertainty
        == u["l_s"]
    )
    assert type_b("alpha_s", 11.5e-6, 2e-6).standard_uncertainty == pytest.approx(u["alpha_s"], rel=1e-4)
    assert type_b("delta_alpha", 0, 1e-6).standard_uncertainty == pytest.approx(u["delta_alpha"], rel=1e-4)
    assert type_b("delta_theta", 0, 0.05).standard_uncertainty == pytest.approx(u["delta_theta"], rel=1e-4)
    assert type_b("Delta", 0, 0.5, distribution="arcsine").standard_uncertainty == pytest.approx(
        u["Delta"], rel=1e-4
    )
    assert type_b("t", 0, 6.0, distribution="triangular").standard_uncertainty == pytest.approx(
        6 / math.sqrt(6)
    )


def test_h1_from_a_toml_budget(tmp_path):
    # The same budget with the GUM's sensitivity coefficients written in the file, no model.
    l_s = 50_000_623
    path = tmp_path / "h1.toml"
    path.write_text(
        f"""
measurand = "l"
unit = "nm"
estimate = 50000838
coverage = 0.99
[[inputs]]
name = "l_s"
value = {l_s}
expanded_uncertainty = 75
coverage_factor = 3
dof = 18
sensitivity = 1
[[inputs]]
name = "d"
value = 215
standard_uncertainty = 9.681942
dof = 25.447
kind = "A"
sensitivity = 1
[[inputs]]
name = "delta_alpha"
value = 0
half_width = 1e-6
distribution = "rectangular"
dof = 50
sensitivity = {l_s * 0.1}
[[inputs]]
name = "delta_theta"
value = 0
half_width = 0.05
dof = 2
sensitivity = {-l_s * 1.15e-5}
""",
        encoding="utf-8",
    )
    spec = read_budget(path)
    b = uncertainty_budget(spec.inputs, coverage=spec.coverage, estimate=spec.estimate, unit=spec.unit)
    assert round(b.combined_standard_uncertainty, 2) == 31.66
    assert b.dof_for_k == 16
    assert spec.inputs[1].kind == "A" and spec.inputs[0].kind == "B"


def test_type_a_is_the_mean_and_its_standard_error():
    q = [10.02, 10.05, 9.98, 10.01, 10.04, 9.99]
    x = type_a("q", q)
    assert x.value == pytest.approx(statistics.fmean(q))
    assert x.standard_uncertainty == pytest.approx(statistics.stdev(q) / math.sqrt(6))
    assert x.dof == 5 and x.kind == "A"
    with pytest.raises(MetrologyError, match="at least 2 observations"):
        type_a("q", [1.0])


def test_correlation_fully_correlated_inputs_add_linearly():
    # GUM 5.2.2 note 1: with r = +1 and c = 1, u_c = u1 + u2; with r = -1, |u1 - u2|.
    a, b = Input("a", 1.0, 0.3, sensitivity=1.0), Input("b", 2.0, 0.4, sensitivity=1.0)
    assert uncertainty_budget(
        [a, b], correlation={("a", "b"): 1.0}
    ).combined_standard_uncertainty == pytest.approx(0.7)
    assert uncertainty_budget(
        [a, b], correlation=np.array([[1, -1], [-1, 1]])
    ).combined_standard_uncertainty == pytest.approx(0.1)
    assert uncertainty_budget([a, b]).combined_standard_uncertainty == pytest.approx(0.5)
    # A model with sensitivity -1 on b: r = +1 makes the uncertainties cancel.
    b2 = Input("b", 2.0, 0.4)
    diff = uncertainty_budget([Input("a", 1.0, 0.3), b2], lambda a, b: a - b, correlation={("a", "b"): 1.0})
    assert diff.combined_standard_uncertainty == pytest.approx(0.1)
    assert diff.estimate == pytest.approx(-1.0)


def test_coverage_factors_match_gum_table_g2():
    # JCGM 100:2008 Table G.2: nu = 16 -> 2.12 (95 %), 2.17 (95.45 %), 2.92 (99 %); nu = inf -> 1.96, 2.00, 2.576.
    assert round(coverage_factor(16, 0.95), 2) == 2.12
    assert round(coverage_factor(16, 0.9545), 2) == 2.17
    assert round(coverage_factor(16, 0.99), 2) == 2.92
    assert round(coverage_factor(math.inf, 0.95), 2) == 1.96
    assert round(coverage_factor(math.inf, 0.9545), 2) == 2.00
    assert round(coverage_factor(math.inf, 0.99), 3) == 2.576
    assert coverage_factor(7, 0.9) == pytest.approx(stats.t.ppf(0.95, 7))


def test_welch_satterthwaite_and_truncation():
    assert welch_satterthwaite(1.0, [1.0], [math.inf]) == math.inf
    # Two equal contributions of nu = 10 each: nu_eff = (2 u^2)^2 / (2 u^4 / 10) = 20.
    assert welch_satterthwaite(math.sqrt(2), [1.0, 1.0], [10, 10]) == pytest.approx(20)
    xs = [Input("a", 0, 1, dof=3.0, sensitivity=1), Input("b", 0, 1, dof=4.0, sensitivity=1)]
    b = uncertainty_budget(xs, truncate_dof=False)
    assert b.dof_effective == pytest.approx(4 / (1 / 3 + 1 / 4))
    assert b.dof_for_k == b.dof_effective
    assert uncertainty_budget(xs).dof_for_k == 6


def test_round_uncertainty():
    assert round_uncertainty(31.664) == 32
    assert round_uncertainty(0.0012345) == 0.0012
    assert round_uncertainty(9.68, 3) == 9.68


def test_budget_errors():
    with pytest.raises(MetrologyError, match="negative"):
        Input("a", 1.0, -0.1)
    with pytest.raises(MetrologyError, match="degrees of freedom"):
        Input("a", 1.0, 0.1, dof=0)
    with pytest.raises(MetrologyError, match="kind"):
        Input("a", 1.0, 0.1, kind="C")
    with pytest.raises(MetrologyError, match="no sensitivity coefficient for a"):
        uncertainty_budget([Input("a", 1.0, 0.1)])
    with pytest.raises(MetrologyError, match="unique"):
        uncertainty_budget([Input("a", 1.0, 0.1, sensitivity=1), Input("a", 1.0, 0.1, sensitivity=1)])
    two = [Input("a", 1.0, 0.1, sensitivity=1), Input("b", 1.0, 0.1, sensitivity=1)]
    with pytest.raises(MetrologyError, match="not an input"):
        uncertainty_budget(two, correlation={("a", "z"): 0.5})
    with pytest.raises(MetrologyError, match=r"\[-1, 1\]"):
        uncertainty_budget(two, correlation={("a", "b"): 1.5})
    three = two + [Input("c", 1.0, 0.1, sensitivity=1)]
    with pytest.raises(MetrologyError, match="positive semi-definite"):
        uncertainty_budget(three, correlation={("a", "b"): 0.9, ("a", "c"): 0.9, ("b", "c"): -0.9})
    with pytest.raises(MetrologyError, match="keywords"):
        uncertainty_budget([Input("a", 1.0, 0.1)], lambda x: x)
    with pytest.raises(MetrologyError, match="coverage"):
        uncertainty_budget(two, coverage=95)


def test_budget_file_errors(tmp_path):
    bad = tmp_path / "b.csv"
    bad.write_text("name,value,standard_uncertainty,sensitivity\na,1,0.1,1\nb,2,zero,1\n", encoding="utf-8")
    with pytest.raises(
        MetrologyError, match=r"b.csv: row 2 \(b\): standard_uncertainty = 'zero' is not a number"
    ):
        read_budget(bad)
    none = tmp_path / "n.csv"
    none.write_text("name,value,sensitivity\na,1,1\n", encoding="utf-8")
    with pytest.raises(MetrologyError, match="give standard_uncertainty, half_width"):
        read_budget(none)
    odd = tmp_path / "o.csv"
    odd.write_text("name,value,sigma\na,1,1\n", encoding="utf-8")
    with pytest.raises(MetrologyError, match="unknown column"):
        read_budget(odd)
    toml = tmp_path / "t.toml"
    toml.write_text("measurand = 'x'\n", encoding="utf-8")
    with pytest.raises(MetrologyError, match=r"no \[\[inputs\]\]"):
        read_budget(toml)
