"""PAT limits of AEC-Q001 Rev-D: the worked formula recomputed independently on fixtures whose
quartiles are known, clamping to the specification, zero-IQR policies, the six-lot minimum,
dynamic limits per wafer, and the parts flagged."""

from __future__ import annotations

import math
import statistics

import numpy as np
import polars as pl
import pytest

from silicio.yields import pat
from silicio.yields.pat import (
    alarmed_results,
    dynamic_pat_limits,
    measurement_resolution,
    pat_limits,
    pat_outliers,
    robust_mean,
    robust_sigma,
    static_pat_limits,
)


def tidy_frame(rows: list[dict]) -> pl.DataFrame:
    """A tidy-like table from rows giving lot, wafer, part, test and result (others defaulted)."""
    full = []
    for r in rows:
        full.append(
            {
                "lot_id": r.get("lot", "L1"),
                "wafer_id": r.get("wafer", "W1"),
                "part_index": r["part"],
                "x": r.get("x"),
                "y": r.get("y"),
                "test_num": r.get("test", 100),
                "test_name": r.get("name", "vref"),
                "pin": None,
                "test_type": "P",
                "result": r["value"],
                "lo_limit": r.get("lsl", -1e6),
                "hi_limit": r.get("usl", 1e6),
                "part_passed": r.get("passed", True),
                "is_last_test": r.get("last", True),
            }
        )
    return pl.DataFrame(
        full,
        schema={
            "lot_id": pl.String, "wafer_id": pl.String, "part_index": pl.Int64, "x": pl.Int16, "y": pl.Int16,
            "test_num": pl.UInt32, "test_name": pl.String, "pin": pl.UInt16, "test_type": pl.String,
            "result": pl.Float64, "lo_limit": pl.Float64, "hi_limit": pl.Float64, "part_passed": pl.Boolean,
            "is_last_test": pl.Boolean,
        },
    )  # fmt: skip


def spread_over_lots(values, n_lots=6, **extra) -> list[dict]:
    """One row per value, dealt round-robin over ``n_lots`` lots."""
    return [{"lot": f"L{i % n_lots}", "part": i, "value": float(v), **extra} for i, v in enumerate(values)]


def type7_quantile(values, p):
    """Hyndman-Fan type 7, written out: h = (n - 1) p, interpolate between the order statistics."""
    x = sorted(values)
    h = (len(x) - 1) * p
    lo = math.floor(h)
    hi = min(lo + 1, len(x) - 1)
    return x[lo] + (h - lo) * (x[hi] - x[lo])


# --------------------------------------------------------------------------------------------
# The formulas


def test_robust_mean_and_sigma_on_values_whose_quartiles_are_exact():
    # 0, 1, ..., 100: with type 7 the quartiles are the 26th and 76th values exactly.
    values = np.arange(101.0)
    assert robust_mean(values) == 50.0
    assert robust_sigma(values) == pytest.approx((75.0 - 25.0) / 1.35)


def test_pat_limits_are_robust_mean_plus_minus_six_robust_sigma_then_clamped():
    lo, hi, clamped_lo, clamped_hi = pat_limits(50.0, 10.0, 6, lsl=0.0, usl=120.0)
    assert (lo, hi, clamped_lo, clamped_hi) == (0.0, 110.0, True, False)
    lo, hi, clamped_lo, clamped_hi = pat_limits(50.0, 10.0, 6)
    assert (lo, hi, bool(clamped_lo), bool(clamped_hi)) == (-10.0, 110.0, False, False)


def test_measurement_resolution_is_the_smallest_step():
    assert measurement_resolution([1.0, 1.0, 1.2, 1.1, 1.1]) == pytest.approx(0.1)
    assert math.isnan(measurement_resolution([3.0, 3.0]))


# --------------------------------------------------------------------------------------------
# Static limits


def test_static_limits_equal_aec_q001_formula_computed_independently():
    rng = np.random.default_rng(7)
    values = np.round(rng.normal(1.25, 0.01, 240), 5)  # a 1.25 V reference, 40 parts per lot
    table = tidy_frame(spread_over_lots(values, lsl=1.0, usl=1.5))
    (row,) = static_pat_limits(table).to_pylist()

    median = statistics.median(values)
    q1, q3 = type7_quantile(values, 0.25), type7_quantile(values, 0.75)
    sigma = (q3 - q1) / 1.35
    assert row["n_lots"] == 6 and row["n_parts"] == 240
    assert row["robust_mean"] == pytest.approx(median, abs=1e-12)
    assert (row["q1"], row["q3"]) == (pytest.approx(q1, abs=1e-12), pytest.approx(q3, abs=1e-12))
    assert row["robust_sigma"] == pytest.approx(sigma, abs=1e-12)
    assert row["pat_lo"] == pytest.approx(median - 6 * sigma, abs=1e-12)
    assert row["pat_hi"] == pytest.approx(median + 6 * sigma, abs=1e-12)
    assert (row["clamped_lo"], row["clamped_hi"], row["skipped"], row["sigma_source"]) == (
        False,
        False,
        False,
        "iqr",
    )


def test_static_limits_on_exact_quartiles():
    table = tidy_frame(spread_over_lots(range(101)))
    (row,) = static_pat_limits(table).to_pylist()
    assert (row["robust_mean"], row["q1"], row["q3"]) == (50.0, 25.0, 75.0)
    assert row["pat_lo"] == pytest.approx(50 - 6 * 50 / 1.35)
    assert row["pat_hi"] == pytest.approx(50 + 6 * 50 / 1.35)


def test_static_limits_are_clamped_to_the_specification():
    table = tidy_frame(spread_over_lots(range(101), lsl=-100.0, usl=200.0))
    (row,) = static_pat_limits(table).to_pylist()
    assert row["pat_lo"] == -100.0 and row["clamped_lo"]  # 50 - 222.2 is below the LSL
    assert row["pat_hi"] == 200.0 and row["clamped_hi"]
    assert (row["lsl"], row["usl"]) == (-100.0, 200.0)


def test_other_quantile_methods_can_be_chosen():
    values = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    table = tidy_frame(spread_over_lots(values))
    (linear,) = static_pat_limits(table).to_pylist()
    (hazen,) = static_pat_limits(table, quantile_method="hazen").to_pylist()
    assert linear["q1"] == pytest.approx(type7_quantile(values, 0.25))
    assert hazen["q1"] == pytest.approx(float(np.quantile(values, 0.25, method="hazen")))
    assert hazen["q1"] != linear["q1"]
    with pytest.raises(ValueError, match="quantile method"):
        static_pat_limits(table, quantile_method="type7")


def test_failing_parts_and_earlier_executions_are_not_in_the_population():
    rows = spread_over_lots(range(101))
    rows.append({"lot": "L0", "part": 500, "value": 1e5, "passed": False})
    rows.append({"lot": "L0", "part": 501, "value": -1e5, "last": False})
    (row,) = static_pat_limits(tidy_frame(rows)).to_pylist()
    assert (row["n_parts"], row["robust_mean"], row["q1"], row["q3"]) == (101, 50.0, 25.0, 75.0)


def test_fewer_than_six_lots_is_refused():
    table = tidy_frame(spread_over_lots(range(101), n_lots=5))
    with pytest.raises(ValueError, match="at least 6 lots"):
        static_pat_limits(table)
    assert static_pat_limits(table, min_lots=5).num_rows == 1


def test_a_test_seen_in_fewer_lots_is_reported_not_screened():
    rows = spread_over_lots(range(101)) + [
        {"lot": "L0", "part": 1000 + i, "value": float(i), "test": 200, "name": "rare"} for i in range(10)
    ]
    limits = {r["test_num"]: r for r in static_pat_limits(tidy_frame(rows)).to_pylist()}
    assert not limits[100]["skipped"]
    assert limits[200]["skipped"] and "fewer than 6 lots" in limits[200]["reason"]
    assert limits[200]["pat_lo"] is None and limits[200]["pat_hi"] is None


# Quantized results: 90 % read 1.0, the rest 0.9 or 1.1: Q1 = Q3 = 1.0.
QUANTIZED = [1.0] * 108 + [1.1] * 6 + [0.9] * 6


def test_iqr_zero_skip_policy_reports_and_screens_nothing():
    table = tidy_frame(spread_over_lots(QUANTIZED))
    (row,) = static_pat_limits(table, iqr_zero="skip").to_pylist()
    assert row["skipped"] and "IQR = 0" in row["reason"]
    assert row["pat_lo"] is None and row["robust_sigma"] is None
    assert pat_outliers(table, static_pat_limits(table)).num_rows == 0


def test_iqr_zero_resolution_policy_uses_the_smallest_step_as_sigma():
    table = tidy_frame(spread_over_lots(QUANTIZED))
    (row,) = static_pat_limits(table, iqr_zero="resolution").to_pylist()
    assert not row["skipped"] and row["sigma_source"] == "resolution"
    assert "resolution" in row["reason"]
    assert row["robust_sigma"] == pytest.approx(0.1)
    assert (row["pat_lo"], row["pat_hi"]) == (pytest.approx(0.4), pytest.approx(1.6))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"k": 0}, "positive"), ({"iqr_zero": "ignore"}, "iqr_zero"), ({"min_lots": 0}, "min_lots")],
)
def test_bad_parameters_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        static_pat_limits(tidy_frame(spread_over_lots(range(12))), **kwargs)


def test_a_table_without_the_tidy_columns_is_refused():
    with pytest.raises(ValueError, match="lacks the column"):
        static_pat_limits(pl.DataFrame({"lot_id": ["a"], "result": [1.0]}))


# --------------------------------------------------------------------------------------------
# Dynamic limits and outliers


def wafer_rows(lot, wafer, values, start=0, **extra):
    return [
        {"lot": lot, "wafer": wafer, "part": start + i, "value": float(v), **extra}
        for i, v in enumerate(values)
    ]


def test_dynamic_limits_are_mean_plus_minus_n_sigma_of_parts_inside_spec_and_static_pat():
    history = tidy_frame(spread_over_lots(np.linspace(0.0, 10.0, 121), lsl=-20.0, usl=30.0))
    static = static_pat_limits(history)
    (s,) = static.to_pylist()
    w1 = [4.0, 4.5, 5.0, 5.5, 6.0, 5.0, 4.8, 5.2]
    rows = wafer_rows("LX", "W1", w1, lsl=-20.0, usl=30.0)
    # Outside the static limits (but inside spec): not in the population of the dynamic limits.
    rows.append(
        {"lot": "LX", "wafer": "W1", "part": 90, "value": s["pat_hi"] + 1.0, "lsl": -20.0, "usl": 30.0}
    )
    # A failing part: not in the population either.
    rows.append(
        {"lot": "LX", "wafer": "W1", "part": 91, "value": 5.9, "passed": False, "lsl": -20.0, "usl": 30.0}
    )
    table = tidy_frame(rows)
    (d,) = dynamic_pat_limits(table, static, n=6, min_parts=5).to_pylist()
    mean, sigma = statistics.mean(w1), statistics.stdev(w1)
    assert d["n_parts"] == len(w1)
    assert d["center"] == pytest.approx(mean) and d["sigma"] == pytest.approx(sigma)
    assert d["limit_lo"] == pytest.approx(mean - 6 * sigma) and d["limit_hi"] == pytest.approx(
        mean + 6 * sigma
    )
    # n is configurable, and the limits are clamped to the specification.
    (d3,) = dynamic_pat_limits(table, static, n=3, min_parts=5).to_pylist()
    assert d3["limit_hi"] == pytest.approx(mean + 3 * sigma)
    narrow = tidy_frame([{**r, "lsl": 4.5, "usl": 30.0} for r in wafer_rows("LX", "W1", w1)])
    (dc,) = dynamic_pat_limits(narrow, static, min_parts=5).to_pylist()
    assert dc["limit_lo"] == 4.5 and dc["clamped_lo"]


def test_dynamic_limits_per_wafer_and_per_lot_and_too_few_parts():
    history = tidy_frame(spread_over_lots(np.linspace(0.0, 10.0, 121)))
    static = static_pat_limits(history)
    rows = wafer_rows("LX", "W1", [4, 5, 6, 5, 4]) + wafer_rows("LX", "W2", [5, 6, 7], start=10)
    table = tidy_frame(rows)
    per_wafer = {r["wafer_id"]: r for r in dynamic_pat_limits(table, static, min_parts=4).to_pylist()}
    assert not per_wafer["W1"]["skipped"]
    assert per_wafer["W2"]["skipped"] and "fewer than the 4" in per_wafer["W2"]["reason"]
    (lot,) = dynamic_pat_limits(table, static, scope="lot", min_parts=4).to_pylist()
    assert lot["n_parts"] == 8 and "wafer_id" not in lot


def test_outliers_name_rule_test_value_and_limits():
    history = tidy_frame(spread_over_lots(np.linspace(0.0, 10.0, 121)))
    static = static_pat_limits(history)
    (s,) = static.to_pylist()
    # 60 parts: with mean and sigma, one value of n can be at most (n - 1) / sqrt(n) sigma out.
    base = [5.0, 5.1, 4.9, 5.0, 5.05, 4.95, 5.0, 5.02, 4.98, 5.0] * 6
    rows = wafer_rows("LX", "W1", base)
    rows.append({"lot": "LX", "wafer": "W1", "part": 70, "value": 8.0})  # inside static, far from this wafer
    rows.append({"lot": "LX", "wafer": "W1", "part": 71, "value": s["pat_hi"] + 5})  # outside static
    rows.append({"lot": "LX", "wafer": "W1", "part": 72, "value": 99.0, "passed": False})  # already failing
    table = tidy_frame(rows)
    dynamic = dynamic_pat_limits(table, static, min_parts=5)
    found = {(r["part_index"], r["rule"]): r for r in pat_outliers(table, static, dynamic).to_pylist()}
    assert set(found) == {(70, "PAT_DYNAMIC"), (71, "PAT_STATIC"), (71, "PAT_DYNAMIC")}
    r = found[(71, "PAT_STATIC")]
    assert (r["test_num"], r["test_name"], r["value"]) == (100, "vref", s["pat_hi"] + 5)
    assert (r["limit_lo"], r["limit_hi"]) == (s["pat_lo"], s["pat_hi"])


def test_resolution_policy_floors_a_spread_smaller_than_one_step():
    # Q1 and Q3 one step of 0.1 apart: IQR / 1.35 = 0.074 < 0.1, so sigma becomes the step.
    values = [1.0] * 50 + [1.1] * 50 + [1.2] * 20
    table = tidy_frame(spread_over_lots(values))
    (skip,) = static_pat_limits(table).to_pylist()
    assert skip["robust_sigma"] == pytest.approx(0.1 / 1.35) and skip["sigma_source"] == "iqr"
    (floored,) = static_pat_limits(table, iqr_zero="resolution").to_pylist()
    assert floored["robust_sigma"] == pytest.approx(0.1) and floored["sigma_source"] == "resolution"
    assert "below the resolution" in floored["reason"]


# --------------------------------------------------------------------------------------------
# Dynamic limits inside the static ones (AEC-Q001 Rev-D §3.1.2)


def test_dynamic_limits_never_lie_outside_the_static_limits():
    rng = np.random.default_rng(42)
    # History: six tight lots (sigma 0.01) around 1.00.
    history = tidy_frame(spread_over_lots(rng.normal(1.0, 0.01, 600)))
    static = static_pat_limits(history)
    (srow,) = static.to_pylist()
    # The lot screened is wider (sigma 0.02) and shifted up: mean ± 6 sigma of its parts inside
    # the static limits reaches past them.
    wafer = rng.normal(1.01, 0.02, 200)
    table = tidy_frame([{"lot": "NEW", "part": i, "value": float(v)} for i, v in enumerate(wafer)])
    inside = wafer[(wafer >= srow["pat_lo"]) & (wafer <= srow["pat_hi"])]
    unclamped_lo = inside.mean() - 6 * inside.std(ddof=1)
    unclamped_hi = inside.mean() + 6 * inside.std(ddof=1)
    assert unclamped_lo < srow["pat_lo"] and unclamped_hi > srow["pat_hi"]  # the case the clamp is for

    (drow,) = dynamic_pat_limits(table, static, scope="lot").to_pylist()
    assert (drow["limit_lo"], drow["limit_hi"]) == (srow["pat_lo"], srow["pat_hi"])
    assert drow["clamped_static_lo"] and drow["clamped_static_hi"]
    assert (drow["static_lo"], drow["static_hi"]) == (srow["pat_lo"], srow["pat_hi"])
    assert drow["center"] == pytest.approx(inside.mean()) and drow["sigma"] == pytest.approx(
        inside.std(ddof=1)
    )

    # A side clamped to the static limit is the static limit: crossing it is PAT_STATIC's reason only.
    reasons = pl.from_arrow(pat_outliers(table, static, dynamic_pat_limits(table, static, scope="lot")))
    outside = int(np.sum((wafer < srow["pat_lo"]) | (wafer > srow["pat_hi"])))
    assert outside > 0
    assert reasons.filter(pl.col("rule") == "PAT_STATIC").height == outside
    assert reasons.filter(pl.col("rule") == "PAT_DYNAMIC").height == 0


def test_dynamic_limits_tighter_than_the_static_ones_are_kept():
    rng = np.random.default_rng(7)
    history = tidy_frame(spread_over_lots(rng.normal(1.0, 0.05, 600)))
    static = static_pat_limits(history)
    wafer = rng.normal(1.0, 0.005, 200)
    table = tidy_frame([{"lot": "NEW", "part": i, "value": float(v)} for i, v in enumerate(wafer)])
    (drow,) = dynamic_pat_limits(table, static, scope="lot").to_pylist()
    assert not (drow["clamped_static_lo"] or drow["clamped_static_hi"])
    assert drow["limit_hi"] == pytest.approx(wafer.mean() + 6 * wafer.std(ddof=1))


# --------------------------------------------------------------------------------------------
# Alarm-flagged results (STDF TEST_FLG bit 0)


def test_alarm_flagged_results_stay_out_of_static_limits_and_are_not_judged_unless_included():
    values = np.linspace(0.9, 1.1, 120)
    rows = spread_over_lots(values)
    rows.append({"lot": "L0", "part": 500, "value": 40.0})  # taken under an alarm
    table = tidy_frame(rows).with_columns(
        pl.when(pl.col("part_index") == 500).then(0x01).otherwise(0).cast(pl.UInt8).alias("test_flg")
    )
    (row,) = static_pat_limits(table).to_pylist()
    assert row["n_parts"] == 120 and row["robust_mean"] == pytest.approx(statistics.median(values))
    q1, q3 = type7_quantile(values, 0.25), type7_quantile(values, 0.75)
    assert row["robust_sigma"] == pytest.approx((q3 - q1) / 1.35)
    static = static_pat_limits(table)
    assert pat_outliers(table, static).num_rows == 0  # not judged
    assert alarmed_results(table) == 1

    (included,) = static_pat_limits(table, alarmed="include").to_pylist()
    assert included["n_parts"] == 121
    judged = pat_outliers(table, static, alarmed="include").to_pylist()
    assert [r["part_index"] for r in judged] == [500]
    with pytest.raises(ValueError, match="alarmed"):
        static_pat_limits(table, alarmed="keep")


# --------------------------------------------------------------------------------------------
# Static limits per lot, each from its own baseline lots


def _lots_of_values(n_lots: int, per_lot: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        {"lot": f"L{lot}", "part": lot * per_lot + i, "value": float(v)}
        for lot in range(n_lots)
        for i, v in enumerate(rng.normal(lot * 0.1, 1.0 + lot * 0.05, per_lot))
    ]
    return tidy_frame(rows)


def test_each_lot_gets_the_limits_of_its_own_baseline_and_never_its_own_results():
    from silicio.yields.pat import passing_measurements, static_limits_per_lot

    tidy = _lots_of_values(9, 40, seed=7)
    lots = [f"L{i}" for i in range(9)]
    baselines = {lots[i]: lots[i - 6 : i] for i in range(6, 9)}
    got = static_limits_per_lot(passing_measurements(tidy), baselines, k=6.0, min_lots=6, tests="all",
                                iqr_zero="skip", quantile_method="linear")  # fmt: skip
    assert got["lot_id"].to_list() == ["L6", "L7", "L8"]
    for row in got.iter_rows(named=True):
        base = baselines[row["lot_id"]]
        assert row["baseline_lots"] == base
        values = tidy.filter(pl.col("lot_id").is_in(base))["result"].to_list()
        q1, q3 = type7_quantile(values, 0.25), type7_quantile(values, 0.75)
        median = statistics.median(values)
        assert row["n_parts"] == len(values) == 240 and row["n_lots"] == 6
        assert row["pat_lo"] == pytest.approx(median - 6 * (q3 - q1) / 1.35, rel=1e-12)
        assert row["pat_hi"] == pytest.approx(median + 6 * (q3 - q1) / 1.35, rel=1e-12)
    with pytest.raises(ValueError, match="baseline of lot L6 holds the lot itself"):
        static_limits_per_lot(passing_measurements(tidy), {"L6": lots[1:7]}, k=6.0, min_lots=6, tests="all",
                              iqr_zero="skip", quantile_method="linear")  # fmt: skip
    with pytest.raises(ValueError, match="lot\\(s\\) L8: .*at least 6 lots"):
        static_limits_per_lot(passing_measurements(tidy), {"L8": lots[3:8:2]}, k=6.0, min_lots=6, tests="all",
                              iqr_zero="skip", quantile_method="linear")  # fmt: skip


def test_an_outlier_lot_is_screened_by_its_history_where_its_own_results_would_hide_it():
    """A seventh lot shifted by 3 sigma: against the six lots before it most of its parts are PAT
    outliers; limits that include it (the old pooled computation) are wider and pass more."""
    from silicio.yields import screen
    from silicio.yields.recipe import loads_recipe

    rng = np.random.default_rng(3)
    rows = [{"lot": f"L{lot}", "part": lot * 100 + i, "value": float(v)}
            for lot in range(6) for i, v in enumerate(rng.normal(0.0, 1.0, 100))]  # fmt: skip
    rows += [
        {"lot": "L6", "part": 600 + i, "value": float(v)} for i, v in enumerate(rng.normal(8.0, 0.5, 100))
    ]
    tidy = tidy_frame(rows).with_columns(
        pl.col("part_index").cast(pl.String).alias("part_id"),
        pl.lit(1, pl.UInt16).alias("hard_bin"),
        pl.lit(1, pl.UInt16).alias("soft_bin"),
    )
    recipe = loads_recipe('[recipe]\nname = "t"\nversion = "1"\n[pat]\nk = 6.0\n')
    history = {"L6": [f"L{i}" for i in range(6)]}
    with_history = screen(tidy, recipe, history=history)
    pooled = screen(tidy, recipe)
    outliers = {name: pl.from_arrow(r.reasons).filter(pl.col("lot_id") == "L6").height
                for name, r in (("history", with_history), ("pooled", pooled))}  # fmt: skip
    earlier = tidy.filter(pl.col("lot_id") != "L6")["result"].to_list()
    q1, q3 = type7_quantile(earlier, 0.25), type7_quantile(earlier, 0.75)
    hi = statistics.median(earlier) + 6 * (q3 - q1) / 1.35
    assert outliers["history"] == sum(r["value"] > hi for r in rows if r["lot"] == "L6") > 0
    assert outliers["pooled"] < outliers["history"]
    assert any("L0, L1, L2, L3, L4, L5: fewer than 6 earlier lots" in n for n in with_history.notes)


def test_quartile_groups_place_the_order_statistics_a_sort_would():
    """The ranks the linear quartiles and median read (floor((n - 1) q) and the next, q = 0.25,
    0.5, 0.75) hold the values np.sort puts there, in groups of 0 to 300 values with ties and
    NaN; every group keeps its own values."""
    rng = np.random.default_rng(7)
    sizes = np.concatenate([np.arange(0, 40), rng.integers(0, 300, 60)])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    values = rng.normal(size=offsets[-1]).round(1)  # rounded: many ties
    values[rng.random(values.size) < 0.05] = np.nan
    selected = pat._quartile_groups(values, offsets)
    for start, stop in zip(offsets[:-1], offsets[1:], strict=True):
        n = stop - start
        group, expected = selected[start:stop], np.sort(values[start:stop])
        np.testing.assert_array_equal(np.sort(group), expected)
        ranks = {
            r for q in (0.25, 0.5, 0.75) for b in [int(np.floor((n - 1) * q))] for r in (b, min(b + 1, n - 1))
        }
        for rank in sorted(r for r in ranks if r >= 0):
            assert group[rank] == expected[rank] or (np.isnan(group[rank]) and np.isnan(expected[rank]))


def test_selection_that_runs_out_of_rounds_sorts_the_rest():
    """The guard against orders that defeat the pivot: with no partition rounds left the
    selection sorts what remains, and every rank holds what np.sort puts there."""
    rng = np.random.default_rng(11)
    values = rng.normal(size=500).round(1)
    values[rng.random(values.size) < 0.05] = np.nan
    expected = np.sort(values)
    for rounds in (0, 1, 3):
        for rank in (0, 124, 249, 250, 374, 499):
            work = values.copy()
            pat._select(work, 0, work.size - 1, rank, rounds)
            assert work[rank] == expected[rank] or (np.isnan(work[rank]) and np.isnan(expected[rank]))
            np.testing.assert_array_equal(np.sort(work), expected)
            assert all(not (work[i] > work[rank]) for i in range(rank))  # nothing greater before it
