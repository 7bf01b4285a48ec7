"""silicio.tabular: CSV as people and spreadsheets write it (separator, decimal comma, encoding,
times with offsets, line numbers as an editor counts them)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from silicio.tabular import TableError, read_sheet, read_table, sheet_names


def write(tmp_path, raw: bytes, name: str = "t.csv"):
    path = tmp_path / name
    path.write_bytes(raw)
    return path


def test_excel_mexico_semicolon_decimal_comma_windows_1252(tmp_path):
    # What Excel on Spanish Windows writes: ';', decimal comma, cp1252 accents, padding line of separators.
    raw = "pieza;operador;medición\r\n1;Ana Peña;10,25\r\n2;José;9,5\r\n;;\r\n".encode("cp1252")
    table = read_table(write(tmp_path, raw))
    assert table.dialect.separator == ";" and table.dialect.decimal == ","
    assert table.dialect.encoding == "windows-1252"
    assert table.data.column_names == ["pieza", "operador", "medición"]
    assert table.data.column("medición").to_pylist() == [10.25, 9.5]
    assert table.data.column("operador").to_pylist() == ["Ana Peña", "José"]
    assert table.data.schema.field("pieza").type == pa.int64()
    assert table.lines == (2, 3)
    assert table.decimals("medición") == 2


def test_utf8_bom_comma_separated_with_grouped_thousands_quoted(tmp_path):
    raw = b'\xef\xbb\xbfsite,capacity,price\nMX1,"1,200",10000.005\nMX2,800,3.5\n'
    table = read_table(write(tmp_path, raw))
    assert table.dialect.encoding == "utf-8 (BOM)"
    assert table.data.column_names == ["site", "capacity", "price"]
    assert table.data.column("capacity").to_pylist() == [1200, 800]
    assert table.data.column("price").to_pylist() == [10000.005, 3.5]
    assert table.decimals("price") == 3


def test_times_with_offsets_become_utc(tmp_path):
    raw = b"when;value\n2026-03-01T08:00:00-06:00;1\n2026-03-01 15:30Z;2\n"
    table = read_table(write(tmp_path, raw))
    times = table.data.column("when").to_pylist()
    assert times[0] == datetime(2026, 3, 1, 14, 0, tzinfo=UTC)
    assert times[1] == datetime(2026, 3, 1, 15, 30, tzinfo=UTC)


def test_mixing_times_with_and_without_offset_is_refused_with_the_line(tmp_path):
    raw = b"when;value\n2026-03-01T08:00:00-06:00;1\n\n2026-03-01 09:00;2\n"
    with pytest.raises(TableError) as caught:
        read_table(write(tmp_path, raw))
    assert caught.value.line == 4 and caught.value.column == "when"
    assert "UTC offset like line 2" in str(caught.value)


def test_ambiguous_comma_is_not_guessed(tmp_path):
    raw = b"part;value\n1;1,234\n2;2,500\n"
    with pytest.raises(TableError, match="decimal or a thousands separator") as caught:
        read_table(write(tmp_path, raw))
    assert caught.value.line == 2
    assert read_table(write(tmp_path, raw), decimal=",").data.column("value").to_pylist() == [1.234, 2.5]
    assert read_table(write(tmp_path, raw), decimal=".").data.column("value").to_pylist() == [1234, 2500]


def test_mixed_decimal_separators_are_refused(tmp_path):
    raw = b"a;b\n1,5;2.25\n"
    with pytest.raises(TableError, match="decimal comma"):
        read_table(write(tmp_path, raw))


def test_bad_cell_names_file_line_and_column(tmp_path):
    raw = b"part,value\n1,2.5\n2,3.5\n3,abc\n"
    path = write(tmp_path, raw)
    with pytest.raises(TableError) as caught:
        read_table(path, types={"value": "number"})
    assert str(caught.value) == f"{path}, line 4, column 'value': expected a number (decimal '.'), got 'abc'"


def test_missing_tokens_in_numbers_and_text(tmp_path):
    raw = b"name,value\nnone,NA\n,1.5\n"
    table = read_table(write(tmp_path, raw))
    assert table.data.column("value").to_pylist() == [None, 1.5]
    # "none" is a value in a text column (a signature may be called that); only the empty cell is missing.
    assert table.data.column("name").to_pylist() == ["none", None]


def test_rows_of_the_wrong_width_and_header_faults(tmp_path):
    with pytest.raises(TableError, match="expected 2 fields") as caught:
        read_table(write(tmp_path, b"a,b\n1,2\n1,2,3\n"))
    assert caught.value.line == 3
    with pytest.raises(TableError, match="named twice"):
        read_table(write(tmp_path, b"a,a\n1,2\n"))
    with pytest.raises(TableError, match="missing column"):
        read_table(write(tmp_path, b"a,b\n1,2\n"), required=["c"])
    with pytest.raises(TableError, match="empty"):
        read_table(write(tmp_path, b"\n\n"))
    with pytest.raises(TableError, match="cannot read"):
        read_table(tmp_path / "absent.csv")


def test_quoted_newline_keeps_line_numbers(tmp_path):
    raw = b'id\tnote\n1\t"two\nlines"\n2\tone\n'
    table = read_table(write(tmp_path, raw))
    assert table.dialect.separator == "\t"
    assert table.lines == (2, 4)
    assert table.data.column("note").to_pylist() == ["two\nlines", "one"]


def test_bool_and_date_columns(tmp_path):
    raw = "fecha;activo\n2026-01-31;sí\n2026-02-01;no\n".encode()
    table = read_table(write(tmp_path, raw), types={"activo": "bool"})
    assert table.data.column("activo").to_pylist() == [True, False]
    assert str(table.data.column("fecha")[0]) == "2026-01-31"


def test_one_column_of_decimal_commas(tmp_path):
    table = read_table(write(tmp_path, b"valor\n1,5\n2,25\n"))
    assert table.data.column_names == ["valor"]
    assert table.data.column("valor").to_pylist() == [1.5, 2.25]
    assert table.dialect.decimal == ","


def _workbook(path, sheets: dict) -> None:
    """A workbook written by xlsxwriter: each value written as its own cell type."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for (r, c), value in rows.items():
            if isinstance(value, datetime):
                sheet.write_datetime(r, c, value, stamp)
            elif isinstance(value, bool):
                sheet.write_boolean(r, c, value)
            elif isinstance(value, int | float):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, value)
    book.close()


def test_sheet_cells_keep_their_types_and_excel_row_numbers(tmp_path):
    path = tmp_path / "lab.xlsx"
    # header on Excel row 2 (row 1 empty), data on rows 3 and 5 (row 4 empty)
    cells = {(1, 0): "gage", (1, 1): "reading", (1, 2): "count", (1, 3): "due", (1, 4): "ok", (1, 5): "at",
             (2, 0): "G-1", (2, 1): 1.25, (2, 2): 3, (2, 3): datetime(2025, 3, 1), (2, 4): True,
             (2, 5): datetime(2025, 3, 1, 14, 30),
             (4, 0): "G-2", (4, 1): 0.1, (4, 2): 4, (4, 3): datetime(2025, 4, 2), (4, 4): False,
             (4, 5): datetime(2025, 4, 2, 8, 0)}  # fmt: skip
    _workbook(path, {"Readings": cells, "Other": {(0, 0): "x"}})
    assert sheet_names(path) == ["Readings", "Other"]
    table = read_sheet(path, types={"ok": "bool"})
    assert (
        table.sheet == "Readings" and table.lines == (3, 5) and table.dialect.describe() == "Excel workbook"
    )
    data = table.data
    assert data["reading"].to_pylist() == [1.25, 0.1] and data.schema.field("reading").type == pa.float64()
    assert data["count"].to_pylist() == [3, 4] and data.schema.field("count").type == pa.int64()
    assert data["due"].to_pylist() == [date(2025, 3, 1), date(2025, 4, 2)]  # midnight date-times: dates
    assert data["ok"].to_pylist() == [True, False]
    assert data["at"].to_pylist() == [datetime(2025, 3, 1, 14, 30), datetime(2025, 4, 2, 8, 0)]
    assert table.decimals("reading") == 2


def test_sheet_errors_name_file_sheet_row_and_column(tmp_path):
    path = tmp_path / "lab.xlsx"
    _workbook(path, {"S": {(0, 0): "gage", (0, 1): "reading", (1, 0): "G-1", (1, 1): 2.5, (2, 0): "G-2",
                           (2, 1): "2,5"}})  # fmt: skip
    with pytest.raises(TableError, match=r"lab.xlsx, sheet 'S', row 3, column 'reading': expected a number"):
        read_sheet(path, types={"reading": "number"})
    with pytest.raises(TableError, match=r"lab.xlsx: no sheet 'T'; the workbook has 'S'"):
        read_sheet(path, "T")
    with pytest.raises(TableError, match=r"sheet 'S', row 1: missing column\(s\) count"):
        read_sheet(path, required=["count"])
    _workbook(path, {"S": {(0, 0): "gage", (1, 0): "G-1", (1, 2): 7.0}})
    with pytest.raises(
        TableError, match=r"sheet 'S', row 2: a value in column C, right of the header's 1 columns"
    ):
        read_sheet(path)
    (tmp_path / "not.xlsx").write_text("gage,reading\n")
    with pytest.raises(TableError, match=r"not.xlsx: not an Excel workbook"):
        read_sheet(tmp_path / "not.xlsx")
