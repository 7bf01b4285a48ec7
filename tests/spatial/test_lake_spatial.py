"""Spatial yield in the lake: signatures stored as `silicio ingest` takes files in (and kept in
the history when a new file changes them), and the lot report's spatial section, checked against
the STDF and KLARF files themselves."""

from __future__ import annotations

import re

import numpy as np
import pytest
from typer.testing import CliRunner

from silicio import lake as silicio_lake
from silicio import stdf
from silicio.cli import app
from silicio.spatial import classify, from_wafer_map
from silicio.yields.wafermap import bin_map, orientation_of

from .fab_lake import inspected_lake, klarf_text, stdf_verdicts

runner = CliRunner()


@pytest.fixture(scope="module")
def fab(tmp_path_factory):
    return inspected_lake(tmp_path_factory.mktemp("spatial_lake"))


def _file_signature(path, wafer_id):
    """The signature of a wafer classified straight from its STDF file (no lake)."""
    import polars as pl

    from silicio.stdf.parts import parts

    tables = stdf.read(path)
    table = pl.from_arrow(parts(tables))
    grid = from_wafer_map(bin_map(table, kind="hard", wafer_id=wafer_id), orientation_of(tables))
    return classify([grid]).to_pylist()[0]


def test_ingest_stores_each_wafer_signature(fab):
    manifest, data = fab
    with silicio_lake.open(data) as lake:
        rows = {(r["lot"], r["wafer_id"]): r for r in lake.catalog.rows("wafer_signatures")}
        history = lake.catalog.rows("wafer_signature_history")
    wafers = [f for f in manifest.files if f.stage == "WS"]
    assert sorted(rows) == sorted((f.lot_id, f.wafer_id) for f in wafers)
    assert history == []
    verdicts = stdf_verdicts(manifest)
    for f in wafers[:3]:
        row = rows[(f.lot_id, f.wafer_id)]
        expected = _file_signature(manifest.out_dir / f.path, f.wafer_id)
        assert row["label"] == expected["label"] and row["confidence"] == pytest.approx(
            expected["confidence"]
        )
        dies = verdicts[(f.lot_id, f.wafer_id)]
        assert row["dies"] == len(dies)
        assert row["wafer_yield"] == pytest.approx(np.mean(list(dies.values())))
        assert row["actor"] and row["stage"] == "wafer_sort"


def test_no_signatures_flag_and_a_changed_wafer_keeps_its_old_signature(tmp_path, fab):
    manifest, _ = fab
    first = [f for f in manifest.files if f.stage == "WS"][0]
    source = manifest.out_dir / first.path
    data = tmp_path / "data"
    skipped = runner.invoke(
        app, ["ingest", str(source), "--data", str(data), "--workers", "1", "--no-signatures"]
    )
    assert skipped.exit_code == 0, skipped.output
    with silicio_lake.open(data) as lake:
        assert lake.catalog.rows("wafer_signatures") == []
    classified = runner.invoke(app, ["spatial", "classify", "--data", str(data), "--actor", "alice"])
    assert classified.exit_code == 0, classified.output
    # The wafer probed again later: every die in its upper half fails now (a retest file).
    tables = stdf.read(source)
    prr = tables["PRR"]
    upper = np.asarray(prr["Y_COORD"].to_numpy(zero_copy_only=False)) < np.median(prr["Y_COORD"].to_numpy())
    flags = np.asarray(prr["PART_FLG"].to_numpy(zero_copy_only=False)).astype(np.uint8)
    flags = np.where(upper, flags | 0x08, flags)
    bins = np.where(upper, 7, np.asarray(prr["HARD_BIN"].to_numpy(zero_copy_only=False)))
    import pyarrow as pa

    prr = prr.set_column(
        prr.schema.get_field_index("PART_FLG"), "PART_FLG", pa.array(flags, prr["PART_FLG"].type)
    )
    prr = prr.set_column(
        prr.schema.get_field_index("HARD_BIN"), "HARD_BIN", pa.array(bins, prr["HARD_BIN"].type)
    )
    mir = tables["MIR"]
    later = pa.array([v + 86_400 for v in mir["START_T"].to_pylist()], mir["START_T"].type)
    tables = {**tables, "PRR": prr,
              "MIR": mir.set_column(mir.schema.get_field_index("START_T"), "START_T", later)}  # fmt: skip
    retest = stdf.write(tmp_path / "retest.stdf", tables)
    again = runner.invoke(app, ["ingest", str(retest), "--data", str(data), "--workers", "1"])
    assert again.exit_code == 0, again.output
    assert "1 replaced" in again.output
    with silicio_lake.open(data) as lake:
        (now,) = lake.catalog.rows("wafer_signatures")
        (old,) = lake.catalog.rows("wafer_signature_history")
    assert old["actor"] == "alice" and old["superseded_by"] == now["actor"] != "alice"
    assert old["wafer_id"] == now["wafer_id"] == first.wafer_id
    assert now["wafer_yield"] < old["wafer_yield"]
    assert now["dies"] == old["dies"]
    # the upper half (as drawn: Y grows down, so small Y) failing is the map's new loss
    assert now["edge_yield"] is not None and old["classified_at"] <= old["superseded_at"]


def test_lot_report_has_signatures_and_defects_on_the_maps(tmp_path, fab):
    manifest, data = fab
    lot = manifest.lot_table[0].lot_id
    out = tmp_path / "report.html"
    result = runner.invoke(
        app, ["report", lot, "--stage", "wafer_sort", "--data", str(data), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    page = out.read_text()
    with silicio_lake.open(data) as lake:
        stored = {r["wafer_id"]: r["label"] for r in lake.catalog.rows("wafer_signatures") if r["lot"] == lot}
    table = re.search(r'<table data-table="signatures">(.*?)</table>', page, re.S).group(1)
    for wafer, label in stored.items():
        assert re.search(rf"<td[^>]*>{re.escape(wafer)}</td><td[^>]*>{label}</td>", table), wafer
    # every defect of the lot's KLARF files drawn on its die's bin map
    klarfs = [f for f in manifest.inspections if f.lot_id == lot]
    assert klarfs
    for f in klarfs:
        defects = klarf_text(manifest.out_dir / f.path)["defects"]
        block = re.search(rf'<div class="map" data-wafer="{re.escape(f.wafer_id)}" data-defects="(\d+)">(.*?)</svg>',
                          page, re.S)  # fmt: skip
        assert block and int(block.group(1)) == len(defects)
        drawn = sorted((int(x), int(y)) for x, y in re.findall(r'class="marker"[^>]*data-x="(-?\d+)" data-y="(-?\d+)"',
                                                                block.group(2)))  # fmt: skip
        assert drawn == sorted((d["x"], d["y"]) for d in defects)
    assert 'data-table="inline_defects"' in page
