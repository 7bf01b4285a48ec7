"""``silicio spc``: charts and capability of a file's column; bad input as one line naming file and row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from silicio.cli import app

QUALITY_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "quality"
runner = CliRunner()


def silicio(*args):
    result = runner.invoke(app, [str(a) for a in args], terminal_width=200)
    return result


def test_nist_c_chart(quality):
    quality("nist_pmc331_wafer_defects_cchart.csv")  # skips when absent
    path = QUALITY_DIR / "nist_pmc331_wafer_defects_cchart.csv"
    result = silicio("spc", "chart", path, "--column", "defects", "--type", "c", "--rules", "we", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    (chart,) = out["charts"]
    assert (chart["center"], chart["lcl"], chart["ucl"]) == (16.0, 4.0, 28.0)
    assert chart["out_of_control"] == [24]  # points counted from 1: wafer 24
    assert out["rules"][0]["rule"] == "we-1" and out["rules"][0]["point"] == 24
    table = silicio("spc", "chart", path, "-c", "defects", "-t", "c")
    assert table.exit_code == 0 and "28" in table.output


def test_p_chart_with_sample_size_and_baseline(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("d\n" + "\n".join(["5", "7", "4", "6", "5", "20"]) + "\n")
    out = json.loads(
        silicio("spc", "chart", path, "-c", "d", "-t", "p", "--n", 50, "--baseline", 5, "--json").output
    )
    (chart,) = out["charts"]
    p_bar = 27 / 250
    assert chart["center"] == pytest.approx(p_bar)
    assert chart["ucl"] == pytest.approx(p_bar + 3 * np.sqrt(p_bar * (1 - p_bar) / 50))
    assert chart["out_of_control"] == [6]


def test_xbar_r_by_size_and_by_subgroup_column_agree(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.normal(10, 1, 40)
    path = tmp_path / "x.csv"
    path.write_text("lot,value\n" + "".join(f"L{i // 4:02d},{v}\n" for i, v in enumerate(values)))
    by_size = json.loads(
        silicio("spc", "chart", path, "-c", "value", "-t", "xbar-r", "--size", 4, "--json").output
    )
    by_lot = json.loads(
        silicio("spc", "chart", path, "-c", "value", "-t", "xbar-r", "--subgroup", "lot", "--json").output
    )
    assert by_size["charts"] == by_lot["charts"]
    assert [c["name"] for c in by_size["charts"]] == ["xbar", "range"]


def test_capability(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "c.csv"
    path.write_text("value\n" + "".join(f"{v}\n" for v in rng.normal(5, 0.5, 60)))
    result = silicio("spc", "capability", path, "-c", "value", "--lsl", 3, "--usl", 7, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["sigma_within_method"] == "moving-range" and out["n"] == 60
    assert out["cp_interval"][0] < out["cp"] < out["cp_interval"][1]
    assert "normality" in silicio("spc", "capability", path, "-c", "value", "--usl", 7).output


def test_bad_input_names_file_row_and_expectation(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("value\n1.0\n2.0\nabc\n")
    result = silicio("spc", "chart", path, "-c", "value")
    assert result.exit_code == 2
    assert f"{path}, row 3 (line 4): column 'value' holds 'abc', expected a number" in result.output
    missing = silicio("spc", "chart", path, "-c", "thickness")
    assert missing.exit_code == 2 and "no column 'thickness'; columns are value" in missing.output
    assert silicio("spc", "chart", path, "-c", "value", "-t", "bogus").exit_code == 2
    good = tmp_path / "good.csv"
    good.write_text("value\n1.0\n2.0\n")
    assert "needs subgroups" in silicio("spc", "chart", good, "-c", "value", "-t", "xbar-s").output
    assert "no such file" in silicio("spc", "chart", tmp_path / "none.csv", "-c", "v").output


def test_unknown_chart_type_lists_the_kinds(tmp_path):
    path = tmp_path / "v.csv"
    path.write_text("value\n1\n2\n3\n")
    result = silicio("spc", "chart", path, "-c", "value", "-t", "pareto")
    assert result.exit_code != 0
    assert (
        "unknown chart kind 'pareto'; the kinds are imr, xbar_r, xbar_s, p, np, c, u, ewma, cusum, laney_p"
        in result.output
    )
