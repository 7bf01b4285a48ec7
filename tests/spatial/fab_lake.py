"""A small demo fab with its inline inspection, ingested by `silicio ingest` (signatures stored),
and what the tests check against, read from the files themselves: each wafer's die verdicts from
its STDF file, each inspection's defects and inspected dies from its KLARF text."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from silicio.cli import app
from silicio.demo import generate_fab
from silicio.stdf import read
from silicio.stdf.parts import parts

FAB = {"lots": 2, "wafers_per_lot": 4, "die_scale": 2.0, "products": ["SLC-TV100", "SLC-MC200"]}


def inspected_lake(folder: Path):
    """(manifest, data dir) of the fab ingested with `silicio ingest` (signatures stored)."""
    manifest = generate_fab(folder / "fab", inspection=True, **FAB)
    result = CliRunner().invoke(
        app, ["ingest", str(folder / "fab"), "--data", str(folder / "data"), "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    return manifest, folder / "data"


def stdf_verdicts(manifest) -> dict[tuple[str, str], dict[tuple[int, int], bool]]:
    """(lot, wafer) -> {(x, y): passed} of each wafer-sort die, from its STDF file."""
    out = {}
    for f in [f for f in manifest.files if f.stage == "WS"]:
        table = pl.from_arrow(parts(read(manifest.out_dir / f.path))).filter(pl.col("x").is_not_null())
        final = table.group_by("x", "y").agg(pl.col("passed").last())
        out[(f.lot_id, f.wafer_id)] = {(int(x), int(y)): bool(p) for x, y, p in final.iter_rows()}
    return out


def klarf_text(path: Path) -> dict:
    """A demo KLARF 1.1 file read by hand: the defects (STDF die, class number), the inspected
    dies (STDF coordinates: the demo writes a die (x, y) as XINDEX x, YINDEX -y), the area (cm^2)
    and the class names."""
    lines = path.read_text().splitlines()
    defects, plan, classes, area = [], [], {}, None
    section = None
    for line in lines:
        text = line.strip()
        if text.startswith("ClassLookup"):
            section = "classes"
        elif text.startswith("SampleTestPlan"):
            section = "plan"
        elif text == "DefectList":
            section = "defects"
        elif text.startswith("AreaPerTest"):
            area = float(text.split()[1].rstrip(";")) / 1e8
        elif text == ";":
            section = None
        elif section == "classes":
            number, name = text.split(maxsplit=1)
            classes[int(number)] = name.strip('"')
        elif section == "plan":
            x, y = text.rstrip(";").split()
            plan.append((int(x), -int(y)))
        elif section == "defects":
            tokens = text.rstrip(";").split()
            defects.append({"x": int(tokens[3]), "y": -int(tokens[4]), "class": int(tokens[9])})
    return {"defects": defects, "plan": plan, "classes": classes, "area": area}
