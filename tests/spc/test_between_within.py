"""Between/within: I-MR-R/S charts, between/within capability, and short-run Z-MR charts, each
recomputed here from its formula (Minitab methods and formulas; Montgomery 6.2-6.4, 10.1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from silicio import spc

D2_2 = 2 / math.sqrt(math.pi)  # E|X1 - X2| / sigma
D3_2 = math.sqrt(2 - 4 / math.pi)


def c4(n: int) -> float:
    return math.sqrt(2 / (n - 1)) * math.exp(special.gammaln(n / 2) - special.gammaln((n - 1) / 2))


def lithography(quality):
    """NIST e-Handbook 6.6.1 line widths: 30 cassettes x 3 wafers x 5 sites; a subgroup per wafer."""
    table = quality("nist_pmc611_lithography_linewidth.csv")
    values = np.asarray(table.column("linewidth_raw").to_numpy(), dtype=float)
    wafer = [f"{c}/{w}" for c, w in zip(table.column("cassette").to_pylist(), table.column("wafer").to_pylist(),
                                       strict=True)]  # fmt: skip
    return values, np.array(wafer, dtype=object)


def test_imr_s_of_nist_wafer_sites(quality):
    values, wafer = lithography(quality)
    limits, (means, moving, sds) = spc.chart("imr_s", values, subgroup=wafer)
    sites = values.reshape(90, 5)  # the file lists each wafer's 5 sites together, wafers in order
    m = sites.mean(axis=1)
    mr_bar = np.mean(np.abs(np.diff(m)))
    np.testing.assert_allclose(means.statistic, m, rtol=1e-12)
    assert means.center[0] == pytest.approx(m.mean())
    assert means.ucl[0] == pytest.approx(m.mean() + 3 * mr_bar / D2_2)
    assert moving.ucl[0] == pytest.approx(mr_bar + 3 * D3_2 * mr_bar / D2_2)  # D4(2) MR-bar
    s = sites.std(axis=1, ddof=1)
    s_bar = s.mean()
    np.testing.assert_allclose(sds.statistic, s, rtol=1e-12)
    assert sds.ucl[0] == pytest.approx(s_bar + 3 * s_bar / c4(5) * math.sqrt(1 - c4(5) ** 2))
    # The X-bar chart of the same wafers flags far more: its limits are sigma_within / sqrt(5).
    _, (xbar, _) = spc.chart("xbar_s", values, subgroup=wafer)
    assert xbar.out_of_control.size > 3 * max(means.out_of_control.size, 1)


def test_imr_r_baseline_counts_subgroups():
    rng = np.random.default_rng(6)
    wafer_means = rng.normal(0, 1, 30)
    values = (wafer_means[:, None] + rng.normal(0, 0.2, (30, 8))).ravel()
    labels = np.repeat([f"W{i:02d}" for i in range(30)], 8)
    limits, (means, _, ranges) = spc.chart("imr_r", values, subgroup=labels, baseline=20)
    first = values[: 20 * 8].reshape(20, 8)
    assert limits.mean == pytest.approx(first.mean())
    assert limits.sigma == pytest.approx(np.mean(np.abs(np.diff(first.mean(axis=1)))) / D2_2)
    assert means.statistic.size == 30 and ranges.name == "range"
    with pytest.raises(ValueError, match="baseline 40 is more than the 30 subgroups"):
        spc.chart("imr_r", values, subgroup=labels, baseline=40)


def test_between_within_capability_written_out():
    rng = np.random.default_rng(7)
    wafer_means = rng.normal(10, 0.3, 40)
    values = wafer_means[:, None] + rng.normal(0, 0.2, (40, 6))
    cap = spc.between_within(values, 8.0, 12.0)
    dof = 40 * 5
    pooled = math.sqrt(np.sum(values.var(axis=1, ddof=1) * 5) / dof)
    sigma_w = pooled / c4(dof + 1)
    sigma_means = np.mean(np.abs(np.diff(values.mean(axis=1)))) / D2_2
    sigma_b = math.sqrt(max(0.0, sigma_means**2 - sigma_w**2 / 6))
    sigma_bw = math.hypot(sigma_b, sigma_w)
    assert cap.sigma_within == pytest.approx(sigma_w, rel=1e-12)
    assert cap.sigma_between == pytest.approx(sigma_b, rel=1e-12)
    assert cap.cp == pytest.approx(4 / (6 * sigma_bw)) and cap.cpk == pytest.approx(
        min(12 - values.mean(), values.mean() - 8) / (3 * sigma_bw)
    )
    assert cap.ppk == pytest.approx(min(12 - values.mean(), values.mean() - 8) / (3 * values.std(ddof=1)))
    # The estimates find the simulated components: between 0.3, within 0.2 (loose: 40 wafers).
    assert cap.sigma_between == pytest.approx(0.3, rel=0.35) and cap.sigma_within == pytest.approx(
        0.2, rel=0.1
    )


def test_zmr_by_part_written_out():
    rng = np.random.default_rng(8)
    parts = np.array(["A"] * 10 + ["B"] * 8 + ["A"] * 6 + ["C"] * 12)
    centre = {"A": 5.0, "B": 50.0, "C": -3.0}
    x = np.array([centre[p] for p in parts]) + rng.normal(0, 0.5, parts.size)
    limits, (z_chart, mr_chart) = spc.chart("zmr", x, part=parts)
    means = {p: x[parts == p].mean() for p in centre}
    dev = x - np.array([means[p] for p in parts])
    sigma = np.mean(np.abs(np.diff(dev))) / D2_2
    np.testing.assert_allclose(z_chart.statistic, dev / sigma, rtol=1e-12)
    assert (z_chart.lcl[0], z_chart.ucl[0]) == (-3.0, 3.0)
    assert mr_chart.ucl[0] == pytest.approx(D2_2 + 3 * D3_2)  # D4(2) * d2(2) = 3.686
    _, (by_part, _) = spc.chart("zmr", x, part=parts, sigma="by-part")
    own = {p: np.mean(np.abs(np.diff(x[parts == p]))) / D2_2 for p in centre}
    np.testing.assert_allclose(by_part.statistic, dev / np.array([own[p] for p in parts]), rtol=1e-12)
    with pytest.raises(ValueError, match="part 'D' has no mean"):
        limits.apply([1.0], ["D"])
