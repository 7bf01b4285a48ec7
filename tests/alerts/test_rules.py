"""The built-in rules on lakes and parts built here, each against an independent computation:
the SPC rule's limits from the lot yields by hand (I-MR: mean, MR-bar / d2(2)), the site-drift
rule on parts whose site yields are set, the signature rule on a generated edge-ring map, and the
SYL / SBL rules on the lot history of tests/lake/test_history.py."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from silicio import lake as silicio_lake
from silicio.alerts import AlertContext, loads_config
from silicio.alerts.rules import two_proportion_z
from silicio.lake.query import Lake
from silicio.spatial import generate
from tests.lake.test_history import LOTS, PRODUCT, bin_fallout, lot_yield, write_history_lot

D2 = 1.128  # d2 for moving ranges of 2 (Montgomery, Appendix VI)


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    folder = tmp_path_factory.mktemp("history")
    data = folder / "data"
    assert silicio_lake.ingest([str(write_history_lot(folder / f"{lot}.stdf", lot)) for lot in LOTS], data,
                               workers=1).ok  # fmt: skip
    return data


def _rule(kind: str, params: str = ""):
    (rule,) = loads_config(f'[[rule]]\nname = "r"\nkind = "{kind}"\n[rule.params]\n{params}\n').rules
    return rule


def _context(lake, lot: str) -> AlertContext:
    return AlertContext(lake, pl.DataFrame({"product": [PRODUCT], "lot": [lot], "stage": ["wafer_sort"]}))


def test_spc_rule_flags_the_lot_outside_the_individuals_limits_of_the_lots_before_it(history):
    baseline = np.array([lot_yield(lot) for lot in LOTS[:6]])
    mean, sigma = baseline.mean(), np.abs(np.diff(baseline)).mean() / D2
    assert lot_yield(LOTS[6]) < mean - 3 * sigma  # beyond the lower limit: Western Electric rule 1
    rule = _rule("spc_violation", "min_points = 6")
    with Lake(history) as lake:
        (found,) = rule.rule.evaluate(_context(lake, LOTS[6]), rule.params)
        assert rule.rule.evaluate(_context(lake, LOTS[5]), rule.params) == []  # a normal lot
        too_few = _rule("spc_violation", "min_points = 7")
        assert too_few.rule.evaluate(_context(lake, LOTS[6]), too_few.params) == []
    assert found.lot == LOTS[6] and found.detail["baseline_points"] == 6
    assert found.detail["mean"] == pytest.approx(mean) and found.detail["sigma"] == pytest.approx(
        sigma, rel=1e-3
    )
    assert "we-1" in {v["rule"] for v in found.detail["violations"]}


def test_syl_and_sbl_rules_fire_on_the_seventh_lot_only(history):
    syl, sbl = _rule("yield_below_syl", 'level = "SYL2"'), _rule("bin_above_sbl", "bins = [20]")
    with Lake(history) as lake:
        context = _context(lake, LOTS[6])
        (low,), (high,) = syl.rule.evaluate(context, syl.params), sbl.rule.evaluate(context, sbl.params)
        assert syl.rule.evaluate(_context(lake, LOTS[3]), syl.params) == []
        other_bin = _rule("bin_above_sbl", "bins = [10]")
        assert other_bin.rule.evaluate(context, other_bin.params) == []
    lot_level = [r for r in low.detail["reasons"] if r["evidence"].get("wafer_id") is None]
    assert lot_level and lot_level[0]["evidence"]["value"] == pytest.approx(lot_yield(LOTS[6]))
    bins = [r["evidence"] for r in high.detail["reasons"] if r["evidence"].get("wafer_id") is None]
    assert bins[0]["bin"] == 20 and bins[0]["value"] == pytest.approx(bin_fallout(LOTS[6], 20))


def _parts(rows) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"wafer_id": pl.String, "head": pl.UInt8, "site": pl.UInt8, "x": pl.Int16,
                                      "y": pl.Int16, "passed": pl.Boolean, "is_first_test": pl.Boolean,
                                      "is_last_test": pl.Boolean}, orient="row")  # fmt: skip


def test_site_drift_flags_the_site_apart_from_the_others(history):
    # four sites of 100 first-pass parts: 90, 91, 89 and 60 good
    good = {1: 90, 2: 91, 3: 89, 4: 60}
    rows = [("W1", 1, site, i, site, i < n, True, True) for site, n in good.items() for i in range(100)]
    rule = _rule("site_drift")
    with Lake(history) as lake:
        context = _context(lake, "LOTX")
        context._cache[("parts", "LOTX", "wafer_sort")] = _parts(rows)
        (found,) = rule.rule.evaluate(context, rule.params)
    rest = sum(good.values()) - 60
    assert found.subject.endswith("site 1.4") and found.detail["yield"] == 0.6
    assert found.detail["others_yield"] == pytest.approx(rest / 300)
    assert found.detail["z"] == pytest.approx(two_proportion_z(60, 100, rest, 300))
    assert found.detail["z"] < -4  # and site 3 (89 of 100) is not flagged: its gap is under 10 points


def test_a_new_edge_ring_signature_fires_and_a_known_one_does_not(history):
    maps, labels = generate(18, seed=3, classes=("edge_ring",), sizes=(40, 40), background=(0.0, 0.0))
    rows = []
    for wafer, grid in enumerate(maps[:2]):
        for y, x in zip(*np.nonzero(grid >= 0), strict=True):
            rows.append((f"W{wafer}", 1, 1, int(x), int(y), bool(grid[y, x] == 0), True, True))
    rule = _rule("spatial_signature", "min_confidence = 0.0")
    with Lake(history) as lake:
        context = _context(lake, "LOTY")
        context._cache[("parts", "LOTY", "wafer_sort")] = _parts(rows)
        (found,) = rule.rule.evaluate(context, rule.params)
        assert {w["label"] for w in found.detail["wafers"]} == {"edge_ring"}
        lake.catalog.store_signatures([{"product": PRODUCT, "lot": "OLDER", "stage": "wafer_sort", "wafer_id": "W9",
                                        "label": "edge_ring", "confidence": 0.9, "probabilities": {}, "model": "m",
                                        "dies": 1, "largest_cluster_dies": 0}], actor="test")  # fmt: skip
        assert rule.rule.evaluate(context, rule.params) == []  # the product has had an edge ring before


def test_pat_rule_screening_one_lot_with_stored_limits_agrees_with_the_product_screening(tmp_path):
    """The cheap way (each lot alone, the stored version's static PAT limits) and the full way (the
    product's lots, the limits of the same stored version) count the same PAT parts of each lot;
    the demo's lot TK41879 has one PAT outlier, so the comparison is not of zeros alone."""
    from silicio.alerts.rules import _stored_limit_shares
    from silicio.demo.stdf_demo import write_demo_stdf
    from silicio.yields import disposition as rules
    from silicio.yields.history import update_limits
    from silicio.yields.recipe import load_recipe

    files = [write_demo_stdf(tmp_path / f"lot{seed}.stdf", seed=seed, wafers=2, dies_per_side=40)
             for seed in range(10)]  # fmt: skip
    data = tmp_path / "data"
    assert silicio_lake.ingest([str(f) for f in files[:6]], data, workers=1).ok
    with Lake(data) as lake:
        update_limits(lake, actor="test")
    report = silicio_lake.ingest([str(f) for f in files[6:]], data, workers=1)
    assert report.ok
    recipe = load_recipe(rules.default_recipe_path())
    with Lake(data) as lake:
        from silicio.alerts import context_of_ingest

        context = context_of_ingest(lake, report)
        assert context.lots.height == 4
        stored, rest = _stored_limit_shares(context, context.lot_keys(), recipe)
        assert rest == [] and len(stored) == 4  # every lot has a stored version: screened alone
        (product,) = {k[0] for k in context.lot_keys()}
        full = rules.pat_shares(rules.screen_lake(lake, recipe, products=[product]).results)
        rule = _rule("pat_outlier_rate", "max_share = 0.0")
        found = rule.rule.evaluate(context, rule.params)
    expected = {r["lot_id"]: (r["pat_parts"], r["n_parts"]) for r in full.iter_rows(named=True)}
    assert {r["lot_id"]: (r["pat_parts"], r["n_parts"]) for r in stored} == {
        lot: expected[lot] for _, lot, _ in context.lot_keys()}  # fmt: skip
    assert sum(r["pat_parts"] for r in stored) >= 1
    assert sorted(f.lot for f in found) == sorted(r["lot_id"] for r in stored if r["pat_parts"])


def test_pat_rule_without_stored_limits_screens_the_pat_family_only_and_counts_the_same(tmp_path):
    """Lots without a stored version are screened with their product's lots; the rule runs only the
    recipe's PAT-family rules there (NNR, GDBN and AEC-Q002 judge the original verdicts, not PAT's):
    each lot's PAT parts equal those of the full recipe's screening, as ``silicio holds`` runs it."""
    from silicio.alerts import context_of_ingest
    from silicio.alerts.rules import _pat_family
    from silicio.demo.stdf_demo import write_demo_stdf
    from silicio.yields import disposition as rules
    from silicio.yields.recipe import load_recipe

    files = [write_demo_stdf(tmp_path / f"lot{seed}.stdf", seed=seed, wafers=2, dies_per_side=40)
             for seed in range(8)]  # fmt: skip
    data = tmp_path / "data"
    report = silicio_lake.ingest([str(f) for f in files], data, workers=1)
    assert report.ok
    recipe = load_recipe(rules.default_recipe_path())
    pat_only = _pat_family(recipe)
    assert 0 < len(pat_only.rules) < len(recipe.rules)  # the default recipe has other rules too
    with Lake(data) as lake:
        full = rules.pat_shares(rules.screen_lake(lake, recipe).results)
        narrowed = rules.pat_shares(rules.screen_lake(lake, pat_only).results)
        context = context_of_ingest(lake, report)
        rule = _rule("pat_outlier_rate", "max_share = 0.0")
        found = rule.rule.evaluate(context, rule.params)

    def counts(frame):
        return {r["lot_id"]: (r["pat_parts"], r["n_parts"]) for r in frame.iter_rows(named=True)}

    assert counts(narrowed) == counts(full) and len(counts(full)) == 8
    assert sum(p for p, _ in counts(full).values()) >= 1
    assert sorted(f.lot for f in found) == sorted(lot for lot, (p, _) in counts(full).items() if p)


def test_wafer_maps_place_each_wafers_final_dies_as_a_loop_over_the_parts_does():
    """The signature rule's maps (one compiled pass over the parts) against a dict of each wafer's
    final dies filled row by row: wafers interleaved, retested dies (the last final row counts),
    null coordinates, wafer ids and pass flags, wafers of different extents."""
    from silicio.alerts.rules import _wafer_maps

    rng = np.random.default_rng(7)
    n = 3000
    parts = pl.DataFrame({
        "wafer_id": pl.Series([None if rng.random() < 0.05 else f"W{v}" for v in rng.integers(0, 5, n)], dtype=pl.String),
        "x": pl.Series([None if rng.random() < 0.02 else int(v) for v in rng.integers(-4, 30, n)], dtype=pl.Int16),
        "y": pl.Series([None if rng.random() < 0.02 else int(v) for v in rng.integers(3, 20, n)], dtype=pl.Int16),
        "passed": pl.Series([None if rng.random() < 0.05 else bool(v) for v in rng.integers(0, 2, n)], dtype=pl.Boolean),
        "is_last_test": pl.Series([None if rng.random() < 0.05 else bool(v) for v in rng.integers(0, 2, n)],
                                  dtype=pl.Boolean),
    })  # fmt: skip
    dies: dict[str | None, dict[tuple[int, int], int]] = {}
    for row in parts.iter_rows(named=True):
        if row["is_last_test"] and row["x"] is not None and row["y"] is not None:
            dies.setdefault(row["wafer_id"], {})[(row["y"], row["x"])] = 0 if row["passed"] else 1
    ids, maps = _wafer_maps(parts)
    assert ids == list(dies) and None in ids  # in the order first tested, a null wafer id a wafer of its own
    for wafer, grid in zip(ids, maps, strict=True):
        rows, cols = zip(*dies[wafer], strict=True)
        expected = np.full((max(rows) - min(rows) + 1, max(cols) - min(cols) + 1), -1, np.int8)
        for (y, x), failed in dies[wafer].items():
            expected[y - min(rows), x - min(cols)] = failed
        assert grid.dtype == np.int8 and np.array_equal(grid, expected)
    assert _wafer_maps(parts.with_columns(is_last_test=False)) == ([], [])


def test_site_counts_are_the_first_pass_parts_and_good_ones_of_each_head_and_site():
    """The site-drift rule's counts (one compiled pass over STDF's U1 head and site numbers)
    against a polars group-by of the first-pass parts: many heads and sites, the extremes 0 and
    255, parts not first-pass and null pass flags among them; wider numbers take polars' way."""
    from silicio.alerts.rules import _site_counts

    rng = np.random.default_rng(11)
    n = 5000
    parts = pl.DataFrame({
        "head": pl.Series(rng.choice([0, 1, 7, 255], n), dtype=pl.UInt8),
        "site": pl.Series(rng.choice([0, 1, 2, 3, 100, 255], n), dtype=pl.UInt8),
        "passed": pl.Series([None if rng.random() < 0.05 else bool(v) for v in rng.integers(0, 2, n)], dtype=pl.Boolean),
        "is_first_test": pl.Series(rng.random(n) < 0.8),
    })  # fmt: skip
    expected = (
        parts.filter(pl.col("is_first_test"))
        .group_by("head", "site")
        .agg(pl.len().alias("n"), pl.col("passed").fill_null(False).sum().alias("good"))
        .sort("head", "site")
    )
    rows = [((r["head"], r["site"]), r["n"], r["good"]) for r in expected.iter_rows(named=True)]
    assert len(rows) == 24 and _site_counts(parts) == rows
    assert _site_counts(parts.with_columns(pl.col("head", "site").cast(pl.Int64))) == rows
    assert _site_counts(parts.with_columns(is_first_test=False)) == []
    only_low = parts.filter(pl.col("head") == 0, pl.col("site") < 4)  # the tables up to the highest key only
    assert _site_counts(only_low) == [row for row in rows if row[0][0] == 0 and row[0][1] < 4]
