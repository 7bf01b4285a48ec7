"""The physics of the demo fab: where dies sit on a wafer, what each die's silicon is like, and
what a tester measures on it.

A die's latent process parameters (:data:`silicio.demo.products.LATENT`) are the sum of a lot
effect (slow drift from lot to lot), a wafer effect with a tilt across the wafer, correlated
die-to-die variation and the wafer's spatial signature. Test values are linear in them
(log-linear for leakage-like currents), plus a part of their own that stays with the die and
a little measurement noise, so a die measured again at final test reads close to its sort
values. Killer defects override one test with a value far out of its limits.

Spatial signatures (one per wafer, :data:`SIGNATURES`):

* ``random``: Poisson killer defects only, at the product's D0 (every wafer has them);
* ``edge_ring``: a ring of failing dies in the outer 8-11 mm (film or bead defects), survivors
  leakier;
* ``center``: a slow-corner bullseye (implant / anneal): high Vth and long channel in the
  middle, failing timing, oscillator and supply-current tests;
* ``scratch``: a line of killed dies across the wafer (handling);
* ``cluster``: one to three blobs of defects (particles), most dies in them killed; the good
  dies left among them are the GDBN population.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .products import LATENT, PASS_BIN, Product, Test

__all__ = ["SIGNATURES", "Dies", "WaferGrid", "WaferSignature", "wafer_grid"]

WAFER_DIAMETER = 200.0  # mm
EDGE_EXCLUSION = 3.0  # mm
USABLE_RADIUS = WAFER_DIAMETER / 2 - EDGE_EXCLUSION

SIGNATURES = ("random", "edge_ring", "center", "scratch", "cluster")
#: Signatures of a lot's wafers are dealt from this pool in turn, so every pattern shows up once
#: a product has eight wafers, and about half the wafers carry only random defects.
SIGNATURE_POOL = ("edge_ring", "random", "cluster", "center", "random", "scratch", "random", "cluster")

# Correlation of die-to-die variation of the latent parameters: a low-Vth die leaks more, a
# short channel goes with a low Vth (roll-off).
_LATENT_CORRELATION = np.array(
    [
        [1.0, 0.35, 0.0, -0.45],
        [0.35, 1.0, 0.0, -0.2],
        [0.0, 0.0, 1.0, 0.0],
        [-0.45, -0.2, 0.0, 1.0],
    ]
)
_LATENT_CHOLESKY = np.linalg.cholesky(_LATENT_CORRELATION)
# Share of a test's own variation that is the die's (mismatch) rather than the measurement's.
_INTRINSIC, _MEASUREMENT = 0.95, 0.3

# Failure modes of a killer defect and the share of each by signature.
MODES = ("open", "short", "iddq", "leak", "functional", "analog")
_MODE_MIX = {
    "random": (0.12, 0.14, 0.28, 0.14, 0.20, 0.12),
    "edge_ring": (0.30, 0.10, 0.20, 0.30, 0.05, 0.05),
    "scratch": (0.30, 0.25, 0.15, 0.25, 0.05, 0.0),
    "cluster": (0.10, 0.15, 0.30, 0.15, 0.20, 0.10),
}


@dataclass(frozen=True)
class WaferGrid:
    """The whole dies of a 200 mm wafer (3 mm edge exclusion): prober coordinates (X to the
    right, Y down, from 0), die centres in mm from the wafer centre, radius as a fraction of
    the usable radius."""

    x: np.ndarray
    y: np.ndarray
    x_mm: np.ndarray
    y_mm: np.ndarray
    radius: np.ndarray
    center_x: int
    center_y: int

    @property
    def dies(self) -> int:
        return self.x.size


def wafer_grid(die_width: float, die_height: float, scribe: float) -> WaferGrid:
    """Dies on the grid placement :func:`silicio.yields.grid_die_per_wafer` finds best: a die
    counts when all of it lies inside the usable circle, so the count is that function's."""
    # Imported here: the CLI reads the demo's defaults in a core-only install, without yields.
    from silicio.yields import grid_die_per_wafer

    best = grid_die_per_wafer(die_width, die_height, WAFER_DIAMETER, scribe, EDGE_EXCLUSION)
    px, py = die_width + scribe, die_height + scribe
    n = int(np.ceil(USABLE_RADIUS / min(px, py))) + 2
    cols, rows = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1))
    left = best.x_offset + cols.ravel() * px + scribe / 2
    bottom = best.y_offset + rows.ravel() * py + scribe / 2
    corner_x = np.maximum(np.abs(left), np.abs(left + die_width))
    corner_y = np.maximum(np.abs(bottom), np.abs(bottom + die_height))
    inside = np.hypot(corner_x, corner_y) <= USABLE_RADIUS
    col, row = cols.ravel()[inside], rows.ravel()[inside]
    x_mm, y_mm = left[inside] + die_width / 2, bottom[inside] + die_height / 2
    x = (col - col.min()).astype(np.int16)
    y = (row.max() - row).astype(np.int16)  # prober Y grows downwards
    order = np.lexsort((x, y))
    centre_col, centre_row = int(np.floor(-best.x_offset / px)), int(np.floor(-best.y_offset / py))
    grid = WaferGrid(
        x=x[order],
        y=y[order],
        x_mm=x_mm[order],
        y_mm=y_mm[order],
        radius=np.hypot(x_mm, y_mm)[order] / USABLE_RADIUS,
        center_x=centre_col - int(col.min()),
        center_y=int(row.max()) - centre_row,
    )
    assert grid.dies == best.count, (grid.dies, best.count)
    return grid


def probe_order(grid: WaferGrid, columns: int, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How a probe card touching ``columns`` x ``rows`` dies at once steps across the wafer:
    the dies' order of test, touchdown number and site (1-based, row by row across the card).
    Touchdowns go row by row, serpentine; a site off the wafer tests nothing."""
    tx, ty = grid.x // columns, grid.y // rows
    site = 1 + grid.x % columns + columns * (grid.y % rows)
    serpentine = np.where(ty % 2 == 0, tx, tx.max() - tx)
    order = np.lexsort((site, serpentine, ty))
    step = (ty.astype(np.int64) * (int(tx.max()) + 1) + serpentine)[order]
    touchdown = np.concatenate([[0], np.cumsum(step[1:] != step[:-1])])
    return order, touchdown, site[order].astype(np.uint8)


@dataclass(frozen=True)
class WaferSignature:
    """A wafer's spatial signature: the chance each die is killed by a defect, and how the
    signature moves the latent parameters."""

    pattern: str
    kill: np.ndarray  # (dies,) probability of a killer defect
    latent_shift: np.ndarray  # (dies, latent)
    damaged: np.ndarray  # (dies,) bool: in a defect cluster, scratch or ring (survivors are at risk)

    @property
    def modes(self) -> tuple[float, ...]:
        return _MODE_MIX.get(self.pattern, _MODE_MIX["random"])


def wafer_signature(
    rng: np.random.Generator, grid: WaferGrid, pattern: str, product: Product
) -> WaferSignature:
    """Kill probabilities and latent shifts of one wafer with ``pattern``."""
    n = grid.dies
    area_cm2 = product.die_width * product.die_height / 100
    # Negative binomial defects: the wafer's D0 is gamma distributed (cluster parameter 2).
    d0 = product.d0 * rng.gamma(2.0, 0.5)
    kill = np.full(n, -np.expm1(-area_cm2 * d0))
    shift = np.zeros((n, len(LATENT)))
    damaged = np.zeros(n, bool)
    r_mm = grid.radius * USABLE_RADIUS
    if pattern == "edge_ring":
        width = rng.uniform(8.0, 11.0)
        ring = r_mm > USABLE_RADIUS - width
        depth = (r_mm - (USABLE_RADIUS - width)) / width
        kill = np.where(ring, np.maximum(kill, 0.45 + 0.5 * depth), kill)
        shift[ring, LATENT.index("leak")] += 2.5
        damaged |= ring
    elif pattern == "center":
        size = rng.uniform(22.0, 32.0)
        bump = np.exp(-0.5 * (r_mm / size) ** 2)
        shift[:, LATENT.index("vth")] += 6.5 * bump
        shift[:, LATENT.index("leff")] += 4.5 * bump
    elif pattern == "scratch":
        angle = rng.uniform(0, np.pi)
        offset = rng.uniform(-0.4, 0.4) * USABLE_RADIUS
        along = grid.x_mm * np.cos(angle) + grid.y_mm * np.sin(angle)
        across = -grid.x_mm * np.sin(angle) + grid.y_mm * np.cos(angle) - offset
        start = rng.uniform(-USABLE_RADIUS, 0.0)
        length = rng.uniform(60.0, 140.0)
        on_line = (np.abs(across) < 0.7 * max(product.die_width, product.die_height)) & (along > start)
        on_line &= along < start + length
        kill = np.where(on_line, 0.85, kill)
        damaged |= on_line
    elif pattern == "cluster":
        for _ in range(rng.integers(1, 4)):
            r = USABLE_RADIUS * np.sqrt(rng.uniform(0.0, 0.7))
            theta = rng.uniform(0, 2 * np.pi)
            size = rng.uniform(6.0, 14.0)
            d = np.hypot(grid.x_mm - r * np.cos(theta), grid.y_mm - r * np.sin(theta))
            blob = d < size
            kill = np.where(blob, np.maximum(kill, 0.9 - 0.3 * d / size), kill)
            damaged |= blob
    elif pattern != "random":
        raise ValueError(f"unknown signature {pattern!r}; known: {', '.join(SIGNATURES)}")
    # Dies in a damaged area that escape the defects carry some of it: a little extra leakage.
    shift[damaged, LATENT.index("leak")] += 1.0
    return WaferSignature(pattern, kill, shift, damaged)


def latent_parameters(
    rng: np.random.Generator, grid: WaferGrid, lot_effect: np.ndarray, signature: WaferSignature
) -> np.ndarray:
    """(dies, latent) process parameters of one wafer, in process sigmas."""
    n = grid.dies
    wafer_effect = rng.normal(0.0, 0.25, len(LATENT))
    direction = rng.uniform(0, 2 * np.pi)
    along = (grid.x_mm * np.cos(direction) + grid.y_mm * np.sin(direction)) / USABLE_RADIUS
    tilt = np.outer(along, rng.normal(0.0, 0.3, len(LATENT)))
    die_to_die = rng.standard_normal((n, len(LATENT))) @ _LATENT_CHOLESKY.T * 0.8
    return lot_effect + wafer_effect + tilt + die_to_die + signature.latent_shift


@dataclass(frozen=True)
class Program:
    """A test program as arrays, in execution order."""

    tests: tuple[Test, ...]
    number: np.ndarray
    low: np.ndarray  # -inf where no limit
    high: np.ndarray
    typical: np.ndarray
    sigma: np.ndarray
    loadings: np.ndarray  # (tests, latent)
    radial: np.ndarray
    log: np.ndarray
    functional: np.ndarray
    soft_bin: np.ndarray
    low_bin: np.ndarray
    hard_of_soft: dict[int, int]

    @classmethod
    def of(cls, product: Product, tests: tuple[Test, ...]) -> Program:
        def column(get, dtype=np.float64):
            return np.array([get(t) for t in tests], dtype)

        return cls(
            tests=tests,
            number=column(lambda t: t.number, np.uint32),
            # Limits as the file stores them (R4), so binning here and TEST_FLG agree exactly.
            low=column(lambda t: -np.inf if t.low is None else t.low, np.float32).astype(np.float64),
            high=column(lambda t: np.inf if t.high is None else t.high, np.float32).astype(np.float64),
            typical=column(lambda t: t.typical),
            sigma=column(lambda t: t.sigma),
            loadings=np.array([t.loadings for t in tests], np.float64).reshape(len(tests), len(LATENT)),
            radial=column(lambda t: t.radial),
            log=column(lambda t: t.kind == "log", bool),
            functional=column(lambda t: t.functional, bool),
            soft_bin=column(lambda t: t.soft_bin, np.uint16),
            low_bin=column(lambda t: t.low_bin[0] if t.low_bin else t.soft_bin, np.uint16),
            hard_of_soft=product.soft_to_hard,
        )

    def __len__(self) -> int:
        return len(self.tests)

    def indices(self, predicate) -> np.ndarray:
        return np.array([i for i, t in enumerate(self.tests) if predicate(t)], np.int64)

    def own_weight(self) -> np.ndarray:
        """Weight of each test's own variation, so a test's sigma is its spec sigma when the
        latent parameters are standard normal."""
        return np.sqrt(np.clip(1.0 - (self.loadings**2).sum(axis=1), 0.15, None))

    def values(self, z: np.ndarray) -> np.ndarray:
        """Test values of standardized deviations ``z`` (dies, tests); functional tests read 0."""
        out = self.typical + self.sigma * z
        out[:, self.log] = self.typical[self.log] * np.exp(
            self.sigma[self.log] * np.clip(z[:, self.log], -30, 30)
        )
        out[:, self.functional] = 0.0
        return out


@dataclass
class Dies:
    """Results of a population of dies on one program, in test order, with stop on first fail.

    ``values`` holds every test's value as if all ran; ``executed`` says how many ran;
    functional tests read 1.0 when they failed. ``soft_bin`` / ``hard_bin`` come from the first
    failing test (bin 1 when none failed).
    """

    values: np.ndarray  # (dies, tests) float64
    executed: np.ndarray  # (dies,) tests run
    failed_test: np.ndarray  # (dies,) index of the failing test, -1 if passed
    soft_bin: np.ndarray
    hard_bin: np.ndarray

    @property
    def passed(self) -> np.ndarray:
        return self.failed_test < 0


def kill_values(
    rng: np.random.Generator, program: Program, values: np.ndarray, killed: np.ndarray, modes: np.ndarray
) -> None:
    """Writes, in place, the value a killer defect of each mode leaves on one test of each
    killed die: an open reads at the clamp, a short near 0 V, IDDQ and leakage far out, a
    functional test fails, an analog test lands beyond a limit."""
    groups = {
        "open": program.indices(lambda t: t.group == "CONTINUITY"),
        "short": program.indices(lambda t: t.group == "CONTINUITY"),
        "iddq": program.indices(lambda t: t.soft_bin_name == "IDDQ"),
        "leak": program.indices(lambda t: t.group == "LEAKAGE"),
        "functional": program.indices(lambda t: t.functional),
        "analog": program.indices(lambda t: t.kind == "linear" and t.group not in ("CONTINUITY", "LEAKAGE")),
    }
    for mode_index, mode in enumerate(MODES):
        dies = np.flatnonzero(killed & (modes == mode_index))
        if not dies.size:
            continue
        candidates = groups[mode] if groups[mode].size else groups["open"]
        tests = candidates[rng.integers(0, candidates.size, dies.size)]
        if mode == "open":
            hit = rng.uniform(-1.65, -1.45, dies.size)
        elif mode == "short":
            hit = rng.uniform(-0.08, 0.02, dies.size)
        elif mode == "iddq":
            hit = program.typical[tests] * np.exp(rng.uniform(3.0, 7.0, dies.size))
        elif mode == "leak":
            hit = rng.choice([-1.0, 1.0], dies.size) * np.exp(
                rng.uniform(np.log(2e-6), np.log(80e-6), dies.size)
            )
        elif mode == "functional":
            hit = np.ones(dies.size)
        else:
            beyond = rng.uniform(1.0, 8.0, dies.size) * program.sigma[tests]
            upper = rng.random(dies.size) < 0.5
            low, high = program.low[tests], program.high[tests]
            hit = np.where(upper | ~np.isfinite(low), high + beyond, low - beyond)
        values[dies, tests] = hit


def bin_dies(program: Program, values: np.ndarray) -> Dies:
    """Stop on first fail: the first failing test bins the die. Values are rounded to R4 first,
    as the file will hold them."""
    values = values.astype(np.float32).astype(np.float64)
    fails = (values < program.low) | (values > program.high)
    fails[:, program.functional] = values[:, program.functional] > 0.5
    any_fail = fails.any(axis=1)
    first = np.where(any_fail, fails.argmax(axis=1), -1)
    executed = np.where(any_fail, first + 1, len(program)).astype(np.uint16)
    rows = np.flatnonzero(any_fail)
    soft = np.full(values.shape[0], PASS_BIN, np.uint16)
    low_fail = values[rows, first[rows]] < program.low[first[rows]]
    soft[rows] = np.where(low_fail, program.low_bin[first[rows]], program.soft_bin[first[rows]])
    hard = np.vectorize(program.hard_of_soft.__getitem__, otypes=[np.uint16])(soft) if soft.size else soft
    return Dies(values, executed, first, soft, hard)
