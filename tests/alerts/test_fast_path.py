"""The rules at ingest read the ingest's own facts (:mod:`silicio.alerts.ingested`: the catalog
through SQLAlchemy, the new lot's Parquet, a PAT count against the stored static limits); a
re-evaluation reads the lake through DuckDB and screens with :func:`silicio.yields.screen`. The
two ways must find the same: here on ingests where every built-in rule fires, each rule's
findings (subjects, titles, the numbers in the details) compared between them.

The lake: two products with six lots of history and stored limits (``silicio limits update``):
the demo's wafer-sort lots (parametric tests, so PAT screens; lot TK41879 has a PAT outlier) and
the lot history of tests/lake/test_history.py, whose seventh lot HX0007 lies below SYL2 and above
the SBL of bin 20. Then one ingest brings TK41879, another HX0007 and a file that is no STDF."""

from __future__ import annotations

import shutil

import pytest

from silicio import lake as silicio_lake
from silicio.alerts import (
    KEPT_AT_INGEST,
    AlertContext,
    AlertRule,
    Finding,
    context_of_ingest,
    evaluate,
    loads_config,
)
from silicio.alerts.ingested import PAT_COLUMNS
from silicio.demo.stdf_demo import write_demo_stdf
from silicio.lake.query import Lake
from tests.lake.test_history import LOTS, write_history_lot

# Thresholds chosen so that each rule has something to find in these lots.
PARAMS = {
    "yield_below_syl": "include_final_yield = true",
    "bin_above_sbl": "",
    "pat_outlier_rate": "max_share = 0.0",
    "spc_violation": "min_points = 6",
    "spatial_signature": "min_confidence = 0.0\nignore = []",
    "quarantined_file": "",
    "site_drift": "min_parts = 1\nmax_gap = 0.0001\nz = 0.0001",
}
RULES = "\n".join(f'[[rule]]\nname = "{kind}"\nkind = "{kind}"\n[rule.params]\n{params}\n'
                  for kind, params in PARAMS.items())  # fmt: skip


@pytest.fixture(scope="module")
def ingests(tmp_path_factory):
    """(data directory, the reports of the two timed ingests)."""
    from silicio.yields.history import update_limits

    folder = tmp_path_factory.mktemp("fast_path")
    demo = [
        write_demo_stdf(folder / f"lot{seed}.stdf", seed=seed, wafers=2, dies_per_side=40)
        for seed in range(10)
    ]
    history = [write_history_lot(folder / f"{lot}.stdf", lot) for lot in LOTS]
    data = folder / "data"
    assert silicio_lake.ingest([str(p) for p in demo[:6] + history[:6]], data, workers=1).ok
    with Lake(data) as lake:
        update_limits(lake, actor="test")
        # a class the demo product has had (an earlier lot's wafer): the signature rule leaves it out
        lake.catalog.store_signatures([{"product": "TCX4417-Q1", "lot": "OLDER", "stage": "wafer_sort",
                                        "wafer_id": "W9", "label": "none", "confidence": 0.9, "probabilities": {},
                                        "model": "m", "dies": 1, "largest_cluster_dies": 0}], actor="test")  # fmt: skip
    garbage = folder / "garbage.stdf"
    garbage.write_bytes(b"no STDF here, only text " * 8)
    shutil.copytree(data, folder / "kept")
    reports = [silicio_lake.ingest([str(demo[9])], data, workers=1),
               silicio_lake.ingest([str(history[6]), str(garbage)], data, workers=1)]  # fmt: skip
    # the same ingests into a copy, the tables the rules read kept in memory by the ingest
    KEPT_REPORTS[:] = [silicio_lake.ingest([str(demo[9])], folder / "kept", workers=1, keep=KEPT_AT_INGEST),
                       silicio_lake.ingest([str(history[6]), str(garbage)], folder / "kept", workers=1,
                                           keep=KEPT_AT_INGEST)]  # fmt: skip
    return data, reports


#: The reports of :func:`ingests`' ingests into its lake's copy ``kept`` with ``keep=KEPT_AT_INGEST``.
KEPT_REPORTS: list = []


def test_the_tables_the_ingest_kept_are_the_files_and_find_the_same_alerts(ingests):
    """The rules at ingest read the parts and results the ingest kept in memory, instead of its
    files: the same frames and tables as read from the files, and the same findings as the
    lake's queries (and as the rules reading the files) in every rule."""
    from silicio.alerts.ingested import IngestedLots

    data, reports = ingests
    kept_data = data.parent / "kept"
    config = loads_config(RULES, "test rules")
    with Lake(kept_data) as lake, Lake(data) as files_lake:
        for report, files_report in zip(KEPT_REPORTS, reports, strict=True):
            taken = [o for o in report.outcomes if o.status == "ingested"]
            assert taken and all(set(o.tables) == {"parts", "tidy"} for o in taken)
            assert all(o.tables is None for o in files_report.outcomes)  # not asked for: none kept
            fast = context_of_ingest(lake, report)
            assert set(fast.ingested.kept) == {o.sha256 for o in taken}
            assert all(o.tables is None for o in report.outcomes)  # taken over by the context
            from_files = IngestedLots.of(lake, [o.sha256 for o in taken])  # the same files, read
            lake_way = AlertContext(lake, fast.lots, fast.quarantined)
            files_way = context_of_ingest(files_lake, files_report)
            for _product, lot, stage in fast.lot_keys():
                kept_parts = fast.ingested.lot_frame("parts", lot, stage)
                assert kept_parts is not None and kept_parts.height
                assert kept_parts.equals(from_files.lot_frame("parts", lot, stage))
                assert kept_parts.schema == from_files.lot_frame("parts", lot, stage).schema
                kept_results = fast.ingested.lot_results(lot, stage, PAT_COLUMNS)
                read_results = from_files.lot_results(lot, stage, PAT_COLUMNS)
                assert kept_results.num_rows == read_results.num_rows > 0
                for column in PAT_COLUMNS:  # the values as read (dictionaries may differ in order)
                    assert kept_results[column].to_pylist() == read_results[column].to_pylist(), column
            for rule in config.rules:
                found = rule.rule.evaluate(fast, rule.params)
                assert found == rule.rule.evaluate(lake_way, rule.params), rule.name
                assert found == rule.rule.evaluate(files_way, rule.params), rule.name
            assert fast.holds() == lake_way.holds()


def test_the_ingest_facts_and_the_lake_queries_find_the_same_alerts(ingests):
    data, reports = ingests
    config = loads_config(RULES, "test rules")
    fired = set()
    with Lake(data) as lake:
        for report in reports:
            fast = context_of_ingest(lake, report)
            lake_way = AlertContext(lake, fast.lots, fast.quarantined)  # no ingest facts: DuckDB queries
            for product, lot, stage in fast.lot_keys():
                # the lot's one file is read by the ingest's way, not the lake's
                assert fast.ingested.knows([(product, lot, stage)])
                assert fast.ingested.lot_frame("parts", lot, stage) is not None
            for rule in config.rules:
                found = rule.rule.evaluate(fast, rule.params)
                assert found == rule.rule.evaluate(lake_way, rule.params), rule.name
                if found:
                    fired.add(rule.kind)
            assert fast.holds() == lake_way.holds()
            assert fast.known_signatures("wafer_sort") == lake_way.known_signatures("wafer_sort")
    assert lake_way.known_signatures("wafer_sort") == {"TCX4417-Q1": {"none"}}
    assert fired == set(PARAMS)  # every built-in rule found something, so no comparison was of nothing


# The recipe's PAT rule as shipped, then with variants the count takes another way for: dynamic
# limits over the whole lot, alarmed results judged too, static limits only, a few tests only.
PAT_VARIANTS = {
    "shipped": {},
    "lot scope": {"dynamic": {"scope": "lot"}},
    "alarms included": {"alarmed": "include"},
    "static only": {"dynamic": None},
    "two tests, 10 parts a wafer": {"tests": (1000, 1001), "dynamic": {"min_parts": 10}},
}


@pytest.mark.parametrize("variant", list(PAT_VARIANTS))
def test_the_pat_count_equals_the_screening_of_the_lot(ingests, variant):
    """pat_share_of_lot against silicio.yields.screen with the same static limits, lot and recipe."""
    from dataclasses import replace

    from silicio.alerts.ingested import PAT_COLUMNS, pat_share_of_lot
    from silicio.yields import disposition as rules
    from silicio.yields.rules import registered_rules
    from silicio.yields.screening import screen

    data, reports = ingests
    registered = registered_rules()
    recipe = rules.default_recipe()
    changes = dict(PAT_VARIANTS[variant])

    def changed(name, params):
        if name != "pat" or not changes:
            return params
        dynamic = changes.pop("dynamic", params.dynamic)
        if isinstance(dynamic, dict):
            dynamic = replace(params.dynamic, **dynamic)
        return replace(params, dynamic=dynamic, **changes)

    recipe = replace(
        recipe, rules=tuple((n, changed(n, p)) for n, p in recipe.rules if registered[n].kind == "pat")
    )
    with Lake(data) as lake:
        context = context_of_ingest(lake, reports[0])
        ((product, lot, stage),) = context.lot_keys()
        static = context.static_pat_limits(product, stage, lot)
        assert static is not None and static.num_rows
        parts = context.lot_parts(lot, stage)
        counted = pat_share_of_lot(context.ingested_results(lot, stage, PAT_COLUMNS), parts, static, recipe)
        lake_way = AlertContext(lake, context.lots)
        tidy = lake_way.lot_tidy(lot, stage, rules.SCREEN_COLUMNS)
        screened = screen(tidy, recipe, static, parts=lake_way.lot_parts(lot, stage))
    (row,) = rules.pat_shares({product: screened}, stage=stage).iter_rows(named=True)
    assert counted == (row["pat_parts"], row["n_parts"])
    if variant == "shipped":
        assert counted[0] >= 1  # TK41879 has a PAT outlier: not a comparison of zeros


def test_the_compiled_passes_give_each_groups_population_and_the_results_outside_the_limits():
    """silicio.alerts.ingested's static and dynamic passes against a computation group by group
    with numpy's mean and sample standard deviation (ddof 1) on random results: some not judged,
    some without static limits, some outside the specification or the static limits, NaN limits."""
    import numpy as np

    from silicio.alerts.ingested import _dynamic_pass, _static_pass

    rng = np.random.default_rng(7)
    size, n_tests, n_owners = 5000, 4, 3
    judged = rng.random(size) < 0.9
    test = rng.integers(0, n_tests, size)
    owner = rng.integers(0, n_owners, size)
    value = rng.normal(10.0, 2.0, size)
    spec_lo = np.where(rng.random(size) < 0.2, np.nan, 4.0 + rng.random(size))
    spec_hi = np.where(rng.random(size) < 0.2, np.nan, 15.0 + rng.random(size))
    row_of_test = np.array([0, -1, 1, 2])  # test 1 has no static limits
    static_lo = np.array([5.0, np.nan, 6.0])  # NaN: a skipped test's none
    static_hi = np.array([16.0, 13.0, np.nan])

    rejected, count, mean, sigma, lsl, usl = _static_pass(
        [(0, size)],
        judged,
        test,
        [owner],
        [value],
        [spec_lo],
        [spec_hi],
        row_of_test,
        static_lo,
        static_hi,
        n_owners,
        n_tests,
        True,
    )
    with np.errstate(invalid="ignore"):
        has = row_of_test[test] >= 0
        lo = np.where(has, static_lo[row_of_test[test]], np.nan)
        hi = np.where(has, static_hi[row_of_test[test]], np.nan)
        outside_static = (value < lo) | (value > hi)
        in_spec = ~((value < spec_lo) | (value > spec_hi))
    assert (rejected == (judged & has & outside_static)).all()
    assert rejected.sum() > 10
    for o in range(n_owners):
        for t in range(n_tests):
            g = o * n_tests + t
            chosen = judged & has & ~outside_static & in_spec & (owner == o) & (test == t)
            assert count[g] == chosen.sum()
            if not chosen.any():
                continue
            values = value[chosen]
            assert mean[g] == pytest.approx(np.mean(values), rel=1e-13)
            assert sigma[g] == pytest.approx(np.std(values, ddof=1), rel=1e-12)
            lows, highs = spec_lo[chosen], spec_hi[chosen]
            np.testing.assert_equal(lsl[g], max((x for x in lows if x == x), default=np.nan))  # NaN: no limit
            np.testing.assert_equal(usl[g], min((x for x in highs if x == x), default=np.nan))
    assert count[1 * n_tests + 1] == 0 and count[0] > 100  # no population without static limits

    dynamic_lo = mean - 1.5 * sigma
    dynamic_hi = np.where(np.arange(count.size) % 2 == 0, mean + 1.5 * sigma, np.nan)  # NaN: no limit
    before = rejected.copy()
    _dynamic_pass(judged, test, owner, value, row_of_test, n_tests, dynamic_lo, dynamic_hi, rejected)
    group = owner * n_tests + test
    with np.errstate(invalid="ignore"):
        outside_dynamic = (value < dynamic_lo[group]) | (value > dynamic_hi[group])
    assert (rejected == (before | (judged & has & outside_dynamic))).all()
    assert (rejected & ~before).sum() > 100


def test_test_codes_follow_number_and_pin_and_refuse_two_names_under_one():
    """Codes in order of first appearance with each code's first row, dense or sparse numbers;
    None when one number and pin carry two names (the screening keys those apart)."""
    import numpy as np

    from silicio.alerts.ingested import _test_codes

    names = np.array([11, 22, 33, 11, 22, 33], np.uint64)
    for numbers in ([1000, 1001, 1000, 1000, 1001, 1000], [7, 4_000_000_000, 7, 7, 4_000_000_000, 7]):
        code, first = _test_codes(np.array(numbers, np.int64), np.array([-1, -1, 3, -1, -1, 3]), names)
        assert code.tolist() == [0, 1, 2, 0, 1, 2]
        assert first.tolist() == [0, 1, 2]
    renamed = names.copy()
    renamed[3] = 99  # test 1000 pin null named "11" in row 0, "99" in row 3
    assert (
        _test_codes(np.array([1000, 1001, 1000, 1000, 1001, 1000]), np.array([-1, -1, 3, -1, -1, 3]), renamed)
        is None
    )


class PartCountRule(AlertRule):
    """A plugin rule written for the first interface: it reads the lake through DuckDB itself."""

    name = "part_count"
    title = "parts of each lot"
    parameters: dict = {}

    def evaluate(self, context, params):
        from silicio.lake import queries

        return [Finding(subject=f"{lot}/{stage}", title=f"lot {lot}",
                        detail={"parts": queries.lot_parts(context.lake, lot, stage).num_rows,
                                "parts_of_the_context": context.lot_parts(lot, stage).height})
                for _, lot, stage in context.lot_keys()]  # fmt: skip


def test_a_plugin_rule_of_the_first_interface_runs_beside_the_builtin_ones_at_ingest(
    ingests, tmp_path, monkeypatch
):
    from tests.lake.conftest import register_entry_point

    register_entry_point(monkeypatch, tmp_path / "plugins", "silicio.alert_rules", "part_count",
                         f"{__name__}:PartCountRule")  # fmt: skip
    data, reports = ingests
    text = '[[rule]]\nname = "parts"\nkind = "part_count"\n' + RULES
    with Lake(data) as lake:
        result = evaluate(lake, loads_config(text, "plugin and built-in rules"), context_of_ingest(lake, reports[0]),
                          actor="test", record_holds=False)  # fmt: skip
    assert result.errors == []
    (plugin,) = [r for r in result.raised if r["rule"] == "parts"]
    assert plugin["detail"]["parts"] == plugin["detail"]["parts_of_the_context"] > 0
    assert any(r["rule"] == "pat_outlier_rate" for r in result.raised)


def test_evaluations_at_ingest_share_the_process_catalog_and_keep_no_connection_open(ingests):
    """silicio.alerts.open_lake: the lake of each evaluation after an ingest is opened on one
    catalog kept for the process (its engine's compiled statements reused), whose connections
    are closed after each evaluation; a lake opened plainly has its own."""
    from silicio.alerts import open_lake

    data, reports = ingests
    config = loads_config('[[rule]]\nname = "files"\nkind = "quarantined_file"\n', "one rule")
    with open_lake(data) as first:
        catalog = first.catalog
        context = context_of_ingest(first, reports[0])
        assert context.ingested.catalog is catalog
        assert evaluate(first, config, context, actor="test", record_holds=False).errors == []
        assert catalog.engine.pool.checkedout() == 0 and catalog.engine.pool.checkedin() == 0
    with open_lake(data) as second, Lake(data) as plain:
        assert second.catalog is catalog
        assert plain.catalog is not catalog
        assert context_of_ingest(plain, reports[0]).ingested.catalog is catalog
        assert (
            second.rows("SELECT count(*) FROM files")[0][0]
            == plain.rows("SELECT count(*) FROM files")[0][0]
            > 0
        )


def test_the_holds_at_ingest_are_recorded_through_the_kept_catalogs_engine(ingests, tmp_path, monkeypatch):
    """The lots the rules hold are recorded in the trace store's audit log through the engine of
    the catalog kept for the process (no engine made a lot, its statements compiled once), which
    closing the store leaves to its owner; the hold is in the log, where a store of its own reads it."""
    import shutil as shell

    import silicio.trace.store as trace_store
    from silicio.alerts import open_lake
    from silicio.trace.disposition import rule_held

    data, reports = ingests
    copy = tmp_path / "data"
    shell.copytree(data, copy)
    config = loads_config('[[rule]]\nname = "files"\nkind = "quarantined_file"\n', "one rule")

    def no_new_engine(url):
        raise AssertionError(f"an engine made for the trace store on {url}")

    with monkeypatch.context() as patch:
        patch.setattr(trace_store, "catalog_engine", no_new_engine)
        with open_lake(copy) as lake:
            result = evaluate(lake, config, context_of_ingest(lake, reports[1]), actor="test")
            engine = lake.catalog.engine
    assert result.errors == [] and result.rule_holds == ["HX0007"]
    assert engine.pool.checkedout() == 0
    with trace_store.TraceStore.at(copy) as store:
        assert "HX0007" in rule_held(store)


def test_the_stored_history_is_read_once_a_process_until_a_limits_update_or_a_freeze(
    ingests, tmp_path, monkeypatch
):
    """The stored versions and static PAT limits the rules at ingest judge against are read once
    a process (silicio.alerts.ingested.stored_history), not once a lot: the next evaluation's
    facts are the same without reading them again; a new `limits update` and a freeze (each
    logged in baseline_events) make the next one read them again, and see the new version and the
    frozen one."""
    from silicio.alerts.ingested import IngestedLots
    from silicio.lake.catalog import Catalog
    from silicio.yields.history import update_limits

    data, reports = ingests
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    reads: list[str] = []
    versions_of, pat_limits_of = Catalog.baseline_versions, Catalog.baseline_pat_limits
    monkeypatch.setattr(
        Catalog, "baseline_versions", lambda self, key: reads.append("versions") or versions_of(self, key)
    )
    monkeypatch.setattr(Catalog, "baseline_pat_limits",
                        lambda self, version: reads.append("pat") or pat_limits_of(self, version))  # fmt: skip
    shas = [o.sha256 for report in reports for o in report.outcomes if o.status == "ingested"]

    def facts():
        with Lake(copy) as lake:
            ingested = IngestedLots.of(lake, shas)
            out = {}
            for product, lot, stage in ingested.lots().iter_rows():
                baseline, _ = ingested.stored_baseline(product, stage, lot)
                versions = ingested.stored_versions(ingested.history_key(product, stage, lot)[0])
                out[lot] = (baseline, ingested.static_limits(product, stage, lot), versions)
            return out

    first = facts()
    assert set(first) == {"TK41879", "HX0007"}
    assert all(baseline is not None for baseline, _, _ in first.values())
    assert first["TK41879"][1] is not None and first["TK41879"][1].num_rows  # the demo's PAT limits
    assert reads.count("versions") == 2 and reads.count("pat") >= 1
    read_before = len(reads)
    assert facts() == first
    assert len(reads) == read_before  # nothing read again: the history is unchanged

    with Lake(copy) as lake:
        update_limits(lake, actor="test")
    updated = facts()
    assert reads.count("versions") == 4  # read again after the update
    for lot, (_, _, versions) in updated.items():
        assert len(versions) == len(first[lot][2]) + 1, lot
        assert not versions[-1]["frozen"]
    with Lake(copy) as lake:
        key = IngestedLots.of(lake, shas).history_key("TCX4417-Q1", "wafer_sort", "TK41879")[0]
        lake.catalog.set_baseline_frozen(key, True, actor="test")
    frozen = facts()
    assert reads.count("versions") == 6  # and after the freeze
    assert frozen["TK41879"][2][-1]["frozen"] and not updated["TK41879"][2][-1]["frozen"]
