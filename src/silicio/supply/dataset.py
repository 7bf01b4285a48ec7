"""A supply model from the user's own CSV files or Excel workbooks: sites, routings, bill of
materials, capacities, lead times, recovery times, demand and prices; checked row by row, turned
into the network :mod:`.stress`, :mod:`.montecarlo` and the risk views work on.

The tables and their columns are :data:`FILES` (``docs/supply-data.md`` explains them, and
``silicio supply template DIR`` writes a folder to start from). A model is a folder with one
file a table (``bom.csv`` or ``bom.xlsx``), or one workbook with a sheet a table (sheet
``bom``). CSV files are read with :func:`silicio.tabular.read_table`: ``,`` or ``;``
separators, decimal point or comma, UTF-8 (with or without BOM) or Latin-1; errors name the
file, the line as an editor counts it (the header is line 1), the column and what was expected.
Sheets are read with :func:`silicio.tabular.read_sheet`; their errors name the file, the sheet
and the row as Excel numbers it.

Missing figures (a capacity, a lead time, a recovery time, weeks of inventory, a unit cost) are
refused by default (``missing="refuse"``). With ``missing="default"`` each is filled by the
value in :data:`DEFAULTS` and listed in :attr:`SupplyData.defaults`; :attr:`SupplyData.completeness`
is the share of the figures the model needs that came from the files. Demand and price have no
default: a product without them cannot be analysed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from silicio.tabular import TableError, read_sheet, read_table, sheet_names

from .network import NetworkError, set_inventory

#: File -> column -> (type, role). Roles: ``key`` (required column, value required), ``value``
#: (required value, no default), ``figure`` (a figure with a default under ``missing="default"``),
#: ``optional`` (may be left out).
FILES: dict[str, dict[str, tuple[str, str]]] = {
    "sites": {
        "site_id": ("text", "key"),
        "company": ("text", "optional"),
        "country": ("text", "key"),
        "region": ("text", "optional"),
        "recovery_weeks": ("number", "figure"),
    },
    "routings": {
        "product": ("text", "key"),
        "step": ("text", "key"),
        "operation": ("text", "key"),
        "site_id": ("text", "key"),
        "input_per_output": ("number", "optional"),
    },
    "bom": {
        "parent": ("text", "key"),
        "step": ("text", "optional"),
        "parent_site": ("text", "optional"),
        "component": ("text", "key"),
        "supplier_site": ("text", "key"),
        "quantity": ("number", "key"),
    },
    "capacities": {
        "site_id": ("text", "key"),
        "item": ("text", "key"),
        "capacity_per_week": ("number", "figure"),
        "inventory_weeks": ("number", "figure"),
    },
    "lead_times": {
        "site_id": ("text", "key"),
        "item": ("text", "key"),
        "lead_time_weeks": ("number", "figure"),
    },
    "demand": {
        "product": ("text", "key"),
        "demand_per_week": ("number", "value"),
    },
    "prices": {
        "product": ("text", "key"),
        "price": ("number", "value"),
        "unit_cost": ("number", "figure"),
    },
}
#: Files a model must have (lead_times.csv and prices.csv too: a missing file is missing figures).
REQUIRED_FILES = ("sites", "routings", "bom", "demand", "prices")
#: Figures filled under ``missing="default"``: value, and what it means.
DEFAULTS: dict[str, tuple[float, str]] = {
    "capacity_per_week": (math.inf, "unlimited capacity"),
    "inventory_weeks": (0.0, "no inventory"),
    "lead_time_weeks": (0.0, "no lead time"),
    "recovery_weeks": (4.0, "4 weeks to recover"),
    "unit_cost": (0.0, "margin = price (lost revenue, not lost profit)"),
}
MISSING_POLICIES = ("refuse", "default")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class SupplyDataError(ValueError):
    """Supply data that cannot be used as written: names the file, line and column."""


@dataclass
class SupplyData:
    """The network built from a folder, with how complete the data was."""

    source: Path
    network: nx.DiGraph
    products: dict[str, str]  # product -> its product node (last routing step)
    demand: dict[str, float]
    completeness: float
    figures: int  # figures the model needs
    defaults: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def quality(self) -> dict[str, Any]:
        """What every result carries: where the data came from, how complete, which defaults."""
        return {"source": str(self.source), "completeness": self.completeness, "figures": self.figures,
                "defaults_used": len(self.defaults), "defaults": self.defaults}  # fmt: skip


@dataclass
class _Rows:
    path: Path
    rows: list[dict[str, Any]]
    lines: list[int]
    columns: set[str]
    #: The workbook's sheet the rows come from (``lines`` are then Excel's row numbers).
    sheet: str | None = None

    @property
    def label(self) -> str:
        """The file (and sheet) as errors name it."""
        return f"{self.path}, sheet {self.sheet!r}" if self.sheet else str(self.path)

    @property
    def short(self) -> str:
        """The file name (and sheet), for messages that list many."""
        return f"{self.path.name} sheet {self.sheet!r}" if self.sheet else self.path.name

    @property
    def unit(self) -> str:
        return "row" if self.sheet else "line"

    def at(self, index: int) -> str:
        return f"{self.label}, {self.unit} {self.lines[index]}"

    def where(self, index: int, column: str) -> str:
        return f"{self.at(index)}, column {column!r}"


def _locate(source: Path, name: str) -> tuple[Path, str | None] | None:
    """Where table ``name`` is in ``source`` (a folder or a workbook): (file, sheet), sheet None
    for a CSV file; None if it is absent."""
    if source.is_file():
        return (source, name) if name in sheet_names(source) else None
    csv_path, book = source / f"{name}.csv", source / f"{name}.xlsx"
    if csv_path.exists() and book.exists():
        raise SupplyDataError(f"{csv_path}: {book.name} is there too; keep one of them")
    if csv_path.exists():
        return csv_path, None
    if not book.exists():
        return None
    sheets = sheet_names(book)
    if name in sheets:
        return book, name
    if len(sheets) == 1:
        return book, sheets[0]
    raise SupplyDataError(f"{book}: {len(sheets)} sheets and none named {name!r}: name the sheet {name!r}, or "
                          f"keep one sheet")  # fmt: skip


def _read(source: Path, name: str) -> _Rows | None:
    try:
        found = _locate(source, name)
    except TableError as exc:
        raise SupplyDataError(str(exc)) from None
    if found is None:
        if name in REQUIRED_FILES:
            if source.is_file():
                raise SupplyDataError(f"{source}: no sheet {name!r}; a supply model needs the sheets "
                                      f"{', '.join(REQUIRED_FILES)} (silicio supply template DIR --xlsx writes "
                                      f"an example)")  # fmt: skip
            raise SupplyDataError(f"{source / (name + '.csv')}: missing; a supply model needs "
                                  f"{', '.join(f + '.csv' for f in REQUIRED_FILES)} (or .xlsx; silicio supply "
                                  f"template DIR writes an example)")  # fmt: skip
        return None
    path, sheet = found
    spec = FILES[name]

    def read(**kwargs: Any):
        return read_table(path, **kwargs) if sheet is None else read_sheet(path, sheet, **kwargs)

    where = f"{path}, sheet {sheet!r}" if sheet else str(path)
    try:
        head = read()  # the header first: unknown columns are refused by name
        header = set(head.data.column_names)
        unknown = sorted(header - set(spec))
        if unknown:
            raise SupplyDataError(f"{where}: unknown column(s) {', '.join(unknown)}; expected columns "
                                  f"{', '.join(spec)}")  # fmt: skip
        keys = [c for c, (_, role) in spec.items() if role in ("key", "value")]
        table = read(types={c: t for c, (t, _) in spec.items() if c in header}, required=keys)
    except TableError as exc:
        raise SupplyDataError(str(exc)) from None
    rows = table.data.to_pylist()
    out = _Rows(path, rows, list(table.lines), header, sheet)
    for i, row in enumerate(rows):
        for column, (kind, role) in spec.items():
            value = row.get(column)
            if value is None:
                if role in ("key", "value") and column in header:
                    raise SupplyDataError(f"{out.where(i, column)}: empty; expected "
                                          f"{'a number' if kind == 'number' else 'a value'}")  # fmt: skip
                continue
            if kind == "number" and not (math.isfinite(value) and value >= 0):
                raise SupplyDataError(
                    f"{out.where(i, column)}: expected a non-negative number, got {value!r}"
                )
            if kind == "text":
                row[column] = value = str(value).strip()
        if name == "sites" and not _COUNTRY.match(row["country"]):
            raise SupplyDataError(f"{out.where(i, 'country')}: expected an ISO 3166 alpha-2 code such as MX, "
                                  f"got {row['country']!r}")  # fmt: skip
    return out


def _unique(rows: _Rows, keys: tuple[str, ...]) -> dict[tuple, int]:
    seen: dict[tuple, int] = {}
    for i, row in enumerate(rows.rows):
        key = tuple(row[k] for k in keys)
        if key in seen:
            raise SupplyDataError(f"{rows.at(i)}: {'/'.join(map(str, key))} is given twice "
                                  f"(also {rows.unit} {rows.lines[seen[key]]})")  # fmt: skip
        seen[key] = i
    return seen


def read_supply_dir(
    directory: str | Path, missing: str = "refuse", inventory_weeks: float | None = None
) -> SupplyData:
    """The supply model in ``directory`` (:data:`FILES`: a folder of CSV files or workbooks, or
    one .xlsx workbook with a sheet a table), missing figures refused or filled (module text)."""
    if missing not in MISSING_POLICIES:
        raise SupplyDataError(f"missing must be 'refuse' or 'default', got {missing!r}")
    directory = Path(directory)
    if directory.is_file():
        if directory.suffix.lower() != ".xlsx":
            raise SupplyDataError(
                f"{directory}: expected a folder of CSV files or an Excel workbook (.xlsx)"
                + ("; save an .xls workbook as .xlsx" if directory.suffix.lower() == ".xls" else "")
            )
        try:
            unknown = sorted(set(sheet_names(directory)) - set(FILES))
        except TableError as exc:
            raise SupplyDataError(str(exc)) from None
        if unknown:
            raise SupplyDataError(f"{directory}: unknown sheet(s) {', '.join(map(repr, unknown))}; expected sheets "
                                  f"{', '.join(FILES)}")  # fmt: skip
    elif not directory.is_dir():
        raise SupplyDataError(f"{directory}: no such folder or workbook")
    t = {name: _read(directory, name) for name in FILES}
    sites, routings, bom, demand, prices = (t[n] for n in REQUIRED_FILES)
    assert sites and routings and bom and demand and prices
    site_of = {row["site_id"]: (i, row) for i, row in enumerate(sites.rows)}
    _unique(sites, ("site_id",))
    _unique(routings, ("product", "step"))
    demand_of = {k[0]: demand.rows[i]["demand_per_week"] for k, i in _unique(demand, ("product",)).items()}
    price_row = {k[0]: i for k, i in _unique(prices, ("product",)).items()}
    caps = {k: i for k, i in _unique(t["capacities"], ("site_id", "item")).items()} if t["capacities"] else {}
    leads = (
        {k: i for k, i in _unique(t["lead_times"], ("site_id", "item")).items()} if t["lead_times"] else {}
    )

    defaults: list[dict[str, Any]] = []
    figures = 0
    refused: list[str] = []

    def figure(rows: _Rows | None, index: int | None, column: str, what: str, file: str) -> float:
        """One figure from its row, or the default (recorded), or a refusal (collected)."""
        nonlocal figures
        figures += 1
        value = rows.rows[index].get(column) if rows is not None and index is not None else None
        if value is not None:
            return float(value)
        if rows is None:
            why = f"sheet {file!r} is absent" if directory.is_file() else f"{file}.csv is absent"
        elif column not in rows.columns:
            why = f"{rows.short} has no column {column!r}"
        elif index is None:
            why = f"{rows.short} has no row for it"
        else:
            why = f"{rows.short} {rows.unit} {rows.lines[index]} leaves {column!r} empty"
        if missing == "refuse":
            refused.append(f"{column} of {what}: {why}")
            return math.nan
        value, meaning = DEFAULTS[column]
        defaults.append({"file": f"{file}.csv", "column": column, "for": what, "value": value,
                         "meaning": meaning, "why": why})  # fmt: skip
        return value

    def site(rows: _Rows, i: int, column: str) -> dict[str, Any]:
        sid = rows.rows[i][column]
        if sid not in site_of:
            raise SupplyDataError(f"{rows.where(i, column)}: site {sid!r} is not in sites.csv")
        return site_of[sid][1]

    g = nx.DiGraph()
    recovery: dict[str, float] = {}

    def node(node_id: str, kind: str, site_row: dict[str, Any], item: str, label: str, **extra: Any) -> None:
        sid = site_row["site_id"]
        if sid not in recovery:
            recovery[sid] = figure(sites, site_of[sid][0], "recovery_weeks", f"site {sid}", "sites")
        what = f"{item} at {sid}"
        cap_i, lead_i = caps.get((sid, item)), leads.get((sid, item))
        g.add_node(node_id, kind=kind, label=label, facility=sid, org_id=site_row.get("company") or sid,
                   country=site_row["country"], state="", region=site_row.get("region") or site_row["country"],
                   capacity=figure(t["capacities"], cap_i, "capacity_per_week", what, "capacities"),
                   lead_time=figure(t["lead_times"], lead_i, "lead_time_weeks", what, "lead_times"),
                   ttr=recovery[sid], inventory=0.0, demand=0.0, profit=0.0, material=item,
                   cover_weeks=figure(t["capacities"], cap_i, "inventory_weeks", what, "capacities")
                   if inventory_weeks is None else inventory_weeks, **extra)  # fmt: skip

    # Routings: one chain of steps per product, in file order.
    last: dict[str, str] = {}
    step_node: dict[tuple[str, str], str] = {}
    for i, row in enumerate(routings.rows):
        s = site(routings, i, "site_id")
        product, node_id = row["product"], f"{row['product']}/{row['step']}"
        node(
            node_id, "step", s, row["operation"], f"{product} {row['operation']}", step_kind=row["operation"]
        )
        step_node[(product, row["step"])] = node_id
        if product in last:
            per = row.get("input_per_output")
            g.add_edge(last[product], node_id, material=last[product], units=1.0 if per is None else per)
        last[product] = node_id
    # BOM: a component from a supplier site into a product's step, or into another component (tier 2+).
    for i, row in enumerate(bom.rows):
        s = site(bom, i, "supplier_site")
        if row["quantity"] <= 0:
            raise SupplyDataError(
                f"{bom.where(i, 'quantity')}: expected a positive number, got {row['quantity']!r}"
            )
        if (row.get("step") is None) == (row.get("parent_site") is None):
            raise SupplyDataError(f"{bom.at(i)}: give either 'step' (the parent is a product) "
                                  f"or 'parent_site' (the parent is a component made there), not both or neither")  # fmt: skip
        if row.get("step") is not None:
            consumer = step_node.get((row["parent"], row["step"]))
            if consumer is None:
                raise SupplyDataError(f"{bom.where(i, 'step')}: no step {row['step']!r} of product "
                                      f"{row['parent']!r} in routings.csv")  # fmt: skip
        else:
            consumer = f"{row['parent_site']}/{row['parent']}"
            if consumer not in g:
                raise SupplyDataError(f"{bom.where(i, 'parent_site')}: component {row['parent']!r} from site "
                                      f"{row['parent_site']!r} is supplied by no earlier {bom.unit} of {bom.short}")  # fmt: skip
        source = f"{s['site_id']}/{row['component']}"
        if source not in g:
            node(
                source,
                "material",
                s,
                row["component"],
                f"{row['component']} ({s.get('company') or s['site_id']})",
            )
        if g.has_edge(source, consumer):
            raise SupplyDataError(f"{bom.at(i)}: {row['component']} from {s['site_id']} "
                                  f"into {consumer} is given twice")  # fmt: skip
        g.add_edge(source, consumer, material=row["component"], units=float(row["quantity"]))
    if not nx.is_directed_acyclic_graph(g):
        raise SupplyDataError(f"{bom.label}: components go into each other in a loop: {nx.find_cycle(g)}")
    # Products: demand and margin at the last step.
    for product, node_id in last.items():
        if product not in demand_of:
            raise SupplyDataError(f"{demand.label}: no demand for product {product!r} (routings.csv has it)")
        if product not in price_row:
            raise SupplyDataError(f"{prices.label}: no price for product {product!r} (routings.csv has it)")
        if demand_of[product] <= 0:
            i = next(i for i, r in enumerate(demand.rows) if r["product"] == product)
            raise SupplyDataError(f"{demand.where(i, 'demand_per_week')}: expected a positive number")
        p = price_row[product]
        cost = figure(prices, p, "unit_cost", f"product {product}", "prices")
        g.nodes[node_id].update(demand=float(demand_of[product]), profit=prices.rows[p]["price"] - cost,
                                product=product)  # fmt: skip
    for rows in (demand, prices):
        for i, row in enumerate(rows.rows):
            if row["product"] not in last:
                raise SupplyDataError(f"{rows.where(i, 'product')}: product {row['product']!r} has no routing "
                                      f"in routings.csv")  # fmt: skip
    sinks = [n for n in g if g.out_degree(n) == 0 and "product" not in g.nodes[n]]
    if sinks:
        raise SupplyDataError(f"{sinks[0]} is used by nothing: a component must go into a product's step or "
                              f"into another component (bom.csv)")  # fmt: skip
    if refused:
        more = f" (and {len(refused) - 5} more)" if len(refused) > 5 else ""
        raise SupplyDataError(f"{directory}: {len(refused)} figure(s) missing, refused: {'; '.join(refused[:5])}{more}."
                              f" Give them, or run with --missing default to fill them ({_defaults_text()}) "
                              f"and see them reported")  # fmt: skip
    try:
        set_inventory(g, {n: g.nodes[n]["cover_weeks"] for n in g})
    except NetworkError as exc:
        raise SupplyDataError(str(exc)) from None
    completeness = 1.0 - len(defaults) / figures if figures else 1.0
    quality = {"source": str(directory), "completeness": completeness, "figures": figures,
               "defaults_used": len(defaults), "defaults": defaults}  # fmt: skip
    g.graph["data_quality"] = quality
    counts = {name: len(rows.rows) for name, rows in t.items() if rows is not None}
    return SupplyData(directory, g, last, dict(demand_of), completeness, figures, defaults, counts)


def _defaults_text() -> str:
    return ", ".join(f"{c}: {m}" for c, (_, m) in DEFAULTS.items())


def component_concentration(g: nx.DiGraph) -> list[dict[str, Any]]:
    """Per component (material type) bought from more than nothing: the HHI of its supplier
    countries, by capacity share (by count of sources where a capacity is unknown), on the
    DOJ/FTC 0-10,000 scale."""
    from .concentration import concentration_level, hhi

    by_material: dict[str, dict[str, float]] = {}
    unknown: set[str] = set()
    for _, a in g.nodes(data=True):
        if a.get("kind") != "material":
            continue
        cap = float(a["capacity"])
        by_material.setdefault(a["material"], {})
        if not math.isfinite(cap):
            unknown.add(a["material"])
        by_material[a["material"]][a["country"]] = by_material[a["material"]].get(a["country"], 0.0) + cap
    out = []
    for material, countries in sorted(by_material.items()):
        if material in unknown or sum(countries.values()) <= 0:
            counts: dict[str, float] = {}
            for _, a in g.nodes(data=True):
                if a.get("kind") == "material" and a["material"] == material:
                    counts[a["country"]] = counts.get(a["country"], 0.0) + 1.0
            countries, basis = counts, "count of sources (a capacity is unknown)"
        else:
            basis = "capacity"
        total = sum(countries.values())
        shares = {c: v / total for c, v in countries.items()}
        index = hhi(shares, unit="fraction")
        out.append({"component": material, "hhi": index, "level": concentration_level(index), "basis": basis,
                    "share_pct": {c: 100 * s for c, s in sorted(shares.items(), key=lambda kv: -kv[1])}})  # fmt: skip
    return out


def quality_of(network: Any) -> Mapping[str, Any] | None:
    """The data quality a network was built with (:meth:`SupplyData.quality`), if recorded."""
    graph = getattr(network, "graph", None)
    return graph.get("data_quality") if isinstance(graph, Mapping) else None
