"""How the lake lays out its part of the data directory (:mod:`silicio.datadir` names every
place): Parquet partitions, staging, the lock and the default catalog.

::

    DATA/
      catalog.sqlite                      the catalog (unless SILICIO_DATABASE_URL names another)
      .lake.lock                          held while committing and while recovering
      .staging/<uuid>/                    one per running ingest, with its owner.lock
      parquet/<TABLE>/product=<p>/lot=<l>/stage=<s>/<sha256>.parquet
      parquet/<TABLE>/product=<p>/lot=<l>/stage=<s>/<sha256>_lean.parquet   (some record tables)

``TABLE`` is a record type (``PTR``, ``PRR``, ...) or a derived view (``tidy``, ``parts``).
Each Parquet file is named by the SHA-256 of the STDF file it comes from, so the catalog knows
every file the lake should hold and anything else under ``parquet/`` is an orphan.

A record table with sparse columns (null on nearly every row, e.g. a PTR's limits, units and
formats, which only a test's first PTR carries) spreads one source file's rows over two files:
``<sha256>.parquet`` holds the rows with a value in a sparse column, with every column (it is
written even without a row: the table's full schema is always in the lake), and
``<sha256>_lean.parquet`` the other rows without the sparse columns (Parquet costs as much
for a null as for a value; :class:`silicio.lake.ingest._StagedTables` decides which columns).
Each file keeps the source's order; ``seq`` orders the rows of both. The name sorts the full
file first, so readers that take the schema of the first file see every column. Read a table
as the union of its files by column name, the lean rows' sparse columns null::

    -- DuckDB (the lake's views do this)
    SELECT * FROM read_parquet('DATA/parquet/PTR/**/*.parquet', hive_partitioning = true,
                               union_by_name = true)

    # polars: the schema of the first file (a full one), missing columns inserted as nulls
    pl.scan_parquet("DATA/parquet/PTR/**/*.parquet", hive_partitioning=True, missing_columns="insert")

    # pyarrow: give the full schema (a full file's, with the partition fields)
    folder = ds.dataset("DATA/parquet/PTR", format="parquet", partitioning="hive")
    full = pq.read_schema(next(f for f in folder.files if not f.endswith(LEAN_SUFFIX)))
    schema = pa.unify_schemas([full, folder.partitioning.schema])
    table = ds.dataset("DATA/parquet/PTR", format="parquet", partitioning="hive", schema=schema).to_table()

A table smaller than a row group, a table without sparse columns, and the ``tidy`` and
``parts`` views are one file each.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from silicio.datadir import DataDir

#: Lock file inside each staging folder, held by the ingest that owns it.
OWNER_LOCK = "owner.lock"

#: Derived views written beside the record types.
TIDY_TABLE = "tidy"
PARTS_TABLE = "parts"

#: Rows per Parquet row group. DuckDB scans a file's row groups in parallel, one per thread, and
#: writes 122,880 rows to a group itself; the reader's windows give groups of any size (a few
#: thousand PIRs), so each table's batches are gathered up to this many rows first.
ROW_GROUP_ROWS = 122_880

#: Name ending of a table's lean file (``<sha256>_lean.parquet``): the source file's rows
#: without a value in the table's sparse columns, without those columns (see the module notes).
LEAN_SUFFIX = "_lean.parquet"

#: Partition value of a field the file leaves empty.
UNKNOWN_PARTITION = "_unknown"
#: Longest partition value kept (file systems limit a name to 255 bytes).
MAX_PARTITION_CHARS = 100

# Test stages, as partition values.
WAFER_SORT = "wafer_sort"
FINAL_TEST = "final_test"
QA = "qa"
#: Inline inspection between process steps (KLARF defect files), before any test.
INLINE = "inline"

# MIR.TEST_COD is free text (spec, MIR: "test phase or step code"); these prefixes are the
# usual ones. QA first: a QA sample is retested at final test and may carry "FT" as well.
_QA_CODES = ("QA", "QC", "QUAL")
_WAFER_SORT_CODES = ("WS", "WT", "CP", "PRB", "PROBE", "SORT", "EWS")
_FINAL_TEST_CODES = ("FT", "FIN", "PT", "BI")

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def partition_value(text: str | None) -> str:
    """A field's text made safe as a directory name: runs of other characters than letters,
    digits and ``._+-`` become ``_``; empty becomes ``_unknown``. The catalog keeps the text
    as the file has it; this is only the directory."""
    cleaned = _UNSAFE.sub("_", (text or "").strip()).strip("_")[:MAX_PARTITION_CHARS]
    if cleaned in ("", ".", ".."):
        return UNKNOWN_PARTITION
    return cleaned


def infer_stage(test_code: str | None, wafer_records: bool, die_coordinates: bool, parts: int) -> str:
    """The test stage of a file: ``wafer_sort``, ``final_test``, ``qa`` or ``_unknown``.

    The STDF specification has no stage field, so it is inferred, first rule that applies:

    1. MIR.TEST_COD starting with QA, QC or QUAL -> ``qa``;
    2. WIR or WRR records (spec: wafer information, written at wafer sort) -> ``wafer_sort``;
    3. MIR.TEST_COD starting with WS, WT, CP, PRB, PROBE, SORT or EWS -> ``wafer_sort``;
       with FT, FIN, PT or BI -> ``final_test``;
    4. parts with die coordinates (PRR X_COORD / Y_COORD) -> ``wafer_sort``;
    5. any part tested (PRR) -> ``final_test``;
    6. otherwise ``_unknown``.
    """
    code = (test_code or "").strip().upper()
    if code.startswith(_QA_CODES):
        return QA
    if wafer_records:
        return WAFER_SORT
    if code.startswith(_WAFER_SORT_CODES):
        return WAFER_SORT
    if code.startswith(_FINAL_TEST_CODES):
        return FINAL_TEST
    if die_coordinates:
        return WAFER_SORT
    if parts:
        return FINAL_TEST
    return UNKNOWN_PARTITION


@dataclass(frozen=True)
class Partition:
    """The hive partition of one file's tables."""

    product: str
    lot: str
    stage: str

    @classmethod
    def of(cls, product: str | None, lot: str | None, stage: str) -> Partition:
        return cls(partition_value(product), partition_value(lot), partition_value(stage))

    def directory(self) -> Path:
        return Path(f"product={self.product}") / f"lot={self.lot}" / f"stage={self.stage}"


@dataclass(frozen=True)
class LakeLayout:
    """The lake's paths in a data directory (their names: :mod:`silicio.datadir`)."""

    root: Path

    @classmethod
    def at(cls, data_dir: str | os.PathLike | None = None) -> LakeLayout:
        return cls(DataDir.at(data_dir).root)

    @property
    def _data_dir(self) -> DataDir:
        return DataDir(self.root)

    @property
    def parquet(self) -> Path:
        return self._data_dir.parquet

    @property
    def staging(self) -> Path:
        return self._data_dir.staging

    @property
    def lock(self) -> Path:
        return self._data_dir.lock

    def default_database_url(self) -> str:
        return self._data_dir.default_database_url()

    def database_url(self, url: str | None = None) -> str:
        """``url``, else ``SILICIO_DATABASE_URL``, else SQLite in the data directory."""
        return self._data_dir.database_url(url)

    def table_dir(self, table: str) -> Path:
        return self.parquet / table

    def parquet_path(self, table: str, partition: Partition, sha256: str, *, lean: bool = False) -> Path:
        """A table's file of the source file ``sha256``: the full one, or the ``lean`` one."""
        return (
            self.table_dir(table) / partition.directory() / f"{sha256}{LEAN_SUFFIX if lean else '.parquet'}"
        )

    def parquet_paths(self, table: str, partition: Partition, sha256: str) -> list[Path]:
        """The files of ``table`` the source file ``sha256`` has: none, the full one, or both."""
        return [
            p
            for lean in (False, True)
            if (p := self.parquet_path(table, partition, sha256, lean=lean)).is_file()
        ]

    def parquet_files(self) -> Iterator[Path]:
        """Every ``*.parquet`` under ``parquet/``, whatever its name."""
        if self.parquet.is_dir():
            yield from self.parquet.rglob("*.parquet")

    def tables(self) -> list[str]:
        """Tables with at least one Parquet file, by name."""
        if not self.parquet.is_dir():
            return []
        return sorted(p.name for p in self.parquet.iterdir() if p.is_dir() and any(p.rglob("*.parquet")))


def sha256_of_parquet(path: Path) -> str | None:
    """The STDF file's SHA-256 a lake Parquet file (full or lean) is named by; None for a
    foreign name."""
    stem = (
        path.name.removesuffix(LEAN_SUFFIX)
        if path.name.endswith(LEAN_SUFFIX)
        else path.name.removesuffix(".parquet")
    )
    return stem if _SHA256.match(stem) else None


@contextmanager
def locked(path: Path, *, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing). Yields False, without
    the lock, when ``blocking`` is off and another process holds it. The kernel releases the
    lock when its holder dies, however it dies: that is what makes a SIGKILL recoverable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
