"""Users and roles: local accounts with Argon2id password hashes, signed session cookies with
CSRF tokens, API tokens for scripts, sign-in throttling, and a log of every change with its actor.

>>> from silicio.auth import AuthStore
>>> with AuthStore.at("data") as store:
...     store.add_user("jlopez", "quality", "a long passphrase", actor="admin")
...     token, secret = store.issue_token(actor="admin", username="jlopez", days=30)

The web app (:mod:`silicio.web.access`) asks the store who a request is; ``silicio users``
manages the accounts from the command line.
"""

from .passwords import DEFAULT_COST, PasswordCost, hash_password, verify_password
from .roles import ACCOUNT_ROLES, ANONYMOUS, ROLES, STAFF_ROLES, AuthError, Principal
from .sessions import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, CookieSigner, load_or_create_key
from .store import AuthStore, LoginPolicy, LoginRefused, Token, User

__all__ = [
    "ACCOUNT_ROLES", "ANONYMOUS", "CSRF_FIELD", "CSRF_HEADER", "DEFAULT_COST", "ROLES", "SESSION_COOKIE",
    "STAFF_ROLES", "AuthError", "AuthStore", "CookieSigner", "LoginPolicy", "LoginRefused", "PasswordCost",
    "Principal", "Token", "User", "hash_password", "load_or_create_key", "verify_password",
]  # fmt: skip
