"""Signed session cookies: any change to a cookie, another server's key or an expired cookie is
no session; a CSRF token belongs to one session."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta

import pytest

from silicio.auth import CookieSigner, load_or_create_key

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def signer(tmp_path) -> CookieSigner:
    return CookieSigner(load_or_create_key(tmp_path / "keys" / "session.key"))


def test_the_key_is_made_once_and_kept_private(tmp_path):
    path = tmp_path / "keys" / "session.key"
    first = load_or_create_key(path)
    assert len(first) == 32 and load_or_create_key(path) == first
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    path.write_bytes(b"short")
    with pytest.raises(ValueError, match="expected 32"):
        load_or_create_key(path)


def test_a_cookie_reads_back_until_it_expires(signer):
    cookie = signer.cookie("u", "session-id", NOW + timedelta(hours=8))
    read = signer.read(cookie, NOW)
    assert (read.kind, read.session_id) == ("u", "session-id")
    assert signer.read(cookie, NOW + timedelta(hours=8)) is None
    assert signer.read(cookie, NOW + timedelta(hours=7, minutes=59)) is not None


def test_every_change_to_a_cookie_is_no_session(signer, tmp_path):
    cookie = signer.cookie("a", "session-id", NOW + timedelta(hours=2))
    for i, ch in enumerate(cookie):
        for other in {"A", "b", "0", "."} - {ch}:
            assert signer.read(cookie[:i] + other + cookie[i + 1 :], NOW) is None, (i, other)
    kind, sid, expires, mac = cookie.split(".")
    assert signer.read(f"u.{sid}.{expires}.{mac}", NOW) is None, "an anonymous cookie made a user's"
    assert signer.read(f"{kind}.{sid}.{int(expires) + 3600}.{mac}", NOW) is None, "a later expiry"
    assert (
        signer.read(cookie + ".x", NOW) is None
        and signer.read("", NOW) is None
        and signer.read(None, NOW) is None
    )
    elsewhere = CookieSigner(load_or_create_key(tmp_path / "other" / "session.key"))
    assert elsewhere.read(cookie, NOW) is None, "another server's key"


def test_a_csrf_token_belongs_to_one_session(signer):
    token = signer.csrf_token("session-a")
    assert signer.csrf_ok("session-a", token)
    assert not signer.csrf_ok("session-b", token)
    assert not signer.csrf_ok("session-a", None) and not signer.csrf_ok("session-a", "")
    assert not signer.csrf_ok("session-a", token[:-1] + ("A" if token[-1] != "A" else "B"))
