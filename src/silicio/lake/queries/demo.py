"""What the demo's trace genealogy and certificates are built from: the lake's wafer-sort lots."""

from __future__ import annotations

from ..layout import WAFER_SORT
from ..query import Lake

__all__ = ["wafer_sort_lots"]


def wafer_sort_lots(lake: Lake) -> list[dict]:
    """product, lot, wafers (ids, sorted), tested and good (dies' last tests) of each wafer-sort
    lot, by lot; [] when the lake holds no parts."""
    if "parts" not in lake.tables:
        return []
    return lake.polars(
        "SELECT f.product, p.lot_id AS lot, list(DISTINCT p.wafer_id ORDER BY p.wafer_id) AS wafers, "
        "count(*) FILTER (WHERE p.is_last_test) AS tested, "
        "count(*) FILTER (WHERE p.is_last_test AND p.passed) AS good "
        "FROM parts p JOIN files f ON f.sha256 = p.file_sha256 "
        "WHERE f.stage = ? AND p.lot_id IS NOT NULL GROUP BY ALL ORDER BY lot",
        [WAFER_SORT],
    ).to_dicts()
