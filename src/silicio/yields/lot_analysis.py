"""The analyses a product engineer reads in a lot report, as pure functions over parts and tidy tables.

* :func:`site_yield_test`: first-pass yield per test site, whether the sites differ (Pearson's
  chi-square of homogeneity) and which site differs from the others (Fisher's exact test of each
  site against the rest, Holm-adjusted).
* :func:`retest_recovery`: of the dies that failed first pass, per first-pass bin, how many were
  retested and how many passed at their last test.
* :func:`bin_switching`: dies per (first-pass bin, final bin).
* :func:`throughput`: test time per site and overall, and units per hour, tester-bound
  (PRR TEST_T) and wall-clock (MIR.START_T to MRR.FINISH_T).
* :func:`result_distributions`: histogram and box-plot numbers of the final results of given tests,
  with their limits: data for a chart.
* :func:`screened_die_map`: per final die, the first screening rule (in precedence order) that
  removed it, for colouring a wafer map by rule.

Inputs are Arrow tables or polars frames shaped like :func:`silicio.stdf.parts.parts` and
:func:`silicio.stdf.tidy` (one file, or the files of a lot concatenated in test order); outputs
are Arrow tables. "First" and "last" test of a die follow row order, or ``order_by`` columns, and
dies are matched across files on ``die_key`` (see :mod:`silicio.yields.yield_`).

References
----------
Agresti, A. *Categorical Data Analysis*, 2nd ed., Wiley (2002): sec. 3.2 (Pearson chi-square test
of independence / homogeneity, df = (I - 1)(J - 1)), sec. 3.5.1 (Fisher's exact test).
Cochran, W. G. "Some methods for strengthening the common chi-square tests", *Biometrics* 10
(1954) 417-451: the chi-square approximation wants expected counts of at least 5 (none below 1).
Holm, S. "A simple sequentially rejective multiple test procedure", *Scand. J. Statist.* 6 (1979)
65-70.
NIST/SEMATECH *e-Handbook of Statistical Methods*, sec. 7.4.5 (comparing several proportions)
and sec. 1.3.3.7 (box plot); Tukey, J. W. *Exploratory Data Analysis*, Addison-Wesley (1977)
(fences at 1.5 IQR beyond the quartiles).
Teradyne, *STDF Specification V4* (1997): PRR TEST_T ("elapsed test time in milliseconds"),
MIR.START_T ("date and time of first part tested"), MRR.FINISH_T ("date and time last part
tested"), TEST_FLG bit 0 ("alarm detected during testing").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
from scipy import stats

from silicio.i18n import C_

from .bins import site_yield_comparison
from .parametric import part_test_times, units_per_hour
from .yield_ import as_frame, check_choice, with_test_order

__all__ = [
    "RECOVERY_SCHEMA",
    "SWITCHING_SCHEMA",
    "SiteYieldTest",
    "ResultDistributions",
    "Throughput",
    "bin_switching",
    "retest_recovery",
    "screened_die_map",
    "site_yield_test",
    "result_distributions",
    "throughput",
]

_KINDS = ("hard", "soft")
_CORRECTIONS = ("holm", "bonferroni")
#: Cochran's rule: the chi-square approximation is trusted when every expected count is >= 5.
MIN_EXPECTED_COUNT = 5.0
#: Tukey's fences lie this many interquartile ranges beyond the quartiles.
TUKEY_FENCE = 1.5
#: TEST_FLG bit 0: alarm detected during testing (spec, PTR / MPR / FTR).
ALARM_FLAG = 0x01
#: How a test is named in the tidy table; MPR results are per pin.
TEST_COLUMNS = ("test_type", "test_num", "test_name", "pin")
_ROW = "__row"
_ANON = "__anon"


# --------------------------------------------------------------------------------------------
# Per-site yield


@dataclass(frozen=True)
class SiteYieldTest:
    """First-pass yield per test site and the tests of whether the sites yield alike.

    ``sites``: head, site, tested, good, yield, deviation, adjusted_residual (as
    :func:`silicio.yields.bins.site_yield_comparison`), then ``p_vs_rest`` (Fisher's exact test,
    two-sided, of the site against all other sites pooled), ``p_adjusted`` (``correction``
    applied over the sites) and ``differs`` (``p_adjusted < alpha``); the three are null when
    there is no other site to compare with.
    ``chi2``, ``dof``, ``p_value``: Pearson's test of homogeneity over all sites (None when it
    does not apply: see ``note``). ``min_expected``: the smallest expected count of the table;
    below 5 the chi-square p-value is approximate and the exact per-site tests are the ones to
    read. ``worst_head`` / ``worst_site`` / ``worst_yield``: the site of lowest first-pass
    yield (the first such in head, site order), None without parts.
    """

    sites: pa.Table
    pooled_yield: float | None
    chi2: float | None
    dof: int
    p_value: float | None
    min_expected: float | None
    worst_head: int | None
    worst_site: int | None
    worst_yield: float | None
    correction: str
    alpha: float
    note: str | None


def _adjusted_p_values(p: np.ndarray, correction: str) -> np.ndarray:
    """Family-wise adjusted p-values: Bonferroni (m p) or Holm's step-down (Holm 1979)."""
    m = p.size
    if correction == "bonferroni":
        return np.minimum(1.0, m * p)
    order = np.argsort(p, kind="stable")
    # Holm: the i-th smallest p (from 0) is multiplied by m - i, then made monotone.
    stepped = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted


def site_yield_test(
    parts: pa.Table | pl.DataFrame,
    order_by: Sequence[str] | str | None = None,
    correction: str = "holm",
    alpha: float = 0.05,
) -> SiteYieldTest:
    """Do the test sites (head, site) differ in first-pass yield, and which one does?

    Counts each die's first test on the site that ran it (retests, which may run on any site and
    fail more often, would bias a site). The k x 2 table (site x pass / fail) is tested with
    Pearson's X^2 without continuity correction, df = k - 1 (Agresti 2002, 3.2; NIST/SEMATECH
    e-Handbook 7.4.5). Each site is then compared with the others pooled by Fisher's exact test
    (Agresti 2002, 3.5.1), which stays exact with the few fails of a good lot, and the k p-values
    are adjusted for multiple comparisons by Holm's step-down method (default; Holm 1979) or
    Bonferroni's. With one site, or when every part passed or every part failed, there is
    nothing to compare: the tests are None and ``note`` says why.
    """
    check_choice("correction", correction, _CORRECTIONS)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie between 0 and 1; got {alpha!r}")
    comparison = site_yield_comparison(parts, tests="first", order_by=order_by)
    sites = pl.from_arrow(comparison.sites)
    k = sites.height
    tested = sites.get_column("tested").to_numpy().astype(np.int64)
    good = sites.get_column("good").to_numpy().astype(np.int64)
    p_rest = np.full(k, np.nan)
    p_adjusted = np.full(k, np.nan)
    note = None
    min_expected = None
    if k == 0:
        note = "no parts with a pass/fail verdict: no site yield"
    elif k == 1:
        note = "one test site: a comparison between sites does not apply"
    elif comparison.p_value is None:
        note = f"every part {'passed' if good.sum() == tested.sum() else 'failed'}: the sites cannot differ"
    else:
        pooled = comparison.pooled_yield
        min_expected = float(min((tested * pooled).min(), (tested * (1 - pooled)).min()))
        if min_expected < MIN_EXPECTED_COUNT:
            note = C_(
                "smallest expected count %(expected)s < %(minimum)s (Cochran): the chi-square p-value is "
                "approximate; read the exact per-site tests"
            ) % {"expected": f"{min_expected:.2g}", "minimum": f"{MIN_EXPECTED_COUNT:g}"}
        fails = tested - good
        for i in range(k):
            table = [[good[i], fails[i]], [good.sum() - good[i], fails.sum() - fails[i]]]
            p_rest[i] = stats.fisher_exact(table, alternative="two-sided").pvalue
        p_adjusted = _adjusted_p_values(p_rest, correction)
    compared = ~np.isnan(p_rest)

    def column(name, values, dtype):
        return pl.Series(
            name, [v if c else None for v, c in zip(values.tolist(), compared, strict=True)], dtype
        )

    sites = sites.with_columns(
        column("p_vs_rest", p_rest, pl.Float64),
        column("p_adjusted", p_adjusted, pl.Float64),
        column("differs", p_adjusted < alpha, pl.Boolean),
    )
    worst = sites.sort(["yield", "head", "site"], nulls_last=True).head(1).to_dicts()
    worst_row = worst[0] if worst else {"head": None, "site": None, "yield": None}
    return SiteYieldTest(
        sites=sites.to_arrow(),
        pooled_yield=None if comparison.pooled_yield is None else float(comparison.pooled_yield),
        chi2=comparison.chi2,
        dof=comparison.dof if comparison.p_value is not None else 0,
        p_value=comparison.p_value,
        min_expected=min_expected,
        worst_head=worst_row["head"],
        worst_site=worst_row["site"],
        worst_yield=worst_row["yield"],
        correction=correction,
        alpha=alpha,
        note=note,
    )


# --------------------------------------------------------------------------------------------
# Retests: recovery and bin switching


def _die_histories(frame: pl.DataFrame, order_by, column: str) -> pl.DataFrame:
    """One row per die: first_bin, final_bin, first_passed, final_passed, tests.

    First and last test as :func:`silicio.yields.yield_.with_test_order` decides them (order_by,
    then row order; dies matched on die_key, a null key a die of its own).
    """
    ordered = with_test_order(frame, order_by).with_row_index(_ROW)
    # A die without key is one row, its first and last test: its row number tells it apart.
    anonymous = pl.when(pl.col("die_key").is_null()).then(pl.col(_ROW)).otherwise(-1).alias(_ANON)
    keyed = ordered.with_columns(anonymous)
    keys = ["die_key", _ANON]
    first = keyed.filter(pl.col("is_first_test")).select(
        *keys, pl.col(column).alias("first_bin"), pl.col("passed").alias("first_passed")
    )
    last = keyed.filter(pl.col("is_last_test")).select(
        *keys, pl.col(column).alias("final_bin"), pl.col("passed").alias("final_passed")
    )
    tests = keyed.group_by(keys).agg(pl.len().cast(pl.Int64).alias("tests"))
    return (
        first.join(last, on=keys, how="left", nulls_equal=True)
        .join(tests, on=keys, how="left", nulls_equal=True)
        .drop(keys)
    )


RECOVERY_SCHEMA = pa.schema(
    [
        ("first_bin", pa.uint16()),
        ("failing_dies", pa.int64()),
        ("retested_dies", pa.int64()),
        ("recovered_dies", pa.int64()),
        ("recovery_rate", pa.float64()),
    ]
)


def retest_recovery(
    parts: pa.Table | pl.DataFrame, kind: str = "hard", order_by: Sequence[str] | str | None = None
) -> pa.Table:
    """Dies that failed their first test and passed at their last, per first-pass bin.

    ``parts`` holds every insertion of the lot (the parts tables of its files concatenated in
    test order, or ``order_by``); a die is retested when it has more than one test with a
    verdict, recovered when it failed the first and passed the last. Parts without a pass / fail
    verdict are left out. Columns: ``first_bin`` (hard or soft bin of the failing first test, by
    ``kind``), ``failing_dies``, ``retested_dies``, ``recovered_dies``, ``recovery_rate``
    (recovered / retested, null when none of the bin was retested); bins in ascending order.
    When no die was tested twice the table is empty (schema kept): a lot without retests has no
    recovery to show, and rows of zeros would read as a 0 % recovery.
    """
    check_choice("kind", kind, _KINDS)
    column = f"{kind}_bin"
    frame = as_frame(parts, ["die_key", "passed", column], "retest_recovery")
    frame = frame.filter(pl.col("passed").is_not_null())
    dies = _die_histories(frame, order_by, column)
    if dies.height == 0 or int(dies.get_column("tests").max()) < 2:
        return RECOVERY_SCHEMA.empty_table()
    failed = dies.filter(~pl.col("first_passed"))
    retested = pl.col("tests") > 1
    out = (
        failed.group_by("first_bin")
        .agg(
            pl.len().alias("failing_dies"),
            retested.sum().alias("retested_dies"),
            (retested & pl.col("final_passed")).sum().alias("recovered_dies"),
        )
        .with_columns(
            pl.when(pl.col("retested_dies") > 0)
            .then(pl.col("recovered_dies") / pl.col("retested_dies"))
            .alias("recovery_rate")
        )
        .sort("first_bin", nulls_last=True)
    )
    return out.to_arrow().select(RECOVERY_SCHEMA.names).cast(RECOVERY_SCHEMA)


SWITCHING_SCHEMA = pa.schema(
    [
        ("first_bin", pa.uint16()),
        ("final_bin", pa.uint16()),
        ("dies", pa.int64()),
        ("retested_dies", pa.int64()),
    ]
)


def bin_switching(
    parts: pa.Table | pl.DataFrame, kind: str = "hard", order_by: Sequence[str] | str | None = None
) -> pa.Table:
    """Dies per (first-pass bin, final bin): the bin switching matrix, in long form.

    Every die counts once, in the bin of its first test and the bin of its last test (hard or
    soft by ``kind``; all insertions count, with or without a verdict, as in
    :func:`silicio.yields.bins.bin_counts`). A die tested once lies on the diagonal; off the
    diagonal are the retests that changed bin. Columns: ``first_bin``, ``final_bin`` (null for
    a missing soft bin), ``dies``, ``retested_dies`` (of those, dies tested more than once);
    sorted by first then final bin. Pivot for display.
    """
    check_choice("kind", kind, _KINDS)
    column = f"{kind}_bin"
    frame = as_frame(parts, ["die_key", "passed", column], "bin_switching")
    dies = _die_histories(frame, order_by, column)
    out = (
        dies.group_by(["first_bin", "final_bin"])
        .agg(pl.len().alias("dies"), (pl.col("tests") > 1).sum().alias("retested_dies"))
        .sort(["first_bin", "final_bin"], nulls_last=True)
    )
    return out.to_arrow().select(SWITCHING_SCHEMA.names).cast(SWITCHING_SCHEMA)


# --------------------------------------------------------------------------------------------
# Test time and units per hour


@dataclass(frozen=True)
class Throughput:
    """Test time per site and overall, and units per hour.

    ``per_site``: head, site, parts, mean_ms, median_ms, min_ms, max_ms (parts with a TEST_T).
    ``parts``: PRRs in the table (every insertion, retests included); ``timed_parts`` those with a
    TEST_T; ``mean_ms`` / ``median_ms``: over the timed parts.
    ``touchdowns``, ``parts_per_touchdown`` (the sites tested in parallel, on average),
    ``mean_touchdown_ms`` and ``tester_uph``: from TEST_T, touchdowns inferred (see
    :func:`throughput`). ``wall_clock_s`` and ``wall_clock_uph``: from MIR.START_T to
    MRR.FINISH_T when given. None where the data does not tell; ``notes`` says why.
    """

    per_site: pa.Table
    parts: int
    timed_parts: int
    mean_ms: float | None
    median_ms: float | None
    touchdowns: int
    parts_per_touchdown: float | None
    mean_touchdown_ms: float | None
    tester_uph: float | None
    wall_clock_s: float | None
    wall_clock_uph: float | None
    notes: tuple[str, ...]


def _sessions(start_t, finish_t) -> list[tuple[int, int]]:
    starts = [start_t] if isinstance(start_t, int | float) else list(start_t)
    finishes = [finish_t] if isinstance(finish_t, int | float) else list(finish_t)
    if len(starts) != len(finishes):
        raise ValueError(
            f"start_t and finish_t must pair up, one of each per file; got {len(starts)} and {len(finishes)}"
        )
    for number, (start, finish) in enumerate(zip(starts, finishes, strict=True)):
        if start is None or finish is None or finish < start:
            raise ValueError(
                f"file {number + 1}: MIR.START_T {start!r} and MRR.FINISH_T {finish!r} do not make a test "
                f"session (expected two times in seconds, finish not before start)"
            )
    return list(zip(starts, finishes, strict=True))


def throughput(
    parts: pa.Table | pl.DataFrame,
    file_column: str | None = None,
    start_t: int | Sequence[int] | None = None,
    finish_t: int | Sequence[int] | None = None,
) -> Throughput:
    """Test time per site and overall (PRR TEST_T, ms) and units per hour, two ways.

    Tester-bound UPH = 3.6e6 x parts / sum of touchdown times (= 3600 x 1000 x sites in
    parallel / mean touchdown ms). Sites of a touchdown test in parallel, so a touchdown lasts
    as long as its slowest site: its time is the largest TEST_T of its parts, not the sum and
    not the mean. STDF has no touchdown id, so touchdowns are inferred as
    :func:`silicio.yields.parametric.units_per_hour` does, in each file's PRR order: a touchdown
    ends when a (head, site) reports a second time. This holds for testers that write the PRRs
    of a touchdown together (IG-XL, SmarTest); a handler that reloads one site before the
    others have reported would merge touchdowns and overstate UPH. TEST_T excludes handler index
    time, so this is an upper bound on what the floor achieves.

    Wall-clock UPH = 3600 x parts / (MRR.FINISH_T - MIR.START_T) summed over the files given
    (``start_t`` / ``finish_t``: one number or one per file, seconds), index time, alarms and
    pauses included; the times have 1 s resolution. ``file_column`` names the column telling
    the files of a concatenated lot apart (each file's PRRs in ``seq`` order); without it the
    table is one file and ``seq`` must not repeat.
    """
    frame = as_frame(parts, ["head", "site", "test_t"], "throughput")
    notes = []
    if file_column is None:
        if "seq" in frame.columns and frame.get_column("seq").n_unique() < frame.height:
            raise ValueError(
                "throughput: seq repeats, so the table holds several files; name the column that tells "
                "them apart with file_column="
            )
        files = [frame]
    else:
        as_frame(frame, [file_column], "throughput")
        files = frame.partition_by(file_column, maintain_order=True)
    per_site = part_test_times(frame, by=["head", "site"])
    overall = part_test_times(frame).to_pylist()[0]
    touchdowns, timed_in_touchdowns, touchdown_ms = 0, 0, 0.0
    for file_parts in files:
        uph = units_per_hour(file_parts)
        if uph["touchdowns"]:
            touchdowns += uph["touchdowns"]
            timed_in_touchdowns += uph["parts"]
            touchdown_ms += uph["mean_touchdown_ms"] * uph["touchdowns"]
    timed = int(overall["parts"])
    if timed == 0:
        notes.append("no part has a TEST_T (PRR TEST_T 0 means missing): no test time or tester UPH")
    elif timed < frame.height:
        notes.append(
            f"{frame.height - timed} of {frame.height} parts have no TEST_T and are left out of the times"
        )
    wall_s = wall_uph = None
    if (start_t is None) != (finish_t is None):
        raise ValueError(
            "throughput needs both start_t (MIR.START_T) and finish_t (MRR.FINISH_T), or neither"
        )
    if start_t is not None:
        wall_s = float(sum(finish - start for start, finish in _sessions(start_t, finish_t)))
        if wall_s > 0:
            wall_uph = 3600.0 * frame.height / wall_s
        else:
            notes.append("MRR.FINISH_T equals MIR.START_T: no wall-clock UPH")
    else:
        notes.append("no MIR.START_T / MRR.FINISH_T given: no wall-clock UPH")
    return Throughput(
        per_site=per_site,
        parts=frame.height,
        timed_parts=timed,
        mean_ms=overall["mean_ms"],
        median_ms=overall["median_ms"],
        touchdowns=touchdowns,
        parts_per_touchdown=timed_in_touchdowns / touchdowns if touchdowns else None,
        mean_touchdown_ms=touchdown_ms / touchdowns if touchdowns else None,
        tester_uph=3.6e6 * timed_in_touchdowns / touchdown_ms if touchdown_ms > 0 else None,
        wall_clock_s=wall_s,
        wall_clock_uph=wall_uph,
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------------
# Distributions of the worst tests


@dataclass(frozen=True)
class ResultDistributions:
    """Chart data for the final results of some tests.

    ``histograms``: test_type, test_num, test_name, pin, ``bin`` (0, 1, ...), ``lower``,
    ``upper`` (the bin's edges; the last bin includes its upper edge), ``count``.
    ``boxes``: one row per test: the test's keys, ``units``, ``lo_limit``, ``hi_limit``, ``n``
    (results counted), ``alarmed`` (results left out for TEST_FLG bit 0), ``min``, ``q1``,
    ``median``, ``q3``, ``max``, ``lower_fence``, ``upper_fence`` (Tukey: quartile -+ 1.5 IQR),
    ``whisker_low``, ``whisker_high`` (the most extreme results inside the fences),
    ``outliers`` (the results beyond the fences, ascending).
    """

    histograms: pa.Table
    boxes: pa.Table


def _box(values: np.ndarray) -> dict:
    """Tukey's box plot of ``values`` (quartiles by linear interpolation, Hyndman-Fan type 7)."""
    if values.size == 0:
        return {k: None for k in ("min", "q1", "median", "q3", "max", "lower_fence", "upper_fence", "whisker_low",
                                  "whisker_high")} | {"outliers": []}  # fmt: skip
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    iqr = q3 - q1
    lower_fence, upper_fence = q1 - TUKEY_FENCE * iqr, q3 + TUKEY_FENCE * iqr
    inside = values[(values >= lower_fence) & (values <= upper_fence)]
    outliers = np.sort(values[(values < lower_fence) | (values > upper_fence)])
    return {
        "min": float(values.min()), "q1": float(q1), "median": float(median), "q3": float(q3),
        "max": float(values.max()), "lower_fence": float(lower_fence), "upper_fence": float(upper_fence),
        "whisker_low": float(inside.min()), "whisker_high": float(inside.max()), "outliers": outliers.tolist(),
    }  # fmt: skip


def _edges(values: np.ndarray, bins: int | str, max_bins: int) -> np.ndarray:
    edges = np.histogram_bin_edges(values, bins=bins)
    if edges.size - 1 > max_bins:
        edges = np.histogram_bin_edges(values, bins=max_bins)
    return edges


def result_distributions(
    tidy: pa.Table | pl.DataFrame,
    tests: pa.Table | pl.DataFrame | Sequence[int],
    bins: int | str = "auto",
    max_bins: int = 100,
    exclude_alarmed: bool = True,
) -> ResultDistributions:
    """Histogram and box-plot numbers of each chosen test's final results, with its limits.

    ``tests``: a table whose columns are some of test_type, test_num, test_name, pin (e.g. the
    report's worst-tests table; the rows of ``tidy`` matching one of its rows are taken), or a
    list of test numbers. A test is (test_type, test_num, test_name, pin). Final results are
    the rows with ``is_last_test`` (each die's last execution; the caller's tidy table decides
    what "last" means across files); invalid (null) results are not counted, nor, by default,
    results flagged with an alarm (TEST_FLG bit 0), which are counted in ``alarmed``.

    Histogram edges: ``numpy.histogram_bin_edges(bins=...)``; by default "auto", numpy's
    narrower of the Sturges and Freedman-Diaconis widths (Freedman & Diaconis, *Z. Wahrsch.* 57
    (1981) 453-476), the latter kept at least half the square-root rule's width. At most
    ``max_bins`` bins whatever the rule (equal width beyond): a few far outliers over a narrow
    IQR would otherwise ask for thousands. Box plot: Tukey (1977),
    NIST/SEMATECH e-Handbook 1.3.3.7; limits are the first seen for the test.
    """
    needs = [*TEST_COLUMNS, "result", "lo_limit", "hi_limit", "units", "is_last_test"]
    frame = as_frame(tidy, needs + (["test_flg"] if exclude_alarmed else []), "result_distributions")
    if isinstance(tests, pa.Table | pl.DataFrame):
        chosen = as_frame(tests, [], "result_distributions tests")
        on = [c for c in TEST_COLUMNS if c in chosen.columns]
        if not on:
            raise ValueError(
                f"result_distributions: tests names no test column; expected some of {list(TEST_COLUMNS)}"
            )
        chosen = chosen.select(on).unique().cast({c: frame.schema[c] for c in on})
        frame = frame.join(chosen, on=on, how="semi", nulls_equal=True)
    else:
        numbers = [int(t) for t in tests]
        frame = frame.filter(pl.col("test_num").is_in(numbers))
    frame = frame.filter(pl.col("is_last_test").fill_null(False) & pl.col("result").is_not_null())
    alarm = (pl.col("test_flg") & ALARM_FLAG) != 0 if exclude_alarmed else pl.lit(False)
    frame = frame.with_columns(alarm.fill_null(False).alias("__alarmed"))
    histogram_rows, box_rows = [], []
    for key, group in frame.group_by(list(TEST_COLUMNS), maintain_order=True):
        keys = dict(zip(TEST_COLUMNS, key, strict=True))
        kept = group.filter(~pl.col("__alarmed"))
        values = kept.get_column("result").to_numpy().astype(np.float64)
        box_rows.append(
            keys
            | {
                "units": group.get_column("units").drop_nulls().first(),
                "lo_limit": group.get_column("lo_limit").drop_nulls().first(),
                "hi_limit": group.get_column("hi_limit").drop_nulls().first(),
                "n": int(values.size),
                "alarmed": group.height - kept.height,
            }
            | _box(values)
        )
        if values.size:
            edges = _edges(values, bins, max_bins)
            counts, _ = np.histogram(values, bins=edges)
            histogram_rows += [keys | {"bin": i, "lower": float(edges[i]), "upper": float(edges[i + 1]),
                                       "count": int(c)} for i, c in enumerate(counts)]  # fmt: skip
    key_schema = [(c, frame.schema[c]) for c in TEST_COLUMNS]
    histograms = pl.DataFrame(
        histogram_rows,
        schema=[
            *key_schema,
            ("bin", pl.Int64),
            ("lower", pl.Float64),
            ("upper", pl.Float64),
            ("count", pl.Int64),
        ],
        orient="row",
    )
    stat_columns = ("min", "q1", "median", "q3", "max", "lower_fence", "upper_fence", "whisker_low",
                    "whisker_high")  # fmt: skip
    box_schema = [*key_schema, ("units", pl.String), ("lo_limit", pl.Float64), ("hi_limit", pl.Float64),
                  ("n", pl.Int64), ("alarmed", pl.Int64), *((c, pl.Float64) for c in stat_columns),
                  ("outliers", pl.List(pl.Float64))]  # fmt: skip
    boxes = pl.DataFrame(box_rows, schema=box_schema, orient="row")
    order = list(TEST_COLUMNS)
    return ResultDistributions(
        histograms.sort([*order, "bin"], nulls_last=True).to_arrow(),
        boxes.sort(order, nulls_last=True).to_arrow(),
    )


# --------------------------------------------------------------------------------------------
# Map of the dies screening removed


_PART = ["lot_id", "wafer_id", "part_index"]


def screened_die_map(
    reasons: pa.Table | pl.DataFrame, parts: pa.Table | pl.DataFrame, precedence: Sequence[str]
) -> pa.Table:
    """Per final die, the screening rule that removed it first in ``precedence``: map colours.

    ``reasons``: a :class:`silicio.yields.ScreeningResult` reasons table (lot_id, wafer_id,
    part_index, rule, ...), the parts named as in ``parts``. ``parts``: the screened lot's parts
    (:func:`silicio.stdf.parts.parts` columns, part_index unique within a lot and wafer, as the
    lot report renumbers them); only final parts are kept (``is_last_test`` when the column is
    there), since screening judges only those. ``precedence``: the reason codes in the order
    that decides which rule a die is coloured by when several removed it (e.g. the recipe's
    rules in order, each rule's codes in turn); a code of the reasons missing from it is an error.

    Columns, one row per final part: lot_id, wafer_id, part_index, x, y, hard_bin, soft_bin,
    passed (verdict before screening), ``rule`` (the first code in precedence that removed the
    part; null when screening kept it) and ``rules`` (every code that removed it, in precedence).
    """
    why = as_frame(reasons, [*_PART, "rule"], "screened_die_map reasons")
    dies = as_frame(parts, [*_PART, "x", "y", "hard_bin", "soft_bin", "passed"], "screened_die_map parts")
    order = list(precedence)
    if len(set(order)) != len(order):
        raise ValueError(f"screened_die_map: precedence names a reason code twice: {order}")
    unknown = sorted(set(why.get_column("rule").drop_nulls().unique().to_list()) - set(order))
    if unknown or why.get_column("rule").null_count():
        shown = ", ".join(map(repr, unknown)) if unknown else "a null rule"
        raise ValueError(f"screened_die_map: reasons hold {shown}, not in precedence {order}")
    if "is_last_test" in dies.columns:
        dies = dies.filter(pl.col("is_last_test").fill_null(True))
    dies = dies.select(*_PART, "x", "y", "hard_bin", "soft_bin", "passed")
    repeated = dies.group_by(_PART, maintain_order=True).len().filter(pl.col("len") > 1)
    if repeated.height:
        row = repeated.row(0, named=True)
        raise ValueError(
            f"screened_die_map: final part lot {row['lot_id']!r} wafer {row['wafer_id']!r} part_index "
            f"{row['part_index']} appears {row['len']} times ({repeated.height} such parts); renumber "
            f"part_index per lot when concatenating files"
        )
    rank = {code: i for i, code in enumerate(order)}
    ranked = (
        why.select(*_PART, "rule")
        .unique()
        .with_columns(pl.col("rule").replace_strict(rank, return_dtype=pl.Int64).alias("__rank"))
        .sort([*_PART, "__rank"], nulls_last=True)
        .group_by(_PART, maintain_order=True)
        .agg(pl.col("rule").first().alias("rule"), pl.col("rule").alias("rules"))
    )
    ranked = ranked.cast({c: dies.schema[c] for c in _PART})
    orphans = ranked.join(dies, on=_PART, how="anti", nulls_equal=True)
    if orphans.height:
        row = orphans.row(0, named=True)
        raise ValueError(
            f"screened_die_map: {orphans.height} screened part(s) are not final parts of the table, e.g. lot "
            f"{row['lot_id']!r} wafer {row['wafer_id']!r} part_index {row['part_index']}"
        )
    return dies.join(ranked, on=_PART, how="left", nulls_equal=True, maintain_order="left").to_arrow()
