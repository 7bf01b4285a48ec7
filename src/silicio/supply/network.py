"""The multi-tier supply network: a directed graph from materials through routing steps to
finished products, built from the trace master data (routing, BOM, sites) and the supplier
registry (capacities, lead times, times to recover), and the risk views on it: single-source
materials and steps, country concentration, critical (longest lead-time) paths.

Nodes (``networkx.DiGraph``), edges run from supplier to consumer:

========  =========================================================================================
material  ``ORG/MATERIAL``: one supplier's output of one material (shared by every product that
          uses it); tier 2+ of the product
step      ``PART/STEP``: one routing step of one product at its site; the product's last step
          is its *product node* (a sink, with ``demand`` per week and ``profit`` per unit)
========  =========================================================================================

Node attributes: ``kind``, ``label``, ``facility`` (the site or supplier a disruption hits),
``org_id``, ``country``, ``state``, ``region``, ``capacity`` (per week, in the node's own units,
``inf`` when unknown), ``inventory`` (units on hand), ``ttr`` (weeks), ``lead_time`` (weeks),
``demand`` and ``profit`` (product nodes). Edge attributes: ``material`` (the material type
``k``) and ``units`` (``r_kj``, units of the parent per unit of the child).

Any graph with these attributes works with :mod:`.stress` and :mod:`.montecarlo`; the
benchmark's synthetic networks are built that way (:func:`silicio.supply.demo.synthetic_network`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import polars as pl

from .concentration import hhi, shares_pct
from .registry import Registry

if TYPE_CHECKING:  # the trace package is imported where it is used: workers of the LP do without it
    from silicio.trace.model import MasterData, Product

#: Time to recover assumed for a facility whose registry record gives none (weeks).
DEFAULT_TTR_WEEKS = 4.0


class NetworkError(ValueError):
    """A network that cannot be analysed: the message names the node or edge and the attribute."""


# -- building -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alternate:
    """An approved second source: ``org_id`` may supply ``material`` to ``product``'s ``step``."""

    product: str
    step: str
    material: str
    org_id: str


def _capability(
    registry: Registry, org_id: str | None, site_id: str | None, type_: str, value: str
) -> dict | None:
    caps = registry.capabilities.filter((pl.col("type") == type_) & (pl.col("value") == value))
    if site_id is not None:
        rows = caps.filter(pl.col("site_id") == site_id)
    else:
        rows = caps.filter(pl.col("org_id") == org_id)
    return rows.row(0, named=True) if len(rows) else None


def _site_row(registry: Registry, site_id: str | None) -> dict | None:
    if site_id is None:
        return None
    rows = registry.sites.filter(pl.col("site_id") == site_id)
    return rows.row(0, named=True) if len(rows) else None


def _figure(g: nx.DiGraph, value: Any, default: float, column: str, what: str) -> float:
    """A registry figure, or ``default`` recorded in ``g.graph["data_quality"]`` (never silently)."""
    quality = g.graph.setdefault("data_quality", {"source": "registry", "figures": 0, "defaults": []})
    quality["figures"] += 1
    if value is None or (isinstance(value, float) and math.isnan(value)):
        quality["defaults"].append({"file": "capabilities" if column != "ttr_weeks" else "sites", "column": column,
                                    "for": what, "value": default, "meaning": _MEANING[column],
                                    "why": "the registry has no value"})  # fmt: skip
        return default
    return float(value)


_MEANING = {"capacity_per_week": "unlimited capacity", "lead_time_weeks": "no lead time",
            "ttr_weeks": f"{DEFAULT_TTR_WEEKS:g} weeks to recover"}  # fmt: skip


def _finish_quality(g: nx.DiGraph) -> None:
    quality = g.graph.setdefault("data_quality", {"source": "registry", "figures": 0, "defaults": []})
    quality["defaults_used"] = len(quality["defaults"])
    quality["completeness"] = (
        1.0 - len(quality["defaults"]) / quality["figures"] if quality["figures"] else 1.0
    )


def build_network(master: MasterData, registry: Registry, demand: Mapping[str, float],
                  inventory_weeks: float | Mapping[str, float] = 2.0,
                  alternates: Sequence[Alternate] = ()) -> nx.DiGraph:  # fmt: skip
    """The supply network of the products in ``demand`` (part number -> units per week).

    Each BOM line's supplier is looked up in ``registry`` by name (as the BOM names it); its
    capability row for the material gives capacity and lead time, its site the time to
    recover. Step capacities come from the ``process`` capabilities of the step's site.
    ``inventory_weeks`` (one figure, or per node id) of each node's required weekly rate is
    on hand at the node.
    """
    g = nx.DiGraph()
    for pn, weekly in demand.items():
        product = master.product(pn)
        if not (isinstance(weekly, int | float) and math.isfinite(weekly) and weekly > 0):
            raise NetworkError(f"demand of {pn} must be a positive number of units per week, got {weekly!r}")
        _add_product(g, master, registry, product, float(weekly))
    for alt in alternates:
        product = master.product(alt.product)
        step_id = f"{product.part_number}/{alt.step}"
        lines = [m for m in product.bom if m.step == alt.step and m.material == alt.material]
        if step_id not in g or not lines:
            raise NetworkError(f"alternate {alt}: no BOM line {alt.material!r} at {step_id}")
        org = registry.organisation(alt.org_id)
        _add_material(
            g, registry, step_id, lines[0], alt.org_id, org["name"], org["country"], org.get("state")
        )
    set_inventory(g, inventory_weeks)
    _finish_quality(g)
    return g


def _add_product(
    g: nx.DiGraph, master: MasterData, registry: Registry, product: Product, weekly: float
) -> None:
    pn = product.part_number
    good = product.good_die_per_wafer()
    previous = None
    for step in product.routing:
        site = master.sites[step.site]
        node = f"{pn}/{step.code}"
        site_row = _site_row(registry, step.site)
        cap = _capability(registry, None, step.site, "process", step.kind)
        g.add_node(node, kind="step", label=f"{pn} {step.name or step.kind}", step_kind=step.kind,
                   basis=step.cost_basis, facility=step.site, org_id=site_row["org_id"] if site_row else None,
                   country=site.country, state=site.state, region=site.country,
                   capacity=_figure(g, cap and cap["capacity_per_week"], math.inf, "capacity_per_week", node),
                   lead_time=_figure(g, cap and cap["lead_time_weeks"], 0.0, "lead_time_weeks", node),
                   ttr=_figure(g, site_row and site_row["ttr_weeks"], DEFAULT_TTR_WEEKS, "ttr_weeks", node),
                   inventory=0.0, demand=0.0, profit=0.0, material=node)  # fmt: skip
        if previous is not None:
            prev_basis = g.nodes[previous]["basis"]
            units = 1.0 / good if (prev_basis, step.cost_basis) == ("wafer", "unit") else 1.0
            g.add_edge(previous, node, material=previous, units=units)
        previous = node
        for line in product.bom:
            if line.step != step.code:
                continue
            org_id = registry.org_id_of(line.supplier)
            if org_id is None:
                raise NetworkError(f"{pn}/{step.code}: BOM supplier {line.supplier!r} is not in the registry")
            org = registry.organisation(org_id)
            _add_material(g, registry, node, line, org_id, line.supplier, line.country, org.get("state"))
    if previous is None:
        raise NetworkError(f"product {pn}: no routing steps")
    from silicio.trace.model import unit_cost

    g.nodes[previous].update(demand=weekly, profit=float(product.price - unit_cost(product, master.sites)),
                             product=pn)  # fmt: skip


def _add_material(g: nx.DiGraph, registry: Registry, step_node: str, line, org_id: str, name: str,
                  country: str, state: str | None) -> None:  # fmt: skip
    node = f"{org_id}/{line.material}"
    cap = _capability(registry, org_id, None, "material", line.material)
    site_row = _site_row(registry, cap["site_id"]) if cap else None
    if node not in g:
        g.add_node(node, kind="material", label=f"{line.material} ({name})", facility=cap["site_id"] if cap else org_id,
                   org_id=org_id, country=site_row["country"] if site_row else country,
                   state=(site_row["state"] if site_row else state) or "", region=site_row["country"] if site_row else country,
                   capacity=_figure(g, cap and cap["capacity_per_week"], math.inf, "capacity_per_week", node),
                   lead_time=_figure(g, cap and cap["lead_time_weeks"], 0.0, "lead_time_weeks", node),
                   ttr=_figure(g, site_row and site_row["ttr_weeks"], DEFAULT_TTR_WEEKS, "ttr_weeks", node),
                   inventory=0.0, demand=0.0, profit=0.0, material=line.material, hs_code=line.hs_code)  # fmt: skip
    basis = g.nodes[step_node]["basis"]
    units = line.quantity
    if (line.basis, basis) == ("wafer", "unit"):
        raise NetworkError(f"{step_node}: material {line.material!r} is per wafer at a per-unit step")
    g.add_edge(node, step_node, material=line.material, units=units)


def required_rates(g: nx.DiGraph) -> dict[str, float]:
    """Units per week each node must supply to meet the products' demand: the demand, exploded
    through the BOM (``units``; the gross-requirements explosion of MRP, Orlicky, *Material
    Requirements Planning*, 1975), split among the sources of a material by their capacity."""
    rate = {n: float(g.nodes[n].get("demand", 0.0)) for n in g}
    for j in reversed(list(nx.topological_sort(g))):
        if rate[j] <= 0:
            continue
        for parents in material_groups(g, j).values():
            caps = np.array([g.nodes[i]["capacity"] for i in parents], dtype=float)
            share = capacity_shares(caps)
            for i, w in zip(parents, share, strict=True):
                rate[i] += rate[j] * g.edges[i, j]["units"] * w
    return rate


def capacity_shares(caps: np.ndarray) -> np.ndarray:
    """Shares of a material's sources by capacity (silicio's convention: an unknown, infinite
    capacity counts as ten times the largest known one)."""
    if np.all(np.isinf(caps)):
        return np.full(len(caps), 1.0 / len(caps))
    finite = np.where(np.isinf(caps), np.nanmax(np.where(np.isinf(caps), np.nan, caps)) * 10, caps)
    total = finite.sum()
    return finite / total if total > 0 else np.full(len(caps), 1.0 / len(caps))


def set_inventory(g: nx.DiGraph, weeks: float | Mapping[str, float]) -> None:
    """Inventory at each node = weeks of cover x its required weekly rate (:func:`required_rates`)."""
    rates = required_rates(g)
    for n in g:
        w = weeks.get(n, 0.0) if isinstance(weeks, Mapping) else weeks
        if not (math.isfinite(w) and w >= 0):
            raise NetworkError(f"inventory weeks of {n} must be a non-negative number, got {w!r}")
        g.nodes[n]["inventory"] = w * rates[n]
        g.nodes[n]["rate"] = rates[n]


def material_groups(g: nx.DiGraph, j: str) -> dict[str, list[str]]:
    """The material types ``N-(j)`` needed at ``j``, each with its sources ``P_jk``."""
    groups: dict[str, list[str]] = {}
    for i in g.predecessors(j):
        groups.setdefault(g.edges[i, j]["material"], []).append(i)
    return groups


def product_nodes(g: nx.DiGraph) -> list[str]:
    """The finished-product nodes ``V``: the sinks (no children)."""
    return [n for n in g if g.out_degree(n) == 0]


# -- risk views -----------------------------------------------------------------------------------


def single_sources(g: nx.DiGraph, registry: Registry | None = None) -> list[dict[str, Any]]:
    """Materials bought from one source only (``|P_jk| = 1``) and, with a registry, routing
    steps whose process no other registered site offers."""
    rows = []
    for j in g:
        for k, parents in material_groups(g, j).items():
            if len(parents) == 1 and g.nodes[parents[0]]["kind"] == "material":
                i = parents[0]
                rows.append({"type": "material", "consumer": j, "material": k, "source": i,
                             "org_id": g.nodes[i]["org_id"], "country": g.nodes[i]["country"]})  # fmt: skip
    if registry is not None:
        caps = registry.capabilities.filter(pl.col("type") == "process")
        for j, a in g.nodes(data=True):
            if a["kind"] != "step":
                continue
            sites = set(caps.filter(pl.col("value") == a["step_kind"])["site_id"].to_list()) - {a["facility"]}
            if not sites:
                rows.append({"type": "step", "consumer": j, "material": a["step_kind"], "source": j,
                             "org_id": a["org_id"], "country": a["country"]})  # fmt: skip
    return rows


def country_values(master: MasterData, products: Sequence[str] | None = None,
                   demand: Mapping[str, float] | None = None) -> dict[str, float]:  # fmt: skip
    """Value per country of the products' materials and steps (USD per week with ``demand``,
    else per unit summed over products), from :func:`silicio.origin.national_content`."""
    from silicio.origin import national_content

    names = list(products) if products else sorted({p.part_number for p in master.products.values()})
    values: dict[str, float] = {}
    for pn in names:
        weight = demand.get(pn, 0.0) if demand is not None else 1.0
        nc = national_content(master.product(pn), master.sites)
        for country, v in nc.by_country.items():
            values[country] = values.get(country, 0.0) + v * weight
    return values


def country_concentration(master: MasterData, products: Sequence[str] | None = None,
                          demand: Mapping[str, float] | None = None, home: str = "MX") -> dict[str, Any]:  # fmt: skip
    """HHI of all value by country and of the imported value by country of origin, and each
    country's share of imports (DOJ/FTC HHI on shares in percent)."""
    values = country_values(master, products, demand)
    imports = {c: v for c, v in values.items() if c != home and v > 0}
    return {
        "hhi_all": hhi(shares_pct(values), unit="percent"),
        "hhi_imports": hhi(shares_pct(imports), unit="percent") if imports else 0.0,
        "share_pct": shares_pct(values),
        "import_share_pct": shares_pct(imports) if imports else {},
        "home_share_pct": shares_pct(values).get(home, 0.0),
    }


def critical_paths(g: nx.DiGraph) -> dict[str, dict[str, Any]]:
    """For each product node, the chain of suppliers and steps with the longest total lead time
    (the critical path method over node durations: Kelley and Walker 1959)."""
    longest: dict[str, float] = {}
    best_parent: dict[str, str | None] = {}
    for n in nx.topological_sort(g):
        parents = list(g.predecessors(n))
        p = max(parents, key=lambda i: longest[i]) if parents else None
        longest[n] = g.nodes[n]["lead_time"] + (longest[p] if p is not None else 0.0)
        best_parent[n] = p
    out = {}
    for v in product_nodes(g):
        path, n = [], v
        while n is not None:
            path.append(n)
            n = best_parent[n]
        out[v] = {"lead_time_weeks": longest[v], "path": path[::-1]}
    return out


# -- the arrays the LP and Monte Carlo work on ----------------------------------------------------


@dataclass
class CompiledNetwork:
    """A network as arrays (picklable, for worker processes). ``groups`` lists the BOM
    constraints (node ``j``, material ``k``) as index arrays into the edges."""

    nodes: list[str]
    capacity: np.ndarray
    inventory: np.ndarray
    demand: np.ndarray
    profit: np.ndarray
    ttr: np.ndarray
    rate: np.ndarray
    products: np.ndarray  # node indices of V
    edge_src: np.ndarray
    edge_dst: np.ndarray
    edge_units: np.ndarray
    group_node: np.ndarray  # per BOM constraint: the consuming node j
    # CSR over the edges sorted by group: the edges of group g are group_edges[start[g] : start[g + 1]]
    group_start: np.ndarray
    group_edges: np.ndarray
    topo: np.ndarray  # node indices in topological order
    region: np.ndarray  # region code per node
    regions: list[str]
    country: list[str]
    facility: list[str]
    outage_prob: np.ndarray  # per node over the horizon; NaN where the model's default applies

    @property
    def n(self) -> int:
        return len(self.nodes)

    def index(self, node: str) -> int:
        try:
            return self.nodes.index(node)
        except ValueError:
            raise NetworkError(f"no node {node!r} in the network") from None


def compile_network(g: nx.DiGraph) -> CompiledNetwork:
    """Check ``g`` (a DAG whose sinks have demand and profit) and turn it into arrays."""
    if g.number_of_nodes() == 0:
        raise NetworkError("the network has no nodes")
    if not nx.is_directed_acyclic_graph(g):
        raise NetworkError(f"the network has a cycle: {nx.find_cycle(g)}")
    nodes = list(g)
    idx = {n: i for i, n in enumerate(nodes)}

    def attr(name: str, default: float | None = None) -> np.ndarray:
        out = np.empty(len(nodes))
        for i, n in enumerate(nodes):
            v = g.nodes[n].get(name, default)
            if v is None or not isinstance(v, int | float) or math.isnan(v) or v < 0:
                raise NetworkError(f"node {n!r}: {name} must be a non-negative number, got {v!r}")
            out[i] = v
        return out

    capacity, inventory, ttr = (
        attr("capacity", math.inf),
        attr("inventory", 0.0),
        attr("ttr", DEFAULT_TTR_WEEKS),
    )
    demand, profit = attr("demand", 0.0), attr("profit", 0.0)
    products = np.array([idx[n] for n in product_nodes(g)], dtype=np.int64)
    if np.any(demand[products] <= 0):
        bad = [nodes[i] for i in products if demand[i] <= 0]
        raise NetworkError(f"product node {bad[0]!r} (a node with no children) has no positive demand")
    edges = list(g.edges(data=True))
    for a, b, d in edges:
        u = d.get("units", 1.0)
        if not (isinstance(u, int | float) and math.isfinite(u) and u > 0):
            raise NetworkError(f"edge {a!r} -> {b!r}: units must be a positive number, got {u!r}")
    src = np.array([idx[a] for a, _, _ in edges], dtype=np.int64)
    dst = np.array([idx[b] for _, b, _ in edges], dtype=np.int64)
    units = np.array([float(d.get("units", 1.0)) for _, _, d in edges])
    keys: dict[tuple[int, str], int] = {}
    group_of_edge = np.empty(len(edges), dtype=np.int64)
    for e, (a, b, d) in enumerate(edges):
        key = (idx[b], str(d.get("material", a)))
        group_of_edge[e] = keys.setdefault(key, len(keys))
    order = np.argsort(group_of_edge, kind="stable")
    counts = np.bincount(group_of_edge, minlength=len(keys))
    group_start = np.concatenate([[0], np.cumsum(counts)])
    group_node = np.array([j for j, _ in keys], dtype=np.int64)
    rates = [g.nodes[n].get("rate") for n in nodes]
    rate = np.array(list(required_rates(g).values()) if any(r is None for r in rates) else rates, dtype=float)
    region_names = [str(g.nodes[n].get("region", g.nodes[n].get("country", ""))) for n in nodes]
    regions = sorted(set(region_names))
    return CompiledNetwork(
        nodes, capacity, inventory, demand, profit, ttr, rate, products, src, dst, units, group_node, group_start,
        order.astype(np.int64), np.array([idx[n] for n in nx.topological_sort(g)], dtype=np.int64),
        np.array([regions.index(r) for r in region_names], dtype=np.int64), regions,
        [str(g.nodes[n].get("country", "")) for n in nodes], [str(g.nodes[n].get("facility", n)) for n in nodes],
        np.array([float(g.nodes[n].get("outage_prob", math.nan)) for n in nodes]),
    )  # fmt: skip


def network_table(g: nx.DiGraph) -> pl.DataFrame:
    """The nodes and their attributes as a table (for the CLI and the dashboard)."""
    cols = ("kind", "label", "facility", "org_id", "country", "state", "capacity", "inventory", "ttr", "lead_time",
            "demand", "profit")  # fmt: skip
    return pl.DataFrame([{"node": n, **{c: a.get(c) for c in cols}} for n, a in g.nodes(data=True)],
                        infer_schema_length=None)  # fmt: skip
