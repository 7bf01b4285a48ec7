"""Options several commands share, declared once so they read and behave the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from silicio.datadir import DATA_ENV, DATABASE_URL_ENV

from .errors import fail, needs

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data", metavar="DIR", help=f"Data directory (default ${DATA_ENV} or ./data).", show_default=False
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", metavar="URL", envvar=DATABASE_URL_ENV,
                 help="SQLAlchemy URL of the catalog (default: SQLite in the data directory).", show_default=False),
]  # fmt: skip


def needs_database(command: str, database_url: str | None) -> None:
    """A PostgreSQL catalog needs the 'postgres' extra (the driver); SQLite comes with Python."""
    if database_url and database_url.startswith("postgresql"):
        needs("postgres", f"{command} --database-url {database_url.split(':', 1)[0]}:...")


def acting_user(actor: str | None, doing: str) -> str:
    """``--actor``, else the operating-system user, for a write logged with who made it; neither is
    an error, never an anonymous write. ``doing`` completes "name who ..." in the messages."""
    import getpass

    if actor is not None:
        if not actor.strip():
            raise fail(f"--actor is empty: name who {doing}")
        return actor.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        raise fail(f"no user name in the environment: name who {doing} with --actor") from None
