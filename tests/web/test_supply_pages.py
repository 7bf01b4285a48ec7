"""The supply and transparency pages and the supplier portal: the analyst's figures as
silicio.supply computes them, no confidential number on the public page, and a supplier that
reaches nothing of another organisation through any route of the app."""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import polars as pl
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from silicio import supply, trace
from silicio.datadir import DataDir
from silicio.web import create_app
from silicio.web.access import SUPPLIER_COOKIE, SUPPLIER_HEADER

from .test_trace_pages import trace_data_dir  # noqa: F401  (the fixture)

#: The supplier acting in the role tests, and the organisation that runs the dashboard (whose id
#: is also the product's name in every page's header).
SUPPLIER = "eeo"
HOST = "silicio"


@pytest.fixture(scope="module")
def supply_dir(tmp_path_factory, trace_data_dir):  # noqa: F811
    """A copy of the trace lake the portal tests may write to."""
    copy = tmp_path_factory.mktemp("supply-lake") / "data"
    shutil.copytree(trace_data_dir, copy)
    return copy


@pytest.fixture(scope="module")
def client(supply_dir):
    with TestClient(create_app(supply_dir)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def staff(client) -> dict[str, str]:
    """Headers of an admin's API token (the client itself stays anonymous: the supplier tests add theirs)."""
    _, secret = client.app.state.authority.store.issue_token(actor="tests", role="admin")
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def registry(supply_dir):
    return supply.read_json(DataDir(supply_dir).supplier_registry)


@pytest.fixture(scope="module")
def token(supply_dir):
    tokens = json.loads(DataDir(supply_dir).supplier_tokens.read_text())
    return next(t for t, org in tokens.items() if org == SUPPLIER)


def test_supply_page_numbers_are_silicio_supply_s(client, staff, supply_dir, registry):
    page = client.get("/api/supply", headers=staff).json()
    plan = json.loads(DataDir(supply_dir).supply_plan.read_text())
    with trace.TraceStore.at(supply_dir) as store:
        md = store.load_master_data()
    graph = supply.build_network(md, registry, plan["demand"], plan["inventory_weeks"])
    stress = supply.stress_test(graph, by="facility")
    assert page["stress_flagged"] == int(stress["flagged"].sum()) == sum(r["flagged"] for r in page["stress"])
    assert [r["disruption"] for r in page["stress"]] == stress["disruption"].to_list()
    conc = supply.country_concentration(md, list(plan["demand"]), plan["demand"])
    assert page["import_hhi"] == pytest.approx(conc["hhi_imports"])
    assert page["value_hhi"] == pytest.approx(conc["hhi_all"])
    assert len(page["single_sources"]) == len(supply.single_sources(graph, registry))
    assert page["monte_carlo"]["lost_profit_cvar_0.95"] >= page["monte_carlo"]["lost_profit_var_0.95"]
    assert page["organisations"] == len(page["suppliers"]) == registry.organisations.height
    assert page["nearshore_gaps"] and all(g["reason"] for g in page["nearshore_gaps"])
    html = client.get("/supply", headers=staff).text
    assert f'data-stat="stress_flagged">{page["stress_flagged"]}<' in html
    assert client.get("/api/supply/stress.csv", headers=staff).text.count("\n") == len(page["stress"]) + 1


def test_transparency_has_no_confidential_numbers(client, registry):
    for url in (
        "/transparency",
        "/api/transparency",
        "/api/transparency/by_capability.csv",
        "/api/transparency/by_capability.json",
    ):
        body = client.get(url).text
        assert client.get(url).status_code == 200
        header = body.splitlines()[0].split(",") if url.endswith(".csv") else []
        for column in supply.CONFIDENTIAL_COLUMNS:  # as a JSON key, an HTML column or a CSV header
            assert f'"{column}"' not in body and column not in header, (url, column)
        for name in registry.organisations["name"]:
            assert name not in body, (url, name)
        for value in registry.capabilities["capacity_per_week"].drop_nulls():
            assert f"{value:g}" not in body and f"{value:.4g}" not in body, (url, value)
        for number in registry.certifications["certificate"].drop_nulls():
            assert number not in body, (url, number)
    public = client.get("/api/transparency").json()
    assert public["organisations"] == registry.organisations.height


def _sample_path(path: str, other: str, registry) -> str:
    """``path`` with each parameter set to something of organisation ``other`` (or a plain value)."""
    other_request = registry.requests.filter(pl.col("to_org") == other)["request_id"]
    values = {"org_id": other, "request_id": other_request[0] if len(other_request) else "RFQ-X",
              "table": "sites", "cert_id": "COC-X", "part_number": "SLC-MC200", "lot_id": "L", "wafer_id": "W",
              "test_num": "1", "path": "x"}  # fmt: skip
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m_: values.get(m_.group(1), "x"), path)


def all_routes(routes):
    """Every route of the app, including those of its included routers."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from all_routes(included.routes)
        elif getattr(route, "path", None):
            yield route


def test_a_supplier_never_sees_another_organisations_records(client, registry, token):
    others = [o for o in registry.organisations.iter_rows(named=True) if o["org_id"] != SUPPLIER]
    headers = {SUPPLIER_HEADER: token}

    def leaks(body: str) -> list[str]:
        found = [o["name"] for o in others if o["name"] in body]
        found += [o["org_id"] for o in others if o["org_id"] != HOST
                  and re.search(rf"(?<![\w-]){re.escape(o['org_id'])}(?![\w-])", body)]  # fmt: skip
        return found

    checked = 0
    # Static files hold no records (and plotly.js is 4.8 MB to search).
    routes = [r for r in all_routes(client.app.routes) if not r.path.startswith("/static")]
    for route in routes:
        methods = getattr(route, "methods", None) or {"GET"}
        for method in sorted(methods - {"HEAD", "OPTIONS"}):
            for other in ("mpz", HOST, "formosa-foundry"):
                url = _sample_path(route.path, other, registry)
                response = client.request(method, url, headers=headers, content=b'{"status": "closed"}')
                checked += 1
                if "{org_id}" in route.path:
                    assert response.status_code in (403, 404), (method, url, response.status_code)
                if response.status_code < 400:
                    assert not leaks(response.text), (method, url, leaks(response.text))
    assert sum(isinstance(r, APIRoute) for r in routes) > 40 and checked > 120
    # Nothing was changed on anyone's behalf.
    after = supply.read_json(DataDir(client.app.state.trace_data.data_dir).supplier_registry)
    assert after.requests.filter(pl.col("to_org") != SUPPLIER).equals(
        registry.requests.filter(pl.col("to_org") != SUPPLIER)
    )


def test_the_portal_shows_and_updates_only_the_supplier_s_own_records(client, registry, token, supply_dir):
    headers = {SUPPLIER_HEADER: token}
    assert client.get(f"/api/supplier/{SUPPLIER}").status_code == 401  # no token: not the supplier
    assert client.get(f"/api/supplier/{SUPPLIER}", headers={SUPPLIER_HEADER: "forged"}).status_code == 401
    page = client.get(f"/api/supplier/{SUPPLIER}", headers=headers).json()
    assert page["organisation"]["org_id"] == SUPPLIER
    own_requests = registry.requests.filter(pl.col("to_org") == SUPPLIER)["request_id"].to_list()
    assert [r["request_id"] for r in page["requests"]] == own_requests
    assert {s["site_id"] for s in page["sites"]} == set(
        registry.sites.filter(pl.col("org_id") == SUPPLIER)["site_id"].to_list()
    )
    # An edit of the organisation is a proposal: the registry changes once the quality staff approve it.
    proposed = client.post(f"/api/supplier/{SUPPLIER}/organisation", headers=headers,
                           content=json.dumps({"state": "Sonora", "employees": 240}))  # fmt: skip
    assert proposed.status_code == 201 and proposed.json()["payload"] == {"state": "Sonora", "employees": 240}
    assert (
        client.get(f"/api/supplier/{SUPPLIER}", headers=headers).json()["organisation"]["state"] != "Sonora"
    )
    _, secret = client.app.state.authority.store.issue_token(actor="tests", role="quality")
    approved = client.post(f"/api/supply/review/{proposed.json()['id']}/approve",
                           headers={"Authorization": f"Bearer {secret}"})  # fmt: skip
    assert approved.status_code == 200, approved.text
    assert (
        client.get(f"/api/supplier/{SUPPLIER}", headers=headers).json()["organisation"]["state"] == "Sonora"
    )
    # The write is in the audit chain, with its actor and the SHA-256 of the registry it wrote.
    with trace.TraceStore.at(supply_dir) as store:
        written_entry, approve_entry = store.audit_entries()[-2:]
        assert store.verify_audit().ok
    written = hashlib.sha256(DataDir(supply_dir).supplier_registry.read_bytes()).hexdigest()
    assert (written_entry.entity, written_entry.payload["organisation"]) == ("supplier_registry", SUPPLIER)
    assert written_entry.payload["sha256"] == written and written_entry.payload["kind"] == "organisation"
    assert (approve_entry.action, approve_entry.key) == ("approve", str(proposed.json()["id"]))
    refused = client.post(f"/api/supplier/{SUPPLIER}/organisation", headers=headers,
                          content=json.dumps({"org_id": "mpz"}))  # fmt: skip
    assert refused.status_code == 422 and "'org_id' is not part of" in refused.json()["detail"]
    if own_requests:
        answered = client.post(f"/api/supplier/{SUPPLIER}/requests/{own_requests[0]}", headers=headers,
                               content=json.dumps({"status": "answered"}))  # fmt: skip
        assert answered.json()["requests"][0]["status"] == "answered"
    foreign = registry.requests.filter(pl.col("to_org") != SUPPLIER)["request_id"][0]
    answer = client.post(f"/api/supplier/{SUPPLIER}/requests/{foreign}", headers=headers, content=b"{}")
    assert answer.status_code == 404
    # The browser's way in: the token in a form (with the form's CSRF token), then a cookie.
    form = client.get("/supplier/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    login = client.post("/supplier/login", content=f"token={token}&csrf_token={csrf}", follow_redirects=False,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert login.status_code == 303 and login.headers["location"] == f"/supplier/{SUPPLIER}"
    client.cookies.set(SUPPLIER_COOKIE, token)
    assert client.get(f"/supplier/{SUPPLIER}").status_code == 200
    assert client.get("/supplier/mpz").status_code == 403
    client.cookies.clear()
