"""The silicio command, run in-process: output, files written, and errors as one line with exit 2."""

from __future__ import annotations

import inspect
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
import typer
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

from silicio import __version__
from silicio import extras as silicio_extras
from silicio.cli import COMMANDS, app
from silicio.cli.render import OutputConsole, print_table
from silicio.demo import load_manifest
from silicio.demo.stdf_demo import simulate_lot, write_demo_stdf
from silicio.stdf import read, tidy
from tests.conftest import shared_stdf

runner = CliRunner()


def silicio(*args: str | Path, columns: int = 80):
    # Output that is not a terminal is never wrapped (render.OutputConsole): the result is the same
    # whatever $COLUMNS says (test_output_does_not_depend_on_the_terminal_width).
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": str(columns), "NO_COLOR": "1"})


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> Path:
    return write_demo_stdf(tmp_path_factory.mktemp("cli") / "demo.stdf", seed=0)


def test_version():
    result = silicio("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"silicio {__version__}"


def test_info_shows_the_lot(demo_file):
    lot = simulate_lot(seed=0)
    result = silicio("stdf", "info", demo_file)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in (
        "TK41870",
        "TCX4417-Q1",
        "93000 on ws-t93k-07",
        "TCX4417_WS1 rev 3.2.1",
        "TK41870-01, TK41870-02",
    ):
        assert text in out
    assert f"{lot.parts:,}" in out and f"{lot.good_parts:,} (" in out
    assert "Parametric Test Record" in out
    assert "errors" in out and "none" in out


def test_info_json(demo_file):
    lot = simulate_lot(seed=0)
    result = silicio("stdf", "info", demo_file, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["parts"], data["good_parts"], data["tests"]) == (lot.parts, lot.good_parts, 12)
    assert data["wafers"] == ["TK41870-01", "TK41870-02"]
    assert data["records"]["PTR"] == read(demo_file)["PTR"].num_rows
    assert data["issues"] == []


def test_info_on_a_real_tester_file():
    result = silicio("stdf", "info", shared_stdf("galaxy_lot3_A530_BE.stdf"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["parts"], data["wafers"], data["byte_order"]) == (1619, ["GAL-LOT-03"], "big-endian")
    human = silicio("stdf", "info", shared_stdf("galaxy_lot3_A530_BE.stdf"))
    assert "GAL-LOT" in human.stdout and "1,619" in human.stdout and "A530" in human.stdout


@pytest.mark.parametrize("fmt", ["parquet", "csv", "xlsx"])
def test_convert_writes_readable_files(demo_file, tmp_path, fmt):
    tables = read(demo_file)
    result = silicio("stdf", "convert", demo_file, "--to", fmt, tmp_path / "out")
    assert result.exit_code == 0, result.output
    listed = [Path(line) for line in result.stdout.splitlines() if line.strip()]
    assert all(p.is_file() for p in listed)
    if fmt == "xlsx":
        assert listed == [tmp_path / "out" / "demo.xlsx"]
        workbook = openpyxl.load_workbook(listed[0], read_only=True)
        counts = {name: workbook[name].max_row - 1 for name in workbook.sheetnames}
        first_result = workbook["PTR"]["H2"].value
    else:
        load = pq.read_table if fmt == "parquet" else pa_csv.read_csv
        counts = {p.stem: load(p).num_rows for p in listed}
        first_result = load(tmp_path / "out" / f"PTR.{fmt}").column("RESULT")[0].as_py()
    assert counts == {name: t.num_rows for name, t in tables.items()}
    assert first_result == pytest.approx(tables["PTR"].column("RESULT")[0].as_py())


def test_convert_with_the_tidy_view(demo_file, tmp_path):
    result = silicio("stdf", "convert", demo_file, "--to", "parquet", tmp_path, "--tidy")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == str(tmp_path / "tidy.parquet")
    assert pq.read_table(tmp_path / "tidy.parquet").equals(tidy(read(demo_file)))


def test_convert_salvages_a_damaged_file_when_asked(demo_file, tmp_path):
    offset = read(demo_file)["PTR"].column("offset")[50].as_py()
    damaged = tmp_path / "cut.stdf"
    damaged.write_bytes(demo_file.read_bytes()[: offset + 7])
    strict = silicio("stdf", "convert", damaged, "--to", "csv", tmp_path / "strict")
    assert_one_line_error(strict, str(damaged), f"at byte {offset} (PTR)", "--salvage")
    assert not (tmp_path / "strict").exists()
    salvaged = silicio("stdf", "convert", damaged, "--to", "csv", tmp_path / "salvaged", "--salvage")
    assert salvaged.exit_code == 0, salvaged.output
    assert f"at byte {offset} (PTR)" in salvaged.stderr and "salvaged" in salvaged.stderr
    assert pa_csv.read_csv(tmp_path / "salvaged" / "PTR.csv").num_rows == 50


def test_truncated_file_is_one_line_naming_the_offset(demo_file, tmp_path):
    offset = read(demo_file)["PRR"].column("offset")[3].as_py()
    damaged = tmp_path / "truncated.stdf"
    damaged.write_bytes(demo_file.read_bytes()[: offset + 9])
    result = silicio("stdf", "info", damaged)
    assert_one_line_error(result, str(damaged), f"at byte {offset} (PRR)", "truncated", "--salvage")
    salvaged = silicio("stdf", "info", damaged, "--salvage", "--json")
    assert salvaged.exit_code == 0
    assert json.loads(salvaged.stdout)["issues"][0]["offset"] == offset


def test_not_an_stdf_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not tester data\n")
    assert_one_line_error(silicio("stdf", "info", text), str(text), "at byte 0", "not an STDF file")


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.stdf"
    assert_one_line_error(silicio("stdf", "info", missing), f"{missing}: no such file")
    assert_one_line_error(
        silicio("stdf", "convert", missing, "--to", "csv", tmp_path / "out"), "no such file"
    )


def test_convert_refuses_a_folder_in_use_unless_forced(demo_file, tmp_path):
    # A folder holding another file's tables: converting into it would mix two files' records.
    out = tmp_path / "out"
    out.mkdir()
    (out / "PIR.parquet").write_bytes(b"another lot's parts")
    (out / "notes.txt").write_text("mine")
    refused = silicio("stdf", "convert", demo_file, "--to", "parquet", out)
    assert_one_line_error(refused, str(out), "not empty", "2 entries", "PIR.parquet", "--force")
    assert sorted(p.name for p in out.iterdir()) == ["PIR.parquet", "notes.txt"]  # nothing written
    assert (out / "PIR.parquet").read_bytes() == b"another lot's parts"

    forced = silicio("stdf", "convert", demo_file, "--to", "parquet", out, "--force")
    assert forced.exit_code == 0, forced.output
    tables = read(demo_file)
    assert pq.read_table(out / "PIR.parquet").num_rows == tables["PIR"].num_rows  # replaced
    assert (out / "notes.txt").read_text() == "mine"  # kept

    empty = tmp_path / "empty"
    empty.mkdir()
    assert silicio("stdf", "convert", demo_file, "--to", "csv", empty).exit_code == 0
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    assert silicio("stdf", "convert", demo_file, "--to", "csv", a_file).exit_code == 2


def test_unknown_output_format(demo_file, tmp_path):
    result = silicio("stdf", "convert", demo_file, "--to", "json", tmp_path)
    assert_one_line_error(result, "--to json", "parquet, csv, xlsx")


def test_demo_command_generates_the_fab(tmp_path):
    result = silicio("demo", "--out", tmp_path, "--lots", "3", "--wafers", "1", "--workers", "1")
    assert result.exit_code == 0, result.output
    fab = load_manifest(tmp_path)
    assert len(fab.lot_table) == 3 and {lot.product for lot in fab.lot_table} == {
        "SLC-TV100",
        "SLC-MC200",
        "SLC-PM300A",
    }
    for lot in fab.lot_table:
        assert lot.lot_id in result.stdout
    for f in fab.files:
        assert (tmp_path / f.path).is_file()
    again = silicio("demo", "--out", tmp_path, "--lots", "3", "--wafers", "1", "--workers", "1")
    assert "(cached)" in again.stdout


@pytest.fixture
def without(monkeypatch):
    """``without("fastapi", ...)``: those modules look uninstalled to silicio's check of extras."""

    def hide(*modules: str) -> None:
        real = silicio_extras.find_spec
        monkeypatch.setattr(silicio_extras, "find_spec", lambda name: None if name in modules else real(name))

    return hide


@pytest.mark.parametrize(
    ("hidden", "args", "expected"),
    [
        ("fastapi", ["serve"], "silicio serve needs the 'web' extra (fastapi is not installed): "
                               "pip install 'silicio[web]'"),
        ("duckdb", ["sql", "SELECT 1"], "silicio sql needs the 'lake' extra (duckdb is not installed): "
                                        "pip install 'silicio[lake]'"),
        ("scipy", ["spc", "capability", "x.csv", "-c", "x"], "silicio spc capability needs the 'lake' extra"),
        # the web extra pulls in the lake's and the PDFs' too, and is what to install for them
        ("matplotlib", ["serve"], "silicio serve needs the 'web' extra (matplotlib is not installed)"),
        ("psycopg", ["ingest", "a.stdf", "--database-url", "postgresql+psycopg://u@host/db"],
         "silicio ingest --database-url postgresql+psycopg:... needs the 'postgres' extra"),
        ("distributed", ["supply", "monte-carlo", "--dask", "tcp://host:8786"],
         "silicio supply monte-carlo --dask needs the 'dask' extra"),
    ],
)  # fmt: skip
def test_a_missing_extra_is_one_line_naming_it(without, hidden, args, expected):
    without(hidden)
    assert_one_line_error(silicio(*args), expected)


def test_xlsx_output_without_its_extra_writes_nothing(without, demo_file, tmp_path):
    without("xlsxwriter")
    result = silicio("stdf", "convert", demo_file, "--to", "xlsx", tmp_path / "out")
    assert_one_line_error(result, "silicio stdf convert --to xlsx needs the 'xlsx' extra", "silicio[xlsx]")
    assert not (tmp_path / "out").exists()


def test_tables_fold_a_long_value_never_cut_it():
    value = "/data/" + "x" * 90 + "/lot.stdf"
    table = Table(title="files")
    table.add_column("file")
    table.add_column("parts", justify="right")
    table.add_row(value, "12")
    console = Console(width=30, file=io.StringIO(), record=True)
    print_table(console, table)
    text = console.export_text()
    first_cells = [line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│")]
    assert "…" not in text and "".join(first_cells) == value


def test_a_long_path_is_shown_whole_in_table_titles(tmp_path):
    # The file's path is the table's title: whole on one line, however long, at any width.
    long_dir = tmp_path / ("a-folder-with-a-long-name-" * 6)
    long_dir.mkdir()
    source = write_demo_stdf(long_dir / "demo.stdf", seed=0)
    assert len(str(source)) > 150
    result = silicio("stdf", "info", source, columns=40)
    assert result.exit_code == 0, result.output
    assert str(source) in result.stdout.splitlines()

    # On a terminal 40 columns wide too: the title is a soft-wrapped line, which the terminal
    # wraps, not a title rich cuts into pieces the table's width.
    table = Table(title=str(source))
    table.add_column("field")
    table.add_row("lot")
    terminal = OutputConsole(width=40, force_terminal=True, no_color=True, file=io.StringIO(), record=True)
    print_table(terminal, table)
    assert terminal.export_text().splitlines()[0] == str(source)


def test_output_does_not_depend_on_the_terminal_width(demo_file):
    narrow, wide = (
        silicio("stdf", "info", demo_file, columns=20),
        silicio("stdf", "info", demo_file, columns=500),
    )
    assert narrow.exit_code == wide.exit_code == 0
    assert narrow.stdout == wide.stdout
    assert "│ wafers           │ 2: TK41870-01, TK41870-02 │" in narrow.stdout  # one row, not folded


def test_no_arguments_shows_help():
    result = silicio()
    assert "stdf" in result.output and "demo" in result.output


def test_the_listing_shows_each_commands_own_help():
    # `silicio --help` lists the commands without importing them (COMMANDS holds their one-line
    # help); loaded, each must have the help listed for it, and run its own --help.
    group = typer.main.get_command(app)
    context = group.make_context("silicio", [], resilient_parsing=True, terminal_width=100)
    listing = group.get_help(context)
    assert re.findall(r"^  (\S+)", listing.split("Commands:")[1], re.MULTILINE) == list(COMMANDS)
    for name, (_module, _attribute, listed) in COMMANDS.items():
        group.load(name)
        assert inspect.cleandoc(group.commands[name].help).split("\n\n")[0] == listed, name
        own = runner.invoke(app, [name, "--help"])
        assert own.exit_code == 0 and own.stdout.startswith("Usage: "), (name, own.output)
    assert group.get_help(context) == listing  # loaded, listed the same


def test_values_kept_here_to_stay_light_agree_with_their_sources():
    from silicio.cli.demo import DEFAULT_LOTS, DEFAULT_WAFERS_PER_LOT
    from silicio.cli.stdf import OUTPUT_FORMATS
    from silicio.demo import fab
    from silicio.stdf.convert import FORMATS

    assert (DEFAULT_LOTS, DEFAULT_WAFERS_PER_LOT) == (fab.DEFAULT_LOTS, fab.DEFAULT_WAFERS_PER_LOT)
    assert OUTPUT_FORMATS == FORMATS


def test_installed_command_in_a_real_process(tmp_path):
    # The console script's path: same interpreter, real stdout/stderr, no test runner in between.
    missing = tmp_path / "gone.stdf"
    done = subprocess.run(
        [sys.executable, "-m", "silicio.cli", "stdf", "info", str(missing)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip() == f"error: {missing}: no such file"


def test_info_shows_vendor_records_as_warnings_not_errors(tmp_path):
    """Records of types the specification reserves or leaves to vendors are kept and said, in
    both modes; the file reads strictly."""
    from silicio.stdf.writer import StdfWriter

    path = tmp_path / "vendor.stdf"
    with StdfWriter(path) as out:
        out.record("MIR", SETUP_T=0, START_T=0, STAT_NUM=1, LOT_ID="V1", PART_TYP="P", JOB_NAM="J")
        for _ in range(3):
            out.raw_record(50, 7, b"vendor bytes")
        out.record("MRR", FINISH_T=1)
    for mode in ((), ("--salvage",)):
        result = silicio("stdf", "info", path, *mode)
        assert result.exit_code == 0, result.output
        assert "warning:" in result.stdout and "3 records of type REC_TYP=50 REC_SUB=7" in result.stdout
    doc = json.loads(silicio("stdf", "info", path, "--json").stdout)
    assert doc["issues"] == [] and len(doc["warnings"]) == 1 and doc["records"]["UNKNOWN"] == 3
