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

import pyarrow as pa
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


def test_the_known_signatures_at_ingest_are_read_once_at_their_first_lookup(ingests):
    """At ingest the signature classes a product's wafers have had are read from the catalog when
    a rule first looks one up (most lots have no wafer whose class asks), once: the classes the
    lake's way reads."""
    import sqlalchemy as sa

    data, reports = ingests
    statements: list[str] = []

    def executed(_connection, _cursor, statement, *_):
        statements.append(statement)

    with Lake(data) as lake:
        fast = context_of_ingest(lake, reports[0])
        engine = fast.ingested.catalog.engine
        sa.event.listen(engine, "before_cursor_execute", executed)
        try:
            seen = fast.known_signatures("wafer_sort")
            assert statements == []
            assert seen.get("TCX4417-Q1") == {"none"} and seen.get("another product") is None
            assert dict(seen) == AlertContext(lake, fast.lots).known_signatures("wafer_sort")
        finally:
            sa.event.remove(engine, "before_cursor_execute", executed)
    assert len(statements) == 1 and "wafer_signatures" in statements[0]


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


def _chunked(columns: dict, chunk_rows: int) -> pa.Table:
    """``columns`` as a results table in chunks of ``chunk_rows`` rows, its texts dictionary-encoded
    chunk by chunk (each chunk a dictionary of its own, as the chunks of a Parquet file may be)."""
    table = pa.table(columns)
    return pa.Table.from_batches(
        [pa.RecordBatch.from_arrays([c.dictionary_encode() if pa.types.is_string(c.type) else c for c in b.columns],
                                    names=b.schema.names) for b in table.to_batches(max_chunksize=chunk_rows)]
    )  # fmt: skip


def test_the_pat_count_equals_the_screening_at_the_limits_edges():
    """pat_share_of_lot against silicio.yields.screen on a lot made for the edges: a float32 result
    exactly at a static limit (kept) and one float32 step below it (rejected); a result exactly at
    its wafer's dynamic limit (one result among 63 zeros is at (n - 1) / sqrt(n) = 7.875 sigma, n
    64: every number exact), kept; one beyond it (99 zeros), rejected; a null result, an alarmed
    and a functional one left out; pins all null in the first chunk and some in the others; a
    second test under number 1000 (its own name and static limits: the screening keys the two
    apart), one of its results outside its limits and inside the first test's."""
    from dataclasses import replace

    import numpy as np
    import polars as pl

    from silicio.alerts.ingested import pat_share_of_lot
    from silicio.yields import disposition as rules
    from silicio.yields.pat import STATIC_SCHEMA, TEST_FLG_ALARM
    from silicio.yields.rules import registered_rules
    from silicio.yields.screening import screen

    at_static = np.float32(0.3)
    below_static = np.nextafter(at_static, np.float32(-1))
    rows = []  # wafer, part, test_num, test_name, pin, test_type, result, test_flg
    for part in range(64):  # W1: 128 rows, the first chunk
        rows.append(("W1", part, 1000, "VDD", None, "P", 8.0 if part == 63 else 0.0, 0))
        idd = at_static if part == 0 else below_static if part == 1 else np.float32(0.3 + part * 0.01)
        rows.append(("W1", part, 1001, "IDD", None, "P", float(idd), 0))
    for part in range(64, 164):  # W2
        vdd = 50.0 if part == 163 else None if part == 70 else 60.0 if part == 71 else 0.0
        rows.append(("W2", part, 1000, "VDD", None, "P", vdd, TEST_FLG_ALARM if part == 71 else 0))
        rows.append(("W2", part, 1002, "VMPR", 3, "P", (part % 7) * 0.1, 0))
        rows.append(("W2", part, 1003, "FUNC", None, "F", 1e6 if part == 80 else 1.0, 0))
        if part < 69:  # too few for dynamic limits
            rows.append(("W2", part, 1000, "VDD_LOW", None, "P", 20.0 if part == 65 else 0.0, 0))
    wafer, part, number, name, pin, kind, result, flags = (list(c) for c in zip(*rows, strict=True))
    n = len(rows)
    columns = {
        "lot_id": ["EDGE1"] * n, "wafer_id": wafer, "part_index": pa.array(part, pa.int64()),
        "test_num": pa.array(number, pa.uint32()), "test_name": name, "pin": pa.array(pin, pa.uint16()),
        "test_type": kind, "result": pa.array(result, pa.float32()), "lo_limit": pa.array([-1000.0] * n),
        "hi_limit": pa.array([1000.0] * n), "part_passed": pa.array([True] * n), "is_last_test": pa.array([True] * n),
        "test_flg": pa.array(flags, pa.uint8()),
    }  # fmt: skip
    results = _chunked(columns, 128)
    assert results["pin"].chunk(0).null_count == 128 and 0 < results["pin"].chunk(1).null_count < 128
    parts = pl.DataFrame({
        "lot_id": "EDGE1", "wafer_id": ["W1"] * 64 + ["W2"] * 100, "part_index": list(range(164)),
        "part_id": [str(p) for p in range(164)], "x": [p % 20 for p in range(164)], "y": [p // 20 for p in range(164)],
        "hard_bin": 1, "soft_bin": 1, "passed": True, "is_last_test": True,
    })  # fmt: skip
    static = pl.DataFrame(
        [{"test_num": 1000, "test_name": "VDD", "pin": None, "pat_lo": -100.0, "pat_hi": 100.0, "skipped": False},
         {"test_num": 1001, "test_name": "IDD", "pin": None, "pat_lo": float(at_static), "pat_hi": 100.0,
          "skipped": False},
         {"test_num": 1002, "test_name": "VMPR", "pin": 3, "pat_lo": -100.0, "pat_hi": 100.0, "skipped": False},
         {"test_num": 1000, "test_name": "VDD_LOW", "pin": None, "pat_lo": -10.0, "pat_hi": 10.0,
          "skipped": False}],
        schema=STATIC_SCHEMA,
    ).to_arrow()  # fmt: skip
    registered = registered_rules()
    recipe = rules.default_recipe()
    recipe = replace(recipe, rules=tuple(
        (name, replace(p, dynamic=replace(p.dynamic, n=7.875, min_parts=10))) for name, p in recipe.rules
        if registered[name].kind == "pat"
    ))  # fmt: skip
    counted = pat_share_of_lot(results, parts, static, recipe)
    tidy = pl.from_arrow(pa.table(columns)).with_columns(
        pl.lit(None, pl.String).alias("part_id"), pl.lit(0, pl.Int16).alias("x"), pl.lit(0, pl.Int16).alias("y"),
        pl.lit(1, pl.UInt16).alias("hard_bin"), pl.lit(1, pl.UInt16).alias("soft_bin"),
    )  # fmt: skip
    screened = screen(tidy, recipe, static, parts=parts)
    (row,) = rules.pat_shares({"P": screened}).iter_rows(named=True)
    # W1 part 1 (static), W2 part 65 (VDD_LOW's static), W2 part 163
    assert counted == (row["pat_parts"], row["n_parts"]) == (3, 164)


def _pat_params(**changes):
    from dataclasses import replace

    from silicio.yields import disposition as rules

    (params,) = [p for name, p in rules.default_recipe().rules if name == "pat"]
    dynamic = changes.pop("dynamic", {})
    return replace(params, dynamic=None if dynamic is None else replace(params.dynamic, **dynamic), **changes)


def test_the_outliers_are_outside_the_static_limits_or_their_groups_dynamic_limits():
    """silicio.alerts.ingested's passes against the limits computed group by group with numpy's
    mean and sample standard deviation (ddof 1) and the screening's clamp (pat_limits) on random
    results in chunks: some not judged, some without static limits, some outside the specification
    or the static limits, NaN limits; dense and sparse test numbers alike, a number carrying two
    tests (two names: the screening keys them apart)."""
    import numpy as np

    from silicio.alerts.ingested import _Chunks, _outlier_rows, _StaticLimits
    from silicio.yields.pat import pat_limits

    rng = np.random.default_rng(7)
    size, numbers, wafers = 6000, np.array([1000, 1001, 1002, 1003]), np.array(["W1", "W2", "W3"])
    test, owner = rng.integers(0, 4, size), rng.integers(0, 3, size)
    judged = rng.random(size) < 0.9
    value = rng.normal(10.0, 2.0, size).astype(np.float32)
    spec_lo = np.where(rng.random(size) < 0.2, np.nan, 4.0 + rng.random(size))
    spec_hi = np.where(rng.random(size) < 0.2, np.nan, 15.0 + rng.random(size))
    row_of_test = np.array([0, -1, 1, 2])  # test 1001 has no static limits
    static_lo = np.array([5.0, np.nan, 6.0])  # NaN: a skipped test's none
    static_hi = np.array([16.0, 13.0, np.nan])
    params = _pat_params(dynamic={"n": 1.5, "min_parts": 30})

    has = row_of_test[test] >= 0
    lo, hi = (np.where(has, limit[row_of_test[test]], np.nan) for limit in (static_lo, static_hi))
    with np.errstate(invalid="ignore"):
        outside_static = judged & has & ((value < lo) | (value > hi))
        population = judged & has & ~outside_static & ~((value < spec_lo) | (value > spec_hi))
    dynamic_lo, dynamic_hi = np.full(size, np.nan), np.full(size, np.nan)
    for o in range(3):
        for t in (0, 2, 3):
            group = (owner == o) & (test == t)
            values = value[population & group].astype(np.float64)
            if values.size < 30:
                continue
            lows, highs = spec_lo[population & group], spec_hi[population & group]
            limits = pat_limits(np.mean(values), np.std(values, ddof=1), 1.5,
                                max((x for x in lows if x == x), default=np.nan),
                                min((x for x in highs if x == x), default=np.nan))  # fmt: skip
            # a side clamped to the static limit is the static limit's
            dynamic_lo[group] = np.nan if limits[0] < static_lo[row_of_test[t]] else limits[0]
            dynamic_hi[group] = np.nan if limits[1] > static_hi[row_of_test[t]] else limits[1]
    with np.errstate(invalid="ignore"):
        outside_dynamic = judged & has & ~outside_static & ((value < dynamic_lo) | (value > dynamic_hi))
    expected = np.flatnonzero(outside_static | outside_dynamic)
    assert outside_static.sum() > 10 and outside_dynamic.sum() > 100

    def outliers(numbers, names):
        table = _chunked({
            "wafer_id": wafers[owner], "part_index": np.arange(size), "test_num": numbers[test].astype(np.uint32),
            "test_name": names[test], "pin": pa.nulls(size, pa.uint16()), "test_type": ["P"] * size,
            "result": value, "lo_limit": spec_lo, "hi_limit": spec_hi, "part_passed": judged,
            "is_last_test": np.ones(size, bool), "test_flg": np.zeros(size, np.uint8),
        }, 1000)  # fmt: skip
        keys = [(int(numbers[t]), str(names[t]), None) for t in (0, 2, 3)]
        return _outlier_rows(_Chunks(table), _StaticLimits(keys, static_lo, static_hi), params)

    names = np.array(["A", "B", "C", "D"])
    np.testing.assert_array_equal(np.sort(outliers(numbers, names)), expected)
    sparse = np.array([7, 4_000_000_000, 12, 3_000_000_000])  # a dense table of their range: too big
    np.testing.assert_array_equal(np.sort(outliers(sparse, names)), expected)
    for tests in (numbers, sparse):  # tests 0 and 3 under one number, told apart by their names
        np.testing.assert_array_equal(np.sort(outliers(tests[[0, 1, 2, 0]], names)), expected)


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


def test_evaluations_at_ingest_keep_the_process_catalogs_connection_until_the_lake_is_made_again(
    ingests, tmp_path
):
    """silicio.alerts.open_lake: the evaluations after ingests into a lake share one catalog kept
    for the process and its connection (a SQLite connection opened anew reads the schema again),
    which holds no lock between them; a lake opened plainly has its own. A lake deleted and made again at the same path is another
    database file: the next evaluation connects to it, and stores its alert and records its hold
    there, where a catalog and a trace store of their own read them."""
    import sqlite3

    import sqlalchemy as sa

    from silicio.alerts import open_lake
    from silicio.lake.queries.alerts import alert_rows
    from silicio.trace.disposition import rule_held
    from silicio.trace.store import TraceStore

    data, reports = ingests
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    config = loads_config('[[rule]]\nname = "files"\nkind = "quarantined_file"\n', "one rule")
    opened: list[int] = []

    def evaluated():
        with open_lake(copy) as lake:
            return evaluate(lake, config, context_of_ingest(lake, reports[1]), actor="test"), lake.catalog

    with open_lake(copy) as lake:
        catalog = lake.catalog
    sa.event.listen(catalog.engine, "connect", lambda *_: opened.append(1))
    first, _ = evaluated()
    assert first.errors == [] and first.raised and first.rule_holds == ["HX0007"]
    again, second_catalog = evaluated()
    assert second_catalog is catalog and again.raised == [] and again.rule_holds == []  # stored already
    assert opened == [] and catalog.engine.pool.checkedin() == 1
    writer = sqlite3.connect(copy / "catalog.sqlite", timeout=0)  # the kept connection holds no lock
    writer.execute("BEGIN EXCLUSIVE")
    writer.rollback()
    writer.close()
    with Lake(copy) as plain:
        assert plain.catalog is not catalog

    shutil.rmtree(copy)
    shutil.copytree(data, copy)
    made_again, _ = evaluated()  # the alert and the hold again, the same id in the same database made again
    assert _alert_keys(made_again.raised) == _alert_keys(first.raised) and made_again.rule_holds == ["HX0007"]
    with Lake(copy) as own:
        stored = alert_rows(own.catalog.engine, ids=[r["id"] for r in made_again.raised])
    assert _alert_keys(stored) == _alert_keys(reversed(made_again.raised))  # newest first
    with TraceStore.at(copy) as store:
        assert "HX0007" in rule_held(store)
    assert opened == [1]


def _alert_keys(rows) -> list[tuple]:
    return [(r["id"], r["rule"], r["subject"]) for r in rows]


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


def test_the_lots_in_test_order_are_those_of_the_lakes_lot_index(ingests):
    """The holds at ingest take the lots in the order of the lake's lot index (as the lake's way
    judges them): every lot of the lake, asked in reverse and one of them twice."""
    from silicio.alerts.ingested import IngestedLots
    from silicio.lake import queries

    data, _ = ingests
    with Lake(data) as lake:
        index = [(r["product"], r["lot"], r["stage"]) for r in queries.lot_index(lake).iter_rows(named=True)]
        ingested = IngestedLots.of(lake, [r["sha256"] for r in lake.catalog.rows("files")])
        assert len(index) > 10
        asked = [*index[::-1], index[3]]
        assert ingested.in_test_order(asked) == [*index[:3], index[3], *index[3:]]
