"""The lake's ``tidy`` view: the same rows and values as :func:`silicio.stdf.tidy` of each file;
the reader's warnings kept in the catalog and shown."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
from typer.testing import CliRunner

import silicio
from silicio.cli import app
from silicio.lake import INGESTED, ingest
from silicio.stdf import read, tidy
from silicio.stdf.tidy import TIDY_SCHEMA

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


def test_a_lake_with_tidy_files_of_both_layouts_reads_them_alike(tmp_path, small_files):
    """Lakes written before the stored layout hold tidy files of plain text and float64 results;
    beside new ones (dictionaries, float32) the view and the per-file reads show both alike."""
    import polars as pl
    import pyarrow.parquet as pq

    from silicio.lake.layout import LakeLayout, Partition
    from silicio.lake.queries.alerts import file_table

    old, new = small_files(91), small_files(92)
    data = tmp_path / "lake"
    report = ingest([old, new], data, workers=1)
    assert [o.status for o in report.outcomes] == [INGESTED, INGESTED]
    layout = LakeLayout.at(data)
    with silicio.open(data) as lake:
        partitions = [
            lake.rows("SELECT product, lot, stage FROM files WHERE sha256 = ?", [o.sha256])[0]
            for o in report.outcomes
        ]
        # Every file of the stored layout: the view still shows double results.
        assert dict(lake.rows("SELECT column_name, column_type FROM (DESCRIBE tidy)"))["result"] == "DOUBLE"
    old_file = layout.parquet_path("tidy", Partition.of(*partitions[0]), report.outcomes[0].sha256)
    stored = pq.read_schema(old_file)
    assert stored.field("result").type == pa.float32() and stored.field("test_name").type == pa.string()
    # The old layout, as the lake wrote it before: the reader's tidy table as it is.
    pq.write_table(tidy(read(old)), old_file)
    assert pq.read_schema(old_file).field("result").type == pa.float64()
    names = ", ".join(f'"{n}"' for n in TIDY_SCHEMA.names)
    with silicio.open(data) as lake:
        kinds = dict(lake.rows("SELECT column_name, column_type FROM (DESCRIBE tidy)"))
        assert kinds["result"] == "DOUBLE" and kinds["test_name"] == "VARCHAR"
        for outcome, path, partition in zip(report.outcomes, (old, new), partitions, strict=True):
            got = lake.arrow(f"SELECT {names} FROM tidy WHERE file_sha256 = ? {ORDER}", [outcome.sha256])
            _assert_same_rows(got, _expected_tidy(path), str(path))
            frame = file_table(layout, "tidy", *partition, outcome.sha256)
            assert frame.schema["result"] == pl.Float64 and frame.schema["test_name"] == pl.String
            assert frame.sort("seq")["result"].to_list() == tidy(read(path))["result"].to_pylist()
