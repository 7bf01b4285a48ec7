"""Data sources as plugins: a CSV tester log source defined here, registered through an entry
point as an outside package would register it, ingested beside STDF files into one lake.

:class:`CsvLogSource`, :func:`write_csv_log` and :func:`register_csv_source` are meant for
other tests too (an end-to-end test registers the source, ingests a log, then screens it).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest

import silicio
from silicio.lake import INGESTED, QUARANTINED, SKIPPED, Catalog, LakeLayout, ingest
from silicio.lake.sources import (
    ENTRY_POINT_GROUP,
    DataSource,
    FileFacts,
    SourceData,
    SourceRegistryError,
    available_sources,
    source_for,
)
from silicio.stdf.parts import PARTS_SCHEMA
from silicio.stdf.tidy import TIDY_SCHEMA
from silicio.yields import yield_by

from .conftest import register_entry_point

# --------------------------------------------------------------------------------------------
# A CSV tester log: one row per part and test


CSV_COLUMNS = ["product", "lot", "wafer", "x", "y", "part_id", "test_num", "test_name", "units", "lo_limit",
               "hi_limit", "result", "bin"]  # fmt: skip
CSV_HEADER = ",".join(CSV_COLUMNS)
GOOD_BIN = 1


class CsvLogSource(DataSource):
    """CSV tester logs with the header :data:`CSV_HEADER`: one row per part and test; the rows
    of one part follow each other; a part passes when its bin is 1, a test when its result lies
    within its limits. A die (lot, wafer, x, y) tested again later in the file is a retest."""

    kind = "csv-log"
    suffixes = (".csv",)

    def matches(self, path: Path) -> bool:
        if not path.name.lower().endswith(".csv"):
            return False
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline().strip() == CSV_HEADER

    def read(self, path: Path, out, *, window_bytes: int) -> SourceData:
        rows = _parsed_rows(path)
        parts, tidy = _parts_and_tidy(rows)
        out.write("csv_log", pa.Table.from_pylist(rows))
        out.write("parts", parts)
        out.write("tidy", tidy)
        products = {r["product"] for r in rows}
        lots = {r["lot"] for r in rows}
        if len(products) > 1 or len(lots) > 1:
            raise ValueError(
                f"{path}: one product and one lot a file, got {sorted(products)} / {sorted(lots)}"
            )
        wafers = {r["wafer"] for r in rows if r["wafer"] is not None}
        facts = FileFacts(stage="wafer_sort" if wafers else "final_test", product=products.pop(),
                          lot=lots.pop(), wafers=len(wafers), records={"ROW": len(rows)})  # fmt: skip
        return SourceData(facts)


def _parsed_rows(path: Path) -> list[dict]:
    numbers = {"x": int, "y": int, "test_num": int, "bin": int, "lo_limit": float, "hi_limit": float,
               "result": float}  # fmt: skip
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            for name, kind in numbers.items():
                try:
                    row[name] = kind(row[name])
                except (TypeError, ValueError):
                    raise ValueError(f"{path}: row {line}: {name} {row[name]!r} is not a number") from None
            row["wafer"] = row["wafer"] or None
            rows.append(row)
    if not rows:
        raise ValueError(f"{path}: no rows after the header")
    return rows


def _die_key(lot: str, wafer: str | None, x: int, y: int) -> int:
    text = f"{lot}|{wafer}|{x}|{y}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little", signed=True)


def _parts_and_tidy(rows: list[dict]) -> tuple[pa.Table, pa.Table]:
    part_of_row, parts = [], []
    for seq, row in enumerate(rows):
        identity = (row["lot"], row["wafer"], row["x"], row["y"], row["part_id"])
        if not parts or parts[-1]["identity"] != identity:
            parts.append({"identity": identity, "seq": seq, "bin": row["bin"], "tests": 0,
                          "die": _die_key(row["lot"], row["wafer"], row["x"], row["y"])})  # fmt: skip
        parts[-1]["tests"] += 1
        part_of_row.append(len(parts) - 1)
    dies = [p["die"] for p in parts]
    first = [dies.index(d) == i for i, d in enumerate(dies)]
    last = [len(dies) - 1 - dies[::-1].index(d) == i for i, d in enumerate(dies)]

    def identity(p: dict) -> dict:
        lot, wafer, x, y, part_id = p["identity"]
        return {"lot_id": lot, "sublot_id": None, "wafer_id": wafer, "head": None, "site": None,
                "part_index": parts.index(p), "part_id": part_id, "x": x, "y": y}  # fmt: skip

    parts_rows = [{**identity(p), "hard_bin": p["bin"], "soft_bin": p["bin"], "passed": p["bin"] == GOOD_BIN,
                   "test_t": None, "num_tests": p["tests"], "die_key": p["die"], "is_first_test": first[i],
                   "is_last_test": last[i], "seq": p["seq"]} for i, p in enumerate(parts)]  # fmt: skip
    executions = [(dies[part_of_row[i]], row["test_num"]) for i, row in enumerate(rows)]
    tidy_rows = []
    for i, row in enumerate(rows):
        p = parts[part_of_row[i]]
        tidy_rows.append({**identity(p), "test_num": row["test_num"], "test_name": row["test_name"],
                          "test_type": "P", "pin": None, "result": row["result"], "units": row["units"],
                          "lo_limit": row["lo_limit"], "hi_limit": row["hi_limit"], "res_scal": None,
                          "test_flg": None, "parm_flg": None,
                          "passed": row["lo_limit"] <= row["result"] <= row["hi_limit"],
                          "hard_bin": p["bin"], "soft_bin": p["bin"], "part_passed": p["bin"] == GOOD_BIN,
                          "is_last_test": executions[i] not in executions[i + 1 :], "seq": i})  # fmt: skip
    return pa.Table.from_pylist(parts_rows, PARTS_SCHEMA), pa.Table.from_pylist(tidy_rows, TIDY_SCHEMA)


class LateCsvLogSource(CsvLogSource):
    """The same files under a kind named after ``csv-log``: never chosen while that one is there."""

    kind = "zz-log"


def register_csv_source(monkeypatch, folder: Path) -> None:
    """Register :class:`CsvLogSource` as the entry point ``csv-log`` of ``silicio.sources``, as an
    installed package would, for the test that calls it (``folder``: where its metadata goes)."""
    register_entry_point(monkeypatch, folder, ENTRY_POINT_GROUP, CsvLogSource.kind,
                         f"{CsvLogSource.__module__}:{CsvLogSource.__qualname__}")  # fmt: skip


@dataclass(frozen=True)
class Part:
    """One tested part of a log, as the test writes it: its die, bin and two test results."""

    wafer: str
    x: int
    y: int
    part_id: str
    bin: int
    leakage: float  # test 100, limits 0 .. 10 uA
    vref: float  # test 200, limits 1.1 .. 1.3 V


TESTS = ((100, "leakage", "uA", 0.0, 10.0), (200, "vref", "V", 1.1, 1.3))
PRODUCT, LOT = "CSV-DEV", "CSVLOT1"
# Wafer W01: four dies, (0, 1) fails and passes on retest at the end; W02: two dies.
PARTS = [
    Part("W01", 0, 0, "1", 1, 2.5, 1.20),
    Part("W01", 1, 0, "2", 5, 12.0, 1.21),
    Part("W01", 0, 1, "3", 5, 3.0, 1.40),
    Part("W01", 1, 1, "4", 1, 4.0, 1.19),
    Part("W02", 0, 0, "5", 1, 1.0, 1.25),
    Part("W02", 1, 0, "6", 7, 11.5, 1.05),
    Part("W01", 0, 1, "7", 1, 3.5, 1.22),
]


def write_csv_log(path: Path, parts: list[Part] = PARTS, product: str = PRODUCT, lot: str = LOT) -> Path:
    """A CSV tester log of ``parts``, two tests each (:data:`TESTS`)."""
    lines = [CSV_HEADER]
    for p in parts:
        for (number, name, units, lo, hi), result in zip(TESTS, (p.leakage, p.vref), strict=True):
            lines.append(f"{product},{lot},{p.wafer},{p.x},{p.y},{p.part_id},{number},{name},{units},{lo},{hi},"
                         f"{result},{p.bin}")  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------------------------
# Tests


def test_a_csv_log_and_stdf_files_make_one_lake(monkeypatch, tmp_path, small_files):
    register_csv_source(monkeypatch, tmp_path / "plugins")
    log = write_csv_log(tmp_path / "csvlot1.csv")
    stdf = small_files(71)
    notes = tmp_path / "notes.txt"
    notes.write_text("nothing any source reads\n")
    data = tmp_path / "lake"
    # two worker processes: the plugin source travels to them
    report = ingest([log, stdf, notes], data, workers=2)
    assert [(o.status, o.source) for o in report.outcomes] == [
        (INGESTED, "csv-log"), (INGESTED, "stdf"), (QUARANTINED, None)]  # fmt: skip
    assert report.outcomes[0].records == 2 * len(PARTS)

    with silicio.open(data) as lake:
        files = {row["path"]: row for row in lake.catalog.rows("files")}
        csv_row, stdf_row = files[str(log)], files[str(stdf)]
        assert (csv_row["source"], stdf_row["source"]) == ("csv-log", "stdf")
        # 7 parts on 6 dies; bin 1 on parts 1, 4, 5, 7; first tests of the dies: 1, 4, 5 good
        assert (csv_row["product"], csv_row["lot"], csv_row["stage"], csv_row["wafers"], csv_row["records"]) == (
            PRODUCT, LOT, "wafer_sort", 2, 14)  # fmt: skip
        assert (csv_row["parts"], csv_row["good_parts"], csv_row["dies"], csv_row["first_pass_good"],
                csv_row["final_good"]) == (7, 4, 6, 3, 4)  # fmt: skip
        assert csv_row["final_yield"] == pytest.approx(4 / 6) and csv_row["partial"] is False
        # STDF's own facts are in stdf_files, a view of the lake like the other catalog tables
        kinds = lake.rows("SELECT f.source, s.stdf_version, s.byte_order FROM files f "
                          "LEFT JOIN stdf_files s ON s.file_id = f.id ORDER BY f.source")  # fmt: skip
        assert kinds == [("csv-log", None, None), ("stdf", "V4", "little-endian")]
        wafers = {w["wafer_id"]: w for w in lake.catalog.rows("wafers") if w["file_id"] == csv_row["id"]}
        assert {k: (w["parts"], w["good_parts"], w["dies"], w["final_good"]) for k, w in wafers.items()} == {
            "W01": (5, 3, 4, 3), "W02": (2, 1, 2, 1)}  # fmt: skip
        (q,) = lake.catalog.rows("quarantine")
        assert (q["path"], q["source"], q["salvaged"]) == (str(notes), None, False)
        assert "no data source reads this file" in q["reason"] and "csv-log, klarf, stdf" in q["reason"]

        sha = csv_row["sha256"]
        got_parts = lake.arrow("SELECT * FROM parts WHERE file_sha256 = ? ORDER BY part_index", [sha])
        assert [(r["product"], r["lot"], r["stage"]) for r in got_parts.to_pylist()] == [
            (PRODUCT, LOT, "wafer_sort")] * len(PARTS)  # fmt: skip
        assert [(r["wafer_id"], r["x"], r["y"], r["part_id"], r["hard_bin"], r["passed"])
                for r in got_parts.to_pylist()] == [
            (p.wafer, p.x, p.y, p.part_id, p.bin, p.bin == 1) for p in PARTS]  # fmt: skip
        tidy = lake.arrow(
            "SELECT part_id, test_num, test_name, units, result, lo_limit, hi_limit, passed, part_passed "
            "FROM tidy WHERE file_sha256 = ? ORDER BY seq", [sha]).to_pylist()  # fmt: skip
        expected = [
            {"part_id": p.part_id, "test_num": n, "test_name": name, "units": units, "result": result,
             "lo_limit": lo, "hi_limit": hi, "passed": lo <= result <= hi, "part_passed": p.bin == 1}
            for p in PARTS for (n, name, units, lo, hi), result in zip(TESTS, (p.leakage, p.vref), strict=True)
        ]  # fmt: skip
        assert tidy == expected
        assert lake.rows("SELECT count(*) FROM csv_log")[0][0] == 2 * len(PARTS)  # the source's own table
        # the STDF file's parts are in the same view, untouched
        stdf_parts = lake.rows("SELECT count(*) FROM parts WHERE file_sha256 = ?", [stdf_row["sha256"]])[0][0]
        assert stdf_parts == stdf_row["parts"] > 0

    by_wafer = {r["wafer_id"]: r for r in yield_by(got_parts, ["lot_id", "wafer_id"]).to_pylist()}
    # W01: first tests of dies (0,0) pass, (1,0) fail, (0,1) fail, (1,1) pass; the retest of (0,1) passes
    assert {w: (r["first_pass_dies"], r["first_pass_good"], r["final_dies"], r["final_good"], r["retests"])
            for w, r in by_wafer.items()} == {"W01": (4, 2, 4, 3, 1), "W02": (2, 1, 2, 1, 0)}  # fmt: skip
    assert by_wafer["W01"]["first_pass_yield"] == pytest.approx(0.5)
    assert by_wafer["W01"]["final_yield"] == pytest.approx(0.75)
    assert by_wafer["W02"]["final_yield"] == pytest.approx(0.5)

    again = ingest([log, stdf, notes], data, workers=1)
    assert [o.status for o in again.outcomes] == [SKIPPED] * 3


def test_without_the_entry_point_a_csv_log_is_quarantined(tmp_path):
    log = write_csv_log(tmp_path / "csvlot1.csv")
    report = ingest([log], tmp_path / "lake", workers=1)
    (outcome,) = report.outcomes
    assert (outcome.status, outcome.source) == (QUARANTINED, None)
    assert "no data source reads this file" in outcome.issues[0].reason


def test_a_folder_is_searched_for_every_sources_names(monkeypatch, tmp_path, small_files):
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    write_csv_log(incoming / "a.csv")
    shutil.copyfile(small_files(72), incoming / "b.stdf")
    (incoming / "c.txt").write_text("ignored")
    register_csv_source(monkeypatch, tmp_path / "plugins")
    report = ingest([incoming], tmp_path / "lake", workers=1)
    assert [(Path(o.path).name, o.status, o.source) for o in report.outcomes] == [
        ("a.csv", INGESTED, "csv-log"), ("b.stdf", INGESTED, "stdf")]  # fmt: skip


def test_a_source_that_fails_quarantines_the_file_with_its_message(monkeypatch, tmp_path):
    register_csv_source(monkeypatch, tmp_path / "plugins")
    log = write_csv_log(tmp_path / "bad.csv")
    lines = log.read_text().splitlines()
    lines[3] = lines[3].replace(",12.0,", ",twelve,")  # part 2's leakage, file row 4
    log.write_text("\n".join(lines) + "\n")
    data = tmp_path / "lake"
    (outcome,) = ingest([log], data, workers=1).outcomes
    assert (outcome.status, outcome.source) == (QUARANTINED, "csv-log")
    with Catalog(LakeLayout.at(data).database_url()) as catalog:
        (q,) = catalog.rows("quarantine")
        assert catalog.rows("files") == []
    assert q["source"] == "csv-log" and q["salvaged"] is False
    assert (
        q["reason"]
        == f"data source 'csv-log' failed: ValueError: {log}: row 4: result 'twelve' is not a number"
    )
    assert list(LakeLayout.at(data).parquet_files()) == []  # what it wrote before failing is gone


def test_matching_order_is_kind_name_then_stdf(entry_point, tmp_path, small_files):
    # built in, whatever the metadata says
    assert [s.kind for s in available_sources()] == ["klarf", "stdf"]
    entry_point(ENTRY_POINT_GROUP, "zz-log", f"{__name__}:LateCsvLogSource")
    entry_point(ENTRY_POINT_GROUP, "csv-log", f"{__name__}:CsvLogSource")
    sources = available_sources()
    assert [s.kind for s in sources] == ["csv-log", "klarf", "zz-log", "stdf"]
    log = write_csv_log(tmp_path / "log.csv")
    assert source_for(log, sources).kind == "csv-log"
    other_csv = tmp_path / "other.csv"
    other_csv.write_text("a,b\n1,2\n")
    assert source_for(other_csv, sources) is None
    # STDF by name, by content under any name, compressed too
    stdf = small_files(73)
    renamed = tmp_path / "lot.dat"
    shutil.copyfile(stdf, renamed)
    packed = tmp_path / "lot.dat.gz"
    packed.write_bytes(gzip.compress(stdf.read_bytes()))
    text = tmp_path / "lot.gz"
    text.write_bytes(gzip.compress(b"not tester data\n"))
    assert [getattr(source_for(p, sources), "kind", None) for p in (stdf, renamed, packed, text)] == [
        "stdf", "stdf", "stdf", None]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("csv-log", "silicio_no_such_module:Source", "cannot load: ModuleNotFoundError"),
        ("csv-log", f"{__name__}:write_csv_log", "function is not a silicio.lake.sources.DataSource"),
        ("other", f"{__name__}:CsvLogSource", "must be named after the kind, 'csv-log'"),
    ],
)
def test_a_broken_registration_is_one_clear_error(entry_point, name, value, message):
    entry_point(ENTRY_POINT_GROUP, name, value)
    with pytest.raises(SourceRegistryError) as raised:
        available_sources()
    assert f"entry point {name} = {value!r}" in str(raised.value) and message in str(raised.value)
