"""Labelled synthetic wafer maps of the WM-811K signature classes, for training and testing the
signature classifier (and for the demo fab, which plants the same shapes).

Each map is a round wafer seen as a grid of dies: ``-1`` no die (outside the wafer, or inside the
edge exclusion), ``0`` pass, ``1`` fail. A map is drawn in a wafer-centred frame (radius 1 at the
usable edge) and laid on the die grid, so the same shape comes out at 15 or 80 dies across, on
square or oblong dies, at any rotation. Every map also carries a background of random fails, and
the signature itself is noisy (not every die inside it fails), and a few specks (tiny clusters
of one to four fails) lie anywhere.

Shapes, in wafer radii ``r`` from the centre and angles ``theta``:

* ``center``: a blob round the centre (its middle within 0.15), radius 0.15 to 0.45;
* ``donut``: a ring round the centre, inner radius 0.2 to 0.5, 0.12 to 0.3 wide;
* ``edge_ring``: the outermost 0.04 to 0.2 of the radius (at least a die) all round, short gaps;
* ``edge_loc``: the same band over one arc of 25 to 150 degrees;
* ``loc``: a blob away from both centre and edge (middle at r 0.3 to 0.65, radius 0.08 to 0.25);
* ``near_full``: 75 to 100 % of the dies fail, everywhere;
* ``random``: 10 to 45 % of the dies fail, independently, everywhere;
* ``scratch``: a thin line or arc, 1 to 2 dies wide, 0.5 to 1.6 radii long, anywhere;
* ``none``: the background alone (0 to 4 % random fails).
"""

from __future__ import annotations

import numpy as np

__all__ = ["CLASSES", "GENERATOR_VERSION", "generate", "wafer_grid"]

#: The WM-811K signature classes, in the order of the classifier's probability columns.
CLASSES: tuple[str, ...] = (
    "center",
    "donut",
    "edge_loc",
    "edge_ring",
    "loc",
    "near_full",
    "random",
    "scratch",
    "none",
)
#: Bumped whenever a shape's recipe changes: the model records the generator it was trained on.
GENERATOR_VERSION = 3


def wafer_grid(
    dies_across: int, aspect: float = 1.0, exclusion: float = 0.0, flat: float = 0.0, rotation: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The dies of a round wafer: (on_wafer mask, r, theta) on a rows x columns grid.

    ``dies_across`` columns; ``aspect`` is die width / die height (rows = columns x aspect);
    ``exclusion`` the fraction of the radius lost at the edge; ``flat`` the depth of a flat (as a
    fraction of the radius) cut at angle ``rotation``. ``r`` and ``theta`` are the die centres in
    the usable wafer's frame (radius 1 at the edge exclusion).
    """
    columns = int(dies_across)
    rows = max(3, int(round(columns * aspect)))
    # Die centres in wafer radii: a die is 2 / columns wide and 2 / rows tall.
    u = (np.arange(columns) + 0.5) / columns * 2.0 - 1.0
    v = (np.arange(rows) + 0.5) / rows * 2.0 - 1.0
    uu, vv = np.meshgrid(u, v)
    usable = 1.0 - exclusion
    on_wafer = uu * uu + vv * vv <= 1.0
    # A flat: dies beyond a chord at depth `flat` from the edge, in direction `rotation`, are off.
    if flat > 0:
        on_wafer &= uu * np.cos(rotation) + vv * np.sin(rotation) <= 1.0 - flat
    on_wafer &= np.hypot(uu, vv) <= usable
    r = np.hypot(uu, vv) / usable
    theta = np.arctan2(vv, uu)
    return on_wafer, r, theta


def _angle_distance(a: np.ndarray, b: float) -> np.ndarray:
    """Absolute angular distance in radians, 0 to pi."""
    return np.abs((a - b + np.pi) % (2 * np.pi) - np.pi)


def _soft(distance_outside: np.ndarray, softness: float) -> np.ndarray:
    """1 inside a shape (distance <= 0), falling off over ``softness`` outside it."""
    if softness <= 0:
        return (distance_outside <= 0).astype(float)
    return np.clip(1.0 - distance_outside / softness, 0.0, 1.0)


def _pattern(
    label: str, r: np.ndarray, theta: np.ndarray, rng: np.random.Generator, die: float
) -> np.ndarray:
    """Probability that each die fails because of the signature (before background fails)."""
    strength = rng.uniform(0.55, 1.0)
    soft = rng.uniform(0.0, 0.12)
    x, y = r * np.cos(theta), r * np.sin(theta)
    if label == "center":
        cx, cy = rng.normal(0.0, 0.07, 2)
        radius = rng.uniform(0.15, 0.45)
        stretch = rng.uniform(0.75, 1.0)  # slightly oval
        turn = rng.uniform(0, np.pi)
        dx, dy = x - cx, y - cy
        a = dx * np.cos(turn) + dy * np.sin(turn)
        b = (-dx * np.sin(turn) + dy * np.cos(turn)) / stretch
        return strength * _soft(np.hypot(a, b) - radius, soft + 0.05)
    if label == "donut":
        inner = rng.uniform(0.2, 0.5)
        width = rng.uniform(0.12, 0.3)
        # A donut may be broken over part of its circumference.
        gap = rng.uniform(0, 0.8) if rng.random() < 0.4 else 0.0
        ring = np.maximum(inner - r, r - inner - width)
        p = strength * _soft(ring, soft + 0.03)
        if gap:
            p = p * (_angle_distance(theta, rng.uniform(-np.pi, np.pi)) > gap / 2)
        return p
    if label in ("edge_ring", "edge_loc"):
        width = max(rng.uniform(0.04, 0.2), rng.uniform(0.8, 1.5) * die)
        band = (1.0 - width) - r
        p = strength * _soft(band, soft * 0.5)
        if label == "edge_loc":
            arc = np.radians(rng.uniform(25, 150))
            centre = rng.uniform(-np.pi, np.pi)
            p = p * _soft(_angle_distance(theta, centre) - arc / 2, rng.uniform(0.0, 0.3))
            # Deeper in the middle of the arc: an edge_loc often reaches inward.
            reach = rng.uniform(0.0, 0.2)
            p = np.maximum(
                p,
                strength
                * _soft((1.0 - width - reach) - r, 0.05)
                * (_angle_distance(theta, centre) < arc / 4),
            )
        else:
            # A ring with a few short gaps at most.
            for _ in range(rng.integers(0, 3)):
                p = p * (_angle_distance(theta, rng.uniform(-np.pi, np.pi)) > np.radians(rng.uniform(0, 20)))
        return p
    if label == "loc":
        distance = rng.uniform(0.3, 0.65)
        angle = rng.uniform(-np.pi, np.pi)
        radius = rng.uniform(0.08, 0.25)
        radius = max(radius, 1.5 * die)
        cx, cy = distance * np.cos(angle), distance * np.sin(angle)
        stretch = rng.uniform(0.6, 1.0)
        turn = rng.uniform(0, np.pi)
        dx, dy = x - cx, y - cy
        a = dx * np.cos(turn) + dy * np.sin(turn)
        b = (-dx * np.sin(turn) + dy * np.cos(turn)) / stretch
        return strength * _soft(np.hypot(a, b) - radius, soft + 0.04)
    if label == "near_full":
        return np.full(r.shape, rng.uniform(0.75, 1.0))
    if label == "random":
        return np.full(r.shape, rng.uniform(0.1, 0.45))
    if label == "scratch":
        return _scratch(x, y, rng, die)
    if label == "none":
        return np.zeros(r.shape)
    raise ValueError(f"unknown signature class {label!r}; expected one of {', '.join(CLASSES)}")


def _scratch(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, die: float) -> np.ndarray:
    """A line or gentle arc: dies within half a width of a curve sampled from a random start."""
    length = rng.uniform(0.5, 1.6)
    width = rng.uniform(0.5, 1.1) * die
    start = rng.uniform(-0.7, 0.7, 2)
    heading = rng.uniform(-np.pi, np.pi)
    bend = rng.uniform(-1.2, 1.2) if rng.random() < 0.5 else 0.0  # radians over the whole length
    steps = max(8, int(length / die * 3))
    headings = heading + bend * np.linspace(0, 1, steps)
    step = length / steps
    points = start + np.cumsum(np.stack([np.cos(headings), np.sin(headings)], axis=1) * step, axis=0)
    points = np.vstack([start, points])
    # Distance of each die to the polyline's sample points (dense enough for a die-wide line).
    d2 = np.full(x.shape, np.inf)
    for px, py in points:
        d2 = np.minimum(d2, (x - px) ** 2 + (y - py) ** 2)
    strength = rng.uniform(0.7, 1.0)
    return strength * (np.sqrt(d2) <= width)


def generate(
    n: int,
    seed: int,
    classes: tuple[str, ...] = CLASSES,
    sizes: tuple[int, int] = (15, 80),
    background: tuple[float, float] = (0.0, 0.04),
) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` labelled maps, the classes taking turns (balanced), from ``seed``.

    Returns the maps (int8, -1 / 0 / 1, each its own shape) and their labels (a string array).
    Sizes are dies across, drawn log-uniformly in ``sizes``; ``background`` the range of the
    random fail density every map gets on top of its signature.
    """
    unknown = sorted(set(classes) - set(CLASSES))
    if unknown:
        raise ValueError(f"unknown signature class(es) {unknown}; expected some of {', '.join(CLASSES)}")
    if not 15 <= sizes[0] <= sizes[1]:
        raise ValueError(f"sizes must be (low, high) dies across with 15 <= low <= high; got {sizes}")
    rng = np.random.default_rng(seed)
    labels = np.array([classes[i % len(classes)] for i in range(n)], dtype=object)
    rng.shuffle(labels)
    maps = [_one_map(str(label), rng, sizes, background) for label in labels]
    return maps, labels.astype(str)


def _one_map(label: str, rng: np.random.Generator, sizes: tuple[int, int], background: tuple[float, float]):
    across = int(round(np.exp(rng.uniform(np.log(sizes[0]), np.log(sizes[1] + 0.49)))))
    aspect = rng.uniform(0.75, 1.35) if rng.random() < 0.5 else 1.0
    exclusion = rng.uniform(0.0, 0.06)
    flat = rng.uniform(0.03, 0.1) if rng.random() < 0.4 else 0.0
    on_wafer, r, theta = wafer_grid(across, aspect, exclusion, flat, rng.uniform(-np.pi, np.pi))
    die = 2.0 / across  # a die's width in wafer radii
    p = _pattern(label, r, theta, rng, die)
    density = rng.uniform(*background)
    p = 1.0 - (1.0 - p) * (1.0 - density)
    fails = rng.random(r.shape) < p
    # Specks: a few tiny clusters (one to four dies) anywhere, as particles leave them.
    for _ in range(rng.integers(0, 5)):
        i, j = rng.integers(r.shape[0]), rng.integers(r.shape[1])
        fails[i : i + rng.integers(1, 3), j : j + rng.integers(1, 3)] = True
    out = np.where(on_wafer, fails.astype(np.int8), np.int8(-1)).astype(np.int8)
    # A signature too small to see on this grid (a scratch running off the wafer, a blob of a
    # die or two) is not that signature: draw another.
    if label not in ("none", "random", "near_full") and ((p > 0.5) & on_wafer).sum() < max(6, across // 5):
        return _one_map(label, rng, sizes, background)
    return out
