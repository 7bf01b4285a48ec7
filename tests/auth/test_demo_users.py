"""The demo's accounts: one per role, made once with passwords that work; a second run makes none
and keeps the first passwords."""

from __future__ import annotations

from silicio.auth import AuthStore
from silicio.web.demo import DEMO_SUPPLIER_ORG, demo_users

from .conftest import CHEAP


def test_one_account_per_role_made_once(tmp_path):
    data = tmp_path / "data"
    made = demo_users(data, password_cost=CHEAP)
    assert {role for role, _ in made.values()} == {"admin", "engineer", "quality", "auditor", "supplier"}
    assert len({password for _, password in made.values()}) == 5
    assert demo_users(data, password_cost=CHEAP) == {}
    with AuthStore.at(data) as store:
        for name, (role, password) in made.items():
            principal, _ = store.login(name, password)
            assert principal.role == role
            assert principal.organisation == (DEMO_SUPPLIER_ORG if role == "supplier" else None)
        assert {e.actor for e in store.events() if e.action == "user-added"} == {"demo"}


def test_serve_demo_prints_the_passwords_once_on_the_console(tmp_path, capsys):
    from silicio.cli.web import _print_demo_accounts

    data = tmp_path / "data"
    made = demo_users(data, password_cost=CHEAP)
    _print_demo_accounts(made, data)
    first = capsys.readouterr().out
    assert all(f"{name} ({role}): {password}" in first for name, (role, password) in made.items())
    _print_demo_accounts(demo_users(data, password_cost=CHEAP), data)
    again = capsys.readouterr().out
    assert not any(password in again for _, password in made.values())
    assert "silicio users password NAME" in again
    assert not any(password in p.read_text(errors="replace") for p in data.rglob("*") if p.is_file()
                   for _, password in made.values())  # fmt: skip
