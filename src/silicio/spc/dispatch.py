"""One entry point for every control chart: :func:`chart` estimates a chart's limits from a
baseline (phase I) and applies them to all the data (phase II), whatever its kind.

The kinds are the charts of :mod:`silicio.spc.charts` (Shewhart: ``imr``, ``xbar_r``,
``xbar_s``, ``p``, ``np``, ``c``, ``u``) and :mod:`silicio.spc.timeweighted` (``ewma``,
``cusum``). Each kind takes the parameters of its ``*_limits`` function, plus ``baseline``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .charts import (
    Chart,
    IndividualsLimits,
    c_limits,
    imr_limits,
    imr_rs_limits,
    np_limits,
    p_limits,
    subgroups,
    u_limits,
    xbar_r_limits,
    xbar_s_limits,
    zmr_limits,
)
from .laney import laney_p_limits, laney_u_limits
from .multivariate import DEFAULT_ALPHA, hotelling_limits, mewma_limits
from .timeweighted import cusum_limits, ewma_limits

__all__ = [
    "CHART_KINDS",
    "MULTIVARIATE_KINDS",
    "SUBGROUP_KINDS",
    "ChartResult",
    "chart",
    "default_subgroup_chart",
]


class ChartResult(NamedTuple):
    """The limits estimated from the baseline (a ``*Limits`` object) and the chart(s) of all the
    data: one for p, np, c, u and EWMA; two for I-MR, X-bar (location, dispersion) and CUSUM
    (upper, lower)."""

    limits: Any
    charts: tuple[Chart, ...]


def _first(values: np.ndarray, baseline: int | None) -> np.ndarray:
    return values if baseline is None else values[:baseline]


def _per_point(values, baseline: int | None):
    """A per-point array's baseline part; a scalar stays as it is."""
    return values if np.ndim(values) == 0 else _first(np.asarray(values), baseline)


def _imr(data, baseline, k=3.0, target=None, sigma=None):
    limits = imr_limits(_first(data, baseline), k=k)
    if target is not None or sigma is not None:  # known standards replace the estimates
        limits = IndividualsLimits(limits.mean if target is None else target,
                                   limits.sigma if sigma is None else sigma, k)  # fmt: skip
    return limits, limits.apply(data)


def _xbar(estimate: Callable, kind: str):
    def run(data, baseline, subgroup=None, size=None, k=3.0):
        if data.ndim == 1 and (subgroup is None) == (size is None):
            raise ValueError(f"the {kind} chart needs subgroup labels (subgroup=) or a subgroup size (size=), "
                             "one of them")  # fmt: skip
        if baseline is None:
            limits = estimate(data, subgroup, size, k=k)
        elif data.ndim == 2:
            limits = estimate(data[:baseline], k=k)
        elif subgroup is not None:
            labels = np.asarray(subgroup)
            # The first `baseline` subgroups, in order of first appearance.
            keep = np.isin(labels, subgroups(data, labels).label[:baseline])
            limits = estimate(data[keep], labels[keep], k=k)
        else:
            limits = estimate(data[: baseline * size], size=size, k=k)
        return limits, limits.apply(data, subgroup, size)

    return run


def _imr_rs(dispersion: str):
    def estimate(values, subgroup=None, size=None, k=3.0):
        return imr_rs_limits(values, subgroup, size, dispersion=dispersion, k=k)

    return _xbar(estimate, f"imr_{'r' if dispersion == 'range' else 's'}")


def _laney_p(data, baseline, sizes=None, k=3.0):
    if sizes is None:
        raise ValueError("the Laney p' chart needs the sample sizes (sizes=, one number or one per point)")
    limits = laney_p_limits(_first(data, baseline), _per_point(sizes, baseline), k=k)
    return limits, (limits.apply(data, sizes),)


def _laney_u(data, baseline, units=None, k=3.0):
    if units is None:
        raise ValueError(
            "the Laney u' chart needs the inspection units (units=, one number or one per point)"
        )
    limits = laney_u_limits(_first(data, baseline), _per_point(units, baseline), k=k)
    return limits, (limits.apply(data, units),)


def _zmr(data, baseline, part=None, sigma="constant", k=3.0):
    if part is None:
        raise ValueError("the Z-MR chart needs the part of each point (part=, one label per point)")
    part = np.asarray(part)
    limits = zmr_limits(_first(data, baseline), _first(part, baseline), sigma=sigma, k=k)
    return limits, limits.apply(data, part)


def _t2(data, baseline, alpha=DEFAULT_ALPHA):
    limits = hotelling_limits(_first(data, baseline), alpha=alpha)
    return limits, (limits.apply(data, baseline_rows=len(data) if baseline is None else baseline),)


def _mewma(data, baseline, lam=0.1, arl0=200.0, h=None):
    limits = mewma_limits(_first(data, baseline), lam=lam, arl0=arl0, h=h)
    return limits, (limits.apply(data),)


def _p(data, baseline, sizes=None, k=3.0):
    if sizes is None:
        raise ValueError("the p chart needs the sample sizes (sizes=, one number or one per point)")
    limits = p_limits(_first(data, baseline), _per_point(sizes, baseline), k=k)
    return limits, (limits.apply(data, sizes),)


def _np(data, baseline, size=None, k=3.0):
    if size is None:
        raise ValueError("the np chart needs the one sample size (size=); use a p chart when it varies")
    limits = np_limits(_first(data, baseline), size, k=k)
    return limits, (limits.apply(data),)


def _c(data, baseline, k=3.0):
    limits = c_limits(_first(data, baseline), k=k)
    return limits, (limits.apply(data),)


def _u(data, baseline, units=None, k=3.0):
    if units is None:
        raise ValueError("the u chart needs the inspection units (units=, one number or one per point)")
    limits = u_limits(_first(data, baseline), _per_point(units, baseline), k=k)
    return limits, (limits.apply(data, units),)


def _ewma(data, baseline, lam=0.2, k=3.0, target=None, sigma=None, exact=True):
    limits = ewma_limits(_first(data, baseline), lam=lam, k=k, target=target, sigma=sigma, exact=exact)
    return limits, (limits.apply(data),)


def _cusum(data, baseline, k=0.5, h=5.0, target=None, sigma=None):
    limits = cusum_limits(_first(data, baseline), k=k, h=h, target=target, sigma=sigma)
    return limits, limits.apply(data)


@dataclass(frozen=True)
class _Kind:
    run: Callable
    params: tuple[str, ...]
    about: str


_KINDS = {
    "imr": _Kind(_imr, ("k", "target", "sigma"), "individuals and moving range"),
    "xbar_r": _Kind(_xbar(xbar_r_limits, "xbar_r"), ("subgroup", "size", "k"), "subgroup means and ranges"),
    "xbar_s": _Kind(_xbar(xbar_s_limits, "xbar_s"), ("subgroup", "size", "k"), "subgroup means and sds"),
    "p": _Kind(_p, ("sizes", "k"), "fraction defective"),
    "np": _Kind(_np, ("size", "k"), "number defective, one sample size"),
    "c": _Kind(_c, ("k",), "count of defects"),
    "u": _Kind(_u, ("units", "k"), "defects per unit"),
    "ewma": _Kind(_ewma, ("lam", "k", "target", "sigma", "exact"), "exponentially weighted moving average"),
    "cusum": _Kind(_cusum, ("k", "h", "target", "sigma"), "tabular CUSUM (k, h in sigmas)"),
    "laney_p": _Kind(_laney_p, ("sizes", "k"), "fraction defective, over-dispersion allowed (Laney p')"),
    "laney_u": _Kind(_laney_u, ("units", "k"), "defects per unit, over-dispersion allowed (Laney u')"),
    "imr_r": _Kind(
        _imr_rs("range"), ("subgroup", "size", "k"), "subgroup means as individuals, ranges within"
    ),
    "imr_s": _Kind(_imr_rs("sd"), ("subgroup", "size", "k"), "subgroup means as individuals, sds within"),
    "zmr": _Kind(_zmr, ("part", "sigma", "k"), "short runs: z-scores by part and their moving range"),
    "t2": _Kind(_t2, ("alpha",), "Hotelling T^2 of several columns (individual observations)"),
    "mewma": _Kind(_mewma, ("lam", "arl0", "h"), "multivariate EWMA of several columns"),
}
#: Kinds whose baseline counts subgroups, and kinds that chart several columns (2-D data).
SUBGROUP_KINDS = ("xbar_r", "xbar_s", "imr_r", "imr_s")
MULTIVARIATE_KINDS = ("t2", "mewma")
#: The chart kinds :func:`chart` draws.
CHART_KINDS = tuple(_KINDS)


#: Mean subgroup size above which the default subgroup chart has s within instead of R (the range
#: loses efficiency as n grows, Montgomery section 6.3).
MAX_SUBGROUP_FOR_RANGE = 10


def default_subgroup_chart(sizes) -> str:
    """The chart of subgrouped data (wafers, lots) when none is named: one point per subgroup, the
    between/within chart, ``imr_s`` when subgroups average more than 10 values, ``imr_r`` up to 10.
    Between/within rather than X-bar: X-bar limits (sigma_within / sqrt(n)) flag nearly every wafer
    of a process whose wafers differ by more than their dies' spread explains (Minitab, I-MR-R/S
    chart; on the bench lake's test 1000, X-bar-S flags 15 of 49 wafers, I-MR-S 2)."""
    return "imr_s" if float(np.mean(sizes)) > MAX_SUBGROUP_FOR_RANGE else "imr_r"


def _kind(kind: str) -> str:
    # "xbar-r" (the CLI's and the dashboard's spelling) is xbar_r.
    name = kind.strip().lower().replace("-", "_") if isinstance(kind, str) else kind
    if name not in _KINDS:
        raise ValueError(f"unknown chart kind {kind!r}; the kinds are {', '.join(CHART_KINDS)}")
    return name


def chart(kind: str, data, *, baseline: int | None = None, **params) -> ChartResult:
    """The ``kind`` control chart of ``data``: limits from its first ``baseline`` points (for
    X-bar charts: subgroups; all of them when None), applied to every point.

    Parameters by kind (defaults of the ``*_limits`` functions):

    * ``imr``: ``k`` (3), known ``target`` / ``sigma`` replacing the estimates;
    * ``xbar_r``, ``xbar_s``: ``subgroup`` (one label per value) or ``size`` (consecutive values
      per subgroup), or ``data`` as a 2-D array (one row per subgroup); ``k``;
    * ``p``: ``sizes`` (sample size, one or per point); ``np``: ``size``; ``u``: ``units``
      (inspection units, one or per point); ``c``; each with ``k``;
    * ``ewma``: ``lam`` (0.2), ``k`` (3), ``target``, ``sigma``, ``exact`` (True);
    * ``cusum``: reference value ``k`` (0.5) and decision interval ``h`` (5), in sigmas;
      ``target``, ``sigma``;
    * ``laney_p`` (``sizes``), ``laney_u`` (``units``): Laney's p' and u' charts, ``k``;
    * ``imr_r``, ``imr_s``: I-MR of the subgroup means with R or s within (as ``xbar_*``);
    * ``zmr``: ``part`` (one label per point), ``sigma`` ("constant" or "by-part"), ``k``;
    * ``t2``: ``data`` 2-D (rows, one column per characteristic), ``alpha`` (0.0027): phase I
      beta limit on the baseline rows, phase II F limit on the rest;
    * ``mewma``: 2-D ``data``, ``lam`` (0.1), ``arl0`` (200) or a given limit ``h``.

    An unknown kind, a parameter the kind does not take, or a ``baseline`` below 2 or beyond the
    data raises ValueError saying what is expected.
    """
    name = _kind(kind)
    spec = _KINDS[name]
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        raise ValueError(f"the {name} chart takes {', '.join(('baseline', *spec.params))}; "
                         f"not {', '.join(unknown)}")  # fmt: skip
    values = np.asarray(data, dtype=np.float64)
    if baseline is not None:
        if isinstance(baseline, bool) or int(baseline) != baseline or baseline < 2:
            raise ValueError(f"baseline must be a whole number of at least 2 points, got {baseline!r}")
        available = _points(name, values, params)
        if baseline > available:
            unit = "subgroups" if name in SUBGROUP_KINDS and values.ndim == 1 else "points"
            raise ValueError(f"baseline {baseline} is more than the {available} {unit} of the data")
        baseline = int(baseline)
    limits, charts = spec.run(values, baseline, **params)
    return ChartResult(limits, tuple(charts))


def _points(name: str, values: np.ndarray, params: dict) -> int:
    """Points (X-bar: subgroups) a baseline can count."""
    if name not in SUBGROUP_KINDS or values.ndim == 2:
        return len(values)
    if params.get("subgroup") is not None:
        return len(subgroups(values, params["subgroup"]).label)
    size = params.get("size")
    return len(values) // size if size else len(values)
