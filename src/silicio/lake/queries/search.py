"""The dashboard's search: wafers whose id contains a text, parts with a given part id."""

from __future__ import annotations

from ..query import Lake

__all__ = ["parts_with_id", "wafers_matching"]


def wafers_matching(lake: Lake, needle: str, limit: int) -> list[tuple]:
    """(product, lot, stage, wafer_id) of the wafers whose id contains ``needle`` (lower case),
    by lot and wafer, at most ``limit``."""
    return lake.rows(
        "SELECT DISTINCT f.product, f.lot, f.stage, w.wafer_id FROM wafers w JOIN files f ON f.id = w.file_id "
        "WHERE f.lot IS NOT NULL AND w.wafer_id IS NOT NULL AND contains(lower(w.wafer_id), ?) "
        "ORDER BY f.lot, w.wafer_id LIMIT ?",
        [needle, limit],
    )


def parts_with_id(lake: Lake, part_id: str, limit: int) -> list[tuple]:
    """(product, lot_id, stage, wafer_id, part_id, x, y) of the parts named ``part_id`` (PRR
    PART_ID), by lot and wafer, at most ``limit``."""
    return lake.rows(
        "SELECT DISTINCT f.product, p.lot_id, f.stage, p.wafer_id, p.part_id, p.x, p.y FROM parts p "
        "JOIN files f ON f.sha256 = p.file_sha256 WHERE p.part_id = ? AND p.lot_id IS NOT NULL "
        "ORDER BY p.lot_id, p.wafer_id LIMIT ?",
        [part_id, limit],
    )
