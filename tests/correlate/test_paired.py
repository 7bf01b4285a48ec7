"""Tester-to-tester / file-to-file correlation of the same dies, and gage R&R across testers.

Two small files written here: side a tests five dies (one retested), side b four of them and one
of its own. Every statistic is recomputed from the readings the test itself chose, by the plain
formulas of tests/correlate/test_agreement.py.
"""

from __future__ import annotations

import math

import polars as pl
import pytest

from silicio.correlate import Tolerance, ate_gage_study, correlate, label_sides
from silicio.metrology import gage_rr_anova
from silicio.stdf import parts, read, tidy
from tests.correlate.stdf_files import Part, write_file
from tests.correlate.test_agreement import hand_agreement

# (x, y) -> final readings of tests 10 and 20 on side a
A_FINAL = {(0, 0): (0.50, 2.00), (1, 0): (0.70, 2.10), (2, 0): (0.90, 1.95), (0, 1): (1.10, 2.30),
           (1, 1): (1.30, 2.20)}  # fmt: skip
# side b: test 10 reads 0.3 higher (plus a little), test 20 within 0.02
B_READS = {(0, 0): (0.81, 2.01), (1, 0): (0.99, 2.12), (2, 0): (1.22, 1.96), (0, 1): (1.40, 2.31),
           (7, 7): (1.00, 2.00)}  # fmt: skip


@pytest.fixture(scope="module")
def two_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pair")
    a_parts = []
    for i, (xy, (t10, t20)) in enumerate(A_FINAL.items()):
        if xy == (2, 0):  # first tested failing with other readings, then retested
            a_parts.append(
                Part(site=1 + i % 2, results={10: 5.0, 20: 9.0}, hard_bin=3, x=2, y=0, failed_tests={10})
            )
            continue
        a_parts.append(Part(site=1 + i % 2, results={10: t10, 20: t20}, x=xy[0], y=xy[1]))
    a_parts.append(
        Part(site=1, results={10: A_FINAL[(2, 0)][0], 20: A_FINAL[(2, 0)][1]}, x=2, y=0, touchdown=True)
    )
    b_parts = [Part(site=1 + i % 2, results={10: t10, 20: t20}, x=xy[0], y=xy[1], hard_bin=5 if xy == (0, 1) else 1)
               for i, (xy, (t10, t20)) in enumerate(B_READS.items())]  # fmt: skip
    a = write_file(folder / "a.stdf", a_parts, node="tester-1")
    b = write_file(folder / "b.stdf", b_parts, node="tester-2")
    return a, b


def test_file_to_file_statistics_per_test(two_files):
    a, b = two_files
    report = correlate(read(a), read(b), tolerance=Tolerance.parse("5%limits"))
    assert report.unit_key == ("wafer_id", "x", "y")
    assert (report.units_a, report.units_b, report.units_matched) == (5, 5, 4)
    common = [xy for xy in A_FINAL if xy in B_READS]
    rows = {r["test_num"]: r for r in report.tests.to_pylist()}
    assert sorted(rows) == [10, 20]
    for k, num in enumerate((10, 20)):
        expected = hand_agreement([A_FINAL[xy][k] for xy in common], [B_READS[xy][k] for xy in common])
        for name, value in expected.items():
            assert rows[num][name] == pytest.approx(value, rel=1e-5, abs=1e-6), (num, name)
        assert rows[num]["lo_limit"] == 0.0 or rows[num]["lo_limit"] == 1.0
    # 5 % of the window (2.0 for both tests) allows |bias| 0.1: test 10 (bias ~0.31) disagrees.
    assert [r["test_num"] for r in report.disagreeing.to_pylist()] == [10]
    assert rows[10]["allowed_bias"] == pytest.approx(0.1) and rows[20]["disagrees"] is False
    # Die (0, 1) passes on a and fails on b; the others pass on both.
    assert (report.part_verdicts, report.part_flips) == (4, 1)
    assert report.part_flip_share == pytest.approx(0.25)


def test_the_retest_is_the_final_reading(two_files):
    a, b = two_files
    report = correlate(read(a), read(b))
    row = next(r for r in report.tests.to_pylist() if r["test_num"] == 10)
    # Had the failing first insertion (5.0) of die (2, 0) counted, the mean of a would include it.
    common = [xy for xy in A_FINAL if xy in B_READS]
    assert row["mean_a"] == pytest.approx(sum(A_FINAL[xy][0] for xy in common) / 4)
    assert report.disagreeing.num_rows == 0 and "allowed_bias" not in report.tests.column_names


def test_tolerances_absolute_and_relative(two_files):
    a, b = two_files
    ta, tb = read(a), read(b)
    absolute = correlate(ta, tb, tolerance=Tolerance.parse("0.05"))
    assert [r["test_num"] for r in absolute.disagreeing.to_pylist()] == [10]
    # 2 % of |mean a| (test 20: ~2.1 -> 0.042, bias 0.01; test 10: ~0.8 -> 0.016, bias 0.31)
    relative = correlate(ta, tb, tolerance=Tolerance.parse("2%"))
    rows = {r["test_num"]: r for r in relative.tests.to_pylist()}
    assert rows[20]["allowed_bias"] == pytest.approx(0.02 * abs(rows[20]["mean_a"]))
    assert [r["test_num"] for r in relative.disagreeing.to_pylist()] == [10]
    wide = correlate(ta, tb, tolerance=Tolerance.parse("0.5"))
    assert wide.disagreeing.num_rows == 0


@pytest.mark.parametrize("text", ["", "abc", "5%%", "-1", "nan"])
def test_a_bad_tolerance_is_refused(text):
    with pytest.raises(ValueError, match="tolerance|>= 0"):
        Tolerance.parse(text)


def test_parts_without_coordinates_match_on_part_id(tmp_path):
    a = write_file(tmp_path / "a.stdf", [Part(site=1, results={10: v}, part_id=f"U{i}") for i, v in
                                         enumerate([0.1, 0.4, 0.2])], wafer=None, test_cod="FT1")  # fmt: skip
    b = write_file(tmp_path / "b.stdf", [Part(site=2, results={10: v}, part_id=f"U{i}") for i, v in
                                         enumerate([0.2, 0.5, 0.2])], wafer=None, test_cod="FT1")  # fmt: skip
    report = correlate(read(a), read(b))
    assert report.unit_key == ("part_id",) and report.units_matched == 3
    row = report.tests.to_pylist()[0]
    assert row["bias"] == pytest.approx((0.1 + 0.1 + 0.0) / 3)
    by_xy = correlate(read(a), read(b), on="xy")
    assert by_xy.units_matched == 0 and by_xy.tests.num_rows == 0
    assert "side a: 3 of 3 parts have no x/y and are left out" in by_xy.notes


def test_a_key_that_does_not_identify_units_is_refused(tmp_path):
    same_id = [Part(site=1, results={10: 0.1}, part_id="U1"), Part(site=2, results={10: 0.2}, part_id="U1")]
    a = write_file(tmp_path / "a.stdf", same_id, wafer=None, test_cod="FT1")
    # Two different dies of a wafer carry the same PART_ID: matching on it would pair the wrong ones.
    b = write_file(tmp_path / "b.stdf", [Part(site=1, results={10: 0.1}, part_id="U1", x=0, y=0),
                                         Part(site=2, results={10: 0.2}, part_id="U1", x=1, y=0)])  # fmt: skip
    with pytest.raises(ValueError, match="not unique"):
        correlate(read(b), read(b), on="part_id")
    assert correlate(read(b), read(b)).units_matched == 2
    assert a.exists()


def test_gage_study_across_testers_is_metrologys(tmp_path):
    # 3 parts x 2 testers x 2 trials of test 10 (each part inserted twice on each tester).
    readings = {"T1": {"U1": [1.00, 1.02], "U2": [1.50, 1.49], "U3": [0.80, 0.83]},
                "T2": {"U1": [1.05, 1.04], "U2": [1.56, 1.52], "U3": [0.86, 0.84]}}  # fmt: skip
    sides = {}
    for tester, by_part in readings.items():
        rows = [Part(site=1, results={10: by_part[u][trial]}, part_id=u, touchdown=True)
                for trial in range(2) for u in by_part]  # fmt: skip
        path = write_file(tmp_path / f"{tester}.stdf", rows, node=tester, wafer=None, test_cod="FT1")
        sides[tester] = tidy(read(path))
    study = ate_gage_study(label_sides(sides), 10, unit=("part_id",))
    expected = gage_rr_anova(
        [[readings[t][u] for t in ("T1", "T2")] for u in ("U1", "U2", "U3")], tolerance=2.0
    )
    assert study.grr == pytest.approx(expected.grr) and study.ev == pytest.approx(expected.ev)
    assert study.tolerance == 2.0 and study.n_parts == 3 and study.n_appraisers == 2 and study.n_trials == 2
    # Repeatability by hand: the interaction is not significant (p > 0.25), so it is pooled with the
    # within-cell variation (AIAG MSA 4th ed., ANOVA method): EV = sqrt((SS_int + SS_e) / (2 + 6)).
    assert study.statistics["pooled"] is True
    testers, units = list(readings), list(readings["T1"])
    cell = {(t, u): sum(readings[t][u]) / 2 for t in testers for u in units}
    grand = sum(cell.values()) / 6
    by_tester = {t: sum(cell[(t, u)] for u in units) / 3 for t in testers}
    by_unit = {u: sum(cell[(t, u)] for t in testers) / 2 for u in units}
    ss_error = sum((x - cell[(t, u)]) ** 2 for t in testers for u in units for x in readings[t][u])
    ss_interaction = 2 * sum(
        (cell[(t, u)] - by_tester[t] - by_unit[u] + grand) ** 2 for t in testers for u in units
    )
    assert study.ev == pytest.approx(math.sqrt((ss_interaction + ss_error) / 8))


def test_gage_study_needs_every_trial(tmp_path):
    rows = [
        Part(site=1, results={10: 1.0}, part_id="U1"),
        Part(site=1, results={10: 1.1}, part_id="U2", touchdown=True),
    ]
    path = write_file(tmp_path / "t.stdf", rows, wafer=None, test_cod="FT1")
    frame = pl.from_arrow(tidy(read(path))).with_columns(pl.lit("T1").alias("tester"))
    with pytest.raises(ValueError, match="at least 2"):
        ate_gage_study(frame, 10)
    with pytest.raises(ValueError, match="no result of test 99"):
        ate_gage_study(frame, 99)
    assert parts(read(path)).num_rows == 2


def brute_force(cells_a, cells_b, tests):
    """Pairs by dictionary: the last reading of each (unit, test) cell on each side."""
    side = [{}, {}]
    for k, (cells, values, verdicts) in enumerate((cells_a, cells_b)):
        for cell, value, verdict in zip(cells.tolist(), values.tolist(), verdicts.tolist(), strict=True):
            side[k][cell] = (value, verdict)
    out = {}
    for cell, (a, _) in side[0].items():
        if cell in side[1]:
            out.setdefault(cell % tests, ([], []))
            out[cell % tests][0].append(a)
            out[cell % tests][1].append(side[1][cell][0])
    return out


@pytest.mark.parametrize("units, tests", [(4, 3), (40, 30)])  # dense cells, then sparse ones
def test_dense_and_sparse_pairing_agree_with_a_dictionary(units, tests):
    import numpy as np

    from silicio.correlate.paired import _paired_statistics

    rng = np.random.default_rng(units)
    size = 30
    pool = rng.choice(units * tests, 12, replace=False)  # cells both sides draw from: repeats and pairs
    cells_a = (rng.choice(pool, size), rng.normal(size=size), rng.integers(-1, 2, size).astype(np.int8))
    cells_b = (rng.choice(pool, size), rng.normal(size=size), rng.integers(-1, 2, size).astype(np.int8))
    got = _paired_statistics(cells_a, cells_b, units, tests).to_pylist()
    expected = brute_force(cells_a, cells_b, tests)
    assert sum(row["n"] for row in got) == sum(len(a) for a, _ in expected.values()) > 0
    for test, (a, b) in expected.items():
        row = got[test]
        assert row["n"] == len(a)
        assert row["bias"] == pytest.approx(sum(y - x for x, y in zip(a, b, strict=True)) / len(a))
        if len(a) > 2:
            assert row["slope"] == pytest.approx(hand_agreement(a, b)["slope"])


def test_site_to_site_within_one_file(tmp_path):
    from silicio.correlate import correlate_within

    # Each die visits both sites; die (1, 0) is tested twice on site 1, the later reading counts.
    order = [(1, 0, 1.0), (2, 1, 2.3), (1, 2, 3.0), (2, 0, 1.1), (1, 1, 2.0), (2, 2, 3.05), (1, 1, 2.1)]
    rows = [Part(site=site, results={10: v}, x=die, y=0) for site, die, v in order]
    tables = read(write_file(tmp_path / "sites.stdf", rows))
    report = correlate_within(parts(tables), tidy(tables), "site", 1, 2)
    assert report.units_matched == 3
    row = report.tests.to_pylist()[0]
    for name, value in hand_agreement([1.0, 2.1, 3.0], [1.1, 2.3, 3.05]).items():
        assert row[name] == pytest.approx(value, rel=1e-5, abs=1e-6), name
    with pytest.raises(ValueError, match="no part has site = 3; the site values are 1, 2"):
        correlate_within(parts(tables), tidy(tables), "site", 1, 3)


def test_tests_on_one_side_only_are_said_so(tmp_path):
    a = write_file(tmp_path / "a.stdf", [Part(site=1, results={10: 0.1, 20: 2.0}, x=0, y=0)])
    b = write_file(tmp_path / "b.stdf", [Part(site=1, results={10: 0.2, 30: 1.0}, x=0, y=0)])
    report = correlate(read(a), read(b))
    assert report.tests.column("test_num").to_pylist() == [10]
    assert any("1 of side a without a reading" in n and "1 of side b that side a does not have" in n
               for n in report.notes)  # fmt: skip
