"""Pages and JSON twins of traceability (``/trace``), origin (``/origin``), certificates
(``/certificates``, the public ``/verify/{id}``) and the supplier registry (``/supply``; the public
``/transparency`` is in :mod:`silicio.web.public_pages`, the supplier portal in
:mod:`silicio.web.supplier_pages`), declared once (:mod:`silicio.web.declare`); the uploads and
downloads are hand-written routes.

Who may see what is each route's declared access (:mod:`silicio.web.access`): the verify pages
are public, origin, certificates and the supplier registry (prices, costs, suppliers)
``quality``, trace ``internal``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from . import links
from . import models as m
from .access import access
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


# ------------------------------------------------------------------------------------------------
# Pages


@pages.get("/verify", response_class=HTMLResponse)
@access("public")
def verify_start(
    request: Request,
    cert_id: Annotated[str | None, Query(max_length=200, description="the certificate's id")] = None,
) -> Response:
    """Where the public starts a certificate check: the id typed in leads to its page."""
    if cert_id and cert_id.strip():
        return RedirectResponse(links.verify_url(cert_id.strip()), status_code=303)
    return request.app.state.templates.TemplateResponse(request, "verify_start.html", {})


@pages.get("/certificates/{cert_id}/pdf")
@access("quality")
def certificate_pdf(request: Request, data: TraceSource, cert_id: str) -> Response:
    filename = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in cert_id) + ".pdf"
    return Response(data.certificate_pdf(cert_id, language_of(request)), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip
