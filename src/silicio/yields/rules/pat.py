"""Static and dynamic Part Average Testing as a screening rule: the recipe's ``[pat]`` table.

References
----------
Automotive Electronics Council, *AEC-Q001 Rev-D: Guidelines for Part Average Testing* (2011):
static limits robust mean ± 6 robust sigma from at least six lots, dynamic limits mean ± 6 sigma
per lot; see :mod:`silicio.yields.pat` for the computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from ..pat import (
    DYNAMIC_CENTERS,
    DYNAMIC_SCOPES,
    IQR_ZERO_POLICIES,
    QUANTILE_METHODS,
    TEST_KEY,
    _frame,
    dynamic_pat_limits,
    pat_outliers,
    static_pat_limits,
)
from .base import RecipeTable, ScreeningContext, ScreeningRule

__all__ = ["DynamicPatParams", "PatParams", "PatRule"]


@dataclass(frozen=True)
class DynamicPatParams:
    """Dynamic PAT (AEC-Q001 Rev-D): limits center ± n sigma per wafer or lot."""

    scope: str = "wafer"
    #: AEC-Q001 Rev-D: mean ± 6 sigma.
    n: float = 6.0
    center: str = "mean"
    min_parts: int = 30


@dataclass(frozen=True)
class PatParams:
    """Static PAT (AEC-Q001 Rev-D): robust mean ± k robust sigma from >= min_lots lots."""

    tests: str | tuple[int, ...] = "all"
    #: AEC-Q001 Rev-D: robust mean ± 6 robust sigma.
    k: float = 6.0
    #: AEC-Q001 Rev-D: static limits from at least six lots.
    min_lots: int = 6
    iqr_zero: str = "skip"
    #: Hyndman-Fan type 7, numpy's and R's default.
    quantile_method: str = "linear"
    dynamic: DynamicPatParams | None = None


class PatRule(ScreeningRule):
    """Parts outside the static PAT limits of a test, or outside the dynamic ones of their wafer / lot."""

    name = "pat"
    title = "Part average testing, static and dynamic (AEC-Q001)"
    reason_codes = {
        "PAT_STATIC": "result outside the static PAT limits (AEC-Q001)",
        "PAT_DYNAMIC": "result outside the dynamic PAT limits of its wafer or lot (AEC-Q001)",
    }
    kind = "pat"
    params_type = PatParams
    precedence = 10

    def parse(self, table: Any, source: str) -> PatParams:
        t = RecipeTable(table, self.name, source).only(
            "tests", "k", "min_lots", "iqr_zero", "quantile_method", "dynamic"
        )
        dynamic = None
        d = t.sub("dynamic")
        if d is not None:
            d.only("scope", "n", "center", "min_parts")
            dynamic = DynamicPatParams(
                scope=d.choice("scope", "wafer", DYNAMIC_SCOPES),
                n=d.number("n", 6.0),
                center=d.choice("center", "mean", DYNAMIC_CENTERS),
                min_parts=d.integer("min_parts", 30, 2),
            )
        return PatParams(
            tests=t.tests(),
            k=t.number("k", 6.0),
            min_lots=t.integer("min_lots", 6, 1),
            iqr_zero=t.choice("iqr_zero", "skip", IQR_ZERO_POLICIES),
            quantile_method=t.choice("quantile_method", "linear", QUANTILE_METHODS),
            dynamic=dynamic,
        )

    def apply(self, context: ScreeningContext, params: PatParams) -> pl.DataFrame:
        frame = context.tidy
        static = self._static_limits(context, params)
        context.keep("static_limits", static)
        for row in static.filter(pl.col("skipped")).iter_rows(named=True):
            context.note(
                f"PAT static: test {row['test_num']} {row['test_name'] or ''} not screened: {row['reason']}"
            )
        dynamic = None
        if params.dynamic is not None:
            d = params.dynamic
            dynamic = dynamic_pat_limits(
                frame, static.to_arrow(), scope=d.scope, n=d.n, center=d.center, min_parts=d.min_parts,
                iqr_zero=params.iqr_zero, quantile_method=params.quantile_method,
            )  # fmt: skip
            context.keep("dynamic_limits", dynamic)
            n_skipped = pl.from_arrow(dynamic)["skipped"].sum()
            if n_skipped:
                context.note(
                    f"PAT dynamic: {n_skipped} ({d.scope}, test) group(s) not screened, see dynamic_limits.reason"
                )
        return pl.from_arrow(pat_outliers(frame, static.to_arrow(), dynamic))

    def _static_limits(self, context: ScreeningContext, params: PatParams) -> pl.DataFrame:
        """The caller's static limits (the lot history), else limits from the lots screened."""
        if context.static_limits is not None:
            static = _frame(
                context.static_limits, "static_limits", (*TEST_KEY, "pat_lo", "pat_hi", "skipped")
            )
            if not isinstance(params.tests, str):
                static = static.filter(pl.col("test_num").is_in(list(params.tests)))
            return static
        min_lots = params.min_lots
        n_lots = context.tidy.get_column("lot_id").n_unique()
        if n_lots < min_lots and context.short_history == "note":
            # Too few lots is no history: limits from the lots screened, said plainly.
            these = "this lot" if n_lots == 1 else f"these {n_lots} lots"
            context.note(
                f"static PAT limits computed from {these} alone: AEC-Q001 asks for {min_lots} lots of "
                f"history (pass static_limits= to use them)"
            )
            min_lots = 1
        try:
            static = static_pat_limits(
                context.tidy, k=params.k, min_lots=min_lots, tests=params.tests, iqr_zero=params.iqr_zero,
                quantile_method=params.quantile_method,
            )  # fmt: skip
        except ValueError as exc:
            raise ValueError(f"{exc} (pass static_limits= to screen fewer lots)") from exc
        return pl.from_arrow(static)

    def describe(self, params: PatParams) -> str:
        text = (
            f"static: robust mean ± {params.k:g} robust sigma from >= {params.min_lots} lots, "
            f"tests {_tests_text(params.tests)}, IQR 0: {params.iqr_zero}, quantiles {params.quantile_method}"
        )
        d = params.dynamic
        if d is None:
            return text + "; dynamic: off"
        return text + f"; dynamic per {d.scope}: {d.center} ± {d.n:g} sigma, >= {d.min_parts} parts"


def _tests_text(tests: str | tuple[int, ...]) -> str:
    return tests if isinstance(tests, str) else ", ".join(map(str, tests))
