"""The catalog the evaluations at ingest keep for the process (:func:`silicio.alerts.ingested.kept_catalog`),
in a module of its own: it loads SQLAlchemy, which ``silicio alerts check`` and ``rules`` never need."""

from __future__ import annotations

from silicio.lake.catalog import Catalog


class KeptCatalog(Catalog):
    """A catalog kept for the process: closing it (a lake opened on it closed after an
    evaluation) keeps its pooled connection for the next evaluation on the database;
    :meth:`release` closes it."""

    def close(self) -> None:
        """Nothing closed: the pool takes the connection again only while it is to the database
        file at the path (:func:`silicio.lake.catalog.catalog_engine`)."""

    def release(self) -> None:
        """Close the pooled connections (a catalog no longer kept)."""
        super().close()
