"""Lot disposition with electronic signatures: a held lot moves hold -> review -> release, release
with deviation, re-screen, scrap or return to supplier, each step signed by a quality (or admin)
user with a reason.

The record *is* the audit log (:mod:`silicio.trace.audit`): each step is one entry (entity
``lot_disposition``, key the lot id) in the same hash chain as every other trace write, so a
decision cannot be edited, removed or reordered without ``audit verify`` seeing it. The state of
a lot is the replay of its entries; nothing else holds it.

The signature follows 21 CFR Part 11: it shows the signer's printed name, the date and time and
the meaning of the signing (§11.50(a)), and is bound to its record (§11.70) by signing the SHA-256
of the lot's hold record (the holds the rules of :mod:`silicio.yields.disposition` found), the
decision, and the digest of the lot's previous signature: copied onto another lot or moved to
another step, it no longer verifies. Who signs is checked by the caller through
:mod:`silicio.auth` (password or API token of a named account: §11.200(a)); this module takes the
:class:`~silicio.auth.Principal` that check gave and refuses a role other than quality or admin.

Shipments: :func:`shipment_problems` is what :meth:`TraceStore.add_genealogy` asks before linking
anything into a shipment; a lot whose disposition record is open or ended other than released is
refused, and so is a lot the disposition rules hold (recorded by :func:`record_rule_holds`, which
the alerts evaluated at ingest call: entity ``lot_rule_hold`` in the same audit chain) until a
release of it is signed. The trace store does not run the lake's rules itself: a lot held by
them is known here once an ingest with alerts (or a caller of :func:`record_rule_holds`) saw it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from silicio.auth.roles import Principal
from silicio.i18n import C_

from . import audit

#: The audit log entity of a disposition step.
ENTITY = "lot_disposition"
#: The audit log entity of a hold the disposition rules found (unsigned: the rules' finding).
RULE_HOLD_ENTITY = "lot_rule_hold"
#: Queue state of a lot the rules hold and no one has signed a step of yet.
HELD_BY_RULES = "held_by_rules"
#: Roles that may sign a disposition step.
SIGNING_ROLES = ("quality", "admin")

#: step -> (states it may follow (None: no record yet), the state it leads to, its meaning as signed).
STEPS: dict[str, tuple[tuple[str | None, ...], str, str]] = {
    # The meanings are signed as this English; C_ marks them for the catalog, shown translated.
    "hold": ((None, "rescreen"), "held", C_("I place this lot on hold for disposition")),
    "review": (
        ("held",),
        "review",
        C_("I have reviewed the hold record of this lot and open its disposition"),
    ),
    "release": (("review",), "released", C_("I approve the release of this lot")),
    "release_with_deviation": (
        ("review",),
        "released_with_deviation",
        C_("I approve the release of this lot under the deviation stated in the reason"),
    ),
    "rescreen": (("review",), "rescreen", C_("I order this lot re-screened before a new disposition")),
    "scrap": (("review",), "scrapped", C_("I order this lot scrapped")),
    "return_to_supplier": (
        ("review",),
        "returned_to_supplier",
        C_("I order this lot returned to its supplier"),
    ),
}
#: States in which a lot may ship.
RELEASED = ("released", "released_with_deviation")
#: Longest reason, corrective-action id and text kept.
MAX_REASON, MAX_CAPA_ID, MAX_CAPA_TEXT = 2000, 64, 10000


class DispositionError(ValueError):
    """A disposition step that cannot be taken; the message says why."""


class SignatureRefused(DispositionError):
    """The signer may not sign disposition steps."""


@dataclass(frozen=True)
class Step:
    """One signed step of a lot's disposition, as the audit log holds it."""

    seq: int
    lot_id: str
    step: str
    state: str
    signature: dict[str, Any]
    signature_sha256: str
    record_sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "lot_id": self.lot_id, "step": self.step, "state": self.state,
                "signature": self.signature, "signature_sha256": self.signature_sha256,
                "record_sha256": self.record_sha256}  # fmt: skip


def _plain(value: Any) -> Any:
    """NaN and infinities as null (canonical JSON has none), tuples as lists, containers walked."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def hold_record(lot_id: str, holds: list[dict[str, Any]]) -> dict[str, Any]:
    """The record a lot's signatures are bound to: the lot and every hold the rules found for it
    (:meth:`silicio.yields.disposition.Hold.as_dict`), as plain JSON."""
    if not holds:
        raise DispositionError(f"lot {lot_id}: no hold to sign; the disposition rules do not hold it")
    for h in holds:
        if h.get("lot_id") != lot_id:
            raise DispositionError(
                f"lot {lot_id}: a hold of lot {h.get('lot_id')!r} is not part of its record"
            )
    return {"lot_id": lot_id, "holds": _plain(holds)}


def signature_digest(signature: dict[str, Any]) -> str:
    """SHA-256 of the signature manifest's canonical JSON: what binds name, time, meaning, reason,
    record and previous signature together."""
    return audit.sha256_hex(audit.canonical_json(signature))


def _steps_of(log: list[audit.AuditEntry], lot_id: str | None = None) -> dict[str, list[audit.AuditEntry]]:
    out: dict[str, list[audit.AuditEntry]] = {}
    for e in log:
        if e.entity == ENTITY and (lot_id is None or e.key == lot_id):
            out.setdefault(e.key, []).append(e)
    return out


def _entries(conn: Connection, lot_ids: list[str] | None = None) -> list[audit.AuditEntry]:
    from .store import AUDIT

    query = sa.select(AUDIT).where(AUDIT.c.entity == ENTITY)
    if lot_ids is not None:
        query = query.where(AUDIT.c.key.in_(lot_ids))
    out = []
    for r in conn.execute(query.order_by(AUDIT.c.seq)):
        payload = audit.json.loads(r.payload)
        out.append(audit.AuditEntry(int(r.seq), r.at, r.actor, r.action, r.entity, r.key, payload, r.prev_hash,
                                    r.hash))  # fmt: skip
    return out


def _step(e: audit.AuditEntry) -> Step:
    sig = e.payload.get("signature", {})
    return Step(e.seq, e.key, sig.get("step", ""), STEPS.get(sig.get("step"), ((), "?", ""))[1], sig,
                e.payload.get("signature_sha256", ""), sig.get("record_sha256", ""))  # fmt: skip


def history(store, lot_id: str) -> list[Step]:
    """Every signed step of ``lot_id``, oldest first (empty when it has no disposition record)."""
    with store.engine.connect() as conn:
        return [_step(e) for e in _entries(conn, [lot_id])]


def all_steps(store) -> list[Step]:
    """Every signed step of every lot, oldest first."""
    with store.engine.connect() as conn:
        return [_step(e) for e in _entries(conn)]


def state(store, lot_id: str) -> str | None:
    """The lot's disposition state (None: no record)."""
    steps = history(store, lot_id)
    return steps[-1].state if steps else None


def record_rule_holds(store, holds: list[dict[str, Any]], actor: str) -> list[str]:
    """Record in the audit log (entity :data:`RULE_HOLD_ENTITY`, ``actor``: ``ingest`` or a user)
    that the disposition rules hold these lots (:meth:`silicio.yields.disposition.Hold.as_dict`
    rows, each lot's made into its :func:`hold_record`); a lot whose latest recorded rule hold has
    the same record is not recorded again. Returns the lots recorded now. From then on a
    shipment of the lot is refused until a release of it is signed (:func:`shipment_problems`)."""
    from .store import AUDIT, check_actor

    actor = check_actor(actor)
    by_lot: dict[str, list[dict[str, Any]]] = {}
    for h in holds:
        by_lot.setdefault(h["lot_id"], []).append(h)
    recorded = []
    with store.engine.begin() as conn:
        latest = _latest_rule_holds(conn, list(by_lot))
        for lot_id, lot_holds in by_lot.items():
            record = hold_record(lot_id, lot_holds)
            digest = audit.sha256_hex(audit.canonical_json(record))
            if latest.get(lot_id, (None, None))[1] == digest:
                continue
            audit.append(conn, AUDIT, actor=actor, action="rules hold", entity=RULE_HOLD_ENTITY, key=lot_id,
                         payload={"hold_record": record, "record_sha256": digest})  # fmt: skip
            recorded.append(lot_id)
    return recorded


def _latest_rule_holds(conn: Connection, lot_ids: list[str] | None = None) -> dict[str, tuple[int, str]]:
    """lot -> (audit seq, record digest) of its latest recorded rule hold."""
    out = {}
    of_lots = {} if lot_ids is None else {"lot_ids": lot_ids}
    for r in conn.execute(_rule_holds_statement(bool(of_lots)), of_lots):
        out[r.key] = (int(r.seq), audit.json.loads(r.payload).get("record_sha256"))
    return out


@cache
def _rule_holds_statement(of_lots: bool):
    """The recorded rule holds (of the lots ``lot_ids``, when ``of_lots``), in log order; built
    once a process (the alerts at ingest record a lot's holds with it)."""
    from .store import AUDIT

    query = sa.select(AUDIT.c.seq, AUDIT.c.key, AUDIT.c.payload).where(AUDIT.c.entity == RULE_HOLD_ENTITY)
    if of_lots:
        query = query.where(AUDIT.c.key.in_(sa.bindparam("lot_ids", expanding=True)))
    return query.order_by(AUDIT.c.seq)


def rule_held(store) -> list[str]:
    """Lots the disposition rules hold (as recorded) that have no signed release: what shipments refuse."""
    with store.engine.connect() as conn:
        return sorted(_rule_blocked(conn))


def _rule_blocked(conn: Connection) -> dict[str, str]:
    """lot -> its state, for the lots the rules hold whose disposition is not released."""
    held = _latest_rule_holds(conn)
    if not held:
        return {}
    states = {lot: _step(entries[-1]).state for lot, entries in _steps_of(_entries(conn, list(held))).items()}
    return {lot: states.get(lot, HELD_BY_RULES) for lot in held if states.get(lot) not in RELEASED}


def queue(store) -> list[dict[str, Any]]:
    """Lots whose disposition is open (held, in review or being re-screened), oldest first:
    lot, state, the last step's signer and time; first the lots the rules hold (recorded by
    :func:`record_rule_holds`) of which no step is signed yet, state :data:`HELD_BY_RULES`."""
    with store.engine.connect() as conn:
        by_lot = _steps_of(_entries(conn))
        rule_holds = _latest_rule_holds(conn)
    rows = [{"lot_id": lot_id, "state": HELD_BY_RULES, "since": None, "by": None, "opened_seq": seq}
            for lot_id, (seq, _) in rule_holds.items() if lot_id not in by_lot]  # fmt: skip
    rows = sorted(rows, key=lambda r: r["opened_seq"])
    signed = []
    for lot_id, entries in by_lot.items():
        last = _step(entries[-1])
        if last.state not in RELEASED and last.state not in ("scrapped", "returned_to_supplier"):
            signed.append({"lot_id": lot_id, "state": last.state, "since": last.signature.get("signed_at"),
                           "by": last.signature.get("printed_name"), "opened_seq": entries[0].seq})  # fmt: skip
    return rows + sorted(signed, key=lambda r: r["opened_seq"])


def decide(store, lot_id: str, step: str, signer: Principal, reason: str, *,
           record: dict[str, Any] | None = None, capa: dict[str, str] | None = None) -> Step:  # fmt: skip
    """Sign ``step`` of ``lot_id``'s disposition as ``signer`` (a quality or admin account, as
    :mod:`silicio.auth` recognised it) with ``reason``; the step is appended to the audit log.

    ``record`` (from :func:`hold_record`) is needed by ``hold`` and only there: later steps sign
    the record the hold signed. ``capa``: an optional 8D / corrective-action record ``{"id",
    "text"}`` linked to the lot by this step's signature. Refused (:class:`DispositionError`)
    when the step does not follow the lot's state, and (:class:`SignatureRefused`) when the
    signer is not a named quality or admin account."""
    if not isinstance(signer, Principal) or not signer.username:
        raise SignatureRefused("a disposition is signed by a named account (password or its API token); "
                               "a token of no account cannot sign")  # fmt: skip
    if signer.role not in SIGNING_ROLES:
        raise SignatureRefused(f"{signer.username} (role {signer.role}) may not sign a disposition: "
                               f"it needs role {' or '.join(SIGNING_ROLES)}")  # fmt: skip
    if step not in STEPS:
        raise DispositionError(f"step {step!r}: expected one of {', '.join(STEPS)}")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise DispositionError(f"every step is signed with a reason (1 to {MAX_REASON} characters)")
    if not isinstance(lot_id, str) or not lot_id.strip() or len(lot_id) > 200 or not lot_id.isprintable():
        raise DispositionError(f"lot id must be printable text of 1 to 200 characters, got {lot_id!r}")
    if capa is not None:
        capa = _checked_capa(capa)
    if (record is not None) != (step == "hold"):
        raise DispositionError("the hold step signs the lot's hold record (give it); later steps sign the "
                               "record the hold signed (give none)")  # fmt: skip
    try:
        return _append_step(store, lot_id, step, signer, reason, record, capa)
    except sa.exc.IntegrityError:  # another write took the log's next entry first: nothing was signed
        raise DispositionError(f"lot {lot_id}: the audit log moved on while signing (another write at the "
                               "same moment); nothing was signed, sign again") from None  # fmt: skip


def _append_step(store, lot_id: str, step: str, signer: Principal, reason: str, record: dict[str, Any] | None,
                 capa: dict[str, str] | None) -> Step:  # fmt: skip
    """Check ``step`` against the lot's state and append its signature, in one transaction."""
    from .store import AUDIT

    follows, leads_to, meaning = STEPS[step]
    with store.engine.begin() as conn:
        entries = _entries(conn, [lot_id])
        now_state = _step(entries[-1]).state if entries else None
        if now_state not in follows:
            shown = now_state or "no disposition record"
            allowed = [s for s, (f, _, _) in STEPS.items() if now_state in f]
            raise DispositionError(f"lot {lot_id} is {shown}: step {step} cannot follow it; allowed: "
                                   f"{', '.join(allowed) or 'none (the disposition is closed)'}")  # fmt: skip
        if record is not None:
            if record.get("lot_id") != lot_id:
                raise DispositionError(
                    f"the hold record given is of lot {record.get('lot_id')!r}, not {lot_id}"
                )
            record_sha = audit.sha256_hex(audit.canonical_json(record))
        else:
            record_sha = _step(entries[-1]).record_sha256
            # A re-screen that ends in a new review still signs the record the last hold signed.
        previous = _step(entries[-1]).signature_sha256 if entries else audit.GENESIS
        signature = {
            "printed_name": signer.username,
            "role": signer.role,
            "signed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "meaning": meaning,
            "step": step,
            "lot_id": lot_id,
            "reason": reason.strip(),
            "record_sha256": record_sha,
            "previous_signature_sha256": previous,
            "authenticated_by": signer.via,
            "capa": capa,
        }
        digest = signature_digest(signature)
        payload = {"signature": signature, "signature_sha256": digest}
        if record is not None:
            payload["hold_record"] = record
        entry = audit.append(conn, AUDIT, actor=signer.username, action=f"sign {step}"[:32], entity=ENTITY,
                             key=lot_id, payload=payload)  # fmt: skip
    return Step(entry.seq, lot_id, step, leads_to, signature, digest, record_sha)


def _checked_capa(capa: Any) -> dict[str, str]:
    if not isinstance(capa, dict) or set(capa) != {"id", "text"}:
        raise DispositionError("a corrective-action (8D) record holds exactly an id and a text")
    cid, text = capa["id"], capa["text"]
    if not isinstance(cid, str) or not cid.strip() or len(cid) > MAX_CAPA_ID or not cid.isprintable():
        raise DispositionError(
            f"corrective-action id: printable text of 1 to {MAX_CAPA_ID} characters, got {cid!r}"
        )
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_CAPA_TEXT:
        raise DispositionError(f"corrective-action text: 1 to {MAX_CAPA_TEXT} characters")
    return {"id": cid.strip(), "text": text.strip()}


def signature_problems(log: list[audit.AuditEntry]) -> tuple[int, list[str]]:
    """(signed steps that verify, what is wrong with the others): each signature's digest
    recomputed, its record digest against the hold record it signs, its link to the lot's
    previous signature, its signer against the entry's actor, and each step against the state
    it follows."""
    good, problems = 0, []
    for lot_id, entries in _steps_of(log).items():
        previous, now_state, record_sha = audit.GENESIS, None, None
        for e in entries:
            where = f"disposition of lot {lot_id}, entry #{e.seq}"
            sig = e.payload.get("signature")
            if not isinstance(sig, dict):
                problems.append(f"{where}: no signature")
                continue
            bad = []
            if signature_digest(sig) != e.payload.get("signature_sha256"):
                bad.append("its signature digest does not match the signed content")
            if sig.get("printed_name") != e.actor or sig.get("lot_id") != lot_id:
                bad.append("signer or lot differs from the entry's")
            if sig.get("previous_signature_sha256") != previous:
                bad.append("it does not link to the lot's previous signature")
            step = sig.get("step")
            if step not in STEPS or now_state not in STEPS[step][0]:
                bad.append(f"step {step!r} cannot follow state {now_state or 'none'}")
            if step == "hold":
                record_sha = audit.sha256_hex(audit.canonical_json(e.payload.get("hold_record")))
            if sig.get("record_sha256") != record_sha:
                bad.append("it signs another hold record than the lot's")
            if bad:
                problems.append(f"{where}: " + "; ".join(bad))
            else:
                good += 1
            previous = e.payload.get("signature_sha256")
            now_state = STEPS[step][1] if step in STEPS else now_state
    return good, problems


def shipment_problems(
    conn: Connection, graph, edges: list[tuple[tuple[str, str], tuple[str, str]]]
) -> list[str]:
    """Why the shipments this genealogy batch links into may not take what it puts in them: a
    lot upstream of them (in ``graph``, the genealogy with the batch in it) whose disposition is
    open or ended other than released."""
    shipments = sorted(
        {c for _, c in edges if c[0] == "shipment"} | {p for p, _ in edges if p[0] == "shipment"}
    )
    if not shipments:
        return []
    blocked = {}
    for lot_id, entries in _steps_of(_entries(conn)).items():
        last = _step(entries[-1]).state
        if last not in RELEASED:
            blocked[lot_id] = last
    # held by the disposition rules, as recorded, and no release signed
    blocked.update({lot: state for lot, state in _rule_blocked(conn).items() if lot not in blocked})
    if not blocked:
        return []
    problems = []
    lot_kind = graph.kind_code("lot")
    for kind, name in shipments:
        reached = graph.reach([graph.index_of(kind, name)], "backward")
        lots = [str(graph.names[i]) for i in np.asarray(reached) if graph.kinds[i] == lot_kind]
        for lot in sorted(set(lots) & blocked.keys()):
            state = "held by the disposition rules" if blocked[lot] == HELD_BY_RULES else blocked[lot]
            problems.append(f"shipment {name} would hold lot {lot}, which is {state} and not released: "
                            "a quality user signs its release first (silicio disposition)")  # fmt: skip
    return problems


__all__ = ["ENTITY", "HELD_BY_RULES", "RELEASED", "RULE_HOLD_ENTITY", "SIGNING_ROLES", "STEPS", "DispositionError",
           "SignatureRefused", "Step", "all_steps", "decide", "history", "hold_record", "queue",
           "record_rule_holds", "rule_held", "shipment_problems", "signature_digest", "signature_problems",
           "state"]  # fmt: skip
