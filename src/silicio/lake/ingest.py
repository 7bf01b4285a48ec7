"""Take STDF files into the lake: Parquet partitions plus catalog rows, once, safely, in parallel.

Each file goes through two steps:

1. :func:`stage_file` (a worker: in this process, a process pool or a Dask cluster) hashes the
   file, streams its record batches into one Parquet file per record type in the ingest's
   staging directory (memory bounded by the reader's window), builds the ``tidy`` and ``parts``
   views and the catalog facts, and returns them. It never touches ``parquet/`` or the catalog.
2. The coordinator (this process, one at a time under the lake lock) skips content the catalog
   already holds, renames the staged files into ``parquet/`` and records the file in the catalog
   in one transaction.

A process killed at any moment leaves either staged files (removed with their staging
directory once its owner is dead) or renamed files no catalog row names (orphans, removed);
:func:`recover` does both, and every ingest runs it first. Files are named by content hash, so
two ingests of the same content write the same paths and the catalog's unique SHA-256 decides
which one records it.

Limit: the ``tidy`` and ``parts`` views need all of a file's test records (PTR, MPR, FTR) and
part records in memory at once, so a worker holds those of one file; the other record types
stream through a window at a time.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from silicio.stdf import StdfError, StdfIssue, stream, tidy
from silicio.stdf.reader import DEFAULT_WINDOW_BYTES
from silicio.stdf.summary import summarize

from .catalog import Catalog, CatalogEntry, KnownFile
from .layout import (
    OWNER_LOCK,
    PARTS_TABLE,
    TIDY_TABLE,
    LakeLayout,
    Partition,
    infer_stage,
    locked,
    sha256_of_parquet,
)

#: Name suffixes of the files a folder is searched for (compressed ones included).
STDF_SUFFIXES = (".stdf", ".std", ".gz", ".bz2", ".xz", ".zip")
#: Test hook: when set to a path, the coordinator creates that file after renaming a file's
#: Parquet into place and waits before committing the catalog, so a test can kill it there.
PAUSE_BEFORE_COMMIT_ENV = "SILICIO_LAKE_PAUSE_BEFORE_COMMIT"

# Record types the views and the summary need whole; every other type only streams through.
_KEPT_TYPES = frozenset({"FAR", "MIR", "MRR", "SDR", "VUR", "WIR", "WRR", "PIR", "PRR", "PTR", "MPR", "FTR"})
_HASH_CHUNK = 8 * 1024 * 1024
# Dictionary pages pay off for text (test names, units: few distinct values), not for measured
# numbers; LZ4 writes as fast as Snappy and smaller (measured on synthetic wafer sort).
_COMPRESSION = "lz4"


def _parquet_options(schema: pa.Schema) -> dict[str, Any]:
    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_binary(f.type)]
    return {"compression": _COMPRESSION, "use_dictionary": text}


# Outcome of a file.
INGESTED = "ingested"
PARTIAL = "partial"
QUARANTINED = "quarantined"
SKIPPED = "skipped"
FAILED = "failed"


# --------------------------------------------------------------------------------------------
# Worker step


class _ParquetWrites:
    """Parquet writes of one file on a thread of their own, in the order given, so that encoding
    and compressing the record tables overlaps the tidy and parts views being built (pyarrow
    writes without the GIL). At most ``max_pending`` writes wait, which bounds the batches held."""

    def __init__(self, max_pending: int = 8):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="silicio-parquet")
        self._pending: deque[Future] = deque()
        self._max_pending = max_pending

    def submit(self, function: Callable, *args, **kwargs) -> None:
        self._pending.append(self._pool.submit(function, *args, **kwargs))
        while len(self._pending) > self._max_pending:
            self._pending.popleft().result()

    def finish(self) -> None:
        """Wait for every write; the first that failed raises here."""
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pool.shutdown(wait=True)


@dataclass
class StagedFile:
    """What :func:`stage_file` made of one file; small, so it travels back from any worker."""

    path: str
    sha256: str
    size: int
    records: int = 0
    #: Table name -> Parquet file in the staging directory.
    staged: dict[str, str] = field(default_factory=dict)
    staging_dir: str | None = None
    partition: Partition | None = None
    entry: CatalogEntry | None = None
    issues: list[StdfIssue] = field(default_factory=list)
    #: Set instead of the rest when the catalog already held this content.
    known: KnownFile | None = None
    seconds: float = 0.0


def file_sha256(path: str | os.PathLike) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


_catalogs: dict[str, Catalog] = {}


def _worker_catalog(url: str) -> Catalog:
    # One engine per worker process and URL, kept across tasks.
    if url not in _catalogs:
        _catalogs[url] = Catalog(url, migrate=False)
    return _catalogs[url]


def stage_file(path: str, staging_dir: str, database_url: str | None = None,
               window_bytes: int = DEFAULT_WINDOW_BYTES) -> StagedFile:  # fmt: skip
    """Hash ``path``, and unless the catalog at ``database_url`` holds it already, write its
    tables as Parquet under ``staging_dir`` and gather its catalog facts.

    A damaged file is read in salvage mode: what precedes (and follows) the damage is kept and
    the reader's issues are returned. A file that is not STDF at all gets a quarantine entry and
    no Parquet. Raises ``OSError`` only when the file cannot be read from disk at all.
    """
    started = time.perf_counter()
    sha256, size = file_sha256(path)
    staged = StagedFile(path=path, sha256=sha256, size=size)
    if database_url is not None:
        staged.known = _worker_catalog(database_url).known(sha256)
        if staged.known is not None:
            staged.seconds = time.perf_counter() - started
            return staged
    out_dir = Path(staging_dir) / uuid.uuid4().hex
    out_dir.mkdir(parents=True)
    staged.staging_dir = str(out_dir)
    writes = _ParquetWrites()
    try:
        counts, kept, fatal, readable = _stream_to_parquet(path, out_dir, window_bytes, staged, writes)
        staged.records = sum(counts.values())
        if fatal is not None:
            staged.issues.append(fatal)
        if readable:
            tables = {name: pa.Table.from_batches(batches) for name, batches in kept.items()}
            del kept
            _describe(staged, tables, counts, out_dir, writes)
    finally:
        writes.finish()
    if not readable:
        shutil.rmtree(out_dir, ignore_errors=True)
        staged.staged, staged.staging_dir = {}, None
        staged.entry = CatalogEntry(sha256, path, size, file=None, quarantine=_quarantine_row(staged.issues))
    staged.seconds = time.perf_counter() - started
    return staged


def _stream_to_parquet(path: str, out_dir: Path, window_bytes: int, staged: StagedFile, writes: _ParquetWrites):
    """Stream every record batch of ``path`` into ``out_dir/<TYPE>.parquet``. Returns the
    record counts, the batches of the kept types, the error that stopped reading (or None) and
    whether the file could be read at all."""
    counts: Counter[str] = Counter()
    kept: dict[str, list[pa.RecordBatch]] = {}
    writers: dict[str, pq.ParquetWriter] = {}
    reader = stream(path, strict=False, window_bytes=window_bytes)
    fatal: StdfIssue | None = None
    try:
        for name, batch in reader:
            if batch.num_rows == 0:
                continue
            writer = writers.get(name)
            if writer is None:
                target = out_dir / f"{name}.parquet"
                writer = writers[name] = pq.ParquetWriter(
                    target, batch.schema, **_parquet_options(batch.schema)
                )
                staged.staged[name] = str(target)
            writes.submit(writer.write_batch, batch)
            counts[name] += batch.num_rows
            if name in _KEPT_TYPES:
                kept.setdefault(name, []).append(batch)
    except StdfError as exc:  # not STDF, or damage salvage cannot step over (e.g. a corrupt gzip)
        fatal = exc.issue
    except Exception as exc:  # a reader bug must not lose the file: quarantine it, say why
        fatal = StdfIssue(reader.path, 0, None, f"reader failed: {type(exc).__name__}: {exc}")
    finally:
        for writer in writers.values():
            writes.submit(writer.close)
    staged.issues = list(reader.issues)
    return counts, kept, fatal, reader.byteorder is not None


def _describe(staged: StagedFile, tables: dict[str, pa.Table], counts: Counter[str], out_dir: Path,
              writes: _ParquetWrites) -> None:  # fmt: skip
    """Build the derived views and the catalog entry of a file that could be read."""
    from silicio.stdf.parts import part_yield, parts

    summary = summarize(tables, staged.path)
    view_issues: list[StdfIssue] = []
    parts_table = _derived(parts, tables, "parts", staged.path, view_issues)
    tidy_table = _derived(tidy, tables, "tidy", staged.path, view_issues)
    for name, table in ((PARTS_TABLE, parts_table), (TIDY_TABLE, tidy_table)):
        if table is not None and table.num_rows:
            target = out_dir / f"{name}.parquet"
            writes.submit(pq.write_table, table, target, **_parquet_options(table.schema))
            staged.staged[name] = str(target)
    staged.issues += view_issues

    has_wafer_records = bool(counts.get("WIR") or counts.get("WRR"))
    has_coordinates = (
        parts_table is not None
        and parts_table.num_rows > 0
        and parts_table["x"].null_count < parts_table.num_rows
    )
    stage = infer_stage(summary.test_code, has_wafer_records, has_coordinates, summary.parts)
    staged.partition = Partition.of(summary.part_type, summary.lot_id, stage)
    overall = _yield_columns(parts_table, part_yield)
    file_row = {
        "stdf_version": summary.stdf_version,
        "byte_order": summary.byte_order,
        "tester_type": summary.tester_type,
        "node": summary.tester_node,
        "program": summary.program,
        "revision": summary.program_revision,
        "operator": summary.operator,
        "test_code": summary.test_code,
        "started": summary.started,
        "finished": summary.finished,
        "product": summary.part_type,
        "lot": summary.lot_id,
        "sublot": summary.sublot_id,
        "stage": stage,
        "wafers": summary.wafer_count,
        "records": sum(counts.values()),
        "parts": summary.parts,
        "good_parts": summary.good_parts,
        **overall,
        "partial": bool(staged.issues),
        "issues": [_issue_dict(i) for i in staged.issues],
    }
    wafer_rows = _wafer_rows(parts_table, part_yield) if has_wafer_records else []
    staged.entry = CatalogEntry(
        staged.sha256, staged.path, staged.size, file=file_row, records=dict(counts), wafers=wafer_rows,
        quarantine=_quarantine_row(staged.issues) if staged.issues else None,
    )  # fmt: skip


def _derived(function: Callable[[Any], pa.Table], tables, name: str, path: str, issues: list[StdfIssue]):
    # A view that cannot be built is reported with the file, never a reason to lose the file.
    try:
        return function(tables)
    except Exception as exc:
        issues.append(StdfIssue(path, 0, None, f"{name} view not built: {type(exc).__name__}: {exc}"))
        return None


def _yield_columns(parts_table: pa.Table | None, part_yield) -> dict[str, Any]:
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


def _wafer_rows(parts_table: pa.Table | None, part_yield) -> list[dict[str, Any]]:
    """Parts, good parts and yields per wafer id (null for parts of wafers without an id)."""
    if parts_table is None or parts_table.num_rows == 0:
        return []
    ids = parts_table["wafer_id"]
    rows = []
    for wafer_id in dict.fromkeys(ids.to_pylist()):  # file order
        mask = pc.is_null(ids) if wafer_id is None else pc.fill_null(pc.equal(ids, wafer_id), False)
        wafer_parts = parts_table.filter(mask)
        good = int(pc.sum(pc.fill_null(wafer_parts["passed"], False).cast(pa.int64())).as_py() or 0)
        rows.append({"wafer_id": wafer_id, "parts": wafer_parts.num_rows, "good_parts": good,
                     **_yield_columns(wafer_parts, part_yield)})  # fmt: skip
    return rows


def _issue_dict(issue: StdfIssue) -> dict[str, Any]:
    return {"offset": issue.offset, "record": issue.record, "reason": issue.reason}


def _quarantine_row(issues: Sequence[StdfIssue]) -> dict[str, Any]:
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
    issues: list[StdfIssue] = field(default_factory=list)
    #: For SKIPPED: the path under which the same content came in before.
    duplicate_of: str | None = None
    #: For FAILED: why (the file could not be opened, a worker died, ...).
    message: str | None = None
    seconds: float = 0.0


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


def expand_paths(paths: Iterable[str | os.PathLike]) -> tuple[list[Path], list[str]]:
    """Files named by ``paths`` (files, folders searched recursively for STDF names, globs),
    absolute (symbolic links kept as named: the catalog records the path the user knows) and
    without repeats; and the arguments that matched nothing."""
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
                    if f.is_file() and not f.name.startswith(".") and f.name.lower().endswith(STDF_SUFFIXES):
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
) -> IngestReport:
    """Take STDF files into the lake at ``data_dir`` (default ``$SILICIO_DATA`` or ``./data``).

    Parameters
    ----------
    paths : files, folders (searched recursively for .stdf, .std, .gz, .bz2, .xz, .zip) or globs.
    database_url : SQLAlchemy URL of the catalog; default ``$SILICIO_DATABASE_URL``, else
        ``DATA/catalog.sqlite``.
    workers : processes of the local pool; default ``min(cpu count, 4, files)``. With 1 the
        files are read in this process.
    dask_address : run the worker step on this Dask scheduler instead (``tcp://host:8786``); its
        workers must see the data directory and the files at the same paths.
    window_bytes : decompressed bytes each worker decodes at a time (the reader's window).
    on_start : called with (files, total bytes) once the files are known.
    on_file : called with each file's :class:`FileOutcome` as it is committed.

    Returns
    -------
    IngestReport
        One outcome per file, in the order given: ingested, partial (salvaged from damage),
        quarantined (nothing readable), skipped (content already in the lake) or failed (could
        not be read from disk). Damage is reported, never raised.
    """
    started = time.perf_counter()
    layout = LakeLayout.at(data_dir)
    layout.root.mkdir(parents=True, exist_ok=True)
    url = layout.database_url(database_url)
    files, unmatched = expand_paths(paths)
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

        for index, result in _run(files, str(staging), url, workers, dask_address, window_bytes):
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
         window_bytes: int) -> Iterator[tuple[int, StagedFile | BaseException]]:  # fmt: skip
    """(index, staged file or the exception its worker raised), in completion order."""
    if not files:
        return
    args = [(str(f), staging, url, window_bytes) for f in files]
    if dask_address is not None:
        yield from _run_dask(args, dask_address)
        return
    workers = workers or min(os.cpu_count() or 1, 4)
    workers = max(1, min(workers, len(files)))
    if workers == 1:
        for index, a in enumerate(args):
            try:
                yield index, stage_file(*a)
            except Exception as exc:
                yield index, exc
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
                          issues=staged.issues, seconds=staged.seconds)  # fmt: skip
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
                for table, source in staged.staged.items():
                    target = layout.parquet_path(table, staged.partition, staged.sha256)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(source, target)
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
        return outcome
    finally:
        if staged.staging_dir is not None:
            shutil.rmtree(staged.staging_dir, ignore_errors=True)


def _pause_for_tests() -> None:
    marker = os.environ.get(PAUSE_BEFORE_COMMIT_ENV)
    if marker:
        Path(marker).touch()
        time.sleep(600)
