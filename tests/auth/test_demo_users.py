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
