"""Accounts, API tokens, sessions and sign-in throttling in the catalog, with a clock the tests
move: every change is logged with its actor, nothing secret is stored as given."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from silicio.auth import AuthError, AuthStore, LoginPolicy, LoginRefused
from silicio.auth.store import SESSION_LIFETIME

from .conftest import CHEAP, PASSWORD


def test_accounts_are_checked_before_they_are_stored(store):
    store.add_user("jlopez", "quality", PASSWORD, actor="admin")
    cases = [
        (("JLopez", "quality", PASSWORD), {}, "user name"),
        (("a", "quality", PASSWORD), {}, "user name"),
        (("mgarcia", "owner", PASSWORD), {}, "expected one of admin, engineer, quality, auditor, supplier"),
        (("mgarcia", "public", PASSWORD), {}, "expected one of"),
        (("acme", "supplier", PASSWORD), {}, "give its org id"),
        (("mgarcia", "engineer", PASSWORD), {"organisation": "acme"}, "leave --org out"),
        (("mgarcia", "engineer", "too short"), {}, "at least 12 characters"),
        (("jlopez", "admin", PASSWORD), {}, "already exists"),
    ]
    for args, options, message in cases:
        with pytest.raises(AuthError, match=message):
            store.add_user(*args, actor="admin", **options)
    assert [u.username for u in store.users()] == ["jlopez"]
    assert store.user("jlopez").role == "quality"


def test_nothing_secret_is_stored_as_given(store):
    store.add_user("jlopez", "quality", PASSWORD, actor="admin")
    _, secret = store.issue_token(actor="admin", username="jlopez")
    _, session_id = store.login("jlopez", PASSWORD, address="10.0.0.1")
    metadata = sa.MetaData()
    with store.engine.connect() as connection:
        metadata.reflect(bind=connection)
        tables = list(metadata.tables)
        dump = repr([connection.execute(sa.select(table)).all() for table in metadata.tables.values()])
    assert PASSWORD not in dump and secret not in dump and session_id not in dump
    assert "$argon2id$" in dump
    assert {"auth_users", "auth_tokens", "auth_sessions", "auth_throttle", "auth_events"} <= set(tables)


def test_sign_in_and_its_session(store, clock):
    store.add_user("jlopez", "quality", PASSWORD, actor="admin")
    principal, session_id = store.login("jlopez", PASSWORD, address="10.0.0.1")
    assert (principal.role, principal.username, principal.via) == ("quality", "jlopez", "session")
    assert store.session(session_id) == principal
    assert store.session("not-a-session") is None
    clock.advance(seconds=SESSION_LIFETIME.total_seconds() - 1)
    assert store.session(session_id) == principal
    clock.advance(seconds=1)
    assert store.session(session_id) is None, "expired"
    with pytest.raises(LoginRefused, match="wrong user name or password") as refused:
        store.login("jlopez", "wrong password!", address="10.0.0.1")
    assert refused.value.status == 401
    with pytest.raises(LoginRefused, match="wrong user name or password"):
        store.login("nobody", PASSWORD, address="10.0.0.1")


def test_logout_disable_and_new_password_end_sessions(store):
    store.add_user("jlopez", "engineer", PASSWORD, actor="admin")
    _, first = store.login("jlopez", PASSWORD)
    _, second = store.login("jlopez", PASSWORD)
    store.end_session(first, actor="jlopez")
    assert store.session(first) is None and store.session(second) is not None
    store.set_password("jlopez", "another long passphrase", actor="admin")
    assert store.session(second) is None
    with pytest.raises(LoginRefused):
        store.login("jlopez", PASSWORD)
    _, third = store.login("jlopez", "another long passphrase")
    store.disable_user("jlopez", actor="admin")
    assert store.session(third) is None and not store.user("jlopez").active
    with pytest.raises(LoginRefused, match="disabled"):
        store.login("jlopez", "another long passphrase")


def test_five_failures_lock_the_account_for_fifteen_minutes(store, clock):
    store.add_user("jlopez", "engineer", PASSWORD, actor="admin")
    for _ in range(5):
        with pytest.raises(LoginRefused) as refused:
            store.login("jlopez", "guess guess guess", address="10.0.0.1")
        assert refused.value.status == 401
        clock.advance(seconds=30)
    # Locked: even the right password, from another address, is refused without being checked.
    with pytest.raises(LoginRefused, match="too many failed sign-ins") as locked:
        store.login("jlopez", PASSWORD, address="10.0.0.2")
    assert locked.value.status == 429
    lock_ends = 15 * 60 - 30  # the lock started at the fifth failure, 30 s ago
    assert locked.value.retry_after == lock_ends + 1
    clock.advance(seconds=lock_ends - 1)
    with pytest.raises(LoginRefused, match="too many"):
        store.login("jlopez", PASSWORD, address="10.0.0.2")
    clock.advance(seconds=1)
    assert store.login("jlopez", PASSWORD, address="10.0.0.2")[0].username == "jlopez"
    # The success cleared the account's count: four more failures do not lock it again.
    for _ in range(4):
        with pytest.raises(LoginRefused):
            store.login("jlopez", "guess guess guess", address="10.0.0.3")
    assert store.login("jlopez", PASSWORD, address="10.0.0.3")[0].username == "jlopez"


def test_failures_outside_the_window_do_not_add_up(store, clock):
    store.add_user("jlopez", "engineer", PASSWORD, actor="admin")
    for _ in range(4):
        with pytest.raises(LoginRefused):
            store.login("jlopez", "guess guess guess", address="10.0.0.1")
    clock.advance(minutes=16)
    for _ in range(4):
        with pytest.raises(LoginRefused):
            store.login("jlopez", "guess guess guess", address="10.0.0.1")
    assert store.login("jlopez", PASSWORD, address="10.0.0.1")[0].username == "jlopez"


def test_one_address_guessing_many_accounts_is_locked(tmp_path, clock):
    policy = LoginPolicy(max_failures=5, max_address_failures=8)
    with AuthStore.at(tmp_path / "data", clock=clock, policy=policy, password_cost=CHEAP) as store:
        store.add_user("jlopez", "engineer", PASSWORD, actor="admin")
        for n in range(8):  # a different account each time: no account reaches its own limit
            with pytest.raises(LoginRefused) as refused:
                store.login(f"user{n}", "guess guess guess", address="203.0.113.9")
            assert refused.value.status == 401
        with pytest.raises(LoginRefused, match="too many") as locked:
            store.login("jlopez", PASSWORD, address="203.0.113.9")
        assert locked.value.status == 429
        assert store.login("jlopez", PASSWORD, address="198.51.100.1")[0].username == "jlopez"


def test_tokens_act_as_their_scope_until_revoked_or_expired(store, clock):
    store.add_user("jlopez", "auditor", PASSWORD, actor="admin")
    own, own_secret = store.issue_token(actor="admin", username="jlopez", days=30, label="nightly export")
    portal, portal_secret = store.issue_token(actor="admin", role="supplier", organisation="acme", days=1)
    assert own_secret.startswith("slc_") and len(own_secret) > 40 and own_secret != portal_secret
    seen = store.authenticate_token(own_secret)
    assert (seen.role, seen.username, seen.organisation, seen.token_id) == (
        "auditor",
        "jlopez",
        None,
        own.token_id,
    )
    seen = store.authenticate_token(portal_secret)
    assert (seen.role, seen.username, seen.organisation) == ("supplier", None, "acme")
    assert store.authenticate_token(own_secret[:-1]) is None and store.authenticate_token("nonsense") is None

    store.revoke_token(own.token_id, actor="admin")
    assert store.authenticate_token(own_secret) is None
    assert store.token(own.token_id).revoked_at == clock.now
    clock.advance(hours=23, minutes=59)
    assert store.authenticate_token(portal_secret) is not None
    clock.advance(minutes=1)
    assert store.authenticate_token(portal_secret) is None, "expired after its day"


def test_a_user_s_token_stops_with_the_user(store):
    store.add_user("jlopez", "engineer", PASSWORD, actor="admin")
    _, secret = store.issue_token(actor="admin", username="jlopez")
    store.disable_user("jlopez", actor="admin")
    assert store.authenticate_token(secret) is None
    with pytest.raises(AuthError, match="disabled"):
        store.issue_token(actor="admin", username="jlopez")


def test_token_requests_are_checked(store):
    store.add_user("jlopez", "engineer", PASSWORD, actor="admin")
    cases = [
        ({}, "a user .* or a role"),
        ({"role": "supplier"}, "give its org id"),
        ({"role": "root"}, "expected one of"),
        ({"role": "engineer", "days": 0}, "expected 1 to 366"),
        ({"role": "engineer", "days": 400}, "expected 1 to 366"),
        ({"username": "jlopez", "role": "admin"}, "acts as 'jlopez'"),
        ({"username": "nobody"}, "no user 'nobody'"),
    ]
    for options, message in cases:
        with pytest.raises(AuthError, match=message):
            store.issue_token(actor="admin", **options)
    with pytest.raises(AuthError, match="no token"):
        store.revoke_token("tok_missing", actor="admin")
    assert store.tokens() == []


def test_every_change_is_logged_with_its_actor(store, clock):
    store.add_user("jlopez", "engineer", PASSWORD, actor="cli:root")
    clock.advance(seconds=1)
    with pytest.raises(LoginRefused):
        store.login("jlopez", "guess guess guess", address="10.0.0.7")
    _, session_id = store.login("jlopez", PASSWORD, address="10.0.0.8")
    token, _ = store.issue_token(actor="jlopez", username="jlopez")
    store.revoke_token(token.token_id, actor="admin")
    store.end_session(session_id, actor="jlopez", address="10.0.0.8")
    store.set_password("jlopez", "another long passphrase", actor="admin")
    store.disable_user("jlopez", actor="admin")
    logged = [(e.actor, e.action, e.subject, e.address) for e in store.events()]
    assert logged == [
        ("cli:root", "user-added", "jlopez", ""),
        ("anonymous@10.0.0.7", "login-failed", "jlopez", "10.0.0.7"),
        ("jlopez", "login", "jlopez", "10.0.0.8"),
        ("jlopez", "token-issued", token.token_id, ""),
        ("admin", "token-revoked", token.token_id, ""),
        ("jlopez", "logout", "jlopez", "10.0.0.8"),
        ("admin", "password-set", "jlopez", ""),
        ("admin", "user-disabled", "jlopez", ""),
    ]
    events = store.events()
    assert (events[1].at - events[0].at).total_seconds() == 1
    assert "role=engineer" in events[0].detail


def test_an_account_s_language_is_set_cleared_checked_and_logged(store):
    store.add_user("jlopez", "engineer", PASSWORD, actor="cli:root")
    assert store.user("jlopez").language is None
    assert store.set_language("jlopez", "es-MX", actor="jlopez", address="10.0.0.8").language == "es"
    principal, session_id = store.login("jlopez", PASSWORD)
    assert principal.language == "es" and store.session(session_id).language == "es"
    _, secret = store.issue_token(actor="jlopez", username="jlopez")
    assert store.authenticate_token(secret).language == "es"
    assert store.set_language("jlopez", "", actor="admin").language is None
    assert store.session(session_id).language is None
    with pytest.raises(AuthError, match=r"language 'fr': expected one of en, es"):
        store.set_language("jlopez", "fr", actor="admin")
    with pytest.raises(AuthError, match="no user 'nobody'"):
        store.set_language("nobody", "es", actor="admin")
    logged = [(e.actor, e.action, e.subject, e.address, e.detail) for e in store.events()
              if e.action == "language-set"]  # fmt: skip
    assert logged == [("jlopez", "language-set", "jlopez", "10.0.0.8", "language=es"),
                      ("admin", "language-set", "jlopez", "", "language=none")]  # fmt: skip


def test_accounts_made_before_the_language_column_keep_no_preference(tmp_path):
    # A catalog at the first account migration, with an account in it, then opened by today's store.
    from alembic import command
    from alembic.config import Config

    from silicio.auth.store import VERSION_TABLE
    from silicio.lake.catalog import catalog_engine

    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    engine = catalog_engine(url)
    config = Config()
    config.set_main_option("script_location", "silicio.auth:migrations")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "auth_0001")
        connection.exec_driver_sql(
            "INSERT INTO auth_users (username, role, organisation, password_hash, created_at, created_by) "
            "VALUES ('old', 'engineer', NULL, 'x', '2026-01-01 00:00:00', 'tests')"
        )
        assert connection.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar() == "auth_0001"
    engine.dispose()
    with AuthStore(url, password_cost=CHEAP) as store:
        assert store.user("old").language is None
        assert store.set_language("old", "es", actor="admin").language == "es"
