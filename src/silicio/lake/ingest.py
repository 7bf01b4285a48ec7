"""Take files into the lake: Parquet partitions plus catalog rows, once, safely, in parallel.

Any file a data source reads (:mod:`silicio.lake.sources`: STDF built in, others registered as
plugins) goes through two steps:

1. :func:`stage_file` (a worker: in this process, a process pool or a Dask cluster) finds the
   source that reads the file and has it write its tables as Parquet into the ingest's staging
   directory (a streaming source such as STDF keeps memory bounded by its window; each output
   file is encoded on a thread of its own), while a thread hashes the file (a file the catalog
   holds stops its source as soon as the hash says so); from the ``parts`` table it computes
   the catalog's part counts, yields and wafer rows, and returns the catalog facts. It only
   reads the catalog, and never touches ``parquet/``.
2. The coordinator (this process, one at a time under the lake lock) skips content the catalog
   already holds, renames the staged files into ``parquet/`` and records the file in the catalog
   in one transaction.

A process killed at any moment leaves either staged files (removed with their staging
directory once its owner is dead) or renamed files no catalog row names (orphans, removed);
:func:`recover` does both, and every ingest runs it first. Files are named by content hash, so
two ingests of the same content write the same paths and the catalog's unique SHA-256 decides
which one records it.
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import os
import shutil
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from silicio.stdf.parts import PARTS_SCHEMA, part_yield
from silicio.stdf.reader import DEFAULT_WINDOW_BYTES
from silicio.stdf.tidy import TIDY_SCHEMA, TIDY_STORED_SCHEMA

from .catalog import Catalog, CatalogEntry, KnownFile
from .layout import (
    OWNER_LOCK,
    PARTS_TABLE,
    ROW_GROUP_ROWS,
    TIDY_TABLE,
    LakeLayout,
    Partition,
    locked,
    partition_value,
    sha256_of_parquet,
)
from .sources import (
    DataSource,
    SourceData,
    SourceIssue,
    available_sources,
    check_source_data,
    folder_suffixes,
    source_for,
)

#: Test hook: when set to a path, the coordinator creates that file after renaming a file's
#: Parquet into place and waits before committing the catalog, so a test can kill it there.
PAUSE_BEFORE_COMMIT_ENV = "SILICIO_LAKE_PAUSE_BEFORE_COMMIT"

#: Schemas every source's tables of these names must have (one of): the lake's views union them.
#: The tidy view may come as :data:`~silicio.stdf.tidy.TIDY_STORED_SCHEMA` (text as dictionaries,
#: result as float32), which the lake reads back as :data:`~silicio.stdf.tidy.TIDY_SCHEMA`.
SHARED_SCHEMAS = {PARTS_TABLE: (PARTS_SCHEMA,), TIDY_TABLE: (TIDY_SCHEMA, TIDY_STORED_SCHEMA)}

_HASH_CHUNK = 8 * 1024 * 1024
# Dictionary pages pay off for text (test names, units: few distinct values), not for measured
# numbers; LZ4 writes as fast as Snappy and smaller (measured on synthetic wafer sort).
_COMPRESSION = "lz4"


#: Columns that grow with the file (record sequence, byte offset): delta-encoded they take 1% of
#: the bytes of plain 8-byte integers and write faster (measured: seq of 2.76 M PTRs, 11 MB ->
#: 0.1 MB, 0.08 -> 0.05 s CPU).
_ASCENDING = frozenset({"seq", "offset"})


_WRITE_BATCH_ROWS = 1 << 16


def _parquet_options(schema: pa.Schema, record_table: bool = False) -> dict[str, Any]:
    """Writer options of a table; ``record_table`` for a source's own tables (STDF record types),
    whose text is stored plain: a dictionary saves little there (test names repeat, but part ids
    do not) and hashing every string cost more than the column's other writing (PTR.TEST_TXT of
    7 M rows 0.17 -> 0.10 s, ALARM_ID 0.10 -> 0.06 s; 0.4 MB more before compression)."""
    coded = [f.name for f in schema if pa.types.is_dictionary(f.type)]
    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_binary(f.type)]
    dictionary = coded if record_table else text + coded
    # Min / max statistics of the numbers only: text statistics took a third of the tidy view's
    # writing time and prune nothing inside a file (the lake's folders already part by lot).
    numbers = [f.name for f in schema if f.name not in text + coded and not pa.types.is_nested(f.type)]
    ascending = {
        f.name: "DELTA_BINARY_PACKED" for f in schema if f.name in _ASCENDING and pa.types.is_integer(f.type)
    }
    # Dictionary arrays are written as they are, codes and dictionary, without hashing a string
    # (tidy text of 7 M rows: 0.17 -> 0.01 s a column). Without the Arrow schema in the file,
    # pyarrow and polars read them back as plain text, as DuckDB does.
    # Values handed to the column encoders 64 Ki at a time, not 1 Ki: fewer rounds through each
    # column's levels and pages (7 M rows of the PTR table 1.56 -> 1.47 s, of the tidy 1.18 -> 1.08).
    return {"compression": _COMPRESSION, "use_dictionary": dictionary, "write_statistics": numbers,
            "column_encoding": ascending or None, "store_schema": not coded,
            "write_batch_size": _WRITE_BATCH_ROWS}  # fmt: skip


# Outcome of a file.
INGESTED = "ingested"
PARTIAL = "partial"
QUARANTINED = "quarantined"
SKIPPED = "skipped"
FAILED = "failed"


# --------------------------------------------------------------------------------------------
# Worker step


#: Bytes of Arrow data the writes of one file may hold waiting. Bounded by bytes, not by writes:
#: the source's kept tables (STDF keeps its test records for the views) cost nothing more while
#: their writes wait, so the reading never waits for a slower PTR writer (200 MB file: PTR
#: written in 1.2 s CPU, read in 1.0 s); a table only streamed through is held at most this much.
_PENDING_BYTES = 256 << 20

#: Bytes of Arrow data one file's kept tables may hold (:func:`ingest`'s ``keep``): a table
#: beyond is not kept (who asked reads the lake's file instead).
_KEPT_BYTES = 1 << 30

#: Tables of a file to keep in memory: table name -> its columns kept (None: all).
Keep = Mapping[str, Sequence[str] | None]


class _ParquetWrites:
    """Parquet writes of one file on threads of their own, one thread per output file (in the
    order given within a file), so that encoding and compressing the tables overlaps the
    source's reading and the tables are encoded side by side: the raw PTR table and the tidy
    pieces no longer wait for each other (pyarrow writes without the GIL). At most
    ``max_pending_bytes`` of data wait to be written (past that, the oldest writes are waited
    for), which bounds the batches held."""

    def __init__(self, max_pending_bytes: int = _PENDING_BYTES):
        self._pools: dict[str, ThreadPoolExecutor] = {}
        #: (key, write, bytes it holds) in the order submitted.
        self._pending: deque[tuple[str, Future, int]] = deque()
        self._pending_bytes = 0
        self._max_pending_bytes = max_pending_bytes

    def submit(self, key: str, nbytes: int, function: Callable, *args, **kwargs) -> None:
        """Run ``function`` after the writes submitted before under the same ``key``; ``nbytes``
        is what its arguments hold."""
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"silicio-parquet-{key}"
            )
        self._pending.append((key, pool.submit(function, *args, **kwargs), nbytes))
        self._pending_bytes += nbytes
        while self._pending and (self._pending[0][1].done() or self._pending_bytes > self._max_pending_bytes):
            self._wait_oldest()

    def _wait_oldest(self) -> None:
        _, write, nbytes = self._pending.popleft()
        self._pending_bytes -= nbytes
        write.result()

    def wait(self, key: str) -> None:
        """Wait for the writes of ``key``; the first that failed raises here."""
        for pending_key, write, _ in list(self._pending):
            if pending_key == key:
                write.result()

    def finish(self) -> None:
        """Wait for every write; the first that failed raises here."""
        try:
            while self._pending:
                self._wait_oldest()
        finally:
            for pool in self._pools.values():
                pool.shutdown(wait=True)


#: A record table's column is sparse when at most this share of its first row group's rows
#: hold a value in it (or in any other sparse column): those rows are written with every
#: column, the others without the sparse ones (see :class:`_StagedTables`). A test's first PTRs
#: of a program of 12 k tests are 10 % of a row group. Measured on 7 M PTRs whose 12 optional
#: fields hold values on evenly spread rows (the worst case: every batch filtered), one file ->
#: two: 0.1 % of the rows 1.65 -> 0.90 s CPU, 1 % 1.70 -> 0.96 s, 10 % 2.21 -> 1.10 s. Filtering
#: a batch costs ~0.035 s a kept column of 7 M rows: a table with one or two sparse columns
#: among many, their values spread over every batch, would lose (values together, as a test's
#: first PTRs come, are cut out of a batch without a copy, :func:`_split`).
_SPARSE_SHARE = 0.1
#: Rows a record table must have for its sparse columns to be decided (from these rows): a
#: smaller table is one file, as it comes (its nulls cost little; a file more costs each query).
_SPLIT_MIN_ROWS = ROW_GROUP_ROWS
#: Sparse rows of a batch up to which its lean rows are slices between them; more are filtered.
_SLICED_SPARSE_ROWS = 16
#: Staging subfolder of the lean files (a table's name may end in ``.lean``).
_LEAN_FOLDER = "lean"


class _ParquetSink:
    """One Parquet file being written: its rows gathered into row groups, its writer."""

    def __init__(self, key: str, path: Path, schema: pa.Schema, record_table: bool):
        #: Key of its writes in :class:`_ParquetWrites` (one thread per file).
        self.key = key
        self.path = path
        #: Schema of the rows given (the writer's may store columns without nulls as required).
        self.schema = schema
        self.record_table = record_table
        self.writer: pq.ParquetWriter | None = None
        #: Batches not yet written: fewer rows than a row group.
        self.pending: list[pa.RecordBatch] = []
        self.pending_rows = 0

    def add(self, batches: Iterable[pa.RecordBatch]) -> None:
        for batch in batches:
            self.pending.append(batch)
            self.pending_rows += batch.num_rows


class _StagedTables:
    """The :class:`~silicio.lake.sources.TableWriter` a source writes one file's tables to: one
    Parquet file per table in the file's staging folder, two for a record table with sparse
    columns. Keeps the ``parts`` table, from which the catalog's counts and yields are computed.

    Sparse columns (a record table's columns null on nearly every row, such as a PTR's limits,
    units and formats, which only a test's first PTR carries) are found in the table's first
    row group (:func:`_sparse_columns`) and fixed from then on. Parquet spends as much on a null
    as on a value (a definition level each: 0.05 s per column of 7 M PTRs), so a table that has
    them is written as two files: the full file (``staged``: every column) takes the rows that
    hold a value in any sparse column, the lean file (``lean``: without the sparse columns) the
    other rows. Both keep the source's row order; the full file is written even without a row,
    so that the lake holds every column of the table. A table smaller than a row group is one
    file, as it comes. The lake's views read both (:data:`~silicio.lake.layout.LEAN_SUFFIX`).

    A record table's columns that have no null in its first row group are stored as required
    (Parquet keeps no definition level for them: 4 ns a value less, 0.03 s per column of 7 M
    PTRs), in each file on its own; a null later on rewrites what was written of that file with
    the column optional, before going on. ``on_write`` is called before each table write (the
    ingest stops a file there once it knows the lake holds it)."""

    def __init__(self, kind: str, out_dir: Path, writes: _ParquetWrites,
                 on_write: Callable[[], None] | None = None, keep: Keep | None = None):  # fmt: skip
        self.kind = kind
        #: table -> columns kept in memory as written (None: all), see :func:`ingest`'s ``keep``
        self.keep = dict(keep or {})
        self.kept: dict[str, list[pa.Table] | None] = {}
        self._kept_bytes = 0
        self.out_dir = out_dir
        self.writes = writes
        self.on_write = on_write
        #: Table -> its (full) Parquet file.
        self.staged: dict[str, str] = {}
        #: Table -> its lean Parquet file, for the tables written as two files that have lean rows.
        self.lean: dict[str, str] = {}
        self.parts: list[pa.Table] = []
        #: Schema each table is written in, as the source gives it.
        self._schemas: dict[str, pa.Schema] = {}
        self._full: dict[str, _ParquetSink] = {}
        self._lean: dict[str, _ParquetSink] = {}
        #: A table's sparse columns; None while not yet decided (before its first row group).
        self._sparse: dict[str, list[str] | None] = {}

    def write(self, name: str, data: pa.Table | pa.RecordBatch) -> None:
        if not isinstance(name, str) or partition_value(name) != name or name.startswith("."):
            raise ValueError(f"data source {self.kind!r} wrote a table named {name!r}; a table name takes "
                             "letters, digits and ._+- only")  # fmt: skip
        if not isinstance(data, pa.Table | pa.RecordBatch):
            raise ValueError(f"data source {self.kind!r} wrote {type(data).__name__} to table {name!r}, "
                             "expected a pyarrow Table or RecordBatch")  # fmt: skip
        expected = SHARED_SCHEMAS.get(name)
        if expected is not None and not any(_same_columns(data.schema, e) for e in expected):
            raise ValueError(f"data source {self.kind!r} wrote table {name!r} in another schema than the "
                             f"lake's: {_schema_difference(data.schema, expected[0])}")  # fmt: skip
        if self.on_write is not None:
            self.on_write()
        if data.num_rows == 0:
            return
        schema = self._schemas.get(name)
        if schema is None:
            self._schemas[name] = data.schema
            self.staged[name] = str(self.out_dir / f"{name}.parquet")
            record_table = name not in SHARED_SCHEMAS  # the views' schemas are the lake's, as they are
            self._full[name] = _ParquetSink(name, self.out_dir / f"{name}.parquet", data.schema, record_table)
            self._sparse[name] = None if record_table else []
        elif not data.schema.equals(schema):
            raise ValueError(f"data source {self.kind!r} wrote table {name!r} in two schemas: "
                             f"{_schema_difference(data.schema, schema)}")  # fmt: skip
        if name == PARTS_TABLE:
            self.parts.append(data if isinstance(data, pa.Table) else pa.Table.from_batches([data]))
        if name in self.keep:
            self._keep(name, data)
        batches = data.to_batches() if isinstance(data, pa.Table) else [data]
        if self._sparse[name] is not None:
            self._route(name, batches)
            return
        full = self._full[name]
        full.add(batches)
        if full.pending_rows >= _SPLIT_MIN_ROWS:  # the first row group is there: which columns are sparse
            gathered = pa.Table.from_batches(full.pending, schema=full.schema)
            full.pending, full.pending_rows = [], 0
            self._sparse[name] = sparse = _sparse_columns(gathered)
            if sparse:
                lean_folder = self.out_dir / _LEAN_FOLDER
                lean_folder.mkdir(exist_ok=True)
                table_schema = self._schemas[name]
                lean_schema = pa.schema([f for f in table_schema if f.name not in sparse],
                                        metadata=table_schema.metadata)  # fmt: skip
                self._lean[name] = _ParquetSink(
                    f"{name}/lean", lean_folder / f"{name}.parquet", lean_schema, True
                )
            self._route(name, gathered.to_batches())

    def _keep(self, name: str, data: pa.Table | pa.RecordBatch) -> None:
        """Keep ``data``'s columns asked for (references, no copy), up to :data:`_KEPT_BYTES` in all."""
        pieces = self.kept.setdefault(name, [])
        if pieces is None:  # over the bound already
            return
        columns = self.keep[name]
        piece = data if columns is None else data.select([c for c in columns if c in data.schema.names])
        self._kept_bytes += piece.nbytes
        if self._kept_bytes > _KEPT_BYTES:
            self.kept[name] = None
            return
        pieces.append(piece if isinstance(piece, pa.Table) else pa.Table.from_batches([piece]))

    def kept_tables(self) -> dict[str, pa.Table]:
        """The tables kept whole (one over the bound is not)."""
        return {name: pa.concat_tables(pieces) for name, pieces in self.kept.items() if pieces}

    def _route(self, name: str, batches: list[pa.RecordBatch]) -> None:
        """Add ``batches`` to the files of ``name`` (split by their sparse values) and write
        the whole row groups gathered."""
        full = self._full[name]
        lean = self._lean.get(name)
        if lean is None:
            full.add(batches)
        else:
            sparse = self._sparse[name]
            for batch in batches:
                full_rows, lean_rows = _split(batch, sparse, lean.schema.names)
                full.add(full_rows)
                lean.add(lean_rows)
        for sink in (full, lean):
            if sink is not None and sink.pending_rows >= ROW_GROUP_ROWS:
                self._flush(sink, final=False)

    def _flush(self, sink: _ParquetSink, final: bool) -> None:
        """Write the whole row groups gathered for ``sink`` (every row when ``final``)."""
        table = pa.Table.from_batches(sink.pending, schema=sink.schema)
        whole = table.num_rows if final else table.num_rows - table.num_rows % ROW_GROUP_ROWS
        if whole:
            chunk = table.slice(0, whole)
            writer = self._writer(sink, chunk)
            chunk = pa.Table.from_arrays(chunk.columns, schema=writer.schema)  # nullability as stored
            self.writes.submit(
                sink.key, chunk.nbytes, writer.write_table, chunk, row_group_size=ROW_GROUP_ROWS
            )
        rest = table.slice(whole)
        sink.pending = rest.to_batches()
        sink.pending_rows = rest.num_rows

    def _writer(self, sink: _ParquetSink, chunk: pa.Table) -> pq.ParquetWriter:
        """The writer of ``sink``, opened for the first rows written; reopened with the columns
        ``chunk`` has nulls in optional, when they were stored as required."""
        if sink.writer is None:
            schema = _required_where_no_nulls(sink.schema, chunk) if sink.record_table else sink.schema
            sink.writer = pq.ParquetWriter(sink.path, schema, **_parquet_options(schema, sink.record_table))
            return sink.writer
        broken = [f.name for f in sink.writer.schema if not f.nullable and chunk[f.name].null_count]
        if broken:
            self._reopen(sink, broken)
        return sink.writer

    def _reopen(self, sink: _ParquetSink, optional: list[str]) -> None:
        """Rewrite what was written of ``sink`` with the columns ``optional`` optional (a null
        came after rows without any): row group by row group, from the file written so far."""
        self.writes.wait(sink.key)
        old = sink.writer
        old.close()
        earlier = sink.path.with_name(f".{sink.path.name}.required")
        os.replace(sink.path, earlier)
        schema = pa.schema([f.with_nullable(True) if f.name in optional else f for f in old.schema],
                           metadata=old.schema.metadata)  # fmt: skip
        writer = sink.writer = pq.ParquetWriter(
            sink.path, schema, **_parquet_options(schema, record_table=True)
        )
        written = pq.ParquetFile(earlier)
        for group in range(written.metadata.num_row_groups):
            rows = written.read_row_group(group)
            writer.write_table(
                pa.Table.from_arrays(rows.columns, schema=schema), row_group_size=ROW_GROUP_ROWS
            )
        written.close()
        earlier.unlink()

    def close(self) -> None:
        for name, full in self._full.items():
            lean = self._lean.get(name)
            for sink in (full, lean):
                if sink is None:
                    continue
                if sink.pending_rows:
                    self._flush(sink, final=True)
                if sink.writer is None and sink is full:  # no row held a sparse value: the schema still
                    sink.writer = pq.ParquetWriter(sink.path, sink.schema,
                                                   **_parquet_options(sink.schema, sink.record_table))  # fmt: skip
                if sink.writer is not None:
                    self.writes.submit(sink.key, 0, sink.writer.close)
            if lean is not None and lean.writer is not None:
                self.lean[name] = str(lean.path)

    def parts_table(self) -> pa.Table | None:
        return pa.concat_tables(self.parts) if self.parts else None


def _sparse_columns(rows: pa.Table) -> list[str]:
    """Columns of a record table written apart from its other rows (see :class:`_StagedTables`),
    from ``rows``, its first row group: taken sparsest first while the rows holding a value in
    any of them stay at most :data:`_SPARSE_SHARE` of ``rows``; in schema order. none when
    every column would be sparse (a lean file without a column could not count its rows)."""
    limit = int(rows.num_rows * _SPARSE_SHARE)
    values = {name: rows.num_rows - rows[name].null_count for name in rows.column_names}
    holding = np.zeros(rows.num_rows, np.bool_)
    chosen: set[str] = set()
    for name in sorted((n for n, v in values.items() if v <= limit), key=values.get):
        if values[name]:
            more = holding | pc.is_valid(rows[name]).to_numpy()
            if np.count_nonzero(more) > limit:
                continue
            holding = more
        chosen.add(name)
    if len(chosen) == rows.num_columns:
        return []
    return [name for name in rows.column_names if name in chosen]


def _split(batch: pa.RecordBatch, sparse: list[str], lean_columns: list[str],
           ) -> tuple[list[pa.RecordBatch], list[pa.RecordBatch]]:  # fmt: skip
    """``batch``'s rows that hold a value in a ``sparse`` column (every column), and the others
    (``lean_columns``), each in the batch's order. The lean rows are slices of ``batch`` (no
    copy) around up to :data:`_SLICED_SPARSE_ROWS` sparse rows; more are filtered out of the
    span they cover (a test's first PTRs come together, at the file's start)."""
    holding = None
    for name in sparse:
        column = batch.column(name)
        if column.null_count < len(column):
            valid = pc.is_valid(column)
            holding = valid if holding is None else pc.or_(holding, valid)
    lean = batch.select(lean_columns)
    if holding is None:
        return [], [lean]
    rows = np.flatnonzero(holding.to_numpy(zero_copy_only=False))
    if len(rows) == batch.num_rows:
        return [batch], []
    full = [batch.take(pa.array(rows))]
    if len(rows) <= _SLICED_SPARSE_ROWS:
        starts = np.concatenate([[0], rows + 1])
        stops = np.concatenate([rows, [batch.num_rows]])
        pieces = [lean.slice(a, b - a) for a, b in zip(starts.tolist(), stops.tolist(), strict=True) if b > a]
    else:
        first, last = int(rows[0]), int(rows[-1]) + 1
        span = lean.slice(first, last - first).filter(pc.invert(holding.slice(first, last - first)))
        pieces = [p for p in (lean.slice(0, first), span, lean.slice(last)) if p.num_rows]
    return full, pieces


def _required_where_no_nulls(schema: pa.Schema, first_rows: pa.Table) -> pa.Schema:
    """``schema`` with the columns that have no null in ``first_rows`` not nullable."""
    return pa.schema(
        [f.with_nullable(False) if f.nullable and first_rows[f.name].null_count == 0 else f for f in schema],
        metadata=schema.metadata,
    )


def _same_columns(got: pa.Schema, expected: pa.Schema) -> bool:
    """Same column names and types, in the same order (a column may be declared not nullable
    where the data has no nulls: it is stored as required)."""
    return got.names == expected.names and all(g.type == e.type for g, e in zip(got, expected, strict=True))


def _schema_difference(got: pa.Schema, expected: pa.Schema) -> str:
    have = {f.name: f.type for f in got}
    want = {f.name: f.type for f in expected}
    problems = [f"missing {sorted(set(want) - set(have))}"] if set(want) - set(have) else []
    if set(have) - set(want):
        problems.append(f"unexpected {sorted(set(have) - set(want))}")
    problems += [f"{n} is {have[n]}, expected {t}" for n, t in want.items() if n in have and have[n] != t]
    if not problems and list(have) != list(want):
        problems.append(f"columns in another order, expected {list(want)}")
    return "; ".join(problems) or "field metadata or nullability differ"


@dataclass
class StagedFile:
    """What :func:`stage_file` made of one file; small, so it travels back from any worker."""

    path: str
    sha256: str
    size: int
    #: Kind of the data source that read the file (None when none reads it).
    source: str | None = None
    records: int = 0
    #: Table name -> Parquet file in the staging directory (the full file of a table in two).
    staged: dict[str, str] = field(default_factory=dict)
    #: Table name -> lean Parquet file in the staging directory, of the tables in two files.
    lean: dict[str, str] = field(default_factory=dict)
    staging_dir: str | None = None
    partition: Partition | None = None
    entry: CatalogEntry | None = None
    issues: list[SourceIssue] = field(default_factory=list)
    #: What the source found unusual but read in full (kept in the catalog with the file).
    warnings: list[SourceIssue] = field(default_factory=list)
    #: Set instead of the rest when the catalog already held this content.
    known: KnownFile | None = None
    seconds: float = 0.0
    #: The tables kept in memory (``keep``: in this process only, never sent from a worker).
    tables: dict[str, pa.Table] | None = None


def file_sha256(path: str | os.PathLike) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file's bytes, read in chunks into one buffer."""
    digest = hashlib.sha256()
    size = 0
    buffer = bytearray(_HASH_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while got := f.readinto(buffer):
            digest.update(view[:got])  # hashlib lets go of the GIL on buffers this large
            size += got
    return digest.hexdigest(), size


class _AlreadyInLake(BaseException):
    """Stops a source's reading once the file's hash shows that the catalog holds its content:
    a BaseException, so that no source's ``except Exception`` takes it for damage."""


class _Content:
    """A file's SHA-256 and size, computed on a thread of their own while the source reads the
    file (the hash costs 0.18 s CPU on 200 MB, off the reading's path now), and whether the
    catalog at ``database_url`` holds that content, asked once the hash is known."""

    def __init__(self, path: str, database_url: str | None):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="silicio-sha256")
        self._digest = self._pool.submit(file_sha256, path)
        self._database_url = database_url
        self._asked = False
        self._known: KnownFile | None = None

    def sha256_and_size(self) -> tuple[str, int]:
        """Waits for the hash; ``OSError`` when the file cannot be read."""
        return self._digest.result()

    def known(self) -> KnownFile | None:
        """The catalog's file of the same content (None when it has none); waits for the hash."""
        if not self._asked:
            sha256, _ = self.sha256_and_size()
            self._asked = True
            if self._database_url is not None:
                self._known = _worker_catalog(self._database_url).known(sha256)
        return self._known

    def stop_if_known(self) -> None:
        """Raise :class:`_AlreadyInLake` when the hash is done and the catalog holds the file;
        never waits (a failed hash is raised later, by :meth:`sha256_and_size`)."""
        if self._asked or not self._digest.done() or self._digest.exception() is not None:
            return
        if self.known() is not None:
            raise _AlreadyInLake

    def close(self) -> None:
        self._pool.shutdown(wait=True)


_catalogs: dict[str, Catalog] = {}

#: glibc malloc: blocks up to this size come from the heap, whose freed memory is kept for the
#: next allocations (above, each block is a fresh mapping, returned to the system when freed).
_HEAP_BLOCK_BYTES = 512 << 20


def _glibc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # another C library: its own allocation rules apply
        return None


def _keep_freed_memory() -> None:
    """Have glibc's malloc keep the memory a file's arrays are freed from for the next arrays,
    instead of unmapping it: the tidy view's per-record arrays (tens of MB each, a GB in all for
    a 200 MB file) otherwise each take a fresh mapping, and the kernel's page faults on it cost
    more CPU than building the view (measured: 2.0 of 3.8 s, in the kernel). Applies to this
    process from now on; :func:`_return_freed_memory` gives the memory back."""
    libc = _glibc()
    if libc is not None and hasattr(libc, "mallopt"):
        m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
        libc.mallopt(m_mmap_threshold, _HEAP_BLOCK_BYTES)
        libc.mallopt(m_trim_threshold, 2 * _HEAP_BLOCK_BYTES)


def _return_freed_memory() -> None:
    """Give the heap's free memory back to the system (after files read in the caller's process)."""
    libc = _glibc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def _worker_catalog(url: str) -> Catalog:
    # One engine per worker process and URL, kept across tasks.
    if url not in _catalogs:
        _catalogs[url] = Catalog(url, migrate=False)
    return _catalogs[url]


def stage_file(path: str, staging_dir: str, database_url: str | None = None,
               window_bytes: int = DEFAULT_WINDOW_BYTES, sources: Sequence[DataSource] | None = None,
               keep: Keep | None = None) -> StagedFile:  # fmt: skip
    """Have the first of ``sources`` (default: the registered ones, :mod:`silicio.lake.sources`)
    that matches ``path`` write its tables as Parquet under ``staging_dir`` and gather its catalog
    facts, while a thread hashes the file: when the catalog at ``database_url`` holds the same
    content, the source is stopped at its next write, what it staged is removed and
    ``known`` says which file it was.

    A damaged file is salvaged by its source: what could be read is kept, with the issues. A
    file no source reads, or whose source read nothing (or failed), gets a quarantine entry and
    no Parquet. Raises ``OSError`` only when the file cannot be read from disk at all. ``keep``:
    the tables (and columns) to keep in memory as written, in ``tables`` (see :func:`ingest`).
    """
    started = time.perf_counter()
    _keep_freed_memory()
    # Arrow's buffers from the same malloc, so that they too reuse freed memory (its default pool
    # hands freed pages back to the system within milliseconds; measured on a 200 MB file: ingest
    # 7.5 -> 6.8 s CPU, a third less time in the kernel).
    pool = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        return _stage_file(path, staging_dir, database_url, window_bytes, sources, started, keep)
    finally:
        pa.set_memory_pool(pool)


def _stage_file(path: str, staging_dir: str, database_url: str | None, window_bytes: int,
                sources: Sequence[DataSource] | None, started: float, keep: Keep | None) -> StagedFile:  # fmt: skip
    content = _Content(path, database_url)
    try:
        staged = StagedFile(path=path, sha256="", size=0)
        sources = available_sources() if sources is None else tuple(sources)
        source = source_for(path, sources)
        read: tuple[SourceData, _StagedTables] | None = None
        if source is None:
            kinds = ", ".join(s.kind for s in sources)
            staged.issues = [SourceIssue(path, 0, None, f"no data source reads this file: neither its name nor "
                                                        f"its content is one of {kinds}")]  # fmt: skip
        else:
            staged.source = source.kind
            read = _read_with(
                source, staged, Path(staging_dir) / uuid.uuid4().hex, window_bytes, content, keep
            )
        try:
            staged.sha256, staged.size = content.sha256_and_size()
            staged.known = content.known()
        except BaseException:  # the file could not be hashed: nothing of it stays staged
            if staged.staging_dir is not None:
                shutil.rmtree(staged.staging_dir, ignore_errors=True)
            raise
    finally:
        content.close()
    if staged.known is not None:  # read in vain (or stopped early): the lake holds it already
        if staged.staging_dir is not None:
            shutil.rmtree(staged.staging_dir, ignore_errors=True)
        staged.staging_dir, staged.staged, staged.lean, staged.source = None, {}, {}, None
        staged.issues, staged.warnings = [], []
    elif read is not None:
        data, tables = read
        staged.staged, staged.lean = tables.staged, tables.lean
        _describe(staged, source.kind, data, tables.parts_table())
        if keep:
            staged.tables = tables.kept_tables()
    if staged.known is None and staged.entry is None:  # nothing readable: quarantined, no Parquet
        staged.entry = CatalogEntry(staged.sha256, path, staged.size, staged.source, file=None,
                                    quarantine=_quarantine_row(staged.issues))  # fmt: skip
    staged.seconds = time.perf_counter() - started
    return staged


def _read_with(source: DataSource, staged: StagedFile, out_dir: Path, window_bytes: int,
               content: _Content, keep: Keep | None = None) -> tuple[SourceData, _StagedTables] | None:  # fmt: skip
    """Have ``source`` read the file into ``out_dir``: its data and tables when it read something
    (the staged Parquet is then in ``out_dir``), else None with ``staged.issues`` saying why.
    Stops early, returning None, once ``content`` knows the catalog holds the file."""
    out_dir.mkdir(parents=True)
    staged.staging_dir = str(out_dir)
    writes = _ParquetWrites()
    tables = _StagedTables(source.kind, out_dir, writes, on_write=content.stop_if_known, keep=keep)
    data: SourceData | None = None
    try:
        try:
            data = source.read(Path(staged.path), tables, window_bytes=window_bytes)
            check_source_data(source, data)
        except _AlreadyInLake:
            data = None
        except Exception as exc:  # a source's bug must not lose the file: quarantine it, say why
            staged.issues = [SourceIssue(staged.path, 0, None,
                                         f"data source {source.kind!r} failed: {type(exc).__name__}: {exc}")]  # fmt: skip
            data = None
        finally:
            tables.close()
    finally:
        writes.finish()
    if data is not None:
        staged.issues = list(data.issues)
        staged.warnings = list(data.warnings)
    if data is None or data.facts is None:
        if not staged.issues:
            staged.issues = [SourceIssue(staged.path, 0, None, f"data source {source.kind!r} read nothing")]
        shutil.rmtree(out_dir, ignore_errors=True)
        staged.staging_dir = None
        return None
    return data, tables


def _describe(staged: StagedFile, kind: str, data: SourceData, parts_table: pa.Table | None) -> None:
    """The catalog entry of a file its source could read: its facts, with part counts, yields and
    wafer rows computed from its ``parts`` table."""
    facts = asdict(data.facts)
    records = facts.pop("records")
    staged.records = sum(records.values())
    staged.partition = Partition.of(facts["product"], facts["lot"], facts["stage"])
    good = 0 if parts_table is None else _good(parts_table)
    file_row = {
        **facts,
        "records": staged.records,
        "parts": 0 if parts_table is None else parts_table.num_rows,
        "good_parts": good,
        **_yield_columns(parts_table),
        "partial": bool(staged.issues),
        "issues": [_issue_dict(i) for i in staged.issues],
        "warnings": [_issue_dict(w) for w in staged.warnings],
    }
    wafer_rows = _wafer_rows(parts_table) if facts["wafers"] else []
    staged.entry = CatalogEntry(
        staged.sha256, staged.path, staged.size, kind, file=file_row, records=records, wafers=wafer_rows,
        quarantine=_quarantine_row(staged.issues) if staged.issues else None, details=dict(data.details),
    )  # fmt: skip


def _good(parts_table: pa.Table) -> int:
    return int(pc.sum(pc.fill_null(parts_table["passed"], False).cast(pa.int64())).as_py() or 0)


def _yield_columns(parts_table: pa.Table | None) -> dict[str, Any]:
    if parts_table is None or parts_table.num_rows == 0:
        return {
            "dies": 0,
            "first_pass_good": 0,
            "final_good": 0,
            "first_pass_yield": None,
            "final_yield": None,
        }
    y = part_yield(parts_table)
    return {"dies": y.dies, "first_pass_good": y.first_pass_good, "final_good": y.final_good,
            "first_pass_yield": y.first_pass_yield, "final_yield": y.final_yield}  # fmt: skip


def _wafer_rows(parts_table: pa.Table | None) -> list[dict[str, Any]]:
    """Parts, good parts and yields per wafer id (null for parts of wafers without an id)."""
    if parts_table is None or parts_table.num_rows == 0:
        return []
    # Only the columns the counts read, grouped once by a stable sort of the wafer codes (a null
    # id is a wafer of its own; codes follow first appearance, so wafers come in file order and
    # each wafer's parts in table order): one filter of the whole table per wafer took 0.2 s
    # CPU for 66 wafers of 140 k parts.
    table = parts_table.select(["wafer_id", "passed", "die_key"])
    coded = pc.dictionary_encode(table["wafer_id"], null_encoding="encode").combine_chunks()
    codes = coded.indices.to_numpy()
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(len(coded.dictionary) + 1))
    grouped = table.take(order)
    rows = []
    for code, wafer_id in enumerate(coded.dictionary.to_pylist()):
        wafer_parts = grouped.slice(starts[code], starts[code + 1] - starts[code])
        rows.append({"wafer_id": wafer_id, "parts": wafer_parts.num_rows, "good_parts": _good(wafer_parts),
                     **_yield_columns(wafer_parts)})  # fmt: skip
    return rows


def _issue_dict(issue: SourceIssue) -> dict[str, Any]:
    return {"offset": issue.offset, "record": issue.record, "reason": issue.reason}


def _quarantine_row(issues: Sequence[SourceIssue]) -> dict[str, Any]:
    first = issues[0]
    return {"offset": first.offset, "record": first.record, "reason": first.reason, "issues": len(issues)}


# --------------------------------------------------------------------------------------------
# Coordinator


@dataclass
class FileOutcome:
    """What became of one file."""

    path: str
    status: str  # INGESTED, PARTIAL, QUARANTINED, SKIPPED or FAILED
    sha256: str | None = None
    size: int = 0
    records: int = 0
    #: Kind of the data source that read the file (None when none reads it, or not read).
    source: str | None = None
    issues: list[SourceIssue] = field(default_factory=list)
    #: What the source found unusual but read in full (the catalog's ``files.warnings``).
    warnings: list[SourceIssue] = field(default_factory=list)
    #: For SKIPPED: the path under which the same content came in before.
    duplicate_of: str | None = None
    #: For FAILED: why (the file could not be opened, a worker died, ...).
    message: str | None = None
    seconds: float = 0.0
    #: INGESTED or PARTIAL, with :func:`ingest`'s ``keep``: the tables it wrote, kept in memory
    #: (those asked for, of their columns asked for; a table over the bound is not there).
    tables: dict[str, pa.Table] | None = field(default=None, repr=False, compare=False)


@dataclass
class Recovery:
    """What :func:`recover` removed."""

    staging_dirs: list[Path] = field(default_factory=list)
    orphans: list[Path] = field(default_factory=list)


@dataclass
class IngestReport:
    outcomes: list[FileOutcome]
    recovery: Recovery
    seconds: float

    def with_status(self, *statuses: str) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status in statuses]

    @property
    def bytes(self) -> int:
        return sum(o.size for o in self.outcomes if o.status in (INGESTED, PARTIAL))

    @property
    def records(self) -> int:
        return sum(o.records for o in self.outcomes if o.status in (INGESTED, PARTIAL))

    @property
    def ok(self) -> bool:
        """Every file was taken in whole, or skipped as already there."""
        return not self.with_status(FAILED, QUARANTINED, PARTIAL)


def expand_paths(paths: Iterable[str | os.PathLike], suffixes: Sequence[str] | None = None,
                 ) -> tuple[list[Path], list[str]]:  # fmt: skip
    """Files named by ``paths`` (files, folders searched recursively for names ending in one of
    ``suffixes``, default those of the registered data sources, globs), absolute (symbolic links
    kept as named: the catalog records the path the user knows) and without repeats; and the
    arguments that matched nothing."""
    suffixes = tuple(s.lower() for s in (folder_suffixes() if suffixes is None else suffixes))
    found: dict[Path, None] = {}
    unmatched: list[str] = []
    for arg in paths:
        text = os.fspath(arg)
        candidates = (
            [Path(text)]
            if Path(text).exists()
            else [Path(p) for p in sorted(glob.glob(text, recursive=True))]
        )
        if not candidates:
            unmatched.append(text)
        for candidate in candidates:
            if candidate.is_dir():
                for f in sorted(candidate.rglob("*")):
                    if f.is_file() and not f.name.startswith(".") and f.name.lower().endswith(suffixes):
                        found[Path(os.path.abspath(f))] = None
            elif candidate.is_file():
                found[Path(os.path.abspath(candidate))] = None
    return list(found), unmatched


def recover(data_dir: str | os.PathLike | None = None, database_url: str | None = None) -> Recovery:
    """Remove what killed ingests left behind: staging directories whose owner is dead, and
    Parquet files the catalog does not name. Safe while other ingests run."""
    layout = LakeLayout.at(data_dir)
    with locked(layout.lock), Catalog(layout.database_url(database_url)) as catalog:
        return _recover(layout, catalog)


def _recover(layout: LakeLayout, catalog: Catalog) -> Recovery:
    """:func:`recover`, the lake lock held."""
    found = Recovery()
    if layout.staging.is_dir():
        for entry in sorted(layout.staging.iterdir()):
            if not entry.is_dir():
                entry.unlink(missing_ok=True)
                continue
            # A live ingest holds its owner lock until it ends; the kernel drops it if it dies.
            with locked(entry / OWNER_LOCK, blocking=False) as dead_owner:
                if dead_owner:
                    shutil.rmtree(entry, ignore_errors=True)
                    found.staging_dirs.append(entry)
    known = catalog.sha256s()
    for path in list(layout.parquet_files()):
        sha256 = sha256_of_parquet(path)
        if sha256 is not None and sha256 not in known:
            path.unlink(missing_ok=True)
            found.orphans.append(path)
    return found


def ingest(
    paths: Iterable[str | os.PathLike],
    data_dir: str | os.PathLike | None = None,
    *,
    database_url: str | None = None,
    workers: int | None = None,
    dask_address: str | None = None,
    window_bytes: int = DEFAULT_WINDOW_BYTES,
    on_start: Callable[[int, int], None] | None = None,
    on_file: Callable[[FileOutcome], None] | None = None,
    keep: Keep | None = None,
) -> IngestReport:
    """Take files into the lake at ``data_dir`` (default ``$SILICIO_DATA`` or ``./data``), each
    read by the registered data source that matches it (:mod:`silicio.lake.sources`).

    Parameters
    ----------
    paths : files, folders (searched recursively for the names data sources take: .stdf, .std,
        .gz, .bz2, .xz, .zip for STDF, and those of plugins) or globs.
    database_url : SQLAlchemy URL of the catalog; default ``$SILICIO_DATABASE_URL``, else
        ``DATA/catalog.sqlite``.
    workers : processes of the local pool; default ``min(cpu count, 4, files)``. With 1 the
        files are read in this process.
    dask_address : run the worker step on this Dask scheduler instead (``tcp://host:8786``); its
        workers must see the data directory and the files at the same paths.
    window_bytes : decompressed bytes each worker decodes at a time (a streaming source's window).
    on_start : called with (files, total bytes) once the files are known.
    on_file : called with each file's :class:`FileOutcome` as it is committed.
    keep : tables to keep in memory as each file wrote them (table name -> the columns, None:
        all), handed back in each ingested file's ``FileOutcome.tables``, so that who reads them
        next (the alert rules at ingest) need not read the files again. Only where the files are
        read in this process (one worker, no Dask); up to 1 GiB of a file's tables (a table
        beyond is left out).

    Returns
    -------
    IngestReport
        One outcome per file, in the order given: ingested, partial (salvaged from damage),
        quarantined (nothing readable, or no data source reads it), skipped (content already in
        the lake) or failed (could not be read from disk). Damage is reported, never raised.

    Raises
    ------
    silicio.lake.sources.SourceRegistryError
        When a registered data source cannot be loaded (before any file is read).
    """
    started = time.perf_counter()
    layout = LakeLayout.at(data_dir)
    layout.root.mkdir(parents=True, exist_ok=True)
    url = layout.database_url(database_url)
    sources = available_sources()  # once: every worker gets the same sources, in the same order
    files, unmatched = expand_paths(paths, folder_suffixes(sources))
    outcomes: dict[int, FileOutcome] = {}
    for text in unmatched:
        outcomes[-len(outcomes) - 1] = FileOutcome(text, FAILED, message="no such file or folder")
    sizes = [_size(f) for f in files]
    if on_start is not None:
        on_start(len(files), sum(sizes))

    with ExitStack() as stack:
        catalog = stack.enter_context(Catalog(url, migrate=False))
        with locked(layout.lock):
            catalog.upgrade()
            recovery = _recover(layout, catalog)
            # Created and locked under the lake lock, so no recovery ever sees it unowned.
            staging = layout.staging / uuid.uuid4().hex
            staging.mkdir(parents=True)
            stack.enter_context(locked(staging / OWNER_LOCK))
        stack.callback(shutil.rmtree, staging, True)

        for index, result in _run(
            files, str(staging), url, workers, dask_address, window_bytes, sources, keep
        ):
            if isinstance(result, BaseException):
                outcome = FileOutcome(str(files[index]), FAILED, size=sizes[index], message=_failure(result))
            else:
                outcome = _commit(layout, catalog, result)
            outcomes[index] = outcome
            if on_file is not None:
                on_file(outcome)
    ordered = [outcomes[k] for k in sorted(outcomes, key=lambda k: (k >= 0, abs(k)))]
    return IngestReport(ordered, recovery, time.perf_counter() - started)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _failure(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return f"{type(exc).__name__}: {exc}"


def _run(files: list[Path], staging: str, url: str, workers: int | None, dask_address: str | None,
         window_bytes: int, sources: tuple[DataSource, ...], keep: Keep | None = None,
         ) -> Iterator[tuple[int, StagedFile | BaseException]]:  # fmt: skip
    """(index, staged file or the exception its worker raised), in completion order."""
    if not files:
        return
    args = [(str(f), staging, url, window_bytes, sources) for f in files]
    if dask_address is not None:
        yield from _run_dask(args, dask_address)
        return
    workers = workers or min(os.cpu_count() or 1, 4)
    workers = max(1, min(workers, len(files)))
    if workers == 1:
        try:
            for index, a in enumerate(args):
                try:
                    yield index, stage_file(*a, keep=keep)
                except Exception as exc:
                    yield index, exc
        finally:
            _return_freed_memory()
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: a fork would copy this process's threads' locks (DuckDB, rich) in a held state.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(stage_file, *a): index for index, a in enumerate(args)}
        for future in as_completed(futures):
            exc = future.exception()
            yield futures[future], exc if exc is not None else future.result()


def _run_dask(args: list[tuple], address: str) -> Iterator[tuple[int, StagedFile | BaseException]]:
    from distributed import Client, as_completed

    with Client(address, set_as_default=False) as client:
        futures = {client.submit(stage_file, *a, pure=False): index for index, a in enumerate(args)}
        for future in as_completed(list(futures), loop=client.loop):
            try:
                yield futures[future], future.result()
            except Exception as exc:
                yield futures[future], exc


def _commit(layout: LakeLayout, catalog: Catalog, staged: StagedFile) -> FileOutcome:
    """Rename the staged Parquet into place and record the file, under the lake lock."""
    outcome = FileOutcome(staged.path, SKIPPED, sha256=staged.sha256, size=staged.size, records=staged.records,
                          source=staged.source, issues=staged.issues, warnings=staged.warnings,
                          seconds=staged.seconds)  # fmt: skip
    tables, staged.tables = staged.tables, None
    try:
        if staged.known is not None:
            outcome.duplicate_of = staged.known.path
            return outcome
        with locked(layout.lock):
            existing = catalog.known(staged.sha256)
            if existing is not None:
                outcome.duplicate_of = existing.path
                return outcome
            placed = []
            try:
                for lean, files in ((False, staged.staged), (True, staged.lean)):
                    for table, staged_path in files.items():
                        target = layout.parquet_path(table, staged.partition, staged.sha256, lean=lean)
                        target.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(staged_path, target)
                        placed.append(target)
                _pause_for_tests()
                existing = catalog.add(staged.entry)
            except BaseException:
                for target in placed:  # not committed: leave no orphan behind
                    target.unlink(missing_ok=True)
                raise
            if existing is not None:  # another host committed the same content meanwhile
                outcome.duplicate_of = existing.path
                return outcome
        if staged.entry.file is None:
            outcome.status = QUARANTINED
        else:
            outcome.status = PARTIAL if staged.entry.file["partial"] else INGESTED
            outcome.tables = tables
        return outcome
    finally:
        if staged.staging_dir is not None:
            shutil.rmtree(staged.staging_dir, ignore_errors=True)


def _pause_for_tests() -> None:
    marker = os.environ.get(PAUSE_BEFORE_COMMIT_ENV)
    if marker:
        Path(marker).touch()
        time.sleep(600)
