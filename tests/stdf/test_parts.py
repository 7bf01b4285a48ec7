"""The parts view: one row per PRR with its lot, wafer, die identity and verdict, checked on files
written record by record and on every shared sample file against its raw PRR records."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from silicio.stdf import read
from silicio.stdf.parts import PARTS_SCHEMA, PartYield, part_yield, parts
from silicio.stdf.tidy import tidy
from silicio.stdf.writer import StdfWriter
from tests.conftest import shared_stdf

NO_XY = -32768


def written(path: Path, records: list[tuple[str, dict]]) -> dict[str, pa.Table]:
    with StdfWriter(path) as w:
        for name, fields in records:
            w.record(name, **fields)
    return read(path)


def parts_of(tmp_path: Path, records, name="t.stdf") -> pa.Table:
    table = parts(written(tmp_path / name, records))
    assert table.schema == PARTS_SCHEMA
    return table


def mir(lot="LOT1"):
    return ("MIR", {"LOT_ID": lot, "SBLOT_ID": "S1"})


def wir(wafer, head=1):
    return ("WIR", {"HEAD_NUM": head, "SITE_GRP": 255, "START_T": 0, "WAFER_ID": wafer})


def wrr(wafer, head=1):
    return ("WRR", {"HEAD_NUM": head, "SITE_GRP": 255, "FINISH_T": 0, "PART_CNT": 1, "RTST_CNT": 0,
                    "ABRT_CNT": 0, "GOOD_CNT": 1, "FUNC_CNT": 0, "WAFER_ID": wafer})  # fmt: skip


def pir(site=1, head=1):
    return ("PIR", {"HEAD_NUM": head, "SITE_NUM": site})


def prr(site=1, head=1, x=NO_XY, y=NO_XY, part_id="", flg=0, hard=1, soft=1, test_t=0, num_test=3):
    return ("PRR", {"HEAD_NUM": head, "SITE_NUM": site, "PART_FLG": flg, "NUM_TEST": num_test, "HARD_BIN": hard,
                    "SOFT_BIN": soft, "X_COORD": x, "Y_COORD": y, "TEST_T": test_t, "PART_ID": part_id})  # fmt: skip


def ptr(num, site=1):
    return (
        "PTR",
        {"TEST_NUM": num, "HEAD_NUM": 1, "SITE_NUM": site, "TEST_FLG": 0, "PARM_FLG": 0, "RESULT": 1.0},
    )


def col(table: pa.Table, name: str) -> list:
    return table.column(name).to_pylist()


FAIL = 0x08  # PART_FLG bit 3
NO_VERDICT = 0x10  # PART_FLG bit 4


# --------------------------------------------------------------------------------------------
# Written files


def test_wafer_sort_retest_first_and_last_test_of_a_die(tmp_path):
    t = parts_of(tmp_path, [
        mir(), wir("W01"),
        pir(), ptr(1), prr(x=3, y=4, flg=FAIL, hard=5, soft=50, test_t=120),
        pir(), ptr(1), prr(x=5, y=6, test_t=100),
        pir(), ptr(1), prr(x=3, y=4, test_t=110),  # retest of (3, 4): now good
        wrr("W01"),
    ])  # fmt: skip
    assert col(t, "wafer_id") == ["W01"] * 3
    assert col(t, "lot_id") == ["LOT1"] * 3
    assert list(zip(col(t, "x"), col(t, "y"), strict=True)) == [(3, 4), (5, 6), (3, 4)]
    assert col(t, "passed") == [False, True, True]
    assert col(t, "hard_bin") == [5, 1, 1] and col(t, "soft_bin") == [50, 1, 1]
    assert col(t, "test_t") == [120, 100, 110]
    assert col(t, "num_tests") == [3, 3, 3]
    keys = col(t, "die_key")
    assert keys[0] == keys[2] != keys[1]
    assert col(t, "is_first_test") == [True, True, False]
    assert col(t, "is_last_test") == [False, True, True]
    assert col(t, "part_index") == [0, 1, 2]
    # 2 dies: first pass (3, 4) failed, (5, 6) passed -> 1/2; after the retest both pass -> 2/2.
    assert part_yield(t) == PartYield(dies=2, first_pass_good=1, final_good=2, first_pass_yield=0.5,
                                      final_yield=1.0, no_verdict=0)  # fmt: skip


def test_the_same_coordinates_on_two_wafers_are_two_dies(tmp_path):
    t = parts_of(tmp_path, [mir(), wir("W1"), pir(), prr(x=0, y=0), wrr("W1"),
                            wir("W2"), pir(), prr(x=0, y=0), wrr("W2")])  # fmt: skip
    assert col(t, "wafer_id") == ["W1", "W2"]
    assert len(set(col(t, "die_key"))) == 2
    assert col(t, "is_last_test") == [True, True]


def test_interleaved_sites_each_prr_closes_the_part_open_on_its_site(tmp_path):
    t = parts_of(tmp_path, [
        mir(), wir("W1"),
        pir(site=1), pir(site=2), ptr(1, site=1), ptr(1, site=2),
        prr(site=2, x=2, y=0, flg=FAIL, hard=7), prr(site=1, x=1, y=0),
        pir(site=2), pir(site=1), prr(site=1, x=1, y=1), prr(site=2, x=2, y=0),  # (2, 0) retested on site 2
        wrr("W1"),
    ])  # fmt: skip
    # One row per PRR, in PRR order.
    assert col(t, "site") == [2, 1, 1, 2]
    assert list(zip(col(t, "x"), col(t, "y"), strict=True)) == [(2, 0), (1, 0), (1, 1), (2, 0)]
    assert col(t, "hard_bin") == [7, 1, 1, 1]
    assert col(t, "is_first_test") == [True, True, True, False]
    assert col(t, "is_last_test") == [False, True, True, True]
    assert part_yield(t) == PartYield(3, 2, 3, 2 / 3, 1.0, 0)


def test_final_test_with_meaningless_coordinates_identifies_dies_by_part_id(tmp_path):
    # Every part at X = Y = 0 outside any wafer, as final-test handlers write: not one die.
    t = parts_of(tmp_path, [
        mir(),
        pir(), prr(x=0, y=0, part_id="U1", flg=FAIL),
        pir(), prr(x=0, y=0, part_id="U2"),
        pir(), prr(x=0, y=0, part_id="U1"),  # U1 retested
        pir(), prr(x=0, y=0, part_id=""),  # no id: a die of its own
        pir(), prr(x=0, y=0, part_id=""),
    ])  # fmt: skip
    keys = col(t, "die_key")
    assert keys[0] == keys[2] and len({keys[0], keys[1]}) == 2
    assert keys[3] is None and keys[4] is None
    assert col(t, "is_first_test") == [True, True, False, True, True]
    assert col(t, "is_last_test") == [False, True, True, True, True]
    # 4 dies (U1, U2 and two anonymous parts); U1 failed first, passed on retest.
    assert part_yield(t) == PartYield(4, 3, 4, 3 / 4, 1.0, 0)


def test_varying_coordinates_outside_wafers_are_trusted(tmp_path):
    t = parts_of(tmp_path, [mir(), pir(), prr(x=0, y=0, part_id="a"), pir(), prr(x=1, y=0, part_id="b"),
                            pir(), prr(x=0, y=0, part_id="c")])  # fmt: skip
    assert col(t, "is_last_test") == [False, True, True]


def test_tidy_is_last_test_follows_the_same_die_rule(tmp_path):
    # U1's retest runs test 1 only: the whole first insertion, test 2 included, is superseded.
    tables = written(tmp_path / "t.stdf", [
        mir(), pir(), ptr(1), ptr(2), prr(x=0, y=0, part_id="U1"), pir(), ptr(1), prr(x=0, y=0, part_id="U2"),
        pir(), ptr(1), prr(x=0, y=0, part_id="U1"),
    ])  # fmt: skip
    per_test = tidy(tables)
    assert col(per_test, "is_last_test") == [False, False, True, True]
    final_part = col(parts(tables), "is_last_test")
    assert col(per_test, "is_last_test") == [final_part[p] for p in col(per_test, "part_index")]


def test_missing_values_are_null_and_no_verdict_parts_are_counted_apart(tmp_path):
    t = parts_of(tmp_path, [
        mir(), pir(), prr(part_id="a", soft=65535, test_t=0),
        pir(), prr(part_id="b", flg=NO_VERDICT),
        pir(), prr(part_id="c", flg=FAIL),
    ])  # fmt: skip
    assert col(t, "x") == col(t, "y") == [None] * 3
    assert col(t, "soft_bin")[0] is None and col(t, "test_t")[0] is None
    assert col(t, "passed") == [True, None, False]
    assert col(t, "wafer_id") == [None] * 3
    assert part_yield(t) == PartYield(2, 1, 1, 0.5, 0.5, 1)


def test_prr_without_pir_is_still_a_part(tmp_path):
    t = parts_of(tmp_path, [mir("L9"), pir(site=1), prr(site=2, part_id="orphan"), prr(site=1, part_id="x")])
    assert col(t, "part_id") == ["orphan", "x"]
    assert col(t, "site") == [2, 1]
    assert col(t, "lot_id") == ["L9", "L9"]


def test_die_key_is_the_same_in_every_file_so_retests_consolidate_across_files(tmp_path):
    first = parts_of(tmp_path, [mir(), wir("W7"), pir(), prr(x=1, y=2, flg=FAIL), pir(), prr(x=2, y=2),
                                wrr("W7")], "first.stdf")  # fmt: skip
    retest = parts_of(tmp_path, [mir(), wir("W7"), pir(), prr(x=1, y=2), wrr("W7")], "retest.stdf")
    assert col(first, "die_key")[0] == col(retest, "die_key")[0]
    both = pa.concat_tables([first, retest])
    assert part_yield(both) == PartYield(2, 1, 2, 0.5, 1.0, 0)
    # Another lot with the same wafer name and coordinates is another die.
    other = parts_of(tmp_path, [mir("LOT2"), wir("W7"), pir(), prr(x=1, y=2), wrr("W7")], "other.stdf")
    assert col(other, "die_key")[0] != col(retest, "die_key")[0]


def test_empty_and_bad_input(tmp_path):
    assert parts({}).num_rows == 0
    assert part_yield(PARTS_SCHEMA.empty_table()) == PartYield(0, 0, 0, None, None, 0)
    with pytest.raises(ValueError, match="die_key"):
        part_yield(pa.table({"passed": [True]}))


# --------------------------------------------------------------------------------------------
# Shared sample files


def test_every_shared_file_one_row_per_prr(shared_stdf_file):
    tables = read(shared_stdf_file)
    t = parts(tables)
    prr = tables.get("PRR")
    n = 0 if prr is None else prr.num_rows
    assert t.num_rows == n
    if not n:
        return
    assert col(t, "part_index") == list(range(n))
    assert col(t, "seq") == col(prr, "seq")
    assert col(t, "site") == col(prr, "SITE_NUM")
    assert col(t, "hard_bin") == col(prr, "HARD_BIN")
    flags = col(prr, "PART_FLG")
    assert col(t, "passed") == [None if f & NO_VERDICT else not f & FAIL for f in flags]
    # Every die has exactly one first and one last test.
    dies = len({k for k in col(t, "die_key") if k is not None}) + t.column("die_key").null_count
    assert sum(col(t, "is_first_test")) == sum(col(t, "is_last_test")) == dies


def test_galaxy_lot3_retests_on_the_wafer():
    tables = read(shared_stdf("galaxy_lot3_A530_BE.stdf"))
    t = parts(tables)
    xy = list(zip(col(t, "x"), col(t, "y"), strict=True))
    # Independently: dies are the distinct (x, y) of this one-wafer file; the last PRR of each wins.
    last_row = {d: i for i, d in enumerate(xy)}
    first_row = {}
    for i, d in enumerate(xy):
        first_row.setdefault(d, i)
    assert col(t, "is_last_test") == [last_row[d] == i for i, d in enumerate(xy)]
    assert col(t, "is_first_test") == [first_row[d] == i for i, d in enumerate(xy)]
    passed = col(t, "passed")
    y = part_yield(t)
    assert y.dies == len(last_row) == 1456
    assert y.final_good == sum(passed[i] for i in last_row.values())
    assert y.first_pass_good == sum(passed[i] for i in first_row.values())
