"""``silicio disposition queue|show|decide``: held lots through hold -> review -> release, release
with deviation, re-screen, scrap or return to supplier, each step electronically signed
(:mod:`silicio.trace.disposition`).

The signer is identified as the dashboard identifies people (:mod:`silicio.auth`): ``--as USER``
and that account's password (prompted, hidden, or ``--password-stdin``) or one of its API tokens
(``--token-stdin``). Only quality and admin accounts may sign.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from silicio.datadir import default_data_dir

from .errors import fail, needs, reported_errors
from .options import DatabaseUrl, DataDir, needs_database
from .render import console, print_table

if TYPE_CHECKING:
    from silicio.auth import Principal
    from silicio.trace.store import TraceStore

app = typer.Typer(help="Lot disposition: held lots reviewed and released, scrapped or returned, each step signed.",
                  no_args_is_help=True)  # fmt: skip

AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _trace_store(data: Path | None, database_url: str | None, command: str) -> TraceStore:
    needs("lake", command)
    needs_database(command, database_url)
    from silicio.trace.store import TraceStore

    data_dir = data or default_data_dir()
    if database_url is None and not Path(data_dir).is_dir():
        raise fail(f"{data_dir}: no such data directory")
    return TraceStore.at(data_dir, database_url)


def _signer(username: str, data: Path | None, database_url: str | None, password_stdin: bool,
            token_stdin: bool) -> Principal:  # fmt: skip
    """The account ``username``, proven by its password or one of its API tokens (never trusted as given)."""
    from silicio.auth import AuthStore, LoginRefused

    if password_stdin and token_stdin:
        raise fail("give the password or an API token on standard input, not both")
    if token_stdin:
        secret = sys.stdin.readline().strip()
    elif password_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    else:
        secret = typer.prompt(f"password of {username} (signing)", hide_input=True)
    with AuthStore.at(data or default_data_dir(), database_url) as accounts:
        if token_stdin:
            principal = accounts.authenticate_token(secret)
            if principal is None or principal.username != username:
                raise fail(f"that API token is not a live token of account {username}; nothing signed")
            return principal
        try:
            principal, session_id = accounts.login(username, secret, address="cli")
        except LoginRefused as exc:
            raise fail(f"{exc}; nothing signed") from None
        # The password was checked for this one signing; no session stays open.
        accounts.end_session(session_id, actor=username, address="cli")
        return principal


def _hold_record(lot: str, data: Path | None, database_url: str | None) -> dict:
    """The lot's holds as the disposition rules find them in the lake now."""
    from silicio.lake.query import Lake
    from silicio.trace.disposition import hold_record
    from silicio.yields import disposition as rules_of
    from silicio.yields.recipe import load_recipe

    try:
        with Lake(data, database_url) as lake:
            found = rules_of.lake_disposition(
                lake, load_recipe(rules_of.default_recipe_path()), rules_of.HoldRules()
            )
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    return hold_record(lot, [h.as_dict() for h in found.of(lot)])


@app.command("queue")
def queue_command(data: DataDir = None, database_url: DatabaseUrl = None, as_json: AsJson = False) -> None:
    """Lots whose disposition is open (held, in review, being re-screened), oldest first."""
    from silicio.trace import disposition

    with reported_errors(), _trace_store(data, database_url, "silicio disposition queue") as store:
        rows = disposition.queue(store)
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    table = Table(title=f"{len(rows)} lot(s) awaiting disposition", title_justify="left")
    for column in ("Lot", "State", "Since", "Last signed by"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(escape(r["lot_id"]), r["state"], r["since"] or "", escape(r["by"] or ""))
    print_table(console, table)


@app.command("show")
def show_command(
    lot: Annotated[str, typer.Argument(help="The lot id.")],
    data: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: AsJson = False,
) -> None:
    """A lot's disposition: every signed step (who, when, meaning, reason, corrective action)."""
    from silicio.trace import disposition

    with reported_errors(), _trace_store(data, database_url, "silicio disposition show") as store:
        steps = disposition.history(store, lot)
    if not steps:
        raise fail(f"lot {lot!r} has no disposition record")
    if as_json:
        typer.echo(json.dumps([s.as_dict() for s in steps], indent=1))
        return
    console.print(f"lot [bold]{escape(lot)}[/bold]: {steps[-1].state}", highlight=False)
    table = Table(title_justify="left")
    for column in ("#", "Step", "Signed by", "At (UTC)", "Meaning", "Reason", "8D / CA", "Signature"):
        table.add_column(column, overflow="fold")
    for s in steps:
        sig = s.signature
        capa = sig.get("capa") or {}
        table.add_row(str(s.seq), s.step, f"{escape(sig['printed_name'])} ({sig['role']})", sig["signed_at"],
                      escape(sig["meaning"]), escape(sig["reason"]),
                      escape(f"{capa['id']}: {capa['text']}") if capa else "", s.signature_sha256[:16])  # fmt: skip
    print_table(console, table)


@app.command("decide")
def decide_command(
    lot: Annotated[str, typer.Argument(help="The lot id.")],
    step: Annotated[
        str,
        typer.Option(
            "--step",
            help="hold, review, release, release_with_deviation, rescreen, scrap or return_to_supplier.",
        ),
    ],  # fmt: skip
    reason: Annotated[str, typer.Option("--reason", help="Why: signed with the step.")],
    signer: Annotated[
        str, typer.Option("--as", metavar="USER", help="The account that signs (quality or admin).")
    ],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the signer's password from standard input.")
    ] = False,
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read one of the signer's API tokens from standard input.")
    ] = False,
    capa_id: Annotated[
        str | None, typer.Option("--capa-id", help="An 8D / corrective-action id linked to the lot.")
    ] = None,
    capa_text: Annotated[
        str | None, typer.Option("--capa-text", help="What the corrective action is.")
    ] = None,
    data: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: AsJson = False,
) -> None:
    """Sign one disposition step of a lot. ``hold`` signs the lot's hold record as the rules find
    it in the lake now; later steps sign that record."""
    from silicio.auth import AuthError
    from silicio.trace import disposition

    if (capa_id is None) != (capa_text is None):
        raise fail("a corrective action needs both --capa-id and --capa-text")
    capa = {"id": capa_id, "text": capa_text} if capa_id is not None else None
    with reported_errors(AuthError, disposition.DispositionError):
        principal = _signer(signer, data, database_url, password_stdin, token_stdin)
        record = _hold_record(lot, data, database_url) if step == "hold" else None
        with _trace_store(data, database_url, "silicio disposition decide") as store:
            signed = disposition.decide(store, lot, step, principal, reason, record=record, capa=capa)
    if as_json:
        typer.echo(json.dumps(signed.as_dict(), indent=1))
        return
    console.print(f"lot [bold]{escape(lot)}[/bold] is {signed.state}: signed by {escape(signer)} "
                  f"({signed.signature['meaning']}), audit entry #{signed.seq}, signature "
                  f"{signed.signature_sha256}", highlight=False, soft_wrap=True)  # fmt: skip
