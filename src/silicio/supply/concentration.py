"""Concentration of supply: the Herfindahl-Hirschman index and the share from a named country.

References
----------
U.S. Department of Justice and Federal Trade Commission, *Horizontal Merger Guidelines* (2010),
section 5.3, and *Merger Guidelines* (2023), Guideline 1: HHI is the sum of the squares of the
market shares in percent, from near 0 to 10,000; the 2023 guidelines call a market with an HHI
above 1,800 highly concentrated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

#: Highly concentrated above this HHI (DOJ/FTC Merger Guidelines 2023, Guideline 1).
HIGHLY_CONCENTRATED = 1800.0


#: Units :func:`hhi` takes shares in.
SHARE_UNITS = ("percent", "fraction")


def hhi(shares, unit: str | None = None) -> float:
    """HHI = sum_i s_i^2 with shares s_i in percent, on a 0-10,000 scale (DOJ/FTC Merger
    Guidelines 2023, Guideline 1 and its note on the HHI).

    ``unit`` says what the shares are: ``"percent"`` (50 for half the market) or
    ``"fraction"`` (0.5, scaled by 100 before squaring). It must be given: ``[0.5, 0.5]`` is
    two half-markets (HHI 5,000, highly concentrated) or two firms of 0.5 % each (HHI 0.5),
    and nothing in the numbers tells which.
    """
    if unit not in SHARE_UNITS:
        raise ValueError(f"hhi: unit must be 'percent' (50 = half the market) or 'fraction' (0.5 = half), "
                         f"got {unit!r}; the same numbers give HHIs 10,000 times apart")  # fmt: skip
    s = np.asarray(list(shares.values()) if isinstance(shares, Mapping) else shares, dtype=float)
    if s.size == 0:
        raise ValueError("HHI of no shares: at least one share is needed")
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"shares must be finite and non-negative {unit}s, got {s.tolist()}")
    full = 100.0 if unit == "percent" else 1.0
    if s.sum() > full * 1.05:  # published shares, rounded, add up to 102 % at times
        raise ValueError(f"shares in {unit} add up to {s.sum():g}, more than the whole market ({full:g})")
    if unit == "fraction":
        s = s * 100.0
    return float(np.sum(s * s))


def shares_pct(values: Mapping[str, float]) -> dict[str, float]:
    """Each key's share of the total of ``values``, in percent."""
    total = math.fsum(values.values())
    if total <= 0:
        raise ValueError("shares of a zero total: no value to divide")
    return {k: v / total * 100.0 for k, v in values.items()}


def hhi_of_values(values: Mapping[str, float]) -> float:
    """HHI of the shares of ``values`` (values, not shares: a supplier's spend, a country's capacity)."""
    return hhi(shares_pct(values), unit="percent")


def share_from(values: Mapping[str, float], key: str) -> float:
    """Share (percent) of the total from ``key``, e.g. the share of imports from one country."""
    return shares_pct(values).get(key, 0.0)


def concentration_level(index: float) -> str:
    """'highly concentrated' above an HHI of 1,800, else 'not highly concentrated' (DOJ/FTC Merger Guidelines 2023)."""
    return "highly concentrated" if index > HIGHLY_CONCENTRATED else "not highly concentrated"
