"""Test-to-test correlation within one stage, and the redundant tests it reveals.

Each unit's final results (its last insertion) form one row, each test one column. Pearson's r of
every pair of tests is taken over the units that have both results (pairwise complete), in
closed form from a handful of matrix products, so 200 tests x 100k units need no loop over pairs.

A pair of tests is *redundant* when |r| exceeds a threshold and both fail exactly the same
units: removing either screens out nothing the other does not. They are listed with the test
time each costs (TSR.TEST_TIM, the tester's average execution time in seconds, when recorded),
as candidates for test-time reduction; the decision stays with the product engineer (a test may
guard a failure mode the sample never showed).

References
----------
Pearson, K. "Notes on regression and inheritance in the case of two parents", *Proc. R. Soc.
Lond.* 58 (1895) 240-242: the product-moment correlation, here in its computing form
r = (n Sxy - Sx Sy) / sqrt((n Sxx - Sx^2)(n Syy - Sy^2)).
Teradyne, *STDF Specification V4* (1997): TSR TEST_TIM "average test execution time in seconds",
valid unless OPT_FLAG bit 2 is set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from silicio.yields.yield_ import as_frame

__all__ = ["CorrelationMatrix", "redundant_tests", "correlation_matrix", "tsr_test_times"]

#: TSR OPT_FLAG bit 2: TEST_TIM invalid.
_TEST_TIM_INVALID = 0x04
_TEST = ["test_type", "test_num", "test_name", "pin"]


@dataclass(frozen=True)
class CorrelationMatrix:
    """``tests``: the tests (test_type, test_num, test_name, pin, units with a result, fails), in
    matrix order; ``r``: Pearson's r (NaN where fewer than 3 common units or no spread);
    ``n``: units with both results; ``same_fails``: True where both tests fail the same units."""

    __test__ = False  # not a pytest class

    tests: pa.Table
    r: np.ndarray
    n: np.ndarray
    same_fails: np.ndarray


def _unit_columns(frame: pl.DataFrame) -> list[str]:
    return ["part_index"] if "file" not in frame.columns else ["file", "part_index"]


def correlation_matrix(
    tidy: pa.Table | pl.DataFrame, tests: Sequence[int] | None = None
) -> CorrelationMatrix:
    """Pearson's r between every pair of parametric tests (PTR results, or ``tests`` by number),
    on each unit's final results (``is_last_test``; rows without it all count)."""
    frame = as_frame(tidy, [*_TEST, "part_index", "result", "passed"], "correlation_matrix")
    if "is_last_test" in frame.columns:
        frame = frame.filter(pl.col("is_last_test").fill_null(False))
    frame = (
        frame.filter(pl.col("test_type") == "P")
        if tests is None
        else frame.filter(pl.col("test_num").is_in(list(tests)))
    )
    units = _unit_columns(frame)
    frame = frame.with_columns(pl.struct(_TEST).rank("dense").cast(pl.Int64).alias("_test") - 1,
                               pl.struct(units).rank("dense").cast(pl.Int64).alias("_unit") - 1)  # fmt: skip
    catalog = (
        frame.group_by("_test")
        .agg(*(pl.col(c).first() for c in _TEST), pl.col("result").count().cast(pl.Int64).alias("results"),
             (pl.col("passed") == False).sum().cast(pl.Int64).alias("fails"))  # noqa: E712
        .sort("_test")
    )  # fmt: skip
    k, m = catalog.height, int(frame.get_column("_unit").max() + 1) if frame.height else 0
    values = np.zeros((m, k))
    present = np.zeros((m, k))
    failed = np.zeros((m, k))
    rows, cols = frame.get_column("_unit").to_numpy(), frame.get_column("_test").to_numpy()
    result = frame.get_column("result").cast(pl.Float64).fill_null(np.nan).to_numpy()
    ok = np.isfinite(result)
    values[rows[ok], cols[ok]] = result[ok]
    present[rows[ok], cols[ok]] = 1.0
    fails = frame.get_column("passed").fill_null(True).not_().to_numpy()
    failed[rows[fails], cols[fails]] = 1.0
    # Pairwise complete sums: S[i, j] sums test i's values over the units that also have test j.
    # Centre each column first, so the products stay well conditioned for results like 1e-9 A.
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.where(present.sum(0) > 0, values.sum(0) / np.maximum(present.sum(0), 1), 0.0)
    x = (values - centre) * present
    n = present.T @ present
    sx = x.T @ present
    sxx = (x * x).T @ present
    sxy = x.T @ x
    with np.errstate(invalid="ignore", divide="ignore"):
        num = n * sxy - sx * sx.T
        den = np.sqrt((n * sxx - sx * sx) * (n * sxx.T - sx.T * sx.T))
        r = np.where((n >= 3) & (den > 0), num / den, np.nan)
    r = np.clip(r, -1.0, 1.0)
    mismatched = failed.T @ (1.0 - failed) + (1.0 - failed).T @ failed
    return CorrelationMatrix(catalog.drop("_test").to_arrow(), r, n.astype(np.int64), mismatched == 0)


def tsr_test_times(tables: Mapping[str, pa.Table]) -> pl.DataFrame:
    """test_num, test_name, test_time_s: each test's average execution time from the file's TSR
    records (TEST_TIM, seconds), averaged over heads and sites weighted by executions; tests
    whose TSR has no valid time are left out."""
    tsr = tables.get("TSR")
    empty = pl.DataFrame(schema={"test_num": pl.UInt32, "test_time_s": pl.Float64})
    if tsr is None or "TEST_TIM" not in tsr.column_names:
        return empty
    frame = pl.from_arrow(tsr.select(["TEST_NUM", "EXEC_CNT", "OPT_FLAG", "TEST_TIM"]))
    valid = (
        pl.col("TEST_TIM").is_not_null()
        & ((pl.col("OPT_FLAG").fill_null(0) & _TEST_TIM_INVALID) == 0)
        & pl.col("TEST_TIM").is_finite()
    )
    weight = pl.col("EXEC_CNT").fill_null(1).cast(pl.Float64).clip(lower_bound=1)
    out = (
        frame.filter(valid)
        .group_by("TEST_NUM")
        .agg(((pl.col("TEST_TIM") * weight).sum() / weight.sum()).alias("test_time_s"))
        .rename({"TEST_NUM": "test_num"})
        .with_columns(pl.col("test_num").cast(pl.UInt32))
    )
    return out if out.height else empty


def redundant_tests(
    correlation: CorrelationMatrix, threshold: float = 0.95, times: pl.DataFrame | None = None
) -> pa.Table:
    """Pairs of tests with |r| > ``threshold`` that fail the same units (both fail none counts
    as the same: neither screens anything in the sample). Columns: test_num_a, test_name_a,
    test_num_b, test_name_b, r, units (with both results), fails, time_s_a, time_s_b (TSR
    TEST_TIM of each, from ``times`` (:func:`tsr_test_times`); null when not recorded); the pairs
    sorted by the longer of the two times (what removing that one would save), then by |r|."""
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold is an |r| between 0 and 1, got {threshold!r}")
    tests = pl.from_arrow(correlation.tests)
    i, j = np.nonzero(np.triu((np.abs(np.nan_to_num(correlation.r)) > threshold) & correlation.same_fails, 1))
    nums, names = tests.get_column("test_num").to_list(), tests.get_column("test_name").to_list()
    fails = tests.get_column("fails").to_list()
    seconds = {} if times is None else dict(zip(times.get_column("test_num").to_list(),
                                                 times.get_column("test_time_s").to_list(), strict=True))  # fmt: skip
    rows = [
        {"test_num_a": nums[a], "test_name_a": names[a], "test_num_b": nums[b], "test_name_b": names[b],
         "r": float(correlation.r[a, b]), "units": int(correlation.n[a, b]), "fails": int(fails[a]),
         "time_s_a": seconds.get(nums[a]), "time_s_b": seconds.get(nums[b])}
        for a, b in zip(i.tolist(), j.tolist(), strict=True)
    ]  # fmt: skip
    schema = {"test_num_a": pl.UInt32, "test_name_a": pl.String, "test_num_b": pl.UInt32, "test_name_b": pl.String,
              "r": pl.Float64, "units": pl.Int64, "fails": pl.Int64, "time_s_a": pl.Float64, "time_s_b": pl.Float64}  # fmt: skip
    out = pl.DataFrame(rows, schema=schema)
    saved = pl.max_horizontal(pl.col("time_s_a"), pl.col("time_s_b")).fill_null(0.0)
    return out.sort([saved, pl.col("r").abs()], descending=True).to_arrow()
