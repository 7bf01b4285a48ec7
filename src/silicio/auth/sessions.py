"""Signed session cookies and the CSRF tokens tied to them.

A cookie is ``<kind>.<session id>.<expiry>.<signature>``: ``kind`` ``u`` for a signed-in user (the
id names a row of ``auth_sessions``) or ``a`` for an anonymous visitor who was shown a form (the
id exists only to tie the form's CSRF token to this browser). The signature is HMAC-SHA256
(RFC 2104) over the rest under a 256-bit key kept in ``DATA/keys/session.key``, made on first
use. A cookie whose signature does not match, or that has expired, is no session at all.

The CSRF token of a session is HMAC-SHA256 of its id under the same key: only this server can
make it, and it belongs to this one session (synchronizer token pattern, OWASP CSRF cheat
sheet). A form carries it in the ``csrf_token`` field, a script in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

SESSION_COOKIE = "silicio_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_KEY_BYTES = 32


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def load_or_create_key(path: Path) -> bytes:
    """The session key at ``path``; a new random one (owner-only file) when there is none yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(secrets.token_bytes(_KEY_BYTES))
    key = path.read_bytes()
    if len(key) < _KEY_BYTES:
        raise ValueError(f"{path}: the session key is {len(key)} bytes, expected {_KEY_BYTES}; "
                         "delete the file to make a new one (every session ends)")  # fmt: skip
    return key


@dataclass(frozen=True)
class SessionCookie:
    kind: str  # "u": signed in, "a": anonymous
    session_id: str
    expires: int  # seconds since the epoch


class CookieSigner:
    """Signs and checks session cookies and CSRF tokens with one key."""

    def __init__(self, key: bytes):
        self._key = key

    def _mac(self, message: str) -> str:
        return _b64(hmac.new(self._key, message.encode("utf-8"), hashlib.sha256).digest())

    def cookie(self, kind: str, session_id: str, expires: datetime) -> str:
        body = f"{kind}.{session_id}.{int(expires.timestamp())}"
        return f"{body}.{self._mac('session|' + body)}"

    def read(self, value: str | None, now: datetime) -> SessionCookie | None:
        """The cookie's session when its signature matches and it has not expired, else None."""
        parts = (value or "").split(".")
        if len(parts) != 4 or parts[0] not in ("u", "a") or not parts[2].isdigit():
            return None
        body = ".".join(parts[:3])
        if not hmac.compare_digest(parts[3], self._mac("session|" + body)):
            return None
        if int(parts[2]) <= now.timestamp():
            return None
        return SessionCookie(parts[0], parts[1], int(parts[2]))

    def csrf_token(self, session_id: str) -> str:
        return self._mac("csrf|" + session_id)

    def csrf_ok(self, session_id: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token, self.csrf_token(session_id))
