"""What the screening reads of a lake (:func:`silicio.lake.queries.screening_inputs`): a lot in two
files, the later-tested one written (and listed) first, dies retested in it with fewer tests, and
a result outside any part in each file. The rows come in test order with each die's part
columns and its last insertion across the files; the expected rows are built from what is
written here, and the same rows also come from the lot's own query (:func:`lot_tidy`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from silicio import lake
from silicio.lake import queries
from silicio.stdf.writer import StdfWriter

PRODUCT, LOT, WAFER = "SI-DEV", "SILOT1", "SI-W1"
FIRST_START, RETEST_START = 1_700_000_000, 1_700_003_600
LIMITS = {7001: (0.0, 5.0), 7002: (0.0, 10.0)}
# (x, y) -> results by test: the first file's dies, then the retest of two of them (one test only).
FIRST = {
    (x, y): {7001: 1.0 + 0.25 * (3 * y + x), 7002: 2.0 + 0.5 * (3 * y + x)}
    for y in range(2)
    for x in range(3)
}
RETEST = {(1, 0): {7001: 1.75}, (2, 1): {7001: 2.5}}
STRAY = {FIRST_START: 9.5, RETEST_START: 8.5}  # a result outside any part, per file
COLUMNS = [
    "lot_id",
    "wafer_id",
    "part_id",
    "x",
    "y",
    "test_num",
    "result",
    "hard_bin",
    "part_passed",
    "is_last_test",
]


def write_file(path: Path, started: int, dies: dict[tuple[int, int], dict[int, float]]) -> None:
    with StdfWriter(path) as out:
        out.record("MIR", SETUP_T=started - 60, START_T=started, STAT_NUM=1, LOT_ID=LOT, PART_TYP=PRODUCT,
                   TEST_COD="WS1")  # fmt: skip
        out.record("WIR", HEAD_NUM=1, SITE_GRP=255, START_T=started, WAFER_ID=WAFER)
        ptr = {"HEAD_NUM": 1, "SITE_NUM": 1, "PARM_FLG": 0xC0, "ALARM_ID": "", "OPT_FLAG": 0x0E, "RES_SCAL": 0,
               "LLM_SCAL": 0, "HLM_SCAL": 0, "UNITS": "V"}  # fmt: skip
        out.record("PTR", TEST_NUM=7003, TEST_FLG=0, RESULT=STRAY[started], TEST_TXT="T7003", LO_LIMIT=0.0,
                   HI_LIMIT=10.0, **ptr)  # fmt: skip
        for (x, y), results in dies.items():
            out.record("PIR", HEAD_NUM=1, SITE_NUM=1)
            for number, value in results.items():
                out.record("PTR", TEST_NUM=number, TEST_FLG=0, RESULT=value, TEST_TXT=f"T{number}",
                           LO_LIMIT=LIMITS[number][0], HI_LIMIT=LIMITS[number][1], **ptr)  # fmt: skip
            out.record("PRR", HEAD_NUM=1, SITE_NUM=1, PART_FLG=0, NUM_TEST=len(results), HARD_BIN=1, SOFT_BIN=1,
                       X_COORD=x, Y_COORD=y, PART_ID=f"{x}.{y}")  # fmt: skip
        out.record(
            "WRR", HEAD_NUM=1, SITE_GRP=255, FINISH_T=started + 600, PART_CNT=len(dies), WAFER_ID=WAFER
        )
        out.record("MRR", FINISH_T=started + 600)


@pytest.fixture(scope="module")
def two_file_lake(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("screening-inputs-stdf")
    # the retest file is written (and listed) first: test order is by start time
    write_file(folder / "a_retest.stdf", RETEST_START, RETEST)
    write_file(folder / "b_first.stdf", FIRST_START, FIRST)
    data = tmp_path_factory.mktemp("screening-inputs") / "data"
    assert lake.ingest([folder], data, workers=1).ok
    return data


def expected_rows() -> list[tuple]:
    """The rows as written, in test order: each file's stray result, then its dies' results."""
    rows = []
    for dies, stray in ((FIRST, STRAY[FIRST_START]), (RETEST, STRAY[RETEST_START])):
        rows.append((LOT, WAFER, None, None, None, 7003, stray, None, None, None))
        for (x, y), results in dies.items():
            last = dies is RETEST or (x, y) not in RETEST
            rows += [(LOT, WAFER, f"{x}.{y}", x, y, number, float(np.float32(value)), 1, True, last)
                     for number, value in results.items()]  # fmt: skip
    return rows


def test_rows_in_test_order_with_the_parts_columns_and_the_last_insertion(two_file_lake):
    with lake.open(two_file_lake) as db:
        tidy, parts = queries.screening_inputs(db, PRODUCT, COLUMNS, "wafer_sort")
    assert pl.from_arrow(tidy).rows() == expected_rows()
    final = pl.from_arrow(parts).filter(pl.col("is_last_test")).sort("x", "y")
    assert final.select("x", "y").rows() == sorted({**FIRST, **RETEST})


def test_rows_equal_the_lots_own_query(two_file_lake):
    with lake.open(two_file_lake) as db:
        tidy, _ = queries.screening_inputs(db, PRODUCT, COLUMNS, "wafer_sort")
        lot = queries.lot_tidy(db, LOT, "wafer_sort").select(COLUMNS)
    assert pl.from_arrow(tidy).equals(pl.from_arrow(lot), null_equal=True)
