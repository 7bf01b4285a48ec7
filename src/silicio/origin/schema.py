"""What a certificate may say: the strict schema both the issuer and the verifier apply.

Every field is known; anything else is refused, at issue and at verification, so that no part of
a document can be read by a person or a program without being covered by the signature and
checked. The document is read from its bytes by :func:`parse_document`, which refuses a key
given twice in one object (a viewer would show one value, ``json.loads`` keeps the other).

References
----------
USMCA Article 5.2 (certification of origin): it may cover a single shipment, or multiple
shipments of identical goods within a period specified in it, not exceeding 12 months; it is
valid for four years after the date on which it was completed.
USMCA Annex 5-A: the minimum data elements (certifier, exporter, producer, importer, description
and HS tariff classification to six digits, origin criterion, blanket period, signature and date).
USMCA Article 4.2: origin criteria A to D. Article 4.5: RVC, transaction value and net cost methods.
Harmonized System 2022, headings 8541 and 8542: their six-digit subheadings.
The USMCA entered into force on 1 July 2020: no certification of origin under it is older.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from silicio.trace.audit import canonical_json

#: The largest certificate document read (bytes); a real one is a few kilobytes.
MAX_DOCUMENT_BYTES = 256 * 1024
#: The deepest nesting of objects and lists read; a certificate nests four levels.
MAX_DEPTH = 12
#: The longest text field; names, addresses and statements are far shorter.
MAX_TEXT = 500

USMCA_IN_FORCE = date(2020, 7, 1)
#: Article 5.2: a blanket period covers shipments within at most 12 months.
BLANKET_MAX_MONTHS = 12
#: Article 5.2: a certification of origin is valid for four years after it was completed.
ORIGIN_MAX_VALIDITY_YEARS = 4
#: No agreement sets it for a certificate of conformance; ten years is the longest we sign.
CONFORMANCE_MAX_VALIDITY_YEARS = 10
#: How far a clock may run ahead of the issuer's before an issue time counts as in the future.
CLOCK_SKEW = timedelta(minutes=10)

#: HS 2022 six-digit subheadings of headings 8541 (semiconductor devices) and 8542 (ICs).
HS_SUBHEADINGS = {
    "8541.10": "diodes, other than photosensitive or light-emitting diodes",
    "8541.21": "transistors, dissipation rate < 1 W",
    "8541.29": "other transistors",
    "8541.30": "thyristors, diacs and triacs",
    "8541.41": "light-emitting diodes (LED)",
    "8541.42": "photovoltaic cells not assembled in modules or made up into panels",
    "8541.43": "photovoltaic cells assembled in modules or made up into panels",
    "8541.49": "other photosensitive semiconductor devices",
    "8541.51": "semiconductor-based transducers",
    "8541.59": "other semiconductor devices",
    "8541.60": "mounted piezo-electric crystals",
    "8541.90": "parts of heading 8541",
    "8542.31": "processors and controllers",
    "8542.32": "memories",
    "8542.33": "amplifiers",
    "8542.39": "other electronic integrated circuits",
    "8542.90": "parts of heading 8542",
}
CERTIFIER_ROLES = ("exporter", "producer", "importer")
ORIGIN_CRITERIA = ("A", "B", "C", "D")
CLAIMS = ("made", "manufactured", "assembled")

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

COMMON_FIELDS = ("type", "id", "issued_at", "valid_until", "issuer", "subject", "part_number", "revision",
                 "caveats", "audit_head", "verify_url")  # fmt: skip
FIELDS = {
    "conformance": COMMON_FIELDS
    + ("lot", "shipment", "quantity", "test_summary", "pat_status", "spc_status", "standards"),
    "origin": COMMON_FIELDS + ("minimum_data_elements", "usmca", "national_content", "hecho_en_mexico"),
}
ID_PREFIX = {"conformance": "COC", "origin": "COO"}
SIGNATURE_FORMAT = 2
SIGNATURE_FIELDS = ("format", "algorithm", "key_id", "content_sha256", "field_sha256", "value")
PARTY_FIELDS = ("name", "title", "address", "telephone", "email")

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$")
_HEX16 = re.compile(r"^[0-9a-f]{16}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class CertificateError(ValueError):
    """A certificate or key that cannot be made, read or checked; the message says which and why."""


# -- reading bytes ------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise CertificateError(f"key {key!r} appears twice in one object: a reader would see one value "
                                   "and a program the other; refusing the document")  # fmt: skip
        seen[key] = value
    return seen


def _refuse_constant(name: str) -> Any:
    raise CertificateError(f"{name} is not a number JSON allows; refusing the document")


def _depth(text: str) -> int:
    """Deepest nesting of ``[`` and ``{`` outside strings (checked before parsing, so that a
    deeply nested body is refused with a message, not a RecursionError)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_json(data: bytes | str, source: str = "document") -> Any:
    """JSON from ``data``, strictly: UTF-8, at most :data:`MAX_DOCUMENT_BYTES`, nested at most
    :data:`MAX_DEPTH`, no key twice in one object, no NaN or Infinity."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise CertificateError(f"{source}: {len(raw):,} bytes, more than the {MAX_DOCUMENT_BYTES:,} a certificate "
                               "may have")  # fmt: skip
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CertificateError(f"{source}: not UTF-8 text (byte offset {exc.start})") from None
    if _depth(text) > MAX_DEPTH:
        raise CertificateError(f"{source}: nested more than {MAX_DEPTH} levels deep; not a certificate")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    except CertificateError as exc:
        raise CertificateError(f"{source}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise CertificateError(f"{source}: not valid JSON at character {exc.pos}: {exc.msg}") from None
    except ValueError as exc:  # an integer of thousands of digits
        raise CertificateError(f"{source}: {exc}") from None


def parse_document(data: bytes | str, source: str = "certificate") -> dict[str, Any]:
    """A certificate document from its bytes (see :func:`parse_json`): an object holding
    exactly ``certificate`` and ``signature``."""
    document = parse_json(data, source)
    check_envelope(document, source)
    return document


def check_envelope(document: Any, source: str = "certificate") -> None:
    """Raise unless ``document`` is an object of exactly ``certificate`` and ``signature`` objects."""
    if not isinstance(document, dict) or not isinstance(document.get("certificate"), dict) or not isinstance(
            document.get("signature"), dict):  # fmt: skip
        raise CertificateError(
            f"{source}: not a silicio certificate: expected an object with 'certificate' and 'signature'"
        )
    extra = sorted(set(document) - {"certificate", "signature"})
    if extra:
        raise CertificateError(f"{source}: unknown top-level field(s) {', '.join(map(repr, extra))}: only "
                               "'certificate' and 'signature' are signed and read")  # fmt: skip


# -- dates and small checks ---------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months (the last day of a shorter month when needed)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def parse_date(value: Any, where: str) -> date:
    if not isinstance(value, str) or not _DATE.match(value):
        raise CertificateError(f"{where} must be a date YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CertificateError(f"{where}: {value!r} is not a calendar date") from None


def parse_timestamp(value: Any, where: str) -> datetime:
    if not isinstance(value, str) or not _TIMESTAMP.match(value):
        raise CertificateError(f"{where} must be a UTC time YYYY-MM-DDTHH:MM:SS+00:00, got {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise CertificateError(f"{where}: {value!r} is not a valid time") from None


def check_base_url(url: Any) -> str:
    """The public base URL certificates point at: https, a public host name, no credentials,
    query or fragment. A loopback, private or link-local address would lead a customer nowhere."""
    if not isinstance(url, str) or not url:
        raise CertificateError("the verification base URL is missing")
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise CertificateError(f"verification URL {url!r} must use https:// (customers and customs open it)")
    host = parts.hostname or ""
    if not host or parts.username or parts.password or parts.query or parts.fragment or _CONTROL.search(url):
        raise CertificateError(f"verification URL {url!r} must be https://HOST/PATH, without credentials, "
                               "query or fragment")  # fmt: skip
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith(".localhost") or "." not in host:
            raise CertificateError(
                f"verification URL {url!r} names a local host; give the public one"
            ) from None
    else:
        if not address.is_global:
            raise CertificateError(
                f"verification URL {url!r} names a non-public address; give the public host"
            )
    return url


def _leaves(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict) and obj:
        out = {}
        for k, v in obj.items():
            out.update(_leaves(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: obj}


def field_digests(content: dict[str, Any]) -> dict[str, str]:
    """SHA-256 (hex, first 16 digits) of every leaf field, by dotted path: they name which
    fields changed when a signature fails."""
    return {
        path: hashlib.sha256(canonical_json(v)).hexdigest()[:16]
        for path, v in sorted(_leaves(content).items())
    }


def content_sha256(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content)).hexdigest()


# -- the content schema -------------------------------------------------------------------------


class _Checker:
    """Collects problems, each naming the field by its dotted path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, message: str) -> None:
        self.problems.append(message)

    def fields(self, obj: Any, where: str, allowed: tuple[str, ...], required: tuple[str, ...]) -> bool:
        if not isinstance(obj, dict):
            self.add(f"{where} must be an object, got {type(obj).__name__}")
            return False
        unknown = sorted(set(obj) - set(allowed))
        if unknown:
            self.add(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}")
        missing = [k for k in required if k not in obj]
        if missing:
            self.add(f"{where}: missing field(s) {', '.join(missing)}")
        return True

    def text(self, obj: dict, key: str, where: str, *, required: bool = True) -> str | None:
        value = obj.get(key)
        path = f"{where}.{key}" if where else key
        if value is None and not required and key not in obj:
            return None
        if not isinstance(value, str):
            self.add(f"{path} must be text, got {value!r}")
            return None
        if required and not value.strip():
            self.add(f"{path} is empty")
            return None
        if len(value) > MAX_TEXT or _CONTROL.search(value):
            self.add(f"{path} must be at most {MAX_TEXT} characters without control characters")
            return None
        return value

    def number(self, obj: dict, key: str, where: str, *, low: float | None = None, high: float | None = None,
               low_open: bool = False) -> float | None:  # fmt: skip
        value = obj.get(key)
        path = f"{where}.{key}" if where else key
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.add(f"{path} must be a finite number, got {value!r}")
            return None
        if low is not None and (value <= low if low_open else value < low):
            self.add(f"{path} is {value}: must be {'more than' if low_open else 'at least'} {low:g}")
            return None
        if high is not None and value > high:
            self.add(f"{path} is {value}: must be at most {high:g}")
            return None
        return float(value)

    def date(self, value: Any, where: str) -> date | None:
        try:
            day = parse_date(value, where)
        except CertificateError as exc:
            self.add(str(exc))
            return None
        if day < USMCA_IN_FORCE:
            self.add(f"{where} {value} is before {USMCA_IN_FORCE} (the USMCA's entry into force)")
            return None
        return day


def _close(a: float | None, b: float, tol: float) -> bool:
    return a is not None and abs(a - b) <= tol


def check_content(content: Any, *, now: datetime | None = None) -> list[str]:
    """Every problem in a certificate's content, whatever its signature says: unknown or missing
    fields, texts, dates and periods, figures out of range or not following from each other.
    ``now``: the time at which the issue time must not lie in the future (default: now)."""
    c = _Checker()
    if not isinstance(content, dict):
        return ["certificate must be an object"]
    kind = content.get("type")
    if not isinstance(kind, str) or kind not in FIELDS:
        return [f"type is {kind!r}, expected 'conformance' or 'origin'"]
    c.fields(content, "certificate", FIELDS[kind], FIELDS[kind])
    cert_id = c.text(content, "id", "")
    if cert_id is not None and not re.fullmatch(ID_PREFIX[kind] + r"-[0-9A-F]{16}", cert_id):
        c.add(f"id {cert_id!r} must be {ID_PREFIX[kind]}- and 16 hex digits")
    for key in ("issuer", "subject", "part_number", "revision"):
        c.text(content, key, "")
    issued = valid_until = None
    try:
        issued = parse_timestamp(content.get("issued_at"), "issued_at")
    except CertificateError as exc:
        c.add(str(exc))
    else:
        if issued.date() < USMCA_IN_FORCE:
            c.add(f"issued_at {content['issued_at']} is before {USMCA_IN_FORCE}")
            issued = None
        elif issued > (now or datetime.now(UTC)) + CLOCK_SKEW:
            c.add(f"issued_at {content['issued_at']} is in the future")
            issued = None
    valid_until = c.date(content.get("valid_until"), "valid_until")
    if issued is not None and valid_until is not None:
        years = ORIGIN_MAX_VALIDITY_YEARS if kind == "origin" else CONFORMANCE_MAX_VALIDITY_YEARS
        latest = add_months(issued.date(), 12 * years)
        if valid_until < issued.date():
            c.add(f"valid_until {valid_until} is before the issue date {issued.date()}")
        elif valid_until > latest:
            why = " (USMCA Article 5.2)" if kind == "origin" else ""
            c.add(
                f"valid_until {valid_until} is more than {years} years after the issue date {issued.date()}{why}"
            )
    _check_caveats(c, content.get("caveats"))
    _check_audit_head(c, content.get("audit_head"))
    url = content.get("verify_url")
    try:
        check_base_url(url)
    except CertificateError as exc:
        c.add(str(exc))
    else:
        if cert_id is not None and not url.endswith("/" + cert_id):
            c.add("verify_url does not point at this certificate's id")
    if kind == "conformance":
        _check_conformance(c, content)
    else:
        _check_origin(c, content, issued.date() if issued else None, valid_until)
    return c.problems


def _check_caveats(c: _Checker, caveats: Any) -> None:
    if not isinstance(caveats, list) or len(caveats) > 20:
        c.add(f"caveats must be a list of at most 20 texts, got {caveats!r}")
        return
    for i, _ in enumerate(caveats):
        c.text(dict(enumerate(caveats)), i, "caveats")


def _check_audit_head(c: _Checker, head: Any) -> None:
    """``{}`` (not anchored) or ``{"seq": n, "hash": 64 hex digits}``."""
    if head == {}:
        return
    if not c.fields(head, "audit_head", ("seq", "hash"), ("seq", "hash")):
        return
    seq = head.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        c.add(f"audit_head.seq must be a whole number >= 0, got {seq!r}")
    if not isinstance(head.get("hash"), str) or not _HEX64.match(head["hash"]):
        c.add("audit_head.hash must be 64 lowercase hex digits")


def _check_conformance(c: _Checker, content: dict) -> None:
    c.text(content, "lot", "")
    c.text(content, "shipment", "", required=False)
    c.text(content, "pat_status", "")
    c.text(content, "spc_status", "")
    if content.get("subject") != content.get("lot"):
        c.add("subject must be the lot")
    q = content.get("quantity")
    if isinstance(q, bool) or not isinstance(q, int) or not 0 < q <= 10**9:
        c.add(f"quantity must be a whole number of units from 1 to 1,000,000,000, got {q!r}")
    standards = content.get("standards")
    if not isinstance(standards, list) or not standards or len(standards) > 50:
        c.add("standards must be a list of 1 to 50 texts")
    else:
        for i, _ in enumerate(standards):
            c.text(dict(enumerate(standards)), i, "standards")
    summary = content.get("test_summary")
    if not isinstance(summary, dict) or not summary or len(summary) > 20:
        c.add("test_summary must be an object of 1 to 20 test stages")
        return
    for stage, s in summary.items():
        where = f"test_summary.{stage}"
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", stage):
            c.add(f"{where}: a stage name is lowercase letters, digits and _")
        if not c.fields(s, where, ("tested", "good", "yield"), ("tested", "good", "yield")):
            continue
        tested, good = s.get("tested"), s.get("good")
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in (tested, good)):
            c.add(f"{where}: tested and good must be whole numbers >= 0")
            continue
        if good > tested:
            c.add(f"{where}: good ({good}) must be between 0 and tested ({tested})")
            continue
        y = c.number(s, "yield", where, low=0, high=1)
        if y is not None and not _close(y, good / tested if tested else 0.0, 1e-4):
            c.add(f"{where}.yield {y} is not good / tested")


def _check_party(c: _Checker, party: Any, where: str) -> None:
    if not c.fields(party, where, PARTY_FIELDS, ("name", "address")):
        return
    c.text(party, "name", where)
    c.text(party, "address", where)
    for key in ("title", "telephone", "email"):
        if key in party:
            c.text(party, key, where, required=False)
    email = party.get("email")
    if isinstance(email, str) and email and not _EMAIL.match(email):
        c.add(f"{where}.email {email!r} is not an e-mail address")


def _check_origin(c: _Checker, content: dict, issued: date | None, valid_until: date | None) -> None:
    e = content.get("minimum_data_elements")
    if c.fields(e, "minimum_data_elements", tuple(ANNEX_5A_ELEMENTS), ()):
        missing = [name for key, name in ANNEX_5A_ELEMENTS.items() if key not in e]
        if missing:
            c.add("USMCA Annex 5-A data elements missing: " + "; ".join(missing))
        _check_elements(c, e, issued, valid_until)
    u = content.get("usmca")
    keys = ("rule", "tv", "nc", "vnm", "rvc_tv_pct", "rvc_nc_pct", "de_minimis_applied", "originating")
    if c.fields(u, "usmca", keys, keys):
        c.text(u, "rule", "usmca")
        tv = c.number(u, "tv", "usmca", low=0, low_open=True)
        nc = c.number(u, "nc", "usmca", low=0, low_open=True)
        vnm = c.number(u, "vnm", "usmca", low=0)
        rvc_tv = c.number(u, "rvc_tv_pct", "usmca", high=100)
        rvc_nc = c.number(u, "rvc_nc_pct", "usmca", high=100)
        if tv is not None and vnm is not None and rvc_tv is not None:
            expected = (tv - vnm) / tv * 100.0
            if not _close(rvc_tv, expected, 0.01):
                c.add(f"usmca.rvc_tv_pct {rvc_tv} does not follow from TV and VNM "
                      f"((TV - VNM) / TV x 100 = {expected:.2f}, Article 4.5.2)")  # fmt: skip
        if nc is not None and vnm is not None and rvc_nc is not None:
            expected = (nc - vnm) / nc * 100.0
            if not _close(rvc_nc, expected, 0.01):
                c.add(f"usmca.rvc_nc_pct {rvc_nc} does not follow from NC and VNM "
                      f"((NC - VNM) / NC x 100 = {expected:.2f}, Article 4.5.3)")  # fmt: skip
        if not isinstance(u.get("de_minimis_applied"), bool):
            c.add("usmca.de_minimis_applied must be true or false")
        if u.get("originating") is not True:
            c.add("usmca.originating is not true: a certification of origin needs an originating good")
    n = content.get("national_content")
    keys = ("country", "domestic_value", "total_value", "pct")
    if c.fields(n, "national_content", keys, keys):
        if not isinstance(n.get("country"), str) or not re.fullmatch(r"[A-Z]{2}", n["country"]):
            c.add(f"national_content.country must be a two-letter ISO 3166 code, got {n.get('country')!r}")
        total = c.number(n, "total_value", "national_content", low=0, low_open=True)
        domestic = c.number(n, "domestic_value", "national_content", low=0, high=total)
        pct = c.number(n, "pct", "national_content", low=0, high=100)
        if None not in (total, domestic, pct) and not _close(pct, domestic / total * 100.0, 0.01):
            c.add("national_content.pct does not follow from domestic_value / total_value")
    h = content.get("hecho_en_mexico")
    if c.fields(h, "hecho_en_mexico", ("qualifies", "claim"), ("qualifies", "claim")):
        qualifies, claim = h.get("qualifies"), h.get("claim")
        if not isinstance(qualifies, bool):
            c.add("hecho_en_mexico.qualifies must be true or false")
        elif qualifies and claim not in CLAIMS:
            c.add(
                f"hecho_en_mexico.claim must be one of {', '.join(CLAIMS)} when it qualifies, got {claim!r}"
            )
        elif not qualifies and claim is not None:
            c.add("hecho_en_mexico.claim must be null when it does not qualify")


def _check_elements(c: _Checker, e: dict, issued: date | None, valid_until: date | None) -> None:
    role = e.get("certifier_role")
    if "certifier_role" in e and role not in CERTIFIER_ROLES:
        c.add(f"minimum_data_elements.certifier_role must be exporter, producer or importer (Article 5.2), "
              f"got {role!r}")  # fmt: skip
    for key in ("certifier", "exporter", "producer", "importer"):
        if key in e:
            _check_party(c, e[key], f"minimum_data_elements.{key}")
    where = "minimum_data_elements.description_and_hs"
    d = e.get("description_and_hs")
    if "description_and_hs" in e and c.fields(
        d, where, ("description", "hs_code"), ("description", "hs_code")
    ):
        c.text(d, "description", where)
        hs = d.get("hs_code")
        if not isinstance(hs, str) or hs not in HS_SUBHEADINGS:
            c.add(f"{where}.hs_code {hs!r} is not a six-digit HS 2022 subheading of heading 8541 or 8542 "
                  "(written NNNN.NN, Annex 5-A element 6)")  # fmt: skip
    if "origin_criterion" in e and e["origin_criterion"] not in ORIGIN_CRITERIA:
        c.add(f"origin criterion {e['origin_criterion']!r} is not one of A, B, C, D (Article 4.2)")
    if "blanket_period" in e:
        _check_blanket(c, e["blanket_period"], valid_until)
    where = "minimum_data_elements.authorized_signature_and_date"
    s = e.get("authorized_signature_and_date")
    keys = ("name", "title", "date", "statement")
    if "authorized_signature_and_date" in e and c.fields(s, where, keys, keys):
        for key in ("name", "title", "statement"):
            c.text(s, key, where)
        day = c.date(s.get("date"), f"{where}.date")
        if day is not None and issued is not None and day != issued:
            c.add(f"{where}.date {day} is not the issue date {issued}")


def _check_blanket(c: _Checker, period: Any, valid_until: date | None) -> None:
    """``{}`` for a single shipment, else ``{"from", "to"}``: from <= to, at most 12 months
    (Article 5.2), within the certificate's validity."""
    where = "minimum_data_elements.blanket_period"
    if period == {}:
        return
    if not c.fields(period, where, ("from", "to"), ("from", "to")):
        return
    start = c.date(period.get("from"), f"{where}.from")
    end = c.date(period.get("to"), f"{where}.to")
    if start is None or end is None:
        return
    if end < start:
        c.add(f"{where}: 'to' {end} is before 'from' {start}")
    elif end >= add_months(start, BLANKET_MAX_MONTHS):
        c.add(f"{where} {start} to {end} is longer than {BLANKET_MAX_MONTHS} months (USMCA Article 5.2: "
              "multiple shipments of identical goods within a period not exceeding 12 months)")  # fmt: skip
    if valid_until is not None and end > valid_until:
        c.add(f"{where} ends {end}, after the certificate's validity ({valid_until})")


def check_signature_block(sig: Any) -> list[str]:
    """Problems in the shape of a signature block (format 2); its values are checked by the verifier."""
    c = _Checker()
    if not c.fields(sig, "signature", SIGNATURE_FIELDS, SIGNATURE_FIELDS):
        return c.problems
    if sig.get("format") != SIGNATURE_FORMAT:
        c.add(f"signature format {sig.get('format')!r} is not {SIGNATURE_FORMAT}: a certificate of the first "
              "format was signed over its content only; reissue it")  # fmt: skip
    if sig.get("algorithm") != "Ed25519":
        c.add(f"signature algorithm is {sig.get('algorithm')!r}, expected 'Ed25519'")
    if not isinstance(sig.get("key_id"), str) or not _HEX16.match(sig["key_id"]):
        c.add("signature.key_id must be 16 lowercase hex digits")
    if not isinstance(sig.get("content_sha256"), str) or not _HEX64.match(sig["content_sha256"]):
        c.add("signature.content_sha256 must be 64 lowercase hex digits")
    digests = sig.get("field_sha256")
    if not isinstance(digests, dict) or not all(isinstance(v, str) for v in digests.values()):
        c.add("signature.field_sha256 must be an object of hex digests")
    if not isinstance(sig.get("value"), str):
        c.add("signature.value must be base64 text")
    return c.problems
