"""``silicio ingest``, ``silicio sql``, ``silicio lake status`` and the folder watch."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from silicio.cli import app
from silicio.lake import INGESTED, Catalog, LakeLayout, watch

runner = CliRunner()


def test_ingest_then_sql(tmp_path, small_files):
    # A path longer than the terminal is wide: the problem lines must still hold it whole.
    incoming = tmp_path / ("incoming-" + "x" * 120)
    incoming.mkdir()
    for seed in (71, 72):
        shutil.copy(small_files(seed), incoming / f"lot_{seed}.stdf")
    (incoming / "readme.stdf").write_text("not tester data")
    data = tmp_path / "lake"

    result = runner.invoke(
        app, ["ingest", str(incoming), "--data", str(data), "--workers", "1"], env={"COLUMNS": "40"}
    )
    assert result.exit_code == 1, result.output  # one file quarantined
    assert "2 ingested, 1 quarantined" in result.output
    problem = f"  {incoming / 'readme.stdf'}: quarantined at byte 0: not an STDF file: "
    assert [line for line in result.stderr.splitlines() if line.startswith(problem)], result.stderr

    result = runner.invoke(app, ["ingest", str(incoming / "*.stdf"), "--data", str(data), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "3 skipped" in result.output

    query = "SELECT stage, count(*) AS files, sum(parts) AS parts FROM files GROUP BY stage"
    result = runner.invoke(app, ["sql", query, "--data", str(data), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"stage": "wafer_sort", "files": 2, "parts": 64}]

    result = runner.invoke(
        app, ["sql", "SELECT count(*) AS n FROM PTR", "--data", str(data), "--format", "csv"]
    )
    assert result.exit_code == 0 and result.output.splitlines()[0] == '"n"'

    result = runner.invoke(app, ["lake", "status", "--data", str(data)], env={"COLUMNS": "40"})
    assert result.exit_code == 0 and "2 files" in result.output and "1 in quarantine" in result.output
    problem = f"  {incoming / 'readme.stdf'}: not salvaged at byte 0: not an STDF file: "
    assert [line for line in result.stdout.splitlines() if line.startswith(problem)], result.stdout


def test_bad_queries_and_arguments_are_one_line_errors(tmp_path):
    result = runner.invoke(app, ["sql", "SELECT 1", "--data", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "no such data directory" in result.output
    (tmp_path / "lake").mkdir()
    result = runner.invoke(app, ["sql", "SELEKT nonsense", "--data", str(tmp_path / "lake")])
    assert result.exit_code == 2 and "query failed" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["ingest", "--data", str(tmp_path / "lake")])
    assert result.exit_code == 2 and "give files" in result.output


def test_watch_takes_files_once_they_settle(tmp_path, small_files):
    folder = tmp_path / "drop"
    folder.mkdir()
    data = tmp_path / "lake"
    shutil.copy(small_files(81), folder / "first.stdf")
    reports = []
    copied = []

    def sleep(_seconds: float) -> None:
        # between polls, a second file lands: it is taken one poll after it stops changing
        if not copied:
            shutil.copy(small_files(82), folder / "second.stdf")
            copied.append(True)

    watch(folder, data, interval=0, polls=3, sleep=sleep, on_report=reports.append, workers=1)
    taken = [[o.path.rsplit("/", 1)[-1] for o in r.outcomes if o.status == INGESTED] for r in reports]
    assert taken == [["first.stdf"], ["second.stdf"]]
    with Catalog(LakeLayout.at(data).database_url()) as catalog:
        assert len(catalog.rows("files")) == 2


def test_a_broken_data_source_plugin_is_one_line(tmp_path, small_files, entry_point):
    entry_point("silicio.sources", "csv-log", "silicio_no_such_module:Source")
    result = runner.invoke(
        app, ["ingest", str(small_files(71)), "--data", str(tmp_path / "lake"), "--workers", "1"]
    )
    assert result.exit_code == 2, result.output
    assert "entry point csv-log = 'silicio_no_such_module:Source'" in result.output
    assert "cannot load: ModuleNotFoundError" in result.output
    assert "Traceback" not in result.output
