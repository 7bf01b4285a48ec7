"""Time one STDF reader on one file in this process and print one JSON line.

    python benchmarks/_measure.py TOOL FILE [--runs N] [--time-limit S]

TOOL is ``silicio`` (``silicio.stdf.read``), ``stdf_convert`` (``stdf_convert.tables``) or
``pystdf`` (a full parse into a sink that counts records). Run by ``run.py``, one process per
tool and file, so that the peak resident memory reported belongs to that tool alone.

silicio and stdf_convert get one untimed warm-up read (numba compiles or loads its kernels then),
then ``--runs`` timed reads; the best wall time and the best CPU time (every thread of the
process, ``time.process_time``) are reported, with the 1-minute load average at the end. pystdf gets a single run, stopped at
``--time-limit`` seconds: the JSON then says ``complete: false`` with the records it reached.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import time
from pathlib import Path


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the parent across
    # fork + exec, so every measuring process would report run.py's own peak.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def silicio_reader():
    # The compiled kernels loaded (those compiled ahead of time where built, else numba's), as in
    # a process that has read a few files: a small file would otherwise be decoded by the Python
    # kernels, which spare one cold read numba's load, not the reads measured here
    # (silicio.stdf.reader._kernels_for).
    from silicio.stdf import read, reader

    reader._kernels_for(None)

    def run(path: Path) -> int:
        tables = read(path)
        return sum(t.num_rows for t in tables.values())

    return run


def stdf_convert_reader():
    import stdf_convert

    def run(path: Path) -> int:
        tables = stdf_convert.tables(str(path))
        return sum(t.num_rows for t in tables.values())

    return run


def silicio_kernels() -> str:
    """Which compiled kernels silicio read with: ``native`` (ahead of time) or ``jit`` (numba)."""
    import sys

    return "native" if "silicio.stdf._native" in sys.modules else "jit"


class _TimeUp(Exception):
    pass


def pystdf_parse(path: Path, time_limit: float) -> tuple[int, float, bool]:
    """Records pystdf parsed, seconds taken, and whether it reached the end of the file."""
    from pystdf.IO import Parser

    deadline = time.perf_counter() + time_limit
    count = 0

    class CountingSink:
        def after_send(self, source, data):
            nonlocal count
            count += 1
            if count % 4096 == 0 and time.perf_counter() > deadline:
                raise _TimeUp

    start = time.perf_counter()
    with open(path, "rb") as f:
        parser = Parser(inp=f)
        parser.addSink(CountingSink())
        try:
            parser.parse()
            complete = True
        except _TimeUp:
            complete = False
    return count, time.perf_counter() - start, complete


def other_work():
    """silicio.stdf._cpus.OtherWork, loaded from its file alone: importing the silicio package
    would add its imports to stdf-convert's memory."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "src" / "silicio" / "stdf" / "_cpus.py"
    spec = importlib.util.spec_from_file_location("silicio_cpus", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.OtherWork()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("tool", choices=["silicio", "stdf_convert", "pystdf"])
    parser.add_argument("file", type=Path)
    parser.add_argument("--runs", type=int, default=5, help="timed runs after the warm-up (best is kept)")
    parser.add_argument(
        "--time-limit", type=float, default=240.0, help="pystdf: stop after this many seconds"
    )
    args = parser.parse_args()
    others = (
        other_work()
    )  # other processes' CPU time from here on (this process's imports and reads excluded)

    if args.tool == "pystdf":
        import pystdf.IO  # noqa: F401  imported before the baseline, as the other tools are

        baseline = current_rss_mb()
        cpu_start = time.process_time()
        records, seconds, complete = pystdf_parse(args.file, args.time_limit)
        times, cpu_times = [seconds], [time.process_time() - cpu_start]
    else:
        run = silicio_reader() if args.tool == "silicio" else stdf_convert_reader()
        baseline = current_rss_mb()
        if args.tool == "silicio":  # with numba's kernels, its runtime (LLVM, NRT) starts at the first call
            from silicio.stdf import read

            read(b"\x02\x00\x00\x0a\x02\x04")  # a lone FAR
        runtime = current_rss_mb()
        records = run(args.file)  # warm-up: numba compiles (or loads) its kernels here
        times, cpu_times = [], []
        for _ in range(args.runs):
            gc.collect()
            start, cpu_start = time.perf_counter(), time.process_time()
            run(args.file)  # the result is dropped on return, so runs do not pile up in memory
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
        complete = True
        others_cpus = others.others()
    print(json.dumps({
        "tool": args.tool,
        "file": str(args.file),
        "bytes": args.file.stat().st_size,
        "records": records,
        "complete": complete,
        "best_s": min(times),
        "best_cpu_s": min(cpu_times),  # CPU seconds of all the process's threads: fair on a busy machine
        "load": os.getloadavg()[0],
        "others_cpus": None if args.tool == "pystdf" else others_cpus,
        "runs": len(times),
        "peak_rss_mb": peak_rss_mb(),
        "baseline_rss_mb": baseline,
        "runtime_rss_mb": runtime if args.tool != "pystdf" else baseline,  # after the first kernel call
        "kernels": silicio_kernels() if args.tool == "silicio" else None,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
