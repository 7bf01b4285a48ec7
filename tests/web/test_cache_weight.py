"""The cache weighs page models as they are held in memory: a pydantic model's values, and the
dict and set it keeps them in (once a fifth of the real size, so a 256 MB bound held ~1.2 GB)."""

from __future__ import annotations

import tracemalloc

from silicio.web import models as m
from silicio.web.cache import weigh
from silicio.web.spc_pages import ChartPoint


def _allocated(make):
    """``make()`` and the bytes Python allocated for it (tracemalloc, independent of weigh)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        value = make()
        return value, tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_weight_of_chart_points_is_their_memory():
    points, allocated = _allocated(lambda: [
        ChartPoint(point=i, subgroup=f"LOT{i % 97:04d}/{i % 25:02d} #{i}", size=1, phase="II",
                   value=i * 0.5, center=1.0, lcl=0.0, ucl=2.0, rules=[])
        for i in range(20_000)
    ])  # fmt: skip
    assert 0.8 < weigh(points) / allocated < 1.25, (weigh(points), allocated)


def test_weight_of_table_rows_is_their_memory():
    rows, allocated = _allocated(lambda: [
        m.CountRow(group=f"group {i % 7}", value=f"value number {i}", organisations=i) for i in range(20_000)
    ])  # fmt: skip
    assert 0.8 < weigh(rows) / allocated < 1.25, (weigh(rows), allocated)
