"""Accounts, API tokens, sessions, sign-in throttling and the account log: SQLAlchemy models,
their Alembic migrations (version table ``alembic_version_auth``) and :class:`AuthStore`.

The tables live in the lake's catalog database (``DATA/catalog.sqlite`` or
``SILICIO_DATABASE_URL``), prefixed ``auth_``. Nothing secret is stored as given: passwords as
Argon2id hashes (:mod:`.passwords`), API tokens and session ids as SHA-256 digests (they are 256
random bits, so a fast hash is enough: there is nothing to guess).

Every change (an account added, disabled, given a new password or a language, a token issued or
revoked, a sign-in, a refused sign-in) is a row of ``auth_events`` with the actor who did it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from silicio.datadir import DataDir
from silicio.i18n import LANGUAGES, language_code
from silicio.lake.catalog import catalog_engine, upgrade_schema

from .passwords import DEFAULT_COST, PasswordCost, check_new_password, hash_password, verify_password
from .roles import AuthError, Principal, account_role

_MIGRATIONS = "silicio.auth:migrations"
VERSION_TABLE = "alembic_version_auth"
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
#: What an API token looks like: a prefix that says what it is, then 256 random bits.
TOKEN_PREFIX = "slc_"
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 366
#: How long a sign-in lasts (absolute, not sliding): a working day.
SESSION_LIFETIME = timedelta(hours=8)


class Base(DeclarativeBase):
    pass


class UserRow(Base):
    __tablename__ = "auth_users"
    username: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    organisation: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    password_hash: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(sa.String(200))
    disabled_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    # The dashboard language the account prefers (a key of silicio.i18n.LANGUAGES); None: the browser's.
    language: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)


class TokenRow(Base):
    __tablename__ = "auth_tokens"
    token_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    secret_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    organisation: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    username: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)  # whose it is, if anyone's
    label: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(sa.String(200))
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)


class SessionRow(Base):
    __tablename__ = "auth_sessions"
    id_sha256: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)


class ThrottleRow(Base):
    __tablename__ = "auth_throttle"
    key: Mapped[str] = mapped_column(sa.String(300), primary_key=True)  # user:<name> or address:<ip>
    failures: Mapped[int] = mapped_column(sa.Integer)
    window_start: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)


class EventRow(Base):
    __tablename__ = "auth_events"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(sa.String(200))
    action: Mapped[str] = mapped_column(sa.String(32))
    subject: Mapped[str] = mapped_column(sa.String(200))
    address: Mapped[str] = mapped_column(sa.String(100), default="")
    detail: Mapped[str] = mapped_column(sa.Text, default="")


users, tokens, sessions, throttle, events = (
    UserRow.__table__, TokenRow.__table__, SessionRow.__table__, ThrottleRow.__table__, EventRow.__table__
)  # fmt: skip


@dataclass(frozen=True)
class LoginPolicy:
    """Sign-in throttling: after ``max_failures`` failed sign-ins within ``window`` the account
    (or the client address, after ``max_address_failures``) is locked for ``lock``. The address
    allows more: several people may share one (an office behind one router)."""

    max_failures: int = 5
    max_address_failures: int = 20
    window: timedelta = timedelta(minutes=15)
    lock: timedelta = timedelta(minutes=15)


DEFAULT_POLICY = LoginPolicy()


@dataclass(frozen=True)
class User:
    username: str
    role: str
    organisation: str | None
    created_at: datetime
    created_by: str
    disabled_at: datetime | None
    #: The dashboard language the account prefers (``en``, ``es``); None: no preference.
    language: str | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True)
class Token:
    token_id: str
    role: str
    organisation: str | None
    username: str | None
    label: str
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class Event:
    at: datetime
    actor: str
    action: str
    subject: str
    address: str
    detail: str


class LoginRefused(AuthError):
    """A sign-in refused. ``status`` is 401 (wrong name or password, disabled account) or 429
    (locked after too many failures; ``retry_after`` seconds)."""

    def __init__(self, message: str, status: int = 401, retry_after: int = 0):
        super().__init__(message)
        self.status, self.retry_after = status, retry_after


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _utc(value: datetime | None) -> datetime | None:
    # SQLite keeps no time zone: everything is written in UTC, so read naive times back as UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _now() -> datetime:
    return datetime.now(UTC)


# A hash to verify against when the account does not exist, so that a wrong name costs the same
# time as a wrong password (no telling which names exist from the answer's delay).
_DUMMY_HASHES: dict[PasswordCost, str] = {}


class AuthStore:
    """Accounts, tokens, sessions and the account log of one catalog database.

    ``clock`` returns the current time (UTC); tests pass their own to move time without waiting.
    ``password_cost`` is the Argon2id cost of new hashes (tests use a cheap one).
    """

    def __init__(self, url: str, *, clock: Callable[[], datetime] = _now, policy: LoginPolicy = DEFAULT_POLICY,
                 password_cost: PasswordCost = DEFAULT_COST, migrate: bool = True):  # fmt: skip
        self.url = url
        self.engine = catalog_engine(url)
        self.clock, self.policy, self.password_cost = clock, policy, password_cost
        if migrate:
            upgrade_schema(self.engine, _MIGRATIONS, VERSION_TABLE)

    @classmethod
    def at(cls, data_dir: str | os.PathLike | None = None, url: str | None = None, **options) -> AuthStore:
        """The store of a data directory: ``url``, else ``SILICIO_DATABASE_URL``, else ``DATA/catalog.sqlite``."""
        paths = DataDir.at(data_dir)
        resolved = paths.database_url(url)
        if resolved == paths.default_database_url():
            Path(paths.root).mkdir(parents=True, exist_ok=True)
        return cls(resolved, **options)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> AuthStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    def _log(self, connection: Connection, actor: str, action: str, subject: str, *, address: str = "",
             detail: str = "") -> None:  # fmt: skip
        connection.execute(sa.insert(events), {"at": self.clock(), "actor": actor, "action": action,
                                               "subject": subject, "address": address, "detail": detail})  # fmt: skip

    # -- accounts

    def add_user(self, username: str, role: str, password: str, *, actor: str,
                 organisation: str | None = None) -> User:  # fmt: skip
        """A new account. The name is lower-case letters, digits, ``.``, ``_`` or ``-`` (2 to 64)."""
        if not _USERNAME.match(username or ""):
            raise AuthError(f"user name {username!r}: expected 2 to 64 of a-z, 0-9, '.', '_', '-', "
                            "starting with a letter or digit")  # fmt: skip
        role, organisation = account_role(role, organisation)
        try:
            check_new_password(password)
        except ValueError as exc:
            raise AuthError(str(exc)) from None
        encoded = hash_password(password, self.password_cost)
        with self._writing() as connection:
            if connection.scalar(sa.select(users.c.username).where(users.c.username == username)) is not None:
                raise AuthError(f"user {username!r} already exists")
            connection.execute(sa.insert(users), {"username": username, "role": role,
                               "organisation": organisation, "password_hash": encoded, "created_at": self.clock(),
                               "created_by": actor, "disabled_at": None})  # fmt: skip
            self._log(connection, actor, "user-added", username,
                      detail=f"role={role}" + (f" organisation={organisation}" if organisation else ""))  # fmt: skip
        return self.user(username)

    def user(self, username: str) -> User:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(users).where(users.c.username == username)).mappings().first()
        if row is None:
            raise AuthError(f"no user {username!r}")
        return _user(row)

    def users(self) -> list[User]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(users).order_by(users.c.username)).mappings().all()
        return [_user(row) for row in rows]

    def disable_user(self, username: str, *, actor: str) -> User:
        """Disable an account: it cannot sign in, its sessions end and its tokens stop working."""
        self.user(username)
        now = self.clock()
        with self._writing() as connection:
            connection.execute(sa.update(users).where(users.c.username == username, users.c.disabled_at.is_(None))
                               .values(disabled_at=now))  # fmt: skip
            connection.execute(sa.update(sessions).where(sessions.c.username == username,
                                                         sessions.c.ended_at.is_(None)).values(ended_at=now))  # fmt: skip
            self._log(connection, actor, "user-disabled", username)
        return self.user(username)

    def set_password(self, username: str, password: str, *, actor: str) -> None:
        """A new password; the account's sessions end (whoever knew the old one is signed out)."""
        self.user(username)
        try:
            check_new_password(password)
        except ValueError as exc:
            raise AuthError(str(exc)) from None
        encoded = hash_password(password, self.password_cost)
        with self._writing() as connection:
            connection.execute(
                sa.update(users).where(users.c.username == username).values(password_hash=encoded)
            )
            connection.execute(sa.update(sessions).where(sessions.c.username == username,
                                                         sessions.c.ended_at.is_(None)).values(ended_at=self.clock()))  # fmt: skip
            self._log(connection, actor, "password-set", username)

    def set_language(self, username: str, language: str | None, *, actor: str, address: str = "") -> User:
        """The dashboard language ``username`` prefers: a code or tag of :data:`silicio.i18n.LANGUAGES`
        (``es``, ``es-MX``, ``en``), or None / ``""`` for none (the browser's choice then)."""
        self.user(username)
        code = None
        if language is not None and language.strip():
            code = language_code(language)
            if code is None:
                raise AuthError(f"language {language!r}: expected one of {', '.join(LANGUAGES)} "
                                "(or none for the browser's)")  # fmt: skip
        with self._writing() as connection:
            connection.execute(sa.update(users).where(users.c.username == username).values(language=code))
            self._log(connection, actor, "language-set", username, address=address,
                      detail=f"language={code or 'none'}")  # fmt: skip
        return self.user(username)

    # -- sign-in

    def login(self, username: str, password: str, *, address: str = "") -> tuple[Principal, str]:
        """Check a sign-in; the principal and a new session id (secret: it goes in the signed
        cookie only), or :class:`LoginRefused`. Each failure counts against the account and the
        address (:class:`LoginPolicy`); while either is locked the password is not even checked."""
        now = self.clock()
        keys = [f"user:{username[:200]}", f"address:{address}"]
        with self._writing() as connection:
            locked = [_utc(connection.scalar(sa.select(throttle.c.locked_until).where(throttle.c.key == key)))
                      for key in keys]  # fmt: skip
            until = max((t for t in locked if t is not None and t > now), default=None)
            if until is not None:
                self._log(connection, f"anonymous@{address}", "login-locked", username[:200], address=address)
        # Raised once the transaction is committed: an exception inside it would roll the log back.
        if until is not None:
            wait = int((until - now).total_seconds()) + 1
            raise LoginRefused(f"too many failed sign-ins: try again in {(wait + 59) // 60} min",
                               status=429, retry_after=wait)  # fmt: skip
        row = None
        if _USERNAME.match(username or ""):
            with self.engine.connect() as connection:
                row = (
                    connection.execute(sa.select(users).where(users.c.username == username))
                    .mappings()
                    .first()
                )
        if row is None:
            dummy = _DUMMY_HASHES.setdefault(self.password_cost, hash_password("x" * 16, self.password_cost))
            verify_password(password, dummy)
            good = False
        else:
            good = verify_password(password, row["password_hash"]) and row["disabled_at"] is None
        if not good:
            with self._writing() as connection:
                self._count_failure(connection, keys[0], self.policy.max_failures, now)
                self._count_failure(connection, keys[1], self.policy.max_address_failures, now)
                self._log(connection, f"anonymous@{address}", "login-failed", username[:200], address=address)
            raise LoginRefused("wrong user name or password, or the account is disabled")
        with self._writing() as connection:
            connection.execute(sa.delete(throttle).where(throttle.c.key == keys[0]))
            session_id = secrets.token_urlsafe(32)
            connection.execute(sa.insert(sessions), {"id_sha256": digest(session_id), "username": username,
                                                     "created_at": now, "expires_at": now + SESSION_LIFETIME,
                                                     "ended_at": None})  # fmt: skip
            self._log(connection, username, "login", username, address=address)
        principal = Principal(
            row["role"], username, row["organisation"], via="session", language=row["language"]
        )
        return principal, session_id

    def _count_failure(self, connection: Connection, key: str, limit: int, now: datetime) -> None:
        row = connection.execute(sa.select(throttle).where(throttle.c.key == key)).mappings().first()
        if row is None:
            connection.execute(sa.insert(throttle), {"key": key, "failures": 1, "window_start": now,
                                                     "locked_until": now + self.policy.lock if limit <= 1 else None})  # fmt: skip
            return
        failures, start = row["failures"], _utc(row["window_start"])
        if now - start > self.policy.window or (
            row["locked_until"] is not None and _utc(row["locked_until"]) <= now
        ):
            failures, start = 0, now  # an old window, or a lock served: count afresh
        failures += 1
        locked_until = now + self.policy.lock if failures >= limit else None
        connection.execute(sa.update(throttle).where(throttle.c.key == key)
                           .values(failures=failures, window_start=start, locked_until=locked_until))  # fmt: skip

    def session(self, session_id: str) -> Principal | None:
        """The principal of a live session: not ended, not expired, its account not disabled."""
        now = self.clock()
        query = (sa.select(sessions.c.expires_at, sessions.c.ended_at, users.c.role, users.c.organisation,
                           users.c.username, users.c.disabled_at, users.c.language)
                 .join(users, users.c.username == sessions.c.username)
                 .where(sessions.c.id_sha256 == digest(session_id)))  # fmt: skip
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        if row is None or row["ended_at"] is not None or row["disabled_at"] is not None:
            return None
        if _utc(row["expires_at"]) <= now:
            return None
        return Principal(row["role"], row["username"], row["organisation"], via="session",
                         language=row["language"])  # fmt: skip

    def end_session(self, session_id: str, *, actor: str, address: str = "") -> None:
        with self._writing() as connection:
            ended = connection.execute(sa.update(sessions).where(sessions.c.id_sha256 == digest(session_id),
                                                                 sessions.c.ended_at.is_(None))
                                       .values(ended_at=self.clock())).rowcount  # fmt: skip
            if ended:
                self._log(connection, actor, "logout", actor, address=address)

    # -- API tokens

    def issue_token(self, *, actor: str, username: str | None = None, role: str | None = None,
                    organisation: str | None = None, days: int = DEFAULT_TOKEN_DAYS, label: str = "") -> tuple[Token, str]:  # fmt: skip
        """A new API token: ``(its record, the secret)``; the secret is shown once and stored only
        as its SHA-256. A token of a user acts with that user's role and organisation and stops
        when the user is disabled; one without names its own role (and a supplier's organisation)."""
        if not 1 <= days <= MAX_TOKEN_DAYS:
            raise AuthError(f"token lifetime {days} days: expected 1 to {MAX_TOKEN_DAYS}")
        if username is not None:
            owner = self.user(username)
            if not owner.active:
                raise AuthError(f"user {username!r} is disabled")
            if role is not None and role != owner.role or organisation and organisation != owner.organisation:
                raise AuthError(f"a token of {username!r} acts as {username!r} (role {owner.role}): "
                                "leave the role and organisation out")  # fmt: skip
            role, organisation = owner.role, owner.organisation
        elif role is None:
            raise AuthError("a token needs a user (--user) or a role (--role)")
        role, organisation = account_role(role, organisation)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = "tok_" + secrets.token_hex(6)
        now = self.clock()
        with self._writing() as connection:
            connection.execute(sa.insert(tokens), {"token_id": token_id, "secret_sha256": digest(secret),
                               "role": role, "organisation": organisation, "username": username, "label": label,
                               "created_at": now, "created_by": actor, "expires_at": now + timedelta(days=days),
                               "revoked_at": None})  # fmt: skip
            self._log(connection, actor, "token-issued", token_id,
                      detail=f"role={role}" + (f" organisation={organisation}" if organisation else "")
                      + (f" user={username}" if username else "") + f" days={days}")  # fmt: skip
        return self.token(token_id), secret

    def token(self, token_id: str) -> Token:
        with self.engine.connect() as connection:
            row = (
                connection.execute(sa.select(tokens).where(tokens.c.token_id == token_id)).mappings().first()
            )
        if row is None:
            raise AuthError(f"no token {token_id!r}")
        return _token(row)

    def tokens(self) -> list[Token]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(tokens).order_by(tokens.c.created_at)).mappings().all()
        return [_token(row) for row in rows]

    def revoke_token(self, token_id: str, *, actor: str) -> Token:
        self.token(token_id)
        with self._writing() as connection:
            connection.execute(sa.update(tokens).where(tokens.c.token_id == token_id, tokens.c.revoked_at.is_(None))
                               .values(revoked_at=self.clock()))  # fmt: skip
            self._log(connection, actor, "token-revoked", token_id)
        return self.token(token_id)

    def authenticate_token(self, secret: str) -> Principal | None:
        """The principal of a live API token; None when unknown, revoked, expired, or its user disabled."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        query = (sa.select(tokens, users.c.disabled_at, users.c.language)
                 .outerjoin(users, users.c.username == tokens.c.username)
                 .where(tokens.c.secret_sha256 == digest(secret)))  # fmt: skip
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        if row is None or not hmac.compare_digest(row["secret_sha256"], digest(secret)):
            return None
        if row["revoked_at"] is not None or _utc(row["expires_at"]) <= self.clock():
            return None
        if row["username"] is not None and row["disabled_at"] is not None:
            return None
        return Principal(row["role"], row["username"], row["organisation"], via="token", token_id=row["token_id"],
                         language=row["language"])  # fmt: skip

    # -- the account log

    def events(self) -> list[Event]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(events).order_by(events.c.id)).mappings().all()
        return [
            Event(_utc(r["at"]), r["actor"], r["action"], r["subject"], r["address"], r["detail"])
            for r in rows
        ]


def _user(row) -> User:
    return User(row["username"], row["role"], row["organisation"], _utc(row["created_at"]), row["created_by"],
                _utc(row["disabled_at"]), row["language"])  # fmt: skip


def _token(row) -> Token:
    return Token(row["token_id"], row["role"], row["organisation"], row["username"], row["label"],
                 _utc(row["created_at"]), row["created_by"], _utc(row["expires_at"]), _utc(row["revoked_at"]))  # fmt: skip
