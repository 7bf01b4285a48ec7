"""Per-test statistics and capability (Cp, Cpk) from the tidy table; test time and units per hour.

References
----------
AIAG, *Statistical Process Control (SPC) Reference Manual*, 2nd ed. (2005), ch. IV:
Cp = (USL - LSL) / 6 sigma, Cpk = min(USL - mean, mean - LSL) / 3 sigma; with sigma the overall
standard deviation these are the manual's Pp / Ppk.

Teradyne, *STDF Specification V4* (1997), PTR / MPR / FTR TEST_FLG bit 0: "alarm detected during
testing"; such a result is left out of the statistics unless asked for.

Montgomery, D. C. *Introduction to Statistical Quality Control*, 7th ed., Wiley (2012), sec. 8.2
(process capability ratios; one-sided Cpu / Cpl when only one limit exists).

The robust sigma IQR / 1.349 is the interquartile range of a normal distribution in units of
its standard deviation (2 x 0.6745 sigma; e.g. Hoaglin, Mosteller & Tukey, *Understanding
Robust and Exploratory Data Analysis*, Wiley 1983).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import pyarrow as pa

from silicio.stdf.tidy import TEST_FLG_ALARM

from .yield_ import as_frame, check_choice

__all__ = ["IQR_PER_SIGMA", "per_test_statistics", "part_test_times", "touchdown_ids", "units_per_hour"]

#: Interquartile range of a normal distribution in standard deviations (2 * 0.67449).
IQR_PER_SIGMA = 1.349

_TEST_KEYS = ("test_type", "test_num", "test_name")
_TESTS = ("final", "first", "all")
#: The tidy column that selects each die's executions under ``tests``.
_SELECTS = {"final": "is_last_test", "first": "is_first_test"}


def _check_flags(tidy: pa.Table | pl.DataFrame, tests: str) -> None:
    """The two columns whose absence has a fix to name: ``test_flg`` and ``is_first_test``."""
    columns = set(tidy.column_names if isinstance(tidy, pa.Table) else getattr(tidy, "columns", ()))
    if "test_flg" not in columns:
        raise ValueError("per_test_statistics needs the tidy column test_flg to leave alarmed results "
                         "(TEST_FLG bit 0) out and count them; select it with the results")  # fmt: skip
    if tests == "first" and "is_first_test" not in columns:
        raise ValueError("per_test_statistics(tests='first') needs is_first_test (each die's first insertion): "
                         "add it with silicio.yields.consolidate_retests_tidy(tidy, parts)")  # fmt: skip


def per_test_statistics(
    tidy: pa.Table | pl.DataFrame,
    by: Sequence[str] | str = (),
    tests: str = "final",
    alarms: str = "exclude",
) -> pa.Table:
    """Count, location, spread, capability and fails of each test's results.

    ``tidy`` is a tidy table (:func:`silicio.stdf.tidy`, one file or many). A test is
    (test_type, test_num, test_name) — and pin, for MPR rows — within each group of ``by``
    (e.g. ``("lot_id",)``). Which executions count, by ``tests``:

    * "final" (default): those of each die's last insertion (``is_last_test``). A retest
      supersedes the whole earlier insertion, so a die whose retest skipped the test has no
      final result for it. Over several files, :func:`~silicio.yields.consolidate_retests_tidy`
      sets ``is_last_test`` across them first.
    * "first": those of each die's first insertion (first pass); needs ``is_first_test``,
      which :func:`~silicio.yields.consolidate_retests_tidy` adds.
    * "all": every execution of every insertion.

    Results flagged "alarm detected during testing" (TEST_FLG bit 0) are not trustworthy and
    are left out (``alarms="exclude"``, default) or kept (``alarms="include"``); either way
    ``alarm_count`` counts them. Invalid results (null) are not counted in the statistics;
    ``fail_count`` counts the executions kept that are flagged failed.

    Columns: keys, ``units``, ``lo_limit``, ``hi_limit`` (the first limits seen), ``count``,
    ``mean``, ``median``, ``std`` (sample, n - 1), ``robust_sigma`` (IQR / 1.349), ``cp``
    (needs both limits), ``cpk`` (the one-sided index when only one limit exists: Montgomery
    8.2), ``fail_count``, ``alarm_count`` (alarmed executions among those ``tests`` selects) and
    ``executions`` (executions selected, alarmed ones included). Capability is null when std
    is 0 or undefined.
    """
    keys = [by] if isinstance(by, str) else list(by)
    check_choice("tests", tests, _TESTS)
    check_choice("alarms", alarms, ("exclude", "include"))
    _check_flags(tidy, tests)
    needs = [*_TEST_KEYS, "pin", "result", "passed", "lo_limit", "hi_limit", "units", "test_flg", *keys]
    frame = as_frame(tidy, needs + ([_SELECTS[tests]] if tests != "all" else []), "per_test_statistics")
    if tests != "all":
        frame = frame.filter(pl.col(_SELECTS[tests]))
    alarmed = ((pl.col("test_flg") & TEST_FLG_ALARM) != 0).fill_null(False)  # no TEST_FLG: no alarm
    if alarms == "exclude":  # an alarmed result and verdict read as absent (null): not counted
        frame = frame.with_columns(pl.when(~alarmed).then(pl.col(c)).alias(c) for c in ("result", "passed"))
    group = [*keys, *_TEST_KEYS, "pin"]
    r = pl.col("result")
    stats = frame.group_by(group).agg(
        pl.col("units").drop_nulls().first(),
        pl.col("lo_limit").drop_nulls().first(),
        pl.col("hi_limit").drop_nulls().first(),
        r.count().cast(pl.Int64).alias("count"),
        r.mean().alias("mean"),
        r.median().alias("median"),
        r.std(ddof=1).alias("std"),
        ((r.quantile(0.75, "linear") - r.quantile(0.25, "linear")) / IQR_PER_SIGMA).alias("robust_sigma"),
        (pl.col("passed") == False).sum().cast(pl.Int64).alias("fail_count"),  # noqa: E712 (null: no verdict)
        alarmed.sum().cast(pl.Int64).alias("alarm_count"),
        pl.len().cast(pl.Int64).alias("executions"),
    )
    usl, lsl, mean, sigma = pl.col("hi_limit"), pl.col("lo_limit"), pl.col("mean"), pl.col("std")
    usable = sigma.is_not_null() & (sigma > 0)
    upper, lower = (usl - mean) / (3 * sigma), (mean - lsl) / (3 * sigma)
    stats = stats.with_columns(
        pl.when(usable & usl.is_not_null() & lsl.is_not_null()).then((usl - lsl) / (6 * sigma)).alias("cp"),
        pl.when(usable).then(pl.min_horizontal(upper, lower)).alias("cpk"),  # min skips a missing side
    )
    cols = [*group, "units", "lo_limit", "hi_limit", "count", "mean", "median", "std", "robust_sigma", "cp", "cpk",
            "fail_count", "alarm_count", "executions"]  # fmt: skip
    return stats.select(cols).sort(group, nulls_last=True).to_arrow()


def part_test_times(parts: pa.Table | pl.DataFrame, by: Sequence[str] | str = ()) -> pa.Table:
    """Test time per part from PRR TEST_T (ms): count, mean, median, min, max per group of ``by``."""
    keys = [by] if isinstance(by, str) else list(by)
    frame = as_frame(parts, ["test_t", *keys], "part_test_times").filter(pl.col("test_t").is_not_null())
    t = pl.col("test_t").cast(pl.Float64)
    aggs = [pl.len().cast(pl.Int64).alias("parts"), t.mean().alias("mean_ms"), t.median().alias("median_ms"),
            t.min().alias("min_ms"), t.max().alias("max_ms")]  # fmt: skip
    if not keys:
        return frame.select(aggs).to_arrow()
    return frame.group_by(keys).agg(aggs).sort(keys, nulls_last=True).to_arrow()


def touchdown_ids(head: np.ndarray, site: np.ndarray) -> np.ndarray:
    """Touchdown number of each PRR, in file order: a new touchdown starts when a (head, site)
    already seen in the current one reports again."""
    ids = np.empty(head.size, np.int64)
    seen: set[tuple[int, int]] = set()
    touchdown = 0
    for i, slot in enumerate(zip(head.tolist(), site.tolist(), strict=True)):
        if slot in seen:
            touchdown += 1
            seen.clear()
        seen.add(slot)
        ids[i] = touchdown
    return ids


def units_per_hour(parts: pa.Table | pl.DataFrame) -> dict[str, float | int | None]:
    """Tester throughput of one file's parts, in file (PRR) order, from PRR TEST_T.

    Assumptions, since STDF records neither touchdowns nor handler time: the sites of a
    multi-site touchdown test in parallel and report their PRRs one after the other; a
    touchdown ends when a (head, site) reports a second time; its duration is the longest
    TEST_T of its parts. UPH = 3.6e6 x parts / total touchdown ms. Handler index time is not
    in TEST_T, so this is the tester-bound UPH, an upper bound on the floor's.

    Returns parts, touchdowns, parts_per_touchdown, mean_touchdown_ms, uph (None when no
    part has a test time).
    """
    frame = as_frame(parts, ["head", "site", "test_t"], "units_per_hour")
    if "seq" in frame.columns:
        frame = frame.sort("seq", maintain_order=True)
    ids = touchdown_ids(frame.get_column("head").to_numpy(), frame.get_column("site").to_numpy())
    timed = (
        frame.with_columns(pl.Series("touchdown", ids))
        .group_by("touchdown")
        .agg(pl.len().alias("parts"), pl.col("test_t").max().alias("ms"))
    )
    timed = timed.filter(pl.col("ms").is_not_null())
    n_parts = int(timed.get_column("parts").sum()) if timed.height else 0
    total_ms = float(timed.get_column("ms").sum()) if timed.height else 0.0
    return {
        "parts": n_parts,
        "touchdowns": timed.height,
        "parts_per_touchdown": n_parts / timed.height if timed.height else None,
        "mean_touchdown_ms": total_ms / timed.height if timed.height else None,
        "uph": 3.6e6 * n_parts / total_ms if total_ms > 0 else None,
    }
