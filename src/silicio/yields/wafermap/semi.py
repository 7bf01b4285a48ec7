"""Bin maps exported as SEMI E142 and SEMI G85 XML.

Rows of the exported grid run from the smallest Y to the largest, columns from the smallest X,
so the grid's origin is the upper-left die when Y grows downwards (the usual prober convention;
STDF WCR POS_X / POS_Y tell the actual directions and are not applied here).

References
----------
SEMI E142-0211, *Specification for Substrate Mapping*, with its XML schema
``urn:semi-org:xsd.E142-1.V1005.SubstrateMap`` (Layouts, Substrates, SubstrateMaps, BinCodeMap).

SEMI G85-0703, *Specification for Map Data Items* (the XML wafer map: ``Maps / Map / Device``
with Rows, Columns, BinType, NullBin, one ``Bin`` per code and ``Data / Row`` lines).
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.etree import ElementTree as ET

import numpy as np

from .maps import WaferMap

__all__ = ["E142_NAMESPACE", "to_e142_xml", "to_g85_xml"]

E142_NAMESPACE = "urn:semi-org:xsd.E142-1.V1005.SubstrateMap"


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
