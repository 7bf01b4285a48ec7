"""A second generator of labelled wafer maps, written apart from silicio.spatial.generator so the
classifier is scored on maps it was not shaped by: physical wafers (diameter and die size in
millimetres, a die kept only when all four corners are inside the edge exclusion, a notch), shapes
as probability fields of their own (Gaussian blobs and rings, distance to the edge counted in
dies, scratches as random walks with momentum), other densities and another background (single
fails and small two-to-three-die specks).

    python tests/spatial/other_maps.py 4500 > src/silicio/spatial/models/ROBUSTNESS.md

scores the committed model on 4,500 of these maps (markdown on stdout).
"""

from __future__ import annotations

import math

import numpy as np

CLASSES = ("center", "donut", "edge_loc", "edge_ring", "loc", "near_full", "random", "scratch", "none")


def _wafer(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """on-wafer mask, die centre x / y in mm, wafer usable radius in mm."""
    diameter = rng.choice([150.0, 200.0, 300.0])
    across = rng.integers(20, 71)
    die_w = diameter / across
    die_h = die_w * rng.uniform(0.7, 1.4)
    exclusion = rng.uniform(1.0, 5.0)
    usable = diameter / 2 - exclusion
    columns, rows = math.ceil(diameter / die_w) + 2, math.ceil(diameter / die_h) + 2
    # grid offset: the die grid is not centred on the wafer
    x0 = -columns * die_w / 2 + rng.uniform(-0.5, 0.5) * die_w
    y0 = -rows * die_h / 2 + rng.uniform(-0.5, 0.5) * die_h
    left = x0 + np.arange(columns) * die_w
    bottom = y0 + np.arange(rows) * die_h
    corners_inside = np.ones((rows, columns), dtype=bool)
    for dx in (0.0, die_w):
        for dy in (0.0, die_h):
            corners_inside &= (left[None, :] + dx) ** 2 + (bottom[:, None] + dy) ** 2 <= usable**2
    # a notch: a small bite at a random angle
    notch = rng.uniform(0, 2 * np.pi)
    nx, ny = usable * np.cos(notch), usable * np.sin(notch)
    xc = left[None, :] + die_w / 2 + 0 * bottom[:, None]
    yc = bottom[:, None] + die_h / 2 + 0 * left[None, :]
    corners_inside &= (xc - nx) ** 2 + (yc - ny) ** 2 > (0.03 * diameter) ** 2
    keep_rows = corners_inside.any(axis=1)
    keep_cols = corners_inside.any(axis=0)
    mask = corners_inside[keep_rows][:, keep_cols]
    return mask, xc[keep_rows][:, keep_cols], yc[keep_rows][:, keep_cols], usable


def _edge_distance(mask: np.ndarray) -> np.ndarray:
    """Dies from each die to the nearest spot off the wafer (4-neighbour steps)."""
    distance = np.where(mask, 10_000, 0)
    padded = np.pad(distance, 1)
    changed = True
    while changed:
        step = (
            np.minimum.reduce([padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]]) + 1
        )
        new = np.where(mask, np.minimum(padded[1:-1, 1:-1], step), 0)
        changed = bool((new != padded[1:-1, 1:-1]).any())
        padded[1:-1, 1:-1] = new
    return padded[1:-1, 1:-1]


def _walk(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A scratch: a random walk with momentum, one die wide, 12 to 45 steps."""
    rows, cols = mask.shape
    inside = np.argwhere(mask)
    r0, c0 = inside[rng.integers(len(inside))].astype(float)
    heading = rng.uniform(0, 2 * np.pi)
    turn = rng.normal(0, 0.02)
    out = np.zeros(mask.shape)
    for _ in range(int(rng.integers(12, 46)) * 2):
        heading += turn + rng.normal(0, 0.04)
        r0 += 0.5 * np.sin(heading)
        c0 += 0.5 * np.cos(heading)
        i, j = int(round(r0)), int(round(c0))
        if 0 <= i < rows and 0 <= j < cols:
            out[i, j] = 1.0
    return out


def other_map(label: str, rng: np.random.Generator) -> np.ndarray:
    mask, x, y, radius = _wafer(rng)
    r = np.hypot(x, y) / radius
    angle = np.arctan2(y, x)
    peak = rng.uniform(0.6, 1.0)
    if label == "center":
        cx, cy = rng.uniform(-0.1, 0.1, 2)
        sigma = rng.uniform(0.1, 0.22)
        p = peak * np.exp(-(((x / radius - cx) ** 2 + (y / radius - cy) ** 2) / (2 * sigma**2)))
        p = np.where(p > 0.15, np.minimum(1, 1.3 * p), 0)
    elif label == "donut":
        mu, sigma = rng.uniform(0.3, 0.6), rng.uniform(0.05, 0.1)
        p = peak * np.exp(-((r - mu) ** 2) / (2 * sigma**2))
        p = np.where(p > 0.15, np.minimum(1, 1.3 * p), 0)
    elif label in ("edge_ring", "edge_loc"):
        depth = _edge_distance(mask)
        width = rng.integers(1, 4)
        p = peak * (depth <= width)
        if label == "edge_loc":
            centre = rng.uniform(-np.pi, np.pi)
            half = np.radians(rng.uniform(15, 60))
            off = np.abs(np.angle(np.exp(1j * (angle - centre))))
            p = p * np.clip((half + 0.2 - off) / 0.2, 0, 1)
    elif label == "loc":
        distance, where = rng.uniform(0.3, 0.6), rng.uniform(-np.pi, np.pi)
        a, b = rng.uniform(0.1, 0.2), rng.uniform(0.07, 0.15)
        turn = rng.uniform(0, np.pi)
        dx = x / radius - distance * np.cos(where)
        dy = y / radius - distance * np.sin(where)
        u = dx * np.cos(turn) + dy * np.sin(turn)
        v = -dx * np.sin(turn) + dy * np.cos(turn)
        p = peak * ((u / a) ** 2 + (v / b) ** 2 <= 1)
    elif label == "near_full":
        p = np.full(mask.shape, rng.uniform(0.8, 1.0))
    elif label == "random":
        p = np.full(mask.shape, rng.uniform(0.15, 0.4))
    elif label == "scratch":
        p = rng.uniform(0.8, 1.0) * _walk(mask, rng)
    else:
        p = np.zeros(mask.shape)
    fails = rng.random(mask.shape) < p
    # background: single fails and a few specks of two or three dies
    fails |= rng.random(mask.shape) < rng.uniform(0.0, 0.03)
    for _ in range(int(rng.integers(0, 4))):
        i, j = rng.integers(mask.shape[0]), rng.integers(mask.shape[1])
        fails[i : i + rng.integers(1, 3), j : j + rng.integers(1, 3)] = True
    out = np.where(mask, fails.astype(np.int8), np.int8(-1)).astype(np.int8)
    if label not in ("none", "random", "near_full") and ((p > 0.5) & mask).sum() < 8:
        return other_map(label, rng)
    return out


def other_maps(n: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng([seed, 811])
    labels = [CLASSES[i % len(CLASSES)] for i in range(n)]
    return [other_map(label, rng) for label in labels], np.array(labels)


if __name__ == "__main__":
    import os
    import sys

    from silicio.spatial import classify
    from silicio.spatial.train import evaluate, scores_markdown

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 4500
    maps, labels = other_maps(n, seed=2026)
    predicted = np.array(classify(maps).column("label").to_pylist())
    print("# Wafer-map signature model: robustness on maps made differently\n")
    print(f"Written by `python tests/spatial/other_maps.py {n}`: {n:,} maps of the second generator "
          f"(tests/spatial/other_maps.py, seed 2026), classified by the committed model; load "
          f"{os.getloadavg()[0]:.1f}.\n")  # fmt: skip
    print(scores_markdown(evaluate(labels, predicted)))
