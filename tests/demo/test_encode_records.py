"""encode_records / write_encoded: records by the array give the bytes record() gives one by one."""

from __future__ import annotations

import io

import numpy as np
import pytest

from silicio.stdf import read
from silicio.stdf.writer import StdfWriter, encode_records


def _one_by_one(name: str, rows: list[dict], byteorder: str) -> bytes:
    buffer = io.BytesIO()
    with StdfWriter(buffer, byteorder=byteorder, far=False) as writer:
        for row in rows:
            writer.record(name, **row)
    return buffer.getvalue()


@pytest.mark.parametrize("byteorder", ["<", ">"])
def test_arrays_encode_as_records_written_one_by_one(byteorder):
    columns = {
        "TEST_NUM": np.array([1000, 1001, 70000], np.uint32),
        "HEAD_NUM": 1,
        "SITE_NUM": np.array([1, 2, 8]),
        "TEST_FLG": np.array([0, 0x80, 0]),
        "PARM_FLG": 0xC0,
        "RESULT": np.array([-0.62, 1.5e-9, 36e6], np.float32),
    }
    rows = [
        {k: (v[i].item() if isinstance(v, np.ndarray) else v) for k, v in columns.items()} for i in range(3)
    ]
    encoded = encode_records("PTR", columns, byteorder=byteorder)
    assert encoded.shape == (3, 16)
    assert encoded.tobytes() == _one_by_one("PTR", rows, byteorder)
    # A field left out before a given one is written as 0, as record() does.
    prr = encode_records(
        "PRR", {"HEAD_NUM": 1, "SITE_NUM": [3], "X_COORD": [-32768], "TEST_T": [250]}, byteorder=byteorder
    )
    assert prr.tobytes() == _one_by_one(
        "PRR", [dict(HEAD_NUM=1, SITE_NUM=3, X_COORD=-32768, TEST_T=250)], byteorder
    )


def test_encoded_records_read_back_and_count():
    buffer = io.BytesIO()
    with StdfWriter(buffer) as writer:
        writer.record("MIR", SETUP_T=0, START_T=0, STAT_NUM=1, LOT_ID="L1")
        before = writer.offset
        pirs = encode_records("PIR", {"HEAD_NUM": 1, "SITE_NUM": np.arange(1, 5)})
        assert writer.write_encoded(pirs, 4) == before
        assert writer.offset == before + 4 * 6
        assert writer.records_written == 6  # FAR, MIR, 4 PIR
    tables = read(io.BytesIO(buffer.getvalue()))
    assert tables.issues == []
    assert tables["PIR"].column("SITE_NUM").to_pylist() == [1, 2, 3, 4]


def test_variable_fields_and_unknown_names_are_refused():
    with pytest.raises(ValueError, match="fixed-size"):
        encode_records("PTR", {"TEST_NUM": [1], "TEST_TXT": ["x"]})
    with pytest.raises(ValueError, match="no field"):
        encode_records("PIR", {"SITE": [1]})
    with pytest.raises(ValueError, match="outside"):
        encode_records("PIR", {"HEAD_NUM": 1, "SITE_NUM": [256]})
    with pytest.raises(ValueError, match="one length"):
        encode_records("PIR", {"HEAD_NUM": [1, 1], "SITE_NUM": [1, 2, 3]})
