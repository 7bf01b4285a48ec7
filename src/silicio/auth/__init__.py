"""Users and roles: local accounts with Argon2id password hashes, signed session cookies with
CSRF tokens, API tokens for scripts, sign-in throttling, and a log of every change with its actor.

>>> from silicio.auth import AuthStore
>>> with AuthStore.at("data") as store:
...     store.add_user("jlopez", "quality", "a long passphrase", actor="admin")
...     token, secret = store.issue_token(actor="admin", username="jlopez", days=30)

The web app (:mod:`silicio.web.access`) asks the store who a request is; ``silicio users``
manages the accounts from the command line.
"""

from silicio._lazy import lazy_package

#: Public name -> the module of this package that defines it, imported on first use (PEP 562):
#: the roles and a principal load without the accounts' database models and the password hashing.
_EXPORTS = {
    "DEFAULT_COST": "passwords",
    "PasswordCost": "passwords",
    "hash_password": "passwords",
    "verify_password": "passwords",
    "ACCOUNT_ROLES": "roles",
    "ANONYMOUS": "roles",
    "ROLES": "roles",
    "STAFF_ROLES": "roles",
    "AuthError": "roles",
    "Principal": "roles",
    "CSRF_FIELD": "sessions",
    "CSRF_HEADER": "sessions",
    "SESSION_COOKIE": "sessions",
    "CookieSigner": "sessions",
    "load_or_create_key": "sessions",
    "AuthStore": "store",
    "LoginPolicy": "store",
    "LoginRefused": "store",
    "Token": "store",
    "User": "store",
}

__all__ = sorted(_EXPORTS)

lazy_package(__name__, _EXPORTS)
