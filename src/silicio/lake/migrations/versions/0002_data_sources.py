"""Data sources: each file's source kind, STDF-only facts in a table of their own.

``files.source`` and ``quarantine.source`` name the data source that read (or tried to read) a
file; every file before this revision was read as STDF. ``files.stdf_version`` and
``files.byte_order`` move, with their values, to ``stdf_files`` (one row per STDF file).

Columns are added and dropped in place (SQLite 3.35+ drops columns natively): recreating
``files`` the way batch mode does would delete, through ON DELETE CASCADE, every row that
refers to it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("files", sa.Column("source", sa.String(32), nullable=False, server_default="stdf"))
    op.add_column("quarantine", sa.Column("source", sa.String(32)))
    op.execute("UPDATE quarantine SET source = 'stdf'")
    op.create_table(
        "stdf_files",
        sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("stdf_version", sa.String(16)),
        sa.Column("byte_order", sa.String(16)),
    )
    op.execute(
        "INSERT INTO stdf_files (file_id, stdf_version, byte_order) SELECT id, stdf_version, byte_order FROM files"
    )
    op.drop_column("files", "stdf_version")
    op.drop_column("files", "byte_order")


def downgrade() -> None:
    op.add_column("files", sa.Column("stdf_version", sa.String(16)))
    op.add_column("files", sa.Column("byte_order", sa.String(16)))
    op.execute(
        "UPDATE files SET "
        "stdf_version = (SELECT s.stdf_version FROM stdf_files s WHERE s.file_id = files.id), "
        "byte_order = (SELECT s.byte_order FROM stdf_files s WHERE s.file_id = files.id)"
    )
    op.drop_table("stdf_files")
    op.drop_column("quarantine", "source")
    op.drop_column("files", "source")
