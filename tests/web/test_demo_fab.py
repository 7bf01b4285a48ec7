"""The dashboard over a small demo fab (silicio.demo.generate_fab): two products, each lot tested at
wafer sort and final test (with a retest file), the manifest's counts as the expected numbers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from silicio import demo, lake
from silicio.web import create_app

from .conftest import signed_in


@pytest.fixture(scope="module")
def fab(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fab")
    manifest = demo.generate_fab(folder / "stdf", lots=2, wafers_per_lot=1, die_scale=4,
                                 products=["SLC-TV100", "SLC-MC200"])  # fmt: skip
    lake.ingest([folder / "stdf"], folder / "data", workers=1)
    with TestClient(create_app(folder / "data")) as client:
        signed_in(client)
        yield manifest, client


def test_lots_at_both_stages_match_the_manifest(fab):
    manifest, client = fab
    overview = client.get("/api/overview").json()
    assert overview["products"] == sorted(lot.product for lot in manifest.lot_table)
    shown = {(lot["lot_id"], lot["stage"]): lot for lot in overview["lots"]}
    for lot in manifest.lot_table:
        sort, final = shown[(lot.lot_id, "wafer_sort")], shown[(lot.lot_id, "final_test")]
        assert (sort["final_dies"], sort["final_good"]) == (lot.dies, lot.ws_good)
        assert (final["final_dies"], final["final_good"]) == (lot.ft_parts, lot.ft_good)
        assert sort["wafers"] == lot.wafers and final["wafers"] == 0


def test_a_lot_page_shows_one_stage_at_a_time(fab):
    manifest, client = fab
    lot = manifest.lot_table[0]
    sort = client.get(f"/api/lot/{lot.lot_id}").json()
    assert sort["stage"] == "wafer_sort" and sorted(sort["stages"]) == ["final_test", "wafer_sort"]
    assert sort["stacked_fail_map"] is not None and len(sort["wafers"]) == lot.wafers
    final = client.get(f"/api/lot/{lot.lot_id}", params={"stage": "final_test"}).json()
    assert final["total"]["final_good"] == lot.ft_good and final["stacked_fail_map"] is None
    assert client.get(f"/lot/{lot.lot_id}?stage=final_test").status_code == 200
    test_num = sort["worst_tests"][0]["test_num"]
    test = client.get(f"/api/test/{test_num}", params={"product": lot.product}).json()
    assert test["products"] == [lot.product] and test["count"] > 0
