"""The STDF writer: exact bytes of the spec's layouts, round trips through the reader, the
values it refuses, and ``read(write(read(f))) == read(f)`` for every shared sample file."""

from __future__ import annotations

import bz2
import gzip
import io
import struct
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest

from silicio.stdf import read
from silicio.stdf.spec import GDR_TYPE_CODES, RECORDS, Field
from silicio.stdf.writer import StdfWriter, to_bytes, write

BYTE_ORDERS = ["<", ">"]
FAR_LE = b"\x02\x00\x00\x0a\x02\x04"  # REC_LEN 2, (0, 10), CPU_TYPE 2, STDF_VER 4
FAR_BE = b"\x00\x02\x00\x0a\x01\x04"


def written(records, byteorder="<", far=True) -> bytes:
    """Bytes of a file holding ``records``: (name, fields) pairs."""
    buffer = io.BytesIO()
    with StdfWriter(buffer, byteorder=byteorder, far=far) as writer:
        for name, fields in records:
            writer.record(name, **fields)
    return buffer.getvalue()


def read_back(name: str, byteorder="<", **fields) -> dict:
    """Writes one record after the FAR and reads it back: its row without seq and offset."""
    tables = read(written([(name, fields)], byteorder))
    (row,) = tables[name].to_pylist()
    assert (row.pop("seq"), row.pop("offset")) == (1, 6)
    return row


def body_of_single_record(data: bytes) -> tuple[bytes, bytes]:
    """(header, body) of the one record written after the FAR."""
    return data[6:10], data[10:]


# --------------------------------------------------------------------------------------------
# Exact bytes, as the specification lays them out


@pytest.mark.parametrize(("byteorder", "far"), [("<", FAR_LE), (">", FAR_BE)])
def test_far_is_written_first_with_cpu_type_of_the_byte_order(byteorder, far):
    assert written([("PIR", {"HEAD_NUM": 1, "SITE_NUM": 2})], byteorder).startswith(far)


def test_a_writer_given_nothing_still_writes_the_far():
    assert written([]) == FAR_LE
    assert written([], far=False) == b""


def test_far_given_first_is_not_written_twice():
    assert written([("FAR", {"CPU_TYPE": 2, "STDF_VER": 4}), ("PIR", {"HEAD_NUM": 1, "SITE_NUM": 1})]) == (
        FAR_LE + b"\x02\x00\x05\x0a\x01\x01"
    )
    # Fields of the FAR not given are those of the writer's byte order and STDF V4.
    assert written([("FAR", {})], ">") == FAR_BE


def test_ptr_bytes_in_both_byte_orders():
    fields = {
        "TEST_NUM": 0x01020304,
        "HEAD_NUM": 1,
        "SITE_NUM": 2,
        "TEST_FLG": 0x40,
        "PARM_FLG": 0,
        "RESULT": 1.0,
    }
    header, body = body_of_single_record(written([("PTR", fields)], "<"))
    assert header == b"\x0c\x00\x0f\x0a"
    assert body == b"\x04\x03\x02\x01\x01\x02\x40\x00\x00\x00\x80\x3f"
    header, body = body_of_single_record(written([("PTR", fields)], ">"))
    assert header == b"\x00\x0c\x0f\x0a"
    assert body == b"\x01\x02\x03\x04\x01\x02\x40\x00\x3f\x80\x00\x00"


def test_nibbles_are_packed_two_a_byte_first_in_the_low_four_bits():
    _, body = body_of_single_record(
        written(
            [
                (
                    "MPR",
                    {
                        "TEST_NUM": 1,
                        "HEAD_NUM": 1,
                        "SITE_NUM": 1,
                        "TEST_FLG": 0,
                        "PARM_FLG": 0,
                        "RTN_STAT": [1, 2, 3],
                        "RTN_RSLT": [],
                    },
                )
            ]
        )  # fmt: skip
    )
    # TEST_NUM..PARM_FLG (8 bytes), RTN_ICNT 3, RSLT_CNT 0, then 3 nibbles in 2 bytes
    assert body[8:] == b"\x03\x00\x00\x00\x21\x03"


def test_strings_lengths_and_bit_fields():
    _, body = body_of_single_record(written([("DTR", {"TEXT_DAT": "hello"})]))
    assert body == b"\x05hello"
    _, body = body_of_single_record(written([("CNR", {"CHN_NUM": 1, "BIT_POS": 2, "CELL_NAM": "ab"})], ">"))
    assert body == b"\x00\x01\x00\x00\x00\x02\x00\x02ab"  # Sn: two-byte length
    _, body = body_of_single_record(written([("PRR", {"PART_FIX": b"\x00\xff"})]))
    assert body[-3:] == b"\x02\x00\xff"  # Bn
    ftr = {"TEST_NUM": 1, "FAIL_PIN": {"bit_count": 10, "bit_data": b"\xff\x02"}}
    _, body = body_of_single_record(written([("FTR", ftr)], ">"))
    assert body.endswith(b"\x00\x0a\xff\x02")  # Dn: bit count, then ceil(10 / 8) bytes


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("mV", b"mV"),
        ("\u00b5A", b"\xb5A"),  # latin-1 when latin-1 holds it...
        ("\u03a9", "\u03a9".encode()),  # ...UTF-8 when it does not,
        ("\u00c3\u00a9", "\u00c3\u00a9".encode()),  # and when its latin-1 bytes would read as UTF-8 "é"
    ],
)
def test_text_encoding_reads_back_as_written(text, encoded):
    _, body = body_of_single_record(written([("DTR", {"TEXT_DAT": text})]))
    assert body == bytes([len(encoded)]) + encoded
    assert read_back("DTR", TEXT_DAT=text) == {"TEXT_DAT": text}


def test_record_returns_the_offset_of_each_header():
    buffer = io.BytesIO()
    with StdfWriter(buffer) as writer:
        assert writer.record("PIR", HEAD_NUM=1, SITE_NUM=1) == 6  # after the FAR
        assert writer.record("DTR", TEXT_DAT="abc") == 12
        assert writer.offset == 20
        assert writer.records_written == 3
    tables = read(buffer.getvalue())
    assert tables["DTR"].column("offset").to_pylist() == [12]


# --------------------------------------------------------------------------------------------
# Every record type round trips through the reader


def sample_value(field: Field, position: int):
    """A value of ``field``'s type that exercises its whole width (arrays hold two items)."""
    t = field.type
    if t in ("U1", "B1"):
        return 0x80 | position
    if t in ("U2", "U4", "U8"):
        return {"U2": 0xFF00, "U4": 0xFFFF0000, "U8": 0xFFFF_0000_0000_0000}[t] + position
    if t in ("I1", "I2", "I4", "I8"):
        return -(position + 1) * (-1 if position % 2 else 1)
    if t == "R4":
        return position + 0.5
    if t == "R8":
        return -position - 0.25
    if t == "C1":
        return chr(ord("A") + position % 26)
    if t == "Cn":
        return f"{field.name.lower()} \u00b5"
    if t == "Sn":
        return field.name * 40  # over 255 bytes: needs the two-byte length
    if t == "Bn":
        return bytes([position, 0xFF, 0])
    if t == "Dn":
        return {"bit_count": 10, "bit_data": bytes([0xA5, position & 3])}
    if t == "Vn":
        return [(code, sample_gdr_value(name)) for code, name in GDR_TYPE_CODES.items()]
    return {
        "U1": [1, 255], "U2": [2, 0xFFFF], "U4": [4, 0xFFFF_FFFF], "U8": [8, 2**64 - 1], "R4": [0.5, -2.0],
        "N1": [position % 16, 15], "Cn": ["a", "b\u00e9"], "Sn": ["x" * 300, ""], "Uf": [7, 300], "Cf": ["ab", "xy"],
    }[field.item_type]  # fmt: skip


def sample_gdr_value(type_name: str):
    return {
        "B0": None, "U1": 200, "U2": 60000, "U4": 4_000_000_000, "I1": -100, "I2": -30000, "I4": -2_000_000_000,
        "R4": 1.25, "R8": -1e300, "Cn": "gdr", "Bn": b"\x01\x02", "Dn": {"bit_count": 3, "bit_data": b"\x05"},
        "N1": 9,
    }[type_name]  # fmt: skip


def gdr_struct(code: int, value) -> dict:
    """A GDR item as the reader gives it: TYPE, and the value in its type's column only."""
    item = {"TYPE": code, **{name: None for name in GDR_TYPE_CODES.values() if name != "B0"}}
    if code:
        item[GDR_TYPE_CODES[code]] = value
    return item


def full_record(name: str) -> tuple[dict, dict]:
    """(fields to write, row expected back) with every field of the record given except the
    counts and widths, which the writer derives from the arrays."""
    rt = RECORDS[name]
    fields = {f.name: sample_value(f, i) for i, f in enumerate(rt.fields)}
    expected = dict(fields)
    for f in rt.fields:
        if f.count:
            fields[f.count] = None
            expected[f.count] = 2
        if f.size:
            fields[f.size] = None
            expected[f.size] = 2  # [7, 300] needs 2 bytes; "ab" and "xy" take 2
    if name == "GDR":
        fields["FLD_CNT"] = None
        expected["FLD_CNT"] = len(GDR_TYPE_CODES)
        expected["GEN_DATA"] = [gdr_struct(code, value) for code, value in fields["GEN_DATA"]]
    if name == "VUR":
        fields["UPD_NAM"] = expected["UPD_NAM"] = ["V4-2007", "Scan:2007.1"]
    return fields, expected


def test_full_record_covers_every_record_type():
    assert {name for name in RECORDS if full_record(name)} == set(RECORDS)
    assert any(rt.since_2007 for rt in RECORDS.values())


@pytest.mark.parametrize("byteorder", BYTE_ORDERS)
@pytest.mark.parametrize("name", list(RECORDS))
def test_every_record_type_round_trips(name, byteorder):
    fields, expected = full_record(name)
    if name == "FAR":
        expected = {"CPU_TYPE": 2 if byteorder == "<" else 1, "STDF_VER": 4}
        fields = expected
        data = written([(name, fields)], byteorder)
        assert read(data)["FAR"].to_pylist() == [{"seq": 0, "offset": 0, **expected}]
        return
    assert read_back(name, byteorder, **fields) == expected


@pytest.mark.parametrize("byteorder", BYTE_ORDERS)
def test_all_record_types_in_one_file(byteorder):
    records = [full_record(name) for name in RECORDS if name != "FAR"]
    data = written(
        [(name, fields) for name, (fields, _) in zip(list(RECORDS)[1:], records, strict=True)], byteorder
    )
    tables = read(data)
    assert list(tables) == list(RECORDS)
    for seq, (name, (_, expected)) in enumerate(zip(list(RECORDS)[1:], records, strict=True), start=1):
        (row,) = tables[name].to_pylist()
        assert row.pop("seq") == seq
        row.pop("offset")
        assert row == expected, name


@pytest.mark.parametrize("byteorder", BYTE_ORDERS)
def test_gdr_items_of_every_type_given_as_names_codes_or_read_structs(byteorder):
    items = [("U1", 1), ("B0", None), ("U2", 513), (3, 70000), ("I1", -1), (5, -2), ("I4", -3), ("R4", 0.5),
             ("R8", 0.1), ("Cn", "txt"), ("Bn", b"\x00"), ("Dn", {"bit_count": 9, "bit_data": b"\xff\x01"}),
             ("N1", 15)]  # fmt: skip
    expected = [gdr_struct(code if isinstance(code, int) else _code(code), value) for code, value in items]
    row = read_back("GDR", byteorder, GEN_DATA=items)
    assert row == {"FLD_CNT": 13, "GEN_DATA": expected}
    # The reader's structs are accepted as they are, so a read GDR is written back unchanged.
    assert read_back("GDR", byteorder, GEN_DATA=row["GEN_DATA"]) == row


def _code(name: str) -> int:
    return next(code for code, n in GDR_TYPE_CODES.items() if n == name)


def test_vur_in_both_of_its_layouts():
    # The V4-2007 single Cn: given as one name and no count.
    data = written([("VUR", {"UPD_NAM": ["Scan:2007.1"]})])
    assert body_of_single_record(data)[1] == b"\x0bScan:2007.1"
    assert read(data)["VUR"].to_pylist()[0]["UPD_NAM"] == ["Scan:2007.1"]
    assert read_back("VUR", UPD_NAM="Scan:2007.1") == {"UPD_CNT": None, "UPD_NAM": ["Scan:2007.1"]}
    # The count + KxCn layout: given a count, or several names.
    assert read_back("VUR", UPD_CNT=1, UPD_NAM=["V4-2007"]) == {"UPD_CNT": 1, "UPD_NAM": ["V4-2007"]}
    assert read_back("VUR", UPD_NAM=["V4-2007", "Scan:2007.1"]) == {
        "UPD_CNT": 2,
        "UPD_NAM": ["V4-2007", "Scan:2007.1"],
    }


# --------------------------------------------------------------------------------------------
# Fields left out


@pytest.mark.parametrize("byteorder", BYTE_ORDERS)
def test_trailing_fields_not_given_are_left_out_and_read_back_null(byteorder):
    data = written([("PTR", {"TEST_NUM": 7, "HEAD_NUM": 1, "SITE_NUM": 3, "TEST_FLG": 0, "PARM_FLG": 0,
                             "RESULT": 2.5, "TEST_TXT": None, "UNITS": None})], byteorder)  # fmt: skip
    header, body = body_of_single_record(data)
    assert len(body) == 12 and struct.unpack(byteorder + "H", header[:2]) == (12,)
    (row,) = read(data)["PTR"].to_pylist()
    assert row["RESULT"] == 2.5
    omitted = [name for name, value in row.items() if value is None]
    assert omitted == [f.name for f in RECORDS["PTR"].fields[6:]]


def test_fields_not_given_before_a_given_one_are_written_empty():
    row = read_back("PTR", TEST_NUM=5, UNITS="mV")
    assert row["HEAD_NUM"] == 0 and row["RESULT"] == 0.0 and row["TEST_TXT"] == "" and row["LO_LIMIT"] == 0.0
    assert row["UNITS"] == "mV" and row["C_RESFMT"] is None and row["HI_SPEC"] is None
    assert read_back("HBR", HBIN_NAM="pass") == {"HEAD_NUM": 0, "SITE_NUM": 0, "HBIN_NUM": 0, "HBIN_CNT": 0,
                                                 "HBIN_PF": " ", "HBIN_NAM": "pass"}  # fmt: skip
    row = read_back("FTR", SPIN_MAP={"bit_count": 1, "bit_data": b"\x01"})
    assert row["FAIL_PIN"] == {"bit_count": 0, "bit_data": b""}
    assert row["RTN_ICNT"] == 0 and row["RTN_INDX"] == [] and row["RTN_STAT"] == [] and row["PGM_STAT"] == []
    assert row["VECT_NAM"] == "" and row["PATG_NUM"] == 0
    assert read_back("PRR", PART_TXT="x")["PART_FIX"] is None
    assert read_back("PRR", PART_FIX=b"\x07")["PART_TXT"] == ""
    # Given as None in the middle is the same as not given.
    assert read_back("WCR", WAFR_SIZ=None, POS_X="L")["WAFR_SIZ"] == 0.0


def test_counts_are_derived_and_arrays_not_given_get_that_many_empty_items():
    row = read_back("PLR", GRP_INDX=[1, 2], GRP_MODE=[0x10, 0x20], PGM_CHAL=["A", "B"])
    assert row["GRP_CNT"] == 2
    assert row["GRP_RADX"] == [0, 0] and row["PGM_CHAR"] == ["", ""] and row["RTN_CHAR"] == ["", ""]
    assert row["PGM_CHAL"] == ["A", "B"] and row["RTN_CHAL"] is None
    row = read_back("MPR", TEST_NUM=1, RTN_ICNT=2, RSLT_CNT=1, RTN_RSLT=[3.5], RTN_INDX=[5, 6])
    assert row["RTN_STAT"] == [0, 0] and row["RTN_RSLT"] == [3.5] and row["RTN_INDX"] == [5, 6]


def test_arrays_of_no_items_take_no_bytes_so_they_read_back_present():
    data = written([("PLR", {"GRP_CNT": 0})])
    assert body_of_single_record(data)[1] == b"\x00\x00"
    (row,) = read(data)["PLR"].to_pylist()
    assert row["GRP_INDX"] == [] and row["RTN_CHAL"] == []


@pytest.mark.parametrize(
    ("values", "width"), [([], 1), ([0, 255], 1), ([256], 2), ([70000], 4), ([2**32], 8), ([2**64 - 1], 8)]
)
def test_kxuf_width_is_the_smallest_that_holds_the_values(values, width):
    row = read_back("STR", CYC_OFST=values)
    assert (row["CYC_SIZE"], row["CYC_CNT"], row["CYC_OFST"]) == (width, len(values), values)


def test_kxcf_width_and_padding():
    row = read_back("STR", USER_TXT=["abc", "d", ""])
    assert (row["UTX_SIZE"], row["TXT_CNT"]) == (3, 3)
    assert row["USER_TXT"] == ["abc", "d  ", "   "]  # fixed-width strings come back padded with spaces
    row = read_back("STR", UTX_SIZE=4, USER_TXT=["ab"])
    assert row["USER_TXT"] == ["ab  "]


def test_kxuf_of_a_width_outside_the_spec_is_still_written_as_given():
    row = read_back("STR", CYC_SIZE=3, CYC_OFST=[0x010203, 5])
    assert row["CYC_OFST"] == [0x010203, 5]
    assert read_back("STR", U1_SIZE=0, USR1=[])["USR1"] == []


# --------------------------------------------------------------------------------------------
# Values refused


@pytest.mark.parametrize(
    ("name", "fields", "message"),
    [
        ("PTR", {"TEST_NUM": "7"}, r"PTR\.TEST_NUM \(U4\)"),
        ("PTR", {"TEST_NUM": 1.5}, r"PTR\.TEST_NUM \(U4\)"),
        ("PTR", {"TEST_NUM": -1}, r"PTR\.TEST_NUM \(U4\)"),
        ("PTR", {"TEST_NUM": 2**32}, r"PTR\.TEST_NUM \(U4\)"),
        ("PTR", {"HEAD_NUM": 256}, r"PTR\.HEAD_NUM \(U1\)"),
        ("PTR", {"RES_SCAL": -129}, r"PTR\.RES_SCAL \(I1\)"),
        ("PTR", {"RESULT": "1.0"}, r"PTR\.RESULT \(R4\)"),
        ("PTR", {"RESULT": 1e39}, r"PTR\.RESULT \(R4\)"),
        ("PTR", {"TEST_TXT": "x" * 256}, r"PTR\.TEST_TXT \(Cn\).*256 bytes"),
        ("PTR", {"TEST_TXT": "\u00e9" * 128 + "\u03a9"}, r"PTR\.TEST_TXT \(Cn\).*over the 255"),
        ("PTR", {"TEST_TXT": 5}, r"PTR\.TEST_TXT \(Cn\).*expected a string"),
        ("HBR", {"HBIN_PF": "PF"}, r"HBR\.HBIN_PF \(C1\)"),
        ("HBR", {"HBIN_PF": "\u03a9"}, r"HBR\.HBIN_PF \(C1\)"),
        ("PRR", {"PART_FIX": "text"}, r"PRR\.PART_FIX \(Bn\).*expected bytes"),
        ("PRR", {"PART_FIX": bytes(256)}, r"PRR\.PART_FIX \(Bn\)"),
        ("CNR", {"CELL_NAM": "x" * 65536}, r"CNR\.CELL_NAM \(Sn\)"),
        (
            "FTR",
            {"FAIL_PIN": {"bit_count": 9, "bit_data": b"\x01"}},
            r"FTR\.FAIL_PIN \(Dn\).*9 bits take 2 bytes",
        ),
        ("FTR", {"FAIL_PIN": 3}, r"FTR\.FAIL_PIN \(Dn\)"),
        ("MPR", {"RTN_STAT": [16]}, r"MPR\.RTN_STAT \(KxN1\).*0 to 15"),
        ("MPR", {"RTN_ICNT": 2, "RTN_STAT": [1]}, r"MPR\.RTN_STAT \(KxN1\).*1 items but RTN_ICNT is 2"),
        ("MPR", {"RTN_STAT": [1], "RTN_INDX": [1, 2]}, r"MPR\.RTN_INDX \(KxU2\).*2 items but RTN_ICNT is 1"),
        ("MPR", {"RTN_ICNT": "2"}, r"MPR\.RTN_ICNT \(U2\).*integer"),
        ("MPR", {"RTN_RSLT": 1.0}, r"MPR\.RTN_RSLT \(KxR4\).*sequence"),
        ("PGR", {"PMR_INDX": [70000]}, r"PGR\.PMR_INDX \(KxU2\)"),
        ("SDR", {"SITE_NUM": list(range(256))}, r"SDR\.SITE_CNT \(U1\)"),
        ("STR", {"CYC_SIZE": 1, "CYC_OFST": [256]}, r"STR\.CYC_OFST \(KxUf\)"),
        ("STR", {"UTX_SIZE": 1, "USER_TXT": ["ab"]}, r"STR\.USER_TXT \(KxCf\).*longer than the width 1"),
        ("GDR", {"GEN_DATA": [("U9", 1)]}, r"GDR\.GEN_DATA \(Vn\).*item 0: unknown generic data type 'U9'"),
        ("GDR", {"GEN_DATA": [("U1", 1), (9, 1)]}, r"GDR\.GEN_DATA \(Vn\).*item 1: unknown"),
        ("GDR", {"GEN_DATA": [("U2", -1)]}, r"GDR\.GEN_DATA \(Vn\).*item 0 \(U2\)"),
        ("GDR", {"GEN_DATA": [("Cn", None)]}, r"GDR\.GEN_DATA \(Vn\).*needs a value"),
        ("GDR", {"FLD_CNT": 2, "GEN_DATA": [("U1", 1)]}, r"GDR\.GEN_DATA \(Vn\).*1 items but FLD_CNT is 2"),
        ("GDR", {"GEN_DATA": [("Cn", "x" * 250)] * 300}, r"GDR: record of 75\d+ bytes is over the 65535"),
        ("PTR", {"TEST_NUMBER": 1}, r"PTR has no field TEST_NUMBER"),
        ("XYZ", {}, r"unknown record type 'XYZ'"),
    ],
)
def test_bad_values_are_refused_naming_record_and_field(name, fields, message):
    with pytest.raises(ValueError, match=message):
        StdfWriter(io.BytesIO()).record(name, **fields)


def test_far_contradicting_the_byte_order_is_refused():
    with pytest.raises(ValueError, match="CPU_TYPE 1 says '>'"):
        StdfWriter(io.BytesIO(), byteorder="<").record("FAR", CPU_TYPE=1, STDF_VER=4)
    with pytest.raises(ValueError, match="byteorder must be"):
        StdfWriter(io.BytesIO(), byteorder="big")


def test_a_refused_far_leaves_the_far_still_to_write():
    buffer = io.BytesIO()
    with StdfWriter(buffer) as writer:
        with pytest.raises(ValueError, match="CPU_TYPE"):
            writer.record("FAR", CPU_TYPE=1)
        writer.record("PIR", HEAD_NUM=1, SITE_NUM=1)
    assert buffer.getvalue() == FAR_LE + b"\x02\x00\x05\x0a\x01\x01"


def test_a_refused_record_writes_nothing():
    buffer = io.BytesIO()
    with StdfWriter(buffer) as writer:
        writer.record("PIR", HEAD_NUM=1, SITE_NUM=1)
        with pytest.raises(ValueError):
            writer.record(
                "PTR", TEST_NUM=1, HEAD_NUM=1, SITE_NUM=1, TEST_FLG=0, PARM_FLG=0, RESULT=1.0, UNITS=7
            )
        writer.record("PRR", HEAD_NUM=1, SITE_NUM=1)
    assert list(read(buffer.getvalue())) == ["FAR", "PIR", "PRR"]


def test_raw_records_of_unknown_type():
    buffer = io.BytesIO()
    with StdfWriter(buffer) as writer:
        writer.record("PIR", HEAD_NUM=1, SITE_NUM=1)
        writer.raw_record(180, 7, b"vendor")
        writer.record("PRR", HEAD_NUM=1, SITE_NUM=1)
        with pytest.raises(ValueError, match="REC_TYP must be"):
            writer.raw_record(256, 0, b"")
    tables = read(buffer.getvalue(), strict=False)
    assert tables["UNKNOWN"].to_pylist() == [
        {"seq": 2, "offset": 12, "REC_TYP": 180, "REC_SUB": 7, "REC_DATA": b"vendor"}
    ]


# --------------------------------------------------------------------------------------------
# write(): tables back into files


def test_writer_over_a_path(tmp_path):
    path = tmp_path / "out.stdf"
    with StdfWriter(path, byteorder=">") as writer:
        writer.record("MIR", LOT_ID="L1")
    assert path.read_bytes().startswith(FAR_BE)
    assert read(path)["MIR"].column("LOT_ID").to_pylist() == ["L1"]


def sample_file(byteorder="<") -> bytes:
    """A small lot: a few of each common record, a vendor record, and one of every other type."""
    buffer = io.BytesIO()
    with StdfWriter(buffer, byteorder=byteorder) as writer:
        writer.record("MIR", SETUP_T=1, START_T=2, STAT_NUM=1, LOT_ID="LOT", PART_TYP="DEV")
        for part in range(3):
            writer.record("PIR", HEAD_NUM=1, SITE_NUM=part)
            for test in range(4):
                writer.record("PTR", TEST_NUM=test, HEAD_NUM=1, SITE_NUM=part, TEST_FLG=0, PARM_FLG=0,
                              RESULT=float("nan") if test == 3 else part + test / 4, TEST_TXT=f"t{test}")  # fmt: skip
            writer.raw_record(220, part, bytes([part]) * part)
            writer.record("PRR", HEAD_NUM=1, SITE_NUM=part, PART_FLG=0, NUM_TEST=4, HARD_BIN=1, SOFT_BIN=1)
        for name in RECORDS:
            if name != "FAR":
                writer.record(name, **full_record(name)[0])
    return buffer.getvalue()


@pytest.mark.parametrize("byteorder", BYTE_ORDERS)
def test_write_read_tables_back_into_the_same_bytes(byteorder, same_tables, tmp_path):
    original = sample_file(byteorder)
    tables = read(original, strict=False)
    assert "UNKNOWN" in tables
    assert to_bytes(tables) == original
    path = tmp_path / "copy.stdf"
    assert write(path, tables) == path
    assert path.read_bytes() == original
    same_tables(read(path, strict=False), tables)


def test_write_orders_records_by_seq_whatever_the_order_of_tables_and_rows(same_tables):
    tables = read(sample_file(), strict=False)
    shuffled = {
        name: tables[name].take(list(range(tables[name].num_rows))[::-1]) for name in reversed(tables)
    }
    assert to_bytes(shuffled) == sample_file()


def test_write_converts_byte_order_rewriting_the_far(same_tables):
    little = read(sample_file("<"), strict=False)
    big_bytes = to_bytes(little, byteorder=">")
    assert big_bytes == sample_file(">")
    big = read(big_bytes, strict=False)
    assert big["FAR"].column("CPU_TYPE").to_pylist() == [1]
    same_tables({**big, "FAR": little["FAR"]}, little)


def test_write_of_some_tables_only_gets_a_far():
    tables = read(sample_file(), record_types=["PTR"], strict=False)
    data = to_bytes(tables)
    assert data.startswith(FAR_LE)
    assert read(data)["PTR"].column("RESULT").to_pylist()[:3] == [0.0, 0.25, 0.5]


def test_write_accepts_tables_built_by_hand():
    ptr = pa.table({"seq": pa.array([2, 1], pa.uint64()), "TEST_NUM": [20, 10], "RESULT": [2.0, 1.0]})
    (row_10, row_20) = read(to_bytes({"PTR": ptr}))["PTR"].to_pylist()
    assert (row_10["TEST_NUM"], row_10["RESULT"], row_10["HEAD_NUM"]) == (10, 1.0, 0)
    assert row_20["TEST_NUM"] == 20 and row_20["TEST_TXT"] is None
    with pytest.raises(ValueError, match="no 'seq' column"):
        to_bytes({"PTR": pa.table({"TEST_NUM": [1]})})
    with pytest.raises(ValueError, match="unknown record type 'XYZ'"):
        to_bytes({"XYZ": ptr})


def decompressed(path: Path) -> bytes:
    data = path.read_bytes()
    if data.startswith(b"\x1f\x8b"):
        return gzip.decompress(data)
    if data.startswith(b"BZh"):
        return bz2.decompress(data)
    if data.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.read(archive.infolist()[0])
    return data


def test_read_write_read_is_the_identity_on_every_shared_file(shared_stdf_file, same_tables):
    tables = read(shared_stdf_file)
    rewritten = to_bytes(tables)
    # Every column, seq and offset included: the shared samples hold nothing beyond their fields.
    same_tables(read(rewritten), tables)
    assert rewritten == decompressed(shared_stdf_file)


def test_shared_files_fixture_lists_the_samples(shared_stdf_files):
    assert all(p.is_file() for p in shared_stdf_files)
    assert any(p.suffix == ".gz" for p in shared_stdf_files)
