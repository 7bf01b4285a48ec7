"""Zonal yield and DBSCAN clusters of fails on maps drawn by hand, and the WaferMap conversion."""

from __future__ import annotations

import math

import numpy as np
import pytest

from silicio.spatial import RING_EDGES, fail_clusters, from_wafer_map, zonal_yield
from silicio.yields.wafermap import Orientation, WaferMap


def _square(size: int) -> np.ndarray:
    return np.zeros((size, size), np.int8)


def test_ring_edges_split_the_wafer_into_three_equal_areas():
    r0, r1 = RING_EDGES
    assert math.isclose(math.pi * r0**2, math.pi / 3)
    assert math.isclose(math.pi * (r1**2 - r0**2), math.pi / 3)


def test_quadrant_and_ring_yields_of_a_hand_drawn_wafer():
    # A 40 x 40 disc; every die of the top-left quadrant fails, nothing else.
    n = 40
    centres = np.arange(n) - (n - 1) / 2
    yy, xx = np.meshgrid(centres, centres, indexing="ij")
    on = np.hypot(xx, yy) <= n / 2
    grid = np.where(on, 0, -1).astype(np.int8)
    grid[on & (yy < 0) & (xx < 0)] = 1
    row = zonal_yield([grid]).to_pylist()[0]
    assert row["dies"] == int(on.sum())
    assert row["top_left_yield"] == 0.0
    assert row["top_right_yield"] == row["bottom_left_yield"] == row["bottom_right_yield"] == 1.0
    assert row["top_left_dies"] == int((on & (yy < 0) & (xx < 0)).sum())
    assert math.isclose(row["yield"], 0.75, abs_tol=0.01)  # a quarter of a symmetric disc
    # each ring loses a quarter of its dies: the quadrant cuts every ring alike
    for ring in ("centre", "middle", "edge"):
        assert math.isclose(row[f"{ring}_yield"], 0.75, abs_tol=0.04), ring
    # the rings hold about a third of the dies each (equal areas)
    for ring in ("centre", "middle", "edge"):
        assert math.isclose(row[f"{ring}_dies"] / row["dies"], 1 / 3, abs_tol=0.03), ring


def test_an_edge_ring_of_fails_shows_in_the_edge_zone_only():
    n = 50
    centres = (np.arange(n) + 0.5) / n * 2 - 1
    radius = np.hypot(*np.meshgrid(centres, centres))
    grid = np.where(radius <= 1, 0, -1).astype(np.int8)
    grid[(radius <= 1) & (radius > 0.9)] = 1
    row = zonal_yield(grid[None]).to_pylist()[0]
    assert row["centre_yield"] == row["middle_yield"] == 1.0
    assert 0.0 < row["edge_yield"] < 0.7


def test_dbscan_finds_the_two_blobs_and_ignores_lone_fails():
    grid = _square(30)
    grid[0, :3] = grid[0, 27:] = -1  # a corner off the wafer, to show -1 is skipped
    grid[4:7, 4:9] = 1  # 15 dies, centroid row 5, column 6
    grid[20:22, 18:20] = 1  # 4 dies, centroid row 20.5, column 18.5
    grid[12, 25] = grid[27, 3] = 1  # lone fails
    clusters = fail_clusters([grid]).to_pylist()
    assert [(c["cluster"], c["dies"]) for c in clusters] == [(0, 15), (1, 4)]
    assert (clusters[0]["row"], clusters[0]["column"]) == (5.0, 6.0)
    assert (clusters[1]["row"], clusters[1]["column"]) == (20.5, 18.5)
    assert (clusters[0]["row_min"], clusters[0]["row_max"], clusters[0]["column_min"], clusters[0]["column_max"]) == (
        4, 6, 4, 8)  # fmt: skip
    # the first blob is up and to the left of the centre: between 90 and 180 degrees
    assert 90 < clusters[0]["angle"] < 180
    # a larger neighbourhood joins nothing more here; min_dies 5 drops the small blob
    assert [c["dies"] for c in fail_clusters([grid], min_dies=5).to_pylist()] == [15]
    with pytest.raises(ValueError, match="eps must be > 0"):
        fail_clusters([grid], eps=0)


def test_a_wafer_map_converts_with_its_orientation():
    # Dies at x 0..2, y 0..1; die (0, 0) fails, (2, 1) has no bin.
    x = np.array([0, 1, 2, 0, 1, 2])
    y = np.array([0, 0, 0, 1, 1, 1])
    value = np.array([5, 1, 1, 1, 1, -1])
    good = np.array([False, True, True, True, True, False])
    wafer = WaferMap(x, y, value, "bin", "L1", "3", good=good)
    # The prober convention: X right, Y down -> row 0 is y 0, column 0 is x 0.
    assert from_wafer_map(wafer).tolist() == [[1, 0, 0], [0, 0, -1]]
    # Y up and X left: row 0 is the highest y, column 0 the highest x.
    assert from_wafer_map(wafer, Orientation("left", "up")).tolist() == [[-1, 0, 0], [0, 0, 1]]
    with pytest.raises(ValueError, match="needs a bin map"):
        from_wafer_map(WaferMap(x, y, value.astype(float), "parametric"))
