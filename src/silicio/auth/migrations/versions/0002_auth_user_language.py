"""Account language: ``auth_users.language``, the dashboard language an account prefers
(``en``, ``es``; NULL: no preference, the browser's). A new nullable column; existing rows keep
NULL, so every account reads as before.

Revision ID: auth_0002
Revises: auth_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "auth_0002"
down_revision = "auth_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("auth_users") as batch:
        batch.add_column(sa.Column("language", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("auth_users") as batch:
        batch.drop_column("language")
