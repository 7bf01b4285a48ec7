"""Spatial yield: which shape a wafer's loss has (the WM-811K signature classes), where on the
wafer it sits (zonal yield by rings and quadrants) and how its fails cluster (DBSCAN).

* :func:`classify`: the signature of each map with its confidence and every class's probability;
* :func:`from_wafer_map`: a silicio.yields bin map (:class:`~silicio.yields.wafermap.WaferMap`)
  as the int8 map the classifier reads (-1 no die, 0 pass, 1 fail), laid out by its orientation;
* :func:`generate`: labelled synthetic maps of every class, seeded (:data:`CLASSES`);
* :func:`zonal_yield` and :func:`fail_clusters`: yield by zone, clusters of fails per wafer;
* :mod:`.defects`: inline inspection (KLARF) defects placed on the test dies, and per step and
  defect class the kill ratio, capture rate, defect-limited yield and density;
* :mod:`.signatures`: the lake's wafers classified and stored (``silicio ingest``, ``silicio
  spatial classify --data``); :mod:`.inline`: the lake's inspections against wafer sort;
  :func:`report_section`: the lot report's spatial section;
* :mod:`.train`: ``python -m silicio.spatial.train --seed 0`` rebuilds the committed model and
  its report (models/TRAINING.md).

Classifying needs the core alone (numpy, numba, pyarrow: the model is a file of plain arrays);
training and the DBSCAN clustering need scikit-learn (the ``spatial`` extra).
"""

from __future__ import annotations

from .classify import classify
from .features import FEATURE_NAMES, features
from .generator import CLASSES, generate
from .model import load_model
from .zones import RING_EDGES, ZONES, fail_clusters, zonal_yield

__all__ = [
    "CLASSES",
    "FEATURE_NAMES",
    "RING_EDGES",
    "ZONES",
    "classify",
    "defect_yield",
    "fail_clusters",
    "features",
    "from_wafer_map",
    "generate",
    "inspection_summary",
    "load_model",
    "match_wafers",
    "place_defects",
    "placement_for",
    "report_section",
    "zonal_yield",
]


_DEFECTS = frozenset({"defect_yield", "inspection_summary", "match_wafers", "place_defects", "placement_for"})


def __getattr__(name: str):
    # from_wafer_map and the defects import silicio.yields (polars): loaded when asked for, not
    # with classify.
    if name == "from_wafer_map":
        from .convert import from_wafer_map

        return from_wafer_map
    if name == "report_section":
        from .report import report_section

        return report_section
    if name in _DEFECTS:
        from . import defects

        return getattr(defects, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
