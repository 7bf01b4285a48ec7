"""Our reader against two independent ones on every real and shared STDF file.

Peers: stdf-convert (Rust, rust-stdf) for every table, field by field, and pystdf for record
counts. stdf-convert fills fields a record omitted with the spec's missing values where we keep
nulls, so our side goes through :func:`fill_omitted` first. The files live outside the repository
(``../shared/data/stdf``); MANIFEST.tsv there describes each one.
"""

from __future__ import annotations

import bz2
import collections
import csv
import functools
import gzip
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import stdf_convert

from silicio.stdf import read, stream
from silicio.stdf.missing import fill_omitted
from silicio.stdf.spec import GDR_TYPE_CODES, UNKNOWN
from tests.conftest import missing_shared

STDF_DIR = Path(__file__).parents[3] / "shared" / "data" / "stdf"
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".zip", ".xz")
NO_DATA = "no-shared-stdf-data"
#: Columns stdf-convert puts before the fields, and ours.
THEIR_POSITION_COLUMNS = 5
OUR_POSITION_COLUMNS = 2


@functools.cache
def shared_file_names() -> tuple[str, ...]:
    if not STDF_DIR.is_dir():
        return (NO_DATA,)
    return tuple(sorted(p.name for p in STDF_DIR.iterdir() if p.is_file() and p.suffix != ".tsv"))


def shared_file(name: str) -> Path:
    if name == NO_DATA:
        missing_shared(
            f"shared STDF data not found at {STDF_DIR}: these tests compare real files with peer readers"
        )
    return STDF_DIR / name


@functools.cache
def manifest() -> dict[str, dict[str, str]]:
    with open(STDF_DIR / "MANIFEST.tsv", newline="") as f:
        return {row["file"]: row for row in csv.DictReader(f, delimiter="\t")}


def is_compressed(name: str) -> bool:
    return name.endswith(COMPRESSED_SUFFIXES)


def bare_stem(name: str) -> str:
    """File name without its compression and STDF suffixes: a.stdf.gz, a.zip, a.std -> a."""
    for suffix in (*COMPRESSED_SUFFIXES, ".stdf", ".std"):
        name = name.removesuffix(suffix)
    return name


def plain_twin(name: str) -> str | None:
    """The uncompressed file holding the same data as compressed ``name``, if the set has one."""
    for candidate in shared_file_names():
        if not is_compressed(candidate) and bare_stem(candidate) == bare_stem(name):
            return candidate
    return None


ALL_FILES = shared_file_names()
#: Compressed copies of a plain file are compared with it once, not re-checked against peers.
PEER_FILES = [n for n in ALL_FILES if not (is_compressed(n) and plain_twin(n))] or [NO_DATA]
COMPRESSED_COPIES = [n for n in ALL_FILES if is_compressed(n) and plain_twin(n)] or [NO_DATA]


@functools.cache
def ours(name: str):
    return read(shared_file(name))


@functools.cache
def ours_filled(name: str) -> dict[str, pa.Table]:
    return fill_omitted(ours(name))


@functools.cache
def theirs(name: str) -> dict[str, pa.Table]:
    return {k: t for k, t in stdf_convert.tables(str(shared_file(name))).items() if t.num_rows}


# --------------------------------------------------------------------------------------------
# Comparison helpers


def same_value(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return a == b


def mismatched_rows(
    a: pa.ChunkedArray, b: pa.ChunkedArray, limit: int = 5
) -> list[tuple[int, object, object]]:
    """Rows where the columns differ (NaN equals NaN): (row, value in a, value in b)."""
    if len(a) != len(b):
        return [(-1, f"{len(a)} rows", f"{len(b)} rows")]
    if a.equals(b):  # fast path; false on any NaN, so the row check below decides
        return []
    found = []
    for row, (x, y) in enumerate(zip(a.to_pylist(), b.to_pylist(), strict=True)):
        if not same_value(x, y):
            found.append((row, x, y))
            if len(found) == limit:
                break
    return found


def b1_as_uint8(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """stdf-convert keeps B1 as 1-byte binary; we keep the byte as uint8."""
    chunks = []
    for chunk in column.chunks:
        fixed = chunk.cast(pa.binary(1))
        validity, data = fixed.buffers()
        chunks.append(
            pa.Array.from_buffers(pa.uint8(), len(fixed), [validity, data], fixed.null_count, fixed.offset)
        )
    return pa.chunked_array(chunks, pa.uint8())


def their_column_as_ours(field: pa.Field, column: pa.ChunkedArray) -> pa.ChunkedArray:
    if (field.metadata or {}).get(b"stdf_type") == b"B1":
        column = b1_as_uint8(column)
    return column.cast(field.type)  # drops their "not null" on list items and struct children


def gdr_items(column: pa.ChunkedArray, type_name) -> list[list[tuple[str, object]]]:
    """GEN_DATA as (type name, value) pairs; pad fields (B0) hold no value."""
    rows = []
    for items in column.to_pylist():
        pairs = []
        for item in items or []:
            name = type_name(item["TYPE"])
            pairs.append((name, item.get(name)))
        rows.append(pairs)
    return rows


def table_mismatches(name: str, record_type: str, our: pa.Table, their: pa.Table) -> list[str]:
    problems = []
    our_fields = our.schema.names[OUR_POSITION_COLUMNS:]
    their_fields = their.schema.names[THEIR_POSITION_COLUMNS:]
    if our_fields != their_fields:
        return [f"{name} {record_type}: fields {our_fields} vs {their_fields}"]
    for field in our.schema:
        if field.name in ("seq", "offset") or (record_type, field.name) == ("GDR", "GEN_DATA"):
            continue
        for row, x, y in mismatched_rows(our[field.name], their_column_as_ours(field, their[field.name])):
            problems.append(f"{name} {record_type}.{field.name} row {row}: ours {x!r:.80} theirs {y!r:.80}")
    return problems


# --------------------------------------------------------------------------------------------
# (a) record counts against stdf-convert, (d) positions


@pytest.mark.parametrize("name", PEER_FILES)
def test_record_counts_equal_stdf_convert(name):
    tables = ours(name)
    assert not tables.issues
    our_counts = {k: t.num_rows for k, t in tables.items()}
    their_counts = collections.Counter()
    for k, t in theirs(name).items():
        their_counts[UNKNOWN if k in ("RESERVED", UNKNOWN) else k] += t.num_rows
    assert our_counts == dict(their_counts)
    assert tables.records == sum(our_counts.values())


@pytest.mark.parametrize("name", PEER_FILES)
def test_seq_and_offset_equal_stdf_convert_positions(name):
    for record_type, table in ours(name).items():
        their = theirs(name)[record_type if record_type != UNKNOWN else "UNKNOWN"]
        assert table["seq"].equals(their["sequence_number"]), record_type
        assert table["offset"].equals(their["byte_offset"]), record_type
    seqs = np.sort(np.concatenate([t["seq"].to_numpy() for t in ours(name).values()]))
    assert np.array_equal(seqs, np.arange(seqs.size))  # every record once, in file order


# --------------------------------------------------------------------------------------------
# (b) record counts against pystdf


def pystdf_counts(path: Path) -> collections.Counter:
    """Records per type as pystdf parses them (V4 types only: it skips the V4-2007 ones)."""
    from pystdf.IO import Parser

    counts: collections.Counter = collections.Counter()

    class CountingSink:
        def after_send(self, source, data):
            counts[type(data[0]).__name__.upper()] += 1

    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix, open)
    with opener(path, "rb") as f:
        parser = Parser(inp=f)
        parser.addSink(CountingSink())
        parser.parse()
    return counts


@pytest.mark.parametrize("name", [n for n in PEER_FILES if not n.endswith(".zip")])
def test_record_counts_equal_pystdf(name):
    path = shared_file(name)
    documented = manifest().get(name, {}).get("pystdf_parse", "")
    if "pystdf ERROR" in documented:
        pytest.skip(f"pystdf itself fails on {name}: {documented.split('pystdf ERROR', 1)[1].strip()}")
    pystdf = pystdf_counts(path)
    from pystdf import V4

    v4_types = {type(r).__name__.upper() for r in V4.records}
    our_counts = {k: t.num_rows for k, t in ours(name).items() if k in v4_types}
    assert our_counts == dict(pystdf)


# --------------------------------------------------------------------------------------------
# (c) every field against stdf-convert


@pytest.mark.parametrize("name", PEER_FILES)
def test_every_field_equals_stdf_convert_after_filling_omitted(name):
    filled = ours_filled(name)
    problems = []
    for record_type, table in filled.items():
        if record_type == UNKNOWN:
            continue  # raw bytes of unknown records: counted and positioned above
        problems += table_mismatches(name, record_type, table, theirs(name)[record_type])
    if "GDR" in filled:  # item types are codes for us, names for them: compare (name, value) pairs
        our_items = gdr_items(filled["GDR"]["GEN_DATA"], GDR_TYPE_CODES.__getitem__)
        their_items = gdr_items(theirs(name)["GDR"]["GEN_DATA"], str)
        problems += [f"{name} GDR.GEN_DATA row {row}: ours {a!r:.200} theirs {b!r:.200}"
                     for row, (a, b) in enumerate(zip(our_items, their_items, strict=True)) if not same_value(a, b)]  # fmt: skip
    assert not problems, "\n".join(problems[:40])


def test_the_core_tables_were_compared_on_real_data():
    """Guard against the field comparison passing vacuously: the shared set has thousands of each."""
    if NO_DATA in PEER_FILES:
        missing_shared(f"shared STDF data not found at {STDF_DIR}")
    rows = collections.Counter()
    for name in PEER_FILES:
        for record_type in ("PTR", "FTR", "PRR", "MPR", "TSR", "GDR"):
            if record_type in ours(name):
                rows[record_type] += ours(name)[record_type].num_rows
    assert min(rows.values()) > 1000 and rows["PTR"] > 100_000


# --------------------------------------------------------------------------------------------
# (e) streaming in small windows, and compressed copies


def assert_tables_equal(a: dict[str, pa.Table], b: dict[str, pa.Table]) -> None:
    assert list(a) == list(b)
    for record_type in a:
        assert a[record_type].schema == b[record_type].schema, record_type
        for column in a[record_type].column_names:
            assert not mismatched_rows(a[record_type][column], b[record_type][column]), (
                f"{record_type}.{column}"
            )


@pytest.mark.parametrize("name", PEER_FILES)
def test_stream_in_small_windows_equals_read(name):
    batches: dict[str, list[pa.RecordBatch]] = {}
    for record_type, batch in stream(shared_file(name), window_bytes=65536):
        batches.setdefault(record_type, []).append(batch)
    streamed = {k: pa.Table.from_batches(v) for k, v in batches.items()}
    whole = ours(name)
    assert_tables_equal(dict(sorted(streamed.items())), dict(sorted(whole.items())))


@pytest.mark.parametrize("name", COMPRESSED_COPIES)
def test_compressed_copy_gives_the_plain_files_tables(name):
    path = shared_file(name)
    twin = plain_twin(name)
    # MANIFEST describes each copy as "<compression> of <plain file>"
    described_as_copy_of = manifest()[name]["description"].split(" of ", 1)[1].split()[0]
    assert twin.startswith(described_as_copy_of)
    assert_tables_equal(dict(read(path)), dict(ours(twin)))
