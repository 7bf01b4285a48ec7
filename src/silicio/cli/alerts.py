"""``silicio alerts ...``: the alert rules (check a file, list the registered rules), the alerts
raised (list, acknowledge) and the scheduled reports (``silicio alerts report daily|weekly``);
and the evaluation ``silicio ingest --alerts FILE`` runs after an ingest (:func:`after_ingest`).

Scheduling the reports: one cron line each, e.g. ::

    15 6 * * *  cd /srv/silicio && SILICIO_DATA=/srv/silicio/data silicio alerts report daily --send
    30 6 * * 1  cd /srv/silicio && SILICIO_DATA=/srv/silicio/data silicio alerts report weekly --send

(a systemd timer with ``OnCalendar=*-*-* 06:15`` does the same). The period is the UTC day (or the
7 days) before the run, so a late or repeated run reports the same lots.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from silicio.datadir import DataDir as DataDirectory
from silicio.datadir import default_data_dir

from .errors import fail, needs, reported_errors
from .options import DatabaseUrl, DataDir, acting_user, needs_database
from .render import console, print_table, stderr

if TYPE_CHECKING:
    from silicio.alerts import AlertConfig

app = typer.Typer(
    help="Alerts on ingested data: rules, the alerts raised, scheduled reports.", no_args_is_help=True
)

AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
AlertsFile = Annotated[
    Path | None,
    typer.Option(
        "--alerts", metavar="FILE", help="Alert rules file (default DATA/alerts.toml).", show_default=False
    ),
]


def rules_file(alerts: Path | None, data_dir: Path) -> Path | None:
    """``--alerts FILE``, else the data directory's ``alerts.toml`` when there, else None."""
    if alerts is not None:
        return alerts
    configured = DataDirectory(data_dir).alert_rules
    return configured if configured.is_file() else None


def load_rules(path: Path) -> AlertConfig:
    from silicio.alerts import AlertConfigError, load_config

    try:
        return load_config(path)
    except AlertConfigError as exc:
        raise fail(str(exc)) from None


def after_ingest(
    report, data_dir: Path, database_url: str | None, config: AlertConfig, quiet: bool = False
) -> bool:
    """Evaluate ``config`` on what ``report`` took in (actor ``ingest``) and print what fired;
    False when a rule could not be evaluated or a delivery failed (recorded either way)."""
    from silicio.alerts import context_of_ingest, evaluate, open_lake

    with open_lake(data_dir, database_url) as lake:
        result = evaluate(lake, config, context_of_ingest(lake, report), actor="ingest")
    for update in result.established:
        if update.version is not None:
            console.print(f"lot-history limits established: {escape(str(update.key))} version {update.version} "
                          f"from {len(update.lots)} lots, by ingest (review them: silicio limits show)",
                          highlight=False, soft_wrap=True)  # fmt: skip
    for row in result.raised:
        console.print(f"alert #{row['id']} \\[{escape(row['severity'])}] {escape(row['title'])}",
                      highlight=False, soft_wrap=True)  # fmt: skip
    failed = [d for d in result.deliveries if d.status != "sent"]
    for d in failed:
        stderr.print(f"alert not delivered: {d.channel} {escape(d.target)} after {d.attempts} attempt(s): "
                     f"{escape(d.error or '')}", highlight=False, soft_wrap=True)  # fmt: skip
    for error in result.errors:
        stderr.print(f"alert rule not evaluated: {escape(error)}", highlight=False, soft_wrap=True)
    if not quiet:
        console.print(f"alerts: {len(result.raised)} raised, {len(result.suppressed)} already sent "
                      f"(deduplicated), {len(result.deliveries) - len(failed)} delivered, {len(failed)} failed"
                      + (f"; lots held by the rules recorded: {', '.join(result.rule_holds)}" if result.rule_holds else ""),
                      highlight=False, soft_wrap=True)  # fmt: skip
    return not failed and not result.errors


@app.command("rules")
def rules_command(as_json: AsJson = False) -> None:
    """The registered alert rules (the ``kind`` of a rule in the file) and their parameters."""
    needs("lake", "silicio alerts rules")
    from silicio.alerts import registered_rules

    with reported_errors(ValueError):
        rules = registered_rules()
    rows = [
        {"kind": name, "title": rule.title, "parameters": rule.parameters} for name, rule in rules.items()
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    table = Table(title=f"{len(rows)} alert rule(s)", title_justify="left")
    for column in ("Kind", "What", "Parameters (defaults)"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r["kind"], escape(r["title"]), escape(json.dumps(r["parameters"])))
    print_table(console, table)


@app.command("check")
def check_command(file: Annotated[Path, typer.Argument(help="The alert rules file (TOML).")]) -> None:
    """Check an alert rules file: every rule, parameter, channel and recipient (exit 2 if wrong)."""
    needs("lake", "silicio alerts check")
    config = load_rules(file)
    console.print(f"{escape(str(file))}: {len(config.rules)} rule(s), {len(config.webhooks)} webhook(s), "
                  f"e-mail {'through ' + escape(config.smtp.host) if config.smtp else 'not configured'}: OK",
                  highlight=False, soft_wrap=True)  # fmt: skip


def _lake(data: Path | None, database_url: str | None, command: str):
    needs("lake", command)
    needs_database(command, database_url)
    from silicio.lake.query import Lake

    try:
        return Lake(data or default_data_dir(), database_url)
    except FileNotFoundError as exc:
        raise fail(str(exc)) from None


@app.command("list")
def list_command(
    data: DataDir = None,
    database_url: DatabaseUrl = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest alerts shown.")] = 50,
    as_json: AsJson = False,
) -> None:
    """The alerts raised, newest first, with how each was delivered and who acknowledged it."""
    from silicio.lake.queries import alerts as queries

    with _lake(data, database_url, "silicio alerts list") as lake:
        engine = lake.catalog.engine
        rows = queries.alert_rows(engine, limit=limit)
        sent = queries.deliveries(engine, [r["id"] for r in rows])
        acks = queries.acknowledgements(engine)
    for r in rows:
        r["deliveries"] = [{k: d[k] for k in ("channel", "target", "status", "attempts", "error")}
                           for d in sent if d["alert_id"] == r["id"]]  # fmt: skip
        r["acknowledged_by"] = [a["username"] for a in acks if a["alert_id"] == r["id"]]
    if as_json:
        typer.echo(json.dumps(rows, indent=1, default=str))
        return
    table = Table(title=f"{len(rows)} alert(s)", title_justify="left")
    for column in ("#", "Raised (UTC)", "Severity", "Rule", "What", "Delivered", "Acknowledged by"):
        table.add_column(column, overflow="fold")
    for r in rows:
        delivered = ", ".join(f"{d['channel']} {d['target']}: {d['status']}" for d in r["deliveries"])
        table.add_row(str(r["id"]), r["raised_at"].isoformat(timespec="seconds"), r["severity"], escape(r["rule"]),
                      escape(r["title"]), escape(delivered), escape(", ".join(r["acknowledged_by"])))  # fmt: skip
    print_table(console, table)


@app.command("ack")
def ack_command(
    alert_id: Annotated[int, typer.Argument(metavar="ID", help="The alert's number.")],
    actor: Annotated[
        str | None, typer.Option("--actor", help="Who acknowledges (default: your login name).")
    ] = None,
    data: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Acknowledge an alert (recorded with who and when)."""
    from silicio.lake.queries import alerts as queries

    who = acting_user(actor, "acknowledges the alert")
    with _lake(data, database_url, "silicio alerts ack") as lake:
        try:
            new = queries.acknowledge(lake.catalog.engine, alert_id, who)
        except LookupError as exc:
            raise fail(str(exc)) from None
    console.print(f"alert #{alert_id} {'acknowledged' if new else 'was already acknowledged'} by {escape(who)}",
                  highlight=False)  # fmt: skip


@app.command("report")
def report_command(
    kind: Annotated[
        str, typer.Argument(metavar="daily|weekly", help="daily lot summary or weekly yield report.")
    ],
    day: Annotated[
        str | None,
        typer.Option(
            "--day",
            metavar="YYYY-MM-DD",
            help="The day reported (weekly: its last day); default yesterday (UTC).",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", metavar="FILE", help="Write the HTML page here.")
    ] = None,
    send: Annotated[
        bool, typer.Option("--send", help="Send it to the rules file's [reports] recipients.")
    ] = False,
    alerts: AlertsFile = None,
    data: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Render the daily lot summary or the weekly yield report to HTML, and send it (--send)."""
    if kind not in ("daily", "weekly"):
        raise fail(f"report {kind!r}: expected daily or weekly")
    try:
        when = date.fromisoformat(day) if day is not None else None
    except ValueError:
        raise fail(f"--day {day!r}: expected a date YYYY-MM-DD") from None
    data_dir = data or default_data_dir()
    config = None
    if send:
        path = rules_file(alerts, data_dir)
        if path is None:
            raise fail(
                f"--send needs the recipients: --alerts FILE, or {DataDirectory(data_dir).alert_rules}"
            )
        config = load_rules(path)
    from silicio.alerts import reports

    with _lake(data, database_url, "silicio alerts report") as lake:
        report = (reports.daily_summary if kind == "daily" else reports.weekly_yield)(lake, when)
    if out is not None:
        with reported_errors():
            out.write_text(report.html, encoding="utf-8")
    console.print(f"{escape(report.title)}: {report.lots.height} lot(s), {len(report.alerts)} alert(s)"
                  + (f"; written to {escape(str(out))}" if out is not None else ""), highlight=False, soft_wrap=True)  # fmt: skip
    if config is None:
        return
    done = reports.send_report(config, report)
    failed = [d for d in done if d.status != "sent"]
    for d in done:
        console.print(f"{d.channel} {escape(d.target)}: {d.status}" + (f" ({escape(d.error or '')})" if d.error else ""),
                      highlight=False, soft_wrap=True)  # fmt: skip
    if not done:
        raise fail("the rules file names no [reports] recipients (webhooks or emails): nothing sent")
    if failed:
        raise typer.Exit(1)
