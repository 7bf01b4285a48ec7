"""Capability of non-normal data: fits, Anderson-Darling p-values, Box-Cox, Johnson, percentiles and
PPM, each against a published value or an independent computation (scipy.stats, written out here)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from silicio import spc
from silicio.spc import nonnormal

USL_LEAKAGE = 5.0


def leakage_parameters() -> tuple[float, float]:
    """The issue's leakage case as a lognormal: 643 ppm above USL 5, and the normal Ppk silicio
    reported for it, 2.08 ((USL - mean) / (3 sd) with the lognormal's mean and sd). With
    z = Phi^-1(1 - 643e-6): ln 5 - mu = z sigma, and the normal Ppk is
    (exp(z sigma - sigma^2/2) - 1) / (3 sqrt(exp(sigma^2) - 1)); solved for sigma = 2.08."""
    z = stats.norm.isf(643e-6)

    def normal_ppk(sigma):
        return math.expm1(z * sigma - sigma * sigma / 2) / (3 * math.sqrt(math.expm1(sigma * sigma)))

    sigma = optimize.brentq(lambda s: normal_ppk(s) - 2.08, 0.05, 1.5)
    return math.log(USL_LEAKAGE) - z * sigma, sigma


def quantile_sample(dist, n: int) -> np.ndarray:
    """A sample with no randomness: the distribution's quantiles at (i - 0.5)/n."""
    return dist.ppf((np.arange(1, n + 1) - 0.5) / n)


def test_the_issue_leakage_case():
    mu, sigma = leakage_parameters()
    assert (round(mu, 3), round(sigma, 3)) == (0.066, 0.479)
    x = quantile_sample(stats.lognorm(s=sigma, scale=math.exp(mu)), 20000)
    normal = spc.distribution_capability(x, usl=USL_LEAKAGE, method="normal")
    assert normal.ppk == pytest.approx(2.08, abs=0.01)  # what silicio reported before
    cap = spc.distribution_capability(x, usl=USL_LEAKAGE, method="lognormal")
    # Expected PPM above 5 from the fitted lognormal: the 643 the case was built with.
    assert cap.expected_ppm_above == pytest.approx(643, rel=0.02)
    assert cap.expected_ppm_below == 0 and cap.expected_ppm_total == cap.expected_ppm_above
    # Z-score Ppk (Bothe; JMP's "Z-score method"): Phi^-1(1 - 643e-6) / 3 = 1.073.
    assert cap.ppk_z == pytest.approx(stats.norm.isf(643e-6) / 3, abs=0.005)
    assert round(cap.ppk_z, 2) == 1.07
    # ISO 22514-2 percentile Ppk: (USL - median) / (P99.865 - median) of the same lognormal,
    # exp(mu + 3 sigma) for P99.865: 1.145. (A percentile Ppk of 1.07 with 643 ppm would need
    # sigma -> 0, where the normal Ppk is also 1.07: the issue's 1.07 is the Z-score value.)
    iso = (USL_LEAKAGE - math.exp(mu)) / (math.exp(mu + 3 * sigma) - math.exp(mu))
    assert cap.ppk == pytest.approx(iso, rel=0.01) and round(iso, 2) == 1.15
    # Observed PPM: the values above 5, counted here.
    assert cap.observed_ppm_above == pytest.approx(np.sum(x > USL_LEAKAGE) / x.size * 1e6)
    auto = spc.distribution_capability(x, usl=USL_LEAKAGE)
    assert auto.method == "lognormal" and auto.selected_by == "anderson-darling"
    ranked = {f.distribution: f for f in auto.candidates}
    assert ranked["normal"].p_value < 1e-10 and ranked["lognormal"].p_value > 0.9


def test_lognormal_and_weibull_fits_agree_with_scipy():
    rng = np.random.default_rng(11)
    w = 3.0 * rng.weibull(1.7, 300)
    fit = nonnormal.fit(w, "weibull")
    shape, _, scale = stats.weibull_min.fit(w, floc=0)
    assert fit.parameters["shape"] == pytest.approx(shape, rel=1e-4)
    assert fit.parameters["scale"] == pytest.approx(scale, rel=1e-4)
    x = rng.lognormal(0.3, 0.6, 400)
    fit = nonnormal.fit(x, "lognormal")
    s, _, scale = stats.lognorm.fit(x, floc=0)
    assert fit.parameters["scale"] == pytest.approx(s, rel=1e-6)
    assert fit.parameters["location"] == pytest.approx(math.log(scale), rel=1e-6)


def test_three_parameter_fits_agree_with_scipy():
    rng = np.random.default_rng(12)
    w = 10 + 3.0 * rng.weibull(1.7, 300)
    fit = nonnormal.fit(w, "weibull3")
    shape, loc, scale = stats.weibull_min.fit(w)
    assert (fit.parameters["shape"], fit.parameters["threshold"], fit.parameters["scale"]) == pytest.approx(
        (shape, loc, scale), rel=1e-3
    )
    x = 10 + rng.lognormal(0.0, 0.5, 400)
    fit = nonnormal.fit(x, "lognormal3")
    s, loc, scale = stats.lognorm.fit(x)
    assert fit.parameters["threshold"] == pytest.approx(loc, rel=1e-4)
    assert fit.parameters["scale"] == pytest.approx(s, rel=1e-3)
    assert math.isnan(fit.p_value)  # no table for 3-parameter fits


def ad_statistic_written_out(u: np.ndarray) -> float:
    """A^2 = -n - (1/n) sum (2i - 1) [ln u_i + ln(1 - u_(n+1-i))] (NIST e-Handbook 1.3.5.14)."""
    u = np.sort(u)
    n = u.size
    i = np.arange(1, n + 1)
    return float(-n - np.sum((2 * i - 1) * (np.log(u) + np.log(1 - u[::-1]))) / n)


def test_anderson_darling_statistics_of_the_fits():
    rng = np.random.default_rng(13)
    w = 2.0 * rng.weibull(2.5, 120)
    fit = nonnormal.fit(w, "weibull")
    u = stats.weibull_min.cdf(w, fit.parameters["shape"], scale=fit.parameters["scale"])
    assert fit.ad_statistic == pytest.approx(ad_statistic_written_out(u), rel=1e-9)
    x = rng.lognormal(1.0, 0.4, 150)
    fit = nonnormal.fit(x, "lognormal")
    u = stats.lognorm.cdf(x, fit.parameters["scale"], scale=math.exp(fit.parameters["location"]))
    assert fit.ad_statistic == pytest.approx(ad_statistic_written_out(u), rel=1e-9)


def test_weibull_p_value_table_against_simulation():
    # D'Agostino and Stephens (1986) Table 4.17: the 5 % point of A^2 (1 + 0.2/sqrt(n)) for a Weibull
    # with both parameters estimated is 0.757, the 25 % point 0.474. Simulated here (maximum
    # likelihood fits, checked against scipy above; A^2 written out): about 5 % and 25 % of Weibull
    # samples must pass them.
    rng = np.random.default_rng(14)
    n, runs = 40, 2000
    adjusted = []
    for _ in range(runs):
        w = np.sort(rng.weibull(1.5, n))
        shape, scale = nonnormal.fit(w, "weibull").parameters.values()
        a2 = ad_statistic_written_out(1 - np.exp(-((w / scale) ** shape)))
        adjusted.append(a2 * (1 + 0.2 / math.sqrt(n)))
    adjusted = np.array(adjusted)
    assert np.mean(adjusted > 0.757) == pytest.approx(0.05, abs=0.015)
    assert np.mean(adjusted > 0.474) == pytest.approx(0.25, abs=0.03)
    assert nonnormal.weibull_ad_p_value(0.757 / (1 + 0.2 / math.sqrt(n)), n) == (pytest.approx(0.05), "")
    assert nonnormal.weibull_ad_p_value(0.3, n) == (0.25, ">")
    assert nonnormal.weibull_ad_p_value(2.0, n) == (0.01, "<")


def test_normal_p_value_is_the_existing_test():
    x = np.random.default_rng(15).normal(size=60)
    a2, p = spc.capability(x, usl=4).normality.statistic, spc.capability(x, usl=4).normality.p_value
    fit = nonnormal.fit(x, "normal")
    assert fit.ad_statistic == pytest.approx(a2) and fit.p_value == pytest.approx(p)
    u = stats.norm.cdf(x, x.mean(), x.std(ddof=1))
    assert fit.ad_statistic == pytest.approx(ad_statistic_written_out(u), rel=1e-9)


def test_boxcox_lambda_is_scipy_maximum_likelihood():
    x = np.random.default_rng(16).gamma(2.0, 1.5, 250)
    fit = nonnormal.fit(x, "boxcox")
    assert fit.parameters["lambda"] == pytest.approx(stats.boxcox_normmax(x, method="mle"), abs=1e-5)
    y = stats.boxcox(x, fit.parameters["lambda"])
    assert fit.parameters["mean"] == pytest.approx(y.mean()) and fit.parameters["sd"] == pytest.approx(
        y.std(ddof=1)
    )
    # Spec limits go through the same transform: P(X > USL) = P(Y > T(USL)).
    cap = spc.distribution_capability(x, 0.05, 12.0, method="boxcox")
    t_usl = stats.boxcox(np.array([12.0]), fit.parameters["lambda"])[0]
    assert cap.expected_ppm_above == pytest.approx(
        stats.norm.sf(t_usl, y.mean(), y.std(ddof=1)) * 1e6, rel=1e-6
    )


def test_johnson_curves_pass_through_the_four_percentiles():
    # Slifker and Shapiro (1980): the fitted curve maps x_(-3z), x_(-z), x_z, x_3z to -3z, -z, z, 3z
    # (the defining property; percentiles computed here with numpy and scipy's normal CDF).
    rng = np.random.default_rng(17)
    samples = {"SU": stats.t.rvs(4, size=600, random_state=rng), "SB": rng.uniform(0, 1, 600),
               "SB-skew": rng.beta(2, 5, 600)}  # fmt: skip
    for name, x in samples.items():
        for z in (0.5, 0.8):
            q = np.quantile(x, stats.norm.cdf([-3 * z, -z, z, 3 * z]), method="hazen")
            curve = nonnormal.johnson_from_percentiles(z, *q)
            assert curve.family == name[:2]
            np.testing.assert_allclose(curve.transform(q), [-3 * z, -z, z, 3 * z], atol=1e-9)
            np.testing.assert_allclose(curve.inverse(curve.transform(q)), q, rtol=1e-9)


def test_johnson_fit_normalises_johnson_su_data():
    x = quantile_sample(stats.johnsonsu(1.0, 1.5, loc=2.0, scale=0.7), 2000)
    fit = nonnormal.fit(x, "johnson")
    assert fit.distribution == "johnson SU"
    t = nonnormal.Johnson("SU", fit.parameters["gamma"], fit.parameters["eta"], fit.parameters["epsilon"],
                          fit.parameters["lambda"]).transform(x)  # fmt: skip
    u = stats.norm.cdf(t, t.mean(), t.std(ddof=1))
    assert ad_statistic_written_out(u) == pytest.approx(fit.ad_statistic, rel=1e-6)
    assert fit.p_value > 0.25
    # Its tail is the SU tail: expected PPM above the true 99.9 % point agrees with 1000 within 30 %.
    cap = spc.distribution_capability(x, usl=float(stats.johnsonsu.ppf(0.999, 1.0, 1.5, loc=2.0, scale=0.7)),
                                      method="johnson")  # fmt: skip
    assert cap.expected_ppm_above == pytest.approx(1000, rel=0.3)


def test_percentile_method_is_iso_22514_2_on_empirical_percentiles():
    x = np.random.default_rng(19).gamma(3.0, 1.0, 5000)
    cap = spc.distribution_capability(x, 0.01, 14.0, method="percentile")
    lo, med, hi = np.quantile(x, [stats.norm.cdf(-3), 0.5, stats.norm.cdf(3)], method="hazen")
    assert cap.pp == pytest.approx((14.0 - 0.01) / (hi - lo))
    assert cap.ppk == pytest.approx(min((14.0 - med) / (hi - med), (med - 0.01) / (med - lo)))
    assert math.isnan(cap.expected_ppm_total)
    with pytest.raises(ValueError, match="needs at least 741 values"):
        spc.distribution_capability(x[:500], 0.01, 14.0, method="percentile")


def test_percentile_indices_of_normal_data_are_the_usual_ones():
    x = quantile_sample(stats.norm(10, 2), 5000)
    cap = spc.distribution_capability(x, 3.0, 18.0, method="normal")
    sd = x.std(ddof=1)
    assert cap.pp == pytest.approx(15 / (6 * sd)) and cap.ppk == pytest.approx((x.mean() - 3) / (3 * sd))
    assert cap.ppk_z == pytest.approx(cap.ppk, rel=1e-9)  # Z-score and percentile agree for a normal
    expected = (stats.norm.cdf(3, x.mean(), sd) + stats.norm.sf(18, x.mean(), sd)) * 1e6
    assert cap.expected_ppm_total == pytest.approx(expected)


def test_auto_picks_weibull_for_weibull_data_and_reports_every_candidate():
    w = quantile_sample(stats.weibull_min(2.0, scale=5.0), 3000)
    cap = spc.distribution_capability(w, usl=20.0)
    assert cap.method == "weibull"
    assert [f.distribution for f in cap.candidates][:4] == ["normal", "lognormal", "weibull", "boxcox"]
    assert cap.expected_ppm_above == pytest.approx(stats.weibull_min.sf(20.0, 2.0, scale=5.0) * 1e6, rel=0.05)


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match="needs values above 0; the smallest is -1"):
        nonnormal.fit([-1.0, 2, 3, 4, 5, 6, 7, 8], "lognormal")
    with pytest.raises(ValueError, match="at least 8 values"):
        spc.distribution_capability([1.0, 2, 3], usl=5)
    with pytest.raises(ValueError, match="all 9 values are 3: no distribution can be fitted"):
        spc.distribution_capability(np.full(9, 3.0), usl=5)
    with pytest.raises(ValueError, match="unknown capability method 'gamma'"):
        spc.distribution_capability(np.arange(1.0, 20), usl=5, method="gamma")
    cap = spc.distribution_capability(np.random.default_rng(2).normal(size=50), usl=5)
    assert set(cap.skipped) == {"lognormal", "weibull", "boxcox"}  # negative values: not fitted, said why
