"""Alembic environment of the account tables (see :func:`silicio.lake.catalog.run_migration_environment`).
The version is kept in ``alembic_version_auth``, so these migrations live beside the lake's and
the trace store's in one database."""

from silicio.auth.store import VERSION_TABLE, Base
from silicio.lake.catalog import run_migration_environment


def _include(obj, name, type_, reflected, compare_to) -> bool:
    # Only the account tables are ours; the lake's catalog shares the database.
    return type_ != "table" or name.startswith("auth_")


run_migration_environment(Base.metadata, VERSION_TABLE, _include)
