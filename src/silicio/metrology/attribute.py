"""Attribute agreement analysis: do appraisers (or go/no-go testers) agree with themselves, with
each other and with the standard?

* Cohen's kappa for two raters (Cohen 1960): κ = (p_o − p_e) / (1 − p_e).
* Fleiss' kappa for m ratings of each of N subjects (Fleiss 1971), overall and per category.
* The AIAG MSA 4th ed. (2010) chapter III-C summary: within appraiser, each appraiser vs
  standard, between appraisers, all appraisers vs standard (parts matched, with exact
  Clopper-Pearson 95 % intervals as Minitab prints them), and for accept/reject decisions the
  effectiveness, miss rate and false alarm rate with AIAG's acceptance guidelines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from scipy import stats

from .errors import MetrologyError

#: AIAG MSA 4th ed. III-C, Table III-C 6: an appraiser is acceptable with effectiveness >= 90 %,
#: miss rate <= 2 % and false alarm rate <= 5 %.
ACCEPTABLE = {"effectiveness": 0.90, "miss_rate": 0.02, "false_alarm_rate": 0.05}


def cohen_kappa(first: Sequence[Any], second: Sequence[Any]) -> float:
    """Cohen's kappa of two raters' labels of the same subjects (Cohen 1960)."""
    a, b = list(first), list(second)
    if len(a) != len(b) or not a:
        raise MetrologyError(
            f"Cohen's kappa: expected two equally long, non-empty ratings, got {len(a)} and {len(b)}"
        )
    categories = sorted(set(a) | set(b), key=str)
    index = {c: i for i, c in enumerate(categories)}
    table = np.zeros((len(categories), len(categories)))
    for x, y in zip(a, b, strict=True):
        table[index[x], index[y]] += 1
    n = table.sum()
    observed = np.trace(table) / n
    expected = float((table.sum(axis=1) @ table.sum(axis=0)) / n**2)
    if expected == 1:
        return 1.0 if observed == 1 else float("nan")
    return float((observed - expected) / (1 - expected))


@dataclass(frozen=True)
class FleissKappa:
    """Overall and per-category Fleiss' kappa."""

    kappa: float
    by_category: dict[Any, float]
    observed_agreement: float
    chance_agreement: float


def fleiss_kappa(counts: Any, categories: Sequence[Any] | None = None) -> FleissKappa:
    """Fleiss' kappa (Fleiss 1971) from counts[i, j]: how many of the m ratings of subject i fell in
    category j (every subject rated m times)."""
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2 or table.shape[0] < 1 or table.shape[1] < 1:
        raise MetrologyError("Fleiss' kappa: expected a subjects x categories table of counts")
    m = table.sum(axis=1)
    if not np.all(m == m[0]) or m[0] < 2:
        raise MetrologyError(
            "Fleiss' kappa: every subject must be rated the same number of times (at least 2)"
        )
    n_subjects, m = table.shape[0], m[0]
    p = table.sum(axis=0) / (n_subjects * m)
    per_subject = ((table * (table - 1)).sum(axis=1)) / (m * (m - 1))
    observed = float(per_subject.mean())
    chance = float((p**2).sum())
    kappa = (observed - chance) / (1 - chance) if chance < 1 else float("nan")
    labels = list(categories) if categories is not None else list(range(table.shape[1]))
    by_category = {}
    for j, label in enumerate(labels):
        denominator = n_subjects * m * (m - 1) * p[j] * (1 - p[j])
        by_category[label] = (
            float(1 - (table[:, j] * (m - table[:, j])).sum() / denominator) if denominator else float("nan")
        )
    return FleissKappa(float(kappa), by_category, observed, chance)


def clopper_pearson(matched: int, inspected: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval for matched/inspected (Clopper & Pearson 1934)."""
    alpha = 1 - confidence
    low = 0.0 if matched == 0 else float(stats.beta.ppf(alpha / 2, matched, inspected - matched + 1))
    high = (
        1.0
        if matched == inspected
        else float(stats.beta.ppf(1 - alpha / 2, matched + 1, inspected - matched))
    )
    return low, high


@dataclass(frozen=True)
class Agreement:
    """Parts matched out of parts inspected, with its exact 95 % interval and a kappa."""

    inspected: int
    matched: int
    percent: float
    ci_low: float
    ci_high: float
    kappa: float | None = None


def _agreement(matched: int, inspected: int, kappa: float | None) -> Agreement:
    low, high = clopper_pearson(matched, inspected)
    return Agreement(inspected, matched, 100 * matched / inspected, 100 * low, 100 * high, kappa)


@dataclass(frozen=True)
class Decisions:
    """Accept/reject decisions of one appraiser against the standard (AIAG MSA 4th ed. III-C)."""

    decisions: int
    correct: int
    defective_opportunities: int
    misses: int
    good_opportunities: int
    false_alarms: int

    @property
    def effectiveness(self) -> float:
        return self.correct / self.decisions

    @property
    def miss_rate(self) -> float:
        return self.misses / self.defective_opportunities if self.defective_opportunities else float("nan")

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.good_opportunities if self.good_opportunities else float("nan")

    @property
    def acceptable(self) -> bool:
        return (self.effectiveness >= ACCEPTABLE["effectiveness"] and self.miss_rate <= ACCEPTABLE["miss_rate"]
                and self.false_alarm_rate <= ACCEPTABLE["false_alarm_rate"])  # fmt: skip


@dataclass(frozen=True)
class AttributeAgreement:
    """Result of :func:`attribute_agreement`."""

    categories: list[Any]
    within: dict[str, Agreement]
    between: Agreement
    vs_standard: dict[str, Agreement] = field(default_factory=dict)
    all_vs_standard: Agreement | None = None
    decisions: dict[str, Decisions] = field(default_factory=dict)


def attribute_agreement(data: pa.Table | Any, *, part: str = "part", appraiser: str = "appraiser",
                        rating: str = "rating", standard: str | None = None,
                        defective: Any = None) -> AttributeAgreement:  # fmt: skip
    """Within, between and against-standard agreement of a balanced attribute study (every
    appraiser rates every part the same number of times), AIAG MSA 4th ed. III-C.

    ``standard`` names the column with each part's reference rating; ``defective`` the rating
    that means "reject", to get effectiveness, miss and false-alarm rates (needs ``standard``).
    """
    table = data if isinstance(data, pa.Table) else pa.table(data)
    missing = [
        c for c in (part, appraiser, rating, *([standard] if standard else [])) if c not in table.column_names
    ]
    if missing:
        raise MetrologyError(f"attribute agreement: missing column(s) {', '.join(missing)}; "
                             f"the table has {', '.join(table.column_names)}")  # fmt: skip
    parts = table.column(part).to_pylist()
    appraisers = table.column(appraiser).to_pylist()
    ratings = table.column(rating).to_pylist()
    standards = table.column(standard).to_pylist() if standard else None
    if any(v is None for v in (*parts, *appraisers, *ratings)):
        raise MetrologyError("attribute agreement: empty part, appraiser or rating in the data")
    part_ids = sorted(set(parts), key=str)
    appraiser_ids = sorted(set(appraisers), key=str)
    by_cell: dict[tuple[Any, Any], list[Any]] = {}
    reference: dict[Any, Any] = {}
    for row, (p, a, r) in enumerate(zip(parts, appraisers, ratings, strict=True)):
        by_cell.setdefault((p, a), []).append(r)
        if standards is not None:
            s = standards[row]
            if s is None or reference.setdefault(p, s) != s:
                raise MetrologyError(
                    f"attribute agreement: part {p!r} has no single standard rating (row {row + 1})"
                )
    trials = {len(by_cell.get((p, a), [])) for p in part_ids for a in appraiser_ids}
    if len(trials) != 1 or 0 in trials:
        raise MetrologyError("attribute agreement: unbalanced study: every appraiser must rate every part "
                             f"the same number of times (found {sorted(trials)} ratings per part and appraiser)")  # fmt: skip
    categories = sorted(set(ratings) | set(reference.values()), key=str)
    if defective is not None and (standards is None or defective not in categories):
        raise MetrologyError(f"attribute agreement: the rating {defective!r} for a reject needs a standard "
                             "column and must be one of the ratings")  # fmt: skip
    column = {c: j for j, c in enumerate(categories)}

    def counts(rows: list[list[Any]]) -> np.ndarray:
        out = np.zeros((len(rows), len(categories)))
        for i, labels in enumerate(rows):
            for label in labels:
                out[i, column[label]] += 1
        return out

    n_trials = trials.pop()
    within = {}
    for a in appraiser_ids:
        rows = [by_cell[(p, a)] for p in part_ids]
        matched = sum(len(set(r)) == 1 for r in rows)
        kappa = fleiss_kappa(counts(rows), categories).kappa if n_trials > 1 else None
        within[a] = _agreement(matched, len(part_ids), kappa)
    all_rows = [[r for a in appraiser_ids for r in by_cell[(p, a)]] for p in part_ids]
    between = _agreement(sum(len(set(r)) == 1 for r in all_rows), len(part_ids),
                         fleiss_kappa(counts(all_rows), categories).kappa)  # fmt: skip
    result = AttributeAgreement(categories, within, between)
    if standards is None:
        return result
    vs_standard, decisions = {}, {}
    for a in appraiser_ids:
        rows = [by_cell[(p, a)] for p in part_ids]
        matched = sum(all(r == reference[p] for r in row) for p, row in zip(part_ids, rows, strict=True))
        pairs = [(r, reference[p]) for p, row in zip(part_ids, rows, strict=True) for r in row]
        kappa = cohen_kappa([x for x, _ in pairs], [y for _, y in pairs])
        vs_standard[a] = _agreement(matched, len(part_ids), kappa)
        if defective is not None:
            bad = [(x, y) for x, y in pairs if y == defective]
            good = [(x, y) for x, y in pairs if y != defective]
            decisions[a] = Decisions(
                decisions=len(pairs),
                correct=sum(x == y for x, y in pairs),
                defective_opportunities=len(bad),
                misses=sum(x != defective for x, _ in bad),
                good_opportunities=len(good),
                false_alarms=sum(x == defective for x, _ in good),
            )
    matched_all = sum(all(r == reference[p] for r in row) for p, row in zip(part_ids, all_rows, strict=True))
    pooled = [(r, reference[p]) for p, row in zip(part_ids, all_rows, strict=True) for r in row]
    all_vs = _agreement(
        matched_all, len(part_ids), cohen_kappa([x for x, _ in pooled], [y for _, y in pooled])
    )
    return AttributeAgreement(categories, within, between, vs_standard, all_vs, decisions)
