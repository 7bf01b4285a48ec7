"""The dashboard inbox (/alerts, declared ``internal``): a user sees the alerts sent to them by
name or by role, acknowledges one (recorded with their name), and cannot acknowledge another's;
a supplier is turned away."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from silicio.auth import AuthStore, PasswordCost
from silicio.lake.catalog import Catalog
from silicio.lake.queries import alerts as queries
from silicio.web import create_app

PASSWORD = "correct horse battery staple"


def _alert(engine, title, recipients):
    (alert_id,) = queries.insert_alerts(engine, [{
        "rule": "syl", "kind": "yield_below_syl", "subject": title, "severity": "major", "title": title,
        "detail": {}, "fingerprint": "0" * 64, "product": "P", "lot": "L1", "stage": "wafer_sort",
        "recipients": recipients, "raised_at": datetime(2026, 1, 5, tzinfo=UTC), "actor": "ingest"}])  # fmt: skip
    return alert_id


def test_inbox_shows_mine_and_records_who_acknowledged(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with AuthStore.at(data, password_cost=PasswordCost(iterations=1, lanes=1, memory_kib=8)) as accounts:
        accounts.add_user("qmaria", "quality", PASSWORD, actor="test")
        accounts.add_user("eana", "engineer", PASSWORD, actor="test")
        _, maria = accounts.issue_token(actor="test", username="qmaria")
        _, ana = accounts.issue_token(actor="test", username="eana")
        _, supplier = accounts.issue_token(actor="test", role="supplier", organisation="ORG1")
    with Catalog(f"sqlite:///{data / 'catalog.sqlite'}") as catalog:
        by_role = _alert(catalog.engine, "for quality", {"users": [], "roles": ["quality"]})
        by_name = _alert(catalog.engine, "for eana", {"users": ["eana"], "roles": []})
    with TestClient(create_app(data)) as client:
        client.headers["Authorization"] = f"Bearer {maria}"
        page = client.get("/api/alerts").json()
        assert [a["title"] for a in page["alerts"]] == ["for quality"] and page["open"] == 1
        html = client.get("/alerts").text
        assert "for quality" in html and "for eana" not in html
        assert client.post(f"/api/alerts/{by_name}/ack").status_code == 404  # not hers
        done = client.post(f"/api/alerts/{by_role}/ack")
        assert done.status_code == 200 and done.json() == {"alert_id": by_role, "acknowledged_by": "qmaria",
                                                           "new": True}  # fmt: skip
        assert client.get("/api/alerts").json()["open"] == 0
        client.headers["Authorization"] = f"Bearer {ana}"
        assert [a["title"] for a in client.get("/api/alerts").json()["alerts"]] == ["for eana"]
        client.headers["Authorization"] = f"Bearer {supplier}"
        assert client.get("/api/alerts").status_code == 403
    with Catalog(f"sqlite:///{data / 'catalog.sqlite'}") as catalog:
        (ack,) = queries.acknowledgements(catalog.engine)
    assert (ack["alert_id"], ack["username"]) == (by_role, "qmaria")
