"""The network built from the trace master data, single sources, concentration, critical paths."""

from __future__ import annotations

import networkx as nx
import pytest

from silicio.supply import (
    NetworkError,
    build_network,
    country_concentration,
    critical_paths,
    demo_ecosystem,
    network_table,
    product_nodes,
    single_sources,
)
from silicio.trace.model import BomLine, MasterData, Product, RoutingStep, Site, unit_cost


@pytest.fixture(scope="module")
def eco():
    return demo_ecosystem(seed=0)


def test_demo_network_follows_the_master_data(eco):
    g = eco.network()
    assert nx.is_directed_acyclic_graph(g)
    assert sorted(product_nodes(g)) == ["SLC-MC200/PACK", "SLC-PM300A/PACK", "SLC-TV100/PACK"]
    for pn, weekly in eco.demand.items():
        product = eco.master.product(pn)
        last = f"{pn}/{product.routing[-1].code}"
        assert g.nodes[last]["demand"] == weekly
        assert g.nodes[last]["profit"] == pytest.approx(product.price - unit_cost(product, eco.master.sites))
        for step in product.routing:
            node = g.nodes[f"{pn}/{step.code}"]
            assert (node["facility"], node["country"]) == (step.site, eco.master.sites[step.site].country)
        for line in product.bom:  # every BOM line is an edge from the supplier it names
            org = eco.registry.org_id_of(line.supplier)
            edge = g.edges[f"{org}/{line.material}", f"{pn}/{line.step}"]
            assert (edge["material"], edge["units"]) == (line.material, line.quantity)
    # Sort of a wafer-basis step feeds a unit-basis step: 1/good die per wafer wafers per unit.
    tv = eco.master.product("SLC-TV100")
    assert g.edges["SLC-TV100/WS", "SLC-TV100/BUMP"]["units"] == pytest.approx(1 / tv.good_die_per_wafer())
    assert network_table(g).height == g.number_of_nodes()


def test_unknown_supplier_and_bad_demand(eco):
    with pytest.raises(NetworkError, match="demand of SLC-TV100"):
        build_network(eco.master, eco.registry, {"SLC-TV100": -5})
    registry = eco.registry.tables()
    registry["organisations"] = registry["organisations"].with_columns(
        registry["organisations"]["name"].str.replace("Shin-Kanto Silicon", "Renamed")
    )
    from silicio.supply import Registry

    with pytest.raises(NetworkError, match="BOM supplier 'Shin-Kanto Silicon' is not in the registry"):
        build_network(eco.master, Registry(**registry), {"SLC-TV100": 100})


def fixture_graph() -> nx.DiGraph:
    """P needs m1 from A or B, and m2 from C; C needs m3 from D. Lead times P 1, A 2, B 5, C 3, D 4."""
    g = nx.DiGraph()
    for n, lt, kind, country in (("P", 1, "step", "MX"), ("A", 2, "material", "MX"), ("B", 5, "material", "US"),
                                 ("C", 3, "material", "JP"), ("D", 4, "material", "JP")):  # fmt: skip
        g.add_node(
            n, lead_time=lt, kind=kind, org_id=n.lower(), country=country, demand=1.0 if n == "P" else 0.0
        )
    g.add_edge("A", "P", material="m1", units=1)
    g.add_edge("B", "P", material="m1", units=1)
    g.add_edge("C", "P", material="m2", units=1)
    g.add_edge("D", "C", material="m3", units=1)
    return g


def test_single_sources_on_fixture():
    rows = single_sources(fixture_graph())
    assert sorted((r["consumer"], r["material"], r["source"]) for r in rows) == [
        ("C", "m3", "D"),
        ("P", "m2", "C"),
    ]


def test_critical_path_on_fixture():
    # Paths into P: A-P 2+1 = 3, B-P 5+1 = 6, D-C-P 4+3+1 = 8: the critical one is D-C-P.
    paths = critical_paths(fixture_graph())
    assert paths["P"] == {"lead_time_weeks": 8, "path": ["D", "C", "P"]}


def test_country_concentration_by_hand():
    # One unit: a step in Mexico adding 50 USD, materials from Japan (30) and Taiwan (20).
    site = Site("MX1", "Planta", "MX", "Jalisco")
    product = Product("X1", "A", "fixture", "8542.39", 5.0, 5.0, price=120.0,
                      routing=(RoutingStep(10, "ASSY", "assembly", "MX1", 50.0, "unit"),),
                      bom=(BomLine("ASSY", "m-jp", "JP Co", "JP", "3907.30", 1, 30.0),
                           BomLine("ASSY", "m-tw", "TW Co", "TW", "8542.90", 1, 20.0)))  # fmt: skip
    master = MasterData({"MX1": site}, {product.key: product})
    conc = country_concentration(master)
    # All value: 50 % MX, 30 % JP, 20 % TW -> 2500 + 900 + 400 = 3800.
    assert conc["hhi_all"] == pytest.approx(3800)
    # Imports only: JP 60 %, TW 40 % -> 3600 + 1600 = 5200.
    assert conc["hhi_imports"] == pytest.approx(5200)
    assert conc["import_share_pct"] == pytest.approx({"JP": 60.0, "TW": 40.0})
    assert conc["home_share_pct"] == pytest.approx(50.0)


def test_demo_single_sources_include_the_epi_wafer(eco):
    rows = single_sources(eco.network(), eco.registry)
    materials = {(r["consumer"], r["material"]) for r in rows if r["type"] == "material"}
    assert ("SLC-PM300A/FAB", "Epi Si wafer 200 mm") in materials
    # The prime wafer of TV100 has an approved second source (Hanbit): not single-sourced.
    assert ("SLC-TV100/FAB", "Prime Si wafer 200 mm, P<100>") not in materials
