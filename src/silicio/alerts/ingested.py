"""The facts the built-in rules read, taken from what an ingest brought in rather than from the
whole lake: the catalog rows of the ingested files and their lots (SQLAlchemy), each new lot's
parts and test results from the Parquet its one file wrote (pyarrow), the stored lot-history
versions its SYL / SBL and static PAT limits come from (read once per program, shared by the
rules). No DuckDB connection is opened, which binds every file of the lake before its first
query and costs more than a small lot's rules.

The rules run at every ingest, so their cost is measured against the ingest's
(``benchmarks/alerts_bench.py``): the lot's results are read once, on the calling thread, in the
order stored, by pyarrow with the texts dictionary-encoded (each distinct text looked at once)
and taken as numpy arrays as stored, chunk by chunk (no column copied into one array); the PAT
count is one compiled pass over them (the results judged, each one's static limit row found by its
test number, the limits compared, each group's dynamic population summed), then two over each
row's group and value (the squared deviations, the dynamic limits). The stored lot history
(versions, static PAT limits) is read once a process while it is unchanged (:func:`stored_history`),
and a version's limits made ready for the count once (:func:`_static_rows`). The lot's counts (bin
counts, final yields, wafer maps) are compiled passes, numpy or a polars Series' own sums over the
parts' columns, not polars frame operations: each of those wakes polars' threads, which cost more
CPU than a lot's count. The few catalog rows (files, lots, limits) are grouped in Python, not in frames, through
a catalog kept for the process (:func:`kept_catalog`: its statements compiled once a process).

Every fact equals what the lake's queries give (tests/alerts/test_fast_path.py compares the two
ways on lots where every built-in rule fires); where this way cannot give the same one it says
so by returning None and the caller takes the lake's way:

* a lot with more than one file at its stage (a retest file, or an earlier file in the lake):
  which insertion of a die is final is the lake's retest rule across files
  (:mod:`silicio.lake.queries.insertions`); its parts and results are read through DuckDB;
* a lot with no stored lot-history version computed from lots before it (a lot tested before
  the newest of its program, as the evaluation stores a program's first version itself:
  :meth:`~silicio.alerts.base.AlertContext.establish_limits`) and at least ``min_lots`` earlier
  lots: its SYL / SBL limits are computed now from the earlier lots' final dies, which only the
  lake has (with fewer, the lot is noted as not judged from the catalog's lots: no lake read);
* a PAT recipe this module does not count itself (another rule of the PAT family, per-lot
  static limits, dynamic limits centred on the median, a quantile method other than numpy's
  "linear" or ``iqr_zero = "resolution"``): the lot is screened with :func:`silicio.yields.screen`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numba as nb
import numpy as np
import polars as pl
import pyarrow as pa

if TYPE_CHECKING:
    from ._kept import KeptCatalog

__all__ = ["KEPT_AT_INGEST", "PAT_COLUMNS", "IngestedLots", "pat_share_of_lot"]

#: The tidy columns :func:`pat_share_of_lot` reads.
PAT_COLUMNS = ("lot_id", "wafer_id", "part_index", "test_num", "test_name", "pin", "test_type", "result", "lo_limit",
               "hi_limit", "part_passed", "is_last_test", "test_flg")  # fmt: skip

#: What the rules read of an ingest's files, for :func:`silicio.lake.ingest`'s ``keep``: the
#: ingest hands them over in memory (``FileOutcome.tables``) and the rules read no file again.
KEPT_AT_INGEST = {"parts": None, "tidy": PAT_COLUMNS}


#: Catalogs kept for the process, by URL (the newest few): see :func:`kept_catalog`.
_KEPT_CATALOGS: dict[str, KeptCatalog] = {}
_KEPT_MAX = 4


def kept_catalog(url: str) -> KeptCatalog:
    """A catalog on the catalog database at ``url`` kept for the process: the next evaluation on
    the same database (``silicio ingest --watch``, the bench's lots, the web app) reuses its
    engine, so its statements are compiled once a process, not once a lot (SQLAlchemy keeps
    compiled statements per engine: ~1 ms a statement on SQLite), the schema is migrated
    (checked) once a process, and its connection is kept between evaluations (a SQLite
    connection opened anew reads the schema again at its first statement: ~1 ms a lot)."""
    from ._kept import KeptCatalog

    catalog = _KEPT_CATALOGS.pop(url, None)
    if catalog is None:
        catalog = KeptCatalog(url)
    _KEPT_CATALOGS[url] = catalog  # the newest last
    while len(_KEPT_CATALOGS) > _KEPT_MAX:
        _KEPT_CATALOGS.pop(next(iter(_KEPT_CATALOGS))).release()
    return catalog


#: The stored lot history read by this process: (catalog URL, its newest history write) -> what
#: was read under it (:func:`stored_history`); the newest few.
_STORED_HISTORY: dict[tuple, dict[str, Any]] = {}


def stored_history(catalog, marker: tuple | None) -> dict[str, Any]:
    """What this process has read of the catalog's stored lot history (each baseline's versions,
    as rows and as :class:`~silicio.yields.history.Baseline`, and each version's static PAT
    limits), valid while the history's newest write (``marker``, read before any of it:
    :func:`silicio.lake.queries.alerts.history_marker`; every write, an update, a freeze or an
    unfreeze, logs one in its transaction) is the same: a line that evaluates the rules at every
    ingest reads a version's limits once, not once a lot, and ``silicio limits update`` (or a
    freeze) in any process makes the next evaluation read them again. ``written``: whether the
    history has had a write (none: no version to read)."""
    key = (catalog.url, marker)
    held = _STORED_HISTORY.pop(key, None)
    if held is None:
        held = {"written": marker is not None, "versions": {}, "pat": {}}
    _STORED_HISTORY[key] = held  # the newest last
    while len(_STORED_HISTORY) > _KEPT_MAX:
        _STORED_HISTORY.pop(next(iter(_STORED_HISTORY)))
    return held


@dataclass
class IngestedLots:
    """The catalog's files of the lots an ingest touched (:func:`silicio.lake.queries.alerts.ingested_files`),
    and what is read from them once: each lot's file tables and each program's stored versions.
    ``catalog``: the process's kept catalog on the lake's database (:func:`kept_catalog`)."""

    lake: Any
    #: the files as rows (a few per lot: the lots are grouped and sorted in Python)
    _rows: list[dict[str, Any]]
    catalog: Any = None
    #: SHA-256 -> the tables the ingest kept in memory of that file (``FileOutcome.tables``)
    kept: dict[str, dict[str, pa.Table]] = field(default_factory=dict, repr=False)
    _tables: dict[tuple, Any] = field(default_factory=dict, repr=False)
    _baselines: dict[Any, tuple] = field(default_factory=dict, repr=False)
    #: the stored lot history's newest write, read with the files (:func:`stored_history`)
    history_marker: tuple | None = None
    #: the process's stored versions read under it (:func:`stored_history`)
    _history: dict[str, dict] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, lake, sha256s: list[str], kept: dict[str, dict[str, pa.Table]] | None = None) -> IngestedLots:
        """The files of the lots of files ``sha256s``; ``kept``: the tables the ingest kept of
        them in memory, by SHA-256 (read from the files otherwise)."""
        from silicio.lake.queries import alerts as queries

        catalog = kept_catalog(lake.catalog.url)
        with catalog.engine.connect() as connection:  # the files and the history's newest write: one checkout
            rows, marker = queries.ingested_file_rows(connection, sha256s), queries.history_marker(connection)
        return cls(lake, rows, catalog, dict(kept or {}), history_marker=marker)

    def _kept_table(self, row: dict[str, Any], table: str) -> pa.Table | None:
        return self.kept.get(row["sha256"], {}).get(table)

    @property
    def files(self) -> pl.DataFrame:
        """The files read (:func:`silicio.lake.queries.alerts.ingested_files`)."""
        from silicio.lake.queries.alerts import INGESTED_FILE_COLUMNS

        return pl.DataFrame(self._rows, schema=INGESTED_FILE_COLUMNS, orient="row")

    def _lot_groups(self, rows) -> dict[tuple, dict[str, Any]]:
        """(product, lot, stage) -> earliest start (None: none known) and files, of ``rows``."""
        groups: dict[tuple, dict[str, Any]] = {}
        for row in rows:
            key = (row["product"], row["lot"], row["stage"])
            group = groups.setdefault(key, {"started": None, "files": 0})
            group["files"] += 1
            if row["started"] is not None and (group["started"] is None or row["started"] < group["started"]):
                group["started"] = row["started"]
        return groups

    @staticmethod
    def _in_test_order(groups: dict[tuple, dict[str, Any]]) -> list[tuple]:
        # as a sort on started, lot, stage with nulls last
        return sorted(groups, key=lambda k: (groups[k]["started"] is None, groups[k]["started"] or 0, k[1],
                                             k[2] is None, k[2] or ""))  # fmt: skip

    def lots(self) -> pl.DataFrame:
        """product, lot, stage of the ingested files (one row per lot and stage), in the order
        their testing began (:func:`silicio.lake.queries.alerts.ingested_lots`)."""
        groups = self._lot_groups(r for r in self._rows if r["ingested"] and r["lot"] is not None)
        return pl.DataFrame(self._in_test_order(groups), schema={"product": pl.String, "lot": pl.String,
                                                                 "stage": pl.String}, orient="row")  # fmt: skip

    def knows(self, keys: list[tuple[str | None, str, str]]) -> bool:
        """Whether these (product, lot, stage) are all lots of the files read."""
        held = {(r["product"], r["lot"], r["stage"]) for r in self._rows}
        return all(key in held for key in keys)

    def _only_file(self, lot: str, stage: str) -> dict[str, Any] | None:
        """The lot's one file at ``stage`` when this ingest brought it and the lake holds no other."""
        rows = [r for r in self._rows if r["lot"] == lot and r["stage"] == stage]
        if len(rows) != 1 or not rows[0]["ingested"]:
            return None
        return rows[0]

    def file_table(
        self,
        table: str,
        lot: str,
        stage: str,
        columns: tuple[str, ...] | None = None,
        *,
        ordered: bool = True,
    ) -> pl.DataFrame | None:
        """Table ``table`` of the lot's one file (``columns``: those it has of them), rows in
        the order the tester wrote them (``ordered=False``: as stored, for a caller whose result
        does not depend on the order); None when the lot has other files (or the file wrote no
        such table)."""
        key = (table, lot, stage, columns, ordered)
        if key not in self._tables:
            from silicio.lake.queries import alerts as queries

            row = self._only_file(lot, stage)
            found = None
            if row is not None:
                wanted = None if columns is None else (*columns, "seq") if ordered else columns
                kept = self._kept_table(row, table)
                found = None if kept is None else _kept_frame(kept, wanted)
                if found is None:
                    found = _read_table(self.lake.layout, table, row, lot, stage, wanted)
                if found is None:  # columns the file lacks: the query leaves them out
                    found = queries.file_table(
                        self.lake.layout, table, row["product"], lot, stage, row["sha256"], wanted
                    )
                if found is not None and ordered and "seq" in found.columns:
                    if not found["seq"].is_sorted():  # written in order: no sort
                        found = found.sort("seq", maintain_order=True)
                    if columns is not None:
                        found = found.drop("seq")
            self._tables[key] = found
        return self._tables[key]

    def lot_frame(
        self,
        table: str,
        lot: str,
        stage: str,
        columns: tuple[str, ...] | None = None,
        *,
        ordered: bool = True,
    ) -> pl.DataFrame | None:
        """:func:`file_table` rows of lot ``lot`` (``lot_id``), as the lake's one-lot queries filter."""
        found = self.file_table(table, lot, stage, columns, ordered=ordered)
        if found is None:
            return None
        of_lot = found["lot_id"] == lot
        return found if of_lot.all() else found.filter(of_lot)  # a file is mostly of one lot: no copy

    def lot_results(self, lot: str, stage: str, columns: tuple[str, ...]) -> pa.Table | None:
        """``columns`` of the test results of lot ``lot`` (``lot_id``) in the lot's one file, rows
        as stored (for a count that does not depend on their order), read by pyarrow with the
        text columns dictionary-encoded (each distinct text once: a count compares codes, not
        texts); None when the lot has other files, or the file lacks one of ``columns`` but
        ``test_flg`` (the lake's way then)."""
        key = ("results", lot, stage, columns)
        if key not in self._tables:
            row = self._only_file(lot, stage)
            found = None
            if row is not None:
                kept = self._kept_table(row, "tidy")
                found = None if kept is None else _results_of_lot(kept, lot, columns)
                if found is None:
                    found = _read_results(self.lake.layout, row, lot, stage, columns)
            self._tables[key] = found
        return self._tables[key]

    def in_test_order(self, keys: list[tuple[str | None, str, str]]) -> list[tuple[str | None, str, str]]:
        """The (product, lot, stage) of ``keys`` in the order of :func:`silicio.lake.queries.lot_index`
        (a key given twice, twice)."""
        groups = self._lot_groups(r for r in self._rows if r["lot"] is not None)
        wanted = set(keys)
        return [key for key in self._in_test_order(groups) for _ in range(keys.count(key)) if key in wanted]

    def history_key(self, product: str | None, stage: str, lot: str):
        """(baseline key, test start) of a lot as :func:`silicio.lake.queries.history_lots`
        gives them: the program and revision of its first file in test order, its earliest start."""
        from silicio.lake.catalog import BaselineKey

        rows = [r for r in self._rows if r["product"] == product and r["stage"] == stage and r["lot"] == lot]
        if not rows:
            raise ValueError(f"no lot {lot!r} of product {product!r} at stage {stage!r} in the lake")
        first = rows[0]  # the files are in test order
        starts = [r["started"] for r in rows if r["started"] is not None]
        return BaselineKey(product, stage, first["program"], first["revision"]), min(
            starts
        ) if starts else None

    def history_lots(self, product: str | None, stage: str) -> list[dict[str, Any]]:
        """:func:`silicio.lake.queries.alerts.catalog_history_lots` on the kept catalog, read once."""
        key = ("history_lots", product, stage)
        if key not in self._tables:
            from silicio.lake.queries.alerts import catalog_history_lots

            with self.catalog.engine.connect() as connection:
                self._tables[key] = catalog_history_lots(connection, product, stage)
        return self._tables[key]

    def history_written(self) -> None:
        """The stored lot history changed (a version stored by this evaluation): read it again."""
        from silicio.lake.queries.alerts import history_marker

        with self.catalog.engine.connect() as connection:
            self.history_marker = history_marker(connection)
        self._history = None
        self._baselines.clear()

    def _stored(self) -> dict[str, dict]:
        if self._history is None:
            self._history = stored_history(self.catalog, self.history_marker)
        return self._history

    def stored_versions(self, key) -> list[dict[str, Any]]:
        """The catalog's versions of baseline ``key`` (read once a process while the lot history
        is unchanged: :func:`stored_history`)."""
        return self._stored_baselines(key)[0]

    def _stored_baselines(self, key) -> tuple[list[dict[str, Any]], list]:
        """(the catalog's versions of ``key``, each as a :class:`~silicio.yields.history.Baseline`)."""
        from silicio.yields.history import baseline_from_version

        stored = self._stored()["versions"]
        if key not in stored:
            versions = self.catalog.baseline_versions(key) if self._stored()["written"] else []
            stored[key] = versions, [baseline_from_version(key, v) for v in versions]
        return stored[key]

    def stored_baseline(self, product: str | None, stage: str, lot: str):
        """The stored version the lot is judged against (:func:`silicio.yields.history.history_baseline`'s
        choice: frozen, else newest, of those computed from lots tested before it) and its
        catalog row; (None, None) when no stored version qualifies."""
        from silicio.yields.history import _stored_choice

        if (product, stage, lot) in self._baselines:
            return self._baselines[product, stage, lot]
        key, started = self.history_key(product, stage, lot)
        versions, baselines = self._stored_baselines(key)
        found = None, None
        if started is not None:
            chosen = _stored_choice(baselines, lot, started)
            if chosen is not None:
                found = chosen, next(v for v in versions if v["version"] == chosen.version)
        self._baselines[product, stage, lot] = found
        return found

    def final_lot_counts(self, lot: str, stage: str, bin_column: str):
        """:func:`silicio.lake.queries.final_bin_counts` of the lot's one file (its final dies, every
        part of the file, as the query reads the lot's files) as judge_lot counts them
        (:func:`final_lot_counts`); None when the lot has other files."""
        parts = self.file_table("parts", lot, stage)
        if parts is None:
            return None
        return final_lot_counts(parts, lot, bin_column)

    def history_flags(
        self, keys: list[tuple[str | None, str, str]], settings
    ) -> tuple[pa.Table, tuple[str, ...]]:
        """:func:`silicio.yields.history.judge_lots_against_history` of the lots of ``keys``
        ((product, lot, stage)): those with a stored version and one file judged here, those
        with no stored version and too few lots of their program tested before them (a new
        program's first lots) noted here, the others by the lake's function."""
        from silicio.yields.history import (
            FLAG_COLUMNS,
            judge_lot_counts,
            judge_lots_against_history,
            not_judged,
        )

        flags, rest, notes = [], [], []
        for product, lot, stage in keys:
            baseline, _ = self.stored_baseline(product, stage, lot)
            counts = self.final_lot_counts(lot, stage, baseline.bin_column) if baseline is not None else None
            if counts is not None:
                flags.append(judge_lot_counts(baseline, counts, lot))
                continue
            why = None
            if baseline is None:
                key, started = self.history_key(product, stage, lot)
                why = not_judged(
                    key, lot, started, program_lots(self.history_lots(product, stage), key), settings
                )
            if why is not None:
                notes.append(why)
            else:
                rest.append((product, stage, lot))
        if rest:
            table, more = judge_lots_against_history(self.lake, rest, settings=settings)
            flags.append(table)
            notes += more
        return (pa.concat_tables(flags) if flags else FLAG_COLUMNS.empty_table()), tuple(notes)

    def static_limits(self, product: str | None, stage: str, lot: str) -> pa.Table | None:
        """:func:`silicio.yields.history.history_static_limits` from the stored versions read once."""
        from silicio.yields.history import _pat_table

        baseline, version = self.stored_baseline(product, stage, lot)
        if baseline is None or baseline.version is None:
            return None
        tables = self._stored()["pat"]
        if version["id"] not in tables:
            rows = self.catalog.baseline_pat_limits(version["id"])
            tables[version["id"]] = _pat_table(rows) if rows else None
        return tables[version["id"]]


def program_lots(rows: list[dict[str, Any]], key) -> list[tuple[str, Any]]:
    """(lot, test start) of the lots of baseline ``key`` among ``rows`` (the product's lots at the
    stage, :func:`silicio.lake.queries.alerts.catalog_history_lots` or ``history_lots``)."""
    return [
        (r["lot"], r["started"]) for r in rows if (r["program"], r["revision"]) == (key.program, key.revision)
    ]


def _kept_frame(table: pa.Table, columns) -> pl.DataFrame | None:
    """:func:`_read_table` of a table the ingest kept in memory: its texts as plain text, as the
    file is read back; None when it lacks one of ``columns`` (the file is read then). The texts
    go to polars as Arrow string views, its own layout, which it takes without copying them
    (from plain Arrow strings it copies each: ~1 ms CPU a text column of a 25-wafer lot's parts)."""
    if columns is not None:
        if any(c not in table.column_names for c in columns):
            return None
        table = table.select(list(columns))
    texts = (pa.string(), pa.large_string())
    for at, column in enumerate(table.columns):  # only these cast: a cast costs even where it changes nothing
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if column.type in texts:
            column = column.cast(pa.string_view())
        if column.type != table.field(at).type:
            table = table.set_column(at, table.field(at).name, column)
    return pl.from_arrow(table)


def _read_table(
    layout, table: str, row: dict[str, Any], lot: str, stage: str, columns
) -> pl.DataFrame | None:
    """:func:`silicio.lake.queries.alerts.file_table` of a file that has every column asked for,
    read on this thread (a file of one lot is small: threads cost more CPU than they save); None
    when the file or a column is not there (the query then says which)."""
    from silicio.lake.layout import Partition

    path = layout.parquet_path(table, Partition.of(row["product"], lot, stage), row["sha256"])
    try:
        return pl.read_parquet(path, columns=None if columns is None else list(columns), hive_partitioning=False,
                               parallel="none")  # fmt: skip
    except (OSError, pl.exceptions.ColumnNotFoundError):
        return None


#: Text columns of the results read dictionary-encoded (:func:`_read_results`).
_TEXT_COLUMNS = ("lot_id", "wafer_id", "test_name", "test_type")


def _read_results(layout, row: dict[str, Any], lot: str, stage: str, columns) -> pa.Table | None:
    """:meth:`IngestedLots.lot_results` of the file of catalog row ``row``: memory-mapped, on
    this thread, text columns as dictionaries; rows of other lots (``lot_id``) left out."""
    import pyarrow.parquet as pq

    from silicio.lake.layout import Partition

    path = layout.parquet_path("tidy", Partition.of(row["product"], lot, stage), row["sha256"])
    try:
        parquet = pq.ParquetFile(
            path, memory_map=True, read_dictionary=[c for c in _TEXT_COLUMNS if c in columns]
        )
    except OSError:
        return None
    present = set(parquet.schema_arrow.names)
    if any(c not in present for c in columns if c != "test_flg"):
        return None
    return _of_lot(parquet.read(columns=[c for c in columns if c in present], use_threads=False), lot)


def _results_of_lot(table: pa.Table, lot: str, columns) -> pa.Table | None:
    """:func:`_read_results` of a file's tidy table the ingest kept in memory (its texts
    dictionaries as written); None when it lacks one of ``columns`` but ``test_flg``."""
    present = set(table.column_names)
    if any(c not in present for c in columns if c != "test_flg"):
        return None
    return _of_lot(table.select([c for c in columns if c in present]), lot)


def _of_lot(table: pa.Table, lot: str) -> pa.Table:
    """The rows of ``table`` of lot ``lot`` (``lot_id``), the dictionaries of its chunks unified."""
    if "lot_id" in table.column_names:
        codes, values = value_codes(table["lot_id"])
        if values != [lot]:  # a file is mostly of one lot: no copy then
            table = table.filter(pa.array(np.isin(codes, [i for i, v in enumerate(values) if v == lot])))
    return table.unify_dictionaries() if table.num_rows else table


def value_codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list]:
    """Each row's code 0..n-1 of its value (equal values, equal codes; null a value of its own;
    an integer array, int32 or int64) and the n values by code. A dictionary column is coded through its dictionary (each distinct
    text looked at once), another is dictionary-encoded first."""
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if not pa.types.is_dictionary(column.type):
        in_runs = _codes_of_runs(column)
        if in_runs is not None:
            return in_runs
        if pa.types.is_string_view(column.type):
            column = column.cast(pa.large_string())
        column = pc.dictionary_encode(column)
    remap, code_of = _codes_of_entries(column.dictionary)
    return _dictionary_codes(column, remap, code_of, len(code_of) == len(remap)), list(code_of)


def _codes_of_runs(column: pa.Array) -> tuple[np.ndarray, list] | None:
    """:func:`value_codes` of a column without nulls whose values come in long runs (a lot's
    parts, wafer by wafer): each run's first value looked at once, where dictionary-encoding
    hashes every row (~1 ms CPU a 25-wafer lot's wafer ids, against ~0.3); None otherwise."""
    import pyarrow.compute as pc

    rows = len(column)
    # texts and integers only: a float's NaN equals no value, not even its own
    kinds = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view, pa.types.is_integer)
    if column.null_count or rows < 2 or not any(kind(column.type) for kind in kinds):
        return None
    changes = pc.indices_nonzero(pc.not_equal(column.slice(1), column.slice(0, rows - 1)))
    if len(changes) > rows // 16:  # short runs: a look at each costs more than the encoding
        return None
    starts = np.concatenate(([0], changes.to_numpy().astype(np.int64) + 1))
    code_of: dict[Any, int] = {}
    run_codes = np.array(
        [code_of.setdefault(column[int(at)].as_py(), len(code_of)) for at in starts], np.int64
    )
    return np.repeat(run_codes, np.diff(starts, append=rows)), list(code_of)


def _codes_of_entries(dictionary: pa.Array) -> tuple[np.ndarray, dict[Any, int]]:
    """The code of each entry of ``dictionary`` by its value (a dictionary may hold a text twice:
    one read from several pages), and value -> code."""
    code_of: dict[Any, int] = {}
    return np.array([code_of.setdefault(v, len(code_of)) for v in dictionary.to_pylist()], np.int64), code_of


def _dictionary_codes(array: pa.DictionaryArray, remap: np.ndarray, code_of: dict[Any, int],
                      as_indices: bool) -> np.ndarray:  # fmt: skip
    """Each row's code through ``remap`` (:func:`_codes_of_entries`; ``as_indices``: the indices
    are the codes, each entry's value its own); a null a code of its own, added to ``code_of``."""
    indices = array.indices
    if not array.null_count:
        return indices.to_numpy() if as_indices else remap[indices.to_numpy()]
    codes = remap[indices.fill_null(0).to_numpy()] if len(remap) else np.zeros(len(array), np.int64)
    codes[indices.is_null().to_numpy(zero_copy_only=False)] = code_of.setdefault(None, len(code_of))
    return codes


# -- PAT counted against static limits: a comparison, and each wafer's dynamic limits


def pat_share_of_lot(
    tidy: pa.Table | pl.DataFrame, parts: pl.DataFrame, static_limits: pa.Table, recipe
) -> tuple[int, int] | None:
    """(PAT parts, final parts) of one lot: what :func:`silicio.yields.disposition.pat_shares`
    counts after :func:`silicio.yields.screen` with the recipe's PAT rule and these static limits
    (AEC-Q001 Rev-D §3.1.1 static limits given, §3.1.2 dynamic limits mean ± n sigma per wafer or
    lot, clamped inside the static ones). None when the recipe is one the screening must run
    (see the module notes) or the limits name a test twice (the screening refuses them).

    ``tidy``: the lot's results in any row order (the count does not depend on it), a pyarrow
    table (:meth:`IngestedLots.lot_results`: texts dictionary-encoded) or a polars frame. The
    results are read chunk by chunk as the table holds them (:class:`_Chunks`) by the compiled
    passes of :func:`_outlier_rows`: no frame of the judged results is built."""
    from silicio.yields.rules import registered_rules

    registered = registered_rules()
    family = [(name, params) for name, params in recipe.rules if registered[name].kind == "pat"]
    if len(family) != 1 or family[0][0] != "pat":
        return None
    params = family[0][1]
    dynamic = params.dynamic
    if dynamic is not None and (dynamic.center != "mean" or params.quantile_method != "linear"
                                or params.iqr_zero != "skip"):  # fmt: skip
        return None
    static = _static_rows(static_limits, params.tests)
    if static is None:
        return None

    # a null is final (the Series' own sum: no array of the column unless there are hits)
    n_final = int(parts["is_last_test"].sum()) + parts["is_last_test"].null_count()
    if not n_final:
        return 0, 0
    table = tidy if isinstance(tidy, pa.Table) else tidy.to_arrow()
    if not table.num_rows:
        return 0, n_final
    chunks = _Chunks(table)
    hit_rows = _outlier_rows(chunks, static, params)
    if not hit_rows.size:
        return 0, n_final
    wafer, wafers = chunks.codes("wafer_id")
    part = chunks.numbers("part_index", -1, pa.int64())
    hits = set()
    # each hit row's chunk (an empty chunk starts where the next does)
    chunk_of_hit = np.searchsorted(chunks.starts, hit_rows, "right") - 1
    for c in np.unique(chunk_of_hit).tolist():
        at = hit_rows[chunk_of_hit == c] - chunks.starts[c]
        hits.update(zip([wafers[w] for w in wafer[c][at].tolist()], part[c][at].tolist(), strict=True))
    # the final passing parts among the hit ones (numpy: see final_lot_counts; the columns as the
    # lot's other counts converted them)
    part_index = column_array(parts, "part_index", -1)
    final = column_array(parts, "is_last_test", True)
    candidates = final & column_array(parts, "passed", False) & np.isin(part_index, [p for _, p in hits])
    if parts["part_index"].null_count():
        candidates &= parts["part_index"].to_arrow().is_valid().to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(candidates)
    # the parts' wafer ids through their codes (shared with the bin counts and wafer maps of the frame)
    part_wafer, part_wafers = wafer_codes(parts)
    good = zip([part_wafers[w] for w in part_wafer[rows].tolist()], part_index[rows].tolist(), strict=True)
    return sum(1 for key in set(good) if key in hits), n_final


def _outlier_rows(chunks: _Chunks, static: _StaticLimits, params) -> np.ndarray:
    """The rows of the judged results (passing parts' last parametric results, alarms aside)
    outside their test's static limits (the row of ``static`` of the result's test number, name
    and pin) or, ``params.dynamic`` given, outside their group's dynamic limits: per (owner, test)
    group, of the results inside the static limits and the specification, mean ± n sigma (sample
    sigma, ddof 1, two passes), clamped to the tightest specification limits, a side clamped to
    the static limit being the static limit's; no limits for a group of fewer than ``min_parts``
    results or sigma 0.

    One pass over the table (:func:`_first_pass`) judges, finds each result's static limit row,
    compares with it, adds up the populations and gives each row its group; the squared deviations
    and the dynamic limits' comparison read only the groups and the values."""
    from silicio.yields.pat import TEST_FLG_ALARM, pat_limits

    dynamic = params.dynamic
    rows = chunks.table.num_rows
    value = chunks.numbers("result", np.nan, pa.float64())
    type_code, types = chunks.codes("test_type")
    type_ok = np.array([t in ("P", "M") for t in types], np.bool_)
    alarm = TEST_FLG_ALARM if params.alarmed == "exclude" and "test_flg" in chunks.table.column_names else 0
    flags = chunks.numbers("test_flg", 0, pa.int64()) if alarm else chunks.constant(0)
    last, passed = chunks.bits("is_last_test"), chunks.bits("part_passed")
    part_valid = chunks.validity("part_index")
    number, pin = chunks.numbers("test_num", -1, pa.int64()), chunks.numbers("pin", -1, pa.int64())
    name, names = chunks.codes("test_name")
    name_code = {n: code for code, n in enumerate(names)}
    # a name the results do not have: no result's code
    static_name = np.array([name_code.get(n, -1) for n in static.names], np.int64)
    if dynamic is not None and dynamic.scope == "wafer":
        owner, wafers = chunks.codes("wafer_id")
        n_owners = len(wafers)
    else:  # the results are of one lot (lot_id filtered): all one population
        owner, n_owners = chunks.constant(0), 1
    spec_lo = chunks.numbers("lo_limit", np.nan, pa.float64())
    spec_hi = chunks.numbers("hi_limit", np.nan, pa.float64())

    sums = _GroupSums(static.lo.size * n_owners)
    grouped = rows if dynamic is not None else 0
    # the narrowest type of the groups (fewer bytes a row written and read twice), its lowest no group
    group_type = next(t for t in (np.int16, np.int32, np.int64) if sums.count.size < np.iinfo(t).max)
    group = np.empty(grouped, group_type)
    no_group = int(np.iinfo(group.dtype).min)
    outliers = np.empty(rows, np.int64)
    found = np.zeros(1, np.int64)  # outliers so far
    for c, (at, stop) in enumerate(chunks.bounds):
        _first_pass(at, *last[c], *passed[c], *part_valid[c], value[c], type_code[c], type_ok, flags[c], alarm,
                    number[c], pin[c], name[c], *static.lookup, static_name, static.lo, static.hi, owner[c],
                    n_owners, spec_lo[c], spec_hi[c], dynamic is not None, *sums.sums, group[at:stop], no_group,
                    outliers, found)  # fmt: skip
    if dynamic is not None:
        mean = sums.mean()
        for c, (at, stop) in enumerate(chunks.bounds):
            _add_squares(group[at:stop], value[c], mean, sums.squares)
        sigma = sums.sigma()
        # too few parts, or sigma 0: not screened
        usable = (sums.count >= dynamic.min_parts) & (sigma > 0)
        lo, hi, _, _ = pat_limits(
            np.where(usable, mean, np.nan), np.where(usable, sigma, 0.0), dynamic.n, sums.lsl, sums.usl
        )
        # a side clamped to the static limit is the static limit: crossing it is PAT_STATIC's
        dynamic_lo = np.where(usable & ~(lo < np.repeat(static.lo, n_owners)), lo, np.nan)
        dynamic_hi = np.where(usable & ~(hi > np.repeat(static.hi, n_owners)), hi, np.nan)
        for c, (at, stop) in enumerate(chunks.bounds):
            _dynamic_outliers(at, group[at:stop], no_group, value[c], dynamic_lo, dynamic_hi, outliers, found)
    return outliers[: found[0]]


class _Chunks:
    """A table's columns chunk by chunk as numpy arrays (:func:`pat_share_of_lot`): the kernels
    run over each chunk in turn, so no column is copied into one array first (the copies cost as
    much as a pass). Every column is cut at the same rows (a table whose columns are not is
    re-chunked once)."""

    def __init__(self, table: pa.Table):
        lengths = [len(c) for c in table.column(0).chunks]
        if any([len(c) for c in column.chunks] != lengths for column in table.columns[1:]):
            table = table.combine_chunks()
            lengths = [len(c) for c in table.column(0).chunks]
        self.table = table
        ends = np.cumsum(lengths, dtype=np.int64)
        self.starts = ends - np.array(lengths, np.int64)
        self.bounds = list(zip(self.starts.tolist(), ends.tolist(), strict=True))
        self._codes: dict[str, tuple[list[np.ndarray], list]] = {}

    def numbers(self, name: str, null, dtype) -> list[np.ndarray]:
        """Column ``name``'s chunks as numpy arrays: of their own type (no copy) where they have
        no nulls, a constant (:meth:`constant`) where they are all null, else of ``dtype`` with
        ``null`` for the nulls."""
        out = []
        for chunk in self.table[name].chunks:
            if chunk.null_count == len(chunk):
                out.append(np.broadcast_to(np.array(null, dtype.to_pandas_dtype()), len(chunk)))
            elif chunk.null_count:
                out.append(chunk.cast(dtype).fill_null(pa.scalar(null, dtype)).to_numpy(zero_copy_only=False))
            else:
                out.append(chunk.to_numpy(zero_copy_only=False))
        return out

    def constant(self, value: int) -> list[np.ndarray]:
        """``value`` in every row, chunk by chunk: a read-only view of one number (no memory)."""
        return [np.broadcast_to(np.int64(value), stop - at) for at, stop in self.bounds]

    def bits(self, name: str) -> list[tuple[np.ndarray, int]]:
        """Boolean column ``name``'s chunks as their Arrow bitmaps and bit offsets, for :func:`_bit`
        (not unpacked into bytes: the kernels read the bits); a null false."""
        out = []
        for chunk in self.table[name].chunks:
            if chunk.null_count:
                chunk = chunk.fill_null(False)
            out.append((_bitmap(chunk.buffers()[1]), chunk.offset))
        return out

    def validity(self, name: str) -> list[tuple[np.ndarray, int]]:
        """Whether each row of column ``name`` has a value, as :meth:`bits` (offset -1: every row)."""
        return [(_bitmap(chunk.buffers()[0]), chunk.offset) if chunk.null_count else (_bitmap(None), -1)
                for chunk in self.table[name].chunks]  # fmt: skip

    def codes(self, name: str) -> tuple[list[np.ndarray], list]:
        """:func:`value_codes` of column ``name``, chunk by chunk: a dictionary column's indices
        as they are where its dictionary holds each text once (the chunks' dictionaries unified
        first where they differ). Coded once a column (the PAT count's groups and its hit parts
        both read the wafer codes)."""
        if name not in self._codes:
            self._codes[name] = self._coded(self.table[name])
        return self._codes[name]

    def _coded(self, column: pa.ChunkedArray) -> tuple[list[np.ndarray], list]:
        if not pa.types.is_dictionary(column.type):
            codes, values = value_codes(column)
            return [codes[start:stop] for start, stop in self.bounds], values
        chunks = column.chunks
        if any(not chunk.dictionary.equals(chunks[0].dictionary) for chunk in chunks[1:]):
            chunks = column.unify_dictionaries().chunks
        remap, code_of = _codes_of_entries(chunks[0].dictionary)
        as_indices = len(code_of) == len(remap)
        return [_dictionary_codes(chunk, remap, code_of, as_indices) for chunk in chunks], list(code_of)


def _bitmap(buffer: pa.Buffer | None) -> np.ndarray:
    """An Arrow buffer's bytes as a numpy array (no copy; none: empty)."""
    return np.zeros(0, np.uint8) if buffer is None else np.frombuffer(buffer, np.uint8)


#: Static limit rows found by test number through a dense table up to this many numbers (4 MB, kept
#: with a stored version's limits).
_DENSE_TEST_NUMBERS = 1 << 20


class _StaticLimits:
    """The static limit rows of the screened tests (:func:`_static_rows`) in test number order,
    their low and high limits (NaN: none), and the lookup of a result's row the kernel makes
    (:func:`_first_pass`): ``lookup`` is the rows' numbers, the lowest, a dense table over their
    range where it holds at most ``_DENSE_TEST_NUMBERS`` (else empty: a binary search of the
    numbers) of each number's row (-1: none; -2 - its first row: several, told apart by
    :func:`_row_among`) and the rows' pins (-1: null); the names are coded per lot, as the
    results' names are."""

    def __init__(self, keys: list[tuple], lo: np.ndarray, hi: np.ndarray):
        number = np.array([-1 if n is None else n for n, _, _ in keys], np.int64)
        order = np.argsort(number, kind="stable")
        number = number[order]
        pin = np.array([-1 if keys[r][2] is None else keys[r][2] for r in order.tolist()], np.int64)
        self.names = [keys[r][1] for r in order.tolist()]
        self.lo, self.hi = lo[order], hi[order]
        low = int(number[0]) if number.size else 0
        row = np.zeros(0, np.int32)
        if number.size and number[-1] - low < _DENSE_TEST_NUMBERS:
            distinct, first, rows = np.unique(number, return_index=True, return_counts=True)
            row = np.full(int(number[-1]) - low + 1, -1, np.int32)
            row[distinct - low] = np.where(rows == 1, first, -2 - first)
        self.lookup = number, low, row, pin


@nb.njit(cache=True, nogil=True)
def _bit(bits, offset, i):
    """Bit ``offset + i`` of an Arrow bitmap (offset -1: every bit set)."""
    if offset < 0:
        return True
    at = offset + i
    return (bits[at >> 3] >> (at & 7)) & 1 == 1


@nb.njit(cache=True, nogil=True)
def _row_among(row, number, pin, name, numbers, pins, names):
    """The static limit row of a test (number, pin, name code) among the rows of its number from
    ``row`` on; -1: none."""
    while 0 <= row < numbers.size and numbers[row] == number:
        if pins[row] == pin and names[row] == name:
            return row
        row += 1
    return -1


@nb.njit(cache=True, nogil=True)
def _first_pass(base, last, last_at, passed, passed_at, part_valid, part_valid_at, value, type_code, type_ok, flags,
                alarm, number, pin, name, numbers, low, row_of_number, pins, names, static_lo, static_hi, owner,
                n_owners, spec_lo, spec_hi, dynamic, count, total, lsl, usl, group, no_group, outliers,
                found):  # fmt: skip
    """:func:`_outlier_rows`' pass over one chunk (rows from ``base``). A judged result (part's
    last test, part passing and numbered, finite, of a judged test type, no ``alarm`` flag set)
    with a static limit row (its test number, pin and name's: :class:`_StaticLimits`): outside
    its limits, its row goes to ``outliers`` (``found[0]`` so far); inside them, with ``dynamic``,
    its ``group`` is set (limit row * n_owners + owner; ~group outside the specification, not in
    the population; else ``no_group``: not compared with dynamic limits), and inside the
    specification it adds to its group's ``count`` and ``total`` and tightens its ``lsl`` / ``usl``.
    The lookup is written out here, not called: a call per row costs ~4 times the pass. An index
    that cannot be negative is taken unsigned: numba then does not check it for a negative one."""
    n_out = found[0]
    for i in range(value.size):
        v = value[i]
        g = no_group
        if (_bit(last, last_at, i) and _bit(passed, passed_at, i) and _bit(part_valid, part_valid_at, i)
                and np.isfinite(v) and type_ok[np.uint64(type_code[i])] and (flags[i] & alarm) == 0):  # fmt: skip
            test = np.int64(number[i])
            if not row_of_number.size:
                row = _row_among(np.searchsorted(numbers, test), test, pin[i], name[i], numbers, pins, names)
            else:
                row = row_of_number[np.uint64(test - low)] if 0 <= test - low < row_of_number.size else -1
                if row >= 0 and not (pins[np.uint64(row)] == pin[i] and names[np.uint64(row)] == name[i]):
                    row = -1
                elif row < -1:  # several rows of that number (a call: not inlined, rare)
                    row = _row_among(-2 - row, test, pin[i], name[i], numbers, pins, names)
            if row < 0:
                pass
            elif v < static_lo[np.uint64(row)] or v > static_hi[np.uint64(row)]:
                outliers[n_out] = base + i
                n_out += 1
            elif dynamic:
                at = np.uint64(row * n_owners + owner[i])
                lo, hi = spec_lo[i], spec_hi[i]
                if v < lo or v > hi:
                    g = ~np.int64(at)
                else:
                    g = np.int64(at)
                    count[at] += 1
                    total[at] += v
                    if not np.isnan(lo) and not lo <= lsl[at]:
                        lsl[at] = lo
                    if not np.isnan(hi) and not hi >= usl[at]:
                        usl[at] = hi
        if dynamic:
            group[i] = g
    found[0] = n_out


@nb.njit(cache=True, nogil=True)
def _add_squares(group, value, mean, squares):
    """The second pass of the sample sigma over one chunk: each population result's squared
    deviation from its group's mean added to ``squares``."""
    for i in range(group.size):
        g = group[i]
        if g >= 0:
            squares[g] += (value[i] - mean[g]) ** 2


@nb.njit(cache=True, nogil=True)
def _dynamic_outliers(base, group, no_group, value, dynamic_lo, dynamic_hi, outliers, found):
    """Adds to ``outliers`` (``found[0]`` so far) the rows of one chunk (from ``base``) with a
    group outside its dynamic limits (NaN: none)."""
    n_out = found[0]
    for i in range(group.size):
        g = group[i]
        if g == no_group:
            continue
        if g < 0:
            g = ~g
        if value[i] < dynamic_lo[g] or value[i] > dynamic_hi[g]:
            outliers[n_out] = base + i
            n_out += 1
    found[0] = n_out


class _GroupSums:
    """Each (static limit row, owner) group's dynamic population as :func:`_first_pass` and
    :func:`_add_squares` add it up over the chunks of a lot's results."""

    def __init__(self, n_groups: int):
        self.count = np.zeros(n_groups, np.int64)
        self.total = np.zeros(n_groups)
        self.lsl = np.full(n_groups, np.nan)
        self.usl = np.full(n_groups, np.nan)
        self.squares = np.zeros(n_groups)

    @property
    def sums(self):
        return self.count, self.total, self.lsl, self.usl

    def mean(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.total / np.maximum(self.count, 1), np.nan)

    def sigma(self) -> np.ndarray:
        """The sample sigma (ddof 1) of each group of more than one result, else 0."""
        many = self.count > 1
        return np.where(many, np.sqrt(self.squares / np.where(many, self.count - 1, 1)), 0.0)


#: What was read off the last lot's parts frame (:func:`wafer_codes`, :func:`column_array`), the
#: frame kept, so its id stays its own.
_FRAME_READ: dict[int, tuple[pl.DataFrame, dict[Any, Any]]] = {}


def _read_off(parts: pl.DataFrame) -> dict[Any, Any]:
    kept = _FRAME_READ.get(id(parts))
    if kept is None or kept[0] is not parts:
        _FRAME_READ.clear()
        kept = _FRAME_READ[id(parts)] = (parts, {})
    return kept[1]


def wafer_codes(parts: pl.DataFrame) -> tuple[np.ndarray, list]:
    """:func:`value_codes` of ``parts["wafer_id"]``, kept for the last frame asked about: the
    wafer maps and the bin counts of a lot code the same frame (~2 ms CPU a 6-wafer lot)."""
    read = _read_off(parts)
    if "wafer codes" not in read:  # through Arrow string views: the texts not copied
        read["wafer codes"] = value_codes(parts["wafer_id"].to_arrow(compat_level=pl.CompatLevel.newest()))
    return read["wafer codes"]


def column_array(parts: pl.DataFrame, name: str, null: Any) -> np.ndarray:
    """:func:`as_array` of ``parts[name]``, read-only, kept for the last frame asked about: a lot's
    counts (final yield, bins, maps, sites) read the same columns, and each conversion of a
    column costs ~0.1 ms CPU at a lot's first look (code and data out of the caches)."""
    read = _read_off(parts)
    column = parts[name]
    key = (name, null) if column.null_count() else name  # without nulls, one array for any ``null``
    if key not in read:
        array = as_array(column, null)
        array.flags.writeable = False
        read[key] = array
    return read[key]


_BIN_COUNT_COLUMNS = ("wafer_id", "hard_bin", "soft_bin", "passed", "is_last_test")


def final_lot_counts(parts: pl.DataFrame, lot: str, bin_column: str):
    """:func:`silicio.yields.history.judge_lot`'s counts (:class:`~silicio.yields.history.LotCounts`,
    ``bin_column`` the bin) of the final parts (``is_last_test``) of ``parts``: counted in one
    compiled pass (:func:`_count_final_bins`: a few polars operations cost more CPU than a lot's
    count, in the threads they wake; numpy's sort of a key of the four ~1 ms a 25-wafer lot) and
    taken as they come, wafers by code (no table of the rows: ~0.5 ms a lot); grouped by polars
    where a column has nulls (a group of their own) or the bins are too many to count in a table."""
    from silicio.yields.history import coded_lot_counts, lot_counts

    if not any(parts[c].null_count() for c in _BIN_COUNT_COLUMNS):
        wafer, wafers = wafer_codes(parts)
        hard, soft = (column_array(parts, c, 0) for c in ("hard_bin", "soft_bin"))
        if all(b.dtype == np.uint16 or not b.size or 0 <= b.min() <= b.max() <= 0xFFFF for b in (hard, soft)):
            counted = _count_final_bins(column_array(parts, "is_last_test", False), wafer.astype(np.int64, copy=False),
                                        len(wafers), hard.astype(np.uint16, copy=False),
                                        soft.astype(np.uint16, copy=False), column_array(parts, "passed", False))  # fmt: skip
            if counted is not None:
                at, hard_bin, soft_bin, passed, dies = counted
                bins = hard_bin if bin_column == "hard_bin" else soft_bin
                return coded_lot_counts(at, wafers, bins, passed, dies)
    grouped = (
        parts.filter(pl.col("is_last_test"))
        .group_by("wafer_id", "hard_bin", "soft_bin", "passed")
        .agg(pl.len().cast(pl.Int64).alias("dies"))
        .select(pl.lit(lot, pl.String).alias("lot"), "wafer_id", "hard_bin", "soft_bin", "passed", "dies")
    )
    return lot_counts(grouped, lot, bin_column)


#: Final dies counted in a dense table (wafers x hard bins x soft bins x verdicts) up to this many slots (8 MB).
_DENSE_BIN_SLOTS = 1 << 20


@nb.njit(cache=True, nogil=True)
def _count_final_bins(final, wafer, n_wafers, hard, soft, passed):
    """The dies of each (wafer code, hard bin, soft bin, verdict) among the ``final`` rows, as
    arrays of those four and the dies (wafer by wafer); None when the count's dense table would
    exceed :data:`_DENSE_BIN_SLOTS`. The bins are ranked through tables up to the highest bin,
    then the dies counted in a table of wafers and ranks: no sort. Neighbouring rows mostly
    share a slot (a wafer's good dies): a run is counted in a register, written when it ends."""
    top_hard, top_soft = 0, 0  # the rank tables go up to the highest bin only (a lot's are small numbers)
    for i in range(final.size):
        if final[i]:
            top_hard, top_soft = max(top_hard, np.int64(hard[i])), max(top_soft, np.int64(soft[i]))
    rank_hard, rank_soft = np.zeros(top_hard + 1, np.int64), np.zeros(top_soft + 1, np.int64)
    for i in range(final.size):
        if final[i]:
            rank_hard[hard[i]] = 1
            rank_soft[soft[i]] = 1
    hard_bins, soft_bins = np.flatnonzero(rank_hard), np.flatnonzero(rank_soft)
    rank_hard[hard_bins] = np.arange(hard_bins.size)
    rank_soft[soft_bins] = np.arange(soft_bins.size)
    n_hard, n_soft = hard_bins.size, soft_bins.size
    if n_wafers * n_hard * n_soft * 2 > _DENSE_BIN_SLOTS:
        return None
    dies = np.zeros(n_wafers * n_hard * n_soft * 2, np.int64)
    last, run = 0, 0
    for i in range(final.size):
        if final[i]:
            slot = ((wafer[i] * n_hard + rank_hard[hard[i]]) * n_soft + rank_soft[soft[i]]) * 2 + passed[i]
            if slot != last:
                dies[last] += run
                last, run = slot, 0
            run += 1
    if run:  # none when no row is final (and the table empty)
        dies[last] += run
    slots = np.flatnonzero(dies)
    bins, verdict = np.divmod(slots, 2)
    wafer_hard, soft_rank = np.divmod(bins, n_soft)
    at, hard_rank = np.divmod(wafer_hard, n_hard)
    return at, hard_bins[hard_rank], soft_bins[soft_rank], verdict == 1, dies[slots]


def as_array(series: pl.Series, null: Any) -> np.ndarray:
    """``series`` as a numpy array, ``null`` for its nulls (a copy only where there are nulls)."""
    if series.null_count() == series.len():
        return np.full(series.len(), null)
    if not series.null_count():
        return series.to_numpy()
    # through Arrow: a polars operation wakes its threads, which cost more CPU than a lot's column
    column = series.to_arrow()
    try:
        return column.fill_null(pa.scalar(null, column.type)).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # ``null`` outside the type: widened
        return series.fill_null(null).to_numpy()


#: The static limit rows of the latest few stored tables (a version's table is read once a process:
#: :meth:`IngestedLots.static_limits`), by the table's id and the tests: (table, rows).
_STATIC_ROWS: dict[tuple, tuple[pa.Table, _StaticLimits | None]] = {}


def _static_rows(static_limits: pa.Table | pl.DataFrame, tests) -> _StaticLimits | None:
    """The rows of the static limits of ``tests`` (their low and high limits NaN where none: a
    skipped test has none); None when the limits are per lot or name a test twice (the screening
    refuses them). Kept for the latest few Arrow tables (immutable): a line's lots share their
    version's table."""
    key = (id(static_limits), tests if isinstance(tests, str) else tuple(tests))
    kept = _STATIC_ROWS.pop(key, None)
    if kept is None or kept[0] is not static_limits:
        kept = static_limits, _read_static_rows(static_limits, tests)
    if isinstance(static_limits, pa.Table):
        _STATIC_ROWS[key] = kept  # the newest last
        while len(_STATIC_ROWS) > _KEPT_MAX:
            _STATIC_ROWS.pop(next(iter(_STATIC_ROWS)))
    return kept[1]


def _read_static_rows(static_limits: pa.Table | pl.DataFrame, tests) -> _StaticLimits | None:
    """:func:`_static_rows` read (a few rows: in Python)."""
    from silicio.yields.pat import TEST_KEY

    table = static_limits if isinstance(static_limits, pa.Table) else static_limits.to_arrow()
    needed = (*TEST_KEY, "pat_lo", "pat_hi", "skipped")
    missing = [c for c in needed if c not in table.column_names]
    if missing:
        raise ValueError(f"static_limits lacks the column(s) {', '.join(missing)}")
    if "lot_id" in table.column_names:
        return None
    wanted = None if isinstance(tests, str) else set(tests)
    limits = [r for r in table.select(list(needed)).to_pylist() if wanted is None or r["test_num"] in wanted]
    keys = [(r["test_num"], r["test_name"], r["pin"]) for r in limits]
    if len(set(keys)) != len(keys):
        return None
    lo, hi = (
        np.array([np.nan if r["skipped"] or r[column] is None else r[column] for r in limits], np.float64)
        for column in ("pat_lo", "pat_hi")
    )
    return _StaticLimits(keys, lo, hi)
