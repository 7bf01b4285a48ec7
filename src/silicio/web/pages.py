"""The HTML pages: each asks :class:`~silicio.web.data.Dashboard` for its model (the JSON twin's)
and renders a template; charts are drawn in the browser from the same model."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from . import models as m
from .api import BinKind, Data, Product, Stage, TestName, TestNumber, die_of
from .format import format_cell

router = APIRouter(include_in_schema=False)


#: Rows of a table an HTML page shows; the CSV and the API have them all.
HTML_ROWS = 300


@dataclass(frozen=True)
class TableView:
    """A page's table, ready to print: columns, (link, formatted cells) per shown row, row count."""

    columns: list[m.Column]
    rows: list[tuple[str | None, list[str]]]
    total: int


def table_view(page: BaseModel, name: str) -> TableView:
    columns = m.columns_of(m.row_model_of(page, name))
    rows = getattr(page, name)
    # Formatted here rather than in the template: attribute lookups in Jinja cost ~10x more.
    shown = [
        (row.url, [format_cell(getattr(row, c.key), c.display) for c in columns]) for row in rows[:HTML_ROWS]
    ]
    return TableView(columns, shown, len(rows))


#: Rendered pages kept: the dashboard hands out the same model object until the data changes,
#: so a page already rendered for the same model and URL is served as it is.
RENDERED_PAGES = 128


def render(request: Request, template: str, page: BaseModel, api_url: str, *, charts: bool = False,
           **context) -> Response:  # fmt: skip
    """``template`` with the page model, its tables ready to print, the twin's URL and, for pages
    with charts, the model as JSON for the browser to draw from."""
    rendered: OrderedDict = request.app.state.rendered_pages
    key = (id(page), template, str(request.url))
    with request.app.state.rendered_lock:
        hit = rendered.get(key)
        if hit is not None and hit[0] is page:  # the same object, not a new one at a reused address
            rendered.move_to_end(key)
            return HTMLResponse(hit[1])
    response = _render(request, template, page, api_url, charts=charts, **context)
    with request.app.state.rendered_lock:
        rendered[key] = (page, response.body.decode())
        while len(rendered) > RENDERED_PAGES:
            rendered.popitem(last=False)
    return response


def _render(request: Request, template: str, page: BaseModel, api_url: str, *, charts: bool,
            **context) -> Response:  # fmt: skip
    tables = {name: table_view(page, name) for name in m.table_names(page)}
    query = request.url.query
    return request.app.state.templates.TemplateResponse(
        request,
        template,
        {
            "page": page,
            "tables": tables,
            "api_url": api_url + (f"?{query}" if query else ""),
            "csv_url": lambda table: f"{api_url}/{table}.csv" + (f"?{query}" if query else ""),
            "page_json": page.model_dump(mode="json") if charts else None,
            **context,
        },
    )


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, data: Data) -> Response:
    return render(request, "overview.html", data.overview(), "/api/overview", charts=True)


@router.get("/lot/{lot_id}", response_class=HTMLResponse)
def lot(request: Request, data: Data, lot_id: str, stage: Stage = None) -> Response:
    page = data.lot(lot_id, stage)
    return render(request, "lot.html", page, f"/api/lot/{quote(lot_id, safe='')}", charts=True)


@router.get("/lot/{lot_id}/report", response_class=HTMLResponse)
def lot_report(data: Data, lot_id: str, stage: Stage = None) -> Response:
    """The lot report (:mod:`silicio.yields.report`): one self-contained page to save or print."""
    return HTMLResponse(data.lot_report_html(lot_id, stage))


@router.get("/lot/{lot_id}/wafer/{wafer_id}", response_class=HTMLResponse)
def wafer(request: Request, data: Data, lot_id: str, wafer_id: str, stage: Stage = None, kind: BinKind = "hard",
          test_num: TestNumber = None, x: int | None = None, y: int | None = None) -> Response:  # fmt: skip
    page = data.wafer(lot_id, wafer_id, stage, kind, test_num, die_of(x, y))
    api_url = f"/api/lot/{quote(lot_id, safe='')}/wafer/{quote(wafer_id, safe='')}"
    return render(request, "wafer.html", page, api_url, charts=True)


@router.get("/test/{test_num}", response_class=HTMLResponse)
def test(
    request: Request, data: Data, test_num: int, product: Product = None, name: TestName = None
) -> Response:
    page = data.test(test_num, product, name)
    return render(request, "test.html", page, f"/api/test/{test_num}", charts=True)


@router.get("/pat", response_class=HTMLResponse)
def pat(request: Request, data: Data) -> Response:
    return render(request, "pat.html", data.pat(), "/api/pat")


@router.get("/files", response_class=HTMLResponse)
def files(request: Request, data: Data) -> Response:
    return render(request, "files.html", data.files(), "/api/files")


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, data: Data, q: str = "") -> Response:
    page = data.search(q)
    exact = [hit for hit in page.hits if hit.kind in ("lot", "wafer") and hit.label.split(" (")[0] == page.q]
    if len(exact) == 1 and exact[0].url:  # the one lot or wafer typed in full: go there
        return RedirectResponse(exact[0].url, status_code=303)
    return render(request, "search.html", page, "/api/search")
