"""The trace, origin and certificate pages and their JSON twins: numbers as silicio.trace and
silicio.origin compute them, CSVs of every table, clear 404 / 422 answers, and certificates that
verify until a field is changed."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from silicio import origin, trace
from silicio.web import create_app
from silicio.web.demo import load_trace_demo

from .conftest import signed_in


@pytest.fixture(scope="session")
def trace_data_dir(tmp_path_factory, data_dir) -> Path:
    """The test lake with the trace demo loaded: master data, genealogy, keys, certificates, suppliers."""
    copy = tmp_path_factory.mktemp("trace-lake") / "data"
    shutil.copytree(data_dir, copy)
    load_trace_demo(copy)
    return copy


@pytest.fixture(scope="module")
def trace_client(trace_data_dir):
    with TestClient(create_app(trace_data_dir)) as client:
        signed_in(client)
        yield client


@pytest.fixture(scope="module")
def store(trace_data_dir):
    with trace.TraceStore.at(trace_data_dir) as opened:
        yield opened


def csv_rows(client, url: str) -> list[dict]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def first_lot(store) -> str:
    graph = store.genealogy()
    return sorted(graph.names[graph.kinds == graph.kind_code("lot")].tolist())[0]


def test_demo_load_is_idempotent(trace_data_dir, store):
    before = (store.audit_head(), len(store.certificates()))
    assert load_trace_demo(trace_data_dir) == {"lots": 0, "certificates": 0}
    assert (store.audit_head(), len(store.certificates())) == before


def test_forward_backward_and_recall_match_the_trace_api(trace_client, store):
    lot = first_lot(store)
    expected = trace.forward(store, "lot", lot)
    page = trace_client.get("/api/trace", params={"direction": "forward", "kind": "lot", "name": lot}).json()
    assert {c["kind"]: c["count"] for c in page["counts"]} == expected["counts"]
    assert [(s["shipment"], s["units"]) for s in page["shipments"]] == [
        (s["shipment"], s["units"]) for s in expected["shipments"]
    ]
    assert page["query"]["units"] == expected["counts"]["unit"]
    html = trace_client.get("/trace", params={"direction": "forward", "kind": "lot", "name": lot}).text
    assert f'data-stat="units">{expected["counts"]["unit"]:,}<' in html
    rows = csv_rows(trace_client, f"/api/trace/shipments.csv?direction=forward&kind=lot&name={lot}")
    assert [int(r["units"]) for r in rows] == [s["units"] for s in expected["shipments"]]

    shipment = expected["shipments"][0]["shipment"]
    back = trace_client.get(
        "/api/trace", params={"direction": "backward", "kind": "shipment", "name": shipment}
    )
    assert {c["kind"]: c["count"] for c in back.json()["counts"]} == trace.backward(
        store, "shipment", shipment)["counts"]  # fmt: skip

    wafer = expected["nodes"]["wafer"][0]
    scope = trace.recall_scope(store, [("wafer", wafer)])
    recall = trace_client.get("/api/trace/recall", params={"suspect": f"wafer:{wafer}"}).json()
    assert recall["query"]["units"] == scope["units"]
    assert [(c["customer"], c["units"]) for c in recall["customers"]] == [
        (c["customer"], c["units"]) for c in scope["customers"]
    ]
    assert trace_client.get("/trace/recall", params={"suspect": f"wafer:{wafer}"}).status_code == 200


def test_trace_errors_name_what_is_wrong(trace_client):
    missing = trace_client.get("/api/trace", params={"direction": "forward", "kind": "lot", "name": "NO-LOT"})
    assert missing.status_code == 404 and "no lot 'NO-LOT'" in missing.json()["detail"]
    kind = trace_client.get("/api/trace", params={"direction": "forward", "kind": "planet", "name": "x"})
    assert kind.status_code == 422 and "planet" in kind.json()["detail"]
    direction = trace_client.get("/trace", params={"direction": "up", "kind": "lot", "name": "x"})
    assert direction.status_code == 422 and "direction must be" in direction.text
    bad = trace_client.get("/api/trace/recall", params={"suspect": "no-colon"})
    assert bad.status_code == 422 and "expected kind:name" in bad.json()["detail"]
    assert trace_client.get("/api/trace/recall").status_code == 422
    table = trace_client.get("/api/trace/nothing.csv")
    assert table.status_code == 404 and "no table 'nothing'" in table.json()["detail"]


def test_audit_status_and_operator_flags(trace_client, store):
    page = trace_client.get("/api/trace").json()
    report = store.verify_audit()
    assert page["audit"]["ok"] is report.ok is True
    assert page["audit"]["entries"] == report.entries
    assert page["audit"]["head_hash"] == report.head_hash
    assert len(page["operator_flags"]) == len(trace.operator_flags(store))
    assert "intact" in trace_client.get("/trace").text


def test_origin_pages_show_the_origin_report(trace_client, store):
    md = store.load_master_data()
    page = trace_client.get("/api/origin").json()
    assert {p["part_number"] for p in page["products"]} == {p.part_number for p in md.products.values()}
    for row in page["products"]:
        report = origin.origin_report(md.product(row["part_number"]), md.sites)
        assert row["national_content_pct"] == pytest.approx(report["national_content"]["pct"])
        assert row["rvc_tv_pct"] == pytest.approx(report["usmca"]["rvc_tv_pct"])
        assert row["rvc_nc_pct"] == pytest.approx(report["usmca"]["rvc_nc_pct"])
        assert row["usmca_originating"] == report["usmca"]["originating"]
        assert row["usmca_criterion"] == report["usmca"]["criterion"]
        assert row["hecho_en_mexico"] == report["hecho_en_mexico"]["qualifies"]
        detail = trace_client.get(f"/api/origin/{row['part_number']}").json()
        assert [d["country"] for d in detail["import_dependence"]] == [
            d["country"] for d in report["national_content"]["import_dependence"]
        ]
        assert detail["hecho_en_mexico"]["reasons"] == report["hecho_en_mexico"]["reasons"]
        html = trace_client.get(f"/origin/{row['part_number']}").text
        assert report["hecho_en_mexico"]["reasons"][0].replace(">", "&gt;").replace("<", "&lt;") in html
    assert len(csv_rows(trace_client, "/api/origin/products.csv")) == len(page["products"])
    missing = trace_client.get("/origin/NO-SUCH-PART")
    assert missing.status_code == 404 and "no product &#39;NO-SUCH-PART&#39;" in missing.text


def test_certificates_verify_and_tampering_is_named(trace_client, store):
    listed = trace_client.get("/api/certificates").json()
    assert listed["public_key"] is True
    assert [c["cert_id"] for c in listed["certificates"]] == [c["cert_id"] for c in store.certificates()]
    assert {c["kind"] for c in listed["certificates"]} == {"conformance", "origin"}
    cert_id = listed["certificates"][0]["cert_id"]
    page = trace_client.get(f"/api/certificates/{cert_id}").json()
    assert page["verification"]["ok"] is True and page["document"] == store.certificate(cert_id)
    assert "VALID" in trace_client.get(f"/verify/{cert_id}").text
    public = trace_client.get(f"/api/verify/{cert_id}").json()
    assert public["verification"]["ok"] is True and "document" not in public  # no signature internals
    pdf = trace_client.get(f"/certificates/{cert_id}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    document = store.certificate(cert_id)
    assert trace_client.post("/api/verify", content=json.dumps(document)).json()["verification"]["ok"] is True
    document["certificate"]["subject"] = "another lot"
    tampered = trace_client.post("/api/verify", content=json.dumps(document)).json()["verification"]
    assert tampered["ok"] is False and "subject" in tampered["problems"][0]
    for body, why in ((b"", "no certificate"), (b"{not json", "not a JSON certificate"),
                      (b'{"a": 1}', "not a silicio certificate")):  # fmt: skip
        answer = trace_client.post("/api/verify", content=body)
        assert answer.status_code == 422 and why in answer.json()["detail"]
    assert trace_client.get("/verify/COC-NOPE").status_code == 404
    assert "no certificate 'COC-NOPE'" in trace_client.get("/api/certificates/COC-NOPE").json()["detail"]
