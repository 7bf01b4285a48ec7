"""``silicio certificate issue|revoke|verify`` and ``silicio keys generate|list`` through the Typer app:
issue, verify, rotate the key (old certificates keep verifying), revoke (they stop), and every
refusal a clear line with exit code 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from silicio.cli import app
from silicio.trace import TraceStore, demo_master_data

PARTY = {"name": "Silicio Semiconductores", "address": "Parque Industrial, Querétaro, MX",
         "telephone": "+52 442 000 0000", "email": "origin@silicio.example"}  # fmt: skip
ORIGIN_FIELDS = {"issuer": "Silicio QA", "certifier_role": "producer", "certifier": PARTY, "exporter": PARTY,
                 "producer": PARTY, "importer": {"name": "Demo Importer Inc.", "address": "Laredo, TX, US"},
                 "description": "TV display source driver", "signer": {"name": "Jimena López", "title": "Trade"}}  # fmt: skip
BASE = "https://verify.silicio.example/verify/"


def _run(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, list(args), terminal_width=400, env=env)


@pytest.fixture()
def data(tmp_path):
    with TraceStore.at(tmp_path) as store:
        store.save_master_data(demo_master_data(), actor="test")
    fields = tmp_path / "origin.json"
    fields.write_text(json.dumps(ORIGIN_FIELDS, ensure_ascii=False), encoding="utf-8")
    return tmp_path


def _issue(data, *extra: str, env: dict | None = None):
    return _run("certificate", "issue", "origin", "--part", "SLC-TV100", "--fields", str(data / "origin.json"),
                "--verify-base-url", BASE, "--data", str(data), *extra, env=env)  # fmt: skip


def test_issue_verify_rotate_revoke(data):
    assert _run("keys", "generate", "--data", str(data)).exit_code == 0
    out = data / "coo.json"
    r = _issue(data, "--blanket-from", "2026-01-01", "--blanket-to", "2026-12-31", "--out", str(out))
    assert r.exit_code == 0, r.output
    cert_id = json.loads(out.read_text())["certificate"]["id"]
    assert f"issued {cert_id} (origin, SLC-TV100)" in r.output and f"verify at {BASE}{cert_id}" in r.output
    assert "caveat: Rule transcribed from 19 CFR 102.20" in r.output and "Annex 4-B" in r.output
    with TraceStore.at(data) as store:
        assert store.certificate(cert_id) == json.loads(out.read_text())
    r = _run("verify", str(out), "--data", str(data))
    assert r.exit_code == 0 and f"OK {cert_id}" in r.output, r.output

    # Rotation: a new key; the certificate of the old one still verifies through the keyring.
    r = _run("keys", "generate", "--force", "--data", str(data))
    assert r.exit_code == 0, r.output
    listed = _run("keys", "list", "--data", str(data)).output.splitlines()
    assert len(listed) == 2 and "retired" in listed[0] and listed[1].endswith("current")
    assert _run("certificate", "verify", str(out), "--data", str(data)).exit_code == 0

    # Revocation: from now on it fails, with the reason.
    r = _run("certificate", "revoke", cert_id, "--reason", "wrong importer", "--data", str(data))
    assert r.exit_code == 0 and f"revoked {cert_id} (revocation list #1, 1 revoked" in r.output, r.output
    r = _run("verify", str(out), "--data", str(data))
    assert r.exit_code == 1 and "FAILED" in r.output and ": wrong importer" in r.output
    # An auditor elsewhere with the keyring and the list sees the same.
    r = _run("verify", str(out), "--keyring", str(data / "keys" / "keyring.json"), "--revocations",
             str(data / "keys" / "revocations.json"))  # fmt: skip
    assert r.exit_code == 1 and ": wrong importer" in r.output
    r = _run("certificate", "revoke", "COO-0000000000000000", "--reason", "x", "--data", str(data))
    assert r.exit_code == 2 and "no certificate 'COO-0000000000000000' in the store" in r.output


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        (("--blanket-from", "2026-06-30", "--blanket-to", "2026-01-01"), "'to' 2026-01-01 is before 'from' 2026-06-30"),
        (("--blanket-from", "2026-01-01", "--blanket-to", "2036-01-01"), "longer than 12 months"),
        (("--blanket-from", "1999-01-01", "--blanket-to", "1999-02-01"), "before 2020-07-01"),
        (("--valid-until", "2099-12-31"), "more than 4 years after the issue date"),
        (("--verify-base-url", "http://127.0.0.1:8000/verify/"), "must use https://"),
    ],
)  # fmt: skip
def test_issue_refuses_with_the_reason(data, extra, why):
    assert _run("keys", "generate", "--data", str(data)).exit_code == 0
    r = _issue(data, *extra)
    assert r.exit_code == 2 and why in r.output, r.output
    with TraceStore.at(data) as store:
        assert store.certificates() == []


def test_issue_refuses_a_fields_file_with_a_duplicate_or_unknown_key(data):
    assert _run("keys", "generate", "--data", str(data)).exit_code == 0
    text = json.dumps(ORIGIN_FIELDS)
    (data / "origin.json").write_text(text[:-1] + ', "issuer": "Someone else"}')
    r = _issue(data)
    assert r.exit_code == 2 and "key 'issuer' appears twice" in r.output
    (data / "origin.json").write_text(json.dumps({**ORIGIN_FIELDS, "approved": True}))
    r = _issue(data)
    assert r.exit_code == 2 and "unknown field(s) approved" in r.output


def test_an_encrypted_key_signs_with_its_passphrase(data):
    env = {"SILICIO_KEY_PASSPHRASE": "correct horse battery"}
    r = _run("keys", "generate", "--encrypt", "--data", str(data), env=env)
    assert r.exit_code == 0 and "(private, encrypted)" in r.output
    assert b"ENCRYPTED PRIVATE KEY" in (data / "keys" / "signing-key.pem").read_bytes()
    assert (
        _issue(data, env={"SILICIO_KEY_PASSPHRASE": "wrong horse battery"}).output.count("wrong passphrase")
        == 1
    )
    assert _issue(data, env=env).exit_code == 0
