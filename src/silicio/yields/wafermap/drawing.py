"""How a wafer map looks, whatever draws it: the one palette, the one orientation rule, and a
renderer-neutral description of a map (:class:`MapDrawing`) that the PNG / SVG files, the lot
report's inline SVG and PDF pages and the dashboard's JSON all draw from.

A drawing places each die on a grid of display rows (row 0 at the top) and columns (column 0 at
the left) by the map's :class:`Orientation`, gives it a colour from the palette, and lists the
legend: one entry per bin of a bin map, or stops of the colour scale of a measured map; and the
wafer's outline (:class:`WaferOutline`): a circle round the dies, cut by the flat on the side the
orientation's ``flat`` names (STDF WCR WF_FLAT). Nothing here needs matplotlib: colours are hex
strings and scales are interpolated with numpy.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .maps import WaferMap
from .orientation import DEFAULT_ORIENTATION, Orientation

__all__ = [
    "FAIL_BIN_COLOURS",
    "FAIL_FRACTION_SCALE",
    "FLAT_COLOUR",
    "NO_VALUE_COLOUR",
    "OUTLINE_COLOUR",
    "PARAMETRIC_SCALE",
    "PASS_BIN_COLOURS",
    "RULE_COLOURS",
    "SCREEN_FAILED_COLOUR",
    "SCREEN_KEPT_COLOUR",
    "ColourScale",
    "LegendEntry",
    "MapDrawing",
    "WaferOutline",
    "bin_colours",
    "describe_map",
    "map_json",
    "map_svg",
    "rule_colours",
]

#: Passing bins: greens, so good dies read as good on every map.
PASS_BIN_COLOURS = ("#2ca02c", "#98df8a", "#1a6b1a", "#c7e9c0")
#: Failing bins: a qualitative palette without greens, used in order of the bin codes.
FAIL_BIN_COLOURS = ("#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
                    "#1f77b4", "#aec7e8", "#ffbb78", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5")  # fmt: skip
#: A die without a bin (-1) or without a value.
NO_VALUE_COLOUR = "#d9d9d9"
#: The wafer's edge: a mid grey, unlike any die colour.
OUTLINE_COLOUR = "#8c8c8c"
#: The flat / notch side: a strong blue that no palette or scale uses, so it reads as the wafer's mark.
FLAT_COLOUR = "#0a3cff"
#: Where the flat cuts the circle, as a fraction of the radius from the centre: the primary flat
#: of a 150 mm wafer is 57.5 mm long (SEMI M1), a chord at sqrt(1 - (57.5 / 150) ** 2) = 0.92 R.
FLAT_DEPTH = 0.92
#: Gap between the farthest die corner and the wafer's edge, in die cells.
OUTLINE_MARGIN = 0.5
#: Points of the outline's polygon (renderers without arcs draw it as a polygon).
OUTLINE_POINTS = 96
#: Unit vector of each flat side in the drawing's frame (u to the right, v downward).
_SIDE_VECTORS = {"U": (0.0, -1.0), "D": (0.0, 1.0), "L": (-1.0, 0.0), "R": (1.0, 0.0)}
#: Screening rules on a map of the dies screening removed, one colour per rule in precedence
#: order: Okabe & Ito's colour-blind-safe qualitative palette ("Color Universal Design", 2008),
#: its greens last so a rule does not read as a good die.
RULE_COLOURS = ("#d55e00", "#0072b2", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442", "#009e73")
#: On the same map: a die screening kept (passed, no rule hit it) ...
SCREEN_KEPT_COLOUR = "#eeeeee"
#: ... and a die that had already failed at test (screening judges only passing dies).
SCREEN_FAILED_COLOUR = "#9e9e9e"


@dataclass(frozen=True)
class ColourScale:
    """A continuous colour scale: evenly spaced ``stops`` (hex colours) from ``vmin`` to ``vmax``,
    interpolated linearly in RGB (as plotly interpolates a colorscale, so the dashboard's colour
    bar shows the dies' colours)."""

    stops: tuple[str, ...]
    vmin: float = 0.0
    vmax: float = 1.0
    label: str | None = None

    def with_range(self, vmin: float, vmax: float, label: str | None = None) -> ColourScale:
        return ColourScale(self.stops, float(vmin), float(vmax), label)

    def colours(self, values: np.ndarray) -> list[str]:
        """The colour of each value; NaN gets :data:`NO_VALUE_COLOUR`, values outside the range
        the colour of the nearest end."""
        values = np.asarray(values, dtype=float)
        stops = np.array([_rgb(c) for c in self.stops])
        span = self.vmax - self.vmin
        t = np.clip((values - self.vmin) / span, 0.0, 1.0) if span > 0 else np.zeros_like(values)
        position = np.nan_to_num(t) * (len(self.stops) - 1)
        low = np.minimum(np.floor(position).astype(int), len(self.stops) - 2)
        weight = (position - low)[:, None]
        rgb = stops[low] * (1 - weight) + stops[low + 1] * weight
        return [NO_VALUE_COLOUR if math.isnan(v) else _hex(c) for v, c in zip(values, rgb, strict=True)]

    def plotly(self) -> list[tuple[float, str]]:
        """The stops as a plotly colorscale: (fraction, colour) pairs."""
        last = len(self.stops) - 1
        return [(i / last, c) for i, c in enumerate(self.stops)]


#: Measured values (parametric maps): viridis, sampled at nine points.
PARAMETRIC_SCALE = ColourScale(("#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962",
                                "#addc30", "#fde725"))  # fmt: skip
#: Fraction of wafers failing at a position (stacked maps), 0 to 1: ColorBrewer Reds without its
#: near-white first class, so a position that never fails still shows as a die.
FAIL_FRACTION_SCALE = ColourScale(("#fee0d2", "#fcbba1", "#fc9272", "#fb6a4a", "#ef3b2c", "#cb181d", "#a50f15",
                                   "#67000d"), 0.0, 1.0, "fail fraction")  # fmt: skip


def _rgb(colour: str) -> tuple[float, float, float]:
    return tuple(int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))


def _hex(rgb) -> str:
    return "#" + "".join(f"{round(float(c) * 255):02x}" for c in rgb)


@dataclass(frozen=True)
class LegendEntry:
    """One line of a map's legend: a bin (``bin``, whether it passes) or a stop of a colour scale
    (``value``)."""

    label: str
    colour: str
    bin: int | None = None
    passing: bool | None = None
    value: float | None = None


@dataclass(frozen=True)
class WaferOutline:
    """The wafer's edge round a drawing, in the drawing's frame: ``u`` grows to the right and ``v``
    downward, in die cells from the upper-left corner of the grid (cell (row, column) spans u in
    [column, column + 1], v in [row, row + 1]).

    ``points`` is a closed polygon: a circle of ``radius`` about ``centre``, cut by a straight
    chord on the ``flat`` side (None: flat unknown, the whole circle); ``flat_ends`` are the
    chord's two ends (None without a flat). ``note`` says why no flat is drawn.
    """

    centre: tuple[float, float]
    radius: float
    points: tuple[tuple[float, float], ...]
    flat: str | None = None
    flat_ends: tuple[tuple[float, float], tuple[float, float]] | None = None
    note: str | None = None


def _flat_note(orientation: Orientation) -> str | None:
    if orientation.flat is not None:
        return None
    said = [n for n in orientation.notes if "WF_FLAT" in n]
    if said:
        return said[0]
    if any("no WCR" in n for n in orientation.notes):
        return "no WCR record: no flat / notch drawn"
    return "flat / notch position not known: none drawn"


def _wafer_outline(rows: np.ndarray, columns: np.ndarray, n_rows: int, n_columns: int,
                  orientation: Orientation) -> WaferOutline:  # fmt: skip
    """The circle round the die cells at ``rows`` / ``columns`` of an ``n_rows`` x ``n_columns``
    grid, centred on the grid, :data:`OUTLINE_MARGIN` beyond the farthest die corner; cut on the
    orientation's flat side at :data:`FLAT_DEPTH` of the radius, or just beyond the outermost die
    on that side when dies reach further (a flat never cuts a die)."""
    cu, cv = n_columns / 2, n_rows / 2
    du = np.maximum(np.abs(columns - cu), np.abs(columns + 1 - cu))
    dv = np.maximum(np.abs(rows - cv), np.abs(rows + 1 - cv))
    radius = float(np.sqrt(du**2 + dv**2).max()) + OUTLINE_MARGIN
    side = orientation.flat
    if side is None:
        angles = np.linspace(0.0, 2 * np.pi, OUTLINE_POINTS, endpoint=False)
        ends = None
    else:
        nu, nv = _SIDE_VECTORS[side]
        # The farthest any die reaches towards the flat side, from the centre.
        reach = float(np.max((columns + 0.5 * (1 + nu) - cu) * nu + (rows + 0.5 * (1 + nv) - cv) * nv))
        depth = min(max(FLAT_DEPTH * radius, reach + 0.25), radius - 0.25 * OUTLINE_MARGIN)
        half_angle = math.acos(depth / radius)
        towards = math.atan2(nv, nu)
        angles = np.linspace(towards + half_angle, towards + 2 * np.pi - half_angle, OUTLINE_POINTS)
        ends = angles[[-1, 0]]
    points = tuple((cu + radius * math.cos(a), cv + radius * math.sin(a)) for a in angles)
    flat_ends = (
        None if ends is None else tuple((cu + radius * math.cos(a), cv + radius * math.sin(a)) for a in ends)
    )
    return WaferOutline((cu, cv), radius, points, side, flat_ends, _flat_note(orientation))


@dataclass(frozen=True)
class MapDrawing:
    """A wafer map ready to draw: per die its coordinates, display ``row`` / ``column`` and
    ``colours``; the grid size; the legend; the colour scale of a measured map (None for bins);
    the orientation (with the flat's side) and a title. :meth:`outline` is the wafer's edge round
    the dies, cut by the flat."""

    kind: str
    x: np.ndarray
    y: np.ndarray
    row: np.ndarray
    column: np.ndarray
    colours: tuple[str, ...]
    rows: int
    columns: int
    legend: tuple[LegendEntry, ...]
    scale: ColourScale | None
    orientation: Orientation
    title: str
    label: str | None = None

    @property
    def corner(self) -> tuple[int, int]:
        """Die coordinates (X, Y) of the upper-left grid cell, to label the axes."""
        o = self.orientation
        return (int(self.x.min() if o.x_grows == "right" else self.x.max()),
                int(self.y.min() if o.y_grows == "down" else self.y.max()))  # fmt: skip

    def image(self) -> np.ndarray:
        """The grid as rows x columns x RGB floats in [0, 1], white where there is no die."""
        out = np.ones((self.rows, self.columns, 3))
        out[self.row, self.column] = [_rgb(c) for c in self.colours]
        return out

    def outline(self) -> WaferOutline:
        """The wafer's edge round the dies, with the flat on the orientation's flat side."""
        return _wafer_outline(self.row, self.column, self.rows, self.columns, self.orientation)

    def die_units(self, u, v) -> tuple[np.ndarray, np.ndarray]:
        """Die coordinates (X, Y) of points (u, v) of the drawing's frame (:class:`WaferOutline`):
        the centre of cell (row, column) is the die at that row and column."""
        x_left, y_top = self.corner
        x_step = 1 if self.orientation.x_grows == "right" else -1
        y_step = 1 if self.orientation.y_grows == "down" else -1
        return (x_left + x_step * (np.asarray(u, dtype=float) - 0.5),
                y_top + y_step * (np.asarray(v, dtype=float) - 0.5))  # fmt: skip


def _passing_bins(wafer_map: WaferMap) -> set[int]:
    if wafer_map.good is None:
        return set()
    return {int(v) for v in wafer_map.value[wafer_map.good]}


def bin_colours(maps: Iterable[WaferMap]) -> dict[int, str]:
    """One colour per bin code of the bin maps given, so every map of a lot shows a bin the same:
    passing bins in :data:`PASS_BIN_COLOURS`, failing ones in :data:`FAIL_BIN_COLOURS`, each in
    order of the codes; no bin (-1) in :data:`NO_VALUE_COLOUR`."""
    codes: set[int] = set()
    passing: set[int] = set()
    for wafer_map in maps:
        if wafer_map.kind != "bin":
            raise ValueError(f"bin_colours needs bin maps, got kind {wafer_map.kind!r}")
        codes.update(int(v) for v in np.unique(wafer_map.value))
        passing |= _passing_bins(wafer_map)
    out: dict[int, str] = {}
    n_pass = n_fail = 0
    for code in sorted(codes):
        if code < 0:
            out[code] = NO_VALUE_COLOUR
        elif code in passing:
            out[code] = PASS_BIN_COLOURS[n_pass % len(PASS_BIN_COLOURS)]
            n_pass += 1
        else:
            out[code] = FAIL_BIN_COLOURS[n_fail % len(FAIL_BIN_COLOURS)]
            n_fail += 1
    return out


def _bin_label(code: int, passing: bool, names: Mapping[int, str]) -> str:
    if code < 0:
        return "no bin"
    name = names.get(code)
    return f"bin {code}" + (f" {name}" if name else "") + (" (pass)" if passing else "")


def _scale_of(wafer_map: WaferMap) -> ColourScale:
    if wafer_map.kind == "fail_fraction":
        return FAIL_FRACTION_SCALE.with_range(0.0, 1.0, wafer_map.label or FAIL_FRACTION_SCALE.label)
    finite = wafer_map.value[np.isfinite(wafer_map.value)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    return PARAMETRIC_SCALE.with_range(low, high, wafer_map.label)


def _scale_legend(scale: ColourScale, kind: str) -> tuple[LegendEntry, ...]:
    values = np.linspace(scale.vmin, scale.vmax, 5)
    labels = (
        [f"{round(100 * v)}%" for v in values] if kind == "fail_fraction" else [f"{v:.4g}" for v in values]
    )
    return tuple(
        LegendEntry(label, colour, value=float(v))
        for label, colour, v in zip(labels, scale.colours(values), values, strict=True)
    )


def describe_map(
    wafer_map: WaferMap,
    orientation: Orientation = DEFAULT_ORIENTATION,
    *,
    colours: Mapping[int, str] | None = None,
    bin_names: Mapping[int, str] | None = None,
    title: str | None = None,
) -> MapDrawing:
    """The drawing of a map: where each die goes under ``orientation``, its colour and the legend.

    Bin maps take their colours from ``colours`` (bin -> colour, e.g. :func:`bin_colours` over
    all wafers of a lot) or from :func:`bin_colours` of this map alone; ``bin_names`` adds the
    bins' names to the legend. Parametric maps use :data:`PARAMETRIC_SCALE` over the map's range,
    fail-fraction maps :data:`FAIL_FRACTION_SCALE` over 0 to 1.
    """
    if wafer_map.x.size == 0:
        raise ValueError("the map has no dies to draw")
    x, y = wafer_map.x.astype(np.int64), wafer_map.y.astype(np.int64)
    x_min, x_max, y_min, y_max = int(x.min()), int(x.max()), int(y.min()), int(y.max())
    scale = None
    if wafer_map.kind == "bin":
        codes = wafer_map.value.astype(np.int64)
        palette = dict(colours) if colours is not None else bin_colours([wafer_map])
        missing = sorted(set(np.unique(codes).tolist()) - set(palette))
        if missing:
            raise ValueError(f"the bin colours given have no colour for bin(s) {missing}")
        passing, names = _passing_bins(wafer_map), bin_names or {}
        die_colours = tuple(palette[int(c)] for c in codes)
        legend = tuple(LegendEntry(_bin_label(c, c in passing, names), palette[c], bin=c, passing=c in passing)
                       for c in sorted(set(codes.tolist())))  # fmt: skip
    else:
        scale = _scale_of(wafer_map)
        die_colours = tuple(scale.colours(wafer_map.value))
        legend = _scale_legend(scale, wafer_map.kind)
    if title is None:
        title = " / ".join(str(v) for v in (wafer_map.lot_id, wafer_map.wafer_id) if v is not None)
    return MapDrawing(
        kind=wafer_map.kind,
        x=x,
        y=y,
        row=orientation.rows(y, y_min, y_max),
        column=orientation.columns(x, x_min, x_max),
        colours=die_colours,
        rows=y_max - y_min + 1,
        columns=x_max - x_min + 1,
        legend=legend,
        scale=scale,
        orientation=orientation,
        title=title,
        label=wafer_map.label,
    )


def _plain_number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def map_json(
    wafer_map: WaferMap,
    orientation: Orientation = DEFAULT_ORIENTATION,
    *,
    colours: Mapping[int, str] | None = None,
    bin_names: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """The map and its drawing as JSON-ready values, the fields of the dashboard's ``WaferMapData``:
    ``kind``, ``label``, ``x``, ``y``, ``value`` (NaN as null), ``good``, ``count``; ``colors`` (per
    die), ``legend`` (``label``, ``color``, ``bin``, ``passing``, ``value`` each), ``colorscale``
    (plotly's (fraction, colour) pairs, measured maps), ``zmin`` / ``zmax`` and ``x_grows`` /
    ``y_grows``; ``flat`` (the flat / notch side, "U" / "D" / "L" / "R" of the drawing, None when
    not known) and ``outline`` (the wafer's edge in die coordinates: polygon ``x`` / ``y``, its
    ``color``, the flat chord's ``flat_x`` / ``flat_y`` and ``flat_color``, and the ``note`` saying
    why no flat is drawn). A map without dies gives empty lists and no outline."""
    empty = wafer_map.x.size == 0
    drawing = None if empty else describe_map(wafer_map, orientation, colours=colours, bin_names=bin_names)
    scale = drawing.scale if drawing is not None else None
    return {
        "kind": wafer_map.kind,
        "label": wafer_map.label,
        "x": wafer_map.x.tolist(),
        "y": wafer_map.y.tolist(),
        "value": [_plain_number(float(v)) for v in wafer_map.value],
        "good": wafer_map.good.tolist() if wafer_map.good is not None else None,
        "count": wafer_map.count.tolist() if wafer_map.count is not None else None,
        "colors": list(drawing.colours) if drawing is not None else [],
        "legend": [
            {"label": e.label, "color": e.colour, "bin": e.bin, "passing": e.passing, "value": e.value}
            for e in (drawing.legend if drawing is not None else ())
        ],
        "colorscale": [list(stop) for stop in scale.plotly()] if scale is not None else None,
        "zmin": scale.vmin if scale is not None else None,
        "zmax": scale.vmax if scale is not None else None,
        "x_grows": orientation.x_grows,
        "y_grows": orientation.y_grows,
        "flat": orientation.flat,
        "outline": _outline_json(drawing) if drawing is not None else None,
    }


def _outline_json(drawing: MapDrawing) -> dict[str, Any]:
    outline = drawing.outline()
    x, y = drawing.die_units(*zip(*outline.points, strict=True))
    flat_x = flat_y = None
    if outline.flat_ends is not None:
        fx, fy = drawing.die_units(*zip(*outline.flat_ends, strict=True))
        flat_x, flat_y = [round(float(v), 4) for v in fx], [round(float(v), 4) for v in fy]
    return {"x": [round(float(v), 4) for v in x], "y": [round(float(v), 4) for v in y], "color": OUTLINE_COLOUR,
            "flat_x": flat_x, "flat_y": flat_y, "flat_color": FLAT_COLOUR, "note": outline.note}  # fmt: skip


def map_svg(drawing: MapDrawing, title: str | None = None, max_size: int = 320,
            markers: Sequence[tuple[int, int, str, str]] = ()) -> str:  # fmt: skip
    """The drawing as an inline SVG element: one square per die at its display row and column,
    filled with its colour, each carrying its die's ``data-x`` / ``data-y``; round them the wafer's
    outline (``path`` of class ``wafer-outline``) and, when the flat's side is known, the flat
    (``line`` of class ``wafer-flat``; the root's ``data-flat`` names the side). Without a flat a
    ``desc`` says why. ``markers``: (x, y, colour, label) drawn as a cross on die (x, y) of the
    map (class ``marker``, e.g. inline defects); markers off the map's dies are left out."""
    outline = drawing.outline()
    (cu, cv), radius = outline.centre, outline.radius
    low_u, high_u = min(0.0, cu - radius), max(float(drawing.columns), cu + radius)
    low_v, high_v = min(0.0, cv - radius), max(float(drawing.rows), cv + radius)
    cell = max(4, min(14, int(max_size // max(high_u - low_u, high_v - low_v, 1))))
    title = drawing.title if title is None else title
    rects = "".join(
        f'<rect x="{int(c) * cell}" y="{int(r) * cell}" width="{cell - 1}" height="{cell - 1}" fill="{colour}" '
        f'data-x="{int(x)}" data-y="{int(y)}"/>'
        for x, y, r, c, colour in zip(
            drawing.x, drawing.y, drawing.row, drawing.column, drawing.colours, strict=True
        )
    )

    def at(u: float, v: float) -> str:  # the frame's points, in SVG units (cell c spans c * cell ..)
        return f"{u * cell - 0.5:.2f} {v * cell - 0.5:.2f}"

    path = "M " + " L ".join(at(u, v) for u, v in outline.points) + " Z"
    edge = f'<path class="wafer-outline" d="{path}" fill="none" stroke="{OUTLINE_COLOUR}" stroke-width="1"/>'
    if outline.flat_ends is not None:
        (u1, v1), (u2, v2) = outline.flat_ends
        (x1, y1), (x2, y2) = (at(u1, v1).split(), at(u2, v2).split())
        edge += (f'<line class="wafer-flat" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{FLAT_COLOUR}" '
                 f'stroke-width="3"/>')  # fmt: skip
    cells = {(int(x), int(y)): (int(r), int(c)) for x, y, r, c in zip(drawing.x, drawing.y, drawing.row,
                                                                       drawing.column, strict=True)}  # fmt: skip
    for x, y, colour, label in markers:
        if (int(x), int(y)) not in cells:
            continue
        r, c = cells[(int(x), int(y))]
        x0, y0, x1, y1 = c * cell + 1, r * cell + 1, (c + 1) * cell - 2, (r + 1) * cell - 2
        edge += (f'<path class="marker" d="M {x0} {y0} L {x1} {y1} M {x0} {y1} L {x1} {y0}" stroke="{colour}" '
                 f'stroke-width="1.5" data-x="{int(x)}" data-y="{int(y)}"><title>{html.escape(label)}</title></path>')  # fmt: skip
    desc = "" if outline.note is None else f"<desc>{html.escape(outline.note)}</desc>"
    left, top = math.floor(low_u * cell) - 2, math.floor(low_v * cell) - 2
    width, height = math.ceil(high_u * cell) + 2 - left, math.ceil(high_v * cell) + 2 - top
    o = drawing.orientation
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="{left} {top} {width} {height}" role="img" data-x-grows="{o.x_grows}" '
        f'data-y-grows="{o.y_grows}" data-flat="{o.flat or ""}">'
        f"<title>{html.escape(title)}</title>{desc}{rects}{edge}</svg>"
    )


def rule_colours(codes: Iterable[str]) -> dict[str, str]:
    """One colour per screening reason code, in the order given (the recipe's precedence), from
    :data:`RULE_COLOURS`; past its eight colours they repeat, so keep the codes shown to those
    that removed dies."""
    out: dict[str, str] = {}
    for code in codes:
        if code not in out:
            out[code] = RULE_COLOURS[len(out) % len(RULE_COLOURS)]
    return out
