"""The stress test (ordered, warm-started HiGHS LPs in threads) against the TTR/TTS LPs written
out again here from the formulation (Simchi-Levi et al., Interfaces 45(5) 2015; the transcription
in shared/data/supply/ttr_tts_formulation.md) and solved cold, one by one, with scipy's linprog."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from silicio.supply import stress_test, synthetic_network


class Reference:
    """The TTR and TTS LPs of one graph, written from the formulation: the BOM and flow rows once,
    the rows and bounds of a disruption per call."""

    def __init__(self, g, horizon: float = 520.0) -> None:
        self.g, self.horizon = g, horizon
        self.nodes = list(g)
        idx = {x: i for i, x in enumerate(self.nodes)}
        edges = list(g.edges(data=True))
        self.products = [x for x in self.nodes if g.out_degree(x) == 0]
        n, m = len(self.nodes), len(edges)
        self.n, self.m, self.v = n, m, len(self.products)
        self.cap = np.array([g.nodes[x]["capacity"] for x in self.nodes], dtype=float)
        self.inv = np.array([g.nodes[x]["inventory"] for x in self.nodes], dtype=float)
        self.idx = idx
        # BOM rows: u_j - y_ij / r_ij <= 0 for each (j, material); flow rows: sum_j y_ij - u_i <= s_i.
        groups: dict[tuple[str, str], list[int]] = {}
        out_edges: dict[str, list[int]] = {}
        for e, (a, b, d) in enumerate(edges):
            groups.setdefault((b, d["material"]), []).append(e)
            out_edges.setdefault(a, []).append(e)
        rows, rhs = [], []
        for (j, _), es in groups.items():
            row = np.zeros(n + m)
            row[idx[j]] = 1.0
            for e in es:
                row[n + e] = -1.0 / edges[e][2]["units"]
            rows.append(row)
            rhs.append(0.0)
        for i in self.nodes:
            if i in out_edges:
                row = np.zeros(n + m)
                row[idx[i]] = -1.0
                row[[n + e for e in out_edges[i]]] = 1.0
                rows.append(row)
                rhs.append(self.inv[idx[i]])
        self.shared, self.rhs = np.array(rows), rhs

    def __call__(self, node: str) -> tuple[float, float]:
        """(P(n), TTS) of disrupting ``node`` for its own TTR, each LP solved cold."""
        g, n, m, v, idx = self.g, self.n, self.m, self.v, self.idx
        t = g.nodes[node]["ttr"]
        # TTR: columns u, y, l; demand u_v + l_v >= d_v t - s_v.
        a_ub = [np.hstack([self.shared, np.zeros((len(self.rhs), v))])]
        b_ub = list(self.rhs)
        for k, p in enumerate(self.products):
            row = np.zeros(n + m + v)
            row[idx[p]] = -1.0
            row[n + m + k] = -1.0
            a_ub.append(row[None, :])
            b_ub.append(-(g.nodes[p]["demand"] * t - self.inv[idx[p]]))
        bounds = [(0.0, 0.0 if x == node else self.cap[idx[x]] * t) for x in self.nodes] + [(0, None)] * (
            m + v
        )
        cost = np.concatenate([np.zeros(n + m), [g.nodes[p]["profit"] for p in self.products]])
        ttr = linprog(cost, A_ub=sp.csr_matrix(np.vstack(a_ub)), b_ub=b_ub, bounds=bounds, method="highs")
        assert ttr.status == 0
        # TTS: columns u, y, t; maximise t; u_v >= d_v t - s_v; u_j <= c_j t.
        a_ub = [np.hstack([self.shared, np.zeros((len(self.rhs), 1))])]
        b_ub = list(self.rhs)
        for p in self.products:
            row = np.zeros(n + m + 1)
            row[idx[p]] = -1.0
            row[-1] = g.nodes[p]["demand"]
            a_ub.append(row[None, :])
            b_ub.append(self.inv[idx[p]])
        for x in self.nodes:
            row = np.zeros(n + m + 1)
            row[idx[x]] = 1.0
            row[-1] = -self.cap[idx[x]]
            a_ub.append(row[None, :])
            b_ub.append(0.0)
        bounds = (
            [(0.0, 0.0 if x == node else None) for x in self.nodes] + [(0, None)] * m + [(0, self.horizon)]
        )
        cost = np.zeros(n + m + 1)
        cost[-1] = -1.0
        tts = linprog(cost, A_ub=sp.csr_matrix(np.vstack(a_ub)), b_ub=b_ub, bounds=bounds, method="highs")
        assert tts.status == 0
        value = -tts.fun
        return float(ttr.fun), math.inf if value >= self.horizon * (1 - 1e-9) else value


def expected_of(g) -> dict[str, tuple[float, float]]:
    reference = Reference(g)
    return {x: reference(x) for x in g}


def check_against_reference(expected: dict[str, tuple[float, float]], table) -> None:
    worst = max(impact for impact, _ in expected.values())
    assert table.height == len(expected)
    for row in table.iter_rows(named=True):
        impact, tts = expected[row["disruption"]]
        assert row["performance_impact"] == pytest.approx(impact, rel=1e-7, abs=1e-6), row["disruption"]
        assert row["tts_weeks"] == pytest.approx(tts, rel=1e-7, abs=1e-7), row["disruption"]
        assert row["rei"] == pytest.approx(impact / worst, abs=1e-9)
        assert row["flagged"] is (tts < row["ttr_weeks"])


@pytest.mark.parametrize("workers", [1, 2])
def test_stress_test_equals_cold_reference_lps(workers):
    g = synthetic_network(30, products=3, tiers=3, seed=7)
    check_against_reference(expected_of(g), stress_test(g, by="node", workers=workers))


@pytest.fixture(scope="module")
def random_200():
    """200 nodes, 6 products, 4 tiers: most disruptions outlast the horizon (the covering LPs
    find them), some last less than their TTR (their TTR LP is solved) and some are lossless
    with a finite TTS (no TTR LP)."""
    g = synthetic_network(200, products=6, tiers=4, seed=23)
    return g, expected_of(g)


@pytest.mark.parametrize("workers", [1, 2])
def test_random_200_node_network_equals_cold_reference_lps(random_200, workers):
    g, expected = random_200
    table = stress_test(g, by="node", workers=workers)
    tts = table["tts_weeks"].to_numpy()
    flagged = table["flagged"].to_numpy()
    # every path of the solver is taken on this network
    assert np.isinf(tts).sum() > 50 and flagged.sum() >= 5 and (np.isfinite(tts) & ~flagged).sum() >= 5
    check_against_reference(expected, table)


def test_workers_from_a_script_without_main_guard(tmp_path: Path):
    """A script calling with workers=2 at top level, no ``if __name__ == "__main__"``: runs."""
    script = tmp_path / "no_guard.py"
    script.write_text(
        textwrap.dedent("""
        from silicio.supply import monte_carlo, stress_test, synthetic_network
        g = synthetic_network(40, products=3, seed=1)
        print(stress_test(g, by="node", workers=2).height, monte_carlo(g, 400, workers=2, chunk_size=100).n)
    """)
    )
    src = Path(__file__).resolve().parents[2] / "src"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["40", "400"]


def test_joint_disruptions_with_closed_edges_equal_one_lp_pair_each():
    """Disruptions of several nodes and closed edges (facilities, regions, border crossings):
    the shortcuts (covering LPs, no TTR LP when TTS >= TTR) give what a TTR and a TTS LP solved
    for each disruption give (the plain path, checked against the cold LPs above)."""
    from silicio.supply import compile_network
    from silicio.supply.stress import Disruption, _Model

    net = compile_network(synthetic_network(200, products=6, tiers=4, seed=23))
    rng = np.random.default_rng(5)
    disruptions = []
    for k in range(120):
        nodes = tuple(int(i) for i in rng.choice(net.n, size=int(rng.integers(1, 4)), replace=False))
        edges = tuple(
            int(e) for e in rng.choice(len(net.edge_src), size=int(rng.integers(0, 3)), replace=False)
        )
        disruptions.append(Disruption(f"d{k}", nodes, float(rng.uniform(0.5, 12)), edges))
    table = stress_test(net, disruptions=disruptions, workers=2).sort("disruption")
    plain = _Model(net).solve(disruptions)
    expected = dict(zip([d.name for d in disruptions], plain, strict=True))
    tts = table["tts_weeks"].to_numpy()
    assert (
        np.isinf(tts).sum() > 20 and table["flagged"].sum() > 10 and (~table["flagged"].to_numpy()).sum() > 10
    )
    for row in table.iter_rows(named=True):
        impact, lost, survive = expected[row["disruption"]]
        assert row["performance_impact"] == pytest.approx(impact, rel=1e-7, abs=1e-6), row["disruption"]
        assert row["tts_weeks"] == pytest.approx(survive, rel=1e-7, abs=1e-7), row["disruption"]
        if impact > 0:
            assert row["lost_units"] == pytest.approx(lost, rel=1e-6, abs=1e-6)
