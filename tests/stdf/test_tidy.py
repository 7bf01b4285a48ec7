"""The tidy view: one row per (part, test execution), checked on files written record by record
(each rule of the spec it applies) and on the shared sample files against their raw records."""

from __future__ import annotations

import bisect
import math
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from silicio.stdf import read
from silicio.stdf.tidy import TIDY_SCHEMA, tidy
from silicio.stdf.writer import StdfWriter
from tests.conftest import missing_shared

DATA = Path(__file__).parents[3] / "shared" / "data" / "stdf"
NO_XY = -32768


def tidied(tmp_path: Path, records: list[tuple[str, dict]]) -> list[dict]:
    """Writes ``records`` to an STDF file, reads it back and returns the tidy rows."""
    path = tmp_path / "t.stdf"
    with StdfWriter(path) as w:
        for name, fields in records:
            w.record(name, **fields)
    table = tidy(read(path))
    assert table.schema == TIDY_SCHEMA
    return table.to_pylist()


def mir(lot="LOT1", sublot="S1"):
    return ("MIR", {"LOT_ID": lot, "SBLOT_ID": sublot})


def pir(site=1, head=1):
    return ("PIR", {"HEAD_NUM": head, "SITE_NUM": site})


def prr(site=1, head=1, x=NO_XY, y=NO_XY, part_id="", flg=0, hard=1, soft=1):
    return ("PRR", {"HEAD_NUM": head, "SITE_NUM": site, "PART_FLG": flg, "NUM_TEST": 0, "HARD_BIN": hard,
                    "SOFT_BIN": soft, "X_COORD": x, "Y_COORD": y, "PART_ID": part_id})  # fmt: skip


def ptr(num, result=0.0, site=1, head=1, flg=0, **more):
    """A PTR; without ``more`` it stops after RESULT, as testers write all but the first."""
    return ("PTR", {"TEST_NUM": num, "HEAD_NUM": head, "SITE_NUM": site, "TEST_FLG": flg, "PARM_FLG": 0,
                    "RESULT": result, **more})  # fmt: skip


def full_ptr(num, result, name, opt, lo, hi, units, scal=0, site=1, flg=0):
    return ptr(num, result, site, flg=flg, TEST_TXT=name, ALARM_ID="", OPT_FLAG=opt, RES_SCAL=scal, LLM_SCAL=scal,
               HLM_SCAL=scal, LO_LIMIT=lo, HI_LIMIT=hi, UNITS=units)  # fmt: skip


def column(rows, name):
    return [r[name] for r in rows]


# --------------------------------------------------------------------------------------------
# Default data, OPT_FLAG, TEST_FLG


def test_limits_units_scale_and_name_come_from_the_first_ptr_of_the_test(tmp_path):
    # OPT_FLAG 0x0E: bit 1 (reserved, set) and bits 2, 3 (no spec limits): what testers write.
    rows = tidied(tmp_path, [
        mir(), pir(),
        full_ptr(100, 0.25, "IDD_STANDBY", 0x0E, -1.5, 2.25, "mA", scal=-3),
        full_ptr(200, 5.0, "VREF", 0x0E, 4.5, 5.5, "V"),
        prr(part_id="1"), pir(),
        ptr(100, 0.5), ptr(200, 5.25, TEST_TXT=""),
        prr(part_id="2"), pir(),
        # bit 4: LO_LIMIT invalid, use the default; HI_LIMIT is this record's own.
        full_ptr(100, 0.75, "", 0x0E | 0x10, 99.0, 3.5, ""),
        # bit 0: RES_SCAL invalid, use the default.
        ptr(200, 5.5, TEST_TXT="VREF_TRIMMED", ALARM_ID="", OPT_FLAG=0x0E | 0x01, RES_SCAL=6),
        prr(part_id="3"),
    ])  # fmt: skip
    got = [(r["part_id"], r["test_num"], r["test_name"], r["lo_limit"], r["hi_limit"], r["units"], r["res_scal"])
           for r in rows]  # fmt: skip
    assert got == [
        ("1", 100, "IDD_STANDBY", -1.5, 2.25, "mA", -3),
        ("1", 200, "VREF", 4.5, 5.5, "V", 0),
        ("2", 100, "IDD_STANDBY", -1.5, 2.25, "mA", -3),
        ("2", 200, "VREF", 4.5, 5.5, "V", 0),
        ("3", 100, "IDD_STANDBY", -1.5, 3.5, "mA", 0),  # its own RES_SCAL
        ("3", 200, "VREF_TRIMMED", 4.5, 5.5, "V", 0),
    ]
    assert column(rows, "result") == [0.25, 5.0, 0.5, 5.25, 0.75, 5.5]  # unscaled, as recorded
    assert column(rows, "test_type") == ["P"] * 6


def test_opt_flag_no_limit_bits_give_null_limits_and_are_carried(tmp_path):
    rows = tidied(tmp_path, [
        mir(), pir(),
        full_ptr(1, 1.0, "LEAK_HI_ONLY", 0x0E | 0x40, -math.inf, 5.0, "uA"),  # bit 6: no low limit
        full_ptr(2, 2.0, "GAIN_LO_ONLY", 0x0E | 0x80, 1.0, math.inf, "dB"),  # bit 7: no high limit
        full_ptr(3, 3.0, "TIME", 0x0E | 0xC0, 0.0, 0.0, "s"),  # neither
        prr(part_id="1"), pir(),
        ptr(1, 1.5), ptr(2, 2.5), ptr(3, 3.5),
        prr(part_id="2"), pir(),
        full_ptr(1, 1.25, "LEAK_HI_ONLY", 0x0E, 0.5, 6.0, "uA"),  # a record's own limits win
        prr(part_id="3"),
    ])  # fmt: skip
    got = [(r["test_num"], r["lo_limit"], r["hi_limit"]) for r in rows]
    assert got == [(1, None, 5.0), (2, 1.0, None), (3, None, None),
                   (1, None, 5.0), (2, 1.0, None), (3, None, None),
                   (1, 0.5, 6.0)]  # fmt: skip


@pytest.mark.parametrize(
    ("test_flg", "result", "passed"),
    [
        (0x00, 1.5, True),
        (0x01, 1.5, True),  # bit 0 alarm: still a pass
        (0x80, 1.5, False),  # bit 7 failed
        (0x02, None, True),  # bit 1 result invalid
        (0x82, None, False),
        (0x40, 1.5, None),  # bit 6 no pass/fail indication
        (0xC0, 1.5, None),
        (0x10, 1.5, None),  # bit 4 test not executed
    ],
)
def test_test_flg_result_invalid_and_pass_fail(tmp_path, test_flg, result, passed):
    (row,) = tidied(tmp_path, [mir(), pir(), ptr(7, 1.5, flg=test_flg), prr()])
    assert (row["result"], row["passed"], row["test_flg"]) == (result, passed, test_flg)


# --------------------------------------------------------------------------------------------
# Parts


def test_interleaved_sites_go_to_the_part_open_on_their_site(tmp_path):
    rows = tidied(tmp_path, [
        mir(), pir(site=1), pir(site=2),
        ptr(10, 1.0, site=1), ptr(10, 2.0, site=2), ptr(11, 3.0, site=1), ptr(11, 4.0, site=2),
        prr(site=2, part_id="B", hard=5, soft=50, flg=0x08), prr(site=1, part_id="A", hard=1, soft=1),
    ])  # fmt: skip
    got = [(r["result"], r["site"], r["part_id"], r["part_index"], r["hard_bin"], r["soft_bin"], r["part_passed"])
           for r in rows]  # fmt: skip
    # part_index is the PRR's row: site 2's PRR came first.
    assert got == [(1.0, 1, "A", 1, 1, 1, True), (2.0, 2, "B", 0, 5, 50, False),
                   (3.0, 1, "A", 1, 1, 1, True), (4.0, 2, "B", 0, 5, 50, False)]  # fmt: skip


def test_part_flags_bins_and_missing_soft_bin(tmp_path):
    rows = tidied(tmp_path, [
        mir(), pir(), ptr(1), prr(part_id="good", flg=0x00, hard=1, soft=65535),
        pir(), ptr(1), prr(part_id="bad", flg=0x08, hard=7, soft=70),
        pir(), ptr(1), prr(part_id="unknown", flg=0x10, hard=9, soft=90),  # bit 4: no pass/fail
    ])  # fmt: skip
    assert [(r["part_id"], r["part_passed"], r["hard_bin"], r["soft_bin"]) for r in rows] == [
        ("good", True, 1, None), ("bad", False, 7, 70), ("unknown", None, 9, 90)]  # fmt: skip


def test_retested_die_only_its_last_insertion_is_last(tmp_path):
    # The retest supersedes the whole first insertion: test 2, which it did not rerun, has no
    # final result on (3, 4) (it was is_last_test under the old per-test rule).
    rows = tidied(tmp_path, [
        mir(), ("WIR", {"HEAD_NUM": 1, "SITE_GRP": 255, "START_T": 0, "WAFER_ID": "W01"}),
        pir(), ptr(1, 0.125), ptr(2, 0.25), prr(x=3, y=4, part_id="1", flg=0x08),
        pir(), ptr(1, 0.375), prr(x=5, y=6, part_id="2"),
        pir(), ptr(1, 0.5), prr(x=3, y=4, part_id="3"),  # the retest of (3, 4), test 2 not rerun
        ("WRR", {"HEAD_NUM": 1, "SITE_GRP": 255, "FINISH_T": 0, "PART_CNT": 3, "RTST_CNT": 1, "ABRT_CNT": 0,
                 "GOOD_CNT": 2, "FUNC_CNT": 0, "WAFER_ID": "W01"}),
    ])  # fmt: skip
    got = [(r["x"], r["y"], r["test_num"], r["result"], r["is_last_test"]) for r in rows]
    assert got == [
        (3, 4, 1, 0.125, False),
        (3, 4, 2, 0.25, False),
        (5, 6, 1, 0.375, True),
        (3, 4, 1, 0.5, True),
    ]


def test_missing_coordinates_identify_dies_by_part_id(tmp_path):
    rows = tidied(tmp_path, [
        mir(),
        pir(), ptr(1, 1.0), prr(part_id="U7"),
        pir(), ptr(1, 2.0), prr(part_id=""),
        pir(), ptr(1, 3.0), prr(part_id=""),  # no coordinates, no id: never a retest
        pir(), ptr(1, 4.0), prr(part_id="U7"),  # U7 again: a retest
    ])  # fmt: skip
    assert column(rows, "x") == column(rows, "y") == [None] * 4
    assert column(rows, "part_id") == ["U7", None, None, "U7"]
    assert column(rows, "is_last_test") == [False, True, True, True]


def test_same_test_number_with_different_names_are_different_tests(tmp_path):
    # Advantest 93000 writes TEST_NUM 0 for many tests; defaults still follow the number (spec).
    rows = tidied(tmp_path, [
        mir(), wir("W1"),  # inside a wafer, so (1, 1) twice is the same die
        pir(), full_ptr(0, 1.0, "Continuity:VDD[1]", 0x0E, 0.5, 1.5, "V"), ptr(0, 2.0, TEST_TXT="Leakage:VDD[1]"),
        prr(x=1, y=1),
        pir(), ptr(0, 1.1, TEST_TXT="Continuity:VDD[1]"), ptr(0, 2.1, TEST_TXT="Leakage:VDD[1]"), prr(x=1, y=1),
        wrr("W1"),
    ])  # fmt: skip
    assert column(rows, "test_name") == ["Continuity:VDD[1]", "Leakage:VDD[1]"] * 2
    assert column(rows, "lo_limit") == [0.5] * 4
    assert column(rows, "is_last_test") == [False, False, True, True]


def test_records_outside_any_part_are_kept_without_part_columns(tmp_path):
    rows = tidied(tmp_path, [
        mir(lot="L9"), ptr(1, 1.0, site=3), pir(site=3), ptr(1, 2.0, site=3), ptr(1, 2.5, site=4),
        prr(site=3, part_id="7", x=2, y=2), ptr(1, 3.0, site=3),
    ])  # fmt: skip
    assert column(rows, "result") == [1.0, 2.0, 2.5, 3.0]
    assert column(rows, "part_id") == [None, "7", None, None]
    assert column(rows, "part_index") == [None, 0, None, None]
    assert column(rows, "is_last_test") == [None, True, None, None]
    assert column(rows, "x") == [None, 2, None, None]
    assert column(rows, "site") == [3, 3, 4, 3]
    assert column(rows, "lot_id") == ["L9"] * 4


def test_head_and_site_255_match_the_open_part(tmp_path):
    rows = tidied(tmp_path, [
        mir(), pir(site=3), ptr(1, 1.0, site=255), ptr(2, 2.0, head=255, site=255), prr(site=3, part_id="a"),
        pir(site=255), ptr(3, 3.0, site=255), prr(site=255, part_id="b"),
    ])  # fmt: skip
    assert [(r["part_id"], r["site"]) for r in rows] == [("a", 3), ("a", 3), ("b", 255)]


def test_part_without_prr_is_numbered_after_the_closed_parts(tmp_path):
    rows = tidied(tmp_path, [mir(), pir(site=1), pir(site=2), ptr(1, 1.0, site=1), ptr(1, 2.0, site=2),
                             prr(site=2, part_id="closed")])  # fmt: skip
    assert [(r["part_index"], r["part_id"], r["hard_bin"], r["is_last_test"]) for r in rows] == [
        (1, None, None, True), (0, "closed", 1, True)]  # fmt: skip


# --------------------------------------------------------------------------------------------
# MPR, FTR, wafers


def test_mpr_results_are_exploded_one_row_per_pin(tmp_path):
    mpr_first = {"TEST_NUM": 300, "HEAD_NUM": 1, "SITE_NUM": 1, "TEST_FLG": 0, "PARM_FLG": 0,
                 "RTN_STAT": [0, 0, 0], "RTN_RSLT": [0.5, 0.625, 0.75], "TEST_TXT": "CONT", "ALARM_ID": "",
                 "OPT_FLAG": 0x0E, "RES_SCAL": 0, "LLM_SCAL": 0, "HLM_SCAL": 0, "LO_LIMIT": 0.25, "HI_LIMIT": 1.0,
                 "START_IN": 0.0, "INCR_IN": 0.0, "RTN_INDX": [11, 12, 13], "UNITS": "V"}  # fmt: skip
    rows = tidied(tmp_path, [
        mir(), pir(), ("MPR", mpr_first), prr(part_id="1"),
        # RTN_ICNT 0: the pins are the first MPR's (spec, MPR default data).
        pir(), ("MPR", {"TEST_NUM": 300, "HEAD_NUM": 1, "SITE_NUM": 1, "TEST_FLG": 0x80, "PARM_FLG": 0,
                        "RTN_RSLT": [0.5, 1.5, 0.75]}), prr(part_id="2"),
        pir(), ("MPR", {"TEST_NUM": 300, "HEAD_NUM": 1, "SITE_NUM": 1, "TEST_FLG": 0x02, "PARM_FLG": 0,
                        "RTN_RSLT": [9.0, 9.0, 9.0]}), prr(part_id="3"),
        pir(), ("MPR", {"TEST_NUM": 300, "HEAD_NUM": 1, "SITE_NUM": 1, "TEST_FLG": 0x40, "PARM_FLG": 0}),
        prr(part_id="4"),
    ])  # fmt: skip
    got = [
        (r["part_id"], r["pin"], r["result"], r["passed"], r["lo_limit"], r["hi_limit"], r["units"])
        for r in rows
    ]
    assert got == [
        ("1", 11, 0.5, True, 0.25, 1.0, "V"), ("1", 12, 0.625, True, 0.25, 1.0, "V"),
        ("1", 13, 0.75, True, 0.25, 1.0, "V"),
        ("2", 11, 0.5, False, 0.25, 1.0, "V"), ("2", 12, 1.5, False, 0.25, 1.0, "V"),
        ("2", 13, 0.75, False, 0.25, 1.0, "V"),
        ("3", 11, None, True, 0.25, 1.0, "V"), ("3", 12, None, True, 0.25, 1.0, "V"),
        ("3", 13, None, True, 0.25, 1.0, "V"),
        ("4", None, None, None, 0.25, 1.0, "V"),  # no results: one row keeps the execution
    ]  # fmt: skip
    assert set(column(rows, "test_type")) == {"M"}
    assert set(column(rows, "test_name")) == {"CONT"}


def test_ftr_rows(tmp_path):
    ftr = {"TEST_NUM": 500, "HEAD_NUM": 1, "SITE_NUM": 1}
    rows = tidied(tmp_path, [
        mir(), pir(), ("FTR", {**ftr, "TEST_FLG": 0x00, "TEST_TXT": "scan_chain"}), ptr(1, 1.0), prr(part_id="1"),
        pir(), ("FTR", {**ftr, "TEST_FLG": 0x80}), prr(part_id="2"),
    ])  # fmt: skip
    got = [(r["test_type"], r["test_num"], r["test_name"], r["passed"], r["result"], r["lo_limit"], r["units"],
            r["parm_flg"], r["part_id"]) for r in rows]  # fmt: skip
    assert got == [("F", 500, "scan_chain", True, None, None, None, None, "1"),
                   ("P", 1, None, True, 1.0, None, None, 0, "1"),
                   ("F", 500, "scan_chain", False, None, None, None, None, "2")]  # fmt: skip


def wir(wafer, head=1):
    return ("WIR", {"HEAD_NUM": head, "SITE_GRP": 255, "START_T": 0, "WAFER_ID": wafer})


def wrr(wafer, head=1):
    return ("WRR", {"HEAD_NUM": head, "SITE_GRP": 255, "FINISH_T": 0, "PART_CNT": 1, "RTST_CNT": 0,
                    "ABRT_CNT": 0, "GOOD_CNT": 1, "FUNC_CNT": 0, "WAFER_ID": wafer})  # fmt: skip


def test_wafer_comes_from_the_wir_wrr_bracketing_the_part_on_its_head(tmp_path):
    rows = tidied(tmp_path, [
        mir(),
        wir("W01"), pir(), ptr(1, 1.0), prr(x=0, y=0), wrr("W01"),
        wir(""), pir(), ptr(1, 2.0), prr(x=0, y=0), wrr("W02"),  # WIR without an id: the WRR's
        pir(), ptr(1, 3.0), prr(x=0, y=0),  # between wafers
        wir("H2W", head=2), pir(head=1), pir(head=2), ptr(1, 4.0, head=1), ptr(1, 5.0, head=2),
        prr(head=1, x=9, y=9), prr(head=2, x=9, y=9), wrr("H2W", head=2),
    ])  # fmt: skip
    assert [(r["result"], r["head"], r["wafer_id"]) for r in rows] == [
        (1.0, 1, "W01"), (2.0, 1, "W02"), (3.0, 1, None), (4.0, 1, None), (5.0, 2, "H2W")]  # fmt: skip
    # The same (x, y) on two wafers is two dies.
    assert column(rows, "is_last_test")[:2] == [True, True]


def test_lot_sublot_and_empty_strings_as_null(tmp_path):
    rows = tidied(tmp_path, [mir(lot="LOT42", sublot=""), pir(), ptr(1), prr()])
    assert [(r["lot_id"], r["sublot_id"], r["wafer_id"], r["part_id"]) for r in rows] == [
        ("LOT42", None, None, None)
    ]


def test_no_test_records_gives_an_empty_table_with_the_schema(tmp_path):
    path = tmp_path / "parts_only.stdf"
    with StdfWriter(path) as w:
        for name, fields in [mir(), pir(), prr(x=1, y=2)]:
            w.record(name, **fields)
    table = tidy(read(path))
    assert table.num_rows == 0 and table.schema == TIDY_SCHEMA
    assert tidy({}).schema == TIDY_SCHEMA


def test_tables_need_not_be_in_file_order(tmp_path):
    path = tmp_path / "t.stdf"
    with StdfWriter(path) as w:
        for name, fields in [mir(), pir(site=1), pir(site=2), ptr(1, 1.0, site=1), ptr(1, 2.0, site=2),
                             prr(site=1, part_id="a"), prr(site=2, part_id="b")]:  # fmt: skip
            w.record(name, **fields)
    tables = read(path)
    expected = tidy(tables)
    shuffled = {name: t.take(pa.array(list(range(t.num_rows))[::-1])) for name, t in tables.items()}
    assert tidy(shuffled).equals(expected)


# --------------------------------------------------------------------------------------------
# Random multi-site streams: the writer of the stream knows the answers


@st.composite
def multisite_streams(draw):
    """A stream of PIR / PTR / PRR for up to three sites, with each PTR's expected part, limits
    and whether it belongs to its die's last insertion (dies drawn from a few (x, y))."""
    n_tests = draw(st.integers(1, 4))
    limits = {t: (float(-t - 1), float(t + 1)) for t in range(n_tests)}
    written_limits: set[int] = set()
    records, expected = [mir()], []
    open_parts: dict[int, list] = {}  # site -> rows of its open part
    opened: dict[int, int] = {}  # site -> when its open part's PIR was written
    parts_closed = 0
    dies_written = set()
    last_part: dict[tuple[int, int], int] = {}  # die -> its last closed part
    for step in draw(st.lists(st.tuples(st.integers(1, 3), st.integers(0, 3), st.integers(0, n_tests - 1),
                                        st.booleans()), max_size=40)):  # fmt: skip
        site, action, t, full = step
        if site not in open_parts:
            records.append(pir(site))
            open_parts[site], opened[site] = [], len(records)
        elif action == 0:
            die = draw(st.sampled_from([(0, 0), (0, 1), (1, 0)]))
            records.append(prr(site, x=die[0], y=die[1], part_id=str(parts_closed)))
            dies_written.add(die)
            # Every closed part counts for its die, with test results or without.
            last_part[die] = parts_closed
            for e in open_parts.pop(site):
                e["part_index"], e["die"] = parts_closed, die
            parts_closed += 1
        else:
            result = float(len(expected))
            if full or t not in written_limits:
                lo, hi = limits[t]
                records.append(full_ptr(t, result, f"T{t}", 0x0E, lo, hi, "V", site=site))
                written_limits.add(t)
            else:
                records.append(ptr(t, result, site))
            e = {"result": result, "site": site, "test_num": t, "lo": limits[t][0], "hi": limits[t][1],
                 "part_index": None, "die": None}  # fmt: skip
            open_parts[site].append(e)
            expected.append(e)
    # Parts left open get numbers after the closed ones, in PIR order.
    for site in sorted(open_parts, key=opened.__getitem__):
        for e in open_parts[site]:
            e["part_index"] = parts_closed
        parts_closed += 1
    # Outside wafers, coordinates identify dies only when they vary (silicio.stdf.parts); else the
    # part ids, all distinct here, make every part its own die.
    if len(dies_written) < 2:
        for e in expected:
            e["die"] = None
    # A row is final when its part is the last closed part (PRR) of its die; a part left open,
    # or one whose die is unknown, is a die of its own.
    for e in expected:
        e["last"] = e["die"] is None or last_part[e["die"]] == e["part_index"]
    return records, expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(multisite_streams())
def test_random_multisite_streams(tmp_path, stream):
    records, expected = stream
    rows = tidied(tmp_path, records)
    got = [(r["result"], r["site"], r["part_index"], r["lo_limit"], r["hi_limit"], r["test_name"], r["is_last_test"])
           for r in rows]  # fmt: skip
    want = [(e["result"], e["site"], e["part_index"], e["lo"], e["hi"], f"T{e['test_num']}", e["last"])
            for e in expected]  # fmt: skip
    assert got == want


# --------------------------------------------------------------------------------------------
# Shared sample files


def sample(name: str):
    path = DATA / name
    if not path.exists():
        missing_shared(
            f"sample file {name} not found under {DATA} (the shared STDF data set is not checked out)"
        )
    return read(path)


def flag_counts(flags: list[int]) -> Counter:
    """Pass / fail / no verdict of each TEST_FLG, from the spec's bits 4, 6 and 7."""
    return Counter("none" if f & 0x50 else ("fail" if f & 0x80 else "pass") for f in flags)


def verdicts(rows_passed: list) -> Counter:
    return Counter({True: "pass", False: "fail", None: "none"}[p] for p in rows_passed)


def test_galaxy_lot3_one_row_per_ptr_on_the_prr_dies():
    tables = sample("galaxy_lot3_A530_BE.stdf")
    ptr_t, prr_t, pir_t = tables["PTR"], tables["PRR"], tables["PIR"]
    out = tidy(tables)
    assert out.num_rows == ptr_t.num_rows == 54_123
    assert out.column("seq").to_pylist() == ptr_t.column("seq").to_pylist()
    assert (
        out.column("part_index").null_count == out.column("x").null_count == out.column("y").null_count == 0
    )
    # Independently: the PRR whose PIR..PRR bracket holds each PTR (one site, so brackets nest).
    pir_seq, prr_seq = pir_t.column("seq").to_pylist(), prr_t.column("seq").to_pylist()
    xs, ys = prr_t.column("X_COORD").to_pylist(), prr_t.column("Y_COORD").to_pylist()
    assert prr_t.num_rows == 1_619 and all(x != NO_XY for x in xs)
    expected_part = []
    for s in ptr_t.column("seq").to_pylist():
        i = bisect.bisect_left(prr_seq, s)
        assert pir_seq[i] < s < prr_seq[i]
        expected_part.append(i)
    assert out.column("part_index").to_pylist() == expected_part
    assert out.column("x").to_pylist() == [xs[i] for i in expected_part]
    assert out.column("y").to_pylist() == [ys[i] for i in expected_part]
    # Only every other die of this demo file kept its PTRs.
    assert len(set(expected_part)) == 809
    assert set(out.column("lot_id").to_pylist()) == {"GAL-LOT"}
    assert set(out.column("wafer_id").to_pylist()) == {"GAL-LOT-03"}
    assert verdicts(out.column("passed").to_pylist()) == flag_counts(ptr_t.column("TEST_FLG").to_pylist())
    # Every PTR of this file carries OPT_FLAG: limits are its own, null where bits 6 / 7 say so.
    opts = ptr_t.column("OPT_FLAG").to_pylist()
    los, his = ptr_t.column("LO_LIMIT").to_pylist(), ptr_t.column("HI_LIMIT").to_pylist()
    assert out.column("lo_limit").to_pylist() == [
        None if o & 0x40 else lo for o, lo in zip(opts, los, strict=True)
    ]
    assert out.column("hi_limit").to_pylist() == [
        None if o & 0x80 else hi for o, hi in zip(opts, his, strict=True)
    ]
    # Retests: a die's final rows are those of its last PRR (its last insertion), whatever tests
    # the earlier insertions ran.
    last_prr = {(x, y): i for i, (x, y) in enumerate(zip(xs, ys, strict=True))}
    last = out.column("is_last_test").to_pylist()
    assert last == [last_prr[(xs[i], ys[i])] == i for i in expected_part]
    assert last.count(False) > 0


def test_rabbi_four_sites_every_ptr_on_a_part_of_its_site():
    tables = sample("rabbi_IntegraFlex_IGXL_LE.stdf")
    ptr_t, ftr_t, prr_t = tables["PTR"], tables["FTR"], tables["PRR"]
    out = tidy(tables)
    assert out.num_rows == ptr_t.num_rows + ftr_t.num_rows
    ptr_rows = out.filter(pa.compute.equal(out.column("test_type"), "P"))
    assert ptr_rows.column("seq").to_pylist() == ptr_t.column("seq").to_pylist()
    assert ptr_rows.column("part_index").null_count == 0
    prr_sites = prr_t.column("SITE_NUM").to_pylist()
    ptr_sites = ptr_t.column("SITE_NUM").to_pylist()
    assert len(set(ptr_sites)) == 4
    assert [prr_sites[i] for i in ptr_rows.column("part_index").to_pylist()] == ptr_sites
    assert ptr_rows.column("site").to_pylist() == ptr_sites
    assert len(set(out.column("part_index").to_pylist())) == 400
    # Each part's rows sit between its PIR and its PRR.
    prr_seq = prr_t.column("seq").to_pylist()
    for part, s in zip(out.column("part_index").to_pylist(), out.column("seq").to_pylist(), strict=True):
        assert s < prr_seq[part]
    assert verdicts(ptr_rows.column("passed").to_pylist()) == flag_counts(
        ptr_t.column("TEST_FLG").to_pylist()
    )
    # Limits are written by the first PTR of each test only; every row has them resolved.
    first = {}
    for num, opt, lo in zip(ptr_t.column("TEST_NUM").to_pylist(), ptr_t.column("OPT_FLAG").to_pylist(),
                            ptr_t.column("LO_LIMIT").to_pylist(), strict=True):  # fmt: skip
        if opt is not None:
            first.setdefault(num, None if opt & 0x40 else lo)
    assert ptr_rows.column("lo_limit").to_pylist() == [first[n] for n in ptr_t.column("TEST_NUM").to_pylist()]


@pytest.mark.parametrize(  # without the data, one run that skips (fails under SILICIO_REQUIRE_SHARED=1)
    "name",
    sorted(p.name for p in DATA.glob("*") if p.suffix != ".tsv") if DATA.exists() else ["no-shared-data"],
)
def test_every_sample_file_one_row_per_result(name):
    tables = sample(name)
    out = tidy(tables)
    expected = {"P": 0, "M": 0, "F": 0}
    for kind, record in (("P", "PTR"), ("M", "MPR"), ("F", "FTR")):
        if record in tables:
            t = tables[record]
            expected[kind] = (
                t.num_rows if kind != "M" else sum(max(n or 0, 1) for n in t["RSLT_CNT"].to_pylist())
            )
    assert Counter(out.column("test_type").to_pylist()) == Counter({k: v for k, v in expected.items() if v})
    seqs = out.column("seq").to_pylist()
    assert seqs == sorted(seqs)


def test_tables_read_in_many_windows_give_the_same_view():
    # Small windows make every column many chunks, MPR lists included.
    whole = tidy(sample("ayad_ws_93k_wafer_LE.stdf"))
    chunked = tidy(read(DATA / "ayad_ws_93k_wafer_LE.stdf", window_bytes=1 << 16))
    assert chunked.equals(whole)
    assert whole.column("pin").null_count < whole.num_rows  # its MPRs name their pins
