"""USMCA regional value content, de minimis, tariff shift, national content and 'Hecho en México',
as worked examples computed by hand from the definitions."""

from __future__ import annotations

from pathlib import Path

import pytest

from silicio.origin import (
    OriginError,
    RuleError,
    hecho_en_mexico,
    in_range,
    load_usmca_rules,
    national_content,
    rvc_net_cost,
    rvc_transaction_value,
    usmca_origin,
    within_de_minimis,
)
from silicio.trace import BomLine, Product, RoutingStep, Site, demo_master_data

SITES = {
    "QRO": Site("QRO", "Fab MX", "MX", "Querétaro"),
    "GDL": Site("GDL", "ATP MX", "MX", "Jalisco"),
    "HSC": Site("HSC", "Foundry", "TW", "Hsinchu"),
    "PEN": Site("PEN", "OSAT", "MY", "Penang"),
    "TX": Site("TX", "Fab US", "US", "Texas"),
}


def _product(routing, bom=(), price=10.0, hs="8542.31") -> Product:
    # 1 x 1 mm die, D0 = 0: every cost below is per unit, so values add up by hand.
    return Product("P-1", "A", "test IC", hs, 1.0, 1.0, 200.0, 0.0, 0.0, 0.0, "poisson", None, price,
                   tuple(routing), tuple(bom))  # fmt: skip


# -- Article 4.5 and 4.12, the formulas


def test_rvc_transaction_value_method():
    # (TV - VNM) / TV x 100 = (100 - 40) / 100 x 100 = 60 %
    assert rvc_transaction_value(100.0, 40.0) == pytest.approx(60.0)


def test_rvc_net_cost_method():
    # (NC - VNM) / NC x 100 = (80 - 40) / 80 x 100 = 50 %
    assert rvc_net_cost(80.0, 40.0) == pytest.approx(50.0)


def test_rvc_bad_input():
    with pytest.raises(OriginError, match="TV .* must be positive"):
        rvc_transaction_value(0.0, 0.0)
    with pytest.raises(OriginError, match="VNM must be a finite non-negative"):
        rvc_net_cost(10.0, -1.0)


def test_de_minimis_is_not_more_than_ten_percent():
    # 10 % of a 250 USD transaction value is 25 USD: 25 is within ("not more than"), 25.01 is not.
    assert within_de_minimis(25.0, 250.0)
    assert not within_de_minimis(25.01, 250.0)
    assert within_de_minimis(7.0, 50.0, max_pct=15.0)  # 15 % of 50 = 7.5


def test_hs_ranges():
    assert in_range("8542.31", "8541-8542") and in_range("8541.10", "8541-8542")
    assert not in_range("8543.70", "8541-8542")
    assert in_range("8542.33", "8542.31-8542.39") and not in_range("8542.90", "8542.31-8542.39")


# -- national content


def test_national_content_and_import_dependence():
    # MX steps 2.0 + 1.0, TW foundry 3.0, MX material 0.5, JP material 1.5: total 8.0.
    # National content = (2.0 + 1.0 + 0.5) / 8.0 = 43.75 %; TW 3.0 / 8.0 = 37.5 %, JP 18.75 %.
    p = _product(
        [RoutingStep(10, "FDY", "fab", "HSC", 3.0, "unit", "8542.31", "wafer", True),
         RoutingStep(20, "ASSY", "assembly", "GDL", 2.0, "unit", "8542.31", "package", True),
         RoutingStep(30, "FT", "final_test", "QRO", 1.0, "unit")],
        [BomLine("ASSY", "mold compound", "S", "JP", "3907.30", 1, 1.5),
         BomLine("ASSY", "die attach", "S", "MX", "3506.91", 1, 0.5)])  # fmt: skip
    nc = national_content(p, SITES)
    assert nc.total_value == pytest.approx(8.0)
    assert nc.pct == pytest.approx(43.75)
    assert nc.domestic_process == pytest.approx(3.0) and nc.domestic_materials == pytest.approx(0.5)
    assert [(r["country"], round(r["pct"], 4)) for r in nc.import_dependence()] == [
        ("TW", 37.5),
        ("JP", 18.75),
    ]


# -- USMCA origin


def test_foundry_die_assembled_in_mexico_shifts_and_gives_both_rvcs():
    # Foundry die (TW, unmounted 8542.31, 3.0) + JP mold compound 0.5 -> VNM 3.5.
    # MX assembly 2.0, MX test 1.0: NC = 6.5. TV = 10.
    # RVC(TV) = (10 - 3.5) / 10 = 65 %; RVC(NC) = (6.5 - 3.5) / 6.5 = 46.15 %.
    p = _product(
        [RoutingStep(10, "FDY", "fab", "HSC", 3.0, "unit", "8542.31", "wafer", True),
         RoutingStep(20, "ASSY", "assembly", "GDL", 2.0, "unit", "8542.31", "package", True),
         RoutingStep(30, "FT", "final_test", "QRO", 1.0, "unit")],
        [BomLine("ASSY", "mold compound", "S", "JP", "3907.30", 1, 0.5)])  # fmt: skip
    d = usmca_origin(p, SITES)
    assert d.vnm == pytest.approx(3.5) and d.nc == pytest.approx(6.5)
    assert d.rvc_tv_pct == pytest.approx(65.0)
    assert d.rvc_nc_pct == pytest.approx(300 / 6.5)
    die = d.inputs[0]
    assert die.country == "TW" and not die.mounted and die.tariff_shift
    assert die.rule_text.startswith("A change to a mounted chip")  # 8542.31 -> 8542.31, same subheading
    assert d.inputs[1].rule_text.startswith("A change to any other good")  # 3907.30 -> 8542.31
    assert d.originating and d.criterion == "B"


def _osat(price: float) -> Product:
    # MX fab 4.0 -> MY assembly 1.0 (comes back mounted, 8542.39, value 5.0) -> MX test 1.0.
    return _product(
        [RoutingStep(10, "FAB", "fab", "QRO", 4.0, "unit", "8542.39", "wafer", True),
         RoutingStep(20, "ASSY", "assembly", "PEN", 1.0, "unit", "8542.39", "package", True),
         RoutingStep(30, "FT", "final_test", "QRO", 1.0, "unit")], price=price, hs="8542.39")  # fmt: skip


def test_device_assembled_abroad_does_not_shift_and_exceeds_de_minimis():
    # Non-shifting material 5.0 against 10 % of TV 10.0 = 1.0: not originating.
    d = usmca_origin(_osat(10.0), SITES)
    assert d.inputs[0].mounted and d.inputs[0].tariff_shift is False
    assert d.not_shifting_value == pytest.approx(5.0) and d.de_minimis_limit == pytest.approx(1.0)
    assert not d.de_minimis_applied and not d.originating and d.criterion is None
    assert any("Article 4.12" in r for r in d.reasons)


def test_non_shifting_material_within_de_minimis_is_disregarded():
    # The same 5.0 against 10 % of TV 50.0 = 5.0: "not more than", so disregarded (Art. 4.12).
    d = usmca_origin(_osat(50.0), SITES)
    assert d.de_minimis_applied and d.originating and d.criterion == "B"
    assert d.rvc_tv_pct == pytest.approx(90.0)  # (50 - 5) / 50


def test_de_minimis_threshold_is_data(tmp_path):
    text = Path(load_usmca_rules().source).read_text(encoding="utf-8")
    custom = tmp_path / "usmca.toml"
    custom.write_text(text.replace("max_pct = 10.0", "max_pct = 50.0"), encoding="utf-8")
    rules = load_usmca_rules(custom)
    assert rules.de_minimis_pct == 50.0
    assert usmca_origin(_osat(10.0), SITES, rules).originating  # 5.0 <= 50 % of 10.0


def test_wholly_regional_materials_give_criterion_c():
    p = _product(
        [RoutingStep(10, "FAB", "fab", "TX", 3.0, "unit", "8542.31", "wafer", True),
         RoutingStep(20, "ASSY", "assembly", "GDL", 2.0, "unit", "8542.31", "package", True)],
        [BomLine("ASSY", "gold wire", "S", "MX", "7108.13", 1, 0.2)])  # fmt: skip
    d = usmca_origin(p, SITES)
    assert d.vnm == 0 and d.originating and d.criterion == "C"


def test_bad_rule_file_names_file_and_field(tmp_path):
    bad = tmp_path / "rules.toml"
    bad.write_text('[agreement]\nname = "x"\nregion = ["MX"]\n[rvc]\ntransaction_value_min_pct = 160\n'
                   'net_cost_min_pct = 50\n[de_minimis]\nmax_pct = 10\nbasis = "transaction_value"\n')  # fmt: skip
    with pytest.raises(RuleError, match=r"rules.toml: rvc.transaction_value_min_pct must be a percentage"):
        load_usmca_rules(bad)
    bad.write_text("not toml [")
    with pytest.raises(RuleError, match="not valid TOML"):
        load_usmca_rules(bad)


# -- the demo fab: three products, three outcomes


def test_demo_products_have_distinct_outcomes():
    md = demo_master_data()
    tv, mc, pm = (md.product(pn) for pn in ("SLC-TV100", "SLC-MC200", "SLC-PM300A"))
    o_tv, o_mc, o_pm = (usmca_origin(p, md.sites) for p in (tv, mc, pm))
    h_tv, h_mc, h_pm = (hecho_en_mexico(p, md.sites) for p in (tv, mc, pm))
    assert o_tv.originating and h_tv.qualifies and h_tv.claim == "made"
    assert o_mc.originating and not h_mc.qualifies  # shifts by mounting, but little Mexican value
    assert h_mc.national_content_pct < 50
    assert not o_pm.originating and not h_pm.qualifies  # assembled in Malaysia
    assert h_pm.national_content_pct > 50 and h_pm.last_substantial_transformation["country"] == "MY"
    pcts = sorted(national_content(p, md.sites).pct for p in (tv, mc, pm))
    assert pcts[1] - pcts[0] > 20 and pcts[2] - pcts[1] > 5
