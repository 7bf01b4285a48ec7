"""Wafer maps: bin map and parametric map of a wafer, stacked fail map of a lot; how they look
(one palette, one orientation rule, a renderer-neutral :class:`MapDrawing`); drawn as PNG / SVG
files, inline SVG, matplotlib axes or the dashboard's JSON; exported as SEMI E142 and G85 XML.

* :mod:`.maps`: :class:`WaferMap` and the functions that build one from parts / tidy tables;
* :mod:`.drawing`: palette, :class:`Orientation`, :func:`describe_map`, :func:`map_json`,
  :func:`map_svg` (no matplotlib needed);
* :mod:`.render`: matplotlib renderers (:func:`render_wafer_map`, :func:`draw_on_axes`);
* :mod:`.semi`: :func:`to_e142_xml`, :func:`to_g85_xml`.
"""

from .drawing import (
    DEFAULT_ORIENTATION,
    FAIL_BIN_COLOURS,
    FAIL_FRACTION_SCALE,
    NO_VALUE_COLOUR,
    PARAMETRIC_SCALE,
    PASS_BIN_COLOURS,
    ColourScale,
    LegendEntry,
    MapDrawing,
    Orientation,
    bin_colours,
    describe_map,
    map_json,
    map_svg,
)
from .maps import WaferMap, bin_map, parametric_map, stacked_fail_map
from .render import draw_on_axes, legend_handles, render_wafer_map
from .semi import E142_NAMESPACE, to_e142_xml, to_g85_xml

__all__ = [
    "DEFAULT_ORIENTATION",
    "E142_NAMESPACE",
    "FAIL_BIN_COLOURS",
    "FAIL_FRACTION_SCALE",
    "NO_VALUE_COLOUR",
    "PARAMETRIC_SCALE",
    "PASS_BIN_COLOURS",
    "ColourScale",
    "LegendEntry",
    "MapDrawing",
    "Orientation",
    "WaferMap",
    "bin_colours",
    "bin_map",
    "describe_map",
    "draw_on_axes",
    "legend_handles",
    "map_json",
    "map_svg",
    "parametric_map",
    "render_wafer_map",
    "stacked_fail_map",
    "to_e142_xml",
    "to_g85_xml",
]
