"""Pages and JSON twins of traceability (``/trace``), origin (``/origin``), certificates
(``/certificates``, the public ``/verify/{id}``), the supplier ecosystem (``/supply``, the public
``/transparency``) and the supplier portal (``/supplier/{org_id}``).

Supplier identity. A supplier account is a token in ``DATA/supply/tokens.json``
(``{"<token>": "<org_id>"}``; the demo writes one random token per organisation). A request
carries it in the ``X-Silicio-Token`` header, or in the ``silicio_supplier`` cookie that
``POST /supplier/login`` sets. The middleware of :func:`install` resolves it on the server for
every request: an unknown token is refused (401); a supplier may reach only its own portal
(``/supplier/<its org_id>`` and ``/api/supplier/<its org_id>/...``) and the public pages
(``/transparency``, ``/verify``, static files) -- anything else, another organisation's portal
included, is 403, with the same message whether that organisation exists or not. Requests
without a token are the maker's own staff (the dashboard has no other login); they may not open
a supplier's portal, which needs that supplier's token.
"""

from __future__ import annotations

import json
import re
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from . import models as m
from .api import csv_response
from .data import BadQuery, NotFound, TraceData
from .pages import render

SUPPLIER_HEADER = "X-Silicio-Token"
SUPPLIER_COOKIE = "silicio_supplier"
#: Paths a supplier identity may reach besides its own portal.
_PUBLIC_PATHS = re.compile(r"^/(api/)?(transparency|verify)(/|\.|$)|^/static/|^/supplier/(login|logout)$")
_PORTAL_PATH = re.compile(r"^/(?:api/)?supplier/([^/]+)(?:/|$)")
#: The largest certificate POST /api/verify reads.
MAX_CERTIFICATE_BYTES = 1_000_000

api = APIRouter(prefix="/api", tags=["trace, origin, supply"])
pages = APIRouter(include_in_schema=False)


def trace_data(request: Request) -> TraceData:
    return request.app.state.trace_data


Data = Annotated[TraceData, Depends(trace_data)]
Direction = Annotated[str | None, Query(description="forward (what was made from it) or backward")]
Kind = Annotated[
    str | None, Query(description="node kind: lot, wafer, material_lot, unit, reel, shipment...")
]
Name = Annotated[str | None, Query(description="the node's name")]
Suspects = Annotated[
    list[str] | None, Query(alias="suspect", description="kind:name of a suspect, repeatable")
]


def _quoted(text: str) -> str:
    return quote(text, safe="")


# ------------------------------------------------------------------------------------------------
# Identity


def _refusal(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": message}, status_code=status)
    return request.app.state.templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )


def supplier_of(request: Request) -> str | None:
    """The org id the middleware resolved for this request, None for the maker's staff."""
    return getattr(request.state, "supplier", None)


def install(app: FastAPI) -> None:
    """Add these pages, their twins and the supplier-identity middleware to the dashboard ``app``."""
    dashboard = app.state.dashboard
    app.state.trace_data = TraceData(dashboard.data_dir, dashboard.database_url)
    app.include_router(api)
    app.include_router(pages)

    @app.exception_handler(BadQuery)
    async def bad_query(request: Request, exc: BadQuery) -> Response:
        return _refusal(request, 422, str(exc))

    from silicio.supply import AccessDenied

    @app.exception_handler(AccessDenied)
    async def access_denied(request: Request, exc: AccessDenied) -> Response:
        return _refusal(request, 403, str(exc))

    @app.middleware("http")
    async def supplier_identity(request: Request, call_next):
        token = request.headers.get(SUPPLIER_HEADER) or request.cookies.get(SUPPLIER_COOKIE)
        path = request.url.path
        request.state.supplier = None
        if token:
            org_id = app.state.trace_data.supplier_tokens().get(token)
            if org_id is None:
                return _refusal(request, 401, "unknown supplier token")
            request.state.supplier = org_id
            portal = _PORTAL_PATH.match(path)
            own = portal is not None and portal.group(1) == org_id
            if not own and not _PUBLIC_PATHS.match(path):
                return _refusal(request, 403, f"a supplier account may open only /supplier/{org_id}, "
                                              "/transparency and /verify")  # fmt: skip
        elif (portal := _PORTAL_PATH.match(path)) and portal.group(1) not in ("login", "logout"):
            return _refusal(request, 401, "the supplier portal needs the supplier's token: sign in at "
                                          f"/supplier/login or send the {SUPPLIER_HEADER} header")  # fmt: skip
        return await call_next(request)


def _bad(exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=422)


# ------------------------------------------------------------------------------------------------
# JSON twins and CSVs


@api.get(
    "/trace", response_model=m.TracePage, summary="Forward or backward trace, operator flags, audit chain"
)
def trace_api(data: Data, direction: Direction = None, kind: Kind = None, name: Name = None) -> m.TracePage:
    return data.trace(direction, kind, name)


@api.get("/trace/recall", response_model=m.TracePage, summary="Recall scope of suspect nodes")
def recall_api(data: Data, suspects: Suspects = None) -> m.TracePage:
    return data.recall(suspects or [])


@api.get("/trace/recall/{table}.csv", summary="A table of the recall scope as CSV")
def recall_csv(data: Data, table: str, suspects: Suspects = None) -> Response:
    return csv_response(data.recall(suspects or []), table, "recall")


@api.get("/trace/{table}.csv", summary="A table of the trace page as CSV")
def trace_csv(
    data: Data, table: str, direction: Direction = None, kind: Kind = None, name: Name = None
) -> Response:
    return csv_response(data.trace(direction, kind, name), table, "trace")


@api.get(
    "/origin", response_model=m.OriginPage, summary="National content, USMCA and Hecho en México by product"
)
def origin_api(data: Data) -> m.OriginPage:
    return data.origin()


@api.get("/origin/{table}.csv", summary="A table of the origin page as CSV")
def origin_csv(data: Data, table: str) -> Response:
    return csv_response(data.origin(), table, "origin")


@api.get("/origin/{part_number}", response_model=m.OriginDetail, summary="One product's origin")
def origin_detail_api(data: Data, part_number: str) -> m.OriginDetail:
    return data.origin_detail(part_number)


@api.get("/origin/{part_number}/{table}.csv", summary="A table of a product's origin as CSV")
def origin_detail_csv(data: Data, part_number: str, table: str) -> Response:
    return csv_response(data.origin_detail(part_number), table, part_number)


@api.get("/certificates", response_model=m.CertificatesPage, summary="Certificates issued")
def certificates_api(data: Data) -> m.CertificatesPage:
    return data.certificates()


@api.get("/certificates/{table}.csv", summary="The certificates as CSV")
def certificates_csv(data: Data, table: str) -> Response:
    return csv_response(data.certificates(), table, "certificates")


@api.get("/certificates/{cert_id}", response_model=m.CertificatePage, summary="A certificate and its check")
def certificate_api(data: Data, cert_id: str) -> m.CertificatePage:
    return data.certificate(cert_id)


@api.get("/certificates/{cert_id}/{table}.csv", summary="A certificate's fields as CSV")
def certificate_csv(data: Data, cert_id: str, table: str) -> Response:
    return csv_response(data.certificate(cert_id), table, cert_id)


@api.get("/verify/{cert_id}", response_model=m.VerifyPage, summary="Public check of a stored certificate")
def verify_api(data: Data, cert_id: str) -> m.VerifyPage:
    return data.verify_page(cert_id)


@api.post(
    "/verify", response_model=m.VerifyPage, summary="Check an uploaded certificate (its JSON as the body)"
)
async def verify_upload_api(request: Request, data: Data) -> Response:
    body = await request.body()
    if not body:
        return _bad(ValueError("no certificate: send the certificate's JSON document as the request body"))
    if len(body) > MAX_CERTIFICATE_BYTES:
        return _bad(ValueError(f"certificate larger than {MAX_CERTIFICATE_BYTES:,} bytes"))
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _bad(ValueError(f"the body is not a JSON certificate ({exc})"))
    try:
        page = data.verify_upload(document)
    except BadQuery as exc:
        return _bad(exc)
    return JSONResponse(page.model_dump(mode="json"))


@api.get("/supply", response_model=m.SupplyPage, summary="Supplier registry, risk and nearshoring (internal)")
def supply_api(data: Data) -> m.SupplyPage:
    return data.supply()


@api.get("/supply/{table}.csv", summary="A table of the supply page as CSV")
def supply_csv(data: Data, table: str) -> Response:
    return csv_response(data.supply(), table, "supply")


@api.get("/transparency", response_model=m.TransparencyPage, summary="Public aggregates of the ecosystem")
def transparency_api(data: Data) -> m.TransparencyPage:
    return data.transparency()


@api.get("/transparency/{table}.csv", summary="The public aggregates as CSV")
def transparency_csv(data: Data, table: str) -> Response:
    return csv_response(data.transparency(), table, "transparency")


@api.get(
    "/supplier/{org_id}", response_model=m.SupplierPortal, summary="A supplier's own records (its token)"
)
def supplier_api(data: Data, org_id: str) -> m.SupplierPortal:
    return data.supplier_portal(org_id)


@api.get("/supplier/{org_id}/{table}.csv", summary="A table of the supplier's portal as CSV")
def supplier_csv(data: Data, org_id: str, table: str) -> Response:
    return csv_response(data.supplier_portal(org_id), table, org_id)


def _update_organisation(data: TraceData, org_id: str, fields: dict) -> m.SupplierPortal:
    from silicio.supply import AccessDenied, RegistryError, SupplierView

    editable = ("name", "state", "employees")
    unknown = sorted(set(fields) - set(editable))
    if unknown:
        raise BadQuery(f"field {unknown[0]!r} cannot be changed here; editable: {', '.join(editable)}")
    view = SupplierView(data.registry(), org_id)
    row = {**view.organisation(), **{k: v for k, v in fields.items()}}
    if row.get("employees") in ("", None):
        row["employees"] = None
    try:
        data.save_registry(view.update("organisations", [row]))
    except (AccessDenied, RegistryError) as exc:
        raise BadQuery(str(exc)) from None
    return data.supplier_portal(org_id)


def _answer_request(data: TraceData, org_id: str, request_id: str, status: str) -> m.SupplierPortal:
    from silicio.supply import AccessDenied, RegistryError, SupplierView

    view = SupplierView(data.registry(), org_id)
    try:
        data.save_registry(view.answer(request_id, status))
    except AccessDenied as exc:
        raise NotFound(str(exc)) from None
    except RegistryError as exc:
        raise BadQuery(str(exc)) from None
    return data.supplier_portal(org_id)


async def _json_object(request: Request) -> dict:
    try:
        body = json.loads(await request.body())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadQuery(f"the body is not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise BadQuery("the body must be a JSON object")
    return body


@api.post("/supplier/{org_id}/organisation", response_model=m.SupplierPortal,
          summary="Update the supplier's own organisation record")  # fmt: skip
async def supplier_update_api(request: Request, data: Data, org_id: str) -> Response:
    try:
        page = _update_organisation(data, org_id, await _json_object(request))
    except BadQuery as exc:
        return _bad(exc)
    return JSONResponse(page.model_dump(mode="json"))


@api.post("/supplier/{org_id}/requests/{request_id}", response_model=m.SupplierPortal,
          summary="Set the status of a request addressed to the supplier")  # fmt: skip
async def supplier_answer_api(request: Request, data: Data, org_id: str, request_id: str) -> Response:
    try:
        status = (await _json_object(request)).get("status", "answered")
        page = _answer_request(data, org_id, request_id, status)
    except BadQuery as exc:
        return _bad(exc)
    return JSONResponse(page.model_dump(mode="json"))


# ------------------------------------------------------------------------------------------------
# Pages


@pages.get("/trace", response_class=HTMLResponse)
def trace_page(request: Request, data: Data, direction: Direction = None, kind: Kind = None,
               name: Name = None) -> Response:  # fmt: skip
    return render(request, "trace.html", data.trace(direction, kind, name), "/api/trace")


@pages.get("/trace/recall", response_class=HTMLResponse)
def recall_page(request: Request, data: Data, suspects: Suspects = None) -> Response:
    return render(request, "trace.html", data.recall(suspects or []), "/api/trace/recall")


@pages.get("/origin", response_class=HTMLResponse)
def origin_page(request: Request, data: Data) -> Response:
    return render(request, "origin.html", data.origin(), "/api/origin")


@pages.get("/origin/{part_number}", response_class=HTMLResponse)
def origin_detail_page(request: Request, data: Data, part_number: str) -> Response:
    return render(request, "origin_product.html", data.origin_detail(part_number),
                  f"/api/origin/{_quoted(part_number)}")  # fmt: skip


@pages.get("/certificates", response_class=HTMLResponse)
def certificates_page(request: Request, data: Data) -> Response:
    return render(request, "certificates.html", data.certificates(), "/api/certificates")


@pages.get("/certificates/{cert_id}", response_class=HTMLResponse)
def certificate_page(request: Request, data: Data, cert_id: str) -> Response:
    return render(
        request,
        "certificates_detail.html",
        data.certificate(cert_id),
        f"/api/certificates/{_quoted(cert_id)}",
    )


@pages.get("/certificates/{cert_id}/pdf")
def certificate_pdf(data: Data, cert_id: str) -> Response:
    filename = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in cert_id) + ".pdf"
    return Response(data.certificate_pdf(cert_id), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip


@pages.get("/verify/{cert_id}", response_class=HTMLResponse)
def verify_page(request: Request, data: Data, cert_id: str) -> Response:
    return render(request, "verify.html", data.verify_page(cert_id), f"/api/verify/{_quoted(cert_id)}")


@pages.get("/supply", response_class=HTMLResponse)
def supply_page(request: Request, data: Data) -> Response:
    return render(request, "supply.html", data.supply(), "/api/supply")


@pages.get("/transparency", response_class=HTMLResponse)
def transparency_page(request: Request, data: Data) -> Response:
    return render(request, "transparency.html", data.transparency(), "/api/transparency")


@pages.get("/supplier/login", response_class=HTMLResponse)
def supplier_login_form(request: Request) -> Response:
    return request.app.state.templates.TemplateResponse(request, "supply_login.html", {"message": None})


@pages.post("/supplier/login")
async def supplier_login(request: Request, data: Data) -> Response:
    token = (parse_qs((await request.body()).decode("utf-8", "replace")).get("token") or [""])[0].strip()
    org_id = data.supplier_tokens().get(token)
    if org_id is None:
        return request.app.state.templates.TemplateResponse(
            request, "supply_login.html", {"message": "unknown supplier token"}, status_code=401
        )
    response = RedirectResponse(f"/supplier/{_quoted(org_id)}", status_code=303)
    response.set_cookie(SUPPLIER_COOKIE, token, httponly=True, samesite="strict")
    return response


@pages.post("/supplier/logout")
def supplier_logout() -> Response:
    response = RedirectResponse("/supplier/login", status_code=303)
    response.delete_cookie(SUPPLIER_COOKIE)
    return response


@pages.get("/supplier/{org_id}", response_class=HTMLResponse)
def supplier_page(request: Request, data: Data, org_id: str) -> Response:
    return render(
        request, "supply_portal.html", data.supplier_portal(org_id), f"/api/supplier/{_quoted(org_id)}"
    )


async def _form(request: Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}


@pages.post("/supplier/{org_id}/organisation")
async def supplier_update_page(request: Request, data: Data, org_id: str) -> Response:
    try:
        _update_organisation(data, org_id, await _form(request))
    except BadQuery as exc:
        return _refusal(request, 422, str(exc))
    return RedirectResponse(f"/supplier/{_quoted(org_id)}", status_code=303)


@pages.post("/supplier/{org_id}/requests/{request_id}")
async def supplier_answer_page(request: Request, data: Data, org_id: str, request_id: str) -> Response:
    try:
        _answer_request(data, org_id, request_id, (await _form(request)).get("status", "answered"))
    except BadQuery as exc:
        return _refusal(request, 422, str(exc))
    return RedirectResponse(f"/supplier/{_quoted(org_id)}", status_code=303)
