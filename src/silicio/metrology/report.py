"""Printable reports: a gage study and an uncertainty budget as self-contained HTML.

Plain HTML and CSS in one string, no scripts and no external assets, so the page prints and
archives as it is (a browser's "print to PDF" gives the paper copy).
"""

from __future__ import annotations

import datetime as dt
import math
from html import escape

from .msa import GageRR
from .uncertainty import UncertaintyBudget, round_uncertainty

__all__ = ["gage_study_html", "uncertainty_budget_html"]

_CSS = """
body { font: 11pt/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 52em; color: #111; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border-bottom: 1px solid #ccc; padding: 0.25em 0.8em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid #333; }
.bar { display: inline-block; height: 0.8em; background: #4a6fa5; vertical-align: middle; }
.verdict { font-weight: bold; padding: 0.3em 0.6em; display: inline-block; border: 1px solid; }
.ok { color: #1b5e20; } .marginal { color: #8a5a00; } .bad { color: #b71c1c; }
.note { color: #555; font-size: 0.9em; }
@media print { body { margin: 0; max-width: none; } }
"""


def _page(title: str, body: str) -> str:
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="meta">silicio, {stamp}</p>{body}</body></html>\n'
    )


def _fmt(v: float | None, digits: int = 5) -> str:
    """A number for a table: fixed point trimmed of trailing zeros, or exponent form if tiny or huge."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float) and math.isinf(v):
        return "&infin;"
    if isinstance(v, int | bool):
        return str(int(v))
    if v != 0 and (abs(v) >= 1e9 or abs(v) < 1e-3):
        return f"{v:.{digits}g}"
    text = f"{v:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _table(head: list[str], rows: list[list[str]]) -> str:
    h = "".join(f"<th>{escape(c)}</th>" for c in head)
    b = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>"


def _grr_verdict(percent: float) -> tuple[str, str]:
    # AIAG MSA 4th ed. GRR acceptability guidelines: under 10 % acceptable, 10-30 % may be, over 30 % not.
    if percent < 10:
        return "ok", "acceptable (%GRR under 10 %)"
    if percent <= 30:
        return "marginal", "may be acceptable (%GRR 10-30 %), depending on the application"
    return "bad", "unacceptable (%GRR over 30 %): improve the measurement system"


def gage_study_html(result: GageRR, title: str = "Gage R&R study", characteristic: str = "") -> str:
    """A one-page report of a gage R&R study: components, ratios, ndc and, for ANOVA, its tables."""
    method = "ANOVA" if result.method == "anova" else "average and range"
    facts = (
        f"{result.n_parts} parts, {result.n_appraisers} appraisers, {result.n_trials} trials; "
        f"method: {method} (AIAG MSA 4th ed.)"
    )
    if characteristic:
        facts = f"Characteristic: {escape(characteristic)}. " + facts
    body = [f"<p>{facts}</p>"]
    cls, verdict = _grr_verdict(result.percent_grr)
    ndc = result.ndc_truncated
    body.append(
        f'<p class="verdict {cls}">%GRR {result.percent_grr:.2f} %: {escape(verdict)}; '
        f"ndc = {ndc if ndc is not None else '&infin;'}"
        f"{' (at least 5 recommended)' if ndc is not None and ndc < 5 else ''}</p>"
    )
    sv, pc_, tol = result.percent_study_variation, result.percent_contribution, result.percent_tolerance
    names = {
        "EV": "Repeatability (EV)",
        "AV": "Reproducibility (AV)",
        "INT": "Interaction (INT)",
        "GRR": "Gage R&R (GRR)",
        "PV": "Part variation (PV)",
        "TV": "Total variation (TV)",
    }
    head = [
        "Source",
        "Std. dev.",
        f"Study var. ({result.study_variation:g}σ)",
        "% study var.",
        "% contribution",
    ]
    if tol is not None:
        head.append("% tolerance")
    rows = []
    for key, sd in result.components.items():
        if key == "INT" and result.method != "anova":
            continue
        bar = f'<span class="bar" style="width:{min(sv[key], 100) * 0.8:.1f}px"></span> '
        row = [
            names[key],
            _fmt(sd),
            _fmt(result.study_variation * sd),
            bar + f"{sv[key]:.2f}",
            f"{pc_[key]:.2f}",
        ]
        if tol is not None:
            row.append(f"{tol[key]:.2f}")
        rows.append(row)
    body.append("<h2>Variance components</h2>" + _table(head, rows))
    if result.tolerance is not None:
        body.append(
            f'<p class="note">Tolerance {_fmt(result.tolerance)}; %tolerance = 100 · 6σ / tolerance.</p>'
        )
    body.append(f'<p class="note">ndc = 1.41 · PV / GRR = {_fmt(result.ndc, 3)}, truncated.</p>')
    st = result.statistics
    if result.method == "average-range":
        body.append(
            "<h2>Statistics</h2>"
            + _table(
                ["R̄", "X̄diff", "Rp", "K1", "K2", "K3", "UCL of ranges", "ranges above UCL"],
                [
                    [_fmt(st[k]) for k in ("rbar", "xdiff", "rp", "k1", "k2", "k3", "ucl_range")]
                    + [str(st["ranges_above_ucl"])]
                ],
            )
        )
    else:
        for label, rows_ in (
            ("ANOVA with interaction", result.anova),
            ("ANOVA without interaction", result.anova_pooled),
        ):
            if not rows_:
                continue
            body.append(
                f"<h2>{label}</h2>"
                + _table(
                    ["Source", "DF", "SS", "MS", "F", "p"],
                    [
                        [escape(r.source), str(r.df), _fmt(r.ss), _fmt(r.ms), _fmt(r.f, 3), _fmt(r.p, 4)]
                        for r in rows_
                    ],
                )
            )
        pooled = "pooled into repeatability" if st.get("pooled") else "kept"
        body.append(
            f'<p class="note">Interaction p = {_fmt(st["p_interaction"], 4)}, threshold '
            f"{_fmt(st['alpha_interaction'], 3)}: {pooled}.</p>"
        )
    return _page(title, "".join(body))


def uncertainty_budget_html(budget: UncertaintyBudget, title: str = "Uncertainty budget") -> str:
    """The budget's table (x_i, u(x_i), nu_i, c_i, u_i(y)) and the result as the GUM states it (7.2)."""
    unit = escape(budget.unit)
    rows = [
        [
            escape(x.name) + (f' <span class="note">{escape(x.description)}</span>' if x.description else ""),
            _fmt(float(x.value), 6),
            _fmt(float(x.standard_uncertainty), 4),
            escape(x.unit),
            x.kind,
            _fmt(float(x.dof), 3),
            _fmt(float(c), 5),
            _fmt(float(u), 4),
            f"{p:.1f}",
        ]
        for x, c, u, p in zip(
            budget.inputs,
            budget.sensitivities,
            budget.contributions,
            budget.percent_contributions,
            strict=True,
        )
    ]
    body = [
        f"<p>Measurand: {escape(budget.measurand or 'y')}"
        + (f" = {_fmt(budget.estimate, 9)} {unit}" if budget.estimate is not None else "")
        + "</p>",
        _table(
            ["Input X_i", "x_i", "u(x_i)", "unit", "type", "ν_i", "c_i", "|c_i| u(x_i)", "% of u_c²"], rows
        ),
    ]
    u_c, U = budget.combined_standard_uncertainty, budget.expanded_uncertainty
    summary = [
        ["Combined standard uncertainty u_c", f"{_fmt(u_c, 4)} {unit}"],
        ["Effective degrees of freedom ν_eff (G.4.1)", _fmt(budget.dof_effective, 2)],
        ["ν used for k", _fmt(float(budget.dof_for_k), 2)],
        ["Coverage probability p", f"{100 * budget.coverage:.2f} %"],
        ["Coverage factor k = t_p(ν)", _fmt(budget.coverage_factor, 3)],
        ["Expanded uncertainty U = k u_c", f"{_fmt(U, 4)} {unit}"],
    ]
    body.append("<h2>Result</h2>" + _table(["", ""], summary))
    if budget.correlation is not None:
        body.append('<p class="note">Correlated inputs included (GUM 5.2); ν_eff assumes independence.</p>')
    quoted = round_uncertainty(U)
    est = (
        f"({_fmt(budget.estimate, 9)} ± {quoted:g}) {unit}"
        if budget.estimate is not None
        else f"U = {quoted:g} {unit}"
    )
    body.append(
        f"<p><b>{est}</b>, where the number following ± is the expanded uncertainty U = k u_c with "
        f"k = {budget.coverage_factor:.2f} based on the t-distribution for ν = {_fmt(float(budget.dof_for_k), 2)} "
        f"degrees of freedom, defining an interval estimated to have a level of confidence of "
        f"{100 * budget.coverage:.2f} percent (GUM 7.2.4).</p>"
    )
    return _page(title, "".join(body))
