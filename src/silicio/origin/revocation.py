"""The revocation list: certificates withdrawn by their issuer, signed like the certificates.

``DATA/keys/revocations.json`` is ``{"revocation_list": {...}, "signature": {...}}``; the list
holds ``issuer``, a ``sequence`` that grows by one with every revocation, ``updated_at`` and
``entries`` (certificate id, when, why). Its Ed25519 signature covers the list and the signature
block but its value, as for a certificate. A list that does not verify against the keyring is an
error, never an empty list: a verifier that cannot trust it says so instead of passing a
certificate that may be revoked.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from silicio.trace.audit import canonical_json

from .keyring import Keyring, crypto, key_id
from .schema import MAX_TEXT, CertificateError, parse_json, parse_timestamp

_ID = re.compile(r"^CO[CO]-[0-9A-F]{16}$")


@dataclass
class Revocation:
    cert_id: str
    revoked_at: str
    reason: str


@dataclass
class RevocationList:
    issuer: str
    sequence: int
    updated_at: str
    entries: dict[str, Revocation] = field(default_factory=dict)
    key_id: str = ""
    source: str = "revocation list"

    def get(self, cert_id: str) -> Revocation | None:
        return self.entries.get(cert_id)

    def body(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "sequence": self.sequence, "updated_at": self.updated_at,
                "entries": [{"id": r.cert_id, "revoked_at": r.revoked_at, "reason": r.reason}
                            for r in self.entries.values()]}  # fmt: skip


def _message(body: dict[str, Any], sig: dict[str, Any]) -> bytes:
    return canonical_json(
        {"revocation_list": body, "signature": {k: v for k, v in sig.items() if k != "value"}}
    )


def sign_list(rl: RevocationList, private_key) -> dict[str, Any]:
    sig = {"format": 2, "algorithm": "Ed25519", "key_id": key_id(private_key.public_key())}
    body = rl.body()
    sig["value"] = base64.b64encode(private_key.sign(_message(body, sig))).decode("ascii")
    return {"revocation_list": body, "signature": sig}


def read_revocations(data: bytes, keyring: Keyring, source: str = "revocation list") -> RevocationList:
    """A revocation list from its bytes, checked against ``keyring``; raises when it does not verify."""
    _, _, InvalidSignature = crypto()
    doc = parse_json(data, source)
    if not isinstance(doc, dict) or set(doc) != {"revocation_list", "signature"}:
        raise CertificateError(f"{source}: expected an object of exactly 'revocation_list' and 'signature'")
    body, sig = doc["revocation_list"], doc["signature"]
    if not isinstance(body, dict) or set(body) != {"issuer", "sequence", "updated_at", "entries"}:
        raise CertificateError(f"{source}: revocation_list must hold issuer, sequence, updated_at, entries")
    if not isinstance(sig, dict) or set(sig) != {"format", "algorithm", "key_id", "value"} or (
            sig["format"], sig["algorithm"]) != (2, "Ed25519"):  # fmt: skip
        raise CertificateError(f"{source}: signature must be format 2 Ed25519 with key_id and value")
    entry = keyring.get(sig["key_id"]) if isinstance(sig["key_id"], str) else None
    if entry is None:
        raise CertificateError(
            f"{source}: signed with key {sig['key_id']!r}, which is not in {keyring.source}"
        )
    try:
        entry.public_key.verify(base64.b64decode(str(sig["value"]), validate=True), _message(body, sig))
    except (InvalidSignature, ValueError):
        raise CertificateError(f"{source}: its signature does not match its content: the list was altered; "
                               "no certificate can be checked against it") from None  # fmt: skip
    seq = body["sequence"]
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise CertificateError(f"{source}: sequence must be a whole number >= 0")
    updated = parse_timestamp(body["updated_at"], f"{source}: updated_at")
    if entry.retired_at is not None and updated > parse_timestamp(entry.retired_at, "retired_at"):
        raise CertificateError(
            f"{source}: signed by key {entry.key_id} after it was retired ({entry.retired_at})"
        )
    rl = RevocationList(str(body["issuer"]), seq, body["updated_at"], key_id=entry.key_id, source=source)
    if not isinstance(body["entries"], list):
        raise CertificateError(f"{source}: entries must be a list")
    for i, e in enumerate(body["entries"], start=1):
        if (
            not isinstance(e, dict)
            or set(e) != {"id", "revoked_at", "reason"}
            or not isinstance(e["id"], str)
        ):
            raise CertificateError(f"{source}: entry #{i} must hold id, revoked_at, reason")
        parse_timestamp(e["revoked_at"], f"{source}: entry #{i} revoked_at")
        if e["id"] in rl.entries:
            raise CertificateError(f"{source}: certificate {e['id']} is listed twice")
        rl.entries[e["id"]] = Revocation(e["id"], e["revoked_at"], str(e["reason"]))
    return rl


def load_revocations(path: str | os.PathLike, keyring: Keyring) -> RevocationList | None:
    """The revocation list at ``path`` checked against ``keyring``; None when there is none yet."""
    p = Path(path)
    if not p.exists():
        return None
    return read_revocations(p.read_bytes(), keyring, str(p))


def revoke(path: str | os.PathLike, cert_id: str, reason: str, private_key, keyring: Keyring, issuer: str,
           now: str | None = None) -> RevocationList:  # fmt: skip
    """Add ``cert_id`` to the revocation list at ``path`` (made when missing), re-signed with
    ``private_key``. The list there must verify against ``keyring`` first."""
    if not _ID.match(cert_id):
        raise CertificateError(f"{cert_id!r} is not a certificate id (COC- or COO- and 16 hex digits)")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_TEXT:
        raise CertificateError(f"a revocation needs a reason of 1 to {MAX_TEXT} characters")
    if key_id(private_key.public_key()) not in keyring:
        raise CertificateError("the signing key is not in the keyring; run `silicio keys generate`")
    now = now or datetime.now(UTC).isoformat(timespec="seconds")
    rl = load_revocations(path, keyring) or RevocationList(issuer, 0, now, source=str(path))
    if cert_id in rl.entries:
        old = rl.entries[cert_id]
        raise CertificateError(f"certificate {cert_id} is already revoked ({old.revoked_at}: {old.reason})")
    rl.entries[cert_id] = Revocation(cert_id, now, reason.strip())
    rl.sequence += 1
    rl.updated_at = now
    document = sign_list(rl, private_key)
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, p)
    rl.key_id = document["signature"]["key_id"]
    return rl
