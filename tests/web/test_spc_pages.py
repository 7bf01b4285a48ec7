"""The SPC page (``/spc/test/{n}``) and the gage R&R pages (``/gage``) and their JSON twins: the
numbers are silicio.spc's and silicio.metrology's called directly, every table has a CSV, bad
input is a 4xx that names what is wrong."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import numpy as np
import pyarrow.csv
import pytest
from fastapi.testclient import TestClient

from silicio import spc
from silicio.metrology import gage_rr_anova, gage_rr_average_range
from silicio.metrology.report import gage_study_html
from silicio.web import create_app

from .conftest import signed_in

TEST = 2010  # IDD_ACTIVE_VDDC of the demo: two-sided limits
STUDY = "caliper_synthetic"


def write_gage_study(folder: Path, name: str = STUDY, seed: int = 7) -> Path:
    """A synthetic crossed study: 10 parts x 3 appraisers x 3 trials (part spread >> gage noise)."""
    rng = np.random.default_rng(seed)
    part_true = rng.normal(10.0, 0.5, 10)
    appraiser_bias = rng.normal(0.0, 0.03, 3)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["part", "appraiser", "value"])
        for _trial in range(3):
            for a, appraiser in enumerate("ABC"):
                for p in range(10):
                    value = part_true[p] + appraiser_bias[a] + rng.normal(0.0, 0.05)
                    writer.writerow([f"P{p + 1:02d}", appraiser, f"{value:.5f}"])
    return path


@pytest.fixture(scope="module")
def spc_data_dir(tmp_path_factory, data_dir) -> Path:
    copy = tmp_path_factory.mktemp("spc-lake") / "data"
    shutil.copytree(data_dir, copy)
    write_gage_study(copy / "metrology")
    (copy / "metrology" / "unbalanced.csv").write_text("part,appraiser,value\n1,A,1.0\n1,A,1.1\n1,B,1.0\n")
    return copy


@pytest.fixture(scope="module")
def spc_client(spc_data_dir):
    with TestClient(create_app(spc_data_dir)) as client:
        signed_in(client)
        yield client


def last_results(db, test_num: int) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """The test's last result per part in test order, its wafer labels, and its usual limits."""
    frame = db.polars(
        "SELECT t.lot_id, t.wafer_id, t.result, t.lo_limit, t.hi_limit FROM tidy t "
        "JOIN files f ON f.sha256 = t.file_sha256 WHERE t.test_num = ? AND t.is_last_test "
        "AND isfinite(t.result) AND t.lot_id IS NOT NULL ORDER BY f.started NULLS LAST, t.file_sha256, t.seq",
        [test_num],
    )
    labels = np.array(
        [f"{lot}/{wafer}" for lot, wafer in frame.select("lot_id", "wafer_id").iter_rows()], object
    )
    limits = (frame["lo_limit"].mode()[0], frame["hi_limit"].mode()[0])
    return frame["result"].to_numpy(), labels, limits


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_imr_chart_rules_and_capability_are_silicio_spc(spc_client, db):
    page = spc_client.get(f"/api/spc/test/{TEST}", params={"chart": "imr", "baseline": 50}).json()
    values, _, (lsl, usl) = last_results(db, TEST)
    limits = spc.imr_limits(values[:50])
    individuals, moving = spc.apply(limits, values)
    assert page["chart"] == "imr" and page["baseline"] == 50
    assert page["center"] == pytest.approx(limits.mean) and page["sigma"] == pytest.approx(limits.sigma)
    assert [p["value"] for p in page["points"]] == pytest.approx(values.tolist())
    assert [p["ucl"] for p in page["points"]] == pytest.approx(individuals.ucl.tolist())
    assert [p["phase"] for p in page["points"]] == ["I"] * 50 + ["II"] * (values.size - 50)
    found = individuals.rules("we")
    expected = sorted((int(i), code) for code, points in found.points.items() for i in points)
    shown = sorted((v["point"], v["rule"]) for v in page["violations"] if v["chart"] == "individuals")
    assert shown == expected and expected, "the demo data should break a rule somewhere"
    for point, code in expected:
        assert code in page["points"][point]["rules"]
    beyond = sorted(v["point"] for v in page["violations"] if v["chart"] == "moving range")
    assert beyond == moving.out_of_control.tolist()
    cap = spc.capability(values, lsl, usl)
    indices = {row["index"]: row for row in page["indices"]}
    assert indices["Cpk"]["estimate"] == pytest.approx(cap.cpk)
    assert (indices["Cpk"]["lower"], indices["Cpk"]["upper"]) == pytest.approx(cap.cpk_interval)
    assert indices["Ppk"]["estimate"] == pytest.approx(cap.ppk)
    assert indices["Cp"]["estimate"] == pytest.approx(cap.cp) and indices["Pp"]["estimate"] == pytest.approx(
        cap.pp
    )
    assert page["capability"]["normal"] == (not cap.non_normal)
    assert sum(page["histogram"]["counts"]) == values.size


@pytest.mark.parametrize("chart", ["xbar-r", "xbar-s"])
def test_xbar_charts_are_silicio_spc_over_wafers(spc_client, db, chart):
    page = spc_client.get(f"/api/spc/test/{TEST}", params={"chart": chart, "rules": "nelson"}).json()
    values, labels, (lsl, usl) = last_results(db, TEST)
    wafers = list(dict.fromkeys(labels))
    assert [p["subgroup"] for p in page["points"]] == wafers
    baseline = min(20, len(wafers))
    assert page["baseline"] == baseline
    in_baseline = np.isin(labels, wafers[:baseline])
    make = spc.xbar_r_limits if chart == "xbar-r" else spc.xbar_s_limits
    limits = make(values[in_baseline], subgroup=labels[in_baseline])
    xbar, dispersion = spc.apply(limits, values, subgroup=labels)
    assert page["sigma"] == pytest.approx(limits.sigma)
    assert [p["value"] for p in page["points"]] == pytest.approx(xbar.statistic.tolist())
    assert [p["lcl"] for p in page["points"]] == pytest.approx(xbar.lcl.tolist())
    assert [p["value"] for p in page["dispersion"]] == pytest.approx(dispersion.statistic.tolist())
    found = xbar.rules("nelson")
    assert sorted((v["point"], v["rule"]) for v in page["violations"] if v["chart"] == "xbar") == sorted(
        (int(i), code) for code, points in found.points.items() for i in points
    )
    method = "range" if chart == "xbar-r" else "sd"
    cap = spc.capability(values, lsl, usl, subgroup=labels, within_method=method)
    assert page["capability"]["sigma_within"] == pytest.approx(cap.sigma_within)
    assert {r["index"]: r["estimate"] for r in page["indices"]}["Cpk"] == pytest.approx(cap.cpk)


def test_spc_html_and_csv(spc_client):
    html = spc_client.get(f"/spc/test/{TEST}", params={"chart": "xbar-r"})
    assert html.status_code == 200 and 'id="control-chart"' in html.text and 'id="page-data"' in html.text
    page = spc_client.get(f"/api/spc/test/{TEST}", params={"chart": "xbar-r"}).json()
    for table in ("points", "dispersion", "violations", "indices"):
        response = spc_client.get(f"/api/spc/test/{TEST}/{table}.csv", params={"chart": "xbar-r"})
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        assert len(read_csv(response.text)) == len(page[table])
    rows = read_csv(spc_client.get(f"/api/spc/test/{TEST}/violations.csv", params={"chart": "xbar-r"}).text)
    assert [int(r["point"]) for r in rows] == [v["point"] for v in page["violations"]]
    assert spc_client.get(f"/test/{TEST}").text.count(f'href="/spc/test/{TEST}?') == 1


def test_spc_is_cached(spc_client, monkeypatch):
    from silicio.web import spc_pages

    computed = []
    real = spc_pages.spc_page
    monkeypatch.setattr(
        spc_pages, "spc_page", lambda *args, **kwargs: computed.append(args) or real(*args, **kwargs)
    )
    params = {"chart": "xbar-s", "baseline": 3}
    first = spc_client.get(f"/api/spc/test/{TEST}", params=params)
    assert spc_client.get(f"/spc/test/{TEST}", params=params).status_code == 200
    assert spc_client.get(f"/api/spc/test/{TEST}", params=params).json() == first.json()
    assert len(computed) == 1, "the page's twin, its HTML and a second request share one computation"


@pytest.mark.parametrize(
    ("url", "status", "words"),
    [
        ("/api/spc/test/99999", 404, "no results of test 99999"),
        ("/spc/test/99999", 404, "no results of test 99999"),
        (f"/api/spc/test/{TEST}?product=NOPE", 404, "product 'NOPE'"),
        (f"/api/spc/test/{TEST}?chart=pareto", 422, "chart"),
        (f"/api/spc/test/{TEST}?rules=aiag", 422, "rules"),
        (f"/api/spc/test/{TEST}?baseline=1", 422, "baseline"),
        (f"/api/spc/test/{TEST}?baseline=100000", 422, "baseline 100000 is more than"),
        (f"/api/spc/test/{TEST}/nothing.csv", 404, "no table 'nothing'"),
        ("/api/gage/nope", 404, "no gage study 'nope'"),
        ("/gage/nope/report", 404, "no gage study"),
        ("/api/gage/unbalanced", 422, "not balanced"),
        (f"/api/gage/{STUDY}?method=guess", 422, "method"),
        (f"/api/gage/{STUDY}?tolerance=-1", 422, "tolerance"),
    ],
)
def test_bad_input_is_a_clear_4xx(spc_client, url, status, words):
    response = spc_client.get(url)
    assert response.status_code == status
    assert words in response.text


def test_gage_study_is_silicio_metrology(spc_client, spc_data_dir):
    table = pyarrow.csv.read_csv(spc_data_dir / "metrology" / f"{STUDY}.csv")
    anova = gage_rr_anova(table, 3.0)
    page = spc_client.get(f"/api/gage/{STUDY}", params={"tolerance": 3.0}).json()
    assert (page["parts"], page["appraisers"], page["trials"]) == (10, 3, 3)
    assert page["percent_grr"] == pytest.approx(anova.percent_grr) and page["ndc"] == anova.ndc_truncated
    components = {row["source"]: row for row in page["components"]}
    for source, sigma in anova.components.items():
        assert components[source]["sigma"] == pytest.approx(sigma)
        assert components[source]["percent_tolerance"] == pytest.approx(anova.percent_tolerance[source])
    assert [r["ss"] for r in page["anova"]] == pytest.approx(
        [r.ss for r in anova.anova_pooled or anova.anova]
    )
    average_range = gage_rr_average_range(table)
    other = spc_client.get(f"/api/gage/{STUDY}", params={"method": "average-range"}).json()
    assert other["percent_grr"] == pytest.approx(average_range.percent_grr) and other["anova"] == []

    index = spc_client.get("/api/gage").json()
    row = next(r for r in index["studies"] if r["name"] == STUDY)
    assert row["percent_grr"] == pytest.approx(anova.percent_grr) and row["url"] == f"/gage/{STUDY}"
    assert "unreadable" in next(r for r in index["studies"] if r["name"] == "unbalanced")["verdict"]
    rows = read_csv(spc_client.get(f"/api/gage/{STUDY}/components.csv").text)
    assert [r["source"] for r in rows] == ["EV", "AV", "INT", "GRR", "PV", "TV"]
    assert len(read_csv(spc_client.get("/api/gage/studies.csv").text)) == 2

    html = spc_client.get(f"/gage/{STUDY}")
    assert html.status_code == 200 and f'href="/gage/{STUDY}/report"' in html.text
    report = spc_client.get(f"/gage/{STUDY}/report")
    expected = gage_study_html(gage_rr_anova(table), title=f"Gage R&R study {STUDY}", characteristic=STUDY)
    strip = lambda text: text.split('<p class="meta">')[0] + text.split("</p>", 1)[1]  # noqa: E731 (time stamp)
    assert report.status_code == 200 and "<script" not in report.text
    assert strip(report.text) == strip(expected)


def test_gage_page_explains_how_to_add_a_study(client, data_dir):
    page = client.get("/api/gage").json()
    assert page["studies"] == [] and "part, appraiser, value" in page["notes"][0]
    assert "add a CSV file" in client.get("/gage").text


def test_default_chart_is_one_point_per_wafer_between_within(spc_client, db):
    page = spc_client.get(f"/api/spc/test/{TEST}").json()
    values, labels, _ = last_results(db, TEST)
    wafers = list(dict.fromkeys(labels))
    sizes = [int(np.sum(labels == w)) for w in wafers]
    expected = "imr-s" if np.mean(sizes) > 10 else "imr-r"
    assert page["chart"] == expected and page["location_chart"] == "subgroup mean"
    assert [p["subgroup"] for p in page["points"]] == wafers
    means = np.array([values[labels == w].mean() for w in wafers])
    baseline = min(20, len(wafers))
    mr_bar = np.mean(np.abs(np.diff(means[:baseline])))
    assert page["sigma"] == pytest.approx(mr_bar / (2 / np.sqrt(np.pi)))  # MR-bar / d2(2) of the wafer means
    assert [p["value"] for p in page["points"]] == pytest.approx(means.tolist())
    assert page["dispersion_chart"] == ("s" if expected == "imr-s" else "range")
