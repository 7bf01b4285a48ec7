"""Instrument, calibration and qualification records: flags, affected lots, traceability, files.

A small plant, built here: a CMM calibrated by an accredited lab against a gauge-block set,
itself calibrated against CENAM's laser interferometer (the national standard). Expected
flags follow from the dates by construction.
"""

from __future__ import annotations

import datetime as dt
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from silicio.metrology import MetrologyError
from silicio.metrology.io import read_records, read_table
from silicio.metrology.records import (
    SCHEMAS,
    affected_lots,
    characteristics_from_tidy,
    conform,
    flag_measurements,
    measurements_from_tidy,
    traceability_chain,
)

D = dt.date


def calibrations(**changes) -> pa.Table:
    rows = [
        # certificate, instrument, from, due, lab, accreditation, standard used, its certificate, national
        (
            "C-100",
            "CMM-01",
            D(2024, 1, 10),
            D(2025, 1, 10),
            "Metrologia Norte",
            "ISO/IEC 17025",
            "GB-7",
            "C-50",
            None,
        ),
        (
            "C-101",
            "CMM-01",
            D(2025, 1, 20),
            D(2026, 1, 20),
            "Metrologia Norte",
            "ISO/IEC 17025",
            "GB-7",
            "C-50",
            None,
        ),
        (
            "C-50",
            "GB-7",
            D(2023, 6, 1),
            D(2025, 6, 1),
            "Lab Patrones",
            "ISO/IEC 17025",
            "LASER-1",
            "C-1",
            None,
        ),
        ("C-1", "LASER-1", D(2023, 1, 1), D(2026, 1, 1), "CENAM", None, None, None, "CENAM"),
        (
            "C-200",
            "PROBE-2",
            D(2024, 1, 1),
            D(2026, 1, 1),
            "Metrologia Norte",
            "ISO/IEC 17025",
            "GB-9",
            "C-60",
            None,
        ),
    ]
    rows = [changes.get(r[0], r) for r in rows]
    names = [
        "certificate_id",
        "instrument_id",
        "calibrated_on",
        "due_on",
        "lab",
        "accreditation",
        "reference_standard",
        "traceable_to",
        "national_standard",
    ]
    return conform(pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows]), "calibrations")


INSTRUMENTS = conform(
    pa.table(
        {
            "instrument_id": ["CMM-01", "PROBE-2"],
            "instrument_type": ["coordinate measuring machine", "four-point probe"],
            "range_low": [0.0, 0.0],
            "range_high": [500.0, 100.0],
        }
    ),
    "instruments",
)

QUALIFICATIONS = conform(
    pa.table(
        {
            "operator": ["ana", "ana", "luis"],
            "characteristic": ["bow", "sheet_resistance", "bow"],
            "valid_from": [D(2024, 1, 1), D(2024, 1, 1), D(2024, 1, 1)],
            "valid_to": [None, D(2024, 6, 30), D(2024, 12, 31)],
        }
    ),
    "qualifications",
)


def measurements() -> pa.Table:
    t = dt.datetime
    return conform(
        pa.table(
            {
                "characteristic": ["bow", "bow", "bow", "sheet_resistance", "sheet_resistance", "bow", "bow"],
                "value": [12.0, 13.0, 11.0, 45.0, 120.0, 10.0, 9.0],
                "instrument_id": ["CMM-01", "CMM-01", "CMM-01", "PROBE-2", "PROBE-2", None, "CMM-09"],
                "operator": ["ana", "luis", "luis", "ana", "ana", "ana", "ana"],
                "measured_at": [
                    t(2024, 5, 1, 8),  # 1: in calibration, qualified
                    t(
                        2025, 1, 10, 23, 59
                    ),  # 2: on the due date (valid); luis's qualification ended 2024-12-31
                    t(2025, 1, 15, 9),  # 3: between C-100's due date and C-101: out of calibration
                    t(2024, 6, 30, 17),  # 4: last day of ana's sheet resistance qualification
                    t(2024, 7, 1, 7),  # 5: the day after; 120 > range_high 100
                    t(2024, 5, 1, 9),  # 6: no instrument recorded
                    t(2024, 5, 1, 10),  # 7: an instrument not on file
                ],
                "lot_id": ["L1", "L1", "L2", "L3", "L3", "L4", "L4"],
                "wafer_id": ["W1", "W2", "W5", "W1", "W2", "W3", "W4"],
            }
        ),
        "measurements",
    )


def test_flags_follow_the_dates():
    flags = flag_measurements(measurements(), INSTRUMENTS, calibrations(), QUALIFICATIONS)
    assert flags.column("row").to_pylist() == [1, 2, 3, 4, 5, 6, 7]
    assert flags.column("instrument_out_of_calibration").to_pylist() == [
        False,
        False,
        True,
        False,
        False,
        True,
        True,
    ]
    assert flags.column("operator_not_qualified").to_pylist() == [
        False,
        True,
        True,
        False,
        True,
        False,
        False,
    ]
    assert flags.column("outside_instrument_range").to_pylist() == [
        False,
        False,
        False,
        False,
        True,
        False,
        False,
    ]
    reasons = flags.column("reason").to_pylist()
    assert reasons[0] is None
    assert reasons[2] == (
        "instrument CMM-01 not calibrated on 2025-01-15; operator luis not qualified for bow on 2025-01-15"
    )
    assert reasons[5] == "no instrument recorded"
    assert reasons[6] == "instrument CMM-09 unknown"
    # Without the instrument list, unknown instruments are judged by their certificates alone.
    no_inst = flag_measurements(measurements(), None, calibrations(), QUALIFICATIONS)
    assert no_inst.column("outside_instrument_range").to_pylist() == [False] * 7
    assert no_inst.column("instrument_out_of_calibration").to_pylist()[6] is True


def test_affected_lots():
    lots = affected_lots(flag_measurements(measurements(), INSTRUMENTS, calibrations(), QUALIFICATIONS))
    got = {r["lot_id"]: r for r in lots.to_pylist()}
    assert sorted(got) == ["L1", "L2", "L3", "L4"]
    assert (got["L1"]["measurements"], got["L1"]["flagged"], got["L1"]["wafers"]) == (2, 1, ["W2"])
    assert got["L3"]["not_qualified"] == 1 and got["L3"]["outside_range"] == 1
    assert got["L4"]["out_of_calibration"] == 2 and got["L4"]["wafers"] == ["W3", "W4"]
    assert got["L2"]["first_flagged"] == dt.datetime(2025, 1, 15, 9)
    clean = flag_measurements(measurements().slice(0, 1), INSTRUMENTS, calibrations(), QUALIFICATIONS)
    assert affected_lots(clean).num_rows == 0
    with pytest.raises(MetrologyError, match="flag_measurements"):
        affected_lots(measurements())


def test_traceability_chain_complete():
    chain = traceability_chain("C-100", calibrations(), on=D(2024, 5, 1))
    assert chain.links == ("C-100", "C-50", "C-1")
    assert chain.national_standard == "CENAM"
    assert chain.problems == () and chain.complete


def test_traceability_chain_breaks():
    # C-200 points at a certificate that is not on file.
    broken = traceability_chain("C-200", calibrations())
    assert not broken.complete
    assert broken.problems == ("certificate C-200 is traceable to C-60, which is not on file",)
    # The gauge blocks' certificate expired before the CMM was calibrated with them.
    expired = calibrations(
        **{
            "C-50": (
                "C-50",
                "GB-7",
                D(2023, 1, 2),
                D(2023, 12, 31),
                "Lab Patrones",
                "ISO/IEC 17025",
                "LASER-1",
                "C-1",
                None,
            )
        }
    )
    chain = traceability_chain("C-100", expired)
    assert chain.links == ("C-100", "C-50", "C-1") and not chain.complete
    assert chain.problems == ("certificate C-50 (2023-01-02 to 2023-12-31) was not valid on 2024-01-10",)
    # The asked certificate itself expired on the day of use.
    assert (
        "was not valid on 2025-02-01"
        in traceability_chain("C-100", calibrations(), on=D(2025, 2, 1)).problems[0]
    )
    # A loop, a chain that stops, a lab without accreditation, a mismatched standard.
    looped = calibrations(
        **{"C-1": ("C-1", "LASER-1", D(2023, 1, 1), D(2026, 1, 1), "X", "ISO/IEC 17025", None, "C-100", None)}
    )
    assert "the chain loops" in traceability_chain("C-100", looped).problems[-1]
    stops = calibrations(
        **{"C-1": ("C-1", "LASER-1", D(2023, 1, 1), D(2026, 1, 1), "X", "ISO/IEC 17025", None, None, None)}
    )
    assert traceability_chain("C-100", stops).problems == (
        "certificate C-1 links to no higher standard and names no national standard",
    )
    unaccredited = calibrations(
        **{"C-50": ("C-50", "GB-7", D(2023, 6, 1), D(2025, 6, 1), "Garage", None, "LASER-2", "C-1", None)}
    )
    problems = traceability_chain("C-100", unaccredited).problems
    assert problems == (
        "certificate C-50 was issued by Garage without accreditation",
        "certificate C-50 used standard LASER-2, but C-1 calibrates LASER-1",
    )
    assert traceability_chain("C-999", calibrations()).problems == ("certificate C-999 not found",)


def test_read_records_csv_and_parquet(tmp_path):
    path = tmp_path / "instruments.csv"
    path.write_text(
        "instrument_id,instrument_type,range_low,range_high,resolution,location\n"
        "007,caliper,0,150,0.01,bay 3\n"
        "CMM-01,cmm,,,0.0001,\n",
        encoding="utf-8",
    )
    t = read_records(path, "instruments")
    assert t.schema.equals(SCHEMAS["instruments"])
    assert t.column("instrument_id").to_pylist() == ["007", "CMM-01"]  # ids stay text
    assert t.column("range_high").to_pylist() == [150.0, None]
    assert t.column("location").to_pylist() == ["bay 3", None]
    pq.write_table(measurements(), tmp_path / "m.parquet")
    assert read_records(tmp_path / "m.parquet", "measurements").equals(measurements())


def test_read_records_errors_name_file_row_and_column(tmp_path):
    path = tmp_path / "cal.csv"
    path.write_text(
        "certificate_id,instrument_id,calibrated_on,due_on\nC-1,CMM-01,2024-01-10,2025-01-10\nC-2,CMM-02,2024-13-01,2025-01-10\n",
        encoding="utf-8",
    )
    with pytest.raises(MetrologyError) as err:
        read_records(path, "calibrations")
    assert str(err.value) == f"{path}: row 2: calibrated_on = '2024-13-01' is not a date (YYYY-MM-DD)"
    missing = tmp_path / "q.csv"
    missing.write_text("operator,valid_from\nana,2024-01-01\n", encoding="utf-8")
    with pytest.raises(MetrologyError, match=r"q.csv: qualifications need column\(s\) characteristic"):
        read_records(missing, "qualifications")
    empty_value = tmp_path / "m.csv"
    empty_value.write_text("characteristic,value\nbow,1.5\nbow,\n", encoding="utf-8")
    with pytest.raises(MetrologyError, match="m.csv: row 2: value is empty"):
        read_records(empty_value, "measurements")
    with pytest.raises(MetrologyError, match="unknown file type"):
        read_table(tmp_path / "x.xlsx")
    with pytest.raises(MetrologyError, match="unknown kind"):
        read_records(path, "gauges")


def _tidy() -> pa.Table:
    # The columns of silicio.stdf.tidy that the import reads, for two dies and a retest.
    return pa.table(
        {
            "lot_id": ["LOT7"] * 8,
            "wafer_id": ["W01"] * 8,
            "x": pa.array([1, 1, 1, 2, 2, 2, 2, 1], pa.int16()),
            "y": pa.array([5, 5, 5, 5, 5, 5, 5, 5], pa.int16()),
            "test_num": pa.array([100, 200, 300, 100, 200, 300, 100, 400], pa.uint32()),
            "test_name": ["VTH", "IDSS", "CONT", "VTH", "IDSS", "CONT", "VTH", "VTH"],
            "test_type": ["P", "P", "F", "P", "P", "F", "P", "P"],
            "result": [0.71, 1.2e-9, None, 0.69, None, None, 0.70, 3.3],
            "units": ["V", "A", None, "V", "A", None, "V", "V"],
            "lo_limit": [0.6, None, None, 0.6, None, None, 0.6, 3.0],
            "hi_limit": [0.8, 1e-8, None, 0.8, 1e-8, None, 0.8, 3.6],
            "is_last_test": [True, True, True, False, True, True, True, True],
        }
    )


def test_characteristics_from_tidy():
    c = characteristics_from_tidy(_tidy())
    assert c.schema.equals(SCHEMAS["characteristics"])
    assert c.column("characteristic").to_pylist() == [
        "VTH #100",
        "IDSS",
        "VTH #400",
    ]  # FTR 'CONT' is not parametric
    assert c.column("unit").to_pylist() == ["V", "A", "V"]
    assert c.column("lsl").to_pylist() == [0.6, None, 3.0]
    assert c.column("usl").to_pylist() == [0.8, 1e-8, 3.6]
    assert c.column("test_num").to_pylist() == [100, 200, 400]
    assert c.column("nominal").null_count == 3


def test_measurements_from_tidy():
    m = measurements_from_tidy(_tidy(), instrument_id="T2000-3")
    assert m.schema.equals(SCHEMAS["measurements"])
    # The retested die's first VTH (0.69) and the invalid IDSS result are dropped.
    assert m.column("characteristic").to_pylist() == ["VTH #100", "IDSS", "VTH #100", "VTH #400"]
    assert m.column("value").to_pylist() == [0.71, 1.2e-9, 0.70, 3.3]
    assert m.column("x").to_pylist() == [1, 1, 2, 1]
    assert set(m.column("instrument_id").to_pylist()) == {"T2000-3"}
    assert len(measurements_from_tidy(_tidy(), last_test_only=False)) == 5
    with pytest.raises(MetrologyError, match="lacks column"):
        measurements_from_tidy(_tidy().drop_columns(["units"]))


def test_read_records_and_budget_from_a_semicolon_decimal_comma_windows_file(tmp_path):
    """As Excel saves a CSV on Spanish Windows: ';', decimal commas, Windows-1252 ("Peña")."""
    from silicio.metrology.io import read_budget

    path = tmp_path / "m.csv"
    path.write_bytes("characteristic;value;operator;x;measured_at\n"
                     "espesor;1,25;Peña;3;2026-02-01T22:30:00-06:00\n"
                     "espesor;1.234,5;Ana;-2;2026-02-02 08:00\n".encode("cp1252"))  # fmt: skip
    t = read_records(path, "measurements")
    assert t.schema.equals(SCHEMAS["measurements"])
    assert t.column("value").to_pylist() == [1.25, 1234.5]
    assert t.column("operator").to_pylist() == ["Peña", "Ana"]
    assert t.column("x").to_pylist() == [3, -2]
    # the lab's local clock, as read_records keeps it
    assert [m.isoformat() for m in t.column("measured_at").to_pylist()] == ["2026-02-01T22:30:00",
                                                                            "2026-02-02T08:00:00"]  # fmt: skip
    path.write_bytes(b"characteristic;value\nespesor;1,25\nespesor;uno\n")
    with pytest.raises(MetrologyError, match=r"m.csv: row 2: value = 'uno' is not a number"):
        read_records(path, "measurements")
    budget = tmp_path / "b.csv"
    budget.write_text("name;value;standard_uncertainty;sensitivity;dof\nL;10,5;0,002;1;inf\nT;20,1;0,1;0,5;9\n",
                      encoding="utf-8-sig")  # fmt: skip
    inputs = {i.name: i for i in read_budget(budget).inputs}
    assert (inputs["L"].value, inputs["L"].standard_uncertainty, inputs["L"].dof) == (10.5, 0.002, math.inf)
    assert (inputs["T"].value, inputs["T"].sensitivity, inputs["T"].dof) == (20.1, 0.5, 9.0)
