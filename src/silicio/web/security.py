"""Defences every answer of the dashboard gets, whatever route (or middleware) gives it:

* security headers: a Content-Security-Policy that runs no inline script and lets no other site
  frame the pages (``frame-ancestors 'none'``), ``X-Content-Type-Options: nosniff``, a
  ``Referrer-Policy`` that sends no URL (they name lots and certificates) to other sites;
* request bodies bounded before any route reads them: more than :data:`MAX_BODY_BYTES` is
  refused with 413, a JSON body nested deeper than :data:`MAX_JSON_DEPTH` with 422 (Python's
  JSON parser recurses: a few thousand ``[`` were a RecursionError, a 500). A refused body of up
  to :data:`DRAINED_BYTES` is read to its end and dropped before the 413: a server that answers
  and closes while the client still sends leaves the client a reset connection, not the refusal.

It wraps the whole app, outside every middleware added with ``app.add_middleware`` or
``@app.middleware`` and outside Starlette's error middleware, so a refusal of the access gate or
an error page carries the headers too (:func:`install`).

FastAPI's own API documentation (``/docs``, ``/redoc``) loads Swagger UI / ReDoc from the
dashboard's static files and starts them with an inline script: those two pages get a policy that
allows exactly their inline scripts (by hash), never inline script in general.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import FastAPI

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The largest request body read (a certificate for POST /api/verify is at most 1,000,000 bytes).
MAX_BODY_BYTES = 1_048_576
#: The most of a refused body read (and dropped) so that its client gets the 413 (see the module notes).
DRAINED_BYTES = 4 * MAX_BODY_BYTES
#: The deepest nesting of arrays and objects a JSON body may have (a certificate has about 5).
MAX_JSON_DEPTH = 32

#: The policy of every page: scripts and everything else from the dashboard itself only. Styles
#: may be inline: plotly.js sets the style of every element it draws.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))  # fmt: skip
#: The documentation pages' policy: Swagger UI and ReDoc from the dashboard's static files (ReDoc
#: starts a worker from a blob), their inline start-up scripts by hash.
_DOCS_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self' {hashes}",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "worker-src 'self' blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))  # fmt: skip
#: Headers every answer carries (a route's own value of the same header is kept).
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",  # frame-ancestors for browsers that predate it
    "cross-origin-opener-policy": "same-origin",
}

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)
# What matters to the nesting of a JSON text: brackets, and quotes and backslashes (brackets in strings).
_JSON_STRUCTURE = re.compile(rb'[\[\]{}"\\]')
_OPENING = frozenset(b"[{")
_CLOSING = frozenset(b"]}")
_QUOTE, _BACKSLASH = ord('"'), ord("\\")


def json_depth(text: bytes, limit: int | None = None) -> int:
    """The deepest nesting of arrays and objects in the JSON ``text`` (0 for a scalar), brackets
    inside strings not counted; without recursion, so any input is safe. Stops counting once
    ``limit`` is passed (it returns ``limit + 1``)."""
    depth = deepest = 0
    in_string = False
    skip_to = -1  # the character a backslash escapes
    for found in _JSON_STRUCTURE.finditer(text):
        at = found.start()
        if at == skip_to:
            continue
        char = text[at]
        if in_string:
            if char == _BACKSLASH:
                skip_to = at + 1
            elif char == _QUOTE:
                in_string = False
        elif char == _QUOTE:
            in_string = True
        elif char in _OPENING:
            depth += 1
            if depth > deepest:
                deepest = depth
                if limit is not None and deepest > limit:
                    return deepest
        elif char in _CLOSING:
            depth -= 1
    return deepest


def _looks_like_json(headers: dict[bytes, bytes], body: bytes) -> bool:
    """A JSON body by its content type or by its first character (``POST /api/verify`` reads any)."""
    if b"json" in headers.get(b"content-type", b"").lower():
        return True
    return body.lstrip()[:1] in (b"[", b"{")


def _inline_script_hashes(html: bytes) -> list[str]:
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
        if script.strip()
    ]


class SecurityMiddleware:
    """The ASGI wrapper of the module notes, around ``app``."""

    def __init__(self, app: ASGIApp, *, docs_paths: Iterable[str] = (), max_body_bytes: int = MAX_BODY_BYTES,
                 max_json_depth: int = MAX_JSON_DEPTH, drained_bytes: int = DRAINED_BYTES):  # fmt: skip
        self.app = app
        self.docs_paths = frozenset(docs_paths)
        self.max_body_bytes = max_body_bytes
        self.drained_bytes = drained_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        send = self._with_headers(scope, send)
        if b"content-length" in headers or b"transfer-encoding" in headers:
            body, problem = await self._read_body(headers, receive)
            if problem is not None:
                await self._refuse(send, *problem)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _read_body(self, headers: dict[bytes, bytes], receive: Receive) -> tuple[bytes, tuple | None]:
        """The whole body, or why it is refused: (status, message)."""
        too_large = (413, f"request body larger than {self.max_body_bytes:,} bytes")
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return b"", (400, "Content-Length is not a number of bytes")
            if int(declared) > self.max_body_bytes:
                if int(declared) <= self.drained_bytes:
                    await _drop_rest(receive, self.drained_bytes)
                return b"", too_large
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                if message.get("more_body", False):
                    await _drop_rest(receive, self.drained_bytes - size)
                return b"", too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _looks_like_json(headers, body) and json_depth(body, self.max_json_depth) > self.max_json_depth:
            return body, (422, f"JSON body nested deeper than {self.max_json_depth} levels")
        return body, None

    def _with_headers(self, scope: Scope, send: Send) -> Send:
        if scope.get("path") in self.docs_paths:
            return self._docs_send(send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = _add_headers(message, SECURITY_HEADERS)
            await send(message)

        return send_with_headers

    def _docs_send(self, send: Send) -> Send:
        """The documentation page held back until its inline scripts can be hashed into its policy."""
        held: dict[str, Any] = {"start": None, "body": []}

        async def send_docs(message: Message) -> None:
            if message["type"] == "http.response.start":
                held["start"] = message
                return
            if message["type"] != "http.response.body" or held["start"] is None:
                await send(message)
                return
            held["body"].append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(held["body"])
            policy = _DOCS_POLICY.format(hashes=" ".join(_inline_script_hashes(body)))
            start = _add_headers(held["start"], {**SECURITY_HEADERS, "content-security-policy": policy})
            await send(start)
            await send({"type": "http.response.body", "body": body, "more_body": False})

        return send_docs

    @staticmethod
    async def _refuse(send: Send, status: int, message: str) -> None:
        body = json.dumps({"detail": message}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})  # fmt: skip
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _add_headers(start: Message, wanted: dict[str, str]) -> Message:
    headers = list(start.get("headers") or [])
    present = {name.lower() for name, _ in headers}
    headers += [
        (name.encode(), value.encode()) for name, value in wanted.items() if name.encode() not in present
    ]
    return {**start, "headers": headers}


async def _drop_rest(receive: Receive, at_most: int) -> None:
    """Read the rest of a request body (up to ``at_most`` bytes) and drop it."""
    while at_most > 0:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return
        at_most -= len(message.get("body", b""))


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then whatever comes next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def install(app: FastAPI) -> None:
    """Wrap ``app``'s whole middleware stack in :class:`SecurityMiddleware` (once; call it when
    the app is made: Starlette builds the stack at the first request)."""
    if getattr(app.state, "security_installed", False):
        return
    app.state.security_installed = True
    build_stack = app.build_middleware_stack
    docs = [path for path in (app.docs_url, app.redoc_url, *getattr(app.state, "docs_paths", ())) if path]

    def build_secured_stack() -> ASGIApp:
        return SecurityMiddleware(build_stack(), docs_paths=docs)

    app.build_middleware_stack = build_secured_stack
