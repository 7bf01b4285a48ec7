"""The committed model's probabilities kept by map contents (silicio.spatial.classify): a map
classified again is not computed again, and every result equals a fresh classification."""

from __future__ import annotations

import importlib

import numpy as np
import pyarrow as pa
import pytest

from silicio.spatial.classify import classify
from silicio.spatial.features import features
from silicio.spatial.model import load_model

#: the module (``silicio.spatial.classify`` the package exports is the function)
classify_module = importlib.import_module("silicio.spatial.classify")


def _maps(seed: int, n: int, side: int = 20) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        grid = (rng.random((side, side)) < 0.2).astype(np.int8)
        grid[0, :3] = -1  # a few places without a die
        out.append(grid)
    return out


def _fresh(maps) -> np.ndarray:
    """The model's probabilities computed directly (not through classify)."""
    return load_model().predict_proba(features(maps))


@pytest.fixture
def counted(monkeypatch):
    """The maps classify computes features of, call by call (nothing kept before)."""
    monkeypatch.setattr(classify_module, "_KEPT", {})
    monkeypatch.setattr(classify_module, "_kept_size", [0])
    calls: list[int] = []

    def counting(maps):
        calls.append(len(maps))
        return features(maps)

    monkeypatch.setattr(classify_module, "features", counting)
    return calls


def _probabilities(table: pa.Table) -> np.ndarray:
    return np.column_stack([table[name].to_numpy() for name in table.column_names if name.startswith("p_")])


def test_a_map_classified_again_is_not_computed_again(counted):
    maps = _maps(1, 6)
    first = classify(maps)
    assert counted == [6]
    np.testing.assert_array_equal(_probabilities(first), _fresh(maps))
    # the same maps in another batch and order, one new and one changed in a single die
    changed = maps[2].copy()
    changed[5, 5] = 1 - changed[5, 5]
    again = [maps[4], _maps(2, 1)[0], maps[0], changed]
    second = classify(again)
    assert counted == [6, 2]  # only the new and the changed map
    np.testing.assert_array_equal(_probabilities(second), _fresh(again))
    expected_labels = np.array(load_model().classes)[_fresh(again).argmax(axis=1)].tolist()
    assert second["label"].to_pylist() == expected_labels
    assert classify(np.stack(maps[:3])).equals(first.slice(0, 3))  # an (n, rows, cols) array: kept too
    assert counted == [6, 2]


def test_errors_name_the_map_among_all_of_them(counted):
    maps = _maps(3, 2)
    classify(maps)
    empty = np.full((4, 4), -1, np.int8)
    with pytest.raises(ValueError, match="map 2 has no dies"):
        classify([*maps, empty])
    with pytest.raises(ValueError, match=r"\(n, rows, cols\)"):
        classify(maps[0])


def test_kept_maps_are_bounded(monkeypatch, counted):
    monkeypatch.setattr(classify_module, "_KEPT_BYTES", 3 * 20 * 20)
    maps = _maps(4, 5)
    classify(maps)
    assert len(classify_module._KEPT) == 3  # the newest three
    classify(maps[2:])
    assert counted == [5]
    classify(maps[:1])
    assert counted == [5, 1]
