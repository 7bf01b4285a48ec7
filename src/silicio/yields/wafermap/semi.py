"""SEMI G85 and SEMI E142 wafer-map files, written and read back.

A map file carries more than the bins of a :class:`~silicio.yields.wafermap.WaferMap`: the
product, the wafer and die sizes, where the flat or notch is, which way X and Y grow, the
reference devices and a definition (pass / fail, description) of every bin. That is a
:class:`MapHeader`; :func:`geometry_from_wcr` and :func:`header_from_stdf` make one from the
STDF WCR, MIR and HBR / SBR records. :func:`write_g85` / :func:`write_e142` write a map and its
header, :func:`read_g85` / :func:`read_e142` read one back (a partner's map too), and
:func:`read_map` reads either, telling them by the root element.

Conventions, the same in both formats:

* Rows are written as the wafer is seen with the header's :class:`Orientation` (the one the
  PNG / SVG drawings and the dashboard use, so a file and a drawing of one map agree by
  construction): the first row is the top of the map, so when Y grows upward (STDF WCR POS_Y
  "U") the first row is the highest Y; the first column is the smallest X when X grows to the
  right (POS_X "R"), the largest when it grows to the left.
* Coordinates in our files are the prober's die coordinates (STDF PRR X_COORD / Y_COORD). The
  die position at the map's origin corner (the smallest X and Y) is written as a reference
  device: in E142 the ``ReferenceDevice Name="OriginLocation"``, in G85 (whose reference devices
  have no name) the first ``ReferenceDevice``. A file without one is read with the origin corner
  at (0, 0), i.e. array positions. (So a G85 map of a header without an origin but with other
  reference devices reads its first reference device back as the origin.)
* Sizes are millimetres for the wafer and micrometres for the die (G85 WaferSize and
  DeviceSizeX / DeviceSizeY; E142 ``DefaultUnits`` "mm" and "micron").
* Flat / notch orientation is in degrees clockwise from the bottom of the map, 0 = flat at the
  bottom (SEMI E5 FNLOC, G85 and E142 Orientation).

References
----------
SEMI G85-0703, *Specification for Map Data Format* (the XML map: ``Maps / Map / Device`` with
``ReferenceDevice``, ``Bin`` and ``Data / Row``; default namespace ``http://www.semi.org``).
SEMI E142-1, *XML Schema for Substrate Mapping* (``MapData``: ``Layouts``, ``Substrates``,
``SubstrateMaps / SubstrateMap / Overlay / BinCodeMap``), namespace
``urn:semi-org:xsd.E142-1.V1005.SubstrateMap``.
SEMI E5, data items FNLOC (flat / notch location) and ORLOC (origin location).
STDF V4, WCR (Wafer Configuration Record), HBR / SBR (hardware / software bin records).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..bins import bin_definitions
from ..yield_ import check_choice
from .maps import WaferMap
from .orientation import DEFAULT_ORIENTATION, Orientation

__all__ = [
    "E142_NAMESPACE",
    "G85_FORMAT_REVISION",
    "G85_NAMESPACE",
    "BinDefinition",
    "MapHeader",
    "ReferenceDevice",
    "geometry_from_wcr",
    "header_from_stdf",
    "read_e142",
    "read_g85",
    "read_map",
    "write_e142",
    "write_g85",
]

G85_NAMESPACE = "http://www.semi.org"
#: What SEMI G85-0703 maps write in ``Map/@FormatRevision`` (any value is accepted on reading).
G85_FORMAT_REVISION = "SEMI G85 0703"
E142_NAMESPACE = "urn:semi-org:xsd.E142-1.V1005.SubstrateMap"

#: STDF WCR WF_UNITS -> millimetres per unit (0 = unknown units).
_MM_PER_WCR_UNIT = {1: 25.4, 2: 10.0, 3: 1.0, 4: 0.0254}
#: STDF WCR WF_FLAT -> degrees clockwise from the bottom (SEMI E5 FNLOC).
_FLAT_DEGREES = {"D": 0.0, "L": 90.0, "U": 180.0, "R": 270.0}
_LEFT_DOWN, _RIGHT_DOWN = Orientation("left", "down"), Orientation("right", "down")
_RIGHT_UP, _LEFT_UP = Orientation("right", "up"), Orientation("left", "up")
#: Orientation -> G85 OriginLocation (SEMI E5 ORLOC: 1 upper right ... 4 lower right).
_G85_ORIGIN = {_LEFT_DOWN: 1, _RIGHT_DOWN: 2, _RIGHT_UP: 3, _LEFT_UP: 4}
_E142_ORIGIN = {_LEFT_DOWN: "UpperRight", _RIGHT_DOWN: "UpperLeft", _RIGHT_UP: "LowerLeft",
                _LEFT_UP: "LowerRight"}  # fmt: skip
_E142_AXES = {_RIGHT_DOWN: "DownRight", _RIGHT_UP: "UpRight", _LEFT_DOWN: "DownLeft", _LEFT_UP: "UpLeft"}
#: Bin types: digits of one code (0 = a single character), radix, the default null bin code.
_BIN_TYPES = {"Ascii": (0, 0, ord(".")), "Decimal": (3, 10, 255), "HexaDecimal": (2, 16, 0xFF),
              "Integer2": (4, 16, 0xFFFF)}  # fmt: skip
#: Length units of E142 ``DefaultUnits`` -> millimetres.
_MM_PER_E142_UNIT = {"mm": 1.0, "millimeter": 1.0, "micron": 1e-3, "microns": 1e-3, "um": 1e-3,
                     "cm": 10.0, "inch": 25.4, "inches": 25.4, "in": 25.4, "mil": 0.0254, "mils": 0.0254}  # fmt: skip
_ORIGIN_DEVICE = "OriginLocation"  # E142 reference-device name of the origin corner (as Galaxy writes it)


@dataclass(frozen=True)
class BinDefinition:
    """One bin code of a map: ``quality`` "Pass" / "Fail" (None when the tester left it blank),
    a ``description`` (SBR / HBR name) and, on maps read from a file, the dies ``count`` (the
    writers count the map's dies themselves, so an edited map is written with its own counts)."""

    code: int
    quality: str | None = None
    description: str = ""
    count: int | None = None


@dataclass(frozen=True)
class ReferenceDevice:
    """A die position used to align the map with the wafer (prober coordinates)."""

    x: int
    y: int
    name: str | None = None


@dataclass(frozen=True)
class MapHeader:
    """What a G85 / E142 map file says beyond the dies' bins.

    ``orientation`` says which way X and Y grow (STDF WCR POS_X / POS_Y; G85 OriginLocation, E142
    AxisDirection). ``flat_orientation`` is the flat / notch in degrees clockwise from the bottom.
    ``origin`` is the coordinates of the origin corner cell (smallest X and Y) and ``rows`` /
    ``columns`` the array size; left None, the writers fit them to the dies. ``bin_type`` and
    ``null_code`` are the map's BinType and null bin (None: chosen from the codes). ``notes`` say
    what was assumed or found wrong while making or reading the header; they take no part in
    comparisons.
    """

    product_id: str | None = None
    wafer_size_mm: float | None = None
    die_width_um: float | None = None
    die_height_um: float | None = None
    flat_orientation: float | None = None
    orientation: Orientation = DEFAULT_ORIENTATION
    origin: tuple[int, int] | None = None
    rows: int | None = None
    columns: int | None = None
    reference_devices: tuple[ReferenceDevice, ...] = ()
    bins: tuple[BinDefinition, ...] = ()
    bin_type: str | None = None
    null_code: int | None = None
    substrate_type: str = "Wafer"
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.orientation, Orientation):
            raise ValueError(f"MapHeader orientation must be an Orientation, got {self.orientation!r}")
        if self.bin_type is not None and self.bin_type not in _BIN_TYPES:
            raise ValueError(f"MapHeader bin_type must be one of {sorted(_BIN_TYPES)}, got {self.bin_type!r}")

    def code_text(self, code: int) -> str:
        """A bin code as written in the header's BinType (a header read from a file has one; the
        writers choose one for a header without, from all the map's codes)."""
        if self.bin_type is None:
            raise ValueError("MapHeader.code_text needs the header's bin_type")
        return _code_text(code, self.bin_type)

    @property
    def flat_location(self) -> str | None:
        """Letter "D", "L", "U" or "R" (STDF WCR WF_FLAT) for a flat at 0 / 90 / 180 / 270 degrees."""
        for letter, degrees in _FLAT_DEGREES.items():
            if self.flat_orientation is not None and float(self.flat_orientation) % 360 == degrees:
                return letter
        return None


# --------------------------------------------------------------------------------------------
# Headers from STDF


def _text(value) -> str:
    return "" if value is None else str(value).strip().strip("\x00")


def geometry_from_wcr(
    wcr_row: Mapping | None, bins: Iterable[BinDefinition] = (), product_id: str | None = None
) -> MapHeader:
    """The map header an STDF WCR record describes, with the given bin definitions.

    STDF V4, WCR: WAFR_SIZ wafer diameter, DIE_HT / DIE_WID die height / width, all in WF_UNITS
    (0 unknown, 1 inches, 2 cm, 3 mm, 4 mils; a size of 0 means missing); WF_FLAT flat location
    U / D / L / R; CENTER_X / CENTER_Y the centre die (-32768 missing); POS_X "L" / "R" and POS_Y
    "U" / "D" the positive directions, read by :meth:`Orientation.from_wcr` (a blank one is taken
    as the prober convention, X right and Y down, and said so in ``notes``; any other letter is an
    error). The centre die becomes a reference device "Center".
    """
    notes: list[str] = []
    row = dict(wcr_row or {})
    if wcr_row is None:
        notes.append("no WCR record: sizes and flat unknown, X assumed to grow right and Y down")
    units = row.get("WF_UNITS") or 0
    mm_per_unit = _MM_PER_WCR_UNIT.get(int(units))

    def size_mm(name: str) -> float | None:
        value = row.get(name)
        if value is None or not np.isfinite(value) or value <= 0:
            return None
        if mm_per_unit is None:
            notes.append(f"WCR {name} = {value:g} in unknown WF_UNITS {units}: size left out")
            return None
        return float(value) * mm_per_unit

    wafer_mm, height_mm, width_mm = size_mm("WAFR_SIZ"), size_mm("DIE_HT"), size_mm("DIE_WID")
    flat = _text(row.get("WF_FLAT")).upper()
    if wcr_row is not None and flat not in _FLAT_DEGREES:
        notes.append(f"WCR WF_FLAT {flat!r} unknown: no flat orientation")
    if wcr_row is None:
        orientation = Orientation()  # the note above says it
    else:
        orientation = Orientation.from_wcr(row.get("POS_X"), row.get("POS_Y"))
        notes += orientation.notes
    center = (row.get("CENTER_X"), row.get("CENTER_Y"))
    references = ()
    if None not in center and -32768 not in center:
        references = (ReferenceDevice(int(center[0]), int(center[1]), "Center"),)
    return MapHeader(
        product_id=product_id or None,
        wafer_size_mm=None if wafer_mm is None else round(wafer_mm, 3),
        die_width_um=None if width_mm is None else round(width_mm * 1000, 3),
        die_height_um=None if height_mm is None else round(height_mm * 1000, 3),
        flat_orientation=_FLAT_DEGREES.get(flat),
        orientation=orientation,
        reference_devices=references,
        bins=tuple(sorted(bins, key=lambda b: b.code)),
        notes=tuple(notes),
    )


def _rows(table) -> list[dict]:
    if table is None:
        return []
    return table.to_pylist() if isinstance(table, pa.Table) else list(table)


def _bin_definitions(tables: Mapping, kind: str) -> tuple[BinDefinition, ...]:
    """Bin definitions from the HBR (``kind="hard"``) or SBR ("soft") records of an STDF file,
    read by :func:`silicio.yields.bins.bin_definitions` so a map file names and judges the bins
    as the report and the dashboard do. STDF V4, HBR / SBR: the summary records (HEAD_NUM 255)
    are used when present, else every head / site."""
    check_choice("kind", kind, ("hard", "soft"))
    table = tables.get("HBR" if kind == "hard" else "SBR")
    if table is not None and not isinstance(table, pa.Table):
        table = pa.Table.from_pylist(list(table))
    if table is None or table.num_rows == 0:
        return ()
    if "HEAD_NUM" in table.column_names:
        summary = table.filter(pc.equal(table["HEAD_NUM"], 255))
        table = summary if summary.num_rows else table
    return tuple(
        BinDefinition(int(r["bin"]), {"P": "Pass", "F": "Fail"}.get(r["pf"]), _text(r["name"]))
        for r in bin_definitions(table, kind).to_pylist()
    )


def header_from_stdf(tables: Mapping, kind: str = "hard") -> MapHeader:
    """The map header of an STDF file read by :func:`silicio.stdf.read`: WCR geometry, MIR
    PART_TYP as the product, HBR or SBR (``kind``) bin definitions."""
    wcr = _rows(tables.get("WCR"))
    distinct = {tuple(sorted((k, v) for k, v in r.items() if k not in ("seq", "offset"))) for r in wcr}
    if len(distinct) > 1:
        raise ValueError(
            f"the STDF tables hold {len(distinct)} different WCR records: map one file at a time"
        )
    mir = _rows(tables.get("MIR"))
    product = _text(mir[0].get("PART_TYP")) if mir else ""
    return geometry_from_wcr(wcr[0] if wcr else None, _bin_definitions(tables, kind), product or None)


# --------------------------------------------------------------------------------------------
# The array: WaferMap dies <-> rows and columns as written


@dataclass(frozen=True)
class _Array:
    """Rows x columns of bin codes as written (row 0 the top), with the header resolved."""

    header: MapHeader
    codes: np.ndarray  # int64, null cells hold the null code
    bins: tuple[BinDefinition, ...]  # written bin definitions, counts from the map
    null_code: int
    bin_type: str


def _quality_from_dies(wafer_map: WaferMap, code: int, what: str) -> str | None:
    if wafer_map.good is None:
        return None
    verdicts = set(np.asarray(wafer_map.good)[wafer_map.value == code].tolist())
    if len(verdicts) > 1:
        raise ValueError(f"{what}: bin {code} holds passing and failing dies; a bin is one or the other")
    return ("Pass" if verdicts.pop() else "Fail") if verdicts else None


def _array(wafer_map: WaferMap, header: MapHeader | None, what: str) -> _Array:
    """Lays the dies out as written, checking what a map file cannot say."""
    header = header or MapHeader()
    if wafer_map.kind != "bin":
        raise ValueError(f"{what} needs a bin map (kind 'bin'), got kind {wafer_map.kind!r}")
    x, y = np.asarray(wafer_map.x, np.int64), np.asarray(wafer_map.y, np.int64)
    value = np.asarray(wafer_map.value)
    if value.size and value.min() < 0:
        raise ValueError(
            f"{what}: {int((value < 0).sum())} dies have no bin (-1); a map file needs one per die"
        )
    value = value.astype(np.int64)
    if len(set(zip(x.tolist(), y.tolist(), strict=True))) != x.size:
        raise ValueError(f"{what}: two dies share an X/Y position; keep one bin per position")
    if header.rows is None or header.columns is None:
        if x.size == 0:
            raise ValueError(f"{what}: the map has no dies and the header no rows / columns")
        header = replace(header, origin=(int(x.min()), int(y.min())), rows=int(y.max() - y.min() + 1),
                         columns=int(x.max() - x.min() + 1))  # fmt: skip
    ox, oy = header.origin or (0, 0)
    # The drawings' layout rule (describe_map), over the header's array instead of the dies' span.
    col = header.orientation.columns(x, ox, ox + header.columns - 1)
    row = header.orientation.rows(y, oy, oy + header.rows - 1)
    outside = (col < 0) | (col >= header.columns) | (row < 0) | (row >= header.rows)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(f"{what}: die ({x[i]}, {y[i]}) lies outside the header's {header.rows} x "
                         f"{header.columns} array with origin {header.origin}")  # fmt: skip

    defined = {b.code: b for b in header.bins}
    codes_on_map = Counter(value.tolist())
    top = max([*codes_on_map, *defined], default=0)
    bin_type = header.bin_type or ("Decimal" if top < 255 else "Integer2")
    digits, radix, default_null = _BIN_TYPES[bin_type]
    null_code = default_null if header.null_code is None else header.null_code
    limit = 0x7F if bin_type == "Ascii" else radix**digits
    for code in [*codes_on_map, *defined, null_code]:
        if not (0x20 if bin_type == "Ascii" else 0) <= code < limit:
            raise ValueError(f"{what}: bin {code} does not fit BinType {bin_type}")
    if null_code in codes_on_map:
        raise ValueError(f"{what}: {codes_on_map[null_code]} dies carry bin {null_code}, the null bin of "
                         f"BinType {bin_type}")  # fmt: skip

    bins = []
    for code in sorted(set(codes_on_map) | set(defined)):
        given = defined.get(code, BinDefinition(code))
        from_dies = _quality_from_dies(wafer_map, code, what)
        quality = given.quality or from_dies
        if (
            given.quality
            and from_dies
            and given.quality.lower() in ("pass", "fail")
            and given.quality.lower() != from_dies.lower()
        ):
            raise ValueError(
                f"{what}: bin {code} is {given.quality} in the header but its dies are {from_dies}"
            )
        if quality is None:
            if code in codes_on_map:
                raise ValueError(f"{what}: pass / fail of bin {code} unknown (no verdicts on the map, none in "
                                 f"the header)")  # fmt: skip
            continue  # a bin no die has and no verdict: nothing a map reader could use
        bins.append(BinDefinition(code, quality, given.description, codes_on_map.get(code, 0)))
    grid = np.full((header.rows, header.columns), null_code, np.int64)
    grid[row, col] = value
    return _Array(header, grid, tuple(bins), null_code, bin_type)


def _code_text(code: int, bin_type: str) -> str:
    digits, radix, _ = _BIN_TYPES[bin_type]
    if bin_type == "Ascii":
        return chr(code)
    return f"{code:0{digits}d}" if radix == 10 else f"{code:0{digits}X}"


def _row_texts(array: _Array) -> list[str]:
    sep = " " if array.bin_type == "Decimal" else ""  # decimal codes are separated, the others fixed width
    table = {c: _code_text(c, array.bin_type) for c in np.unique(array.codes).tolist()}
    return [sep.join(table[c] for c in row) for row in array.codes.tolist()]


def _dies(array_codes: np.ndarray, header: MapHeader, null_code: int):
    """(x, y, code) of the non-null cells, row by row as written."""
    ox, oy = header.origin or (0, 0)
    row, col = np.nonzero(array_codes != null_code)
    o = header.orientation
    return (o.x_of_columns(col, ox, ox + header.columns - 1), o.y_of_rows(row, oy, oy + header.rows - 1),
            array_codes[row, col])  # fmt: skip


# --------------------------------------------------------------------------------------------
# Writing


_ATTR_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "\n": "&#10;",
    "\r": "&#13;",
    "\t": "&#9;",
}


def _esc(value) -> str:
    text = str(value)
    bad = [ch for ch in text if ord(ch) < 0x20 and ch not in "\t\n\r"]
    if bad:  # XML 1.0 cannot carry them, not even escaped
        raise ValueError(f"{text!r} holds control characters {bad!r} that an XML map cannot carry")
    return "".join(_ATTR_ESCAPES.get(ch, ch) for ch in text)


def _attrs(pairs: Iterable[tuple[str, object]]) -> str:
    return "".join(f' {name}="{_esc(value)}"' for name, value in pairs if value is not None)


def _num(value: float) -> str:
    """Shortest text of a size rounded to a thousandth of its unit (nm for dies, µm for wafers)."""
    text = f"{round(float(value), 3):.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _cdata(text: str) -> str:
    return f"<![CDATA[{text}]]>" if "]]>" not in text else _esc(text)


def _ids(wafer_map: WaferMap) -> tuple[str, str]:
    return wafer_map.wafer_id or "", wafer_map.lot_id or ""


def write_g85(wafer_map: WaferMap, header: MapHeader | None = None) -> str:
    """The bin map as SEMI G85 XML text (SEMI G85-0703, XML map format).

    ``Maps / Map`` (default namespace http://www.semi.org, SubstrateType, SubstrateId = wafer,
    FormatRevision) / ``Device`` (ProductId, LotId, WaferSize mm, DeviceSizeX / DeviceSizeY µm,
    Rows, Columns, Orientation, OriginLocation 1-4 from the axis directions, BinType, NullBin),
    its ``ReferenceDevice`` elements (the origin corner first), one ``Bin`` per code (BinCode,
    BinCount from the dies, BinQuality, BinDescription) and ``Data`` with one ``Row`` per map row,
    the top row first. Pass / fail comes from the header's bins, else from the dies' verdicts.
    """
    array = _array(wafer_map, header, "write_g85")
    h = array.header
    substrate_id, lot_id = _ids(wafer_map)
    device = _attrs([
        ("ProductId", h.product_id), ("LotId", lot_id),
        ("WaferSize", None if h.wafer_size_mm is None else _num(h.wafer_size_mm)),
        ("DeviceSizeX", None if h.die_width_um is None else _num(h.die_width_um)),
        ("DeviceSizeY", None if h.die_height_um is None else _num(h.die_height_um)),
        ("Rows", h.rows), ("Columns", h.columns),
        ("Orientation", None if h.flat_orientation is None else _num(h.flat_orientation)),
        ("OriginLocation", _G85_ORIGIN[h.orientation.axes]),
        ("BinType", "ASCII" if array.bin_type == "Ascii" else array.bin_type),
        ("NullBin", _code_text(array.null_code, array.bin_type)),
    ])  # fmt: skip
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<Maps>",
        f'  <Map xmlns="{G85_NAMESPACE}"'
        + _attrs(
            [
                ("SubstrateType", h.substrate_type),
                ("SubstrateId", substrate_id),
                ("FormatRevision", G85_FORMAT_REVISION),
            ]
        )
        + ">",  # fmt: skip
        f"    <Device{device}>",
    ]
    references = ([ReferenceDevice(*h.origin)] if h.origin is not None else []) + list(h.reference_devices)
    lines += [
        f'      <ReferenceDevice ReferenceDeviceX="{r.x}" ReferenceDeviceY="{r.y}"/>' for r in references
    ]
    for b in array.bins:
        pairs = [("BinCode", _code_text(b.code, array.bin_type)), ("BinCount", b.count), ("BinQuality", b.quality),
                 ("BinDescription", b.description or None)]  # fmt: skip
        lines.append(f"      <Bin{_attrs(pairs)}/>")
    lines.append(f"      <Data{_attrs([('MapName', wafer_map.label or 'BinMap'), ('MapVersion', 1)])}>")
    lines += [f"        <Row>{_cdata(text)}</Row>" for text in _row_texts(array)]
    lines += ["      </Data>", "    </Device>", "  </Map>", "</Maps>", ""]
    return "\n".join(lines)


def write_e142(wafer_map: WaferMap, header: MapHeader | None = None) -> str:
    """The bin map as a SEMI E142 substrate map (XML text, SEMI E142-1 schema V1005).

    ``Layouts``: a top-level wafer layout (``TopLevel="true"``, mm, one cell the size of the wafer)
    whose ``ChildLayouts`` point at the die layout (micron: ``Dimension`` columns x rows,
    ``DeviceSize``, ``ProductId``); ``Substrates``: the wafer with its LotId and GoodDevices;
    ``SubstrateMaps``: the wafer's map (Orientation, OriginLocation, AxisDirection, LayoutSpecifier
    "Wafer/Devices") with an ``Overlay`` holding the ``ReferenceDevices`` (the origin corner named
    "OriginLocation") and a ``BinCodeMap``: ``BinDefinitions`` (BinCode, BinCount, BinQuality,
    BinDescription) and one ``BinCode`` row per map row, the top row first.
    """
    array = _array(wafer_map, header, "write_e142")
    h = array.header
    substrate_id, lot_id = _ids(wafer_map)
    substrate = _attrs([("SubstrateType", h.substrate_type), ("SubstrateId", substrate_id)])
    good = sum(b.count for b in array.bins if (b.quality or "").lower() == "pass")
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<MapData xmlns="{E142_NAMESPACE}">',
        "  <Layouts>",
        '    <Layout LayoutId="Wafer" DefaultUnits="mm" TopLevel="true">',
        '      <Dimension X="1" Y="1"/>',
    ]
    if h.wafer_size_mm is not None:
        lines.append(f'      <DeviceSize X="{_num(h.wafer_size_mm)}" Y="{_num(h.wafer_size_mm)}"/>')
    lines += [
        "      <ChildLayouts>",
        '        <ChildLayout LayoutId="Devices"/>',
        "      </ChildLayouts>",
        "    </Layout>",
        '    <Layout LayoutId="Devices" DefaultUnits="micron">',
        f'      <Dimension X="{h.columns}" Y="{h.rows}"/>',
    ]
    if h.die_width_um is not None and h.die_height_um is not None:
        lines.append(f'      <DeviceSize X="{_num(h.die_width_um)}" Y="{_num(h.die_height_um)}"/>')
    if h.product_id is not None:
        lines.append(f"      <ProductId>{_esc(h.product_id)}</ProductId>")
    lines += ["    </Layout>", "  </Layouts>", "  <Substrates>", f"    <Substrate{substrate}>"]
    if lot_id:
        lines.append(f"      <LotId>{_esc(lot_id)}</LotId>")
    map_attrs = _attrs([
        ("LayoutSpecifier", "Wafer/Devices"),
        ("Orientation", None if h.flat_orientation is None else _num(h.flat_orientation)),
        ("OriginLocation", _E142_ORIGIN[h.orientation.axes]),
        ("AxisDirection", _E142_AXES[h.orientation.axes]),
    ])  # fmt: skip
    lines += [
        f"      <GoodDevices>{good}</GoodDevices>",
        "    </Substrate>",
        "  </Substrates>",
        "  <SubstrateMaps>",
        f"    <SubstrateMap{substrate}{map_attrs}>",
        f"      <Overlay{_attrs([('MapName', wafer_map.label or 'BinMap'), ('MapVersion', 1)])}>",
    ]
    references = ([ReferenceDevice(*h.origin, _ORIGIN_DEVICE)] if h.origin is not None else []) + list(
        h.reference_devices
    )
    if references:
        lines.append("        <ReferenceDevices>")
        for r in references:
            lines += [f"          <ReferenceDevice{_attrs([('Name', r.name)])}>",
                      f'            <Coordinates X="{r.x}" Y="{r.y}"/>',
                      "          </ReferenceDevice>"]  # fmt: skip
        lines.append("        </ReferenceDevices>")
    lines.append(
        f"        <BinCodeMap{_attrs([('BinType', array.bin_type), ('NullBin', _code_text(array.null_code, array.bin_type))])}>"
    )
    lines.append("          <BinDefinitions>")
    for b in array.bins:
        pairs = [("BinCode", _code_text(b.code, array.bin_type)), ("BinCount", b.count), ("BinQuality", b.quality),
                 ("BinDescription", b.description or None)]  # fmt: skip
        lines.append(f"            <BinDefinition{_attrs(pairs)}/>")
    lines.append("          </BinDefinitions>")
    lines += [f"          <BinCode>{_cdata(text)}</BinCode>" for text in _row_texts(array)]
    lines += ["        </BinCodeMap>", "      </Overlay>", "    </SubstrateMap>", "  </SubstrateMaps>",
              "</MapData>", ""]  # fmt: skip
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Reading


Source = str | bytes | os.PathLike


class _Reader:
    """Parsing state of one file: its name for messages and the problems found."""

    def __init__(self, source: Source, what: str, strict: bool):
        if isinstance(source, bytes):
            self.name, text = f"<{what} bytes>", source
        elif isinstance(source, str) and source.lstrip().startswith("<"):
            self.name, text = f"<{what} text>", source
        else:
            self.name = os.fspath(source)
            try:
                text = Path(source).read_bytes()
            except OSError as exc:
                raise ValueError(f"{self.name}: cannot read the {what} file: {exc.strerror or exc}") from None
        try:
            self.root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise ValueError(f"{self.name}: not well-formed XML ({exc})") from None
        self.strict = strict
        self.problems: list[str] = []

    def fail(self, where: str, what: str) -> ValueError:
        return ValueError(f"{self.name}: {where}: {what}")

    def problem(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def finish(self) -> tuple[str, ...]:
        if self.problems and self.strict:
            raise ValueError(f"{self.name}: " + "; ".join(self.problems))
        return tuple(self.problems)

    def attr(self, element: ET.Element, name: str, where: str, required: bool = True) -> str | None:
        value = element.get(name)
        if value is None and required:
            raise self.fail(where, f"attribute {name} missing")
        return value

    def number(self, element, name, where, kind=float, required=False):
        text = self.attr(element, name, where, required)
        if text is None or text.strip() == "":
            return None
        try:
            return kind(text)
        except ValueError:
            raise self.fail(
                where, f"{name}={text!r} is not a{'n integer' if kind is int else ' number'}"
            ) from None


def _local(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child) == name]


def _one(
    reader: _Reader, element: ET.Element, name: str, where: str, required: bool = True
) -> ET.Element | None:
    found = _children(element, name)
    if len(found) > 1 or (required and not found):
        raise reader.fail(where, f"expected one {name} element, found {len(found)}")
    return found[0] if found else None


def _bin_type(reader: _Reader, text: str, where: str) -> str:
    for name in _BIN_TYPES:
        if text.lower() == name.lower():
            return name
    raise reader.fail(where, f"BinType {text!r} is not one of ASCII, Decimal, HexaDecimal, Integer2")


def _parse_code(reader: _Reader, text: str, bin_type: str, where: str) -> int:
    if bin_type == "Ascii":
        if len(text) != 1:
            raise reader.fail(where, f"ASCII bin code {text!r} is not one character")
        return ord(text)
    try:
        return int(text.strip(), _BIN_TYPES[bin_type][1])
    except ValueError:
        raise reader.fail(where, f"bin code {text!r} is not {bin_type}") from None


def _cells(text: str | None, bin_type: str) -> list[str]:
    """The bin codes of a row: single characters (ASCII), whitespace-separated codes, or
    fixed-width hexadecimal codes written without separators."""
    text = text or ""
    if bin_type == "Ascii":
        return list(text.strip("\r\n\t"))  # a space may be a bin code: keep spaces
    if any(ch.isspace() for ch in text.strip()):
        return text.split()
    width = _BIN_TYPES[bin_type][0]
    text = text.strip()
    if bin_type == "Decimal" or len(text) % width:
        return [text] if text else []
    return [text[i : i + width] for i in range(0, len(text), width)]


def _parse_row(reader: _Reader, text: str | None, bin_type: str, columns: int, where: str) -> list[int]:
    cells = _cells(text, bin_type)
    if len(cells) != columns:
        raise reader.fail(where, f"{len(cells)} bin codes, expected {columns} (the map's columns)")
    return [_parse_code(reader, cell, bin_type, where) for cell in cells]


def _finish_read(
    reader: _Reader,
    header: MapHeader,
    rows_text: list[str | None],
    definitions: list[tuple[BinDefinition, str]],
    ids: tuple[str | None, str | None],
    label: str | None,
    data_where: str,
    row_tag: str,
    good_devices: int | None = None,
) -> tuple[WaferMap, MapHeader]:
    """Rows and bin definitions -> the WaferMap and the completed header, checking counts."""
    bin_type, null_code = header.bin_type, header.null_code
    if header.rows is None:
        reader.problem(data_where, f"the map does not say its Rows: {len(rows_text)} taken from the data")
        header = replace(header, rows=len(rows_text))
    if header.columns is None:
        columns = len(_cells(rows_text[0], bin_type)) if rows_text else 0
        reader.problem(data_where, f"the map does not say its Columns: {columns} taken from the first row")
        header = replace(header, columns=columns)
    if len(rows_text) != header.rows:
        raise reader.fail(data_where, f"{len(rows_text)} rows, expected {header.rows} (the map's rows)")
    grid = np.array([_parse_row(reader, t, bin_type, header.columns, f"{data_where}/{row_tag}[{i + 1}]")
                     for i, t in enumerate(rows_text)], dtype=np.int64).reshape(header.rows, header.columns)  # fmt: skip
    counts = Counter(grid[grid != null_code].tolist())
    defined: dict[int, BinDefinition] = {}
    for definition, where in definitions:
        if definition.code in defined:
            reader.problem(where, f"bin {definition.code} defined twice")
            continue
        if definition.code == null_code:
            reader.problem(where, f"bin {definition.code} is also the NullBin")
        found = counts.get(definition.code, 0)
        if definition.count is not None and definition.count != found:
            reader.problem(where, f"BinCount {definition.count} but the data hold {found} dies of bin "
                                  f"{_code_text(definition.code, bin_type)!r}")  # fmt: skip
        defined[definition.code] = replace(definition, count=found)
    unknown = sorted(set(counts) - set(defined))
    if unknown:
        listed = ", ".join(f"{_code_text(c, bin_type)!r} ({counts[c]} dies)" for c in unknown)
        reader.problem(data_where, f"bin codes without a bin definition: {listed}")
    x, y, codes = _dies(grid, header, null_code)
    passing = {c for c, b in defined.items() if (b.quality or "").lower() == "pass"}
    if good_devices is not None and good_devices != sum(counts[c] for c in passing):
        reader.problem("Substrate/GoodDevices", f"{good_devices} but the data hold {sum(counts[c] for c in passing)} "
                                                f"dies of passing bins")  # fmt: skip
    notes = reader.finish()
    header = replace(header, bins=tuple(sorted(defined.values(), key=lambda b: b.code)), notes=notes)
    substrate_id, lot_id = ids
    wafer_map = WaferMap(x.astype(np.int64), y.astype(np.int64), codes.astype(np.int64), "bin", lot_id or None,
                         substrate_id or None, label, good=np.isin(codes, list(passing)))  # fmt: skip
    return wafer_map, header


def _pick(
    reader: _Reader, candidates: list[tuple[str | None, ET.Element]], substrate_id: str | None, what: str
):
    if substrate_id is not None:
        candidates = [c for c in candidates if c[0] == substrate_id]
    if len(candidates) != 1:
        found = [c[0] for c in candidates]
        raise reader.fail(what, f"expected one map{'' if substrate_id is None else f' of substrate {substrate_id!r}'}, "
                                f"found {len(candidates)} {found}: pass substrate_id")  # fmt: skip
    return candidates[0][1]


def read_g85(
    source: Source, substrate_id: str | None = None, strict: bool = True
) -> tuple[WaferMap, MapHeader]:
    """A SEMI G85 XML map (file path, or the XML text / bytes) as a WaferMap and its header.

    Reads what :func:`write_g85` writes and G85 maps from other tools: any namespace (the G85-0703
    default namespace, the older ``xmlns:semi`` prefix or none), ``Maps`` or a lone ``Map`` root,
    SubstrateId (or the older WaferId). The first ``ReferenceDevice`` is the origin corner's
    coordinates (see the module notes). Rows of the wrong length, a row count other than Rows,
    a missing required attribute or an unknown BinType raise ValueError naming the file and the
    element; bin codes without a ``Bin``, BinCounts that differ from the data and duplicate bins
    raise too, or with ``strict=False`` are listed in the header's ``notes``; so are missing
    Rows / Columns (taken from the data), which the standard requires.
    """
    return _read_g85(_Reader(source, "G85", strict), substrate_id)


def _read_g85(reader: _Reader, substrate_id: str | None) -> tuple[WaferMap, MapHeader]:
    root = reader.root
    if _local(root) == "Maps":
        maps = _children(root, "Map")
    elif _local(root) == "Map":
        maps = [root]
    else:
        raise reader.fail(_local(root), "expected a Maps (or Map) root element of a SEMI G85 map")
    map_el = _pick(reader, [(m.get("SubstrateId", m.get("WaferId")), m) for m in maps], substrate_id, "Maps")
    where = "Map/Device"
    device = _one(reader, map_el, "Device", "Map")
    bin_type = _bin_type(reader, reader.attr(device, "BinType", where), where)
    null_code = _parse_code(reader, reader.attr(device, "NullBin", where), bin_type, f"{where}/@NullBin")
    origin_location = reader.number(device, "OriginLocation", where, int, required=True)
    orientation = {v: k for k, v in _G85_ORIGIN.items()}.get(origin_location)
    if orientation is None:
        raise reader.fail(where, f"OriginLocation {origin_location} unsupported: expected 1 (upper right), "
                                 f"2 (upper left), 3 (lower left) or 4 (lower right)")  # fmt: skip
    references = []
    for i, ref in enumerate(_children(device, "ReferenceDevice")):
        ref_where = f"{where}/ReferenceDevice[{i + 1}]"
        references.append(ReferenceDevice(reader.number(ref, "ReferenceDeviceX", ref_where, int, True),
                                          reader.number(ref, "ReferenceDeviceY", ref_where, int, True)))  # fmt: skip
    definitions = []
    for i, b in enumerate(_children(device, "Bin")):
        bin_where = f"{where}/Bin[{i + 1}]"
        code = _parse_code(reader, reader.attr(b, "BinCode", bin_where), bin_type, bin_where)
        definitions.append((BinDefinition(code, b.get("BinQuality"), b.get("BinDescription") or "",
                                          reader.number(b, "BinCount", bin_where, int)), bin_where))  # fmt: skip
    data = _one(reader, device, "Data", where)
    header = MapHeader(
        product_id=device.get("ProductId") or None,
        wafer_size_mm=reader.number(device, "WaferSize", where),
        die_width_um=reader.number(device, "DeviceSizeX", where),
        die_height_um=reader.number(device, "DeviceSizeY", where),
        flat_orientation=reader.number(device, "Orientation", where),
        orientation=orientation,
        origin=(references[0].x, references[0].y) if references else None,
        rows=reader.number(device, "Rows", where, int),
        columns=reader.number(device, "Columns", where, int),
        reference_devices=tuple(references[1:]),
        bin_type=bin_type,
        null_code=null_code,
        substrate_type=map_el.get("SubstrateType") or "Wafer",
    )
    rows = [row.text for row in _children(data, "Row")]
    ids = (map_el.get("SubstrateId", map_el.get("WaferId")), device.get("LotId"))
    return _finish_read(reader, header, rows, definitions, ids, data.get("MapName"), f"{where}/Data", "Row")


def _size(reader: _Reader, layout: ET.Element, where: str, to: float) -> tuple[float | None, float | None]:
    """DeviceSize X / Y of a layout converted from its DefaultUnits (mm per ``to`` unit)."""
    size = _one(reader, layout, "DeviceSize", where, required=False)
    if size is None:
        return None, None
    units = (layout.get("DefaultUnits") or "").strip().lower()
    if units not in _MM_PER_E142_UNIT:
        raise reader.fail(where, f"DefaultUnits {layout.get('DefaultUnits')!r} unknown: expected mm, micron, cm, "
                                 f"inch or mil")  # fmt: skip
    factor = _MM_PER_E142_UNIT[units] / to
    x, y = (reader.number(size, axis, f"{where}/DeviceSize", required=True) for axis in ("X", "Y"))
    return round(x * factor, 3), round(y * factor, 3)


def read_e142(
    source: Source, substrate_id: str | None = None, strict: bool = True
) -> tuple[WaferMap, MapHeader]:
    """A SEMI E142 substrate map (file path, or the XML text / bytes) as a WaferMap and its header.

    The die array is the child layout of the top-level layout (``TopLevel="true"``) or the only
    layout; sizes are converted from its ``DefaultUnits``. The substrate map needs an
    ``AxisDirection`` and a corner ``OriginLocation`` agreeing with it, and a 2-D ``BinCodeMap``
    (one ``BinCode`` element per row). The reference device named "OriginLocation" gives the
    origin corner's coordinates. Errors and checks as for :func:`read_g85`; GoodDevices is
    checked against the dies of passing bins.
    """
    return _read_e142(_Reader(source, "E142", strict), substrate_id)


def _read_e142(reader: _Reader, substrate_id: str | None) -> tuple[WaferMap, MapHeader]:
    root = reader.root
    if _local(root) != "MapData":
        raise reader.fail(_local(root), "expected a MapData root element of a SEMI E142 map")
    layouts = {
        lay.get("LayoutId"): lay for lay in _children(_one(reader, root, "Layouts", "MapData"), "Layout")
    }
    top = [lay for lay in layouts.values() if (lay.get("TopLevel") or "").lower() == "true"]
    if len(top) > 1:
        raise reader.fail("Layouts", f'{len(top)} layouts have TopLevel="true", expected one')
    wafer_layout = top[0] if top else None
    if wafer_layout is not None:
        children = [c.get("LayoutId") for c in wafer_layout.iter() if _local(c) == "ChildLayout"]
        if len(children) != 1 or children[0] not in layouts:
            raise reader.fail(f"Layout {wafer_layout.get('LayoutId')!r}/ChildLayouts",
                              f"expected one ChildLayout naming a Layout, found {children}")  # fmt: skip
        device_layout = layouts[children[0]]
    elif len(layouts) == 1:
        device_layout = next(iter(layouts.values()))
    else:
        raise reader.fail("Layouts", f"{len(layouts)} layouts and none TopLevel: cannot tell the die array")
    layout_where = f"Layout {device_layout.get('LayoutId')!r}"
    dimension = _one(reader, device_layout, "Dimension", layout_where)
    die_w, die_h = _size(reader, device_layout, layout_where, 1e-3)
    wafer_size = None
    if wafer_layout is not None:
        wafer_size, wafer_y = _size(reader, wafer_layout, f"Layout {wafer_layout.get('LayoutId')!r}", 1.0)
        if wafer_size != wafer_y:
            reader.problem(f"Layout {wafer_layout.get('LayoutId')!r}/DeviceSize",
                           f"a round wafer has one diameter, got X {wafer_size} and Y {wafer_y}")  # fmt: skip
    product = _one(reader, device_layout, "ProductId", layout_where, required=False)

    maps = [(m.get("SubstrateId"), m) for m in _children(_one(reader, root, "SubstrateMaps", "MapData"), "SubstrateMap")
            if any(_local(e) == "BinCodeMap" for e in m.iter())]  # fmt: skip
    smap = _pick(reader, maps, substrate_id, "SubstrateMaps")
    sid = smap.get("SubstrateId")
    where = f"SubstrateMap {sid!r}"
    axis = reader.attr(smap, "AxisDirection", where)
    orientation = {v: k for k, v in _E142_AXES.items()}.get(axis)
    if orientation is None:
        raise reader.fail(where, f"AxisDirection {axis!r} is not UpRight, DownRight, UpLeft or DownLeft")
    origin_location = smap.get("OriginLocation")
    if origin_location is not None and origin_location != _E142_ORIGIN[orientation]:
        raise reader.fail(where, f"OriginLocation {origin_location!r} with AxisDirection {axis!r}: expected "
                                 f"{_E142_ORIGIN[orientation]!r} (origin at the corner the axes grow from)")  # fmt: skip
    overlay = next((o for o in _children(smap, "Overlay") if _children(o, "BinCodeMap")), None)
    if overlay is None:
        raise reader.fail(where, "expected an Overlay holding the BinCodeMap")
    code_map = _one(reader, overlay, "BinCodeMap", f"{where}/Overlay")
    cm_where = f"{where}/BinCodeMap"
    if (code_map.get("MapType") or "2DArray").lower() not in ("2darray", "array"):
        raise reader.fail(
            cm_where, f"MapType {code_map.get('MapType')!r} unsupported: expected a 2DArray of rows"
        )
    bin_type = _bin_type(reader, reader.attr(code_map, "BinType", cm_where), cm_where)
    null_code = _parse_code(
        reader, reader.attr(code_map, "NullBin", cm_where), bin_type, f"{cm_where}/@NullBin"
    )
    origin, references = None, []
    refs = _one(reader, overlay, "ReferenceDevices", f"{where}/Overlay", required=False)
    for i, ref in enumerate(_children(refs, "ReferenceDevice") if refs is not None else []):
        ref_where = f"{where}/ReferenceDevice[{i + 1}]"
        xy = _one(reader, ref, "Coordinates", ref_where)
        device = ReferenceDevice(reader.number(xy, "X", ref_where, int, True), reader.number(xy, "Y", ref_where, int, True),
                                 ref.get("Name"))  # fmt: skip
        if device.name == _ORIGIN_DEVICE and origin is None:
            origin = (device.x, device.y)
        else:
            references.append(device)
    definitions = []
    bin_defs = _one(reader, code_map, "BinDefinitions", cm_where, required=False)
    for i, b in enumerate(_children(bin_defs, "BinDefinition") if bin_defs is not None else []):
        bin_where = f"{cm_where}/BinDefinition[{i + 1}]"
        code = _parse_code(reader, reader.attr(b, "BinCode", bin_where), bin_type, bin_where)
        definitions.append((BinDefinition(code, b.get("BinQuality"), b.get("BinDescription") or "",
                                          reader.number(b, "BinCount", bin_where, int)), bin_where))  # fmt: skip
    substrates_el = _one(reader, root, "Substrates", "MapData", required=False)
    substrates = [s for s in (_children(substrates_el, "Substrate") if substrates_el is not None else [])
                  if s.get("SubstrateId") == sid]  # fmt: skip
    lot = good = None
    if substrates:
        lot_el = _one(reader, substrates[0], "LotId", f"Substrate {sid!r}", required=False)
        lot = None if lot_el is None else (lot_el.text or "").strip()
        good_el = _one(reader, substrates[0], "GoodDevices", f"Substrate {sid!r}", required=False)
        if good_el is not None:
            try:
                good = int((good_el.text or "").strip())
            except ValueError:
                raise reader.fail(
                    f"Substrate {sid!r}/GoodDevices", f"{good_el.text!r} is not an integer"
                ) from None
    header = MapHeader(
        product_id=None if product is None else (product.text or "").strip() or None,
        wafer_size_mm=wafer_size,
        die_width_um=die_w,
        die_height_um=die_h,
        flat_orientation=reader.number(smap, "Orientation", where),
        orientation=orientation,
        origin=origin,
        rows=reader.number(dimension, "Y", f"{layout_where}/Dimension", int, required=True),
        columns=reader.number(dimension, "X", f"{layout_where}/Dimension", int, required=True),
        reference_devices=tuple(references),
        bin_type=bin_type,
        null_code=null_code,
        substrate_type=smap.get("SubstrateType") or "Wafer",
    )
    rows = [row.text for row in _children(code_map, "BinCode")]
    return _finish_read(
        reader, header, rows, definitions, (sid, lot), overlay.get("MapName"), cm_where, "BinCode", good
    )


def read_map(
    source: Source, substrate_id: str | None = None, strict: bool = True
) -> tuple[str, WaferMap, MapHeader]:
    """A map file of either format, told by its root element: ``("g85", map, header)`` for a
    ``Maps`` or ``Map`` root (:func:`read_g85`), ``("e142", map, header)`` for ``MapData``
    (:func:`read_e142`); any other document is a ValueError naming the file and its root."""
    reader = _Reader(source, "map", strict)
    root = _local(reader.root)
    if root in ("Maps", "Map"):
        return ("g85", *_read_g85(reader, substrate_id))
    if root == "MapData":
        return ("e142", *_read_e142(reader, substrate_id))
    raise reader.fail(
        root, "not a wafer map: expected the root element Maps (SEMI G85) or MapData (SEMI E142)"
    )
