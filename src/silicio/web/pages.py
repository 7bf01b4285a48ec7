"""The yield pages: overview, lot, wafer, test, PAT, files and search, declared once
(:mod:`silicio.web.declare`); each asks :class:`~silicio.web.dashboard.Dashboard` for its model, which
the JSON twin returns and the HTML page renders (charts drawn in the browser from the same model).
The lot report, one self-contained HTML document, is a hand-written route."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from . import models as m
from .access import access
from .api import BinKind, DieCoordinate, Product, Stage, TestName, TestNumber, TestNumberPath, die_of
from .dashboard import Dashboard
from .declare import DashboardData, Nav, Page
from .die_pages import layered_wafer
from .i18n import language_of

router = APIRouter(include_in_schema=False)


def overview(data: Dashboard) -> m.Overview:
    return data.overview()


def lot(data: Dashboard, lot_id: str, stage: Stage = None) -> m.LotPage:
    return data.lot(lot_id, stage)


def wafer(data: Dashboard, lot_id: str, wafer_id: str, stage: Stage = None, kind: BinKind = "hard",
          test_num: TestNumber = None, x: DieCoordinate = None, y: DieCoordinate = None) -> m.WaferPage:  # fmt: skip
    page = layered_wafer(data, data.wafer(lot_id, wafer_id, stage, kind, test_num))
    highlight = die_of(x, y)
    return page.model_copy(update={"highlight": list(highlight)}) if highlight else page


def test(
    data: Dashboard, test_num: TestNumberPath, product: Product = None, name: TestName = None
) -> m.TestPage:
    return data.test(test_num, product, name)


def pat(data: Dashboard) -> m.PatPage:
    return data.pat()


def files(data: Dashboard) -> m.FilesPage:
    return data.files()


def search(data: Dashboard, q: str = "") -> m.SearchPage:
    return data.search(q)


def exact_hit(page: m.SearchPage) -> str | None:
    """The one lot or wafer typed in full: the search goes there instead of listing it."""
    exact = [hit for hit in page.hits if hit.kind in ("lot", "wafer") and hit.label.split(" (")[0] == page.q]
    return exact[0].url if len(exact) == 1 and exact[0].url else None


PAGES = (
    Page(path="/", compute=overview, template="overview.html", access="internal", charts=True,
         summary="Yield by lot and the lots on hold", nav=Nav("Overview", "yield", 1)),
    Page(path="/lot/{lot_id}", compute=lot, template="lot.html", access="internal", charts=True,
         summary="A lot: wafer yields, stacked map, Pareto", csv_name="{lot_id}"),
    Page(path="/lot/{lot_id}/wafer/{wafer_id}", compute=wafer, template="wafer.html", access="internal",
         charts=True, summary="A wafer: bin map, parametric map", csv_name="{wafer_id}"),
    Page(path="/test/{test_num}", compute=test, template="test.html", access="internal", charts=True,
         summary="A test: histogram, trend and Cpk by lot", csv_name="test_{test_num}"),
    Page(path="/pat", compute=pat, template="pat.html", access="internal",
         summary="Parts re-binned by the screening, and why", nav=Nav("PAT", "yield", 2)),
    Page(path="/files", compute=files, template="files.html", access="internal",
         summary="Files ingested and quarantined", nav=Nav("Files", "yield", 3)),
    Page(path="/search", compute=search, template="search.html", access="internal", redirect=exact_hit,
         summary="Lots, wafers and parts matching q"),
)  # fmt: skip


@router.get("/lot/{lot_id}/report", response_class=HTMLResponse)
@access("internal")
def lot_report(request: Request, data: DashboardData, lot_id: str, stage: Stage = None) -> Response:
    """The lot report (:mod:`silicio.yields.report`): one self-contained page to save or print, in
    the reader's language."""
    return HTMLResponse(data.lot_report_html(lot_id, stage, language_of(request)))
