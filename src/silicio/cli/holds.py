"""``silicio holds``: the lots on hold and every reason why, as the dashboard's overview shows them
(both ask :func:`silicio.yields.disposition.lake_disposition`)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from .errors import existing_file, fail, reported_errors
from .options import DatabaseUrl, DataDir
from .render import console, print_table


def _json_ready(value: Any) -> Any:
    """NaN and infinities as null (JSON has none), containers walked."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def holds_command(
    lot: Annotated[str | None, typer.Option("--lot", metavar="LOT", help="Only this lot (LOT_ID).")] = None,
    stage: Annotated[
        str | None, typer.Option("--stage", help="Only this test stage (wafer_sort, final_test, ...).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON list of {product, lot_id, stage, final_yield, reasons}.")
    ] = False,
    data: DataDir = None,
    database_url: DatabaseUrl = None,
    recipe: Annotated[
        Path | None,
        typer.Option(
            "--recipe",
            metavar="FILE",
            help="Screening recipe (TOML) behind the PAT rule; default: the automotive wafer-sort recipe.",
        ),
    ] = None,  # fmt: skip
    hold_yield: Annotated[
        float | None,
        typer.Option(
            "--hold-yield",
            min=0.0,
            max=1.0,
            help="Hold below this final yield (default 0.80).",
            show_default=False,
        ),
    ] = None,  # fmt: skip
    pat_share: Annotated[
        float | None,
        typer.Option(
            "--pat-share",
            min=0.0,
            max=1.0,
            help="Hold above this share of parts PAT rejected (default 0.01).",
            show_default=False,
        ),
    ] = None,  # fmt: skip
    shift_sigma: Annotated[
        float | None,
        typer.Option(
            "--shift-sigma",
            min=0.0,
            help="Hold a lot shifted by more than this many robust sigmas on 2+ tests (default 2).",
            show_default=False,
        ),
    ] = None,  # fmt: skip
) -> None:
    """Which lots are held and why: final yield, AEC-Q002 SYL / SBL, PAT share, parametric shift,
    each reason with its rule, parameters and evidence."""
    from dataclasses import replace

    from silicio.lake import queries
    from silicio.lake.query import Lake
    from silicio.yields import disposition as rules_of
    from silicio.yields.recipe import load_recipe

    if recipe is not None:
        existing_file(recipe)
    thresholds = {"min_final_yield": hold_yield, "max_pat_share": pat_share, "shift_sigma": shift_sigma}
    rules = replace(rules_of.HoldRules(), **{k: v for k, v in thresholds.items() if v is not None})
    with reported_errors():
        try:
            screening_recipe = load_recipe(recipe or rules_of.default_recipe_path())
            with Lake(data, database_url) as lake:
                if lot is not None:
                    index = queries.lot_index(lake) if "files" in lake.tables else None
                    known = index.filter(index["lot"] == lot) if index is not None else None
                    if known is None or known.is_empty():
                        raise fail(f"no lot {lot!r} in the lake at {lake.layout.root}")
                    if stage is not None and stage not in known["stage"].to_list():
                        stages = ", ".join(dict.fromkeys(known["stage"].to_list()))
                        raise fail(f"lot {lot!r} was not tested at stage {stage!r}; stages: {stages}")
                disposition = rules_of.lake_disposition(lake, screening_recipe, rules)
        except (ValueError, FileNotFoundError) as exc:
            raise fail(str(exc)) from None
    holds = [
        h
        for h in disposition.holds
        if (lot is None or h.lot_id == lot) and (stage is None or h.stage == stage)
    ]
    if as_json:
        typer.echo(json.dumps(_json_ready([h.as_dict() for h in holds]), indent=1, allow_nan=False))
        return
    table = Table(title=f"{len(holds)} lot(s) held", title_justify="left")
    table.add_column("Product", overflow="fold")
    table.add_column("Lot", overflow="fold")
    table.add_column("Stage", overflow="fold")
    table.add_column("Final yield", justify="right")
    table.add_column("Rule", overflow="fold")
    table.add_column("Why", overflow="fold")
    for hold in holds:
        shown = f"{100 * hold.final_yield:.2f}%" if hold.final_yield is not None else ""
        for n, reason in enumerate(hold.reasons):
            first = n == 0
            table.add_row(escape(str(hold.product or "")) if first else "", escape(hold.lot_id) if first else "",
                          escape(hold.stage) if first else "", shown if first else "", escape(reason.rule),
                          escape(reason.text))  # fmt: skip
    print_table(console, table)
    for note in disposition.notes:
        console.print(escape(note), style="dim", highlight=False, soft_wrap=True)
