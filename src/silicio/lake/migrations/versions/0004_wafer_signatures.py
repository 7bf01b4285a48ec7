"""Wafer-map signatures: the WM-811K class of each wafer's map (silicio.spatial).

A new table only (see :mod:`silicio.lake.catalog`): ``wafer_signatures``, one row per (lot, stage,
wafer) with the class, its probability and every class's, the model, the zonal yields, the
largest cluster of fails, when and by whom. Existing tables and their rows are not touched.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wafer_signatures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
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
        sa.UniqueConstraint("lot", "stage", "wafer_id", name="uq_wafer_signatures_wafer"),
    )


def downgrade() -> None:
    op.drop_table("wafer_signatures")
