"""Wafer sort against final test through the genealogy: five dies of wafer W01 (four passed sort
and became units U0..U3), the units tested at final test (U3 twice). Every number by hand."""

from __future__ import annotations

import json

import polars as pl
import pytest

from silicio import lake as silicio_lake
from silicio.correlate.stages import die_unit_pairs, lot_stage_correlation, stage_correlation
from silicio.lake.query import Lake
from silicio.stdf import parts, read, tidy
from silicio.trace.store import TraceStore
from tests.correlate.stdf_files import T0, Part, write_file
from tests.correlate.test_agreement import hand_agreement

# die (x, y) -> sort reading of test 10, sort bin; the unit it became (None: failed sort)
SORT = {(0, 0): (0.50, 1, "U0"), (1, 0): (0.70, 1, "U1"), (2, 0): (0.90, 1, "U2"), (0, 1): (1.10, 1, "U3"),
        (1, 1): (1.90, 3, None)}  # fmt: skip
# unit -> final readings of test 10 in test order, final bins in test order
FINAL = {"U0": ([0.56], [1]), "U1": ([0.74], [1]), "U2": ([0.97], [5]), "U3": ([1.40, 1.15], [6, 1])}


def write_lots(folder):
    sort_parts = [Part(site=1, results={10: v}, hard_bin=b, x=x, y=y, touchdown=True,
                       failed_tests={10} if b != 1 else set()) for (x, y), (v, b, _) in SORT.items()]  # fmt: skip
    final_parts = []
    for attempt in range(2):
        for unit, (readings, bins) in FINAL.items():
            if attempt < len(readings):
                final_parts.append(Part(site=1, results={10: readings[attempt]}, hard_bin=bins[attempt],
                                        part_id=unit, touchdown=True))  # fmt: skip
    write_file(folder / "sort.stdf", sort_parts, lot="S1", test_cod="WS1")
    write_file(folder / "final.stdf", final_parts, lot="F1", wafer=None, test_cod="FT1", handler=None,
               start=T0 + 86400)  # fmt: skip
    return folder


def pairs_by_hand() -> pl.DataFrame:
    rows = [{"die": f"S1-W01-{x}-{y}", "unit": unit, "lot_id": "S1", "wafer_id": "W01", "x": x, "y": y,
             "final_lot_id": "F1", "part_id": unit} for (x, y), (_, _, unit) in SORT.items() if unit]  # fmt: skip
    return pl.DataFrame(rows)


def check(report):
    assert (report.pairs, report.tested_both) == (4, 4)
    sort_readings = [SORT[xy][0] for xy in SORT if SORT[xy][2]]
    final_readings = [FINAL[SORT[xy][2]][0][-1] for xy in SORT if SORT[xy][2]]  # the retest is final
    row = report.tests.to_pylist()[0]
    assert row["test_num"] == 10 and row["n"] == 4
    for name, value in hand_agreement(sort_readings, final_readings).items():
        assert row[name] == pytest.approx(value, rel=1e-5, abs=1e-6), name
    # Sort bin 1 -> final bins: U0, U1, U3 bin 1 (U3 after its retest), U2 bin 5.
    assert {(r["sort_bin"], r["final_bin"]): r["units"] for r in report.bins.to_pylist()} == {
        (1, 1): 3,
        (1, 5): 1,
    }
    assert [(r["x"], r["y"], r["part_id"], r["final_bin"]) for r in report.escapes.to_pylist()] == [
        (2, 0, "U2", 5)
    ]
    by_position = {
        (r["x"], r["y"]): (r["units"], r["escapes"]) for r in report.escapes_by_position.to_pylist()
    }
    assert by_position == {(0, 0): (1, 0), (0, 1): (1, 0), (1, 0): (1, 0), (2, 0): (1, 1)}


def test_stage_correlation_of_tables(tmp_path):
    folder = write_lots(tmp_path)
    sort_tables, final_tables = read(folder / "sort.stdf"), read(folder / "final.stdf")
    report = stage_correlation(parts(sort_tables), tidy(sort_tables), parts(final_tables), tidy(final_tables),
                               pairs_by_hand())  # fmt: skip
    check(report)
    # A test pair named explicitly (sort 10 -> final 10) gives the same numbers.
    paired = stage_correlation(parts(sort_tables), tidy(sort_tables), parts(final_tables), tidy(final_tables),
                               pairs_by_hand(), test_pairs={10: 10})  # fmt: skip
    assert paired.tests.to_pylist()[0]["bias"] == pytest.approx(report.tests.to_pylist()[0]["bias"])


def test_stage_correlation_through_the_lake_and_the_genealogy(tmp_path):
    folder = write_lots(tmp_path)
    data = tmp_path / "data"
    silicio_lake.ingest([folder / "sort.stdf", folder / "final.stdf"], data, workers=1)
    pairs = pairs_by_hand().to_dicts()
    with TraceStore.at(data) as store:
        store.add_genealogy(
            edges=[(("die", p["die"]), ("unit", p["unit"])) for p in pairs],
            actor="tests",
            tester_keys=[
                *({"node": ("die", p["die"]), "stage": "wafer_sort", "lot_id": "S1", "wafer_id": "W01",
                   "x": p["x"], "y": p["y"]} for p in pairs),
                *({"node": ("unit", p["unit"]), "stage": "final_test", "lot_id": "F1", "part_id": p["unit"]}
                  for p in pairs),
            ],
        )  # fmt: skip
        assert die_unit_pairs(store.genealogy(), store.tester_keys()).to_dicts() == sorted(
            pairs, key=lambda p: p["die"]
        )
        with Lake(data) as lake:
            check(lot_stage_correlation(lake, store, "S1", "F1"))
            with pytest.raises(ValueError, match="no lot 'F1' at stage wafer_sort"):
                lot_stage_correlation(lake, store, "F1", "S1")


def test_silicio_correlate_stages(tmp_path):
    from typer.testing import CliRunner

    from silicio.cli import app

    folder = write_lots(tmp_path)
    data = tmp_path / "data"
    silicio_lake.ingest([folder], data, workers=1)
    pairs = pairs_by_hand().to_dicts()
    with TraceStore.at(data) as store:
        store.add_genealogy(edges=[(("die", p["die"]), ("unit", p["unit"])) for p in pairs], actor="tests",
                            tester_keys=[*({"node": ("die", p["die"]), "stage": "wafer_sort", "lot_id": "S1",
                                            "wafer_id": "W01", "x": p["x"], "y": p["y"]} for p in pairs),
                                         *({"node": ("unit", p["unit"]), "stage": "final_test", "lot_id": "F1",
                                            "part_id": p["unit"]} for p in pairs)])  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(app, ["correlate", "stages", "S1", "F1", "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [(r["x"], r["y"], r["final_bin"]) for r in report["escapes"]] == [(2, 0, 5)]
    assert report["tests"][0]["n"] == 4
    bad = runner.invoke(app, ["correlate", "stages", "S1", "F1", "--data", str(data), "--pair", "10-10"])
    assert bad.exit_code == 2 and "expected SORT:FINAL" in bad.stderr and "Traceback" not in bad.output
