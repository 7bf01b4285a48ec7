"""The wafer-map signature classifier: the committed model scored on maps it never saw (a fresh
seed of its own generator, and a second generator written apart, tests/spatial/other_maps.py),
turned maps, hand-drawn maps, bad input, the model file, and training's reproducibility."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
from sklearn.metrics import f1_score

from silicio.spatial import CLASSES, FEATURE_NAMES, classify, features, generate, load_model
from silicio.spatial.model import MODEL_PATH
from silicio.spatial.train import TrainingSettings, train

from .other_maps import other_maps

#: Seeds the committed model was not trained (0) or reported (1) on.
FRESH_SEED = 20_261_202


def _labels(maps) -> np.ndarray:
    return np.array(classify(maps).column("label").to_pylist())


def _disc(across: int) -> tuple[np.ndarray, np.ndarray]:
    """A round wafer of ``across`` dies: the map (all pass) and each die's radius (1 at the edge)."""
    centres = (np.arange(across) + 0.5) / across * 2 - 1
    radius = np.hypot(*np.meshgrid(centres, centres))
    return np.where(radius <= 1, 0, -1).astype(np.int8), radius


def test_held_out_maps_of_a_fresh_seed_score_the_must_show_f1():
    maps, truth = generate(1_800, seed=FRESH_SEED)
    predicted = _labels(maps)
    per_class = f1_score(truth, predicted, labels=list(CLASSES), average=None)
    assert per_class.mean() >= 0.95, dict(zip(CLASSES, per_class.round(3), strict=True))
    assert per_class.min() >= 0.9, dict(zip(CLASSES, per_class.round(3), strict=True))


def test_maps_of_an_independent_generator_are_classified_nearly_as_well():
    maps, truth = other_maps(1_350, seed=FRESH_SEED)
    predicted = _labels(maps)
    per_class = f1_score(truth, predicted, labels=list(CLASSES), average=None)
    scores = dict(zip(CLASSES, per_class.round(3), strict=True))
    assert per_class.mean() >= 0.92, scores
    assert per_class.min() >= 0.8, scores


def test_a_map_turned_or_mirrored_keeps_its_signature():
    maps, _ = generate(270, seed=FRESH_SEED + 1)
    base = _labels(maps)
    for turn in (lambda m: np.rot90(m, 1), lambda m: np.rot90(m, 2), lambda m: m[:, ::-1], lambda m: m.T):
        turned = _labels([np.ascontiguousarray(turn(m)) for m in maps])
        assert (turned == base).mean() >= 0.97


def test_hand_drawn_maps_get_the_obvious_signature():
    wafer, radius = _disc(45)
    on = wafer >= 0
    ring = np.where(on & (radius > 0.88), 1, wafer).astype(np.int8)
    blob = np.where(on & (radius < 0.3), 1, wafer).astype(np.int8)
    full = np.where(on, 1, wafer).astype(np.int8)
    line = wafer.copy()
    line[22, 5:40] = 1  # a horizontal scratch through the middle
    arc = np.where(on & (radius > 0.88) & (np.arange(45)[None, :] > 33), 1, wafer).astype(np.int8)
    assert _labels([ring, blob, full, wafer, line, arc]).tolist() == [
        "edge_ring", "center", "near_full", "none", "scratch", "edge_loc"
    ]  # fmt: skip


def test_table_has_a_label_confidence_and_every_class_probability():
    maps, _ = generate(36, seed=5)
    table = classify(maps)
    assert table.column_names == ["label", "confidence", *(f"p_{c}" for c in CLASSES)]
    p = np.column_stack([table.column(f"p_{c}").to_numpy() for c in CLASSES])
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-3)
    assert table.column("label").to_pylist() == [CLASSES[i] for i in p.argmax(axis=1)]
    np.testing.assert_allclose(table.column("confidence").to_numpy(), p.max(axis=1))


def test_a_list_of_sizes_and_a_padded_stack_give_the_same_signatures():
    maps, _ = generate(18, seed=6)
    rows = max(m.shape[0] for m in maps) + 3
    cols = max(m.shape[1] for m in maps) + 2
    stack = np.full((len(maps), rows, cols), -1, dtype=np.int8)
    for i, m in enumerate(maps):
        stack[i, 1 : 1 + m.shape[0], 2 : 2 + m.shape[1]] = m  # off the corner: position does not matter
    listed, stacked = classify(maps), classify(stack)
    assert listed.column("label").equals(stacked.column("label"))
    np.testing.assert_allclose(listed.column("confidence").to_numpy(), stacked.column("confidence").to_numpy(),
                               atol=1e-3)  # fmt: skip


def test_bad_maps_are_refused_with_where_and_what():
    good, _ = _disc(20)
    bad = good.copy()
    bad[10, 7] = 2
    with pytest.raises(ValueError, match=r"map 1: value 2 at index \(10, 7\); expected -1 \(no die\), 0"):
        classify([good, bad])
    with pytest.raises(ValueError, match="map 1 has no dies"):
        classify([good, np.full((5, 5), -1, np.int8)])
    with pytest.raises(ValueError, match=r"\(n, rows, cols\) array"):
        classify(good)
    with pytest.raises(ValueError, match="map 0 must be 2-D"):
        classify([good.reshape(-1)])
    with pytest.raises(ValueError, match="expected integers"):
        classify([good.astype(float)])
    assert classify(np.zeros((0, 4, 4), np.int8)).num_rows == 0


def test_maps_of_any_integer_type_pack_as_each_map_alone():
    from silicio.spatial.features import pack_maps

    good, _ = _disc(20)
    wide = good.astype(np.int64)
    maps = [good, wide, good[:5, :7]]
    buffer, offsets, shapes = pack_maps(maps)
    assert buffer.dtype == np.int8 and offsets.tolist() == [0, good.size, 2 * good.size]
    unpacked = [
        buffer[at : at + rows * cols].reshape(rows, cols)
        for at, (rows, cols) in zip(offsets, shapes, strict=True)
    ]
    assert [m.tolist() for m in unpacked] == [m.tolist() for m in maps]
    wide[3, 4] = 257  # 1 as an int8: refused, not wrapped
    with pytest.raises(ValueError, match=r"map 1: value 257 at index \(3, 4\)"):
        pack_maps([good, wide])


def test_the_committed_model_is_small_and_says_what_it_was_trained_on(tmp_path):
    model = load_model()
    assert MODEL_PATH.stat().st_size < 1_000_000
    assert model.classes == CLASSES
    assert model.metadata["features"] == list(FEATURE_NAMES)
    assert model.metadata["seed"] == 0
    # A model made for other features is refused, not silently misread.
    stale = tmp_path / "stale.npz"
    model.__class__(**{**model.__dict__, "metadata": {**model.metadata, "feature_version": -1}}).save(stale)
    with pytest.raises(ValueError, match="feature version -1.*retrain"):
        load_model(stale)
    with pytest.raises(ValueError, match="not a readable signature model"):
        load_model(tmp_path / "missing.npz")


def test_training_is_reproducible_from_its_seed():
    small = TrainingSettings(maps=180, trees=4, max_leaf_nodes=16)
    first, again, other = train(3, small), train(3, small), train(4, small)
    for name, array in first.arrays().items():
        np.testing.assert_array_equal(array, again.arrays()[name], err_msg=name)
    assert not np.array_equal(first.threshold[:50], other.threshold[:50])


def test_the_exported_forest_predicts_what_scikit_learn_does():
    from sklearn.ensemble import RandomForestClassifier

    from silicio.spatial.model import from_sklearn

    maps, labels = generate(270, seed=8)
    x = features(maps)
    estimator = RandomForestClassifier(n_estimators=6, max_leaf_nodes=40, random_state=0, n_jobs=1).fit(
        x, labels
    )
    forest = from_sklearn(estimator, CLASSES, {})
    test_maps, _ = generate(180, seed=9)
    x_test = features(test_maps)
    expected = estimator.predict_proba(x_test)[:, [list(estimator.classes_).index(c) for c in CLASSES]]
    np.testing.assert_allclose(forest.predict_proba(x_test), expected, atol=2e-3)


def test_the_generator_is_seeded_balanced_and_in_range():
    maps, labels = generate(90, seed=11)
    again, labels_again = generate(90, seed=11)
    assert labels.tolist() == labels_again.tolist()
    assert all(np.array_equal(a, b) for a, b in zip(maps, again, strict=True))
    assert sorted(set(labels)) == sorted(CLASSES)
    assert all((labels == c).sum() == 10 for c in CLASSES)
    for m in maps:
        assert m.dtype == np.int8 and set(np.unique(m)) <= {-1, 0, 1}
        assert 15 <= m.shape[1] <= 80
    with pytest.raises(ValueError, match="unknown signature class"):
        generate(3, seed=1, classes=("blob",))


def test_a_few_maps_on_one_thread_get_what_the_parallel_pass_gives():
    # a lot's wafers are computed on the calling thread, a batch in parallel: the same numbers
    feature_module = importlib.import_module("silicio.spatial.features")  # the package's name is the function
    model_module = importlib.import_module("silicio.spatial.model")

    maps, _ = generate(2 * feature_module.PARALLEL_MIN_MAPS, seed=FRESH_SEED + 2)
    batch = features(maps)
    assert batch.shape[0] >= feature_module.PARALLEL_MIN_MAPS  # the parallel pass
    few = [maps[i : i + 5] for i in range(0, len(maps), 5)]
    one_by_one = np.concatenate([features(group) for group in few])
    np.testing.assert_array_equal(one_by_one, batch)
    forest = load_model()
    together = forest.predict_proba(batch)
    apart = np.concatenate([forest.predict_proba(batch[i : i + 5]) for i in range(0, len(batch), 5)])
    np.testing.assert_array_equal(apart, together)
    # and either is the trees' mean leaf probability, walked here in plain Python for a few maps
    for m in (0, 7, 40):
        expected = np.zeros(len(forest.classes))
        for root in forest.roots:
            node = root
            while forest.left[node] >= 0:
                go_left = batch[m, forest.feature[node]] <= forest.threshold[node]
                node = forest.left[node] if go_left else forest.right[node]
            expected += forest.leaf_probability[forest.leaf[node]]
        np.testing.assert_allclose(together[m], expected / len(forest.roots), rtol=1e-12, atol=1e-12)
    assert model_module.PARALLEL_MIN_MAPS == feature_module.PARALLEL_MIN_MAPS


def test_a_points_sector_is_the_one_its_angle_gives():
    """The features' sector of a point, found by comparisons, against its angle's (math.atan2):
    points on each of the 16 sectors' edges, a hair to either side, on the axes, at the centre,
    on a map's grid round a centroid and at random."""
    feature_module = importlib.import_module("silicio.spatial.features")
    rng = np.random.default_rng(FRESH_SEED)
    edges = np.pi * np.arange(-8, 9) / 8
    angles = np.concatenate([edges, np.nextafter(edges, 4), np.nextafter(edges, -4), edges + 1e-10, edges - 1e-10,
                             edges + 1e-7, edges - 1e-7, rng.uniform(-np.pi, np.pi, 3000)])  # fmt: skip
    radii = np.array([1e-3, 0.37, 1.0, 2.5])
    x, y = (radii[:, None] * np.cos(angles)).ravel(), (radii[:, None] * np.sin(angles)).ravel()
    grid = np.arange(-12, 13, dtype=float)
    # dies round a centroid on a die (the axes and the diagonals exactly) and between dies
    on_grid = [((j - c) / 9.0, (i - c) / 7.0) for c in (0.0, 0.5) for i in grid for j in grid]
    axes = [(0.0, 1.0), (0.0, -1.0), (1.0, 0.0), (-1.0, 0.0), (0.0, 0.0), (-0.0, 1.0), (1.0, -0.0),
            (-1.0, -0.0)]  # fmt: skip
    points = [*zip(x.tolist(), y.tolist(), strict=True), *on_grid, *axes]
    for px, py in points:
        expected = int((math.atan2(py, px) + math.pi) / (2 * math.pi) * 16) % 16
        assert feature_module._sector(px, py) == expected, (px, py)


def test_the_class_columns_are_the_models_probabilities_of_each_map():
    rng = np.random.default_rng(4)
    maps = [np.where(rng.random((30, 30)) < p, 1, 0).astype(np.int8) for p in (0.05, 0.3, 0.6)]
    signatures = classify(maps)
    model = load_model()
    expected = model.predict_proba(features(maps))
    for i, name in enumerate(model.classes):
        assert signatures[f"p_{name}"].to_pylist() == expected[:, i].tolist()
    assert signatures["confidence"].to_pylist() == expected.max(axis=1).tolist()
    assert signatures["label"].to_pylist() == [model.classes[i] for i in expected.argmax(axis=1)]
