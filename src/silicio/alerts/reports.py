"""Scheduled reports: the daily lot summary and the weekly yield report, rendered to one
self-contained HTML page and sent through the alert channels (the rules file's ``[reports]``
recipients: webhooks get ``{"type": "report", "title", "period", "html"}``, e-mail the page as
its HTML part with a plain-text summary).

Run from cron (``silicio alerts report daily --send``); the period is the UTC day before the
run (daily) or the 7 UTC days before it (weekly), so a run at any time of the next day reports
the same lots.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import polars as pl

from .channels import Delivery, send_email, send_webhook
from .config import AlertConfig

__all__ = ["Report", "daily_summary", "send_report", "weekly_yield"]


@dataclass(frozen=True)
class Report:
    kind: str  # "daily" or "weekly"
    title: str
    since: datetime
    until: datetime
    lots: pl.DataFrame
    alerts: list[dict]
    html: str
    text: str


def _period(kind: str, day: date | None) -> tuple[datetime, datetime]:
    end_day = day + timedelta(days=1) if day is not None else datetime.now(UTC).date()
    until = datetime(end_day.year, end_day.month, end_day.day, tzinfo=UTC)
    return until - timedelta(days=1 if kind == "daily" else 7), until


def daily_summary(lake, day: date | None = None) -> Report:
    """The lots with a file ingested on UTC ``day`` (default yesterday): files, dies, first-pass
    and final yield; and the alerts raised that day."""
    since, until = _period("daily", day)
    return _report(lake, "daily", f"Daily lot summary {since.date().isoformat()}", since, until)


def weekly_yield(lake, last_day: date | None = None) -> Report:
    """The 7 UTC days ending with ``last_day`` (default yesterday): yield per product and stage
    (final good / dies over the lots), the lots, and the alerts raised."""
    since, until = _period("weekly", last_day)
    title = (
        f"Weekly yield report {since.date().isoformat()} to {(until - timedelta(days=1)).date().isoformat()}"
    )
    return _report(lake, "weekly", title, since, until)


def _report(lake, kind: str, title: str, since: datetime, until: datetime) -> Report:
    from silicio.lake.queries import alerts as queries

    lots = queries.lots_tested_between(lake, since, until)
    raised = queries.alert_rows(lake.catalog.engine, since=since, until=until)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
             "padding:2px 6px;text-align:right}td.t,th.t{text-align:left}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>",
             f"<p>Files ingested from {since.isoformat()} to {until.isoformat()} (UTC).</p>"]  # fmt: skip
    lines = [title, ""]
    if kind == "weekly" and lots.height:
        by_product = (lots.group_by("product", "stage", maintain_order=True)
                      .agg(pl.len().alias("lots"), pl.col("dies").sum(), pl.col("final_good").sum(),
                           pl.col("final_yield").min().alias("worst_lot_yield"))
                      .with_columns((pl.col("final_good") / pl.col("dies")).alias("yield")))  # fmt: skip
        parts.append("<h2>Yield per product and stage</h2>")
        parts.append(
            _table(by_product, ["product", "stage", "lots", "dies", "final_good", "yield", "worst_lot_yield"])
        )
        for r in by_product.iter_rows(named=True):
            lines.append(f"{r['product']} {r['stage']}: {r['lots']} lots, yield {_pct(r['yield'])}, "
                         f"worst lot {_pct(r['worst_lot_yield'])}")  # fmt: skip
    parts.append(f"<h2>Lots ({lots.height})</h2>")
    parts.append(
        _table(
            lots, ["product", "lot", "stage", "files", "dies", "first_pass_good", "final_good", "final_yield"]
        )
    )
    if kind == "daily":
        for r in lots.iter_rows(named=True):
            lines.append(
                f"{r['product']} {r['lot']} {r['stage']}: {r['dies']} dies, final yield {_pct(r['final_yield'])}"
            )
    parts.append(f"<h2>Alerts raised ({len(raised)})</h2><ul>")
    for a in raised:
        parts.append(f"<li>#{a['id']} [{html.escape(a['severity'])}] {html.escape(a['title'])} "
                     f"({html.escape(a['rule'])}, {a['raised_at'].isoformat()})</li>")  # fmt: skip
    parts.append("</ul></body></html>")
    lines += ["", f"{len(raised)} alert(s) raised"] + [
        f"#{a['id']} [{a['severity']}] {a['title']}" for a in raised
    ]
    return Report(kind, title, since, until, lots, raised, "\n".join(parts), "\n".join(lines) + "\n")


def _pct(value) -> str:
    return "-" if value is None else f"{value:.2%}"


def _table(frame: pl.DataFrame, columns: list[str]) -> str:
    text_columns = {"product", "lot", "stage"}
    head = "".join(f"<th class='{'t' if c in text_columns else ''}'>{html.escape(c)}</th>" for c in columns)
    rows = []
    for r in frame.iter_rows(named=True):
        cells = []
        for c in columns:
            v = r.get(c)
            shown = _pct(v) if "yield" in c else ("" if v is None else str(v))
            cells.append(f"<td class='{'t' if c in text_columns else ''}'>{html.escape(shown)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def send_report(config: AlertConfig, report: Report, *,
                sleep: Callable[[float], None] = time.sleep) -> list[Delivery]:  # fmt: skip
    """Send ``report`` to the ``[reports]`` webhooks and e-mail addresses of ``config``."""
    done = []
    payload = {"source": "silicio", "type": "report", "kind": report.kind, "title": report.title,
               "period": [report.since.isoformat(), report.until.isoformat()], "html": report.html}  # fmt: skip
    for hook in config.reports.webhooks:
        done.append(send_webhook(config.webhooks[hook], payload, sleep=sleep))
    if config.reports.emails and config.smtp is not None:
        done.append(send_email(config.smtp, list(config.reports.emails), f"[silicio] {report.title}", report.text,
                               report.html, sleep=sleep))  # fmt: skip
    return done
