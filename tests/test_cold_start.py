"""What ``silicio`` loads before it does anything, in a fresh interpreter: which modules, not how
long (tests do not time things; the timings are in the commit log and the issue).

``import silicio.cli`` and ``silicio --help`` load typer and click alone; a command loads its own
CLI module and what it calls (``silicio stdf info``: the reader, pyarrow, and numba for a file
above a couple of megabytes), never the areas and extras of the others; the reader's numba
kernels come from numba's on-disk cache. Where the reader's kernels are compiled ahead of time
(``python -m silicio.stdf._aot``), a file of any size loads them, and neither numba nor LLVM; the
tests of numba's ways choose those (``SILICIO_STDF_KERNELS=jit``).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import silicio
from silicio.cli import COMMANDS
from silicio.demo.stdf_demo import write_demo_stdf

#: The ``src`` folder of the silicio under test, for the subprocesses (a worktree or the install).
SOURCE = Path(silicio.__file__).resolve().parents[1]

#: What neither ``import silicio.cli`` nor ``silicio --help`` may load.
HEAVY = (
    "scipy", "duckdb", "sqlalchemy", "polars", "numba", "plotly", "fastapi", "pandas", "pyarrow", "numpy",
    "jinja2", "matplotlib", "networkx", "highspy", "cryptography", "dask", "markdown_it",
)  # fmt: skip
#: The extras' modules, which reading one STDF file never needs.
EXTRAS = ("duckdb", "sqlalchemy", "polars", "plotly", "fastapi", "jinja2", "matplotlib", "networkx",
          "highspy", "cryptography", "dask", "uvicorn", "alembic")  # fmt: skip
#: The reader on numba's kernels (and Python ones for small files), whether or not the kernels
#: compiled ahead of time are built.
JIT = {"SILICIO_STDF_KERNELS": "jit"}
#: The CLI's modules of commands (silicio.cli.stdf, ...), each loaded only by its own commands.
COMMAND_MODULES = {f"silicio.cli.{module}" for module, _, _ in COMMANDS.values()}


def _run(code: str, tmp_path: Path, env: dict[str, str] | None = None) -> tuple[dict, str]:
    """Run ``code`` in a fresh interpreter; its exit code and ``sys.modules`` at exit, and stdout."""
    report = tmp_path / "modules.json"
    script = f"""
import atexit, json, sys
def _report(): open({str(report)!r}, "w").write(json.dumps(sorted(sys.modules)))
atexit.register(_report)
{code}
"""
    environment = {**os.environ, "PYTHONPATH": str(SOURCE), "NO_COLOR": "1", **(env or {})}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment, timeout=600
    )
    modules = set(json.loads(report.read_text()))
    return {"returncode": done.returncode, "modules": modules, "stderr": done.stderr}, done.stdout


def _silicio(tmp_path: Path, *args: str | Path, env: dict[str, str] | None = None) -> tuple[dict, str]:
    """``silicio ARGS`` the way the console script runs it: :func:`silicio.cli.main`."""
    argv = ["silicio", *map(str, args)]
    return _run(f"sys.argv = {argv!r}\nfrom silicio.cli import main\nmain()", tmp_path, env)


def _top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_importing_the_cli_loads_typer_alone(tmp_path):
    run, _ = _run("import silicio.cli", tmp_path)
    assert run["returncode"] == 0, run["stderr"]
    assert sorted(_top_level(run["modules"]) & set(HEAVY)) == []
    assert sorted(m for m in run["modules"] if m.startswith("silicio")) == ["silicio", "silicio.cli"]
    assert "typer" in run["modules"]  # the check sees what was imported


def test_help_loads_no_command_and_nothing_heavy(tmp_path):
    run, out = _silicio(tmp_path, "--help")
    assert run["returncode"] == 0, run["stderr"]
    assert "stdf" in out and "ingest" in out and "Commands:" in out
    assert sorted(_top_level(run["modules"]) & set(HEAVY)) == []
    assert sorted(run["modules"] & COMMAND_MODULES) == []


@pytest.mark.parametrize(("command", "module"), [("stdf", "stdf"), ("ingest", "lake"), ("serve", "web")])
def test_a_commands_help_loads_its_own_module_alone(tmp_path, command, module):
    run, out = _silicio(tmp_path, command, "--help")
    assert run["returncode"] == 0, run["stderr"]
    assert out.startswith("Usage: ")
    assert sorted(run["modules"] & COMMAND_MODULES) == [f"silicio.cli.{module}"]
    assert sorted(_top_level(run["modules"]) & set(HEAVY)) == []


#: What ``silicio stdf info`` on a small file never loads: numba (which imports scipy), pandas
#: (which pyarrow imports for ``to_numpy``, ``pa.scalar``, ``pa.array`` of Python objects),
#: pyarrow.compute and numpy.ma. Together, over two seconds of CPU of a one-second command.
NOT_FOR_A_SMALL_FILE = ("numba", "scipy", "pandas", "llvmlite", "pyarrow.compute", "numpy.ma")


def test_stdf_info_on_a_small_file_loads_neither_numba_nor_pandas(tmp_path):
    from silicio.stdf.reader import PYTHON_KERNELS_MAX_BYTES

    source = write_demo_stdf(tmp_path / "lot.stdf", seed=0)
    assert source.stat().st_size < PYTHON_KERNELS_MAX_BYTES  # read by the Python kernels
    run, out = _silicio(tmp_path, "stdf", "info", source, "--json", env=JIT)
    assert run["returncode"] == 0, run["stderr"]
    summary = json.loads(out)
    assert summary["lot_id"] == "TK41870" and summary["issues"] == [] and summary["parts"] > 0
    assert {"silicio.stdf.reader", "silicio.stdf._python_kernels", "pyarrow"} <= run["modules"]
    assert sorted(m for m in NOT_FOR_A_SMALL_FILE if m in run["modules"]) == []
    assert sorted(_top_level(run["modules"]) & set(EXTRAS)) == []
    assert "silicio.stdf._kernels" not in run["modules"]


def test_stdf_info_on_a_bigger_file_loads_the_reader_and_no_extra_and_its_kernels_come_from_the_cache(
    tmp_path,
):
    from silicio.stdf.reader import PYTHON_KERNELS_MAX_BYTES

    source = write_demo_stdf(tmp_path / "lot.stdf", seed=0, wafers=8, dies_per_side=32)
    assert source.stat().st_size > PYTHON_KERNELS_MAX_BYTES  # read by numba's kernels
    # Once, so that the kernels are in numba's cache whatever ran before; then, from the cache.
    first, _ = _silicio(tmp_path, "stdf", "info", source, "--json", env=JIT)
    assert first["returncode"] == 0, first["stderr"]
    run, out = _silicio(tmp_path, "stdf", "info", source, "--json", env={"NUMBA_DEBUG_CACHE": "1", **JIT})
    assert run["returncode"] == 0, run["stderr"]
    summary = json.loads("\n".join(line for line in out.splitlines() if not line.startswith("[cache]")))
    assert summary["lot_id"] == "TK41870" and summary["issues"] == []

    assert {"silicio.stdf.reader", "silicio.stdf._kernels", "numba", "pyarrow"} <= run["modules"]
    assert sorted(_top_level(run["modules"]) & set(EXTRAS)) == []
    assert sorted(run["modules"] & COMMAND_MODULES) == ["silicio.cli.stdf"]
    areas = {m.split(".")[1] for m in run["modules"] if m.startswith("silicio.") and m.count(".") >= 1}
    assert areas <= {"cli", "stdf", "_lazy", "extras"}, areas

    # numba's cache (beside the kernels' source: src/silicio/stdf/__pycache__ for an editable
    # install, numba's user-wide cache where that is not writable) served every kernel.
    cache_lines = [line for line in out.splitlines() if line.startswith("[cache]")]
    assert any(line.startswith("[cache] data loaded from") and "_kernels" in line for line in cache_lines)
    assert not [line for line in cache_lines if "saved" in line]


JIT_DECORATORS = ("njit", "jit", "vectorize", "guvectorize")


def _is_numba(node: ast.AST) -> bool:
    """``nb.njit`` / ``numba.vectorize`` / a bare ``njit``; not numpy's ``np.vectorize``."""
    if isinstance(node, ast.Attribute):
        return (
            node.attr in JIT_DECORATORS
            and isinstance(node.value, ast.Name)
            and node.value.id in ("nb", "numba")
        )
    return isinstance(node, ast.Name) and node.id in ("njit", "jit")


def _jit_uses(tree: ast.AST):
    """``(line, cache=...)`` of each numba compilation: ``@nb.njit(...)`` calls and bare ``@nb.njit``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _is_numba(node.func):
            yield node.lineno, next((k.value for k in node.keywords if k.arg == "cache"), None)
        elif isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if not isinstance(decorator, ast.Call) and _is_numba(decorator):
                    yield decorator.lineno, None


#: Modules that compile with numba only when silicio is built, never in a command: the wrappers
#: that export the STDF kernels ahead of time (``python -m silicio.stdf._aot``).
BUILD_ONLY = ("silicio/stdf/_aot.py",)


def test_every_kernel_is_compiled_once_into_the_cache():
    # Without cache=True numba compiles a kernel in every process that calls it: seconds per command.
    uncached = []
    for path in sorted((SOURCE / "silicio").rglob("*.py")):
        if path.relative_to(SOURCE).as_posix() in BUILD_ONLY:
            continue
        for line, cache in _jit_uses(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(cache, ast.Constant) and cache.value is True):
                uncached.append(f"{path.relative_to(SOURCE)}:{line}")
    kernels = [
        1 for path in (SOURCE / "silicio").rglob("*.py") for _ in _jit_uses(ast.parse(path.read_text()))
    ]
    assert len(kernels) > 30  # the check finds the kernels (stdf, yields, spc)
    assert uncached == []


def test_stdf_info_with_the_kernels_compiled_ahead_of_time_loads_neither_numba_nor_llvm(tmp_path):
    try:
        import silicio.stdf._native  # noqa: F401
    except ImportError:
        pytest.skip("the STDF kernels compiled ahead of time are not built (python -m silicio.stdf._aot)")
    from silicio.stdf.reader import PYTHON_KERNELS_MAX_BYTES

    source = write_demo_stdf(tmp_path / "lot.stdf", seed=0, wafers=8, dies_per_side=32)
    assert source.stat().st_size > PYTHON_KERNELS_MAX_BYTES  # beyond the Python kernels
    run, out = _silicio(tmp_path, "stdf", "info", source, "--json", env={"SILICIO_STDF_KERNELS": "native"})
    assert run["returncode"] == 0, run["stderr"]
    summary = json.loads(out)
    assert summary["lot_id"] == "TK41870" and summary["issues"] == []
    assert {"silicio.stdf.reader", "silicio.stdf._native", "silicio.stdf._kernels_aot"} <= run["modules"]
    assert sorted(m for m in NOT_FOR_A_SMALL_FILE if m in run["modules"]) == []
    assert "silicio.stdf._kernels" not in run["modules"]


def test_recording_a_lots_hold_loads_neither_the_lake_queries_nor_the_accounts(tmp_path):
    """What the alerts at ingest load to record a held lot (the audit log through the trace store):
    not the trace package's queries on the lake (DuckDB), not the user accounts' store."""
    run, _ = _run(
        "from silicio.trace import disposition\nfrom silicio.trace.store import TraceStore", tmp_path
    )
    assert run["returncode"] == 0, run["stderr"]
    loaded = run["modules"]
    assert sorted(loaded & {"duckdb", "silicio.trace.api", "silicio.lake.queries", "silicio.auth.store",
                            "silicio.auth.passwords"}) == []  # fmt: skip
    assert {"silicio.auth.roles", "silicio.trace.store", "sqlalchemy.orm"} <= loaded  # the check sees
