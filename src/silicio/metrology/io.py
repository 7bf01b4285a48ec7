"""Reading metrology files: record tables (CSV or Parquet), gage studies and uncertainty budgets.

CSV files are read by :func:`silicio.tabular.read_table`: ``,`` or ``;`` separated, decimal
point or comma, UTF-8 (with or without BOM) or Windows-1252, as a spreadsheet saved them.
Errors are :class:`~silicio.metrology.errors.MetrologyError` naming the file and the row (1 is
the first row after the header) or the line (the header is line 1) and the column at fault.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from silicio import tabular

from .errors import MetrologyError
from .records import SCHEMAS, conform
from .uncertainty import Input, type_b

__all__ = ["BudgetFile", "read_budget", "read_records", "read_table"]

_CSV = {".csv", ".txt"}
_PARQUET = {".parquet", ".pq"}


def read_table(path: str | Path, *, infer_types: bool = True) -> pa.Table:
    """A CSV or Parquet file as an Arrow table (by its suffix).

    ``infer_types=False`` reads every CSV column as text, for the caller to convert with row
    numbers in its errors (ids such as "007" stay as written).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _PARQUET:
        try:
            return pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise MetrologyError(f"{path}: not a readable parquet file ({exc})") from None
    return _read_csv(path, infer=infer_types).data


def _read_csv(path: Path, *, infer: bool) -> tabular.Table:
    if path.suffix.lower() not in _CSV:
        raise MetrologyError(
            f"{path}: unknown file type {path.suffix.lower() or '(none)'}; expected .csv or .parquet"
        )
    try:
        return tabular.read_table(path, infer=infer)
    except tabular.TableError as exc:
        raise MetrologyError(str(exc)) from None


def read_records(path: str | Path, kind: str) -> pa.Table:
    """Records of ``kind`` (see :data:`silicio.metrology.records.SCHEMAS`) from a CSV or Parquet file."""
    if kind not in SCHEMAS:
        raise MetrologyError(f"unknown kind of record {kind!r}: expected one of {', '.join(SCHEMAS)}")
    path = Path(path)
    if path.suffix.lower() in _PARQUET:
        return conform(read_table(path), kind, source=str(path))
    read = _read_csv(path, infer=False)
    table = read.data
    if read.dialect.decimal == ",":
        # Numbers written with a decimal comma ("1,5", "1.234,5"), as conform's cast reads them;
        # a cell that is no number stays as written, for conform's error to quote.
        for f in SCHEMAS[kind]:
            if f.name in table.column_names and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type)):
                texts = [_point_decimal(v) for v in table.column(f.name).to_pylist()]
                table = table.set_column(
                    table.column_names.index(f.name), f.name, pa.array(texts, pa.string())
                )
    return conform(table, kind, source=str(path))


def _point_decimal(text: str | None) -> str | None:
    number = None if text is None else tabular.parse_number(text, ",")
    return text if number is None else str(number)


# --------------------------------------------------------------------------------------------
# uncertainty budgets


@dataclass(frozen=True)
class BudgetFile:
    """An uncertainty budget as written in a file: its inputs and how to combine them."""

    inputs: tuple[Input, ...]
    correlation: dict[tuple[str, str], float] = field(default_factory=dict)
    measurand: str = ""
    unit: str = ""
    estimate: float | None = None
    coverage: float | None = None
    #: Each input's distribution as the file states it (normal, rectangular, triangular, arcsine),
    #: for the Monte Carlo method (JCGM 101), which needs the distribution and not only u.
    distributions: dict[str, str] = field(default_factory=dict)
    #: The measurement model as an expression of the inputs' names (TOML ``model``), if given.
    model: str | None = None


_BUDGET_COLUMNS = (
    "name",
    "value",
    "standard_uncertainty",
    "half_width",
    "distribution",
    "expanded_uncertainty",
    "coverage_factor",
    "dof",
    "kind",
    "sensitivity",
    "unit",
    "description",
)


def read_budget(path: str | Path) -> BudgetFile:
    """An uncertainty budget from a CSV (one input per row) or TOML file.

    Each input has ``name``, ``value``, ``sensitivity`` (c_i: files carry no model) and one of
    ``standard_uncertainty``; ``half_width`` with ``distribution`` (rectangular, triangular,
    arcsine); ``expanded_uncertainty`` with ``coverage_factor`` (normal). Optional: ``dof``
    (empty or "inf": infinite), ``kind`` (A or B), ``unit``, ``description``.

    TOML adds top-level ``measurand``, ``unit``, ``estimate``, ``coverage``, inputs as
    ``[[inputs]]`` tables and correlations as ``[[correlations]]`` with ``inputs = [a, b]``
    and ``r``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".toml":
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise MetrologyError(f"{path}: not valid TOML ({exc})") from None
        entries = doc.get("inputs")
        if not isinstance(entries, list) or not entries:
            raise MetrologyError(f"{path}: no [[inputs]] tables")
        inputs = tuple(_budget_input(e, f"{path}: input {i + 1}") for i, e in enumerate(entries))
        correlation: dict[tuple[str, str], float] = {}
        for i, c in enumerate(doc.get("correlations", [])):
            where = f"{path}: correlation {i + 1}"
            pair = c.get("inputs") if isinstance(c, Mapping) else None
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(n, str) for n in pair)):
                raise MetrologyError(f'{where}: inputs must name two inputs, as inputs = ["a", "b"]')
            correlation[(pair[0], pair[1])] = _number(c.get("r"), where, "r")
        model = doc.get("model")
        if model is not None and not (isinstance(model, str) and model.strip()):
            raise MetrologyError(f'{path}: model must be an expression of the inputs, as model = "a * b"')
        return BudgetFile(
            inputs=inputs,
            model=model,
            distributions=_distributions(entries),
            correlation=correlation,
            measurand=str(doc.get("measurand", "")),
            unit=str(doc.get("unit", "")),
            estimate=None if doc.get("estimate") is None else _number(doc["estimate"], str(path), "estimate"),
            coverage=None if doc.get("coverage") is None else _number(doc["coverage"], str(path), "coverage"),
        )
    if suffix in _CSV:
        read = _read_csv(path, infer=False)
        table, decimal = read.data, read.dialect.decimal
        unknown = [c for c in table.column_names if c not in _BUDGET_COLUMNS]
        if unknown:
            raise MetrologyError(
                f"{path}: unknown column(s) {', '.join(unknown)}; expected {', '.join(_BUDGET_COLUMNS)}"
            )
        rows = table.to_pylist()
        if not rows:
            raise MetrologyError(f"{path}: no inputs")
        return BudgetFile(
            inputs=tuple(_budget_input(r, f"{path}: row {i + 1}", decimal) for i, r in enumerate(rows)),
            distributions=_distributions(rows),
        )
    raise MetrologyError(f"{path}: unknown budget file type {suffix or '(none)'}; expected .csv or .toml")


def _distributions(entries: list[Mapping[str, Any]]) -> dict[str, str]:
    """name -> distribution: the stated one with a half width, else normal (a standard or an
    expanded uncertainty)."""
    out = {}
    for entry in entries:
        half_width = entry.get("half_width")
        if half_width is not None and not (isinstance(half_width, str) and not half_width.strip()):
            out[str(entry["name"])] = str(entry.get("distribution") or "rectangular").strip().lower()
        else:
            out[str(entry["name"])] = "normal"
    return out


def _number(value: Any, where: str, name: str, default: float | None = None, decimal: str = ".") -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is None:
            raise MetrologyError(f"{where}: {name} is missing")
        return default
    if isinstance(value, str) and value.strip().lower() in ("inf", "infinity", "∞"):
        return math.inf
    if isinstance(value, str) and decimal == ",":
        parsed = tabular.parse_number(value, decimal)
        value = value if parsed is None else parsed
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MetrologyError(f"{where}: {name} = {value!r} is not a number") from None
    if math.isnan(number):
        raise MetrologyError(f"{where}: {name} is not a number")
    return number


def _budget_input(entry: Mapping[str, Any], where: str, decimal: str = ".") -> Input:
    if not isinstance(entry, Mapping):
        raise MetrologyError(f"{where}: expected a table of name, value, ...")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise MetrologyError(f"{where}: name is missing")
    where = f"{where} ({name})"

    def given(key: str) -> bool:
        v = entry.get(key)
        return v is not None and not (isinstance(v, str) and not v.strip())

    value = _number(entry.get("value"), where, "value", decimal=decimal)
    sensitivity = _number(entry.get("sensitivity"), where, "sensitivity", decimal=decimal)
    dof = _number(entry.get("dof"), where, "dof", default=math.inf, decimal=decimal)
    kind = str(entry.get("kind") or "B").strip().upper()
    unit = str(entry.get("unit") or "")
    description = str(entry.get("description") or "")
    try:
        if given("standard_uncertainty"):
            u = _number(entry["standard_uncertainty"], where, "standard_uncertainty", decimal=decimal)
            return Input(
                name,
                value,
                u,
                dof=dof,
                kind=kind,
                sensitivity=sensitivity,
                unit=unit,
                description=description,
            )
        if given("expanded_uncertainty"):
            distribution, half_width = "normal", None
        elif given("half_width"):
            distribution = str(entry.get("distribution") or "rectangular").strip().lower()
            half_width = _number(entry["half_width"], where, "half_width", decimal=decimal)
        else:
            raise MetrologyError(
                f"{where}: give standard_uncertainty, half_width (with distribution) or "
                "expanded_uncertainty (with coverage_factor)"
            )
        expanded = (
            _number(entry["expanded_uncertainty"], where, "expanded_uncertainty", decimal=decimal)
            if given("expanded_uncertainty")
            else None
        )
        k = (
            _number(entry.get("coverage_factor"), where, "coverage_factor", decimal=decimal)
            if expanded is not None
            else None
        )
        inp = type_b(
            name,
            value,
            half_width,
            distribution=distribution,
            expanded_uncertainty=expanded,
            coverage_factor=k,
            dof=dof,
            sensitivity=sensitivity,
            unit=unit,
            description=description,
        )
        return Input(**{**inp.__dict__, "kind": kind})
    except MetrologyError as exc:
        text = str(exc)
        raise MetrologyError(text if text.startswith(where) else f"{where}: {text}") from None
