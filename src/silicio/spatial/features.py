"""Rotation-invariant features of wafer maps, the classifier's input: one numba pass per map.

A map is laid in its own wafer frame first: the centre is the centroid of its dies and the two
radii come from the dies' count and the grid's extent (area = pi * rx * ry, rx / ry = columns /
rows of dies), so a flat or a notch barely moves the centre, and oblong dies make no oval. Every
feature is a function of radius, of angle only through statistics that do not depend on where
zero is (sorted sector densities, runs round the circle), or of shape moments: a map turned by
any angle gives (nearly) the same features.

The features, in :data:`FEATURE_NAMES` order:

* overall fail density and the number of dies (log);
* fail density in ten rings of radius (centre to edge);
* fail density in angular sectors of three bands (edge r >= 0.8, outermost r >= 0.9, middle
  0.45..0.8, inner < 0.45), summarised by sorted quantiles, spread, and the share and longest
  circular run of sectors at least half failing: a ring covers every sector, an edge arc a run;
* clustering: how much more often a failing die's neighbours fail than the density says;
* the largest 8-connected cluster of fails: share of dies and of fails, radius of its centroid,
  mean / spread / min / max radius of its dies, angular coverage, elongation and thickness from
  its second moments, how much of its moment ellipse it fills, and the second cluster's share;
* lines (scratches): a Hough accumulator over 36 directions and die-wide offsets; the strongest
  line's fails above the density, its share of all fails, and the longest run along it;
* the rim (dies with a side on the wafer's edge, whatever the radius says): its density and the
  share and longest run of its sectors at least half failing;
* the largest cluster's and the strongest line's fails, counted (log): specks are a few dies.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["FEATURE_NAMES", "FEATURE_VERSION", "features", "pack_maps"]

_RING_EDGES = np.array([0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.87, 0.94])
_SECTORS = 16  # :func:`_sector` finds a die's among 16 by comparisons
_ANGLES = 36

FEATURE_NAMES: tuple[str, ...] = (
    "density",
    "log_dies",
    *(f"ring_{i}" for i in range(10)),
    *(f"edge_{s}" for s in ("max", "q75", "median", "q25", "min", "std", "half_share", "half_run", "quarter_share")),
    *(f"outer_{s}" for s in ("max", "median", "min", "half_share", "half_run")),
    *(f"middle_{s}" for s in ("max", "median", "min", "std", "half_share")),
    *(f"inner_{s}" for s in ("max", "min", "mean")),
    "neighbour_fail",
    "neighbour_ratio",
    "cluster_share_dies",
    "cluster_share_fails",
    "cluster_centroid_r",
    "cluster_mean_r",
    "cluster_std_r",
    "cluster_min_r",
    "cluster_max_r",
    "cluster_sectors",
    "cluster_elongation",
    "cluster_thickness",
    "cluster_length",
    "cluster_fill",
    "second_cluster_share",
    "clusters_per_100",
    "line_excess",
    "line_share",
    "line_run",
    "line_fill",
    "rim_density",
    "rim_half_share",
    "rim_half_run",
    "cluster_dies_log",
    "line_fails_log",
)  # fmt: skip
#: Changes whenever a feature's definition does; a model trained on other features is refused.
FEATURE_VERSION = 2
N_FEATURES = len(FEATURE_NAMES)


def pack_maps(maps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maps (an (n, rows, cols) array, or a list of 2-D arrays of any sizes) as one flat int8
    buffer, each map's offset into it, and each map's (rows, cols)."""
    if isinstance(maps, np.ndarray):
        if maps.ndim != 3:
            raise ValueError(
                f"maps must be an (n, rows, cols) array or a list of 2-D maps; got shape {maps.shape}"
            )
        n, rows, cols = maps.shape
        buffer = _checked(maps, "maps").reshape(-1)
        offsets = np.arange(n, dtype=np.int64) * rows * cols
        shapes = np.tile(np.array([rows, cols], dtype=np.int64), (n, 1))
        return buffer, offsets, shapes
    arrays, shapes = [], []
    for i, one in enumerate(maps):
        one = np.asarray(one)
        if one.ndim != 2:
            raise ValueError(f"map {i} must be 2-D (rows, cols); got shape {one.shape}")
        _integers(one, f"map {i}")
        arrays.append(one)
        shapes.append(one.shape)
    sizes = np.array([a.size for a in arrays], dtype=np.int64)
    offsets = (
        np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if arrays else np.zeros(0, np.int64)
    )
    if not arrays:
        return np.zeros(0, np.int8), offsets, np.zeros((0, 2), np.int64)
    # the values checked in one go (a lot's maps: a few numpy calls, not a few a map); a map with a
    # value out of range then checked alone, so the error names it
    buffer = np.concatenate([a.reshape(-1) for a in arrays])
    if ((buffer < -1) | (buffer > 1)).any():
        for i, one in enumerate(arrays):
            _checked(one, f"map {i}")
    return buffer.astype(np.int8, copy=False), offsets, np.array(shapes, dtype=np.int64).reshape(-1, 2)


def _integers(values: np.ndarray, what: str) -> None:
    """ValueError unless the values are integers."""
    if not np.issubdtype(values.dtype, np.integer):
        raise ValueError(
            f"{what}: expected integers -1 (no die), 0 (pass), 1 (fail); got dtype {values.dtype}"
        )


def _checked(values: np.ndarray, what: str) -> np.ndarray:
    """The values as int8 -1 / 0 / 1; ValueError naming the first other value and where it is."""
    _integers(values, what)
    bad = (values < -1) | (values > 1)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{what}: value {values[where]} at index {where}; expected -1 (no die), 0 (pass) or 1 (fail)"
        )
    return np.ascontiguousarray(values, dtype=np.int8)


def features(maps) -> np.ndarray:
    """The (n, len(FEATURE_NAMES)) float32 features of the maps (see :func:`pack_maps`).

    A map without a single die is an error naming it.
    """
    buffer, offsets, shapes = pack_maps(maps)
    out = np.zeros((len(offsets), N_FEATURES), dtype=np.float32)
    dies = _count_dies(buffer, offsets, shapes)
    empty = np.flatnonzero(dies == 0)
    if empty.size:
        raise ValueError(f"map {int(empty[0])} has no dies (every value is -1): nothing to classify")
    if len(offsets) < PARALLEL_MIN_MAPS:
        _features_serial(buffer, offsets, shapes, out)
    else:
        _all_features(buffer, offsets, shapes, out)
    return out


@nb.njit(cache=True, nogil=True)
def _count_dies(buffer, offsets, shapes):
    out = np.zeros(len(offsets), dtype=np.int64)
    for m in range(len(offsets)):
        start = offsets[m]
        for i in range(shapes[m, 0] * shapes[m, 1]):
            if buffer[start + i] >= 0:
                out[m] += 1
    return out


#: Fewer maps than this (a lot's wafers) are computed on the calling thread: waking the parallel
#: pass's threads costs more CPU than the maps (6 maps of 64x64 dies: ~8 ms CPU in threads, ~2 ms
#: on one). The maps are independent, so both ways give the same features.
PARALLEL_MIN_MAPS = 64


@nb.njit(cache=True, nogil=True)
def _map_features(buffer, offsets, shapes, m, out):
    rows, cols = shapes[m, 0], shapes[m, 1]
    start = offsets[m]
    grid = buffer[start : start + rows * cols].reshape((rows, cols))
    _one_map(grid, out[m])


@nb.njit(cache=True, nogil=True)
def _features_serial(buffer, offsets, shapes, out):
    for m in range(len(offsets)):
        _map_features(buffer, offsets, shapes, m, out)


@nb.njit(cache=True, nogil=True, parallel=True)
def _all_features(buffer, offsets, shapes, out):
    for m in nb.prange(len(offsets)):
        _map_features(buffer, offsets, shapes, m, out)


@nb.njit(cache=True, nogil=True)
def _sector_summary(fails, dies, n):
    """Densities of ``n`` sectors (a sector without dies takes its neighbours' mean) sorted."""
    density = np.zeros(n)
    have = np.zeros(n, dtype=np.bool_)
    total_f, total_d = 0.0, 0.0
    for s in range(n):
        total_f += fails[s]
        total_d += dies[s]
        if dies[s] > 0:
            density[s] = fails[s] / dies[s]
            have[s] = True
    mean = total_f / total_d if total_d > 0 else 0.0
    for s in range(n):
        if not have[s]:
            density[s] = mean
    return density


@nb.njit(cache=True, nogil=True)
def _longest_run(flags):
    """Longest circular run of True."""
    n = len(flags)
    all_true = True
    for s in range(n):
        if not flags[s]:
            all_true = False
    if all_true:
        return n
    best, run = 0, 0
    for k in range(2 * n):
        if flags[k % n]:
            run += 1
            if run > best:
                best = run
        else:
            run = 0
    return min(best, n)


#: tan(pi / 8): the 16 sectors' edges are every pi / 8 round the centre.
_TAN_EIGHTH = np.sqrt(2.0) - 1.0
#: Nearer an edge than this (relative to the point's |x| + |y|), the comparisons of :func:`_sector`
#: could round to the wrong side: arctan2 decides (its own error is ~1e-16).
_NEAR_EDGE = 1e-9


@nb.njit(cache=True, nogil=True)
def _sector(x, y):
    """The sector (of 16) of point (x, y): ``int((arctan2(y, x) + pi) / (2 pi) * 16) % 16``, found by
    comparing y with x on the edges (arctan2 costs a third of a map's features), arctan2 itself
    where the point is on or next to an edge."""
    u, v = abs(x), abs(y)
    near = _NEAR_EDGE * (u + v)
    above_eighth = v - _TAN_EIGHTH * u  # > 0: the angle from the x axis over pi / 8
    above_quarter = v - u  # over pi / 4
    above_three_eighths = _TAN_EIGHTH * v - u  # over 3 pi / 8
    if (u <= near or v <= near or abs(above_eighth) <= near or abs(above_quarter) <= near
            or abs(above_three_eighths) <= near):  # fmt: skip
        return int((np.arctan2(y, x) + np.pi) / (2 * np.pi) * _SECTORS) % _SECTORS
    eighths = int(above_eighth > 0) + int(above_quarter > 0) + int(above_three_eighths > 0)
    if y > 0:
        return 8 + eighths if x > 0 else 15 - eighths
    return 7 - eighths if x > 0 else eighths


@nb.njit(cache=True, nogil=True)
def _one_map(grid, out):
    rows, cols = grid.shape
    # --- the wafer frame: centroid, and radii from the die count and the grid's extent
    n_dies, n_fails = 0, 0
    sum_r, sum_c = 0.0, 0.0
    r_min, r_max, c_min, c_max = rows, -1, cols, -1
    for i in range(rows):
        for j in range(cols):
            v = grid[i, j]
            if v >= 0:
                n_dies += 1
                sum_r += i
                sum_c += j
                r_min = min(r_min, i)
                r_max = max(r_max, i)
                c_min = min(c_min, j)
                c_max = max(c_max, j)
                if v == 1:
                    n_fails += 1
    if n_dies == 0:
        return
    cy, cx = sum_r / n_dies, sum_c / n_dies
    height, width = r_max - r_min + 1.0, c_max - c_min + 1.0
    area_radius2 = n_dies / np.pi  # rx * ry
    rx = np.sqrt(area_radius2 * width / height)
    ry = np.sqrt(area_radius2 * height / width)
    die_radius = np.sqrt(area_radius2)  # a die's size in the frame's units is 1 / die_radius
    density = n_fails / n_dies

    # --- per-die radius and sector; rings and sector tallies
    ring_f = np.zeros(10)
    ring_d = np.zeros(10)
    edge_f, edge_d = np.zeros(_SECTORS), np.zeros(_SECTORS)
    outer_f, outer_d = np.zeros(_SECTORS), np.zeros(_SECTORS)
    mid_f, mid_d = np.zeros(_SECTORS), np.zeros(_SECTORS)
    inner_f, inner_d = np.zeros(8), np.zeros(8)
    rim_f, rim_d = np.zeros(_SECTORS), np.zeros(_SECTORS)
    radius = np.zeros((rows, cols))
    sector = np.zeros((rows, cols), dtype=np.int64)
    # each column's x and each row's y in the frame, divided once, not at every die
    frame_x = np.empty(cols)
    for j in range(cols):
        frame_x[j] = (j - cx) / rx
    frame_y = np.empty(rows)
    for i in range(rows):
        frame_y[i] = (i - cy) / ry
    for i in range(rows):
        for j in range(cols):
            v = grid[i, j]
            if v < 0:
                continue
            x = frame_x[j]
            y = frame_y[i]
            rr = np.sqrt(x * x + y * y)
            s = _sector(x, y)
            radius[i, j] = rr
            sector[i, j] = s
            k = 0
            while k < 9 and rr >= _RING_EDGES[k]:
                k += 1
            f = 1.0 if v == 1 else 0.0
            if (i == 0 or i == rows - 1 or j == 0 or j == cols - 1 or grid[i - 1, j] < 0 or grid[i + 1, j] < 0
                    or grid[i, j - 1] < 0 or grid[i, j + 1] < 0):  # fmt: skip
                rim_f[s] += f
                rim_d[s] += 1
            ring_f[k] += f
            ring_d[k] += 1
            if rr >= 0.8:
                edge_f[s] += f
                edge_d[s] += 1
                if rr >= 0.9:
                    outer_f[s] += f
                    outer_d[s] += 1
            elif rr >= 0.45:
                mid_f[s] += f
                mid_d[s] += 1
            else:
                s8 = s // 2
                inner_f[s8] += f
                inner_d[s8] += 1
    at = 0
    out[at] = density
    out[at + 1] = np.log(n_dies)
    at += 2
    for k in range(10):
        out[at + k] = ring_f[k] / ring_d[k] if ring_d[k] > 0 else density
    at += 10

    edge = _sector_summary(edge_f, edge_d, _SECTORS)
    ordered = np.sort(edge)
    out[at] = ordered[-1]
    out[at + 1] = ordered[(3 * _SECTORS) // 4]
    out[at + 2] = ordered[_SECTORS // 2]
    out[at + 3] = ordered[_SECTORS // 4]
    out[at + 4] = ordered[0]
    out[at + 5] = np.std(edge)
    out[at + 6] = np.sum(edge >= 0.5) / _SECTORS
    out[at + 7] = _longest_run(edge >= 0.5) / _SECTORS
    out[at + 8] = np.sum(edge >= 0.25) / _SECTORS
    at += 9

    outer = _sector_summary(outer_f, outer_d, _SECTORS)
    ordered = np.sort(outer)
    out[at] = ordered[-1]
    out[at + 1] = ordered[_SECTORS // 2]
    out[at + 2] = ordered[0]
    out[at + 3] = np.sum(outer >= 0.5) / _SECTORS
    out[at + 4] = _longest_run(outer >= 0.5) / _SECTORS
    at += 5

    mid = _sector_summary(mid_f, mid_d, _SECTORS)
    ordered = np.sort(mid)
    out[at] = ordered[-1]
    out[at + 1] = ordered[_SECTORS // 2]
    out[at + 2] = ordered[0]
    out[at + 3] = np.std(mid)
    out[at + 4] = np.sum(mid >= 0.5) / _SECTORS
    at += 5

    inner = _sector_summary(inner_f, inner_d, 8)
    out[at] = np.max(inner)
    out[at + 1] = np.min(inner)
    out[at + 2] = np.mean(inner)
    at += 3

    # --- clustering: fails among the 4-neighbours of fails, against the density
    pairs, fail_pairs = 0.0, 0.0
    for i in range(rows):
        for j in range(cols):
            if grid[i, j] != 1:
                continue
            for d in range(4):
                ni = i + (1 if d == 0 else (-1 if d == 1 else 0))
                nj = j + (1 if d == 2 else (-1 if d == 3 else 0))
                if 0 <= ni < rows and 0 <= nj < cols and grid[ni, nj] >= 0:
                    pairs += 1
                    if grid[ni, nj] == 1:
                        fail_pairs += 1
    neighbour = fail_pairs / pairs if pairs > 0 else 0.0
    out[at] = neighbour
    out[at + 1] = neighbour / density if density > 0 else 0.0
    at += 2

    # --- 8-connected clusters of fails (flood fill with an explicit stack)
    label = np.full((rows, cols), -1, dtype=np.int64)
    stack = np.empty(rows * cols, dtype=np.int64)
    best, best_size, second_size, n_clusters = -1, 0, 0, 0
    n_labels = 0
    for i in range(rows):
        for j in range(cols):
            if grid[i, j] != 1 or label[i, j] >= 0:
                continue
            size = 0
            top = 0
            stack[top] = i * cols + j
            top += 1
            label[i, j] = n_labels
            while top > 0:
                top -= 1
                p = stack[top]
                pi, pj = p // cols, p % cols
                size += 1
                for di in range(-1, 2):
                    for dj in range(-1, 2):
                        qi, qj = pi + di, pj + dj
                        if 0 <= qi < rows and 0 <= qj < cols and grid[qi, qj] == 1 and label[qi, qj] < 0:
                            label[qi, qj] = n_labels
                            stack[top] = qi * cols + qj
                            top += 1
            if size >= 3:
                n_clusters += 1
            if size > best_size:
                second_size = best_size
                best_size, best = size, n_labels
            elif size > second_size:
                second_size = size
            n_labels += 1
    if best >= 0:
        sx, sy, sr, sr2 = 0.0, 0.0, 0.0, 0.0
        rmin_c, rmax_c = 1e9, 0.0
        covered = np.zeros(_SECTORS, dtype=np.bool_)
        for i in range(rows):
            for j in range(cols):
                if label[i, j] == best:
                    x = frame_x[j]
                    y = frame_y[i]
                    rr = radius[i, j]
                    sx += x
                    sy += y
                    sr += rr
                    sr2 += rr * rr
                    rmin_c = min(rmin_c, rr)
                    rmax_c = max(rmax_c, rr)
                    covered[sector[i, j]] = True
        n = float(best_size)
        mx, my = sx / n, sy / n
        sxx, syy, sxy = 0.0, 0.0, 0.0
        for i in range(rows):
            for j in range(cols):
                if label[i, j] == best:
                    x = frame_x[j] - mx
                    y = frame_y[i] - my
                    sxx += x * x
                    syy += y * y
                    sxy += x * y
        sxx /= n
        syy /= n
        sxy /= n
        half_trace = (sxx + syy) / 2
        root = np.sqrt(max(half_trace * half_trace - (sxx * syy - sxy * sxy), 0.0))
        major = half_trace + root
        minor = max(half_trace - root, 0.0)
        # A single row of dies still has a die's width: add a die's own second moment (1/12).
        die_moment = 1.0 / (12.0 * die_radius * die_radius)
        major += die_moment
        minor += die_moment
        mean_r = sr / n
        out[at] = n / n_dies
        out[at + 1] = n / n_fails
        out[at + 2] = np.sqrt(mx * mx + my * my)
        out[at + 3] = mean_r
        out[at + 4] = np.sqrt(max(sr2 / n - mean_r * mean_r, 0.0))
        out[at + 5] = rmin_c
        out[at + 6] = rmax_c
        out[at + 7] = np.sum(covered) / _SECTORS
        out[at + 8] = np.sqrt(major / minor)
        out[at + 9] = np.sqrt(minor) * die_radius  # in dies
        out[at + 10] = np.sqrt(major)
        # share of the moment ellipse (semi-axes 2 sigma) the cluster fills, in dies
        ellipse = np.pi * 4.0 * np.sqrt(major * minor) * die_radius * die_radius
        out[at + 11] = min(n / ellipse, 2.0)
        out[at + 12] = second_size / n_dies
    out[at + 13] = 100.0 * n_clusters / n_dies
    at += 14

    # --- lines: Hough accumulator of fails over directions and die-wide offsets. A line's dies
    # are its chord of the wafer, 2 sqrt(R^2 - rho^2) in die units (R: the wafer's radius in dies):
    # only the fails are visited, not every die 36 times.
    fx = np.empty(n_fails)
    fy = np.empty(n_fails)
    k = 0
    for i in range(rows):
        for j in range(cols):
            if grid[i, j] == 1:
                # die units, isotropic: x and y scaled to the same die size
                fx[k] = frame_x[j] * die_radius
                fy[k] = frame_y[i] * die_radius
                k += 1
    span = int(np.ceil(die_radius)) + 2
    best_excess, best_share, best_run, best_fill, best_fails = 0.0, 0.0, 0.0, 0.0, 0.0
    acc_f = np.zeros(2 * span + 1)
    # each offset's chord, its expected fails and their spread: the same at every angle
    chord = np.zeros(2 * span + 1)
    expected = np.zeros(2 * span + 1)
    spread = np.zeros(2 * span + 1)
    for b in range(2 * span + 1):
        rho = b - span
        chord[b] = 2.0 * np.sqrt(max(die_radius * die_radius - rho * rho, 0.0))
        expected[b] = density * chord[b]
        spread[b] = np.sqrt(chord[b])
    for k in range(_ANGLES):
        angle = np.pi * k / _ANGLES
        ca, sa = np.cos(angle), np.sin(angle)
        acc_f[:] = 0.0
        for f in range(n_fails):
            b = int(np.floor(fx[f] * ca + fy[f] * sa + 0.5)) + span
            if 0 <= b < 2 * span + 1:
                acc_f[b] += 1
        for b in range(2 * span + 1):
            if chord[b] >= 5:
                excess = (acc_f[b] - expected[b]) / spread[b]
                if excess > best_excess:
                    best_excess = excess
                    best_share = acc_f[b] / n_fails if n_fails > 0 else 0.0
                    best_fill = min(acc_f[b] / chord[b], 1.5)
                    best_run = acc_f[b] / die_radius  # the line's fails, in wafer radii
                    best_fails = acc_f[b]
    out[at] = best_excess
    out[at + 1] = best_share
    out[at + 2] = best_run
    out[at + 3] = best_fill
    at += 4

    rim = _sector_summary(rim_f, rim_d, _SECTORS)
    total_rim = np.sum(rim_d)
    out[at] = np.sum(rim_f) / total_rim if total_rim > 0 else 0.0
    out[at + 1] = np.sum(rim >= 0.5) / _SECTORS
    out[at + 2] = _longest_run(rim >= 0.5) / _SECTORS
    out[at + 3] = np.log1p(best_size)
    out[at + 4] = np.log1p(best_fails)
