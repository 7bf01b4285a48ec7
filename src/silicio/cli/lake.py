"""``silicio ingest``, ``silicio sql`` and ``silicio lake ...``: the data lake from the shell."""

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .errors import fail, needs, reported_errors
from .options import DatabaseUrl, DataDir, needs_database
from .render import console, print_problems, print_table, stderr

if TYPE_CHECKING:
    from silicio.lake import IngestReport
    from silicio.lake.query import Lake

app = typer.Typer(help="Look into the data lake: files, quarantine, recovery.", no_args_is_help=True)


def ingest_command(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="PATH...",
            help="Tester files (STDF, or what an installed data source reads), folders or globs.",
            show_default=False,
        ),
    ] = None,
    data: DataDir = None,
    database_url: DatabaseUrl = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Local worker processes (default min(CPUs, 4)).")
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option("--dask", metavar="ADDRESS", help="Run on this Dask scheduler instead of a local pool."),
    ] = None,
    watch_dir: Annotated[
        Path | None,
        typer.Option(
            "--watch", metavar="DIR", help="Keep ingesting files as they land in DIR (Ctrl-C stops)."
        ),
    ] = None,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between polls of --watch.")
    ] = 2.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    no_signatures: Annotated[
        bool,
        typer.Option(
            "--no-signatures", help="Do not classify the wafer-sort wafers' maps (silicio spatial)."
        ),
    ] = False,
    alerts: Annotated[
        Path | None,
        typer.Option(
            "--alerts",
            metavar="FILE",
            help="Evaluate these alert rules on what was ingested (default DATA/alerts.toml when there).",
        ),
    ] = None,  # fmt: skip
) -> None:
    """Take tester files into the lake: partitioned Parquet plus catalog rows, each content once.

    STDF is read as it is; other kinds of files through the data sources installed packages
    register (the ``silicio.sources`` entry points). The wafer-sort wafers of the files taken in
    get their wafer-map signature, zonal yield and largest fail cluster stored in the catalog
    (wafer_signatures; a wafer whose signature changes keeps the old one in
    wafer_signature_history), unless --no-signatures."""
    if not paths and watch_dir is None:
        raise fail("give files, folders or globs to ingest, or --watch DIR")
    _needs_lake("silicio ingest", database_url, dask)
    from silicio.lake import default_data_dir, watch
    from silicio.lake.sources import SourceRegistryError

    from .alerts import after_ingest, load_rules, rules_file

    data_dir = data or default_data_dir()
    rules_path = rules_file(alerts, data_dir)
    rules = load_rules(rules_path) if rules_path is not None else None  # a wrong file stops before ingesting
    options = {"database_url": database_url, "workers": workers, "dask_address": dask}
    if rules is not None:  # the files' tables the rules read, handed over in memory (one worker)
        from silicio.alerts.ingested import KEPT_AT_INGEST

        options["keep"] = KEPT_AT_INGEST
    show_progress = not quiet and console.is_terminal
    signatures = None if no_signatures else _signature_step(data_dir, database_url, quiet)
    problems = False

    def reported(report: IngestReport) -> bool:
        print_report(report, quiet)
        if signatures is not None:
            signatures(report)
        alerted = rules is None or after_ingest(report, data_dir, database_url, rules, quiet)
        return report.ok and alerted

    with reported_errors(SourceRegistryError):
        if paths:
            report = _ingest_with_progress(paths, data_dir, options, show_progress)
            problems = not reported(report)
        if watch_dir is not None:
            console.print(
                f"watching {escape(str(watch_dir))} (Ctrl-C stops)", highlight=False, soft_wrap=True
            )
            try:
                watch(
                    watch_dir,
                    data_dir,
                    interval=interval,
                    on_report=reported,
                    **options,
                )
            except KeyboardInterrupt:
                console.print("stopped")
    if problems:
        raise typer.Exit(1)


def _signature_step(data_dir: Path, database_url: str | None, quiet: bool):
    """What stores the signatures of an ingest's wafers (a function of its report); None, with a
    note, when the spatial extra is missing. Who ingests is the signatures' actor."""
    from silicio.extras import missing_modules

    from .options import acting_user

    if missing_modules("spatial"):
        if not quiet:
            stderr.print("wafer-map signatures not stored: install silicio[spatial] (scikit-learn), or pass "
                         "--no-signatures", highlight=False, soft_wrap=True)  # fmt: skip
        return None
    actor = acting_user(None, "ingests")

    def store(report: IngestReport) -> None:
        from silicio.lake import INGESTED, PARTIAL
        from silicio.lake.query import Lake
        from silicio.spatial.signatures import classify_ingested

        taken = [o.sha256 for o in report.with_status(INGESTED, PARTIAL) if o.sha256]
        if not taken:
            return
        with Lake(data_dir, database_url) as lake:
            update = classify_ingested(lake, taken, actor=actor)
        if update.wafers and not quiet:
            c = update.counts
            console.print(f"signatures: {update.wafers} wafer(s) classified ({c['added']} added, {c['replaced']} "
                          f"replaced, {c['unchanged']} unchanged) in {update.cpu_seconds:.1f} CPU s",
                          highlight=False, soft_wrap=True)  # fmt: skip

    return store


def _needs_lake(command: str, database_url: str | None, dask_address: str | None = None) -> None:
    """The lake's extra, and those of a PostgreSQL catalog and of a Dask scheduler when asked for."""
    needs("lake", command)
    needs_database(command, database_url)
    if dask_address:
        needs("dask", f"{command} --dask")


def _ingest_with_progress(paths: list[str], data_dir: Path, options: dict, show: bool) -> IngestReport:
    from silicio.lake import FileOutcome, ingest

    if not show:
        return ingest(paths, data_dir, **options)
    columns = [TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(), TextColumn("files"),
               TextColumn("{task.fields[rates]}"), TimeElapsedColumn()]  # fmt: skip
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("ingest", total=None, rates="")
        totals = {"bytes": 0, "records": 0, "start": time.perf_counter()}

        def on_start(files: int, _bytes: int) -> None:
            progress.update(task, total=files)

        def on_file(outcome: FileOutcome) -> None:
            totals["bytes"] += outcome.size
            totals["records"] += outcome.records
            seconds = max(time.perf_counter() - totals["start"], 1e-9)
            rates = (
                f"{totals['bytes'] / 1e6 / seconds:,.1f} MB/s  {totals['records'] / seconds:,.0f} records/s"
            )
            progress.update(task, advance=1, rates=rates)

        return ingest(paths, data_dir, on_start=on_start, on_file=on_file, **options)


def print_report(report: IngestReport, quiet: bool = False) -> None:
    """One line of totals; then one line for each quarantined, partial and failed file."""
    from silicio.lake import FAILED, PARTIAL, QUARANTINED, SKIPPED

    counts = {s: len(report.with_status(s)) for s in ("ingested", PARTIAL, SKIPPED, QUARANTINED, FAILED)}
    if report.recovery.staging_dirs or report.recovery.orphans:
        stderr.print(f"[yellow]recovered from an interrupted ingest: removed {len(report.recovery.staging_dirs)} "
                     f"staging folder(s) and {len(report.recovery.orphans)} orphan Parquet file(s)[/yellow]", soft_wrap=True)  # fmt: skip
    if not quiet:
        summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "no files"
        mb = report.bytes / 1e6
        console.print(
            f"{summary}: {mb:,.1f} MB, {report.records:,} records in {report.seconds:.1f} s",
            highlight=False,
            soft_wrap=True,
        )
    problems = []
    for outcome in report.with_status(QUARANTINED, PARTIAL, FAILED):
        issue = outcome.issues[0] if outcome.issues else None
        reason = outcome.message or (issue.reason if issue else "")
        if len(outcome.issues) > 1:
            reason += f" (+{len(outcome.issues) - 1} more)"
        where = _where(issue.offset, issue.record, outcome.source) if issue else ""
        problems.append((outcome.path, f"{outcome.status}{where}: {reason}"))
    print_problems(stderr, "files with problems", problems)
    print_problems(stderr, "read in full, with warnings", [
        (outcome.path, f"{_where(w.offset, w.record).strip()}: {w.reason}")
        for outcome in report.outcomes for w in outcome.warnings
    ])  # fmt: skip


def _where(offset: int | None, record: str | None, source: str | None = None) -> str:
    # An issue's offset is a byte of a binary file (STDF) or a line of a text source (KLARF, ...).
    unit = "byte" if source in (None, "stdf") else "line"
    return (f" at {unit} {offset:,}" if offset is not None else "") + (f" in {record}" if record else "")


def sql_command(
    query: Annotated[
        str, typer.Argument(metavar="QUERY", help="DuckDB SQL over the lake's views.", show_default=False)
    ],
    data: DataDir = None,
    database_url: DatabaseUrl = None,
    output: Annotated[
        str, typer.Option("--format", metavar="table|csv|json", help="Output format.")
    ] = "table",
) -> None:
    """Run SQL over the lake: a view per record type, tidy, parts, and the catalog tables."""
    if output not in ("table", "csv", "json"):
        raise fail(f"--format {output}: expected table, csv or json")
    _needs_lake("silicio sql", database_url)
    import duckdb

    with reported_errors(), _open_lake(data, database_url) as lake:
        try:
            result = lake.arrow(query)
        except duckdb.Error as exc:
            raise fail(f"query failed: {exc}") from None
    if output == "csv":
        import pyarrow.csv as pa_csv

        pa_csv.write_csv(result, sys.stdout.buffer)
    elif output == "json":
        typer.echo(json.dumps(result.to_pylist(), default=_json_value, indent=1))
    else:
        table = Table(show_lines=False)
        for name in result.column_names:
            table.add_column(escape(name))
        for row in result.to_pylist():
            table.add_row(*[escape("" if v is None else str(v)) for v in row.values()])
        print_table(console, table)
        console.print(f"{result.num_rows:,} row(s)", style="dim")


def _open_lake(data: Path | None, database_url: str | None) -> Lake:
    """The lake at ``data``; a missing one is a clear error, not a traceback."""
    from silicio.lake.query import Lake

    try:
        return Lake(data, database_url)
    except FileNotFoundError as exc:
        raise fail(str(exc)) from None


def _json_value(value):
    # DuckDB sums integers into HUGEINT, which Arrow hands over as Decimal.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


@app.command()
def status(data: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Files, wafers and quarantined files in the lake, and the quarantine list."""
    _needs_lake("silicio lake status", database_url)
    with reported_errors(), _open_lake(data, database_url) as lake:
        counts = lake.catalog.counts()
        rows = lake.catalog.rows("quarantine", order_by=["id"])
        warned = [row for row in lake.catalog.rows("files", order_by=["id"]) if row.get("warnings")]
    console.print(f"{counts['files']:,} files, {counts['wafers']:,} wafers, {counts['quarantine']:,} in quarantine",
                  highlight=False, soft_wrap=True)  # fmt: skip
    print_problems(console, "read in full, with warnings", [
        (row["path"], f"{_where(w['offset'], w['record']).strip()}: {w['reason']}")
        for row in warned for w in row["warnings"]
    ])  # fmt: skip
    print_problems(console, "quarantine", [
        (row["path"], f"{'salvaged' if row['salvaged'] else 'not salvaged'}{_where(row['offset'], row['record'], row['source'])}: "
                      f"{row['reason']} ({row['issues']} issue(s))")
        for row in rows
    ])  # fmt: skip


@app.command(name="recover")
def recover_command(data: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Remove what interrupted ingests left (every ingest also does this first)."""
    _needs_lake("silicio lake recover", database_url)
    from silicio.lake import recover

    with reported_errors():
        found = recover(data, database_url)
    console.print(
        f"removed {len(found.staging_dirs)} staging folder(s), {len(found.orphans)} orphan Parquet file(s)"
    )
