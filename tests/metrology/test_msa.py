"""Gage R&R, bias and linearity against the AIAG MSA manual's worked examples.

The 10 parts x 3 appraisers x 3 trials study is the AIAG MSA 4th ed. example (Minitab's
GAGEAIAG.MTW); its published numbers are those listed in shared/data/quality/MANIFEST.tsv.
"""

from __future__ import annotations

import csv
import math
import random

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from scipy import stats

from silicio.metrology import MetrologyError
from silicio.metrology.msa import (
    bias,
    d2,
    d2_star,
    d3,
    gage_rr_anova,
    gage_rr_average_range,
    gage_study_array,
    k_factors,
    linearity,
)


@pytest.fixture(scope="module")
def aiag(quality_file) -> pa.Table:
    return pa_csv.read_csv(quality_file("aiag_msa4_grr_10x3x3.csv"))


# --------------------------------------------------------------------------------------------
# constants


def test_k_factors_reproduce_the_aiag_tables():
    # AIAG MSA 4th ed. ch. III sect. B, the K1, K2, K3 tables of the GRR report form.
    k1 = {2: 0.8862, 3: 0.5908}
    k2 = {2: 0.7071, 3: 0.5231}
    k3 = {2: 0.7071, 3: 0.5231, 4: 0.4467, 5: 0.4030, 6: 0.3742, 7: 0.3534, 8: 0.3375, 9: 0.3249, 10: 0.3146}
    for trials, expected in k1.items():
        assert k_factors(trials, 2, 2)[0] == expected
    for appraisers, expected in k2.items():
        assert k_factors(2, appraisers, 2)[1] == expected
    for parts, expected in k3.items():
        assert k_factors(2, 2, parts)[2] == expected
    assert k_factors(3, 3, 10, "unrounded")[2] == pytest.approx(1 / 3.179045, abs=1e-6)


def test_d2_d3_match_the_control_chart_tables(quality_file):
    # Independently derived constants (shared/data/quality, matching Montgomery App. VI to table precision).
    with quality_file("spc_control_chart_constants_n2_25.csv").open() as f:
        for row in csv.DictReader(f):
            n = int(row["n"])
            assert d2(n) == pytest.approx(float(row["d2"]), abs=6e-7), n
            assert d3(n) == pytest.approx(float(row["d3"]), abs=6e-7), n


def test_d2_star_closed_forms():
    # For m = 2 the range is |X1 - X2| ~ |N(0, 2)|: d2 = 2/sqrt(pi) and E[R^2] = 2, so d2*(2, 1) = sqrt(2).
    assert d2(2) == pytest.approx(2 / math.sqrt(math.pi), abs=1e-12)
    assert d2_star(2, 1) == pytest.approx(math.sqrt(2), abs=1e-10)
    assert d2_star(5, math.inf) == d2(5)
    # Duncan's table (AIAG Appendix C) for g = 1: 1.91155 (m = 3), 2.48124 (m = 5).
    assert d2_star(3, 1) == pytest.approx(1.91155, abs=1e-5)
    assert d2_star(5, 1) == pytest.approx(2.48124, abs=1e-5)
    with pytest.raises(MetrologyError, match="at least 2"):
        d2(1)


# --------------------------------------------------------------------------------------------
# average and range


def test_average_and_range_reproduces_aiag(aiag):
    r = gage_rr_average_range(aiag)
    st = r.statistics
    assert (r.n_parts, r.n_appraisers, r.n_trials) == (10, 3, 3)
    assert round(st["rbar"], 4) == 0.3417
    assert round(st["xdiff"], 4) == 0.4447
    assert round(st["rp"], 3) == 3.511
    assert (st["k1"], st["k2"], st["k3"]) == (0.5908, 0.5231, 0.3146)
    # From unrounded statistics (MANIFEST: "code gives 0.20186/0.22967/0.30577/1.10460/1.14613").
    assert round(r.ev, 5) == 0.20186
    assert round(r.av, 5) == 0.22967
    assert round(r.grr, 5) == 0.30577
    assert round(r.pv, 5) == 1.10460
    assert round(r.tv, 5) == 1.14613
    sv = r.percent_study_variation
    assert round(sv["AV"], 2) == 20.04
    assert round(sv["GRR"], 2) == 26.68
    assert round(sv["PV"], 2) == 96.38
    assert r.ndc_truncated == 5
    # AIAG prints %EV = 17.62; neither the unrounded values (17.612) nor its own printed EV and
    # TV (100 * 0.20188 / 1.14610 = 17.614) give it: the one published number not reproduced.
    assert round(sv["EV"], 2) == 17.61
    assert round(100 * 0.20188 / 1.14610, 2) == 17.61


def test_aiag_printed_values_come_from_rounded_intermediates(aiag):
    """The manual works on its data sheet with statistics rounded to 4 decimals; that, not a
    different formula, is why it prints EV 0.20188 (not 0.20186), AV 0.22963, PV 1.10456."""
    x, _, appraisers = gage_study_array(aiag)
    k1, k2, k3 = 0.5908, 0.5231, 0.3146
    rbar = round(float(np.ptp(x, axis=2).mean()), 4)  # 0.3417
    ev = rbar * k1
    assert round(ev, 5) == 0.20188
    # Xdiff from the appraiser averages as rounded on the sheet: 0.1903 - (-0.2543) = 0.4446.
    averages = [round(float(v), 4) for v in x.mean(axis=(0, 2))]
    assert averages[0] == 0.1903 and averages[2] == -0.2543
    xdiff = max(averages) - min(averages)
    av = math.sqrt((xdiff * k2) ** 2 - round(ev, 5) ** 2 / (10 * 3))
    assert round(av, 5) == 0.22963
    grr = math.hypot(0.20188, 0.22963)
    assert round(grr, 5) == 0.30575
    pv = 3.511 * k3
    assert round(pv, 5) == 1.10456
    tv = math.hypot(0.30575, 1.10456)
    assert round(tv, 5) == 1.14610
    assert round(100 * 0.22963 / 1.14610, 2) == 20.04
    assert round(100 * 0.30575 / 1.14610, 2) == 26.68
    assert round(100 * 1.10456 / 1.14610, 2) == 96.38
    assert int(1.41 * 1.10456 / 0.30575) == 5


def test_average_and_range_tolerance_and_explicit_k(aiag):
    r = gage_rr_average_range(aiag, tolerance=5.0, k_factors=(0.5, 0.5, 0.5))
    x, _, _ = gage_study_array(aiag)
    ev = np.ptp(x, axis=2).mean() * 0.5
    assert r.ev == pytest.approx(ev)
    assert r.percent_tolerance["GRR"] == pytest.approx(100 * 6 * r.grr / 5.0)
    u = gage_rr_average_range(aiag, k_factors="unrounded")
    assert u.statistics["k3"] == pytest.approx(1 / d2_star(10, 1))


def test_average_and_range_av_is_zero_when_negative():
    # Appraisers agree exactly: (Xdiff K2)^2 - EV^2/(n r) < 0, so AV defaults to 0 (AIAG).
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 1, 3)) + np.zeros((5, 2, 3))
    x[:, 1, :] = x[:, 0, ::-1]  # same readings in another order: equal appraiser averages
    assert gage_rr_average_range(x).av == 0.0


# --------------------------------------------------------------------------------------------
# ANOVA


def test_anova_table_reproduces_aiag(aiag):
    r = gage_rr_anova(aiag)
    part, appraiser, interaction, error, total = r.anova
    assert [round(row.ss, 4) for row in r.anova] == [88.3619, 3.1673, 0.3590, 2.7589, 94.6471]
    assert [row.df for row in r.anova] == [9, 2, 18, 60, 89]
    assert round(part.ms, 5) == 9.81799
    assert round(appraiser.ms, 5) == 1.58363
    assert round(interaction.ms, 5) == 0.01994
    assert round(error.ms, 5) == 0.04598
    assert round(part.f, 2) == 492.29  # against MS(interaction)
    assert round(appraiser.f, 2) == 79.41
    assert round(interaction.f, 3) == 0.434
    assert round(interaction.p, 3) == 0.974
    # p and F agree with scipy's F distribution directly.
    assert interaction.p == pytest.approx(stats.f.sf(interaction.ms / error.ms, 18, 60))


def test_anova_pooled_components_reproduce_aiag(aiag):
    r = gage_rr_anova(aiag, alpha_interaction=0.25)
    assert r.statistics["pooled"] is True  # p(int) = 0.974 > 0.25
    assert round(r.ev, 5) == 0.19993
    assert round(r.av, 5) == 0.22684
    assert r.interaction == 0.0
    assert round(r.grr, 5) == 0.30237
    assert round(r.pv, 5) == 1.04233
    assert round(r.tv, 5) == 1.08530
    assert round(r.percent_grr, 2) == 27.86
    assert round(r.percent_contribution["GRR"], 2) == 7.76
    assert round(r.ndc, 2) == 4.86 and r.ndc_truncated == 4
    pooled = {row.source: row for row in r.anova_pooled}
    assert pooled["Repeatability"].df == 78
    assert pooled["Repeatability"].ms == pytest.approx((0.35898222 + 2.75893333) / 78)


def test_anova_unpooled_components_from_the_published_mean_squares(aiag):
    r = gage_rr_anova(aiag, alpha_interaction=1.0)  # never pool
    assert r.statistics["pooled"] is False and not r.anova_pooled
    ms_p, ms_a, ms_i, ms_e = 9.81799, 1.58363, 0.01994, 0.04598  # published
    assert r.ev == pytest.approx(math.sqrt(ms_e), abs=2e-5)
    assert r.interaction == 0.0  # MS_int < MS_e: negative estimate set to 0
    assert r.av == pytest.approx(math.sqrt((ms_a - ms_i) / 30), abs=2e-5)
    assert r.pv == pytest.approx(math.sqrt((ms_p - ms_i) / 9), abs=2e-5)


def test_interaction_kept_when_significant():
    # An appraiser who reads part 1 high: a real interaction, p far below 0.25.
    rng = np.random.default_rng(7)
    parts = np.linspace(-2, 2, 6)
    x = parts[:, None, None] + rng.normal(0, 0.05, size=(6, 3, 3))
    x[0, 2, :] += 1.0
    r = gage_rr_anova(x)
    assert r.statistics["pooled"] is False
    ms_i, ms_e = r.anova[2].ms, r.anova[3].ms
    assert r.interaction == pytest.approx(math.sqrt((ms_i - ms_e) / 3))
    assert r.grr == pytest.approx(math.sqrt(r.ev**2 + r.av**2 + r.interaction**2))


def test_long_table_in_any_order_and_polars(aiag):
    rows = aiag.to_pylist()
    random.Random(3).shuffle(rows)  # order within a cell changes, not the cell's set of values
    shuffled = pa.Table.from_pylist(rows)
    a, b = gage_rr_anova(aiag), gage_rr_anova(shuffled)
    assert a.grr == pytest.approx(b.grr, rel=1e-12)
    c = gage_rr_average_range(pl.from_arrow(aiag), part="part", appraiser="appraiser", value="value")
    assert c.grr == pytest.approx(gage_rr_average_range(aiag).grr)
    renamed = aiag.rename_columns(["op", "pn", "trial", "y"])
    assert gage_rr_anova(renamed, part="pn", appraiser="op", value="y").grr == pytest.approx(a.grr)


def test_bad_studies_are_refused(aiag):
    with pytest.raises(MetrologyError, match="no column 'y'"):
        gage_rr_anova(aiag, value="y")
    unbalanced = aiag.slice(0, aiag.num_rows - 1)
    with pytest.raises(MetrologyError, match="not balanced"):
        gage_rr_anova(unbalanced)
    rows = [r for r in aiag.to_pylist() if not (r["appraiser"] == "C" and r["part"] == 10)]
    with pytest.raises(MetrologyError, match="never measured part 10"):
        gage_rr_anova(pa.Table.from_pylist(rows))
    text = pa.table({"part": [1, 1, 2, 2], "appraiser": ["A"] * 4, "value": ["1.0", "x", "2", "3"]})
    with pytest.raises(MetrologyError, match="not numeric"):
        gage_rr_anova(text)
    with pytest.raises(MetrologyError, match="at least 2 parts, 2 appraisers"):
        gage_rr_anova(np.zeros((5, 1, 3)))
    with pytest.raises(MetrologyError, match="tolerance"):
        gage_rr_anova(aiag, tolerance=-1)


# --------------------------------------------------------------------------------------------
# bias and linearity

# AIAG MSA 4th ed. ch. III sect. B bias example: 15 readings of a reference part of 6.00. The
# data and the published 95 % interval (-0.1107, 0.1241) are quoted in
# https://elsmar.com/elsmarqualityforum/threads/aiag-msa-4th-edition-bias-study.86367/
BIAS_READINGS = [5.8, 5.7, 5.9, 5.9, 6.0, 6.1, 6.0, 6.1, 6.4, 6.3, 6.0, 6.1, 6.2, 5.6, 6.0]


def test_bias_reproduces_aiag_example():
    b = bias(BIAS_READINGS, 6.00)
    assert round(b.bias, 4) == 0.0067
    assert (round(b.lower, 4), round(b.upper, 4)) == (-0.1107, 0.1241)
    assert b.acceptable
    # t and p as scipy's one-sample t test computes them.
    t = stats.ttest_1samp(BIAS_READINGS, 6.00)
    assert b.t == pytest.approx(t.statistic)
    assert b.p_value == pytest.approx(t.pvalue)
    assert b.dof == 14
    assert b.repeatability == pytest.approx(float(np.std(BIAS_READINGS, ddof=1)))


def test_bias_refuses_bad_input():
    with pytest.raises(MetrologyError, match="at least 2"):
        bias([1.0], 1.0)
    with pytest.raises(MetrologyError, match="NaN"):
        bias([1.0, float("nan")], 1.0)


# AIAG MSA linearity example (3rd and 4th ed.): 5 parts of reference 2, 4, ..., 10, each measured
# 12 times. The manual's bias averages 0.491667, 0.125, 0.025, -0.29167, -0.61667 and slope
# -0.131667 are quoted in the elsmar.com threads 6937 and 6950 ("Linearity analysis - AIAG's MSA
# manual 3rd edition"); the readings are Minitab's GAGELIN sample of the same example.
LINEARITY = {
    2.0: [2.7, 2.5, 2.4, 2.5, 2.7, 2.3, 2.5, 2.5, 2.4, 2.4, 2.6, 2.4],
    4.0: [5.1, 3.9, 4.2, 5.0, 3.8, 3.9, 3.9, 3.9, 3.9, 4.0, 4.1, 3.8],
    6.0: [5.8, 5.7, 5.9, 5.9, 6.0, 6.1, 6.0, 6.1, 6.4, 6.3, 6.0, 6.1],
    8.0: [7.6, 7.7, 7.8, 7.7, 7.8, 7.8, 7.8, 7.7, 7.8, 7.5, 7.6, 7.7],
    10.0: [9.1, 9.3, 9.5, 9.3, 9.4, 9.5, 9.5, 9.5, 9.6, 9.2, 9.3, 9.4],
}


def test_linearity_reproduces_aiag_example():
    ref = np.repeat(list(LINEARITY), 12)
    meas = np.concatenate(list(LINEARITY.values()))
    lin = linearity(ref, meas)
    assert np.round(lin.bias_averages, 5).tolist() == [0.49167, 0.125, 0.025, -0.29167, -0.61667]
    assert round(lin.slope, 6) == -0.131667
    assert round(lin.intercept, 6) == 0.736667
    # Regression statistics as scipy computes them, independently.
    fit = stats.linregress(ref, meas - ref)
    assert lin.slope == pytest.approx(fit.slope)
    assert lin.t_slope == pytest.approx(abs(fit.slope) / fit.stderr)
    assert lin.t_intercept == pytest.approx(abs(fit.intercept) / fit.intercept_stderr)
    assert lin.r_squared == pytest.approx(fit.rvalue**2)
    assert round(lin.s, 5) == 0.23954  # = sqrt(SSE / 58)
    # Confidence band by the matrix form of the prediction variance, x0' (X'X)^-1 x0 s^2.
    design = np.column_stack([np.ones_like(ref), ref])
    cov = np.linalg.inv(design.T @ design) * lin.s**2
    x0 = np.array([1.0, 3.0])
    half = stats.t.ppf(0.975, 58) * math.sqrt(x0 @ cov @ x0)
    lo, hi = lin.band(3.0)
    assert (float(lo), float(hi)) == pytest.approx(
        (fit.intercept + 3 * fit.slope - half, fit.intercept + 3 * fit.slope + half)
    )
    assert not lin.acceptable  # the bias = 0 line leaves the bands: the gage has a linearity problem
    assert round(lin.percent_linearity, 2) == 13.17


def test_linearity_refuses_bad_input():
    with pytest.raises(MetrologyError, match="one per measurement"):
        linearity([1, 2, 3, 4], [1, 2, 3])
    with pytest.raises(MetrologyError, match="2 different reference"):
        linearity([1, 1, 1], [1, 2, 3])
