"""convert(): Parquet, CSV and Excel outputs read back equal to what read() gives."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import openpyxl
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from silicio.demo.stdf_demo import write_demo_stdf
from silicio.stdf import StdfError, read
from silicio.stdf import convert as convert_module
from silicio.stdf.convert import ConvertError, convert, flatten, sheet_names, write_xlsx
from silicio.stdf.spec import RECORDS
from silicio.stdf.tidy import tidy
from tests.conftest import shared_stdf


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> Path:
    return write_demo_stdf(tmp_path_factory.mktemp("convert") / "demo.stdf", seed=0)


@pytest.fixture(scope="module")
def demo_tables(demo_file):
    return read(demo_file)


def test_parquet_keeps_every_table_exactly(demo_file, demo_tables, tmp_path):
    written = convert(demo_file, tmp_path / "pq", "parquet")
    assert [p.name for p in written] == [f"{name}.parquet" for name in RECORDS if name in demo_tables]
    for path in written:
        original = demo_tables[path.stem]
        back = pq.read_table(path)
        assert back.schema.equals(original.schema), path.name
        assert back.equals(original), path.name
    assert pq.ParquetFile(written[0]).metadata.row_group(0).column(0).compression == "ZSTD"


def test_parquet_keeps_nested_types_of_a_real_file(tmp_path):
    source = shared_stdf("galaxy_lot3_A530_BE.stdf")
    tables = read(source)
    written = {p.stem: p for p in convert(source, tmp_path, "parquet")}
    gdr = pq.read_table(written["GDR"])
    assert gdr.equals(tables["GDR"])
    assert pq.read_table(written["PTR"]).num_rows == 54_123


def test_csv_rows_and_values_match_read(demo_file, demo_tables, tmp_path):
    written = {p.stem: p for p in convert(demo_file, tmp_path, "csv")}
    assert set(written) == set(demo_tables)
    for name, path in written.items():
        assert pa_csv.read_csv(path).num_rows == demo_tables[name].num_rows, name
    ptr = pa_csv.read_csv(written["PTR"])
    expected = demo_tables["PTR"]
    assert ptr.column("TEST_NUM").to_pylist() == expected.column("TEST_NUM").to_pylist()
    # float32 results are written with enough digits to come back to the same float32.
    results = np.array(ptr.column("RESULT").to_pylist(), np.float32)
    assert (results == np.array(expected.column("RESULT").to_pylist(), np.float32)).all()
    assert ptr.column("UNITS").to_pylist()[0] == "V"
    sdr = pa_csv.read_csv(written["SDR"]).to_pylist()[0]
    assert json.loads(sdr["SITE_NUM"]) == [1, 2]


def test_csv_of_real_file_flattens_generic_data(tmp_path):
    source = shared_stdf("galaxy_lot3_A530_BE.stdf")
    gdr_rows = read(source, record_types=["GDR"])["GDR"].column("GEN_DATA").to_pylist()
    written = {p.stem: p for p in convert(source, tmp_path, "csv")}
    gdr = pa_csv.read_csv(written["GDR"], convert_options=pa_csv.ConvertOptions(strings_can_be_null=True))
    first = json.loads(gdr.column("GEN_DATA")[0].as_py())
    assert first == [{k: v for k, v in item.items() if v is not None} for item in gdr_rows[0]]
    assert first[0] == {"TYPE": 10, "Cn": "IMAGE_SETUP_FDLOG"}


def test_xlsx_has_a_sheet_per_record_type(demo_file, demo_tables, tmp_path):
    [workbook_path] = convert(demo_file, tmp_path, "xlsx")
    assert workbook_path == tmp_path / "demo.xlsx"
    workbook = openpyxl.load_workbook(workbook_path, read_only=True)
    assert workbook.sheetnames == [name for name in RECORDS if name in demo_tables]
    for name in workbook.sheetnames:
        rows = list(workbook[name].iter_rows(values_only=True))
        assert list(rows[0]) == demo_tables[name].column_names, name
        assert len(rows) - 1 == demo_tables[name].num_rows, name
    ptr_rows = list(workbook["PTR"].iter_rows(min_row=2, max_row=3, values_only=True))
    expected = demo_tables["PTR"].slice(0, 2).to_pylist()
    header = demo_tables["PTR"].column_names
    for row, want in zip(ptr_rows, expected, strict=True):
        got = dict(zip(header, row, strict=True))
        assert got["TEST_NUM"] == want["TEST_NUM"]
        assert got["RESULT"] == pytest.approx(want["RESULT"])
        assert got["TEST_TXT"] == want["TEST_TXT"]
    assert dict(zip(header, ptr_rows[1], strict=True))["UNITS"] is None  # not repeated after the first PTR


def test_xlsx_splits_tables_over_the_sheet_row_limit(demo_file, demo_tables, tmp_path, monkeypatch):
    # A real 1,048,576-row sheet takes minutes to write; a small limit exercises the same path.
    monkeypatch.setattr(convert_module, "EXCEL_MAX_ROWS", 1001)
    [path] = convert(demo_file, tmp_path, "xlsx")
    workbook = openpyxl.load_workbook(path, read_only=True)
    ptr_rows = demo_tables["PTR"].num_rows
    expected_sheets = ["PTR"] + [f"PTR ({i})" for i in range(2, math.ceil(ptr_rows / 1000) + 1)]
    assert [s for s in workbook.sheetnames if s.startswith("PTR")] == expected_sheets
    seqs = []
    for sheet in expected_sheets:
        rows = list(workbook[sheet].iter_rows(min_row=2, values_only=True))
        assert len(rows) <= 1000
        seqs += [r[0] for r in rows]
    assert seqs == demo_tables["PTR"].column("seq").to_pylist()


def test_sheet_names_at_the_excel_limit():
    assert sheet_names("PTR", 0) == ["PTR"]
    assert sheet_names("PTR", 1_048_575) == ["PTR"]
    assert sheet_names("PTR", 1_048_576) == ["PTR", "PTR (2)"]
    assert sheet_names("PTR", 3 * 1_048_575 + 1) == ["PTR", "PTR (2)", "PTR (3)", "PTR (4)"]


def test_flatten_turns_nested_and_binary_into_text():
    table = pa.table(
        {
            "PART_FIX": pa.array([b"\x01\xab", None], pa.binary()),
            "RTN_STAT": pa.array([[1, 2], []], pa.list_(pa.uint8())),
            "FAIL_PIN": pa.array(
                [{"bit_count": 12, "bit_data": b"\xff\x0f"}, None],
                pa.struct([("bit_count", pa.uint16()), ("bit_data", pa.binary())]),
            ),
            "RESULT": pa.array([1.5, None], pa.float32()),
        }
    )
    flat = flatten(table).to_pylist()
    assert flat[0] == {
        "PART_FIX": "01ab",
        "RTN_STAT": "[1,2]",
        "FAIL_PIN": '{"bit_count":12,"bit_data":"ff0f"}',
        "RESULT": 1.5,
    }
    assert flat[1] == {"PART_FIX": None, "RTN_STAT": "[]", "FAIL_PIN": None, "RESULT": None}


def test_xlsx_keeps_formula_like_text_as_text(tmp_path):
    path = write_xlsx({"DTR": pa.table({"TEXT_DAT": ["=1+1", "@cmd", "12"]})}, tmp_path / "t.xlsx")
    sheet = openpyxl.load_workbook(path)["DTR"]
    assert [sheet.cell(row=r, column=1).value for r in (2, 3, 4)] == ["=1+1", "@cmd", "12"]
    assert sheet.cell(row=2, column=1).data_type == "s"


def test_compressed_source_names_the_workbook_after_its_stem(demo_file, tmp_path):
    packed = tmp_path / "lot7.stdf.gz"
    packed.write_bytes(gzip.compress(demo_file.read_bytes()))
    assert convert(packed, tmp_path / "x", "xlsx") == [tmp_path / "x" / "lot7.xlsx"]


def test_unknown_format_is_refused(demo_file, tmp_path):
    with pytest.raises(ConvertError, match="unknown output format 'json'"):
        convert(demo_file, tmp_path, "json")


def test_damaged_file_fails_before_anything_is_written(demo_file, demo_tables, tmp_path):
    cut_at = demo_tables["PRR"].column("offset")[10].as_py() + 5
    damaged = tmp_path / "cut.stdf"
    damaged.write_bytes(demo_file.read_bytes()[:cut_at])
    with pytest.raises(StdfError) as caught:
        convert(damaged, tmp_path / "out", "csv")
    assert caught.value.offset == cut_at - 5
    assert not (tmp_path / "out").exists()
    salvaged = convert(damaged, tmp_path / "out", "csv", strict=False)
    assert salvaged.issues and salvaged.issues[0].offset == cut_at - 5
    assert pa_csv.read_csv(tmp_path / "out" / "PRR.csv").num_rows == 10


def test_tidy_view_is_written_beside_the_record_tables(demo_file, demo_tables, tmp_path):
    written = convert(demo_file, tmp_path, "parquet", tidy=True)
    assert written[-1] == tmp_path / "tidy.parquet"
    view = pq.read_table(written[-1])
    assert view.equals(tidy(demo_tables))
    # One row per PTR; limits and units, written on the first PTR of a test only, fill every row.
    assert view.num_rows == demo_tables["PTR"].num_rows
    assert view.column("units").null_count == 0
    assert view.column("lo_limit").null_count == 0
    csv_written = convert(demo_file, tmp_path / "csv", "csv", tidy=True)
    assert pa_csv.read_csv(csv_written[-1]).num_rows == view.num_rows
    [workbook] = convert(demo_file, tmp_path / "xlsx", "xlsx", tidy=True)
    assert openpyxl.load_workbook(workbook, read_only=True)["tidy"].max_row == view.num_rows + 1
