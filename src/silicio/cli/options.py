"""Options several commands share, declared once so they read and behave the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from silicio.lake.layout import DATA_ENV, DATABASE_URL_ENV

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
