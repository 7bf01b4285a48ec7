"""The ``silicio`` command. Each module here parses arguments and calls the core, nothing more."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from silicio import __version__
from silicio.demo import DEFAULT_OUT_DIR, run_demo

from . import lake, metrology, report, spc, stdf, supply, trace, web
from .errors import reported_errors
from .render import print_summary

app = typer.Typer(
    help="silicio: semiconductor quality and supply data, from STDF tester files to origin certificates.",
    no_args_is_help=True,
    add_completion=False,
    # Unexpected errors are bugs: show the traceback, but never local variables (file contents).
    pretty_exceptions_show_locals=False,
)
app.add_typer(stdf.app, name="stdf")
app.add_typer(lake.app, name="lake")
app.add_typer(spc.app, name="spc")
app.add_typer(metrology.app, name="metrology")
app.command(name="ingest")(lake.ingest_command)
app.command(name="sql")(lake.sql_command)
app.command(name="serve")(web.serve_command)
app.command(name="report")(report.report_command)
app.add_typer(trace.app, name="trace")
app.add_typer(trace.audit_app, name="audit")
app.add_typer(trace.keys_app, name="keys")
app.command(name="verify")(trace.verify_command)
app.add_typer(supply.app, name="supply")
console = Console()


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"silicio {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """silicio: semiconductor quality and supply data, from STDF tester files to origin certificates."""


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Directory for the demo's files.")] = DEFAULT_OUT_DIR,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the generated data.")] = 0,
) -> None:
    """Generate a demo wafer-sort lot, write it as STDF, read it back and summarize it."""
    with reported_errors():
        result = run_demo(out, seed=seed)
    console.print(f"wrote [bold]{escape(str(result.stdf_path))}[/bold]", soft_wrap=True, highlight=False)
    print_summary(console, result.summary)


def main() -> None:
    app()
