"""Good die in bad neighbourhood as a screening rule: the recipe's ``[gdbn]`` table.

No standard sets GDBN: the defaults are the common weighted 3 x 3 form, chosen not to reject
more than it does; see each field of :class:`GdbnParams`.

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
from ..pat import ALARM_POLICIES, PART_KEY, _alarm, _check_alarmed
from .base import REASON_SCHEMA, RecipeTable, ScreeningContext, ScreeningRule

__all__ = ["GdbnParams", "GdbnRule", "failing_with_alarms_unknown"]


@dataclass(frozen=True)
class GdbnParams:
    """Good die in bad neighbourhood: count or weighted rule, edge factor (no standard form:
    the defaults are the common 3 x 3 window, adjacent 2 / diagonal 1, threshold 6)."""

    #: The weighted rule: a die sharing an edge with a failing die is more exposed to its
    #: defect cluster than one sharing a corner.
    rule: str = "weighted"
    #: Half the full weight of the 3 x 3 window (4 x 2 + 4 x 1 = 12): three failing adjacent
    #: dies, or two adjacent and two diagonal, as in common GDBN practice.
    threshold: float = 6.0
    #: Count rule: 3 failing dies of the 8 around a good die, the usual "bad neighbourhood".
    min_failing: float = 3.0
    #: The 3 x 3 window (radius 1) of the common rule.
    radius: int = 1
    #: Edge-sharing neighbour weight, twice a corner's (common weighted GDBN).
    adjacent_weight: float = 2.0
    #: Corner-sharing neighbour weight.
    diagonal_weight: float = 1.0
    #: "none": a die at the wafer edge is judged on the neighbours it has; scaling its sum up
    #: ("scale") counts absent positions as failing in proportion and rejects edge dies on
    #: evidence that is not there.
    edge: str | float = "none"
    #: A die that failed only on alarm-flagged results (STDF TEST_FLG bit 0) is no evidence of
    #: a bad neighbourhood: it counts as unknown (neither failing nor flagged) unless "include".
    alarmed: str = "exclude"


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
            "rule",
            "threshold",
            "min_failing",
            "radius",
            "adjacent_weight",
            "diagonal_weight",
            "edge",
            "alarmed",
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
            alarmed=t.choice("alarmed", "exclude", ALARM_POLICIES),
        )

    def apply(self, context: ScreeningContext, params: GdbnParams) -> pl.DataFrame:
        parts = context.parts
        if params.alarmed == "exclude":
            parts, n_unknown = failing_with_alarms_unknown(parts, context.tidy, params.alarmed)
            if n_unknown:
                context.note(
                    f"GDBN: {n_unknown} die(s) failing only on alarm-flagged results (TEST_FLG bit 0) counted "
                    f"as unknown, not as failing neighbours"
                )
        scores = pl.from_arrow(
            gdbn(
                parts, rule=params.rule, threshold=params.threshold, min_failing=params.min_failing,
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
        return f"{self._rule_text(params)}, alarmed results: {params.alarmed}"

    def _rule_text(self, params: GdbnParams) -> str:
        if params.rule == "count":
            side = 2 * params.radius + 1
            what = f"count: >= {params.min_failing:g} failing dies in the {side} x {side} window"
        else:
            what = (
                f"weighted: failing neighbours (adjacent {params.adjacent_weight:g}, diagonal "
                f"{params.diagonal_weight:g}) sum to >= {params.threshold:g}"
            )
        return f"{what}, edge {params.edge}"


def failing_with_alarms_unknown(
    parts: pl.DataFrame, tidy: pl.DataFrame, alarmed: str = "exclude"
) -> tuple[pl.DataFrame, int]:
    """``parts`` with ``part_passed`` null for each failing part whose failure rests on
    alarm-flagged results only (it has a result with TEST_FLG bit 0 and no failed result without
    it), and how many there were; ``alarmed="include"`` or no ``test_flg``: unchanged."""
    _check_alarmed(alarmed)
    if alarmed == "include" or "test_flg" not in tidy.columns:
        return parts, 0
    alarm = _alarm(tidy)
    if not tidy.select(alarm.any()).item():
        return parts, 0  # no alarm at all: one pass, not a group-by of every result by part
    if "passed" in tidy.columns:
        failed = (pl.col("passed") == False).fill_null(False)  # noqa: E712
    else:  # as the tidy view's passed: STDF V4 TEST_FLG bit 7 failed, unless bit 4 or 6 voids it
        flg = pl.col("test_flg")
        failed = (((flg & 0x80) != 0) & ((flg & 0x50) == 0)).fill_null(False)
    clean_fail = ~alarm & failed
    evidence = (
        tidy.filter(pl.col("part_index").is_not_null())
        .group_by(list(PART_KEY))
        .agg(alarm.any().alias("_alarmed"), clean_fail.any().alias("_clean_fail"))
        .filter(pl.col("_alarmed") & ~pl.col("_clean_fail"))
        .select(*PART_KEY, pl.lit(True).alias("_alarm_only"))
    )
    marked = parts.join(evidence, on=list(PART_KEY), how="left", nulls_equal=True, maintain_order="left")
    unknown = pl.col("_alarm_only").fill_null(False) & (pl.col("part_passed") == False).fill_null(False)  # noqa: E712
    n_unknown = int(marked.select(unknown.sum()).item())
    out = marked.with_columns(
        pl.when(unknown).then(None).otherwise(pl.col("part_passed")).alias("part_passed")
    )
    return out.drop("_alarm_only"), n_unknown
