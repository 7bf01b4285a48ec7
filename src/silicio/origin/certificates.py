"""Certificates of conformance and of origin: canonical JSON signed with Ed25519, rendered as PDF.

A certificate document is ``{"certificate": {...}, "signature": {...}}``. The signature is
Ed25519 (RFC 8032) over the canonical JSON of ``certificate`` (sorted keys, UTF-8, no
insignificant whitespace); the signature block carries the key id (first 16 hex digits of the
SHA-256 of the raw public key) and, to name what changed when a check fails, the SHA-256 of
every field at signing time. :func:`verify` needs only the document and the public key: it
checks the key id, the signature, and that the figures agree with each other (an RVC that
follows from TV and VNM, the nine data elements of a certification of origin present).

References
----------
RFC 8032, Edwards-Curve Digital Signature Algorithm (EdDSA), section 5.1 (Ed25519).
USMCA Article 5.2 and Annex 5-A, minimum data elements of a certification of origin:
1 importer, exporter or producer certification (who certifies); 2 certifier; 3 exporter;
4 producer; 5 importer; 6 description and HS tariff classification of the good; 7 origin
criterion; 8 blanket period; 9 authorized signature and date.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import textwrap
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from silicio.datadir import PRIVATE_KEY_FILE, PUBLIC_KEY_FILE
from silicio.extras import require
from silicio.trace.audit import canonical_json

from .content import OriginError, rvc_net_cost, rvc_transaction_value

DEFAULT_VERIFY_BASE_URL = "http://127.0.0.1:8000/verify/"

#: USMCA Annex 5-A, in order: key in ``minimum_data_elements`` -> element name.
ANNEX_5A_ELEMENTS = {
    "certifier_role": "1. Importer, exporter or producer certification of origin",
    "certifier": "2. Certifier",
    "exporter": "3. Exporter",
    "producer": "4. Producer",
    "importer": "5. Importer",
    "description_and_hs": "6. Description and HS tariff classification of the good",
    "origin_criterion": "7. Origin criterion",
    "blanket_period": "8. Blanket period",
    "authorized_signature_and_date": "9. Authorized signature and date",
}
ORIGIN_CRITERIA = ("A", "B", "C", "D")


class CertificateError(ValueError):
    """A certificate or key that cannot be made, read or checked; the message says which and why."""


def _crypto():
    """cryptography's Ed25519 pieces, imported when a key is first used (the 'lake' extra)."""
    require("lake", "signing and verifying certificates")
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519, serialization, InvalidSignature


# -- keys ---------------------------------------------------------------------------------------


def key_id(public_key) -> str:
    """First 16 hex digits of the SHA-256 of the raw 32-byte Ed25519 public key."""
    _, serialization, _ = _crypto()
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_keys(directory: str | os.PathLike, overwrite: bool = False) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair into ``directory``: the private key (PKCS#8 PEM, mode 0600)
    and the public key (SubjectPublicKeyInfo PEM). Refuses to replace an existing private key."""
    ed25519, serialization, _ = _crypto()
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    private_path, public_path = d / PRIVATE_KEY_FILE, d / PUBLIC_KEY_FILE
    if private_path.exists() and not overwrite:
        raise CertificateError(f"{private_path}: a signing key is already there; refusing to replace it")
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip
    if private_path.exists():
        private_path.unlink()
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(private_path, 0o600)
    public_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))  # fmt: skip
    return private_path, public_path


def load_private_key(path: str | os.PathLike):
    ed25519, serialization, _ = _crypto()
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except ValueError as exc:
        raise CertificateError(f"{path}: not a PEM private key ({exc})") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise CertificateError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: str | os.PathLike):
    ed25519, serialization, _ = _crypto()
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except ValueError as exc:
        raise CertificateError(f"{path}: not a PEM public key ({exc})") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise CertificateError(f"{path}: not an Ed25519 public key")
    return key


# -- building and signing -----------------------------------------------------------------------


def new_certificate_id(kind: str) -> str:
    prefix = {"conformance": "COC", "origin": "COO"}[kind]
    return f"{prefix}-{uuid.uuid4().hex[:16].upper()}"


def verify_url(cert_id: str, base_url: str = DEFAULT_VERIFY_BASE_URL) -> str:
    return base_url.rstrip("/") + "/" + cert_id


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def conformance_content(*, lot: str, part_number: str, revision: str, quantity: int, test_summary: dict[str, Any],
                        pat_status: str, spc_status: str, standards: list[str], issuer: str,
                        shipment: str = "", audit_head: dict[str, Any] | None = None,
                        base_url: str = DEFAULT_VERIFY_BASE_URL, cert_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The content of a certificate of conformance: what was shipped, how it tested, what it meets."""
    if not isinstance(quantity, int) or quantity <= 0:
        raise CertificateError(f"quantity must be a positive whole number of units, got {quantity!r}")
    cid = cert_id or new_certificate_id("conformance")
    return {
        "type": "conformance", "id": cid, "issued_at": _now(), "issuer": issuer, "subject": lot,
        "lot": lot, "shipment": shipment, "part_number": part_number, "revision": revision, "quantity": quantity,
        "test_summary": test_summary, "pat_status": pat_status, "spc_status": spc_status,
        "standards": list(standards), "audit_head": audit_head or {}, "verify_url": verify_url(cid, base_url),
    }  # fmt: skip


def origin_content(*, report: dict[str, Any], parties: dict[str, Any], blanket_period: dict[str, str] | None,
                   signer: dict[str, str], issuer: str, subject: str = "", audit_head: dict[str, Any] | None = None,
                   base_url: str = DEFAULT_VERIFY_BASE_URL, cert_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The content of a certificate of origin from an :func:`silicio.origin.origin_report`.

    ``parties``: ``certifier_role`` ("exporter", "producer" or "importer") and ``certifier``,
    ``exporter``, ``producer``, ``importer`` (each name, address, telephone, email).
    ``blanket_period``: ``{"from": "2025-01-01", "to": "2025-12-31"}`` for repeated shipments
    of identical goods (up to 12 months), None for a single shipment. ``signer``: name, title.
    """
    usmca = report["usmca"]
    if parties.get("certifier_role") not in ("exporter", "producer", "importer"):
        raise CertificateError("parties.certifier_role must be exporter, producer or importer "
                               f"(USMCA Article 5.2), got {parties.get('certifier_role')!r}")  # fmt: skip
    for role in ("certifier", "exporter", "producer", "importer"):
        if not parties.get(role):
            raise CertificateError(f"parties.{role} is missing: Annex 5-A requires it")
    if not usmca["originating"]:
        raise CertificateError(f"{report['part_number']} is not originating under USMCA ("
                               + "; ".join(usmca["reasons"]) + "): no certification of origin can be issued")  # fmt: skip
    cid = cert_id or new_certificate_id("origin")
    issued = _now()
    elements = {
        "certifier_role": parties["certifier_role"],
        "certifier": parties["certifier"],
        "exporter": parties["exporter"],
        "producer": parties["producer"],
        "importer": parties["importer"],
        "description_and_hs": {"description": f"{report['part_number']} rev {report['revision']}: "
                                              f"{parties.get('description', 'integrated circuit')}",
                               "hs_code": report["hs_code"]},
        "origin_criterion": usmca["criterion"],
        "blanket_period": blanket_period or {},
        "authorized_signature_and_date": {**signer, "date": issued[:10],
                                          "statement": "I certify that the goods described in this document "
                                          "qualify as originating and the information contained in this "
                                          "document is true and accurate."},
    }  # fmt: skip
    nc = report["national_content"]
    hem = report["hecho_en_mexico"]
    return {
        "type": "origin", "id": cid, "issued_at": issued, "issuer": issuer, "subject": subject or report["part_number"],
        "part_number": report["part_number"], "revision": report["revision"],
        "minimum_data_elements": elements,
        "usmca": {"rule": usmca["rule_id"], "tv": usmca["tv"], "nc": usmca["nc"], "vnm": usmca["vnm"],
                  "rvc_tv_pct": usmca["rvc_tv_pct"], "rvc_nc_pct": usmca["rvc_nc_pct"],
                  "de_minimis_applied": usmca["de_minimis_applied"], "originating": usmca["originating"]},
        "national_content": {"country": nc["country"], "domestic_value": nc["domestic_value"],
                             "total_value": nc["total_value"], "pct": nc["pct"]},
        "hecho_en_mexico": {"qualifies": hem["qualifies"], "claim": hem["claim"]},
        "audit_head": audit_head or {}, "verify_url": verify_url(cid, base_url),
    }  # fmt: skip


def _leaves(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict) and obj:
        out = {}
        for k, v in obj.items():
            out.update(_leaves(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: obj}


def field_digests(content: dict[str, Any]) -> dict[str, str]:
    """SHA-256 (hex, first 16 digits) of every leaf field, by dotted path."""
    return {
        path: hashlib.sha256(canonical_json(v)).hexdigest()[:16]
        for path, v in sorted(_leaves(content).items())
    }


def sign(content: dict[str, Any], private_key) -> dict[str, Any]:
    """The signed document: ``content`` and an Ed25519 signature over its canonical JSON."""
    message = canonical_json(content)
    return {
        "certificate": content,
        "signature": {
            "algorithm": "Ed25519",
            "key_id": key_id(private_key.public_key()),
            "content_sha256": hashlib.sha256(message).hexdigest(),
            "field_sha256": field_digests(content),
            "value": base64.b64encode(private_key.sign(message)).decode("ascii"),
        },
    }


def issue(store, content: dict[str, Any], private_key, actor: str) -> dict[str, Any]:
    """Sign ``content`` and keep it in ``store`` (a :class:`silicio.trace.TraceStore`), audited.
    The content's ``audit_head`` is set to the log's head before signing, anchoring the log."""
    seq, head_hash = store.audit_head()
    content = {**content, "audit_head": {"seq": seq, "hash": head_hash}}
    document = sign(content, private_key)
    store.save_certificate(document, actor)
    return document


# -- verifying ----------------------------------------------------------------------------------


@dataclass
class Verification:
    """Outcome of :func:`verify`: ``ok`` when the signature holds and the content is consistent."""

    cert_id: str
    signature_ok: bool
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.signature_ok and not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "cert_id": self.cert_id,
            "ok": self.ok,
            "signature_ok": self.signature_ok,
            "problems": self.problems,
        }


def verify(document: Any, public_key) -> Verification:
    """Check a certificate document against ``public_key``: key id, signature, then content."""
    _, _, InvalidSignature = _crypto()
    if not isinstance(document, dict) or not isinstance(document.get("certificate"), dict) or not isinstance(
            document.get("signature"), dict):  # fmt: skip
        raise CertificateError(
            "not a silicio certificate: expected an object with 'certificate' and 'signature'"
        )
    content, sig = document["certificate"], document["signature"]
    result = Verification(str(content.get("id", "?")), False)
    if sig.get("algorithm") != "Ed25519":
        result.problems.append(f"signature algorithm is {sig.get('algorithm')!r}, expected 'Ed25519'")
        return result
    expected_kid = key_id(public_key)
    if sig.get("key_id") != expected_kid:
        result.problems.append(
            f"signed with key {sig.get('key_id')!r}, but the public key given is {expected_kid!r}"
        )
        return result
    try:
        value = base64.b64decode(str(sig.get("value", "")), validate=True)
    except ValueError:
        value = b""
    message = canonical_json(content)
    try:
        public_key.verify(value, message)
        result.signature_ok = True
    except InvalidSignature:
        recorded = sig.get("field_sha256") if isinstance(sig.get("field_sha256"), dict) else {}
        now = field_digests(content)
        changed = sorted(p for p in set(recorded) | set(now) if recorded.get(p) != now.get(p))
        if changed:
            result.problems.append("signature does not match the content; fields changed since signing: "
                                   + ", ".join(changed))  # fmt: skip
        else:
            result.problems.append("signature does not match the content: the signature value was altered, "
                                   "or the document was signed by another key with the same id")  # fmt: skip
    result.problems.extend(check_content(content))
    return result


def _close(a: Any, b: float, tol: float = 0.01) -> bool:
    return isinstance(a, int | float) and math.isfinite(a) and abs(a - b) <= tol


def check_content(content: dict[str, Any]) -> list[str]:
    """Problems in the certificate's own figures, whatever the signature says."""
    problems = []
    kind = content.get("type")
    if kind not in ("conformance", "origin"):
        return [f"type is {kind!r}, expected 'conformance' or 'origin'"]
    for key in ("id", "issued_at", "issuer", "part_number", "revision", "verify_url"):
        if not content.get(key):
            problems.append(f"{key} is missing")
    if content.get("id") and not str(content.get("verify_url", "")).endswith("/" + str(content["id"])):
        problems.append("verify_url does not point at this certificate's id")
    if kind == "conformance":
        q = content.get("quantity")
        if not isinstance(q, int) or isinstance(q, bool) or q <= 0:
            problems.append(f"quantity must be a positive whole number, got {q!r}")
        ts = content.get("test_summary") or {}
        for stage, s in ts.items() if isinstance(ts, dict) else []:
            if isinstance(s, dict) and {"tested", "good"} <= set(s):
                if not (0 <= s["good"] <= s["tested"]):
                    problems.append(
                        f"test_summary.{stage}: good ({s['good']}) must be between 0 and tested ({s['tested']})"
                    )
                elif "yield" in s and s["tested"] and not _close(s["yield"], s["good"] / s["tested"], 1e-4):
                    problems.append(f"test_summary.{stage}.yield {s['yield']} is not good / tested")
        return problems
    elements = content.get("minimum_data_elements") or {}
    missing = [
        name for key, name in ANNEX_5A_ELEMENTS.items() if key != "blanket_period" and not elements.get(key)
    ]
    if "blanket_period" not in elements:
        missing.append(ANNEX_5A_ELEMENTS["blanket_period"])
    if missing:
        problems.append("USMCA Annex 5-A data elements missing: " + "; ".join(missing))
    if elements.get("origin_criterion") not in ORIGIN_CRITERIA:
        problems.append(
            f"origin criterion {elements.get('origin_criterion')!r} is not one of A, B, C, D (Article 4.2)"
        )
    u = content.get("usmca") or {}
    try:
        tv_pct = rvc_transaction_value(u["tv"], u["vnm"])
        nc_pct = rvc_net_cost(u["nc"], u["vnm"])
    except (KeyError, TypeError, OriginError) as exc:
        problems.append(f"usmca figures are incomplete or invalid ({exc})")
    else:
        if not _close(u.get("rvc_tv_pct"), tv_pct):
            problems.append(f"usmca.rvc_tv_pct {u.get('rvc_tv_pct')} does not follow from TV and VNM "
                            f"((TV - VNM) / TV x 100 = {tv_pct:.2f}, Article 4.5.2)")  # fmt: skip
        if not _close(u.get("rvc_nc_pct"), nc_pct):
            problems.append(f"usmca.rvc_nc_pct {u.get('rvc_nc_pct')} does not follow from NC and VNM "
                            f"((NC - VNM) / NC x 100 = {nc_pct:.2f}, Article 4.5.3)")  # fmt: skip
    if u.get("originating") is not True:
        problems.append("usmca.originating is not true: a certification of origin needs an originating good")
    n = content.get("national_content") or {}
    if isinstance(n.get("total_value"), int | float) and n["total_value"] > 0:
        if not _close(n.get("pct"), n.get("domestic_value", float("nan")) / n["total_value"] * 100):
            problems.append("national_content.pct does not follow from domestic_value / total_value")
    return problems


# -- PDF ----------------------------------------------------------------------------------------


def _pdf_lines(document: dict[str, Any]) -> list[str]:
    c, sig = document["certificate"], document["signature"]
    title = "CERTIFICATE OF CONFORMANCE" if c["type"] == "conformance" else "CERTIFICATION OF ORIGIN (USMCA)"
    lines = [title, "", f"Certificate {c['id']}    issued {c['issued_at']}", f"Issuer: {c['issuer']}",
             f"Part number: {c['part_number']} rev {c['revision']}", ""]  # fmt: skip
    if c["type"] == "conformance":
        lines += [f"Lot: {c['lot']}    Shipment: {c.get('shipment', '')}    Quantity: {c['quantity']}", "",
                  "Test results:"]  # fmt: skip
        for stage, s in (c.get("test_summary") or {}).items():
            lines.append(f"  {stage}: " + ", ".join(f"{k} {v}" for k, v in s.items()) if isinstance(s, dict)
                         else f"  {stage}: {s}")  # fmt: skip
        lines += [
            f"PAT: {c['pat_status']}",
            f"SPC: {c['spc_status']}",
            "Standards met: " + "; ".join(c["standards"]),
        ]
    else:
        e = c["minimum_data_elements"]
        for key, name in ANNEX_5A_ELEMENTS.items():
            v = e.get(key)
            if isinstance(v, dict):
                v = "; ".join(f"{k}: {x}" for k, x in v.items() if k != "statement") or "single shipment"
            lines.append(f"{name}: {v}")
        lines.append(f"   {e['authorized_signature_and_date'].get('statement', '')}")
        u, n, h = c["usmca"], c["national_content"], c["hecho_en_mexico"]
        lines += ["", f"Rule: {u['rule']}", f"RVC (TV - VNM)/TV = ({u['tv']:.4f} - {u['vnm']:.4f}) / {u['tv']:.4f} = "
                  f"{u['rvc_tv_pct']:.1f} %   (NC - VNM)/NC = {u['rvc_nc_pct']:.1f} %",
                  f"National content ({n['country']}): {n['pct']:.1f} %    Hecho en México: "
                  f"{'yes, ' + str(h['claim']) if h['qualifies'] else 'no'}"]  # fmt: skip
    lines += ["", f"Audit log head: #{c.get('audit_head', {}).get('seq', '-')} "
              f"{str(c.get('audit_head', {}).get('hash', ''))[:32]}",
              f"Content SHA-256: {sig['content_sha256']}", f"Signature (Ed25519, key {sig['key_id']}):",
              sig["value"][:64], sig["value"][64:], "", f"Verify: {c['verify_url']}",
              "or offline: silicio verify CERT.json --public-key signing-key.pub.pem"]  # fmt: skip
    return lines


def render_pdf(document: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write the certificate as a one-page A4 PDF with a QR code of its verify URL."""
    import numpy as np
    import segno
    from matplotlib.figure import Figure

    content = document["certificate"]
    fig = Figure(figsize=(8.27, 11.69))
    y = 0.95
    lines = _pdf_lines(document)
    wrapped = [lines[0]] + [part for line in lines[1:]
                            for part in (textwrap.wrap(line, 96, subsequent_indent="     ") or [""])]  # fmt: skip
    for i, line in enumerate(wrapped):
        fig.text(0.07, y, line, fontsize=13 if i == 0 else 8.5, family="monospace",
                 weight="bold" if i == 0 else "normal", va="top")  # fmt: skip
        y -= 0.03 if i == 0 else 0.018
    qr = segno.make(content["verify_url"], error="m")
    matrix = np.array([[bool(v) for v in row] for row in qr.matrix], dtype=float)
    matrix = np.pad(matrix, qr.default_border_size)
    ax = fig.add_axes((0.72, 0.04, 0.2, 0.2 * 8.27 / 11.69))  # square on an A4 page
    ax.imshow(1 - matrix, cmap="gray", interpolation="nearest", vmin=0, vmax=1)
    ax.set_axis_off()
    out = Path(path)
    fig.savefig(out, format="pdf", metadata={"Title": f"{content['type']} certificate {content['id']}",
                                             "Subject": content.get("subject", "")})  # fmt: skip
    return out
