"""Certificates: signed, verified with only the public key, tampering detected and named."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import pytest

from silicio.origin import (
    ANNEX_5A_ELEMENTS,
    CertificateError,
    conformance_content,
    generate_keys,
    issue,
    load_private_key,
    load_public_key,
    origin_content,
    origin_report,
    render_pdf,
    sign,
    verify,
)
from silicio.trace import demo_master_data

from .forge import forge

PARTY = {"name": "Silicio Semiconductores S.A. de C.V.", "address": "El Marqués, Querétaro, MX",
         "telephone": "+52 442 000 0000", "email": "comercio@silicio.example"}  # fmt: skip
IMPORTER = {"name": "Great Lakes Automotive Inc.", "address": "Detroit, MI, US", "telephone": "+1 313 000 0000",
            "email": "imports@gla.example"}  # fmt: skip
PARTIES = {"certifier_role": "producer", "certifier": PARTY, "exporter": PARTY, "producer": PARTY,
           "importer": IMPORTER, "description": "TV display source driver"}  # fmt: skip


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    private, public = generate_keys(d)
    return load_private_key(private), load_public_key(public), private, public


def _origin_doc(private_key, part="SLC-TV100"):
    md = demo_master_data()
    report = origin_report(md.product(part), md.sites)
    content = origin_content(report=report, parties=PARTIES, blanket_period={"from": "2025-01-01", "to": "2025-12-31"},
                             signer={"name": "Jimena López", "title": "Trade compliance"}, issuer="Silicio")  # fmt: skip
    return sign(content, private_key)


def _coc_doc(private_key):
    content = conformance_content(
        lot="QT0001", part_number="SLC-PM300A", revision="A", quantity=2500, issuer="Silicio QA",
        test_summary={"wafer_sort": {"tested": 1320, "good": 1254, "yield": 0.95},
                      "final_test": {"tested": 2540, "good": 2500, "yield": round(2500 / 2540, 6)}},
        pat_status="DPAT applied, 12 outliers removed (AEC-Q001)", spc_status="all charts in control",
        standards=["AEC-Q100 Grade 1", "J-STD-020 MSL3"])  # fmt: skip
    return sign(content, private_key)


def test_keys_are_written_private_0600_and_not_replaced(keys, tmp_path):
    _, _, private, public = keys
    assert oct(os.stat(private).st_mode & 0o777) == "0o600"
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    with pytest.raises(CertificateError, match="already there"):
        generate_keys(private.parent)


def test_origin_certificate_holds_the_nine_annex_5a_elements(keys):
    doc = _origin_doc(keys[0])
    elements = doc["certificate"]["minimum_data_elements"]
    assert list(elements) == list(ANNEX_5A_ELEMENTS) and len(elements) == 9
    assert elements["origin_criterion"] == "B"
    assert verify(doc, keys[1]).ok


def test_conformance_certificate_verifies(keys):
    doc = _coc_doc(keys[0])
    assert verify(doc, keys[1]).as_dict()["ok"]


def test_no_certificate_of_origin_for_a_non_originating_good(keys):
    with pytest.raises(CertificateError, match="SLC-PM300A is not originating"):
        _origin_doc(keys[0], "SLC-PM300A")


def test_tampered_field_is_named(keys):
    doc = copy.deepcopy(_coc_doc(keys[0]))
    doc["certificate"]["quantity"] = 25000
    result = verify(doc, keys[1])
    assert not result.ok and not result.signature_ok
    assert result.problems == ["signature does not match the content; fields changed since signing: quantity"]


def test_tampered_figure_is_also_caught_by_the_content_check(keys):
    doc = copy.deepcopy(_origin_doc(keys[0]))
    doc["certificate"]["usmca"]["rvc_tv_pct"] = 99.0
    problems = verify(doc, keys[1]).problems
    assert "usmca.rvc_tv_pct" in problems[0]
    assert any("does not follow from TV and VNM" in p for p in problems)


def test_tampered_signature_fails(keys):
    doc = copy.deepcopy(_coc_doc(keys[0]))
    sig = bytearray(doc["signature"]["value"].encode())
    sig[5] = ord("A") if sig[5] != ord("A") else ord("B")
    doc["signature"]["value"] = sig.decode()
    result = verify(doc, keys[1])
    assert not result.ok and "the signature value or its block was altered" in result.problems[0]


def test_another_key_is_refused_by_id(keys, tmp_path):
    _, other_public = generate_keys(tmp_path)
    result = verify(_coc_doc(keys[0]), load_public_key(other_public))
    assert not result.ok and "which is not in the public key given" in result.problems[0]


def test_missing_annex_5a_element_is_reported_even_when_signed(keys):
    doc = _origin_doc(keys[0])
    content = copy.deepcopy(doc["certificate"])
    del content["minimum_data_elements"]["importer"]
    with pytest.raises(CertificateError, match="Annex 5-A data elements missing: 5. Importer"):
        sign(content, keys[0])  # refused at issue
    result = verify(forge(content, keys[0]), keys[1])  # and refused when signed by other means
    assert result.signature_ok and result.problems == ["USMCA Annex 5-A data elements missing: 5. Importer"]


def test_issue_anchors_the_audit_log_and_keeps_the_certificate(keys, tmp_path):
    from silicio.trace import TraceStore

    store = TraceStore.at(tmp_path / "data")
    store.save_master_data(demo_master_data(), actor="t")
    seq, head = store.audit_head()
    md = demo_master_data()
    content = origin_content(report=origin_report(md.product("SLC-MC200"), md.sites), parties=PARTIES,
                             blanket_period=None, signer={"name": "J", "title": "T"}, issuer="Silicio")  # fmt: skip
    doc = issue(store, content, keys[0], actor="t")
    assert doc["certificate"]["audit_head"] == {"seq": seq, "hash": head}
    assert store.certificate(doc["certificate"]["id"]) == doc
    assert store.verify_audit().ok
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE trace_certificates SET document = replace(document, '\"B\"', '\"A\"')")
    assert store.verify_audit().mismatches[0].startswith(f"certificate {doc['certificate']['id']}: differs")


def test_pdf_has_the_certificate_and_a_qr_code(keys, tmp_path):
    doc = _origin_doc(keys[0])
    out = render_pdf(doc, tmp_path / "coo.pdf")
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and (b"/Image" in data or b"XObject" in data)


def test_cli_verify_offline_with_only_the_public_key(keys, tmp_path):
    """A machine with the certificate and the public key only: a fresh process, no data directory."""
    elsewhere = tmp_path / "auditor"
    elsewhere.mkdir()
    (elsewhere / "pub.pem").write_bytes(keys[3].read_bytes())
    good = _coc_doc(keys[0])
    (elsewhere / "coc.json").write_text(json.dumps(good, ensure_ascii=False))
    bad = copy.deepcopy(good)
    bad["certificate"]["lot"] = "QT9999"
    (elsewhere / "bad.json").write_text(json.dumps(bad))

    done = subprocess.run([sys.executable, "-m", "silicio.cli", "verify", "coc.json", "--public-key", "pub.pem"],
                          cwd=elsewhere, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout

    from typer.testing import CliRunner

    from silicio.cli import app

    runner = CliRunner()
    pub = str(elsewhere / "pub.pem")
    failed = runner.invoke(
        app, ["verify", str(elsewhere / "bad.json"), "--public-key", pub], terminal_width=200
    )
    assert failed.exit_code == 1 and "fields changed since signing: lot" in failed.output
    missing = runner.invoke(app, ["verify", str(elsewhere / "nothing.json"), "--public-key", pub])
    assert missing.exit_code == 2 and "no such file" in missing.output
