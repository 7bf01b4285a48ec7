"""Where traceability lives: SQLAlchemy 2 ORM models, their Alembic migrations, and :class:`TraceStore`.

By default in the lake's catalog database (SQLite ``DATA/catalog.sqlite``, or
``SILICIO_DATABASE_URL``), beside the lake's tables, with its own Alembic version table
``alembic_version_trace``. Every table is prefixed ``trace_``.

Every write goes through one transaction that also appends to the hash-chained audit log
(:mod:`silicio.trace.audit`): master data (one entry per record, holding the record), genealogy
(one entry per batch, holding the SHA-256 of the batch's nodes, edges and tester keys) and
certificates (one entry each, holding the document's SHA-256). :meth:`TraceStore.verify_audit`
walks the chain, then checks the tables against what the log says they hold.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from silicio.lake.catalog import catalog_engine, upgrade_schema
from silicio.lake.layout import LakeLayout

from . import audit
from .genealogy import NODE_KINDS, Genealogy, GenealogyError
from .model import (
    BomLine,
    MasterData,
    MasterDataError,
    Operator,
    Product,
    Qualification,
    RoutingStep,
    Site,
    to_record,
)

_MIGRATIONS = "silicio.trace:migrations"
VERSION_TABLE = "alembic_version_trace"


class Base(DeclarativeBase):
    pass


class SiteRow(Base):
    __tablename__ = "trace_sites"
    code: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    company: Mapped[str] = mapped_column(sa.Text)
    country: Mapped[str] = mapped_column(sa.String(2))
    state: Mapped[str] = mapped_column(sa.Text, default="")
    city: Mapped[str] = mapped_column(sa.Text, default="")


class ProductRow(Base):
    __tablename__ = "trace_products"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    part_number: Mapped[str] = mapped_column(sa.String(64))
    revision: Mapped[str] = mapped_column(sa.String(16))
    description: Mapped[str] = mapped_column(sa.Text)
    hs_code: Mapped[str] = mapped_column(sa.String(16))
    die_width: Mapped[float] = mapped_column(sa.Float)
    die_height: Mapped[float] = mapped_column(sa.Float)
    wafer_diameter: Mapped[float] = mapped_column(sa.Float)
    scribe: Mapped[float] = mapped_column(sa.Float)
    edge_exclusion: Mapped[float] = mapped_column(sa.Float)
    d0: Mapped[float] = mapped_column(sa.Float)
    yield_model: Mapped[str] = mapped_column(sa.String(32))
    alpha: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    price: Mapped[float] = mapped_column(sa.Float)
    __table_args__ = (sa.UniqueConstraint("part_number", "revision", name="uq_trace_products_pn_rev"),)


class RoutingStepRow(Base):
    __tablename__ = "trace_routing_steps"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    product_id: Mapped[int] = mapped_column(
        sa.ForeignKey("trace_products.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(sa.Integer)
    code: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(32))
    site: Mapped[str] = mapped_column(sa.ForeignKey("trace_sites.code"))
    cost: Mapped[float] = mapped_column(sa.Float)
    cost_basis: Mapped[str] = mapped_column(sa.String(8))
    output_hs: Mapped[str] = mapped_column(sa.String(16))
    output_form: Mapped[str] = mapped_column(sa.String(16))
    substantial_transformation: Mapped[bool] = mapped_column(sa.Boolean)
    name: Mapped[str] = mapped_column(sa.Text, default="")


class BomLineRow(Base):
    __tablename__ = "trace_bom_lines"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    product_id: Mapped[int] = mapped_column(
        sa.ForeignKey("trace_products.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[str] = mapped_column(sa.String(64))
    material: Mapped[str] = mapped_column(sa.Text)
    supplier: Mapped[str] = mapped_column(sa.Text)
    country: Mapped[str] = mapped_column(sa.String(2))
    hs_code: Mapped[str] = mapped_column(sa.String(16))
    quantity: Mapped[float] = mapped_column(sa.Float)
    unit_cost: Mapped[float] = mapped_column(sa.Float)
    basis: Mapped[str] = mapped_column(sa.String(8))
    regime: Mapped[str] = mapped_column(sa.String(32))
    uom: Mapped[str] = mapped_column(sa.String(16))


class OperatorRow(Base):
    __tablename__ = "trace_operators"
    badge: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text)
    site: Mapped[str] = mapped_column(sa.Text, default="")


class QualificationRow(Base):
    __tablename__ = "trace_qualifications"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    badge: Mapped[str] = mapped_column(sa.ForeignKey("trace_operators.badge"), index=True)
    step_kind: Mapped[str] = mapped_column(sa.String(32))
    valid_from: Mapped[date] = mapped_column(sa.Date)
    valid_until: Mapped[date] = mapped_column(sa.Date)
    record: Mapped[str] = mapped_column(sa.Text, default="")


class NodeRow(Base):
    __tablename__ = "trace_nodes"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(200))
    attrs: Mapped[str | None] = mapped_column(sa.Text, nullable=True)  # canonical JSON
    batch: Mapped[int] = mapped_column(sa.Integer, index=True)
    __table_args__ = (sa.UniqueConstraint("kind", "name", name="uq_trace_nodes_kind_name"),)


class EdgeRow(Base):
    __tablename__ = "trace_edges"
    parent: Mapped[int] = mapped_column(sa.ForeignKey("trace_nodes.id"), primary_key=True)
    child: Mapped[int] = mapped_column(sa.ForeignKey("trace_nodes.id"), primary_key=True, index=True)
    batch: Mapped[int] = mapped_column(sa.Integer, index=True)


class TesterKeyRow(Base):
    """How a die or unit is known to the tester: (lot, wafer, X, Y) at wafer sort, (lot, PART_ID) at final test."""

    __tablename__ = "trace_tester_keys"
    node: Mapped[int] = mapped_column(sa.ForeignKey("trace_nodes.id"), primary_key=True)
    stage: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    lot_id: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    wafer_id: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    x: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    y: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    part_id: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    batch: Mapped[int] = mapped_column(sa.Integer, index=True)


class StepRecordRow(Base):
    __tablename__ = "trace_step_records"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    node_kind: Mapped[str] = mapped_column(sa.String(32))
    node_name: Mapped[str] = mapped_column(sa.String(200))
    part_number: Mapped[str] = mapped_column(sa.String(64))
    step: Mapped[str] = mapped_column(sa.String(64))
    step_kind: Mapped[str] = mapped_column(sa.String(32))
    badge: Mapped[str] = mapped_column(sa.String(64))
    on: Mapped[date] = mapped_column(sa.Date)
    quantity_in: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    quantity_out: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    qualified: Mapped[bool] = mapped_column(sa.Boolean)
    flag: Mapped[str] = mapped_column(sa.Text, default="")


class CertificateRow(Base):
    __tablename__ = "trace_certificates"
    cert_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    subject: Mapped[str] = mapped_column(sa.Text)
    issued_at: Mapped[str] = mapped_column(sa.String(40))
    document: Mapped[str] = mapped_column(sa.Text)
    sha256: Mapped[str] = mapped_column(sa.String(64))


class AuditRow(Base):
    __tablename__ = "trace_audit_log"
    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(sa.String(40))
    actor: Mapped[str] = mapped_column(sa.Text)
    action: Mapped[str] = mapped_column(sa.String(32))
    entity: Mapped[str] = mapped_column(sa.String(32))
    key: Mapped[str] = mapped_column(sa.Text)
    payload: Mapped[str] = mapped_column(sa.Text)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))


AUDIT = AuditRow.__table__
NODES, EDGES, TESTER_KEYS = NodeRow.__table__, EdgeRow.__table__, TesterKeyRow.__table__
_PRODUCT_FIELDS = ("part_number", "revision", "description", "hs_code", "die_width", "die_height",
                   "wafer_diameter", "scribe", "edge_exclusion", "d0", "yield_model", "alpha", "price")  # fmt: skip
_STEP_FIELDS = ("seq", "code", "kind", "site", "cost", "cost_basis", "output_hs", "output_form",
                "substantial_transformation", "name")  # fmt: skip
_BOM_FIELDS = ("step", "material", "supplier", "country", "hs_code", "quantity", "unit_cost", "basis",
               "regime", "uom")  # fmt: skip


@dataclass(frozen=True)
class StepRecord:
    """A step done on a lot (or wafer, reel...) by an operator; ``flag`` says why it is not qualified."""

    node_kind: str
    node_name: str
    part_number: str
    step: str
    step_kind: str
    badge: str
    on: date
    quantity_in: int | None
    quantity_out: int | None
    qualified: bool
    flag: str


@dataclass
class AuditReport:
    """Outcome of :meth:`TraceStore.verify_audit`: ``ok``, the entries walked, the chain's first
    break (if any) and tables whose content differs from what the log recorded."""

    entries: int
    head_hash: str
    chain_break: audit.ChainBreak | None = None
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.chain_break is None and not self.mismatches

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "head_hash": self.head_hash,
                "chain_break": None if self.chain_break is None else
                {"seq": self.chain_break.seq, "reason": self.chain_break.reason},
                "mismatches": self.mismatches}  # fmt: skip


def _batch_digest(nodes: list[tuple], edges: list[tuple], keys: list[tuple]) -> str:
    """SHA-256 of a genealogy batch: nodes (kind, name, attrs), edges ((kind, name) -> (kind, name))
    and tester keys, each sorted, as canonical JSON."""
    return audit.sha256_hex(audit.canonical_json({"nodes": sorted(nodes), "edges": sorted(edges),
                                                  "tester_keys": sorted(keys, key=repr)}))  # fmt: skip


def qualification_flag(quals: Iterable[Qualification], badge: str, step_kind: str, on: date,
                       known_operator: bool = True) -> str:  # fmt: skip
    """Empty when ``badge`` holds a qualification for ``step_kind`` valid on ``on``; else why not."""
    if not known_operator:
        return f"operator {badge} is not on file"
    mine = [q for q in quals if q.badge == badge and q.step_kind == step_kind]
    if any(q.covers(step_kind, on) for q in mine):
        return ""
    if not mine:
        return f"operator {badge} has no training record for {step_kind}"
    latest = max(mine, key=lambda q: q.valid_until)
    if on > latest.valid_until:
        return f"operator {badge}'s qualification for {step_kind} expired on {latest.valid_until.isoformat()}"
    return f"operator {badge}'s qualification for {step_kind} starts on {min(q.valid_from for q in mine).isoformat()}"


class TraceStore:
    """Traceability records in the database at ``url`` (any SQLAlchemy URL), migrated on open.

    >>> store = TraceStore.at("data")            # the lake's catalog database
    >>> store.save_master_data(demo_master_data(), actor="jlopez")
    >>> store.genealogy().trace(("wafer", "L001-W03"), "forward").counts
    """

    def __init__(self, url: str, *, migrate: bool = True):
        self.url = url
        self.engine = catalog_engine(url)
        self._graph: tuple[int, Genealogy] | None = None
        if migrate:
            self.upgrade()

    @classmethod
    def at(cls, data_dir: str | os.PathLike | None = None, url: str | None = None) -> TraceStore:
        """The store of a data directory: ``url``, else ``SILICIO_DATABASE_URL``, else ``DATA/catalog.sqlite``."""
        layout = LakeLayout.at(data_dir)
        resolved = layout.database_url(url)
        if resolved.startswith("sqlite:///") and resolved == layout.default_database_url():
            Path(layout.root).mkdir(parents=True, exist_ok=True)
        return cls(resolved)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> TraceStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def upgrade(self) -> None:
        """Bring the trace tables to the latest migration (no-op when there already)."""
        upgrade_schema(self.engine, _MIGRATIONS, VERSION_TABLE)

    # -- master data

    def save_master_data(self, master: MasterData, actor: str) -> int:
        """Insert or replace sites, products (with routing and BOM), operators and qualifications.
        Returns the number of records written (unchanged records are skipped, not logged)."""
        current = self.load_master_data()
        written = 0
        with self.engine.begin() as conn:
            for site in master.sites.values():
                if current.sites.get(site.code) != site:
                    self._put_site(conn, site, actor, replace=site.code in current.sites)
                    written += 1
            for product in master.products.values():
                if current.products.get(product.key) != product:
                    self._put_product(conn, product, actor, replace=product.key in current.products)
                    written += 1
            for op in master.operators.values():
                if current.operators.get(op.badge) != op:
                    self._put_operator(conn, op, actor, replace=op.badge in current.operators)
                    written += 1
            for q in master.qualifications:
                if q not in current.qualifications:
                    conn.execute(sa.insert(QualificationRow.__table__).values(**to_record(q) | {
                        "valid_from": q.valid_from, "valid_until": q.valid_until}))  # fmt: skip
                    audit.append(conn, AUDIT, actor=actor, action="insert", entity="qualification",
                                 key=_qual_key(q), payload=to_record(q))  # fmt: skip
                    written += 1
        self._graph = None
        return written

    def _put_site(self, conn: Connection, site: Site, actor: str, replace: bool) -> None:
        table = SiteRow.__table__
        if replace:
            conn.execute(sa.delete(table).where(table.c.code == site.code))
        conn.execute(sa.insert(table).values(**to_record(site)))
        audit.append(conn, AUDIT, actor=actor, action="update" if replace else "insert", entity="site",
                     key=site.code, payload=to_record(site))  # fmt: skip

    def _put_operator(self, conn: Connection, op: Operator, actor: str, replace: bool) -> None:
        table = OperatorRow.__table__
        if replace:
            conn.execute(sa.update(table).where(table.c.badge == op.badge).values(**to_record(op)))
        else:
            conn.execute(sa.insert(table).values(**to_record(op)))
        audit.append(conn, AUDIT, actor=actor, action="update" if replace else "insert", entity="operator",
                     key=op.badge, payload=to_record(op))  # fmt: skip

    def _put_product(self, conn: Connection, product: Product, actor: str, replace: bool) -> None:
        pt = ProductRow.__table__
        if replace:
            pid = conn.scalar(sa.select(pt.c.id).where(pt.c.part_number == product.part_number,
                                                       pt.c.revision == product.revision))  # fmt: skip
            conn.execute(
                sa.delete(RoutingStepRow.__table__).where(RoutingStepRow.__table__.c.product_id == pid)
            )
            conn.execute(sa.delete(BomLineRow.__table__).where(BomLineRow.__table__.c.product_id == pid))
            conn.execute(sa.update(pt).where(pt.c.id == pid).values(
                **{f: getattr(product, f) for f in _PRODUCT_FIELDS}))  # fmt: skip
        else:
            pid = conn.execute(sa.insert(pt).values(**{f: getattr(product, f) for f in _PRODUCT_FIELDS})
                               ).inserted_primary_key[0]  # fmt: skip
        if product.routing:
            conn.execute(sa.insert(RoutingStepRow.__table__),
                         [{"product_id": pid, **{f: getattr(s, f) for f in _STEP_FIELDS}} for s in product.routing])  # fmt: skip
        if product.bom:
            conn.execute(sa.insert(BomLineRow.__table__),
                         [{"product_id": pid, **{f: getattr(b, f) for f in _BOM_FIELDS}} for b in product.bom])  # fmt: skip
        audit.append(conn, AUDIT, actor=actor, action="update" if replace else "insert", entity="product",
                     key=product.key, payload=to_record(product))  # fmt: skip

    def load_master_data(self) -> MasterData:
        """Everything the master-data tables hold, as :class:`~silicio.trace.model.MasterData`."""
        md = MasterData()
        with self.engine.connect() as conn:
            for r in conn.execute(sa.select(SiteRow.__table__)):
                md.sites[r.code] = Site(r.code, r.company, r.country, r.state, r.city)
            steps: dict[int, list[RoutingStep]] = {}
            for r in conn.execute(sa.select(RoutingStepRow.__table__)):
                steps.setdefault(r.product_id, []).append(
                    RoutingStep(**{f: getattr(r, f) for f in _STEP_FIELDS})
                )
            bom: dict[int, list[BomLine]] = {}
            for r in conn.execute(sa.select(BomLineRow.__table__).order_by(BomLineRow.__table__.c.id)):
                bom.setdefault(r.product_id, []).append(BomLine(**{f: getattr(r, f) for f in _BOM_FIELDS}))
            for r in conn.execute(sa.select(ProductRow.__table__)):
                p = Product(**{f: getattr(r, f) for f in _PRODUCT_FIELDS}, routing=tuple(steps.get(r.id, ())),
                            bom=tuple(bom.get(r.id, ())))  # fmt: skip
                md.products[p.key] = p
            for r in conn.execute(sa.select(OperatorRow.__table__)):
                md.operators[r.badge] = Operator(r.badge, r.name, r.site)
            for r in conn.execute(
                sa.select(QualificationRow.__table__).order_by(QualificationRow.__table__.c.id)
            ):
                md.qualifications.append(
                    Qualification(r.badge, r.step_kind, r.valid_from, r.valid_until, r.record)
                )
        return md

    # -- operators at steps

    def record_step(self, node: tuple[str, str], part_number: str, step: str, badge: str, on: date, actor: str,
                    quantity_in: int | None = None, quantity_out: int | None = None) -> StepRecord:  # fmt: skip
        """Record that ``badge`` ran ``step`` of ``part_number`` on ``node`` (a lot, say) on ``on``.
        The record is kept either way; an operator without a valid qualification is flagged."""
        md = self.load_master_data()
        product = md.product(part_number)
        step_kind = product.step(step).kind
        flag = qualification_flag(md.qualifications, badge, step_kind, on, badge in md.operators)
        rec = StepRecord(node[0], node[1], part_number, step, step_kind, badge, on, quantity_in, quantity_out,
                         not flag, flag)  # fmt: skip
        with self.engine.begin() as conn:
            rid = conn.execute(
                sa.insert(StepRecordRow.__table__).values(**rec.__dict__)
            ).inserted_primary_key[0]
            audit.append(conn, AUDIT, actor=actor, action="insert", entity="step_record", key=str(rid),
                         payload=_step_payload(rec))  # fmt: skip
        return rec

    def step_records(self, flagged_only: bool = False) -> list[StepRecord]:
        t = StepRecordRow.__table__
        query = sa.select(t).order_by(t.c.id)
        if flagged_only:
            query = query.where(t.c.qualified.is_(False))
        with self.engine.connect() as conn:
            return [
                StepRecord(**{k: getattr(r, k) for k in StepRecord.__dataclass_fields__})
                for r in conn.execute(query)
            ]

    # -- genealogy

    def add_genealogy(self, edges: Iterable[tuple[tuple[str, str], tuple[str, str]]], actor: str,
                      nodes: Iterable[tuple[str, str]] = (), attrs: dict[tuple[str, str], dict] | None = None,
                      tester_keys: Sequence[dict[str, Any]] = (), action: str = "link") -> int:  # fmt: skip
        """Add nodes and edges (parent (kind, name) -> child (kind, name)) as one audited batch.

        Nodes already present are reused (their attrs are left as they are); new ones are created.
        ``tester_keys`` rows link a die or unit to the tester data: ``{"node": (kind, name),
        "stage": "wafer_sort", "lot_id", "wafer_id", "x", "y"}`` or ``{..., "stage": "final_test",
        "lot_id", "part_id"}``. Returns the audit sequence number of the batch.
        """
        edges = [(tuple(p), tuple(c)) for p, c in edges]
        wanted = dict.fromkeys([tuple(n) for n in nodes] + [n for e in edges for n in e]
                               + [tuple(k["node"]) for k in tester_keys])  # fmt: skip
        for kind, name in wanted:
            if not kind or not isinstance(name, str) or not name:
                raise GenealogyError(f"a node needs a kind and a name, got ({kind!r}, {name!r})")
        attrs = {tuple(k): v for k, v in (attrs or {}).items()}
        with self.engine.begin() as conn:
            seq, _ = audit.head(conn, AUDIT)
            batch = seq + 1
            ids = self._node_ids(conn, wanted)
            new = [n for n in wanted if n not in ids]
            if new:
                conn.execute(sa.insert(NODES), [
                    {"kind": k, "name": n, "batch": batch,
                     "attrs": audit.canonical_json(attrs[(k, n)]).decode() if (k, n) in attrs else None}
                    for k, n in new])  # fmt: skip
                ids.update(self._node_ids(conn, new))
            if edges:
                conn.execute(
                    sa.insert(EDGES), [{"parent": ids[p], "child": ids[c], "batch": batch} for p, c in edges]
                )
            key_rows = []
            for k in tester_keys:
                stage = k.get("stage")
                if stage not in ("wafer_sort", "final_test"):
                    raise GenealogyError(
                        f"tester key of {k['node']}: stage must be wafer_sort or final_test, got {stage!r}"
                    )
                key_rows.append({"node": ids[tuple(k["node"])], "stage": stage, "lot_id": k.get("lot_id"),
                                 "wafer_id": k.get("wafer_id"), "x": k.get("x"), "y": k.get("y"),
                                 "part_id": k.get("part_id"), "batch": batch})  # fmt: skip
            if key_rows:
                conn.execute(sa.insert(TESTER_KEYS), key_rows)
            digest = self._batch_digest(conn, batch)
            audit.append(conn, AUDIT, actor=actor, action=action, entity="genealogy", key=f"batch {batch}",
                         payload={"nodes": len(new), "edges": len(edges), "tester_keys": len(key_rows),
                                  "sha256": digest})  # fmt: skip
        self._graph = None
        return batch

    @staticmethod
    def _node_ids(conn: Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        by_kind: dict[str, list[str]] = {}
        for k, n in keys:
            by_kind.setdefault(k, []).append(n)
        out = {}
        for kind, names in by_kind.items():
            for i in range(0, len(names), 500):
                chunk = names[i : i + 500]
                q = sa.select(NODES.c.id, NODES.c.name).where(NODES.c.kind == kind, NODES.c.name.in_(chunk))
                out.update({(kind, r.name): r.id for r in conn.execute(q)})
        return out

    @staticmethod
    def _batch_digest(conn: Connection, batch: int) -> str:
        nodes = [(r.kind, r.name, r.attrs) for r in conn.execute(
            sa.select(NODES.c.kind, NODES.c.name, NODES.c.attrs).where(NODES.c.batch == batch))]  # fmt: skip
        p, c = NODES.alias("p"), NODES.alias("c")
        edges = [(r[0], r[1], r[2], r[3]) for r in conn.execute(
            sa.select(p.c.kind, p.c.name, c.c.kind, c.c.name).select_from(
                EDGES.join(p, EDGES.c.parent == p.c.id).join(c, EDGES.c.child == c.c.id)).where(EDGES.c.batch == batch))]  # fmt: skip
        keys = [(r.kind, r.name, r.stage, r.lot_id, r.wafer_id, r.x, r.y, r.part_id) for r in conn.execute(
            sa.select(NODES.c.kind, NODES.c.name, TESTER_KEYS.c.stage, TESTER_KEYS.c.lot_id, TESTER_KEYS.c.wafer_id,
                      TESTER_KEYS.c.x, TESTER_KEYS.c.y, TESTER_KEYS.c.part_id).select_from(
                TESTER_KEYS.join(NODES, TESTER_KEYS.c.node == NODES.c.id)).where(TESTER_KEYS.c.batch == batch))]  # fmt: skip
        return _batch_digest(nodes, edges, keys)

    def genealogy(self) -> Genealogy:
        """The genealogy graph, loaded once and kept until the next write through this store."""
        with self.engine.connect() as conn:
            seq, _ = audit.head(conn, AUDIT)
            if self._graph is not None and self._graph[0] == seq:
                return self._graph[1]
            ids, kinds, names, attrs = [], [], [], {}
            kind_names = list(NODE_KINDS)
            for r in conn.execute(
                sa.select(NODES.c.id, NODES.c.kind, NODES.c.name, NODES.c.attrs).order_by(NODES.c.id)
            ):
                if r.kind not in kind_names:
                    kind_names.append(r.kind)
                if r.attrs:
                    attrs[len(ids)] = json.loads(r.attrs)
                ids.append(r.id)
                kinds.append(kind_names.index(r.kind))
                names.append(r.name)
            edge_rows = conn.execute(sa.select(EDGES.c.parent, EDGES.c.child)).all()
        id_arr = np.asarray(ids, dtype=np.int64)
        e = np.asarray(edge_rows, dtype=np.int64).reshape(-1, 2)
        graph = Genealogy(kind_names, np.asarray(kinds, dtype=np.int16), np.asarray(names, dtype=object),
                          np.searchsorted(id_arr, e[:, 0]), np.searchsorted(id_arr, e[:, 1]), attrs)  # fmt: skip
        self._graph = (seq, graph)
        return graph

    def tester_keys(self, nodes: Sequence[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
        """Tester keys of the given dies/units (all when None), as dicts with ``kind`` and ``name``."""
        q = sa.select(NODES.c.kind, NODES.c.name, TESTER_KEYS).select_from(
            TESTER_KEYS.join(NODES, TESTER_KEYS.c.node == NODES.c.id))  # fmt: skip
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q)]
        if nodes is not None:
            wanted = {tuple(n) for n in nodes}
            rows = [r for r in rows if (r["kind"], r["name"]) in wanted]
        for r in rows:
            r.pop("batch", None)
            r.pop("node", None)
        return rows

    # -- certificates

    def save_certificate(self, document: dict[str, Any], actor: str) -> str:
        """Keep a signed certificate (see :mod:`silicio.origin.certificates`); returns its id."""
        cert = document["certificate"]
        text = audit.canonical_json(document).decode()
        digest = audit.sha256_hex(text.encode())
        with self.engine.begin() as conn:
            conn.execute(sa.insert(CertificateRow.__table__).values(
                cert_id=cert["id"], kind=cert["type"], subject=cert.get("subject", ""), issued_at=cert["issued_at"],
                document=text, sha256=digest))  # fmt: skip
            audit.append(conn, AUDIT, actor=actor, action="issue", entity="certificate", key=cert["id"],
                         payload={"sha256": digest, "type": cert["type"], "subject": cert.get("subject", "")})  # fmt: skip
        return cert["id"]

    def certificate(self, cert_id: str) -> dict[str, Any]:
        t = CertificateRow.__table__
        with self.engine.connect() as conn:
            text = conn.scalar(sa.select(t.c.document).where(t.c.cert_id == cert_id))
        if text is None:
            raise KeyError(f"no certificate {cert_id!r}")
        return json.loads(text)

    def certificates(self) -> list[dict[str, Any]]:
        t = CertificateRow.__table__
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(
                sa.select(t.c.cert_id, t.c.kind, t.c.subject, t.c.issued_at, t.c.sha256).order_by(t.c.issued_at))]  # fmt: skip

    # -- audit

    def audit_head(self) -> tuple[int, str]:
        with self.engine.connect() as conn:
            return audit.head(conn, AUDIT)

    def audit_entries(self) -> list[audit.AuditEntry]:
        with self.engine.connect() as conn:
            return audit.entries(conn, AUDIT)

    def verify_audit(self) -> AuditReport:
        """Walk the chain (first broken entry), then check that every table holds what the log says."""
        with self.engine.connect() as conn:
            log = audit.entries(conn, AUDIT)
            report = AuditReport(len(log), log[-1].hash if log else audit.GENESIS, audit.verify_chain(log))
            if report.chain_break is not None:
                return report
            last: dict[tuple[str, str], audit.AuditEntry] = {}
            for e in log:
                last[(e.entity, e.key)] = e
            self._check_tables(conn, last, report)
        return report

    def _check_tables(
        self, conn: Connection, last: dict[tuple[str, str], audit.AuditEntry], report: AuditReport
    ) -> None:
        md = self.load_master_data()
        held: dict[tuple[str, str], dict] = {}
        held.update({("site", k): to_record(v) for k, v in md.sites.items()})
        held.update({("product", k): to_record(v) for k, v in md.products.items()})
        held.update({("operator", k): to_record(v) for k, v in md.operators.items()})
        held.update({("qualification", _qual_key(q)): to_record(q) for q in md.qualifications})
        for r in conn.execute(sa.select(StepRecordRow.__table__)):
            rec = StepRecord(**{k: getattr(r, k) for k in StepRecord.__dataclass_fields__})
            held[("step_record", str(r.id))] = _step_payload(rec)
        for r in conn.execute(
            sa.select(CertificateRow.__table__.c.cert_id, CertificateRow.__table__.c.document)
        ):
            held[("certificate", r.cert_id)] = {"sha256": audit.sha256_hex(r.document.encode())}
        for (entity, key), payload in sorted(held.items()):
            entry = last.get((entity, key))
            if entry is None:
                report.mismatches.append(
                    f"{entity} {key}: in the tables but never logged (written around the log)"
                )
                continue
            logged = entry.payload if entity != "certificate" else {"sha256": entry.payload.get("sha256")}
            stored = json.loads(audit.canonical_json(payload))
            if stored != logged:
                fields = sorted(k for k in set(stored) | set(logged) if stored.get(k) != logged.get(k))
                report.mismatches.append(
                    f"{entity} {key}: differs from audit entry #{entry.seq} in {', '.join(fields)}"
                )
        for (entity, key), entry in last.items():
            if entity in ("site", "product", "operator", "qualification", "step_record", "certificate") and (
                    (entity, key) not in held):  # fmt: skip
                report.mismatches.append(
                    f"{entity} {key}: logged in entry #{entry.seq} but missing from the tables"
                )
        for (entity, key), entry in last.items():
            if entity == "genealogy":
                batch = int(key.split()[-1])
                if self._batch_digest(conn, batch) != entry.payload.get("sha256"):
                    report.mismatches.append(f"genealogy batch {batch}: nodes, edges or tester keys differ from "
                                             f"what audit entry #{entry.seq} recorded")  # fmt: skip


def _qual_key(q: Qualification) -> str:
    return f"{q.badge}|{q.step_kind}|{q.valid_from.isoformat()}"


def _step_payload(rec: StepRecord) -> dict[str, Any]:
    out = dict(rec.__dict__)
    out["on"] = rec.on.isoformat()
    return out


__all__ = ["AuditReport", "Base", "MasterDataError", "StepRecord", "TraceStore", "qualification_flag"]
