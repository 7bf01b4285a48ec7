"""Nearest neighbour residual as a screening rule: the recipe's ``[nnr]`` table.

References
----------
W. R. Daasch, J. McNames, R. Madge, K. Cota, "Neighborhood selection for IDDQ outlier screening
at wafer sort", *IEEE Design & Test of Computers* 19(5), 74-81 (2002): 5 x 5 neighbourhood;
see :mod:`silicio.yields.nnr` for the computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from ..nnr import nnr
from ..pat import IQR_ZERO_POLICIES, QUANTILE_METHODS
from .base import RecipeTable, ScreeningContext, ScreeningRule
from .pat import _tests_text

__all__ = ["NnrParams", "NnrRule"]


@dataclass(frozen=True)
class NnrParams:
    """Nearest neighbour residual (Daasch et al.)."""

    tests: str | tuple[int, ...] = "all"
    #: Daasch et al.: the 5 x 5 window around the die (radius 2).
    radius: int = 2
    k: float = 6.0
    min_neighbours: int = 3
    iqr_zero: str = "skip"
    quantile_method: str = "linear"


class NnrRule(ScreeningRule):
    """Good dies whose result is far from the median of their wafer neighbours."""

    name = "nnr"
    title = "Nearest neighbour residual (Daasch et al.)"
    reason_codes = {"NNR": "residual to the neighbourhood median outside the wafer's residual limits"}
    kind = "nnr"
    params_type = NnrParams
    precedence = 20

    def parse(self, table: Any, source: str) -> NnrParams:
        t = RecipeTable(table, self.name, source).only(
            "tests", "radius", "k", "min_neighbours", "iqr_zero", "quantile_method"
        )
        return NnrParams(
            tests=t.tests(),
            radius=t.integer("radius", 2, 1),
            k=t.number("k", 6.0),
            min_neighbours=t.integer("min_neighbours", 3, 1),
            iqr_zero=t.choice("iqr_zero", "skip", IQR_ZERO_POLICIES),
            quantile_method=t.choice("quantile_method", "linear", QUANTILE_METHODS),
        )

    def apply(self, context: ScreeningContext, params: NnrParams) -> pl.DataFrame:
        outliers, limits = nnr(
            context.tidy, params.tests, radius=params.radius, k=params.k, min_neighbours=params.min_neighbours,
            iqr_zero=params.iqr_zero, quantile_method=params.quantile_method,
        )  # fmt: skip
        context.keep("nnr_limits", limits)
        n_skipped = pl.from_arrow(limits)["skipped"].sum()
        if n_skipped:
            context.note(f"NNR: {n_skipped} (wafer, test) group(s) not screened, see nnr_limits.reason")
        return pl.from_arrow(outliers)

    def describe(self, params: NnrParams) -> str:
        side = 2 * params.radius + 1
        return (
            f"residual to the median of the {side} x {side} neighbourhood (>= {params.min_neighbours} "
            f"neighbours) outside median ± {params.k:g} robust sigma per wafer, tests "
            f"{_tests_text(params.tests)}, IQR 0: {params.iqr_zero}, quantiles {params.quantile_method}"
        )
