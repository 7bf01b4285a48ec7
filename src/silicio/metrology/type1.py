"""Type-1 gage study: one operator measures one reference part many times; the gage's bias and
repeatability against the tolerance (Cg, Cgk).

The study comes from the German automotive industry (Bosch, *Booklet 10: Capability of
Measurement and Test Processes*; VDA 5) and is the first step of an MSA in many companies;
the formulas are those of Minitab's and JMP's Type 1 Gage Study:

* Cg = (K/100 · Tol) / (L · s)
* Cgk = (K/200 · Tol − |x̄ − x_m|) / (L/2 · s)
* t = |x̄ − x_m| / (s / √n), with n − 1 degrees of freedom, for the bias

with K = 20 (% of the tolerance the gage may use) and L = 6 (standard deviations of study
variation) by default. A gage is capable when Cg and Cgk are both at least 1.33; its resolution
should not exceed 5 % of the tolerance.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from .errors import MetrologyError

#: Cg and Cgk a capable gage reaches (Bosch Booklet 10; Minitab's guideline).
CAPABLE = 1.33
#: Largest resolution, in % of the tolerance, a gage should have (Bosch Booklet 10; AIAG MSA 4th ed. "10 to 1" is stricter).
RESOLUTION_PERCENT = 5.0


@dataclass(frozen=True)
class Type1Study:
    """Result of :func:`type1_gage`."""

    n: int
    reference: float
    tolerance: float
    mean: float
    stdev: float
    bias: float
    t: float
    p_value: float
    cg: float
    cgk: float
    percent_var_repeatability: float
    percent_var_repeatability_and_bias: float
    k_percent: float
    spread: float
    resolution: float | None
    percent_resolution: float | None

    @property
    def capable(self) -> bool:
        """Cg and Cgk both at least :data:`CAPABLE`."""
        return self.cg >= CAPABLE and self.cgk >= CAPABLE

    @property
    def resolution_ok(self) -> bool | None:
        """Resolution at most :data:`RESOLUTION_PERCENT` of the tolerance (None: not given)."""
        return None if self.percent_resolution is None else self.percent_resolution <= RESOLUTION_PERCENT

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "capable": self.capable, "resolution_ok": self.resolution_ok}


def type1_gage(measurements: Any, reference: float, *, tolerance: float | None = None, lsl: float | None = None,
               usl: float | None = None, k_percent: float = 20.0, spread: float = 6.0,
               resolution: float | None = None) -> Type1Study:  # fmt: skip
    """Cg, Cgk and the bias test of repeated measurements of one reference part.

    Bosch Booklet 10 / Minitab "Type 1 Gage Study": Cg = (K/100·Tol)/(L·s),
    Cgk = (K/200·Tol − |bias|)/(L/2·s). Give ``tolerance`` or both spec limits.
    """
    values = np.asarray(measurements, dtype=float).ravel()
    if values.size < 2 or not np.all(np.isfinite(values)):
        raise MetrologyError(f"type-1 gage study: expected at least 2 finite measurements, got {values.size}")
    if tolerance is None:
        if lsl is None or usl is None:
            raise MetrologyError("type-1 gage study: give the tolerance, or both spec limits (lsl and usl)")
        tolerance = usl - lsl
    if not (tolerance > 0 and math.isfinite(tolerance)):
        raise MetrologyError(f"type-1 gage study: tolerance {tolerance}: expected a positive number")
    if not 0 < k_percent <= 100 or not spread > 0:
        raise MetrologyError("type-1 gage study: expected 0 < K <= 100 (% of tolerance) and L > 0")
    mean = float(values.mean())
    stdev = float(values.std(ddof=1))
    if stdev == 0:
        raise MetrologyError("type-1 gage study: the measurements do not vary (resolution too coarse?)")
    bias = mean - reference
    t = abs(bias) / (stdev / math.sqrt(values.size))
    p_value = float(2 * stats.t.sf(t, values.size - 1))
    cg = (k_percent / 100 * tolerance) / (spread * stdev)
    cgk = (k_percent / 200 * tolerance - abs(bias)) / (spread / 2 * stdev)
    return Type1Study(
        n=int(values.size),
        reference=float(reference),
        tolerance=float(tolerance),
        mean=mean,
        stdev=stdev,
        bias=bias,
        t=t,
        p_value=p_value,
        cg=cg,
        cgk=cgk,
        percent_var_repeatability=k_percent / cg,
        percent_var_repeatability_and_bias=k_percent / cgk if cgk > 0 else math.inf,
        k_percent=k_percent,
        spread=spread,
        resolution=resolution,
        percent_resolution=None if resolution is None else 100 * resolution / tolerance,
    )
