"""Statistical yield and bin limits as a screening rule: the recipe's ``[yield_limits]`` table.

References
----------
Automotive Electronics Council, *AEC-Q002 Rev-B: Guidelines for Statistical Yield Analysis*
(2003): SYL1/2 = mean - 3/4 sigma of lot yield, SBL1/2 = mean + 3/4 sigma of bin fallout, from at
least six lots; see :mod:`silicio.yields.aecq002`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from silicio.i18n import C_

from ..aecq002 import statistical_yield_analysis
from .base import LOTS, RecipeTable, ScreeningContext, ScreeningRule, empty_reasons

__all__ = ["YieldLimitsParams", "YieldLimitsRule"]


@dataclass(frozen=True)
class YieldLimitsParams:
    """Statistical yield and bin limits (AEC-Q002 Rev-B) over the lots screened."""

    #: AEC-Q002 Rev-B sets an SBL per failure bin; the soft bin names the failure, the hard bin
    #: only groups failures for the handler, so the soft bin is the finer choice.
    bin: str = "soft"
    #: AEC-Q002 Rev-B: limits from at least six lots (SYL1 / SBL1 at 3 sigma, SYL2 / SBL2 at 4,
    #: fixed by the document, not parameters).
    min_lots: int = 6


class YieldLimitsRule(ScreeningRule):
    """Lots whose yield after screening is below SYL, or whose bin fallout is above SBL."""

    name = "yield_limits"
    title = "Statistical yield and bin limits (AEC-Q002)"
    reason_codes = {
        "SYL1": "lot yield below mean - 3 sigma of the lots' yield (AEC-Q002)",
        "SYL2": "lot yield below mean - 4 sigma of the lots' yield (AEC-Q002)",
        "SBL1": "lot bin fallout above mean + 3 sigma of the lots' fallout (AEC-Q002)",
        "SBL2": "lot bin fallout above mean + 4 sigma of the lots' fallout (AEC-Q002)",
    }
    kind = "yield_limits"
    params_type = YieldLimitsParams
    judges = LOTS
    precedence = 40

    def parse(self, table: Any, source: str) -> YieldLimitsParams:
        t = RecipeTable(table, self.name, source).only("bin", "min_lots")
        return YieldLimitsParams(
            bin=t.choice("bin", "soft", ("soft", "hard")), min_lots=t.integer("min_lots", 6, 2)
        )

    def apply(self, context: ScreeningContext, params: YieldLimitsParams) -> pl.DataFrame:
        parts = context.rebinned
        n_lots = parts["lot_id"].n_unique()
        if n_lots < params.min_lots:
            context.note(
                C_("AEC-Q002: %(lots)s lot(s), fewer than the %(needed)s SYL / SBL need: not computed")
                % {"lots": n_lots, "needed": params.min_lots}
            )
            return empty_reasons()
        after = parts.select(
            "lot_id",
            pl.col("passed_after").alias("part_passed"),
            pl.col("new_soft_bin").alias("soft_bin"),
            pl.col("new_hard_bin").alias("hard_bin"),
        )
        limits, flags = statistical_yield_analysis(
            after, bin_column=f"{params.bin}_bin", min_lots=params.min_lots
        )
        context.keep("lot_limits", limits)
        context.keep("lot_flags", flags)
        return empty_reasons()

    def describe(self, params: YieldLimitsParams) -> str:
        return (
            f"SYL: mean - 3 / 4 sigma of lot yield; SBL: mean + 3 / 4 sigma of each {params.bin} bin's "
            f"fallout; over the lots screened, after re-binning, >= {params.min_lots} lots"
        )
