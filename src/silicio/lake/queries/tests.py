"""The results of one test across the lake (the dashboard's test page)."""

from __future__ import annotations

import polars as pl

from ..query import Lake
from . import test_order
from .insertions import join_insertions, last_insertion

__all__ = ["test_results"]


def test_results(lake: Lake, test_num: int, product: str | None = None) -> pl.DataFrame:
    """Every result of test ``test_num`` (of ``product``, when given) in parts with a lot:
    product, lot_id, stage, wafer_id, part_index, the test's identity, units, result, verdicts,
    limits, is_last_test (its die's last insertion across the lot's files: final) and test_flg
    (alarms), files in test order."""
    of_product = "" if product is None else " AND f.product = $product"
    params = {"test_num": test_num} | ({} if product is None else {"product": product})
    # the retests are looked for among all of the product's (or the lake's) parts with a lot
    where, scope = f"t.test_num = $test_num{of_product}", f"p.lot_id IS NOT NULL{of_product}"
    return lake.polars(
        "SELECT f.product, t.lot_id, f.stage, t.wafer_id, t.part_index, t.test_type, t.test_num, t.test_name, "
        "t.pin, t.units, t.result, t.passed, t.part_passed, t.lo_limit, t.hi_limit, "
        f"{last_insertion('t')} AS is_last_test, t.test_flg "
        f"FROM tidy t JOIN files f ON f.sha256 = t.file_sha256 {join_insertions('t', scope)} "
        f"WHERE {where} AND t.lot_id IS NOT NULL ORDER BY {test_order('t')}",
        params,
    )


test_results.__test__ = False  # a query, not a pytest test
