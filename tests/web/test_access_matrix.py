"""Who may open what, route by route: every route of the app (walked from the app itself, not
listed by hand) x every role x anonymous answers as its declaration says: 200 (or the route's
own answer to a write), a redirect to /login or 401 for anonymous, 403 for a role not let in.
A supplier, however it signs in, never reaches another organisation's records; a
``--public-only`` server serves the public routes alone."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl
import pytest
from fastapi.testclient import TestClient

from silicio import supply
from silicio.auth import LoginPolicy
from silicio.datadir import DataDir
from silicio.web import access, create_app
from silicio.web.app import PAGES
from silicio.web.login import Authority
from tests.auth.conftest import CHEAP, PASSWORD, Clock

from .final_test_data import add_final_test
from .test_spc_pages import STUDY, TEST, write_gage_study
from .test_trace_pages import trace_data_dir  # noqa: F401  (the fixture)

#: The policy, written out here and not read from the code: who each access level lets in.
STAFF = {"admin", "engineer", "quality", "auditor"}
EVERYONE = STAFF | {"supplier", "anonymous"}
LETS_IN = {
    "public": EVERYONE,
    "signin": EVERYONE,
    "internal": STAFF,
    "quality": {"admin", "quality", "auditor"},
    "admin": {"admin"},
    "supplier": {"supplier"},  # of the route's own organisation
}
WHO = ("anonymous", "admin", "engineer", "quality", "auditor", "supplier")
#: The supplier acting in these tests, and the organisation that runs the dashboard.
SUPPLIER = "mpz"  # a request is addressed to it
HOST = "silicio"
#: What the gate says when it turns someone away (the routes' own answers say other things).
GATE_MESSAGES = ("sign in first", "may not open", "may open only", "declares no access")
#: Anonymous visitors see these and nothing else (the issue's list: transparency, certificate
#: verification, sign-in; plus the static files every page needs).
ANONYMOUS_PATHS = {
    "/transparency", "/api/transparency", "/api/transparency/{table}.csv", "/api/transparency/{table}.xlsx",
    "/api/transparency/{table}.json",
    "/verify", "/verify/{cert_id}", "/api/verify/{cert_id}", "/api/verify/{cert_id}/{table}.csv", "/api/verify/{cert_id}/{table}.xlsx", "/api/verify",
    "/login", "/logout", "/supplier/login", "/supplier/logout", "/static/plotly.min.js", "/static",
}  # fmt: skip


@pytest.fixture(scope="module")
def matrix_dir(tmp_path_factory, trace_data_dir) -> Path:  # noqa: F811
    """The trace lake (lots, certificates, suppliers) with a gage study and a final-test lot of
    traced units: every route has data."""
    copy = tmp_path_factory.mktemp("matrix-lake") / "data"
    shutil.copytree(trace_data_dir, copy)
    write_gage_study(copy / "metrology")
    add_final_test(copy, tmp_path_factory.mktemp("matrix-final-test"))
    return copy


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def client(matrix_dir, clock):
    # Many refused sign-ins come from the one test address here: the address lock is tested elsewhere.
    authority = Authority(
        matrix_dir, clock=clock, password_cost=CHEAP, policy=LoginPolicy(max_address_failures=10**6)
    )
    with TestClient(create_app(matrix_dir, authority=authority)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def headers(client) -> dict[str, dict[str, str]]:
    """Request headers of each role: an API token each; anonymous gets a form session, so that
    its writes meet the access check, not only the CSRF one."""
    store = client.app.state.authority.store
    out = {}
    for role in WHO[1:]:
        _, secret = store.issue_token(
            actor="tests", role=role, organisation=SUPPLIER if role == "supplier" else None
        )
        out[role] = {"Authorization": f"Bearer {secret}"}
    form = client.get("/login")
    client.cookies.clear()
    cookie = form.cookies["silicio_session"]
    out["anonymous"] = {"Cookie": f"silicio_session={cookie}", "X-CSRF-Token": csrf_of(form.text)}
    return out


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def first(value: Any, key: str) -> Any:
    """The first value of ``key`` anywhere in a JSON document."""
    if isinstance(value, dict):
        if value.get(key) is not None:
            return value[key]
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found = first(item, key)
            if found is not None:
                return found
    return None


@pytest.fixture(scope="module")
def samples(client, headers) -> dict[str, str]:
    """A value of each path parameter that names something in the lake."""
    admin = headers["admin"]
    lots = client.get("/api/overview", headers=admin).json()["lots"]
    lot = next(row["lot_id"] for row in lots if row["stage"] == "wafer_sort")
    lot_page = client.get(f"/api/lot/{lot}", headers=admin).json()
    registry = supply.read_json(DataDir(client.app.state.trace_data.data_dir).supplier_registry)
    own_requests = registry.requests.filter(pl.col("to_org") == SUPPLIER)["request_id"]
    wafer_id = first(lot_page, "wafer_id")
    bin_map = client.get(f"/api/lot/{lot}/wafer/{wafer_id}", headers=admin).json()["bin_map"]
    final_lot = next(row["lot_id"] for row in lots if row["stage"] == "final_test")
    unit = client.get(f"/api/lot/{final_lot}", headers=admin).json()["units"][0]["part_id"]
    values = {
        "lot_id": lot,
        "wafer_id": wafer_id,
        "x": str(bin_map["x"][0]),
        "y": str(bin_map["y"][0]),
        "test_num": str(TEST),
        "cert_id": first(client.get("/api/certificates", headers=admin).json(), "cert_id"),
        "part_number": first(client.get("/api/origin", headers=admin).json(), "part_number"),
        "org_id": SUPPLIER,
        "request_id": own_requests[0] if len(own_requests) else None,
        "name": STUDY,
        "path": "silicio.css",
        "alert_id": "1",  # an alert that may not exist: the gate answers before the page looks
        "kind": "capacity",
        "decision": "approve",
        "proposal_id": str(_certificate_proposal(client, headers["supplier"])),
        "part_id": unit,
        "unit_lot_id": final_lot,
    }
    assert all(values.values()), values
    return values


def _certificate_proposal(client, supplier: dict[str, str]) -> int:
    """A certification the supplier proposed, with its file (the file routes then have one to serve)."""
    fields = {"standard": "ISO 9001", "issuer": "tests", "certificate": "T-1", "issued": "2025-01-01",
              "expires": "2027-01-01"}  # fmt: skip
    sent = client.post(f"/api/supplier/{SUPPLIER}/proposals/certification", headers=supplier, data=fields,
                       files={"file": ("t.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")})  # fmt: skip
    assert sent.status_code == 201, sent.text
    return sent.json()["id"]


def table_of(path: str) -> str:
    """The first table of the page whose CSV route ``path`` is."""
    page = next(
        p for p in PAGES if path in (f"{p.api_path}/{{table}}.{kind}" for kind in ("csv", "xlsx", "json"))
    )
    return page.tables[0] if page.tables else "no-such-table"


def url_of(route, values: dict[str, str]) -> str:
    if not hasattr(route, "methods"):  # a mount: the static files
        return f"{route.path}/{values['path']}"
    filled = {**values, "table": table_of(route.path)} if "{table}" in route.path else values
    if "{part_id}" in route.path:  # a unit's page: the final-test lot that holds the unit
        filled = {**filled, "lot_id": values["unit_lot_id"]}
    url = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: filled[m.group(1)], route.path)
    # A recall needs a suspect, a comparison two sides (else 422, whoever asks).
    if "/compare" in route.path:
        return url + f"?a={values['lot_id']}&b={values['lot_id']}"
    return url + f"?suspect=lot:{values['lot_id']}" if "/trace/recall" in route.path else url


def requests_of(app) -> list[tuple[str, str, str, str]]:
    """(method, path, url template, level) of every route of the app, walked from the app."""
    out = []
    for route in access.routes(app):
        if getattr(route, "path_regex", None) is None:
            continue
        methods = getattr(route, "methods", None) or {"GET"}
        for method in sorted(methods - {"HEAD", "OPTIONS"}):
            out.append((method, route.path, route, access.access_of(route)))
    return out


def is_gate_refusal(response) -> bool:
    return response.status_code in (401, 403) and any(m in response.text for m in GATE_MESSAGES)


def test_every_route_declares_a_level_the_policy_knows(client):
    declared = requests_of(client.app)
    assert len(declared) > 70
    assert [(m, p) for m, p, _, level in declared if level not in LETS_IN] == []
    assert dict(access.LEVEL_ROLES) == {
        level: frozenset(role.replace("anonymous", "public") for role in roles)
        for level, roles in LETS_IN.items()
    }


def test_the_role_matrix(client, headers, samples):
    outcomes: dict[tuple[str, str, str], int] = {}
    for method, path, route, level in requests_of(client.app):
        url = url_of(route, samples)
        for who in WHO:
            body = b"{}" if method != "GET" else None
            response = client.request(method, url, headers=headers[who], content=body, follow_redirects=False)
            client.cookies.clear()  # each request as its headers say, nothing kept from the last
            sent_to_login = response.headers.get("location", "").startswith("/login?next=")
            outcomes[(method, path, who)] = (
                "refused" if sent_to_login or is_gate_refusal(response) else response.status_code
            )
            where = (method, url, who, response.status_code, response.text[:200])
            assert response.status_code < 500, where
            if who in LETS_IN[level]:
                if method == "GET":
                    assert response.status_code == 200, where
                else:  # a write: the route's own answer (a bad body is 422, a redirect 303), never the gate's
                    assert not is_gate_refusal(response), where
            elif who == "anonymous":
                if method == "GET" and not url.startswith("/api/"):
                    assert response.status_code == 303, where
                    assert response.headers["location"] == "/login?next=" + quote(url, safe="/"), where
                else:
                    assert response.status_code == 401 and "sign in first" in response.text, where
                    assert response.headers["www-authenticate"].startswith("Bearer"), where
            else:
                assert response.status_code == 403 and is_gate_refusal(response), where
    # What anonymous visitors may open is exactly the public list.
    anonymous = {
        path for (method, path, who), status in outcomes.items() if who == "anonymous" and status != "refused"
    }
    assert anonymous == ANONYMOUS_PATHS
    # The levels differ in practice, not only on paper.
    assert (
        outcomes[("GET", "/api/supply", "engineer")] == "refused"
        and outcomes[("GET", "/api/supply", "quality")] == 200
    )
    assert outcomes[("GET", "/api/admin/users", "auditor")] == "refused"
    assert outcomes[("GET", "/api/admin/users", "admin")] == 200
    assert (
        outcomes[("GET", "/api/files", "auditor")] == 200
        and outcomes[("GET", "/api/files", "supplier")] == "refused"
    )


def _others(registry) -> list[dict]:
    return [o for o in registry.organisations.iter_rows(named=True) if o["org_id"] not in (SUPPLIER, HOST)]


def _supplier_ways_in(client) -> dict[str, dict[str, str]]:
    """The three ways a supplier signs in: its organisation's portal token, an API token, an account."""
    data = DataDir(client.app.state.trace_data.data_dir)
    portal = next(t for t, org in json.loads(data.supplier_tokens.read_text()).items() if org == SUPPLIER)
    store = client.app.state.authority.store
    _, secret = store.issue_token(actor="tests", role="supplier", organisation=SUPPLIER)
    if "mpz-clerk" not in {u.username for u in store.users()}:
        store.add_user("mpz-clerk", "supplier", PASSWORD, actor="tests", organisation=SUPPLIER)
    form = client.get("/login")
    signed = client.post("/login", data={"username": "mpz-clerk", "password": PASSWORD, "csrf_token": csrf_of(form.text)},
                         follow_redirects=False)  # fmt: skip
    assert signed.status_code == 303 and signed.headers["location"] == f"/supplier/{SUPPLIER}"
    cookie = signed.cookies["silicio_session"]
    client.cookies.clear()
    session = {"Cookie": f"silicio_session={cookie}"}
    session["X-CSRF-Token"] = csrf_of(client.get(f"/supplier/{SUPPLIER}", headers=session).text)
    return {"portal token": {access.SUPPLIER_HEADER: portal}, "API token": {"Authorization": f"Bearer {secret}"},
            "account": session}  # fmt: skip


def test_a_supplier_never_sees_another_organisations_records(client, samples):
    registry_path = DataDir(client.app.state.trace_data.data_dir).supplier_registry
    registry = supply.read_json(registry_path)
    others = _others(registry)

    def leaks(body: str) -> list[str]:
        found = [o["name"] for o in others if o["name"] in body]
        return found + [o["org_id"] for o in others
                        if re.search(rf"(?<![\w-]){re.escape(o['org_id'])}(?![\w-])", body)]  # fmt: skip

    ways = _supplier_ways_in(client)
    checked = 0
    for how, headers in ways.items():
        assert client.get(f"/api/supplier/{SUPPLIER}", headers=headers).status_code == 200, how
        for method, path, route, _level in requests_of(client.app):
            if path.startswith("/static") or path == "/logout":  # no records (plotly.js: 4.8 MB to search)
                continue
            for other in [o["org_id"] for o in others[:3]] + [HOST]:
                foreign = registry.requests.filter(pl.col("to_org") == other)["request_id"]
                values = {**samples, "org_id": other, "request_id": foreign[0] if len(foreign) else "RFQ-X"}
                url = url_of(route, values)
                body = b'{"status": "closed", "state": "Sonora"}' if method != "GET" else None
                response = client.request(method, url, headers=headers, content=body, follow_redirects=False)
                client.cookies.clear()
                checked += 1
                where = (how, method, url, response.status_code)
                if "{org_id}" in path:
                    assert response.status_code == 403, where
                if response.status_code < 400:
                    assert not leaks(response.text), (*where, leaks(response.text))
    assert checked > 3 * 4 * 60
    # Nothing was changed on anyone else's behalf.
    after = supply.read_json(registry_path)
    assert after.requests.filter(pl.col("to_org") != SUPPLIER).equals(
        registry.requests.filter(pl.col("to_org") != SUPPLIER)
    )
    assert after.organisations.filter(pl.col("org_id") != SUPPLIER).equals(
        registry.organisations.filter(pl.col("org_id") != SUPPLIER)
    )


def test_a_supplier_form_needs_its_session_s_token(client):
    ways = _supplier_ways_in(client)
    session = ways["account"]
    registry_path = DataDir(client.app.state.trace_data.data_dir).supplier_registry
    before = registry_path.read_bytes()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    url = f"/supplier/{SUPPLIER}/organisation"
    for forged in ({}, {"X-CSRF-Token": "forged"}):
        cookie_only = {"Cookie": session["Cookie"], **forged, **form}
        refused = client.post(url, headers=cookie_only, content=b"state=Sonora", follow_redirects=False)
        assert refused.status_code == 403 and "security token" in refused.text
    assert registry_path.read_bytes() == before
    token = session["X-CSRF-Token"]
    proposals = len(client.get(f"/api/supplier/{SUPPLIER}", headers=ways["portal token"]).json()["proposals"])
    sent = client.post(url, headers={"Cookie": session["Cookie"], **form},
                       content=f"state=Sonora&csrf_token={token}".encode(), follow_redirects=False)  # fmt: skip
    # Sent: a proposal for the quality staff to review (the registry changes once they approve it).
    assert sent.status_code == 303 and registry_path.read_bytes() == before
    after = client.get(f"/api/supplier/{SUPPLIER}", headers=ways["portal token"]).json()["proposals"]
    assert len(after) == proposals + 1 and after[0]["summary"] == "state = Sonora"


def test_a_public_only_server_serves_the_public_routes_alone(matrix_dir, client, headers, samples):
    with TestClient(create_app(matrix_dir, public_only=True)) as public:
        served = set()
        for method, path, route, level in requests_of(public.app):
            url = url_of(route, samples)
            for who in ("anonymous", "admin"):
                # Credentials mean nothing there: nobody signs in.
                response = public.request(method, url, headers=headers[who] if who == "admin" else {},
                                          content=b"{}" if method != "GET" else None, follow_redirects=False)  # fmt: skip
                if level == "public":
                    assert response.status_code != 404 and response.status_code < 500, (method, url, who)
                    if method == "GET":
                        assert response.status_code == 200, (method, url, who, response.text[:200])
                    served.add(path)
                else:
                    assert response.status_code == 404, (method, url, who, response.status_code)
        assert served == ANONYMOUS_PATHS - {"/login", "/logout", "/supplier/login", "/supplier/logout"}
        html = public.get("/transparency").text
        assert re.findall(r"<nav>.*?</nav>", html, re.S)[0].count("<a ") == 2 and "/login" not in html
