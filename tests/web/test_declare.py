"""Pages declared once: every route says who may see it, a declaration that forgets fails at once,
the routes, the navigation bar and the access gate all come from the declarations."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from silicio.web import access, create_app
from silicio.web import models as m
from silicio.web.app import PAGES
from silicio.web.dashboard import Dashboard
from silicio.web.declare import Nav, Page

from .conftest import signed_in

#: The navigation bar as it was before the declarations (app.py's NAV_SECTIONS + base.html's list).
NAV_BEFORE = [
    "Overview",
    "PAT",
    "Files",
    "Signatures",
    "Inline defects",
    "Alerts",
    "Trace",
    "Origin",
    "Certificates",
    "Disposition",
    "Supply",
    "Transparency",
    "Supplier changes",
    "Gage R&R",
]


def overview(data: Dashboard) -> m.Overview:
    return data.overview()


def test_every_route_declares_who_may_see_it(client):
    undeclared = [
        (sorted(getattr(route, "methods", None) or []), route.path)
        for route in access.routes(client.app)
        if access.access_of(route) not in access.ACCESS_LEVELS
    ]
    assert undeclared == []
    assert sum(1 for _ in access.routes(client.app)) > 60


def test_a_page_that_forgets_its_access_fails_at_declaration():
    with pytest.raises(TypeError, match="access"):
        Page(path="/x", compute=overview, template="overview.html", summary="x")  # type: ignore[call-arg]
    with pytest.raises(
        ValueError, match="expected one of public, signin, internal, quality, admin, supplier"
    ):
        Page(path="/x", compute=overview, template="overview.html", summary="x", access="everyone")
    with pytest.raises(ValueError, match="nav section"):
        Nav("X", "elsewhere", 1)

    def untyped(data: Dashboard):
        return data.overview()

    with pytest.raises(TypeError, match="return a page model"):
        Page(path="/x", compute=untyped, template="overview.html", summary="x", access="internal")


def test_each_declaration_gives_its_html_json_and_csv_routes(client):
    paths = {
        (route.path, method)
        for route in access.routes(client.app)
        for method in getattr(route, "methods", None) or ()
    }
    schema = client.get("/openapi.json").json()["paths"]
    for page in PAGES:
        api = "/api/overview" if page.path == "/" else "/api" + page.path
        assert (
            (page.path, "GET") in paths and (api, "GET") in paths and (f"{api}/{{table}}.csv", "GET") in paths
        )
        assert page.path not in schema or page.path.startswith("/api"), "HTML pages stay out of the schema"
        documented = schema[api]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert documented.endswith("/" + page.model.__name__)
        assert schema[api]["get"]["x-access"] == page.access
        assert page.tables == [name for name, f in page.model.model_fields.items()
                               if getattr(f.annotation, "__origin__", None) is list
                               and issubclass(f.annotation.__args__[0], m.Row)]  # fmt: skip


def nav_titles(html: str) -> list[str]:
    nav = re.search(r"<nav>(.*?)</nav>", html, re.S).group(1)
    return re.findall(r"<a href=\"[^\"]+\"[^>]*>([^<]+)</a>", nav)


def test_the_navigation_bar_comes_from_the_declarations(client):
    assert [t.replace("&amp;", "&") for t in nav_titles(client.get("/files").text)] == NAV_BEFORE
    declared = sorted((p for p in PAGES if p.nav), key=lambda p: NAV_BEFORE.index(p.nav.title))
    assert [p.nav.title for p in declared] == NAV_BEFORE


def test_the_health_endpoint_reports_the_cache_within_its_bound(client):
    client.get("/files")
    caches = client.get("/api/_health").json()["caches"]
    assert caches and all(c["entries"] >= 1 and 0 < c["bytes"] <= c["max_bytes"] for c in caches.values())


# ------------------------------------------------------------------------------------------------
# The gate, on an app of its own: the rules follow the declarations, and an undeclared route is shut.


@pytest.fixture(scope="module")
def gated() -> TestClient:
    app = FastAPI()

    @app.get("/api/open")
    @access.access("public")
    def open_() -> dict:
        return {"ok": True}

    @app.get("/api/staff")
    @access.access("internal")
    def staff() -> dict:
        return {"ok": True}

    @app.get("/api/portal/{org_id}")
    @access.access("supplier")
    def portal(org_id: str) -> dict:
        return {"org": org_id}

    @app.get("/api/forgotten")
    def forgotten() -> dict:
        return {"ok": True}

    access.install(app, lambda: {"t-acme": "acme"})
    return TestClient(app)


@pytest.mark.parametrize(
    ("path", "token", "status"),
    [
        ("/api/open", None, 200),
        ("/api/open", "t-acme", 200),
        ("/api/open", "forged", 401),
        ("/api/staff", None, 401),  # anonymous: sign in first
        ("/api/staff", "t-acme", 403),
        ("/api/portal/acme", "t-acme", 200),
        ("/api/portal/other", "t-acme", 403),
        ("/api/portal/acme", None, 401),
        ("/api/forgotten", None, 403),
        ("/api/forgotten", "t-acme", 403),
        ("/api/nowhere", None, 404),
    ],
)
def test_the_gate_enforces_the_declared_access(gated, path, token, status):
    headers = {access.SUPPLIER_HEADER: token} if token else {}
    response = gated.get(path, headers=headers)
    assert response.status_code == status, response.text
    if path == "/api/forgotten":
        assert "declares no access" in response.json()["detail"]


def test_a_supplier_is_refused_every_internal_page(tmp_path):
    app = create_app(tmp_path / "no-lake")
    tokens = tmp_path / "no-lake" / "supply" / "tokens.json"
    tokens.parent.mkdir(parents=True)
    tokens.write_text('{"t-acme": "acme"}')
    with TestClient(app) as client:
        headers = {access.SUPPLIER_HEADER: "t-acme"}
        for page in PAGES:
            url = re.sub(r"\{(\w+)\}", lambda m_: "acme" if m_.group(1) == "org_id" else "1", page.path)
            for path in (url, "/api/overview" if url == "/" else "/api" + url):
                status = client.get(path, headers=headers).status_code
                if page.access in ("internal", "quality"):
                    assert status == 403, (path, status)
                else:
                    assert status != 403 and status != 401, (path, status)
        assert client.get("/api/_health", headers=headers).status_code == 403
        assert client.get("/docs", headers=headers).status_code == 403
        public = client.get("/transparency", headers=headers).text
        # A supplier's bar is its portal: no public or internal page listed.
        assert nav_titles(public) == ["Your records"] and 'action="/search"' not in public
        assert 'href="/supplier/acme"' in public
        signed_in(client)
        assert 'action="/search"' in client.get("/transparency").text
