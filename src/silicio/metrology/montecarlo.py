"""Propagation of distributions by a Monte Carlo method, JCGM 101:2008 (GUM Supplement 1).

Where the GUM's law of propagation of uncertainty linearises the model and assumes a normal or
t output, the Monte Carlo method draws M values of every input from its probability
distribution, evaluates the model on each draw and reads the estimate, its standard uncertainty
and a coverage interval from the M model values (JCGM 101 7.2-7.7). With ``adaptive`` the number
of trials grows until the results are stable to the requested number of significant digits of
u(y) (JCGM 101 7.9).

>>> from silicio.metrology.montecarlo import Normal, Rectangular, propagate
>>> result = propagate(lambda a, b: a + b, {"a": Normal(0, 1), "b": Rectangular(-1, 1)}, seed=1)
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import MetrologyError

if TYPE_CHECKING:
    from .io import BudgetFile


class Distribution:
    """A probability distribution of an input quantity (JCGM 101 6.4)."""

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        raise NotImplementedError

    def _check(self, ok: bool, what: str) -> None:
        if not ok:
            raise MetrologyError(f"{type(self).__name__}: {what}")


@dataclass(frozen=True)
class Normal(Distribution):
    """Gaussian N(mean, sd²) (JCGM 101 6.4.7)."""

    mean: float
    sd: float

    def __post_init__(self):
        self._check(self.sd >= 0 and math.isfinite(self.sd), "expected a finite sd >= 0")

    def sample(self, rng, size):
        return rng.normal(self.mean, self.sd, size)


@dataclass(frozen=True)
class Rectangular(Distribution):
    """Uniform on [low, high] (JCGM 101 6.4.2); its standard deviation is (high − low)/√12."""

    low: float
    high: float

    def __post_init__(self):
        self._check(self.high >= self.low, "expected low <= high")

    def sample(self, rng, size):
        return rng.uniform(self.low, self.high, size)


@dataclass(frozen=True)
class Triangular(Distribution):
    """Triangular on [low, high] with its mode (JCGM 101 6.4.5; symmetric when mode is None)."""

    low: float
    high: float
    mode: float | None = None

    def __post_init__(self):
        mode = (self.low + self.high) / 2 if self.mode is None else self.mode
        self._check(
            self.low <= mode <= self.high and self.low < self.high, "expected low <= mode <= high, low < high"
        )

    def sample(self, rng, size):
        mode = (self.low + self.high) / 2 if self.mode is None else self.mode
        return rng.triangular(self.low, mode, self.high, size)


@dataclass(frozen=True)
class StudentT(Distribution):
    """Scaled and shifted t: the distribution of a mean of n observations with their standard
    error, dof = n − 1 (JCGM 101 6.4.9)."""

    mean: float
    scale: float
    dof: float

    def __post_init__(self):
        self._check(self.scale >= 0 and self.dof > 0, "expected scale >= 0 and dof > 0")

    def sample(self, rng, size):
        return self.mean + self.scale * rng.standard_t(self.dof, size)


@dataclass(frozen=True)
class Arcsine(Distribution):
    """U-shaped (arcsine) distribution on [low, high], e.g. a sinusoidally varying quantity
    (JCGM 101 6.4.6)."""

    low: float
    high: float

    def __post_init__(self):
        self._check(self.high >= self.low, "expected low <= high")

    def sample(self, rng, size):
        centre, half = (self.low + self.high) / 2, (self.high - self.low) / 2
        return centre + half * np.sin(2 * np.pi * rng.random(size))


@dataclass(frozen=True)
class MonteCarloResult:
    """The output of :func:`propagate` (JCGM 101 7.6-7.7)."""

    estimate: float
    standard_uncertainty: float
    coverage: float
    interval: tuple[float, float]
    shortest_interval: tuple[float, float]
    trials: int
    seed: int | None
    values: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "standard_uncertainty": self.standard_uncertainty,
            "coverage": self.coverage,
            "interval": list(self.interval),
            "shortest_interval": list(self.shortest_interval),
            "trials": self.trials,
            "seed": self.seed,
        }


def coverage_intervals(
    values: np.ndarray, coverage: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(probabilistically symmetric, shortest) coverage intervals of sorted model values
    (JCGM 101 7.7.1 and 7.7.2: q = pM + 1/2 rounded down; r = (M − q)/2 for the symmetric one, the
    r of the smallest y_(r+q) − y_(r) for the shortest)."""
    m = values.size
    q = int(coverage * m + 0.5)
    if q < 1 or q > m:
        raise MetrologyError(f"coverage {coverage}: too few trials ({m}) for an interval")
    r = max(int((m - q) / 2), 0)
    symmetric = (float(values[r]), float(values[min(r + q - 1, m - 1)]))
    widths = values[q - 1 :] - values[: m - q + 1]
    best = int(np.argmin(widths))
    shortest = (float(values[best]), float(values[best + q - 1]))
    return symmetric, shortest


def _evaluate(model: Callable[..., Any], inputs: Mapping[str, Distribution], rng: np.random.Generator,
              size: int) -> np.ndarray:  # fmt: skip
    draws = {name: distribution.sample(rng, size) for name, distribution in inputs.items()}
    try:
        with np.errstate(all="ignore"):  # non-finite results are reported below
            values = np.asarray(model(**draws), dtype=float)
    except Exception as exc:  # the user's model: report what failed, not a traceback
        raise MetrologyError(
            f"Monte Carlo: the model failed on the draws: {type(exc).__name__}: {exc}"
        ) from None
    if values.shape != (size,):
        values = np.broadcast_to(values, (size,)).copy()
    if not np.all(np.isfinite(values)):
        raise MetrologyError(
            "Monte Carlo: the model gave non-finite values for some draws (division by zero?)"
        )
    return values


def propagate(model: Callable[..., Any], inputs: Mapping[str, Distribution], *, trials: int = 1_000_000,
              coverage: float = 0.95, seed: int | None = None, adaptive: bool = False,
              significant_digits: int = 2, batch: int = 10_000, max_trials: int = 10_000_000) -> MonteCarloResult:  # fmt: skip
    """Propagate the input distributions through ``model`` (vectorised: it gets one array per
    input, by name) by JCGM 101's Monte Carlo method.

    With ``adaptive``, batches of ``batch`` trials are added until twice the standard deviation
    of the mean of the batch results (y, u(y) and both interval ends) is at most the numerical
    tolerance δ = ½·10^l of u(y) written with ``significant_digits`` digits (JCGM 101 7.9.4, 7.9.2).
    """
    if not inputs:
        raise MetrologyError("Monte Carlo: expected at least one input distribution")
    if not 0 < coverage < 1:
        raise MetrologyError(f"Monte Carlo: coverage {coverage}: expected a probability between 0 and 1")
    rng = np.random.default_rng(seed)
    if not adaptive:
        if trials < 100:
            raise MetrologyError(
                f"Monte Carlo: {trials} trials: expected at least 100 (JCGM 101 7.2.2 suggests 10^6)"
            )
        values = np.sort(_evaluate(model, inputs, rng, trials))
    else:
        # JCGM 101 7.9: h batches of M; stop when 2 s of each result's batch mean <= δ.
        batches, results = [], []
        while True:
            chunk = np.sort(_evaluate(model, inputs, rng, batch))
            symmetric, _ = coverage_intervals(chunk, coverage)
            batches.append(chunk)
            results.append((chunk.mean(), chunk.std(ddof=1), *symmetric))
            h = len(results)
            if h >= 2:
                spread = np.asarray(results).std(axis=0, ddof=1) / math.sqrt(h)
                u = float(np.concatenate(batches).std(ddof=1))
                exponent = math.floor(math.log10(u)) - significant_digits + 1 if u > 0 else 0
                tolerance = 0.5 * 10.0**exponent
                if np.all(2 * spread <= tolerance) or h * batch >= max_trials:
                    break
        values = np.sort(np.concatenate(batches))
    symmetric, shortest = coverage_intervals(values, coverage)
    return MonteCarloResult(
        estimate=float(values.mean()),
        standard_uncertainty=float(values.std(ddof=1)),
        coverage=coverage,
        interval=symmetric,
        shortest_interval=shortest,
        trials=int(values.size),
        seed=seed,
        values=values,
    )


_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
              ast.Pow: operator.pow, ast.USub: operator.neg, ast.UAdd: operator.pos}  # fmt: skip
#: Functions a model expression may call.
FUNCTIONS = {"sqrt": np.sqrt, "exp": np.exp, "log": np.log, "log10": np.log10, "sin": np.sin, "cos": np.cos,
             "tan": np.tan, "abs": np.abs, "pi": math.pi}  # fmt: skip


def compile_model(expression: str, names: list[str]) -> Callable[..., Any]:
    """A vectorised model from an arithmetic expression of the input names (``+ - * / **``,
    numbers, and :data:`FUNCTIONS`); nothing else is evaluated (no attribute access, no calls
    to other functions), so a budget file cannot run code."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise MetrologyError(f"model {expression!r}: not an expression ({exc.msg})") from None

    def check(node: ast.AST) -> None:
        if isinstance(node, ast.Expression):
            check(node.body)
        elif isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            check(node.left)
            check(node.right)
        elif isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            check(node.operand)
        elif isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            pass
        elif isinstance(node, ast.Name):
            if node.id not in names and node.id not in FUNCTIONS:
                raise MetrologyError(
                    f"model {expression!r}: {node.id!r} is not an input ({', '.join(names)})"
                )
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
            if node.keywords or len(node.args) != 1:
                raise MetrologyError(f"model {expression!r}: {node.func.id}() takes one argument")
            check(node.args[0])
        else:
            raise MetrologyError(f"model {expression!r}: only numbers, inputs, + - * / ** and "
                                 f"{', '.join(FUNCTIONS)} are allowed")  # fmt: skip

    check(tree)

    def evaluate(node: ast.AST, values: Mapping[str, Any]) -> Any:
        if isinstance(node, ast.Expression):
            return evaluate(node.body, values)
        if isinstance(node, ast.BinOp):
            return _OPERATORS[type(node.op)](evaluate(node.left, values), evaluate(node.right, values))
        if isinstance(node, ast.UnaryOp):
            return _OPERATORS[type(node.op)](evaluate(node.operand, values))
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return values[node.id] if node.id in values else FUNCTIONS[node.id]
        return FUNCTIONS[node.func.id](evaluate(node.args[0], values))

    return lambda **values: evaluate(tree, values)


def budget_distributions(budget: BudgetFile) -> dict[str, Distribution]:
    """The distribution of each input of a budget file (JCGM 101 6.4, Table 1): normal from a
    standard or expanded uncertainty, the scaled and shifted t for a type A input with finite
    dof, rectangular/triangular/arcsine of the stated half width."""
    out: dict[str, Distribution] = {}
    for item in budget.inputs:
        kind = budget.distributions.get(item.name, "normal")
        x, u = item.value, item.standard_uncertainty
        if kind == "rectangular":
            out[item.name] = Rectangular(x - u * math.sqrt(3), x + u * math.sqrt(3))
        elif kind == "triangular":
            out[item.name] = Triangular(x - u * math.sqrt(6), x + u * math.sqrt(6))
        elif kind == "arcsine":
            out[item.name] = Arcsine(x - u * math.sqrt(2), x + u * math.sqrt(2))
        elif item.kind == "A" and math.isfinite(item.dof):
            out[item.name] = StudentT(x, u, item.dof)
        else:
            out[item.name] = Normal(x, u)
    return out


def propagate_budget(budget: BudgetFile, **options: Any) -> MonteCarloResult:
    """Monte Carlo propagation of a budget file: its ``model`` expression, or else the linear
    model its sensitivities define, y = estimate + sum c_i (x_i - x_i estimate). Correlated
    inputs are not drawn jointly here: such budgets are refused."""
    if budget.correlation:
        raise MetrologyError(
            "Monte Carlo: correlated inputs are not supported; use the GUM budget (uncertainty)"
        )
    inputs = budget_distributions(budget)
    if budget.model is not None:
        model = compile_model(budget.model, list(inputs))
    else:
        estimate = budget.estimate or 0.0
        terms = [(b.name, b.sensitivity or 0.0, b.value) for b in budget.inputs]

        def model(**values: Any) -> Any:
            return estimate + sum(c * (values[name] - x) for name, c, x in terms)

    return propagate(model, inputs, **options)
