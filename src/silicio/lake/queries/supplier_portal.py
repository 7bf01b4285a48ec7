"""Queries of the supplier portal's proposals (the catalog's ``supplier_proposals``, migration
0008): a supplier's proposed change is stored pending with who proposed it and when; a reviewer
approves or rejects it once, with their name, the time and (for a rejection) the reason.

Written and read through SQLAlchemy on the catalog's engine, so a PostgreSQL catalog works too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..catalog import supplier_proposals

__all__ = ["PROPOSAL_STATUSES", "insert_proposal", "proposal_rows", "review_proposal"]

#: A proposal is pending until reviewed, then approved or rejected (never both, never twice).
PROPOSAL_STATUSES = ("pending", "approved", "rejected")


def insert_proposal(engine: Engine, *, org_id: str, kind: str, payload: dict[str, Any], proposed_by: str,
                    file: dict[str, Any] | None = None, at: datetime | None = None) -> int:  # fmt: skip
    """Store a pending proposal of ``org_id`` (``file``: its ``sha256``, ``name``, ``type`` and
    ``bytes`` when one came with it); returns its id."""
    file = file or {}
    row = dict(org_id=org_id, kind=kind, payload=payload, status="pending", proposed_by=proposed_by,
               proposed_at=at or datetime.now(UTC), file_sha256=file.get("sha256"), file_name=file.get("name"),
               file_type=file.get("type"), file_bytes=file.get("bytes"))  # fmt: skip
    with engine.begin() as connection:
        return int(connection.execute(sa.insert(supplier_proposals).values(**row)).inserted_primary_key[0])


def proposal_rows(engine: Engine, *, org_id: str | None = None, status: str | None = None,
                  ids: Sequence[int] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Proposals (of ``org_id``, in ``status``, of ``ids`` when given), newest first."""
    query = sa.select(supplier_proposals).order_by(supplier_proposals.c.id.desc())
    if org_id is not None:
        query = query.where(supplier_proposals.c.org_id == org_id)
    if status is not None:
        query = query.where(supplier_proposals.c.status == status)
    if ids is not None:
        query = query.where(supplier_proposals.c.id.in_(list(ids)))
    with engine.connect() as connection:
        return [_aware(dict(r._mapping)) for r in connection.execute(query)]


def review_proposal(engine: Engine, proposal_id: int, status: str, reviewed_by: str, reason: str | None = None,
                    at: datetime | None = None) -> bool:  # fmt: skip
    """Set pending proposal ``proposal_id`` to ``status`` (approved or rejected) with its reviewer,
    time and reason; False when it was not pending (someone reviewed it first: their review stays)."""
    if status not in PROPOSAL_STATUSES[1:]:
        raise ValueError(f"a review sets approved or rejected, not {status!r}")
    with engine.begin() as connection:
        done = connection.execute(
            sa.update(supplier_proposals)
            .where((supplier_proposals.c.id == proposal_id) & (supplier_proposals.c.status == "pending"))
            .values(status=status, reviewed_by=reviewed_by, reviewed_at=at or datetime.now(UTC), reason=reason)
        )  # fmt: skip
        return done.rowcount == 1


def _aware(row: dict[str, Any]) -> dict[str, Any]:
    # SQLite keeps no time zone: the catalog writes UTC.
    for key, value in row.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            row[key] = value.replace(tzinfo=UTC)
    return row
