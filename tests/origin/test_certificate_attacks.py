"""Each way issue 16 found to make a certificate say what it should not, now refused: at issue
(:func:`sign` raises, naming the field) and at verification of a document signed by other means
(:func:`forge`: a stolen key or an old build), with the reason."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from silicio.origin import (
    CertificateError,
    Keyring,
    OriginError,
    generate_keys,
    load_private_key,
    load_public_key,
    load_revocations,
    origin_content,
    origin_report,
    parse_document,
    qr_text,
    revoke,
    sign,
    usmca_origin,
    verify,
    verify_bytes,
)
from silicio.origin.certificates import _pdf_lines, verify_url
from silicio.trace import Product, demo_master_data

from .forge import canonical, forge

PARTY = {"name": "Silicio Semiconductores S.A. de C.V.", "address": "El Marqués, Querétaro, MX",
         "telephone": "+52 442 000 0000", "email": "comercio@silicio.example"}  # fmt: skip
IMPORTER = {"name": "Great Lakes Automotive Inc.", "address": "Detroit, MI, US", "telephone": "+1 313 000 0000",
            "email": "imports@gla.example"}  # fmt: skip
PARTIES = {"certifier_role": "producer", "certifier": PARTY, "exporter": PARTY, "producer": PARTY,
           "importer": IMPORTER, "description": "TV display source driver"}  # fmt: skip
SIGNER = {"name": "Jimena López", "title": "Trade compliance"}
BASE = "https://verify.silicio.example/verify/"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    private, public = generate_keys(d)
    return load_private_key(private), load_public_key(public)


@pytest.fixture(scope="module")
def report():
    md = demo_master_data()
    return origin_report(md.product("SLC-TV100"), md.sites)


def _content(report, blanket=None, **changes):
    content = origin_content(report=report, parties=PARTIES, blanket_period=blanket, signer=SIGNER,
                             issuer="Silicio", base_url=BASE)  # fmt: skip
    content = copy.deepcopy(content)
    for path, value in changes.items():
        node = content
        *parents, last = path.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    return content


def _both_refuse(content, keys, fragment):
    """Refused at issue, and a forged signature over it does not verify, for the same reason."""
    with pytest.raises(CertificateError, match="refusing to sign") as refused:
        sign(content, keys[0])
    assert fragment in str(refused.value)
    result = verify(forge(content, keys[0]), keys[1])
    assert result.signature_ok and not result.ok  # the signature holds: the content itself is refused
    assert any(fragment in p for p in result.problems), result.problems
    return result


# -- blanket period (USMCA Article 5.2: multiple shipments within at most 12 months)


def test_a_reversed_blanket_period_is_refused(report, keys):
    content = _content(report, {"from": "2026-06-30", "to": "2026-01-01"})
    _both_refuse(content, keys, "'to' 2026-01-01 is before 'from' 2026-06-30")


def test_a_ten_year_blanket_period_is_refused(report, keys):
    content = _content(report, {"from": "2026-01-01", "to": "2035-12-31"})
    _both_refuse(content, keys, "longer than 12 months (USMCA Article 5.2")


def test_twelve_months_is_the_longest_blanket_period(report, keys):
    # 1 January to 31 December is twelve months; one more day is not.
    twelve = _content(report, {"from": "2026-01-01", "to": "2026-12-31"})
    assert verify(sign(twelve, keys[0]), keys[1]).ok
    _both_refuse(_content(report, {"from": "2026-01-01", "to": "2027-01-01"}), keys, "longer than 12 months")
    # A month end: 31 January plus 12 months is 31 January of the next year.
    assert verify(sign(_content(report, {"from": "2026-01-31", "to": "2027-01-30"}), keys[0]), keys[1]).ok


def test_dates_in_1999_and_2099_are_refused(report, keys):
    _both_refuse(_content(report, {"from": "1999-01-01", "to": "1999-06-30"}), keys,
                 "blanket_period.from 1999-01-01 is before 2020-07-01")  # fmt: skip
    _both_refuse(_content(report, {"from": "2099-01-01", "to": "2099-06-30"}), keys,
                 "blanket_period ends 2099-06-30, after the certificate's validity")  # fmt: skip
    _both_refuse(_content(report, valid_until="2099-12-31"), keys, "more than 4 years after the issue date")
    old = _content(report)
    old["issued_at"] = "1999-03-01T10:00:00+00:00"
    old["minimum_data_elements"]["authorized_signature_and_date"]["date"] = "1999-03-01"
    assert any("issued_at 1999-03-01T10:00:00+00:00 is before 2020-07-01" in p
               for p in verify(forge(old, keys[0]), keys[1]).problems)  # fmt: skip
    future = _content(report)
    future["issued_at"] = "2099-03-01T10:00:00+00:00"
    assert any("is in the future" in p for p in verify(forge(future, keys[0]), keys[1]).problems)


def test_a_signature_date_other_than_the_issue_date_is_refused(report, keys):
    content = _content(report, minimum_data_elements__authorized_signature_and_date__date="2021-01-01")
    _both_refuse(content, keys, "date 2021-01-01 is not the issue date")


# -- parties, HS code, figures


def test_an_empty_importer_is_refused(report, keys):
    with pytest.raises(CertificateError, match="parties.importer is missing"):
        origin_content(report=report, parties={**PARTIES, "importer": {}}, blanket_period=None, signer=SIGNER,
                       issuer="Silicio", base_url=BASE)  # fmt: skip
    content = _content(report, minimum_data_elements__importer={"name": " ", "address": ""})
    result = _both_refuse(content, keys, "minimum_data_elements.importer.name is empty")
    assert "minimum_data_elements.importer.address is empty" in result.problems


@pytest.mark.parametrize("hs", ["9999", "8542.99", "8471.30", "854239", "8542.39.00"])
def test_an_hs_code_outside_8541_8542_six_digits_is_refused(report, keys, hs):
    content = _content(report, minimum_data_elements__description_and_hs__hs_code=hs)
    _both_refuse(
        content, keys, f"hs_code {hs!r} is not a six-digit HS 2022 subheading of heading 8541 or 8542"
    )


def test_national_content_of_150_percent_is_refused(report, keys):
    total = report["national_content"]["total_value"]
    content = _content(report, national_content__domestic_value=1.5 * total, national_content__pct=150.0)
    result = _both_refuse(content, keys, "national_content.pct is 150.0: must be at most 100")
    assert any(p.startswith("national_content.domestic_value is") for p in result.problems)


def test_a_negative_vnm_cannot_lift_the_rvc(report, keys):
    # RVC = (TV - VNM) / TV x 100 exceeds 100 % only with a negative VNM.
    content = _content(report, usmca__vnm=-1.0, usmca__rvc_tv_pct=100 * (1.95 + 1.0) / 1.95)
    _both_refuse(content, keys, "usmca.vnm is -1.0: must be at least 0")


def test_an_unknown_field_inside_the_content_is_refused(report, keys):
    content = _content(report, approved_by="CBP")
    _both_refuse(content, keys, "certificate: unknown field(s) 'approved_by'")


def test_a_price_of_zero_is_refused_with_a_clear_error():
    md = demo_master_data()
    product = md.product("SLC-TV100")
    free = Product(**{**{f: getattr(product, f) for f in product.__dataclass_fields__}, "price": 0.0})
    with pytest.raises(OriginError, match=r"price 0.0 USD is not a transaction value \(USMCA Article 4.5.2"):
        usmca_origin(free, md.sites)
    with pytest.raises(OriginError, match="price 0.0 USD"):
        origin_report(free, md.sites)


# -- the document as bytes: duplicate keys, unsigned extras, content_sha256


def test_a_duplicated_key_is_refused_though_json_loads_would_verify_it(report, keys):
    good = sign(_content(report), keys[0])
    text = json.dumps(good, ensure_ascii=False)
    # The file shows a harmless importer first; the signed one comes second, where json.loads looks.
    shown = json.dumps({"name": "Someone Else Ltd.", "address": "Nowhere"})
    at = text.index('"importer": ') + len('"importer": ')
    doubled = text[:at] + shown + ', "importer": ' + text[at:]
    assert verify(json.loads(doubled), keys[1]).ok  # the attack, as the old verifier read it
    result = verify_bytes(doubled.encode(), keys[1])
    assert not result.ok and "key 'importer' appears twice in one object" in result.problems[0]
    with pytest.raises(CertificateError, match="appears twice"):
        parse_document(doubled)


def test_extra_top_level_and_signature_fields_are_refused(report, keys):
    good = sign(_content(report), keys[0])
    extra = {**good, "approval": {"by": "CBP", "status": "accepted"}}
    result = verify(extra, keys[1])
    assert not result.ok and "unknown top-level field(s) 'approval'" in result.problems[0]
    assert "unknown top-level field(s) 'approval'" in verify_bytes(json.dumps(extra), keys[1]).problems[0]
    # Signed by the key, but a field the signature block does not define.
    in_block = forge(good["certificate"], keys[0], comment="approved")
    assert "signature: unknown field(s) 'comment'" in verify(in_block, keys[1]).problems


def test_content_sha256_is_signed_and_checked(report, keys):
    good = sign(_content(report), keys[0])
    # The signed hash is that of the content's canonical JSON, computed here independently.
    assert good["signature"]["content_sha256"] == hashlib.sha256(canonical(good["certificate"])).hexdigest()
    edited = copy.deepcopy(good)
    edited["signature"]["content_sha256"] = "0" * 64
    result = verify(edited, keys[1])
    assert not result.signature_ok
    assert "signature.content_sha256 is not the SHA-256 of the content" in result.problems
    # Signed by the key over a wrong hash (a tool that hashes something else): still refused.
    lying = forge(good["certificate"], keys[0], content_sha256="f" * 64)
    result = verify(lying, keys[1])
    assert result.signature_ok and result.problems == [
        "signature.content_sha256 is not the SHA-256 of the content"
    ]


def test_a_first_format_certificate_is_refused_with_the_reason(report, keys):
    good = sign(_content(report), keys[0])
    old = copy.deepcopy(good)
    del old["signature"]["format"]
    assert "signature: missing field(s) format" in verify(old, keys[1]).problems


def test_nested_or_oversized_bodies_are_refused_with_a_message(keys):
    deep = b"[" * 100_000 + b"]" * 100_000
    assert "nested more than 12 levels" in verify_bytes(deep, keys[1]).problems[0]
    assert "more than the 262,144 a certificate may have" in verify_bytes(b" " * 300_000, keys[1]).problems[0]
    assert "not a number JSON allows" in verify_bytes(b'{"certificate": {"x": NaN}}', keys[1]).problems[0]


# -- validity, revocation, keys


def test_a_certificate_expires(report, keys):
    doc = sign(
        _content(report, valid_until=(datetime.now(UTC).date() + timedelta(days=30)).isoformat()), keys[0]
    )
    assert verify(doc, keys[1]).ok
    later = datetime.now(UTC) + timedelta(days=31)
    result = verify(doc, keys[1], now=later)
    assert not result.ok and result.problems == [
        f"expired: valid until {doc['certificate']['valid_until']}, checked on {later.date()}"
    ]


def test_a_revoked_certificate_fails_and_the_list_cannot_be_edited(report, tmp_path):
    private, _ = generate_keys(tmp_path)
    key = load_private_key(private)
    ring = Keyring.load(tmp_path)
    doc, other = sign(_content(report), key), sign(_content(report), key)
    revoke(
        tmp_path / "revocations.json", doc["certificate"]["id"], "HS code misclassified", key, ring, "Silicio"
    )
    rl = load_revocations(tmp_path / "revocations.json", ring)
    result = verify(doc, ring, revocations=rl)
    assert result.revoked and not result.ok and result.problems[0].endswith(": HS code misclassified")
    assert verify(other, ring, revocations=rl).ok
    with pytest.raises(CertificateError, match="already revoked"):
        revoke(tmp_path / "revocations.json", doc["certificate"]["id"], "again", key, ring, "Silicio")
    # Taking the entry out of the list breaks its signature: no verifier accepts the edited list.
    listed = json.loads((tmp_path / "revocations.json").read_text())
    listed["revocation_list"]["entries"] = []
    (tmp_path / "revocations.json").write_text(json.dumps(listed))
    with pytest.raises(CertificateError, match="its signature does not match its content"):
        load_revocations(tmp_path / "revocations.json", ring)


def test_rotation_keeps_old_certificates_verifying(report, tmp_path):
    private, public = generate_keys(tmp_path)
    old_key = load_private_key(private)
    old_doc = sign(_content(report), old_key)
    with pytest.raises(CertificateError, match="refusing to replace it"):
        generate_keys(tmp_path)
    generate_keys(tmp_path, overwrite=True)
    new_key = load_private_key(private)
    ring = Keyring.load(tmp_path)
    new_id = hashlib.sha256(new_key.public_key().public_bytes_raw()).hexdigest()[:16]
    assert len(ring) == 2 and ring.current.key_id == new_id != old_doc["signature"]["key_id"]
    assert verify(old_doc, ring).ok  # the keyring still holds the retired key
    assert not verify(old_doc, load_public_key(public)).ok  # the new public key alone does not
    assert verify(sign(_content(report), new_key), ring).ok
    # The retired private key is gone; one who kept a copy cannot sign new certificates with it.
    late = _content(report)
    retired = ring.get(old_doc["signature"]["key_id"]).retired_at
    assert retired is not None
    late["issued_at"] = (datetime.fromisoformat(retired) + timedelta(seconds=1)).isoformat()
    result = verify(forge(late, old_key), ring)
    assert any("after its key" in p and "was retired" in p for p in result.problems)


def test_the_private_key_can_be_encrypted(tmp_path):
    with pytest.raises(CertificateError, match="at least 12 characters"):
        generate_keys(tmp_path, passphrase="short")
    private, _ = generate_keys(tmp_path, passphrase="correct horse battery")
    assert (
        b"ENCRYPTED PRIVATE KEY" in private.read_bytes() and b"BEGIN PRIVATE KEY" not in private.read_bytes()
    )
    with pytest.raises(CertificateError, match="encrypted; give its passphrase"):
        load_private_key(private)
    with pytest.raises(CertificateError, match="wrong passphrase"):
        load_private_key(private, "wrong horse battery")
    assert load_private_key(private, "correct horse battery").public_key() is not None


# -- where it points, what it warns


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/verify/", "https://127.0.0.1/verify/",
                                 "https://localhost/verify/", "https://10.1.2.3/verify/", "https://intranet/v/",
                                 "https://user:pw@verify.example.com/", "ftp://verify.example.com/"])  # fmt: skip
def test_the_verify_url_must_be_public_https(url):
    with pytest.raises(CertificateError, match="verification URL|names a"):
        verify_url("COO-0123456789ABCDEF", url)


def test_qr_code_carries_the_public_url_and_content_hash(report, keys):
    doc = sign(_content(report), keys[0])
    cert = doc["certificate"]
    assert cert["verify_url"] == BASE + cert["id"]
    assert qr_text(doc) == f"{BASE}{cert['id']}?sha256={hashlib.sha256(canonical(cert)).hexdigest()}"


def test_the_annex_4b_caveat_is_on_results_and_certificates(report, keys):
    caveats = report["usmca"]["caveats"]
    assert len(caveats) == 1 and "USMCA Annex 4-B" in caveats[0] and "not been verified" in caveats[0]
    doc = sign(_content(report), keys[0])
    assert doc["certificate"]["caveats"] == caveats
    assert f"CAVEAT: {caveats[0]}" in _pdf_lines(doc)
    assert f"caveat: {caveats[0]}" in verify(doc, keys[1]).notes
    # Dropping the caveat from a signed certificate breaks its signature.
    dropped = copy.deepcopy(doc)
    dropped["certificate"]["caveats"] = []
    assert not verify(dropped, keys[1]).signature_ok


def test_a_keyring_entry_whose_id_is_not_its_key_is_refused(tmp_path):
    generate_keys(tmp_path)
    ring = json.loads((tmp_path / "keyring.json").read_text())
    ring["keys"][0]["key_id"] = "0" * 16
    (tmp_path / "keyring.json").write_text(json.dumps(ring))
    with pytest.raises(CertificateError, match="key_id '0000000000000000' is not the id of its public key"):
        Keyring.load(tmp_path)


def test_a_revocation_list_signed_by_another_key_is_refused(report, tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    generate_keys(ours)
    their_key = load_private_key(generate_keys(theirs)[0])
    revoke(
        theirs / "revocations.json", "COO-0123456789ABCDEF", "forged", their_key, Keyring.load(theirs), "x"
    )
    with pytest.raises(CertificateError, match="which is not in"):
        load_revocations(theirs / "revocations.json", Keyring.load(ours))


def test_the_pdf_qr_code_holds_the_url_and_hash(report, keys, tmp_path, monkeypatch):
    import segno

    from silicio.origin import render_pdf

    made = []
    real = segno.make
    monkeypatch.setattr(segno, "make", lambda text, **kw: made.append(text) or real(text, **kw))
    doc = sign(_content(report), keys[0])
    assert render_pdf(doc, tmp_path / "c.pdf").read_bytes().startswith(b"%PDF")
    assert made == [f"{doc['certificate']['verify_url']}?sha256={doc['signature']['content_sha256']}"]


REPLACEMENTS = (None, True, 0, -1, 1e308, "", "x", [], {}, [1], {"a": 1})


def _paths(obj, prefix=()):
    if isinstance(obj, dict) and obj:
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list) and obj:
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))
    else:
        yield prefix


@pytest.mark.parametrize("kind", ["origin", "conformance"])
def test_changing_any_field_to_anything_fails_verification_and_never_raises(report, keys, kind):
    from silicio.origin import conformance_content

    if kind == "origin":
        content = _content(report, {"from": "2026-01-01", "to": "2026-12-31"})
    else:
        content = conformance_content(lot="QT0001", part_number="SLC-PM300A", revision="A", quantity=2500,
                                      test_summary={"final_test": {"tested": 2540, "good": 2500,
                                                                   "yield": round(2500 / 2540, 6)}},
                                      pat_status="DPAT", spc_status="in control", standards=["AEC-Q100"],
                                      issuer="Silicio QA", base_url=BASE)  # fmt: skip
    good = sign(content, keys[0])
    paths = list(_paths(good))
    assert len(paths) > 40
    for path in paths:
        for value in REPLACEMENTS:
            doc = copy.deepcopy(good)
            node = doc
            for p in path[:-1]:
                node = node[p]
            if node[path[-1]] == value and type(node[path[-1]]) is type(value):
                continue
            node[path[-1]] = value
            result = verify(doc, keys[1])
            assert not result.ok and result.problems, (path, value)


def test_a_key_directory_from_before_keyrings_rotates_without_orphaning(report, tmp_path):
    private, _ = generate_keys(tmp_path)
    (tmp_path / "keyring.json").unlink()  # as `keys generate` left it before keyrings
    old_doc = sign(_content(report), load_private_key(private))
    assert verify(old_doc, Keyring.load(tmp_path)).ok  # its one public key is the keyring
    generate_keys(tmp_path, overwrite=True)
    ring = Keyring.load(tmp_path)
    assert len(ring) == 2 and ring.get(old_doc["signature"]["key_id"]).retired_at is not None
    assert verify(old_doc, ring).ok
