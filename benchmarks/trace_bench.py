"""Trace benchmark: forward and backward genealogy queries on a synthetic 1-million-unit genealogy.

    python benchmarks/trace_bench.py [--units 1000000] [--runs 5] [--no-sqlite]

Builds the genealogy of :func:`silicio.trace.synthetic_genealogy` (lots of 25 wafers of 1000
dies, one unit per die, reels of 3000 shuffled units, 5 reels a shipment, 40 material lots) as
CSR arrays, and times typical queries (best of ``--runs``, after one untimed run that builds
the name index). For comparison, the same queries as recursive CTEs over an indexed edge table
in SQLite (in memory). Writes ``benchmarks/results/trace.md``.
"""

from __future__ import annotations

import argparse
import platform
import sqlite3
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPORT = HERE / "results" / "trace.md"
TARGET_MS = 100.0

QUERIES = [
    ("which shipments hold units of this wafer", ("wafer", "W0000500"), "forward"),
    ("recall scope of a fab lot (25 wafers)", ("lot", "L0000003"), "forward"),
    ("recall scope of a gold-wire material lot", ("material_lot", "ML0000007"), "forward"),
    ("what fed this returned unit", ("unit", "U0123456"), "backward"),
    ("what fed this reel", ("reel", "R0000100"), "backward"),
    ("what fed this shipment (15,000 units)", ("shipment", "SH0000010"), "backward"),
]


def best_of(fn, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def sqlite_baseline(g, runs: int) -> dict[tuple, tuple[float, int]]:
    """Recursive CTE reach over an indexed (parent, child) table; returns seconds and nodes reached."""
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE edges (parent INTEGER, child INTEGER)")
    con.executemany("INSERT INTO edges VALUES (?, ?)", zip(g.parent.tolist(), g.child.tolist(), strict=True))
    con.execute("CREATE INDEX ix_p ON edges (parent)")
    con.execute("CREATE INDEX ix_c ON edges (child)")
    out = {}
    for _, start, direction in QUERIES:
        a, b = ("parent", "child") if direction == "forward" else ("child", "parent")
        sql = (f"WITH RECURSIVE r(n) AS (SELECT ? UNION SELECT e.{b} FROM edges e JOIN r ON e.{a} = r.n) "
               "SELECT count(*) FROM r")  # fmt: skip
        idx = g.index_of(*start)
        count = con.execute(sql, (idx,)).fetchone()[0]
        out[start] = (
            best_of(lambda sql=sql, idx=idx: con.execute(sql, (idx,)).fetchone(), max(1, runs // 2)),
            count,
        )
    con.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-sqlite", action="store_true", help="Skip the SQLite recursive-CTE comparison.")
    args = parser.parse_args()

    from silicio.trace import synthetic_genealogy

    t = time.perf_counter()
    g = synthetic_genealogy(args.units)
    build = time.perf_counter() - t
    t = time.perf_counter()
    g.index_of("unit", "U0000000")
    index = time.perf_counter() - t
    rows = []
    for label, start, direction in QUERIES:
        result = g.trace(start, direction)
        seconds = best_of(lambda start=start, direction=direction: g.trace(start, direction), args.runs)
        reached = sum(result.counts.values())
        rows.append((label, start, direction, seconds, result.counts.get("unit", 0), reached,
                     len(result.shipments)))  # fmt: skip
        print(f"{label:45s} {seconds * 1e3:8.2f} ms  units {result.counts.get('unit', 0):>7,}", flush=True)
    sql = {} if args.no_sqlite else sqlite_baseline(g, args.runs)

    lines = [
        "# Trace benchmark: genealogy queries on a synthetic 1M-unit genealogy",
        "",
        f"- genealogy: {args.units:,} units, {g.n:,} nodes, {g.parent.size:,} edges "
        "(`silicio.trace.synthetic_genealogy`: lots of 25 wafers x 1000 dies, one unit per die, "
        "reels of 3000 shuffled units, 5 reels per shipment, 40 material lots)",
        f"- machine: {platform.machine()}, {__import__('os').cpu_count()} CPU(s), {platform.platform()}; "
        f"Python {platform.python_version()}, numpy {np.__version__}",
        f"- build (arrays -> CSR both ways): {build:.2f} s; name index (first lookup): {index:.2f} s, once per graph",
        f"- timing: best of {args.runs} runs of `Genealogy.trace` (counts and names by kind, units per shipment), "
        "after one untimed run",
        "",
        "| query | start | direction | ms | units | nodes reached | shipments |"
        + (" SQLite recursive CTE ms |" if sql else ""),
        "|---|---|---|---:|---:|---:|---:|" + ("---:|" if sql else ""),
    ]
    for label, start, direction, seconds, units, reached, ships in rows:
        line = f"| {label} | {start[0]} {start[1]} | {direction} | {seconds * 1e3:.2f} | {units:,} | {reached:,} | {ships} |"
        if sql:
            s, count = sql[start]
            assert count == reached, f"SQLite reached {count} nodes, silicio {reached}"
            line += f" {s * 1e3:.1f} |"
        lines.append(line)
    worst = max(r[3] for r in rows) * 1e3
    lines += ["", f"**slowest query: {worst:.1f} ms (target < {TARGET_MS:.0f} ms): "
              f"{'met' if worst < TARGET_MS else 'NOT met'}**"]  # fmt: skip
    if sql:
        lines += ["", "SQLite: the same reach as `WITH RECURSIVE` over an in-memory table with indexes on parent "
                  "and child; node counts asserted equal."]  # fmt: skip
    lines += ["", f"silicio {metadata.version('silicio')}; run `python benchmarks/trace_bench.py`.", ""]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines))
    print(f"wrote {REPORT}")
    if worst >= TARGET_MS:
        sys.exit(1)


if __name__ == "__main__":
    main()
