"""Alembic environment of the trace tables (see :func:`silicio.lake.catalog.run_migration_environment`).
The version is kept in ``alembic_version_trace``, so these migrations live beside the lake's in
one database."""

from silicio.lake.catalog import run_migration_environment
from silicio.trace.store import VERSION_TABLE, Base


def _include(obj, name, type_, reflected, compare_to) -> bool:
    # Only the trace tables are ours; the lake's catalog shares the database.
    return type_ != "table" or name.startswith("trace_")


run_migration_environment(Base.metadata, VERSION_TABLE, _include)
