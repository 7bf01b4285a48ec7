"""Run rules for Shewhart charts: Western Electric (4) and Nelson (8), each selectable.

Every rule looks at the plotted statistic ``x`` in units of its own standard deviation,
``z = (x - center) / sigma`` (sigma = one third of the distance from center line to 3-sigma limit).
Zones: C within 1 sigma, B between 1 and 2, A between 2 and 3. "Beyond" is strict: a point exactly
on a zone line is not beyond it, as a point exactly on a control limit is not out of control. A
point exactly on the center line is on neither side, so it ends a run on one side.

Which point is reported: the **last point of the window that completes the pattern**, and only a
point that is itself part of the pattern (for "2 of 3 beyond 2 sigma", a point beyond 2 sigma). A
run that continues is reported again at each further point (ten points on one side: Nelson 2
reports the 9th and the 10th). At the start of the data, "m of w" rules count the points there
are (two first points beyond 2 sigma make "2 of 3"); run rules need all their points.

Rules (Nelson 1984; Western Electric 1956; Montgomery section 5.3.6):

=========  =============================================================  ======
code       pattern                                                        points
=========  =============================================================  ======
nelson-1   one point beyond 3 sigma                                       1
nelson-2   nine points in a row on one side of the center line            9
nelson-3   six points in a row steadily increasing or decreasing          6
nelson-4   fourteen points in a row alternating up and down               14
nelson-5   two of three points in a row beyond 2 sigma, same side         3
nelson-6   four of five points in a row beyond 1 sigma, same side         5
nelson-7   fifteen points in a row within 1 sigma (either side)           15
nelson-8   eight points in a row beyond 1 sigma (either side)             8
we-1       one point beyond 3 sigma (= nelson-1)                          1
we-2       two of three points beyond 2 sigma, same side (= nelson-5)     3
we-3       four of five points beyond 1 sigma, same side (= nelson-6)     5
we-4       eight points in a row on one side of the center line           8
=========  =============================================================  ======

"Steadily increasing" is strict: equal consecutive values end the run, as does a zero step in
an alternation. Nelson 8 ("on both sides, none in zone C") is read as its usual implementations
read it: eight points beyond 1 sigma, on whichever side.

References
----------
.. [1] L. S. Nelson, "The Shewhart control chart - tests for special causes", Journal of Quality
   Technology 16(4) (1984) 237-239.
.. [2] Western Electric Co., Statistical Quality Control Handbook, 1956.
.. [3] D. C. Montgomery, Introduction to Statistical Quality Control, 8th ed., section 5.3.6.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numba as nb
import numpy as np
import pyarrow as pa


@dataclass(frozen=True)
class Rule:
    code: str
    system: str
    number: int
    description: str
    #: Points in the pattern; the reported window is the ``window`` points ending at the reported point.
    window: int
    #: Bit of the kernel's mask that detects it (Western Electric 1-3 reuse Nelson's).
    bit: int


_NELSON = [
    ("one point beyond 3 sigma", 1),
    ("nine points in a row on one side of the center line", 9),
    ("six points in a row steadily increasing or decreasing", 6),
    ("fourteen points in a row alternating up and down", 14),
    ("two of three points in a row beyond 2 sigma on the same side", 3),
    ("four of five points in a row beyond 1 sigma on the same side", 5),
    ("fifteen points in a row within 1 sigma of the center line", 15),
    ("eight points in a row beyond 1 sigma, either side", 8),
]
_WE = [
    ("one point beyond 3 sigma", 1, 0),
    ("two of three points in a row beyond 2 sigma on the same side", 3, 4),
    ("four of five points in a row beyond 1 sigma on the same side", 5, 5),
    ("eight points in a row on one side of the center line", 8, 8),
]

#: Every rule by code: ``nelson-1`` .. ``nelson-8``, ``we-1`` .. ``we-4``.
RULES: dict[str, Rule] = {
    f"nelson-{i}": Rule(f"nelson-{i}", "nelson", i, text, window, i - 1)
    for i, (text, window) in enumerate(_NELSON, start=1)
} | {
    f"we-{i}": Rule(f"we-{i}", "we", i, text, window, bit)
    for i, (text, window, bit) in enumerate(_WE, start=1)
}

_SYSTEMS = {"we": "we", "westernelectric": "we", "western-electric": "we", "nelson": "nelson", "n": "nelson"}


def select_rules(rules: str | int | Iterable[str | int] = "we") -> list[str]:
    """Rule codes from a selection: ``"we"``, ``"nelson"``, ``"all"``, a code (``"we-2"``, ``"nelson5"``),
    a Nelson number (``5`` or ``"5"``), or a list or comma-separated string of these."""
    if isinstance(rules, str):
        items: list[str | int] = [r for r in rules.replace(" ", "").split(",") if r]
    elif isinstance(rules, int):
        items = [rules]
    else:
        items = list(rules)
    codes: list[str] = []
    for item in items:
        key = str(item).strip().lower()
        if key == "all":
            found = list(RULES)
        elif key in _SYSTEMS:
            found = [c for c, r in RULES.items() if r.system == _SYSTEMS[key]]
        elif key.isdigit():
            found = [f"nelson-{int(key)}"]
        else:
            head = key.rstrip("0123456789").rstrip("-_ ")
            tail = key[len(key.rstrip("0123456789")) :]
            found = [f"{_SYSTEMS.get(head, head)}-{tail}"] if tail else [key]
        for code in found:
            if code not in RULES:
                raise ValueError(
                    f"unknown run rule {item!r}: expected we, nelson, all, we-1..we-4, nelson-1..nelson-8 "
                    "or a Nelson rule number 1..8"
                )
            if code not in codes:
                codes.append(code)
    if not codes:
        raise ValueError("no run rule selected")
    return codes


@nb.njit(cache=True, nogil=True)
def _rule_mask(x, center, sigma):  # pragma: no cover - compiled
    """Bit r of mask[i] set when the pattern of kernel rule r completes at point i, in one pass.

    ``center`` and ``sigma`` hold one value for all points, or one per point.
    """
    n = x.size
    mask = np.zeros(n, dtype=np.uint16)
    one_center, one_sigma = center.size == 1, sigma.size == 1
    # Flags of the last 8 points (beyond +1, -1, +2, -2 sigma) and their rolling counts over
    # the last 5 (1 sigma) and 3 (2 sigma) points, for the "m of w" rules.
    f1u = np.zeros(8, dtype=np.int64)
    f1d = np.zeros(8, dtype=np.int64)
    f2u = np.zeros(8, dtype=np.int64)
    f2d = np.zeros(8, dtype=np.int64)
    n1u = n1d = n2u = n2d = 0
    up = down = inc = dec = alt = inside = outside = 0
    prev_step = 0.0
    for i in range(n):
        zi = (x[i] - center[0 if one_center else i]) / sigma[0 if one_sigma else i]
        m = 0
        if abs(zi) > 3.0:  # nelson-1 (NaN compares false everywhere: it ends every run)
            m |= 1
        up = up + 1 if zi > 0.0 else 0
        down = down + 1 if zi < 0.0 else 0
        if up >= 9 or down >= 9:
            m |= 1 << 1
        if up >= 8 or down >= 8:
            m |= 1 << 8  # we-4
        step = x[i] - x[i - 1] if i > 0 else 0.0
        inc = inc + 1 if step > 0.0 else 0
        dec = dec + 1 if step < 0.0 else 0
        if inc >= 5 or dec >= 5:  # six points: five steps
            m |= 1 << 2
        alt = alt + 1 if step * prev_step < 0.0 else 0
        prev_step = step
        if alt >= 12:  # fourteen points: thirteen steps, twelve changes of direction
            m |= 1 << 3
        # Slide the windows: drop the point leaving (5 back for 1 sigma, 3 back for 2 sigma), add this
        # one. Its slot, i & 7, held point i - 8, which both windows have already dropped.
        slot, old5, old3 = i & 7, (i - 5) & 7, (i - 3) & 7
        a1u, a1d, a2u, a2d = int(zi > 1.0), int(zi < -1.0), int(zi > 2.0), int(zi < -2.0)
        n1u += a1u - f1u[old5]
        n1d += a1d - f1d[old5]
        n2u += a2u - f2u[old3]
        n2d += a2d - f2d[old3]
        f1u[slot], f1d[slot], f2u[slot], f2d[slot] = a1u, a1d, a2u, a2d
        if (a2u and n2u >= 2) or (a2d and n2d >= 2):
            m |= 1 << 4
        if (a1u and n1u >= 4) or (a1d and n1d >= 4):
            m |= 1 << 5
        inside = inside + 1 if abs(zi) < 1.0 else 0
        if inside >= 15:
            m |= 1 << 6
        outside = outside + 1 if abs(zi) > 1.0 else 0
        if outside >= 8:
            m |= 1 << 7
        mask[i] = m
    return mask


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class Violations:
    """Where each selected rule fired: rule code -> indices of the reported (last) points."""

    points: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(int(p.size) for p in self.points.values())

    @property
    def flagged(self) -> np.ndarray:
        """Every point reported by at least one rule, sorted."""
        if not self.points:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate(list(self.points.values())))

    def to_arrow(self) -> pa.Table:
        """One row per violation: rule, its description, the reported point and the window's first point."""
        codes, text, point, first = [], [], [], []
        for code, pts in self.points.items():
            rule = RULES[code]
            codes += [code] * pts.size
            text += [rule.description] * pts.size
            point.append(pts)
            first.append(np.maximum(pts - (rule.window - 1), 0))
        return pa.table(
            {
                "rule": pa.array(codes, pa.string()),
                "description": pa.array(text, pa.string()),
                "point": pa.array(_cat(point), pa.int64()),
                "first_point": pa.array(_cat(first), pa.int64()),
            }
        )


def _per_point(value, n: int, name: str) -> np.ndarray:
    """One value (also a broadcast view of one), or one per point."""
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0 or (a.ndim == 1 and a.size > 0 and a.strides[0] == 0):
        return np.ascontiguousarray(a.reshape(-1)[:1])
    if a.shape != (n,):
        raise ValueError(f"{name} has shape {a.shape}: expected one value or one per point ({n})")
    return np.ascontiguousarray(a)


def run_rules(x, center, sigma, rules: str | int | Iterable[str | int] = "we") -> Violations:
    """Check the selected run rules on a chart's plotted points.

    Parameters
    ----------
    x : array_like
        Plotted statistic, in time order.
    center, sigma : float or array_like
        Center line and standard deviation of the statistic, per point where they vary
        (p and u charts with varying sample sizes).
    rules : str, int or iterable
        Selection, see :func:`select_rules`. Default: the four Western Electric rules.

    Returns
    -------
    Violations
        For each selected rule, the indices of the points that complete its pattern.

    References
    ----------
    .. [1] L. S. Nelson, Journal of Quality Technology 16(4) (1984) 237-239.
    .. [2] Montgomery, Introduction to Statistical Quality Control, 8th ed., section 5.3.6.
    """
    codes = select_rules(rules)
    x = np.ascontiguousarray(x, dtype=np.float64)
    mask = _rule_mask(x, _per_point(center, x.size, "center"), _per_point(sigma, x.size, "sigma"))
    hit = np.flatnonzero(mask)  # violations are rare: select per rule among these only
    bits = mask[hit]
    return Violations({code: hit[(bits & np.uint16(1 << RULES[code].bit)) != 0] for code in codes})
