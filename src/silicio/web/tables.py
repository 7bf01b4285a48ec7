"""Tables people work in: every table of every declared page sorts, filters, pages and picks its
columns through query parameters named after the table, so a view is a URL to share, and the
page's JSON twin, CSV and workbook hold exactly the rows the page shows (filtered and sorted the
same; the HTML page shows one page of them at a time).

Parameters of table ``lots`` (each optional)::

    lots.sort=-final_yield,lot_id   sort by columns, "-" for descending (empty cells last)
    lots.q=TK41                     rows where some text or id cell contains this (any case)
    lots.stage=final_test           rows whose cell equals this (any column)
    lots.final_yield.min=0.9        rows whose number is at least / at most this
    lots.from=2024-06-01            rows dated on or after / on or before this (ISO dates;
    lots.to=2024-06-30              the table's first date column, or lots.date=column)
    lots.page=2  lots.per=100       the HTML page's page of rows and rows a page
    lots.cols=lot_id,final_yield    the columns shown and written to CSV / xlsx

:func:`parse` reads them once per request and says what is wrong with a bad one (422);
:func:`apply` filters and sorts a page model's tables.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import BaseModel
from starlette.datastructures import QueryParams

from . import models as m
from .tracedata import BadQuery

#: Rows of a table an HTML page shows at a time unless the URL asks for another page size.
PAGE_ROWS = 300
#: The largest page an HTML page shows (the CSV and the API have every row).
MAX_PAGE_ROWS = 5000
# The suffixes of a table's own parameters; any other "{table}.{column}" is a column's filter.
_OWN = {"sort", "q", "from", "to", "date", "page", "per", "cols"}


class BadTableQuery(BadQuery):
    """A table parameter that names no column or holds no valid value; answered 422."""


@dataclass(frozen=True)
class TableQuery:
    """What the URL asks of one table; the defaults leave it as the page computed it."""

    sort: tuple[tuple[str, bool], ...] = ()  # (column, descending)
    text: str | None = None
    equals: tuple[tuple[str, str], ...] = ()
    minimum: tuple[tuple[str, float], ...] = ()
    maximum: tuple[tuple[str, float], ...] = ()
    date_column: str | None = None
    since: date | None = None
    until: date | None = None
    page: int = 1
    per_page: int = PAGE_ROWS
    columns: tuple[str, ...] | None = None
    params: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def filters_rows(self) -> bool:
        return bool(self.sort or self.text or self.equals or self.minimum or self.maximum or self.since
                    or self.until)  # fmt: skip

    @property
    def changes_rows(self) -> bool:
        return self.filters_rows

    def descending(self, column: str) -> bool | None:
        """How the table is sorted by ``column`` first: True descending, False ascending, None not."""
        return self.sort[0][1] if self.sort and self.sort[0][0] == column else None


def _number(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BadTableQuery(f"{name}={text!r}: expected a number") from None


def _date(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadTableQuery(f"{name}={text!r}: expected a date as YYYY-MM-DD") from None


def _positive(name: str, text: str, largest: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1 or (largest is not None and value > largest):
        bound = f" up to {largest}" if largest is not None else ""
        raise BadTableQuery(f"{name}={text!r}: expected a whole number from 1{bound}")
    return value


def parse(params: QueryParams | dict[str, str], page: BaseModel) -> dict[str, TableQuery]:
    """The table parameters of a request, by table, checked against the page's columns."""
    tables = set(m.table_names(page))
    raw: dict[str, dict[str, str]] = {}
    for key, value in params.items():
        table, dot, rest = key.partition(".")
        if dot and table in tables and value != "":
            raw.setdefault(table, {})[rest] = value
    return {table: _parse_one(table, given, page) for table, given in raw.items()}


def _parse_one(table: str, given: dict[str, str], page: BaseModel) -> TableQuery:
    columns = {c.key: c for c in m.columns_of(m.row_model_of(page, table))}
    known = ", ".join(columns)

    def column(name: str, where: str) -> str:
        if name not in columns:
            raise BadTableQuery(f"{table}.{where}: table {table!r} has no column {name!r}; columns: {known}")
        return name

    sort, equals, minimum, maximum = [], [], [], []
    out: dict[str, Any] = {}
    for key, value in given.items():
        name = f"{table}.{key}"
        if key == "sort":
            for term in filter(None, (t.strip() for t in value.split(","))):
                descending = term.startswith("-")
                sort.append((column(term.lstrip("-+"), key), descending))
        elif key == "q":
            out["text"] = value.strip().lower() or None
        elif key in ("from", "to"):
            out["since" if key == "from" else "until"] = _date(name, value)
        elif key == "date":
            if column(value, key) and columns[value].display != "datetime":
                raise BadTableQuery(f"{name}={value!r}: not a date column of {table!r}")
            out["date_column"] = value
        elif key == "page":
            out["page"] = _positive(name, value)
        elif key == "per":
            out["per_page"] = _positive(name, value, MAX_PAGE_ROWS)
        elif key == "cols":
            out["columns"] = tuple(column(c.strip(), key) for c in value.split(",") if c.strip()) or None
        elif key.endswith((".min", ".max")):
            col, bound = key.rsplit(".", 1)
            (minimum if bound == "min" else maximum).append((column(col, key), _number(name, value)))
        else:
            equals.append((column(key, key), value))
    if ("since" in out or "until" in out) and "date_column" not in out:
        dated = [c.key for c in columns.values() if c.display == "datetime"]
        if not dated:
            raise BadTableQuery(f"{table}.from / {table}.to: table {table!r} has no date column")
        out["date_column"] = dated[0]
    return TableQuery(sort=tuple(sort), equals=tuple(equals), minimum=tuple(minimum), maximum=tuple(maximum),
                      params={f"{table}.{k}": v for k, v in given.items()}, **out)  # fmt: skip


# ------------------------------------------------------------------------------------------------
# Applying them


def _text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(map(str, value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _equal(value: Any, wanted: str) -> bool:
    if isinstance(value, list):
        return wanted in map(str, value)
    if isinstance(value, bool):
        return wanted.lower() in (("true", "yes", "1") if value else ("false", "no", "0"))
    if isinstance(value, float):
        try:
            return value == float(wanted)
        except ValueError:
            return False
    return _text_of(value) == wanted


def _as_datetime(day: date, end: bool) -> datetime:
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)


def _on_or_after(value: Any, since: date) -> bool:
    if not isinstance(value, datetime):
        return False
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return moment >= _as_datetime(since, end=False)


def _on_or_before(value: Any, until: date) -> bool:
    if not isinstance(value, datetime):
        return False
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return moment <= _as_datetime(until, end=True)


def rows_of(rows: list[m.Row], query: TableQuery, searchable: list[str]) -> list[m.Row]:
    """``rows`` filtered and sorted as ``query`` asks (empty cells last, whichever the direction)."""
    out = list(rows)
    if query.text:
        out = [r for r in out if any(query.text in _text_of(getattr(r, c)).lower() for c in searchable)]
    for col, wanted in query.equals:
        out = [r for r in out if _equal(getattr(r, col), wanted)]
    for col, bound in query.minimum:
        out = [r for r in out if isinstance(v := getattr(r, col), int | float) and v >= bound]
    for col, bound in query.maximum:
        out = [r for r in out if isinstance(v := getattr(r, col), int | float) and v <= bound]
    if query.since is not None:
        out = [r for r in out if _on_or_after(getattr(r, query.date_column), query.since)]
    if query.until is not None:
        out = [r for r in out if _on_or_before(getattr(r, query.date_column), query.until)]
    # Stable sorts from the last key to the first: rows equal on a key keep the next key's order.
    for col, descending in reversed(query.sort):
        empty = [r for r in out if getattr(r, col) is None]
        full = [r for r in out if getattr(r, col) is not None]
        full.sort(key=lambda r, c=col: _sort_key(getattr(r, c)), reverse=descending)
        out = full + empty
    return out


def _sort_key(value: Any) -> Any:
    if isinstance(value, list):
        return "; ".join(map(str, value))
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def apply(page: BaseModel, queries: dict[str, TableQuery]) -> BaseModel:
    """``page`` with each table filtered and sorted as asked; the same object when nothing is."""
    update = {}
    for table, query in queries.items():
        if not query.changes_rows:
            continue
        model = m.row_model_of(page, table)
        searchable = [c.key for c in m.columns_of(model) if c.display in ("text", "id")]
        update[table] = rows_of(getattr(page, table), query, searchable)
    return page.model_copy(update=update) if update else page


def shown_columns(model: type[m.Row], query: TableQuery | None) -> list[m.Column]:
    """The columns of a table to show and write: those of ``cols`` in its order, else all."""
    columns = m.columns_of(model)
    if query is None or query.columns is None:
        return columns
    by_key = {c.key: c for c in columns}
    return [by_key[k] for k in query.columns]


# ------------------------------------------------------------------------------------------------
# A workbook of a table


def xlsx_bytes(page: BaseModel, table: str, columns: list[m.Column]) -> bytes:
    """One table as an Excel workbook (xlsxwriter, the ``xlsx`` extra): a header row of the
    columns' titles, numbers as numbers, dates as dates (UTC, no time zone: Excel has none)."""
    import xlsxwriter

    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True, "remove_timezone": True})
    sheet = workbook.add_worksheet(table[:31])
    bold = workbook.add_format({"bold": True})
    when = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    percent = workbook.add_format({"num_format": "0.00%"})
    for j, c in enumerate(columns):
        sheet.write_string(0, j, c.title, bold)
    for i, row in enumerate(getattr(page, table), start=1):
        for j, c in enumerate(columns):
            value = getattr(row, c.key)
            if value is None:
                continue
            if isinstance(value, bool):
                sheet.write_boolean(i, j, value)
            elif isinstance(value, datetime):
                sheet.write_datetime(i, j, value.astimezone(UTC).replace(tzinfo=None), when)
            elif isinstance(value, int | float):
                sheet.write_number(i, j, value, percent if c.display == "percent" else None)
            else:
                sheet.write_string(i, j, _text_of(value))
    workbook.close()
    return out.getvalue()


def xlsx_available() -> bool:
    try:
        import xlsxwriter  # noqa: F401
    except ImportError:
        return False
    return True
