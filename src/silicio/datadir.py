"""Where silicio keeps things: every file of a data directory has one named place here.

::

    DATA/
      catalog.sqlite            the catalog and the trace store (unless SILICIO_DATABASE_URL names another)
      .lake.lock                held while the lake commits or recovers
      .staging/<uuid>/          one per running ingest
      parquet/<TABLE>/product=<p>/lot=<l>/stage=<s>/<sha256>.parquet (and <sha256>_lean.parquet: silicio.lake.layout)
      keys/signing-key.pem      Ed25519 private key that signs certificates (never served)
      keys/signing-key.pub.pem  its public key, which anyone verifying a certificate needs
      keys/keyring.json         every public key that signed certificates, current and retired
      keys/revocations.json     the signed list of revoked certificates
      keys/session.key          HMAC key that signs the dashboard's session cookies (never served)
      supply/registry.json      the supplier registry
      supply/plan.json          demand per product, inventory weeks, the date certifications are judged on
      supply/tokens.json        supplier-portal accounts: {token: org_id}
      metrology/<study>.csv     gage R&R studies the dashboard lists
      screening/<key>/          the lake's last PAT screening, kept across restarts (silicio.yields.stored)
      alerts.toml               the alert rules every ingest into this directory evaluates (optional)

Modules ask :class:`DataDir` for a path instead of joining names themselves, so moving a file is
a change here only. Nothing here imports another silicio module: every area may use it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: Environment variable naming the data directory (default ``./data``).
DATA_ENV = "SILICIO_DATA"
#: Environment variable with a SQLAlchemy URL for the catalog (default: SQLite in the data dir).
DATABASE_URL_ENV = "SILICIO_DATABASE_URL"

CATALOG_FILE = "catalog.sqlite"
LOCK_FILE = ".lake.lock"
STAGING_DIR = ".staging"
PARQUET_DIR = "parquet"
SCREENING_DIR = "screening"
KEYS_DIR = "keys"
PRIVATE_KEY_FILE = "signing-key.pem"
PUBLIC_KEY_FILE = "signing-key.pub.pem"
KEYRING_FILE = "keyring.json"
REVOCATIONS_FILE = "revocations.json"
SESSION_KEY_FILE = "session.key"
SUPPLY_DIR = "supply"
REGISTRY_FILE = "registry.json"
PLAN_FILE = "plan.json"
TOKENS_FILE = "tokens.json"
METROLOGY_DIR = "metrology"
ALERT_RULES_FILE = "alerts.toml"


def default_data_dir() -> Path:
    """``$SILICIO_DATA``, else ``./data``."""
    return Path(os.environ.get(DATA_ENV) or "data")


@dataclass(frozen=True)
class DataDir:
    """The named places of one data directory (see the module notes)."""

    root: Path

    @classmethod
    def at(cls, data_dir: str | os.PathLike[str] | None = None) -> DataDir:
        return cls(Path(data_dir) if data_dir is not None else default_data_dir())

    # -- the lake

    @property
    def catalog(self) -> Path:
        return self.root / CATALOG_FILE

    def database_url(self, url: str | None = None) -> str:
        """``url``, else ``SILICIO_DATABASE_URL``, else the SQLite catalog in the data directory."""
        return url or os.environ.get(DATABASE_URL_ENV) or self.default_database_url()

    def default_database_url(self) -> str:
        return f"sqlite:///{self.catalog.resolve()}"

    @property
    def lock(self) -> Path:
        return self.root / LOCK_FILE

    @property
    def staging(self) -> Path:
        return self.root / STAGING_DIR

    @property
    def parquet(self) -> Path:
        return self.root / PARQUET_DIR

    @property
    def screening(self) -> Path:
        return self.root / SCREENING_DIR

    @property
    def alert_rules(self) -> Path:
        """The alert rules file ingests into this directory evaluate when it exists."""
        return self.root / ALERT_RULES_FILE

    # -- certificates

    @property
    def keys(self) -> Path:
        return self.root / KEYS_DIR

    @property
    def private_key(self) -> Path:
        return self.keys / PRIVATE_KEY_FILE

    @property
    def public_key(self) -> Path:
        return self.keys / PUBLIC_KEY_FILE

    @property
    def keyring(self) -> Path:
        return self.keys / KEYRING_FILE

    @property
    def revocations(self) -> Path:
        return self.keys / REVOCATIONS_FILE

    @property
    def session_key(self) -> Path:
        return self.keys / SESSION_KEY_FILE

    # -- supplier ecosystem

    @property
    def supply(self) -> Path:
        return self.root / SUPPLY_DIR

    @property
    def supplier_registry(self) -> Path:
        return self.supply / REGISTRY_FILE

    @property
    def supply_plan(self) -> Path:
        return self.supply / PLAN_FILE

    @property
    def supplier_tokens(self) -> Path:
        return self.supply / TOKENS_FILE

    # -- metrology

    @property
    def metrology(self) -> Path:
        return self.root / METROLOGY_DIR

    def gage_study(self, name: str) -> Path:
        """The CSV of gage R&R study ``name``; a name that would leave the folder is refused."""
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"gage study name {name!r}: expected a plain file name without folders")
        return self.metrology / f"{name}.csv"
