"""KLARF defects on the STDF map and their yield impact, against values worked out by hand from a
small inspection file written here (the arithmetic is in the comments), and the real 1.1 file's
own summary."""

from __future__ import annotations

import pyarrow as pa
import pytest

from silicio.lake.sources.klarf import read_klarf
from silicio.spatial.defects import (
    defect_density,
    defect_yield,
    inspection_summary,
    match_wafers,
    place_defects,
    placement_for,
)
from silicio.stdf.parts import PARTS_SCHEMA
from silicio.yields.wafermap import Orientation

from ..conftest import shared_klarf

# A 3 x 3 sample plan around die (0, 0); AreaPerTest 9e8 um^2 = 9 cm^2. Defects (KLARF index,
# class): 1 (-1, 1) c1; 2 (-1, 1) c1 (same die); 3 (0, 1) c2; 4 (1, 1) c1; 5 (1, -1) c2;
# 6 (5, 5) c1, outside the plan (a defect, but on no inspected die).
INSPECTION = """FileVersion 1 1;
ResultTimestamp 01-02-24 08:00:00;
LotID "LOTA";
StepID "M1";
OrientationMarkLocation DOWN;
DiePitch 1000.0 1000.0;
DieOrigin 0.0 0.0;
WaferID "3";
InspectionTest 1;
SampleTestPlan 9
 -1 -1 0 -1 1 -1
 -1 0 0 0 1 0
 -1 1 0 1 1 1;
AreaPerTest 9.0e8;
ClassLookup 2
 1 "particle"
 2 "scratch";
DefectRecordSpec 6 DEFECTID XREL YREL XINDEX YINDEX CLASSNUMBER;
DefectList
 1 10.0 10.0 -1 1 1
 2 20.0 20.0 -1 1 1
 3 30.0 30.0 0 1 2
 4 40.0 40.0 1 1 1
 5 50.0 50.0 1 -1 2
 6 60.0 60.0 5 5 1;
SummarySpec 5 TESTNO NDEFECT DEFDENSITY NDIE NDEFDIE;
SummaryList
 1 6 0.666667 9 4;
EndOfFile;
"""

# Wafer sort verdict by KLARF die (the STDF map below has Y growing down, so it holds (x, -y)):
# the four defective dies, then the five clean ones; (2, 0) is tested but not inspected.
VERDICTS = {(-1, 1): False, (0, 1): False, (1, 1): True, (1, -1): False,
            (-1, 0): True, (0, 0): True, (1, 0): False, (-1, -1): True, (0, -1): True,
            (2, 0): False}  # fmt: skip


def _parts(verdicts: dict, lot="LOTA", wafer="LOTA-03", shift=(0, 0), retest_die=(0, 0)) -> pa.Table:
    """Parts with the given final verdicts at STDF (x, -y) + shift; ``retest_die`` first fails."""
    rows = []
    for (x, y), passed in verdicts.items():
        sx, sy = x + shift[0], -y + shift[1]
        tests = [(False, False), (passed, True)] if (x, y) == retest_die else [(passed, True)]
        for verdict, last in tests:
            i = len(rows)
            rows.append({"lot_id": lot, "sublot_id": None, "wafer_id": wafer, "head": 1, "site": 1, "part_index": i,
                         "part_id": str(i), "x": sx, "y": sy, "hard_bin": 1 if verdict else 5,
                         "soft_bin": 1 if verdict else 5, "passed": verdict, "test_t": None, "num_tests": 1,
                         "die_key": sx * 1000 + sy, "is_first_test": not last or len(tests) == 1,
                         "is_last_test": last, "seq": i})  # fmt: skip
    return pa.Table.from_pylist(rows, PARTS_SCHEMA)


@pytest.fixture
def inspection(tmp_path):
    path = tmp_path / "lota_3.klarf"
    path.write_text(INSPECTION)
    result = read_klarf(path)
    assert result.issues == []
    return result.tables


PROBER = Orientation("right", "down", "D")  # STDF WCR POS_X R, POS_Y D, WF_FLAT D


def test_defects_land_on_the_stdf_dies(inspection):
    placed = place_defects(inspection["klarf_defects"], inspection["klarf_wafers"], _parts(VERDICTS),
                           inspection["klarf_sample_plan"], orientation=PROBER)  # fmt: skip
    table = placed.defects
    # Y grows down in STDF: KLARF (x, y) is STDF (x, -y); same lot, wafer "3" is "LOTA-03" by number
    assert list(zip(table["x"].to_pylist(), table["y"].to_pylist(), strict=True)) == [
        (-1, -1), (-1, -1), (0, -1), (1, -1), (1, 1), (5, -5)]  # fmt: skip
    assert set(table["stdf_wafer_id"].to_pylist()) == {"LOTA-03"}
    assert placed.matches[("LOTA", "3")].rule == "wafer number"
    assert set(table["placed_by"].to_pylist()) == {"index"}
    # inspected dies: the 3 x 3 plan, all tested; (2, 0) tested but not inspected
    assert placed.inspected[("LOTA", "3", "M1")] == {(x, -y) for x in (-1, 0, 1) for y in (-1, 0, 1)}


def test_kill_ratio_capture_rate_and_defect_limited_yield_by_hand(inspection):
    placed = place_defects(inspection["klarf_defects"], inspection["klarf_wafers"], _parts(VERDICTS),
                           inspection["klarf_sample_plan"], orientation=PROBER)  # fmt: skip
    rows = {r["classname"]: r for r in defect_yield(placed, _parts(VERDICTS), inspection["klarf_tests"],
                                                     inspection["klarf_classes"]).to_pylist()}  # fmt: skip
    assert sorted(rows) == ["all", "particle", "scratch"]
    # 9 dies inspected and tested, 4 fail: (-1,1) (0,1) (1,-1) (1,0). Clean dies (no defect of any
    # class): (-1,0) (0,0) (1,0) (-1,-1) (0,-1): 5, one fails (1,0): Yc = 4/5 = 0.8. Die (0, 0) failed
    # first and passed its retest: it counts as passed.
    particle = rows["particle"]
    # particle dies (-1,1) fail, (1,1) pass: Yd = 1/2; KR = 1 - 0.5/0.8 = 0.375; capture 1 of 4
    # failing dies; DLY = 1 - 0.375 * 2/9 = 0.9166...; 4 particle defects (one off the plan) / 9 cm^2
    assert (particle["classnumber"], particle["inspected_dies"], particle["failed_dies"],
            particle["defective_dies"], particle["defective_failed"], particle["clean_dies"],
            particle["clean_failed"], particle["defects"]) == (1, 9, 4, 2, 1, 5, 1, 4)  # fmt: skip
    assert particle["kill_ratio"] == pytest.approx(0.375)
    assert particle["capture_rate"] == pytest.approx(0.25)
    assert particle["defect_limited_yield"] == pytest.approx(1 - 0.375 * 2 / 9)
    assert particle["defect_density"] == pytest.approx(4 / 9)
    # scratch dies (0,1) and (1,-1) both fail: Yd = 0, KR = 1; capture 2/4; DLY = 1 - 2/9
    scratch = rows["scratch"]
    assert (scratch["defective_dies"], scratch["defective_failed"], scratch["defects"]) == (2, 2, 2)
    assert scratch["kill_ratio"] == pytest.approx(1.0)
    assert scratch["capture_rate"] == pytest.approx(0.5)
    assert scratch["defect_limited_yield"] == pytest.approx(7 / 9)
    # all classes: 4 defective dies, 3 fail: Yd = 0.25, KR = 1 - 0.25/0.8 = 0.6875; capture 3/4;
    # DLY = 1 - 0.6875 * 4/9; 6 defects / 9 cm^2, the file's DEFDENSITY 0.666667
    every = rows["all"]
    assert (every["defective_dies"], every["defective_failed"], every["defects"]) == (4, 3, 6)
    assert every["kill_ratio"] == pytest.approx(0.6875)
    assert every["capture_rate"] == pytest.approx(0.75)
    assert every["defect_limited_yield"] == pytest.approx(1 - 0.6875 * 4 / 9)
    assert round(every["defect_density"], 6) == inspection["klarf_summary"]["defdensity"][0].as_py()
    assert {r["step_id"] for r in rows.values()} == {"M1"}


def test_inspection_summary_matches_the_file_summary(inspection):
    summary = inspection_summary(inspection["klarf_defects"], inspection["klarf_sample_plan"],
                                 inspection["klarf_tests"]).to_pylist()  # fmt: skip
    assert [(s["defects"], s["inspected_dies"], s["defective_dies"], s["area_cm2"]) for s in summary] == [
        (6, 9, 4, 9.0)
    ]


def test_real_file_summary_is_reproduced():
    tables = read_klarf(shared_klarf("klarfkit_CPS3TwithoutReview.001")).tables
    (row,) = inspection_summary(
        tables["klarf_defects"], tables["klarf_sample_plan"], tables["klarf_tests"]
    ).to_pylist()
    (stated,) = tables["klarf_summary"].to_pylist()
    # the file states NDEFECT 16, NDIE 4988, NDEFDIE 15, DEFDENSITY 0.068681
    assert (row["defects"], row["inspected_dies"], row["defective_dies"]) == (16, 4988, 15)
    assert (stated["ndefect"], stated["ndie"], stated["ndefdie"]) == (16, 4988, 15)
    assert round(row["defect_density"], 6) == stated["defdensity"] == 0.068681
    assert defect_density(16, 2.3296152996e10, "um2") == pytest.approx(0.0686808676, rel=1e-9)
    assert defect_density(16, 2.3296152996e16, "nm2") == pytest.approx(0.0686808676, rel=1e-9)


def test_orientations_by_hand():
    # notch DOWN in KLARF, STDF flat up, X growing left, Y up: a half turn, then X mirrored.
    # Die (2, 1), right of centre and above: after the half turn it is at (-2, -1); X grows left: (2, -1).
    placement = placement_for(Orientation("left", "up", "U"), "DOWN")
    assert [tuple(map(int, p)) for p in zip(*placement.apply([2], [1]), strict=True)] == [(2, -1)]
    # KLARF notch RIGHT, STDF flat down (X right, Y down): a quarter turn clockwise takes the notch
    # from the right to the bottom: (2, 1) -> (1, -2); Y grows down: (1, 2).
    placement = placement_for(Orientation("right", "down", "D"), "RIGHT")
    assert [tuple(map(int, p)) for p in zip(*placement.apply([2], [1]), strict=True)] == [(1, 2)]
    # 1.8 files write the mark as an angle: 0 is DOWN
    assert placement_for(PROBER, "0") == placement_for(PROBER, "DOWN")
    # no flat known in STDF: taken where the KLARF mark is, and said so
    assert any("flat side is unknown" in n for n in placement_for(Orientation(), "DOWN").notes)
    with pytest.raises(ValueError, match="OrientationMarkLocation 'SIDEWAYS'"):
        placement_for(PROBER, "SIDEWAYS")


def test_rel_positions_without_index(tmp_path):
    text = INSPECTION.replace("DiePitch 1000.0 1000.0", "DiePitch 1000.0 2000.0").replace(
        "DefectRecordSpec 6 DEFECTID XREL YREL XINDEX YINDEX CLASSNUMBER;",
        "DefectRecordSpec 4 DEFECTID XREL YREL CLASSNUMBER;",
    )
    body = "DefectList\n 1 1500.0 -100.0 1\n 2 999.9 0.0 2\n 3 -0.5 3999.0 1;"
    text = text[: text.index("DefectList")] + body + text[text.index("\nSummarySpec") :]
    path = tmp_path / "rel.klarf"
    path.write_text(text)
    tables = read_klarf(path).tables
    placed = place_defects(tables["klarf_defects"], tables["klarf_wafers"], _parts(VERDICTS),
                           tables["klarf_sample_plan"], orientation=Orientation("right", "up", "D")).defects  # fmt: skip
    # floor(1500/1000) = 1, floor(-100/2000) = -1; floor(999.9/1000) = 0, 0; floor(-0.5/1000) = -1, floor(3999/2000) = 1
    assert list(zip(placed["x"].to_pylist(), placed["y"].to_pylist(), strict=True)) == [
        (1, -1),
        (0, 0),
        (-1, 1),
    ]
    assert set(placed["placed_by"].to_pylist()) == {"rel"}


def test_offsets_alignment_and_overrides(inspection):
    shifted = _parts(VERDICTS, shift=(10, 20), wafer="W3")
    placed = place_defects(inspection["klarf_defects"], inspection["klarf_wafers"], shifted,
                           inspection["klarf_sample_plan"], orientation=PROBER, align=True)  # fmt: skip
    assert placed.placements[("LOTA", "3", "M1")].dx == 10 and placed.placements[("LOTA", "3", "M1")].dy == 20
    assert placed.defects["x"].to_pylist()[0] == -1 + 10 and placed.defects["y"].to_pylist()[0] == -1 + 20
    manual = place_defects(inspection["klarf_defects"], inspection["klarf_wafers"], shifted,
                           inspection["klarf_sample_plan"], orientation=PROBER, offsets={("LOTA", "3"): (10, 20)})  # fmt: skip
    assert manual.defects["x"].to_pylist() == placed.defects["x"].to_pylist()
    other = _parts(VERDICTS, lot="ELSE", wafer="X")
    unmatched = place_defects(inspection["klarf_defects"], inspection["klarf_wafers"], other,
                              inspection["klarf_sample_plan"], orientation=PROBER)  # fmt: skip
    assert unmatched.defects["x"].null_count == 6
    assert any("no STDF wafer matches" in n for n in unmatched.notes)
    forced = place_defects(inspection["klarf_defects"], inspection["klarf_wafers"], other,
                           inspection["klarf_sample_plan"], orientation=PROBER,
                           overrides={("LOTA", "3"): ("ELSE", "X")})  # fmt: skip
    assert forced.matches[("LOTA", "3")].rule == "override" and forced.defects["x"].null_count == 0


def test_wafer_matching_rules():
    stdf = [("LOT1", "LOT1-07"), ("LOT1", "08"), ("lot 2", "w1"), ("LOT3", "1"), ("LOT3", "A1")]
    found = match_wafers([("LOT1", "08"), ("LOT1", "7"), ("LOT2", "W1"), ("LOT3", "01"), ("LOT9", "1")], stdf)
    assert {k: (m.wafer_id, m.rule) if m else None for k, m in found.items()} == {
        ("LOT1", "08"): ("08", "exact"),
        ("LOT1", "7"): ("LOT1-07", "wafer number"),
        ("LOT2", "W1"): ("w1", "normalised"),
        ("LOT3", "01"): None,  # "1" and "A1" both wafer 1: ambiguous, no guess
        ("LOT9", "1"): None,
    }


def test_demo_fab_inspection_end_to_end(tmp_path):
    """The demo fab's inline inspection: STDF unchanged, KLARF ingested beside it, the planted
    signature's defect class kills, the nuisance class does not, the density is the file's."""
    import hashlib

    import silicio.lake as lake
    from silicio.demo import generate_fab
    from silicio.demo.inspection import CLASSES, SIGNATURE_CLASS
    from silicio.yields.wafermap import orientation_of

    options = {"lots": 1, "wafers_per_lot": 4, "die_scale": 2.0, "products": ["SLC-TV100"]}
    with_inspection = generate_fab(tmp_path / "fab", inspection=True, **options)
    without = generate_fab(tmp_path / "plain", **options)
    assert [f.path for f in with_inspection.files] == [f.path for f in without.files]
    for f in without.files:
        digest = [
            hashlib.sha256((m.out_dir / f.path).read_bytes()).hexdigest() for m in (with_inspection, without)
        ]
        assert digest[0] == digest[1], f.path
    assert not without.inspections
    assert [f.wafer_id for f in with_inspection.inspections] == ["QRO24A0012-01", "QRO24A0012-04"]
    patterns = {p.wafer_id: p.detail for p in with_inspection.planted_of("signature")}

    report = lake.ingest([tmp_path / "fab"], tmp_path / "lake", workers=1)
    assert {o.status for o in report.outcomes} == {"ingested"}
    with lake.open(tmp_path / "lake") as db:
        tables = {name: db.arrow(f"SELECT * EXCLUDE (product, lot, stage, file_sha256) FROM {name}")
                  for name in ("klarf_defects", "klarf_wafers", "klarf_sample_plan", "klarf_tests", "klarf_classes",
                               "klarf_summary", "parts")}  # fmt: skip
        orientation = orientation_of({"WCR": db.arrow("SELECT * FROM WCR")})
    placed = place_defects(tables["klarf_defects"], tables["klarf_wafers"], tables["parts"],
                           tables["klarf_sample_plan"], orientation=orientation)  # fmt: skip
    assert placed.notes == []  # matched exactly, orientations known
    rows = {r["classname"]: r for r in defect_yield(placed, tables["parts"], tables["klarf_tests"],
                                                     tables["klarf_classes"]).to_pylist()}  # fmt: skip
    planted_classes = {CLASSES[SIGNATURE_CLASS[patterns[w]]] for w in ("QRO24A0012-01", "QRO24A0012-04")}
    assert planted_classes <= set(rows)
    for name in planted_classes:
        assert rows[name]["kill_ratio"] > 0.5, rows[name]
    assert rows["nuisance"]["kill_ratio"] < 0.3, rows["nuisance"]
    # every inspected die was tested: the sample plan is the wafer's die grid
    summary = inspection_summary(tables["klarf_defects"], tables["klarf_sample_plan"], tables["klarf_tests"])
    stated = {r["wafer_id"]: r for r in tables["klarf_summary"].to_pylist()}
    for row in summary.to_pylist():
        expected = stated[row["wafer_id"]]
        assert (row["defects"], row["inspected_dies"], row["defective_dies"]) == (
            expected["ndefect"], expected["ndie"], expected["ndefdie"])  # fmt: skip
        assert round(row["defect_density"], 6) == expected["defdensity"]
    assert rows["all"]["inspected_dies"] == sum(r["inspected_dies"] for r in summary.to_pylist())
