"""Supplier portal (silicio.web.supplier_pages): ``supplier_proposals``, one row per change a
supplier proposes to its registry records (a capacity, a certification with its file, a lead time,
survey answers), with who proposed it and when, and who approved or rejected it, when and why.
Only an approved proposal reaches the supplier registry. New table only; nothing else is touched.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "supplier_proposals",
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
    op.create_index("ix_supplier_proposals_org_status", "supplier_proposals", ["org_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_supplier_proposals_org_status", "supplier_proposals")
    op.drop_table("supplier_proposals")
