"""Classify wafer maps into the WM-811K signature classes with the committed model.

A map's class probabilities depend on that map alone (its features, then each tree's leaf), so
the committed model's probabilities of each map classified are kept for the process by the
map's exact contents (:data:`_KEPT`): ``silicio ingest --alerts`` classifies a wafer once, in
its signature step, and the spatial_signature rule that follows finds the same maps kept. A map
that differs in any die (or in size or type) is classified anew.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pyarrow as pa

from .features import features
from .model import load_model

__all__ = ["classify"]

#: (dtype, shape, bytes) of a map -> its class probabilities from the committed model, the newest
#: last; at most :data:`_KEPT_BYTES` of maps (the oldest dropped first).
_KEPT: dict[tuple, np.ndarray] = {}
_KEPT_BYTES = 16 * 2**20
_kept_size = [0]
# the dashboard classifies on several threads: the kept maps change under this lock
_KEPT_LOCK = threading.Lock()


def classify(maps, model: str | Path | None = None) -> pa.Table:
    """The signature of each map: ``label`` (the most probable class), ``confidence`` (its
    probability) and one ``p_<class>`` column per class, in the model's class order.

    ``maps`` is an int8 (n, rows, cols) array, or a list of 2-D maps of any sizes, with -1 no
    die, 0 pass, 1 fail (:func:`silicio.spatial.from_wafer_map` makes one from a WaferMap).
    ``model`` a model file other than the committed one (its results are not kept).
    """
    forest = load_model(model)
    probabilities = forest.predict_proba(features(maps)) if model is not None else _committed(forest, maps)
    best = probabilities.argmax(axis=1) if len(probabilities) else np.zeros(0, dtype=np.int64)
    columns = {
        "label": pa.array(np.array(forest.classes, dtype=object)[best].tolist(), pa.string()),
        "confidence": pa.array(probabilities[np.arange(len(best)), best], pa.float64()),
    }
    # every class's probabilities converted at once, each column a slice of them (not one
    # conversion a class: ~0.1 ms CPU a lot's maps, at the rule at ingest)
    n = len(best)
    flat = pa.array(np.ascontiguousarray(probabilities.T, dtype=np.float64).reshape(-1), pa.float64())
    for i, name in enumerate(forest.classes):
        columns[f"p_{name}"] = flat.slice(i * n, n)
    return pa.table(columns)


def _committed(forest, maps) -> np.ndarray:
    """The committed model's probabilities of ``maps``: those kept by contents, the others
    computed (in one pass, in their order) and kept."""
    if not isinstance(maps, np.ndarray | list | tuple):
        maps = list(maps)
    arrays = [np.asarray(m) for m in maps]
    if not arrays:
        return forest.predict_proba(features(maps))
    keys = [(a.dtype.str, a.shape, a.tobytes()) for a in arrays]
    with _KEPT_LOCK:
        rows = [_KEPT.get(key) for key in keys]
    new = [i for i, row in enumerate(rows) if row is None]
    if new:
        try:
            computed = forest.predict_proba(features([arrays[i] for i in new]))
        except ValueError:  # a map that cannot be classified: the error names it among all the maps
            features(maps)
            raise
        for at, i in enumerate(new):
            rows[i] = computed[at].copy()
            rows[i].flags.writeable = False
            _keep(keys[i], rows[i])
    return np.stack(rows)


def _keep(key: tuple, probabilities: np.ndarray) -> None:
    with _KEPT_LOCK:
        if key in _KEPT:
            return
        _KEPT[key] = probabilities
        _kept_size[0] += len(key[2])
        while _kept_size[0] > _KEPT_BYTES and _KEPT:
            oldest = next(iter(_KEPT))
            _kept_size[0] -= len(oldest[2])
            del _KEPT[oldest]
