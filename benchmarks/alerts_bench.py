"""What the alert rules evaluated at ingest add to ingest time.

    .venv/bin/python benchmarks/alerts_bench.py [--history 6] [--lots 36] [--wafers 6]
        [--large-lots 12] [--large-wafers 25] [--replicas 6] [--command-lots 12] [--side 64]
        [--new-program-lots 14] [--new-program-replicas 3]

Demo wafer-sort lots (:func:`silicio.demo.stdf_demo.write_demo_stdf`, one product, ``--wafers``
wafers of about side x side dies, 25 tests a die). A lake first gets ``--history`` lots and their
lot-history limits stored (``silicio limits update``: how a line runs, and what the SYL / SBL and
PAT rules judge against) and its trace store's tables (where the rules record the lots they
hold: made once a lake; the CPU seconds of making them are reported apart), untimed; it is
copied for each run. Each copy then gets 3 more lots as the timed ones below, untimed: a line
that has run a while (the catalog's statements compiled for its database, once a process; the
SPC chart's 8 earlier points; the first evaluation's CPU seconds are reported apart). Then
``--lots`` more lots (``--large-lots`` at the second size) are ingested one lot per ingest, as a
line's files arrive, and timed, lot by lot: into one copy without rules, into another with
every built-in rule configured (recipients the dashboard inbox only, so the time is the rules' and the
catalog's, not a network's), into a third without rules again (the two without averaged; the
three ingests of a lot share the same stretch of a shared machine, and take turns at going
first). Each of the three lakes is served by a process of its own, as a line's process serves
one data directory: each ingest finds its process as its own line left it, one process working at
a time. In one process for all three (the design before), an ingest without rules that came
right after an evaluation reused the memory the evaluation had just freed (the lot's tables it
was handed): 2.5 and 2.7 % less CPU than after another ingest in two runs of 648 ingests, ~2,700
fewer page faults a 6-wafer lot; the runs without rules took a gain that a line without rules
never has, and the run with rules, always after an ingest without them, never had it. In its
own process the line with rules keeps that gain: its ingest reuses the memory its last evaluation
freed (the ingest without rules gives its memory back at its end, and the kept tables are freed
only after the evaluation), so its ingest part can cost less than an ingest without rules; the
processes' page faults are reported, and the rules' own CPU seconds beside the ratio. There are
``--replicas`` sets of these three lakes (and processes), and each lot goes into every set, set
by set (each warmed, then timed). Three
ingests of the same lot a second apart still differ by 5-8 % (sd) in CPU seconds on this
machine (2 CPUs, idle; the same with a full garbage collection before each), so with one set the
ratio scattered by about ±3 % from run to run, with three by about ±1.3 % (6 wafers) and ±2.2 %
(25); each set is another sample of the same lots, without another lot to write (writing the
demo lots takes ~10 times longer than ingesting them: they are written first, on every CPU). The
per-lot ratios' standard error is reported with the ratio.
``silicio.lake.ingest`` runs in the lake's process (``workers=1``), so its CPU seconds
(``time.process_time``) count both. The ratio (with rules / without, sums over the lots and
sets) is the number: target < 1.10. Within the run with rules the ingest's own CPU seconds and
the rules' (opening the lake, reading what the ingest brought in, every rule, storing the alerts,
recording the holds) are also set side by side: the rules' share of the ingest, measured in the
same run, and per lot. The evaluation reads the ingest's facts (:mod:`silicio.alerts.ingested`),
as ``silicio ingest --alerts`` does. The first ``--command-lots`` of them are also ingested by
the command, ``silicio ingest FILE [--alerts RULES]`` in a child process each (its CPU seconds
from ``getrusage``: interpreter start and imports included, as a user or cron runs it), after
the warm lots by the command too, lot by lot without rules and with them, taking turns at going first.

All of it at two lot sizes in the same run: ``--wafers`` (6, the demo lot) and ``--large-wafers``
(25, a production wafer-sort lot; the commands at the first size only). Then a new program's line
from its first lot, no limits stored (no ``silicio limits update``): ``--new-program-lots`` lots of
the first size after two, in ``--new-program-replicas`` sets, reported by phase: the lots with too
few earlier lots (noted from the catalog), the sixth (its PAT share from preliminary limits of the
six lots: they are screened, once a program), the seventh (the evaluation stores the program's
first version from its six earlier lots, once a program), and the lots judged against that version.
The target applies to the first and last phases; the two once-a-program lots are reported with what
they add in all. The load average is noted
with it (the machine is shared); results go to ``benchmarks/results/alerts.md``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from silicio import lake as silicio_lake
from silicio.alerts import context_of_ingest, evaluate, loads_config

try:
    from silicio.alerts import open_lake
except ImportError:  # a silicio before it (a comparison of before and after): the lake opened anew
    open_lake = silicio_lake.open
try:  # the tables the rules read, kept in memory by the ingest (as `silicio ingest --alerts` asks)
    from silicio.alerts import KEPT_AT_INGEST

    KEEP = {"keep": KEPT_AT_INGEST}
except ImportError:  # a silicio before it: the rules read the files
    KEEP = {}
from silicio.demo.stdf_demo import write_demo_stdf

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_RATIO = 1.10
#: Lots ingested into every lake before the timed ones (see :func:`measure`).
WARM_LOTS = 3
#: Lots of a program its lot-history limits need (AEC-Q001 Rev-D, AEC-Q002 Rev-B: the shipped recipe's six).
MIN_LOTS = 6
#: Lots of a new program ingested before the timed ones: the first evaluation imports the rules'
#: modules and compiles the catalog's statements, and the ingest after it was 0.15-0.23 CPU s
#: slower than the next ones (three sets, one run), a process's start, not a line's.
NEW_PROGRAM_WARM_LOTS = 2
#: The three runs of each timed lot: without rules, with them, without again.
RUNS = ("a", "b", "c")
KINDS = ("yield_below_syl", "bin_above_sbl", "pat_outlier_rate", "spc_violation", "spatial_signature",
         "quarantined_file", "site_drift")  # fmt: skip
RULES = "\n".join(f'[[rule]]\nname = "{kind}"\nkind = "{kind}"\nroles = ["quality"]\n' for kind in KINDS)


def _write_lot(path: Path, seed: int, wafers: int, side: int) -> Path:
    return write_demo_stdf(path, seed=seed, wafers=wafers, dies_per_side=side)


def write_lots(root: Path, seeds: range, wafers: int, side: int) -> list[Path]:
    """The demo lots of ``seeds`` written into ``root``, on every CPU (before anything is timed:
    writing a lot takes ~10 times its ingest), in seed order."""
    paths = [root / f"lot{seed}.stdf" for seed in seeds]
    # spawned, not forked: this process already runs the threads of polars, numba and pyarrow
    with ProcessPoolExecutor(os.cpu_count(), mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_write_lot, paths, seeds, [wafers] * len(paths), [side] * len(paths)))


def prepare(history: list[Path], data: Path, store_limits: bool = True) -> float:
    """The history lots ingested and (``store_limits``) their limits stored into ``data``; and the
    trace store's tables made (where the rules record the lots they hold), as on a line that runs:
    CPU seconds of making them, a one-time cost of a lake, returned to be reported beside the rest."""
    from silicio.trace.store import TraceStore
    from silicio.yields.history import update_limits

    if history:
        assert silicio_lake.ingest([str(p) for p in history], data, workers=1).ok
    else:  # a new lake: its catalog made, no lot yet
        data.mkdir(parents=True, exist_ok=True)
    with silicio_lake.open(data) as lake:
        if store_limits:
            update_limits(lake, actor="bench")
        start = time.process_time()
        TraceStore(lake.catalog.url, data_dir=lake.layout.root).close()
        return time.process_time() - start


def ingest_lot(path: Path, data: Path, config) -> tuple[float, float, int, dict[str, float]]:
    """(ingest CPU seconds, of them the rules', alerts raised, each rule's CPU seconds) of
    ingesting the one file ``path`` into ``data``, then (``config`` given) evaluating its rules as
    ``silicio ingest --alerts`` does."""
    start = time.process_time()
    report = silicio_lake.ingest([str(path)], data, workers=1, **(KEEP if config is not None else {}))
    assert report.ok, report.outcomes
    middle = time.process_time()
    raised, per_rule = 0, {}
    if config is not None:
        with open_lake(data) as lake:  # as `silicio ingest --alerts` opens it
            result = evaluate(lake, config, context_of_ingest(lake, report), actor="bench")
            assert not result.errors, result.errors
            raised, per_rule = len(result.raised), dict(result.cpu_seconds)
    end = time.process_time()
    return end - start, end - middle, raised, per_rule


def command_cpu(path: Path, data: Path, rules: Path | None) -> float:
    """Children CPU seconds of ``silicio ingest FILE`` (``--alerts rules``) of the file ``path``.
    The child may write its bytecode (``__pycache__``), as an installed package has it: a machine
    that sets ``PYTHONDONTWRITEBYTECODE`` would otherwise compile every module at every start."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [sys.executable, "-m", "silicio.cli", "ingest", str(path), "--data", str(data), "--workers", "1",
               "--quiet", *(["--alerts", str(rules)] if rules else [])]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, env=environment)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _serve_line(connection, data: str, with_rules: bool) -> None:
    """A line's process (spawned): ingests each lot file path it is sent into ``data`` (with
    every built-in rule, ``with_rules``) and sends back :func:`ingest_lot`'s numbers and the
    ingest's minor page faults; None ends it."""
    config = loads_config(RULES, "benchmark rules") if with_rules else None
    while (path := connection.recv()) is not None:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        try:
            result = ingest_lot(Path(path), Path(data), config)
        except Exception as exc:  # told to the bench, which stops with it
            connection.send(f"{path}: {type(exc).__name__}: {exc}")
            continue
        connection.send((*result, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before))


class _Line:
    """A process serving one lake (:func:`_serve_line`)."""

    def __init__(self, data: Path, with_rules: bool):
        spawned = multiprocessing.get_context("spawn")
        self.connection, child = spawned.Pipe()
        self.process = spawned.Process(target=_serve_line, args=(child, str(data), with_rules), daemon=True)
        self.process.start()

    def ingest(self, path: Path) -> tuple[float, float, int, dict[str, float], int]:
        self.connection.send(str(path))
        result = self.connection.recv()
        if isinstance(result, str):
            raise RuntimeError(f"ingest in the line's process failed: {result}")
        return result

    def close(self) -> None:
        if self.process.is_alive():  # one that died has said why (EOF at its ``ingest``): not masked here
            self.connection.send(None)
        self.process.join()


def measure(root: Path, args, wafers: int, lots: int, commands: bool, stored_limits: bool = True,
            replicas: int | None = None, history_lots: int | None = None, warm_lots: int = WARM_LOTS) -> dict:  # fmt: skip
    """The runs of one lot size (``wafers`` a lot) in folder ``root``: see the module notes. The
    history (``history_lots``, default ``--history``) is ingested once and its lake copied for
    each run (the same lake each time); its limits stored unless ``stored_limits`` is False (a
    new product's line before ``silicio limits update``); ``replicas`` sets of lakes (default
    ``--replicas``); ``warm_lots`` lots ingested into each before the timed ones."""
    replicas = args.replicas if replicas is None else replicas
    n_history = args.history if history_lots is None else history_lots
    files = write_lots(root, range(n_history + warm_lots + lots), wafers, args.side)
    history, warm, timed = files[:n_history], files[n_history:-lots], files[-lots:]
    trace_store_cpu = prepare(history, root / "history", store_limits=stored_limits)
    # ``--replicas`` sets of the three lakes: each lot file is ingested into every set
    sets = [{run: root / f"{run}{n}" for run in RUNS} for n in range(replicas)]
    copies = [lake for lakes in sets for lake in lakes.values()]
    if commands:
        copies += [root / "cmd_a", root / "cmd_b"]
    for lake in copies:
        shutil.copytree(root / "history", lake)
    # set by set: each set's three processes warmed, then timed, then ended (one ingest at a time)
    first_evaluation = None
    without = without_again = with_rules = rules_cpu = 0.0
    raised = 0
    per_rule: dict[str, float] = {}
    per_lot: list[tuple[float, float]] = []
    #: each lot and set: (its number in the lake, CPU s without rules (mean of the two), with, of it the rules)
    lot_runs: list[tuple[int, float, float, float]] = []
    #: minor page faults of each run's timed ingests (the rules' with them in run b)
    faults = dict.fromkeys(RUNS, 0)
    for n, lakes in enumerate(sets):
        # each lake served by a process of its own, as a line's process serves one data directory:
        # an ingest finds its process as its own line left it (the memory the last evaluation freed,
        # the caches), never another lake's; one process works at a time
        lines = {run: _Line(lakes[run], with_rules=run == "b") for run in RUNS}
        try:
            # a line that has run a while: imports, kernels, the classifier's model, the lake's
            # catalog statements (compiled once a process and database) and the SPC chart's 8
            # earlier points warm
            for path in warm:
                for run in RUNS:
                    rules = lines[run].ingest(path)[1]
                    if run == "b" and first_evaluation is None:
                        first_evaluation = rules
            # lot by lot, each lot ingested without rules, with them, and without again: the three
            # runs share each stretch of a shared machine; they take turns at going first, second
            # and third, so that no run's place in the order counts against it
            for turn, path in enumerate(timed):
                cpu_of = {}
                shift = (turn + n) % 3
                for run in RUNS[shift:] + RUNS[:shift]:
                    cpu, rules, found, lot_rules, lot_faults = lines[run].ingest(path)
                    faults[run] += lot_faults
                    if run == "b":
                        with_rules, rules_cpu, raised = with_rules + cpu, rules_cpu + rules, raised + found
                        per_lot.append((cpu - rules, rules))
                        for name, seconds in lot_rules.items():
                            per_rule[name] = per_rule.get(name, 0.0) + seconds
                    cpu_of[run] = cpu
                without, without_again = without + cpu_of["a"], without_again + cpu_of["c"]
                lot_runs.append((n_history + warm_lots + turn + 1, (cpu_of["a"] + cpu_of["c"]) / 2, cpu_of["b"],
                                 per_lot[-1][1]))  # fmt: skip
        finally:
            for line in lines.values():
                line.close()
    out = {"wafers": wafers, "lots": lots, "size": sum(p.stat().st_size for p in timed), "without": without,
           "without_again": without_again, "with_rules": with_rules, "rules_cpu": rules_cpu, "raised": raised,
           "per_rule": per_rule, "per_lot": per_lot, "lot_runs": lot_runs,
           # each lot and set's ratio: with rules / mean of the two without (their scatter: the standard error)
           "per_triple": [with_lot / without_lot for _, without_lot, with_lot, _ in lot_runs],
           "history": n_history,
           "trace_store_cpu": trace_store_cpu, "replicas": replicas, "stored_limits": stored_limits,
           "first_evaluation": first_evaluation, "faults": faults}  # fmt: skip
    if commands:
        rules_file = root / "rules.toml"
        rules_file.write_text(RULES)
        # the warm lots by the command too, untimed (bytecode written, kernels cached on disk, the
        # SPC chart's earlier points); then lot by lot, without rules and with them, taking turns
        # at going first (each a process of its own: no run inherits another's memory)
        for path in warm:
            command_cpu(path, root / "cmd_a", None)
            command_cpu(path, root / "cmd_b", rules_file)
        out["command_without"] = out["command_with"] = 0.0
        for turn, path in enumerate(timed[: args.command_lots]):
            for with_rules_now in (False, True) if turn % 2 == 0 else (True, False):
                if with_rules_now:
                    out["command_with"] += command_cpu(path, root / "cmd_b", rules_file)
                else:
                    out["command_without"] += command_cpu(path, root / "cmd_a", None)
    base = (without + without_again) / 2
    out["ratio"] = with_rules / base
    return out


def _standard_error(values: list[float]) -> float:
    """Of the mean of ``values`` (sample standard deviation / sqrt(n))."""
    return statistics.stdev(values) / len(values) ** 0.5


#: The phases of a new program's line (lot numbers in the lake; whether the target applies).
PHASES = (
    ("fewer than six lots of the program: SYL / SBL not judged, no PAT share (noted from the catalog)",
     lambda n: n < MIN_LOTS, True),
    ("the sixth: PAT from preliminary limits of the program's six lots, all of them screened (once a program)",
     lambda n: n == MIN_LOTS, False),
    ("the seventh: its six earlier lots' limits computed and stored as version 1 (once a program)",
     lambda n: n == MIN_LOTS + 1, False),
    ("after: judged against version 1, as a line with stored limits", lambda n: n > MIN_LOTS + 1, True),
)  # fmt: skip


def phases(m: dict) -> list[dict]:
    """The new program's timed lots by phase (:data:`PHASES`): lots, CPU s without rules (the mean
    of the two runs), with them, of it the rules, the ratio, whether the target applies."""
    out = []
    for label, of_phase, targeted in PHASES:
        runs = [r for r in m["lot_runs"] if of_phase(r[0])]
        if runs:
            numbers = sorted({r[0] for r in runs})
            without, with_rules, rules = (sum(r[k] for r in runs) for k in (1, 2, 3))
            per_lot = [r[2] / r[1] for r in runs]
            out.append({"label": label, "lots": numbers, "runs": len(runs), "without": without,
                        "with_rules": with_rules, "rules": rules, "ratio": with_rules / without,
                        "targeted": targeted, "per_lot": per_lot})  # fmt: skip
    return out


def _lot_range(phase: dict) -> str:
    """A phase's lot numbers as "3" or "3-5"."""
    lots = phase["lots"]
    return f"{lots[0]}" + (f"-{lots[-1]}" if len(lots) > 1 else "")


def over_target(m: dict) -> list[str]:
    """What of ``m`` is at or over the target: the ratio, or for a new program the targeted phases'."""
    if m["stored_limits"]:
        return [f"{m['wafers']} wafers a lot"] if m["ratio"] >= TARGET_RATIO else []
    return [f"a new program's lots {_lot_range(p)}" for p in phases(m)
            if p["targeted"] and p["ratio"] >= TARGET_RATIO]  # fmt: skip


def phase_table(m: dict) -> list[str]:
    lines = [
        "| lots of the program (number in the lake) | lots x sets | CPU s without rules | with | of it the rules | ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for p in phases(m):
        numbers = _lot_range(p)
        lines.append(f"| {numbers}: {p['label']} | {p['runs']} | {p['without']:.2f} | {p['with_rules']:.2f} | "
                     f"{p['rules']:.2f} | {p['ratio']:.3f}{'' if p['targeted'] else ' (not a target)'} |")  # fmt: skip
    once = [p for p in phases(m) if not p["targeted"]]
    if once:
        extra = sum((p["with_rules"] - p["without"]) / m["replicas"] for p in once)
        lot_cpu = statistics.fmean([r[1] for r in m["lot_runs"]])
        lines += ["", f"The once-a-program lots add {extra:.2f} CPU s a program in all, about {extra / lot_cpu:.1f} "
                      f"ingests of a lot ({lot_cpu:.3f} CPU s without rules); over the {len(m['lot_runs']) // m['replicas']} "
                      f"timed lots the ratio is {m['ratio']:.3f}."]  # fmt: skip
    return lines


def table(m: dict, args) -> list[str]:
    base = (m["without"] + m["without_again"]) / 2
    ingest_cpu = m["with_rules"] - m["rules_cpu"]  # the ingest's own CPU in the run with rules
    overhead = m["rules_cpu"] - sum(m["per_rule"].values())
    n_ingests = len(m["per_triple"])
    limits = (
        "with stored limits" if m["stored_limits"] else "and no stored limits (no `silicio limits update`)"
    )
    if not m["stored_limits"]:
        limits = (f"of a new program from its first lot, no limits stored ({NEW_PROGRAM_WARM_LOTS} lots before the "
                  "timed ones, the first one's evaluation the first below)")  # fmt: skip
    lines = [
        f"## {m['lots']} lots x {m['wafers']} wafers (~{args.side}x{args.side} dies), {m['replicas']} sets of lakes"
        + ("" if m["stored_limits"] else ", no stored limits"),
        "",
        f"{m['size'] / 1e6:.1f} MB of STDF, one ingest per lot, "
        + (
            f"after {m['history']} lots of history {limits}, "
            if m["stored_limits"]
            else f"the lots {limits}, "
        )
        + f"each lot into each of {m['replicas']} sets of the three lakes (the CPU seconds below are "
        f"the sums over the sets); every built-in rule ({', '.join(KINDS)}); {m['raised']} alert(s) raised.",
        "",
        "| | CPU s |",
        "|---|---:|",
        f"| ingest without rules (mean of 2 runs: {m['without']:.2f}, {m['without_again']:.2f}) | {base:.2f} |",
        f"| ingest with rules | {m['with_rules']:.2f} |",
        f"| of it, the ingest | {ingest_cpu:.2f} |",
        f"| of it, the rules | {m['rules_cpu']:.2f} |",
        f"| rules / ingest, the same run | {m['rules_cpu'] / ingest_cpu:.3f} |",
        f"| ratio with / without | {m['ratio']:.3f} (target < {TARGET_RATIO:.2f}) |",
        f"| the same, lot by lot (mean of {len(m['per_triple'])}, its standard error) | "
        f"{statistics.fmean(m['per_triple']):.3f} ± {_standard_error(m['per_triple']):.3f} |",
    ]
    if not m["stored_limits"]:
        lines += ["", *phase_table(m)]
    if "command_with" in m:
        lines += [
            f"| `silicio ingest FILE`, a process a lot ({args.command_lots} lots) | {m['command_without']:.2f} |",
            f"| `silicio ingest FILE --alerts RULES` | {m['command_with']:.2f} |",
            f"| ratio of the commands | {m['command_with'] / m['command_without']:.3f} |",
        ]
    lines += [
        "",
        "Per rule, CPU s over the timed lots (the shared facts, the lot's parts and the disposition "
        "rules' holds, count to the first rule that reads them; the rest of the rules' time is opening "
        "the lake, finding the lots ingested, storing alerts and recording the holds in the audit log):",
        "",
        *(f"- {name}: {seconds:.3f}" for name, seconds in m["per_rule"].items()),
        f"- the rest (opening the lake, the ingest's facts, storing, the holds' audit): {overhead:.3f}",
        "",
        "Per ingest with rules, CPU s (ingest, rules, rules / ingest): "
        + "; ".join(
            f"{'' if m['stored_limits'] else f'lot {r[0]} (without rules {r[1]:.3f}): '}{a:.3f}, {b:.3f}, {b / a:.3f}"
            for (a, b), r in zip(m["per_lot"], m["lot_runs"], strict=True)
        )
        + ".",
        "",
        f"The first evaluation in a lake's process (the warm-up's first lot: the rules' modules imported, the "
        f"catalog's statements compiled for its database, its lot history read), not timed above: "
        f"{m['first_evaluation']:.3f} CPU s.",
        "",
        f"Minor page faults a timed ingest: without rules {m['faults']['a'] / n_ingests:.0f} and "
        f"{m['faults']['c'] / n_ingests:.0f}, with them {m['faults']['b'] / n_ingests:.0f} (the rules' own counted).",
        "",
        f"Making the trace store's tables in a new lake (once a lake, before the first hold: in the "
        f"preparation, not timed above): {m['trace_store_cpu']:.3f} CPU s.",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=6)
    parser.add_argument("--lots", type=int, default=36, help="timed lots at the first size")
    parser.add_argument("--large-lots", type=int, default=12, help="timed lots at the second size")
    parser.add_argument(
        "--command-lots", type=int, default=12, help="of the first size's, timed by the command"
    )
    parser.add_argument("--replicas", type=int, default=6,
                        help="sets of the three lakes each lot is ingested into (more samples, no more files)")  # fmt: skip
    parser.add_argument("--wafers", type=int, default=6)
    parser.add_argument("--large-wafers", type=int, default=25,
                        help="the second lot size, measured in the same run (0: none)")  # fmt: skip
    parser.add_argument("--side", type=int, default=64)
    parser.add_argument("--new-program-lots", type=int, default=14,
                        help="timed lots at the first size of a new program, from its third lot (0: none)")  # fmt: skip
    parser.add_argument("--new-program-replicas", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()
    sizes = [args.wafers] + ([args.large_wafers] if args.large_wafers else [])
    measured = []
    with tempfile.TemporaryDirectory() as folder:
        for n, wafers in enumerate(sizes):
            root = Path(folder) / f"size{n}"
            root.mkdir()
            # the command runs (a process a lot) at the first size only: the in-process ratio is the number
            lots = args.lots if n == 0 else args.large_lots
            measured.append(measure(root, args, wafers, lots, commands=n == 0))
            shutil.rmtree(root)
        if args.new_program_lots:
            # a new program's line from its first lot, no limits stored: too few lots to judge, the
            # sixth lot's PAT from preliminary limits, the limits established at the seventh, then
            # judged against them
            root = Path(folder) / "new_program"
            root.mkdir()
            measured.append(measure(root, args, args.wafers, args.new_program_lots, commands=False,
                                    stored_limits=False, replicas=args.new_program_replicas, history_lots=0,
                                    warm_lots=NEW_PROGRAM_WARM_LOTS))  # fmt: skip
            shutil.rmtree(root)
    load_after = os.getloadavg()
    lines = ["# Alert rules at ingest", ""]
    lines += [f"| lot size | ratio with / without (target < {TARGET_RATIO:.2f}) | lot by lot, ± standard error | "
              "rules a lot, CPU s |", "|---|---:|---:|---:|"]  # fmt: skip
    for m in measured:
        if m["stored_limits"]:
            lines.append(f"| {m['wafers']} wafers x ~{args.side}x{args.side} dies | {m['ratio']:.3f} | "
                         f"{statistics.fmean(m['per_triple']):.3f} ± {_standard_error(m['per_triple']):.3f} | "
                         f"{m['rules_cpu'] / len(m['per_lot']):.3f} |")  # fmt: skip
            continue
        for p in phases(m):
            numbers = _lot_range(p)
            spread = (f"{statistics.fmean(p['per_lot']):.3f} ± {_standard_error(p['per_lot']):.3f}"
                      if len(p["per_lot"]) > 1 else "-")  # fmt: skip
            lines.append(f"| {m['wafers']} wafers, a new program, no stored limits: lot{'s' if len(p['lots']) > 1 else ''} {numbers} | "
                         f"{p['ratio']:.3f}{'' if p['targeted'] else ' (once a program: not a target)'} | {spread} | "
                         f"{p['rules'] / p['runs']:.3f} |")  # fmt: skip
    lines.append("")
    for m in measured:
        lines += [*table(m, args), ""]
    lines.append(f"Load average before {load_before[0]:.1f}, after {load_after[0]:.1f} ({os.cpu_count()} CPUs); "
                 f"{platform.python_implementation()} {platform.python_version()}.")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "alerts.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    over = [what for m in measured for what in over_target(m)]
    for what in over:
        print(f"alert rules add {TARGET_RATIO - 1:.0%} or more to ingest CPU time ({what}): over the target",
              file=sys.stderr)  # fmt: skip
    if over:
        sys.exit(1)


if __name__ == "__main__":
    main()
