"""Reading metrology files: record tables (CSV or Parquet), gage studies and uncertainty budgets.

Errors are :class:`~silicio.metrology.errors.MetrologyError` naming the file, the row (1 is the
first row after the header) and the column at fault.
"""

from __future__ import annotations

import csv
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

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
    try:
        if suffix in _PARQUET:
            return pq.read_table(path)
        if suffix in _CSV:
            options = pa_csv.ConvertOptions(strings_can_be_null=True)
            if not infer_types:
                with path.open(newline="", encoding="utf-8-sig") as f:
                    header = next(csv.reader(f), None)
                if not header:
                    raise MetrologyError(f"{path}: empty file, expected a header row")
                options = pa_csv.ConvertOptions(
                    column_types={name: pa.string() for name in header}, strings_can_be_null=True
                )
            return pa_csv.read_csv(path, convert_options=options)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise MetrologyError(f"{path}: not a readable {suffix[1:]} file ({exc})") from None
    raise MetrologyError(f"{path}: unknown file type {suffix or '(none)'}; expected .csv or .parquet")


def read_records(path: str | Path, kind: str) -> pa.Table:
    """Records of ``kind`` (see :data:`silicio.metrology.records.SCHEMAS`) from a CSV or Parquet file."""
    if kind not in SCHEMAS:
        raise MetrologyError(f"unknown kind of record {kind!r}: expected one of {', '.join(SCHEMAS)}")
    return conform(read_table(path, infer_types=False), kind, source=str(path))


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
        table = read_table(path, infer_types=False)
        unknown = [c for c in table.column_names if c not in _BUDGET_COLUMNS]
        if unknown:
            raise MetrologyError(
                f"{path}: unknown column(s) {', '.join(unknown)}; expected {', '.join(_BUDGET_COLUMNS)}"
            )
        rows = table.to_pylist()
        if not rows:
            raise MetrologyError(f"{path}: no inputs")
        return BudgetFile(
            inputs=tuple(_budget_input(r, f"{path}: row {i + 1}") for i, r in enumerate(rows)),
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


def _number(value: Any, where: str, name: str, default: float | None = None) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is None:
            raise MetrologyError(f"{where}: {name} is missing")
        return default
    if isinstance(value, str) and value.strip().lower() in ("inf", "infinity", "∞"):
        return math.inf
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MetrologyError(f"{where}: {name} = {value!r} is not a number") from None
    if math.isnan(number):
        raise MetrologyError(f"{where}: {name} is not a number")
    return number


def _budget_input(entry: Mapping[str, Any], where: str) -> Input:
    if not isinstance(entry, Mapping):
        raise MetrologyError(f"{where}: expected a table of name, value, ...")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise MetrologyError(f"{where}: name is missing")
    where = f"{where} ({name})"

    def given(key: str) -> bool:
        v = entry.get(key)
        return v is not None and not (isinstance(v, str) and not v.strip())

    value = _number(entry.get("value"), where, "value")
    sensitivity = _number(entry.get("sensitivity"), where, "sensitivity")
    dof = _number(entry.get("dof"), where, "dof", default=math.inf)
    kind = str(entry.get("kind") or "B").strip().upper()
    unit = str(entry.get("unit") or "")
    description = str(entry.get("description") or "")
    try:
        if given("standard_uncertainty"):
            u = _number(entry["standard_uncertainty"], where, "standard_uncertainty")
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
            half_width = _number(entry["half_width"], where, "half_width")
        else:
            raise MetrologyError(
                f"{where}: give standard_uncertainty, half_width (with distribution) or "
                "expanded_uncertainty (with coverage_factor)"
            )
        expanded = (
            _number(entry["expanded_uncertainty"], where, "expanded_uncertainty")
            if given("expanded_uncertainty")
            else None
        )
        k = _number(entry.get("coverage_factor"), where, "coverage_factor") if expanded is not None else None
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
