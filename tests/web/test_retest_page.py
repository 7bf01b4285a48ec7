"""The retest page of a lot, on the hand-worked lot of tests/correlate/test_retest.py (five dies,
three files, two testers): every number as worked out there, the JSON twin and the CSV the same."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from silicio.web import create_app
from tests.correlate.test_retest import write_lake

from .conftest import signed_in


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with TestClient(create_app(write_lake(tmp_path_factory.mktemp("retest_page")))) as test_client:
        yield signed_in(test_client)


def test_retest_page_numbers_as_worked_by_hand(client):
    page = client.get("/api/lot/L1/retest").json()
    # 9 insertions of 5 dies; B, C and E retested; B (3 -> 1) and C (4 -> 4 -> 1) recover, E (3 -> 3) does not.
    assert (page["insertions"], page["dies"], page["retested_dies"], page["recovered_dies"]) == (9, 5, 3, 2)
    recovery = {r["first_bin"]: (r["failing_dies"], r["recovered_dies"]) for r in page["recovery"]}
    assert recovery == {3: (2, 1), 4: (1, 1)}
    switching = {(r["first_bin"], r["final_bin"]): r["dies"] for r in page["switching"]}
    assert switching == {(1, 1): 2, (3, 1): 1, (3, 3): 1, (4, 1): 1}
    repeated = [r for r in page["repeated"]]
    assert [(r["x"], r["hard_bins"]) for r in repeated] == [(2, "4 > 4 > 1")]
    rates = {(r["group"], r["name"]): (r["insertions"], r["retest_insertions"]) for r in page["retest_rates"]}
    # T1 ran f1 (5 first insertions); T2 ran f2 and f3 (4 insertions, all retests).
    assert rates[("tester", "T1")] == (5, 0) and rates[("tester", "T2")] == (4, 4)
    assert rates[("handler", "H2")] == (4, 4)


def test_retest_page_html_and_csv(client):
    html = client.get("/lot/L1/retest")
    assert html.status_code == 200 and "Retests of" in html.text and "4 &gt; 4 &gt; 1" in html.text
    csv = client.get("/api/lot/L1/retest/recovery.csv")
    assert csv.status_code == 200
    lines = csv.text.strip().splitlines()
    assert lines == [
        "first_bin,failing_dies,retested_dies,recovered_dies,recovery_rate",
        "3,2,2,1,0.5",
        "4,1,1,1,1.0",
    ]


def test_retest_page_of_an_unknown_lot(client):
    assert client.get("/api/lot/NOPE/retest").status_code == 404
    assert client.get("/lot/L1/retest", params={"stage": "final_test"}).status_code == 404
