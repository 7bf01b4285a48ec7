"""``silicio trace ...`` (forward, backward, recall, operator flags, master data) and ``silicio audit
verify``. Parses arguments, calls the core, prints. (``silicio verify`` and ``silicio keys`` are in
:mod:`.certificate`.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from silicio.datadir import default_data_dir

from .errors import fail, needs, reported_errors
from .options import DataDir
from .render import console, print_table

if TYPE_CHECKING:
    from silicio.trace.store import TraceStore

app = typer.Typer(
    help="Trace genealogy: forward, backward, recall scope, operator flags.", no_args_is_help=True
)
audit_app = typer.Typer(help="The hash-chained audit log of master data, genealogy and certificates.",
                        no_args_is_help=True)  # fmt: skip

AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _store(data: Path | None, command: str) -> TraceStore:
    needs("lake", command)
    from silicio.trace.store import TraceStore

    data_dir = data or default_data_dir()
    if not Path(data_dir).is_dir():
        raise fail(f"{data_dir}: no such data directory")
    return TraceStore.at(data_dir)


def _node(text: str) -> tuple[str, str]:
    kind, sep, name = text.partition(":")
    if not sep or not kind or not name:
        raise fail(f"{text!r}: expected KIND:NAME, e.g. wafer:QT0001-01 or material_lot:ML0001")
    return kind, name


def _print_trace(result: dict, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    start = ", ".join(f"{k} {n}" for k, n in result["start"])
    table = Table(title=escape(f"{result['direction']} trace from {start}"), title_justify="left")
    table.add_column("kind")
    table.add_column("count", justify="right")
    table.add_column("first names")
    for kind, count in result["counts"].items():
        names = result["nodes"][kind]
        table.add_row(kind, f"{count:,}", escape(", ".join(names[:5]) + (" ..." if count > 5 else "")))
    print_table(console, table)
    if result.get("shipments"):
        ships = Table(title="units per shipment", title_justify="left")
        for col in ("shipment", "units", "customer", "destination"):
            ships.add_column(col, justify="right" if col == "units" else "left")
        for s in result["shipments"]:
            ships.add_row(escape(s["shipment"]), f"{s['units']:,}", escape(str(s.get("customer", ""))),
                          escape(str(s.get("destination", ""))))  # fmt: skip
        print_table(console, ships)


def _trace(data: Path | None, node: str, direction: str, as_json: bool) -> None:
    kind, name = _node(node)
    with reported_errors():
        store = _store(data, f"silicio trace {direction}")
        from silicio.trace import api
        from silicio.trace.genealogy import GenealogyError

        try:
            result = (api.forward if direction == "forward" else api.backward)(store, kind, name)
        except GenealogyError as exc:
            raise fail(str(exc)) from None
        finally:
            store.close()
    _print_trace(result, as_json)


@app.command()
def forward(
    node: Annotated[str, typer.Argument(metavar="KIND:NAME", help="Where to start, e.g. wafer:QT0001-01.")],
    data: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Everything made from a lot, wafer or material lot: units, reels, shipments and customers."""
    _trace(data, node, "forward", as_json)


@app.command()
def backward(
    node: Annotated[str, typer.Argument(metavar="KIND:NAME", help="Where to start, e.g. unit:SLC-TV100-...")],
    data: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Everything a unit, reel or shipment was made from: dies, wafers, lots, material lots."""
    _trace(data, node, "backward", as_json)


@app.command()
def recall(
    suspects: Annotated[
        list[str], typer.Argument(metavar="KIND:NAME...", help="Suspect wafers, lots, material lots.")
    ],
    data: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Recall scope: units, reels and shipments made from the suspects, units per customer."""
    nodes = [_node(s) for s in suspects]
    with reported_errors():
        store = _store(data, "silicio trace recall")
        from silicio.trace import api
        from silicio.trace.genealogy import GenealogyError

        try:
            result = api.recall_scope(store, nodes)
        except GenealogyError as exc:
            raise fail(str(exc)) from None
        finally:
            store.close()
    _print_trace(result, as_json)
    if not as_json:
        console.print(f"[bold]{result['units']:,}[/bold] units in scope, "
                      f"{len(result['shipments'])} shipments, {len(result['customers'])} customers")  # fmt: skip


@app.command()
def operators(data: DataDir = None, as_json: AsJson = False) -> None:
    """Steps recorded by operators without a valid qualification (training record)."""
    with reported_errors():
        store = _store(data, "silicio trace operators")
        from silicio.trace import api

        try:
            flags = api.operator_flags(store)
        finally:
            store.close()
    if as_json:
        typer.echo(json.dumps(flags, ensure_ascii=False, indent=2))
        return
    if not flags:
        console.print("no step recorded by an unqualified operator")
        return
    table = Table(title="steps by unqualified operators", title_justify="left")
    for col in ("on", "node", "part", "step", "operator", "why"):
        table.add_column(col)
    for f in flags:
        table.add_row(f["on"], escape(f"{f['node_kind']} {f['node_name']}"), escape(f["part_number"]), f["step"],
                      escape(f["badge"]), escape(f["flag"]))  # fmt: skip
    print_table(console, table)


@app.command()
def products(data: DataDir = None, as_json: AsJson = False) -> None:
    """Products in the master data: gross die, target yield, unit cost, price."""
    with reported_errors():
        store = _store(data, "silicio trace products")
        from silicio.trace import api
        from silicio.trace.model import MasterDataError

        try:
            rows = api.master_data_summary(store.load_master_data())
        except MasterDataError as exc:
            raise fail(str(exc)) from None
        finally:
            store.close()
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title="products", title_justify="left")
    for col in ("part", "rev", "die mm", "gross die", "grid die", "yield", "unit cost", "price"):
        table.add_column(col, justify="left" if col in ("part", "rev") else "right")
    for r in rows:
        table.add_row(r["part_number"], r["revision"], "x".join(f"{v:g}" for v in r["die_mm"]), str(r["gross_die"]),
                      str(r["grid_die"]), f"{r['die_yield']:.1%}", f"{r['unit_cost']:.4f}", f"{r['price']:.2f}")  # fmt: skip
    print_table(console, table)


# -- top level: audit verify


@audit_app.command("verify")
def audit_verify(data: DataDir = None, as_json: AsJson = False) -> None:
    """Walk the audit log's hash chain and check the tables against it. Exit 1 on any break."""
    with reported_errors():
        store = _store(data, "silicio audit verify")
        try:
            report = store.verify_audit()
        finally:
            store.close()
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    elif report.ok:
        console.print(f"[green]OK[/green] {report.entries} entries, head {report.head_hash[:16]}...")
    else:
        console.print(f"[bold red]FAILED[/bold red] after walking {report.entries} entries")
        if report.chain_break is not None:
            console.print(f"  - first broken entry #{report.chain_break.seq}: {escape(report.chain_break.reason)}",
                          soft_wrap=True)  # fmt: skip
        for m in report.mismatches:
            console.print(f"  - {escape(m)}", soft_wrap=True)
    if not report.ok:
        raise typer.Exit(1)
