"""Good die in bad neighbourhood as a screening rule: the recipe's ``[gdbn]`` table.

References
----------
M. J. Moreno-Lizaranzu and F. Cuesta, "Improving Electronic Sensor Reliability by Robust Outlier
Screening", *Sensors* 13(10), 13521-13542 (2013); see :mod:`silicio.yields.gdbn`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from ..gdbn import GDBN_RULES, gdbn
from ..pat import PART_KEY
from .base import REASON_SCHEMA, RecipeTable, ScreeningContext, ScreeningRule

__all__ = ["GdbnParams", "GdbnRule"]


@dataclass(frozen=True)
class GdbnParams:
    """Good die in bad neighbourhood: count or weighted rule, edge factor (no standard form:
    the defaults are the common 3 x 3 window, adjacent 2 / diagonal 1, threshold 6)."""

    rule: str = "weighted"
    threshold: float = 6.0
    min_failing: float = 3.0
    radius: int = 1
    adjacent_weight: float = 2.0
    diagonal_weight: float = 1.0
    edge: str | float = "none"


class GdbnRule(ScreeningRule):
    """Passing dies surrounded by failing ones."""

    name = "gdbn"
    title = "Good die in bad neighbourhood"
    reason_codes = {
        "GDBN_COUNT": "enough failing dies in the window around a good die",
        "GDBN_WEIGHTED": "weighted sum of failing neighbours of a good die reaches the threshold",
    }
    kind = "gdbn"
    params_type = GdbnParams
    precedence = 30

    def parse(self, table: Any, source: str) -> GdbnParams:
        t = RecipeTable(table, self.name, source).only(
            "rule", "threshold", "min_failing", "radius", "adjacent_weight", "diagonal_weight", "edge"
        )
        edge = t.table.get("edge", "none")
        if not (
            edge in ("none", "scale")
            or (isinstance(edge, int | float) and not isinstance(edge, bool) and edge > 0)
        ):
            raise t.error("edge", 'must be "none", "scale" or a positive factor')
        return GdbnParams(
            rule=t.choice("rule", "weighted", GDBN_RULES),
            threshold=t.number("threshold", 6.0),
            min_failing=t.number("min_failing", 3.0),
            radius=t.integer("radius", 1, 1),
            adjacent_weight=t.number("adjacent_weight", 2.0, positive=False),
            diagonal_weight=t.number("diagonal_weight", 1.0, positive=False),
            edge=edge if isinstance(edge, str) else float(edge),
        )

    def apply(self, context: ScreeningContext, params: GdbnParams) -> pl.DataFrame:
        scores = pl.from_arrow(
            gdbn(
                context.parts, rule=params.rule, threshold=params.threshold, min_failing=params.min_failing,
                radius=params.radius, adjacent_weight=params.adjacent_weight,
                diagonal_weight=params.diagonal_weight, edge=params.edge,
            )
        )  # fmt: skip
        return (
            scores.filter(pl.col("flagged"))
            .select(
                *PART_KEY,
                pl.lit(f"GDBN_{params.rule.upper()}").alias("rule"),
                pl.lit(None, pl.UInt32).alias("test_num"),
                pl.lit(None, pl.String).alias("test_name"),
                pl.lit(None, pl.UInt16).alias("pin"),
                pl.col("score").alias("value"),
                pl.lit(None, pl.Float64).alias("limit_lo"),
                pl.col("threshold").alias("limit_hi"),
            )
            .cast(REASON_SCHEMA)
        )

    def describe(self, params: GdbnParams) -> str:
        if params.rule == "count":
            side = 2 * params.radius + 1
            what = f"count: >= {params.min_failing:g} failing dies in the {side} x {side} window"
        else:
            what = (
                f"weighted: failing neighbours (adjacent {params.adjacent_weight:g}, diagonal "
                f"{params.diagonal_weight:g}) sum to >= {params.threshold:g}"
            )
        return f"{what}, edge {params.edge}"
