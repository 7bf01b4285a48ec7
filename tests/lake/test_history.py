"""The lot history in the lake: seven lots of one product, six normal and the seventh at half
their yield, ingested from STDF files written here; limits from the earlier lots only, versions,
freezing, and the catalog's migration to revision 0003.

:func:`write_history_lot` and :data:`FAILS` are shared with tests/cli/test_limits.py.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from silicio import lake as silicio_lake
from silicio.lake.catalog import BaselineKey, Catalog, catalog_engine, metadata
from silicio.stdf.writer import StdfWriter

PRODUCT, PROGRAM, REVISION = "HX100-Q1", "HX100_WS", "2.0"
KEY = BaselineKey(PRODUCT, "wafer_sort", PROGRAM, REVISION)
FIRST_START = datetime(2025, 3, 3, 6, tzinfo=UTC)
SIDE = 10  # dies per side: 100 dies a wafer, 2 wafers a lot
PASS_BIN, BIN_HARD = 1, {10: 2, 20: 3, 30: 4}
TEST_NUM, TEST_NAME, LOW, HIGH = 100, "VREF", 1.1, 1.3

#: Failing dies per wafer and soft bin, lot by lot in test order: six lots near 90 % yield, the
#: seventh at half that, its extra fallout in bin 20.
FAILS: dict[str, list[dict[int, int]]] = {
    "HX0001": [{10: 3, 20: 4, 30: 2}, {10: 4, 20: 3, 30: 3}],
    "HX0002": [{10: 2, 20: 5, 30: 3}, {10: 3, 20: 4, 30: 2}],
    "HX0003": [{10: 4, 20: 3, 30: 4}, {10: 3, 20: 5, 30: 3}],
    "HX0004": [{10: 2, 20: 3, 30: 2}, {10: 3, 20: 3, 30: 2}],
    "HX0005": [{10: 3, 20: 6, 30: 3}, {10: 4, 20: 4, 30: 4}],
    "HX0006": [{10: 3, 20: 4, 30: 2}, {10: 2, 20: 4, 30: 3}],
    "HX0007": [{10: 4, 20: 48, 30: 3}, {10: 3, 20: 49, 30: 3}],
}
LOTS = list(FAILS)
DIES_PER_WAFER = SIDE * SIDE


def lot_start(lot: str) -> datetime:
    return FIRST_START + timedelta(days=LOTS.index(lot))


def lot_yield(lot: str) -> float:
    fails = sum(sum(w.values()) for w in FAILS[lot])
    return 1 - fails / (len(FAILS[lot]) * DIES_PER_WAFER)


def wafer_yield(lot: str, wafer: int) -> float:
    return 1 - sum(FAILS[lot][wafer].values()) / DIES_PER_WAFER


def bin_fallout(lot: str, bin_number: int) -> float:
    return sum(w.get(bin_number, 0) for w in FAILS[lot]) / (len(FAILS[lot]) * DIES_PER_WAFER)


def wafer_id(lot: str, wafer: int) -> str:
    return f"{lot}-{wafer + 1:02d}"


def write_history_lot(path: Path, lot: str, *, retest_bin: int | None = None, name: str | None = None,
                      started: datetime | None = None) -> Path:  # fmt: skip
    """Lot ``lot`` of :data:`FAILS` as a wafer-sort STDF file: each wafer's first dies fail into
    its bins, one parametric test (VREF) on every die. With ``retest_bin``, a retest file instead:
    the dies of that bin tested again an hour after the lot, all passing. ``name`` and ``started``
    write the same dies as another lot, tested then."""
    rng = np.random.default_rng(LOTS.index(lot) + (100 if retest_bin else 0))
    start = started or lot_start(lot) + (timedelta(hours=1) if retest_bin else timedelta())
    fails, lot = FAILS[lot], name or lot
    t0 = int(start.timestamp())
    with StdfWriter(path) as out:
        out.record("MIR", SETUP_T=t0 - 600, START_T=t0, STAT_NUM=1, MODE_COD="P", RTST_COD="Y" if retest_bin else "N",
                   LOT_ID=lot, PART_TYP=PRODUCT, NODE_NAM="t1", TSTR_TYP="93000", JOB_NAM=PROGRAM, JOB_REV=REVISION,
                   TEST_COD="WS1")  # fmt: skip
        limits_written = False
        for wafer, wafer_fails in enumerate(fails):
            bins = [b for b, n in sorted(wafer_fails.items()) for _ in range(n)]
            bins += [PASS_BIN] * (DIES_PER_WAFER - len(bins))
            out.record("WIR", HEAD_NUM=1, SITE_GRP=255, START_T=t0, WAFER_ID=wafer_id(lot, wafer))
            tested = good = 0
            for die, soft_bin in enumerate(bins):
                if retest_bin is not None:
                    if soft_bin != retest_bin:
                        continue
                    soft_bin = PASS_BIN
                x, y = die % SIDE, die // SIDE
                out.record("PIR", HEAD_NUM=1, SITE_NUM=1)
                value = float(rng.normal(1.2, 0.01))
                ptr = dict(TEST_NUM=TEST_NUM, HEAD_NUM=1, SITE_NUM=1, TEST_FLG=0, PARM_FLG=0xC0, RESULT=value,
                           TEST_TXT=TEST_NAME)  # fmt: skip
                if not limits_written:
                    ptr |= dict(ALARM_ID="", OPT_FLAG=0x0E, RES_SCAL=0, LLM_SCAL=0, HLM_SCAL=0, LO_LIMIT=LOW,
                                HI_LIMIT=HIGH, UNITS="V")  # fmt: skip
                    limits_written = True
                out.record("PTR", **ptr)
                passed = soft_bin == PASS_BIN
                out.record("PRR", HEAD_NUM=1, SITE_NUM=1, PART_FLG=0 if passed else 0x08, NUM_TEST=1,
                           HARD_BIN=1 if passed else BIN_HARD[soft_bin], SOFT_BIN=soft_bin, X_COORD=x, Y_COORD=y,
                           TEST_T=100, PART_ID=f"{wafer}-{die}")  # fmt: skip
                tested += 1
                good += passed
            out.record("WRR", HEAD_NUM=1, SITE_GRP=255, FINISH_T=t0 + 3600, PART_CNT=tested, GOOD_CNT=good,
                       WAFER_ID=wafer_id(lot, wafer))  # fmt: skip
        out.record("MRR", FINISH_T=t0 + 7200)
    return path


@pytest.fixture(scope="module")
def history_files(tmp_path_factory) -> dict[str, Path]:
    """The seven lots as STDF files (and a retest of lot HX0001's bin-10 dies)."""
    folder = tmp_path_factory.mktemp("history")
    files = {lot: write_history_lot(folder / f"{lot}.stdf", lot) for lot in LOTS}
    files["retest"] = write_history_lot(folder / "HX0001_retest.stdf", "HX0001", retest_bin=10)
    return files


def ingest(data: Path, paths: list[Path], database_url: str | None = None) -> None:
    report = silicio_lake.ingest([str(p) for p in paths], data, database_url=database_url, workers=1)
    assert report.ok and [o.status for o in report.outcomes] == [silicio_lake.INGESTED] * len(paths)


@pytest.fixture(scope="module")
def seven_lots(tmp_path_factory, history_files) -> Path:
    """A lake with the seven lots (no retest), SQLite catalog."""
    data = tmp_path_factory.mktemp("lake") / "data"
    ingest(data, [history_files[lot] for lot in LOTS])
    return data


# --- the queries ---------------------------------------------------------------------------------


def test_history_lots_are_the_lots_of_the_program_in_test_order(seven_lots):
    from silicio.lake.queries.history import history_lots

    with silicio_lake.open(seven_lots) as lake:
        lots = history_lots(lake, PRODUCT, "wafer_sort").to_pylist()
    assert [r["lot"] for r in lots] == LOTS
    assert {(r["product"], r["stage"], r["program"], r["revision"]) for r in lots} == {
        (PRODUCT, "wafer_sort", PROGRAM, REVISION)
    }
    assert [r["started"] for r in lots] == [lot_start(lot) for lot in LOTS]


def test_final_bin_counts_take_each_dies_last_insertion(tmp_path, history_files):
    from silicio.lake.queries.history import final_bin_counts

    data = tmp_path / "data"
    ingest(data, [history_files["HX0001"], history_files["retest"]])
    with silicio_lake.open(data) as lake:
        counts = final_bin_counts(lake, PRODUCT, "wafer_sort", ["HX0001"]).to_pylist()
    # By hand: the retest turned every bin-10 die into a pass, so bin 10 is gone.
    expected = {}
    for wafer, fails in enumerate(FAILS["HX0001"]):
        others = {b: n for b, n in fails.items() if b != 10}
        expected[(wafer_id("HX0001", wafer), PASS_BIN, True)] = DIES_PER_WAFER - sum(others.values())
        for b, n in others.items():
            expected[(wafer_id("HX0001", wafer), b, False)] = n
    assert {(r["wafer_id"], r["soft_bin"], r["passed"]): r["dies"] for r in counts} == expected


# --- judging the seventh lot -------------------------------------------------------------------------


def test_the_seventh_lot_is_flagged_by_limits_from_the_six_before_it(seven_lots):
    from silicio.yields.history import judge_lot_against_history

    with silicio_lake.open(seven_lots) as lake:
        flags = judge_lot_against_history(lake, PRODUCT, "wafer_sort", "HX0007").to_pylist()

    normal = LOTS[:6]
    yields = np.array([lot_yield(lot) for lot in normal])
    syl1 = yields.mean() - 3 * yields.std(ddof=1)
    syl2 = yields.mean() - 4 * yields.std(ddof=1)
    lot_flags = {(f["rule"][:3], f["bin"]): f for f in flags if f["scope"] == "lot"}
    syl = lot_flags[("SYL", None)]
    assert syl["rule"] == "SYL2" and syl["value"] == pytest.approx(lot_yield("HX0007"))
    assert syl["limit"] == pytest.approx(syl2) and lot_yield("HX0007") < syl2 < syl1
    assert syl["baseline_lots"] == normal and syl["baseline_version"] is None  # computed now, not stored
    assert (syl["parts"], syl["count"]) == (200, 90)

    fallout20 = np.array([bin_fallout(lot, 20) for lot in normal])
    sbl = lot_flags[("SBL", 20)]
    assert sbl["rule"] == "SBL2" and sbl["value"] == pytest.approx(bin_fallout("HX0007", 20))
    assert sbl["limit"] == pytest.approx(fallout20.mean() + 4 * fallout20.std(ddof=1))
    assert sbl["count"] == 48 + 49
    # Bins 10 and 30 stay within their limits: only yield and bin 20 are flagged at lot level.
    assert set(lot_flags) == {("SYL", None), ("SBL", 20)}

    # Per wafer, against the twelve wafers of the six lots.
    wafer_yields = np.array([wafer_yield(lot, w) for lot in normal for w in range(2)])
    wafer_syl2 = wafer_yields.mean() - 4 * wafer_yields.std(ddof=1)
    wafer_flags = {(f["wafer_id"], f["rule"]): f for f in flags if f["scope"] == "wafer" and f["bin"] is None}
    assert set(wafer_flags) == {(wafer_id("HX0007", 0), "SYL2"), (wafer_id("HX0007", 1), "SYL2")}
    assert wafer_flags[(wafer_id("HX0007", 0), "SYL2")]["limit"] == pytest.approx(wafer_syl2)
    assert wafer_flags[(wafer_id("HX0007", 0), "SYL2")]["n_values"] == 12


def test_judged_among_themselves_the_seventh_lot_cannot_be_flagged(seven_lots):
    """The old behaviour: SYL / SBL from the lots being judged, here all seven (aecq002)."""
    import polars as pl

    from silicio.yields.aecq002 import statistical_yield_analysis

    with silicio_lake.open(seven_lots) as lake:
        parts = lake.polars("SELECT lot_id, passed AS part_passed, soft_bin, hard_bin FROM parts")
    limits, flags = statistical_yield_analysis(parts)
    assert not any(f["rule"].startswith("SYL") for f in flags.to_pylist())

    yields = np.array([lot_yield(lot) for lot in LOTS])
    n = len(yields)
    z = (yields.mean() - yields.min()) / yields.std(ddof=1)
    # No lot lies more than (n - 1) / sqrt(n) sample sigmas from the mean: 2.27 for seven lots, below 3.
    assert z <= (n - 1) / math.sqrt(n) < 3
    assert (n - 1) / math.sqrt(n) == pytest.approx(2.2678, abs=1e-4)
    assert (6 - 1) / math.sqrt(6) == pytest.approx(2.0412, abs=1e-4)
    syl1 = pl.from_arrow(limits).filter(pl.col("kind") == "SYL")["limit1"][0]
    assert lot_yield("HX0007") > syl1


def test_a_lot_needs_six_earlier_lots_and_a_normal_lot_is_within_its_history(
    seven_lots, tmp_path, history_files
):
    from silicio.yields.history import NotEnoughHistory, history_baseline, judge_lot_against_history

    with silicio_lake.open(seven_lots) as lake:
        with pytest.raises(NotEnoughHistory, match="5 lot"):
            judge_lot_against_history(lake, PRODUCT, "wafer_sort", "HX0006")
        with pytest.raises(ValueError, match="no lot 'NOPE'"):
            judge_lot_against_history(lake, PRODUCT, "wafer_sort", "NOPE")
    # An eighth lot with HX0002's dies, a day after the seventh: judged against the seven before it.
    eighth = write_history_lot(tmp_path / "HX0008.stdf", "HX0002", name="HX0008",
                               started=lot_start("HX0007") + timedelta(days=1))  # fmt: skip
    data = tmp_path / "data"
    ingest(data, [*(history_files[lot] for lot in LOTS), eighth])
    with silicio_lake.open(data) as lake:
        assert history_baseline(lake, PRODUCT, "wafer_sort", "HX0008").lot_ids == LOTS
        flags = judge_lot_against_history(lake, PRODUCT, "wafer_sort", "HX0008")
    yields = np.array([lot_yield(lot) for lot in LOTS])
    assert lot_yield("HX0002") > yields.mean() - 3 * yields.std(ddof=1)
    assert flags.num_rows == 0


# --- versions in the catalog ------------------------------------------------------------------------


def test_update_twice_gives_versions_one_and_two_and_freeze_keeps_the_version(tmp_path, history_files):
    from silicio.yields.history import freeze_limits, judge_lot_against_history, update_limits

    data = tmp_path / "data"
    ingest(data, [history_files[lot] for lot in LOTS[:6]])
    first_day = datetime(2025, 4, 1, 12, tzinfo=UTC)
    with silicio_lake.open(data) as lake:
        [first] = update_limits(lake, PRODUCT, actor="alice", now=first_day)
        [second] = update_limits(lake, PRODUCT, actor="bob", now=first_day + timedelta(days=1))
        assert (first.key, first.version, list(first.lots)) == (KEY, 1, LOTS[:6])
        assert second.version == 2
        versions = lake.catalog.baseline_versions(KEY)
        assert [(v["version"], v["actor"]) for v in versions] == [(1, "alice"), (2, "bob")]
        assert versions[0]["review_by"] == date(2025, 4, 1) + timedelta(days=182)
        assert versions[0]["computed_at"] == first_day
        assert [lot["lot"] for lot in versions[1]["lots"]] == LOTS[:6]
        assert versions[1]["parameters"]["min_lots"] == 6
        syl = next(r for r in versions[1]["yield_limits"] if r["scope"] == "lot" and r["kind"] == "SYL")
        yields = np.array([lot_yield(lot) for lot in LOTS[:6]])
        assert syl["limit1"] == pytest.approx(yields.mean() - 3 * yields.std(ddof=1))
        pat = lake.catalog.baseline_pat_limits(versions[1]["id"])
        assert [(p["test_num"], p["n_lots"], p["skipped"]) for p in pat] == [(TEST_NUM, 6, False)]

        assert freeze_limits(lake, PRODUCT, "wafer_sort", actor="carol") == [(KEY, 2)]
        [kept] = update_limits(lake, PRODUCT, actor="dave", now=first_day + timedelta(days=2))
        assert kept.version is None and "frozen at version 2" in kept.notes[0]
        assert [v["version"] for v in lake.catalog.baseline_versions(KEY)] == [1, 2]

    # The seventh lot comes in: it is judged against the frozen version 2, its six lots before it.
    ingest(data, [history_files["HX0007"]])
    with silicio_lake.open(data) as lake:
        flags = judge_lot_against_history(lake, PRODUCT, "wafer_sort", "HX0007").to_pylist()
        assert {f["baseline_version"] for f in flags} == {2}
        assert "SYL2" in {f["rule"] for f in flags if f["scope"] == "lot"}
        [still] = update_limits(lake, PRODUCT, actor="dave")
        assert still.version is None
        assert freeze_limits(lake, PRODUCT, "wafer_sort", actor="carol", frozen=False) == [(KEY, 2)]
        [third] = update_limits(lake, PRODUCT, actor="erin", now=first_day + timedelta(days=3))
        assert third.version == 3 and list(third.lots) == LOTS
        events = lake.catalog.baseline_events(KEY)
        assert [(e["action"], e["actor"], e["version"]) for e in events] == [
            ("update", "alice", 1), ("update", "bob", 2), ("freeze", "carol", 2), ("unfreeze", "carol", 2),
            ("update", "erin", 3)]  # fmt: skip
        # Version 3 holds the seventh lot: the seventh is still judged against version 2, never itself.
        flags = judge_lot_against_history(lake, PRODUCT, "wafer_sort", "HX0007").to_pylist()
        assert {f["baseline_version"] for f in flags} == {2}
        # the versions as read in one statement: each version's own lots and limits, read here table by table
        from silicio.lake.catalog import baseline_lots, baseline_yield_limits

        versions = lake.catalog.baseline_versions(KEY)
        assert [(v["version"], v["frozen"]) for v in versions] == [(1, False), (2, False), (3, False)]
        with lake.catalog.engine.connect() as connection:
            for v in versions:
                lots = connection.execute(sa.select(baseline_lots.c.lot, baseline_lots.c.parts)
                                          .where(baseline_lots.c.version_id == v["id"])).all()  # fmt: skip
                assert [(r["lot"], r["parts"]) for r in v["lots"]] == sorted(
                    lots, key=lambda r: LOTS.index(r[0])
                )
                limits = connection.execute(
                    sa.select(baseline_yield_limits.c.kind, baseline_yield_limits.c.bin, baseline_yield_limits.c.limit1)
                    .where(baseline_yield_limits.c.version_id == v["id"]).order_by(baseline_yield_limits.c.id)
                ).all()  # fmt: skip
                assert [(r["kind"], r["bin"], r["limit1"]) for r in v["yield_limits"]] == [
                    tuple(r) for r in limits
                ]
                assert limits and all(isinstance(r["started"], datetime) for r in v["lots"])
        assert [len(v["lots"]) for v in versions] == [6, 6, 7]


def test_baselines_in_postgresql(catalog_url, tmp_path, history_files):
    """The same writes and reads through either database (SQLite, then PostgreSQL)."""
    from silicio.yields.history import freeze_limits, update_limits

    data = tmp_path / "data"
    ingest(data, [history_files[lot] for lot in LOTS[:6]], database_url=catalog_url)
    with silicio_lake.open(data, catalog_url) as lake:
        [update] = update_limits(lake, PRODUCT, actor="alice")
        assert update.version == 1
        freeze_limits(lake, PRODUCT, "wafer_sort", actor="alice")
        [row] = lake.catalog.baselines(PRODUCT)
        assert (row["frozen_version"], row["latest"], row["program"]) == (1, 1, PROGRAM)


# --- the migration ----------------------------------------------------------------------------------


def _migrate(url: str, direction: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", "silicio.lake:migrations")
    engine = catalog_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)
    engine.dispose()


def test_upgrade_from_revision_0002_keeps_every_row(catalog_url):
    _migrate(catalog_url, "upgrade", "0002")
    engine = catalog_engine(catalog_url)
    v2 = sa.MetaData()
    v2.reflect(engine)
    file_row = {
        "id": 1, "sha256": "a1" * 32, "path": "/in/lot1.stdf", "size": 1000, "ingested_at": datetime(2024, 5, 2, tzinfo=UTC),
        "source": "stdf", "program": "p", "revision": "r1", "started": datetime(2024, 5, 1, 8, tzinfo=UTC),
        "product": "P1", "lot": "L1", "stage": "wafer_sort", "wafers": 1, "records": 50, "parts": 10,
        "good_parts": 9, "dies": 10, "first_pass_good": 9, "final_good": 9, "first_pass_yield": 0.9,
        "final_yield": 0.9, "partial": False, "issues": [],
    }  # fmt: skip
    with engine.begin() as connection:
        connection.execute(sa.insert(v2.tables["files"]), [file_row])
        connection.execute(
            sa.insert(v2.tables["stdf_files"]), [{"file_id": 1, "stdf_version": "V4", "byte_order": "<"}]
        )
        connection.execute(sa.insert(v2.tables["wafers"]), [{"file_id": 1, "wafer_id": "W1", "parts": 10, "good_parts": 9,
                                                             "dies": 10, "first_pass_good": 9, "final_good": 9}])  # fmt: skip
    engine.dispose()

    with Catalog(catalog_url) as catalog:  # opening migrates to the head
        with catalog.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
        [got] = catalog.rows("files")
        assert {k: got[k] for k in file_row} == file_row
        assert [(d["file_id"], d["stdf_version"]) for d in catalog.rows("stdf_files")] == [(1, "V4")]
        assert [(w["file_id"], w["wafer_id"]) for w in catalog.rows("wafers")] == [(1, "W1")]
        assert catalog.baselines() == []

    _migrate(catalog_url, "downgrade", "0002")  # and back: the history's tables go, the rest stays
    engine = catalog_engine(catalog_url)
    with engine.connect() as connection:
        names = set(sa.inspect(connection).get_table_names())
        assert "baselines" not in names and "baseline_versions" not in names
        assert connection.execute(sa.text("SELECT count(*) FROM files")).scalar_one() == 1
    engine.dispose()


def test_static_pat_limits_for_the_screening_come_from_the_stored_version(tmp_path, history_files):
    from silicio.lake.queries.history import pat_history
    from silicio.yields.history import history_static_limits, update_limits
    from silicio.yields.pat import static_pat_limits

    data = tmp_path / "data"
    ingest(data, [history_files[lot] for lot in LOTS[:6]])
    with silicio_lake.open(data) as lake:
        [update] = update_limits(lake, PRODUCT, actor="alice")
        expected = static_pat_limits(pat_history(lake, PRODUCT, "wafer_sort", LOTS[:6]))
    ingest(data, [history_files["HX0007"]])
    with silicio_lake.open(data) as lake:
        got = history_static_limits(lake, PRODUCT, "wafer_sort", "HX0007")
        # HX0001 is one of the version's lots: no stored limits were computed without it.
        assert history_static_limits(lake, PRODUCT, "wafer_sort", "HX0001") is None
    assert got.schema == expected.schema
    assert got.to_pylist() == expected.to_pylist()  # float64 both ways through the catalog
    [row] = got.to_pylist()
    values = np.array([v for lot in LOTS[:6] for v in _passing_vref_values(lot)])
    q1, q3 = np.quantile(values, [0.25, 0.75])
    assert row["n_parts"] == len(values) == sum(round(lot_yield(lot) * 200) for lot in LOTS[:6])
    assert row["robust_mean"] == pytest.approx(np.median(values))
    assert row["pat_lo"] == pytest.approx(np.median(values) - 6 * (q3 - q1) / 1.35)


def _passing_vref_values(lot: str) -> list[float]:
    """The VREF results :func:`write_history_lot` draws for the passing dies of ``lot`` (each
    wafer's last ones), as the file keeps them (float32)."""
    rng = np.random.default_rng(LOTS.index(lot))
    out = []
    for fails in FAILS[lot]:
        drawn = [float(np.float32(rng.normal(1.2, 0.01))) for _ in range(DIES_PER_WAFER)]
        out += drawn[sum(fails.values()) :]
    return out


# --- static PAT limits of the screening: each lot's from its own earlier lots ----------------------


def _robust_limits(values: list[float], k: float = 6.0) -> tuple[float, float]:
    """AEC-Q001 Rev-D static limits computed here: median ± k (Q3 - Q1) / 1.35, clamped to the
    specification limits the files record."""
    q1, median, q3 = np.quantile(np.array(values), [0.25, 0.5, 0.75])
    sigma = (q3 - q1) / 1.35
    return max(median - k * sigma, LOW), min(median + k * sigma, HIGH)


def _static_of(result, lot: str) -> dict:
    import polars as pl

    rows = pl.from_arrow(result.static_limits).filter(pl.col("lot_id") == lot).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def test_screening_limits_of_the_seventh_lot_come_from_the_six_before_it(seven_lots):
    from silicio.yields.disposition import default_recipe, screen_lake

    with silicio_lake.open(seven_lots) as lake:
        result = screen_lake(lake, default_recipe()).results[PRODUCT]
    seventh = _static_of(result, "HX0007")
    assert seventh["baseline_lots"] == LOTS[:6]
    earlier = [v for lot in LOTS[:6] for v in _passing_vref_values(lot)]
    assert seventh["n_parts"] == len(earlier)
    assert (seventh["pat_lo"], seventh["pat_hi"]) == pytest.approx(_robust_limits(earlier), rel=1e-12)
    # The first six have fewer than six earlier lots: preliminary limits from all seven, said.
    every = earlier + _passing_vref_values("HX0007")
    for lot in LOTS[:6]:
        first = _static_of(result, lot)
        assert first["baseline_lots"] == LOTS
        assert (first["pat_lo"], first["pat_hi"]) == pytest.approx(_robust_limits(every), rel=1e-12)
    (note,) = [n for n in result.notes if n.startswith("static PAT limits of lot(s)")]
    assert ", ".join(LOTS[:6]) in note and "preliminary" in note and "HX0007" not in note.split(":")[0]


def test_screening_limits_come_from_the_stored_version_when_there_is_one(tmp_path, history_files):
    from silicio.yields.disposition import default_recipe, screen_lake
    from silicio.yields.history import update_limits

    data = tmp_path / "data"
    ingest(data, [history_files[lot] for lot in LOTS[:6]])
    with silicio_lake.open(data) as lake:
        [update] = update_limits(lake, PRODUCT, actor="alice")
        assert update.version == 1
    eighth = write_history_lot(tmp_path / "HX0008.stdf", "HX0002", name="HX0008",
                               started=lot_start("HX0007") + timedelta(days=1))  # fmt: skip
    ingest(data, [history_files["HX0007"], eighth])
    with silicio_lake.open(data) as lake:
        result = screen_lake(lake, default_recipe()).results[PRODUCT]
    # HX0008 has seven earlier lots, but the stored version (the first six) is its baseline.
    limits = _robust_limits([v for lot in LOTS[:6] for v in _passing_vref_values(lot)])
    for lot in ("HX0007", "HX0008"):
        row = _static_of(result, lot)
        assert row["baseline_lots"] == LOTS[:6]
        assert (row["pat_lo"], row["pat_hi"]) == pytest.approx(limits, rel=1e-12)


# --- one lot judged alone (the lot report's way) ----------------------------------------------------


def test_one_lot_judged_alone_gets_the_flags_and_notes_of_the_lakes_judgement(seven_lots):
    from silicio.yields.history import judge_lots_against_history, judge_one_lot

    with silicio_lake.open(seven_lots) as lake:
        flags, notes = judge_lots_against_history(
            lake, [(PRODUCT, "wafer_sort", "HX0007"), (PRODUCT, "wafer_sort", "HX0006")]
        )
        seventh = judge_one_lot(lake, PRODUCT, "wafer_sort", "HX0007")
        sixth = judge_one_lot(lake, PRODUCT, "wafer_sort", "HX0006")
    # The baseline is computed at each call: its time is the one column that differs.
    assert (
        seventh.flags.drop(["baseline_computed_at"]).to_pylist()
        == flags.drop(["baseline_computed_at"]).to_pylist()
    )
    assert seventh.baseline.lot_ids == LOTS[:6] and seventh.why is None
    assert {(f["scope"], f["rule"]) for f in seventh.flags.to_pylist()} >= {("lot", "SYL2"), ("lot", "SBL2")}
    assert sixth.baseline is None and sixth.flags.num_rows == 0
    assert notes == (sixth.why,) and "5 lot(s) tested before it" in sixth.why


def test_product_final_parametric_results_leave_out_the_lots_folder(seven_lots):
    import polars as pl

    from silicio.lake.queries.reports import lot_partition_files, product_final_parametric_results

    columns = ("lot_id", "part_index", "test_num", "result", "part_passed", "is_last_test")
    with silicio_lake.open(seven_lots) as lake:
        every = product_final_parametric_results(lake, PRODUCT, "wafer_sort", columns)
        others = product_final_parametric_results(lake, PRODUCT, "wafer_sort", columns, leaving_out="HX0007")
        folder = lot_partition_files(lake, PRODUCT, "wafer_sort", "HX0007")
        [(sha,)] = lake.rows("SELECT sha256 FROM files WHERE lot = 'HX0007'")
    # One VREF result per die, 200 dies a lot, all final (no retest in this lake).
    assert every.height == 200 * len(LOTS) and every["is_last_test"].all()
    assert sorted(every["lot_id"].unique().to_list()) == LOTS
    passing = every.filter(pl.col("lot_id") == "HX0003", pl.col("part_passed"))["result"].sort().to_list()
    assert passing == pytest.approx(sorted(_passing_vref_values("HX0003")), rel=1e-6)
    assert others.height == 200 * 6 and "HX0007" not in others["lot_id"].to_list()
    assert folder == [(sha, "HX0007")]


def test_the_lot_reports_holds_are_those_of_the_lakes_disposition(seven_lots):
    from silicio.yields.disposition import default_recipe, lake_disposition
    from silicio.yields.report import lot_report

    with silicio_lake.open(seven_lots) as lake:
        disposition = lake_disposition(lake, default_recipe())
        reports = {lot: lot_report(lake, lot, stage="wafer_sort") for lot in ("HX0006", "HX0007")}
    for lot, report in reports.items():
        assert [h.as_dict() for h in report.holds] == [h.as_dict() for h in disposition.of(lot, "wafer_sort")]
    [held] = reports["HX0007"].holds
    assert {r.rule for r in held.reasons} >= {"aec_q002_syl", "aec_q002_sbl"}
    # The history chart: the six lots before it and the lot itself, below the SYL1 of those six.
    history = reports["HX0007"].history.to_pylist()
    assert [r["lot"] for r in history] == LOTS
    yields = np.array([lot_yield(lot) for lot in LOTS[:6]])
    assert history[0]["syl"] == pytest.approx(yields.mean() - 3 * yields.std(ddof=1))
    assert reports["HX0006"].history is None
    assert any("no lot history to compare with" in n for n in reports["HX0006"].notes)
