"""``silicio correlate ...`` (two files of the same units, the tests of one file) and ``silicio
retest LOT`` (the lake's retests and test time of a lot): arguments in, the areas' answers out."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from .errors import existing_file, fail, needs, reported_errors
from .options import DatabaseUrl, DataDir
from .render import console, print_table

app = typer.Typer(
    no_args_is_help=True, help="Correlation: the same units tested twice, and tests within a stage."
)


def _json(value: Any) -> str:
    def ready(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: ready(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [ready(x) for x in v]
        return v

    return json.dumps(ready(value), indent=1, allow_nan=False, default=str)


def _number(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


@app.command("files")
def files_command(
    reference: Annotated[
        Path, typer.Argument(metavar="A", help="STDF file of the reference tester (side a).")
    ],
    other: Annotated[
        Path, typer.Argument(metavar="B", help="STDF file of the same units on the other tester.")
    ],
    tolerance: Annotated[
        str | None,
        typer.Option(
            "--tolerance",
            help="Largest |bias|: 0.002 (absolute), 2% (of the mean) or 5%limits (of the limit window).",
            show_default=False,
        ),
    ] = None,  # fmt: skip
    on: Annotated[
        str, typer.Option("--on", help="Match units on auto, xy (die coordinates) or part_id.")
    ] = "auto",
    by_number: Annotated[
        bool, typer.Option("--by-number", help="Match tests on number alone (names differ between programs).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The whole report as JSON.")] = False,
) -> None:
    """Correlate two files of the same units: per test bias, Bland-Altman limits, slope, R^2, paired
    t-test and verdict flips; the tests beyond the tolerance."""
    existing_file(reference)
    existing_file(other)
    from silicio.correlate import Tolerance, correlate
    from silicio.stdf import read

    with reported_errors():
        try:
            limit = Tolerance.parse(tolerance) if tolerance is not None else None
            report = correlate(read(reference), read(other), on=on, match="number" if by_number else "number_and_name",
                               tolerance=limit)  # fmt: skip
        except ValueError as exc:
            raise fail(str(exc)) from None
    if as_json:
        typer.echo(_json(report.to_dict()))
        return
    _print_report(report)


def _print_report(report) -> None:
    share = report.part_flip_share
    console.print(
        escape(f"{report.units_matched} units on both sides (a {report.units_a}, b {report.units_b}), matched on "
               f"{'/'.join(report.unit_key)}; pass/fail changed on {report.part_flips}"
               + (f" ({100 * share:.2f}%)" if share is not None else "")),
        highlight=False, soft_wrap=True,
    )  # fmt: skip
    shown = report.disagreeing if report.tolerance is not None else report.tests
    title = (f"{shown.num_rows} tests beyond {report.tolerance.describe()}" if report.tolerance is not None
             else f"{shown.num_rows} tests")  # fmt: skip
    table = Table(title=title, title_justify="left")
    columns = [
        "test_num",
        "test_name",
        "n",
        "bias",
        "loa_lower",
        "loa_upper",
        "slope",
        "r_squared",
        "p_value",
        "flips",
    ]
    for column in columns:
        table.add_column(column, justify="left" if column == "test_name" else "right", overflow="fold")
    for row in shown.to_pylist():
        table.add_row(*(escape(_number(row[c])) for c in columns))
    print_table(console, table)
    for note in report.notes:
        console.print(escape(note), style="dim", highlight=False, soft_wrap=True)


@app.command("sites")
def sites_command(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="STDF file whose units visited both sites.")],
    site_a: Annotated[int, typer.Argument(metavar="SITE_A", help="Reference site (SITE_NUM).")],
    site_b: Annotated[int, typer.Argument(metavar="SITE_B", help="Site compared with it.")],
    tolerance: Annotated[
        str | None,
        typer.Option("--tolerance", help="Largest |bias|, as for `correlate files`.", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The whole report as JSON.")] = False,
) -> None:
    """Site-to-site correlation inside one file: the units tested on both sites, each unit's last
    reading on each site."""
    existing_file(path)
    from silicio.correlate import Tolerance, correlate_within
    from silicio.stdf import parts, read, tidy

    with reported_errors():
        try:
            limit = Tolerance.parse(tolerance) if tolerance is not None else None
            tables = read(path)
            report = correlate_within(parts(tables), tidy(tables), "site", site_a, site_b, tolerance=limit)
        except ValueError as exc:
            raise fail(str(exc)) from None
    if as_json:
        typer.echo(_json(report.to_dict()))
        return
    _print_report(report)


@app.command("grr")
def grr_command(
    paths: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="STDF files, one per tester (MIR.NODE_NAM).")
    ],
    test: Annotated[int, typer.Option("--test", help="Test number to study.")],
    by_site: Annotated[
        bool, typer.Option("--by-site", help="Sites are the appraisers (one file or several), not testers.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The study as JSON.")] = False,
) -> None:
    """Gage R&R of one test on tester data: parts x testers (or sites) x repeats, by ANOVA
    (silicio.metrology, AIAG MSA 4th ed.); the tolerance is the test's limit window."""
    for path in paths:
        existing_file(path)
    from silicio.correlate import ate_gage_study, label_sides
    from silicio.stdf import read, tidy

    with reported_errors():
        try:
            sides = {}
            for path in paths:
                tables = read(path)
                mir = tables.get("MIR")
                node = mir.column("NODE_NAM")[0].as_py() if mir is not None and mir.num_rows else None
                sides[f"{node or path.name} ({path.name})" if len(paths) > 1 else str(node or path.name)] = (
                    tidy(tables)
                )
            study = ate_gage_study(label_sides(sides), test, appraiser="site" if by_site else "tester")
        except ValueError as exc:
            raise fail(str(exc)) from None
    if as_json:
        typer.echo(_json(study.to_dict()))
        return
    tolerance = study.percent_tolerance
    console.print(
        escape(f"test {test}: {study.n_parts} parts x {study.n_appraisers} "
               f"{'sites' if by_site else 'testers'} x {study.n_trials} trials; %GRR {study.percent_grr:.2f} "
               f"of total variation" + (f", {tolerance['GRR']:.2f} of tolerance" if tolerance else "")
               + f"; ndc {study.ndc_truncated}"),
        highlight=False, soft_wrap=True,
    )  # fmt: skip


@app.command("tests")
def tests_command(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="STDF file of one stage.")],
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold",
            min=0.0,
            max=0.999999,
            help="|r| above which two tests failing the same units are redundant.",
        ),
    ] = 0.95,  # fmt: skip
    as_json: Annotated[bool, typer.Option("--json", help="Redundant pairs as JSON.")] = False,
) -> None:
    """Redundant tests of a file: pairs with |r| above the threshold that fail the same units, with the
    test time each costs (TSR)."""
    existing_file(path)
    from silicio.correlate import correlation_matrix, redundant_tests, tsr_test_times
    from silicio.stdf import read, tidy

    with reported_errors():
        try:
            tables = read(path)
            pairs = redundant_tests(correlation_matrix(tidy(tables)), threshold, tsr_test_times(tables))
        except ValueError as exc:
            raise fail(str(exc)) from None
    if as_json:
        typer.echo(_json(pairs.to_pylist()))
        return
    table = Table(
        title=f"{pairs.num_rows} redundant test pairs (|r| > {threshold:g}, same fails)", title_justify="left"
    )
    columns = pairs.column_names
    for column in columns:
        table.add_column(
            column, justify="left" if column.startswith("test_name") else "right", overflow="fold"
        )
    for row in pairs.to_pylist():
        table.add_row(*(escape(_number(row[c])) for c in columns))
    print_table(console, table)


@app.command("stages")
def stages_command(
    sort_lot: Annotated[str, typer.Argument(metavar="SORT_LOT", help="Lot ID at wafer sort.")],
    final_lot: Annotated[str, typer.Argument(metavar="FINAL_LOT", help="Lot ID at final test.")],
    data: DataDir = None,
    database_url: DatabaseUrl = None,
    pairs: Annotated[
        list[str] | None,
        typer.Option(
            "--pair",
            metavar="SORT:FINAL",
            help="A sort test number and the final test number that "
            "measures the same (repeat); default: the tests of the same number and name.",
        ),
    ] = None,  # fmt: skip
    tolerance: Annotated[
        str | None,
        typer.Option("--tolerance", help="Largest |bias|, as for `correlate files`.", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The whole report as JSON.")] = False,
) -> None:
    """Wafer sort against final test, die by die through the genealogy: per test pair agreement,
    sort bins against final bins, escapes (passed sort, failed final) by wafer position."""
    needs("lake", "silicio correlate stages")
    from silicio.correlate import Tolerance, lot_stage_correlation
    from silicio.lake.query import Lake
    from silicio.trace.store import TraceStore

    test_pairs = {}
    for text in pairs or ():
        sort_num, _, final_num = text.partition(":")
        if not (sort_num.strip().isdigit() and final_num.strip().isdigit()):
            raise fail(f"--pair {text!r}: expected SORT:FINAL test numbers, e.g. 1010:2010")
        test_pairs[int(sort_num)] = int(final_num)
    with reported_errors():
        try:
            limit = Tolerance.parse(tolerance) if tolerance is not None else None
            with Lake(data, database_url) as lake, TraceStore.at(data, database_url) as store:
                report = lot_stage_correlation(lake, store, sort_lot, final_lot, test_pairs or None, limit)
        except (ValueError, FileNotFoundError) as exc:
            raise fail(str(exc)) from None
    if as_json:
        typer.echo(_json(report.to_dict()))
        return
    console.print(escape(f"{report.tested_both} of {report.pairs} die -> unit links tested at both stages; "
                         f"{report.escapes.num_rows} escapes"), highlight=False, soft_wrap=True)  # fmt: skip
    _print_rows("Sort hard bin against final hard bin", report.bins)
    _print_rows(
        "Tests", report.tests.select(["test_num", "test_name", "n", "bias", "slope", "r_squared", "flips"])
    )
    _print_rows("Escapes: passed sort, failed final", report.escapes)
    for note in report.notes:
        console.print(escape(note), style="dim", highlight=False, soft_wrap=True)


def retest_command(
    lot: Annotated[str, typer.Argument(metavar="LOT", help="Lot ID (MIR.LOT_ID) as the lake holds it.")],
    data: DataDir = None,
    database_url: DatabaseUrl = None,
    stage: Annotated[
        str | None,
        typer.Option("--stage", help="Test stage, when the lot was tested at several.", show_default=False),
    ] = None,
    over: Annotated[
        int, typer.Option("--over", min=0, help="List the dies retested more than this many times.")
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="The whole report as JSON.")] = False,
) -> None:
    """Retests and test time of a lot: bin switching, recovery per bin, retest rate per site, tester
    and handler, dies retested more than N times, UPH and multi-site efficiency."""
    needs("lake", "silicio retest")
    from silicio.correlate import lot_retest
    from silicio.lake.query import Lake

    with reported_errors():
        try:
            with Lake(data, database_url) as lake:
                report = lot_retest(lake, lot, stage=stage, over=over)
        except (ValueError, FileNotFoundError) as exc:
            raise fail(str(exc)) from None
    if as_json:
        typer.echo(_json(report.to_dict()))
        return
    console.print(
        escape(f"lot {lot} at {report.stage}: {report.insertions} insertions of {report.dies} dies, "
               f"{report.retested_dies} retested"),
        highlight=False, soft_wrap=True,
    )  # fmt: skip
    _print_rows(
        "Bin switching: dies per first-pass hard bin (rows) and final hard bin", report.switching_matrix
    )
    _print_rows("Retest recovery per first-pass hard bin", report.recovery)
    for group, rates in report.retest_rates.items():
        _print_rows(f"Retest rate per {group}", rates)
    _print_rows(f"Dies retested more than {report.over} times", report.repeated)
    _print_rows("Test time and UPH per tester and site", report.site_times)
    _print_rows("Testers: UPH and multi-site efficiency", report.testers)
    for note in report.notes:
        console.print(escape(note), style="dim", highlight=False, soft_wrap=True)


def _print_rows(title: str, rows) -> None:
    table = Table(title=title, title_justify="left")
    for column in rows.column_names:
        table.add_column(column, overflow="fold")
    for row in rows.to_pylist():
        table.add_row(
            *(
                escape(_number(v) if not isinstance(v, list) else " > ".join(map(str, v)))
                for v in row.values()
            )
        )
    print_table(console, table)
