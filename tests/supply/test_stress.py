"""The TTR/TTS LPs on a network small enough to solve by hand."""

from __future__ import annotations

import math

import networkx as nx
import pytest

from silicio.supply import NetworkError, compile_network, disruption, stress_test


def hand_network() -> nx.DiGraph:
    """Product P (profit 10/unit, demand 100/week, 50 on hand, capacity 150/week) needs one unit
    of material A, from S1 (capacity 60/week, 20 on hand) or S2 (80/week, none on hand), and two
    units of material B, from S3 only (250/week, 100 on hand)."""
    g = nx.DiGraph()
    g.add_node("P", capacity=150, inventory=50, demand=100, profit=10, ttr=1)
    g.add_node("S1", capacity=60, inventory=20, ttr=4)
    g.add_node("S2", capacity=80, inventory=0, ttr=1.5)
    g.add_node("S3", capacity=250, inventory=100, ttr=3)
    g.add_edge("S1", "P", material="A", units=1)
    g.add_edge("S2", "P", material="A", units=1)
    g.add_edge("S3", "P", material="B", units=2)
    return g


# By hand. Over t weeks P can make u_P <= min(150 t, A available, B available / 2) and must
# ship 100 t, from u_P and its 50 on hand; the shortfall is lost at 10 per unit.
#
# S1 out, t = 4:  A = 20 (S1's stock) + 80 x 4 (S2) = 340; B/2 = (100 + 1000)/2 = 550; cap 600.
#                 u_P = 340, lost = 400 - 340 - 50 = 10 units -> P = 100.
#   TTS:  u_P = min(150 t, 20 + 80 t, 50 + 125 t) = 20 + 80 t for t >= 0.3; 20 + 80 t + 50 = 100 t
#         -> t = 3.5 < 4: flagged.
# S2 out, t = 1.5: A = 20 + 60 x 1.5 = 110 >= 150 - 50 = 100 needed -> nothing lost, P = 0.
#   TTS:  20 + 60 t + 50 = 100 t -> t = 1.75 > 1.5: not flagged.
# S3 out, t = 3:  B = 100 on hand -> u_P <= 50; lost = 300 - 50 - 50 = 200 units -> P = 2000.
#   TTS:  50 + 50 = 100 t -> t = 1 < 3: flagged.
# P out, t = 1:   u_P = 0; lost = 100 - 50 = 50 units -> P = 500.  TTS: 50 = 100 t -> 0.5.
# REI = P(n) / max P = 100/2000, 0, 1, 500/2000.
EXPECTED = {  # node: (TTR, TTS, lost units, P(n), REI, flagged)
    "S1": (4.0, 3.5, 10.0, 100.0, 0.05, True),
    "S2": (1.5, 1.75, 0.0, 0.0, 0.0, False),
    "S3": (3.0, 1.0, 200.0, 2000.0, 1.0, True),
    "P": (1.0, 0.5, 50.0, 500.0, 0.25, True),
}


def check(table, expected):
    assert sorted(table["disruption"].to_list()) == sorted(expected)
    for row in table.iter_rows(named=True):
        ttr, tts, lost, impact, rei, flagged = expected[row["disruption"]]
        assert row["ttr_weeks"] == ttr
        assert row["tts_weeks"] == pytest.approx(tts, abs=1e-7)
        assert row["lost_units"] == pytest.approx(lost, abs=1e-6)
        assert row["performance_impact"] == pytest.approx(impact, abs=1e-5)
        assert row["rei"] == pytest.approx(rei, abs=1e-9)
        assert row["flagged"] is flagged


def test_ttr_tts_by_hand():
    table = stress_test(hand_network())
    check(table, EXPECTED)
    assert table["disruption"].to_list()[0] == "S3"  # worst first


def test_same_answer_on_two_workers():
    check(stress_test(hand_network(), workers=2, chunk_size=1), EXPECTED)


def test_joint_disruption_of_both_sources():
    # S1 and S2 out together for 2 weeks: A = S1's 20 on hand, so u_P = 20; lost = 200 - 50 - 20 = 130
    # units -> 1300. TTS: 20 + 50 = 100 t -> 0.7.
    net = compile_network(hand_network())
    table = stress_test(net, disruptions=[disruption(net, ["S1", "S2"], ttr=2.0)])
    row = table.row(0, named=True)
    assert row["disruption"] == "S1+S2"
    assert row["performance_impact"] == pytest.approx(1300.0)
    assert row["tts_weeks"] == pytest.approx(0.7)
    assert row["rei"] == 1.0 and row["flagged"]


def test_survives_forever_with_an_unlimited_second_source():
    g = hand_network()
    g.nodes["S2"]["capacity"] = math.inf
    g.nodes["S3"]["capacity"] = math.inf
    g.nodes["P"]["capacity"] = math.inf
    g.add_node("S4", capacity=math.inf, inventory=0, ttr=2)
    g.add_edge("S4", "P", material="B", units=2)
    table = stress_test(g)
    # With S1 out, S2 and S3 (or S4) without limit keep P going: TTS unbounded, nothing lost.
    row = table.filter(table["disruption"] == "S1").row(0, named=True)
    assert row["tts_weeks"] == math.inf and row["performance_impact"] == 0.0 and not row["flagged"]


def test_facility_groups_nodes():
    g = hand_network()
    for n, f in (("S1", "plant-1"), ("S3", "plant-1"), ("S2", "plant-2"), ("P", "fab")):
        g.nodes[n]["facility"] = f
    table = stress_test(g, by="facility")
    row = table.filter(table["disruption"] == "plant-1").row(0, named=True)
    # S1 and S3 out for max(4, 3) = 4 weeks: B = 100 on hand -> u_P <= 50; lost 400 - 50 - 50 = 300.
    assert row["ttr_weeks"] == 4.0 and row["performance_impact"] == pytest.approx(3000.0)


def test_bad_networks():
    g = hand_network()
    g.add_edge("P", "S1", material="loop", units=1)
    with pytest.raises(NetworkError, match="cycle"):
        stress_test(g)
    g = hand_network()
    g.nodes["P"]["demand"] = 0
    with pytest.raises(NetworkError, match="no positive demand"):
        stress_test(g)
    g = hand_network()
    g.nodes["S1"]["capacity"] = -1
    with pytest.raises(NetworkError, match="S1.*capacity"):
        stress_test(g)
    g = hand_network()
    g.edges["S3", "P"]["units"] = 0
    with pytest.raises(NetworkError, match="units"):
        stress_test(g)
    with pytest.raises(NetworkError, match="by must be"):
        stress_test(hand_network(), by="country")
    with pytest.raises(NetworkError, match="no node"):
        disruption(compile_network(hand_network()), ["S9"], 1.0)
