"""Signed checkpoints of the audit log's head: what anchors the log outside the database.

A checkpoint is ``{"checkpoint": {...}, "signature": {...}}``: the body names the log's newest
entry (``seq``, ``hash``) and when it was signed; the signature is Ed25519 (RFC 8032) over the
body's canonical JSON (:func:`silicio.trace.audit.canonical_json`), with the key id (first 16
hex digits of the SHA-256 of the raw public key), as certificates do.

Checkpoints are appended to ``DATA/audit/checkpoints.jsonl`` (one JSON document a line) and can
be exported, printed or published; ``silicio audit verify`` holds the log to every checkpoint
it is given: a later rewrite of the chain (even with every hash recomputed) or a deleted tail no
longer matches what was signed. The checkpoint key (``DATA/keys/audit-checkpoint.pem``, mode
0600) is made on the first checkpoint and is not the certificate signing key. Whoever can
replace the key and every checkpoint file can still rewrite history: copies kept elsewhere
(exported, published, in customers' certificates) are what they cannot reach.

References
----------
RFC 8032, Edwards-Curve Digital Signature Algorithm (EdDSA), section 5.1 (Ed25519).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from silicio import _ed25519
from silicio.datadir import DataDir

from .audit import Anchor, canonical_json

CHECKPOINT_TYPE = "silicio.audit.checkpoint"
CHECKPOINT_KEY_FILE = "audit-checkpoint.pem"
CHECKPOINT_PUBLIC_KEY_FILE = "audit-checkpoint.pub.pem"
AUDIT_DIR = "audit"
CHECKPOINTS_FILE = "checkpoints.jsonl"


class CheckpointError(ValueError):
    """A checkpoint or checkpoint key that cannot be made or read; the message says which and why."""


def _crypto():
    return _ed25519.crypto("signing and verifying audit checkpoints")


@dataclass(frozen=True)
class CheckpointPaths:
    """Where a data directory keeps its checkpoints and their key."""

    private_key: Path
    public_key: Path
    log: Path

    @classmethod
    def at(cls, data_dir: str | os.PathLike[str] | None) -> CheckpointPaths:
        d = DataDir.at(data_dir)
        return cls(d.keys / CHECKPOINT_KEY_FILE, d.keys / CHECKPOINT_PUBLIC_KEY_FILE,
                   d.root / AUDIT_DIR / CHECKPOINTS_FILE)  # fmt: skip


key_id = _ed25519.key_id


def signing_key(paths: CheckpointPaths):
    """The checkpoint signing key, made (with its public key) when there is none yet."""
    ed25519, serialization, _ = _crypto()
    if not paths.private_key.exists():
        paths.private_key.parent.mkdir(parents=True, exist_ok=True)
        key = ed25519.Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
        fd = os.open(paths.private_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        paths.public_key.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))  # fmt: skip
        return key
    try:
        key = serialization.load_pem_private_key(paths.private_key.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{paths.private_key}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise CheckpointError(f"{paths.private_key}: not an Ed25519 private key")
    return key


def load_public_key(path: str | os.PathLike[str]):
    return _ed25519.load_public_key(path, CheckpointError)


def sign_checkpoint(seq: int, head_hash: str, private_key, signed_by: str) -> dict[str, Any]:
    """A checkpoint document of the log head (``seq``, ``head_hash``), signed now by ``signed_by``."""
    body = {"type": CHECKPOINT_TYPE, "seq": int(seq), "hash": head_hash, "signed_by": signed_by,
            "signed_at": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip
    return {"checkpoint": body, "signature": {
        "algorithm": "Ed25519", "key_id": key_id(private_key.public_key()),
        "value": base64.b64encode(private_key.sign(canonical_json(body))).decode("ascii")}}  # fmt: skip


def append_checkpoint(paths: CheckpointPaths, document: dict[str, Any]) -> Path:
    """Append ``document`` as one line to the data directory's checkpoint file."""
    paths.log.parent.mkdir(parents=True, exist_ok=True)
    with paths.log.open("a", encoding="utf-8") as f:
        f.write(canonical_json(document).decode() + "\n")
    return paths.log


def read_checkpoints(path: str | os.PathLike[str]) -> list[tuple[str, Any]]:
    """The checkpoint documents of a file, each with where it is (``FILE line N``): one JSON
    document a line, or one JSON document (a checkpoint or a list of them) as exported."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    else:
        items = whole if isinstance(whole, list) else [whole]
        one_line = len([line for line in text.splitlines() if line.strip()]) == 1 and not isinstance(
            whole, list
        )
        where = f"{path} line 1" if one_line else str(path)
        return [(f"{path} item {i}" if isinstance(whole, list) else where, d) for i, d in enumerate(items, 1)]
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((f"{path} line {n}", json.loads(line)))
        except json.JSONDecodeError as exc:
            out.append(
                (f"{path} line {n}", {"__unreadable__": f"not JSON ({exc.msg} at column {exc.colno})"})
            )
    return out


@dataclass
class CheckedCheckpoints:
    """Anchors from the checkpoints whose signature holds, and what is wrong with the others."""

    anchors: list[Anchor] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def check_checkpoints(documents: list[tuple[str, Any]], public_key) -> CheckedCheckpoints:
    """Verify each checkpoint's signature with ``public_key`` (None: no key to verify with)."""
    _, _, InvalidSignature = _crypto()
    out = CheckedCheckpoints()
    expected_kid = key_id(public_key) if public_key is not None else None
    for where, doc in documents:
        body = doc.get("checkpoint") if isinstance(doc, dict) else None
        sig = doc.get("signature") if isinstance(doc, dict) else None
        if not isinstance(body, dict) or not isinstance(sig, dict) or body.get("type") != CHECKPOINT_TYPE:
            reason = doc.get("__unreadable__") if isinstance(doc, dict) else None
            out.problems.append(f"{where}: not an audit checkpoint" + (f" ({reason})" if reason else ""))
            continue
        seq, head = body.get("seq"), body.get("hash")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or not isinstance(head, str):
            out.problems.append(f"{where}: checkpoint without a valid seq and hash")
            continue
        label = f"checkpoint #{seq} ({where})"
        if public_key is None:
            out.problems.append(f"{label}: no checkpoint public key to verify it with")
            continue
        if sig.get("key_id") != expected_kid:
            out.problems.append(
                f"{label}: signed with key {sig.get('key_id')!r}, not the checkpoint key {expected_kid}"
            )
            continue
        try:
            value = base64.b64decode(str(sig.get("value", "")), validate=True)
            public_key.verify(value, canonical_json(body))
        except (ValueError, InvalidSignature):
            out.problems.append(f"{label}: the signature does not match (forged or altered)")
            continue
        out.anchors.append(Anchor(seq, head, label))
    return out


def data_dir_checkpoints(
    data_dir: str | os.PathLike[str], public_key_path: Path | None = None
) -> CheckedCheckpoints:
    """The checkpoints kept in ``data_dir``, checked with its checkpoint public key (or the one
    given: a copy kept elsewhere is the stronger check). A key with no checkpoint file beside it
    means the file was removed: the key is made with the first checkpoint."""
    paths = CheckpointPaths.at(data_dir)
    key_path = public_key_path or paths.public_key
    public_key = load_public_key(key_path) if key_path.exists() else None
    if not paths.log.exists():
        out = CheckedCheckpoints()
        if paths.private_key.exists() or paths.public_key.exists():
            out.problems.append(f"{paths.log} is missing, but the checkpoint key exists: checkpoints were "
                                "made and their file was removed")  # fmt: skip
        return out
    return check_checkpoints(read_checkpoints(paths.log), public_key)


__all__ = ["CheckpointError", "CheckpointPaths", "CheckedCheckpoints", "append_checkpoint", "check_checkpoints",
           "data_dir_checkpoints", "latest_checkpoint", "load_public_key", "read_checkpoints", "sign_checkpoint", "signing_key"]  # fmt: skip


def latest_checkpoint(data_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The newest checkpoint document of ``data_dir`` as stored (for publishing; verify it with
    :func:`check_checkpoints`), or None when there is none."""
    paths = CheckpointPaths.at(data_dir)
    if not paths.log.exists():
        return None
    documents = [d for _, d in read_checkpoints(paths.log) if isinstance(d, dict) and "checkpoint" in d]
    return documents[-1] if documents else None
