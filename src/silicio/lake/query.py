"""Query the lake: DuckDB views over the Parquet files, the catalog beside them, polars out.

>>> lake = silicio.open("data")
>>> lake.sql("SELECT lot, stage, count(*) FROM PTR GROUP BY ALL").show()
>>> df = lake.polars("SELECT * FROM parts WHERE is_last_test")

Views: one per record type present (``PTR``, ``PRR``, ...), ``tidy`` (one row per part and
test, :func:`silicio.stdf.tidy`) and ``parts`` (one row per part, :func:`silicio.stdf.parts.parts`).
Each has the file's columns plus ``product``, ``lot``, ``stage`` (the partition, sanitized, see
:func:`silicio.lake.layout.partition_value`) and ``file_sha256`` (join to ``files.sha256``).
The catalog tables ``files``, ``file_records``, ``wafers``, ``quarantine``, ``lots`` and the
sources' own (``stdf_files``) are there too, as of when the lake was opened
(:meth:`Lake.refresh` reloads them).
"""

from __future__ import annotations

import os
from typing import Any

import duckdb
import pyarrow as pa

from .catalog import CATALOG_TABLES, Catalog
from .layout import TIDY_TABLE, LakeLayout

#: Columns a table may store narrower than its view shows them: the tidy view's result is stored
#: as the float32 it was recorded in (:data:`silicio.stdf.tidy.TIDY_STORED_SCHEMA`), older
#: lakes' files hold float64; the view shows double either way.
STORED_NARROW = {TIDY_TABLE: {"result": "DOUBLE"}}

# The file's SHA-256 from its name, .../<sha256>.parquet or .../<sha256>_lean.parquet.
_SHA_FROM_FILENAME = r"regexp_extract(filename, '([0-9a-f]{64})(_lean)?\.parquet$', 1)"


class Lake:
    """A data directory opened for queries; see the module notes. Close it, or use ``with``."""

    def __init__(self, data_dir: str | os.PathLike | None = None, database_url: str | None = None, *,
                 catalog: Catalog | None = None):  # fmt: skip
        """``catalog``: one already open on the data directory's database (closed with the lake);
        default: opened and migrated here."""
        self.layout = LakeLayout.at(data_dir)
        if not self.layout.root.is_dir():
            raise FileNotFoundError(
                f"{self.layout.root}: no such data directory (run `silicio ingest` first)"
            )
        self.catalog = catalog if catalog is not None else Catalog(self.layout.database_url(database_url))
        self._connection: duckdb.DuckDBPyConnection | None = None

    @property
    def duckdb(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection with the views (made on first use)."""
        if self._connection is None:
            self._connection = duckdb.connect()
            # Every query of a view binds it over all the lake's files (union_by_name reads each
            # file's schema): with their footers kept, it binds in half the time. DuckDB reads a
            # footer again when its file changed since (a file rewritten in place by a re-ingest).
            self._connection.execute("SET parquet_metadata_cache = true")
            self.refresh()
        return self._connection

    @property
    def tables(self) -> list[str]:
        """Names of the lake's views: record types and derived views present, then the catalog."""
        return [*self.layout.tables(), *CATALOG_TABLES]

    def refresh(self) -> None:
        """(Re)create the views: new record types show up, the catalog tables are reloaded.
        Queries already see new files of known types without this."""
        con = self.duckdb
        for table in self.layout.tables():
            pattern = str(self.layout.table_dir(table) / "**" / "*.parquet").replace("'", "''")
            widened = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in STORED_NARROW.get(table, {}).items())
            con.execute(
                f'CREATE OR REPLACE VIEW "{table}" AS '
                f"SELECT * EXCLUDE (filename) {f'REPLACE ({widened})' if widened else ''}, "
                f"{_SHA_FROM_FILENAME} AS file_sha256 "
                f"FROM read_parquet('{pattern}', hive_partitioning = true, hive_types_autocast = false, "
                f"union_by_name = true, filename = true)"
            )
        for name in CATALOG_TABLES:
            con.register(name, self.catalog.arrow(name))

    def sql(self, query: str, params: Any = None) -> duckdb.DuckDBPyRelation:
        """A DuckDB relation (``.show()``, ``.fetchall()``, ``.pl()``, ``.to_arrow_table()``)."""
        return self.duckdb.sql(query, params=params)

    def rows(self, query: str, params: Any = None) -> list[tuple]:
        """The query's rows as tuples."""
        return self.sql(query, params).fetchall()

    def polars(self, query: str, params: Any = None):
        """The query's result as a polars DataFrame."""
        return self.sql(query, params).pl()

    def arrow(self, query: str, params: Any = None) -> pa.Table:
        """The query's result as a pyarrow Table."""
        return self.sql(query, params).to_arrow_table()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self.catalog.close()

    def __enter__(self) -> Lake:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open(data_dir: str | os.PathLike | None = None, database_url: str | None = None) -> Lake:  # noqa: A001
    """Open the lake in ``data_dir`` (default ``$SILICIO_DATA`` or ``./data``) for queries."""
    return Lake(data_dir, database_url)
