"""The lot history's limits and judgements on hand-made counts of final dies (no lake): SYL / SBL
per lot and per wafer against numpy, severity, what is never judged, static PAT limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from silicio.yields.history import (
    BaselineKey,
    HistorySettings,
    NotEnoughHistory,
    compute_baseline,
    eligible,
    judge_lot,
    yield_limit_table,
)

KEY = BaselineKey("P1", "wafer_sort", "PROG", "1")
T0 = datetime(2025, 1, 6, 8, tzinfo=UTC)
NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)

#: Per lot, per wafer: (good dies, {soft bin: failing dies}); 50 dies a wafer.
HISTORY = {
    "A": [(45, {5: 3, 7: 2}), (46, {5: 2, 7: 2})],
    "B": [(47, {5: 2, 7: 1}), (44, {5: 4, 7: 2})],
    "C": [(48, {5: 1, 7: 1}), (46, {5: 3, 7: 1})],
    "D": [(46, {5: 4}), (47, {5: 2, 7: 1})],
    "E": [(49, {5: 1}), (45, {5: 3, 7: 2})],
    "F": [(45, {5: 4, 7: 1}), (47, {5: 2, 7: 1})],
}
LOTS = [(lot, T0 + timedelta(days=i)) for i, lot in enumerate(HISTORY)]


def counts(lots: dict, *, wafers: bool = True, bin_column: str = "soft_bin") -> pa.Table:
    rows = []
    for lot, lot_wafers in lots.items():
        for index, (good, fails) in enumerate(lot_wafers):
            wafer = f"{lot}-{index + 1}" if wafers else None
            rows.append(
                {"lot": lot, "wafer_id": wafer, "hard_bin": 1, "soft_bin": 1, "passed": True, "dies": good}
            )
            for b, n in fails.items():
                rows.append(
                    {"lot": lot, "wafer_id": wafer, "hard_bin": 2, "soft_bin": b, "passed": False, "dies": n}
                )
    schema = pa.schema([("lot", pa.string()), ("wafer_id", pa.string()), ("hard_bin", pa.uint16()),
                        ("soft_bin", pa.uint16()), ("passed", pa.bool_()), ("dies", pa.int64())])  # fmt: skip
    return pa.Table.from_pylist(rows, schema=schema)


def lot_values(lots: dict, what) -> np.ndarray:
    return np.array([what(wafers) for wafers in lots.values()], dtype=float)


def lot_yield(wafers) -> float:
    return sum(g for g, _ in wafers) / sum(g + sum(f.values()) for g, f in wafers)


def lot_fallout(bin_number: int):
    return lambda wafers: (
        sum(f.get(bin_number, 0) for _, f in wafers) / sum(g + sum(f.values()) for g, f in wafers)
    )


def limits_of(table: pa.Table) -> dict:
    return {(r["scope"], r["kind"], r["bin"]): r for r in table.to_pylist()}


def test_syl_and_sbl_per_lot_and_per_wafer_are_mean_and_sample_sigma():
    limits = limits_of(yield_limit_table(counts(HISTORY)))
    yields = lot_values(HISTORY, lot_yield)
    syl = limits[("lot", "SYL", None)]
    assert (syl["mean"], syl["sigma"]) == (pytest.approx(yields.mean()), pytest.approx(yields.std(ddof=1)))
    assert syl["limit1"] == pytest.approx(yields.mean() - 3 * yields.std(ddof=1))
    assert syl["limit2"] == pytest.approx(yields.mean() - 4 * yields.std(ddof=1))
    # Lot D has no bin 7 in its first wafer, lot E none in its first: zeros count (AEC-Q002).
    fallout7 = lot_values(HISTORY, lot_fallout(7))
    sbl7 = limits[("lot", "SBL", 7)]
    assert sbl7["limit1"] == pytest.approx(fallout7.mean() + 3 * fallout7.std(ddof=1))
    assert sbl7["limit2"] == pytest.approx(fallout7.mean() + 4 * fallout7.std(ddof=1))
    wafer_yields = np.array([g / (g + sum(f.values())) for w in HISTORY.values() for g, f in w])
    wafer_syl = limits[("wafer", "SYL", None)]
    assert (wafer_syl["n_lots"], wafer_syl["n_values"]) == (6, 12)
    assert wafer_syl["limit1"] == pytest.approx(wafer_yields.mean() - 3 * wafer_yields.std(ddof=1))
    wafer_fallout7 = np.array([f.get(7, 0) / (g + sum(f.values())) for w in HISTORY.values() for g, f in w])
    assert limits[("wafer", "SBL", 7)]["limit1"] == pytest.approx(
        wafer_fallout7.mean() + 3 * wafer_fallout7.std(ddof=1)
    )
    assert set(limits) == {
        (s, k, b) for s in ("lot", "wafer") for k, b in (("SYL", None), ("SBL", 5), ("SBL", 7))
    }


def test_no_wafer_limits_without_wafers():
    limits = limits_of(yield_limit_table(counts(HISTORY, wafers=False)))
    assert {scope for scope, _, _ in limits} == {"lot"}


def test_a_baseline_needs_min_lots_lots():
    five = dict(list(HISTORY.items())[:5])
    with pytest.raises(NotEnoughHistory, match="5 lot"):
        compute_baseline(KEY, LOTS[:5], counts(five), computed_at=NOW)
    with pytest.raises(NotEnoughHistory, match="no tested parts for lot"):
        compute_baseline(KEY, [*LOTS[:5], ("Z", T0)], counts(five), computed_at=NOW)
    with pytest.raises(ValueError, match="time zone"):
        compute_baseline(KEY, LOTS, counts(HISTORY), computed_at=datetime(2025, 3, 1))


def test_baseline_records_its_lots_parameters_and_review_date():
    settings = HistorySettings(review_days=30)
    baseline = compute_baseline(
        KEY, list(reversed(LOTS)), counts(HISTORY), settings=settings, computed_at=NOW
    )
    assert baseline.lot_ids == list(HISTORY)  # oldest first, whatever order they came in
    assert baseline.review_by == date(2025, 3, 31)
    assert baseline.parameters["review_days"] == 30 and baseline.parameters["min_lots"] == 6
    assert [(lot.parts, lot.good_parts) for lot in baseline.lots][:1] == [(100, 91)]
    assert baseline.version is None and baseline.pat_limits is None


def test_judging_flags_the_most_severe_rule_and_never_the_baselines_own_lot():
    baseline = compute_baseline(KEY, LOTS, counts(HISTORY), computed_at=NOW)
    syl = limits_of(baseline.yield_limits)[("lot", "SYL", None)]
    # A lot between SYL2 and SYL1: 100 dies, its yield set by hand below SYL1 and above SYL2.
    good = int(np.floor(syl["limit1"] * 100))
    assert syl["limit2"] * 100 < good < syl["limit1"] * 100
    new = {"N": [(good // 2, {5: 50 - good // 2}), (good - good // 2, {9: 50 - (good - good // 2)})]}
    flags = judge_lot(baseline, counts(new), "N").to_pylist()
    lot_flags = [f for f in flags if f["scope"] == "lot"]
    assert [(f["rule"], f["bin"]) for f in lot_flags if f["bin"] is None] == [("SYL1", None)]
    assert lot_flags[0]["value"] == pytest.approx(good / 100) and lot_flags[0]["limit"] == pytest.approx(
        syl["limit1"]
    )
    assert lot_flags[0]["baseline_lots"] == list(HISTORY) and lot_flags[0]["n_values"] == 6
    # Bin 9 never failed in the history: no limit, not judged.
    assert 9 not in {f["bin"] for f in flags}
    with pytest.raises(ValueError, match="never judged against limits computed from itself"):
        judge_lot(baseline, counts(HISTORY), "C")


def test_a_null_limit_is_no_limit():
    """A baseline read back with a null SYL1 (SQLite stores a NaN as null) judges SYL2 alone."""
    baseline = compute_baseline(KEY, LOTS, counts(HISTORY), computed_at=NOW)
    rows = baseline.yield_limits.to_pylist()
    lot_syl = next(r for r in rows if (r["scope"], r["kind"]) == ("lot", "SYL"))
    syl1, syl2 = lot_syl["limit1"], lot_syl["limit2"]
    lot_syl["limit1"] = None
    nulled = replace(baseline, yield_limits=pa.Table.from_pylist(rows, schema=baseline.yield_limits.schema))

    def lot_rules(judged, good: int) -> list[str]:  # good dies of a lot of 100 (two wafers of 50)
        lot = {"N": [(good // 2, {5: 50 - good // 2}), (good - good // 2, {5: 50 - (good - good // 2)})]}
        return [f["rule"] for f in judge_lot(judged, counts(lot), "N").to_pylist()
                if f["scope"] == "lot" and f["bin"] is None]  # fmt: skip

    below_both, between = int(np.floor(syl2 * 100)) - 1, int(np.floor(syl2 * 100)) + 1
    assert below_both < syl2 * 100 < between < syl1 * 100
    assert lot_rules(baseline, below_both) == lot_rules(nulled, below_both) == ["SYL2"]
    assert lot_rules(baseline, between) == ["SYL1"]
    assert lot_rules(nulled, between) == []


def test_a_die_without_a_verdict_is_not_good():
    baseline = compute_baseline(KEY, LOTS, counts(HISTORY), computed_at=NOW)
    table = counts({"N": [(25, {}), (25, {})]})
    # Half the dies of each wafer with no pass / fail indication.
    unknown = table.to_pylist()
    unknown += [{**row, "passed": None, "soft_bin": None} for row in unknown]
    flags = judge_lot(baseline, pa.Table.from_pylist(unknown, schema=table.schema), "N").to_pylist()
    [syl] = [f for f in flags if f["scope"] == "lot" and f["bin"] is None]
    assert (syl["rule"], syl["value"], syl["parts"], syl["count"]) == ("SYL2", 0.5, 100, 50)


def test_eligible_baselines_are_of_earlier_lots_only():
    baseline = compute_baseline(KEY, LOTS, counts(HISTORY), computed_at=NOW)
    last = LOTS[-1][1]
    assert eligible(baseline, "N", last + timedelta(seconds=1))
    assert not eligible(baseline, "N", last)  # tested no later than a lot of the baseline
    assert not eligible(baseline, "F", last + timedelta(days=9))


def _tidy(lots: list[str]) -> pa.Table:
    rng = np.random.default_rng(3)
    rows = []
    for lot in lots:
        for part in range(40):
            rows.append({"lot_id": lot, "wafer_id": "W1", "part_index": part, "test_num": 7, "test_name": "IDD",
                         "pin": None, "test_type": "P", "result": float(rng.normal(1.0, 0.1)), "lo_limit": 0.0,
                         "hi_limit": 2.0, "part_passed": part != 0, "is_last_test": True})  # fmt: skip
    return pa.Table.from_pylist(rows)


def test_static_pat_limits_from_the_passing_parts_of_the_baseline_lots():
    tidy = _tidy([*HISTORY, "LATER"])  # a lot outside the baseline is left out
    baseline = compute_baseline(KEY, LOTS, counts(HISTORY), tidy=tidy, computed_at=NOW)
    [row] = baseline.pat_limits.to_pylist()
    values = np.array([r["result"] for r in tidy.to_pylist() if r["lot_id"] in HISTORY and r["part_passed"]])
    q1, q3 = np.quantile(values, [0.25, 0.75])
    assert row["n_lots"] == 6 and row["n_parts"] == len(values) == 6 * 39
    assert row["robust_mean"] == pytest.approx(np.median(values))
    assert row["pat_lo"] == pytest.approx(np.median(values) - 6 * (q3 - q1) / 1.35)
    assert row["pat_hi"] == pytest.approx(np.median(values) + 6 * (q3 - q1) / 1.35)


def test_no_static_pat_limits_without_enough_lots_of_results_is_said():
    baseline = compute_baseline(KEY, LOTS, counts(HISTORY), tidy=_tidy(list(HISTORY)[:3]), computed_at=NOW)
    assert baseline.pat_limits is None
    assert "no static PAT limits" in baseline.notes[0] and "at least 6 lots" in baseline.notes[0]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"min_lots": 1}, "min_lots must be an integer >= 2"),
        ({"max_lots": 3}, "max_lots must be None or an integer >= min_lots"),
        ({"bin_column": "bin"}, "bin_column must be one of"),
        ({"pat_k": 0}, "pat_k must be a positive number"),
        ({"iqr_zero": "zero"}, "iqr_zero must be one of"),
        ({"review_days": 0}, "review_days must be a positive integer"),
    ],
)
def test_settings_are_checked(options, message):
    with pytest.raises(ValueError, match=message):
        HistorySettings(**options)
