"""``silicio limits``: versions computed from the lots in the lake, frozen and unfrozen, each write
with its actor; errors as one line."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from silicio import lake as silicio_lake
from silicio.cli import app
from tests.lake.test_history import LOTS, PRODUCT, PROGRAM, REVISION, lot_yield, write_history_lot

runner = CliRunner()


def silicio(*args: str | Path, **env: str):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200", "NO_COLOR": "1", **env})


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def six_lots(tmp_path) -> Path:
    """A lake with the six normal lots of tests/lake/test_history.py."""
    files = [write_history_lot(tmp_path / f"{lot}.stdf", lot) for lot in LOTS[:6]]
    data = tmp_path / "data"
    report = silicio_lake.ingest([str(f) for f in files], data, workers=1)
    assert report.ok
    return data


def show(data: Path) -> list[dict]:
    result = silicio("limits", "show", "--json", "--data", data)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_update_update_freeze_update_unfreeze_update(six_lots):
    for expected in (1, 2):
        result = silicio("limits", "update", "--data", six_lots, "--actor", "alice")
        assert result.exit_code == 0, result.output
        assert f"version {expected} from 6 lots" in result.stdout
    [baseline] = show(six_lots)
    assert (baseline["product"], baseline["stage"], baseline["program"], baseline["revision"]) == (
        PRODUCT, "wafer_sort", PROGRAM, REVISION)  # fmt: skip
    assert [v["version"] for v in baseline["versions"]] == [1, 2]
    latest = baseline["versions"][-1]
    assert latest["actor"] == "alice" and [lot["lot"] for lot in latest["lots"]] == LOTS[:6]
    computed = datetime.fromisoformat(latest["computed_at"]).date()
    assert date.fromisoformat(latest["review_by"]) == computed + timedelta(days=182)
    syl = next(r for r in latest["yield_limits"] if r["scope"] == "lot" and r["kind"] == "SYL")
    yields = np.array([lot_yield(lot) for lot in LOTS[:6]])
    assert syl["limit1"] == pytest.approx(yields.mean() - 3 * yields.std(ddof=1))
    assert latest["pat_limits"] == 1

    result = silicio("limits", "freeze", "--product", PRODUCT, "--stage", "wafer_sort", "--data", six_lots,
                     "--actor", "carol")  # fmt: skip
    assert result.exit_code == 0 and "version 2 frozen by carol" in result.stdout
    result = silicio("limits", "update", "--data", six_lots, "--actor", "alice")
    assert result.exit_code == 0 and "frozen at version 2" in result.stdout
    [baseline] = show(six_lots)
    assert baseline["frozen_version"] == 2 and baseline["latest"] == 2

    result = silicio("limits", "unfreeze", "--product", PRODUCT, "--stage", "wafer_sort", "--data", six_lots,
                     "--actor", "carol")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert silicio("limits", "update", "--data", six_lots, "--actor", "dave").exit_code == 0
    [baseline] = show(six_lots)
    assert baseline["latest"] == 3 and baseline["frozen_version"] is None
    assert [(e["action"], e["actor"], e["version"]) for e in baseline["events"]] == [
        ("update", "alice", 1), ("update", "alice", 2), ("freeze", "carol", 2), ("unfreeze", "carol", 2),
        ("update", "dave", 3)]  # fmt: skip


def test_the_actor_defaults_to_the_user_running_the_command(six_lots):
    result = silicio("limits", "update", "--data", six_lots, LOGNAME="os-user")
    assert result.exit_code == 0, result.output
    [baseline] = show(six_lots)
    assert baseline["versions"][0]["actor"] == "os-user"


def test_fewer_lots_than_needed_give_no_version(six_lots):
    result = silicio("limits", "update", "--data", six_lots, "--min-lots", "7", "--actor", "alice")
    assert result.exit_code == 0, result.output
    assert "no new version" in result.stdout and "fewer than the 7 needed" in result.stdout
    assert show(six_lots) == []


def test_errors_are_one_line(six_lots, tmp_path):
    assert_one_line_error(
        silicio(
            "limits",
            "freeze",
            "--product",
            PRODUCT,
            "--stage",
            "wafer_sort",
            "--data",
            six_lots,
            "--actor",
            "a",
        ),
        "no limits computed for product",
    )
    assert_one_line_error(silicio("limits", "update", "--data", six_lots, "--actor", " "), "--actor is empty")
    assert_one_line_error(silicio("limits", "show", "--data", tmp_path / "nowhere"), "no such data directory")
    assert_one_line_error(
        silicio("limits", "update", "--data", six_lots, "--product", "NOPE", "--actor", "a"),
        "no lots in the lake",
    )
