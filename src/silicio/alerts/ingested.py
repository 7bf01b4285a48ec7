"""The facts the built-in rules read, taken from what an ingest brought in rather than from the
whole lake: the catalog rows of the ingested files and their lots (SQLAlchemy), each new lot's
parts and test results from the Parquet its one file wrote (pyarrow), the stored lot-history
versions its SYL / SBL and static PAT limits come from (read once per program, shared by the
rules). No DuckDB connection is opened, which binds every file of the lake before its first
query and costs more than a small lot's rules.

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

import numpy as np
import polars as pl
import pyarrow as pa

__all__ = ["PAT_COLUMNS", "IngestedLots", "pat_share_of_lot"]

#: The tidy columns :func:`pat_share_of_lot` reads.
PAT_COLUMNS = ("lot_id", "wafer_id", "part_index", "test_num", "test_name", "pin", "test_type", "result", "lo_limit",
               "hi_limit", "part_passed", "is_last_test", "test_flg")  # fmt: skip


@dataclass
class IngestedLots:
    """The catalog's files of the lots an ingest touched (:func:`silicio.lake.queries.alerts.ingested_files`),
    and what is read from them once: each lot's file tables and each program's stored versions."""

    lake: Any
    files: pl.DataFrame
    _tables: dict[tuple, pl.DataFrame | None] = field(default_factory=dict, repr=False)
    _versions: dict[Any, list[dict[str, Any]]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, lake, sha256s: list[str]) -> IngestedLots:
        from silicio.lake.queries import alerts as queries

        return cls(lake, queries.ingested_files(lake.catalog.engine, sha256s))

    def lots(self) -> pl.DataFrame:
        """product, lot, stage of the ingested files (one row per lot and stage), in the order
        their testing began (:func:`silicio.lake.queries.alerts.ingested_lots`)."""
        return (
            self.files.filter(pl.col("ingested") & pl.col("lot").is_not_null())
            .group_by("product", "lot", "stage")
            .agg(pl.col("started").min())
            .sort(["started", "lot", "stage"], nulls_last=True)
            .select("product", "lot", "stage")
        )

    def knows(self, keys: list[tuple[str | None, str, str]]) -> bool:
        """Whether these (product, lot, stage) are all lots of the files read."""
        held = set(self.files.select("product", "lot", "stage").iter_rows())
        return all(key in held for key in keys)

    def _only_file(self, lot: str, stage: str) -> dict[str, Any] | None:
        """The lot's one file at ``stage`` when this ingest brought it and the lake holds no other."""
        rows = self.files.filter((pl.col("lot") == lot) & (pl.col("stage") == stage))
        if rows.height != 1 or not rows["ingested"][0]:
            return None
        return rows.row(0, named=True)

    def file_table(
        self, table: str, lot: str, stage: str, columns: tuple[str, ...] | None = None
    ) -> pl.DataFrame | None:
        """Table ``table`` of the lot's one file (``columns``: those it has of them), rows in
        the order the tester wrote them; None when the lot has other files (or the file wrote no
        such table)."""
        key = (table, lot, stage, columns)
        if key not in self._tables:
            from silicio.lake.queries import alerts as queries

            row = self._only_file(lot, stage)
            found = None
            if row is not None:
                wanted = None if columns is None else (*columns, "seq")
                found = queries.file_table(
                    self.lake.layout, table, row["product"], lot, stage, row["sha256"], wanted
                )
                if found is not None and "seq" in found.columns:
                    if not found["seq"].is_sorted():  # written in order: no sort
                        found = found.sort("seq", maintain_order=True)
                    if columns is not None:
                        found = found.drop("seq")
            self._tables[key] = found
        return self._tables[key]

    def lot_frame(
        self, table: str, lot: str, stage: str, columns: tuple[str, ...] | None = None
    ) -> pl.DataFrame | None:
        """:func:`file_table` rows of lot ``lot`` (``lot_id``), as the lake's one-lot queries filter."""
        found = self.file_table(table, lot, stage, columns)
        if found is None:
            return None
        return found.filter(pl.col("lot_id") == lot)

    def lot_index(self, keys: list[tuple[str | None, str, str]]) -> pl.DataFrame:
        """:func:`silicio.lake.queries.lot_index` of the lots of ``keys``, in its order."""
        from silicio.lake.queries import LOT_INDEX_SCHEMA

        wanted = pl.DataFrame(keys, schema=["product", "lot", "stage"], orient="row")
        index = (
            self.files.filter(pl.col("lot").is_not_null())
            .group_by("product", "lot", "stage")
            .agg(pl.col("started").min(), pl.len().cast(pl.Int64).alias("files"))
            .join(wanted, on=["product", "lot", "stage"], nulls_equal=True)
            .sort(["started", "lot", "stage"], nulls_last=True)
        )
        return index.select(list(LOT_INDEX_SCHEMA)).cast(LOT_INDEX_SCHEMA)

    def history_key(self, product: str | None, stage: str, lot: str):
        """(baseline key, test start) of a lot as :func:`silicio.lake.queries.history_lots`
        gives them: the program and revision of its first file in test order, its earliest start."""
        from silicio.lake.catalog import BaselineKey

        rows = self.files.filter(
            pl.col("product").eq_missing(product) & (pl.col("stage") == stage) & (pl.col("lot") == lot)
        )
        if rows.is_empty():
            raise ValueError(f"no lot {lot!r} of product {product!r} at stage {stage!r} in the lake")
        first = rows.row(0, named=True)  # the files are in test order
        return BaselineKey(product, stage, first["program"], first["revision"]), rows["started"].min()

    def stored_versions(self, key) -> list[dict[str, Any]]:
        """The catalog's versions of baseline ``key`` (read once)."""
        if key not in self._versions:
            self._versions[key] = self.lake.catalog.baseline_versions(key)
        return self._versions[key]

    def stored_baseline(self, product: str | None, stage: str, lot: str):
        """The stored version the lot is judged against (:func:`silicio.yields.history.history_baseline`'s
        choice: frozen, else newest, of those computed from lots tested before it) and its
        catalog row; (None, None) when no stored version qualifies."""
        from silicio.yields.history import _stored_choice, baseline_from_version

        key, started = self.history_key(product, stage, lot)
        versions = self.stored_versions(key)
        if started is None:
            return None, None
        chosen = _stored_choice([baseline_from_version(key, v) for v in versions], lot, started)
        if chosen is None:
            return None, None
        return chosen, next(v for v in versions if v["version"] == chosen.version)

    def final_bin_counts(self, lot: str, stage: str) -> pl.DataFrame | None:
        """:func:`silicio.lake.queries.final_bin_counts` of the lot's one file: its final dies
        (every part of the file, as the query reads the lot's files) per wafer, bins and verdict."""
        from silicio.lake.queries.history import BIN_COUNT_COLUMNS

        parts = self.file_table("parts", lot, stage)
        if parts is None:
            return None
        counts = (
            parts.filter(pl.col("is_last_test"))
            .group_by("wafer_id", "hard_bin", "soft_bin", "passed")
            .agg(pl.len().cast(pl.Int64).alias("dies"))
            .select(pl.lit(lot, pl.String).alias("lot"), "wafer_id", "hard_bin", "soft_bin", "passed", "dies")
        )
        table = counts.to_arrow().cast(BIN_COUNT_COLUMNS)
        return pl.from_arrow(
            table.sort_by([(c, "ascending") for c in ("lot", "wafer_id", "hard_bin", "soft_bin", "passed")])
        )

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
        rows = self.lake.catalog.baseline_pat_limits(version["id"])
        return _pat_table(rows) if rows else None


# -- PAT counted against static limits: a comparison, and each wafer's dynamic limits


def pat_share_of_lot(
    tidy: pl.DataFrame, parts: pl.DataFrame, static_limits: pa.Table, recipe
) -> tuple[int, int] | None:
    """(PAT parts, final parts) of one lot: what :func:`silicio.yields.disposition.pat_shares`
    counts after :func:`silicio.yields.screen` with the recipe's PAT rule and these static limits
    (AEC-Q001 Rev-D §3.1.1 static limits given, §3.1.2 dynamic limits mean ± n sigma per wafer or
    lot, clamped inside the static ones). None when the recipe is one the screening must run
    (see the module notes) or the limits name a test twice (the screening refuses them)."""
    from silicio.yields.pat import PART_KEY, TEST_KEY, _alarm, _counts, _static_frame, pat_limits
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
    static = _static_frame(static_limits)
    if "lot_id" in static.columns:
        return None
    if not isinstance(params.tests, str):
        static = static.filter(pl.col("test_num").is_in(list(params.tests)))
    if static.select(pl.struct(*TEST_KEY).is_duplicated().any()).item():
        return None

    final = parts.filter(pl.col("is_last_test").fill_null(True))
    if final.is_empty():
        return 0, 0
    judged = _counts() & pl.col("part_passed").fill_null(False)
    if params.alarmed == "exclude":
        judged &= ~_alarm(tidy)
    # The results judged (passing parts' last parametric results) as row numbers of ``tidy``:
    # their columns are taken as arrays, the text columns coded over all rows, never copied.
    taken = np.flatnonzero(tidy.select(judged.fill_null(False))[:, 0].to_numpy())
    if not taken.size:
        return 0, final.height

    # each result's test as an integer code (a test's name follows its number and pin), its row
    # of the static limits (-1: its test has none)
    found = _test_codes(tidy)
    if found is None:
        return None
    all_tests, tests = found
    test = all_tests[taken]
    row_of_test = (
        tests.join(
            static.select(*TEST_KEY).with_row_index("_row"),
            on=list(TEST_KEY),
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )["_row"]  # fmt: skip
        .fill_null(-1)
        .cast(pl.Int64)
        .to_numpy()
    )
    row = row_of_test[test]
    has = row >= 0
    at = np.where(has, row, 0)
    value = tidy["result"].to_numpy().astype(np.float64, copy=False)[taken]
    skipped = static["skipped"].to_numpy()
    pat_lo = static["pat_lo"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    pat_hi = static["pat_hi"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    static_lo = np.where(skipped, np.nan, pat_lo)  # a skipped test has no limits
    static_hi = np.where(skipped, np.nan, pat_hi)
    result_lo = np.where(has, static_lo[at], np.nan) if static.height else np.full(value.size, np.nan)
    result_hi = np.where(has, static_hi[at], np.nan) if static.height else np.full(value.size, np.nan)
    rejected = has & ~_within(value, result_lo, result_hi)

    if dynamic is not None and has.any():
        lo_limit, hi_limit = tidy["lo_limit"].gather(taken), tidy["hi_limit"].gather(taken)
        spec_lo = lo_limit.cast(pl.Float64).fill_null(np.nan).to_numpy()
        spec_hi = hi_limit.cast(pl.Float64).fill_null(np.nan).to_numpy()
        population = has & _within(value, spec_lo, spec_hi) & _within(value, result_lo, result_hi)
        # the results are of one lot (lot_id filtered): per wafer, or all one population
        owner = (
            _run_codes(tidy["wafer_id"])[taken]
            if dynamic.scope == "wafer"
            else np.zeros(taken.size, np.int64)
        )
        group = owner * tests.height + test
        chosen = pl.Series(population)
        per_group = (
            pl.DataFrame([pl.Series("_code", group).filter(chosen), pl.Series("value", value).filter(chosen),
                          lo_limit.filter(chosen), hi_limit.filter(chosen)])
            .group_by("_code")
            .agg(pl.len().alias("n"), pl.col("lo_limit").max().alias("lsl"), pl.col("hi_limit").min().alias("usl"),
                 pl.col("value").mean().alias("mean"), pl.col("value").std(ddof=1).alias("std"))
        )  # fmt: skip
        if per_group.height:
            code = per_group["_code"].to_numpy()
            n = per_group["n"].to_numpy()
            sigma = np.where(n > 1, per_group["std"].cast(pl.Float64).fill_null(0.0).to_numpy(), 0.0)
            usable = (n >= dynamic.min_parts) & (sigma > 0)  # else: too few parts, or sigma 0: not screened
            mean = per_group["mean"].cast(pl.Float64).fill_null(np.nan).to_numpy()
            lsl = per_group["lsl"].cast(pl.Float64).fill_null(np.nan).to_numpy()
            usl = per_group["usl"].cast(pl.Float64).fill_null(np.nan).to_numpy()
            lo, hi, _, _ = pat_limits(np.where(usable, mean, np.nan), np.where(usable, sigma, 0.0), dynamic.n,
                                      lsl, usl)  # fmt: skip
            test_of = row_of_test[code % tests.height]
            # a side clamped to the static limit is the static limit: crossing it is PAT_STATIC's
            lo = np.where(usable & ~(lo < static_lo[test_of]), lo, np.nan)
            hi = np.where(usable & ~(hi > static_hi[test_of]), hi, np.nan)
            slot = np.full(int(group.max()) + 1, -1, np.int64)
            slot[code] = np.arange(code.size)
            mine = np.where(has, slot[np.where(has, group, 0)], -1)
            judged_here = mine >= 0
            where = np.where(judged_here, mine, 0)
            dyn_lo = np.where(judged_here & usable[where], lo[where], np.nan)
            dyn_hi = np.where(judged_here & usable[where], hi[where], np.nan)
            rejected |= judged_here & usable[where] & ~_within(value, dyn_lo, dyn_hi)

    hit = tidy[taken[rejected]].select(PART_KEY).unique()
    good = final.filter(pl.col("passed").fill_null(False)).select(PART_KEY)
    pat_parts = hit.join(good, on=list(PART_KEY), how="semi", nulls_equal=True).height
    return pat_parts, final.height


def _test_codes(data: pl.DataFrame) -> tuple[np.ndarray, pl.DataFrame] | None:
    """Each row's test (:data:`silicio.yields.pat.TEST_KEY`) as a code 0..n-1 and the tests by
    code, coded on the number and pin (integers) alone; None when a test's name does not follow
    them (two names under one number and pin: the screening keys them apart)."""
    number = data["test_num"].cast(pl.Int64).to_numpy()
    pin = data["pin"].cast(pl.Int64).fill_null(-1).to_numpy()
    combined = number * 65538 + (pin + 1)  # pins are 16-bit, null below them
    distinct = np.sort(pl.Series(combined).unique().to_numpy())
    code = np.searchsorted(distinct, combined)
    first = np.empty(distinct.size, np.int64)
    first[code[::-1]] = np.arange(code.size - 1, -1, -1)  # each code's first row
    names = data["test_name"].hash().to_numpy()  # 64-bit: equal names, equal hashes
    if not (names == names[first[code]]).all():
        return None
    return code, data.select("test_num", "test_name", "pin")[first]


def _run_codes(column: pl.Series) -> np.ndarray:
    """Each value's code 0..n-1 (null one of them), looking only at the first row of each run of
    equal values: a lot's results come wafer by wafer."""
    run = column.rle_id().to_numpy()
    heads = np.flatnonzero(np.diff(run, prepend=-1))
    head_values = column.gather(heads)
    distinct = head_values.unique(maintain_order=True)
    codes = (
        pl.DataFrame({"v": head_values})
        .join(
            pl.DataFrame({"v": distinct}).with_row_index("c"),
            on="v",
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )["c"]  # fmt: skip
        .to_numpy()
        .astype(np.int64)
    )
    return codes[run]


def _within(value: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    # NaN is no limit: a comparison with NaN is False
    return ~((value < lo) | (value > hi))
