"""Lot disposition on hand-built tables: each rule at its threshold (not held) and just past it
(held), the expected limits computed here from their definitions."""

from __future__ import annotations

import dataclasses
import statistics

import polars as pl
import pytest

from silicio.yields.disposition import HoldRules, lot_holds

WS = "wafer_sort"


def yields(*rows):
    """lot_yields rows (product, lot_id, final_yield) at wafer sort."""
    schema = {"product": pl.String, "lot_id": pl.String, "stage": pl.String, "final_yield": pl.Float64}
    return pl.DataFrame([(p, lot, WS, y) for p, lot, y in rows], schema=schema, orient="row")


def parts(good_by_lot: dict[str, int], size: int = 10, product: str = "P", fail_bin: int = 5) -> pl.DataFrame:
    """``size`` final parts per lot, the first ``good`` passing (soft bin 1), the others in ``fail_bin``."""
    rows = [(product, WS, lot, i < good, 1 if i < good else fail_bin, 1 if i < good else 2)
            for lot, good in good_by_lot.items() for i in range(size)]  # fmt: skip
    schema = {"product": pl.String, "stage": pl.String, "lot_id": pl.String, "part_passed": pl.Boolean,
              "soft_bin": pl.Int64, "hard_bin": pl.Int64}  # fmt: skip
    return pl.DataFrame(rows, schema=schema, orient="row")


NO_PARTS = parts({})


def test_final_yield_at_the_threshold_is_not_held_and_below_it_is():
    rules = HoldRules(min_final_yield=0.8)
    result = lot_holds(
        yields(("P", "L1", 8 / 10), ("P", "L2", 0.79)), parts({"L1": 8, "L2": 7}), None, None, rules
    )
    (hold,) = result.holds
    assert (hold.lot_id, hold.final_yield) == ("L2", 0.79)
    (reason,) = hold.reasons
    assert reason.rule == "final_yield" and reason.parameters == {"min_final_yield": 0.8}
    assert reason.evidence == {"final_yield": 0.79, "limit": 0.8}
    assert reason.text == "final yield 79.00% < 80.00%"
    assert result.notes == ("P wafer_sort: 2 lot(s), fewer than the 6 AEC-Q002 yield and bin limits need",)


def test_aec_q002_syl_and_sbl_fire_only_when_a_lot_can_lie_3_sigma_out():
    """n lots judged among themselves: the lowest can lie at most (n-1)/sqrt(n) sigma below their
    mean, 2.85 at 10 lots (never beyond SYL1) and 3.02 at 11."""
    ten = {f"L{i:02d}": 9 for i in range(9)} | {"LOW": 5}
    assert lot_holds(yields(), parts(ten), None, None).holds == ()

    eleven = {f"L{i:02d}": 9 for i in range(10)} | {"LOW": 5}
    result = lot_holds(yields(), parts(eleven), None, None)
    (hold,) = result.holds
    assert hold.lot_id == "LOW" and hold.final_yield is None and result.notes == ()
    lot_yields = [0.9] * 10 + [0.5]
    mean, sigma = statistics.mean(lot_yields), statistics.stdev(lot_yields)
    syl, sbl = hold.reasons
    assert syl.rule == "aec_q002_syl"
    assert syl.parameters == {"min_lots": 6, "bin_kind": "soft", "baseline": "lots judged"}
    assert syl.evidence == pytest.approx({"level": "SYL1", "value": 0.5, "limit": mean - 3 * sigma, "mean": mean,
                                          "sigma": sigma, "lots": 11})  # fmt: skip
    assert 0.5 > mean - 4 * sigma, "not beyond SYL2"
    fallout = [0.1] * 10 + [0.5]  # bin 5 holds every failing part
    f_mean, f_sigma = statistics.mean(fallout), statistics.stdev(fallout)
    assert sbl.rule == "aec_q002_sbl"
    assert sbl.evidence == pytest.approx({"bin": 5, "level": "SBL1", "value": 0.5, "limit": f_mean + 3 * f_sigma,
                                          "mean": f_mean, "sigma": f_sigma, "lots": 11})  # fmt: skip
    assert syl.text == f"AEC-Q002 SYL1: yield 50.00% < {mean - 3 * sigma:.2%}"
    assert sbl.text == f"AEC-Q002 SBL1: bin 5 fallout 50.00% > {f_mean + 3 * f_sigma:.2%}"

    fewer = lot_holds(yields(), parts(eleven), None, None, HoldRules(yield_limits_min_lots=12))
    assert fewer.holds == () and "11 lot(s), fewer than the 12" in fewer.notes[0]


def test_pat_share_at_the_threshold_is_not_held_and_above_it_is():
    shares = pl.DataFrame({"product": ["P", "P"], "lot_id": ["AT", "ABOVE"], "stage": [WS, WS],
                           "n_parts": [1000, 1000], "pat_parts": [10, 11]})  # fmt: skip
    (hold,) = lot_holds(yields(), NO_PARTS, shares, None, HoldRules(max_pat_share=0.01)).holds
    assert (hold.lot_id, hold.stage) == ("ABOVE", WS)
    (reason,) = hold.reasons
    assert reason.rule == "pat_share" and reason.parameters == {"max_pat_share": 0.01}
    assert reason.evidence == {"pat_parts": 11, "parts": 1000, "share": 0.011, "limit": 0.01}
    assert reason.text == "PAT outliers 11 (1.10% of parts) > 1.00%"


def statistics_rows(product: str, shifted_medians: tuple[float, float]) -> list[dict]:
    """Six lots, two tests, every lot's robust sigma (Q3 - Q1) / 1.35 = 1; the last lot's medians
    ``shifted_medians``, the others' 0."""
    rows = []
    for i in range(6):
        for test, shifted in zip((1, 2), shifted_medians, strict=True):
            median = shifted if i == 5 else 0.0
            rows.append({"product": product, "stage": WS, "lot_id": f"{product}{i}", "test_num": test,
                         "test_name": f"T{test}", "q1": median - 0.675, "median": median, "q3": median + 0.675})  # fmt: skip
    return rows


def test_parametric_shift_beyond_k_sigma_on_two_tests():
    rows = (
        statistics_rows("AT", (2.0, 2.0))
        + statistics_rows("ONE", (2.5, 0.0))
        + statistics_rows("TWO", (2.5, -3.0))
    )
    (hold,) = lot_holds(yields(), NO_PARTS, None, pl.DataFrame(rows), HoldRules(shift_sigma=2.0)).holds
    assert (hold.product, hold.lot_id) == ("TWO", "TWO5")
    (reason,) = hold.reasons
    assert reason.rule == "parametric_shift"
    assert reason.parameters == {"k": 2.0, "min_tests": 2, "min_lots": 6}
    assert reason.evidence["worst_test"] == "T2" and reason.evidence["worst_shift"] == pytest.approx(-3.0)
    assert [(t["test_num"], t["shift"]) for t in reason.evidence["tests"]] == [(1, 2.5), (2, -3.0)]
    assert (
        reason.text
        == "parametric shift on 2 tests beyond 2 robust sigma of the product's lots (worst T2 -3.0 sigma)"
    )


def test_every_reason_of_a_lot_in_rule_order_and_lots_in_the_given_order():
    shares = pl.DataFrame(
        {"product": ["P"], "lot_id": ["B"], "stage": [WS], "n_parts": [100], "pat_parts": [5]}
    )
    stats = pl.DataFrame(statistics_rows("P", (3.0, 3.0))).with_columns(
        pl.col("lot_id").replace({"P5": "B", "P4": "A"})
    )
    result = lot_holds(yields(("P", "A", 0.5), ("P", "B", 0.6), ("P", "C", 0.95)), NO_PARTS, shares, stats)
    assert [h.lot_id for h in result.holds] == ["A", "B"]
    assert [r.rule for r in result.holds[1].reasons] == ["final_yield", "pat_share", "parametric_shift"]
    as_dict = result.holds[1].as_dict()
    assert as_dict["lot_id"] == "B" and as_dict["final_yield"] == 0.6
    assert [r["rule"] for r in as_dict["reasons"]] == ["final_yield", "pat_share", "parametric_shift"]
    # every field, as the dataclasses module converts them (the reasons a list, their dicts copies)
    whole = dataclasses.asdict(result.holds[1])
    assert as_dict == whole | {"reasons": list(whole["reasons"])} and list(as_dict) == list(whole)
    assert as_dict["reasons"][0]["evidence"] is not result.holds[1].reasons[0].evidence
    assert result.of("B", WS) == [result.holds[1]] and result.of("C") == []


def test_rules_are_checked():
    with pytest.raises(ValueError, match="fractions"):
        HoldRules(min_final_yield=80)
    with pytest.raises(ValueError, match="lot_yields lacks column"):
        lot_holds(pl.DataFrame({"lot_id": ["A"]}), NO_PARTS, None, None)


def test_a_history_of_earlier_lots_is_the_aec_q002_baseline():
    """Six normal lots as the baseline: a seventh at half their yield is beyond SYL2, though judged
    among the seven alone it could not be (at most 6/sqrt(7) = 2.27 sigma out)."""
    history = parts({f"H{i}": good for i, good in enumerate((90, 92, 88, 91, 89, 90))}, size=100)
    judged = parts({"NEW": 45}, size=100)
    result = lot_holds(yields(), judged, None, None, history=history)
    (hold,) = result.holds
    baseline = [0.90, 0.92, 0.88, 0.91, 0.89, 0.90]
    mean, sigma = statistics.mean(baseline), statistics.stdev(baseline)
    syl = hold.reasons[0]
    assert syl.parameters["baseline"] == "history"
    assert syl.evidence == pytest.approx({"level": "SYL2", "value": 0.45, "limit": mean - 4 * sigma, "mean": mean,
                                          "sigma": sigma, "lots": 6})  # fmt: skip
    assert [r.rule for r in hold.reasons] == ["aec_q002_syl", "aec_q002_sbl"]
    seven = pl.concat([history, judged])
    assert lot_holds(yields(), seven, None, None).holds == ()


def test_history_flags_as_a_table_and_as_a_frame_make_the_same_reasons():
    """The SYL / SBL crossings against a lot history (yield_limit_flags), an Arrow table read row
    by row and its polars frame: the same hold reasons, texts and evidence as written here."""
    from datetime import UTC, date, datetime

    import pyarrow as pa

    from silicio.yields.history import FLAG_COLUMNS

    common = {"product": "P", "stage": WS, "program": "J", "revision": "1", "lot": "L1", "mean": 0.9,
              "sigma": 0.02, "n_values": 6, "baseline_version": 3, "baseline_lots": ["H1", "H2"],
              "baseline_computed_at": datetime(2026, 1, 2, tzinfo=UTC), "baseline_review_by": date(2026, 7, 1)}  # fmt: skip
    flags = pa.Table.from_pylist([
        {**common, "wafer_id": None, "scope": "lot", "rule": "SYL2", "bin": None, "value": 0.8, "limit": 0.82,
         "parts": 100, "count": 80},
        {**common, "wafer_id": "W3", "scope": "wafer", "rule": "SBL1", "bin": 7, "value": 0.05, "limit": 0.04,
         "parts": 20, "count": 1},
    ], schema=FLAG_COLUMNS)  # fmt: skip
    held = lot_holds(yields(("P", "L1", 0.8)), None, None, None, HoldRules(min_final_yield=0.5),
                     yield_limit_flags=flags)  # fmt: skip
    assert held == lot_holds(yields(("P", "L1", 0.8)), None, None, None, HoldRules(min_final_yield=0.5),
                             yield_limit_flags=pl.from_arrow(flags))  # fmt: skip
    ((hold,),) = [held.holds]
    syl, sbl = hold.reasons
    assert (syl.rule, syl.text) == (
        "aec_q002_syl",
        "AEC-Q002 SYL2: yield 80.00% < 82.00% (limits of the 2 lots tested before it, version 3)",
    )
    assert syl.parameters == {"baseline": "history", "baseline_version": 3, "baseline_lots": ["H1", "H2"],
                              "review_by": "2026-07-01", "scope": "lot"}  # fmt: skip
    assert (sbl.rule, sbl.evidence["bin"], sbl.evidence["wafer_id"], sbl.evidence["count"]) == (
        "aec_q002_sbl",
        7,
        "W3",
        1,
    )


def test_the_default_recipe_path_is_the_shipped_recipe_found_once():
    from importlib import resources

    from silicio.yields.disposition import DEFAULT_RECIPE, default_recipe_path

    shipped = default_recipe_path()
    assert shipped == resources.files("silicio.yields") / "recipes" / DEFAULT_RECIPE and shipped.is_file()
    assert default_recipe_path() is shipped and default_recipe_path(None) is shipped
    assert default_recipe_path("mine.toml") == "mine.toml"
