"""The reader builds most record types' batches as one Arrow IPC message each, and the others
(generic data, arrays of variable-width items, text that is not ASCII) column by column. Both
ways must give the same tables: forcing every type down the column path must change nothing."""

from __future__ import annotations

import io

import pytest

from silicio.stdf import read, reader
from silicio.stdf.writer import StdfWriter
from tests.conftest import assert_same_tables


def read_both(source, monkeypatch, **kwargs):
    by_message = read(source, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(reader, "_ipc_plan_of", lambda name: None)
        by_column = read(source, **kwargs)
    return by_message, by_column


def test_shared_file_same_either_way(shared_stdf_file, monkeypatch):
    by_message, by_column = read_both(shared_stdf_file, monkeypatch, strict=False)
    assert list(by_message) == list(by_column)
    for name in by_message:
        assert by_message[name].equals(by_column[name]), name
    assert [str(i) for i in by_message.issues] == [str(i) for i in by_column.issues]


def test_messages_cover_the_common_record_types():
    covered = {name for name in reader.RECORDS if reader._ipc_plan_of(name) is not None}
    assert {
        "FAR",
        "MIR",
        "PIR",
        "PTR",
        "MPR",
        "FTR",
        "PRR",
        "HBR",
        "SBR",
        "TSR",
        "SDR",
        "WIR",
        "WRR",
    } <= covered
    assert "GDR" not in covered  # generic data stays column by column


@pytest.mark.parametrize("byteorder", ["<", ">"])
def test_left_out_fields_bad_records_and_latin1_text_same_either_way(monkeypatch, byteorder):
    """Records that omit different trailing fields (columns with some nulls), a record whose
    field overruns it, FTR arrays and bit fields, and a type whose text is Latin-1 (built column
    by column in both runs, with its neighbours still built as messages)."""
    records = {
        "PTR": [
            {"TEST_NUM": 1, "HEAD_NUM": 1, "SITE_NUM": 1, "TEST_FLG": 0, "PARM_FLG": 0, "RESULT": 1.5,
             "TEST_TXT": "vdd", "LO_LIMIT": 1.0, "HI_LIMIT": 2.0, "UNITS": "V"},
            {"TEST_NUM": 1, "HEAD_NUM": 1, "SITE_NUM": 2, "TEST_FLG": 0, "PARM_FLG": 0, "RESULT": 1.25},
            {"TEST_NUM": 2, "HEAD_NUM": 1, "SITE_NUM": 1},
        ],
        "FTR": [
            {"TEST_NUM": 7, "HEAD_NUM": 1, "SITE_NUM": 1, "TEST_FLG": 0, "OPT_FLAG": 0, "CYCL_CNT": 3,
             "RTN_INDX": [1, 2, 3], "RTN_STAT": [1, 15, 7], "PGM_INDX": [4], "PGM_STAT": [2],
             "FAIL_PIN": {"bit_count": 11, "bit_data": b"\xff\x05"}, "VECT_NAM": "v1"},
            {"TEST_NUM": 7, "HEAD_NUM": 1, "SITE_NUM": 2, "TEST_FLG": 1},
        ],
        "PRR": [{"HEAD_NUM": 1, "SITE_NUM": 1, "PART_FLG": 0, "NUM_TEST": 2, "HARD_BIN": 1, "SOFT_BIN": 1,
                 "PART_ID": "Teilnr. ä", "PART_FIX": b"\x00\x80"}],
    }  # fmt: skip
    out = io.BytesIO()
    with StdfWriter(out, byteorder=byteorder) as writer:
        for name, rows in records.items():
            for row in rows:
                writer.record(name, **row)
    data = bytearray(out.getvalue())
    # one more PTR whose TEST_TXT claims 200 bytes the record does not hold
    endian = "little" if byteorder == "<" else "big"
    data += (
        (13).to_bytes(2, endian)
        + bytes([15, 10])
        + (9).to_bytes(4, endian)
        + bytes([1, 1, 0, 0, 0, 0, 0, 0, 200])
    )
    by_message, by_column = read_both(bytes(data), monkeypatch, strict=False)
    assert_same_tables(by_message, by_column)
    assert by_message["PTR"].column("RESULT").to_pylist() == [1.5, 1.25, None, 0.0]
    assert by_message["PTR"].column("TEST_TXT").to_pylist() == ["vdd", None, None, None]
    assert by_message["FTR"].column("RTN_STAT").to_pylist() == [[1, 15, 7], None]
    assert by_message["FTR"].column("FAIL_PIN").to_pylist()[0] == {"bit_count": 11, "bit_data": b"\xff\x05"}
    assert by_message["PRR"].column("PART_ID").to_pylist() == ["Teilnr. ä"]
    assert [i.record for i in by_message.issues] == ["PTR"]
    assert [str(i) for i in by_message.issues] == [str(i) for i in by_column.issues]
