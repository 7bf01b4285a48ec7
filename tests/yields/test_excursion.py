"""Lot-level parametric excursions on hand-made lot statistics."""

from __future__ import annotations

import statistics

import polars as pl
import pytest

from silicio.yields.excursion import lot_parametric_shifts

#: AEC-Q001 Rev-D: robust sigma = (Q3 - Q1) / 1.35.
AEC_Q001_IQR_PER_SIGMA = 1.35


def lot_rows(product, test_num, medians, sigmas):
    """One row per lot: quartiles placed so that the lot's robust sigma (Q3 - Q1) / 1.35 is ``sigma``."""
    return [
        {"product": product, "stage": "wafer_sort", "lot_id": f"L{i}", "test_num": test_num,
         "test_name": f"T{test_num}", "q1": m - s * AEC_Q001_IQR_PER_SIGMA / 2, "median": m,
         "q3": m + s * AEC_Q001_IQR_PER_SIGMA / 2}
        for i, (m, s) in enumerate(zip(medians, sigmas, strict=True))
    ]  # fmt: skip


def test_a_lot_shifted_on_two_tests_is_flagged_and_one_test_alone_is_not():
    a = [10.0, 10.1, 9.9, 10.0, 10.05, 13.0]
    b = [5.0, 5.2, 4.9, 5.1, 5.0, 2.0]
    c = [1.0, 1.0, 1.0, 3.5, 1.0, 1.0]  # L3 beyond on this test only
    rows = (
        lot_rows("P", 1, a, [1.0] * 6)
        + lot_rows("P", 2, b, [1.0, 1.0, 1.0, 1.0, 1.5, 1.0])
        + lot_rows("P", 3, c, [1.0] * 6)
    )
    shifts, lots = lot_parametric_shifts(pl.DataFrame(rows))
    # centre = median of the lot medians, sigma = median of the lots' robust sigmas
    expected_a = (13.0 - statistics.median(a)) / 1.0
    expected_b = (2.0 - statistics.median(b)) / statistics.median([1.0, 1.0, 1.0, 1.0, 1.5, 1.0])
    expected_c = (3.5 - statistics.median(c)) / 1.0
    got = {(r["lot_id"], r["test_num"]): r["shift"] for r in shifts.to_dicts()}
    assert got == pytest.approx({("L5", 1): expected_a, ("L5", 2): expected_b, ("L3", 3): expected_c})
    assert lots.to_dicts() == [{"product": "P", "stage": "wafer_sort", "lot_id": "L5", "tests": 2,
                                "worst_test": "T2", "worst_shift": pytest.approx(expected_b)}]  # fmt: skip


def test_too_few_lots_and_zero_sigma_are_not_judged():
    few = lot_rows("P", 1, [1, 1, 1, 1, 9], [1] * 5) + lot_rows("P", 2, [1, 1, 1, 1, 9], [1] * 5)
    flat = lot_rows("Q", 1, [1, 1, 1, 1, 1, 9], [0] * 6) + lot_rows("Q", 2, [1, 1, 1, 1, 1, 9], [0] * 6)
    shifts, lots = lot_parametric_shifts(pl.DataFrame(few + flat))
    assert shifts.is_empty() and lots.is_empty()
    shifts, lots = lot_parametric_shifts(pl.DataFrame(few), min_lots=5)
    assert lots["lot_id"].to_list() == ["L4"]


def test_threshold_and_bad_input():
    rows = lot_rows("P", 1, [0, 0, 0, 0, 0, 1.5], [1] * 6) + lot_rows("P", 2, [0, 0, 0, 0, 0, 1.5], [1] * 6)
    assert lot_parametric_shifts(pl.DataFrame(rows))[1].is_empty()  # 1.5 sigma < 2
    assert lot_parametric_shifts(pl.DataFrame(rows), k=1.0)[1]["lot_id"].to_list() == ["L5"]
    with pytest.raises(ValueError, match="q3"):
        lot_parametric_shifts(pl.DataFrame(rows).drop("q3"))
    with pytest.raises(ValueError, match="k > 0"):
        lot_parametric_shifts(pl.DataFrame(rows), k=0)


def test_robust_sigma_is_the_iqr_over_1_35():
    """The lots' sigma is (Q3 - Q1) / 1.35 (AEC-Q001), not / 1.349: a shift of exactly 2.0 such
    sigmas plus a hair is flagged with k=2."""
    lots = [{"product": "P", "stage": "s", "lot_id": f"L{i}", "test_num": t, "test_name": f"T{t}",
             "q1": 0.0, "median": 0.675, "q3": 1.35} for i in range(5) for t in (1, 2)]  # fmt: skip
    # IQR 1.35 -> sigma 1.0; the sixth lot's median 2.0 + 1e-9 above the others' 0.675.
    lots += [{"product": "P", "stage": "s", "lot_id": "L5", "test_num": t, "test_name": f"T{t}",
              "q1": 0.0, "median": 2.675 + 1e-9, "q3": 1.35} for t in (1, 2)]  # fmt: skip
    shifts, flagged = lot_parametric_shifts(pl.DataFrame(lots))
    assert shifts["shift"].to_list() == pytest.approx([2.0, 2.0], abs=1e-6)
    assert flagged["lot_id"].to_list() == ["L5"]
