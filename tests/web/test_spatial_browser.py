"""The spatial pages in a real browser (Playwright, Debian's chromium): the wafer page's bin map
gets the inline defects as a layer, one trace per class, at the API's positions; the signatures
and inline-defects pages draw their charts; no page logs a JavaScript error."""

from __future__ import annotations

import pytest

from silicio.web import create_app

from ..spatial.fab_lake import inspected_lake
from .conftest import serving
from .test_browser import CHROMIUM, api, browser, chart_data, page  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    manifest, data = inspected_lake(tmp_path_factory.mktemp("spatial_browser"))
    with serving(create_app(data)) as url:
        yield manifest, url


def test_defect_layer_on_the_bin_map(page, served):  # noqa: F811
    manifest, base_url = served
    f = manifest.inspections[0]
    path = f"/lot/{f.lot_id}/wafer/{f.wafer_id}"
    page.goto(base_url + path)
    spatial = api(base_url, path)["spatial"]
    page.wait_for_function(
        "document.getElementById('bin-map').data && document.getElementById('bin-map').data.length > 1"
    )
    traces = page.evaluate(
        "document.getElementById('bin-map').data.slice(1).map(t => ({name: t.name, x: t.x, y: t.y}))"
    )
    shown = sorted((x, y) for t in traces for x, y in zip(t["x"], t["y"], strict=True))
    assert shown == sorted((d["x"], d["y"]) for d in spatial["defects"])
    assert {t["name"] for t in traces} == {f"{d['step_id']} {d['classname']}" for d in spatial["defects"]}
    assert page.locator('[data-stat="signature"]').inner_text() == spatial["signature"]
    assert page.errors == []


def test_signature_and_inline_charts(page, served):  # noqa: F811
    _, base_url = served
    page.goto(base_url + "/signatures")
    pareto = api(base_url, "/signatures")["pareto"]
    bars = chart_data(page, "signature-pareto")
    assert bars[0]["y"] == [row["wafers"] for row in pareto]
    chart_data(page, "signature-trend")
    page.goto(base_url + "/inline")
    classes = [r for r in api(base_url, "/inline")["classes"] if r["classname"] != "all"]
    kill = chart_data(page, "kill-ratios")
    assert kill[0]["y"] == [r["kill_ratio"] for r in classes]
    assert page.errors == []
