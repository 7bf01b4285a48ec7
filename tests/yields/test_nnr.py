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


def test_nnr_skips_a_wafer_whose_residuals_do_not_spread():
    rows = wafer("L", "W", np.random.default_rng(0))
    flat = pl.DataFrame([{**r, "result": 1.0} for r in rows], schema=SCHEMA, orient="row")
    outliers, limits = nnr(flat)
    assert outliers.num_rows == 0
    (lim,) = limits.to_pylist()
    assert lim["skipped"] and "IQR" in lim["reason"]


def test_nnr_resolution_policy_floors_the_residual_sigma():
    rows = wafer("L", "W", np.random.default_rng(0))
    # Quantized to 0.1: most residuals are 0, IQR = 0.
    coarse = pl.DataFrame([{**r, "result": round(r["result"], 1)} for r in rows], schema=SCHEMA, orient="row")
    _, skipped = nnr(coarse, iqr_zero="skip")
    assert skipped.to_pylist()[0]["skipped"]
    _, floored = nnr(coarse, iqr_zero="resolution")
    (lim,) = floored.to_pylist()
    assert not lim["skipped"] and lim["sigma"] == pytest.approx(0.1) and "resolution" in lim["reason"]
    with pytest.raises(ValueError, match="iqr_zero"):
        nnr(coarse, iqr_zero="drop")
