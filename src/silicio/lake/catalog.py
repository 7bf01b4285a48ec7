"""The catalog: which files the lake holds, what they are, and which could not be read.

A relational database through SQLAlchemy 2 (Core), SQLite in the data directory by default,
PostgreSQL (or any SQLAlchemy URL) with ``SILICIO_DATABASE_URL``. The schema is created and
upgraded by the Alembic migrations in ``silicio/lake/migrations``, run on open.

Tables
------
``files``        one row per file taken in, by SHA-256 of its bytes: the data source that read
                 it (``source``: ``stdf``, or a plugin's kind, see :mod:`silicio.lake.sources`),
                 tester, program, lot, stage, times, parts, yields, ``partial`` when salvaged
                 from damage and ``issues`` (the reader's problems: offset, record, reason) as JSON,
                 ``warnings`` likewise: what is unusual but was read in full (STDF: records of
                 undefined types kept, zero padding after the MRR, odd array widths)
``stdf_files``   what only STDF files have (version, byte order), one row per STDF file
``file_records`` records per type of each file, as its source counts them
``wafers``       parts, good parts and yields per wafer of each file
``quarantine``   files that could not be read, or only in part: the source that tried (null when
                 none reads such files), its first error (offset, record, reason); ``salvaged``
                 with the ``files`` row of what was kept
``lots``         a view: files, parts and good parts per (product, lot, stage)

The lot history (:mod:`silicio.yields.history`): AEC-Q002 SYL / SBL and AEC-Q001 static PAT limits
computed from earlier lots, versioned.

``baselines``            one row per (product, stage, program, revision): the lots of a test program
                         judged against each other; ``frozen_version`` pins a version
``baseline_versions``    each computation: version number, when, by whom (``actor``), the
                         parameters, and the date by which the limits are to be reviewed
``baseline_lots``        the lots a version was computed from, with their test start and yield
``baseline_yield_limits`` SYL (yield) and SBL (per failing bin) per lot and per wafer of a version
``baseline_pat_limits``  static PAT limits of a version, one row per test (and pin)
``baseline_events``      every write to the history (update, freeze, unfreeze), with its actor

Wafer-map signatures (:mod:`silicio.spatial`, ``silicio spatial classify --data``):

``wafer_signatures``     one row per (lot, stage, wafer): the WM-811K class of its map, with its
                         probability and every class's (JSON), the model that said so, the zonal
                         yields, the largest cluster of fails, when and by whom (``actor``)
``wafer_signature_history`` each signature replaced by a different one (new data ingested for the
                         wafer, another model): the row as it was, when and by whom it was
                         superseded; nothing is overwritten unrecorded
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

metadata = sa.MetaData()

files = sa.Table(
    "files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
    # Rows from before data sources (revision 0001) were all read as STDF.
    sa.Column("source", sa.String(32), nullable=False, server_default="stdf"),
    sa.Column("tester_type", sa.Text),
    sa.Column("node", sa.Text),
    sa.Column("program", sa.Text),
    sa.Column("revision", sa.Text),
    sa.Column("operator", sa.Text),
    sa.Column("test_code", sa.Text),
    sa.Column("started", sa.DateTime(timezone=True)),
    sa.Column("finished", sa.DateTime(timezone=True)),
    sa.Column("product", sa.Text),
    sa.Column("lot", sa.Text),
    sa.Column("sublot", sa.Text),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("wafers", sa.Integer, nullable=False),
    sa.Column("records", sa.BigInteger, nullable=False),
    sa.Column("parts", sa.Integer, nullable=False),
    sa.Column("good_parts", sa.Integer, nullable=False),
    sa.Column("dies", sa.Integer, nullable=False),
    sa.Column("first_pass_good", sa.Integer, nullable=False),
    sa.Column("final_good", sa.Integer, nullable=False),
    sa.Column("first_pass_yield", sa.Float),
    sa.Column("final_yield", sa.Float),
    sa.Column("partial", sa.Boolean, nullable=False),
    sa.Column("issues", sa.JSON, nullable=False),
    sa.Column("warnings", sa.JSON, nullable=False, server_default="[]"),
)
sa.Index("ix_files_lot", files.c.product, files.c.lot, files.c.stage)

stdf_files = sa.Table(
    "stdf_files",
    metadata,
    sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("stdf_version", sa.String(16)),
    sa.Column("byte_order", sa.String(16)),
)

file_records = sa.Table(
    "file_records",
    metadata,
    sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("record_type", sa.String(8), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)

wafers = sa.Table(
    "wafers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("wafer_id", sa.Text),
    sa.Column("parts", sa.Integer, nullable=False),
    sa.Column("good_parts", sa.Integer, nullable=False),
    sa.Column("dies", sa.Integer, nullable=False),
    sa.Column("first_pass_good", sa.Integer, nullable=False),
    sa.Column("final_good", sa.Integer, nullable=False),
    sa.Column("first_pass_yield", sa.Float),
    sa.Column("final_yield", sa.Float),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("source", sa.String(32)),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("record", sa.String(8)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("issues", sa.Integer, nullable=False),
    sa.Column("salvaged", sa.Boolean, nullable=False),
    sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="CASCADE")),
)

baselines = sa.Table(
    "baselines",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("product", sa.Text),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("program", sa.Text),
    sa.Column("revision", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # The version judgements use as-is until it is unfrozen; null when not frozen.
    sa.Column("frozen_version", sa.Integer),
)
sa.Index(
    "ix_baselines_key", baselines.c.product, baselines.c.stage, baselines.c.program, baselines.c.revision
)


def _parent_id(name: str, parent: str) -> sa.Column:
    """A lot-history row's link to the row it belongs to (deleted with it), indexed."""
    return sa.Column(name, sa.Integer, sa.ForeignKey(parent, ondelete="CASCADE"), nullable=False, index=True)


baseline_versions = sa.Table(
    "baseline_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _parent_id("baseline_id", "baselines.id"),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("review_by", sa.Date, nullable=False),
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.UniqueConstraint("baseline_id", "version", name="uq_baseline_versions_version"),
)

baseline_lots = sa.Table(
    "baseline_lots",
    metadata,
    sa.Column(
        "version_id", sa.Integer, sa.ForeignKey("baseline_versions.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("lot", sa.Text, primary_key=True),
    sa.Column("started", sa.DateTime(timezone=True), nullable=False),
    sa.Column("parts", sa.Integer, nullable=False),
    sa.Column("good_parts", sa.Integer, nullable=False),
)


baseline_yield_limits = sa.Table(
    "baseline_yield_limits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _parent_id("version_id", "baseline_versions.id"),
    sa.Column("scope", sa.String(8), nullable=False),  # "lot" or "wafer"
    sa.Column("kind", sa.String(8), nullable=False),  # "SYL" or "SBL"
    sa.Column("bin", sa.Integer),  # null for SYL
    sa.Column("n_lots", sa.Integer, nullable=False),
    sa.Column("n_values", sa.Integer, nullable=False),  # lots, or wafers of those lots
    sa.Column("mean", sa.Float, nullable=False),
    sa.Column("sigma", sa.Float, nullable=False),
    sa.Column("limit1", sa.Float, nullable=False),
    sa.Column("limit2", sa.Float, nullable=False),
)

baseline_pat_limits = sa.Table(
    "baseline_pat_limits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _parent_id("version_id", "baseline_versions.id"),
    sa.Column("test_num", sa.BigInteger, nullable=False),
    sa.Column("test_name", sa.Text),
    sa.Column("pin", sa.Integer),
    sa.Column("n_lots", sa.Integer, nullable=False),
    sa.Column("n_parts", sa.Integer, nullable=False),
    sa.Column("robust_mean", sa.Float),
    sa.Column("q1", sa.Float),
    sa.Column("q3", sa.Float),
    sa.Column("robust_sigma", sa.Float),
    sa.Column("sigma_source", sa.String(16)),
    sa.Column("lsl", sa.Float),
    sa.Column("usl", sa.Float),
    sa.Column("pat_lo", sa.Float),
    sa.Column("pat_hi", sa.Float),
    sa.Column("clamped_lo", sa.Boolean, nullable=False),
    sa.Column("clamped_hi", sa.Boolean, nullable=False),
    sa.Column("skipped", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text),
)

baseline_events = sa.Table(
    "baseline_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _parent_id("baseline_id", "baselines.id"),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # "establish", "update", "freeze", "unfreeze"
    sa.Column("version", sa.Integer),
)


def _signature_columns() -> list[sa.Column]:
    """The columns of a wafer's signature (fresh objects: a column belongs to one table)."""
    return [
        sa.Column("product", sa.Text),
        sa.Column("lot", sa.Text, nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("wafer_id", sa.Text, nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("probabilities", sa.JSON, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("dies", sa.Integer, nullable=False),
        sa.Column("wafer_yield", sa.Float),
        sa.Column("centre_yield", sa.Float),
        sa.Column("middle_yield", sa.Float),
        sa.Column("edge_yield", sa.Float),
        sa.Column("largest_cluster_dies", sa.Integer, nullable=False),
        sa.Column("largest_cluster_radius", sa.Float),
        sa.Column("classified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
    ]


wafer_signatures = sa.Table(
    "wafer_signatures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    *_signature_columns(),
    sa.UniqueConstraint("lot", "stage", "wafer_id", name="uq_wafer_signatures_wafer"),
)

wafer_signature_history = sa.Table(
    "wafer_signature_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("signature_id", sa.Integer, nullable=False),
    *_signature_columns(),
    sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("superseded_by", sa.Text, nullable=False),
)
sa.Index(
    "ix_wafer_signature_history_wafer",
    wafer_signature_history.c.lot,
    wafer_signature_history.c.stage,
    wafer_signature_history.c.wafer_id,
)

#: What a signature says: a stored row equal in these is the same signature (not superseded).
_SIGNATURE_CONTENT = ("product", "label", "confidence", "probabilities", "model", "dies", "wafer_yield",
                      "centre_yield", "middle_yield", "edge_yield", "largest_cluster_dies",
                      "largest_cluster_radius")  # fmt: skip

# Alerts (silicio.alerts): each alert raised, once per rule and subject (migration 0007); who it
# was sent to and how that went; who acknowledged it. Written through silicio.lake.queries.alerts.
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("product", sa.Text),
    sa.Column("lot", sa.Text),
    sa.Column("stage", sa.String(16)),
    sa.Column("recipients", sa.JSON, nullable=False),
    sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
)
sa.Index("ix_alerts_rule_subject", alerts.c.rule, alerts.c.subject)

alert_deliveries = sa.Table(
    "alert_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _parent_id("alert_id", "alerts.id"),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

alert_acks = sa.Table(
    "alert_acks",
    metadata,
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("username", sa.Text, primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("note", sa.Text),
)

# The supplier portal (migration 0008): each change a supplier proposes, pending until the maker's
# quality staff approve or reject it. Written through silicio.lake.queries.supplier_portal.
supplier_proposals = sa.Table(
    "supplier_proposals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("org_id", sa.Text, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("proposed_by", sa.Text, nullable=False),
    sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reviewed_by", sa.Text),
    sa.Column("reviewed_at", sa.DateTime(timezone=True)),
    sa.Column("reason", sa.Text),
    sa.Column("file_sha256", sa.String(64)),
    sa.Column("file_name", sa.Text),
    sa.Column("file_type", sa.String(64)),
    sa.Column("file_bytes", sa.Integer),
)
sa.Index("ix_supplier_proposals_org_status", supplier_proposals.c.org_id, supplier_proposals.c.status)

#: Catalog tables and views, in the order they are shown.
CATALOG_TABLES = ("files", "stdf_files", "file_records", "wafers", "quarantine", "lots", "wafer_signatures",
                  "wafer_signature_history")  # fmt: skip

#: Data source kind -> its table of the facts only its files have (``SourceData.details``).
DETAIL_TABLES: dict[str, sa.Table] = {"stdf": stdf_files}

_MIGRATIONS = "silicio.lake:migrations"


@dataclass
class CatalogEntry:
    """What one file adds to the catalog: the kind of data source that read it (None when no
    source reads such files), a ``files`` row (None when nothing could be read), its record
    counts, wafers and the row of its kind's detail table, and a ``quarantine`` row when it was
    damaged."""

    sha256: str
    path: str
    size: int
    source: str | None
    file: dict[str, Any] | None
    records: dict[str, int] = field(default_factory=dict)
    wafers: list[dict[str, Any]] = field(default_factory=list)
    quarantine: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.file is not None and self.source is None:
            raise ValueError(f"{self.path}: a files row needs the kind of data source that read it")
        if self.details and self.source not in DETAIL_TABLES:
            raise ValueError(
                f"{self.path}: the catalog keeps no details for files of kind {self.source!r} "
                f"(only for {', '.join(sorted(DETAIL_TABLES))})"
            )


@dataclass(frozen=True)
class KnownFile:
    """A SHA-256 the catalog already holds, and under which path it came in."""

    sha256: str
    path: str
    quarantined: bool


@dataclass(frozen=True)
class BaselineKey:
    """Which lots form a history: a product at a stage under one test program (MIR JOB_NAM) and
    revision (MIR JOB_REV). Any of them may be unknown (null) in the files."""

    product: str | None
    stage: str
    program: str | None
    revision: str | None

    def __str__(self) -> str:
        program = f"{self.program or '?'} rev {self.revision or '?'}"
        return f"{self.product or '(no product)'} / {self.stage} / {program}"


class BaselineFrozen(ValueError):
    """A new version of a frozen baseline was asked for: unfreeze it first."""


class Catalog:
    """The catalog database at ``url`` (any SQLAlchemy URL), migrated to the latest schema."""

    def __init__(self, url: str, *, migrate: bool = True):
        self.url = url
        self.engine: Engine = catalog_engine(url)
        if migrate:
            self.upgrade()

    def close(self) -> None:
        pool = self.engine.pool
        # a queue pool holding no connection (a catalog closed already) has nothing to close:
        # disposing it would only build a new pool
        if isinstance(pool, sa.pool.QueuePool) and pool.checkedin() == 0 and pool.checkedout() == 0:
            return
        self.engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- schema

    def upgrade(self) -> None:
        """Bring the schema to the latest migration (a no-op when it is there already)."""
        upgrade_schema(self.engine, _MIGRATIONS)

    # -- reading

    def known(self, sha256: str) -> KnownFile | None:
        """The file or quarantine entry with this SHA-256, if any."""
        with self.engine.connect() as connection:
            return _known(connection, sha256)

    def sha256s(self) -> set[str]:
        """SHA-256 of every file with data in the lake (quarantined unreadable files have none)."""
        with self.engine.connect() as connection:
            return set(connection.scalars(sa.select(files.c.sha256)))

    def rows(self, name: str, order_by: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Every row of a catalog table or view, as dicts (times as UTC-aware datetimes)."""
        if name not in CATALOG_TABLES:
            raise ValueError(f"unknown catalog table {name!r}; known: {', '.join(CATALOG_TABLES)}")
        table = metadata.tables.get(name)
        if table is not None:  # through the table, so booleans, JSON and times get their types
            query = sa.select(table).order_by(*[table.c[c] for c in order_by])
        else:
            query = sa.text(
                f"SELECT * FROM {name}" + (f" ORDER BY {', '.join(order_by)}" if order_by else "")
            )
        with self.engine.connect() as connection:
            result = connection.execute(query)
            return [_normalized(dict(row._mapping)) for row in result]

    def arrow(self, name: str) -> pa.Table:
        """A catalog table as Arrow (JSON columns as text), for DuckDB and polars."""
        rows = self.rows(name)
        for row in rows:
            for key in _JSON_LISTS:
                if key in row and not isinstance(row[key], int | None):
                    row[key] = json.dumps(row[key])
            if "probabilities" in row:
                row["probabilities"] = json.dumps(row["probabilities"])
        if rows:
            return pa.Table.from_pylist(rows)
        return _empty_arrow(name)

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            return {
                name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for name, table in (
                    ("files", files),
                    ("quarantine", quarantine),
                    ("wafers", wafers),
                    ("wafer_signatures", wafer_signatures),
                    ("wafer_signature_history", wafer_signature_history),
                )
            }

    # -- writing

    def store_signatures(self, rows: Sequence[dict[str, Any]], *, actor: str) -> dict[str, int]:
        """Store the wafer-map signature of each wafer (``wafer_signatures``' columns but the
        time and the actor), in one transaction; each row records when and by whom (``actor``).

        A wafer without a signature gets one (``added``). A wafer whose stored signature says the
        same (class, probabilities, model, zonal yields, cluster) keeps it (``unchanged``). One
        whose signature differs has its old row moved to ``wafer_signature_history`` with when
        and by whom it was superseded, and the new one stored (``replaced``). Returns the counts.
        """
        if not actor or not actor.strip():
            raise ValueError("storing signatures needs an actor: who classified the wafers")
        now = datetime.now(UTC)
        counts = {"added": 0, "replaced": 0, "unchanged": 0}
        with self.engine.begin() as connection:
            for row in rows:
                where = ((wafer_signatures.c.lot == row["lot"]) & (wafer_signatures.c.stage == row["stage"])
                         & (wafer_signatures.c.wafer_id == row["wafer_id"]))  # fmt: skip
                old = connection.execute(sa.select(wafer_signatures).where(where)).first()
                if old is not None:
                    old = dict(old._mapping)
                    if all(_same(old[k], row.get(k)) for k in _SIGNATURE_CONTENT):
                        counts["unchanged"] += 1
                        continue
                    history = {k: v for k, v in old.items() if k != "id"}
                    connection.execute(sa.insert(wafer_signature_history), {
                        **history, "signature_id": old["id"], "superseded_at": now, "superseded_by": actor,
                    })  # fmt: skip
                    connection.execute(sa.delete(wafer_signatures).where(wafer_signatures.c.id == old["id"]))
                connection.execute(sa.insert(wafer_signatures), {**row, "classified_at": now, "actor": actor})
                counts["replaced" if old is not None else "added"] += 1
        return counts

    def signature_history(self, lot: str, stage: str, wafer_id: str) -> list[dict[str, Any]]:
        """The signatures a wafer had before its current one, oldest first (with
        ``superseded_at`` and ``superseded_by``)."""
        query = (
            sa.select(wafer_signature_history)
            .where((wafer_signature_history.c.lot == lot) & (wafer_signature_history.c.stage == stage)
                   & (wafer_signature_history.c.wafer_id == wafer_id))
            .order_by(wafer_signature_history.c.id)
        )  # fmt: skip
        with self.engine.connect() as connection:
            return [_normalized(dict(row._mapping)) for row in connection.execute(query)]

    def wafers_of(self, sha256s: Sequence[str]) -> list[dict[str, Any]]:
        """product, lot, stage, wafer_id of the wafers the files with these contents hold
        (wafers with an id), each once, by lot, stage and wafer."""
        found: set[tuple] = set()
        wanted = list(dict.fromkeys(sha256s))
        with self.engine.connect() as connection:
            for start in range(0, len(wanted), 500):  # SQLite bounds the parameters of a statement
                query = (
                    sa.select(files.c.product, files.c.lot, files.c.stage, wafers.c.wafer_id)
                    .join(wafers, wafers.c.file_id == files.c.id)
                    .where(files.c.sha256.in_(wanted[start : start + 500]) & wafers.c.wafer_id.is_not(None)
                           & files.c.lot.is_not(None))
                    .distinct()
                )  # fmt: skip
                found.update(tuple(row) for row in connection.execute(query))
        keys = ("product", "lot", "stage", "wafer_id")
        return [dict(zip(keys, row, strict=True)) for row in sorted(found, key=lambda r: (r[1], r[2], r[3]))]

    def add(self, entry: CatalogEntry) -> KnownFile | None:
        """Record one file in one transaction. Returns None when recorded, or the entry that
        already holds this SHA-256 (another ingest got there first) and then changes nothing."""
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as connection:
                existing = _known(connection, entry.sha256)
                if existing is not None:
                    return existing
                file_id = None
                if entry.file is not None:
                    row = {**entry.file, "sha256": entry.sha256, "path": entry.path, "size": entry.size,
                           "source": entry.source, "ingested_at": now}  # fmt: skip
                    file_id = connection.execute(sa.insert(files).returning(files.c.id), row).scalar_one()
                    if entry.source in DETAIL_TABLES:
                        connection.execute(sa.insert(DETAIL_TABLES[entry.source]),
                                           {**entry.details, "file_id": file_id})  # fmt: skip
                    if entry.records:
                        connection.execute(sa.insert(file_records), [
                            {"file_id": file_id, "record_type": name, "count": count}
                            for name, count in entry.records.items()
                        ])  # fmt: skip
                    if entry.wafers:
                        connection.execute(
                            sa.insert(wafers), [{**w, "file_id": file_id} for w in entry.wafers]
                        )
                if entry.quarantine is not None:
                    connection.execute(sa.insert(quarantine), {
                        **entry.quarantine, "sha256": entry.sha256, "path": entry.path, "size": entry.size,
                        "source": entry.source, "at": now, "salvaged": file_id is not None, "file_id": file_id,
                    })  # fmt: skip
        except IntegrityError:
            # The unique SHA-256 held: a concurrent ingest on another host committed it first.
            existing = self.known(entry.sha256)
            if existing is None:
                raise
            return existing
        return None

    # -- the lot history (silicio.yields.history computes, this stores)

    def baselines(self, product: str | None = None, stage: str | None = None) -> list[dict[str, Any]]:
        """Every baseline (of ``product`` / ``stage`` when given), with its latest version number
        (null before the first), by product, stage, program, revision."""
        latest = (
            sa.select(
                baseline_versions.c.baseline_id, sa.func.max(baseline_versions.c.version).label("latest")
            )
            .group_by(baseline_versions.c.baseline_id)
            .subquery()
        )
        query = sa.select(baselines, latest.c.latest).outerjoin(
            latest, latest.c.baseline_id == baselines.c.id
        )
        if product is not None:
            query = query.where(baselines.c.product == product)
        if stage is not None:
            query = query.where(baselines.c.stage == stage)
        query = query.order_by(
            baselines.c.product, baselines.c.stage, baselines.c.program, baselines.c.revision
        )
        with self.engine.connect() as connection:
            return [_normalized(dict(row._mapping)) for row in connection.execute(query)]

    def baseline_versions(self, key: BaselineKey) -> list[dict[str, Any]]:
        """The versions of the baseline ``key``, oldest first, each with its ``lots`` (oldest first)
        and ``yield_limits`` as lists of dicts, and ``frozen`` (this is the pinned version). One
        statement, however many versions are stored (:func:`_versions_statement`)."""
        versions: list[dict[str, Any]] = []
        with self.engine.connect() as connection:
            statement, values = _versions_statement(key)
            for row in connection.execute(statement, values):
                part = row.part
                if part == 0:
                    version = {c.name: getattr(row, f"v_{c.name}") for c in baseline_versions.c}
                    version = _normalized(version)
                    version.update(frozen=version["version"] == row.frozen_version, lots=[], yield_limits=[])
                    versions.append(version)
                elif part == 1:
                    versions[-1]["lots"].append(
                        _normalized({c: getattr(row, f"l_{c}") for c in _LOT_COLUMNS})
                    )
                else:
                    versions[-1]["yield_limits"].append({c: getattr(row, f"y_{c}") for c in _LIMIT_COLUMNS})
        return versions

    def baseline_pat_limits(self, version_id: int) -> list[dict[str, Any]]:
        """The static PAT limits stored with a version (its ``id``), one dict per test, in order."""
        columns = [c for c in baseline_pat_limits.c if c.name not in ("id", "version_id")]
        with self.engine.connect() as connection:
            return [
                dict(row._mapping)
                for row in connection.execute(
                    sa.select(*columns)
                    .where(baseline_pat_limits.c.version_id == version_id)
                    .order_by(baseline_pat_limits.c.id)
                )
            ]

    def baseline_events(self, key: BaselineKey) -> list[dict[str, Any]]:
        """Every write to the baseline ``key``: ``at, actor, action, version``, oldest first."""
        query = (
            sa.select(baseline_events.c.at, baseline_events.c.actor, baseline_events.c.action,
                      baseline_events.c.version)
            .join(baselines, baselines.c.id == baseline_events.c.baseline_id)
            .where(*_key_filter(key))
            .order_by(baseline_events.c.id)
        )  # fmt: skip
        with self.engine.connect() as connection:
            return [_normalized(dict(row._mapping)) for row in connection.execute(query)]

    def add_baseline_version(
        self,
        key: BaselineKey,
        *,
        actor: str,
        computed_at: datetime,
        review_by: date,
        parameters: dict[str, Any],
        lots: Sequence[dict[str, Any]],
        yield_limits: Sequence[dict[str, Any]],
        pat_limits: Sequence[dict[str, Any]] = (),
        first_only: bool = False,
    ) -> int | None:
        """Store a new version of the baseline ``key`` (made on first use) in one transaction, with
        its lots (``lot, started, parts, good_parts``), yield and static PAT limits, and log the
        write with ``actor``. Returns the version number (1, 2, ...). A frozen baseline raises
        :class:`BaselineFrozen` and changes nothing. ``first_only``: only when the baseline has no
        version yet (logged as "establish"; None and nothing written when it has one, as when
        another process stored one first)."""
        if not actor or not actor.strip():
            raise ValueError("a baseline version needs the actor who computed it")
        with self.engine.begin() as connection:
            baseline = self._baseline_row(connection, key, create_at=computed_at)
            if baseline.frozen_version is not None:
                raise BaselineFrozen(
                    f"{key}: version {baseline.frozen_version} is frozen; unfreeze it to compute a new one"
                )
            last = connection.scalar(
                sa.select(sa.func.max(baseline_versions.c.version)).where(
                    baseline_versions.c.baseline_id == baseline.id
                )
            )
            if first_only and last is not None:
                return None
            version = (last or 0) + 1
            version_id = connection.execute(
                sa.insert(baseline_versions).returning(baseline_versions.c.id),
                {"baseline_id": baseline.id, "version": version, "computed_at": computed_at, "actor": actor,
                 "review_by": review_by, "parameters": parameters},
            ).scalar_one()  # fmt: skip
            connection.execute(sa.insert(baseline_lots), [{**lot, "version_id": version_id} for lot in lots])
            if yield_limits:
                connection.execute(
                    sa.insert(baseline_yield_limits),
                    [{**row, "version_id": version_id} for row in yield_limits],
                )
            if pat_limits:
                connection.execute(
                    sa.insert(baseline_pat_limits), [{**row, "version_id": version_id} for row in pat_limits]
                )
            connection.execute(sa.insert(baseline_events), {
                "baseline_id": baseline.id, "at": computed_at, "actor": actor,
                "action": "establish" if first_only else "update", "version": version,
            })  # fmt: skip
        return version

    def set_baseline_frozen(self, key: BaselineKey, frozen: bool, *, actor: str) -> int:
        """Freeze the latest version of the baseline ``key`` (judgements then use it as-is, and no
        new version is computed), or unfreeze it; the write is logged with ``actor``. Returns the
        version frozen or unfrozen. ValueError when the baseline has no version yet."""
        if not actor or not actor.strip():
            raise ValueError("freezing or unfreezing a baseline needs the actor who does it")
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            baseline = connection.execute(sa.select(baselines).where(*_key_filter(key))).first()
            latest = None
            if baseline is not None:
                latest = connection.scalar(
                    sa.select(sa.func.max(baseline_versions.c.version)).where(
                        baseline_versions.c.baseline_id == baseline.id
                    )
                )
            if latest is None:
                raise ValueError(f"{key}: no limits computed yet (run `silicio limits update` first)")
            version = (baseline.frozen_version or latest) if frozen else baseline.frozen_version
            if version is None:
                raise ValueError(f"{key}: not frozen")
            connection.execute(
                sa.update(baselines).where(baselines.c.id == baseline.id)
                .values(frozen_version=version if frozen else None)
            )  # fmt: skip
            connection.execute(sa.insert(baseline_events), {
                "baseline_id": baseline.id, "at": now, "actor": actor,
                "action": "freeze" if frozen else "unfreeze", "version": version,
            })  # fmt: skip
        return version

    @staticmethod
    def _baseline_row(connection: Connection, key: BaselineKey, create_at: datetime):
        row = connection.execute(sa.select(baselines).where(*_key_filter(key))).first()
        if row is None:
            connection.execute(sa.insert(baselines), {
                "product": key.product, "stage": key.stage, "program": key.program, "revision": key.revision,
                "created_at": create_at, "frozen_version": None,
            })  # fmt: skip
            row = connection.execute(sa.select(baselines).where(*_key_filter(key))).one()
        return row


def upgrade_schema(engine: Engine, script_location: str, version_table: str = "alembic_version") -> None:
    """Run the Alembic migrations at ``script_location`` up to their head (no-op when there).
    Areas with tables of their own in the catalog database keep their own ``version_table``."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    config = Config()
    config.set_main_option("script_location", script_location)
    head = _migrations_head(script_location)
    with engine.begin() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": version_table})
        if context.get_current_revision() == head:
            return
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@functools.lru_cache(maxsize=16)
def _migrations_head(script_location: str) -> str | None:
    """The head revision of the migration scripts at ``script_location``: parsed once a process
    (the scripts ship with the package), not at every opening of a catalog."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", script_location)
    return ScriptDirectory.from_config(config).get_current_head()


def run_migration_environment(metadata: sa.MetaData, version_table: str = "alembic_version",
                              include_object=None) -> None:  # fmt: skip
    """The body of an Alembic ``env.py`` for tables in the catalog database: migrations run on
    the connection :func:`upgrade_schema` passes in ``config.attributes["connection"]``, or,
    with ``alembic -x url=...`` from the command line, on a new engine for that URL (or offline).
    Batch mode lets later migrations alter SQLite tables, which cannot ALTER most things."""
    from alembic import context

    config = context.config
    options = {"target_metadata": metadata, "version_table": version_table, "include_object": include_object}

    def run(connection: Connection) -> None:
        context.configure(connection=connection, render_as_batch=True, **options)
        with context.begin_transaction():
            context.run_migrations()

    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(url)
    with engine.begin() as new_connection:
        run(new_connection)
    engine.dispose()


def catalog_engine(url: str) -> Engine:
    """An engine on the catalog database; other areas keep their tables in the same database.

    On a SQLite file a pooled connection is taken again only while the file at its path is the
    one it opened: a database made again there (a lake deleted and made anew) is another file,
    never read or written through a connection to the old one (the pool connects anew)."""
    if url.startswith("sqlite"):
        # Ingests commit one at a time under the lake lock; readers may still hold SQLite's lock
        # briefly, so wait for it rather than fail.
        engine = sa.create_engine(url, connect_args={"timeout": 60})
        path = engine.url.database

        @sa.event.listens_for(engine, "connect")
        def _set_up(dbapi_connection, record) -> None:
            dbapi_connection.execute("PRAGMA foreign_keys = ON")
            record.info["file"] = _file_identity(path)

        @sa.event.listens_for(engine, "checkout")
        def _same_file(_dbapi_connection, record, _proxy) -> None:
            if _file_identity(path) != record.info["file"]:
                raise sa.exc.DisconnectionError(f"{path}: another file since the connection opened it")

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _file_identity(path: str | None) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``; None when there is none (an in-memory database).
    A file open on a connection keeps its inode: a file made at the path since has another."""
    try:
        stat = os.stat(path) if path and path != ":memory:" else None
    except OSError:
        return None
    return None if stat is None else (stat.st_dev, stat.st_ino)


def _same(stored: Any, new: Any) -> bool:
    """A stored signature value against a new one: JSON read back as text on some databases."""
    if isinstance(stored, str) and isinstance(new, dict):
        stored = json.loads(stored)
    return stored == new


#: The columns of a version's lots and yield limits :meth:`Catalog.baseline_versions` gives.
_LOT_COLUMNS = ("lot", "started", "parts", "good_parts")
_LIMIT_COLUMNS = tuple(c.name for c in baseline_yield_limits.c if c.name not in ("id", "version_id"))


#: :func:`_versions_statement`'s statements, by the key's parts that are null (built once: a
#: union this size costs more to build than to run).
_VERSIONS_STATEMENTS: dict[tuple[bool, ...], sa.CompoundSelect] = {}


def _versions_statement(key: BaselineKey) -> tuple[sa.CompoundSelect, dict[str, Any]]:
    """The versions of baseline ``key`` with their lots and yield limits in one statement, and
    its parameters: a row per version (``part`` 0), then its lots (1, by start and lot) and its
    yield limits (2, as stored), versions in order. Each part's columns are null in the others'
    rows (typed nulls: a union's column takes one type)."""
    names = ("product", "stage", "program", "revision")
    nulls = tuple(getattr(key, name) is None for name in names)
    if nulls not in _VERSIONS_STATEMENTS:
        # == None is IS NULL: an unknown product or program is a key like any other
        where = [baselines.c[name].is_(None) if null else baselines.c[name] == sa.bindparam(f"key_{name}")
                 for name, null in zip(names, nulls, strict=True)]  # fmt: skip
        _VERSIONS_STATEMENTS[nulls] = _versions_union(where)
    values = {f"key_{name}": getattr(key, name) for name, null in zip(names, nulls, strict=True) if not null}
    return _VERSIONS_STATEMENTS[nulls], values


def _versions_union(where: list) -> sa.CompoundSelect:
    versions = sa.select(baseline_versions, baselines.c.frozen_version).join(
        baselines, baselines.c.id == baseline_versions.c.baseline_id
    )
    versions = versions.where(*where).subquery()
    lot_columns = [baseline_lots.c[name] for name in _LOT_COLUMNS]
    limit_columns = [baseline_yield_limits.c[name] for name in _LIMIT_COLUMNS]

    def row(part: int, order: list, own: dict[str, Any]) -> list:
        none = {**{f"v_{c.name}": c for c in baseline_versions.c}, "frozen_version": baselines.c.frozen_version,
                **{f"l_{c.name}": c for c in lot_columns}, **{f"y_{c.name}": c for c in limit_columns}}  # fmt: skip
        columns = [versions.c.version.label("number"), sa.literal(part, sa.Integer).label("part")]
        columns += [o.label(f"order{i}") for i, o in enumerate(order)]
        columns += [own[name].label(name) if name in own else sa.cast(sa.null(), c.type).label(name)
                    for name, c in none.items()]  # fmt: skip
        return columns

    null_started = sa.cast(sa.null(), baseline_lots.c.started.type)
    null_lot = sa.cast(sa.null(), baseline_lots.c.lot.type)
    null_id = sa.cast(sa.null(), sa.Integer)
    own_version = {f"v_{c.name}": versions.c[c.name] for c in baseline_versions.c}
    own_version["frozen_version"] = versions.c.frozen_version
    parts = [
        sa.select(*row(0, [null_started, null_lot, null_id], own_version)),
        sa.select(*row(1, [baseline_lots.c.started, baseline_lots.c.lot, null_id],
                       {f"l_{c.name}": c for c in lot_columns}))
        .join_from(versions, baseline_lots, baseline_lots.c.version_id == versions.c.id),
        sa.select(*row(2, [null_started, null_lot, baseline_yield_limits.c.id],
                       {f"y_{c.name}": c for c in limit_columns}))
        .join_from(versions, baseline_yield_limits, baseline_yield_limits.c.version_id == versions.c.id),
    ]  # fmt: skip
    return sa.union_all(*parts).order_by("number", "part", "order0", "order1", "order2")


def _key_filter(key: BaselineKey) -> list:
    # == None is IS NULL in SQLAlchemy: an unknown product or program is a key like any other.
    return [baselines.c.product == key.product, baselines.c.stage == key.stage,
            baselines.c.program == key.program, baselines.c.revision == key.revision]  # fmt: skip


def _known(connection: Connection, sha256: str) -> KnownFile | None:
    path = connection.scalar(sa.select(files.c.path).where(files.c.sha256 == sha256))
    if path is not None:
        return KnownFile(sha256, path, quarantined=False)
    path = connection.scalar(sa.select(quarantine.c.path).where(quarantine.c.sha256 == sha256))
    if path is not None:
        return KnownFile(sha256, path, quarantined=True)
    return None


# JSON columns of lists (quarantine's ``issues`` is a count).
_JSON_LISTS = ("issues", "warnings")


def _normalized(row: dict[str, Any]) -> dict[str, Any]:
    # SQLite keeps no time zone: the catalog writes UTC, so read naive times back as UTC.
    for key, value in row.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            row[key] = value.replace(tzinfo=UTC)
        elif isinstance(value, str) and key in ("started", "finished", "ingested_at", "at") and value:
            row[key] = datetime.fromisoformat(value).replace(tzinfo=UTC)
        elif key in _JSON_LISTS and isinstance(value, str):
            row[key] = json.loads(value)
    return row


_ARROW_TYPES = {
    sa.Integer: pa.int64(),
    sa.BigInteger: pa.int64(),
    sa.Float: pa.float64(),
    sa.Boolean: pa.bool_(),
    sa.DateTime: pa.timestamp("us", tz="UTC"),
}


def _empty_arrow(name: str) -> pa.Table:
    table = metadata.tables.get(name)
    if table is None:  # the lots view
        return pa.table({"product": pa.array([], pa.string()), "lot": pa.array([], pa.string()),
                         "stage": pa.array([], pa.string()), "files": pa.array([], pa.int64())})  # fmt: skip
    fields = []
    for column in table.columns:
        typ = next((t for base, t in _ARROW_TYPES.items() if isinstance(column.type, base)), pa.string())
        fields.append(pa.field(column.name, typ))
    return pa.schema(fields).empty_table()
