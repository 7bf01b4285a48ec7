"""SEMI G85 and E142 wafer-map files: written, read back exactly, oriented by STDF WCR, and read by an
independent G85 reader. Expected rows and counts are written out by hand or computed from the parts
table, never through the module under test."""

from __future__ import annotations

import io
import os
from xml.etree import ElementTree as ET

import numpy as np
import polars as pl
import pytest

from silicio.stdf import read
from silicio.stdf.parts import parts
from silicio.yields.wafermap import (
    E142_NAMESPACE,
    G85_NAMESPACE,
    BinDefinition,
    MapHeader,
    Orientation,
    ReferenceDevice,
    WaferMap,
    bin_map,
    geometry_from_wcr,
    header_from_stdf,
    read_e142,
    read_g85,
    read_map,
    write_e142,
    write_g85,
)
from tests.conftest import shared_stdf

G85 = f"{{{G85_NAMESPACE}}}"
E142 = f"{{{E142_NAMESPACE}}}"

# Three dies: (0, 0) bin 1, (1, 0) bin 2, (0, 1) bin 3; bin 1 passes.
SMALL = WaferMap(np.array([0, 1, 0]), np.array([0, 0, 1]), np.array([1, 2, 3]), "bin", "L1", "W1", "hard bin",
                 good=np.array([True, False, False]))  # fmt: skip


def dies(wafer_map: WaferMap) -> dict[tuple[int, int], int]:
    return {
        (int(x), int(y)): int(v) for x, y, v in zip(wafer_map.x, wafer_map.y, wafer_map.value, strict=True)
    }


def g85_rows(text: str) -> list[str]:
    return [row.text for row in ET.fromstring(text).iter(f"{G85}Row")]


def e142_rows(text: str) -> list[str]:
    return [row.text for row in ET.fromstring(text).iter(f"{E142}BinCode")]


# --------------------------------------------------------------------------------------------
# Orientation: the first row is the top of the map as the axes say


@pytest.mark.parametrize(
    ("x_dir", "y_dir", "rows", "g85_origin", "e142_origin", "e142_axes"),
    [
        ("R", "U", ["003 255", "001 002"], "3", "LowerLeft", "UpRight"),
        ("R", "D", ["001 002", "003 255"], "2", "UpperLeft", "DownRight"),
        ("L", "U", ["255 003", "002 001"], "4", "LowerRight", "UpLeft"),
        ("L", "D", ["002 001", "255 003"], "1", "UpperRight", "DownLeft"),
    ],
)
def test_rows_follow_the_axis_directions(x_dir, y_dir, rows, g85_origin, e142_origin, e142_axes):
    header = MapHeader(orientation=Orientation.from_wcr(x_dir, y_dir))
    g85 = write_g85(SMALL, header)
    assert g85_rows(g85) == rows
    device = ET.fromstring(g85).find(f"{G85}Map/{G85}Device")
    assert device.get("OriginLocation") == g85_origin
    e142 = write_e142(SMALL, header)
    assert e142_rows(e142) == rows
    smap = ET.fromstring(e142).find(f"{E142}SubstrateMaps/{E142}SubstrateMap")
    assert (smap.get("OriginLocation"), smap.get("AxisDirection")) == (e142_origin, e142_axes)
    for text, reader, writer in ((g85, read_g85, write_g85), (e142, read_e142, write_e142)):
        back, back_header = reader(text)
        assert dies(back) == {(0, 0): 1, (1, 0): 2, (0, 1): 3}
        assert (back_header.orientation.pos_x, back_header.orientation.pos_y, back_header.origin) == (
            x_dir,
            y_dir,
            (0, 0),
        )
        assert writer(back, back_header) == text


def test_g85_document_is_conformant():
    header = MapHeader(product_id="P7", wafer_size_mm=200.0, die_width_um=5000.0, die_height_um=4000.5,
                       flat_orientation=0.0, reference_devices=(ReferenceDevice(5, 6),),
                       bins=(BinDefinition(1, "Pass", "good"), BinDefinition(2, None, "leakage"),
                             BinDefinition(3, "Fail", "open & short")))  # fmt: skip
    root = ET.fromstring(write_g85(SMALL, header))
    wafer = root.find(f"{G85}Map")  # the default namespace, not a prefix
    assert wafer.attrib == {"SubstrateType": "Wafer", "SubstrateId": "W1", "FormatRevision": "SEMI G85 0703"}
    device = wafer.find(f"{G85}Device")
    assert {k: device.get(k) for k in ("ProductId", "LotId", "WaferSize", "DeviceSizeX", "DeviceSizeY", "Rows",
                                       "Columns", "Orientation", "BinType", "NullBin")} == {
        "ProductId": "P7", "LotId": "L1", "WaferSize": "200", "DeviceSizeX": "5000", "DeviceSizeY": "4000.5",
        "Rows": "2", "Columns": "2", "Orientation": "0", "BinType": "Decimal", "NullBin": "255"}  # fmt: skip
    refs = [
        (r.get("ReferenceDeviceX"), r.get("ReferenceDeviceY")) for r in device.iter(f"{G85}ReferenceDevice")
    ]
    assert refs == [("0", "0"), ("5", "6")]  # the origin corner first
    bins = [(b.get("BinCode"), b.get("BinCount"), b.get("BinQuality"), b.get("BinDescription"))
            for b in device.iter(f"{G85}Bin")]  # fmt: skip
    assert bins == [
        ("001", "1", "Pass", "good"),
        ("002", "1", "Fail", "leakage"),
        ("003", "1", "Fail", "open & short"),
    ]


def test_e142_document_has_a_top_level_wafer_and_a_die_layout():
    header = MapHeader(product_id="P7", wafer_size_mm=300.0, die_width_um=1200.0, die_height_um=800.0,
                       bins=(BinDefinition(1, "Pass", "good"),))  # fmt: skip
    root = ET.fromstring(write_e142(SMALL, header))
    layouts = {lay.get("LayoutId"): lay for lay in root.iter(f"{E142}Layout")}
    top = [lay for lay in layouts.values() if lay.get("TopLevel") == "true"]
    assert len(top) == 1
    child = top[0].find(f"{E142}ChildLayouts/{E142}ChildLayout").get("LayoutId")
    assert child in layouts  # the schema's ChildLayout -> Layout key reference
    wafer_size = top[0].find(f"{E142}DeviceSize")
    assert (top[0].get("DefaultUnits"), wafer_size.get("X"), wafer_size.get("Y")) == ("mm", "300", "300")
    dies_layout = layouts[child]
    assert dies_layout.find(f"{E142}Dimension").attrib == {"X": "2", "Y": "2"}
    assert dies_layout.find(f"{E142}DeviceSize").attrib == {"X": "1200", "Y": "800"}
    assert dies_layout.find(f"{E142}ProductId").text == "P7"
    substrate = root.find(f"{E142}Substrates/{E142}Substrate")
    smap = root.find(f"{E142}SubstrateMaps/{E142}SubstrateMap")
    # SubstrateMap refers to the substrate, and its layout path resolves
    assert (smap.get("SubstrateType"), smap.get("SubstrateId")) == (substrate.get("SubstrateType"), "W1")
    assert smap.get("LayoutSpecifier") == f"{top[0].get('LayoutId')}/{child}"
    assert substrate.find(f"{E142}LotId").text == "L1"
    assert substrate.find(f"{E142}GoodDevices").text == "1"
    origin = smap.find(f"{E142}Overlay/{E142}ReferenceDevices/{E142}ReferenceDevice")
    assert origin.get("Name") == "OriginLocation"
    assert origin.find(f"{E142}Coordinates").attrib == {"X": "0", "Y": "0"}
    definitions = [d.attrib for d in smap.iter(f"{E142}BinDefinition")]
    assert definitions[0] == {
        "BinCode": "001",
        "BinCount": "1",
        "BinQuality": "Pass",
        "BinDescription": "good",
    }
    assert [d["BinQuality"] for d in definitions[1:]] == ["Fail", "Fail"]  # from the dies' verdicts


def test_large_bins_are_written_as_integer2_and_read_back():
    wafer_map = WaferMap(np.array([3, 4]), np.array([7, 7]), np.array([1, 700]), "bin", None, "W9",
                         good=np.array([True, False]))  # fmt: skip
    for writer, reader, rows in ((write_g85, read_g85, g85_rows), (write_e142, read_e142, e142_rows)):
        text = writer(wafer_map)
        assert rows(text) == ["000102BC"]
        back, header = reader(text)
        assert (header.bin_type, header.null_code, header.origin) == ("Integer2", 0xFFFF, (3, 7))
        assert dies(back) == {(3, 7): 1, (4, 7): 700}
        assert writer(back, header) == text


# --------------------------------------------------------------------------------------------
# Reading maps written by hand the way the standard shows them

# SEMI G85-0703 XML form: default namespace on Map, SubstrateType / SubstrateId, an ASCII map with
# "." as the null bin, origin upper left (2), one reference device.
G85_STANDARD_FORM = """<?xml version="1.0" encoding="UTF-8"?>
<Maps>
  <Map xmlns="http://www.semi.org" SubstrateType="Wafer" SubstrateId="W07" FormatRevision="SEMI G85 0703">
    <Device ProductId="P1" LotId="L42" CreateDate="20030411120000000" SupplierName="Fab" WaferSize="200"
            DeviceSizeX="5000" DeviceSizeY="4000" Rows="3" Columns="4" Orientation="180" OriginLocation="2"
            BinType="ASCII" NullBin=".">
      <ReferenceDevice ReferenceDeviceX="1" ReferenceDeviceY="1"/>
      <Bin BinCode="1" BinCount="5" BinQuality="Pass" BinDescription="Good die"/>
      <Bin BinCode="X" BinCount="2" BinQuality="Fail" BinDescription="Inked"/>
      <Data MapName="Map" MapVersion="1">
        <Row><![CDATA[.11.]]></Row>
        <Row><![CDATA[1X11]]></Row>
        <Row><![CDATA[.X..]]></Row>
      </Data>
    </Device>
  </Map>
</Maps>
"""

# The older G85 XML form (WaferId, prefixed namespace, decimal rows with a trailing space).
G85_OLDER_FORM = """<?xml version="1.0"?>
<Maps>
  <Map xmlns:semi="http://www.semi.org" WaferId="1" FormatRevision="G85-1101">
    <Device ProductId="g92" LotId="" Rows="2" Columns="3" Orientation="0" OriginLocation="3" BinType="Decimal"
            NullBin="255">
      <Bin BinCode="0" BinQuality="Fail" BinCount="1" BinDescription=""/>
      <Bin BinCode="1" BinQuality="Pass" BinCount="3" BinDescription=""/>
      <Data MapName="Map" MapVersion="6">
        <Row><![CDATA[255 001 000 ]]></Row>
        <Row><![CDATA[001 001 255 ]]></Row>
      </Data>
    </Device>
  </Map>
</Maps>
"""


def test_reads_the_standard_example_form():
    wafer_map, header = read_g85(G85_STANDARD_FORM)
    # Origin upper left at (1, 1): X grows right, Y down, so row r is Y = 1 + r, column c is X = 1 + c.
    one, ink = ord("1"), ord("X")
    assert dies(wafer_map) == {(2, 1): one, (3, 1): one, (1, 2): one, (2, 2): ink, (3, 2): one, (4, 2): one,
                               (2, 3): ink}  # fmt: skip
    assert {(int(x), int(y)) for x, y, g in zip(wafer_map.x, wafer_map.y, wafer_map.good, strict=True) if g} == {
        (2, 1), (3, 1), (1, 2), (3, 2), (4, 2)}  # fmt: skip
    assert (wafer_map.lot_id, wafer_map.wafer_id) == ("L42", "W07")
    assert (header.product_id, header.wafer_size_mm, header.die_width_um, header.die_height_um) == (
        "P1", 200.0, 5000.0, 4000.0)  # fmt: skip
    assert (header.flat_location, header.orientation, header.origin) == (
        "U",
        Orientation("right", "down"),
        (1, 1),
    )
    assert header.bins == (BinDefinition(one, "Pass", "Good die", 5), BinDefinition(ink, "Fail", "Inked", 2))
    again, again_header = read_g85(write_g85(wafer_map, header))
    assert dies(again) == dies(wafer_map) and again_header == header
    assert g85_rows(write_g85(wafer_map, header)) == [".11.", "1X11", ".X.."]


def test_reads_the_older_g85_form():
    wafer_map, header = read_g85(G85_OLDER_FORM)
    # Origin lower left, no reference device: array positions, the bottom row is Y = 0.
    assert dies(wafer_map) == {(1, 1): 1, (2, 1): 0, (0, 0): 1, (1, 0): 1}
    assert (wafer_map.wafer_id, wafer_map.lot_id, header.origin) == ("1", None, None)
    again, again_header = read_g85(write_g85(wafer_map, header))
    assert dies(again) == dies(wafer_map) and again_header == header


def test_read_map_tells_the_format_by_the_root_element():
    kind, wafer_map, header = read_map(G85_STANDARD_FORM)
    assert (kind, wafer_map.wafer_id, header.code_text(ord("X"))) == ("g85", "W07", "X")
    kind, wafer_map, header = read_map(write_e142(SMALL).encode())
    assert (kind, dies(wafer_map), header.code_text(3)) == ("e142", {(0, 0): 1, (1, 0): 2, (0, 1): 3}, "003")
    assert read_map(G85_OLDER_FORM.replace("<Maps>", "").replace("</Maps>", ""))[0] == "g85"  # a lone Map
    with pytest.raises(ValueError, match="^<map text>: svg: not a wafer map"):
        read_map('<svg xmlns="http://www.w3.org/2000/svg"/>')


# --------------------------------------------------------------------------------------------
# Bad input: clear errors, never silent


def broken(old: str, new: str) -> str:
    assert old in G85_STANDARD_FORM
    return G85_STANDARD_FORM.replace(old, new)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (broken("<![CDATA[1X11]]>", "<![CDATA[1X1]]>"), "Map/Device/Data/Row[2]: 3 bin codes, expected 4"),
        (broken('Rows="3"', 'Rows="4"'), "Map/Device/Data: 3 rows, expected 4"),
        (broken('OriginLocation="2"', 'OriginLocation="0"'), "OriginLocation 0 unsupported"),
        (broken('BinType="ASCII"', 'BinType="Octal"'), "BinType 'Octal' is not one of"),
        (broken(' BinType="ASCII"', ""), "Map/Device: attribute BinType missing"),
        (broken('Rows="3"', 'Rows="three"'), "Rows='three' is not an integer"),
        ("<Maps><Map>", "not well-formed XML"),
        ("<MapData/>", "expected a Maps (or Map) root element"),
    ],
)
def test_malformed_maps_raise_naming_the_element(text, message):
    with pytest.raises(ValueError, match="^<G85 text>: ") as error:
        read_g85(text)
    assert message in str(error.value)


def test_counts_and_unknown_codes_are_flagged():
    text = broken('BinCount="2"', 'BinCount="3"').replace("<![CDATA[.X..]]>", "<![CDATA[.Z..]]>")
    with pytest.raises(ValueError) as error:
        read_g85(text)
    assert "Map/Device/Bin[2]: BinCount 3 but the data hold 1 dies of bin 'X'" in str(error.value)
    assert "bin codes without a bin definition: 'Z' (1 dies)" in str(error.value)
    wafer_map, header = read_g85(text, strict=False)
    assert len(header.notes) == 2
    assert header.bins[1] == BinDefinition(ord("X"), "Fail", "Inked", 1)  # the count the data hold
    assert dies(wafer_map)[(2, 3)] == ord("Z")


def test_errors_name_the_file(tmp_path):
    path = tmp_path / "partner.xml"
    path.write_text(broken("<![CDATA[1X11]]>", "<![CDATA[1X11X]]>"))
    with pytest.raises(ValueError, match=r"partner\.xml: Map/Device/Data/Row\[2\]: 5 bin codes, expected 4"):
        read_g85(path)
    with pytest.raises(ValueError, match=r"missing\.xml: cannot read the G85 file"):
        read_g85(tmp_path / "missing.xml")


def test_e142_count_and_good_devices_are_checked():
    text = write_e142(SMALL)
    with pytest.raises(ValueError, match="GoodDevices: 2 but the data hold 1 dies of passing bins"):
        read_e142(text.replace("<GoodDevices>1</GoodDevices>", "<GoodDevices>2</GoodDevices>"))
    with pytest.raises(
        ValueError, match=r"SubstrateMap 'W1'/BinCodeMap/BinCode\[1\]: 1 bin codes, expected 2"
    ):
        read_e142(text.replace("<![CDATA[001 002]]>", "<![CDATA[001]]>"))
    with pytest.raises(ValueError, match="OriginLocation 'UpperLeft' with AxisDirection 'UpRight'"):
        read_e142(
            write_e142(SMALL, MapHeader(orientation=Orientation(y_grows="up"))).replace(
                "LowerLeft", "UpperLeft"
            )
        )


def test_maps_a_file_cannot_hold_are_refused():
    with pytest.raises(ValueError, match="needs a bin map"):
        write_g85(WaferMap(np.array([0]), np.array([0]), np.array([0.5]), "parametric"))
    with pytest.raises(ValueError, match="1 dies have no bin"):
        write_g85(WaferMap(np.array([0]), np.array([0]), np.array([-1]), "bin", good=np.array([False])))
    mixed = WaferMap(
        np.array([0, 1]), np.array([0, 0]), np.array([4, 4]), "bin", good=np.array([True, False])
    )
    with pytest.raises(ValueError, match="bin 4 holds passing and failing dies"):
        write_e142(mixed)
    with pytest.raises(ValueError, match="bin 1 is Fail in the header but its dies are Pass"):
        write_g85(SMALL, MapHeader(bins=(BinDefinition(1, "Fail"),)))
    with pytest.raises(ValueError, match="control characters"):
        write_e142(WaferMap(SMALL.x, SMALL.y, SMALL.value, "bin", "L\x01", "W1", good=SMALL.good))
    with pytest.raises(ValueError, match=r"die \(1, 0\) lies outside the header's 2 x 1 array"):
        write_g85(SMALL, MapHeader(origin=(0, 0), rows=2, columns=1))


# --------------------------------------------------------------------------------------------
# Headers from STDF records


def test_geometry_from_wcr_converts_units_and_directions():
    wcr = {"WAFR_SIZ": 8.0, "DIE_HT": 100.0, "DIE_WID": 50.0, "WF_UNITS": 4, "WF_FLAT": "L", "CENTER_X": 10,
           "CENTER_Y": -3, "POS_X": "L", "POS_Y": "U"}  # fmt: skip
    header = geometry_from_wcr(wcr, [BinDefinition(2, "Fail"), BinDefinition(1, "Pass")], "P")
    # 8 mils = 0.2032 mm; 100 mils = 2540 um; 50 mils = 1270 um (STDF WF_UNITS 4 = mils)
    assert (header.wafer_size_mm, header.die_height_um, header.die_width_um) == (0.203, 2540.0, 1270.0)
    assert (header.flat_orientation, header.flat_location, header.orientation) == (
        90.0, "L", Orientation("left", "up"))  # fmt: skip
    assert header.reference_devices == (ReferenceDevice(10, -3, "Center"),)
    assert [b.code for b in header.bins] == [1, 2] and header.product_id == "P" and header.notes == ()
    inches = geometry_from_wcr({**wcr, "WAFR_SIZ": 12.0, "WF_UNITS": 1})
    assert inches.wafer_size_mm == 304.8
    blank = geometry_from_wcr({"WAFR_SIZ": 150.0, "WF_UNITS": 0, "WF_FLAT": " ", "CENTER_X": -32768,
                               "CENTER_Y": -32768, "POS_X": " ", "POS_Y": " "})  # fmt: skip
    assert (blank.wafer_size_mm, blank.flat_orientation, blank.orientation) == (None, None, Orientation())
    assert blank.reference_devices == ()
    assert len(blank.notes) == 4 and any("POS_Y" in note and "'D'" in note for note in blank.notes)


def test_bin_definitions_prefer_the_summary_records():
    hbr = [
        {"HEAD_NUM": 1, "SITE_NUM": 1, "HBIN_NUM": 1, "HBIN_PF": "P", "HBIN_NAM": "site"},
        {"HEAD_NUM": 255, "SITE_NUM": 0, "HBIN_NUM": 1, "HBIN_PF": "P", "HBIN_NAM": "PASS"},
        {"HEAD_NUM": 255, "SITE_NUM": 0, "HBIN_NUM": 6, "HBIN_PF": "\x00", "HBIN_NAM": None},
    ]
    assert header_from_stdf({"HBR": hbr}).bins == (
        BinDefinition(1, "Pass", "PASS"),
        BinDefinition(6, None, ""),
    )
    per_site = [{"HEAD_NUM": 1, "SITE_NUM": 1, "HBIN_NUM": 3, "HBIN_PF": "F", "HBIN_NAM": "open"},
                {"HEAD_NUM": 1, "SITE_NUM": 2, "HBIN_NUM": 3, "HBIN_PF": "F", "HBIN_NAM": "open"}]  # fmt: skip
    assert header_from_stdf({"HBR": per_site}).bins == (BinDefinition(3, "Fail", "open"),)
    with pytest.raises(ValueError, match="WCR POS_Y"):
        geometry_from_wcr({"POS_X": "R", "POS_Y": "?"})


# --------------------------------------------------------------------------------------------
# The shared real files


def shared_file(name: str):
    """A shared STDF file; a skip when shared/ is absent, a failure under SILICIO_REQUIRE_SHARED=1."""
    try:
        return shared_stdf(name)
    except pytest.skip.Exception as skipped:
        if os.environ.get("SILICIO_REQUIRE_SHARED") == "1":
            pytest.fail(f"SILICIO_REQUIRE_SHARED=1 but {skipped.msg}")
        raise


def final_dies(tables, wafer_id: str, column: str = "hard_bin") -> pl.DataFrame:
    """x, y, bin, passed of each die's last test, straight from the parts table."""
    frame = pl.from_arrow(parts(tables)).filter(
        (pl.col("wafer_id") == wafer_id) & pl.col("is_last_test") & pl.col("x").is_not_null()
    )
    return (
        frame.sort("seq")
        .unique(["x", "y"], keep="last")
        .select("x", "y", pl.col(column).alias("bin"), "passed")
    )


@pytest.fixture(scope="module")
def galaxy_lot2():
    return read(shared_file("galaxy_lot2_A530_BE.stdf"))


def test_galaxy_first_row_is_the_highest_y(galaxy_lot2):
    wcr = galaxy_lot2["WCR"].to_pylist()[0]
    assert (wcr["POS_X"], wcr["POS_Y"]) == ("R", "U")  # the file says Y grows upward
    truth = final_dies(galaxy_lot2, "GAL-LOT-02")
    header = header_from_stdf(galaxy_lot2)
    text = write_g85(bin_map(parts(galaxy_lot2)), header)
    rows = [row.split() for row in g85_rows(text)]
    x_min, x_max = truth["x"].min(), truth["x"].max()
    assert len(rows) == truth["y"].max() - truth["y"].min() + 1 and len(rows[0]) == x_max - x_min + 1
    for row, y in ((rows[0], truth["y"].max()), (rows[-1], truth["y"].min())):  # top row, bottom row
        expected = ["255"] * (x_max - x_min + 1)
        for x, b in truth.filter(pl.col("y") == y).select("x", "bin").iter_rows():
            expected[x - x_min] = f"{b:03d}"
        assert row == expected
    assert e142_rows(write_e142(bin_map(parts(galaxy_lot2)), header)) == g85_rows(text)


CASES = [
    ("galaxy_lot2_A530_BE.stdf", "GAL-LOT-02", "hard"),
    ("galaxy_lot3_A530_BE.stdf", None, "hard"),
    ("a595_Catalyst_BE.stdf", "03", "soft"),
]


@pytest.mark.parametrize(("name", "wafer_id", "kind"), CASES)
def test_real_maps_round_trip_exactly(name, wafer_id, kind):
    tables = read(shared_file(name))
    wafer_map = bin_map(parts(tables), kind=kind, wafer_id=wafer_id)
    header = header_from_stdf(tables, kind)
    truth = final_dies(tables, wafer_map.wafer_id, f"{kind}_bin")
    expected_counts = dict(truth.group_by("bin").len().iter_rows())
    for writer, reader in ((write_g85, read_g85), (write_e142, read_e142)):
        text = writer(wafer_map, header)
        back, back_header = reader(text)
        assert writer(back, back_header) == text  # write -> read -> write: byte-identical
        assert dies(back) == dict(zip(zip(truth["x"], truth["y"], strict=True), truth["bin"], strict=True))
        assert {b.code: b.count for b in back_header.bins if b.count} == expected_counts
        assert dict(zip(zip(back.x.tolist(), back.y.tolist(), strict=True), back.good.tolist(), strict=True)) == dict(
            zip(zip(truth["x"], truth["y"], strict=True), truth["passed"], strict=True))  # fmt: skip
        again, again_header = reader(writer(back, back_header))  # read -> write -> read: equal
        assert dies(again) == dies(back) and again_header == back_header


def test_a595_soft_bins_carry_the_sbr_names_and_sizes():
    tables = read(shared_file("a595_Catalyst_BE.stdf"))
    names = {
        r["SBIN_NUM"]: (r["SBIN_NAM"], r["SBIN_PF"])
        for r in tables["SBR"].to_pylist()
        if r["HEAD_NUM"] == 255
    }
    wcr = tables["WCR"].to_pylist()[0]
    text = write_g85(bin_map(parts(tables), kind="soft", wafer_id="02"), header_from_stdf(tables, "soft"))
    device = ET.fromstring(text).find(f"{G85}Map/{G85}Device")
    assert wcr["WF_UNITS"] == 2  # centimetres: 15 cm wafer, 0.4392 x 0.4439 cm die
    assert (device.get("WaferSize"), device.get("DeviceSizeX"), device.get("DeviceSizeY")) == (
        "150",
        "4392",
        "4439",
    )
    for b in device.iter(f"{G85}Bin"):
        name, pf = names[int(b.get("BinCode"))]
        assert (b.get("BinDescription"), b.get("BinQuality")) == (name, {"P": "Pass", "F": "Fail"}[pf])


# --------------------------------------------------------------------------------------------
# Interoperability with an independent reader: the PyPI g85 package


@pytest.mark.parametrize(("name", "wafer_id", "kind"), CASES)
def test_g85_package_reads_our_maps(name, wafer_id, kind):
    import g85

    tables = read(shared_file(name))
    wafer_map = bin_map(parts(tables), kind=kind, wafer_id=wafer_id)
    header = header_from_stdf(tables, kind)
    truth = final_dies(tables, wafer_map.wafer_id, f"{kind}_bin")
    (their_map,) = g85.read(io.StringIO(write_g85(wafer_map, header)))
    (device,) = their_map.devices
    rows, columns = truth["y"].max() - truth["y"].min() + 1, truth["x"].max() - truth["x"].min() + 1
    assert (device.Rows, device.Columns) == (rows, columns)
    counts = dict(device.bin_counts())
    assert counts.pop(255) == rows * columns - truth.height  # the null cells
    assert counts == dict(truth.group_by("bin").len().iter_rows())
    passing = set(truth.filter(pl.col("passed"))["bin"])
    assert {code for code, ok in device.bin_pass.items() if ok} == passing
    assert (their_map.SubstrateId, their_map.SubstrateType, device.LotId) == (wafer_map.wafer_id, "Wafer",
                                                                               wafer_map.lot_id)  # fmt: skip
    assert device.OriginLocation == {"U": 3, "D": 2}[tables["WCR"].to_pylist()[0]["POS_Y"]]


def test_we_read_maps_the_g85_package_writes():
    import g85

    device = g85.Device(BinType="Decimal", NullBin=255, LotId="L5", OriginLocation=3, WaferSize=150.0,
                        DeviceSizeX=800.0, DeviceSizeY=900.0, reference_xy=(10, 20))  # fmt: skip
    device.map = [[255, 1, 255], [1, 2, 1]]
    device.bin_pass = {1: True, 2: False}
    device.misc = {"Rows": "2", "Columns": "3"}  # the package leaves these required attributes out
    out = io.BytesIO()
    g85.write([g85.Map(SubstrateType="Wafer", SubstrateId="W3", devices=[device])], out)
    wafer_map, header = read_g85(out.getvalue())
    # Origin lower left at (10, 20): the bottom row is Y = 20, the top Y = 21.
    assert dies(wafer_map) == {(11, 21): 1, (10, 20): 1, (11, 20): 2, (12, 20): 1}
    assert (header.wafer_size_mm, header.die_width_um, header.die_height_um, header.flat_orientation) == (
        150.0, 800.0, 900.0, 0.0)  # fmt: skip
    assert [(b.code, b.quality, b.count) for b in header.bins] == [(1, "Pass", 3), (2, "Fail", 1)]
    device.misc = {}
    out = io.BytesIO()
    g85.write([g85.Map(SubstrateId="W3", devices=[device])], out)
    with pytest.raises(ValueError, match="does not say its Rows"):
        read_g85(out.getvalue())
    assert len(read_g85(out.getvalue(), strict=False)[1].notes) == 2
