"""The signature model as a file of plain arrays, and its inference in numba.

The model is a forest of decision trees trained by scikit-learn (:mod:`.train`), written as the
flat arrays of its nodes (children, split feature, threshold, class probabilities of the leaves)
in one ``.npz`` file with its metadata: the classes, the feature and generator versions it was
trained on, the seed. Reading it needs numpy alone, not pickle and not scikit-learn, so the file
is safe to load, independent of the scikit-learn version, and classifying runs on a core install.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numba as nb
import numpy as np

from .features import FEATURE_NAMES, FEATURE_VERSION, PARALLEL_MIN_MAPS

__all__ = ["MODEL_FORMAT", "MODEL_PATH", "Forest", "load_model"]

#: Version of the file layout below.
MODEL_FORMAT = 1
#: The committed model, beside this module.
MODEL_PATH = Path(__file__).resolve().parent / "models" / "signatures.npz"


@dataclass(frozen=True)
class Forest:
    """A forest's nodes, all trees end to end: ``roots[t]`` is tree t's first node; ``left`` /
    ``right`` the children's indices (-1 at a leaf), ``feature`` and ``threshold`` the split
    (go left when ``value <= threshold``), ``leaf`` the leaf's row of class probabilities."""

    classes: tuple[str, ...]
    roots: np.ndarray
    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    leaf_probability: np.ndarray
    leaf: np.ndarray
    metadata: dict

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Mean class probabilities over the trees, (n, len(classes))."""
        features = np.ascontiguousarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != len(FEATURE_NAMES):
            raise ValueError(f"features must be (n, {len(FEATURE_NAMES)}); got shape {features.shape}")
        out = np.zeros((features.shape[0], len(self.classes)), dtype=np.float64)
        # a lot's few wafers on the calling thread: waking the parallel pass's threads costs more
        predict = _predict if features.shape[0] >= PARALLEL_MIN_MAPS else _predict_serial
        predict(features, self.roots, self.left, self.right, self.feature, self.threshold, self.leaf,
                self.leaf_probability, out)  # fmt: skip
        return out

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        metadata = {**self.metadata, "classes": list(self.classes)}
        with open(path, "wb") as handle:
            np.savez_compressed(handle, roots=self.roots, left=self.left, right=self.right, feature=self.feature,
                                threshold=self.threshold, leaf=self.leaf,
                                leaf_probability=self.leaf_probability.astype(np.float16),
                                metadata=np.frombuffer(json.dumps(metadata, sort_keys=True).encode(), np.uint8))  # fmt: skip
        return path

    def arrays(self) -> dict[str, np.ndarray]:
        """The node arrays by name (what reproducibility checks compare)."""
        return {"roots": self.roots, "left": self.left, "right": self.right, "feature": self.feature,
                "threshold": self.threshold, "leaf": self.leaf, "leaf_probability": self.leaf_probability}  # fmt: skip


def from_sklearn(estimator, classes: tuple[str, ...], metadata: dict) -> Forest:
    """A fitted scikit-learn forest (RandomForestClassifier / ExtraTreesClassifier) as a :class:`Forest`."""
    order = [list(estimator.classes_).index(c) for c in classes]
    roots, left, right, feature, threshold, leaf, probabilities = [], [], [], [], [], [], []
    at, n_leaves = 0, 0
    for tree in (e.tree_ for e in estimator.estimators_):
        is_leaf = tree.children_left < 0
        roots.append(at)
        left.append(np.where(is_leaf, -1, tree.children_left + at))
        right.append(np.where(is_leaf, -1, tree.children_right + at))
        feature.append(np.where(is_leaf, 0, tree.feature))
        threshold.append(np.where(is_leaf, 0.0, tree.threshold))
        value = tree.value[:, 0, :][is_leaf][:, order]
        value = value / value.sum(axis=1, keepdims=True)
        numbers = np.full(tree.node_count, -1, dtype=np.int64)
        numbers[is_leaf] = np.arange(n_leaves, n_leaves + is_leaf.sum())
        leaf.append(numbers)
        probabilities.append(value)
        at += tree.node_count
        n_leaves += int(is_leaf.sum())
    return Forest(
        classes=tuple(classes),
        roots=np.array(roots, dtype=np.int32),
        left=np.concatenate(left).astype(np.int32),
        right=np.concatenate(right).astype(np.int32),
        feature=np.concatenate(feature).astype(np.uint8),
        threshold=_float32_below(np.concatenate(threshold)),
        leaf=np.concatenate(leaf).astype(np.int32),
        # float16 in the file (averaged over the trees, 1e-3 is plenty), float32 to compute with
        leaf_probability=np.concatenate(probabilities).astype(np.float16).astype(np.float32),
        metadata=metadata,
    )


def _float32_below(threshold: np.ndarray) -> np.ndarray:
    """The largest float32 at or below each threshold: for float32 features (what scikit-learn
    splits) ``x <= t`` then holds exactly when it held against the float64 threshold."""
    out = threshold.astype(np.float32)
    above = out.astype(np.float64) > threshold
    out[above] = np.nextafter(out[above], np.float32(-np.inf))
    return out


_cache: dict[Path, Forest] = {}


def load_model(path: str | Path | None = None) -> Forest:
    """The model at ``path`` (default: the committed one), read once per process.

    ValueError when the file is not a signature model, or one made for other features.
    """
    path = Path(path) if path is not None else MODEL_PATH
    if path in _cache:
        return _cache[path]
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable signature model ({error})") from None
    needed = {"roots", "left", "right", "feature", "threshold", "leaf", "leaf_probability", "metadata"}
    if not needed <= set(arrays):
        raise ValueError(f"{path}: not a signature model: missing {sorted(needed - set(arrays))}")
    metadata = json.loads(arrays.pop("metadata").tobytes().decode())
    arrays["leaf_probability"] = arrays["leaf_probability"].astype(np.float32)
    if metadata.get("format") != MODEL_FORMAT:
        raise ValueError(
            f"{path}: model format {metadata.get('format')!r}; this silicio reads {MODEL_FORMAT}"
        )
    if metadata.get("feature_version") != FEATURE_VERSION or metadata.get("features") != list(FEATURE_NAMES):
        raise ValueError(
            f"{path}: trained on feature version {metadata.get('feature_version')!r}; this silicio computes "
            f"version {FEATURE_VERSION}: retrain it (python -m silicio.spatial.train)"
        )
    forest = Forest(classes=tuple(metadata["classes"]), metadata=metadata, **arrays)
    _cache[path] = forest
    return forest


@nb.njit(cache=True, nogil=True)
def _predict_row(features, roots, left, right, feature, threshold, leaf, leaf_probability, out, m):
    n_trees = len(roots)
    n_classes = out.shape[1]
    row = features[m]
    for t in range(n_trees):
        node = roots[t]
        while left[node] >= 0:
            node = left[node] if row[feature[node]] <= threshold[node] else right[node]
        probabilities = leaf_probability[leaf[node]]
        for c in range(n_classes):
            out[m, c] += probabilities[c]
    for c in range(n_classes):
        out[m, c] /= n_trees


@nb.njit(cache=True, nogil=True)
def _predict_serial(features, roots, left, right, feature, threshold, leaf, leaf_probability, out):
    for m in range(features.shape[0]):
        _predict_row(features, roots, left, right, feature, threshold, leaf, leaf_probability, out, m)


@nb.njit(cache=True, nogil=True, parallel=True)
def _predict(features, roots, left, right, feature, threshold, leaf, leaf_probability, out):
    for m in nb.prange(features.shape[0]):
        _predict_row(features, roots, left, right, feature, threshold, leaf, leaf_probability, out, m)
