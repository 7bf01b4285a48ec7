"""Spatial yield: which shape a wafer's loss has (the WM-811K signature classes), where on the
wafer it sits (zonal yield by rings and quadrants) and how its fails cluster (DBSCAN).

* :func:`classify`: the signature of each map with its confidence and every class's probability;
* :func:`from_wafer_map`: a silicio.yields bin map (:class:`~silicio.yields.wafermap.WaferMap`)
  as the int8 map the classifier reads (-1 no die, 0 pass, 1 fail), laid out by its orientation;
* :func:`generate`: labelled synthetic maps of every class, seeded (:data:`CLASSES`);
* :func:`zonal_yield` and :func:`fail_clusters`: yield by zone, clusters of fails per wafer;
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
    "fail_clusters",
    "features",
    "from_wafer_map",
    "generate",
    "load_model",
    "zonal_yield",
]


def __getattr__(name: str):
    # from_wafer_map imports silicio.yields (polars): loaded when asked for, not with classify.
    if name == "from_wafer_map":
        from .convert import from_wafer_map

        return from_wafer_map
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
