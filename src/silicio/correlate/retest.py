"""Retests and test time of a lot: bin switching, recovery, retest rates, repeat offenders, units
per hour and multi-site efficiency.

The recovery per first-pass bin and the first -> final bin switching are
:func:`silicio.yields.lot_analysis.retest_recovery` / :func:`~silicio.yields.lot_analysis.bin_switching`
(the lot report's), and the tester-bound units per hour is :func:`silicio.yields.lot_analysis.throughput`;
this module adds what the report does not show: where retests happen (per site, tester, handler),
the dies retested more than N times, test time and UPH per tester and site, and multi-site
efficiency.

Multi-site efficiency (MSE) of an N-site tester: MSE = 1 - (T_N - T_1) / ((N - 1) T_1), with T_1
the time of a touchdown testing one unit and T_N of one testing N; 100 % when N units take as long
as one, 0 % when they take N times as long (no gain over testing them one after the other).
Touchdowns are inferred from the PRR order as the throughput does (a touchdown ends when a site
reports a second time) and last as long as their slowest site; T_1 is measured on the touchdowns
that tested a single unit (partial touchdowns at the wafer edge or the end of a lot), so MSE is
unknown when there are none.

References
----------
Rivoir, J. "Parallel test reduces cost of test more effectively than just a cheap tester", IEEE/CPMT/
SEMI International Electronics Manufacturing Technology Symposium (2004): multi-site efficiency.
Teradyne, *STDF Specification V4* (1997): PRR TEST_T "elapsed test time in milliseconds" (0: not
recorded); MIR.NODE_NAM (tester), SDR.HAND_ID (handler or prober).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa

from silicio.yields.lot_analysis import bin_switching, retest_recovery, throughput
from silicio.yields.parametric import touchdown_ids
from silicio.yields.yield_ import as_frame, with_test_order

__all__ = ["RetestReport", "lot_retest", "multi_site_efficiency", "retest_analysis"]

#: Groups a retest rate is given for, when the parts have the column.
RATE_GROUPS = ("site", "tester", "handler")


def multi_site_efficiency(single_ms: float, multi_ms: float, sites: int) -> float | None:
    """MSE = 1 - (T_N - T_1) / ((N - 1) T_1) (Rivoir 2004); None when N < 2 or T_1 <= 0."""
    if sites < 2 or not single_ms > 0 or not math.isfinite(multi_ms):
        return None
    return 1.0 - (multi_ms - single_ms) / ((sites - 1) * single_ms)


@dataclass(frozen=True)
class RetestReport:
    """The retests and test time of one lot at one stage; see the module notes.

    ``recovery`` / ``switching``: of :func:`silicio.yields.lot_analysis.retest_recovery` and
    ``bin_switching`` (hard bins); ``switching_matrix`` the same pivoted (first bin rows, ``to <bin>``
    columns). ``retest_rates``: per group name ("site": tester, head and site; "tester";
    "handler" when known) a table of
    the group's ``insertions``, ``retest_insertions`` (not a die's first), ``retest_rate``,
    ``first_tests`` (dies first tested there) and ``first_tests_retested``. ``repeated``: dies
    retested more than ``over`` times with their bins in test order. ``site_times``: per tester,
    head and site the parts, mean / median TEST_T and the site's UPH (its parts over the time of
    the touchdowns it was in). ``testers``: per tester parts, touchdowns, parts per touchdown,
    tester-bound UPH, T_1, T_N, N and multi-site efficiency.
    """

    lot_id: str | None
    stage: str | None
    insertions: int
    dies: int
    retested_dies: int
    over: int
    recovery: pa.Table
    switching: pa.Table
    switching_matrix: pa.Table
    retest_rates: dict[str, pa.Table]
    repeated: pa.Table
    site_times: pa.Table
    testers: pa.Table
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        def rows(table: pa.Table) -> list[dict[str, Any]]:
            return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
                    for r in table.to_pylist()]  # fmt: skip

        return {
            "lot_id": self.lot_id,
            "stage": self.stage,
            "insertions": self.insertions,
            "dies": self.dies,
            "retested_dies": self.retested_dies,
            "retested_more_than": self.over,
            "recovery": rows(self.recovery),
            "switching": rows(self.switching),
            "switching_matrix": rows(self.switching_matrix),
            "retest_rates": {k: rows(v) for k, v in self.retest_rates.items()},
            "repeated": rows(self.repeated),
            "site_times": rows(self.site_times),
            "testers": rows(self.testers),
            "notes": list(self.notes),
        }


def _matrix(switching: pa.Table) -> pa.Table:
    from silicio.yields.report import switching_matrix

    return switching_matrix(switching)


def _die_ids(frame: pl.DataFrame) -> pl.Expr:
    """A die's identity for grouping: its die_key, or its own row when it has none."""
    return pl.when(pl.col("die_key").is_null()).then(-pl.col("_row") - 1).otherwise(pl.col("die_key"))


def retest_analysis(
    parts: pa.Table | pl.DataFrame, over: int = 1, lot_id: str | None = None, stage: str | None = None
) -> RetestReport:
    """The retest and test-time report of a lot's insertions (:mod:`silicio.stdf.parts` rows of its
    files, in test order; optional columns ``file``, ``tester``, ``handler``). ``over``: list the
    dies retested more than this many times."""
    if not isinstance(over, int) or over < 0:
        raise ValueError(f"over is a number of retests >= 0, got {over!r}")
    needs = [
        "die_key",
        "passed",
        "hard_bin",
        "head",
        "site",
        "test_t",
        "lot_id",
        "wafer_id",
        "x",
        "y",
        "part_id",
    ]
    frame = as_frame(parts, needs, "retest_analysis")
    notes: list[str] = []
    frame = with_test_order(frame.drop("is_first_test", "is_last_test", strict=False), None).with_row_index(
        "_row"
    )
    frame = frame.with_columns(_die_ids(frame).alias("_die"))
    frame = frame.with_columns(pl.len().over("_die").alias("_tests"))
    dies = frame.filter(pl.col("is_first_test"))
    retested = int((dies.get_column("_tests") > 1).sum())

    rates = {}
    for group in RATE_GROUPS:
        if group not in frame.columns or (
            group != "site" and frame.get_column(group).null_count() == frame.height
        ):
            continue
        # Site numbers are a tester's own: site 1 of two testers are two sites.
        tester = ["tester"] if "tester" in frame.columns else []
        keys = [*tester, "head", "site"] if group == "site" else [group]
        rates[group] = (
            frame.group_by(keys)
            .agg(
                pl.len().cast(pl.Int64).alias("insertions"),
                (~pl.col("is_first_test")).sum().cast(pl.Int64).alias("retest_insertions"),
                pl.col("is_first_test").sum().cast(pl.Int64).alias("first_tests"),
                (pl.col("is_first_test") & (pl.col("_tests") > 1))
                .sum()
                .cast(pl.Int64)
                .alias("first_tests_retested"),
            )
            .with_columns((pl.col("retest_insertions") / pl.col("insertions")).alias("retest_rate"))
            .select(
                *keys, "insertions", "retest_insertions", "retest_rate", "first_tests", "first_tests_retested"
            )
            .sort(keys, nulls_last=True)
            .to_arrow()
        )
    if "handler" not in rates:
        notes.append("no handler recorded (SDR.HAND_ID): no retest rate per handler")

    repeated = (
        frame.filter(pl.col("_tests") > over + 1)
        .group_by("_die", maintain_order=True)
        .agg(
            *(pl.col(c).first() for c in ("lot_id", "wafer_id", "x", "y", "part_id")),
            pl.len().cast(pl.Int64).alias("tests"),
            pl.col("hard_bin").cast(pl.Int64).alias("hard_bins"),
            pl.col("passed").last().alias("final_passed"),
        )
        .drop("_die")
        .sort("tests", descending=True, maintain_order=True)
    )
    site_times, testers = _test_time(frame, notes)
    switching = bin_switching(frame.drop("is_first_test", "is_last_test"), "hard")
    return RetestReport(
        lot_id=lot_id,
        stage=stage,
        insertions=frame.height,
        dies=dies.height,
        retested_dies=retested,
        over=over,
        recovery=retest_recovery(frame.drop("is_first_test", "is_last_test"), "hard"),
        switching=switching,
        switching_matrix=_matrix(switching),
        retest_rates=rates,
        repeated=repeated.to_arrow(),
        site_times=site_times,
        testers=testers,
        notes=tuple(notes),
    )


def _touchdowns(frame: pl.DataFrame) -> pl.DataFrame:
    """Each part's touchdown (inferred per file, as :func:`silicio.yields.parametric.units_per_hour`)."""
    files = frame.partition_by("file", maintain_order=True) if "file" in frame.columns else [frame]
    out, offset = [], 0
    for rows in files:
        ids = touchdown_ids(rows.get_column("head").to_numpy(), rows.get_column("site").to_numpy()) + offset
        offset = int(ids.max()) + 1 if ids.size else offset
        out.append(rows.with_columns(pl.Series("_touchdown", ids)))
    return pl.concat(out) if out else frame.with_columns(pl.lit(0, pl.Int64).alias("_touchdown"))


def _test_time(frame: pl.DataFrame, notes: list[str]) -> tuple[pa.Table, pa.Table]:
    frame = (
        frame if "tester" in frame.columns else frame.with_columns(pl.lit(None, pl.String).alias("tester"))
    )
    timed = frame.filter(pl.col("test_t").is_not_null())
    if timed.height == 0:
        notes.append(
            "no part has a TEST_T (PRR TEST_T 0 means not recorded): no test time, UPH or multi-site efficiency"
        )
    elif timed.height < frame.height:
        notes.append(
            f"{frame.height - timed.height} of {frame.height} insertions have no TEST_T and are left out"
        )
    frame = _touchdowns(frame)
    touchdowns = (
        frame.group_by("_touchdown")
        .agg(
            pl.col("tester").first(),
            pl.len().alias("units"),
            pl.col("test_t").max().cast(pl.Float64).alias("ms"),
        )
        .filter(pl.col("ms").is_not_null())
    )
    per_site = frame.filter(pl.col("test_t").is_not_null()).join(
        touchdowns.select("_touchdown", "ms"), on="_touchdown"
    )
    site_times = (
        per_site.group_by(["tester", "head", "site"])
        .agg(
            pl.len().cast(pl.Int64).alias("parts"),
            pl.col("test_t").cast(pl.Float64).mean().alias("mean_ms"),
            pl.col("test_t").cast(pl.Float64).median().alias("median_ms"),
            (3.6e6 * pl.len() / pl.col("ms").sum()).alias("uph"),
        )
        .sort(["tester", "head", "site"], nulls_last=True)
    )
    rows = []
    for (tester,), group in frame.group_by(["tester"], maintain_order=True):
        # Rows are in test order, each file's parts in PRR order: the throughput reads them so.
        steps = throughput(
            group.drop("seq", strict=False), file_column="file" if "file" in group.columns else None
        )
        times = touchdowns.filter(pl.col("tester").eq_missing(tester))
        sites = int(times.get_column("units").max()) if times.height else 0
        t1 = times.filter(pl.col("units") == 1).get_column("ms")
        tn = times.filter(pl.col("units") == sites).get_column("ms")
        t1_ms = float(t1.mean()) if t1.len() else None
        tn_ms = float(tn.mean()) if tn.len() else None
        mse = multi_site_efficiency(t1_ms, tn_ms, sites) if t1_ms is not None and tn_ms is not None else None
        if sites > 1 and t1_ms is None:
            notes.append(
                f"tester {tester}: no touchdown tested a single unit, so no T_1: multi-site efficiency unknown"
            )
        rows.append({"tester": tester, "parts": group.height, "timed_parts": steps.timed_parts,
                     "touchdowns": steps.touchdowns, "parts_per_touchdown": steps.parts_per_touchdown,
                     "mean_touchdown_ms": steps.mean_touchdown_ms, "tester_uph": steps.tester_uph,
                     "sites": sites or None, "single_site_ms": t1_ms, "multi_site_ms": tn_ms,
                     "multi_site_efficiency": mse})  # fmt: skip
    schema = {"tester": pl.String, "parts": pl.Int64, "timed_parts": pl.Int64, "touchdowns": pl.Int64,
              "parts_per_touchdown": pl.Float64, "mean_touchdown_ms": pl.Float64, "tester_uph": pl.Float64,
              "sites": pl.Int64, "single_site_ms": pl.Float64, "multi_site_ms": pl.Float64,
              "multi_site_efficiency": pl.Float64}  # fmt: skip
    return site_times.to_arrow(), pl.DataFrame(rows, schema=schema).to_arrow()


def lot_retest(lake, lot_id: str, stage: str | None = None, over: int = 1) -> RetestReport:
    """:func:`retest_analysis` of lot ``lot_id`` in the lake (a :class:`silicio.lake.query.Lake`),
    every file of the lot at ``stage`` (needed only when the lot was tested at several)."""
    from silicio.lake import queries
    from silicio.lake.queries.correlate import lot_insertions

    if "parts" not in lake.layout.tables():
        raise ValueError(f"{lake.layout.root}: the lake holds no parts yet (run `silicio ingest` first)")
    stages = queries.lot_stages(lake, lot_id)
    if not stages:
        raise ValueError(f"no lot {lot_id!r} in the lake at {lake.layout.root}")
    if stage is None:
        if len(stages) > 1:
            raise ValueError(f"lot {lot_id!r} was tested at {', '.join(stages)}; choose one with --stage")
        stage = stages[0]
    elif stage not in stages:
        raise ValueError(f"lot {lot_id!r} was not tested at stage {stage!r}; stages: {', '.join(stages)}")
    insertions = lot_insertions(lake, lot_id, stage)
    return retest_analysis(insertions, over=over, lot_id=lot_id, stage=stage)
