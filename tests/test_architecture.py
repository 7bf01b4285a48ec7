"""The layout rules of the code itself: SQL only in the lake, imports only downward, one test order.

These read the source (``ast``), so they hold whatever a test run happens to import.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx

SRC = Path(__file__).resolve().parents[1] / "src" / "silicio"

# A string that is a statement of SQL: it starts with one of these (upper case, as silicio writes SQL).
_SQL_START = re.compile(r"^\s*(SELECT\s|INSERT\s+INTO\s|UPDATE\s+\S+\s+SET\s|DELETE\s+FROM\s|WITH\s+\w+\s+AS\s*\(|"
                        r"CREATE\s+(TABLE|VIEW|INDEX|OR)\s|DROP\s+(TABLE|VIEW)\s|ALTER\s+TABLE\s)")  # fmt: skip
# ... or holds a clause no English sentence has.
_SQL_CLAUSE = re.compile(
    r"\b(FROM\s+\w+\s+\w+\s+JOIN|JOIN\s+\w+\s+\w+\s+ON|GROUP\s+BY|ORDER\s+BY|NULLS\s+LAST)\b"
)

# Packages that sit below the areas, and the modules at the top level every package may use.
_BOTTOM = {"stdf": set(), "lake": {"stdf"}}
_SHARED = {"datadir", "extras", "plugins", "tabular", "_lazy", "__init__", "__main__"}
_TOP = {"web", "cli"}


def _modules() -> list[tuple[str, Path]]:
    """(package, path) of every module: the package is the first folder under silicio/."""
    out = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC)
        package = relative.parts[0] if len(relative.parts) > 1 else relative.stem
        out.append((package, path))
    return out


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every string literal but docstrings; an f-string as its literal parts joined."""
    docstrings = _docstring_nodes(tree)
    out = []
    in_fstring = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                in_fstring.add(id(value))
                parts.append(value.value if isinstance(value, ast.Constant) else "x")
            out.append((node.lineno, "".join(parts)))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in docstrings and id(node) not in in_fstring):  # fmt: skip
            out.append((node.lineno, node.value))
    return out


def _is_sql(text: str) -> bool:
    return bool(_SQL_START.search(text) or _SQL_CLAUSE.search(text))


def test_sql_detector_finds_sql_and_not_prose():
    assert _is_sql("SELECT a FROM b")
    assert _is_sql("  WITH t AS (SELECT 1) SELECT * FROM t")
    assert _is_sql("x FROM tidy t JOIN files f ON f.sha256 = t.file_sha256")
    assert _is_sql("ORDER BY f.started NULLS LAST")
    assert not _is_sql("Select a lot from the list")
    assert not _is_sql("the files in the order they were tested")


def test_no_sql_outside_the_lake():
    found = []
    for package, path in _modules():
        if package == "lake":
            continue
        for line, text in _strings(ast.parse(path.read_text(encoding="utf-8"))):
            if _is_sql(text):
                found.append(f"{path.relative_to(SRC.parent)}:{line}: {text.strip()[:70]!r}")
    assert not found, "SQL outside src/silicio/lake/ (use silicio.lake.queries):\n" + "\n".join(found)


def _imports(path: Path) -> set[str]:
    """silicio packages (or top-level modules) a module imports, wherever the import statement is."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    relative = path.relative_to(SRC)
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = list(relative.parts[:-1])[: len(relative.parts) - node.level]
                target = [*base, *(node.module.split(".") if node.module else [])]
                if not target:  # "from . import x" at the top level
                    target = [alias.name for alias in node.names][:1]
                names = ["silicio." + ".".join(target)]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "silicio" and len(parts) > 1:
                out.add(parts[1])
    return out


def _package_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for package, path in _modules():
        graph.add_node(package)
        for target in _imports(path):
            if target != package:
                graph.add_edge(package, target)
    return graph


def test_packages_import_only_downward():
    graph = _package_graph()
    problems = []
    for package, allowed in _BOTTOM.items():
        for target in graph.successors(package):
            if target not in allowed | _SHARED:
                problems.append(f"{package} imports {target}: {package} may import only {sorted(allowed)}")
    for package in graph.nodes:
        if package in _TOP:
            continue
        for target in graph.successors(package):
            if target in _TOP:
                problems.append(f"{package} imports {target}: only web and cli sit above the areas")
    assert not problems, "\n".join(problems)
    cycles = list(nx.simple_cycles(graph.subgraph(n for n in graph.nodes if n not in _SHARED)))
    assert not cycles, f"packages import each other in a circle: {cycles}"


def test_test_order_is_written_once():
    pattern = re.compile(r"started\s+NULLS\s+LAST", re.IGNORECASE)
    places = [
        str(path.relative_to(SRC.parent))
        for _, path in _modules()
        for _, text in _strings(ast.parse(path.read_text(encoding="utf-8")))
        if pattern.search(text)
    ]
    assert places == ["silicio/lake/queries/__init__.py"], places
