"""HTML of a page: its model rendered through its template, tables ready to print, and the
rendered pages kept in a :class:`~silicio.web.cache.ByteCache` (bounded by bytes, not by count:
a control-chart page with its model is megabytes, a file list kilobytes)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from silicio.i18n import DEFAULT_LANGUAGE, translation

from . import models as m
from .access import viewer_key
from .cache import ByteCache
from .format import format_cell
from .i18n import language_of

#: Rows of a table an HTML page shows; the CSV and the API have them all.
HTML_ROWS = 300


@dataclass(frozen=True)
class TableView:
    """A page's table, ready to print: columns, (link, formatted cells) per shown row, row count."""

    columns: list[m.Column]
    rows: list[tuple[str | None, list[str]]]
    total: int


def table_view(page: BaseModel, name: str, language: str = DEFAULT_LANGUAGE) -> TableView:
    """The table ``name`` of ``page``, titles and cells in ``language``."""
    translated = translation(language)
    columns = [
        m.Column(key=c.key, title=translated.gettext(c.title), display=c.display)
        for c in m.columns_of(m.row_model_of(page, name))
    ]
    rows = getattr(page, name)
    # Formatted here rather than in the template: attribute lookups in Jinja cost ~10x more.
    shown = [
        (row.url, [format_cell(getattr(row, c.key), c.display, language) for c in columns])
        for row in rows[:HTML_ROWS]
    ]
    return TableView(columns, shown, len(rows))


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
    tables = {name: table_view(page, name, language) for name in m.table_names(page)}
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
