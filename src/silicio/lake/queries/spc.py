"""What the control charts read: a test's final result per die, in test order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import test_order
from .insertions import join_insertions, last_insertion

if TYPE_CHECKING:
    import polars as pl

    from silicio.lake import Lake


def last_results(db: Lake, test_num: int, product: str | None = None) -> pl.DataFrame:
    """Each die's final finite result of test ``test_num`` (of one ``product``, or all): the
    result of its last insertion across the lot's files, none when that insertion did not run
    the test. Parts outside a lot left out, in test order: ``product, lot_id, wafer_id,
    test_name, units, result, lo_limit, hi_limit``, one row per part and test name."""
    of_product = "" if product is None else " AND f.product = $product"
    params = {"test_num": test_num} | ({} if product is None else {"product": product})
    # the retests are looked for among all of the product's (or the lake's) parts with a lot
    where, scope = f"t.test_num = $test_num{of_product}", f"p.lot_id IS NOT NULL{of_product}"
    return db.polars(
        "SELECT f.product, t.lot_id, t.wafer_id, t.test_name, t.units, t.result, t.lo_limit, t.hi_limit "
        f"FROM tidy t JOIN files f ON f.sha256 = t.file_sha256 {join_insertions('t', scope)} "
        f"WHERE {where} AND t.lot_id IS NOT NULL AND {last_insertion('t')} AND isfinite(t.result) "
        f"ORDER BY {test_order('t')}",
        params,
    )
