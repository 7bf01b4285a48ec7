"""The trace, origin, certificate, verify, supply and transparency pages in a real browser
(Playwright + Debian's chromium, as test_browser.py): the numbers shown are the API's, a
tampered certificate shows as invalid with the field that changed, and a screenshot of each page
is saved under the pytest tmp dir."""

from __future__ import annotations

import shutil

import pytest

from silicio import trace

from .conftest import serving
from .test_browser import CHROMIUM, api, browser, cells, money, number, page, screenshots, stat  # noqa: F401
from .test_trace_pages import trace_data_dir  # noqa: F401

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine")


@pytest.fixture(scope="module")
def tampered_dir(tmp_path_factory, trace_data_dir):  # noqa: F811
    """The trace lake with its origin certificate changed after signing (criterion B -> A)."""
    copy = tmp_path_factory.mktemp("tampered-lake") / "data"
    shutil.copytree(trace_data_dir, copy)
    with trace.TraceStore.at(copy) as store, store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE trace_certificates SET document = replace(document, "
                             "'\"origin_criterion\":\"B\"', '\"origin_criterion\":\"A\"') WHERE kind = 'origin'")  # fmt: skip
    return copy


@pytest.fixture(scope="module")
def trace_url(tampered_dir):
    from silicio.web import create_app

    with serving(create_app(tampered_dir)) as url:
        yield url


def test_trace_origin_and_certificates(page, trace_url, screenshots):  # noqa: F811
    page.goto(trace_url + "/trace")
    page.select_option('form[data-form="forward"] select', "lot")
    lots = [c["first_names"] for c in api(trace_url, "/trace?direction=backward&kind=shipment&name=SH-TK41890-01")["counts"]
            if c["kind"] == "lot"]  # fmt: skip
    lot = lots[0].split(",")[0]
    page.fill('form[data-form="forward"] input[name="name"]', lot)
    page.click('form[data-form="forward"] button')
    page.wait_for_url("**direction=forward*")
    result = api(trace_url, f"/trace?direction=forward&kind=lot&name={lot}")
    assert stat(page, "units") == f"{result['query']['units']:,}"
    assert cells(page, "shipments", "shipment") == [s["shipment"] for s in result["shipments"]]
    assert stat(page, "audit_entries") == f"{result['audit']['entries']:,}"
    page.screenshot(path=screenshots / "t1_trace.png", full_page=True)

    page.get_by_role("link", name="Origin", exact=True).click()
    page.wait_for_url("**/origin")
    origin = api(trace_url, "/origin")
    assert cells(page, "products", "national_content_pct") == [number(p["national_content_pct"])
                                                              for p in origin["products"]]  # fmt: skip
    assert cells(page, "products", "rvc_tv_pct") == [number(p["rvc_tv_pct"]) for p in origin["products"]]
    page.screenshot(path=screenshots / "t2_origin.png", full_page=True)
    part = origin["products"][0]["part_number"]
    page.get_by_role("link", name=part, exact=True).click()
    page.wait_for_url(f"**/origin/{part}")
    detail = api(trace_url, f"/origin/{part}")
    assert stat(page, "rvc_nc_pct") == f"{detail['usmca']['rvc_nc_pct']:.1f} %"
    page.screenshot(path=screenshots / "t3_origin_product.png", full_page=True)

    page.get_by_role("link", name="Certificates", exact=True).click()
    listed = api(trace_url, "/certificates")["certificates"]
    assert cells(page, "certificates", "cert_id") == [c["cert_id"] for c in listed]
    page.screenshot(path=screenshots / "t4_certificates.png", full_page=True)
    valid = next(c["cert_id"] for c in listed if c["kind"] == "conformance")
    tampered = next(c["cert_id"] for c in listed if c["kind"] == "origin")
    page.get_by_role("link", name=valid, exact=True).click()
    page.wait_for_url(f"**/certificates/{valid}")
    assert stat(page, "verdict") == "VALID"
    page.get_by_role("link", name="public verification page").click()
    page.wait_for_url(f"**/verify/{valid}")
    assert stat(page, "verdict") == "VALID" and api(trace_url, f"/verify/{valid}")["verification"]["ok"]
    page.screenshot(path=screenshots / "t5_verify_valid.png", full_page=True)
    page.goto(f"{trace_url}/verify/{tampered}")
    assert stat(page, "verdict") == "INVALID"
    problems = page.locator("[data-problem]").all_inner_texts()
    assert problems == api(trace_url, f"/verify/{tampered}")["verification"]["problems"]
    assert "minimum_data_elements.origin_criterion" in problems[0]
    page.screenshot(path=screenshots / "t6_verify_tampered.png", full_page=True)
    assert page.errors == []


def test_supply_and_transparency(page, trace_url, screenshots):  # noqa: F811
    page.goto(trace_url + "/supply")
    supply = api(trace_url, "/supply")
    assert stat(page, "stress_flagged") == str(supply["stress_flagged"])
    assert stat(page, "mc_cvar_95") == money(supply["monte_carlo"]["lost_profit_cvar_0.95"])
    assert cells(page, "stress", "flagged") == ["yes" if r["flagged"] else "no" for r in supply["stress"]]
    assert cells(page, "nearshore_gaps", "input") == [g["input"] for g in supply["nearshore_gaps"]]
    page.screenshot(path=screenshots / "t7_supply.png", full_page=True)
    page.get_by_role("link", name="Transparency", exact=True).click()
    page.wait_for_url("**/transparency")
    public = api(trace_url, "/transparency")
    assert stat(page, "local_msmes") == str(public["local_msmes"])
    assert cells(page, "by_state", "organisations") == [str(c["organisations"]) for c in public["by_state"]]
    page.screenshot(path=screenshots / "t8_transparency.png", full_page=True)
    assert page.errors == []


@pytest.mark.parametrize("language", ["en", "es"])
def test_transparency_charts_draw_the_twins_numbers(page, trace_url, screenshots, language):  # noqa: F811
    page.goto(f"{trace_url}/transparency?lang={language}")
    public = api(trace_url, "/transparency")
    label = "name_es" if language == "es" else "name"
    for name in ("by_state", "by_size", "by_capability", "by_kind"):
        page.wait_for_selector(f"#chart-{name} .main-svg")
        drawn = page.evaluate(f"document.getElementById('chart-{name}').data[0]")
        labels, values = (drawn["x"], drawn["y"]) if drawn["orientation"] == "v" else (drawn["y"], drawn["x"])
        assert labels == [row[label] for row in public[name]], name
        assert values == [row["organisations"] for row in public[name]], name
    page.wait_for_selector("#chart-national_content .main-svg")
    drawn = page.evaluate("document.getElementById('chart-national_content').data[0]")
    assert drawn["x"] == [row["part_number"] for row in public["national_content"]]
    assert drawn["y"] == [row["national_content_pct"] for row in public["national_content"]]
    page.screenshot(path=screenshots / f"t9_transparency_{language}.png", full_page=True)
    assert page.errors == []
