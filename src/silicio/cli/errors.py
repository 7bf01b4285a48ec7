"""Turning expected failures into one red line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.markup import escape

from silicio.extras import MissingExtra, require
from silicio.stdf.errors import StdfError

from .render import stderr

#: Exit code of bad input (a file that is missing or not valid, a bad option value).
BAD_INPUT = 2


def fail(message: str) -> typer.Exit:
    """Print ``message`` as one red line and return the exit to raise."""
    stderr.print(f"[bold red]error:[/bold red] [red]{escape(message)}[/red]", soft_wrap=True)
    return typer.Exit(BAD_INPUT)


def needs(extra: str, command: str) -> None:
    """Stop ``command`` with one line naming the extra to install when ``extra`` is missing.

    Commands call it before importing the areas they use: those are imported inside the commands,
    so that ``silicio --help`` and ``silicio stdf ...`` run on a core-only install.
    """
    try:
        require(extra, command)
    except MissingExtra as exc:
        raise fail(str(exc)) from None


def existing_file(path: Path) -> Path:
    if not path.exists():
        raise fail(f"{path}: no such file")
    if not path.is_file():
        raise fail(f"{path}: not a file")
    return path


@contextmanager
def reported_errors(*also: type[Exception]) -> Iterator[None]:
    """Errors of the input become :func:`fail`; anything else is a bug and keeps its traceback.
    ``also``: more error types whose message says it all, of the areas a command imports inside
    itself (the lake's SourceRegistryError: a plugin registered wrongly; the STDF converter's
    ConvertError)."""
    try:
        yield
    # Their text says it all: StdfError names the file, the byte offset and the record; MissingExtra
    # (a library function that checks its own extra, like the xlsx output) the extra to install.
    except (StdfError, MissingExtra, *also) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise fail(f"{where}{exc.strerror or exc}") from None
