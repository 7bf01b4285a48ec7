"""Per-test statistics and capability against numbers worked out from their definitions; test time
and units per hour on a written multi-site file."""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from silicio.stdf import StdfWriter, read, tidy
from silicio.stdf.parts import parts
from silicio.yields.parametric import part_test_times, per_test_statistics, units_per_hour
from silicio.yields.wafermap import parametric_map
from silicio.yields.yield_ import consolidate_retests_tidy
from tests.conftest import shared_stdf

RESULTS = [1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 9.0]  # test 10, limits 0 .. 12, on dies 0..6
FAIL = 0x80


def write(path: Path, records):
    with StdfWriter(path) as w:
        for name, fields in records:
            w.record(name, **fields)
    return read(path)


def ptr(num, result, site=1, flg=0, first=False, lo=0.0, hi=12.0, opt=0x0E):
    fields = {
        "TEST_NUM": num,
        "HEAD_NUM": 1,
        "SITE_NUM": site,
        "TEST_FLG": flg,
        "PARM_FLG": 0,
        "RESULT": result,
    }
    if first:
        fields |= {"TEST_TXT": f"T{num}", "ALARM_ID": "", "OPT_FLAG": opt, "RES_SCAL": 0, "LLM_SCAL": 0,
                   "HLM_SCAL": 0, "LO_LIMIT": lo, "HI_LIMIT": hi, "UNITS": "mA"}  # fmt: skip
    return ("PTR", fields)


def part(x, tests, site=1, test_t=0):
    return [("PIR", {"HEAD_NUM": 1, "SITE_NUM": site}), *tests,
            ("PRR", {"HEAD_NUM": 1, "SITE_NUM": site, "PART_FLG": 0, "NUM_TEST": len(tests), "HARD_BIN": 1,
                     "SOFT_BIN": 1, "X_COORD": x, "Y_COORD": 0, "TEST_T": test_t})]  # fmt: skip


@pytest.fixture
def tables(tmp_path):
    recs = [
        ("MIR", {"LOT_ID": "L1"}),
        ("WIR", {"HEAD_NUM": 1, "SITE_GRP": 255, "START_T": 0, "WAFER_ID": "W"}),
    ]
    for i, r in enumerate(RESULTS):
        # Test 20 has a high limit only (OPT_FLAG bit 6: no low limit) and fails on die 6.
        recs += part(i, [ptr(10, r, first=i == 0), ptr(20, r / 2, first=i == 0, hi=4.0, opt=0x0E | 0x40,
                                                          flg=FAIL if r / 2 > 4 else 0)])  # fmt: skip
    # A retest of die 0: its test 10 result 100.0 replaces 1.0 in the final statistics.
    recs += part(0, [ptr(10, 100.0, flg=FAIL), ptr(20, 0.5)])
    recs.append(("WRR", {"HEAD_NUM": 1, "SITE_GRP": 255, "FINISH_T": 0, "PART_CNT": 8, "WAFER_ID": "W"}))
    return write(tmp_path / "p.stdf", recs)


def test_statistics_from_their_definitions(tables):
    out = {r["test_num"]: r for r in per_test_statistics(tidy(tables), tests="all").to_pylist()}
    t10 = out[10]
    values = RESULTS + [100.0]
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    q1, q3 = np.percentile(values, [25, 75])
    assert (t10["count"], t10["executions"], t10["fail_count"]) == (8, 8, 1)
    assert t10["mean"] == pytest.approx(mean) and t10["std"] == pytest.approx(sd)
    assert t10["median"] == statistics.median(values)
    assert t10["robust_sigma"] == pytest.approx((q3 - q1) / 1.349)
    assert t10["cp"] == pytest.approx((12 - 0) / (6 * sd))
    assert t10["cpk"] == pytest.approx(min(12 - mean, mean - 0) / (3 * sd))
    assert (t10["lo_limit"], t10["hi_limit"], t10["units"]) == (0.0, 12.0, "mA")


def test_final_statistics_keep_each_dies_last_execution(tables):
    out = {r["test_num"]: r for r in per_test_statistics(tidy(tables)).to_pylist()}
    values = [100.0] + RESULTS[1:]
    assert out[10]["count"] == 7 and out[10]["mean"] == pytest.approx(statistics.fmean(values))
    # Test 20 has no low limit: Cp undefined, Cpk the upper index (USL - mean) / 3 sigma.
    t20 = [0.5] + [r / 2 for r in RESULTS[1:]]
    mean, sd = statistics.fmean(t20), statistics.stdev(t20)
    assert out[20]["lo_limit"] is None and out[20]["cp"] is None
    assert out[20]["cpk"] == pytest.approx((4.0 - mean) / (3 * sd))
    assert out[20]["fail_count"] == 1  # 9.0 / 2 = 4.5 > 4


def test_test_time_and_uph_for_a_quad_site_file(tmp_path):
    # Two touchdowns of 4 sites; the sites report in any order; durations are the longest TEST_T.
    recs = [("MIR", {"LOT_ID": "L1"})]
    times = [[1000, 1200, 1100, 1150], [900, 950, 1000, 980]]
    for touchdown, ts in enumerate(times):
        order = [0, 1, 2, 3] if touchdown == 0 else [2, 0, 3, 1]
        for s in order:
            recs.append(("PIR", {"HEAD_NUM": 1, "SITE_NUM": s}))
        for s in order:
            recs += [("PRR", {"HEAD_NUM": 1, "SITE_NUM": s, "PART_FLG": 0, "NUM_TEST": 0, "HARD_BIN": 1,
                              "SOFT_BIN": 1, "X_COORD": -32768, "Y_COORD": -32768, "TEST_T": ts[s],
                              "PART_ID": f"{touchdown}-{s}"})]  # fmt: skip
    p = parts(write(tmp_path / "q.stdf", recs))
    uph = units_per_hour(p)
    assert (uph["parts"], uph["touchdowns"], uph["parts_per_touchdown"]) == (8, 2, 4.0)
    assert uph["uph"] == pytest.approx(3600 * 1000 * 8 / (1200 + 1000))
    (summary,) = part_test_times(p).to_pylist()
    flat = [t for ts in times for t in ts]
    assert summary["parts"] == 8 and summary["mean_ms"] == pytest.approx(statistics.fmean(flat))
    assert summary["median_ms"] == statistics.median(flat) and summary["max_ms"] == 1200


def test_bad_input(tables):
    with pytest.raises(ValueError, match="tests must be one of"):
        per_test_statistics(tidy(tables), tests="last")
    with pytest.raises(ValueError, match="alarms must be one of"):
        per_test_statistics(tidy(tables), alarms="keep")
    # One file's tidy table knows its last insertions; first ones come from consolidation.
    with pytest.raises(ValueError, match="needs is_first_test .*consolidate_retests_tidy"):
        per_test_statistics(tidy(tables), tests="first")
    with pytest.raises(ValueError, match="needs the tidy column test_flg"):
        per_test_statistics(tidy(tables).drop_columns(["test_flg"]))


# --------------------------------------------------------------------------------------------
# Final = each die's last insertion; alarmed results


def wafer_file(path: Path, dies) -> dict:
    """One file of wafer W of lot L1: ``dies`` [(x, [(test, result, flg), ...])], one part each."""
    recs = [
        ("MIR", {"LOT_ID": "L1"}),
        ("WIR", {"HEAD_NUM": 1, "SITE_GRP": 255, "START_T": 0, "WAFER_ID": "W"}),
    ]
    for x, results in dies:
        recs += part(x, [ptr(num, r, flg=flg, first=True) for num, r, flg in results])
    recs.append(
        ("WRR", {"HEAD_NUM": 1, "SITE_GRP": 255, "FINISH_T": 0, "PART_CNT": len(dies), "WAFER_ID": "W"})
    )
    return write(path, recs)


def test_a_retest_in_another_file_supersedes_the_whole_first_insertion(tmp_path):
    # First pass: 4 dies run tests 10 and 20; die 3 fails test 20. The retest file tests die 3
    # again with test 10 only (a flow that skips the test): its test 20 result of the first
    # insertion is superseded, so the final statistics of test 20 leave die 3 out.
    first = wafer_file(tmp_path / "first.stdf", [(x, [(10, 1.0 + x, 0), (20, v, FAIL if v > 12 else 0)])
                                                 for x, v in enumerate([2.0, 3.0, 5.0, 50.0])])  # fmt: skip
    retest = wafer_file(tmp_path / "retest.stdf", [(3, [(10, 7.5, 0)])])
    files = [("first", first), ("retest", retest)]
    lot_parts = pa.concat_tables(
        [parts(t).append_column("file", pa.array([f] * len(t["PRR"]))) for f, t in files]
    )
    lot_tidy = pa.concat_tables(
        [tidy(t).append_column("file", pa.array([f] * len(t["PTR"]))) for f, t in files]
    )
    # Within the retest file, die 3 is its own last insertion, and tidy cannot see the first.
    assert pl.from_arrow(lot_tidy).filter(pl.col("x") == 3).get_column("is_last_test").to_list() == [True] * 3
    consolidated = consolidate_retests_tidy(lot_tidy, lot_parts, on=["file", "part_index"])
    assert consolidated.column("is_last_test").to_pylist() == [True] * 6 + [False, False, True]
    assert consolidated.column("is_first_test").to_pylist() == [True] * 8 + [False]

    final = {r["test_num"]: r for r in per_test_statistics(consolidated).to_pylist()}
    assert (final[20]["count"], final[20]["fail_count"]) == (3, 0)
    assert final[20]["mean"] == pytest.approx(statistics.fmean([2.0, 3.0, 5.0]))
    assert final[10]["count"] == 4
    assert final[10]["mean"] == pytest.approx(statistics.fmean([1.0, 2.0, 3.0, 7.5]))
    # The first-pass view and the all-insertions view stay available.
    first_pass = {r["test_num"]: r for r in per_test_statistics(consolidated, tests="first").to_pylist()}
    assert (first_pass[20]["count"], first_pass[20]["fail_count"]) == (4, 1)
    assert first_pass[10]["mean"] == pytest.approx(statistics.fmean([1.0, 2.0, 3.0, 4.0]))
    every = {r["test_num"]: r for r in per_test_statistics(consolidated, tests="all").to_pylist()}
    assert (every[10]["count"], every[20]["count"]) == (5, 4)
    # The retest's map of test 20 has no value for die 3; its first-pass map has the failure.
    assert parametric_map(consolidated, 20).x.tolist() == [0, 1, 2]
    assert parametric_map(consolidated, 20, tests="first").value.tolist() == [2.0, 3.0, 5.0, 50.0]


def test_alarmed_results_are_left_out_counted_and_can_be_kept(tmp_path):
    # TEST_FLG bit 0 "alarm detected during testing" on die 2's test 10 (with bit 7: failed).
    values = [1.0, 2.0, 40.0, 3.0, 4.0]
    flags = [0, 0, 0x81, 0, 0]
    t = tidy(
        wafer_file(
            tmp_path / "a.stdf",
            [(x, [(10, v, f)]) for x, (v, f) in enumerate(zip(values, flags, strict=True))],
        )
    )
    (row,) = per_test_statistics(t).to_pylist()
    kept = [1.0, 2.0, 3.0, 4.0]
    assert (row["count"], row["alarm_count"], row["executions"], row["fail_count"]) == (4, 1, 5, 0)
    assert row["mean"] == pytest.approx(statistics.fmean(kept))
    assert row["std"] == pytest.approx(statistics.stdev(kept))
    (row,) = per_test_statistics(t, alarms="include").to_pylist()
    assert (row["count"], row["alarm_count"], row["executions"], row["fail_count"]) == (5, 1, 5, 1)
    assert row["mean"] == pytest.approx(statistics.fmean(values))


GALAXY_LOT3 = "galaxy_lot3_A530_BE.stdf"


def test_galaxy_lot3_final_statistics_come_from_each_dies_last_insertion():
    tables = read(shared_stdf(GALAXY_LOT3))
    # Independently, from the raw records: the die of a PRR is its (X, Y) on the one wafer; a
    # die's last PRR is its last insertion; a PTR belongs to the PRR that closes its part
    # (one site: the first PRR after it).
    prr, ptr_t = tables["PRR"], tables["PTR"]
    xy = list(zip(prr.column("X_COORD").to_pylist(), prr.column("Y_COORD").to_pylist(), strict=True))
    last_prr = {d: i for i, d in enumerate(xy)}
    is_last = np.array([last_prr[d] == i for i, d in enumerate(xy)])
    owner = np.searchsorted(prr.column("seq").to_numpy(), ptr_t.column("seq").to_numpy())
    num, flg = ptr_t.column("TEST_NUM").to_numpy(), ptr_t.column("TEST_FLG").to_numpy()
    final = is_last[owner] & (flg & 0x01 == 0)
    chosen = final & (num == 1440)
    values = ptr_t.column("RESULT").to_numpy()[chosen].astype(np.float64)
    lo, hi = ptr_t.column("LO_LIMIT").to_numpy()[chosen][0], ptr_t.column("HI_LIMIT").to_numpy()[chosen][0]
    mean, sd = values.mean(), values.std(ddof=1)
    assert values.size == 703  # 719 when a test's last execution on a die counted, whatever insertion

    stats = {r["test_num"]: r for r in per_test_statistics(tidy(tables)).to_pylist()}
    assert stats[1440]["count"] == 703
    assert stats[1440]["cpk"] == pytest.approx(min(hi - mean, mean - lo) / (3 * sd), rel=1e-6)
    assert stats[1440]["cpk"] > 13  # it was 0.31, among the worst tests, from superseded results
    # Alarmed results (TEST_FLG bit 0) of final insertions, counted per test.
    alarmed = Counter(num[is_last[owner] & (flg & 0x01 != 0)].tolist())
    assert {t: r["alarm_count"] for t, r in stats.items() if r["alarm_count"]} == dict(alarmed)
    assert sum(alarmed.values()) > 0
