"""``silicio trace ...`` (forward, backward, recall, load, operator flags, master data) and ``silicio
audit verify|checkpoint``. Parses arguments, calls the core, prints. (``silicio verify`` and
``silicio keys`` are in :mod:`.certificate`.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from silicio.datadir import default_data_dir

from .errors import existing_file, fail, needs, reported_errors
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


def _store(data: Path | None, command: str, create: bool = True) -> TraceStore:
    """The data directory's store; ``create=False``: only one that exists (never made to check it)."""
    needs("lake", command)
    from silicio.trace.store import TraceStore, TraceStoreMissing

    data_dir = data or default_data_dir()
    if not Path(data_dir).is_dir():
        raise fail(f"{data_dir}: no such data directory")
    try:
        return TraceStore.at(data_dir, create=create)
    except TraceStoreMissing as exc:
        raise fail(str(exc)) from None


Actor = Annotated[
    str | None,
    typer.Option("--actor", help="Who makes this write, for the audit log (default: your login name).",
                 show_default=False),
]  # fmt: skip


def _actor(actor: str | None) -> str:
    if actor is not None:
        return actor
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        raise fail("no login name to log this write under; pass --actor NAME") from None


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


@app.command("load")
def load(
    csv_file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE.csv",
            help="Edges: parent_kind, parent_name, "
            "child_kind, child_name[, quantity, customer, destination].",
        ),
    ],
    data: DataDir = None,
    actor: Actor = None,
) -> None:
    """Load genealogy edges from a CSV file as one audited batch; any bad row refuses the whole file."""
    existing_file(csv_file)
    who = _actor(actor)
    with reported_errors():
        store = _store(data, "silicio trace load")
        from silicio.trace.genealogy import GenealogyError
        from silicio.trace.loading import read_genealogy_csv

        try:
            batch = read_genealogy_csv(csv_file)
            seq = store.add_genealogy(actor=who, **batch)
        except (GenealogyError, ValueError) as exc:
            raise fail(str(exc) if str(exc).startswith(str(csv_file)) else f"{csv_file}: {exc}") from None
        finally:
            store.close()
    console.print(f"loaded {len(batch['edges']):,} edges from {escape(str(csv_file))} as audit entry #{seq} "
                  f"by {escape(who)}", soft_wrap=True, highlight=False)  # fmt: skip


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


def _certificate_anchors(files: list[Path], data: Path | None) -> tuple[list, list[str]]:
    """Log heads signed into certificates held outside the database (a customer's copy); each
    certificate's own signature is checked first (the issuer's keyring in DATA/keys), so a
    forged one anchors nothing."""
    if not files:
        return [], []
    from silicio import datadir
    from silicio.origin import CertificateError, Keyring, parse_document, verify_bytes
    from silicio.trace.audit import Anchor

    anchors, problems = [], []
    paths = datadir.DataDir.at(data)
    try:
        ring = Keyring.load(paths.keys) if paths.keyring.exists() or paths.public_key.exists() else None
    except CertificateError as exc:
        raise fail(str(exc)) from None
    for f in files:
        data_bytes = existing_file(f).read_bytes()
        try:
            content = parse_document(data_bytes, str(f))["certificate"]
            seq, digest = content["audit_head"]["seq"], content["audit_head"]["hash"]
        except (CertificateError, KeyError, TypeError):
            raise fail(f"{f}: not a certificate with an audit_head (seq, hash)") from None
        if ring is None:
            problems.append(f"certificate {f}: no keyring in {paths.keys} to check its signature")
            continue
        if not verify_bytes(data_bytes, ring, source=str(f)).signature_ok:
            problems.append(f"certificate {f}: its signature does not hold, so its log head proves nothing")
            continue
        anchors.append(Anchor(int(seq), str(digest), f"certificate {content.get('id', f)} ({f})"))
    return anchors, problems


@audit_app.command("verify")
def audit_verify(
    data: DataDir = None,
    as_json: AsJson = False,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option("--checkpoint", metavar="FILE.json", show_default=False,
                     help="Checkpoints exported earlier (JSON or JSON lines); repeat for several."),
    ] = None,
    certificate: Annotated[
        list[Path] | None,
        typer.Option("--certificate", metavar="CERT.json", show_default=False,
                     help="Certificates held outside the database; the log head each signs is checked."),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", metavar="KEY.pem", show_default=False,
                     help="The checkpoint public key, from a copy you trust (default: the data directory's)."),
    ] = None,
) -> None:  # fmt: skip
    """Walk the audit log's hash chain, hold it to its signed checkpoints and to the log heads
    signed into certificates, and check the tables against it. Exit 1 on any break; a missing
    database is an error (exit 2), never an empty "OK"."""
    with reported_errors():
        store = _store(data, "silicio audit verify", create=False)
        from silicio.trace import checkpoints as cp

        try:
            anchors, problems = [], []
            paths = cp.CheckpointPaths.at(data or default_data_dir())
            key_path = public_key or paths.public_key
            key = cp.load_public_key(existing_file(key_path)) if public_key or key_path.exists() else None
            documents = [d for f in (checkpoint or []) for d in cp.read_checkpoints(existing_file(f))]
            if public_key is not None:  # then the data directory's checkpoints too, with the trusted key
                documents += cp.read_checkpoints(paths.log) if paths.log.exists() else []
            checked = cp.check_checkpoints(documents, key)
            anchors += checked.anchors
            problems += checked.problems
            more, why = _certificate_anchors(certificate or [], data)
            report = store.verify_audit(anchors + more, problems + why, checkpoints=public_key is None)
        except cp.CheckpointError as exc:
            raise fail(str(exc)) from None
        finally:
            store.close()
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    elif report.ok:
        console.print(f"[green]OK[/green] {report.entries} entries, head {report.head_hash[:16]}...")
        if report.signed_decisions:
            console.print(
                f"  {report.signed_decisions} signed lot disposition step(s), every signature verified"
            )
        if report.anchored_seq < report.entries:
            console.print(f"  entries #{report.anchored_seq + 1}..#{report.entries} are not yet anchored by a "
                          "checkpoint or certificate: run silicio audit checkpoint", soft_wrap=True)  # fmt: skip
    else:
        console.print(f"[bold red]FAILED[/bold red] after walking {report.entries} entries")
        if report.chain_break is not None:
            console.print(f"  - first broken entry #{report.chain_break.seq}: {escape(report.chain_break.reason)}",
                          soft_wrap=True)  # fmt: skip
        for m in report.anchor_problems + report.mismatches:
            console.print(f"  - {escape(m)}", soft_wrap=True)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    data: DataDir = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="FILE.json", show_default=False,
                     help="Also write the checkpoint to this file (to keep or publish elsewhere)."),
    ] = None,
    actor: Actor = None,
) -> None:  # fmt: skip
    """Sign the audit log's head (Ed25519, key DATA/keys/audit-checkpoint.pem, made on first use)
    and append it to DATA/audit/checkpoints.jsonl; prints it as JSON. Refused when the log does
    not verify: a checkpoint must never vouch for a tampered log."""
    who = _actor(actor)
    with reported_errors():
        store = _store(data, "silicio audit checkpoint", create=False)
        from silicio.trace import checkpoints as cp
        from silicio.trace.store import check_actor

        try:
            report = store.verify_audit()
            if not report.ok:
                first = ([f"entry #{report.chain_break.seq}: {report.chain_break.reason}"] if report.chain_break
                         else []) + report.anchor_problems + report.mismatches  # fmt: skip
                raise fail(f"the audit log does not verify ({first[0]}); no checkpoint signed. "
                           "Run silicio audit verify")  # fmt: skip
            paths = cp.CheckpointPaths.at(data or default_data_dir())
            document = cp.sign_checkpoint(
                report.entries, report.head_hash, cp.signing_key(paths), check_actor(who)
            )
            cp.append_checkpoint(paths, document)
        except (cp.CheckpointError, ValueError) as exc:
            raise fail(str(exc)) from None
        finally:
            store.close()
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if out is not None:
        with reported_errors():
            out.write_text(text + "\n", encoding="utf-8")
    typer.echo(text)
