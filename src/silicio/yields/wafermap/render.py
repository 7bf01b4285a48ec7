"""Wafer maps drawn with matplotlib: PNG and SVG files (:func:`render_wafer_map`) and the axes of
the lot report's PDF pages (:func:`draw_on_axes`), both from a :class:`MapDrawing`, so they show
the palette and orientation every other renderer shows."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping

from ..yield_ import check_choice
from .drawing import FLAT_COLOUR, OUTLINE_COLOUR, MapDrawing, describe_map
from .maps import WaferMap
from .orientation import DEFAULT_ORIENTATION, Orientation

__all__ = ["draw_on_axes", "legend_handles", "render_wafer_map"]

#: Most legend entries a bin map shows beside a drawing.
LEGEND_ENTRIES = 20


def draw_on_axes(ax, drawing: MapDrawing, title: str | None = None, fontsize: float = 9) -> None:
    """Draws the map's cells on matplotlib axes, the axes labelled with die X / Y growing the way
    the drawing's orientation says, and round them the wafer's outline with its flat (in
    :data:`FLAT_COLOUR`; without a flat the X label says it is not known)."""
    from matplotlib.ticker import MaxNLocator

    x_left, y_top = drawing.corner
    x_step = 1 if drawing.orientation.x_grows == "right" else -1
    y_step = 1 if drawing.orientation.y_grows == "down" else -1
    x_right = x_left + x_step * (drawing.columns - 1)
    y_bottom = y_top + y_step * (drawing.rows - 1)
    extent = (x_left - 0.5 * x_step, x_right + 0.5 * x_step, y_bottom + 0.5 * y_step, y_top - 0.5 * y_step)
    ax.imshow(drawing.image(), interpolation="nearest", extent=extent)
    outline = drawing.outline()
    edge_x, edge_y = drawing.die_units(*zip(*outline.points, outline.points[0], strict=True))
    ax.plot(edge_x, edge_y, color=OUTLINE_COLOUR, linewidth=1)
    if outline.flat_ends is not None:
        # Not antialiased: the flat's pixels are its colour exactly, so a test (or a person with a
        # colour picker) finds them.
        flat_x, flat_y = drawing.die_units(*zip(*outline.flat_ends, strict=True))
        ax.plot(flat_x, flat_y, color=FLAT_COLOUR, linewidth=3, antialiased=False, solid_capstyle="butt")
    (cu, cv), radius = outline.centre, outline.radius
    low_u, high_u = min(0.0, cu - radius) - 0.2, max(drawing.columns, cu + radius) + 0.2
    low_v, high_v = min(0.0, cv - radius) - 0.2, max(drawing.rows, cv + radius) + 0.2
    x_limits, y_limits = drawing.die_units([low_u, high_u], [high_v, low_v])  # left, right; bottom, top
    ax.set_xlim(*x_limits)
    ax.set_ylim(*y_limits)
    ax.set_title(drawing.title if title is None else title, fontsize=fontsize)
    # The reason (WCR WF_FLAT blank, no WCR) is in the orientation's notes; small maps get a short caption.
    ax.set_xlabel("X" if outline.flat is not None else "X (flat / notch not known)")
    ax.set_ylabel("Y")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(MaxNLocator(integer=True))  # die coordinates are whole numbers


def legend_handles(drawing: MapDrawing) -> list:
    """Legend patches of the drawing's entries (the first :data:`LEGEND_ENTRIES` bins)."""
    from matplotlib.patches import Patch

    return [Patch(color=e.colour, label=e.label) for e in drawing.legend[:LEGEND_ENTRIES]]


def render_wafer_map(
    wafer_map: WaferMap,
    destination: str | os.PathLike[str] | io.IOBase,
    fmt: str | None = None,
    title: str | None = None,
    orientation: Orientation = DEFAULT_ORIENTATION,
    colours: Mapping[int, str] | None = None,
    bin_names: Mapping[int, str] | None = None,
) -> None:
    """Draws the map to a PNG or SVG file (``fmt`` from the file's suffix unless given), laid out
    by ``orientation`` (:func:`silicio.yields.wafermap.orientation_of` gives a file's).

    Colours and legend come from :func:`describe_map` (``colours``: bin -> colour to share one
    palette between maps; ``bin_names``: bin -> name for the legend); parametric and fail-fraction maps get a colour bar. Uses matplotlib's
    Agg canvas: no display needed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.figure import Figure

    if fmt is None:
        if isinstance(destination, io.IOBase):
            raise ValueError("render_wafer_map needs fmt ('png' or 'svg') when writing to a file object")
        fmt = os.fspath(destination).rsplit(".", 1)[-1].lower()
    check_choice("fmt", fmt, ("png", "svg"))
    if wafer_map.x.size == 0:
        raise ValueError("render_wafer_map: the map has no dies")
    drawing = describe_map(wafer_map, orientation, colours=colours, bin_names=bin_names, title=title)
    fig = Figure(figsize=(6, 6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    draw_on_axes(ax, drawing, fontsize=12)
    if drawing.scale is None:
        ax.legend(handles=legend_handles(drawing), title=drawing.label, loc="upper left", bbox_to_anchor=(1.01, 1),
                  fontsize=7)  # fmt: skip
    else:
        scale = drawing.scale
        colour_map = LinearSegmentedColormap.from_list("silicio", list(scale.stops))
        fig.colorbar(ScalarMappable(Normalize(scale.vmin, scale.vmax), colour_map), ax=ax, label=scale.label,
                     shrink=0.8)  # fmt: skip
    fig.savefig(destination, format=fmt, bbox_inches="tight")
