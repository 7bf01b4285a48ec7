"""Alembic environment of the trace tables: migrations run on the connection the caller passes in
``config.attributes["connection"]`` (see :meth:`silicio.trace.store.TraceStore.upgrade`), or, with
``alembic -x url=...`` from the command line, on a new engine for that URL. The version is kept
in ``alembic_version_trace``, so these migrations live beside the lake's in one database."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from silicio.trace.store import VERSION_TABLE, Base

config = context.config


def _include(obj, name, type_, reflected, compare_to) -> bool:
    # Only the trace tables are ours; the lake's catalog shares the database.
    return type_ != "table" or name.startswith("trace_")


def _run(connection: sa.engine.Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                      version_table=VERSION_TABLE, include_object=_include)  # fmt: skip
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(
            url=url, target_metadata=Base.metadata, literal_binds=True, version_table=VERSION_TABLE
        )
        with context.begin_transaction():
            context.run_migrations()
    else:
        engine = sa.create_engine(url)
        with engine.begin() as new_connection:
            _run(new_connection)
        engine.dispose()
