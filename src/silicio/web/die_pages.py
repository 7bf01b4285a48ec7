"""The drill-down below the wafer: a die's own page (every insertion, every result against its
limits, bins, why the screening removed it, where it went), a packaged unit's page (the same for a
final-test part, found by its part id, and the wafer die it came from), the screening as a
wafer-map layer, and two wafers or two lots side by side. Declared once (:mod:`silicio.web.declare`) like the
other pages; the data come from the lake through :class:`~silicio.web.dashboard.Dashboard` and
from the genealogy through :class:`~silicio.web.tracedata.TraceData`."""

from __future__ import annotations

import math
from pathlib import PurePath
from typing import Annotated

import numpy as np
import polars as pl
from fastapi import Path, Query

from silicio.i18n import C_
from silicio.lake import queries
from silicio.lake.layout import FINAL_TEST, WAFER_SORT
from silicio.yields import bin_counts, bin_map, stacked_fail_map, yield_by
from silicio.yields.rules import reason_codes
from silicio.yields.wafermap.drawing import rule_colours

from . import models as m
from .api import COORDINATE_MAX, COORDINATE_MIN, Stage, TestNumber
from .dashboard import Dashboard, NotFound, clean
from .declare import Page
from .demo import DEMO_DIES_PER_WAFER
from .drill import Drill
from .links import compare_url, die_page_url, lot_url, on_map_url, test_url, wafer_url
from .tracedata import BadQuery

DieCoordinatePath = Annotated[
    int, Path(ge=COORDINATE_MIN, le=COORDINATE_MAX, description="die X or Y on the wafer (STDF I*2)")
]
#: Longest part id looked up (STDF PRR PART_ID is C*n: up to 255 characters).
MAX_PART_ID = 255
UnitPartPath = Annotated[
    str, Path(min_length=1, max_length=MAX_PART_ID, description="the unit's part id (STDF PRR PART_ID)")
]

# ------------------------------------------------------------------------------------------------
# Flags of a result

#: STDF V4 PTR / MPR TEST_FLG bits a user must see beside a result (bit 6, "no pass/fail
#: indication", and bit 7, "test failed", are the verdict column's).
TEST_FLG_BITS = (
    (0, C_("alarm")),
    (1, C_("invalid result")),
    (2, C_("unreliable result")),
    (3, C_("timeout")),
    (4, C_("not executed")),
    (5, C_("aborted")),
)
#: STDF V4 PTR / MPR PARM_FLG bits 0-2: the measurement's own errors (bits 3-4 say which limit
#: failed, the verdict's; 5-7 how the limits were applied).
PARM_FLG_BITS = ((0, C_("scale error")), (1, C_("drift error")), (2, C_("oscillation")))
#: TEST_FLG bit 6: the tester gave no pass/fail indication.
NO_VERDICT_BIT = 6


def result_flags(test_flg: int | None, parm_flg: int | None) -> list[str]:
    """The names of the set error bits of a result's TEST_FLG and PARM_FLG (STDF V4, PTR and MPR)."""
    flags = [name for bit, name in TEST_FLG_BITS if test_flg is not None and test_flg >> bit & 1]
    return flags + [name for bit, name in PARM_FLG_BITS if parm_flg is not None and parm_flg >> bit & 1]


def _insertion_kind(index: int) -> str:
    """What the ``index``-th insertion of a die or unit is (0: the first pass)."""
    return C_("first pass") if index == 0 else C_("retest %(n)s") % {"n": index}


def verdict(passed: bool | None, test_flg: int | None) -> str:
    if passed is None or (test_flg is not None and test_flg >> NO_VERDICT_BIT & 1):
        return C_("no verdict")
    return C_("pass") if passed else C_("fail")


# ------------------------------------------------------------------------------------------------
# The die page


def die(data: Drill, lot_id: str, wafer_id: str, x: DieCoordinatePath, y: DieCoordinatePath,
        stage: Stage = None) -> m.DiePage:  # fmt: skip
    dashboard = data.dashboard
    screenings = dashboard.screenings_done()
    page = dashboard.computed(
        ("die", lot_id, wafer_id, x, y, stage, screenings is not None),
        lambda db: _die_page(dashboard, db, lot_id, wafer_id, x, y, stage),
    )
    return _with_genealogy(data, page)


def _test_history(parts, rows, product: str | None) -> dict:
    """The fields the die and unit pages share: one part's insertions (its parts rows, oldest
    first), its results, each numbered by its insertion (a result outside those parts rows is not
    this part's), and what the last insertion and the results add up to."""
    last = parts.height - 1
    number = {(r["file_sha256"], r["part_index"]): i + 1 for i, r in enumerate(parts.iter_rows(named=True))}
    insertions = [
        m.DieInsertion(
            insertion=i + 1, kind=_insertion_kind(i), final=i == last,
            file=PurePath(r["path"]).name, started=r["started"], part_index=r["part_index"], part_id=r["part_id"],
            site=r["site"], hard_bin=r["hard_bin"], soft_bin=r["soft_bin"], passed=r["passed"],
            test_time_ms=r["test_t"], tests=r["num_tests"],
        )
        for i, r in enumerate(parts.iter_rows(named=True))
    ]  # fmt: skip
    results = []
    for r in rows.iter_rows(named=True):
        n = number.get((r["file_sha256"], r["part_index"]))
        if n is None:
            continue
        results.append(m.DieResult(
            insertion=n, final=n == last + 1, test_num=r["test_num"], test_name=r["test_name"],
            test_type=r["test_type"], pin=r["pin"], units=r["units"], lo_limit=clean(r["lo_limit"]),
            result=clean(r["result"]), hi_limit=clean(r["hi_limit"]), verdict=verdict(r["passed"], r["test_flg"]),
            flags=result_flags(r["test_flg"], r["parm_flg"]), url=test_url(r["test_num"], product),
        ))  # fmt: skip
    final = insertions[-1]
    return dict(
        insertion_count=len(insertions), retests=len(insertions) - 1, final_hard_bin=final.hard_bin,
        final_soft_bin=final.soft_bin, final_passed=final.passed, insertions=insertions, results=results,
        failed_tests=sum(r.final and r.verdict == "fail" for r in results),
        alarmed_results=sum(bool(r.flags) for r in results),
    )  # fmt: skip


def _die_page(dashboard: Dashboard, db, lot_id: str, wafer_id: str, x: int, y: int,
              stage: str | None) -> m.DiePage:  # fmt: skip
    if db is None:
        raise NotFound(f"no lake at {dashboard.data_dir}")
    product, stage, _ = dashboard.lot_stage(db, lot_id, stage)
    parts = queries.die_insertions(db, lot_id, stage, wafer_id, x, y)
    if parts.is_empty():
        raise NotFound(f"no die at x {x}, y {y} on wafer {wafer_id!r} of lot {lot_id!r} at {stage}")
    history = _test_history(parts, queries.die_results(db, lot_id, stage, wafer_id, x, y), product)
    page = m.DiePage(
        lot_id=lot_id, wafer_id=wafer_id, x=x, y=y, product=product, stage=stage,
        wafer_url=on_map_url(lot_id, wafer_id, stage, x, y), lot_url=lot_url(lot_id, stage),
        **history, screened=None,
        traced=False, trace_note="",
    )  # fmt: skip
    return page.model_copy(update=_die_screening(dashboard, product, stage, lot_id, wafer_id, x, y))


def _die_screening(dashboard: Dashboard, product: str | None, stage: str, lot_id: str, wafer_id: str,
                   x: int, y: int) -> dict:  # fmt: skip
    """The die page's screening fields: whether a rule removed the die, which, and why."""
    if stage != WAFER_SORT:
        return {
            "screening_note": C_("the screening judges wafer-sort dies; this is %(stage)s") % {"stage": stage}
        }
    screenings = dashboard.screenings_done()
    if screenings is None:
        return {
            "screening_note": C_("the PAT screening of the lake is still running: reload to see its verdict")
        }
    result = screenings.results.get(product)
    if result is None:
        why = [n for n in screenings.notes if product is not None and n.startswith(f"{product}:")]
        note = why[0] if why else C_("product %(product)s was not screened") % {"product": product}
        return {"screening_note": note}
    parts = pl.from_arrow(result.parts).filter(
        (pl.col("lot_id") == lot_id)
        & (pl.col("wafer_id") == wafer_id)
        & (pl.col("x") == x)
        & (pl.col("y") == y)
    )
    if parts.is_empty():
        return {
            "screening_note": C_("the screening did not judge this die (no final part at these coordinates)")
        }
    row = parts.row(parts.height - 1, named=True)
    reasons = pl.from_arrow(result.reasons).filter(
        (pl.col("lot_id") == lot_id)
        & (pl.col("wafer_id") == wafer_id)
        & (pl.col("part_index") == row["part_index"])
    )
    rows = [
        m.DieScreeningReason(rule=r["rule"], test_num=r["test_num"], test_name=r["test_name"],
                             value=clean(r["value"]), limit_lo=clean(r["limit_lo"]), limit_hi=clean(r["limit_hi"]),
                             url=test_url(r["test_num"], product) if r["test_num"] is not None else None)
        for r in reasons.iter_rows(named=True)
    ]  # fmt: skip
    return {"screened": bool(row["screened"]), "screening_rules": list(row["rules"] or []),
            "new_hard_bin": row["new_hard_bin"], "new_soft_bin": row["new_soft_bin"], "screening": rows}  # fmt: skip


def _with_genealogy(data: Drill, page: m.DiePage) -> m.DiePage:
    """The die page with where the die went, from the genealogy (cached there)."""
    if page.stage != WAFER_SORT:
        return page.model_copy(
            update={"trace_note": C_("the genealogy knows dies by their wafer-sort place")}
        )
    node = data.trace.die_node(page.lot_id, page.wafer_id, page.x, page.y)
    if node is None:
        note = C_("This die is not in the genealogy: only dies loaded into it are traced (the demo traces "
                  "%(count)s dies a wafer).") % {"count": DEMO_DIES_PER_WAFER}  # fmt: skip
        return page.model_copy(update={"trace_note": note})
    query = data.trace.forward_from("die", node)
    note = C_("Die %(node)s of the genealogy: what it went into, forward.") % {"node": node}
    return page.model_copy(update={"traced": True, "trace_node": node, "trace_note": note, "units_reached": query.units,
                                   "reached": query.counts, "shipments": query.shipments})  # fmt: skip


# ------------------------------------------------------------------------------------------------
# A packaged unit's page (final test: no wafer coordinates, a part id)


def unit(data: Drill, lot_id: str, part_id: UnitPartPath, stage: Stage = None) -> m.UnitPage:
    dashboard = data.dashboard
    page = dashboard.computed(("unit", lot_id, part_id, stage),
                              lambda db: _unit_page(dashboard, db, lot_id, part_id, stage))  # fmt: skip
    return _with_unit_genealogy(data, page)


def _unit_page(dashboard: Dashboard, db, lot_id: str, part_id: str, stage: str | None) -> m.UnitPage:
    if db is None:
        raise NotFound(f"no lake at {dashboard.data_dir}")
    product, chosen, stages = dashboard.lot_stage(db, lot_id, stage)
    if stage is None and FINAL_TEST in stages:  # a unit's page: the lot's final test, not its wafer sort
        product, chosen, _ = dashboard.lot_stage(db, lot_id, FINAL_TEST)
    stage = chosen
    parts = queries.unit_insertions(db, lot_id, stage, part_id)
    if parts.is_empty():
        raise NotFound(f"no part {part_id!r} in lot {lot_id!r} at {stage}")
    history = _test_history(parts, queries.unit_results(db, lot_id, stage, part_id), product)
    return m.UnitPage(
        lot_id=lot_id, part_id=part_id, product=product, stage=stage, lot_url=lot_url(lot_id, stage),
        **history, traced=False,
    )  # fmt: skip


def _with_unit_genealogy(data: Drill, page: m.UnitPage) -> m.UnitPage:
    """The unit page with the die it came from (the genealogy's die -> unit edge), that die's page
    and its screening verdict at wafer sort."""
    origin = data.trace.unit_origin(page.lot_id, page.part_id)
    if origin is None:
        note = C_("This unit is not in the genealogy: only units loaded into it with a final-test key "
                  "(lot and part id) are traced.")  # fmt: skip
        return page.model_copy(update={"trace_note": note, "screening_note": C_(
            "the screening judges wafer-sort dies; the genealogy does not say which die this unit was")})  # fmt: skip
    update: dict = {"traced": True, "trace_node": origin["unit"], "die_node": origin["die"],
                    "came_from": origin["query"].counts}  # fmt: skip
    key = origin["die_key"]
    if key is None:
        update["trace_note"] = C_("Unit %(node)s of the genealogy; the die it came from has no wafer-sort key.") % {
            "node": origin["unit"]}  # fmt: skip
        update["screening_note"] = C_("the screening judges wafer-sort dies; the genealogy does not say which die "
                                      "this unit was")  # fmt: skip
        return page.model_copy(update=update)
    update.update(die_lot_id=key["lot_id"], die_wafer_id=key["wafer_id"], die_x=key["x"], die_y=key["y"],
                  die_url=die_page_url(key["lot_id"], key["wafer_id"], key["x"], key["y"], WAFER_SORT),
                  trace_note=C_("Unit %(node)s of the genealogy, made from die %(die)s.")
                  % {"node": origin["unit"], "die": origin["die"]})  # fmt: skip
    dashboard = data.dashboard
    try:
        die_product = dashboard.computed(("lot_product", key["lot_id"], WAFER_SORT),
                                         lambda db: _product_at(dashboard, db, key["lot_id"], WAFER_SORT))  # fmt: skip
    except NotFound:  # the die's wafer-sort lot is not in the lake
        update["screening_note"] = C_("the wafer-sort data of its die are not in the lake")
        return page.model_copy(update=update)
    screening = _die_screening(dashboard, die_product, WAFER_SORT, key["lot_id"], key["wafer_id"], key["x"],
                               key["y"])  # fmt: skip
    return page.model_copy(update={**update, **screening})


def _product_at(dashboard: Dashboard, db, lot_id: str, stage: str) -> str | None:
    if db is None:
        raise NotFound(f"no lake at {dashboard.data_dir}")
    return dashboard.lot_stage(db, lot_id, stage)[0]


# ------------------------------------------------------------------------------------------------
# The wafer map's screening layer


def screening_layer(dashboard: Dashboard, page: m.WaferPage) -> dict:
    """The wafer page's screening fields: the dies the screening removed, by their first rule
    (the recipe's precedence), or why there is no layer."""
    if page.stage != WAFER_SORT:
        return {"screening_note": C_("the screening judges wafer-sort dies only")}
    screenings = dashboard.screenings_done()
    if screenings is None:
        return {"screening_note": C_("the PAT screening is still running: its layer shows once it is done")}
    result = screenings.results.get(page.product)
    if result is None:
        return {
            "screening_note": C_("product %(product)s was not screened (see the PAT page)")
            % {"product": page.product}
        }
    removed = pl.from_arrow(result.parts).filter(
        (pl.col("lot_id") == page.lot_id) & (pl.col("wafer_id") == page.wafer_id) & pl.col("screened")
        & pl.col("x").is_not_null() & pl.col("y").is_not_null()
    )  # fmt: skip
    first = [rules[0] if rules else "?" for rules in removed["rules"].to_list()]
    # Every registered rule's code first, so a rule has the same colour on every wafer.
    colours = rule_colours([*reason_codes(), *first])
    used = {rule: colours[rule] for rule in dict.fromkeys(first)}
    counts = {rule: first.count(rule) for rule in used}
    layer = m.ScreeningLayer(x=[int(v) for v in removed["x"]], y=[int(v) for v in removed["y"]], rule=first,
                             colors=used, counts=counts)  # fmt: skip
    return {
        "screening_layer": layer,
        "screening_note": None if first else C_("the screening removed no die here"),
    }


def layered_wafer(dashboard: Dashboard, page: m.WaferPage) -> m.WaferPage:
    """``page`` with its die links and the screening layer, kept beside it in the cache (one object per
    wafer view and screening state, so its rendered HTML is kept too)."""
    done = dashboard.screenings_done() is not None
    key = ("wafer_layers", page.lot_id, page.wafer_id, page.stage, page.bin_kind, page.test_num, done)

    def compute(db) -> m.WaferPage:
        wafers = [w for w in dict.fromkeys(dashboard.lot_parts(db, page.lot_id, page.stage)["wafer_id"].to_pylist())
                  if w is not None]  # fmt: skip
        after = wafers[(wafers.index(page.wafer_id) + 1) % len(wafers)] if page.wafer_id in wafers else None
        other = (compare_url(f"{page.lot_id}/{page.wafer_id}", f"{page.lot_id}/{after}", stage=page.stage)
                 if after is not None and after != page.wafer_id else None)  # fmt: skip
        return page.model_copy(update={"die_url": die_page_url(page.lot_id, page.wafer_id, "{x}", "{y}", page.stage),
                                       "compare_url": other, **screening_layer(dashboard, page)})  # fmt: skip

    return dashboard.computed(key, compute)


# ------------------------------------------------------------------------------------------------
# Two wafers or two lots side by side

CompareSideText = Annotated[
    str, Query(min_length=1, max_length=400, description="a lot (LOT) or a wafer (LOT/WAFER)")
]


def _side(text: str) -> tuple[str, str | None]:
    lot_id, sep, wafer_id = text.partition("/")
    if not lot_id or (sep and not wafer_id):
        raise BadQuery(f"{text!r}: expected a lot (LOT) or a wafer (LOT/WAFER)")
    return lot_id, wafer_id or None


def shift_in_sigma(mean_a: float | None, std_a: float | None, mean_b: float | None,
                   std_b: float | None) -> float | None:  # fmt: skip
    """B's mean less A's in units of the two sides' root-mean-square sigma: Cohen's d for groups
    of equal weight (J. Cohen, Statistical Power Analysis, 2nd ed., 1988, eq. 2.5.2). None
    without a spread."""
    if None in (mean_a, std_a, mean_b, std_b):
        return None
    pooled = math.sqrt((std_a**2 + std_b**2) / 2)
    return (mean_b - mean_a) / pooled if pooled > 0 else None


def compare(data: Dashboard, a: CompareSideText, b: CompareSideText, stage: Stage = None,
            test_num: TestNumber = None) -> m.ComparePage:  # fmt: skip
    (lot_a, wafer_a), (lot_b, wafer_b) = _side(a), _side(b)
    if (wafer_a is None) != (wafer_b is None):
        raise BadQuery("compare a wafer with a wafer, or a lot with a lot")
    key = ("compare", a, b, stage, test_num)
    return data.computed(
        key, lambda db: _compare(data, db, (lot_a, wafer_a), (lot_b, wafer_b), stage, test_num)
    )


def _compare_side(data: Dashboard, db, lot_id: str, wafer_id: str | None, stage: str | None):
    if db is None:
        raise NotFound(f"no lake at {data.data_dir}")
    product, stage, _ = data.lot_stage(db, lot_id, stage)
    parts = pl.from_arrow(data.lot_parts(db, lot_id, stage))
    tidy = pl.from_arrow(data.lot_tidy(db, lot_id, stage))
    if wafer_id is not None:
        parts, tidy = (
            parts.filter(pl.col("wafer_id") == wafer_id),
            tidy.filter(pl.col("wafer_id") == wafer_id),
        )
        if parts.is_empty():
            raise NotFound(f"no wafer {wafer_id!r} in lot {lot_id!r} at {stage}")
    total = rows_total(parts)
    the_map = None
    if parts["x"].null_count() < parts.height:
        try:
            drawn = (bin_map(parts, kind="hard", lot_id=lot_id, wafer_id=wafer_id) if wafer_id is not None
                     else stacked_fail_map(parts, lot_id))  # fmt: skip
            the_map = data.map_of(db, drawn, lot_id, stage)
        except ValueError:  # no die with coordinates and a verdict
            the_map = None
    side = m.CompareSide(
        label=f"{lot_id} / {wafer_id}" if wafer_id else f"lot {lot_id}", lot_id=lot_id, wafer_id=wafer_id,
        stage=stage, product=product, total=total, bin_map=the_map,
        url=wafer_url(lot_id, wafer_id, stage) if wafer_id else lot_url(lot_id, stage),
    )  # fmt: skip
    final = tidy.filter(
        pl.col("is_last_test") & pl.col("test_type").is_in(["P", "M"]) & pl.col("result").is_finite()
        & ((pl.col("test_flg").cast(pl.UInt8) & 1) == 0)  # alarmed results left out, as per_test_statistics does
    )  # fmt: skip
    return side, parts, final


def rows_total(parts: pl.DataFrame) -> m.WaferYield:
    rows = yield_by(parts, by=()).to_pylist()
    if not rows:
        return m.WaferYield(
            wafer_id=None, tested=0, retests=0, first_pass_dies=0, first_pass_good=0, final_good=0
        )
    return m.WaferYield(**{k: clean(v) for k, v in rows[0].items() if k in m.WaferYield.model_fields})


def _compare(data: Dashboard, db, a: tuple[str, str | None], b: tuple[str, str | None], stage: str | None,
             test_num: int | None) -> m.ComparePage:  # fmt: skip
    side_a, parts_a, final_a = _compare_side(data, db, *a, stage)
    side_b, parts_b, final_b = _compare_side(data, db, *b, stage)
    notes = []
    if side_a.product != side_b.product:
        notes.append(f"different products ({side_a.product}, {side_b.product}): tests compared by number")

    def stats(final: pl.DataFrame) -> pl.DataFrame:
        return final.group_by("test_num").agg(
            pl.col("test_name").drop_nulls().first(), pl.col("units").drop_nulls().first(),
            pl.len().alias("count"), pl.col("result").mean().alias("mean"), pl.col("result").std().alias("std"),
        )  # fmt: skip

    joined = stats(final_a).join(stats(final_b), on="test_num", how="full", coalesce=True, suffix="_b")
    tests = []
    for r in joined.sort("test_num").iter_rows(named=True):
        mean_a, std_a, mean_b, std_b = (clean(r[k]) for k in ("mean", "std", "mean_b", "std_b"))
        tests.append(m.CompareTest(
            test_num=r["test_num"], test_name=r["test_name"] or r["test_name_b"], units=r["units"] or r["units_b"],
            count_a=r["count"] or 0, mean_a=mean_a, std_a=std_a, count_b=r["count_b"] or 0, mean_b=mean_b,
            std_b=std_b, shift_sigma=shift_in_sigma(mean_a, std_a, mean_b, std_b),
            url=test_url(r["test_num"], side_a.product if side_a.product == side_b.product else None),
        ))  # fmt: skip
    # Largest shift first: what differs most between the two is what to look at.
    tests.sort(key=lambda t: (t.shift_sigma is None, -abs(t.shift_sigma or 0.0), t.test_num))
    if test_num is None and tests:
        test_num = tests[0].test_num
    elif test_num is not None and test_num not in {t.test_num for t in tests}:
        raise NotFound(f"test {test_num} has no results on either side")
    edges, hist_a, hist_b = [], [], []
    if test_num is not None:
        values_a = final_a.filter(pl.col("test_num") == test_num)["result"].to_numpy()
        values_b = final_b.filter(pl.col("test_num") == test_num)["result"].to_numpy()
        both = np.concatenate([values_a, values_b])
        if both.size:
            shared = np.histogram_bin_edges(both, bins=30)
            edges = [float(e) for e in shared]
            hist_a = [int(c) for c in np.histogram(values_a, bins=shared)[0]]
            hist_b = [int(c) for c in np.histogram(values_b, bins=shared)[0]]
    bins = _compare_bins(parts_a, parts_b)
    return m.ComparePage(a=side_a, b=side_b, test_num=test_num, histogram_edges=edges, histogram_a=hist_a,
                         histogram_b=hist_b, tests=tests, bins=bins, notes=notes)  # fmt: skip


def _compare_bins(parts_a: pl.DataFrame, parts_b: pl.DataFrame) -> list[m.CompareBin]:
    """Final soft bins of both sides (each die's last insertion), bin by bin."""

    def counts(parts: pl.DataFrame) -> pl.DataFrame:
        if parts.is_empty():
            return pl.DataFrame(schema={"bin": pl.Int64, "count": pl.Int64, "percent": pl.Float64})
        table = pl.from_arrow(bin_counts(parts, kind="soft"))
        return table.select(pl.col("bin").cast(pl.Int64), pl.col("count").cast(pl.Int64), "percent")

    joined = counts(parts_a).join(counts(parts_b), on="bin", how="full", coalesce=True, nulls_equal=True,
                                  suffix="_b").sort("bin", nulls_last=True)  # fmt: skip
    return [
        m.CompareBin(bin=r["bin"], count_a=r["count"] or 0, percent_a=r["percent"] or 0.0, count_b=r["count_b"] or 0,
                     percent_b=r["percent_b"] or 0.0)
        for r in joined.iter_rows(named=True)
    ]  # fmt: skip


PAGES = (
    Page(path="/lot/{lot_id}/wafer/{wafer_id}/die/{x}/{y}", compute=die, template="die.html", access="internal",
         summary="A die: every insertion, each result against its limits, bins, screening, genealogy",
         csv_name="{wafer_id}_{x}_{y}"),
    Page(path="/lot/{lot_id}/unit/{part_id}", compute=unit, template="unit.html", access="internal",
         summary="A packaged unit by part id: every insertion, each result against its limits, bins, its die",
         csv_name="{part_id}"),
    Page(path="/compare", compute=compare, template="compare.html", access="internal", charts=True,
         summary="Two wafers (a=LOT/WAFER) or two lots (a=LOT) side by side: maps, yields, bins, tests",
         csv_name="compare"),
)  # fmt: skip
