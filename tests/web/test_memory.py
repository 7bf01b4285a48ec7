"""The dashboard's memory stays bounded: a real server (uvicorn in a subprocess) answers 200
different control-chart and lot pages, HTML and JSON, and its peak resident memory (``VmHWM``)
stays under 1.5 GB while its caches stay within the bound ``SILICIO_CACHE_MB`` sets.

The rendered-pages cache used to be bounded by a count (128 pages): with control charts of a
few megabytes each, the server grew past 8 GB after ~60 of them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import silicio
from silicio import lake
from silicio.auth import AuthStore
from silicio.demo import write_demo_stdf

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc/<pid>/status")

LOTS = 25
DIES_PER_SIDE = 10
#: The demo's test program (silicio.demo.stdf_demo.TESTS).
TESTS = (1000, 1010, 2000, 2010, 2100, 3000, 3010, 3100, 4000, 4010, 5000, 5010)
CACHE_MB = 16
PEAK_LIMIT_BYTES = 1.5 * 2**30
START_SECONDS = 120
REQUEST_SECONDS = 120
#: Headers of every request (the API token memory_lake issues).
_HEADERS: dict[str, str] = {}


@pytest.fixture(scope="module")
def memory_lake(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("memory")
    for seed in range(LOTS):
        write_demo_stdf(
            folder / "stdf" / f"lot_{seed}.stdf", seed=100 + seed, wafers=1, dies_per_side=DIES_PER_SIDE
        )
    lake.ingest([folder / "stdf"], folder / "data", workers=1)
    # Every page but the public ones needs an account: the requests carry an admin's API token.
    with AuthStore.at(folder / "data") as store:
        _, secret = store.issue_token(actor="tests", role="admin")
    _HEADERS["Authorization"] = f"Bearer {secret}"
    return folder / "data"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=_HEADERS), timeout=REQUEST_SECONDS
        ) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.fixture(scope="module")
def server(memory_lake):
    """The dashboard over the lake, served by uvicorn in its own process: (base URL, pid)."""
    port = _free_port()
    source = str(Path(silicio.__file__).resolve().parents[1])
    env = {**os.environ, "SILICIO_CACHE_MB": str(CACHE_MB), "PYTHONPATH": source}
    code = ("import sys, uvicorn; from silicio.web import create_app; "
            "uvicorn.run(create_app(sys.argv[1]), host='127.0.0.1', port=int(sys.argv[2]), log_level='warning')")  # fmt: skip
    process = subprocess.Popen([sys.executable, "-c", code, str(memory_lake), str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert process.poll() is None, process.stderr.read().decode(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "the server did not start"
            try:
                if _get(base + "/api/_health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def page_urls(lot_ids: list[str], wafer_ids: dict[str, str]) -> list[str]:
    """200 different pages: control charts of every test (three kinds, three baselines), and per
    lot its page and wafer pages (hard bins, soft bins, a parametric map)."""
    charts = [f"/spc/test/{test}?chart={chart}" + (f"&baseline={baseline}" if baseline else "")
              for test in TESTS for chart in ("imr", "xbar-r", "xbar-s") for baseline in (None, 5, 10)]  # fmt: skip
    lots = []
    for lot_id in lot_ids:
        wafer = f"/lot/{lot_id}/wafer/{wafer_ids[lot_id]}"
        lots += [f"/lot/{lot_id}", wafer, f"{wafer}?kind=soft", f"{wafer}?test=2010"]
    return (charts[:100] + lots[:100])[:200]


def test_memory_stays_bounded_over_200_pages(server, memory_lake):
    base, pid = server
    with lake.open(memory_lake) as db:
        wafers = db.polars("SELECT DISTINCT lot_id, wafer_id FROM parts ORDER BY lot_id").rows()
    wafer_ids = dict(wafers)
    urls = page_urls(sorted(wafer_ids), wafer_ids)
    assert len(set(urls)) == 200
    for url in urls:
        for shown in (url, "/api" + url):  # the page and its JSON twin
            status, body = _get(base + shown)
            assert status == 200, (shown, status, body[:300])
    peak = _status_kib(pid, "VmHWM") * 1024
    status, body = _get(base + "/api/_health")
    caches = json.loads(body)["caches"]
    print(f"peak RSS {peak / 2**20:.0f} MB; caches {caches}")
    assert peak < PEAK_LIMIT_BYTES, f"peak RSS {peak / 2**20:.0f} MB"
    for name, cache in caches.items():
        assert cache["max_bytes"] == CACHE_MB * 2**20, name
        assert 0 < cache["bytes"] <= cache["max_bytes"], (name, cache)
    assert sum(cache["misses"] for cache in caches.values()) >= 200, "every page was computed at least once"
