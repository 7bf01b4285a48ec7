"""The spatial pages over a small demo fab with its inline inspection, ingested by `silicio
ingest`: the wafer page's signature and defect layer, the signatures page and the inline-defects
page render, and their numbers equal those worked out here from the STDF and KLARF files."""

from __future__ import annotations

from collections import Counter

import pytest
from fastapi.testclient import TestClient

from silicio import stdf
from silicio.web import create_app

from ..spatial.fab_lake import inspected_lake, klarf_text, stdf_verdicts
from .conftest import signed_in


@pytest.fixture(scope="module")
def fab(tmp_path_factory):
    manifest, data = inspected_lake(tmp_path_factory.mktemp("spatial_pages"))
    with TestClient(create_app(data)) as client:
        signed_in(client)
        yield manifest, client


def _by_hand(manifest):
    """Per defect class over the inspected wafers: the dies inspected (and tested), each with its
    verdict and the classes of its defects; and the defects and area per class."""
    verdicts = stdf_verdicts(manifest)
    dies, counts, area, names = {}, Counter(), 0.0, {}
    for f in manifest.inspections:
        read = klarf_text(manifest.out_dir / f.path)
        names.update(read["classes"])
        area += read["area"]
        tested = verdicts[(f.lot_id, f.wafer_id)]
        for die in read["plan"]:
            if die in tested:
                dies[(f.wafer_id, die)] = {"passed": tested[die], "classes": set()}
        for d in read["defects"]:
            counts[d["class"]] += 1
            if (f.wafer_id, (d["x"], d["y"])) in dies:
                dies[(f.wafer_id, (d["x"], d["y"]))]["classes"].add(d["class"])
    return dies, counts, area, names


def test_inline_page_numbers_equal_the_files(fab):
    manifest, client = fab
    assert client.get("/inline").status_code == 200
    page = client.get("/api/inline").json()
    dies, counts, area, names = _by_hand(manifest)
    clean = [d["passed"] for d in dies.values() if not d["classes"]]
    failing = sum(not d["passed"] for d in dies.values())
    rows = {r["classname"]: r for r in page["classes"]}
    assert set(rows) == {names[c] for c in counts} | {"all"}
    for number, defects in counts.items():
        hit = [d["passed"] for d in dies.values() if number in d["classes"]]
        yd, yc = sum(hit) / len(hit), sum(clean) / len(clean)
        row = rows[names[number]]
        assert (row["defects"], row["defective_dies"], row["inspected_dies"]) == (
            defects,
            len(hit),
            len(dies),
        )
        assert row["kill_ratio"] == pytest.approx(1 - yd / yc)
        assert row["capture_rate"] == pytest.approx(sum(not p for p in hit) / failing)
        assert row["defect_limited_yield"] == pytest.approx(1 - (1 - yd / yc) * len(hit) / len(dies))
        assert row["defect_density"] == pytest.approx(defects / area)
    # the planted signature's class kills, the nuisance class hardly does
    assert rows["nuisance"]["kill_ratio"] < 0.3
    assert max(r["kill_ratio"] for name, r in rows.items() if name not in ("nuisance", "all")) > 0.5
    assert len(page["wafers"]) == len(manifest.inspections)
    assert client.get("/api/inline/classes.csv").status_code == 200


def test_wafer_page_shows_signature_zones_and_the_defect_layer(fab):
    manifest, client = fab
    f = manifest.inspections[0]
    html = client.get(f"/lot/{f.lot_id}/wafer/{f.wafer_id}")
    assert html.status_code == 200 and 'id="spatial"' in html.text and "/static/spatial.js" in html.text
    spatial = client.get(f"/api/lot/{f.lot_id}/wafer/{f.wafer_id}").json()["spatial"]
    stored = {(r["lot_id"], r["wafer_id"]): r for r in client.get("/api/signatures").json()["wafers"]}
    assert spatial["stored"] and spatial["signature"] == stored[(f.lot_id, f.wafer_id)]["signature"]
    assert spatial["confidence"] == pytest.approx(stored[(f.lot_id, f.wafer_id)]["confidence"])
    assert f'data-stat="signature">{spatial["signature"]}<' in html.text
    verdicts = stdf_verdicts(manifest)[(f.lot_id, f.wafer_id)]
    zones = {z["zone"]: z for z in spatial["zones"]}
    assert sum(zones[z]["dies"] for z in ("centre", "middle", "edge")) == len(verdicts)
    passed = sum(verdicts.values())
    assert sum(
        zones[z]["dies"] * zones[z]["zone_yield"] for z in ("centre", "middle", "edge")
    ) == pytest.approx(passed)
    defects = klarf_text(manifest.out_dir / f.path)["defects"]
    shown = sorted((d["x"], d["y"], d["classnumber"]) for d in spatial["defects"])
    assert shown == sorted((d["x"], d["y"], d["class"]) for d in defects)
    for d in spatial["defects"]:
        assert d["failed"] == (not verdicts[(d["x"], d["y"])])


def test_signatures_page_pareto_filter_and_equipment(fab):
    manifest, client = fab
    assert client.get("/signatures").status_code == 200
    page = client.get("/api/signatures").json()
    wafers = [f for f in manifest.files if f.stage == "WS"]
    assert len(page["wafers"]) == len(wafers)
    counts = Counter(w["signature"] for w in page["wafers"])
    assert {r["signature"]: r["wafers"] for r in page["pareto"]} == dict(counts)
    assert page["pareto"][-1]["cumulative_percent"] == pytest.approx(100)
    top = page["pareto"][0]["signature"]
    only = client.get("/api/signatures", params={"signature": top}).json()
    assert {w["signature"] for w in only["wafers"]} == {top} and len(only["wafers"]) == counts[top]
    assert client.get(f"/signatures?signature={top}").status_code == 200
    # tester and probe card from each wafer's own STDF file (MIR NODE_NAM, SDR CARD_ID)
    for f in wafers:
        tables = stdf.read(manifest.out_dir / f.path)
        row = next(w for w in page["wafers"] if w["wafer_id"] == f.wafer_id)
        assert row["tester"] == tables["MIR"]["NODE_NAM"][0].as_py()
        assert row["probe_card"] == tables["SDR"]["CARD_ID"][0].as_py()
        assert row["wafer_yield"] == pytest.approx(f.good / f.parts)
    inspected = {(f.lot_id, f.wafer_id) for f in manifest.inspections}
    assert {(w["lot_id"], w["wafer_id"]) for w in page["wafers"] if w["inspection_tool"]} == inspected
    testers = [r for r in page["by_equipment"] if r["equipment"] == "tester"]
    for name in {r["name"] for r in testers}:
        mine = [w for w in page["wafers"] if w["tester"] == name]
        assert {r["signature"]: r["wafers"] for r in testers if r["name"] == name} == dict(
            Counter(w["signature"] for w in mine)
        )
    lots = {r["lot_id"] for r in page["by_lot"]}
    assert lots == {lot.lot_id for lot in manifest.lot_table}
    assert client.get("/api/signatures", params={"signature": "NOT A CLASS"}).status_code == 422


def test_a_wafer_without_a_stored_signature_is_classified_for_the_page(client, stdf_dir):
    """The shared test lake was ingested without signatures: the wafer page classifies the wafer
    itself (as its STDF file classified directly says), the signatures page says none is stored."""
    import polars as pl

    from silicio.spatial import classify, from_wafer_map
    from silicio.stdf.parts import parts
    from silicio.yields.wafermap import bin_map, orientation_of

    tables = stdf.read(stdf_dir / "lot_0.stdf")
    table = pl.from_arrow(parts(tables))
    lot_id, wafer_id = table.filter(pl.col("wafer_id").is_not_null()).select("lot_id", "wafer_id").row(0)
    grid = from_wafer_map(bin_map(table, kind="hard", wafer_id=wafer_id), orientation_of(tables))
    expected = classify([grid]).to_pylist()[0]
    spatial = client.get(f"/api/lot/{lot_id}/wafer/{wafer_id}").json()["spatial"]
    assert not spatial["stored"] and spatial["signature"] == expected["label"]
    assert spatial["confidence"] == pytest.approx(expected["confidence"])
    assert "no signature stored" in spatial["notes"][0] and spatial["defects"] == []
    page = client.get("/api/signatures").json()
    assert page["wafers"] == [] and "no wafer signatures stored" in page["notes"][0]
    assert "no inline inspection" in client.get("/api/inline").json()["notes"][0]
