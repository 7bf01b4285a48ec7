"""Ed25519 keys, shared by the origin certificates (:mod:`silicio.origin.keyring`) and the audit
log's checkpoints (:mod:`silicio.trace.checkpoints`): cryptography is imported on first use
(the 'lake' extra), and a key is named by the same id wherever it signs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def crypto(purpose: str):
    """cryptography's Ed25519 pieces (ed25519, serialization, InvalidSignature), imported when a key
    is first used; ``purpose`` names the work in the message when the extra is missing."""
    from silicio.extras import require

    require("lake", purpose)
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519, serialization, InvalidSignature


def raw_public(public_key) -> bytes:
    """The raw 32 bytes of an Ed25519 public key."""
    _, serialization, _ = crypto("reading an Ed25519 key")
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key) -> str:
    """First 16 hex digits of the SHA-256 of the raw 32-byte Ed25519 public key."""
    return hashlib.sha256(raw_public(public_key)).hexdigest()[:16]


def load_public_key(path: str | os.PathLike[str], error: type[Exception]):
    """The Ed25519 public key in the PEM file ``path``; ``error`` (the caller's) says why not."""
    ed25519, serialization, _ = crypto("reading an Ed25519 key")
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except ValueError as exc:
        raise error(f"{path}: not a PEM public key ({exc})") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise error(f"{path}: not an Ed25519 public key")
    return key
