"""Control charts and capability of a test (``/spc/test/{test_num}``) and gage R&R studies
(``/gage``), with their JSON twins under ``/api`` and a CSV of every table.

What is charted (the choice is the page's, stated on it):

* default: one point per wafer, the between/within chart ``imr-s`` (``imr-r`` when wafers average
  10 results or fewer), as :func:`silicio.spc.default_subgroup_chart` picks it (the CLI too); ``imr`` when
  no wafer has 2 results. A chart of every die flagged 15,038 of 84,842 points of a stable demo
  test: its moving-range sigma leaves out the wafer-to-wafer spread.
* ``chart=imr-r`` / ``imr-s``: the wafer means as individuals (I-MR limits: the wafer-to-wafer
  spread included) with the R or s chart of each wafer's dies; the page shows the means and the
  within chart, and lists the moving-range points beyond their limits among the violations.
* ``chart=imr``: one point per die, its final result (its last insertion across the
  lot's files; none when that retest did not run the test), in test order (files by start time,
  then the order in the file). Within sigma: moving range.
* ``chart=xbar-r`` / ``xbar-s``: one subgroup per wafer (lot and wafer; per lot for parts outside
  wafers), its dies' final results; the X-bar chart plots the wafer means, the R or s chart
  their spread. Subgroups of fewer than 2 results are left out (a note says so). Within sigma of
  the capability: R-bar/d2 for X-bar-R, s-bar/c4 for X-bar-s, as the chart estimates it.

Phase I limits come from the first ``baseline`` points or subgroups (default: the first
:data:`DEFAULT_BASELINE` of the chart, or all there are), phase II applies them to the rest
(:func:`silicio.spc.apply`). The run rules (``rules=we`` or ``nelson``) are checked on the
location chart (individuals, X-bar); on the dispersion chart (MR, R, s) a point beyond its limits
is reported as ``beyond-limits``. Capability (Cp, Cpk, Pp, Ppk with 95 % intervals and an
Anderson-Darling normality flag) is over every charted result, against the test's spec limits.

Gage studies are CSV files in ``DATA/metrology`` (:attr:`silicio.datadir.DataDir.metrology`;
columns ``part``, ``appraiser``, ``value``; one row per measurement, trials in row order), computed by :func:`silicio.metrology.gage_rr_anova`
or :func:`~silicio.metrology.gage_rr_average_range`; ``/gage/{name}/report`` is the printable
report of :mod:`silicio.metrology.report`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import polars as pl
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from silicio.datadir import DataDir
from silicio.i18n import N_
from silicio.lake.queries.spc import last_results

from . import links
from . import models as m
from .access import access
from .api import Product, TestName, TestNumberPath
from .dashboard import Dashboard, NotFound, one_test
from .declare import DashboardData, Nav, Page
from .tracedata import BadQuery

#: Points a control chart draws at most, and violations a page lists at most: one demo test has
#: 87,565 dies, and its I-MR page drawn point by point was 40 MB of HTML (65,031 Nelson violations
#: on another: 14 MB more). Limits, rules and capability still use every point.
MAX_CHART_POINTS = 4000
MAX_LISTED_VIOLATIONS = 1000
#: Phase I points (I-MR) or subgroups (X-bar) when the request names no baseline.
DEFAULT_BASELINE = {"imr": 100, "xbar-r": 20, "xbar-s": 20, "imr-r": 20, "imr-s": 20}
CHARTS = ("imr", "xbar-r", "xbar-s", "imr-r", "imr-s")
# A file name of the metrology folder: no path, at most 100 characters (a longer one was an OSError).
_STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

router = APIRouter(include_in_schema=False)

ChartKind = Annotated[
    str | None,
    Query(
        pattern="^(imr|xbar-r|xbar-s|imr-r|imr-s)$",
        description="imr (per part), xbar-r, xbar-s, imr-r or imr-s (per wafer); default: imr-s or imr-r per wafer",
    ),
]
RuleSet = Annotated[
    str, Query(pattern="^(we|nelson)$", description="run rules: we (Western Electric) or nelson")
]
Baseline = Annotated[
    int | None,
    Query(ge=2, le=2**31 - 1, description="phase I points (I-MR) or subgroups (X-bar); default 100 / 20"),
]
Method = Annotated[str, Query(pattern="^(anova|average-range)$", description="anova or average-range")]
# Finite: "inf" and "nan" parse as floats but are no tolerance.
Tolerance = Annotated[
    float | None, Query(gt=0, allow_inf_nan=False, description="USL - LSL, for % tolerance (finite, > 0)")
]


def _clean(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# ------------------------------------------------------------------------------------------------
# Models


class ChartPoint(m.Row):
    point: int = m.ident("Point")
    subgroup: str = m.text("Subgroup")
    size: int = m.integer("Results")
    phase: str = m.text("Phase")
    value: float | None = m.number("Value", None)
    center: float | None = m.number("Centre", None)
    lcl: float | None = m.number("LCL", None)
    ucl: float | None = m.number("UCL", None)
    rules: list[str] = m.text("Rules", [])


class Violation(m.Row):
    chart: str = m.text("Chart")
    rule: str = m.text("Rule")
    description: str = m.text("Pattern")
    point: int = m.ident("Point")
    subgroup: str = m.text("Subgroup")
    value: float | None = m.number("Value", None)


class CapabilityIndex(m.Row):
    index: str = m.text("Index")
    sigma: str = m.text("Sigma")
    estimate: float | None = m.capability("Estimate", None)
    lower: float | None = m.capability("Lower 95%", None)
    upper: float | None = m.capability("Upper 95%", None)


class CapabilitySummary(BaseModel):
    n: int
    mean: float | None
    sigma_within: float | None
    sigma_within_method: str
    sigma_overall: float | None
    lsl: float | None
    usl: float | None
    confidence: float
    normality_method: str | None
    normality_statistic: float | None
    normality_p_value: float | None
    normal: bool | None = Field(description="False when the normality test rejects at 5 %")


class SpcPage(BaseModel):
    test_num: int
    test_name: str | None
    names: list[str]
    units: str | None
    product: str | None
    products: list[str]
    chart: str = Field(description="imr, xbar-r, xbar-s, imr-r or imr-s")
    rules: str = Field(description="we or nelson")
    rule_codes: list[str]
    baseline: int = Field(description="phase I points or subgroups")
    subgrouping: str = Field(description="what a point of the chart is")
    location_chart: str
    dispersion_chart: str
    center: float = Field(description="phase I process mean")
    sigma: float = Field(description="phase I process sigma (within)")
    points: list[ChartPoint] = Field(
        description=f"the location chart (individuals or X-bar); past {MAX_CHART_POINTS:,} points a sample "
        "that keeps each run's lowest and highest (see notes)"
    )
    dispersion: list[ChartPoint] = Field(description="the dispersion chart (MR, R or s), sampled alike")
    charted_points: int = Field(description="points of each chart, all used by limits, rules and capability")
    violations: list[Violation] = Field(description=f"the first {MAX_LISTED_VIOLATIONS:,} by point")
    violation_counts: dict[str, int] = Field(description="violations of each chart and rule, all of them")
    capability: CapabilitySummary | None
    indices: list[CapabilityIndex]
    histogram: m.Histogram
    test_page_url: str
    notes: list[str] = Field(default_factory=list)


class GageComponent(m.Row):
    source: str = m.text("Source")
    sigma: float | None = m.number("Std dev")
    study_variation: float | None = m.number("Study var (6σ)")
    percent_study_variation: float | None = m.number("% study var")
    percent_contribution: float | None = m.number("% contribution")
    percent_tolerance: float | None = m.number("% tolerance", None)


class GageAnovaRow(m.Row):
    source: str = m.text("Source")
    df: int = m.integer("DF")
    ss: float | None = m.number("SS")
    ms: float | None = m.number("MS")
    f: float | None = m.number("F", None)
    p: float | None = m.number("p", None)


class GageStudyRow(m.Row):
    name: str = m.text("Study")
    parts: int | None = m.integer("Parts", None)
    appraisers: int | None = m.integer("Appraisers", None)
    trials: int | None = m.integer("Trials", None)
    percent_grr: float | None = m.number("%GRR", None)
    ndc: int | None = m.integer("ndc", None)
    verdict: str = m.text("Verdict")


class GageIndexPage(BaseModel):
    folder: str = Field(description="where the studies are read from")
    studies: list[GageStudyRow]
    notes: list[str] = Field(default_factory=list)


class GageStudyPage(BaseModel):
    name: str
    method: str
    tolerance: float | None
    parts: int
    appraisers: int
    trials: int
    percent_grr: float
    ndc: int | None
    verdict: str
    pooled: bool = Field(description="interaction pooled with repeatability (ANOVA)")
    components: list[GageComponent]
    anova: list[GageAnovaRow]
    report_url: str


# ------------------------------------------------------------------------------------------------
# Control charts and capability


def _spec_limit(column: pl.Series) -> float | None:
    """The test's usual limit: the most common one among its results."""
    values = column.drop_nulls().filter(column.drop_nulls().is_finite())
    if values.is_empty():
        return None
    return float(values.mode().sort()[0])


def chart_sample(values: np.ndarray, flagged: np.ndarray, limit: int | None = None) -> np.ndarray:
    """Indices (sorted) of the points a chart of ``values`` draws: all of them when they are at most
    ``limit``; else, of each run of consecutive points, its lowest and its highest (the chart's
    envelope: no excursion disappears), the first and the last point, and of the ``flagged``
    indices (rule violations) at most a quarter of ``limit``, evenly spread. At most ``limit`` + 2
    (``limit``: default :data:`MAX_CHART_POINTS`)."""
    limit = MAX_CHART_POINTS if limit is None else limit
    n = values.size
    if n <= limit:
        return np.arange(n)
    runs = max(1, (limit * 3) // 8)  # two points a run: three quarters of the limit
    run = -(-n // runs)
    padded = np.full(runs * run, np.nan)
    padded[:n] = values
    padded = padded.reshape(runs, run)
    starts = np.arange(runs) * run
    lowest = starts + np.argmin(np.where(np.isnan(padded), np.inf, padded), axis=1)
    highest = starts + np.argmax(np.where(np.isnan(padded), -np.inf, padded), axis=1)
    shown_flags = flagged
    if flagged.size > limit // 4:
        shown_flags = flagged[np.linspace(0, flagged.size - 1, limit // 4).round().astype(np.int64)]
    kept = np.unique(np.concatenate([lowest, highest, shown_flags, [0, n - 1]]).astype(np.int64))
    return kept[kept < n]


def _chart_points(chart, labels: list[str], sizes: np.ndarray, baseline: int,
                  flagged: dict[int, list[str]], shown: np.ndarray) -> list[ChartPoint]:  # fmt: skip
    return [
        ChartPoint(
            point=i,
            subgroup=labels[i],
            size=int(sizes[i]),
            phase="I" if i < baseline else "II",
            value=_clean(chart.statistic[i]),
            center=_clean(chart.center[i]),
            lcl=_clean(chart.lcl[i]),
            ucl=_clean(chart.ucl[i]),
            rules=flagged.get(i, []),
        )  # fmt: skip
        for i in shown.tolist()
    ]


def _default_chart(labels: list[str]) -> str:
    """One point per wafer with :func:`silicio.spc.default_subgroup_chart`; per die when fewer
    than 2 wafers have 2 results."""
    from silicio import spc

    counts = pl.Series("subgroup", labels).value_counts()["count"]
    counts = counts.filter(counts >= 2)
    if counts.len() < 2:
        return "imr"
    return spc.default_subgroup_chart(counts.to_numpy()).replace("_", "-")


def spc_results(db, test_num: int, product: str | None, name: str | None) -> tuple[pl.DataFrame, list[str]]:
    """The test's final results per die (last insertions), finite, in test order, and the names the
    number carries."""
    return one_test(last_results(db, test_num, product), test_num, product, name)


def subgroup_labels(results: pl.DataFrame) -> list[str]:
    """A wafer's subgroup label, ``LOT/WAFER`` (the lot alone for parts outside wafers)."""
    return [
        lot if wafer is None else f"{lot}/{wafer}"
        for lot, wafer in zip(results["lot_id"].to_list(), results["wafer_id"].to_list(), strict=True)
    ]


def _chart(test_num: int, kind: str, values: np.ndarray, **params):
    """Phase I limits from the first ``baseline`` points (X-bar: wafers, in test order) applied to
    every point (phase II), through the one SPC entry point :func:`silicio.spc.chart`."""
    from silicio import spc

    try:
        return spc.chart(kind, values, **params)
    except ValueError as exc:
        raise BadQuery(f"test {test_num}: {exc}") from None


def spc_page(db, test_num: int, product: str | None, name: str | None, chart: str, rules: str,
             baseline: int | None, histogram_bins: int = 40) -> SpcPage:  # fmt: skip
    from silicio import spc

    if db is None or "tidy" not in db.tables:
        raise NotFound(f"no test {test_num}: the lake holds no test results")
    results, names = spc_results(db, test_num, product, name)
    values = results["result"].to_numpy().astype(np.float64)
    notes: list[str] = []
    if chart is None:
        chart = _default_chart(subgroup_labels(results))
    if chart == "imr":
        labels = [f"{lab} #{i + 1}" for i, lab in enumerate(subgroup_labels(results))]
        available, what = values.size, "results"
    else:
        labels_all = np.asarray(subgroup_labels(results), dtype=object)
        counts = pl.Series("subgroup", labels_all.tolist()).value_counts()
        small = set(counts.filter(pl.col("count") < 2)["subgroup"].to_list())
        if small:
            keep = np.array([lab not in small for lab in labels_all])
            values, labels_all = values[keep], labels_all[keep]
            notes.append(
                f"{len(small)} wafer(s) with fewer than 2 results left out: {', '.join(sorted(small))}"
            )
        order = list(dict.fromkeys(labels_all.tolist()))
        available, what = len(order), "wafers"
    if available < 2:
        raise BadQuery(f"test {test_num} has {available} {what}: a control chart needs at least 2")
    if baseline is None:
        baseline = min(DEFAULT_BASELINE[chart], available)
    elif baseline > available:
        raise BadQuery(f"baseline {baseline} is more than the {available} {what} of test {test_num}")
    if chart == "imr":
        limits, (location, dispersion) = _chart(test_num, chart, values, baseline=baseline)
        sizes = np.ones(values.size, dtype=int)
        subgrouping = N_("one point per die: its final result, in test order")
        within = {}
    else:
        limits, charts = _chart(test_num, chart, values, subgroup=labels_all, baseline=baseline)
        # I-MR-R/S: the wafer means and the within chart; the means' MR chart joins the violations.
        location, dispersion = charts[0], charts[-1]
        between_mr = charts[1] if len(charts) == 3 else None
        sizes = spc.subgroups(values, subgroup=labels_all).size
        labels = order
        subgrouping = N_("one subgroup per wafer (lot/wafer): its dies' final results")
        if between_mr is not None:
            subgrouping = N_(
                "one point per wafer (lot/wafer): the mean of its dies' final results, limits from the wafer-to-wafer moving range"
            )
        within = {"subgroup": labels_all, "within_method": "range" if chart.endswith("-r") else "sd"}
    codes = spc.select_rules(rules)
    found = location.rules(codes)
    flagged: dict[int, list[str]] = {}
    # (point, chart, rule) of every violation; the page lists the first MAX_LISTED_VIOLATIONS.
    broken: list[tuple[int, str, str]] = []
    for code, where in found.points.items():
        for i in where.tolist():
            flagged.setdefault(i, []).append(code)
            broken.append((i, location.name, code))
    beyond = {i: ["beyond-limits"] for i in dispersion.out_of_control.tolist()}
    broken += [(i, dispersion.name, "beyond-limits") for i in beyond]
    if chart in ("imr-r", "imr-s"):
        broken += [(i, between_mr.name, "beyond-limits") for i in between_mr.out_of_control.tolist()]
    broken.sort()
    violation_counts: dict[str, int] = {}
    for _, chart_name, code in broken:
        violation_counts[f"{chart_name} {code}"] = violation_counts.get(f"{chart_name} {code}", 0) + 1
    statistic = {location.name: location.statistic, dispersion.name: dispersion.statistic}
    if chart in ("imr-r", "imr-s"):
        statistic[between_mr.name] = between_mr.statistic
    violations = [
        Violation(chart=chart_name, rule=code, point=i, subgroup=labels[i], value=_clean(statistic[chart_name][i]),
                  description=spc.RULES[code].description if code in spc.RULES else "one point beyond its control limits")
        for i, chart_name, code in broken[:MAX_LISTED_VIOLATIONS]
    ]  # fmt: skip
    if len(broken) > MAX_LISTED_VIOLATIONS:
        notes.append(f"{len(broken):,} violations: the first {MAX_LISTED_VIOLATIONS:,} (by point) are listed, "
                     "the count of each rule is of all of them")  # fmt: skip
    shown_location = chart_sample(location.statistic, np.array(sorted(flagged), dtype=np.int64))
    shown_dispersion = chart_sample(dispersion.statistic, np.array(sorted(beyond), dtype=np.int64))
    if shown_location.size < location.statistic.size:
        notes.append(
            f"the charts draw {shown_location.size:,} and {shown_dispersion.size:,} of their "
            f"{location.statistic.size:,} points: of each run of consecutive points the lowest and the highest, "
            f"and flagged points; the limits, the rules and the capability use every point "
            f"(chart=xbar-r draws one point per wafer)"
        )

    lsl, usl = _spec_limit(results["lo_limit"]), _spec_limit(results["hi_limit"])
    if lsl is not None and usl is not None and not lsl < usl:
        notes.append(f"spec limits {lsl:g} .. {usl:g} are not ordered: capability left out")
        lsl = usl = None
    summary, indices = None, []
    if lsl is None and usl is None:
        notes.append("no capability: the test has no spec limits")
    else:
        cap = spc.capability(values, lsl, usl, **within)
        test = cap.normality
        summary = CapabilitySummary(
            n=cap.n, mean=_clean(cap.mean), sigma_within=_clean(cap.sigma_within),
            sigma_within_method=cap.sigma_within_method, sigma_overall=_clean(cap.sigma_overall), lsl=lsl, usl=usl,
            confidence=cap.confidence, normality_method=test.method if test else None,
            normality_statistic=_clean(test.statistic) if test else None,
            normality_p_value=_clean(test.p_value) if test else None, normal=test.normal if test else None,
        )  # fmt: skip
        for index, sigma, estimate, (low, high) in (
            ("Cp", N_("within"), cap.cp, cap.cp_interval), ("Cpk", N_("within"), cap.cpk, cap.cpk_interval),
            ("Pp", N_("overall"), cap.pp, cap.pp_interval), ("Ppk", N_("overall"), cap.ppk, cap.ppk_interval),
        ):  # fmt: skip
            indices.append(CapabilityIndex(index=index, sigma=sigma, estimate=_clean(estimate), lower=_clean(low),
                                           upper=_clean(high)))  # fmt: skip
        if cap.non_normal:
            notes.append("the results are not normal (Anderson-Darling): read the indices with care")
    counts, edges = np.histogram(values, bins=histogram_bins)
    products = sorted({p for p in results["product"].unique().to_list() if p is not None})
    units = results["units"].drop_nulls()
    chosen = results["test_name"][0]
    return SpcPage(
        test_num=test_num, test_name=chosen, names=names, units=units[0] if len(units) else None, product=product,
        products=products, chart=chart, rules=rules, rule_codes=codes, baseline=baseline, subgrouping=subgrouping,
        location_chart=location.name, dispersion_chart=dispersion.name, center=limits.mean, sigma=limits.sigma,
        points=_chart_points(location, labels, sizes, baseline, flagged, shown_location),
        dispersion=_chart_points(dispersion, labels, sizes, baseline, beyond, shown_dispersion),
        charted_points=int(location.statistic.size), violations=violations, violation_counts=violation_counts,
        capability=summary, indices=indices,
        histogram=m.Histogram(edges=[float(e) for e in edges], counts=[int(c) for c in counts]),
        test_page_url=links.test_url(test_num, product, name), notes=notes,
    )  # fmt: skip


def spc_test(data: Dashboard, test_num: TestNumberPath, product: Product = None, name: TestName = None,
             chart: ChartKind = None, rules: RuleSet = "we", baseline: Baseline = None) -> SpcPage:  # fmt: skip
    """The SPC page, cached by the dashboard until the catalog changes."""
    key = ("spc", test_num, product, name, chart, rules, baseline)
    return data._call(key, lambda db: spc_page(db, test_num, product, name, chart, rules, baseline,
                                               data.settings.histogram_bins))  # fmt: skip


# ------------------------------------------------------------------------------------------------
# Gage R&R


def study_path(data: Dashboard, name: str) -> Path:
    if not _STUDY_NAME.match(name):
        raise BadQuery(f"bad study name {name[:40]!r}: up to 100 letters, digits, '.', '_' and '-'")
    path = DataDir.at(data.data_dir).gage_study(name)
    if not path.is_file():
        raise NotFound(
            f"no gage study {name!r}: no file {path.parent.name}/{path.name} in the data directory"
        )
    return path


def _verdict(percent_grr: float) -> str:
    if percent_grr < 10:
        return N_("acceptable")
    return N_("marginal") if percent_grr <= 30 else N_("unacceptable")


def gage_result(path: Path, method: str = "anova", tolerance: float | None = None):
    """The gage R&R of the study in ``path`` (a CSV with part, appraiser and value columns)."""
    import pyarrow.csv

    from silicio.metrology import MetrologyError, gage_rr_anova, gage_rr_average_range

    try:
        table = pyarrow.csv.read_csv(path)
        compute = gage_rr_anova if method == "anova" else gage_rr_average_range
        return compute(table, tolerance)
    except (MetrologyError, ValueError, OSError) as exc:  # pyarrow.ArrowInvalid is a ValueError
        raise BadQuery(f"gage study {path.stem!r}: {exc}") from None


def gage_index(data: Dashboard) -> GageIndexPage:
    folder = DataDir.at(data.data_dir).metrology
    rows, notes = [], []
    for path in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        url = links.gage_url(path.stem)
        try:
            result = gage_result(path)
        except BadQuery as exc:
            rows.append(GageStudyRow(name=path.stem, verdict=f"unreadable: {exc}", url=url))
            continue
        rows.append(GageStudyRow(name=path.stem, parts=result.n_parts, appraisers=result.n_appraisers,
                                 trials=result.n_trials, percent_grr=_clean(result.percent_grr),
                                 ndc=result.ndc_truncated, verdict=_verdict(result.percent_grr), url=url))  # fmt: skip
    if not rows:
        notes.append(f"no gage study yet: add a CSV file to {folder} with one row per measurement and "
                     "columns part, appraiser, value (each appraiser measures each part the same number of "
                     "times, trials in row order)")  # fmt: skip
    return GageIndexPage(folder=str(folder), studies=rows, notes=notes)


def gage_study(
    data: Dashboard, name: str, method: Method = "anova", tolerance: Tolerance = None
) -> GageStudyPage:
    result = gage_result(study_path(data, name), method, tolerance)
    tol = result.percent_tolerance or {}
    components = [
        GageComponent(
            source=source,
            sigma=_clean(sigma),
            study_variation=_clean(result.study_variation * sigma),
            percent_study_variation=_clean(result.percent_study_variation[source]),
            percent_contribution=_clean(result.percent_contribution[source]),
            percent_tolerance=_clean(tol.get(source)),
        )  # fmt: skip
        for source, sigma in result.components.items()
    ]
    anova = [
        GageAnovaRow(source=r.source, df=r.df, ss=_clean(r.ss), ms=_clean(r.ms), f=_clean(r.f), p=_clean(r.p))
        for r in (result.anova_pooled or result.anova)
    ]
    return GageStudyPage(
        name=name, method=method, tolerance=tolerance, parts=result.n_parts, appraisers=result.n_appraisers,
        trials=result.n_trials, percent_grr=result.percent_grr, ndc=result.ndc_truncated,
        verdict=_verdict(result.percent_grr), pooled=bool(result.anova_pooled), components=components, anova=anova,
        report_url=links.gage_report_url(name, method=method if method != "anova" else None, tolerance=tolerance),
    )  # fmt: skip


# ------------------------------------------------------------------------------------------------
# Pages


PAGES = (
    Page(path="/spc/test/{test_num}", compute=spc_test, template="spc.html", access="internal", charts=True,
         summary="Control chart, run rules and capability", csv_name="spc_{test_num}"),
    Page(path="/gage", compute=gage_index, template="gage.html", access="internal",
         summary="Gage R&R studies in DATA/metrology", nav=Nav("Gage R&R", "metrology", 1)),
    Page(path="/gage/{name}", compute=gage_study, template="gage_study.html", access="internal",
         summary="One gage R&R study", csv_name="{name}"),
)  # fmt: skip


@router.get("/gage/{name}/report", response_class=HTMLResponse)
@access("internal")
def gage_report(
    data: DashboardData, name: str, method: Method = "anova", tolerance: Tolerance = None
) -> Response:
    """The printable report of :mod:`silicio.metrology.report` (no scripts, no external assets)."""
    from silicio.metrology.report import gage_study_html

    result = gage_result(study_path(data, name), method, tolerance)
    return HTMLResponse(gage_study_html(result, title=f"Gage R&R study {name}", characteristic=name))
