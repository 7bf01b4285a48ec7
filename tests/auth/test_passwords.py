"""Password hashes: the Argon2id underneath is RFC 9106's (its published test vector), the stored
PHC string holds what it says (salt and parameters recomputed independently), and only the
right password verifies."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from silicio.auth.passwords import DEFAULT_COST, check_new_password, hash_password, verify_password

from .conftest import CHEAP


def test_the_kdf_is_rfc_9106_argon2id():
    # RFC 9106 section 5.3, the Argon2id test vector: 32 bytes of 0x01 as password, 16 of 0x02 as
    # salt, 8 of 0x03 as secret, 12 of 0x04 as associated data; t=3, p=4, m=32 KiB, 32-byte tag.
    kdf = Argon2id(salt=bytes([2] * 16), length=32, iterations=3, lanes=4, memory_cost=32,
                   secret=bytes([3] * 8), ad=bytes([4] * 12))  # fmt: skip
    tag = "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"
    assert kdf.derive(bytes([1] * 32)).hex() == tag


def _b64_nopad(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def test_the_stored_string_is_argon2id_of_the_password_under_its_own_salt():
    encoded = hash_password("pässwörd with ünïcode", CHEAP)
    _, algorithm, version, params, salt, digest = encoded.split("$")
    assert (algorithm, version) == ("argon2id", "v=19")
    values = dict(p.split("=") for p in params.split(","))
    assert values == {"m": "8", "t": "1", "p": "1"}
    again = Argon2id(
        salt=_b64_nopad(salt), length=len(_b64_nopad(digest)), iterations=1, lanes=1, memory_cost=8
    )
    assert again.derive("pässwörd with ünïcode".encode()) == _b64_nopad(digest)
    assert len(_b64_nopad(salt)) == 16


def test_the_default_cost_is_rfc_9106_s_second_recommendation():
    # Section 4, second recommended option: t=3, p=4, 64 MiB.
    assert (DEFAULT_COST.iterations, DEFAULT_COST.lanes, DEFAULT_COST.memory_kib) == (3, 4, 65536)


def test_only_the_right_password_verifies():
    encoded = hash_password("correct horse battery staple", CHEAP)
    assert verify_password("correct horse battery staple", encoded)
    assert not verify_password("correct horse battery stapl", encoded)
    assert not verify_password("", encoded)
    assert hash_password("correct horse battery staple", CHEAP) != encoded, "a new salt each time"
    for broken in ("", "plain", encoded.replace("argon2id", "argon2i"), encoded[:-4]):
        assert not verify_password("correct horse battery staple", broken)


def test_short_passwords_are_refused():
    with pytest.raises(ValueError, match="at least 12 characters"):
        check_new_password("short")
    assert check_new_password("twelve chars") == "twelve chars"
