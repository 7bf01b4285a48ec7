"""Tables people write by hand or export from a spreadsheet: CSV read as they wrote it.

What Excel writes in Mexico and most of Latin America is ``;``-separated with a decimal comma,
often in Windows-1252; other exports are ``,``-separated with a decimal point, UTF-8 with a BOM.
:func:`read_table` tells these apart from the file (or takes ``sep``, ``decimal`` and
``encoding`` when told), types each column (integer, number, date, time with or without UTC
offset, text) and keeps, for every row, the line of the file it starts on: errors and results
name rows the way the user counts them in an editor (the header is line 1).

>>> table = read_table("gage.csv")          # doctest: +SKIP
>>> table.dialect.describe()                # doctest: +SKIP
"';'-separated, decimal comma, windows-1252"

Nothing is guessed silently: a ``,`` that could be a decimal or a thousands separator
(``1,234`` in a ``;`` file with no other number to tell) is an error asking for ``decimal``;
a cell that does not fit its column's type is an error naming the file, line and column.
Nothing here imports another silicio module: every area may use it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

import pyarrow as pa

#: Separators tried when none is given, in the order ties are broken.
SEPARATORS = (";", ",", "\t", "|")
#: Column types :func:`read_table` infers or is told (``types``).
TYPES = ("int", "number", "date", "time", "text", "bool")
#: Cells that mean "no value" in a column of numbers, dates or times (case does not matter).
#: In a text column only the empty cell is missing: "none" may be a value there.
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "-"})
#: :attr:`Dialect.encoding` of a table read from a workbook's sheet (:func:`read_sheet`).
WORKBOOK = "xlsx"
#: Key of the field metadata holding the most decimals written in a number column.
DECIMALS_KEY = b"silicio.decimals"

_TRUE = frozenset({"true", "yes", "y", "si", "sí", "1", "verdadero"})
_FALSE = frozenset({"false", "no", "n", "0", "falso"})
_SAMPLE_LINES = 50
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?$")
# A number as a spreadsheet writes it, with the decimal separator D and grouping G.
_NUMBER = r"^[+-]?(\d+|\d{{1,3}}({g}\d{{3}})+)?({d}\d*)?([eE][+-]?\d+)?$"
_POINT_NUMBER = re.compile(_NUMBER.format(d=r"\.", g=","))
_COMMA_NUMBER = re.compile(_NUMBER.format(d=",", g=r"\."))
_PLAIN_INT = re.compile(r"^[+-]?\d+$")
# Only a decimal comma makes these: one comma followed by other than three digits.
_SURELY_COMMA = re.compile(r"^[+-]?\d*,(\d{1,2}|\d{4,})([eE][+-]?\d+)?$")
# Only a decimal point makes these.
_SURELY_POINT = re.compile(r"^[+-]?\d*\.(\d{1,2}|\d{4,})([eE][+-]?\d+)?$")
# Either: "1,234" / "1.234" (a decimal or a thousands separator).
_EITHER = re.compile(r"^[+-]?\d{1,3}[.,]\d{3}$")


class TableError(ValueError):
    """A table that cannot be read as written: names the file, the line (as counted in an
    editor, header = 1) and the column where known, and what was expected. For a sheet of a
    workbook, the sheet and the row as Excel numbers it (``line`` holds that number)."""

    def __init__(self, path: str | Path, reason: str, *, line: int | None = None, column: str | None = None,
                 sheet: str | None = None):  # fmt: skip
        self.path = str(path)
        self.line = line
        self.column = column
        self.reason = reason
        self.sheet = sheet
        where = [self.path]
        if sheet is not None:
            where.append(f"sheet {sheet!r}")
        if line is not None:
            where.append(f"{'row' if sheet is not None else 'line'} {line}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {reason}")


@dataclass(frozen=True)
class Dialect:
    """How a file was written: its field separator, decimal separator and text encoding."""

    separator: str
    decimal: str
    encoding: str

    def describe(self) -> str:
        if self.encoding == WORKBOOK:
            return "Excel workbook"
        separator = {"\t": "tab"}.get(self.separator, repr(self.separator))
        decimal = "decimal comma" if self.decimal == "," else "decimal point"
        return f"{separator}-separated, {decimal}, {self.encoding}"


@dataclass(frozen=True)
class Table:
    """A table read from a file: the data, the line each row starts on, and how it was written."""

    path: Path
    data: pa.Table
    lines: tuple[int, ...]
    dialect: Dialect
    #: The sheet of a workbook the table was read from (its ``lines`` are Excel's row numbers).
    sheet: str | None = None

    def line_of(self, row: int) -> int:
        """The file line of the row at index ``row`` (0-based), as the user counts lines (for a
        sheet: its row number in Excel)."""
        return self.lines[row]

    def decimals(self, column: str) -> int | None:
        """The most decimals written in a number column (to show results with the data's
        precision), or None for other columns."""
        metadata = self.data.schema.field(column).metadata or {}
        value = metadata.get(DECIMALS_KEY)
        return int(value) if value is not None else None

    def error(self, reason: str, *, row: int | None = None, column: str | None = None) -> TableError:
        """An error about row ``row`` (0-based index into :attr:`data`) naming its file line."""
        return TableError(self.path, reason, line=None if row is None else self.line_of(row), column=column,
                          sheet=self.sheet)  # fmt: skip


def decode(raw: bytes, path: str | Path, encoding: str | None = None) -> tuple[str, str]:
    """(text, encoding): the encoding given, else UTF-8 (with or without BOM), else UTF-16 with
    a BOM, else Windows-1252 (what Excel writes on Spanish Windows; a superset of Latin-1's
    printable characters)."""
    if encoding is not None:
        try:
            return raw.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise TableError(path, f"cannot decode as {encoding}: {exc}") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict"), "utf-8 (BOM)"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def sniff_separator(text: str) -> str:
    """The separator that splits the first lines into the same number of fields (most fields
    wins; ties broken in :data:`SEPARATORS` order). A one-column file gets the first separator
    none of its lines holds: its cells stay whole (``1,5`` in a column of decimal commas)."""
    lines = [line for line in text.splitlines()[:_SAMPLE_LINES] if line.strip()]
    best = next((s for s in SEPARATORS if not any(s in line for line in lines)), ",")
    best_fields = 1
    for separator in SEPARATORS:
        counts = [len(row) for row in csv.reader(lines, delimiter=separator)]
        if not counts or counts[0] < 2:
            continue
        consistent = sum(count == counts[0] for count in counts) >= max(1, (len(counts) * 9) // 10)
        if consistent and counts[0] > best_fields:
            best, best_fields = separator, counts[0]
    return best


def sniff_decimal(path: str | Path, cells: Iterable[tuple[int, str, str]], separator: str) -> str:
    """``,`` or ``.`` from the numbers written in the cells ((line, column, text)); a ``,``
    separated file has a decimal point (a decimal comma there would need quotes on every
    number). Refuses to guess between ``1,234`` as a thousand or as a decimal."""
    if separator == ",":
        return "."
    comma = point = either = None
    for line, column, text in cells:
        text = text.strip()
        if comma is None and _SURELY_COMMA.match(text):
            comma = (line, column, text)
        elif point is None and _SURELY_POINT.match(text):
            point = (line, column, text)
        elif either is None and _EITHER.match(text):
            either = (line, column, text)
    if comma and point:
        raise TableError(path, f"numbers with a decimal comma ({comma[2]!r}, line {comma[0]}) and a decimal point "
                               f"({point[2]!r}, line {point[0]}): give the decimal separator (--decimal)",
                         )  # fmt: skip
    if comma:
        return ","
    if point:
        return "."
    if either:
        line, column, text = either
        raise TableError(path, f"{text!r} could be a decimal or a thousands separator: give the decimal "
                               f"separator (--decimal , or --decimal .)", line=line, column=column)  # fmt: skip
    return "."


def parse_number(text: str, decimal: str) -> float | int | None:
    """The number a cell writes with the decimal separator ``decimal`` (``,`` or ``.``;
    grouping allowed: ``1.234,5``), None if it is not one."""
    return _number(text.strip(), decimal)


def _number(text: str, decimal: str) -> float | int | None:
    """The number a cell writes, None if it is not one; grouping separators allowed."""
    pattern = _COMMA_NUMBER if decimal == "," else _POINT_NUMBER
    if not any(ch.isdigit() for ch in text) or not pattern.match(text):
        if decimal == "." and text.lower() in ("inf", "+inf", "-inf"):
            return float(text)
        return None
    if _PLAIN_INT.match(text):
        return int(text)
    group, point = (".", ",") if decimal == "," else (",", ".")
    return float(text.replace(group, "").replace(point, "."))


def _time(text: str) -> datetime | None:
    if not _TIME.match(text):
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.astimezone(UTC) if value.tzinfo is not None else value


def _date(text: str) -> date | None:
    if not _DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _decimals(text: str, decimal: str) -> int:
    mantissa = re.split("[eE]", text)[0]
    return len(mantissa.split(decimal, 1)[1]) if decimal in mantissa else 0


class _Column:
    """One column's cells converted to a type, with the error for the first cell that is not."""

    def __init__(self, path: Path, name: str, cells: list[str], lines: Sequence[int], decimal: str,
                 sheet: str | None = None):  # fmt: skip
        self.path, self.name, self.cells, self.lines, self.decimal = path, name, cells, lines, decimal
        self.sheet = sheet

    def infer(self) -> str:
        present = [cell for cell in self.cells if cell.strip().lower() not in MISSING]
        if not present:
            return "text" if any(cell.strip() for cell in self.cells) else "number"
        stripped = [cell.strip() for cell in present]
        numbers = [_number(cell, self.decimal) for cell in stripped]
        if all(value is not None for value in numbers):
            return "int" if all(isinstance(value, int) for value in numbers) else "number"
        if all(_date(cell) is not None for cell in stripped):
            return "date"
        if all(_time(cell) is not None for cell in stripped):
            return "time"
        return "text"

    def _fail(self, row: int, expected: str) -> TableError:
        return TableError(self.path, f"expected {expected}, got {self.cells[row]!r}", line=self.lines[row],
                          column=self.name, sheet=self.sheet)  # fmt: skip

    def convert(self, kind: str) -> tuple[pa.Array, dict[bytes, bytes] | None]:
        if kind == "text":
            return pa.array([cell if cell != "" else None for cell in self.cells], pa.string()), None
        values: list = []
        for row, cell in enumerate(self.cells):
            text = cell.strip()
            if text.lower() in MISSING:
                values.append(None)
                continue
            if kind in ("int", "number"):
                value = _number(text, self.decimal)
                if value is None or (kind == "int" and not isinstance(value, int)):
                    expected = "a whole number" if kind == "int" else f"a number (decimal {self.decimal!r})"
                    raise self._fail(row, expected)
            elif kind == "date":
                value = _date(text)
                if value is None:
                    raise self._fail(row, "a date written YYYY-MM-DD")
            elif kind == "time":
                value = _time(text)
                if value is None:
                    raise self._fail(row, "a time written YYYY-MM-DD HH:MM[:SS][+HH:MM]")
            elif kind == "bool":
                folded = text.lower()
                if folded not in _TRUE | _FALSE:
                    raise self._fail(row, "yes/no (true/false, sí/no, 1/0)")
                value = folded in _TRUE
            else:
                raise ValueError(f"column type {kind!r}: expected one of {', '.join(TYPES)}")
            values.append(value)
        if kind == "int":
            return pa.array(values, pa.int64()), None
        if kind == "number":
            array = pa.array([None if v is None else float(v) for v in values], pa.float64())
            decimals = max((_decimals(c.strip(), self.decimal) for c in self.cells if c.strip().lower() not in MISSING),
                           default=0)  # fmt: skip
            return array, {DECIMALS_KEY: str(decimals).encode()}
        if kind == "date":
            return pa.array(values, pa.date32()), None
        if kind == "bool":
            return pa.array(values, pa.bool_()), None
        return self._times(values), None

    def _times(self, values: list) -> pa.Array:
        """Times with a UTC offset become UTC; a column may not mix them with times without one
        (which clock those are in would be a guess)."""
        aware = [row for row, value in enumerate(values) if value is not None and value.tzinfo is not None]
        naive = [row for row, value in enumerate(values) if value is not None and value.tzinfo is None]
        if aware and naive:
            first, other = sorted((aware[0], naive[0]))
            with_offset = "with" if first in aware else "without"
            raise self._fail(other, f"a time {with_offset} a UTC offset like line {self.lines[first]}")
        if aware:
            return pa.array(values, pa.timestamp("us", tz="UTC"))
        return pa.array(values, pa.timestamp("us"))


def read_table(path: str | Path, *, sep: str | None = None, decimal: str | None = None,
               encoding: str | None = None, types: Mapping[str, str] | None = None,
               required: Iterable[str] = (), infer: bool = True) -> Table:  # fmt: skip
    """Read a CSV file written by a person or a spreadsheet (module docstring).

    ``types`` names a type from :data:`TYPES` for some columns (the rest are inferred, or text
    with ``infer=False``: ids such as ``007`` stay as written, for a caller converting them
    itself; :attr:`Table.dialect` still tells the decimal separator the numbers use);
    ``required`` lists columns that must be there. Empty lines (or lines of separators only,
    as spreadsheets pad) are skipped; a row with more or fewer fields than the header is an
    error naming its line.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TableError(path, f"cannot read: {exc.strerror or exc}") from None
    text, used_encoding = decode(raw, path, encoding)
    if sep is not None and len(sep) != 1:
        raise TableError(path, f"separator {sep!r}: expected one character")
    if decimal not in (None, ".", ","):
        raise TableError(path, f"decimal separator {decimal!r}: expected ',' or '.'")
    separator = sep if sep is not None else sniff_separator(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    try:
        for fields in reader:
            if header is None:
                if any(field.strip() for field in fields):
                    header = [field.strip().lstrip("\ufeff") for field in fields]
                    header_line = start
                start = reader.line_num + 1
                continue
            if any(field.strip() for field in fields):
                if len(fields) != len(header):
                    raise TableError(path, f"expected {len(header)} fields as the header (line {header_line}) "
                                           f"has, got {len(fields)}", line=start)  # fmt: skip
                rows.append(fields)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise TableError(path, f"not a readable table: {exc}", line=start) from None
    if header is None:
        raise TableError(path, "empty: expected a header line naming the columns")
    _check_header(path, header, header_line, required, None)
    if decimal is None:
        cells = ((lines[r], header[c], row[c]) for r, row in enumerate(rows) for c in range(len(header)))
        decimal = sniff_decimal(path, cells, separator)
    if not infer:
        types = {**{name: "text" for name in header}, **(types or {})}
    data = _typed(path, header, header_line, rows, lines, decimal, types, None)
    return Table(path, data, tuple(lines), Dialect(separator, decimal, used_encoding))


def _check_header(path: Path, header: list[str], header_line: int, required: Iterable[str],
                  sheet: str | None) -> None:  # fmt: skip
    for index, name in enumerate(header):
        if not name:
            raise TableError(
                path, f"column {index + 1} of the header has no name", line=header_line, sheet=sheet
            )
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise TableError(path, f"columns named twice in the header: {', '.join(duplicates)}", line=header_line,
                         sheet=sheet)  # fmt: skip
    missing = [name for name in required if name not in header]
    if missing:
        raise TableError(path, f"missing column(s) {', '.join(missing)}; the header has {', '.join(header)}",
                         line=header_line, sheet=sheet)  # fmt: skip


def _typed(path: Path, header: list[str], header_line: int, rows: list[list[str]], lines: list[int], decimal: str,
           types: Mapping[str, str] | None, sheet: str | None) -> pa.Table:  # fmt: skip
    types = dict(types or {})
    unknown = sorted(set(types) - set(header))
    if unknown:
        raise TableError(path, f"no column(s) {', '.join(unknown)}; the header has {', '.join(header)}",
                         line=header_line, sheet=sheet)  # fmt: skip
    arrays, fields = [], []
    for index, name in enumerate(header):
        column = _Column(path, name, [row[index] for row in rows], lines, decimal, sheet)
        array, metadata = column.convert(types.get(name) or column.infer())
        arrays.append(array)
        fields.append(pa.field(name, array.type, metadata=metadata))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def sheet_names(path: str | Path) -> list[str]:
    """The sheets of an Excel workbook (.xlsx), in their order."""
    return list(_open_workbook(Path(path)).sheetnames)


def _open_workbook(path: Path):
    try:
        import openpyxl
    except ImportError:
        raise TableError(
            path, "reading Excel workbooks needs openpyxl: pip install 'silicio[xlsx]'"
        ) from None
    try:
        # read-only: streamed, not the whole workbook's object model; data_only: a formula's
        # value as Excel last computed it, not its text
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise TableError(path, "cannot read: no such file") from None
    except OSError as exc:
        raise TableError(path, f"cannot read: {exc.strerror or exc}") from None
    except Exception as exc:  # a zip that is not a workbook, a corrupt part: openpyxl raises many kinds
        raise TableError(path, f"not an Excel workbook (.xlsx): {exc}") from None


def read_sheet(path: str | Path, sheet: str | None = None, *, types: Mapping[str, str] | None = None,
               required: Iterable[str] = ()) -> Table:  # fmt: skip
    """Read one sheet of an Excel workbook (.xlsx; the first sheet when ``sheet`` is None) as
    :func:`read_table` reads a CSV file: the first non-empty row is the header, empty rows are
    skipped, columns are typed the same way (``types``, ``required``), and errors name the
    file, the sheet, the row as Excel numbers it and the column.

    Cells keep the type Excel stored: a number cell is a number whatever the locale showed
    (decimal comma or point), a date cell a date (a column of dates at midnight is a date
    column), a formula its last computed value. A number typed as text is read as written,
    with a decimal point.
    """
    path = Path(path)
    book = _open_workbook(path)
    try:
        name = sheet if sheet is not None else (book.sheetnames[0] if book.sheetnames else None)
        if name is None or name not in book.sheetnames:
            raise TableError(
                path, f"no sheet {name!r}; the workbook has {', '.join(map(repr, book.sheetnames))}"
            )
        header: list[str] | None = None
        values: list[tuple] = []
        lines: list[int] = []
        header_line = 0
        for number, cells in enumerate(book[name].iter_rows(values_only=True), start=1):
            if not any(cell is not None and str(cell).strip() for cell in cells):
                continue
            if header is None:
                header = [str(cell).strip() if cell is not None else "" for cell in cells]
                while header and not header[-1]:
                    header.pop()
                header_line = number
                continue
            extra = [
                i
                for i, cell in enumerate(cells)
                if i >= len(header) and cell is not None and str(cell).strip()
            ]
            if extra:
                raise TableError(path, f"a value in column {_column_letter(extra[0])}, right of the header's "
                                       f"{len(header)} columns", line=number, sheet=name)  # fmt: skip
            values.append(tuple(cells[: len(header)]) + (None,) * (len(header) - len(cells)))
            lines.append(number)
    finally:
        book.close()
    if header is None:
        raise TableError(path, "empty: expected a header row naming the columns", sheet=name)
    _check_header(path, header, header_line, required, name)
    types = dict(types or {})
    columns = [_sheet_texts([row[c] for row in values], types.get(header[c])) for c in range(len(header))]
    rows = [[column[r] for column in columns] for r in range(len(values))]
    data = _typed(path, header, header_line, rows, lines, ".", types, name)
    return Table(path, data, tuple(lines), Dialect("", ".", WORKBOOK), sheet=name)


def _column_letter(index: int) -> str:
    """Excel's name of the 0-based column ``index`` (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _sheet_texts(cells: list, kind: str | None) -> list[str]:
    """A column's cells as the text :class:`_Column` types: numbers in full precision with a
    decimal point, booleans as true/false, dates ISO; date-times at midnight as dates when the
    column is a date column (told, or every date-time in it is at midnight)."""
    stamps = [cell for cell in cells if isinstance(cell, datetime)]
    as_dates = kind == "date" or (kind is None and bool(stamps) and all(s.time() == time() for s in stamps))
    out = []
    for cell in cells:
        if cell is None:
            out.append("")
        elif isinstance(cell, bool):
            out.append("true" if cell else "false")
        elif isinstance(cell, float):
            out.append(str(int(cell)) if cell.is_integer() and abs(cell) < 2**53 else repr(cell))
        elif isinstance(cell, int):
            out.append(str(cell))
        elif isinstance(cell, datetime):
            out.append(cell.date().isoformat() if as_dates else cell.isoformat(sep=" "))
        elif isinstance(cell, date):
            out.append(cell.isoformat())
        else:
            out.append(str(cell))
    return out
