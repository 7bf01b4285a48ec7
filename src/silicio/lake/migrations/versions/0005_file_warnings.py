"""The reader's warnings per file: what is unusual in a file but was read in full (records of
undefined types kept as raw bytes, zero padding after the MRR, array widths outside the
specification), as JSON (offset, record, reason), like ``issues``. Files taken in before have
none recorded (an empty list): re-ingest them to see theirs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("files", sa.Column("warnings", sa.JSON, nullable=False, server_default="[]"))


def downgrade() -> None:
    op.drop_column("files", "warnings")
