"""An account's own language: set on /account (a form with its CSRF token, logged with the account
as actor), then the language of every page it opens: ?lang= first, then the account's, then the
cookie a past ?lang= left, then the browser's Accept-Language."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from silicio.i18n import choose_language
from silicio.web import create_app
from silicio.web.i18n import LANGUAGE_COOKIE
from silicio.web.login import Authority
from tests.auth.conftest import CHEAP, PASSWORD, Clock

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def client(tmp_path):
    authority = Authority(tmp_path / "data", clock=Clock(), password_cost=CHEAP)
    authority.store.add_user("jlopez", "engineer", PASSWORD, actor="tests")
    with TestClient(create_app(tmp_path / "data", authority=authority)) as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client) -> None:
    token = csrf_of(client.get("/login").text)
    signed = client.post("/login", data={"username": "jlopez", "password": PASSWORD, "csrf_token": token},
                         follow_redirects=False)  # fmt: skip
    assert signed.status_code == 303


def html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.text).group(1)


def test_the_order_of_the_choices():
    # ?lang= > account > cookie > Accept-Language > English.
    assert choose_language("en", "es", "es", account="es") == "en"
    assert choose_language(None, "en", "en", account="es") == "es"
    assert choose_language(None, "es", "en", account=None) == "es"
    assert choose_language(None, None, "es-MX", account="xx") == "es"
    assert choose_language(None, None, None, account=None) == "en"


def test_the_account_page_sets_the_language_of_every_page(client):
    sign_in(client)
    english = {"Accept-Language": "en-US"}
    page = client.get("/account", headers=english)
    assert page.status_code == 200 and html_lang(page) == "en"
    assert '<option value="" selected>' in page.text  # no preference yet
    token = csrf_of(page.text)

    forged = client.post("/account/language", headers=FORM, content=b"language=es", follow_redirects=False)
    assert forged.status_code == 403 and "security token" in forged.text
    store = client.app.state.authority.store
    assert store.user("jlopez").language is None

    saved = client.post("/account/language", headers=FORM, content=f"language=es&csrf_token={token}".encode(),
                        follow_redirects=False)  # fmt: skip
    assert saved.status_code == 303 and saved.headers["location"] == "/account"
    assert store.user("jlopez").language == "es"
    event = [e for e in store.events() if e.action == "language-set"][-1]
    assert (event.actor, event.subject, event.detail) == ("jlopez", "jlopez", "language=es")

    # The account's Spanish over the browser's English and over a cookie that remembers English...
    client.cookies.set(LANGUAGE_COOKIE, "en")
    assert html_lang(client.get("/account", headers=english)) == "es-MX"
    assert '<option value="es" lang="es" selected>' in client.get("/account").text
    # ... and ?lang= over the account, for the page that asks.
    assert html_lang(client.get("/account?lang=en", headers=english)) == "en"

    bad = client.post("/account/language", headers=FORM, follow_redirects=False,
                      content=f"language=fr&csrf_token={token}".encode())  # fmt: skip
    assert bad.status_code == 400 and "language &#39;fr&#39;: expected one of en, es" in bad.text
    cleared = client.post("/account/language", headers=FORM, follow_redirects=False,
                          content=f"language=&csrf_token={token}".encode())  # fmt: skip
    assert cleared.status_code == 303 and store.user("jlopez").language is None
    client.cookies.delete(LANGUAGE_COOKIE)
    assert html_lang(client.get("/account", headers=english)) == "en"


def test_a_token_of_no_account_has_no_language_to_set(client):
    _, secret = client.app.state.authority.store.issue_token(actor="tests", role="engineer")
    bearer = {"Authorization": f"Bearer {secret}"}
    page = client.get("/account", headers=bearer)
    assert page.status_code == 200 and "API token of no account" in page.text
    refused = client.post("/account/language", headers={**bearer, **FORM}, content=b"language=es")
    assert refused.status_code == 422 and "belongs to no account" in refused.text
    # A token of the account acts as the account: its language too.
    client.app.state.authority.store.set_language("jlopez", "es", actor="tests")
    _, own = client.app.state.authority.store.issue_token(actor="tests", username="jlopez")
    assert html_lang(client.get("/account", headers={"Authorization": f"Bearer {own}"})) == "es-MX"
