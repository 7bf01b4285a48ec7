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
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Node kinds, upstream first. Any other kind text is accepted and appended.
NODE_KINDS = ("material_lot", "lot", "wafer", "die", "assembly_lot", "unit", "reel", "shipment")


class GenealogyError(ValueError):
    """A node that is not in the genealogy, or edges that do not fit."""


def _csr(src: np.ndarray, dst: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(src, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return indptr, dst[order].astype(np.int64, copy=False)


def _reach(indptr: np.ndarray, indices: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask of the nodes reachable from ``starts`` (included), level by level."""
    seen = np.zeros(n, dtype=bool)
    seen[starts] = True
    frontier = np.unique(starts)
    while frontier.size:
        lo, hi = indptr[frontier], indptr[frontier + 1]
        counts = hi - lo
        total = int(counts.sum())
        if total == 0:
            break
        # Positions lo[i] .. hi[i]-1 of every frontier node, without a Python loop.
        offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        neighbours = indices[np.repeat(lo, counts) + offsets]
        neighbours = neighbours[~seen[neighbours]]
        if neighbours.size == 0:
            break
        seen[neighbours] = True
        frontier = np.unique(neighbours)
    return seen


@dataclass
class TraceResult:
    """Nodes reached from ``start`` in one direction, by kind."""

    direction: str
    start: list[tuple[str, str]]
    counts: dict[str, int]
    nodes: dict[str, list[str]]
    shipments: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"direction": self.direction, "start": [list(s) for s in self.start], "counts": self.counts,
                "nodes": self.nodes, "shipments": self.shipments}  # fmt: skip


class Genealogy:
    """The genealogy graph in memory.

    ``kinds``: node kind codes (index into ``kind_names``), ``names``: node names, ``parent`` /
    ``child``: edge endpoints as node indices. ``attrs`` optionally maps node index -> dict
    (a shipment's customer, for instance).
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

    @classmethod
    def from_edges(cls, edges: Iterable[tuple[tuple[str, str], tuple[str, str]]],
                   nodes: Iterable[tuple[str, str]] = (), attrs: dict[tuple[str, str], dict] | None = None
                   ) -> Genealogy:  # fmt: skip
        """From ((parent kind, parent name), (child kind, child name)) pairs; small graphs and tests."""
        index: dict[tuple[str, str], int] = {}
        kind_names = list(NODE_KINDS)

        def node(key: tuple[str, str]) -> int:
            if key not in index:
                if key[0] not in kind_names:
                    kind_names.append(key[0])
                index[key] = len(index)
            return index[key]

        for n in nodes:
            node(tuple(n))
        pairs = [(node(tuple(p)), node(tuple(c))) for p, c in edges]
        keys = list(index)
        kinds = np.array([kind_names.index(k) for k, _ in keys], dtype=np.int16)
        names = np.array([name for _, name in keys], dtype=object)
        arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        node_attrs = {index[tuple(k)]: v for k, v in (attrs or {}).items() if tuple(k) in index}
        return cls(kind_names, kinds, names, arr[:, 0], arr[:, 1], node_attrs)

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

    # -- traversal

    def reach(self, starts: Sequence[int], direction: str) -> np.ndarray:
        """Indices of the nodes reached from ``starts`` (which are included), ``forward`` or ``backward``."""
        if direction not in ("forward", "backward"):
            raise GenealogyError(f"direction must be 'forward' or 'backward', got {direction!r}")
        indptr, indices = self.down if direction == "forward" else self.up
        return np.flatnonzero(_reach(indptr, indices, np.asarray(starts, dtype=np.int64), self.n))

    def trace(self, start: Sequence[tuple[str, str]] | tuple[str, str], direction: str = "forward",
              list_limit: int = 1000) -> TraceResult:  # fmt: skip
        """Counts by kind of the nodes reached from ``start`` (one (kind, name) or several), the
        names (up to ``list_limit`` per kind, sorted) and, going forward, the units per shipment."""
        starts = (
            [start] if isinstance(start, tuple) and len(start) == 2 and isinstance(start[0], str) else start
        )
        starts = [tuple(s) for s in starts]
        idx = np.array([self.index_of(k, n) for k, n in starts], dtype=np.int64)
        reached = self.reach(idx, direction)
        kinds = self.kinds[reached]
        counts, nodes = {}, {}
        for code in np.unique(kinds).tolist():
            members = reached[kinds == code]
            name = self.kind_names[code]
            counts[name] = int(members.size)
            nodes[name] = sorted(self.names[members[:list_limit]].tolist())
        shipments = self._shipment_units(reached) if direction == "forward" else []
        return TraceResult(direction, starts, counts, nodes, shipments)

    def _shipment_units(self, reached: np.ndarray) -> list[dict[str, Any]]:
        """Reached units held by each reached shipment: unit counts flow down the reached part of
        the graph (unit -> reel -> shipment ...), touching only the reached nodes' edges."""
        if "shipment" not in self.kind_names or "unit" not in self.kind_names:
            return []
        ship, unit = self.kind_code("shipment"), self.kind_code("unit")
        kinds = self.kinds[reached]
        if not np.any(kinds == ship):
            return []
        mask = np.zeros(self.n, dtype=bool)
        mask[reached] = True
        indptr, indices = self.down
        nodes = reached[kinds == unit]
        weights = np.ones(nodes.size)
        totals: dict[int, float] = {}
        while nodes.size:
            lo, counts = indptr[nodes], indptr[nodes + 1] - indptr[nodes]
            total = int(counts.sum())
            if total == 0:
                break
            offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            children = indices[np.repeat(lo, counts) + offsets]
            w = np.repeat(weights, counts)
            keep = mask[children]
            children, w = children[keep], w[keep]
            nodes, inverse = np.unique(children, return_inverse=True)
            weights = np.bincount(inverse, weights=w, minlength=nodes.size)
            is_ship = self.kinds[nodes] == ship
            for s, v in zip(nodes[is_ship].tolist(), weights[is_ship].tolist(), strict=True):
                totals[s] = totals.get(s, 0.0) + v
            nodes, weights = nodes[~is_ship], weights[~is_ship]
        out = []
        for s in reached[kinds == ship].tolist():
            row = {"shipment": str(self.names[s]), "units": int(round(totals.get(s, 0.0)))}
            row.update(self.attrs.get(s, {}))
            out.append(row)
        return sorted(out, key=lambda r: r["shipment"])
