"""Alembic environment of the catalog: see :func:`silicio.lake.catalog.run_migration_environment`."""

from silicio.lake.catalog import metadata, run_migration_environment

run_migration_environment(metadata)
