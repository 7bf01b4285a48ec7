"""Classify wafer maps into the WM-811K signature classes with the committed model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from .features import features
from .model import load_model

__all__ = ["classify"]


def classify(maps, model: str | Path | None = None) -> pa.Table:
    """The signature of each map: ``label`` (the most probable class), ``confidence`` (its
    probability) and one ``p_<class>`` column per class, in the model's class order.

    ``maps`` is an int8 (n, rows, cols) array, or a list of 2-D maps of any sizes, with -1 no
    die, 0 pass, 1 fail (:func:`silicio.spatial.from_wafer_map` makes one from a WaferMap).
    ``model`` a model file other than the committed one.
    """
    forest = load_model(model)
    probabilities = forest.predict_proba(features(maps))
    best = probabilities.argmax(axis=1) if len(probabilities) else np.zeros(0, dtype=np.int64)
    columns = {
        "label": pa.array(np.array(forest.classes, dtype=object)[best].tolist(), pa.string()),
        "confidence": pa.array(probabilities[np.arange(len(best)), best], pa.float64()),
    }
    for i, name in enumerate(forest.classes):
        columns[f"p_{name}"] = pa.array(probabilities[:, i], pa.float64())
    return pa.table(columns)
