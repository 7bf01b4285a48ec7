"""The supplier portal's proposals and their review: a supplier proposes a capacity, a
certification with its file, a lead time and survey answers; another supplier neither sees nor
changes them; the quality staff approve some and reject another with a reason; only the approved
reach the registry the supply models read; every step is in the audit chain with its actor; and
the navigation bar shows each kind of viewer only its own pages."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil

import polars as pl
import pytest
from fastapi.testclient import TestClient

from silicio import supply, trace
from silicio.datadir import DataDir
from silicio.supply.proposals import MAX_FILE_BYTES
from silicio.web import create_app
from silicio.web.access import SUPPLIER_COOKIE, SUPPLIER_HEADER

from .test_trace_pages import trace_data_dir  # noqa: F401  (the fixture)

SUPPLIER = "mpz"  # a small materials supplier of the demo, with one site
OTHER = "eeo"
#: A PDF as a certificate file is: its signature, then bytes of every value (CR LF included).
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\r\n%%EOF\r\n"


@pytest.fixture(scope="module")
def portal_dir(tmp_path_factory, trace_data_dir):  # noqa: F811
    copy = tmp_path_factory.mktemp("portal-lake") / "data"
    shutil.copytree(trace_data_dir, copy)
    return copy


@pytest.fixture(scope="module")
def client(portal_dir):
    with TestClient(create_app(portal_dir)) as test_client:
        yield test_client


def _token(client, role: str, organisation: str | None = None) -> tuple[dict[str, str], str]:
    """Headers of a new API token of ``role``, and the actor its writes are logged as."""
    record, secret = client.app.state.authority.store.issue_token(
        actor="tests", role=role, organisation=organisation
    )
    return {"Authorization": f"Bearer {secret}"}, f"token:{record.token_id}"


def _portal_token(portal_dir, org_id: str) -> str:
    tokens = json.loads(DataDir(portal_dir).supplier_tokens.read_text())
    return next(t for t, org in tokens.items() if org == org_id)


def _registry(portal_dir) -> supply.Registry:
    return supply.read_json(DataDir(portal_dir).supplier_registry)


def _certification_form(file: bytes, name: str = "iso9001.pdf", **changes) -> dict:
    fields = {"standard": "ISO 9001", "issuer": "Bureau Veritas México", "certificate": "MX-9001-4471",
              "issued": "2025-03-01", "expires": "2028-02-28", **changes}  # fmt: skip
    return {"data": fields, "files": {"file": (name, file, "application/pdf")}}


def test_proposals_are_reviewed_before_they_reach_the_registry(client, portal_dir):
    mine = {SUPPLIER_HEADER: _portal_token(portal_dir, SUPPLIER)}
    other = {SUPPLIER_HEADER: _portal_token(portal_dir, OTHER)}
    quality, reviewer = _token(client, "quality")
    auditor, _ = _token(client, "auditor")
    before = _registry(portal_dir)
    registry_bytes = DataDir(portal_dir).supplier_registry.read_bytes()
    site = before.sites.filter(pl.col("org_id") == SUPPLIER).row(0, named=True)
    capability = before.capabilities.filter(pl.col("org_id") == SUPPLIER).row(0, named=True)
    key = {"site_id": capability["site_id"], "type": capability["type"], "value": capability["value"]}
    # The certificate it renews (the same standard and site).
    held = before.certifications.filter((pl.col("org_id") == SUPPLIER) & (pl.col("standard") == "ISO 9001"))
    held = held.row(0, named=True) if held.height else {"site_id": None, "certificate": None}

    sent = {
        "capacity": client.post(f"/api/supplier/{SUPPLIER}/proposals/capacity", headers=mine,
                                json={**key, "capacity_per_week": "123.5", "unit": "g"}),
        "lead_time": client.post(f"/api/supplier/{SUPPLIER}/proposals/lead_time", headers=mine,
                                 json={**key, "lead_time_weeks": 9}),
        "certification": client.post(f"/api/supplier/{SUPPLIER}/proposals/certification", headers=mine,
                                     **_certification_form(PDF, site_id=held["site_id"] or "")),
        "survey": client.post(f"/api/supplier/{SUPPLIER}/proposals/survey", headers=mine,
                              json={"employees": 52, f"ttr_weeks.{site['site_id']}": 7}),
    }  # fmt: skip
    for kind, response in sent.items():
        assert response.status_code == 201, (kind, response.text)
        assert (
            response.json()["status"] == "pending"
            and response.json()["proposed_by"] == f"supplier:{SUPPLIER}"
        )
    ids = {kind: response.json()["id"] for kind, response in sent.items()}
    # Pending: the registry file is as it was.
    assert DataDir(portal_dir).supplier_registry.read_bytes() == registry_bytes

    # The file is kept under the data directory by its SHA-256, and served back to its supplier.
    digest = hashlib.sha256(PDF).hexdigest()
    assert sent["certification"].json()["file_sha256"] == digest
    assert (DataDir(portal_dir).supply / "files" / digest).read_bytes() == PDF
    file_url = f"/supplier/{SUPPLIER}/proposals/{ids['certification']}/file"
    served = client.get(file_url, headers=mine)
    assert served.status_code == 200 and served.content == PDF
    assert served.headers["content-type"] == "application/pdf"

    # The supplier's portal lists its four proposals; another supplier sees and changes none of them.
    portal = client.get(f"/api/supplier/{SUPPLIER}", headers=mine).json()
    assert sorted(p["id"] for p in portal["proposals"]) == sorted(ids.values())
    assert client.get(f"/api/supplier/{SUPPLIER}", headers=other).status_code == 403
    assert client.get(file_url, headers=other).status_code == 403
    assert (
        client.get(f"/supplier/{OTHER}/proposals/{ids['certification']}/file", headers=other).status_code
        == 404
    )
    assert client.post(f"/api/supplier/{SUPPLIER}/proposals/lead_time", headers=other,
                       json={**key, "lead_time_weeks": 1}).status_code == 403  # fmt: skip
    assert client.post(f"/api/supply/review/{ids['capacity']}/approve", headers=other).status_code == 403
    assert client.get(f"/supply/review/{ids['certification']}/file", headers=other).status_code == 403
    assert client.get(f"/api/supplier/{OTHER}", headers=other).json()["proposals"] == []
    # ...nor its site through a proposal of its own.
    foreign = client.post(f"/api/supplier/{OTHER}/proposals/lead_time", headers=other,
                          json={**key, "lead_time_weeks": 1})  # fmt: skip
    assert foreign.status_code == 422 and site["site_id"] in foreign.json()["detail"]

    # The staff's queue, oldest first; the file is theirs to read too.
    queue = client.get("/api/supply/review", headers=quality).json()
    assert [p["id"] for p in queue["pending"]] == sorted(ids.values()) and queue["pending_count"] == 4
    assert client.get(f"/supply/review/{ids['certification']}/file", headers=quality).content == PDF
    # An auditor reads the queue, does not decide.
    assert client.get("/api/supply/review", headers=auditor).status_code == 200
    refused = client.post(f"/api/supply/review/{ids['capacity']}/approve", headers=auditor)
    assert refused.status_code == 403 and "admin and quality approve" in refused.json()["detail"]

    for kind in ("capacity", "certification", "survey"):
        approved = client.post(f"/api/supply/review/{ids[kind]}/approve", headers=quality)
        assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text
        assert approved.json()["reviewed_by"] == reviewer
    unexplained = client.post(f"/api/supply/review/{ids['lead_time']}/reject", headers=quality, json={})
    assert unexplained.status_code == 422 and "says why" in unexplained.json()["detail"]
    rejected = client.post(f"/api/supply/review/{ids['lead_time']}/reject", headers=quality,
                           json={"reason": "9 weeks contradicts the signed supply agreement"})  # fmt: skip
    assert rejected.json()["status"] == "rejected" and rejected.json()["reason"].startswith("9 weeks")
    again = client.post(f"/api/supply/review/{ids['lead_time']}/approve", headers=quality)
    assert again.status_code == 409 and "already rejected" in again.json()["detail"]

    # The registry has the approved changes and not the rejected one; nobody else's rows moved.
    after = _registry(portal_dir)
    row = after.capabilities.filter(
        (pl.col("org_id") == SUPPLIER) & (pl.col("site_id") == key["site_id"]) & (pl.col("type") == key["type"])
        & (pl.col("value") == key["value"])
    ).row(0, named=True)  # fmt: skip
    assert (row["capacity_per_week"], row["unit"]) == (123.5, "g")
    assert row["lead_time_weeks"] == capability["lead_time_weeks"] != 9
    certificate = after.certifications.filter(
        (pl.col("org_id") == SUPPLIER) & (pl.col("standard") == "ISO 9001")
    )
    assert certificate.select("site_id", "certificate", "issued", "expires").rows() == [
        (held["site_id"], "MX-9001-4471", dt.date(2025, 3, 1), dt.date(2028, 2, 28))
    ]  # the renewed certificate replaced the one held
    assert held["certificate"] not in after.certifications["certificate"].to_list()
    assert after.organisation(SUPPLIER)["employees"] == 52
    assert after.sites.filter(pl.col("site_id") == site["site_id"])["ttr_weeks"].to_list() == [7.0]
    for table in ("organisations", "sites", "capabilities", "certifications"):
        assert (
            getattr(after, table)
            .filter(pl.col("org_id") != SUPPLIER)
            .equals(getattr(before, table).filter(pl.col("org_id") != SUPPLIER))
        ), table
    # The supply models read the new registry.
    assert client.get("/api/supply", headers=quality).status_code == 200

    # Every step in the audit chain, with its actor; the chain still verifies.
    with trace.TraceStore.at(portal_dir) as store:
        entries = [e for e in store.audit_entries() if e.entity in ("supplier_proposal", "supplier_registry")]
        assert store.verify_audit().ok
    steps = [(e.action, e.entity, e.key, e.actor) for e in entries]
    supplier_actor = f"supplier:{SUPPLIER}"
    expected = [("propose", "supplier_proposal", str(ids[k]), supplier_actor) for k in ids]
    for kind in ("capacity", "certification", "survey"):
        expected += [("update", "supplier_registry", "registry.json", reviewer),
                     ("approve", "supplier_proposal", str(ids[kind]), reviewer)]  # fmt: skip
    expected.append(("reject", "supplier_proposal", str(ids["lead_time"]), reviewer))
    assert steps == expected
    assert "file_sha256" not in entries[1].payload and entries[2].payload["file_sha256"] == digest
    assert entries[-1].payload["reason"] == "9 weeks contradicts the signed supply agreement"
    assert [e.payload["proposal"] for e in entries if e.entity == "supplier_registry"] == [
        ids["capacity"],
        ids["certification"],
        ids["survey"],
    ]


def test_a_certificate_file_too_large_or_of_another_type_is_refused(client, portal_dir):
    mine = {SUPPLIER_HEADER: _portal_token(portal_dir, SUPPLIER)}
    url = f"/api/supplier/{SUPPLIER}/proposals/certification"
    count = len(client.get(f"/api/supplier/{SUPPLIER}", headers=mine).json()["proposals"])
    large = client.post(url, headers=mine, **_certification_form(b"%PDF-1.7\n" + os.urandom(MAX_FILE_BYTES)))
    assert large.status_code == 422 and f"at most {MAX_FILE_BYTES:,} are accepted" in large.json()["detail"]
    gif = client.post(url, headers=mine, **_certification_form(b"GIF89a" + bytes(100), name="scan.pdf"))
    assert gif.status_code == 422 and "'scan.pdf' is not a PDF, PNG or JPEG" in gif.json()["detail"]
    missing = client.post(url, headers=mine, json=_certification_form(b"")["data"])
    assert missing.status_code == 422 and "needs its certificate file" in missing.json()["detail"]
    backwards = client.post(url, headers=mine, **_certification_form(PDF, issued="2029-01-01"))
    assert backwards.status_code == 422 and "before issued" in backwards.json()["detail"]
    png = client.post(
        url, headers=mine, **_certification_form(b"\x89PNG\r\n\x1a\n" + bytes(64), name="scan.png")
    )
    assert png.status_code == 201 and png.json()["file_type"] == "image/png"
    assert len(client.get(f"/api/supplier/{SUPPLIER}", headers=mine).json()["proposals"]) == count + 1
    # Figures out of range, unknown fields, a kind that does not exist: each named.
    capacity = f"/api/supplier/{SUPPLIER}/proposals/capacity"
    negative = client.post(capacity, headers=mine, json={"site_id": "x", "type": "process", "value": "v",
                                                         "capacity_per_week": -1, "unit": "pcs"})  # fmt: skip
    assert negative.status_code == 422 and "has no site 'x'" in negative.json()["detail"]
    assert client.post(f"/api/supplier/{SUPPLIER}/proposals/prices", headers=mine, json={}).status_code == 422
    survey = client.post(
        f"/api/supplier/{SUPPLIER}/proposals/survey", headers=mine, json={"employees": "1e30"}
    )
    assert survey.status_code == 422 and "employees: expected a whole number" in survey.json()["detail"]


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_browser_forms_carry_their_token_and_the_review_page_decides(client, portal_dir):
    client.cookies.clear()
    client.cookies.set(SUPPLIER_COOKIE, _portal_token(portal_dir, SUPPLIER))
    page = client.get(f"/supplier/{SUPPLIER}")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    form = _certification_form(PDF, name="iso14001.pdf", standard="ISO 14001")
    url = f"/supplier/{SUPPLIER}/proposals/certification"
    forged = client.post(url, follow_redirects=False, **form)
    assert forged.status_code == 403 and "security token" in forged.text
    form["data"]["csrf_token"] = _csrf(page.text)
    sent = client.post(url, follow_redirects=False, **form)
    assert sent.status_code == 303 and sent.headers["location"].startswith(f"/supplier/{SUPPLIER}#proposal-")
    proposal_id = int(sent.headers["location"].rsplit("-", 1)[1])
    shown = client.get(f"/supplier/{SUPPLIER}").text
    assert "iso14001.pdf" in shown and "MX-9001-4471" in shown and "pending" in shown
    client.cookies.clear()

    quality, _ = _token(client, "quality")
    review = client.get("/supply/review", headers=quality)
    assert f'action="/supply/review/{proposal_id}/reject"' in review.text
    # A form rides on a session cookie: an API token needs no CSRF token, the browser's form does.
    rejected = client.post(f"/supply/review/{proposal_id}/reject", headers=quality, data={"reason": "scan unreadable"},
                           follow_redirects=False)  # fmt: skip
    assert rejected.status_code == 303 and rejected.headers["location"] == "/supply/review"
    assert "scan unreadable" in client.get(f"/supplier/{SUPPLIER}", headers={
        SUPPLIER_HEADER: _portal_token(portal_dir, SUPPLIER)}).text  # fmt: skip


def nav_links(html: str) -> list[tuple[str, str]]:
    nav = re.search(r"<nav>(.*?)</nav>", html, re.S).group(1)
    return re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav)


def test_each_viewer_sees_its_own_navigation(client, portal_dir):
    client.cookies.clear()
    # Anonymous: the public pages only, each of which opens without signing in.
    public = client.get("/transparency").text
    links = nav_links(public)
    assert [title for _, title in links] == ["Transparency", "Verify a certificate"]
    assert links and all(client.get(path, follow_redirects=False).status_code == 200 for path, _ in links)
    assert 'href="/login"' in public and 'href="/docs"' not in public
    assert 'class="brand" href="/transparency"' in public
    asked = client.get("/verify?cert_id=CERT 1", follow_redirects=False)
    assert asked.status_code == 303 and asked.headers["location"] == "/verify/CERT%201"
    # A supplier: its portal, then sign-out (no public or internal page listed).
    mine = {SUPPLIER_HEADER: _portal_token(portal_dir, SUPPLIER)}
    portal = client.get(f"/supplier/{SUPPLIER}", headers=mine).text
    assert nav_links(portal) == [(f"/supplier/{SUPPLIER}", "Your records")]
    assert 'action="/supplier/logout"' in portal and 'action="/search"' not in portal
    spanish = client.get(f"/supplier/{SUPPLIER}", headers={**mine, "Accept-Language": "es-MX"}).text
    assert nav_links(spanish) == [(f"/supplier/{SUPPLIER}", "Sus registros")]
    # Quality staff: the internal bar, with the review queue.
    quality, _ = _token(client, "quality")
    staff = dict((title, path) for path, title in nav_links(client.get("/supply", headers=quality).text))
    assert staff["Supplier changes"] == "/supply/review" and "Supply" in staff
