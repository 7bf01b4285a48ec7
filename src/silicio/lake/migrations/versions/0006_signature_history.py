"""Wafer-map signature history: a signature replaced (the wafer re-ingested with new data, or
classified again with another model) is kept, not overwritten.

A new table only (see :mod:`silicio.lake.catalog`): ``wafer_signature_history``, the columns of
``wafer_signatures`` (the row as it was, ``signature_id`` its id there) plus ``superseded_at``
and ``superseded_by`` (who replaced it). ``wafer_signatures`` keeps one current row per wafer.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wafer_signature_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("signature_id", sa.Integer, nullable=False),
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
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_by", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_wafer_signature_history_wafer", "wafer_signature_history", ["lot", "stage", "wafer_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_wafer_signature_history_wafer", "wafer_signature_history")
    op.drop_table("wafer_signature_history")
