"""AEC-Q002 Rev-B statistical yield and bin limits on hand-computed lot yields and bin fallouts."""

from __future__ import annotations

import statistics

import polars as pl
import pytest

from silicio.yields.aecq002 import (
    lot_bin_fallout,
    lot_yields,
    statistical_bin_limits,
    statistical_yield_analysis,
    statistical_yield_limits,
)

# Six lots of 50 parts: good parts, and the failures of soft bins 5 (opens) and 7 (leakage).
HISTORY = {
    "A": (45, {5: 3, 7: 2}),
    "B": (46, {5: 2, 7: 2}),
    "C": (47, {5: 2, 7: 1}),
    "D": (48, {5: 1, 7: 1}),
    "E": (49, {5: 1}),
    "F": (45, {5: 4, 7: 1}),
}


def parts_of(lots: dict) -> pl.DataFrame:
    rows = []
    for lot, (good, fails) in lots.items():
        rows += [{"lot_id": lot, "part_passed": True, "soft_bin": 1, "hard_bin": 1}] * good
        for soft_bin, n in fails.items():
            rows += [{"lot_id": lot, "part_passed": False, "soft_bin": soft_bin, "hard_bin": 2}] * n
    return pl.DataFrame(rows, schema={"lot_id": pl.String, "part_passed": pl.Boolean, "soft_bin": pl.UInt16,
                                      "hard_bin": pl.UInt16})  # fmt: skip


def test_syl_is_mean_minus_three_and_four_sigma_of_lot_yield():
    yields = [0.90, 0.92, 0.94, 0.96, 0.98, 0.90]
    mean, sigma = statistics.mean(yields), statistics.stdev(yields)
    # By hand: mean 0.93333, sigma sqrt(0.0053333 / 5) = 0.032660.
    assert mean == pytest.approx(0.933333, abs=1e-6) and sigma == pytest.approx(0.032660, abs=1e-6)
    limits = statistical_yield_limits(yields)
    assert limits["SYL1"] == pytest.approx(mean - 3 * sigma)
    assert limits["SYL2"] == pytest.approx(mean - 4 * sigma)
    assert limits["SYL1"] == pytest.approx(0.835353, abs=1e-6)
    assert limits["SYL2"] == pytest.approx(0.802693, abs=1e-6)


def test_sbl_is_mean_plus_three_and_four_sigma_of_bin_fallout():
    fallout = [0.06, 0.04, 0.04, 0.02, 0.02, 0.08]
    mean, sigma = statistics.mean(fallout), statistics.stdev(fallout)
    limits = statistical_bin_limits(fallout)
    assert (limits["SBL1"], limits["SBL2"]) == (
        pytest.approx(mean + 3 * sigma),
        pytest.approx(mean + 4 * sigma),
    )


def test_fewer_than_six_lots_is_refused():
    with pytest.raises(ValueError, match="at least 6 lots"):
        statistical_yield_limits([0.9, 0.91, 0.92, 0.93, 0.94])
    with pytest.raises(ValueError, match="at least 6 lots"):
        statistical_yield_analysis(parts_of({k: HISTORY[k] for k in "ABCDE"}))


def test_lot_yields_and_zero_filled_fallout():
    parts = parts_of(HISTORY)
    yields = {r["lot_id"]: r["yield"] for r in lot_yields(parts).to_pylist()}
    assert yields == pytest.approx({"A": 0.90, "B": 0.92, "C": 0.94, "D": 0.96, "E": 0.98, "F": 0.90})
    fallout = {(r["lot_id"], r["bin"]): r["fallout"] for r in lot_bin_fallout(parts).to_pylist()}
    assert fallout[("A", 5)] == pytest.approx(0.06)
    assert fallout[("E", 7)] == 0.0  # lot E had no bin 7: a zero, part of the distribution
    assert len(fallout) == 12


def test_lots_beyond_the_limits_are_flagged_with_the_rule():
    history = parts_of(HISTORY)
    new = parts_of(
        {
            "N1": (46, {5: 2, 7: 2}),  # yield 0.92: inside every limit
            "N2": (41, {5: 4, 7: 5}),  # yield 0.82: below SYL1 (0.835), above SYL2 (0.803); bin 7 high
            "N3": (40, {5: 10}),  # yield 0.80: below SYL2; bin 5 at 0.20
        }
    )
    limits, flags = statistical_yield_analysis(new, history)
    limit_rows = {(r["kind"], r["bin"]): r for r in limits.to_pylist()}
    assert limit_rows[("SYL", None)]["limit1"] == pytest.approx(0.835353, abs=1e-6)
    bin7 = [0.04, 0.04, 0.02, 0.02, 0.0, 0.02]
    sbl7 = (
        statistics.mean(bin7) + 3 * statistics.stdev(bin7),
        statistics.mean(bin7) + 4 * statistics.stdev(bin7),
    )
    assert (limit_rows[("SBL", 7)]["limit1"], limit_rows[("SBL", 7)]["limit2"]) == pytest.approx(sbl7)
    got = {(r["lot_id"], r["rule"], r["bin"]) for r in flags.to_pylist()}
    # bin 7 of N2: 0.10 > SBL2 = 0.0233 + 4 x 0.0151 = 0.084; bin 5 of N3: 0.20 > SBL2 = 0.0433 + 4 x 0.0234 = 0.137.
    assert got == {("N2", "SYL1", None), ("N2", "SBL2", 7), ("N3", "SYL2", None), ("N3", "SBL2", 5)}
    n2 = next(r for r in flags.to_pylist() if r["lot_id"] == "N2" and r["rule"] == "SYL1")
    assert (n2["value"], n2["limit"]) == (pytest.approx(0.82), pytest.approx(0.835353, abs=1e-6))


def test_bad_bin_column():
    with pytest.raises(ValueError, match="bin_column"):
        lot_bin_fallout(parts_of(HISTORY), "bin")
