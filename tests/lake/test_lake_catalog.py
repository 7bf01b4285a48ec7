"""The catalog on SQLite and PostgreSQL: migrations, recording files once, quarantine, lots."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from silicio.lake import INGESTED, QUARANTINED, SKIPPED, Catalog, CatalogEntry, ingest
from silicio.lake.catalog import metadata
from silicio.stdf import read
from silicio.stdf.parts import part_yield, parts


def _file_row(**overrides) -> dict:
    row = {
        "tester_type": "V93000", "node": "node07",
        "program": "adc12_ws", "revision": "r3.1", "operator": "op1", "test_code": "WS1",
        "started": datetime(2024, 5, 1, 8, 0, tzinfo=UTC), "finished": datetime(2024, 5, 1, 9, 0, tzinfo=UTC),
        "product": "SIL-ADC-12", "lot": "LOT4711", "sublot": "S01", "stage": "wafer_sort", "wafers": 1,
        "records": 1000, "parts": 10, "good_parts": 9, "dies": 10, "first_pass_good": 9, "final_good": 9,
        "first_pass_yield": 0.9, "final_yield": 0.9, "partial": False, "issues": [],
    }  # fmt: skip
    row.update(overrides)
    return row


def test_migrations_build_the_schema_the_code_declares(catalog_url):
    with Catalog(catalog_url) as catalog:
        with catalog.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
            views = sa.inspect(connection).get_view_names()
        assert "lots" in views
        catalog.upgrade()  # already at head: nothing to do, nothing fails


def test_a_file_is_recorded_once_with_its_records_and_wafers(catalog_url):
    entry = CatalogEntry(
        "ab" * 32, "/incoming/lot4711_w01.stdf", 123456, "stdf", file=_file_row(),
        details={"stdf_version": "V4", "byte_order": "little-endian"},
        records={"PTR": 900, "PRR": 10, "PIR": 10}, wafers=[{
            "wafer_id": "W01", "parts": 10, "good_parts": 9, "dies": 10, "first_pass_good": 9, "final_good": 9,
            "first_pass_yield": 0.9, "final_yield": 0.9}],
    )  # fmt: skip
    with Catalog(catalog_url) as catalog:
        assert catalog.add(entry) is None
        again = catalog.add(CatalogEntry("ab" * 32, "/elsewhere/copy.stdf", 123456, "stdf", file=_file_row()))
        assert again is not None and again.path == "/incoming/lot4711_w01.stdf" and not again.quarantined
        (row,) = catalog.rows("files")
        assert row["lot"] == "LOT4711" and row["started"] == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
        assert row["issues"] == [] and row["partial"] is False and row["source"] == "stdf"
        (stdf,) = catalog.rows("stdf_files")
        assert (stdf["file_id"], stdf["stdf_version"], stdf["byte_order"]) == (row["id"], "V4", "little-endian")
        records = {r["record_type"]: r["count"] for r in catalog.rows("file_records")}
        assert records == {"PTR": 900, "PRR": 10, "PIR": 10}
        (wafer,) = catalog.rows("wafers")
        assert wafer["wafer_id"] == "W01" and wafer["file_id"] == row["id"]
        (lot,) = catalog.rows("lots")
        assert (lot["product"], lot["lot"], lot["stage"], lot["files"], lot["parts"]) == (
            "SIL-ADC-12", "LOT4711", "wafer_sort", 1, 10)  # fmt: skip
        assert catalog.sha256s() == {"ab" * 32}


def test_an_unreadable_file_is_quarantined_without_a_file_row(catalog_url):
    quarantine = {"offset": 0, "record": None, "reason": "not an STDF file", "issues": 1}
    with Catalog(catalog_url) as catalog:
        assert (
            catalog.add(CatalogEntry("cd" * 32, "/incoming/notes.txt", 42, None, file=None, quarantine=quarantine))
            is None
        )
        assert catalog.rows("files") == []
        (row,) = catalog.rows("quarantine")
        assert (row["path"], row["salvaged"], row["file_id"], row["reason"], row["source"]) == (
            "/incoming/notes.txt", False, None, "not an STDF file", None)  # fmt: skip
        known = catalog.known("cd" * 32)
        assert known is not None and known.quarantined
        assert catalog.sha256s() == set()  # no data in the lake to keep


def test_ingest_into_either_database(catalog_url, tmp_path, small_files, snapshot):
    first, second = small_files(11), small_files(12)
    garbage = tmp_path / "garbage.stdf"
    garbage.write_bytes(b"this is a text file, not tester data\n" * 10)
    data = tmp_path / "lake"
    report = ingest([first, second, garbage], data, database_url=catalog_url, workers=1)
    assert [o.status for o in report.outcomes] == [INGESTED, INGESTED, QUARANTINED]
    with Catalog(catalog_url) as catalog:
        rows = {row["path"]: row for row in catalog.rows("files")}
        for path in (first, second):
            expected = part_yield(parts(read(path)))
            row = rows[str(path)]
            assert (row["dies"], row["first_pass_good"], row["final_good"]) == (
                expected.dies, expected.first_pass_good, expected.final_good)  # fmt: skip
            assert row["final_yield"] == pytest.approx(expected.final_yield)
        (q,) = catalog.rows("quarantine")
        assert q["path"] == str(garbage) and "not an STDF file" in q["reason"]
    before = snapshot(data, catalog_url)
    again = ingest([first, second, garbage], data, database_url=catalog_url, workers=1)
    assert [o.status for o in again.outcomes] == [SKIPPED] * 3
    after = snapshot(data, catalog_url)
    assert after["files"] == before["files"] and after["quarantine"] == before["quarantine"]
    assert sorted(after["parquet"]) == sorted(before["parquet"])
