"""Shared fixtures: the STDF sample files kept beside the repository, and table comparison."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pyarrow as pa
import pytest

#: Real and synthetic STDF files kept in ``shared/`` beside the repository (not in git).
SHARED_STDF_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "stdf"
_STDF_SUFFIXES = {".stdf", ".std", ".gz", ".bz2", ".zip", ".xz"}
_NO_SHARED_STDF = f"no STDF sample files: {SHARED_STDF_DIR} is absent (shared/ sits beside the repository)"


def shared_stdf_paths() -> list[Path]:
    """Every STDF file under ``shared/data/stdf``, by name; empty when the folder is absent."""
    if not SHARED_STDF_DIR.is_dir():
        return []
    return sorted(p for p in SHARED_STDF_DIR.iterdir() if p.is_file() and p.suffix.lower() in _STDF_SUFFIXES)


def shared_stdf(name: str) -> Path:
    """A file of the shared real-data corpus, or a skip saying where it was looked for
    (``SILICIO_STDF_DATA`` names another folder to look in first)."""
    repo = Path(__file__).resolve().parents[1]
    candidates = [Path(os.environ["SILICIO_STDF_DATA"])] if "SILICIO_STDF_DATA" in os.environ else []
    candidates += [SHARED_STDF_DIR, repo / "shared" / "data" / "stdf"]
    for folder in candidates:
        if (folder / name).is_file():
            return folder / name
    missing_shared(
        f"real STDF file {name} not found in {', '.join(map(str, candidates))} (set SILICIO_STDF_DATA)"
    )


#: KLARF inspection results kept in ``shared/`` (MANIFEST.tsv says where each comes from).
SHARED_KLARF_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "klarf"


def shared_klarf(name: str) -> Path:
    """A KLARF file of ``shared/data/klarf``, or a skip (a failure under
    ``SILICIO_REQUIRE_SHARED=1``) saying where it was looked for."""
    path = SHARED_KLARF_DIR / name
    if not path.is_file():
        missing_shared(
            f"KLARF sample file {name} not found in {SHARED_KLARF_DIR} (shared/ sits beside the repository)"
        )
    return path


def missing_shared(message: str) -> None:
    """Skip a test whose shared data is absent; under CI (``SILICIO_REQUIRE_SHARED=1``, where
    shared/ must be there) fail it instead, so a missing corpus cannot pass as green."""
    if os.environ.get("SILICIO_REQUIRE_SHARED") == "1":
        pytest.fail(f"SILICIO_REQUIRE_SHARED=1: {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def shared_stdf_files() -> list[Path]:
    """All the shared STDF files; skips the test when there are none."""
    paths = shared_stdf_paths()
    if not paths:
        missing_shared(_NO_SHARED_STDF)
    return paths


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test asking for ``shared_stdf_file`` runs once per shared STDF file; once, to skip (or
    fail, under ``SILICIO_REQUIRE_SHARED=1``), when there are none."""
    if "shared_stdf_file" in metafunc.fixturenames:
        paths = shared_stdf_paths()
        params = [pytest.param(p, id=p.name) for p in paths] or [pytest.param(None, id="no-shared-data")]
        metafunc.parametrize("shared_stdf_file", params, indirect=True)


@pytest.fixture
def shared_stdf_file(request: pytest.FixtureRequest) -> Path:
    """One shared STDF file (see :func:`pytest_generate_tests`)."""
    if request.param is None:
        missing_shared(_NO_SHARED_STDF)
    return request.param


def canonical(value):
    """A value that compares equal exactly when two read results hold the same data: floats by
    their IEEE bits (so NaN equals NaN and -0.0 differs from 0.0), containers element-wise."""
    if isinstance(value, float):
        return ("float", value.hex() if not math.isnan(value) else "nan")
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def assert_same_tables(got: dict[str, pa.Table], expected: dict[str, pa.Table]) -> None:
    """Same record types, same schemas, same values (NaN equal to NaN), column by column."""
    assert list(got) == list(expected), "record types differ"
    for name, table in expected.items():
        other = got[name]
        assert other.schema.equals(table.schema), f"{name}: schema differs"
        assert other.num_rows == table.num_rows, f"{name}: {other.num_rows} rows, expected {table.num_rows}"
        for column in table.column_names:
            a, b = other.column(column), table.column(column)
            if a.equals(b):
                continue
            # Arrow's equality says NaN != NaN: compare those columns value by value.
            for row, (x, y) in enumerate(zip(a.to_pylist(), b.to_pylist(), strict=True)):
                assert canonical(x) == canonical(y), f"{name}.{column} row {row}: {x!r} != {y!r}"


@pytest.fixture(scope="session")
def same_tables():
    """:func:`assert_same_tables`, for tests to call."""
    return assert_same_tables
