"""The dashboard while its data is being prepared: the first run of ``make run`` writes the demo
fab, ingests it and screens it (minutes on a small machine). The server answers from the first
second: every page shows the steps with their progress (``/api/_progress`` as JSON, polled by
``static/progress.js``) and turns into the dashboard when the data is in. The PAT screening, the
last step, runs while pages are already served (they note that its holds are still coming).

>>> preparation = Preparation([("generate", "Writing the demo fab's STDF files"), ...])
>>> install(app, preparation)                  # before the server starts
>>> preparation.start("generate", total=20)    # from the thread doing the work
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from .access import access

#: Seconds the progress page waits between two looks (and Retry-After of a refused API call).
POLL_SECONDS = 1
#: Paths answered while preparing: the progress itself and the static files the page needs.
_ALWAYS = ("/api/_progress", "/static/")


@dataclass
class Step:
    """One step of the preparation: its state (waiting, running, done, failed), how far it got."""

    name: str
    title: str
    state: str = "waiting"
    done: int = 0
    total: int | None = None
    detail: str = ""
    started: float | None = None
    finished: float | None = None


class Preparation:
    """Steps of the preparation and where each is, shared between the thread doing the work and
    the requests reading it. ``ready`` turns True once the steps pages need are done (all but
    those named ``background``)."""

    def __init__(self, steps: Sequence[tuple[str, str]], *, background: Sequence[str] = ()):
        self.steps = {name: Step(name, title) for name, title in steps}
        self.background = set(background)
        self.error: str | None = None
        self.began = time.monotonic()
        self._lock = threading.Lock()

    def _step(self, name: str) -> Step:
        if name not in self.steps:
            raise KeyError(f"no step {name!r}: expected one of {', '.join(self.steps)}")
        return self.steps[name]

    def start(self, name: str, total: int | None = None, detail: str = "") -> None:
        with self._lock:
            step = self._step(name)
            step.state, step.total, step.done, step.detail, step.started = (
                "running",
                total,
                0,
                detail,
                time.monotonic(),
            )

    def advance(self, name: str, done: int, total: int | None = None, detail: str = "") -> None:
        with self._lock:
            step = self._step(name)
            step.done = done
            step.total = total if total is not None else step.total
            step.detail = detail or step.detail

    def finish(self, name: str, detail: str = "") -> None:
        with self._lock:
            step = self._step(name)
            step.state, step.finished = "done", time.monotonic()
            step.detail = detail or step.detail
            if step.total is not None:
                step.done = step.total

    def fail(self, name: str, message: str) -> None:
        with self._lock:
            step = self._step(name)
            step.state, step.detail, self.error = "failed", message, message

    @property
    def ready(self) -> bool:
        with self._lock:
            return self.error is None and all(
                s.state == "done" for s in self.steps.values() if s.name not in self.background
            )

    def snapshot(self) -> dict:
        """The steps as JSON: what ``/api/_progress`` answers."""
        ready = self.ready
        with self._lock:
            now = time.monotonic()
            steps = [
                {
                    "name": s.name,
                    "title": s.title,
                    "state": s.state,
                    "done": s.done,
                    "total": s.total,
                    "detail": s.detail,
                    "seconds": round(((s.finished or now) - s.started) if s.started is not None else 0.0, 1),
                }
                for s in self.steps.values()
            ]
            return {
                "ready": ready,
                "error": self.error,
                "seconds": round(now - self.began, 1),
                "steps": steps,
            }


def _page(snapshot: dict) -> str:
    """The progress page as first served (the script keeps it current); readable without script."""
    rows = []
    for step in snapshot["steps"]:
        count = f"{step['done']} / {step['total']}" if step["total"] else ""
        rows.append(
            f'<li data-step="{html.escape(step["name"])}" class="step {step["state"]}">'
            f'<span class="title">{html.escape(step["title"])}</span> '
            f'<progress max="{step["total"] or 1}" value="{step["done"] if step["total"] else 0}"></progress> '
            f'<span class="count">{count}</span> <span class="state">{step["state"]}</span> '
            f'<span class="detail">{html.escape(step["detail"])}</span></li>'
        )
    error = f'<p class="error">{html.escape(snapshot["error"])}</p>' if snapshot["error"] else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>silicio: preparing the data</title>'
        '<link rel="stylesheet" href="/static/silicio.css"><script src="/static/progress.js" defer></script>'
        f'</head><body><main class="preparing"><h1>silicio is preparing its data</h1>'
        f"<p>The dashboard opens here by itself when the data is in. Started "
        f'<span id="elapsed">{snapshot["seconds"]:.0f}</span> s ago.</p>'
        f'<ol id="steps">{"".join(rows)}</ol>{error}</main></body></html>'
    )


def install(app: FastAPI, preparation: Preparation) -> None:
    """Serve the progress page for every page (and 503 for the API) until ``preparation`` is
    ready; ``/api/_progress`` answers its state at any time. Call before the server starts."""
    app.state.preparation = preparation

    @app.get("/api/_progress", tags=["health"], summary="The data's preparation, step by step",
             openapi_extra={"x-access": "public"})  # fmt: skip
    @access("public")
    def progress() -> dict:
        return preparation.snapshot()

    @app.middleware("http")
    async def while_preparing(request: Request, call_next) -> Response:
        path = request.url.path
        if preparation.ready or path.startswith(_ALWAYS):
            return await call_next(request)
        snapshot = preparation.snapshot()
        headers = {"Retry-After": str(POLL_SECONDS), "Cache-Control": "no-store"}
        if path.startswith("/api/"):
            detail = "the data is being prepared; /api/_progress says how far it is"
            return JSONResponse({"detail": detail, "progress": snapshot}, status_code=503, headers=headers)
        return HTMLResponse(_page(snapshot), status_code=503, headers=headers)
