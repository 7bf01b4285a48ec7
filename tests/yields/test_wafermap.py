"""Wafer maps: bin, parametric and stacked maps of written wafers; PNG / SVG renders; SEMI E142 and
G85 exports parsed back."""

from __future__ import annotations

import io
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pyarrow as pa
import pytest

from silicio.stdf import StdfWriter, read, tidy
from silicio.stdf.parts import parts
from silicio.yields.wafermap import (
    E142_NAMESPACE,
    WaferMap,
    bin_map,
    parametric_map,
    render_wafer_map,
    stacked_fail_map,
    to_e142_xml,
    to_g85_xml,
)

FAIL = 0x08
# A plus-shaped wafer: (x, y, hard bin, result of test 7); bin 1 passes. (0, 1) fails then passes.
DIES = [(1, 0, 1, 0.5), (0, 1, 6, 9.0), (1, 1, 1, 1.5), (2, 1, 7, 2.5), (1, 2, 1, 3.5), (0, 1, 1, 4.5)]


def wafer_records(wafer_id, dies, lot="L1"):
    recs = [
        ("MIR", {"LOT_ID": lot}),
        ("WIR", {"HEAD_NUM": 1, "SITE_GRP": 255, "START_T": 0, "WAFER_ID": wafer_id}),
    ]
    for x, y, hard, result in dies:
        failed = hard != 1
        recs += [("PIR", {"HEAD_NUM": 1, "SITE_NUM": 1}),
                 ("PTR", {"TEST_NUM": 7, "HEAD_NUM": 1, "SITE_NUM": 1, "TEST_FLG": 0, "PARM_FLG": 0, "RESULT": result,
                          "TEST_TXT": "VOUT", "ALARM_ID": "", "OPT_FLAG": 0x0E, "RES_SCAL": 0, "LLM_SCAL": 0,
                          "HLM_SCAL": 0, "LO_LIMIT": 0.0, "HI_LIMIT": 5.0, "UNITS": "V"}),
                 ("PRR", {"HEAD_NUM": 1, "SITE_NUM": 1, "PART_FLG": FAIL if failed else 0, "NUM_TEST": 1,
                          "HARD_BIN": hard, "SOFT_BIN": hard, "X_COORD": x, "Y_COORD": y})]  # fmt: skip
    recs.append(
        ("WRR", {"HEAD_NUM": 1, "SITE_GRP": 255, "FINISH_T": 0, "PART_CNT": len(dies), "WAFER_ID": wafer_id})
    )
    return recs


def written(path: Path, records):
    with StdfWriter(path) as w:
        for name, fields in records:
            w.record(name, **fields)
    return read(path)


@pytest.fixture
def tables(tmp_path):
    return written(tmp_path / "w.stdf", wafer_records("W1", DIES))


def test_bin_map_final_and_first(tables):
    m = bin_map(parts(tables))
    assert (m.lot_id, m.wafer_id, m.shape) == ("L1", "W1", (3, 3))
    nan = np.nan
    expected = np.array([[nan, 1, nan], [1, 1, 7], [nan, 1, nan]])  # (0, 1) retested to bin 1
    np.testing.assert_array_equal(m.grid(), expected)
    first = bin_map(parts(tables), tests="first")
    assert first.grid()[1, 0] == 6


def test_parametric_map_uses_the_last_execution(tables):
    m = parametric_map(tidy(tables), 7)
    assert m.label == "VOUT [V]"
    assert {(int(x), int(y)): v for x, y, v in zip(m.x, m.y, m.value, strict=True)} == {
        (1, 0): 0.5, (0, 1): 4.5, (1, 1): 1.5, (2, 1): 2.5, (1, 2): 3.5}  # fmt: skip


def test_stacked_fail_map_across_wafers(tmp_path):
    w1 = parts(written(tmp_path / "a.stdf", wafer_records("W1", DIES)))
    w2 = parts(
        written(tmp_path / "b.stdf", wafer_records("W2", [(1, 0, 5, 0.0), (1, 1, 1, 0.0), (2, 1, 1, 0.0)]))
    )
    m = stacked_fail_map(pa.concat_tables([w1, w2]))
    got = {(int(x), int(y)): (f, int(n)) for x, y, f, n in zip(m.x, m.y, m.value, m.count, strict=True)}
    # (1, 0): pass on W1, fail on W2 -> 1/2; (2, 1): fail on W1, pass on W2 -> 1/2; (0, 1) final pass.
    assert got == {(1, 0): (0.5, 2), (0, 1): (0.0, 1), (1, 1): (0.0, 2), (2, 1): (0.5, 2), (1, 2): (0.0, 1)}
    with pytest.raises(ValueError, match="one wafer"):
        bin_map(pa.concat_tables([w1, w2]))
    assert bin_map(pa.concat_tables([w1, w2]), wafer_id="W2").x.size == 3


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_renders_are_valid_images(tables, tmp_path, fmt):
    for i, m in enumerate([bin_map(parts(tables)), parametric_map(tidy(tables), 7)]):
        path = tmp_path / f"map{i}.{fmt}"
        render_wafer_map(m, path)
        data = path.read_bytes()
        if fmt == "png":
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
            import matplotlib.image

            image = matplotlib.image.imread(path)
            assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
        else:
            assert ET.fromstring(data).tag.endswith("svg")
    buffer = io.BytesIO()
    render_wafer_map(bin_map(parts(tables)), buffer, fmt="png")
    assert buffer.getvalue()[:4] == b"\x89PNG"


def parse_rows(lines, bin_type):
    if bin_type == "Decimal":
        return [[int(c) for c in line.split()] for line in lines]
    return [[int(line[i : i + 4], 16) for i in range(0, len(line), 4)] for line in lines]


def test_e142_export_parses_back(tables):
    m = bin_map(parts(tables))
    root = ET.fromstring(to_e142_xml(m))
    ns = {"e": E142_NAMESPACE}
    assert root.tag == f"{{{E142_NAMESPACE}}}MapData"
    dim = root.find("e:Layouts/e:Layout/e:Dimension", ns)
    assert (dim.get("X"), dim.get("Y")) == ("3", "3")
    assert root.find("e:Substrates/e:Substrate", ns).get("SubstrateId") == "W1"
    assert root.find("e:Substrates/e:Substrate/e:LotId", ns).text == "L1"
    code_map = root.find("e:SubstrateMaps/e:SubstrateMap/e:Overlay/e:BinCodeMap", ns)
    assert (code_map.get("BinType"), code_map.get("NullBin")) == ("Decimal", "255")
    defs = {d.get("BinCode"): (d.get("BinCount"), d.get("BinQuality"))
            for d in code_map.findall("e:BinDefinitions/e:BinDefinition", ns)}  # fmt: skip
    assert defs == {"001": ("4", "Pass"), "007": ("1", "Fail")}
    rows = parse_rows([r.text for r in code_map.findall("e:BinCode", ns)], "Decimal")
    assert rows == [[255, 1, 255], [1, 1, 7], [255, 1, 255]]


def test_g85_export_parses_back_with_wide_bins():
    m = WaferMap(np.array([0, 1, 1]), np.array([0, 0, 1]), np.array([1, 300, 1]), "bin", "L9", "W9",
                 good=np.array([True, False, True]))  # fmt: skip
    root = ET.fromstring(to_g85_xml(m, product_id="P1"))
    wafer = root.find("Map")
    assert (wafer.get("WaferId"), wafer.get("FormatRevision")) == ("W9", "G85-0703")
    device = wafer.find("Device")
    assert {k: device.get(k) for k in ("LotId", "Rows", "Columns", "BinType", "NullBin", "ProductId")} == {
        "LotId": "L9", "Rows": "2", "Columns": "2", "BinType": "Integer2", "NullBin": "FFFF", "ProductId": "P1"}  # fmt: skip
    bins = {b.get("BinCode"): (b.get("BinCount"), b.get("BinQuality")) for b in device.findall("Bin")}
    assert bins == {"0001": ("2", "Pass"), "012C": ("1", "Fail")}
    rows = parse_rows([r.text for r in device.findall("Data/Row")], "Integer2")
    assert rows == [[1, 300], [0xFFFF, 1]]


def test_exports_reject_what_they_cannot_write():
    parametric = WaferMap(np.array([0]), np.array([0]), np.array([1.5]), "parametric")
    with pytest.raises(ValueError, match="bin map"):
        to_g85_xml(parametric)
    with pytest.raises(ValueError, match="65534"):
        to_e142_xml(WaferMap(np.array([0]), np.array([0]), np.array([65535]), "bin"))
    with pytest.raises(ValueError, match="fmt"):
        render_wafer_map(parametric, "map.gif")


def test_shared_wafer_files_map_and_export(tmp_path):
    path = Path(__file__).resolve().parents[3] / "shared" / "data" / "stdf" / "a595_Catalyst_BE.stdf"
    if not path.exists():
        pytest.skip(f"{path} not found (the shared STDF data set is not checked out)")
    p = parts(read(path))
    for wafer_id in ("02", "03", "09"):
        m = bin_map(p, wafer_id=wafer_id)
        rows = ET.fromstring(to_g85_xml(m)).findall("Map/Device/Data/Row")
        dies = sum(code != 255 for line in parse_rows([r.text for r in rows], "Decimal") for code in line)
        assert dies == m.x.size == len({(x, y) for x, y in zip(m.x, m.y, strict=True)})
    stacked = stacked_fail_map(p)
    assert 0 <= stacked.value.min() and stacked.value.max() <= 1 and stacked.count.max() == 3
