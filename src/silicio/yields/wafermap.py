"""Wafer maps: bin map and parametric map of a wafer, stacked fail map of a lot, rendered with
matplotlib and exported as SEMI E142 and SEMI G85 XML.

A :class:`WaferMap` is die coordinates and one value per die (a bin, a measurement, a fail
fraction). Coordinates are the prober's PRR X_COORD / Y_COORD; rows of the exported grid run
from the smallest Y to the largest, columns from the smallest X, so the grid's origin is the
upper-left die when Y grows downwards (the usual prober convention; STDF WCR POS_X / POS_Y
tell the actual directions and are not applied here).

References
----------
SEMI E142-0211, *Specification for Substrate Mapping*, with its XML schema
``urn:semi-org:xsd.E142-1.V1005.SubstrateMap`` (Layouts, Substrates, SubstrateMaps, BinCodeMap).

SEMI G85-0703, *Specification for Map Data Items* (the XML wafer map: ``Maps / Map / Device``
with Rows, Columns, BinType, NullBin, one ``Bin`` per code and ``Data / Row`` lines).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree import ElementTree as ET

import numpy as np
import polars as pl
import pyarrow as pa

from .yield_ import as_frame, check_choice, with_test_order

__all__ = [
    "E142_NAMESPACE",
    "WaferMap",
    "bin_map",
    "parametric_map",
    "render_wafer_map",
    "stacked_fail_map",
    "to_e142_xml",
    "to_g85_xml",
]

E142_NAMESPACE = "urn:semi-org:xsd.E142-1.V1005.SubstrateMap"


@dataclass(frozen=True)
class WaferMap:
    """Die coordinates (``x``, ``y``) and one ``value`` per die, with what the value means.

    ``kind`` is "bin" (integer bin codes, ``good`` flags which dies passed), "parametric" or
    "fail_fraction" (``count`` the dies stacked at each position).
    """

    x: np.ndarray
    y: np.ndarray
    value: np.ndarray
    kind: str
    lot_id: str | None = None
    wafer_id: str | None = None
    label: str | None = None
    good: np.ndarray | None = None
    count: np.ndarray | None = None

    def grid(self, fill: float = np.nan) -> np.ndarray:
        """Values as a rows x columns array (row 0 the smallest Y, column 0 the smallest X)."""
        rows, cols = self.shape
        out = np.full((rows, cols), fill, dtype=float)
        out[self.y - self.y.min(), self.x - self.x.min()] = self.value
        return out

    @property
    def shape(self) -> tuple[int, int]:
        if self.x.size == 0:
            return 0, 0
        return int(self.y.max() - self.y.min() + 1), int(self.x.max() - self.x.min() + 1)


def _one_wafer(frame: pl.DataFrame, lot_id: str | None, wafer_id: str | None, what: str) -> pl.DataFrame:
    """Rows of the wafer asked for, or of the only wafer present; ValueError otherwise."""
    if lot_id is not None:
        frame = frame.filter(pl.col("lot_id") == lot_id)
    if wafer_id is not None:
        frame = frame.filter(pl.col("wafer_id") == wafer_id)
    frame = frame.filter(pl.col("x").is_not_null() & pl.col("y").is_not_null())
    wafers = frame.select("lot_id", "wafer_id").unique().sort(["lot_id", "wafer_id"], nulls_last=True)
    if wafers.height != 1:
        found = [tuple(r) for r in wafers.iter_rows()]
        raise ValueError(
            f"{what} maps one wafer: give lot_id / wafer_id to pick one of {found}"
            if found
            else f"{what}: no dies with X/Y coordinates for lot_id={lot_id!r}, wafer_id={wafer_id!r}"
        )
    return frame


def _coords(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return frame.get_column("x").to_numpy().astype(np.int64), frame.get_column("y").to_numpy().astype(
        np.int64
    )


def bin_map(
    parts: pa.Table | pl.DataFrame,
    kind: str = "hard",
    lot_id: str | None = None,
    wafer_id: str | None = None,
    tests: str = "final",
    order_by: Sequence[str] | str | None = None,
) -> WaferMap:
    """Bin of each die of one wafer: its last test (``tests="final"``) or its first ("first").

    ``parts`` is a parts table (:func:`silicio.stdf.parts.parts`); pass ``lot_id`` /
    ``wafer_id`` when it holds several wafers. Dies without coordinates are not mapped.
    """
    check_choice("kind", kind, ("hard", "soft"))
    check_choice("tests", tests, ("final", "first"))
    column = f"{kind}_bin"
    frame = as_frame(parts, ["lot_id", "wafer_id", "x", "y", "die_key", "passed", column], "bin_map")
    frame = with_test_order(frame, order_by).filter(
        pl.col("is_last_test" if tests == "final" else "is_first_test")
    )
    frame = _one_wafer(frame, lot_id, wafer_id, "bin_map")
    # One value per position: a die retested under another key (no trusted X/Y) keeps its last.
    frame = frame.unique(["x", "y"], keep="last", maintain_order=True)
    x, y = _coords(frame)
    row = frame.row(0, named=True)
    return WaferMap(x, y, frame.get_column(column).fill_null(-1).to_numpy().astype(np.int64), "bin",
                    row["lot_id"], row["wafer_id"], f"{kind} bin",
                    good=frame.get_column("passed").fill_null(False).to_numpy())  # fmt: skip


def parametric_map(
    tidy: pa.Table | pl.DataFrame,
    test_num: int,
    test_name: str | None = None,
    lot_id: str | None = None,
    wafer_id: str | None = None,
) -> WaferMap:
    """Result of one test on each die of one wafer, from a tidy table (:func:`silicio.stdf.tidy`).

    The test is ``test_num`` (and ``test_name`` when numbers are shared); each die shows the
    result of its last execution (``is_last_test``). An MPR test maps its first pin unless the
    table is filtered to one pin first.
    """
    frame = as_frame(tidy, ["lot_id", "wafer_id", "x", "y", "test_num", "test_name", "result", "is_last_test"],
                     "parametric_map")  # fmt: skip
    frame = frame.filter(
        (pl.col("test_num") == test_num) & pl.col("is_last_test") & pl.col("result").is_not_null()
    )
    if test_name is not None:
        frame = frame.filter(pl.col("test_name") == test_name)
    frame = _one_wafer(frame, lot_id, wafer_id, "parametric_map")
    frame = frame.unique(["x", "y"], keep="first", maintain_order=True)
    x, y = _coords(frame)
    row = frame.row(0, named=True)
    units = frame.get_column("units").drop_nulls().first() if "units" in frame.columns else None
    label = f"{row['test_name'] or f'test {test_num}'}" + (f" [{units}]" if units else "")
    return WaferMap(x, y, frame.get_column("result").to_numpy().astype(float), "parametric", row["lot_id"],
                    row["wafer_id"], label)  # fmt: skip


def stacked_fail_map(
    parts: pa.Table | pl.DataFrame, lot_id: str | None = None, order_by: Sequence[str] | str | None = None
) -> WaferMap:
    """Fraction of failing dies at each X/Y across the wafers of a lot (final test of each die).

    Systematic patterns (edge rings, a probe-card site, a reticle position) stand out when
    wafers are stacked. ``count`` is how many wafers had a die with a verdict at the position.
    """
    frame = as_frame(parts, ["lot_id", "wafer_id", "x", "y", "die_key", "passed"], "stacked_fail_map")
    frame = with_test_order(frame, order_by).filter(
        pl.col("is_last_test")
        & pl.col("passed").is_not_null()
        & pl.col("x").is_not_null()
        & pl.col("y").is_not_null()
    )
    if lot_id is not None:
        frame = frame.filter(pl.col("lot_id") == lot_id)
    lots = frame.get_column("lot_id").unique().to_list()
    if len(lots) != 1:
        raise ValueError(
            f"stacked_fail_map stacks the wafers of one lot: give lot_id, one of {sorted(map(str, lots))}"
        )
    stacked = (
        frame.group_by(["x", "y"])
        .agg(pl.len().alias("count"), (~pl.col("passed")).mean().alias("fail_fraction"))
        .sort(["y", "x"])
    )
    x, y = _coords(stacked)
    return WaferMap(x, y, stacked.get_column("fail_fraction").to_numpy(), "fail_fraction", lots[0], None,
                    "fail fraction", count=stacked.get_column("count").to_numpy())  # fmt: skip


# --------------------------------------------------------------------------------------------
# Rendering


def render_wafer_map(
    wafer_map: WaferMap,
    destination: str | os.PathLike[str] | io.IOBase,
    fmt: str | None = None,
    title: str | None = None,
) -> None:
    """Draws the map to a PNG or SVG file (``fmt`` from the file's suffix unless given).

    Bins get a qualitative colour each (passing bins outlined in the legend); parametric and
    fail-fraction maps a colour scale. Uses matplotlib's Agg canvas: no display needed.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    if fmt is None:
        if isinstance(destination, io.IOBase):
            raise ValueError("render_wafer_map needs fmt ('png' or 'svg') when writing to a file object")
        fmt = os.fspath(destination).rsplit(".", 1)[-1].lower()
    check_choice("fmt", fmt, ("png", "svg"))
    if wafer_map.x.size == 0:
        raise ValueError("render_wafer_map: the map has no dies")
    fig = Figure(figsize=(6, 6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x0, y0 = wafer_map.x.min(), wafer_map.y.min()
    extent = (x0 - 0.5, wafer_map.x.max() + 0.5, wafer_map.y.max() + 0.5, y0 - 0.5)  # Y grows downwards
    if wafer_map.kind == "bin":
        codes = np.unique(wafer_map.value)
        index = np.searchsorted(codes, wafer_map.value)
        grid = np.full(wafer_map.shape, np.nan)
        grid[wafer_map.y - y0, wafer_map.x - x0] = index
        palette = matplotlib.colormaps["tab20"]
        colours = [palette(i % 20) for i in range(codes.size)]
        ax.imshow(grid, cmap=ListedColormap(colours), vmin=-0.5, vmax=codes.size - 0.5, extent=extent,
                  interpolation="nearest")  # fmt: skip
        good = wafer_map.good if wafer_map.good is not None else np.zeros(wafer_map.x.size, bool)
        passing = set(wafer_map.value[good].tolist())
        handles = [
            Patch(color=colours[i], label=f"{c}{' (pass)' if c in passing else ''}")
            for i, c in enumerate(codes)
        ]
        ax.legend(
            handles=handles[:20],
            title=wafer_map.label,
            loc="upper left",
            bbox_to_anchor=(1.01, 1),
            fontsize=7,
        )
    else:
        image = ax.imshow(wafer_map.grid(), cmap="viridis", extent=extent, interpolation="nearest")
        fig.colorbar(image, ax=ax, label=wafer_map.label, shrink=0.8)
    ax.set_xlabel("X")
    ax.set_ylabel("Y")
    ax.set_title(title or " / ".join(str(v) for v in (wafer_map.lot_id, wafer_map.wafer_id) if v is not None))
    fig.savefig(destination, format=fmt, bbox_inches="tight")


# --------------------------------------------------------------------------------------------
# SEMI E142 and G85


def _bin_format(wafer_map: WaferMap) -> tuple[str, str]:
    """(BinType, NullBin code) fitting the map's bins (SEMI E142 / G85 BinType)."""
    if wafer_map.kind != "bin":
        raise ValueError(f"SEMI map exports need a bin map (kind 'bin'), got kind {wafer_map.kind!r}")
    if wafer_map.value.size and (wafer_map.value.min() < 0):
        raise ValueError("SEMI map exports need a bin for every die; the map has dies without one (-1)")
    top = int(wafer_map.value.max(initial=0))
    if top < 255:
        return "Decimal", "255"  # 000-254, 255 the null bin
    if top < 0xFFFF:
        return "Integer2", "FFFF"  # hexadecimal 0000-FFFE, FFFF the null bin
    raise ValueError(f"bin {top} does not fit the SEMI map bin types (largest bin code 65534)")


def _bin_rows(wafer_map: WaferMap, bin_type: str, null: str) -> list[str]:
    grid = wafer_map.grid(fill=-1).astype(np.int64)
    if bin_type == "Decimal":
        cells = [[null if v < 0 else f"{v:03d}" for v in row] for row in grid]
        return [" ".join(r) for r in cells]  # decimal codes are separated by spaces
    return ["".join(null if v < 0 else f"{v:04X}" for v in row) for row in grid]


def _bin_table(wafer_map: WaferMap, good_bins: Sequence[int] | None) -> list[tuple[int, int, str]]:
    """(bin, count, "Pass" / "Fail") per bin code of the map."""
    codes, counts = np.unique(wafer_map.value, return_counts=True)
    if good_bins is None:
        good = wafer_map.good if wafer_map.good is not None else np.zeros(wafer_map.value.size, bool)
        good_bins = set(wafer_map.value[good].tolist())
    return [
        (int(c), int(n), "Pass" if int(c) in set(good_bins) else "Fail")
        for c, n in zip(codes, counts, strict=True)
    ]


def _xml(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def to_e142_xml(
    wafer_map: WaferMap,
    good_bins: Sequence[int] | None = None,
    die_size_um: tuple[float, float] | None = None,
) -> str:
    """The bin map as a SEMI E142 substrate map document (XML text).

    One wafer ``Substrate`` and its ``SubstrateMap`` with a ``BinCodeMap`` overlay: a
    ``BinDefinition`` per bin (count, Pass / Fail from ``good_bins`` or from the dies'
    verdicts) and one ``BinCode`` element per row. Bins below 255 are written as 3-digit
    ``Decimal`` codes with 255 the null bin, larger ones as 4-digit hexadecimal ``Integer2``
    with FFFF the null bin (SEMI E142 BinType). Origin upper left, axes down-right.
    """
    bin_type, null = _bin_format(wafer_map)
    rows, cols = wafer_map.shape
    root = ET.Element("MapData", xmlns=E142_NAMESPACE)
    layouts = ET.SubElement(root, "Layouts")
    layout = ET.SubElement(layouts, "Layout", LayoutId="WaferMap", DefaultUnits="micron")
    ET.SubElement(layout, "Dimension", X=str(cols), Y=str(rows))
    if die_size_um is not None:
        ET.SubElement(layout, "DeviceSize", X=f"{die_size_um[0]:g}", Y=f"{die_size_um[1]:g}")
    substrate_id = wafer_map.wafer_id or ""
    substrates = ET.SubElement(root, "Substrates")
    substrate = ET.SubElement(substrates, "Substrate", SubstrateType="Wafer", SubstrateId=substrate_id)
    if wafer_map.lot_id is not None:
        ET.SubElement(substrate, "LotId").text = wafer_map.lot_id
    table = _bin_table(wafer_map, good_bins)
    ET.SubElement(substrate, "GoodDevices").text = str(sum(n for _, n, q in table if q == "Pass"))
    maps = ET.SubElement(root, "SubstrateMaps")
    smap = ET.SubElement(maps, "SubstrateMap", SubstrateType="Wafer", SubstrateId=substrate_id,
                         LayoutSpecifier="WaferMap", Orientation="0", OriginLocation="UpperLeft",
                         AxisDirection="DownRight")  # fmt: skip
    overlay = ET.SubElement(smap, "Overlay", MapName="BinMap", MapVersion="1")
    code_map = ET.SubElement(overlay, "BinCodeMap", BinType=bin_type, NullBin=null)
    definitions = ET.SubElement(code_map, "BinDefinitions")
    for code, count, quality in table:
        text = f"{code:03d}" if bin_type == "Decimal" else f"{code:04X}"
        ET.SubElement(definitions, "BinDefinition", BinCode=text, BinCount=str(count), BinQuality=quality)
    for line in _bin_rows(wafer_map, bin_type, null):
        ET.SubElement(code_map, "BinCode").text = line
    return _xml(root)


def to_g85_xml(wafer_map: WaferMap, good_bins: Sequence[int] | None = None, product_id: str = "") -> str:
    """The bin map as a SEMI G85 XML wafer map (text).

    ``Maps / Map`` (WaferId, FormatRevision G85-0703) / ``Device`` with LotId, Rows, Columns,
    Orientation 0, OriginLocation 2 (upper left), BinType and NullBin as for E142, a ``Bin``
    per code with BinCount and BinQuality, and ``Data`` with one ``Row`` per map row.
    """
    bin_type, null = _bin_format(wafer_map)
    rows, cols = wafer_map.shape
    root = ET.Element("Maps")
    wafer = ET.SubElement(root, "Map", {"xmlns:semi": "http://www.semi.org", "WaferId": wafer_map.wafer_id or "",
                                        "FormatRevision": "G85-0703"})  # fmt: skip
    device = ET.SubElement(wafer, "Device", ProductId=product_id, LotId=wafer_map.lot_id or "", Rows=str(rows),
                           Columns=str(cols), Orientation="0", OriginLocation="2", BinType=bin_type,
                           NullBin=null)  # fmt: skip
    for code, count, quality in _bin_table(wafer_map, good_bins):
        text = f"{code:03d}" if bin_type == "Decimal" else f"{code:04X}"
        ET.SubElement(device, "Bin", BinCode=text, BinCount=str(count), BinQuality=quality)
    data = ET.SubElement(device, "Data", MapName="Map", MapVersion="1")
    for line in _bin_rows(wafer_map, bin_type, null):
        ET.SubElement(data, "Row").text = line
    return _xml(root)
