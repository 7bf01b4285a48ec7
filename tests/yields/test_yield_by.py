"""Yield per group, first pass and final, on small written STDF files whose answers are counted
by hand in each test."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from silicio.stdf import StdfWriter, read
from silicio.stdf.parts import part_yield, parts
from silicio.stdf.tidy import tidy
from silicio.yields.yield_ import consolidate_retests, consolidate_retests_tidy, yield_by

FAIL = 0x08


def parts_of(path: Path, records) -> pa.Table:
    with StdfWriter(path) as w:
        for name, fields in records:
            w.record(name, **fields)
    return parts(read(path))


def wafer(lot, wafer_id, dies, site_of=lambda i: 1):
    """A wafer of ``dies`` [(x, y, failed)], each part on ``site_of(i)``."""
    recs = [
        ("MIR", {"LOT_ID": lot}),
        ("WIR", {"HEAD_NUM": 1, "SITE_GRP": 255, "START_T": 0, "WAFER_ID": wafer_id}),
    ]
    for i, (x, y, failed) in enumerate(dies):
        site = site_of(i)
        recs += [("PIR", {"HEAD_NUM": 1, "SITE_NUM": site}),
                 ("PRR", {"HEAD_NUM": 1, "SITE_NUM": site, "PART_FLG": FAIL if failed else 0, "NUM_TEST": 1,
                          "HARD_BIN": 5 if failed else 1, "SOFT_BIN": 50 if failed else 1, "X_COORD": x,
                          "Y_COORD": y})]  # fmt: skip
    recs.append(
        ("WRR", {"HEAD_NUM": 1, "SITE_GRP": 255, "FINISH_T": 0, "PART_CNT": len(dies), "WAFER_ID": wafer_id})
    )
    return recs


def test_yield_per_wafer_with_retests(tmp_path):
    # W1: 4 dies, (0,1) and (1,1) fail first; (0,1) passes on retest. W2: 2 dies, 1 fails.
    w1 = wafer("L1", "W1", [(0, 0, False), (1, 0, False), (0, 1, True), (1, 1, True), (0, 1, False)])
    w2 = wafer("L1", "W2", [(0, 0, False), (1, 0, True)])
    table = pa.concat_tables([parts_of(tmp_path / "w1.stdf", w1), parts_of(tmp_path / "w2.stdf", w2)])
    got = {r["wafer_id"]: r for r in yield_by(table).to_pylist()}
    assert got["W1"]["tested"] == 5 and got["W1"]["retests"] == 1
    assert (got["W1"]["first_pass_dies"], got["W1"]["first_pass_good"], got["W1"]["first_pass_yield"]) == (
        4,
        2,
        2 / 4,
    )
    assert (got["W1"]["final_dies"], got["W1"]["final_good"], got["W1"]["final_yield"]) == (4, 3, 3 / 4)
    assert (got["W2"]["first_pass_yield"], got["W2"]["final_yield"]) == (1 / 2, 1 / 2)
    (lot,) = yield_by(table, by="lot_id").to_pylist()
    assert (lot["first_pass_dies"], lot["first_pass_good"], lot["final_good"]) == (6, 3, 4)
    overall = part_yield(table)
    assert (overall.first_pass_yield, overall.final_yield) == (3 / 6, 4 / 6)


def test_retest_in_another_file_is_consolidated_in_file_order(tmp_path):
    first = parts_of(tmp_path / "a.stdf", wafer("L1", "W1", [(0, 0, True), (1, 0, False)]))
    retest = parts_of(tmp_path / "b.stdf", wafer("L1", "W1", [(0, 0, False)]))
    # Each file alone marks its only test of (0, 0) as first and last ...
    assert retest.column("is_first_test").to_pylist() == [True]
    # ... across the files the retest is the last test of the die.
    both = consolidate_retests(pa.concat_tables([first, retest]))
    assert both.column("is_first_test").to_pylist() == [True, True, False]
    assert both.column("is_last_test").to_pylist() == [False, True, True]
    (row,) = yield_by(pa.concat_tables([first, retest])).to_pylist()
    assert (row["first_pass_good"], row["final_good"], row["final_dies"]) == (1, 2, 2)
    # order_by puts the retest file first when its (made-up) start time is earlier.
    stamped = pa.concat_tables([first.append_column("start_t", pa.array([2, 2])),
                                retest.append_column("start_t", pa.array([1]))])  # fmt: skip
    (row,) = yield_by(stamped, order_by="start_t").to_pylist()
    assert (row["first_pass_good"], row["final_good"]) == (2, 1)


def with_results(recs, results):
    """``recs`` with a PTR of test 1 (value ``results[i]``) in the i-th part, as the last record of
    its PIR .. PRR bracket."""
    out, i = [], 0
    for name, fields in recs:
        if name == "PRR":
            out.append(("PTR", {"TEST_NUM": 1, "HEAD_NUM": 1, "SITE_NUM": 1, "TEST_FLG": 0, "PARM_FLG": 0,
                                "RESULT": results[i]}))  # fmt: skip
            i += 1
        out.append((name, fields))
    return out


def test_tidy_rows_follow_their_part_across_files(tmp_path):
    a = with_results(wafer("L1", "W1", [(0, 0, True), (1, 0, False)]), [1.0, 2.0])
    b = with_results(wafer("L1", "W1", [(0, 0, False)]), [3.0])
    # File b also holds a test record outside any part and a part cut off before its PRR.
    ptr = ("PTR", {"TEST_NUM": 1, "HEAD_NUM": 1, "SITE_NUM": 1, "TEST_FLG": 0, "PARM_FLG": 0, "RESULT": 9.0})
    b[-1:-1] = [ptr, ("PIR", {"HEAD_NUM": 1, "SITE_NUM": 1}), ptr]
    tables = {}
    for name, recs in (("a", a), ("b", b)):
        with StdfWriter(tmp_path / f"{name}.stdf") as w:
            for kind, fields in recs:
                w.record(kind, **fields)
        tables[name] = read(tmp_path / f"{name}.stdf")

    def lot(view, start):
        return pa.concat_tables([view(t).append_column("file", pa.array([f] * view(t).num_rows))
                                 .append_column("start_t", pa.array([start[f]] * view(t).num_rows))
                                 for f, t in tables.items()])  # fmt: skip

    in_order = {"a": 1, "b": 2}
    lot_tidy, lot_parts = lot(tidy, in_order), lot(parts, in_order)
    assert lot_tidy.column("result").to_pylist() == [1.0, 2.0, 3.0, 9.0, 9.0]
    # Each file alone: every part is its die's last insertion (b's open part is a die of its own).
    assert lot_tidy.column("is_last_test").to_pylist() == [True, True, True, None, True]
    got = consolidate_retests_tidy(lot_tidy, lot_parts, on=["file", "part_index"])
    assert got.column("is_last_test").to_pylist() == [False, True, True, None, True]
    assert got.column("is_first_test").to_pylist() == [True, True, False, None, True]
    assert got.column("result").to_pylist() == lot_tidy.column("result").to_pylist()
    # order_by over the parts: file b tested first makes a's insertion of (0, 0) the last.
    swapped = {"a": 2, "b": 1}
    got = consolidate_retests_tidy(
        lot(tidy, swapped), lot(parts, swapped), "start_t", on=["file", "part_index"]
    )
    assert got.column("is_last_test").to_pylist() == [True, True, False, None, True]
    # part_index alone repeats across the two files: the parts cannot be told apart.
    with pytest.raises(ValueError, match="repeat a part identity"):
        consolidate_retests_tidy(lot_tidy, lot_parts)


def test_yield_per_site_and_tester_column(tmp_path):
    # Sites alternate 1, 2; the die at (1, 0) fails on site 2 and is retested on site 1 (passes).
    recs = wafer("L1", "W1", [(0, 0, False), (1, 0, True), (2, 0, False), (3, 0, True), (1, 0, False)],
                 site_of=lambda i: 1 + i % 2)  # fmt: skip
    table = parts_of(tmp_path / "s.stdf", recs)
    got = {r["site"]: r for r in yield_by(table, by=["site"]).to_pylist()}
    # Site 1: first tests of (0,0), (2,0) good; the retest of (1,0) is that die's final test.
    assert (got[1]["first_pass_dies"], got[1]["first_pass_good"], got[1]["final_dies"], got[1]["final_good"]) == (
        2, 2, 3, 3)  # fmt: skip
    # Site 2: first tests of (1,0), (3,0) both failed; only (3,0) ends there.
    assert (got[2]["first_pass_dies"], got[2]["first_pass_good"], got[2]["final_dies"], got[2]["final_good"]) == (
        2, 0, 1, 0)  # fmt: skip
    tagged = table.append_column("tester", pa.array(["T7"] * table.num_rows))
    (row,) = yield_by(tagged, by=["tester"]).to_pylist()
    assert row["tester"] == "T7" and row["final_yield"] == 3 / 4


def test_no_verdict_parts_are_counted_apart(tmp_path):
    recs = wafer("L1", "W1", [(0, 0, False), (1, 0, False)])
    recs.insert(-1, ("PIR", {"HEAD_NUM": 1, "SITE_NUM": 1}))
    recs.insert(-1, ("PRR", {"HEAD_NUM": 1, "SITE_NUM": 1, "PART_FLG": 0x10, "X_COORD": 2, "Y_COORD": 0}))
    (row,) = yield_by(parts_of(tmp_path / "n.stdf", recs)).to_pylist()
    assert (row["no_verdict"], row["tested"], row["final_dies"], row["final_yield"]) == (1, 2, 2, 1.0)


def test_bad_input():
    with pytest.raises(ValueError, match="missing"):
        yield_by(pa.table({"die_key": [1]}))
    with pytest.raises(ValueError, match="pyarrow Table or polars DataFrame"):
        yield_by([1, 2])
    with pytest.raises(ValueError, match="order_by"):
        yield_by(
            pa.table({"die_key": [1], "passed": [True], "lot_id": ["a"], "wafer_id": ["w"]}), order_by="t"
        )
