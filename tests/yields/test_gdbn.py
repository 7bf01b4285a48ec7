"""GDBN on hand-drawn wafer maps: the count rule, the weighted rule and the edge factor.

Maps are drawn row by row (row = y, column = x): ``P`` a passing die, ``F`` a failing die,
``.`` no die. Expected maps are the same wafer with ``X`` at each passing die the rule flags.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from silicio.yields.gdbn import (
    bad_neighbourhood_score,
    count_kernel,
    die_grid,
    gdbn,
    gdbn_count,
    gdbn_weighted,
    weighted_kernel,
)


def parse(drawing: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(failing, present, flagged) grids of a drawn map."""
    rows = [line.strip() for line in drawing.strip().splitlines()]
    chars = np.array([list(r) for r in rows])
    return chars == "F", chars != ".", chars == "X"


def draw(failing: np.ndarray, present: np.ndarray, flagged: np.ndarray) -> str:
    """The map again, flags as X: an assertion failure then shows the two maps."""
    out = np.where(present, np.where(failing, "F", np.where(flagged, "X", "P")), ".")
    return "\n".join("".join(r) for r in out)


def check(rule, expected: str, **kwargs) -> None:
    failing, present, want = parse(expected)
    got = rule(failing, present, **kwargs)
    assert draw(failing, present, got) == draw(failing, present, want)


# A cluster of three failing dies top left, one alone bottom right.
CLUSTER_COUNT_3 = """
    .PPPP.
    PFFPPP
    PFXPPP
    PPPPFP
    .PPPP.
"""

# The same wafer, edge dies scaled to a full window: sum x 8 / neighbours present.
CLUSTER_COUNT_3_EDGE_SCALED = """
    .XXPP.
    XFFPPP
    XFXPPP
    PPPPFP
    .PPPP.
"""


def test_count_rule_flags_good_dies_with_three_failing_neighbours():
    check(gdbn_count, CLUSTER_COUNT_3, min_failing=3)


def test_count_rule_with_edge_scaling_flags_edge_dies_beside_the_cluster():
    # (row 0, col 1) has 4 neighbours on the map, 2 failing: 2 x 8 / 4 = 4 >= 3.
    check(gdbn_count, CLUSTER_COUNT_3_EDGE_SCALED, min_failing=3, edge="scale")


def test_count_rule_wider_window():
    # Radius 2 (5 x 5): the middle die sees all four failing dies.
    check(
        gdbn_count,
        """
        FPPPF
        PPPPP
        PPXPP
        PPPPP
        FPPPF
        """,
        min_failing=4,
        radius=2,
    )


# Four failing dies on the diagonals of (1, 1); two failing dies above and below (2, 5).
WEIGHTED_4 = """
    FXFPPPP
    XXXPPFP
    FXFPPXP
    PPPPPFP
    PPPPPPP
"""

# The same wafer, count rule N = 3: only the die with four failing neighbours.
WEIGHTED_MAP_COUNT_3 = """
    FPFPPPP
    PXPPPFP
    FPFPPPP
    PPPPPFP
    PPPPPPP
"""

# Weighted, threshold 4, edge factor 2: dies missing a neighbour have their sum doubled.
WEIGHTED_4_EDGE_2 = """
    FXFXPXP
    XXXPPFX
    FXFPPXX
    XPPPPFX
    PPPPPXP
"""


def test_weighted_rule_adjacent_two_diagonal_one():
    # (1, 1): four diagonal failures = 4; (2, 5): two adjacent = 4; (0, 3): one adjacent = 2.
    check(gdbn_weighted, WEIGHTED_4, threshold=4)


def test_count_and_weighted_rules_differ_on_the_same_wafer():
    check(gdbn_count, WEIGHTED_MAP_COUNT_3, min_failing=3)


def test_weighted_rule_with_a_configured_edge_factor():
    check(gdbn_weighted, WEIGHTED_4_EDGE_2, threshold=4, edge=2.0)


def test_weighted_rule_with_equal_weights_is_the_count_rule():
    failing, present, _ = parse(WEIGHTED_4)
    np.testing.assert_array_equal(
        gdbn_weighted(failing, present, threshold=3, adjacent_weight=1, diagonal_weight=1),
        gdbn_count(failing, present, min_failing=3),
    )


def test_edge_scale_formula():
    failing, present, _ = parse(CLUSTER_COUNT_3)
    score = bad_neighbourhood_score(failing, present, count_kernel(1), edge="scale")
    assert score[0, 1] == pytest.approx(2 * 8 / 4)
    assert score[0, 2] == pytest.approx(2 * 8 / 5)
    assert score[2, 2] == pytest.approx(3.0)  # all 8 neighbours present: unscaled
    kernel = weighted_kernel(2, 1)
    assert kernel.sum() == 12
    weighted = bad_neighbourhood_score(failing, present, kernel, edge="scale")
    # (0, 1): neighbours on the map (0, 2) adj, (1, 0) diag, (1, 1) adj F, (1, 2) diag F: 2 + 1 of 2+1+2+1.
    assert weighted[0, 1] == pytest.approx(3 * 12 / 6)


def test_bad_parameters_raise():
    failing, present, _ = parse(CLUSTER_COUNT_3)
    with pytest.raises(ValueError, match="radius"):
        gdbn_count(failing, present, radius=0)
    with pytest.raises(ValueError, match="edge"):
        gdbn_weighted(failing, present, edge="mirror")
    with pytest.raises(ValueError, match="threshold"):
        gdbn_weighted(failing, present, threshold=0)
    with pytest.raises(ValueError, match="same"):
        die_grid(np.array([1, 1]), np.array([2, 2]), np.array([True, False]), False)


def parts_of(drawing: str, lot="L1", wafer="W1", x0=10, y0=-3) -> pl.DataFrame:
    """A per-part table of a drawn map at an offset origin: one part per die."""
    failing, present, _ = parse(drawing)
    ys, xs = np.nonzero(present)
    return pl.DataFrame(
        {
            "lot_id": lot,
            "wafer_id": wafer,
            "part_index": np.arange(xs.size, dtype=np.int64),
            "x": (xs + x0).astype(np.int16),
            "y": (ys + y0).astype(np.int16),
            "part_passed": ~failing[ys, xs],
        }
    )


def test_gdbn_on_a_parts_table_per_wafer():
    parts = pl.concat([parts_of(WEIGHTED_4, wafer="W1"), parts_of(CLUSTER_COUNT_3, wafer="W2")])
    result = pl.from_arrow(gdbn(parts, rule="weighted", threshold=4))
    for wafer, drawing in (("W1", WEIGHTED_4), ("W2", CLUSTER_COUNT_3)):
        failing, present, want = parse(drawing)
        rows = result.filter(pl.col("wafer_id") == wafer)
        flagged = np.zeros_like(present)
        hit = rows.filter(pl.col("flagged"))
        flagged[hit["y"].to_numpy() + 3, hit["x"].to_numpy() - 10] = True
        expected = gdbn_weighted(failing, present, threshold=4)
        assert draw(failing, present, flagged) == draw(failing, present, expected)
        assert rows.height == int((present & ~failing).sum())  # one row per good die
    assert set(result["threshold"]) == {4.0}
    with pytest.raises(ValueError, match="rule"):
        gdbn(parts, rule="cluster")


def test_a_die_failing_only_on_alarmed_results_is_no_failing_neighbour():
    from silicio.yields.rules import ScreeningContext
    from silicio.yields.rules.gdbn import GdbnParams, GdbnRule

    # A good die at (1, 1) with three failing edge neighbours: weighted sum 6, flagged.
    parts = pl.DataFrame(
        {
            "lot_id": "L", "wafer_id": "W", "part_index": np.arange(9, dtype=np.int64),
            "x": np.array([0, 1, 2] * 3, dtype=np.int16), "y": np.repeat(np.arange(3), 3).astype(np.int16),
            "part_passed": [True, False, True, False, True, False, True, True, True],
        }
    )  # fmt: skip
    # Die 1 failed its only test under a tester alarm (TEST_FLG 0x81: failed + alarm); dies 3 and
    # 5 failed cleanly (0x80); die 4 fails no test.
    flags = {1: 0x81, 3: 0x80, 5: 0x80}
    tidy = pl.DataFrame(
        {
            "lot_id": "L", "wafer_id": "W", "part_index": np.arange(9, dtype=np.int64),
            "test_flg": [flags.get(i, 0) for i in range(9)], "passed": [i not in flags for i in range(9)],
        },
        schema_overrides={"test_flg": pl.UInt8},
    )  # fmt: skip
    rule = GdbnRule()
    excluded = ScreeningContext(tidy, parts)
    assert rule.apply(excluded, GdbnParams()).height == 0  # sum 4 < 6 without die 1
    assert any(note.startswith("GDBN: 1 die(s)") for note in excluded.notes)
    included = ScreeningContext(tidy, parts)
    (flag,) = rule.apply(included, GdbnParams(alarmed="include")).to_dicts()
    assert (flag["part_index"], flag["value"]) == (4, 6.0) and included.notes == []


@pytest.mark.parametrize("with_passed", [True, False])
def test_a_die_with_a_clean_failure_stays_failing_whatever_its_alarms(with_passed):
    """screen_lake's inputs carry TEST_FLG but no per-result ``passed``: a failure is then read
    from TEST_FLG bit 7 (STDF V4 PTR), and a die that failed cleanly stays a failing neighbour
    though another of its results is alarmed."""
    from silicio.yields.rules import ScreeningContext
    from silicio.yields.rules.gdbn import GdbnParams, GdbnRule

    parts = pl.DataFrame(
        {
            "lot_id": "L", "wafer_id": "W", "part_index": np.arange(9, dtype=np.int64),
            "x": np.array([0, 1, 2] * 3, dtype=np.int16), "y": np.repeat(np.arange(3), 3).astype(np.int16),
            "part_passed": [True, False, True, False, True, False, True, True, True],
        }
    )  # fmt: skip
    # Dies 1, 3 and 5 failed a test cleanly (0x80); die 3 also has a passing alarmed result
    # (0x01), and die 5 a failure whose pass/fail flag is void (0xC0: not a failure).
    rows = [(i, 0) for i in range(9) if i not in (1, 3, 5)]
    rows += [(1, 0x80), (3, 0x80), (3, 0x01), (5, 0x80), (5, 0xC0)]
    tidy = pl.DataFrame(
        {
            "lot_id": "L",
            "wafer_id": "W",
            "part_index": [r[0] for r in rows],
            "test_flg": [r[1] for r in rows],
        },
        schema_overrides={"test_flg": pl.UInt8, "part_index": pl.Int64},
    )
    if with_passed:  # the tidy view's definition, written out
        tidy = tidy.with_columns(
            passed=pl.when((pl.col("test_flg") & 0x50) != 0)
            .then(None)
            .otherwise((pl.col("test_flg") & 0x80) == 0)
        )
    context = ScreeningContext(tidy, parts)
    (flag,) = GdbnRule().apply(context, GdbnParams()).to_dicts()
    assert (flag["part_index"], flag["value"]) == (4, 6.0)  # dies 1, 3, 5 all failing neighbours
    assert not any(note.startswith("GDBN:") for note in context.notes)
