"""Alembic migrations of the account tables (version table ``alembic_version_auth``)."""
