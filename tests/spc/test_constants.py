"""Chart constants from their definitions against the published table (Montgomery App. VI, ASTM E2587)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from silicio.spc import constants

# Table column -> our function; the table is a reference only, never read by the library.
COLUMNS = {
    "d2": "d2", "d3": "d3", "c4": "c4", "A": "A", "A2": "A2", "A3": "A3",
    "D1_known_sigma": "D1", "D2_known_sigma": "D2", "D3": "D3", "D4": "D4",
    "B3": "B3", "B4": "B4", "B5": "B5", "B6": "B6", "E2_3_over_d2": "E2",
}  # fmt: skip


def test_table_n2_to_25_to_its_six_decimals(quality):
    table = quality("spc_control_chart_constants_n2_25.csv").to_pydict()
    ours = constants.chart_constants(table["n"])
    for column, name in COLUMNS.items():
        # The table prints 6 decimals: agreement within half a unit of the last one.
        np.testing.assert_allclose(ours[name], table[column], rtol=0, atol=5.01e-7, err_msg=column)


def test_textbook_values_at_printed_precision():
    # MANIFEST: Montgomery App. VI / ASTM E2587 n=5: A2=0.577 D4=2.114 d2=2.326 c4=0.9400 B4=2.089; n=2 D4=3.267, E2=2.660
    assert round(float(constants.A2(5)), 3) == 0.577
    assert round(float(constants.D4(5)), 3) == 2.114
    assert round(float(constants.d2(5)), 3) == 2.326
    assert round(float(constants.c4(5)), 4) == 0.9400
    assert round(float(constants.B4(5)), 3) == 2.089
    assert round(float(constants.D4(2)), 3) == 3.267
    # The tables' E2 = 2.660 is 3 / 1.128, from d2 already rounded to 3 decimals; unrounded 3/d2 = 2.6587
    # (as the CSV's 2.658681).
    assert round(3 / round(float(constants.d2(2)), 3), 3) == 2.660
    assert abs(float(constants.E2(2)) - 2.660) < 3 / 1.1275 - 3 / 1.1285  # within the rounding of d2


def test_closed_forms_for_small_n():
    # For n = 2, R = |X1 - X2| ~ half-normal with sd sqrt(2): E[R] = 2/sqrt(pi), E[R^2] = 2.
    assert constants.d2(2) == pytest.approx(2 / math.sqrt(math.pi), rel=1e-13)
    assert constants.d3(2) == pytest.approx(math.sqrt(2 - 4 / math.pi), rel=1e-11)
    # d2(2) and d3(2) are taken from that closed form; the quadrature that gives every other n
    # agrees with it
    mean, second = constants._range_moments_by_quadrature(2)
    assert mean == pytest.approx(2 / math.sqrt(math.pi), rel=1e-13)
    assert second == pytest.approx(2.0, rel=1e-12)
    # For n = 3, E[R] = 3/sqrt(pi) (Tippett 1925).
    assert constants.d2(3) == pytest.approx(3 / math.sqrt(math.pi), rel=1e-13)
    assert constants.c4(2) == pytest.approx(math.sqrt(2 / math.pi), rel=1e-15)


def test_large_n_and_arrays():
    # c4 -> 1 - 1/(4n) asymptotically; lgamma keeps large n finite.
    assert constants.c4(1000) == pytest.approx(1 - 1 / 4000, abs=1e-6)
    assert constants.d2(np.array([2, 5])).shape == (2,)
    with pytest.raises(ValueError, match="integer >= 2"):
        constants.d2(1)
