"""Issue 18's end-to-end check: a lot that breaks a rule is ingested with alerts -> the alert
reaches a test webhook receiver (HMAC verified here with hmac/hashlib) and a local SMTP server,
once (ingesting again and evaluating again send nothing); the lot appears held and cannot ship;
an engineer cannot sign; a quality user releases it with a signature; ``audit verify`` shows the
signed decision; then the lot ships.

The lots are the lot history of tests/lake/test_history.py: six lots near 90 % yield, the seventh
(HX0007) at half that, below SYL1 and SYL2 of the six before it (checked there by hand)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from typer.testing import CliRunner

from silicio import lake as silicio_lake
from silicio.alerts import context_of_ingest, evaluate, load_config
from silicio.auth import AuthStore, PasswordCost
from silicio.cli import app
from silicio.lake.query import Lake
from silicio.trace.genealogy import GenealogyError
from silicio.trace.store import TraceStore
from tests.alerts.conftest import wait_for
from tests.lake.test_history import LOTS, lot_yield, write_history_lot

runner = CliRunner()
PASSWORD = "correct horse battery staple"
SECRET = "s3cret-for-the-test-receiver"
HELD = LOTS[6]


def _rules(path, url, smtp_port):
    path.write_text(f"""
[alerts]
quiet_period = "8h"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
sender = "silicio@fab.test"
attempts = 1

[webhooks.qa]
url = "{url}"
secret_env = "TEST_ALERT_SECRET"
backoff_s = 0

[[rule]]
name = "syl"
kind = "yield_below_syl"
severity = "critical"
roles = ["quality"]
emails = ["qa@fab.test"]
webhooks = ["qa"]
[rule.params]
level = "SYL2"
""")
    return path


def _sign(data, step, user, env, *extra):
    return runner.invoke(app, ["disposition", "decide", HELD, "--step", step, "--reason", f"{step}: checked",
                               "--as", user, "--password-stdin", "--json", "--data", str(data), *extra],
                         input=PASSWORD + "\n", env=env)  # fmt: skip


def _ship(lot):
    return [(("lot", lot), ("wafer", f"{lot}-01")), (("wafer", f"{lot}-01"), ("die", f"{lot}-01-D1")),
            (("die", f"{lot}-01-D1"), ("unit", f"U-{lot}")), (("unit", f"U-{lot}"), ("reel", f"R-{lot}")),
            (("reel", f"R-{lot}"), ("shipment", f"SH-{lot}"))]  # fmt: skip


def test_a_lot_breaking_a_rule_alerts_once_is_held_and_released_with_a_signature(tmp_path, webhook, smtp_server,
                                                                                   monkeypatch):  # fmt: skip
    url, received = webhook
    port, mailbox = smtp_server
    env = {"NO_COLOR": "1", "COLUMNS": "200", "TEST_ALERT_SECRET": SECRET}
    monkeypatch.setenv("TEST_ALERT_SECRET", SECRET)
    files = [write_history_lot(tmp_path / f"{lot}.stdf", lot) for lot in LOTS]
    data = tmp_path / "data"
    assert silicio_lake.ingest([str(f) for f in files[:6]], data, workers=1).ok
    with AuthStore.at(data, password_cost=PasswordCost(iterations=1, lanes=1, memory_kib=8)) as accounts:
        accounts.add_user("qmaria", "quality", PASSWORD, actor="test")
        accounts.add_user("eana", "engineer", PASSWORD, actor="test")
    rules = _rules(tmp_path / "alerts.toml", url, port)

    result = runner.invoke(app, ["ingest", str(files[6]), "--alerts", str(rules), "--data", str(data),
                                 "--workers", "1"], env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "alert #1 [critical] lot HX0007" in result.output and "alerts: 1 raised" in result.output

    wait_for(lambda: len(received.requests) >= 1 and len(mailbox.messages) >= 1, "the webhook and the e-mail")
    ((headers, body),) = received.requests
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-silicio-signature"] == expected
    alert = json.loads(body)["alert"]
    assert (alert["rule"], alert["lot"], alert["severity"], alert["actor"]) == (
        "syl",
        HELD,
        "critical",
        "ingest",
    )
    syl = [r for r in alert["detail"]["reasons"] if r["rule"] == "aec_q002_syl"]
    assert syl and all(r["evidence"]["value"] == pytest.approx(lot_yield(HELD)) for r in syl if
                       r["evidence"].get("wafer_id") is None)  # fmt: skip
    ((sender, to, message),) = mailbox.messages
    assert sender == "silicio@fab.test" and to == ["qa@fab.test"]
    assert HELD in message["Subject"] and message["Subject"].startswith("[silicio critical]")

    # Once: the same file again (skipped), and a second evaluation of the lot, send nothing more.
    again = runner.invoke(app, ["ingest", str(files[6]), "--alerts", str(rules), "--data", str(data),
                                "--workers", "1", "--quiet"], env=env)  # fmt: skip
    assert again.exit_code == 0, again.output
    with Lake(data) as lake:
        context = context_of_ingest(lake, silicio_lake.IngestReport([], silicio_lake.Recovery(), 0.0))
        context.lots = context.lots.vstack(
            __import__("polars").DataFrame({"product": ["HX100-Q1"], "lot": [HELD], "stage": ["wafer_sort"]})
        )
        second = evaluate(lake, load_config(rules), context, actor="test")
    assert second.raised == [] and [s[:2] for s in second.suppressed] == [
        ("syl", f"HX100-Q1/{HELD}/wafer_sort")
    ]
    assert len(received.requests) == 1 and len(mailbox.messages) == 1

    # Stored with its actor, delivered on both channels.
    listed = runner.invoke(app, ["alerts", "list", "--json", "--data", str(data)], env=env)
    (row,) = json.loads(listed.stdout)
    assert row["actor"] == "ingest" and row["lot"] == HELD
    assert sorted((d["channel"], d["status"]) for d in row["deliveries"]) == [
        ("email", "sent"),
        ("webhook", "sent"),
    ]

    # Held: in the disposition queue, and no shipment of it.
    queue = runner.invoke(app, ["disposition", "queue", "--json", "--data", str(data)], env=env)
    assert [(r["lot_id"], r["state"]) for r in json.loads(queue.stdout)] == [(HELD, "held_by_rules")]
    with (
        TraceStore.at(data) as store,
        pytest.raises(GenealogyError, match=f"lot {HELD}, which is held by the"),
    ):
        store.add_genealogy(_ship(HELD), actor="test")

    # An engineer cannot sign; the quality user holds, reviews and releases with signatures.
    refused = _sign(data, "hold", "eana", env)
    assert refused.exit_code != 0 and "role engineer" in refused.output and "Traceback" not in refused.output
    for step in ("hold", "review", "release"):
        signed = _sign(data, step, "qmaria", env)
        assert signed.exit_code == 0, signed.output
    release = json.loads(signed.stdout)
    assert release["state"] == "released" and release["signature"]["printed_name"] == "qmaria"
    verify = runner.invoke(app, ["audit", "verify", "--data", str(data)], env=env)
    assert verify.exit_code == 0, verify.output
    assert "3 signed lot disposition step(s)" in verify.output

    with TraceStore.at(data) as store:
        store.add_genealogy(_ship(HELD), actor="test")  # released: it ships
        assert store.verify_audit().ok
