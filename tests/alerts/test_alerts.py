"""The alerts' parts: the rules file (and its errors), the plugin registry (a rule of another
package, used from a file), deduplication and the quiet period, webhooks (HMAC, retries with
backoff, failures recorded), e-mail, the site-drift statistic by hand, the quarantine rule through
``silicio ingest --alerts`` and the scheduled reports."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from typer.testing import CliRunner

from silicio import lake as silicio_lake
from silicio.alerts import (
    AlertConfigError,
    AlertContext,
    AlertRule,
    Finding,
    evaluate,
    example_path,
    load_config,
    loads_config,
    registered_rules,
)
from silicio.alerts.channels import send_email, send_webhook, verify_signature
from silicio.alerts.config import SmtpChannel, WebhookChannel
from silicio.alerts.rules import two_proportion_z
from silicio.cli import app
from silicio.lake.queries import alerts as queries
from silicio.lake.query import Lake
from tests.alerts.conftest import wait_for
from tests.lake.conftest import register_entry_point

runner = CliRunner()
ENV = {"NO_COLOR": "1", "COLUMNS": "200"}


# -- the rules file


def test_the_shipped_example_is_valid_and_names_every_builtin_rule():
    config = load_config(example_path())
    assert {r.kind for r in config.rules} == set(registered_rules()) >= {
        "yield_below_syl", "bin_above_sbl", "pat_outlier_rate", "spc_violation", "spatial_signature",
        "quarantined_file", "site_drift"}  # fmt: skip
    syl = next(r for r in config.rules if r.name == "syl")
    assert syl.params == {"level": "SYL1", "include_final_yield": True}
    assert syl.quiet_period == timedelta(hours=8) and syl.recipients.webhooks == ("mes",)
    assert config.smtp.host == "localhost" and config.webhooks["mes"].secret_env == "SILICIO_WEBHOOK_SECRET"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[rule]]\nname = "a"\nkind = "nope"', "rule 'a': kind 'nope' is no registered alert rule"),
        ('[[rule]]\nname = "a"\nkind = "site_drift"\n[rule.params]\nzz = 1', "unknown parameter(s) zz of site_drift"),
        ('[[rule]]\nname = "a"\nkind = "site_drift"\n[rule.params]\nz = "big"', "params.z must be a float"),
        ('[[rule]]\nname = "a"\nkind = "yield_below_syl"\n[rule.params]\nlevel = "SBL1"', "level must be one of SYL1, SYL2"),
        ('[[rule]]\nname = "a"\nkind = "quarantined_file"\nwebhooks = ["x"]', "webhook 'x' is not defined"),
        ('[[rule]]\nname = "a"\nkind = "quarantined_file"\nemails = ["q@x"]', "need an [smtp] table"),
        ('[alerts]\nquiet_period = "soon"', "[alerts] quiet_period: expected a duration"),
        ('[[rule]]\nname = "a"\nkind = "quarantined_file"\n[[rule]]\nname = "a"\nkind = "quarantined_file"',
         "name 'a' is used twice"),
        ("[alerts\n", "not valid TOML"),
        ('[webhooks.w]\nurl = "ftp://x"\nsecret_env = "S"', "url must start with http"),
    ],
)  # fmt: skip
def test_a_wrong_rules_file_names_the_file_and_the_key(text, message):
    with pytest.raises(AlertConfigError) as caught:
        loads_config(text, "rules.toml")
    assert str(caught.value).startswith("rules.toml") and message in str(caught.value)


def test_alerts_check_reports_a_wrong_file_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nname = "a"\nkind = "nope"\n')
    result = runner.invoke(app, ["alerts", "check", str(bad)], env=ENV)
    assert result.exit_code == 2 and "kind 'nope'" in result.output and "Traceback" not in result.output
    good = runner.invoke(app, ["alerts", "check", str(example_path())], env=ENV)
    assert good.exit_code == 0 and "7 rule(s)" in good.output


# -- a rule of another package, deduplication, the quiet period


class EveryLotRule(AlertRule):
    """Fires for every ingested lot, its evidence the parameter ``tag`` (so a test changes it)."""

    name = "every_lot"
    title = "Every lot"
    parameters = {"tag": "a"}

    def evaluate(self, context: AlertContext, params):
        return [Finding(subject=f"{lot}/{stage}", title=f"lot {lot}", detail={"tag": params["tag"]}, lot=lot)
                for _, lot, stage in context.lot_keys()]  # fmt: skip


def _plugin_rules(tag: str, quiet: str = "1h") -> str:
    return f'[alerts]\nquiet_period = "{quiet}"\n[[rule]]\nname = "each"\nkind = "every_lot"\nusers = ["u"]\n' \
           f'[rule.params]\ntag = "{tag}"\n'  # fmt: skip


def _lake_with_a_lot(tmp_path):
    from tests.lake.test_history import LOTS, write_history_lot

    data = tmp_path / "data"
    assert silicio_lake.ingest([str(write_history_lot(tmp_path / "a.stdf", LOTS[0]))], data, workers=1).ok
    return data, LOTS[0]


def test_a_plugin_rule_fires_once_per_subject_and_again_only_after_the_quiet_period_with_new_evidence(
    tmp_path, monkeypatch
):
    register_entry_point(monkeypatch, tmp_path / "plugins", "silicio.alert_rules", "every_lot",
                         f"{__name__}:EveryLotRule")  # fmt: skip
    assert isinstance(registered_rules()["every_lot"], EveryLotRule)
    data, lot = _lake_with_a_lot(tmp_path)
    t0 = datetime(2026, 3, 1, 6, tzinfo=UTC)
    with Lake(data) as lake:
        context = AlertContext(
            lake, pl.DataFrame({"product": ["HX100-Q1"], "lot": [lot], "stage": ["wafer_sort"]})
        )
        first = evaluate(
            lake, loads_config(_plugin_rules("a")), context, actor="jlopez", now=t0, record_holds=False
        )
        assert [(r["rule"], r["subject"], r["actor"]) for r in first.raised] == [
            ("each", f"{lot}/wafer_sort", "jlopez")
        ]
        # within the quiet period, even with new evidence: nothing
        soon = evaluate(lake, loads_config(_plugin_rules("b")), context, now=t0 + timedelta(minutes=59),
                        record_holds=False)  # fmt: skip
        assert soon.raised == [] and "quiet period" in soon.suppressed[0][2]
        # after it, the same evidence: nothing; changed evidence: fires again
        same = evaluate(
            lake, loads_config(_plugin_rules("a")), context, now=t0 + timedelta(hours=2), record_holds=False
        )
        assert same.raised == [] and "same evidence" in same.suppressed[0][2]
        changed = evaluate(lake, loads_config(_plugin_rules("b")), context, now=t0 + timedelta(hours=2),
                           record_holds=False)  # fmt: skip
        assert [r["detail"] for r in changed.raised] == [{"tag": "b"}]
        stored = queries.alert_rows(lake.catalog.engine)
    assert [(r["id"], r["detail"]["tag"]) for r in stored] == [(2, "b"), (1, "a")]
    expected = hashlib.sha256(json.dumps({"tag": "a"}, separators=(",", ":")).encode()).hexdigest()
    assert stored[1]["fingerprint"] == expected


def test_a_failing_rule_is_reported_and_the_others_still_run(tmp_path, monkeypatch):
    class Broken(EveryLotRule):
        name = "broken"

        def evaluate(self, context, params):
            raise RuntimeError("plugin bug")

    monkeypatch.setattr("tests.alerts.test_alerts.Broken", Broken, raising=False)
    folder = tmp_path / "plugins"
    register_entry_point(monkeypatch, folder, "silicio.alert_rules", "broken", f"{__name__}:Broken")
    register_entry_point(monkeypatch, folder, "silicio.alert_rules", "every_lot", f"{__name__}:EveryLotRule")
    data, lot = _lake_with_a_lot(tmp_path)
    text = _plugin_rules("a") + '[[rule]]\nname = "bad"\nkind = "broken"\n'
    with Lake(data) as lake:
        context = AlertContext(
            lake, pl.DataFrame({"product": ["HX100-Q1"], "lot": [lot], "stage": ["wafer_sort"]})
        )
        result = evaluate(lake, loads_config(text), context, record_holds=False)
    assert len(result.raised) == 1 and result.errors == ["rule bad (broken): RuntimeError: plugin bug"]


class TaggedRule(AlertRule):
    """Fires once per tag of ``tags`` for every ingested lot, each about the lot: findings of one
    evaluation about the same subject."""

    name = "tagged"
    title = "Tagged"
    parameters = {"tags": ["a"]}

    def evaluate(self, context: AlertContext, params):
        return [Finding(subject=f"{lot}/{stage}", title=f"lot {lot}", detail={"tag": tag}, lot=lot)
                for _, lot, stage in context.lot_keys() for tag in params["tags"]]  # fmt: skip


def test_findings_of_one_evaluation_about_one_subject_are_deduplicated_as_if_stored_one_by_one(
    tmp_path, monkeypatch
):
    """An evaluation reads the newest alert of its subjects at once and stores its alerts
    together; a finding about a subject that an earlier finding of the same evaluation fired on is
    held to that alert (its quiet period, its evidence), as to a stored one."""
    register_entry_point(
        monkeypatch, tmp_path / "plugins", "silicio.alert_rules", "tagged", f"{__name__}:TaggedRule"
    )
    data, lot = _lake_with_a_lot(tmp_path)
    ours, other = f"{lot}/wafer_sort", "OTHER/wafer_sort"
    t0 = datetime(2026, 3, 1, 6, tzinfo=UTC)

    def rules(tags: list[str], quiet: str) -> str:
        return f'[alerts]\nquiet_period = {quiet}\n[[rule]]\nname = "t"\nkind = "tagged"\nusers = ["u"]\n' \
               f"[rule.params]\ntags = {json.dumps(tags)}\n"  # fmt: skip

    with Lake(data) as lake:
        context = AlertContext(lake, pl.DataFrame({"product": ["HX100-Q1"] * 2, "lot": [lot, "OTHER"],
                                                   "stage": ["wafer_sort"] * 2}))  # fmt: skip
        first = evaluate(lake, loads_config(rules(["a", "b"], '"1h"')), context, now=t0, record_holds=False)
        # no quiet period: the same evidence as the alert just stored is left out, other evidence fires
        later = evaluate(lake, loads_config(rules(["c", "c", "d"], "0")), context, now=t0 + timedelta(hours=2),
                         record_holds=False)  # fmt: skip
        stored = {
            (r["subject"], r["detail"]["tag"]): r["id"] for r in queries.alert_rows(lake.catalog.engine)
        }
    assert sorted(stored.values()) == [1, 2, 3, 4, 5, 6]
    assert [(r["id"], r["subject"], r["detail"]["tag"]) for r in first.raised + later.raised] == [
        (stored[ours, "a"], ours, "a"), (stored[other, "a"], other, "a"), (stored[ours, "c"], ours, "c"),
        (stored[ours, "d"], ours, "d"), (stored[other, "c"], other, "c"), (stored[other, "d"], other, "d")]  # fmt: skip
    assert first.suppressed == [("t", ours, f"quiet period (alert #{stored[ours, 'a']})"),
                                ("t", other, f"quiet period (alert #{stored[other, 'a']})")]  # fmt: skip
    assert later.suppressed == [("t", ours, f"same evidence as alert #{stored[ours, 'c']}"),
                                ("t", other, f"same evidence as alert #{stored[other, 'c']}")]  # fmt: skip


# -- channels


def test_webhook_is_signed_retried_with_exponential_backoff_and_delivered(webhook, monkeypatch):
    url, received = webhook
    received.fail_first = 2
    monkeypatch.setenv("HOOK_SECRET", "k3y")
    waits = []
    done = send_webhook(WebhookChannel("qa", url, "HOOK_SECRET", attempts=4, backoff_s=0.5), {"a": 1},
                        sleep=waits.append)  # fmt: skip
    assert (done.status, done.attempts, done.error) == ("sent", 3, None)
    assert waits == [0.5, 1.0]  # 0.5 s, then twice that
    headers, body = received.requests[-1]
    assert body == b'{"a":1}'
    assert headers["x-silicio-signature"] == "sha256=" + hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert verify_signature(body, b"k3y", headers["x-silicio-signature"])
    assert not verify_signature(body + b" ", b"k3y", headers["x-silicio-signature"])


def test_a_webhook_that_stays_down_is_a_failed_delivery_not_an_exception(webhook, monkeypatch):
    url, received = webhook
    received.fail_first = 10
    monkeypatch.setenv("HOOK_SECRET", "k3y")
    waits = []
    done = send_webhook(
        WebhookChannel("qa", url, "HOOK_SECRET", attempts=3, backoff_s=2.0), {}, sleep=waits.append
    )
    assert (done.status, done.attempts) == ("failed", 3) and "500" in done.error
    assert waits == [2.0, 4.0] and len(received.requests) == 3
    monkeypatch.delenv("HOOK_SECRET")
    unset = send_webhook(WebhookChannel("qa", url, "HOOK_SECRET"), {}, sleep=waits.append)
    assert unset.status == "failed" and "HOOK_SECRET" in unset.error and len(received.requests) == 3


def test_email_reaches_the_local_smtp_server(smtp_server):
    port, mailbox = smtp_server
    done = send_email(SmtpChannel("127.0.0.1", port, "silicio@fab.test"), ["a@fab.test", "b@fab.test"],
                      "subject line", "text body\n.leading dot\n", "<p>html</p>")  # fmt: skip
    assert done.status == "sent", done.error
    wait_for(lambda: len(mailbox.messages) == 1, "the e-mail")
    sender, to, message = mailbox.messages[0]
    assert (
        sender == "silicio@fab.test"
        and to == ["a@fab.test", "b@fab.test"]
        and message["Subject"] == "subject line"
    )
    text, html = (
        part.get_payload(decode=True).decode() for part in message.walk() if not part.is_multipart()
    )
    assert ".leading dot" in text and "<p>html</p>" in html


def test_an_unreachable_smtp_server_is_a_failed_delivery(smtp_server):
    port, _ = smtp_server
    import socket

    with socket.socket() as probe:  # a port nobody listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
        done = send_email(SmtpChannel("127.0.0.1", closed, attempts=2, backoff_s=0), ["a@x"], "s", "t",
                          sleep=lambda s: None)  # fmt: skip
    assert (done.status, done.attempts) == ("failed", 2) and "ConnectionRefused" in done.error


# -- rules


def test_two_proportion_z_against_a_hand_computation():
    # 45 good of 50 vs 160 good of 200: p = 205/250 = 0.82, se = sqrt(0.82*0.18*(1/50+1/200)) = 0.0607454,
    # z = 0.1 / 0.0607454 = 1.646216
    z = two_proportion_z(45, 50, 160, 200)
    assert z == pytest.approx((0.9 - 0.8) / math.sqrt(0.82 * 0.18 * 0.025), rel=1e-12)
    assert z == pytest.approx(1.646216, rel=1e-6)
    assert two_proportion_z(5, 5, 7, 7) == 0.0  # no spread: no evidence


def test_quarantined_file_fires_through_ingest_with_the_data_directorys_rules(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "alerts.toml").write_text('[[rule]]\nname = "q"\nkind = "quarantined_file"\nusers = ["admin1"]\n')
    junk = tmp_path / "junk.stdf"
    junk.write_bytes(b"\x02\x00\x00\x0a" + b"not an stdf file at all")
    result = runner.invoke(app, ["ingest", str(junk), "--data", str(data), "--workers", "1"], env=ENV)
    assert result.exit_code == 1  # the file was quarantined
    assert "alert #1" in result.output and "quarantined" in result.output
    listed = json.loads(runner.invoke(app, ["alerts", "list", "--json", "--data", str(data)], env=ENV).stdout)
    assert [(a["rule"], a["detail"]["path"], a["actor"]) for a in listed] == [("q", str(junk), "ingest")]
    ack = runner.invoke(app, ["alerts", "ack", "1", "--actor", "admin1", "--data", str(data)], env=ENV)
    assert ack.exit_code == 0 and "acknowledged by admin1" in ack.output
    listed = json.loads(runner.invoke(app, ["alerts", "list", "--json", "--data", str(data)], env=ENV).stdout)
    assert listed[0]["acknowledged_by"] == ["admin1"]


def test_daily_and_weekly_reports_render_and_are_sent(tmp_path, webhook, smtp_server, monkeypatch):
    from tests.lake.test_history import LOTS, lot_yield, write_history_lot

    url, received = webhook
    port, mailbox = smtp_server
    data = tmp_path / "data"
    assert silicio_lake.ingest([str(write_history_lot(tmp_path / f"{lot}.stdf", lot)) for lot in LOTS[:2]], data,
                               workers=1).ok  # fmt: skip
    rules = tmp_path / "alerts.toml"
    rules.write_text(f'[smtp]\nhost = "127.0.0.1"\nport = {port}\n[webhooks.w]\nurl = "{url}"\nsecret_env = "RS"\n'
                     f'[reports]\nemails = ["y@fab.test"]\nwebhooks = ["w"]\n')  # fmt: skip
    today = datetime.now(UTC).date().isoformat()
    out = tmp_path / "daily.html"
    result = runner.invoke(app, ["alerts", "report", "daily", "--day", today, "--out", str(out), "--send", "--alerts",
                                 str(rules), "--data", str(data)], env={**ENV, "RS": "sek"})  # fmt: skip
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert LOTS[0] in page and LOTS[1] in page and f"{lot_yield(LOTS[0]):.2%}" in page
    wait_for(
        lambda: len(received.requests) == 1 and len(mailbox.messages) == 1, "the report on both channels"
    )
    headers, body = received.requests[0]
    assert verify_signature(body, b"sek", headers["x-silicio-signature"])
    assert json.loads(body)["type"] == "report" and json.loads(body)["html"] == page
    weekly = runner.invoke(app, ["alerts", "report", "weekly", "--day", today, "--data", str(data)], env=ENV)
    assert weekly.exit_code == 0 and "2 lot(s)" in weekly.output
    yesterday = runner.invoke(
        app, ["alerts", "report", "daily", "--day", "2001-01-01", "--data", str(data)], env=ENV
    )
    assert "0 lot(s)" in yesterday.output
