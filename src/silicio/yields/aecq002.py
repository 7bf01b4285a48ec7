"""Statistical Yield Analysis of AEC-Q002: statistical yield limits (SYL) and bin limits (SBL).

Where PAT screens parts, SYA screens lots: a lot whose yield is abnormally low, or whose
fallout into a failure bin is abnormally high, against the history of the product is held for
review (SYL1 / SBL1) or disposition (SYL2 / SBL2).

* SYL1 = mean - 3 sigma, SYL2 = mean - 4 sigma of the lot yields (fraction of parts passing);
* SBL1 = mean + 3 sigma, SBL2 = mean + 4 sigma of a bin's fallout (fraction of the lot's parts
  in that bin), for each failing bin;
* mean and sigma from at least six lots.

sigma is the sample standard deviation (ddof = 1) of the per-lot values; a lot with no part in
a bin counts as zero fallout for that bin. Yields and fallouts are fractions (0..1).

References
----------
Automotive Electronics Council, *AEC-Q002 Rev-B: Guidelines for Statistical Yield Analysis*
(January 12, 2012): SYL and SBL set from the mean and sigma of the yield and of each bin's
fallout per lot, collected from at least six lots; SYL1 / SBL1 at 3 sigma, SYL2 / SBL2 at
4 sigma; lots beyond them are flagged for review or disposition.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from .pat import _frame

__all__ = [
    "lot_bin_fallout",
    "lot_yields",
    "statistical_bin_limits",
    "statistical_yield_analysis",
    "statistical_yield_limits",
]

BIN_COLUMNS = ("soft_bin", "hard_bin")


def _mean_sigma(values: np.ndarray, min_lots: int, what: str) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or np.any(np.isnan(values)):
        raise ValueError(f"{what} must be a 1-D array of numbers, one per lot, without NaN")
    if int(min_lots) < 2:
        raise ValueError(f"min_lots must be >= 2 (a sigma needs two lots), got {min_lots!r}")
    if values.size < min_lots:
        raise ValueError(f"AEC-Q002 Rev-B limits need at least {min_lots} lots; got {values.size}")
    return float(np.mean(values)), float(np.std(values, ddof=1))


def statistical_yield_limits(lot_yields: np.ndarray, min_lots: int = 6) -> dict[str, float]:
    """SYL1 = mean - 3 sigma and SYL2 = mean - 4 sigma of the lot yields (AEC-Q002 Rev-B).

    Returns {"n_lots", "mean", "sigma", "SYL1", "SYL2"}.
    """
    mean, sigma = _mean_sigma(lot_yields, min_lots, "lot_yields")
    return {
        "n_lots": len(lot_yields),
        "mean": mean,
        "sigma": sigma,
        "SYL1": mean - 3 * sigma,
        "SYL2": mean - 4 * sigma,
    }


def statistical_bin_limits(lot_fallout: np.ndarray, min_lots: int = 6) -> dict[str, float]:
    """SBL1 = mean + 3 sigma and SBL2 = mean + 4 sigma of a bin's fallout per lot (AEC-Q002 Rev-B).

    Returns {"n_lots", "mean", "sigma", "SBL1", "SBL2"}.
    """
    mean, sigma = _mean_sigma(lot_fallout, min_lots, "lot_fallout")
    return {
        "n_lots": len(lot_fallout),
        "mean": mean,
        "sigma": sigma,
        "SBL1": mean + 3 * sigma,
        "SBL2": mean + 4 * sigma,
    }


def lot_yields(parts: pa.Table | pl.DataFrame) -> pa.Table:
    """Yield of each lot from a per-part table (one final part per die): ``lot_id, n_parts,
    n_good, yield``. A part whose pass / fail is unknown (null) counts as not good."""
    frame = _frame(parts, "parts", ("lot_id", "part_passed"))
    return (
        frame.group_by("lot_id", maintain_order=True)
        .agg(pl.len().alias("n_parts"), pl.col("part_passed").fill_null(False).sum().alias("n_good"))
        .with_columns((pl.col("n_good") / pl.col("n_parts")).alias("yield"))
        .to_arrow()
    )


def lot_bin_fallout(parts: pa.Table | pl.DataFrame, bin_column: str = "soft_bin") -> pa.Table:
    """Fallout of each failing bin in each lot: ``lot_id, bin, n_parts, n_bin, fallout``.

    Failing bins are those of the failing parts; every lot gets a row for every such bin,
    zero when the lot has none, since a zero is part of the bin's distribution.
    """
    if bin_column not in BIN_COLUMNS:
        raise ValueError(f"bin_column must be one of {', '.join(BIN_COLUMNS)}; got {bin_column!r}")
    frame = _frame(parts, "parts", ("lot_id", "part_passed", bin_column))
    sizes = frame.group_by("lot_id", maintain_order=True).agg(pl.len().alias("n_parts"))
    failing = frame.filter(~pl.col("part_passed").fill_null(False) & pl.col(bin_column).is_not_null())
    counts = failing.group_by("lot_id", pl.col(bin_column).alias("bin")).agg(pl.len().alias("n_bin"))
    bins = counts.select(pl.col("bin").unique().sort())
    return (
        sizes.join(bins, how="cross")
        .join(counts, on=["lot_id", "bin"], how="left", nulls_equal=True)
        .with_columns(pl.col("n_bin").fill_null(0).cast(pl.UInt32))
        .with_columns((pl.col("n_bin") / pl.col("n_parts")).alias("fallout"))
        .sort("lot_id", "bin", maintain_order=True)
        .select("lot_id", pl.col("bin").cast(pl.UInt16), "n_parts", "n_bin", "fallout")
        .to_arrow()
    )


def statistical_yield_analysis(
    parts: pa.Table | pl.DataFrame,
    history: pa.Table | pl.DataFrame | None = None,
    *,
    bin_column: str = "soft_bin",
    min_lots: int = 6,
) -> tuple[pa.Table, pa.Table]:
    """SYL and SBL of ``history`` (default: ``parts`` itself) and the lots of ``parts`` beyond them.

    AEC-Q002 Rev-B: SYL1/2 = mean - 3/4 sigma of lot yield, SBL1/2 = mean + 3/4 sigma of each
    bin's fallout, from at least six lots.

    Both tables are per-part (``lot_id, part_passed`` and the bin column). Returns
    (``limits``: one row per limit set, ``kind`` "SYL" or "SBL", ``bin`` (null for SYL),
    ``n_lots, mean, sigma, limit1, limit2``; ``flags``: one row per lot beyond a limit, ``lot_id,
    rule`` (the most severe crossed: SYL2 before SYL1, SBL2 before SBL1), ``bin, value, limit``).
    A bin of ``parts`` absent from the history has no limits and is not judged.
    """
    history = parts if history is None else history
    hist_yield = pl.from_arrow(lot_yields(history))
    syl = statistical_yield_limits(hist_yield["yield"].to_numpy(), min_lots)
    limit_rows = [("SYL", None, syl["n_lots"], syl["mean"], syl["sigma"], syl["SYL1"], syl["SYL2"])]
    hist_fallout = pl.from_arrow(lot_bin_fallout(history, bin_column))
    for (bin_number,), group in hist_fallout.group_by("bin", maintain_order=True):
        sbl = statistical_bin_limits(group["fallout"].to_numpy(), min_lots)
        limit_rows.append(
            ("SBL", bin_number, sbl["n_lots"], sbl["mean"], sbl["sigma"], sbl["SBL1"], sbl["SBL2"])
        )
    limits = pl.DataFrame(
        limit_rows,
        schema={"kind": pl.String, "bin": pl.UInt16, "n_lots": pl.Int64, "mean": pl.Float64,
                "sigma": pl.Float64, "limit1": pl.Float64, "limit2": pl.Float64},
        orient="row",
    )  # fmt: skip
    flags = []
    for row in pl.from_arrow(lot_yields(parts)).iter_rows(named=True):
        if row["yield"] < syl["SYL2"]:
            flags.append((row["lot_id"], "SYL2", None, row["yield"], syl["SYL2"]))
        elif row["yield"] < syl["SYL1"]:
            flags.append((row["lot_id"], "SYL1", None, row["yield"], syl["SYL1"]))
    sbl_of = {r["bin"]: r for r in limits.filter(pl.col("kind") == "SBL").iter_rows(named=True)}
    for row in pl.from_arrow(lot_bin_fallout(parts, bin_column)).iter_rows(named=True):
        lim = sbl_of.get(row["bin"])
        if lim is None:
            continue
        if row["fallout"] > lim["limit2"]:
            flags.append((row["lot_id"], "SBL2", row["bin"], row["fallout"], lim["limit2"]))
        elif row["fallout"] > lim["limit1"]:
            flags.append((row["lot_id"], "SBL1", row["bin"], row["fallout"], lim["limit1"]))
    flag_table = pl.DataFrame(
        flags,
        schema={
            "lot_id": pl.String,
            "rule": pl.String,
            "bin": pl.UInt16,
            "value": pl.Float64,
            "limit": pl.Float64,
        },
        orient="row",
    )
    return limits.to_arrow(), flag_table.to_arrow()
