"""Atomicity and concurrency: an ingest killed (SIGKILL) mid-file or between renaming its Parquet
and committing the catalog leaves nothing a later ingest does not clean up, and the lake it then
builds is the one a clean run builds. Two ingests at once record each content once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from silicio.lake import INGESTED, SKIPPED, Catalog, LakeLayout, ingest, recover
from silicio.lake.ingest import PAUSE_BEFORE_COMMIT_ENV
from silicio.lake.layout import LEAN_SUFFIX

#: Small decode windows, so the worker writes Parquet long before the end of the file.
WINDOW = 1 << 20
INGEST_SCRIPT = f"""
import json, sys
from silicio.lake import ingest
report = ingest(sys.argv[2:], sys.argv[1], workers=1, window_bytes={WINDOW})
print(json.dumps([[o.path, o.status] for o in report.outcomes]))
"""


def _start_ingest(data, *paths, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", INGEST_SCRIPT, str(data), *map(str, paths)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})  # fmt: skip


def _kill(process: subprocess.Popen) -> None:
    assert process.poll() is None, "the ingest ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    process.stdout.close()
    process.stderr.close()


@pytest.fixture(scope="module")
def big_file(synthetic_files):
    return synthetic_files("big", 10, 41)


@pytest.fixture(scope="module")
def clean_lake(big_file, tmp_path_factory, snapshot):
    data = tmp_path_factory.mktemp("clean")
    ingest([big_file], data, workers=1, window_bytes=WINDOW)
    return snapshot(data)


def _staged_bytes(data) -> int:
    staging = LakeLayout.at(data).staging
    return sum(p.stat().st_size for p in staging.rglob("*.parquet")) if staging.is_dir() else 0


def test_sigkill_mid_file_then_ingest_again_equals_a_clean_run(big_file, clean_lake, tmp_path, snapshot, same_lake,
                                                               wait):  # fmt: skip
    data = tmp_path / "lake"
    process = _start_ingest(data, big_file)
    wait(lambda: _staged_bytes(data) > 0 or process.poll() is not None, what="Parquet in the staging folder")
    _kill(process)
    layout = LakeLayout.at(data)
    assert _staged_bytes(data) > 0 and not list(layout.parquet_files())
    with Catalog(layout.database_url()) as catalog:
        assert catalog.rows("files") == []

    found = recover(data)
    assert len(found.staging_dirs) == 1 and found.orphans == []
    assert list(layout.staging.iterdir()) == []
    report = ingest([big_file], data, workers=1, window_bytes=WINDOW)
    assert [o.status for o in report.outcomes] == [INGESTED]
    same_lake(snapshot(data), clean_lake)


def test_sigkill_between_rename_and_commit_leaves_orphans_that_are_removed(big_file, clean_lake, tmp_path, snapshot,
                                                                           same_lake, wait):  # fmt: skip
    data = tmp_path / "lake"
    marker = tmp_path / "paused"
    process = _start_ingest(data, big_file, env={PAUSE_BEFORE_COMMIT_ENV: str(marker)})
    wait(lambda: marker.exists() or process.poll() is not None, what="the pause before the commit")
    _kill(process)
    layout = LakeLayout.at(data)
    renamed = sorted(layout.parquet_files())
    assert sorted(str(p.relative_to(layout.parquet)) for p in renamed) == sorted(clean_lake["parquet"])
    assert any(p.name.endswith(LEAN_SUFFIX) for p in renamed)  # both files of a table in two are orphans
    with Catalog(layout.database_url()) as catalog:
        assert catalog.rows("files") == []

    # the next ingest recovers first: the orphans go, then the file comes in whole
    report = ingest([big_file], data, workers=1, window_bytes=WINDOW)
    assert sorted(report.recovery.orphans) == renamed
    assert [o.status for o in report.outcomes] == [INGESTED]
    same_lake(snapshot(data), clean_lake)


def test_two_ingests_at_once_record_each_content_once(small_files, tmp_path, snapshot, same_lake):
    files = [small_files(seed) for seed in (51, 52, 53, 54)]
    data = tmp_path / "lake"
    first = _start_ingest(data, *files[:3])
    second = _start_ingest(data, *files[1:])
    outcomes = []
    for process in (first, second):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        outcomes += json.loads(out.strip().splitlines()[-1])
    statuses = sorted(status for _, status in outcomes)
    assert statuses == sorted([INGESTED] * 4 + [SKIPPED] * 2)
    with Catalog(LakeLayout.at(data).database_url()) as catalog:
        rows = catalog.rows("files")
        assert len(rows) == 4 and len({r["sha256"] for r in rows}) == 4

    clean = tmp_path / "clean"
    ingest(files, clean, workers=1, window_bytes=WINDOW)
    same_lake(snapshot(data), snapshot(clean))
    assert not list(LakeLayout.at(data).staging.iterdir())
