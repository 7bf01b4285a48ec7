"""The JSON side of the pages: the query parameters the yield pages share (typed and documented
once) and the CSV of a page's table. The routes themselves are generated from the pages'
declarations (:mod:`silicio.web.declare`)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Query
from fastapi.responses import Response
from pydantic import BaseModel

from . import models as m
from .dashboard import NotFound

#: STDF's TEST_NUM is an unsigned 4-byte integer (STDF V4, PTR/FTR/MPR); X_COORD and Y_COORD of a die
#: are signed 2-byte ones (PRR). A number outside them names nothing: 422, before any query runs
#: (a 40-digit test number overflowed the lake's 64-bit integers: a 500).
TEST_NUM_MAX = 2**32 - 1
COORDINATE_MIN, COORDINATE_MAX = -(2**15), 2**15 - 1

TestNumberPath = Annotated[int, Path(ge=0, le=TEST_NUM_MAX, description="STDF test number (0 to 4294967295)")]
Stage = Annotated[
    str | None, Query(description="test stage: wafer_sort, final_test, ...; default wafer sort")
]
BinKind = Annotated[str, Query(pattern="^(hard|soft)$", description="bins of the map: hard or soft")]
TestNumber = Annotated[
    int | None, Query(alias="test", ge=0, le=TEST_NUM_MAX, description="test of the parametric map")
]
DieCoordinate = Annotated[
    int | None, Query(ge=COORDINATE_MIN, le=COORDINATE_MAX, description="die X or Y on the wafer (STDF I*2)")
]
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


def csv_response(page: BaseModel, table: str, name: str, columns: list[m.Column] | None = None) -> Response:
    """One table of a page as CSV (every row, link left out; ``columns``: those only, in their
    order); 404 for a name that is no table."""
    model = m.row_model_of(page, table)
    if model is None:
        raise NotFound(f"no table {table!r} on this page; tables: {', '.join(m.table_names(page))}")
    columns = [c.key for c in (columns if columns is not None else m.columns_of(model))]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in getattr(page, table):
        writer.writerow([_csv_cell(getattr(row, c)) for c in columns])
    filename = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in f"{name}_{table}") + ".csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip
