"""Time-to-recover / time-to-survive stress test of a multi-tier supply network: one linear
program per disrupted node (or facility), solved with HiGHS.

For a disruption ``n`` that stops the nodes ``S(n)`` for their time to recover ``t(n)``:

* **TTR model** (performance impact): ``P(n) = min sum_{j in V} f_j l_j`` subject to
  ``u_j - sum_{i in P_jk} y_ij / r_kj <= 0`` (BOM, ``j`` in ``D``, ``k`` in ``N-(j)``),
  ``sum_{j in N+(i)} y_ij - u_i <= s_i`` (flow and inventory, ``i`` in ``U``),
  ``u_j = 0`` (``j`` in ``S(n)``), ``l_j + u_j + s_j >= d_j t(n)`` (demand, ``j`` in ``V``),
  ``u_j <= c_j t(n)`` (capacity), ``l, u, y >= 0``.
* **TTS model** (time to survive): ``max t`` subject to the same constraints with ``l = 0``:
  ``u_j + s_j >= d_j t`` and ``u_j <= c_j t``.
* **Risk exposure index**: ``REI(n) = P(n) / max_m P(m)``; a disruption whose time to survive
  is shorter than its time to recover is a material exposure (``flagged``).

``f`` profit per unit, ``d`` demand and ``c`` capacity per week, ``s`` inventory, ``r_kj``
units of material ``k`` per unit of ``j``; ``V`` products (sinks), ``D`` nodes with inputs,
``U`` nodes with children; ``u`` production, ``y`` shipments, ``l`` lost sales.

References
----------
Simchi-Levi, D., Schmidt, W., Wei, Y., Zhang, P. Y., Combs, K., Ge, Y., Gusikhin, O., Sanders,
M., Zhang, D. "Identifying Risks and Mitigating Disruptions in the Automotive Supply Chain",
*Interfaces* 45(5), 375-390 (2015), doi:10.1287/inte.2015.0804 (the TTR and TTS models and the
risk exposure index). Simchi-Levi, D., Schmidt, W., Wei, Y. "From Superstorms to Factory Fires",
*Harvard Business Review* 92(1-2), 96-101 (2014).
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import networkx as nx
import numpy as np
import polars as pl
import scipy.sparse as sp

from .network import CompiledNetwork, NetworkError, compile_network


@dataclass(frozen=True)
class Disruption:
    """Nodes stopped together (a node, or every node of a facility) for ``ttr`` weeks."""

    name: str
    nodes: tuple[int, ...]
    ttr: float
    #: Edges (indices into the compiled network's edges) that carry nothing meanwhile: a closed
    #: border crossing or port.
    edges: tuple[int, ...] = ()


def node_disruptions(net: CompiledNetwork) -> list[Disruption]:
    """One disruption per node, for the node's own time to recover."""
    return [Disruption(net.nodes[i], (i,), float(net.ttr[i])) for i in range(net.n)]


def facility_disruptions(net: CompiledNetwork) -> list[Disruption]:
    """One disruption per facility (site or supplier): all its nodes stop, for the longest of their TTRs."""
    groups: dict[str, list[int]] = {}
    for i, f in enumerate(net.facility):
        groups.setdefault(f, []).append(i)
    return [Disruption(f, tuple(ix), float(max(net.ttr[i] for i in ix))) for f, ix in groups.items()]


# -- the LP ---------------------------------------------------------------------------------------

_BANNER_SHOWN = False


def _quiet_highs():
    """A HiGHS instance with output off. The first one of a process prints a banner on the C
    standard output (not Python's), which would corrupt ``--json`` output: it goes to /dev/null."""
    global _BANNER_SHOWN
    import highspy

    if _BANNER_SHOWN:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        try:
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
            ctypes.CDLL(None).fflush(None)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    return h


#: A rate at most this far from zero counts as zero in a survival witness (HiGHS's feasibility
#: tolerance is 1e-7: the witness stays feasible with it set to exactly zero).
_ZERO = 1e-12


class _Columns:
    """The columns (u of each node, then y of each edge) each disruption holds at zero, as CSR."""

    def __init__(self, n: int, disruptions: Sequence[Disruption]) -> None:
        self.lengths = np.array([len(d.nodes) + len(d.edges) for d in disruptions], dtype=np.int64)
        self.start = np.concatenate([[0], np.cumsum(self.lengths)])
        self.columns = np.array([c for d in disruptions for c in (*d.nodes, *(n + e for e in d.edges))],
                                dtype=np.int64)  # fmt: skip
        self.count = len(disruptions)

    def covered_by(self, zero: np.ndarray) -> np.ndarray:
        """Disruptions all of whose columns are zero in ``zero`` (a mask over the columns)."""
        zeros_before = np.concatenate([[0], np.cumsum(zero[self.columns])])
        return zeros_before[self.start[1:]] - zeros_before[self.start[:-1]] == self.lengths

    def of(self, which: np.ndarray) -> np.ndarray:
        """The columns of the disruptions selected by the mask ``which``."""
        return self.columns[np.repeat(which, self.lengths)]


class _Model:
    """Both LPs of one network in HiGHS, built once; a disruption only changes bounds."""

    def __init__(self, net: CompiledNetwork, horizon: float = 520.0) -> None:
        import highspy

        self.hs = highspy
        self.net = net
        n, m, v = net.n, len(net.edge_src), len(net.products)
        self.n, self.m, self.v = n, m, v
        inf = highspy.kHighsInf
        self.inf = inf
        self.horizon = horizon
        # Rows shared by both models: BOM (one per group j,k), then flow (one per node with children).
        group_of_edge = np.empty(m, dtype=np.int64)
        for g in range(len(net.group_node)):
            group_of_edge[net.group_edges[net.group_start[g] : net.group_start[g + 1]]] = g
        n_groups = len(net.group_node)
        has_children = np.zeros(n, dtype=bool)
        has_children[net.edge_src] = True
        suppliers = np.flatnonzero(has_children)
        flow_row = np.full(n, -1, dtype=np.int64)
        flow_row[suppliers] = n_groups + np.arange(len(suppliers))
        self.n_shared = n_groups + len(suppliers)
        # Columns u (n) then y (m). BOM: +1 u_j, -1/r y_ij. Flow: -1 u_i, +1 y_ij.
        rows = np.concatenate(
            [np.arange(n_groups), group_of_edge, flow_row[suppliers], flow_row[net.edge_src]]
        )
        cols = np.concatenate([net.group_node, n + np.arange(m), suppliers, n + np.arange(m)])
        vals = np.concatenate(
            [np.ones(n_groups), -1.0 / net.edge_units, -np.ones(len(suppliers)), np.ones(m)]
        )
        self.shared = sp.csr_matrix((vals, (rows, cols)), shape=(self.n_shared, n + m))
        self.shared_upper = np.concatenate([np.zeros(n_groups), net.inventory[suppliers]])
        self.ttr_lp = self._build_ttr()
        self.tts_lp = self._build_tts()

    def _highs(self, a: sp.spmatrix, cost, lower, upper, row_lower, row_upper, maximize: bool):
        hs = self.hs
        h = _quiet_highs()
        lp = hs.HighsLp()
        a = sp.csc_matrix(a)
        lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
        lp.col_cost_ = np.asarray(cost, dtype=float)
        lp.col_lower_ = np.asarray(lower, dtype=float)
        lp.col_upper_ = np.asarray(upper, dtype=float)
        lp.row_lower_ = np.asarray(row_lower, dtype=float)
        lp.row_upper_ = np.asarray(row_upper, dtype=float)
        lp.a_matrix_.format_ = hs.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a.indices.astype(np.int32)
        lp.a_matrix_.value_ = a.data.astype(float)
        lp.sense_ = hs.ObjSense.kMaximize if maximize else hs.ObjSense.kMinimize
        h.passModel(lp)
        return h

    def _build_ttr(self):
        """Columns u, y, l; rows shared, then demand l_j + u_j >= d_j t - s_j (bounds set per disruption)."""
        net, n, m, v = self.net, self.n, self.m, self.v
        demand = sp.csr_matrix((np.ones(2 * v), (np.tile(np.arange(v), 2), np.concatenate([net.products, n + m + np.arange(v)]))),
                               shape=(v, n + m + v))  # fmt: skip
        a = sp.vstack([sp.hstack([self.shared, sp.csr_matrix((self.n_shared, v))]), demand])
        cost = np.concatenate([np.zeros(n + m), net.profit[net.products]])
        row_lower = np.concatenate([np.full(self.n_shared, -self.inf), np.zeros(v)])
        row_upper = np.concatenate([self.shared_upper, np.full(v, self.inf)])
        return self._highs(
            a, cost, np.zeros(n + m + v), np.full(n + m + v, self.inf), row_lower, row_upper, False
        )

    def _build_tts(self):
        """max t, written in tau = 1/t and the rates u' = u/t, y' = y/t (Charnes and Cooper's
        change of variables, Naval Res. Logist. Q. 9, 1962): capacities become column bounds
        u'_j <= c_j instead of n rows u_j - c_j t <= 0, a third fewer rows for HiGHS.
        Columns u', y', tau; rows: BOM (as shared), flow sum y' - u'_i - s_i tau <= 0,
        demand u'_v + s_v tau >= d_v; minimise tau >= 1/horizon."""
        net, n, m, v = self.net, self.n, self.m, self.v
        p = net.products
        n_groups = len(net.group_node)
        shared = sp.csr_matrix(self.shared)
        suppliers = self.shared_upper[n_groups:]  # the inventories s_i of the flow rows
        tau_of_shared = sp.csr_matrix(
            (-suppliers, (n_groups + np.arange(len(suppliers)), np.zeros(len(suppliers), dtype=np.int64))),
            shape=(self.n_shared, 1),
        )
        demand = sp.csr_matrix((np.concatenate([np.ones(v), net.inventory[p]]),
                                (np.tile(np.arange(v), 2), np.concatenate([p, np.full(v, n + m)]))),
                               shape=(v, n + m + 1))  # fmt: skip
        a = sp.vstack([sp.hstack([shared, tau_of_shared]), demand])
        cost = np.zeros(n + m + 1)
        cost[-1] = 1.0
        row_lower = np.concatenate([np.full(self.n_shared, -self.inf), net.demand[p]])
        row_upper = np.concatenate([np.zeros(self.n_shared), np.full(v, self.inf)])
        self.rate_upper = np.where(np.isfinite(net.capacity), net.capacity, self.inf)
        upper = np.concatenate([self.rate_upper, np.full(m + 1, self.inf)])
        lower = np.zeros(n + m + 1)
        lower[-1] = 1.0 / self.horizon
        return self._highs(a, cost, lower, upper, row_lower, row_upper, False)

    def _status_ok(self, h, what: str, name: str) -> bool:
        status = h.getModelStatus()
        if status == self.hs.HighsModelStatus.kOptimal:
            return True
        if status in (self.hs.HighsModelStatus.kUnbounded, self.hs.HighsModelStatus.kUnboundedOrInfeasible):
            return False
        raise NetworkError(
            f"{what} LP of disruption {name!r}: HiGHS ended with {h.modelStatusToString(status)}"
        )

    def time_to_recover_impact(self, d: Disruption) -> tuple[float, float]:
        """(P(n) lost profit, lost units) over the disruption's TTR."""
        net, n, v, h = self.net, self.n, self.v, self.ttr_lp
        t = d.ttr
        upper = np.where(np.isfinite(net.capacity), net.capacity * t, self.inf)
        upper[list(d.nodes)] = 0.0
        h.changeColsBounds(n, np.arange(n, dtype=np.int32), np.zeros(n), upper)
        p = net.products
        lower = net.demand[p] * t - net.inventory[p]
        rows = (self.n_shared + np.arange(v)).astype(np.int32)
        h.changeRowsBounds(v, rows, lower, np.full(v, self.inf))
        self._block(h, d.edges, True)
        try:
            h.run()
            if not self._status_ok(h, "TTR", d.name):  # cannot happen: l is bounded below by 0, cost >= 0
                raise NetworkError(f"TTR LP of disruption {d.name!r} is unbounded")
            lost = np.asarray(h.getSolution().col_value)[n + self.m :]
            return float(h.getInfo().objective_function_value), float(lost.sum())
        finally:
            self._block(h, d.edges, False)

    def time_to_survive(self, d: Disruption) -> float:
        """max t = 1 / min tau; ``inf`` when the network lasts the whole horizon (tau at its
        bound 1/horizon), 0 when no stock on hand covers the demand even for an instant (no
        tau is feasible)."""
        return self._survive(d)[0]

    def _survive(self, d: Disruption) -> tuple[float, np.ndarray | None]:
        """The TTS and, when it is ``inf``, the columns u', y' the solution leaves at zero (a
        witness: any disruption stopping only those survives the horizon too)."""
        h = self.tts_lp
        idx = np.array(d.nodes, dtype=np.int32)
        h.changeColsBounds(len(idx), idx, np.zeros(len(idx)), np.zeros(len(idx)))
        self._block(h, d.edges, True)
        try:
            h.run()
            status = h.getModelStatus()
            if status == self.hs.HighsModelStatus.kInfeasible:
                return 0.0, None
            if status != self.hs.HighsModelStatus.kOptimal:
                raise NetworkError(
                    f"TTS LP of disruption {d.name!r}: HiGHS ended with {h.modelStatusToString(status)}"
                )
            tau = float(h.getInfo().objective_function_value)
            if tau > (1 + 1e-12) / self.horizon:
                return 1.0 / tau, None
            return math.inf, self._zero_columns()
        finally:
            h.changeColsBounds(len(idx), idx, np.zeros(len(idx)), self.rate_upper[idx])
            self._block(h, d.edges, False)

    def _zero_columns(self) -> np.ndarray:
        rates = np.asarray(self.tts_lp.getSolution().col_value)[: self.n + self.m]
        return np.abs(rates) <= _ZERO

    def survival_witnesses(self, columns: _Columns, max_rounds: int = 50) -> np.ndarray:
        """Which disruptions (``columns``) provably survive the whole horizon, found by a few
        LPs instead of one each. With tau fixed at 1/horizon (the network must last it), each
        round minimises the production and shipment rates of the disruptions not yet covered,
        weighted by their scale; a vertex of that LP leaves many of them at zero, and a
        feasible solution with every node and edge of a disruption at zero proves its TTS is
        ``inf`` (its LP is that one with those columns held at zero). Rounds stop when one
        covers nothing new; the rest are solved one by one."""
        covered = np.zeros(columns.count, dtype=bool)
        if columns.count == 0:
            return covered
        h, n, m = self.tts_lp, self.n, self.m
        tau = np.array([n + m], dtype=np.int32)
        h.run()  # the undisrupted network: if it does not last the horizon, no disruption does
        if h.getModelStatus() != self.hs.HighsModelStatus.kOptimal:
            return covered
        if float(h.getInfo().objective_function_value) > (1 + 1e-12) / self.horizon:
            return covered
        covered |= columns.covered_by(self._zero_columns())
        net = self.net
        scale = np.where(np.isfinite(net.capacity), net.capacity, net.rate)
        weight = 1.0 / np.maximum(np.concatenate([scale, scale[net.edge_src]]), 1.0)
        every = np.arange(n + m + 1, dtype=np.int32)
        h.changeColsBounds(1, tau, np.array([1.0 / self.horizon]), np.array([1.0 / self.horizon]))
        try:
            for _ in range(max_rounds):
                if covered.all():
                    break
                wanted = np.zeros(n + m, dtype=bool)
                wanted[columns.of(~covered)] = True
                h.changeColsCost(n + m + 1, every, np.append(np.where(wanted, weight, 0.0), 0.0))
                h.run()
                if h.getModelStatus() != self.hs.HighsModelStatus.kOptimal:
                    break
                new = columns.covered_by(self._zero_columns()) & ~covered
                if not new.any():
                    break
                covered |= new
        finally:
            cost = np.zeros(n + m + 1)
            cost[-1] = 1.0
            h.changeColsCost(n + m + 1, every, cost)
            h.changeColsBounds(1, tau, np.array([1.0 / self.horizon]), np.array([self.inf]))
        return covered

    def _block(self, h, edges: tuple[int, ...], closed: bool) -> None:
        """Flows ``y`` of ``edges`` held at 0 (``closed``) or freed again."""
        if not edges:
            return
        cols = (self.n + np.asarray(edges)).astype(np.int32)
        upper = np.zeros(len(cols)) if closed else np.full(len(cols), self.inf)
        h.changeColsBounds(len(cols), cols, np.zeros(len(cols)), upper)

    def solve(self, disruptions: Sequence[Disruption]) -> list[tuple[float, float, float]]:
        """(P(n), lost units, TTS) of each disruption."""
        return [(*self.time_to_recover_impact(d), self.time_to_survive(d)) for d in disruptions]


def _solve_chunk(
    net: CompiledNetwork, disruptions: Sequence[Disruption], horizon: float
) -> list[tuple[float, float, float]]:
    return _solve_local(net, list(disruptions), 1, horizon)


#: Below this many disruptions a second worker costs more (its own model) than it saves.
PARALLEL_FROM = 200


def default_workers(n_disruptions: int) -> int:
    """Workers ``stress_test`` uses when not told: every core this process may run on (at most
    4), once there are :data:`PARALLEL_FROM` disruptions or more; else one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores)) if n_disruptions >= PARALLEL_FROM else 1


# -- the stress test ------------------------------------------------------------------------------


def stress_test(network: nx.DiGraph | CompiledNetwork, by: str = "node",
                disruptions: Sequence[Disruption] | None = None, workers: int | None = None,
                dask_address: str | None = None, chunk_size: int = 50,
                horizon_weeks: float = 520.0) -> pl.DataFrame:  # fmt: skip
    """TTR impact, TTS and REI of every disruption (each node, or each facility with
    ``by="facility"``), one pair of LPs each (Simchi-Levi et al., Interfaces 45(5) 2015).

    Returns one row per disruption: ``disruption``, ``nodes``, ``ttr_weeks``, ``tts_weeks``
    (``inf`` when the network survives the whole ``horizon_weeks``, ten years by default), ``lost_units``, ``performance_impact``
    (lost profit ``P(n)``), ``rei`` and ``flagged`` (TTS < TTR), worst first.

    Speed: far fewer LPs than two per disruption, with the same answers (see
    :func:`_solve_local`): a few covering LPs prove most disruptions outlast the horizon, and a
    disruption outlasting its time to recover loses nothing, so only the flagged ones get a TTR
    LP (on a 2,000-node network 530 LPs instead of 4,000, a quarter of the CPU time). Each
    worker builds both LPs once and changes only bounds between disruptions, so HiGHS's dual
    simplex starts from the basis of a nearly equal LP; TTR LPs are taken in order of time to
    recover. ``workers`` (default: :func:`default_workers`) are threads, each with its own HiGHS
    instance: HiGHS runs without Python's global lock, and threads need no ``if __name__ ==
    "__main__"`` guard in the calling script, as spawned processes would.
    """
    net = network if isinstance(network, CompiledNetwork) else compile_network(network)
    if disruptions is None:
        if by not in ("node", "facility"):
            raise NetworkError(f"by must be 'node' or 'facility', got {by!r}")
        disruptions = node_disruptions(net) if by == "node" else facility_disruptions(net)
    for d in disruptions:
        if not (math.isfinite(d.ttr) and d.ttr >= 0):
            raise NetworkError(
                f"disruption {d.name!r}: time to recover must be a non-negative number, got {d.ttr!r}"
            )
    if workers is None:
        workers = default_workers(len(disruptions))
    if workers < 1:
        raise NetworkError(f"workers must be at least 1, got {workers}")
    if not (math.isfinite(horizon_weeks) and horizon_weeks > 0):
        raise NetworkError(f"horizon_weeks must be a positive number, got {horizon_weeks!r}")
    flat = _solve_all(net, list(disruptions), workers, dask_address, chunk_size, horizon_weeks)
    impact = np.array([r[0] for r in flat])
    worst = impact.max() if len(impact) else 0.0
    rei = impact / worst if worst > 0 else np.zeros_like(impact)
    table = pl.DataFrame({
        "disruption": [d.name for d in disruptions],
        "nodes": [[net.nodes[i] for i in d.nodes] for d in disruptions],
        "ttr_weeks": [d.ttr for d in disruptions],
        "tts_weeks": [r[2] for r in flat],
        "lost_units": [r[1] for r in flat],
        "performance_impact": impact,
        "rei": rei,
    }, schema_overrides={"nodes": pl.List(pl.Utf8)})  # fmt: skip
    table = table.with_columns(flagged=pl.col("tts_weeks") < pl.col("ttr_weeks"))
    return table.sort(["rei", "tts_weeks"], descending=[True, False], maintain_order=True)


def _solve_all(net: CompiledNetwork, disruptions: list[Disruption], workers: int, dask_address: str | None,
               chunk_size: int, horizon: float) -> list[tuple[float, float, float]]:  # fmt: skip
    """(P(n), lost units, TTS) of each disruption, in the order given."""
    if not dask_address:
        return _solve_local(net, disruptions, workers, horizon)
    order = sorted(range(len(disruptions)), key=lambda i: disruptions[i].ttr)
    results: list[tuple[float, float, float] | None] = [None] * len(disruptions)
    chunks = [order[i : i + chunk_size] for i in range(0, len(order), chunk_size)]
    for index, chunk_result in _run_on_dask(net, [[disruptions[i] for i in c] for c in chunks],
                                            dask_address, horizon):  # fmt: skip
        for i, r in zip(chunks[index], chunk_result, strict=True):
            results[i] = r
    return results  # type: ignore[return-value]


def _solve_local(net: CompiledNetwork, disruptions: list[Disruption], workers: int,
                 horizon: float) -> list[tuple[float, float, float]]:  # fmt: skip
    """(P(n), lost units, TTS) of each disruption, in the order given, on ``workers`` threads.

    1. TTS: the disruptions that provably last the horizon are found by a few covering LPs
       (:meth:`_Model.survival_witnesses`); the others get their own LP, and each of those that
       lasts the horizon covers further ones with its solution.
    2. TTR: a disruption that the network survives for its whole time to recover loses nothing
       (``P(n) = 0``): with ``l = 0`` the TTR constraints at ``t`` are the TTS constraints at
       ``t``, whose feasible ``t`` form the interval ``[0, TTS]`` (the set is convex and holds
       ``t = 0``). Only the others, the flagged ones (TTS < TTR), get a TTR LP, in order of
       their time to recover so that consecutive LPs are alike.
    """
    count = len(disruptions)
    if count == 0:
        return []
    workers = max(1, min(workers, count))
    models = [_Model(net, horizon) for _ in range(workers)]  # built here: the first prints HiGHS's banner
    columns = _Columns(net.n, disruptions)
    covered = models[0].survival_witnesses(columns)
    tts = np.where(covered, math.inf, math.nan)
    lock = threading.Lock()

    def survive(model: _Model, part: Sequence[int]) -> None:
        for i in part:
            if covered[i]:
                continue
            tts[i], zero = model._survive(disruptions[i])
            if zero is not None:
                more = columns.covered_by(zero)
                with lock:
                    covered[more] = True
                    tts[more] = math.inf

    _in_parallel(models, [i for i in range(count) if not covered[i]], survive)
    ttr = np.array([d.ttr for d in disruptions])
    # Lossless for sure when the network outlasts the TTR; the margin keeps borderline cases
    # (TTS equal to TTR up to rounding) with their LP.
    lossless = (ttr == 0) | ((ttr <= tts * (1 - 1e-9)) & (ttr <= horizon))
    impact, lost = np.zeros(count), np.zeros(count)

    def recover(model: _Model, part: Sequence[int]) -> None:
        for i in part:
            impact[i], lost[i] = model.time_to_recover_impact(disruptions[i])

    _in_parallel(models, sorted(np.flatnonzero(~lossless).tolist(), key=lambda i: ttr[i]), recover)
    return [(float(impact[i]), float(lost[i]), float(tts[i])) for i in range(count)]


def _in_parallel(models: list[_Model], items: list[int], work) -> None:
    """``work(model, part)`` on contiguous parts of ``items``, one per model, each in a thread:
    consecutive LPs of one model stay alike."""
    if not items:
        return
    workers = min(len(models), len(items))
    bounds = np.linspace(0, len(items), workers + 1).round().astype(int)
    parts = [items[bounds[w] : bounds[w + 1]] for w in range(workers)]
    if workers == 1:
        work(models[0], parts[0])
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(work, models[w], parts[w]) for w in range(workers)]:
            future.result()


def _run_on_dask(net: CompiledNetwork, chunks: list[list[Disruption]], dask_address: str,
                 horizon: float) -> Iterator[tuple[int, list]]:  # fmt: skip
    from distributed import Client, as_completed

    with Client(dask_address, set_as_default=False) as client:
        shared = client.scatter(net, broadcast=True)
        futures = {
            client.submit(_solve_chunk, shared, c, horizon, pure=False): i for i, c in enumerate(chunks)
        }
        for future in as_completed(list(futures), loop=client.loop):
            yield futures[future], future.result()


def disruption(net: CompiledNetwork, nodes: Sequence[str], ttr: float, name: str | None = None) -> Disruption:
    """A disruption of the named nodes (e.g. a whole region) for ``ttr`` weeks."""
    return Disruption(name or "+".join(nodes), tuple(net.index(n) for n in nodes), float(ttr))


def stress_summary(table: pl.DataFrame) -> Mapping[str, float]:
    """Counts a report leads with: disruptions, flagged ones, the worst impact."""
    return {
        "disruptions": table.height,
        "flagged": int(table["flagged"].sum()),
        "worst_impact": float(table["performance_impact"].max() or 0.0),
    }
