"""What the alert rules evaluated at ingest add to ingest time.

    .venv/bin/python benchmarks/alerts_bench.py [--history 6] [--lots 4] [--wafers 6] [--side 64]

Demo wafer-sort lots (:func:`silicio.demo.stdf_demo.write_demo_stdf`, one product, ``--wafers``
wafers of about side x side dies, 25 tests a die). Each of three fresh lakes first gets
``--history`` lots and their lot-history limits stored (``silicio limits update``: how a line
runs, and what the SYL / SBL and PAT rules judge against), untimed; then ``--lots`` more lots are
ingested one lot per ingest, as a line's files arrive, and timed: into one lake with every
built-in rule configured (recipients the dashboard inbox only, so the time is the rules' and the
catalog's, not a network's), into the two others without rules (before and after, averaged). ``silicio.lake.ingest`` runs in this
process (``workers=1``), so CPU seconds (``time.process_time``) count both. The ratio
(with rules / without) is the number: target < 1.10. Within the run with rules the ingest's own
CPU seconds and the rules' (opening the lake, reading what the ingest brought in, every rule,
storing the alerts, recording the holds) are also set side by side: the rules' share of the
ingest, measured in the same run, and per lot. The evaluation reads the ingest's facts
(:mod:`silicio.alerts.ingested`), as ``silicio ingest --alerts`` does. The same lots are also ingested by the
command, ``silicio ingest FILE [--alerts RULES]`` in a child process each (its CPU seconds from
``getrusage``: interpreter start and imports included, as a user or cron runs it). The load average is noted with it (the
machine is shared); results go to ``benchmarks/results/alerts.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from silicio import lake as silicio_lake
from silicio.alerts import context_of_ingest, evaluate, loads_config
from silicio.demo.stdf_demo import write_demo_stdf

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_RATIO = 1.10
KINDS = ("yield_below_syl", "bin_above_sbl", "pat_outlier_rate", "spc_violation", "spatial_signature",
         "quarantined_file", "site_drift")  # fmt: skip
RULES = "\n".join(f'[[rule]]\nname = "{kind}"\nkind = "{kind}"\nroles = ["quality"]\n' for kind in KINDS)


def prepare(history: list[Path], data: Path) -> None:
    from silicio.yields.history import update_limits

    assert silicio_lake.ingest([str(p) for p in history], data, workers=1).ok
    with silicio_lake.open(data) as lake:
        update_limits(lake, actor="bench")


PER_RULE: dict[str, float] = {}


PER_LOT: list[tuple[float, float]] = []


def run(files: list[Path], data: Path, with_rules: bool) -> tuple[float, float, int]:
    """(ingest CPU seconds, of them the rules', alerts raised) for ingesting ``files`` one by one;
    each rule's CPU seconds added up in :data:`PER_RULE`, each lot's (ingest, rules) in :data:`PER_LOT`."""
    config = loads_config(RULES, "benchmark rules") if with_rules else None
    cpu = rules_cpu = 0.0
    raised = 0
    PER_RULE.clear()
    PER_LOT.clear()
    for path in files:
        start = time.process_time()
        report = silicio_lake.ingest([str(path)], data, workers=1)
        assert report.ok, report.outcomes
        middle = time.process_time()
        if config is not None:
            with silicio_lake.open(data) as lake:
                result = evaluate(lake, config, context_of_ingest(lake, report), actor="bench")
                assert not result.errors, result.errors
                raised += len(result.raised)
                for name, seconds in result.cpu_seconds.items():
                    PER_RULE[name] = PER_RULE.get(name, 0.0) + seconds
            rules_cpu += time.process_time() - middle
        cpu += time.process_time() - start
        PER_LOT.append((middle - start, time.process_time() - middle))
    return cpu, rules_cpu, raised


def command_cpu(files: list[Path], data: Path, rules: Path | None) -> float:
    """Children CPU seconds of ``silicio ingest FILE`` (``--alerts rules``) for each file in turn."""
    total = 0.0
    for path in files:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        command = [sys.executable, "-m", "silicio.cli", "ingest", str(path), "--data", str(data), "--workers", "1",
                   "--quiet", *(["--alerts", str(rules)] if rules else [])]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        total += (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=6)
    parser.add_argument("--lots", type=int, default=4)
    parser.add_argument("--wafers", type=int, default=6)
    parser.add_argument("--side", type=int, default=64)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        files = [write_demo_stdf(root / f"lot{seed}.stdf", seed=seed, wafers=args.wafers, dies_per_side=args.side)
                 for seed in range(args.history + args.lots)]  # fmt: skip
        history, timed = files[: args.history], files[args.history :]
        size = sum(p.stat().st_size for p in timed)
        for name in ("a", "b", "c", "warm", "cmd_a", "cmd_b"):
            prepare(history, root / name)
        # imports, kernels, the classifier's model and the SPC chart's constants (three lots: the
        # third has the 8 earlier points the chart needs) warm for every run
        run(timed[:3], root / "warm", True)
        # alternate the order so a slower stretch of a shared machine does not fall on one side only
        without = run(timed, root / "a", False)[0]
        with_rules, rules_cpu, raised = run(timed, root / "b", True)
        per_rule, per_lot = dict(PER_RULE), list(PER_LOT)
        without_again = run(timed, root / "c", False)[0]
        rules_file = root / "rules.toml"
        rules_file.write_text(RULES)
        command_without = command_cpu(timed, root / "cmd_a", None)
        command_with = command_cpu(timed, root / "cmd_b", rules_file)
    base = (without + without_again) / 2
    ratio = with_rules / base
    ingest_cpu = with_rules - rules_cpu  # the ingest's own CPU in the run with rules
    share = rules_cpu / ingest_cpu
    overhead = rules_cpu - sum(per_rule.values())
    load_after = os.getloadavg()
    lines = [
        "# Alert rules at ingest",
        "",
        f"{args.lots} lots x {args.wafers} wafers (~{args.side}x{args.side} dies), {size / 1e6:.1f} MB of STDF, one "
        f"ingest per lot, after {args.history} lots of history with stored limits; every built-in rule "
        f"({', '.join(KINDS)}); {raised} alert(s) raised.",
        "",
        "| | CPU s |",
        "|---|---:|",
        f"| ingest without rules (mean of 2 runs: {without:.2f}, {without_again:.2f}) | {base:.2f} |",
        f"| ingest with rules | {with_rules:.2f} |",
        f"| of it, the ingest | {ingest_cpu:.2f} |",
        f"| of it, the rules | {rules_cpu:.2f} |",
        f"| rules / ingest, the same run | {share:.3f} |",
        f"| ratio with / without | {ratio:.3f} (target < {TARGET_RATIO:.2f}) |",
        f"| `silicio ingest FILE`, a process a lot | {command_without:.2f} |",
        f"| `silicio ingest FILE --alerts RULES` | {command_with:.2f} |",
        f"| ratio of the commands | {command_with / command_without:.3f} |",
        "",
        "Per rule, CPU s over the timed lots (the shared facts, the lot's parts and the disposition "
        "rules' holds, count to the first rule that reads them; the rest of the rules' time is opening "
        "the lake, finding the lots ingested, storing alerts and recording the holds in the audit log):",
        "",
        *(f"- {name}: {seconds:.3f}" for name, seconds in per_rule.items()),
        f"- the rest (opening the lake, the ingest's facts, storing, the holds' audit): {overhead:.3f}",
        "",
        "Per lot, CPU s (ingest, rules, rules / ingest): "
        + "; ".join(f"{a:.3f}, {b:.3f}, {b / a:.3f}" for a, b in per_lot)
        + ".",
        "",
        f"Load average before {load_before[0]:.1f}, after {load_after[0]:.1f} ({os.cpu_count()} CPUs); "
        f"{platform.python_implementation()} {platform.python_version()}.",
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "alerts.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if ratio >= TARGET_RATIO:
        print(f"alert rules add {ratio - 1:.1%} to ingest CPU time: over the {TARGET_RATIO - 1:.0%} target",
              file=sys.stderr)  # fmt: skip
        sys.exit(1)


if __name__ == "__main__":
    main()
