"""Ingest: every shared file, the same counts and PTR values as the reader, idempotence,
quarantine of damaged files, partitions and stages, DuckDB and polars handles."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pyarrow as pa
import pytest

import silicio
from silicio.lake import FAILED, INGESTED, PARTIAL, QUARANTINED, SKIPPED, Catalog, LakeLayout, ingest
from silicio.lake.layout import UNKNOWN_PARTITION, infer_stage, partition_value
from silicio.stdf import read

PTR_COLUMNS = ["seq", "offset", "TEST_NUM", "HEAD_NUM", "SITE_NUM", "TEST_FLG", "PARM_FLG", "RESULT", "TEST_TXT",
               "LO_LIMIT", "HI_LIMIT", "UNITS"]  # fmt: skip
QUOTED_PTR_COLUMNS = ", ".join(f'"{c}"' for c in PTR_COLUMNS)  # "offset" is an SQL keyword


@pytest.fixture(scope="module")
def shared_lake(shared_stdf_files, tmp_path_factory):
    """Every shared STDF file ingested once (in this process: the pool has its own tests)."""
    data = tmp_path_factory.mktemp("shared_lake")
    report = ingest(shared_stdf_files, data, workers=1)
    return data, report


def _same_column(got: pa.ChunkedArray, expected: pa.ChunkedArray, what: str) -> None:
    """Equal values, NaN equal to NaN (DuckDB may hand strings back as another Arrow type)."""
    assert len(got) == len(expected), f"{what}: {len(got)} values, expected {len(expected)}"
    got = got.cast(expected.type)
    if got.equals(expected):
        return
    assert got.is_null().equals(expected.is_null()), f"{what}: nulls differ"
    if pa.types.is_floating(expected.type):
        np.testing.assert_array_equal(
            got.fill_null(0).to_numpy(), expected.fill_null(0).to_numpy(), err_msg=what
        )
        return
    for row, (a, b) in enumerate(zip(got.to_pylist(), expected.to_pylist(), strict=True)):
        assert a == b or (isinstance(b, float) and math.isnan(b) and math.isnan(a)), (
            f"{what} row {row}: {a!r} != {b!r}"
        )


def test_every_shared_file_is_ingested_with_the_readers_counts(shared_lake, shared_stdf_files):
    data, report = shared_lake
    assert [o.status for o in report.outcomes] == [INGESTED] * len(shared_stdf_files)
    with Catalog(LakeLayout.at(data).database_url()) as catalog:
        files = {row["id"]: row for row in catalog.rows("files")}
        by_path = {row["path"]: row for row in files.values()}
        counts: dict[str, dict[str, int]] = {}
        for r in catalog.rows("file_records"):
            counts.setdefault(files[r["file_id"]]["path"], {})[r["record_type"]] = r["count"]
    assert len(by_path) == len(shared_stdf_files)
    for path in shared_stdf_files:
        tables = read(path, strict=False)
        expected = {name: table.num_rows for name, table in tables.items() if table.num_rows}
        assert counts[str(path)] == expected, path.name
        row = by_path[str(path)]
        assert row["records"] == tables.records and row["parts"] == expected.get("PRR", 0)
        assert row["partial"] is False and row["issues"] == []


def test_duckdb_ptr_equals_reading_the_file(shared_lake, shared_stdf_files):
    data, report = shared_lake
    sha_of = {o.path: o.sha256 for o in report.outcomes}
    with silicio.open(data) as lake:
        for path in shared_stdf_files:
            ptr = read(path, record_types=["PTR"]).get("PTR")
            got = lake.arrow(f"SELECT {QUOTED_PTR_COLUMNS} FROM PTR WHERE file_sha256 = ? ORDER BY seq",
                             [sha_of[str(path)]])  # fmt: skip
            if ptr is None:
                assert got.num_rows == 0, path.name
                continue
            for column in PTR_COLUMNS:
                _same_column(got[column], ptr[column], f"{path.name} PTR.{column}")


def test_views_and_partitions(shared_lake):
    data, _ = shared_lake
    with silicio.open(data) as lake:
        assert {"PTR", "PRR", "tidy", "parts", "files", "lots", "wafers"} <= set(lake.tables)
        # galaxy lot 2 and lot 3 (plain and compressed copies) are one product, lot, wafer-sort stage
        stages = lake.sql("SELECT DISTINCT stage FROM PTR WHERE product = 'GOLD8BAR'").fetchall()
        assert stages == [("wafer_sort",)]
        # the partition columns agree with the catalog for every file that names product and lot
        mismatched = lake.sql(
            "SELECT DISTINCT f.path FROM PRR p JOIN files f ON f.sha256 = p.file_sha256 "
            "WHERE p.stage <> f.stage OR (f.lot IS NOT NULL AND p.lot <> regexp_replace(f.lot, '[^A-Za-z0-9._+-]+', '_', 'g'))"
        ).fetchall()
        assert mismatched == []
        # the tidy view holds the same rows as the reader's tidy
        tidy_rows = lake.rows("SELECT count(*) FROM tidy")[0][0]
        assert tidy_rows > 0
        frame = lake.polars("SELECT lot, count(*) AS n FROM parts GROUP BY lot ORDER BY lot")
        assert (
            frame.columns == ["lot", "n"]
            and frame["n"].sum() == lake.rows("SELECT sum(parts) FROM files")[0][0]
        )


def test_reingest_adds_nothing(shared_lake, shared_stdf_files, snapshot):
    data, _ = shared_lake
    before = snapshot(data)
    # the same content under another name is recognised by its hash too
    copy = data.parent / "renamed_copy.stdf"
    shutil.copyfile(shared_stdf_files[0], copy)
    report = ingest([*shared_stdf_files, copy], data, workers=1)
    assert {o.status for o in report.outcomes} == {SKIPPED}
    assert report.outcomes[-1].duplicate_of == str(shared_stdf_files[0])
    after = snapshot(data)
    assert after["files"] == before["files"] and after["records"] == before["records"]
    assert sorted(after["parquet"]) == sorted(before["parquet"])


def test_damaged_files_are_quarantined_with_the_readers_error(tmp_path, synthetic_files):
    good = synthetic_files("q", 0, 21).read_bytes()
    truncated = tmp_path / "truncated.stdf"
    truncated.write_bytes(good[: len(good) // 2])
    damaged = tmp_path / "damaged_middle.stdf"
    middle = len(good) // 3
    damaged.write_bytes(good[:middle] + b"\xff" * 5000 + good[middle + 5000 :])
    not_stdf = tmp_path / "notes.stdf"
    not_stdf.write_bytes(b"lot notes: nothing to see here\n")
    empty = tmp_path / "empty.stdf"
    empty.write_bytes(b"")
    data = tmp_path / "lake"
    report = ingest([truncated, damaged, not_stdf, empty, tmp_path / "missing.stdf"], data, workers=1)
    status = {o.path.rsplit("/", 1)[-1]: o for o in report.outcomes}
    assert status["truncated.stdf"].status == PARTIAL
    assert status["damaged_middle.stdf"].status == PARTIAL
    assert status["notes.stdf"].status == QUARANTINED
    assert status["empty.stdf"].status == QUARANTINED
    assert status[str(tmp_path / "missing.stdf").rsplit("/", 1)[-1]].status == FAILED

    with silicio.open(data) as lake:
        quarantine = {row["path"].rsplit("/", 1)[-1]: row for row in lake.catalog.rows("quarantine")}
        files = {row["path"].rsplit("/", 1)[-1]: row for row in lake.catalog.rows("files")}
        for name in ("truncated.stdf", "damaged_middle.stdf"):
            salvaged = read(tmp_path / name, strict=False)
            q = quarantine[name]
            first = salvaged.issues[0]
            assert (q["offset"], q["record"], q["reason"], q["salvaged"]) == (
                first.offset, first.record, first.reason, True)  # fmt: skip
            row = files[name]
            assert row["partial"] is True and len(row["issues"]) == len(salvaged.issues)
            assert row["records"] == salvaged.records
            ptr_rows = lake.rows("SELECT count(*) FROM PTR WHERE file_sha256 = ?", [row["sha256"]])[0][0]
            assert ptr_rows == salvaged["PTR"].num_rows > 0
        assert (
            quarantine["notes.stdf"]["salvaged"] is False
            and "not an STDF file" in quarantine["notes.stdf"]["reason"]
        )
        assert quarantine["empty.stdf"]["offset"] == 0
        assert set(files) == {"truncated.stdf", "damaged_middle.stdf"}
    # nothing of the unreadable files in the lake
    shas = {o.sha256 for o in report.outcomes if o.status == QUARANTINED}
    assert not [p for p in LakeLayout.at(data).parquet_files() if p.stem in shas]


def test_partition_values_and_stages():
    assert partition_value("LOT 47/11") == "LOT_47_11"
    assert partition_value("  ") == partition_value(None) == UNKNOWN_PARTITION
    assert partition_value("..") == UNKNOWN_PARTITION
    assert infer_stage("QA1", False, False, 10) == "qa"
    assert infer_stage("FT", True, True, 10) == "wafer_sort"  # WIR/WRR win over the test code
    assert infer_stage("WS1", False, False, 10) == "wafer_sort"
    assert infer_stage("FT2", False, True, 10) == "final_test"
    assert infer_stage(None, False, True, 10) == "wafer_sort"
    assert infer_stage(None, False, False, 10) == "final_test"
    assert infer_stage(None, False, False, 0) == UNKNOWN_PARTITION


def test_yield_by_wafer_over_the_lake(tmp_path, synthetic_files):
    path = synthetic_files("y", 0, 31)
    data = tmp_path / "lake"
    ingest([path], data, workers=1)
    prr = read(path, record_types=["PRR"])["PRR"]
    good = int(np.sum((np.asarray(prr["PART_FLG"].to_numpy()) & 0x08) == 0))
    with silicio.open(data) as lake:
        (wafer, parts, passed), = lake.sql(
            "SELECT wafer_id, count(*), count(*) FILTER (WHERE passed) FROM parts GROUP BY wafer_id").fetchall()  # fmt: skip
        assert (wafer, parts, passed) == ("W01", prr.num_rows, good)
        (catalog_wafer,) = lake.catalog.rows("wafers")
        assert (catalog_wafer["parts"], catalog_wafer["good_parts"]) == (parts, good)
        assert isinstance(lake.arrow("SELECT 1 AS one"), pa.Table)


def test_staged_tables_write_row_groups_of_duckdbs_size(tmp_path):
    """Batches of any size become row groups of ROW_GROUP_ROWS rows (the last one shorter), in
    order; numbers get min / max statistics, text none."""
    import pyarrow.parquet as pq

    from silicio.lake.ingest import ROW_GROUP_ROWS, _ParquetWrites, _StagedTables

    sizes = [50_000, 1, 70_000, 123_456, 7, 3 * ROW_GROUP_ROWS + 5]
    total = sum(sizes)
    values = np.arange(total, dtype=np.int64)
    writes = _ParquetWrites()
    staged = _StagedTables("test", tmp_path, writes)
    start = 0
    for size in sizes:
        chunk = values[start : start + size]
        staged.write("T", pa.record_batch({"n": chunk, "text": pa.array([f"t{v % 3}" for v in chunk])}))
        start += size
    staged.close()
    writes.finish()
    meta = pq.ParquetFile(staged.staged["T"]).metadata
    rows = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert rows == [ROW_GROUP_ROWS] * (total // ROW_GROUP_ROWS) + [total % ROW_GROUP_ROWS]
    back = pq.read_table(staged.staged["T"])
    np.testing.assert_array_equal(back["n"].to_numpy(), values)
    assert back["text"].to_pylist()[:4] == ["t0", "t1", "t2", "t0"]
    first = meta.row_group(0)
    assert first.column(0).statistics.min == 0 and first.column(0).statistics.max == ROW_GROUP_ROWS - 1
    assert first.column(1).statistics is None


@pytest.fixture(scope="module")
def split_shared_lake(shared_stdf_files, tmp_path_factory):
    """Every shared STDF file ingested with every record table of more than 64 rows written as
    two files, its columns null on at least 3/4 of its first rows sparse (the lake splits a
    table of a row group at least, by 10 %: the shared files are smaller)."""
    import importlib
    from unittest import mock

    ingest_module = importlib.import_module("silicio.lake.ingest")  # the package's `ingest` is the function

    data = tmp_path_factory.mktemp("split_shared_lake")
    with (
        mock.patch.object(ingest_module, "_SPLIT_MIN_ROWS", 64),
        mock.patch.object(ingest_module, "_SPARSE_SHARE", 0.25),
    ):
        report = ingest(shared_stdf_files, data, workers=1)
    return data, report


@pytest.mark.parametrize("lake_fixture", ["shared_lake", "split_shared_lake"])
def test_every_record_field_round_trips(lake_fixture, shared_stdf_files, request):
    """Every table and column the reader returns is in the lake, value for value, whether read by
    pyarrow, polars or the DuckDB views (columns without nulls are stored as required, text of
    record tables without a dictionary, a table's rows in two files, the lean one without the
    sparse columns: how a column is stored never changes what comes back)."""
    import polars as pl
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    data, report = request.getfixturevalue(lake_fixture)
    sha_of = {o.path: o.sha256 for o in report.outcomes}
    layout = LakeLayout.at(data)
    split_tables = mixed_tables = 0
    with silicio.open(data) as lake:
        for path in shared_stdf_files:
            tables = read(path, strict=False)
            sha = sha_of[str(path)]
            for name, table in tables.items():
                files = list(layout.table_dir(name).rglob(f"{sha}.parquet"))
                assert len(files) == (1 if table.num_rows else 0), f"{path.name} {name}: {files}"
                if not files:
                    continue
                lean = list(layout.table_dir(name).rglob(f"{sha}_lean.parquet"))
                split_tables += bool(lean)
                if lake_fixture == "shared_lake":  # every table of the shared files under a row group
                    assert lean == []
                # the full file has every column; both files read with its schema, rows by seq
                schema = pq.read_schema(files[0])
                stored = (
                    ds.dataset([*files, *lean], schema=schema, format="parquet").to_table().sort_by("seq")
                )
                assert stored.column_names == table.column_names, f"{path.name} {name}"
                for got_field, field in zip(stored.schema, table.schema, strict=True):
                    assert (got_field.type, got_field.metadata) == (field.type, field.metadata), (
                        f"{path.name} {name}.{field.name}"
                    )
                if lean:
                    lean_schema = pq.read_schema(lean[0])
                    mixed_tables += pq.ParquetFile(files[0]).metadata.num_rows > 0
                    assert set(lean_schema.names) < set(schema.names)
                    for part in (files[0], lean[0]):
                        in_file = pq.read_table(part)
                        assert in_file["seq"].equals(in_file["seq"].sort()), f"{part.name}: rows out of order"
                        for f in in_file.schema:
                            assert f.nullable or in_file[f.name].null_count == 0, f"{part.name} {f.name}"
                else:
                    for got_field in stored.schema:
                        assert got_field.nullable or table[got_field.name].null_count == 0
                for column in table.column_names:
                    _same_column(stored[column], table[column], f"{path.name} {name}.{column} (pyarrow)")
                frame = pl.read_parquet([*files, *lean], missing_columns="insert").sort("seq")
                assert frame.columns == table.column_names and frame.height == table.num_rows
                for column in table.column_names:
                    _same_column(
                        pa.chunked_array([frame[column].to_arrow()]),
                        table[column],
                        f"{path.name} {name}.{column} (polars)",
                    )
                viewed = lake.arrow(
                    f'SELECT * EXCLUDE (product, lot, stage, file_sha256) FROM "{name}" '
                    f"WHERE file_sha256 = ? ORDER BY seq",
                    [sha],
                )
                assert viewed.column_names == table.column_names, f"{path.name} {name} (DuckDB)"
                for column in table.column_names:
                    if not pa.types.is_nested(table.schema.field(column).type):  # DuckDB lists: another type
                        _same_column(viewed[column], table[column], f"{path.name} {name}.{column} (DuckDB)")
    if lake_fixture == "split_shared_lake":
        # the split is what this lake tests: some tables hold rows in both files (MPR and PTR
        # of files with a test's limits on its first record only)
        assert split_tables >= 10 and mixed_tables >= 3


def test_columns_stored_required_until_a_null_comes(tmp_path):
    """A record table's columns without a null in its first row group are stored as required,
    in each of its two files (UNITS, on the first row only, is sparse: that row goes to the
    full file, the others to the lean one); a null later rewrites what was written of its file
    with that column optional, values and order kept."""
    import pyarrow.parquet as pq

    from silicio.lake.ingest import ROW_GROUP_ROWS, _ParquetWrites, _StagedTables

    schema = pa.schema(
        [pa.field("seq", pa.uint64(), nullable=False), pa.field("RESULT", pa.float32(), metadata={"stdf_type": "R4"}),
         pa.field("TEST_TXT", pa.string()), pa.field("UNITS", pa.string())],
        metadata={"record_type": "PTR"},
    )  # fmt: skip
    first = ROW_GROUP_ROWS + 10
    total = 3 * ROW_GROUP_ROWS + 8
    seq = np.arange(total, dtype=np.uint64)
    result = (seq % 1000).astype(np.float32)
    text = [f"test {i % 7}" for i in range(total)]
    units = ["V" if i == 0 else None for i in range(total)]  # a test's first PTR only
    # The first batch has no null in RESULT or TEST_TXT; the second batch a null in RESULT.
    result_null = np.zeros(total, np.bool_)
    result_null[2 * ROW_GROUP_ROWS + 3] = True

    def batch(lo: int, hi: int) -> pa.RecordBatch:
        return pa.record_batch(
            [pa.array(seq[lo:hi]), pa.array(result[lo:hi], mask=result_null[lo:hi]),
             pa.array(text[lo:hi]), pa.array(units[lo:hi], pa.string())],
            schema=schema,
        )  # fmt: skip

    def stage(cuts: list[int]) -> tuple[pa.Table, pa.Table]:
        folder = tmp_path / str(len(cuts))
        folder.mkdir()
        writes = _ParquetWrites()
        staged = _StagedTables("test", folder, writes)
        for lo, hi in zip([0, *cuts], [*cuts, total], strict=True):
            staged.write("PTR", batch(lo, hi))
        staged.close()
        writes.finish()
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        assert files == ["PTR.parquet", "lean/PTR.parquet"]  # nothing left behind
        meta = pq.ParquetFile(staged.lean["PTR"]).metadata
        assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [ROW_GROUP_ROWS] * 3 + [7]
        return pq.read_table(staged.staged["PTR"]), pq.read_table(staged.lean["PTR"])

    expected = pa.Table.from_batches([batch(0, total)])
    # a null after the first row group was written: RESULT rewritten optional in the lean file
    full, lean = stage([first, 2 * ROW_GROUP_ROWS + 1])
    assert full.equals(expected.slice(0, 1).cast(full.schema)) and full.column_names == schema.names
    assert lean.column_names == ["seq", "RESULT", "TEST_TXT"] and lean.schema.metadata == schema.metadata
    assert all(lean[n].equals(expected[n].slice(1)) for n in lean.column_names)
    assert [full.schema.field(n).nullable for n in schema.names] == [False, False, False, False]
    assert [lean.schema.field(n).nullable for n in lean.column_names] == [False, True, False]
    assert lean.schema.field("RESULT").metadata == {b"stdf_type": b"R4"}
    assert lean["RESULT"].null_count == 1 and lean["RESULT"][2 * ROW_GROUP_ROWS + 2].as_py() is None
    # without the null: RESULT stays required
    result_null[:] = False
    expected = pa.Table.from_batches([batch(0, total)])
    full, lean = stage([first])
    assert all(lean[n].equals(expected[n].slice(1)) for n in lean.column_names)
    assert [lean.schema.field(n).nullable for n in lean.column_names] == [False, False, False]


def test_record_table_text_is_stored_plain_view_text_as_dictionary(shared_lake):
    """Record tables' text is stored without a dictionary (hashing each string cost more than
    it saved); the views' text keeps its dictionary pages. Numbers get statistics, text none."""
    import pyarrow.parquet as pq

    data, _ = shared_lake
    layout = LakeLayout.at(data)
    ptr = pq.ParquetFile(next(layout.table_dir("PTR").rglob("*.parquet"))).metadata
    columns = {ptr.schema.column(i).name: i for i in range(ptr.num_columns)}
    text, number = ptr.row_group(0).column(columns["TEST_TXT"]), ptr.row_group(0).column(columns["RESULT"])
    assert not text.has_dictionary_page and text.statistics is None
    assert number.statistics is not None and number.statistics.has_min_max
    tidy = pq.ParquetFile(next(layout.table_dir("tidy").rglob("*.parquet"))).metadata
    names = {tidy.schema.column(i).name: i for i in range(tidy.num_columns)}
    assert tidy.row_group(0).column(names["test_name"]).has_dictionary_page


def test_a_file_the_lake_holds_stops_its_source(tmp_path, small_files):
    """The hash runs beside the source's reading: once it shows the catalog holds the content,
    the source is stopped at its next write and nothing is staged."""
    from pathlib import Path

    from silicio.lake.ingest import stage_file
    from silicio.lake.sources import DataSource, FileFacts, SourceData

    original = small_files(101)
    data = tmp_path / "lake"
    assert ingest([original], data, workers=1).ok
    copy = tmp_path / "copy.log"
    shutil.copyfile(original, copy)
    writes_done = []

    class Endless(DataSource):
        kind = "endless"
        suffixes = (".log",)

        def matches(self, path: Path) -> bool:
            return True

        def read(self, path: Path, out, *, window_bytes: int) -> SourceData:
            for i in range(100_000):  # far more than the hash of a 6 kB file takes
                try:
                    out.write("T", pa.record_batch({"n": [i]}))
                except Exception:  # a source that swallows every error still gets stopped
                    pass
                writes_done.append(i)
            return SourceData(FileFacts(stage=UNKNOWN_PARTITION))

    staging = tmp_path / "staging"
    staging.mkdir()
    layout = LakeLayout.at(data)
    staged = stage_file(str(copy), str(staging), layout.database_url(), sources=[Endless()])
    assert staged.known is not None and staged.known.path == str(original)
    assert len(writes_done) < 100_000
    assert staged.staged == {} and staged.staging_dir is None and staged.entry is None
    assert list(staging.iterdir()) == []
    # without a catalog that holds it, the same source runs to its end
    writes_done.clear()
    staged = stage_file(str(copy), str(staging), None, sources=[Endless()])
    assert len(writes_done) == 100_000 and staged.known is None and staged.entry is not None


def test_catalog_wafer_rows_follow_file_order(tmp_path):
    """Parts, good parts and yields per wafer id, wafers in order of first appearance, parts
    without a wafer id as a wafer of their own (counted here row by row)."""
    from silicio.lake.ingest import _wafer_rows
    from silicio.stdf.parts import PARTS_SCHEMA

    rng = np.random.default_rng(5)
    n = 500
    wafer = [None if w == 3 else f"W{w}" for w in rng.integers(0, 4, n)]
    wafer[0] = "W2"
    passed = [None if p == 2 else bool(p) for p in rng.integers(0, 3, n)]
    die = rng.integers(0, 60, n)
    columns = {f.name: pa.nulls(n, f.type) for f in PARTS_SCHEMA}
    columns.update(wafer_id=pa.array(wafer, pa.string()), passed=pa.array(passed, pa.bool_()),
                   die_key=pa.array(die, pa.int64()))  # fmt: skip
    table = pa.table(columns, schema=PARTS_SCHEMA)
    rows = _wafer_rows(table)
    assert [r["wafer_id"] for r in rows] == list(dict.fromkeys(wafer))
    for row in rows:
        mine = [i for i in range(n) if wafer[i] == row["wafer_id"]]
        assert row["parts"] == len(mine) and row["good_parts"] == sum(passed[i] is True for i in mine)
        first, last = {}, {}
        for i in mine:
            if passed[i] is not None:
                first.setdefault(die[i], passed[i])
                last[die[i]] = passed[i]
        assert row["dies"] == len(first)
        assert row["first_pass_good"] == sum(first.values()) and row["final_good"] == sum(last.values())


def test_kept_tables_are_what_the_files_hold(tmp_path, small_files, monkeypatch):
    """``keep``: the tables (of their columns asked for) each ingested file wrote, in memory in
    its outcome, equal to the lake's Parquet read back; none without ``keep``, none for a file
    the lake holds already, and a table over the bound left out (the files are read then)."""
    import importlib

    import pyarrow.parquet as pq

    layout = LakeLayout.at(tmp_path / "data")
    keep = {"parts": None, "tidy": ("lot_id", "part_index", "test_num", "result")}
    first, second = small_files(1), small_files(2)
    report = ingest([str(first)], layout.root, workers=1, keep=keep)
    (outcome,) = report.outcomes
    assert outcome.status == INGESTED and set(outcome.tables) == {"parts", "tidy"}
    for table, columns in keep.items():
        (path,) = layout.root.joinpath("parquet", table).rglob(f"{outcome.sha256}.parquet")
        stored = pq.read_table(path, columns=None if columns is None else list(columns))
        kept = outcome.tables[table]
        assert kept.column_names == stored.column_names
        for name in kept.column_names:  # values as read back (texts kept as dictionaries)
            assert kept[name].to_pylist() == stored[name].to_pylist(), (table, name)
    assert outcome.tables["tidy"].num_rows > 0
    again = ingest([str(first)], layout.root, workers=1, keep=keep)
    assert again.outcomes[0].status == SKIPPED and again.outcomes[0].tables is None
    ingest_module = importlib.import_module("silicio.lake.ingest")  # the module, not the function
    monkeypatch.setattr(ingest_module, "_KEPT_BYTES", outcome.tables["parts"].nbytes + 1)
    bounded = ingest([str(second)], layout.root, workers=1, keep=keep)
    assert bounded.outcomes[0].status == INGESTED and set(bounded.outcomes[0].tables) == {"parts"}
    plain = ingest([str(small_files(3))], layout.root, workers=1)
    assert plain.outcomes[0].status == INGESTED and plain.outcomes[0].tables is None
    # a pool of workers keeps nothing (a worker's tables would have to travel back): read the files
    pooled = ingest([str(small_files(4)), str(small_files(5))], layout.root, workers=2, keep=keep)
    assert [(o.status, o.tables) for o in pooled.outcomes] == [(INGESTED, None), (INGESTED, None)]
