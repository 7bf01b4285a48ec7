"""A line without stored limits (a new program, before ``silicio limits update``): the rules at
ingest store the program's first lot-history version once its newest lot has six earlier lots,
logged with the actor ``ingest`` as "establish", and judge the next lots against it; before
that, the lots with too few earlier lots are noted without reading the lake's history.

The lots are those of tests/lake/test_history.py: six near 90 % yield, the seventh (HX0007) at
half that, below SYL2 of the six; its limits are recomputed here from the lots' written dies."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from silicio import lake as silicio_lake
from silicio.alerts import KEPT_AT_INGEST, AlertContext, context_of_ingest, evaluate, loads_config, open_lake
from silicio.lake.query import Lake
from tests.lake.test_history import (
    KEY,
    LOTS,
    PRODUCT,
    _passing_vref_values,
    _robust_limits,
    bin_fallout,
    lot_start,
    lot_yield,
    write_history_lot,
)

HISTORY_RULES = """
[[rule]]
name = "syl"
kind = "yield_below_syl"
[[rule]]
name = "sbl"
kind = "bin_above_sbl"
[[rule]]
name = "pat"
kind = "pat_outlier_rate"
[rule.params]
max_share = 0.0
"""
OTHER_RULES = """
[[rule]]
name = "quarantine"
kind = "quarantined_file"
[[rule]]
name = "spc"
kind = "spc_violation"
"""
#: An eighth lot: HX0004's dies, tested a day after HX0007.
EIGHTH = "HX0008"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("establish")
    out = {lot: write_history_lot(folder / f"{lot}.stdf", lot) for lot in LOTS}
    out[EIGHTH] = write_history_lot(folder / f"{EIGHTH}.stdf", "HX0004", name=EIGHTH,
                                    started=lot_start(LOTS[-1]) + timedelta(days=1))  # fmt: skip
    return out


def _ingest(data, path, rules: str | None, reads: list | None = None):
    """Ingest one file; with ``rules``, evaluate them as ``silicio ingest --alerts`` does: (the
    evaluation, the holds at ingest, the holds the lake's way after it, what was in ``reads``
    when the evaluation ended)."""
    report = silicio_lake.ingest([str(path)], data, workers=1, **({"keep": KEPT_AT_INGEST} if rules else {}))
    assert report.ok, report.outcomes
    if rules is None:
        return None
    with open_lake(data) as lake:
        context = context_of_ingest(lake, report)
        result = evaluate(lake, loads_config(rules, "test rules"), context, actor="ingest", send=False,
                          record_holds=False)  # fmt: skip
        assert not result.errors, result.errors
        read_at_ingest = list(reads or [])
        lake_way = AlertContext(lake, context.lots)  # no ingest facts: the lake's queries
        return result, context.holds(), lake_way.holds(), read_at_ingest


def _six_lot_limits():
    """SYL1 / SYL2 of the lot yields and SBL2 of bin 20 of the first six lots, computed here."""
    yields = np.array([lot_yield(lot) for lot in LOTS[:6]])
    fallout = np.array([bin_fallout(lot, 20) for lot in LOTS[:6]])
    return (yields.mean() - 3 * yields.std(ddof=1), yields.mean() - 4 * yields.std(ddof=1),
            fallout.mean() + 4 * fallout.std(ddof=1))  # fmt: skip


def test_a_new_programs_limits_are_established_at_its_seventh_lot_and_judge_the_next(
    tmp_path, files, monkeypatch
):
    from silicio.yields import disposition, history

    data = tmp_path / "data"
    lake_reads = []
    real_screen, real_judge = disposition.screen_lake, history.judge_lots_against_history
    monkeypatch.setattr(
        disposition, "screen_lake", lambda *a, **k: lake_reads.append("screen") or real_screen(*a, **k)
    )
    monkeypatch.setattr(history, "judge_lots_against_history",
                        lambda *a, **k: lake_reads.append("judge") or real_judge(*a, **k))  # fmt: skip
    for n, lot in enumerate(LOTS[:6]):
        lake_reads.clear()
        result, held, lake_held, read = _ingest(data, files[lot], HISTORY_RULES, lake_reads)
        assert result.established == [] and result.raised == []
        assert held == lake_held  # the notes included: the same words either way
        assert f"lot {lot} ({KEY}): {n} lot(s) tested before it, fewer than the 6" in " ".join(held.notes)
        # fewer than six lots of the product: nothing of the lake's history read at ingest; the
        # sixth has its PAT share from preliminary limits of the six lots, so they are screened
        assert read == ([] if n < 5 else ["screen"]), lot
    with Lake(data) as lake:
        assert lake.catalog.baseline_versions(KEY) == []

    lake_reads.clear()
    result, held, lake_held, read = _ingest(data, files["HX0007"], HISTORY_RULES, lake_reads)
    (update,) = result.established
    assert update.key == KEY and update.version == 1 and update.lots == tuple(LOTS[:6])
    assert read == [] and held == lake_held  # judged against the version stored, either way
    syl1, syl2, sbl2 = _six_lot_limits()
    by_rule = {row["rule"]: row for row in result.raised}
    assert {"syl", "sbl"} <= set(by_rule)
    with Lake(data) as lake:
        (version,) = lake.catalog.baseline_versions(KEY)
        events = lake.catalog.baseline_events(KEY)
        flags = history.judge_lot_against_history(lake, PRODUCT, "wafer_sort", "HX0007").to_pylist()
        pat_rows = lake.catalog.baseline_pat_limits(version["id"])
    assert [(e["actor"], e["action"], e["version"]) for e in events] == [("ingest", "establish", 1)]
    assert version["actor"] == "ingest" and [lot["lot"] for lot in version["lots"]] == LOTS[:6]
    assert version["review_by"] == version["computed_at"].date() + timedelta(days=history.DEFAULT_REVIEW_DAYS)
    syl = next(f for f in flags if f["scope"] == "lot" and f["bin"] is None)
    assert syl["rule"] == "SYL2" and syl["baseline_version"] == 1
    assert syl["limit"] == pytest.approx(syl2) and syl["value"] == pytest.approx(lot_yield("HX0007"))
    assert lot_yield("HX0007") < syl2 < syl1
    sbl = next(f for f in flags if f["scope"] == "lot" and f["bin"] == 20)
    assert sbl["rule"] == "SBL2" and sbl["limit"] == pytest.approx(sbl2)
    # the static PAT limits stored: AEC-Q001 robust limits of the six lots' passing results
    (vref,) = pat_rows
    earlier = [v for lot in LOTS[:6] for v in _passing_vref_values(lot)]
    assert (vref["pat_lo"], vref["pat_hi"]) == pytest.approx(_robust_limits(earlier), rel=1e-12)

    # The eighth lot is judged against version 1 (the six lots), not against its seven earlier lots.
    from silicio.alerts.ingested import IngestedLots

    real_lots = IngestedLots.history_lots
    monkeypatch.setattr(IngestedLots, "history_lots",
                        lambda self, *a: lake_reads.append("catalog lots") or real_lots(self, *a))  # fmt: skip
    lake_reads.clear()
    result, held, lake_held, read = _ingest(data, files[EIGHTH], HISTORY_RULES, lake_reads)
    assert result.established == [] and held == lake_held
    assert not [r for r in result.raised if r["rule"] in ("syl", "sbl")]  # HX0004's dies: a normal lot
    # judged against the stored version: no lake-wide screening or judgement, not even the
    # catalog's list of the program's lots
    assert read == []
    with Lake(data) as lake:
        assert len(lake.catalog.baseline_versions(KEY)) == 1
        baseline = history.history_baseline(lake, PRODUCT, "wafer_sort", EIGHTH)
    assert baseline.version == 1 and baseline.lot_ids == LOTS[:6]


def test_rules_that_judge_no_lot_history_store_no_limits(tmp_path, files):
    data = tmp_path / "data"
    for lot in LOTS:
        result, held, lake_held, _ = _ingest(data, files[lot], OTHER_RULES)
        assert result.established == []
    with Lake(data) as lake:
        assert lake.catalog.baseline_versions(KEY) == [] and lake.catalog.baseline_events(KEY) == []


def test_a_lot_tested_before_another_of_its_program_establishes_nothing(tmp_path, files):
    """A backfill: HX0007 arrives after HX0008, which was tested after it. It is judged against
    limits computed now from its six earlier lots (not stored), as without the rules."""
    from silicio.yields.history import judge_lot_against_history

    data = tmp_path / "data"
    for lot in [*LOTS[:6], EIGHTH]:
        _ingest(data, files[lot], None)
    result, held, lake_held, _ = _ingest(data, files["HX0007"], HISTORY_RULES)
    assert result.established == [] and held == lake_held
    assert {"syl", "sbl"} <= {row["rule"] for row in result.raised}
    with Lake(data) as lake:
        assert lake.catalog.baseline_versions(KEY) == []
        flags = judge_lot_against_history(lake, PRODUCT, "wafer_sort", "HX0007").to_pylist()
    syl = next(f for f in flags if f["scope"] == "lot" and f["bin"] is None)
    assert syl["baseline_version"] is None and syl["limit"] == pytest.approx(_six_lot_limits()[1])
    # the next lot of the line, the newest, establishes them from its seven earlier lots
    write_history_lot(
        tmp_path / "HX0009.stdf", "HX0002", name="HX0009", started=lot_start(LOTS[-1]) + timedelta(days=2)
    )
    result, *_ = _ingest(data, tmp_path / "HX0009.stdf", HISTORY_RULES)
    (update,) = result.established
    assert update.version == 1 and update.lots == (*LOTS, EIGHTH)


def test_the_catalogs_lots_of_a_program_are_the_lakes(tmp_path, files):
    """:func:`catalog_history_lots` (SQLAlchemy, at ingest) gives the rows of the lake's
    :func:`history_lots` (DuckDB): first file's program, earliest start, files, order."""
    from silicio.lake.queries.alerts import catalog_history_lots
    from silicio.lake.queries.history import history_lots

    data = tmp_path / "data"
    retest = write_history_lot(tmp_path / "retest.stdf", "HX0003", retest_bin=20)
    other = write_history_lot(tmp_path / "other.stdf", "HX0002", name="HX0002B", started=lot_start("HX0002"))
    assert silicio_lake.ingest(
        [str(files[lot]) for lot in LOTS] + [str(retest), str(other)], data, workers=1
    ).ok
    with Lake(data) as lake:
        expected = history_lots(lake, PRODUCT, "wafer_sort").to_pylist()
        with lake.catalog.engine.connect() as connection:
            got = catalog_history_lots(connection, PRODUCT, "wafer_sort")
    assert got == expected
    assert next(r for r in got if r["lot"] == "HX0003")["files"] == 2 and len(got) == len(LOTS) + 1


def test_a_first_only_version_is_not_stored_over_another(tmp_path, files):
    from silicio.yields.history import establish_limits, update_limits

    data = tmp_path / "data"
    assert silicio_lake.ingest([str(files[lot]) for lot in LOTS], data, workers=1).ok
    with Lake(data) as lake:
        (stored,) = update_limits(lake, actor="quality-lead")
        earlier = [(lot, lot_start(lot)) for lot in LOTS[:6]]
        from silicio.yields.disposition import default_recipe, establishing_settings

        update = establish_limits(
            lake, KEY, earlier, actor="ingest", settings=establishing_settings(default_recipe())
        )
        assert stored.version == 1 and update.version is None and "meanwhile" in update.notes[0]
        assert [(e["actor"], e["action"]) for e in lake.catalog.baseline_events(KEY)] == [
            ("quality-lead", "update")
        ]
        assert len(lake.catalog.baseline_versions(KEY)) == 1


def test_establishing_settings_are_the_recipes():
    from silicio.yields.disposition import default_recipe, establishing_settings, history_settings

    recipe = default_recipe()
    settings = establishing_settings(recipe)
    assert settings.min_lots == max(history_settings(None, recipe).min_lots, recipe.pat.min_lots) == 6
    assert (settings.pat_k, settings.iqr_zero, settings.quantile_method) == (
        recipe.pat.k,
        recipe.pat.iqr_zero,
        recipe.pat.quantile_method,
    )
    assert settings.bin_column == history_settings(None, recipe).bin_column


def test_silicio_ingest_with_alerts_says_it_established_the_limits(tmp_path, files):
    from typer.testing import CliRunner

    from silicio.cli import app

    data = tmp_path / "data"
    assert silicio_lake.ingest([str(files[lot]) for lot in LOTS[:6]], data, workers=1).ok
    rules = tmp_path / "alerts.toml"
    rules.write_text(HISTORY_RULES)
    command = ["ingest", str(files["HX0007"]), "--data", str(data), "--workers", "1", "--alerts", str(rules)]
    result = CliRunner().invoke(app, command, env={"NO_COLOR": "1", "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert f"lot-history limits established: {KEY} version 1 from 6 lots, by ingest" in result.output
    with Lake(data) as lake:
        (version,) = lake.catalog.baseline_versions(KEY)
    assert version["actor"] == "ingest"


def test_an_earlier_lot_without_a_tested_part_stores_nothing_and_is_no_error(tmp_path, files, monkeypatch):
    """The version would have a lot it cannot count: nothing is stored, the evaluation says why in
    the update's notes, and the rules judge the lot as without a version."""
    from silicio.lake.queries import history as queries

    data = tmp_path / "data"
    assert silicio_lake.ingest([str(files[lot]) for lot in LOTS[:6]], data, workers=1).ok
    real = queries.final_bin_counts
    monkeypatch.setattr(queries, "final_bin_counts",
                        lambda lake, product, stage, lots: real(lake, product, stage, [x for x in lots if x != "HX0001"]))  # fmt: skip
    result, held, lake_held, _ = _ingest(data, files["HX0007"], HISTORY_RULES)
    (update,) = result.established
    assert update.version is None and "no tested parts for lot(s) HX0001" in update.notes[0]
    assert result.errors == []
    with Lake(data) as lake:
        assert lake.catalog.baseline_versions(KEY) == []
