"""An attacker's signing tool: signs any content in the certificate format, without the schema
checks of :func:`silicio.origin.sign` (a stolen key, an old build, a hand-written script)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any


def canonical(obj: Any) -> bytes:
    """Sorted keys, UTF-8, no whitespace: written here from the format's description."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaves(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict) and obj:
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(leaves(v, f"{prefix}.{k}" if prefix else k))
        return out
    return {prefix: obj}


def forge(content: dict[str, Any], private_key, **signature_fields: Any) -> dict[str, Any]:
    """A format-2 document over ``content``; ``signature_fields`` replace block fields before signing."""
    from cryptography.hazmat.primitives import serialization

    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    sig = {
        "format": 2,
        "algorithm": "Ed25519",
        "key_id": hashlib.sha256(raw).hexdigest()[:16],
        "content_sha256": hashlib.sha256(canonical(content)).hexdigest(),
        "field_sha256": {
            p: hashlib.sha256(canonical(v)).hexdigest()[:16] for p, v in sorted(leaves(content).items())
        },
        **signature_fields,
    }
    sig["value"] = base64.b64encode(
        private_key.sign(canonical({"certificate": content, "signature": sig}))
    ).decode()
    return {"certificate": content, "signature": sig}
