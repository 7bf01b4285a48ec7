"""Automotive screening: apply a recipe's rules to tested parts, re-bin the outliers.

:func:`screen` composes the pure rules of this package (PAT, NNR, GDBN, AEC-Q002 SYL / SBL) as a
:class:`~silicio.yields.recipe.Recipe` states them, and returns what a disposition needs: the
reasons each part was rejected (rule, test, value, limits), the parts with their bins before
and after, the bin summary with the screening bins added, the yield before and after, the
limits used, and the recipe's name, version and SHA-256.

Only the final part of each die is judged (its last test); only parts that passed are
re-binned. Rules look at the original verdicts, so their order does not change what they flag
(GDBN counts the dies that failed test, not those PAT rejected). A part rejected by several
rules gets the soft bin of the first family in the order PAT, NNR, GDBN.

References
----------
AEC-Q001 Rev-D (PAT), AEC-Q002 Rev-B (SYL / SBL), Daasch et al. 2001 (NNR): see
:mod:`silicio.yields.pat`, :mod:`silicio.yields.aecq002`, :mod:`silicio.yields.nnr`,
:mod:`silicio.yields.gdbn`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa

from .aecq002 import statistical_yield_analysis
from .gdbn import gdbn
from .nnr import nnr
from .pat import PART_KEY, TEST_KEY, _frame, dynamic_pat_limits, pat_outliers, static_pat_limits
from .recipe import RULE_FAMILIES, Recipe, load_recipe

__all__ = ["ScreeningResult", "final_parts", "screen"]

_FAMILY_OF_RULE = {
    "PAT_STATIC": "pat",
    "PAT_DYNAMIC": "pat",
    "NNR": "nnr",
    "GDBN_COUNT": "gdbn",
    "GDBN_WEIGHTED": "gdbn",
}
_REASON_COLUMNS = [*PART_KEY, "rule", *TEST_KEY, "value", "limit_lo", "limit_hi"]
_REASON_SCHEMA = {
    "lot_id": pl.String, "wafer_id": pl.String, "part_index": pl.Int64, "rule": pl.String,
    "test_num": pl.UInt32, "test_name": pl.String, "pin": pl.UInt16, "value": pl.Float64,
    "limit_lo": pl.Float64, "limit_hi": pl.Float64,
}  # fmt: skip


@dataclass(frozen=True)
class ScreeningResult:
    """What :func:`screen` found: Arrow tables, the yields and the recipe that ran.

    ``reasons``: one row per (part, rule, test) that rejected a part: ``lot_id, wafer_id,
    part_index, rule`` (PAT_STATIC, PAT_DYNAMIC, NNR, GDBN_COUNT, GDBN_WEIGHTED), ``test_num,
    test_name, pin`` (null for GDBN), ``value`` (the result; NNR: its residual; GDBN: the
    neighbourhood score), ``limit_lo, limit_hi``.
    ``parts``: one row per final part with ``hard_bin, soft_bin, part_passed`` before and
    ``new_hard_bin, new_soft_bin, passed_after``, ``screened`` and the ``rules`` that hit it.
    ``bin_summary``: per lot and (hard_bin, soft_bin): ``passing, count_before, count_after,
    screening_bin``. ``yield_summary``: per lot: ``n_parts, good_before, good_after,
    yield_before, yield_after``.
    """

    recipe: dict[str, str]
    reasons: pa.Table
    parts: pa.Table
    bin_summary: pa.Table
    yield_summary: pa.Table
    yield_before: float
    yield_after: float
    static_limits: pa.Table | None = None
    dynamic_limits: pa.Table | None = None
    nnr_limits: pa.Table | None = None
    lot_limits: pa.Table | None = None
    lot_flags: pa.Table | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


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


def _reasons(table: pa.Table | pl.DataFrame) -> pl.DataFrame:
    frame = table if isinstance(table, pl.DataFrame) else pl.from_arrow(table)
    return frame.select(_REASON_COLUMNS).cast(_REASON_SCHEMA)


def screen(
    tidy: pa.Table | pl.DataFrame,
    recipe: Recipe | str | os.PathLike[str],
    static_limits: pa.Table | pl.DataFrame | None = None,
    *,
    parts: pa.Table | pl.DataFrame | None = None,
) -> ScreeningResult:
    """Screens the parts of ``tidy`` with the rules of ``recipe`` (a Recipe or a TOML path).

    ``static_limits`` (from :func:`~silicio.yields.pat.static_pat_limits` over the lot history)
    are computed from ``tidy`` when not given, which then needs the recipe's ``min_lots`` lots
    (AEC-Q001 Rev-D) or raises ValueError. ``parts`` (from :func:`silicio.stdf.parts`) replaces
    the parts derived from ``tidy``, so parts without test records count in the yield.
    AEC-Q002 limits are computed over the screened lots after re-binning; with fewer lots than
    the recipe's ``min_lots`` they are not computed and a note says so.
    """
    if not isinstance(recipe, Recipe):
        if not isinstance(recipe, str | os.PathLike):
            raise ValueError(
                f"recipe must be a Recipe or the path of a TOML recipe, got {type(recipe).__name__}"
            )
        recipe = load_recipe(recipe)
    frame = _frame(
        tidy, "the tidy table", (*PART_KEY, *TEST_KEY, "x", "y", "result", "part_passed", "is_last_test")
    )
    final = pl.from_arrow(final_parts(frame)) if parts is None else _parts_frame(parts)
    notes: list[str] = []
    found: list[pl.DataFrame] = [pl.DataFrame(schema=_REASON_SCHEMA)]
    static = dynamic = nnr_limits = lot_limits = lot_flags = None

    if recipe.pat is not None:
        rule = recipe.pat
        if static_limits is None:
            try:
                static = static_pat_limits(
                    frame, k=rule.k, min_lots=rule.min_lots, tests=rule.tests,
                    iqr_zero=rule.iqr_zero, quantile_method=rule.quantile_method,
                )  # fmt: skip
            except ValueError as exc:
                raise ValueError(f"{exc} (pass static_limits= to screen fewer lots)") from exc
        else:
            static = _frame(
                static_limits, "static_limits", (*TEST_KEY, "pat_lo", "pat_hi", "skipped")
            ).to_arrow()
            if not isinstance(rule.tests, str):
                static = pl.from_arrow(static).filter(pl.col("test_num").is_in(list(rule.tests))).to_arrow()
        skipped = pl.from_arrow(static).filter(pl.col("skipped"))
        for row in skipped.iter_rows(named=True):
            notes.append(
                f"PAT static: test {row['test_num']} {row['test_name'] or ''} not screened: {row['reason']}"
            )
        if rule.dynamic is not None:
            d = rule.dynamic
            dynamic = dynamic_pat_limits(
                frame, static, scope=d.scope, n=d.n, center=d.center, min_parts=d.min_parts,
                iqr_zero=rule.iqr_zero, quantile_method=rule.quantile_method,
            )  # fmt: skip
            n_skipped = pl.from_arrow(dynamic)["skipped"].sum()
            if n_skipped:
                notes.append(
                    f"PAT dynamic: {n_skipped} ({d.scope}, test) group(s) not screened, see dynamic_limits.reason"
                )
        found.append(_reasons(pat_outliers(frame, static, dynamic)))

    if recipe.nnr is not None:
        rule = recipe.nnr
        outliers, nnr_limits = nnr(
            frame, rule.tests, radius=rule.radius, k=rule.k, min_neighbours=rule.min_neighbours,
            iqr_zero=rule.iqr_zero, quantile_method=rule.quantile_method,
        )  # fmt: skip
        found.append(_reasons(outliers))
        n_skipped = pl.from_arrow(nnr_limits)["skipped"].sum()
        if n_skipped:
            notes.append(f"NNR: {n_skipped} (wafer, test) group(s) not screened, see nnr_limits.reason")

    if recipe.gdbn is not None:
        rule = recipe.gdbn
        scores = pl.from_arrow(
            gdbn(
                final, rule=rule.rule, threshold=rule.threshold, min_failing=rule.min_failing, radius=rule.radius,
                adjacent_weight=rule.adjacent_weight, diagonal_weight=rule.diagonal_weight, edge=rule.edge,
            )
        )  # fmt: skip
        found.append(
            scores.filter(pl.col("flagged"))
            .select(
                *PART_KEY,
                pl.lit(f"GDBN_{rule.rule.upper()}").alias("rule"),
                pl.lit(None, pl.UInt32).alias("test_num"),
                pl.lit(None, pl.String).alias("test_name"),
                pl.lit(None, pl.UInt16).alias("pin"),
                pl.col("score").alias("value"),
                pl.lit(None, pl.Float64).alias("limit_lo"),
                pl.col("threshold").alias("limit_hi"),
            )
            .cast(_REASON_SCHEMA)
        )

    # Only the final, passing part of a die is re-binned.
    good = final.filter(pl.col("part_passed").fill_null(False)).select(PART_KEY)
    reasons = pl.concat(found).join(good, on=list(PART_KEY), nulls_equal=True, maintain_order="left")
    rebinned = _rebin(final, reasons, recipe)
    if recipe.yield_limits is not None:
        lot_limits, lot_flags = _lot_limits(rebinned, recipe, notes)
    return ScreeningResult(
        recipe=recipe.identity(),
        reasons=reasons.to_arrow(),
        parts=rebinned.to_arrow(),
        bin_summary=_bin_summary(rebinned, recipe),
        yield_summary=_yield_summary(rebinned),
        yield_before=_ratio(rebinned["part_passed"].fill_null(False).sum(), rebinned.height),
        yield_after=_ratio(rebinned["passed_after"].fill_null(False).sum(), rebinned.height),
        static_limits=static,
        dynamic_limits=dynamic,
        nnr_limits=nnr_limits,
        lot_limits=lot_limits,
        lot_flags=lot_flags,
        notes=tuple(notes),
    )


def _ratio(a: int, b: int) -> float:
    return float(a) / b if b else float("nan")


def _rebin(final: pl.DataFrame, reasons: pl.DataFrame, recipe: Recipe) -> pl.DataFrame:
    """Parts with the rules that hit them and their bins after screening."""
    order = {family: i for i, family in enumerate(RULE_FAMILIES)}
    hits = (
        reasons.with_columns(pl.col("rule").replace_strict(_FAMILY_OF_RULE).alias("_family"))
        .with_columns(pl.col("_family").replace_strict(order, return_dtype=pl.Int64).alias("_rank"))
        .group_by(list(PART_KEY))
        .agg(pl.col("rule").unique(maintain_order=True).alias("rules"), pl.col("_rank").min().alias("_rank"))
    )
    soft_of_rank = {order[f]: recipe.bins.soft_bin_of(f) for f in RULE_FAMILIES}
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


def _lot_limits(
    parts: pl.DataFrame, recipe: Recipe, notes: list[str]
) -> tuple[pa.Table | None, pa.Table | None]:
    rule = recipe.yield_limits
    n_lots = parts["lot_id"].n_unique()
    if n_lots < rule.min_lots:
        notes.append(
            f"AEC-Q002: {n_lots} lot(s), fewer than the {rule.min_lots} SYL / SBL need: not computed"
        )
        return None, None
    after = parts.select(
        "lot_id",
        pl.col("passed_after").alias("part_passed"),
        pl.col("new_soft_bin").alias("soft_bin"),
        pl.col("new_hard_bin").alias("hard_bin"),
    )
    return statistical_yield_analysis(after, bin_column=f"{rule.bin}_bin", min_lots=rule.min_lots)
