"""Data sources: the readers that turn a kind of file into lake tables and catalog facts.

The lake takes in any file a registered data source reads. STDF is the first source
(:class:`silicio.lake.sources.stdf.StdfSource`); an outside package adds one the way silicio
registers its own, with an entry point in the ``silicio.sources`` group named after the kind::

    [project.entry-points."silicio.sources"]
    csv-log = "mypackage.csvlog:CsvLogSource"

The entry point names a :class:`DataSource` subclass (made with no arguments) or an instance.

Writing a source
----------------
:meth:`DataSource.read` writes the file's tables through the :class:`TableWriter` it is given
(a table at a time, or batch by batch so memory stays bounded) and returns a
:class:`SourceData`: the file's facts for the catalog, what was wrong with it, and nothing else.
Tables named ``parts`` and ``tidy`` must have the schemas of :data:`silicio.stdf.parts.PARTS_SCHEMA`
and :data:`silicio.stdf.tidy.TIDY_SCHEMA` (yields, wafer maps and screening read those views); a
source with other kinds of data writes tables of its own, best named after its kind. The lake
derives the catalog's part counts, yields and wafer rows from the ``parts`` table, so a source
never computes them.

Which source reads a file
-------------------------
The sources are tried in a fixed order and the first whose :meth:`~DataSource.matches` says yes
reads the file: every registered kind in name order, then ``stdf`` last, because STDF recognises
files by content (a FAR first) as well as by name, and so is the fallback for names no other
source claims. A file no source matches is quarantined, saying which kinds were tried. A folder
is searched for the names any source lists in :attr:`~DataSource.suffixes`.

The built-in sources (STDF, and KLARF inspection results: :mod:`.klarf`) are there even when the
installed package metadata predates their entry points (an editable install made earlier): a
registry without them gets them added.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from ..catalog import DETAIL_TABLES
from ..layout import FINAL_TEST, INLINE, QA, UNKNOWN_PARTITION, WAFER_SORT

__all__ = [
    "ENTRY_POINT_GROUP",
    "STAGES",
    "DataSource",
    "FileFacts",
    "SourceData",
    "SourceIssue",
    "SourceRegistryError",
    "TableWriter",
    "available_sources",
    "check_source_data",
    "folder_suffixes",
    "source_for",
]

#: Entry-point group data sources are registered in.
ENTRY_POINT_GROUP = "silicio.sources"
#: Kind of the built-in STDF source, tried last.
STDF_KIND = "stdf"
#: Test stages a file may be at (the lake partitions by them).
STAGES = (WAFER_SORT, FINAL_TEST, QA, INLINE, UNKNOWN_PARTITION)

# A kind is stored in the catalog (32 characters) and named in entry points.
_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class SourceRegistryError(ValueError):
    """A registered data source that cannot be used: the message names the entry point."""


@dataclass(frozen=True)
class SourceIssue:
    """Something wrong in a file: where (a byte offset, or a row for a text source; 0 when the
    whole file is concerned), which record when known, and what was expected. Same fields as
    :class:`silicio.stdf.StdfIssue`, which a source may return as is."""

    path: str
    offset: int
    record: str | None
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.path}: at {self.offset}"
            + (f" ({self.record})" if self.record else "")
            + f": {self.reason}"
        )


@dataclass
class FileFacts:
    """What the catalog's ``files`` row says of a file, beyond what the lake derives (size, hash,
    part counts and yields from the ``parts`` table, partial from the issues). Names are the
    catalog's columns."""

    #: Test stage, one of :data:`STAGES` (the lake's partition).
    stage: str
    product: str | None = None
    lot: str | None = None
    sublot: str | None = None
    started: datetime | None = None
    finished: datetime | None = None
    #: Tester model and the tester's name.
    tester_type: str | None = None
    node: str | None = None
    #: Test program, its revision, the operator and the test step code.
    program: str | None = None
    revision: str | None = None
    operator: str | None = None
    test_code: str | None = None
    #: Wafers in the file; with any, the catalog gets a row per wafer id of the parts table.
    wafers: int = 0
    #: Records read, by type as the source names them (STDF: record types; a text log: rows).
    records: dict[str, int] = field(default_factory=dict)


@dataclass
class SourceData:
    """What :meth:`DataSource.read` found besides the tables it wrote.

    ``facts`` is None when nothing of the file could be read: the file is then quarantined with
    the first issue (its tables, if any were written, are dropped). Otherwise a file with issues
    is kept as partial, the issues listed in the catalog. ``details`` are facts only this kind of
    file has; the catalog keeps them in its table for the kind (``stdf_files`` for STDF), and a
    kind without one must leave them empty.
    """

    facts: FileFacts | None
    issues: list[SourceIssue] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    #: What is unusual in the file but was read in full (not damage: the file is not partial);
    #: the catalog keeps them with the file.
    warnings: list[SourceIssue] = field(default_factory=list)


class TableWriter(Protocol):
    """Where a source writes a file's tables: the lake's staging area."""

    def write(self, name: str, data: pa.Table | pa.RecordBatch) -> None:
        """Append ``data`` to the file's table ``name`` (every part of one table has one schema)."""


class DataSource(ABC):
    """A reader of one kind of file; see the module notes. Instances travel to worker
    processes, so a source keeps no open handles between calls and pickles."""

    #: Short name stored in the catalog's ``source`` column; the entry point's name.
    kind: str = ""
    #: Name endings (lower case) taken when a folder is searched, e.g. ``(".csv",)``.
    suffixes: tuple[str, ...] = ()

    @abstractmethod
    def matches(self, path: Path) -> bool:
        """Whether this source reads ``path``: by its name and / or its first bytes. Cheap (it
        runs on every file before any is read) and never raises for a file it does not read."""

    @abstractmethod
    def read(self, path: Path, out: TableWriter, *, window_bytes: int) -> SourceData:
        """Write the tables of ``path`` to ``out`` and return its facts and issues.

        ``window_bytes`` bounds the bytes a streaming reader holds at a time; a reader of
        small files may ignore it. Damage that leaves something readable is reported in the
        issues, not raised; an exception quarantines the file with its message.
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind!r}>"


def available_sources() -> tuple[DataSource, ...]:
    """The registered data sources, in the order files are matched (see the module notes)."""
    from .klarf import KlarfSource
    from .stdf import StdfSource

    found: dict[str, DataSource] = {}
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value)):
        source = _loaded(entry_point)
        other = found.get(source.kind)
        if other is not None and type(other) is not type(source):
            raise SourceRegistryError(
                f"data source kind {source.kind!r} is registered twice: {type(other).__qualname__} and "
                f"{entry_point.value}; uninstall one of them"
            )
        found[source.kind] = source
    # package metadata older than the entry points of the built-in sources
    found.setdefault(STDF_KIND, StdfSource())
    found.setdefault(KlarfSource.kind, KlarfSource())
    return (*(found[k] for k in sorted(found) if k != STDF_KIND), found[STDF_KIND])


def source_for(path: str | Path, sources: Sequence[DataSource] | None = None) -> DataSource | None:
    """The first of ``sources`` (default: :func:`available_sources`) that reads ``path``."""
    path = Path(path)
    for source in available_sources() if sources is None else sources:
        if source.matches(path):
            return source
    return None


def folder_suffixes(sources: Iterable[DataSource] | None = None) -> tuple[str, ...]:
    """Name endings a folder is searched for: those of every source."""
    chosen = available_sources() if sources is None else sources
    return tuple(dict.fromkeys(s.lower() for source in chosen for s in source.suffixes))


def check_source_data(source: DataSource, data: SourceData) -> None:
    """Raise ValueError, naming the source, when ``data`` breaks the rules of :class:`SourceData`."""
    if not isinstance(data, SourceData):
        raise ValueError(f"data source {source.kind!r} returned {type(data).__name__}, expected SourceData")
    facts = data.facts
    if facts is not None and not isinstance(facts, FileFacts):
        raise ValueError(
            f"data source {source.kind!r} gave {type(facts).__name__} as facts, expected FileFacts"
        )
    if data.details and source.kind not in DETAIL_TABLES:
        raise ValueError(
            f"data source {source.kind!r} gave details, but the catalog keeps details only for "
            f"{', '.join(sorted(DETAIL_TABLES))} files"
        )
    if facts is not None and facts.stage not in STAGES:
        raise ValueError(
            f"data source {source.kind!r} gave stage {facts.stage!r}; expected one of {', '.join(STAGES)}"
        )


def _loaded(entry_point: EntryPoint) -> DataSource:
    where = f"entry point {entry_point.name} = {entry_point.value!r} in group {ENTRY_POINT_GROUP}"
    try:
        loaded = entry_point.load()
        source = loaded() if isinstance(loaded, type) else loaded
    except Exception as exc:
        raise SourceRegistryError(f"{where}: cannot load: {type(exc).__name__}: {exc}") from None
    if not isinstance(source, DataSource):
        raise SourceRegistryError(
            f"{where}: {type(source).__name__} is not a silicio.lake.sources.DataSource"
        )
    if not isinstance(source.kind, str) or not _KIND.match(source.kind):
        raise SourceRegistryError(
            f"{where}: kind {source.kind!r} must be 1 to 32 lower-case letters, digits, '-' or '_', "
            "starting with a letter"
        )
    if source.kind != entry_point.name:
        raise SourceRegistryError(f"{where}: the entry point must be named after the kind, {source.kind!r}")
    return source
