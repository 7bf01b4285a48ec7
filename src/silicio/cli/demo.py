"""``silicio demo``: the demo fab's STDF files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .errors import needs, reported_errors
from .render import console, print_fab

#: Where `silicio demo` writes the fab; `silicio serve --demo` keeps its own copy beside its lake.
DEFAULT_FAB_DIR = Path("out") / "fab"
#: The demo fab's size, as :mod:`silicio.demo.fab` has it (tests/cli checks that they agree):
#: importing them from there would load numpy and the STDF writer into every command.
DEFAULT_LOTS = 20
DEFAULT_WAFERS_PER_LOT = 6


def demo_command(
    out: Annotated[
        Path, typer.Option("--out", help="Directory for the demo fab's STDF files.")
    ] = DEFAULT_FAB_DIR,
    lots: Annotated[
        int, typer.Option("--lots", min=1, help="Lots, spread over the three products.")
    ] = DEFAULT_LOTS,
    wafers: Annotated[int, typer.Option("--wafers", min=1, help="Wafers per lot.")] = DEFAULT_WAFERS_PER_LOT,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the generated data.")] = 0,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes writing lots.")] = 2,
    inspection: Annotated[
        bool,
        typer.Option(
            "--inspection/--no-inspection",
            help="Also the inline inspection before sort: KLARF files whose defects follow the "
            "wafers' signatures (wafers 1, 4, ... of each lot).",
        ),
    ] = True,  # fmt: skip
) -> None:
    """Generate the demo fab (Querétaro IDM, three products) as STDF files, with its inline
    inspection as KLARF files; `silicio serve --demo` also ingests and serves it."""
    needs("lake", "silicio demo")  # the dies on the wafer grid come from the yields area
    from rich.progress import Progress

    from silicio.demo.fab import generate_fab

    with reported_errors(), Progress(console=console, transient=True) as progress:
        task = progress.add_task("writing lots", total=lots)

        def advance(message: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, description=message)

        fab = generate_fab(
            out,
            lots=lots,
            wafers_per_lot=wafers,
            seed=seed,
            workers=workers,
            progress=advance,
            inspection=inspection,
        )
    print_fab(console, fab, out)
