"""The alert rule interface (:class:`AlertRule`), what a rule finds (:class:`Finding`) and what it
looks at (:class:`AlertContext`: the lots and files one ingest brought in, with the facts several
rules share computed once, when the first rule asks)."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

__all__ = ["AlertContext", "AlertRule", "Finding", "QuarantinedFile"]


@dataclass(frozen=True)
class Finding:
    """One thing a rule found: ``subject`` says what it is about (a lot, a wafer, a file, a
    site: the alert fires once per rule and subject), ``title`` one line for people, ``detail``
    the evidence as plain JSON (its digest tells a changed condition from the same one)."""

    subject: str
    title: str
    detail: dict[str, Any]
    product: str | None = None
    lot: str | None = None
    stage: str | None = None


@dataclass(frozen=True)
class QuarantinedFile:
    """A file an ingest quarantined: where it was, its content hash and why."""

    path: str
    sha256: str | None
    reason: str


class AlertRule(ABC):
    """A rule on the ingested data; see :mod:`silicio.alerts` for registering one.

    ``parameters`` holds each threshold and its default; the configuration file may set them
    (of the same type: an integer where a number is expected is taken) and nothing else.
    :meth:`check` adds the rule's own checks of their values."""

    #: The entry point's name and the ``kind`` of a rule in the configuration file.
    name: str = ""
    #: One line for people.
    title: str = ""
    #: parameter -> default.
    parameters: dict[str, Any] = {}
    #: Whether the rule judges lots against their lot history (SYL / SBL, static PAT limits): an
    #: evaluation with such a rule first stores the first version of a program's limits when it
    #: has none (:meth:`AlertContext.establish_limits`).
    reads_lot_history: bool = False

    def check(self, params: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Raise ValueError (the message says which parameter and what is expected) for values
        the types alone do not rule out."""

    @abstractmethod
    def evaluate(self, context: AlertContext, params: dict[str, Any]) -> list[Finding]:
        """What the rule finds in the lots and files of ``context``."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


@dataclass
class AlertContext:
    """What one ingest brought in, and the lake it went into.

    ``lots``: product, lot, stage of each lot a file of the ingest belongs to; ``quarantined``:
    the files it quarantined. The shared facts (:meth:`holds`, :meth:`lot_parts`,
    :meth:`lot_tidy`, :meth:`static_pat_limits`) are computed on first use and kept, so rules that
    read the same thing pay once.

    ``ingested`` (:class:`~silicio.alerts.ingested.IngestedLots`, what :func:`~silicio.alerts.engine.context_of_ingest`
    gives): the facts come from the catalog and the files the ingest wrote, the lake's queries
    only where those cannot give the same; None: from the lake's queries (a re-evaluation, a
    test). Either way the same facts. A rule may also query ``lake`` itself.
    """

    lake: Any
    lots: pl.DataFrame
    quarantined: list[QuarantinedFile] = field(default_factory=list)
    ingested: Any = None
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def lot_keys(self, stage: str | None = None) -> list[tuple[str | None, str, str]]:
        """(product, lot, stage) of the ingested lots (at ``stage``, when given)."""
        # read off the frame once (every rule asks), again only when ``lots`` is another frame
        of, keys = self._cache.get("lot_keys", (None, None))
        if of is not self.lots:
            keys = [(r["product"], r["lot"], r["stage"]) for r in self.lots.iter_rows(named=True)]
            self._cache["lot_keys"] = self.lots, keys
        return [key for key in keys if stage is None or key[2] == stage]

    def lot_parts(self, lot: str, stage: str) -> pl.DataFrame:
        """The parts of ``lot`` at ``stage`` in test order (:func:`silicio.lake.queries.lot_parts`)."""
        key = ("parts", lot, stage)
        if key not in self._cache:
            from silicio.lake import queries

            found = self.ingested.lot_frame("parts", lot, stage) if self.ingested is not None else None
            self._cache[key] = (
                found if found is not None else pl.from_arrow(queries.lot_parts(self.lake, lot, stage))
            )
        return self._cache[key]

    def lot_tidy(self, lot: str, stage: str, columns: tuple[str, ...]) -> pl.DataFrame:
        """``columns`` of the test results of ``lot`` at ``stage`` in test order, ``is_last_test``
        across the lot's files (:func:`silicio.lake.queries.lot_tidy`)."""
        key = ("tidy", lot, stage, columns)
        if key not in self._cache:
            from silicio.lake import queries

            found = (
                self.ingested.lot_frame("tidy", lot, stage, columns) if self.ingested is not None else None
            )
            if found is None:
                found = pl.from_arrow(queries.lot_tidy(self.lake, lot, stage))
                found = found.select([c for c in columns if c in found.columns])
            self._cache[key] = found
        return self._cache[key]

    def ingested_results(self, lot: str, stage: str, columns: tuple[str, ...]) -> pa.Table | None:
        """``columns`` of the test results of ``lot`` at ``stage`` from the lot's one new file,
        in no particular order (for a count that does not depend on it), texts dictionary-encoded
        (:meth:`silicio.alerts.ingested.IngestedLots.lot_results`); None when not at ingest or
        the lot has other files (:meth:`lot_tidy` then)."""
        if self.ingested is None:
            return None
        return self.ingested.lot_results(lot, stage, columns)

    def static_pat_limits(self, product: str | None, stage: str, lot: str):
        """The static PAT limits of the stored lot-history version ``lot`` is judged against
        (:func:`silicio.yields.history.history_static_limits`); None when there is none."""
        key = ("static", product, stage, lot)
        if key not in self._cache:
            from silicio.yields.history import history_static_limits

            if self.ingested is not None and self.ingested.knows([(product, lot, stage)]):
                self._cache[key] = self.ingested.static_limits(product, stage, lot)
            else:
                self._cache[key] = history_static_limits(self.lake, product, stage, lot)
        return self._cache[key]

    def history_lots(self, product: str | None, stage: str) -> list[dict[str, Any]]:
        """The lots of ``product`` at ``stage`` with their baseline key and test start
        (:func:`silicio.lake.queries.history.history_lots`, as dicts): at ingest from the catalog
        through SQLAlchemy (:func:`silicio.lake.queries.alerts.catalog_history_lots`)."""
        key = ("history_lots", product, stage)
        if key not in self._cache:
            if self.ingested is not None:
                self._cache[key] = self.ingested.history_lots(product, stage)
            else:
                from silicio.lake.queries.history import history_lots

                self._cache[key] = history_lots(self.lake, product, stage).to_pylist()
        return self._cache[key]

    def has_stored_limits(self, key) -> bool:
        """Whether baseline ``key`` (:class:`~silicio.lake.catalog.BaselineKey`) has a stored version."""
        if self.ingested is not None:
            return bool(self.ingested.stored_versions(key))
        return bool(self.lake.catalog.baseline_versions(key))

    def establish_limits(self, actor: str) -> list:
        """Store the first version of the lot-history limits (:func:`silicio.yields.history.establish_limits`,
        logged with ``actor``) of each program of an ingested lot that has none, when that lot is its
        program's newest and at least ``min_lots`` of its lots were tested before it: the limits it
        is judged against are then computed once, from those lots, and the program's next lots are
        judged against them until ``silicio limits update`` stores another version (AEC-Q001
        Rev-D §3.1.1: static limits from at least six lots, reviewed periodically), not computed
        again from the whole history at every lot. Settings: the hold rules' and the shipped
        recipe's (:func:`silicio.yields.disposition.establishing_settings`). A lot tested before
        another of its program (a backfill) establishes nothing. Each :class:`~silicio.yields.history.LimitUpdate`."""
        from silicio.lake.catalog import BaselineKey
        from silicio.yields import disposition as rules
        from silicio.yields.history import earlier_lots, establish_limits

        from .ingested import program_lots

        settings = rules.establishing_settings(load_recipe_once(rules.default_recipe_path()))
        candidates = []
        for product, lot, stage in self.lot_keys():
            if self.ingested is not None:  # the lot's key from the ingest's rows: no query on a line
                key, started = self.ingested.history_key(product, stage, lot)
            else:
                mine = next((r for r in self.history_lots(product, stage) if r["lot"] == lot), None)
                if mine is None:
                    continue
                key, started = BaselineKey(product, stage, mine["program"], mine["revision"]), mine["started"]
            # a program with a stored version (a running line) needs none: its lots are not read
            if started is None or self.has_stored_limits(key):
                continue
            same = program_lots(self.history_lots(product, stage), key)
            if any(at is not None and at > started for _, at in same):
                continue  # not the program's newest lot
            candidates.append((started, lot, key, same))
        out, done = [], set()
        for started, lot, key, same in sorted(candidates, key=lambda c: (c[0], c[1])):
            if key in done:
                continue
            earlier = earlier_lots(same, lot, started, settings)
            if len(earlier) < settings.min_lots:
                continue
            done.add(key)
            out.append(establish_limits(self.lake, key, earlier, actor=actor, settings=settings))
        if any(update.version is not None for update in out):
            # the facts judged against the stored history are read again
            self._cache = {k: v for k, v in self._cache.items() if k == "lot_keys" or k[0] == "history_lots"}
            if self.ingested is not None:
                self.ingested.history_written()
        return out

    def known_signatures(self, stage: str) -> Mapping[str | None, set[str]]:
        """product -> the wafer-map signature classes its classified wafers at ``stage`` have had,
        the ingested lots' wafers not counted (the catalog's ``wafer_signatures``, read at each
        call: signatures are stored between evaluations; at ingest read at the first lookup, as
        most lots have no wafer whose class asks)."""
        ingested = {lot for _, lot, _ in self.lot_keys(stage)}
        if self.ingested is not None:  # only those rows, through SQLAlchemy
            from silicio.lake.queries.alerts import known_signatures

            engine = self.ingested.catalog.engine
            return _ReadAtFirstLookup(lambda: known_signatures(engine, stage, sorted(ingested)))
        seen: dict[str | None, set[str]] = {}
        for row in self.lake.catalog.rows("wafer_signatures"):
            if row["stage"] == stage and row["lot"] not in ingested:
                seen.setdefault(row["product"], set()).add(row["label"])
        return seen

    def yield_series(self, product: str | None, stage: str, wafers: bool) -> pl.DataFrame:
        """The yield of each lot (``wafers``: each wafer) of ``product`` at ``stage`` in test order
        (:func:`silicio.lake.queries.alerts.lot_yield_series` / ``wafer_yield_series``), read at
        each call."""
        from silicio.lake.queries import alerts as queries

        if self.ingested is not None:  # the catalog's own rows, through SQLAlchemy
            of = queries.catalog_wafer_yields if wafers else queries.catalog_lot_yields
            return of(self.ingested.catalog.engine, product, stage)
        of = queries.wafer_yield_series if wafers else queries.lot_yield_series
        return of(self.lake, product, stage)

    def holds(self):
        """The disposition rules' holds of the ingested lots (:mod:`silicio.yields.disposition`:
        final yield, AEC-Q002 SYL / SBL against the lots tested before each; PAT and parametric
        shifts are the PAT rule's and not judged here), a :class:`~silicio.yields.disposition.Disposition`."""
        if "holds" not in self._cache:
            self._cache["holds"] = _holds_of(self)
        return self._cache["holds"]


class _ReadAtFirstLookup(Mapping):
    """The mapping ``read()`` gives, read at its first lookup (not when made: a rule that asks for
    it in a case that seldom arises pays the read only then)."""

    def __init__(self, read: Callable[[], Mapping]):
        self._read = read
        self._values: Mapping | None = None

    def _read_once(self) -> Mapping:
        if self._values is None:
            self._values = self._read()
        return self._values

    def __getitem__(self, key):
        return self._read_once()[key]

    def __iter__(self) -> Iterator:
        return iter(self._read_once())

    def __len__(self) -> int:
        return len(self._read_once())


def _holds_of(context: AlertContext):
    from silicio.lake import queries
    from silicio.yields import disposition as rules

    keys = context.lot_keys()
    if not keys:
        return rules.Disposition(holds=())
    recipe = load_recipe_once(rules.default_recipe_path())
    # the ingest's facts when they hold every lot (a caller may add lots of its own)
    ingested = context.ingested if context.ingested is not None and context.ingested.knows(keys) else None
    if ingested is not None:
        judged = ingested.in_test_order(keys)
        # rules.judge's holds without its final parts, which the SYL / SBL flags given leave
        # unread; of the lot yields (rules.lot_yield_table) only the final yield is read
        yields = _final_yields(context, judged)
        if not yields.height:
            return rules.Disposition(holds=())
        flags, notes = ingested.history_flags(judged, rules.history_settings(rules.HoldRules(), recipe))
        disposition = rules.lot_holds(yields, None, None, None, rules.rules_of_recipe(rules.HoldRules(), recipe),
                                      yield_limit_flags=flags)  # fmt: skip
        return replace(disposition, notes=(*disposition.notes, *notes))
    wanted = pl.DataFrame(keys, schema=["product", "lot", "stage"], orient="row")
    index = queries.lot_index(context.lake).join(wanted, on=["product", "lot", "stage"], nulls_equal=True)
    frames = []
    for product, lot, stage in keys:
        parts = context.lot_parts(lot, stage)
        if parts.height:
            frames.append(parts.select("lot_id", "wafer_id", "die_key", "passed", "soft_bin", "hard_bin")
                          .with_columns(pl.lit(product, pl.String).alias("product"),
                                        pl.lit(stage, pl.String).alias("stage")))  # fmt: skip
    if not frames:
        return rules.Disposition(holds=())
    parts = pl.concat(frames, how="vertical_relaxed")
    history = rules.lake_history(context.lake, index, rules.HoldRules(), recipe)
    return rules.judge(parts, index, None, rules.HoldRules(), recipe, history=history)


def _final_yields(context: AlertContext, keys: list[tuple[str | None, str, str]]) -> pl.DataFrame:
    """product, lot_id, stage, final_yield of the lots of ``keys`` ((product, lot, stage), a lot
    once) that have parts, in their order: the final yield of :func:`silicio.yields.yield_by` (parts
    with a verdict; each die's last of them, a null ``die_key`` a die of its own; good / dies, null
    without dies), counted per lot (a die's key names its lot)."""
    rows = []
    for product, lot, stage in dict.fromkeys(keys):
        parts = context.lot_parts(lot, stage)
        if parts.height:
            rows.append((product, lot, stage, _final_yield(context, parts, lot, stage)))
    return pl.DataFrame(rows, schema={"product": pl.String, "lot_id": pl.String, "stage": pl.String,
                                      "final_yield": pl.Float64}, orient="row")  # fmt: skip


def _final_yield(context: AlertContext, parts: pl.DataFrame, lot: str, stage: str) -> float | None:
    """The final yield of one lot's parts (:func:`_final_yields`)."""
    if parts["passed"].null_count() or parts["die_key"].null_count():
        verdict = parts.filter(pl.col("passed").is_not_null()) if parts["passed"].null_count() else parts
        key = verdict["die_key"]
        last = key.is_last_distinct()
        if key.null_count():  # each a die of its own
            last = last | key.is_null()
    elif (
        context.ingested.file_table("parts", lot, stage) is not None
        and not parts["is_last_test"].null_count()
    ):
        # the parts of the lot's one file, every key known: its is_last_test is each die's last
        # part in the file's order, the parts' order here (no sort); the columns as the lot's
        # other counts (bins, maps, sites) read them, converted once
        from .ingested import column_array

        final = column_array(parts, "is_last_test", False)
        dies = int(np.count_nonzero(final))
        good = int(np.count_nonzero(final & column_array(parts, "passed", False)))
        return good / dies if dies else None
    else:
        verdict, last = parts, pl.Series(last_of_each(parts["die_key"].to_numpy()))
    # counted on polars' bits (a Series' sum: no thread woken), not unpacked to numpy (~0.3 ms a 25-wafer lot)
    dies = int(last.sum())
    good = int((last & verdict["passed"]).sum())
    return good / dies if dies else None


def last_of_each(values):
    """Whether each value is the last of its value (polars' ``is_last_distinct``)."""
    last = np.zeros(values.size, np.bool_)
    if values.size:
        _, first_from_end = np.unique(values[::-1], return_index=True)
        last[values.size - 1 - first_from_end] = True
    return last


_RECIPES: dict[Any, Any] = {}


def load_recipe_once(path) -> Any:
    """:func:`silicio.yields.recipe.load_recipe` of ``path``, parsed again only when the file
    changed (its size or modification time)."""
    import os

    from silicio.yields.recipe import load_recipe

    stat = os.stat(path)
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _RECIPES:
        _RECIPES.clear()
        _RECIPES[key] = load_recipe(path)
    return _RECIPES[key]


def plain(value: Any) -> Any:
    """``value`` as plain JSON: NaN and infinities as null, tuples as lists, numpy scalars as numbers."""
    if hasattr(value, "item") and not isinstance(value, list | dict | str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
