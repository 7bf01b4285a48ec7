"""Pages and JSON twins of traceability (``/trace``), origin (``/origin``), certificates
(``/certificates``, the public ``/verify/{id}``), the supplier registry (``/supply``; the public
``/transparency`` is in :mod:`silicio.web.public_pages`) and the supplier portal
(``/supplier/{org_id}``), declared once
(:mod:`silicio.web.declare`); the forms, uploads and downloads are hand-written routes.

Who may see what is each route's declared access (:mod:`silicio.web.access`): the verify page
is public, the portal a supplier's own (``supplier``: only that
organisation's supplier opens ``/supplier/<its org_id>``), origin, certificates and the supplier
registry (prices, costs, suppliers) ``quality``, trace ``internal``.
"""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from . import links
from . import models as m
from .access import SUPPLIER_COOKIE, access, principal_of, refusal
from .dashboard import NotFound
from .declare import Nav, Page, TraceSource
from .i18n import language_of
from .tracedata import BadQuery, TraceData

#: The largest certificate POST /api/verify reads.
MAX_CERTIFICATE_BYTES = 1_000_000

api = APIRouter(prefix="/api", tags=["trace, origin, supply"])
pages = APIRouter(include_in_schema=False)

Direction = Annotated[str | None, Query(description="forward (what was made from it) or backward")]
Kind = Annotated[
    str | None, Query(description="node kind: lot, wafer, material_lot, unit, reel, shipment...")
]
Name = Annotated[str | None, Query(description="the node's name")]
Suspects = Annotated[
    list[str] | None, Query(alias="suspect", description="kind:name of a suspect, repeatable")
]


def _bad(exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=422)


# ------------------------------------------------------------------------------------------------
# Declared pages


def trace(data: TraceData, direction: Direction = None, kind: Kind = None, name: Name = None) -> m.TracePage:
    return data.trace(direction, kind, name)


def recall(data: TraceData, suspects: Suspects = None) -> m.TracePage:
    return data.recall(suspects or [])


def origin(data: TraceData) -> m.OriginPage:
    return data.origin()


def origin_detail(data: TraceData, part_number: str) -> m.OriginDetail:
    return data.origin_detail(part_number)


def disposition(data: TraceData) -> m.DispositionPage:
    return data.disposition()


def certificates(data: TraceData) -> m.CertificatesPage:
    return data.certificates()


def certificate(data: TraceData, cert_id: str) -> m.CertificatePage:
    return data.certificate(cert_id)


def verify(data: TraceData, cert_id: str) -> m.VerifyPage:
    return data.verify_page(cert_id)


def supply(data: TraceData) -> m.SupplyPage:
    return data.supply()


def supplier_portal(data: TraceData, org_id: str) -> m.SupplierPortal:
    return data.supplier_portal(org_id)


# Fixed paths before the parametrised paths that would swallow them (/origin/{table}.csv before
# /origin/{part_number}).
PAGES = (
    Page(path="/trace", compute=trace, template="trace.html", access="internal",
         summary="Forward or backward trace, operator flags, audit chain", nav=Nav("Trace", "trace", 1)),
    Page(path="/trace/recall", compute=recall, template="trace.html", access="internal",
         summary="Recall scope of suspect nodes"),
    Page(path="/origin", compute=origin, template="origin.html", access="quality",
         summary="National content, USMCA and Hecho en México by product", nav=Nav("Origin", "trace", 2)),
    Page(path="/origin/{part_number}", compute=origin_detail, template="origin_product.html", access="quality",
         summary="One product's origin", csv_name="{part_number}"),
    Page(path="/disposition", compute=disposition, template="disposition.html", access="quality",
         summary="Lots awaiting disposition and every signed step", nav=Nav("Disposition", "trace", 4)),
    Page(path="/certificates", compute=certificates, template="certificates.html", access="quality",
         summary="Certificates issued", nav=Nav("Certificates", "trace", 3)),
    Page(path="/certificates/{cert_id}", compute=certificate, template="certificates_detail.html",
         access="quality", summary="A certificate and its check", csv_name="{cert_id}"),
    Page(path="/verify/{cert_id}", compute=verify, template="verify.html", access="public",
         summary="Public check of a stored certificate", csv_name="{cert_id}"),
    Page(path="/supply", compute=supply, template="supply.html", access="quality",
         summary="Supplier registry, risk and nearshoring (internal)", nav=Nav("Supply", "supply", 1)),
    Page(path="/supplier/{org_id}", compute=supplier_portal, template="supply_portal.html", access="supplier",
         summary="A supplier's own records (its token)", csv_name="{org_id}"),
)  # fmt: skip


# ------------------------------------------------------------------------------------------------
# JSON twins and CSVs


@api.post(
    "/verify", response_model=m.VerifyPage, summary="Check an uploaded certificate (its JSON as the body)"
)
@access("public")
async def verify_upload_api(request: Request, data: TraceSource) -> Response:
    body = await request.body()
    if not body:
        return _bad(ValueError("no certificate: send the certificate's JSON document as the request body"))
    if len(body) > MAX_CERTIFICATE_BYTES:
        return _bad(ValueError(f"certificate larger than {MAX_CERTIFICATE_BYTES:,} bytes"))
    from silicio.origin import CertificateError
    from silicio.origin.schema import parse_document

    try:
        # Strictly: a key given twice (the file showing one importer, a lax reader keeping the
        # other) or a field outside the envelope is refused, not verified.
        document = parse_document(body, "the uploaded certificate")
    except (CertificateError, ValueError, RecursionError) as exc:
        return _bad(ValueError(f"the body is not a JSON certificate ({exc})"))
    try:
        page = data.verify_upload(document)
    except BadQuery as exc:
        return _bad(exc)
    return JSONResponse(page.model_dump(mode="json"))


#: The organisation fields a supplier edits, and the most characters a text field may have.
EDITABLE_FIELDS = ("name", "state", "employees")
MAX_FIELD_CHARS = 200
#: More employees than any company has: a number above it is a typing error (or 1e30), not a size.
MAX_EMPLOYEES = 10_000_000


def _organisation_field(name: str, value: object) -> str | int | None:
    """A supplier's edit of field ``name`` as the registry stores it, or BadQuery saying what was expected."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if name == "employees":
        text = str(value).strip()
        if isinstance(value, bool) or not (isinstance(value, int) or (text.isascii() and text.isdigit())):
            raise BadQuery(
                f"employees: expected a whole number from 0 to {MAX_EMPLOYEES:,}, got {text[:40]!r}"
            )
        number = int(text) if len(text) <= 12 else MAX_EMPLOYEES + 1  # no 5,000-digit int() to parse
        if not 0 <= number <= MAX_EMPLOYEES:
            raise BadQuery(
                f"employees: expected a whole number from 0 to {MAX_EMPLOYEES:,}, got {text[:40]!r}"
            )
        return number
    if not isinstance(value, str):
        raise BadQuery(f"{name}: expected text, got {type(value).__name__}")
    if len(value) > MAX_FIELD_CHARS or not value.isprintable():
        raise BadQuery(f"{name}: expected at most {MAX_FIELD_CHARS} printable characters")
    return value


def _update_organisation(data: TraceData, org_id: str, fields: dict, actor: str) -> m.SupplierPortal:
    from silicio.supply import AccessDenied, RegistryError, SupplierView

    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise BadQuery(
            f"field {str(unknown[0])[:40]!r} cannot be changed here; editable: {', '.join(EDITABLE_FIELDS)}"
        )
    view = SupplierView(data.registry(), org_id)
    row = {**view.organisation(), **{k: _organisation_field(k, v) for k, v in fields.items()}}
    try:
        data.save_registry(view.update("organisations", [row]), actor=actor,
                           change={"organisation": org_id, "fields": sorted(fields)})  # fmt: skip
    except (AccessDenied, RegistryError) as exc:
        raise BadQuery(str(exc)) from None
    return data.supplier_portal(org_id)


def _answer_request(
    data: TraceData, org_id: str, request_id: str, status: str, actor: str
) -> m.SupplierPortal:
    from silicio.supply import AccessDenied, RegistryError, SupplierView

    view = SupplierView(data.registry(), org_id)
    try:
        data.save_registry(view.answer(request_id, status), actor=actor,
                           change={"organisation": org_id, "request": request_id, "status": str(status)[:40]})  # fmt: skip
    except AccessDenied as exc:
        raise NotFound(str(exc)) from None
    except RegistryError as exc:
        raise BadQuery(str(exc)) from None
    return data.supplier_portal(org_id)


async def _json_object(request: Request) -> dict:
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError) as exc:  # a JSONDecodeError, a 5,000-digit number, bad UTF-8
        raise BadQuery(f"the body is not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise BadQuery("the body must be a JSON object")
    return body


@api.post("/supplier/{org_id}/organisation", response_model=m.SupplierPortal,
          summary="Update the supplier's own organisation record")  # fmt: skip
@access("supplier")
async def supplier_update_api(request: Request, data: TraceSource, org_id: str) -> Response:
    try:
        page = _update_organisation(data, org_id, await _json_object(request), principal_of(request).actor)
    except BadQuery as exc:
        return _bad(exc)
    return JSONResponse(page.model_dump(mode="json"))


@api.post("/supplier/{org_id}/requests/{request_id}", response_model=m.SupplierPortal,
          summary="Set the status of a request addressed to the supplier")  # fmt: skip
@access("supplier")
async def supplier_answer_api(request: Request, data: TraceSource, org_id: str, request_id: str) -> Response:
    try:
        status = (await _json_object(request)).get("status", "answered")
        page = _answer_request(data, org_id, request_id, status, principal_of(request).actor)
    except BadQuery as exc:
        return _bad(exc)
    return JSONResponse(page.model_dump(mode="json"))


# ------------------------------------------------------------------------------------------------
# Pages


@pages.get("/certificates/{cert_id}/pdf")
@access("quality")
def certificate_pdf(request: Request, data: TraceSource, cert_id: str) -> Response:
    filename = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in cert_id) + ".pdf"
    return Response(data.certificate_pdf(cert_id, language_of(request)), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip


@pages.get("/supplier/login", response_class=HTMLResponse)
@access("signin")
def supplier_login_form(request: Request) -> Response:
    return request.app.state.templates.TemplateResponse(request, "supply_login.html", {"message": None})


@pages.post("/supplier/login")
@access("signin")
async def supplier_login(request: Request, data: TraceSource) -> Response:
    token = (parse_qs((await request.body()).decode("utf-8", "replace")).get("token") or [""])[0].strip()
    org_id = data.supplier_tokens().get(token)
    if org_id is None:
        return request.app.state.templates.TemplateResponse(
            request, "supply_login.html", {"message": "unknown supplier token"}, status_code=401
        )
    response = RedirectResponse(links.supplier_url(org_id), status_code=303)
    response.set_cookie(SUPPLIER_COOKIE, token, httponly=True, samesite="strict")
    return response


@pages.post("/supplier/logout")
@access("signin")
def supplier_logout() -> Response:
    response = RedirectResponse("/supplier/login", status_code=303)
    response.delete_cookie(SUPPLIER_COOKIE)
    return response


async def _form(request: Request) -> dict[str, str]:
    fields = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    fields.pop("csrf_token", None)  # the access gate checked it (silicio.web.access)
    return fields


@pages.post("/supplier/{org_id}/organisation")
@access("supplier")
async def supplier_update_page(request: Request, data: TraceSource, org_id: str) -> Response:
    try:
        _update_organisation(data, org_id, await _form(request), principal_of(request).actor)
    except BadQuery as exc:
        return refusal(request, 422, str(exc))
    return RedirectResponse(links.supplier_url(org_id), status_code=303)


@pages.post("/supplier/{org_id}/requests/{request_id}")
@access("supplier")
async def supplier_answer_page(request: Request, data: TraceSource, org_id: str, request_id: str) -> Response:
    try:
        status = (await _form(request)).get("status", "answered")
        _answer_request(data, org_id, request_id, status, principal_of(request).actor)
    except BadQuery as exc:
        return refusal(request, 422, str(exc))
    return RedirectResponse(links.supplier_url(org_id), status_code=303)
