"""The audit log: append-only, each entry chained to the one before it by SHA-256.

Entry ``n`` stores ``hash_n = sha256(hash_{n-1} || canonical_json(entry_n))`` (the first entry
chains to 64 zeros), where ``entry_n`` holds its sequence number, time, actor, action, entity,
key and payload. Editing any stored field of any entry changes its hash, which no longer
matches the stored one; deleting an entry breaks the sequence and the next entry's link.
Deleting the newest entries leaves a shorter valid chain, and whoever can write the database can
also recompute every hash after an entry they changed. So the chain is anchored from outside
the database: signed checkpoints of its head (:mod:`silicio.trace.checkpoints`, kept in the
data directory and exported) and the head signed into each certificate (``audit_head``).
:func:`check_anchors` holds the chain to them: an anchor past the end of the log means its tail
was deleted, an anchor whose hash differs from the entry's means the chain was rewritten.

Every write of master data, genealogy and certificates goes through :func:`append` in the
same transaction as the write itself (:mod:`silicio.trace.store`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

GENESIS = "0" * 64


def canonical_json(obj: Any) -> bytes:
    """JSON with sorted keys, UTF-8, no insignificant whitespace (the bytes that are hashed and signed).
    Floats are written by Python's shortest round-trip repr; NaN and infinities are refused."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """sha256(previous hash (hex text) || canonical JSON of the entry), hex."""
    return sha256_hex(prev_hash.encode("ascii") + canonical_json(entry))


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    entity: str
    key: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """The hashed part of the entry."""
        return {"seq": self.seq, "at": self.at, "actor": self.actor, "action": self.action,
                "entity": self.entity, "key": self.key, "payload": self.payload}  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return {**self.body(), "prev_hash": self.prev_hash, "hash": self.hash}


def head(connection: Connection, table: sa.Table) -> tuple[int, str]:
    """(sequence number, hash) of the newest entry; (0, 64 zeros) for an empty log."""
    row = connection.execute(_head_statement(table)).first()
    return (0, GENESIS) if row is None else (int(row.seq), row.hash)


# An audit log's statements, built once a process: building one costs more CPU than running it.
@cache
def _head_statement(table: sa.Table):
    return sa.select(table.c.seq, table.c.hash).order_by(table.c.seq.desc()).limit(1)


@cache
def _insert_statement(table: sa.Table):
    return table.insert()


def append(connection: Connection, table: sa.Table, *, actor: str, action: str, entity: str, key: str,
           payload: dict[str, Any]) -> AuditEntry:  # fmt: skip
    """Append one entry to the log, on ``connection`` (inside the caller's transaction).

    Two writers that race for the same sequence number collide on the primary key and one of
    them fails: the chain never forks.
    """
    seq, prev = head(connection, table)
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    # Round-trip the payload through JSON so what is hashed is exactly what is stored.
    payload = json.loads(canonical_json(payload))
    entry = AuditEntry(seq + 1, at, actor, action, entity, key, payload, prev, "")
    digest = entry_hash(prev, entry.body())
    connection.execute(_insert_statement(table), {
        "seq": entry.seq, "at": at, "actor": actor, "action": action, "entity": entity, "key": key,
        "payload": canonical_json(payload).decode(), "prev_hash": prev, "hash": digest})  # fmt: skip
    return AuditEntry(entry.seq, at, actor, action, entity, key, payload, prev, digest)


def entries(connection: Connection, table: sa.Table) -> list[AuditEntry]:
    out = []
    for r in connection.execute(sa.select(table).order_by(table.c.seq)):
        try:
            payload = json.loads(r.payload)
        except (TypeError, ValueError):
            payload = {"__unreadable__": r.payload}
        out.append(
            AuditEntry(int(r.seq), r.at, r.actor, r.action, r.entity, r.key, payload, r.prev_hash, r.hash)
        )
    return out


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


def verify_chain(log: list[AuditEntry]) -> ChainBreak | None:
    """The first entry whose sequence, link or hash is wrong; None when the chain holds."""
    prev = GENESIS
    for expected_seq, e in enumerate(log, start=1):
        if e.seq != expected_seq:
            return ChainBreak(e.seq, f"entry #{e.seq} follows #{expected_seq - 1}: entries "
                                     f"#{expected_seq}..#{e.seq - 1} were deleted")  # fmt: skip
        if e.prev_hash != prev:
            return ChainBreak(e.seq, f"entry #{e.seq} links to {e.prev_hash[:12]}..., but entry "
                                     f"#{e.seq - 1} hashes to {prev[:12]}...: an entry before it was changed or removed")  # fmt: skip
        recomputed = entry_hash(prev, e.body())
        if recomputed != e.hash:
            return ChainBreak(e.seq, f"entry #{e.seq} ({e.action} {e.entity} {e.key}) was edited: its content "
                                     f"hashes to {recomputed[:12]}..., the log says {e.hash[:12]}...")  # fmt: skip
        prev = e.hash
    return None


@dataclass(frozen=True)
class Anchor:
    """A (sequence number, hash) of the log recorded outside it, and where: a checkpoint or a certificate."""

    seq: int
    hash: str
    source: str


def check_anchors(log: list[AuditEntry], anchors: list[Anchor]) -> list[str]:
    """What each anchor says is wrong with ``log`` (empty when the log agrees with every anchor)."""
    problems = []
    by_seq = {e.seq: e for e in log}
    last = log[-1].seq if log else 0
    for a in sorted(anchors, key=lambda a: (a.seq, a.source)):
        if a.seq == 0:
            if a.hash != GENESIS:
                problems.append(f"{a.source} signs entry #0 with a hash other than the genesis hash")
        elif a.seq > last:
            gone = f"entry #{a.seq} was" if a.seq == last + 1 else f"entries #{last + 1}..#{a.seq} were"
            problems.append(f"{a.source} signs entry #{a.seq}, but the log ends at #{last}: {gone} deleted")
        elif a.seq not in by_seq:
            problems.append(f"{a.source} signs entry #{a.seq}, which is missing from the log")
        elif by_seq[a.seq].hash != a.hash:
            problems.append(f"{a.source} signs entry #{a.seq} as {a.hash[:12]}..., but the log's entry "
                            f"#{a.seq} hashes to {by_seq[a.seq].hash[:12]}...: the chain up to it was rewritten")  # fmt: skip
    return problems
