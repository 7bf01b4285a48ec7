"""The dashboard's disposition page (``/disposition``): the queue and every signed step, for the
quality role (declared ``quality``); an engineer is turned away."""

from __future__ import annotations

import hashlib
import json
import shutil

from fastapi.testclient import TestClient

from silicio.auth import AuthStore
from silicio.trace import TraceStore, disposition
from silicio.web import create_app
from tests.auth.conftest import CHEAP, PASSWORD

from .conftest import signed_in


def test_queue_and_history_for_quality_not_engineer(tmp_path, data_dir):
    data = tmp_path / "data"
    shutil.copytree(data_dir, data)
    with AuthStore.at(data, password_cost=CHEAP) as accounts:
        accounts.add_user("qmaria", "quality", PASSWORD, actor="test")
        signer, _ = accounts.login("qmaria", PASSWORD)
    record = {"lot_id": "LOT-A", "holds": [{"lot_id": "LOT-A", "stage": "wafer_sort", "reasons": []}]}
    with TraceStore.at(data) as store:
        for lot in ("LOT-A", "LOT-B"):
            disposition.decide(
                store, lot, "hold", signer, "yield below SYL", record={**record, "lot_id": lot}
            )
        disposition.decide(store, "LOT-A", "review", signer, "reviewed")
        disposition.decide(store, "LOT-A", "release", signer, "contained", capa={"id": "8D-1", "text": "fix"})
    with TestClient(create_app(data)) as client:
        page = signed_in(client, "quality").get("/api/disposition")
        assert page.status_code == 200, page.text
        body = page.json()
        assert [r["lot_id"] for r in body["queue"]] == ["LOT-B"]
        assert [(s["lot_id"], s["step"]) for s in body["steps"]] == [
            ("LOT-A", "release"),
            ("LOT-A", "review"),
            ("LOT-B", "hold"),
            ("LOT-A", "hold"),
        ]
        release = body["steps"][0]
        assert release["signed_by"] == "qmaria" and release["capa"] == "8D-1: fix"
        hold_a = {**record, "lot_id": "LOT-A"}
        digest = hashlib.sha256(
            json.dumps(hold_a, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
        with TraceStore.at(data) as store:
            assert disposition.history(store, "LOT-A")[-1].record_sha256 == digest
        html = client.get("/disposition")
        assert html.status_code == 200 and "LOT-B" in html.text and "8D-1: fix" in html.text
        assert signed_in(client, "engineer").get("/api/disposition").status_code == 403
