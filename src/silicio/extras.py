"""The optional extras of silicio and the check that a feature's extra is installed.

The core (``pip install silicio``) reads, writes and converts STDF with numpy, numba, pyarrow, typer
and rich alone. Everything else comes with an extra declared in ``pyproject.toml``; a feature that
needs one calls :func:`require` first, so that a missing extra is one line saying what to install
instead of an ``ImportError`` deep inside a library.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec

__all__ = ["EXTRAS", "Extra", "MissingExtra", "require"]


@dataclass(frozen=True)
class Extra:
    """The modules an extra installs (import names), and the extras it pulls in with them."""

    modules: tuple[str, ...]
    includes: tuple[str, ...] = ()


#: Extra name -> what it installs; the same lists as ``[project.optional-dependencies]``
#: (tests/test_packaging.py checks that the two agree).
EXTRAS: dict[str, Extra] = {
    "lake": Extra(
        ("duckdb", "pytz", "polars", "sqlalchemy", "alembic", "scipy", "networkx", "highspy", "cryptography")
    ),
    "web": Extra(("fastapi", "uvicorn", "jinja2", "plotly"), includes=("lake", "pdf", "xlsx")),
    "dask": Extra(("dask", "distributed")),
    "postgres": Extra(("psycopg",)),
    "pdf": Extra(("matplotlib", "segno")),
    "xlsx": Extra(("xlsxwriter", "openpyxl")),
    "spatial": Extra(("sklearn",)),
}


class MissingExtra(ImportError):
    """A feature was asked for whose extra is not installed; the message names the extra."""

    def __init__(self, feature: str, extra: str, missing: list[str]) -> None:
        self.feature, self.extra, self.missing = feature, extra, missing
        super().__init__(
            f"{feature} needs the '{extra}' extra ({missing[0]} is not installed): "
            f"pip install 'silicio[{extra}]'"
        )


def missing_modules(extra: str) -> list[str]:
    """Modules of ``extra`` (and of the extras it includes) that cannot be imported here."""
    if extra not in EXTRAS:
        raise ValueError(f"{extra!r}: no such extra, expected one of {', '.join(EXTRAS)}")
    spec = EXTRAS[extra]
    # find_spec looks the module up without importing it: the check costs no import time.
    missing = [m for m in spec.modules if find_spec(m) is None]
    for included in spec.includes:
        missing += [m for m in missing_modules(included) if m not in missing]
    return missing


def require(extra: str, feature: str) -> None:
    """Raise :class:`MissingExtra` when a module of ``extra`` is not installed.

    ``feature`` is what the user asked for, as the message should name it: ``"silicio serve"``.
    """
    missing = missing_modules(extra)
    if missing:
        raise MissingExtra(feature, extra, missing)
