"""Per-test statistics and capability against numbers worked out from their definitions; test time
and units per hour on a written multi-site file."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest

from silicio.stdf import StdfWriter, read, tidy
from silicio.stdf.parts import parts
from silicio.yields.parametric import part_test_times, per_test_statistics, units_per_hour

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
        per_test_statistics(tidy(tables), tests="first")
