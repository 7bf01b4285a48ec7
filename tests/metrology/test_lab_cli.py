"""``silicio metrology type1 | attribute | grr-nested | calibration-curve | montecarlo | due``, run
in-process on files written as a lab would write them (semicolons and decimal commas included)."""

from __future__ import annotations

import json
import math

from typer.testing import CliRunner

from silicio.cli.metrology import app

runner = CliRunner()


def metrology(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200", "NO_COLOR": "1"})


def test_type1_reads_a_decimal_comma_file(tmp_path):
    values = [10.01, 9.99, 10.02, 9.98, 10.00, 10.03, 10.01, 9.99, 10.00, 10.02]
    path = tmp_path / "tipo1.csv"
    path.write_text("lectura;valor\n" + "".join(f"{i};{v:.2f}".replace(".", ",") + "\n" for i, v in enumerate(values)),
                    encoding="cp1252")  # fmt: skip
    result = metrology("type1", path, "--reference", "10", "--tolerance", "0.5", "--json")
    assert result.exit_code == 2 and "missing column(s) value" in result.stderr
    result = metrology("type1", path, "--reference", "10", "--tolerance", "0.5", "--value", "valor", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    mean = sum(values) / len(values)
    s = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    assert abs(out["cg"] - 0.1 / (6 * s)) < 1e-9
    text = metrology("type1", path, "--reference", "10", "--tolerance", "0.5", "--value", "valor").stdout
    assert "Cg = " in text and "capable" in text


def test_attribute_cli(tmp_path):
    rows = ["part,appraiser,rating,standard"]
    for part, std in (("p1", "good"), ("p2", "bad")):
        for who in ("A", "B"):
            for _ in range(2):
                rows.append(f"{part},{who},{std if who == 'A' else 'good'},{std}")
    path = tmp_path / "attr.csv"
    path.write_text("\n".join(rows) + "\n")
    result = metrology("attribute", path, "--standard", "standard", "--defective", "bad", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["vs_standard"]["A"]["matched"] == 2 and out["vs_standard"]["B"]["matched"] == 1
    assert out["decisions"]["B"]["miss_rate"] == 1.0 and out["decisions"]["A"]["acceptable"] is True


def test_grr_nested_cli_montgomery(tmp_path):
    data = [[[1, -1, 0], [-2, -3, -4], [-2, 0, 1], [1, 4, 0]], [[1, -2, -3], [0, 4, 2], [-1, 0, -2], [0, 3, 2]],
            [[2, 4, 0], [-2, 0, 2], [1, -1, 2], [3, 2, 1]]]  # fmt: skip
    lines = ["operator,part,value"] + [
        f"S{i},S{i}B{j},{v}" for i, s in enumerate(data) for j, b in enumerate(s) for v in b
    ]
    path = tmp_path / "nested.csv"
    path.write_text("\n".join(lines) + "\n")
    result = metrology("grr-nested", path, "--json")
    assert result.exit_code == 0, result.output
    assert round(json.loads(result.stdout)["variances"]["part"], 2) == 1.71  # Montgomery Example 14.1


def test_calibration_curve_cli_gum_h3(tmp_path):
    t = [21.521, 22.012, 22.512, 23.003, 23.507, 23.999, 24.513, 25.002, 25.503, 26.010, 26.511]
    b = [-0.171, -0.169, -0.166, -0.159, -0.164, -0.165, -0.156, -0.157, -0.159, -0.161, -0.160]
    path = tmp_path / "h3.csv"
    path.write_text("t;b\n" + "".join(f"{x};{y}\n".replace(".", ",") for x, y in zip(t, b, strict=True)))
    result = metrology(
        "calibration-curve", path, "--x", "t", "--y", "b", "--x0", "20", "--at", "30", "--json"
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert round(out["predictions"][0]["y"], 4) == -0.1494 and round(out["predictions"][0]["u"], 4) == 0.0041


def test_montecarlo_cli_with_a_model(tmp_path):
    budget = tmp_path / "budget.toml"
    budget.write_text(
        'measurand = "P"\nunit = "W"\nmodel = "V**2 / R"\n'
        '[[inputs]]\nname = "V"\nvalue = 10.0\nstandard_uncertainty = 0.1\nsensitivity = 0\n'
        '[[inputs]]\nname = "R"\nvalue = 50.0\nhalf_width = 0.5\ndistribution = "rectangular"\nsensitivity = 0\n'
    )
    result = metrology("montecarlo", budget, "--trials", "200000", "--seed", "4", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    # First-order GUM: u^2 = (2V/R)^2 u(V)^2 + (V^2/R^2)^2 u(R)^2 (u(R) = 0.5/sqrt 3).
    u_guf = math.sqrt((2 * 10 / 50 * 0.1) ** 2 + (100 / 2500 * 0.5 / math.sqrt(3)) ** 2)
    assert abs(out["standard_uncertainty"] - u_guf) / u_guf < 0.02
    assert abs(out["estimate"] - 2.0) < 0.002
    bad = tmp_path / "bad.toml"
    bad.write_text(budget.read_text().replace('"V**2 / R"', '"__import__(1)"'))
    refused = metrology("montecarlo", bad)
    assert refused.exit_code == 2 and "only numbers, inputs" in refused.stderr


def test_due_cli(tmp_path):
    (tmp_path / "cal.csv").write_text(
        "certificate_id,instrument_id,calibrated_on,due_on\nC1,DMM-1,2025-01-10,2026-01-10\nC2,SCOPE-2,2026-06-01,2027-06-01\n"
    )
    (tmp_path / "meas.csv").write_text(
        "characteristic,value,instrument_id,operator,measured_at,lot_id\n"
        "vth,0.5,DMM-1,ana,2026-02-01 10:00:00,LOT-7\nvth,0.6,SCOPE-2,ana,2026-07-01 10:00:00,LOT-8\n"
        "vth,0.7,DMM-1,ana,2025-06-01 10:00:00,LOT-6\n"
    )
    result = metrology("due", "--calibrations", tmp_path / "cal.csv", "--measurements", tmp_path / "meas.csv",
                       "--on", "2026-12-02", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {r["instrument_id"]: r["status"] for r in out["schedule"]} == {
        "DMM-1": "overdue",
        "SCOPE-2": "current",
    }
    assert out["lots_measured_out_of_calibration"] == [{"lot_id": "LOT-7", "measurements": 1}]
    bad = metrology("due", "--calibrations", tmp_path / "cal.csv", "--on", "2.12.2026")
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.stderr


def test_grr_wide_layout_hint_and_reading(quality_file, tmp_path):
    import csv

    with open(quality_file("aiag_msa4_grr_10x3x3.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for row in rows:
        cells.setdefault((row["part"], row["appraiser"]), {})[row["trial"]] = row["value"]
    trials = sorted({row["trial"] for row in rows}, key=int)
    wide = tmp_path / "wide.csv"
    wide.write_text("part,appraiser," + ",".join(f"Trial{t}" for t in trials) + "\n"
                    + "".join(f"{p},{a}," + ",".join(v[t] for t in trials) + "\n" for (p, a), v in cells.items()))  # fmt: skip
    hint = metrology("grr", wide)
    assert hint.exit_code == 2 and "--wide Trial" in hint.stderr and "Trial1" in hint.stderr
    long_result = json.loads(metrology("grr", quality_file("aiag_msa4_grr_10x3x3.csv"), "--json").stdout)
    wide_result = metrology("grr", wide, "--wide", "Trial", "--json")
    assert wide_result.exit_code == 0, wide_result.output
    assert json.loads(wide_result.stdout)["components"] == long_result["components"]
    assert round(long_result["components"]["GRR"], 5) == 0.30237  # AIAG MSA 4th ed., pooled ANOVA


def test_uncertainty_shows_values_as_written(tmp_path):
    budget = tmp_path / "b.csv"
    budget.write_text("name,value,standard_uncertainty,sensitivity\nL,10000.005,0.002,1\nT,20.1,0.1,0.5\n")
    result = metrology("uncertainty", budget)
    assert result.exit_code == 0, result.output
    assert "10000.005" in result.stdout


def test_measurement_times_with_utc_offsets_keep_their_local_day(tmp_path):
    from silicio.metrology import MetrologyError
    from silicio.metrology.io import read_records

    path = tmp_path / "m.csv"
    path.write_text(
        "characteristic,value,measured_at\nvth,0.5,2026-02-01T22:30:00-06:00\nvth,0.6,2026-02-01 08:00Z\n"
    )
    times = read_records(path, "measurements").column("measured_at").to_pylist()
    # 22:30 in Mexico City is still February 1st there (04:30 on the 2nd in UTC): the lab's day counts.
    assert [t.isoformat() for t in times] == ["2026-02-01T22:30:00", "2026-02-01T08:00:00"]
    path.write_text("characteristic,value,measured_at\nvth,0.5,yesterday\n")
    try:
        read_records(path, "measurements")
    except MetrologyError as exc:
        assert "row 1: measured_at = 'yesterday'" in str(exc)
    else:
        raise AssertionError("a time that is not one was read")
