"""NNR (Daasch et al.): the neighbourhood median, residual limits, and a planted outlier on a
wafer with a gradient that passes the specification and PAT but not NNR."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from silicio.yields.nnr import neighbour_median, nnr, nnr_limits, nnr_residuals
from silicio.yields.pat import dynamic_pat_limits, pat_outliers, static_pat_limits


def test_neighbour_median_excludes_the_die_and_missing_positions():
    grid = np.array(
        [
            [1.0, 2.0, 3.0],
            [4.0, 100.0, 6.0],
            [7.0, 8.0, np.nan],
        ]
    )
    med = neighbour_median(grid, radius=1)
    assert med[1, 1] == np.median([1, 2, 3, 4, 6, 7, 8])  # not 100, not the hole
    assert med[0, 0] == np.median([2.0, 4.0, 100.0])
    assert np.isnan(neighbour_median(grid, radius=1, min_neighbours=4)[0, 0])


def test_residual_is_zero_inside_a_linear_field():
    y, x = np.mgrid[0:9, 0:9]
    field = 2.0 + 0.1 * x - 0.05 * y
    residual = nnr_residuals(field, radius=2)
    # Symmetric full windows: the median of a plane's neighbours is the plane at the die.
    np.testing.assert_allclose(residual[2:-2, 2:-2], 0.0, atol=1e-12)


def test_residual_limits_are_median_plus_minus_k_robust_sigma():
    r = np.arange(101.0) - 50.0
    center, sigma, lo, hi = nnr_limits(r, k=3)
    assert (center, sigma) == (0.0, pytest.approx(50 / 1.35))
    assert (lo, hi) == (pytest.approx(-3 * 50 / 1.35), pytest.approx(3 * 50 / 1.35))
    with pytest.raises(ValueError, match="k"):
        nnr_limits(r, k=-1)


def wafer(lot: str, wafer_id: str, rng, outlier_at=None, start=0) -> list[dict]:
    """A 15 x 15 wafer (corners cut) of a leakage current with a gradient and some noise."""
    rows = []
    index = start
    for yy in range(15):
        for xx in range(15):
            if (xx - 7) ** 2 + (yy - 7) ** 2 > 60:
                continue
            value = 1.0 + 0.02 * xx + 0.02 * yy + rng.normal(0, 0.02)
            if (xx, yy) == outlier_at:
                value += 0.4
            rows.append(
                {
                    "lot_id": lot, "wafer_id": wafer_id, "part_index": index, "x": xx, "y": yy,
                    "test_num": 300, "test_name": "iddq", "pin": None, "test_type": "P", "result": value,
                    "lo_limit": 0.0, "hi_limit": 3.0, "part_passed": True, "is_last_test": True,
                }
            )  # fmt: skip
            index += 1
    return rows


SCHEMA = {
    "lot_id": pl.String, "wafer_id": pl.String, "part_index": pl.Int64, "x": pl.Int16, "y": pl.Int16,
    "test_num": pl.UInt32, "test_name": pl.String, "pin": pl.UInt16, "test_type": pl.String, "result": pl.Float64,
    "lo_limit": pl.Float64, "hi_limit": pl.Float64, "part_passed": pl.Boolean, "is_last_test": pl.Boolean,
}  # fmt: skip


def test_planted_outlier_passes_spec_and_pat_but_nnr_catches_it():
    rng = np.random.default_rng(2024)
    history = pl.DataFrame(
        [row for lot in range(6) for row in wafer(f"H{lot}", "W1", rng)], schema=SCHEMA, orient="row"
    )
    static = static_pat_limits(history)
    # The outlier sits where the gradient is low: its value is near the wafer's median.
    rows = wafer("LOT9", "W3", rng, outlier_at=(4, 5))
    table = pl.DataFrame(rows, schema=SCHEMA, orient="row")
    outlier = next(r for r in rows if (r["x"], r["y"]) == (4, 5))
    assert 0.0 < outlier["result"] < 3.0  # inside the specification
    dynamic = dynamic_pat_limits(table, static, min_parts=30)
    assert pat_outliers(table, static, dynamic).num_rows == 0  # and inside static and dynamic PAT

    outliers, limits = nnr(table, [300], radius=2, k=6)
    (flag,) = outliers.to_pylist()
    assert flag["part_index"] == outlier["part_index"] and flag["rule"] == "NNR"
    assert flag["value"] == pytest.approx(flag["result"] - flag["estimate"])
    assert flag["value"] > flag["limit_hi"]
    (lim,) = limits.to_pylist()
    assert lim["n_dies"] == len(rows) and not lim["skipped"]


def test_nnr_skips_a_wafer_whose_results_do_not_vary():
    rows = wafer("L", "W", np.random.default_rng(0))
    flat = pl.DataFrame([{**r, "result": 1.0} for r in rows], schema=SCHEMA, orient="row")
    outliers, limits = nnr(flat)
    assert outliers.num_rows == 0
    (lim,) = limits.to_pylist()
    assert lim["skipped"] and "1 distinct results" in lim["reason"]
    # With the selection off, the residuals' IQR is 0 and there is no step to floor it at.
    _, limits = nnr(flat, min_distinct=1, max_spread_ratio=None)
    (lim,) = limits.to_pylist()
    assert lim["skipped"] and "IQR" in lim["reason"]


def coarse_wafer(
    rng, outlier_at=None, step: float = 0.05, noise: float = 0.3, offset: float = 0.0
) -> list[dict]:
    """A round wafer (radius 12) of a smooth parameter measured in steps of ``step`` with noise of
    ``noise`` steps; ``offset`` > 0 puts every other result on a second grid shifted by it (two
    ranges of an instrument), so that the smallest step between results is ``offset``."""
    rows, index = [], 0
    for yy in range(-12, 13):
        for xx in range(-12, 13):
            if xx * xx + yy * yy > 144:
                continue
            value = 1.0 + 0.04 * xx + 0.03 * yy + rng.normal(0, noise * step)
            if (xx, yy) == outlier_at:
                value += 20 * step
            value = round(value / step) * step + (offset if rng.random() < 0.5 else 0.0)
            rows.append(
                {
                    "lot_id": "L", "wafer_id": "W", "part_index": index, "x": xx, "y": yy, "test_num": 400,
                    "test_name": "vth", "pin": None, "test_type": "P", "result": value,
                    "lo_limit": 0.0, "hi_limit": 3.0, "part_passed": True, "is_last_test": True,
                }
            )  # fmt: skip
            index += 1
    return rows


def test_the_resolution_floor_screens_a_coarse_test_and_catches_only_the_real_outlier():
    rows = coarse_wafer(np.random.default_rng(7), outlier_at=(3, -2))
    table = pl.DataFrame(rows, schema=SCHEMA, orient="row")
    planted = next(r["part_index"] for r in rows if (r["x"], r["y"]) == (3, -2))
    values = np.unique([r["result"] for r in rows])
    assert values.size >= 20 and np.diff(values).min() == pytest.approx(0.05)  # continuous enough, in steps

    # Most residuals are 0: IQR 0, and without the floor the wafer is not screened at all.
    unfloored, limits = nnr(table, resolution_floor=0.0)
    assert unfloored.num_rows == 0 and limits.to_pylist()[0]["skipped"]

    outliers, limits = nnr(table)
    assert outliers.column("part_index").to_pylist() == [planted]  # one step off is not an outlier
    (lim,) = limits.to_pylist()
    assert lim["sigma_source"] == "resolution" and lim["sigma"] == pytest.approx(0.05)
    assert lim["sigma_iqr"] == 0.0 and "resolution floor" in lim["reason"]
    assert (lim["limit_lo"], lim["limit_hi"]) == (pytest.approx(-6 * 0.05), pytest.approx(6 * 0.05))


def test_a_per_test_min_sigma_floors_where_the_steps_hide_the_resolution():
    # Two interleaved grids 0.05 apart, shifted by 0.01 (galaxy_lot2 test 1080 looks so): the
    # smallest step between results is 0.01, not the 0.05 the results move by.
    rows = coarse_wafer(np.random.default_rng(11), outlier_at=(3, -2), noise=0.45, offset=0.01)
    table = pl.DataFrame(rows, schema=SCHEMA, orient="row")
    planted = next(r["part_index"] for r in rows if (r["x"], r["y"]) == (3, -2))
    _, limits = nnr(table)
    assert limits.to_pylist()[0]["resolution"] == pytest.approx(0.01)
    outliers, limits = nnr(table, min_sigma={400: 0.05})
    (lim,) = limits.to_pylist()
    assert lim["sigma_source"] == "min_sigma" and lim["sigma"] == 0.05
    assert outliers.column("part_index").to_pylist() == [planted]
    with pytest.raises(ValueError, match="min_sigma of test 400"):
        nnr(table, min_sigma={400: 0.0})


def test_nnr_leaves_a_test_without_spatial_signature_to_pat():
    rng = np.random.default_rng(3)
    rows = wafer("L", "W", rng)
    # The same dies, a result of pure noise: the neighbours predict nothing.
    noise = pl.DataFrame(
        [{**r, "result": 1.0 + rng.normal(0, 0.1)} for r in rows], schema=SCHEMA, orient="row"
    )
    _, limits = nnr(noise)
    (lim,) = limits.to_pylist()
    assert lim["skipped"] and "no spatial signature" in lim["reason"] and lim["spread_ratio"] > 1.0
    # The gradient wafer has one: its residuals spread less than its results.
    _, limits = nnr(pl.DataFrame(rows, schema=SCHEMA, orient="row"))
    (lim,) = limits.to_pylist()
    assert not lim["skipped"] and lim["spread_ratio"] < 1.0


def test_alarm_flagged_results_are_neither_neighbours_nor_judged_unless_included():
    rows = wafer("L", "W", np.random.default_rng(5), outlier_at=(7, 7))
    schema = {**SCHEMA, "test_flg": pl.UInt8}
    # The outlier's result was taken under a tester alarm (TEST_FLG bit 0; bit 7 = failed is 0x80).
    table = pl.DataFrame([{**r, "test_flg": 0x01 if (r["x"], r["y"]) == (7, 7) else 0} for r in rows],
                         schema=schema, orient="row")  # fmt: skip
    outliers, limits = nnr(table)
    assert outliers.num_rows == 0 and limits.to_pylist()[0]["n_dies"] == len(rows) - 1
    included, _ = nnr(table, alarmed="include")
    assert (
        [(r["x"], r["y"]) for r in included.to_pylist()] == [(7, 7)] if "x" in included.column_names else True
    )
    assert included.num_rows == 1
    with pytest.raises(ValueError, match="alarmed"):
        nnr(table, alarmed="ignore")


def test_nnr_leaves_residuals_of_several_modes_unscreened():
    rng = np.random.default_rng(9)
    rows = wafer("L", "W", rng)
    # A trimmed parameter: one die in seven lands on a second trim code, 0.3 higher, at random.
    moved = {r["part_index"] for r in rows if rng.random() < 1 / 7}
    two_modes = pl.DataFrame(
        [{**r, "result": r["result"] + (0.3 if r["part_index"] in moved else 0.0)} for r in rows],
        schema=SCHEMA,
        orient="row",
    )
    # Unchecked, ± 6 robust sigma of the main mode rejects the second mode whole.
    unchecked, _ = nnr(two_modes, max_tail_ratio=None)
    assert len(set(unchecked.column("part_index").to_pylist()) & moved) > len(moved) // 2
    outliers, limits = nnr(two_modes)
    (lim,) = limits.to_pylist()
    assert outliers.num_rows == 0 and lim["skipped"] and "several modes" in lim["reason"]
    assert lim["tail_ratio"] > 3 and lim["spread_ratio"] < 1  # spatial, but not one population
    # The one-mode wafer of the same gradient is screened: its bulk is a few robust sigmas wide.
    _, limits = nnr(pl.DataFrame(rows, schema=SCHEMA, orient="row"))
    (lim,) = limits.to_pylist()
    assert not lim["skipped"] and lim["tail_ratio"] < 1.5


def test_limits_of_many_wafers_equal_numpy_per_wafer_bit_for_bit():
    """The compiled pass over all (wafer, test) groups gives what numpy gives per group: the
    neighbour medians, np.median / np.quantile of the residuals, np.std of their central 98 %."""
    rng = np.random.default_rng(7)
    rows = []
    for w in range(4):
        # Two tests on a 15 x 15 wafer and one on a 25 x 25 (over 128 dies: numpy sums those
        # in blocks), rows shuffled below.
        for r in wafer("L1", f"W{w}", rng, start=1000 * w):
            for test, scale in ((300, 1.0), (301, 1e-6)):
                rows.append(r | {"test_num": test, "test_name": f"t{test}", "result": r["result"] * scale})
        base = rows[-1] | {"test_num": 302, "test_name": "t302"}
        for xx in range(25):
            for yy in range(25):
                value = 2.0 + 0.01 * xx - 0.03 * yy + rng.standard_normal() * 0.05
                rows.append(base | {"x": xx, "y": yy, "result": value, "part_index": 1000 * w + 25 * xx + yy})
    order = rng.permutation(len(rows))
    table = pl.DataFrame([rows[i] for i in order], schema=SCHEMA, orient="row")
    _, limits = nnr(table, radius=2, k=6, min_distinct=1, max_spread_ratio=None, max_tail_ratio=None)
    found = pl.from_arrow(limits)
    assert found.height == 4 * 3
    for (wafer_id, test), group in table.group_by(["wafer_id", "test_num"], maintain_order=True):
        x, y, v = (group[c].to_numpy() for c in ("x", "y", "result"))
        grid = np.full((y.max() + 1, x.max() + 1), np.nan)
        grid[y, x] = v
        residual = v - neighbour_median(grid, 2, 3)[y, x]
        keep = ~np.isnan(residual)
        q1, q3 = np.quantile(residual[keep], [0.25, 0.75])

        def bulk(a):
            lo, hi = np.quantile(a, [0.01, 0.99])
            return np.std(a[(a >= lo) & (a <= hi)])

        row = found.filter((pl.col("wafer_id") == wafer_id) & (pl.col("test_num") == test)).row(0, named=True)
        assert row["n_dies"] == keep.sum()
        assert row["center"] == np.median(residual[keep])
        assert row["sigma_iqr"] == (q3 - q1) / 1.35
        assert row["spread_ratio"] == bulk(residual[keep]) / bulk(v[keep])
        assert row["resolution"] == np.diff(np.unique(v)).min()


@pytest.mark.parametrize("radius", [1, 2, 3])
def test_neighbour_estimates_of_many_groups_equal_numpy_medians_of_each_window(radius):
    """The median network over the dies of many (wafer, test) groups gives np.median of each
    die's neighbours present: holes (odd and even counts missing), ties of a quantized test,
    wafer edges, too few neighbours; and 0.0 beside -0.0 as the insertion sort orders them."""
    from silicio.yields.nnr import _median_network, _neighbour_estimates

    rng = np.random.default_rng(11 + radius)
    xs, ys, values, offsets = [], [], [], [0]
    kinds = ("continuous", "quantized", "signed zeros", "sparse")
    for kind in kinds * 3:
        side = int(rng.integers(3, 23))
        y, x = np.divmod(rng.permutation(side * side), side)
        keep = rng.random(x.size) < (0.35 if kind == "sparse" else 0.9)
        x, y = x[keep] + int(rng.integers(-5, 5)), y[keep] + int(rng.integers(-5, 5))
        v = rng.standard_normal(x.size)
        if kind == "quantized":
            v = np.round(v * 3) / 3
        elif kind == "signed zeros":
            v = np.where(rng.random(x.size) < 0.5, 0.0, -0.0) * (rng.random(x.size) < 0.8) + (
                rng.random(x.size) < 0.2
            )
        xs.append(x), ys.append(y), values.append(v), offsets.append(offsets[-1] + x.size)
    x, y, v = (np.concatenate(a) for a in (xs, ys, values))
    min_neighbours = 3
    estimate, duplicate = _neighbour_estimates(
        x.astype(np.int64),
        y.astype(np.int64),
        v,
        np.array(offsets),
        radius,
        min_neighbours,
        *_median_network(radius),
    )
    assert not duplicate.any()
    for g in range(len(offsets) - 1):
        lo, hi = offsets[g], offsets[g + 1]
        gx, gy, gv = x[lo:hi], y[lo:hi], v[lo:hi]
        for d in range(gx.size):
            near = (np.abs(gx - gx[d]) <= radius) & (np.abs(gy - gy[d]) <= radius)
            near[d] = False
            got = estimate[lo + d]
            if near.sum() < min_neighbours:
                assert np.isnan(got)
            else:
                assert got == np.median(gv[near])
        if kinds[g % len(kinds)] == "signed zeros":
            # The bits too, 0.0 or -0.0, as the insertion sort of neighbour_median gives them.
            grid = np.full((gy.max() - gy.min() + 1, gx.max() - gx.min() + 1), np.nan)
            grid[gy - gy.min(), gx - gx.min()] = gv
            expected = neighbour_median(grid, radius, min_neighbours)[gy - gy.min(), gx - gx.min()]
            assert np.array_equal(estimate[lo:hi].view(np.int64), expected.view(np.int64))
