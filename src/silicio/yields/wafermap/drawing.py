"""How a wafer map looks, whatever draws it: the one palette, the one orientation rule, and a
renderer-neutral description of a map (:class:`MapDrawing`) that the PNG / SVG files, the lot
report's inline SVG and PDF pages and the dashboard's JSON all draw from.

A drawing places each die on a grid of display rows (row 0 at the top) and columns (column 0 at
the left) by the map's :class:`Orientation`, gives it a colour from the palette, and lists the
legend: one entry per bin of a bin map, or stops of the colour scale of a measured map. Nothing
here needs matplotlib: colours are hex strings and scales are interpolated with numpy.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .maps import WaferMap

__all__ = [
    "DEFAULT_ORIENTATION",
    "FAIL_BIN_COLOURS",
    "FAIL_FRACTION_SCALE",
    "NO_VALUE_COLOUR",
    "PARAMETRIC_SCALE",
    "PASS_BIN_COLOURS",
    "RULE_COLOURS",
    "SCREEN_FAILED_COLOUR",
    "SCREEN_KEPT_COLOUR",
    "ColourScale",
    "LegendEntry",
    "MapDrawing",
    "Orientation",
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
class Orientation:
    """Which way die coordinates grow on a drawing: X to the ``"right"`` or ``"left"``, Y
    ``"down"`` or ``"up"``. The default is the usual prober view (X right, Y down).

    STDF's WCR says it per file (POS_X / POS_Y); :meth:`from_wcr` reads those fields.
    """

    x_grows: str = "right"
    y_grows: str = "down"

    def __post_init__(self):
        if self.x_grows not in ("right", "left"):
            raise ValueError(f"x_grows must be 'right' or 'left'; got {self.x_grows!r}")
        if self.y_grows not in ("down", "up"):
            raise ValueError(f"y_grows must be 'down' or 'up'; got {self.y_grows!r}")

    @classmethod
    def from_wcr(cls, pos_x: str | None, pos_y: str | None) -> Orientation:
        """From STDF V4 WCR POS_X ('L' / 'R', the direction of positive X) and POS_Y ('U' / 'D');
        a blank or missing field (STDF: unknown) keeps that axis's default."""
        directions = {"R": "right", "L": "left", "U": "up", "D": "down"}
        default = cls()
        x = (pos_x or " ").strip().upper()
        y = (pos_y or " ").strip().upper()
        if x not in ("", "R", "L") or y not in ("", "U", "D"):
            raise ValueError(f"WCR POS_X / POS_Y must be L, R / U, D or blank; got {pos_x!r} / {pos_y!r}")
        return cls(directions[x] if x else default.x_grows, directions[y] if y else default.y_grows)

    def columns(self, x: np.ndarray, x_min: int, x_max: int) -> np.ndarray:
        """Display column of each X (0 at the left)."""
        return x - x_min if self.x_grows == "right" else x_max - x

    def rows(self, y: np.ndarray, y_min: int, y_max: int) -> np.ndarray:
        """Display row of each Y (0 at the top)."""
        return y - y_min if self.y_grows == "down" else y_max - y


DEFAULT_ORIENTATION = Orientation()


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
class MapDrawing:
    """A wafer map ready to draw: per die its coordinates, display ``row`` / ``column`` and
    ``colours``; the grid size; the legend; the colour scale of a measured map (None for bins);
    the orientation and a title."""

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
    ``y_grows``. A map without dies gives empty lists."""
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
    }


def map_svg(drawing: MapDrawing, title: str | None = None, max_size: int = 320) -> str:
    """The drawing as an inline SVG element: one square per die at its display row and column,
    filled with its colour; each square carries its die's ``data-x`` / ``data-y``."""
    cell = max(4, min(14, max_size // max(drawing.rows, drawing.columns, 1)))
    title = drawing.title if title is None else title
    rects = "".join(
        f'<rect x="{int(c) * cell}" y="{int(r) * cell}" width="{cell - 1}" height="{cell - 1}" fill="{colour}" '
        f'data-x="{int(x)}" data-y="{int(y)}"/>'
        for x, y, r, c, colour in zip(
            drawing.x, drawing.y, drawing.row, drawing.column, drawing.colours, strict=True
        )
    )
    width, height = drawing.columns * cell, drawing.rows * cell
    o = drawing.orientation
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" data-x-grows="{o.x_grows}" data-y-grows="{o.y_grows}">'
        f"<title>{html.escape(title)}</title>{rects}</svg>"
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
