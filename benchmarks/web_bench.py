"""Dashboard benchmark: server time of each page and of its JSON twin, cold and warm, on the demo data.

    python benchmarks/web_bench.py [--warm 30] [--cold 3] [--data DIR]

The demo lake is the demo fab (``silicio.demo.generate_fab`` with its defaults) when it exists,
else a stand-in of demo wafer-sort lots (``--lots`` x ``--wafers`` wafers of about
``0.79 x dies-per-side²`` dies, 12 tests), built once under ``benchmarks/results/web_lake/``.
Requests go through the app in this process (FastAPI's TestClient); the time is the app's own,
from its ``Server-Timing`` header (routing, data, template, JSON), without HTTP transfer.

* **start**: the screening of every product and the overview, which ``silicio serve`` computes
  in the background at start and after an ingest (pages do not wait for it);
* **cold**: the dashboard's cache emptied (but for the screening) before each request, as after
  an ingest: the page reads and computes everything else it needs;
* **warm**: the same request again, as every visit after the first.

Writes ``benchmarks/results/web.md``. Target: warm p95 < 200 ms for every page.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

HERE = Path(__file__).resolve().parent
REPORT = HERE / "results" / "web.md"
LAKE = HERE / "results" / "web_lake" / "data"
TARGET_MS = 200.0


def build_lake() -> tuple[Path, str]:
    from silicio.web.demo import demo_lake

    source = "demo fab (silicio.demo.generate_fab, defaults)"
    data = demo_lake(LAKE)
    return data, source


def server_ms(response) -> float:
    assert response.status_code == 200, (response.request.url, response.status_code, response.text[:300])
    timing = response.headers["Server-Timing"]
    return float(timing.split("dur=")[1])


def pages_of(client) -> list[tuple[str, str]]:
    """(name, path) of every page, on the first wafer-sort lot held (else the first wafer-sort lot),
    its first wafer, its worst test; the API twin of each."""
    overview = client.get("/api/overview").json()
    sorted_lots = [lot for lot in overview["held_lots"] + overview["lots"] if lot["stage"] == "wafer_sort"]
    lot = (sorted_lots or overview["lots"])[0]
    lot_page = client.get(f"/api/lot/{quote(lot['lot_id'], safe='')}", params={"stage": lot["stage"]}).json()
    wafer = lot_page["wafers"][0]["wafer_id"]
    test = lot_page["worst_tests"][0]["test_num"]
    other_test = lot_page["worst_tests"][-1]["test_num"]
    lot_path = f"/lot/{quote(lot['lot_id'], safe='')}"
    wafer_path = f"{lot_path}/wafer/{quote(wafer, safe='')}"
    pages = [
        ("overview", "/"),
        ("lot", f"{lot_path}?stage={lot['stage']}"),
        ("wafer", f"{wafer_path}?stage={lot['stage']}"),
        ("wafer, other test", f"{wafer_path}?stage={lot['stage']}&kind=soft&test={other_test}"),
        ("test", f"/test/{test}"),
        ("PAT", "/pat"),
        ("files", "/files"),
        ("search", f"/search?q={quote(lot['lot_id'][:-1])}"),
    ]
    twins = [(f"{name} (API)", "/api/overview" if path == "/" else "/api" + path) for name, path in pages]
    return pages + twins


def measure(client, dashboard, path: str, warm: int, cold: int) -> tuple[list[float], list[float]]:
    cold_ms = []
    for _ in range(cold):
        dashboard.clear_cache(keep_screening=True)
        cold_ms.append(server_ms(client.get(path)))
    warm_ms = [server_ms(client.get(path)) for _ in range(warm)]
    return cold_ms, warm_ms


def p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm", type=int, default=30, help="warm requests per page")
    parser.add_argument("--cold", type=int, default=3, help="cold requests per page")
    parser.add_argument("--data", type=Path, help="measure this lake instead of the demo lake")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from silicio.web import create_app

    started = time.perf_counter()
    if args.data is not None:
        data, source = args.data, f"the lake in {args.data}"
    else:
        data, source = build_lake()
    print(f"lake ready in {time.perf_counter() - started:.1f} s: {source}", flush=True)
    app = create_app(data)
    rows = []
    with TestClient(app) as client:
        dashboard = app.state.dashboard
        started = time.perf_counter()
        dashboard.warm()
        warm_up_s = time.perf_counter() - started
        print(f"screening and overview at start: {warm_up_s:.1f} s", flush=True)
        sizes = dashboard.overview()
        n_lots, n_dies = len(sizes.lots), sum(lot.final_dies for lot in sizes.lots)
        for name, path in pages_of(client):
            cold_ms, warm_ms = measure(client, dashboard, path, args.warm, args.cold)
            rows.append((name, path, cold_ms, warm_ms))
            print(f"{name:24s} cold p50 {p(cold_ms, 50):8.1f} ms   warm p50 {p(warm_ms, 50):6.1f} p95 "
                  f"{p(warm_ms, 95):6.1f} ms", flush=True)  # fmt: skip

    ok = all(p(warm, 95) < TARGET_MS for _, _, _, warm in rows)
    lines = [
        "# Dashboard server time",
        "",
        f"{datetime.datetime.now().isoformat(timespec='seconds')} · {platform.node()} · "
        f"{platform.processor() or platform.machine()} · {os.cpu_count()} CPUs · Python {platform.python_version()}",
        "",
        f"Data: {source}; {n_lots} lots, {n_dies:,} dies.",
        "",
        f"Server time from the app's Server-Timing header (TestClient, in process). Cold: cache emptied "
        f"(but for the screening) before each of {args.cold} requests; warm: {args.warm} requests after it.",
        "",
        f"The screening of every product (AEC-Q001 PAT, NNR, GDBN) and the overview, computed once at start "
        f"(in the background by `silicio serve`) and after each ingest: **{warm_up_s:.1f} s**.",
        "",
        f"Target warm p95 < {TARGET_MS:.0f} ms on every page: **{'met' if ok else 'NOT met'}**.",
        "",
        "| page | path | cold p50 (ms) | cold max (ms) | warm p50 (ms) | warm p95 (ms) | target |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for name, path, cold_ms, warm_ms in rows:
        verdict = "ok" if p(warm_ms, 95) < TARGET_MS else "**over**"
        lines.append(f"| {name} | `{path}` | {p(cold_ms, 50):.1f} | {max(cold_ms):.1f} | {p(warm_ms, 50):.1f} | "
                     f"{p(warm_ms, 95):.1f} | {verdict} |")  # fmt: skip
    lines += [
        "",
        "Cold times are what the first visitor of a page waits after an ingest.",
        "",
    ]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines))
    print(f"wrote {REPORT}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
