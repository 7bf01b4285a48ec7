"""Products, routings, BOMs and the cost roll-up, checked against numbers worked by hand."""

from __future__ import annotations

import math

import pytest

from silicio.trace import BomLine, MasterDataError, Product, RoutingStep, Site, cost_rollup, unit_cost
from silicio.trace.model import Qualification

SITES = {"MX1": Site("MX1", "Fab MX", "MX", "Querétaro"), "TW1": Site("TW1", "Foundry", "TW", "Hsinchu")}


def _product(**kw) -> Product:
    base = dict(part_number="P-1", revision="A", description="test", hs_code="8542.31", die_width=10.0,
                die_height=10.0, wafer_diameter=300.0, scribe=0.0, edge_exclusion=0.0, d0=0.0,
                routing=(RoutingStep(10, "FAB", "fab", "MX1", 640.0, "wafer", "8542.31", "wafer", True),
                         RoutingStep(20, "FT", "final_test", "MX1", 0.25, "unit")),
                bom=(BomLine("FAB", "wafer", "S", "JP", "3818.00", 1, 64.0, "wafer"),
                     BomLine("FT", "tray", "S", "MX", "3923.10", 2, 0.05, "unit")))  # fmt: skip
    base.update(kw)
    return Product(**base)


def test_gross_die_is_the_de_vries_worked_example():
    # 300 mm wafer, 10 x 10 mm die: pi 300^2 / 400 - pi 300 / sqrt(200) = 706.86 - 66.64 -> 640.
    p = _product()
    assert p.gross_die() == math.floor(math.pi * 300**2 / 400 - math.pi * 300 / math.sqrt(200)) == 640
    assert p.grid_die() >= p.gross_die() - 20  # the exact grid count is close to the formula


def test_cost_rollup_spreads_wafer_costs_over_good_dies():
    # D0 = 0: every die good, 640 per wafer. Fab 640 USD/wafer -> 1.00; wafer 64 USD -> 0.10;
    # test 0.25 per unit; trays 2 x 0.05 = 0.10. Total 1.45.
    p = _product()
    lines = cost_rollup(p, SITES)
    assert [(line.kind, line.step) for line in lines] == [("process", "FAB"), ("material", "FAB"),
                                                          ("process", "FT"), ("material", "FT")]  # fmt: skip
    assert [round(line.per_unit, 10) for line in lines] == [1.0, 0.1, 0.25, 0.1]
    assert unit_cost(p, SITES) == pytest.approx(1.45)


def test_yield_lowers_good_die_and_raises_cost():
    # Poisson yield at A = 1 cm^2, D0 = 0.5: exp(-0.5) = 0.6065; 640 x 0.6065 = 388.2 good dies.
    p = _product(d0=0.5, yield_model="poisson")
    assert p.die_yield() == pytest.approx(math.exp(-0.5))
    assert cost_rollup(p, SITES)[0].per_unit == pytest.approx(640 / (640 * math.exp(-0.5)))


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"hs_code": "85.42"}, "HS code must look like 8542"),
        ({"yield_model": "gauss"}, "yield_model must be one of"),
        (
            {"bom": (BomLine("ASSY", "wire", "S", "MX", "7108.13", 1, 1.0),)},
            "names step 'ASSY', not in the routing",
        ),
    ],
)
def test_bad_master_data_names_record_and_field(kw, message):
    with pytest.raises(MasterDataError, match=message):
        _product(**kw)


def test_bad_country_and_regime_are_refused():
    with pytest.raises(MasterDataError, match="country must be an ISO 3166 alpha-2 code"):
        BomLine("FAB", "wafer", "S", "Japan", "3818.00", 1, 1.0)
    with pytest.raises(MasterDataError, match="regime must be one of"):
        BomLine("FAB", "wafer", "S", "JP", "3818.00", 1, 1.0, regime="smuggled")


def test_unknown_site_is_named():
    p = _product(routing=(RoutingStep(10, "FAB", "fab", "NOWHERE", 1.0, "wafer"),), bom=())
    with pytest.raises(MasterDataError, match="unknown site 'NOWHERE'"):
        cost_rollup(p, SITES)


def test_qualification_window():
    from datetime import date

    q = Qualification("B1", "final_test", date(2024, 1, 1), date(2024, 12, 31))
    assert q.covers("final_test", date(2024, 6, 1))
    assert not q.covers("final_test", date(2025, 1, 1))
    assert not q.covers("assembly", date(2024, 6, 1))
