"""Fixtures of the dashboard tests: a small lake (seven demo wafer-sort lots, enough for the
AEC-Q001 / Q002 limits, one salvaged truncated file, one quarantined file), the app over it and
a lake opened for computing the expected numbers directly with silicio.yields."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from silicio import lake
from silicio.demo import write_demo_stdf
from silicio.web import Settings, create_app

LOTS = 7
WAFERS = 2
DIES_PER_SIDE = 12
#: Lots below this final yield are held in the tests (the demo lots yield 92-97 %).
HOLD_YIELD = 0.95
TRUNCATED_SEED = 20  # its own lot, TK41890, cut mid-way: ingested as partial


def build_stdf(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for seed in range(LOTS):
        write_demo_stdf(folder / f"lot_{seed}.stdf", seed=seed, wafers=WAFERS, dies_per_side=DIES_PER_SIDE)
    whole = write_demo_stdf(folder / "whole.tmp", seed=TRUNCATED_SEED, wafers=1, dies_per_side=DIES_PER_SIDE)
    data = whole.read_bytes()
    (folder / "truncated.stdf").write_bytes(data[: len(data) * 2 // 3])
    whole.unlink()
    (folder / "not_stdf.stdf").write_bytes(b"this is a text file that landed on the tester share\n" * 4)
    return folder


@pytest.fixture(scope="session")
def stdf_dir(tmp_path_factory) -> Path:
    return build_stdf(tmp_path_factory.mktemp("stdf"))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory, stdf_dir) -> Path:
    data = tmp_path_factory.mktemp("lake") / "data"
    lake.ingest([stdf_dir], data, workers=1)
    return data


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(hold_yield=HOLD_YIELD)


def signed_in(client: TestClient, role: str = "admin", organisation: str | None = None) -> TestClient:
    """``client`` acting as a new API token of ``role``: every page but the public ones needs an
    account (the access matrix itself is tests/web/test_access_matrix.py)."""
    _, secret = client.app.state.authority.store.issue_token(
        actor="tests", role=role, organisation=organisation
    )
    client.headers["Authorization"] = f"Bearer {secret}"
    return client


@pytest.fixture(scope="session")
def client(data_dir, settings):
    with TestClient(create_app(data_dir, settings=settings)) as test_client:
        yield signed_in(test_client)


@pytest.fixture(scope="session")
def db(data_dir):
    with lake.open(data_dir) as opened:
        yield opened


@pytest.fixture
def lake_copy(tmp_path, data_dir) -> Path:
    """A copy of the lake a test may add files to."""
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    return copy


#: Where the browser tests saved their screenshots (set by them, printed after the run).
SCREENSHOTS_KEY = pytest.StashKey[Path]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    folder = config.stash.get(SCREENSHOTS_KEY, None)
    if folder is not None:
        terminalreporter.write_line(f"dashboard screenshots: {folder}")


#: The Authorization header of each app :func:`serving` runs now, by URL: the browser tests sign in with it.
SERVED_HEADERS: dict[str, dict[str, str]] = {}


def served_headers() -> dict[str, str]:
    """The Authorization header of the app served last (the browser tests' module-scoped server)."""
    return next(reversed(SERVED_HEADERS.values()), {})


@contextmanager
def serving(app) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port in a thread, for the browser tests: its URL
    (an admin API token for it in :data:`SERVED_HEADERS`)."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    _, secret = app.state.authority.store.issue_token(actor="tests", role="admin")
    SERVED_HEADERS[url] = {"Authorization": f"Bearer {secret}"}
    try:
        yield url
    finally:
        SERVED_HEADERS.pop(url, None)
        server.should_exit = True
        thread.join(timeout=10)
