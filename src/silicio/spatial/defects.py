"""Inline defects on the test map: KLARF defects placed on the STDF dies of the same wafer, and
what they cost in yield, per inspection step and defect class.

The inputs are the KLARF source's tables (:func:`silicio.lake.sources.klarf.read_klarf`, or the
lake's ``klarf_*`` views) and a parts table (:func:`silicio.stdf.parts.parts`, or the lake's
``parts`` view) with the wafer sort verdict of every die.

Placing a defect on a die
-------------------------
A defect's die is its ``XINDEX`` / ``YINDEX``. A file without them gives ``XREL`` / ``YREL`` in
the frame of die (0, 0) (KLARF: positions relative to the die origin, ``DieOrigin``, steps of
``DiePitch``); its die is then ``floor((rel - origin) / pitch)`` on each axis.

KLARF die indices grow X to the right and Y upwards, the wafer seen with its orientation mark
(notch or flat) on the side ``OrientationMarkLocation`` names (DOWN, UP, LEFT, RIGHT; a 1.8 file
may write an angle: 0 is read as DOWN and 180 as UP, while 90 and 270 are refused, since which way
they turn is not known; ``mark=`` then says the side). ``CoordinatesMirrored`` and
``InspectionOrientation`` (1.2) are not applied: they stay in ``klarf_fields``. The STDF map has its own way up (:class:`Orientation`, from the
WCR: POS_X, POS_Y and the flat's side WF_FLAT). :class:`DiePlacement` turns the KLARF view by
quarter turns until its mark sits where the STDF flat is, mirrors the axes that grow the other
way in STDF, then shifts by an offset (none by default; ``align=True`` picks the shift that lays
the most sample-plan dies on tested dies). What was assumed (no flat known, no mark given) is
said in the result's ``notes``.

A KLARF wafer is matched to an STDF wafer by lot and wafer id: exactly, else ignoring case and
spaces, else by the wafer number (the id's last run of digits, e.g. "25" and "HJU008-25") within
the same lot. ``overrides`` maps a KLARF (lot, wafer) to the STDF (lot, wafer) to use instead.

Yield impact (per step and class, over dies inspected and tested)
-----------------------------------------------------------------
``defective_dies`` (Nd) are dies with at least one defect of the class; ``clean_dies`` (Nc) have
no defect of any class at that step. With Yd and Yc their pass fractions and N all the dies:

* kill ratio KR = 1 - Yd / Yc (die-level contingency method: the yield of defective dies against
  that of defect-free dies; e.g. G. Tuohy, "Calculating kill ratios on multi-component devices");
* defect-limited yield DLY = 1 - KR * Nd / N (the yield the wafer would keep if this class were
  its only loss: each defective die killed with probability KR);
* capture rate = failing defective dies / failing dies (how much of the test loss the inspection
  saw at this step);
* defect density = defects / inspected area in cm^2 (KLARF ``SummaryList``: DEFDENSITY = NDEFECT
  / AreaPerTest, areas in the file's length unit squared; checked against the 1.1 sample file);
  here over the matched wafers of the step, all their tests' areas together.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from silicio.yields.wafermap import DEFAULT_ORIENTATION, Orientation

__all__ = [
    "DiePlacement",
    "PlacedDefects",
    "WaferMatch",
    "defect_density",
    "defect_yield",
    "inspection_summary",
    "match_wafers",
    "place_defects",
    "placement_for",
]

# Sides counter-clockwise from the bottom: a quarter turn counter-clockwise moves a mark one on.
_SIDES = ("D", "R", "U", "L")
_MARK_WORDS = {"DOWN": "D", "BOTTOM": "D", "UP": "U", "TOP": "U", "LEFT": "L", "RIGHT": "R",
               "0": "D", "180": "U"}  # fmt: skip
_SQUARE_CM = {"um2": 1e8, "nm2": 1e14}
_DIGITS = re.compile(r"(\d+)\D*$")


@dataclass(frozen=True)
class DiePlacement:
    """KLARF die index -> STDF die coordinate: ``quarter_turns`` counter-clockwise turns of the
    KLARF view, then X / Y mirrored when they grow the other way in STDF, then ``dx`` / ``dy``."""

    quarter_turns: int = 0
    mirror_x: bool = False
    mirror_y: bool = False
    dx: int = 0
    dy: int = 0
    notes: tuple[str, ...] = field(default=(), compare=False)

    def apply(self, xindex: np.ndarray, yindex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x, y = np.asarray(xindex, dtype=np.int64), np.asarray(yindex, dtype=np.int64)
        for _ in range(self.quarter_turns % 4):
            x, y = -y, x
        if self.mirror_x:
            x = -x
        if self.mirror_y:
            y = -y
        return x + self.dx, y + self.dy

    def shifted(self, dx: int, dy: int) -> DiePlacement:
        return DiePlacement(self.quarter_turns, self.mirror_x, self.mirror_y, dx, dy, self.notes)


def _mark_side(mark: str | None) -> tuple[str, str | None]:
    text = ("" if mark is None else str(mark)).strip().upper()
    if not text:
        return "D", "KLARF OrientationMarkLocation not given: assumed DOWN"
    try:
        text = str(int(float(text)))
    except ValueError:
        pass
    if text not in _MARK_WORDS:
        raise ValueError(
            f"KLARF OrientationMarkLocation {mark!r} is not DOWN, UP, LEFT, RIGHT, 0 or 180: "
            "give the mark's side (mark=...)"
        )
    return _MARK_WORDS[text], None


def placement_for(orientation: Orientation, mark: str | None, dx: int = 0, dy: int = 0) -> DiePlacement:
    """The :class:`DiePlacement` from a KLARF view (X right, Y up, mark on side ``mark``) to the
    STDF map of ``orientation`` (see the module notes)."""
    side, note = _mark_side(mark)
    notes = [note] if note else []
    flat = orientation.flat
    if flat is None:
        flat = side
        notes.append("the STDF map's flat side is unknown: taken to be where the KLARF mark is")
    turns = (_SIDES.index(flat) - _SIDES.index(side)) % 4
    notes.extend(orientation.notes)
    return DiePlacement(
        turns, orientation.x_grows == "left", orientation.y_grows == "down", dx, dy, tuple(notes)
    )


# --------------------------------------------------------------------------------------------
# Wafer matching


@dataclass(frozen=True)
class WaferMatch:
    """The STDF wafer a KLARF wafer lies on, and by which rule (``override``, ``exact``,
    ``normalised``, ``wafer number``)."""

    lot_id: str | None
    wafer_id: str | None
    rule: str


def _normal(text) -> str:
    return re.sub(r"\s+", "", str(text or "")).upper()


def _wafer_number(text) -> int | None:
    found = _DIGITS.search(str(text or ""))
    return int(found.group(1)) if found else None


def match_wafers(klarf_wafers: Iterable[tuple[str | None, str | None]],
                 stdf_wafers: Iterable[tuple[str | None, str | None]],
                 overrides: Mapping[tuple[str, str], tuple[str, str]] | None = None,
                 ) -> dict[tuple[str | None, str | None], WaferMatch | None]:  # fmt: skip
    """Each KLARF (lot, wafer) -> its STDF wafer (see the module notes), None when none or more
    than one fits."""
    stdf = list(dict.fromkeys(stdf_wafers))
    overrides = dict(overrides or {})
    out: dict[tuple[str | None, str | None], WaferMatch | None] = {}
    for key in dict.fromkeys(klarf_wafers):
        lot, wafer = key
        if key in overrides:
            out[key] = WaferMatch(*overrides[key], "override")
            continue
        rules = (
            ("exact", lambda s, lot=lot, wafer=wafer: s == (lot, wafer)),
            ("normalised", lambda s, lot=lot, wafer=wafer: (_normal(s[0]), _normal(s[1]))
             == (_normal(lot), _normal(wafer))),
            ("wafer number", lambda s, lot=lot, wafer=wafer: _normal(s[0]) == _normal(lot)
             and _wafer_number(wafer) is not None and _wafer_number(s[1]) == _wafer_number(wafer)),
        )  # fmt: skip
        out[key] = None
        for rule, fits in rules:
            found = [s for s in stdf if fits(s)]
            if len(found) == 1:
                out[key] = WaferMatch(found[0][0], found[0][1], rule)
                break
            if len(found) > 1:
                break  # ambiguous: no guess
    return out


# --------------------------------------------------------------------------------------------
# Dies


def _column(table: pa.Table, name: str) -> list | None:
    return table.column(name).to_pylist() if name in table.column_names else None


def _wafer_geometry(wafers: pa.Table) -> dict[tuple, dict]:
    """(lot, wafer, step) -> the klarf_wafers row."""
    return {(r["lot_id"], r["wafer_id"], r["step_id"]): r for r in wafers.to_pylist()}


def _klarf_indices(table: pa.Table, geometry: dict[tuple, dict]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Die index of each row: XINDEX / YINDEX, else from XREL / YREL with the wafer's pitch and
    origin; -2**62 where neither is there. ``how`` says which, per row."""
    n = table.num_rows
    xi, yi = _column(table, "xindex"), _column(table, "yindex")
    xr, yr = _column(table, "xrel"), _column(table, "yrel")
    keys = list(
        zip(_column(table, "lot_id"), _column(table, "wafer_id"), _column(table, "step_id"), strict=True)
    )
    x = np.full(n, -(2**62), dtype=np.int64)
    y = np.full(n, -(2**62), dtype=np.int64)
    how = ["none"] * n
    for i in range(n):
        if xi is not None and yi is not None and xi[i] is not None and yi[i] is not None:
            x[i], y[i], how[i] = int(xi[i]), int(yi[i]), "index"
            continue
        g = geometry.get(keys[i])
        if xr is None or yr is None or xr[i] is None or yr[i] is None or g is None:
            continue
        if not g["die_pitch_x"] or not g["die_pitch_y"]:
            continue
        x[i] = math.floor((xr[i] - (g["die_origin_x"] or 0.0)) / g["die_pitch_x"])
        y[i] = math.floor((yr[i] - (g["die_origin_y"] or 0.0)) / g["die_pitch_y"])
        how[i] = "rel"
    return x, y, how


def _final_dies(parts: pa.Table) -> dict[tuple, dict[tuple[int, int], bool]]:
    """(lot, wafer) -> {(x, y): passed} from each die's last test."""
    out: dict[tuple, dict[tuple[int, int], bool]] = {}
    names = ["lot_id", "wafer_id", "x", "y", "passed", "is_last_test"]
    rows = zip(*(parts.column(n).to_pylist() for n in names), strict=True)
    for lot, wafer, x, y, passed, last in rows:
        if not last or x is None or y is None or passed is None:
            continue
        out.setdefault((lot, wafer), {})[(int(x), int(y))] = bool(passed)
    return out


def _best_shift(placement: DiePlacement, plan_x: np.ndarray, plan_y: np.ndarray,
                tested: set[tuple[int, int]]) -> tuple[int, int, int]:  # fmt: skip
    """The shift laying the most plan dies on tested dies: (dx, dy, dies matched)."""
    if plan_x.size == 0 or not tested:
        return 0, 0, 0
    x, y = placement.apply(plan_x, plan_y)
    tx = np.array([d[0] for d in tested])
    ty = np.array([d[1] for d in tested])
    centres = {(0, 0), (int(tx.min() - x.min()), int(ty.min() - y.min())),
               (int(tx.max() - x.max()), int(ty.max() - y.max()))}  # fmt: skip
    best = (0, 0, -1)
    for cx, cy in sorted(centres):
        for dx in range(cx - 2, cx + 3):
            for dy in range(cy - 2, cy + 3):
                hits = sum((int(a) + dx, int(b) + dy) in tested for a, b in zip(x, y, strict=True))
                if hits > best[2] or (hits == best[2] and abs(dx) + abs(dy) < abs(best[0]) + abs(best[1])):
                    best = (dx, dy, hits)
    return best


@dataclass
class PlacedDefects:
    """:func:`place_defects`' result: the defects with their STDF die, the inspected dies, each
    wafer's placement and match, and what was assumed."""

    defects: pa.Table
    inspected: dict[tuple, set[tuple[int, int]]]
    matches: dict[tuple, WaferMatch | None]
    placements: dict[tuple, DiePlacement]
    notes: list[str]


def place_defects(
    defects: pa.Table,
    wafers: pa.Table,
    parts: pa.Table,
    sample_plan: pa.Table | None = None,
    *,
    orientation: Orientation | Mapping[str, Orientation] = DEFAULT_ORIENTATION,
    overrides: Mapping[tuple[str, str], tuple[str, str]] | None = None,
    offsets: Mapping[tuple[str, str], tuple[int, int]] | None = None,
    align: bool = False,
    mark: str | None = None,
) -> PlacedDefects:
    """Each defect (``klarf_defects``) on its STDF die: adds ``stdf_lot_id``, ``stdf_wafer_id``,
    ``x``, ``y`` (the die in the STDF map's coordinates; null when the wafer is not matched or
    the row gives no position) and ``placed_by`` (``index``, ``rel`` or null).

    ``wafers`` is ``klarf_wafers``; ``parts`` the STDF parts; ``sample_plan`` the inspected dies
    (``klarf_sample_plan``; a wafer without one counts every tested die as inspected, said in
    ``notes``). ``orientation`` is the STDF maps' (one, or per STDF lot id), ``offsets`` a shift
    per KLARF (lot, wafer), ``align`` picks the shift from the sample plan, ``mark`` overrides
    the files' OrientationMarkLocation. See the module notes.
    """
    geometry = _wafer_geometry(wafers)
    dies = _final_dies(parts)
    keys = list(dict.fromkeys((r["lot_id"], r["wafer_id"]) for r in geometry.values()))
    matches = match_wafers(keys, dies, overrides)
    notes: list[str] = []
    plan_by_wafer: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
    if sample_plan is not None and sample_plan.num_rows:
        px, py, _ = _klarf_indices(sample_plan, geometry)
        plan_keys = list(zip(_column(sample_plan, "lot_id"), _column(sample_plan, "wafer_id"),
                             _column(sample_plan, "step_id"), strict=True))  # fmt: skip
        grouped: dict[tuple, list[int]] = {}
        for i, key in enumerate(plan_keys):
            grouped.setdefault(key, []).append(i)
        plan_by_wafer = {k: (px[idx], py[idx]) for k, idx in grouped.items()}

    placements: dict[tuple, DiePlacement] = {}
    inspected: dict[tuple, set[tuple[int, int]]] = {}
    for (lot, wafer, step), row in geometry.items():
        match = matches.get((lot, wafer))
        if match is None:
            notes.append(
                f"KLARF wafer {lot}/{wafer} ({step}): no STDF wafer matches it: its defects are not placed"
            )
            continue
        stdf_orientation = (
            orientation.get(match.lot_id, DEFAULT_ORIENTATION)
            if isinstance(orientation, Mapping)
            else orientation
        )
        placement = placement_for(
            stdf_orientation, mark if mark is not None else row["orientation_mark_location"]
        )
        tested = dies.get((match.lot_id, match.wafer_id), {})
        plan = plan_by_wafer.get((lot, wafer, step))
        if offsets and (lot, wafer) in offsets:
            placement = placement.shifted(*offsets[(lot, wafer)])
        elif align and plan is not None:
            dx, dy, hits = _best_shift(placement, plan[0], plan[1], set(tested))
            placement = placement.shifted(dx, dy)
            notes.append(f"KLARF wafer {lot}/{wafer}: shifted by ({dx}, {dy}) to lay {hits} of "
                         f"{plan[0].size} sample-plan dies on tested dies")  # fmt: skip
        placements[(lot, wafer, step)] = placement
        notes.extend(f"KLARF wafer {lot}/{wafer}: {n}" for n in placement.notes)
        if plan is None:
            inspected[(lot, wafer, step)] = set(tested)
            notes.append(
                f"KLARF wafer {lot}/{wafer} ({step}): no sample plan: every tested die counted as inspected"
            )
        else:
            x, y = placement.apply(*plan)
            inspected[(lot, wafer, step)] = set(zip(x.tolist(), y.tolist(), strict=True)) & set(tested)

    xi, yi, how = _klarf_indices(defects, geometry)
    keys_of_rows = list(zip(_column(defects, "lot_id"), _column(defects, "wafer_id"), _column(defects, "step_id"),
                            strict=True))  # fmt: skip
    out_lot, out_wafer, out_x, out_y, out_how = [], [], [], [], []
    for i, key in enumerate(keys_of_rows):
        placement = placements.get(key)
        match = matches.get(key[:2])
        if placement is None or match is None or how[i] == "none":
            out_lot.append(None if match is None else match.lot_id)
            out_wafer.append(None if match is None else match.wafer_id)
            out_x.append(None)
            out_y.append(None)
            out_how.append(None)
            continue
        x, y = placement.apply(xi[i : i + 1], yi[i : i + 1])
        out_lot.append(match.lot_id)
        out_wafer.append(match.wafer_id)
        out_x.append(int(x[0]))
        out_y.append(int(y[0]))
        out_how.append(how[i])
    placed = (
        defects.append_column("stdf_lot_id", pa.array(out_lot, pa.string()))
        .append_column("stdf_wafer_id", pa.array(out_wafer, pa.string()))
        .append_column("x", pa.array(out_x, pa.int64()))
        .append_column("y", pa.array(out_y, pa.int64()))
        .append_column("placed_by", pa.array(out_how, pa.string()))
    )
    return PlacedDefects(placed, inspected, matches, placements, list(dict.fromkeys(notes)))


# --------------------------------------------------------------------------------------------
# Measures


def _class_names(classes: pa.Table | None) -> dict[tuple, str]:
    if (
        classes is None
        or "classnumber" not in classes.column_names
        or "classname" not in classes.column_names
    ):
        return {}
    return {(r["lot_id"], r["classnumber"]): r["classname"] for r in classes.to_pylist()}


def _area_cm2(tests: pa.Table | None) -> dict[tuple, float]:
    """(lot, wafer, step, test) -> inspected area in cm^2."""
    out = {}
    if tests is None:
        return out
    for r in tests.to_pylist():
        if r["area_per_test"] is not None and r["area_unit"] in _SQUARE_CM:
            out[(r["lot_id"], r["wafer_id"], r["step_id"], r["test"])] = (
                r["area_per_test"] / _SQUARE_CM[r["area_unit"]]
            )
    return out


def defect_density(defects: int, area: float, area_unit: str = "um2") -> float:
    """Defects per cm^2: ``defects`` / ``area`` (``um2`` or ``nm2``); KLARF SummaryList DEFDENSITY
    = NDEFECT / AreaPerTest in cm^2."""
    return defects / (area / _SQUARE_CM[area_unit])


def inspection_summary(defects: pa.Table, sample_plan: pa.Table | None, tests: pa.Table | None) -> pa.Table:
    """Per wafer, step and test, from the KLARF file alone: defects, dies inspected (sample plan),
    defective dies among them (by XINDEX / YINDEX), inspected area (cm^2) and defect density
    (defects / cm^2): what the file's SummaryList states as NDEFECT, NDIE, NDEFDIE, DEFDENSITY."""
    keys = ["lot_id", "wafer_id", "step_id"]
    test_of = _column(defects, "test") or [1] * defects.num_rows
    counts: dict[tuple, int] = {}
    die_sets: dict[tuple, set] = {}
    xs, ys = _column(defects, "xindex"), _column(defects, "yindex")
    for i, k in enumerate(zip(*(_column(defects, n) for n in keys), strict=True)):
        key = (*k, test_of[i] if test_of[i] is not None else 1)
        counts[key] = counts.get(key, 0) + 1
        if xs is not None and ys is not None and xs[i] is not None:
            die_sets.setdefault(key, set()).add((xs[i], ys[i]))
    plans: dict[tuple, set] = {}
    if sample_plan is not None:
        for r in sample_plan.to_pylist():
            plans.setdefault((r["lot_id"], r["wafer_id"], r["step_id"], r["test"]), set()).add(
                (r["xindex"], r["yindex"])
            )
    areas = _area_cm2(tests)
    rows = []
    for key in dict.fromkeys([*areas, *counts, *plans]):
        plan = plans.get(key)
        dies = die_sets.get(key, set())
        area = areas.get(key)
        n = counts.get(key, 0)
        rows.append({"lot_id": key[0], "wafer_id": key[1], "step_id": key[2], "test": key[3], "defects": n,
                     "inspected_dies": None if plan is None else len(plan),
                     "defective_dies": len(dies & plan) if plan is not None else len(dies),
                     "area_cm2": area, "defect_density": None if not area else n / area})  # fmt: skip
    schema = pa.schema([("lot_id", pa.string()), ("wafer_id", pa.string()), ("step_id", pa.string()),
                        ("test", pa.int64()), ("defects", pa.int64()), ("inspected_dies", pa.int64()),
                        ("defective_dies", pa.int64()), ("area_cm2", pa.float64()),
                        ("defect_density", pa.float64())])  # fmt: skip
    return pa.Table.from_pylist(rows, schema)


_YIELD_SCHEMA = pa.schema([
    ("step_id", pa.string()), ("classnumber", pa.int64()), ("classname", pa.string()), ("wafers", pa.int64()),
    ("defects", pa.int64()), ("inspected_dies", pa.int64()), ("failed_dies", pa.int64()),
    ("defective_dies", pa.int64()), ("defective_failed", pa.int64()), ("clean_dies", pa.int64()),
    ("clean_failed", pa.int64()), ("defective_yield", pa.float64()), ("clean_yield", pa.float64()),
    ("kill_ratio", pa.float64()), ("capture_rate", pa.float64()), ("defect_limited_yield", pa.float64()),
    ("area_cm2", pa.float64()), ("defect_density", pa.float64()),
])  # fmt: skip


def defect_yield(placed: PlacedDefects, parts: pa.Table, tests: pa.Table | None = None,
                 classes: pa.Table | None = None) -> pa.Table:  # fmt: skip
    """Per inspection step and defect class (and ``classname`` "all" over every class): the
    measures of the module notes over the dies inspected and tested, with the counts they come
    from. ``placed`` is :func:`place_defects`' result; ``tests`` (``klarf_tests``) gives the
    area for the density, ``classes`` (``klarf_classes``) the class names."""
    verdicts = _final_dies(parts)
    names = _class_names(classes)
    areas = _area_cm2(tests)
    table = placed.defects
    classes_of = _column(table, "classnumber") or [None] * table.num_rows
    rows_by_step: dict[str, list[int]] = {}
    for i, step in enumerate(_column(table, "step_id")):
        rows_by_step.setdefault(step, []).append(i)
    for key in placed.inspected:  # steps without any defect still have dies
        rows_by_step.setdefault(key[2], [])
    lots, wafers = _column(table, "lot_id"), _column(table, "wafer_id")
    slots, swafers = _column(table, "stdf_lot_id"), _column(table, "stdf_wafer_id")
    xs, ys = _column(table, "x"), _column(table, "y")
    out = []
    for step, indices in rows_by_step.items():
        wafer_keys = [k for k in placed.inspected if k[2] == step]
        # every inspected and tested die at this step, with its verdict
        universe: dict[tuple, bool] = {}
        for key in wafer_keys:
            match = placed.matches[key[:2]]
            verdict = verdicts.get((match.lot_id, match.wafer_id), {})
            for die in placed.inspected[key]:
                universe[(match.lot_id, match.wafer_id, *die)] = verdict[die]
        die_classes: dict[tuple, set] = {}
        counted: dict[object, int] = {}
        indices = [i for i in indices if (lots[i], wafers[i], step) in placed.placements]
        for i in indices:
            counted[classes_of[i]] = counted.get(classes_of[i], 0) + 1
            if xs[i] is None:
                continue
            die = (slots[i], swafers[i], xs[i], ys[i])
            if die in universe:
                die_classes.setdefault(die, set()).add(classes_of[i])
        area = (
            sum(a for k, a in areas.items() if k[2] == step and (k[0], k[1], k[2]) in placed.inspected)
            or None
        )
        lot_of_class = {classes_of[i]: lots[i] for i in indices}
        n = len(universe)
        failed = sum(not p for p in universe.values())
        clean = [p for die, p in universe.items() if die not in die_classes]
        per_class = sorted(counted, key=lambda c: (c is None, c if c is not None else 0))
        for cls in [*per_class, "all"]:
            if cls == "all":
                hit = [p for die, p in universe.items() if die in die_classes]
                count, number, name = sum(counted.values()), None, "all"
            else:
                hit = [p for die, p in universe.items() if cls in die_classes.get(die, ())]
                count, number, name = counted[cls], cls, names.get((lot_of_class.get(cls), cls))
            out.append(_measures(step, number, name, len(wafer_keys), count, n, failed, hit, clean, area))
    return pa.Table.from_pylist(out, _YIELD_SCHEMA)


def _measures(step, number, name, wafers, defects, n, failed, hit: list[bool], clean: list[bool], area):
    nd, nc = len(hit), len(clean)
    hit_failed = sum(not p for p in hit)
    clean_failed = sum(not p for p in clean)
    yd = (nd - hit_failed) / nd if nd else None
    yc = (nc - clean_failed) / nc if nc else None
    kill = None if yd is None or not yc else 1.0 - yd / yc
    return {
        "step_id": step, "classnumber": number, "classname": name, "wafers": wafers, "defects": defects,
        "inspected_dies": n, "failed_dies": failed, "defective_dies": nd, "defective_failed": hit_failed,
        "clean_dies": nc, "clean_failed": clean_failed, "defective_yield": yd, "clean_yield": yc,
        "kill_ratio": kill, "capture_rate": hit_failed / failed if failed else None,
        "defect_limited_yield": None if kill is None or not n else 1.0 - kill * nd / n,
        "area_cm2": area, "defect_density": defects / area if area else None,
    }  # fmt: skip
