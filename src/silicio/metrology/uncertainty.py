"""Measurement uncertainty by the law of propagation of uncertainty (the GUM).

An uncertainty budget lists the input quantities X_i of a measurement model Y = f(X_1, ...,
X_N), each with its estimate x_i, standard uncertainty u(x_i), degrees of freedom nu_i and
sensitivity coefficient c_i = df/dx_i. :func:`uncertainty_budget` combines them into the
combined standard uncertainty u_c(y), the effective degrees of freedom and the expanded
uncertainty U = k u_c(y).

Coverage: ``coverage=0.9545`` is the default because that is the probability the GUM's Table
G.2 pairs with k = 2 for infinite degrees of freedom, what calibration certificates call
"approximately 95 %"; pass 0.95 for t_95 or 0.99 as GUM H.1 does.

References
----------
.. [1] JCGM 100:2008, *Evaluation of measurement data - Guide to the expression of uncertainty
   in measurement* (GUM 1995 with minor corrections). Clauses are cited where used.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from .errors import MetrologyError

__all__ = [
    "Input",
    "UncertaintyBudget",
    "coverage_factor",
    "round_uncertainty",
    "sensitivity_coefficients",
    "type_a",
    "type_b",
    "uncertainty_budget",
    "welch_satterthwaite",
]

#: Divisor turning the half-width a of a distribution into a standard uncertainty.
DIVISORS = {
    "rectangular": math.sqrt(3.0),  # GUM 4.3.7: u = a / sqrt(3)
    "triangular": math.sqrt(6.0),  # GUM 4.3.9: u = a / sqrt(6)
    "arcsine": math.sqrt(2.0),  # U-shaped, e.g. a cyclic temperature: GUM H.1.3.4, u = a / sqrt(2)
}


@dataclass(frozen=True)
class Input:
    """One input quantity of a budget: estimate x_i, standard uncertainty u(x_i), dof nu_i.

    ``kind`` is the method of evaluation, 'A' (statistics of repeated observations, GUM 4.2) or
    'B' (other information, GUM 4.3). ``sensitivity`` is c_i when known; otherwise it is taken
    from the model by :func:`sensitivity_coefficients`.
    """

    name: str
    value: float
    standard_uncertainty: float
    dof: float = math.inf
    kind: str = "B"
    sensitivity: float | None = None
    unit: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        where = f"input {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise MetrologyError("an input needs a name")
        for label, v in (("value", self.value), ("standard uncertainty", self.standard_uncertainty)):
            if not isinstance(v, numbers.Real) or not math.isfinite(v):
                raise MetrologyError(f"{where}: {label} must be a finite number, got {v!r}")
        if self.standard_uncertainty < 0:
            raise MetrologyError(f"{where}: standard uncertainty must not be negative")
        if not (isinstance(self.dof, numbers.Real) and self.dof > 0):
            raise MetrologyError(
                f"{where}: degrees of freedom must be positive (inf when exact), got {self.dof!r}"
            )
        if self.kind not in ("A", "B"):
            raise MetrologyError(f"{where}: kind must be 'A' or 'B', got {self.kind!r}")
        if self.sensitivity is not None and not (
            isinstance(self.sensitivity, numbers.Real) and math.isfinite(self.sensitivity)
        ):
            raise MetrologyError(f"{where}: sensitivity must be a finite number, got {self.sensitivity!r}")


def type_a(
    name: str,
    observations: Iterable[float],
    *,
    sensitivity: float | None = None,
    unit: str = "",
    description: str = "",
) -> Input:
    """Type A evaluation from n independent repeated observations.

    Estimate: the arithmetic mean (GUM 4.2.1); u = s / sqrt(n), the experimental standard
    deviation of the mean (GUM 4.2.2, 4.2.3); nu = n - 1 (GUM G.3.3).
    """
    q = np.asarray(list(observations), dtype=float)
    if q.size < 2:
        raise MetrologyError(
            f"input {name!r}: a type A evaluation needs at least 2 observations, got {q.size}"
        )
    if not np.all(np.isfinite(q)):
        raise MetrologyError(f"input {name!r}: observations hold NaN or infinite values")
    return Input(
        name,
        float(q.mean()),
        float(q.std(ddof=1) / math.sqrt(q.size)),
        dof=q.size - 1,
        kind="A",
        sensitivity=sensitivity,
        unit=unit,
        description=description,
    )


def type_b(
    name: str,
    value: float,
    half_width: float | None = None,
    *,
    distribution: str = "rectangular",
    expanded_uncertainty: float | None = None,
    coverage_factor: float | None = None,
    dof: float = math.inf,
    sensitivity: float | None = None,
    unit: str = "",
    description: str = "",
) -> Input:
    """Type B evaluation from an assumed distribution or a quoted expanded uncertainty.

    ``distribution``: 'rectangular' (a/sqrt 3, GUM 4.3.7), 'triangular' (a/sqrt 6, GUM 4.3.9),
    'arcsine' (a/sqrt 2, GUM H.1.3.4) with ``half_width`` a; or 'normal' with
    ``expanded_uncertainty`` U and ``coverage_factor`` k from a certificate, u = U/k (GUM 4.3.3).
    ``dof`` is infinite unless the reliability of u is judged (GUM G.4.2, eq. G.3).
    """
    if distribution == "normal":
        if expanded_uncertainty is None or coverage_factor is None:
            raise MetrologyError(
                f"input {name!r}: a normal type B needs expanded_uncertainty and coverage_factor"
            )
        if not coverage_factor > 0:
            raise MetrologyError(f"input {name!r}: coverage_factor must be positive, got {coverage_factor}")
        u = expanded_uncertainty / coverage_factor
    elif distribution in DIVISORS:
        if half_width is None:
            raise MetrologyError(f"input {name!r}: a {distribution} distribution needs its half_width")
        if not half_width >= 0:
            raise MetrologyError(f"input {name!r}: half_width must not be negative, got {half_width}")
        u = half_width / DIVISORS[distribution]
    else:
        raise MetrologyError(
            f"input {name!r}: unknown distribution {distribution!r}: expected normal, " + ", ".join(DIVISORS)
        )
    return Input(
        name,
        float(value),
        float(u),
        dof=dof,
        kind="B",
        sensitivity=sensitivity,
        unit=unit,
        description=description,
    )


def sensitivity_coefficients(
    model: Callable[..., float], inputs: Sequence[Input], relative_step: float = 1e-3
) -> np.ndarray:
    """c_i = df/dx_i at the estimates (GUM 5.1.3), by central differences.

    ``model`` is called with the inputs' estimates as keyword arguments named after them. The
    step for x_i is ``relative_step`` u(x_i): the scale on which the model is linearised
    (GUM 5.1.3 note 2 evaluates f at x_i -/+ u(x_i)); inputs with u = 0 use sqrt(eps) max(|x|, 1).
    """
    values = {x.name: float(x.value) for x in inputs}
    c = np.empty(len(inputs))
    for i, x in enumerate(inputs):
        h = relative_step * x.standard_uncertainty
        if h == 0:
            h = math.sqrt(np.finfo(float).eps) * max(abs(x.value), 1.0)
        up, down = dict(values), dict(values)
        up[x.name] += h
        down[x.name] -= h
        c[i] = (_call(model, up) - _call(model, down)) / (2.0 * h)
    return c


def _call(model: Callable[..., float], values: Mapping[str, float]) -> float:
    try:
        y = model(**values)
    except TypeError as exc:
        raise MetrologyError(
            f"the model does not take the inputs {', '.join(values)} as keywords: {exc}"
        ) from None
    y = float(y)
    if not math.isfinite(y):
        raise MetrologyError(f"the model gives {y} at {dict(values)}")
    return y


def welch_satterthwaite(combined: float, contributions: Sequence[float], dofs: Sequence[float]) -> float:
    """Effective degrees of freedom nu_eff = u_c^4 / sum(u_i^4 / nu_i) (GUM G.4.1, eq. G.2b).

    ``contributions`` are u_i(y) = |c_i| u(x_i); infinite nu_i add nothing. Not truncated.
    """
    u = np.abs(np.asarray(contributions, dtype=float))
    nu = np.asarray(dofs, dtype=float)
    if u.shape != nu.shape:
        raise MetrologyError(f"{u.size} contributions but {nu.size} degrees of freedom")
    terms = np.divide(u**4, nu, out=np.zeros_like(u), where=np.isfinite(nu))
    total = float(terms.sum())
    return math.inf if total == 0 else combined**4 / total


def coverage_factor(dof: float, coverage: float = 0.9545) -> float:
    """k = t_p(nu), the t-distribution quantile for coverage probability p (GUM G.3.2, G.4.1).

    Infinite ``dof`` gives the normal quantile (k = 2.00 for p = 95.45 %, GUM Table G.2).
    """
    if not 0.0 < coverage < 1.0:
        raise MetrologyError(f"coverage probability must lie in (0, 1), got {coverage}")
    q = 0.5 + coverage / 2.0
    return float(stats.norm.ppf(q)) if math.isinf(dof) else float(stats.t.ppf(q, dof))


def round_uncertainty(u: float, significant: int = 2) -> float:
    """``u`` to at most ``significant`` significant digits, as results are quoted (GUM 7.2.6)."""
    if u == 0 or not math.isfinite(u):
        return u
    return round(u, significant - 1 - math.floor(math.log10(abs(u))))


@dataclass(frozen=True)
class UncertaintyBudget:
    """A combined uncertainty: the budget's lines and the result (GUM clauses 5, 6, G.4)."""

    inputs: tuple[Input, ...]
    sensitivities: np.ndarray
    contributions: np.ndarray  # u_i(y) = |c_i| u(x_i)  (GUM 5.1.3, eq. 11b)
    combined_standard_uncertainty: float
    dof_effective: float
    dof_for_k: float  # nu_eff, truncated to the next lower integer when asked (GUM G.4.1)
    coverage: float
    coverage_factor: float
    estimate: float | None = None
    correlation: np.ndarray | None = field(default=None, repr=False)
    measurand: str = ""
    unit: str = ""

    @property
    def expanded_uncertainty(self) -> float:
        """U = k u_c(y) (GUM 6.2.1)."""
        return self.coverage_factor * self.combined_standard_uncertainty

    @property
    def dof_effective_truncated(self) -> float:
        """nu_eff truncated to the next lower integer, the GUM's practice (G.4.1)."""
        return (
            self.dof_effective if math.isinf(self.dof_effective) else max(math.floor(self.dof_effective), 1)
        )

    @property
    def percent_contributions(self) -> np.ndarray:
        """Share of each input in u_c^2 (uncorrelated part), in percent."""
        total = float(np.sum(self.contributions**2))
        return self.contributions**2 / total * 100.0 if total else np.zeros_like(self.contributions)

    def to_dict(self) -> dict[str, Any]:
        def num(v: float) -> float | str:
            return "inf" if isinstance(v, float) and math.isinf(v) else v

        return {
            "measurand": self.measurand,
            "unit": self.unit,
            "estimate": self.estimate,
            "combined_standard_uncertainty": self.combined_standard_uncertainty,
            "dof_effective": num(self.dof_effective),
            "dof_for_k": num(self.dof_for_k),
            "coverage": self.coverage,
            "coverage_factor": self.coverage_factor,
            "expanded_uncertainty": self.expanded_uncertainty,
            "inputs": [
                {
                    "name": x.name,
                    "value": x.value,
                    "standard_uncertainty": x.standard_uncertainty,
                    "dof": num(float(x.dof)),
                    "kind": x.kind,
                    "unit": x.unit,
                    "sensitivity": float(c),
                    "contribution": float(u),
                }
                for x, c, u in zip(self.inputs, self.sensitivities, self.contributions, strict=True)
            ],
        }


def _correlation_matrix(
    correlation: Mapping[tuple[str, str], float] | np.ndarray | None, inputs: Sequence[Input]
) -> np.ndarray | None:
    """r(x_i, x_j) as a full matrix (GUM 5.2.2), checked to be a valid correlation matrix."""
    if correlation is None:
        return None
    n = len(inputs)
    if isinstance(correlation, Mapping):
        index = {x.name: i for i, x in enumerate(inputs)}
        r = np.eye(n)
        for (a, b), value in correlation.items():
            for name in (a, b):
                if name not in index:
                    raise MetrologyError(f"correlation names {name!r}, which is not an input")
            if a == b:
                raise MetrologyError(f"correlation of {a!r} with itself is 1 by definition")
            r[index[a], index[b]] = r[index[b], index[a]] = value
    else:
        r = np.asarray(correlation, dtype=float)
        if r.shape != (n, n):
            raise MetrologyError(f"correlation matrix is {r.shape}, expected ({n}, {n}) for {n} inputs")
        if not np.allclose(r, r.T) or not np.allclose(np.diag(r), 1.0):
            raise MetrologyError("correlation matrix must be symmetric with ones on its diagonal")
    if np.any(np.abs(r) > 1) or not np.all(np.isfinite(r)):
        raise MetrologyError("correlation coefficients must lie in [-1, 1]")
    if np.linalg.eigvalsh(r).min() < -1e-10:
        raise MetrologyError(
            "correlation coefficients are inconsistent (the matrix is not positive semi-definite)"
        )
    return r


def uncertainty_budget(
    inputs: Sequence[Input],
    model: Callable[..., float] | None = None,
    correlation: Mapping[tuple[str, str], float] | np.ndarray | None = None,
    coverage: float = 0.9545,
    truncate_dof: bool = True,
    *,
    estimate: float | None = None,
    relative_step: float = 1e-3,
    measurand: str = "",
    unit: str = "",
) -> UncertaintyBudget:
    """Combine a budget by the law of propagation of uncertainty.

    u_c^2(y) = sum_i sum_j c_i c_j u(x_i) u(x_j) r(x_i, x_j) (GUM 5.1.2 eq. 10; 5.2.2 eq. 16);
    nu_eff by Welch-Satterthwaite (GUM G.4.1), truncated to an integer when ``truncate_dof``
    (the GUM's practice) before k = t_p(nu_eff) (GUM G.4.1); U = k u_c (GUM 6.2.1).

    Sensitivities given on the inputs are used as they are; the others come from ``model``
    (called with the estimates as keyword arguments), which also gives the estimate y = f(x)
    (GUM 4.1.4) unless ``estimate`` is given. Welch-Satterthwaite assumes independent inputs
    (GUM G.4.1); with correlations, nu_eff is computed from the same formula as an approximation.
    The law is first order: terms of higher order (GUM 5.1.2 note, H.1.7) are not included.
    """
    inputs = tuple(inputs)
    if not inputs:
        raise MetrologyError("an uncertainty budget needs at least one input")
    names = [x.name for x in inputs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise MetrologyError(f"input names must be unique: {', '.join(duplicated)} repeated")
    if not 0.0 < coverage < 1.0:
        raise MetrologyError(f"coverage probability must lie in (0, 1), got {coverage}")
    c = np.array([np.nan if x.sensitivity is None else x.sensitivity for x in inputs], dtype=float)
    missing = np.isnan(c)
    if missing.any():
        if model is None:
            absent = ", ".join(x.name for x, m in zip(inputs, missing, strict=True) if m)
            raise MetrologyError(f"no sensitivity coefficient for {absent}, and no model to derive it from")
        c[missing] = sensitivity_coefficients(model, inputs, relative_step)[missing]
    if model is not None and estimate is None:
        estimate = _call(model, {x.name: float(x.value) for x in inputs})
    u = np.array([x.standard_uncertainty for x in inputs])
    contributions = np.abs(c) * u
    r = _correlation_matrix(correlation, inputs)
    if r is None:
        variance = float(np.sum(contributions**2))
    else:
        signed = c * u
        variance = float(signed @ r @ signed)
    uc = math.sqrt(max(variance, 0.0))
    nu = welch_satterthwaite(uc, contributions, [x.dof for x in inputs])
    nu_k = nu if (math.isinf(nu) or not truncate_dof) else max(math.floor(nu), 1)
    return UncertaintyBudget(
        inputs=inputs,
        sensitivities=c,
        contributions=contributions,
        combined_standard_uncertainty=uc,
        dof_effective=nu,
        dof_for_k=nu_k,
        coverage=coverage,
        coverage_factor=coverage_factor(nu_k, coverage),
        estimate=estimate,
        correlation=r,
        measurand=measurand,
        unit=unit,
    )
