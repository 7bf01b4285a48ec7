"""The demo lot: deterministic, internally consistent, and read back as generated."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pytest

from silicio.demo.stdf_demo import FIRST_START, SITES, TESTS, simulate_lot, wafer_map, write_demo_stdf
from silicio.stdf import read


@pytest.fixture(scope="module")
def lot():
    return simulate_lot(seed=0)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    return read(write_demo_stdf(tmp_path_factory.mktemp("demo") / "lot.stdf", seed=0))


def test_same_seed_gives_the_same_bytes(tmp_path):
    first = write_demo_stdf(tmp_path / "a.stdf", seed=3).read_bytes()
    second = write_demo_stdf(tmp_path / "b.stdf", seed=3).read_bytes()
    other = write_demo_stdf(tmp_path / "c.stdf", seed=4).read_bytes()
    assert first == second
    assert first != other


def test_file_holds_every_record_a_sort_lot_has(tables):
    for name in (
        "FAR",
        "MIR",
        "SDR",
        "WCR",
        "WIR",
        "PIR",
        "PTR",
        "PRR",
        "WRR",
        "HBR",
        "SBR",
        "PCR",
        "TSR",
        "MRR",
    ):
        assert tables[name].num_rows > 0, name
    assert tables.issues == []
    assert tables["FAR"].column("CPU_TYPE").to_pylist() == [2]


def test_parts_come_back_as_generated(lot, tables):
    prr = tables["PRR"]
    assert prr.num_rows == lot.parts == 2 * len(wafer_map(16)[0])
    x = np.concatenate([w.x for w in lot.wafers])
    y = np.concatenate([w.y for w in lot.wafers])
    assert prr.column("X_COORD").to_pylist() == x.tolist()
    assert prr.column("Y_COORD").to_pylist() == y.tolist()
    assert prr.column("SITE_NUM").to_pylist() == np.concatenate([w.site for w in lot.wafers]).tolist()
    passed = np.concatenate([w.passed for w in lot.wafers])
    assert (np.array(prr.column("PART_FLG").to_pylist()) == np.where(passed, 0, 0x08)).all()
    assert prr.column("SOFT_BIN").to_pylist() == np.concatenate([w.soft_bin for w in lot.wafers]).tolist()
    assert prr.column("NUM_TEST").to_pylist() == np.concatenate([w.tests_run for w in lot.wafers]).tolist()
    assert prr.column("PART_ID").to_pylist() == [str(i) for i in range(1, lot.parts + 1)]


def test_some_dies_fail_and_most_pass(lot):
    assert 0.8 * lot.parts < lot.good_parts < lot.parts


def test_edge_dies_fail_more_often_than_centre_dies(lot):
    _, _, edge = wafer_map(lot.dies_per_side)
    failed = np.concatenate([~w.passed for w in lot.wafers])
    on_edge = np.concatenate([edge] * len(lot.wafers))
    assert failed[on_edge].mean() > failed[~on_edge].mean()


def test_results_and_limits_ride_on_ptrs_like_a_tester_writes_them(lot, tables):
    ptr = tables["PTR"]
    assert ptr.num_rows == sum(int(w.tests_run.sum()) for w in lot.wafers)
    numbers = ptr.column("TEST_NUM").to_pylist()
    first_of_each = {n: numbers.index(n) for n in {t.number for t in TESTS}}
    lo = ptr.column("LO_LIMIT").to_pylist()
    units = ptr.column("UNITS").to_pylist()
    for test in TESTS:
        row = first_of_each[test.number]
        assert lo[row] == pytest.approx(test.low, rel=1e-6, abs=1e-12)
        assert units[row] == test.units
    # Only the first PTR of each test carries limits and units.
    assert pc.sum(pc.is_valid(ptr.column("UNITS"))).as_py() == len(TESTS)
    # Results are the generated float32 values, in test order per touchdown.
    wafer = lot.wafers[0]
    first_die = ptr.filter(pc.equal(ptr.column("SITE_NUM"), SITES[0])).slice(0, int(wafer.tests_run[0]))
    expected = wafer.results[0, : wafer.tests_run[0]]
    assert np.array(first_die.column("RESULT").to_pylist(), np.float32).tolist() == expected.tolist()


def test_failing_result_sets_the_failure_flags(tables):
    ptr = tables["PTR"]
    failed = ptr.filter(pc.equal(ptr.column("TEST_FLG"), 0x80))
    assert failed.num_rows > 0
    for row in failed.select(["TEST_NUM", "PARM_FLG", "RESULT"]).to_pylist():
        test = next(t for t in TESTS if t.number == row["TEST_NUM"])
        above = np.float32(row["RESULT"]) > np.float32(test.high)
        assert row["PARM_FLG"] & (0x08 if above else 0x10)


def test_summaries_add_up_to_the_parts(lot, tables):
    assert sum(tables["HBR"].column("HBIN_CNT").to_pylist()) == lot.parts
    assert sum(tables["SBR"].column("SBIN_CNT").to_pylist()) == lot.parts
    total = tables["PCR"].filter(pc.equal(tables["PCR"].column("HEAD_NUM"), 255)).to_pylist()[0]
    assert (total["PART_CNT"], total["GOOD_CNT"]) == (lot.parts, lot.good_parts)
    wrr = tables["WRR"].to_pylist()
    assert [w["WAFER_ID"] for w in wrr] == [w.wafer_id for w in lot.wafers]
    assert [w["GOOD_CNT"] for w in wrr] == [int(w.passed.sum()) for w in lot.wafers]
    tsr = tables["TSR"]
    assert sum(tsr.column("EXEC_CNT").to_pylist()) == tables["PTR"].num_rows
    assert sum(tsr.column("FAIL_CNT").to_pylist()) == lot.parts - lot.good_parts


def test_lot_header_and_times(lot, tables):
    mir = tables["MIR"].to_pylist()[0]
    assert mir["LOT_ID"] == lot.lot_id == "TK41870"
    assert mir["PART_TYP"] == "TCX4417-Q1"
    assert mir["START_T"] == FIRST_START
    assert tables["MRR"].column("FINISH_T").to_pylist() == [lot.finished]
    assert lot.finished > lot.started


def test_size_and_program_follow_the_arguments(tmp_path):
    tables = read(write_demo_stdf(tmp_path / "small.stdf", seed=1, wafers=3, dies_per_side=6, tests=4))
    assert tables["WIR"].num_rows == 3
    assert tables["PRR"].num_rows == 3 * len(wafer_map(6)[0])
    assert set(tables["PTR"].column("TEST_NUM").to_pylist()) <= {t.number for t in TESTS[:4]}


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="tests must be from 1 to 12"):
        simulate_lot(tests=0)
    with pytest.raises(ValueError, match="at least one wafer"):
        simulate_lot(wafers=0)
