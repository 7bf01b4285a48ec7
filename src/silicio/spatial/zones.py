"""Where on the wafer the loss is: yield by zone (three rings of equal area, four quadrants) and
the clusters of failing dies (DBSCAN on die coordinates), per map.

Maps are the classifier's (-1 no die, 0 pass, 1 fail), laid out as drawn (row 0 the top, column
0 the left: :func:`silicio.spatial.from_wafer_map`). The wafer's centre is the centroid of its
dies and its radii come from their count and extent, as for the signature features, so a flat or
an oblong die grid does not shift the zones.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from silicio.extras import require

from .features import pack_maps

__all__ = ["RING_EDGES", "ZONES", "fail_clusters", "zonal_yield"]

#: Ring boundaries in wafer radii: centre, middle and edge rings of equal area (1/3 each).
RING_EDGES = (float(np.sqrt(1 / 3)), float(np.sqrt(2 / 3)))
ZONES = ("centre", "middle", "edge", "top_left", "top_right", "bottom_left", "bottom_right")


def _grids(maps):
    buffer, offsets, shapes = pack_maps(maps)
    for m, (start, (rows, cols)) in enumerate(zip(offsets, shapes, strict=True)):
        grid = buffer[start : start + rows * cols].reshape(rows, cols)
        if not (grid >= 0).any():
            raise ValueError(f"map {m} has no dies (every value is -1)")
        yield m, grid


def _frame(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float, float, float]:
    """Row and column of each die; the wafer's centre (row, column) and radii (rows, columns)."""
    rows, cols = np.nonzero(grid >= 0)
    height, width = np.ptp(rows) + 1.0, np.ptp(cols) + 1.0
    area = rows.size / np.pi
    return (
        rows,
        cols,
        rows.mean(),
        cols.mean(),
        np.sqrt(area * height / width),
        np.sqrt(area * width / height),
    )


def _polar(row, column, cy, cx, ry, rx) -> tuple[np.ndarray, np.ndarray]:
    """Radius (1 at the wafer's edge) and angle (degrees counter-clockwise from the right as
    drawn, 0 to 360) of positions on the map."""
    dx, dy = (np.asarray(column) - cx) / rx, (np.asarray(row) - cy) / ry
    return np.hypot(dx, dy), np.degrees(np.arctan2(-dy, dx)) % 360.0


def zonal_yield(maps) -> pa.Table:
    """Per map: dies and yield overall, and ``<zone>_dies`` / ``<zone>_yield`` for the centre,
    middle and edge rings (equal areas, :data:`RING_EDGES`) and the four quadrants as drawn. A
    zone without dies has a null yield."""
    records = []
    for m, grid in _grids(maps):
        rows, cols, cy, cx, ry, rx = _frame(grid)
        radius, _ = _polar(rows, cols, cy, cx, ry, rx)
        passed = grid[rows, cols] == 0
        top, left = rows < cy, cols < cx
        zones = {
            "centre": radius < RING_EDGES[0],
            "middle": (radius >= RING_EDGES[0]) & (radius < RING_EDGES[1]),
            "edge": radius >= RING_EDGES[1],
            "top_left": top & left,
            "top_right": top & ~left,
            "bottom_left": ~top & left,
            "bottom_right": ~top & ~left,
        }
        record = {"map": m, "dies": int(rows.size), "yield": float(passed.mean())}
        for name, inside in zones.items():
            count = int(inside.sum())
            record[f"{name}_dies"] = count
            record[f"{name}_yield"] = float(passed[inside].mean()) if count else None
        records.append(record)
    schema = pa.schema(
        [("map", pa.int64()), ("dies", pa.int64()), ("yield", pa.float64())]
        + [field for z in ZONES for field in ((f"{z}_dies", pa.int64()), (f"{z}_yield", pa.float64()))]
    )
    return pa.Table.from_pylist(records, schema=schema)


def fail_clusters(maps, eps: float = 1.5, min_dies: int = 3) -> pa.Table:
    """Clusters of failing dies per map, by DBSCAN on die row / column (Ester, Kriegel, Sander
    and Xu, KDD 1996: density-based clustering; scikit-learn's implementation).

    ``eps`` is the neighbourhood in dies (1.5: the eight neighbours), ``min_dies`` the dies a
    core die needs within it (itself included). One row per cluster: ``map``, ``cluster`` (0 the
    largest), ``dies``, centroid ``row`` / ``column``, its ``radius`` (1 at the wafer's edge) and
    ``angle`` (degrees counter-clockwise from the right as drawn), and the cluster's bounding box.
    Fails in no cluster are not listed.
    """
    require("spatial", "clustering failing dies (DBSCAN)")
    from sklearn.cluster import DBSCAN

    if eps <= 0 or min_dies < 1:
        raise ValueError(f"eps must be > 0 and min_dies >= 1; got eps={eps}, min_dies={min_dies}")
    records = []
    for m, grid in _grids(maps):
        rows, cols, cy, cx, ry, rx = _frame(grid)
        failed = grid[rows, cols] == 1
        if not failed.any():
            continue
        points = np.column_stack([rows[failed], cols[failed]]).astype(float)
        labels = DBSCAN(eps=eps, min_samples=min_dies).fit(points).labels_
        found = [k for k in np.unique(labels) if k >= 0]
        # the largest first; equal sizes by first die (row-major), so the order is reproducible
        found.sort(key=lambda k: (-int((labels == k).sum()), int(np.flatnonzero(labels == k)[0])))
        for number, k in enumerate(found):
            members = points[labels == k]
            row, column = members.mean(axis=0)
            radius, angle = _polar(row, column, cy, cx, ry, rx)
            records.append({
                "map": m, "cluster": number, "dies": int(len(members)), "row": float(row), "column": float(column),
                "radius": float(radius), "angle": float(angle),
                "row_min": int(members[:, 0].min()), "row_max": int(members[:, 0].max()),
                "column_min": int(members[:, 1].min()), "column_max": int(members[:, 1].max()),
            })  # fmt: skip
    schema = pa.schema([("map", pa.int64()), ("cluster", pa.int64()), ("dies", pa.int64()), ("row", pa.float64()),
                        ("column", pa.float64()), ("radius", pa.float64()), ("angle", pa.float64()),
                        ("row_min", pa.int64()), ("row_max", pa.int64()), ("column_min", pa.int64()),
                        ("column_max", pa.int64())])  # fmt: skip
    return pa.Table.from_pylist(records, schema=schema)
