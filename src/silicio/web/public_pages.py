"""The public pages: ``/transparency``, the supplier ecosystem's public figures for investors and
the public, declared once (:mod:`silicio.web.declare`: the page, its JSON twin, a CSV of each data
set), and the JSON file of each data set (a hand-written route: declared pages have CSVs only).

Who may see it: everyone (``public``), signed in or not; it shows counts of three organisations
or more and national content, no company's own figures (:mod:`silicio.web.publicdata`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from . import links
from . import models as m
from . import public_models as pm
from .access import access
from .dashboard import NotFound
from .declare import Nav, Page, TraceSource
from .tracedata import TraceData

api = APIRouter(tags=["transparency"])


def transparency(data: TraceData) -> pm.TransparencyPage:
    return data.transparency()


PAGES = (
    Page(path="/transparency", compute=transparency, template="transparency.html", access="public", charts=True,
         summary="Public figures of the supplier ecosystem: organisations by state, size, capability and kind; "
         "national content per product; open data", nav=Nav("Transparency", "supply", 2)),
)  # fmt: skip


def dataset_document(page: pm.TransparencyPage, table: str, source: str) -> dict:
    """One data set of the page as an open data JSON document: where it comes from, its licence,
    its date and its rows (the CSV's, column for column)."""
    model = m.row_model_of(page, table)
    if model is None:
        raise NotFound(f"no data set {table!r}; data sets: {', '.join(m.table_names(page))}")
    columns = [c.key for c in m.columns_of(model)]
    rows = [{c: value for c, value in row.model_dump(mode="json").items() if c in columns}
            for row in getattr(page, table)]  # fmt: skip
    return {"dataset": table, "source": source, "as_of": page.as_of, "licence": page.licence,
            "licence_url": page.licence_url, "columns": columns, "rows": rows}  # fmt: skip


@api.get(links.api_url("/transparency") + "/{table}.json", summary="A data set of the transparency page, as JSON",
         openapi_extra={"x-access": "public"})  # fmt: skip
@access("public")
def transparency_dataset(request: Request, data: TraceSource, table: str) -> Response:
    page = data.transparency()
    document = dataset_document(page, table, str(request.url_for("/transparency html")))
    filename = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in f"transparency_{table}") + ".json"
    return JSONResponse(document, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
