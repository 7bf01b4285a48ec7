"""The KLARF data source: the three sample files of shared/data/klarf read as their own text says,
every declared column typed, damage quarantined with its line, and ingest beside STDF by content.

Expected values come from the files' text, read here with plain string handling (not with the
reader under test), or from the numbers the files state in their summaries.
"""

from __future__ import annotations

import gzip
import re
import shutil
from datetime import datetime

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import silicio.lake as lake
from silicio.cli import app
from silicio.lake.sources import available_sources, source_for
from silicio.lake.sources.klarf import KlarfError, KlarfSource, read_klarf

from ..conftest import shared_klarf

REAL_11 = "klarfkit_CPS3TwithoutReview.001"
TEST_12 = "klarfio_testfile_v1.2.klarf"
TEST_18 = "klarfio_testfile_v1.8.klarf"
CONTEXT = ["lot_id", "wafer_id", "step_id"]


def _flat_list(text: str, keyword: str) -> list[list[str]]:
    """The rows of a flat KLARF list statement, one per line, as text tokens."""
    body = text.split(f"\n{keyword}", 1)[1].split(";", 1)[0]
    return [line.split() for line in body.splitlines()[1:] if line.strip()]


# --------------------------------------------------------------------------------------------
# The real KLARF 1.1 file


def test_real_complus_file_reads_as_its_summary_states():
    path = shared_klarf(REAL_11)
    text = path.read_text(encoding="latin-1")
    result = read_klarf(path)
    assert result.issues == []
    assert result.version == "1.1"
    defects = result.tables["klarf_defects"]
    # The file's SummaryList: TESTNO 1, NDEFECT 16, DEFDENSITY 0.068681, NDIE 4988, NDEFDIE 15.
    summary_line = text.split("SummaryList", 1)[1].split(";")[0].split()
    assert summary_line == ["1", "16", "0.068681", "4988", "15"]
    assert defects.num_rows == 16
    assert result.tables["klarf_sample_plan"].num_rows == 4988
    assert result.tables["klarf_summary"].to_pylist() == [
        {"lot_id": "HJU008", "wafer_id": "25", "step_id": "IMD2_SRO", "testno": 1, "ndefect": 16,
         "defdensity": 0.068681, "ndie": 4988, "ndefdie": 15}
    ]  # fmt: skip
    # 15 defective dies: defects 11 and 12 share die (15, -35), as the file's rows show.
    raw_rows = _flat_list(text, "DefectList")
    assert len({(r[3], r[4]) for r in raw_rows}) == 15
    dies = set(zip(defects["xindex"].to_pylist(), defects["yindex"].to_pylist(), strict=True))
    assert len(dies) == 15
    # density: 16 defects over AreaPerTest 2.3296152996e+10 um^2 = 232.96 cm^2
    tests = result.tables["klarf_tests"].to_pylist()
    assert tests == [{"lot_id": "HJU008", "wafer_id": "25", "step_id": "IMD2_SRO", "test": 1,
                      "area_per_test": 2.3296152996e10, "area_unit": "um2", "sample_dies": 4988,
                      "sample_dies_declared": 4988}]  # fmt: skip
    assert round(16 / (2.3296152996e10 / 1e8), 6) == 0.068681

    wafer = result.tables["klarf_wafers"].to_pylist()[0]
    assert {k: wafer[k] for k in (
        "lot_id", "wafer_id", "slot", "step_id", "setup_id", "station_maker", "station_model", "station_id",
        "sample_type", "orientation_mark_type", "orientation_mark_location", "die_pitch_x", "die_pitch_y",
        "die_origin_x", "die_origin_y", "sample_center_x", "sample_center_y", "sample_size", "length_unit",
        "result_timestamp", "defects", "defects_declared")} == {
        "lot_id": "HJU008", "wafer_id": "25", "slot": 25, "step_id": "IMD2_SRO", "setup_id": "03R3",
        "station_maker": "AMAT", "station_model": "COMPLUS 3T", "station_id": "HYCPS04", "sample_type": "WAFER",
        "orientation_mark_type": "NOTCH", "orientation_mark_location": "DOWN", "die_pitch_x": 2489.96,
        "die_pitch_y": 2259.92, "die_origin_x": 0.0, "die_origin_y": 0.0, "sample_center_x": 2394.8,
        "sample_center_y": 2090.32, "sample_size": 200.0, "length_unit": "um",
        "result_timestamp": datetime(2021, 10, 19, 10, 4, 9), "defects": 16, "defects_declared": None,
    }  # fmt: skip
    classes = result.tables["klarf_classes"]
    assert classes.num_rows == 276
    assert (
        dict(zip(classes["classnumber"].to_pylist(), classes["classname"].to_pylist(), strict=True))[84]
        == "Scratch"
    )
    # the facts the catalog files it under
    facts = result.facts
    assert (facts.stage, facts.lot, facts.test_code, facts.tester_type, facts.node, facts.wafers) == (
        "inline", "HJU008", "IMD2_SRO", "AMAT COMPLUS 3T", "HYCPS04", 1)  # fmt: skip


def test_flat_columns_arrive_typed_with_the_values_of_the_text():
    for name in (REAL_11, TEST_12):
        path = shared_klarf(name)
        text = path.read_text(encoding="latin-1")
        declared = re.search(r"DefectRecordSpec\s+\d+\s+([^;]*);", text).group(1).split()
        defects = read_klarf(path).tables["klarf_defects"]
        assert defects.column_names == CONTEXT + [c.lower() for c in declared]
        raw_rows = _flat_list(text, "DefectList")
        assert len(raw_rows) == defects.num_rows
        for i, column in enumerate(c.lower() for c in declared):
            kind = defects.schema.field(column).type
            raw = [row[i] for row in raw_rows]
            if column == "imagelist":
                assert kind == pa.string() and defects[column].to_pylist() == raw
            elif all(re.fullmatch(r"-?\d+", v) for v in raw):
                assert kind == pa.int64(), column
                assert defects[column].to_pylist() == [int(v) for v in raw]
            else:
                assert kind == pa.float64(), column
                assert defects[column].to_pylist() == [float(v) for v in raw]


def test_18_columns_arrive_typed_as_declared():
    path = shared_klarf(TEST_18)
    text = path.read_text(encoding="latin-1")
    block = text.split("List DefectList", 1)[1]
    declared = [pair.split() for pair in re.search(r"Columns\s+41\s*\{([^}]*)\}", block).group(1).split(",")]
    assert len(declared) == 41
    arrow = {"int32": pa.int32(), "float": pa.float64()}
    defects = read_klarf(path).tables["klarf_defects"]
    assert defects.column_names == CONTEXT + [n.lower() for _, n in declared]
    for kind, column in declared:
        assert defects.schema.field(column.lower()).type == arrow[kind], column
    # the first defect row, as the text writes it (its values wrap over three lines)
    first = block.split("Data 3", 1)[1].split("{", 1)[1].split(";", 1)[0].split()
    row = defects.to_pylist()[0]
    for (kind, column), value in zip(declared, first, strict=True):
        assert row[column.lower()] == (int(value) if kind == "int32" else float(value)), column


def test_12_odd_tokens_are_kept_and_count_mismatches_warned():
    path = shared_klarf(TEST_12)
    result = read_klarf(path)
    defects = result.tables["klarf_defects"]
    assert defects.num_rows == 4 and len(defects.column_names) == 3 + 17
    assert defects["wafer_id"].to_pylist() == ["EJ-UY459-50"] * 4
    reasons = sorted((i.offset, i.reason) for i in result.issues)
    assert reasons == [
        (5, "ResultTimestamp: '78-67-08 37:19:26' is not a date MM-DD-YY HH:MM:SS: left empty"),
        (24, "SampleTestPlan of wafer EJ-UY459-50 declares 0 rows and lists 1: read as it stands"),
        (36, "SummarySpec: declares 6 columns and names 5: the names are read as they stand"),
    ]
    fields = {(f["name"], tuple(f["values"])) for f in result.tables["klarf_fields"].to_pylist()}
    # WaferID's stray tokens, TiffSpec (unknown to silicio), both FileTimestamp spellings: all kept
    assert ("WaferID", ("EJ-UY459-50", "Zxuq", "1")) in fields
    assert ("TiffSpec", ("0.4", "L", "GA")) in fields
    assert ("FileTimeStamp", ("12-04-1205", "31:66:81")) in fields
    assert ("FileTimestamp", ("49-34-01", "00:39:89")) in fields
    assert result.tables["klarf_summary"].column_names == ["lot_id", "wafer_id", "step_id", "defycu", "qmuhofm",
                                                           "boyeylyiwu", "joye", "agossuo"]  # fmt: skip
    assert result.tables["klarf_sample_plan"].to_pylist()[0]["xindex"] == 0


def test_18_nested_records():
    result = read_klarf(shared_klarf(TEST_18))
    assert [(i.offset, i.reason) for i in result.issues] == [
        (96, "DefectList of wafer SecondWaferId declares 1 rows and lists 2: read as it stands")
    ]
    wafers = result.tables["klarf_wafers"].to_pylist()
    assert [(w["wafer_id"], w["slot"], w["defects"], w["defects_declared"]) for w in wafers] == [
        ("FirstWaferId", 25, 3, 3), ("SecondWaferId", 3, 2, 1)]  # fmt: skip
    # lot fields written after the wafers still describe them
    assert {(w["lot_id"], w["step_id"], w["device_id"], w["die_pitch_x"], w["die_pitch_y"], w["length_unit"],
             w["sample_size"], w["orientation_mark_type"]) for w in wafers} == {
        ("aLot.String", "AStepId", "aDevice", 5744150.0, 5410203.0, "nm", 300000000.0, "NOTCH")}  # fmt: skip
    defects = result.tables["klarf_defects"]
    assert defects["defectid"].to_pylist() == [2, 3, 128, 2, 3]
    plan = result.tables["klarf_sample_plan"].to_pylist()
    assert [(p["test"], p["xindex"], p["yindex"]) for p in plan] == [
        (1, 10, -13), (1, 20, -13), (1, -3, -13), (1, -2, -13), (1, 0, 16),
        (2, 2, -14), (2, 3, -14), (2, 4, -14), (2, 5, -14)]  # fmt: skip
    tests = result.tables["klarf_tests"].to_pylist()
    assert [(t["wafer_id"], t["test"], t["area_per_test"]) for t in tests] == [
        ("FirstWaferId", 1, 2.0e15), ("FirstWaferId", 2, 2.1e16), ("SecondWaferId", 1, 2.1e15),
        ("SecondWaferId", 2, 2.2e16)]  # fmt: skip
    classes = result.tables["klarf_classes"].to_pylist()
    assert [(c["classnumber"], c["classname"], c["classcode"]) for c in classes] == [
        (0, "Unclassified", ""), (1, "NV", ""), (2, "FM", ""), (3, "Blobby", "")]  # fmt: skip
    assert result.tables["klarf_summary"].num_rows == 4
    assert result.facts.started == datetime(1971, 12, 11, 12, 32, 22)


# --------------------------------------------------------------------------------------------
# Small files written here


FLAT = """FileVersion 1 2;
LotID "L1";
StepID "M1";
DiePitch 1000.0 1000.0;
DieOrigin 0.0 0.0;
WaferID "7";
FooBarSetting 3 "x y" 1.5;
SampleTestPlan 2
 0 0
 1 0;
AreaPerTest 2.0e6;
DefectRecordSpec 4 DEFECTID XINDEX YINDEX CLASSNUMBER;
DefectList
 1 0 0 2
 2 1 0 2;
EndOfFile;
"""


def test_unknown_fields_are_kept(tmp_path):
    path = tmp_path / "a.klarf"
    path.write_text(FLAT)
    result = read_klarf(path)
    assert result.issues == []
    kept = [f for f in result.tables["klarf_fields"].to_pylist() if f["name"] == "FooBarSetting"]
    assert kept == [{"lot_id": "L1", "wafer_id": "7", "test": None, "scope": "wafer", "name": "FooBarSetting",
                     "line": 7, "declared": None, "values": ["3", "x y", "1.5"]}]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (FLAT.replace('WaferID "7";', 'WaferID "7;'), 6, "a quoted string is not closed on its line"),
        (FLAT.replace("DefectRecordSpec 4 DEFECTID XINDEX YINDEX CLASSNUMBER;\n", ""), 12,
         "DefectList: a list before its DefectRecordSpec: its columns are unknown"),
        (FLAT.replace("SampleTestPlan 2", "SampleTestPlan many"), 8,
         "SampleTestPlan: expected a count after the keyword"),
        ("Hello 1 2;\n", 1, "Hello: not KLARF: expected FileVersion or Record FileRecord first"),
    ],
)  # fmt: skip
def test_damaged_flat_files_name_the_line(tmp_path, text, line, reason):
    path = tmp_path / "damaged.klarf"
    path.write_text(text)
    with pytest.raises(KlarfError) as caught:
        read_klarf(path)
    assert (caught.value.issue.offset, caught.value.issue.reason) == (line, reason)


def test_damaged_18_file_names_the_line(tmp_path):
    lines = shared_klarf(TEST_18).read_text(encoding="latin-1").splitlines()
    cut = tmp_path / "cut.klarf"
    cut.write_text("\n".join(lines[:60]) + "\n")  # ends inside the first TestRecord
    with pytest.raises(KlarfError) as caught:
        read_klarf(cut)
    assert caught.value.issue.offset == 60
    assert "a block is not closed" in caught.value.issue.reason
    bad = tmp_path / "bad.klarf"
    bad.write_text("\n".join(lines).replace("Columns 2 {", "Colums 2 {", 1))
    with pytest.raises(KlarfError) as caught:
        read_klarf(bad)
    first_plan_columns = next(i for i, line in enumerate(lines) if "Columns 2 {" in line) + 1
    assert (caught.value.issue.offset, caught.value.issue.reason) == (
        first_plan_columns, "SampleTestPlanList: expected Columns or Data, found 'Colums'")  # fmt: skip


def test_truncated_flat_file_is_read_with_a_warning(tmp_path):
    path = tmp_path / "short.klarf"
    path.write_text(FLAT.split(" 2 1 0 2;")[0])  # cut inside the DefectList
    result = read_klarf(path)
    assert result.tables["klarf_defects"]["defectid"].to_pylist() == [1]
    assert [(i.offset, i.reason) for i in result.issues] == [
        (
            13,
            "DefectList: the file ends inside this statement (no closing ';'): truncated; what it holds is read",
        ),
        (14, "no EndOfFile statement: the file may be truncated"),
    ]


# --------------------------------------------------------------------------------------------
# The source in the lake


def test_source_is_registered_and_chosen_by_content(tmp_path):
    kinds = [s.kind for s in available_sources()]
    assert "klarf" in kinds and kinds[-1] == "stdf"
    renamed = tmp_path / "inspection.txt"
    shutil.copy(shared_klarf(REAL_11), renamed)
    assert isinstance(source_for(renamed), KlarfSource)
    packed = tmp_path / "inspection.klarf.gz"
    packed.write_bytes(gzip.compress(renamed.read_bytes()))
    assert isinstance(source_for(packed), KlarfSource)
    assert read_klarf(packed).tables["klarf_defects"].num_rows == 16
    cut = tmp_path / "cut.klarf.gz"
    cut.write_bytes(packed.read_bytes()[:3000])
    assert isinstance(source_for(cut), KlarfSource)  # its first bytes are KLARF
    with pytest.raises(KlarfError, match="line 0: cannot be read: Compressed file ended"):
        read_klarf(cut)
    not_klarf = tmp_path / "x.klarf"
    not_klarf.write_text("FileVersionless\n")
    assert not KlarfSource().matches(not_klarf)


def test_ingest_takes_klarf_beside_stdf(tmp_path, small_files):
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    shutil.copy(small_files(5), incoming / "lot.stdf")
    shutil.copy(shared_klarf(REAL_11), incoming / "wafer25.klarf")
    shutil.copy(shared_klarf(TEST_18), incoming / "nested.klarf")
    (incoming / "broken.klarf").write_text(FLAT.replace("SampleTestPlan 2", "SampleTestPlan many"))
    shutil.copy(shared_klarf(REAL_11), incoming / "HJU008.001")  # a tool's name: taken when named, by content
    data = tmp_path / "lake"
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(incoming), str(incoming / "HJU008.001"), "--data", str(data),
                                 "--workers", "1"], env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "2 ingested, 1 partial, 1 skipped, 1 quarantined" in result.output
    assert (
        f"{incoming / 'broken.klarf'}: quarantined at line 8: SampleTestPlan: expected a count"
        in result.stderr
    )
    assert (
        f"{incoming / 'nested.klarf'}: partial at line 96: DefectList of wafer SecondWaferId" in result.stderr
    )
    with lake.open(data) as db:
        stages = db.rows("SELECT source, stage, lot FROM files ORDER BY source")
        assert stages[0][:2] == ("klarf", "inline") and stages[-1][:2] == ("stdf", "wafer_sort")
        assert db.rows("SELECT lot, wafer_id, count(*) FROM klarf_defects GROUP BY ALL ORDER BY ALL") == [
            ("HJU008", "25", 16), ("aLot.String", "FirstWaferId", 3), ("aLot.String", "SecondWaferId", 2)]  # fmt: skip
        assert db.rows("SELECT count(*) FROM klarf_sample_plan WHERE lot = 'HJU008'") == [(4988,)]
        quarantined = db.rows("SELECT source, \"offset\" FROM quarantine WHERE path LIKE '%broken.klarf'")
        assert quarantined == [("klarf", 8)]


def test_mangled_files_are_read_or_refused_with_a_line_never_a_traceback(tmp_path):
    """Seeded edits of the sample files (cuts, deletions, stray braces, quotes, keywords, copied
    spans): each is read, or refused with KlarfError naming a line; nothing else is raised."""
    import random

    sources = [shared_klarf(n).read_text(encoding="latin-1") for n in (TEST_12, TEST_18)]
    real = shared_klarf(REAL_11).read_text(encoding="latin-1")
    sources.append(real[:2000] + real[-3000:])
    junk = ["{", "}", ";", ",", '"', "Record", "Field", "List", "Data", "Columns", "-1", "1e5", "x", "\n",
            "DefectList", "WaferID", "Data 2", "Columns 2 {int32 A, float B}", "InspectionTest 2;"]  # fmt: skip
    rng = random.Random(20261202)
    path = tmp_path / "mangled.klarf"
    refused = 0
    for _ in range(300):
        chars = list(rng.choice(sources))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(chars))
            edit = rng.random()
            if edit < 0.3:
                del chars[at : at + rng.randint(1, 40)]
            elif edit < 0.6:
                chars[at:at] = list(rng.choice(junk))
            elif edit < 0.8:
                chars = chars[: max(at, 1)]
            else:
                start = rng.randrange(len(chars))
                chars[at:at] = chars[start : start + rng.randint(1, 60)]
        path.write_text("".join(chars), encoding="latin-1")
        try:
            result = read_klarf(path)
        except KlarfError as exc:
            refused += 1
            assert exc.issue.offset >= 0 and exc.issue.reason
            continue
        assert result.facts.stage == "inline" and "klarf_wafers" in result.tables
    assert 0 < refused < 300  # some edits are fatal, some are not


def test_a_column_typed_differently_by_two_wafers_is_text_in_both(tmp_path):
    text = shared_klarf(TEST_18).read_text(encoding="latin-1")
    second = text.index('Record WaferRecord "SecondWaferId"')
    text = text[:second] + text[second:].replace("int32 FACLASS", "string FACLASS", 1)
    path = tmp_path / "retyped.klarf"
    path.write_text(text, encoding="latin-1")
    defects = read_klarf(path).tables["klarf_defects"]
    assert defects.schema.field("faclass").type == pa.string()
    assert defects["faclass"].to_pylist() == ["0"] * 5
    assert defects.schema.field("intensity").type == pa.int32()  # the others keep their types
