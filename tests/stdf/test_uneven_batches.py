"""Batches whose records hold different numbers of fields block by block, and GDR generic data
of every item type: the paths of the kernels that take a whole range of records a field at a
time (the leading fixed-size fields, the blocks of ``_fill`` that every record or none holds a
field of) and the one launch that builds every column of GDR's items. Expected values are those
packed into the bytes here."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from silicio.stdf import _kernels as K
from silicio.stdf import read

BLOCK = K.FILL_BLOCK


def _record(order: str, rec_typ: int, rec_sub: int, payload: bytes) -> bytes:
    return struct.pack(order + "HBB", len(payload), rec_typ, rec_sub) + payload


def _far(order: str) -> bytes:
    return _record(order, 0, 10, bytes([1 if order == ">" else 2, 4]))


def _cn(data: bytes) -> bytes:
    return bytes([len(data)]) + data


def _ptr_payload(order: str, i: int, fields: int) -> bytes:
    """A PTR holding its first ``fields`` fields (6: up to RESULT; 3: TEST_NUM, HEAD_NUM,
    SITE_NUM; 20: all); the values follow from ``i``."""
    lead = struct.pack(order + "IBBBBf", 100 + i, 1, i % 4, i % 3, 0, i / 8)
    if fields <= 6:
        return lead[: (4, 5, 6, 7, 8, 12)[fields - 1]]
    return (lead + _cn(b"t%d" % i) + _cn(b"") + struct.pack(order + "Bbbbff", 0, 0, 0, 0, -i, i)
            + _cn(b"V") + _cn(b"%f") * 3 + struct.pack(order + "ff", -2 * i, 2 * i))  # fmt: skip


def _expected(i: int, fields: int) -> dict:
    full = fields == 20
    return {"TEST_NUM": 100 + i, "SITE_NUM": i % 4, "TEST_FLG": i % 3 if fields > 3 else None,
            "RESULT": i / 8 if fields >= 6 else None, "TEST_TXT": f"t{i}" if full else None,
            "LO_LIMIT": float(-i) if full else None, "UNITS": "V" if full else None,
            "HI_SPEC": float(2 * i) if full else None}  # fmt: skip


# Block by block: every PTR stops after RESULT, then every one holds all fields, then mixed (some
# shorter than the leading fixed-size fields), then a short last block.
LAYOUT = [6] * BLOCK + [20] * BLOCK + [(6, 20, 3, 20, 5)[i % 5] for i in range(BLOCK)] + [20, 6, 20]


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("layout", [LAYOUT, [6] * (2 * BLOCK + 8) + [20], [20] * (BLOCK + 3)])
def test_blocks_of_uneven_records_read_as_written(kernels, order, layout):
    data = _far(order) + b"".join(
        _record(order, 15, 10, _ptr_payload(order, i, f)) for i, f in enumerate(layout)
    )
    ptr = read(data)["PTR"]
    for name in ("TEST_NUM", "SITE_NUM", "TEST_FLG", "RESULT", "TEST_TXT", "LO_LIMIT", "UNITS", "HI_SPEC"):
        assert ptr[name].to_pylist() == [_expected(i, f)[name] for i, f in enumerate(layout)], name


@pytest.mark.parametrize("order", ["<", ">"])
def test_a_record_cut_inside_its_leading_fields_is_reported(kernels, order):
    records = [_ptr_payload(order, i, 20) for i in range(40)]
    records[7] = records[7][:3]  # TEST_NUM (U4) cut after 3 bytes
    data = _far(order) + b"".join(_record(order, 15, 10, r) for r in records)
    tables = read(data, strict=False)
    assert [(issue.offset, issue.record) for issue in tables.issues] == [
        (6 + 7 * (4 + len(records[0])), "PTR")
    ]
    assert "field TEST_NUM (U4) runs past the end of the record (REC_LEN=3)" in tables.issues[0].reason
    ptr = tables["PTR"]
    assert ptr["TEST_NUM"].to_pylist() == [None if i == 7 else 100 + i for i in range(40)]
    assert ptr["HI_SPEC"].to_pylist() == [None if i == 7 else float(2 * i) for i in range(40)]


# GDR items: (type code, value, its bytes after the code)
def _gdr_item(order: str, code: int, i: int) -> tuple[object, bytes]:
    if code == 0:
        return None, b""
    if code in (1, 2, 3, 4, 5, 6, 7, 8):
        fmt = {1: "B", 2: "H", 3: "I", 4: "b", 5: "h", 6: "i", 7: "f", 8: "d"}[code]
        value = {1: i % 256, 2: 60000 - i, 3: 4_000_000_000 - i, 4: -(i % 128), 5: -30000 + i, 6: -2_000_000_000 + i,
                 7: i / 4, 8: -i / 1024}[code]  # fmt: skip
        return value, struct.pack(order + fmt, value)
    if code == 10:
        text = f"c{i}" * (i % 4)
        return text, _cn(text.encode())
    if code == 11:
        raw = bytes(range(i % 5))
        return raw, _cn(raw)
    if code == 12:
        bits = 3 + i % 13
        raw = bytes([(i * 7 + k) % 256 for k in range((bits + 7) // 8)])
        return raw, struct.pack(order + "H", bits) + raw
    return i % 16, bytes([0xA0 | (i % 16)])  # N1: the high nibble is not the value


CODES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13]
NAMES = {0: "B0", 1: "U1", 2: "U2", 3: "U4", 4: "I1", 5: "I2", 6: "I4", 7: "R4", 8: "R8", 10: "Cn", 11: "Bn",
         12: "Dn", 13: "N1"}  # fmt: skip


def _gdr_file(order: str, items_per_record: list[list[int]], text: str = "") -> tuple[bytes, list]:
    parts, expected, i = [_far(order)], [], 0
    for codes in items_per_record:
        payload, items = struct.pack(order + "H", len(codes)), []
        for code in codes:
            value, raw = _gdr_item(order, code, i)
            if code == 10 and text:
                value, raw = text, _cn(text.encode())
            payload += bytes([code]) + raw
            item = {"TYPE": code, **{name: None for c, name in NAMES.items() if c}}
            if code == 12:
                item["Dn"] = {"bit_count": 3 + i % 13, "bit_data": value}
            elif code:
                item[NAMES[code]] = value
            items.append(item)
            i += 1
        parts.append(_record(order, 50, 10, payload))
        expected.append(items)
    return b"".join(parts), expected


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize(
    "shape",
    [
        "every type",  # records of a few items of every type, some of none
        "one type",  # thousands of U1 items: a single column held, the others all null
        "text",  # Cn only, one of them not plain ASCII (the items are then checked one by one)
    ],
)
def test_generic_data_of_every_type_reads_as_written(kernels, order, shape):
    rng = np.random.default_rng(5)
    if shape == "every type":
        records = [rng.choice(CODES, size=int(rng.integers(0, 30))).tolist() for _ in range(60)]
    elif shape == "one type":
        records = [[1] * 5000, [1] * 3]
    else:
        records = [[10] * 9, [10, 10]]
    data, expected = _gdr_file(order, records, text="\u00b5s" if shape == "text" else "")
    gdr = read(data)["GDR"]
    assert gdr["FLD_CNT"].to_pylist() == [len(r) for r in records]
    got = gdr["GEN_DATA"].to_pylist()
    for row, (ours, theirs) in enumerate(zip(got, expected, strict=True)):
        for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            if b["R4"] is not None:
                assert a["R4"] == pytest.approx(b["R4"]), (row, k)
                a, b = {**a, "R4": None}, {**b, "R4": None}
            assert a == b, (row, k)


@pytest.mark.parametrize("texts", [40, 250])
def test_small_record_types_beyond_one_arena_read_as_written(kernels, texts):
    # Types of few records write their messages one after the other into a window's arena
    # (_driver.Arena, 64 KiB); those that no longer fit take a message of their own.
    order = "<"
    parts, expected = [_far(order)], {}
    for k in range(20):  # DTRs, then PMRs, then DTRs...: 200 of each, texts of ``texts`` bytes
        name = "DTR" if k % 2 == 0 else "PMR"
        for i in range(20):
            text = (f"{name}{k}-{i}-" + "x" * texts)[:texts]
            if name == "DTR":
                parts.append(_record(order, 50, 30, _cn(text.encode())))
            else:
                index = 100 * k + i
                payload = (
                    struct.pack(order + "HH", index, 1)
                    + _cn(text.encode())
                    + _cn(b"p") * 2
                    + bytes([1, i % 4])
                )
                parts.append(_record(order, 1, 60, payload))
            expected.setdefault(name, []).append(text)
    tables = read(b"".join(parts))
    assert tables["DTR"]["TEXT_DAT"].to_pylist() == expected["DTR"]
    assert tables["PMR"]["CHAN_NAM"].to_pylist() == expected["PMR"]
