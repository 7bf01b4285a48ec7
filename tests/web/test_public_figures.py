"""What the public pages disclose: the transparency page shows no count below 3 (a count of 1 or 2
points at one or two firms) and none of the registry's codes; the public verify page shows no
price, cost, quantity, yield or customer of a certificate (the stored one or one uploaded), while
its check still covers every field; a supplier's edit with an out-of-range number is refused."""

from __future__ import annotations

import json
import shutil

import pytest
from fastapi.testclient import TestClient

from silicio import supply, trace
from silicio.datadir import DataDir
from silicio.supply.transparency import COUNT_GROUPS
from silicio.web import create_app

from .test_trace_pages import trace_data_dir  # noqa: F401  (the fixture)

#: The registry's group keys and codes, none of which the public page may show.
CODES = ("organisations_by_country", "local_by_", "local_with_valid_certification", "atp_osat", "hs_code:")
#: The transparency page's count data sets.
COUNT_SETS = ("by_state", "by_size", "by_capability", "by_kind")
#: Signed figures of an origin certificate that are prices, costs or amounts.
PRICE_FIELDS = ("usmca.tv", "usmca.nc", "usmca.vnm", "national_content.domestic_value",
                "national_content.total_value")  # fmt: skip


@pytest.fixture(scope="module")
def public_dir(tmp_path_factory, trace_data_dir):  # noqa: F811
    copy = tmp_path_factory.mktemp("public-lake") / "data"
    shutil.copytree(trace_data_dir, copy)
    return copy


@pytest.fixture(scope="module")
def public_client(public_dir):
    """An anonymous visitor (the public pages are for everyone), or anyone with their own headers."""
    with TestClient(create_app(public_dir)) as client:
        yield client


@pytest.fixture(scope="module")
def staff(public_client) -> dict[str, str]:
    """The headers of an admin's requests."""
    _, secret = public_client.app.state.authority.store.issue_token(actor="tests", role="admin")
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def summary(public_dir):
    """public_summary computed here, as the page's reference."""
    paths = DataDir(public_dir)
    plan = json.loads(paths.supply_plan.read_text())
    with trace.TraceStore.at(public_dir) as store:
        md = store.load_master_data()
    import datetime as dt

    return supply.public_summary(supply.read_json(paths.supplier_registry), md, plan["demand"],
                                 as_of=dt.date.fromisoformat(plan["as_of"]))  # fmt: skip


def test_transparency_shows_no_count_below_three(public_client, summary):
    page = public_client.get("/api/transparency").json()
    small = sum(1 for group in COUNT_GROUPS for n in summary[group].values() if n < 3)
    assert small >= 10, "the demo ecosystem has many groups of one or two firms: the test needs them"
    rows = [row for name in COUNT_SETS for row in page[name]]
    assert rows and all(row["organisations"] >= 3 for row in rows), (
        "a group, or a pool of groups, of 3 or more"
    )
    assert any(row["pooled"] for row in rows) and page["left_out"], "small groups pooled, or left out"
    assert page["organisations"] == summary["organisations"] >= 3
    for name in COUNT_SETS:
        lines = public_client.get(f"/api/transparency/{name}.csv").text.splitlines()[1:]
        assert len(lines) == len(page[name]), name
    html = public_client.get("/transparency").text
    assert "of fewer than 3 organisations are not shown" in html


def test_transparency_shows_no_internal_key(public_client):
    urls = ["/transparency", "/api/transparency"] + [f"/api/transparency/{name}.csv" for name in COUNT_SETS]
    for url in urls:
        body = public_client.get(url).text
        for code in CODES:
            assert code not in body, (url, code)


def _origin_certificate(public_dir) -> dict:
    with trace.TraceStore.at(public_dir) as store:
        cert_id = next(c["cert_id"] for c in store.certificates() if c["kind"] == "origin")
        return store.certificate(cert_id)


def test_public_verify_page_shows_no_price_or_cost(public_client, public_dir):
    document = _origin_certificate(public_dir)
    content = document["certificate"]
    cert_id = content["id"]
    secrets = [repr(content["usmca"][k]) for k in ("tv", "nc", "vnm")]
    secrets += [repr(content["national_content"][k]) for k in ("domestic_value", "total_value")]
    secrets += [content["minimum_data_elements"]["importer"]["name"]]
    answers = {
        "page": public_client.get(f"/verify/{cert_id}"),
        "api": public_client.get(f"/api/verify/{cert_id}"),
        "csv": public_client.get(f"/api/verify/{cert_id}/fields.csv"),
        "upload": public_client.post("/api/verify", content=json.dumps(document)),
    }
    for name, answer in answers.items():
        assert answer.status_code == 200, (name, answer.text[:300])
        for secret in secrets:
            assert secret not in answer.text, (name, secret)
    for name in ("api", "upload"):
        page = answers[name].json()
        assert page["verification"]["ok"] is True, "the check still covers every field"
        fields = {row["field"] for row in page["fields"]}
        assert not fields & set(PRICE_FIELDS) and not any("importer" in f for f in fields)
        assert {"id", "part_number", "usmca.originating", "minimum_data_elements.origin_criterion"} <= fields
    # A price changed in the upload is still caught, though it is not shown.
    content["usmca"]["tv"] = content["usmca"]["tv"] * 2
    tampered = public_client.post("/api/verify", content=json.dumps(document)).json()
    assert tampered["verification"]["ok"] is False


def test_internal_certificate_page_still_shows_everything(public_client, public_dir, staff):
    cert_id = _origin_certificate(public_dir)["certificate"]["id"]
    page = public_client.get(f"/api/certificates/{cert_id}", headers=staff).json()
    fields = {row["field"] for row in page["fields"]}
    assert set(PRICE_FIELDS) <= fields


@pytest.mark.parametrize(
    "body",
    [
        {"certificate": 5, "signature": "x"},
        [1, 2],
        "a string",
    ],
)
def test_a_malformed_upload_is_a_422(public_client, body):
    answer = public_client.post("/api/verify", content=json.dumps(body))
    assert answer.status_code == 422, answer.text[:300]
    assert "certificate" in answer.json()["detail"]


def test_an_upload_of_odd_types_is_checked_and_invalid(public_client):
    body = {"certificate": {"type": ["origin"], "issued_at": 5, "subject": {"a": 1}}, "signature": {}}
    answer = public_client.post("/api/verify", content=json.dumps(body))
    assert answer.status_code == 200 and answer.json()["verification"]["ok"] is False


# ------------------------------------------------------------------------------------------------
# A supplier's edits


@pytest.fixture(scope="module")
def supplier(public_dir):
    """(org_id, token) of a supplier account."""
    token, org_id = next(iter(json.loads(DataDir(public_dir).supplier_tokens.read_text()).items()))
    return org_id, token


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"employees": 1e30}, "employees: expected a whole number from 0 to 10,000,000"),
        ({"employees": 10**30}, "employees: expected a whole number from 0 to 10,000,000"),
        ({"employees": -1}, "employees: expected a whole number"),
        ({"employees": "12abc"}, "employees: expected a whole number"),
        ({"employees": 2.5}, "employees: expected a whole number"),
        ({"name": ["a"]}, "name: expected text"),
        ({"name": "x" * 1000}, "name: expected at most 200 printable characters"),
        ({"state": "a\x00b"}, "state: expected at most 200 printable characters"),
    ],
)
def test_supplier_numbers_out_of_range_are_refused(public_client, public_dir, supplier, body, words):
    org_id, token = supplier
    before = DataDir(public_dir).supplier_registry.read_bytes()
    answer = public_client.post(f"/api/supplier/{org_id}/organisation", json=body,
                                headers={"X-Silicio-Token": token})  # fmt: skip
    assert answer.status_code == 422 and words in answer.json()["detail"], answer.text[:300]
    assert DataDir(public_dir).supplier_registry.read_bytes() == before, "nothing written"


def test_supplier_form_with_1e30_is_refused(public_client, supplier):
    org_id, token = supplier
    answer = public_client.post(f"/supplier/{org_id}/organisation", content=b"employees=1e30",
                                headers={"X-Silicio-Token": token,
                                         "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert answer.status_code == 422 and "employees: expected a whole number" in answer.text


def test_supplier_edit_in_range_is_kept(public_client, public_dir, supplier):
    org_id, token = supplier
    answer = public_client.post(f"/api/supplier/{org_id}/organisation", json={"employees": "42"},
                                headers={"X-Silicio-Token": token})  # fmt: skip
    assert answer.status_code == 201 and answer.json()["payload"] == {"employees": 42}, answer.text[:300]
    # A proposal: kept once the quality staff approve it (silicio.web.supplier_pages).
    _, secret = public_client.app.state.authority.store.issue_token(actor="tests", role="quality")
    approved = public_client.post(f"/api/supply/review/{answer.json()['id']}/approve",
                                  headers={"Authorization": f"Bearer {secret}"})  # fmt: skip
    assert approved.status_code == 200, approved.text[:300]
    registry = supply.read_json(DataDir(public_dir).supplier_registry)
    row = registry.organisations.filter(registry.organisations["org_id"] == org_id).row(0, named=True)
    assert row["employees"] == 42
