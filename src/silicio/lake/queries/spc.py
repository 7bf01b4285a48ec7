"""What the control charts read: a test's last result per part, in test order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import test_order

if TYPE_CHECKING:
    import polars as pl

    from silicio.lake import Lake


def last_results(db: Lake, test_num: int, product: str | None = None) -> pl.DataFrame:
    """Each part's last finite result of test ``test_num`` (of one ``product``, or all), parts
    outside a lot left out, in test order: ``product, lot_id, wafer_id, test_name, units, result,
    lo_limit, hi_limit``, one row per part and test name."""
    where, params = "t.test_num = ?", [test_num]
    if product is not None:
        where, params = where + " AND f.product = ?", [*params, product]
    return db.polars(
        "SELECT f.product, t.lot_id, t.wafer_id, t.test_name, t.units, t.result, t.lo_limit, t.hi_limit "
        "FROM tidy t JOIN files f ON f.sha256 = t.file_sha256 "
        f"WHERE {where} AND t.lot_id IS NOT NULL AND t.is_last_test AND isfinite(t.result) "
        f"ORDER BY {test_order('t')}",
        params,
    )
