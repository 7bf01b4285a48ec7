"""The JSON twins of the pages, under ``/api`` at the page's path, and a CSV of every table at
``/api/<page path>/<table>.csv``. Each returns the model the page renders."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from . import models as m
from .data import Dashboard, NotFound

router = APIRouter(prefix="/api", tags=["api"])


def dashboard(request: Request) -> Dashboard:
    return request.app.state.dashboard


Data = Annotated[Dashboard, Depends(dashboard)]
Stage = Annotated[
    str | None, Query(description="test stage: wafer_sort, final_test, ...; default wafer sort")
]
BinKind = Annotated[str, Query(pattern="^(hard|soft)$", description="bins of the map: hard or soft")]
TestNumber = Annotated[int | None, Query(alias="test", description="test of the parametric map")]
Product = Annotated[str | None, Query(description="only this product")]
TestName = Annotated[str | None, Query(description="the test's name, when a number names several tests")]


def die_of(x: int | None, y: int | None) -> tuple[int, int] | None:
    return (x, y) if x is not None and y is not None else None


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(map(str, value))
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def csv_response(page: BaseModel, table: str, name: str) -> Response:
    """One table of a page as CSV (every row, link left out); 404 for a name that is no table."""
    model = m.row_model_of(page, table)
    if model is None:
        raise NotFound(f"no table {table!r} on this page; tables: {', '.join(m.table_names(page))}")
    columns = [c.key for c in m.columns_of(model)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in getattr(page, table):
        writer.writerow([_csv_cell(getattr(row, c)) for c in columns])
    filename = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in f"{name}_{table}") + ".csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip


@router.get("/overview", response_model=m.Overview, summary="Yield by lot and the lots on hold")
def overview(data: Data) -> m.Overview:
    return data.overview()


@router.get("/overview/{table}.csv", summary="A table of the overview as CSV")
def overview_csv(data: Data, table: str) -> Response:
    return csv_response(data.overview(), table, "overview")


@router.get("/lot/{lot_id}", response_model=m.LotPage, summary="A lot: wafer yields, stacked map, Pareto")
def lot(data: Data, lot_id: str, stage: Stage = None) -> m.LotPage:
    return data.lot(lot_id, stage)


@router.get("/lot/{lot_id}/{table}.csv", summary="A table of a lot as CSV")
def lot_csv(data: Data, lot_id: str, table: str, stage: Stage = None) -> Response:
    return csv_response(data.lot(lot_id, stage), table, lot_id)


@router.get("/lot/{lot_id}/wafer/{wafer_id}", response_model=m.WaferPage,
            summary="A wafer: bin map, parametric map")  # fmt: skip
def wafer(data: Data, lot_id: str, wafer_id: str, stage: Stage = None, kind: BinKind = "hard",
          test_num: TestNumber = None, x: int | None = None, y: int | None = None) -> m.WaferPage:  # fmt: skip
    return data.wafer(lot_id, wafer_id, stage, kind, test_num, die_of(x, y))


@router.get("/lot/{lot_id}/wafer/{wafer_id}/{table}.csv", summary="A table of a wafer as CSV")
def wafer_csv(data: Data, lot_id: str, wafer_id: str, table: str, stage: Stage = None, kind: BinKind = "hard",
              test_num: TestNumber = None) -> Response:  # fmt: skip
    return csv_response(data.wafer(lot_id, wafer_id, stage, kind, test_num), table, wafer_id)


@router.get("/test/{test_num}", response_model=m.TestPage, summary="A test: histogram, trend and Cpk by lot")
def test(data: Data, test_num: int, product: Product = None, name: TestName = None) -> m.TestPage:
    return data.test(test_num, product, name)


@router.get("/test/{test_num}/{table}.csv", summary="A table of a test as CSV")
def test_csv(
    data: Data, test_num: int, table: str, product: Product = None, name: TestName = None
) -> Response:
    return csv_response(data.test(test_num, product, name), table, f"test_{test_num}")


@router.get("/pat", response_model=m.PatPage, summary="Parts re-binned by the screening, and why")
def pat(data: Data) -> m.PatPage:
    return data.pat()


@router.get("/pat/{table}.csv", summary="A table of the PAT page as CSV")
def pat_csv(data: Data, table: str) -> Response:
    return csv_response(data.pat(), table, "pat")


@router.get("/files", response_model=m.FilesPage, summary="Files ingested and quarantined")
def files(data: Data) -> m.FilesPage:
    return data.files()


@router.get("/files/{table}.csv", summary="A table of the files page as CSV")
def files_csv(data: Data, table: str) -> Response:
    return csv_response(data.files(), table, "files")


@router.get("/search", response_model=m.SearchPage, summary="Lots, wafers and parts matching q")
def search(data: Data, q: str = "") -> m.SearchPage:
    return data.search(q)


@router.get("/search/{table}.csv", summary="Search hits as CSV")
def search_csv(data: Data, table: str, q: str = "") -> Response:
    return csv_response(data.search(q), table, "search")
