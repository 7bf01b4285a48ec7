"""Hostile files at the reader's door: every container (plain, gzip, bzip2, xz, zip with each
method) cut at many offsets, with bytes corrupted, with headers that lie, encrypted or of an
unsupported method; KxUf widths off the specification; records of undefined types; zero padding.

Each file ends in tables or :class:`StdfError`, never another exception. What salvage keeps is
checked against the records written, independently of the reader: the records lying wholly in
the bytes the standard library's own decompressors give back before the damage (fed a byte at a
time, so nothing they could decode is missed) must all be there, every field as written.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from silicio.stdf import StdfError, read, stream
from silicio.stdf.spec import RECORDS
from silicio.stdf.writer import StdfWriter

# Every test twice: numba's kernels, then the Python ones (tests/stdf/conftest.py).
pytestmark = pytest.mark.usefixtures("kernels")

# --------------------------------------------------------------------------------------------
# A lot written record by record, with where each record lies


@dataclass(frozen=True)
class Written:
    name: str
    offset: int
    end: int
    fields: dict


def ptr_fields(part: int, test: int) -> dict:
    # every PTR field given; floats of a few bits, exact in R4
    return dict(TEST_NUM=100 + test, HEAD_NUM=1, SITE_NUM=part % 4, TEST_FLG=0, PARM_FLG=0, RESULT=part + test / 8,
                TEST_TXT=f"test {test} of part {part}", ALARM_ID="", OPT_FLAG=0x0E, RES_SCAL=0, LLM_SCAL=-3,
                HLM_SCAL=3, LO_LIMIT=-1.5, HI_LIMIT=float(test), UNITS="V", C_RESFMT="%7.3f", C_LLMFMT="%7.3f",
                C_HLMFMT="%7.3f", LO_SPEC=-2.0, HI_SPEC=2.5)  # fmt: skip


def lot(parts: int, byteorder: str = "<", vendor: bool = False) -> tuple[bytes, list[Written]]:
    """A lot of ``parts`` parts (8 PTR each); with ``vendor``, records of undefined types among
    them. The records and their place in the bytes, from the writer's own offsets."""
    buffer = io.BytesIO()
    placed: list[tuple[str, int, dict]] = [
        ("FAR", 0, {"CPU_TYPE": 1 if byteorder == ">" else 2, "STDF_VER": 4})
    ]
    with StdfWriter(buffer, byteorder=byteorder) as writer:

        def put(name: str, **fields) -> None:
            placed.append((name, writer.record(name, **fields), fields))

        put(
            "MIR",
            SETUP_T=1,
            START_T=2,
            STAT_NUM=3,
            MODE_COD="P",
            LOT_ID="LOT-7",
            PART_TYP="DEV",
            JOB_NAM="prog",
        )
        put("SDR", HEAD_NUM=1, SITE_GRP=1, SITE_NUM=[0, 1, 2, 3])
        for part in range(parts):
            put("PIR", HEAD_NUM=1, SITE_NUM=part % 4)
            for test in range(8):
                put("PTR", **ptr_fields(part, test))
            if vendor and part % 3 == 0:
                placed.append(("UNKNOWN", writer.raw_record(180, 1, bytes([part % 256]) * 5), {}))
                placed.append(("UNKNOWN", writer.raw_record(50, 99, b"vendor"), {}))
            put("PRR", HEAD_NUM=1, SITE_NUM=part % 4, PART_FLG=0, NUM_TEST=8, HARD_BIN=1 + part % 2,
                SOFT_BIN=part % 5, X_COORD=part % 17, Y_COORD=-(part % 13), TEST_T=part, PART_ID=str(part))  # fmt: skip
        put("HBR", HEAD_NUM=255, SITE_NUM=0, HBIN_NUM=1, HBIN_CNT=parts, HBIN_PF="P", HBIN_NAM="good")
        put("MRR", FINISH_T=99, DISP_COD=" ", USR_DESC="done")
    data = buffer.getvalue()
    ends = [offset for _, offset, _ in placed[1:]] + [len(data)]
    return data, [
        Written(name, offset, end, fields) for (name, offset, fields), end in zip(placed, ends, strict=True)
    ]


def rows_by_place(tables) -> dict[tuple[str, int], dict]:
    return {(name, row["offset"]): row for name, table in tables.items() for row in table.to_pylist()}


def written_tables(written: list[Written]) -> dict[str, pa.Table]:
    """Per record type, the offset, end and fields of the records written, as given to the writer."""
    by_name: dict[str, list[dict]] = {}
    for w in written:
        by_name.setdefault(w.name, []).append({"offset": w.offset, "end": w.end, **w.fields})
    return {name: pa.Table.from_pylist(rows) for name, rows in by_name.items()}


def assert_kept(tables, written: list[Written], upto: int, *, exactly: bool) -> None:
    """Every record lying wholly before byte ``upto`` is in ``tables``, every field as written;
    with ``exactly``, nothing else is."""
    expected_count = 0
    for name, expected in _WRITTEN_TABLES[id(written)].items():
        expected = expected.filter(pc.less_equal(expected["end"], upto)).drop_columns(["end"])
        expected_count += expected.num_rows
        if not expected.num_rows:
            continue
        assert name in tables, f"no {name} table; {expected.num_rows} {name} lie before byte {upto}"
        got = tables[name].filter(pc.is_in(tables[name]["offset"], expected["offset"])).sort_by("offset")
        got = got.select(expected.column_names)
        if not got.equals(expected.cast(got.schema)):
            kept = {row["offset"]: row for row in got.to_pylist()}
            for row in expected.to_pylist():
                assert kept.get(row["offset"]) == row, f"{name} at byte {row['offset']} (before {upto})"
    if exactly:
        read_count = sum(t.num_rows for t in tables.values())
        assert read_count == expected_count, (
            f"{read_count} records read, {expected_count} lie before byte {upto}"
        )


def same_tables(a, b) -> bool:
    return set(a) == set(b) and all(a[name].equals(b[name]) for name in a)


PLAIN, RECORDS_WRITTEN = lot(250)
SMALL, _ = lot(12)
VENDOR, VENDOR_WRITTEN = lot(60, vendor=True)
VENDOR_KNOWN = [w for w in VENDOR_WRITTEN if w.name != "UNKNOWN"]
_WRITTEN_TABLES = {id(w): written_tables(w) for w in (RECORDS_WRITTEN, VENDOR_KNOWN)}


# --------------------------------------------------------------------------------------------
# Containers, and the standard library's decompressors as the reference


def zipped(data: bytes, method: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        archive.writestr("lot.stdf", data)
    return buffer.getvalue()


CONTAINERS = {
    "plain": lambda data: data,
    "gzip": lambda data: gzip.compress(data, mtime=0),
    "bzip2": lambda data: bz2.compress(data, 1),  # 100 kB blocks: several in the lot
    "xz": lambda data: lzma.compress(data),
    "zip-deflate": lambda data: zipped(data, zipfile.ZIP_DEFLATED),
    "zip-stored": lambda data: zipped(data, zipfile.ZIP_STORED),
    "zip-bzip2": lambda data: zipped(data, zipfile.ZIP_BZIP2),
    "zip-lzma": lambda data: zipped(data, zipfile.ZIP_LZMA),
}
PACKED = {kind: make(PLAIN) for kind, make in CONTAINERS.items()}


class _Identity:
    eof = False

    def decompress(self, data: bytes) -> bytes:
        return data


def zip_member_span(data: bytes) -> tuple[int, int]:
    """Where the first member's compressed bytes start and how many there are (local header)."""
    csize, name_len, extra_len = struct.unpack_from("<I4xHH", data, 18)
    return 30 + name_len + extra_len, csize


def reference_decoder(kind: str, packed: bytes):
    """(compressed bytes of the stream, a fresh decompressor for them) from the standard library."""
    if kind == "plain":
        return packed, _Identity
    if not kind.startswith("zip"):
        return packed, {"gzip": lambda: zlib.decompressobj(31), "bzip2": bz2.BZ2Decompressor,
                        "xz": lzma.LZMADecompressor}[kind]  # fmt: skip
    start, size = zip_member_span(PACKED[kind])  # the intact archive's layout
    member = packed[start : start + size]
    method = kind.split("-")[1]
    if method == "lzma":
        return member, lambda: zipfile.LZMADecompressor()  # handles zip's lzma header
    return member, {
        "deflate": lambda: zlib.decompressobj(-15),
        "stored": _Identity,
        "bzip2": bz2.BZ2Decompressor,
    }[method]


def decodable(kind: str, packed: bytes, *, cut_only: bool = False) -> bytes:
    """What the reference decompressor gives back before it stops or fails, fed a byte at a
    time so that no output a failing call would drop is lost (in one go when the data are only
    cut short: no call fails then)."""
    member, make = reference_decoder(kind, packed)
    if kind == "plain" or kind == "zip-stored":
        return member
    if cut_only:
        return make().decompress(member)
    decoder, out = make(), []
    for i in range(len(member)):
        try:
            out.append(decoder.decompress(member[i : i + 1]))
        except (zlib.error, OSError, lzma.LZMAError, EOFError):
            break
        if decoder.eof:
            break
    return b"".join(out)


def intact_prefix(out: bytes) -> int:
    """How many leading bytes of ``out`` are the lot's own."""
    n = min(len(out), len(PLAIN))
    differ = np.nonzero(np.frombuffer(out[:n], np.uint8) != np.frombuffer(PLAIN[:n], np.uint8))[0]
    return int(differ[0]) if differ.size else n


def read_both(data: bytes, **options):
    """(strict tables or the StdfError, salvaged tables or the StdfError): nothing else may come."""
    results = []
    for strict in (True, False):
        try:
            results.append(read(data, strict=strict, **options))
        except StdfError as exc:
            results.append(exc)
    return results


# --------------------------------------------------------------------------------------------
# Valid files: every field back, nothing reported


@pytest.mark.parametrize("kind", list(CONTAINERS))
def test_valid_files_read_back_every_field(kind):
    tables = read(PACKED[kind])
    assert not tables.issues and not tables.warnings
    assert_kept(tables, RECORDS_WRITTEN, len(PLAIN), exactly=True)


def test_gzip_of_several_members_and_zero_padding_reads_whole():
    half = RECORDS_WRITTEN[len(RECORDS_WRITTEN) // 2].offset
    data = gzip.compress(PLAIN[:half]) + gzip.compress(PLAIN[half:]) + bytes(64)
    tables = read(data)
    assert not tables.issues
    assert_kept(tables, RECORDS_WRITTEN, len(PLAIN), exactly=True)


# --------------------------------------------------------------------------------------------
# Cut short anywhere


def cut_points(size: int, count: int = 17) -> list[int]:
    """Offsets spread over the file, the first bytes and the last ones included."""
    return sorted(
        {1, 5, 6, 11, 31, size - 1, size - 3, *np.linspace(40, size - 8, count).astype(int).tolist()}
    )


@pytest.mark.parametrize("window", [1 << 16, 64 << 20])
@pytest.mark.parametrize("kind", list(CONTAINERS))
def test_cut_short_anywhere_keeps_every_record_before_the_cut(kind, window):
    packed = PACKED[kind]
    for cut in cut_points(len(packed)):
        data = packed[:cut]
        came_out = len(decodable(kind, data, cut_only=True))
        strict, salvaged = read_both(data, window_bytes=window)
        if isinstance(salvaged, StdfError):
            # nothing could be kept: not even the FAR came out (or, zip, not even the local header)
            assert not [w for w in RECORDS_WRITTEN if w.end <= came_out], (cut, salvaged)
            assert isinstance(strict, StdfError)
            continue
        assert_kept(salvaged, RECORDS_WRITTEN, came_out, exactly=True)
        if kind.startswith("zip") and cut >= sum(zip_member_span(packed)):
            # cut in the central directory: the member is whole, its CRC-32 right
            assert not salvaged.issues and not isinstance(strict, StdfError)
        elif kind != "plain":  # a plain file cut between records is a valid, shorter file
            assert isinstance(strict, StdfError), cut
            assert strict.compressed_offset is not None and 0 < strict.compressed_offset <= cut
            issue = salvaged.issues[-1]
            assert issue.compressed_offset == strict.compressed_offset
            assert f"compressed byte {issue.compressed_offset}" in issue.reason
            assert f"(decompressed byte {came_out})" in issue.reason
        elif came_out == RECORDS_WRITTEN[-1].end or came_out in {w.end for w in RECORDS_WRITTEN}:
            assert not salvaged.issues and not isinstance(strict, StdfError)


def test_zip_cut_in_its_central_directory_reads_every_record_from_the_local_header():
    packed = PACKED["zip-deflate"]
    start, size = zip_member_span(packed)
    tables = read(packed[: start + size + 10])
    assert_kept(tables, RECORDS_WRITTEN, len(PLAIN), exactly=True)


# --------------------------------------------------------------------------------------------
# Bytes corrupted


@pytest.mark.parametrize("kind", list(CONTAINERS))
def test_a_corrupt_byte_anywhere_keeps_every_record_before_the_damage(kind):
    packed = PACKED[kind]
    if kind.startswith("zip"):  # the member's bytes (the directory's are the next test's)
        start, size = zip_member_span(packed)
        places = np.linspace(start, start + size - 1, 17).astype(int).tolist()
    else:
        places = np.linspace(0, len(packed) - 1, 17).astype(int).tolist()
    for at in places:
        for flip in (0x01, 0x5A) if at % 2 else (0xFF,):
            data = bytearray(packed)
            data[at] ^= flip
            data = bytes(data)
            intact = intact_prefix(decodable(kind, data))
            strict, salvaged = read_both(data)
            if isinstance(salvaged, StdfError):
                assert not [w for w in RECORDS_WRITTEN if w.end <= intact], (at, salvaged)
                continue
            assert_kept(salvaged, RECORDS_WRITTEN, intact, exactly=False)
            if isinstance(strict, StdfError):
                assert salvaged.issues
            else:  # the damage went unseen (a gzip header's time stamp, say): both readings agree
                assert not salvaged.issues and same_tables(strict, salvaged)


def test_a_corrupt_zip_directory_ends_in_tables_or_stdf_error():
    packed = PACKED["zip-deflate"]
    start, size = zip_member_span(packed)
    for at in range(start + size, len(packed)):
        data = bytearray(packed)
        data[at] ^= 0xA5
        strict, salvaged = read_both(bytes(data))
        if not isinstance(salvaged, StdfError):
            assert_kept(salvaged, RECORDS_WRITTEN, len(PLAIN), exactly=False)


# --------------------------------------------------------------------------------------------
# Headers that lie


def with_bytes(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]


def lying(kind: str) -> bytes:
    packed = PACKED[kind.split(":")[0]]
    if kind == "gzip:size":
        return with_bytes(packed, len(packed) - 4, struct.pack("<I", len(PLAIN) + 1000))
    if kind == "gzip:crc":
        return with_bytes(packed, len(packed) - 8, struct.pack("<I", zlib.crc32(PLAIN) ^ 1))
    directory = packed.rindex(b"PK\x01\x02")
    if kind == "zip-deflate:crc":  # both headers say a wrong CRC-32
        wrong = struct.pack("<I", zlib.crc32(PLAIN) ^ 0x100)
        return with_bytes(with_bytes(packed, 14, wrong), directory + 16, wrong)
    if kind == "zip-deflate:size":
        wrong = struct.pack("<I", len(PLAIN) - 7)
        return with_bytes(with_bytes(packed, 22, wrong), directory + 24, wrong)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["gzip:size", "gzip:crc", "zip-deflate:crc", "zip-deflate:size"])
def test_headers_that_lie_are_damage_after_every_record(kind):
    strict, salvaged = read_both(lying(kind))
    assert isinstance(strict, StdfError) and strict.compressed_offset is not None
    assert_kept(salvaged, RECORDS_WRITTEN, len(PLAIN), exactly=True)
    assert len(salvaged.issues) == 1 and salvaged.issues[0].offset == len(PLAIN)


def test_a_zip_member_whose_compressed_size_is_short_is_cut_there():
    packed = PACKED["zip-deflate"]
    start, size = zip_member_span(packed)
    directory = packed.rindex(b"PK\x01\x02")
    short = struct.pack("<I", size // 2)
    data = with_bytes(with_bytes(packed, 18, short), directory + 20, short)
    came_out = len(decodable("zip-deflate", packed[: start + size // 2]))
    strict, salvaged = read_both(data)
    assert isinstance(strict, StdfError) and strict.compressed_offset == start + size // 2
    assert_kept(salvaged, RECORDS_WRITTEN, came_out, exactly=True)


def test_bytes_after_the_gzip_data_that_are_not_gzip_are_damage_after_every_record():
    strict, salvaged = read_both(PACKED["gzip"] + b"\x00\x00garbage")
    assert isinstance(strict, StdfError) and strict.compressed_offset == len(PACKED["gzip"]) + 2
    assert_kept(salvaged, RECORDS_WRITTEN, len(PLAIN), exactly=True)


def test_a_damaged_block_that_comes_out_as_garbage_names_the_decompression_error():
    data = bytearray(bz2.compress(SMALL))  # one block: the error comes after its garbage
    data[len(data) // 2] ^= 0x10
    with pytest.raises(StdfError, match=r"bzip2 data are corrupt.*compressed byte") as caught:
        read(bytes(data), strict=False)
    assert caught.value.compressed_offset is not None


# --------------------------------------------------------------------------------------------
# Zip members that cannot be read


def patched_zip(flags: int | None = None, method: int | None = None) -> bytes:
    packed = bytearray(PACKED["zip-deflate"])
    directory = bytes(packed).rindex(b"PK\x01\x02")
    for at in (6, directory + 8):  # general purpose flags: local header, central directory
        if flags is not None:
            packed[at : at + 2] = struct.pack("<H", flags)
        if method is not None:
            packed[at + 2 : at + 4] = struct.pack("<H", method)
    return bytes(packed)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (patched_zip(flags=0x01), "encrypted"),
        (patched_zip(flags=0x41), "encrypted"),
        (patched_zip(method=9), r"method 9 \(deflate64\)"),
        (patched_zip(method=93), r"method 93 \(zstandard\)"),
        (patched_zip(method=99), r"method 99 \(AES encryption\)"),
        (patched_zip(method=77), r"method 77 \(unknown\)"),
        (zipped(b"", zipfile.ZIP_STORED)[:0] + b"PK\x05\x06" + bytes(18), "not an STDF file"),
    ],
)
def test_zip_members_that_cannot_be_read_are_stdf_errors(data, message):
    for strict in (True, False):
        with pytest.raises(StdfError, match=message):
            read(data, strict=strict)


def test_an_empty_zip_archive_is_an_stdf_error():
    buffer = io.BytesIO()
    zipfile.ZipFile(buffer, "w").close()
    with pytest.raises(StdfError):
        read(buffer.getvalue())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("folder/", b"")
    with pytest.raises(StdfError, match="holds no file"):
        read(buffer.getvalue(), strict=False)


# --------------------------------------------------------------------------------------------
# Field widths


def str_record(**fields) -> bytes:
    buffer = io.BytesIO()
    with StdfWriter(buffer) as writer:
        writer.record("PIR", HEAD_NUM=1, SITE_NUM=1)
        writer.record("STR", TEST_NUM=5, **fields)
        writer.record("PRR", HEAD_NUM=1, SITE_NUM=1)
    return buffer.getvalue()


@pytest.mark.parametrize("width", [9, 16, 255])
def test_kxuf_wider_than_eight_bytes_is_damage_the_rest_of_the_record_kept(width):
    data = str_record(CYC_SIZE=width, CYC_OFST=[1, 2], PMR_SIZE=2, PMR_INDX=[7, 300], USR3_CNT=0)
    with pytest.raises(StdfError, match=f"CYC_SIZE is {width}.*1, 2, 4 or 8"):
        read(data)
    tables = read(data, strict=False)
    row = tables["STR"].to_pylist()[0]
    assert (row["TEST_NUM"], row["CYC_SIZE"], row["CYC_OFST"], row["PMR_INDX"]) == (5, width, None, [7, 300])
    assert len(tables.issues) == 1 and tables["PRR"].num_rows == 1


def test_kxuf_of_an_odd_width_up_to_eight_bytes_is_read_with_a_warning():
    tables = read(str_record(CYC_SIZE=3, CYC_OFST=[0x010203, 5]))
    assert tables["STR"].column("CYC_OFST").to_pylist() == [[0x010203, 5]]
    assert not tables.issues
    assert [w.reason for w in tables.warnings] == [
        "CYC_SIZE is 3 in a record: the specification gives 1, 2, 4 or 8 bytes; CYC_OFST read as 3-byte integers"
    ]


# --------------------------------------------------------------------------------------------
# Records of undefined types, zero padding


@pytest.mark.parametrize("kind", ["plain", "gzip"])
@pytest.mark.parametrize("strict", [True, False])
def test_reserved_and_vendor_records_are_kept_raw_with_a_warning(kind, strict):
    tables = read(CONTAINERS[kind](VENDOR), strict=strict)
    assert not tables.issues
    assert_kept(tables, VENDOR_KNOWN, len(VENDOR), exactly=False)
    raw = tables["UNKNOWN"].to_pylist()
    written = [w for w in VENDOR_WRITTEN if w.name == "UNKNOWN"]
    assert [r["offset"] for r in raw] == [w.offset for w in written]
    for r, w in zip(raw, written, strict=True):
        rec_len, typ, sub = struct.unpack_from("<HBB", VENDOR, w.offset)
        assert (r["REC_TYP"], r["REC_SUB"], r["REC_DATA"]) == (typ, sub, VENDOR[w.offset + 4 : w.end])
    seqs = sorted(s for t in tables.values() for s in t.column("seq").to_pylist())
    assert seqs == list(range(len(VENDOR_WRITTEN)))
    assert [w.reason for w in tables.warnings] == [
        "20 records of type REC_TYP=180 REC_SUB=1 (reserved for use by Image software): kept as raw bytes in "
        "table UNKNOWN",
        "20 records of type REC_TYP=50 REC_SUB=99 (not defined by STDF V4): kept as raw bytes in table UNKNOWN",
    ]


def test_runs_of_vendor_records_are_indexed_in_one_pass(monkeypatch, kernels):
    """82,800 vendor records between the others once cost a kernel call each; the index walks
    them in the same call as the records around them."""
    buffer = io.BytesIO()
    with StdfWriter(buffer) as writer:
        for i in range(20_000):
            writer.record("PIR", HEAD_NUM=1, SITE_NUM=1)
            writer.raw_record(99, i % 3, b"x" * (i % 7))
            writer.raw_record(50, 99, b"")
            writer.record("PRR", HEAD_NUM=1, SITE_NUM=1)
    calls = []
    index_records = kernels.index_records

    def counted(*args):
        calls.append(1)
        return index_records(*args)

    monkeypatch.setattr(kernels, "index_records", counted)
    tables = read(buffer.getvalue())
    assert tables["UNKNOWN"].num_rows == 40_000 and tables["PRR"].num_rows == 20_000
    assert len(calls) == 1


def test_zero_padding_after_the_mrr_is_a_warning():
    for padding in (1, 3, 4, 1000, 200_000):
        for kind in ("plain", "gzip"):
            tables = read(CONTAINERS[kind](PLAIN + bytes(padding)), window_bytes=1 << 16)
            assert not tables.issues
            assert [w.reason for w in tables.warnings] == [
                f"{padding} bytes of zero padding after the MRR: ignored"
            ]
            assert tables.warnings[0].offset == len(PLAIN)
            assert_kept(tables, RECORDS_WRITTEN, len(PLAIN), exactly=True)


def test_zeros_where_the_mrr_should_be_are_damage():
    before_mrr = RECORDS_WRITTEN[-1].offset
    data = PLAIN[:before_mrr] + bytes(64)
    with pytest.raises(StdfError, match="64 zero bytes after the last HBR"):
        read(data)
    tables = read(data, strict=False)
    assert_kept(tables, RECORDS_WRITTEN, before_mrr, exactly=True)


def test_damage_longer_than_the_resync_lookahead_is_looked_past_in_the_next_windows():
    """Garbage longer than the bytes a resync looks ahead (once: the rest of the file lost),
    read in small windows: reading resumes after it and every record after it is read."""
    garbage_at = RECORDS_WRITTEN[len(RECORDS_WRITTEN) // 3].offset
    resume_at = RECORDS_WRITTEN[2 * len(RECORDS_WRITTEN) // 3].offset
    noise = np.random.default_rng(3).integers(1, 256, 700_000).astype(np.uint8).tobytes()
    shift = garbage_at + len(noise) - resume_at
    tables = read(PLAIN[:garbage_at] + noise + PLAIN[resume_at:], strict=False, window_bytes=1 << 16)
    rows = rows_by_place(tables)
    for w in RECORDS_WRITTEN:
        at = w.offset if w.end <= garbage_at else w.offset + shift if w.offset >= resume_at else None
        if at is not None:
            assert {k: rows[(w.name, at)][k] for k in w.fields} == w.fields, (w.name, w.offset)
    assert [i.reason.split(": ")[-1] for i in tables.issues] == [
        f"{len(noise)} bytes skipped, reading resumed at byte {resume_at + shift} where well-formed records start again"
    ]


# --------------------------------------------------------------------------------------------
# The promise itself, over random containers, damage and options


SMALL_PACKED = {kind: make(SMALL) for kind, make in CONTAINERS.items()}
DAMAGE = st.lists(
    st.tuples(
        st.sampled_from(["cut", "flip", "insert", "delete", "zeros", "zip-flags", "zip-method"]),
        st.floats(0, 1),
        st.integers(0, 255),
    ),  # fmt: skip
    max_size=3,
)


def damaged(data: bytes, damage) -> bytes:
    out = bytearray(data)
    for kind, where, value in damage:
        at = int(where * max(len(out) - 1, 0))
        if kind == "cut":
            del out[at:]
        elif kind == "flip" and out:
            out[at] ^= value or 1
        elif kind == "insert":
            out[at:at] = bytes([value]) * (1 + value % 9)
        elif kind == "delete":
            del out[at : at + 1 + value % 17]
        elif kind == "zeros":
            out[at : at + 1 + value] = bytes(len(out[at : at + 1 + value]))
        elif out[:4] == b"PK\x03\x04" and len(out) >= 10:  # a zip's flags or method set to anything
            field = 6 if kind == "zip-flags" else 8
            out[field] = value
    return bytes(out)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(sorted(CONTAINERS)),
    damage=DAMAGE,
    strict=st.booleans(),
    window=st.sampled_from([1 << 16, 64 << 20]),
    types=st.one_of(st.none(), st.sets(st.sampled_from([*RECORDS, "UNKNOWN"]), max_size=4)),
)
def test_no_exception_but_stdf_error_escapes_the_reader(kind, damage, strict, window, types):
    data = damaged(SMALL_PACKED[kind], damage)
    try:
        tables = read(data, strict=strict, window_bytes=window, record_types=types)
    except StdfError as exc:
        assert exc.path and exc.reason
        return
    assert tables.byteorder in ("<", ">")
    if types is not None:
        assert set(tables) <= types
    batches = stream(data, strict=False, window_bytes=window)
    try:
        for _ in batches:
            pass
    except StdfError:
        pass


class Pipe:
    """A file object that can only be read forward (a pipe, a socket)."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._data.read(n)


@pytest.mark.parametrize("kind", list(CONTAINERS))
def test_a_file_read_forward_only_is_salvaged_as_a_seekable_one(kind):
    packed = PACKED[kind]
    cut = packed[: len(packed) * 3 // 4]
    came_out = len(decodable(kind, cut, cut_only=True))
    if came_out < 6:  # not even the FAR (a bzip2 block comes out whole or not at all)
        with pytest.raises(StdfError, match="cut short"):
            read(Pipe(cut), strict=False)
    else:
        assert_kept(read(Pipe(cut), strict=False), RECORDS_WRITTEN, came_out, exactly=True)
    if kind in ("gzip", "zip-deflate"):  # zlib's state is copied: the bytes at fault found without a seek
        corrupt = bytearray(packed)
        corrupt[len(corrupt) // 2] ^= 0x5A
        intact = intact_prefix(decodable(kind, bytes(corrupt)))
        assert_kept(read(Pipe(bytes(corrupt)), strict=False), RECORDS_WRITTEN, intact, exactly=False)
