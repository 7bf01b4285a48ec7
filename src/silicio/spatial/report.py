"""The lot report's spatial section (:class:`silicio.yields.report.SpatialSection`): each
wafer's signature and zonal yield (as stored in the catalog; classified for the report where none
is) and, when the lot was inspected inline, its defects on the dies and their kill ratios."""

from __future__ import annotations

import pyarrow as pa

from silicio.i18n import C_
from silicio.yields.report import SpatialSection

__all__ = ["report_section"]

_WAFER_SCHEMA = pa.schema([
    ("wafer_id", pa.string()), ("signature", pa.string()), ("confidence", pa.float64()), ("dies", pa.int64()),
    ("wafer_yield", pa.float64()), ("centre_yield", pa.float64()), ("middle_yield", pa.float64()),
    ("edge_yield", pa.float64()), ("largest_cluster_dies", pa.int64()), ("stored", pa.bool_()),
])  # fmt: skip


def report_section(lake, lot_id: str, stage: str | None = None) -> SpatialSection | None:
    """The spatial section of lot ``lot_id`` at wafer sort; None for another stage, a lot with
    no wafer map, or without the spatial extra (scikit-learn, for the clusters)."""
    from silicio.extras import missing_modules
    from silicio.lake.layout import WAFER_SORT

    from .inline import lake_inspections
    from .signatures import describe, lake_wafers

    if (stage is not None and stage != WAFER_SORT) or missing_modules("spatial"):
        return None
    try:
        found = lake_wafers(lake, [lot_id])
    except ValueError:  # not tested at wafer sort
        return None
    if not found:
        return None
    stored = {(r["wafer_id"]): r for r in lake.catalog.rows("wafer_signatures")
              if r["lot"] == lot_id and r["stage"] == WAFER_SORT}  # fmt: skip
    rows, notes = [], []
    for wafer, d in zip(found, describe([w.map for w in found]), strict=True):
        kept = stored.get(wafer.wafer_id)
        rows.append({
            "wafer_id": wafer.wafer_id, "signature": kept["label"] if kept else d["signature"],
            "confidence": kept["confidence"] if kept else d["confidence"], "dies": d["dies"],
            "wafer_yield": d["yield"], "centre_yield": d["centre_yield"], "middle_yield": d["middle_yield"],
            "edge_yield": d["edge_yield"], "largest_cluster_dies": d["largest_cluster_dies"], "stored": kept is not None,
        })  # fmt: skip
    if any(not r["stored"] for r in rows):
        notes.append(C_("wafers without a stored signature were classified for this report (`silicio spatial "
                        "classify --data` stores them)"))  # fmt: skip
    inspections = lake_inspections(lake, [lot_id])
    defect_yield = defects = None
    if inspections is not None:
        notes += inspections.notes
        defect_yield = inspections.yields if inspections.yields.num_columns else None
        placed = inspections.defects
        defects = pa.table({
            "wafer_id": placed.column("stdf_wafer_id"), "x": placed.column("x"), "y": placed.column("y"),
            "step_id": placed.column("step_id"), "classname": placed.column("classname"),
        })  # fmt: skip
    return SpatialSection(pa.Table.from_pylist(rows, _WAFER_SCHEMA), defect_yield, defects, tuple(notes))
