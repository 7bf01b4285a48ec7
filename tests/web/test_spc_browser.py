"""The SPC and gage pages in a real browser (Playwright + Debian's chromium, as test_browser.py):
the numbers shown are the API's, the control chart marks the violating points, no JavaScript
error, and a screenshot of each page is saved under the pytest tmp dir."""

from __future__ import annotations

import pytest

from .conftest import serving
from .test_browser import (  # noqa: F401
    CHROMIUM,
    api,
    browser,
    capability,
    cells,
    chart_data,
    number,
    page,
    screenshots,
    stat,
)
from .test_spc_pages import STUDY, TEST, spc_data_dir  # noqa: F401

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine")


@pytest.fixture(scope="module")
def spc_url(spc_data_dir):  # noqa: F811
    from silicio.web import create_app

    with serving(create_app(spc_data_dir)) as url:
        yield url


@pytest.mark.parametrize("chart", ["imr", "xbar-r"])
def test_spc_page_shows_the_api_numbers(page, spc_url, screenshots, chart):  # noqa: F811
    path = f"/spc/test/{TEST}?chart={chart}&rules=nelson"
    page.goto(spc_url + path)
    model = api(spc_url, path)
    assert stat(page, "center") == number(model["center"])
    assert stat(page, "sigma") == number(model["sigma"])
    assert stat(page, "violations") == str(len(model["violations"]))
    for row in model["indices"]:
        shown = stat(page, row["index"].lower())
        assert (
            shown == f"{capability(row['estimate'])} [{capability(row['lower'])}, {capability(row['upper'])}]"
        )
    assert cells(page, "violations", "rule")[:300] == [v["rule"] for v in model["violations"]][:300]
    traces = chart_data(page, "control-chart")
    assert traces[0]["y"] == pytest.approx([p["value"] for p in model["points"]])
    marked = [p["value"] for p in model["points"] if p["rules"]]
    assert traces[-1]["y"] == pytest.approx(marked) and marked, "violations are marked in their own trace"
    histogram = chart_data(page, "capability-histogram")
    assert sum(histogram[0]["y"]) == sum(model["histogram"]["counts"])
    chart_data(page, "dispersion-chart")
    assert page.errors == []
    page.screenshot(path=screenshots / f"spc_{chart}.png", full_page=True)


def test_from_test_page_to_spc_and_gage(page, spc_url, screenshots):  # noqa: F811
    page.goto(f"{spc_url}/test/{TEST}")
    page.locator('a[data-link="spc"]').click()
    page.wait_for_url(f"**/spc/test/{TEST}?*")
    assert stat(page, "test_num") == str(TEST)

    page.get_by_role("link", name="Gage R&R", exact=True).click()
    page.wait_for_url("**/gage")
    index = api(spc_url, "/gage")
    assert cells(page, "studies", "name") == [s["name"] for s in index["studies"]]
    page.screenshot(path=screenshots / "gage_index.png", full_page=True)
    page.locator('table[data-table="studies"]').get_by_role("link", name=STUDY, exact=True).click()
    page.wait_for_url(f"**/gage/{STUDY}")
    study = api(spc_url, f"/gage/{STUDY}")
    assert stat(page, "percent_grr") == number(study["percent_grr"])
    assert cells(page, "components", "sigma") == [number(c["sigma"]) for c in study["components"]]
    page.screenshot(path=screenshots / "gage_study.png", full_page=True)
    assert page.errors == []
    # The report is silicio.metrology's standalone page (no icon link: the browser's favicon probe 404s).
    page.locator('a[data-link="report"]').click()
    page.wait_for_url(f"**/gage/{STUDY}/report")
    assert "Gage R&R study" in page.locator("h1").inner_text()
    page.screenshot(path=screenshots / "gage_report.png", full_page=True)
