"""``silicio disposition``: a lot the rules hold (the seventh history lot, at half yield) is held,
reviewed and released by a quality user who signs with a password; an engineer cannot; ``silicio
audit verify`` shows the signed steps and catches an edited decision."""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from typer.testing import CliRunner

from silicio import lake as silicio_lake
from silicio.auth import AuthStore, PasswordCost
from silicio.cli import app
from silicio.trace.store import AUDIT, TraceStore
from tests.lake.test_history import LOTS, write_history_lot

runner = CliRunner()
ENV = {"NO_COLOR": "1", "COLUMNS": "200"}
PASSWORD = "correct horse battery staple"
HELD = LOTS[6]


def _sha(obj) -> str:
    return hashlib.sha256(
        json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()


def _sign(data, lot, step, user, password, reason="checked", *extra):
    return runner.invoke(app, ["disposition", "decide", lot, "--step", step, "--reason", reason, "--as", user,
                               "--password-stdin", "--json", "--data", str(data), *extra],
                         input=password + "\n", env=ENV)  # fmt: skip


def test_held_lot_signed_through_hold_review_release(tmp_path):
    files = [write_history_lot(tmp_path / f"{lot}.stdf", lot) for lot in LOTS]
    data = tmp_path / "data"
    assert silicio_lake.ingest([str(f) for f in files], data, workers=1).ok
    with AuthStore.at(data, password_cost=PasswordCost(iterations=1, lanes=1, memory_kib=8)) as accounts:
        accounts.add_user("qmaria", "quality", PASSWORD, actor="test")
        accounts.add_user("eana", "engineer", PASSWORD, actor="test")
    holds = runner.invoke(app, ["holds", "--json", "--lot", HELD, "--data", str(data)], env=ENV)
    assert holds.exit_code == 0, holds.output
    expected_record = {"lot_id": HELD, "holds": json.loads(holds.stdout)}

    refused = _sign(data, HELD, "hold", "eana", PASSWORD)
    assert refused.exit_code != 0 and "role engineer" in refused.output and "Traceback" not in refused.output
    wrong = _sign(data, HELD, "hold", "qmaria", "not the password")
    assert wrong.exit_code != 0 and "wrong user name or password" in wrong.output
    not_held = _sign(data, LOTS[0], "hold", "qmaria", PASSWORD)
    assert not_held.exit_code != 0 and "no hold to sign" in not_held.output

    hold = _sign(data, HELD, "hold", "qmaria", PASSWORD, "SYL2 and SBL broken")
    assert hold.exit_code == 0, hold.output
    assert json.loads(hold.stdout)["record_sha256"] == _sha(expected_record)
    skip = _sign(data, HELD, "release", "qmaria", PASSWORD)
    assert skip.exit_code != 0 and "step release cannot follow it; allowed: review" in skip.output
    assert _sign(data, HELD, "review", "qmaria", PASSWORD).exit_code == 0
    queue = runner.invoke(app, ["disposition", "queue", "--json", "--data", str(data)], env=ENV)
    assert [r["lot_id"] for r in json.loads(queue.stdout)] == [HELD]
    release = _sign(data, HELD, "release", "qmaria", PASSWORD, "bin 20 fallout traced to a probe card",
                    "--capa-id", "8D-0042", "--capa-text", "probe card replaced")  # fmt: skip
    assert release.exit_code == 0, release.output
    signed = json.loads(release.stdout)
    assert signed["state"] == "released" and signed["signature_sha256"] == _sha(signed["signature"])
    assert signed["signature"]["capa"] == {"id": "8D-0042", "text": "probe card replaced"}

    verify = runner.invoke(app, ["audit", "verify", "--data", str(data)], env=ENV)
    assert verify.exit_code == 0, verify.output
    assert "OK" in verify.output and "3 signed lot disposition step(s)" in verify.output
    show = runner.invoke(app, ["disposition", "show", HELD, "--json", "--data", str(data)], env=ENV)
    assert [s["step"] for s in json.loads(show.stdout)] == ["hold", "review", "release"]

    # Edit the release's reason in the database: verify fails and names the entry.
    with TraceStore.at(data) as store, store.engine.begin() as conn:
        payload = json.loads(conn.scalar(sa.select(AUDIT.c.payload).where(AUDIT.c.seq == signed["seq"])))
        payload["signature"]["reason"] = "something else"
        conn.execute(sa.update(AUDIT).where(AUDIT.c.seq == signed["seq"]).values(payload=json.dumps(payload)))
    broken = runner.invoke(app, ["audit", "verify", "--data", str(data)], env=ENV)
    assert broken.exit_code == 1 and f"entry #{signed['seq']}" in broken.output
