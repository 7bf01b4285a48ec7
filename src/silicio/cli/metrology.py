"""``silicio metrology ...``: gage studies, uncertainty budgets and measurement checks."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .errors import existing_file, fail, needs, reported_errors
from .render import console, print_table, stderr

if TYPE_CHECKING:
    from silicio.metrology.msa import GageRR

app = typer.Typer(help="Gage R&R, measurement uncertainty and measurement checks.", no_args_is_help=True)

METHODS = ("anova", "average-range")


@contextmanager
def _errors(command: str) -> Iterator[None]:
    """The 'lake' extra checked for ``command``; then metrology's errors as one line, like the input's."""
    needs("lake", command)
    from silicio.metrology import MetrologyError

    with reported_errors():
        try:
            yield
        except MetrologyError as exc:  # its text names the file, row and column
            raise fail(str(exc)) from None


def _json_default(v: object) -> object:
    return str(v)  # dates and times


def _finite(obj: object) -> object:
    # JSON has no inf or NaN: write them as strings.
    if isinstance(obj, float) and not math.isfinite(obj):
        return "inf" if obj > 0 else "-inf" if obj < 0 else "nan"
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _dump(obj: object) -> None:
    typer.echo(json.dumps(_finite(obj), indent=2, default=_json_default))


def _write_html(path: Path, html: str) -> None:
    path.write_text(html, encoding="utf-8")
    # On stderr, so that --json output stays one document.
    stderr.print(f"wrote [bold]{escape(str(path))}[/bold]", soft_wrap=True, highlight=False)


def _print_grr(result: GageRR) -> None:
    sv, pc, tol = result.percent_study_variation, result.percent_contribution, result.percent_tolerance
    table = Table(
        title=f"Gage R&R ({result.method}): {result.n_parts} parts x {result.n_appraisers} "
        f"appraisers x {result.n_trials} trials"
    )
    for col in ("Source", "Std. dev.", "% study var", "% contribution") + (("% tolerance",) if tol else ()):
        table.add_column(col, justify="left" if col == "Source" else "right")
    for key, sd in result.components.items():
        if key == "INT" and result.method != "anova":
            continue
        row = [key, f"{sd:.5f}", f"{sv[key]:.2f}", f"{pc[key]:.2f}"]
        if tol:
            row.append(f"{tol[key]:.2f}")
        table.add_row(*row)
    print_table(console, table)
    for title, rows in (
        ("ANOVA with interaction", result.anova),
        ("ANOVA without interaction", result.anova_pooled),
    ):
        if not rows:
            continue
        anova = Table(title=title)
        for col in ("Source", "DF", "SS", "MS", "F", "p"):
            anova.add_column(col, justify="left" if col == "Source" else "right")
        for r in rows:
            anova.add_row(
                r.source,
                str(r.df),
                f"{r.ss:.4f}",
                f"{r.ms:.5f}",
                "" if r.f is None else f"{r.f:.3f}",
                "" if r.p is None else f"{r.p:.4f}",
            )
        print_table(console, anova)
    if result.method == "anova":
        st = result.statistics
        console.print(
            f"interaction p = {st['p_interaction']:.4f} "
            f"({'pooled' if st['pooled'] else 'kept'}; threshold {st['alpha_interaction']:g})",
            highlight=False,
        )
    ndc = result.ndc_truncated
    console.print(
        f"%GRR = {result.percent_grr:.2f} %   ndc = {ndc if ndc is not None else 'inf'} ({result.ndc:.3f})",
        highlight=False,
    )


@app.command()
def grr(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="Gage study, one row per measurement (CSV or Parquet).")
    ],
    part: Annotated[str, typer.Option("--part", help="Column of the part.")] = "part",
    appraiser: Annotated[
        str, typer.Option("--appraiser", help="Column of the appraiser (operator).")
    ] = "appraiser",
    value: Annotated[str, typer.Option("--value", help="Column of the measured value.")] = "value",
    method: Annotated[
        str, typer.Option("--method", metavar="|".join(METHODS), help="Method of analysis.")
    ] = "anova",
    tolerance: Annotated[
        float | None,
        typer.Option("--tolerance", help="USL - LSL, for %tolerance (6 sigma).", show_default=False),
    ] = None,
    alpha_interaction: Annotated[
        float,
        typer.Option("--alpha-interaction", help="ANOVA: pool the interaction when its p exceeds this."),
    ] = 0.25,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Write a printable HTML report here.")] = None,
) -> None:
    """Gage repeatability and reproducibility of a crossed study (AIAG MSA 4th ed.)."""
    if method not in METHODS:
        raise fail(f"--method {method}: unknown method, expected one of {', '.join(METHODS)}")
    with _errors("silicio metrology grr"):
        from silicio.metrology.io import read_table
        from silicio.metrology.msa import gage_rr_anova, gage_rr_average_range
        from silicio.metrology.report import gage_study_html

        table = read_table(existing_file(file))
        columns = {"part": part, "appraiser": appraiser, "value": value}
        if method == "anova":
            result = gage_rr_anova(table, tolerance, alpha_interaction, **columns)
        else:
            result = gage_rr_average_range(table, tolerance, **columns)
        if html is not None:
            _write_html(html, gage_study_html(result, title=f"Gage R&R study: {file.name}"))
    if as_json:
        _dump(result.to_dict())
    else:
        _print_grr(result)


@app.command()
def uncertainty(
    budget_file: Annotated[
        Path, typer.Argument(metavar="BUDGET", help="Budget as CSV (one input per row) or TOML.")
    ],
    coverage: Annotated[
        float | None,
        typer.Option(
            "--coverage", help="Coverage probability (default: the file's, else 0.9545).", show_default=False
        ),
    ] = None,
    no_truncate: Annotated[
        bool, typer.Option("--no-truncate", help="Use nu_eff as computed, not truncated to an integer.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Write a printable HTML report here.")] = None,
) -> None:
    """Combine an uncertainty budget (JCGM 100:2008, the GUM): u_c, nu_eff, k and U."""
    with _errors("silicio metrology uncertainty"):
        from silicio.metrology.io import read_budget
        from silicio.metrology.report import uncertainty_budget_html
        from silicio.metrology.uncertainty import uncertainty_budget

        spec = read_budget(existing_file(budget_file))
        budget = uncertainty_budget(
            spec.inputs,
            correlation=spec.correlation or None,
            coverage=coverage
            if coverage is not None
            else spec.coverage
            if spec.coverage is not None
            else 0.9545,
            truncate_dof=not no_truncate,
            estimate=spec.estimate,
            measurand=spec.measurand,
            unit=spec.unit,
        )
        if html is not None:
            _write_html(
                html, uncertainty_budget_html(budget, title=f"Uncertainty budget: {budget_file.name}")
            )
    if as_json:
        _dump(budget.to_dict())
        return
    table = Table(title=f"Uncertainty budget{': ' + budget.measurand if budget.measurand else ''}")
    for col in ("Input", "x_i", "u(x_i)", "type", "dof", "c_i", "|c_i| u(x_i)"):
        table.add_column(col, justify="left" if col == "Input" else "right")
    for x, c, u in zip(budget.inputs, budget.sensitivities, budget.contributions, strict=True):
        table.add_row(
            x.name,
            f"{x.value:g}",
            f"{x.standard_uncertainty:.4g}",
            x.kind,
            f"{x.dof:g}",
            f"{c:.5g}",
            f"{u:.4g}",
        )
    print_table(console, table)
    unit = f" {budget.unit}" if budget.unit else ""
    console.print(
        f"u_c = {budget.combined_standard_uncertainty:.4g}{unit}   nu_eff = {budget.dof_effective:.2f} "
        f"(k from {budget.dof_for_k:g})   k = {budget.coverage_factor:.3f} at p = {100 * budget.coverage:.2f} %   "
        f"U = {budget.expanded_uncertainty:.4g}{unit}",
        highlight=False,
    )


@app.command()
def check(
    measurements: Annotated[Path, typer.Option("--measurements", help="Measurements (CSV or Parquet).")],
    calibrations: Annotated[Path, typer.Option("--calibrations", help="Calibration certificates.")],
    qualifications: Annotated[Path, typer.Option("--qualifications", help="Operator qualifications.")],
    instruments: Annotated[
        Path | None, typer.Option("--instruments", help="Instruments (their ranges are checked too).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write every measurement with its flags (.csv or .parquet).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the affected lots as JSON.")] = False,
    fail_on_flags: Annotated[
        bool, typer.Option("--fail-on-flags", help="Exit with code 1 when a measurement is flagged.")
    ] = False,
) -> None:
    """Flag measurements taken with an instrument out of calibration or by an unqualified operator."""
    with _errors("silicio metrology check"):
        from silicio.metrology import MetrologyError
        from silicio.metrology.io import read_records
        from silicio.metrology.records import affected_lots, flag_measurements

        flags = flag_measurements(
            read_records(existing_file(measurements), "measurements"),
            read_records(existing_file(instruments), "instruments") if instruments is not None else None,
            read_records(existing_file(calibrations), "calibrations"),
            read_records(existing_file(qualifications), "qualifications"),
        )
        lots = affected_lots(flags)
        if out is not None:
            if out.suffix.lower() == ".parquet":
                import pyarrow.parquet as pq

                pq.write_table(flags, out)
            elif out.suffix.lower() == ".csv":
                import pyarrow.csv as pa_csv

                pa_csv.write_csv(flags, out)
            else:
                raise MetrologyError(f"--out {out}: expected a .csv or .parquet file")
    flagged = int(sum(lots.column("flagged").to_pylist())) if lots.num_rows else 0
    if as_json:
        _dump(
            {
                "measurements": flags.num_rows,
                "flagged": flagged,
                "affected_lots": lots.to_pylist(),
            }
        )
    else:
        console.print(
            f"{flags.num_rows} measurements, {flagged} flagged, {lots.num_rows} lots affected",
            highlight=False,
        )
        if lots.num_rows:
            table = Table(title="Affected lots")
            for col in (
                "lot",
                "measurements",
                "flagged",
                "out of cal.",
                "not qualified",
                "out of range",
                "wafers",
            ):
                table.add_column(col, justify="left" if col in ("lot", "wafers") else "right")
            for row in lots.to_pylist():
                table.add_row(
                    escape(str(row["lot_id"])),
                    str(row["measurements"]),
                    str(row["flagged"]),
                    str(row["out_of_calibration"]),
                    str(row["not_qualified"]),
                    str(row["outside_range"]),
                    escape(", ".join(row["wafers"])),
                )
            print_table(console, table)
        if out is not None:
            console.print(f"wrote [bold]{escape(str(out))}[/bold]", soft_wrap=True, highlight=False)
    if fail_on_flags and flagged:
        raise typer.Exit(1)
