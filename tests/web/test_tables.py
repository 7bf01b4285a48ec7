"""silicio.web.tables on rows made here: the URL's sort, filters and date range chosen by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from silicio.web import models as m
from silicio.web.tables import BadTableQuery, apply, parse

ROWS = [
    m.LotYield(product="A", lot_id="L3", stage="wafer_sort", started=datetime(2024, 6, 3, 23, 59, tzinfo=UTC),
               wafers=2, final_dies=10, final_good=9, first_pass_yield=0.8, final_yield=0.9),
    m.LotYield(product="B", lot_id="L1", stage="final_test", started=None, wafers=0, final_dies=10, final_good=10,
               first_pass_yield=None, final_yield=1.0),
    m.LotYield(product="A", lot_id="L2", stage="wafer_sort", started=datetime(2024, 6, 1, tzinfo=UTC), wafers=2,
               final_dies=10, final_good=9, first_pass_yield=0.7, final_yield=0.9),
]  # fmt: skip
PAGE = m.Overview(hold_yield=0.9, pat_hold_fraction=0.1, products=["A", "B"], lots=ROWS, held_lots=[])


def lots(params: dict[str, str]) -> list[str]:
    return [r.lot_id for r in apply(PAGE, parse(params, PAGE)).lots]


def test_sorting_keeps_empty_cells_last_both_ways_and_ties_in_the_next_keys_order():
    assert lots({"lots.sort": "first_pass_yield"}) == ["L2", "L3", "L1"]
    assert lots({"lots.sort": "-first_pass_yield"}) == ["L3", "L2", "L1"]
    assert lots({"lots.sort": "-final_yield,lot_id"}) == ["L1", "L2", "L3"]
    assert lots({"lots.sort": "final_yield,-lot_id"}) == ["L3", "L2", "L1"]
    assert lots({"lots.sort": "started"}) == ["L2", "L3", "L1"]


def test_filters_text_equality_bounds_and_dates():
    assert lots({"lots.q": "l2"}) == ["L2"]
    assert lots({"lots.q": "final_"}) == ["L1"]  # the stage's text
    assert lots({"lots.product": "A"}) == ["L3", "L2"]
    assert lots({"lots.final_yield.min": "0.95"}) == ["L1"]
    assert lots({"lots.first_pass_yield.max": "0.75"}) == ["L2"]  # an empty cell is outside any bound
    # a day includes its last minute; a row without a date is outside any range
    assert lots({"lots.from": "2024-06-03"}) == ["L3"]
    assert lots({"lots.to": "2024-06-02"}) == ["L2"]
    assert lots({"lots.from": "2024-06-01", "lots.to": "2024-06-03"}) == ["L3", "L2"]


def test_no_table_parameter_leaves_the_page_as_it_is():
    assert apply(PAGE, parse({"q": "x", "stage": "final_test", "held_lots.page": "2"}, PAGE)) is PAGE


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"lots.sort": "size"}, "table 'lots' has no column 'size'"),
        ({"lots.to": "June"}, "expected a date as YYYY-MM-DD"),
        ({"lots.page": "-1"}, "expected a whole number from 1"),
        ({"lots.per": "100000"}, "up to 5000"),
        ({"lots.date": "lot_id"}, "not a date column"),
        ({"held_lots.from": "2024-01-01"}, "has no date column"),
    ],
)
def test_a_bad_parameter_names_itself(params, says):
    with pytest.raises(BadTableQuery, match=says):
        parse(params, PAGE)
