"""End to end in a real browser: Playwright drives Debian's chromium against the dashboard served
by uvicorn, clicks from the overview to a lot, a wafer and a test, checks that the numbers shown
(tables, headline figures, chart data) are the API's, that no page logs a JavaScript error, and
saves a screenshot of each page (the folder is printed at the end of the run)."""

from __future__ import annotations

import json
import math
import os
import shutil
from urllib.request import Request, urlopen

import playwright.sync_api as playwright_api
import pytest

from silicio.web import create_app
from silicio.web.render import HTML_ROWS

from .conftest import SCREENSHOTS_KEY, served_headers, serving

CHROMIUM = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and os.path.exists(p)), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on this machine (`make system` installs Debian's chromium package)"
)


def percent(value) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def number(value, digits: int = 4) -> str:
    """A measured value as the pages write it: ``digits`` significant digits (Python's own "g"
    rounding), grouped, in plain notation (never 5.519e+04), trailing zeros dropped."""
    if value is None:
        return "—"
    rounded = float(f"{value:.{digits}g}")
    if rounded == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(rounded))))
    text = f"{rounded:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def capability(value) -> str:
    """Cp, Cpk: three significant digits."""
    return number(value, 3)


def money(value) -> str:
    return "—" if value is None else f"{value:,.0f} USD" if abs(value) >= 1000 else f"{value:,.2f} USD"


def integer(value) -> str:
    return "—" if value is None else f"{value:,}"


@pytest.fixture(scope="module")
def base_url(data_dir, settings):
    with serving(create_app(data_dir, settings=settings)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        # Chromium's sandbox needs user namespaces, which containers (and root) often lack.
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    """A page that records console errors and uncaught exceptions in ``page.errors``."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, extra_http_headers=served_headers()
    )
    tab = context.new_page()
    tab.errors = []
    tab.on("console", lambda message: tab.errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    yield tab
    context.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory, request):
    folder = tmp_path_factory.mktemp("screenshots")
    request.config.stash[SCREENSHOTS_KEY] = folder
    return folder


def api(base_url: str, path: str) -> dict:
    """The JSON twin of a page: the same path and query under /api."""
    with urlopen(Request(f"{base_url}/api{path}", headers=served_headers())) as response:
        return json.load(response)


def path_of(page, base_url: str) -> str:
    return page.url.removeprefix(base_url)


def cells(page, table: str, column: str) -> list[str]:
    return page.locator(f'table[data-table="{table}"] tbody td[data-column="{column}"]').all_inner_texts()


def stat(page, key: str) -> str:
    return page.locator(f'[data-stat="{key}"]').inner_text()


def chart_data(page, element_id: str) -> list[dict]:
    """The traces plotly drew in ``#element_id`` (waits for the chart)."""
    page.wait_for_selector(f"#{element_id} .main-svg")
    return page.evaluate(
        f"document.getElementById('{element_id}').data.map(t => ({{x: t.x, y: t.y, z: t.z}}))"
    )


def test_click_from_overview_to_lot_wafer_and_test(page, base_url, screenshots):
    # Overview: the lots table and the trend chart show the API's yields.
    page.goto(base_url + "/")
    overview = api(base_url, "/overview")
    assert cells(page, "lots", "lot_id") == [lot["lot_id"] for lot in overview["lots"]]
    assert cells(page, "lots", "final_yield") == [percent(lot["final_yield"]) for lot in overview["lots"]]
    assert cells(page, "lots", "final_good") == [integer(lot["final_good"]) for lot in overview["lots"]]
    assert cells(page, "held_lots", "lot_id") == [lot["lot_id"] for lot in overview["held_lots"]]
    trend = chart_data(page, "yield-trend")
    assert sum(len(t["y"]) for t in trend) == len(overview["lots"])
    assert sorted(y for t in trend for y in t["y"]) == pytest.approx(
        sorted(100 * lot["final_yield"] for lot in overview["lots"])
    )
    page.screenshot(path=screenshots / "1_overview.png", full_page=True)

    # A lot.
    lot_id = overview["held_lots"][0]["lot_id"]
    page.locator('table[data-table="lots"]').get_by_role("link", name=lot_id, exact=True).click()
    page.wait_for_url(f"**/lot/{lot_id}?*")
    lot = api(base_url, path_of(page, base_url))
    assert lot["lot_id"] == lot_id == stat(page, "lot_id")
    assert stat(page, "final_yield") == percent(lot["total"]["final_yield"])
    assert stat(page, "first_pass_yield") == percent(lot["total"]["first_pass_yield"])
    assert cells(page, "wafers", "wafer_id") == [w["wafer_id"] for w in lot["wafers"]]
    assert cells(page, "wafers", "final_yield") == [percent(w["final_yield"]) for w in lot["wafers"]]
    assert cells(page, "bin_pareto", "count") == [integer(b["count"]) for b in lot["bin_pareto"]]
    assert cells(page, "worst_tests", "cpk") == [capability(t["cpk"]) for t in lot["worst_tests"]]
    assert chart_data(page, "pareto")[0]["y"] == [b["count"] for b in lot["bin_pareto"]]
    stacked = chart_data(page, "stacked-map")[0]["z"]
    assert sum(v is not None for row in stacked for v in row) == len(lot["stacked_fail_map"]["x"])
    page.screenshot(path=screenshots / "2_lot.png", full_page=True)

    # A wafer, then another test on the parametric map.
    wafer_id = lot["wafers"][0]["wafer_id"]
    page.locator('table[data-table="wafers"]').get_by_role("link", name=wafer_id, exact=True).click()
    page.wait_for_url(f"**/wafer/{wafer_id}?*")
    wafer = api(base_url, path_of(page, base_url))
    assert stat(page, "wafer_id") == wafer_id
    assert stat(page, "final_yield") == percent(wafer["total"]["final_yield"])
    assert cells(page, "bins", "count") == [integer(b["count"]) for b in wafer["bins"]]
    bin_map = chart_data(page, "bin-map")[0]["z"]
    assert sum(v is not None for row in bin_map for v in row) == len(wafer["bin_map"]["x"])
    other = next(t["test_num"] for t in wafer["tests"] if t["test_num"] != wafer["test_num"])
    page.select_option("#test-picker", str(other))  # the picker reloads the page by itself
    page.wait_for_url(f"**test={other}*")
    wafer = api(base_url, path_of(page, base_url))
    assert wafer["test_num"] == other
    assert cells(page, "test_statistics", "mean") == [number(t["mean"]) for t in wafer["test_statistics"]]
    values = [v for row in chart_data(page, "parametric-map")[0]["z"] for v in row if v is not None]
    assert sorted(values) == pytest.approx(
        sorted(v for v in wafer["parametric_map"]["value"] if v is not None)
    )
    page.screenshot(path=screenshots / "3_wafer.png", full_page=True)

    # The test.
    page.locator('table[data-table="test_statistics"]').get_by_role(
        "link", name=str(other), exact=True
    ).click()
    page.wait_for_url(f"**/test/{other}*")
    test = api(base_url, path_of(page, base_url))
    assert stat(page, "test_num") == str(other)
    assert stat(page, "count") == integer(test["count"])
    assert stat(page, "mean") == number(test["mean"])
    assert stat(page, "cpk") == capability(test["cpk"])
    assert cells(page, "lots", "cpk") == [capability(row["cpk"]) for row in test["lots"]]
    assert chart_data(page, "histogram")[0]["y"] == test["histogram"]["counts"]
    assert chart_data(page, "cpk")[0]["y"] == pytest.approx([row["cpk"] for row in test["lots"]])
    page.screenshot(path=screenshots / "4_test.png", full_page=True)
    assert page.errors == []


def test_pat_files_search_and_missing_pages(page, base_url, screenshots):
    page.goto(base_url + "/pat")
    pat = api(base_url, "/pat")
    assert cells(page, "lots", "yield_after") == [percent(lot["yield_after"]) for lot in pat["lots"]]
    assert cells(page, "parts", "rules") == ["; ".join(p["rules"]) for p in pat["parts"]][:HTML_ROWS]
    page.screenshot(path=screenshots / "5_pat.png", full_page=True)

    page.get_by_role("link", name="Files", exact=True).click()
    page.wait_for_url("**/files")
    files = api(base_url, "/files")
    assert stat(page, "quarantined") == str(files["counts"]["quarantined"])
    assert cells(page, "quarantine", "reason") == [q["reason"] for q in files["quarantine"]]
    page.screenshot(path=screenshots / "6_files.png", full_page=True)

    # The search box: a whole wafer id opens the wafer.
    wafer_id = api(base_url, "/search?q=-01")["hits"][0]["wafer_id"]
    page.fill('input[name="q"]', wafer_id)
    page.press('input[name="q"]', "Enter")
    page.wait_for_url(f"**/wafer/{wafer_id}*")
    page.wait_for_selector("#bin-map .main-svg")
    page.fill('input[name="q"]', "TK4")
    page.press('input[name="q"]', "Enter")
    page.wait_for_url("**/search?q=TK4")
    assert len(cells(page, "hits", "label")) == len(api(base_url, "/search?q=TK4")["hits"])
    page.screenshot(path=screenshots / "7_search.png", full_page=True)
    assert page.errors == []

    response = page.goto(base_url + "/lot/NO-SUCH-LOT")
    assert response.status == 404
    assert "no lot 'NO-SUCH-LOT'" in page.locator("[data-error]").inner_text()
    page.screenshot(path=screenshots / "8_not_found.png", full_page=True)
    # The only error is the document's own 404 status.
    assert all("404" in error for error in page.errors)


def test_pages_in_spanish_and_api_docs_render_with_no_other_site(page, base_url, screenshots):
    # Everything not served by the dashboard is refused: the pages must not need it.
    outside = []

    def local_only(route):
        if route.request.url.startswith(base_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.context.route("**/*", local_only)
    page.goto(base_url + "/?lang=es")
    assert page.locator("html").get_attribute("lang") == "es-MX"
    assert page.locator("h1").inner_text() == "Resumen"
    trend = chart_data(page, "yield-trend")
    assert trend and page.locator("#yield-trend .g-ytitle").text_content() == "rendimiento final (%)"
    page.screenshot(path=screenshots / "es_overview.png", full_page=True)
    page.get_by_role("link", name="English", exact=True).click()
    page.wait_for_url("**/?lang=en")
    assert page.locator("h1").inner_text() == "Overview"

    page.goto(base_url + "/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)  # Swagger UI listed the operations
    assert page.locator(".opblock").count() > 20
    page.goto(base_url + "/redoc")
    page.wait_for_selector("[role=menuitem], .menu-content li", timeout=30_000)  # ReDoc drew its menu
    # ReDoc's "powered by" badge is an image on redocly's site: the policy blocks it, nothing else.
    errors = [e for e in page.errors if "https://cdn.redoc.ly/redoc/logo-mini.svg" not in e]
    assert outside == [] and errors == []
