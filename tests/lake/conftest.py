"""Fixtures of the lake tests: a throwaway PostgreSQL server, catalog URLs for SQLite and
PostgreSQL, synthetic STDF files, a snapshot of a lake to compare two lakes by, and plugins
registered through entry points as an installed package registers them."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from silicio.lake import Catalog, LakeLayout

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import synthetic  # noqa: E402  (benchmarks/ is not a package)

# PostgreSQL refuses to run as root; the server then runs as this unprivileged user.
_PG_USER_WHEN_ROOT = "nobody"


def _postgres_bin_dir() -> Path | None:
    """Folder of initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(os.path.realpath(on_path)).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server on 127.0.0.1 in a temporary folder, for this test session:
    yields the URL prefix ``postgresql+psycopg://silicio@127.0.0.1:PORT/``."""
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL tests skipped: no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin "
                    "(`make system` installs the Debian package postgresql)")  # fmt: skip
    # Not under pytest's tmp_path: its parents are private to root, and the server may not be root.
    root = Path(tempfile.mkdtemp(prefix="silicio-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        entry = pwd.getpwnam(_PG_USER_WHEN_ROOT)
        os.chown(root, entry.pw_uid, entry.pw_gid)
        as_user = ["runuser", "-u", _PG_USER_WHEN_ROOT, "--"]
    data, log = root / "data", root / "server.log"
    port = _free_port()

    def run(*command: str) -> None:
        done = subprocess.run([*as_user, *command], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            pytest.fail(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}\n{server_log}")

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "silicio", "--auth=trust", "-E", "UTF8", "--no-sync")
    # fsync off: a throwaway server, and the tests share two cores.
    options = f"-p {port} -h 127.0.0.1 -k {root} -F"
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
    try:
        yield f"postgresql+psycopg://silicio@127.0.0.1:{port}/"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def _new_postgres_database(server_url: str) -> str:
    import sqlalchemy as sa

    name = f"lake_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(server_url + "postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url + name


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request, tmp_path) -> str:
    """A fresh, empty catalog database: SQLite in a temporary folder, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    return _new_postgres_database(request.getfixturevalue("postgres_server"))


@pytest.fixture(scope="session")
def synthetic_files(tmp_path_factory):
    """``make(name, mb, seed)``: a synthetic wafer-sort STDF file (benchmarks/synthetic.py),
    built once per session; 1 wafer (~3 MB) at the smallest."""
    folder = tmp_path_factory.mktemp("synthetic")
    made: dict[tuple, Path] = {}

    def make(name: str = "lot", mb: float = 0, seed: int = 1) -> Path:
        key = (name, mb, seed)
        if key not in made:
            path = folder / f"{name}_{mb:g}MB_{seed}.stdf"
            synthetic.build(path, int(mb * 1e6), seed)
            made[key] = path
        return made[key]

    return make


@pytest.fixture(scope="session")
def small_files(tmp_path_factory):
    """``make(seed)``: a small wafer-sort STDF file (the demo lot: one wafer, 32 dies, 5 tests,
    about 6 kB), a different content for each seed."""
    from silicio.demo.stdf_demo import write_demo_stdf

    folder = tmp_path_factory.mktemp("small")

    def make(seed: int) -> Path:
        path = folder / f"small_{seed}.stdf"
        if not path.exists():
            write_demo_stdf(path, seed=seed, wafers=1, dies_per_side=6, tests=5)
        return path

    return make


def lake_snapshot(data_dir: Path, database_url: str | None = None) -> dict:
    """Everything of a lake that must not depend on how it was filled: the catalog rows
    without ingest times, ids and paths, and each Parquet file's relative path and content."""
    layout = LakeLayout.at(data_dir)
    with Catalog(layout.database_url(database_url)) as catalog:
        files = catalog.rows("files", order_by=["sha256"])
        sha_of_id = {row["id"]: row["sha256"] for row in files}
        for row in files:
            for volatile in ("id", "ingested_at", "path"):
                row.pop(volatile)
        records = sorted(
            (sha_of_id[r["file_id"]], r["record_type"], r["count"]) for r in catalog.rows("file_records")
        )
        details = sorted(
            (sha_of_id[r["file_id"]], r["stdf_version"], r["byte_order"]) for r in catalog.rows("stdf_files")
        )
        wafers = sorted(
            (
                sha_of_id[w["file_id"]],
                w["wafer_id"] or "",
                w["parts"],
                w["good_parts"],
                w["dies"],
                w["final_good"],
            )
            for w in catalog.rows("wafers")
        )
        quarantine = sorted(
            (q["sha256"], q["source"] or "", q["offset"], q["record"] or "", q["reason"], q["salvaged"])
            for q in catalog.rows("quarantine")
        )
    parquet = {str(p.relative_to(layout.parquet)): pq.read_table(p) for p in sorted(layout.parquet_files())}
    return {
        "files": files,
        "records": records,
        "details": details,
        "wafers": wafers,
        "quarantine": quarantine,
        "parquet": parquet,
    }


def assert_same_lake(got: dict, expected: dict) -> None:
    for key in ("files", "records", "details", "wafers", "quarantine"):
        assert got[key] == expected[key], f"catalog {key} differ"
    assert sorted(got["parquet"]) == sorted(expected["parquet"]), "Parquet file sets differ"
    for name, table in expected["parquet"].items():
        assert got["parquet"][name].equals(table), f"{name}: Parquet content differs"


def wait_for(condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def register_entry_point(monkeypatch, folder: Path, group: str, name: str, value: str) -> None:
    """Register ``name = value`` in the entry-point ``group`` the way an installed package does:
    a ``*.dist-info`` folder (``METADATA``, ``entry_points.txt``) of a distribution of its own
    under ``folder``, which goes on ``sys.path`` until the test ends. Call it once per plugin."""
    distribution = f"silicio_test_plugin_{uuid.uuid4().hex[:12]}"
    info = folder / f"{distribution}-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{name} = {value}\n")
    monkeypatch.syspath_prepend(str(folder))


@pytest.fixture
def entry_point(monkeypatch, tmp_path):
    """``register(group, name, value)``: :func:`register_entry_point` for this test."""
    folder = tmp_path / "plugins"

    def register(group: str, name: str, value: str) -> None:
        register_entry_point(monkeypatch, folder, group, name, value)

    return register


@pytest.fixture(scope="session")
def snapshot():
    """:func:`lake_snapshot`, for tests to call."""
    return lake_snapshot


@pytest.fixture(scope="session")
def same_lake():
    """:func:`assert_same_lake`, for tests to call."""
    return assert_same_lake


@pytest.fixture(scope="session")
def wait():
    """:func:`wait_for`, for tests to call."""
    return wait_for
