"""Password hashes: Argon2id in the PHC string format, from ``cryptography``'s own Argon2id KDF.

Argon2id is RFC 9106's choice for password hashing (section 4: "Argon2id MUST be supported");
the default cost is its second recommended option (section 4, option 2: t = 3 passes, p = 4
lanes, m = 64 MiB), about 0.4 CPU seconds a hash here. The stored string carries its own
parameters and salt (``$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>``), so a later change of
cost keeps old hashes verifying.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

#: Shortest password an account may have (NIST SP 800-63B section 5.1.1.2 asks at least 8; we ask more).
MIN_PASSWORD_LENGTH = 12
_SALT_BYTES = 16  # RFC 9106 section 3.1: 16 bytes is recommended for password hashing
_HASH_BYTES = 32


@dataclass(frozen=True)
class PasswordCost:
    """Argon2id cost: passes, lanes and memory in KiB (RFC 9106 section 3.1)."""

    iterations: int = 3
    lanes: int = 4
    memory_kib: int = 64 * 1024


#: RFC 9106 section 4, second recommended option.
DEFAULT_COST = PasswordCost()


def hash_password(password: str, cost: PasswordCost = DEFAULT_COST) -> str:
    """The PHC string of ``password`` under a fresh random salt."""
    kdf = Argon2id(salt=os.urandom(_SALT_BYTES), length=_HASH_BYTES, iterations=cost.iterations,
                   lanes=cost.lanes, memory_cost=cost.memory_kib)  # fmt: skip
    return kdf.derive_phc_encoded(password.encode("utf-8"))


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` is the one ``encoded`` (a PHC string) was made from; a malformed
    string is no match."""
    try:
        Argon2id.verify_phc_encoded(password.encode("utf-8"), encoded)
    except (InvalidKey, ValueError):
        return False
    return True


def check_new_password(password: str) -> str:
    """``password`` when it is long enough to be an account's, else a ValueError saying so."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters (got {len(password)})")
    return password
