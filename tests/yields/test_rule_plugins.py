"""A screening rule from outside silicio, registered as an entry point the way another package
would register it, used end to end: recipe -> screen() -> lot report. And the registry's rules
for names: silicio's own found without installed metadata, no other package taking them."""

from __future__ import annotations

import html
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from silicio.demo import write_demo_stdf
from silicio.stdf import read, tidy
from silicio.yields import load_recipe, screen
from silicio.yields.report import lot_report, render_html
from silicio.yields.rules import (
    BUILTIN_RULES,
    ENTRY_POINT_GROUP,
    RecipeTable,
    ScreeningContext,
    ScreeningRule,
    reason_codes,
    registered_rules,
)
from silicio.yields.rules.pat import PatRule

SEED, WAFERS, SIDE = 5, 2, 10
LOT = f"TK{41870 + SEED}"
VOD, TARGET, WINDOW, PLUGIN_BIN = 4000, 0.35, 0.02, 77
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@dataclass(frozen=True)
class TargetWindowParams:
    test: int
    target: float
    window: float


class TargetWindowRule(ScreeningRule):
    """Passing parts whose result on one test lies farther than ``window`` from ``target``."""

    name = "target_window"
    title = "Result within a window around its target"
    reason_codes = {"TARGET_WINDOW": "result farther than the window from the target"}
    kind = "window"
    params_type = TargetWindowParams

    def parse(self, table, source):
        t = RecipeTable(table, self.name, source).only("test", "target", "window")
        return TargetWindowParams(
            test=t.integer("test", None, 0),
            target=t.number("target", None, positive=False),
            window=t.number("window", None),
        )

    def apply(self, context: ScreeningContext, params: TargetWindowParams):
        rows = context.tidy.filter(
            (pl.col("test_num") == params.test) & pl.col("is_last_test") & pl.col("part_passed")
        )
        return rows.filter((pl.col("result") - params.target).abs() > params.window).select(
            "lot_id", "wafer_id", "part_index", pl.lit("TARGET_WINDOW").alias("rule"), "test_num", "test_name",
            "pin", pl.col("result").alias("value"), pl.lit(params.target - params.window).alias("limit_lo"),
            pl.lit(params.target + params.window).alias("limit_hi"),
        )  # fmt: skip

    def describe(self, params):
        return f"test {params.test}: |result - {params.target:g}| <= {params.window:g}"


def _install(where: Path, distribution: str, points: dict[str, str]) -> None:
    """A minimal installed distribution in ``where``: METADATA and entry_points.txt, as pip writes."""
    info = where / f"{distribution.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1\n")
    lines = [f"[{ENTRY_POINT_GROUP}]", *(f"{name} = {value}" for name, value in points.items()), ""]
    (info / "entry_points.txt").write_text("\n".join(lines))


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """The test module's rule, installed as package ``silicio-target-rule`` on sys.path."""
    _install(tmp_path / "site", "silicio-target-rule", {"target_window": f"{__name__}:TargetWindowRule"})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = write_demo_stdf(
        tmp_path_factory.mktemp("lot") / "lot.stdf", seed=SEED, wafers=WAFERS, dies_per_side=SIDE
    )
    return read(path)


RECIPE = f"""
[recipe]
name = "window-screen"
version = "1"

[target_window]
test = {VOD}
target = {TARGET}
window = {WINDOW}

[bins.by_rule]
target_window = {PLUGIN_BIN}
"""


def _expected_parts(tables) -> set[tuple[str, int]]:
    """(wafer, part) of the passing parts outside the window, from the tidy rows with numpy."""
    rows = tidy(tables).to_pydict()
    found = set()
    for wafer, part, test, value, passed, last in zip(
        rows["wafer_id"], rows["part_index"], rows["test_num"], rows["result"], rows["part_passed"],
        rows["is_last_test"], strict=True,
    ):  # fmt: skip
        if test == VOD and passed and last and abs(np.float64(value) - TARGET) > WINDOW:
            found.add((wafer, part))
    return found


def test_a_recipe_cannot_name_a_rule_nobody_registered(tmp_path):
    path = tmp_path / "window.toml"
    path.write_text(RECIPE)
    with pytest.raises(
        ValueError, match=r"unknown section\(s\) \[target_window\].*known rules: gdbn, nnr, pat"
    ):
        load_recipe(path)


def test_entry_point_rule_screens_and_reports_end_to_end(plugin, demo, tmp_path):
    assert isinstance(registered_rules()["target_window"], TargetWindowRule)
    assert reason_codes("window") == ("TARGET_WINDOW",)
    assert reason_codes("pat") == ("PAT_STATIC", "PAT_DYNAMIC")
    path = tmp_path / "window.toml"
    path.write_text(RECIPE)
    recipe = load_recipe(path)
    assert recipe.params("target_window") == TargetWindowParams(VOD, TARGET, WINDOW) and recipe.pat is None

    expected = _expected_parts(demo)
    assert 0 < len(expected) < WAFERS * SIDE * SIDE // 4  # the window is tight enough to find a few
    result = screen(tidy(demo), recipe)
    reasons = pl.from_arrow(result.reasons)
    assert set(reasons["rule"]) == {"TARGET_WINDOW"}
    assert set(zip(reasons["wafer_id"], reasons["part_index"], strict=True)) == expected
    rebinned = pl.from_arrow(result.parts).filter(pl.col("screened"))
    assert set(zip(rebinned["wafer_id"], rebinned["part_index"], strict=True)) == expected
    assert set(rebinned["new_soft_bin"]) == {PLUGIN_BIN} and not rebinned["passed_after"].any()

    report = lot_report(demo, LOT, recipe=path)
    (row,) = report.screening.rules.to_pylist()
    assert row == {"rule": "target_window", "title": TargetWindowRule.title, "reason_codes": "TARGET_WINDOW",
                   "parameters": f"test {VOD}: |result - {TARGET:g}| <= {WINDOW:g}", "parts": len(expected)}  # fmt: skip
    page = render_html(report)
    assert 'data-table="screening_rules"' in page and html.escape(row["parameters"]) in page
    data = json.loads(re.search(r'id="silicio-lot-report">(.*?)</script>', page, re.S).group(1))
    assert data["screening"]["rules"] == [row]
    assert data["screening"]["by_rule"] == [
        {"rule": "TARGET_WINDOW", "parts": len(expected), "reasons": len(expected)}
    ]


@pytest.mark.parametrize(
    ("given", "bad", "message"),
    [
        (f"window = {WINDOW}", "window = -1", r"\[target_window\] window must be > 0, got -1"),
        (f"test = {VOD}", 'test = "VOD"', r"\[target_window\] test must be an integer >= 0, got 'VOD'"),
        (f"target = {TARGET}", "", r"\[target_window\] target is required"),
    ],
)
def test_a_bad_parameter_of_the_plugin_names_the_file_and_key(plugin, tmp_path, given, bad, message):
    path = tmp_path / "window.toml"
    path.write_text(RECIPE.replace(given, bad))
    with pytest.raises(ValueError, match=re.escape(str(path)) + ": " + message):
        load_recipe(path)


def test_silicio_declares_its_rules_as_the_registry_falls_back_to():
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"][ENTRY_POINT_GROUP]
    assert declared == BUILTIN_RULES


def test_stale_silicio_metadata_does_not_hide_a_builtin(tmp_path, monkeypatch):
    _install(tmp_path, "silicio", {"pat": "silicio.yields.old_pat:PatRule"})
    monkeypatch.syspath_prepend(str(tmp_path))
    assert type(registered_rules()["pat"]) is PatRule


def test_another_package_cannot_take_a_builtin_name(tmp_path, monkeypatch):
    _install(tmp_path, "rogue-rules", {"pat": f"{__name__}:TargetWindowRule"})
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="rogue-rules registers a screening rule 'pat'"):
        registered_rules()
