"""The demo fab: deterministic, cached, valid STDF whose summaries add up, and every planted
signal found by the analyses meant to find it."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from silicio.demo import fab as fab_module
from silicio.demo.fab import generate_fab, load_manifest, parse_die_text
from silicio.demo.physics import probe_order, wafer_grid
from silicio.demo.products import PRODUCTS
from silicio.spc import imr_limits
from silicio.stdf import parts, read, tidy
from silicio.yields import (
    consolidate_retests,
    gdbn,
    grid_die_per_wafer,
    gross_die_per_wafer,
    pat_outliers,
    reconcile_bins,
    static_pat_limits,
)

SMALL = dict(lots=3, wafers_per_lot=2, die_scale=2.0)  # one lot of each product, ~250 dies a wafer
# Seven lots of one product: enough for static PAT (AEC-Q001 asks for six) and a baseline for SPC.
HISTORY = dict(lots=7, wafers_per_lot=2, die_scale=1.5, products=["SLC-MC200"])


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return generate_fab(tmp_path_factory.mktemp("small"), **SMALL)


@pytest.fixture(scope="module")
def small_tables(small):
    return {path: read(path) for path in small.files_of()}


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    return generate_fab(tmp_path_factory.mktemp("history"), **HISTORY)


@pytest.fixture(scope="module")
def sort_data(history):
    """Parts and tidy rows of every wafer-sort file of the history fab."""
    tables = [read(path) for path in history.files_of(stage="WS")]
    return (
        pl.from_arrow(pa.concat_tables([parts(t) for t in tables])),
        pl.from_arrow(pa.concat_tables([tidy(t) for t in tables])),
    )


def test_the_same_seed_gives_byte_identical_files(tmp_path):
    tiny = dict(lots=1, wafers_per_lot=1, die_scale=2.5, products=["SLC-TV100"])
    first = generate_fab(tmp_path / "a", seed=5, **tiny)
    second = generate_fab(tmp_path / "b", seed=5, **tiny)
    other = generate_fab(tmp_path / "c", seed=6, **tiny)
    assert [f.path for f in first.files] == [f.path for f in second.files]
    for a, b, c in zip(first.files_of(), second.files_of(), other.files_of(), strict=True):
        assert a.read_bytes() == b.read_bytes()
        assert a.read_bytes() != c.read_bytes()
    assert first.planted == second.planted


def test_a_second_call_does_no_work_and_new_arguments_regenerate(tmp_path, monkeypatch):
    tiny = dict(lots=1, wafers_per_lot=1, die_scale=2.5, products=["SLC-MC200"])
    made = generate_fab(tmp_path, **tiny)
    assert not made.cached
    mtimes = {p: p.stat().st_mtime_ns for p in made.files_of()}

    def no_work(*args):
        raise AssertionError("a cached fab was generated again")

    with monkeypatch.context() as patch:
        patch.setattr(fab_module, "_make_lot", no_work)
        again = generate_fab(tmp_path, **tiny)
    assert again.cached and again.files == made.files and again.planted == made.planted
    assert {p: p.stat().st_mtime_ns for p in again.files_of()} == mtimes
    assert load_manifest(tmp_path).files == made.files

    # Another seed: the old files go, the new ones come.
    other = generate_fab(tmp_path, seed=1, **tiny)
    assert not other.cached and load_manifest(tmp_path).seed == 1
    # A damaged file is noticed and the fab made again.
    other.files_of()[0].write_bytes(b"")
    assert not generate_fab(tmp_path, seed=1, **tiny).cached


def test_every_file_reads_back_without_issues(small, small_tables):
    assert {f.product for f in small.files} == set(PRODUCTS)
    for entry in small.files:
        tables = small_tables[small.out_dir / entry.path]
        assert tables.issues == [], entry.path
        mir = tables["MIR"].to_pylist()[0]
        assert mir["FACIL_ID"] == "Querétaro"
        assert mir["LOT_ID"] == entry.lot_id and mir["PART_TYP"] == entry.product
        assert mir["TEST_COD"] == entry.stage
        assert mir["TSTR_TYP"] in ("93000", "J750")
        assert tables["PRR"].num_rows == entry.parts
        assert tables["SDR"].num_rows == 1
        if entry.stage == "WS":
            assert tables["WIR"].column("WAFER_ID").to_pylist() == [entry.wafer_id]
            assert tables["SDR"].column("CARD_ID")[0].as_py()
        else:
            assert tables["SDR"].column("HAND_TYP")[0].as_py()


def test_test_programs_have_the_sizes_asked_for():
    sizes = {p: len(product.tests) for p, product in PRODUCTS.items()}
    assert 100 <= sizes["SLC-TV100"] <= 140
    assert 70 <= sizes["SLC-MC200"] <= 90
    assert 220 <= sizes["SLC-PM300A"] <= 280
    assert sum(t.functional for t in PRODUCTS["SLC-PM300A"].tests) >= 30


def test_bin_summaries_add_up_to_the_parts(small, small_tables):
    for path, tables in small_tables.items():
        part_table = parts(tables)
        for kind, summary in (("hard", "HBR"), ("soft", "SBR")):
            result = reconcile_bins(part_table, tables[summary], kind)
            assert set(result.column("status").to_pylist()) == {"match"}, (path, kind)
        # Per-site and all-site PCRs, and the TSRs' fail counts against the failing test records.
        pcr = tables["PCR"].to_pylist()
        overall = [r for r in pcr if r["HEAD_NUM"] == 255][0]
        assert overall["PART_CNT"] == part_table.num_rows
        assert overall["GOOD_CNT"] == sum(part_table.column("passed").to_pylist())
        assert sum(r["PART_CNT"] for r in pcr if r["HEAD_NUM"] != 255) == part_table.num_rows
        rows = pl.from_arrow(tidy(tables))
        fails = rows.filter(~pl.col("passed") | (pl.col("test_flg") & 0x80 > 0)).group_by("test_num").len()
        tsr = {r["TEST_NUM"]: r["FAIL_CNT"] for r in tables["TSR"].to_pylist()}
        assert {number: count for number, count in tsr.items() if count} == dict(fails.iter_rows())


def test_the_die_grid_is_the_gross_die_count_of_the_wafer():
    for product in PRODUCTS.values():
        grid = wafer_grid(product.die_width, product.die_height, product.scribe)
        exact = grid_die_per_wafer(product.die_width, product.die_height, 200.0, product.scribe, 3.0)
        approx = gross_die_per_wafer(product.die_width, product.die_height, 200.0, product.scribe, 3.0)
        assert grid.dies == exact.count
        assert abs(grid.dies - approx) < 0.06 * approx
        assert 450 < grid.dies < 1200
        assert len(set(zip(grid.x.tolist(), grid.y.tolist(), strict=True))) == grid.dies


def test_the_probe_card_steps_with_one_die_per_site_per_touchdown():
    product = PRODUCTS["SLC-TV100"]
    grid = wafer_grid(product.die_width, product.die_height, product.scribe)
    order, touchdown, site = probe_order(grid, *product.probe_sites)
    assert sorted(order.tolist()) == list(range(grid.dies))
    assert (np.diff(touchdown) >= 0).all()
    pairs = set(zip(touchdown.tolist(), site.tolist(), strict=True))
    assert len(pairs) == grid.dies  # no site twice in a touchdown
    assert set(site.tolist()) == set(range(1, 9))
    # Most touchdowns use the whole 8-site card; the wafer's rim leaves some sites off.
    per_touchdown = np.bincount(touchdown)
    assert (per_touchdown == 8).mean() > 0.6 and per_touchdown.mean() > 6


def test_yields_are_those_of_a_healthy_fab(history):
    for lot in history.lot_table:
        assert 0.8 < lot.ws_good / lot.dies < 0.98, lot
        assert 0.95 < lot.ft_good / lot.ft_parts <= 1.0, lot
        assert lot.ft_parts <= lot.ws_good
    # Assembly loses a few.
    assert sum(lot.ft_parts for lot in history.lot_table) < sum(lot.ws_good for lot in history.lot_table)


def test_excursion_lot_is_out_of_control_on_its_tests(history, sort_data):
    _, rows = sort_data
    (excursion,) = history.planted_of("excursion")
    assert abs(excursion.sigmas) >= 3
    lot_means = (
        rows.filter(pl.col("test_num").is_in(list(excursion.test_nums)) & pl.col("part_passed"))
        .group_by("lot_id", "test_num")
        .agg(pl.col("result").mean())
    )
    for test_num in excursion.test_nums:
        means = lot_means.filter(pl.col("test_num") == test_num).sort("lot_id")
        baseline = means.filter(pl.col("lot_id") != excursion.lot_id)["result"].to_numpy()
        limits = imr_limits(baseline)
        lcl, ucl = limits.mean - limits.k * limits.sigma, limits.mean + limits.k * limits.sigma
        shifted = means.filter(pl.col("lot_id") == excursion.lot_id)["result"].item()
        assert not lcl <= shifted <= ucl, test_num
        assert ((lcl <= baseline) & (baseline <= ucl)).all()


def test_planted_outliers_pass_the_specification_and_fail_static_pat(history, sort_data):
    _, rows = sort_data
    limits = static_pat_limits(rows, min_lots=7)
    found = pl.from_arrow(pat_outliers(rows, limits))
    outliers = history.planted_of("pat_outlier")
    assert len(outliers) >= 7  # two to four a lot
    for outlier in outliers:
        die = rows.filter(
            (pl.col("lot_id") == outlier.lot_id)
            & (pl.col("wafer_id") == outlier.wafer_id)
            & (pl.col("x") == outlier.x)
            & (pl.col("y") == outlier.y)
        )
        assert die["part_passed"].all() and die["part_id"][0] == outlier.part_id
        caught = found.join(
            die.select("lot_id", "wafer_id", "part_index").unique(), on=["lot_id", "wafer_id", "part_index"]
        )
        assert set(outlier.test_nums) <= set(caught["test_num"].to_list()), outlier
    # Planted outliers are the clear cases, not the whole population PAT removes.
    assert (
        found.select("lot_id", "wafer_id", "part_index").n_unique()
        < 0.03 * rows["part_index"].n_unique() * 14
    )


def test_edge_ring_wafers_fail_at_the_edge(history, sort_data):
    part_table, _ = sort_data
    product = PRODUCTS["SLC-MC200"]
    grid = wafer_grid(product.die_width * 1.5, product.die_height * 1.5, product.scribe)
    radius = pl.DataFrame({"x": grid.x, "y": grid.y, "radius": grid.radius})
    signatures = {p.wafer_id: p.detail for p in history.planted_of("signature")}
    assert {"edge_ring", "center", "scratch", "cluster", "random"} <= set(signatures.values())
    dies = part_table.join(radius, on=["x", "y"]).with_columns(
        pl.col("wafer_id").replace_strict(signatures).alias("signature"),
        (pl.col("radius") > 0.9).alias("edge"),
        (pl.col("radius") < 0.5).alias("centre"),
    )

    def fail_rate(signature: str, where: str) -> float:
        chosen = dies.filter((pl.col("signature") == signature) & pl.col(where))
        return 1.0 - chosen["passed"].mean()

    assert fail_rate("edge_ring", "edge") > 4 * fail_rate("edge_ring", "centre")
    assert fail_rate("edge_ring", "edge") > 0.3
    assert fail_rate("center", "centre") > 3 * fail_rate("center", "edge")
    assert fail_rate("random", "edge") < 3 * fail_rate("random", "centre") + 0.05


def test_a_few_good_dies_sit_in_bad_neighbourhoods(sort_data):
    part_table, _ = sort_data
    flagged = pl.from_arrow(gdbn(part_table.rename({"passed": "part_passed"})))["flagged"]
    assert 0.003 < flagged.mean() < 0.03


def test_the_worn_probe_needle_shows_as_opens_on_its_site(history, sort_data):
    part_table, _ = sort_data
    (planted,) = history.planted_of("probe_site")
    opens = part_table.group_by("site").agg((pl.col("soft_bin") == 10).mean().alias("opens")).sort("site")
    rate = dict(opens.iter_rows())
    others = [rate[s] for s in rate if s != planted.site]
    assert rate[planted.site] > 1.5 * max(others)


def test_tests_sharing_a_process_parameter_are_correlated(sort_data):
    _, rows = sort_data
    wide = (
        rows.filter(pl.col("test_name").is_in(["OSC_FREQ", "TPD_HS", "IDD_RUN"]) & pl.col("part_passed"))
        .pivot(on="test_name", index=["lot_id", "wafer_id", "part_index"], values="result")
        .drop_nulls()
    )
    # A slow die (long channel, high Vth) oscillates slower, switches later and draws less.
    assert np.corrcoef(wide["OSC_FREQ"], wide["TPD_HS"])[0, 1] < -0.5
    assert np.corrcoef(wide["OSC_FREQ"], wide["IDD_RUN"])[0, 1] > 0.4


def test_final_test_parts_trace_back_to_good_sort_dies_and_retests_recover(small, small_tables):
    for lot in small.lot_table:
        sort_parts = pl.concat(
            [pl.from_arrow(parts(small_tables[p])) for p in small.files_of(stage="WS", lot_id=lot.lot_id)]
        )
        good = set(sort_parts.filter(pl.col("passed")).select("wafer_id", "x", "y").iter_rows())
        (first,) = small.files_of(stage="FT", lot_id=lot.lot_id, retest=0)
        (again,) = small.files_of(stage="FT", lot_id=lot.lot_id, retest=1)
        ft_prr = small_tables[first]["PRR"]
        dies = {parse_die_text(t) for t in ft_prr.column("PART_TXT").to_pylist()}
        assert dies <= good and len(dies) == ft_prr.num_rows
        assert set(ft_prr.column("X_COORD").to_pylist()) == {-32768}
        ft_parts = pl.from_arrow(parts(small_tables[first]))
        retest_parts = pl.from_arrow(parts(small_tables[again]))
        failed = set(ft_parts.filter(~pl.col("passed"))["part_id"].to_list())
        assert set(retest_parts["part_id"].to_list()) == failed
        assert retest_parts["passed"].any() and not retest_parts["passed"].all()
        final = pl.from_arrow(consolidate_retests(pl.concat([ft_parts, retest_parts]))).filter("is_last_test")
        assert final.height == ft_parts.height
        assert lot.ft_good == final["passed"].sum()


def test_manifest_table_says_what_to_look_for(small):
    table = small.table()
    assert table.num_rows == 2 * len(small.lot_table)
    assert set(table.column("stage").to_pylist()) == {"WS", "FT"}
    ws = table.filter(pc.equal(table["stage"], "WS"))
    assert ws.column("files").to_pylist() == [2, 2, 2]
    assert sum(table.column("pat_outliers").to_pylist()) == 2 * len(small.planted_of("pat_outlier"))
    assert small.total_bytes == sum(p.stat().st_size for p in small.files_of())
