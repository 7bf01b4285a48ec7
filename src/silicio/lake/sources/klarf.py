"""The KLARF data source: inline inspection results (KLA Results File) as lake tables.

Two syntaxes are read, told apart by the first statement, not by the file's name:

* KLARF 1.1 / 1.2 (``FileVersion 1 1;``): flat statements, each a keyword and its values ending
  in ``;``. A list statement (``ClassLookup N``, ``SampleTestPlan N``, ``DefectList``,
  ``SummaryList``) holds its rows up to the ``;``; ``DefectRecordSpec N NAME...`` and
  ``SummarySpec N NAME...`` name the columns of the lists that follow. Statements before the
  first ``WaferID`` describe the lot; each ``WaferID`` opens a wafer; ``InspectionTest N`` opens
  a test of that wafer (its ``SampleTestPlan`` and ``AreaPerTest``).
* KLARF 1.8 (``Record FileRecord "1.8"``): nested ``Record NAME "ID" { ... }`` blocks of
  ``Field NAME N {v, ...}`` and ``List NAME { Columns N {type NAME, ...} Data N {row; ...} }``:
  FileRecord > LotRecord > WaferRecord > DefectList, TestRecord > SampleTestPlanList,
  SummaryRecord > TestSummaryList; the lot's fields and ClassLookupList may follow its wafers.

Lengths are taken as micrometres in the flat files (SampleSize in millimetres: ``1 200`` is a
200 mm wafer, and the real 1.1 sample's DEFDENSITY is NDEFECT per AreaPerTest in um^2 made cm^2)
and as nanometres in 1.8 files (the 1.8 sample's ``SampleSize 2 {300000000, 0}`` is 300 mm);
``length_unit`` in ``klarf_wafers`` says which, and areas (AreaPerTest) are in its square.

Flat list rows are read a line at a time: a row takes following lines until it has as many
values as its columns; an ``IMAGELIST`` last column keeps the rest of the row's line as text.

Tables written (every one with the file's ``lot_id``; names of declared columns lower-cased):

``klarf_wafers``       one row per wafer: step, tool, die pitch / origin, centre, orientation mark,
                       sample size, timestamps, defects listed and declared
``klarf_defects``      one row per defect: ``lot_id``, ``wafer_id``, ``step_id`` and every column the
                       file declares, typed (1.8: int32 / float / string as declared; flat files:
                       int64 when every value is an integer, float64 when a number, else string)
``klarf_sample_plan``  the dies inspected: ``wafer_id``, ``step_id``, ``test``, ``xindex``, ``yindex``
``klarf_tests``        per wafer and test: ``area_per_test``, dies planned (listed and declared)
``klarf_classes``      the class lookup: ``classnumber``, ``classname`` (and any declared column)
``klarf_summary``      per wafer (and step), the summary list as declared (``testno``, ``ndefect``, ``defdensity``, ...)
``klarf_fields``       every field and statement as written, known or not (name, values as text,
                       line), so nothing in the file is lost

A list whose rows differ from its declared count is read as it stands, with an issue; a file
whose structure cannot be followed (not KLARF, a block never closed, a list before its columns)
is quarantined with the line. Issues give the line in ``offset`` (a text source's row).
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from ..layout import INLINE
from . import DataSource, FileFacts, SourceData, SourceIssue, TableWriter

__all__ = [
    "KLARF_SUFFIXES",
    "KlarfError",
    "KlarfRead",
    "KlarfSource",
    "is_klarf",
    "read_klarf",
]

#: Name endings taken when a folder is searched; a file named otherwise (``.001`` from a tool)
#: is still read when named, since the source matches by content.
KLARF_SUFFIXES = (".klarf", ".klf", ".klarf.gz", ".klf.gz")

# Context columns every row table starts with.
_LOT, _WAFER, _STEP = "lot_id", "wafer_id", "step_id"
_SNIFF_BYTES = 4096
_TOKEN = re.compile(r'"([^"\n]*)"|([;{},])|([^\s;{},"]+)|(")')
_INT = re.compile(r"^[+-]?\d+$")
_PUNCTUATION = re.compile(r'[;{},"]')
_TIMESTAMP_FORMATS = ("%m-%d-%y %H:%M:%S", "%m-%d-%Y %H:%M:%S")
# 1.8 column types -> Arrow; a decimal "float" is kept as float64 so its text is not rounded.
_TYPES_18 = {"int32": pa.int32(), "int16": pa.int32(), "int8": pa.int32(), "int64": pa.int64(),
             "float": pa.float64(), "double": pa.float64(), "string": pa.string()}  # fmt: skip
_SQUARE_CM = {"um": 1e8, "nm": 1e14}  # square length units per cm^2


def _issue(path: str, line: int, statement: str | None, reason: str) -> SourceIssue:
    """An issue at ``line``; the statement is named in the reason (the catalog's record column
    holds an STDF record type, 8 characters at most)."""
    return SourceIssue(path, line, None, f"{statement}: {reason}" if statement else reason)


class KlarfError(ValueError):
    """A file whose structure cannot be followed: ``line`` (1-based, 0 for the whole file) and
    the statement concerned."""

    def __init__(self, path: str, line: int, record: str | None, reason: str):
        self.issue = _issue(path, line, record, reason)
        super().__init__(f"{path}: line {line}: {self.issue.reason}")


# --------------------------------------------------------------------------------------------
# Tokens


class Token(NamedTuple):  # a tuple: a file holds millions of them
    text: str
    line: int
    #: "word" (unquoted), "string" (quoted) or the punctuation itself (";", "{", "}", ",").
    kind: str

    def value(self) -> Any:
        """The token as a Python value: a quoted string stays text; a word becomes int / float
        when it reads as one."""
        if self.kind == "string":
            return self.text
        return _number(self.text)


def _number(text: str) -> Any:
    if _INT.match(text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def _tokens(text: str, path: str) -> list[Token]:
    out: list[Token] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not _PUNCTUATION.search(line):  # most lines: rows of plain values
            out.extend(Token(word, number, "word") for word in line.split())
            continue
        for match in _TOKEN.finditer(line):
            quoted, punct, word, stray = match.groups()
            if stray is not None:
                raise KlarfError(path, number, None, "a quoted string is not closed on its line")
            if quoted is not None:
                out.append(Token(quoted, number, "string"))
            elif punct is not None:
                out.append(Token(punct, number, punct))
            else:
                out.append(Token(word, number, "word"))
    return out


# --------------------------------------------------------------------------------------------
# The file as read, before it becomes tables


@dataclass
class Field:
    name: str
    values: list[Token]
    line: int
    declared: int | None = None  # 1.8: the count a Field states


@dataclass
class DeclaredList:
    """A list and its columns as the file declares them; rows of tokens."""

    name: str
    columns: list[str]
    types: list[str | None]
    rows: list[list[Token]]
    line: int
    declared_rows: int | None = None


@dataclass
class Test:
    number: int
    line: int
    fields: list[Field] = field(default_factory=list)
    plan: DeclaredList | None = None


@dataclass
class Wafer:
    wafer_id: str | None
    line: int
    fields: list[Field] = field(default_factory=list)
    defects: DeclaredList | None = None
    tests: list[Test] = field(default_factory=list)
    summary: DeclaredList | None = None
    other_lists: list[DeclaredList] = field(default_factory=list)

    def test(self, number: int, line: int) -> Test:
        for t in self.tests:
            if t.number == number:
                return t
        self.tests.append(Test(number, line))
        return self.tests[-1]


@dataclass
class Lot:
    lot_id: str | None
    line: int
    fields: list[Field] = field(default_factory=list)
    wafers: list[Wafer] = field(default_factory=list)
    classes: DeclaredList | None = None
    other_lists: list[DeclaredList] = field(default_factory=list)


@dataclass
class Parsed:
    version: str
    fields: list[Field]
    lots: list[Lot]
    issues: list[SourceIssue]


def _find(fields_chain: list[list[Field]], name: str) -> Field | None:
    """The field named ``name`` (any case), looked for in each list in turn; last one wins."""
    key = name.lower()
    for fields in fields_chain:
        found = [f for f in fields if f.name.lower() == key]
        if found:
            return found[-1]
    return None


# --------------------------------------------------------------------------------------------
# KLARF 1.1 / 1.2: flat statements


def _statements(tokens: list[Token], path: str, issues: list[SourceIssue]) -> Iterator[list[Token]]:
    current: list[Token] = []
    for token in tokens:
        if token.kind == ";":
            if current:
                yield current
            current = []
        else:
            current.append(token)
    if current:
        issues.append(_issue(path, current[0].line, current[0].text,
                                  "the file ends inside this statement (no closing ';'): truncated; "
                                  "what it holds is read"))  # fmt: skip
        yield current


def _declared_count(statement: list[Token], path: str) -> int:
    if len(statement) < 2 or statement[1].kind != "word" or not _INT.match(statement[1].text):
        raise KlarfError(path, statement[0].line, statement[0].text, "expected a count after the keyword")
    return int(statement[1].text)


def _rows_by_line(tokens: list[Token], width: int, variable_last: bool) -> list[list[Token]]:
    """Rows of ``width`` values: a row starts on a new line and takes following lines until it
    has ``width`` values; with ``variable_last`` (IMAGELIST last) a row keeps the rest of its
    lines' values."""
    rows: list[list[Token]] = []
    current: list[Token] = []
    last_line = None
    for token in tokens:
        if current and len(current) >= width and token.line != last_line:
            rows.append(current)
            current = []
        current.append(token)
        last_line = token.line
    if current:
        rows.append(current)
    if variable_last or not width:
        return rows
    # values beyond the width on one line: further rows, so that the declared count is checked
    return [row[i : i + width] for row in rows for i in range(0, len(row), width)]


def _parse_flat(tokens: list[Token], path: str) -> Parsed:
    issues: list[SourceIssue] = []
    file_fields: list[Field] = []
    lot = Lot(None, 1)
    wafer: Wafer | None = None
    test: Test | None = None
    defect_spec: tuple[list[str], int] | None = None
    summary_spec: tuple[list[str], int] | None = None
    version = "1.1"
    ended = False

    def target_fields() -> list[Field]:
        return wafer.fields if wafer is not None else lot.fields

    def current_wafer(statement: list[Token]) -> Wafer:
        nonlocal wafer
        if wafer is None:
            issues.append(_issue(path, statement[0].line, statement[0].text,
                                      "list before any WaferID: read as a wafer without an id"))  # fmt: skip
            wafer = Wafer(None, statement[0].line)
            lot.wafers.append(wafer)
        return wafer

    for statement in _statements(tokens, path, issues):
        head = statement[0]
        if head.kind != "word":
            raise KlarfError(
                path, head.line, None, f"a statement starts with {head.text!r}, expected a keyword"
            )
        key = head.text.lower()
        rest = statement[1:]
        if ended:
            issues.append(_issue(path, head.line, head.text, "statement after EndOfFile: read"))
            ended = False
        if key == "endoffile":
            ended = True
            continue
        if key == "fileversion":
            version = ".".join(t.text for t in rest) or version
            file_fields.append(Field(head.text, rest, head.line))
        elif key == "lotid":
            lot.lot_id = str(rest[0].value()) if rest else None
            lot.fields.append(Field(head.text, rest, head.line))
        elif key == "waferid":
            wafer = Wafer(str(rest[0].value()) if rest else None, head.line)
            test = None
            lot.wafers.append(wafer)
            wafer.fields.append(Field(head.text, rest, head.line))
        elif key == "inspectiontest":
            w = current_wafer(statement)
            number = _declared_count(statement, path)
            test = w.test(number, head.line)
            test.fields.append(Field(head.text, rest, head.line))
        elif key == "classlookup":
            count = _declared_count(statement, path)
            rows = [rest[1 + i : 3 + i] for i in range(0, len(rest) - 1, 2)]
            lot.classes = DeclaredList(
                head.text, ["CLASSNUMBER", "CLASSNAME"], [None, None], rows, head.line, count
            )
        elif key == "sampletestplan":
            count = _declared_count(statement, path)
            w = current_wafer(statement)
            t = test if test is not None else w.test(1, head.line)
            rows = [rest[1 + i : 3 + i] for i in range(0, len(rest) - 1, 2)]
            t.plan = DeclaredList(head.text, ["XINDEX", "YINDEX"], [None, None], rows, head.line, count)
        elif key == "areapertest":
            w = current_wafer(statement)
            t = test if test is not None else w.test(1, head.line)
            t.fields.append(Field(head.text, rest, head.line))
        elif key in ("defectrecordspec", "summaryspec"):
            count = _declared_count(statement, path)
            names = [t.text for t in rest[1:]]
            if len(names) != count:
                issues.append(_issue(path, head.line, head.text,
                                          f"declares {count} columns and names {len(names)}: the names "
                                          "are read as they stand"))  # fmt: skip
            if key == "defectrecordspec":
                defect_spec = (names, head.line)
            else:
                summary_spec = (names, head.line)
            target_fields().append(Field(head.text, rest, head.line))
        elif key in ("defectlist", "summarylist"):
            spec = defect_spec if key == "defectlist" else summary_spec
            if spec is None:
                needed = "DefectRecordSpec" if key == "defectlist" else "SummarySpec"
                raise KlarfError(
                    path, head.line, head.text, f"a list before its {needed}: its columns are unknown"
                )
            names = spec[0]
            variable_last = bool(names) and names[-1].upper() == "IMAGELIST"
            rows = _rows_by_line(rest, len(names), variable_last)
            listed = DeclaredList(head.text, names, [None] * len(names), rows, head.line)
            w = current_wafer(statement)
            if key == "defectlist":
                w.defects = listed
            else:
                w.summary = listed
        else:
            target_fields().append(Field(head.text, rest, head.line))
    if not ended:
        last_line = tokens[-1].line if tokens else 0
        issues.append(_issue(path, last_line, None, "no EndOfFile statement: the file may be truncated"))
    lots = [lot] if lot.wafers or lot.lot_id is not None else []
    return Parsed(version, file_fields, lots, issues)


# --------------------------------------------------------------------------------------------
# KLARF 1.8: nested records


class _Cursor:
    def __init__(self, tokens: list[Token], path: str):
        self.tokens = tokens
        self.at = 0
        self.path = path

    def peek(self) -> Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None, what: str = "") -> Token:
        token = self.peek()
        if token is None:
            line = self.tokens[-1].line if self.tokens else 0
            raise KlarfError(self.path, line, None, f"the file ends where {what or expected} was expected "
                                                    "(a block is not closed)")  # fmt: skip
        if expected is not None and token.kind != expected:
            raise KlarfError(
                self.path, token.line, None, f"found {token.text!r} where {what or expected!r} was expected"
            )
        self.at += 1
        return token


@dataclass
class _Record:
    kind: str
    name: str | None
    line: int
    fields: list[Field] = field(default_factory=list)
    lists: list[DeclaredList] = field(default_factory=list)
    records: list[_Record] = field(default_factory=list)


def _record_body(cursor: _Cursor, record: _Record, issues: list[SourceIssue]) -> None:
    cursor.take("{", what="'{' opening the record")
    while True:
        token = cursor.peek()
        if token is None:
            cursor.take("}", what=f"'}}' closing {record.kind} (line {record.line})")
        if token.kind == "}":
            cursor.take()
            return
        keyword = cursor.take("word", what="Record, Field or List")
        if keyword.text == "Record":
            kind = cursor.take("word", what="the record's name").text
            name = (
                cursor.take().text
                if (nxt := cursor.peek()) is not None and nxt.kind in ("string", "word")
                else None
            )
            child = _Record(kind, name, keyword.line)
            _record_body(cursor, child, issues)
            record.records.append(child)
        elif keyword.text == "Field":
            name = cursor.take("word", what="the field's name").text
            count_token = cursor.take("word", what="the field's value count")
            declared = int(count_token.text) if _INT.match(count_token.text) else None
            cursor.take("{", what="'{' opening the field's values")
            values = []
            while (token := cursor.take(what="a value or '}'")).kind != "}":
                if token.kind != ",":
                    values.append(token)
            if declared is not None and declared != len(values):
                issues.append(_issue(cursor.path, keyword.line, name,
                                          f"declares {declared} values and holds {len(values)}: read as they "
                                          "stand"))  # fmt: skip
            record.fields.append(Field(name, values, keyword.line, declared))
        elif keyword.text == "List":
            record.lists.append(_list_body(cursor, keyword, issues))
        else:
            raise KlarfError(cursor.path, keyword.line, keyword.text, "expected Record, Field or List here")


def _list_body(cursor: _Cursor, keyword: Token, issues: list[SourceIssue]) -> DeclaredList:
    name = cursor.take("word", what="the list's name").text
    cursor.take("{", what="'{' opening the list")
    columns: list[str] = []
    types: list[str | None] = []
    rows: list[list[Token]] = []
    declared_rows = None
    seen_columns = False
    while (token := cursor.take(what=f"Columns, Data or '}}' in list {name}")).kind != "}":
        if token.text == "Columns":
            count = cursor.take("word", what="the column count")
            cursor.take("{", what="'{' opening the columns")
            parts: list[Token] = []
            while (t := cursor.take(what="a column or '}'")).kind != "}":
                if t.kind == ",":
                    if len(parts) != 2:
                        raise KlarfError(cursor.path, t.line, name, "expected 'type NAME' for each column")
                    types.append(parts[0].text)
                    columns.append(parts[1].text)
                    parts = []
                else:
                    parts.append(t)
            if parts:
                if len(parts) != 2:
                    raise KlarfError(cursor.path, parts[0].line, name, "expected 'type NAME' for each column")
                types.append(parts[0].text)
                columns.append(parts[1].text)
            if _INT.match(count.text) and int(count.text) != len(columns):
                issues.append(_issue(cursor.path, count.line, name,
                                          f"declares {count.text} columns and names {len(columns)}: "
                                          "the names are read as they stand"))  # fmt: skip
            seen_columns = True
        elif token.text == "Data":
            if not seen_columns:
                raise KlarfError(
                    cursor.path, token.line, name, "Data before Columns: the columns are unknown"
                )
            count = cursor.take("word", what="the row count")
            declared_rows = int(count.text) if _INT.match(count.text) else None
            cursor.take("{", what="'{' opening the data")
            row: list[Token] = []
            while (t := cursor.take(what="a value, ';' or '}'")).kind != "}":
                if t.kind == ";":
                    rows.append(row)
                    row = []
                elif t.kind != ",":
                    row.append(t)
            if row:
                issues.append(_issue(cursor.path, row[0].line, name, "last row has no closing ';': read"))
                rows.append(row)
        else:
            raise KlarfError(
                cursor.path,
                token.line,
                name,
                f"expected Columns or Data, found {token.text!r}",
            )
    return DeclaredList(name, columns, types, rows, keyword.line, declared_rows)


def _parse_18(tokens: list[Token], path: str) -> Parsed:
    issues: list[SourceIssue] = []
    cursor = _Cursor(tokens, path)
    head = cursor.take("word", what="Record FileRecord")
    if head.text != "Record":
        raise KlarfError(path, head.line, head.text, "a KLARF 1.8 file starts with Record FileRecord")
    kind = cursor.take("word", what="FileRecord")
    version = (
        cursor.take(what="the file version").text
        if cursor.peek() and cursor.peek().kind in ("string", "word")
        else "1.8"
    )
    root = _Record(kind.text, version, head.line)
    _record_body(cursor, root, issues)
    trailing = cursor.peek()
    if trailing is None or trailing.text != "EndOfFile":
        issues.append(_issue(path, trailing.line if trailing else tokens[-1].line, None,
                                  "no EndOfFile after the FileRecord: the file may be truncated"))  # fmt: skip
    else:
        cursor.take()
        if cursor.peek() is not None and cursor.peek().kind == ";":
            cursor.take()
        if cursor.peek() is not None:
            issues.append(_issue(path, cursor.peek().line, None, "text after EndOfFile: ignored"))
    lots: list[Lot] = []
    file_fields = list(root.fields)
    for record in root.records:
        if record.kind != "LotRecord":
            file_fields.extend(_unknown_record_fields(record, issues, path))
            continue
        lot = Lot(record.name, record.line, list(record.fields))
        for lst in record.lists:
            if lst.name == "ClassLookupList":
                lot.classes = lst
            else:
                lot.other_lists.append(lst)
        for child in record.records:
            if child.kind != "WaferRecord":
                lot.fields.extend(_unknown_record_fields(child, issues, path))
                continue
            lot.wafers.append(_wafer_18(child, issues, path))
        lots.append(lot)
    return Parsed(version, file_fields, lots, issues)


def _wafer_18(record: _Record, issues: list[SourceIssue], path: str) -> Wafer:
    wafer = Wafer(record.name, record.line, list(record.fields))
    for lst in record.lists:
        if lst.name == "DefectList":
            wafer.defects = lst
        else:
            wafer.other_lists.append(lst)
    for child in record.records:
        if child.kind == "TestRecord":
            number = _number(child.name or "1")
            test = wafer.test(number if isinstance(number, int) else len(wafer.tests) + 1, child.line)
            test.fields.extend(child.fields)
            for lst in child.lists:
                if lst.name == "SampleTestPlanList":
                    test.plan = lst
                else:
                    wafer.other_lists.append(lst)
        elif child.kind == "SummaryRecord":
            for lst in child.lists:
                if lst.name == "TestSummaryList":
                    wafer.summary = lst
                else:
                    wafer.other_lists.append(lst)
            wafer.fields.extend(child.fields)
        else:
            wafer.fields.extend(_unknown_record_fields(child, issues, path))
    return wafer


def _unknown_record_fields(record: _Record, issues: list[SourceIssue], path: str) -> list[Field]:
    """A record silicio does not interpret, kept as fields named ``Record.Field`` (and its lists'
    rows as fields ``Record.List``), so ``klarf_fields`` holds it."""
    out = [Field(f"{record.kind}.{f.name}", f.values, f.line, f.declared) for f in record.fields]
    for lst in record.lists:
        out.extend(
            Field(f"{record.kind}.{lst.name}", row, row[0].line if row else lst.line) for row in lst.rows
        )
    for child in record.records:
        out.extend(Field(f"{record.kind}.{f.name}", f.values, f.line, f.declared)
                   for f in _unknown_record_fields(child, issues, path))  # fmt: skip
    return out


# --------------------------------------------------------------------------------------------
# Tables


@dataclass
class KlarfRead:
    """What :func:`read_klarf` made of a file: its tables (see the module notes), the catalog
    facts and the issues (each with its line)."""

    path: str
    version: str
    tables: dict[str, pa.Table]
    facts: FileFacts
    issues: list[SourceIssue]


def is_klarf(path: str | Path) -> bool:
    """Whether the file's content opens as KLARF (``FileVersion`` or ``Record FileRecord``)."""
    try:
        head = _read_bytes(Path(path), _SNIFF_BYTES)
    except Exception:  # unreadable, or a damaged gzip stream: not a file this source takes
        return False
    text = head.decode("latin-1").lstrip("\ufeff\xef\xbb\xbf \t\r\n")
    return bool(re.match(r"FileVersion\s|Record\s+FileRecord\b", text))


def _read_bytes(path: Path, limit: int | None = None) -> bytes:
    with open(path, "rb") as f:
        magic = f.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        return f.read() if limit is None else f.read(limit)


def read_klarf(path: str | Path) -> KlarfRead:
    """Read a KLARF 1.1, 1.2 or 1.8 file (plain or gzip) into tables; see the module notes.

    Raises :class:`KlarfError` (with the line) when the file is not KLARF or its structure
    cannot be followed; damage that leaves it readable is in ``issues``.
    """
    path = Path(path)
    name = str(path)
    try:
        raw = _read_bytes(path)
    except (OSError, EOFError, zlib.error) as exc:
        raise KlarfError(name, 0, None, f"cannot be read: {exc}") from None
    text = raw.decode("latin-1").lstrip("\ufeff").replace("ï»¿", "", 1)
    tokens = _tokens(text, name)
    if not tokens:
        raise KlarfError(name, 0, None, "empty: expected FileVersion or Record FileRecord")
    if tokens[0].text == "FileVersion":
        parsed = _parse_flat(tokens, name)
        unit = "um"
    elif tokens[0].text == "Record":
        parsed = _parse_18(tokens, name)
        unit = "nm"
    else:
        raise KlarfError(
            name, tokens[0].line, tokens[0].text, "not KLARF: expected FileVersion or Record FileRecord first"
        )
    if not parsed.lots or not any(lot.wafers for lot in parsed.lots):
        raise KlarfError(name, 0, None, "no lot with a wafer (LotID / WaferID, or LotRecord / WaferRecord)")
    return _tables(name, parsed, unit)


def _tables(path: str, parsed: Parsed, unit: str) -> KlarfRead:
    issues = list(parsed.issues)
    wafers_rows: list[dict] = []
    defect_tables: list[pa.Table] = []
    summary_tables: list[pa.Table] = []
    class_tables: list[pa.Table] = []
    plan_rows: list[dict] = []
    test_rows: list[dict] = []
    field_rows: list[dict] = []
    facts_lot: dict[str, Any] = {}

    def keep_fields(fields: list[Field], scope: str, lot_id, wafer_id, test) -> None:
        for f in fields:
            field_rows.append({_LOT: lot_id, _WAFER: wafer_id, "test": test, "scope": scope, "name": f.name,
                               "line": f.line, "declared": f.declared,
                               "values": [t.text for t in f.values]})  # fmt: skip

    keep_fields(parsed.fields, "file", None, None, None)
    for lot in parsed.lots:
        lot_id = lot.lot_id
        keep_fields(lot.fields, "lot", lot_id, None, None)
        for lst in lot.other_lists:
            keep_fields([Field(lst.name, row, row[0].line if row else lst.line) for row in lst.rows], "lot",
                        lot_id, None, None)  # fmt: skip
        if lot.classes is not None:
            _check_rows(lot.classes, path, issues)
            class_tables.append(_typed(lot.classes, {_LOT: lot_id}, path, issues))
        for wafer in lot.wafers:
            chain = [wafer.fields, lot.fields, parsed.fields]
            step = _text(_find(chain, "StepID"))
            context = {_LOT: lot_id, _WAFER: wafer.wafer_id, _STEP: step}
            keep_fields(wafer.fields, "wafer", lot_id, wafer.wafer_id, None)
            for lst in wafer.other_lists:
                keep_fields([Field(lst.name, row, row[0].line if row else lst.line) for row in lst.rows], "wafer",
                            lot_id, wafer.wafer_id, None)  # fmt: skip
            listed = declared = None
            if wafer.defects is not None:
                _check_rows(wafer.defects, path, issues, wafer.wafer_id)
                defect_tables.append(_typed(wafer.defects, context, path, issues))
                listed, declared = len(wafer.defects.rows), wafer.defects.declared_rows
            if wafer.summary is not None:
                _check_rows(wafer.summary, path, issues, wafer.wafer_id)
                summary_tables.append(_typed(wafer.summary, context, path, issues))
            for test in wafer.tests:
                keep_fields(test.fields, "test", lot_id, wafer.wafer_id, test.number)
                area = _find([test.fields], "AreaPerTest")
                plan = test.plan
                if plan is not None:
                    _check_rows(plan, path, issues, wafer.wafer_id)
                    for row in plan.rows:
                        values = [t.value() for t in row]
                        if len(values) != 2 or not all(isinstance(v, int) for v in values):
                            issues.append(_issue(path, row[0].line if row else plan.line, plan.name,
                                                      f"a die of the sample plan is {[t.text for t in row]}, "
                                                      "expected two integers: left out"))  # fmt: skip
                            continue
                        plan_rows.append(
                            {**context, "test": test.number, "xindex": values[0], "yindex": values[1]}
                        )
                test_rows.append({**context, "test": test.number, "area_per_test": _float(area, 0, path, issues),
                                  "area_unit": f"{unit}2", "sample_dies": None if plan is None else len(plan.rows),
                                  "sample_dies_declared": None if plan is None else plan.declared_rows})  # fmt: skip
            row = _wafer_row(chain, lot_id, wafer, step, unit, parsed.version, path, issues)
            row["defects"], row["defects_declared"] = listed, declared
            row["defect_columns"] = None if wafer.defects is None else list(wafer.defects.columns)
            wafers_rows.append(row)
            if not facts_lot:
                facts_lot = {"chain": chain, "row": row}
    lots = sorted({str(lot.lot_id) for lot in parsed.lots if lot.lot_id is not None})
    if len(lots) > 1:
        issues.append(_issue(path, 0, "LotRecord", f"holds {len(lots)} lots {lots}: the catalog files it "
                                                        f"under the first, {lots[0]}"))  # fmt: skip
    tables = {
        "klarf_wafers": pa.Table.from_pylist(wafers_rows, _WAFERS_SCHEMA),
        "klarf_defects": _concat(defect_tables),
        "klarf_sample_plan": pa.Table.from_pylist(plan_rows, _PLAN_SCHEMA),
        "klarf_tests": pa.Table.from_pylist(test_rows, _TESTS_SCHEMA),
        "klarf_classes": _concat(class_tables),
        "klarf_summary": _concat(summary_tables),
        "klarf_fields": pa.Table.from_pylist(field_rows, _FIELDS_SCHEMA),
    }
    tables = {name: table for name, table in tables.items() if table is not None}
    first = facts_lot["row"]
    facts = FileFacts(
        stage=INLINE,
        product=first["device_id"],
        lot=lots[0] if lots else None,
        started=first["result_timestamp"],
        finished=first["result_timestamp"],
        tester_type=" ".join(p for p in (first["station_maker"], first["station_model"]) if p) or None,
        node=first["station_id"],
        program=first["setup_id"],
        test_code=first["step_id"],
        wafers=len(wafers_rows),
        records={
            "WAFER": len(wafers_rows),
            "DEFECT": sum(r["defects"] or 0 for r in wafers_rows),
            "SAMPLE_DIE": len(plan_rows),
            "FIELD": len(field_rows),
        },  # fmt: skip
    )
    return KlarfRead(path, parsed.version, tables, facts, issues)


def _concat(tables: list[pa.Table]) -> pa.Table | None:
    """The lists of several wafers as one table: a column missing from a wafer is null there,
    numbers of different widths widen, and a column that is text in one wafer is text in all."""
    if not tables:
        return None
    text = {f.name for t in tables for f in t.schema if pa.types.is_string(f.type)}
    mixed = {f.name for t in tables for f in t.schema if f.name in text and not pa.types.is_string(f.type)}
    if mixed:
        tables = [t.cast(pa.schema([pa.field(f.name, pa.string()) if f.name in mixed else f for f in t.schema]))
                  for t in tables]  # fmt: skip
    return pa.concat_tables(tables, promote_options="permissive")


def _check_rows(lst: DeclaredList, path: str, issues: list[SourceIssue], wafer_id: str | None = None) -> None:
    if lst.declared_rows is not None and lst.declared_rows != len(lst.rows):
        where = f" of wafer {wafer_id}" if wafer_id is not None else ""
        issues.append(_issue(path, lst.line, None,
                             f"{lst.name}{where} declares {lst.declared_rows} rows and lists {len(lst.rows)}: "
                             "read as it stands"))  # fmt: skip


def _text(f: Field | None, index: int = 0) -> str | None:
    if f is None or len(f.values) <= index:
        return None
    return f.values[index].text


def _float(f: Field | None, index: int, path: str, issues: list[SourceIssue]) -> float | None:
    if f is None or len(f.values) <= index:
        return None
    value = f.values[index].value()
    if isinstance(value, int | float):
        return float(value)
    issues.append(
        _issue(path, f.line, f.name, f"value {index + 1} is {f.values[index].text!r}, expected a number")
    )
    return None


def _timestamp(chain: list[list[Field]], path: str, issues: list[SourceIssue]) -> datetime | None:
    f = _find(chain, "ResultTimestamp")
    if f is None or not f.values:
        return None
    text = " ".join(t.text for t in f.values[:2])
    for fmt in _TIMESTAMP_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    issues.append(_issue(path, f.line, f.name, f"{text!r} is not a date MM-DD-YY HH:MM:SS: left empty"))
    return None


def _wafer_row(chain, lot_id, wafer: Wafer, step, unit, version, path, issues) -> dict[str, Any]:
    station = _find(chain, "InspectionStationID")
    setup = _find(chain, "SetupID") or _find(chain, "RecipeID")
    slot = _find(chain, "Slot") or _find(chain, "SlotNumber")
    size = _find(chain, "SampleSize")
    slot_value = slot.values[0].value() if slot is not None and slot.values else None
    return {
        _LOT: lot_id,
        _WAFER: wafer.wafer_id,
        "slot": slot_value if isinstance(slot_value, int) else None,
        _STEP: step,
        "device_id": _text(_find(chain, "DeviceID")),
        "setup_id": _text(setup),
        "file_version": version,
        "station_maker": _text(station, 0),
        "station_model": _text(station, 1),
        "station_id": _text(station, 2),
        "sample_type": _text(_find(chain, "SampleType")),
        "orientation_mark_type": _text(_find(chain, "SampleOrientationMarkType")),
        "orientation_mark_location": _text(_find(chain, "OrientationMarkLocation")),
        "die_pitch_x": _float(_find(chain, "DiePitch"), 0, path, issues),
        "die_pitch_y": _float(_find(chain, "DiePitch"), 1, path, issues),
        "die_origin_x": _float(_find(chain, "DieOrigin"), 0, path, issues),
        "die_origin_y": _float(_find(chain, "DieOrigin"), 1, path, issues),
        "sample_center_x": _float(_find(chain, "SampleCenterLocation"), 0, path, issues),
        "sample_center_y": _float(_find(chain, "SampleCenterLocation"), 1, path, issues),
        "sample_size": _float(size, 1 if unit == "um" else 0, path, issues),
        "sample_size_unit": "mm" if unit == "um" else "nm",
        "length_unit": unit,
        "result_timestamp": _timestamp(chain, path, issues),
        "line": wafer.line,
    }


def _typed(lst: DeclaredList, context: dict[str, Any], path: str, issues: list[SourceIssue]) -> pa.Table:
    """The list as a table: context columns, then each declared column under its name
    lower-cased, typed as declared (1.8) or as its values read (flat files)."""
    names = [c.lower() for c in lst.columns]
    width = len(names)
    image_list = width and names[-1] == "imagelist"
    columns: list[list[Token | None]] = [[] for _ in names]
    for row in lst.rows:
        line = row[0].line if row else lst.line
        if len(row) != width and not (image_list and len(row) > width):
            issues.append(_issue(path, line, lst.name,
                                      f"a row has {len(row)} values, {width} columns are declared: "
                                      + ("missing ones left empty" if len(row) < width else
                                         "the values beyond the last column are left out")))  # fmt: skip
        for i in range(width):
            if image_list and i == width - 1 and len(row) > width:
                joined = " ".join(t.text for t in row[i:])
                columns[i].append(Token(joined, row[i].line, "string"))
            else:
                columns[i].append(row[i] if i < len(row) else None)
    arrays, fields = [], []
    for name, kind in context.items():
        arrays.append(pa.array([kind] * len(lst.rows), pa.string()))
        fields.append(pa.field(name, pa.string()))
    seen = set(context)
    for i, name in enumerate(names):
        declared = lst.types[i]
        values = _column(columns[i], declared, name, path, issues, lst.name, image_list and i == width - 1)
        if name in seen:
            issues.append(_issue(path, lst.line, lst.name, f"column {lst.columns[i]} named twice (or like a "
                                                                f"context column): kept as {name}_{i + 1}"))  # fmt: skip
            name = f"{name}_{i + 1}"
        seen.add(name)
        arrays.append(values)
        fields.append(pa.field(name, values.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _column(tokens: list[Token | None], declared: str | None, name: str, path: str, issues, list_name: str,
            text_only: bool) -> pa.Array:  # fmt: skip
    """A column of tokens as an Arrow array: of its declared type (1.8), else int64 when every value
    is an integer, float64 when a number, text otherwise (a quoted value is text)."""
    raw = pa.array([None if t is None else t.text for t in tokens], pa.string())
    quoted = any(t is not None and t.kind == "string" for t in tokens)
    if declared is not None:
        target = _TYPES_18.get(declared.lower())
        if target is None:
            issues.append(_issue(path, 0, list_name, f"column {name} has type {declared!r}, not one of "
                                                     f"{', '.join(_TYPES_18)}: kept as text"))  # fmt: skip
            return raw
    elif text_only or quoted:
        return raw
    else:
        for target in (pa.int64(), pa.float64()):
            try:
                return pc.cast(raw, target)  # Arrow's parse is strict: "1.5" is no int64, "x" no float
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
        return raw
    if pa.types.is_string(target):
        return raw
    if not quoted:
        try:
            return pc.cast(raw, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    values: list[Any] = []  # some value is not of the declared type: say which, keep the others
    for t in tokens:
        v = None if t is None else _number(t.text) if t.kind == "word" else t.text
        if v is None:
            values.append(None)
        elif (
            pa.types.is_integer(target)
            and isinstance(v, int)
            and (target == pa.int64() or -(2**31) <= v < 2**31)
        ):
            values.append(v)
        elif pa.types.is_floating(target) and isinstance(v, int | float):
            values.append(float(v))
        else:
            issues.append(
                _issue(path, t.line, list_name, f"column {name}: {t.text!r} is not {target}: left empty")
            )
            values.append(None)
    return pa.array(values, target)


_WAFERS_SCHEMA = pa.schema([
    (_LOT, pa.string()), (_WAFER, pa.string()), ("slot", pa.int64()), (_STEP, pa.string()),
    ("device_id", pa.string()), ("setup_id", pa.string()), ("file_version", pa.string()),
    ("station_maker", pa.string()), ("station_model", pa.string()), ("station_id", pa.string()),
    ("sample_type", pa.string()), ("orientation_mark_type", pa.string()),
    ("orientation_mark_location", pa.string()), ("die_pitch_x", pa.float64()), ("die_pitch_y", pa.float64()),
    ("die_origin_x", pa.float64()), ("die_origin_y", pa.float64()), ("sample_center_x", pa.float64()),
    ("sample_center_y", pa.float64()), ("sample_size", pa.float64()), ("sample_size_unit", pa.string()),
    ("length_unit", pa.string()), ("result_timestamp", pa.timestamp("us")), ("line", pa.int64()),
    ("defects", pa.int64()), ("defects_declared", pa.int64()), ("defect_columns", pa.list_(pa.string())),
])  # fmt: skip
_PLAN_SCHEMA = pa.schema([(_LOT, pa.string()), (_WAFER, pa.string()), (_STEP, pa.string()), ("test", pa.int64()),
                          ("xindex", pa.int64()), ("yindex", pa.int64())])  # fmt: skip
_TESTS_SCHEMA = pa.schema([(_LOT, pa.string()), (_WAFER, pa.string()), (_STEP, pa.string()), ("test", pa.int64()),
                           ("area_per_test", pa.float64()), ("area_unit", pa.string()),
                           ("sample_dies", pa.int64()), ("sample_dies_declared", pa.int64())])  # fmt: skip
_FIELDS_SCHEMA = pa.schema([(_LOT, pa.string()), (_WAFER, pa.string()), ("test", pa.int64()),
                            ("scope", pa.string()), ("name", pa.string()), ("line", pa.int64()),
                            ("declared", pa.int64()), ("values", pa.list_(pa.string()))])  # fmt: skip


def density_per_cm2(defects: int, area: float, area_unit: str) -> float:
    """Defects per cm^2 of inspected area; ``area_unit`` is ``um2`` or ``nm2`` (klarf_tests)."""
    return defects / (area / _SQUARE_CM[area_unit.removesuffix("2")])


# --------------------------------------------------------------------------------------------
# The source


class KlarfSource(DataSource):
    """KLARF 1.1 / 1.2 / 1.8 inspection results, plain or gzip; see the module notes."""

    kind = "klarf"
    suffixes = KLARF_SUFFIXES

    def matches(self, path: Path) -> bool:
        return is_klarf(path)

    def read(self, path: Path, out: TableWriter, *, window_bytes: int) -> SourceData:
        try:
            result = read_klarf(path)
        except KlarfError as exc:
            return SourceData(None, [exc.issue])
        for name, table in result.tables.items():
            out.write(name, table)
        return SourceData(result.facts, result.issues)
