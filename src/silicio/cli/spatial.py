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
from .options import DatabaseUrl, DataDir, acting_user, needs_database
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


def _describe(maps) -> list[dict]:
    from silicio.spatial.signatures import describe

    return describe(maps)


@app.command("classify")
def classify_command(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[FILE]...",
            help="STDF files of wafer sort (none: the lake's wafers).",
            show_default=False,
        ),
    ] = None,  # fmt: skip
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per wafer instead of a table.")
    ] = False,
    kind: Annotated[str, typer.Option("--kind", metavar="hard|soft", help="Hard or soft bins.")] = "hard",
    lot: Annotated[
        str | None, typer.Option("--lot", help="Only this lot (of the lake).", show_default=False)
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor",
            help="Who classifies, stored with the signatures (default: the user running this).",
            show_default=False,
        ),
    ] = None,  # fmt: skip
    data: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Signature of each wafer (the most probable WM-811K class and its probability), its yield in
    the centre, middle and edge rings (equal areas), and its largest cluster of fails (DBSCAN).

    Given FILEs, their wafers are classified and shown. Without, every wafer of the lake's
    wafer-sort lots (--data, --lot) is, and its signature is stored in the catalog
    (wafer_signatures, with --actor); an earlier different one is kept in
    wafer_signature_history. Each map is laid out as its
    file's WCR says, as `silicio map` draws it.
    """
    if kind not in ("hard", "soft"):
        raise fail(f"--kind {kind}: expected hard or soft")
    for file in files or []:
        existing_file(file)
    needs("lake", "silicio spatial classify")  # wafer maps are polars frames of the yields area
    needs("spatial", "silicio spatial classify")  # DBSCAN
    rows = []
    with reported_errors():
        if files:
            for file in files:
                try:
                    found = list(_wafers(file, kind))
                except ValueError as exc:
                    raise fail(f"{file}: {exc}") from None
                described = _describe([m for *_, m in found])
                rows += [{"file": str(file), "lot_id": lot_id, "wafer_id": wafer, **d}
                         for (lot_id, wafer, _), d in zip(found, described, strict=True)]  # fmt: skip
        else:
            needs_database("silicio spatial classify", database_url)
            from silicio.lake.query import Lake
            from silicio.spatial.signatures import classify_lake

            who = acting_user(actor, "classifies")
            try:
                lake = Lake(data, database_url)
            except FileNotFoundError as exc:
                raise fail(str(exc)) from None
            with lake:
                try:
                    update = classify_lake(lake, actor=who, lots=None if lot is None else [lot], kind=kind)
                except ValueError as exc:
                    raise fail(str(exc)) from None
            rows = [{"file": None, "lot_id": r["lot_id"], "wafer_id": r["wafer_id"],
                     **{k: v for k, v in r.items() if k not in ("lot_id", "wafer_id", "stage", "product")}}
                    for r in update.rows]  # fmt: skip
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
        table.add_row(escape(Path(row["file"]).name if row["file"] else "lake"), escape(str(row["lot_id"])),
                      escape(str(row["wafer_id"])), f"{row['dies']:,}", percent(row["yield"]), row["signature"],
                      f"{row['confidence']:.2f}", percent(row["centre_yield"]), percent(row["middle_yield"]),
                      percent(row["edge_yield"]),
                      f"{cluster} dies at r {row['largest_cluster_radius']:.2f}" if cluster else "-")  # fmt: skip
    print_table(console, table)
    if not files:
        counts = update.counts
        console.print(
            f"{len(rows)} wafer signature(s) in the catalog (wafer_signatures): {counts['added']} added, "
            f"{counts['replaced']} replaced (the old kept in wafer_signature_history), "
            f"{counts['unchanged']} unchanged",
            highlight=False,
        )


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
