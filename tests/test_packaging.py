"""The package as users install it: a light core, and extras that say what they are for.

``pip install silicio`` reads, writes and converts STDF with numpy, numba, pyarrow, typer and rich
alone; the rest comes with extras (``pyproject.toml``), which :mod:`silicio.extras` lists too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import silicio
from silicio.demo.stdf_demo import simulate_lot, write_demo_stdf
from silicio.extras import EXTRAS
from silicio.stdf import read

REPO = Path(__file__).resolve().parents[1]
#: The ``src`` folder of the silicio under test, for the subprocesses (a worktree or the install).
SOURCE = Path(silicio.__file__).resolve().parents[1]

#: What the core must not load or install: the heavy dependencies of the extras.
HEAVY = ("scipy", "sqlalchemy", "fastapi", "dask", "distributed", "matplotlib", "polars", "duckdb", "pandas")


def _top_level_modules(script: str) -> set[str]:
    """Top-level names in ``sys.modules`` after ``script`` ran in a fresh interpreter."""
    code = script + "\nimport json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    env = {**os.environ, "PYTHONPATH": str(SOURCE)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_reading_and_converting_stdf_loads_nothing_heavy(tmp_path):
    source = write_demo_stdf(tmp_path / "lot.stdf", seed=3)
    # What our own dependencies load, measured, not assumed: numba imports scipy when it is installed,
    # and pyarrow imports pandas (when installed) the first time it converts Python or numpy data.
    dependencies_load = _top_level_modules("import numba, numpy, pyarrow\npyarrow.array(numpy.arange(3))")
    loaded = _top_level_modules(
        textwrap.dedent(f"""
        import silicio, silicio.stdf
        from silicio.stdf.convert import convert
        from silicio.stdf.summary import summarize
        tables = silicio.stdf.read({str(source)!r})
        summarize(tables)
        silicio.stdf.tidy(tables)
        convert({str(source)!r}, {str(tmp_path / "parquet")!r}, "parquet", tidy=True)
        convert({str(source)!r}, {str(tmp_path / "csv")!r}, "csv")
        # and the command line's way to the same: `silicio stdf info` and `silicio stdf convert`
        from silicio.cli import app
        for args in (["stdf", "info", {str(source)!r}],
                     ["stdf", "convert", {str(source)!r}, {str(tmp_path / "cli")!r}, "--to", "parquet"]):
            try:
                app(args)
            except SystemExit as exc:
                assert exc.code in (0, None), exc.code
        """)
    )
    assert (tmp_path / "parquet" / "tidy.parquet").is_file() and (tmp_path / "cli" / "PTR.parquet").is_file()
    assert "silicio" in loaded and "numba" in loaded
    assert sorted(loaded & set(HEAVY) - dependencies_load) == []


def _module_names(requirement: str) -> tuple[str, ...]:
    """Import names a requirement of pyproject.toml installs (``dask[distributed]>=...``: two)."""
    name = requirement.split(">")[0].split("=")[0].split("<")[0].strip()
    base, _, extras = name.partition("[")
    # a distribution whose import name is not its own: scikit-learn is imported as sklearn
    modules = ({"scikit-learn": "sklearn"}.get(base, base.lower().replace("-", "_")),)
    return modules + (("distributed",) if base == "dask" and "distributed" in extras else ())


def test_extras_of_pyproject_and_of_silicio_extras_agree():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert [r.split(">")[0] for r in project["dependencies"]] == [
        "numpy",
        "numba",
        "pyarrow",
        "typer",
        "rich",
    ]
    declared = project["optional-dependencies"]
    assert set(declared) == set(EXTRAS) | {"all", "dev"}
    assert declared["all"] == [f"silicio[{','.join(EXTRAS)}]"]
    for extra, spec in EXTRAS.items():
        modules, includes = [], []
        for requirement in declared[extra]:
            if requirement.startswith("silicio["):
                includes += requirement.removeprefix("silicio[").removesuffix("]").split(",")
            else:
                modules += _module_names(requirement)
        assert (tuple(modules), tuple(includes)) == (spec.modules, spec.includes), extra


# -- a fresh virtual environment with only `pip install <repo>` -------------------------------------

#: CI (and whoever sets SILICIO_REQUIRE_SHARED=1) must run the fresh-venv test, never skip it.
MUST_RUN = os.environ.get("SILICIO_REQUIRE_SHARED") == "1" or os.environ.get("CI") == "true"


def _plain_env() -> dict[str, str]:
    """The environment without what would lead the venv's Python to this checkout or to user packages."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return env | {"PYTHONNOUSERSITE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "NO_COLOR": "1"}


def _run(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, env=_plain_env(), timeout=timeout
    )


def _copy_tracked_files(destination: Path) -> None:
    """The repository's tracked files (no egg-info, caches or .venv of this checkout)."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True)
    for name in listed.stdout.decode().split("\0"):
        if name and (REPO / name).is_file():  # a file deleted but not yet committed is skipped
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, destination / name)


@pytest.mark.slow
def test_core_install_in_a_fresh_venv_reads_and_converts_stdf(tmp_path):
    venv = tmp_path / "venv"
    made = _run(sys.executable, "-m", "venv", venv)
    assert made.returncode == 0, made.stderr
    python, command = venv / "bin" / "python", venv / "bin" / "silicio"
    probe = _run(python, "-m", "pip", "download", "--no-deps", "--dest", tmp_path / "probe", "iniconfig",
                 timeout=120)  # fmt: skip
    if probe.returncode != 0:
        reason = f"no package index reachable (pip download iniconfig failed: {probe.stderr.strip()[-300:]})"
        if MUST_RUN:
            pytest.fail(reason)
        pytest.skip(reason)

    source = tmp_path / "source"
    _copy_tracked_files(source)
    installed = _run(python, "-m", "pip", "install", "--quiet", source, timeout=900)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    # None of the extras' modules came with the core.
    everything_optional = sorted({m for spec in EXTRAS.values() for m in spec.modules} | set(HEAVY))
    check = "import importlib.util, json, sys; print(json.dumps([m for m in sys.argv[1:] if importlib.util.find_spec(m)]))"
    found = _run(python, "-c", check, *everything_optional)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == []

    stdf_file = write_demo_stdf(tmp_path / "lot.stdf", seed=5)
    lot, tables = simulate_lot(seed=5), read(stdf_file)
    info = _run(command, "stdf", "info", stdf_file, "--json")
    assert info.returncode == 0, info.stderr
    summary = json.loads(info.stdout)
    assert (summary["lot_id"], summary["parts"], summary["good_parts"]) == (
        lot.lot_id,
        lot.parts,
        lot.good_parts,
    )

    out = tmp_path / "parquet"
    converted = _run(command, "stdf", "convert", stdf_file, out, "--to", "parquet", "--tidy")
    assert converted.returncode == 0, converted.stderr
    assert {name: pq.read_table(out / f"{name}.parquet").num_rows for name in tables} == {
        name: table.num_rows for name, table in tables.items()
    }
    assert (out / "tidy.parquet").is_file()

    # What needs an extra says which, in one line, with the exit status of bad input.
    for args, extra in (
        (["stdf", "convert", stdf_file, tmp_path / "xlsx", "--to", "xlsx"], "xlsx"),
        (["serve"], "web"),
        (["ingest", stdf_file, "--data", tmp_path / "lake"], "lake"),
        (["spc", "chart", stdf_file, "--column", "x"], "lake"),
    ):
        done = _run(command, *args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, (args, done.stderr)
        assert lines[0].startswith("error: ") and lines[0].endswith(f"pip install 'silicio[{extra}]'"), lines
    assert not (tmp_path / "xlsx").exists() and not (tmp_path / "lake").exists()
    assert _run(command, "--help").returncode == 0
