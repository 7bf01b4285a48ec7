"""Measurement system analysis: gage repeatability and reproducibility, bias and linearity.

A crossed gage study has ``p`` parts, each measured ``r`` times (trials) by each of ``o``
appraisers. Its data is a ``(p, o, r)`` array, or a long table with one row per measurement
that :func:`gage_study_array` arranges into one.

Components are standard deviations, named as the AIAG manual names them: EV (equipment
variation, repeatability), AV (appraiser variation, reproducibility), INT (appraiser-by-part
interaction), GRR, PV (part variation) and TV (total variation).

References
----------
.. [1] AIAG, *Measurement Systems Analysis*, Reference Manual, 4th ed. (2010): ch. III sect. B
   (bias, linearity; GRR by the average and range method), ch. III sect. B "Analysis of
   Variance (ANOVA) Method", Appendix A (ANOVA), Appendix C (d2* table).
.. [2] A. J. Duncan, "The use of ranges in comparing variabilities", *Industrial Quality
   Control* 11(5) (1955) 18-22: the d2* constants of AIAG Appendix C.
.. [3] P. B. Patnaik, "The use of mean range as an estimator of variance in statistical
   tests", *Biometrika* 37 (1950) 78-87: mean range approximated as a scaled chi variable.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats

from .errors import MetrologyError

__all__ = [
    "AnovaRow",
    "Bias",
    "GageRR",
    "Linearity",
    "bias",
    "d2",
    "d2_star",
    "d3",
    "gage_rr_anova",
    "gage_rr_average_range",
    "gage_study_array",
    "k_factors",
    "linearity",
]

#: AIAG 4th ed. expresses study variation as 6 standard deviations (the 3rd edition used 5.15).
STUDY_VARIATION = 6.0
#: ndc = 1.41 PV / GRR (AIAG MSA 4th ed. ch. III sect. B; 1.41 ~ sqrt(2)).
NDC_FACTOR = 1.41


# --------------------------------------------------------------------------------------------
# d2, d3, d2*


@functools.cache
def _range_moments(m: int) -> tuple[float, float]:
    """E[W] and E[W^2] of the range W of ``m`` independent standard normal variables."""
    # The integrands are smooth and decay like the normal density: the trapezoid rule on a wide
    # uniform grid converges exponentially (step 0.05 agrees with step 0.005 to 1e-11).
    x = np.linspace(-10.0, 10.0, 401)
    dx = x[1] - x[0]
    cdf, pdf = stats.norm.cdf(x), stats.norm.pdf(x)
    # E[W] = integral of 1 - Phi(x)^m - (1 - Phi(x))^m over the real line.
    mean = float(np.sum(1.0 - cdf**m - stats.norm.sf(x) ** m) * dx)

    # E[W^2] = integral over w > 0 of 2 w P(W > w), with
    # P(W > w) = 1 - m * integral of phi(x) [Phi(x + w) - Phi(x)]^(m - 1) dx,
    # by composite Gauss-Legendre on [0, 20] (P(W > 20) is below 1e-40 for any useful m).
    nodes, weights = np.polynomial.legendre.leggauss(24)
    edges = np.linspace(0.0, 20.0, 21)
    half = np.diff(edges) / 2.0
    w = ((edges[:-1] + half)[:, None] + half[:, None] * nodes[None, :]).ravel()
    ww = (half[:, None] * weights[None, :]).ravel()
    inner = np.sum(pdf[None, :] * (stats.norm.cdf(x[None, :] + w[:, None]) - cdf[None, :]) ** (m - 1), axis=1)
    survival = 1.0 - m * inner * dx
    second = float(np.sum(ww * 2.0 * w * survival))
    return mean, second


def _check_size(m: int) -> int:
    if int(m) != m or m < 2:
        raise MetrologyError(f"a range needs a subgroup size of at least 2, got {m}")
    return int(m)


def d2(m: int) -> float:
    """Mean of the relative range W = R/sigma of ``m`` normal observations, E[W].

    Defining integral of the control chart constant d2 (AIAG MSA 4th ed. Appendix C, g = inf).
    """
    return _range_moments(_check_size(m))[0]


def d3(m: int) -> float:
    """Standard deviation of the relative range W = R/sigma of ``m`` normal observations."""
    mean, second = _range_moments(_check_size(m))
    return math.sqrt(second - mean * mean)


def d2_star(m: int, g: float = 1) -> float:
    """Duncan's d2* for the average of ``g`` ranges of subgroups of size ``m``.

    Patnaik's approximation takes the mean range as c * chi_nu / sqrt(nu); matching its first two
    moments gives c^2 = E[Rbar^2] / sigma^2 = d2^2 + d3^2 / g, and d2* = c [3] (AIAG MSA 4th ed.
    Appendix C tabulates these values; g = inf gives d2).
    """
    if not g >= 1:
        raise MetrologyError(f"d2* needs at least one subgroup, got g = {g}")
    mean, second = _range_moments(_check_size(m))
    variance = second - mean * mean
    return math.sqrt(mean * mean + variance / g)


def k_factors(n_trials: int, n_appraisers: int, n_parts: int, convention: str = "aiag") -> tuple[float, ...]:
    """K1, K2, K3 of the average and range method (AIAG MSA 4th ed. ch. III sect. B).

    K1 = 1/d2(trials), K2 = 1/d2*(appraisers, g=1), K3 = 1/d2*(parts, g=1).
    ``convention="aiag"`` rounds them to the 4 decimals the manual prints (which reproduces its
    tables: K1 = 0.8862, 0.5908; K2 = 0.7071, 0.5231; K3 = 0.7071 ... 0.3146 for 2 ... 10
    parts) so that results match the manual and software that uses its tables; ``"unrounded"``
    keeps all digits.
    """
    k = (1.0 / d2(n_trials), 1.0 / d2_star(n_appraisers, 1), 1.0 / d2_star(n_parts, 1))
    if convention == "aiag":
        return tuple(round(v, 4) for v in k)
    if convention == "unrounded":
        return k
    raise MetrologyError(f"unknown K-factor convention {convention!r}: expected 'aiag' or 'unrounded'")


# The gage functions take a ``k_factors`` argument of the same name.
_k_factors = k_factors


# --------------------------------------------------------------------------------------------
# the study's data


def _as_table(data: Any) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if hasattr(data, "to_arrow"):  # polars DataFrame
        return data.to_arrow()
    if isinstance(data, Mapping):
        return pa.table(dict(data))
    raise MetrologyError(
        f"expected a (parts, appraisers, trials) array or a table, got {type(data).__name__}"
    )


_WIDE = re.compile(r"^(?P<prefix>[^\d]*?)[ _-]?(?P<number>\d+)$")


def wide_columns(names: Sequence[str]) -> tuple[str, list[str]] | None:
    """(prefix, columns) when at least two columns are a name followed by a number (Trial1,
    Trial2 ...; Ensayo 1, Ensayo 2 ...): a study written one trial per column."""
    groups: dict[str, list[str]] = {}
    for name in names:
        match = _WIDE.match(name.strip())
        if match and match["prefix"].strip():
            groups.setdefault(match["prefix"].strip(), []).append(name)
    best = max(groups.items(), key=lambda item: len(item[1]), default=None)
    return best if best is not None and len(best[1]) >= 2 else None


def wide_to_long(data: Any, prefix: str, *, value: str = "value", trial: str = "trial") -> pa.Table:
    """A study written one trial per column (``prefix`` 1, ``prefix`` 2 ...) as one row per
    measurement: the other columns repeated, ``trial`` the column's number, ``value`` its cell."""
    table = _as_table(data)
    columns = [
        n for n in table.column_names if (m := _WIDE.match(n.strip())) and m["prefix"].strip() == prefix
    ]
    if len(columns) < 2:
        raise MetrologyError(f"gage study: no columns {prefix}1, {prefix}2 ... to read as trials; "
                             f"columns are {', '.join(table.column_names)}")  # fmt: skip
    keep = [n for n in table.column_names if n not in columns]
    pieces = []
    for name in columns:
        number = int(_WIDE.match(name.strip())["number"])
        piece = table.select(keep).append_column(trial, pa.array([number] * table.num_rows, pa.int64()))
        pieces.append(piece.append_column(value, pc.cast(table.column(name), pa.float64())))
    long = pa.concat_tables(pieces)
    # Measurements of a cell in trial order, as the long layout writes them.
    order = sorted(range(long.num_rows), key=lambda i: (i % table.num_rows, i // table.num_rows))
    return long.take(pa.array(order))


def gage_study_array(
    data: Any, *, part: str = "part", appraiser: str = "appraiser", value: str = "value"
) -> tuple[np.ndarray, list, list]:
    """Arrange a long table (one row per measurement) as a ``(parts, appraisers, trials)`` array.

    Trials are taken in row order within each (part, appraiser) cell. Returns the array, the part
    labels and the appraiser labels, each in order of first appearance. The study must be
    balanced (the same number of trials in every cell) with no missing values.
    """
    table = _as_table(data)
    missing = [c for c in (part, appraiser, value) if c not in table.column_names]
    if missing:
        hint = ""
        wide = wide_columns(table.column_names)
        if value in missing and wide:
            prefix, names = wide
            hint = (f". Columns {', '.join(names)} look like one trial per column (a wide layout): give "
                    f"--wide {prefix} (wide_to_long(table, {prefix!r}) in Python) to read them as trials")  # fmt: skip
        raise MetrologyError(
            f"gage study: no column {', '.join(map(repr, missing))}; columns are {', '.join(table.column_names)}"
            + hint
        )
    try:
        values = pc.cast(table.column(value), pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise MetrologyError(f"gage study: column {value!r} is not numeric ({exc})") from None
    parts_col = table.column(part).to_pylist()
    appraisers_col = table.column(appraiser).to_pylist()
    for name, col in ((part, parts_col), (appraiser, appraisers_col)):
        if None in col:
            raise MetrologyError(f"gage study: column {name!r} is empty in row {col.index(None) + 1}")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise MetrologyError(f"gage study: column {value!r} has no number in row {bad[0] + 1}")
    part_labels = list(dict.fromkeys(parts_col))
    appraiser_labels = list(dict.fromkeys(appraisers_col))
    cells: dict[tuple, list[float]] = {}
    for p_, a_, v in zip(parts_col, appraisers_col, values, strict=True):
        cells.setdefault((p_, a_), []).append(float(v))
    counts = {len(v) for v in cells.values()}
    if len(cells) != len(part_labels) * len(appraiser_labels):
        absent = next((p_, a_) for p_ in part_labels for a_ in appraiser_labels if (p_, a_) not in cells)
        raise MetrologyError(
            f"gage study is not crossed: appraiser {absent[1]!r} never measured part {absent[0]!r}"
        )
    if len(counts) != 1:
        raise MetrologyError(
            f"gage study is not balanced: cells have {sorted(counts)} trials; every appraiser must "
            "measure every part the same number of times"
        )
    array = np.array([[cells[(p_, a_)] for a_ in appraiser_labels] for p_ in part_labels], dtype=float)
    return array, part_labels, appraiser_labels


def _study(data: Any, part: str, appraiser: str, value: str) -> tuple[np.ndarray, list, list]:
    if isinstance(data, np.ndarray | list | tuple):
        x = np.asarray(data, dtype=float)
        if x.ndim != 3:
            raise MetrologyError(f"a gage study array has 3 axes (parts, appraisers, trials), got {x.ndim}")
        if not np.all(np.isfinite(x)):
            raise MetrologyError("gage study array holds NaN or infinite values")
        labels = (list(range(1, x.shape[0] + 1)), list(range(1, x.shape[1] + 1)))
    else:
        x, *labels = gage_study_array(data, part=part, appraiser=appraiser, value=value)
    p, o, r = x.shape
    if p < 2 or o < 2 or r < 2:
        raise MetrologyError(
            f"a gage study needs at least 2 parts, 2 appraisers and 2 trials; got {p} parts, "
            f"{o} appraisers, {r} trials"
        )
    return x, labels[0], labels[1]


# --------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class AnovaRow:
    """One line of a two-way ANOVA table (AIAG MSA 4th ed. ch. III sect. B, Appendix A)."""

    source: str
    df: int
    ss: float
    ms: float
    f: float | None = None
    p: float | None = None


@dataclass(frozen=True)
class GageRR:
    """A gage R&R result: components as standard deviations, and the AIAG ratios.

    ``tolerance`` (USL - LSL), when given, yields %tolerance = 100 * 6 sigma / tolerance
    (AIAG MSA 4th ed. ch. III sect. B; ``study_variation`` is the 6 of 6 sigma).
    """

    method: str
    n_parts: int
    n_appraisers: int
    n_trials: int
    ev: float
    av: float
    interaction: float
    grr: float
    pv: float
    tv: float
    tolerance: float | None = None
    study_variation: float = STUDY_VARIATION
    #: Average and range: rbar, xdiff, rp, k1, k2, k3, ucl_range. ANOVA: alpha_interaction,
    #: p_interaction, pooled.
    statistics: dict[str, float] = field(default_factory=dict)
    #: ANOVA table with interaction (empty for average and range).
    anova: tuple[AnovaRow, ...] = ()
    #: ANOVA table without interaction, when the interaction was pooled into repeatability.
    anova_pooled: tuple[AnovaRow, ...] = ()
    part_labels: tuple = ()
    appraiser_labels: tuple = ()

    @property
    def components(self) -> dict[str, float]:
        """Standard deviation of each source: EV, AV, INT, GRR, PV, TV."""
        return {
            "EV": self.ev,
            "AV": self.av,
            "INT": self.interaction,
            "GRR": self.grr,
            "PV": self.pv,
            "TV": self.tv,
        }

    @property
    def percent_study_variation(self) -> dict[str, float]:
        """100 * component / TV for each source (AIAG %EV, %AV, %GRR, %PV)."""
        return {k: 100.0 * v / self.tv for k, v in self.components.items()}

    @property
    def percent_contribution(self) -> dict[str, float]:
        """100 * variance / total variance for each source (its share of TV^2)."""
        return {k: 100.0 * v * v / (self.tv * self.tv) for k, v in self.components.items()}

    @property
    def percent_tolerance(self) -> dict[str, float] | None:
        """100 * 6 sigma / tolerance for each source, or None without a tolerance."""
        if self.tolerance is None:
            return None
        return {k: 100.0 * self.study_variation * v / self.tolerance for k, v in self.components.items()}

    @property
    def percent_grr(self) -> float:
        return 100.0 * self.grr / self.tv

    @property
    def ndc(self) -> float:
        """Number of distinct categories 1.41 PV / GRR, unrounded (AIAG MSA 4th ed. ch. III sect. B)."""
        return math.inf if self.grr == 0 else NDC_FACTOR * self.pv / self.grr

    @property
    def ndc_truncated(self) -> int | None:
        """ndc truncated to an integer, as the manual reports it (None when GRR is 0)."""
        return None if self.grr == 0 else int(math.floor(self.ndc))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "method": self.method,
            "parts": self.n_parts,
            "appraisers": self.n_appraisers,
            "trials": self.n_trials,
            "components": self.components,
            "percent_study_variation": self.percent_study_variation,
            "percent_contribution": self.percent_contribution,
            "tolerance": self.tolerance,
            "percent_tolerance": self.percent_tolerance,
            "ndc": self.ndc,
            "ndc_truncated": self.ndc_truncated,
            "statistics": dict(self.statistics),
        }
        if self.anova:
            out["anova"] = [row.__dict__ for row in self.anova]
        if self.anova_pooled:
            out["anova_pooled"] = [row.__dict__ for row in self.anova_pooled]
        return out


def _check_tolerance(tolerance: float | None) -> float | None:
    if tolerance is None:
        return None
    if not (math.isfinite(tolerance) and tolerance > 0):
        raise MetrologyError(f"tolerance must be a positive number (USL - LSL), got {tolerance}")
    return float(tolerance)


# --------------------------------------------------------------------------------------------
# gage R&R


def gage_rr_average_range(
    data: Any,
    tolerance: float | None = None,
    k_factors: str | Sequence[float] = "aiag",
    *,
    part: str = "part",
    appraiser: str = "appraiser",
    value: str = "value",
) -> GageRR:
    """Gage R&R by the average and range method (AIAG MSA 4th ed. ch. III sect. B).

    EV = Rbar K1; AV = sqrt((Xdiff K2)^2 - EV^2 / (n r)), 0 when negative; GRR = sqrt(EV^2 + AV^2);
    PV = Rp K3; TV = sqrt(GRR^2 + PV^2). ``k_factors`` is a convention of :func:`k_factors`
    ("aiag": the manual's 4-decimal values) or explicit (K1, K2, K3).
    """
    x, part_labels, appraiser_labels = _study(data, part, appraiser, value)
    p, o, r = x.shape
    if isinstance(k_factors, str):
        k1, k2, k3 = _k_factors(r, o, p, k_factors)
    else:
        k1, k2, k3 = (float(k) for k in k_factors)
    ranges = np.ptp(x, axis=2)  # one range per part and appraiser
    rbar = float(ranges.mean())
    xdiff = float(np.ptp(x.mean(axis=(0, 2))))
    rp = float(np.ptp(x.mean(axis=(1, 2))))
    ev = rbar * k1
    av = math.sqrt(max((xdiff * k2) ** 2 - ev * ev / (p * r), 0.0))
    grr = math.hypot(ev, av)
    pv = rp * k3
    # UCL of the ranges, D4 Rbar with D4 = 1 + 3 d3/d2: ranges above it are investigated.
    ucl_range = rbar * (1.0 + 3.0 * d3(r) / d2(r))
    return GageRR(
        method="average-range",
        n_parts=p,
        n_appraisers=o,
        n_trials=r,
        ev=ev,
        av=av,
        interaction=0.0,
        grr=grr,
        pv=pv,
        tv=math.hypot(grr, pv),
        tolerance=_check_tolerance(tolerance),
        statistics={
            "rbar": rbar,
            "xdiff": xdiff,
            "rp": rp,
            "k1": k1,
            "k2": k2,
            "k3": k3,
            "ucl_range": ucl_range,
            "ranges_above_ucl": int(np.sum(ranges > ucl_range)),
        },
        part_labels=tuple(part_labels),
        appraiser_labels=tuple(appraiser_labels),
    )


def gage_rr_anova(
    data: Any,
    tolerance: float | None = None,
    alpha_interaction: float = 0.25,
    *,
    part: str = "part",
    appraiser: str = "appraiser",
    value: str = "value",
) -> GageRR:
    """Gage R&R by two-way crossed random-effects ANOVA (AIAG MSA 4th ed. ch. III sect. B, App. A).

    Part and appraiser are tested against the interaction mean square. When the interaction's
    p-value exceeds ``alpha_interaction`` (0.25 by the usual convention) it is pooled with
    repeatability, MS_pooled = (SS_int + SS_e) / (df_int + df_e), and the components are

    EV^2 = MS_e; INT^2 = (MS_int - MS_e)/r; AV^2 = (MS_A - MS_int)/(n r); PV^2 = (MS_P - MS_int)/(k r)

    with MS_pooled for MS_e and MS_int (and INT = 0) after pooling; negative estimates are 0.
    """
    if not 0.0 <= alpha_interaction <= 1.0:
        raise MetrologyError(f"alpha_interaction must lie in [0, 1], got {alpha_interaction}")
    x, part_labels, appraiser_labels = _study(data, part, appraiser, value)
    p, o, r = x.shape
    grand = x.mean()
    part_means = x.mean(axis=(1, 2))
    appraiser_means = x.mean(axis=(0, 2))
    cell_means = x.mean(axis=2)
    ss_part = o * r * float(np.sum((part_means - grand) ** 2))
    ss_appraiser = p * r * float(np.sum((appraiser_means - grand) ** 2))
    ss_int = r * float(np.sum((cell_means - part_means[:, None] - appraiser_means[None, :] + grand) ** 2))
    ss_error = float(np.sum((x - cell_means[:, :, None]) ** 2))
    ss_total = float(np.sum((x - grand) ** 2))
    df_part, df_appraiser, df_int, df_error = p - 1, o - 1, (p - 1) * (o - 1), p * o * (r - 1)
    ms_part, ms_appraiser = ss_part / df_part, ss_appraiser / df_appraiser
    ms_int, ms_error = ss_int / df_int, ss_error / df_error

    def f_test(ms: float, ms_den: float, df: int, df_den: int) -> tuple[float, float]:
        if ms_den == 0:
            return (math.inf, 0.0) if ms > 0 else (math.nan, math.nan)
        f = ms / ms_den
        return f, float(stats.f.sf(f, df, df_den))

    f_p, p_p = f_test(ms_part, ms_int, df_part, df_int)
    f_a, p_a = f_test(ms_appraiser, ms_int, df_appraiser, df_int)
    f_i, p_i = f_test(ms_int, ms_error, df_int, df_error)
    anova = (
        AnovaRow("Part", df_part, ss_part, ms_part, f_p, p_p),
        AnovaRow("Appraiser", df_appraiser, ss_appraiser, ms_appraiser, f_a, p_a),
        AnovaRow("Part x Appraiser", df_int, ss_int, ms_int, f_i, p_i),
        AnovaRow("Repeatability", df_error, ss_error, ms_error),
        AnovaRow("Total", p * o * r - 1, ss_total, ss_total / (p * o * r - 1)),
    )
    pooled = bool(p_i > alpha_interaction) if math.isfinite(p_i) else False
    anova_pooled: tuple[AnovaRow, ...] = ()
    if pooled:
        df_res = df_int + df_error
        ms_res = (ss_int + ss_error) / df_res
        f_p2, p_p2 = f_test(ms_part, ms_res, df_part, df_res)
        f_a2, p_a2 = f_test(ms_appraiser, ms_res, df_appraiser, df_res)
        anova_pooled = (
            AnovaRow("Part", df_part, ss_part, ms_part, f_p2, p_p2),
            AnovaRow("Appraiser", df_appraiser, ss_appraiser, ms_appraiser, f_a2, p_a2),
            AnovaRow("Repeatability", df_res, ss_int + ss_error, ms_res),
            AnovaRow("Total", p * o * r - 1, ss_total, ss_total / (p * o * r - 1)),
        )
        var_e, var_int = ms_res, 0.0
        ms_against = ms_res
    else:
        var_e, var_int = ms_error, max((ms_int - ms_error) / r, 0.0)
        ms_against = ms_int
    var_a = max((ms_appraiser - ms_against) / (p * r), 0.0)
    var_p = max((ms_part - ms_against) / (o * r), 0.0)
    grr = math.sqrt(var_e + var_a + var_int)
    pv = math.sqrt(var_p)
    return GageRR(
        method="anova",
        n_parts=p,
        n_appraisers=o,
        n_trials=r,
        ev=math.sqrt(var_e),
        av=math.sqrt(var_a),
        interaction=math.sqrt(var_int),
        grr=grr,
        pv=pv,
        tv=math.hypot(grr, pv),
        tolerance=_check_tolerance(tolerance),
        statistics={"alpha_interaction": alpha_interaction, "p_interaction": p_i, "pooled": pooled},
        anova=anova,
        anova_pooled=anova_pooled,
        part_labels=tuple(part_labels),
        appraiser_labels=tuple(appraiser_labels),
    )


# --------------------------------------------------------------------------------------------
# bias and linearity


def _observations(values: Any, what: str, minimum: int) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    if x.size < minimum:
        raise MetrologyError(f"{what} needs at least {minimum} measurements, got {x.size}")
    if not np.all(np.isfinite(x)):
        raise MetrologyError(f"{what}: measurements hold NaN or infinite values")
    return x


@dataclass(frozen=True)
class Bias:
    """An independent-sample bias study (AIAG MSA 4th ed. ch. III sect. B, "Bias")."""

    reference: float
    n: int
    mean: float
    bias: float
    repeatability: float  # sigma_r, sample standard deviation of the measurements
    standard_error: float  # sigma_b = sigma_r / sqrt(n)
    t: float
    dof: int
    p_value: float
    confidence: float
    lower: float
    upper: float

    @property
    def acceptable(self) -> bool:
        """Zero lies within the confidence interval of the bias (the manual's criterion)."""
        return self.lower <= 0.0 <= self.upper

    def percent_of(self, variation: float) -> float:
        """|bias| as a percentage of a process variation or tolerance."""
        return 100.0 * abs(self.bias) / variation


def bias(measurements: Any, reference: float, confidence: float = 0.95) -> Bias:
    """Bias of repeated measurements of one reference part, with its t test.

    bias = mean - reference; sigma_r = s; sigma_b = sigma_r / sqrt(n); t = bias / sigma_b with
    n - 1 degrees of freedom; interval bias -/+ t_{n-1, 1-alpha/2} sigma_b (AIAG MSA 4th ed.
    ch. III sect. B, independent sample method).
    """
    if not 0.0 < confidence < 1.0:
        raise MetrologyError(f"confidence must lie in (0, 1), got {confidence}")
    x = _observations(measurements, "a bias study", 2)
    n = x.size
    mean = float(x.mean())
    b = mean - float(reference)
    s = float(x.std(ddof=1))
    se = s / math.sqrt(n)
    t = b / se if se > 0 else math.copysign(math.inf, b) if b else 0.0
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1)) * se
    return Bias(
        reference=float(reference),
        n=n,
        mean=mean,
        bias=b,
        repeatability=s,
        standard_error=se,
        t=t,
        dof=n - 1,
        p_value=float(2.0 * stats.t.sf(abs(t), n - 1)),
        confidence=confidence,
        lower=b - half,
        upper=b + half,
    )


@dataclass(frozen=True)
class Linearity:
    """A linearity study: bias regressed on reference value (AIAG MSA 4th ed. ch. III sect. B)."""

    slope: float  # a
    intercept: float  # b
    s: float  # residual standard deviation
    n: int  # g m, all individual biases
    t_slope: float
    t_intercept: float
    p_slope: float
    p_intercept: float
    r_squared: float
    confidence: float
    reference_mean: float
    sxx: float
    references: np.ndarray  # the distinct reference values
    bias_averages: np.ndarray  # mean bias at each

    def band(self, x0: Any) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper confidence band of the fitted bias at reference values ``x0``.

        b + a x0 -/+ t_{gm-2, 1-alpha/2} [1/(gm) + (x0 - xbar)^2 / sum (x - xbar)^2]^(1/2) s.
        """
        x0 = np.asarray(x0, dtype=float)
        t = stats.t.ppf(0.5 + self.confidence / 2.0, self.n - 2)
        half = t * self.s * np.sqrt(1.0 / self.n + (x0 - self.reference_mean) ** 2 / self.sxx)
        fit = self.intercept + self.slope * x0
        return fit - half, fit + half

    @property
    def acceptable(self) -> bool:
        """The line bias = 0 lies within the confidence bands over the studied range."""
        lo, hi = self.band(self.references)
        return bool(np.all(lo <= 0.0) and np.all(hi >= 0.0))

    @property
    def percent_linearity(self) -> float:
        """100 |slope|: the change of bias per unit of reference value, in percent."""
        return 100.0 * abs(self.slope)


def linearity(references: Any, measurements: Any, confidence: float = 0.95) -> Linearity:
    """Linearity study: individual biases y = x_meas - x_ref regressed on x_ref.

    Least squares over all g m biases (AIAG MSA 4th ed. ch. III sect. B, "Linearity"):
    a = (sum xy - sum x sum y / gm) / (sum x^2 - (sum x)^2 / gm), b = ybar - a xbar,
    s = sqrt((sum y^2 - b sum y - a sum xy) / (gm - 2)); t_a = |a| / (s / sqrt(sum (x - xbar)^2)),
    t_b = |b| / ([1/gm + xbar^2 / sum (x - xbar)^2]^(1/2) s), both with gm - 2 degrees of freedom.

    ``references`` and ``measurements`` are equally long: one reference value per measurement.
    """
    if not 0.0 < confidence < 1.0:
        raise MetrologyError(f"confidence must lie in (0, 1), got {confidence}")
    x = _observations(references, "a linearity study", 3)
    y_meas = _observations(measurements, "a linearity study", 3)
    if x.size != y_meas.size:
        raise MetrologyError(
            f"linearity: {x.size} reference values for {y_meas.size} measurements; give one per measurement"
        )
    levels = np.unique(x)
    if levels.size < 2:
        raise MetrologyError("linearity needs parts of at least 2 different reference values")
    y = y_meas - x
    n = x.size
    xbar, ybar = x.mean(), y.mean()
    sxx = float(np.sum((x - xbar) ** 2))
    slope = float(np.sum((x - xbar) * (y - ybar)) / sxx)
    intercept = float(ybar - slope * xbar)
    residuals = y - intercept - slope * x
    s = math.sqrt(float(np.sum(residuals**2)) / (n - 2))
    syy = float(np.sum((y - ybar) ** 2))
    se_slope = s / math.sqrt(sxx)
    se_intercept = s * math.sqrt(1.0 / n + xbar * xbar / sxx)

    def t_of(est: float, se: float) -> float:
        return abs(est) / se if se > 0 else (math.inf if est else 0.0)

    t_a, t_b = t_of(slope, se_slope), t_of(intercept, se_intercept)
    return Linearity(
        slope=slope,
        intercept=intercept,
        s=s,
        n=n,
        t_slope=t_a,
        t_intercept=t_b,
        p_slope=float(2.0 * stats.t.sf(t_a, n - 2)),
        p_intercept=float(2.0 * stats.t.sf(t_b, n - 2)),
        r_squared=1.0 - float(np.sum(residuals**2)) / syy if syy > 0 else 1.0,
        confidence=confidence,
        reference_mean=float(xbar),
        sxx=sxx,
        references=levels,
        bias_averages=np.array([y[x == v].mean() for v in levels]),
    )
