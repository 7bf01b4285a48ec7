"""The redundant-tests page of a lot against Pearson's r computed here with numpy from the values
written into the lot's STDF files (each die's last insertion: a retested die counts its retest)."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from silicio import lake as silicio_lake
from silicio.web import create_app
from tests.correlate.stdf_files import T0, Part, write_file

from .conftest import signed_in

TIMES = {10: 0.002, 20: 0.004, 30: 0.001}


def _lot():
    rng = np.random.default_rng(11)
    first, retest = [], []
    for x in range(40):
        u = float(rng.uniform(0.2, 1.8))
        results = {10: u, 20: 1.0 + 0.9 * u + float(rng.normal(0, 0.02)), 30: float(rng.uniform(1, 9))}
        failing = {10, 20} if x == 7 else set()  # fails both: they fail the same units
        first.append(Part(site=1 + x % 2, results=results, hard_bin=5 if failing else 1, x=x, y=0,
                          failed_tests=failing))  # fmt: skip
    # Die 3 is retested: its first readings are far off the line, its retest's are on it.
    first[3].results = {10: 0.5, 20: 2.9, 30: 5.0}
    first[3].hard_bin, first[3].failed_tests = 1, set()
    retest.append(Part(site=1, results={10: 0.6, 20: 1.55, 30: 4.0}, hard_bin=1, x=3, y=0))
    return first, retest


@pytest.fixture(scope="module")
def lot_client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("redundant")
    first, retest = _lot()
    write_file(folder / "first.stdf", first, test_times=TIMES)
    write_file(folder / "retest.stdf", retest, start=T0 + 3600, test_times=TIMES)
    data = folder / "data"
    silicio_lake.ingest([folder], data, workers=1)
    with TestClient(create_app(data)) as client:
        yield signed_in(client)


def test_redundant_pairs_equal_an_independent_correlation(lot_client):
    first, retest = _lot()
    final = {p.x: p.results for p in first} | {p.x: p.results for p in retest}
    values = {t: np.array([final[x][t] for x in sorted(final)]) for t in (10, 20, 30)}
    r_10_20 = float(np.corrcoef(values[10], values[20])[0, 1])
    r_10_30 = float(np.corrcoef(values[10], values[30])[0, 1])
    assert r_10_20 > 0.99 and abs(r_10_30) < 0.5

    page = lot_client.get("/api/lot/L1/redundant-tests").json()
    assert (page["stage"], page["tests"], page["units"], page["timed_tests"]) == ("wafer_sort", 3, 40, 3)
    assert [(p["test_num_a"], p["test_num_b"]) for p in page["pairs"]] == [(10, 20)]
    pair = page["pairs"][0]
    assert pair["r"] == pytest.approx(r_10_20, abs=1e-6)  # float32 results in STDF
    assert (pair["units"], pair["fails"]) == (40, 1)
    assert pair["time_s_a"] == pytest.approx(0.002) and pair["time_s_b"] == pytest.approx(0.004)
    # Below |r| of the 10-30 pair, that pair is still not listed: 30 fails no unit while 10 fails one.
    low = lot_client.get("/api/lot/L1/redundant-tests", params={"threshold": 0.5}).json()
    assert [(p["test_num_a"], p["test_num_b"]) for p in low["pairs"]] == [(10, 20)]


def test_redundant_page_html_csv_and_errors(lot_client):
    html = lot_client.get("/lot/L1/redundant-tests")
    assert html.status_code == 200 and "Redundant pairs" in html.text and "VDD_LEAK" in html.text
    csv = lot_client.get("/api/lot/L1/redundant-tests/pairs.csv")
    assert csv.status_code == 200 and csv.text.splitlines()[1].startswith("10,VDD_LEAK,20,VOH,")
    assert lot_client.get("/api/lot/L1/redundant-tests", params={"threshold": 1.5}).status_code == 422
    assert lot_client.get("/api/lot/NOPE/redundant-tests").status_code == 404
