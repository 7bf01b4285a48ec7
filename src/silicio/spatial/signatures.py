"""The lake's wafer signatures: each wafer-sort wafer's map classified (WM-811K class with its
confidence), its zonal yield and largest cluster of fails, stored in the catalog
(``wafer_signatures``; a signature that changes is kept in ``wafer_signature_history``).

Used by ``silicio ingest`` (the wafers of the files it took in, as it takes them), ``silicio
spatial classify --data`` (every wafer, or a lot's) and the demo lake. A wafer's map is its lot's
final verdict per die over all the lot's files at its stage (a retest file counts), laid out by
the files' WCR, as ``silicio map`` and the dashboard draw it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["SignatureUpdate", "WaferOfLake", "classify_lake", "describe", "lake_wafers", "model_name"]


@dataclass(frozen=True)
class WaferOfLake:
    """A wafer of the lake and its int8 map (-1 no die, 0 pass, 1 fail), laid out as drawn."""

    product: str | None
    lot: str
    stage: str
    wafer_id: str
    map: np.ndarray


@dataclass
class SignatureUpdate:
    """What one classification of lake wafers did: the rows described (one dict per wafer, see
    :func:`describe`), the catalog's counts (added, replaced, unchanged) and the CPU seconds."""

    rows: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"added": 0, "replaced": 0, "unchanged": 0})
    cpu_seconds: float = 0.0

    @property
    def wafers(self) -> int:
        return len(self.rows)


def model_name() -> str:
    """The committed model as stored with each signature: file, format, seed and versions."""
    from .model import load_model

    meta = load_model().metadata
    return (f"signatures.npz format {meta['format']} seed {meta['seed']} features {meta['feature_version']} "
            f"generator {meta['generator_version']}")  # fmt: skip


def lake_wafers(lake, lots: Iterable[str] | None = None, kind: str = "hard",
                wafers: Iterable[tuple[str, str, str]] | None = None) -> list[WaferOfLake]:  # fmt: skip
    """Every wafer of the lake's wafer-sort lots (of ``lots`` when given; only the (lot, stage,
    wafer) of ``wafers`` when given), each as its map. ValueError for a lot the lake does not hold
    at wafer sort."""
    import polars as pl

    from silicio.lake.layout import WAFER_SORT
    from silicio.lake.queries import lot_index, lot_parts, wafer_configurations
    from silicio.yields.wafermap import bin_map, orientation_of

    from .convert import from_wafer_map

    index = lot_index(lake).filter(pl.col("stage") == WAFER_SORT)
    wanted = None if wafers is None else set(wafers)
    if wanted is not None:
        index = index.filter(pl.col("lot").is_in(sorted({lot for lot, _, _ in wanted})))
    if lots is not None:
        lots = list(lots)
        missing = sorted(set(lots) - set(index["lot"].to_list()))
        if missing:
            raise ValueError(f"no wafer-sort lot {', '.join(map(repr, missing))} in the lake")
        index = index.filter(pl.col("lot").is_in(lots))
    out = []
    for product, lot_id, stage in index.select("product", "lot", "stage").rows():
        table = lot_parts(lake, lot_id, stage)
        wafer_ids = sorted({w for w in table.column("wafer_id").to_pylist() if w is not None})
        if wanted is not None:
            wafer_ids = [w for w in wafer_ids if (lot_id, stage, w) in wanted]
        if not wafer_ids:
            continue
        orientation = orientation_of({"WCR": wafer_configurations(lake, lot_id, stage)})
        frame = pl.from_arrow(table)
        for wafer in wafer_ids:
            try:
                the_map = from_wafer_map(
                    bin_map(frame, kind=kind, lot_id=lot_id, wafer_id=wafer), orientation
                )
            except ValueError:  # no die with coordinates and a verdict: nothing to classify
                continue
            out.append(WaferOfLake(product, lot_id, stage, wafer, the_map))
    return out


def describe(maps) -> list[dict]:
    """Signature, zonal yields and largest cluster of fails of each map, one dict per map:
    ``dies``, ``yield``, ``signature``, ``confidence``, ``probabilities`` (class -> p), the
    ``<zone>_yield`` of the three rings and four quadrants, ``largest_cluster_dies`` /
    ``_radius`` / ``_angle``."""
    from .classify import classify
    from .zones import ZONES, fail_clusters, zonal_yield

    if len(maps) == 0:
        return []
    signatures = classify(maps).to_pylist()
    zones = zonal_yield(maps).to_pylist()
    largest: dict[int, dict] = {}
    for cluster in fail_clusters(maps).to_pylist():
        largest.setdefault(cluster["map"], cluster)  # the largest comes first
    out = []
    for i, signature in enumerate(signatures):
        cluster = largest.get(i)
        out.append({
            "dies": zones[i]["dies"], "yield": zones[i]["yield"], "signature": signature["label"],
            "confidence": signature["confidence"],
            "probabilities": {k[2:]: v for k, v in signature.items() if k.startswith("p_")},
            **{f"{z}_yield": zones[i][f"{z}_yield"] for z in ZONES},
            "largest_cluster_dies": cluster["dies"] if cluster else 0,
            "largest_cluster_radius": cluster["radius"] if cluster else None,
            "largest_cluster_angle": cluster["angle"] if cluster else None,
        })  # fmt: skip
    return out


def _catalog_row(wafer: WaferOfLake, described: dict, model: str) -> dict:
    return {
        "product": wafer.product, "lot": wafer.lot, "stage": wafer.stage, "wafer_id": wafer.wafer_id,
        "label": described["signature"], "confidence": described["confidence"],
        "probabilities": described["probabilities"], "model": model, "dies": described["dies"],
        "wafer_yield": described["yield"], "centre_yield": described["centre_yield"],
        "middle_yield": described["middle_yield"], "edge_yield": described["edge_yield"],
        "largest_cluster_dies": described["largest_cluster_dies"],
        "largest_cluster_radius": described["largest_cluster_radius"],
    }  # fmt: skip


def classify_lake(lake, *, actor: str, lots: Iterable[str] | None = None, kind: str = "hard",
                  wafers: Iterable[tuple[str, str, str]] | None = None) -> SignatureUpdate:  # fmt: skip
    """Classify the lake's wafer-sort wafers (all, those of ``lots``, or the (lot, stage, wafer)
    of ``wafers``) and store each signature in the catalog with ``actor``
    (:meth:`silicio.lake.catalog.Catalog.store_signatures`: an unchanged one is kept, a changed
    one superseded and kept in the history)."""
    import time

    started = time.process_time()
    found = lake_wafers(lake, lots, kind, wafers)
    described = describe([w.map for w in found])
    update = SignatureUpdate()
    update.rows = [
        {"lot_id": w.lot, "wafer_id": w.wafer_id, "stage": w.stage, "product": w.product, **d}
        for w, d in zip(found, described, strict=True)
    ]
    if found:
        model = model_name()
        rows = [_catalog_row(w, d, model) for w, d in zip(found, described, strict=True)]
        update.counts = lake.catalog.store_signatures(rows, actor=actor)
    update.cpu_seconds = time.process_time() - started
    return update


def classify_ingested(lake, sha256s: Iterable[str], *, actor: str) -> SignatureUpdate:
    """Classify and store the wafer-sort wafers the files with these contents (just ingested)
    hold, each over all its lot's files at that stage."""
    from silicio.lake.layout import WAFER_SORT

    held = [w for w in lake.catalog.wafers_of(list(sha256s)) if w["stage"] == WAFER_SORT]
    if not held:
        return SignatureUpdate()
    return classify_lake(lake, actor=actor, wafers=[(w["lot"], w["stage"], w["wafer_id"]) for w in held])
