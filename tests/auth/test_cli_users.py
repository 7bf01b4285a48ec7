"""``silicio users``: accounts and tokens from the command line; a password or token secret is
printed once and works; every change is logged with the actor; bad requests are one line, exit 2."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from silicio.auth import AuthStore
from silicio.cli import app


@pytest.fixture
def data(tmp_path):
    return tmp_path / "data"


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(app, list(args), input=stdin, env={"COLUMNS": "200"})


def shown_once(output: str, label: str) -> str:
    found = re.findall(rf"{label} \(shown once\): (\S+)", output)
    assert len(found) == 1, output
    return found[0]


def test_add_list_disable_and_a_new_password(data):
    added = run("users", "add", "jlopez", "--role", "quality", "--data", str(data), "--actor", "root")
    assert added.exit_code == 0, added.output
    password = shown_once(added.output, "password")
    with AuthStore.at(data) as store:
        assert store.login("jlopez", password)[0].role == "quality"
    piped = run("users", "add", "acme-clerk", "--role", "supplier", "--org", "acme", "--password-stdin",
                "--data", str(data), stdin="a passphrase from a file\n")  # fmt: skip
    assert piped.exit_code == 0 and "shown once" not in piped.output
    listed = run("users", "list", "--json", "--data", str(data))
    rows = __import__("json").loads(listed.output)
    assert [(r["username"], r["role"], r["organisation"], r["active"]) for r in rows] == [
        ("acme-clerk", "supplier", "acme", True), ("jlopez", "quality", None, True)]  # fmt: skip
    assert rows[1]["created_by"] == "root" and rows[0]["created_by"].startswith("cli")

    changed = run("users", "password", "jlopez", "--data", str(data))
    new_password = shown_once(changed.output, "password")
    assert run("users", "disable", "acme-clerk", "--data", str(data)).exit_code == 0
    with AuthStore.at(data) as store:
        assert store.login("jlopez", new_password)[0].username == "jlopez"
        assert not store.user("acme-clerk").active
        actions = [(e.action, e.subject) for e in store.events()]
    assert ("password-set", "jlopez") in actions and ("user-disabled", "acme-clerk") in actions


def test_tokens_issued_listed_and_revoked(data):
    run("users", "add", "jlopez", "--role", "engineer", "--data", str(data))
    issued = run(
        "users",
        "token",
        "issue",
        "--user",
        "jlopez",
        "--days",
        "7",
        "--label",
        "nightly",
        "--data",
        str(data),
    )
    assert issued.exit_code == 0, issued.output
    secret = shown_once(issued.output, "secret")
    token_id = re.search(r"issued (tok_\w+)", issued.output).group(1)
    with AuthStore.at(data) as store:
        assert store.authenticate_token(secret).username == "jlopez"
    listed = __import__("json").loads(run("users", "token", "list", "--json", "--data", str(data)).output)
    assert [(t["token_id"], t["state"], t["label"]) for t in listed] == [(token_id, "active", "nightly")]
    assert secret not in run("users", "token", "list", "--data", str(data)).output
    assert run("users", "token", "revoke", token_id, "--data", str(data)).exit_code == 0
    with AuthStore.at(data) as store:
        assert store.authenticate_token(secret) is None
    listed = __import__("json").loads(run("users", "token", "list", "--json", "--data", str(data)).output)
    assert listed[0]["state"] == "revoked"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("users", "add", "x y", "--role", "admin"), "user name"),
        (("users", "add", "acme", "--role", "supplier"), "give its org id"),
        (("users", "add", "boss", "--role", "owner"), "expected one of admin"),
        (("users", "disable", "nobody"), "no user 'nobody'"),
        (("users", "token", "issue"), "a user (--user) or a role"),
        (("users", "token", "revoke", "tok_nope"), "no token 'tok_nope'"),
    ],
)
def test_bad_requests_are_one_line(data, args, message):
    data.mkdir(parents=True)
    result = run(*args, "--data", str(data))
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_a_missing_data_directory_is_named(tmp_path):
    result = run("users", "list", "--data", str(tmp_path / "nowhere"))
    assert result.exit_code == 2 and "no such data directory" in result.output


def test_an_account_s_language(data):
    run("users", "add", "jlopez", "--role", "engineer", "--data", str(data))
    assert run("users", "language", "jlopez", "es-MX", "--data", str(data), "--actor", "root").exit_code == 0
    rows = __import__("json").loads(run("users", "list", "--json", "--data", str(data)).output)
    assert [(r["username"], r["language"]) for r in rows] == [("jlopez", "es")]
    cleared = run("users", "language", "jlopez", "none", "--data", str(data))
    assert cleared.exit_code == 0 and "none" in cleared.output
    refused = run("users", "language", "jlopez", "klingon", "--data", str(data))
    assert refused.exit_code == 2 and "language 'klingon': expected one of en, es" in refused.output
    with AuthStore.at(data) as store:
        assert store.user("jlopez").language is None
        logged = [(e.actor, e.detail) for e in store.events() if e.action == "language-set"]
    assert logged[0] == ("root", "language=es") and logged[1][1] == "language=none"
    assert logged[1][0].startswith("cli")
