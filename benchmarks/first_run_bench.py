"""First run of the dashboard: `make run` (``silicio serve --demo``) on an empty folder, the
virtual environment present, as a new user starts it.

    python benchmarks/first_run_bench.py [--out DIR] [--limit 1800]

Measures, from the moment the command starts: the first page answered (the progress page, which
the issue's target is about: < 60 s), the dashboard's pages open with the data (the demo written,
ingested and traced), the PAT screening done; then a restart on the same folder: the first page
and the screening again (kept on disk, so it is read, not computed). Writes
``benchmarks/results/first_run.md`` with the machine's load.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPORT = HERE / "results" / "first_run.md"
TARGET_S = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _progress(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/_progress", timeout=5) as answer:
            return json.load(answer)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def run_once(data: Path, limit: float) -> dict[str, float]:
    port = _free_port()
    silicio = str(Path(sys.executable).parent / "silicio")
    started = time.monotonic()
    process = subprocess.Popen([silicio, "serve", "--demo", "--data", str(data), "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    times: dict[str, float] = {}
    try:
        while time.monotonic() - started < limit:
            state = _progress(port)
            now = time.monotonic() - started
            if state is not None:
                times.setdefault("first page", now)
                if state["error"]:
                    raise RuntimeError(state["error"])
                if state["ready"]:
                    times.setdefault("pages with data", now)
                if all(step["state"] == "done" for step in state["steps"]):
                    times["screening done"] = now
                    break
            time.sleep(0.25)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=None, help="Folder for the demo (default: a temporary one)."
    )
    parser.add_argument("--limit", type=float, default=1800.0, help="Seconds to give one start.")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="silicio-first-run-")) if args.out is None else args.out
    data = folder / "demo-lake"
    load_before = os.getloadavg()
    try:
        first = run_once(data, args.limit)
        again = run_once(data, args.limit)
    finally:
        if args.out is None:
            shutil.rmtree(folder, ignore_errors=True)
    load_after = os.getloadavg()
    lines = [
        "# First run of the dashboard (`silicio serve --demo`, what `make run` runs)",
        "",
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
        f"load {load_before[0]:.1f} before / {load_after[0]:.1f} after (1-min average)",
        "",
        "| seconds from the command | first start (empty folder) | restart (same folder) |",
        "|---|---:|---:|",
    ]
    for key in ("first page", "pages with data", "screening done"):
        lines.append(f"| {key} | {first.get(key, float('nan')):.1f} | {again.get(key, float('nan')):.1f} |")
    verdict = "met" if first.get("first page", 1e9) < TARGET_S else "NOT met"
    lines += ["", f"Target: first page < {TARGET_S:.0f} s on the first start: {verdict}."]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
