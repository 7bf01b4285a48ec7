"""``silicio stdf ...``: look into and convert STDF files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from silicio.stdf.errors import StdfError

from .errors import existing_file, fail, needs, reported_errors
from .render import console, print_issues, print_summary, stderr

app = typer.Typer(help="Read, inspect and convert STDF tester data.", no_args_is_help=True)

#: :data:`silicio.stdf.convert.FORMATS` (tests/cli checks that they agree): importing it from
#: there would load pyarrow into ``silicio --help``.
OUTPUT_FORMATS = ("parquet", "csv", "xlsx")

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


@contextmanager
def _naming_salvage(salvage: bool) -> Iterator[None]:
    """A damaged file read strictly fails with one line that says what ``--salvage`` would do."""
    try:
        yield
    except StdfError as exc:
        if salvage:
            raise
        raise fail(f"{exc} (--salvage keeps what can be read and reports the damage)") from None


@app.command()
def info(
    file: StdfFile,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    salvage: Salvage = False,
) -> None:
    """Summarize a file: lot, tester, program, wafers, parts, tests, records and problems."""
    from silicio.stdf.reader import read
    from silicio.stdf.summary import summarize

    with reported_errors(), _naming_salvage(salvage):
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
        typer.Argument(
            metavar="DIR",
            help="Directory to write to (created if missing; must be empty).",
            show_default=False,
        ),
    ],
    to: Annotated[
        str, typer.Option("--to", metavar="|".join(OUTPUT_FORMATS), help="Output format.", show_default=False)
    ],
    tidy: Annotated[
        bool, typer.Option("--tidy", help="Also write the one-row-per-(part, test) view.")
    ] = False,
    salvage: Salvage = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write into a folder that is not empty (files of the same name are replaced, others kept).",
        ),
    ] = False,
) -> None:
    """Write one Parquet or CSV file per record type, or one Excel workbook with a sheet each."""
    if to not in OUTPUT_FORMATS:
        raise fail(f"--to {to}: unknown format, expected one of {', '.join(OUTPUT_FORMATS)}")
    if to == "xlsx":
        needs("xlsx", "silicio stdf convert --to xlsx")
    existing_file(file)
    if not force:
        _refuse_a_folder_in_use(out_dir)
    from silicio.stdf.convert import ConvertError, convert

    with reported_errors(ConvertError), _naming_salvage(salvage):
        written = convert(file, out_dir, to, strict=not salvage, tidy=tidy)
    for path in written:
        console.print(escape(str(path)), soft_wrap=True, highlight=False)
    if written.issues:
        print_issues(stderr, written.issues)
        stderr.print(
            f"[yellow]salvaged {escape(str(file))}: {len(written.issues)} problem(s); the output may be incomplete[/yellow]",
            soft_wrap=True,
        )


def _refuse_a_folder_in_use(out_dir: Path) -> None:
    """Tables written beside another file's would read as one file's (a PTR.parquet of this lot
    beside a PIR.parquet of another): an output folder must be new or empty unless --force."""
    if not out_dir.is_dir():
        return  # created by convert; a file there is convert's one-line error
    entries = sorted(entry.name for entry in out_dir.iterdir())
    if entries:
        example = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise fail(
            f"{out_dir}: folder not empty ({len(entries)} entries: {example}); the tables would sit beside "
            "what is there. Give a new or empty folder, or --force to write into this one"
        )
