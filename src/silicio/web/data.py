"""What the dashboard shows, computed once: lake queries and :mod:`silicio.yields` analyses
turned into the page models of :mod:`silicio.web.models`.

Both the HTML pages and their JSON twins call :class:`Dashboard`, so a number on a page is the
number the API returns. Results are cached until the catalog changes (files ingested or
quarantined): a lot's parts and tests are read once, a product's screening runs once, outside the
lock the requests share (it is the slowest part by far).

Lots are named by their LOT_ID and tested at one or more stages (``wafer_sort``,
``final_test``, ...); a lot's page shows one stage at a time, wafer sort when there is one.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import numpy as np
import polars as pl
import pyarrow as pa

from silicio import lake as silicio_lake
from silicio.lake.layout import WAFER_SORT, partition_value
from silicio.yields import (
    ScreeningResult,
    bin_counts,
    bin_definitions,
    bin_map,
    bin_pareto,
    consolidate_retests,
    load_recipe,
    parametric_map,
    per_test_statistics,
    screen,
    stacked_fail_map,
    static_pat_limits,
    statistical_yield_analysis,
    yield_by,
)
from silicio.yields.excursion import lot_parametric_shifts
from silicio.yields.recipe import Recipe

from . import models as m

#: The screening the PAT page and the hold rules run unless the settings name another recipe.
DEFAULT_RECIPE = "automotive_wafer_sort.toml"
# Tidy columns the screening rules read (PAT, NNR, GDBN); the rest stay on disk.
_SCREEN_COLUMNS = ("lot_id", "wafer_id", "part_index", "part_id", "x", "y", "test_num", "test_name", "pin",
                   "test_type", "result", "lo_limit", "hi_limit", "hard_bin", "soft_bin", "part_passed",
                   "is_last_test")  # fmt: skip
_PAT_RULES = ("PAT_STATIC", "PAT_DYNAMIC")


class NotFound(LookupError):
    """A lot, wafer or test the lake does not hold; the message says which."""


class Pending(RuntimeError):
    """What a page needs is still being computed in the background (the screening); ask again."""


@dataclass(frozen=True)
class Settings:
    """How the dashboard judges lots; the defaults need no configuration."""

    #: Lots whose final yield is below this fraction are held.
    hold_yield: float = 0.80
    #: Lots with a larger share of parts outside PAT limits (AEC-Q001) are held.
    pat_hold_fraction: float = 0.01
    #: Lots whose median moved by more than this many part-level robust sigmas, on two tests or
    #: more, are held (a parametric excursion the per-part screens cannot see).
    shift_hold_sigma: float = 2.0
    #: Screening recipe (TOML path) of the PAT page; default the automotive wafer-sort recipe.
    recipe: str | os.PathLike[str] | None = None
    #: Wait for the PAT screening where a page needs it (the overview's PAT holds); False shows
    #: the overview without them, with a note, while the screening runs in the background.
    wait_for_screening: bool = True
    #: Seconds between two looks at the catalog for new files (0: every request).
    catalog_check_seconds: float = 1.0
    worst_tests: int = 10
    histogram_bins: int = 40
    #: Cached results kept (lots, wafers, tests, screenings), least recently used dropped first.
    cache_entries: int = 256


# ------------------------------------------------------------------------------------------------
# Links


def lot_url(lot_id: str, stage: str | None = None) -> str:
    return f"/lot/{quote(lot_id, safe='')}" + (f"?{urlencode({'stage': stage})}" if stage else "")


def wafer_url(lot_id: str, wafer_id: str, stage: str | None = None, **query: Any) -> str:
    params = {k: v for k, v in {"stage": stage, **query}.items() if v is not None}
    return f"/lot/{quote(lot_id, safe='')}/wafer/{quote(wafer_id, safe='')}" + (
        f"?{urlencode(params)}" if params else ""
    )


def report_url(lot_id: str, stage: str) -> str | None:
    """The lot report's page, when this installation has :mod:`silicio.yields.report`."""
    if importlib.util.find_spec("silicio.yields.report") is None:
        return None
    return f"/lot/{quote(lot_id, safe='')}/report?{urlencode({'stage': stage})}"


def test_url(test_num: int, product: str | None = None, name: str | None = None) -> str:
    params = {k: v for k, v in {"product": product, "name": name}.items() if v is not None}
    return f"/test/{int(test_num)}" + (f"?{urlencode(params)}" if params else "")


# ------------------------------------------------------------------------------------------------
# Conversions


def _clean(value: Any) -> Any:
    """JSON-safe cell: NaN and infinities become None (no number to show)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _rows(table: pa.Table | pl.DataFrame, model: type[m.Row], **extra: Callable[[dict], Any]) -> list:
    """One ``model`` per row; ``extra`` computes fields (``url=lambda row: ...``) from the row."""
    records = table.to_dicts() if isinstance(table, pl.DataFrame) else table.to_pylist()
    names = model.model_fields.keys()
    out = []
    for record in records:
        values = {k: _clean(record[k]) for k in names if k in record}
        for key, compute in extra.items():
            values[key] = compute(record)
        out.append(model(**values))
    return out


def _map_data(wafer_map, bin_names: dict[int, str] | None = None) -> m.WaferMapData:
    return m.WaferMapData(
        kind=wafer_map.kind,
        label=wafer_map.label,
        x=wafer_map.x.tolist(),
        y=wafer_map.y.tolist(),
        value=[_clean(float(v)) for v in wafer_map.value],
        good=wafer_map.good.tolist() if wafer_map.good is not None else None,
        count=wafer_map.count.tolist() if wafer_map.count is not None else None,
        bin_names={str(k): v for k, v in (bin_names or {}).items() if v},
    )


def _die_url(row: dict) -> str:
    """A screened part's die on its wafer map (its lot for a part outside wafers)."""
    if row["wafer_id"] is None:
        return lot_url(row["lot_id"], WAFER_SORT)
    return wafer_url(row["lot_id"], row["wafer_id"], WAFER_SORT, x=row["x"], y=row["y"])


def _reason_url(row: dict) -> str | None:
    return test_url(row["test_num"], row["product"]) if row["test_num"] is not None else None


def _total(yields: pa.Table) -> m.WaferYield:
    rows = _rows(yields.append_column("wafer_id", pa.nulls(yields.num_rows, pa.string())), m.WaferYield)
    return rows[0] if rows else m.WaferYield(wafer_id=None, tested=0, retests=0, first_pass_dies=0,
                                             first_pass_good=0, final_good=0)  # fmt: skip


@dataclass
class _Screenings:
    """Screening of each product's wafer-sort lots, and why others were not screened."""

    results: dict[str | None, ScreeningResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: Lots shifted as a whole (:func:`silicio.yields.excursion.lot_parametric_shifts`).
    lot_shifts: pl.DataFrame | None = None


# ------------------------------------------------------------------------------------------------


class Dashboard:
    """The pages' data over the lake in ``data_dir``; safe to share between request threads."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, database_url: str | None = None,
                 settings: Settings | None = None):  # fmt: skip
        self.data_dir = Path(data_dir) if data_dir is not None else silicio_lake.default_data_dir()
        self.database_url = database_url
        self.settings = settings or Settings()
        self._lake: silicio_lake.Lake | None = None
        self._tables: set[str] = set()
        self._token: Hashable = None
        self._checked = -math.inf
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        # One DuckDB connection and one cache: requests take turns (pages are quick once cached).
        self._lock = threading.RLock()
        self._recipe: Recipe | None = None
        self._screening_lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self._lake is not None:
                self._lake.close()
                self._lake = None

    def clear_cache(self, *, keep_screening: bool = False) -> None:
        """Forget the computed results (the next requests compute afresh, as after an ingest);
        ``keep_screening`` keeps the screening, which otherwise runs again."""
        with self._lock:
            kept = self._lookup("screenings") if keep_screening else None
            self._cache.clear()
            if kept is not None:
                self._cache["screenings"] = kept

    # -- lake and cache

    def _sync(self) -> silicio_lake.Lake | None:
        """The open lake with fresh views, the cache emptied when the catalog changed; None
        while the data directory does not exist."""
        now = time.monotonic()
        if self._lake is not None and now - self._checked < self.settings.catalog_check_seconds:
            return self._lake
        if self._lake is None:
            try:
                self._lake = silicio_lake.open(self.data_dir, self.database_url)
            except FileNotFoundError:
                return None
        self._checked = now
        token = tuple(sorted(self._lake.catalog.counts().items()))
        if token != self._token:
            self._lake.refresh()
            self._tables = set(self._lake.tables)
            self._cache.clear()
            self._token = token
        return self._lake

    def _cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        value = compute()
        self._cache[key] = value
        while len(self._cache) > self.settings.cache_entries:
            self._cache.popitem(last=False)
        return value

    def _lookup(self, key: Hashable) -> Any:
        """The cached value of ``key``, or None."""
        if key not in self._cache:
            return None
        self._cache.move_to_end(key)
        return self._cache[key]

    def _call(self, key: Hashable, compute: Callable[[silicio_lake.Lake | None], Any]) -> Any:
        with self._lock:
            db = self._sync()
            return self._cached(key, lambda: compute(db))

    def _has(self, *tables: str) -> bool:
        return all(t in self._tables for t in tables)

    @property
    def recipe(self) -> Recipe:
        if self._recipe is None:
            path = (
                self.settings.recipe
                or importlib.resources.files("silicio.yields") / "recipes" / DEFAULT_RECIPE
            )
            self._recipe = load_recipe(path)
        return self._recipe

    # -- shared tables

    def _lot_index(self, db: silicio_lake.Lake | None) -> pl.DataFrame:
        """product, lot, stage, started, files: one row per lot and stage, oldest first."""

        def compute() -> pl.DataFrame:
            if db is None:
                return pl.DataFrame(schema={"product": pl.String, "lot": pl.String, "stage": pl.String,
                                            "started": pl.Datetime("us", "UTC"), "files": pl.Int64})  # fmt: skip
            return db.polars(
                "SELECT product, lot, stage, min(started) AS started, count(*) AS files FROM files "
                "WHERE lot IS NOT NULL GROUP BY ALL ORDER BY started NULLS LAST, lot, stage"
            )

        return self._cached("lot_index", compute)

    def _lot(self, db, lot_id: str, stage: str | None) -> tuple[str | None, str, list[str]]:
        """(product, stage, all stages) of a lot; NotFound for an unknown lot or stage."""
        rows = self._lot_index(db).filter(pl.col("lot") == lot_id)
        if rows.is_empty():
            raise NotFound(f"no lot {lot_id!r} in the lake")
        stages = list(dict.fromkeys(rows["stage"].to_list()))
        if stage is None:
            stage = WAFER_SORT if WAFER_SORT in stages else stages[0]
        elif stage not in stages:
            raise NotFound(f"lot {lot_id!r} was not tested at stage {stage!r}; stages: {', '.join(stages)}")
        product = rows.filter(pl.col("stage") == stage)["product"][0]
        return product, stage, stages

    def _all_parts(self, db) -> pl.DataFrame:
        """Every part of the lake (the columns yields need), files in test order."""

        def compute() -> pl.DataFrame:
            return db.polars(
                "SELECT f.product, p.lot_id, f.stage, p.wafer_id, p.die_key, p.passed, p.soft_bin, p.hard_bin "
                "FROM parts p JOIN files f ON f.sha256 = p.file_sha256 WHERE p.lot_id IS NOT NULL "
                "ORDER BY f.started NULLS LAST, p.file_sha256, p.seq"
            )

        return self._cached("all_parts", compute)

    def _lot_parts(self, db, lot_id: str, stage: str) -> pa.Table:
        """The parts table of a lot at a stage, its files in test order (retests last)."""

        def compute() -> pa.Table:
            # The partition filter lets DuckDB read only this lot's folders.
            return db.arrow(
                "SELECT p.* EXCLUDE (file_sha256, product, lot, stage) FROM parts p "
                "JOIN files f ON f.sha256 = p.file_sha256 "
                "WHERE p.lot = ? AND p.lot_id = ? AND f.stage = ? "
                "ORDER BY f.started NULLS LAST, p.file_sha256, p.seq",
                [partition_value(lot_id), lot_id, stage],
            )

        return self._cached(("lot_parts", lot_id, stage), compute)

    def _lot_tidy(self, db, lot_id: str, stage: str) -> pa.Table:
        def compute() -> pa.Table:
            return db.arrow(
                "SELECT t.* EXCLUDE (file_sha256, product, lot, stage) FROM tidy t "
                "JOIN files f ON f.sha256 = t.file_sha256 "
                "WHERE t.lot = ? AND t.lot_id = ? AND f.stage = ? "
                "ORDER BY f.started NULLS LAST, t.file_sha256, t.seq",
                [partition_value(lot_id), lot_id, stage],
            )

        return self._cached(("lot_tidy", lot_id, stage), compute)

    def _bin_names(self, db, lot_id: str, stage: str, kind: str) -> pa.Table | None:
        """bin, name, pf of the lot's HBR (hard) or SBR (soft) records; None without any."""
        table = "HBR" if kind == "hard" else "SBR"
        if not self._has(table):
            return None

        def compute() -> pa.Table | None:
            records = db.arrow(
                f'SELECT r.* FROM "{table}" r JOIN files f ON f.sha256 = r.file_sha256 '
                "WHERE r.lot = ? AND f.lot = ? AND f.stage = ?",
                [partition_value(lot_id), lot_id, stage],
            )
            return bin_definitions(records, kind) if records.num_rows else None

        return self._cached(("bin_names", lot_id, stage, kind), compute)

    # -- screening

    def _screenings(self, *, wait: bool = True) -> _Screenings | None:
        """The recipe run on each product's wafer-sort lots (AEC-Q001 needs its min_lots lots).

        The screening is the slowest thing the dashboard computes, so it runs outside the lock
        that requests share: each product's tables are read under it, then screened while other
        pages are served. ``wait=False`` returns None at once while it runs (starting it if
        needed) instead of waiting for it.
        """
        with self._lock:
            db = self._sync()
            if (done := self._lookup("screenings")) is not None:
                return done
            if db is None:
                return _Screenings()
        if not wait:
            if not self._screening_lock.locked():
                threading.Thread(target=self._screenings, name="silicio-screening", daemon=True).start()
            return None
        with self._screening_lock:  # one screening at a time; a second caller gets the first's result
            with self._lock:
                db = self._sync()
                if (done := self._lookup("screenings")) is not None:
                    return done
                token, products, tables = self._token, self._screened_products(db), self._has("tidy", "parts")
            out = _Screenings(notes=[note for _, note in products if note])
            for product, _ in (p for p in products if p[1] is None and tables):
                with self._lock:
                    tidy, parts = self._screening_inputs(self._sync(), product)
                try:
                    result = screen(tidy, self.recipe, parts=consolidate_retests(parts))
                except ValueError as exc:
                    out.notes.append(f"{product}: not screened: {exc}")
                    continue
                out.results[product] = result
                out.notes.extend(f"{product}: {note}" for note in result.notes)
            if tables:
                with self._lock:
                    statistics = self._lot_statistics(self._sync())
                out.lot_shifts = lot_parametric_shifts(statistics, k=self.settings.shift_hold_sigma)[1]
            with self._lock:
                if self._token == token:  # not when files came in meanwhile: the next call redoes it
                    self._cached("screenings", lambda: out)
            return out

    def _lot_statistics(self, db) -> pl.DataFrame:
        """Median and robust sigma (IQR / 1.349) of each lot's last results, per parametric test."""
        return db.polars(
            "SELECT f.product, f.stage, t.lot_id, t.test_num, any_value(t.test_name) AS test_name, "
            "median(t.result) AS median, "
            "(quantile_cont(t.result, 0.75) - quantile_cont(t.result, 0.25)) / 1.349 AS robust_sigma "
            "FROM tidy t JOIN files f ON f.sha256 = t.file_sha256 "
            "WHERE t.is_last_test AND t.result IS NOT NULL AND t.test_type = 'P' AND t.lot_id IS NOT NULL "
            "GROUP BY f.product, f.stage, t.lot_id, t.test_num"
        )

    def _screenings_or_pending(self) -> _Screenings:
        screenings = self._screenings(wait=self.settings.wait_for_screening)
        if screenings is None:
            raise Pending("the PAT screening of the lake is still running; this page shows when it is done")
        return screenings

    def _screened_products(self, db) -> list[tuple[str | None, str | None]]:
        """(product, None) for each product with enough wafer-sort lots, (product, why not) else."""
        needed = self.recipe.pat.min_lots if self.recipe.pat is not None else 1
        lots = self._lot_index(db).filter(pl.col("stage") == WAFER_SORT)
        out = []
        for (product,), group in lots.group_by("product", maintain_order=True):
            n_lots = group["lot"].n_unique()
            why = (f"{product}: {n_lots} wafer-sort lot(s), fewer than the {needed} static PAT limits need "
                   "(AEC-Q001): not screened")  # fmt: skip
            out.append((product, why if n_lots < needed else None))
        return out

    def _screening_inputs(self, db, product: str | None) -> tuple[pa.Table, pa.Table]:
        """The tidy rows (the columns the rules read) and the parts of a product's wafer-sort lots."""
        where = "f.stage = ? AND " + ("f.product = ?" if product is not None else "f.product IS NULL")
        params = [WAFER_SORT] + ([product] if product is not None else [])
        columns = ", ".join(f"t.{c}" for c in _SCREEN_COLUMNS)
        tidy = db.arrow(
            f"SELECT {columns} FROM tidy t JOIN files f ON f.sha256 = t.file_sha256 WHERE {where} "
            "ORDER BY f.started NULLS LAST, t.file_sha256, t.seq",
            params,
        )
        parts = db.arrow(
            "SELECT p.lot_id, p.wafer_id, p.part_index, p.part_id, p.x, p.y, p.hard_bin, p.soft_bin, "
            f"p.passed, p.die_key FROM parts p JOIN files f ON f.sha256 = p.file_sha256 WHERE {where} "
            "ORDER BY f.started NULLS LAST, p.file_sha256, p.seq",
            params,
        )
        return tidy, parts

    # -- pages

    def overview(self) -> m.Overview:
        screenings = self._screenings(wait=self.settings.wait_for_screening)
        key = ("overview", screenings is not None)
        return self._call(key, lambda db: self._overview(db, screenings))

    def _overview(self, db, screenings: _Screenings | None) -> m.Overview:
        settings = self.settings
        empty = m.Overview(hold_yield=settings.hold_yield, pat_hold_fraction=settings.pat_hold_fraction,
                           products=[], lots=[], held_lots=[])  # fmt: skip
        if db is None:
            empty.notes.append(
                f"no lake at {self.data_dir}: run `silicio ingest FILES --data {self.data_dir}`"
            )
            return empty
        if not self._has("parts"):
            empty.notes.append("the lake holds no parts yet: ingest STDF files")
            return empty
        parts = self._all_parts(db)
        keys = ["product", "lot_id", "stage"]
        yields = pl.from_arrow(yield_by(parts, by=keys))
        wafers = parts.group_by(keys).agg(pl.col("wafer_id").drop_nulls().n_unique().alias("wafers"))
        index = self._lot_index(db).select(
            "product", pl.col("lot").alias("lot_id"), "stage", pl.col("started").min().over(["lot", "stage"])
        )
        table = (
            index.unique(keys, keep="first", maintain_order=True)
            .join(yields, on=keys, how="inner", nulls_equal=True)
            .join(wafers, on=keys, how="left", nulls_equal=True)
            .with_columns(pl.col("wafers").fill_null(0))
        )
        lots = _rows(table, m.LotYield, url=lambda r: lot_url(r["lot_id"], r["stage"]))

        reasons: dict[tuple, list[str]] = {}
        for lot in lots:
            if lot.final_yield is not None and lot.final_yield < settings.hold_yield:
                reasons.setdefault((lot.product, lot.lot_id, lot.stage), []).append(
                    f"final yield {lot.final_yield:.2%} < {settings.hold_yield:.2%}"
                )
        notes = self._yield_limit_flags(parts, reasons)
        if screenings is None:
            notes.append("the PAT screening is still running: lots it would hold show once it is done")
        for lot in self._lot_screenings(screenings or _Screenings()):
            if lot.pat_fraction is not None and lot.pat_fraction > settings.pat_hold_fraction:
                reasons.setdefault((lot.product, lot.lot_id, WAFER_SORT), []).append(
                    f"PAT outliers {lot.pat_parts} ({lot.pat_fraction:.2%} of parts) > "
                    f"{settings.pat_hold_fraction:.2%}"
                )
        if screenings is not None and screenings.lot_shifts is not None:
            for shift in screenings.lot_shifts.to_dicts():
                reasons.setdefault((shift["product"], shift["lot_id"], shift["stage"]), []).append(
                    f"parametric shift on {shift['tests']} tests beyond {settings.shift_hold_sigma:g} robust "
                    f"sigma of the product's lots (worst {shift['worst_test']} {shift['worst_shift']:+.1f} sigma)"
                )
        by_key = {(lot.product, lot.lot_id, lot.stage): lot for lot in lots}
        held = [
            m.HeldLot(
                product=key[0],
                lot_id=key[1],
                stage=key[2],
                reasons=why,
                url=lot_url(key[1], key[2]),
                final_yield=by_key[key].final_yield if key in by_key else None,
            )
            for key, why in reasons.items()
        ]
        products = sorted({lot.product for lot in lots if lot.product is not None})
        return m.Overview(hold_yield=settings.hold_yield, pat_hold_fraction=settings.pat_hold_fraction,
                          products=products, lots=lots, held_lots=held, notes=notes)  # fmt: skip

    def _yield_limit_flags(self, parts: pl.DataFrame, reasons: dict[tuple, list[str]]) -> list[str]:
        """AEC-Q002 SYL / SBL of each product and stage with enough lots; flags added to ``reasons``."""
        rule = self.recipe.yield_limits
        min_lots = rule.min_lots if rule is not None else 6
        bin_column = f"{rule.bin}_bin" if rule is not None else "soft_bin"
        final = pl.from_arrow(consolidate_retests(parts)).filter(pl.col("is_last_test"))
        final = final.rename({"passed": "part_passed"})
        notes = []
        for (product, stage), group in final.group_by(["product", "stage"], maintain_order=True):
            n_lots = group["lot_id"].n_unique()
            if n_lots < min_lots:
                notes.append(f"{product} {stage}: {n_lots} lot(s), fewer than the {min_lots} AEC-Q002 "
                             f"yield and bin limits need")  # fmt: skip
                continue
            _, flags = statistical_yield_analysis(group, bin_column=bin_column, min_lots=min_lots)
            for flag in flags.to_pylist():
                what = (
                    f"yield {flag['value']:.2%} < {flag['limit']:.2%}"
                    if flag["bin"] is None
                    else f"bin {flag['bin']} fallout {flag['value']:.2%} > {flag['limit']:.2%}"
                )
                reasons.setdefault((product, flag["lot_id"], stage), []).append(
                    f"AEC-Q002 {flag['rule']}: {what}"
                )
        return notes

    def lot(self, lot_id: str, stage: str | None = None) -> m.LotPage:
        return self._call(("lot", lot_id, stage), lambda db: self._lot_page(db, lot_id, stage))

    def _lot_page(self, db, lot_id: str, stage: str | None) -> m.LotPage:
        if db is None:
            raise NotFound(f"no lake at {self.data_dir}")
        product, stage, stages = self._lot(db, lot_id, stage)
        parts = self._lot_parts(db, lot_id, stage)
        wafers = _rows(
            yield_by(parts, by=["wafer_id"]),
            m.WaferYield,
            url=lambda r: wafer_url(lot_id, r["wafer_id"], stage) if r["wafer_id"] is not None else None,
        )
        stacked = None
        if parts.num_rows and parts["x"].null_count < parts.num_rows:
            try:
                stacked = _map_data(stacked_fail_map(parts, lot_id))
            except ValueError:  # no die with coordinates and a verdict
                stacked = None
        pareto = _rows(bin_pareto(parts, kind="soft", names=self._bin_names(db, lot_id, stage, "soft")),
                       m.ParetoBin)  # fmt: skip
        worst = self._worst_tests(self._lot_tidy(db, lot_id, stage), product)
        return m.LotPage(lot_id=lot_id, product=product, stage=stage, stages=stages,
                         total=_total(yield_by(parts, by=())), wafers=wafers, stacked_fail_map=stacked,
                         bin_pareto=pareto, worst_tests=worst, report_url=report_url(lot_id, stage))  # fmt: skip

    def _worst_tests(self, tidy: pa.Table, product: str | None) -> list[m.TestStatistics]:
        """Tests with the most fails, then the lowest Cpk."""
        if tidy.num_rows == 0:
            return []
        stats = pl.from_arrow(per_test_statistics(tidy)).filter(pl.col("test_type").is_in(["P", "M"]))
        stats = stats.sort(["fail_count", "cpk"], descending=[True, False], nulls_last=True)
        return _rows(stats.head(self.settings.worst_tests), m.TestStatistics,
                     url=lambda r: test_url(r["test_num"], product))  # fmt: skip

    def lot_report_html(self, lot_id: str, stage: str | None = None) -> str:
        """The lot report of :mod:`silicio.yields.report` as one HTML page, with the static PAT
        limits of the product's screening (the PAT page's)."""
        try:
            from silicio.yields.report import lot_report, render_html
        except ImportError:
            raise NotFound("the lot report is not part of this installation") from None

        screenings = self._screenings_or_pending()

        def compute(db) -> str:
            if db is None:
                raise NotFound(f"no lake at {self.data_dir}")
            product, chosen, _ = self._lot(db, lot_id, stage)
            screened = screenings.results.get(product) if chosen == WAFER_SORT else None
            limits = screened.static_limits if screened is not None else None
            return render_html(lot_report(db, lot_id, stage=chosen, static_limits=limits))

        return self._call(("lot_report", lot_id, stage), compute)

    def wafer(self, lot_id: str, wafer_id: str, stage: str | None = None, kind: str = "hard",
              test_num: int | None = None, highlight: tuple[int, int] | None = None) -> m.WaferPage:  # fmt: skip
        if kind not in ("hard", "soft"):
            raise NotFound(f"bin kind must be hard or soft, not {kind!r}")
        key = ("wafer", lot_id, wafer_id, stage, kind, test_num)
        page = self._call(key, lambda db: self._wafer_page(db, lot_id, wafer_id, stage, kind, test_num))
        return page.model_copy(update={"highlight": list(highlight)}) if highlight else page

    def _wafer_page(self, db, lot_id, wafer_id, stage, kind, test_num) -> m.WaferPage:
        if db is None:
            raise NotFound(f"no lake at {self.data_dir}")
        product, stage, _ = self._lot(db, lot_id, stage)
        parts = pl.from_arrow(self._lot_parts(db, lot_id, stage)).filter(pl.col("wafer_id") == wafer_id)
        if parts.is_empty():
            raise NotFound(f"no wafer {wafer_id!r} in lot {lot_id!r} at {stage}")
        definitions = self._bin_names(db, lot_id, stage, kind)
        names = {r["bin"]: r["name"] for r in definitions.to_pylist()} if definitions is not None else {}
        try:
            the_map = _map_data(bin_map(parts, kind=kind, lot_id=lot_id, wafer_id=wafer_id), names)
        except ValueError:  # dies without coordinates
            the_map = m.WaferMapData(kind="bin", x=[], y=[], value=[])
        counts = pl.from_arrow(bin_counts(parts, kind=kind)).with_columns(
            pl.col("bin")
            .cast(pl.Int64)
            .replace_strict(names, default=None, return_dtype=pl.String)
            .alias("name")
        )
        tidy = pl.from_arrow(self._lot_tidy(db, lot_id, stage)).filter(pl.col("wafer_id") == wafer_id)
        measured = tidy.filter(pl.col("test_type").is_in(["P", "M"]) & pl.col("result").is_not_null())
        choices = (
            measured.group_by("test_num", maintain_order=True)
            .agg(pl.col("test_name").drop_nulls().first(), pl.col("units").drop_nulls().first())
            .sort("test_num")
        )
        tests = [m.TestChoice(**row) for row in choices.to_dicts()]
        numbers = {t.test_num for t in tests}
        if test_num is not None and test_num not in numbers:
            raise NotFound(f"test {test_num} has no results on wafer {wafer_id!r} of lot {lot_id!r}")
        if test_num is None and tests:
            worst = self._worst_tests(self._lot_tidy(db, lot_id, stage), product)
            test_num = next((t.test_num for t in worst if t.test_num in numbers), tests[0].test_num)
        parametric, statistics = None, []
        if test_num is not None:
            one_test = measured.filter(pl.col("test_num") == test_num)
            try:
                parametric = _map_data(parametric_map(one_test, test_num, lot_id=lot_id, wafer_id=wafer_id))
            except ValueError:
                parametric = None
            statistics = _rows(per_test_statistics(one_test), m.TestStatistics,
                               url=lambda r: test_url(r["test_num"], product))  # fmt: skip
        return m.WaferPage(lot_id=lot_id, wafer_id=wafer_id, product=product, stage=stage, bin_kind=kind,
                           total=_total(yield_by(parts, by=())), bin_map=the_map, bins=_rows(counts, m.BinCount),
                           tests=tests, test_num=test_num, parametric_map=parametric,
                           test_statistics=statistics)  # fmt: skip

    def test(self, test_num: int, product: str | None = None, name: str | None = None) -> m.TestPage:
        return self._call(
            ("test", test_num, product, name), lambda db: self._test_page(db, test_num, product, name)
        )

    def _test_page(self, db, test_num: int, product: str | None, name: str | None) -> m.TestPage:
        if db is None or not self._has("tidy"):
            raise NotFound(f"no test {test_num}: the lake holds no test results")
        where, params = "t.test_num = ?", [test_num]
        if product is not None:
            where, params = where + " AND f.product = ?", [*params, product]
        results = db.polars(
            "SELECT f.product, t.lot_id, f.stage, t.wafer_id, t.part_index, t.test_type, t.test_num, t.test_name, "
            "t.pin, t.units, t.result, t.passed, t.part_passed, t.lo_limit, t.hi_limit, t.is_last_test "
            "FROM tidy t JOIN files f ON f.sha256 = t.file_sha256 "
            f"WHERE {where} AND t.lot_id IS NOT NULL ORDER BY f.started NULLS LAST, t.file_sha256, t.seq",
            params,
        )
        if results.is_empty():
            raise NotFound(
                f"no results of test {test_num}" + (f" for product {product!r}" if product else "")
            )
        names = results["test_name"].drop_nulls().value_counts(sort=True)["test_name"].to_list()
        if name is not None and name not in names:
            raise NotFound(f"test {test_num} has no results named {name!r}; names: {', '.join(names)}")
        chosen = name or (names[0] if names else None)
        if chosen is not None:
            results = results.filter(pl.col("test_name") == chosen)
        overall = pl.from_arrow(per_test_statistics(results)).row(0, named=True)
        by_lot = pl.from_arrow(per_test_statistics(results, by=["product", "lot_id", "stage"]))
        starts = self._lot_index(db).select("product", pl.col("lot").alias("lot_id"), "stage", "started")
        by_lot = by_lot.join(starts, on=["product", "lot_id", "stage"], how="left", nulls_equal=True)
        by_lot = by_lot.sort("started", nulls_last=True, maintain_order=True)
        lots = _rows(by_lot, m.LotTestStatistics, url=lambda r: lot_url(r["lot_id"], r["stage"]))

        final = results.filter(pl.col("is_last_test") & pl.col("result").is_finite())["result"].to_numpy()
        counts, edges = np.histogram(final, bins=self.settings.histogram_bins) if final.size else ([], [])
        products = sorted({p for p in results["product"].unique().to_list() if p is not None})
        notes: list[str] = []
        pat_lo = pat_hi = None
        if len(products) == 1:
            pat_lo, pat_hi = self._static_pat_limits(results, products[0], test_num, notes)
        elif products:
            notes.append("PAT limits are per product: choose one to see them")
        return m.TestPage(
            test_num=test_num, test_name=chosen, names=names, units=overall["units"], product=product,
            products=products, count=int(final.size), mean=_clean(overall["mean"]), std=_clean(overall["std"]),
            cpk=_clean(overall["cpk"]), lo_limit=_clean(overall["lo_limit"]), hi_limit=_clean(overall["hi_limit"]),
            pat_lo=pat_lo, pat_hi=pat_hi,
            histogram=m.Histogram(edges=[float(e) for e in edges], counts=[int(c) for c in counts]),
            lots=lots, notes=notes,
        )  # fmt: skip

    def _static_pat_limits(self, results: pl.DataFrame, product: str, test_num: int, notes: list[str]):
        """Static PAT limits (AEC-Q001) of one test over the product's wafer-sort lots, with the
        recipe's parameters: per test, so the same limits the product's screening uses."""
        rule = self.recipe.pat
        if rule is None:
            notes.append("no PAT limits: the screening recipe has no PAT rule")
            return None, None
        if not isinstance(rule.tests, str) and test_num not in rule.tests:
            notes.append(f"no PAT limits: the recipe does not screen test {test_num}")
            return None, None
        population = results.filter((pl.col("product") == product) & (pl.col("stage") == WAFER_SORT))
        try:
            limits = static_pat_limits(population, k=rule.k, min_lots=rule.min_lots, tests=[test_num],
                                       iqr_zero=rule.iqr_zero, quantile_method=rule.quantile_method)  # fmt: skip
        except ValueError as exc:
            notes.append(f"no PAT limits: {exc}")
            return None, None
        if limits.num_rows == 0:
            notes.append(f"no PAT limits: no passing part of {product} at wafer sort has a result")
            return None, None
        row = limits.to_pylist()[0]
        if row["skipped"]:
            notes.append(f"no PAT limits: {row['reason']}")
            return None, None
        return _clean(row["pat_lo"]), _clean(row["pat_hi"])

    def pat(self) -> m.PatPage:
        screenings = self._screenings_or_pending()
        return self._call("pat", lambda db: self._pat_page(screenings))

    def _lot_screenings(self, screenings: _Screenings) -> list[m.LotScreening]:
        out = []
        for product, result in screenings.results.items():
            summary = pl.from_arrow(result.yield_summary)
            pat = (
                pl.from_arrow(result.reasons)
                .filter(pl.col("rule").is_in(_PAT_RULES))
                .group_by("lot_id")
                .agg(pl.struct("wafer_id", "part_index").n_unique().alias("pat_parts"))
            )
            summary = summary.join(pat, on="lot_id", how="left").with_columns(
                pl.col("pat_parts").fill_null(0),
                pl.lit(product, pl.String).alias("product"),
            )
            summary = summary.with_columns((pl.col("pat_parts") / pl.col("n_parts")).alias("pat_fraction"))
            out += _rows(summary, m.LotScreening, url=lambda r: lot_url(r["lot_id"], WAFER_SORT))
        return out

    def _pat_page(self, screenings: _Screenings) -> m.PatPage:
        parts, reasons = [], []
        for product, result in screenings.results.items():
            rebinned = pl.from_arrow(result.parts).filter(pl.col("screened"))
            why = pl.from_arrow(result.reasons)
            labelled = [t.with_columns(pl.lit(product, pl.String).alias("product")) for t in (rebinned, why)]
            parts += _rows(labelled[0], m.RebinnedPart, url=_die_url)
            reasons += _rows(labelled[1], m.ScreeningReason, url=_reason_url)
        return m.PatPage(recipe=self.recipe.identity(), lots=self._lot_screenings(screenings), parts=parts,
                         reasons=reasons, notes=list(screenings.notes))  # fmt: skip

    def files(self) -> m.FilesPage:
        return self._call("files", self._files_page)

    def _files_page(self, db) -> m.FilesPage:
        if db is None:
            return m.FilesPage(data_dir=str(self.data_dir), counts={}, files=[], quarantine=[])
        rows = db.catalog.rows("files", order_by=["id"])
        files = [
            m.IngestedFile(
                path=r["path"],
                product=r["product"],
                lot=r["lot"],
                stage=r["stage"],
                tester=r["node"],
                program=r["program"],
                started=r["started"],
                parts=r["parts"],
                final_yield=_clean(r["final_yield"]),
                status="partial" if r["partial"] else "ingested",
                issues=len(r["issues"] or []),
                ingested_at=r["ingested_at"],
                url=lot_url(r["lot"], r["stage"]) if r["lot"] else None,
            )  # fmt: skip
            for r in rows
        ]
        quarantine = [m.QuarantinedFile(**{k: r[k] for k in m.QuarantinedFile.model_fields if k in r})
                      for r in db.catalog.rows("quarantine", order_by=["id"])]  # fmt: skip
        counts = {
            "ingested": sum(f.status == "ingested" for f in files),
            "partial": sum(f.status == "partial" for f in files),
            "quarantined": sum(not q.salvaged for q in quarantine),
        }
        return m.FilesPage(data_dir=str(self.data_dir), counts=counts, files=files, quarantine=quarantine)

    def search(self, q: str, limit: int = 50) -> m.SearchPage:
        q = q.strip()
        return self._call(("search", q, limit), lambda db: self._search(db, q, limit))

    def _search(self, db, q: str, limit: int) -> m.SearchPage:
        hits: list[m.SearchHit] = []
        if db is None or not q:
            return m.SearchPage(q=q, hits=hits)
        needle = q.lower()
        for r in self._lot_index(db).to_dicts():
            if needle in r["lot"].lower():
                hits.append(m.SearchHit(kind="lot", label=f"{r['lot']} ({r['stage']})", product=r["product"],
                                        lot_id=r["lot"], url=lot_url(r["lot"], r["stage"])))  # fmt: skip
        wafers = db.rows(
            "SELECT DISTINCT f.product, f.lot, f.stage, w.wafer_id FROM wafers w JOIN files f ON f.id = w.file_id "
            "WHERE f.lot IS NOT NULL AND w.wafer_id IS NOT NULL AND contains(lower(w.wafer_id), ?) "
            "ORDER BY f.lot, w.wafer_id LIMIT ?",
            [needle, limit],
        )
        for product, lot_id, stage, wafer_id in wafers:
            hits.append(m.SearchHit(kind="wafer", label=wafer_id, product=product, lot_id=lot_id, wafer_id=wafer_id,
                                    url=wafer_url(lot_id, wafer_id, stage)))  # fmt: skip
        if self._has("parts"):
            found = db.rows(
                "SELECT DISTINCT f.product, p.lot_id, f.stage, p.wafer_id, p.part_id, p.x, p.y FROM parts p "
                "JOIN files f ON f.sha256 = p.file_sha256 WHERE p.part_id = ? AND p.lot_id IS NOT NULL "
                "ORDER BY p.lot_id, p.wafer_id LIMIT ?",
                [q, limit],
            )
            for product, lot_id, stage, wafer_id, part_id, x, y in found:
                where = f"{lot_id} / {wafer_id} ({x}, {y})" if wafer_id is not None else lot_id
                url = (
                    wafer_url(lot_id, wafer_id, stage, x=x, y=y)
                    if wafer_id is not None
                    else lot_url(lot_id, stage)
                )
                hits.append(m.SearchHit(kind="part", label=f"part {part_id}: {where}", product=product,
                                        lot_id=lot_id, wafer_id=wafer_id, url=url))  # fmt: skip
        return m.SearchPage(q=q, hits=hits[:limit])

    def warm(self) -> None:
        """Compute the screening and the overview, e.g. in a thread at start."""
        self._screenings()
        self.overview()


# ------------------------------------------------------------------------------------------------
# Traceability, origin, certificates and the supplier ecosystem
#
# Their records live beside the lake: the trace store in the catalog database, the signing keys
# in DATA/keys, the supplier registry and its plan (demand per product, inventory weeks, the
# date certifications are judged on) in DATA/supply. Results are cached until one of them changes.

#: Where the supplier ecosystem's files live in the data directory.
SUPPLY_DIR = "supply"
REGISTRY_FILE = "registry.json"
#: {"demand": {part: units per week}, "inventory_weeks": 2, "as_of": "2025-06-30", "automotive": [...]}
PLAN_FILE = "plan.json"
#: {token: org_id}: the supplier accounts (see silicio.web.trace_pages for how they are used).
TOKENS_FILE = "tokens.json"
#: Monte Carlo scenarios behind the supply page's VaR / CVaR (a second or so on the demo ecosystem).
SUPPLY_SCENARIOS = 2000
#: Node kinds a forward trace starts from, and a backward one.
FORWARD_KINDS = ("lot", "wafer", "material_lot", "assembly_lot", "die")
BACKWARD_KINDS = ("unit", "reel", "shipment", "die", "wafer")


class BadQuery(ValueError):
    """A query the pages cannot answer as asked (an unknown node kind, a malformed suspect); 422."""


def _first_names(names: list[str], count: int, shown: int = 5) -> str:
    return ", ".join(names[:shown]) + (" ..." if count > shown else "")


def _trace_query(result: dict) -> m.TraceQuery:
    counts = [m.TraceCount(kind=kind, count=n, first_names=_first_names(result["nodes"][kind], n))
              for kind, n in result["counts"].items()]  # fmt: skip
    shipments = [m.ShipmentUnits(shipment=s["shipment"], units=s["units"], customer=s.get("customer"),
                                 destination=s.get("destination")) for s in result["shipments"]]  # fmt: skip
    by_customer: dict[str, int] = {}
    for s in result["shipments"]:
        customer = s.get("customer", "(unknown)")
        by_customer[customer] = by_customer.get(customer, 0) + s["units"]
    return m.TraceQuery(
        direction=result["direction"],
        start=[f"{k}:{n}" for k, n in result["start"]],
        units=result["counts"].get("unit", 0),
        counts=counts,
        shipments=shipments,
        customers=[m.CustomerUnits(customer=c, units=u) for c, u in sorted(by_customer.items())],
    )


def _field_rows(content: dict, prefix: str = "") -> list[m.CertificateField]:
    """A certificate's content as (dotted field, value) rows, in document order."""
    rows = []
    for key, value in content.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            rows += _field_rows(value, name)
        else:
            rows.append(m.CertificateField(field=name, value="; ".join(map(str, value))
                                           if isinstance(value, list) else str(value)))  # fmt: skip
    return rows


def _date_text(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else value


class TraceData:
    """The trace, origin, certificate and supply pages' data over the data directory ``data_dir``."""

    def __init__(self, data_dir: str | os.PathLike[str], database_url: str | None = None):
        self.data_dir = Path(data_dir)
        self.database_url = database_url
        self._store = None
        self._cache: dict[Hashable, Any] = {}
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    # -- storage

    @property
    def supply_dir(self) -> Path:
        return self.data_dir / SUPPLY_DIR

    @property
    def public_key_path(self) -> Path:
        from silicio.origin import certificates

        return self.data_dir / certificates.KEYS_DIR / certificates.PUBLIC_KEY_FILE

    def store(self):
        from silicio.trace import TraceStore

        with self._lock:
            if self._store is None:
                if not self.data_dir.is_dir():
                    raise NotFound(f"no data directory {self.data_dir}: nothing traced yet")
                self._store = TraceStore.at(self.data_dir, self.database_url)
            return self._store

    def _version(self) -> Hashable:
        """Changes whenever the audit log grows or a supply file is rewritten."""
        stamps = tuple(
            (p.stat().st_mtime_ns if p.exists() else None)
            for p in (self.supply_dir / REGISTRY_FILE, self.supply_dir / PLAN_FILE, self.public_key_path)
        )
        return self.store().audit_head()[0], stamps

    def _cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        with self._lock:
            version = self._version()
            hit = self._cache.get(key)
            if hit is not None and hit[0] == version:
                return hit[1]
            value = compute()
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = (version, value)
            return value

    def master_data(self):
        md = self._cached("master_data", lambda: self.store().load_master_data())
        if not md.products:
            raise NotFound("no products in the trace master data; load it with store.save_master_data")
        return md

    # -- trace

    def trace(
        self, direction: str | None = None, kind: str | None = None, name: str | None = None
    ) -> m.TracePage:
        """The trace page; with ``direction``, ``kind`` and ``name`` also that query's result."""
        query = None
        if direction or kind or name:
            if direction not in ("forward", "backward"):
                raise BadQuery(f"direction must be 'forward' or 'backward', got {direction!r}")
            if not kind or not name:
                raise BadQuery("a trace needs both kind and name, e.g. kind=wafer&name=QT0001-01")
            query = self._cached(
                ("trace", direction, kind, name), lambda: self._run_trace(direction, kind, name)
            )
        return self._trace_page(query)

    def recall(self, suspects: list[str]) -> m.TracePage:
        """Recall scope of ``suspects`` (each kind:name): units, shipments and customers affected."""
        if not suspects:
            raise BadQuery("a recall needs at least one suspect, e.g. ?suspect=wafer:QT0001-01")
        nodes = []
        for text_ in suspects:
            kind, sep, name = text_.partition(":")
            if not sep or not kind or not name:
                raise BadQuery(f"suspect {text_!r}: expected kind:name, e.g. wafer:QT0001-01")
            nodes.append((kind, name))
        return self._trace_page(self._cached(("recall", tuple(nodes)), lambda: self._run_recall(nodes)))

    def _genealogy_call(self, call: Callable[[], dict]) -> dict:
        from silicio.trace import GenealogyError

        try:
            return call()
        except GenealogyError as exc:
            if str(exc).startswith("no "):
                raise NotFound(str(exc)) from None
            raise BadQuery(str(exc)) from None

    def _run_trace(self, direction: str, kind: str, name: str) -> m.TraceQuery:
        from silicio import trace

        call = trace.forward if direction == "forward" else trace.backward
        return _trace_query(self._genealogy_call(lambda: call(self.store(), kind, name)))

    def _run_recall(self, nodes: list[tuple[str, str]]) -> m.TraceQuery:
        from silicio import trace

        result = self._genealogy_call(lambda: trace.recall_scope(self.store(), nodes))
        return _trace_query({**result, "direction": "recall"})

    def _trace_page(self, query: m.TraceQuery | None) -> m.TracePage:
        from silicio import trace

        flags = self._cached("operator_flags", lambda: trace.operator_flags(self.store()))
        return m.TracePage(
            forward_kinds=list(FORWARD_KINDS),
            backward_kinds=list(BACKWARD_KINDS),
            query=query,
            counts=query.counts if query else [],
            shipments=query.shipments if query else [],
            customers=query.customers if query else [],
            operator_flags=[
                m.OperatorFlagRow(**{k: f[k] for k in m.OperatorFlagRow.model_fields if k != "url"})
                for f in flags
            ],  # fmt: skip
            audit=self.audit(),
        )

    def audit(self) -> m.AuditStatus:
        def compute() -> m.AuditStatus:
            report = self.store().verify_audit().as_dict()
            brk = report["chain_break"]
            return m.AuditStatus(ok=report["ok"], entries=report["entries"], head_hash=report["head_hash"],
                                 chain_break=f"entry #{brk['seq']}: {brk['reason']}" if brk else None,
                                 mismatches=report["mismatches"])  # fmt: skip

        return self._cached("audit", compute)

    # -- origin

    def _origin_report(self, part_number: str) -> dict:
        from silicio.origin import origin_report
        from silicio.trace import MasterDataError

        md = self.master_data()
        try:
            product = md.product(part_number)
        except (KeyError, MasterDataError):
            known = ", ".join(sorted({p.part_number for p in md.products.values()}))
            raise NotFound(f"no product {part_number!r} in the master data; products: {known}") from None
        return self._cached(("origin", part_number), lambda: origin_report(product, md.sites))

    def origin(self) -> m.OriginPage:
        md = self.master_data()
        rows = []
        for pn in sorted({p.part_number for p in md.products.values()}):
            r = self._origin_report(pn)
            u, h = r["usmca"], r["hecho_en_mexico"]
            rows.append(m.ProductOrigin(
                url=f"/origin/{quote(pn, safe='')}", part_number=pn, revision=r["revision"], hs_code=r["hs_code"],
                national_content_pct=r["national_content"]["pct"], rvc_tv_pct=u["rvc_tv_pct"],
                rvc_nc_pct=u["rvc_nc_pct"], usmca_originating=u["originating"], usmca_criterion=u["criterion"],
                hecho_en_mexico=h["qualifies"], claim=h["claim"]))  # fmt: skip
        return m.OriginPage(products=rows)

    def origin_detail(self, part_number: str) -> m.OriginDetail:
        r = self._origin_report(part_number)
        nc = r["national_content"]
        return m.OriginDetail(
            part_number=r["part_number"], revision=r["revision"], hs_code=r["hs_code"],
            national_content_pct=nc["pct"], domestic_value=nc["domestic_value"], total_value=nc["total_value"],
            import_dependence=[m.ImportShare(**row) for row in nc["import_dependence"]],
            usmca=r["usmca"], hecho_en_mexico=r["hecho_en_mexico"])  # fmt: skip

    # -- certificates

    def certificates(self) -> m.CertificatesPage:
        rows = self._cached("certificates", lambda: self.store().certificates())
        return m.CertificatesPage(
            public_key=self.public_key_path.exists(),
            certificates=[
                m.CertificateRow(
                    url=f"/certificates/{quote(r['cert_id'], safe='')}",
                    **{k: str(r[k]) for k in ("cert_id", "kind", "subject", "issued_at", "sha256")},
                )
                for r in rows
            ],  # fmt: skip
        )

    def certificate_document(self, cert_id: str) -> dict:
        try:
            return self._cached(("certificate", cert_id), lambda: self.store().certificate(cert_id))
        except KeyError:
            raise NotFound(f"no certificate {cert_id!r}") from None

    def verify_document(self, document: Any) -> m.VerificationResult:
        """Check ``document`` with the public key alone, as anyone holding the certificate can."""
        from silicio.origin import CertificateError, load_public_key, verify
        from silicio.origin.certificates import key_id

        if not self.public_key_path.exists():
            raise NotFound(f"no public key at {self.public_key_path}: run `silicio keys generate` first")
        key = load_public_key(self.public_key_path)
        try:
            result = verify(document, key).as_dict()
        except CertificateError as exc:
            raise BadQuery(str(exc)) from None
        return m.VerificationResult(**result, key_id=key_id(key))

    def certificate(self, cert_id: str) -> m.CertificatePage:
        document = self.certificate_document(cert_id)
        content = document["certificate"]
        return m.CertificatePage(
            cert_id=cert_id, kind=content["type"], subject=str(content.get("subject", "")),
            issued_at=content["issued_at"], verify_url=f"/verify/{quote(cert_id, safe='')}",
            verification=self.verify_document(document), fields=_field_rows(content), document=document)  # fmt: skip

    def certificate_pdf(self, cert_id: str) -> bytes:
        import tempfile

        from silicio.origin import render_pdf

        document = self.certificate_document(cert_id)
        with tempfile.TemporaryDirectory() as tmp:
            return render_pdf(document, Path(tmp) / "certificate.pdf").read_bytes()

    def verify_page(self, cert_id: str) -> m.VerifyPage:
        """The public verification: the stored document checked with the public key only."""
        document = self.certificate_document(cert_id)
        return self.verify_upload(document)

    def verify_upload(self, document: Any) -> m.VerifyPage:
        verification = self.verify_document(document)
        content = document["certificate"]
        return m.VerifyPage(cert_id=verification.cert_id, kind=content.get("type"),
                            subject=str(content.get("subject", "")), issued_at=content.get("issued_at"),
                            verification=verification, fields=_field_rows(content))  # fmt: skip

    # -- supplier ecosystem

    def registry(self):
        from silicio.supply import RegistryError, read_json

        path = self.supply_dir / REGISTRY_FILE
        if not path.exists():
            raise NotFound(f"no supplier registry at {path}: write one with silicio.supply.write_json")

        def load():
            try:
                return read_json(path)
            except RegistryError as exc:
                raise BadQuery(str(exc)) from None

        return self._cached("registry", load)

    def plan(self) -> dict[str, Any]:
        import datetime as dt
        import json

        path = self.supply_dir / PLAN_FILE
        plan = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        md = self.master_data()
        return {
            "demand": plan.get("demand") or {p.part_number: 1.0 for p in md.products.values()},
            "inventory_weeks": float(plan.get("inventory_weeks", 2.0)),
            "as_of": dt.date.fromisoformat(plan["as_of"]) if plan.get("as_of") else dt.date.today(),
            "automotive": tuple(plan.get("automotive", ())),
        }

    def save_registry(self, registry) -> None:
        from silicio.supply import write_json

        with self._lock:
            self.supply_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.supply_dir / (REGISTRY_FILE + ".tmp")
            write_json(registry, tmp)
            tmp.replace(self.supply_dir / REGISTRY_FILE)  # readers never see half a file
            self._cache.clear()

    def supplier_tokens(self) -> dict[str, str]:
        import json

        path = self.supply_dir / TOKENS_FILE
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def supply(self) -> m.SupplyPage:
        return self._cached("supply", self._supply_page)

    def _supply_page(self) -> m.SupplyPage:
        from silicio import supply

        registry, md, plan = self.registry(), self.master_data(), self.plan()
        graph = supply.build_network(md, registry, plan["demand"], plan["inventory_weeks"])
        stress = supply.stress_test(graph, by="facility")
        mc = supply.monte_carlo(graph, scenarios=SUPPLY_SCENARIOS, seed=0).summary()
        conc = supply.country_concentration(md, list(plan["demand"]), plan["demand"])
        near = supply.nearshore(
            md, registry, plan["demand"], as_of=plan["as_of"], automotive=plan["automotive"]
        )
        certs = registry.valid_certifications(plan["as_of"])
        held = {org: ", ".join(sorted(set(g["standard"].to_list())))
                for (org,), g in certs.group_by(["org_id"])}  # fmt: skip
        site_counts = dict(registry.sites.group_by("org_id").len().iter_rows())
        suppliers = [m.SupplierRow(url=f"/supplier/{quote(o['org_id'], safe='')}", sites=site_counts.get(o["org_id"], 0),
                                   certifications=held.get(o["org_id"], ""),
                                   **{k: o[k] for k in ("org_id", "name", "kind", "size_class", "country", "state")})
                     for o in registry.organisations.iter_rows(named=True)]  # fmt: skip
        countries = [m.CountryShare(country=c, share_pct=s, import_share_pct=conc["import_share_pct"].get(c))
                     for c, s in sorted(conc["share_pct"].items(), key=lambda kv: -kv[1])]  # fmt: skip
        stress_rows = [m.StressRow(**{k: _clean(r[k]) for k in m.StressRow.model_fields if k != "url"})
                       for r in stress.iter_rows(named=True)]  # fmt: skip
        return m.SupplyPage(
            as_of=plan["as_of"].isoformat(), organisations=registry.organisations.height,
            value_hhi=conc["hhi_all"], import_hhi=conc["hhi_imports"],
            concentration_level=supply.concentration_level(conc["hhi_imports"]),
            stress_flagged=int(stress["flagged"].sum()), monte_carlo={k: _clean(v) for k, v in mc.items()},
            suppliers=suppliers,
            single_sources=[m.SingleSourceRow(**{k: s[k] for k in m.SingleSourceRow.model_fields if k != "url"})
                            for s in supply.single_sources(graph, registry)],
            countries=countries, stress=stress_rows,
            nearshore_moves=[m.NearshoreMove(**{k: r[k] for k in m.NearshoreMove.model_fields if k != "url"})
                             for r in near.moves.iter_rows(named=True)] if near.moves.height else [],
            nearshore_gaps=[m.NearshoreGap(**{k: r[k] for k in m.NearshoreGap.model_fields if k != "url"})
                            for r in near.gaps.iter_rows(named=True)] if near.gaps.height else [],
        )  # fmt: skip

    def transparency(self) -> m.TransparencyPage:
        def compute() -> m.TransparencyPage:
            from silicio.supply import public_summary

            plan = self.plan()
            s = public_summary(self.registry(), self.master_data(), plan["demand"], as_of=plan["as_of"])
            counts = [m.CountRow(group=group, value=value, organisations=n)
                      for group in ("organisations_by_country", "local_by_state", "local_by_kind",
                                    "local_by_size_class", "local_by_capability", "local_with_valid_certification")
                      for value, n in s[group].items()]  # fmt: skip
            return m.TransparencyPage(
                home_country=s["home_country"], as_of=s["as_of"], organisations=s["organisations"],
                local_organisations=s["local_organisations"], local_msmes=s["local_msmes"],
                value_hhi=s.get("value_hhi"), import_hhi=s.get("import_hhi"),
                national_content_pct=s.get("national_content_pct", {}), counts=counts)  # fmt: skip

        return self._cached("transparency", compute)

    def supplier_portal(self, org_id: str) -> m.SupplierPortal:
        """What supplier ``org_id`` sees: computed through :class:`silicio.supply.SupplierView`,
        so nothing outside its own rows can reach the page."""
        from silicio.supply import SupplierView

        view = SupplierView(self.registry(), org_id)

        def rows(table, model):
            names = [k for k in model.model_fields if k != "url"]
            return [model(**{k: _date_text(r[k]) for k in names}) for r in table.iter_rows(named=True)]

        organisation = {k: _date_text(v) for k, v in view.organisation().items()}
        return m.SupplierPortal(org_id=org_id, organisation=organisation, sites=rows(view.sites(), m.PortalSite),
                                capabilities=rows(view.capabilities(), m.PortalCapability),
                                certifications=rows(view.certifications(), m.PortalCertification),
                                requests=rows(view.requests(), m.PortalRequest))  # fmt: skip
