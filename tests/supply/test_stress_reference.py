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


def reference(g, node: str, horizon: float = 520.0) -> tuple[float, float]:
    """(P(n), TTS) of disrupting ``node`` for its own TTR: dense LPs built from the graph."""
    nodes = list(g)
    idx = {n: i for i, n in enumerate(nodes)}
    edges = list(g.edges(data=True))
    products = [n for n in nodes if g.out_degree(n) == 0]
    n, m, v = len(nodes), len(edges), len(products)
    t = g.nodes[node]["ttr"]
    cap = np.array([g.nodes[x]["capacity"] for x in nodes], dtype=float)
    inv = np.array([g.nodes[x]["inventory"] for x in nodes], dtype=float)
    # BOM rows: u_j - y_ij / r_ij <= 0 for each (j, material); flow rows: sum_j y_ij - u_i <= s_i.
    groups: dict[tuple[str, str], list[int]] = {}
    for e, (_, b, d) in enumerate(edges):
        groups.setdefault((b, d["material"]), []).append(e)
    rows, rhs = [], []
    for (j, _), es in groups.items():
        row = np.zeros(n + m)
        row[idx[j]] = 1.0
        for e in es:
            row[n + e] = -1.0 / edges[e][2]["units"]
        rows.append(row)
        rhs.append(0.0)
    for i in nodes:
        out = [e for e, (a, _, _) in enumerate(edges) if a == i]
        if out:
            row = np.zeros(n + m)
            row[idx[i]] = -1.0
            row[[n + e for e in out]] = 1.0
            rows.append(row)
            rhs.append(inv[idx[i]])
    shared = np.array(rows)
    # TTR: columns u, y, l; demand u_v + l_v >= d_v t - s_v.
    a_ub = [np.hstack([shared, np.zeros((len(rows), v))])]
    b_ub = list(rhs)
    for k, p in enumerate(products):
        row = np.zeros(n + m + v)
        row[idx[p]] = -1.0
        row[n + m + k] = -1.0
        a_ub.append(row[None, :])
        b_ub.append(-(g.nodes[p]["demand"] * t - inv[idx[p]]))
    bounds = [(0.0, 0.0 if x == node else cap[idx[x]] * t) for x in nodes] + [(0, None)] * (m + v)
    cost = np.concatenate([np.zeros(n + m), [g.nodes[p]["profit"] for p in products]])
    ttr = linprog(cost, A_ub=sp.csr_matrix(np.vstack(a_ub)), b_ub=b_ub, bounds=bounds, method="highs")
    assert ttr.status == 0
    # TTS: columns u, y, t; maximise t; u_v >= d_v t - s_v; u_j <= c_j t.
    a_ub = [np.hstack([shared, np.zeros((len(rows), 1))])]
    b_ub = list(rhs)
    for p in products:
        row = np.zeros(n + m + 1)
        row[idx[p]] = -1.0
        row[-1] = g.nodes[p]["demand"]
        a_ub.append(row[None, :])
        b_ub.append(inv[idx[p]])
    for x in nodes:
        row = np.zeros(n + m + 1)
        row[idx[x]] = 1.0
        row[-1] = -cap[idx[x]]
        a_ub.append(row[None, :])
        b_ub.append(0.0)
    bounds = [(0.0, 0.0 if x == node else None) for x in nodes] + [(0, None)] * m + [(0, horizon)]
    cost = np.zeros(n + m + 1)
    cost[-1] = -1.0
    tts = linprog(cost, A_ub=sp.csr_matrix(np.vstack(a_ub)), b_ub=b_ub, bounds=bounds, method="highs")
    assert tts.status == 0
    value = -tts.fun
    return float(ttr.fun), math.inf if value >= horizon * (1 - 1e-9) else value


@pytest.mark.parametrize("workers", [1, 2])
def test_stress_test_equals_cold_reference_lps(workers):
    g = synthetic_network(30, products=3, tiers=3, seed=7)
    table = stress_test(g, by="node", workers=workers)
    assert table.height == 30
    worst = max(reference(g, x)[0] for x in g)
    for row in table.iter_rows(named=True):
        impact, tts = reference(g, row["disruption"])
        assert row["performance_impact"] == pytest.approx(impact, rel=1e-7, abs=1e-6), row["disruption"]
        assert row["tts_weeks"] == pytest.approx(tts, rel=1e-7, abs=1e-7), row["disruption"]
        assert row["rei"] == pytest.approx(impact / worst, abs=1e-9)


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
