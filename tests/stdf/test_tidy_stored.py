"""The tidy view as the lake stores it (:func:`silicio.stdf.tidy.stored_parts_and_tidy`): text as
dictionaries, result as float32, required columns where no row is null, in pieces. Read back, and
as :func:`silicio.stdf.tidy.tidy` (the same pieces cast to TIDY_SCHEMA), it must be the independent
numpy assembly of :mod:`tests.stdf.tidy_reference` exactly, on files written to reach each of its
paths and on every shared file."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pyarrow as pa

from silicio.stdf import read
from silicio.stdf.parts import parts
from silicio.stdf.tidy import TIDY_SCHEMA, TIDY_STORED_SCHEMA, stored_parts_and_tidy, tidy
from silicio.stdf.writer import StdfWriter
from tests.conftest import assert_same_tables
from tests.stdf.test_tidy import full_ptr, mir, pir, prr, ptr, wir, wrr
from tests.stdf.tidy_reference import reference_tidy

# The module (``silicio.stdf.tidy`` the attribute is the function).
tidy_module = importlib.import_module("silicio.stdf.tidy")


def written(tmp_path: Path, records: list[tuple[str, dict]]) -> dict[str, pa.Table]:
    path = tmp_path / "t.stdf"
    with StdfWriter(path) as w:
        for name, fields in records:
            w.record(name, **fields)
    return read(path)


def stored(tables, piece_rows: int) -> pa.Table:
    """The stored pieces checked one by one, then as one table with the public view's types."""
    parts_table, schema, pieces = stored_parts_and_tidy(tables, piece_rows)
    assert parts_table.equals(parts(tables))
    assert schema.names == TIDY_STORED_SCHEMA.names
    assert [f.type for f in schema] == [f.type for f in TIDY_STORED_SCHEMA]
    pieces = list(pieces)
    for piece in pieces:
        assert piece.schema.equals(schema)
        assert 0 < piece.num_rows <= piece_rows
        for field in schema:
            if not field.nullable:
                assert piece[field.name].null_count == 0, field.name
    if not pieces:
        return TIDY_SCHEMA.empty_table()
    columns = [pa.chunked_array([p[name].cast(f.type) for p in pieces], f.type)
               for name, f in zip(TIDY_SCHEMA.names, TIDY_SCHEMA, strict=True)]  # fmt: skip
    return pa.Table.from_arrays(columns, schema=TIDY_SCHEMA)


def assert_stored_is_tidy(tables, piece_rows: int) -> pa.Table:
    """The stored pieces, and tidy(), equal the reference assembly: schema, rows, values (NaN
    equal to NaN, floats by their bits)."""
    expected = reference_tidy(tables)
    got = stored(tables, piece_rows)
    assert_same_tables({"stored": got}, {"stored": expected})
    assert_same_tables({"tidy": tidy(tables)}, {"tidy": expected})
    return got


def test_texts_of_one_test_that_vary_keep_each_records_own(tmp_path):
    # TEST_TXT of one test number changing from record to record, UNITS set once then changed.
    names = ["A", "B", "A", "", "C", "B"]
    records = [mir(), wir("W1"), pir(), full_ptr(7, 1.0, "A", 0x0E, 0.0, 2.0, "V")]
    records += [ptr(7, 1.5 + i, TEST_TXT=name) for i, name in enumerate(names[1:])]
    records += [ptr(8, 0.25, TEST_TXT="B", UNITS="mA"), ptr(8, 0.5, TEST_TXT="B", UNITS="uA"), prr(x=1, y=1)]
    records += [wrr("W1")]
    got = assert_stored_is_tidy(written(tmp_path, records), 3)
    # "" shows the test's first name (spec, default data); tests 7 and 8 share "B".
    assert got["test_name"].to_pylist() == ["A", "B", "A", "A", "C", "B", "B", "B"]
    assert got["units"].to_pylist() == ["V"] * 6 + ["mA", "uA"]


def test_a_test_with_more_texts_than_compared_falls_back_to_hashing(tmp_path, monkeypatch):
    monkeypatch.setattr(tidy_module, "_MAX_TEXT_VARIANTS", 2)
    records = [
        mir(),
        pir(),
        *[ptr(1, float(i), TEST_TXT=f"name {i % 5}") for i in range(12)],
        prr(part_id="p"),
    ]
    got = assert_stored_is_tidy(written(tmp_path, records), 5)
    assert got["test_name"].to_pylist() == [f"name {i % 5}" for i in range(12)]


def test_records_outside_parts_mpr_and_ftr(tmp_path):
    mpr = {"TEST_NUM": 300, "HEAD_NUM": 1, "SITE_NUM": 1, "TEST_FLG": 0, "PARM_FLG": 0, "RTN_STAT": [0, 0],
           "RTN_RSLT": [0.5, 0.75], "TEST_TXT": "CONT", "ALARM_ID": "", "OPT_FLAG": 0x0E, "RES_SCAL": 0,
           "LLM_SCAL": 0, "HLM_SCAL": 0, "LO_LIMIT": 0.25, "HI_LIMIT": 1.0, "START_IN": 0.0, "INCR_IN": 0.0,
           "RTN_INDX": [11, 12], "UNITS": "V"}  # fmt: skip
    records = [
        mir(lot="L9"), ptr(1, 1.0, site=3), pir(site=3), ptr(1, 2.0, site=3), ("MPR", mpr),
        ("FTR", {"TEST_NUM": 500, "HEAD_NUM": 1, "SITE_NUM": 3, "TEST_FLG": 0x80, "TEST_TXT": "scan"}),
        ptr(1, 2.5, site=4), prr(site=3, part_id="7", x=2, y=2), ptr(1, 3.0, site=3),
    ]  # fmt: skip
    tables = written(tmp_path, records)
    for piece_rows in (1, 2, 100):
        got = assert_stored_is_tidy(tables, piece_rows)
    # The MPR is on site 1, where no part is open; the FTR on site 3, in part 7.
    assert got["part_id"].to_pylist() == [None, "7", None, None, "7", None, None]
    assert got["result"].to_pylist() == [1.0, 2.0, 0.5, 0.75, None, 2.5, 3.0]


def test_part_ids_of_a_piece_far_apart_in_the_file(tmp_path, monkeypatch):
    # A retest reuses its part id: the piece's part ids are then not one run of codes.
    monkeypatch.setattr(tidy_module, "_PART_ID_RANGE", 2)
    records = [mir(), wir("W1")]
    for i, part_id in enumerate(["a", "b", "c", "d", "a", "e", ""]):
        records += [
            pir(),
            ptr(1, float(i), TEST_TXT="t"),
            ptr(2, -float(i)),
            prr(x=i % 5, y=0, part_id=part_id),
        ]
    records += [wrr("W1")]
    got = assert_stored_is_tidy(written(tmp_path, records), 6)
    assert got["part_id"].to_pylist()[::2] == ["a", "b", "c", "d", "a", "e", None]


def test_results_are_the_recorded_float32_exactly(tmp_path):
    values = [0.1, 1e-38, 3.4e38, -2.5, 1 / 3]
    records = [mir(), pir(), *[ptr(1, v) for v in values], prr(part_id="1")]
    tables = written(tmp_path, records)
    _, _, pieces = stored_parts_and_tidy(tables, 10)
    (piece,) = list(pieces)
    assert piece.schema.field("result").type == pa.float32()
    # R*4 widened to double: the float32 nearest each value written, exactly (numpy rounds it)
    widened = [float(np.float32(v)) for v in values]
    assert piece["result"].cast(pa.float64()).to_pylist() == widened
    assert tidy(tables)["result"].to_pylist() == widened == reference_tidy(tables)["result"].to_pylist()
    assert not piece.schema.field("result").nullable and piece.schema.field("pin").nullable


def test_no_test_records_give_no_pieces(tmp_path):
    tables = written(tmp_path, [mir(), pir(), prr(part_id="1")])
    parts_table, schema, pieces = stored_parts_and_tidy(tables, 10)
    assert list(pieces) == [] and parts_table.num_rows == 1
    assert tidy(tables).equals(TIDY_SCHEMA.empty_table()) and tidy(tables).schema == TIDY_SCHEMA


def test_every_shared_file_stores_its_tidy_view(shared_stdf_file):
    tables = read(shared_stdf_file, strict=False)
    assert_stored_is_tidy(tables, 1000)


def test_every_shared_file_stores_its_tidy_view_in_small_pieces(shared_stdf_file):
    # Pieces that end inside parts, MPRs and runs of one site: each piece's part ids, bitmaps
    # and dictionaries are its own.
    tables = read(shared_stdf_file, strict=False)
    assert_stored_is_tidy(tables, 97)


def test_tables_out_of_file_order_store_the_same_view(tmp_path):
    # Records not in file order: rows are gathered through their records, not taken in place.
    records = [mir(), wir("W1"), pir(site=1), pir(site=2), full_ptr(1, 1.0, "A", 0x0E, 0.0, 2.0, "V", site=1),
               ptr(1, 2.0, site=2), prr(site=1, part_id="a", x=1, y=1), prr(site=2, part_id="b", x=2, y=1),
               wrr("W1")]  # fmt: skip
    tables = written(tmp_path, records)
    shuffled = {name: t.take(pa.array(list(range(t.num_rows))[::-1])) for name, t in tables.items()}
    got = assert_stored_is_tidy(shuffled, 1)
    assert got["part_id"].to_pylist() == ["a", "b"] and got["units"].to_pylist() == ["V", "V"]


def test_the_shared_files_reach_every_path_of_the_stored_view(shared_stdf_files):
    # The row-for-row comparisons above cover the stored view's paths only if some shared file
    # has each of these (counted here from the raw records and the public view).
    seen = set()
    for path in shared_stdf_files:
        tables = read(path, strict=False)
        view = tidy(tables)
        counts = {name: tables[name].num_rows if name in tables else 0 for name in ("MPR", "FTR")}
        seen |= {name for name, n in counts.items() if n}
        if view.num_rows and view["part_index"].null_count:
            seen.add("records outside parts")
        if len(set(view["site"].to_pylist())) > 1:
            seen.add("several sites")
    assert seen == {"MPR", "FTR", "records outside parts", "several sites"}
