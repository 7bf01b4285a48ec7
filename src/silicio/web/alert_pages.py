"""The alert inbox: ``/alerts`` lists the alerts sent to the signed-in user (by name or by role,
as the rules file names the recipients), newest first; acknowledging one is a POST
(``/alerts/{alert_id}/ack`` from the page's form, ``/api/alerts/{alert_id}/ack`` for scripts)
recorded with who acknowledged it and when (the catalog's ``alert_acks``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParameter
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from silicio.auth.roles import Principal

from . import models as m
from .access import access, principal_of, refusal
from .declare import SOURCES, Nav, Page

api = APIRouter(prefix="/api", tags=["alerts"])
pages = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class AlertInbox:
    """The alerts of one signed-in user: the data source of the inbox page."""

    data_dir: Path
    database_url: str | None
    principal: Principal

    def catalog(self):
        from silicio.lake.catalog import Catalog
        from silicio.lake.layout import LakeLayout

        return Catalog(LakeLayout.at(self.data_dir).database_url(self.database_url))

    def mine(self, row: dict) -> bool:
        wanted = row.get("recipients") or {}
        return self.principal.username in wanted.get("users", []) or self.principal.role in wanted.get(
            "roles", []
        )


def _inbox_of(request: Request) -> AlertInbox:
    dashboard = request.app.state.dashboard
    return AlertInbox(Path(dashboard.data_dir), dashboard.database_url, principal_of(request))


SOURCES[AlertInbox] = _inbox_of


class AlertRow(m.Row):
    id: int = Field(title="#")
    raised_at: datetime = Field(title="Raised (UTC)")
    severity: str = Field(title="Severity")
    rule: str = Field(title="Rule")
    title: str = Field(title="What")
    lot: str | None = Field(default=None, title="Lot")
    acknowledged_at: datetime | None = Field(default=None, title="Acknowledged (UTC)")


class AlertInboxPage(BaseModel):
    """The alerts sent to you (by name or role), newest first, and whether you acknowledged each."""

    user: str
    open: int = Field(title="Not acknowledged")
    alerts: list[AlertRow]


def inbox(data: AlertInbox) -> AlertInboxPage:
    from silicio.lake.queries import alerts as queries

    with data.catalog() as catalog:
        rows = [r for r in queries.alert_rows(catalog.engine, limit=2000) if data.mine(r)]
        acked = {
            a["alert_id"]: a["at"] for a in queries.acknowledgements(catalog.engine, data.principal.username)
        }
    alerts = [AlertRow(id=r["id"], raised_at=r["raised_at"], severity=r["severity"], rule=r["rule"], title=r["title"],
                       lot=r["lot"], acknowledged_at=acked.get(r["id"]),
                       url=f"/lot/{r['lot']}" if r["lot"] else None) for r in rows]  # fmt: skip
    return AlertInboxPage(
        user=data.principal.actor, open=sum(a.acknowledged_at is None for a in alerts), alerts=alerts
    )


PAGES = (
    Page(path="/alerts", compute=inbox, template="alerts.html", access="internal",
         summary="Your alert inbox: the alerts sent to you or your role", nav=Nav("Alerts", "yield", 6)),
)  # fmt: skip


def _acknowledge(request: Request, alert_id: int) -> bool | Response:
    from silicio.lake.queries import alerts as queries

    data = _inbox_of(request)
    with data.catalog() as catalog:
        mine = [r for r in queries.alert_rows(catalog.engine, ids=[alert_id]) if data.mine(r)]
        if not mine:
            return refusal(request, 404, f"no alert #{alert_id} in your inbox")
        return queries.acknowledge(catalog.engine, alert_id, data.principal.actor)


#: An alert's number: the catalog's ids are 64-bit (a larger one is a 422, not a database error).
AlertId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="the alert's number")]


@api.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert of your inbox (recorded with your name)")
@access("internal")
def acknowledge_api(request: Request, alert_id: AlertId) -> Response:
    done = _acknowledge(request, alert_id)
    if isinstance(done, Response):
        return done
    return JSONResponse({"alert_id": alert_id, "acknowledged_by": principal_of(request).actor, "new": done})


@pages.post("/alerts/{alert_id}/ack")
@access("internal")
def acknowledge_form(request: Request, alert_id: AlertId) -> Response:
    done = _acknowledge(request, alert_id)
    if isinstance(done, Response):
        return done
    return RedirectResponse("/alerts", status_code=303)
