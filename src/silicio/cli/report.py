"""``silicio report LOT``: the lot report of the lake's data as one HTML file, and a PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from silicio.datadir import default_data_dir

from .errors import existing_file, fail, needs, reported_errors
from .options import DataDir
from .render import console


def report_command(
    lot: Annotated[str, typer.Argument(metavar="LOT", help="Lot ID (MIR.LOT_ID) as the lake holds it.")],
    data: DataDir = None,
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help="HTML report to write.")] = Path(
        "report.html"
    ),
    pdf: Annotated[
        Path | None, typer.Option("--pdf", metavar="FILE", help="Also write the report as a PDF.")
    ] = None,
    recipe: Annotated[
        Path | None,
        typer.Option(
            "--recipe",
            metavar="FILE",
            help="Screening recipe (TOML); default: the automotive wafer-sort recipe for wafer sort.",
        ),
    ] = None,  # fmt: skip
    stage: Annotated[
        str | None,
        typer.Option("--stage", help="Test stage, when the lot was tested at several.", show_default=False),
    ] = None,
) -> None:
    """Yield, bins, HBR/SBR reconciliation, wafer maps, worst tests and screening of one lot."""
    if recipe is not None:
        existing_file(recipe)
    needs("lake", "silicio report")
    # The HTML report takes its bin colours from matplotlib's palettes too, not only the PDF.
    needs("pdf", "silicio report")
    from silicio.lake.query import Lake
    from silicio.yields.report import lot_report, render_html, render_pdf

    with reported_errors():
        try:
            with Lake(data or default_data_dir()) as lake:
                from silicio.spatial import report_section

                spatial = report_section(lake, lot, stage)
                report = lot_report(lake, lot, recipe=recipe, stage=stage, spatial=spatial)
        except (ValueError, FileNotFoundError) as exc:
            raise fail(str(exc)) from None
        out.write_text(render_html(report), encoding="utf-8")
        pages = render_pdf(report, pdf) if pdf is not None else None
    y = report.lot_yield
    summary = f"lot {report.lot_id}: {y['first_pass_dies']:,} dies"
    if y["final_yield"] is not None:
        summary += (
            f", first-pass yield {100 * y['first_pass_yield']:.2f}%, final {100 * y['final_yield']:.2f}%"
        )
    console.print(escape(summary), highlight=False)
    console.print(f"wrote {escape(str(out))}", highlight=False, soft_wrap=True)
    if pdf is not None:
        console.print(f"wrote {escape(str(pdf))} ({pages} pages)", highlight=False, soft_wrap=True)
