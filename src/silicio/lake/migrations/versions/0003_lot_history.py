"""The lot history: baselines of AEC-Q002 SYL / SBL and AEC-Q001 static PAT limits, versioned.

New tables only (see :mod:`silicio.lake.catalog`): ``baselines`` (product, stage, test program and
revision; the frozen version), ``baseline_versions`` (version, when, actor, parameters, review-by
date), ``baseline_lots`` (the lots used), ``baseline_yield_limits`` (SYL / SBL per lot and per
wafer), ``baseline_pat_limits`` (static PAT limits) and ``baseline_events`` (every write, by whom).
Existing tables and their rows are not touched.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _version_id(**options) -> sa.Column:
    return sa.Column(
        "version_id", sa.Integer, sa.ForeignKey("baseline_versions.id", ondelete="CASCADE"), **options
    )


def upgrade() -> None:
    op.create_table(
        "baselines",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("product", sa.Text),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("program", sa.Text),
        sa.Column("revision", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("frozen_version", sa.Integer),
    )
    op.create_index("ix_baselines_key", "baselines", ["product", "stage", "program", "revision"])
    op.create_table(
        "baseline_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "baseline_id", sa.Integer, sa.ForeignKey("baselines.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("review_by", sa.Date, nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.UniqueConstraint("baseline_id", "version", name="uq_baseline_versions_version"),
    )
    op.create_index("ix_baseline_versions_baseline_id", "baseline_versions", ["baseline_id"])
    op.create_table(
        "baseline_lots",
        _version_id(primary_key=True),
        sa.Column("lot", sa.Text, primary_key=True),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("parts", sa.Integer, nullable=False),
        sa.Column("good_parts", sa.Integer, nullable=False),
    )
    op.create_table(
        "baseline_yield_limits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _version_id(nullable=False),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("bin", sa.Integer),
        sa.Column("n_lots", sa.Integer, nullable=False),
        sa.Column("n_values", sa.Integer, nullable=False),
        sa.Column("mean", sa.Float, nullable=False),
        sa.Column("sigma", sa.Float, nullable=False),
        sa.Column("limit1", sa.Float, nullable=False),
        sa.Column("limit2", sa.Float, nullable=False),
    )
    op.create_index("ix_baseline_yield_limits_version_id", "baseline_yield_limits", ["version_id"])
    op.create_table(
        "baseline_pat_limits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _version_id(nullable=False),
        sa.Column("test_num", sa.BigInteger, nullable=False),
        sa.Column("test_name", sa.Text),
        sa.Column("pin", sa.Integer),
        sa.Column("n_lots", sa.Integer, nullable=False),
        sa.Column("n_parts", sa.Integer, nullable=False),
        sa.Column("robust_mean", sa.Float),
        sa.Column("q1", sa.Float),
        sa.Column("q3", sa.Float),
        sa.Column("robust_sigma", sa.Float),
        sa.Column("sigma_source", sa.String(16)),
        sa.Column("lsl", sa.Float),
        sa.Column("usl", sa.Float),
        sa.Column("pat_lo", sa.Float),
        sa.Column("pat_hi", sa.Float),
        sa.Column("clamped_lo", sa.Boolean, nullable=False),
        sa.Column("clamped_hi", sa.Boolean, nullable=False),
        sa.Column("skipped", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text),
    )
    op.create_index("ix_baseline_pat_limits_version_id", "baseline_pat_limits", ["version_id"])
    op.create_table(
        "baseline_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "baseline_id", sa.Integer, sa.ForeignKey("baselines.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer),
    )
    op.create_index("ix_baseline_events_baseline_id", "baseline_events", ["baseline_id"])


def downgrade() -> None:
    for table in ("baseline_events", "baseline_pat_limits", "baseline_yield_limits", "baseline_lots",
                  "baseline_versions", "baselines"):  # fmt: skip
        op.drop_table(table)
