"""On the shared galaxy_lot3 file (1619 PRRs of 1456 dies: the prober retested on the wafer),
the retest recovery and bin switching of ``silicio retest`` (through the lake) equal a computation
from the raw PRR records written here: dies are (X_COORD, Y_COORD) of this one-wafer file, a die's
first PRR is its first pass and its last PRR its final test; PART_FLG bit 3 is "failed", bit 4
"no pass/fail indication"."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest
from typer.testing import CliRunner

from silicio import lake as silicio_lake
from silicio.cli import app
from silicio.correlate import lot_retest
from silicio.lake.query import Lake
from silicio.stdf import read
from tests.conftest import shared_stdf

GALAXY = "galaxy_lot3_A530_BE.stdf"
FAILED, NO_VERDICT = 0x08, 0x10


@pytest.fixture(scope="module")
def galaxy(tmp_path_factory):
    path = shared_stdf(GALAXY)
    data = tmp_path_factory.mktemp("galaxy") / "data"
    silicio_lake.ingest([path], data, workers=1)
    return path, data


def by_hand(path):
    """(recovery per first bin, switching counts, PRRs, dies, dies tested more than once) from the
    PRR table as the reader gives it."""
    prr = read(path)["PRR"].to_pydict()
    insertions = defaultdict(list)  # die -> [(hard bin, verdict)] in PRR order
    for x, y, hard_bin, flag in zip(
        prr["X_COORD"], prr["Y_COORD"], prr["HARD_BIN"], prr["PART_FLG"], strict=True
    ):
        verdict = None if flag & NO_VERDICT else not flag & FAILED
        insertions[(x, y)].append((hard_bin, verdict))
    switching = Counter((tests[0][0], tests[-1][0]) for tests in insertions.values())
    recovery = defaultdict(lambda: [0, 0, 0])  # first bin -> failing, retested, recovered
    for tests in insertions.values():
        judged = [t for t in tests if t[1] is not None]
        if judged and judged[0][1] is False:
            counts = recovery[judged[0][0]]
            counts[0] += 1
            counts[1] += len(judged) > 1
            counts[2] += len(judged) > 1 and judged[-1][1] is True
    retested = sum(len(tests) > 1 for tests in insertions.values())
    return dict(recovery), dict(switching), len(prr["HARD_BIN"]), len(insertions), retested


def test_galaxy_recovery_and_switching_equal_the_raw_prr_records(galaxy):
    path, data = galaxy
    recovery, switching, prrs, dies, retested = by_hand(path)
    assert (prrs, dies) == (1619, 1456)
    with Lake(data) as lake:
        report = lot_retest(lake, "GAL-LOT")
    assert (report.insertions, report.dies) == (prrs, dies)
    got_recovery = {r["first_bin"]: [r["failing_dies"], r["retested_dies"], r["recovered_dies"]]
                    for r in report.recovery.to_pylist()}  # fmt: skip
    assert got_recovery == recovery
    assert sum(v[2] for v in recovery.values()) > 0  # the file does recover dies at retest
    for row in report.recovery.to_pylist():
        _, bin_retested, bin_recovered = recovery[row["first_bin"]]
        assert row["recovery_rate"] == (bin_recovered / bin_retested if bin_retested else None)
    assert {(r["first_bin"], r["final_bin"]): r["dies"] for r in report.switching.to_pylist()} == switching
    # The matrix: row = first bin, "to <bin>" = final bin.
    for row in report.switching_matrix.to_pylist():
        for column, value in row.items():
            if column.startswith("to "):
                assert value == switching.get((row["first_bin"], int(column[3:])), 0)
    assert report.retested_dies == retested
    assert any("no part has a TEST_T" in n for n in report.notes)  # the A530 wrote TEST_T 0


def test_silicio_retest_json_says_the_same(galaxy):
    path, data = galaxy
    recovery, switching, *_ = by_hand(path)
    result = CliRunner().invoke(app, ["retest", "GAL-LOT", "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {r["first_bin"]: [r["failing_dies"], r["retested_dies"], r["recovered_dies"]]
            for r in report["recovery"]} == recovery  # fmt: skip
    assert {(r["first_bin"], r["final_bin"]): r["dies"] for r in report["switching"]} == switching
    assert report["retest_rates"]["tester"][0]["tester"] == "galaxy-t"
