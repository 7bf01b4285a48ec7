"""Static and dynamic Part Average Testing as a screening rule: the recipe's ``[pat]`` table.

Every default is the document's (AEC-Q001 Rev-D, December 9, 2011), or, where it gives none,
the choice that rejects no more than it does: see each field of :class:`PatParams` and
:class:`DynamicPatParams`.

References
----------
Automotive Electronics Council, *AEC-Q001 Rev-D: Guidelines for Part Average Testing* (2011):
§3.1.1 static limits robust mean ± 6 robust sigma from at least six lots, §3.1.2 dynamic limits
mean ± 6 sigma per lot or wafer, never outside the static limits; see :mod:`silicio.yields.pat`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from silicio.i18n import C_

from ..pat import (
    ALARM_POLICIES,
    DYNAMIC_CENTERS,
    DYNAMIC_SCOPES,
    IQR_ZERO_POLICIES,
    QUANTILE_METHODS,
    TEST_KEY,
    _dynamic_limits,
    _outliers,
    _static_frame,
    limits_of_lots,
    static_limits_per_lot,
)
from ..pat import _static_limits as _static_limits_of_passing
from .base import RecipeTable, ScreeningContext, ScreeningRule

__all__ = ["DynamicPatParams", "PatParams", "PatRule"]


@dataclass(frozen=True)
class DynamicPatParams:
    """Dynamic PAT (AEC-Q001 Rev-D §3.1.2): limits center ± n sigma per wafer or lot, clamped
    inside the static limits."""

    #: AEC-Q001 Rev-D §3.1.2 allows a lot or a wafer; per wafer follows wafer-to-wafer shifts,
    #: which a lot's limits would absorb as spread.
    scope: str = "wafer"
    #: AEC-Q001 Rev-D §3.1.2: mean ± 6 sigma.
    n: float = 6.0
    #: AEC-Q001 Rev-D §3.1.2: mean and sigma ("median": its robust alternative, robust mean ±
    #: n robust sigma, which outliers cannot widen, so it rejects more: not the default).
    center: str = "mean"
    #: AEC-Q001 Rev-D §3.1.1 samples at least 30 parts per lot; fewer is no population to set
    #: limits on (and mean ± 6 sigma cannot reject anything below 38 parts anyway).
    min_parts: int = 30


@dataclass(frozen=True)
class PatParams:
    """Static PAT (AEC-Q001 Rev-D): robust mean ± k robust sigma from >= min_lots lots."""

    #: AEC-Q001 Rev-D applies PAT to the electrical (parametric) tests: all of them unless the
    #: recipe lists some.
    tests: str | tuple[int, ...] = "all"
    #: AEC-Q001 Rev-D §3.1.1: robust mean ± 6 robust sigma.
    k: float = 6.0
    #: AEC-Q001 Rev-D §3.1.1: static limits from at least six lots.
    min_lots: int = 6
    #: A test whose IQR is 0 has no robust sigma (AEC-Q001 Rev-D §2.4 divides the IQR): "skip"
    #: reports it unscreened rather than rejecting every result off the median.
    iqr_zero: str = "skip"
    #: Hyndman-Fan type 7, numpy's and R's default.
    quantile_method: str = "linear"
    #: STDF TEST_FLG bit 0 marks a result taken while the tester raised an alarm: it is no
    #: measurement to set limits on or to reject a part for, so left out unless "include".
    alarmed: str = "exclude"
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
            "tests", "k", "min_lots", "iqr_zero", "quantile_method", "alarmed", "dynamic"
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
            alarmed=t.choice("alarmed", "exclude", ALARM_POLICIES),
            dynamic=dynamic,
        )

    def apply(self, context: ScreeningContext, params: PatParams) -> pl.DataFrame:
        if params.alarmed == "exclude":
            n_alarmed = context.alarmed_results(params.tests)
            if n_alarmed:
                context.note(
                    f"PAT: {n_alarmed} alarm-flagged result(s) (TEST_FLG bit 0) of passing parts left out of "
                    f"the populations and not judged"
                )
        static = self._static_limits(context, params)
        context.keep("static_limits", static)
        skipped = static.filter(pl.col("skipped")).unique([*TEST_KEY, "reason"], maintain_order=True)
        for row in skipped.iter_rows(named=True):
            context.note(
                f"PAT static: test {row['test_num']} {row['test_name'] or ''} not screened: {row['reason']}"
            )
        dynamic = None
        if params.dynamic is not None:
            d = params.dynamic
            limits = _dynamic_limits(
                context.measurements(params.alarmed), static, scope=d.scope, n=d.n, center=d.center,
                min_parts=d.min_parts, iqr_zero=params.iqr_zero, quantile_method=params.quantile_method,
            )  # fmt: skip
            context.keep("dynamic_limits", limits)
            dynamic = limits
            n_skipped = limits["skipped"].sum()
            if n_skipped:
                context.note(
                    C_(
                        "PAT dynamic: %(count)s (%(scope)s, test) group(s) not screened, see dynamic_limits.reason"
                    )
                    % {"count": n_skipped, "scope": d.scope}
                )
            n_clamped = limits.select(
                (pl.col("clamped_static_lo") | pl.col("clamped_static_hi")).sum()
            ).item()
            if n_clamped:
                context.note(
                    C_(
                        "PAT dynamic: %(count)s (%(scope)s, test) limit pair(s) wider than the static limits, "
                        "clamped inside them (AEC-Q001 Rev-D §3.1.2)"
                    )
                    % {"count": n_clamped, "scope": d.scope}
                )
        return _outliers(context.measurements(params.alarmed), static, dynamic)

    def _static_limits(self, context: ScreeningContext, params: PatParams) -> pl.DataFrame:
        """The caller's static limits, else each lot's from its history, else limits from the
        lots screened."""
        if context.static_limits is not None:
            static = _static_frame(context.static_limits)
            if not isinstance(params.tests, str):
                static = static.filter(pl.col("test_num").is_in(list(params.tests)))
            return static
        if context.history is not None:
            return self._history_limits(context, params)
        return self._pooled_limits(context, params)

    def _history_limits(self, context: ScreeningContext, params: PatParams) -> pl.DataFrame:
        """Each lot's static limits from the lots of its baseline (AEC-Q001 Rev-D §3.1.1: at least
        six earlier lots, never the lot judged); the lots with no baseline (too few earlier lots)
        get preliminary limits from the lots screened, said in a note."""
        assert context.history is not None
        screened = sorted(
            lot for lot in context.parts.get_column("lot_id").unique().to_list() if lot is not None
        )
        with_history = {lot: tuple(context.history[lot]) for lot in screened if lot in context.history}
        passing = context.measurements(params.alarmed)
        incomplete = sorted(lot for lot, base in with_history.items() if not set(base) <= set(screened))
        if incomplete:
            context.note(f"the baseline of lot(s) {', '.join(incomplete)} names lots not in the data screened: "
                         "they are screened with the preliminary limits")  # fmt: skip
            for lot in incomplete:
                del with_history[lot]
        pieces = [
            static_limits_per_lot(
                passing,
                with_history,
                k=params.k,
                min_lots=params.min_lots,
                tests=params.tests,
                iqr_zero=params.iqr_zero,
                quantile_method=params.quantile_method,
            )  # fmt: skip
        ]
        rest = [lot for lot in screened if lot not in with_history]
        if rest:
            context.note(
                C_(
                    "static PAT limits of lot(s) %(lots)s: fewer than %(needed)s earlier lots of their test program "
                    "(AEC-Q001 Rev-D), so preliminary limits from the %(screened)s lot(s) screened, these included"
                )
                % {"lots": ", ".join(rest), "needed": params.min_lots, "screened": len(screened)}
            )
            pieces.append(limits_of_lots(self._pooled_limits(context, params), rest, screened))
        return pl.concat(pieces).sort("lot_id", maintain_order=True)

    def _pooled_limits(self, context: ScreeningContext, params: PatParams) -> pl.DataFrame:
        """Limits from all the lots screened (AEC-Q001's six, or fewer with a note)."""
        min_lots = params.min_lots
        # Lots are counted only where a short history may be noted: a pass over every row.
        n_lots = context.tidy.get_column("lot_id").n_unique() if context.short_history == "note" else min_lots
        if n_lots < min_lots:
            # Too few lots is no history: limits from the lots screened, said plainly.
            these = "this lot" if n_lots == 1 else f"these {n_lots} lots"
            context.note(
                f"static PAT limits computed from {these} alone: AEC-Q001 asks for {min_lots} lots of "
                f"history (pass static_limits= to use them)"
            )
            min_lots = 1
        try:
            return _static_limits_of_passing(
                context.measurements(params.alarmed), k=params.k, min_lots=min_lots, tests=params.tests,
                iqr_zero=params.iqr_zero, quantile_method=params.quantile_method,
            )  # fmt: skip
        except ValueError as exc:
            raise ValueError(f"{exc} (pass static_limits= to screen fewer lots)") from exc

    def describe(self, params: PatParams) -> str:
        text = (
            f"static: robust mean ± {params.k:g} robust sigma from >= {params.min_lots} lots, "
            f"tests {_tests_text(params.tests)}, IQR 0: {params.iqr_zero}, quantiles {params.quantile_method}, "
            f"alarmed results: {params.alarmed}"
        )
        d = params.dynamic
        if d is None:
            return text + "; dynamic: off"
        return text + (
            f"; dynamic per {d.scope}: {d.center} ± {d.n:g} sigma, >= {d.min_parts} parts, inside the static limits"
        )


def _tests_text(tests: str | tuple[int, ...]) -> str:
    return tests if isinstance(tests, str) else ", ".join(map(str, tests))
