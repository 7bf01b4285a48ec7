"""``silicio users ...``: the dashboard's accounts (add, list, disable, a new password, the
language an account prefers) and API tokens for scripts (issue, list, revoke). Passwords and token secrets are printed once, when made,
and never stored as given (:mod:`silicio.auth`).

Every change is logged with its actor: ``--actor``, else ``cli:<the operating-system user>``.
"""

from __future__ import annotations

import getpass
import json
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from silicio.datadir import default_data_dir

from .errors import fail, needs, reported_errors
from .options import DatabaseUrl, DataDir, needs_database
from .render import console

if TYPE_CHECKING:
    from silicio.auth import AuthStore

app = typer.Typer(help="Dashboard accounts (roles admin, engineer, quality, auditor, supplier) and API tokens.",
                  no_args_is_help=True)  # fmt: skip
token_app = typer.Typer(help="API tokens for scripts (Authorization: Bearer ...).", no_args_is_help=True)
app.add_typer(token_app, name="token")

Role = Annotated[str, typer.Option("--role", help="admin, engineer, quality, auditor or supplier.")]
Organisation = Annotated[
    str | None, typer.Option("--org", metavar="ORG_ID", help="The organisation a supplier acts for.")
]
Actor = Annotated[
    str | None,
    typer.Option(
        "--actor", help="Who makes the change, for the log (default cli:<OS user>).", show_default=False
    ),
]
PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from standard input instead of making one."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "cli"


def _store(data: Path | None, database_url: str | None, command: str, *, create: bool = False) -> AuthStore:
    needs("lake", command)
    needs_database(command, database_url)
    from silicio.auth import AuthStore

    data_dir = data or default_data_dir()
    if not create and database_url is None and not Path(data_dir).is_dir():
        raise fail(f"{data_dir}: no such data directory")
    return AuthStore.at(data_dir, database_url)


def _password(from_stdin: bool) -> tuple[str, bool]:
    """The password to set, and whether it was made here (then it is printed once)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return secrets.token_urlsafe(15), True  # 120 random bits, 20 characters


@app.command("add")
def add_command(
    username: Annotated[str, typer.Argument(help="The account's name (a-z, 0-9, '.', '_', '-').")],
    role: Role,
    organisation: Organisation = None,
    password_stdin: PasswordStdin = False,
    data: DataDir = None,
    database_url: DatabaseUrl = None,
    actor: Actor = None,
) -> None:
    """Add an account. Without --password-stdin a random password is made and printed once."""
    from silicio.auth import AuthError

    password, made = _password(password_stdin)
    with reported_errors(AuthError), _store(data, database_url, "silicio users add", create=True) as store:
        user = store.add_user(username, role, password, actor=_actor(actor), organisation=organisation)
    where = f" of {escape(user.organisation)}" if user.organisation else ""
    console.print(f"added [bold]{escape(user.username)}[/bold] ({user.role}{where})", highlight=False)
    if made:
        console.print(f"password (shown once): [bold]{escape(password)}[/bold]", highlight=False)


@app.command("list")
def list_command(data: DataDir = None, database_url: DatabaseUrl = None, as_json: AsJson = False) -> None:
    """List the accounts."""
    from silicio.auth import AuthError

    with reported_errors(AuthError), _store(data, database_url, "silicio users list") as store:
        users = store.users()
    rows = [{"username": u.username, "role": u.role, "organisation": u.organisation, "active": u.active,
             "language": u.language, "created_at": u.created_at.isoformat(timespec="seconds"), "created_by": u.created_by} for u in users]  # fmt: skip
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="accounts", title_justify="left")
    for column in ("username", "role", "organisation", "active", "language", "created_at", "created_by"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(escape(str(v if v is not None else "")) for v in row.values()))
    console.print(table)


@app.command("disable")
def disable_command(
    username: Annotated[str, typer.Argument(help="The account to disable.")],
    data: DataDir = None,
    database_url: DatabaseUrl = None,
    actor: Actor = None,
) -> None:
    """Disable an account: it cannot sign in, its sessions end and its API tokens stop working."""
    from silicio.auth import AuthError

    with reported_errors(AuthError), _store(data, database_url, "silicio users disable") as store:
        store.disable_user(username, actor=_actor(actor))
    console.print(f"disabled [bold]{escape(username)}[/bold]", highlight=False)


@app.command("password")
def password_command(
    username: Annotated[str, typer.Argument(help="The account.")],
    password_stdin: PasswordStdin = False,
    data: DataDir = None,
    database_url: DatabaseUrl = None,
    actor: Actor = None,
) -> None:
    """Give an account a new password (printed once unless read from stdin); its sessions end."""
    from silicio.auth import AuthError

    password, made = _password(password_stdin)
    with reported_errors(AuthError), _store(data, database_url, "silicio users password") as store:
        store.set_password(username, password, actor=_actor(actor))
    console.print(f"new password for [bold]{escape(username)}[/bold]", highlight=False)
    if made:
        console.print(f"password (shown once): [bold]{escape(password)}[/bold]", highlight=False)


@app.command("language")
def language_command(
    username: Annotated[str, typer.Argument(help="The account.")],
    language: Annotated[
        str,
        typer.Argument(help="en, es (or es-MX), or none: the browser's language, as without a preference."),
    ],
    data: DataDir = None,
    database_url: DatabaseUrl = None,
    actor: Actor = None,
) -> None:
    """Set the dashboard language an account opens in (before its cookie and browser; ?lang= still wins)."""
    from silicio.auth import AuthError

    wanted = None if language.strip().lower() == "none" else language
    with reported_errors(AuthError), _store(data, database_url, "silicio users language") as store:
        user = store.set_language(username, wanted, actor=_actor(actor))
    shown = user.language or "none (the browser's)"
    console.print(f"language of [bold]{escape(user.username)}[/bold]: {shown}", highlight=False)


@token_app.command("issue")
def token_issue_command(
    user: Annotated[
        str | None, typer.Option("--user", help="The token acts as this account (its role and organisation).")
    ] = None,
    role: Annotated[str | None, typer.Option("--role", help="A token of no account: its role.")] = None,
    organisation: Organisation = None,
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="Days until it expires.")] = 90,
    label: Annotated[str, typer.Option("--label", help="What the token is for.")] = "",
    data: DataDir = None,
    database_url: DatabaseUrl = None,
    actor: Actor = None,
) -> None:
    """Issue an API token; its secret is printed once (send it as Authorization: Bearer SECRET)."""
    from silicio.auth import AuthError

    with reported_errors(AuthError), _store(data, database_url, "silicio users token issue") as store:
        token, secret = store.issue_token(actor=_actor(actor), username=user, role=role,
                                          organisation=organisation, days=days, label=label)  # fmt: skip
    where = f" of {escape(token.organisation)}" if token.organisation else ""
    console.print(f"issued [bold]{token.token_id}[/bold] ({token.role}{where}), expires "
                  f"{token.expires_at.date().isoformat()}", highlight=False)  # fmt: skip
    console.print(f"secret (shown once): [bold]{escape(secret)}[/bold]", highlight=False, soft_wrap=True)


@token_app.command("revoke")
def token_revoke_command(
    token_id: Annotated[
        str, typer.Argument(help="The token's id (tok_..., from `silicio users token list`).")
    ],
    data: DataDir = None,
    database_url: DatabaseUrl = None,
    actor: Actor = None,
) -> None:
    """Revoke an API token: it stops working at once."""
    from silicio.auth import AuthError

    with reported_errors(AuthError), _store(data, database_url, "silicio users token revoke") as store:
        store.revoke_token(token_id, actor=_actor(actor))
    console.print(f"revoked [bold]{escape(token_id)}[/bold]", highlight=False)


@token_app.command("list")
def token_list_command(
    data: DataDir = None, database_url: DatabaseUrl = None, as_json: AsJson = False
) -> None:
    """List the API tokens (never their secrets)."""
    from silicio.auth import AuthError

    with reported_errors(AuthError), _store(data, database_url, "silicio users token list") as store:
        now = store.clock()
        tokens = store.tokens()
    rows = [{"token_id": t.token_id, "role": t.role, "organisation": t.organisation, "user": t.username,
             "label": t.label, "expires_at": t.expires_at.isoformat(timespec="seconds"),
             "state": "revoked" if t.revoked_at else ("active" if t.active(now) else "expired")} for t in tokens]  # fmt: skip
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="API tokens", title_justify="left")
    for column in rows[0] if rows else ("token_id",):
        table.add_column(column)
    for row in rows:
        table.add_row(*(escape(str(v if v is not None else "")) for v in row.values()))
    console.print(table)
