"""What the spatial pages and reports read: the inline inspections' KLARF tables of some lots,
and the equipment each wafer met (tester, probe card, inspection station)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import pyarrow as pa

from ..layout import partition_value
from ..query import Lake
from . import _BY_START

__all__ = ["KLARF_TABLES", "klarf_lots", "klarf_tables", "wafer_equipment"]

#: The KLARF source's tables the defect measures need (silicio.spatial.defects).
KLARF_TABLES = ("klarf_wafers", "klarf_defects", "klarf_sample_plan", "klarf_tests", "klarf_classes")


def klarf_lots(lake: Lake) -> list[str]:
    """The lot ids (KLARF LotID) of every inspected wafer in the lake, sorted."""
    if "klarf_wafers" not in lake.tables:
        return []
    return [
        r[0]
        for r in lake.rows("SELECT DISTINCT lot_id FROM klarf_wafers WHERE lot_id IS NOT NULL ORDER BY 1")
    ]


def klarf_tables(lake: Lake, lots: Sequence[str] | None = None) -> dict[str, pa.Table] | None:
    """The KLARF tables (:data:`KLARF_TABLES`) of the inspections of ``lots`` (KLARF LotID; all
    when None), as the source wrote them (without the lake's partition columns); None when the
    lake holds no inspection. A table no file of the lots has comes back empty or missing."""
    if "klarf_wafers" not in lake.tables:
        return None
    out = {}
    for name in KLARF_TABLES:
        if name not in lake.tables:
            continue
        query = f'SELECT * EXCLUDE (product, lot, stage, file_sha256) FROM "{name}"'
        if lots is None:
            out[name] = lake.arrow(query)
            continue
        lots = list(lots)
        marks = ", ".join("?" for _ in lots) or "NULL"
        # the partition column first (DuckDB reads only those folders), then the file's own LotID
        query += f" WHERE lot IN ({marks}) AND lot_id IN ({marks})"
        out[name] = lake.arrow(query, [*(partition_value(lot) for lot in lots), *lots])
    return out


def wafer_equipment(lake: Lake) -> pl.DataFrame:
    """lot, stage, wafer_id, tester (MIR NODE_NAM), probe_card (SDR CARD_ID; null when no file
    of the wafer names one): one row per wafer of the catalog, from its first file in test order
    (the first pass)."""
    card = (
        "LEFT JOIN (SELECT file_sha256, max(NULLIF(trim(CARD_ID), '')) AS probe_card FROM SDR "
        "GROUP BY file_sha256) s ON s.file_sha256 = f.sha256 "
        if "SDR" in lake.tables
        else ""
    )
    probe = "s.probe_card" if card else "CAST(NULL AS VARCHAR)"
    return lake.polars(
        f"SELECT f.lot, f.stage, w.wafer_id, first(f.node ORDER BY f.{_BY_START}) AS tester, "
        f"first({probe} ORDER BY f.{_BY_START}) AS probe_card "
        f"FROM wafers w JOIN files f ON f.id = w.file_id {card}"
        "WHERE w.wafer_id IS NOT NULL AND f.lot IS NOT NULL GROUP BY ALL ORDER BY f.lot, f.stage, w.wafer_id"
    )
