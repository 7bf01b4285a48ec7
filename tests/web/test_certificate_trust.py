"""The dashboard verifies certificates as the issuer's verifiers do: strictly parsed uploads, the
keyring (certificates signed by a rotated-out key keep verifying), the signed revocation list;
and the audit page names what the anchors say against the log."""

from __future__ import annotations

import json
import shutil

import pytest
from fastapi.testclient import TestClient

from silicio import trace
from silicio.datadir import DataDir
from silicio.origin.keyring import Keyring, generate_keys, load_private_key
from silicio.origin.revocation import revoke
from silicio.web import create_app

from .test_trace_pages import trace_data_dir  # noqa: F401  (the fixture)


@pytest.fixture()
def trusted_dir(tmp_path, trace_data_dir):  # noqa: F811
    copy = tmp_path / "data"
    shutil.copytree(trace_data_dir, copy)
    return copy


def _certificate(trusted_dir, kind: str = "origin") -> dict:
    with trace.TraceStore.at(trusted_dir) as store:
        cert_id = next(c["cert_id"] for c in store.certificates() if c["kind"] == kind)
        return store.certificate(cert_id)


def test_an_upload_with_a_key_given_twice_is_refused(trusted_dir):
    document = _certificate(trusted_dir)
    text = json.dumps(document)
    importer = document["certificate"]["minimum_data_elements"]["importer"]
    # The same object written twice: a lax reader keeps the second, a reader of the file sees the first.
    twice = text.replace(
        '"importer": {', '"importer": {"name": "Someone Else", "address": "x"}, "importer": {', 1
    )
    assert twice != text and json.loads(twice)["certificate"]["minimum_data_elements"]["importer"] == importer
    with TestClient(create_app(trusted_dir)) as client:
        assert client.post("/api/verify", content=text).json()["verification"]["ok"] is True
        answer = client.post("/api/verify", content=twice)
    assert answer.status_code == 422 and "twice" in answer.text.lower() or "duplicate" in answer.text.lower()


def test_a_rotated_key_keeps_its_certificates_verifying_and_a_revoked_one_fails(trusted_dir):
    document = _certificate(trusted_dir)
    cert_id = document["certificate"]["id"]
    keys = DataDir(trusted_dir).keys
    old_key = load_private_key(keys / "signing-key.pem")
    generate_keys(keys, overwrite=True)  # rotation: the old public key stays in the keyring, retired
    ring = Keyring.load(keys)
    assert len(ring.entries) == 2
    with TestClient(create_app(trusted_dir)) as client:
        page = client.get(f"/api/verify/{cert_id}").json()
        assert page["verification"]["ok"] is True, page["verification"]
        new_key = load_private_key(keys / "signing-key.pem")
        assert new_key.public_key() != old_key.public_key()
        revoke(keys / "revocations.json", cert_id, "withdrawn by the issuer", new_key, ring, issuer="tests")
        revoked = client.get(f"/api/verify/{cert_id}").json()["verification"]
    assert revoked["ok"] is False and revoked["revoked"] is True


def test_the_trace_page_names_a_deleted_tail_that_a_checkpoint_vouched_for(trusted_dir):
    import sqlalchemy as sa

    from silicio.trace import checkpoints as cp

    with trace.TraceStore.at(trusted_dir) as store:
        report = store.verify_audit()
        assert report.ok, report.as_dict()
        paths = cp.CheckpointPaths.at(trusted_dir)
        cp.append_checkpoint(paths, cp.sign_checkpoint(report.entries, report.head_hash, cp.signing_key(paths),
                                                       "tests"))  # fmt: skip
        with store.engine.begin() as connection:
            connection.execute(
                sa.text("DELETE FROM trace_audit_log WHERE seq = :seq"), {"seq": report.entries}
            )
    with TestClient(create_app(trusted_dir)) as client:
        _, secret = client.app.state.authority.store.issue_token(actor="tests", role="auditor")
        answer = client.get("/api/trace", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200, answer.text[:300]
    audit = answer.json()["audit"]
    assert audit["ok"] is False and any(str(report.entries) in p for p in audit["anchor_problems"]), audit
