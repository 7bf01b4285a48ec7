"""What the spatial parts of the dashboard show, computed from the lake: a wafer's signature, zonal
yield, clusters and inline defects (the wafer page), the signatures of every wafer (the
signatures page) and the inline inspections' measures (the inline-defects page).

Functions take the :class:`~silicio.web.dashboard.Dashboard` (``data``) for its cache and lot
tables, and the open lake (``db``); the dashboard calls them under its lock.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any
from urllib.parse import urlencode

import polars as pl

from silicio.lake import queries
from silicio.lake.layout import WAFER_SORT

from . import spatial_models as s
from .links import lot_url, wafer_url


def signatures_url(signature: str | None = None, product: str | None = None) -> str:
    """The signatures page, listing the wafers of one signature (and product)."""
    kept = {k: v for k, v in (("signature", signature), ("product", product)) if v is not None}
    return "/signatures" + (f"?{urlencode(kept)}" if kept else "")


def _clean(value: Any) -> Any:
    import math

    return None if isinstance(value, float) and not math.isfinite(value) else value


def stored_signatures(data, db) -> list[dict]:
    """The catalog's wafer signatures (cached until the catalog changes)."""
    return data._cached(
        "stored_signatures", lambda: db.catalog.rows("wafer_signatures", order_by=["lot", "wafer_id"])
    )


def lot_inspections(data, db, lot_id: str):
    """The lot's inline inspections placed on its wafer-sort dies (None without any)."""
    from silicio.spatial.inline import lake_inspections

    def compute():
        if "klarf_wafers" not in db.tables:
            return None
        return lake_inspections(db, [lot_id], parts={lot_id: data._lot_parts(db, lot_id, WAFER_SORT)})

    return data._cached(("inspections", lot_id), compute)


def wafer_spatial(
    data, db, lot_id: str, wafer_id: str, stage: str, parts: pl.DataFrame, orientation
) -> s.WaferSpatial | None:
    """The wafer page's spatial part (wafer sort only; None when the map has no dies or the
    spatial extra is missing)."""
    from silicio.extras import missing_modules

    if stage != WAFER_SORT or missing_modules("spatial"):
        return None
    from silicio.spatial import fail_clusters, from_wafer_map
    from silicio.spatial.signatures import describe
    from silicio.yields.wafermap import bin_map

    try:
        wafer_map = bin_map(parts, kind="hard", lot_id=lot_id, wafer_id=wafer_id)
        grid = from_wafer_map(wafer_map, orientation)
    except ValueError:
        return None
    (described,) = describe([grid])
    stored = next((r for r in stored_signatures(data, db)
                   if r["lot"] == lot_id and r["stage"] == stage and r["wafer_id"] == wafer_id), None)  # fmt: skip
    notes = []
    if stored is None:
        notes.append("classified for this page: no signature stored for this wafer yet (`silicio ingest` stores "
                     "one; `silicio spatial classify --data` for wafers ingested before)")  # fmt: skip
        label, confidence, probabilities = (
            described["signature"],
            described["confidence"],
            described["probabilities"],
        )
    else:
        label, confidence = stored["label"], stored["confidence"]
        probabilities = stored["probabilities"]
    zones = [s.ZoneYield(zone=z, dies=0, zone_yield=_clean(described[f"{z}_yield"]))
             for z in ("centre", "middle", "edge", "top_left", "top_right", "bottom_left", "bottom_right")]  # fmt: skip
    from silicio.spatial import zonal_yield

    counts = zonal_yield([grid]).to_pylist()[0]
    for zone in zones:
        zone.dies = counts[f"{zone.zone}_dies"]
    clusters = [s.FailCluster(cluster=c["cluster"], dies=c["dies"], radius=c["radius"], angle=c["angle"])
                for c in fail_clusters([grid]).to_pylist()]  # fmt: skip
    defects, classes = [], []
    inspections = lot_inspections(data, db, lot_id)
    if inspections is not None:
        verdict = {
            (int(x), int(y)): bool(g)
            for x, y, g in zip(wafer_map.x, wafer_map.y, wafer_map.good, strict=True)
        }
        mine = [r for r in inspections.defects.to_pylist()
                if r["stdf_lot_id"] == lot_id and r["stdf_wafer_id"] == wafer_id and r["x"] is not None]  # fmt: skip
        for r in mine:
            passed = verdict.get((r["x"], r["y"]))
            defects.append(s.DefectPoint(x=r["x"], y=r["y"], step_id=r["step_id"], classnumber=r.get("classnumber"),
                                         classname=r["classname"], defectid=r.get("defectid"),
                                         failed=None if passed is None else not passed))  # fmt: skip
        grouped: dict[tuple, list[s.DefectPoint]] = defaultdict(list)
        for d in defects:
            grouped[(d.step_id, d.classname or str(d.classnumber))].append(d)
        for (step, name), points in sorted(grouped.items(), key=lambda kv: (str(kv[0][0]), -len(kv[1]))):
            dies = {(p.x, p.y): p.failed for p in points}
            classes.append(s.DefectClassOnWafer(step_id=step, classname=name, defects=len(points),
                                                defective_dies=len(dies),
                                                failing_defective_dies=sum(1 for f in dies.values() if f)))  # fmt: skip
        if any(w["stdf_lot_id"] == lot_id and w["stdf_wafer_id"] == wafer_id for w in inspections.wafers):
            notes += [n for n in inspections.notes if wafer_id in n]
    history = [s.SignatureChange(**{k: h[k] for k in s.SignatureChange.model_fields})
               for h in db.catalog.signature_history(lot_id, stage, wafer_id)]  # fmt: skip
    return s.WaferSpatial(
        signature=label, confidence=confidence, stored=stored is not None,
        classified_at=stored["classified_at"] if stored else None, actor=stored["actor"] if stored else None,
        model=stored["model"] if stored else None,
        probabilities=sorted((s.ClassProbability(signature=k, probability=v) for k, v in probabilities.items()),
                             key=lambda p: -p.probability),
        zones=zones, clusters=clusters, defects=defects, defect_classes=classes, history=history, notes=notes,
    )  # fmt: skip


# ------------------------------------------------------------------------------------------------
# Signatures page


def _share_rows(rows: list[dict], key: str) -> list[tuple[Any, str, int, float, float | None]]:
    """(group, signature, wafers, share of the group's wafers, mean yield) per group and signature."""
    groups: dict[Any, list[dict]] = defaultdict(list)
    for r in rows:
        if r[key] is not None:
            groups[r[key]].append(r)
    out = []
    for group, members in groups.items():
        by_signature = Counter(r["signature"] for r in members)
        for signature, n in sorted(by_signature.items(), key=lambda kv: (-kv[1], kv[0])):
            yields = [
                r["wafer_yield"]
                for r in members
                if r["signature"] == signature and r["wafer_yield"] is not None
            ]
            out.append((group, signature, n, n / len(members), sum(yields) / len(yields) if yields else None))
    return out


def signatures_page(data, db, signature: str | None, product: str | None) -> s.SignaturesPage:
    from silicio.spatial import CLASSES

    if db is None:
        return s.SignaturesPage(signature=signature, product=product, signatures=list(CLASSES), products=[],
                                pareto=[], wafers=[], by_lot=[], by_equipment=[], notes=["no lake yet"])  # fmt: skip
    stored = [r for r in stored_signatures(data, db) if r["stage"] == WAFER_SORT]
    products = sorted({r["product"] for r in stored if r["product"] is not None})
    if product is not None:
        stored = [r for r in stored if r["product"] == product]
    equipment = {(r["lot"], r["wafer_id"]): r for r in data._cached("wafer_equipment",
                                                                     lambda: queries.wafer_equipment(db)).to_dicts()
                 if r["stage"] == WAFER_SORT}  # fmt: skip
    tools: dict[tuple, str] = {}
    if "klarf_wafers" in db.tables:
        for lot in sorted({r["lot"] for r in stored}):
            inspections = lot_inspections(data, db, lot)
            for w in inspections.wafers if inspections is not None else []:
                if w["stdf_lot_id"] is not None and w["station_id"]:
                    tools.setdefault((w["stdf_lot_id"], w["stdf_wafer_id"]), w["station_id"])
    rows = []
    for r in stored:
        kit = equipment.get((r["lot"], r["wafer_id"]), {})
        rows.append({"product": r["product"], "lot_id": r["lot"], "wafer_id": r["wafer_id"], "signature": r["label"],
                     "confidence": r["confidence"], "wafer_yield": r["wafer_yield"], "centre_yield": r["centre_yield"],
                     "middle_yield": r["middle_yield"], "edge_yield": r["edge_yield"],
                     "largest_cluster_dies": r["largest_cluster_dies"], "tester": kit.get("tester"),
                     "probe_card": kit.get("probe_card"), "inspection_tool": tools.get((r["lot"], r["wafer_id"])),
                     "classified_at": r["classified_at"]})  # fmt: skip
    counts = Counter(r["signature"] for r in rows)
    pareto, cumulative = [], 0
    for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        cumulative += n
        yields = [r["wafer_yield"] for r in rows if r["signature"] == name and r["wafer_yield"] is not None]
        pareto.append(s.SignatureCount(signature=name, wafers=n, percent_of_wafers=100 * n / len(rows),
                                       cumulative_percent=100 * cumulative / len(rows),
                                       mean_yield=sum(yields) / len(yields) if yields else None,
                                       url=signatures_url(name)))  # fmt: skip
    starts = {
        (r["lot"]): r["started"] for r in data._lot_index(db).filter(pl.col("stage") == WAFER_SORT).to_dicts()
    }
    products_of = {r["lot_id"]: r["product"] for r in rows}
    by_lot = [s.LotSignatureShare(product=products_of[lot], lot_id=lot, started=starts.get(lot), signature=sig,
                                  wafers=n, share=share, url=lot_url(lot, WAFER_SORT))
              for lot, sig, n, share, _ in _share_rows(rows, "lot_id")]  # fmt: skip
    by_lot.sort(key=lambda r: (r.started is None, r.started or 0, r.lot_id, -r.wafers))
    by_equipment = [
        s.EquipmentSignatureShare(equipment=title, name=str(group), signature=sig, wafers=n, share=share,
                                  mean_yield=mean)
        for title, key in (("tester", "tester"), ("probe card", "probe_card"), ("inspection tool", "inspection_tool"))
        for group, sig, n, share, mean in _share_rows(rows, key)
    ]  # fmt: skip
    notes = []
    if not rows:
        notes.append("no wafer signatures stored: `silicio ingest` stores them as it takes in wafer-sort files; "
                     "`silicio spatial classify --data` classifies wafers ingested before")  # fmt: skip
    listed = [r for r in rows if signature is None or r["signature"] == signature]
    wafers = [s.WaferSignatureRow(**r, url=wafer_url(r["lot_id"], r["wafer_id"], WAFER_SORT)) for r in listed]
    return s.SignaturesPage(signature=signature, product=product, signatures=list(CLASSES), products=products,
                            pareto=pareto, wafers=wafers, by_lot=by_lot, by_equipment=by_equipment, notes=notes)  # fmt: skip


# ------------------------------------------------------------------------------------------------
# Inline defects page


def inline_page(data, db, step: str | None) -> s.InlinePage:
    from silicio.spatial.inline import lake_inspections

    if db is None or "klarf_wafers" not in db.tables:
        return s.InlinePage(step=step, steps=[], classes=[], wafers=[],
                            notes=["no inline inspection in the lake: ingest KLARF files beside the STDF files"])  # fmt: skip
    lots = queries.klarf_lots(db)
    sorted_lots = set(data._lot_index(db).filter(pl.col("stage") == WAFER_SORT)["lot"].to_list())
    parts = {lot: data._lot_parts(db, lot, WAFER_SORT) for lot in lots if lot in sorted_lots}
    found = data._cached("inspections_all", lambda: lake_inspections(db, None, parts=parts))
    if found is None:
        return s.InlinePage(step=step, steps=[], classes=[], wafers=[], notes=["no inspected wafer"])
    yields = found.yields.to_pylist() if found.yields.num_columns else []
    steps = sorted({r["step_id"] for r in found.wafers if r["step_id"] is not None})
    signatures = {(r["lot"], r["wafer_id"]): r["label"] for r in stored_signatures(data, db)}
    classes = [s.DefectClassRow(**{k: _clean(v) for k, v in r.items() if k in s.DefectClassRow.model_fields})
               for r in yields if step is None or r["step_id"] == step]  # fmt: skip
    wafers = [
        s.InspectedWafer(**{k: v for k, v in w.items() if k in s.InspectedWafer.model_fields},
                         signature=signatures.get((w["stdf_lot_id"], w["stdf_wafer_id"])),
                         url=wafer_url(w["stdf_lot_id"], w["stdf_wafer_id"], WAFER_SORT) if w["stdf_lot_id"] else None)
        for w in found.wafers if step is None or w["step_id"] == step
    ]  # fmt: skip
    return s.InlinePage(step=step, steps=steps, classes=classes, wafers=wafers, notes=list(found.notes))
