"""Signing in and out of the dashboard (``/login``, ``/logout``), the accounts page
(``/admin/users``) and one's own account (``/account``: the language it prefers), over the
accounts of :mod:`silicio.auth`.

:class:`Authority` is what the access gate (:mod:`silicio.web.access`) asks who a request is: the
account store and the key that signs session cookies, both opened on first use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from silicio.auth import AuthStore, CookieSigner, LoginPolicy, LoginRefused, load_or_create_key
from silicio.auth.passwords import DEFAULT_COST, PasswordCost
from silicio.auth.roles import AuthError
from silicio.auth.sessions import SESSION_COOKIE
from silicio.auth.store import DEFAULT_POLICY, SESSION_LIFETIME
from silicio.datadir import DataDir
from silicio.i18n import LANGUAGES, NATIVE_NAMES

from . import links
from .access import LOGIN_PATH, access, principal_of, refusal, safe_next

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["accounts"])


def _now() -> datetime:
    return datetime.now(UTC)


class Authority:
    """The accounts of one data directory, for the web app. ``clock``, ``policy`` and
    ``password_cost`` go to :class:`silicio.auth.AuthStore` (tests pass a clock they move)."""

    def __init__(self, data_dir: str | os.PathLike, database_url: str | None = None, *,
                 clock: Callable[[], datetime] = _now, policy: LoginPolicy = DEFAULT_POLICY,
                 password_cost: PasswordCost = DEFAULT_COST):  # fmt: skip
        self.data_dir, self.database_url = Path(data_dir), database_url
        self.clock, self.policy, self.password_cost = clock, policy, password_cost
        self._store: AuthStore | None = None
        self._signer: CookieSigner | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> AuthStore:
        with self._lock:
            if self._store is None:
                self._store = AuthStore.at(self.data_dir, self.database_url, clock=self.clock, policy=self.policy,
                                           password_cost=self.password_cost)  # fmt: skip
            return self._store

    @property
    def signer(self) -> CookieSigner:
        with self._lock:
            if self._signer is None:
                self._signer = CookieSigner(load_or_create_key(DataDir.at(self.data_dir).session_key))
            return self._signer

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def _client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def _login_page(request: Request, message: str | None = None, status: int = 200, target: str | None = None,
                username: str = "", headers: dict[str, str] | None = None) -> Response:  # fmt: skip
    context = {"message": message, "next": target or "", "username": username}
    return request.app.state.templates.TemplateResponse(request, "login.html", context, status_code=status,
                                                        headers=headers)  # fmt: skip


@router.get(LOGIN_PATH, response_class=HTMLResponse)
@access("signin")
def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, target=safe_next(next))


@router.post(LOGIN_PATH)
@access("signin")
async def login(request: Request) -> Response:
    fields = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    username, password = fields.get("username", "").strip().lower(), fields.get("password", "")
    target = safe_next(fields.get("next"))
    authority: Authority = request.app.state.authority
    try:
        # In a worker thread: the password hash costs ~0.4 CPU s, which must not hold the event loop.
        principal, session_id = await run_in_threadpool(
            authority.store.login, username, password, address=_client_address(request)
        )
    except LoginRefused as exc:
        headers = {"Retry-After": str(exc.retry_after)} if exc.status == 429 else None
        return _login_page(request, str(exc), exc.status, target, username, headers)
    if target is None:
        target = links.supplier_url(principal.organisation) if principal.role == "supplier" else "/"
    response = RedirectResponse(target, status_code=303)
    expires = authority.clock() + SESSION_LIFETIME
    response.set_cookie(SESSION_COOKIE, authority.signer.cookie("u", session_id, expires),
                        max_age=int(SESSION_LIFETIME.total_seconds()), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")  # fmt: skip
    return response


@router.post("/logout")
@access("signin")
def logout(request: Request) -> Response:
    session = request.state.session
    if session is not None and session.kind == "u":
        principal = principal_of(request)
        request.app.state.authority.store.end_session(session.session_id, actor=principal.actor,
                                                      address=_client_address(request))  # fmt: skip
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict")
    return response


def _accounts(authority: Authority) -> dict:
    store = authority.store
    now = authority.clock()
    users = [{"username": u.username, "role": u.role, "organisation": u.organisation, "active": u.active,
              "language": u.language, "created_at": u.created_at.isoformat(), "created_by": u.created_by}
             for u in store.users()]  # fmt: skip
    tokens = [{"token_id": t.token_id, "role": t.role, "organisation": t.organisation, "username": t.username,
               "label": t.label, "expires_at": t.expires_at.isoformat(), "active": t.active(now),
               "revoked": t.revoked_at is not None} for t in store.tokens()]  # fmt: skip
    events = [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "subject": e.subject,
               "address": e.address, "detail": e.detail} for e in store.events()[-50:][::-1]]  # fmt: skip
    return {"users": users, "tokens": tokens, "events": events}


@api.get("/admin/users", summary="Accounts, API tokens (never their secrets) and the latest account changes",
         openapi_extra={"x-access": "admin"})  # fmt: skip
@access("admin")
def accounts_api(request: Request) -> Response:
    return JSONResponse(_accounts(request.app.state.authority))


@router.get("/admin/users", response_class=HTMLResponse)
@access("admin")
def accounts_page(request: Request) -> Response:
    context = {**_accounts(request.app.state.authority), "api_url": "/api/admin/users"}
    return request.app.state.templates.TemplateResponse(request, "accounts.html", context)


# ------------------------------------------------------------------------------------------------
# One's own account: the language it prefers

ACCOUNT_PATH = "/account"


def _account_page(request: Request, message: str | None = None, status: int = 200) -> Response:
    principal = principal_of(request)
    user = None
    if principal.username is not None:
        try:
            user = request.app.state.authority.store.user(principal.username)
        except AuthError:  # the account went while its token or session still worked: none to show
            user = None
    choices = [(code, NATIVE_NAMES[code]) for code in LANGUAGES]
    context = {"account": user, "choices": choices, "message": message}
    return request.app.state.templates.TemplateResponse(request, "account.html", context, status_code=status)


@router.get(ACCOUNT_PATH, response_class=HTMLResponse)
@access("internal")
def account_page(request: Request) -> Response:
    """One's own account: name, role and the dashboard language it prefers (a form to change it)."""
    return _account_page(request)


@router.post(f"{ACCOUNT_PATH}/language")
@access("internal")
async def account_language(request: Request) -> Response:
    """Set the signed-in account's language (form field ``language``: a code of the language
    switch, or empty for none); logged in the account log with the account as its actor."""
    principal = principal_of(request)
    if principal.username is None:
        # 422, not 403: the gate let the role in; the request names nothing this credential has.
        return refusal(request, 422, "this credential belongs to no account: there is no language to set")
    raw = await request.body()
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return refusal(
            request, 400, "expected a form (application/x-www-form-urlencoded) with a language field"
        )
    fields = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    if "language" not in fields:
        return refusal(request, 400, "the form has no language field")
    store = request.app.state.authority.store
    try:
        await run_in_threadpool(store.set_language, principal.username, fields["language"][0],
                                actor=principal.actor, address=_client_address(request))  # fmt: skip
    except AuthError as exc:
        return _account_page(request, str(exc), 400)
    # The page is drawn afresh in the new language: the request's own language was worked out before.
    return RedirectResponse(ACCOUNT_PATH, status_code=303)
