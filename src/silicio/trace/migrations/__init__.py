"""Alembic migrations of the trace tables (version table ``alembic_version_trace``)."""
