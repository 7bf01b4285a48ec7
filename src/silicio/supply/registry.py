"""The supplier registry: organisations, their sites, capabilities, certifications and the
requests addressed to them, as polars tables; CSV and JSON import and export; and the
role-separated view a supplier gets of it.

Tables (one row per record; the column lists are :data:`SCHEMAS`):

================  ==============================================================================
organisations     who: kind (IDM, foundry, ATP/OSAT, materials, equipment, logistics, customs broker),
                  size class (micro, small, medium: the MSMEs; large), home country and state
sites             where: country (ISO 3166 alpha-2), state, city, coordinates, time to recover
                  (weeks) after a disruption, as the supplier declares it
capabilities      what a site can make or do: a process step (``process``), a material (by name)
                  or an HS code (``hs_code``), with capacity per week, lead time and customs regime
certifications    ISO 9001, IATF 16949, ISO 14001, ISO/IEC 17025 with issue and expiry dates
requests          RFQs, qualification and corrective-action requests from one organisation to
                  another (a supplier sees those addressed to it)
================  ==============================================================================

Size classes follow Mexico's MSME stratification (DOF 30-06-2009, Acuerdo por el que se
establece la estratificación de las micro, pequeñas y medianas empresas): micro up to 10
employees, small 11-50, medium 51-250 in industry; large above.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

#: Kinds of organisation in a semiconductor supply ecosystem.
ORG_KINDS = ("idm", "foundry", "atp_osat", "materials", "equipment", "logistics", "customs_broker")
#: Size classes; the first three are MSMEs.
SIZE_CLASSES = ("micro", "small", "medium", "large")
MSME_CLASSES = ("micro", "small", "medium")
#: What a capability row names: a routing step kind, a material by name, or an HS code.
CAPABILITY_TYPES = ("process", "material", "hs_code")
#: Quality and laboratory management system standards a supplier can hold.
CERTIFICATIONS = ("ISO 9001", "IATF 16949", "ISO 14001", "ISO/IEC 17025")
#: Customs regimes (as :data:`silicio.trace.model.REGIMES`).
REGIMES = ("definitive_import", "immex_temporary_import", "domestic_purchase")
REQUEST_KINDS = ("rfq", "qualification", "corrective_action", "capacity_survey")
REQUEST_STATUSES = ("open", "answered", "closed")
#: Roles of :func:`visible_to`: the maker's supply analysts see everything, a supplier its own
#: records, the public only :mod:`silicio.supply.transparency`'s aggregates.
ROLES = ("analyst", "supplier", "public")

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_HS = re.compile(r"^\d{4}(\.\d{2}(\d{2})?)?$")

#: Column -> (polars dtype, required). Optional columns may be left empty.
SCHEMAS: dict[str, dict[str, tuple[Any, bool]]] = {
    "organisations": {
        "org_id": (pl.Utf8, True),
        "name": (pl.Utf8, True),
        "kind": (pl.Utf8, True),
        "size_class": (pl.Utf8, True),
        "country": (pl.Utf8, True),
        "state": (pl.Utf8, False),
        "employees": (pl.Int64, False),
    },
    "sites": {
        "site_id": (pl.Utf8, True),
        "org_id": (pl.Utf8, True),
        "name": (pl.Utf8, False),
        "country": (pl.Utf8, True),
        "state": (pl.Utf8, False),
        "city": (pl.Utf8, False),
        "latitude": (pl.Float64, False),
        "longitude": (pl.Float64, False),
        "ttr_weeks": (pl.Float64, False),
    },
    "capabilities": {
        "org_id": (pl.Utf8, True),
        "site_id": (pl.Utf8, True),
        "type": (pl.Utf8, True),
        "value": (pl.Utf8, True),
        "hs_code": (pl.Utf8, False),
        "capacity_per_week": (pl.Float64, False),
        "unit": (pl.Utf8, False),
        "lead_time_weeks": (pl.Float64, False),
        "regime": (pl.Utf8, False),
    },
    "certifications": {
        "org_id": (pl.Utf8, True),
        "site_id": (pl.Utf8, False),
        "standard": (pl.Utf8, True),
        "certificate": (pl.Utf8, False),
        "issued": (pl.Date, False),
        "expires": (pl.Date, True),
    },
    "requests": {
        "request_id": (pl.Utf8, True),
        "from_org": (pl.Utf8, True),
        "to_org": (pl.Utf8, True),
        "kind": (pl.Utf8, True),
        "subject": (pl.Utf8, False),
        "status": (pl.Utf8, True),
        "created": (pl.Date, False),
    },
}
TABLES = tuple(SCHEMAS)
#: Figures a company keeps to itself: never in the public view.
CONFIDENTIAL_COLUMNS = ("capacity_per_week", "lead_time_weeks", "ttr_weeks", "certificate", "employees")


class RegistryError(ValueError):
    """A registry record that is not valid: the message names the file (or table), the row and the column."""


class AccessDenied(PermissionError):
    """A role asked for records it may not see or change."""


def empty_table(name: str) -> pl.DataFrame:
    return pl.DataFrame(schema={c: t for c, (t, _) in SCHEMAS[name].items()})


# -- validation -----------------------------------------------------------------------------------


def _where(source: str, row: int | None) -> str:
    return f"{source}, row {row}" if row is not None else source


def _check_value(name: str, column: str, value: Any, where: str) -> None:
    def bad(expected: str) -> RegistryError:
        return RegistryError(f"{where}: column {column!r} expected {expected}, got {value!r}")

    if value is None:
        return
    if column == "country" and not _COUNTRY.match(value):
        raise bad("an ISO 3166 alpha-2 country code such as MX")
    if column == "hs_code" and not _HS.match(value):
        raise bad("an HS code such as 3907.30")
    if (name, column) == ("organisations", "kind") and value not in ORG_KINDS:
        raise bad(f"one of {', '.join(ORG_KINDS)}")
    if column == "size_class" and value not in SIZE_CLASSES:
        raise bad(f"one of {', '.join(SIZE_CLASSES)}")
    if (name, column) == ("capabilities", "type") and value not in CAPABILITY_TYPES:
        raise bad(f"one of {', '.join(CAPABILITY_TYPES)}")
    if column == "regime" and value not in REGIMES:
        raise bad(f"one of {', '.join(REGIMES)}")
    if column == "standard" and value not in CERTIFICATIONS:
        raise bad(f"one of {', '.join(CERTIFICATIONS)}")
    if (name, column) == ("requests", "kind") and value not in REQUEST_KINDS:
        raise bad(f"one of {', '.join(REQUEST_KINDS)}")
    if (name, column) == ("requests", "status") and value not in REQUEST_STATUSES:
        raise bad(f"one of {', '.join(REQUEST_STATUSES)}")
    if column in ("capacity_per_week", "lead_time_weeks", "ttr_weeks", "employees"):
        if not math.isfinite(value) or value < 0:
            raise bad("a non-negative number")
    if column == "latitude" and not -90 <= value <= 90:
        raise bad("a latitude in [-90, 90]")
    if column == "longitude" and not -180 <= value <= 180:
        raise bad("a longitude in [-180, 180]")


def _convert(dtype: Any, column: str, value: Any, where: str) -> Any:
    """A cell from CSV text or JSON into the column's Python type; '' and None are missing."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    try:
        if dtype == pl.Utf8:
            return str(value).strip()
        if dtype == pl.Float64:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if dtype == pl.Int64:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if dtype == pl.Date:
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value).strip())
    except (TypeError, ValueError):
        kind = {pl.Float64: "a number", pl.Int64: "an integer", pl.Date: "a date YYYY-MM-DD"}[dtype]
        raise RegistryError(f"{where}: column {column!r} expected {kind}, got {value!r}") from None
    raise AssertionError(dtype)


def table_from_rows(name: str, rows: Iterable[Mapping[str, Any]], source: str | None = None,
                    first_row: int = 1) -> pl.DataFrame:  # fmt: skip
    """Validated table ``name`` from dict rows; errors name ``source``, the row (from ``first_row``) and the column."""
    if name not in SCHEMAS:
        raise RegistryError(f"unknown registry table {name!r}; expected one of {', '.join(TABLES)}")
    schema = SCHEMAS[name]
    source = source or name
    out: dict[str, list] = {c: [] for c in schema}
    for n, row in enumerate(rows, start=first_row):
        if not isinstance(row, Mapping):
            raise RegistryError(f"{_where(source, n)}: expected an object with columns {', '.join(schema)}")
        unknown = sorted(set(row) - set(schema))
        if unknown:
            raise RegistryError(f"{_where(source, n)}: unknown column {unknown[0]!r}; expected columns "
                                f"{', '.join(schema)}")  # fmt: skip
        for column, (dtype, required) in schema.items():
            value = _convert(dtype, column, row.get(column), _where(source, n))
            if value is None and required:
                raise RegistryError(f"{_where(source, n)}: column {column!r} is required and empty")
            _check_value(name, column, value, _where(source, n))
            out[column].append(value)
    return pl.DataFrame(out, schema={c: t for c, (t, _) in schema.items()})


# -- the registry ---------------------------------------------------------------------------------


@dataclass
class Registry:
    """The five registry tables, checked for unique keys and references on construction."""

    organisations: pl.DataFrame = field(default_factory=lambda: empty_table("organisations"))
    sites: pl.DataFrame = field(default_factory=lambda: empty_table("sites"))
    capabilities: pl.DataFrame = field(default_factory=lambda: empty_table("capabilities"))
    certifications: pl.DataFrame = field(default_factory=lambda: empty_table("certifications"))
    requests: pl.DataFrame = field(default_factory=lambda: empty_table("requests"))

    def __post_init__(self) -> None:
        for name in TABLES:
            table = getattr(self, name)
            if not isinstance(table, pl.DataFrame):
                table = table_from_rows(name, table)
            missing = [c for c in SCHEMAS[name] if c not in table.columns]
            if missing:
                raise RegistryError(
                    f"{name}: missing column {missing[0]!r}; expected columns {', '.join(SCHEMAS[name])}"
                )
            setattr(self, name, table.select(list(SCHEMAS[name])))
        self._check_keys()

    def _check_keys(self) -> None:
        for name, key in (("organisations", "org_id"), ("sites", "site_id"), ("requests", "request_id")):
            ids = getattr(self, name)[key]
            dup = ids.filter(ids.is_duplicated())
            if len(dup):
                raise RegistryError(f"{name}: {key} {dup[0]!r} appears more than once")
        orgs = set(self.organisations["org_id"].to_list())
        sites = dict(zip(self.sites["site_id"].to_list(), self.sites["org_id"].to_list(), strict=True))
        for name in ("sites", "capabilities", "certifications"):
            for n, org in enumerate(getattr(self, name)["org_id"].to_list(), start=1):
                if org not in orgs:
                    raise RegistryError(f"{name}, row {n}: org_id {org!r} is not in organisations")
        for name in ("capabilities", "certifications"):
            table = getattr(self, name)
            for n, (org, site) in enumerate(zip(table["org_id"], table["site_id"], strict=True), start=1):
                if site is not None and sites.get(site) != org:
                    raise RegistryError(f"{name}, row {n}: site_id {site!r} is not a site of {org!r}")
        for n, (a, b) in enumerate(
            zip(self.requests["from_org"], self.requests["to_org"], strict=True), start=1
        ):
            for org in (a, b):
                if org not in orgs:
                    raise RegistryError(f"requests, row {n}: organisation {org!r} is not in organisations")

    # -- look-ups

    def tables(self) -> dict[str, pl.DataFrame]:
        return {name: getattr(self, name) for name in TABLES}

    def organisation(self, org_id: str) -> dict[str, Any]:
        rows = self.organisations.filter(pl.col("org_id") == org_id)
        if rows.is_empty():
            raise KeyError(f"no organisation {org_id!r} in the registry")
        return rows.row(0, named=True)

    def org_id_of(self, name: str) -> str | None:
        """The id of the organisation called ``name`` (as a BOM names its supplier), or None."""
        rows = self.organisations.filter(pl.col("name") == name)
        return rows["org_id"][0] if len(rows) else None

    def is_msme(self) -> pl.Series:
        return self.organisations["size_class"].is_in(list(MSME_CLASSES))

    def valid_certifications(self, on: dt.date) -> pl.DataFrame:
        """Certifications not expired on ``on``."""
        return self.certifications.filter(pl.col("expires") >= on)

    def with_rows(self, name: str, rows: pl.DataFrame) -> Registry:
        tables = self.tables()
        tables[name] = pl.concat([tables[name], rows.select(list(SCHEMAS[name]))])
        return Registry(**tables)


# -- import and export ----------------------------------------------------------------------------


def read_csv_dir(directory: str | Path) -> Registry:
    """A registry from ``organisations.csv``, ``sites.csv``, ... in ``directory`` (absent files: empty tables)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise RegistryError(f"{directory}: no such directory")
    tables = {}
    for name in TABLES:
        path = directory / f"{name}.csv"
        if not path.exists():
            continue
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c, (_, required) in SCHEMAS[name].items() if required and c not in header]
            if missing:
                raise RegistryError(f"{path}: missing column {missing[0]!r}; expected columns "
                                    f"{', '.join(SCHEMAS[name])}")  # fmt: skip
            # Row numbers as a spreadsheet shows them: the header is row 1.
            tables[name] = table_from_rows(name, reader, source=str(path), first_row=2)
    return _registry_or_error(tables, str(directory))


def write_csv_dir(registry: Registry, directory: str | Path) -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, table in registry.tables().items():
        path = directory / f"{name}.csv"
        table.write_csv(path)
        paths.append(path)
    return paths


def read_json(path: str | Path) -> Registry:
    """A registry from one JSON document ``{"organisations": [{...}, ...], "sites": [...], ...}``."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RegistryError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return registry_from_dict(doc, str(path))


def registry_from_dict(doc: Any, source: str = "registry") -> Registry:
    if not isinstance(doc, dict):
        raise RegistryError(f"{source}: expected an object with keys {', '.join(TABLES)}")
    unknown = sorted(set(doc) - set(TABLES))
    if unknown:
        raise RegistryError(f"{source}: unknown table {unknown[0]!r}; expected {', '.join(TABLES)}")
    tables = {}
    for name, rows in doc.items():
        if not isinstance(rows, list):
            raise RegistryError(f"{source}: {name!r} must be a list of rows")
        tables[name] = table_from_rows(name, rows, source=f"{source}: {name}")
    return _registry_or_error(tables, source)


def _registry_or_error(tables: dict[str, pl.DataFrame], source: str) -> Registry:
    try:
        return Registry(**tables)
    except RegistryError as exc:
        raise RegistryError(f"{source}: {exc}") from None


def registry_to_dict(registry: Registry) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name, table in registry.tables().items():
        rows = table.to_dicts()
        for row in rows:
            for k, v in row.items():
                if isinstance(v, dt.date):
                    row[k] = v.isoformat()
        out[name] = rows
    return out


def write_json(registry: Registry, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(registry_to_dict(registry), ensure_ascii=False, indent=1), encoding="utf-8")
    return path


# -- role separation ------------------------------------------------------------------------------


class SupplierView:
    """What the supplier ``org_id`` sees of the registry: its own organisation, sites,
    capabilities and certifications, and the requests addressed to it. It may update its own
    records and answer its requests; asking for anyone else's raises :class:`AccessDenied`.

    Every accessor takes the org id it serves from the view, never from the caller, so a
    URL parameter naming another company cannot widen it.
    """

    def __init__(self, registry: Registry, org_id: str) -> None:
        if org_id not in set(registry.organisations["org_id"].to_list()):
            raise AccessDenied(
                f"no organisation {org_id!r}: a supplier account must belong to a registered organisation"
            )
        self._registry = registry
        self.org_id = org_id

    def tables(self) -> dict[str, pl.DataFrame]:
        """Every registry table as this supplier sees it: its own rows, the requests addressed to it."""
        return {name: self._own(name) for name in TABLES}

    def _own(self, name: str) -> pl.DataFrame:
        table = getattr(self._registry, name)
        if name == "requests":
            return table.filter(pl.col("to_org") == self.org_id)
        return table.filter(pl.col("org_id") == self.org_id)

    def _check(self, org_id: str | None) -> None:
        if org_id is not None and org_id != self.org_id:
            raise AccessDenied(f"supplier {self.org_id!r} may not see or change records of {org_id!r}")

    def organisation(self, org_id: str | None = None) -> dict[str, Any]:
        self._check(org_id)
        return self._registry.organisation(self.org_id)

    def sites(self, org_id: str | None = None) -> pl.DataFrame:
        self._check(org_id)
        return self._own("sites")

    def site(self, site_id: str) -> dict[str, Any]:
        rows = self._own("sites").filter(pl.col("site_id") == site_id)
        if rows.is_empty():  # the same answer whether the site is another's or does not exist
            raise AccessDenied(f"supplier {self.org_id!r} has no site {site_id!r}")
        return rows.row(0, named=True)

    def capabilities(self, org_id: str | None = None) -> pl.DataFrame:
        self._check(org_id)
        return self._own("capabilities")

    def certifications(self, org_id: str | None = None) -> pl.DataFrame:
        self._check(org_id)
        return self._own("certifications")

    def requests(self, org_id: str | None = None) -> pl.DataFrame:
        self._check(org_id)
        return self._own("requests")

    def request(self, request_id: str) -> dict[str, Any]:
        rows = self._own("requests").filter(pl.col("request_id") == request_id)
        if rows.is_empty():
            raise AccessDenied(f"supplier {self.org_id!r} has no request {request_id!r}")
        return rows.row(0, named=True)

    # -- updates: the new registry is returned, the caller stores it

    def update(self, name: str, rows: Iterable[Mapping[str, Any]]) -> Registry:
        """Replace this supplier's rows of ``name`` (sites, capabilities or certifications) with
        ``rows``, or update its organisation (one row). Rows naming another org are refused."""
        if name not in ("organisations", "sites", "capabilities", "certifications"):
            raise AccessDenied(f"a supplier may not edit {name!r}")
        rows = list(rows)
        for n, row in enumerate(rows, start=1):
            if row.get("org_id", self.org_id) != self.org_id:
                raise AccessDenied(f"{name}, row {n}: supplier {self.org_id!r} may not write records of "
                                   f"{row.get('org_id')!r}")  # fmt: skip
        rows = [{**row, "org_id": self.org_id} for row in rows]
        if name == "organisations" and len(rows) != 1:
            raise RegistryError("organisations: a supplier updates exactly one row, its own")
        if name == "sites":
            others = set(self._registry.sites.filter(pl.col("org_id") != self.org_id)["site_id"].to_list())
            for n, row in enumerate(rows, start=1):
                if row.get("site_id") in others:
                    raise AccessDenied(
                        f"sites, row {n}: site {row.get('site_id')!r} belongs to another organisation"
                    )
        new = table_from_rows(name, rows, source=f"{name} update by {self.org_id}")
        tables = self._registry.tables()
        tables[name] = pl.concat([tables[name].filter(pl.col("org_id") != self.org_id), new])
        self._registry = Registry(**tables)
        return self._registry

    def answer(self, request_id: str, status: str = "answered") -> Registry:
        """Set the status of a request addressed to this supplier."""
        self.request(request_id)
        if status not in REQUEST_STATUSES:
            raise RegistryError(f"status expected one of {', '.join(REQUEST_STATUSES)}, got {status!r}")
        tables = self._registry.tables()
        req = tables["requests"]
        tables["requests"] = req.with_columns(
            pl.when(pl.col("request_id") == request_id)
            .then(pl.lit(status))
            .otherwise(pl.col("status"))
            .alias("status")
        )
        self._registry = Registry(**tables)
        return self._registry


def visible_to(
    registry: Registry, role: str, org_id: str | None = None
) -> Registry | SupplierView | dict[str, Any]:
    """The registry as ``role`` may see it: ``analyst`` everything, ``supplier`` a
    :class:`SupplierView` of ``org_id``, ``public`` the aggregate figures of
    :func:`silicio.supply.transparency.public_summary` (no company's confidential numbers)."""
    if role == "analyst":
        return registry
    if role == "supplier":
        if not org_id:
            raise AccessDenied("a supplier role needs its org_id")
        return SupplierView(registry, org_id)
    if role == "public":
        from .transparency import public_summary

        return public_summary(registry)
    raise AccessDenied(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
