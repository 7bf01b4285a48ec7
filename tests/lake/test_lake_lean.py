"""Record tables in two files: the rows holding a value in a sparse column (full file, every
column) and the others (lean file, without the sparse columns), from hand-built batches and from
a synthetic wafer-sort file; the views, the per-file reads, recovery and idempotence over both."""

from __future__ import annotations

import shutil
from itertools import pairwise

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import silicio
from silicio.lake import INGESTED, SKIPPED, LakeLayout, ingest, recover
from silicio.lake.ingest import ROW_GROUP_ROWS, _ParquetWrites, _StagedTables
from silicio.lake.layout import LEAN_SUFFIX, Partition, sha256_of_parquet
from silicio.stdf import read

SCHEMA = pa.schema(
    [
        pa.field("seq", pa.uint64(), nullable=False),
        pa.field("A", pa.int32()),  # a value on every row
        pa.field("S1", pa.string()),  # a value on a few rows: sparse
        pa.field("D", pa.float64()),  # a value on every other row: not sparse
        pa.field("S2", pa.float32(), metadata={"stdf_type": "R4"}),  # sparse, a value arrives late
        pa.field("S3", pa.uint8()),  # no value in the first row group, then on every row of a batch
    ],
    metadata={"record_type": "T"},
)


def _columns(total: int) -> dict[str, list]:
    """Column values (None: null) of ``total`` rows: S1, S2 and S3 hold a value on the rows set
    here (those beyond ``total`` left out)."""
    seq = list(range(total))
    sparse: dict[str, dict[int, object]] = {"S1": {}, "S2": {}, "S3": {}}
    for row in (0, 3, 7):  # in the first row group
        sparse["S1"][row] = f"unit {row}"
    sparse["S2"][0] = 1.5
    sparse["S2"][ROW_GROUP_ROWS + 100] = 2.5  # late: after the decision
    for row in range(2 * ROW_GROUP_ROWS + 11, 2 * ROW_GROUP_ROWS + 11 + 40 * 97, 97):  # many in a batch
        sparse["S1"][row] = "late"
    for row in range(3 * ROW_GROUP_ROWS, 3 * ROW_GROUP_ROWS + 500):  # a whole batch with values
        sparse["S3"][row] = row % 200
    return {
        "seq": seq,
        "A": [row % 1000 for row in seq],
        "D": [float(row) if row % 2 else None for row in seq],
        **{name: [values.get(row) for row in seq] for name, values in sparse.items()},
    }


def _stage(folder, batches: list[pa.RecordBatch], name: str = "T") -> _StagedTables:
    writes = _ParquetWrites()
    staged = _StagedTables("test", folder, writes)
    for batch in batches:
        staged.write(name, batch)
    staged.close()
    writes.finish()
    return staged


def _batches(columns: dict[str, list], cuts: list[int], schema: pa.Schema = SCHEMA) -> list[pa.RecordBatch]:
    total = len(columns["seq"])
    table = pa.table({f.name: pa.array(columns[f.name], f.type) for f in schema}, schema=schema)
    bounds = [0, *cuts, total]
    return [table.slice(a, b - a).combine_chunks().to_batches()[0] for a, b in pairwise(bounds)]


def test_rows_with_a_sparse_value_go_to_the_full_file_the_others_to_the_lean_one(tmp_path):
    total = 3 * ROW_GROUP_ROWS + 500 + 1234
    columns = _columns(total)
    # first batch: the first row group and a little more; the late values in later batches
    cuts = [ROW_GROUP_ROWS + 5, 2 * ROW_GROUP_ROWS, 3 * ROW_GROUP_ROWS, 3 * ROW_GROUP_ROWS + 500]
    staged = _stage(tmp_path, _batches(columns, cuts))
    full = pq.read_table(staged.staged["T"])
    lean = pq.read_table(staged.lean["T"])

    held = [any(columns[c][row] is not None for c in ("S1", "S2", "S3")) for row in range(total)]
    full_rows = [row for row in range(total) if held[row]]
    lean_rows = [row for row in range(total) if not held[row]]
    assert len(full_rows) == 3 + 1 + 40 + 500  # S1 early, S2 late, S1 many, S3's batch
    assert full.column_names == SCHEMA.names and full.schema.metadata == SCHEMA.metadata
    assert full.schema.field("S2").metadata == {b"stdf_type": b"R4"}
    assert lean.column_names == ["seq", "A", "D"] and lean.schema.metadata == SCHEMA.metadata
    assert full["seq"].to_pylist() == full_rows  # each file in the source's order
    assert lean["seq"].to_pylist() == lean_rows
    for name in SCHEMA.names:
        assert full[name].to_pylist() == [columns[name][row] for row in full_rows], name
    for name in lean.column_names:
        assert lean[name].to_pylist() == [columns[name][row] for row in lean_rows], name
    meta = pq.ParquetFile(staged.lean["T"]).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sizes == [ROW_GROUP_ROWS] * (len(lean_rows) // ROW_GROUP_ROWS) + [len(lean_rows) % ROW_GROUP_ROWS]


def test_sparse_columns_are_fixed_by_the_first_row_group(tmp_path):
    """A column with values on many rows of later batches stays sparse (its rows go to the full
    file); one with values on many rows of the first row group is never sparse. A null in the
    full file after a row group of none rewrites it with the column optional (the lean file
    keeps the column required)."""
    total = 2 * ROW_GROUP_ROWS
    columns = _columns(total)
    columns["S2"] = [None] * ROW_GROUP_ROWS + [0.5] * ROW_GROUP_ROWS  # dense from the second group on
    columns["S3"] = [row % 3 if row < 20_000 else None for row in range(total)]  # 16 % of the first group
    columns["A"][total - 1] = None  # in the full file's last rows, written after its first row group
    staged = _stage(tmp_path, _batches(columns, [ROW_GROUP_ROWS]))
    full = pq.read_table(staged.staged["T"])
    lean = pq.read_table(staged.lean["T"])
    assert lean.column_names == ["seq", "A", "D", "S3"]
    full_rows = [0, 3, 7, *range(ROW_GROUP_ROWS, total)]
    assert full["seq"].to_pylist() == full_rows and full["S2"].null_count == 3
    assert full["A"].to_pylist() == [columns["A"][row] for row in full_rows]
    assert full.schema.field("A").nullable and not lean.schema.field("A").nullable
    assert [f.name for f in full.schema if not f.nullable] == ["seq"]  # a null in each other column
    meta = pq.ParquetFile(staged.staged["T"]).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [ROW_GROUP_ROWS, 3]
    assert lean.num_rows == ROW_GROUP_ROWS - 3 and lean["S3"].to_pylist()[:4] == [1, 2, 1, 2]
    assert not list(tmp_path.rglob(".*"))  # the file written before the rewrite is gone


def test_a_table_without_sparse_columns_is_one_file(tmp_path):
    total = ROW_GROUP_ROWS + 77
    columns = _columns(total)
    schema = pa.schema([SCHEMA.field("seq"), SCHEMA.field("A"), SCHEMA.field("D")], metadata=SCHEMA.metadata)
    staged = _stage(tmp_path, _batches(columns, [1000], schema))
    assert staged.lean == {} and sorted(p.name for p in tmp_path.rglob("*.parquet")) == ["T.parquet"]
    back = pq.read_table(staged.staged["T"])
    assert back["A"].to_pylist() == columns["A"] and back["D"].to_pylist() == columns["D"]


def test_a_table_of_sparse_columns_only(tmp_path):
    """Every column null: none is sparse (a lean file without a column could not count its
    rows), one file. Every column but seq null: the full file, without a row, keeps the schema."""
    total = ROW_GROUP_ROWS + 3
    empty = pa.schema(
        [pa.field("X", pa.float32()), pa.field("Y", pa.string())], metadata={"record_type": "E"}
    )
    batch = pa.record_batch([pa.nulls(total, pa.float32()), pa.nulls(total, pa.string())], schema=empty)
    (tmp_path / "nulls").mkdir()
    staged = _stage(tmp_path / "nulls", [batch])
    assert staged.lean == {}
    back = pq.read_table(staged.staged["T"])
    assert back.num_rows == total and back.schema.names == ["X", "Y"] and back["Y"].null_count == total

    with_seq = pa.schema([pa.field("seq", pa.uint64(), nullable=False), *empty], metadata=empty.metadata)
    batch = pa.record_batch([pa.array(np.arange(total, dtype=np.uint64)), *batch.columns], schema=with_seq)
    (tmp_path / "seq").mkdir()
    staged = _stage(tmp_path / "seq", [batch])
    full, lean = pq.read_table(staged.staged["T"]), pq.read_table(staged.lean["T"])
    assert full.num_rows == 0 and full.schema.names == ["seq", "X", "Y"]
    assert full.schema.field("Y").type == pa.string() and full.schema.metadata == empty.metadata
    assert lean.column_names == ["seq"] and lean["seq"].to_pylist() == list(range(total))


def test_a_table_under_a_row_group_and_the_views_are_one_file(tmp_path):
    columns = _columns(ROW_GROUP_ROWS - 1)
    staged = _stage(tmp_path, _batches(columns, [500]))
    assert staged.lean == {} and pq.read_table(staged.staged["T"]).column_names == SCHEMA.names


# -- a lake with two files per record table


@pytest.fixture(scope="module")
def wafers_file(synthetic_files):
    """Two wafers of synthetic wafer sort: ~210 k PTRs, a test's limits on its first PTR only."""
    return synthetic_files("lean", 6, 5)


@pytest.fixture(scope="module")
def lean_lake(wafers_file, tmp_path_factory):
    data = tmp_path_factory.mktemp("lean_lake")
    report = ingest([wafers_file], data, workers=1)
    assert [o.status for o in report.outcomes] == [INGESTED]
    return data, report.outcomes[0].sha256


def test_views_show_every_column_and_null_for_the_lean_rows(lean_lake, wafers_file):
    data, sha = lean_lake
    ptr = read(wafers_file, record_types=["PTR"])["PTR"]
    layout = LakeLayout.at(data)
    full_file, lean_file = sorted(layout.table_dir("PTR").rglob(f"{sha}*.parquet"))
    assert (
        lean_file.name == sha + LEAN_SUFFIX
        and sha256_of_parquet(lean_file) == sha256_of_parquet(full_file) == sha
    )
    limits = np.flatnonzero(~np.asarray(ptr["LO_LIMIT"].is_null()))
    assert pq.ParquetFile(full_file).metadata.num_rows == len(limits) > 0  # a test's first PTR each
    assert pq.ParquetFile(lean_file).metadata.num_rows == ptr.num_rows - len(limits)
    with silicio.open(data) as lake:
        viewed = lake.arrow("SELECT * FROM PTR ORDER BY seq")
        assert viewed.column_names == [*ptr.column_names, "lot", "product", "stage", "file_sha256"]
        # each column with the type DuckDB reads from the full file alone
        types = dict(lake.rows("SELECT column_name, column_type FROM (DESCRIBE PTR)"))
        alone = dict(
            duckdb.sql(
                f"SELECT column_name, column_type FROM (DESCRIBE FROM read_parquet('{full_file}', hive_partitioning = false))"
            ).fetchall()
        )
        assert {name: types[name] for name in ptr.column_names} == alone
        for field in ptr.schema:
            assert viewed[field.name].to_pylist() == ptr[field.name].to_pylist(), field.name
        assert set(viewed["file_sha256"].to_pylist()) == {sha}
        (rows, with_limits, texts), = lake.rows(
            "SELECT count(*), count(LO_LIMIT), count(DISTINCT TEST_TXT) FROM PTR WHERE file_sha256 = ?", [sha]
        )  # fmt: skip
        assert (rows, with_limits) == (ptr.num_rows, len(limits))
        assert texts == len(set(ptr["TEST_TXT"].to_pylist()))


def test_a_files_record_table_is_read_whole(lean_lake, wafers_file):
    """:func:`silicio.lake.queries.alerts.file_table` of a record table in two files: every row,
    by seq, the sparse columns null on the lean rows; a sparse column alone has every row too."""
    from silicio.lake.queries.alerts import file_table

    data, sha = lean_lake
    ptr = read(wafers_file, record_types=["PTR"])["PTR"]
    with silicio.open(data) as lake:
        (product, lot, stage), = lake.rows("SELECT DISTINCT product, lot, stage FROM PTR")  # fmt: skip
    layout = LakeLayout.at(data)
    assert len(layout.parquet_paths("PTR", Partition.of(product, lot, stage), sha)) == 2
    whole = file_table(layout, "PTR", product, lot, stage, sha)
    assert whole.columns == ptr.column_names and whole["seq"].to_list() == ptr["seq"].to_pylist()
    assert whole["LO_LIMIT"].to_list() == ptr["LO_LIMIT"].to_pylist()
    assert whole["RESULT"].to_list() == ptr["RESULT"].to_pylist()
    limits = file_table(layout, "PTR", product, lot, stage, sha, ["HI_LIMIT", "UNITS"])
    assert limits.columns == ["HI_LIMIT", "UNITS"] and limits["UNITS"].to_list() == ptr["UNITS"].to_pylist()


def test_recover_removes_both_files_of_an_orphan(lean_lake, tmp_path):
    data, sha = lean_lake
    copy = tmp_path / "lake"
    shutil.copytree(data, copy)
    layout = LakeLayout.at(copy)
    kept = sorted(layout.parquet_files())
    orphan = "f" * 64
    made = []
    for path in layout.table_dir("PTR").rglob(f"{sha}*.parquet"):
        target = path.with_name(path.name.replace(sha, orphan))
        shutil.copyfile(path, target)
        made.append(target)
    assert len(made) == 2
    found = recover(copy)
    assert sorted(found.orphans) == sorted(made) and sorted(layout.parquet_files()) == kept


def test_ingest_again_is_idempotent(lean_lake, wafers_file, tmp_path, snapshot, same_lake):
    """The same content again is skipped and changes nothing; another lake gets the same files."""
    data, _ = lean_lake
    before = snapshot(data)
    assert any(name.endswith(LEAN_SUFFIX) for name in before["parquet"])
    report = ingest([wafers_file], data, workers=1)
    assert [o.status for o in report.outcomes] == [SKIPPED]
    same_lake(snapshot(data), before)
    other = tmp_path / "other"
    ingest([wafers_file], other, workers=1)
    same_lake(snapshot(other), before)
