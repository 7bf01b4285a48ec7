"""summarize(): headline numbers of a file, on the demo lot, a real tester file and edge cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from silicio.demo.stdf_demo import FIRST_START, simulate_lot, write_demo_stdf
from silicio.stdf import read
from silicio.stdf.spec import RECORDS, schema
from silicio.stdf.summary import summarize
from silicio.stdf.writer import StdfWriter
from tests.conftest import shared_stdf


def table(record_type: str, rows: list[dict]) -> pa.Table:
    """A table as read() builds it: every column of the record type, nulls for fields not given."""
    full = [{"seq": i, "offset": 0, **row} for i, row in enumerate(rows)]
    return pa.Table.from_pylist(full, schema=schema(record_type))


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> Path:
    return write_demo_stdf(tmp_path_factory.mktemp("summary") / "demo.stdf", seed=0)


def test_demo_lot_numbers_are_as_generated(demo_file):
    lot = simulate_lot(seed=0)
    summary = summarize(read(demo_file))
    assert summary.path == str(demo_file)
    assert summary.parts == lot.parts == 416
    assert summary.good_parts == lot.good_parts
    assert summary.wafers == [w.wafer_id for w in lot.wafers] == ["TK41870-01", "TK41870-02"]
    assert summary.wafer_count == 2
    assert summary.tests == 12
    assert (summary.heads, summary.sites) == (1, 2)
    assert (summary.stdf_version, summary.byte_order) == ("V4", "little-endian")
    assert (summary.lot_id, summary.sublot_id, summary.part_type) == ("TK41870", None, "TCX4417-Q1")
    assert (summary.tester_type, summary.tester_node) == ("93000", "ws-t93k-07")
    assert (summary.program, summary.program_revision, summary.operator) == ("TCX4417_WS1", "3.2.1", "op1042")
    assert (summary.test_code, summary.mode_code) == ("WS1", "P")
    assert (
        summary.started == datetime.fromtimestamp(FIRST_START, UTC) == datetime(2024, 6, 3, 6, 0, tzinfo=UTC)
    )
    assert summary.finished == datetime.fromtimestamp(lot.finished, UTC)
    assert summary.issues == []


def test_records_per_type_are_counted_in_spec_order(demo_file):
    tables = read(demo_file)
    summary = summarize(tables)
    assert summary.records == {name: tables[name].num_rows for name in RECORDS if name in tables}
    assert list(summary.records) == [name for name in RECORDS if name in summary.records]
    assert summary.total_records == sum(t.num_rows for t in tables.values())


def test_to_dict_is_json_ready(demo_file):
    summary = summarize(read(demo_file))
    data = json.loads(json.dumps(summary.to_dict()))
    assert data["parts"] == summary.parts
    assert data["started"] == "2024-06-03T06:00:00+00:00"
    assert data["records"]["PTR"] == summary.records["PTR"]
    assert data["yield_percent"] == pytest.approx(100 * summary.good_parts / summary.parts)


def test_galaxy_lot3_matches_its_manifest():
    # MANIFEST.tsv: Teradyne A530 wafer sort, big-endian, 1 wafer, 1619 dies, 54,123 PTR.
    tables = read(shared_stdf("galaxy_lot3_A530_BE.stdf"))
    summary = summarize(tables)
    assert summary.parts == 1619
    assert summary.wafers == ["GAL-LOT-03"]
    assert summary.wafer_count == 1
    assert summary.records["PTR"] == 54_123
    assert summary.byte_order == "big-endian"
    assert (summary.lot_id, summary.tester_type, summary.part_type) == ("GAL-LOT", "A530", "GOLD8BAR")
    assert summary.started == datetime(2001, 6, 6, 1, 13, 45, tzinfo=UTC)
    # The tester's own hard bin summary: bin 1 (the only passing bin) holds the good parts.
    hbr = tables["HBR"].to_pylist()
    assert summary.good_parts == next(b["HBIN_CNT"] for b in hbr if b["HBIN_NUM"] == 1) == 1378
    assert summary.tests == len(set(tables["PTR"].column("TEST_NUM").to_pylist()))


def test_good_parts_follow_part_flg_bits_3_and_4():
    flags = [0x00, 0x08, 0x10, 0x18, 0x01, 0x04, None, 0x02]
    tables = {"PRR": table("PRR", [{"HEAD_NUM": 1, "SITE_NUM": 1, "PART_FLG": f} for f in flags])}
    summary = summarize(tables)
    # Bits 0-2 (retest, abnormal end) say nothing of pass/fail; bit 3 (failed), bit 4 (no
    # pass/fail indication) and a missing flag byte all mean "not a good part".
    assert summary.parts == 8
    assert summary.good_parts == 4


def test_blank_and_missing_fields_read_as_absent():
    tables = {
        "FAR": table("FAR", [{"CPU_TYPE": 0, "STDF_VER": 4}]),
        "MIR": table("MIR", [{"START_T": 0, "LOT_ID": "  ", "MODE_COD": " ", "PART_TYP": "X1"}]),
    }
    summary = summarize(tables)
    assert summary.started is None and summary.finished is None
    assert summary.lot_id is None and summary.mode_code is None
    assert summary.part_type == "X1"
    assert summary.byte_order is None  # CPU_TYPE 0 (VAX) names no byte order we read
    assert (summary.parts, summary.good_parts, summary.tests, summary.heads, summary.sites) == (0, 0, 0, 0, 0)
    assert summary.wafers == []


def test_wafer_ids_come_from_wir_or_wrr_in_file_order():
    tables = {
        "WIR": table("WIR", [{"HEAD_NUM": 1, "WAFER_ID": "W2"}, {"HEAD_NUM": 1, "WAFER_ID": None}]),
        "WRR": table("WRR", [{"HEAD_NUM": 1, "WAFER_ID": "W2"}, {"HEAD_NUM": 1, "WAFER_ID": "W7"}]),
    }
    tables["WIR"] = tables["WIR"].set_column(0, "seq", pa.array([0, 2], pa.uint64()))
    tables["WRR"] = tables["WRR"].set_column(0, "seq", pa.array([1, 3], pa.uint64()))
    summary = summarize(tables)
    assert summary.wafers == ["W2", "W7"]
    assert summary.wafer_count == 2


def test_wafers_without_ids_are_still_counted():
    tables = {
        "WIR": table("WIR", [{"HEAD_NUM": 1, "WAFER_ID": ""}]),
        "WRR": table("WRR", [{"HEAD_NUM": 1, "PART_CNT": 16, "WAFER_ID": " "}]),
    }
    summary = summarize(tables)
    assert (summary.wafers, summary.wafer_count) == ([], 1)


def test_sites_come_from_the_sdr_when_no_part_was_tested():
    tables = {"SDR": table("SDR", [{"HEAD_NUM": 2, "SITE_CNT": 4, "SITE_NUM": [0, 1, 2, 3]}])}
    summary = summarize(tables)
    assert (summary.heads, summary.sites) == (1, 4)


def test_distinct_tests_span_ptr_mpr_and_ftr():
    tables = {
        "PTR": table("PTR", [{"TEST_NUM": n} for n in (1, 2, 2, 3)]),
        "MPR": table("MPR", [{"TEST_NUM": 3}, {"TEST_NUM": 40}]),
        "FTR": table("FTR", [{"TEST_NUM": 500}]),
    }
    assert summarize(tables).tests == 5


def test_v4_2007_files_are_recognised(tmp_path):
    path = tmp_path / "v2007.stdf"
    with StdfWriter(path) as out:
        out.record("VUR", UPD_CNT=1, UPD_NAM=["V4-2007"])
        out.record("MIR", SETUP_T=0, START_T=0, STAT_NUM=1, LOT_ID="L")
    assert summarize(read(path)).stdf_version == "V4-2007"


def test_salvaged_damage_is_reported_with_its_offset(demo_file, tmp_path):
    tables = read(demo_file)
    cut_at = tables["PTR"].column("offset")[100].as_py() + 6
    damaged = tmp_path / "cut.stdf"
    damaged.write_bytes(demo_file.read_bytes()[:cut_at])
    summary = summarize(read(damaged, strict=False))
    assert summary.issues
    assert summary.issues[0].offset == cut_at - 6
    assert summary.to_dict()["issues"][0]["offset"] == cut_at - 6
    assert 0 < summary.records["PTR"] <= 100
