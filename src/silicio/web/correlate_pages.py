"""Correlation and retest pages of a lot, declared once (:mod:`silicio.web.declare`):

* retests: what its retests recovered, how bins switched from first to final test, which sites,
  testers and handlers retest most, test time and units per hour (:func:`silicio.correlate.lot_retest`);
* redundant tests: pairs of tests whose final results correlate beyond a threshold and fail the
  same units, with the test time each costs (TSR): candidates for test-time reduction
  (:func:`silicio.correlate.redundant_tests`).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import polars as pl
from fastapi import Query
from pydantic import BaseModel, Field

from silicio.correlate import correlation_matrix, lot_retest, redundant_tests, tsr_test_times
from silicio.lake.queries import lot_stages
from silicio.lake.queries.correlate import lot_final_results, lot_test_times

from . import models as m
from .api import Stage
from .dashboard import Dashboard, NotFound
from .declare import Page
from .links import lot_url


class RecoveryRow(m.Row):
    first_bin: int = m.ident("First hard bin")
    failing_dies: int = m.integer("Dies failing first")
    retested_dies: int = m.integer("Retested")
    recovered_dies: int = m.integer("Passed at retest")
    recovery_rate: float | None = m.percent("Recovery", None)


class SwitchRow(m.Row):
    first_bin: int = m.ident("First hard bin")
    final_bin: int = m.ident("Final hard bin")
    dies: int = m.integer("Dies")
    retested_dies: int = m.integer("Retested")


class RetestRateRow(m.Row):
    group: str = m.text("Grouped by")
    name: str = m.text("Tester / site / handler")
    insertions: int = m.integer("Insertions")
    retest_insertions: int = m.integer("Retest insertions")
    retest_rate: float | None = m.percent("Retest rate", None)
    first_tests: int = m.integer("First tests")
    first_tests_retested: int = m.integer("First tests retested")


class SiteTimeRow(m.Row):
    tester: str | None = m.text("Tester", None)
    head: int | None = m.ident("Head", None)
    site: int | None = m.ident("Site", None)
    parts: int = m.integer("Parts")
    mean_ms: float | None = m.number("Mean test time (ms)", None)
    median_ms: float | None = m.number("Median test time (ms)", None)
    uph: float | None = m.number("Units per hour", None)


class TesterRow(m.Row):
    tester: str | None = m.text("Tester", None)
    parts: int = m.integer("Parts")
    touchdowns: int = m.integer("Touchdowns")
    parts_per_touchdown: float | None = m.number("Parts per touchdown", None)
    tester_uph: float | None = m.number("Units per hour", None)
    sites: int | None = m.integer("Sites", None)
    multi_site_efficiency: float | None = m.percent("Multi-site efficiency", None)


class RepeatedRow(m.Row):
    wafer_id: str | None = m.text("Wafer", None)
    x: int | None = m.ident("X", None)
    y: int | None = m.ident("Y", None)
    part_id: str | None = m.text("Part", None)
    tests: int = m.integer("Insertions")
    hard_bins: str = m.text("Hard bins in test order")
    final_passed: bool | None = m.text("Passed at last", None)


class RetestPage(BaseModel):
    lot_id: str
    stage: str
    lot_url: str
    insertions: int = Field(description="part insertions of the lot at this stage")
    dies: int = Field(description="distinct dies (or units) tested")
    retested_dies: int
    recovered_dies: int = Field(description="dies failing their first insertion that pass at their last")
    recovery: list[RecoveryRow]
    switching: list[SwitchRow]
    retest_rates: list[RetestRateRow]
    site_times: list[SiteTimeRow]
    testers: list[TesterRow]
    repeated: list[RepeatedRow]
    notes: list[str]


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _rows(table, row_type: type[m.Row]) -> list:
    names = set(row_type.model_fields) - {"url"}
    return [row_type(**{k: _finite(v) for k, v in r.items() if k in names}) for r in table.to_pylist()]


def retest(data: Dashboard, lot_id: str, stage: Stage = None) -> RetestPage:
    def compute(db) -> RetestPage:
        if db is None:
            raise NotFound("the lake is empty")
        try:
            report = lot_retest(db, lot_id, stage)
        except ValueError as exc:  # no such lot, or a lot of several stages without one chosen
            raise NotFound(str(exc)) from None
        rates = []
        for group, table in report.retest_rates.items():
            for row in table.to_pylist():
                if group == "site":
                    name = f"{row.get('tester') or '?'} head {row.get('head')} site {row.get('site')}"
                else:
                    name = str(row.get(group) or "not recorded")
                rates.append(RetestRateRow(group=group, name=name, **{k: _finite(row[k]) for k in (
                    "insertions", "retest_insertions", "retest_rate", "first_tests", "first_tests_retested")}))  # fmt: skip
        repeated = [
            RepeatedRow(
                wafer_id=r.get("wafer_id"),
                x=r.get("x"),
                y=r.get("y"),
                part_id=r.get("part_id"),
                tests=r["tests"],
                hard_bins=" > ".join(map(str, r["hard_bins"] or [])),
                final_passed=r.get("final_passed"),
            )  # fmt: skip
            for r in report.repeated.to_pylist()
        ]
        recovery = _rows(report.recovery, RecoveryRow)
        return RetestPage(
            lot_id=lot_id,
            stage=report.stage,
            lot_url=lot_url(lot_id, report.stage),
            insertions=report.insertions,
            dies=report.dies,
            retested_dies=report.retested_dies,
            recovered_dies=sum(r.recovered_dies for r in recovery),
            recovery=recovery,
            switching=_rows(report.switching, SwitchRow),
            retest_rates=rates,
            site_times=_rows(report.site_times, SiteTimeRow),
            testers=_rows(report.testers, TesterRow),
            repeated=repeated,
            notes=list(report.notes),
        )

    return data._call(("retest", lot_id, stage), compute)


class RedundantPair(m.Row):
    test_num_a: int = m.ident("Test A")
    test_name_a: str | None = m.text("Name A", None)
    test_num_b: int = m.ident("Test B")
    test_name_b: str | None = m.text("Name B", None)
    r: float = m.number("r")
    units: int = m.integer("Units with both")
    fails: int = m.integer("Units failing")
    time_s_a: float | None = m.number("Time A (s)", None)
    time_s_b: float | None = m.number("Time B (s)", None)


class RedundantTestsPage(BaseModel):
    lot_id: str
    stage: str
    lot_url: str
    threshold: float = Field(
        description="|r| above which a pair is listed (when it also fails the same units)"
    )
    tests: int = Field(description="parametric tests correlated")
    units: int = Field(description="units (final results of each die) they were correlated on")
    timed_tests: int = Field(description="tests with a test time in the lot's TSR records")
    pairs: list[RedundantPair]


Threshold = Annotated[float, Query(ge=0.5, lt=1.0, description="|r| above which two tests are redundant")]


def redundant(
    data: Dashboard, lot_id: str, stage: Stage = None, threshold: Threshold = 0.95
) -> RedundantTestsPage:
    def compute(db) -> RedundantTestsPage:
        if db is None:
            raise NotFound("the lake is empty")
        stages = lot_stages(db, lot_id)
        if not stages:
            raise NotFound(f"no lot {lot_id!r} in the lake")
        chosen = stage or stages[0]
        if chosen not in stages:
            raise NotFound(f"lot {lot_id!r} was not tested at stage {chosen!r}; stages: {', '.join(stages)}")
        try:
            final = lot_final_results(db, lot_id, chosen).rename({"file_sha256": "file"})
        except ValueError as exc:
            raise NotFound(str(exc)) from None
        matrix = correlation_matrix(final)
        times = tsr_test_times({"TSR": lot_test_times(db, lot_id, chosen)})
        pairs = redundant_tests(matrix, threshold, times)
        units = final.filter(pl.col("test_type") == "P").select("file", "part_index").unique().height
        return RedundantTestsPage(
            lot_id=lot_id, stage=chosen, lot_url=lot_url(lot_id, chosen), threshold=threshold,
            tests=matrix.tests.num_rows, units=units, timed_tests=times.height,
            pairs=_rows(pairs, RedundantPair),
        )  # fmt: skip

    return data._call(("redundant", lot_id, stage, threshold), compute)


PAGES = (
    Page(path="/lot/{lot_id}/retest", compute=retest, template="retest.html", access="internal",
         summary="A lot's retests: recovery per bin, first-to-final bin switching, retest rates, test time",
         csv_name="{lot_id}-retest"),
    Page(path="/lot/{lot_id}/redundant-tests", compute=redundant, template="redundant_tests.html",
         access="internal", summary="Redundant tests of a lot: correlated pairs failing the same units, with their test time",
         csv_name="{lot_id}-redundant-tests"),
)  # fmt: skip
