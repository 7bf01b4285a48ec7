"""Alembic environment of the catalog: migrations run on the connection the caller passes in
``config.attributes["connection"]`` (see :meth:`silicio.lake.catalog.Catalog.upgrade`), or, with
``alembic -x url=...`` from the command line, on a new engine for that URL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from silicio.lake.catalog import metadata

config = context.config


def _run(connection: sa.engine.Connection) -> None:
    # Batch mode lets later migrations alter SQLite tables, which cannot ALTER most things.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        engine = sa.create_engine(url)
        with engine.begin() as new_connection:
            _run(new_connection)
        engine.dispose()
