"""The catalog: files, their record counts and wafers, quarantine, and the lots view.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Migrations keep their own copy of the SQL: a later change of the view is a new revision.
LOTS_VIEW_SQL = """
CREATE VIEW lots AS
SELECT product, lot, stage,
       COUNT(*) AS files,
       SUM(parts) AS parts,
       SUM(good_parts) AS good_parts,
       SUM(dies) AS dies,
       SUM(first_pass_good) AS first_pass_good,
       SUM(final_good) AS final_good,
       MIN(started) AS started,
       MAX(finished) AS finished
FROM files
GROUP BY product, lot, stage
"""


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stdf_version", sa.String(16)),
        sa.Column("byte_order", sa.String(16)),
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
    )
    op.create_index("ix_files_lot", "files", ["product", "lot", "stage"])
    op.create_table(
        "file_records",
        sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("record_type", sa.String(8), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "wafers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="CASCADE"), nullable=False),
        sa.Column("wafer_id", sa.Text),
        sa.Column("parts", sa.Integer, nullable=False),
        sa.Column("good_parts", sa.Integer, nullable=False),
        sa.Column("dies", sa.Integer, nullable=False),
        sa.Column("first_pass_good", sa.Integer, nullable=False),
        sa.Column("final_good", sa.Integer, nullable=False),
        sa.Column("first_pass_yield", sa.Float),
        sa.Column("final_yield", sa.Float),
    )
    op.create_index("ix_wafers_file_id", "wafers", ["file_id"])
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("record", sa.String(8)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("issues", sa.Integer, nullable=False),
        sa.Column("salvaged", sa.Boolean, nullable=False),
        sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="CASCADE")),
    )
    op.execute(LOTS_VIEW_SQL)


def downgrade() -> None:
    op.execute("DROP VIEW lots")
    op.drop_table("quarantine")
    op.drop_table("wafers")
    op.drop_table("file_records")
    op.drop_index("ix_files_lot", table_name="files")
    op.drop_table("files")
