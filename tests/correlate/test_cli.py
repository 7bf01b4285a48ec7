"""``silicio correlate files|tests`` and ``silicio retest``: the areas' answers, and bad input as one
line on stderr with exit code 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from silicio.cli import app
from tests.correlate.stdf_files import Part, write_file
from tests.correlate.test_agreement import hand_agreement

runner = CliRunner()


def silicio(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "80", "NO_COLOR": "1"})


def one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


A = [0.5, 0.7, 0.9, 1.1]
B = [0.8, 1.0, 1.25, 1.4]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    a = write_file(folder / "a.stdf", [Part(site=1, results={10: v, 20: 2.0}, x=i, y=0, touchdown=True)
                                       for i, v in enumerate(A)])  # fmt: skip
    b = write_file(folder / "b.stdf", [Part(site=1, results={10: v, 20: 2.0}, x=i, y=0, touchdown=True)
                                       for i, v in enumerate(B)], node="tester-2")  # fmt: skip
    return a, b


def test_correlate_files_json(pair):
    result = silicio("correlate", "files", *pair, "--tolerance", "5%limits", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["units_matched"] == 4 and report["part_flips"] == 0
    row = next(r for r in report["tests"] if r["test_num"] == 10)
    for name, value in hand_agreement(A, B).items():
        assert row[name] == pytest.approx(value, rel=1e-5, abs=1e-6), name
    assert [r["test_num"] for r in report["disagreeing"]] == [10]
    constant = next(r for r in report["tests"] if r["test_num"] == 20)
    assert constant["bias"] == 0 and constant["r"] is None  # no spread: no r, null in JSON


def test_correlate_files_table(pair):
    result = silicio("correlate", "files", *pair, "--tolerance", "0.1")
    assert result.exit_code == 0, result.output
    assert "4 units on both sides" in result.stdout and "1 tests beyond |bias| <= 0.1" in result.stdout
    assert "VDD_LEAK" in result.stdout


def test_correlate_tests_json(pair):
    result = silicio("correlate", "tests", pair[0], "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []  # test 20 is constant: no r with test 10


def test_bad_input_is_one_line(pair, tmp_path):
    one_line_error(
        silicio("correlate", "files", pair[0], tmp_path / "gone.stdf"), "gone.stdf", "no such file"
    )
    one_line_error(silicio("correlate", "files", *pair, "--tolerance", "lots"), "tolerance 'lots'")
    one_line_error(silicio("correlate", "files", *pair, "--on", "wafer"), "on must be one of")
    not_stdf = tmp_path / "x.stdf"
    not_stdf.write_bytes(b"hello, this is not STDF at all" * 3)
    one_line_error(silicio("correlate", "files", pair[0], not_stdf), "x.stdf")
    one_line_error(silicio("retest", "L1", "--data", tmp_path / "nothing"), "no such data directory")


def test_correlate_sites_json(tmp_path):
    order = [(1, 0, 1.0), (2, 1, 2.3), (1, 2, 3.0), (2, 0, 1.1), (1, 1, 2.0), (2, 2, 3.05)]
    path = write_file(tmp_path / "sites.stdf", [Part(site=s, results={10: v}, x=d, y=0) for s, d, v in order])
    result = silicio("correlate", "sites", path, "1", "2", "--json")
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["tests"][0]
    assert row["bias"] == pytest.approx(hand_agreement([1.0, 2.0, 3.0], [1.1, 2.3, 3.05])["bias"], rel=1e-5)
    one_line_error(silicio("correlate", "sites", path, "1", "7"), "no part has site = 7")


def test_correlate_grr_across_two_testers(tmp_path):
    from silicio.metrology import gage_rr_anova

    readings = {"T1": {"U1": [1.00, 1.02], "U2": [1.50, 1.49], "U3": [0.80, 0.83]},
                "T2": {"U1": [1.05, 1.04], "U2": [1.56, 1.52], "U3": [0.86, 0.84]}}  # fmt: skip
    paths = []
    for tester, by_part in readings.items():
        rows = [Part(site=1, results={10: by_part[u][trial]}, part_id=u, touchdown=True)
                for trial in range(2) for u in by_part]  # fmt: skip
        paths.append(write_file(tmp_path / f"{tester}.stdf", rows, node=tester, wafer=None, test_cod="FT1"))
    result = silicio("correlate", "grr", *paths, "--test", "10", "--json")
    assert result.exit_code == 0, result.output
    study = json.loads(result.stdout)
    expected = gage_rr_anova([[readings[t][u] for t in readings] for u in ("U1", "U2", "U3")], tolerance=2.0)
    assert study["components"]["GRR"] == pytest.approx(expected.grr, rel=1e-5)
    assert study["percent_tolerance"]["GRR"] == pytest.approx(100 * 6 * expected.grr / 2.0, rel=1e-5)
    human = silicio("correlate", "grr", *paths, "--test", "10")
    assert "test 10: 3 parts x 2 testers x 2 trials" in human.stdout
    one_line_error(silicio("correlate", "grr", *paths, "--test", "99"), "no result of test 99")
