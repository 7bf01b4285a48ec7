"""Inline inspections of the lake against wafer sort: each KLARF wafer's defects placed on the
dies of its STDF wafer (:func:`silicio.spatial.defects.place_defects`, wafers matched by lot and
wafer id, orientation from each STDF lot's WCR) and, per step and defect class, the kill ratio,
capture rate, defect-limited yield and density (:func:`~silicio.spatial.defects.defect_yield`).

What the dashboard's inline-defects page, the wafer page's defect layer and the lot report show.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa

__all__ = ["LakeInspections", "lake_inspections"]


@dataclass
class LakeInspections:
    """The placed defects (``klarf_defects`` with ``stdf_lot_id``, ``stdf_wafer_id``, ``x``,
    ``y``, ``placed_by``, ``classname``), the measures per step and class (``yields``, of
    :func:`~silicio.spatial.defects.defect_yield`), one row per inspected wafer (``wafers``:
    lot_id, wafer_id, step_id, station_id, stdf_lot_id, stdf_wafer_id, match, defects,
    inspected_dies, defective_dies) and what was assumed (``notes``)."""

    defects: pa.Table
    yields: pa.Table
    wafers: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _normal(text) -> str:
    return re.sub(r"\s+", "", str(text or "")).upper()


def lake_inspections(lake, lots: Sequence[str] | None = None,
                     parts: dict[str, pa.Table] | None = None) -> LakeInspections | None:  # fmt: skip
    """The inspections of the KLARF lots ``lots`` (all when None) against the wafer-sort lots of
    the same lot id (exactly, or ignoring case and spaces); None when the lake holds none of them.
    ``parts`` may hand in the wafer-sort parts of STDF lots already read (lot id -> table)."""
    from silicio.lake.layout import WAFER_SORT
    from silicio.lake.queries import klarf_tables, lot_index, lot_parts, wafer_configurations
    from silicio.yields.wafermap import orientation_of

    from .defects import defect_yield, place_defects

    tables = klarf_tables(lake, lots)
    if tables is None or "klarf_defects" not in tables or tables["klarf_wafers"].num_rows == 0:
        return None
    klarf_lot_ids = {_normal(v) for v in tables["klarf_wafers"].column("lot_id").to_pylist()}
    sorted_lots = [lot for lot in lot_index(lake).filter(lot_index(lake)["stage"] == WAFER_SORT)["lot"].to_list()
                   if _normal(lot) in klarf_lot_ids]  # fmt: skip
    parts = dict(parts or {})
    for lot in sorted_lots:
        if lot not in parts:
            parts[lot] = lot_parts(lake, lot, WAFER_SORT)
    orientation = {}
    for lot in sorted_lots:
        try:
            orientation[lot] = orientation_of({"WCR": wafer_configurations(lake, lot, WAFER_SORT)})
        except ValueError:
            pass  # records that disagree: the default way up, said in the placement's notes
    tested = pa.concat_tables([parts[lot] for lot in sorted_lots]) if sorted_lots else None
    if tested is None:
        empty = tables["klarf_defects"].slice(0, 0)
        notes = ["no wafer-sort lot of the lake has the inspected lots' ids: no defect placed on a test die"]
        return LakeInspections(empty, pa.table({}), [], notes)
    placed = place_defects(tables["klarf_defects"], tables["klarf_wafers"], tested, tables.get("klarf_sample_plan"),
                           orientation=orientation)  # fmt: skip
    classes = tables.get("klarf_classes")
    yields = defect_yield(placed, tested, tables.get("klarf_tests"), classes)
    names = {}
    if classes is not None and classes.num_rows:
        names = {(r["lot_id"], r["classnumber"]): r["classname"] for r in classes.to_pylist()}
    defects = placed.defects
    defects = defects.append_column("classname", pa.array(
        [names.get((lot, number)) for lot, number in zip(defects.column("lot_id").to_pylist(),
                                                         (defects.column("classnumber").to_pylist()
                                                          if "classnumber" in defects.column_names
                                                          else [None] * defects.num_rows), strict=True)],
        pa.string()))  # fmt: skip
    wafers = []
    per_wafer: dict[tuple, list[int]] = {}
    xs = defects.column("x").to_pylist()
    keys = zip(*(defects.column(n).to_pylist() for n in ("lot_id", "wafer_id", "step_id")), strict=True)
    for i, key in enumerate(keys):
        per_wafer.setdefault(key, []).append(i)
    for row in tables["klarf_wafers"].to_pylist():
        key = (row["lot_id"], row["wafer_id"], row["step_id"])
        match = placed.matches.get(key[:2])
        rows = per_wafer.get(key, [])
        inspected = placed.inspected.get(key, set())
        dies = {
            (defects.column("x")[i].as_py(), defects.column("y")[i].as_py())
            for i in rows
            if xs[i] is not None
        }
        wafers.append({
            "lot_id": key[0], "wafer_id": key[1], "step_id": key[2], "station_id": row.get("station_id"),
            "stdf_lot_id": match.lot_id if match else None, "stdf_wafer_id": match.wafer_id if match else None,
            "match": match.rule if match else None, "defects": len(rows), "inspected_dies": len(inspected),
            "defective_dies": len(dies & inspected),
        })  # fmt: skip
    return LakeInspections(defects, yields, wafers, placed.notes)
