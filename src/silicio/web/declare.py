"""Pages declared once: a :class:`Page` says where a page lives, what it shows, how it is computed,
how it is drawn and who may see it; :func:`install` turns each into its routes:

* the HTML page at ``path``, rendered from ``template``;
* its JSON twin under ``/api`` at the same path (``/api/overview`` for ``/``), documented in
  ``/openapi.json`` with the page's model;
* ``/api<path>/{table}.csv``: each of the page's tables (the list fields of row models) as CSV.

The parameters are the compute function's: its first argument is the data source (a
:class:`~silicio.web.dashboard.Dashboard` or a :class:`~silicio.web.tracedata.TraceData`, told apart by the
annotation), the others are the page's path and query parameters, typed and validated by
FastAPI from their annotations. The model is the compute function's return annotation.

A new page is a model, a template, a compute function and one declaration in its module's
``PAGES``::

    def lot(data: Dashboard, lot_id: str, stage: Stage = None) -> m.LotPage:
        return data.lot(lot_id, stage)

    Page(path="/lot/{lot_id}", compute=lot, template="lot.html", access="internal", charts=True,
         summary="A lot: wafer yields, stacked map, Pareto", csv_name="{lot_id}")

Routes that are not "model -> template" (redirects, forms, downloads, uploads) stay hand-written
and declare their access with :func:`silicio.web.access.access`.
"""

from __future__ import annotations

import inspect
import string
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from . import links, tables
from . import models as m
from .access import LEVEL_ROLES, Access, access, checked
from .api import csv_response
from .dashboard import Dashboard, NotFound
from .drill import Drill
from .render import render
from .tracedata import TraceData

#: Sections of the navigation bar, in order.
NAV_SECTIONS = ("yield", "trace", "supply", "metrology")


def dashboard(request: Request) -> Dashboard:
    return request.app.state.dashboard


def trace_data(request: Request) -> TraceData:
    return request.app.state.trace_data


def drill(request: Request) -> Drill:
    return Drill(request.app.state.dashboard, request.app.state.trace_data)


#: Where a compute function's data source comes from, by the type its first argument declares.
SOURCES: dict[type, Callable[[Request], Any]] = {Dashboard: dashboard, TraceData: trace_data, Drill: drill}
#: The data sources as arguments of hand-written routes.
DashboardData = Annotated[Dashboard, Depends(dashboard)]
TraceSource = Annotated[TraceData, Depends(trace_data)]


@dataclass(frozen=True)
class Nav:
    """A page's entry in the navigation bar: its title, its section (:data:`NAV_SECTIONS`) and
    its place within the section."""

    title: str
    section: str
    order: int

    def __post_init__(self):
        if self.section not in NAV_SECTIONS:
            raise ValueError(f"nav section {self.section!r}: expected one of {', '.join(NAV_SECTIONS)}")


@dataclass(frozen=True, kw_only=True)
class Page:
    """One page of the dashboard, declared once (see the module notes).

    ``access`` has no default: a page that does not say who may see it fails at import.
    ``csv_name`` is the CSV file names' stem, formatted with the request's parameters (default:
    the last part of the API path). ``redirect`` may send the HTML request elsewhere (search's
    exact hit): a URL, or None to render the page.
    """

    path: str
    compute: Callable[..., BaseModel]
    template: str
    access: Access
    summary: str
    nav: Nav | None = None
    charts: bool = False
    csv_name: str | None = None
    redirect: Callable[[BaseModel], str | None] | None = None
    model: type[BaseModel] = field(init=False)
    source: Callable[[Request], Any] = field(init=False)
    parameters: tuple[inspect.Parameter, ...] = field(init=False)

    def __post_init__(self):
        checked(self.access)
        hints = typing.get_type_hints(self.compute, include_extras=True)
        model = hints.get("return")
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError(
                f"page {self.path}: {self.compute.__name__} must be annotated to return a page model"
            )
        first, *rest = inspect.signature(self.compute).parameters.values()
        source = SOURCES.get(hints.get(first.name))
        if source is None:
            raise TypeError(f"page {self.path}: the first argument of {self.compute.__name__} must be "
                            f"annotated with one of {', '.join(t.__name__ for t in SOURCES)}")  # fmt: skip
        # Keyword-only, so the CSV routes may add their table parameter anywhere.
        parameters = tuple(
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints.get(p.name, p.annotation))
            for p in rest
        )
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "parameters", parameters)

    @property
    def api_path(self) -> str:
        """The JSON twin's path: the page's under ``/api`` (``/api/overview`` for ``/``)."""
        return links.api_url(self.path)

    @property
    def tables(self) -> list[str]:
        """The page's tables: its fields that hold a list of rows."""
        return [name for name, f in self.model.model_fields.items() if _row_list(f.annotation)]

    def page_of(self, request: Request, params: dict[str, Any]) -> BaseModel:
        return self.compute(self.source(request), **params)

    def api_url(self, params: dict[str, Any]) -> str:
        """The JSON twin's URL for these path parameters (without the query)."""
        return _formatted(self.api_path, {k: quote(str(v), safe="") for k, v in params.items()})

    def file_stem(self, params: dict[str, Any]) -> str:
        stem = self.csv_name or self.api_path.rsplit("/", 1)[1]
        return _formatted(stem, {k: str(v) for k, v in params.items()})


def _row_list(annotation: Any) -> bool:
    args = typing.get_args(annotation)
    return (
        typing.get_origin(annotation) is list
        and len(args) == 1
        and isinstance(args[0], type)
        and (issubclass(args[0], m.Row))
    )


def _formatted(template: str, values: dict[str, str]) -> str:
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    return template.format(**{name: values[name] for name in names})


def _with_signature(endpoint: Callable, parameters: Iterable[inspect.Parameter]) -> Callable:
    request = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)
    endpoint.__signature__ = inspect.Signature([request, *parameters])
    return endpoint


def _shown(page: Page, request: Request, params: dict[str, Any]) -> tuple[BaseModel, BaseModel, dict]:
    """(the page's model, its tables filtered and sorted as the URL asks, the URL's table queries):
    the HTML page, its JSON twin and its CSV read the URL's table parameters the same way."""
    model = page.page_of(request, params)
    queries = tables.parse(request.query_params, model)
    return model, tables.apply(model, queries), queries


def _json_endpoint(page: Page) -> Callable:
    def endpoint(request: Request, **params: Any) -> BaseModel:
        return _shown(page, request, params)[1]

    return _with_signature(access(page.access)(endpoint), page.parameters)


def _csv_endpoint(page: Page) -> Callable:
    def endpoint(request: Request, table: str, **params: Any) -> Response:
        _, shown, queries = _shown(page, request, params)
        model = m.row_model_of(shown, table)
        columns = tables.shown_columns(model, queries.get(table)) if model is not None else None
        return csv_response(shown, table, page.file_stem(params), columns)

    table = inspect.Parameter("table", inspect.Parameter.KEYWORD_ONLY, annotation=str)
    return _with_signature(access(page.access)(endpoint), (table, *page.parameters))


def _xlsx_endpoint(page: Page) -> Callable:
    def endpoint(request: Request, table: str, **params: Any) -> Response:
        _, shown, queries = _shown(page, request, params)
        model = m.row_model_of(shown, table)
        if model is None:
            raise NotFound(f"no table {table!r} on this page; tables: {', '.join(m.table_names(shown))}")
        if not tables.xlsx_available():
            raise NotFound(
                "workbooks need the xlsx extra (pip install 'silicio[xlsx]'); the CSV has the same rows"
            )
        content = tables.xlsx_bytes(shown, table, tables.shown_columns(model, queries.get(table)))
        filename = "".join(
            ch if ch.isalnum() or ch in "-_." else "_" for ch in f"{page.file_stem(params)}_{table}"
        )
        return Response(content, media_type=XLSX_TYPE,
                        headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'})  # fmt: skip

    table = inspect.Parameter("table", inspect.Parameter.KEYWORD_ONLY, annotation=str)
    return _with_signature(access(page.access)(endpoint), (table, *page.parameters))


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _html_endpoint(page: Page) -> Callable:
    def endpoint(request: Request, **params: Any) -> Response:
        model, shown, queries = _shown(page, request, params)
        target = page.redirect(model) if page.redirect is not None else None
        if target is not None:
            return RedirectResponse(target, status_code=303)
        return render(request, page.template, shown, page.api_url(params), charts=page.charts,
                      table_queries=queries)  # fmt: skip

    return _with_signature(access(page.access)(endpoint), page.parameters)


#: How a table's rows are chosen, for /openapi.json (silicio.web.tables).
TABLE_PARAMETERS = ("Rows as the page shows them: TABLE.sort=-col,col, TABLE.q=text, TABLE.COLUMN=value, "
                    "TABLE.COLUMN.min / .max=number, TABLE.from / .to=YYYY-MM-DD, TABLE.cols=col,col.")  # fmt: skip


def install(app: FastAPI, pages: Iterable[Page], *, tags: list[str]) -> None:
    """Add each page's JSON twin, CSV route and HTML page to ``app``, in declaration order (a
    page with a fixed path comes before one whose parameter would swallow it)."""
    api = APIRouter(tags=tags)
    html = APIRouter(include_in_schema=False)
    for page in pages:
        # Who may call it, in /openapi.json: the access level and the roles it lets in.
        documented = {"x-access": page.access, "x-roles": sorted(LEVEL_ROLES[page.access])}
        api.add_api_route(page.api_path, _json_endpoint(page), response_model=page.model, summary=page.summary,
                          name=f"{page.api_path} json", openapi_extra=documented)  # fmt: skip
        api.add_api_route(f"{page.api_path}/{{table}}.csv", _csv_endpoint(page), response_class=Response,
                          summary=f"A table of: {page.summary}", description=f"Tables: {', '.join(page.tables)}. "
                          + TABLE_PARAMETERS, name=f"{page.api_path} csv", openapi_extra=documented)  # fmt: skip
        api.add_api_route(f"{page.api_path}/{{table}}.xlsx", _xlsx_endpoint(page), response_class=Response,
                          summary=f"A table of: {page.summary}, as a workbook",
                          description=f"Tables: {', '.join(page.tables)}. " + TABLE_PARAMETERS,
                          name=f"{page.api_path} xlsx", openapi_extra=documented)  # fmt: skip
        html.add_api_route(
            page.path, _html_endpoint(page), response_class=HTMLResponse, name=f"{page.path} html"
        )
    app.include_router(api)
    app.include_router(html)


def navigation(pages: Iterable[Page]) -> list[tuple[str, str, str]]:
    """The navigation bar: (title, path, access) of each page with a nav entry, by section, then order."""
    entries = [page for page in pages if page.nav is not None]
    entries.sort(key=lambda p: (NAV_SECTIONS.index(p.nav.section), p.nav.order))
    return [(page.nav.title, page.path, page.access) for page in entries]
