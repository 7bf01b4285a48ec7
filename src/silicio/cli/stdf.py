"""``silicio stdf ...``: look into and convert STDF files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from silicio.stdf import read
from silicio.stdf.convert import FORMATS, convert
from silicio.stdf.summary import summarize

from .errors import existing_file, fail, needs, reported_errors
from .render import print_issues, print_summary

app = typer.Typer(help="Read, inspect and convert STDF tester data.", no_args_is_help=True)
console = Console()
stderr = Console(stderr=True)

StdfFile = Annotated[
    Path,
    typer.Argument(metavar="FILE", help="STDF file (plain, .gz, .bz2, .xz or .zip).", show_default=False),
]
Salvage = Annotated[
    bool,
    typer.Option(
        "--salvage",
        help="Keep what can be read from a damaged file and report the damage instead of failing.",
    ),
]


@app.command()
def info(
    file: StdfFile,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    salvage: Salvage = False,
) -> None:
    """Summarize a file: lot, tester, program, wafers, parts, tests, records and problems."""
    with reported_errors():
        summary = summarize(read(existing_file(file), strict=not salvage), path=str(file))
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        print_summary(console, summary)


@app.command(name="convert")
def convert_command(
    file: StdfFile,
    out_dir: Annotated[
        Path,
        typer.Argument(metavar="DIR", help="Directory to write to (created if missing).", show_default=False),
    ],
    to: Annotated[
        str, typer.Option("--to", metavar="|".join(FORMATS), help="Output format.", show_default=False)
    ],
    tidy: Annotated[
        bool, typer.Option("--tidy", help="Also write the one-row-per-(part, test) view.")
    ] = False,
    salvage: Salvage = False,
) -> None:
    """Write one Parquet or CSV file per record type, or one Excel workbook with a sheet each."""
    if to not in FORMATS:
        raise fail(f"--to {to}: unknown format, expected one of {', '.join(FORMATS)}")
    if to == "xlsx":
        needs("xlsx", "silicio stdf convert --to xlsx")
    with reported_errors():
        written = convert(existing_file(file), out_dir, to, strict=not salvage, tidy=tidy)
    for path in written:
        console.print(escape(str(path)), soft_wrap=True, highlight=False)
    if written.issues:
        print_issues(stderr, written.issues)
        stderr.print(
            f"[yellow]salvaged {escape(str(file))}: {len(written.issues)} problem(s); the output may be incomplete[/yellow]",
            soft_wrap=True,
        )
