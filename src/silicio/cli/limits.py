"""``silicio limits ...``: the lot history's SYL / SBL and static PAT limits, versioned in the catalog.

``update`` computes a new version of each baseline (product, stage, test program) from the lots in
the lake; ``freeze`` pins the latest version (judgements use it as-is, ``update`` leaves it) until
``unfreeze``; ``show`` lists them. Every write is logged with its actor (``--actor``, default the
user running the command). See :mod:`silicio.yields.history`.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from .errors import fail, needs, reported_errors
from .options import DatabaseUrl, DataDir, acting_user, needs_database
from .render import console, print_table

app = typer.Typer(
    help="Lot history: SYL/SBL (AEC-Q002) and static PAT limits (AEC-Q001) from earlier lots, versioned.",
    no_args_is_help=True,
)

Product = Annotated[
    str | None, typer.Option("--product", help="Only this product (MIR PART_TYP).", show_default=False)
]
Stage = Annotated[
    str | None,
    typer.Option("--stage", help="Only this stage (wafer_sort, final_test, ...).", show_default=False),
]
RequiredProduct = Annotated[
    str, typer.Option("--product", help="The product (MIR PART_TYP).", show_default=False)
]
RequiredStage = Annotated[
    str, typer.Option("--stage", help="The stage (wafer_sort, final_test, ...).", show_default=False)
]
Program = Annotated[
    str | None, typer.Option("--program", help="Only this test program (MIR JOB_NAM).", show_default=False)
]
Actor = Annotated[
    str | None,
    typer.Option("--actor", help="Who makes the change, logged with it (default: the user running this).",
                 show_default=False),
]  # fmt: skip


def _start(command: str, database_url: str | None) -> None:
    needs("lake", command)
    needs_database(command, database_url)


def _open(data: Path | None, database_url: str | None):
    from silicio.lake.query import Lake

    try:
        return Lake(data, database_url)
    except FileNotFoundError as exc:
        raise fail(str(exc)) from None


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _key_text(key: Any) -> str:
    return escape(str(key))


@app.command()
def show(
    product: Product = None,
    stage: Stage = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the baselines as JSON.")] = False,
    data: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The baselines: latest (and frozen) version, lots used, SYL/SBL, review date, log of changes."""
    _start("silicio limits show", database_url)
    from silicio.yields.history import limits_overview

    with reported_errors(), _open(data, database_url) as lake:
        baselines = limits_overview(lake, product, stage)
    if as_json:
        typer.echo(json.dumps(baselines, indent=2, default=_json_value))
        return
    if not baselines:
        console.print("no limits computed yet (run `silicio limits update`)", highlight=False)
        return
    today = date.today()
    table = Table(title="lot history baselines", title_justify="left")
    for column in ("product", "stage", "program", "version", "computed", "by", "review by", "lots", "SYL1", "SYL2",
                   "SBL bins", "PAT tests"):  # fmt: skip
        table.add_column(column, justify="right" if column in ("version", "lots", "SYL1", "SYL2") else "left")
    for baseline in baselines:
        current = next(v for v in reversed(baseline["versions"]) if "lots" in v and (
            v["frozen"] or baseline["frozen_version"] is None))  # fmt: skip
        syl = next((r for r in current["yield_limits"] if r["scope"] == "lot" and r["kind"] == "SYL"), None)
        bins = sorted({r["bin"] for r in current["yield_limits"] if r["kind"] == "SBL"})
        review = f"{current['review_by']}" + (" [red](overdue)[/red]" if current["review_by"] < today else "")
        version = f"{current['version']}" + (" frozen" if current["frozen"] else "")
        program = f"{baseline['program'] or '?'} rev {baseline['revision'] or '?'}"
        table.add_row(
            escape(baseline["product"] or "-"), escape(baseline["stage"]), escape(program), version,
            f"{current['computed_at']:%Y-%m-%d %H:%M}", escape(current["actor"]), review, str(len(current["lots"])),
            f"{syl['limit1']:.2%}" if syl else "-", f"{syl['limit2']:.2%}" if syl else "-",
            ", ".join(map(str, bins)) or "-", str(current["pat_limits"]),
        )  # fmt: skip
    print_table(console, table)


@app.command()
def update(
    product: Product = None,
    stage: Stage = None,
    min_lots: Annotated[
        int, typer.Option("--min-lots", min=2, help="Lots a baseline needs (AEC-Q001 / AEC-Q002: six).")
    ] = 6,
    max_lots: Annotated[
        int | None, typer.Option("--max-lots", min=2, help="Keep only the latest lots (default: all).")
    ] = None,
    review_days: Annotated[
        int | None, typer.Option("--review-days", min=1, help="Days until the limits are due for review.")
    ] = None,
    actor: Actor = None,
    data: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Compute a new version of each baseline from the lots in the lake (frozen ones are kept)."""
    _start("silicio limits update", database_url)
    who = acting_user(actor, "makes the change")
    from silicio.yields.history import DEFAULT_REVIEW_DAYS, HistorySettings, update_limits

    try:
        settings = HistorySettings(
            min_lots=min_lots, max_lots=max_lots, review_days=review_days or DEFAULT_REVIEW_DAYS
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    with reported_errors(), _open(data, database_url) as lake:
        outcomes = update_limits(lake, product, stage, actor=who, settings=settings)
    if not outcomes:
        raise fail("no lots in the lake" + (f" of product {product!r}" if product else "")
                   + (f" at stage {stage!r}" if stage else ""))  # fmt: skip
    for outcome in outcomes:
        if outcome.version is not None:
            console.print(f"{_key_text(outcome.key)}: version {outcome.version} from {len(outcome.lots)} lots, "
                          f"by {escape(who)}", highlight=False, soft_wrap=True)  # fmt: skip
        else:
            console.print(
                f"{_key_text(outcome.key)}: [yellow]no new version[/yellow]", highlight=False, soft_wrap=True
            )
        for note in outcome.notes:
            console.print(f"  {escape(note)}", highlight=False, soft_wrap=True)


def _set_frozen(command: str, frozen: bool, product: str, stage: str, program: str | None, actor: str | None,
                data: Path | None, database_url: str | None) -> None:  # fmt: skip
    _start(command, database_url)
    who = acting_user(actor, "makes the change")
    from silicio.yields.history import freeze_limits

    with reported_errors(), _open(data, database_url) as lake:
        try:
            changed = freeze_limits(lake, product, stage, actor=who, frozen=frozen, program=program)
        except ValueError as exc:
            raise fail(str(exc)) from None
    what = "frozen" if frozen else "unfrozen"
    if not changed:
        console.print(f"nothing to do: already {what}", highlight=False)
    for key, version in changed:
        console.print(
            f"{_key_text(key)}: version {version} {what} by {escape(who)}", highlight=False, soft_wrap=True
        )


@app.command()
def freeze(product: RequiredProduct, stage: RequiredStage, program: Program = None, actor: Actor = None,
           data: DataDir = None, database_url: DatabaseUrl = None) -> None:  # fmt: skip
    """Pin the latest version: lots are judged against it as-is, `update` leaves it."""
    _set_frozen("silicio limits freeze", True, product, stage, program, actor, data, database_url)


@app.command()
def unfreeze(product: RequiredProduct, stage: RequiredStage, program: Program = None, actor: Actor = None,
             data: DataDir = None, database_url: DatabaseUrl = None) -> None:  # fmt: skip
    """Release a frozen version: the next `update` computes a new one."""
    _set_frozen("silicio limits unfreeze", False, product, stage, program, actor, data, database_url)
