"""The lot report: its numbers against the analyses called directly and against the demo lot's
own truth (the dies' bins as simulated), the HTML's numbers against the Python API, the PDF's pages."""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from importlib import resources

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from silicio.demo import simulate_lot, write_demo_stdf
from silicio.stdf import read, tidy
from silicio.stdf.parts import parts
from silicio.yields import bin_pareto, per_test_statistics, reconcile_bins, screen, yield_by
from silicio.yields.report import (
    PDF_MAPS_PER_PAGE,
    PDF_TABLE_ROWS,
    lot_report,
    pdf_layout,
    render_html,
    render_pdf,
    switching_matrix,
)

SEED, WAFERS, SIDE = 3, 3, 14
RETEST_SEED = 4
LOT = f"TK{41870 + SEED}"


@pytest.fixture(scope="module")
def demo_tables(tmp_path_factory):
    path = write_demo_stdf(
        tmp_path_factory.mktemp("lot") / "lot.stdf", seed=SEED, wafers=WAFERS, dies_per_side=SIDE
    )
    return read(path)


@pytest.fixture(scope="module")
def report(demo_tables):
    return lot_report(demo_tables, LOT)


def _renamed_lot(tables, old: str, new: str):
    """The tables with every MIR / WIR / WRR text naming lot ``old`` rewritten to ``new``."""
    out = dict(tables)
    for kind in ("MIR", "WIR", "WRR"):
        table = out[kind]
        for i, column in enumerate(table.column_names):
            if pa.types.is_string(table.schema.field(column).type):
                table = table.set_column(i, column, pc.replace_substring(table[column], old, new))
        out[kind] = table
    return out


def _truth(seed: int):
    """Per wafer, in prober order: (soft bins, passed) of the simulated dies."""
    lot = simulate_lot(seed=seed, wafers=WAFERS, dies_per_side=SIDE)
    return lot, [(w.soft_bin, w.passed) for w in lot.wafers]


def _without(rows: list[dict], *columns: str) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in columns} for r in rows]


def test_yield_and_bins_equal_the_simulated_dies(report):
    lot, truth = _truth(SEED)
    got = report.wafer_yield.to_pylist()
    assert [r["wafer_id"] for r in got] == [w.wafer_id for w in lot.wafers]
    for row, (_, passed) in zip(got, truth, strict=True):
        assert row["first_pass_dies"] == row["final_dies"] == passed.size
        assert row["first_pass_good"] == row["final_good"] == int(passed.sum())
    assert report.lot_yield["final_good"] == sum(int(p.sum()) for _, p in truth)
    soft = np.concatenate([s for s, _ in truth])
    failing = soft[~np.concatenate([p for _, p in truth])]
    bins, counts = np.unique(failing, return_counts=True)
    assert dict(zip(bins.tolist(), counts.tolist(), strict=True)) == {
        r["bin"]: r["count"] for r in report.soft_pareto.to_pylist()
    }
    assert [r["count"] for r in report.soft_pareto.to_pylist()] == sorted(counts.tolist(), reverse=True)
    assert {r["bin"]: r["count"] for r in report.soft_bins.to_pylist()} == dict(
        zip(*[a.tolist() for a in np.unique(soft, return_counts=True)], strict=True)
    )
    # The demo writes an all-sites HBR / SBR that agrees with its parts.
    statuses = set(report.reconciliation.column("status").to_pylist())
    assert statuses == {"match"}


def test_maps_hold_each_die_once_with_its_bin(report, demo_tables):
    lot, _ = _truth(SEED)
    assert [m.wafer_id for m in report.wafer_maps] == [w.wafer_id for w in lot.wafers]
    for wafer_map, wafer in zip(report.wafer_maps, lot.wafers, strict=True):
        expected = {
            (int(x), int(y)): int(b) for x, y, b in zip(wafer.x, wafer.y, wafer.hard_bin, strict=True)
        }
        got = {
            (int(x), int(y)): int(v)
            for x, y, v in zip(wafer_map.x, wafer_map.y, wafer_map.value, strict=True)
        }
        assert got == expected
    fails = {}
    for wafer in lot.wafers:
        for x, y, ok in zip(wafer.x, wafer.y, wafer.passed, strict=True):
            fails.setdefault((int(x), int(y)), []).append(not ok)
    stacked = report.stacked_map
    got = {(int(x), int(y)): float(v) for x, y, v in zip(stacked.x, stacked.y, stacked.value, strict=True)}
    assert got == pytest.approx({k: float(np.mean(v)) for k, v in fails.items()})


class _Cells(HTMLParser):
    """data-value of the numeric cells of each data-table, row by row, and the JSON block."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[dict[str, str]]] = {}
        self.json_text = ""
        self._table = None
        self._in_json = False
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "img", "link", "iframe") and (a.get("src") or a.get("href")):
            self.external.append(f"{tag} {a}")
        if tag == "table" and "data-table" in a:
            self._table = self.tables.setdefault(a["data-table"], [])
        elif tag == "tr" and self._table is not None:
            self._table.append({})
        elif tag == "td" and self._table is not None and "data-value" in a:
            self._table[-1][a["data-column"]] = a["data-value"]
        elif tag == "script" and a.get("id") == "silicio-lot-report":
            self._in_json = True

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        if tag == "script":
            self._in_json = False

    def handle_data(self, data):
        if self._in_json:
            self.json_text += data


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0)
    return a == b


def _same_rows(got: list[dict], expected: list[dict]) -> None:
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert set(g) == set(e)
        for k in e:
            assert _close(g[k], e[k]), (k, g[k], e[k])


def test_html_numbers_are_the_apis(report, demo_tables):
    page = render_html(report)
    parsed = _Cells()
    parsed.feed(page)
    assert parsed.external == [] and "<link" not in page and "https://" not in page
    # The stacked map and a bin map per wafer, a chart per worst test, a screened-die map per wafer.
    charts = report.distributions.boxes.num_rows
    assert page.count("<svg") == (WAFERS + 1) + charts + WAFERS
    data = json.loads(parsed.json_text)
    part_rows, tidy_rows = parts(demo_tables), tidy(demo_tables)

    _same_rows(data["wafer_yield"], yield_by(part_rows, by="wafer_id").to_pylist())
    _same_rows([data["lot_yield"]], yield_by(part_rows, by=()).to_pylist())
    _same_rows(
        _without(data["hard_pareto"], "name"), _without(bin_pareto(part_rows, "hard").to_pylist(), "name")
    )
    _same_rows(
        _without(data["soft_pareto"], "name"), _without(bin_pareto(part_rows, "soft").to_pylist(), "name")
    )
    for kind, summary in (("hard", demo_tables["HBR"]), ("soft", demo_tables["SBR"])):
        rows = [r for r in data["reconciliation"] if r["kind"] == kind]
        _same_rows(_without(rows, "file", "kind"), reconcile_bins(part_rows, summary, kind).to_pylist())
    stats = pl.from_arrow(per_test_statistics(tidy_rows))
    by_cpk = stats.filter(pl.col("cpk").is_not_null()).sort("cpk").head(len(data["worst_cpk"]))
    assert [r["test_num"] for r in data["worst_cpk"]] == by_cpk["test_num"].to_list()
    assert [r["cpk"] for r in data["worst_cpk"]] == pytest.approx(by_cpk["cpk"].to_list(), rel=1e-12)
    assert [r["fail_count"] for r in data["worst_fails"]] == sorted(
        [n for n in stats["fail_count"].to_list() if n > 0], reverse=True
    )[: len(data["worst_fails"])]

    # The visible cells carry the same numbers.
    cells = [r for r in parsed.tables["wafer_yield"] if r]
    expected = yield_by(part_rows, by="wafer_id").to_pylist()
    for cell, row in zip(cells, expected, strict=True):
        assert int(cell["final_good"]) == row["final_good"]
        assert float(cell["first_pass_yield"]) == row["first_pass_yield"]


def test_screening_is_screen_with_the_lot_as_its_own_history(report, demo_tables):
    from silicio.yields import load_recipe
    from silicio.yields.pat import static_pat_limits
    from silicio.yields.report import DEFAULT_RECIPE

    recipe = load_recipe(resources.files("silicio.yields") / "recipes" / DEFAULT_RECIPE)
    tidy_rows = tidy(demo_tables)
    static = static_pat_limits(tidy_rows, min_lots=1)
    direct = screen(tidy_rows, recipe, static, parts=parts(demo_tables))
    s = report.screening
    assert s is not None and s.recipe == recipe.identity()
    assert s.yield_before == direct.yield_before and s.yield_after == direct.yield_after
    assert s.screened_parts == int(pc.sum(direct.parts["screened"]).as_py())
    # The note now comes from the PAT rule, among the screening's notes.
    assert any("this lot alone" in n for n in s.notes)


def test_pdf_has_the_pages_its_layout_lists(report, tmp_path):
    path = tmp_path / "lot.pdf"
    pages = render_pdf(report, path)
    raw = path.read_bytes()
    assert raw.startswith(b"%PDF-") and raw.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page(?![s\w])", raw)) == pages
    assert re.search(rb"/Type\s*/Pages.*?/Count\s+(\d+)", raw, re.S).group(1) == str(pages).encode()
    # The layout rule, counted from the report's tables: a summary page; each table 40 rows a
    # page; the Pareto charts; the stacked map and the wafer maps 6 a page.
    tables = [report.files, report.wafer_yield, report.site_yield.sites, report.hard_pareto, report.soft_pareto,
              report.hard_bins, report.soft_bins, report.reconciliation, report.retest_recovery,
              switching_matrix(report.bin_switching), report.throughput.per_site, report.worst_cpk,
              report.worst_fails, report.screening.rules, report.screening.by_rule, report.screening.by_test]  # fmt: skip
    expected = 1 + sum(max(1, math.ceil(t.num_rows / PDF_TABLE_ROWS)) for t in tables) + 1
    expected += 1 + math.ceil(WAFERS / PDF_MAPS_PER_PAGE)
    # The worst tests' distributions and the screened-die maps, six a page.
    expected += math.ceil(report.distributions.boxes.num_rows / PDF_MAPS_PER_PAGE)
    expected += math.ceil(WAFERS / PDF_MAPS_PER_PAGE)
    assert pages == expected == len(pdf_layout(report))


def test_retest_file_decides_final_yield(tmp_path, demo_tables):
    retest_lot = f"TK{41870 + RETEST_SEED}"
    path = write_demo_stdf(tmp_path / "retest.stdf", seed=RETEST_SEED, wafers=WAFERS, dies_per_side=SIDE)
    retest = _renamed_lot(read(path), retest_lot, LOT)
    combined = lot_report([demo_tables, retest], LOT, recipe=None)
    _, first = _truth(SEED)
    _, last = _truth(RETEST_SEED)
    for row, (_, p1), (_, p2) in zip(combined.wafer_yield.to_pylist(), first, last, strict=True):
        assert row["first_pass_dies"] == row["final_dies"] == row["retests"] == p1.size
        assert row["first_pass_good"] == int(p1.sum())
        assert row["final_good"] == int(p2.sum())
    # Every file's summary is reconciled with its own parts.
    assert set(combined.reconciliation.column("file").to_pylist()) == {"file 1", "file 2"}
    assert set(combined.reconciliation.column("status").to_pylist()) == {"match"}


def test_unknown_lot_names_the_lots_present(demo_tables):
    with pytest.raises(ValueError, match=rf"lot 'NOPE' is not in the data; lots present: '{LOT}'"):
        lot_report(demo_tables, "NOPE")
    with pytest.raises(ValueError, match="needs a Lake"):
        lot_report(42, LOT)


def test_final_test_lot_has_no_maps_and_no_default_screening(demo_tables):
    no_wafers = {k: v for k, v in demo_tables.items() if k not in ("WIR", "WRR")}
    report = lot_report(no_wafers, LOT)
    assert report.wafer_maps == () and report.stacked_map is None and report.screening is None
    page = render_html(report)
    assert "no wafer maps" in page


def test_lake_and_cli(tmp_path, demo_tables):
    from silicio import lake
    from silicio.cli import app

    path = write_demo_stdf(tmp_path / "lot.stdf", seed=SEED, wafers=WAFERS, dies_per_side=SIDE)
    data_dir = tmp_path / "data"
    assert lake.ingest([path], data_dir, workers=1).ok
    with lake.open(data_dir) as db:
        from_lake = lot_report(db, LOT)
        with pytest.raises(ValueError, match=rf"lots present: '{LOT}'"):
            lot_report(db, "NOPE")
    from_tables = lot_report(demo_tables, LOT)
    assert from_lake.stage == "wafer_sort"
    # One lot of its product: judged on final yield only (AEC-Q002 and PAT need six lots); not held.
    assert from_lake.holds == () and from_tables.holds is None
    assert "<th>disposition</th><td>not held</td>" in render_html(from_lake)
    assert "disposition" in pdf_layout(from_lake) and "disposition" not in pdf_layout(from_tables)
    for name in ("wafer_yield", "hard_bins", "soft_bins", "hard_pareto", "soft_pareto", "worst_cpk"):
        assert getattr(from_lake, name).equals(getattr(from_tables, name)), name
    # MIR.START_T / MRR.FINISH_T read from the lake's views are the file's.
    assert from_lake.throughput.wall_clock_s == from_tables.throughput.wall_clock_s is not None
    assert from_lake.throughput.wall_clock_uph == from_tables.throughput.wall_clock_uph

    runner = CliRunner()
    out, pdf = tmp_path / "r.html", tmp_path / "r.pdf"
    result = runner.invoke(
        app, ["report", LOT, "--data", str(data_dir), "--out", str(out), "--pdf", str(pdf)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<!DOCTYPE html>") and pdf.read_bytes().startswith(b"%PDF-")
    result = runner.invoke(app, ["report", "NOPE", "--data", str(data_dir), "--out", str(out)])
    assert result.exit_code == 2 and LOT in result.output


# --------------------------------------------------------------------------------------------
# The product engineer's sections, each against an independent computation


def test_site_yield_is_the_first_tests_per_site(report, demo_tables):
    rows = pl.from_arrow(parts(demo_tables)).filter(pl.col("passed").is_not_null())
    first = rows.filter(pl.struct("die_key").is_first_distinct())
    expected = (
        first.group_by("head", "site")
        .agg(pl.len().alias("tested"), pl.col("passed").sum().alias("good"))
        .sort("head", "site")
    )
    got = pl.from_arrow(report.site_yield.sites).sort("head", "site")
    assert got["tested"].to_list() == expected["tested"].to_list()
    assert got["good"].to_list() == expected["good"].to_list()
    # Pearson's X^2 of the sites x (pass, fail) table, written out.
    tested = np.array(expected["tested"].to_list(), float)
    good = np.array(expected["good"].to_list(), float)
    pooled = good.sum() / tested.sum()
    observed = np.stack([good, tested - good], axis=1)
    expected_counts = np.stack([tested * pooled, tested * (1 - pooled)], axis=1)
    chi2 = float(((observed - expected_counts) ** 2 / expected_counts).sum())
    assert report.site_yield.chi2 == pytest.approx(chi2, rel=1e-12)
    assert report.site_yield.dof == len(tested) - 1
    page = render_html(report)
    assert f"chi2 {chi2:.4g}, dof {len(tested) - 1}" in page
    data = json.loads(_json_of(page))
    assert [r["good"] for r in data["site_yield"]["sites"]] == good.astype(int).tolist()


def _json_of(page: str) -> str:
    parsed = _Cells()
    parsed.feed(page)
    return parsed.json_text


def test_retests_recovery_and_bin_switching_by_die(tmp_path, demo_tables):
    retest_lot = f"TK{41870 + RETEST_SEED}"
    path = write_demo_stdf(tmp_path / "retest.stdf", seed=RETEST_SEED, wafers=WAFERS, dies_per_side=SIDE)
    retest = _renamed_lot(read(path), retest_lot, LOT)
    combined = lot_report([demo_tables, retest], LOT, recipe=None)
    # Each die's first and last hard bin and verdict, by a loop over the two files in test order.
    history: dict[tuple, list[tuple[int, bool]]] = {}
    for tables in (demo_tables, retest):
        for row in parts(tables).to_pylist():
            history.setdefault((row["wafer_id"], row["x"], row["y"]), []).append(
                (row["hard_bin"], row["passed"])
            )
    switching: dict[tuple[int, int], int] = {}
    recovery: dict[int, list[int]] = {}
    for tests in history.values():
        (first_bin, first_passed), (final_bin, final_passed) = tests[0], tests[-1]
        switching[(first_bin, final_bin)] = switching.get((first_bin, final_bin), 0) + 1
        if not first_passed:
            counts = recovery.setdefault(first_bin, [0, 0, 0])
            counts[0] += 1
            counts[1] += len(tests) > 1
            counts[2] += len(tests) > 1 and final_passed
    got = {(r["first_bin"], r["final_bin"]): r["dies"] for r in combined.bin_switching.to_pylist()}
    assert got == switching
    assert {r["first_bin"]: [r["failing_dies"], r["retested_dies"], r["recovered_dies"]]
            for r in combined.retest_recovery.to_pylist()} == recovery  # fmt: skip
    # The displayed matrix: a row per first bin, a column per final bin.
    matrix = switching_matrix(combined.bin_switching).to_pylist()
    for row in matrix:
        for (first_bin, final_bin), dies in switching.items():
            if first_bin == row["first_bin"]:
                assert row[f"to {final_bin}"] == dies
        assert row["dies"] == sum(d for (f, _), d in switching.items() if f == row["first_bin"])
    data = json.loads(_json_of(render_html(combined)))
    assert data["bin_switching_matrix"] == matrix


def test_test_time_and_units_per_hour_from_the_records(report, demo_tables):
    prr = pl.from_arrow(parts(demo_tables))
    per_site = (
        prr.filter(pl.col("test_t") > 0)
        .group_by("head", "site")
        .agg(pl.col("test_t").mean())
        .sort("head", "site")
    )
    got = pl.from_arrow(report.throughput.per_site).sort("head", "site")
    assert got["mean_ms"].to_list() == pytest.approx(per_site["test_t"].to_list(), rel=1e-12)
    # Wall clock: MIR.START_T to MRR.FINISH_T of the file.
    start = demo_tables["MIR"].column("START_T")[0].as_py()
    finish = demo_tables["MRR"].column("FINISH_T")[0].as_py()
    assert report.throughput.wall_clock_uph == pytest.approx(3600 * prr.height / (finish - start), rel=1e-12)
    # Tester UPH: touchdowns in PRR order, one ending when a site reports again; each lasts as
    # long as its slowest part.
    touchdown_ms, seen, slowest, timed = 0.0, set(), 0, 0
    for row in prr.sort("seq").iter_rows(named=True):
        if (row["head"], row["site"]) in seen:
            touchdown_ms += slowest
            seen, slowest = set(), 0
        seen.add((row["head"], row["site"]))
        slowest = max(slowest, row["test_t"])
        timed += 1
    touchdown_ms += slowest
    assert report.throughput.tester_uph == pytest.approx(3.6e6 * timed / touchdown_ms, rel=1e-12)


def test_worst_tests_distributions_count_the_final_results(report, demo_tables):
    final = pl.from_arrow(tidy(demo_tables)).filter(pl.col("is_last_test") & pl.col("result").is_not_null())
    worst = {r["test_num"] for r in report.worst_cpk.to_pylist()} | {
        r["test_num"] for r in report.worst_fails.to_pylist()
    }
    boxes = report.distributions.boxes.to_pylist()
    assert {b["test_num"] for b in boxes} == worst
    histograms = pl.from_arrow(report.distributions.histograms)
    page = render_html(report)
    for box in boxes:
        rows = final.filter(pl.col("test_num") == box["test_num"])
        kept = rows.filter((pl.col("test_flg") & 1) == 0)
        assert box["n"] == kept.height and box["alarmed"] == rows.height - kept.height
        assert box["median"] == pytest.approx(float(np.median(kept["result"].to_numpy())), rel=1e-12)
        assert histograms.filter(pl.col("test_num") == box["test_num"])["count"].sum() == box["n"]
        assert (
            box["lo_limit"] == rows["lo_limit"].drop_nulls()[0]
            and box["hi_limit"] == rows["hi_limit"].drop_nulls()[0]
        )
        # The chart draws both limits.
        svg = re.search(rf'<svg[^>]*data-test-num="{box["test_num"]}".*?</svg>', page).group(0)
        drawn = dict(re.findall(r'data-limit="(LSL|USL)" data-value="([^"]+)"', svg))
        assert float(drawn["LSL"]) == box["lo_limit"] and float(drawn["USL"]) == box["hi_limit"]


def test_screened_map_colours_each_die_by_its_first_rule(demo_tables):
    from silicio.yields.pat import static_pat_limits
    from silicio.yields.recipe import loads_recipe
    from silicio.yields.report import DEFAULT_RECIPE
    from silicio.yields.rules import registered_rules
    from silicio.yields.wafermap.drawing import SCREEN_FAILED_COLOUR, SCREEN_KEPT_COLOUR, rule_colours

    # The shipped recipe at PAT k = 3 instead of 6, so that a lot this small has screened dies.
    text = (resources.files("silicio.yields") / "recipes" / DEFAULT_RECIPE).read_text(encoding="utf-8")
    assert "\nk = 6.0" in text
    recipe = loads_recipe(text.replace("\nk = 6.0", "\nk = 3.0", 1))
    report = lot_report(demo_tables, LOT, recipe=recipe)
    tidy_rows = tidy(demo_tables)
    limits = static_pat_limits(tidy_rows, k=recipe.pat.k, min_lots=1, iqr_zero=recipe.pat.iqr_zero)
    direct = screen(tidy_rows, recipe, limits, parts=parts(demo_tables))
    precedence = [code for name, _ in recipe.rules for code in registered_rules()[name].reason_codes]
    first_rule: dict[tuple, str] = {}
    for row in direct.reasons.to_pylist():
        key = (row["wafer_id"], row["part_index"])
        if key not in first_rule or precedence.index(row["rule"]) < precedence.index(first_rule[key]):
            first_rule[key] = row["rule"]
    assert first_rule, "the demo lot has screened dies"
    colours = rule_colours(precedence)
    expected = {}
    for row in parts(demo_tables).to_pylist():
        rule = first_rule.get((row["wafer_id"], row["part_index"]))
        colour = colours[rule] if rule else SCREEN_KEPT_COLOUR if row["passed"] else SCREEN_FAILED_COLOUR
        expected[(row["wafer_id"], row["x"], row["y"])] = colour
    page = render_html(report)
    maps = re.search(r'data-chart="screened-maps">(.*?)</div><p class="legend">', page, re.S).group(1)
    got = {}
    for wafer, svg in re.findall(r'<div class="map" data-wafer="([^"]+)">(<svg.*?</svg>)', maps, re.S):
        for fill, x, y in re.findall(r'fill="([^"]+)" data-x="(-?\d+)" data-y="(-?\d+)"', svg):
            got[(wafer, int(x), int(y))] = fill
    assert got == expected
    data = json.loads(_json_of(page))
    assert {
        (r["wafer_id"], r["part_index"]): r["rule"] for r in data["screening"]["dies"] if r["rule"]
    } == first_rule


def test_history_hook_draws_yield_per_lot_and_the_syl(report, demo_tables):
    history = pl.DataFrame({"lot": [f"L{i}" for i in range(6)], "yield": [0.9, 0.92, 0.91, 0.93, 0.9, 0.92],
                            "syl": [None, None, 0.85, 0.86, 0.86, 0.87]})  # fmt: skip
    with_history = lot_report(demo_tables, LOT, history=history)
    rows = with_history.history.to_pylist()
    assert [r["lot"] for r in rows] == [*history["lot"].to_list(), LOT]
    assert rows[-1]["this_lot"] and rows[-1]["yield"] == with_history.lot_yield["final_yield"]
    page = render_html(with_history)
    chart = re.search(r'<svg[^>]*data-chart="history".*?</svg>', page).group(0)
    assert [float(v) for v in re.findall(r'data-yield="([^"]+)"', chart)] == [r["yield"] for r in rows]
    assert chart.count('data-line="syl"') == 1  # one line over the lots with an SYL
    assert "history_chart" in pdf_layout(with_history) and "history_chart" not in pdf_layout(report)
    with pytest.raises(ValueError, match="history lacks column"):
        lot_report(demo_tables, LOT, history=history.drop("syl"))


@pytest.fixture(scope="module")
def six_lot_lake(tmp_path_factory):
    """Six wafer-sort lots of one product of the demo fab (planted PAT outliers and a parametric
    shift): enough for static PAT limits, SYL / SBL and the shift rule."""
    from silicio import lake
    from silicio.demo import generate_fab

    folder = tmp_path_factory.mktemp("six")
    fab = generate_fab(folder / "stdf", lots=6, wafers_per_lot=1, die_scale=2.0, products=["SLC-MC200"])
    files = [fab.out_dir / f.path for f in fab.files if f.stage == "WS"]
    assert lake.ingest(files, folder / "data", workers=1).ok
    return folder / "data"


def test_report_holds_are_those_of_the_whole_product(six_lot_lake):
    """The report screens only its lot (with the product's static PAT limits) and judges its holds
    with the rules of silicio holds: the same holds and PAT rejects as screening every lot."""
    from silicio import lake
    from silicio.yields.disposition import default_recipe, lake_disposition, pat_shares, screen_lake

    recipe = default_recipe()
    with lake.open(six_lot_lake) as db:
        whole = lake_disposition(db, recipe)
        screened = screen_lake(db, recipe)
        shares = {r["lot_id"]: r["pat_parts"] for r in pat_shares(screened.results).to_dicts()}
        assert len(shares) == 6 and sum(shares.values()) > 0
        assert {r.rule for h in whole.holds for r in h.reasons} >= {"pat_share", "parametric_shift"}
        for lot in shares:
            report = lot_report(db, lot)
            assert [h.as_dict() for h in report.holds] == [h.as_dict() for h in whole.of(lot, "wafer_sort")]
            pat = {r["rule"]: r["parts"] for r in report.screening.rules.to_pylist()}["pat"]
            assert pat == shares[lot]
            # The product's limits, not the lot's own: no note that the lot screened itself.
            assert not any("this lot alone" in n for n in report.screening.notes)
            # Test times from the lake's MIR / MRR equal those of the file.
            assert report.throughput.wall_clock_uph is not None


def test_galaxy_maps_in_the_report_have_the_highest_y_on_top():
    """galaxy_lot2's WCR says Y grows upward (POS_Y "U"): every map of its report, SVG and JSON,
    puts the highest Y in the top row. Checked from the raw PRR records, not through silicio.yields."""
    from tests.conftest import shared_stdf

    tables = read(shared_stdf("galaxy_lot2_A530_BE.stdf"))
    assert tables["WCR"].column("POS_Y")[0].as_py() == "U"
    prr = tables["PRR"].to_pydict()
    ys = [y for y in prr["Y_COORD"] if y is not None and y != -32768]
    lot = tables["MIR"].column("LOT_ID")[0].as_py()
    report = lot_report(tables, lot)
    assert report.orientation.y_grows == "up"
    page = render_html(report)
    maps = re.findall(r'<div class="map" data-wafer="[^"]+">(<svg.*?</svg>)', page, re.S)
    assert maps
    for svg in maps:
        cells = [
            (int(y_px), int(y))
            for y_px, y in re.findall(r'<rect x="-?\d+" y="(-?\d+)"[^>]*data-y="(-?\d+)"', svg)
        ]
        top = min(y_px for y_px, _ in cells)
        assert {y for y_px, y in cells if y_px == top} == {max(ys)}
    data = json.loads(_json_of(page))
    assert all(m["y_grows"] == "up" for m in data["wafer_maps"])
