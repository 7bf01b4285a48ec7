"""HTML of a page: its model rendered through its template, tables ready to print, and the
rendered pages kept in a :class:`~silicio.web.cache.ByteCache` (bounded by bytes, not by count:
a control-chart page with its model is megabytes, a file list kilobytes)."""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel
from starlette.datastructures import QueryParams

from silicio.i18n import DEFAULT_LANGUAGE, translation

from . import models as m
from .access import viewer_key
from .cache import ByteCache
from .format import format_cell
from .i18n import language_of
from .tables import PAGE_ROWS, TableQuery, parse, shown_columns, xlsx_available

#: Rows of a table an HTML page shows at a time (the URL may ask for another page); the CSV and
#: the API have them all.
HTML_ROWS = PAGE_ROWS


@dataclass(frozen=True)
class SortLink:
    """A column's header: where clicking it leads (sorted by it, or the other way) and how the
    table is sorted by it now ("asc", "desc" or None)."""

    url: str
    sorted: str | None


@dataclass(frozen=True)
class TableView:
    """A page's table, ready to print: columns, (link, formatted cells) per shown row, row count
    (after the URL's filters), the page shown and the links that change the view."""

    columns: list[m.Column]
    rows: list[tuple[str | None, list[str]]]
    total: int
    name: str = ""
    page: int = 1
    pages: int = 1
    first_row: int = 0
    sort_links: dict[str, SortLink] = field(default_factory=dict)
    previous_url: str | None = None
    next_url: str | None = None
    query: TableQuery = field(default_factory=TableQuery)
    date_column: str | None = None
    kept: list[tuple[str, str]] = field(
        default_factory=list
    )  # the URL's other parameters, for the filter form
    clear_url: str | None = None


def with_params(params: QueryParams, changes: dict[str, str | None]) -> str:
    """The query string of ``params`` with ``changes`` (None removes a parameter)."""
    pairs = [(k, v) for k, v in params.multi_items() if k not in changes]
    pairs += [(k, v) for k, v in changes.items() if v is not None]
    return "?" + urlencode(pairs) if pairs else "?"


def table_view(page: BaseModel, name: str, query: TableQuery | None = None, params: QueryParams | None = None,
               language: str = DEFAULT_LANGUAGE) -> TableView:  # fmt: skip
    """The table ``name`` of ``page`` as ``query`` shows it, titles and cells in ``language``."""
    query = query or TableQuery()
    params = params if params is not None else QueryParams("")
    model = m.row_model_of(page, name)
    translated = translation(language)
    columns = [
        m.Column(key=c.key, title=translated.gettext(c.title), display=c.display)
        for c in shown_columns(model, query)
    ]
    rows = getattr(page, name)
    pages = max(1, math.ceil(len(rows) / query.per_page))
    number = min(query.page, pages)
    start = (number - 1) * query.per_page
    # Formatted here rather than in the template: attribute lookups in Jinja cost ~10x more.
    shown = [
        (row.url, [format_cell(getattr(row, c.key), c.display, language) for c in columns])
        for row in rows[start : start + query.per_page]
    ]
    page_key = f"{name}.page"
    sort_links = {}
    for c in columns:
        now = query.descending(c.key)
        # A click sorts ascending; on the column sorted ascending, descending.
        term = f"-{c.key}" if now is False else c.key
        sort_links[c.key] = SortLink(
            url=with_params(params, {f"{name}.sort": term, page_key: None}),
            sorted=None if now is None else ("desc" if now else "asc"),
        )
    dated = [c.key for c in m.columns_of(model) if c.display == "datetime"]
    own = {k for k in params.keys() if k.startswith(f"{name}.")}
    return TableView(
        columns=columns, rows=shown, total=len(rows), name=name, page=number, pages=pages, first_row=start,
        sort_links=sort_links,
        previous_url=with_params(params, {page_key: str(number - 1)}) if number > 1 else None,
        next_url=with_params(params, {page_key: str(number + 1)}) if number < pages else None,
        query=query, date_column=query.date_column or (dated[0] if dated else None),
        kept=[(k, v) for k, v in params.multi_items() if k not in own and not k.startswith(f"{name}.")],
        clear_url=with_params(params, dict.fromkeys(own)) if own else None,
    )  # fmt: skip


def render(request: Request, template: str, page: BaseModel, api_url: str, *, charts: bool = False,
           **context) -> Response:  # fmt: skip
    """``template`` with the page model, its tables ready to print, the twin's URL and, for pages
    with charts, the model as JSON for the browser to draw from.

    The data sources hand out the same model object until their data change, so a page already
    rendered for the same model, template and URL is served as it was (re-rendering a control
    chart of a few thousand points takes ~150 ms, serving it ~5). The entry refers to the model
    weakly: the model belongs to the data source's cache, and once that drops it the HTML is
    never served again (an address is only unique while its object lives) and ages out.
    """
    rendered: ByteCache = request.app.state.rendered_pages
    key = (
        "html",
        id(page),
        template,
        str(request.url),
        viewer_key(request),  # the header names who is signed in and holds their form token
        language_of(request),  # the same URL in another language (cookie, Accept-Language)
    )  # apart from the data sources' keys, should they share the cache
    hit = rendered.get(key)
    if hit is not None and hit[0]() is page:
        return HTMLResponse(hit[1])
    response = _render(request, template, page, api_url, charts=charts, **context)
    rendered.put(key, (weakref.ref(page), response.body.decode()))
    return response


def _render(request: Request, template: str, page: BaseModel, api_url: str, *, charts: bool,
            **context) -> Response:  # fmt: skip
    language = language_of(request)
    queries = context.pop("table_queries", None)
    if queries is None:
        queries = parse(request.query_params, page)
    tables = {
        name: table_view(page, name, queries.get(name), request.query_params, language)
        for name in m.table_names(page)
    }
    query = request.url.query
    return request.app.state.templates.TemplateResponse(
        request,
        template,
        {
            "page": page,
            "tables": tables,
            "api_url": api_url + (f"?{query}" if query else ""),
            "csv_url": lambda table: f"{api_url}/{table}.csv" + (f"?{query}" if query else ""),
            "xlsx_url": (lambda table: f"{api_url}/{table}.xlsx" + (f"?{query}" if query else ""))
            if xlsx_available()
            else None,
            "page_json": page.model_dump(mode="json") if charts else None,
            **context,
        },
    )
