"""Certificates of conformance and of origin: canonical JSON signed with Ed25519, rendered as PDF.

A certificate document is ``{"certificate": {...}, "signature": {...}}``, and nothing else.
The signature (format 2) is Ed25519 (RFC 8032) over the canonical JSON (sorted keys, UTF-8, no
insignificant whitespace) of the whole document but the signature value itself: the content,
and the signature block's format, algorithm, key id, ``content_sha256`` (the SHA-256 of the
content's canonical JSON) and ``field_sha256`` (the SHA-256 of every field, which names what
changed when a check fails). Every byte a reader or a program looks at is signed, and the two
digests are recomputed and compared.

The content follows :mod:`.schema`, checked when signing (a certificate that breaks it is never
issued) and when verifying (one made by other means is refused with the reason). :func:`verify`
needs only the document and a :class:`~.keyring.Keyring` (or one public key); with a
:class:`~.revocation.RevocationList` it also refuses revoked certificates.

References
----------
RFC 8032, Edwards-Curve Digital Signature Algorithm (EdDSA), section 5.1 (Ed25519).
USMCA Article 5.2 (certification of origin: single shipment or a blanket period of at most 12
months; valid four years) and Annex 5-A, minimum data elements of a certification of origin:
1 importer, exporter or producer certification (who certifies); 2 certifier; 3 exporter;
4 producer; 5 importer; 6 description and HS tariff classification of the good; 7 origin
criterion; 8 blanket period; 9 authorized signature and date.
USMCA Article 4.5: regional value content (the figures a certificate repeats are checked).
"""

from __future__ import annotations

import base64
import os
import textwrap
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from silicio.i18n import DEFAULT_LANGUAGE, translation
from silicio.trace.audit import canonical_json

from .keyring import (
    Keyring,
    crypto,
    generate_keys,
    is_encrypted,
    key_id,
    load_private_key,
    load_public_key,
)
from .revocation import RevocationList
from .schema import (
    ANNEX_5A_ELEMENTS,
    CONFORMANCE_MAX_VALIDITY_YEARS,
    ORIGIN_CRITERIA,
    ORIGIN_MAX_VALIDITY_YEARS,
    SIGNATURE_FORMAT,
    CertificateError,
    add_months,
    check_base_url,
    check_content,
    check_envelope,
    check_signature_block,
    content_sha256,
    field_digests,
    parse_date,
    parse_document,
    parse_timestamp,
)

__all__ = [
    "ANNEX_5A_ELEMENTS", "BASE_URL_ENV", "DEFAULT_VERIFY_BASE_URL", "ORIGIN_CRITERIA", "CertificateError",
    "Keyring", "Verification", "check_content", "conformance_content", "content_sha256", "default_base_url",
    "field_digests", "generate_keys", "is_encrypted", "issue", "key_id", "load_private_key", "load_public_key",
    "load_trust", "origin_content", "qr_text", "render_pdf", "sign", "verify", "verify_bytes", "verify_url",
]  # fmt: skip

#: Environment variable with the public https address certificates point at (their QR code).
BASE_URL_ENV = "SILICIO_VERIFY_BASE_URL"
#: Used when neither the caller nor ``$SILICIO_VERIFY_BASE_URL`` gives one (a reserved name:
#: a deployment sets its own).
DEFAULT_VERIFY_BASE_URL = "https://verify.silicio.example/verify/"

_crypto = crypto  # the name older callers import


def default_base_url() -> str:
    return os.environ.get(BASE_URL_ENV) or DEFAULT_VERIFY_BASE_URL


# -- building and signing -----------------------------------------------------------------------


def new_certificate_id(kind: str) -> str:
    prefix = {"conformance": "COC", "origin": "COO"}[kind]
    return f"{prefix}-{uuid.uuid4().hex[:16].upper()}"


def verify_url(cert_id: str, base_url: str | None = None) -> str:
    """Where the public check of ``cert_id`` is: ``base_url`` (https, public) and the id."""
    return check_base_url(base_url or default_base_url()).rstrip("/") + "/" + cert_id


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _valid_until(issued: str, valid_until: str | date | None, years: int) -> str:
    if valid_until is None:
        return add_months(date.fromisoformat(issued[:10]), 12 * years).isoformat()
    return valid_until.isoformat() if isinstance(valid_until, date) else str(valid_until)


def conformance_content(*, lot: str, part_number: str, revision: str, quantity: int, test_summary: dict[str, Any],
                        pat_status: str, spc_status: str, standards: list[str], issuer: str,
                        shipment: str = "", audit_head: dict[str, Any] | None = None,
                        base_url: str | None = None, cert_id: str | None = None,
                        valid_until: str | date | None = None) -> dict[str, Any]:  # fmt: skip
    """The content of a certificate of conformance: what was shipped, how it tested, what it meets.
    ``valid_until`` defaults to ten years after the issue date (the longest signed)."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise CertificateError(f"quantity must be a positive whole number of units, got {quantity!r}")
    cid = cert_id or new_certificate_id("conformance")
    issued = _now()
    return {
        "type": "conformance", "id": cid, "issued_at": issued,
        "valid_until": _valid_until(issued, valid_until, CONFORMANCE_MAX_VALIDITY_YEARS),
        "issuer": issuer, "subject": lot, "lot": lot, "shipment": shipment, "part_number": part_number,
        "revision": revision, "quantity": quantity, "test_summary": test_summary, "pat_status": pat_status,
        "spc_status": spc_status, "standards": list(standards), "caveats": [], "audit_head": audit_head or {},
        "verify_url": verify_url(cid, base_url),
    }  # fmt: skip


def origin_content(*, report: dict[str, Any], parties: dict[str, Any], blanket_period: dict[str, str] | None,
                   signer: dict[str, str], issuer: str, subject: str = "", audit_head: dict[str, Any] | None = None,
                   base_url: str | None = None, cert_id: str | None = None,
                   valid_until: str | date | None = None) -> dict[str, Any]:  # fmt: skip
    """The content of a certification of origin (USMCA Article 5.2, Annex 5-A) from an
    :func:`silicio.origin.origin_report`.

    ``parties``: ``certifier_role`` ("exporter", "producer" or "importer") and ``certifier``,
    ``exporter``, ``producer``, ``importer`` (each name, address and, where known, title,
    telephone, email), and ``description``. ``blanket_period``: ``{"from": "2026-01-01", "to":
    "2026-12-31"}`` for multiple shipments of identical goods (at most 12 months), None for a
    single shipment. ``signer``: name, title. ``valid_until``: default four years after the issue
    date (Article 5.2). The rule's caveats (an unverified rule text) are carried into the content.
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
        "blanket_period": dict(blanket_period or {}),
        "authorized_signature_and_date": {**signer, "date": issued[:10],
                                          "statement": "I certify that the goods described in this document "
                                          "qualify as originating and the information contained in this "
                                          "document is true and accurate."},
    }  # fmt: skip
    nc = report["national_content"]
    hem = report["hecho_en_mexico"]
    return {
        "type": "origin", "id": cid, "issued_at": issued,
        "valid_until": _valid_until(issued, valid_until, ORIGIN_MAX_VALIDITY_YEARS),
        "issuer": issuer, "subject": subject or report["part_number"],
        "part_number": report["part_number"], "revision": report["revision"],
        "minimum_data_elements": elements,
        "usmca": {"rule": usmca["rule_id"], "tv": usmca["tv"], "nc": usmca["nc"], "vnm": usmca["vnm"],
                  "rvc_tv_pct": usmca["rvc_tv_pct"], "rvc_nc_pct": usmca["rvc_nc_pct"],
                  "de_minimis_applied": usmca["de_minimis_applied"], "originating": usmca["originating"]},
        "national_content": {"country": nc["country"], "domestic_value": nc["domestic_value"],
                             "total_value": nc["total_value"], "pct": nc["pct"]},
        "hecho_en_mexico": {"qualifies": hem["qualifies"], "claim": hem["claim"]},
        "caveats": list(usmca.get("caveats", [])),
        "audit_head": audit_head or {}, "verify_url": verify_url(cid, base_url),
    }  # fmt: skip


def _message(content: dict[str, Any], sig: dict[str, Any]) -> bytes:
    """The signed bytes: the whole document but the signature value."""
    return canonical_json(
        {"certificate": content, "signature": {k: v for k, v in sig.items() if k != "value"}}
    )


def sign(content: dict[str, Any], private_key) -> dict[str, Any]:
    """The signed document: ``content`` and an Ed25519 signature (format 2). Refuses content that
    breaks the schema (:func:`~.schema.check_content`), naming every problem."""
    problems = check_content(content)
    if problems:
        raise CertificateError("refusing to sign the certificate: " + "; ".join(problems))
    sig = {
        "format": SIGNATURE_FORMAT,
        "algorithm": "Ed25519",
        "key_id": key_id(private_key.public_key()),
        "content_sha256": content_sha256(content),
        "field_sha256": field_digests(content),
    }
    sig["value"] = base64.b64encode(private_key.sign(_message(content, sig))).decode("ascii")
    return {"certificate": content, "signature": sig}


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
    """Outcome of :func:`verify`: ``ok`` when the signature holds, the content is valid, the
    certificate is within its validity and not revoked. ``notes``: what was not checked, and
    the caveats the certificate carries."""

    cert_id: str
    signature_ok: bool
    problems: list[str] = field(default_factory=list)
    key_id: str | None = None
    revoked: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.signature_ok and not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "cert_id": self.cert_id,
            "ok": self.ok,
            "signature_ok": self.signature_ok,
            "problems": self.problems,
            "revoked": self.revoked,
            "notes": self.notes,
        }


def _keyring(keys: Any) -> Keyring:
    if isinstance(keys, Keyring):
        return keys
    ed25519, _, _ = crypto()
    if isinstance(keys, ed25519.Ed25519PublicKey):
        return Keyring.of(keys)
    raise CertificateError("verify needs a Keyring or an Ed25519 public key")


def verify(document: Any, keys: Any, *, revocations: RevocationList | None = None,
           now: datetime | None = None) -> Verification:  # fmt: skip
    """Check a certificate document against ``keys`` (a :class:`Keyring` or one public key):
    envelope, signature block, key, signature, the signed digests, the content schema, validity
    at ``now`` (default: now), the key's retirement and, when given, the revocation list.

    Give the document as parsed by :func:`~.schema.parse_document` (or use :func:`verify_bytes`):
    ``json.loads`` keeps the last of two equal keys and so hides a duplicated one.
    """
    _, _, InvalidSignature = crypto()
    ring = _keyring(keys)
    now = now or datetime.now(UTC)
    if not isinstance(document, dict) or not isinstance(document.get("certificate"), dict) or not isinstance(
            document.get("signature"), dict):  # fmt: skip
        raise CertificateError(
            "not a silicio certificate: expected an object with 'certificate' and 'signature'"
        )
    content, sig = document["certificate"], document["signature"]
    result = Verification(str(content.get("id", "?"))[:64], False)
    try:
        check_envelope(document)
    except CertificateError as exc:
        result.problems.append(str(exc).removeprefix("certificate: "))
    sig_problems = check_signature_block(sig)
    result.problems.extend(sig_problems)
    entry = None
    if not sig_problems:
        result.key_id = sig["key_id"]
        entry = ring.get(sig["key_id"])
        if entry is None:
            known = ", ".join(sorted(ring.entries)) or "none"
            result.problems.append(f"signed with key {sig['key_id']!r}, which is not in {ring.source} "
                                   f"(keys: {known})")  # fmt: skip
    if entry is not None:
        _check_signature(result, entry, content, sig, InvalidSignature)
    content_problems = check_content(content, now=now)
    result.problems.extend(content_problems)
    _check_validity(result, content, now)
    if entry is not None and entry.retired_at is not None:
        try:
            issued = parse_timestamp(content.get("issued_at"), "issued_at")
        except CertificateError:
            pass  # reported by the content check
        else:
            if issued > parse_timestamp(entry.retired_at, "retired_at"):
                result.problems.append(f"issued {content['issued_at']}, after its key {entry.key_id} was retired "
                                       f"({entry.retired_at})")  # fmt: skip
    if revocations is None:
        result.notes.append("revocation not checked: no revocation list given")
    else:
        revoked = revocations.get(result.cert_id)
        if revoked is not None:
            result.revoked = True
            result.problems.append(f"revoked on {revoked.revoked_at}: {revoked.reason}")
    caveats = content.get("caveats")
    if isinstance(caveats, list):
        result.notes.extend(f"caveat: {c}" for c in caveats if isinstance(c, str))
    return result


def _digest_problems(content: dict[str, Any], sig: dict[str, Any]) -> list[str]:
    problems = []
    if sig["content_sha256"] != content_sha256(content):
        problems.append("signature.content_sha256 is not the SHA-256 of the content")
    if sig["field_sha256"] != field_digests(content):
        problems.append("signature.field_sha256 does not match the content's fields")
    return problems


def _check_signature(result: Verification, entry, content: dict[str, Any], sig: dict[str, Any],
                     InvalidSignature: type[Exception]) -> None:  # fmt: skip
    """The signature over the document, then the digests it signs (a signer may sign wrong ones).
    When it fails, the recorded field digests name the fields changed since signing."""
    try:
        value = base64.b64decode(sig["value"], validate=True)
    except ValueError:
        value = b""
    try:
        message = _message(content, sig)
    except ValueError as exc:  # NaN or infinity in the content
        result.problems.append(f"the content cannot be written as canonical JSON ({exc})")
        return
    try:
        entry.public_key.verify(value, message)
    except InvalidSignature:
        recorded = sig["field_sha256"]
        now_digests = field_digests(content)
        changed = sorted(p for p in set(recorded) | set(now_digests) if recorded.get(p) != now_digests.get(p))
        if changed:
            result.problems.append("signature does not match the content; fields changed since signing: "
                                   + ", ".join(changed))  # fmt: skip
        else:
            result.problems.extend(_digest_problems(content, sig) or [
                "signature does not match the document: the signature value or its block was altered"])  # fmt: skip
        return
    result.signature_ok = True
    result.problems.extend(_digest_problems(content, sig))


def _check_validity(result: Verification, content: dict[str, Any], now: datetime) -> None:
    try:
        until = parse_date(content.get("valid_until"), "valid_until")
    except CertificateError:
        return  # reported by the content check
    if now.date() > until:
        result.problems.append(f"expired: valid until {until}, checked on {now.date()}")


def verify_bytes(data: bytes | str, keys: Any, *, revocations: RevocationList | None = None,
                 now: datetime | None = None, source: str = "certificate") -> Verification:  # fmt: skip
    """:func:`verify` of a document given as its bytes, read strictly (:func:`~.schema.parse_document`):
    a key given twice, extra top-level fields or a body that is no certificate fail with the reason."""
    try:
        document = parse_document(data, source)
    except CertificateError as exc:
        return Verification("?", False, [str(exc)])
    return verify(document, keys, revocations=revocations, now=now)


def load_trust(keys_dir: str | os.PathLike) -> tuple[Keyring, RevocationList | None]:
    """What a verifier of this issuer needs, from its key directory (``DATA/keys``): the keyring
    (current and retired public keys) and the revocation list, checked against the keyring
    (raises :class:`CertificateError` when the list was altered)."""
    from silicio.datadir import REVOCATIONS_FILE

    from .revocation import load_revocations

    ring = Keyring.load(keys_dir)
    return ring, load_revocations(Path(keys_dir) / REVOCATIONS_FILE, ring)


def qr_text(document: dict[str, Any]) -> str:
    """What the QR code says: the public verify URL with the content's SHA-256, so that the page
    it opens can show whether the printed certificate is the one it holds."""
    return f"{document['certificate']['verify_url']}?sha256={document['signature']['content_sha256']}"


# -- PDF ----------------------------------------------------------------------------------------


def _pdf_lines(document: dict[str, Any], language: str = DEFAULT_LANGUAGE) -> list[str]:
    """The certificate's printed lines; the title and the labels of its header in ``language``
    (:mod:`silicio.i18n`), the signed content as it is."""
    c, sig = document["certificate"], document["signature"]
    _ = translation(language).gettext
    title = (
        _("CERTIFICATE OF CONFORMANCE")
        if c["type"] == "conformance"
        else _("CERTIFICATION OF ORIGIN (USMCA)")
    )
    lines = [title, "", _("Certificate %(id)s    issued %(issued)s    valid until %(until)s")
             % {"id": c["id"], "issued": c["issued_at"], "until": c["valid_until"]},
             _("Issuer: %(issuer)s") % {"issuer": c["issuer"]},
             _("Part number: %(part)s rev %(revision)s") % {"part": c["part_number"], "revision": c["revision"]},
             ""]  # fmt: skip
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
    for caveat in c.get("caveats") or []:
        lines += ["", f"CAVEAT: {caveat}"]
    lines += ["", f"Audit log head: #{c.get('audit_head', {}).get('seq', '-')} "
              f"{str(c.get('audit_head', {}).get('hash', ''))[:32]}",
              f"Content SHA-256: {sig['content_sha256']}", f"Signature (Ed25519, key {sig['key_id']}):",
              sig["value"][:64], sig["value"][64:], "", f"Verify: {c['verify_url']}",
              "or offline: silicio verify CERT.json --public-key keyring.json --revocations revocations.json"]  # fmt: skip
    return lines


def render_pdf(document: dict[str, Any], path: str | os.PathLike, language: str = DEFAULT_LANGUAGE) -> Path:
    """Write the certificate as a one-page A4 PDF with a QR code of its verify URL and content
    hash (:func:`qr_text`), its title and header labels in ``language`` (``en`` or ``es``)."""
    import numpy as np
    import segno
    from matplotlib.figure import Figure

    content = document["certificate"]
    fig = Figure(figsize=(8.27, 11.69))
    y = 0.95
    lines = _pdf_lines(document, language)
    wrapped = [lines[0]] + [part for line in lines[1:]
                            for part in (textwrap.wrap(line, 96, subsequent_indent="     ") or [""])]  # fmt: skip
    for i, line in enumerate(wrapped):
        fig.text(0.07, y, line, fontsize=13 if i == 0 else 8.5, family="monospace",
                 weight="bold" if i == 0 else "normal", va="top")  # fmt: skip
        y -= 0.03 if i == 0 else 0.018
    qr = segno.make(qr_text(document), error="m")
    matrix = np.array([[bool(v) for v in row] for row in qr.matrix], dtype=float)
    matrix = np.pad(matrix, qr.default_border_size)
    ax = fig.add_axes((0.72, 0.04, 0.2, 0.2 * 8.27 / 11.69))  # square on an A4 page
    ax.imshow(1 - matrix, cmap="gray", interpolation="nearest", vmin=0, vmax=1)
    ax.set_axis_off()
    out = Path(path)
    fig.savefig(out, format="pdf", metadata={"Title": f"{content['type']} certificate {content['id']}",
                                             "Subject": content.get("subject", "")})  # fmt: skip
    return out
