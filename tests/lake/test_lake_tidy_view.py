"""The lake's ``tidy`` view: stored as ``tidy_results`` (no part columns) joined to ``parts``, the
same rows, columns and types as :func:`silicio.stdf.tidy` of each file; lakes whose tidy table
was stored whole still read; the reader's warnings kept in the catalog and shown."""

from __future__ import annotations

import shutil

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import silicio
from silicio.cli import app
from silicio.lake import INGESTED, LakeLayout, ingest
from silicio.lake.layout import RESULTS_TABLE, TIDY_TABLE
from silicio.stdf import read, tidy
from silicio.stdf.tidy import PART_COLUMNS, TIDY_SCHEMA

FILE_COLUMNS = ["product", "lot", "stage", "file_sha256"]
# Rows in a total order (an MPR's results share its seq, and its pins may be null).
ORDER = "ORDER BY seq, pin NULLS FIRST, result NULLS FIRST"

runner = CliRunner()


@pytest.fixture(scope="module")
def lake_dir(shared_stdf_files, tmp_path_factory):
    data = tmp_path_factory.mktemp("tidy_view_lake")
    report = ingest(shared_stdf_files, data, workers=1)
    return data, report


def _expected_tidy(path) -> pa.Table:
    """The reader's tidy table of ``path``, in the order the queries ask for."""
    connection = duckdb.connect()
    connection.register("expected", tidy(read(path, strict=False)))
    return connection.sql(f"SELECT * FROM expected {ORDER}").to_arrow_table()


def _assert_same_rows(got: pa.Table, expected: pa.Table, what: str) -> None:
    assert got.column_names == expected.column_names, what
    assert got.num_rows == expected.num_rows, what
    for name in expected.column_names:
        assert got[name].cast(expected.schema.field(name).type).to_pylist() == expected[name].to_pylist(), (
            f"{what}: column {name}"
        )


def test_tidy_view_has_the_readers_tidy_rows_for_every_file(lake_dir):
    data, report = lake_dir
    names = ", ".join(f'"{n}"' for n in TIDY_SCHEMA.names)
    with silicio.open(data) as lake:
        assert "tidy" in lake.tables
        checked = 0
        for outcome in report.outcomes:
            if outcome.status not in (INGESTED, "partial") or outcome.sha256 is None:
                continue
            expected = _expected_tidy(outcome.path)
            got = lake.arrow(f"SELECT {names} FROM tidy WHERE file_sha256 = ? {ORDER}", [outcome.sha256])
            _assert_same_rows(got, expected, outcome.path)
            checked += expected.num_rows > 0
        assert checked >= 5


def test_tidy_view_columns_and_types_are_those_of_a_stored_tidy_table(lake_dir, tmp_path):
    data, _ = lake_dir
    # What DuckDB made of a tidy table stored whole (the layout before tidy_results).
    stored = tmp_path / "tidy.parquet"
    pq.write_table(TIDY_SCHEMA.empty_table(), stored)
    expected = [(name, typ) for name, typ, *_ in duckdb.sql(f"DESCRIBE SELECT * FROM '{stored}'").fetchall()]
    with silicio.open(data) as lake:
        got = [(name, typ) for name, typ, *_ in lake.rows("DESCRIBE tidy")]
    assert got == [*expected, *[(name, "VARCHAR") for name in FILE_COLUMNS]]


def test_results_are_stored_without_the_part_columns(lake_dir):
    data, report = lake_dir
    layout = LakeLayout.at(data)
    stored = list(layout.table_dir(RESULTS_TABLE).rglob("*.parquet"))
    assert stored and not layout.table_dir(TIDY_TABLE).exists()
    # A file whose every result has a closed part (the usual one) stores no part column at all.
    narrow = [pq.read_schema(p) for p in stored if not set(PART_COLUMNS) & set(pq.read_schema(p).names)]
    assert narrow and narrow[0].names[0] == "part_index"


def test_lake_with_tidy_stored_whole_reads_the_same(lake_dir, tmp_path):
    """A lake ingested before tidy_results (each file's whole tidy table under parquet/tidy)
    reads the same rows, also mixed with files stored the new way."""
    source, report = lake_dir
    data = tmp_path / "lake"
    shutil.copytree(source, data)
    layout = LakeLayout.at(data)
    converted = 0
    for path in sorted(layout.table_dir(RESULTS_TABLE).rglob("*.parquet"))[::2]:  # every other file
        sha256 = path.name.removesuffix(".parquet")
        original = next(o.path for o in report.outcomes if o.sha256 == sha256)
        target = (
            layout.table_dir(TIDY_TABLE)
            / path.parent.relative_to(layout.table_dir(RESULTS_TABLE))
            / path.name
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(tidy(read(original, strict=False)), target)
        path.unlink()
        converted += 1
    assert converted >= 2
    names = ", ".join(f'"{n}"' for n in [*TIDY_SCHEMA.names, *FILE_COLUMNS])
    query = f"SELECT {names} FROM tidy ORDER BY file_sha256, {ORDER.removeprefix('ORDER BY ')}"
    with silicio.open(source) as before, silicio.open(data) as after:
        _assert_same_rows(after.arrow(query), before.arrow(query), "mixed lake")
    # Only the old layout left: still the same rows.
    shutil.rmtree(layout.table_dir(RESULTS_TABLE))
    for path in layout.table_dir(TIDY_TABLE).rglob("*.parquet"):
        sha256 = path.name.removesuffix(".parquet")
        with silicio.open(data) as lake:
            got = lake.arrow(f"SELECT {', '.join(TIDY_SCHEMA.names)} FROM tidy WHERE file_sha256 = ? {ORDER}",
                             [sha256])  # fmt: skip
        original = next(o.path for o in report.outcomes if o.sha256 == sha256)
        _assert_same_rows(got, _expected_tidy(original), "old layout")


def test_reader_warnings_are_kept_in_the_catalog_and_shown(tmp_path, small_files):
    padded = tmp_path / "padded.stdf"
    plain = small_files(81).read_bytes()
    padded.write_bytes(plain + bytes(6))  # zero padding after the MRR: a warning, not damage
    data = tmp_path / "lake"
    result = runner.invoke(app, ["ingest", str(padded), "--data", str(data), "--workers", "1"])
    assert result.exit_code == 0, result.output
    warning = f"  {padded}: at byte {len(plain):,}: 6 bytes of zero padding after the MRR: ignored"
    assert warning in result.stderr.splitlines(), result.stderr
    with silicio.open(data) as lake:
        (row,) = lake.catalog.rows("files")
        assert row["partial"] is False and row["issues"] == []
        assert row["warnings"] == [
            {"offset": len(plain), "record": None, "reason": "6 bytes of zero padding after the MRR: ignored"}
        ]
        assert lake.rows("SELECT json_extract(warnings, '$[0].offset') FROM files") == [(str(len(plain)),)]
    result = runner.invoke(app, ["lake", "status", "--data", str(data)])
    assert result.exit_code == 0 and warning in result.stdout.splitlines(), result.stdout
    # A file without warnings records an empty list.
    ingest([small_files(82)], data, workers=1)
    with silicio.open(data) as lake:
        assert [r["warnings"] for r in lake.catalog.rows("files", order_by=["id"])][1] == []
