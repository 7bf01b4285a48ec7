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
