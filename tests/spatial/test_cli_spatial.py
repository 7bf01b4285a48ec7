"""`silicio spatial classify` on an STDF file of wafer sort: one row per wafer, its yield and dies
as the parts table gives them, a signature of the nine classes."""

from __future__ import annotations

import json

import polars as pl
from typer.testing import CliRunner

from silicio.cli import app
from silicio.demo.stdf_demo import write_demo_stdf
from silicio.spatial import CLASSES
from silicio.stdf import read
from silicio.stdf.parts import parts

runner = CliRunner()


def test_classify_gives_each_wafer_its_signature_and_yield(tmp_path):
    source = write_demo_stdf(tmp_path / "lot.stdf", seed=4, wafers=2, dies_per_side=24)
    result = runner.invoke(app, ["spatial", "classify", str(source), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    table = pl.from_arrow(parts(read(source))).filter(pl.col("x").is_not_null())
    final = table.group_by("wafer_id", "x", "y").agg(pl.col("passed").last())
    expected = {w: (len(g), g.get_column("passed").mean()) for (w,), g in final.group_by("wafer_id")}
    assert sorted(r["wafer_id"] for r in rows) == sorted(expected)
    for row in rows:
        dies, passed = expected[row["wafer_id"]]
        assert row["dies"] == dies
        assert abs(row["yield"] - passed) < 1e-9
        assert row["signature"] in CLASSES and 0 < row["confidence"] <= 1


def test_classify_refuses_a_missing_file_in_one_line(tmp_path):
    result = runner.invoke(app, ["spatial", "classify", str(tmp_path / "none.stdf")])
    assert result.exit_code == 2
    assert "no such file" in result.output and "Traceback" not in result.output


def test_classify_without_files_stores_each_wafer_of_the_lake_with_its_actor(tmp_path):
    from silicio import lake as silicio_lake
    from silicio.lake.query import Lake

    source = write_demo_stdf(tmp_path / "lot.stdf", seed=5, wafers=3, dies_per_side=20)
    data = tmp_path / "data"
    assert silicio_lake.ingest([str(source)], data, workers=1).ok
    shown = runner.invoke(app, ["spatial", "classify", str(source), "--json"])
    stored = runner.invoke(app, ["spatial", "classify", "--data", str(data), "--actor", "alice", "--json"])
    assert stored.exit_code == 0, stored.output
    # classified again with the same model and data: the signatures stored first are kept
    again = runner.invoke(app, ["spatial", "classify", "--data", str(data), "--actor", "bob"])
    assert again.exit_code == 0, again.output
    with Lake(data) as lake:
        rows = lake.catalog.rows("wafer_signatures", order_by=["wafer_id"])
        as_sql = lake.polars("SELECT wafer_id, label FROM wafer_signatures ORDER BY wafer_id").rows()
    from_file = sorted(
        (r["wafer_id"], r["signature"], r["dies"]) for r in map(json.loads, shown.stdout.splitlines())
    )
    assert [(r["wafer_id"], r["label"], r["dies"]) for r in rows] == from_file
    assert as_sql == [(w, label) for w, label, _ in from_file]
    assert {r["actor"] for r in rows} == {"alice"} and {r["stage"] for r in rows} == {"wafer_sort"}
    assert "3 unchanged" in again.output
    for r in rows:
        assert abs(sum(r["probabilities"].values()) - 1) < 1e-3
        assert r["confidence"] == max(r["probabilities"].values())
    missing = runner.invoke(app, ["spatial", "classify", "--data", str(data), "--lot", "NOPE"])
    assert missing.exit_code == 2 and "no wafer-sort lot 'NOPE'" in missing.output
