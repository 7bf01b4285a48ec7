"""``silicio metrology``: grr, uncertainty and check, run in-process; and the HTML reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.csv as pa_csv
import pytest
from typer.testing import CliRunner

from silicio.cli.metrology import app
from silicio.metrology.msa import gage_rr_anova
from silicio.metrology.report import gage_study_html, uncertainty_budget_html
from silicio.metrology.uncertainty import Input, uncertainty_budget

runner = CliRunner()


def metrology(*args: str | Path):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200", "NO_COLOR": "1"})


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def study(quality_file, tmp_path) -> Path:
    return Path(shutil.copy(quality_file("aiag_msa4_grr_10x3x3.csv"), tmp_path / "study.csv"))


def test_grr_anova_json_and_html(study, tmp_path):
    report = tmp_path / "grr.html"
    result = metrology("grr", study, "--tolerance", "8", "--json", "--html", report)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["method"] == "anova" and out["statistics"]["pooled"] is True
    assert round(out["components"]["GRR"], 5) == 0.30237  # AIAG MSA 4th ed., pooled ANOVA
    assert out["ndc_truncated"] == 4
    assert out["percent_tolerance"]["GRR"] == pytest.approx(100 * 6 * out["components"]["GRR"] / 8)
    html = report.read_text(encoding="utf-8")
    assert "27.86" in html and "ANOVA with interaction" in html


def test_grr_average_range_table(study):
    result = metrology("grr", study, "--method", "average-range")
    assert result.exit_code == 0, result.output
    assert "26.68" in result.stdout  # %GRR, AIAG
    assert "ndc = 5" in result.stdout


def test_grr_errors(study, tmp_path):
    assert_one_line_error(metrology("grr", study, "--method", "xbar"), "--method xbar: unknown method")
    assert_one_line_error(metrology("grr", study, "--value", "reading"), "no column 'reading'")
    assert_one_line_error(metrology("grr", tmp_path / "none.csv"), "none.csv: no such file")


def test_uncertainty_csv(tmp_path):
    budget = tmp_path / "b.csv"
    budget.write_text(
        "name,value,standard_uncertainty,half_width,distribution,dof,sensitivity,unit\n"
        "reading,10.0,0.03,,,9,1,mm\n"
        "resolution,0,,0.005,rectangular,,1,mm\n",
        encoding="utf-8",
    )
    result = metrology("uncertainty", budget, "--json", "--coverage", "0.95")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    u_c = (0.03**2 + (0.005 / 3**0.5) ** 2) ** 0.5
    assert out["combined_standard_uncertainty"] == pytest.approx(u_c)
    assert out["dof_effective"] == pytest.approx(u_c**4 / (0.03**4 / 9))
    assert out["inputs"][1]["dof"] == "inf"
    table = metrology("uncertainty", budget)
    assert table.exit_code == 0 and "U = " in table.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("name,value,standard_uncertainty,sensitivity\nx,1,-2,1\n", encoding="utf-8")
    assert_one_line_error(metrology("uncertainty", bad), "bad.csv: row 1 (x)", "negative")


def _plant(tmp_path: Path) -> dict[str, Path]:
    files = {
        "measurements": "characteristic,value,instrument_id,operator,measured_at,lot_id,wafer_id\n"
        "bow,12,CMM-01,ana,2024-05-01 08:00:00,L1,W1\n"
        "bow,13,CMM-01,ana,2025-03-01 08:00:00,L2,W7\n",
        "calibrations": "certificate_id,instrument_id,calibrated_on,due_on\nC-1,CMM-01,2024-01-10,2025-01-10\n",
        "qualifications": "operator,characteristic,valid_from,valid_to\nana,bow,2024-01-01,\n",
    }
    paths = {}
    for name, text in files.items():
        paths[name] = tmp_path / f"{name}.csv"
        paths[name].write_text(text, encoding="utf-8")
    return paths


def test_check_flags_and_lots(tmp_path):
    p = _plant(tmp_path)
    args = ["check", "--measurements", p["measurements"], "--calibrations", p["calibrations"]]
    args += ["--qualifications", p["qualifications"]]
    result = metrology(*args, "--json", "--out", tmp_path / "flags.csv")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["flagged"] == 1
    assert [lot["lot_id"] for lot in out["affected_lots"]] == ["L2"]
    flags = pa_csv.read_csv(tmp_path / "flags.csv")
    assert flags.column("instrument_out_of_calibration").to_pylist() == [False, True]
    assert metrology(*args, "--fail-on-flags").exit_code == 1
    text = metrology(*args)
    assert "2 measurements, 1 flagged, 1 lots affected" in text.stdout


def test_check_errors(tmp_path):
    p = _plant(tmp_path)
    p["calibrations"].write_text(
        "certificate_id,instrument_id,calibrated_on,due_on\nC-1,CMM-01,10/01/2024,2025-01-10\n"
    )
    result = metrology(
        "check",
        "--measurements",
        p["measurements"],
        "--calibrations",
        p["calibrations"],
        "--qualifications",
        p["qualifications"],
    )
    assert_one_line_error(result, "calibrations.csv: row 1: calibrated_on = '10/01/2024' is not a date")


def test_reports_are_self_contained(quality_file):
    table = pa_csv.read_csv(quality_file("aiag_msa4_grr_10x3x3.csv"))
    html = gage_study_html(gage_rr_anova(table, tolerance=8), title="Bow <CMM-01>")
    for text in (html, uncertainty_budget_html(_budget())):
        assert text.startswith("<!DOCTYPE html>")
        assert "<script" not in text and "http" not in text and "<link" not in text
    assert "Bow &lt;CMM-01&gt;" in html
    budget_html = uncertainty_budget_html(_budget())
    assert "a &amp; b" in budget_html and "GUM 7.2.4" in budget_html


def _budget():
    return uncertainty_budget(
        [Input("a & b", 1.0, 0.1, dof=10, sensitivity=1), Input("c", 2.0, 0.2, sensitivity=1)],
        estimate=3.0,
        unit="mm",
    )
