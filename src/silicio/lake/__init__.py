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

from .catalog import Catalog, CatalogEntry
from .ingest import (
    FAILED,
    INGESTED,
    PARTIAL,
    QUARANTINED,
    SKIPPED,
    FileOutcome,
    IngestReport,
    Recovery,
    expand_paths,
    ingest,
    recover,
    stage_file,
)
from .layout import DATA_ENV, DATABASE_URL_ENV, LakeLayout, default_data_dir, infer_stage
from .query import Lake, open
from .watch import watch

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
