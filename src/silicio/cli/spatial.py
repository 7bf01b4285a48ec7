"""``silicio spatial``: the signature of each wafer of STDF wafer-sort files (the WM-811K classes:
centre, donut, edge ring, scratch, ...) with its zonal yield and largest cluster of fails; and
``silicio spatial train``, which rebuilds the signature model from a seed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .errors import existing_file, fail, needs, reported_errors
from .render import console, print_table

app = typer.Typer(help="Wafer-map signatures: which shape a wafer's loss has, where, and how it clusters.",
                  no_args_is_help=True)  # fmt: skip


def _wafers(file: Path, kind: str):
    """(lot, wafer, int8 map) of every wafer of an STDF file, laid out by its WCR."""
    import polars as pl

    from silicio.spatial import from_wafer_map
    from silicio.stdf import read
    from silicio.stdf.parts import parts
    from silicio.yields.wafermap import bin_map, orientation_of

    tables = read(file)
    orientation = orientation_of(tables)
    table = pl.from_arrow(parts(tables))
    keys = (table.filter(pl.col("x").is_not_null() & pl.col("y").is_not_null())
            .select("lot_id", "wafer_id").unique().sort(["lot_id", "wafer_id"], nulls_last=True).rows())  # fmt: skip
    if not keys:
        raise fail(f"{file}: no dies with X/Y coordinates (PRR X_COORD / Y_COORD): no wafer to classify")
    for lot, wafer in keys:
        yield lot, wafer, from_wafer_map(bin_map(table, kind=kind, lot_id=lot, wafer_id=wafer), orientation)


@app.command("classify")
def classify_command(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="STDF files of wafer sort.", show_default=False)
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per wafer instead of a table.")
    ] = False,
    kind: Annotated[str, typer.Option("--kind", metavar="hard|soft", help="Hard or soft bins.")] = "hard",
) -> None:
    """Signature of each wafer (the most probable WM-811K class and its probability), its yield in
    the centre, middle and edge rings (equal areas), and its largest cluster of fails (DBSCAN).

    The map of each wafer is laid out as its file's WCR says, as `silicio map` draws it.
    """
    if kind not in ("hard", "soft"):
        raise fail(f"--kind {kind}: expected hard or soft")
    for file in files:
        existing_file(file)
    needs("lake", "silicio spatial classify")  # wafer maps are polars frames of the yields area
    needs("spatial", "silicio spatial classify")  # DBSCAN
    from silicio.spatial import classify, fail_clusters, zonal_yield

    rows = []
    with reported_errors():
        for file in files:
            try:
                found = list(_wafers(file, kind))
            except ValueError as exc:
                raise fail(f"{file}: {exc}") from None
            maps = [m for _, _, m in found]
            signatures = classify(maps).to_pylist()
            zones = zonal_yield(maps).to_pylist()
            largest: dict[int, dict] = {}
            for cluster in fail_clusters(maps).to_pylist():
                largest.setdefault(cluster["map"], cluster)
            for i, (lot, wafer, _map) in enumerate(found):
                cluster = largest.get(i)
                rows.append({
                    "file": str(file), "lot_id": lot, "wafer_id": wafer, "dies": zones[i]["dies"],
                    "yield": zones[i]["yield"], "signature": signatures[i]["label"],
                    "confidence": signatures[i]["confidence"],
                    **{f"{z}_yield": zones[i][f"{z}_yield"] for z in ("centre", "middle", "edge")},
                    "largest_cluster_dies": cluster["dies"] if cluster else 0,
                    "largest_cluster_radius": cluster["radius"] if cluster else None,
                })  # fmt: skip
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    table = Table(title="wafer-map signatures", title_justify="left")
    for name in (
        "file",
        "lot",
        "wafer",
        "dies",
        "yield",
        "signature",
        "p",
        "centre",
        "middle",
        "edge",
        "cluster",
    ):
        table.add_column(name, justify="left" if name in ("file", "lot", "wafer", "signature") else "right")

    def percent(value):
        return "-" if value is None else f"{100 * value:.1f}%"

    for row in rows:
        cluster = row["largest_cluster_dies"]
        table.add_row(escape(Path(row["file"]).name), escape(str(row["lot_id"])), escape(str(row["wafer_id"])),
                      f"{row['dies']:,}", percent(row["yield"]), row["signature"], f"{row['confidence']:.2f}",
                      percent(row["centre_yield"]), percent(row["middle_yield"]), percent(row["edge_yield"]),
                      f"{cluster} dies at r {row['largest_cluster_radius']:.2f}" if cluster else "-")  # fmt: skip
    print_table(console, table)


@app.command("train")
def train_command(
    seed: Annotated[int, typer.Option("--seed", help="Seed of the training maps and the forest.")] = 0,
    out: Annotated[
        Path | None, typer.Option("--out", metavar="PATH", help="Model file (default: the packaged one).")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", metavar="PATH", help="Training report (markdown).")
    ] = None,
) -> None:
    """Rebuild the signature model from the synthetic generator and a seed (one thread, minutes),
    with its training report: the same seed gives the same model."""
    needs("spatial", "silicio spatial train")
    from silicio.spatial import train

    args = ["--seed", str(seed)]
    if out is not None:
        args += ["--out", str(out)]
    if report is not None:
        args += ["--report", str(report)]
    train.main(args)
