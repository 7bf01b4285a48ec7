"""Nearest neighbour residual as a screening rule: the recipe's ``[nnr]`` table.

No standard sets NNR (AEC-Q001 Rev-D is PAT only): every default is the published method's or
common practice, chosen not to reject more than they do; see each field of :class:`NnrParams`.

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

from silicio.i18n import C_

from ..nnr import _nnr
from ..pat import ALARM_POLICIES, QUANTILE_METHODS
from .base import RecipeTable, ScreeningContext, ScreeningRule
from .pat import _tests_text

__all__ = ["NnrParams", "NnrRule"]


@dataclass(frozen=True)
class NnrParams:
    """Nearest neighbour residual (Daasch et al.)."""

    #: The candidate tests; NNR then runs only where a wafer's results are continuous
    #: (``min_distinct``) and spatially correlated (``max_spread_ratio``): common practice
    #: screens a few such tests per product, never every test.
    tests: str | tuple[int, ...] = "all"
    #: Daasch et al. (2002): the 5 x 5 window around the die (radius 2).
    radius: int = 2
    #: 6 robust sigma, the AEC-Q001 convention for an outlier, applied to the residuals.
    k: float = 6.0
    #: Fewer than 3 good neighbours is no estimate of the die's healthy value (a wafer edge corner).
    min_neighbours: int = 3
    #: Residual sigma >= 1 x the measurement resolution: a residual within ± k steps of a
    #: quantized test is quantization, not an outlier (0 turns the floor off).
    resolution_floor: float = 1.0
    #: Per-test floor of the residual sigma, in the result's units: (test_num, sigma) pairs,
    #: for a test whose resolution the data do not show (none by default).
    min_sigma: tuple[tuple[int, float], ...] = ()
    #: A wafer's test with fewer than 20 distinct results is categories or coarse steps, not a
    #: continuous parameter (outlier tools leave categorical distributions unscreened).
    min_distinct: int = 20
    #: Residual spread / result spread above 1: the neighbourhood explains nothing (no spatial
    #: signature), so NNR's premise (Daasch et al. 2001, variance reduction) fails; PAT judges
    #: the result itself. None: no condition.
    max_spread_ratio: float | None = 1.0
    #: Residuals whose central 98 % spread more than 3 robust sigmas (normal: 0.94, heavy tails:
    #: 1-2) fall into several modes: ± k robust sigma of one mode would reject the others whole,
    #: so such a (wafer, test) is not screened. None: no condition.
    max_tail_ratio: float | None = 3.0
    #: Hyndman-Fan type 7, numpy's and R's default.
    quantile_method: str = "linear"
    #: STDF TEST_FLG bit 0 (alarm): such a result is neither a neighbour nor judged, unless "include".
    alarmed: str = "exclude"


class NnrRule(ScreeningRule):
    """Good dies whose result is far from the median of their wafer neighbours."""

    name = "nnr"
    title = "Nearest neighbour residual (Daasch et al.)"
    reason_codes = {"NNR": "residual to the neighbourhood median outside the wafer's residual limits"}
    kind = "nnr"
    params_type = NnrParams
    precedence = 20

    def parse(self, table: Any, source: str) -> NnrParams:
        t = RecipeTable(table, self.name, source)
        if "iqr_zero" in t.table:
            raise t.error(
                "iqr_zero",
                'was replaced by resolution_floor (iqr_zero = "resolution" is resolution_floor = 1.0, '
                '"skip" is resolution_floor = 0.0)',
            )
        t.only(
            "tests", "radius", "k", "min_neighbours", "resolution_floor", "min_sigma", "min_distinct",
            "max_spread_ratio", "max_tail_ratio", "quantile_method", "alarmed",
        )  # fmt: skip
        ratios = {}
        for key, default in (("max_spread_ratio", 1.0), ("max_tail_ratio", 3.0)):
            value = t.table.get(key, default)
            if isinstance(value, str) and value != "none":
                raise t.error(key, 'must be a number > 0 or "none"')
            ratios[key] = None if value == "none" else t.number(key, default)
        return NnrParams(
            tests=t.tests(),
            radius=t.integer("radius", 2, 1),
            k=t.number("k", 6.0),
            min_neighbours=t.integer("min_neighbours", 3, 1),
            resolution_floor=t.number("resolution_floor", 1.0, minimum=0.0),
            min_sigma=t.per_test_numbers("min_sigma"),
            min_distinct=t.integer("min_distinct", 20, 1),
            max_spread_ratio=ratios["max_spread_ratio"],
            max_tail_ratio=ratios["max_tail_ratio"],
            quantile_method=t.choice("quantile_method", "linear", QUANTILE_METHODS),
            alarmed=t.choice("alarmed", "exclude", ALARM_POLICIES),
        )

    def to_table(self, params: NnrParams) -> dict[str, Any]:
        table = super().to_table(params)
        table["min_sigma"] = {str(test): sigma for test, sigma in params.min_sigma}
        if not table["min_sigma"]:
            del table["min_sigma"]
        for key in ("max_spread_ratio", "max_tail_ratio"):
            if getattr(params, key) is None:
                table[key] = "none"
        return table

    def apply(self, context: ScreeningContext, params: NnrParams) -> pl.DataFrame:
        if params.alarmed == "exclude":
            n_alarmed = context.alarmed_results(params.tests)
            if n_alarmed:
                context.note(
                    f"NNR: {n_alarmed} alarm-flagged result(s) (TEST_FLG bit 0) of passing parts neither "
                    f"neighbours nor judged"
                )
        outliers, limits = _nnr(
            context.measurements(params.alarmed), params.tests, radius=params.radius, k=params.k,
            min_neighbours=params.min_neighbours, resolution_floor=params.resolution_floor,
            min_sigma=dict(params.min_sigma), min_distinct=params.min_distinct,
            max_spread_ratio=params.max_spread_ratio, max_tail_ratio=params.max_tail_ratio,
            quantile_method=params.quantile_method,
        )  # fmt: skip
        context.keep("nnr_limits", limits)
        table = pl.from_arrow(limits)
        n_skipped = int(table["skipped"].sum())
        if n_skipped:
            context.note(
                C_(
                    "NNR: %(count)s of %(groups)s (wafer, test) group(s) not screened (too few distinct results, "
                    "no spatial signature or several modes), see nnr_limits.reason"
                )
                % {"count": n_skipped, "groups": table.height}
            )
        n_floored = table.filter(~pl.col("skipped") & (pl.col("sigma_source") != "iqr")).height
        if n_floored:
            context.note(
                f"NNR: residual sigma floored (resolution or min_sigma) in {n_floored} (wafer, test) group(s)"
            )
        return pl.from_arrow(outliers)

    def describe(self, params: NnrParams) -> str:
        side = 2 * params.radius + 1
        ratio = "any" if params.max_spread_ratio is None else f"<= {params.max_spread_ratio:g}"
        tail = "any" if params.max_tail_ratio is None else f"<= {params.max_tail_ratio:g}"
        floors = f"sigma >= {params.resolution_floor:g} x resolution"
        if params.min_sigma:
            floors += ", min_sigma " + ", ".join(f"{t}: {s:g}" for t, s in params.min_sigma)
        return (
            f"residual to the median of the {side} x {side} neighbourhood (>= {params.min_neighbours} "
            f"neighbours) outside median ± {params.k:g} robust sigma per wafer ({floors}), tests "
            f"{_tests_text(params.tests)} with >= {params.min_distinct} distinct results and residual / result "
            f"spread {ratio}, residual bulk / robust sigma {tail}, quantiles {params.quantile_method}, "
            f"alarmed results: {params.alarmed}"
        )
