"""STDF read benchmark: silicio against stdf-convert (Rust) and pystdf, measured in the same run.

    python benchmarks/run.py [--rounds 2] [--pystdf-limit 240] [--synthetic-mb 80] [--seed 7] [--no-pystdf]

Reads every real (non-synthetic, uncompressed) file of ``../shared/data/stdf`` and two synthetic
wafer-sort files (``synthetic.py``: the lean one, where later PTRs omit their defaults, and one
whose every PTR carries all its fields) with each tool, each in its own process
(``_measure.py``), and writes ``benchmarks/results/stdf_read.md``. silicio is measured twice:
single-threaded (``SILICIO_STDF_THREADS=1``) and with the threads it chooses itself. Results
are ratios between tools on this machine, in this run, in wall and in CPU seconds, with the
machine's load noted; the absolute rates only make sense beside each other.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import synthetic  # noqa: E402  (benchmarks/ is not a package)

STDF_DIR = REPO.parent / "shared" / "data" / "stdf"
REPORT = HERE / "results" / "stdf_read.md"
TOOLS = ("silicio_1", "silicio", "stdf_convert", "pystdf")
LABEL = {"silicio_1": "silicio 1 thread", "silicio": "silicio threads", "stdf_convert": "stdf-convert",
         "pystdf": "pystdf"}  # fmt: skip
#: The program _measure.py runs for each, and its environment.
PROGRAM = {"silicio_1": "silicio", "silicio": "silicio", "stdf_convert": "stdf_convert", "pystdf": "pystdf"}
ENVIRONMENT = {"silicio_1": {"SILICIO_STDF_THREADS": "1", "NUMBA_NUM_THREADS": "1"}}
TARGET_SINGLE_THREAD = 2.0  # silicio on one thread vs stdf-convert
TARGET_THREADS_IDLE = 3.0  # silicio with threads vs stdf-convert, on an idle machine
TARGET_VS_PYSTDF = 80.0
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".zip", ".xz")
#: What the first kernel call starts, by silicio's compiled kernels (_measure.py says which).
KERNELS_RUNTIME = {"native": "kernels compiled ahead of time: no numba or LLVM",
                   "jit": "numba's JIT kernels: numba's runtime and LLVM start"}  # fmt: skip


@dataclass
class Measure:
    records: int
    seconds: float
    complete: bool
    peak_rss_mb: float
    baseline_rss_mb: float
    cpu_seconds: float = 0.0
    load: float = 0.0
    runtime_rss_mb: float = 0.0  # after the first call into the kernels (numba's runtime started)
    kernels: str | None = None  # silicio's compiled kernels: native (ahead of time) or jit (numba)
    others_cpus: float | None = None  # CPUs other processes kept busy during the timed reads

    def mb_per_s(self, size: int) -> float:
        return size / 1e6 / self.seconds

    def records_per_s(self) -> float:
        return self.records / self.seconds


def real_files() -> list[Path]:
    """Uncompressed shared files that MANIFEST.tsv does not mark as synthetic."""
    if not STDF_DIR.is_dir():
        return []
    synthetic_names = set()
    manifest = STDF_DIR / "MANIFEST.tsv"
    if manifest.exists():
        with open(manifest, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                if row["description"].startswith("SYNTHETIC"):
                    synthetic_names.add(row["file"])
    return sorted(
        p for p in STDF_DIR.iterdir()
        if p.suffix in (".stdf", ".std") and p.name not in synthetic_names and not p.name.startswith("SYNTH_")
    )  # fmt: skip


def timed_runs(size: int) -> int:
    """More repeats for small files, whose single reads last milliseconds."""
    return 20 if size < 1e6 else 10 if size < 10e6 else 3


def measure(tool: str, path: Path, pystdf_limit: float) -> Measure | str:
    command = [sys.executable, str(HERE / "_measure.py"), PROGRAM[tool], str(path), "--runs",
               str(timed_runs(path.stat().st_size)), "--time-limit", str(pystdf_limit)]  # fmt: skip
    env = {**os.environ, **ENVIRONMENT.get(tool, {})}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=pystdf_limit + 300, cwd=REPO, env=env
        )
    except subprocess.TimeoutExpired:
        return "timed out"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"error: {last[:80]}"
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return Measure(out["records"], out["best_s"], out["complete"], out["peak_rss_mb"], out["baseline_rss_mb"],
                   out["best_cpu_s"], out["load"], out.get("runtime_rss_mb", out["baseline_rss_mb"]),
                   out.get("kernels"), out.get("others_cpus"))  # fmt: skip


def best(found: list[Measure | str]) -> Measure | str:
    measured = [m for m in found if isinstance(m, Measure)]
    return min(measured, key=lambda m: m.seconds) if measured else found[0]


def measure_file(path: Path, tools: list[str], rounds: int, pystdf_limit: float) -> dict[str, Measure | str]:
    """Each tool's best over ``rounds`` processes, the tools taking turns so that a burst of other
    load on the machine does not fall on one tool only. pystdf, slow and steady, runs once."""
    found: dict[str, list] = {tool: [] for tool in tools}
    for round_index in range(rounds):
        for tool in tools:
            if tool != "pystdf" or round_index == 0:
                found[tool].append(measure(tool, path, pystdf_limit))
    return {tool: best(found[tool]) for tool in tools}


def ratio(ours: Measure | str, peer: Measure | str, cpu: bool = False) -> str:
    """How many times faster silicio read the file (in CPU seconds when ``cpu``). A peer
    stopped at its time limit would have taken longer still, so its ratio is a lower bound."""
    if isinstance(ours, str) or isinstance(peer, str):
        return "n/a"
    speedup = peer.cpu_seconds / ours.cpu_seconds if cpu else peer.seconds / ours.seconds
    return f">= {speedup:.0f}x" if not peer.complete else f"{speedup:.2f}x"


def rate_cells(m: Measure | str, size: int) -> list[str]:
    if isinstance(m, str):
        return [m, ""]
    mark = "*" if not m.complete else ""
    return [f"{m.mb_per_s(size):.1f}{mark}", f"{m.records_per_s() / 1e3:,.0f}{mark}"]


def memory_cell(m: Measure | str) -> str:
    if isinstance(m, str):
        return m
    return f"{m.peak_rss_mb:,.0f} (+{max(m.peak_rss_mb - m.baseline_rss_mb, 0):,.0f})"


def combined(measures: list[Measure | str]) -> Measure | str:
    """One reading of a set of files: records and best times summed."""
    failed = [m for m in measures if isinstance(m, str)]
    if failed:
        return failed[0]
    return Measure(sum(m.records for m in measures), sum(m.seconds for m in measures), all(m.complete for m in measures),
                   max(m.peak_rss_mb for m in measures), 0.0, sum(m.cpu_seconds for m in measures),
                   max(m.load for m in measures), others_cpus=max((m.others_cpus for m in measures
                   if m.others_cpus is not None), default=None))  # fmt: skip


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}"


def versions() -> str:
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=REPO
        )
        revision = commit.stdout.strip() or "unknown"
    except OSError:
        revision = "unknown"
    parts = [f"silicio {revision}"]
    for package in ("stdf-convert", "pystdf", "numba", "pyarrow", "numpy"):
        try:
            parts.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{package} missing")
    return ", ".join(parts)


def verdict(value: float, target: float, bound: bool = False) -> str:
    met = "met" if value >= target else "NOT met"
    return f"{value:.2f}x{' (lower bound)' if bound else ''} vs target >= {target:g}x: {met}"


def idle(m: Measure) -> bool:
    """Whether the machine had a CPU to spare for a second thread: other processes kept at most
    half a CPU busy beyond the reader's two (their CPU time from /proc/stat, the reader's own
    excluded; where that is missing, the 1-minute load average, which counts the reader too)."""
    if m.others_cpus is not None:
        return m.others_cpus + 2.0 <= (os.cpu_count() or 1) + 0.5
    return m.load + 1.0 <= (os.cpu_count() or 1)


def others_text(m: Measure) -> str:
    busy = f"others kept {m.others_cpus:.1f} CPUs busy, " if m.others_cpus is not None else ""
    return f"{busy}load {m.load:.1f} on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds", type=int, default=2, help="processes per tool and file, best kept (default 2)"
    )
    parser.add_argument(
        "--pystdf-limit", type=float, default=240.0, help="seconds pystdf gets per file (default 240)"
    )
    parser.add_argument("--synthetic-mb", type=float, default=80.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--no-pystdf", action="store_true", help="skip pystdf (minutes on the synthetic file)"
    )
    args = parser.parse_args()
    tools = [t for t in TOOLS if not (args.no_pystdf and t == "pystdf")]

    synthetic_path, _ = synthetic.ensure(args.synthetic_mb, args.seed)
    full_path, _ = synthetic.ensure(args.synthetic_mb, args.seed, full=True)
    load_before = os.getloadavg()[0]
    files = real_files()
    rows = []  # (label, size, {tool: Measure | str})
    for path in files:
        print(f"  {path.name} ...", file=sys.stderr, flush=True)
        rows.append(
            (path.name, path.stat().st_size, measure_file(path, tools, args.rounds, args.pystdf_limit))
        )
    total_size = sum(size for _, size, _ in rows)
    totals = {t: combined([r[2][t] for r in rows]) for t in tools}
    synthetic_rows = []
    for label, path in (("synthetic wafer sort, lean PTRs", synthetic_path),
                        ("synthetic wafer sort, full PTRs", full_path)):  # fmt: skip
        print(f"  {path.name} ...", file=sys.stderr, flush=True)
        synthetic_rows.append((f"{label} ({path.name})", path.stat().st_size,
                               measure_file(path, tools, args.rounds, args.pystdf_limit)))  # fmt: skip
    load_after = os.getloadavg()[0]

    def throughput_line(label: str, size: int, by_tool: dict) -> str:
        records = next((m.records for m in by_tool.values() if isinstance(m, Measure) and m.complete), 0)
        cells = [label, f"{size / 1e6:.2f}", f"{records:,}"]
        for tool in tools:
            cells += rate_cells(by_tool[tool], size)
        for tool in ("silicio_1", "silicio"):
            cells += [
                ratio(by_tool[tool], by_tool["stdf_convert"]),
                ratio(by_tool[tool], by_tool["stdf_convert"], True),
            ]
        cells.append(ratio(by_tool["silicio"], by_tool["silicio_1"]))
        if "pystdf" in tools:
            cells.append(ratio(by_tool["silicio_1"], by_tool["pystdf"]))
        loads = [m.load for m in by_tool.values() if isinstance(m, Measure)]
        cells.append(f"{max(loads):.1f}" if loads else "")
        return "| " + " | ".join(cells) + " |"

    def cpu_line(label: str, by_tool: dict) -> str:
        cells = [label] + [f"{m.cpu_seconds:.3f}" if isinstance(m, Measure) else m for m in by_tool.values()]
        return "| " + " | ".join(cells) + " |"

    head = ["file", "MB", "records"]
    for tool in tools:
        head += [f"{LABEL[tool]} MB/s", f"{LABEL[tool]} k rec/s"]
    head += ["1 thread / stdf-convert", "(CPU s)", "threads / stdf-convert", "(CPU s)", "threads / 1 thread"]
    if "pystdf" in tools:
        head.append("1 thread / pystdf")
    head.append("load")
    lines = [
        "# STDF read throughput: silicio vs stdf-convert vs pystdf",
        "",
        f"Run {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} on {machine()}.",
        f"Versions: {versions()}.",
        f"Load average (1 min) before / after: {load_before:.2f} / {load_after:.2f} on {os.cpu_count()} CPUs "
        "(column `load`: the highest at the end of a tool's process on that file). On a busy machine wall times "
        "are mostly waiting for a CPU: the ratios in CPU seconds (every thread of the process) are the fair ones "
        "there, and silicio chooses one thread.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    lines += [throughput_line(*row) for row in rows]
    lines.append(throughput_line(f"**all {len(rows)} real files**", total_size, totals))
    lines += [throughput_line(*row) for row in synthetic_rows]
    lines += ["", "CPU seconds of the best run of each tool (all its threads)", "",
              "| file | " + " | ".join(LABEL[t] for t in tools) + " |", "|---|" + "---|" * len(tools)]  # fmt: skip
    lines.append(cpu_line(f"**all {len(rows)} real files**", totals))
    lines += [cpu_line(label, by_tool) for label, _, by_tool in synthetic_rows]
    lines += [
        "",
        "Peak resident memory in MB of each tool's process (in brackets: above the process after its imports)",
        "",
    ]
    lines += ["| file | " + " | ".join(LABEL[t] for t in tools) + " |", "|---|" + "---|" * len(tools)]
    for label, _, by_tool in [*rows, *synthetic_rows]:
        lines.append(f"| {label} | " + " | ".join(memory_cell(by_tool[t]) for t in tools) + " |")

    lines += ["", "## Targets", ""]
    checked = (("real files (total)", totals), ("synthetic, lean PTRs", synthetic_rows[0][2]),
               ("synthetic, full PTRs", synthetic_rows[1][2]))  # fmt: skip
    for name, by_tool in checked:
        ours, threaded, peer = by_tool["silicio_1"], by_tool["silicio"], by_tool["stdf_convert"]
        if isinstance(ours, Measure) and isinstance(peer, Measure):
            lines.append(f"- {name}, silicio 1 thread / stdf-convert: wall "
                         f"{verdict(peer.seconds / ours.seconds, TARGET_SINGLE_THREAD)}; CPU "
                         f"{verdict(peer.cpu_seconds / ours.cpu_seconds, TARGET_SINGLE_THREAD)}")  # fmt: skip
        if isinstance(threaded, Measure) and isinstance(peer, Measure):
            if idle(threaded):
                lines.append(f"- {name}, silicio threads / stdf-convert (idle machine: {others_text(threaded)}): "
                             f"{verdict(peer.seconds / threaded.seconds, TARGET_THREADS_IDLE)}")  # fmt: skip
            else:
                lines.append(f"- {name}, silicio threads / stdf-convert: {peer.seconds / threaded.seconds:.2f}x, "
                             f"not judged against {TARGET_THREADS_IDLE:g}x: the machine was busy "
                             f"({others_text(threaded)})")  # fmt: skip
        if isinstance(threaded, Measure) and isinstance(ours, Measure):
            lines.append(f"- {name}, silicio threads / 1 thread, CPU seconds: {ours.cpu_seconds / threaded.cpu_seconds:.2f}x "
                         f"(below 1: threads cost CPU); wall {ours.seconds / threaded.seconds:.2f}x")  # fmt: skip
        if "pystdf" in tools:
            ours = by_tool["silicio_1"]
            slow = by_tool["pystdf"]
            if isinstance(ours, Measure) and isinstance(slow, Measure):
                bound = not slow.complete
                lines.append(
                    f"- {name}, silicio / pystdf: {verdict(slow.seconds / ours.seconds, TARGET_VS_PYSTDF, bound)}"
                )
                if bound:
                    estimate = ours.records_per_s() / slow.records_per_s()
                    lines.append(f"  (pystdf stopped at its {args.pystdf_limit:g} s limit after {slow.records:,} records; "
                                 f"at the rate it kept until then the ratio would be about {estimate:.0f}x)")  # fmt: skip
            else:
                lines.append(f"- {name}, silicio / pystdf: not measured ({slow})")

    full_row = synthetic_rows[1][2]
    ours, peer = full_row["silicio_1"], full_row["stdf_convert"]
    if isinstance(ours, Measure) and isinstance(peer, Measure):
        met = "met" if ours.peak_rss_mb <= peer.peak_rss_mb else "NOT met"
        lines.append(f"- peak memory on the full-PTR file: silicio {ours.peak_rss_mb:,.0f} MB "
                     f"(+{ours.peak_rss_mb - ours.baseline_rss_mb:,.0f} above its imports) vs stdf-convert "
                     f"{peer.peak_rss_mb:,.0f} MB (+{peer.peak_rss_mb - peer.baseline_rss_mb:,.0f}): {met}; of silicio's, "
                     f"{ours.baseline_rss_mb:,.0f} MB after its imports (stdf-convert {peer.baseline_rss_mb:,.0f}), "
                     f"+{ours.runtime_rss_mb - ours.baseline_rss_mb:,.0f} MB at the first kernel call "
                     f"({KERNELS_RUNTIME.get(ours.kernels, 'kernels')}), +{ours.peak_rss_mb - ours.runtime_rss_mb:,.0f} "
                     f"MB the read itself")  # fmt: skip
    lines += [
        "",
        "## How this was measured",
        "",
        "- Each tool reads each file in a fresh process (`benchmarks/_measure.py`), so memory figures do not mix; "
        f"silicio and stdf-convert get {args.rounds} such processes each, taking turns, and the best is kept.",
        "- silicio 1 thread: `SILICIO_STDF_THREADS=1`. silicio threads: its own choice, per window, of the CPUs the "
        "other processes leave free (one on a busy machine), types under 16,384 records on one thread.",
        "- silicio: `silicio.stdf.read(path)`, all record types into Arrow tables. stdf-convert: "
        "`stdf_convert.tables(path)`, the same. pystdf: `pystdf.IO.Parser` over the whole file into a sink that "
        "only counts records (it builds no tables, so it does less work than the other two).",
        f"- silicio's kernels: {KERNELS_RUNTIME.get(getattr(full_row['silicio_1'], 'kernels', None), 'unknown')} "
        "(`SILICIO_STDF_KERNELS=jit` measures numba's; `python -m silicio.stdf._aot` builds the others).",
        "- silicio and stdf-convert: one untimed warm-up read first (numba compiles or loads its cached kernels there, "
        "so compilation is excluded), then the best of 20 (files < 1 MB), 10 (< 10 MB) or 3 timed reads.",
        f"- pystdf: one read per file, stopped after {args.pystdf_limit:g} s; a rate marked * is from an "
        "unfinished read, and its ratio is then a lower bound.",
        "- MB = 10^6 bytes of the file; k rec/s = thousands of records per second. The total line divides all "
        "bytes and records by the sum of each tool's best times.",
        "- Peak memory is the process's high-water resident size (VmHWM): interpreter, imports and the tables read.",
        f"- Real files: the uncompressed files of `shared/data/stdf` not marked SYNTHETIC in its MANIFEST.tsv "
        f"(compressed copies hold the same data). Synthetic: `benchmarks/synthetic.py --mb {args.synthetic_mb:g} "
        f"--seed {args.seed}`, 4 sites x 50 PTR per die, later PTRs without limits as testers write them, and the "
        "same with `--full`: every PTR with all its fields (limits, units, formats).",
    ]
    report = "\n".join(lines) + "\n"
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(report)
    print(report)
    print(f"written to {REPORT}", file=sys.stderr)


if __name__ == "__main__":
    main()
