"""Dies per wafer against the published worked example and a brute-force count; yield models
against their derivation as Poisson yield averaged over a defect-density distribution."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from silicio.yields.die import (
    fit_defect_density,
    grid_die_per_wafer,
    gross_die_per_wafer,
    murphy_yield,
    negative_binomial_yield,
    poisson_yield,
    seeds_yield,
)


def test_gross_die_formula_published_example():
    # 300 mm wafer, 10 x 10 mm die: pi 300^2 / 400 - pi 300 / sqrt(200) = 706.86 - 66.64 = 640.
    assert gross_die_per_wafer(10, 10, 300) == 640
    # Scribe and edge exclusion shrink the wafer and grow the die: d = 294, S = 10.1^2.
    d, s = 294, 10.1**2
    assert gross_die_per_wafer(10, 10, 300, scribe=0.1, edge_exclusion=3) == math.floor(
        math.pi * d**2 / (4 * s) - math.pi * d / math.sqrt(2 * s)
    )
    np.testing.assert_array_equal(gross_die_per_wafer(np.array([10, 20]), 10, 300), [640, 306])


def brute_force_count(w, h, diameter, scribe, edge, x_off, y_off):
    """Whole dies in the usable circle, checking each die's four corners."""
    r = diameter / 2 - edge
    px, py = w + scribe, h + scribe
    n = int(r / min(px, py)) + 3
    count = 0
    for i in range(-n, n + 1):
        for j in range(-n, n + 1):
            x0, y0 = x_off + i * px + scribe / 2, y_off + j * py + scribe / 2
            corners = [(x0, y0), (x0 + w, y0), (x0, y0 + h), (x0 + w, y0 + h)]
            count += all(x * x + y * y <= r * r + 1e-9 for x, y in corners)
    return count


@pytest.mark.parametrize(("w", "h", "diameter", "scribe", "edge"),
                         [(10, 10, 300, 0, 0), (7.3, 4.1, 200, 0.1, 3), (22, 31, 150, 0.2, 5)])  # fmt: skip
def test_grid_count_is_exact_at_its_offset_and_near_the_formula(w, h, diameter, scribe, edge):
    best = grid_die_per_wafer(w, h, diameter, scribe, edge)
    assert best.count == brute_force_count(w, h, diameter, scribe, edge, best.x_offset, best.y_offset)
    # No worse than the two classic placements: a die centred, or a street crossing at the centre.
    px, py = w + scribe, h + scribe
    for x_off, y_off in [(-px / 2, -py / 2), (0.0, 0.0)]:
        assert best.count >= brute_force_count(w, h, diameter, scribe, edge, x_off, y_off)
    # The formula's edge term is approximate: close for small dies, pessimistic for big ones
    # (de Vries 2005); the best placement never does worse here.
    formula = gross_die_per_wafer(w, h, diameter, scribe, edge)
    assert best.count >= formula
    if formula > 100:
        assert best.count <= 1.05 * formula


def test_die_inputs_are_checked():
    with pytest.raises(ValueError, match="die_width"):
        gross_die_per_wafer(0, 10, 300)
    with pytest.raises(ValueError, match="edge_exclusion"):
        gross_die_per_wafer(10, 10, 10, edge_exclusion=5)


def compound_poisson(ad, density):
    """Yield exp(-A D) averaged over D with the given density, D0 = 1 so A D0 = ``ad``."""
    return integrate.quad(lambda d: math.exp(-ad * d) * density(d), 0, math.inf, limit=200)[0]


@pytest.mark.parametrize("ad", [0.1, 0.5, 1.0, 2.0, 5.0])
def test_models_are_poisson_averaged_over_their_defect_distributions(ad):
    # Murphy 1964: triangular density of D on [0, 2 D0].
    triangular = lambda d: d if d <= 1 else (2 - d if d <= 2 else 0.0)  # noqa: E731
    assert murphy_yield(ad, 1.0) == pytest.approx(
        integrate.quad(lambda d: math.exp(-ad * d) * triangular(d), 0, 2, points=[1])[0]
    )
    # Seeds 1967: exponential density of D with mean D0.
    assert seeds_yield(ad, 1.0) == pytest.approx(compound_poisson(ad, lambda d: math.exp(-d)))
    # Stapper 1983: gamma density of D with mean D0 and shape alpha.
    for alpha in (0.5, 2.0, 10.0):
        gamma = lambda d, a=alpha: a**a * d ** (a - 1) * math.exp(-a * d) / math.gamma(a)  # noqa: E731
        assert negative_binomial_yield(ad, 1.0, alpha) == pytest.approx(compound_poisson(ad, gamma), rel=1e-6)
    assert poisson_yield(ad, 1.0) == pytest.approx(math.exp(-ad))


def test_model_values_at_ad_one_and_limits():
    # Cunningham 1990 compares the models at A D0 = 1: Poisson 0.368, Murphy 0.400, Seeds 0.500.
    assert poisson_yield(1.0, 1.0) == pytest.approx(0.3679, abs=1e-4)
    assert murphy_yield(1.0, 1.0) == pytest.approx(0.3996, abs=1e-4)
    assert seeds_yield(1.0, 1.0) == 0.5
    assert murphy_yield(0.0, 1.0) == 1.0
    assert negative_binomial_yield(1.0, 1.0, 1.0) == pytest.approx(seeds_yield(1.0, 1.0))
    assert negative_binomial_yield(1.0, 1.0, 1e7) == pytest.approx(poisson_yield(1.0, 1.0), rel=1e-6)


@pytest.mark.parametrize("model", ["poisson", "murphy", "seeds"])
def test_fit_recovers_d0(model):
    areas = np.array([0.25, 0.5, 1.0, 2.0])
    fn = {"poisson": poisson_yield, "murphy": murphy_yield, "seeds": seeds_yield}[model]
    fit = fit_defect_density(fn(areas, 0.35), areas, model)
    assert fit.d0 == pytest.approx(0.35, rel=1e-6) and fit.rms_residual < 1e-9
    assert fit.predict(1.0) == pytest.approx(fn(1.0, 0.35))


def test_fit_negative_binomial_alpha_fitted_or_given():
    areas = np.array([0.2, 0.5, 1.0, 2.0, 4.0])
    observed = negative_binomial_yield(areas, 0.4, 1.7)
    fit = fit_defect_density(observed, areas, "negative_binomial")
    assert (fit.d0, fit.alpha) == (pytest.approx(0.4, rel=1e-5), pytest.approx(1.7, rel=1e-4))
    # One area (wafer yields of one product): alpha must be given.
    wafer_yields = negative_binomial_yield(0.8, 0.5, 3.0) + np.array([-0.01, 0.0, 0.01])
    fixed = fit_defect_density(wafer_yields, 0.8, "negative_binomial", alpha=3.0)
    assert fixed.d0 == pytest.approx(0.5, rel=0.02) and fixed.alpha == 3.0
    with pytest.raises(ValueError, match="two or more die areas"):
        fit_defect_density(wafer_yields, 0.8, "negative_binomial")
    with pytest.raises(ValueError, match="fractions"):
        fit_defect_density([1.2], 1.0)
    with pytest.raises(ValueError, match="model must be one of"):
        fit_defect_density([0.5], 1.0, "bose_einstein")
