"""Nested gage R&R, for destructive tests: each part is measured by one operator only (its
replicates are, e.g., samples cut from one wafer), so parts are nested within operators.

Model y = μ + O_i + P(O)_j(i) + ε (Montgomery, *Design and Analysis of Experiments*, two-stage
nested design, ch. 14; Minitab "Gage R&R Study (Nested)"): with a operators, b parts per
operator and n replicates,

* σ²_repeatability = MS_E
* σ²_part(operator) = (MS_P(O) − MS_E) / n
* σ²_reproducibility = σ²_operator = (MS_O − MS_P(O)) / (b·n)

negative components set to 0, as Minitab does. %Study variation uses ``spread`` standard
deviations (6 by default), ndc = 1.41 · σ_part / σ_GRR (AIAG MSA 4th ed.).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from scipy import stats

from .errors import MetrologyError


@dataclass(frozen=True)
class NestedRow:
    """One line of the nested ANOVA table."""

    source: str
    df: int
    ss: float
    ms: float
    f: float | None
    p: float | None


@dataclass(frozen=True)
class NestedGageRR:
    """Result of :func:`gage_rr_nested`."""

    anova: list[NestedRow]
    operators: int
    parts_per_operator: int
    replicates: int
    variances: dict[str, float]
    spread: float
    tolerance: float | None

    @property
    def percent_contribution(self) -> dict[str, float]:
        total = self.variances["total"]
        return {k: 100 * v / total for k, v in self.variances.items()}

    @property
    def percent_study_variation(self) -> dict[str, float]:
        total = math.sqrt(self.variances["total"])
        return {k: 100 * math.sqrt(v) / total for k, v in self.variances.items()}

    @property
    def percent_tolerance(self) -> dict[str, float] | None:
        if self.tolerance is None:
            return None
        return {k: 100 * self.spread * math.sqrt(v) / self.tolerance for k, v in self.variances.items()}

    @property
    def ndc(self) -> float:
        grr = math.sqrt(self.variances["grr"])
        return 1.41 * math.sqrt(self.variances["part"]) / grr if grr else math.inf


def gage_rr_nested(data: pa.Table | Any, *, part: str = "part", operator: str = "operator", value: str = "value",
                   tolerance: float | None = None, spread: float = 6.0) -> NestedGageRR:  # fmt: skip
    """Nested gage R&R of a balanced study: every operator measures their own ``b`` parts ``n``
    times (Montgomery ch. 14 two-stage nested ANOVA; Minitab "Gage R&R Study (Nested)")."""
    table = data if isinstance(data, pa.Table) else pa.table(data)
    missing = [c for c in (part, operator, value) if c not in table.column_names]
    if missing:
        raise MetrologyError(f"nested gage R&R: missing column(s) {', '.join(missing)}; "
                             f"the table has {', '.join(table.column_names)}")  # fmt: skip
    parts = table.column(part).to_pylist()
    operators = table.column(operator).to_pylist()
    values = np.asarray(table.column(value).to_numpy(zero_copy_only=False), dtype=float)
    if not np.all(np.isfinite(values)):
        row = int(np.flatnonzero(~np.isfinite(values))[0])
        raise MetrologyError(f"nested gage R&R: row {row + 1}: {value} is empty or not a number")
    cells: dict[Any, dict[Any, list[float]]] = {}
    owner: dict[Any, Any] = {}
    for row, (p, o, v) in enumerate(zip(parts, operators, values, strict=True)):
        if owner.setdefault(p, o) != o:
            raise MetrologyError(f"nested gage R&R: row {row + 1}: part {p!r} measured by {owner[p]!r} and {o!r}; "
                                 "in a nested study each part belongs to one operator (crossed study: gage R&R)")  # fmt: skip
        cells.setdefault(o, {}).setdefault(p, []).append(float(v))
    shape = {(len(ps), len(vs)) for ps in cells.values() for vs in ps.values()}
    if len(shape) != 1:
        raise MetrologyError("nested gage R&R: unbalanced study: every operator needs the same number of parts "
                             f"and every part the same number of measurements (found {sorted(shape)})")  # fmt: skip
    b, n = shape.pop()
    a = len(cells)
    if a < 2 or n < 2:
        raise MetrologyError(f"nested gage R&R: expected at least 2 operators and 2 measurements per part, "
                             f"got {a} and {n}")  # fmt: skip
    y = np.array([[cells[o][p] for p in sorted(cells[o], key=str)] for o in sorted(cells, key=str)])
    grand = y.mean()
    operator_means = y.mean(axis=(1, 2))
    part_means = y.mean(axis=2)
    ss_operator = b * n * float(((operator_means - grand) ** 2).sum())
    ss_part = n * float(((part_means - operator_means[:, None]) ** 2).sum())
    ss_error = float(((y - part_means[..., None]) ** 2).sum())
    df_operator, df_part, df_error = a - 1, a * (b - 1), a * b * (n - 1)
    ms_operator, ms_part, ms_error = ss_operator / df_operator, ss_part / df_part, ss_error / df_error
    f_operator = ms_operator / ms_part if ms_part else math.inf
    f_part = ms_part / ms_error if ms_error else math.inf
    anova = [
        NestedRow(
            operator,
            df_operator,
            ss_operator,
            ms_operator,
            f_operator,
            float(stats.f.sf(f_operator, df_operator, df_part)),
        ),  # fmt: skip
        NestedRow(
            f"{part} ({operator})",
            df_part,
            ss_part,
            ms_part,
            f_part,
            float(stats.f.sf(f_part, df_part, df_error)),
        ),
        NestedRow("repeatability", df_error, ss_error, ms_error, None, None),
        NestedRow("total", a * b * n - 1, ss_operator + ss_part + ss_error, math.nan, None, None),
    ]
    repeatability = ms_error
    reproducibility = max(0.0, (ms_operator - ms_part) / (b * n))
    part_variance = max(0.0, (ms_part - ms_error) / n)
    grr = repeatability + reproducibility
    variances = {
        "grr": grr,
        "repeatability": repeatability,
        "reproducibility": reproducibility,
        "part": part_variance,
        "total": grr + part_variance,
    }
    return NestedGageRR(anova, a, b, n, variances, spread, tolerance)
