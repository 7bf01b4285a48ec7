"""Automotive screening: apply a recipe's rules to tested parts, re-bin the outliers.

:func:`screen` applies the screening rules a :class:`~silicio.yields.recipe.Recipe` turns on (the
rules registered in :mod:`silicio.yields.rules`: silicio's PAT, NNR, GDBN, AEC-Q002 SYL / SBL and
those of installed packages), and returns what a disposition needs: the
reasons each part was rejected (rule, test, value, limits), the parts with their bins before
and after, the bin summary with the screening bins added, the yield before and after, the
limits used, and the recipe's name, version and SHA-256.

Only the final part of each die is judged (its last test); only parts that passed are
re-binned. Rules look at the original verdicts, so their order does not change what they flag
(GDBN counts the dies that failed test, not those PAT rejected). A part rejected by several
rules gets the soft bin of the rule of lowest precedence (PAT, then NNR, then GDBN, then other rules).

References
----------
AEC-Q001 Rev-D (PAT), AEC-Q002 Rev-B (SYL / SBL), Daasch et al. 2001 (NNR): see
:mod:`silicio.yields.pat`, :mod:`silicio.yields.aecq002`, :mod:`silicio.yields.nnr`,
:mod:`silicio.yields.gdbn`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa

from .pat import PART_KEY, TEST_KEY, _frame
from .recipe import Recipe, load_recipe
from .rules import (
    LOTS,
    PARTS,
    REASON_COLUMNS,
    REASON_SCHEMA,
    SHORT_HISTORY,
    ScreeningContext,
    ScreeningRule,
    registered_rules,
)

__all__ = ["ScreeningResult", "final_parts", "screen"]


@dataclass(frozen=True)
class ScreeningResult:
    """What :func:`screen` found: Arrow tables, the yields and the recipe that ran.

    ``reasons``: one row per (part, rule, test) that rejected a part: ``lot_id, wafer_id,
    part_index, rule`` (a reason code of a rule: PAT_STATIC, PAT_DYNAMIC, NNR, GDBN_COUNT,
    GDBN_WEIGHTED for silicio's own rules), ``test_num,
    test_name, pin`` (null for GDBN), ``value`` (the result; NNR: its residual; GDBN: the
    neighbourhood score), ``limit_lo, limit_hi``.
    ``parts``: one row per final part with ``hard_bin, soft_bin, part_passed`` before and
    ``new_hard_bin, new_soft_bin, passed_after``, ``screened`` and the ``rules`` that hit it.
    ``bin_summary``: per lot and (hard_bin, soft_bin): ``passing, count_before, count_after,
    screening_bin``. ``yield_summary``: per lot: ``n_parts, good_before, good_after,
    yield_before, yield_after``.
    ``tables``: what the rules kept beside their reasons, by name: ``static_limits`` and
    ``dynamic_limits`` (PAT), ``nnr_limits``, ``lot_limits`` and ``lot_flags`` (AEC-Q002), each
    also an attribute (None when its rule did not run), and the tables of other rules.
    """

    recipe: dict[str, str]
    reasons: pa.Table
    parts: pa.Table
    bin_summary: pa.Table
    yield_summary: pa.Table
    yield_before: float
    yield_after: float
    tables: Mapping[str, pa.Table] = field(default_factory=dict)
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def static_limits(self) -> pa.Table | None:
        return self.tables.get("static_limits")

    @property
    def dynamic_limits(self) -> pa.Table | None:
        return self.tables.get("dynamic_limits")

    @property
    def nnr_limits(self) -> pa.Table | None:
        return self.tables.get("nnr_limits")

    @property
    def lot_limits(self) -> pa.Table | None:
        return self.tables.get("lot_limits")

    @property
    def lot_flags(self) -> pa.Table | None:
        return self.tables.get("lot_flags")


def final_parts(tidy: pa.Table | pl.DataFrame) -> pa.Table:
    """One row per die from a tidy table: its last-tested part, with bins and verdict.

    A die with coordinates is (lot_id, wafer_id, x, y); its last part is the one whose rows come
    last in the table (file order; concatenate files in test order). A part without
    coordinates is its own die. A part with no test record at all is not in a tidy table: use
    :func:`silicio.stdf.parts` and ``screen(parts=)`` to count it.
    """
    needs = (*PART_KEY, "part_id", "x", "y", "hard_bin", "soft_bin", "part_passed")
    frame = (
        _frame(tidy, "the tidy table", needs)
        .with_row_index("_row")
        .filter(pl.col("part_index").is_not_null())
    )
    per_part = frame.group_by(list(PART_KEY), maintain_order=True).agg(
        *(pl.col(c).first() for c in ("part_id", "x", "y", "hard_bin", "soft_bin", "part_passed")),
        pl.col("_row").max().alias("_last"),
    )
    on_map = pl.col("x").is_not_null() & pl.col("y").is_not_null()
    latest = pl.col("_last") == pl.col("_last").max().over(["lot_id", "wafer_id", "x", "y"])
    return per_part.filter(~on_map | latest).drop("_last").to_arrow()


def _parts_frame(parts: pa.Table | pl.DataFrame) -> pl.DataFrame:
    """The final parts of a :func:`silicio.stdf.parts` table (``passed``, ``is_last_test``)."""
    frame = _frame(parts, "parts", (*PART_KEY, "x", "y", "hard_bin", "soft_bin", "passed", "is_last_test"))
    frame = frame.filter(pl.col("is_last_test").fill_null(True)).rename({"passed": "part_passed"})
    if "part_id" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("part_id"))
    return frame.select(*PART_KEY, "part_id", "x", "y", "hard_bin", "soft_bin", "part_passed")


def _reasons(table: pa.Table | pl.DataFrame, rule: ScreeningRule) -> pl.DataFrame:
    """A rule's reasons in the one reasons schema; a code the rule does not declare is an error."""
    frame = table if isinstance(table, pl.DataFrame) else pl.from_arrow(table)
    missing = [c for c in REASON_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"screening rule {rule.name!r} gave reasons without the column(s) {', '.join(missing)}"
        )
    frame = frame.select(REASON_COLUMNS).cast(REASON_SCHEMA)
    undeclared = sorted(set(frame.get_column("rule").unique().to_list()) - set(rule.reason_codes))
    if undeclared:
        raise ValueError(
            f"screening rule {rule.name!r} gave reason code(s) {', '.join(map(str, undeclared))} it does not "
            f"declare ({', '.join(rule.reason_codes)})"
        )
    return frame


def screen(
    tidy: pa.Table | pl.DataFrame,
    recipe: Recipe | str | os.PathLike[str],
    static_limits: pa.Table | pl.DataFrame | None = None,
    *,
    parts: pa.Table | pl.DataFrame | None = None,
    short_history: str = "raise",
    history: Mapping[str, Sequence[str]] | None = None,
) -> ScreeningResult:
    """Screens the parts of ``tidy`` with the rules of ``recipe`` (a Recipe or a TOML path).

    ``static_limits`` (from :func:`~silicio.yields.pat.static_pat_limits` over the lot history)
    are computed from ``tidy`` when not given, which then needs the recipe's ``min_lots`` lots
    (AEC-Q001 Rev-D): with fewer, ``short_history="raise"`` raises ValueError and ``"note"``
    computes them from the lots screened and says so in a note. ``history`` (lot -> the lots
    of its baseline, :func:`silicio.yields.history.pat_baseline_lots`) gives each lot its own
    static limits from those lots, never from itself (AEC-Q001 Rev-D); the lots it does not name
    get limits from the lots screened, said in a note. ``parts`` (from
    :func:`silicio.stdf.parts`) replaces the parts derived from ``tidy``, so parts without test
    records count in the yield. The rules that reject parts run first, in precedence order, on
    the original verdicts; the rules that judge lots (AEC-Q002 limits over the screened lots)
    then run on the parts re-binned, and with fewer lots than the recipe's ``min_lots`` say so.
    """
    if not isinstance(recipe, Recipe):
        if not isinstance(recipe, str | os.PathLike):
            raise ValueError(
                f"recipe must be a Recipe or the path of a TOML recipe, got {type(recipe).__name__}"
            )
        recipe = load_recipe(recipe)
    if short_history not in SHORT_HISTORY:
        raise ValueError(f"short_history must be one of {', '.join(SHORT_HISTORY)}; got {short_history!r}")
    frame = _frame(
        tidy, "the tidy table", (*PART_KEY, *TEST_KEY, "x", "y", "result", "part_passed", "is_last_test")
    )
    final = pl.from_arrow(final_parts(frame)) if parts is None else _parts_frame(parts)
    context = ScreeningContext(frame, final, static_limits, short_history, history)
    registered = registered_rules()
    chosen = [(registered[name], params) for name, params in recipe.rules]
    found: list[pl.DataFrame] = [pl.DataFrame(schema=REASON_SCHEMA)]
    for rule, params in chosen:
        if rule.judges == PARTS:
            found.append(_reasons(rule.apply(context, params), rule))

    # Only the final, passing part of a die is re-binned.
    good = final.filter(pl.col("part_passed").fill_null(False)).select(PART_KEY)
    reasons = pl.concat(found).join(good, on=list(PART_KEY), nulls_equal=True, maintain_order="left")
    rebinned = _rebin(final, reasons, recipe, [rule for rule, _ in chosen if rule.judges == PARTS])
    context.rebinned = rebinned
    for rule, params in chosen:
        if rule.judges == LOTS and _reasons(rule.apply(context, params), rule).height:
            raise ValueError(
                f"screening rule {rule.name!r} judges lots: it keeps its verdicts as tables and rejects no part"
            )
    return ScreeningResult(
        recipe=recipe.identity(),
        reasons=reasons.to_arrow(),
        parts=rebinned.to_arrow(),
        bin_summary=_bin_summary(rebinned, recipe),
        yield_summary=_yield_summary(rebinned),
        yield_before=_ratio(rebinned["part_passed"].fill_null(False).sum(), rebinned.height),
        yield_after=_ratio(rebinned["passed_after"].fill_null(False).sum(), rebinned.height),
        tables=dict(context.tables),
        notes=tuple(context.notes),
    )


def _ratio(a: int, b: int) -> float:
    return float(a) / b if b else float("nan")


def _rebin(
    final: pl.DataFrame, reasons: pl.DataFrame, recipe: Recipe, rules: list[ScreeningRule]
) -> pl.DataFrame:
    """Parts with the reason codes that hit them and their bins after screening: the soft bin
    of the first rule (``rules`` in precedence order) that rejected the part."""
    rank_of_code = {code: rank for rank, rule in enumerate(rules) for code in rule.reason_codes}
    hits = (
        reasons.with_columns(
            pl.col("rule").replace_strict(rank_of_code, return_dtype=pl.Int64).alias("_rank")
        )
        .group_by(list(PART_KEY))
        .agg(pl.col("rule").unique(maintain_order=True).alias("rules"), pl.col("_rank").min().alias("_rank"))
    )
    soft_of_rank = {rank: recipe.bins.soft_bin_of(rule.name) for rank, rule in enumerate(rules)}
    parts = final.join(hits, on=list(PART_KEY), how="left", nulls_equal=True, maintain_order="left")
    screened = pl.col("_rank").is_not_null()
    return parts.with_columns(
        screened.alias("screened"),
        pl.col("rules").fill_null(pl.lit([], pl.List(pl.String))),
        pl.when(screened).then(pl.lit(recipe.bins.hard_bin)).otherwise(pl.col("hard_bin"))
        .cast(pl.UInt16).alias("new_hard_bin"),
        pl.when(screened).then(pl.col("_rank").replace_strict(soft_of_rank, default=None, return_dtype=pl.Int64))
        .otherwise(pl.col("soft_bin")).cast(pl.UInt16).alias("new_soft_bin"),
        pl.when(screened).then(False).otherwise(pl.col("part_passed")).alias("passed_after"),
    ).drop("_rank")  # fmt: skip


def _bin_summary(parts: pl.DataFrame, recipe: Recipe) -> pa.Table:
    keys = ["lot_id", "hard_bin", "soft_bin"]

    def counts(hard: str, soft: str, passed: str, name: str) -> pl.DataFrame:
        return parts.group_by("lot_id", pl.col(hard).alias("hard_bin"), pl.col(soft).alias("soft_bin")).agg(
            pl.len().cast(pl.Int64).alias(name),
            pl.col(passed).fill_null(False).any().alias(f"_passing_{name}"),
        )

    before = counts("hard_bin", "soft_bin", "part_passed", "count_before")
    after = counts("new_hard_bin", "new_soft_bin", "passed_after", "count_after")
    screened = parts.filter(pl.col("screened")).select(
        keys[0], pl.col("new_hard_bin"), pl.col("new_soft_bin")
    )
    screening_pairs = screened.unique().rename({"new_hard_bin": "hard_bin", "new_soft_bin": "soft_bin"})
    screening_pairs = screening_pairs.with_columns(pl.lit(True).alias("screening_bin"))
    return (
        before.join(after, on=keys, how="full", coalesce=True, nulls_equal=True)
        .join(screening_pairs, on=keys, how="left", nulls_equal=True)
        .with_columns(
            pl.col("count_before").fill_null(0),
            pl.col("count_after").fill_null(0),
            (pl.col("_passing_count_before").fill_null(False) | pl.col("_passing_count_after").fill_null(False))
            .alias("passing"),
            pl.col("screening_bin").fill_null(False),
        )
        .select("lot_id", "hard_bin", "soft_bin", "passing", "count_before", "count_after", "screening_bin")
        .sort(keys, nulls_last=True)
        .to_arrow()
    )  # fmt: skip


def _yield_summary(parts: pl.DataFrame) -> pa.Table:
    return (
        parts.group_by("lot_id", maintain_order=True)
        .agg(
            pl.len().alias("n_parts"),
            pl.col("part_passed").fill_null(False).sum().alias("good_before"),
            pl.col("passed_after").fill_null(False).sum().alias("good_after"),
        )
        .with_columns(
            (pl.col("good_before") / pl.col("n_parts")).alias("yield_before"),
            (pl.col("good_after") / pl.col("n_parts")).alias("yield_after"),
        )
        .to_arrow()
    )
