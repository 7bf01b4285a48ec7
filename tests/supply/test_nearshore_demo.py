"""Nearshoring on a hand-made registry, and the demo ecosystem's consistency with the trace demo."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from silicio.supply import Registry, demo_ecosystem, nearshore
from silicio.supply.registry import MSME_CLASSES, table_from_rows
from silicio.trace import demo_master_data
from silicio.trace.model import BomLine, MasterData, Product, RoutingStep, Site

DAY = dt.date(2025, 6, 30)


def fixture_case():
    """A unit assembled in Mexico (50 USD) from a Japanese resin (30 USD) and a Taiwanese frame (20 USD)."""
    site = Site("MX1", "Planta", "MX", "Jalisco")
    product = Product("X1", "A", "fixture", "8542.39", 5.0, 5.0, price=120.0,
                      routing=(RoutingStep(10, "ASSY", "assembly", "MX1", 50.0, "unit"),),
                      bom=(BomLine("ASSY", "resin", "Resin JP", "JP", "3907.30", 2, 15.0),
                           BomLine("ASSY", "frame", "Frame TW", "TW", "8542.90", 1, 20.0)))  # fmt: skip
    master = MasterData({"MX1": site}, {product.key: product})
    orgs = [("resin-jp", "Resin JP", "JP", "large"), ("frame-tw", "Frame TW", "TW", "large"),
            ("a", "Resinas A", "MX", "small"), ("b", "Resinas B", "MX", "medium"), ("c", "Resinas C", "MX", "micro"),
            ("d", "Resinas D", "MX", "small"), ("e", "Resinas US", "US", "small")]  # fmt: skip
    registry = Registry(
        organisations=table_from_rows("organisations", [
            {"org_id": o, "name": n, "kind": "materials", "size_class": s, "country": c} for o, n, c, s in orgs]),
        sites=table_from_rows("sites", [{"site_id": o.upper(), "org_id": o, "country": c} for o, _, c, _ in orgs]),
        capabilities=table_from_rows("capabilities", [
            # need: 2 x 100 units/week = 200 per week of resin
            {"org_id": "a", "site_id": "A", "type": "hs_code", "value": "3907.30", "capacity_per_week": 300,
             "lead_time_weeks": 4},
            {"org_id": "b", "site_id": "B", "type": "hs_code", "value": "3907.30", "capacity_per_week": 250,
             "lead_time_weeks": 2},
            {"org_id": "c", "site_id": "C", "type": "material", "value": "resin", "capacity_per_week": 150,
             "lead_time_weeks": 1},
            {"org_id": "d", "site_id": "D", "type": "hs_code", "value": "3907.30", "capacity_per_week": 900,
             "lead_time_weeks": 1},
            {"org_id": "e", "site_id": "E", "type": "hs_code", "value": "3907.30", "capacity_per_week": 900,
             "lead_time_weeks": 1},
        ]),
        certifications=table_from_rows("certifications", [
            {"org_id": "a", "standard": "ISO 9001", "expires": "2026-01-01"},
            {"org_id": "b", "standard": "ISO 9001", "expires": "2027-01-01"},
            {"org_id": "c", "standard": "ISO 9001", "expires": "2027-01-01"},
            {"org_id": "d", "standard": "ISO 9001", "expires": "2025-01-01"},  # expired
            {"org_id": "e", "standard": "ISO 9001", "expires": "2027-01-01"},
        ]),
    )  # fmt: skip
    return master, registry


def test_ranking_and_reasons():
    master, registry = fixture_case()
    report = nearshore(master, registry, {"X1": 100}, as_of=DAY)
    resin = report.candidates.filter(pl.col("input") == "resin").sort("rank")
    # Qualified: B (2 weeks) before A (4 weeks); then, both at 1 week, D (certificate lapsed, capacity
    # 900 = 4.5x the need) before C (short of capacity, 0.75x). E is in the US: not local.
    assert resin["org_id"].to_list() == ["b", "a", "d", "c"]
    assert resin["qualified"].to_list() == [True, True, False, False]
    assert resin["reasons"][2] == "no valid ISO 9001"
    assert resin["reasons"][3] == "capacity 150.0/week < need 200.0/week"
    assert resin["headroom"][0] == pytest.approx(250 / 200)
    # Automotive: IATF 16949 required, which nobody holds -> the resin becomes a gap.
    auto = nearshore(master, registry, {"X1": 100}, as_of=DAY, automotive=["X1"])
    assert auto.moves.is_empty()
    assert "no valid IATF 16949" in auto.gaps.filter(pl.col("input") == "resin")["reason"][0]


def test_national_content_change_and_gaps():
    master, registry = fixture_case()
    report = nearshore(master, registry, {"X1": 100}, as_of=DAY)
    move = report.moves.row(0, named=True)
    # Before: 50 of 100 USD Mexican = 50 %; with the 30 USD resin bought in Mexico: 80 %.
    assert (move["input"], move["to_org_id"]) == ("resin", "b")
    assert move["national_content_before_pct"] == pytest.approx(50.0)
    assert move["national_content_after_pct"] == pytest.approx(80.0)
    # Imports before: JP 30, TW 20 -> 60 %, 40 % -> HHI 5200; after: only TW -> 10,000.
    assert move["import_hhi_before"] == pytest.approx(5200)
    assert move["import_hhi_after"] == pytest.approx(10_000)
    gap = report.gaps.row(0, named=True)
    assert (gap["input"], gap["local_candidates"], gap["reason"]) == (
        "frame",
        0,
        "no local supplier has the capability",
    )


def test_demo_nearshore_gap_list():
    eco = demo_ecosystem(seed=0)
    report = nearshore(eco.master, eco.registry, eco.demand, as_of=eco.as_of, automotive=eco.automotive)
    gaps = set(zip(report.gaps["product"], report.gaps["input"], strict=True))
    # No Mexican company of the demo makes silicon wafers (HS 3818): a gap for both fab products.
    assert {("SLC-TV100", "Prime Si wafer 200 mm, P<100>"), ("SLC-PM300A", "Epi Si wafer 200 mm")} <= gaps
    # Alambres Finos de Chihuahua's IATF 16949 lapsed on 2025-01-31: no automotive gold wire.
    assert ("SLC-PM300A", "Gold bond wire 25 um (m)") in gaps
    assert report.moves["national_content_after_pct"].gt(report.moves["national_content_before_pct"]).all()


def test_demo_ecosystem_matches_the_trace_demo():
    eco = demo_ecosystem(seed=0)
    reg, md = eco.registry, demo_master_data()
    assert reg.organisations.height >= 36  # several dozen
    for code, site in md.sites.items():  # the trace demo's sites, same codes and countries
        row = reg.sites.filter(pl.col("site_id") == code).row(0, named=True)
        assert (row["country"], reg.organisation(row["org_id"])["name"]) == (site.country, site.company)
    for product in md.products.values():
        for line in product.bom:  # every BOM supplier registered by the same name, with that material
            org = reg.org_id_of(line.supplier)
            assert org is not None, line.supplier
            caps = reg.capabilities.filter((pl.col("org_id") == org) & (pl.col("value") == line.material))
            assert caps.height == 1
    local_msme = reg.organisations.filter(
        (pl.col("country") == "MX") & pl.col("size_class").is_in(MSME_CLASSES)
    )
    for state in ("Querétaro", "Jalisco", "Nuevo León", "Chihuahua", "Baja California"):
        assert local_msme.filter(pl.col("state") == state).height >= 2, state
    assert {"TW", "MY", "JP", "US", "CN", "KR"} <= set(reg.organisations["country"].to_list())


def test_demo_deterministic_by_seed():
    a, b, c = demo_ecosystem(seed=0), demo_ecosystem(seed=0), demo_ecosystem(seed=1)
    for name in ("sites", "capabilities", "certifications", "requests"):
        assert getattr(a.registry, name).equals(getattr(b.registry, name))
    assert not a.registry.capabilities.equals(c.registry.capabilities)
