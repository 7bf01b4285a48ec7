"""Test-to-test correlation within a stage and the redundant tests it reveals, against Pearson's r
computed here pair by pair over the units that have both results."""

from __future__ import annotations

import math

import numpy as np
import pytest

from silicio.correlate import correlation_matrix, redundant_tests, tsr_test_times
from silicio.stdf import read, tidy
from tests.correlate.stdf_files import Part, write_file

TESTS = {10: ("VDD_LEAK", 0.0, 2.0, "uA"), 20: ("VDD_LEAK_X2", 1.0, 5.0, "uA"), 30: ("IDDQ", 0.0, 10.0, "mA"),
         40: ("VDD_LEAK_B", 0.0, 2.0, "uA")}  # fmt: skip
T10 = [0.2, 0.5, 0.9, 2.4, 1.1, 0.7]
T30 = [3.0, 1.0, 4.0, 1.0, 5.0, None]  # the last unit skipped test 30
T40 = [0.21, 0.52, 0.88, 1.9, 1.13, 0.69]
TIMES = {10: 0.002, 20: 0.005, 30: 0.010}


def pearson(x, y):
    pairs = [(a, b) for a, b in zip(x, y, strict=True) if a is not None and b is not None]
    n = len(pairs)
    mx, my = sum(a for a, _ in pairs) / n, sum(b for _, b in pairs) / n
    sxy = sum((a - mx) * (b - my) for a, b in pairs)
    sxx, syy = sum((a - mx) ** 2 for a, _ in pairs), sum((b - my) ** 2 for _, b in pairs)
    return sxy / math.sqrt(sxx * syy), n


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    parts = []
    for i, (t10, t30, t40) in enumerate(zip(T10, T30, T40, strict=True)):
        results = {10: t10, 20: 2 * t10 + 1, 40: t40}
        if t30 is not None:
            results[30] = t30
        # Unit 3 (2.4 uA) fails test 10 and test 20 (5.8 > 5) alike; test 40 (1.9) fails unit 4 instead.
        failed = {10, 20} if i == 3 else ({40} if i == 4 else set())
        parts.append(Part(site=1, results=results, x=i, y=0, failed_tests=failed, hard_bin=2 if failed else 1,
                          touchdown=True))  # fmt: skip
    path = write_file(tmp_path_factory.mktemp("matrix") / "s.stdf", parts, tests=TESTS, test_times=TIMES)
    return read(path)


def test_matrix_is_pearson_pair_by_pair(stage):
    got = correlation_matrix(tidy(stage))
    assert got.tests.column("test_num").to_pylist() == [10, 20, 30, 40]
    columns = {10: T10, 20: [2 * v + 1 for v in T10], 30: T30, 40: T40}
    for i, a in enumerate(columns):
        for j, b in enumerate(columns):
            r, n = pearson(columns[a], columns[b])
            assert got.n[i, j] == n
            assert got.r[i, j] == pytest.approx(r, abs=1e-6), (a, b)  # PTR RESULT is a float32
    assert got.tests.column("fails").to_pylist() == [1, 1, 0, 1]
    assert got.same_fails[0, 1] and not got.same_fails[0, 3]


def test_redundant_tests_fail_the_same_units_and_cost_their_time(stage):
    got = redundant_tests(correlation_matrix(tidy(stage)), threshold=0.95, times=tsr_test_times(stage))
    rows = got.to_pylist()
    # 10 and 20 are one line apart (r = 1) and fail the same unit; 40 follows 10 closely
    # (r > 0.95) but fails another unit, so it is not redundant with it.
    assert pearson(T10, T40)[0] > 0.95
    assert [(r["test_num_a"], r["test_num_b"]) for r in rows] == [(10, 20)]
    assert rows[0]["r"] == pytest.approx(1.0) and rows[0]["fails"] == 1 and rows[0]["units"] == 6
    assert (rows[0]["time_s_a"], rows[0]["time_s_b"]) == (pytest.approx(0.002), pytest.approx(0.005))
    # A stricter threshold than r keeps nothing; a file without TSR times gives null times.
    assert redundant_tests(correlation_matrix(tidy(stage)), threshold=0.95).to_pylist()[0]["time_s_a"] is None
    with pytest.raises(ValueError, match="between 0 and 1"):
        redundant_tests(correlation_matrix(tidy(stage)), threshold=1.5)


def test_tsr_times_leave_out_the_invalid_ones(stage):
    times = dict(tsr_test_times(stage).iter_rows())
    assert times == {10: pytest.approx(0.002), 20: pytest.approx(0.005), 30: pytest.approx(0.010)}


def test_matrix_keeps_large_offsets_well_conditioned():
    # Results near 1e6 with a spread of 1e-3: raw sums of squares would lose every digit.
    import polars as pl

    base = [0.0, 1.0, 3.0, 2.0, 5.0]
    rows = []
    for unit, v in enumerate(base):
        rows += [{"test_type": "P", "test_num": 1, "test_name": "A", "pin": None, "part_index": unit,
                  "result": 1e6 + 1e-3 * v, "passed": True},
                 {"test_type": "P", "test_num": 2, "test_name": "B", "pin": None, "part_index": unit,
                  "result": 1e-3 * v * v, "passed": True}]  # fmt: skip
    got = correlation_matrix(pl.DataFrame(rows))
    assert got.r[0, 1] == pytest.approx(pearson(base, [v * v for v in base])[0], abs=1e-6)
    assert np.isfinite(got.r).all()
