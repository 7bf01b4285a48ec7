"""Monte Carlo: VaR/CVaR by hand, propagation by hand, correlation, seeds and convergence."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from silicio.supply import (
    BorderDelay,
    DisruptionModel,
    NetworkError,
    Pandemic,
    SiteOutages,
    compile_network,
    conditional_value_at_risk,
    demo_ecosystem,
    monte_carlo,
    value_at_risk,
)
from silicio.supply.montecarlo import _prepare, draw_outages, propagate


def test_var_cvar_by_hand():
    losses = np.arange(1, 101, dtype=float)  # 1, 2, ..., 100, equally likely
    # VaR_0.95 = the 95th smallest = 95; CVaR = 95 + mean((L - 95)+)/0.05 = 95 + (15/100)/0.05 = 98,
    # the mean of the worst 5 % (96..100).
    assert value_at_risk(losses, 0.95) == 95.0
    assert conditional_value_at_risk(losses, 0.95) == pytest.approx(98.0)
    assert value_at_risk(losses, 0.99) == 99.0
    assert conditional_value_at_risk(losses, 0.99) == pytest.approx(100.0)
    # Atoms: 90 % no loss, 10 % a loss of 10: VaR_0.95 = 10, CVaR_0.95 = 10; VaR_0.85 = 0,
    # CVaR_0.85 = 0 + (0.1 x 10) / 0.15 = 6.667 (Rockafellar-Uryasev, not the plain tail mean).
    atoms = np.array([0.0] * 90 + [10.0] * 10)
    assert value_at_risk(atoms, 0.95) == 10.0 and conditional_value_at_risk(atoms, 0.95) == pytest.approx(
        10.0
    )
    assert value_at_risk(atoms, 0.85) == 0.0
    assert conditional_value_at_risk(atoms, 0.85) == pytest.approx(1.0 / 0.15)
    with pytest.raises(ValueError, match="level"):
        value_at_risk(losses, 1.0)


def chain(capacity: float = 100.0) -> nx.DiGraph:
    """Product P (demand 100/week, profit 2/unit, 2 weeks of stock) from A or B (one unit each)."""
    g = nx.DiGraph()
    g.add_node("P", demand=100.0, profit=2.0, capacity=math.inf, country="MX")
    g.add_node("A", capacity=capacity, country="MX")
    g.add_node("B", capacity=capacity, country="JP")
    g.add_edge("A", "P", material="m", units=1.0)
    g.add_edge("B", "P", material="m", units=1.0)
    return g


def lost(g: nx.DiGraph, outage: dict[str, float], delay: float = 0.0, cover_p: float = 0.0) -> float:
    g.nodes["P"]["inventory"] = cover_p * 100.0
    net = compile_network(g)
    weeks = np.zeros((1, net.n))
    for node, w in outage.items():
        weeks[0, net.index(node)] = w
    units, profit = propagate(net, _prepare(net), weeks, np.array([delay]), 52.0)
    assert profit[0] == pytest.approx(2.0 * units[0])
    return float(units[0])


def test_propagation_by_hand():
    # Each source alone can carry all 100/week (capacity 100, 50 taken now, 50 spare): one down, nothing lost.
    assert lost(chain(100.0), {"A": 4.0}) == 0.0
    # Both down, A 4 weeks and B 2: nothing for 2 weeks, then B carries all -> 2 weeks x 100 = 200.
    assert lost(chain(100.0), {"A": 4.0, "B": 2.0}) == pytest.approx(200.0)
    # Capacity 75 each: alone a source covers (75 - 50 + 50)/100 = 75 %. A 4 weeks: 4 x 25 % = 1 week.
    assert lost(chain(75.0), {"A": 4.0}) == pytest.approx(100.0)
    # A 4, B 2: 2 weeks with nothing, then 2 weeks at 75 %: 2 + 0.5 = 2.5 weeks -> 250 units.
    assert lost(chain(75.0), {"A": 4.0, "B": 2.0}) == pytest.approx(250.0)
    # With 2 weeks of stock at P the 2.5 weeks short shrink to 0.5: 50 units.
    assert lost(chain(75.0), {"A": 4.0, "B": 2.0}, cover_p=2.0) == pytest.approx(50.0)
    # P itself down 3 weeks: 300. A customs delay of 1.5 weeks on B (JP -> MX) with A down 4 weeks:
    # B is up after 1.5 weeks at 75 % -> 1.5 + 2.5 x 0.25 = 2.125 weeks.
    assert lost(chain(100.0), {"P": 3.0}) == pytest.approx(300.0)
    assert lost(chain(75.0), {"A": 4.0}, delay=1.5) == pytest.approx(212.5)


def small_net():
    g = nx.DiGraph()
    g.add_node("P", demand=10.0, profit=1.0, country="MX", region="MX")
    for i in range(40):
        g.add_node(f"S{i}", capacity=math.inf, country="MX", region="MX")
        g.add_edge(f"S{i}", "P", material=f"m{i}", units=1.0)
    return compile_network(g)


@pytest.mark.parametrize(("rho", "expected"), [(0.0, 0.2 * 0.2), (1.0, 0.2)])
def test_regional_correlation(rho, expected):
    # Two nodes of one region, each out with p = 0.2: independent -> both out 0.04 of the time;
    # fully correlated (the regional shock alone) -> 0.2.
    net = small_net()
    model = DisruptionModel(
        site=SiteOutages(probability=0.2, regional_correlation=rho), pandemic=None, border=None
    )
    weeks, _ = draw_outages(net, model, np.random.default_rng(1), 40_000)
    down = weeks > 0
    a, b = net.index("S0"), net.index("S1")
    assert down[:, a].mean() == pytest.approx(0.2, abs=0.01)
    assert (down[:, a] & down[:, b]).mean() == pytest.approx(expected, abs=0.01)


def test_pandemic_and_border_rates():
    net = small_net()
    model = DisruptionModel(site=None, pandemic=Pandemic(probability=0.1, node_probability=0.5),
                            border=BorderDelay(probability=0.3))  # fmt: skip
    weeks, delay = draw_outages(net, model, np.random.default_rng(2), 20_000)
    assert (delay > 0).mean() == pytest.approx(0.3, abs=0.015)
    assert (weeks > 0).mean() == pytest.approx(0.1 * 0.5, abs=0.01)  # in a pandemic, half the nodes
    assert weeks.max() <= model.horizon_weeks


@pytest.fixture(scope="module")
def demo_net():
    return compile_network(demo_ecosystem(seed=0).network())


def test_reproducible_by_seed_and_workers(demo_net):
    a = monte_carlo(demo_net, 3000, seed=7, chunk_size=500)
    b = monte_carlo(demo_net, 3000, seed=7, chunk_size=500)
    np.testing.assert_array_equal(a.lost_profit, b.lost_profit)
    c = monte_carlo(demo_net, 3000, seed=8, chunk_size=500)
    assert not np.array_equal(a.lost_profit, c.lost_profit)
    d = monte_carlo(demo_net, 3000, seed=7, chunk_size=500, workers=2)
    np.testing.assert_array_equal(a.lost_profit, d.lost_profit)
    np.testing.assert_array_equal(a.lost_units, d.lost_units)


def test_converges_as_scenarios_grow(demo_net):
    small = monte_carlo(demo_net, 2_000, seed=3).summary()
    large = monte_carlo(demo_net, 8_000, seed=4).summary()
    # The standard error of the mean falls as 1/sqrt(N): half as large at 4N.
    ratio = large["lost_profit_se"] / small["lost_profit_se"]
    assert 0.35 < ratio < 0.65
    # The two estimates agree within their combined standard error (4 sigma).
    gap = abs(large["lost_profit_mean"] - small["lost_profit_mean"])
    assert gap < 4 * math.hypot(large["lost_profit_se"], small["lost_profit_se"])
    assert large["lost_profit_cvar_0.99"] >= large["lost_profit_var_0.99"] >= large["lost_profit_var_0.95"]


def test_bad_models():
    with pytest.raises(NetworkError, match="probability"):
        DisruptionModel(site=SiteOutages(probability=1.5))
    with pytest.raises(NetworkError, match="horizon_weeks"):
        DisruptionModel(horizon_weeks=0)
    with pytest.raises(NetworkError, match="scenarios"):
        monte_carlo(small_net(), 0)
