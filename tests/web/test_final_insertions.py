"""A lot tested in two files, the retest of two dies in the second one and skipping a test: every
"final" number the lake gives (the test page, the lot page's worst tests, the SPC chart, the lot
statistics and the screening population of ``silicio holds``) is of each die's last insertion,
so the superseded first insertion of a retested die counts nowhere, also for the test its retest
did not run. The expected numbers come from the values written here."""

from __future__ import annotations

import shutil
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from fastapi.testclient import TestClient

from silicio import lake
from silicio.lake import queries
from silicio.stdf.writer import StdfWriter
from silicio.web import create_app
from silicio.yields.disposition import SCREENED_STAGE, default_recipe_path, screen_lake
from silicio.yields.recipe import load_recipe

from .conftest import signed_in

LOT, WAFER = "RTLOT1", "RT-W1"
BOTH, SKIPPED = 9101, 9102  # the retest runs BOTH, not SKIPPED
LIMITS = {BOTH: (0.0, 5.0), SKIPPED: (0.0, 10.0)}
FIRST_START, RETEST_START = 1_700_000_000, 1_700_003_600


@dataclass(frozen=True)
class Insertion:
    """One test of a die as written: its coordinates and results by test number."""

    x: int
    y: int
    results: dict[int, float]

    @property
    def passed(self) -> bool:
        return all(LIMITS[n][0] <= v <= LIMITS[n][1] for n, v in self.results.items())


# First file: eight dies, (1, 0) fails SKIPPED; (2, 1) passes but is re-probed all the same.
FIRST = [
    Insertion(
        x, y, {BOTH: 1.0 + 0.1 * (4 * y + x), SKIPPED: 12.0 if (x, y) == (1, 0) else 2.0 + 0.3 * (4 * y + x)}
    )
    for y in range(2)
    for x in range(4)
]
# Retest file: both dies again, only BOTH run, both pass.
RETEST = [Insertion(1, 0, {BOTH: 1.55}), Insertion(2, 1, {BOTH: 1.65})]
RETESTED = {(i.x, i.y) for i in RETEST}
# Another product's lot in two files whose parts have no die identity: none supersedes another.
ANONYMOUS_LOT, ANONYMOUS_PRODUCT = "NOIDLOT1", "NOID-DEV"
ANONYMOUS = ([2.1, 2.2], [2.3, 2.4])


def final_insertions() -> list[Insertion]:
    """The insertions that are final, in test order: the first file's unretested dies, then the retests."""
    return [i for i in FIRST if (i.x, i.y) not in RETESTED] + RETEST


def final_values(test_num: int) -> list[float]:
    return [float(np.float32(i.results[test_num])) for i in final_insertions() if test_num in i.results]


def write_file(path: Path, product: str, started: int, insertions: list[Insertion]) -> Path:
    with StdfWriter(path) as out:
        out.record("MIR", SETUP_T=started - 60, START_T=started, STAT_NUM=1, LOT_ID=LOT, PART_TYP=product,
                   NODE_NAM="rt-tester", JOB_NAM="RT_PROG", TEST_COD="WS1")  # fmt: skip
        out.record("WIR", HEAD_NUM=1, SITE_GRP=255, START_T=started, WAFER_ID=WAFER)
        for insertion in insertions:
            out.record("PIR", HEAD_NUM=1, SITE_NUM=1)
            for number, value in insertion.results.items():
                lo, hi = LIMITS[number]
                failed = not lo <= value <= hi
                out.record("PTR", TEST_NUM=number, HEAD_NUM=1, SITE_NUM=1, TEST_FLG=0x80 if failed else 0,
                           PARM_FLG=0xC0 | (0x08 if value > hi else 0), RESULT=value, TEST_TXT=f"T{number}",
                           ALARM_ID="", OPT_FLAG=0x0E, RES_SCAL=0, LLM_SCAL=0, HLM_SCAL=0, LO_LIMIT=lo,
                           HI_LIMIT=hi, UNITS="V")  # fmt: skip
            out.record("PRR", HEAD_NUM=1, SITE_NUM=1, PART_FLG=0 if insertion.passed else 0x08,
                       NUM_TEST=len(insertion.results), HARD_BIN=1 if insertion.passed else 5,
                       SOFT_BIN=1 if insertion.passed else 5, X_COORD=insertion.x, Y_COORD=insertion.y,
                       PART_ID=f"{insertion.x}.{insertion.y}")  # fmt: skip
        out.record("WRR", HEAD_NUM=1, SITE_GRP=255, FINISH_T=started + 600, PART_CNT=len(insertions),
                   WAFER_ID=WAFER)  # fmt: skip
        out.record("MRR", FINISH_T=started + 600)
    return path


@pytest.fixture(scope="module")
def retest_lake(tmp_path_factory, data_dir) -> tuple[Path, str]:
    """The dashboard tests' demo lake (seven lots of one product) with the two-file lot added to
    that product, so its screening (>= 6 lots) reads the lot too: (data directory, product)."""
    copy = tmp_path_factory.mktemp("retest-lake") / "data"
    shutil.copytree(data_dir, copy)
    with lake.open(copy) as db:
        (product,) = set(queries.lot_index(db)["product"].to_list())
    folder = tmp_path_factory.mktemp("retest-stdf")
    # the retest file is written (and so listed) first: test order is by start time
    write_file(folder / "a_retest.stdf", product, RETEST_START, RETEST)
    write_file(folder / "b_first.stdf", product, FIRST_START, FIRST)
    write_anonymous_parts(folder / "c_anonymous_1.stdf", FIRST_START, ANONYMOUS[0])
    write_anonymous_parts(folder / "d_anonymous_2.stdf", RETEST_START, ANONYMOUS[1])
    lake.ingest([folder], copy, workers=1)
    return copy, product


def write_anonymous_parts(path: Path, started: int, results: list[float]) -> Path:
    """Parts outside any wafer with neither coordinates nor PART_ID: each is a die of its own."""
    with StdfWriter(path) as out:
        out.record("MIR", SETUP_T=started - 60, START_T=started, STAT_NUM=1, LOT_ID=ANONYMOUS_LOT,
                   PART_TYP=ANONYMOUS_PRODUCT, TEST_COD="WS1")  # fmt: skip
        lo, hi = LIMITS[BOTH]
        for value in results:
            out.record("PIR", HEAD_NUM=1, SITE_NUM=1)
            out.record("PTR", TEST_NUM=BOTH, HEAD_NUM=1, SITE_NUM=1, TEST_FLG=0, PARM_FLG=0xC0, RESULT=value,
                       TEST_TXT=f"T{BOTH}", ALARM_ID="", OPT_FLAG=0x0E, RES_SCAL=0, LLM_SCAL=0, HLM_SCAL=0,
                       LO_LIMIT=lo, HI_LIMIT=hi, UNITS="V")  # fmt: skip
            out.record("PRR", HEAD_NUM=1, SITE_NUM=1, PART_FLG=0, NUM_TEST=1, HARD_BIN=1, SOFT_BIN=1,
                       X_COORD=-32768, Y_COORD=-32768, PART_ID="")  # fmt: skip
        out.record("MRR", FINISH_T=started + 600)
    return path


@pytest.fixture(scope="module")
def retest_client(retest_lake, settings):
    with TestClient(create_app(retest_lake[0], settings=settings)) as client:
        signed_in(client)
        yield client


def test_the_lot_is_two_files_of_the_product(retest_lake):
    data, product = retest_lake
    with lake.open(data) as db:
        rows = queries.lot_index(db).filter(pl.col("lot") == LOT).to_dicts()
        assert [(r["product"], r["stage"], r["files"]) for r in rows] == [(product, SCREENED_STAGE, 2)]
        # each file on its own still calls its insertion of a retested die final
        per_file = db.rows("SELECT count(*) FROM tidy WHERE lot_id = ? AND test_num = ? AND is_last_test",
                           [LOT, SKIPPED])  # fmt: skip
        assert per_file == [(len(FIRST),)]
        # across the lot's files: the first file's insertions of the retested dies are superseded
        parts = queries.lot_parts(db, LOT, SCREENED_STAGE).to_pylist()
    assert [((p["x"], p["y"]), p["is_first_test"], p["is_last_test"]) for p in parts] == [
        ((i.x, i.y), True, (i.x, i.y) not in RETESTED) for i in FIRST
    ] + [((i.x, i.y), False, True) for i in RETEST]


def test_the_test_page_counts_the_last_insertions_only(retest_client, retest_lake):
    product = retest_lake[1]
    values = final_values(SKIPPED)
    assert len(values) == len(FIRST) - len(RETEST)
    page = retest_client.get(f"/api/test/{SKIPPED}", params={"product": product}).json()
    assert page["count"] == len(values)
    assert page["mean"] == pytest.approx(statistics.mean(values))
    assert page["std"] == pytest.approx(statistics.stdev(values))
    assert sum(page["histogram"]["counts"]) == len(values)
    (lot,) = [row for row in page["lots"] if row["lot_id"] == LOT]
    assert (lot["count"], lot["fail_count"]) == (len(values), 0)  # the failing first insertion is superseded
    assert lot["median"] == pytest.approx(statistics.median(values))

    both = retest_client.get(f"/api/test/{BOTH}", params={"product": product}).json()
    assert both["count"] == len(FIRST)
    assert both["mean"] == pytest.approx(statistics.mean(final_values(BOTH)))


def test_the_lot_pages_worst_tests_are_of_the_last_insertions(retest_client):
    page = retest_client.get(f"/api/lot/{LOT}").json()
    worst = {row["test_num"]: row for row in page["worst_tests"]}
    assert (worst[SKIPPED]["count"], worst[SKIPPED]["fail_count"]) == (len(FIRST) - len(RETEST), 0)
    assert worst[SKIPPED]["mean"] == pytest.approx(statistics.mean(final_values(SKIPPED)))
    assert (worst[BOTH]["count"], worst[BOTH]["fail_count"]) == (len(FIRST), 0)
    assert worst[BOTH]["mean"] == pytest.approx(statistics.mean(final_values(BOTH)))
    total = page["total"]
    assert (total["tested"], total["retests"], total["first_pass_dies"], total["first_pass_good"],
            total["final_good"]) == (len(FIRST) + len(RETEST), len(RETEST), len(FIRST),
                                     sum(i.passed for i in FIRST), len(FIRST))  # fmt: skip

    wafer = retest_client.get(f"/api/lot/{LOT}/wafer/{WAFER}", params={"test": SKIPPED}).json()
    (stats,) = wafer["test_statistics"]
    assert (stats["count"], stats["fail_count"]) == (len(FIRST) - len(RETEST), 0)
    mapped = {(x, y) for x, y in zip(wafer["parametric_map"]["x"], wafer["parametric_map"]["y"], strict=True)}
    assert mapped == {(i.x, i.y) for i in FIRST} - RETESTED  # the retested dies have no final SKIPPED result


def test_the_spc_chart_plots_the_last_insertions(retest_client, retest_lake):
    values = final_values(BOTH)
    page = retest_client.get(
        f"/api/spc/test/{BOTH}", params={"chart": "imr", "product": retest_lake[1], "baseline": 4}
    ).json()
    assert [p["value"] for p in page["points"]] == pytest.approx(values)
    skipped = retest_client.get(
        f"/api/spc/test/{SKIPPED}", params={"chart": "imr", "product": retest_lake[1], "baseline": 4}
    )
    assert [p["value"] for p in skipped.json()["points"]] == pytest.approx(final_values(SKIPPED))


def test_holds_screening_and_lot_statistics_read_the_last_insertions(retest_lake):
    data, product = retest_lake
    with lake.open(data) as db:
        screening = screen_lake(db, load_recipe(default_recipe_path()), products=[product])
    result = screening.results[product]
    static = pl.from_arrow(result.static_limits).filter(pl.col("test_num").is_in([BOTH, SKIPPED]))
    # the population: the final result of each passing die (all final insertions pass)
    assert dict(static.select("test_num", "n_parts").iter_rows()) == {
        BOTH: len(final_values(BOTH)), SKIPPED: len(final_values(SKIPPED))}  # fmt: skip
    summary = pl.from_arrow(result.yield_summary).filter(pl.col("lot_id") == LOT).row(0, named=True)
    assert (summary["n_parts"], summary["good_before"]) == (len(FIRST), len(FIRST))

    (row,) = screening.lot_statistics.filter(
        (pl.col("lot_id") == LOT) & (pl.col("test_num") == SKIPPED)
    ).to_dicts()
    values = final_values(SKIPPED)
    assert (row["q1"], row["median"], row["q3"]) == pytest.approx(
        (np.percentile(values, 25), np.median(values), np.percentile(values, 75)))  # fmt: skip


def test_parts_without_a_die_identity_are_dies_of_their_own(retest_lake):
    data = retest_lake[0]
    with lake.open(data) as db:
        keys = db.rows("SELECT die_key FROM parts WHERE lot_id = ?", [ANONYMOUS_LOT])
        assert keys == [(None,)] * sum(map(len, ANONYMOUS))
        results = queries.test_results(db, BOTH, ANONYMOUS_PRODUCT)
        statistics_rows = queries.lot_statistics(db).filter(pl.col("lot_id") == ANONYMOUS_LOT).to_dicts()
    expected = [float(np.float32(v)) for values in ANONYMOUS for v in values]
    assert results.filter(pl.col("is_last_test"))["result"].to_list() == pytest.approx(expected)
    (row,) = statistics_rows
    assert row["median"] == pytest.approx(np.median(expected))


@pytest.mark.parametrize("quartiles_in_reader", [True, False])
def test_lot_statistics_come_in_key_order(retest_lake, monkeypatch, quartiles_in_reader):
    """Lot statistics of the whole lake, from the query and from a screening (the screened
    product's rows taken in memory, the others read), come by product (none last), stage,
    lot and test, as Python sorts those keys: the same order every run, and the same values;
    whether the screening's reader thread or its screening thread takes the in-memory ones."""
    from silicio.yields import disposition

    monkeypatch.setattr(disposition, "_parallel_kernels_threadsafe", lambda: quartiles_in_reader)
    data = retest_lake[0]
    with lake.open(data) as db:
        screened = screen_lake(db, load_recipe(default_recipe_path())).lot_statistics
        queried = queries.lot_statistics(db)
    for frame in (screened, queried):
        keys = frame.select("product", "stage", "lot_id", "test_num").rows()
        assert {k[2] for k in keys} >= {LOT, ANONYMOUS_LOT}
        assert keys == sorted(keys, key=lambda k: (k[0] is None, k[0] or "", *k[1:]))
    assert (
        screened.select("product", "stage", "lot_id", "test_num").rows()
        == queried.select("product", "stage", "lot_id", "test_num").rows()
    )
    assert screened.equals(queried)
