"""The lot history: AEC-Q002 SYL / SBL and AEC-Q001 static PAT limits from earlier lots, versioned.

Judging lots against limits computed from the same lots cannot find an abnormal one: with n lots
no lot lies more than (n - 1) / sqrt(n) sample sigmas from their mean (2.04 at six lots), so a
3-sigma SYL is never crossed. The limits a lot is judged against come from a *baseline*: at least
``min_lots`` lots of the same product, stage and test program (MIR JOB_NAM and JOB_REV) that were
tested before it (by test start), never the lot itself.

A baseline has versions (:class:`Baseline`): the lots used, the parameters, when and by whom it
was computed, and a date by which it is to be reviewed. :func:`update_limits` computes new
versions from the lots in the lake and stores them in the catalog; a frozen baseline is used as-is
and gets no new version until it is unfrozen. A lot is judged (:func:`judge_lot_against_history`)
against the newest stored version computed only from lots tested before it (the frozen one when
frozen), else against limits computed there and then from the lots tested before it (version
null, not stored).

Limits, per lot and per wafer:

* SYL1 / SYL2 = mean - 3 / 4 sigma of the yields (:func:`silicio.yields.aecq002.statistical_yield_limits`);
* SBL1 / SBL2 = mean + 3 / 4 sigma of each failing bin's fallout
  (:func:`silicio.yields.aecq002.statistical_bin_limits`);
* static PAT limits of each test (:func:`silicio.yields.pat.static_pat_limits`).

The first half of this module is pure (tables in, tables out); the functions under "On a lake"
read through :mod:`silicio.lake.queries.history` and write through the catalog.

References
----------
Automotive Electronics Council, *AEC-Q002 Rev-B: Guidelines for Statistical Yield Analysis*
(2012): SYL / SBL from the mean and sigma of at least six lots of the product's history.

Automotive Electronics Council, *AEC-Q001 Rev-D: Guidelines for Part Average Testing* (2011):
static PAT limits from at least six lots, to be reviewed and updated periodically as more data
comes (silicio's default review interval: six months, :data:`DEFAULT_REVIEW_DAYS`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa

from silicio.i18n import C_
from silicio.lake.catalog import BaselineKey

from .aecq002 import BIN_COLUMNS, statistical_bin_limits, statistical_yield_limits
from .pat import IQR_ZERO_POLICIES, QUANTILE_METHODS, STATIC_SCHEMA, static_pat_limits

if TYPE_CHECKING:
    from silicio.lake.query import Lake

__all__ = [
    "DEFAULT_REVIEW_DAYS",
    "FLAG_COLUMNS",
    "YIELD_LIMIT_COLUMNS",
    "Baseline",
    "BaselineKey",
    "BaselineLot",
    "HistorySettings",
    "LimitUpdate",
    "LotCounts",
    "LotJudgement",
    "NotEnoughHistory",
    "coded_lot_counts",
    "compute_baseline",
    "earlier_lots",
    "establish_limits",
    "freeze_limits",
    "history_static_limits",
    "judge_lot",
    "judge_lot_counts",
    "judge_lot_against_history",
    "judge_lots_against_history",
    "judge_one_lot",
    "limits_overview",
    "lot_counts",
    "not_judged",
    "pat_baseline_lots",
    "too_few_lots",
    "update_limits",
]

#: Days from a computation to the date its limits are to be reviewed: six months. AEC-Q001 Rev-D asks
#: static limits to be reviewed and updated periodically; half a year is silicio's choice of period.
DEFAULT_REVIEW_DAYS = 182

SCOPES = ("lot", "wafer")
#: SYL / SBL of a baseline, per scope: one row per limit set (``bin`` null for SYL).
YIELD_LIMIT_COLUMNS = pa.schema(
    [
        ("scope", pa.string()),
        ("kind", pa.string()),
        ("bin", pa.uint16()),
        ("n_lots", pa.int64()),
        ("n_values", pa.int64()),
        ("mean", pa.float64()),
        ("sigma", pa.float64()),
        ("limit1", pa.float64()),
        ("limit2", pa.float64()),
    ]
)

#: A lot's (and its wafers') crossings of a baseline's limits: :func:`judge_lot`.
FLAG_COLUMNS = pa.schema(
    [
        ("product", pa.string()),
        ("stage", pa.string()),
        ("program", pa.string()),
        ("revision", pa.string()),
        ("lot", pa.string()),
        ("wafer_id", pa.string()),  # null for the lot's own flags
        ("scope", pa.string()),  # "lot" or "wafer"
        ("rule", pa.string()),  # SYL2, SYL1, SBL2, SBL1: the most severe crossed
        ("bin", pa.uint16()),  # null for SYL
        ("value", pa.float64()),  # yield or the bin's fallout, a fraction
        ("limit", pa.float64()),
        ("mean", pa.float64()),  # of the baseline
        ("sigma", pa.float64()),
        ("parts", pa.int64()),  # final dies of the lot or wafer
        ("count", pa.int64()),  # of them good (SYL) or in the bin (SBL)
        ("baseline_version", pa.int64()),  # null: computed for this judgement, not stored
        ("baseline_computed_at", pa.timestamp("us", tz="UTC")),
        ("baseline_review_by", pa.date32()),
        ("baseline_lots", pa.list_(pa.string())),
        ("n_values", pa.int64()),  # lots, or wafers, the limit is computed from
    ]
)

#: No flags (a table is immutable: one serves every lot that crosses nothing).
_NO_FLAGS = FLAG_COLUMNS.empty_table()


class NotEnoughHistory(ValueError):
    """A lot cannot be judged: fewer than ``min_lots`` lots of its program were tested before it,
    or it has no test start to tell which were."""


@dataclass(frozen=True)
class HistorySettings:
    """How baselines are computed; stored with each version as its ``parameters``."""

    #: AEC-Q002 Rev-B and AEC-Q001 Rev-D: limits from at least six lots.
    min_lots: int = 6
    #: The most recent lots a baseline keeps (None: every earlier lot).
    max_lots: int | None = None
    bin_column: str = "soft_bin"
    #: Static PAT limits (AEC-Q001 Rev-D): robust mean +- ``pat_k`` robust sigma.
    pat_k: float = 6.0
    iqr_zero: str = "skip"
    quantile_method: str = "linear"
    review_days: int = DEFAULT_REVIEW_DAYS

    def __post_init__(self) -> None:
        if not isinstance(self.min_lots, int) or self.min_lots < 2:
            raise ValueError(
                f"min_lots must be an integer >= 2 (a sigma needs two lots), got {self.min_lots!r}"
            )
        if self.max_lots is not None and (
            not isinstance(self.max_lots, int) or self.max_lots < self.min_lots
        ):
            raise ValueError(f"max_lots must be None or an integer >= min_lots ({self.min_lots}), "
                             f"got {self.max_lots!r}")  # fmt: skip
        if self.bin_column not in BIN_COLUMNS:
            raise ValueError(f"bin_column must be one of {', '.join(BIN_COLUMNS)}; got {self.bin_column!r}")
        if not isinstance(self.pat_k, int | float) or not math.isfinite(self.pat_k) or self.pat_k <= 0:
            raise ValueError(f"pat_k must be a positive number, got {self.pat_k!r}")
        if self.iqr_zero not in IQR_ZERO_POLICIES:
            raise ValueError(f"iqr_zero must be one of {', '.join(IQR_ZERO_POLICIES)}; got {self.iqr_zero!r}")
        if self.quantile_method not in QUANTILE_METHODS:
            raise ValueError(f"quantile_method must be a numpy quantile method; got {self.quantile_method!r}")
        if not isinstance(self.review_days, int) or self.review_days < 1:
            raise ValueError(f"review_days must be a positive integer, got {self.review_days!r}")

    def parameters(self) -> dict[str, Any]:
        return {
            "min_lots": self.min_lots,
            "max_lots": self.max_lots,
            "bin_column": self.bin_column,
            "pat_k": self.pat_k,
            "iqr_zero": self.iqr_zero,
            "quantile_method": self.quantile_method,
            "review_days": self.review_days,
        }

    @classmethod
    def from_parameters(cls, parameters: dict[str, Any]) -> HistorySettings:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in parameters.items() if k in known})


@dataclass(frozen=True)
class BaselineLot:
    """A lot a baseline is computed from: its test start and final dies (good of them)."""

    lot: str
    started: datetime
    parts: int
    good_parts: int


@dataclass(frozen=True)
class Baseline:
    """One version of the limits of a product, stage and test program: see the module notes.

    ``version`` is None for limits computed for one judgement and not stored; ``pat_limits`` is
    the table of :func:`silicio.yields.pat.static_pat_limits` (None when not computed or loaded).
    """

    key: BaselineKey
    version: int | None
    computed_at: datetime
    review_by: date
    parameters: dict[str, Any]
    lots: tuple[BaselineLot, ...]
    yield_limits: pa.Table
    pat_limits: pa.Table | None = None
    actor: str | None = None
    frozen: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def lot_ids(self) -> list[str]:
        return [lot.lot for lot in self.lots]

    @property
    def last_started(self) -> datetime:
        return max(lot.started for lot in self.lots)

    @property
    def bin_column(self) -> str:
        """The bin column its SBL are of: ``soft_bin`` or ``hard_bin``."""
        return self.parameters.get("bin_column", "soft_bin")

    @functools.cached_property
    def scope_limits(self) -> dict[str, tuple[dict[str, Any], dict[int, dict[str, Any]]]]:
        """scope -> its SYL row and its SBL rows by bin (rows of ``yield_limits``), for each scope
        with a SYL: read once a baseline (a stored version judges lot after lot)."""
        limits = self.yield_limits.to_pylist()
        out = {}
        for scope in SCOPES:
            scoped = [r for r in limits if r["scope"] == scope]
            syl = [r for r in scoped if r["kind"] == "SYL"]
            if syl:
                out[scope] = syl[0], {r["bin"]: r for r in scoped if r["kind"] == "SBL"}
        return out


# --------------------------------------------------------------------------------------------
# Yields and fallout from final dies counted per lot, wafer and bin
# (:data:`silicio.lake.queries.history.BIN_COUNT_COLUMNS`)

_COUNT_COLUMNS = ("lot", "wafer_id", "hard_bin", "soft_bin", "passed", "dies")


def _counts(bin_counts: pa.Table | pl.DataFrame) -> pl.DataFrame:
    frame = bin_counts if isinstance(bin_counts, pl.DataFrame) else pl.from_arrow(bin_counts)
    missing = [c for c in _COUNT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"the bin counts lack the column(s) {', '.join(missing)}; expected {', '.join(_COUNT_COLUMNS)}"
        )
    # A die without a verdict is not good, and counts in the fallout of its bin (as aecq002 counts it).
    return frame.with_columns(pl.col("passed").fill_null(False), pl.col("dies").cast(pl.Int64))


def _group(scope: str) -> list[str]:
    return ["lot"] if scope == "lot" else ["lot", "wafer_id"]


def _scope_rows(frame: pl.DataFrame, scope: str) -> pl.DataFrame:
    return frame if scope == "lot" else frame.filter(pl.col("wafer_id").is_not_null())


def scope_yields(bin_counts: pa.Table | pl.DataFrame, scope: str = "lot") -> pl.DataFrame:
    """Final yield of each lot (``scope="lot"``) or wafer (``"wafer"``, dies outside wafers left
    out): ``lot, [wafer_id,] parts, good, yield``, in order."""
    keys = _group(scope)
    return (
        _scope_rows(_counts(bin_counts), scope)
        .group_by(keys)
        .agg(pl.col("dies").sum().alias("parts"), pl.col("dies").filter(pl.col("passed")).sum().alias("good"))
        .with_columns((pl.col("good") / pl.col("parts")).alias("yield"))
        .sort(keys)
    )


def scope_bin_fallout(bin_counts: pa.Table | pl.DataFrame, scope: str = "lot",
                      bin_column: str = "soft_bin") -> pl.DataFrame:  # fmt: skip
    """Fallout of each failing bin in each lot or wafer: ``lot, [wafer_id,] bin, parts, n_bin,
    fallout``. Every lot (wafer) gets a row for every bin its failing dies fall in anywhere in the
    table, zero when it has none: a zero is part of the bin's distribution (AEC-Q002)."""
    keys = _group(scope)
    frame = _scope_rows(_counts(bin_counts), scope)
    sizes = frame.group_by(keys).agg(pl.col("dies").sum().alias("parts"))
    failing = frame.filter(~pl.col("passed") & pl.col(bin_column).is_not_null())
    counts = failing.group_by(*keys, pl.col(bin_column).cast(pl.UInt16).alias("bin")).agg(
        pl.col("dies").sum().alias("n_bin")
    )
    bins = counts.select(pl.col("bin").unique())
    return (
        sizes.join(bins, how="cross")
        .join(counts, on=[*keys, "bin"], how="left", nulls_equal=True)
        .with_columns(pl.col("n_bin").fill_null(0))
        .with_columns((pl.col("n_bin") / pl.col("parts")).alias("fallout"))
        .sort([*keys, "bin"])
    )


def yield_limit_table(
    bin_counts: pa.Table | pl.DataFrame, settings: HistorySettings | None = None
) -> pa.Table:
    """SYL and SBL (AEC-Q002 Rev-B) of the lots in ``bin_counts``, per lot and per wafer (columns
    :data:`YIELD_LIMIT_COLUMNS`). Wafer limits need wafers from ``min_lots`` lots or more, else
    there are none. Fewer than ``min_lots`` lots raises :class:`NotEnoughHistory`."""
    settings = settings or HistorySettings()
    rows = []
    for scope in SCOPES:
        yields = scope_yields(bin_counts, scope)
        n_lots = yields["lot"].n_unique()
        if n_lots < settings.min_lots:
            if scope == "lot":
                raise NotEnoughHistory(
                    f"AEC-Q002 Rev-B limits need at least {settings.min_lots} lots; got {n_lots}"
                )
            continue
        syl = statistical_yield_limits(yields["yield"].to_numpy(), settings.min_lots)
        rows.append(
            (scope, "SYL", None, n_lots, syl["n_lots"], syl["mean"], syl["sigma"], syl["SYL1"], syl["SYL2"])
        )
        fallout = scope_bin_fallout(bin_counts, scope, settings.bin_column)
        for (bin_number,), group in fallout.group_by("bin", maintain_order=True):
            sbl = statistical_bin_limits(group["fallout"].to_numpy(), settings.min_lots)
            rows.append((scope, "SBL", bin_number, n_lots, sbl["n_lots"], sbl["mean"], sbl["sigma"],
                         sbl["SBL1"], sbl["SBL2"]))  # fmt: skip
    rows.sort(key=lambda r: (SCOPES.index(r[0]), r[1] != "SYL", r[2] or 0))
    return pa.Table.from_pylist(
        [dict(zip(YIELD_LIMIT_COLUMNS.names, row, strict=True)) for row in rows], schema=YIELD_LIMIT_COLUMNS
    )


def compute_baseline(
    key: BaselineKey,
    lots: Sequence[tuple[str, datetime]],
    bin_counts: pa.Table | pl.DataFrame,
    *,
    tidy: pa.Table | pl.DataFrame | None = None,
    settings: HistorySettings | None = None,
    computed_at: datetime,
    version: int | None = None,
    actor: str | None = None,
) -> Baseline:
    """The limits of ``key`` from ``lots`` ((lot, test start), any order): SYL / SBL from their final
    dies counted in ``bin_counts`` (other lots there are ignored), and static PAT limits from their
    parametric results in ``tidy`` when given (its ``lot_id`` names the lot).

    Raises :class:`NotEnoughHistory` with fewer than ``min_lots`` lots. A ``tidy`` the static PAT
    limits cannot be computed from (no parametric results of enough lots) gives none, with a note.
    """
    settings = settings or HistorySettings()
    if computed_at.tzinfo is None:
        raise ValueError("computed_at must be a time with a time zone (UTC)")
    started_of = dict(lots)
    if len(started_of) < settings.min_lots:
        raise NotEnoughHistory(f"{key}: {len(started_of)} lot(s), fewer than the {settings.min_lots} "
                               "AEC-Q002 Rev-B and AEC-Q001 Rev-D need")  # fmt: skip
    counts = _counts(bin_counts).filter(pl.col("lot").is_in(list(started_of)))
    missing = sorted(set(started_of) - set(counts["lot"].unique().to_list()))
    if missing:
        raise NotEnoughHistory(f"{key}: no tested parts for lot(s) {', '.join(missing)}")
    yields = scope_yields(counts, "lot")
    baseline_lots = tuple(
        sorted(
            (BaselineLot(r["lot"], started_of[r["lot"]], int(r["parts"]), int(r["good"]))
             for r in yields.iter_rows(named=True)),
            key=lambda lot: (lot.started, lot.lot),
        )
    )  # fmt: skip
    notes: list[str] = []
    pat_limits = None
    if tidy is not None:
        frame = tidy if isinstance(tidy, pl.DataFrame) else pl.from_arrow(tidy)
        if "lot_id" in frame.columns:
            frame = frame.filter(pl.col("lot_id").is_in(list(started_of)))
        try:
            pat_limits = static_pat_limits(frame, k=settings.pat_k, min_lots=settings.min_lots,
                                           iqr_zero=settings.iqr_zero, quantile_method=settings.quantile_method)  # fmt: skip
        except ValueError as exc:
            notes.append(f"no static PAT limits: {exc}")
    return Baseline(
        key=key,
        version=version,
        computed_at=computed_at,
        review_by=computed_at.date() + timedelta(days=settings.review_days),
        parameters=settings.parameters(),
        lots=baseline_lots,
        yield_limits=yield_limit_table(counts, settings),
        pat_limits=pat_limits,
        actor=actor,
        notes=tuple(notes),
    )


def judge_lot(baseline: Baseline, bin_counts: pa.Table | pl.DataFrame, lot: str) -> pa.Table:
    """The crossings of ``baseline``'s SYL / SBL by ``lot`` and its wafers (columns
    :data:`FLAG_COLUMNS`), from the lot's final dies counted in ``bin_counts`` (a table of
    :data:`_COUNT_COLUMNS`): the lot, then its wafers, yield before bins; per limit set the most
    severe rule crossed (SYL2 before SYL1, a yield below it; SBL2 before SBL1, a fallout above
    it). A bin the baseline has no limits for is not judged. ``lot`` in the baseline's own lots
    raises ValueError: never judge a lot by itself.
    """
    return judge_lot_counts(baseline, lot_counts(bin_counts, lot, baseline.bin_column), lot)


def judge_lot_counts(baseline: Baseline, counts: LotCounts, lot: str) -> pa.Table:
    """:func:`judge_lot` of the lot's final dies as :class:`LotCounts` (of ``baseline.bin_column``)."""
    if lot in baseline.lot_ids:
        raise ValueError(f"lot {lot} is one of the lots of baseline version {baseline.version}: "
                         "a lot is never judged against limits computed from itself")  # fmt: skip
    if not counts.dies.size:
        raise ValueError(f"lot {lot}: no tested parts to judge")
    common = {
        "product": baseline.key.product, "stage": baseline.key.stage, "program": baseline.key.program,
        "revision": baseline.key.revision, "baseline_version": baseline.version,
        "baseline_computed_at": baseline.computed_at, "baseline_review_by": baseline.review_by,
        "baseline_lots": baseline.lot_ids,
    }  # fmt: skip
    flags = []
    for scope, (syl_row, sbl_of) in baseline.scope_limits.items():
        of = _scope_counts(counts, scope)
        where = [{"lot": lot, "wafer_id": wafer, "scope": scope} for wafer in of.wafers]
        rules = _crossed(of.yields, syl_row["limit1"], syl_row["limit2"], below=True)
        for unit in np.flatnonzero(rules).tolist():
            rule = int(rules[unit])
            flags.append({**common, **where[unit], "rule": f"SYL{rule}", "bin": None, "value": float(of.yields[unit]),
                          "limit": syl_row[f"limit{rule}"], "mean": syl_row["mean"], "sigma": syl_row["sigma"],
                          "parts": int(of.parts[unit]), "count": int(of.good[unit]),
                          "n_values": syl_row["n_values"]})  # fmt: skip
        bins = of.bins.tolist()
        # a bin without limits: NaN ones, never crossed
        bounds = [np.array([sbl_of[b][k] if b in sbl_of else math.nan for b in bins], np.float64)
                  for k in ("limit1", "limit2")]  # fmt: skip
        rules = _crossed(of.fallout, *bounds, below=False)
        units, at_bins = np.nonzero(rules)  # unit by unit, bins in order
        for unit, at in zip(units.tolist(), at_bins.tolist(), strict=True):
            rule, limit = int(rules[unit, at]), sbl_of[bins[at]]
            flags.append({**common, **where[unit], "rule": f"SBL{rule}", "bin": bins[at],
                          "value": float(of.fallout[unit, at]), "limit": limit[f"limit{rule}"], "mean": limit["mean"],
                          "sigma": limit["sigma"], "parts": int(of.parts[unit]), "count": int(of.n_bin[unit, at]),
                          "n_values": limit["n_values"]})  # fmt: skip
    # most lots cross nothing: the empty table made once (making one costs ~0.2 ms)
    return pa.Table.from_pylist(flags, schema=FLAG_COLUMNS) if flags else _NO_FLAGS


# One lot's bin counts are a few rows per wafer: :func:`judge_lot` counts them with numpy, as
# :func:`scope_yields` and :func:`scope_bin_fallout` do on frames (the same units and bins in the
# same order; tests/alerts/test_fast_path_parts.py compares them). Not one count for both: a lot's
# in polars wakes its threads, which cost more CPU than the count.


@dataclass(frozen=True)
class LotCounts:
    """One lot's final dies as :func:`judge_lot` counts them, an entry per row of its bin counts:
    the wafer (the rank of its id among the lot's wafer ids, ``wafers``; -1: outside wafers),
    the bin (-1: none), whether good (a null verdict not, as :func:`_counts`) and the dies."""

    wafer: np.ndarray
    wafers: list[str]
    bin: np.ndarray
    passed: np.ndarray
    dies: np.ndarray


def lot_counts(bin_counts: pa.Table | pl.DataFrame, lot: str, bin_column: str) -> LotCounts:
    """The rows of ``lot`` in ``bin_counts`` as :class:`LotCounts`, ``bin_column`` their bin."""
    import pyarrow.compute as pc

    table = bin_counts.to_arrow() if isinstance(bin_counts, pl.DataFrame) else bin_counts
    missing = [c for c in _COUNT_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(
            f"the bin counts lack the column(s) {', '.join(missing)}; expected {', '.join(_COUNT_COLUMNS)}"
        )
    table = table.filter(pc.equal(table["lot"], lot))
    return coded_lot_counts(
        np.arange(table.num_rows), table["wafer_id"].to_pylist(),
        bin=table[bin_column].cast(pa.int64()).fill_null(-1).to_numpy(),
        passed=table["passed"].cast(pa.bool_()).fill_null(False).to_numpy(zero_copy_only=False),
        dies=table["dies"].cast(pa.int64()).to_numpy(),
    )  # fmt: skip


def coded_lot_counts(wafer: np.ndarray, wafer_ids: list[str | None], bin: np.ndarray, passed: np.ndarray,
                     dies: np.ndarray) -> LotCounts:  # fmt: skip
    """:class:`LotCounts` of rows whose wafer is given by its code, an index into ``wafer_ids``
    (None: outside wafers); ``bin`` -1 for none, ``passed`` False for a null verdict."""
    present = sorted({wafer_ids[code] for code in np.unique(wafer).tolist()} - {None})
    rank = {w: i for i, w in enumerate(present)}
    rank_of_code = np.array([rank.get(w, -1) for w in wafer_ids], np.int64)
    return LotCounts(rank_of_code[wafer] if wafer.size else np.zeros(0, np.int64), present, bin, passed, dies)


@dataclass(frozen=True)
class _ScopeCounts:
    """:func:`scope_yields` and :func:`scope_bin_fallout` of one lot: per unit (the lot, or each of
    its wafers in order of id: ``wafers``, None for the lot) its dies, good dies and yield (NaN
    without dies), and per unit and failing bin (``bins``, in order) the bin's dies and fallout."""

    wafers: list[str | None]
    parts: np.ndarray
    good: np.ndarray
    yields: np.ndarray
    bins: np.ndarray
    n_bin: np.ndarray
    fallout: np.ndarray


def _scope_counts(counts: LotCounts, scope: str) -> _ScopeCounts:
    """:class:`_ScopeCounts` of ``counts`` in ``scope`` ("lot", or "wafer": dies outside wafers left out)."""
    if scope == "lot":
        unit, wafers = np.zeros(counts.dies.size, np.int64), [None]
    else:
        unit, wafers = counts.wafer, counts.wafers
    inside = unit >= 0
    parts = np.zeros(len(wafers), np.int64)
    np.add.at(parts, unit[inside], counts.dies[inside])
    good = np.zeros(len(wafers), np.int64)
    np.add.at(good, unit[inside & counts.passed], counts.dies[inside & counts.passed])
    failing = inside & ~counts.passed & (counts.bin >= 0)
    bins = np.unique(counts.bin[failing])
    n_bin = np.zeros((len(wafers), bins.size), np.int64)
    np.add.at(n_bin, (unit[failing], np.searchsorted(bins, counts.bin[failing])), counts.dies[failing])
    return _ScopeCounts(wafers, parts, good, _share(good, parts), bins, n_bin, _share(n_bin, parts[:, None]))


def _share(count: np.ndarray, of: np.ndarray) -> np.ndarray:
    """``count / of``, NaN where ``of`` is 0 (each an integer below 2**53: the quotient Python's)."""
    return np.divide(count, of, out=np.full(np.broadcast_shapes(count.shape, of.shape), np.nan), where=of > 0)


def _crossed(values: np.ndarray, limit1, limit2, *, below: bool) -> np.ndarray:
    """Per value 2 or 1: the most severe limit crossed (below it, else above it), 0 when within;
    a limit one for all values or one per column; a null one (a NaN stored in SQLite reads back
    as null) none, as a NaN is."""
    rule = np.zeros(values.shape, np.int64)
    for level, bound in ((1, limit1), (2, limit2)):  # the more severe last, over the other
        if bound is not None:
            rule[values < bound if below else values > bound] = level
    return rule


def eligible(baseline: Baseline, lot: str, started: datetime) -> bool:
    """Whether ``lot``, tested from ``started``, may be judged against ``baseline``: every lot of
    the baseline was tested before it, and it is not one of them."""
    return lot not in baseline.lot_ids and baseline.last_started < started


# --------------------------------------------------------------------------------------------
# Stored versions <-> Baseline


def baseline_from_version(key: BaselineKey, row: dict[str, Any]) -> Baseline:
    """A :class:`Baseline` from a version as :meth:`silicio.lake.catalog.Catalog.baseline_versions`
    gives it."""
    yield_limits = pa.Table.from_pylist(
        [{c: r[c] for c in YIELD_LIMIT_COLUMNS.names} for r in row["yield_limits"]],
        schema=YIELD_LIMIT_COLUMNS,
    )
    lots = tuple(BaselineLot(r["lot"], r["started"], r["parts"], r["good_parts"]) for r in row["lots"])
    return Baseline(key=key, version=row["version"], computed_at=row["computed_at"], review_by=row["review_by"],
                    parameters=dict(row["parameters"]), lots=lots, yield_limits=yield_limits,
                    actor=row["actor"], frozen=row["frozen"])  # fmt: skip


def _version_rows(baseline: Baseline) -> dict[str, Any]:
    """What :meth:`silicio.lake.catalog.Catalog.add_baseline_version` stores of ``baseline``."""
    lots = [{"lot": lot.lot, "started": lot.started, "parts": lot.parts, "good_parts": lot.good_parts}
            for lot in baseline.lots]  # fmt: skip
    pat_rows = []
    if baseline.pat_limits is not None:
        for row in baseline.pat_limits.to_pylist():
            pat_rows.append({**row, "test_num": int(row["test_num"])})
    return {
        "computed_at": baseline.computed_at,
        "review_by": baseline.review_by,
        "parameters": baseline.parameters,
        "lots": lots,
        "yield_limits": baseline.yield_limits.to_pylist(),
        "pat_limits": pat_rows,
    }


# --------------------------------------------------------------------------------------------
# On a lake


@dataclass(frozen=True)
class LimitUpdate:
    """What :func:`update_limits` did for one baseline: the version stored (None when none was),
    the lots used, and why not or what was left out."""

    key: BaselineKey
    version: int | None
    lots: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def _lot_rows(lake: Lake, product: str | None, stage: str | None) -> pl.DataFrame:
    from silicio.lake.queries.history import history_lots

    return pl.from_arrow(history_lots(lake, product, stage))


def _key_of(row: dict[str, Any]) -> BaselineKey:
    return BaselineKey(row["product"], row["stage"], row["program"], row["revision"])


def _same_key(frame: pl.DataFrame, key: BaselineKey) -> pl.DataFrame:
    for column in ("product", "stage", "program", "revision"):
        value = getattr(key, column)
        frame = frame.filter(pl.col(column).is_null() if value is None else pl.col(column) == value)
    return frame


def _with_start(frame: pl.DataFrame) -> list[tuple[str, datetime]]:
    return [
        (r["lot"], r["started"]) for r in frame.filter(pl.col("started").is_not_null()).iter_rows(named=True)
    ]


def update_limits(
    lake: Lake,
    product: str | None = None,
    stage: str | None = None,
    *,
    actor: str,
    settings: HistorySettings | None = None,
    now: datetime | None = None,
) -> list[LimitUpdate]:
    """Compute and store a new version of every baseline (of ``product`` / ``stage`` when given)
    from the lots of the lake with a test start (the latest ``max_lots`` of them), SYL / SBL and
    static PAT limits, logged with ``actor``. A frozen baseline, or one with fewer than
    ``min_lots`` lots, gets no new version: its :class:`LimitUpdate` says why."""
    settings = settings or HistorySettings()
    now = now or datetime.now(UTC)
    lots = _lot_rows(lake, product, stage)
    frozen = {_key_of(b): b["frozen_version"] for b in lake.catalog.baselines(product, stage)}
    out = []
    for key_values, group in lots.group_by(["product", "stage", "program", "revision"], maintain_order=True):
        key = BaselineKey(*key_values)
        notes = []
        no_start = group.filter(pl.col("started").is_null())["lot"].to_list()
        if no_start:
            notes.append(f"left out, no test start: {', '.join(no_start)}")
        if frozen.get(key) is not None:
            out.append(
                LimitUpdate(key, None, notes=(f"frozen at version {frozen[key]}: kept as it is", *notes))
            )
            continue
        chosen = _with_start(group)
        if settings.max_lots is not None:
            chosen = chosen[-settings.max_lots :]
        if len(chosen) < settings.min_lots:
            out.append(LimitUpdate(key, None, tuple(lot for lot, _ in chosen), (
                f"{len(chosen)} lot(s) with a test start, fewer than the {settings.min_lots} needed", *notes)))  # fmt: skip
            continue
        update = _store_version(lake, key, chosen, settings=settings, actor=actor, now=now)
        out.append(replace(update, notes=(*update.notes, *notes)))
    return out


def _store_version(lake: Lake, key: BaselineKey, lots: Sequence[tuple[str, datetime]], *,
                   settings: HistorySettings, actor: str, now: datetime, first_only: bool = False) -> LimitUpdate:  # fmt: skip
    """A version of ``key`` computed from ``lots`` ((lot, test start)) and stored, logged with
    ``actor`` (``first_only``: only when the key has none); a baseline frozen meanwhile, or a
    version stored meanwhile when ``first_only``, gives no version and a note."""
    from silicio.lake.catalog import BaselineFrozen
    from silicio.lake.queries.history import final_bin_counts, pat_history

    names = [lot for lot, _ in lots]
    counts = final_bin_counts(lake, key.product, key.stage, names)
    tidy = pat_history(lake, key.product, key.stage, names)
    baseline = compute_baseline(key, lots, counts, tidy=tidy, settings=settings, computed_at=now, actor=actor)
    try:
        version = lake.catalog.add_baseline_version(
            key, actor=actor, first_only=first_only, **_version_rows(baseline)
        )
    except BaselineFrozen as exc:  # frozen meanwhile, by someone else
        return LimitUpdate(key, None, tuple(names), (str(exc),))
    if version is None:
        return LimitUpdate(key, None, tuple(names), ("a version was stored meanwhile: kept as it is",))
    return LimitUpdate(key, version, tuple(names), baseline.notes)


def freeze_limits(lake: Lake, product: str, stage: str, *, actor: str, frozen: bool = True,
                  program: str | None = None) -> list[tuple[BaselineKey, int]]:  # fmt: skip
    """Freeze (or unfreeze) the latest version of each baseline of ``product`` at ``stage`` (of
    ``program`` only, when given), logged with ``actor``: (baseline, version) of each. ValueError
    when there is no such baseline with a version."""
    rows = [b for b in lake.catalog.baselines(product, stage) if b["latest"] is not None]
    if program is not None:
        rows = [b for b in rows if b["program"] == program]
    if not rows:
        raise ValueError(f"no limits computed for product {product!r} at stage {stage!r}"
                         + (f", program {program!r}" if program else "") + " (run `silicio limits update` first)")  # fmt: skip
    out = []
    for row in rows:
        key = _key_of(row)
        if (row["frozen_version"] is not None) == frozen:
            continue  # already as asked: nothing to write
        out.append((key, lake.catalog.set_baseline_frozen(key, frozen, actor=actor)))
    return out


def limits_overview(lake: Lake, product: str | None = None, stage: str | None = None) -> list[dict[str, Any]]:
    """Each stored baseline (of ``product`` / ``stage`` when given) with its versions: the latest
    and, when frozen, the frozen one in full (lots, yield limits, number of static PAT limits), the
    others as number, time and actor; and its log of writes."""
    out = []
    for row in lake.catalog.baselines(product, stage):
        key = _key_of(row)
        versions = lake.catalog.baseline_versions(key)
        shown = []
        for version in versions:
            current = version["version"] == row["latest"] or version["frozen"]
            entry = {k: version[k] for k in ("version", "computed_at", "actor", "review_by", "frozen")}
            if current:
                entry |= {
                    "parameters": version["parameters"],
                    "lots": version["lots"],
                    "yield_limits": version["yield_limits"],
                    "pat_limits": len(lake.catalog.baseline_pat_limits(version["id"])),
                }
            shown.append(entry)
        out.append({"product": key.product, "stage": key.stage, "program": key.program, "revision": key.revision,
                    "frozen_version": row["frozen_version"], "latest": row["latest"], "versions": shown,
                    "events": lake.catalog.baseline_events(key)})  # fmt: skip
    return out


def _lot_key(
    lake: Lake, product: str | None, stage: str, lot: str
) -> tuple[BaselineKey, datetime | None, pl.DataFrame]:
    """The baseline key and test start of ``lot``, and the lots of that key."""
    rows = _lot_rows(lake, None, stage)
    rows = rows.filter(pl.col("product").is_null() if product is None else pl.col("product") == product)
    mine = rows.filter(pl.col("lot") == lot)
    if mine.is_empty():
        raise ValueError(f"no lot {lot!r} of product {product!r} at stage {stage!r} in the lake")
    row = mine.row(0, named=True)
    key = _key_of(row)
    return key, row["started"], _same_key(rows, key)


def history_baseline(lake: Lake, product: str | None, stage: str, lot: str,
                     settings: HistorySettings | None = None) -> Baseline:  # fmt: skip
    """The baseline ``lot`` is judged against: the frozen version of its program's baseline when
    that was computed from lots tested before it, else the newest stored version that was, else
    limits computed now from the lots tested before it (the latest ``max_lots``; version None).
    Raises :class:`NotEnoughHistory` when there are fewer than ``min_lots`` such lots."""
    from silicio.lake.queries.history import final_bin_counts

    key, started, key_lots = _lot_key(lake, product, stage, lot)
    stored = [baseline_from_version(key, v) for v in lake.catalog.baseline_versions(key)]
    return _choose_baseline(key, stored, lot, started, key_lots, settings or HistorySettings(),
                            lambda lots: final_bin_counts(lake, key.product, key.stage, lots))  # fmt: skip


def judge_lot_against_history(lake: Lake, product: str | None, stage: str, lot_id: str, *,
                              settings: HistorySettings | None = None) -> pa.Table:  # fmt: skip
    """SYL / SBL flags of lot ``lot_id`` of ``product`` at ``stage`` and of its wafers against the
    limits of the lots tested before it (:func:`history_baseline`): columns :data:`FLAG_COLUMNS`,
    one row per limit crossed, with the baseline's version, lots and review date as evidence; no
    rows when the lot is within every limit. Raises :class:`NotEnoughHistory` when the lot cannot
    be judged (fewer than ``min_lots`` earlier lots), ValueError for an unknown lot."""
    from silicio.lake.queries.history import final_bin_counts

    baseline = history_baseline(lake, product, stage, lot_id, settings)
    return judge_lot(baseline, final_bin_counts(lake, product, stage, [lot_id]), lot_id)


@dataclass(frozen=True)
class LotJudgement:
    """One lot against its history (:func:`judge_one_lot`): the baseline it is judged against and
    its flags (columns :data:`FLAG_COLUMNS`), or, when it cannot be judged, no baseline, no flags
    and ``why`` (the :class:`NotEnoughHistory` message)."""

    baseline: Baseline | None
    flags: pa.Table
    why: str | None = None


def judge_one_lot(lake: Lake, product: str | None, stage: str, lot_id: str, *,
                  settings: HistorySettings | None = None) -> LotJudgement:  # fmt: skip
    """:func:`judge_lot_against_history` of one lot, keeping the baseline (a report draws it): the
    flags :func:`judge_lots_against_history` gives the lot, or, for a lot with too few earlier
    lots, the note it gives as ``why``. Reads the final dies of the lot and, when its limits are
    computed now, of the lots tested before it, not those of every lot of its program."""
    from silicio.lake.queries.history import final_bin_counts

    try:
        baseline = history_baseline(lake, product, stage, lot_id, settings)
    except NotEnoughHistory as exc:
        return LotJudgement(None, FLAG_COLUMNS.empty_table(), str(exc))
    return LotJudgement(
        baseline, judge_lot(baseline, final_bin_counts(lake, product, stage, [lot_id]), lot_id)
    )


def _stored_choice(stored: list[Baseline], lot: str, started: datetime) -> Baseline | None:
    """The frozen version computed from lots tested before ``lot``, else the newest such version."""
    usable = [b for b in stored if eligible(b, lot, started)]
    frozen = [b for b in usable if b.frozen]
    return (frozen or usable)[-1] if usable else None


def too_few_lots(key: BaselineKey, lot: str, earlier: int, needed: int) -> str:
    """Why ``lot`` of ``key`` cannot be judged: ``earlier`` lots tested before it, ``needed`` wanted."""
    return C_(
        "lot %(lot)s (%(program)s): %(lots)s lot(s) tested before it, fewer than the %(needed)s "
        "AEC-Q002 Rev-B needs for SYL / SBL"
    ) % {"lot": lot, "program": key, "lots": earlier, "needed": needed}


def not_judged(key: BaselineKey, lot: str, started: datetime | None, lots: Iterable[tuple[str, datetime | None]],
               settings: HistorySettings) -> str | None:  # fmt: skip
    """Why ``lot`` (tested from ``started``) of ``key``, with no stored version to judge it, cannot
    be judged (the :class:`NotEnoughHistory` message of :func:`judge_lots_against_history`): no test
    start, or fewer than ``min_lots`` of the key's ``lots`` ((lot, test start)) tested before it;
    None when it can."""
    if started is None:
        return f"lot {lot}: no test start time, so no lots are known to be earlier"
    earlier = earlier_lots(lots, lot, started, settings)
    return (
        too_few_lots(key, lot, len(earlier), settings.min_lots) if len(earlier) < settings.min_lots else None
    )


def earlier_lots(
    lots: Iterable[tuple[str, datetime | None]], lot: str, started: datetime, settings: HistorySettings
) -> list[tuple[str, datetime]]:
    """Of a baseline key's ``lots`` ((lot, test start)), those tested before ``lot`` (the latest
    ``max_lots``), in test order."""
    earlier = sorted(((name, at) for name, at in lots if at is not None and at < started and name != lot),
                     key=lambda pair: (pair[1], pair[0]))  # fmt: skip
    return earlier[-settings.max_lots :] if settings.max_lots is not None else earlier


def establish_limits(
    lake: Lake,
    key: BaselineKey,
    earlier: Sequence[tuple[str, datetime]],
    *,
    actor: str,
    settings: HistorySettings,
    now: datetime | None = None,
) -> LimitUpdate:
    """The first version of baseline ``key``, from ``earlier`` ((lot, test start): the lots tested
    before the first lot judged with it, :func:`earlier_lots`), stored and logged with ``actor`` as
    "establish": what a lot is judged against when the key has no version is then computed once and
    kept, not again at every lot (AEC-Q001 Rev-D §3.1.1: static limits set from at least six lots
    and reviewed periodically; its review date is ``review_days`` on). Nothing is written when the
    key already has a version or is frozen, or an earlier lot has no tested part (``version``
    None, with a note), or with fewer than ``min_lots`` lots (:class:`NotEnoughHistory`)."""
    if len(earlier) < settings.min_lots:
        raise NotEnoughHistory(f"{key}: {len(earlier)} lot(s), fewer than the {settings.min_lots} "
                               "AEC-Q002 Rev-B and AEC-Q001 Rev-D need")  # fmt: skip
    try:
        return _store_version(lake, key, earlier, settings=settings, actor=actor, now=now or datetime.now(UTC),
                              first_only=True)  # fmt: skip
    except NotEnoughHistory as exc:  # an earlier lot without a tested part: judged as without a version
        return LimitUpdate(key, None, tuple(lot for lot, _ in earlier), (str(exc),))


def _earlier_lots(key_lots: pl.DataFrame, lot: str, started: datetime,
                  settings: HistorySettings) -> list[tuple[str, datetime]]:  # fmt: skip
    """The lots of the key tested before ``lot`` (the latest ``max_lots``), in test order."""
    return earlier_lots(_with_start(key_lots), lot, started, settings)


def _choose_baseline(key: BaselineKey, stored: list[Baseline], lot: str, started: datetime | None,
                     key_lots: pl.DataFrame, settings: HistorySettings,
                     counts_of: Callable[[list[str]], pa.Table | pl.DataFrame]) -> Baseline:  # fmt: skip
    """The baseline ``lot`` is judged against (:func:`history_baseline`'s rule), from the key's
    stored versions and lots; ``counts_of(lots)`` gives the final bin counts of lots when the
    limits must be computed now."""
    if started is None:
        raise NotEnoughHistory(not_judged(key, lot, started, (), settings))
    chosen = _stored_choice(stored, lot, started)
    if chosen is not None:
        return chosen
    earlier = _earlier_lots(key_lots, lot, started, settings)
    if len(earlier) < settings.min_lots:
        raise NotEnoughHistory(too_few_lots(key, lot, len(earlier), settings.min_lots))
    counts = counts_of([name for name, _ in earlier])
    return compute_baseline(key, earlier, counts, settings=settings, computed_at=datetime.now(UTC))


def judge_lots_against_history(
    lake: Lake, lots: Iterable[tuple[str | None, str, str]] | None = None, *,
    settings: HistorySettings | None = None,
) -> tuple[pa.Table, tuple[str, ...]]:  # fmt: skip
    """:func:`judge_lot_against_history` of many lots ((product, stage, lot); every lot of the lake
    when None) at once: the SYL / SBL flags of each (columns :data:`FLAG_COLUMNS`) and a note for
    each lot that cannot be judged (fewer than ``min_lots`` earlier lots). Each program's lots
    are read once, so a lake's every lot costs a query per baseline key, not per lot."""
    from silicio.lake.queries.history import final_bin_counts

    settings = settings or HistorySettings()
    rows = _lot_rows(lake, None, None)
    wanted = None if lots is None else {(p, st, lot) for p, st, lot in lots}
    flags: list[pa.Table] = []
    notes: list[str] = []
    for _, group in rows.group_by(["product", "stage", "program", "revision"], maintain_order=True):
        key = _key_of(group.row(0, named=True))
        judged = [r for r in group.iter_rows(named=True)
                  if wanted is None or (r["product"], r["stage"], r["lot"]) in wanted]  # fmt: skip
        if not judged:
            continue
        stored = [baseline_from_version(key, v) for v in lake.catalog.baseline_versions(key)]
        counts = pl.from_arrow(final_bin_counts(lake, key.product, key.stage, group["lot"].to_list()))
        for row in judged:
            try:
                baseline = _choose_baseline(key, stored, row["lot"], row["started"], group, settings,
                                            lambda _lots, counts=counts: counts)  # fmt: skip
            except NotEnoughHistory as exc:
                notes.append(str(exc))
                continue
            flags.append(judge_lot(baseline, counts.filter(pl.col("lot") == row["lot"]), row["lot"]))
    table = pa.concat_tables(flags) if flags else FLAG_COLUMNS.empty_table()
    return table, tuple(notes)


def pat_baseline_lots(
    lake: Lake, product: str | None, stage: str, settings: HistorySettings | None = None
) -> dict[str, tuple[str, ...]]:
    """For each lot of ``product`` at ``stage`` that has a baseline, the lots its static PAT
    limits come from (AEC-Q001 Rev-D §3.1.1: at least six earlier lots, never the lot itself),
    by :func:`history_baseline`'s rule: the lots of the frozen, else the newest, stored version
    computed from lots tested before it, else the ``min_lots`` or more lots of its test program
    tested before it (the latest ``max_lots``). A lot with too few earlier lots, or no test
    start, has none and is left out. The screening computes the limits from these lots with its
    recipe's PAT parameters (:func:`silicio.yields.screen`'s ``history``)."""
    settings = settings or HistorySettings()
    rows = _lot_rows(lake, None, stage)
    rows = rows.filter(pl.col("product").is_null() if product is None else pl.col("product") == product)
    out: dict[str, tuple[str, ...]] = {}
    for _, group in rows.group_by(["product", "stage", "program", "revision"], maintain_order=True):
        key = _key_of(group.row(0, named=True))
        stored = [baseline_from_version(key, v) for v in lake.catalog.baseline_versions(key)]
        for row in group.filter(pl.col("started").is_not_null()).iter_rows(named=True):
            chosen = _stored_choice(stored, row["lot"], row["started"])
            if chosen is not None:
                out[row["lot"]] = tuple(chosen.lot_ids)
                continue
            earlier = _earlier_lots(group, row["lot"], row["started"], settings)
            if len(earlier) >= settings.min_lots:
                out[row["lot"]] = tuple(name for name, _ in earlier)
    return out


def history_static_limits(lake: Lake, product: str | None, stage: str, lot_id: str) -> pa.Table | None:
    """The static PAT limits (:func:`silicio.yields.pat.static_pat_limits`'s table) that screen lot
    ``lot_id``: those of the stored version it is judged against (:func:`history_baseline`); None
    when that version has none or no stored version was computed from lots tested before it."""
    try:
        baseline = history_baseline(lake, product, stage, lot_id)
    except NotEnoughHistory:
        return None
    if baseline.version is None:
        return None
    version = next(
        v for v in lake.catalog.baseline_versions(baseline.key) if v["version"] == baseline.version
    )
    rows = lake.catalog.baseline_pat_limits(version["id"])
    return _pat_table(rows) if rows else None


def _pat_table(rows: list[dict[str, Any]]) -> pa.Table:
    """The stored static PAT limits' rows as the table polars makes of them (:data:`STATIC_SCHEMA`),
    built by Arrow: a few rows, and a polars frame wakes polars' threads (~ms of CPU at ingest)."""
    try:
        return pa.Table.from_pylist(
            [{c: r.get(c) for c in STATIC_SCHEMA} for r in rows], schema=_static_arrow_schema()
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a value Arrow will not convert as polars does
        return pl.DataFrame(rows, schema=STATIC_SCHEMA, orient="row").to_arrow()


@functools.cache
def _static_arrow_schema() -> pa.Schema:
    return pl.DataFrame(schema=STATIC_SCHEMA).to_arrow().schema
