"""What each page shows, as pydantic models: the JSON twins under ``/api`` return them, the HTML
pages render them, and ``/openapi.json`` documents them.

A page is one model; its tables are fields holding a list of row models. A row field's
``title`` is its column header, and ``json_schema_extra={"display": ...}`` says how a cell
shows it: ``percent`` (a fraction shown as 95.03%), ``number`` (4 significant digits),
``integer``, ``id`` (a number naming a test, bin or die, shown as is), ``datetime`` or ``text`` (the default). A row's ``url`` links its first cell and is
left out of tables and CSV.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


def _column(title: str, display: str, default: Any) -> Any:
    return Field(default, title=title, json_schema_extra={"display": display})


# A column of each display; ``default=None`` for the columns that may be empty.
def percent(title: str, default: Any = ...) -> Any:
    return _column(title, "percent", default)


def number(title: str, default: Any = ...) -> Any:
    return _column(title, "number", default)


def integer(title: str, default: Any = ...) -> Any:
    return _column(title, "integer", default)


def ident(title: str, default: Any = ...) -> Any:
    """A number that names something (test, bin, part, coordinate): shown as is."""
    return _column(title, "id", default)


def text(title: str, default: Any = ...) -> Any:
    return _column(title, "text", default)


def moment(title: str, default: Any = ...) -> Any:
    return _column(title, "datetime", default)


class Row(BaseModel):
    """A table row; ``url`` (when set) is where its first cell links to."""

    url: str | None = Field(default=None, title="Link")


# ------------------------------------------------------------------------------------------------
# Shared pieces


class WaferMapData(BaseModel):
    """Die coordinates and one value per die (``kind``: bin, parametric or fail_fraction)."""

    kind: str
    label: str | None = None
    x: list[int]
    y: list[int]
    value: list[float | None]
    good: list[bool] | None = Field(default=None, description="bin maps: the die passed")
    count: list[int] | None = Field(default=None, description="stacked maps: wafers stacked at the die")
    bin_names: dict[str, str] = Field(default_factory=dict, description="bin maps: bin -> name")


class TestStatistics(Row):
    test_num: int = ident("Test")
    test_name: str | None = text("Name", None)
    test_type: str | None = text("Type", None)
    pin: int | None = ident("Pin", None)
    units: str | None = text("Units", None)
    lo_limit: float | None = number("Low limit", None)
    hi_limit: float | None = number("High limit", None)
    count: int = integer("Results")
    mean: float | None = number("Mean", None)
    std: float | None = number("Sigma", None)
    cpk: float | None = number("Cpk", None)
    fail_count: int = integer("Fails")
    executions: int = integer("Executions")


# ------------------------------------------------------------------------------------------------
# Overview


class LotYield(Row):
    product: str | None = text("Product", None)
    lot_id: str = text("Lot")
    stage: str = text("Stage")
    started: datetime | None = moment("Started", None)
    wafers: int = integer("Wafers")
    final_dies: int = integer("Dies")
    final_good: int = integer("Good")
    first_pass_yield: float | None = percent("First-pass yield", None)
    final_yield: float | None = percent("Final yield", None)


class HeldLot(Row):
    product: str | None = text("Product", None)
    lot_id: str = text("Lot")
    stage: str = text("Stage")
    final_yield: float | None = percent("Final yield", None)
    reasons: list[str] = text("Why held")


class Overview(BaseModel):
    """Yield per lot (the trend by product) and the lots on hold."""

    hold_yield: float = Field(description="lots with a lower final yield are held")
    pat_hold_fraction: float = Field(description="lots with a larger share of PAT outliers are held")
    products: list[str]
    lots: list[LotYield]
    held_lots: list[HeldLot]
    notes: list[str] = Field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# Lot


class WaferYield(Row):
    wafer_id: str | None = text("Wafer", None)
    tested: int = integer("Tested")
    retests: int = integer("Retests")
    first_pass_dies: int = integer("Dies")
    first_pass_good: int = integer("First-pass good")
    first_pass_yield: float | None = percent("First-pass yield", None)
    final_good: int = integer("Final good")
    final_yield: float | None = percent("Final yield", None)


class ParetoBin(Row):
    bin: int | None = ident("Soft bin", None)
    name: str | None = text("Name", None)
    count: int = integer("Parts")
    percent_of_tested: float = number("% of tested")
    percent_of_fails: float = number("% of fails")
    cumulative_percent: float = number("Cumulative %")


class LotPage(BaseModel):
    lot_id: str
    product: str | None
    stage: str
    stages: list[str] = Field(description="stages the lot was tested at")
    total: WaferYield = Field(description="the whole lot")
    wafers: list[WaferYield]
    stacked_fail_map: WaferMapData | None = None
    bin_pareto: list[ParetoBin]
    worst_tests: list[TestStatistics]
    report_url: str | None = None


# ------------------------------------------------------------------------------------------------
# Wafer


class BinCount(Row):
    bin: int | None = ident("Bin", None)
    name: str | None = text("Name", None)
    count: int = integer("Dies")
    good: int = integer("Good")
    percent: float = number("% of dies")


class TestChoice(BaseModel):
    test_num: int
    test_name: str | None = None
    units: str | None = None


class WaferPage(BaseModel):
    lot_id: str
    wafer_id: str
    product: str | None
    stage: str
    bin_kind: str = Field(description="hard or soft")
    total: WaferYield
    bin_map: WaferMapData
    bins: list[BinCount]
    tests: list[TestChoice] = Field(description="tests the parametric map can show")
    test_num: int | None = Field(default=None, description="test of the parametric map")
    parametric_map: WaferMapData | None = None
    test_statistics: list[TestStatistics] = Field(default_factory=list)
    highlight: list[int] | None = Field(default=None, description="x, y of a die to mark")


# ------------------------------------------------------------------------------------------------
# Test


class Histogram(BaseModel):
    edges: list[float]
    counts: list[int]


class LotTestStatistics(Row):
    product: str | None = text("Product", None)
    lot_id: str = text("Lot")
    stage: str = text("Stage")
    started: datetime | None = moment("Started", None)
    count: int = integer("Results")
    mean: float | None = number("Mean", None)
    median: float | None = number("Median", None)
    std: float | None = number("Sigma", None)
    cp: float | None = number("Cp", None)
    cpk: float | None = number("Cpk", None)
    fail_count: int = integer("Fails")


class TestPage(BaseModel):
    test_num: int
    test_name: str | None
    names: list[str] = Field(description="names this test number carries")
    units: str | None
    product: str | None = Field(description="the product filter, if any")
    products: list[str]
    count: int = Field(description="results in the histogram (last execution per die)")
    mean: float | None
    std: float | None
    cpk: float | None
    lo_limit: float | None
    hi_limit: float | None
    pat_lo: float | None = Field(description="static PAT limits of the product's screening")
    pat_hi: float | None
    histogram: Histogram
    lots: list[LotTestStatistics]
    notes: list[str] = Field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# PAT


class LotScreening(Row):
    product: str | None = text("Product", None)
    lot_id: str = text("Lot")
    n_parts: int = integer("Parts")
    good_before: int = integer("Good before")
    good_after: int = integer("Good after")
    yield_before: float | None = percent("Yield before", None)
    yield_after: float | None = percent("Yield after", None)
    pat_parts: int = integer("PAT outliers")
    pat_fraction: float | None = percent("PAT share", None)


class RebinnedPart(Row):
    product: str | None = text("Product", None)
    lot_id: str = text("Lot")
    wafer_id: str | None = text("Wafer", None)
    part_index: int = ident("Part")
    part_id: str | None = text("Part id", None)
    x: int | None = ident("X", None)
    y: int | None = ident("Y", None)
    hard_bin: int | None = ident("Hard bin", None)
    soft_bin: int | None = ident("Soft bin", None)
    new_hard_bin: int | None = ident("New hard bin", None)
    new_soft_bin: int | None = ident("New soft bin", None)
    rules: list[str] = text("Rules")


class ScreeningReason(Row):
    product: str | None = text("Product", None)
    lot_id: str = text("Lot")
    wafer_id: str | None = text("Wafer", None)
    part_index: int = ident("Part")
    rule: str = text("Rule")
    test_num: int | None = ident("Test", None)
    test_name: str | None = text("Test name", None)
    value: float | None = number("Value", None)
    limit_lo: float | None = number("Low limit", None)
    limit_hi: float | None = number("High limit", None)


class PatPage(BaseModel):
    recipe: dict[str, str] = Field(description="name, version and SHA-256 of the screening recipe")
    lots: list[LotScreening]
    parts: list[RebinnedPart]
    reasons: list[ScreeningReason]
    notes: list[str] = Field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# Files


class IngestedFile(Row):
    path: str = text("File")
    product: str | None = text("Product", None)
    lot: str | None = text("Lot", None)
    stage: str = text("Stage")
    tester: str | None = text("Tester", None)
    program: str | None = text("Program", None)
    started: datetime | None = moment("Started", None)
    parts: int = integer("Parts")
    final_yield: float | None = percent("Final yield", None)
    status: str = text("Status")
    issues: int = integer("Issues")
    ingested_at: datetime = moment("Ingested")


class QuarantinedFile(Row):
    path: str = text("File")
    at: datetime = moment("Quarantined")
    offset: int = integer("Byte offset")
    record: str | None = text("Record", None)
    reason: str = text("Error")
    issues: int = integer("Issues")
    salvaged: bool = text("Salvaged")


class FilesPage(BaseModel):
    data_dir: str
    counts: dict[str, int] = Field(description="files per ingest status")
    files: list[IngestedFile]
    quarantine: list[QuarantinedFile]


# ------------------------------------------------------------------------------------------------
# Search


class SearchHit(Row):
    kind: str = text("Kind")
    label: str = text("Match")
    product: str | None = text("Product", None)
    lot_id: str | None = text("Lot", None)
    wafer_id: str | None = text("Wafer", None)


class SearchPage(BaseModel):
    q: str
    hits: list[SearchHit]


# ------------------------------------------------------------------------------------------------
# Tables


class Column(BaseModel):
    key: str
    title: str
    display: str


def row_model_of(page: BaseModel, table: str) -> type[Row] | None:
    """The row model of a page's table field, or None when ``table`` is not one."""
    field = type(page).model_fields.get(table)
    if field is None:
        return None
    args = getattr(field.annotation, "__args__", ())
    if getattr(field.annotation, "__origin__", None) is list and args and isinstance(args[0], type):
        if issubclass(args[0], Row):
            return args[0]
    return None


def table_names(page: BaseModel) -> list[str]:
    return [name for name in type(page).model_fields if row_model_of(page, name) is not None]


def columns_of(model: type[Row]) -> list[Column]:
    """A row model's columns, in field order, without the link."""
    out = []
    for key, field in model.model_fields.items():
        if key == "url":
            continue
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        out.append(Column(key=key, title=field.title or key, display=str(extra.get("display", "text"))))
    return out
