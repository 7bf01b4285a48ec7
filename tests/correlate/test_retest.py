"""Retests and test time: a lot of five dies tested in three files on two testers and handlers,
every number worked out by hand in the comments; then the same lot through the lake.

Files (test order) and touchdowns, (die, site, hard bin, TEST_T ms):
  f1 on T1 / H1: [A s1 bin 1 1000, B s2 bin 3 1200], [C s1 bin 4 1100, D s2 bin 1 1000], [E s1 bin 3 800]
  f2 on T2 / H2: [B s1 bin 1 900, C s2 bin 4 1000], [E s1 bin 3 700]
  f3 on T2 / H2: [C s1 bin 1 600]
"""

from __future__ import annotations

import polars as pl
import pytest

from silicio import lake as silicio_lake
from silicio.correlate import lot_retest, multi_site_efficiency, retest_analysis
from silicio.lake.query import Lake
from tests.correlate.stdf_files import T0, Part, write_file

DIES = {"A": 0, "B": 1, "C": 2, "D": 3, "E": 4}  # die -> x
FILES = [
    ("f1", "T1", "H1", [[("A", 1, 1, 1000), ("B", 2, 3, 1200)], [("C", 1, 4, 1100), ("D", 2, 1, 1000)],
                        [("E", 1, 3, 800)]]),
    ("f2", "T2", "H2", [[("B", 1, 1, 900), ("C", 2, 4, 1000)], [("E", 1, 3, 700)]]),
    ("f3", "T2", "H2", [[("C", 1, 1, 600)]]),
]  # fmt: skip


def lot_frame() -> pl.DataFrame:
    rows = []
    for file, tester, handler, touchdowns in FILES:
        for touchdown in touchdowns:
            for die, site, hard_bin, ms in touchdown:
                rows.append({"lot_id": "L1", "wafer_id": "W01", "head": 1, "site": site, "part_index": len(rows),
                             "part_id": "", "x": DIES[die], "y": 0, "hard_bin": hard_bin, "soft_bin": hard_bin,
                             "passed": hard_bin == 1, "test_t": ms, "die_key": 100 + DIES[die], "seq": len(rows),
                             "file": file, "tester": tester, "handler": handler})  # fmt: skip
    return pl.DataFrame(rows)


def check_the_hand_computed_lot(report):
    assert (report.insertions, report.dies, report.retested_dies) == (9, 5, 3)
    # B (3 -> 1) and E (3 -> 3) fail first in bin 3, both retested, B recovers; C (4 -> 4 -> 1) recovers.
    assert report.recovery.to_pylist() == [
        {"first_bin": 3, "failing_dies": 2, "retested_dies": 2, "recovered_dies": 1, "recovery_rate": 0.5},
        {"first_bin": 4, "failing_dies": 1, "retested_dies": 1, "recovered_dies": 1, "recovery_rate": 1.0},
    ]
    switching = {(r["first_bin"], r["final_bin"]): r["dies"] for r in report.switching.to_pylist()}
    assert switching == {(1, 1): 2, (3, 1): 1, (3, 3): 1, (4, 1): 1}
    matrix = {r["first_bin"]: r for r in report.switching_matrix.to_pylist()}
    assert (
        matrix[3]["to 1"] == 1
        and matrix[3]["to 3"] == 1
        and matrix[4]["to 1"] == 1
        and matrix[1]["dies"] == 2
    )
    # Per tester and site. T1 site 1: A, C, E, no retest, first tests of all three, C and E
    # retested later; T1 site 2: B, D, B retested. T2 site 1: B, E (f2), C (f3), all retests;
    # T2 site 2: C (f2).
    sites = {(r["tester"], r["site"]): r for r in report.retest_rates["site"].to_pylist()}
    columns = ("insertions", "retest_insertions", "retest_rate", "first_tests", "first_tests_retested")
    assert {k: tuple(r[c] for c in columns) for k, r in sites.items()} == {
        ("T1", 1): (3, 0, 0.0, 3, 2), ("T1", 2): (2, 0, 0.0, 2, 1),
        ("T2", 1): (3, 3, 1.0, 0, 0), ("T2", 2): (1, 1, 1.0, 0, 0),
    }  # fmt: skip
    testers = {r["tester"]: r for r in report.retest_rates["tester"].to_pylist()}
    assert (
        testers["T1"]["insertions"],
        testers["T1"]["retest_insertions"],
        testers["T1"]["first_tests_retested"],
    ) == (5, 0, 3)
    assert (testers["T2"]["insertions"], testers["T2"]["retest_rate"]) == (4, 1.0)
    handlers = {r["handler"]: r["retest_insertions"] for r in report.retest_rates["handler"].to_pylist()}
    assert handlers == {"H1": 0, "H2": 4}
    # Retested more than once: C alone (three tests).
    assert [(r["x"], r["tests"], r["hard_bins"], r["final_passed"]) for r in report.repeated.to_pylist()] == [
        (2, 3, [4, 4, 1], True)
    ]
    # T1: touchdowns of 1200 and 1100 ms (2 units) and 800 (1 unit): T_2 = 1150, T_1 = 800,
    # MSE = 1 - (1150 - 800) / 800 = 0.5625; UPH = 3.6e6 x 5 / 3100.
    # T2: 1000 ms (2 units), 700 and 600 (1 unit): T_1 = 650, MSE = 1 - 350 / 650.
    testers = {r["tester"]: r for r in report.testers.to_pylist()}
    assert testers["T1"]["multi_site_efficiency"] == pytest.approx(0.5625)
    assert (testers["T1"]["single_site_ms"], testers["T1"]["multi_site_ms"], testers["T1"]["sites"]) == (
        800,
        1150,
        2,
    )
    assert testers["T1"]["tester_uph"] == pytest.approx(3.6e6 * 5 / 3100)
    assert testers["T2"]["multi_site_efficiency"] == pytest.approx(1 - 350 / 650)
    assert testers["T2"]["tester_uph"] == pytest.approx(3.6e6 * 4 / 2300)
    # Site UPH: its parts over the touchdowns it was in. T1 site 1: A, C, E in 1200 + 1100 + 800 ms.
    site_times = {(r["tester"], r["site"]): r for r in report.site_times.to_pylist()}
    assert site_times[("T1", 1)]["uph"] == pytest.approx(3.6e6 * 3 / 3100)
    assert site_times[("T1", 2)]["uph"] == pytest.approx(3.6e6 * 2 / 2300)
    assert site_times[("T1", 1)]["mean_ms"] == pytest.approx((1000 + 1100 + 800) / 3)
    assert site_times[("T2", 1)]["median_ms"] == pytest.approx(700)


def test_retest_analysis_of_a_hand_made_lot():
    check_the_hand_computed_lot(retest_analysis(lot_frame(), over=1))


def test_multi_site_efficiency_formula():
    # 4 sites: one unit in 1000 ms, four in 1300 ms: 1 - 300 / (3 x 1000) = 0.9.
    assert multi_site_efficiency(1000, 1300, 4) == pytest.approx(0.9)
    assert multi_site_efficiency(1000, 1000, 4) == pytest.approx(1.0)  # perfectly parallel
    assert multi_site_efficiency(1000, 4000, 4) == pytest.approx(0.0)  # no better than one at a time
    assert multi_site_efficiency(1000, 1300, 1) is None and multi_site_efficiency(0, 1300, 4) is None


def test_untimed_parts_are_said_so():
    report = retest_analysis(lot_frame().with_columns(pl.lit(None, pl.Int64).alias("test_t")), over=0)
    assert any("no part has a TEST_T" in n for n in report.notes)
    assert report.testers.column("tester_uph").to_pylist() == [None, None]
    assert report.testers.column("multi_site_efficiency").to_pylist() == [None, None]
    assert {r["x"] for r in report.repeated.to_pylist()} == {1, 2, 4}  # over=0: every retested die
    with pytest.raises(ValueError, match="over"):
        retest_analysis(lot_frame(), over=-1)


def write_lake(folder):
    """The lot's three files written in ``folder`` and ingested into ``folder/data``."""
    for number, (file, tester, handler, touchdowns) in enumerate(FILES):
        parts = [Part(site=site, results={10: 0.5}, hard_bin=hard_bin, x=DIES[die], y=0, test_t=ms, touchdown=i == 0)
                 for touchdown in touchdowns for i, (die, site, hard_bin, ms) in enumerate(touchdown)]  # fmt: skip
        write_file(folder / f"{file}.stdf", parts, node=tester, handler=handler, start=T0 + 3600 * number)
    data = folder / "data"
    silicio_lake.ingest([folder], data, workers=1)
    return data


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory):
    return write_lake(tmp_path_factory.mktemp("retest"))


def test_the_same_lot_through_the_lake(lake_dir):
    with Lake(lake_dir) as lake:
        report = lot_retest(lake, "L1")
    assert report.stage == "wafer_sort"
    check_the_hand_computed_lot(report)


def test_a_lot_the_lake_does_not_hold(lake_dir):
    with Lake(lake_dir) as lake:
        with pytest.raises(ValueError, match="no lot 'NOPE'"):
            lot_retest(lake, "NOPE")
        with pytest.raises(ValueError, match="not tested at stage 'final_test'"):
            lot_retest(lake, "L1", stage="final_test")


def test_silicio_retest_prints_the_lot(lake_dir):
    from typer.testing import CliRunner

    from silicio.cli import app

    result = CliRunner().invoke(app, ["retest", "L1", "--data", str(lake_dir)], env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert "lot L1 at wafer_sort: 9 insertions of 5 dies, 3 retested" in result.stdout
    assert "Dies retested more than 1 times" in result.stdout and "4 > 4 > 1" in result.stdout
