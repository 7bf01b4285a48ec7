"""Supply-network stress test and Monte Carlo: times and scaling with worker processes.

    .venv/bin/python benchmarks/supply_bench.py [--nodes 1000] [--scenarios 10000] [--workers 1,2] [--seed 0]

On a synthetic multi-tier network (``silicio.supply.synthetic_network``: 10 products, 5 supplier
tiers, each node needing 1-3 materials from 1-3 sources of the next tier):

- the TTR/TTS stress test of every node, two HiGHS LPs per node (``stress_test(by="node")``);
- ``--scenarios`` Monte Carlo disruption scenarios (regional site outages, pandemic, customs delay).

Each with 1, 2, ... worker processes (``--workers``); results are asserted identical across worker
counts (the LP answers to 1e-9, the Monte Carlo bit for bit, by its SeedSequence chunks). Times
include starting the worker processes (spawned, as the library does). Writes
``benchmarks/results/supply.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from silicio.supply import compile_network, monte_carlo, stress_test, synthetic_network

RESULTS = Path(__file__).resolve().parent / "results"


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--scenarios", type=int, default=10_000)
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated (default 1,2)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]

    (g, build_s) = timed(lambda: synthetic_network(args.nodes, products=10, tiers=5, seed=args.seed))
    net = compile_network(g)
    load_before = os.getloadavg()[0]
    stress_rows, mc_rows = [], []
    reference_table = reference_mc = None
    for w in workers:
        print(f"  stress test, {w} worker(s) ...", flush=True)
        table, seconds = timed(lambda w=w: stress_test(net, by="node", workers=w, chunk_size=25))
        if reference_table is None:
            reference_table = table
        else:
            a = reference_table.sort("disruption")
            b = table.sort("disruption")
            assert a["disruption"].equals(b["disruption"])
            np.testing.assert_allclose(a["performance_impact"].to_numpy(), b["performance_impact"].to_numpy(),
                                       rtol=1e-9, atol=1e-6)  # fmt: skip
            np.testing.assert_allclose(
                a["tts_weeks"].to_numpy(), b["tts_weeks"].to_numpy(), rtol=1e-9, atol=1e-9
            )
        stress_rows.append((w, seconds, table.height))
        print(f"  monte carlo {args.scenarios:,}, {w} worker(s) ...", flush=True)
        result, seconds = timed(lambda w=w: monte_carlo(net, args.scenarios, seed=args.seed, workers=w))
        if reference_mc is None:
            reference_mc = result
        else:
            assert np.array_equal(reference_mc.lost_profit, result.lost_profit), (
                "Monte Carlo differs by worker count"
            )
        mc_rows.append((w, seconds))
    load_after = os.getloadavg()[0]

    summary = reference_mc.summary((0.95, 0.99))
    flagged = int(reference_table["flagged"].sum())
    base_lp, base_mc = stress_rows[0][1], mc_rows[0][1]
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("highspy", "numpy", "networkx", "polars"))
    lines = [
        "# Supply benchmark: TTR/TTS stress test and Monte Carlo",
        "",
        f"- network: synthetic, {g.number_of_nodes():,} nodes, {g.number_of_edges():,} edges, 10 products, "
        f"5 supplier tiers (seed {args.seed}; built in {build_s:.2f} s)",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPU(s), {platform.platform()}; "
        f"Python {platform.python_version()}, {versions}",
        f"- load average (1 min) before / after: {load_before:.2f} / {load_after:.2f}",
        "- times include spawning the worker processes; results asserted identical across worker counts",
        "",
        f"## Stress test of every node ({reference_table.height:,} disruptions, 2 LPs each)",
        "",
        "| workers | seconds | LPs/s | speed-up |",
        "|---:|---:|---:|---:|",
    ]
    for w, s, n in stress_rows:
        lines.append(f"| {w} | {s:.2f} | {2 * n / s:,.0f} | {base_lp / s:.2f}x |")
    lines += [
        "",
        f"{flagged} of {reference_table.height} nodes have TTS < TTR; worst performance impact "
        f"{reference_table['performance_impact'].max():,.0f} (profit units).",
        "",
        f"## Monte Carlo, {args.scenarios:,} scenarios",
        "",
        "| workers | seconds | scenarios/s | speed-up |",
        "|---:|---:|---:|---:|",
    ]
    for w, s in mc_rows:
        lines.append(f"| {w} | {s:.2f} | {args.scenarios / s:,.0f} | {base_mc / s:.2f}x |")
    lines += [
        "",
        f"Lost profit: mean {summary['lost_profit_mean']:,.0f} (s.e. {summary['lost_profit_se']:,.0f}), "
        f"VaR 95 % {summary['lost_profit_var_0.95']:,.0f}, CVaR 95 % {summary['lost_profit_cvar_0.95']:,.0f}, "
        f"VaR 99 % {summary['lost_profit_var_0.99']:,.0f}, CVaR 99 % {summary['lost_profit_cvar_0.99']:,.0f}; "
        f"P(any loss) {summary['p_any_loss']:.3f}.",
    ]
    report = "\n".join(lines) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "supply.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
