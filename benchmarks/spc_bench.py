"""Control limits and run rules over 10 million points: silicio against a plain pandas version.

    .venv/bin/python benchmarks/spc_bench.py [--points 10000000] [--repeat 3] [--seed 0]

Both sides compute the same thing from the same series: I-MR limits (mean, MR-bar/d2(2), UCL and
LCL of both charts), then all eight Nelson rules on the individuals chart. The pandas version is
written the way one would write it straightforwardly: ``diff``, ``rolling(...).sum()`` over boolean
masks, one expression per rule. The results are asserted identical (same limits to 1e-12, same
points flagged by every rule), then the best of ``--repeat`` timings of each is reported, silicio
after one untimed run so numba's cached kernels are loaded; the runs alternate between the two
so that both see the same machine load. Writes ``benchmarks/results/spc.md``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from silicio import spc

RESULTS = Path(__file__).resolve().parent / "results"


def synthetic_series(points: int, seed: int) -> np.ndarray:
    """Normal noise with a few special causes, so that every rule has something to find."""
    rng = np.random.default_rng(seed)
    x = rng.normal(100.0, 2.0, points)
    step = max(points // 50, 100)
    for start in range(step // 2, points - 40, step):
        kind = (start // step) % 4
        if kind == 0:
            x[start : start + 30] += 3.0  # sustained shift
        elif kind == 1:
            x[start : start + 10] = 100.0 + np.arange(10) * 0.5  # trend
        elif kind == 2:
            x[start : start + 20] = 100.0 + np.tile([1.0, -1.0], 10)  # alternation
        else:
            x[start : start + 20] = 100.0 + rng.normal(0, 0.3, 20)  # stratification
    return x


def with_pandas(x: np.ndarray) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """I-MR limits and Nelson rules, plain pandas."""
    d2_2 = 2.0 / math.sqrt(math.pi)  # E|X1 - X2| / sigma for two normal observations
    d3_2 = math.sqrt(2.0 - 4.0 / math.pi)
    s = pd.Series(x)
    mr = s.diff().abs()
    mean, mr_bar = s.mean(), mr.mean()
    sigma = mr_bar / d2_2
    limits = {
        "mean": mean,
        "ucl": mean + 3 * sigma,
        "lcl": mean - 3 * sigma,
        "mr_ucl": mr_bar + 3 * d3_2 * sigma,
    }
    z = (s - mean) / sigma
    step = s.diff()

    def run(mask: pd.Series, length: int) -> pd.Series:
        return mask.astype("int8").rolling(length).sum() == length

    def m_of_w(upper: pd.Series, lower: pd.Series, m: int, w: int) -> pd.Series:
        up = upper & (upper.astype("int8").rolling(w, min_periods=1).sum() >= m)
        down = lower & (lower.astype("int8").rolling(w, min_periods=1).sum() >= m)
        return up | down

    rules = {
        "nelson-1": z.abs() > 3,
        "nelson-2": run(z > 0, 9) | run(z < 0, 9),
        "nelson-3": run(step > 0, 5) | run(step < 0, 5),
        "nelson-4": run(step * step.shift() < 0, 12),
        "nelson-5": m_of_w(z > 2, z < -2, 2, 3),
        "nelson-6": m_of_w(z > 1, z < -1, 4, 5),
        "nelson-7": run(z.abs() < 1, 15),
        "nelson-8": run(z.abs() > 1, 8),
    }
    return limits, {rule: np.flatnonzero(mask.to_numpy()) for rule, mask in rules.items()}


def with_silicio(x: np.ndarray) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    limits = spc.imr_limits(x)
    individuals, moving_range = spc.apply(limits, x)
    violations = individuals.rules("nelson")
    return {
        "mean": limits.mean,
        "ucl": float(individuals.ucl[0]),
        "lcl": float(individuals.lcl[0]),
        "mr_ucl": float(moving_range.ucl[0]),
    }, violations.points


def best_times(x: np.ndarray, repeat: int) -> tuple[float, tuple, float, tuple]:
    """Best time of each side; the runs alternate so that both see the same machine load."""
    best = {"silicio": math.inf, "pandas": math.inf}
    results = {}
    for _ in range(repeat):
        for name, fn in (("silicio", with_silicio), ("pandas", with_pandas)):
            start = time.perf_counter()
            results[name] = fn(x)
            best[name] = min(best[name], time.perf_counter() - start)
    return best["silicio"], results["silicio"], best["pandas"], results["pandas"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    x = synthetic_series(args.points, args.seed)
    with_silicio(x[:1000])  # load numba's cached kernels (or compile them) outside the timing
    t_silicio, (lim_s, rules_s), t_pandas, (lim_p, rules_p) = best_times(x, args.repeat)

    for key in lim_p:
        assert math.isclose(lim_s[key], lim_p[key], rel_tol=1e-12), (key, lim_s[key], lim_p[key])
    for rule in rules_p:
        assert np.array_equal(rules_s[rule], rules_p[rule]), rule
    ratio = t_pandas / t_silicio

    counts = " | ".join(f"{rule} {rules_s[rule].size:,}" for rule in rules_s)
    report = f"""# SPC benchmark: I-MR limits and all Nelson rules

- points: {args.points:,} (seed {args.seed}; normal noise with injected shifts, trends, alternation, stratification)
- machine: {platform.machine()}, {os.cpu_count()} CPU(s), {platform.platform()}; Python {platform.python_version()},
  numpy {np.__version__}, pandas {pd.__version__}
- timing: best of {args.repeat} runs of each, alternating, same process; silicio after one untimed warm-up
  (numba kernels loaded)
- results asserted identical: limits to 1e-12 relative, every rule's flagged points equal

| implementation | seconds | Mpoints/s |
|---|---:|---:|
| silicio (`imr_limits`, `apply`, `Chart.rules("nelson")`) | {t_silicio:.3f} | {args.points / t_silicio / 1e6:.1f} |
| pandas (diff, rolling sums over boolean masks) | {t_pandas:.3f} | {args.points / t_pandas / 1e6:.1f} |

**ratio pandas / silicio: {ratio:.1f}x**

Limits: mean {lim_s["mean"]:.6f}, UCL {lim_s["ucl"]:.6f}, LCL {lim_s["lcl"]:.6f}, MR UCL {lim_s["mr_ucl"]:.6f}.
Points flagged: {counts}.
"""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "spc.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
