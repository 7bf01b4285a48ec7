"""The catalog on SQLite and PostgreSQL: migrations (and the upgrade of a catalog made by an
earlier revision), recording files once, quarantine, lots."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from silicio.lake import INGESTED, QUARANTINED, SKIPPED, Catalog, CatalogEntry, ingest
from silicio.lake.catalog import catalog_engine, metadata
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
        assert (stdf["file_id"], stdf["stdf_version"], stdf["byte_order"]) == (
            row["id"],
            "V4",
            "little-endian",
        )
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
            catalog.add(
                CatalogEntry("cd" * 32, "/incoming/notes.txt", 42, None, file=None, quarantine=quarantine)
            )
            is None
        )
        assert catalog.rows("files") == []
        (row,) = catalog.rows("quarantine")
        assert (row["path"], row["salvaged"], row["file_id"], row["reason"], row["source"]) == (
            "/incoming/notes.txt", False, None, "not an STDF file", None)  # fmt: skip
        known = catalog.known("cd" * 32)
        assert known is not None and known.quarantined
        assert catalog.sha256s() == set()  # no data in the lake to keep


def test_a_pooled_connection_is_not_taken_again_once_its_sqlite_database_was_made_again(tmp_path):
    """A catalog's pooled SQLite connection is to the file it opened: after a database made again at
    the path (a lake deleted and made anew), the catalog reads and writes the new one."""
    path = tmp_path / "catalog.sqlite"
    url = f"sqlite:///{path}"
    with Catalog(url) as kept:
        assert kept.add(CatalogEntry("ab" * 32, "/incoming/a.stdf", 1, "stdf", file=_file_row())) is None
        assert kept.engine.pool.checkedin() == 1
        path.unlink()
        with Catalog(url) as made_again:
            assert made_again.sha256s() == set()
        assert kept.add(CatalogEntry("cd" * 32, "/incoming/c.stdf", 1, "stdf", file=_file_row())) is None
        assert kept.sha256s() == {"cd" * 32}
    with Catalog(url) as own:
        assert own.sha256s() == {"cd" * 32}


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


def _migrate(url: str, direction: str, revision: str) -> None:
    """Run the catalog's migrations up or down to ``revision``, as ``alembic upgrade`` would."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "silicio.lake:migrations")
    engine = catalog_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)
    engine.dispose()


# A catalog as revision 0001 left it: every file read as STDF, version and byte order in ``files``.
_V1_FILES = [
    {"id": 1, "sha256": "a1" * 32, "path": "/in/lot1.stdf", "size": 1000,
     "ingested_at": datetime(2024, 5, 2, tzinfo=UTC), "stdf_version": "V4",
     "byte_order": "little-endian", "tester_type": "V93000", "node": "n1", "program": "p", "revision": "r1",
     "operator": "op", "test_code": "WS1", "started": datetime(2024, 5, 1, 8, tzinfo=UTC), "finished": None,
     "product": "P1", "lot": "L1", "sublot": None, "stage": "wafer_sort", "wafers": 1, "records": 50, "parts": 10,
     "good_parts": 9, "dies": 10, "first_pass_good": 9, "final_good": 9, "first_pass_yield": 0.9,
     "final_yield": 0.9, "partial": False, "issues": []},
    {"id": 2, "sha256": "b2" * 32, "path": "/in/lot2.stdf.gz", "size": 2000,
     "ingested_at": datetime(2024, 5, 2, tzinfo=UTC), "stdf_version": "V4-2007",
     "byte_order": "big-endian", "tester_type": None, "node": None, "program": None, "revision": None,
     "operator": None, "test_code": None, "started": None, "finished": None, "product": "P1", "lot": "L2",
     "sublot": None, "stage": "final_test", "wafers": 0, "records": 30, "parts": 4, "good_parts": 3, "dies": 4,
     "first_pass_good": 3, "final_good": 3, "first_pass_yield": 0.75, "final_yield": 0.75, "partial": True,
     "issues": [{"offset": 7, "record": "PTR", "reason": "cut"}]},
]  # fmt: skip


def test_upgrade_from_revision_0001_keeps_every_row(catalog_url):
    _migrate(catalog_url, "upgrade", "0001")
    engine = catalog_engine(catalog_url)
    v1 = sa.MetaData()
    v1.reflect(engine)
    with engine.begin() as connection:
        connection.execute(sa.insert(v1.tables["files"]), _V1_FILES)
        connection.execute(
            sa.insert(v1.tables["file_records"]),
            [
                {"file_id": 1, "record_type": "PTR", "count": 40},
                {"file_id": 2, "record_type": "PRR", "count": 4},
            ],
        )
        connection.execute(
            sa.insert(v1.tables["wafers"]),
            [
                {
                    "file_id": 1,
                    "wafer_id": "W1",
                    "parts": 10,
                    "good_parts": 9,
                    "dies": 10,
                    "first_pass_good": 9,
                    "final_good": 9,
                    "first_pass_yield": 0.9,
                    "final_yield": 0.9,
                }
            ],
        )
        at = datetime(2024, 5, 2, tzinfo=UTC)
        connection.execute(sa.insert(v1.tables["quarantine"]), [
            {"sha256": "b2" * 32, "path": "/in/lot2.stdf.gz", "size": 2000, "at": at, "offset": 7, "record": "PTR",
             "reason": "cut", "issues": 1, "salvaged": True, "file_id": 2},
            {"sha256": "c3" * 32, "path": "/in/notes.stdf", "size": 9, "at": at, "offset": 0, "record": None,
             "reason": "not an STDF file", "issues": 1, "salvaged": False, "file_id": None}])  # fmt: skip
    engine.dispose()

    with Catalog(catalog_url) as catalog:  # opening migrates to the head
        with catalog.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
        files = catalog.rows("files", order_by=["id"])
        moved = ("stdf_version", "byte_order")
        for got, before in zip(files, _V1_FILES, strict=True):
            expected = {k: v for k, v in before.items() if k not in moved}
            assert {k: got[k] for k in expected} == expected and got["source"] == "stdf"
        details = catalog.rows("stdf_files", order_by=["file_id"])
        assert [(d["file_id"], d["stdf_version"], d["byte_order"]) for d in details] == [
            (f["id"], f["stdf_version"], f["byte_order"]) for f in _V1_FILES]  # fmt: skip
        assert sorted((r["file_id"], r["record_type"], r["count"]) for r in catalog.rows("file_records")) == [
            (1, "PTR", 40), (2, "PRR", 4)]  # fmt: skip
        assert [(w["file_id"], w["wafer_id"]) for w in catalog.rows("wafers")] == [(1, "W1")]
        quarantine = catalog.rows("quarantine", order_by=["id"])
        assert [(q["sha256"], q["source"], q["file_id"]) for q in quarantine] == [
            ("b2" * 32, "stdf", 2), ("c3" * 32, "stdf", None)]  # fmt: skip
        lots = {(r["lot"], r["stage"]): (r["files"], r["parts"]) for r in catalog.rows("lots")}
        assert lots == {("L1", "wafer_sort"): (1, 10), ("L2", "final_test"): (1, 4)}

    _migrate(catalog_url, "downgrade", "0001")  # and back, the moved values with it
    engine = catalog_engine(catalog_url)
    with engine.connect() as connection:
        back = connection.execute(sa.text("SELECT id, stdf_version, byte_order FROM files ORDER BY id")).all()
        assert [tuple(r) for r in back] == [(f["id"], f["stdf_version"], f["byte_order"]) for f in _V1_FILES]
        assert "stdf_files" not in sa.inspect(connection).get_table_names()
    engine.dispose()
