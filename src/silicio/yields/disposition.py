"""Lot disposition: every reason to hold a lot at a stage, with the rule, its parameters and the
evidence, as data (and one sentence for people).

A lot (product, lot, stage) is held when any of these rules fires:

* ``final_yield``: its final yield is below :attr:`HoldRules.min_final_yield`;
* ``aec_q002_syl``: its yield is below the statistical yield limit SYL1 = mean - 3 sigma (SYL2
  = mean - 4 sigma) of the product's lots at that stage (AEC-Q002 Rev-B);
* ``aec_q002_sbl``: a failing bin's fallout is above its statistical bin limit SBL1 = mean + 3
  sigma (SBL2 = mean + 4 sigma) (AEC-Q002 Rev-B);
* ``pat_share``: the share of its parts the PAT rules rejected (AEC-Q001 screening of the
  product's wafer-sort lots) is above :attr:`HoldRules.max_pat_share`;
* ``parametric_shift``: its median moved by more than :attr:`HoldRules.shift_sigma` robust sigma
  on :attr:`HoldRules.shift_min_tests` tests or more (:mod:`silicio.yields.excursion`).

:func:`lot_holds` is the rule set itself: a pure function of tables. :func:`lake_disposition`
gathers its inputs from a lake (the queries of :mod:`silicio.lake.queries`, the screening of
:func:`screen_lake`), and is what ``silicio holds``, the lot report and the dashboard's overview
all go through, so they cannot disagree.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from silicio.i18n import C_

from .aecq002 import statistical_yield_analysis
from .excursion import lot_parametric_shifts
from .recipe import Recipe, load_recipe
from .rules import reason_codes
from .screening import ScreeningResult, screen
from .yield_ import consolidate_retests, yield_by

__all__ = [
    "DEFAULT_RECIPE",
    "Disposition",
    "Hold",
    "HoldReason",
    "HoldRules",
    "LakeScreening",
    "final_parts",
    "default_recipe",
    "default_recipe_path",
    "judge",
    "history_settings",
    "lake_history",
    "lake_disposition",
    "lot_holds",
    "lot_quartiles",
    "lot_yield_table",
    "pat_shares",
    "rules_of_recipe",
    "screen_lake",
    "screened_products",
]

#: The screening recipe shipped with silicio that the hold rules run unless told another.
DEFAULT_RECIPE = "automotive_wafer_sort.toml"
#: The stage whose lots are PAT-screened (AEC-Q001 screens at wafer sort).
SCREENED_STAGE = "wafer_sort"
#: Tidy columns the screening rules read (PAT, NNR, GDBN); the rest stay on disk.
SCREEN_COLUMNS = ("lot_id", "wafer_id", "part_index", "part_id", "x", "y", "test_num", "test_name", "pin",
                  "test_type", "result", "lo_limit", "hi_limit", "hard_bin", "soft_bin", "part_passed",
                  "is_last_test", "test_flg")  # fmt: skip
_LOT = ["product", "lot_id", "stage"]
#: Products :func:`screen_lake` reads ahead of the one it screens (their inputs wait in memory).
READ_AHEAD = 2


def default_recipe_path(recipe: str | os.PathLike[str] | None = None):
    """``recipe``, else the automotive wafer-sort recipe shipped with silicio."""
    return recipe or _shipped_recipe_path()


@functools.cache
def _shipped_recipe_path():
    # found once a process: the rules at ingest ask at every lot (~0.2 ms CPU each through importlib)
    from importlib import resources

    return resources.files("silicio.yields") / "recipes" / DEFAULT_RECIPE


def default_recipe() -> Recipe:
    """The automotive wafer-sort recipe shipped with silicio."""
    return load_recipe(default_recipe_path())


@dataclass(frozen=True)
class HoldRules:
    """The thresholds of the hold rules; the defaults need no configuration."""

    #: Hold below this final yield: a fifth of the dies lost is beyond the normal lot-to-lot
    #: spread of a running product, whatever the product (the statistical limits judge finer).
    min_final_yield: float = 0.80
    #: Hold above this share of parts rejected by PAT: AEC-Q001 screening of a stable process
    #: removes well under 1 % of the parts, so more says the lot, not a few parts, is abnormal.
    max_pat_share: float = 0.01
    #: Hold when the lot's median moved by more than this many part-level robust sigmas ...
    shift_sigma: float = 2.0
    #: ... on this many tests or more (one test alone is too often a fluke or a test change).
    shift_min_tests: int = 2
    #: Lots a test needs at the stage to be judged for shifts (AEC-Q001's minimum for limits).
    shift_min_lots: int = 6
    #: Lots AEC-Q002 Rev-B asks for before SYL / SBL are set (a screening recipe's
    #: ``[yield_limits]`` overrides it, see :func:`rules_of_recipe`).
    yield_limits_min_lots: int = 6
    #: Bins whose fallout SBL judges: "soft" or "hard" (AEC-Q002 names no kind; soft bins
    #: separate the failure modes finer).
    yield_limits_bin: str = "soft"

    def __post_init__(self) -> None:
        if not 0 <= self.min_final_yield <= 1 or not 0 <= self.max_pat_share <= 1:
            raise ValueError(
                f"min_final_yield and max_pat_share are fractions 0..1; got {self.min_final_yield}, "
                f"{self.max_pat_share}"
            )
        if self.yield_limits_bin not in ("soft", "hard"):
            raise ValueError(f"yield_limits_bin must be 'soft' or 'hard', got {self.yield_limits_bin!r}")


def rules_of_recipe(rules: HoldRules, recipe: Recipe | None) -> HoldRules:
    """``rules`` with the AEC-Q002 lots and bin kind of ``recipe``'s ``[yield_limits]`` (if any)."""
    limits = getattr(recipe, "yield_limits", None)
    if limits is None:
        return rules
    return replace(rules, yield_limits_min_lots=limits.min_lots, yield_limits_bin=limits.bin)


@dataclass(frozen=True)
class HoldReason:
    """One rule that holds a lot: ``rule`` (its id), ``parameters`` (thresholds, k, lots),
    ``evidence`` (the lot's values and the limits they crossed) and ``text`` for people."""

    rule: str
    parameters: dict[str, Any]
    evidence: dict[str, Any]
    text: str


@dataclass(frozen=True)
class Hold:
    """A held lot at a stage and every reason it is held, in rule order."""

    product: str | None
    lot_id: str
    stage: str
    final_yield: float | None
    reasons: tuple[HoldReason, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: {product, lot_id, stage, final_yield, reasons: [{rule, parameters, evidence, text}]}."""
        # the fields as they are but the reasons, converted once (``asdict(self)`` would convert
        # them, then be overwritten); the other fields are texts and a number
        as_they_are = {f.name: getattr(self, f.name) for f in fields(self)}
        return as_they_are | {"reasons": [asdict(r) for r in self.reasons]}


@dataclass(frozen=True)
class Disposition:
    """The held lots (in the order of the lots judged) and what could not be judged, and why."""

    holds: tuple[Hold, ...]
    notes: tuple[str, ...] = ()

    def of(self, lot_id: str, stage: str | None = None) -> list[Hold]:
        """The holds of lot ``lot_id`` (at ``stage``, when given)."""
        return [h for h in self.holds if h.lot_id == lot_id and (stage is None or h.stage == stage)]


# ------------------------------------------------------------------------------------------------
# The rules


def _frame(table: pa.Table | pl.DataFrame, what: str, needs: Sequence[str]) -> pl.DataFrame:
    frame = table if isinstance(table, pl.DataFrame) else pl.from_arrow(table)
    missing = [c for c in needs if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {', '.join(missing)}")
    return frame


def lot_holds(
    lot_yields: pa.Table | pl.DataFrame,
    final_parts: pa.Table | pl.DataFrame,
    pat_shares: pa.Table | pl.DataFrame | None,
    lot_statistics: pa.Table | pl.DataFrame | None,
    rules: HoldRules | None = None,
    *,
    history: pa.Table | pl.DataFrame | None = None,
    yield_limit_flags: pa.Table | pl.DataFrame | None = None,
) -> Disposition:
    """Every hold reason of every lot: a pure function of the tables below.

    * ``lot_yields``: one row per lot judged: product, lot_id, stage, final_yield; the holds come
      out in its row order;
    * ``final_parts``: the final part of each die (its last test): product, stage, lot_id,
      part_passed and the bin column of ``rules.yield_limits_bin`` (AEC-Q002 SYL / SBL per
      product and stage with at least ``rules.yield_limits_min_lots`` lots);
    * ``pat_shares``: one row per screened lot: product, lot_id, stage, n_parts, pat_parts
      (:func:`pat_shares`); None: not screened (yet), the PAT rule is not judged;
    * ``lot_statistics``: quartiles per lot and parametric test (product, stage, lot_id,
      test_num, test_name, q1, median, q3; :func:`silicio.lake.queries.lot_statistics`); None:
      the shift rule is not judged;
    * ``history``: final parts (as ``final_parts``) of the baseline lots SYL / SBL are set from,
      per product and stage; None: the lots judged are their own baseline. Among themselves n
      lots can lie at most (n - 1) / sqrt(n) sigma from their mean, so SYL1 can fire only from 11
      lots on: a baseline of earlier lots is what AEC-Q002 means.
    * ``yield_limit_flags``: each judged lot's crossings of the SYL / SBL of the lots tested
      before it (:func:`silicio.yields.history.judge_lots_against_history`, columns
      :data:`silicio.yields.history.FLAG_COLUMNS`, lot and wafer rows). When given, the SYL / SBL
      holds are these (``final_parts`` and ``history`` are not used for them): the lake's way.
    """
    rules = rules or HoldRules()
    yields = _frame(lot_yields, "lot_yields", [*_LOT, "final_yield"])
    reasons: dict[tuple, list[HoldReason]] = {}
    notes: list[str] = []

    def add(key: tuple, reason: HoldReason) -> None:
        reasons.setdefault(key, []).append(reason)

    final_yield_of = {}
    for row in yields.iter_rows(named=True):
        key = (row["product"], row["lot_id"], row["stage"])
        final_yield_of[key] = value = row["final_yield"]
        if value is not None and value < rules.min_final_yield:
            add(key, HoldReason(
                rule="final_yield", parameters={"min_final_yield": rules.min_final_yield},
                evidence={"final_yield": value, "limit": rules.min_final_yield},
                text=C_("final yield %(value)s < %(limit)s")
                % {"value": f"{value:.2%}", "limit": f"{rules.min_final_yield:.2%}"}))  # fmt: skip

    if yield_limit_flags is not None:
        _history_holds(yield_limit_flags, add)
    else:
        notes += _yield_limit_holds(final_parts, history, rules, add)

    if pat_shares is not None:
        shares = _frame(pat_shares, "pat_shares", [*_LOT, "n_parts", "pat_parts"])
        for row in shares.iter_rows(named=True):
            share = row["pat_parts"] / row["n_parts"] if row["n_parts"] else None
            if share is not None and share > rules.max_pat_share:
                add((row["product"], row["lot_id"], row["stage"]), HoldReason(
                    rule="pat_share", parameters={"max_pat_share": rules.max_pat_share},
                    evidence={"pat_parts": row["pat_parts"], "parts": row["n_parts"], "share": share,
                              "limit": rules.max_pat_share},
                    text=C_("PAT outliers %(parts)s (%(share)s of parts) > %(limit)s")
                    % {"parts": row["pat_parts"], "share": f"{share:.2%}", "limit": f"{rules.max_pat_share:.2%}"}))  # fmt: skip

    if lot_statistics is not None:
        _shift_holds(lot_statistics, rules, add)

    order = {key: n for n, key in enumerate(final_yield_of)}
    held = sorted(reasons, key=lambda key: order.get(key, len(order)))
    holds = tuple(
        Hold(product=key[0], lot_id=key[1], stage=key[2], final_yield=final_yield_of.get(key),
             reasons=tuple(reasons[key]))
        for key in held
    )  # fmt: skip
    return Disposition(holds=holds, notes=tuple(notes))


def _yield_limit_holds(
    final_parts, history, rules: HoldRules, add: Callable[[tuple, HoldReason], None]
) -> list[str]:
    """AEC-Q002 Rev-B SYL / SBL of each product and stage whose baseline (``history``'s lots of
    that product and stage, else the lots judged) has enough lots; notes for the others."""
    bin_column = f"{rules.yield_limits_bin}_bin"
    needs = ["product", "stage", "lot_id", "part_passed", bin_column]
    frame = _frame(final_parts, "final_parts", needs)
    baselines = _frame(history, "history", needs) if history is not None else None
    parameters = {"min_lots": rules.yield_limits_min_lots, "bin_kind": rules.yield_limits_bin,
                  "baseline": "history" if baselines is not None else "lots judged"}  # fmt: skip
    notes = []
    for (product, stage), group in frame.group_by(["product", "stage"], maintain_order=True):
        baseline = group
        if baselines is not None:
            baseline = baselines.filter(
                pl.col("product").eq_missing(product) & pl.col("stage").eq_missing(stage)
            )
        n_lots = baseline["lot_id"].n_unique()
        if n_lots < rules.yield_limits_min_lots:
            notes.append(C_("%(product)s %(stage)s: %(lots)s lot(s), fewer than the %(needed)s AEC-Q002 yield "
                            "and bin limits need")
                         % {"product": product, "stage": stage, "lots": n_lots, "needed": rules.yield_limits_min_lots})  # fmt: skip
            continue
        limits, flags = statistical_yield_analysis(
            group, baseline, bin_column=bin_column, min_lots=rules.yield_limits_min_lots
        )
        limit_of = {(r["kind"], r["bin"]): r for r in limits.to_pylist()}
        for flag in flags.to_pylist():
            kind = flag["rule"][:3]
            basis = limit_of[(kind, flag["bin"])]
            evidence = {"level": flag["rule"], "value": flag["value"], "limit": flag["limit"],
                        "mean": basis["mean"], "sigma": basis["sigma"], "lots": basis["n_lots"]}  # fmt: skip
            shown = {"bin": flag["bin"], "value": f"{flag['value']:.2%}", "limit": f"{flag['limit']:.2%}"}
            if kind == "SYL":
                what = C_("yield %(value)s < %(limit)s") % shown
            else:
                evidence = {"bin": flag["bin"], **evidence}
                what = C_("bin %(bin)s fallout %(value)s > %(limit)s") % shown
            add((product, flag["lot_id"], stage), HoldReason(
                rule=f"aec_q002_{kind.lower()}", parameters=parameters, evidence=evidence,
                text=C_("AEC-Q002 %(level)s: %(what)s") % {"level": flag["rule"], "what": what}))  # fmt: skip
    return notes


def _history_holds(flags, add: Callable[[tuple, HoldReason], None]) -> None:
    """AEC-Q002 Rev-B SYL / SBL crossings of lots and their wafers against the limits of the lots
    tested before them (the lot history), each a hold reason of its lot."""
    # a few rows: an Arrow table's read as they are (a polars frame of it costs more than the rows)
    for flag in flags.iter_rows(named=True) if isinstance(flags, pl.DataFrame) else flags.to_pylist():
        kind = flag["rule"][:3]
        version = flag["baseline_version"]
        review_by = flag["baseline_review_by"]
        parameters = {
            "baseline": "history",
            "baseline_version": version,
            "baseline_lots": list(flag["baseline_lots"] or []),
            "review_by": review_by.isoformat() if review_by is not None else None,
            "scope": flag["scope"],
        }
        evidence = {"level": flag["rule"], "value": flag["value"], "limit": flag["limit"], "mean": flag["mean"],
                    "sigma": flag["sigma"], "lots": flag["n_values"], "parts": flag["parts"],
                    "count": flag["count"]}  # fmt: skip
        shown = {"bin": flag["bin"], "wafer": flag["wafer_id"], "value": f"{flag['value']:.2%}",
                 "limit": f"{flag['limit']:.2%}"}  # fmt: skip
        if flag["scope"] == "wafer":
            evidence = {"wafer_id": flag["wafer_id"], **evidence}
        on_wafer = flag["wafer_id"] is not None
        if kind == "SYL":
            what = (C_("yield on wafer %(wafer)s %(value)s < %(limit)s") if on_wafer
                    else C_("yield %(value)s < %(limit)s")) % shown  # fmt: skip
        else:
            evidence = {"bin": flag["bin"], **evidence}
            what = (C_("bin %(bin)s fallout on wafer %(wafer)s %(value)s > %(limit)s") if on_wafer
                    else C_("bin %(bin)s fallout %(value)s > %(limit)s")) % shown  # fmt: skip
        basis = (
            C_("version %(version)s") % {"version": version} if version is not None else C_("computed now")
        )
        count = len(parameters["baseline_lots"])
        add((flag["product"], flag["lot"], flag["stage"]), HoldReason(
            rule=f"aec_q002_{kind.lower()}", parameters=parameters, evidence=evidence,
            text=C_("AEC-Q002 %(level)s: %(what)s (limits of the %(count)s lots tested before it, %(basis)s)")
            % {"level": flag["rule"], "what": what, "count": count, "basis": basis}))  # fmt: skip


def _shift_holds(lot_statistics, rules: HoldRules, add: Callable[[tuple, HoldReason], None]) -> None:
    shifts, lots = lot_parametric_shifts(
        lot_statistics, k=rules.shift_sigma, min_lots=rules.shift_min_lots, min_tests=rules.shift_min_tests
    )
    parameters = {
        "k": rules.shift_sigma,
        "min_tests": rules.shift_min_tests,
        "min_lots": rules.shift_min_lots,
    }
    for lot in lots.to_dicts():
        key = (lot["product"], lot["lot_id"], lot["stage"])
        tests = shifts.filter(
            pl.col("product").eq_missing(key[0]) & (pl.col("lot_id") == key[1]) & (pl.col("stage") == key[2])
        ).select("test_num", "test_name", "median", "center", "sigma", "shift")
        add(key, HoldReason(
            rule="parametric_shift", parameters=parameters,
            evidence={"tests": tests.to_dicts(), "worst_test": lot["worst_test"], "worst_shift": lot["worst_shift"]},
            text=C_("parametric shift on %(tests)s tests beyond %(k)s robust sigma of the product's lots "
                    "(worst %(test)s %(shift)s sigma)")
            % {"tests": lot["tests"], "k": f"{rules.shift_sigma:g}", "test": lot["worst_test"],
               "shift": f"{lot['worst_shift']:+.1f}"}))  # fmt: skip


# ------------------------------------------------------------------------------------------------
# Inputs, from the tables of a lake


def lot_yield_table(parts: pl.DataFrame, index: pl.DataFrame) -> pl.DataFrame:
    """One row per lot and stage with parts: product, lot_id, stage, started, wafers and the
    columns of :func:`silicio.yields.yield_by`, in the order of ``index`` (lots by start).

    ``parts``: the lake's parts in test order (:func:`silicio.lake.queries.all_parts`);
    ``index``: :func:`silicio.lake.queries.lot_index`.
    """
    keys = _LOT
    yields = pl.from_arrow(yield_by(parts, by=keys))
    wafers = parts.group_by(keys).agg(pl.col("wafer_id").drop_nulls().n_unique().alias("wafers"))
    lots = index.select(
        "product", pl.col("lot").alias("lot_id"), "stage", pl.col("started").min().over(["lot", "stage"])
    )
    return (
        lots.unique(keys, keep="first", maintain_order=True)
        .join(yields, on=keys, how="inner", nulls_equal=True)
        .join(wafers, on=keys, how="left", nulls_equal=True)
        .with_columns(pl.col("wafers").fill_null(0))
    )


def final_parts(parts: pl.DataFrame) -> pl.DataFrame:
    """The final part of each die (its last test across the files, in test order), with
    ``part_passed``: what AEC-Q002 SYL / SBL count."""
    final = pl.from_arrow(consolidate_retests(parts)).filter(pl.col("is_last_test"))
    return final.rename({"passed": "part_passed"})


def pat_shares(
    screenings: Mapping[str | None, ScreeningResult],
    pat_rules: Collection[str] | None = None,
    stage: str = SCREENED_STAGE,
) -> pl.DataFrame:
    """Per screened lot: product, lot_id, stage, the screening's yield summary (n_parts,
    good_before, good_after, yield_before, yield_after), pat_parts (parts a rule of
    ``pat_rules`` rejected; default the reason codes of the registered rules of the "pat" family,
    :func:`silicio.yields.rules.reason_codes`) and pat_fraction."""
    if pat_rules is None:
        pat_rules = reason_codes("pat")
    frames = []
    for product, result in screenings.items():
        summary = pl.from_arrow(result.yield_summary)
        pat = (
            pl.from_arrow(result.reasons)
            .filter(pl.col("rule").is_in(list(pat_rules)))
            .group_by("lot_id")
            .agg(pl.struct("wafer_id", "part_index").n_unique().alias("pat_parts"))
        )
        frames.append(
            summary.join(pat, on="lot_id", how="left").with_columns(
                pl.col("pat_parts").fill_null(0),
                pl.lit(product, pl.String).alias("product"),
                pl.lit(stage, pl.String).alias("stage"),
            )
        )
    if not frames:
        return pl.DataFrame(schema={"product": pl.String, "lot_id": pl.String, "stage": pl.String,
                                    "n_parts": pl.Int64, "pat_parts": pl.Int64, "pat_fraction": pl.Float64})  # fmt: skip
    out = pl.concat(frames, how="diagonal_relaxed")
    return out.with_columns((pl.col("pat_parts") / pl.col("n_parts")).alias("pat_fraction"))


@dataclass
class LakeScreening:
    """The recipe run on each product's wafer-sort lots, why other products were not screened,
    and the lot statistics the shift rule reads."""

    results: dict[str | None, ScreeningResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    lot_statistics: pl.DataFrame | None = None


def screened_products(index: pl.DataFrame, recipe: Recipe) -> list[tuple[str | None, str | None]]:
    """(product, None) for each product with enough wafer-sort lots for the recipe's static PAT
    limits, (product, why not) for the others; ``index``: the lot index."""
    needed = recipe.pat.min_lots if recipe.pat is not None else 1
    lots = index.filter(pl.col("stage") == SCREENED_STAGE)
    out = []
    for (product,), group in lots.group_by("product", maintain_order=True):
        n_lots = group["lot"].n_unique()
        why = (C_("%(product)s: %(lots)s wafer-sort lot(s), fewer than the %(needed)s static PAT limits need "
                  "(AEC-Q001): not screened") % {"product": product, "lots": n_lots, "needed": needed})  # fmt: skip
        out.append((product, why if n_lots < needed else None))
    return out


def screen_lake(
    lake,
    recipe: Recipe,
    *,
    products: Collection[str | None] | None = None,
    reading: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> LakeScreening:
    """``recipe`` run on each product's wafer-sort lots (all products, or ``products``), and the
    lake's lot statistics. The lake is read inside ``reading()`` (a caller sharing the lake
    between threads passes its lock); the screening itself runs outside it. The reads run in a
    reader thread, up to :data:`READ_AHEAD` products ahead of the one screened: the caller must
    not hold the lock ``reading()`` takes while it calls this."""
    from silicio.lake import queries

    with reading():
        tables = set(lake.tables)
        index = queries.lot_index(lake)
    if products is not None:
        index = index.filter(pl.col("product").is_in(list(products), nulls_equal=True))
    judged = screened_products(index, recipe)
    out = LakeScreening(notes=[note for _, note in judged if note])
    if not {"tidy", "parts"} <= tables:
        return out
    screened = [product for product, why in judged if why is None]

    def read(product: str | None):
        with reading():
            tidy, parts = queries.screening_inputs(lake, product, SCREEN_COLUMNS, SCREENED_STAGE)
            history = pat_history_of(lake, product, recipe)
        return pl.from_arrow(tidy), parts, history

    def quartiles_of(inputs: Future, product: str | None) -> pl.DataFrame:
        return lot_quartiles(inputs.result()[0], product, SCREENED_STAGE)

    def read_statistics() -> pl.DataFrame:
        with reading():
            return queries.lot_statistics(
                lake, leaving_out=[(product, SCREENED_STAGE) for product in screened]
            )

    in_memory: list[Future] = []
    quartiles_in_reader = _parallel_kernels_threadsafe()
    # One reader thread reads the products ahead of the screening (READ_AHEAD of them at most,
    # read or being read), then the other lots' statistics: DuckDB's reading and the screening's
    # single-threaded stretches share the cores, and the reader does not wait for each screening
    # to end before it starts the next read.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="silicio-screen-read") as reader:
        to_read, queued = deque(screened), deque()
        statistics_read = None

        def read_ahead() -> None:
            nonlocal statistics_read
            while to_read and len(queued) < READ_AHEAD:
                ahead = to_read.popleft()
                queued.append(reader.submit(read, ahead))
                # The lot statistics of these rows are taken from them, not read from the lake a
                # second time: by the reader, right after the read, while a product is screened.
                if quartiles_in_reader:
                    in_memory.append(reader.submit(quartiles_of, queued[-1], ahead))
            if not to_read and statistics_read is None:
                statistics_read = reader.submit(read_statistics)

        read_ahead()
        for product in screened:
            frame, parts, history = queued.popleft().result()
            read_ahead()
            if not quartiles_in_reader:
                in_memory.append(Future())
                in_memory[-1].set_result(lot_quartiles(frame, product, SCREENED_STAGE))
            try:
                # final = each die's last insertion across its lot's files, marked by the query layer;
                # each lot's static PAT limits from its own earlier lots
                result = screen(frame, recipe, parts=parts, history=history)
            except ValueError as exc:
                out.notes.append(
                    C_("%(product)s: not screened: %(reason)s") % {"product": product, "reason": exc}
                )
                continue
            out.results[product] = result
            out.notes.extend(
                C_("%(product)s: %(note)s") % {"product": product, "note": n} for n in result.notes
            )
            del parts, frame
        assert statistics_read is not None
        statistics = statistics_read.result()
    # One order from run to run, whichever thread's rows came first: the query's key order.
    statistics = pl.concat([statistics, *(taken.result() for taken in in_memory)]).sort(
        ["product", "stage", "lot_id", "test_num"], nulls_last=True, maintain_order=True
    )
    if products is not None:
        statistics = statistics.filter(pl.col("product").is_in(list(products), nulls_equal=True))
    out.lot_statistics = statistics
    return out


@functools.cache
def _parallel_kernels_threadsafe() -> bool:
    """Whether two threads may run numba's parallel kernels at once: not on its "workqueue"
    threading layer (the one left where neither TBB nor OpenMP is installed), which aborts."""
    import numba

    from .pat import _quartile_groups

    _quartile_groups(np.zeros(0), np.zeros(1, np.int64))  # numba starts its threading layer
    return numba.threading_layer() != "workqueue"


def lot_quartiles(tidy: pl.DataFrame, product: str | None, stage: str) -> pl.DataFrame:
    """:func:`silicio.lake.queries.lot_statistics` of one product's rows at ``stage`` (the tidy
    rows of :func:`silicio.lake.queries.screening_inputs`, ``is_last_test`` of each die across
    its lot's files): the quartiles of each lot's final results per parametric test, interpolated
    as the query's ``quantile_cont``, lo + (hi - lo) x fraction, so that they equal it bit for bit."""
    from .pat import _group_rows, _quartile_groups, key_codes

    rows = (
        tidy.lazy()
        .filter(
            pl.col("is_last_test").fill_null(False)
            & pl.col("result").is_not_null()
            & (pl.col("test_type") == "P")
            & pl.col("lot_id").is_not_null()
        )
        .select("lot_id", "test_num", "test_name", "result")
        .collect()
    )
    # (lot, test) coded as lot x tests + test: a lot's rows come in runs, test numbers are
    # integers; both codes follow their sort order, so the pairs' codes follow (lot_id, test_num).
    lot, lots = key_codes(rows, ["lot_id"], in_runs=True)
    test, tests = key_codes(rows, ["test_num"])
    pair = lot * tests.height + test
    present = np.zeros(lots.height * tests.height, np.bool_)
    present[pair] = True
    pairs = np.flatnonzero(present)
    codes = (np.cumsum(present) - 1)[pair]
    groups = pl.concat([lots[pairs // tests.height], tests[pairs % tests.height]], how="horizontal")
    offsets, order = _group_rows(codes, groups.height)
    ordered = _quartile_groups(rows["result"].to_numpy().astype(np.float64, copy=False)[order], offsets)
    n, start = np.diff(offsets), offsets[:-1]

    def quantile(q: float) -> np.ndarray:
        at = (n - 1) * q
        below, above = np.floor(at), np.ceil(at)
        lo, hi = ordered[start + below.astype(np.int64)], ordered[start + above.astype(np.int64)]
        return np.where(below == above, lo, lo + (hi - lo) * (at - below))

    return groups.select(
        pl.lit(product, pl.String).alias("product"),
        pl.lit(stage, pl.String).alias("stage"),
        "lot_id",
        "test_num",
        pl.Series("test_name", rows["test_name"].gather(order[start]), dtype=pl.String),
        pl.Series("q1", quantile(0.25)),
        pl.Series("median", quantile(0.5)),
        pl.Series("q3", quantile(0.75)),
    )


def pat_history_of(lake, product: str | None, recipe: Recipe) -> dict[str, tuple[str, ...]] | None:
    """The baseline lots of each wafer-sort lot of ``product`` for the recipe's static PAT limits
    (:func:`silicio.yields.history.pat_baseline_lots` with the recipe's ``min_lots``); None when
    the recipe has no PAT rule."""
    from .history import HistorySettings, pat_baseline_lots

    if recipe.pat is None:
        return None
    return pat_baseline_lots(
        lake, product, SCREENED_STAGE, HistorySettings(min_lots=max(2, recipe.pat.min_lots))
    )


def judge(
    parts: pl.DataFrame,
    index: pl.DataFrame,
    screening: LakeScreening | None,
    rules: HoldRules,
    recipe: Recipe | None = None,
    pat_rules: Collection[str] | None = None,
    history: tuple[pa.Table, Sequence[str]] | None = None,
) -> Disposition:
    """:func:`lot_holds` of the lake's parts (test order), lot index and screening (None: still
    running), with the AEC-Q002 settings of ``recipe``; ``history``: the lot history's SYL / SBL
    flags and notes (:func:`lake_history`), which set the AEC-Q002 holds (None: none, with a note)."""
    if history is None:
        # Judged among themselves, n lots lie at most (n - 1) / sqrt(n) sigma from their mean: no
        # SYL / SBL from the lots judged, only from the lots tested before each.
        from .history import FLAG_COLUMNS

        history = (FLAG_COLUMNS.empty_table(), ("AEC-Q002 SYL / SBL not judged: no lot history given",))
    flags, history_notes = history
    disposition = lot_holds(
        lot_yield_table(parts, index),
        final_parts(parts),
        pat_shares(screening.results, pat_rules) if screening is not None else None,
        screening.lot_statistics if screening is not None else None,
        rules_of_recipe(rules, recipe),
        yield_limit_flags=flags,
    )
    return replace(disposition, notes=(*disposition.notes, *history_notes))


def lake_history(lake, index: pl.DataFrame, rules: HoldRules | None = None,
                 recipe: Recipe | None = None) -> tuple[pa.Table, tuple[str, ...]]:  # fmt: skip
    """The AEC-Q002 SYL / SBL flags of the lots of ``index`` (:func:`silicio.lake.queries.lot_index`)
    against the lots of the same program tested before each (the lot history in the catalog:
    a frozen or stored version, else limits computed from the earlier lots), and a note for each
    lot with too few earlier lots. The hold rules' ``yield_limits_min_lots`` and bin kind apply."""
    from .history import judge_lots_against_history

    lots = {(r["product"], r["stage"], r["lot"]) for r in index.iter_rows(named=True)}
    return judge_lots_against_history(lake, lots, settings=history_settings(rules, recipe))


def history_settings(rules: HoldRules | None = None, recipe: Recipe | None = None):
    """The lot history's settings the hold rules judge with: the AEC-Q002 minimum lots and bin
    kind of ``rules`` as ``recipe`` sets them (:func:`rules_of_recipe`)."""
    from .history import HistorySettings

    judged = rules_of_recipe(rules or HoldRules(), recipe)
    return HistorySettings(min_lots=judged.yield_limits_min_lots, bin_column=f"{judged.yield_limits_bin}_bin")


def establishing_settings(recipe: Recipe | None = None, rules: HoldRules | None = None):
    """The settings of a program's first lot-history version stored at ingest
    (:func:`silicio.yields.history.establish_limits`): the hold rules' AEC-Q002 minimum lots and bin
    kind (:func:`history_settings`), the recipe's static PAT parameters (k, IQR-0 policy, quantile
    method), and at least the recipe's PAT ``min_lots`` (AEC-Q001 Rev-D §3.1.1), so that the lot
    it is first stored for is judged as the limits computed for it alone would judge it."""
    from dataclasses import replace as with_values

    settings = history_settings(rules, recipe)
    pat = recipe.pat if recipe is not None else None
    if pat is None:
        return settings
    return with_values(settings, min_lots=max(settings.min_lots, pat.min_lots), pat_k=float(pat.k),
                       iqr_zero=pat.iqr_zero, quantile_method=pat.quantile_method)  # fmt: skip


def lake_disposition(
    lake,
    recipe: Recipe,
    rules: HoldRules | None = None,
    *,
    products: Collection[str | None] | None = None,
    pat_rules: Collection[str] | None = None,
) -> Disposition:
    """Every hold of the lake's lots (of ``products``, when given): its parts, lot index and the
    screening of :func:`screen_lake`, judged by :func:`lot_holds`."""
    from silicio.lake import queries

    if "parts" not in lake.tables:
        return Disposition(holds=(), notes=("the lake holds no parts yet: ingest STDF files",))
    index, parts = queries.lot_index(lake), queries.all_parts(lake)
    if products is not None:
        index = index.filter(pl.col("product").is_in(list(products), nulls_equal=True))
        parts = parts.filter(pl.col("product").is_in(list(products), nulls_equal=True))
    screening = screen_lake(lake, recipe, products=products)
    history = lake_history(lake, index, rules, recipe)
    disposition = judge(parts, index, screening, rules or HoldRules(), recipe, pat_rules, history)
    return replace(disposition, notes=(*screening.notes, *disposition.notes))
