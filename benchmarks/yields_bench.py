"""Yield, per-test statistics and dynamic PAT over 10 million part-test results: silicio against
the same computations written plainly in pandas.

    .venv/bin/python benchmarks/yields_bench.py [--parts 100000] [--tests 100] [--repeat 2] [--seed 0]

The data: a synthetic tidy table (the columns :func:`silicio.stdf.tidy` gives) of ``--parts``
dies x ``--tests`` parametric tests, 4 lots of 25 wafers, results normal around each test's
centre with a wafer offset and a few outliers, limits at +-5 sigma; and a parts table of the same
dies plus 3 % retests (another result row for the same die, later in the table).

Three computations, each timed on both sides and asserted equal:

1. yield per wafer, first pass and final (:func:`silicio.yields.yield_by` on the parts table);
2. per-test statistics: count, mean, median, std, robust sigma (IQR / 1.349), Cp, Cpk, fails
   (:func:`silicio.yields.per_test_statistics` on the tidy table);
3. dynamic PAT limits per wafer and test, AEC-Q001 mean +- 6 sigma of the passing parts inside
   the specification and static PAT limits, at least 30 parts, clamped to the specification
   (:func:`silicio.yields.dynamic_pat_limits`; the static limits are computed once, untimed).

Best of ``--repeat`` runs each, alternating silicio and pandas. Writes ``benchmarks/results/yields.md``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from silicio.yields import dynamic_pat_limits, per_test_statistics, static_pat_limits, yield_by

RESULTS = Path(__file__).resolve().parent / "results"
LOTS, WAFERS_PER_LOT = 4, 25
TARGET_SECONDS = 10.0
PAT_SIGMAS, PAT_MIN_PARTS = 6.0, 30


# --------------------------------------------------------------------------------------------
# Data


def synthetic_tidy(n_parts: int, n_tests: int, seed: int) -> pl.DataFrame:
    """Tidy rows, part-major: every part has every test (no retests in the tidy table)."""
    rng = np.random.default_rng(seed)
    wafers = LOTS * WAFERS_PER_LOT
    wafer_of_part = np.arange(n_parts) * wafers // n_parts
    centre = rng.uniform(-1.0, 1.0, n_tests)
    sigma = rng.uniform(0.01, 0.1, n_tests)
    wafer_offset = rng.normal(0.0, 0.3, (wafers, n_tests)) * sigma
    z = rng.standard_normal((n_parts, n_tests))
    outliers = rng.random((n_parts, n_tests)) < 2e-4
    z[outliers] += rng.choice([-7.0, 7.0], outliers.sum())
    result = centre + wafer_offset[wafer_of_part] + z * sigma
    lo, hi = centre - 5 * sigma, centre + 5 * sigma
    passed = (result >= lo) & (result <= hi)
    part_passed = passed.all(axis=1)
    test_index = np.tile(np.arange(n_tests), n_parts)
    part = np.repeat(np.arange(n_parts), n_tests)
    lot_names = np.array([f"LOT{i + 1}" for i in range(LOTS)])
    wafer_names = np.array([f"W{i % WAFERS_PER_LOT + 1:02d}" for i in range(wafers)])
    frame = pl.DataFrame(
        {
            "lot_id": pl.Series(lot_names[wafer_of_part // WAFERS_PER_LOT]).cast(pl.String),
            "wafer_id": pl.Series(wafer_names[wafer_of_part]).cast(pl.String),
            "part_index": np.arange(n_parts, dtype=np.int64),
            "part_passed": part_passed,
        }
    )
    tests = pl.DataFrame(
        {
            "test_num": pl.Series(1000 + np.arange(n_tests), dtype=pl.UInt32),
            "test_name": [f"TEST_{i:03d}" for i in range(n_tests)],
            "lo_limit": lo,
            "hi_limit": hi,
        }
    )
    return pl.DataFrame(
        {
            "__part": part,
            "__test": test_index,
            "result": result.ravel(),
            "passed": passed.ravel(),
        }
    ).select(
        pl.col("__part").map_batches(lambda s: frame["lot_id"].gather(s)).alias("lot_id"),
        pl.col("__part").map_batches(lambda s: frame["wafer_id"].gather(s)).alias("wafer_id"),
        pl.col("__part").cast(pl.Int64).alias("part_index"),
        pl.col("__test").map_batches(lambda s: tests["test_num"].gather(s)).alias("test_num"),
        pl.col("__test").map_batches(lambda s: tests["test_name"].gather(s)).alias("test_name"),
        pl.lit("P").alias("test_type"),
        pl.lit(None, pl.UInt16).alias("pin"),
        "result",
        pl.lit("V").alias("units"),
        pl.col("__test").map_batches(lambda s: tests["lo_limit"].gather(s)).alias("lo_limit"),
        pl.col("__test").map_batches(lambda s: tests["hi_limit"].gather(s)).alias("hi_limit"),
        "passed",
        pl.col("__part").map_batches(lambda s: frame["part_passed"].gather(s)).alias("part_passed"),
        pl.lit(True).alias("is_last_test"),
    )


def synthetic_parts(tidy: pl.DataFrame, seed: int) -> pl.DataFrame:
    """One row per die from the tidy table, then 3 % of the dies tested again (later rows)."""
    rng = np.random.default_rng(seed + 1)
    dies = tidy.group_by("part_index", maintain_order=True).agg(
        pl.col("lot_id").first(), pl.col("wafer_id").first(), pl.col("part_passed").first().alias("passed")
    )
    dies = dies.with_columns(pl.col("part_index").alias("die_key"))
    retested = dies.filter(pl.Series(rng.random(dies.height) < 0.03))
    # Most retests of failing dies pass: a contact problem on the first touchdown.
    retested = retested.with_columns(pl.Series("passed", rng.random(retested.height) < 0.7))
    return pl.concat([dies, retested]).select("lot_id", "wafer_id", "die_key", "passed")


# --------------------------------------------------------------------------------------------
# pandas, written plainly


def pandas_yield(parts: pd.DataFrame) -> pd.DataFrame:
    judged = parts[parts["passed"].notna()].copy()
    judged["first"] = ~judged.duplicated("die_key", keep="first")
    judged["last"] = ~judged.duplicated("die_key", keep="last")
    judged["first_good"] = judged["first"] & judged["passed"].astype(bool)
    judged["last_good"] = judged["last"] & judged["passed"].astype(bool)
    out = judged.groupby(["lot_id", "wafer_id"]).agg(
        tested=("die_key", "size"),
        first_pass_dies=("first", "sum"),
        first_pass_good=("first_good", "sum"),
        final_dies=("last", "sum"),
        final_good=("last_good", "sum"),
    )
    out["first_pass_yield"] = out["first_pass_good"] / out["first_pass_dies"]
    out["final_yield"] = out["final_good"] / out["final_dies"]
    return out.reset_index()


def pandas_statistics(tidy: pd.DataFrame) -> pd.DataFrame:
    final = tidy[tidy["is_last_test"]]
    grouped = final.groupby(["test_type", "test_num", "test_name", "pin"], dropna=False)
    r = grouped["result"]
    out = pd.DataFrame(
        {
            "lo_limit": grouped["lo_limit"].first(),
            "hi_limit": grouped["hi_limit"].first(),
            "count": r.count(),
            "mean": r.mean(),
            "median": r.median(),
            "std": r.std(ddof=1),
            "robust_sigma": (r.quantile(0.75) - r.quantile(0.25)) / 1.349,
            "fail_count": grouped["passed"].agg(lambda s: int((s == False).sum())),  # noqa: E712
        }
    )
    usable = out["std"] > 0
    out["cp"] = ((out["hi_limit"] - out["lo_limit"]) / (6 * out["std"])).where(usable)
    upper = (out["hi_limit"] - out["mean"]) / (3 * out["std"])
    lower = (out["mean"] - out["lo_limit"]) / (3 * out["std"])
    out["cpk"] = np.minimum(upper, lower).where(usable)
    return out.reset_index()


def pandas_dynamic_pat(tidy: pd.DataFrame, static: pd.DataFrame) -> pd.DataFrame:
    keys = ["lot_id", "wafer_id", "test_num", "test_name"]
    good = tidy[tidy["is_last_test"] & tidy["part_passed"] & np.isfinite(tidy["result"])]
    good = good.merge(static[["test_num", "test_name", "pat_lo", "pat_hi"]], on=["test_num", "test_name"])
    inside = (
        (good["result"] >= good["lo_limit"])
        & (good["result"] <= good["hi_limit"])
        & (good["result"] >= good["pat_lo"])
        & (good["result"] <= good["pat_hi"])
    )
    grouped = good[inside].groupby(keys)
    out = pd.DataFrame(
        {
            "n_parts": grouped["result"].size(),
            "center": grouped["result"].mean(),
            "sigma": grouped["result"].std(ddof=1),
            "lsl": grouped["lo_limit"].max(),
            "usl": grouped["hi_limit"].min(),
        }
    ).reset_index()
    screened = (out["n_parts"] >= PAT_MIN_PARTS) & (out["sigma"] > 0)
    lo = np.minimum(np.maximum(out["center"] - PAT_SIGMAS * out["sigma"], out["lsl"]), out["usl"])
    hi = np.maximum(np.minimum(out["center"] + PAT_SIGMAS * out["sigma"], out["usl"]), out["lsl"])
    out["limit_lo"] = lo.where(screened)
    out["limit_hi"] = hi.where(screened)
    return out


# --------------------------------------------------------------------------------------------
# silicio


def silicio_yield(parts: pl.DataFrame):
    return yield_by(parts, by=["lot_id", "wafer_id"])


def silicio_statistics(tidy: pl.DataFrame):
    return per_test_statistics(tidy)


def silicio_dynamic_pat(tidy: pl.DataFrame, static):
    return dynamic_pat_limits(tidy, static, scope="wafer", n=PAT_SIGMAS, min_parts=PAT_MIN_PARTS)


# --------------------------------------------------------------------------------------------
# Checks


def _assert_close(got: np.ndarray, expected: np.ndarray, what: str, rel: float = 1e-9) -> None:
    got, expected = np.asarray(got, float), np.asarray(expected, float)
    assert got.shape == expected.shape, what
    assert np.array_equal(np.isnan(got), np.isnan(expected)), what
    ok = ~np.isnan(got)
    assert np.allclose(got[ok], expected[ok], rtol=rel, atol=0), (
        what,
        np.max(np.abs(got[ok] - expected[ok])),
    )


def check_yield(silicio_table, pandas_table: pd.DataFrame) -> None:
    s = pl.from_arrow(silicio_table).sort("lot_id", "wafer_id")
    p = pandas_table.sort_values(["lot_id", "wafer_id"])
    for c in ("tested", "first_pass_dies", "first_pass_good", "final_dies", "final_good"):
        assert np.array_equal(s[c].to_numpy(), p[c].to_numpy()), c
    for c in ("first_pass_yield", "final_yield"):
        _assert_close(s[c].to_numpy(), p[c].to_numpy(), c, 1e-15)


def check_statistics(silicio_table, pandas_table: pd.DataFrame) -> None:
    s = pl.from_arrow(silicio_table).sort("test_num")
    p = pandas_table.sort_values("test_num")
    for c in ("count", "fail_count"):
        assert np.array_equal(s[c].to_numpy(), p[c].to_numpy()), c
    for c in ("mean", "median", "std", "robust_sigma", "cp", "cpk"):
        _assert_close(s[c].to_numpy(), p[c].to_numpy(), c)


def check_pat(silicio_table, pandas_table: pd.DataFrame) -> None:
    keys = ["lot_id", "wafer_id", "test_num"]
    s = pl.from_arrow(silicio_table).sort(keys)
    p = pandas_table.sort_values(keys)
    assert np.array_equal(s["n_parts"].to_numpy(), p["n_parts"].to_numpy()), "n_parts"
    for c in ("center", "sigma", "limit_lo", "limit_hi"):
        _assert_close(s[c].fill_null(np.nan).to_numpy(), p[c].to_numpy(), c)


# --------------------------------------------------------------------------------------------


def best_of(repeat: int, runs: dict[str, callable]) -> tuple[dict[str, float], dict[str, object]]:
    best = dict.fromkeys(runs, math.inf)
    results = {}
    for _ in range(repeat):
        for name, fn in runs.items():
            start = time.perf_counter()
            results[name] = fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=100_000)
    parser.add_argument("--tests", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    tidy = synthetic_tidy(args.parts, args.tests, args.seed)
    parts = synthetic_parts(tidy, args.seed)
    tidy_pd = tidy.to_pandas()
    parts_pd = parts.to_pandas()
    static = static_pat_limits(tidy, min_lots=1)  # the history the dynamic limits start from
    static_pd = pl.from_arrow(static).to_pandas()
    built = time.perf_counter() - start
    print(f"data: {tidy.height:,} tidy rows, {parts.height:,} part results, built in {built:.1f} s")

    rows = []
    comparisons = [
        ("yield per wafer (first pass, final)", "yield_by", lambda: silicio_yield(parts),
         lambda: pandas_yield(parts_pd), check_yield),
        ("per-test statistics", "per_test_statistics", lambda: silicio_statistics(tidy),
         lambda: pandas_statistics(tidy_pd), check_statistics),
        ("dynamic PAT per wafer", "dynamic_pat_limits", lambda: silicio_dynamic_pat(tidy, static),
         lambda: pandas_dynamic_pat(tidy_pd, static_pd), check_pat),
    ]  # fmt: skip
    for label, function, run_silicio, run_pandas, check in comparisons:
        best, results = best_of(args.repeat, {"silicio": run_silicio, "pandas": run_pandas})
        check(results["silicio"], results["pandas"])
        rows.append((label, function, best["silicio"], best["pandas"]))
        print(f"{label}: silicio {best['silicio']:.3f} s, pandas {best['pandas']:.3f} s")

    table = "\n".join(
        f"| {label} | `{fn}` | {s:.3f} | {p:.3f} | {p / s:.1f}x | {'yes' if s < TARGET_SECONDS else 'NO'} |"
        for label, fn, s, p in rows
    )
    report = f"""# Yields benchmark: yield, per-test statistics, dynamic PAT

- data: {tidy.height:,} part-test results ({args.parts:,} dies x {args.tests} tests, {LOTS} lots x
  {WAFERS_PER_LOT} wafers, seed {args.seed}) and {parts.height:,} part results (3 % retests)
- machine: {platform.machine()}, {os.cpu_count()} CPU(s), {platform.platform()}; Python {platform.python_version()},
  polars {pl.__version__}, numpy {np.__version__}, pandas {pd.__version__}
- timing: best of {args.repeat} runs of each, alternating silicio and pandas, same process, same inputs
  (a polars frame for silicio, the same data as a pandas frame for pandas; conversion not timed)
- results asserted equal: counts exactly, statistics and limits to 1e-9 relative
- target: each silicio computation under {TARGET_SECONDS:.0f} s

| computation | silicio function | silicio s | pandas s | pandas / silicio | under target |
|---|---|---:|---:|---:|---|
{table}
"""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "yields.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
