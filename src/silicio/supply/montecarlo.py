"""Monte Carlo disruption scenarios: site outages correlated by region, a pandemic, border and
customs delays; the distribution of lost output and lost profit, its VaR and CVaR.

A scenario draws an outage duration for every node (0 when it runs) over a horizon, all
outages starting together (a shock), then propagates them down the network in topological
order, vectorised over the scenarios of a chunk:

* a material ``k`` at node ``j`` is short while its sources are down: with sources recovering
  at ``E_(1) <= ... <= E_(q)`` weeks and able to cover fractions ``a_p`` of ``j``'s need
  (capacity left after their other customers), the shortage is
  ``sum_m (E_(m+1) - E_(m)) (1 - min(1, sum_{p recovered} a_p))`` full-supply weeks;
  a source across a border adds the scenario's customs delay;
* node ``j`` loses ``X_j = max(own outage, shortage of each material)`` weeks of output, and
  its customers see ``E_j = max(0, X_j - b_j)``, ``b_j`` its weeks of inventory cover (the
  time-to-survive idea of Simchi-Levi et al. 2015, one node at a time);
* a product loses ``d_j E_j`` units and ``f_j d_j E_j`` of profit (no catch-up after recovery).

Regional correlation: a one-factor Gaussian copula, ``Z_i = sqrt(rho) G_region(i) +
sqrt(1 - rho) e_i``, node ``i`` out when ``Phi(Z_i) < p_i`` (Vasicek 2002; the shared
regional shock). Durations are lognormal with a given median and log-sd.

Reproducibility: the scenarios are cut into chunks of ``chunk_size``; chunk ``c`` draws from
the ``c``-th child of ``numpy.random.SeedSequence(seed)``, so the result is the same whatever
the number of workers, or Dask.

References
----------
Rockafellar, R. T., Uryasev, S. "Conditional value-at-risk for general loss distributions",
*Journal of Banking & Finance* 26(7), 1443-1471 (2002) -- VaR and CVaR.
Vasicek, O. "The distribution of loan portfolio value", *Risk* 15(12), 160-162 (2002) -- the
one-factor Gaussian copula. Simchi-Levi, D. et al., *Interfaces* 45(5), 375-390 (2015).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
from scipy.special import ndtri

from .network import CompiledNetwork, NetworkError, capacity_shares, compile_network


@dataclass(frozen=True)
class SiteOutages:
    """Independent site outages, correlated within a region by ``regional_correlation``.
    ``probability`` of an outage within the horizon applies to nodes without ``outage_prob``."""

    probability: float = 0.05
    median_weeks: float = 3.0
    log_sd: float = 0.8
    regional_correlation: float = 0.4


@dataclass(frozen=True)
class Pandemic:
    """With ``probability`` per horizon, each node is out with ``node_probability`` for a
    lognormal time (median ``median_weeks``)."""

    probability: float = 0.03
    node_probability: float = 0.5
    median_weeks: float = 8.0
    log_sd: float = 0.5


@dataclass(frozen=True)
class BorderDelay:
    """With ``probability`` per horizon, every shipment across a border is held ``median_weeks``
    (lognormal, one draw per scenario) at customs."""

    probability: float = 0.10
    median_weeks: float = 1.5
    log_sd: float = 0.6


@dataclass(frozen=True)
class DisruptionModel:
    """The scenario generator: which kinds of disruption, over what horizon (weeks)."""

    horizon_weeks: float = 52.0
    site: SiteOutages | None = field(default_factory=SiteOutages)
    pandemic: Pandemic | None = field(default_factory=Pandemic)
    border: BorderDelay | None = field(default_factory=BorderDelay)

    def __post_init__(self) -> None:
        def prob(x: float, name: str) -> None:
            if not (0.0 <= x <= 1.0):
                raise NetworkError(f"{name} must be a probability in [0, 1], got {x!r}")

        def pos(x: float, name: str) -> None:
            if not (math.isfinite(x) and x > 0):
                raise NetworkError(f"{name} must be a positive number, got {x!r}")

        pos(self.horizon_weeks, "horizon_weeks")
        if self.site:
            prob(self.site.probability, "site.probability")
            prob(self.site.regional_correlation, "site.regional_correlation")
            pos(self.site.median_weeks, "site.median_weeks")
        if self.pandemic:
            prob(self.pandemic.probability, "pandemic.probability")
            prob(self.pandemic.node_probability, "pandemic.node_probability")
            pos(self.pandemic.median_weeks, "pandemic.median_weeks")
        if self.border:
            prob(self.border.probability, "border.probability")
            pos(self.border.median_weeks, "border.median_weeks")


# -- risk measures --------------------------------------------------------------------------------


def value_at_risk(losses, level: float) -> float:
    """VaR_a = min{x : F(x) >= a}, the a-quantile of the loss distribution (Rockafellar and Uryasev 2002, eq. 2)."""
    x = np.sort(np.asarray(losses, dtype=float))
    if x.size == 0 or not (0.0 < level < 1.0):
        raise ValueError(f"VaR needs losses and a level in (0, 1), got {x.size} losses and level {level!r}")
    return float(x[max(math.ceil(level * x.size) - 1, 0)])


def conditional_value_at_risk(losses, level: float) -> float:
    """CVaR_a = VaR_a + E[(L - VaR_a)+] / (1 - a) (Rockafellar and Uryasev 2002, Proposition 8)."""
    x = np.asarray(losses, dtype=float)
    var = value_at_risk(x, level)
    return float(var + np.mean(np.maximum(x - var, 0.0)) / (1.0 - level))


@dataclass
class MonteCarloResult:
    """Lost units and lost profit of each scenario (in scenario order)."""

    lost_units: np.ndarray
    lost_profit: np.ndarray
    seed: int
    model: DisruptionModel
    #: How complete the data of the network was (``graph["data_quality"]``: completeness and
    #: the defaults used, :mod:`.dataset`), when the network recorded it.
    data_quality: dict | None = None

    @property
    def n(self) -> int:
        return len(self.lost_profit)

    def summary(self, levels: Sequence[float] = (0.95, 0.99)) -> dict[str, float]:
        """Mean and its standard error, probability of any loss, VaR and CVaR of lost profit and units."""
        out: dict[str, float] = {"scenarios": float(self.n)}
        for name, x in (("lost_profit", self.lost_profit), ("lost_units", self.lost_units)):
            out[f"{name}_mean"] = float(x.mean())
            out[f"{name}_se"] = float(x.std(ddof=1) / math.sqrt(self.n)) if self.n > 1 else math.nan
            for a in levels:
                out[f"{name}_var_{a:g}"] = value_at_risk(x, a)
                out[f"{name}_cvar_{a:g}"] = conditional_value_at_risk(x, a)
        out["p_any_loss"] = float(np.mean(self.lost_profit > 0))
        return out


# -- the simulation -------------------------------------------------------------------------------


@dataclass
class _Prepared:
    """Per-group data the propagation needs, built once per chunk."""

    groups: list[list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]]  # per node: (k, parents, a, crosses)
    cover: np.ndarray  # weeks of inventory cover per node


def _prepare(net: CompiledNetwork) -> _Prepared:
    groups: list[list] = [[] for _ in range(net.n)]
    for g, j in enumerate(net.group_node):
        e = net.group_edges[net.group_start[g] : net.group_start[g + 1]]
        parents = net.edge_src[e]
        need = net.rate[j] * net.edge_units[e]  # j's whole need of material k, in each source's units
        cap = net.capacity[parents]
        if net.rate[j] > 0 and len(e) > 1:
            # What each source can give j alone: its capacity less what its other customers take
            # (the split of required_rates: by capacity).
            own = need * capacity_shares(cap)
            a = np.where(np.isinf(cap), 1.0, np.clip((cap - net.rate[parents] + own) / need, 0.0, 1.0))
        else:
            a = np.ones(len(e))
        crosses = np.array([net.country[p] != net.country[j] for p in parents])
        groups[j].append((g, parents, a, crosses))
    cover = np.where(net.rate > 0, net.inventory / np.where(net.rate > 0, net.rate, 1.0), 0.0)
    return _Prepared(groups, cover)


def _lognormal(rng: np.random.Generator, median: float, log_sd: float, size) -> np.ndarray:
    return median * np.exp(log_sd * rng.standard_normal(size))


def draw_outages(net: CompiledNetwork, model: DisruptionModel, rng: np.random.Generator,
                 n: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Outage weeks per (scenario, node) and the customs delay per scenario."""
    h = model.horizon_weeks
    outage = np.zeros((n, net.n))
    if model.site:
        s = model.site
        p = np.where(np.isnan(net.outage_prob), s.probability, net.outage_prob)
        regional = rng.standard_normal((n, len(net.regions)))[:, net.region]
        z = math.sqrt(s.regional_correlation) * regional + math.sqrt(
            1 - s.regional_correlation
        ) * rng.standard_normal((n, net.n))
        down = z < ndtri(np.clip(p, 0.0, 1.0))
        outage = np.where(down, _lognormal(rng, s.median_weeks, s.log_sd, (n, net.n)), 0.0)
    if model.pandemic:
        pm = model.pandemic
        event = rng.random(n) < pm.probability
        hit = (rng.random((n, net.n)) < pm.node_probability) & event[:, None]
        outage = np.maximum(
            outage, np.where(hit, _lognormal(rng, pm.median_weeks, pm.log_sd, (n, net.n)), 0.0)
        )
    delay = np.zeros(n)
    if model.border:
        b = model.border
        event = rng.random(n) < b.probability
        delay = np.where(event, _lognormal(rng, b.median_weeks, b.log_sd, n), 0.0)
    return np.minimum(outage, h), delay


def propagate(net: CompiledNetwork, prep: _Prepared, outage: np.ndarray, delay: np.ndarray,
              horizon: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Lost units and lost profit per scenario of the outages (scenario x node), see the module text."""
    n = outage.shape[0]
    seen = np.zeros((net.n, n))  # E_j: weeks of output lost as the node's customers see it
    for j in net.topo:
        x = outage[:, j].copy()
        for _, parents, a, crosses in prep.groups[j]:
            e = seen[parents].T + np.where(crosses, 1.0, 0.0)[None, :] * delay[:, None]  # (n, q)
            if len(parents) == 1:  # the general case below with q = 1
                short = e[:, 0]
            else:
                order = np.argsort(e, axis=1)
                es = np.take_along_axis(e, order, axis=1)
                cum = np.cumsum(a[order], axis=1)
                widths = np.diff(np.concatenate([np.zeros((n, 1)), es], axis=1), axis=1)
                before = np.concatenate([np.zeros((n, 1)), cum[:, :-1]], axis=1)
                short = np.sum(widths * (1.0 - np.minimum(before, 1.0)), axis=1)
            np.maximum(x, short, out=x)
        seen[j] = np.clip(x - prep.cover[j], 0.0, horizon)
    p = net.products
    units = seen[p].T * net.demand[p][None, :]
    return units.sum(axis=1), (units * net.profit[p][None, :]).sum(axis=1)


def _simulate_chunk(net: CompiledNetwork, model: DisruptionModel, seed_seq: np.random.SeedSequence,
                    n: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    rng = np.random.default_rng(seed_seq)
    outage, delay = draw_outages(net, model, rng, n)
    return propagate(net, _prepare(net), outage, delay, model.horizon_weeks)


def monte_carlo(network: nx.DiGraph | CompiledNetwork, scenarios: int = 10_000, seed: int = 0,
                model: DisruptionModel | None = None, workers: int = 1, dask_address: str | None = None,
                chunk_size: int = 1000) -> MonteCarloResult:  # fmt: skip
    """Lost output and profit over ``scenarios`` disruption scenarios of ``model``, reproducible by ``seed``."""
    net = network if isinstance(network, CompiledNetwork) else compile_network(network)
    model = model or DisruptionModel()
    if scenarios < 1:
        raise NetworkError(f"scenarios must be at least 1, got {scenarios}")
    if chunk_size < 1:
        raise NetworkError(f"chunk_size must be at least 1, got {chunk_size}")
    if workers < 1:
        raise NetworkError(f"workers must be at least 1, got {workers}")
    sizes = [min(chunk_size, scenarios - s) for s in range(0, scenarios, chunk_size)]
    seeds = np.random.SeedSequence(seed).spawn(len(sizes))
    units: list[np.ndarray | None] = [None] * len(sizes)
    profit: list[np.ndarray | None] = [None] * len(sizes)
    for c, (u, p) in _run(net, model, seeds, sizes, workers, dask_address):
        units[c], profit[c] = u, p
    quality = network.graph.get("data_quality") if isinstance(network, nx.DiGraph) else None
    return MonteCarloResult(np.concatenate(units), np.concatenate(profit), seed, model, quality)


def _run(
    net, model, seeds, sizes, workers, dask_address
) -> Iterator[tuple[int, tuple[np.ndarray, np.ndarray]]]:
    jobs = list(zip(seeds, sizes, strict=True))
    if dask_address:
        from distributed import Client, as_completed

        with Client(dask_address, set_as_default=False) as client:
            shared = client.scatter(net, broadcast=True)
            futures = {
                client.submit(_simulate_chunk, shared, model, s, k, pure=False): c
                for c, (s, k) in enumerate(jobs)
            }
            for future in as_completed(list(futures), loop=client.loop):
                yield futures[future], future.result()
        return
    workers = max(1, min(workers, len(jobs), os.cpu_count() or 1))
    if workers == 1:
        prep = _prepare(net)
        for c, (s, k) in enumerate(jobs):
            outage, delay = draw_outages(net, model, np.random.default_rng(s), k)
            yield c, propagate(net, prep, outage, delay, model.horizon_weeks)
        return
    # Threads, not processes: numpy's array work runs without the global lock, and a script
    # calling this needs no ``if __name__ == "__main__"`` guard (spawned processes re-run it).
    from concurrent.futures import ThreadPoolExecutor, as_completed

    prep = _prepare(net)

    def simulate(s: np.random.SeedSequence, k: int) -> tuple[np.ndarray, np.ndarray]:
        outage, delay = draw_outages(net, model, np.random.default_rng(s), k)
        return propagate(net, prep, outage, delay, model.horizon_weeks)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(simulate, s, k): c for c, (s, k) in enumerate(jobs)}
        for future in as_completed(futures):
            yield futures[future], future.result()
