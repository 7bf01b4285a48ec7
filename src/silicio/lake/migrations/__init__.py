"""Alembic migrations of the lake catalog, run by :meth:`silicio.lake.catalog.Catalog.upgrade`."""
