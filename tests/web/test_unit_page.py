"""A packaged unit's page (/lot/{lot}/unit/{part_id}): a final-test lot of six traced units, one
failing its first insertion and passing its retest, written here (tests/web/final_test_data.py);
the page shows every insertion and result as written, links from the lot's units table, and
traces the unit back to the wafer die the trace demo made it from (its part id names the die:
UNITPN-WAFER-XXXYYY, trace/demo.py's convention, read here from the name, not the page)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from silicio import lake, trace
from silicio.web import create_app

from .conftest import signed_in
from .final_test_data import FAILING, LIMITS, FinalTest, add_final_test
from .test_trace_pages import trace_data_dir  # noqa: F401  (the fixture)


@pytest.fixture(scope="module")
def final_lake(tmp_path_factory, trace_data_dir) -> tuple[Path, FinalTest]:  # noqa: F811
    copy = tmp_path_factory.mktemp("unit-lake") / "data"
    shutil.copytree(trace_data_dir, copy)
    return copy, add_final_test(copy, tmp_path_factory.mktemp("unit-stdf"))


@pytest.fixture(scope="module")
def client(final_lake):
    with TestClient(create_app(final_lake[0])) as test_client:
        signed_in(test_client)
        test_client.app.state.dashboard.warm()  # the screening done: the die's verdict is known
        yield test_client


def die_of(part_id: str) -> tuple[str, int, int]:
    """(wafer, x, y) of the die a demo unit was made from, read from its name."""
    wafer, xy = re.fullmatch(r"[A-Z0-9]+-[A-Z0-9]+-(.+)-(\d{6})", part_id).groups()
    return wafer, int(xy[:3]), int(xy[3:])


def test_the_lot_lists_its_units_and_links_each(client, final_lake):
    _, written = final_lake
    page = client.get(f"/api/lot/{written.lot_id}").json()
    assert page["stage"] == "final_test" and page["wafer_count"] == 0
    units = {u["part_id"]: u for u in page["units"]}
    assert sorted(units) == sorted(i.part_id for i in written.first)
    for part_id, row in units.items():
        insertions = written.insertions_of(part_id)
        assert row["insertions"] == len(insertions)
        assert (row["hard_bin"], row["passed"]) == (insertions[-1].bin, insertions[-1].passed)
        assert row["url"] == f"/lot/{written.lot_id}/unit/{part_id}?stage=final_test"
    html = client.get(f"/lot/{written.lot_id}").text
    assert f'<a href="/lot/{written.lot_id}/unit/{written.first[FAILING].part_id}?stage=final_test">' in html
    # The search finds a unit by its part id and goes to its page.
    part_id = written.first[0].part_id
    hits = [h for h in client.get(f"/api/search?q={part_id}").json()["hits"] if h["kind"] == "part"]
    assert [h["url"] for h in hits if h["lot_id"] == written.lot_id] == [
        f"/lot/{written.lot_id}/unit/{part_id}?stage=final_test"
    ]


def test_every_insertion_and_result_as_written(client, final_lake):
    data, written = final_lake
    part_id = written.first[FAILING].part_id
    page = client.get(f"/api/lot/{written.lot_id}/unit/{part_id}").json()
    insertions = written.insertions_of(part_id)
    assert (page["insertion_count"], page["retests"]) == (2, 1)
    assert [(i["kind"], i["hard_bin"], i["passed"], i["site"], i["final"]) for i in page["insertions"]] == [
        ("first pass", insertions[0].bin, False, insertions[0].site, False),
        ("retest 1", insertions[1].bin, True, insertions[1].site, True),
    ]
    expected = [
        (n + 1, number, float(np.float32(value)), LIMITS[number][0], LIMITS[number][1],
         "pass" if LIMITS[number][0] <= value <= LIMITS[number][1] else "fail")
        for n, insertion in enumerate(insertions) for number, value in sorted(insertion.results.items())
    ]  # fmt: skip
    shown = [(r["insertion"], r["test_num"], r["result"], r["lo_limit"], r["hi_limit"], r["verdict"])
             for r in sorted(page["results"], key=lambda r: (r["insertion"], r["test_num"]))]  # fmt: skip
    assert shown == expected
    assert page["failed_tests"] == 0 and page["final_passed"] is True and page["final_hard_bin"] == 1
    # The lake itself says the same of the unit's files.
    with lake.open(data) as db:
        rows = db.polars("SELECT count(*) AS n FROM parts WHERE lot_id = $1 AND part_id = $2",
                         [written.lot_id, part_id]).row(0)  # fmt: skip
    assert rows[0] == 2


def test_the_genealogy_back_to_the_wafer_die(client, final_lake):
    data, written = final_lake
    part_id = written.first[0].part_id
    wafer, x, y = die_of(part_id)
    page = client.get(f"/api/lot/{written.lot_id}/unit/{part_id}").json()
    assert page["traced"] and page["die_node"] == f"{wafer}/{x},{y}"
    with trace.TraceStore.at(data) as store:
        key = next(k for k in store.tester_keys([("die", f"{wafer}/{x},{y}")]) if k["stage"] == "wafer_sort")
    assert (page["die_lot_id"], page["die_wafer_id"], page["die_x"], page["die_y"]) == (
        key["lot_id"],
        wafer,
        x,
        y,
    )
    assert page["die_url"] == f"/lot/{key['lot_id']}/wafer/{wafer}/die/{x}/{y}?stage=wafer_sort"
    kinds = {c["kind"]: c["count"] for c in page["came_from"]}
    assert kinds["die"] == 1 and kinds["wafer"] == 1 and kinds["lot"] == 1
    # The die's page: the same die, and the screening verdict the unit page shows for it.
    answer = client.get("/api" + page["die_url"])
    assert answer.status_code == 200, answer.text[:300]
    die = answer.json()
    assert (die["x"], die["y"], die["trace_node"]) == (x, y, f"{wafer}/{x},{y}")
    assert page["screened"] is not None and page["screened"] == die["screened"]
    assert page["screening_rules"] == die["screening_rules"]
    html = client.get(f"/lot/{written.lot_id}/unit/{part_id}?lang=es").text
    assert f"hecha del dado {wafer}/{x},{y}." in html and f'href="{page["die_url"]}"' in html


def test_unknown_units_and_stages_are_404(client, final_lake):
    _, written = final_lake
    missing = client.get(f"/api/lot/{written.lot_id}/unit/NO-SUCH-UNIT")
    assert missing.status_code == 404 and "no part 'NO-SUCH-UNIT'" in missing.json()["detail"]
    assert (
        client.get(f"/api/lot/{written.lot_id}/unit/{written.first[0].part_id}?stage=wafer_sort").status_code
        == 404
    )
    assert client.get(f"/api/lot/NO-LOT/unit/{written.first[0].part_id}").status_code == 404
