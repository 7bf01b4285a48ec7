"""The supplier portal (``/supplier/{org_id}``) and the review of what suppliers propose
(``/supply/review``), declared once (:mod:`silicio.web.declare`); the forms, uploads and
downloads are hand-written routes.

A supplier (role ``supplier``, bound to its organisation) sees its own records and proposes
changes to them: its organisation's name, state and employees, a capacity, a certification with
its file (PDF or image), a lead time, survey answers (:mod:`silicio.supply.proposals`). Each proposal is stored pending with who proposed it
and when (the catalog's ``supplier_proposals``); the maker's quality staff approve or reject it
(a rejection with its reason) on the review page, and only an approved one is written to the
supplier registry the supply models read. Every step (proposed, approved, rejected, and the
registry written) is an entry of the audit chain with its actor.

Who may see what (:mod:`silicio.web.access`): the portal and its forms are ``supplier`` (only
that organisation's supplier); the review page, its forms and the files it links ``quality``
(an auditor reads the queue; only admin and quality approve or reject). A certificate's file is
served to the supplier that sent it and to those staff only.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi import Path as PathParameter
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from . import links
from . import models as m
from .access import SUPPLIER_COOKIE, access, principal_of, refusal
from .dashboard import NotFound
from .declare import Nav, Page, TraceSource
from .formdata import FormError, UploadedFile, read_form
from .tracedata import BadQuery, TraceData

api = APIRouter(prefix="/api", tags=["supplier portal"])
pages = APIRouter(include_in_schema=False)

#: The kinds of change a supplier proposes (silicio.supply.proposals.PROPOSAL_KINDS).
Kind = Literal["organisation", "capacity", "lead_time", "certification", "survey"]
#: A proposal's number: the catalog's ids are 64-bit (a larger one is a 422, not a database error).
ProposalId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="the proposal's number")]
#: Who approves or rejects a proposal (an auditor reads the queue, it does not decide).
REVIEWERS = frozenset({"admin", "quality"})
#: The most characters of a rejection's reason.
MAX_REASON_CHARS = 500
#: Where the certificate files are kept, under the data directory's supply folder, by SHA-256.
FILES_DIR = "files"


# ------------------------------------------------------------------------------------------------
# Models


class ProposalRow(m.Row):
    """One proposed change, as its supplier and the reviewers see it (``url``: its file)."""

    id: int = m.ident("#")
    kind: str = m.text("Change")
    summary: str = m.text("What")
    status: str = m.text("Status")
    proposed_by: str = m.text("Proposed by")
    proposed_at: datetime = m.moment("Proposed (UTC)")
    reviewed_by: str | None = m.text("Reviewed by", None)
    reviewed_at: datetime | None = m.moment("Reviewed (UTC)", None)
    reason: str | None = m.text("Reason", None)
    file_name: str | None = m.text("File", None)
    file_sha256: str | None = m.text("File SHA-256", None)


class ReviewRow(ProposalRow):
    org_id: str = m.text("Organisation")


class SurveyField(BaseModel):
    """One answer the survey asks of the supplier: the form field, the question, its site."""

    name: str
    question: str
    site_id: str | None = None
    value: float | int | None = None


class SupplierPortalPage(m.SupplierPortal):
    """What one supplier sees: its own records, the requests addressed to it, the changes it
    proposed (pending, approved, rejected) and the survey it may answer."""

    proposals: list[ProposalRow]
    survey: list[SurveyField]
    standards: list[str]
    capability_types: list[str]
    max_file_bytes: int


class ReviewPage(BaseModel):
    """The changes suppliers proposed: those waiting for a decision, then the last decided."""

    pending_count: int = Field(title="Waiting for review")
    pending: list[ReviewRow]
    reviewed: list[ReviewRow]


# ------------------------------------------------------------------------------------------------
# Storage: the proposals in the catalog, the files under DATA/supply/files


def _catalog(data: TraceData):
    from silicio.lake.catalog import Catalog
    from silicio.lake.layout import LakeLayout

    if not data.data_dir.is_dir():
        raise NotFound(f"no data directory {data.data_dir}")
    # the migration check reads the scripts' head from a per-process cache (silicio.lake.catalog)
    return Catalog(LakeLayout.at(data.data_dir).database_url(data.database_url))


def _summary(kind: str, payload: dict[str, Any]) -> str:
    """A proposal in a line (the codes and figures as the supplier typed them)."""
    if kind == "organisation":
        return "; ".join(f"{name} = {value}" for name, value in payload.items())
    if kind == "capacity":
        return (f"{payload['site_id']} · {payload['type']} {payload['value']}: "
                f"{payload['capacity_per_week']:g} {payload['unit']} / week")  # fmt: skip
    if kind == "lead_time":
        return f"{payload['site_id']} · {payload['type']} {payload['value']}: {payload['lead_time_weeks']:g} weeks"
    if kind == "certification":
        site = f" ({payload['site_id']})" if payload.get("site_id") else ""
        return (f"{payload['standard']}{site} no. {payload['certificate']} by {payload['issuer']}, "
                f"{payload['issued']} to {payload['expires']}")  # fmt: skip
    return "; ".join(f"{name} = {value:g}" for name, value in payload.get("answers", {}).items())


def _row(record: dict[str, Any], model: type[ProposalRow], url: str | None) -> ProposalRow:
    fields = {k: record[k] for k in model.model_fields if k in record and k not in ("url", "summary")}
    return model(**fields, summary=_summary(record["kind"], record["payload"]),
                 url=url if record.get("file_sha256") else None)  # fmt: skip


def supplier_file_url(org_id: str, proposal_id: int) -> str:
    return f"{links.supplier_url(org_id)}/proposals/{proposal_id}/file"


def review_file_url(proposal_id: int) -> str:
    return f"/supply/review/{proposal_id}/file"


def _store_file(data: TraceData, upload: UploadedFile) -> dict[str, Any]:
    """Keep an uploaded certificate file (content-addressed: the same file is kept once) and
    say what it is; RegistryError when it is not a PDF or image within the size limit."""
    from silicio.supply.proposals import file_type

    media_type = file_type(upload.filename or "the file", upload.content)
    digest = hashlib.sha256(upload.content).hexdigest()
    folder = data.paths.supply / FILES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / digest
    if not path.exists():
        tmp = folder / f".{digest}.tmp"
        tmp.write_bytes(upload.content)
        tmp.replace(path)  # readers never see half a file
    name = "".join(ch if ch.isalnum() or ch in "-_. " else "_" for ch in (upload.filename or "certificate"))
    return {
        "sha256": digest,
        "name": name[:120] or "certificate",
        "type": media_type,
        "bytes": len(upload.content),
    }


def _file_response(data: TraceData, record: dict[str, Any]) -> Response:
    digest = record.get("file_sha256")
    path = data.paths.supply / FILES_DIR / digest if digest else None
    if path is None or not path.is_file():
        raise NotFound(f"proposal #{record['id']} has no file")
    content = path.read_bytes()
    if (
        hashlib.sha256(content).hexdigest() != digest
    ):  # the stored file was altered: not served as the sent one
        raise BadQuery(f"the stored file of proposal #{record['id']} no longer has its SHA-256 {digest}")
    filename = "".join(
        ch if ch.isalnum() or ch in "-_." else "_" for ch in record.get("file_name") or "certificate"
    )
    return Response(content, media_type=record["file_type"],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip


def _proposal(data: TraceData, proposal_id: int, org_id: str | None = None) -> dict[str, Any]:
    """Proposal ``proposal_id`` (of ``org_id`` when given: another's is not found, the same answer
    as one that does not exist)."""
    from silicio.lake.queries import supplier_portal as queries

    with _catalog(data) as catalog:
        rows = queries.proposal_rows(catalog.engine, ids=[proposal_id], org_id=org_id)
    if not rows:
        raise NotFound(f"no proposal #{proposal_id}" + (f" of {org_id}" if org_id else ""))
    return rows[0]


def propose(data: TraceData, org_id: str, kind: str, fields: dict[str, Any], upload: UploadedFile | None,
            actor: str) -> dict[str, Any]:  # fmt: skip
    """Check and store a pending ``kind`` proposal of supplier ``org_id``; log it with its actor."""
    from silicio.lake.queries import supplier_portal as queries
    from silicio.supply import AccessDenied, RegistryError, SupplierView
    from silicio.supply.proposals import checked_proposal

    fields = {k: v for k, v in fields.items() if k != "csrf_token"}  # the access gate checked it
    try:
        payload = checked_proposal(SupplierView(data.registry(), org_id), kind, fields)
        if kind == "certification" and upload is None:
            raise RegistryError("file: a certification needs its certificate file (PDF, PNG or JPEG)")
        if kind != "certification" and upload is not None:
            raise RegistryError(f"file: a {kind} change takes no file")
        stored = _store_file(data, upload) if upload is not None else None
    except (AccessDenied, RegistryError) as exc:
        raise BadQuery(str(exc)) from None
    with _catalog(data) as catalog:
        proposal_id = queries.insert_proposal(catalog.engine, org_id=org_id, kind=kind, payload=payload,
                                              proposed_by=actor, file=stored)  # fmt: skip
    logged = {"organisation": org_id, "kind": kind, "payload": payload}
    if stored is not None:
        logged["file_sha256"] = stored["sha256"]
    data.store().log_change(actor, "propose", "supplier_proposal", str(proposal_id), logged)
    return _proposal(data, proposal_id)


def review(data: TraceData, proposal_id: int, decision: str, actor: str, role: str,
           reason: str | None) -> dict[str, Any]:  # fmt: skip
    """Approve (write the change to the registry) or reject (with ``reason``) a pending proposal;
    both logged with the reviewer."""
    from silicio.lake.queries import supplier_portal as queries
    from silicio.supply import AccessDenied, RegistryError
    from silicio.supply.proposals import apply_proposal

    if role not in REVIEWERS:
        raise _NotReviewer(f"your role ({role}) reads the review queue; admin and quality approve or reject")
    reason = (reason or "").strip() or None
    if reason is not None and (len(reason) > MAX_REASON_CHARS or not reason.isprintable()):
        raise BadQuery(f"reason: expected at most {MAX_REASON_CHARS} printable characters")
    if decision == "reject" and reason is None:
        raise BadQuery("reason: a rejection says why (the supplier reads it)")
    with data._lock:  # one review at a time: the registry is read, changed and written whole
        record = _proposal(data, proposal_id)
        if record["status"] != "pending":
            raise _AlreadyReviewed(f"proposal #{proposal_id} is already {record['status']} "
                                   f"(by {record['reviewed_by']})")  # fmt: skip
        change = {"organisation": record["org_id"], "proposal": proposal_id, "kind": record["kind"]}
        if decision == "approve":
            try:
                registry = apply_proposal(
                    data.registry(), record["org_id"], record["kind"], record["payload"]
                )
            except (AccessDenied, RegistryError) as exc:
                raise BadQuery(
                    f"proposal #{proposal_id} cannot be applied to the registry as it is now: {exc}"
                ) from None
            data.save_registry(registry, actor=actor, change=change)
        with _catalog(data) as catalog:
            status = "approved" if decision == "approve" else "rejected"
            queries.review_proposal(catalog.engine, proposal_id, status, actor, reason)
        data.store().log_change(actor, decision, "supplier_proposal", str(proposal_id),
                                {**change, "reason": reason} if reason else change)  # fmt: skip
    return _proposal(data, proposal_id)


class _NotReviewer(Exception):
    pass


class _AlreadyReviewed(Exception):
    pass


# ------------------------------------------------------------------------------------------------
# Declared pages


def supplier_portal(data: TraceData, org_id: str) -> SupplierPortalPage:
    from silicio.lake.queries import supplier_portal as queries
    from silicio.supply import CERTIFICATIONS, SupplierView
    from silicio.supply.proposals import MAX_FILE_BYTES, survey_fields
    from silicio.supply.registry import CAPABILITY_TYPES

    base = data.supplier_portal(org_id)
    view = SupplierView(data.registry(), org_id)
    with _catalog(data) as catalog:
        records = queries.proposal_rows(catalog.engine, org_id=org_id)
    sites = {row["site_id"]: row for row in view.sites().iter_rows(named=True)}
    organisation = view.organisation()
    survey = [SurveyField(name=name, question=question.text, site_id=site,
                          value=(sites[site]["ttr_weeks"] if site else organisation.get(question.key)))
              for name, question, site in survey_fields(view)]  # fmt: skip
    return SupplierPortalPage(**base.model_dump(), survey=survey, standards=list(CERTIFICATIONS),
                              capability_types=list(CAPABILITY_TYPES), max_file_bytes=MAX_FILE_BYTES,
                              proposals=[_row(r, ProposalRow, supplier_file_url(org_id, r["id"])) for r in records])  # fmt: skip


#: How many decided proposals the review page lists (the newest).
REVIEWED_SHOWN = 200


def supplier_review(data: TraceData) -> ReviewPage:
    from silicio.lake.queries import supplier_portal as queries

    with _catalog(data) as catalog:
        records = queries.proposal_rows(catalog.engine)
    pending = [_row(r, ReviewRow, review_file_url(r["id"])) for r in records if r["status"] == "pending"]
    reviewed = [_row(r, ReviewRow, review_file_url(r["id"])) for r in records if r["status"] != "pending"]
    pending.reverse()  # oldest first: the first to decide
    return ReviewPage(pending_count=len(pending), pending=pending, reviewed=reviewed[:REVIEWED_SHOWN])


PAGES = (
    Page(path="/supply/review", compute=supplier_review, template="supply_review.html", access="quality",
         summary="Changes suppliers proposed, to approve or reject", nav=Nav("Supplier changes", "supply", 3)),
    Page(path="/supplier/{org_id}", compute=supplier_portal, template="supply_portal.html", access="supplier",
         summary="A supplier's own records and the changes it proposed", csv_name="{org_id}"),
)  # fmt: skip


# ------------------------------------------------------------------------------------------------
# The requests addressed to the supplier (their status is set at once: an answer, not a record)


def _bad(exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=422)


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


async def _fields(request: Request) -> tuple[dict[str, Any], UploadedFile | None]:
    """A request's fields (a JSON object, or a form) and its one file (a form's ``file``)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        return await _json_object(request), None
    try:
        form = read_form(content_type, await request.body())
    except FormError as exc:
        raise BadQuery(str(exc)) from None
    fields: dict[str, Any] = dict(form.fields)
    fields.pop("csrf_token", None)  # the access gate checked it (silicio.web.access)
    unknown = sorted(set(form.files) - {"file"})
    if unknown:
        raise BadQuery(f"file field {unknown[0][:40]!r}: the certificate's file goes in the field 'file'")
    upload = form.files.get("file")
    if upload is not None and not upload.filename and not upload.content:
        upload = None  # a file input left empty
    return fields, upload


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
# Proposals and their review: JSON for scripts


def _proposal_json(record: dict[str, Any], status_code: int = 200) -> JSONResponse:
    shown = {k: v for k, v in record.items()}
    for key in ("proposed_at", "reviewed_at"):
        shown[key] = shown[key].isoformat() if shown[key] is not None else None
    return JSONResponse(shown, status_code=status_code)


@api.post("/supplier/{org_id}/organisation", status_code=201,
          summary="Propose a change of the supplier's organisation record (name, state, employees)")  # fmt: skip
@access("supplier")
async def supplier_update_api(request: Request, data: TraceSource, org_id: str) -> Response:
    return await supplier_propose_api(request, data, org_id, "organisation")


@api.post("/supplier/{org_id}/proposals/{kind}", status_code=201,
          summary="Propose a change of the supplier's records (JSON, or a form with the certificate's file)")  # fmt: skip
@access("supplier")
async def supplier_propose_api(request: Request, data: TraceSource, org_id: str, kind: Kind) -> Response:
    try:
        fields, upload = await _fields(request)
        record = propose(data, org_id, kind, fields, upload, principal_of(request).actor)
    except BadQuery as exc:
        return _bad(exc)
    return _proposal_json(record, 201)


@api.post("/supply/review/{proposal_id}/{decision}",
          summary="Approve or reject a supplier's proposed change (JSON: reason)")  # fmt: skip
@access("quality")
async def supplier_review_api(request: Request, data: TraceSource, proposal_id: ProposalId,
                              decision: Literal["approve", "reject"]) -> Response:  # fmt: skip
    principal = principal_of(request)
    try:
        body = await _json_object(request) if await request.body() else {}
        reason = body.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise BadQuery("reason: expected text")
        record = review(data, proposal_id, decision, principal.actor, principal.role, reason)
    except BadQuery as exc:
        return _bad(exc)
    except _NotReviewer as exc:
        return refusal(request, 403, str(exc))
    except _AlreadyReviewed as exc:
        return refusal(request, 409, str(exc))
    return _proposal_json(record)


# ------------------------------------------------------------------------------------------------
# Pages: sign-in, forms, files


@pages.get("/supplier/login", response_class=HTMLResponse)
@access("signin")
def supplier_login_form(request: Request) -> Response:
    return request.app.state.templates.TemplateResponse(request, "supply_login.html", {"message": None})


@pages.post("/supplier/login")
@access("signin")
async def supplier_login(request: Request, data: TraceSource) -> Response:
    try:
        token = read_form("application/x-www-form-urlencoded", await request.body()).fields.get("token", "")
    except FormError:
        token = ""
    org_id = data.supplier_tokens().get(token.strip())
    if org_id is None:
        return request.app.state.templates.TemplateResponse(
            request, "supply_login.html", {"message": "unknown supplier token"}, status_code=401
        )
    response = RedirectResponse(links.supplier_url(org_id), status_code=303)
    response.set_cookie(SUPPLIER_COOKIE, token.strip(), httponly=True, samesite="strict")
    return response


@pages.post("/supplier/logout")
@access("signin")
def supplier_logout() -> Response:
    response = RedirectResponse("/supplier/login", status_code=303)
    response.delete_cookie(SUPPLIER_COOKIE)
    return response


async def _form(request: Request) -> dict[str, Any]:
    return (await _fields(request))[0]


@pages.post("/supplier/{org_id}/organisation")
@access("supplier")
async def supplier_update_page(request: Request, data: TraceSource, org_id: str) -> Response:
    return await supplier_propose_page(request, data, org_id, "organisation")


@pages.post("/supplier/{org_id}/requests/{request_id}")
@access("supplier")
async def supplier_answer_page(request: Request, data: TraceSource, org_id: str, request_id: str) -> Response:
    try:
        status = (await _form(request)).get("status", "answered")
        _answer_request(data, org_id, request_id, status, principal_of(request).actor)
    except BadQuery as exc:
        return refusal(request, 422, str(exc))
    return RedirectResponse(links.supplier_url(org_id), status_code=303)


@pages.post("/supplier/{org_id}/proposals/{kind}")
@access("supplier")
async def supplier_propose_page(request: Request, data: TraceSource, org_id: str, kind: Kind) -> Response:
    try:
        fields, upload = await _fields(request)
        record = propose(data, org_id, kind, fields, upload, principal_of(request).actor)
    except BadQuery as exc:
        return refusal(request, 422, str(exc))
    return RedirectResponse(f"{links.supplier_url(org_id)}#proposal-{record['id']}", status_code=303)


@pages.get("/supplier/{org_id}/proposals/{proposal_id}/file")
@access("supplier")
def supplier_file(request: Request, data: TraceSource, org_id: str, proposal_id: ProposalId) -> Response:
    return _file_response(data, _proposal(data, proposal_id, org_id))


@pages.post("/supply/review/{proposal_id}/{decision}")
@access("quality")
async def supplier_review_page(request: Request, data: TraceSource, proposal_id: ProposalId,
                               decision: Literal["approve", "reject"]) -> Response:  # fmt: skip
    principal = principal_of(request)
    try:
        reason = (await _form(request)).get("reason")
        review(data, proposal_id, decision, principal.actor, principal.role, reason)
    except BadQuery as exc:
        return refusal(request, 422, str(exc))
    except _NotReviewer as exc:
        return refusal(request, 403, str(exc))
    except _AlreadyReviewed as exc:
        return refusal(request, 409, str(exc))
    return RedirectResponse("/supply/review", status_code=303)


@pages.get("/supply/review/{proposal_id}/file")
@access("quality")
def review_file(request: Request, data: TraceSource, proposal_id: ProposalId) -> Response:
    return _file_response(data, _proposal(data, proposal_id))
