"""Evaluating the configured rules on what an ingest brought in, and sending what fires.

For each rule of the file and each :class:`~silicio.alerts.base.Finding` it makes, the alert is
deduplicated against the catalog (the ``alerts`` table): the same rule and subject fire once; they
fire again only after the rule's quiet period and with changed evidence (the fingerprint: SHA-256 of
the finding's detail as canonical JSON). A new alert is stored with its actor (``ingest``, or the
user who ran the evaluation), then sent: it is in its users' and roles' dashboard inboxes from
being stored, and each webhook and e-mail is recorded as sent or failed in
``alert_deliveries`` (a failure never stops the ingest).

Before the rules run, a test program of an ingested lot without stored lot-history limits gets
its first version, when a rule judges against them and the lot, its newest, has six earlier lots
(:meth:`~silicio.alerts.base.AlertContext.establish_limits`: a write logged with the actor).

The lots the disposition rules hold are also recorded in the trace store's audit log
(:func:`silicio.trace.disposition.record_rule_holds`), so a shipment of one is refused until a
release is signed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from .base import AlertContext, Finding, QuarantinedFile, plain
from .channels import Delivery, send_email, send_webhook
from .config import AlertConfig, RuleConfig

#: The key of :attr:`Evaluation.cpu_seconds` for storing a program's first lot-history version.
ESTABLISHING = "(lot-history limits established)"

__all__ = [
    "ESTABLISHING",
    "Evaluation",
    "context_of_ingest",
    "deliver",
    "evaluate",
    "fingerprint",
    "open_lake",
]


@dataclass
class Evaluation:
    """What an evaluation did: the alerts stored (rows of ``alerts``), the findings left out and
    why, the deliveries, and the rules that could not be evaluated (rule name: error)."""

    raised: list[dict[str, Any]] = field(default_factory=list)
    suppressed: list[tuple[str, str, str]] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rule_holds: list[str] = field(default_factory=list)
    #: the first lot-history versions stored before the rules ran
    #: (:meth:`~silicio.alerts.base.AlertContext.establish_limits`; ``version`` None: not stored, why in its notes)
    established: list[Any] = field(default_factory=list)
    #: CPU seconds of each rule (the shared facts count to the first rule that asks for them)
    cpu_seconds: dict[str, float] = field(default_factory=dict)


def fingerprint(detail: dict[str, Any]) -> str:
    """SHA-256 of the detail as canonical JSON (sorted keys, no whitespace)."""
    text = json.dumps(
        plain(detail), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(text.encode()).hexdigest()


def open_lake(data_dir=None, database_url: str | None = None):
    """The lake to evaluate the rules on after an ingest (:class:`silicio.lake.query.Lake`), its
    catalog the process's kept one (:func:`silicio.alerts.ingested.kept_catalog`): a process that
    evaluates lot after lot creates no engine, checks no migrations, compiles no statement and
    opens no connection again. Close it as any lake (its catalog and connection are kept)."""
    from silicio.lake.layout import LakeLayout
    from silicio.lake.query import Lake

    from .ingested import kept_catalog

    return Lake(
        data_dir, database_url, catalog=kept_catalog(LakeLayout.at(data_dir).database_url(database_url))
    )


def context_of_ingest(lake, report) -> AlertContext:
    """The lots of the files an ingest (:class:`silicio.lake.IngestReport`) took in, and the files
    it quarantined; the rules read the catalog and the files the ingest wrote
    (:class:`~silicio.alerts.ingested.IngestedLots`), not the whole lake: the tables the ingest
    kept in memory (``silicio.lake.ingest(..., keep=KEPT_AT_INGEST)``) as they are (taken over:
    the report's ``tables`` are None after), the others from the files. ``lake`` is opened after
    the ingest."""
    from silicio.lake import INGESTED, PARTIAL, QUARANTINED

    from .ingested import IngestedLots

    taken = [o for o in report.outcomes if o.status in (INGESTED, PARTIAL) and o.sha256]
    # the tables the ingest kept in memory (``keep=KEPT_AT_INGEST``): not read again, and taken
    # over from the report (freed with the context, not held while the next file is ingested)
    holding = [o for o in taken if getattr(o, "tables", None)]
    kept = {o.sha256: o.tables for o in holding}
    for o in holding:
        o.tables = None
    ingested = IngestedLots.of(lake, [o.sha256 for o in taken], kept)
    quarantined = [QuarantinedFile(o.path, o.sha256, str(o.issues[0]) if o.issues else (o.message or "unreadable"))
                   for o in report.outcomes if o.status == QUARANTINED]  # fmt: skip
    return AlertContext(lake, ingested.lots(), quarantined, ingested)


def evaluate(lake, config: AlertConfig, context: AlertContext, *, actor: str = "ingest", send: bool = True,
             now: datetime | None = None, sleep: Callable[[float], None] = time.sleep,
             record_holds: bool = True) -> Evaluation:  # fmt: skip
    """Run every rule of ``config`` on ``context``, store and send what fires (see the module notes)."""
    if not actor or not actor.strip():
        raise ValueError("an alert evaluation names its actor ('ingest' or the user)")
    now = now or datetime.now(UTC)
    # at ingest the process's kept catalog (its statements compiled once a process), else the lake's
    catalog = context.ingested.catalog if context.ingested is not None else lake.catalog
    return _evaluate(lake, catalog, config, context, actor, send, now, sleep, record_holds)


def _evaluate(lake, catalog, config: AlertConfig, context: AlertContext, actor: str, send: bool, now: datetime,
              sleep: Callable[[float], None], record_holds: bool) -> Evaluation:  # fmt: skip
    from silicio.lake.queries import alerts as queries

    engine = catalog.engine
    out = Evaluation()
    found = []
    if context.lot_keys() and any(rule.rule.reads_lot_history for rule in config.rules):
        start = time.process_time()
        try:
            out.established = context.establish_limits(actor)
        except Exception as exc:  # the rules still run, judging against the history as it is
            out.errors.append(f"lot-history limits not established: {type(exc).__name__}: {exc}")
        if out.established:
            out.cpu_seconds[ESTABLISHING] = time.process_time() - start
    for rule in config.rules:
        start = time.process_time()
        try:
            found += [(rule, finding) for finding in rule.rule.evaluate(context, rule.params)]
        except Exception as exc:  # a plugin's failure is reported with its name; the other rules still run
            out.errors.append(f"rule {rule.name} ({rule.kind}): {type(exc).__name__}: {exc}")
            continue
        finally:
            out.cpu_seconds[rule.name] = time.process_time() - start
    for rule, stored in _store(engine, queries, found, actor, now, out):
        if send:
            out.deliveries += deliver(lake, config, rule, stored, sleep=sleep, catalog=catalog)
    if record_holds and context.lot_keys():
        try:
            out.rule_holds = _record_holds(lake, catalog, context, actor)
        except Exception as exc:  # the alerts are stored and sent; say what was not recorded
            out.errors.append(f"rule holds not recorded in the trace store: {type(exc).__name__}: {exc}")
    return out


def _store(engine, queries, found: list[tuple[RuleConfig, Finding]], actor: str, now: datetime,
           out: Evaluation) -> list[tuple[RuleConfig, dict[str, Any]]]:  # fmt: skip
    """Store the findings that fire, in order, each against the newest alert of its rule and
    subject (the catalog's, read in one statement, or one stored just before it); the stored
    rows (``alerts`` rows with their ids), inserted in one transaction."""
    latest = queries.last_alerts(engine, [(rule.name, f.subject) for rule, f in found]) if found else {}
    stored: list[tuple[RuleConfig, dict[str, Any]]] = []
    pending: list[tuple[RuleConfig, dict[str, Any]]] = []
    for rule, finding in found:
        key = (rule.name, finding.subject)
        # about a subject an alert pending fired on: that one stored first (its id named if this one is left out)
        if any(key == (r.name, row["subject"]) for r, row in pending):
            stored += _inserted(engine, queries, pending)
            pending = []
        detail = plain(finding.detail)
        digest = fingerprint(detail)
        last = latest.get(key)
        if last is not None:
            if now - last["raised_at"] < rule.quiet_period:
                out.suppressed.append((rule.name, finding.subject, f"quiet period (alert #{last['id']})"))
                continue
            if last["fingerprint"] == digest:
                out.suppressed.append((rule.name, finding.subject, f"same evidence as alert #{last['id']}"))
                continue
        row = {"rule": rule.name, "kind": rule.kind, "subject": finding.subject, "severity": rule.severity,
               "title": finding.title, "detail": detail, "fingerprint": digest, "product": finding.product,
               "lot": finding.lot, "stage": finding.stage, "recipients": rule.recipients.as_dict(),
               "raised_at": now, "actor": actor.strip()}  # fmt: skip
        pending.append((rule, row))
        latest[key] = row
    stored += _inserted(engine, queries, pending)
    out.raised += [row for _, row in stored]
    return stored


def _inserted(engine, queries, pending: list[tuple[RuleConfig, dict]]) -> list[tuple[RuleConfig, dict]]:
    """``pending`` stored in one transaction, each row with its id."""
    ids = queries.insert_alerts(engine, [row for _, row in pending]) if pending else []
    for (_, row), alert_id in zip(pending, ids, strict=True):
        row["id"] = alert_id
    return pending


def alert_payload(row: dict[str, Any]) -> dict[str, Any]:
    """The JSON a webhook receives for an alert."""
    keys = (
        "id",
        "rule",
        "kind",
        "severity",
        "subject",
        "title",
        "detail",
        "product",
        "lot",
        "stage",
        "actor",
    )
    return {"source": "silicio", "type": "alert",
            "alert": {**{k: row.get(k) for k in keys}, "raised_at": row["raised_at"].isoformat()}}  # fmt: skip


def deliver(lake, config: AlertConfig, rule: RuleConfig, row: dict[str, Any], *,
            sleep: Callable[[float], None] = time.sleep, catalog=None) -> list[Delivery]:  # fmt: skip
    """Send stored alert ``row`` to the rule's webhooks and e-mail addresses; record each outcome
    (in ``catalog``, default the lake's)."""
    from silicio.lake.queries import alerts as queries

    done = []
    for hook in rule.recipients.webhooks:
        done.append(send_webhook(config.webhooks[hook], alert_payload(row), sleep=sleep))
    if rule.recipients.emails and config.smtp is not None:
        text = (f"{row['title']}\n\nrule {row['rule']} ({row['kind']}), severity {row['severity']}\n"
                f"subject {row['subject']}\nraised {row['raised_at'].isoformat()} by {row['actor']}\n\n"
                f"{json.dumps(row['detail'], indent=1, sort_keys=True)}\n")  # fmt: skip
        done.append(send_email(config.smtp, list(rule.recipients.emails),
                               f"[silicio {row['severity']}] {row['title']}", text, sleep=sleep))  # fmt: skip
    engine = (catalog or lake.catalog).engine
    for d in done:
        queries.insert_delivery(engine, row["id"], d.channel, d.target, d.status, d.attempts, d.error)
    return done


_TRACE_STORES_MIGRATED: set[str] = set()


def _record_holds(lake, catalog, context: AlertContext, actor: str) -> list[str]:
    holds = [h.as_dict() for h in context.holds().holds]
    if not holds:
        return []
    # the trace store (its ORM models, users and roles) loads only when a lot is held: most
    # ingests hold none, and in a `silicio ingest` process the import costs more than the rules
    import sqlalchemy as sa

    from silicio.trace import disposition
    from silicio.trace.store import TraceStore

    url = lake.catalog.url
    # migrated (its tables made or checked) once a process and database, not at every held lot;
    # on the evaluation's catalog's engine (at ingest the kept one: its statements compiled once)
    store = TraceStore(url, data_dir=lake.layout.root, migrate=url not in _TRACE_STORES_MIGRATED,
                       engine=catalog.engine if catalog.url == url else None)  # fmt: skip
    try:
        try:
            recorded = disposition.record_rule_holds(store, holds, actor)
        except sa.exc.DBAPIError:
            if url not in _TRACE_STORES_MIGRATED:
                raise
            store.upgrade()  # its tables gone since (a database made again): make them, once more
            recorded = disposition.record_rule_holds(store, holds, actor)
        _TRACE_STORES_MIGRATED.add(url)
        return recorded
    finally:
        store.close()


def lots_frame(keys: list[tuple[str | None, str, str]]) -> pl.DataFrame:
    """An :class:`AlertContext`'s ``lots`` from (product, lot, stage) keys (tests and re-evaluations)."""
    return pl.DataFrame(
        keys, schema={"product": pl.String, "lot": pl.String, "stage": pl.String}, orient="row"
    )
