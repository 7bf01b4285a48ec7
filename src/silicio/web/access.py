"""Who may see what: every route of the dashboard declares its access, and one gate enforces it
on the server for every request.

Access levels, and the roles (:mod:`silicio.auth.roles`) each lets in:

* ``public``: anyone, signed in or not (``/transparency``, ``/verify``, static files);
* ``signin``: anyone too, but only the sign-in forms (``/login``, ``/supplier/login``): a
  ``--public-only`` server leaves them out, with everything else that is not ``public``;
* ``internal``: the maker's staff, every staff role (admin, engineer, quality, auditor);
* ``quality``: prices, costs, suppliers and certificates: admin, quality, auditor;
* ``admin``: the accounts: admin only;
* ``supplier``: one supplier's portal (a route with an ``{org_id}`` path parameter): a supplier
  of that organisation only; another organisation's is refused (403, the same answer whether
  that organisation exists or not).

Identity, in this order: an API token (``Authorization: Bearer slc_...``); an organisation's portal
token (``X-Silicio-Token`` header, or the ``silicio_supplier`` cookie ``POST /supplier/login``
sets; ``DATA/supply/tokens.json``), which acts as that organisation's supplier; the signed
session cookie of a signed-in user (:mod:`silicio.auth.sessions`); else anonymous (role
``public``). A token that is unknown, expired or revoked is refused (401) whatever the page; a
session cookie that does not verify is no session (anonymous).

Refusals: anonymous on a page not for everyone is sent to ``/login`` (an HTML ``GET``) or told
401; a role the page does not let in is told 403.

Forms: a request that changes something (``POST``, ``PUT``, ``PATCH``, ``DELETE``) and rides on
a cookie must carry the CSRF token of its session (form field ``csrf_token`` or header
``X-CSRF-Token``), else 403. Every HTML form is such a request, sign-in forms included. Scripts
that authenticate by header (bearer or portal token) need none: a browser on another site cannot
set those headers; an ``/api`` request with no credential at all has nothing to forge.

Pages declared with :class:`silicio.web.declare.Page` carry their access; a hand-written route
declares it with :func:`access`. A route that declares none is refused to everyone, so forgetting
it fails closed (and the route-walking test names it).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

from silicio.auth.roles import ANONYMOUS, ROLES, STAFF_ROLES, Principal
from silicio.auth.sessions import SESSION_COOKIE
from silicio.i18n import N_

if TYPE_CHECKING:
    from .login import Authority

Access = Literal["public", "signin", "internal", "quality", "admin", "supplier"]
ACCESS_LEVELS: tuple[str, ...] = ("public", "signin", "internal", "quality", "admin", "supplier")
#: The roles each access level lets in (``supplier``: of the route's own organisation only).
LEVEL_ROLES: dict[str, frozenset[str]] = {
    "public": frozenset(ROLES),
    "signin": frozenset(ROLES),
    "internal": frozenset(STAFF_ROLES),
    "quality": frozenset({"admin", "quality", "auditor"}),
    "admin": frozenset({"admin"}),
    "supplier": frozenset({"supplier"}),
}
#: What a ``--public-only`` server serves.
PUBLIC_ONLY_LEVELS = frozenset({"public"})
SUPPLIER_HEADER = "X-Silicio-Token"
SUPPLIER_COOKIE = "silicio_supplier"
#: The path parameter that names the organisation of a ``supplier`` route.
OWNER_PARAMETER = "org_id"
LOGIN_PATH = "/login"
_ATTRIBUTE = "__silicio_access__"
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: How long the anonymous session behind a sign-in form's CSRF token lasts.
_FORM_SESSION = timedelta(hours=2)


def checked(level: str) -> str:
    """``level`` when it is an access level, else a ValueError naming the choices."""
    if level not in ACCESS_LEVELS:
        raise ValueError(f"access {level!r}: expected one of {', '.join(ACCESS_LEVELS)}")
    return level


def access(level: Access) -> Callable[[Callable], Callable]:
    """Declare who may reach a hand-written route; put it under the router's decorator::

    @router.get("/supplier/login")
    @access("signin")
    def supplier_login_form(request): ...
    """
    checked(level)

    def declare(endpoint: Callable) -> Callable:
        setattr(endpoint, _ATTRIBUTE, level)
        return endpoint

    return declare


def declare(route_or_endpoint: Any, level: Access) -> None:
    """Declare the access of something the app did not get from a decorator (FastAPI's own
    documentation routes, a mount of static files)."""
    setattr(route_or_endpoint, _ATTRIBUTE, checked(level))


def access_of(route: BaseRoute) -> str | None:
    """The access a route declares, None when it declares none."""
    endpoint = getattr(route, "endpoint", None)
    level = getattr(endpoint, _ATTRIBUTE, None) if endpoint is not None else None
    return level if level is not None else getattr(route, _ATTRIBUTE, None)


def allows(level: str | None, principal: Principal, params: dict[str, str]) -> bool:
    """Whether ``principal`` may reach a route of access ``level`` with these path parameters."""
    if level not in LEVEL_ROLES or principal.role not in LEVEL_ROLES[level]:
        return False
    return level != "supplier" or params.get(OWNER_PARAMETER) == principal.organisation


def routes(app: FastAPI) -> Iterator[BaseRoute]:
    """Every route of ``app``, those of its included routers too, in the order the router tries them."""

    def walk(found: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
        for route in found:
            included = getattr(route, "original_router", None)  # a router included by the app
            if included is not None:
                yield from walk(included.routes)
            else:
                yield route

    return walk(app.routes)


@dataclass(frozen=True)
class _Rule:
    """Who may reach the paths ``pattern`` matches (with ``methods``; None: any)."""

    pattern: re.Pattern
    methods: frozenset[str] | None
    level: str | None

    @classmethod
    def of(cls, route: BaseRoute) -> _Rule:
        methods = getattr(route, "methods", None)
        return cls(route.path_regex, frozenset(methods) if methods else None, access_of(route))


def _route_path(scope: dict) -> str:
    """The path the router matches: the request's, less the app's mount point (``root_path``)."""
    path, root = scope["path"], scope.get("root_path", "")
    if root and path.startswith(root + "/"):
        return path[len(root) :]
    return path


def _rule_for(rules: list[_Rule], method: str, path: str) -> tuple[_Rule | None, dict[str, str]]:
    """The rule of the route the router will pick: the first that matches path and method, else
    the first that matches the path (it answers 405, and declares its access like the rest)."""
    partial = None
    for rule in rules:
        found = rule.pattern.match(path)
        if found is None:
            continue
        if rule.methods is None or method in rule.methods:
            return rule, found.groupdict()
        if partial is None:
            partial = (rule, found.groupdict())
    return partial or (None, {})


def refusal(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error answer: JSON under ``/api``, the error page elsewhere."""
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    return request.app.state.templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status, headers=headers
    )


def principal_of(request: Request) -> Principal:
    """Who the gate found this request to be (anonymous before the gate ran)."""
    return getattr(request.state, "principal", ANONYMOUS)


def supplier_of(request: Request) -> str | None:
    """The org id a supplier's request acts for, None for anyone else."""
    principal = principal_of(request)
    return principal.organisation if principal.role == "supplier" else None


def visible(level: str, principal: Principal) -> bool:
    """Whether a page of access ``level`` is listed for this viewer (the navigation bar: a
    supplier's portal is reached from its sign-in, not listed)."""
    return level != "supplier" and principal.role in LEVEL_ROLES.get(level, ())


#: The navigation entry of a supplier's own portal (translated where the bar is drawn).
SUPPLIER_NAV_TITLE = N_("Your records")
#: What the public's bar lists besides the public pages declared with a nav entry: where a
#: certificate is checked (its page is per certificate; /verify asks which).
PUBLIC_NAV_EXTRA = ((N_("Verify a certificate"), "/verify"),)


def navigation_for(principal: Principal, entries: Iterable[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """The navigation bar's (title, path) for ``principal``, from the declared (title, path, access)
    entries: the staff see the pages their role opens; a supplier its own portal and the pages
    opened to suppliers in particular (not the public ones: its bar is its portal's); anonymous
    visitors the public pages and the certificate check (signing in is beside the bar)."""
    if principal.role == "supplier":
        own = [(SUPPLIER_NAV_TITLE, f"/supplier/{quote(principal.organisation or '', safe='')}")]
        return own + [(title, path) for title, path, level in entries
                      if level not in ("public", "signin") and visible(level, principal)]  # fmt: skip
    listed = [(title, path) for title, path, level in entries if visible(level, principal)]
    return listed + list(PUBLIC_NAV_EXTRA) if principal.role == "public" else listed


def viewer_key(request: Request) -> tuple:
    """What a rendered page may differ by between viewers: who they are and their session (the
    header names the account and forms carry the session's token; a visitor without a session gets
    a new one each time, so their pages are rendered afresh)."""
    return principal_of(request), getattr(request.state, "session_id", None)


def csrf_token(request: Request) -> str:
    """The CSRF token of this request's session, for a form; a visitor without a session gets an
    anonymous one (its cookie is set on the answer)."""
    state = request.state
    authority = getattr(state, "authority", None)
    if authority is None:  # a server without accounts (--public-only) takes no forms
        return ""
    state.csrf_used = True
    return authority.signer.csrf_token(state.session_id)


def csrf_field(request: Request) -> Markup:
    """The hidden form field holding :func:`csrf_token`."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(csrf_token(request))


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this server (``/...``, not ``//host`` or ``/\\host``), else None:
    after sign-in the browser goes only somewhere here."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    return target if all(31 < ord(ch) < 127 for ch in target) else None


def _wants_login_page(request: Request) -> bool:
    return request.method in ("GET", "HEAD") and not _route_path(request.scope).startswith("/api/")


def _unauthenticated(request: Request, message: str) -> Response:
    if _wants_login_page(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='/')}", status_code=303)
    return refusal(request, 401, message, {"WWW-Authenticate": 'Bearer realm="silicio"'})


async def _submitted_csrf(request: Request) -> str | None:
    token = request.headers.get("x-csrf-token")
    if token:
        return token
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        fields = parse_qs((await request.body()).decode("utf-8", "replace"))
        return (fields.get("csrf_token") or [None])[0]
    if content_type.startswith("multipart/form-data"):
        from .formdata import FormError, read_form

        try:  # the body is kept: the route reads the form again
            return read_form(content_type, await request.body()).fields.get("csrf_token")
        except FormError:  # a malformed body: no token (403, not 500)
            return None
    return None


def install(app: FastAPI, supplier_tokens: Callable[[], dict[str, str]], authority: Authority | None = None,
            *, public_only: bool = False) -> None:  # fmt: skip
    """Add the gate to ``app``: identity (module notes), CSRF on changes, then each route's declared
    access. Call it once every route is added: the rules are read from the routes then.

    ``supplier_tokens`` returns ``{token: org_id}`` (read at each request: accounts change on disk).
    ``authority`` knows the accounts, API tokens and sessions (without one only portal tokens and
    anonymous visitors exist). ``public_only``: only the ``public`` routes exist (others 404),
    and nobody is signed in.
    """

    rules = [_Rule.of(route) for route in routes(app) if getattr(route, "path_regex", None) is not None]

    async def identify(request: Request) -> Principal | Response:
        bearer = request.headers.get("authorization")
        if bearer is not None:
            scheme, _, secret = bearer.partition(" ")
            found = None
            if authority is not None and scheme.lower() == "bearer" and secret.strip():
                found = await run_in_threadpool(authority.store.authenticate_token, secret.strip())
            return found or refusal(request, 401, "unknown, expired or revoked API token",
                                    {"WWW-Authenticate": 'Bearer realm="silicio", error="invalid_token"'})  # fmt: skip
        portal = request.headers.get(SUPPLIER_HEADER) or request.cookies.get(SUPPLIER_COOKIE)
        if portal:
            org_id = supplier_tokens().get(portal)
            if org_id is None:
                return refusal(request, 401, "unknown supplier token")
            return Principal("supplier", organisation=org_id, via="supplier-token")
        session = request.state.session
        if session is not None and session.kind == "u":
            found = await run_in_threadpool(authority.store.session, session.session_id)
            if found is not None:
                return found
            request.state.session = None  # ended or expired on the server: the cookie goes
            request.state.session_id = secrets.token_urlsafe(32)
            request.state.clear_cookie = True
        return ANONYMOUS

    async def csrf_refusal(request: Request) -> Response | None:
        if request.method not in _UNSAFE_METHODS:
            return None
        if request.headers.get("authorization") or request.headers.get(SUPPLIER_HEADER):
            return None  # a header credential: no browser sends one for another site
        has_cookie = SUPPLIER_COOKIE in request.cookies or request.state.session is not None
        if _route_path(request.scope).startswith("/api/") and not has_cookie:
            return None  # a script with no credential at all: nothing to forge
        session = request.state.session
        submitted = await _submitted_csrf(request)
        if (
            session is None
            or authority is None
            or not authority.signer.csrf_ok(session.session_id, submitted)
        ):
            return refusal(
                request,
                403,
                "the form's security token is missing or stale: reload the page and send it again",
            )
        return None

    @app.middleware("http")
    async def gate(request: Request, call_next):
        state = request.state
        state.principal, state.csrf_used, state.clear_cookie = ANONYMOUS, False, False
        state.session, state.authority = None, None
        rule, params = _rule_for(rules, request.method, _route_path(request.scope))
        if public_only:
            if rule is not None and rule.level not in PUBLIC_ONLY_LEVELS:
                return refusal(request, 404, "no such page")
            return await call_next(request)
        now = datetime.now(UTC) if authority is None else authority.clock()
        if authority is not None:
            state.authority = authority
            raw = request.cookies.get(SESSION_COOKIE)
            if raw is not None:
                state.session = authority.signer.read(raw, now)
                state.clear_cookie = state.session is None  # tampered or expired
        state.session_id = (
            state.session.session_id if state.session is not None else secrets.token_urlsafe(32)
        )
        identified = await identify(request)
        if isinstance(identified, Response):
            return identified
        state.principal = identified
        # Who may come in first (anonymous: 401, another role: 403), then whether the form is genuine.
        refused = _refusal_by_rule(request, rule.level, identified, params) if rule is not None else None
        if refused is None:
            refused = await csrf_refusal(request)
        response = refused or await call_next(request)
        if authority is not None:
            _session_cookie(request, response, now)
        return response

    def _session_cookie(request: Request, response: Response, now: datetime) -> None:
        state = request.state
        if state.csrf_used and (state.session is None or state.session.kind == "a"):
            # A form was shown to a visitor without a session: an anonymous one holds its token.
            expires = now + _FORM_SESSION
            value = authority.signer.cookie("a", state.session_id, expires)
            response.set_cookie(SESSION_COOKIE, value, max_age=int(_FORM_SESSION.total_seconds()), httponly=True,
                                samesite="strict", secure=request.url.scheme == "https")  # fmt: skip
        elif state.clear_cookie and SESSION_COOKIE not in response.headers.get("set-cookie", ""):
            response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict")


def _refusal_by_rule(
    request: Request, level: str | None, principal: Principal, params: dict
) -> Response | None:
    if level not in LEVEL_ROLES:
        return refusal(request, 403, "this route declares no access: refused to everyone")
    if allows(level, principal, params):
        return None
    if principal.role == "public":
        return _unauthenticated(
            request, "sign in first: /login, or send an API token (Authorization: Bearer)"
        )
    if principal.role == "supplier":
        return refusal(request, 403, f"a supplier account may open only /supplier/{principal.organisation}, "
                                     "/transparency and /verify")  # fmt: skip
    return refusal(request, 403, f"your role ({principal.role}) may not open this page")
