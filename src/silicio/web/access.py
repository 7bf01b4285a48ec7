"""Who may see what: every route of the dashboard declares its access, and one gate enforces it
on the server for every request.

Access levels:

* ``public``: anyone, a supplier included (``/transparency``, ``/verify``, static files, the
  supplier login form).
* ``internal``: the maker's own staff; a supplier's token is refused (403).
* ``supplier``: one supplier's portal (a route with an ``{org_id}`` path parameter): only that
  supplier's token opens it, another organisation's is refused (403, the same answer whether that
  organisation exists or not), and staff without the token are asked for it (401).

Identity. A supplier account is a token in ``DATA/supply/tokens.json`` (``{"<token>": "<org_id>"}``;
the demo writes one random token per organisation). A request carries it in the
``X-Silicio-Token`` header or in the ``silicio_supplier`` cookie that ``POST /supplier/login``
sets; an unknown token is refused (401) whatever the page. Requests without a token are the
maker's staff (the dashboard has no other login yet).

Pages declared with :class:`silicio.web.declare.Page` carry their access; a hand-written route
declares it with :func:`access`. A route that declares none is refused to everyone, so forgetting
it fails closed (and the route-walking test names it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.routing import BaseRoute

Access = Literal["public", "internal", "supplier"]
ACCESS_LEVELS: tuple[str, ...] = ("public", "internal", "supplier")
SUPPLIER_HEADER = "X-Silicio-Token"
SUPPLIER_COOKIE = "silicio_supplier"
#: The path parameter that names the organisation of a ``supplier`` route.
OWNER_PARAMETER = "org_id"
_ATTRIBUTE = "__silicio_access__"


def checked(level: str) -> str:
    """``level`` when it is an access level, else a ValueError naming the choices."""
    if level not in ACCESS_LEVELS:
        raise ValueError(f"access {level!r}: expected one of {', '.join(ACCESS_LEVELS)}")
    return level


def access(level: Access) -> Callable[[Callable], Callable]:
    """Declare who may reach a hand-written route; put it under the router's decorator::

    @router.get("/supplier/login")
    @access("public")
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


def _not_for_supplier(request: Request, supplier: str) -> Response:
    return refusal(
        request, 403, f"a supplier account may open only /supplier/{supplier}, /transparency and /verify"
    )


def supplier_of(request: Request) -> str | None:
    """The org id the gate resolved for this request, None for the maker's staff."""
    return getattr(request.state, "supplier", None)


def visible(level: str, supplier: str | None) -> bool:
    """Whether a page of access ``level`` is listed for this viewer (the navigation bar)."""
    return level == "public" or (supplier is None and level == "internal")


def install(app: FastAPI, supplier_tokens: Callable[[], dict[str, str]]) -> None:
    """Add the gate to ``app``: identity from the supplier token, then each route's declared access.
    Call it once every route is added: the rules are read from the routes then.

    ``supplier_tokens`` returns ``{token: org_id}`` (read at each request: accounts change on disk).
    """

    rules = [_Rule.of(route) for route in routes(app) if getattr(route, "path_regex", None) is not None]

    @app.middleware("http")
    async def gate(request: Request, call_next):
        token = request.headers.get(SUPPLIER_HEADER) or request.cookies.get(SUPPLIER_COOKIE)
        supplier = None
        if token:
            supplier = supplier_tokens().get(token)
            if supplier is None:
                return refusal(request, 401, "unknown supplier token")
        request.state.supplier = supplier
        rule, params = _rule_for(rules, request.method, _route_path(request.scope))
        if rule is None:  # no such page: the router answers 404
            return await call_next(request)
        level = rule.level
        if level == "public":
            return await call_next(request)
        if level == "internal":
            if supplier is None:
                return await call_next(request)
            return _not_for_supplier(request, supplier)
        if level == "supplier":
            if supplier is None:
                message = (
                    "the supplier portal needs the supplier's token: sign in at /supplier/login "
                    f"or send the {SUPPLIER_HEADER} header"
                )
                return refusal(request, 401, message)
            if params.get(OWNER_PARAMETER) == supplier:
                return await call_next(request)
            return _not_for_supplier(request, supplier)
        return refusal(request, 403, "this route declares no access: refused to everyone")
