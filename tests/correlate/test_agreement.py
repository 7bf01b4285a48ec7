"""Agreement of paired readings: every statistic against a hand computation written here with
plain Python (no numpy, no scipy), and against the published examples of Bland & Altman (1986)
and Montgomery's paired comparison.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import polars as pl
import pytest

from silicio.correlate import agreement, agreement_by
from silicio.correlate.agreement import AGREEMENT_COLUMNS

# Bland & Altman, Lancet 1986, Table 1: peak expiratory flow rate (l/min) of 17 subjects, first
# reading with the Wright meter and with the mini Wright meter.
WRIGHT = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427]
MINI_WRIGHT = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451]

# Montgomery, Design and Analysis of Experiments 8th ed., Table 2.6: hardness testing machine,
# depth of the impression of two tips on ten specimens.
TIP_1 = [7, 3, 3, 4, 8, 3, 2, 9, 5, 4]
TIP_2 = [6, 3, 5, 3, 8, 2, 4, 9, 4, 5]

#: The 97.5 % quantile of the standard normal: 95 % limits of agreement.
Z95 = NormalDist().inv_cdf(0.975)


def mean(values):
    return sum(values) / len(values)


def sample_sd(values):
    m = mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def t_two_sided_p(t: float, df: int) -> float:
    """2 P(T > |t|) of Student's t with ``df`` degrees of freedom, by Simpson's rule on its density
    from 0 to |t| (the density is symmetric and integrates to 1/2 on each side)."""
    c = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2))

    def density(x):
        return c * (1 + x * x / df) ** (-(df + 1) / 2)

    steps = 2000
    h = abs(t) / steps
    inner = sum((4 if k % 2 else 2) * density(k * h) for k in range(1, steps))
    area = h / 3 * (density(0) + inner + density(abs(t)))
    return 2 * (0.5 - area)


def hand_agreement(a, b):
    d = [y - x for x, y in zip(a, b, strict=True)]
    n = len(d)
    bias, sd = mean(d), sample_sd(d)
    ma, mb = mean(a), mean(b)
    sxx = sum((x - ma) ** 2 for x in a)
    syy = sum((y - mb) ** 2 for y in b)
    sxy = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
    slope = sxy / sxx
    r = sxy / math.sqrt(sxx * syy)
    t = bias / (sd / math.sqrt(n))
    return {"n": n, "mean_a": ma, "mean_b": mb, "bias": bias, "sd_diff": sd, "loa_lower": bias - Z95 * sd,
            "loa_upper": bias + Z95 * sd, "slope": slope, "intercept": mb - slope * ma, "r": r,
            "r_squared": r * r, "t_statistic": t, "p_value": t_two_sided_p(t, n - 1)}  # fmt: skip


def test_bland_altman_1986_peak_flow_example():
    got = agreement(MINI_WRIGHT, WRIGHT)  # difference Wright - mini, as in the paper
    # The paper: mean difference -2.1 l/min, SD 38.8, limits -2.1 -/+ 2 SD = -79.7 to 75.5, r = 0.94.
    assert round(got.bias, 1) == -2.1 and round(got.sd_diff, 1) == 38.8
    bias, sd = round(got.bias, 1), round(got.sd_diff, 1)  # the paper adds its rounded numbers
    assert round(bias - 2 * sd, 1) == -79.7 and round(bias + 2 * sd, 1) == 75.5
    assert round(got.r, 2) == 0.94
    # The 95 % limits use 1.96 SD.
    assert got.loa_lower == pytest.approx(got.bias - 1.96 * got.sd_diff, abs=0.01)
    expected = hand_agreement(MINI_WRIGHT, WRIGHT)
    for name, value in expected.items():
        assert getattr(got, name) == pytest.approx(value, rel=1e-4, abs=1e-9), name


def test_montgomery_paired_comparison_of_two_tips():
    got = agreement(TIP_2, TIP_1)  # d = tip 1 - tip 2, as in the book
    # The book: d-bar = -0.10, S_d = 1.20, t0 = -0.26 (not significant: t(0.025, 9) = 2.262).
    assert got.bias == pytest.approx(-0.10)
    assert round(got.sd_diff, 2) == 1.20
    assert round(got.t_statistic, 2) == -0.26
    assert got.p_value == pytest.approx(t_two_sided_p(got.t_statistic, 9), abs=1e-6)
    assert got.p_value > 0.05


def test_a_hand_computable_case_and_flips():
    a = [1.0, 2.0, 3.0, 4.0]
    b = [1.5, 2.0, 4.0, 4.5]
    got = agreement(a, b, [True, True, False, True], [True, False, False, None])
    # d = 0.5, 0, 1, 0.5: mean 0.5, SD sqrt(0.5 / 3). Means 2.5 and 3; Sxx = 5, Syy = 6.5,
    # Sxy = 2.25 + 0.5 + 0.5 + 2.25 = 5.5: slope 1.1, r = 5.5 / sqrt(5 x 6.5).
    assert got.bias == pytest.approx(0.5)
    assert got.sd_diff == pytest.approx(math.sqrt(0.5 / 3))
    assert got.slope == pytest.approx(1.1) and got.intercept == pytest.approx(3.0 - 1.1 * 2.5)
    assert got.r == pytest.approx(5.5 / math.sqrt(5 * 6.5))
    assert got.t_statistic == pytest.approx(0.5 / (math.sqrt(0.5 / 3) / 2))
    # Verdicts on both sides for 3 units, one flips (pass -> fail).
    assert (got.verdicts, got.flips, got.flip_share) == (3, 1, pytest.approx(1 / 3))


def test_pairs_with_a_missing_side_are_left_out():
    got = agreement([1.0, float("nan"), 3.0, 5.0], [2.0, 9.0, None, 6.0])
    assert got.n == 2 and got.bias == pytest.approx(1.0)
    assert got.sd_diff == pytest.approx(0.0) and got.t_statistic is None  # no spread, bias not 0: t undefined
    assert got.slope == pytest.approx(1.0)


def test_identical_readings_agree_perfectly():
    got = agreement([1.0, 2.0, 4.0], [1.0, 2.0, 4.0])
    assert got.bias == 0 and got.t_statistic == 0 and got.p_value == pytest.approx(1.0)
    assert got.r == pytest.approx(1.0) and got.slope == pytest.approx(1.0)


def test_undefined_statistics_are_none():
    one = agreement([1.0], [2.0])
    assert (
        one.n == 1
        and one.bias == 1.0
        and one.sd_diff is None
        and one.loa_lower is None
        and one.p_value is None
    )
    flat = agreement([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
    assert flat.slope is None and flat.r is None and flat.bias == pytest.approx(0.0)
    assert agreement([], []).n == 0


def test_agreement_by_groups_each_test_on_its_own():
    frame = pl.DataFrame({"test": [1, 1, 1, 2, 2, 2], "a": [1.0, 2.0, 3.0, 10.0, 20.0, 30.0],
                          "b": [1.1, 2.3, 3.2, 11.0, 19.0, 33.0]})  # fmt: skip
    rows = agreement_by(frame, ["test"]).to_pylist()
    assert [r["test"] for r in rows] == [1, 2]
    for row, (a, b) in zip(rows, [([1.0, 2.0, 3.0], [1.1, 2.3, 3.2]), ([10.0, 20.0, 30.0], [11.0, 19.0, 33.0])],
                           strict=True):  # fmt: skip
        for name, value in hand_agreement(a, b).items():
            assert row[name] == pytest.approx(value, rel=1e-6), name
    assert list(rows[0])[1:] == list(AGREEMENT_COLUMNS)


def test_series_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="same length"):
        agreement([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="both sides"):
        agreement([1.0], [1.0], passed_a=[True])
