"""Run rules on constructed sequences: each rule fires exactly where its pattern completes, not on near misses."""

from __future__ import annotations

import numpy as np
import pytest

from silicio.spc import RULES, run_rules, select_rules


def fired(z, rule):
    """Points where one rule fires, with center 0 and sigma 1 (so the points are z itself)."""
    return list(run_rules(np.asarray(z, dtype=float), 0.0, 1.0, rule).points[rule])


CASES = [
    # rule, sequence, points expected
    ("nelson-1", [0, 0, 3.5, 0, -3.01, 0], [2, 4]),
    ("nelson-1", [3.0, -3.0, 2.99], []),  # on the limit is not beyond
    ("nelson-2", [-0.5] + [0.5] * 9 + [-0.5], [9]),
    ("nelson-2", [0.5] * 10, [8, 9]),  # a run that goes on is reported at each further point
    ("nelson-2", [0.5] * 8 + [0.0] + [0.5] * 8, []),  # a point on the center line ends the run
    ("nelson-2", [-0.2] * 9, [8]),
    ("we-4", [0.5] * 8, [7]),
    ("we-4", [0.5] * 7 + [-0.5] * 7, []),
    ("nelson-3", [0, 0.1, 0.2, 0.3, 0.4, 0.5], [5]),
    ("nelson-3", [5, 4, 3, 2, 1, 0, -1], [5, 6]),
    ("nelson-3", [0, 0.1, 0.2, 0.2, 0.3, 0.4, 0.5], []),  # a tie is not an increase
    ("nelson-4", [0.1, -0.1] * 7, [13]),
    ("nelson-4", [0.1, -0.1] * 6 + [0.1], []),  # 13 points
    ("nelson-4", [0.1, -0.1] * 3 + [-0.1] + [0.1, -0.1] * 4, []),  # a zero step breaks it
    ("nelson-5", [2.5, 0, 2.5], [2]),
    ("nelson-5", [2.5, 2.5, 0], [1]),  # two first points already make "2 of 3"
    ("nelson-5", [2.5, 0, 0, 2.5], []),
    ("nelson-5", [2.5, -2.5, 0, -2.1], [3]),  # same side only
    ("nelson-5", [2.0, 2.0, 2.0], []),  # on the 2-sigma line is not beyond
    ("nelson-6", [1.5, 1.5, 0, 1.5, 1.5], [4]),
    ("nelson-6", [1.5, 1.5, 0, 0, 1.5, 1.5], []),
    ("nelson-6", [-1.2, -1.2, -1.2, 0.5, -1.2, 0.0], [4]),
    ("nelson-7", [0.5, -0.5] * 7 + [0.5], [14]),
    ("nelson-7", [0.5, -0.5] * 7 + [1.0], []),  # the 15th point on the 1-sigma line
    ("nelson-8", [1.5, -1.5] * 4, [7]),
    ("nelson-8", [1.5, -1.5] * 3 + [1.0, 1.5], []),
    ("we-1", [0, 3.5], [1]),
    ("we-2", [2.5, 0, 2.5], [2]),
    ("we-3", [1.5, 1.5, 0, 1.5, 1.5], [4]),
]


@pytest.mark.parametrize(("rule", "z", "expected"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_fires_exactly_where_its_pattern_completes(rule, z, expected):
    assert fired(z, rule) == expected


def test_each_constructed_pattern_fires_only_its_own_nelson_rules():
    # Points at 0.5 around a level leave the zone rules quiet while the run rules fire.
    quiet = {"nelson-1", "nelson-5", "nelson-6", "nelson-8"}
    v = run_rules(np.full(12, 0.5), 0.0, 1.0, "nelson")
    assert all(v.points[r].size == 0 for r in quiet)


def _reference(z: np.ndarray) -> dict[str, list[int]]:
    """Each rule straight from its statement, window by window (independent of the kernel)."""
    out: dict[str, list[int]] = {}
    for i in range(z.size):

        def last(w, i=i):
            return z[max(0, i - w + 1) : i + 1]

        def full(w, i=i):
            return i >= w - 1

        steps = np.diff(last(14))
        hit = {
            "nelson-1": abs(z[i]) > 3,
            "nelson-2": full(9) and (np.all(last(9) > 0) or np.all(last(9) < 0)),
            "we-4": full(8) and (np.all(last(8) > 0) or np.all(last(8) < 0)),
            "nelson-3": full(6) and (np.all(np.diff(last(6)) > 0) or np.all(np.diff(last(6)) < 0)),
            "nelson-4": full(14) and bool(np.all(steps[1:] * steps[:-1] < 0)),
            "nelson-5": (z[i] > 2 and np.sum(last(3) > 2) >= 2) or (z[i] < -2 and np.sum(last(3) < -2) >= 2),
            "nelson-6": (z[i] > 1 and np.sum(last(5) > 1) >= 4) or (z[i] < -1 and np.sum(last(5) < -1) >= 4),
            "nelson-7": full(15) and bool(np.all(np.abs(last(15)) < 1)),
            "nelson-8": full(8) and bool(np.all(np.abs(last(8)) > 1)),
        }
        for rule, fires in hit.items():
            out.setdefault(rule, [])
            if fires:
                out[rule].append(i)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernel_matches_the_rules_as_stated(seed):
    rng = np.random.default_rng(seed)
    # Values on a half-sigma grid: ties, zeros and points on the zone lines are common.
    z = np.round(rng.normal(0, 1.3, 1500) * 2) / 2
    z[500:530] = np.round(rng.normal(0, 0.4, 30) * 4) / 4  # a quiet stretch for nelson-7
    z[800:830] = np.arange(30) * 0.05  # a trend for nelson-3
    z[900:920] = np.tile([0.5, -0.5], 10)  # alternation for nelson-4
    v = run_rules(z, 0.0, 1.0, "all")
    reference = _reference(z)
    for rule, expected in reference.items():
        assert list(v.points[rule]) == expected, rule
        assert expected, f"{rule} never fired: the test sequence does not exercise it"


def test_per_point_center_and_sigma():
    # A p chart with varying n: zones move with the limits.
    x = np.array([0.5, 0.5])
    v = run_rules(x, [0.2, 0.2], [0.05, 0.2], "nelson-1")
    assert list(v.points["nelson-1"]) == [0]


def test_selection_and_report():
    assert select_rules("we") == ["we-1", "we-2", "we-3", "we-4"]
    assert select_rules("1,2,5") == ["nelson-1", "nelson-2", "nelson-5"]
    assert select_rules(["WE2", "nelson8", 3]) == ["we-2", "nelson-8", "nelson-3"]
    assert len(select_rules("nelson")) == 8 and len(RULES) == 12
    with pytest.raises(ValueError, match="unknown run rule '9'"):
        select_rules("9")
    table = run_rules(np.r_[np.zeros(3), [1.5, 1.5, 0, 1.5, 1.5]], 0.0, 1.0, "nelson-6,nelson-1").to_arrow()
    assert table.to_pylist() == [
        {"rule": "nelson-6", "description": RULES["nelson-6"].description, "point": 7, "first_point": 3}
    ]
