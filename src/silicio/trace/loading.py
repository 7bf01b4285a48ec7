"""Genealogy from a CSV file: one edge a row, checked row by row before anything is written.

Columns (a header row): ``parent_kind``, ``parent_name``, ``child_kind``, ``child_name``, and
optionally ``quantity`` (the units the child reel or shipment holds), ``customer`` and
``destination`` (of a child shipment). The file is read by :func:`silicio.tabular.read_table`:
``,`` or ``;`` separated, UTF-8 (with or without BOM) or Windows-1252 as Excel saves it; every
cell is kept as text. Every problem is reported with the file, the row (its line in the file,
1 = the header), the column and what was expected; the rows then go to
:meth:`silicio.trace.TraceStore.add_genealogy` as one batch, which checks the graph as a whole
(cycles, a unit from two dies...).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from silicio.tabular import TableError, read_table

from .genealogy import NODE_KINDS, SAME_KIND_LINKS, GenealogyError, _listed

REQUIRED = ("parent_kind", "parent_name", "child_kind", "child_name")
OPTIONAL = ("quantity", "customer", "destination")
#: Rows read before the file is refused as too large for one batch.
MAX_ROWS = 2_000_000


def _flow_problem(parent_kind: str, child_kind: str) -> str:
    """Why an edge between these kinds cannot be; empty when it can."""
    p, c = NODE_KINDS.index(parent_kind), NODE_KINDS.index(child_kind)
    if c > p or (c == p and parent_kind in SAME_KIND_LINKS):
        return ""
    return (f"a {child_kind} cannot be made from a {parent_kind} (the flow is {' -> '.join(NODE_KINDS)}"
            f"; only {', '.join(SAME_KIND_LINKS)} may feed their own kind)")  # fmt: skip


def read_genealogy_csv(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The keyword arguments of :meth:`~silicio.trace.TraceStore.add_genealogy` (``edges``,
    ``attrs``) for the file, or a :class:`GenealogyError` listing its bad rows."""
    path = Path(path)
    try:
        # decimal given: no cell is a number to convert, so none is sniffed ("1,234" may be a name)
        table = read_table(path, infer=False, decimal=".")
    except TableError as exc:  # said as the rest of this module says it: a file's line is its row
        where = "".join([exc.path, f", row {exc.line}" if exc.line is not None else "",
                         f", column {exc.column}" if exc.column is not None else ""])  # fmt: skip
        raise GenealogyError(f"{where}: {exc.reason}") from None
    if table.data.num_rows > MAX_ROWS:
        raise GenealogyError(f"{path}: more than {MAX_ROWS:,} rows; split it into several loads")
    columns = table.data.column_names
    missing = [c for c in REQUIRED if c not in columns]
    unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
    if missing or unknown:
        what = ([f"missing column(s) {', '.join(missing)}"] if missing else []) + (
            [f"unknown column(s) {', '.join(unknown)}"] if unknown else [])  # fmt: skip
        raise GenealogyError(f"{path}, row 1 (header): {'; '.join(what)}; expected {', '.join(REQUIRED)} "
                             f"and optionally {', '.join(OPTIONAL)}")  # fmt: skip
    problems: list[str] = []
    edges: list[tuple[tuple[str, str], tuple[str, str]]] = []
    attrs: dict[tuple[str, str], dict[str, Any]] = {}
    attr_row: dict[tuple[str, str], int] = {}
    first_row: dict[tuple, int] = {}

    def bad(row: int, column: str, message: str) -> None:
        problems.append(f"{path}, row {row}, column {column}: {message}")

    cells = {c: table.data.column(c).to_pylist() for c in columns}
    for index, row_number in enumerate(table.lines):
        rec = {c: (cells[c][index] or "").strip() for c in columns}
        ok = True
        for side in ("parent", "child"):
            kind, name = rec[f"{side}_kind"], rec[f"{side}_name"]
            if kind not in NODE_KINDS:
                bad(row_number, f"{side}_kind", f"expected one of {', '.join(NODE_KINDS)}, got {kind!r}")
                ok = False
            if not name or not name.isprintable() or len(name) > 200:
                bad(
                    row_number,
                    f"{side}_name",
                    f"expected a name of 1 to 200 printable characters, got {name!r}",
                )
                ok = False
        if not ok:
            continue
        parent, child = (rec["parent_kind"], rec["parent_name"]), (rec["child_kind"], rec["child_name"])
        if parent == child:
            bad(row_number, "child_name", f"{child[0]} {child[1]} cannot be made from itself")
            continue
        flow = _flow_problem(parent[0], child[0])
        if flow:
            bad(row_number, "child_kind", flow)
            continue
        if (parent, child) in first_row:
            problems.append(f"{path}, row {row_number}: repeats the edge of row {first_row[(parent, child)]} "
                            f"({parent[0]} {parent[1]} -> {child[0]} {child[1]})")  # fmt: skip
            continue
        first_row[(parent, child)] = row_number
        edges.append((parent, child))
        node_attrs = _row_attrs(rec, child, row_number, bad)
        if node_attrs is None:
            continue
        if node_attrs:
            if child in attrs and attrs[child] != node_attrs:
                problems.append(f"{path}, row {row_number}: {child[0]} {child[1]} has other quantity, customer "
                                f"or destination than on row {attr_row[child]}")  # fmt: skip
            else:
                attrs[child], attr_row[child] = node_attrs, attr_row.get(child, row_number)
    if problems:
        raise GenealogyError(f"{len(problems)} bad row(s), nothing loaded: {_listed(problems)}")
    if not edges:
        raise GenealogyError(f"{path}: no rows after the header; nothing to load")
    return {"edges": edges, "attrs": attrs}


def _row_attrs(rec: dict[str, str], child: tuple[str, str], row: int, bad) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    q = rec.get("quantity", "")
    if q:
        if child[0] not in ("reel", "shipment"):
            bad(row, "quantity", f"a quantity is given for a reel or shipment child, not a {child[0]}")
            return None
        if not q.isdigit() or int(q) <= 0 or len(q) > 12:
            bad(row, "quantity", f"expected a whole number of units > 0, got {q!r}")
            return None
        out["quantity"] = int(q)
    for field in ("customer", "destination"):
        v = rec.get(field, "")
        if v:
            if child[0] != "shipment":
                bad(row, field, f"a {field} is given for a shipment child, not a {child[0]}")
                return None
            out[field] = v
    return out


__all__ = ["OPTIONAL", "REQUIRED", "read_genealogy_csv"]
