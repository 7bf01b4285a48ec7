"""Convert an STDF file to Parquet, CSV or Excel: one table (file or sheet) per record type.

Parquet keeps every Arrow type as read. CSV and Excel cells hold scalars only, so list and
struct columns become JSON text and binary becomes hex (see :func:`flatten`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from silicio.extras import require

from . import read
from .errors import StdfIssue
from .spec import RECORDS, UNKNOWN
from .tidy import tidy as tidy_view

Format = Literal["parquet", "csv", "xlsx"]
FORMATS: tuple[str, ...] = ("parquet", "csv", "xlsx")

#: Rows of an Excel sheet (Excel's hard limit), the header row included.
EXCEL_MAX_ROWS = 1_048_576
#: Longest text an Excel cell holds.
EXCEL_MAX_TEXT = 32_767
#: Name of the tidy view's file or sheet.
TIDY_NAME = "tidy"

_COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zip")
_ROWS_PER_BATCH = 65_536


class ConvertError(ValueError):
    """A conversion that cannot be done as asked (bad format, tidy view unavailable, ...)."""


class Converted(list[Path]):
    """:func:`convert`'s result: the paths written, with what the reader found wrong
    (``issues``, not empty only when salvaging a damaged file)."""

    issues: list[StdfIssue]


def convert(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    fmt: Format,
    *,
    strict: bool = True,
    tidy: bool = False,
) -> Converted:
    """Read ``source`` and write its tables to ``out_dir`` (created if needed) as ``fmt``.

    Parquet and CSV give one file per record type, named after it (``PTR.parquet``); XLSX gives
    one workbook named after the source (``lot.xlsx``) with a sheet per record type. With
    ``tidy=True`` the one-row-per-(part, test) view is written too (``tidy.parquet``, ...).
    ``strict=False`` salvages a damaged file (see :func:`silicio.stdf.read`).

    Returns the paths written, in specification order of the record types (a list with the
    reader's ``issues`` attached).
    """
    if fmt not in FORMATS:
        raise ConvertError(f"unknown output format {fmt!r}: expected one of {', '.join(FORMATS)}")
    tables = read(source, strict=strict)
    named = _in_spec_order(tables)
    if tidy:
        named[TIDY_NAME] = tidy_view(tables)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = Converted()
    written.issues = list(tables.issues)
    if fmt == "xlsx":
        workbook = out / f"{_source_stem(source)}.xlsx"
        write_xlsx(named, workbook)
        written.append(workbook)
        return written
    for name, table in named.items():
        path = out / f"{name}.{fmt}"
        if fmt == "parquet":
            pq.write_table(table, path, compression="zstd")
        else:
            pa_csv.write_csv(flatten(table), path)
        written.append(path)
    return written


def _in_spec_order(tables: Mapping[str, pa.Table]) -> dict[str, pa.Table]:
    return {name: tables[name] for name in [*RECORDS, UNKNOWN] if name in tables}


def _source_stem(source: str | os.PathLike[str]) -> str:
    name = Path(source).name
    for suffix in _COMPRESSED_SUFFIXES:
        name = name.removesuffix(suffix)
    return Path(name).stem or "stdf"


# --------------------------------------------------------------------------------------------
# Flattening for text formats


def flatten(table: pa.Table) -> pa.Table:
    """The table with scalar columns only: lists and structs as JSON text, binary as hex.

    Inside JSON, struct members that are null are left out: a GDR item keeps its type code and
    its one value instead of a dozen nulls.
    """
    columns = []
    for column in table.columns:
        if _is_nested(column.type):
            column = pa.array([_json_text(v) for v in column.to_pylist()], pa.string())
        elif _is_binary(column.type):
            column = pa.array([None if v is None else v.hex() for v in column.to_pylist()], pa.string())
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def _is_nested(typ: pa.DataType) -> bool:
    return pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_struct(typ)


def _is_binary(typ: pa.DataType) -> bool:
    return pa.types.is_binary(typ) or pa.types.is_large_binary(typ) or pa.types.is_fixed_size_binary(typ)


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(_jsonable(value), separators=(",", ":"), allow_nan=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# Excel


def sheet_names(name: str, rows: int) -> list[str]:
    """Sheets a table of ``rows`` rows needs: ``PTR``, then ``PTR (2)``, ``PTR (3)``, ...

    An Excel sheet holds at most 1,048,576 rows (header included), so longer tables are split.
    """
    per_sheet = EXCEL_MAX_ROWS - 1
    count = max(1, -(-rows // per_sheet))
    return [name if i == 0 else f"{name} ({i + 1})" for i in range(count)]


def write_xlsx(tables: Mapping[str, pa.Table], path: str | os.PathLike[str]) -> Path:
    """One sheet per table, flattened like CSV; tables over Excel's row limit span sheets."""
    require("xlsx", "writing Excel workbooks")
    import xlsxwriter

    path = Path(path)
    # constant_memory streams each row to disk as written: memory stays flat for big files,
    # at the price of writing rows strictly in order (which is all we do).
    workbook = xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "nan_inf_to_errors": True, "strings_to_numbers": False}
    )
    header_format = workbook.add_format({"bold": True})
    try:
        for name, table in tables.items():
            flat = flatten(table)
            kinds = [_cell_kind(t) for t in flat.schema.types]
            per_sheet = EXCEL_MAX_ROWS - 1
            rows = _row_batches(flat)
            for sheet_index, sheet_name in enumerate(sheet_names(name, flat.num_rows)):
                sheet = workbook.add_worksheet(sheet_name)
                sheet.write_row(0, 0, flat.column_names, header_format)
                sheet.freeze_panes(1, 0)
                limit = min(per_sheet, flat.num_rows - sheet_index * per_sheet)
                for row_number in range(1, limit + 1):
                    _write_cells(sheet, row_number, next(rows), kinds)
    finally:
        workbook.close()
    return path


def _cell_kind(typ: pa.DataType) -> str:
    if pa.types.is_boolean(typ):
        return "bool"
    if pa.types.is_integer(typ) or pa.types.is_floating(typ):
        return "number"
    return "text"


def _row_batches(table: pa.Table) -> Iterator[tuple]:
    for batch in table.to_batches(max_chunksize=_ROWS_PER_BATCH):
        yield from zip(*(column.to_pylist() for column in batch.columns), strict=True)


def _write_cells(sheet, row_number: int, values: tuple, kinds: list[str]) -> None:
    for col, (value, kind) in enumerate(zip(values, kinds, strict=True)):
        if value is None:
            continue
        if kind == "number":
            sheet.write_number(row_number, col, value)
        elif kind == "bool":
            sheet.write_boolean(row_number, col, value)
        else:
            # write_string, never write(): tester text such as "=SUM" must stay text.
            sheet.write_string(row_number, col, str(value)[:EXCEL_MAX_TEXT])
