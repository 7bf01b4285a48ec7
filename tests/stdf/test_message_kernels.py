"""The kernels that write a record type's batch as one Arrow IPC message: a batch spanning
several of ``_fill``'s blocks of records, in either byte order, and records overrunning theirs
in a small batch (whose per-record damage is decoded again only then), read as written."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from silicio import stdf
from silicio.stdf import _kernels as K
from silicio.stdf import read, reader

N_PTR = 3 * K.FILL_BLOCK + 5  # several blocks, the last one short; one range (below LARGE_BATCH)


def _record(rec_typ: int, rec_sub: int, payload: bytes) -> bytes:
    return struct.pack("<HBB", len(payload), rec_typ, rec_sub) + payload


def _cn(data: bytes) -> bytes:
    return bytes([len(data)]) + data


def _ptr_file(n: int, damaged_at: int | None = None) -> tuple[bytes, dict, list[int]]:
    """A FAR and ``n`` PTRs whose texts take 0 to 40 bytes (not multiples of 8: copies 8 bytes
    at a time run past them), every seventh stopping after RESULT and every third carrying
    limits and units. Returns the file, the values written per field, and each PTR's offset."""
    rng = np.random.default_rng(11)
    results = rng.standard_normal(n).astype(np.float32)
    written = {"RESULT": [], "TEST_TXT": [], "ALARM_ID": [], "LO_LIMIT": [], "UNITS": []}
    offsets = []
    parts = [_record(0, 10, bytes([2, 4]))]
    at = 6
    for i in range(n):
        payload = struct.pack("<IBBBBf", 1000 + i % 89, 1, i % 4, 0, 0, results[i])
        written["RESULT"].append(float(results[i]))
        text = (b"T%d-" % i + b"x" * (i % 37))[:40] if i % 11 else b""
        if i % 7 == 6:
            text = alarm = limit = units = None
        else:
            alarm = b"A" * (i % 3)
            payload += _cn(text) + _cn(alarm)
            limit = units = None
            if i % 3 == 0:
                limit = float(-1 - i % 5)
                units = b"mV"[: 1 + i % 2]
                payload += struct.pack("<Bbbbff", 0x0E, 0, 0, 0, limit, 1.0) + _cn(units) + _cn(b"%7.3f") * 3
        if i == damaged_at:  # the record ends two bytes into TEST_TXT, which runs past it
            payload = payload[:14]
            text = alarm = limit = units = None
        written["TEST_TXT"].append(None if text is None else text.decode())
        written["ALARM_ID"].append(None if alarm is None else alarm.decode())
        written["LO_LIMIT"].append(limit)
        written["UNITS"].append(None if units is None else units.decode())
        rec = _record(15, 10, payload)
        offsets.append(at)
        at += len(rec)
        parts.append(rec)
    return b"".join(parts), written, offsets


def test_a_batch_of_several_blocks_reads_as_written(kernels):
    data, written, offsets = _ptr_file(N_PTR)
    ptr = read(data)["PTR"]
    assert ptr.num_rows == N_PTR
    assert ptr["offset"].to_pylist() == offsets
    for name, values in written.items():
        assert ptr[name].to_pylist() == values, name


def test_big_endian_reads_the_same(kernels):
    data, _, _ = _ptr_file(N_PTR)
    little = read(data)
    out = io.BytesIO()
    stdf.write(out, little, byteorder=">")
    big = read(out.getvalue())
    assert big.byteorder == ">"
    for name in ("TEST_NUM", "SITE_NUM", "RESULT", "TEST_TXT", "ALARM_ID", "LO_LIMIT", "HI_LIMIT", "UNITS"):
        assert big["PTR"][name].equals(little["PTR"][name]), name


@pytest.mark.parametrize("damaged_at", [1, 5, N_PTR - 1])
def test_a_record_overrunning_in_a_small_batch_is_reported(kernels, damaged_at):
    data, written, offsets = _ptr_file(50 if damaged_at < 50 else N_PTR, damaged_at=damaged_at)
    tables = read(data, strict=False)
    assert [(i.offset, i.record) for i in tables.issues] == [(offsets[damaged_at], "PTR")]
    assert "field TEST_TXT (Cn) runs past the end of the record (REC_LEN=14)" in tables.issues[0].reason
    ptr = tables["PTR"]
    for name, values in written.items():
        assert ptr[name].to_pylist() == values, name  # the damaged record keeps RESULT, loses the rest
    with pytest.raises(stdf.StdfError, match="TEST_TXT"):
        read(data)


def test_counts_and_widths_precede_their_arrays():
    # The kernels read an array's item count (and item width) from the columns already decoded
    # for the record, so the field holding it must come first, as the specification lays out.
    for name, plan in reader._PLANS.items():
        for f in range(len(plan.kinds)):
            for ref in (plan.count_ref[f], plan.size_ref[f]):
                assert ref < f, (name, plan.record.fields[f].name)
