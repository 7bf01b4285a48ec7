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


def test_capability_method_lognormal_prints_fit_and_ppm(tmp_path):
    from scipy import stats

    from tests.spc.test_nonnormal import leakage_parameters, quantile_sample

    mu, sigma = leakage_parameters()
    x = quantile_sample(stats.lognorm(s=sigma, scale=np.exp(mu)), 4000)
    path = tmp_path / "leakage.csv"
    path.write_text("leakage_na\n" + "".join(f"{v:.9g}\n" for v in x))
    out = json.loads(silicio("spc", "capability", path, "-c", "leakage_na", "--usl", 5, "--method", "lognormal",
                             "--json").output)  # fmt: skip
    fitted = out["distribution"]
    assert fitted["method"] == "lognormal" and fitted["selected_by"] == "user"
    assert fitted["expected_ppm_above"] == pytest.approx(643, rel=0.03)
    assert round(fitted["ppk_z"], 2) == 1.07 and out["ppk"] == pytest.approx(2.08, abs=0.02)
    assert fitted["observed_ppm_above"] == pytest.approx(np.sum(x > 5) / x.size * 1e6)
    text = silicio("spc", "capability", path, "-c", "leakage_na", "--usl", 5).output
    assert "distribution: lognormal (best Anderson-Darling fit)" in text
    for name in ("normal", "lognormal", "weibull", "boxcox", "johnson"):
        assert name in text
    assert "expected PPM" in text and "observed PPM" in text and "Ppk 1.07" in text
    bad = silicio("spc", "capability", path, "-c", "leakage_na", "--usl", 5, "--method", "gamma")
    assert bad.exit_code == 2 and "--method 'gamma': expected one of auto, normal" in bad.output


def test_laney_p_and_p_chart_of_fifty_wafers(tmp_path):
    from tests.spc.test_laney import fifty_wafers

    d, n = fifty_wafers()
    path = tmp_path / "wafers.csv"
    path.write_text("fails,dies\n" + "".join(f"{a},{b}\n" for a, b in zip(d, n, strict=True)))
    p = json.loads(
        silicio("spc", "chart", path, "-c", "fails", "-t", "p", "--n-column", "dies", "--json").output
    )
    laney = json.loads(silicio("spc", "chart", path, "-c", "fails", "--chart", "laney-p", "--n-column", "dies",
                               "--json").output)  # fmt: skip
    assert len(p["charts"][0]["out_of_control"]) >= 5
    assert laney["charts"][0]["out_of_control"] == [] and laney["charts"][0]["name"] == "p'"


def test_t2_and_mewma_take_several_columns(tmp_path):
    rng = np.random.default_rng(9)
    x = rng.multivariate_normal([1.0, 2.0], [[1, 0.9], [0.9, 1]], 60)
    x[55] = [2.5, 0.5]
    path = tmp_path / "tests.csv"
    path.write_text("vth,idsat\n" + "".join(f"{a},{b}\n" for a, b in x))
    out = json.loads(
        silicio("spc", "chart", path, "-c", "vth,idsat", "-t", "t2", "--baseline", 50, "--json").output
    )
    assert 56 in out["charts"][0]["out_of_control"]  # row 56 (point 56, counted from 1)
    mewma = silicio("spc", "chart", path, "-c", "vth,idsat", "-t", "mewma", "--json")
    assert mewma.exit_code == 0 and json.loads(mewma.output)["charts"][0]["name"] == "MEWMA"
    one = silicio("spc", "chart", path, "-c", "vth", "-t", "t2")
    assert one.exit_code == 2 and "give --column A,B" in one.output


def test_errors_name_rows_as_the_user_counts_them(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("d\n60\n7\n4\n")
    result = silicio("spc", "chart", path, "-c", "d", "-t", "p", "--n", 50)
    assert result.exit_code == 2
    assert f"{path}, row 1 (line 2), column 'd': defectives are 60, more than the sample size 50" in " ".join(
        result.output.split()
    )
    rows = tmp_path / "v.csv"
    rows.write_text("v\n" + "".join(f"{i}\n" for i in range(200)))
    refused = silicio("spc", "chart", rows, "-c", "v", "--baseline", 1000)
    assert (
        refused.exit_code == 2 and "baseline 1000 is more than the 200 points of the data" in refused.output
    )


def test_default_chart_of_subgroups_is_one_point_per_subgroup(tmp_path):
    rng = np.random.default_rng(10)
    path = tmp_path / "sites.csv"
    lines = [f"W{w:02d},{10 + rng.normal(0, 0.5) + rng.normal(0, 0.1)}" for w in range(25) for _ in range(12)]
    path.write_text("wafer,thickness\n" + "\n".join(lines) + "\n")
    out = json.loads(silicio("spc", "chart", path, "-c", "thickness", "--subgroup", "wafer", "--json").output)
    assert out["type"] == "imr-s"
    assert [c["name"] for c in out["charts"]] == ["subgroup mean", "moving range", "s"]
    assert out["charts"][0]["points"] == 25
    small = json.loads(silicio("spc", "chart", path, "-c", "thickness", "--size", 4, "--json").output)
    assert small["type"] == "imr-r" and small["charts"][2]["name"] == "range"
    assert json.loads(silicio("spc", "chart", path, "-c", "thickness", "--json").output)["type"] == "imr"


def test_semicolon_and_decimal_comma_files_as_excel_writes_them(tmp_path):
    values = [10.25, 10.5, 9.75, 10.0, 10.125, 9.875, 10.375, 9.625]
    plain = tmp_path / "plain.csv"
    plain.write_text("grosor\n" + "".join(f"{v}\n" for v in values))
    latin = tmp_path / "latin.csv"
    latin.write_bytes(
        ("grosor\n" + "".join(f"{v}".replace(".", ",") + "\n" for v in values)).encode("cp1252")
    )
    semicolon = tmp_path / "semi.csv"
    semicolon.write_text("lote;grosor\n" + "".join(f"L1;{v}".replace(".", ",") + "\n" for v in values))
    outs = [json.loads(silicio("spc", "chart", p, "-c", "grosor", "--json").output)["charts"]
            for p in (plain, semicolon)]  # fmt: skip
    assert outs[0] == outs[1]
    # One column: nothing tells a decimal comma from a separator, so both are given.
    forced = silicio("spc", "chart", latin, "-c", "grosor", "--sep", ";", "--decimal", ",", "--json")
    assert json.loads(forced.output)["charts"] == outs[0]
