"""Genealogy linked to tester data in the lake: dies by (lot, wafer, X, Y) at wafer sort."""

from __future__ import annotations

from silicio import lake
from silicio.demo.stdf_demo import write_demo_stdf
from silicio.trace import TraceStore, demo_genealogy, demo_master_data
from silicio.trace.api import lake_test_results


def test_dies_get_their_wafer_sort_verdict_from_the_lake(tmp_path):
    data = tmp_path / "data"
    stdf = write_demo_stdf(tmp_path / "ws.stdf", seed=1, wafers=1, dies_per_side=6, tests=3)
    lake.ingest([str(stdf)], data, workers=1)
    with lake.open(data) as db:
        lot, wafer = db.rows("SELECT DISTINCT lot_id, wafer_id FROM parts")[0]
        tested = {(x, y): (hb, passed) for x, y, hb, passed in db.rows(
            "SELECT x, y, hard_bin, passed FROM parts WHERE is_last_test")}  # fmt: skip
        # The trace tables share the lake's catalog database.
        with TraceStore.at(data) as store:
            store.save_master_data(demo_master_data(), actor="test")
            g = demo_genealogy(demo_master_data().product("SLC-TV100"), lot, wafers=1, dies_per_wafer=36,
                               wafer_ids=[wafer])  # fmt: skip
            store.add_genealogy(actor="test", **g)
            rows = lake_test_results(store, db)
    dies = [r for r in rows if r["stage"] == "wafer_sort"]
    assert len(dies) == 36
    for r in dies:
        expected = tested.get((r["x"], r["y"]), (None, None))  # corners of the square grid are off the wafer
        assert (r["hard_bin"], r["passed"]) == expected, r
    assert sum(r["hard_bin"] is not None for r in dies) == len(tested)
    # No final-test file in this lake: units have keys but no verdict yet.
    assert all(r["hard_bin"] is None for r in rows if r["stage"] == "final_test")


def test_keys_without_tester_data_come_back_with_null_verdicts(tmp_path):
    data = tmp_path / "data"
    with TraceStore.at(data) as store:  # the trace tables alone: nothing ingested, no parts view
        store.save_master_data(demo_master_data(), actor="test")
        g = demo_genealogy(demo_master_data().product("SLC-TV100"), "L1", wafers=1, dies_per_wafer=4)
        store.add_genealogy(actor="test", **g)
        keys = [(k["kind"], k["name"], k["stage"]) for k in store.tester_keys()]
        with lake.open(data) as db:
            rows = lake_test_results(store, db)
    assert [(r["kind"], r["name"], r["stage"]) for r in rows] == keys
    assert {r["stage"] for r in rows} == {"wafer_sort", "final_test"}
    verdicts = {(r["hard_bin"], r["soft_bin"], r["passed"], r["test_t"], r["file_sha256"]) for r in rows}
    assert verdicts == {(None, None, None, None, None)}
