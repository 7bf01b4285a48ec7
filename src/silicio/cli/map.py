"""``silicio map``: the bin maps of an STDF file as PNG, SVG, SEMI G85 or SEMI E142 files, laid out
the way the file's WCR says (POS_X / POS_Y: which way X and Y grow; PNG and SVG draw the wafer's
flat on the WF_FLAT side); ``silicio map import``: a partner's G85 or E142 map read back,
summarised and optionally converted.

``silicio map FILE ...`` is ``silicio map export FILE ...``: a first argument that is not a
subcommand names the STDF file.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from .errors import existing_file, fail, needs, reported_errors
from .render import console, print_table, stderr

#: Output formats, and the suffix of each file written into an --out folder.
FORMATS = {"png": ".png", "svg": ".svg", "g85": ".g85.xml", "e142": ".e142.xml"}
KINDS = ("hard", "soft")


class _ExportByDefault(TyperGroup):
    """A group whose default subcommand is ``export``: ``silicio map FILE`` reads as
    ``silicio map export FILE``, while ``silicio map import FILE`` and ``--help`` keep their meaning."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] != "--help":
            args = ["export", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_ExportByDefault,
    help="Wafer maps of an STDF file as PNG, SVG, SEMI G85 or E142 (`silicio map FILE --format g85 --out "
    "PATH`), oriented by the file's WCR; `silicio map import` reads a partner's G85 or E142 map.",
    no_args_is_help=True,
)

Format = Annotated[
    str | None,
    typer.Option("--format", metavar="|".join(FORMATS), help="Output format.", show_default=False),
]


def _checked_format(fmt: str | None) -> str | None:
    if fmt is not None and fmt not in FORMATS:
        raise fail(f"--format {fmt}: unknown format, expected one of {', '.join(FORMATS)}")
    return fmt


def _needs_for(fmt: str | None, command: str) -> None:
    needs("lake", command)  # wafer maps are polars frames of the yields area
    if fmt in ("png", "svg"):
        needs("pdf", f"{command} --format {fmt}")  # drawn with matplotlib


def _write(wafer_map, header, fmt: str, path: Path) -> None:
    """One map in one format; XML is written byte for byte as the writer gives it."""
    from silicio.yields.wafermap import render_wafer_map, write_e142, write_g85

    if fmt in ("g85", "e142"):
        text = (write_g85 if fmt == "g85" else write_e142)(wafer_map, header)
        path.write_bytes(text.encode("utf-8"))
    else:
        names = {b.code: b.description for b in header.bins if b.description}
        render_wafer_map(wafer_map, path, fmt=fmt, orientation=_drawn_orientation(header), bin_names=names)


def _drawn_orientation(header):
    """The header's axes with its flat: from the STDF WCR WF_FLAT, or a map file's Orientation
    angle when it names a side (0 / 90 / 180 / 270 degrees); any other angle is not drawn."""
    from dataclasses import replace

    return replace(header.orientation, flat=header.flat_location)


def _print_notes(notes) -> None:
    for note in notes:
        stderr.print(f"[yellow]note:[/yellow] {escape(note)}", soft_wrap=True, highlight=False)


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "wafer"


def _targets(
    wafers: list[tuple], wafer: str | None, out: str, fmt: str, file: Path
) -> list[tuple[tuple, Path]]:
    """(lot, wafer) -> path of each map to write: the wafer asked for, or every wafer into a folder.

    ``--out`` is a folder when it exists as one or ends with "/"; then each wafer gets its own
    file named by its wafer ID (lot and wafer when the file holds several lots).
    """
    listed = ", ".join(str(w) for _, w in wafers)
    if wafer is not None:
        wafers = [(lot, w) for lot, w in wafers if w == wafer]
        if not wafers:
            raise fail(f"{file}: no wafer {wafer!r}; its wafers: {listed}")
        if len(wafers) > 1:
            raise fail(
                f"{file}: wafer {wafer!r} is in several lots ({', '.join(str(lot) for lot, _ in wafers)})"
            )
    folder = Path(out)
    if not (out.endswith(("/", os.sep)) or folder.is_dir()):
        if len(wafers) > 1:
            raise fail(f"{file} holds {len(wafers)} wafers ({listed}): give --wafer W, or an --out folder "
                       f"(ending in /) for one file per wafer")  # fmt: skip
        return [(wafers[0], folder)]
    several_lots = len({lot for lot, _ in wafers}) > 1
    paths = [folder / (_file_name(f"{lot}_{w}" if several_lots else str(w or lot)) + FORMATS[fmt])
             for lot, w in wafers]  # fmt: skip
    if len(set(paths)) < len(paths):
        raise fail(
            f"{file}: the wafer IDs ({listed}) give clashing file names in {folder}: map them one at a time"
        )
    folder.mkdir(parents=True, exist_ok=True)
    return list(zip(wafers, paths, strict=True))


@app.command("export")
def export_command(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="STDF file of wafer sort.", show_default=False)
    ],
    fmt: Format = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            metavar="PATH",
            help="File to write; a folder (existing, or ending in /) gets one file per wafer.",
            show_default=False,
        ),
    ] = None,  # fmt: skip
    wafer: Annotated[
        str | None,
        typer.Option(
            "--wafer", metavar="W", help="Wafer ID to map, when the file holds several.", show_default=False
        ),
    ] = None,
    kind: Annotated[str, typer.Option("--kind", metavar="hard|soft", help="Hard or soft bins.")] = "hard",
) -> None:
    """Bin map of each wafer of an STDF file, oriented by its WCR.

    Rows are laid out as the file's WCR POS_X / POS_Y say (the top row is the highest Y when Y
    grows upward); PNG and SVG draw the wafer's outline with the flat on the WCR WF_FLAT side;
    G85 and E142 carry the HBR / SBR bin names, the WCR sizes and the flat's angle.
    """
    if _checked_format(fmt) is None or out is None:
        raise fail(f"silicio map needs --format ({'|'.join(FORMATS)}) and --out PATH")
    if kind not in KINDS:
        raise fail(f"--kind {kind}: expected hard or soft")
    existing_file(file)
    _needs_for(fmt, "silicio map")
    import polars as pl

    from silicio.stdf import read
    from silicio.stdf.parts import parts
    from silicio.yields.wafermap import bin_map, header_from_stdf
    from silicio.yields.wafermap.orientation import FLAT_SIDES

    written = []
    with reported_errors():
        tables = read(file)
        try:
            header = header_from_stdf(tables, kind)
            table = pl.from_arrow(parts(tables))
            wafers = (table.filter(pl.col("x").is_not_null() & pl.col("y").is_not_null())
                      .select("lot_id", "wafer_id").unique().sort(["lot_id", "wafer_id"], nulls_last=True).rows())  # fmt: skip
            if not wafers:
                raise fail(f"{file}: no dies with X/Y coordinates (PRR X_COORD / Y_COORD): no wafer to map")
            for (lot, w), path in _targets(wafers, wafer, out, fmt, file):
                wafer_map = bin_map(table, kind=kind, lot_id=lot, wafer_id=w)
                _write(wafer_map, header, fmt, path)
                written.append((path, wafer_map))
        except ValueError as exc:
            raise fail(f"{file}: {exc}") from None
    _print_notes(header.notes)
    o = _drawn_orientation(header)
    flat = "flat unknown" if o.flat is None else f"flat {FLAT_SIDES[o.flat]}"
    for path, wafer_map in written:
        console.print(f"{escape(str(path))}: wafer {escape(wafer_map.wafer_id or '(no ID)')}, {wafer_map.x.size:,} dies, "
                      f"X grows {o.x_grows}, Y grows {o.y_grows}, {flat}", soft_wrap=True, highlight=False)  # fmt: skip


def _summary(fmt: str, wafer_map, header) -> dict[str, Any]:
    """What a map file holds, as JSON-ready values."""
    rows, columns = header.rows, header.columns
    return {
        "format": {"g85": "SEMI G85", "e142": "SEMI E142"}[fmt],
        "substrate_id": wafer_map.wafer_id,
        "substrate_type": header.substrate_type,
        "lot_id": wafer_map.lot_id,
        "product_id": header.product_id,
        "rows": rows,
        "columns": columns,
        "dies": int(wafer_map.x.size),
        "good_dies": int(wafer_map.good.sum()) if wafer_map.good is not None else None,
        "x_grows": header.orientation.x_grows,
        "y_grows": header.orientation.y_grows,
        "origin": list(header.origin) if header.origin is not None else None,
        "flat_orientation": header.flat_orientation,
        "wafer_size_mm": header.wafer_size_mm,
        "die_width_um": header.die_width_um,
        "die_height_um": header.die_height_um,
        "bin_type": header.bin_type,
        "bins": [
            {
                "code": b.code,
                "written": header.code_text(b.code),
                "count": b.count,
                "quality": b.quality,
                "description": b.description or None,
            }
            for b in header.bins
        ],  # fmt: skip
        "notes": list(header.notes),
    }


def _print_summary(file: Path, summary: dict[str, Any]) -> None:
    facts = Table(title=escape(str(file)), show_header=False, title_justify="left")
    facts.add_column("field", style="bold")
    facts.add_column("value")
    size = summary["wafer_size_mm"]
    die = (summary["die_width_um"], summary["die_height_um"])
    for label, value in (
        ("format", summary["format"]),
        ("substrate", f"{summary['substrate_id'] or '(no ID)'} ({summary['substrate_type']})"),
        ("lot", summary["lot_id"]),
        ("product", summary["product_id"]),
        ("rows x columns", f"{summary['rows']} x {summary['columns']}"),
        ("dies", f"{summary['dies']:,}" + (f", {summary['good_dies']:,} good" if summary["good_dies"] is not None else "")),
        ("axes", f"X grows {summary['x_grows']}, Y grows {summary['y_grows']}"),
        ("wafer size", None if size is None else f"{size:g} mm"),
        ("die size", None if None in die else f"{die[0]:g} x {die[1]:g} µm"),
    ):  # fmt: skip
        facts.add_row(label, escape(str(value)) if value is not None else "[dim]-[/dim]")
    print_table(console, facts)
    bins = Table(title="bins", title_justify="left")
    for name, justify in (
        ("bin", "right"),
        ("dies", "right"),
        ("pass/fail", "left"),
        ("description", "left"),
    ):
        bins.add_column(name, justify=justify)
    for b in summary["bins"]:
        bins.add_row(
            escape(b["written"]), f"{b['count'] or 0:,}", b["quality"] or "?", escape(b["description"] or "")
        )
    print_table(console, bins)


@app.command("import")
def import_command(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="SEMI G85 or E142 map (XML).", show_default=False)
    ],
    fmt: Format = None,
    out: Annotated[
        Path | None, typer.Option("--out", metavar="PATH", help="File to convert to.", show_default=False)
    ] = None,
    wafer: Annotated[
        str | None,
        typer.Option(
            "--wafer",
            metavar="W",
            help="Substrate ID to read, when the file holds several maps.",
            show_default=False,
        ),
    ] = None,  # fmt: skip
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Read a partner's G85 or E142 map and summarise it; optionally convert it.

    The format is told by the root element. The summary gives substrate, lot, rows x columns and
    the bins with their counts and pass / fail. A map written again in its own format comes out
    byte for byte.
    """
    if (_checked_format(fmt) is None) != (out is None):
        raise fail("--format and --out go together: give both to convert the map, or neither")
    existing_file(file)
    _needs_for(fmt, "silicio map import")
    from silicio.yields.wafermap import read_map

    with reported_errors():
        try:
            found, wafer_map, header = read_map(file, substrate_id=wafer)
            if fmt is not None:
                _write(wafer_map, header, fmt, out)
        except ValueError as exc:
            raise fail(str(exc)) from None  # the readers' messages name the file and the element
    summary = _summary(found, wafer_map, header)
    if out is not None:
        summary["written"] = str(out)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    _print_summary(file, summary)
    _print_notes(header.notes)
    if out is not None:
        console.print(f"wrote {escape(str(out))}", soft_wrap=True, highlight=False)
