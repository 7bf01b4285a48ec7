"""Queries of the alerts (:mod:`silicio.alerts`): what an ingest brought in, the yield series the
SPC rule charts, and the catalog's ``alerts``, ``alert_deliveries`` and ``alert_acks`` tables
(written here only: every write names its actor or user).

Two ways to the same facts. Reads of the lake go through DuckDB (the catalog tables are views
there): what a re-evaluation of any lot uses. The evaluation at ingest reads the catalog through
SQLAlchemy on its engine and the Parquet an ingest just wrote, one file at a time, with pyarrow
(:func:`ingested_files`, :func:`catalog_lot_yields`, :func:`catalog_wafer_yields`,
:func:`file_table`): a DuckDB connection binds its views over every file of the lake first, which
costs more than a small lot's rules. The alert tables are read and written through SQLAlchemy,
so a PostgreSQL catalog works too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..catalog import alert_acks, alert_deliveries, alerts, baseline_events, files, wafer_signatures, wafers
from ..layout import LakeLayout, Partition
from ..query import STORED_NARROW, Lake
from . import _BY_START, lots_in_start_order

__all__ = [
    "acknowledge",
    "acknowledgements",
    "alert_rows",
    "catalog_history_lots",
    "catalog_lot_yields",
    "catalog_wafer_yields",
    "deliveries",
    "file_table",
    "history_marker",
    "ingested_file_rows",
    "ingested_files",
    "ingested_lots",
    "known_signatures",
    "insert_alerts",
    "insert_delivery",
    "last_alerts",
    "lot_yield_series",
    "lots_tested_between",
    "wafer_yield_series",
]


def ingested_lots(lake: Lake, sha256s: Sequence[str]) -> pl.DataFrame:
    """product, lot, stage of the files with these SHA-256 (one row per lot and stage), in the
    order the lots' testing began."""
    if not sha256s:
        return pl.DataFrame(schema={"product": pl.String, "lot": pl.String, "stage": pl.String})
    return lake.polars(
        "SELECT product, lot, stage, min(started) AS started FROM files "
        "WHERE lot IS NOT NULL AND list_contains($shas, sha256) GROUP BY ALL "
        f"ORDER BY {lots_in_start_order()}",
        {"shas": list(sha256s)},
    ).select("product", "lot", "stage")


def lot_yield_series(lake: Lake, product: str | None, stage: str) -> pl.DataFrame:
    """lot, started, dies, final_good, final_yield of each lot of ``product`` at ``stage``, in
    the order their testing began (the catalog's ``lots`` view: dies and final good summed over
    the lot's files)."""
    return lake.polars(
        "SELECT lot, started, dies, final_good, final_good / nullif(dies, 0) AS final_yield FROM lots "
        "WHERE product IS NOT DISTINCT FROM $product AND stage = $stage AND lot IS NOT NULL "
        f"ORDER BY {lots_in_start_order()}",
        {"product": product, "stage": stage},
    )


def wafer_yield_series(lake: Lake, product: str | None, stage: str) -> pl.DataFrame:
    """lot, wafer_id, started, dies, final_good, final_yield of each wafer of ``product`` at
    ``stage`` (the catalog's ``wafers`` rows of each file), files in the order they were tested."""
    return lake.polars(
        "SELECT f.lot, w.wafer_id, f.started, w.dies, w.final_good, "
        "w.final_good / nullif(w.dies, 0) AS final_yield "
        "FROM wafers w JOIN files f ON f.id = w.file_id "
        "WHERE f.product IS NOT DISTINCT FROM $product AND f.stage = $stage AND f.lot IS NOT NULL "
        f"ORDER BY f.{_BY_START}, f.lot, w.wafer_id",
        {"product": product, "stage": stage},
    )


def lots_tested_between(lake: Lake, since: datetime, until: datetime) -> pl.DataFrame:
    """product, lot, stage, files, dies, final_good, final_yield, first_pass_good, started of
    each lot with a file ingested in [since, until), in the order their testing began."""
    return lake.polars(
        "SELECT product, lot, stage, count(*) AS files, sum(dies) AS dies, sum(final_good) AS final_good, "
        "sum(final_good) / nullif(sum(dies), 0) AS final_yield, sum(first_pass_good) AS first_pass_good, "
        "min(started) AS started FROM files "
        "WHERE lot IS NOT NULL AND lot IN (SELECT lot FROM files WHERE ingested_at >= $since "
        "AND ingested_at < $until) GROUP BY ALL "
        f"ORDER BY {lots_in_start_order()}",
        {"since": since, "until": until},
    )


# -- the same facts from the catalog and the ingested files, without DuckDB

#: Columns of :func:`ingested_files`.
INGESTED_FILE_COLUMNS = {"sha256": pl.String, "product": pl.String, "lot": pl.String, "stage": pl.String,
                         "program": pl.String, "revision": pl.String, "started": pl.Datetime("us", "UTC"),
                         "ingested": pl.Boolean}  # fmt: skip


def ingested_files(engine: Engine, sha256s: Sequence[str]) -> pl.DataFrame:
    """Every file of the lots (lot and stage, any product) that the files with these SHA-256
    belong to, whether this ingest brought it or an earlier one: columns
    :data:`INGESTED_FILE_COLUMNS` (``ingested``: one of ``sha256s``), files in test order (start,
    files without one last, then content hash)."""
    with engine.connect() as connection:
        rows = ingested_file_rows(connection, sha256s)
    return pl.DataFrame(rows, schema=INGESTED_FILE_COLUMNS, orient="row")


def ingested_file_rows(connection: Connection, sha256s: Sequence[str]) -> list[dict[str, Any]]:
    """:func:`ingested_files` as dicts (a few rows a lot: no frame built), read on ``connection``."""
    wanted = list(dict.fromkeys(sha256s))
    rows: list[dict[str, Any]] = []
    query = _ingested_files_statement()
    for start in range(0, len(wanted), 500):  # SQLite bounds the parameters of a statement
        chunk = wanted[start : start + 500]
        rows += [dict(r._mapping) for r in connection.execute(query, {"sha256s": chunk})]
    taken = set(wanted)
    by_sha: dict[str, dict[str, Any]] = {}
    for row in rows:
        row["ingested"] = row["sha256"] in taken
        if row["started"] is not None and row["started"].tzinfo is None:  # SQLite keeps no zone: UTC
            row["started"] = row["started"].replace(tzinfo=UTC)
        by_sha.setdefault(row["sha256"], row)
    # by start, files without one last, then content hash
    return sorted(by_sha.values(), key=lambda r: (r["started"] is None, r["started"] or 0, r["sha256"]))


def catalog_history_lots(connection: Connection, product: str | None, stage: str) -> list[dict[str, Any]]:
    """:func:`silicio.lake.queries.history.history_lots` of ``product`` at ``stage`` from the
    catalog's ``files`` through SQLAlchemy, as dicts: each lot with the program and revision of
    its first file (by start, files without one last, then content hash) and its earliest start,
    in the order of that function."""
    by_lot: dict[str, list[dict[str, Any]]] = {}
    for row in connection.execute(
        _history_lots_statement(product is None), {"product": product, "stage": stage}
    ):
        by_lot.setdefault(row.lot, []).append({**row._mapping, "started": _utc(row.started)})
    out = []
    for lot, rows in by_lot.items():
        first = min(rows, key=lambda r: (r["started"] is None, r["started"] or 0, r["sha256"]))
        starts = [r["started"] for r in rows if r["started"] is not None]
        out.append({"product": product, "stage": stage, "program": first["program"], "revision": first["revision"],
                    "lot": lot, "started": min(starts) if starts else None, "files": len(rows)})  # fmt: skip
    out.sort(key=lambda r: (r["program"] is None, r["program"] or "", r["revision"] is None, r["revision"] or "",
                            r["started"] is None, r["started"] or 0, r["lot"]))  # fmt: skip
    return out


def catalog_lot_yields(engine: Engine, product: str | None, stage: str) -> pl.DataFrame:
    """:func:`lot_yield_series` from the catalog's ``files`` through SQLAlchemy: the same rows,
    columns and order (lots with the same start by lot)."""
    query = _lot_yields_statement(product is None)
    with engine.connect() as connection:
        rows = [
            (lot, _utc(started), int(d), int(g), _ratio(g, d))
            for lot, started, d, g in connection.execute(query, {"product": product, "stage": stage})
        ]
    rows.sort(key=lambda r: (r[1] is None, r[1] or 0, r[0]))  # by start (none last), lot: a few rows
    return pl.DataFrame(rows, schema={"lot": pl.String, "started": pl.Datetime("us", "UTC"), "dies": pl.Int64,
                                      "final_good": pl.Int64, "final_yield": pl.Float64}, orient="row")  # fmt: skip


def catalog_wafer_yields(engine: Engine, product: str | None, stage: str) -> pl.DataFrame:
    """:func:`wafer_yield_series` from the catalog's ``wafers`` and ``files`` through SQLAlchemy:
    the same rows, columns and order."""
    query = (
        sa.select(files.c.lot, wafers.c.wafer_id, files.c.started, wafers.c.dies, wafers.c.final_good)
        .join(files, files.c.id == wafers.c.file_id)
        .where(_same_product(product) & (files.c.stage == stage) & files.c.lot.is_not(None))
    )
    with engine.connect() as connection:
        rows = [
            (lot, wafer, _utc(started), d, g, _ratio(g, d))
            for lot, wafer, started, d, g in connection.execute(query)
        ]
    frame = pl.DataFrame(rows, schema={"lot": pl.String, "wafer_id": pl.String, "started": pl.Datetime("us", "UTC"),
                                       "dies": pl.Int32, "final_good": pl.Int32, "final_yield": pl.Float64},
                         orient="row")  # fmt: skip
    return frame.sort(["started", "lot", "wafer_id"], nulls_last=True, maintain_order=True)


def known_signatures(engine: Engine, stage: str, leaving_out: Sequence[str]) -> dict[str | None, set[str]]:
    """product -> the signature classes (``wafer_signatures.label``) its wafers at ``stage``
    have had, the wafers of the lots ``leaving_out`` not counted."""
    query = _known_signatures_statement(bool(leaving_out))
    out: dict[str | None, set[str]] = {}
    with engine.connect() as connection:
        for product, label in connection.execute(query, {"stage": stage, "lots": list(leaving_out)}):
            out.setdefault(product, set()).add(label)
    return out


def file_table(layout: LakeLayout, table: str, product: str | None, lot: str | None, stage: str, sha256: str,
               columns: Sequence[str] | None = None) -> pl.DataFrame | None:  # fmt: skip
    """Table ``table`` (``parts``, ``tidy``, a record type) of one file as the ingest wrote it
    (``columns``: those only, the ones the file has); None when the file wrote no such table.
    The rows of a view's file, without the partition and ``file_sha256`` columns; a record
    table written as two files (full and lean, :data:`~silicio.lake.layout.LEAN_SUFFIX`) comes
    whole, ordered by ``seq``, the lean rows' sparse columns null."""
    paths = layout.parquet_paths(table, Partition.of(product, lot, stage), sha256)
    if not paths:
        return None
    present = pq.read_schema(paths[0]).names  # the full file's: every column
    if columns is not None:
        columns = [c for c in columns if c in present]
    in_seq_order = len(paths) > 1 and "seq" in present  # the two files' rows interleave
    read = columns if columns is None or not in_seq_order or "seq" in columns else [*columns, "seq"]
    # The first file's schema, the full file's: the lean file's rows get nulls in the sparse columns.
    frame = pl.read_parquet(paths, columns=read, hive_partitioning=False, missing_columns="insert")
    if in_seq_order:
        frame = frame.sort("seq").select(present if columns is None else columns)
    # Columns stored narrower than the lake's views show them (the tidy view's float32 result).
    widened = {c: pl.Float64 for c in STORED_NARROW.get(table, {}) if c in frame.columns}
    return frame.cast(widened) if widened else frame


def history_marker(connection: Connection) -> tuple | None:
    """The newest write to the stored lot history: the last ``baseline_events`` row (id, at,
    baseline, action, version, actor), None before the first. Every write to the stored versions
    (a new version, a freeze, an unfreeze) logs one in its own transaction, so what was read of
    the history after reading one marker holds until the marker changes."""
    row = connection.execute(_history_marker_statement()).first()
    return None if row is None else tuple(row)


def _same_product(product: str | sa.BindParameter | None):
    return files.c.product.is_(None) if product is None else files.c.product == product


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _ratio(good: int | None, dies: int | None) -> float | None:
    # as the SQL final_good / nullif(dies, 0)
    return None if good is None or not dies else good / dies


# -- the alert tables


def last_alerts(engine: Engine, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(rule, subject) -> the newest alert of that rule about that subject, for the ``keys`` that
    ever fired."""
    wanted = set(keys)
    rules, subjects = sorted({rule for rule, _ in wanted}), sorted({subject for _, subject in wanted})
    out: dict[tuple[str, str], dict[str, Any]] = {}
    with engine.connect() as connection:
        for start in range(0, len(subjects), 500):  # SQLite bounds the parameters of a statement
            chunk = {"rules": rules, "subjects": subjects[start : start + 500]}
            for row in connection.execute(_last_alerts_statement(), chunk):
                if (row.rule, row.subject) in wanted:
                    out[row.rule, row.subject] = _aware(dict(row._mapping))
    return out


def insert_alerts(engine: Engine, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Store alerts (the ``alerts`` columns but ``id``) in one transaction; returns their ids, in order."""
    with engine.begin() as connection:
        return [int(i) for i in connection.execute(_insert_alerts_statement(), list(rows)).scalars()]


def insert_delivery(engine: Engine, alert_id: int, channel: str, target: str, status: str, attempts: int,
                    error: str | None) -> None:  # fmt: skip
    """Record how sending alert ``alert_id`` through ``channel`` to ``target`` went."""
    with engine.begin() as connection:
        connection.execute(sa.insert(alert_deliveries).values(
            alert_id=alert_id, channel=channel, target=target, status=status, attempts=attempts,
            error=error, at=datetime.now(UTC)))  # fmt: skip


def alert_rows(engine: Engine, *, since: datetime | None = None, until: datetime | None = None,
               ids: Sequence[int] | None = None, limit: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Alerts, newest first (raised in [since, until) and of ``ids`` when given)."""
    query = sa.select(alerts).order_by(alerts.c.id.desc())
    if since is not None:
        query = query.where(alerts.c.raised_at >= since)
    if until is not None:
        query = query.where(alerts.c.raised_at < until)
    if ids is not None:
        query = query.where(alerts.c.id.in_(list(ids)))
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as connection:
        return [_aware(dict(r._mapping)) for r in connection.execute(query)]


def deliveries(engine: Engine, alert_ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """Delivery records (of ``alert_ids`` when given), oldest first."""
    query = sa.select(alert_deliveries).order_by(alert_deliveries.c.id)
    if alert_ids is not None:
        query = query.where(alert_deliveries.c.alert_id.in_(list(alert_ids)))
    with engine.connect() as connection:
        return [_aware(dict(r._mapping)) for r in connection.execute(query)]


def acknowledge(engine: Engine, alert_id: int, username: str, note: str | None = None) -> bool:
    """Record that ``username`` acknowledged alert ``alert_id``; False when it already had (the
    first acknowledgement stays), LookupError when there is no such alert."""
    with engine.begin() as connection:
        if connection.scalar(sa.select(alerts.c.id).where(alerts.c.id == alert_id)) is None:
            raise LookupError(f"no alert #{alert_id}")
        done = connection.scalar(sa.select(alert_acks.c.alert_id).where(
            (alert_acks.c.alert_id == alert_id) & (alert_acks.c.username == username)))  # fmt: skip
        if done is not None:
            return False
        connection.execute(sa.insert(alert_acks).values(alert_id=alert_id, username=username,
                                                        at=datetime.now(UTC), note=note))  # fmt: skip
    return True


def acknowledgements(engine: Engine, username: str | None = None) -> list[dict[str, Any]]:
    """Acknowledgements (of ``username`` when given), oldest first."""
    query = sa.select(alert_acks).order_by(alert_acks.c.at)
    if username is not None:
        query = query.where(alert_acks.c.username == username)
    with engine.connect() as connection:
        return [_aware(dict(r._mapping)) for r in connection.execute(query)]


def _aware(row: dict[str, Any]) -> dict[str, Any]:
    # SQLite keeps no time zone: the catalog writes UTC.
    for key, value in row.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            row[key] = value.replace(tzinfo=UTC)
    return row


# The statements the rules run at every ingest, built once a process (their lists and values are
# bound parameters, an IN list an expanding one): building a statement costs more CPU than
# running it on a lot's few catalog rows, and the engine then finds it compiled by its cache key.


@cache
def _ingested_files_statement():
    ours = (
        sa.select(files.c.lot, files.c.stage)
        .where(files.c.sha256.in_(sa.bindparam("sha256s", expanding=True)) & files.c.lot.is_not(None))
        .subquery()
    )
    columns = [files.c[name] for name in INGESTED_FILE_COLUMNS if name != "ingested"]
    return (
        sa.select(*columns)
        .join(ours, (ours.c.lot == files.c.lot) & (ours.c.stage == files.c.stage))
        .distinct()
    )


@cache
def _lot_yields_statement(without_product: bool):
    dies, good = sa.func.sum(files.c.dies), sa.func.sum(files.c.final_good)
    product = _same_product(None if without_product else sa.bindparam("product"))
    return (
        sa.select(files.c.lot, sa.func.min(files.c.started), dies, good)
        .where(product & (files.c.stage == sa.bindparam("stage")) & files.c.lot.is_not(None))
        .group_by(files.c.product, files.c.lot, files.c.stage)
    )


@cache
def _history_lots_statement(without_product: bool):
    product = _same_product(None if without_product else sa.bindparam("product"))
    return sa.select(files.c.lot, files.c.program, files.c.revision, files.c.started, files.c.sha256).where(
        product & (files.c.stage == sa.bindparam("stage")) & files.c.lot.is_not(None)
    )


@cache
def _known_signatures_statement(leaving_out: bool):
    query = sa.select(wafer_signatures.c.product, wafer_signatures.c.label).where(
        wafer_signatures.c.stage == sa.bindparam("stage")
    )
    if leaving_out:
        query = query.where(wafer_signatures.c.lot.not_in(sa.bindparam("lots", expanding=True)))
    return query.distinct()


@cache
def _history_marker_statement():
    e = baseline_events.c
    return sa.select(e.id, e.at, e.baseline_id, e.action, e.version, e.actor).order_by(e.id.desc()).limit(1)


@cache
def _last_alerts_statement():
    newest = (
        sa.select(sa.func.max(alerts.c.id))
        .where(alerts.c.rule.in_(sa.bindparam("rules", expanding=True))
               & alerts.c.subject.in_(sa.bindparam("subjects", expanding=True)))
        .group_by(alerts.c.rule, alerts.c.subject)
    )  # fmt: skip
    return sa.select(alerts).where(alerts.c.id.in_(newest))


@cache
def _insert_alerts_statement():
    return sa.insert(alerts).returning(alerts.c.id, sort_by_parameter_order=True)
