"""Named scenarios on the hand network of test_stress.py, worked by hand."""

from __future__ import annotations

import pytest

from silicio.supply import NetworkError, Scenario, read_scenarios, run_scenarios
from tests.supply.test_stress import hand_network


def network():
    g = hand_network()
    for n, country in (("P", "MX"), ("S1", "US"), ("S2", "TW"), ("S3", "JP")):
        g.nodes[n].update(country=country, region=country, facility=f"site-{n}", org_id=f"org-{n}")
    return g


def row(scenario: Scenario) -> dict:
    return run_scenarios(network(), [scenario]).row(0, named=True)


def test_region_is_its_nodes():
    # Japan (S3) stops 3 weeks: the S3 disruption of test_stress: P(n) 2000, TTS 1.
    r = row(Scenario("japan", 3.0, regions=("JP",)))
    assert r["lost_profit"] == pytest.approx(2000.0)
    assert r["tts_weeks"] == pytest.approx(1.0) and r["flagged"] and r["nodes_stopped"] == 1


def test_crossing_closes_the_edges():
    # US -> MX closed 4 weeks: S1's shipments stop (its stock stays in the USA) -> A only from
    # S2: 80 x 4 = 320; lost = 400 - 50 - 320 = 30 units -> 300. TTS: 80 t + 50 = 100 t -> 2.5.
    r = row(Scenario("laredo", 4.0, crossings=(("US", "MX"),)))
    assert r["lost_profit"] == pytest.approx(300.0) and r["lost_units"] == pytest.approx(30.0)
    assert (
        r["tts_weeks"] == pytest.approx(2.5) and r["crossing_edges_closed"] == 1 and r["nodes_stopped"] == 0
    )


def test_site_and_demand_shock():
    # org-S3 fails: as Japan.
    assert row(Scenario("s3", 3.0, sites=("org-S3",)))["lost_profit"] == pytest.approx(2000.0)
    # Demand x 1.5 (150/week) for 2 weeks, nothing stops: P's capacity 150 x 2 = 300 plus 50 on
    # hand covers 300: A = 20 + (60 + 80) x 2 = 300, B/2 = (100 + 500)/2 = 300: nothing lost.
    # TTS: demand 150 t <= 50 + min(150 t, 20 + 140 t, 50 + 125 t): 150 t = 100 + 125 t -> t = 4.
    r = row(Scenario("boom", 2.0, demand_factor=1.5))
    assert r["lost_profit"] == pytest.approx(0.0, abs=1e-6) and r["tts_weeks"] == pytest.approx(4.0)
    # Capacity at half for 2 weeks: P makes <= 75 x 2 = 150 and 200 - 50 - 150 = 0 is lost
    # (A = 20 + 70 x 2 = 160, B/2 = 50 + 62.5 x 2 = 175 suffice).
    # TTS: 100 t <= 50 + min(75 t, 20 + 70 t, 50 + 62.5 t): the first binds, 25 t = 50 -> t = 2.
    r = row(Scenario("half", 2.0, capacity_factor=0.5))
    assert r["lost_profit"] == pytest.approx(0.0, abs=1e-6) and r["tts_weeks"] == pytest.approx(2.0)


def test_toml_file_and_errors(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[[scenario]]\nname = "japan"\nregion = "JP"\nweeks = 3\n\n'
                    '[[scenario]]\nname = "laredo"\ncrossing = ["US-MX"]\nweeks = 4\n')  # fmt: skip
    table = run_scenarios(network(), read_scenarios(path))
    assert table["lost_profit"].to_list() == pytest.approx([2000.0, 300.0])
    for text, message in [
        ('[[scenario]]\nname = "x"\nregion = "JP"\n', "'weeks'"),
        ('[[scenario]]\nweeks = 2\nregoin = "JP"\n', "unknown key.*regoin"),
        ('[[scenario]]\nweeks = 2\ncrossing = "USMX"\n', "FROM-TO"),
        ("[[scenario]]\nweeks = 2\n", "nothing happens"),
        ("weeks = ", "not valid TOML"),
    ]:
        path.write_text(text)
        with pytest.raises(NetworkError, match=message):
            read_scenarios(path)
    with pytest.raises(NetworkError, match="no site in region 'KR'"):
        run_scenarios(network(), [Scenario("korea", 2.0, regions=("KR",))])
    with pytest.raises(NetworkError, match="nothing is shipped from MX to US"):
        run_scenarios(network(), [Scenario("x", 2.0, crossings=(("MX", "US"),))])
