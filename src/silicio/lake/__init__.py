"""The data lake: tester files taken in once as partitioned Parquet, a catalog, DuckDB on top.

>>> from silicio import lake
>>> report = lake.ingest(["incoming/"], "data")        # Parquet + catalog, in parallel
>>> with lake.open("data") as db:
...     db.sql("SELECT stage, count(*) FROM files GROUP BY stage").show()

Modules: :mod:`.layout` (paths, partitions, locks), :mod:`.catalog` (SQLAlchemy tables, Alembic
migrations), :mod:`.sources` (data sources: STDF built in, plugins through the
``silicio.sources`` entry points), :mod:`.ingest` (worker step, commit, recovery), :mod:`.query`
(DuckDB views), :mod:`.watch` (ingest a folder as files land).
"""

from silicio._lazy import lazy_package
from silicio.datadir import DATA_ENV, DATABASE_URL_ENV, default_data_dir

#: Public name -> the module of this package that defines it. Names are imported on first use
#: (PEP 562): ``silicio.lake.layout`` (paths, environment variables) stays importable without the
#: catalog's and DuckDB's dependencies, e.g. by the CLI of a core-only install. ``lake.ingest``
#: and ``lake.watch`` are the functions, not their modules.
_EXPORTS = {
    "Catalog": "catalog",
    "CatalogEntry": "catalog",
    "FAILED": "ingest",
    "INGESTED": "ingest",
    "PARTIAL": "ingest",
    "QUARANTINED": "ingest",
    "SKIPPED": "ingest",
    "FileOutcome": "ingest",
    "IngestReport": "ingest",
    "Recovery": "ingest",
    "expand_paths": "ingest",
    "ingest": "ingest",
    "recover": "ingest",
    "stage_file": "ingest",
    "LakeLayout": "layout",
    "infer_stage": "layout",
    "Lake": "query",
    "open": "query",
    "watch": "watch",
}

__all__ = [
    "DATABASE_URL_ENV",
    "DATA_ENV",
    "FAILED",
    "INGESTED",
    "PARTIAL",
    "QUARANTINED",
    "SKIPPED",
    "Catalog",
    "CatalogEntry",
    "FileOutcome",
    "IngestReport",
    "Lake",
    "LakeLayout",
    "Recovery",
    "default_data_dir",
    "expand_paths",
    "infer_stage",
    "ingest",
    "open",
    "recover",
    "stage_file",
    "watch",
]


lazy_package(__name__, _EXPORTS)
