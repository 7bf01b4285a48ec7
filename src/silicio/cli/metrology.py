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
    from silicio.tabular import TableError

    with reported_errors(TableError):
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
    wide: Annotated[
        str | None,
        typer.Option(
            "--wide",
            metavar="PREFIX",
            help="Trials written one per column (PREFIX1, PREFIX2 ...).",
            show_default=False,
        ),  # fmt: skip
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Write a printable HTML report here.")] = None,
) -> None:
    """Gage repeatability and reproducibility of a crossed study (AIAG MSA 4th ed.)."""
    if method not in METHODS:
        raise fail(f"--method {method}: unknown method, expected one of {', '.join(METHODS)}")
    with _errors("silicio metrology grr"):
        from silicio.metrology.io import read_table
        from silicio.metrology.msa import gage_rr_anova, gage_rr_average_range, wide_to_long
        from silicio.metrology.report import gage_study_html

        table = read_table(existing_file(file))
        if wide is not None:
            table = wide_to_long(table, wide, value=value)
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
            f"{x.value:.15g}",  # as written: 10000.005 is not 10000
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


# --------------------------------------------------------------------------------------------
# the lab's further studies: type-1 gage, attribute agreement, nested gage R&R, calibration
# curves, Monte Carlo propagation and the calibration schedule

Separator = Annotated[
    str | None,
    typer.Option("--sep", help="Field separator (default: told from the file).", show_default=False),
]
Decimal = Annotated[
    str | None,
    typer.Option(
        "--decimal", help="Decimal separator, ',' or '.' (default: told from the file).", show_default=False
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _read_csv(file: Path, sep: str | None, decimal: str | None, required: tuple[str, ...] = ()):
    from silicio.tabular import read_table

    return read_table(existing_file(file), sep=sep, decimal=decimal, required=required)


def _numbers(table, column: str):
    """A number column as floats; an empty or text cell is an error naming its line."""
    import pyarrow as pa

    data = table.data.column(column)
    if not (pa.types.is_integer(data.type) or pa.types.is_floating(data.type)):
        raise table.error(f"expected numbers in column {column!r}, got {data.type}")
    values = data.to_pylist()
    for row, v in enumerate(values):
        if v is None:
            raise table.error("empty cell: expected a number", row=row, column=column)
    return [float(v) for v in values]


def _fmt(value: float, digits: int = 4) -> str:
    return "inf" if value == math.inf else f"{value:.{digits}g}"


@app.command()
def type1(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="CSV: repeated measurements of one reference part.")
    ],
    reference: Annotated[float, typer.Option("--reference", help="Reference value of the part.")],
    value: Annotated[str, typer.Option("--value", help="Column of the measurements.")] = "value",
    tolerance: Annotated[
        float | None, typer.Option("--tolerance", help="USL - LSL.", show_default=False)
    ] = None,
    lsl: Annotated[float | None, typer.Option("--lsl", show_default=False)] = None,
    usl: Annotated[float | None, typer.Option("--usl", show_default=False)] = None,
    k_percent: Annotated[float, typer.Option("--k", help="% of the tolerance the gage may use.")] = 20.0,
    spread: Annotated[
        float, typer.Option("--spread", help="Standard deviations of study variation (L).")
    ] = 6.0,
    resolution: Annotated[float | None, typer.Option("--resolution", show_default=False)] = None,
    sep: Separator = None,
    decimal: Decimal = None,
    as_json: AsJson = False,
) -> None:
    """Type-1 gage study: Cg, Cgk and the bias of one part measured many times (Bosch Booklet 10)."""
    with _errors("silicio metrology type1"):
        from silicio.metrology.type1 import type1_gage

        table = _read_csv(file, sep, decimal, (value,))
        study = type1_gage(_numbers(table, value), reference, tolerance=tolerance, lsl=lsl, usl=usl,
                           k_percent=k_percent, spread=spread, resolution=resolution)  # fmt: skip
    if as_json:
        _dump(study.to_dict())
        return
    digits = max(table.decimals(value) or 0, 1) + 2
    console.print(
        f"n = {study.n}   mean = {study.mean:.{digits}f}   s = {study.stdev:.3g}   bias = {study.bias:.{digits}f} "
        f"(t = {study.t:.3f}, p = {study.p_value:.4f})\n"
        f"Cg = {study.cg:.2f}   Cgk = {study.cgk:.2f}   %Var(repeatability) = {study.percent_var_repeatability:.1f} %   "
        f"%Var(repeatability and bias) = {_fmt(study.percent_var_repeatability_and_bias)} %\n"
        f"capable (Cg and Cgk >= 1.33): {'yes' if study.capable else 'no'}"
        + ("" if study.resolution_ok is None else
           f"   resolution {study.percent_resolution:.1f} % of tolerance: {'ok' if study.resolution_ok else 'too coarse'}"),
        highlight=False,
    )  # fmt: skip


@app.command()
def attribute(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="CSV: one row per rating.")],
    part: Annotated[str, typer.Option("--part")] = "part",
    appraiser: Annotated[str, typer.Option("--appraiser")] = "appraiser",
    rating: Annotated[str, typer.Option("--rating")] = "rating",
    standard: Annotated[
        str | None,
        typer.Option("--standard", help="Column of each part's reference rating.", show_default=False),
    ] = None,
    defective: Annotated[
        str | None,
        typer.Option(
            "--defective", help="The rating that means reject (needs --standard).", show_default=False
        ),  # fmt: skip
    ] = None,
    sep: Separator = None,
    decimal: Decimal = None,
    as_json: AsJson = False,
) -> None:
    """Attribute agreement analysis: within, between and against the standard (AIAG MSA 4th ed. III-C)."""
    with _errors("silicio metrology attribute"):
        from dataclasses import asdict

        import pyarrow as pa

        from silicio.metrology.attribute import attribute_agreement

        table = _read_csv(file, sep, decimal, (part, appraiser, rating, *([standard] if standard else [])))
        text = pa.table({name: table.data.column(name).cast(pa.string()) for name in table.data.column_names})
        result = attribute_agreement(text, part=part, appraiser=appraiser, rating=rating, standard=standard,
                                     defective=defective)  # fmt: skip
    if as_json:
        out = asdict(result)
        out["decisions"] = {
            a: {**asdict(d), "effectiveness": d.effectiveness, "miss_rate": d.miss_rate,
                "false_alarm_rate": d.false_alarm_rate, "acceptable": d.acceptable}
            for a, d in result.decisions.items()
        }  # fmt: skip
        _dump(out)
        return
    summary = Table(title="Attribute agreement (parts matched, exact 95 % interval)")
    for col in ("Assessment", "Appraiser", "Inspected", "Matched", "%", "95 % CI", "kappa"):
        summary.add_column(col, justify="left" if col in ("Assessment", "Appraiser") else "right")

    def add(label: str, who: str, a) -> None:
        summary.add_row(label, escape(who), str(a.inspected), str(a.matched), f"{a.percent:.1f}",
                        f"{a.ci_low:.1f}-{a.ci_high:.1f}", "" if a.kappa is None else f"{a.kappa:.3f}")  # fmt: skip

    for who, a in result.within.items():
        add("within appraiser", str(who), a)
    for who, a in result.vs_standard.items():
        add("appraiser vs standard", str(who), a)
    add("between appraisers", "all", result.between)
    if result.all_vs_standard is not None:
        add("all vs standard", "all", result.all_vs_standard)
    print_table(console, summary)
    if result.decisions:
        decisions = Table(
            title="Accept/reject decisions (AIAG: effectiveness >= 90 %, miss <= 2 %, false alarm <= 5 %)"
        )
        for col in ("Appraiser", "Effectiveness %", "Miss rate %", "False alarm %", "Acceptable"):
            decisions.add_column(col, justify="left" if col == "Appraiser" else "right")
        for who, d in result.decisions.items():
            decisions.add_row(escape(str(who)), f"{100 * d.effectiveness:.1f}", f"{100 * d.miss_rate:.1f}",
                              f"{100 * d.false_alarm_rate:.1f}", "yes" if d.acceptable else "no")  # fmt: skip
        print_table(console, decisions)


@app.command("grr-nested")
def grr_nested(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="CSV: one row per measurement.")],
    part: Annotated[str, typer.Option("--part")] = "part",
    operator: Annotated[str, typer.Option("--operator")] = "operator",
    value: Annotated[str, typer.Option("--value")] = "value",
    tolerance: Annotated[float | None, typer.Option("--tolerance", show_default=False)] = None,
    sep: Separator = None,
    decimal: Decimal = None,
    as_json: AsJson = False,
) -> None:
    """Nested gage R&R for destructive tests: each part measured by one operator only."""
    with _errors("silicio metrology grr-nested"):
        import pyarrow as pa

        from silicio.metrology.nested import gage_rr_nested

        table = _read_csv(file, sep, decimal, (part, operator, value))
        data = pa.table({part: table.data.column(part).cast(pa.string()),
                         operator: table.data.column(operator).cast(pa.string()),
                         value: _numbers(table, value)})  # fmt: skip
        result = gage_rr_nested(data, part=part, operator=operator, value=value, tolerance=tolerance)
    if as_json:
        _dump({"variances": result.variances, "percent_contribution": result.percent_contribution,
               "percent_study_variation": result.percent_study_variation,
               "percent_tolerance": result.percent_tolerance, "ndc": result.ndc,
               "anova": [vars(r) for r in result.anova]})  # fmt: skip
        return
    out = Table(title=f"Nested gage R&R: {result.operators} operators x {result.parts_per_operator} parts "
                      f"x {result.replicates} measurements")  # fmt: skip
    tol = result.percent_tolerance
    for col in ("Source", "Variance", "% contribution", "% study var", *(("% tolerance",) if tol else ())):
        out.add_column(col, justify="left" if col == "Source" else "right")
    for key in ("grr", "repeatability", "reproducibility", "part", "total"):
        row = [key, f"{result.variances[key]:.5g}", f"{result.percent_contribution[key]:.2f}",
               f"{result.percent_study_variation[key]:.2f}"]  # fmt: skip
        if tol:
            row.append(f"{tol[key]:.2f}")
        out.add_row(*row)
    print_table(console, out)
    console.print(
        f"ndc = {int(result.ndc) if math.isfinite(result.ndc) else 'inf'} ({result.ndc:.3f})", highlight=False
    )


@app.command("calibration-curve")
def calibration_curve(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="CSV: reference (x) and reading (y) per point.")
    ],
    x: Annotated[str, typer.Option("--x", help="Column of x.")] = "x",
    y: Annotated[str, typer.Option("--y", help="Column of y.")] = "y",
    x0: Annotated[float, typer.Option("--x0", help="The x the intercept refers to (GUM H.3: t0).")] = 0.0,
    at: Annotated[list[float] | None, typer.Option("--at", help="Predict y at this x (repeatable).")] = None,
    sep: Separator = None,
    decimal: Decimal = None,
    as_json: AsJson = False,
) -> None:
    """Fit a straight calibration line with its uncertainty (JCGM 100:2008, Annex H.3)."""
    with _errors("silicio metrology calibration-curve"):
        from silicio.metrology.calibration import linear_calibration

        table = _read_csv(file, sep, decimal, (x, y))
        curve = linear_calibration(_numbers(table, x), _numbers(table, y), x0=x0)
        predictions = []
        for point in at or []:
            value, u = curve.predict(point)
            predictions.append({"x": point, "y": float(value), "u": float(u)})
    if as_json:
        _dump({**vars(curve), "dof": curve.dof, "predictions": predictions})
        return
    console.print(
        f"y = {curve.intercept:.6g} + {curve.slope:.6g} (x - {x0:g})   n = {curve.n}\n"
        f"u(intercept) = {curve.u_intercept:.3g}   u(slope) = {curve.u_slope:.3g}   r = {curve.correlation:.3f}   "
        f"s = {curve.residual_sd:.3g} ({curve.dof} dof)",
        highlight=False,
    )
    for p in predictions:
        console.print(f"at x = {p['x']:g}: y = {p['y']:.6g}, u = {p['u']:.2g}", highlight=False)


@app.command()
def montecarlo(
    budget_file: Annotated[
        Path, typer.Argument(metavar="BUDGET", help="Budget as CSV or TOML (TOML may give a model).")
    ],
    trials: Annotated[
        int, typer.Option("--trials", help="Monte Carlo trials (JCGM 101 suggests 10^6).")
    ] = 1_000_000,
    coverage: Annotated[float, typer.Option("--coverage")] = 0.95,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the draws (default: fresh).", show_default=False)
    ] = None,
    adaptive: Annotated[
        bool, typer.Option("--adaptive", help="Add trials until stable (JCGM 101 7.9).")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Propagate a budget's distributions by Monte Carlo (JCGM 101:2008, GUM Supplement 1), beside the GUM's result."""
    with _errors("silicio metrology montecarlo"):
        from silicio.metrology.io import read_budget
        from silicio.metrology.montecarlo import propagate_budget

        spec = read_budget(existing_file(budget_file))
        result = propagate_budget(spec, trials=trials, coverage=coverage, seed=seed, adaptive=adaptive)
    if as_json:
        _dump({**result.to_dict(), "model": spec.model})
        return
    u = result.standard_uncertainty
    # Results to two significant digits of u (JCGM 101 7.6), the estimate to the same place.
    place = max(0, 1 - math.floor(math.log10(u))) if u > 0 else 6
    low, high = result.interval
    s_low, s_high = result.shortest_interval
    unit = f" {spec.unit}" if spec.unit else ""
    console.print(
        f"{spec.measurand or 'y'} = {result.estimate:.{place}f}{unit}   u = {u:.{place}f}{unit}   "
        f"{100 * coverage:g} % interval [{low:.{place}f}, {high:.{place}f}] (shortest [{s_low:.{place}f}, "
        f"{s_high:.{place}f}])   M = {result.trials:,}" + (f"   seed {seed}" if seed is not None else ""),
        highlight=False,
    )


@app.command()
def due(
    calibrations: Annotated[
        Path, typer.Option("--calibrations", help="Calibration certificates (CSV or Parquet).")
    ],
    instruments: Annotated[
        Path | None, typer.Option("--instruments", help="Instruments (those never calibrated show too).")
    ] = None,
    measurements: Annotated[
        Path | None,
        typer.Option(
            "--measurements", help="Measurements: list the lots measured with a lapsed calibration."
        ),
    ] = None,
    on: Annotated[
        str | None,
        typer.Option("--on", help="The day to judge, YYYY-MM-DD (default: today).", show_default=False),
    ] = None,
    within: Annotated[int, typer.Option("--within", help="Days ahead that count as due soon.")] = 30,
    as_json: AsJson = False,
) -> None:
    """The calibration schedule: what is due, what is overdue, which lots were measured while out of calibration."""
    import datetime as dt

    try:
        day = dt.date.fromisoformat(on) if on else dt.date.today()
    except ValueError:
        raise fail(f"--on {on}: expected a date written YYYY-MM-DD") from None
    with _errors("silicio metrology due"):
        import pyarrow.compute as pc

        from silicio.metrology.calibration import calibration_schedule
        from silicio.metrology.io import read_records
        from silicio.metrology.records import SCHEMAS, flag_measurements

        certificates = read_records(existing_file(calibrations), "calibrations")
        known = read_records(existing_file(instruments), "instruments") if instruments is not None else None
        schedule = calibration_schedule(known, certificates, day, within)
        lapsed = None
        if measurements is not None:
            flags = flag_measurements(read_records(existing_file(measurements), "measurements"), known, certificates,
                                      SCHEMAS["qualifications"].empty_table())  # fmt: skip
            out_of_calibration = pc.and_(flags.column("instrument_out_of_calibration"),
                                         pc.is_valid(flags.column("lot_id")))  # fmt: skip
            lapsed = (flags.filter(out_of_calibration).group_by("lot_id").aggregate([("lot_id", "count")])
                      .rename_columns(["lot_id", "measurements"]).sort_by("lot_id"))  # fmt: skip
    if as_json:
        _dump({"on": day.isoformat(), "within_days": within, "schedule": schedule.to_pylist(),
               "lots_measured_out_of_calibration": None if lapsed is None else lapsed.to_pylist()})  # fmt: skip
        return
    counts = {status: 0 for status in ("overdue", "due soon", "never calibrated", "current")}
    for status in schedule.column("status").to_pylist():
        counts[status] += 1
    table = Table(title=f"Calibration schedule on {day.isoformat()} (due soon: within {within} days)")
    for col in ("Instrument", "Status", "Due on", "Days left", "Certificate"):
        table.add_column(col, justify="right" if col == "Days left" else "left")
    for row in schedule.to_pylist():
        table.add_row(escape(row["instrument_id"]), row["status"], str(row["due_on"] or "—"),
                      "—" if row["days_left"] is None else str(row["days_left"]),
                      escape(row["certificate_id"] or "—"))  # fmt: skip
    print_table(console, table)
    console.print(", ".join(f"{n} {status}" for status, n in counts.items()), highlight=False)
    if lapsed is not None:
        if lapsed.num_rows:
            console.print("lots measured with an instrument out of calibration: "
                          + ", ".join(f"{r['lot_id']} ({r['measurements']})" for r in lapsed.to_pylist()),
                          highlight=False)  # fmt: skip
        else:
            console.print("no lot was measured with an instrument out of calibration", highlight=False)
