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
count is compiled passes over them (the results judged, the tests coded, static limits and each
group's dynamic population, then the dynamic limits). The stored lot history (versions, static
PAT limits) is read once a process while it is unchanged (:func:`stored_history`). The lot's counts (bin counts, final yields, wafer maps) are numpy over the parts' columns,
not polars operations: each of those wakes polars' threads, which cost more CPU than a lot's
count. The few catalog rows (files, lots, limits) are grouped in Python, not in frames, through
a catalog kept for the process (:func:`kept_catalog`: its statements compiled once a process).

Every fact equals what the lake's queries give (tests/alerts/test_fast_path.py compares the two
ways on lots where every built-in rule fires); where this way cannot give the same one it says
so by returning None and the caller takes the lake's way:

* a lot with more than one file at its stage (a retest file, or an earlier file in the lake):
  which insertion of a die is final is the lake's retest rule across files
  (:mod:`silicio.lake.queries.insertions`); its parts and results are read through DuckDB;
* a lot with no stored lot-history version computed from lots before it: its SYL / SBL limits
  are computed now from the earlier lots' final dies, which only the lake has;
* a PAT recipe this module does not count itself (another rule of the PAT family, per-lot
  static limits, dynamic limits centred on the median, a quantile method other than numpy's
  "linear" or ``iqr_zero = "resolution"``): the lot is screened with :func:`silicio.yields.screen`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numba as nb
import numpy as np
import polars as pl
import pyarrow as pa

__all__ = ["KEPT_AT_INGEST", "PAT_COLUMNS", "IngestedLots", "pat_share_of_lot"]

#: The tidy columns :func:`pat_share_of_lot` reads.
PAT_COLUMNS = ("lot_id", "wafer_id", "part_index", "test_num", "test_name", "pin", "test_type", "result", "lo_limit",
               "hi_limit", "part_passed", "is_last_test", "test_flg")  # fmt: skip

#: What the rules read of an ingest's files, for :func:`silicio.lake.ingest`'s ``keep``: the
#: ingest hands them over in memory (``FileOutcome.tables``) and the rules read no file again.
KEPT_AT_INGEST = {"parts": None, "tidy": PAT_COLUMNS}


#: Catalogs kept for the process, by URL (the newest few): see :func:`kept_catalog`.
_KEPT_CATALOGS: dict[str, Any] = {}
_KEPT_MAX = 4


def kept_catalog(url: str) -> Any:
    """A :class:`~silicio.lake.catalog.Catalog` on the catalog database at ``url`` kept for the
    process: the next evaluation on the same database (``silicio ingest --watch``, the bench's
    lots, the web app) reuses its engine, so its statements are compiled once a process, not once
    a lot (SQLAlchemy keeps compiled statements per engine: ~1 ms a statement on SQLite), and the
    schema is migrated (checked) once a process. :func:`release_connections` closes its pooled
    connections after each evaluation (a SQLite file is not held open between lots)."""
    from silicio.lake.catalog import Catalog

    catalog = _KEPT_CATALOGS.pop(url, None)
    if catalog is None:
        catalog = Catalog(url)
    _KEPT_CATALOGS[url] = catalog  # the newest last
    while len(_KEPT_CATALOGS) > _KEPT_MAX:
        _KEPT_CATALOGS.pop(next(iter(_KEPT_CATALOGS))).close()
    return catalog


#: The stored lot history read by this process: (catalog URL, its newest history write) -> what
#: was read under it (:func:`stored_history`); the newest few.
_STORED_HISTORY: dict[tuple, dict[str, Any]] = {}


def stored_history(catalog) -> dict[str, Any]:
    """What this process has read of the catalog's stored lot history (each baseline's versions,
    as rows and as :class:`~silicio.yields.history.Baseline`, and each version's static PAT
    limits), valid while the history's newest write (:func:`silicio.lake.queries.alerts.history_marker`:
    every write, an update, a freeze or an unfreeze, logs one in its transaction) is the same: a
    line that evaluates the rules at every ingest reads a version's limits once, not once a lot,
    and ``silicio limits update`` (or a freeze) in any process makes the next evaluation read them
    again. ``written``: whether the history has had a write (none: no version to read)."""
    from silicio.lake.queries.alerts import history_marker

    marker = history_marker(catalog.engine)
    key = (catalog.url, marker)
    held = _STORED_HISTORY.pop(key, None)
    if held is None:
        held = {"written": marker is not None, "versions": {}, "pat": {}}
    _STORED_HISTORY[key] = held  # the newest last
    while len(_STORED_HISTORY) > _KEPT_MAX:
        _STORED_HISTORY.pop(next(iter(_STORED_HISTORY)))
    return held


def release_connections(catalog) -> None:
    """Close the pooled connections of a kept catalog (its compiled statements stay)."""
    catalog.engine.dispose()


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
    #: the process's stored versions read under the catalog's newest history write (:func:`stored_history`)
    _history: dict[str, dict] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, lake, sha256s: list[str], kept: dict[str, dict[str, pa.Table]] | None = None) -> IngestedLots:
        """The files of the lots of files ``sha256s``; ``kept``: the tables the ingest kept of
        them in memory, by SHA-256 (read from the files otherwise)."""
        from silicio.lake.queries import alerts as queries

        catalog = kept_catalog(lake.catalog.url)
        return cls(lake, queries.ingested_file_rows(catalog.engine, sha256s), catalog, dict(kept or {}))

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

    def lot_index(self, keys: list[tuple[str | None, str, str]]) -> pl.DataFrame:
        """:func:`silicio.lake.queries.lot_index` of the lots of ``keys``, in its order."""
        from silicio.lake.queries import LOT_INDEX_SCHEMA

        groups = self._lot_groups(r for r in self._rows if r["lot"] is not None)
        wanted = set(keys)
        rows = [(*key, groups[key]["started"], groups[key]["files"])
                for key in self._in_test_order(groups) for _ in range(keys.count(key)) if key in wanted]  # fmt: skip
        return pl.DataFrame(rows, schema=LOT_INDEX_SCHEMA, orient="row")

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

    def _stored(self) -> dict[str, dict]:
        if self._history is None:
            self._history = stored_history(self.catalog)
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

    def final_bin_counts(self, lot: str, stage: str) -> list[dict[str, Any]] | pl.DataFrame | None:
        """:func:`silicio.lake.queries.final_bin_counts` of the lot's one file: its final dies
        (every part of the file, as the query reads the lot's files) per wafer, bins and verdict,
        as rows (a frame where a column has nulls)."""
        parts = self.file_table("parts", lot, stage)
        if parts is None:
            return None
        return final_bin_rows(parts, lot)

    def history_flags(
        self, keys: list[tuple[str | None, str, str]], settings
    ) -> tuple[pa.Table, tuple[str, ...]]:
        """:func:`silicio.yields.history.judge_lots_against_history` of the lots of ``keys``
        ((product, lot, stage)): those with a stored version and one file judged here, the
        others by the lake's function."""
        from silicio.yields.history import FLAG_COLUMNS, judge_lot, judge_lots_against_history

        flags, rest = [], []
        for product, lot, stage in keys:
            baseline, _ = self.stored_baseline(product, stage, lot)
            counts = self.final_bin_counts(lot, stage) if baseline is not None else None
            if counts is None:
                rest.append((product, stage, lot))
                continue
            flags.append(judge_lot(baseline, counts, lot))
        notes: tuple[str, ...] = ()
        if rest:
            table, notes = judge_lots_against_history(self.lake, rest, settings=settings)
            flags.append(table)
        return (pa.concat_tables(flags) if flags else FLAG_COLUMNS.empty_table()), notes

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


def _kept_frame(table: pa.Table, columns) -> pl.DataFrame | None:
    """:func:`_read_table` of a table the ingest kept in memory: its texts as plain text, as the
    file is read back; None when it lacks one of ``columns`` (the file is read then)."""
    if columns is not None:
        if any(c not in table.column_names for c in columns):
            return None
        table = table.select(list(columns))
    decoded = [
        pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in table.schema
    ]
    if any(pa.types.is_dictionary(f.type) for f in table.schema):
        table = table.cast(pa.schema(decoded))
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
        if pa.types.is_string_view(column.type):
            column = column.cast(pa.large_string())
        column = pc.dictionary_encode(column)
    remap, code_of = _codes_of_entries(column.dictionary)
    return _dictionary_codes(column, remap, code_of, len(code_of) == len(remap)), list(code_of)


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
    results are taken as arrays chunk by chunk as the table holds them (:class:`_Chunks`), texts
    as codes of their distinct values, and judged in compiled passes over the chunks (those of
    :func:`_static_pass`, then :func:`_dynamic_pass`): no frame of the judged results is built."""
    from silicio.yields.pat import TEST_FLG_ALARM, pat_limits
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
    row_of_key, static_lo, static_hi = static

    final = as_array(parts["is_last_test"], True)
    n_final = int(np.count_nonzero(final))
    if not n_final:
        return 0, 0
    table = tidy if isinstance(tidy, pa.Table) else tidy.to_arrow()
    if not table.num_rows:
        return 0, n_final
    # The results judged (passing parts' last parametric results, alarms aside) and each one's
    # test, wafer and limits as arrays, chunk by chunk as the table holds them (no column copied
    # into one array); texts as codes of their distinct values.
    chunks = _Chunks(table)
    value = chunks.numbers("result", np.nan, pa.float64())
    test_type, types = chunks.codes("test_type")
    type_ok = np.array([t in ("P", "M") for t in types], np.bool_)
    excluding = params.alarmed == "exclude" and "test_flg" in table.column_names
    flags = chunks.numbers("test_flg", 0, pa.int64()) if excluding else None
    last = chunks.numbers("is_last_test", False, pa.bool_())
    passed = chunks.numbers("part_passed", False, pa.bool_())
    part_valid = chunks.valid("part_index")
    judged = np.empty(table.num_rows, np.bool_)
    for c, (at, stop) in enumerate(chunks.bounds):
        _judged_rows(last[c], passed[c], value[c], test_type[c], type_ok,
                     flags[c] if flags is not None else np.zeros(0, np.uint8),
                     TEST_FLG_ALARM if excluding else 0, judged[at:stop])  # fmt: skip
        if part_valid[c] is not None:
            judged[at:stop] &= part_valid[c]
    if not judged.any():
        return 0, n_final
    number = chunks.numbers("test_num", -1, pa.int64())
    pin = chunks.numbers("pin", -1, pa.int64())
    name_code, _ = chunks.codes("test_name")
    coded = _chunked_test_codes(chunks, number, pin, name_code)
    if coded is None:
        return None
    test, first_rows = coded
    row_of_test = np.array(
        [
            row_of_key.get(chunks.row(row, ("test_num", "test_name", "pin")), -1)
            for row in first_rows.tolist()
        ],
        np.int64,
    )
    if dynamic is not None and dynamic.scope == "wafer":
        owner, wafers = chunks.codes("wafer_id")
        n_owners = len(wafers)
    else:  # the results are of one lot (lot_id filtered): all one population
        owner, n_owners = [np.zeros(stop - at, np.int64) for at, stop in chunks.bounds], 1
    spec_lo = chunks.numbers("lo_limit", np.nan, pa.float64())
    spec_hi = chunks.numbers("hi_limit", np.nan, pa.float64())
    n_tests = first_rows.size
    rejected, n, mean, sigma, lsl, usl = _static_pass(
        chunks.bounds, judged, test, owner, value, spec_lo, spec_hi, row_of_test, static_lo, static_hi, n_owners,
        n_tests, dynamic is not None,
    )  # fmt: skip
    if dynamic is not None:
        usable = (n >= dynamic.min_parts) & (sigma > 0)  # else: too few parts, or sigma 0: not screened
        lo, hi, _, _ = pat_limits(
            np.where(usable, mean, np.nan), np.where(usable, sigma, 0.0), dynamic.n, lsl, usl
        )
        group_test = np.tile(row_of_test, n_owners)
        at = np.where(group_test >= 0, group_test, 0)
        has = group_test >= 0
        own_lo = np.where(has, static_lo[at] if static_lo.size else np.nan, np.nan)
        own_hi = np.where(has, static_hi[at] if static_hi.size else np.nan, np.nan)
        # a side clamped to the static limit is the static limit: crossing it is PAT_STATIC's
        dynamic_lo = np.where(usable & ~(lo < own_lo), lo, np.nan)
        dynamic_hi = np.where(usable & ~(hi > own_hi), hi, np.nan)
        for c, (start, stop) in enumerate(chunks.bounds):
            _dynamic_pass(judged[start:stop], test[start:stop], owner[c], value[c], row_of_test, n_tests, dynamic_lo,
                          dynamic_hi, rejected[start:stop])  # fmt: skip
    hit_rows = np.flatnonzero(rejected)
    if not hit_rows.size:
        return 0, n_final
    hit = table.select(["wafer_id", "part_index"]).take(pa.array(hit_rows)).to_pydict()
    hits = set(zip(hit["wafer_id"], hit["part_index"], strict=True))
    # the final passing parts among the hit ones (numpy: see final_bin_rows)
    part_index = as_array(parts["part_index"], -1)
    candidates = final & as_array(parts["passed"], False) & np.isin(part_index, [part for _, part in hits])
    if parts["part_index"].null_count():
        candidates &= parts["part_index"].to_arrow().is_valid().to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(candidates)
    good = zip(
        parts["wafer_id"].to_arrow().take(pa.array(rows)).to_pylist(), part_index[rows].tolist(), strict=True
    )
    return sum(1 for key in set(good) if key in hits), n_final


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

    def numbers(self, name: str, null, dtype) -> list[np.ndarray]:
        """Column ``name``'s chunks as numpy arrays: of their own type (no copy but a boolean's
        unpacking) where they have no nulls, else of ``dtype`` with ``null`` for them."""
        out = []
        for chunk in self.table[name].chunks:
            if chunk.null_count == len(chunk):
                out.append(np.full(len(chunk), null, dtype.to_pandas_dtype()))
            elif chunk.null_count:
                out.append(chunk.cast(dtype).fill_null(pa.scalar(null, dtype)).to_numpy(zero_copy_only=False))
            else:
                out.append(chunk.to_numpy(zero_copy_only=False))
        return out

    def valid(self, name: str) -> list[np.ndarray | None]:
        """Whether each row of column ``name`` has a value, chunk by chunk (None: every row)."""
        return [chunk.is_valid().to_numpy(zero_copy_only=False) if chunk.null_count else None
                for chunk in self.table[name].chunks]  # fmt: skip

    def codes(self, name: str) -> tuple[list[np.ndarray], list]:
        """:func:`value_codes` of column ``name``, chunk by chunk: a dictionary column's indices
        as they are where its dictionary holds each text once (the chunks' dictionaries unified
        first where they differ)."""
        column = self.table[name]
        if not pa.types.is_dictionary(column.type):
            codes, values = value_codes(column)
            return [codes[start:stop] for start, stop in self.bounds], values
        chunks = column.chunks
        if any(not chunk.dictionary.equals(chunks[0].dictionary) for chunk in chunks[1:]):
            chunks = column.unify_dictionaries().chunks
        remap, code_of = _codes_of_entries(chunks[0].dictionary)
        as_indices = len(code_of) == len(remap)
        return [_dictionary_codes(chunk, remap, code_of, as_indices) for chunk in chunks], list(code_of)

    def row(self, row: int, columns: tuple[str, ...]) -> tuple:
        """The values of ``columns`` in row ``row`` of the table, as Python values."""
        chunk = (
            int(np.searchsorted(self.starts, row, "right")) - 1
        )  # an empty chunk starts where the next does
        at = row - int(self.starts[chunk])
        return tuple(self.table[name].chunk(chunk)[at].as_py() for name in columns)


def _chunked_test_codes(chunks: _Chunks, number: list[np.ndarray], pin: list[np.ndarray],
                        name_code: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:  # fmt: skip
    """:func:`_test_codes` of the chunks of a table: the same codes and first rows."""
    ranges = [_ranges(n, p) for n, p in zip(number, pin, strict=True) if n.size]
    low, high = min(r[0] for r in ranges), max(r[1] for r in ranges)
    pin_low, pin_high = min(r[2] for r in ranges), max(r[3] for r in ranges)
    radix = pin_high - pin_low + 1
    if (high - low + 1) * radix > _DENSE_TEST_SLOTS:  # sparse numbers: the one-array way
        return _test_codes(np.concatenate(number), np.concatenate(pin), np.concatenate(name_code))
    code_of_slot = np.full((high - low + 1) * radix, -1, np.int64)
    rows = chunks.table.num_rows
    code, first, first_name = np.empty(rows, np.int64), np.empty(rows, np.int64), np.empty(rows, np.int64)
    state = np.zeros(2, np.int64)  # codes given, a name that does not follow its code
    for c, (start, stop) in enumerate(chunks.bounds):
        _codes_by_slot_into(number[c], pin[c], low, pin_low, radix, name_code[c], start, code_of_slot,
                            code[start:stop], first, first_name, state)  # fmt: skip
    return None if state[1] else (code, first[: state[0]].copy())


@nb.njit(cache=True, nogil=True)
def _codes_by_slot_into(major, minor, major_low, minor_low, radix, name_hash, base, code_of_slot, code, first,
                        first_name, state):  # fmt: skip
    """:func:`_codes_by_slot` of one chunk (rows from ``base``) with the codes so far
    (``code_of_slot``, ``first`` and ``first_name`` of each code, ``state``: codes given, and 1
    once a name does not follow its code)."""
    n = state[0]
    for i in range(minor.size):
        slot = (np.int64(major[i]) - major_low) * radix + (np.int64(minor[i]) - minor_low)
        c = code_of_slot[slot]
        if c < 0:
            c = n
            code_of_slot[slot] = c
            first[c] = base + i
            first_name[c] = name_hash[i]
            n += 1
        elif name_hash[i] != first_name[c]:
            state[1] = 1
        code[i] = c
    state[0] = n


#: The wafer codes of the last lot's parts frame (the frame kept, so its id stays its own).
_WAFER_CODES: dict[int, tuple[pl.DataFrame, tuple[np.ndarray, list]]] = {}


def wafer_codes(parts: pl.DataFrame) -> tuple[np.ndarray, list]:
    """:func:`value_codes` of ``parts["wafer_id"]``, kept for the last frame asked about: the
    wafer maps and the bin counts of a lot code the same frame (~2 ms CPU a 6-wafer lot)."""
    kept = _WAFER_CODES.get(id(parts))
    if kept is not None and kept[0] is parts:
        return kept[1]
    codes = value_codes(parts["wafer_id"].to_arrow())
    _WAFER_CODES.clear()
    _WAFER_CODES[id(parts)] = (parts, codes)
    return codes


_BIN_COUNT_COLUMNS = ("wafer_id", "hard_bin", "soft_bin", "passed", "is_last_test")


def final_bin_rows(parts: pl.DataFrame, lot: str) -> list[dict[str, Any]] | pl.DataFrame:
    """lot, wafer_id, hard_bin, soft_bin, passed, dies of the final parts (``is_last_test``) of
    ``parts``, in no order (:func:`silicio.yields.history.judge_lot` sums them): counted with numpy
    over a key of the four (a few polars operations cost more CPU than a lot's count, in the
    threads they wake); a frame grouped by polars where a column has nulls (a group of their own)."""
    bins = [parts[c].to_numpy() for c in ("hard_bin", "soft_bin")]
    if any(parts[c].null_count() for c in _BIN_COUNT_COLUMNS) or any(
        b.size and (b.min() < 0 or b.max() > 0xFFFF) for b in bins
    ):
        return (
            parts.filter(pl.col("is_last_test"))
            .group_by("wafer_id", "hard_bin", "soft_bin", "passed")
            .agg(pl.len().cast(pl.Int64).alias("dies"))
            .select(pl.lit(lot, pl.String).alias("lot"), "wafer_id", "hard_bin", "soft_bin", "passed", "dies")
        )
    final = parts["is_last_test"].to_numpy()
    wafer, wafers = wafer_codes(parts)
    hard, soft = (b[final].astype(np.int64) for b in bins)
    key = ((wafer[final].astype(np.int64) * 65536 + hard) * 65536 + soft) * 2 + parts["passed"].to_numpy()[
        final
    ]
    keys, dies = np.unique(key, return_counts=True)
    return [{"lot": lot, "wafer_id": wafers[k >> 33], "hard_bin": (k >> 17) & 0xFFFF, "soft_bin": (k >> 1) & 0xFFFF,
             "passed": bool(k & 1), "dies": n} for k, n in zip(keys.tolist(), dies.tolist(), strict=True)]  # fmt: skip


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


def _static_rows(
    static_limits: pa.Table | pl.DataFrame, tests
) -> tuple[dict[tuple, int], np.ndarray, np.ndarray] | None:
    """(test_num, test_name, pin) -> row of the static limits (of ``tests``), and the rows' low and
    high limits (NaN: none, a skipped test has none); None when the limits are per lot or name a
    test twice (the screening refuses them). A few rows: read in Python."""
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
    rows = {(r["test_num"], r["test_name"], r["pin"]): row for row, r in enumerate(limits)}
    if len(rows) != len(limits):
        return None
    lo, hi = (
        np.array([np.nan if r["skipped"] or r[column] is None else r[column] for r in limits], np.float64)
        for column in ("pat_lo", "pat_hi")
    )
    return rows, lo, hi


#: Test numbers and pins coded through a dense table up to this many slots (a few MB).
_DENSE_TEST_SLOTS = 1 << 22


def _test_codes(
    number: np.ndarray, pin: np.ndarray, name_hash: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Each row's test as a code 0..n-1 (in the order tests first appear) from its number and pin
    (-1: null), and each code's first row; None when a test's name does not follow its number
    and pin (two names under one number and pin: the screening keys them apart)."""
    low, high, pin_low, pin_high = _ranges(number, pin)
    radix = pin_high - pin_low + 1
    if (high - low + 1) * radix <= _DENSE_TEST_SLOTS:
        code, first_rows, names_follow = _codes_by_slot(number, pin, low, pin_low, radix, (high - low + 1) * radix,
                                                        name_hash)  # fmt: skip
    else:  # sparse numbers: ranked among the distinct ones
        combined = number.astype(np.int64) * 65538 + (pin.astype(np.int64) + 1)  # pins are 16-bit, null below
        distinct = np.unique(combined)
        slot, slots = np.searchsorted(distinct, combined), distinct.size
        # the rank is the slot: passed as the minor key, with no major part (radix 0)
        code, first_rows, names_follow = _codes_by_slot(slot, slot, 0, 0, 0, slots, name_hash)
    return (code, first_rows) if names_follow else None


@nb.njit(cache=True, nogil=True)
def _ranges(number, pin):
    """(lowest, highest) test number and pin."""
    low, high = np.int64(number[0]), np.int64(number[0])
    pin_low, pin_high = np.int64(pin[0]), np.int64(pin[0])
    for i in range(number.size):
        n, p = np.int64(number[i]), np.int64(pin[i])
        low, high = min(low, n), max(high, n)
        pin_low, pin_high = min(pin_low, p), max(pin_high, p)
    return low, high, pin_low, pin_high


@nb.njit(cache=True, nogil=True)
def _judged_rows(last, passed, value, type_code, type_ok, flags, alarm, judged):
    """Marks in ``judged`` the results judged: a part's last test, the part passing, a finite
    result of a judged test type, and (``alarm`` not 0, ``flags`` given) no alarm flag set; one
    pass, no temporaries. Returns ``judged``."""
    for i in range(value.size):
        judged[i] = (
            last[i] and passed[i] and np.isfinite(value[i]) and type_ok[type_code[i]]
            and (alarm == 0 or (flags[i] & alarm) == 0)
        )  # fmt: skip
    return judged


@nb.njit(cache=True, nogil=True)
def _codes_by_slot(major, minor, major_low, minor_low, radix, n_slots, name_hash):
    """Codes of the rows' slots (major - major_low) * radix + (minor - minor_low), computed row by
    row (no array of them), in order of first appearance; each code's first row, and whether
    every row's name hash equals its code's first row's (:func:`_codes_by_slot_into`, one chunk)."""
    code_of_slot = np.full(n_slots, -1, np.int64)
    code, first = np.empty(minor.size, np.int64), np.empty(minor.size, np.int64)
    first_name = np.empty(minor.size, np.int64)
    state = np.zeros(2, np.int64)
    _codes_by_slot_into(major, minor, major_low, minor_low, radix, name_hash, 0, code_of_slot, code, first,
                        first_name, state)  # fmt: skip
    return code, first[: state[0]].copy(), state[1] == 0


class _GroupSums:
    """Each (owner, test) group's dynamic population as :func:`_static_sums` and
    :func:`_static_squares` add it up over the chunks of a lot's results."""

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


def _static_pass(bounds, judged, test, owner, value, spec_lo, spec_hi, row_of_test, static_lo, static_hi, n_owners,
                 n_tests, dynamic):  # fmt: skip
    """The judged results outside the static limits of their test, and per (owner, test) group the
    dynamic population (results with static limits, inside them and inside the specification,
    NaN no limit): its size, mean and sample sigma (ddof 1, two passes: sums, then squared
    deviations from the mean) and tightest specification limits (NaN: none). The results come in
    chunks, ``bounds`` each one's (start, stop) rows: ``judged`` and ``test`` whole arrays,
    ``owner``, ``value``, ``spec_lo`` and ``spec_hi`` a list of arrays, one a chunk."""
    rejected = np.zeros(judged.size, np.bool_)
    state = _GroupSums(n_owners * n_tests)
    for c, (at, stop) in enumerate(bounds):
        _static_sums(judged[at:stop], test[at:stop], owner[c], value[c], spec_lo[c], spec_hi[c], row_of_test,
                     static_lo, static_hi, n_tests, dynamic, rejected[at:stop], *state.sums)  # fmt: skip
    mean = state.mean()
    if dynamic:
        for c, (at, stop) in enumerate(bounds):
            _static_squares(judged[at:stop], rejected[at:stop], test[at:stop], owner[c], value[c], spec_lo[c],
                            spec_hi[c], row_of_test, n_tests, mean, state.squares)  # fmt: skip
    return rejected, state.count, mean, state.sigma(), state.lsl, state.usl


@nb.njit(cache=True, nogil=True)
def _static_sums(judged, test, owner, value, spec_lo, spec_hi, row_of_test, static_lo, static_hi, n_tests,
                 dynamic, rejected, count, total, lsl, usl):  # fmt: skip
    """The first pass of :func:`_static_pass` over one chunk: marks in ``rejected`` the judged
    results outside their test's static limits, adds the others inside the specification (with
    static limits) to their group's ``count`` and ``total``, and tightens its ``lsl`` / ``usl``."""
    for i in range(value.size):
        if not judged[i]:
            continue
        row = row_of_test[test[i]]
        if row < 0:
            continue
        v = value[i]
        if v < static_lo[row] or v > static_hi[row]:
            rejected[i] = True
            continue
        if not dynamic or v < spec_lo[i] or v > spec_hi[i]:
            continue
        g = owner[i] * n_tests + test[i]
        count[g] += 1
        total[g] += v
        if not np.isnan(spec_lo[i]) and not spec_lo[i] <= lsl[g]:
            lsl[g] = spec_lo[i]
        if not np.isnan(spec_hi[i]) and not spec_hi[i] >= usl[g]:
            usl[g] = spec_hi[i]


@nb.njit(cache=True, nogil=True)
def _static_squares(
    judged, rejected, test, owner, value, spec_lo, spec_hi, row_of_test, n_tests, mean, squares
):
    """The second pass of :func:`_static_pass` over one chunk: each population result's squared
    deviation from its group's mean added to ``squares``."""
    for i in range(value.size):
        if not judged[i] or rejected[i]:
            continue
        row = row_of_test[test[i]]
        v = value[i]
        if row < 0 or v < spec_lo[i] or v > spec_hi[i]:
            continue
        g = owner[i] * n_tests + test[i]
        squares[g] += (v - mean[g]) ** 2


@nb.njit(cache=True, nogil=True)
def _dynamic_pass(judged, test, owner, value, row_of_test, n_tests, dynamic_lo, dynamic_hi, rejected):
    """Marks in ``rejected`` the judged results with static limits outside their group's dynamic
    limits (NaN: none)."""
    for i in range(value.size):
        if not judged[i] or rejected[i] or row_of_test[test[i]] < 0:
            continue
        g = owner[i] * n_tests + test[i]
        if value[i] < dynamic_lo[g] or value[i] > dynamic_hi[g]:
            rejected[i] = True
