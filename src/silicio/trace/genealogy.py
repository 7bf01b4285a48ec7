"""Genealogy as a graph: lots, wafers, dies, units, reels, shipments and material lots are nodes;
an edge runs from what went in (parent) to what came out (child).

Held as two compressed sparse row (CSR) adjacencies over integer node indices, one downstream
(parent -> children) and one upstream (child -> parents), so a trace is a breadth-first search
where each level is a handful of vectorised numpy operations: a wafer's million-unit
neighbourhood traces in milliseconds (see ``benchmarks/trace_bench.py``).

Forward trace: everything made from a node (which reels and shipments hold units of this wafer
or this material lot). Backward trace: everything a node was made from (which wafers and
material lots fed this returned unit).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Node kinds, upstream first. No other kind is accepted: a typo (``wafr``) is refused, not
#: made into a new kind.
NODE_KINDS = ("material_lot", "lot", "wafer", "die", "assembly_lot", "unit", "reel", "shipment")
#: Kinds whose nodes may feed another node of their own kind: a lot split or merged, a material
#: lot repacked, a reel re-reeled. Every other edge runs from a kind to a later one in
#: :data:`NODE_KINDS`, so a cycle can only form among these.
SAME_KIND_LINKS = ("material_lot", "lot", "assembly_lot", "reel")
#: (kind, neighbour kinds, direction, what it means): a node of ``kind`` has at most one
#: neighbour among ``neighbour kinds`` that way ("up": parents, "down": children).
SINGLE_LINKS = (
    ("die", ("wafer",), "up", "a die comes from one wafer"),
    ("unit", ("die",), "up", "a unit is made from one die"),
    ("die", ("unit",), "down", "a die goes into one unit"),
    ("unit", ("reel", "shipment"), "down", "a unit is packed in one reel (or shipped loose in one shipment)"),
)
#: Node attributes that declare a count of units (a reel's or a shipment's quantity).
QUANTITY_KINDS = ("reel", "shipment")
#: Problems listed in one error before the rest are only counted.
MAX_LISTED = 10


class GenealogyError(ValueError):
    """A node that is not in the genealogy, or edges that do not fit."""


def _csr(src: np.ndarray, dst: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(src, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return indptr, dst[order].astype(np.int64, copy=False)


def _expand(indptr: np.ndarray, indices: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Neighbours of ``nodes`` and, for each, the position in ``nodes`` it came from (no Python loop)."""
    lo, counts = indptr[nodes], indptr[nodes + 1] - indptr[nodes]
    total = int(counts.sum())
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return indices[np.repeat(lo, counts) + offsets], np.repeat(np.arange(nodes.size), counts)


def _distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values (``np.unique`` by sorting: numpy 2's hash-based unique is
    several times slower on these integer keys)."""
    values = np.sort(values)
    if values.size:
        values = values[np.concatenate(([True], values[1:] != values[:-1]))]
    return values


def _reach(indptr: np.ndarray, indices: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask of the nodes reachable from ``starts`` (included), level by level. A node is
    expanded once (``seen``), so even a graph with a cycle ends."""
    seen = np.zeros(n, dtype=bool)
    seen[starts] = True
    frontier = _distinct(starts)
    while frontier.size:
        neighbours, _ = _expand(indptr, indices, frontier)
        neighbours = neighbours[~seen[neighbours]]
        if neighbours.size == 0:
            break
        seen[neighbours] = True
        frontier = _distinct(neighbours)
    return seen


def _levels(n: int, parent: np.ndarray, child: np.ndarray) -> tuple[int, np.ndarray]:
    """Kahn's peeling of a directed graph: (number of levels = nodes on the longest path, mask of
    the nodes never peeled). The mask is empty for a DAG; otherwise it holds every cycle and all
    that lies downstream of one."""
    indeg = np.bincount(child, minlength=n).astype(np.int64)
    indptr, indices = _csr(parent, child, n)
    frontier = np.flatnonzero(indeg == 0)
    peeled = np.zeros(n, dtype=bool)
    levels = 0
    while frontier.size:
        peeled[frontier] = True
        levels += 1
        kids, _ = _expand(indptr, indices, frontier)
        if kids.size == 0:
            break
        uniq, times = np.unique(kids, return_counts=True)
        indeg[uniq] -= times
        frontier = uniq[indeg[uniq] == 0]
    return levels, ~peeled


def _a_cycle(up: tuple[np.ndarray, np.ndarray], stuck: np.ndarray) -> list[int]:
    """One cycle among the ``stuck`` nodes of :func:`_levels`: walk up through stuck parents
    (each stuck node has one) until a node comes back."""
    indptr, indices = up
    node = int(np.flatnonzero(stuck)[0])
    path, where = [], {}
    while node not in where:
        where[node] = len(path)
        path.append(node)
        parents = indices[indptr[node] : indptr[node + 1]]
        node = int(parents[stuck[parents]][0])
    cycle = path[where[node] :][::-1]
    first = cycle.index(min(cycle))  # start at the earliest node, so the message is the same every time
    return cycle[first:] + cycle[:first]


def _listed(problems: list[str]) -> str:
    shown = problems[:MAX_LISTED]
    more = len(problems) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more else "")


def check_kind(kind: Any, where: str = "") -> str:
    """``kind`` when it is one of :data:`NODE_KINDS`; else a :class:`GenealogyError` naming it."""
    if kind not in NODE_KINDS:
        raise GenealogyError(f"{where}unknown node kind {kind!r}; expected one of {', '.join(NODE_KINDS)}")
    return kind


def link_problems(kind_names: Sequence[str], kinds: np.ndarray, names: Sequence[str], parent: np.ndarray,
                  child: np.ndarray, new_from: int = 0, attrs: dict[int, dict] | None = None,
                  touched: np.ndarray | None = None) -> list[str]:  # fmt: skip
    """What is wrong with the edges ``parent[new_from:] -> child[new_from:]`` added to a
    genealogy that already holds the edges before them: self-loops, edges against the flow of
    :data:`NODE_KINDS`, repeated edges, a second die of a unit or a second reel of a unit
    (:data:`SINGLE_LINKS`), cycles, and reels or shipments holding more units than their
    ``quantity`` attribute. ``touched``: node indices the batch created or linked (their
    quantities are checked); by default the new edges' ends. Empty when all is well."""
    kind_names = list(kind_names)
    kinds = np.asarray(kinds)
    n = int(kinds.size)
    parent, child = np.asarray(parent, dtype=np.int64), np.asarray(child, dtype=np.int64)
    new_p, new_c = parent[new_from:], child[new_from:]

    def label(i: int) -> str:
        return f"{kind_names[int(kinds[i])]} {names[i]}"

    problems: list[str] = []
    for i in np.flatnonzero(new_p == new_c)[:MAX_LISTED].tolist():
        problems.append(f"{label(int(new_p[i]))} cannot be made from itself")
    rank = np.array([NODE_KINDS.index(k) if k in NODE_KINDS else -1 for k in kind_names], dtype=np.int64)
    pk, ck = kinds[new_p], kinds[new_c]
    same_ok = np.isin(pk, [kind_names.index(k) for k in SAME_KIND_LINKS if k in kind_names])
    backwards = (new_p != new_c) & ((rank[ck] < rank[pk]) | ((pk == ck) & ~same_ok))
    for i in np.flatnonzero(backwards)[:MAX_LISTED].tolist():
        problems.append(f"{label(int(new_p[i]))} -> {label(int(new_c[i]))}: a "
                        f"{kind_names[int(ck[i])]} cannot be made from a {kind_names[int(pk[i])]} "
                        f"(the flow is {' -> '.join(NODE_KINDS)})")  # fmt: skip
    # Repeated edges: within the batch, or already in the genealogy.
    key = parent * max(n, 1) + child
    uniq, first, counts = np.unique(key, return_index=True, return_counts=True)
    for j in np.flatnonzero(counts > 1)[:MAX_LISTED].tolist():
        p, c = divmod(int(uniq[j]), max(n, 1))
        if int(first[j]) < new_from:
            problems.append(f"{label(p)} -> {label(c)} is already in the genealogy")
        else:
            problems.append(f"{label(p)} -> {label(c)} is given {int(counts[j])} times")
    distinct_p, distinct_c = divmod(uniq, max(n, 1))
    new_nodes = np.zeros(n, dtype=bool)
    new_nodes[new_p] = True
    new_nodes[new_c] = True
    for kind, others, direction, meaning in SINGLE_LINKS:
        if kind not in kind_names:
            continue
        codes = [kind_names.index(k) for k in others if k in kind_names]
        me, them = (distinct_c, distinct_p) if direction == "up" else (distinct_p, distinct_c)
        sel = (kinds[me] == kind_names.index(kind)) & np.isin(kinds[them], codes)
        per_node = np.bincount(me[sel], minlength=n)
        bad = np.flatnonzero((per_node > 1) & new_nodes)
        for i in bad[:MAX_LISTED].tolist():
            linked = sorted(label(int(j)) for j in them[sel & (me == i)].tolist())
            problems.append(f"{label(i)} is linked to {' and '.join(linked)}, but {meaning}")
    if touched is not None:
        new_nodes = np.zeros(n, dtype=bool)
        new_nodes[np.asarray(touched, dtype=np.int64)] = True
    problems += _quantity_problems(kind_names, kinds, distinct_p, distinct_c, attrs or {}, new_nodes, label)
    if not problems:
        _, stuck = _levels(n, parent, child)
        if stuck.any():
            cycle = _a_cycle(_csr(child, parent, n), stuck)
            problems.append("these edges make a cycle (a node made from itself): "
                            + " -> ".join(label(i) for i in [*cycle, cycle[0]]))  # fmt: skip
    return problems


def _quantity_problems(kind_names, kinds, parent, child, attrs, touched, label) -> list[str]:
    """Reels and shipments whose declared ``quantity`` is not a positive whole number, or is less
    than the units linked to them (a reel's unit parents; a shipment's loose units and its reels' units)."""
    if not attrs or "unit" not in kind_names:
        return []
    n = kinds.size
    unit = kind_names.index("unit")
    direct = np.bincount(child[kinds[parent] == unit], minlength=n)
    held = direct.copy()
    if "reel" in kind_names and "shipment" in kind_names:
        reel, ship = kind_names.index("reel"), kind_names.index("shipment")
        via = (kinds[parent] == reel) & (kinds[child] == ship)
        held += np.bincount(child[via], weights=direct[parent[via]], minlength=n).astype(np.int64)
    problems = []
    for i, a in sorted(attrs.items()):
        if "quantity" not in a or kind_names[int(kinds[i])] not in QUANTITY_KINDS or not touched[i]:
            continue
        q = a["quantity"]
        if not isinstance(q, int) or isinstance(q, bool) or q <= 0:
            problems.append(f"{label(i)}: quantity must be a positive whole number of units, got {q!r}")
        elif held[i] > q:
            problems.append(f"{label(i)} declares {q} units but {int(held[i])} are linked to it")
    return problems


@dataclass
class TraceResult:
    """Nodes reached from ``start`` in one direction, by kind. Going forward, ``shipments`` gives
    the reached units each reached shipment may hold and ``customers`` the distinct units each
    customer may have received: a unit counts once per customer however many paths lead there."""

    direction: str
    start: list[tuple[str, str]]
    counts: dict[str, int]
    nodes: dict[str, list[str]]
    shipments: list[dict[str, Any]]
    customers: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"direction": self.direction, "start": [list(s) for s in self.start], "counts": self.counts,
                "nodes": self.nodes, "shipments": self.shipments, "customers": self.customers}  # fmt: skip


class Genealogy:
    """The genealogy graph in memory.

    ``kinds``: node kind codes (index into ``kind_names``), ``names``: node names, ``parent`` /
    ``child``: edge endpoints as node indices. ``attrs`` optionally maps node index -> dict
    (a shipment's customer, for instance). A graph read from a database that was edited around
    the store may hold a cycle: every traversal checks for one first (:meth:`depth`) and refuses.
    """

    def __init__(self, kind_names: Sequence[str], kinds: np.ndarray, names: Sequence[str],
                 parent: np.ndarray, child: np.ndarray, attrs: dict[int, dict] | None = None):  # fmt: skip
        self.kind_names = tuple(kind_names)
        self.kinds = np.asarray(kinds, dtype=np.int16)
        self.names = names if isinstance(names, np.ndarray) else np.asarray(names, dtype=object)
        self.n = int(self.kinds.size)
        if len(self.names) != self.n:
            raise GenealogyError(f"{self.n} node kinds but {len(self.names)} names")
        parent = np.asarray(parent, dtype=np.int64)
        child = np.asarray(child, dtype=np.int64)
        if parent.shape != child.shape:
            raise GenealogyError("parent and child arrays differ in length")
        if parent.size and (min(parent.min(), child.min()) < 0 or max(parent.max(), child.max()) >= self.n):
            raise GenealogyError("an edge names a node index outside the node table")
        self.parent, self.child = parent, child
        self.down = _csr(parent, child, self.n)
        self.up = _csr(child, parent, self.n)
        self.attrs = attrs or {}
        self._index: dict[tuple[int, str], int] | None = None
        self._depth: int | None = None

    @classmethod
    def from_edges(cls, edges: Iterable[tuple[tuple[str, str], tuple[str, str]]],
                   nodes: Iterable[tuple[str, str]] = (), attrs: dict[tuple[str, str], dict] | None = None
                   ) -> Genealogy:  # fmt: skip
        """From ((parent kind, parent name), (child kind, child name)) pairs; small graphs and tests.
        Kinds are checked (:data:`NODE_KINDS`); the links themselves are not (:func:`link_problems`)."""
        index: dict[tuple[str, str], int] = {}

        def node(key: tuple[str, str]) -> int:
            if key not in index:
                check_kind(key[0], f"node {key[1]!r}: ")
                index[key] = len(index)
            return index[key]

        for n in nodes:
            node(tuple(n))
        pairs = [(node(tuple(p)), node(tuple(c))) for p, c in edges]
        keys = list(index)
        kinds = np.array([NODE_KINDS.index(k) for k, _ in keys], dtype=np.int16)
        names = np.array([name for _, name in keys], dtype=object)
        arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        node_attrs = {index[tuple(k)]: v for k, v in (attrs or {}).items() if tuple(k) in index}
        return cls(NODE_KINDS, kinds, names, arr[:, 0], arr[:, 1], node_attrs)

    # -- lookup

    def kind_code(self, kind: str) -> int:
        try:
            return self.kind_names.index(kind)
        except ValueError:
            raise GenealogyError(f"unknown node kind {kind!r}; known: {', '.join(self.kind_names)}") from None

    def index_of(self, kind: str, name: str) -> int:
        """The node index of (kind, name). The lookup table is built on first use."""
        if self._index is None:
            self._index = dict(zip(zip(self.kinds.tolist(), self.names.tolist(), strict=True), range(self.n),
                                   strict=True))  # fmt: skip
        code = self.kind_code(kind)
        i = self._index.get((code, name))
        if i is None:
            raise GenealogyError(f"no {kind} {name!r} in the genealogy")
        return i

    def label(self, i: int) -> str:
        return f"{self.kind_names[int(self.kinds[i])]} {self.names[i]}"

    # -- traversal

    def depth(self) -> int:
        """Nodes on the longest path (computed once). A cycle is a :class:`GenealogyError` naming
        it: the store refuses them, so one here was written around the store."""
        if self._depth is None:
            levels, stuck = _levels(self.n, self.parent, self.child)
            if stuck.any():
                cycle = _a_cycle(self.up, stuck)
                raise GenealogyError("the genealogy has a cycle ("
                                     + " -> ".join(self.label(i) for i in [*cycle, cycle[0]])
                                     + "): it was written around the store; run silicio audit verify")  # fmt: skip
            self._depth = levels
        return self._depth

    def reach(self, starts: Sequence[int], direction: str) -> np.ndarray:
        """Indices of the nodes reached from ``starts`` (which are included), ``forward`` or ``backward``."""
        if direction not in ("forward", "backward"):
            raise GenealogyError(f"direction must be 'forward' or 'backward', got {direction!r}")
        indptr, indices = self.down if direction == "forward" else self.up
        return np.flatnonzero(_reach(indptr, indices, np.asarray(starts, dtype=np.int64), self.n))

    def trace(self, start: Sequence[tuple[str, str]] | tuple[str, str], direction: str = "forward",
              list_limit: int = 1000) -> TraceResult:  # fmt: skip
        """Counts by kind of the nodes reached from ``start`` (one (kind, name) or several), the
        names (up to ``list_limit`` per kind, sorted) and, going forward, the units per shipment
        and per customer."""
        starts = (
            [start] if isinstance(start, tuple) and len(start) == 2 and isinstance(start[0], str) else start
        )
        starts = [tuple(s) for s in starts]
        idx = np.array([self.index_of(k, n) for k, n in starts], dtype=np.int64)
        self.depth()
        reached = self.reach(idx, direction)
        kinds = self.kinds[reached]
        counts, nodes = {}, {}
        for code in np.unique(kinds).tolist():
            members = reached[kinds == code]
            name = self.kind_names[code]
            counts[name] = int(members.size)
            nodes[name] = sorted(self.names[members[:list_limit]].tolist())
        shipments, customers = self._shipment_units(reached) if direction == "forward" else ([], [])
        return TraceResult(direction, starts, counts, nodes, shipments, customers)

    def _unit_shipment_pairs(self, reached: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(shipment, unit) index pairs, each once, for every reached unit and every reached shipment
        it may be in: the pairs flow down the reached part of the graph (unit -> reel -> shipment),
        at most :meth:`depth` levels."""
        ship, unit = self.kind_code("shipment"), self.kind_code("unit")
        mask = np.zeros(self.n, dtype=bool)
        mask[reached] = True
        nodes = reached[self.kinds[reached] == unit]
        units = nodes.copy()
        found_s, found_u = [], []
        for _ in range(self.depth()):
            if nodes.size == 0:
                break
            children, origin = _expand(*self.down, nodes)
            units = units[origin]
            keep = mask[children]
            children, units = children[keep], units[keep]
            # One pair per (node, unit), however many paths lead there. A pair can repeat only
            # when a unit does, which is rare (a reel split in two): skip the sort otherwise.
            if _distinct(units).size < units.size:
                pair = _distinct(children * self.n + units)
                children, units = pair // self.n, pair % self.n
            is_ship = self.kinds[children] == ship
            found_s.append(children[is_ship])
            found_u.append(units[is_ship])
            nodes, units = children[~is_ship], units[~is_ship]
        if not found_s:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        pair = _distinct(np.concatenate(found_s) * self.n + np.concatenate(found_u))
        return pair // self.n, pair % self.n

    def _shipment_units(self, reached: np.ndarray) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Reached units by reached shipment, and distinct reached units by customer."""
        if "shipment" not in self.kind_names or "unit" not in self.kind_names:
            return [], []
        ship = self.kind_code("shipment")
        shipments = reached[self.kinds[reached] == ship]
        if shipments.size == 0:
            return [], []
        s_of, u_of = self._unit_shipment_pairs(reached)
        per_ship = dict(zip(*(a.tolist() for a in np.unique(s_of, return_counts=True)), strict=True))
        out = []
        for s in shipments.tolist():
            row = {"shipment": str(self.names[s]), "units": per_ship.get(s, 0)}
            row.update(self.attrs.get(s, {}))
            out.append(row)
        customer_of = [str(self.attrs.get(s, {}).get("customer", "(unknown)")) for s in shipments.tolist()]
        customers = sorted(set(customer_of))
        ship_code = np.array([customers.index(c) for c in customer_of], dtype=np.int64)
        code = ship_code[np.searchsorted(shipments, s_of)]  # ``reached`` is sorted, so ``shipments`` is
        per_customer = _distinct(code * self.n + u_of) // self.n
        units = np.bincount(per_customer, minlength=len(customers))
        return (sorted(out, key=lambda r: r["shipment"]),
                [{"customer": c, "units": int(units[i])} for i, c in enumerate(customers)])  # fmt: skip
