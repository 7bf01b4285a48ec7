"""Hard and soft bins: counts from part results, reconciliation with the tester's bin summary
(HBR / SBR), Pareto of failing bins, and site-to-site yield with a test of homogeneity.

Inputs are parts tables (:func:`silicio.stdf.parts.parts`, one file or many concatenated) and,
for reconciliation, the HBR or SBR table of the same file. ``tests`` chooses which tests of a
die count: ``"final"`` its last test, ``"first"`` its first, ``"all"`` every test (every PRR,
as testers count their bin summaries).

References
----------
Teradyne, *STDF Specification V4* (1997): HBR / SBR "HEAD_NUM 255 indicates that this is a
summary for all heads and sites"; HBIN_PF / SBIN_PF 'P', 'F' or space (unknown).

Agresti, A. *Categorical Data Analysis*, 2nd ed., Wiley (2002), sec. 3.2 (Pearson chi-square
test of homogeneity of proportions) and sec. 2.4.5 (adjusted standardized residuals).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
from scipy import stats

from .yield_ import as_frame, check_choice, with_test_order

__all__ = [
    "SiteComparison",
    "bin_counts",
    "bin_definitions",
    "bin_pareto",
    "reconcile_bins",
    "site_yield_comparison",
]

_KINDS = ("hard", "soft")
_TESTS = ("final", "first", "all")
_SUMMARY_FIELDS = {"hard": ("HBIN_NUM", "HBIN_CNT", "HBIN_PF", "HBIN_NAM"),
                   "soft": ("SBIN_NUM", "SBIN_CNT", "SBIN_PF", "SBIN_NAM")}  # fmt: skip
_ALL_HEADS = 255  # spec, HBR / SBR HEAD_NUM: summary of all heads and sites


def _keys(by: Sequence[str] | str) -> list[str]:
    return [by] if isinstance(by, str) else list(by)


def _selected_tests(parts, tests: str, order_by, what: str, needs: Sequence[str]) -> pl.DataFrame:
    """The parts rows that count under ``tests``, retests consolidated across the table."""
    check_choice("tests", tests, _TESTS)
    frame = as_frame(parts, ["die_key", *needs], what)
    if tests == "all":
        return frame
    frame = with_test_order(frame, order_by)
    return frame.filter(pl.col("is_last_test" if tests == "final" else "is_first_test"))


def bin_counts(
    parts: pa.Table | pl.DataFrame,
    kind: str = "hard",
    by: Sequence[str] | str = (),
    tests: str = "final",
    order_by: Sequence[str] | str | None = None,
) -> pa.Table:
    """Parts per bin (``kind`` "hard" or "soft") in each group of ``by``.

    Columns: the ``by`` keys, ``bin``, ``count``, ``good`` (of those, parts that passed),
    ``percent`` (of the group's parts); a null bin holds parts without one (SOFT_BIN 65535).
    """
    check_choice("kind", kind, _KINDS)
    keys = _keys(by)
    column = f"{kind}_bin"
    frame = _selected_tests(parts, tests, order_by, "bin_counts", [column, "passed", *keys])
    group = [*keys, column]
    out = (
        frame.group_by(group)
        .agg(pl.len().alias("count"), (pl.col("passed") == True).sum().alias("good"))  # noqa: E712 (null-safe)
        .with_columns(
            (100.0 * pl.col("count") / pl.col("count").sum().over(keys or pl.lit(1))).alias("percent")
        )
        .rename({column: "bin"})
        .sort([*keys, "bin"], nulls_last=True)
    )
    return out.with_columns(pl.col("count").cast(pl.Int64), pl.col("good").cast(pl.Int64)).to_arrow()


def bin_definitions(summary: pa.Table, kind: str = "hard") -> pa.Table:
    """Name and pass/fail of each bin from the tester's HBR (``kind="hard"``) or SBR table.

    Columns ``bin``, ``name`` (first non-empty name given), ``pf`` ('P', 'F', or null when
    the records leave it blank). Bins named differently per site keep the first name.
    """
    check_choice("kind", kind, _KINDS)
    num, _, pf, name = _SUMMARY_FIELDS[kind]
    frame = as_frame(summary, [num], "bin_definitions")
    for c in (pf, name):
        if c not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(c))
    clean = frame.select(
        pl.col(num).cast(pl.Int64).alias("bin"),
        pl.when(pl.col(name).str.len_chars() > 0).then(pl.col(name)).alias("name"),
        pl.when(pl.col(pf).is_in(["P", "F"])).then(pl.col(pf)).alias("pf"),
    )
    return (
        clean.group_by("bin", maintain_order=True)
        .agg(pl.col("name").drop_nulls().first(), pl.col("pf").drop_nulls().first())
        .sort("bin")
        .to_arrow()
    )


def reconcile_bins(parts: pa.Table | pl.DataFrame, summary: pa.Table, kind: str = "hard") -> pa.Table:
    """Compares the tester's bin summary (HBR / SBR of one file) with the file's part results.

    Each summary record is a count for a (head, site) or, with HEAD_NUM 255, for all heads
    and sites; several records for the same bin and scope are added up. Testers count every
    part result (retests included), so ``part_count`` counts every PRR in the scope;
    ``final_count`` counts the dies whose last test landed in the bin, to tell "summary
    counts final bins only" from a true discrepancy.

    Returns one row per (scope, head, site, bin) seen on either side: ``scope`` ("all" or
    "site"), ``head``, ``site`` (null for "all"), ``bin``, ``name``, ``pf``, ``tester_count``
    (null when the summary lacks the bin), ``part_count``, ``final_count``, ``difference``
    (tester - parts, null when one side lacks the bin) and ``status``: "match", "final
    only" (matches ``final_count`` but not every test), "mismatch", "not in summary" or
    "not in parts". Nothing is dropped: an empty table means neither side has bins.
    """
    check_choice("kind", kind, _KINDS)
    num, cnt, pf, name = _SUMMARY_FIELDS[kind]
    column = f"{kind}_bin"
    frame = as_frame(parts, ["die_key", "head", "site", column], "reconcile_bins")
    records = as_frame(summary, ["HEAD_NUM", "SITE_NUM", num, cnt], "reconcile_bins (summary)")
    names = pl.from_arrow(bin_definitions(summary, kind))
    scoped = pl.when(pl.col("HEAD_NUM") == _ALL_HEADS)
    tester = (
        records.with_columns(
            scoped.then(pl.lit("all")).otherwise(pl.lit("site")).alias("scope"),
            scoped.then(None).otherwise(pl.col("HEAD_NUM")).cast(pl.Int64).alias("head"),
            scoped.then(None).otherwise(pl.col("SITE_NUM")).cast(pl.Int64).alias("site"),
            pl.col(num).cast(pl.Int64).alias("bin"),
        )
        .group_by(["scope", "head", "site", "bin"])
        .agg(pl.col(cnt).cast(pl.Int64).sum().alias("tester_count"))
    )
    ordered = with_test_order(frame, None).with_columns(
        pl.col(column).cast(pl.Int64).alias("bin"),
        pl.col("head").cast(pl.Int64),
        pl.col("site").cast(pl.Int64),
    )
    counted = (
        pl.len().cast(pl.Int64).alias("part_count"),
        pl.col("is_last_test").sum().cast(pl.Int64).alias("final_count"),
    )
    overall = (
        ordered.group_by("bin")
        .agg(*counted)
        .with_columns(
            pl.lit("all").alias("scope"),
            pl.lit(None, pl.Int64).alias("head"),
            pl.lit(None, pl.Int64).alias("site"),
        )
    )
    per_site = (
        ordered.group_by(["head", "site", "bin"]).agg(*counted).with_columns(pl.lit("site").alias("scope"))
    )
    # Compare only the scopes the tester summarised: a file without per-site records is not
    # a mismatch at every site.
    scopes = set(tester.get_column("scope").to_list())
    from_parts = pl.concat([t for s, t in (("all", overall), ("site", per_site)) if s in scopes] or [overall.head(0)],
                           how="diagonal")  # fmt: skip
    keys = ["scope", "head", "site", "bin"]
    out = tester.join(from_parts, on=keys, how="full", coalesce=True, nulls_equal=True)
    out = out.with_columns(pl.col("part_count").fill_null(0), pl.col("final_count").fill_null(0))
    in_summary = pl.col("tester_count").is_not_null()
    status = (
        pl.when(~in_summary)
        .then(pl.lit("not in summary"))
        .when((pl.col("part_count") == 0) & (pl.col("tester_count") > 0))
        .then(pl.lit("not in parts"))
        .when(pl.col("tester_count") == pl.col("part_count"))
        .then(pl.lit("match"))
        .when(pl.col("tester_count") == pl.col("final_count"))
        .then(pl.lit("final only"))
        .otherwise(pl.lit("mismatch"))
    )
    out = out.with_columns(
        pl.when(in_summary).then(pl.col("tester_count") - pl.col("part_count")).alias("difference"),
        status.alias("status"),
    ).join(names, on="bin", how="left")
    cols = ["scope", "head", "site", "bin", "name", "pf", "tester_count", "part_count", "final_count", "difference",
            "status"]  # fmt: skip
    return out.select(cols).sort(["scope", "head", "site", "bin"], nulls_last=True).to_arrow()


def bin_pareto(
    parts: pa.Table | pl.DataFrame,
    kind: str = "soft",
    by: Sequence[str] | str = (),
    tests: str = "final",
    names: pa.Table | None = None,
    order_by: Sequence[str] | str | None = None,
) -> pa.Table:
    """Failing bins from most to least frequent, with cumulative share: a Pareto chart's data.

    Counts the parts that failed (``passed`` False) per bin in each group of ``by``.
    Columns: keys, ``bin``, ``name`` (from ``names``, a :func:`bin_definitions` table, when
    given), ``count``, ``percent_of_tested`` (of all the group's parts under ``tests``),
    ``percent_of_fails`` and ``cumulative_percent`` (of the group's failures).
    """
    check_choice("kind", kind, _KINDS)
    keys = _keys(by)
    column = f"{kind}_bin"
    frame = _selected_tests(parts, tests, order_by, "bin_pareto", [column, "passed", *keys])
    over = keys or pl.lit(1)
    tested = frame.group_by(keys or pl.lit(1).alias("__all")).agg(pl.len().alias("__tested"))
    fails = frame.filter(pl.col("passed") == False)  # noqa: E712 (null is not a fail)
    out = fails.group_by([*keys, column]).agg(pl.len().cast(pl.Int64).alias("count")).rename({column: "bin"})
    if keys:
        out = out.join(tested, on=keys, how="left", nulls_equal=True)
    else:
        out = out.with_columns(pl.lit(tested.get_column("__tested").sum()).alias("__tested"))
    out = out.sort([*keys, "count", "bin"], descending=[False] * len(keys) + [True, False], nulls_last=True)
    out = out.with_columns(
        (100.0 * pl.col("count") / pl.col("__tested")).alias("percent_of_tested"),
        (100.0 * pl.col("count") / pl.col("count").sum().over(over)).alias("percent_of_fails"),
    ).with_columns(pl.col("percent_of_fails").cum_sum().over(over).alias("cumulative_percent"))
    out = out.with_columns(pl.col("bin").cast(pl.Int64))
    if names is not None:
        out = out.join(
            pl.from_arrow(names).select("bin", "name"), on="bin", how="left", maintain_order="left"
        )
    else:
        out = out.with_columns(pl.lit(None, pl.String).alias("name"))
    cols = [*keys, "bin", "name", "count", "percent_of_tested", "percent_of_fails", "cumulative_percent"]
    return out.select(cols).to_arrow()


@dataclass(frozen=True)
class SiteComparison:
    """Yield per test site and Pearson's chi-square test that all sites share one yield.

    ``sites`` has columns head, site, tested, good, yield, deviation (site yield minus the
    pooled yield) and adjusted_residual (Agresti 2002, 2.4.5: about N(0, 1) per site when the
    sites are alike; beyond +-2 or 3 marks the site). ``p_value`` is None when the test is
    undefined (fewer than two sites, or every part passed / failed).
    """

    sites: pa.Table
    pooled_yield: float | None
    chi2: float | None
    dof: int
    p_value: float | None


def site_yield_comparison(
    parts: pa.Table | pl.DataFrame, tests: str = "first", order_by: Sequence[str] | str | None = None
) -> SiteComparison:
    """Do the test sites yield alike? Chi-square test of homogeneity of pass rates across sites.

    A 2 x k table (pass / fail per head and site) tested with Pearson's X^2 without continuity
    correction (Agresti 2002, 3.2), degrees of freedom k - 1. ``tests="first"`` (default)
    counts each die's first test on the site that ran it, so retests, which fail more often
    and may run on any site, do not bias a site; "all" counts every insertion. Parts without
    a verdict are left out.
    """
    frame = _selected_tests(parts, tests, order_by, "site_yield_comparison", ["head", "site", "passed"])
    frame = frame.filter(pl.col("passed").is_not_null())
    sites = (
        frame.group_by(["head", "site"])
        .agg(pl.len().cast(pl.Int64).alias("tested"), pl.col("passed").sum().cast(pl.Int64).alias("good"))
        .sort(["head", "site"])
    )
    tested = sites.get_column("tested").to_numpy().astype(float)
    good = sites.get_column("good").to_numpy().astype(float)
    total = tested.sum()
    pooled = good.sum() / total if total else None
    chi2 = p = None
    residual = np.full(tested.size, np.nan)
    k = tested.size
    if k >= 2 and pooled is not None and 0 < pooled < 1:
        observed = np.stack([good, tested - good])
        expected = np.outer([pooled, 1 - pooled], tested)
        chi2 = float(((observed - expected) ** 2 / expected).sum())
        p = float(stats.chi2.sf(chi2, k - 1))
        # Adjusted residual of the pass cell: (O - E) / sqrt(E (1 - row share) (1 - column share)).
        residual = (good - expected[0]) / np.sqrt(expected[0] * (1 - pooled) * (1 - tested / total))
    table = sites.with_columns(
        (pl.col("good") / pl.col("tested")).alias("yield"),
        (pl.col("good") / pl.col("tested") - (pooled if pooled is not None else np.nan)).alias("deviation"),
        pl.Series("adjusted_residual", residual),
    ).to_arrow()
    return SiteComparison(table, pooled, chi2, max(k - 1, 0), p)
