"""End to end: STDF files written record by record, read, tidied, screened by a recipe; the
parts re-binned, the reasons, the bin summary, the yields and the recipe that ran."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

import silicio.yields
from silicio.stdf import read, tidy
from silicio.stdf.writer import StdfWriter
from silicio.yields.pat import static_pat_limits
from silicio.yields.recipe import load_recipe, loads_recipe
from silicio.yields.screening import final_parts, screen
from tests.conftest import shared_stdf

SIDE = 10  # a 10 x 10 wafer
VREF, IDDQ = 100, 200
FAILING = {(1, 6), (2, 6), (1, 7)}  # a scratch of failing dies, hard / soft bin 5
GDBN_DIE = (2, 7)  # good, three failing neighbours
PAT_DIE = (6, 6)  # vref inside spec, outside static PAT
NNR_DIE = (3, 3)  # iddq a step above its neighbours, inside spec and PAT
RETESTED = (8, 8)  # fails first, passes on retest: one die, counted once

RECIPE = """
[recipe]
name = "e2e"
version = "0.1"

[pat]
k = 6
[pat.dynamic]
scope = "wafer"
n = 6
min_parts = 30

[nnr]
tests = [200]
radius = 2
k = 6

[gdbn]
rule = "count"
min_failing = 3

[yield_limits]
min_lots = 6

[bins]
soft_bin = 90
hard_bin = 9
[bins.by_rule]
gdbn = 91
nnr = 92
"""


def write_wafer(path: Path, lot: str, rng, planted: bool) -> None:
    """One wafer: vref ~ 1.25 V (spec 1.0..1.5), iddq with a gradient (spec 0..3 uA)."""
    with StdfWriter(path) as w:
        w.record("MIR", SETUP_T=0, START_T=0, STAT_NUM=1, LOT_ID=lot)
        w.record("WIR", HEAD_NUM=1, SITE_GRP=255, START_T=0, WAFER_ID="W01")
        dies = [(x, y, False) for y in range(SIDE) for x in range(SIDE)]
        if planted:
            dies.insert(0, (*RETESTED, True))  # the first test of the retested die
        for x, y, first_of_retest in dies:
            vref = 1.25 + rng.normal(0, 0.005)
            iddq = 1.0 + 0.02 * x + 0.02 * y + rng.normal(0, 0.02)
            fail = first_of_retest
            if planted and (x, y) in FAILING:
                vref, fail = 0.5, True
            if planted and (x, y) == PAT_DIE:
                vref = 1.40
            if planted and (x, y) == NNR_DIE:
                iddq += 0.4
            w.record("PIR", HEAD_NUM=1, SITE_NUM=1)
            for num, name, value, lo, hi, units in (
                (VREF, "vref", vref, 1.0, 1.5, "V"),
                (IDDQ, "iddq", iddq, 0.0, 3.0, "uA"),
            ):
                flag = 0x80 if not lo <= value <= hi else 0
                w.record(
                    "PTR", TEST_NUM=num, HEAD_NUM=1, SITE_NUM=1, TEST_FLG=flag, PARM_FLG=0, RESULT=value,
                    TEST_TXT=name, ALARM_ID="", OPT_FLAG=0, RES_SCAL=0, LLM_SCAL=0, HLM_SCAL=0,
                    LO_LIMIT=lo, HI_LIMIT=hi, UNITS=units,
                )  # fmt: skip
            w.record(
                "PRR", HEAD_NUM=1, SITE_NUM=1, PART_FLG=0x08 if fail else 0, NUM_TEST=2,
                HARD_BIN=5 if fail else 1, SOFT_BIN=5 if fail else 1, X_COORD=x, Y_COORD=y,
            )  # fmt: skip
        w.record("WRR", HEAD_NUM=1, SITE_GRP=255, FINISH_T=0, PART_CNT=len(dies), WAFER_ID="W01")
        w.record("MRR", FINISH_T=0)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """(history tidy of six lots, tidy of the lot to screen)."""
    folder = tmp_path_factory.mktemp("stdf")
    rng = np.random.default_rng(11)
    history = []
    for i in range(6):
        write_wafer(folder / f"h{i}.stdf", f"HIST{i}", rng, planted=False)
        history.append(tidy(read(folder / f"h{i}.stdf")))
    write_wafer(folder / "lot.stdf", "LOT7", rng, planted=True)
    return pa.concat_tables(history), tidy(read(folder / "lot.stdf"))


@pytest.fixture(scope="module")
def result(tables):
    history, lot = tables
    return screen(lot, loads_recipe(RECIPE), static_pat_limits(history))


def part_at(parts: pl.DataFrame, xy) -> dict:
    (row,) = parts.filter((pl.col("x") == xy[0]) & (pl.col("y") == xy[1])).to_dicts()
    return row


def test_final_parts_count_a_retested_die_once(tables):
    _, lot = tables
    parts = pl.from_arrow(final_parts(lot))
    assert parts.height == SIDE * SIDE
    assert part_at(parts, RETESTED)["part_passed"] is True  # the retest, not the first failure


def test_each_planted_part_is_rebinned_by_its_rule(result, tables):
    reasons = pl.from_arrow(result.reasons)
    parts = pl.from_arrow(result.parts)
    by_part = {}
    for r in reasons.to_dicts():
        by_part.setdefault(r["part_index"], set()).add((r["rule"], r["test_num"]))
    # The wafer's dynamic high limit for vref reaches past the static one and is clamped to it
    # (AEC-Q001 Rev-D §3.1.2), so the PAT die crosses the static limit only: PAT_STATIC alone.
    static_hi = pl.from_arrow(result.static_limits).filter(pl.col("test_num") == VREF)["pat_hi"].item()
    vref = (
        pl.from_arrow(tables[1])
        .filter(
            (pl.col("test_num") == VREF)
            & pl.col("part_passed")
            & pl.col("is_last_test")
            & (pl.col("result") <= static_hi)
        )["result"]
        .to_numpy()
    )
    assert vref.mean() + 6 * vref.std(ddof=1) > static_hi
    expected = {
        PAT_DIE: ({("PAT_STATIC", VREF)}, 90),
        NNR_DIE: ({("NNR", IDDQ)}, 92),
        GDBN_DIE: ({("GDBN_COUNT", None)}, 91),
    }
    for xy, (rules, soft_bin) in expected.items():
        part = part_at(parts, xy)
        assert by_part.pop(part["part_index"]) == rules, xy
        assert part["screened"] and not part["passed_after"]
        assert (part["hard_bin"], part["soft_bin"]) == (1, 1)
        assert (part["new_hard_bin"], part["new_soft_bin"]) == (9, soft_bin)
    assert by_part == {}  # nothing else flagged
    # Failing dies keep their bins; unflagged good dies too.
    assert part_at(parts, (1, 6))["new_soft_bin"] == 5
    assert part_at(parts, (5, 5))["new_soft_bin"] == 1


def test_reasons_carry_value_and_limits(result, tables):
    reasons = pl.from_arrow(result.reasons)
    (pat,) = reasons.filter(pl.col("rule") == "PAT_STATIC").to_dicts()
    (static,) = pl.from_arrow(result.static_limits).filter(pl.col("test_num") == VREF).to_dicts()
    assert pat["test_name"] == "vref" and pat["value"] == pytest.approx(1.40)
    assert (pat["limit_lo"], pat["limit_hi"]) == (static["pat_lo"], static["pat_hi"])
    assert pat["limit_hi"] < 1.40 < 1.5
    (gdbn,) = reasons.filter(pl.col("rule") == "GDBN_COUNT").to_dicts()
    assert (gdbn["value"], gdbn["limit_hi"]) == (3.0, 3.0)
    (nnr,) = reasons.filter(pl.col("rule") == "NNR").to_dicts()
    assert nnr["value"] > nnr["limit_hi"]


def test_bin_summary_has_the_screening_bins_and_yield_drops(result):
    summary = {(r["hard_bin"], r["soft_bin"]): r for r in result.bin_summary.to_pylist()}
    good = SIDE * SIDE - len(FAILING)
    assert (summary[(1, 1)]["count_before"], summary[(1, 1)]["count_after"]) == (good, good - 3)
    assert (summary[(5, 5)]["count_before"], summary[(5, 5)]["count_after"]) == (3, 3)
    for soft_bin in (90, 91, 92):
        row = summary[(9, soft_bin)]
        assert (row["count_before"], row["count_after"], row["screening_bin"], row["passing"]) == (
            0,
            1,
            True,
            False,
        )
    assert result.yield_before == pytest.approx(good / 100)
    assert result.yield_after == pytest.approx((good - 3) / 100)
    (lot,) = result.yield_summary.to_pylist()
    assert (lot["n_parts"], lot["good_before"], lot["good_after"]) == (100, good, good - 3)


def test_results_record_the_recipe_and_the_refusals(result):
    recipe = loads_recipe(RECIPE)
    assert result.recipe == {"name": "e2e", "version": "0.1", "sha256": recipe.sha256}
    assert result.lot_limits is None
    assert any("AEC-Q002" in note and "fewer than the 6" in note for note in result.notes)
    dynamic = pl.from_arrow(result.dynamic_limits)
    assert dynamic.height == 2 and not dynamic["skipped"].any()


def test_screen_without_history_needs_six_lots(tables, tmp_path):
    _, lot = tables
    path = tmp_path / "recipe.toml"
    path.write_text(RECIPE)
    with pytest.raises(ValueError, match="static_limits"):
        screen(lot, path)


def test_screen_six_lots_computes_its_own_limits_and_lot_limits(tables):
    history, lot = tables
    result = screen(pa.concat_tables([history, lot]), loads_recipe(RECIPE))
    assert pl.from_arrow(result.static_limits)["n_lots"].to_list() == [7, 7]
    kinds = {(r["kind"], r["bin"]) for r in result.lot_limits.to_pylist()}
    assert ("SYL", None) in kinds and ("SBL", 5) in kinds
    # AEC-Q002 over the seven lots after screening: six at 100 %, LOT7 at 94 %.
    yields = [1.0] * 6 + [0.94]
    (syl,) = [r for r in result.lot_limits.to_pylist() if r["kind"] == "SYL"]
    assert syl["limit1"] == pytest.approx(statistics.mean(yields) - 3 * statistics.stdev(yields))
    # One low lot among seven inflates sigma: 0.94 stays above SYL1 = 0.923, nothing is flagged.
    assert syl["limit1"] < 0.94 and result.lot_flags.num_rows == 0


def test_the_shipped_recipe_on_galaxy_lot2_keeps_to_the_standards():
    """Real data: dynamic limits inside the static ones, no NNR on tests of few distinct results,
    alarm-flagged results counted and left out (checked against the tidy table directly)."""
    from silicio.stdf import parts as stdf_parts

    tables = read(shared_stdf("galaxy_lot2_A530_BE.stdf"))
    lot = pl.from_arrow(tidy(tables))
    recipe = load_recipe(Path(silicio.yields.__file__).parent / "recipes" / "automotive_wafer_sort.toml")
    result = screen(lot, recipe, parts=stdf_parts(tables), short_history="note")

    static = pl.from_arrow(result.static_limits).select("test_num", "pat_lo", "pat_hi")
    dynamic = pl.from_arrow(result.dynamic_limits).filter(~pl.col("skipped")).join(static, on="test_num")
    assert dynamic.height > 0
    assert (
        dynamic.filter(
            (pl.col("limit_lo") < pl.col("pat_lo")) | (pl.col("limit_hi") > pl.col("pat_hi"))
        ).height
        == 0
    )

    good = lot.filter(
        pl.col("part_passed")
        & pl.col("is_last_test")
        & pl.col("test_type").is_in(["P", "M"])
        & pl.col("result").is_finite()
    )
    # The file's alarms (TEST_FLG 0x81) are all on failing parts: no passing result to leave out.
    alarmed = good.filter((pl.col("test_flg") & 1) == 1).height
    assert lot.filter((pl.col("test_flg") & 1) == 1).height > 0
    assert alarmed == 0 and not any(
        note.startswith(("PAT:", "NNR:")) and "alarm" in note for note in result.notes
    )
    # GDBN: failing final dies whose failed results all carry the alarm are no failing neighbours.
    alarm = (pl.col("test_flg") & 1) == 1
    per_part = lot.group_by("part_index").agg(
        alarm.any().alias("alarmed"),
        ((pl.col("passed") == False) & ~alarm).any().alias("clean_fail"),  # noqa: E712
    )
    final = pl.from_arrow(result.parts).filter(pl.col("part_passed") == False)  # noqa: E712
    unknown = final.join(per_part, on="part_index").filter(pl.col("alarmed") & ~pl.col("clean_fail")).height
    assert unknown > 0 and any(note.startswith(f"GDBN: {unknown} die(s)") for note in result.notes)
    distinct = (
        good.filter((pl.col("test_flg") & 1) == 0)
        .group_by("test_num")
        .agg(pl.col("result").n_unique().alias("distinct"))
    )
    screened = pl.from_arrow(result.nnr_limits).filter(~pl.col("skipped")).join(distinct, on="test_num")
    assert screened.height > 0 and screened["distinct"].min() >= 20
