"""Laney p' and u' charts: attribute charts for large subgroups whose proportions (or rates) vary
from subgroup to subgroup by more than binomial (Poisson) sampling explains.

With 5,000 dies a wafer, the p chart's limits p-bar +- 3 sqrt(p-bar (1 - p-bar) / n) are so narrow
that a 1.5 % wafer-to-wafer spread puts many stable wafers outside them. Laney's charts standardise
each point, z_i = (p_i - p-bar) / sigma_pi, estimate the spread of the z's from their moving range,
sigma_z = MR-bar(z) / 1.128, and widen the limits by it: p-bar +- 3 sigma_pi sigma_z. sigma_z = 1
gives the p (u) chart back; sigma_z < 1 narrows it.

References
----------
.. [1] D. B. Laney, "Improved control charts for attributes", Quality Engineering 14(4) (2002)
   531-537.
.. [2] Minitab, Methods and formulas for Laney P' Chart and Laney U' Chart,
   https://support.minitab.com/en-us/minitab/help-and-how-to/quality-and-process-improvement/control-charts/how-to/attributes-charts/laney-p-chart/methods-and-formulas/methods-and-formulas/
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .charts import Chart, _chart, _counts, _defectives, _sizes
from .constants import d2


def _sigma_z(z: np.ndarray) -> float:
    """MR-bar of the z-scores / d2(2) (d2(2) = 1.128) (Laney 2002; Minitab "Sigma Z")."""
    if z.size < 2:
        raise ValueError(f"a Laney chart needs at least 2 subgroups, got {z.size}")
    return float(np.mean(np.abs(np.diff(z)))) / float(d2(2))


def _capped(chart: Chart, cap: float | None) -> Chart:
    if cap is None:
        return chart
    return Chart(
        chart.name, chart.statistic, chart.center, chart.lcl, np.minimum(chart.ucl, cap), chart.sigma
    )


@dataclass(frozen=True)
class LaneyProportionLimits:
    """Limits of a Laney p' chart: p-bar and sigma_z."""

    p_bar: float
    sigma_z: float
    k: float = 3.0

    def apply(self, defectives, sizes) -> Chart:
        """p_i against p-bar +- k sigma_pi sigma_z, sigma_pi = sqrt(p-bar (1 - p-bar) / n_i), LCL
        at least 0 and UCL at most 1 (Laney 2002; Minitab Laney P')."""
        d, n = _defectives(defectives, sizes)
        spread = np.sqrt(self.p_bar * (1 - self.p_bar) / n) * self.sigma_z
        return _capped(_chart("p'", d / n, self.p_bar, spread, self.k, floor=0.0), 1.0)


def laney_p_limits(defectives, sizes, k: float = 3.0) -> LaneyProportionLimits:
    """Phase I Laney p' chart: p-bar = total defectives / total inspected; z_i = (p_i - p-bar) /
    sigma_pi; sigma_z = MR-bar(z) / 1.128 (Laney 2002)."""
    d, n = _defectives(defectives, sizes)
    p_bar = float(d.sum() / n.sum())
    if not 0 < p_bar < 1:
        raise ValueError(f"p-bar is {p_bar:g}: a Laney p' chart needs some defectives and some good parts")
    z = (d / n - p_bar) / np.sqrt(p_bar * (1 - p_bar) / n)
    return LaneyProportionLimits(p_bar, _sigma_z(z), k)


@dataclass(frozen=True)
class LaneyRateLimits:
    """Limits of a Laney u' chart: u-bar and sigma_z."""

    u_bar: float
    sigma_z: float
    k: float = 3.0

    def apply(self, counts, units) -> Chart:
        """u_i against u-bar +- k sigma_ui sigma_z, sigma_ui = sqrt(u-bar / n_i), LCL at least 0
        (Laney 2002; Minitab Laney U')."""
        c = _counts(counts, "count")
        n = _sizes(units, c.shape, "inspection units")
        spread = np.sqrt(self.u_bar / n) * self.sigma_z
        return _chart("u'", c / n, self.u_bar, spread, self.k, floor=0.0)


def laney_u_limits(counts, units, k: float = 3.0) -> LaneyRateLimits:
    """Phase I Laney u' chart: u-bar = total count / total units; z_i = (u_i - u-bar) / sqrt(u-bar /
    n_i); sigma_z = MR-bar(z) / 1.128 (Laney 2002)."""
    c = _counts(counts, "count")
    n = _sizes(units, c.shape, "inspection units")
    u_bar = float(c.sum() / n.sum())
    if not u_bar > 0:
        raise ValueError("u-bar is 0: a Laney u' chart needs some nonconformities")
    z = (c / n - u_bar) / np.sqrt(u_bar / n)
    return LaneyRateLimits(u_bar, _sigma_z(z), k)
