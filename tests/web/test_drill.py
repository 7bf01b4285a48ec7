"""The drill-down (lot -> wafer -> die -> test and back), the tables' URL state and the aggregates
counted right, over the dashboard tests' demo lake with a lot written here: wafer RT-W1 of lot
RTLOT1, tested in two files (two dies retested, :mod:`tests.web.test_final_insertions`' values), the
same lot at final test (three packaged units: one lot, two stages), and one die of it traced to a
shipment in the genealogy. Expected numbers come from the values written here or from the lake
read with its own SQL, never from the function under test; the browser tests (Playwright, the
system chromium) check that what a page shows is its JSON twin's."""

from __future__ import annotations

import csv
import html
import io
import json
import math
import os
import re
import shutil
import statistics
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from urllib.request import Request, urlopen

import numpy as np
import pytest
from fastapi.testclient import TestClient

from silicio import lake, trace
from silicio.lake import queries
from silicio.stdf.writer import StdfWriter
from silicio.web import create_app
from silicio.web.die_pages import result_flags, shift_in_sigma, verdict

from .conftest import served_headers, serving, signed_in
from .test_final_insertions import BOTH, FIRST, FIRST_START, LIMITS, LOT, RETEST, RETEST_START, SKIPPED, WAFER
from .test_final_insertions import write_file as write_wafer_sort

RETESTED_DIE = (1, 0)  # fails SKIPPED at first, passes its retest (which runs BOTH only)
TRACED_DIE = (2, 1)
UNITS = ["U1", "U2", "U3"]
FINAL_TEST_START = RETEST_START + 86_400


def write_final_test(path: Path, product: str) -> Path:
    """Lot LOT at final test: three packaged units (no wafer, no coordinates), the last one failing."""
    with StdfWriter(path) as out:
        out.record("MIR", SETUP_T=FINAL_TEST_START - 60, START_T=FINAL_TEST_START, STAT_NUM=1, LOT_ID=LOT,
                   PART_TYP=product, NODE_NAM="ft-tester", JOB_NAM="FT_PROG", TEST_COD="FT1")  # fmt: skip
        for n, unit in enumerate(UNITS):
            value = 1.0 + n if n < 2 else 9.0
            failed = value > LIMITS[BOTH][1]
            out.record("PIR", HEAD_NUM=1, SITE_NUM=1)
            out.record("PTR", TEST_NUM=BOTH, HEAD_NUM=1, SITE_NUM=1, TEST_FLG=0x80 if failed else 0,
                       PARM_FLG=0xC0, RESULT=value, TEST_TXT=f"T{BOTH}", ALARM_ID="", OPT_FLAG=0x0E, RES_SCAL=0,
                       LLM_SCAL=0, HLM_SCAL=0, LO_LIMIT=LIMITS[BOTH][0], HI_LIMIT=LIMITS[BOTH][1], UNITS="V")  # fmt: skip
            out.record("PRR", HEAD_NUM=1, SITE_NUM=1, PART_FLG=0x08 if failed else 0, NUM_TEST=1,
                       HARD_BIN=5 if failed else 1, SOFT_BIN=5 if failed else 1, X_COORD=-32768, Y_COORD=-32768,
                       PART_ID=unit)  # fmt: skip
        out.record("MRR", FINISH_T=FINAL_TEST_START + 600)
    return path


@pytest.fixture(scope="module")
def drill_lake(tmp_path_factory, data_dir) -> tuple[Path, str]:
    copy = tmp_path_factory.mktemp("drill-lake") / "data"
    shutil.copytree(data_dir, copy)
    with lake.open(copy) as db:
        (product,) = set(queries.lot_index(db)["product"].to_list())
    folder = tmp_path_factory.mktemp("drill-stdf")
    write_wafer_sort(folder / "a_retest.stdf", product, RETEST_START, RETEST)
    write_wafer_sort(folder / "b_first.stdf", product, FIRST_START, FIRST)
    write_final_test(folder / "c_final.stdf", product)
    lake.ingest([folder], copy, workers=1)
    x, y = TRACED_DIE
    die, unit = ("die", f"{WAFER}/{x},{y}"), ("unit", "U-TRACED")
    with trace.TraceStore.at(copy) as store:
        store.add_genealogy(
            edges=[(("lot", LOT), ("wafer", WAFER)), (("wafer", WAFER), die), (die, unit),
                   (unit, ("reel", "R1")), (("reel", "R1"), ("shipment", "SH1"))],
            actor="tests", attrs={("shipment", "SH1"): {"customer": "ACME", "destination": "US"}},
            tester_keys=[{"node": die, "stage": "wafer_sort", "lot_id": LOT, "wafer_id": WAFER, "x": x, "y": y}],
        )  # fmt: skip
    return copy, product


@pytest.fixture(scope="module")
def drill_app(drill_lake, settings):
    return create_app(drill_lake[0], settings=settings)


@pytest.fixture(scope="module")
def client(drill_app):
    with TestClient(drill_app) as test_client:
        yield signed_in(test_client)


def die_path(x: int, y: int) -> str:
    return f"/lot/{LOT}/wafer/{WAFER}/die/{x}/{y}?stage=wafer_sort"


# ------------------------------------------------------------------------------------------------
# Flags and formulas


def test_result_flags_name_the_stdf_v4_error_bits():
    # STDF V4, PTR: TEST_FLG bit 0 alarm, 1 invalid, 2 unreliable, 3 timeout, 4 not executed, 5 aborted;
    # PARM_FLG bit 0 scale error, 1 drift error, 2 oscillation. Bits 6 and 7 of either are no error.
    assert result_flags(0x01, 0xC0) == ["alarm"]
    assert result_flags(0x3F, 0x07) == ["alarm", "invalid result", "unreliable result", "timeout", "not executed",
                                        "aborted", "scale error", "drift error", "oscillation"]  # fmt: skip
    assert result_flags(0xC0, 0xF8) == []
    assert result_flags(None, None) == []
    assert verdict(True, 0) == "pass" and verdict(False, 0x80) == "fail"
    assert verdict(True, 0x40) == "no verdict" and verdict(None, 0) == "no verdict"  # bit 6: no pass/fail


def test_shift_in_sigma_is_cohens_d():
    # Cohen (1988) d = (m2 - m1) / sqrt((s1^2 + s2^2) / 2): means 10 and 13, sigmas 3 and 5 -> 3 / sqrt(17).
    assert shift_in_sigma(10.0, 3.0, 13.0, 5.0) == pytest.approx(3 / math.sqrt(17))
    assert shift_in_sigma(1.0, 0.0, 2.0, 0.0) is None
    assert shift_in_sigma(1.0, None, 2.0, 1.0) is None


# ------------------------------------------------------------------------------------------------
# The die page


def test_a_retested_die_shows_both_insertions_and_every_result(client, drill_lake):
    x, y = RETESTED_DIE
    page = client.get("/api" + die_path(x, y)).json()
    first = next(i for i in FIRST if (i.x, i.y) == RETESTED_DIE)
    retest = next(i for i in RETEST if (i.x, i.y) == RETESTED_DIE)
    assert [(i["insertion"], i["kind"], i["final"], i["file"]) for i in page["insertions"]] == [
        (1, "first pass", False, "b_first.stdf"),
        (2, "retest 1", True, "a_retest.stdf"),
    ]
    assert [(i["hard_bin"], i["passed"]) for i in page["insertions"]] == [(5, False), (1, True)]
    assert (page["insertion_count"], page["retests"], page["final_hard_bin"], page["final_passed"]) == (
        2,
        1,
        1,
        True,
    )
    written = [(1, n, v) for n, v in first.results.items()] + [(2, n, v) for n, v in retest.results.items()]
    shown = [(r["insertion"], r["test_num"], r["result"]) for r in page["results"]]
    assert [(i, n) for i, n, _ in shown] == [(i, n) for i, n, _ in written]
    assert [v for *_, v in shown] == pytest.approx([float(np.float32(v)) for *_, v in written])
    verdicts = {(r["insertion"], r["test_num"]): r["verdict"] for r in page["results"]}
    assert verdicts == {(1, BOTH): "pass", (1, SKIPPED): "fail", (2, BOTH): "pass"}
    assert {(r["lo_limit"], r["hi_limit"]) for r in page["results"] if r["test_num"] == SKIPPED} == {
        LIMITS[SKIPPED]
    }
    # the failure was of the superseded insertion: the final one failed nothing
    assert page["failed_tests"] == 0 and page["alarmed_results"] == 0
    assert all(r["url"].startswith(f"/test/{r['test_num']}") for r in page["results"])
    assert page["wafer_url"] == f"/lot/{LOT}/wafer/{WAFER}?stage=wafer_sort&x={x}&y={y}"
    # its CSV: the same results
    rows = list(
        csv.DictReader(io.StringIO(client.get("/api" + die_path(x, y).replace("?", "/results.csv?")).text))
    )
    assert [(int(r["insertion"]), int(r["test_num"])) for r in rows] == [(i, n) for i, n, _ in written]


def test_genealogy_of_a_traced_die_and_of_one_not_traced(client):
    page = client.get("/api" + die_path(*TRACED_DIE)).json()
    assert page["traced"] and page["trace_node"] == f"{WAFER}/{TRACED_DIE[0]},{TRACED_DIE[1]}"
    assert page["units_reached"] == 1
    assert [(s["shipment"], s["units"], s["customer"]) for s in page["shipments"]] == [("SH1", 1, "ACME")]
    untraced = client.get("/api" + die_path(*RETESTED_DIE)).json()
    assert not untraced["traced"] and "not in the genealogy" in untraced["trace_note"]
    assert "20 dies a wafer" in untraced["trace_note"]


def test_screening_verdict_of_a_die_is_the_pat_pages(client):
    pat = client.get("/api/pat").json()  # waits for the screening
    removed = [p for p in pat["parts"] if p["x"] is not None]
    assert removed, "the demo lots have PAT outliers"
    part = removed[0]
    page = client.get("/api" + part["url"]).json()
    assert page["screened"] is True
    assert page["screening_rules"] == part["rules"]
    assert page["new_hard_bin"] == part["new_hard_bin"]
    reasons = [r for r in pat["reasons"] if (r["lot_id"], r["wafer_id"], r["part_index"])
               == (part["lot_id"], part["wafer_id"], part["part_index"])]  # fmt: skip
    assert [(r["rule"], r["test_num"]) for r in page["screening"]] == [
        (r["rule"], r["test_num"]) for r in reasons
    ]
    # ... and the wafer's map layer has it, coloured by its first rule
    wafer = client.get("/api" + page["wafer_url"]).json()
    layer = wafer["screening_layer"]
    at = list(zip(layer["x"], layer["y"], strict=True)).index((part["x"], part["y"]))
    assert layer["rule"][at] == part["rules"][0]
    on_wafer = [p for p in removed if (p["lot_id"], p["wafer_id"]) == (part["lot_id"], part["wafer_id"])]
    assert sum(layer["counts"].values()) == len(layer["x"]) == len(on_wafer)
    assert (
        wafer["die_url"] == f"/lot/{part['lot_id']}/wafer/{part['wafer_id']}/die/{{x}}/{{y}}?stage=wafer_sort"
    )


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        (die_path(99, 99), 404, "no die at x 99, y 99"),
        (f"/lot/{LOT}/wafer/NOPE/die/0/0", 404, "no die at x 0, y 0 on wafer 'NOPE'"),
        (f"/lot/{LOT}/wafer/{WAFER}/die/0/99999", 422, "less than or equal to 32767"),
        ("/compare?a=X/&b=Y", 422, "expected a lot (LOT) or a wafer (LOT/WAFER)"),
        (f"/compare?a={LOT}/{WAFER}&b={LOT}", 422, "compare a wafer with a wafer"),
        ("/?lots.nope=1", 422, "no column 'nope'"),
        ("/?lots.sort=-nope", 422, "no column 'nope'"),
        ("/?lots.from=2024-02-30", 422, "expected a date as YYYY-MM-DD"),
        ("/?lots.per=0", 422, "expected a whole number from 1 up to"),
        ("/?lots.final_yield.min=high", 422, "expected a number"),
        ("/pat?lots.from=2024-01-01", 422, "has no date column"),
    ],
)
def test_bad_drill_and_table_requests_say_what_is_wrong(client, path, status, says):
    for url in ("/api" + path if not path.startswith("/?") else "/api/overview" + path[1:], path):
        response = client.get(url)
        assert response.status_code == status, url
        assert says in html.unescape(response.text), (url, response.text[:300])


# ------------------------------------------------------------------------------------------------
# Aggregates


def test_lots_are_counted_as_lots_with_their_stages_apart(client, drill_lake):
    overview = client.get("/api/overview").json()
    with lake.open(drill_lake[0]) as db:
        lots = db.rows("SELECT count(DISTINCT lot), count(*) FROM (SELECT DISTINCT lot, stage FROM files "
                       "WHERE lot IS NOT NULL)")  # fmt: skip
    assert (overview["lot_count"], len(overview["lots"])) == lots[0]
    assert len(overview["lots"]) == overview["lot_count"] + 1  # RTLOT1 at two stages
    assert overview["held_lot_count"] == len({h["lot_id"] for h in overview["held_lots"]})
    text = client.get("/").text
    assert f'data-stat="lot_count">{overview["lot_count"]}<' in text
    assert f'data-stat="held_lot_count">{overview["held_lot_count"]}<' in text
    # a final-test lot has no wafers, as the overview says
    final = client.get(f"/api/lot/{LOT}", params={"stage": "final_test"}).json()
    (row,) = [r for r in overview["lots"] if (r["lot_id"], r["stage"]) == (LOT, "final_test")]
    assert final["wafer_count"] == row["wafers"] == 0
    assert client.get(f"/api/lot/{LOT}", params={"stage": "wafer_sort"}).json()["wafer_count"] == 1
    assert 'data-stat="wafers">0<' in client.get(f"/lot/{LOT}?stage=final_test").text


def test_the_trace_page_says_which_dies_the_genealogy_holds(client):
    page = client.get("/api/trace", params={"direction": "forward", "kind": "lot", "name": LOT}).json()
    assert page["query"]["units"] == 1
    assert "holds 1 die on" in page["query"]["coverage"] and "20 dies a wafer" in page["query"]["coverage"]


# ------------------------------------------------------------------------------------------------
# Compare


def test_compare_two_wafers(client, drill_lake):
    overview = client.get("/api/overview").json()
    lot_a, lot_b = [r["lot_id"] for r in overview["lots"] if r["lot_id"].startswith("TK")][:2]
    wafers = [client.get(f"/api/lot/{lot}").json()["wafers"][0]["wafer_id"] for lot in (lot_a, lot_b)]
    page = client.get(
        "/api/compare", params={"a": f"{lot_a}/{wafers[0]}", "b": f"{lot_b}/{wafers[1]}"}
    ).json()
    for side, lot, wafer in (("a", lot_a, wafers[0]), ("b", lot_b, wafers[1])):
        shown = client.get(f"/api/lot/{lot}/wafer/{wafer}").json()
        assert page[side]["total"] == shown["total"]
        assert page[side]["bin_map"]["value"] == shown["bin_map"]["value"]
    test_num = page["test_num"]
    with lake.open(drill_lake[0]) as db:
        values = {
            side: [r[0] for r in db.rows(
                "SELECT result FROM tidy WHERE lot_id = ? AND wafer_id = ? AND test_num = ? AND is_last_test "
                "AND result IS NOT NULL AND test_flg & 1 = 0", [lot, wafer, test_num])]
            for side, lot, wafer in (("a", lot_a, wafers[0]), ("b", lot_b, wafers[1]))
        }  # fmt: skip
    (row,) = [t for t in page["tests"] if t["test_num"] == test_num]
    assert (row["count_a"], row["count_b"]) == (len(values["a"]), len(values["b"]))
    assert row["mean_a"] == pytest.approx(statistics.mean(values["a"]))
    assert row["std_b"] == pytest.approx(statistics.stdev(values["b"]))
    assert sum(page["histogram_a"]) == len(values["a"]) and sum(page["histogram_b"]) == len(values["b"])
    shifts = [abs(t["shift_sigma"]) for t in page["tests"] if t["shift_sigma"] is not None]
    assert shifts == sorted(shifts, reverse=True) and abs(row["shift_sigma"]) == shifts[0]
    # the wafer page's link compares it with the lot's next wafer
    link = client.get(f"/api/lot/{lot_a}/wafer/{wafers[0]}").json()["compare_url"]
    beside = client.get("/api" + link).json()
    assert (beside["a"]["wafer_id"], beside["b"]["lot_id"]) == (wafers[0], lot_a)
    assert beside["b"]["wafer_id"] != wafers[0]
    lots = client.get("/api/compare", params={"a": lot_a, "b": lot_b}).json()
    assert lots["a"]["total"] == client.get(f"/api/lot/{lot_a}").json()["total"]
    assert lots["a"]["bin_map"]["kind"] == "fail_fraction"


# ------------------------------------------------------------------------------------------------
# Tables


def test_tables_sort_filter_and_their_csv_and_workbook_hold_the_rows_shown(client):
    everything = client.get("/api/overview").json()["lots"]
    query = {"lots.sort": "-final_yield,lot_id", "lots.q": "tk4187", "lots.final_yield.min": "0.94"}
    shown = client.get("/api/overview", params=query).json()["lots"]
    expected = [r for r in everything if "tk4187" in r["lot_id"].lower() and r["final_yield"] >= 0.94]
    expected.sort(key=lambda r: r["lot_id"])
    expected.sort(key=lambda r: r["final_yield"], reverse=True)
    assert [r["lot_id"] for r in shown] == [r["lot_id"] for r in expected] and 0 < len(shown) < len(
        everything
    )
    rows = list(csv.DictReader(io.StringIO(client.get("/api/overview/lots.csv", params=query).text)))
    assert [r["lot_id"] for r in rows] == [r["lot_id"] for r in shown]
    assert [float(r["final_yield"]) for r in rows] == [r["final_yield"] for r in shown]
    chosen = client.get("/api/overview/lots.csv", params={**query, "lots.cols": "final_yield,lot_id"}).text
    assert chosen.splitlines()[0] == "final_yield,lot_id"
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.load_workbook(io.BytesIO(client.get("/api/overview/lots.xlsx", params=query).content))
    sheet = list(workbook.active.iter_rows(values_only=True))
    assert sheet[0][:2] == ("Product", "Lot")
    assert [r[1] for r in sheet[1:]] == [r["lot_id"] for r in shown]
    assert [r[-1] for r in sheet[1:]] == pytest.approx([r["final_yield"] for r in shown])
    # equal to a stage, within dates (the final-test file started a day after the retest)
    finals = client.get("/api/overview", params={"lots.stage": "final_test"}).json()["lots"]
    assert [(r["lot_id"], r["stage"]) for r in finals] == [(LOT, "final_test")]
    day = np.datetime64(FINAL_TEST_START, "s").astype(str)[:10]
    files = client.get("/api/files", params={"files.from": day, "files.to": day}).json()["files"]
    assert [f["path"].rsplit("/", 1)[1] for f in files] == ["c_final.stdf"]


def test_an_html_table_pages_and_its_links_keep_the_view(client):
    everything = client.get("/api/overview", params={"lots.sort": "lot_id"}).json()["lots"]
    text = client.get("/", params={"lots.sort": "lot_id", "lots.per": "3", "lots.page": "2"}).text
    table = text[text.index('<table data-table="lots"') :]
    table = table[: table.index("</table>")]
    shown = re.findall(r'data-column="lot_id"><a href="[^"]*">([^<]+)</a>', table)
    assert shown == [r["lot_id"] for r in everything[3:6]]
    assert f"Rows 4–6 of {len(everything)}" in text
    assert 'href="?lots.sort=lot_id&amp;lots.per=3&amp;lots.page=3" rel="next"' in text
    # the CSV link carries the view: its rows are those the page filters (all pages)
    assert 'href="/api/overview/lots.csv?lots.sort=lot_id&amp;lots.per=3&amp;lots.page=2"' in text


# ------------------------------------------------------------------------------------------------
# In a browser

CHROMIUM = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and os.path.exists(p)), None)
browser_only = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on this machine (`make system` installs Debian's chromium package)"
)


@pytest.fixture(scope="module")
def base_url(drill_app, client):
    client.get("/api/pat")  # the screening done, so the pages have their layers
    with serving(drill_app) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def tab(browser, base_url):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, extra_http_headers=served_headers()
    )
    page = context.new_page()
    page.errors = []
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def api(base_url: str, path: str) -> dict:
    with urlopen(Request(f"{base_url}/api{path}", headers=served_headers())) as response:
        return json.load(response)


def api_text(base_url: str, path: str) -> str:
    with urlopen(Request(f"{base_url}{path}", headers=served_headers())) as response:
        return response.read().decode()


def cells(page, table: str, column: str) -> list[str]:
    return page.locator(f'table[data-table="{table}"] tbody td[data-column="{column}"]').all_inner_texts()


def stat(page, key: str) -> str:
    return page.locator(f'[data-stat="{key}"]').inner_text()


def percent(value) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def number(value) -> str:
    return "—" if value is None else f"{value:.4g}"


def click_die(page, element_id: str, x: int, y: int) -> None:
    """A real mouse click on die (x, y) of the plotly map in ``#element_id``."""
    page.wait_for_selector(f"#{element_id} .main-svg")
    at = page.evaluate(
        """([id, x, y]) => { const el = document.getElementById(id), l = el._fullLayout, box = el.getBoundingClientRect();
           return [box.left + l.xaxis._offset + l.xaxis.d2p(x), box.top + l.yaxis._offset + l.yaxis.d2p(y)]; }""",
        [element_id, x, y],
    )
    page.mouse.click(at[0], at[1])


def path_of(page, base_url: str) -> str:
    return page.url.removeprefix(base_url)


@browser_only
def test_walk_lot_wafer_die_test_and_back(tab, base_url):
    tab.goto(f"{base_url}/lot/{LOT}?stage=wafer_sort")
    assert stat(tab, "wafers") == "1"
    tab.locator('table[data-table="wafers"]').get_by_role("link", name=WAFER, exact=True).click()
    tab.wait_for_url(f"**/wafer/{WAFER}?*")
    x, y = RETESTED_DIE
    click_die(tab, "bin-map", x, y)
    tab.wait_for_url(f"**/die/{x}/{y}?*")
    die = api(base_url, path_of(tab, base_url))
    assert stat(tab, "die") == f"{x}, {y}"
    assert stat(tab, "insertion_count") == str(die["insertion_count"]) == "2"
    assert stat(tab, "final_hard_bin") == str(die["final_hard_bin"])
    assert cells(tab, "insertions", "kind") == [i["kind"] for i in die["insertions"]]
    assert cells(tab, "results", "result") == [number(r["result"]) for r in die["results"]]
    assert cells(tab, "results", "hi_limit") == [number(r["hi_limit"]) for r in die["results"]]
    assert cells(tab, "results", "verdict") == [r["verdict"] for r in die["results"]]
    assert tab.locator("[data-trace]").get_attribute("data-trace") == "not-traced"
    # a test of the die, then back to the die and up to its wafer, the die marked
    tab.locator('table[data-table="results"]').get_by_role("link", name=str(SKIPPED)).first.click()
    tab.wait_for_url(f"**/test/{SKIPPED}*")
    test = api(base_url, path_of(tab, base_url))
    assert stat(tab, "count") == f"{test['count']:,}"
    # the Cpk chart: one trace per stage, never two stages stacked on one lot
    tab.wait_for_selector("#cpk .main-svg")
    traces = tab.evaluate("document.getElementById('cpk').data.map(t => ({name: t.name, x: t.x, y: t.y}))")
    stages = {row["stage"] for row in test["lots"]}
    assert {t["name"] for t in traces} == stages
    for t in traces:
        rows = [r for r in test["lots"] if r["stage"] == t["name"]]
        assert t["y"] == pytest.approx([r["cpk"] for r in rows])
    tab.go_back()
    tab.wait_for_url(f"**/die/{x}/{y}?*")
    tab.locator("[data-wafer-link]").click()
    tab.wait_for_url(f"**/wafer/{WAFER}?*x={x}&y={y}")
    tab.wait_for_selector("#bin-map .main-svg")
    assert tab.errors == []


@browser_only
def test_the_screening_layer_and_a_traced_die(tab, base_url):
    pat = api(base_url, "/pat")
    part = next(p for p in pat["parts"] if p["x"] is not None)
    wafer_path = f"/lot/{part['lot_id']}/wafer/{part['wafer_id']}?stage=wafer_sort"
    tab.goto(base_url + wafer_path)
    wafer = api(base_url, wafer_path)
    tab.wait_for_selector("#bin-map .main-svg")
    traces = tab.evaluate("document.getElementById('bin-map').data.filter(t => t.type === 'scatter')"
                          ".map(t => ({name: t.name, x: t.x, y: t.y}))")  # fmt: skip
    layer = wafer["screening_layer"]
    assert sorted((x, y) for t in traces for x, y in zip(t["x"], t["y"], strict=True)) == sorted(
        zip(layer["x"], layer["y"], strict=True)
    )
    assert {t["name"] for t in traces} == {f"{rule} ({n})" for rule, n in layer["counts"].items()}
    click_die(tab, "bin-map", part["x"], part["y"])
    tab.wait_for_url(f"**/die/{part['x']}/{part['y']}?*")
    assert tab.locator("[data-screening]").get_attribute("data-screening") == "removed"
    assert cells(tab, "screening", "rule") == [
        r["rule"] for r in api(base_url, path_of(tab, base_url))["screening"]
    ]
    tab.goto(base_url + die_path(*TRACED_DIE))
    assert stat(tab, "units_reached") == "1"
    assert cells(tab, "shipments", "shipment") == ["SH1"]
    assert tab.errors == []


@browser_only
def test_sort_and_filter_a_table_in_the_browser(tab, base_url):
    tab.goto(base_url + "/")
    tab.locator('table[data-table="lots"] th[data-column="final_yield"] a').click()
    tab.wait_for_url("**lots.sort=final_yield*")
    tab.locator('table[data-table="lots"] th[data-column="final_yield"] a').click()
    tab.wait_for_url("**lots.sort=-final_yield*")
    assert (
        tab.locator('table[data-table="lots"] th[data-column="final_yield"]').get_attribute("aria-sort")
        == "descending"
    )
    tab.fill('input[name="lots.q"]', "tk4187")
    tab.locator('form[data-table-form="lots"] button').click()
    tab.wait_for_url("**lots.q=tk4187*")
    query = urlsplit(tab.url).query
    assert parse_qs(query) == {"lots.sort": ["-final_yield"], "lots.q": ["tk4187"]}
    lots = api(base_url, "/overview?" + query)["lots"]
    assert cells(tab, "lots", "lot_id") == [r["lot_id"] for r in lots]
    assert cells(tab, "lots", "final_yield") == [percent(r["final_yield"]) for r in lots]
    assert [r["final_yield"] for r in lots] == sorted((r["final_yield"] for r in lots), reverse=True)
    # the CSV link downloads the rows shown
    href = tab.locator('#table-lots a[data-download="csv"]').get_attribute("href")
    rows = list(csv.DictReader(io.StringIO(api_text(base_url, href))))
    assert [r["lot_id"] for r in rows] == cells(tab, "lots", "lot_id")
    # the overview's counts are its twin's
    overview = api(base_url, "/overview")
    assert stat(tab, "lot_count") == str(overview["lot_count"])
    assert stat(tab, "held_lot_count") == str(overview["held_lot_count"])
    assert tab.errors == []


@browser_only
def test_compare_two_wafers_in_the_browser(tab, base_url):
    overview = api(base_url, "/overview")
    lot_a, lot_b = [r["lot_id"] for r in overview["lots"] if r["lot_id"].startswith("TK")][:2]
    a, b = (f"{lot}/{api(base_url, f'/lot/{lot}')['wafers'][0]['wafer_id']}" for lot in (lot_a, lot_b))
    tab.goto(f"{base_url}/compare?a={a}&b={b}")
    page = api(base_url, f"/compare?a={a}&b={b}")
    for side in ("a", "b"):
        assert stat(tab, f"{side}_final_yield") == percent(page[side]["total"]["final_yield"])
        assert stat(tab, f"{side}_dies") == f"{page[side]['total']['first_pass_dies']:,}"
        tab.wait_for_selector(f"#map-{side} .main-svg")
        z = tab.evaluate(f"document.getElementById('map-{side}').data[0].z")
        assert sum(v is not None for row in z for v in row) == len(page[side]["bin_map"]["x"])
    tab.wait_for_selector("#compare-histogram .main-svg")
    bars = tab.evaluate("document.getElementById('compare-histogram').data.map(t => t.y)")
    assert bars == [page["histogram_a"], page["histogram_b"]]
    assert cells(tab, "tests", "shift_sigma") == [number(t["shift_sigma"]) for t in page["tests"]][:300]
    # another test from the picker
    other = next(t["test_num"] for t in page["tests"] if t["test_num"] != page["test_num"])
    tab.select_option("#compare-test", str(other))
    tab.wait_for_url(f"**test={other}*")
    assert api(base_url, path_of(tab, base_url))["test_num"] == other
    assert tab.errors == []
