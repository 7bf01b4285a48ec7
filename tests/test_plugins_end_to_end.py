"""A data source and a screening rule that live in this test module, registered as entry points
the way another package registers them, used end to end without touching silicio's files:
ingest -> catalog -> screening -> lot report (and the holds the report carries)."""

from __future__ import annotations

import html
from dataclasses import dataclass

import polars as pl

import silicio
from silicio.lake import INGESTED, ingest
from silicio.lake.sources import ENTRY_POINT_GROUP as SOURCES_GROUP
from silicio.yields.recipe import loads_recipe
from silicio.yields.report import lot_report, render_html
from silicio.yields.rules import ENTRY_POINT_GROUP as RULES_GROUP
from silicio.yields.rules import RecipeTable, ScreeningContext, ScreeningRule, registered_rules
from tests.lake.conftest import register_entry_point
from tests.lake.test_sources import LOT, PRODUCT, CsvLogSource, Part, write_csv_log

# Passing parts whose vref (test 200, limits 1.1 .. 1.3 V) is more than WINDOW from TARGET.
TARGET, WINDOW, PLUGIN_BIN = 1.20, 0.03, 61
PARTS = [
    Part("W01", 0, 0, "1", 1, 2.5, 1.20),
    Part("W01", 1, 0, "2", 1, 2.0, 1.26),  # outside the window, inside the limits
    Part("W01", 0, 1, "3", 5, 3.0, 1.40),  # failed: not screened again
    Part("W01", 1, 1, "4", 1, 4.0, 1.19),
    Part("W02", 0, 0, "5", 1, 1.0, 1.12),  # outside the window
    Part("W02", 1, 0, "6", 1, 1.5, 1.22),
]


@dataclass(frozen=True)
class VrefWindowParams:
    test: int
    target: float
    window: float


class VrefWindowRule(ScreeningRule):
    """Passing parts whose result on ``test`` lies farther than ``window`` from ``target``."""

    name = "vref_window"
    title = "Reference voltage within a window around its target"
    reason_codes = {"VREF_WINDOW": "vref farther than the window from its target"}
    kind = "window"
    params_type = VrefWindowParams

    def parse(self, table, source):
        t = RecipeTable(table, self.name, source).only("test", "target", "window")
        return VrefWindowParams(test=t.integer("test", None, 0), target=t.number("target", None, positive=False),
                                window=t.number("window", None))  # fmt: skip

    def apply(self, context: ScreeningContext, params: VrefWindowParams):
        rows = context.tidy.filter(
            (pl.col("test_num") == params.test) & pl.col("is_last_test") & pl.col("part_passed")
        )
        return rows.filter((pl.col("result") - params.target).abs() > params.window).select(
            "lot_id", "wafer_id", "part_index", pl.lit("VREF_WINDOW").alias("rule"), "test_num", "test_name",
            "pin", pl.col("result").alias("value"), pl.lit(params.target - params.window).alias("limit_lo"),
            pl.lit(params.target + params.window).alias("limit_hi"),
        )  # fmt: skip

    def describe(self, params):
        return f"test {params.test}: |result - {params.target:g}| <= {params.window:g}"


RECIPE = f"""
[recipe]
name = "vref-window"
version = "1"

[vref_window]
test = 200
target = {TARGET}
window = {WINDOW}

[bins.by_rule]
vref_window = {PLUGIN_BIN}
"""


def test_a_plugin_source_and_a_plugin_rule_end_to_end(monkeypatch, tmp_path):
    plugins = tmp_path / "plugins"
    register_entry_point(monkeypatch, plugins, SOURCES_GROUP, CsvLogSource.kind,
                         f"{CsvLogSource.__module__}:{CsvLogSource.__qualname__}")  # fmt: skip
    register_entry_point(monkeypatch, plugins, RULES_GROUP, VrefWindowRule.name,
                         f"{__name__}:{VrefWindowRule.__qualname__}")  # fmt: skip
    assert isinstance(registered_rules()["vref_window"], VrefWindowRule)

    # ingest -> catalog
    log = write_csv_log(tmp_path / "lot.csv", PARTS)
    data = tmp_path / "lake"
    report = ingest([log], data, workers=1)
    assert [(o.status, o.source) for o in report.outcomes] == [(INGESTED, "csv-log")]

    # what the rule must find, worked out from the parts written, not through silicio
    expected = {(p.wafer, p.x, p.y) for p in PARTS if p.bin == 1 and abs(p.vref - TARGET) > WINDOW}
    assert len(expected) == 2

    with silicio.open(data) as lake:
        (row,) = lake.catalog.rows("files")
        assert (row["source"], row["product"], row["lot"], row["stage"]) == (
            "csv-log",
            PRODUCT,
            LOT,
            "wafer_sort",
        )

        # screen -> report
        recipe = loads_recipe(RECIPE)
        result = lot_report(lake, LOT, recipe=recipe)

    screening = result.screening
    assert screening is not None
    (plugin,) = [r for r in screening.rules.to_pylist() if r["rule"] == "vref_window"]
    assert plugin["title"] == VrefWindowRule.title
    assert plugin["parts"] == len(expected)
    assert screening.screened_parts == len(expected)
    good_before = sum(p.bin == 1 for p in PARTS)
    assert screening.yield_before == good_before / len(PARTS)
    assert screening.yield_after == (good_before - len(expected)) / len(PARTS)

    page = render_html(result)
    assert html.escape(VrefWindowRule.title) in page
    assert "VREF_WINDOW" in page
