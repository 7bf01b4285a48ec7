"""Trace tables: master data, genealogy, tester keys, step records, certificates, audit log.

Revision ID: trace_0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "trace_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trace_sites",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("company", sa.Text, nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("city", sa.Text, nullable=False),
    )
    op.create_table(
        "trace_products",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("part_number", sa.String(64), nullable=False),
        sa.Column("revision", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("hs_code", sa.String(16), nullable=False),
        sa.Column("die_width", sa.Float, nullable=False),
        sa.Column("die_height", sa.Float, nullable=False),
        sa.Column("wafer_diameter", sa.Float, nullable=False),
        sa.Column("scribe", sa.Float, nullable=False),
        sa.Column("edge_exclusion", sa.Float, nullable=False),
        sa.Column("d0", sa.Float, nullable=False),
        sa.Column("yield_model", sa.String(32), nullable=False),
        sa.Column("alpha", sa.Float, nullable=True),
        sa.Column("price", sa.Float, nullable=False),
        sa.UniqueConstraint("part_number", "revision", name="uq_trace_products_pn_rev"),
    )
    op.create_table(
        "trace_routing_steps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "product_id", sa.Integer, sa.ForeignKey("trace_products.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("site", sa.String(64), sa.ForeignKey("trace_sites.code"), nullable=False),
        sa.Column("cost", sa.Float, nullable=False),
        sa.Column("cost_basis", sa.String(8), nullable=False),
        sa.Column("output_hs", sa.String(16), nullable=False),
        sa.Column("output_form", sa.String(16), nullable=False),
        sa.Column("substantial_transformation", sa.Boolean, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
    )
    op.create_index("ix_trace_routing_steps_product_id", "trace_routing_steps", ["product_id"])
    op.create_table(
        "trace_bom_lines",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "product_id", sa.Integer, sa.ForeignKey("trace_products.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("material", sa.Text, nullable=False),
        sa.Column("supplier", sa.Text, nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("hs_code", sa.String(16), nullable=False),
        sa.Column("quantity", sa.Float, nullable=False),
        sa.Column("unit_cost", sa.Float, nullable=False),
        sa.Column("basis", sa.String(8), nullable=False),
        sa.Column("regime", sa.String(32), nullable=False),
        sa.Column("uom", sa.String(16), nullable=False),
    )
    op.create_index("ix_trace_bom_lines_product_id", "trace_bom_lines", ["product_id"])
    op.create_table(
        "trace_operators",
        sa.Column("badge", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("site", sa.Text, nullable=False),
    )
    op.create_table(
        "trace_qualifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("badge", sa.String(64), sa.ForeignKey("trace_operators.badge"), nullable=False),
        sa.Column("step_kind", sa.String(32), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_until", sa.Date, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index("ix_trace_qualifications_badge", "trace_qualifications", ["badge"])
    op.create_table(
        "trace_nodes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("attrs", sa.Text, nullable=True),
        sa.Column("batch", sa.Integer, nullable=False),
        sa.UniqueConstraint("kind", "name", name="uq_trace_nodes_kind_name"),
    )
    op.create_index("ix_trace_nodes_batch", "trace_nodes", ["batch"])
    op.create_table(
        "trace_edges",
        sa.Column("parent", sa.Integer, sa.ForeignKey("trace_nodes.id"), primary_key=True),
        sa.Column("child", sa.Integer, sa.ForeignKey("trace_nodes.id"), primary_key=True),
        sa.Column("batch", sa.Integer, nullable=False),
    )
    op.create_index("ix_trace_edges_child", "trace_edges", ["child"])
    op.create_index("ix_trace_edges_batch", "trace_edges", ["batch"])
    op.create_table(
        "trace_tester_keys",
        sa.Column("node", sa.Integer, sa.ForeignKey("trace_nodes.id"), primary_key=True),
        sa.Column("stage", sa.String(16), primary_key=True),
        sa.Column("lot_id", sa.Text, nullable=True),
        sa.Column("wafer_id", sa.Text, nullable=True),
        sa.Column("x", sa.Integer, nullable=True),
        sa.Column("y", sa.Integer, nullable=True),
        sa.Column("part_id", sa.Text, nullable=True),
        sa.Column("batch", sa.Integer, nullable=False),
    )
    op.create_index("ix_trace_tester_keys_batch", "trace_tester_keys", ["batch"])
    op.create_table(
        "trace_step_records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("node_kind", sa.String(32), nullable=False),
        sa.Column("node_name", sa.String(200), nullable=False),
        sa.Column("part_number", sa.String(64), nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("step_kind", sa.String(32), nullable=False),
        sa.Column("badge", sa.String(64), nullable=False),
        sa.Column("on", sa.Date, nullable=False),
        sa.Column("quantity_in", sa.Integer, nullable=True),
        sa.Column("quantity_out", sa.Integer, nullable=True),
        sa.Column("qualified", sa.Boolean, nullable=False),
        sa.Column("flag", sa.Text, nullable=False),
    )
    op.create_table(
        "trace_certificates",
        sa.Column("cert_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("issued_at", sa.String(40), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_table(
        "trace_audit_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    for table in ("trace_audit_log", "trace_certificates", "trace_step_records", "trace_tester_keys", "trace_edges",
                  "trace_nodes", "trace_qualifications", "trace_operators", "trace_bom_lines",
                  "trace_routing_steps", "trace_products", "trace_sites"):  # fmt: skip
        op.drop_table(table)
