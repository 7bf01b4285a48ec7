"""Signing keys: the current Ed25519 key pair and the keyring of every public key ever used.

``DATA/keys/`` holds ``signing-key.pem`` (the current private key, PKCS#8 PEM, mode 0600,
optionally encrypted with a passphrase), ``signing-key.pub.pem`` (its public key) and
``keyring.json``: each public key with its key id, when it was made and when it was retired.
A new key (:func:`generate_keys` with ``overwrite``) retires the current one instead of
forgetting it: certificates it signed keep verifying, and a certificate that claims an issue time
after its key's retirement is refused. The retired private key is deleted.

A key id is the first 16 hex digits of the SHA-256 of the raw 32-byte public key (RFC 8032
section 5.1.5 encoding).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from silicio import _ed25519
from silicio.datadir import KEYRING_FILE, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE

from .schema import CertificateError, parse_json, parse_timestamp

#: Environment variable holding the private key's passphrase for scripts (else it is asked for).
PASSPHRASE_ENV = "SILICIO_KEY_PASSPHRASE"
#: The shortest passphrase accepted for a new key.
MIN_PASSPHRASE = 12


def crypto():
    """cryptography's Ed25519 pieces, imported when a key is first used (the 'lake' extra)."""
    return _ed25519.crypto("signing and verifying certificates")


raw_public = _ed25519.raw_public
key_id = _ed25519.key_id


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class KeyEntry:
    key_id: str
    public_key: Any  # Ed25519PublicKey
    created_at: str | None
    retired_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"key_id": self.key_id, "public_key": base64.b64encode(raw_public(self.public_key)).decode("ascii"),
                "created_at": self.created_at, "retired_at": self.retired_at}  # fmt: skip


class Keyring:
    """Public keys by key id: what a verifier trusts."""

    def __init__(self, entries: list[KeyEntry] | None = None, source: str = "keyring") -> None:
        self.entries: dict[str, KeyEntry] = {}
        self.source = source
        for e in entries or []:
            self.entries[e.key_id] = e

    def __contains__(self, kid: str) -> bool:
        return kid in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, kid: str) -> KeyEntry | None:
        return self.entries.get(kid)

    @property
    def current(self) -> KeyEntry | None:
        live = [e for e in self.entries.values() if e.retired_at is None]
        return live[-1] if live else None

    @classmethod
    def of(cls, public_key) -> Keyring:
        """A keyring of one public key (never retired)."""
        return cls([KeyEntry(key_id(public_key), public_key, None, None)], "the public key given")

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Keyring:
        """The keyring of a key directory; a directory from before keyrings holds its one public key."""
        d = Path(directory)
        ring = cls.read(d / KEYRING_FILE) if (d / KEYRING_FILE).exists() else cls([], str(d / KEYRING_FILE))
        if (d / PUBLIC_KEY_FILE).exists():
            current = load_public_key(d / PUBLIC_KEY_FILE)
            if key_id(current) not in ring:
                ring.entries[key_id(current)] = KeyEntry(key_id(current), current, None, None)
        return ring

    @classmethod
    def read(cls, path: str | os.PathLike) -> Keyring:
        """A ``keyring.json`` file, or a PEM public key file (a keyring of one key)."""
        p = Path(path)
        data = p.read_bytes()
        if data.lstrip().startswith(b"-----BEGIN"):
            ring = cls.of(load_public_key(p))
            ring.source = str(p)
            return ring
        doc = parse_json(data, str(p))
        if not isinstance(doc, dict) or set(doc) != {"keys"} or not isinstance(doc["keys"], list):
            raise CertificateError(f'{p}: a keyring is an object {{"keys": [...]}}')
        ed25519, _, _ = crypto()
        entries = []
        for i, e in enumerate(doc["keys"], start=1):
            where = f"{p}: key #{i}"
            if not isinstance(e, dict) or set(e) != {"key_id", "public_key", "created_at", "retired_at"}:
                raise CertificateError(f"{where}: expected key_id, public_key, created_at, retired_at")
            try:
                public = ed25519.Ed25519PublicKey.from_public_bytes(
                    base64.b64decode(e["public_key"], validate=True)
                )
            except (ValueError, TypeError):
                raise CertificateError(f"{where}: public_key is not a base64 32-byte Ed25519 key") from None
            if key_id(public) != e["key_id"]:
                raise CertificateError(f"{where}: key_id {e['key_id']!r} is not the id of its public key")
            for t in ("created_at", "retired_at"):
                if e[t] is not None:
                    parse_timestamp(e[t], f"{where}: {t}")
            entries.append(KeyEntry(e["key_id"], public, e["created_at"], e["retired_at"]))
        return cls(entries, str(p))

    def write(self, path: str | os.PathLike) -> None:
        text = json.dumps({"keys": [e.as_dict() for e in self.entries.values()]}, indent=1)
        _write_atomic(Path(path), text.encode(), 0o644)


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def generate_keys(directory: str | os.PathLike, overwrite: bool = False,
                  passphrase: str | None = None) -> tuple[Path, Path]:  # fmt: skip
    """Write a new Ed25519 key pair into ``directory`` and add its public key to the keyring.

    The private key is PKCS#8 PEM, mode 0600, encrypted when ``passphrase`` is given (at least
    :data:`MIN_PASSPHRASE` characters). An existing private key is replaced only with
    ``overwrite``; its public key stays in the keyring, retired now, so that the certificates it
    signed keep verifying.
    """
    ed25519, serialization, _ = crypto()
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    private_path, public_path = d / PRIVATE_KEY_FILE, d / PUBLIC_KEY_FILE
    if private_path.exists() and not overwrite:
        raise CertificateError(f"{private_path}: a signing key is already there; refusing to replace it "
                               "(rotate it with --force: the old public key stays in the keyring)")  # fmt: skip
    if passphrase is not None and len(passphrase) < MIN_PASSPHRASE:
        raise CertificateError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")
    ring = Keyring.load(d)
    now = _now()
    for entry in ring.entries.values():
        if entry.retired_at is None:
            entry.retired_at = now
    key = ed25519.Ed25519PrivateKey.generate()
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase is not None
                  else serialization.NoEncryption())  # fmt: skip
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    public = key.public_key()
    ring.entries[key_id(public)] = KeyEntry(key_id(public), public, now, None)
    # The keyring first: a crash after it leaves the old key usable and the new one known.
    ring.write(d / KEYRING_FILE)
    _write_atomic(private_path, pem, 0o600)
    _write_atomic(public_path, public.public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)  # fmt: skip
    return private_path, public_path


def is_encrypted(path: str | os.PathLike) -> bool:
    return b"ENCRYPTED PRIVATE KEY" in Path(path).read_bytes()[:64]


def load_private_key(path: str | os.PathLike, passphrase: str | None = None):
    """The Ed25519 private key in ``path``; an encrypted one needs its ``passphrase``."""
    ed25519, serialization, _ = crypto()
    data = Path(path).read_bytes()
    encrypted = b"ENCRYPTED PRIVATE KEY" in data[:64]
    if encrypted and not passphrase:
        raise CertificateError(f"{path}: the signing key is encrypted; give its passphrase (${PASSPHRASE_ENV} "
                               "or when asked)")  # fmt: skip
    try:
        key = serialization.load_pem_private_key(data, password=passphrase.encode() if encrypted else None)
    except (ValueError, TypeError) as exc:
        if encrypted:
            raise CertificateError(f"{path}: wrong passphrase for the signing key") from None
        raise CertificateError(f"{path}: not a PEM private key ({exc})") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise CertificateError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: str | os.PathLike):
    return _ed25519.load_public_key(path, CertificateError)
