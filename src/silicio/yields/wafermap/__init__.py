"""Wafer maps: bin map and parametric map of a wafer, stacked fail map of a lot; which way is up
(one :class:`Orientation`, from the STDF WCR); how they look (one palette, a renderer-neutral
:class:`MapDrawing`); drawn as PNG / SVG files, inline SVG, matplotlib axes or the dashboard's
JSON; written and read back as SEMI G85 and E142 map files.

* :mod:`.maps`: :class:`WaferMap` and the functions that build one from parts / tidy tables;
* :mod:`.orientation`: :class:`Orientation`, :func:`orientation_of` (an STDF file's WCR);
* :mod:`.drawing`: palette, :func:`describe_map`, :func:`map_json`, :func:`map_svg`, the wafer's
  outline with its flat (:class:`WaferOutline`, :data:`FLAT_COLOUR`) (no matplotlib needed);
* :mod:`.render`: matplotlib renderers (:func:`render_wafer_map`, :func:`draw_on_axes`);
* :mod:`.semi`: :class:`MapHeader` (its ``orientation`` an :class:`Orientation`),
  :func:`header_from_stdf`, :func:`write_g85`, :func:`write_e142`, :func:`read_g85`,
  :func:`read_e142`, :func:`read_map`.

Every renderer and both file formats lay a map out by the same :class:`Orientation`, so a PNG, the
dashboard and a G85 file of one wafer agree on which row is the top; every drawing marks the
wafer's flat on the side the orientation's ``flat`` (STDF WCR WF_FLAT) names.
"""

from .drawing import (
    FAIL_BIN_COLOURS,
    FAIL_FRACTION_SCALE,
    FLAT_COLOUR,
    NO_VALUE_COLOUR,
    OUTLINE_COLOUR,
    PARAMETRIC_SCALE,
    PASS_BIN_COLOURS,
    ColourScale,
    LegendEntry,
    MapDrawing,
    WaferOutline,
    bin_colours,
    describe_map,
    map_json,
    map_svg,
)
from .maps import WaferMap, bin_map, parametric_map, stacked_fail_map
from .orientation import DEFAULT_ORIENTATION, FLAT_SIDES, Orientation, orientation_of
from .render import draw_on_axes, legend_handles, render_wafer_map
from .semi import (
    E142_NAMESPACE,
    G85_FORMAT_REVISION,
    G85_NAMESPACE,
    BinDefinition,
    MapHeader,
    ReferenceDevice,
    geometry_from_wcr,
    header_from_stdf,
    read_e142,
    read_g85,
    read_map,
    write_e142,
    write_g85,
)

__all__ = [
    "DEFAULT_ORIENTATION",
    "E142_NAMESPACE",
    "FAIL_BIN_COLOURS",
    "FAIL_FRACTION_SCALE",
    "FLAT_COLOUR",
    "FLAT_SIDES",
    "G85_FORMAT_REVISION",
    "G85_NAMESPACE",
    "NO_VALUE_COLOUR",
    "OUTLINE_COLOUR",
    "PARAMETRIC_SCALE",
    "PASS_BIN_COLOURS",
    "BinDefinition",
    "ColourScale",
    "LegendEntry",
    "MapDrawing",
    "MapHeader",
    "Orientation",
    "ReferenceDevice",
    "WaferMap",
    "WaferOutline",
    "bin_colours",
    "bin_map",
    "describe_map",
    "draw_on_axes",
    "geometry_from_wcr",
    "header_from_stdf",
    "legend_handles",
    "map_json",
    "map_svg",
    "orientation_of",
    "parametric_map",
    "read_e142",
    "read_g85",
    "read_map",
    "render_wafer_map",
    "stacked_fail_map",
    "write_e142",
    "write_g85",
]
