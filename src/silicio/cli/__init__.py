"""The ``silicio`` command. Each module here parses arguments and calls the core, nothing more.

The modules import the areas they call inside their commands, after :func:`.errors.needs` has
checked the extra: ``silicio --help`` and ``silicio stdf ...`` run on a core-only install.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from silicio import __version__
from silicio.demo.fab import DEFAULT_LOTS, DEFAULT_WAFERS_PER_LOT, generate_fab

from . import certificate, lake, metrology, report, spc, stdf, supply, trace, web
from .errors import needs, reported_errors
from .render import print_fab

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
app.command(name="holds")(__import__("silicio.cli.holds", fromlist=["holds_command"]).holds_command)
app.add_typer(trace.app, name="trace")
app.add_typer(trace.audit_app, name="audit")
app.add_typer(certificate.keys_app, name="keys")
app.add_typer(certificate.app, name="certificate")
app.command(name="verify")(certificate.verify_command)
app.add_typer(supply.app, name="supply")
app.add_typer(__import__("silicio.cli.map", fromlist=["app"]).app, name="map")
app.add_typer(__import__("silicio.cli.limits", fromlist=["app"]).app, name="limits")
app.add_typer(__import__("silicio.cli.users", fromlist=["app"]).app, name="users")
console = Console()

#: Where `silicio demo` writes the fab; `silicio serve --demo` keeps its own copy beside its lake.
DEFAULT_FAB_DIR = Path("out") / "fab"


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
    out: Annotated[
        Path, typer.Option("--out", help="Directory for the demo fab's STDF files.")
    ] = DEFAULT_FAB_DIR,
    lots: Annotated[
        int, typer.Option("--lots", min=1, help="Lots, spread over the three products.")
    ] = DEFAULT_LOTS,
    wafers: Annotated[int, typer.Option("--wafers", min=1, help="Wafers per lot.")] = DEFAULT_WAFERS_PER_LOT,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the generated data.")] = 0,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes writing lots.")] = 2,
) -> None:
    """Generate the demo fab (Querétaro IDM, three products) as STDF files; `silicio serve --demo`
    also ingests and serves it."""
    needs("lake", "silicio demo")  # the dies on the wafer grid come from the yields area
    from rich.progress import Progress

    with reported_errors(), Progress(console=console, transient=True) as progress:
        task = progress.add_task("writing lots", total=lots)

        def advance(message: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, description=message)

        fab = generate_fab(
            out, lots=lots, wafers_per_lot=wafers, seed=seed, workers=workers, progress=advance
        )
    print_fab(console, fab, out)


def main() -> None:
    app()
