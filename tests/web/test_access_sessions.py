"""Signing in through the browser's way: the session cookie (HttpOnly, SameSite=Strict, signed,
expiring), the CSRF token every form needs, the sign-in lock (with a clock the test moves, never
sleeping), API tokens that stop when revoked, and cookies that were tampered with."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from silicio.auth.store import SESSION_LIFETIME
from silicio.web import create_app
from silicio.web.login import Authority
from tests.auth.conftest import CHEAP, PASSWORD, Clock

COOKIE = "silicio_session"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(tmp_path, clock):
    # No lake: signing in needs none, and the pages say there is nothing to show.
    authority = Authority(tmp_path / "data", clock=clock, password_cost=CHEAP)
    store = authority.store
    store.add_user("jlopez", "engineer", PASSWORD, actor="tests")
    store.add_user("mgarcia", "quality", PASSWORD, actor="tests")
    return create_app(tmp_path / "data", authority=authority)


@pytest.fixture
def client(app):
    with TestClient(app) as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, username: str = "jlopez", password: str = PASSWORD, next_url: str = ""):
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token,
                                       "next": next_url}, follow_redirects=False)  # fmt: skip


def test_sign_in_sets_a_strict_http_only_session_and_goes_back(client):
    assert client.get("/files", follow_redirects=False).headers["location"] == "/login?next=/files"
    form = client.get("/login?next=/files", headers={"Accept-Language": "en"})
    assert 'name="next" value="/files"' in form.text and "Password" in form.text
    assert "Contraseña" in client.get("/login?next=/files", headers={"Accept-Language": "es-MX"}).text
    response = sign_in(client, next_url="/files")
    assert response.status_code == 303 and response.headers["location"] == "/files"
    header = response.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=strict" in header and "max-age=28800" in header
    page = client.get("/files")
    assert page.status_code == 200 and 'data-signed-in="engineer"' in page.text
    assert client.get("/api/files").status_code == 200
    assert client.get("/api/supply").status_code == 403, "an engineer does not see the supplier registry"


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"]
)
def test_sign_in_never_sends_the_browser_elsewhere(client, target):
    response = sign_in(client, next_url=target)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_a_form_without_its_session_s_token_is_refused(client, app):
    # Sign-in itself: no token, a made-up one, or the token of another browser's session.
    other = TestClient(app)
    foreign = csrf_of(other.get("/login").text)
    client.get("/login")
    for token in (None, "made-up", foreign):
        data = {"username": "jlopez", "password": PASSWORD} | ({"csrf_token": token} if token else {})
        refused = client.post("/login", data=data, follow_redirects=False)
        assert refused.status_code == 403 and "security token" in refused.text
        assert (
            COOKIE not in refused.headers.get("set-cookie", "") or "u." not in refused.headers["set-cookie"]
        )
    assert client.get("/files", follow_redirects=False).status_code == 303, "not signed in"
    # Sign-out: without the token the session stays.
    sign_in(client)
    assert client.post("/logout", follow_redirects=False).status_code == 403
    assert client.get("/files").status_code == 200
    token = csrf_of(client.get("/files").text)
    assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303


def test_logout_ends_the_session_on_the_server(client):
    sign_in(client)
    stolen = client.cookies[COOKIE]
    token = csrf_of(client.get("/files").text)
    client.post("/logout", data={"csrf_token": token})
    client.cookies.clear()
    replayed = client.get("/api/files", headers={"Cookie": f"{COOKIE}={stolen}"})
    assert replayed.status_code == 401


def test_a_tampered_or_expired_cookie_is_no_session(client, clock, tmp_path):
    sign_in(client)
    good = client.cookies[COOKIE]
    client.cookies.clear()
    kind, session_id, expires, mac = good.split(".")
    flipped = session_id[:-1] + ("A" if session_id[-1] != "A" else "B")
    forged = [
        f"{kind}.{flipped}.{expires}.{mac}",  # another session id under the old signature
        f"{kind}.{session_id}.{int(expires) + 86400}.{mac}",  # a later expiry
        f"a.{session_id}.{expires}.{mac}",  # another kind
        f"{kind}.{session_id}.{expires}.{mac[:-2]}",  # a cut signature
        f"{kind}.{session_id}.{expires}",  # none
    ]
    for cookie in forged:
        response = client.get("/api/files", headers={"Cookie": f"{COOKIE}={cookie}"})
        assert response.status_code == 401, cookie
        assert f'{COOKIE}=""' in response.headers.get("set-cookie", ""), "the bad cookie is cleared"
        html = client.get("/files", headers={"Cookie": f"{COOKIE}={cookie}"}, follow_redirects=False)
        assert html.status_code == 303 and html.headers["location"].startswith("/login")
    # The same cookie signed by another server's key.
    other = Authority(tmp_path / "elsewhere", clock=clock, password_cost=CHEAP)
    resigned = other.signer.cookie("u", session_id, clock() + timedelta(hours=1))
    assert client.get("/api/files", headers={"Cookie": f"{COOKIE}={resigned}"}).status_code == 401
    # The genuine cookie works until its eight hours are up.
    assert client.get("/api/files", headers={"Cookie": f"{COOKIE}={good}"}).status_code == 200
    clock.advance(seconds=SESSION_LIFETIME.total_seconds())
    assert client.get("/api/files", headers={"Cookie": f"{COOKIE}={good}"}).status_code == 401


def test_five_failed_sign_ins_lock_the_account_for_fifteen_minutes(client, app, clock):
    for _ in range(5):
        response = sign_in(client, password="not the password")
        assert response.status_code == 401 and "wrong user name or password" in response.text
    locked = sign_in(client)
    assert locked.status_code == 429 and "too many failed sign-ins" in locked.text
    assert int(locked.headers["retry-after"]) == 15 * 60 + 1
    assert sign_in(client, "mgarcia").status_code == 303, "another account from the same address"
    clock.advance(minutes=14, seconds=59)
    assert sign_in(client).status_code == 429
    clock.advance(seconds=1)
    assert sign_in(client).status_code == 303
    events = app.state.authority.store.events()
    failures = [e for e in events if e.action == "login-failed"]
    assert len(failures) == 5 and {(e.actor, e.subject, e.address) for e in failures} == {
        ("anonymous@testclient", "jlopez", "testclient")
    }
    assert sum(e.action == "login-locked" for e in events) == 2


def test_a_revoked_or_expired_token_stops_at_once(client, app, clock):
    store = app.state.authority.store
    token, secret = store.issue_token(actor="tests", username="jlopez", days=1)
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/files", headers=bearer).status_code == 200
    store.revoke_token(token.token_id, actor="admin")
    refused = client.get("/api/files", headers=bearer)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert client.get("/transparency", headers=bearer).status_code == 401, "a bad token is refused everywhere"
    _, secret = store.issue_token(actor="tests", role="auditor", days=1)
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/files", headers=bearer).status_code == 200
    clock.advance(days=1)
    assert client.get("/api/files", headers=bearer).status_code == 401
    assert client.get("/api/files", headers={"Authorization": "Basic amxvcGV6OnB3"}).status_code == 401


def test_disabling_an_account_ends_its_browser_session(client, app):
    sign_in(client)
    assert client.get("/api/files").status_code == 200
    app.state.authority.store.disable_user("jlopez", actor="admin")
    assert client.get("/api/files").status_code == 401
    assert sign_in(client).status_code == 401


def test_a_page_rendered_for_one_user_is_not_served_to_another(app):
    with TestClient(app) as first, TestClient(app) as second:
        sign_in(first, "jlopez")
        sign_in(second, "mgarcia")
        assert "jlopez (engineer)" in first.get("/files").text
        shown = second.get("/files").text
        assert "mgarcia (quality)" in shown and "jlopez" not in shown
        assert csrf_of(shown) != csrf_of(first.get("/files").text)
