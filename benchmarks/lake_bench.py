"""Lake benchmark: ingest throughput with 1 and 2 workers against the reader alone, and the
DuckDB "yield by wafer" query over the lake, on synthetic wafer-sort STDF (``synthetic.py``).

    python benchmarks/lake_bench.py [--mb 1000] [--files 5] [--seed 7] [--workers 1 2] [--delete-inputs]

The reader is timed before and after the ingests and its mean taken, so a load that changes
during the run weighs on both sides of the ratio; the load average is printed with each step.
The target (issue 15): ingest with 1 worker at >= 0.4x the reader's throughput.

The input files are built once and kept in ``benchmarks/results/lake_inputs/``; each ingest
goes to a fresh temporary data directory. Writes ``benchmarks/results/lake_ingest.md``. The
reader-alone rate is ``silicio.stdf.read`` of every file in this process, one after the other;
the ingest rates include hashing, Parquet writing, the tidy and parts views and the catalog.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import synthetic  # noqa: E402  (benchmarks/ is not a package)

INPUTS = HERE / "results" / "lake_inputs"
REPORT = HERE / "results" / "lake_ingest.md"
YIELD_BY_WAFER = """
SELECT product, lot, wafer_id,
       count(*) AS dies,
       count(*) FILTER (WHERE passed) AS good,
       count(*) FILTER (WHERE passed) / count(*) AS final_yield
FROM parts
WHERE is_last_test
GROUP BY ALL
ORDER BY product, lot, wafer_id
"""


def inputs(total_mb: float, files: int, seed: int) -> list[Path]:
    """``files`` synthetic files of ``total_mb / files`` MB each, built on first use."""
    INPUTS.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(files):
        path = INPUTS / f"lake_{total_mb / files:g}MB_seed{seed + i}.stdf"
        if not path.exists():
            partial = path.with_suffix(".partial")
            synthetic.build(partial, int(total_mb / files * 1e6), seed + i)
            partial.rename(path)
        paths.append(path)
    return paths


def cpu_seconds() -> float:
    """CPU seconds of this process (all its threads) and of its finished worker processes."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def read_alone(paths: list[Path]) -> tuple[float, float, int]:
    """Seconds, CPU seconds and records to read every file with the reader (one warm-up read
    first)."""
    from silicio.stdf import read

    read(paths[0])  # numba kernels loaded, file in the page cache
    records = 0
    started, cpu = time.perf_counter(), cpu_seconds()
    for path in paths:
        tables = read(path)
        records += sum(t.num_rows for t in tables.values())
        del tables
    return time.perf_counter() - started, cpu_seconds() - cpu, records


def ingest_into(data: Path, paths: list[Path], workers: int) -> tuple[float, float, int]:
    from silicio.lake import INGESTED, ingest

    started, cpu = time.perf_counter(), cpu_seconds()
    report = ingest(paths, data, workers=workers)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    bad = [o for o in report.outcomes if o.status != INGESTED]
    if bad:
        raise SystemExit(f"ingest failed: {bad}")
    return seconds, cpu, report.records


#: A step shown within the one above it, not added to the total.
_BUILT_ALONE = "(of which: the views built, without writing)"


def ingest_phases(path: Path, rounds: int = 2) -> list[tuple[str, float]]:
    """CPU seconds of what an ingest does with one file, step by step, done here one after the
    other (best of ``rounds``): where an ingest's time goes beyond reading."""
    import pyarrow as pa

    from silicio.lake.ingest import _keep_freed_memory, _ParquetWrites, _StagedTables, file_sha256, ingest
    from silicio.lake.sources.stdf import _TIDY_PIECE_ROWS
    from silicio.stdf import read
    from silicio.stdf.tidy import stored_parts_and_tidy

    def write_all(folder: Path, tables) -> None:
        """As the ingest writes them (one thread per table, row groups gathered): every thread's CPU counts."""
        writes = _ParquetWrites()
        staged = _StagedTables("stdf", folder, writes)
        for name, table in tables.items():
            staged.write(name, table)
        staged.close()
        writes.finish()

    def write_pieces(folder: Path, pieces) -> None:
        writes = _ParquetWrites()
        staged = _StagedTables("stdf", folder, writes)
        for piece in pieces:
            staged.write("tidy", piece)
        staged.close()
        writes.finish()

    best: dict[str, float] = {}
    # The ingest's memory settings (glibc keeps freed memory, Arrow allocates from it), as
    # stage_file sets them, for every step.
    _keep_freed_memory()
    pool = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    with tempfile.TemporaryDirectory(prefix="lake_phases_") as scratch:
        folder = Path(scratch)
        for round_ in range(rounds):
            steps = {}
            cpu = time.process_time()
            tables = read(path)
            steps["read (silicio.stdf.read)"] = time.process_time() - cpu
            cpu = time.process_time()
            file_sha256(path)
            steps["SHA-256 of the file"] = time.process_time() - cpu
            cpu = time.process_time()
            write_all(folder, tables)
            steps["Parquet of every record type"] = time.process_time() - cpu
            # As the ingest does: the tidy view built in pieces, each written while the next is
            # built. Building alone (each piece dropped once made; keeping them all would count
            # page faults the ingest does not have) is shown beside it, not added.
            cpu = time.process_time()
            parts_table, _, pieces = stored_parts_and_tidy(tables, _TIDY_PIECE_ROWS)
            write_all(folder, {"parts": parts_table})
            write_pieces(folder, pieces)
            steps["parts and tidy views, built and written"] = time.process_time() - cpu
            cpu = time.process_time()
            parts_table, _, pieces = stored_parts_and_tidy(tables, _TIDY_PIECE_ROWS)
            for _piece in pieces:
                pass
            steps[_BUILT_ALONE] = time.process_time() - cpu
            del tables, parts_table, pieces
            cpu = time.process_time()
            ingest([path], folder / f"lake{round_}", workers=1)
            steps["whole ingest (1 worker)"] = time.process_time() - cpu
            for step, seconds in steps.items():
                best[step] = min(best.get(step, float("inf")), seconds)
    pa.set_memory_pool(pool)
    steps_total = sum(v for k, v in best.items() if not k.startswith("whole") and k != _BUILT_ALONE)
    rows = list(best.items())
    rows.insert(-1, ("rest (catalog and its creation, yields, wafer rows)", best[rows[-1][0]] - steps_total))
    return rows


def query_times(data: Path, rounds: int = 5) -> tuple[float, float, int]:
    """First (cold) and best later time of the yield-by-wafer query, and its rows."""
    from silicio.lake import open as open_lake

    with open_lake(data) as lake:
        lake.refresh()  # views made before timing
        started = time.perf_counter()
        rows = lake.rows(YIELD_BY_WAFER)
        first = time.perf_counter() - started
        best = float("inf")
        for _ in range(rounds):
            started = time.perf_counter()
            lake.rows(YIELD_BY_WAFER)
            best = min(best, time.perf_counter() - started)
    return first, best, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mb", type=float, default=1000, help="total size of the input files in MB (default 1000)"
    )
    parser.add_argument("--files", type=int, default=5, help="number of input files (default 5)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="ingest runs (default: 1 2)")
    parser.add_argument("--no-phases", dest="phases", action="store_false",
                        help="skip the step-by-step CPU seconds of one file's ingest")  # fmt: skip
    parser.add_argument("--delete-inputs", action="store_true", help="delete the input files at the end")
    parser.add_argument(
        "--report", type=Path, default=REPORT, help=f"where the table goes (default {REPORT})"
    )
    args = parser.parse_args()

    paths = inputs(args.mb, args.files, args.seed)
    size = sum(p.stat().st_size for p in paths)
    print(f"{len(paths)} files, {size / 1e6:,.0f} MB", flush=True)
    phases = ingest_phases(paths[0]) if args.phases else []
    phases_load = os.getloadavg()[0]
    load_before = os.getloadavg()[0]
    read_s, read_cpu, records = read_alone(paths)
    print(f"reader alone: {read_s:.1f} s, {read_cpu:.1f} s CPU (load {os.getloadavg()[0]:.2f})", flush=True)
    rows = [("reader alone (`silicio.stdf.read`), before the ingests", read_s, read_cpu, records)]
    query, lake_mb = None, 0.0
    for workers in args.workers:
        data = Path(tempfile.mkdtemp(prefix=f"lake_bench_{workers}w_"))
        try:
            seconds, cpu, ingested = ingest_into(data, paths, workers)
            print(f"ingest, {workers} worker(s): {seconds:.1f} s, {cpu:.1f} s CPU (load {os.getloadavg()[0]:.2f})",
                  flush=True)  # fmt: skip
            rows.append((f"ingest, {workers} worker{'s' if workers > 1 else ''}", seconds, cpu, ingested))
            if workers == 1:
                query = query_times(data)
                lake_mb = sum(p.stat().st_size for p in data.rglob("*.parquet")) / 1e6
        finally:
            shutil.rmtree(data, ignore_errors=True)
    again_s, again_cpu, _ = read_alone(paths)
    print(
        f"reader alone, again: {again_s:.1f} s, {again_cpu:.1f} s CPU (load {os.getloadavg()[0]:.2f})",
        flush=True,
    )
    rows.insert(1, ("reader alone, after the ingests", again_s, again_cpu, records))
    read_s, read_cpu = (read_s + again_s) / 2, (read_cpu + again_cpu) / 2
    load_after = os.getloadavg()[0]
    if args.delete_inputs:
        for path in paths:
            path.unlink()

    lines = [
        "# Lake ingest benchmark",
        "",
        f"{datetime.date.today()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}. Input: {len(paths)} synthetic wafer-sort files "
        f"(`benchmarks/synthetic.py`), {size / 1e6:,.0f} MB, {records:,} records. Lake: {lake_mb:,.0f} MB of Parquet.",
        f"Load average (1 min) before / after: {load_before:.2f} / {load_after:.2f} on {os.cpu_count()} CPUs: on a "
        "busy machine wall times are mostly waiting for a CPU, and the CPU-second ratio is the fair one.",
        "",
        "Ratios are against the mean of the two reader runs.",
        "",
        "| run | seconds | CPU seconds | MB/s | records/s | vs reader alone | in CPU seconds |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, seconds, cpu, count in rows:
        lines.append(f"| {label} | {seconds:.2f} | {cpu:.2f} | {size / 1e6 / seconds:,.1f} | {count / seconds:,.0f} | "
                     f"{read_s / seconds:.2f}x | {read_cpu / cpu:.2f}x |")  # fmt: skip
    one = next((r for r in rows if r[0] == "ingest, 1 worker"), None)
    if one is not None:
        lines += ["", f"Ingest with 1 worker: {read_s / one[1]:.2f}x the reader's throughput (wall), "
                      f"{read_cpu / one[2]:.2f}x in CPU seconds; target 0.4x."]  # fmt: skip
    if phases:
        read_step = phases[0][1]
        lines += ["", f"Where an ingest's CPU goes, step by step on one file ({paths[0].name}, "
                      f"{paths[0].stat().st_size / 1e6:,.0f} MB; best of 2; load {phases_load:.2f}):", "",
                  "| step | CPU seconds | x the read |", "|---|---:|---:|"]  # fmt: skip
        lines += [f"| {step} | {seconds:.2f} | {seconds / read_step:.2f}x |" for step, seconds in phases]
    first, best, groups = query if query is not None else (float("nan"), float("nan"), 0)
    lines += [
        "",
        f"DuckDB yield by wafer over the lake's `parts` view ({groups} wafers): first run {first * 1000:.0f} ms, "
        f"best of 5 later runs {best * 1000:.0f} ms.",
        "",
        "Ingest includes hashing, Parquet for every record type, the `tidy_results` and `parts` tables and the catalog;",
        "with 2 workers it also includes starting the worker processes (spawn).",
        "",
    ]
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
