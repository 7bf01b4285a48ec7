"""What the lake pages show, computed once: :mod:`silicio.lake.queries` tables and
:mod:`silicio.yields` analyses turned into the page models of :mod:`silicio.web.models`.

Both the HTML pages and their JSON twins call :class:`Dashboard`, so a number on a page is the
number the API returns. Results are kept in one :class:`~silicio.web.cache.ByteCache` until the
catalog changes (files ingested or quarantined): a lot's parts and tests are read once, the
lake's screening runs once, outside the lock the requests share (it is the slowest part by far).
Which lots are held is :mod:`silicio.yields.disposition`'s, as for ``silicio holds``.

Lots are named by their LOT_ID and tested at one or more stages (``wafer_sort``,
``final_test``, ...); a lot's page shows one stage at a time, wafer sort when there is one.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from silicio import lake as silicio_lake
from silicio.datadir import DataDir
from silicio.lake import queries
from silicio.lake.layout import WAFER_SORT
from silicio.yields import (
    bin_counts,
    bin_definitions,
    bin_map,
    bin_pareto,
    load_recipe,
    parametric_map,
    per_test_statistics,
    stacked_fail_map,
    static_pat_limits,
    stored,
    yield_by,
)
from silicio.yields import disposition as hold_rules
from silicio.yields.disposition import (
    Disposition,
    HoldRules,
    LakeScreening,
    default_recipe_path,
)
from silicio.yields.recipe import Recipe
from silicio.yields.wafermap import Orientation, map_json, orientation_of

from . import models as m
from .cache import ByteCache, default_max_bytes
from .links import die_url, lot_url, report_url, test_url, unit_page_url, wafer_url
from .spatialdata import wafer_spatial

_DEFAULT_HOLDS = HoldRules()


class NotFound(LookupError):
    """A lot, wafer or test the lake does not hold; the message says which."""


class Pending(RuntimeError):
    """What a page needs is still being computed in the background (the screening); ask again."""


@dataclass(frozen=True)
class Settings:
    """How the dashboard judges lots; the defaults need no configuration (the hold thresholds'
    are :class:`silicio.yields.disposition.HoldRules`', where each says why)."""

    #: Lots whose final yield is below this fraction are held.
    hold_yield: float = _DEFAULT_HOLDS.min_final_yield
    #: Lots with a larger share of parts outside PAT limits (AEC-Q001) are held.
    pat_hold_fraction: float = _DEFAULT_HOLDS.max_pat_share
    #: Lots whose median moved by more than this many part-level robust sigmas, on two tests or
    #: more, are held (a parametric excursion the per-part screens cannot see).
    shift_hold_sigma: float = _DEFAULT_HOLDS.shift_sigma
    #: Screening recipe (TOML path) of the PAT page and the hold rules; default the automotive
    #: wafer-sort recipe (:data:`silicio.yields.disposition.DEFAULT_RECIPE`).
    recipe: str | os.PathLike[str] | None = None
    #: Wait for the PAT screening where a page needs it (the overview's PAT holds); False shows
    #: the overview without them, with a note, while the screening runs in the background.
    wait_for_screening: bool = True
    #: Seconds between two looks at the catalog for new files (0: every request).
    catalog_check_seconds: float = 1.0
    worst_tests: int = 10
    histogram_bins: int = 40
    #: Bound of the results cache in bytes (lots, wafers, tests, the screening), least recently
    #: used dropped first; default ``$SILICIO_CACHE_MB`` or 256 MB.
    cache_bytes: int = field(default_factory=default_max_bytes)

    @property
    def hold_rules(self) -> HoldRules:
        return HoldRules(min_final_yield=self.hold_yield, max_pat_share=self.pat_hold_fraction,
                         shift_sigma=self.shift_hold_sigma)  # fmt: skip


# ------------------------------------------------------------------------------------------------
# Conversions


def clean(value: Any) -> Any:
    """JSON-safe cell: NaN and infinities become None (no number to show)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def rows_of(table: pa.Table | pl.DataFrame, model: type[m.Row], **extra: Callable[[dict], Any]) -> list:
    """One ``model`` per row; ``extra`` computes fields (``url=lambda row: ...``) from the row."""
    records = table.to_dicts() if isinstance(table, pl.DataFrame) else table.to_pylist()
    names = model.model_fields.keys()
    out = []
    for record in records:
        values = {k: clean(record[k]) for k in names if k in record}
        for key, compute in extra.items():
            values[key] = compute(record)
        out.append(model(**values))
    return out


def one_test(results: pl.DataFrame, test_num: int, product: str | None,
             name: str | None) -> tuple[pl.DataFrame, list[str]]:  # fmt: skip
    """The results of test ``test_num`` under one name, and every name the number carries (most
    results first): ``name`` when given, else the commonest. NotFound when there is none."""
    if results.is_empty():
        raise NotFound(f"no results of test {test_num}" + (f" for product {product!r}" if product else ""))
    names = results["test_name"].drop_nulls().value_counts(sort=True)["test_name"].to_list()
    if name is not None and name not in names:
        raise NotFound(f"test {test_num} has no results named {name!r}; names: {', '.join(names)}")
    chosen = name or (names[0] if names else None)
    if chosen is not None:
        results = results.filter(pl.col("test_name") == chosen)
    return results, names


def _map_data(wafer_map, orientation: Orientation, bin_names: dict[int, str] | None = None) -> m.WaferMapData:
    """The map as the page shows it: colours, legend, axis directions and the flat from the one
    wafer-map module (:func:`silicio.yields.wafermap.map_json`), oriented as the lot's STDF WCR
    says, so the dashboard draws what the reports and exports draw."""
    return m.WaferMapData(
        **map_json(wafer_map, orientation, bin_names=bin_names),
        bin_names={str(k): v for k, v in (bin_names or {}).items() if v},
        orientation_notes=list(orientation.notes),
    )


def _screened_die_url(row: dict) -> str:
    """A screened part's die on its wafer map (its lot for a part outside wafers)."""
    return die_url(row["lot_id"], row["wafer_id"], WAFER_SORT, row["x"], row["y"])


def _reason_url(row: dict) -> str | None:
    return test_url(row["test_num"], row["product"]) if row["test_num"] is not None else None


def _total(yields: pa.Table) -> m.WaferYield:
    rows = rows_of(yields.append_column("wafer_id", pa.nulls(yields.num_rows, pa.string())), m.WaferYield)
    return rows[0] if rows else m.WaferYield(wafer_id=None, tested=0, retests=0, first_pass_dies=0,
                                             first_pass_good=0, final_good=0)  # fmt: skip


def held_lot_rows(disposition: Disposition) -> list[m.HeldLot]:
    """The overview's held lots: one row per held lot and stage, its rules and their sentences."""
    return [
        m.HeldLot(product=h.product, lot_id=h.lot_id, stage=h.stage, final_yield=h.final_yield,
                  rules=[r.rule for r in h.reasons], reasons=[r.text for r in h.reasons],
                  url=lot_url(h.lot_id, h.stage))
        for h in disposition.holds
    ]  # fmt: skip


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
        #: Every computed result, bounded by bytes (``Settings.cache_bytes``).
        self.cache = ByteCache(self.settings.cache_bytes)
        # One DuckDB connection and one cache: requests take turns (pages are quick once cached).
        self._lock = threading.RLock()
        self._recipe: Recipe | None = None
        self._screening_lock = threading.Lock()

    @property
    def _cache(self) -> ByteCache:
        """The results cache (older name, still read by the SPC pages' tests)."""
        return self.cache

    def close(self) -> None:
        with self._lock:
            if self._lake is not None:
                self._lake.close()
                self._lake = None

    def clear_cache(self, *, keep_screening: bool = False) -> None:
        """Forget the computed results (the next requests compute afresh, as after an ingest);
        ``keep_screening`` keeps the screening, which otherwise runs again."""
        with self._lock:
            self.cache.clear(keep=(lambda key: key == "screenings") if keep_screening else None)

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
            self.cache.clear()
            self._token = token
        return self._lake

    def _cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        return self.cache.get_or_compute(key, compute)

    def _call(self, key: Hashable, compute: Callable[[silicio_lake.Lake | None], Any]) -> Any:
        """``compute(lake)`` under the lock, cached under ``key`` until the catalog changes."""
        with self._lock:
            db = self._sync()
            return self._cached(key, lambda: compute(db))

    def _has(self, *tables: str) -> bool:
        return all(t in self._tables for t in tables)

    @property
    def recipe(self) -> Recipe:
        if self._recipe is None:
            self._recipe = load_recipe(default_recipe_path(self.settings.recipe))
        return self._recipe

    # -- shared tables

    def _lot_index(self, db: silicio_lake.Lake | None) -> pl.DataFrame:
        """product, lot, stage, started, files: one row per lot and stage, oldest first."""
        if db is None:
            return pl.DataFrame(schema=queries.LOT_INDEX_SCHEMA)
        return self._cached("lot_index", lambda: queries.lot_index(db))

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
        return self._cached("all_parts", lambda: queries.all_parts(db))

    def _lot_parts(self, db, lot_id: str, stage: str) -> pa.Table:
        return self._cached(("lot_parts", lot_id, stage), lambda: queries.lot_parts(db, lot_id, stage))

    def _lot_tidy(self, db, lot_id: str, stage: str) -> pa.Table:
        return self._cached(("lot_tidy", lot_id, stage), lambda: queries.lot_tidy(db, lot_id, stage))

    def _bin_names(self, db, lot_id: str, stage: str, kind: str) -> pa.Table | None:
        """bin, name, pf of the lot's HBR (hard) or SBR (soft) records; None without any."""
        if not self._has("HBR" if kind == "hard" else "SBR"):
            return None

        def compute() -> pa.Table | None:
            records = queries.bin_records(db, lot_id, stage, kind)
            return bin_definitions(records, kind) if records is not None and records.num_rows else None

        return self._cached(("bin_names", lot_id, stage, kind), compute)

    def _orientation(self, db, lot_id: str, stage: str) -> Orientation:
        """How the lot's maps are drawn: its files' STDF WCR (which way X and Y grow, the flat);
        records that disagree are shown as a note, the map drawn the prober's way."""

        def compute() -> Orientation:
            records = queries.wafer_configurations(db, lot_id, stage)
            try:
                return orientation_of({"WCR": records} if records is not None else {})
            except ValueError as exc:
                return Orientation(notes=(f"{exc}: drawn with X growing right and Y down",))

        return self._cached(("orientation", lot_id, stage), compute)

    # -- screening and disposition

    def _screenings(self, *, wait: bool = True) -> LakeScreening | None:
        """The recipe run on each product's wafer-sort lots (:func:`silicio.yields.disposition.screen_lake`).

        The screening is the slowest thing the dashboard computes, so it runs outside the lock
        that requests share: the lake is read under it, the rules run while other pages are
        served. ``wait=False`` returns None at once while it runs (starting it if needed).
        """
        with self._lock:
            db = self._sync()
            if (done := self.cache.get("screenings")) is not None:
                return done
            if db is None:
                return LakeScreening()
        if not wait:
            if not self._screening_lock.locked():
                threading.Thread(target=self._screenings, name="silicio-screening", daemon=True).start()
            return None
        with self._screening_lock:  # one screening at a time; a second caller gets the first's result
            with self._lock:
                db = self._sync()
                if (done := self.cache.get("screenings")) is not None:
                    return done
                token = self._token
                key = self._screening_key(db)
            out = stored.load_screening(DataDir.at(self.data_dir).screening, key)
            if out is None:
                out = hold_rules.screen_lake(db, self.recipe, reading=lambda: self._lock)
                try:  # kept for the next start; a data directory we may not write only costs the time
                    stored.save_screening(out, DataDir.at(self.data_dir).screening, key)
                except OSError:
                    pass
            with self._lock:
                if self._token == token:  # not when files came in meanwhile: the next call redoes it
                    self.cache.put("screenings", out)
            return out

    def _screening_key(self, db: silicio_lake.Lake) -> str:
        """What the screening is computed from: the lake's files and the recipe's text."""
        files = db.catalog.arrow("files")
        recipe_text = Path(default_recipe_path(self.settings.recipe)).read_text(encoding="utf-8")
        return stored.screening_key(files.column("sha256").to_pylist(), recipe_text)

    def _screenings_or_pending(self) -> LakeScreening:
        screenings = self._screenings(wait=self.settings.wait_for_screening)
        if screenings is None:
            raise Pending("the PAT screening of the lake is still running; this page shows when it is done")
        return screenings

    def disposition(self) -> Disposition:
        """Every held lot and why (:mod:`silicio.yields.disposition`), as ``silicio holds`` says;
        without the PAT and shift rules while the screening runs (``wait_for_screening=False``)."""
        screenings = self._screenings(wait=self.settings.wait_for_screening)
        return self._call(
            ("disposition", screenings is not None), lambda db: self._disposition(db, screenings)
        )

    def _disposition(self, db, screenings: LakeScreening | None) -> Disposition:
        if db is None or not self._has("parts"):
            return Disposition(holds=())
        index = self._lot_index(db)
        # The AEC-Q002 limits of each lot come from the lots tested before it (the lot history).
        history = self._cached("lot_history", lambda: hold_rules.lake_history(db, index, self.settings.hold_rules,
                                                                             self.recipe))  # fmt: skip
        return hold_rules.judge(self._all_parts(db), index, screenings, self.settings.hold_rules, self.recipe,
                                history=history)  # fmt: skip

    # -- pages

    def overview(self) -> m.Overview:
        screenings = self._screenings(wait=self.settings.wait_for_screening)
        key = ("overview", screenings is not None)
        return self._call(key, lambda db: self._overview(db, screenings))

    def _overview(self, db, screenings: LakeScreening | None) -> m.Overview:
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
        table = hold_rules.lot_yield_table(self._all_parts(db), self._lot_index(db))
        lots = rows_of(table, m.LotYield, url=lambda r: lot_url(r["lot_id"], r["stage"]))
        disposition = self._cached(("disposition", screenings is not None),
                                   lambda: self._disposition(db, screenings))  # fmt: skip
        notes = list(disposition.notes)
        if screenings is None:
            notes.append("the PAT screening is still running: lots it would hold show once it is done")
        products = sorted({lot.product for lot in lots if lot.product is not None})
        held = held_lot_rows(disposition)
        # Lots are counted by their id: a lot tested at wafer sort and final test is one lot, two rows.
        return m.Overview(hold_yield=settings.hold_yield, pat_hold_fraction=settings.pat_hold_fraction,
                          products=products, lot_count=len({lot.lot_id for lot in lots}),
                          held_lot_count=len({h.lot_id for h in held}), lots=lots, held_lots=held,
                          notes=notes)  # fmt: skip

    def lot(self, lot_id: str, stage: str | None = None) -> m.LotPage:
        # The page does not wait for the screening: until it is done its holds lack PAT and shifts.
        with self._lock:
            self._sync()
            screenings = self.cache.get("screenings")
        key = ("lot", lot_id, stage, screenings is not None)
        return self._call(key, lambda db: self._lot_page(db, lot_id, stage, screenings))

    def _lot_page(
        self, db, lot_id: str, stage: str | None, screenings: LakeScreening | None = None
    ) -> m.LotPage:
        if db is None:
            raise NotFound(f"no lake at {self.data_dir}")
        product, stage, stages = self._lot(db, lot_id, stage)
        parts = self._lot_parts(db, lot_id, stage)
        wafers = rows_of(
            yield_by(parts, by=["wafer_id"]),
            m.WaferYield,
            url=lambda r: wafer_url(lot_id, r["wafer_id"], stage) if r["wafer_id"] is not None else None,
        )
        stacked = None
        if parts.num_rows and parts["x"].null_count < parts.num_rows:
            try:
                stacked = _map_data(stacked_fail_map(parts, lot_id), self._orientation(db, lot_id, stage))
            except ValueError:  # no die with coordinates and a verdict
                stacked = None
        pareto = rows_of(bin_pareto(parts, kind="soft", names=self._bin_names(db, lot_id, stage, "soft")),
                         m.ParetoBin)  # fmt: skip
        worst = self._worst_tests(self._lot_tidy(db, lot_id, stage), product)
        disposition = self._cached(("disposition", screenings is not None),
                                   lambda: self._disposition(db, screenings))  # fmt: skip
        holds = [
            m.HoldReasonRow(rule=r.rule, reason=r.text)
            for h in disposition.of(lot_id, stage)
            for r in h.reasons
        ]
        return m.LotPage(lot_id=lot_id, product=product, stage=stage, stages=stages,
                         wafer_count=sum(w.wafer_id is not None for w in wafers), total=_total(yield_by(parts, by=())), wafers=wafers, stacked_fail_map=stacked,
                         bin_pareto=pareto, worst_tests=worst, report_url=report_url(lot_id, stage),
                         holds=holds, holds_complete=screenings is not None, units=_units(parts, lot_id, stage))  # fmt: skip

    def _worst_tests(self, tidy: pa.Table, product: str | None) -> list[m.TestStatistics]:
        """Tests with the most fails, then the lowest Cpk, of the dies' final results (``tidy`` of
        :func:`silicio.lake.queries.lot_tidy`: last insertions across the lot's files)."""
        if tidy.num_rows == 0:
            return []
        stats = pl.from_arrow(per_test_statistics(tidy)).filter(pl.col("test_type").is_in(["P", "M"]))
        stats = stats.sort(["fail_count", "cpk"], descending=[True, False], nulls_last=True)
        return rows_of(stats.head(self.settings.worst_tests), m.TestStatistics,
                       url=lambda r: test_url(r["test_num"], product))  # fmt: skip

    def lot_report_html(self, lot_id: str, stage: str | None = None, language: str = "en") -> str:
        """The lot report of :mod:`silicio.yields.report` as one HTML page, with the static PAT
        limits of the product's screening (the PAT page's) and the lot's holds (the overview's),
        its headings in ``language``."""
        from silicio.yields.report import lot_report, render_html

        screenings = self._screenings_or_pending()
        disposition = self.disposition()

        def compute(db) -> str:
            if db is None:
                raise NotFound(f"no lake at {self.data_dir}")
            product, chosen, _ = self._lot(db, lot_id, stage)
            screened = screenings.results.get(product) if chosen == WAFER_SORT else None
            limits = screened.static_limits if screened is not None else None
            from silicio.spatial import report_section

            report = lot_report(db, lot_id, stage=chosen, static_limits=limits, disposition=disposition,
                                spatial=report_section(db, lot_id, chosen))  # fmt: skip
            return render_html(report, language)

        return self._call(("lot_report", lot_id, stage, language), compute)

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
            the_map = _map_data(
                bin_map(parts, kind=kind, lot_id=lot_id, wafer_id=wafer_id),
                self._orientation(db, lot_id, stage),
                names,
            )
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
                parametric = _map_data(
                    parametric_map(one_test, test_num, lot_id=lot_id, wafer_id=wafer_id),
                    self._orientation(db, lot_id, stage),
                )
            except ValueError:
                parametric = None
            statistics = rows_of(per_test_statistics(one_test), m.TestStatistics,
                                 url=lambda r: test_url(r["test_num"], product))  # fmt: skip
        spatial = wafer_spatial(
            self, db, lot_id, wafer_id, stage, parts, self._orientation(db, lot_id, stage)
        )
        return m.WaferPage(lot_id=lot_id, wafer_id=wafer_id, product=product, stage=stage, bin_kind=kind,
                           total=_total(yield_by(parts, by=())), bin_map=the_map, bins=rows_of(counts, m.BinCount),
                           tests=tests, test_num=test_num, parametric_map=parametric,
                           test_statistics=statistics, spatial=spatial)  # fmt: skip

    def test(self, test_num: int, product: str | None = None, name: str | None = None) -> m.TestPage:
        return self._call(
            ("test", test_num, product, name), lambda db: self._test_page(db, test_num, product, name)
        )

    def _test_page(self, db, test_num: int, product: str | None, name: str | None) -> m.TestPage:
        if db is None or not self._has("tidy"):
            raise NotFound(f"no test {test_num}: the lake holds no test results")
        results, names = one_test(queries.test_results(db, test_num, product), test_num, product, name)
        chosen = name or (names[0] if names else None)
        overall = pl.from_arrow(per_test_statistics(results)).row(0, named=True)
        by_lot = pl.from_arrow(per_test_statistics(results, by=["product", "lot_id", "stage"]))
        starts = self._lot_index(db).select("product", pl.col("lot").alias("lot_id"), "stage", "started")
        by_lot = by_lot.join(starts, on=["product", "lot_id", "stage"], how="left", nulls_equal=True)
        by_lot = by_lot.sort("started", nulls_last=True, maintain_order=True)
        lots = rows_of(by_lot, m.LotTestStatistics, url=lambda r: lot_url(r["lot_id"], r["stage"]))

        # is_last_test of the query: the die's last insertion across its lot's files (a retest's)
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
            products=products, count=int(final.size), mean=clean(overall["mean"]), std=clean(overall["std"]),
            cpk=clean(overall["cpk"]), lo_limit=clean(overall["lo_limit"]), hi_limit=clean(overall["hi_limit"]),
            pat_lo=pat_lo, pat_hi=pat_hi,
            histogram=m.Histogram(edges=[float(e) for e in edges], counts=[int(c) for c in counts]),
            lots=lots, notes=notes,
        )  # fmt: skip

    def _static_pat_limits(self, results: pl.DataFrame, product: str, test_num: int, notes: list[str]):
        """Static PAT limits (AEC-Q001) of one test over all the product's wafer-sort lots, with the
        recipe's parameters: the baseline a next lot would get (each lot screened is judged
        against its own earlier lots, :func:`silicio.yields.history.pat_baseline_lots`)."""
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
        return clean(row["pat_lo"]), clean(row["pat_hi"])

    def pat(self) -> m.PatPage:
        screenings = self._screenings_or_pending()
        return self._call("pat", lambda db: self._pat_page(screenings))

    def _pat_page(self, screenings: LakeScreening) -> m.PatPage:
        parts, reasons = [], []
        for product, result in screenings.results.items():
            rebinned = pl.from_arrow(result.parts).filter(pl.col("screened"))
            why = pl.from_arrow(result.reasons)
            labelled = [t.with_columns(pl.lit(product, pl.String).alias("product")) for t in (rebinned, why)]
            parts += rows_of(labelled[0], m.RebinnedPart, url=_screened_die_url)
            reasons += rows_of(labelled[1], m.ScreeningReason, url=_reason_url)
        lots = rows_of(hold_rules.pat_shares(screenings.results), m.LotScreening,
                       url=lambda r: lot_url(r["lot_id"], WAFER_SORT))  # fmt: skip
        return m.PatPage(recipe=self.recipe.identity(), lots=lots, parts=parts, reasons=reasons,
                         notes=list(screenings.notes))  # fmt: skip

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
                final_yield=clean(r["final_yield"]),
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
        for product, lot_id, stage, wafer_id in queries.wafers_matching(db, needle, limit):
            hits.append(m.SearchHit(kind="wafer", label=wafer_id, product=product, lot_id=lot_id, wafer_id=wafer_id,
                                    url=wafer_url(lot_id, wafer_id, stage)))  # fmt: skip
        if self._has("parts"):
            for product, lot_id, stage, wafer_id, part_id, x, y in queries.parts_with_id(db, q, limit):
                where = f"{lot_id} / {wafer_id} ({x}, {y})" if wafer_id is not None else lot_id
                # A part outside wafers (a packaged unit) has its own page by part id.
                url = die_url(lot_id, wafer_id, stage, x, y) if wafer_id is not None or not part_id \
                    else unit_page_url(lot_id, part_id, stage)  # fmt: skip
                hits.append(m.SearchHit(kind="part", label=f"part {part_id}: {where}", product=product,
                                        lot_id=lot_id, wafer_id=wafer_id, url=url))  # fmt: skip
        return m.SearchPage(q=q, hits=hits[:limit])

    # -- for the drill-down pages (silicio.web.drill): the same lake, lock and cache

    def computed(self, key: Hashable, compute: Callable[[silicio_lake.Lake | None], Any]) -> Any:
        """``compute(lake)`` under the lock, cached under ``key`` until the catalog changes."""
        return self._call(key, compute)

    def lot_stage(self, db, lot_id: str, stage: str | None) -> tuple[str | None, str, list[str]]:
        """(product, stage, all stages) of a lot (wafer sort when ``stage`` is None); NotFound
        for an unknown lot or stage."""
        return self._lot(db, lot_id, stage)

    def lot_parts(self, db, lot_id: str, stage: str) -> pa.Table:
        """The lot's parts at ``stage`` (:func:`silicio.lake.queries.lot_parts`), cached."""
        return self._lot_parts(db, lot_id, stage)

    def lot_tidy(self, db, lot_id: str, stage: str) -> pa.Table:
        """The lot's test results at ``stage`` (:func:`silicio.lake.queries.lot_tidy`), cached."""
        return self._lot_tidy(db, lot_id, stage)

    def map_of(self, db, wafer_map, lot_id: str, stage: str, bin_names: dict[int, str] | None = None):
        """A wafer map as the pages draw it, oriented as the lot's STDF WCR says."""
        return _map_data(wafer_map, self._orientation(db, lot_id, stage), bin_names)

    def screenings_done(self) -> LakeScreening | None:
        """The lake's screening when it has run (None while it runs or before it started)."""
        with self._lock:
            self._sync()
            return self.cache.get("screenings")

    def warm(self) -> None:
        """Compute the screening and the overview, e.g. in a thread at start."""
        self._screenings()
        self.overview()


def _units(parts: pa.Table, lot_id: str, stage: str) -> list[m.UnitRow]:
    """The lot's packaged units at ``stage``, by part id, in test order, each with its last
    insertion's bins and verdict: for a stage without wafer coordinates (final test), whose parts
    have no die page; none otherwise."""
    if parts.num_rows == 0 or parts["x"].null_count < parts.num_rows:
        return []
    frame = pl.from_arrow(parts.select(["part_id", "hard_bin", "soft_bin", "passed"])).filter(
        pl.col("part_id").is_not_null() & (pl.col("part_id") != "")
    )
    units = frame.group_by("part_id", maintain_order=True).agg(
        pl.len().alias("insertions"),
        pl.col("hard_bin").last(),
        pl.col("soft_bin").last(),
        pl.col("passed").last(),
    )
    return [
        m.UnitRow(**row, url=unit_page_url(lot_id, row["part_id"], stage))
        for row in units.iter_rows(named=True)
    ]
