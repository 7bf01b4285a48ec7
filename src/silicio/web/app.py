"""The dashboard's web app: pages, their JSON twins, static files, error pages.

>>> from silicio.web import create_app
>>> app = create_app("data")          # then: uvicorn.run(app)
"""

from __future__ import annotations

import importlib.resources
import os
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from silicio import __version__

from . import (
    access,
    alert_pages,
    correlate_pages,
    declare,
    die_pages,
    i18n,
    login,
    pages,
    preparing,
    public_pages,
    security,
    spatial_pages,
    spc_pages,
    supplier_pages,
    trace_pages,
)
from .access import refusal
from .dashboard import Dashboard, NotFound, Pending, Settings
from .login import Authority
from .preparing import Preparation
from .tracedata import BadQuery, TraceData

HERE = Path(__file__).resolve().parent
#: Every declared page, in the order their routes are added.
PAGES = (
    *pages.PAGES,
    *die_pages.PAGES,
    *correlate_pages.PAGES,
    *spc_pages.PAGES,
    *trace_pages.PAGES,
    *public_pages.PAGES,
    *supplier_pages.PAGES,
    *spatial_pages.PAGES,
    *alert_pages.PAGES,
)
# Seconds after which a page still being computed asks again (its error page reloads itself).
_RETRY_SECONDS = 5
# Browsers may keep the static files for a day; plotly.js is 4.8 MB.
_STATIC_MAX_AGE = 86_400
#: Swagger UI and ReDoc for /docs and /redoc, served from static/vendor (no CDN: machines may have
#: no internet). The minified releases of swagger-ui-dist (Apache-2.0) and redoc (MIT) with their
#: licence files, kept as they are published; static/vendor/README.md says which and how to update.
DOCS_ASSETS = {
    "swagger_js_url": "/static/vendor/swagger-ui/swagger-ui-bundle.js",
    "swagger_css_url": "/static/vendor/swagger-ui/swagger-ui.css",
    "redoc_js_url": "/static/vendor/redoc/redoc.standalone.js",
}


def _plotly_js() -> Path | None:
    """plotly.min.js of the installed plotly package (no CDN: machines may have no internet)."""
    path = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"
    return Path(str(path)) if path.is_file() else None


def create_app(data_dir: str | os.PathLike[str] | None = None, database_url: str | None = None,
               settings: Settings | None = None, *, warm: bool = False, public_only: bool = False,
               authority: Authority | None = None, preparation: Preparation | None = None) -> FastAPI:  # fmt: skip
    """The dashboard over the lake in ``data_dir`` (default ``$SILICIO_DATA`` or ``./data``).

    ``database_url`` names the catalog when it is not the SQLite file in the data directory.
    ``warm`` computes the overview (and the screening behind it) in a thread at start, so the
    first visitor does not wait for it. ``public_only`` serves the public pages alone (the rest
    answer 404, nobody signs in). ``authority`` holds the accounts (default: those of the
    catalog; tests pass one with their own clock). ``preparation``: the data is still being
    written (the demo's first run): pages show its progress until it is ready
    (:mod:`silicio.web.preparing`).
    """
    dashboard = Dashboard(data_dir, database_url, settings)
    if not public_only and authority is None:
        authority = Authority(dashboard.data_dir, database_url)
    elif public_only:
        authority = None
    # One byte bound for everything the server keeps: lake results, trace results, rendered pages.
    trace_data = TraceData(dashboard.data_dir, dashboard.database_url, cache=dashboard.cache)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if warm:
            threading.Thread(target=dashboard.warm, name="silicio-warm", daemon=True).start()
        yield
        dashboard.close()
        trace_data.close()
        if authority is not None:
            authority.close()

    app = FastAPI(
        title="silicio dashboard",
        version=__version__,
        description="Yield, bins, wafer maps, tests and screening of the STDF files in a silicio lake. "
        "Every page has a JSON twin under /api at the same path, and every table a CSV.",
        lifespan=lifespan,
        docs_url=None,  # served below, with local assets
        redoc_url=None,
    )
    app.state.dashboard = dashboard
    app.state.trace_data = trace_data
    app.state.authority = authority
    navigation = declare.navigation(PAGES)

    def nav_sections(request: Request) -> list[tuple[str, str]]:
        """The navigation bar's (title, path) this viewer may open, titles in the viewer's language."""
        principal = access.principal_of(request)
        return [(i18n.gettext(request, title), path)
                for title, path in access.navigation_for(principal, navigation)]  # fmt: skip

    def home_path(request: Request) -> str:
        """Where the brand link leads: the overview for the staff, else the viewer's first page."""
        principal = access.principal_of(request)
        if principal.staff:
            return "/"
        first = access.navigation_for(principal, navigation)
        return first[0][1] if first else "/"

    templates = Jinja2Templates(directory=HERE / "templates")
    i18n.install_templates(templates.env)
    templates.env.globals.update(nav_sections=nav_sections, home_path=home_path, version=__version__,
                                 retry_seconds=_RETRY_SECONDS, staff=lambda request: access.principal_of(request).staff,
                                 principal=access.principal_of, csrf_field=access.csrf_field,
                                 accounts=authority is not None)  # fmt: skip
    app.state.templates = templates
    app.state.rendered_pages = dashboard.cache
    #: The caches /api/_health reports, by name.
    app.state.caches = {"pages": dashboard.cache}

    @app.middleware("http")
    async def server_timing(request: Request, call_next):
        # How long the server took, for the browser's devtools and the benchmark.
        started = time.perf_counter()
        response = await call_next(request)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    plotly_js = _plotly_js()

    @app.get("/static/plotly.min.js", include_in_schema=False)
    @access.access("public")
    def plotly() -> Response:
        headers = {"Cache-Control": f"public, max-age={_STATIC_MAX_AGE}"}
        if plotly_js is not None:
            return FileResponse(plotly_js, media_type="text/javascript", headers=headers)
        from plotly.offline import get_plotlyjs

        return Response(get_plotlyjs(), media_type="text/javascript", headers=headers)

    @app.get("/api/_health", tags=["health"], summary="Version and the caches' sizes against their bounds",
             openapi_extra={"x-access": "internal"})  # fmt: skip
    @access.access("internal")
    def health() -> dict:
        caches = {name: {"bytes": cache.bytes, "max_bytes": cache.max_bytes, "entries": len(cache),
                         "hits": cache.hits, "misses": cache.misses}
                  for name, cache in app.state.caches.items()}  # fmt: skip
        return {"version": __version__, "caches": caches}

    # Plain routes, as FastAPI's own documentation routes are (its docs_url and redoc_url, set to
    # None above, would load the assets from a CDN).
    async def swagger_ui(request: Request) -> Response:
        return get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} - Swagger UI",
                                   swagger_js_url=DOCS_ASSETS["swagger_js_url"],
                                   swagger_css_url=DOCS_ASSETS["swagger_css_url"], swagger_favicon_url="data:,")  # fmt: skip

    async def redoc(request: Request) -> Response:
        return get_redoc_html(openapi_url=app.openapi_url, title=f"{app.title} - ReDoc",
                              redoc_js_url=DOCS_ASSETS["redoc_js_url"], redoc_favicon_url="data:,",
                              with_google_fonts=False)  # fmt: skip

    app.state.docs_paths = ("/docs", "/redoc")
    for path, endpoint in zip(app.state.docs_paths, (swagger_ui, redoc), strict=True):
        access.declare(endpoint, "internal")  # the maker's staff, as /openapi.json
        app.add_route(path, endpoint, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    access.declare(app.router.routes[-1], "public")
    # Hand-written routes first: a declared page's parameter would swallow /supplier/login.
    for router in (
        login.router,
        login.api,
        pages.router,
        spc_pages.router,
        trace_pages.api,
        trace_pages.pages,
        public_pages.api,
        supplier_pages.api,
        supplier_pages.pages,
        alert_pages.api,
        alert_pages.pages,
    ):
        app.include_router(router)
    declare.install(app, pages.PAGES, tags=["api"])
    declare.install(app, correlate_pages.PAGES, tags=["correlation, retest"])
    declare.install(app, die_pages.PAGES, tags=["api"])
    declare.install(app, spc_pages.PAGES, tags=["spc, metrology"])
    declare.install(app, trace_pages.PAGES, tags=["trace, origin, supply"])
    declare.install(app, public_pages.PAGES, tags=["transparency"])
    declare.install(app, supplier_pages.PAGES, tags=["supplier portal"])
    declare.install(app, spatial_pages.PAGES, tags=["spatial"])
    declare.install(app, alert_pages.PAGES, tags=["alerts"])
    # FastAPI's own documentation of the API is for the maker's staff.
    documentation = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url} - {
        None
    }
    for route in app.router.routes:
        if getattr(route, "path", None) in documentation:
            access.declare(route.endpoint, "internal")
    if preparation is not None:
        preparing.install(app, preparation)
    access.install(app, trace_data.supplier_tokens, authority, public_only=public_only)

    @app.exception_handler(Pending)
    async def pending(request: Request, exc: Pending) -> Response:
        return refusal(request, 503, str(exc), {"Retry-After": str(_RETRY_SECONDS)})

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return refusal(request, 404, str(exc))

    @app.exception_handler(BadQuery)
    async def bad_query(request: Request, exc: BadQuery) -> Response:
        return refusal(request, 422, str(exc))

    from silicio.supply import AccessDenied

    @app.exception_handler(AccessDenied)
    async def access_denied(request: Request, exc: AccessDenied) -> Response:
        return refusal(request, 403, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = "no such page" if exc.status_code == 404 else str(exc.detail)
        return refusal(request, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)
        problems = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors())
        return refusal(request, 422, problems)

    i18n.install(app)
    security.install(app)  # outside every middleware: its headers and body limits cover every answer
    return app
