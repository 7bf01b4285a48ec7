"""Where traceability lives: SQLAlchemy 2 ORM models, their Alembic migrations, and :class:`TraceStore`.

By default in the lake's catalog database (SQLite ``DATA/catalog.sqlite``, or
``SILICIO_DATABASE_URL``), beside the lake's tables, with its own Alembic version table
``alembic_version_trace``. Every table is prefixed ``trace_``.

Every write goes through one transaction that also appends to the hash-chained audit log
(:mod:`silicio.trace.audit`): master data (one entry per record, holding the record), genealogy
(one entry per batch, holding the SHA-256 of the batch's nodes, edges and tester keys) and
certificates (one entry each, holding the document's SHA-256). :meth:`TraceStore.verify_audit`
walks the chain, holds it to its anchors (signed checkpoints, the heads signed into
certificates), then checks the tables against what the log says they hold: every node, edge and
tester key carries the batch that wrote it, so rows added under a batch no entry logged show.

Every write names its actor (:func:`check_actor`); the web layer passes the signed-in user.
Genealogy batches are checked whole before anything is written
(:func:`silicio.trace.genealogy.link_problems`).
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
from .disposition import shipment_problems, signature_problems
from .genealogy import NODE_KINDS, Genealogy, GenealogyError, _listed, check_kind, link_problems
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


class TraceStoreMissing(LookupError):
    """The database or its trace tables are not there (and were not to be made)."""


def _safe_url(url: str) -> str:
    """``url`` without a password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "the database"


#: Longest actor text kept in the log.
MAX_ACTOR = 200


def check_actor(actor: Any) -> str:
    """``actor`` when it names someone: every write is logged with who made it, never anonymously."""
    if not isinstance(actor, str) or not actor.strip():
        raise ValueError(f"every write names its actor (the user making it); got {actor!r}")
    if len(actor) > MAX_ACTOR or not actor.isprintable():
        raise ValueError(
            f"actor must be printable text of at most {MAX_ACTOR} characters, got {actor[:40]!r}"
        )
    return actor.strip()


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
    break (if any), what its anchors (checkpoints, certificates) say against it, and tables
    whose content differs from what the log recorded. ``anchored_seq``: the newest entry an
    anchor vouches for; entries after it could still be removed unseen."""

    entries: int
    head_hash: str
    chain_break: audit.ChainBreak | None = None
    mismatches: list[str] = field(default_factory=list)
    anchor_problems: list[str] = field(default_factory=list)
    anchors: int = 0
    anchored_seq: int = 0
    #: Signed lot disposition steps whose signatures verify (:mod:`silicio.trace.disposition`).
    signed_decisions: int = 0

    @property
    def ok(self) -> bool:
        return self.chain_break is None and not self.mismatches and not self.anchor_problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "head_hash": self.head_hash,
                "chain_break": None if self.chain_break is None else
                {"seq": self.chain_break.seq, "reason": self.chain_break.reason},
                "mismatches": self.mismatches, "anchor_problems": self.anchor_problems,
                "anchors": self.anchors, "anchored_seq": self.anchored_seq,
                "signed_decisions": self.signed_decisions}  # fmt: skip


def _none_last(row: tuple) -> tuple:
    # Sorts as the tuples themselves do when nothing is None (as every batch written by the store);
    # a row written around it may hold None (an edge to a node that is not there).
    return tuple("" if v is None else v for v in row)


def _batch_digest(nodes: list[tuple], edges: list[tuple], keys: list[tuple]) -> str:
    """SHA-256 of a genealogy batch: nodes (kind, name, attrs), edges ((kind, name) -> (kind, name))
    and tester keys, each sorted, as canonical JSON."""
    return audit.sha256_hex(audit.canonical_json({"nodes": sorted(nodes, key=_none_last),
                                                  "edges": sorted(edges, key=_none_last),
                                                  "tester_keys": sorted(keys, key=repr)}))  # fmt: skip


#: Longest node name (the column's width).
MAX_NAME = 200
#: Tester key stage -> (the node kind it identifies, its fields).
TESTER_KEY_FIELDS = {
    "wafer_sort": ("die", ("lot_id", "wafer_id", "x", "y")),
    "final_test": ("unit", ("lot_id", "part_id")),
}


def _key_value_ok(name: str, value: Any) -> bool:
    if name in ("x", "y"):
        return isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31
    return isinstance(value, str) and bool(value.strip())


def _key_text(value: tuple) -> str:
    return f"{value[0]} (" + ", ".join(map(str, value[1:])) + ")"


def _node_key(node: Any) -> tuple[str, str]:
    """(kind, name) of a node given as a pair; kind one of NODE_KINDS, name non-empty text."""
    if not isinstance(node, tuple | list) or len(node) != 2:
        raise GenealogyError(f"a node is a (kind, name) pair, got {node!r}")
    kind, name = node
    check_kind(kind, f"node {name!r}: ")
    if not isinstance(name, str) or not name.strip() or not name.isprintable():
        raise GenealogyError(f"a {kind} needs a name (printable text), got {name!r}")
    return kind, name


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

    def __init__(self, url: str, *, migrate: bool = True, data_dir: str | os.PathLike | None = None,
                 engine: sa.Engine | None = None):  # fmt: skip
        self.url = url
        #: ``engine``: one on ``url`` the caller keeps (its compiled statements reused; the alerts'
        #: catalog kept for the process), left open by :meth:`close`
        self._own_engine = engine is None
        self.engine = catalog_engine(url) if engine is None else engine
        #: The data directory whose checkpoints :meth:`verify_audit` holds the log to (None: none).
        self.data_dir = Path(data_dir) if data_dir is not None else None
        # (audit head, graph, database id of each node index): kept while the head stays put.
        self._graph: tuple[int, Genealogy, np.ndarray] | None = None
        if migrate:
            self.upgrade()

    @classmethod
    def at(cls, data_dir: str | os.PathLike | None = None, url: str | None = None, *,
           create: bool = True) -> TraceStore:  # fmt: skip
        """The store of a data directory: ``url``, else ``SILICIO_DATABASE_URL``, else ``DATA/catalog.sqlite``.

        ``create=False`` opens only a database that is there and holds the trace tables (a
        :class:`TraceStoreMissing` otherwise), without migrating it: what ``audit verify`` needs,
        which must never answer "OK" about a database it has just made."""
        layout = LakeLayout.at(data_dir)
        resolved = layout.database_url(url)
        if not create:
            return cls._existing(resolved, layout.root)
        if resolved.startswith("sqlite:///") and resolved == layout.default_database_url():
            Path(layout.root).mkdir(parents=True, exist_ok=True)
        return cls(resolved, data_dir=layout.root)

    @classmethod
    def _existing(cls, url: str, data_dir: Path) -> TraceStore:
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
            if not path.is_file():
                raise TraceStoreMissing(f"{path}: no such database; nothing to verify (it was never made, "
                                        "or it was deleted)")  # fmt: skip
            # Read-write but never create: SQLite makes a missing file on connect otherwise.
            url = f"sqlite:///file:{path}?mode=rw&uri=true"
        store = cls(url, migrate=False, data_dir=data_dir)
        missing = [
            t for t in (VERSION_TABLE, AuditRow.__tablename__) if not sa.inspect(store.engine).has_table(t)
        ]
        if missing:
            store.close()
            raise TraceStoreMissing(f"{_safe_url(url)}: no trace tables ({', '.join(missing)} missing); "
                                    "nothing was traced there, or the tables were dropped")  # fmt: skip
        return store

    def close(self) -> None:
        if self._own_engine:
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
        actor = check_actor(actor)
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
        The record is kept either way; an operator without a valid qualification is flagged.
        Quantities are whole numbers, none negative, and a step puts out no more than it took in."""
        actor = check_actor(actor)
        check_kind(node[0], "step record: ")
        for name, q in (("quantity_in", quantity_in), ("quantity_out", quantity_out)):
            if q is not None and (not isinstance(q, int) or isinstance(q, bool) or q < 0):
                raise GenealogyError(f"step {step} on {node[0]} {node[1]}: {name} must be a whole number >= 0, "
                                     f"got {q!r}")  # fmt: skip
        if quantity_in is not None and quantity_out is not None and quantity_out > quantity_in:
            raise GenealogyError(f"step {step} on {node[0]} {node[1]}: quantity_out ({quantity_out}) is more "
                                 f"than quantity_in ({quantity_in}); a step cannot add units")  # fmt: skip
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

    def add_genealogy(self, edges: Iterable[tuple[tuple[str, str], tuple[str, str]]] = (), actor: str = "",
                      nodes: Iterable[tuple[str, str]] = (), attrs: dict[tuple[str, str], dict] | None = None,
                      tester_keys: Sequence[dict[str, Any]] = (), action: str = "link") -> int:  # fmt: skip
        """Add nodes and edges (parent (kind, name) -> child (kind, name)) as one audited batch.

        Nodes already present are reused; attributes given for one must be the ones it has.
        ``tester_keys`` rows link a die or unit to the tester data: ``{"node": (kind, name),
        "stage": "wafer_sort", "lot_id", "wafer_id", "x", "y"}`` or ``{..., "stage": "final_test",
        "lot_id", "part_id"}``. Returns the audit sequence number of the batch.

        The batch is refused whole (:class:`GenealogyError`, every problem named) when a node kind
        is unknown, an edge repeats, loops, runs against the flow of kinds or closes a cycle, a
        unit would come from two dies or sit in two reels, a reel or shipment would hold more
        units than its ``quantity``, or a tester key is malformed or already someone else's.
        """
        actor = check_actor(actor)
        edges = [(_node_key(p), _node_key(c)) for p, c in edges]
        tester_keys = [dict(k) for k in tester_keys]
        for k in tester_keys:
            k["node"] = _node_key(k.get("node"))
        wanted = dict.fromkeys([_node_key(n) for n in nodes] + [n for e in edges for n in e]
                               + [k["node"] for k in tester_keys])  # fmt: skip
        attrs = {_node_key(k): v for k, v in (attrs or {}).items()}
        for node, a in attrs.items():
            if not isinstance(a, dict):
                raise GenealogyError(
                    f"attributes of {node[0]} {node[1]} must be a mapping, got {type(a).__name__}"
                )
            if node not in wanted:
                raise GenealogyError(
                    f"attributes given for {node[0]} {node[1]}, which the batch does not name"
                )
            try:
                audit.canonical_json(a)
            except (TypeError, ValueError) as exc:
                raise GenealogyError(
                    f"attributes of {node[0]} {node[1]} are not plain JSON ({exc})"
                ) from None
        with self.engine.begin() as conn:
            seq, _ = audit.head(conn, AUDIT)
            batch = seq + 1
            graph, node_ids = self._graph_at(conn, seq)
            ids = self._node_ids(conn, wanted)
            new = [n for n in wanted if n not in ids]
            problems = self._existing_attr_problems(graph, node_ids, ids, attrs)
            problems += self._tester_key_problems(conn, tester_keys)
            link_trouble, combined = self._link_problems(graph, node_ids, ids, new, edges, attrs)
            problems += link_trouble
            if combined is not None:  # nothing ships from a lot held and not released
                problems += shipment_problems(conn, combined, edges)
            if problems:
                raise GenealogyError(f"genealogy batch refused, nothing written: {_listed(problems)}")
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
            key_rows = [{"node": ids[k["node"]], "stage": k["stage"], "lot_id": k.get("lot_id"),
                         "wafer_id": k.get("wafer_id"), "x": k.get("x"), "y": k.get("y"),
                         "part_id": k.get("part_id"), "batch": batch} for k in tester_keys]  # fmt: skip
            if key_rows:
                conn.execute(sa.insert(TESTER_KEYS), key_rows)
            digest = self._genealogy_digests(conn, batch)[batch]
            audit.append(conn, AUDIT, actor=actor, action=action, entity="genealogy", key=f"batch {batch}",
                         payload={"nodes": len(new), "edges": len(edges), "tester_keys": len(key_rows),
                                  "sha256": digest})  # fmt: skip
            new_ids = np.array([ids[n] for n in new], dtype=np.int64)
            # The graph just checked is the one now stored when the new rows got ascending ids
            # (SQLite's rowids do): keep it, so the next batch need not read the genealogy again.
            ascending = new_ids.size == 0 or (
                (node_ids.size == 0 or new_ids[0] > node_ids[-1]) and bool(np.all(np.diff(new_ids) > 0))
            )
            cache = (batch, combined, np.concatenate([node_ids, new_ids])) if ascending and combined else None
        self._graph = cache
        return batch

    @staticmethod
    def _existing_attr_problems(graph: Genealogy, node_ids: np.ndarray, ids: dict[tuple[str, str], int],
                                attrs: dict[tuple[str, str], dict]) -> list[str]:  # fmt: skip
        problems = []
        for node, a in attrs.items():
            if node in ids:
                held = graph.attrs.get(int(np.searchsorted(node_ids, ids[node])), {})
                if json.loads(audit.canonical_json(a)) != held:
                    problems.append(f"{node[0]} {node[1]} already exists with other attributes ({held})")
        return problems

    @staticmethod
    def _tester_key_problems(conn: Connection, keys: list[dict[str, Any]]) -> list[str]:
        """Malformed keys, keys on the wrong kind of node, and keys given twice or already held."""
        problems: list[str] = []
        seen: dict[tuple, str] = {}
        for k in keys:
            node, stage = k["node"], k.get("stage")
            who = f"tester key of {node[0]} {node[1]}"
            if stage not in TESTER_KEY_FIELDS:
                problems.append(f"{who}: stage must be wafer_sort or final_test, got {stage!r}")
                continue
            kind, fields = TESTER_KEY_FIELDS[stage]
            unknown = sorted(set(k) - {"node", "stage", *fields})
            if node[0] != kind:
                problems.append(f"{who}: a {stage} key belongs to a {kind}, not a {node[0]}")
            elif unknown:
                problems.append(
                    f"{who}: unknown field(s) {', '.join(unknown)} for {stage}; expected {', '.join(fields)}"
                )
            else:
                bad = [f for f in fields if not _key_value_ok(f, k.get(f))]
                if bad:
                    problems.append(f"{who}: {', '.join(bad)} missing or not valid (x, y whole numbers; "
                                    "ids non-empty text)")  # fmt: skip
            if problems and problems[-1].startswith(who):
                continue
            value = (stage, *(k.get(f) for f in fields))
            for dup in (("node", stage, node), value):
                if dup in seen:
                    problems.append(f"{who}: {_key_text(value)} is given twice in the batch ({seen[dup]})")
                seen[dup] = f"{node[0]} {node[1]}"
        # Against what the store holds: the same node and stage, or the same key on another node.
        lots = sorted({k.get("lot_id") for k in keys if isinstance(k.get("lot_id"), str)})
        if lots and not problems:
            held: dict[tuple, str] = {}
            for i in range(0, len(lots), 500):
                q = sa.select(NODES.c.kind, NODES.c.name, TESTER_KEYS).select_from(
                    TESTER_KEYS.join(NODES, TESTER_KEYS.c.node == NODES.c.id)).where(
                    TESTER_KEYS.c.lot_id.in_(lots[i : i + 500]))  # fmt: skip
                for r in conn.execute(q):
                    fields = TESTER_KEY_FIELDS[r.stage][1] if r.stage in TESTER_KEY_FIELDS else ()
                    held[(r.stage, *(getattr(r, f) for f in fields))] = f"{r.kind} {r.name}"
            for k in keys:
                fields = TESTER_KEY_FIELDS[k["stage"]][1]
                value = (k["stage"], *(k.get(f) for f in fields))
                if value in held:
                    problems.append(f"tester key {_key_text(value)} of {k['node'][0]} {k['node'][1]} already "
                                    f"belongs to {held[value]}")  # fmt: skip
        nodes_with = [k["node"] for k in keys]
        if nodes_with and not problems:
            ids = TraceStore._node_ids(conn, nodes_with)
            if ids:
                by_id = {v: k for k, v in ids.items()}
                held_stage = set()
                id_list = sorted(by_id)
                for i in range(0, len(id_list), 500):
                    q = sa.select(TESTER_KEYS.c.node, TESTER_KEYS.c.stage).where(
                        TESTER_KEYS.c.node.in_(id_list[i : i + 500]))  # fmt: skip
                    held_stage.update((by_id[r.node], r.stage) for r in conn.execute(q))
                for k in keys:
                    if (k["node"], k["stage"]) in held_stage:
                        problems.append(
                            f"{k['node'][0]} {k['node'][1]} already has a {k['stage']} tester key"
                        )
        return problems

    @staticmethod
    def _link_problems(graph: Genealogy, node_ids: np.ndarray, ids: dict[tuple[str, str], int],
                       new: list[tuple[str, str]], edges: list, attrs: dict) -> tuple[list[str], Genealogy | None]:  # fmt: skip
        """:func:`~silicio.trace.genealogy.link_problems` of the batch over the whole genealogy, and
        the genealogy with the batch in it."""
        for kind, name in new:
            if len(name) > MAX_NAME:
                return [f"{kind} {name[:40]}...: names are at most {MAX_NAME} characters"], None
        kind_names = list(graph.kind_names)
        index = {key: int(np.searchsorted(node_ids, i)) for key, i in ids.items()}
        for key in new:
            index[key] = graph.n + len(index) - len(ids)
        kinds = np.concatenate([graph.kinds, np.array([kind_names.index(k) for k, _ in new], dtype=np.int16)])
        names = np.concatenate([graph.names, np.array([n for _, n in new], dtype=object)])
        parent = np.concatenate([graph.parent, np.array([index[p] for p, _ in edges], dtype=np.int64)])
        child = np.concatenate([graph.child, np.array([index[c] for _, c in edges], dtype=np.int64)])
        all_attrs = dict(graph.attrs)
        all_attrs.update({index[k]: v for k, v in attrs.items()})
        touched = np.array([index[k] for k in ids.keys() | set(new)], dtype=np.int64)
        problems = link_problems(
            kind_names, kinds, names, parent, child, graph.parent.size, all_attrs, touched
        )
        if problems:
            return problems, None
        return [], Genealogy(kind_names, kinds, names, parent, child, all_attrs)

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
    def _genealogy_digests(conn: Connection, batch: int | None = None) -> dict[int, str]:
        """SHA-256 of each genealogy batch's rows (of ``batch`` only, when given): every node,
        edge and tester key holds the batch that wrote it, so a row written around the log lands
        in a batch that is either not logged or hashes to something else."""
        nodes: dict[int, list] = {}
        edges: dict[int, list] = {}
        keys: dict[int, list] = {}
        where = (lambda t: t.c.batch == batch) if batch is not None else (lambda t: sa.true())
        for r in conn.execute(
            sa.select(NODES.c.kind, NODES.c.name, NODES.c.attrs, NODES.c.batch).where(where(NODES))
        ):
            nodes.setdefault(r.batch, []).append((r.kind, r.name, r.attrs))
        p, c = NODES.alias("p"), NODES.alias("c")
        for r in conn.execute(sa.select(p.c.kind, p.c.name, c.c.kind, c.c.name, EDGES.c.batch).select_from(
                EDGES.outerjoin(p, EDGES.c.parent == p.c.id).outerjoin(c, EDGES.c.child == c.c.id)).where(where(EDGES))):  # fmt: skip
            edges.setdefault(r[4], []).append(tuple(r[:4]))
        for r in conn.execute(
            sa.select(NODES.c.kind, NODES.c.name, TESTER_KEYS.c.stage, TESTER_KEYS.c.lot_id, TESTER_KEYS.c.wafer_id,
                      TESTER_KEYS.c.x, TESTER_KEYS.c.y, TESTER_KEYS.c.part_id, TESTER_KEYS.c.batch).select_from(
                TESTER_KEYS.outerjoin(NODES, TESTER_KEYS.c.node == NODES.c.id)).where(where(TESTER_KEYS))):  # fmt: skip
            keys.setdefault(r.batch, []).append(tuple(r[:8]))
        batches = set(nodes) | set(edges) | set(keys) | ({batch} if batch is not None else set())
        return {b: _batch_digest(nodes.get(b, []), edges.get(b, []), keys.get(b, [])) for b in batches}

    def _load_graph(self, conn: Connection) -> tuple[Genealogy, np.ndarray]:
        """The genealogy graph and the database id of each node index (ascending)."""
        ids, kinds, names, attrs = [], [], [], {}
        kind_names = list(NODE_KINDS)
        for r in conn.execute(
            sa.select(NODES.c.id, NODES.c.kind, NODES.c.name, NODES.c.attrs).order_by(NODES.c.id)
        ):
            if r.kind not in kind_names:  # only written around the store; audit verify names it
                kind_names.append(r.kind)
            if r.attrs:
                attrs[len(ids)] = json.loads(r.attrs)
            ids.append(r.id)
            kinds.append(kind_names.index(r.kind))
            names.append(r.name)
        # Plain tuples: numpy probing SQLAlchemy rows for array attributes costs seconds per 100k edges.
        edge_rows = [(p, c) for p, c in conn.execute(sa.select(EDGES.c.parent, EDGES.c.child))]
        id_arr = np.asarray(ids, dtype=np.int64)
        e = np.array(edge_rows, dtype=np.int64).reshape(-1, 2)
        at = np.searchsorted(id_arr, e)
        found = id_arr[np.minimum(at, id_arr.size - 1)] == e if id_arr.size else np.zeros(e.shape, dtype=bool)
        if not found.all():
            raise GenealogyError(f"an edge names node id {int(e[~found][0])}, which is not in the genealogy: "
                                 "it was written around the store; run silicio audit verify")  # fmt: skip
        graph = Genealogy(kind_names, np.asarray(kinds, dtype=np.int16), np.asarray(names, dtype=object),
                          at[:, 0], at[:, 1], attrs)  # fmt: skip
        return graph, id_arr

    def genealogy(self) -> Genealogy:
        """The genealogy graph, loaded once and kept until the audit log moves on."""
        with self.engine.connect() as conn:
            seq, _ = audit.head(conn, AUDIT)
            graph, _ = self._graph_at(conn, seq)
        return graph

    def _graph_at(self, conn: Connection, seq: int) -> tuple[Genealogy, np.ndarray]:
        """The graph (and node ids) at audit head ``seq``: the kept one, or read anew."""
        if self._graph is None or self._graph[0] != seq:
            graph, node_ids = self._load_graph(conn)
            self._graph = (seq, graph, node_ids)
        return self._graph[1], self._graph[2]

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
        """Keep a signed certificate (see :mod:`silicio.origin.certificates`); returns its id.
        Its ``audit_head`` (the log head it signs) must be a head this log has had."""
        actor = check_actor(actor)
        cert = document.get("certificate") if isinstance(document, dict) else None
        if not isinstance(cert, dict) or not all(isinstance(cert.get(k), str) and cert.get(k)
                                                 for k in ("id", "type", "issued_at")):  # fmt: skip
            raise ValueError("a certificate document holds 'certificate' with text id, type and issued_at")
        text = audit.canonical_json(document).decode()
        digest = audit.sha256_hex(text.encode())
        t = CertificateRow.__table__
        with self.engine.begin() as conn:
            if conn.scalar(sa.select(t.c.cert_id).where(t.c.cert_id == cert["id"])) is not None:
                raise ValueError(f"certificate {cert['id']} is already kept; a certificate id is issued once")
            conn.execute(sa.insert(t).values(
                cert_id=cert["id"], kind=cert["type"], subject=cert.get("subject", ""), issued_at=cert["issued_at"],
                document=text, sha256=digest))  # fmt: skip
            audit.append(conn, AUDIT, actor=actor, action="issue", entity="certificate", key=cert["id"],
                         payload={"sha256": digest, "type": cert["type"], "subject": cert.get("subject", "")})  # fmt: skip
        return cert["id"]

    def log_change(self, actor: str, action: str, entity: str, key: str, payload: dict[str, Any]) -> int:
        """Log a write kept outside the store's tables (the supplier registry file) in the audit
        chain, with its actor and what it wrote (e.g. the new file's SHA-256); returns the entry's
        sequence number. The chain and its checkpoints then vouch for when and by whom."""
        actor = check_actor(actor)
        for name, value in (("action", action), ("entity", entity), ("key", key)):
            if not isinstance(value, str) or not value or len(value) > 200:
                raise ValueError(f"a logged change needs a {name} of 1 to 200 characters, got {value!r}")
        with self.engine.begin() as conn:
            return audit.append(conn, AUDIT, actor=actor, action=action, entity=entity, key=key,
                                payload=payload).seq  # fmt: skip

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

    def verify_audit(self, anchors: Iterable[audit.Anchor] = (), problems: Iterable[str] = (),
                     checkpoints: bool = True) -> AuditReport:  # fmt: skip
        """Walk the chain (first broken entry), hold it to its anchors, then check that every table
        holds what the log says.

        Anchors: ``anchors`` given (exported checkpoints, certificates held elsewhere), the
        checkpoints of the store's data directory (``checkpoints=True``) and the head signed
        into every stored certificate. ``problems``: what the caller found wrong with anchors it
        could not use (a checkpoint whose signature fails); they fail the report too."""
        anchors = list(anchors)
        report = AuditReport(0, audit.GENESIS, anchor_problems=list(problems))
        if checkpoints and self.data_dir is not None:
            from .checkpoints import data_dir_checkpoints

            checked = data_dir_checkpoints(self.data_dir)
            anchors += checked.anchors
            report.anchor_problems += checked.problems
        with self.engine.connect() as conn:
            log = audit.entries(conn, AUDIT)
            report.entries = len(log)
            report.head_hash = log[-1].hash if log else audit.GENESIS
            report.chain_break = audit.verify_chain(log)
            last: dict[tuple[str, str], audit.AuditEntry] = {}
            for e in log:
                last[(e.entity, e.key)] = e
            cert_anchors, cert_problems = self._certificate_anchors(conn, last)
            anchors += cert_anchors
            report.anchor_problems += cert_problems
            report.anchor_problems += audit.check_anchors(log, anchors)
            good = [a.seq for a in anchors]
            report.anchors = len(anchors)
            report.anchored_seq = max(good, default=0)
            report.signed_decisions, unsigned = signature_problems(log)
            report.mismatches += unsigned
            if report.chain_break is None:
                self._check_tables(conn, last, report)
        return report

    @staticmethod
    def _certificate_anchors(conn: Connection, last: dict[tuple[str, str], audit.AuditEntry]
                             ) -> tuple[list[audit.Anchor], list[str]]:  # fmt: skip
        """The log head each stored certificate signs; each must come before the certificate's own entry."""
        t = CertificateRow.__table__
        anchors, problems = [], []
        for r in conn.execute(sa.select(t.c.cert_id, t.c.document).order_by(t.c.cert_id)):
            try:
                head = json.loads(r.document)["certificate"].get("audit_head") or {}
            except (ValueError, KeyError, TypeError, AttributeError):
                problems.append(f"certificate {r.cert_id}: its stored document is not readable")
                continue
            seq, digest = head.get("seq"), head.get("hash")
            if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(digest, str):
                continue  # a certificate issued without a head anchors nothing
            anchors.append(audit.Anchor(seq, digest, f"certificate {r.cert_id}"))
            entry = last.get(("certificate", r.cert_id))
            if entry is not None and seq >= entry.seq:
                problems.append(f"certificate {r.cert_id} signs log head #{seq}, but was itself logged at "
                                f"#{entry.seq}: a head from after its issue cannot be")  # fmt: skip
        return anchors, problems

    def _check_tables(
        self, conn: Connection, last: dict[tuple[str, str], audit.AuditEntry], report: AuditReport
    ) -> None:
        try:
            md = self.load_master_data()
        except MasterDataError as exc:
            report.mismatches.append(f"the master data tables hold a record the store never writes ({exc}): "
                                     "written around the log")  # fmt: skip
            md = MasterData()
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
        logged = {int(key.split()[-1]): entry for (entity, key), entry in last.items()
                  if entity == "genealogy" and key.split()[-1].isdigit()}  # fmt: skip
        held_batches = self._genealogy_digests(conn)
        empty = _batch_digest([], [], [])  # a logged batch whose rows were all deleted
        for batch in sorted(held_batches.keys() | logged.keys()):
            entry = logged.get(batch)
            if entry is None:
                report.mismatches.append(f"genealogy batch {batch}: nodes, edges or tester keys in the tables that "
                                         "no audit entry logged (written around the log)")  # fmt: skip
            elif held_batches.get(batch, empty) != entry.payload.get("sha256"):
                report.mismatches.append(f"genealogy batch {batch}: nodes, edges or tester keys differ from "
                                         f"what audit entry #{entry.seq} recorded")  # fmt: skip


def _qual_key(q: Qualification) -> str:
    return f"{q.badge}|{q.step_kind}|{q.valid_from.isoformat()}"


def _step_payload(rec: StepRecord) -> dict[str, Any]:
    out = dict(rec.__dict__)
    out["on"] = rec.on.isoformat()
    return out


__all__ = ["AuditReport", "Base", "MasterDataError", "StepRecord", "TraceStore", "TraceStoreMissing", "check_actor",
           "qualification_flag"]  # fmt: skip
