"""Named what-if scenarios, from the command line or a TOML file: a region stops, a port or
customs crossing closes, a supplier fails, a pandemic-like demand shock; each evaluated with
the TTR and TTS LPs of :mod:`.stress` (lost units and profit over the scenario's weeks, and
how long the network lasts).

A TOML file holds one ``[[scenario]]`` table per scenario::

    [[scenario]]
    name = "Taiwan earthquake"
    region = ["TW"]            # countries (ISO alpha-2) or regions as sites.csv names them
    weeks = 12

    [[scenario]]
    name = "Laredo crossing closed"
    crossing = ["MX-US", "US-MX"]   # shipments from the first country to the second stop
    weeks = 2

    [[scenario]]
    name = "Mold supplier fails"
    site = ["OSK-MOLD"]        # site ids, or company names
    weeks = 10

    [[scenario]]
    name = "Pandemic"
    demand_factor = 1.3        # demand times 1.3 ...
    capacity_factor = 0.8      # ... while every site runs at 80 %
    weeks = 16

Kinds combine in one scenario (a region and a crossing together, say).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import polars as pl

from .network import CompiledNetwork, NetworkError, compile_network
from .stress import Disruption, _Model

_KEYS = {"name", "weeks", "region", "site", "crossing", "demand_factor", "capacity_factor"}


@dataclass(frozen=True)
class Scenario:
    """What stops, and for how long (module text)."""

    name: str
    weeks: float
    regions: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    crossings: tuple[tuple[str, str], ...] = ()
    demand_factor: float = 1.0
    capacity_factor: float = 1.0

    def __post_init__(self) -> None:
        if not (isinstance(self.weeks, int | float) and math.isfinite(self.weeks) and self.weeks > 0):
            raise NetworkError(f"scenario {self.name!r}: weeks must be a positive number, got {self.weeks!r}")
        if not (math.isfinite(self.demand_factor) and self.demand_factor > 0):
            raise NetworkError(f"scenario {self.name!r}: demand_factor must be a positive number, "
                               f"got {self.demand_factor!r}")  # fmt: skip
        if not (math.isfinite(self.capacity_factor) and 0 <= self.capacity_factor):
            raise NetworkError(f"scenario {self.name!r}: capacity_factor must be a non-negative number, "
                               f"got {self.capacity_factor!r}")  # fmt: skip
        if not (self.regions or self.sites or self.crossings or self.demand_factor != 1.0
                or self.capacity_factor != 1.0):  # fmt: skip
            raise NetworkError(f"scenario {self.name!r}: nothing happens in it; give a region, site, crossing, "
                               f"demand_factor or capacity_factor")  # fmt: skip


def parse_crossing(text: str, where: str = "crossing") -> tuple[str, str]:
    """``"MX-US"`` -> ("MX", "US"): shipments from Mexico into the USA."""
    parts = text.strip().upper().split("-")
    if len(parts) != 2 or not all(len(p) == 2 and p.isalpha() for p in parts):
        raise NetworkError(f"{where}: expected FROM-TO country codes such as MX-US, got {text!r}")
    return parts[0], parts[1]


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise NetworkError(f"{where}: expected a text or a list of texts, got {value!r}")


def scenario_from_mapping(spec: Mapping[str, Any], where: str) -> Scenario:
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise NetworkError(
            f"{where}: unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(_KEYS))}"
        )
    if "weeks" not in spec:
        raise NetworkError(f"{where}: 'weeks' (how long it lasts) is required")
    name = spec.get("name", where)
    numbers = {}
    for key in ("weeks", "demand_factor", "capacity_factor"):
        if key in spec:
            v = spec[key]
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise NetworkError(f"{where}: {key} must be a number, got {v!r}")
            numbers[key] = float(v)
    return Scenario(
        name=str(name),
        weeks=numbers["weeks"],
        regions=_strings(spec["region"], f"{where}.region") if "region" in spec else (),
        sites=_strings(spec["site"], f"{where}.site") if "site" in spec else (),
        crossings=tuple(
            parse_crossing(c, f"{where}.crossing") for c in _strings(spec.get("crossing", []), where)
        ),
        demand_factor=numbers.get("demand_factor", 1.0),
        capacity_factor=numbers.get("capacity_factor", 1.0),
    )


def read_scenarios(path: str | Path) -> list[Scenario]:
    """The ``[[scenario]]`` tables of a TOML file (module text)."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NetworkError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise NetworkError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(doc) - {"scenario"})
    specs = doc.get("scenario")
    if unknown or not isinstance(specs, list) or not specs:
        raise NetworkError(
            f"{path}: expected [[scenario]] tables (and nothing else), got {', '.join(doc) or 'none'}"
        )
    return [scenario_from_mapping(s, f"{path}: scenario {i}") for i, s in enumerate(specs, start=1)]


def _resolve(g: nx.DiGraph, net: CompiledNetwork, s: Scenario) -> tuple[list[int], list[int]]:
    nodes: set[int] = set()
    for region in s.regions:
        hit = [
            i
            for i, n in enumerate(net.nodes)
            if region in (g.nodes[n].get("region"), g.nodes[n].get("country"))
        ]
        if not hit:
            known = sorted({str(a.get("country")) for _, a in g.nodes(data=True)}
                           | {str(a.get("region")) for _, a in g.nodes(data=True)})  # fmt: skip
            raise NetworkError(
                f"scenario {s.name!r}: no site in region {region!r}; the network has {', '.join(known)}"
            )
        nodes.update(hit)
    for site in s.sites:
        hit = [
            i
            for i, n in enumerate(net.nodes)
            if site in (g.nodes[n].get("facility"), g.nodes[n].get("org_id"))
        ]
        if not hit:
            raise NetworkError(f"scenario {s.name!r}: no site or company {site!r} in the network")
        nodes.update(hit)
    edges: list[int] = []
    for a, b in s.crossings:
        hit = [e for e in range(len(net.edge_src))
               if net.country[net.edge_src[e]] == a and net.country[net.edge_dst[e]] == b]  # fmt: skip
        if not hit:
            raise NetworkError(f"scenario {s.name!r}: nothing is shipped from {a} to {b} in the network")
        edges.extend(hit)
    return sorted(nodes), sorted(set(edges))


def run_scenarios(g: nx.DiGraph, scenarios: Sequence[Scenario], horizon_weeks: float = 520.0) -> pl.DataFrame:
    """Lost units and profit over each scenario's weeks, and the time the network survives it."""
    base = compile_network(g)
    rows = []
    for s in scenarios:
        nodes, edges = _resolve(g, base, s)
        net = dataclasses.replace(base, demand=base.demand * s.demand_factor, capacity=base.capacity * s.capacity_factor,
                                  inventory=base.inventory.copy())  # fmt: skip
        model = _Model(net, horizon_weeks)
        ((impact, lost, tts),) = model.solve([Disruption(s.name, tuple(nodes), float(s.weeks), tuple(edges))])
        p = net.products
        rows.append({"scenario": s.name, "weeks": float(s.weeks), "nodes_stopped": len(nodes),
                     "crossing_edges_closed": len(edges), "demand_factor": s.demand_factor,
                     "capacity_factor": s.capacity_factor, "lost_units": lost, "lost_profit": impact,
                     "demand_units": float(np.sum(net.demand[p]) * s.weeks),
                     "tts_weeks": tts, "flagged": tts < s.weeks})  # fmt: skip
    return pl.DataFrame(rows)
